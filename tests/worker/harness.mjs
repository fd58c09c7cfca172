// Shared setup for the Worker tests: a Miniflare 4 instance running build/ (worker-build's
// output) with the R2 bucket TILES seeded from a store directory that tilefn-ingest wrote.
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
