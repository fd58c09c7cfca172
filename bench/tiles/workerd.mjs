// The Worker under workerd for bench/tiles.sh: Miniflare 4 (the runtime `wrangler dev` and
// the Worker tests use) runs build/ (scripts/build-worker.sh's output) on 127.0.0.1:PORT with
// the R2 bucket TILES seeded in memory from a store directory, the same way
// tests/worker/harness.mjs does. Prints "ready <url>" once it serves; SIGTERM stops it.
//
//   node bench/tiles/workerd.mjs <store-dir> <port>
//
// WORKER_BUILD_DIR runs another build/ (a copy of an earlier build), so two Workers can be
// compared side by side under alternating wrk runs on the same store.
//
// Why not `wrangler dev`: it reruns the [build] command (a release worker-build) on every
// start and puts its own proxy in front; this measures the same workerd with nothing else.
// The edge cache is off (see `cache` below). Miniflare's R2 simulator runs inside the same workerd process, so its CPU is counted with
// the Worker's (production R2 is a remote service): the figure is an upper bound.
import { join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUILD = process.env.WORKER_BUILD_DIR || join(ROOT, "build");
const requireTool = createRequire(join(ROOT, "tools", "package.json"));
const { Miniflare } = await import(pathToFileURL(requireTool.resolve("miniflare")).href);
const { seedBucket } = await import(pathToFileURL(join(ROOT, "scripts", "seed-r2.mjs")).href);

const [store, port] = process.argv.slice(2);
if (!store || !port) {
  console.error("usage: node bench/tiles/workerd.mjs <store-dir> <port>");
  process.exit(2);
}
const mf = new Miniflare({
  modules: true,
  scriptPath: join(BUILD, "index.js"),
  modulesRoot: BUILD,
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
  compatibilityDate: "2025-10-01",
  r2Buckets: { TILES: "tilefn-tiles" },
  r2Persist: false,
  // The Worker puts rendered tiles in the edge cache (caches.default); with it on, a tile
  // list replayed by wrk measures cache hits, not rendering. No-op cache operations keep
  // every request on the render path, like the native servers (which have no tile cache).
  cache: false,
  cf: false,
  host: "127.0.0.1",
  port: Number(port),
  bindings: { MAX_AGE: "3600", CORS_ORIGIN: "*" },
});
const url = await mf.ready;
const n = await seedBucket(await mf.getR2Bucket("TILES"), store);
console.error(`workerd: ${n} objects seeded from ${store}`);
console.log(`ready ${url}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
