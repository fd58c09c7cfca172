// Shared setup for the Worker tests: a Miniflare 4 instance running build/ (worker-build's
// output) with the R2 bucket TILES seeded from a store directory that tilefn-ingest wrote.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BUILD = join(ROOT, "build");

// The JS tools live in tools/node_modules (pinned by tools/package-lock.json), which ESM
// resolution from tests/ does not search: resolve them from there explicitly.
const requireTool = createRequire(join(ROOT, "tools", "package.json"));
/** Imports an npm package installed in tools/. */
export async function tool(name) {
  const mod = await import(pathToFileURL(requireTool.resolve(name)).href);
  return mod.default ?? mod;
}
const { Miniflare } = await tool("miniflare");
const { seedBucket } = await import(pathToFileURL(join(ROOT, "scripts", "seed-r2.mjs")).href);

/** Starts the Worker. `vars` become env bindings; `store` (a directory) seeds TILES. */
export async function startWorker({ store, vars = {} } = {}) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(BUILD, "index.js"),
    // Without it workerd refuses module paths outside its starting directory.
    modulesRoot: BUILD,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-10-01",
    r2Buckets: { TILES: "tilefn-tiles", TEST_BUCKET: "tilefn-test" },
    r2Persist: false,
    cf: false,
    bindings: { MAX_AGE: "3600", CORS_ORIGIN: "*", ...vars },
  });
  await mf.ready;
  if (store) await seedBucket(await mf.getR2Bucket("TILES"), store);
  return mf;
}

/** The XYZ tile holding (lon, lat) at zoom z. */
export function tileAt(lon, lat, z) {
  const n = 2 ** z;
  const rad = (lat * Math.PI) / 180;
  const x = Math.floor(((lon + 180) / 360) * n);
  const y = Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n);
  return { z, x, y };
}

/** The tile in the middle of a layer's bounds (a /layers summary) at zoom z, and that point. */
export function centreTile(layer, z) {
  const [w, s, e, n] = layer.bounds;
  const lon = (w + e) / 2;
  const lat = (s + n) / 2;
  return { ...tileAt(lon, lat, z), lon, lat };
}

/**
 * Reads GeoTIFF files with GDAL (rasterio in the venv's `python`), all in one process: for
 * each, `{crs, bands: [[value | null (NaN)]], mask: [bool]}` (band 1's mask, true = valid).
 */
export function readTiffs(python, paths) {
  const py = [
    "import json, sys, rasterio, numpy as np",
    "out = []",
    "for path in sys.argv[1:]:",
    "    with rasterio.open(path) as d:",
    "        a = d.read().astype('float64')",
    "        m = d.read_masks(1)",
    "        out.append({'crs': str(d.crs), 'bands': [[None if np.isnan(v) else v for v in b.ravel().tolist()] for b in a], 'mask': (m.ravel() > 0).tolist()})",
    "print(json.dumps(out))",
  ].join("\n");
  return JSON.parse(execFileSync(python, ["-c", py, ...paths], { maxBuffer: 256 << 20 }).toString());
}
