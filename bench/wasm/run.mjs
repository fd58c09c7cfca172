// Times the Worker's Rust tile path in V8 without workerd: bench/wasm (tilefn_tiler::Service
// over an in-memory store, built for wasm32 like the Worker) answers a tile list in a loop.
// What this leaves out, the workerd figure of bench/tiles.sh has: HTTP serving, the R2
// binding (and Miniflare's simulator behind it) and the Worker's JS glue.
//
//   node bench/wasm/run.mjs <pkg-dir> <store-dir> <paths-file> [seconds] [rims]
//
// rims: what the service's cache of tile rims (the halos of hillshade and other
// neighbourhood functions) holds when a tile is answered: `warm` (default) whatever the loop
// left, so a replayed list finds every neighbour cached; `pass` emptied before each pass over
// the list, as an isolate serving a map once; `cold` emptied before every tile, so every
// neighbour is decoded. Emptying a cache of at most a few hundred entries costs microseconds.
//
// Prints CPU ms per tile (this process; V8's compiler threads included) and the statuses.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const [pkg, store, pathsFile, seconds = "5", rims = "warm"] = process.argv.slice(2);
if (!pkg || !store || !pathsFile || !["warm", "pass", "cold"].includes(rims)) {
  console.error(
    "usage: node bench/wasm/run.mjs <pkg-dir> <store-dir> <paths-file> [seconds] [warm|pass|cold]",
  );
  process.exit(2);
}
const wasm = createRequire(import.meta.url)(join(resolve(pkg), "tilefn_wasm_bench.js"));
const { seedBucket } = await import(pathToFileURL(join(ROOT, "scripts", "seed-r2.mjs")).href);
// seedBucket's R2 interface: the manifests are rewritten with the ETags the store assigns.
await seedBucket(
  { put: async (key, buf) => ({ httpEtag: wasm.put(key, new Uint8Array(buf)) }) },
  store,
);
const paths = readFileSync(pathsFile, "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => l.split("\t")[0]);
const statuses = new Map();
const pass = () => {
  if (rims === "pass") wasm.forget_rims();
  for (const p of paths) {
    if (rims === "cold") wasm.forget_rims();
    const s = wasm.handle(p, Date.now());
    statuses.set(s, (statuses.get(s) ?? 0) + 1);
  }
};
// Warm-up: headers parsed and cached, V8's optimising tier compiled.
for (let i = 0; i < 3; i++) pass();
statuses.clear();
const until = performance.now() + Number(seconds) * 1000;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let n = 0;
while (performance.now() < until) {
  pass();
  n += paths.length;
}
const cpu = process.cpuUsage(cpu0);
const wall = performance.now() - t0;
const ms = (cpu.user + cpu.system) / 1000 / n;
// Bytes, outside the timing: one more pass copying each body out.
let bytes = 0;
for (const p of paths) {
  wasm.handle(p, Date.now());
  bytes += wasm.body().length;
}
console.log(
  `${(wall / n).toFixed(3)} ms wall, ${ms.toFixed(3)} ms CPU per tile over ${n} tiles (rims ${rims}); ` +
    `${Math.round(bytes / paths.length)} bytes per tile; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
);
