// Copies a store directory written by `tilefn-ingest --store file://DIR` into an R2 bucket
// emulated by Miniflare: the test harness (tests/worker/harness.mjs) seeds in-memory R2, and
// `scripts/run.sh` seeds the on-disk R2 that `wrangler dev --persist-to` reads.
//
//   node scripts/seed-r2.mjs <store-dir> <persist-dir>     # writes <persist-dir>/v3/r2
//
// Why not `wrangler r2 object put --local`: it costs ~1.2 s per object. Miniflare's API does
// the same write in milliseconds and uses the same on-disk layout.
//
// ETags: a manifest records each COG's ETag so the Worker can pin reads to that version. The
// file store's ETags (size+mtime) are not R2's (an MD5), so the COGs are uploaded first and
// the manifests are rewritten with the ETags R2 assigned, exactly what publishing straight to
// R2 would have recorded. Without it every tile would be a 503 "layer changed".
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep, resolve } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Every file under `dir`, as [key, absolute path], keys `/`-separated and sorted. */
export function walk(dir) {
  const out = [];
  const visit = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) visit(p);
      else out.push([relative(dir, p).split(sep).join("/"), p]);
    }
  };
  visit(dir);
  return out.sort();
}

function arrayBuffer(path) {
  const buf = readFileSync(path);
  // An ArrayBuffer, not a Node Buffer: Miniflare's serialiser asserts on Buffers.
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

const isManifest = (key) => key.endsWith("/manifest.json");

/** Uploads the store at `dir` into `bucket` (an R2 bucket from `mf.getR2Bucket`). */
export async function seedBucket(bucket, dir) {
  const files = walk(dir);
  const etags = new Map();
  for (const [key, path] of files.filter(([k]) => !isManifest(k))) {
    const obj = await bucket.put(key, arrayBuffer(path));
    etags.set(key, obj.httpEtag);
  }
  for (const [key, path] of files.filter(([k]) => isManifest(k))) {
    const manifest = JSON.parse(readFileSync(path, "utf8"));
    for (const o of manifest.objects ?? []) {
      if (etags.has(o.key)) o.etag = etags.get(o.key);
    }
    await bucket.put(key, new TextEncoder().encode(JSON.stringify(manifest)).buffer);
  }
  return files.length;
}

async function main() {
  const [store, persist] = process.argv.slice(2);
  if (!store || !persist) {
    console.error("usage: node scripts/seed-r2.mjs <store-dir> <persist-dir>");
    process.exit(2);
  }
  const requireTool = createRequire(join(ROOT, "tools", "package.json"));
  const { Miniflare } = await import(pathToFileURL(requireTool.resolve("miniflare")).href);
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response('seed'); } }",
    compatibilityDate: "2025-10-01",
    r2Buckets: { TILES: "tilefn-tiles" },
    // wrangler dev --persist-to DIR keeps R2 in DIR/v3/r2 (same layout as Miniflare's).
    r2Persist: join(resolve(persist), "v3", "r2"),
    cf: false,
  });
  try {
    await mf.ready;
    const n = await seedBucket(await mf.getR2Bucket("TILES"), store);
    console.error(`seed-r2: ${n} objects from ${store} into ${persist}/v3/r2`);
  } finally {
    await mf.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
