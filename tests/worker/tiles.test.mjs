// The Worker end to end in workerd (Miniflare 4): R2 seeded with a store that tilefn-ingest
// wrote from the demo data, requests through the real fetch handler, responses decoded with
// independent decoders (pngjs, jpeg-js, GDAL via rasterio for GeoTIFF).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, centreTile, startWorker, tool } from "./harness.mjs";

const STORE = process.env.TILEFN_TEST_STORE;
const PYTHON = process.env.TILEFN_PYTHON;
if (!STORE || !PYTHON) {
  throw new Error("run through scripts/test-worker.sh (needs TILEFN_TEST_STORE and TILEFN_PYTHON)");
}
const { PNG } = await tool("pngjs");
const jpeg = await tool("jpeg-js");

const MAX_AGE = "1234"; // distinct from the default, to see the [vars] reach the service
let mf;
let layers;
let scratch;

before(async () => {
  mf = await startWorker({ store: STORE, vars: { MAX_AGE } });
  scratch = mkdtempSync(join(tmpdir(), "tilefn-worker-test-"));
  const res = await get("/layers");
  layers = (await res.json()).layers;
});
after(async () => {
  await mf?.dispose();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function get(path, headers = {}) {
  return mf.dispatchFetch(`http://localhost${path}`, { headers });
}

function layer(id) {
  const l = layers.find((l) => l.id === id);
  assert.ok(l, `layer ${id} is listed`);
  return l;
}

async function bytes(res) {
  return Buffer.from(await res.arrayBuffer());
}

test("health and CORS", async () => {
  const res = await get("/health");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  await res.arrayBuffer();
});

test("/layers lists the ingested layers with tile URL templates", () => {
  assert.deepEqual(layers.map((l) => l.id).sort(), ["dem", "landcover", "ms"]);
  for (const l of layers) {
    assert.match(l.tiles, new RegExp(`/tiles/${l.id}/\\{z\\}/\\{x\\}/\\{y\\}\\.png$`));
    assert.equal(l.bounds.length, 4);
  }
});

test("TileJSON per layer", async () => {
  for (const l of layers) {
    const res = await get(`/tiles/${l.id}.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const tj = await res.json();
    assert.equal(tj.tilejson, "3.0.0");
    assert.equal(tj.maxzoom, l.max_zoom);
    assert.deepEqual(tj.bounds, l.bounds);
    assert.match(tj.tiles[0], new RegExp(`/tiles/${l.id}/\\{z\\}/\\{x\\}/\\{y\\}\\.png`));
  }
});

test("PNG tiles decode to 256x256 with visible pixels, at every stored zoom", async () => {
  for (const l of layers) {
    for (const z of [l.min_zoom, Math.round((l.min_zoom + l.max_zoom) / 2), l.max_zoom]) {
      const { x, y } = centreTile(l, z);
      const res = await get(`/tiles/${l.id}/${z}/${x}/${y}.png`);
      assert.equal(res.status, 200, `${l.id} ${z}/${x}/${y}`);
      assert.equal(res.headers.get("content-type"), "image/png");
      assert.match(res.headers.get("cache-control"), new RegExp(`max-age=${MAX_AGE}`));
      assert.ok(res.headers.get("etag"));
      const png = PNG.sync.read(await bytes(res));
      assert.equal(png.width, 256);
      assert.equal(png.height, 256);
      let opaque = 0;
      for (let i = 3; i < png.data.length; i += 4) if (png.data[i] > 0) opaque++;
      assert.ok(opaque > 0, `${l.id} ${z}/${x}/${y} has visible pixels`);
    }
  }
});

test("JPEG tiles decode", async () => {
  const l = layer("dem");
  const { z, x, y } = centreTile(l, l.max_zoom);
  const res = await get(`/tiles/dem/${z}/${x}/${y}.jpg`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/jpeg");
  const img = jpeg.decode(await bytes(res), { useTArray: true });
  assert.equal(img.width, 256);
  assert.equal(img.height, 256);
  // A DEM stretched to grey is not one flat colour.
  const values = new Set();
  for (let i = 0; i < img.data.length; i += 4 * 97) values.add(img.data[i]);
  assert.ok(values.size > 4, "the JPEG shows relief");
});

test("GeoTIFF tiles hold exactly the stored COG values (checked with GDAL)", async () => {
  for (const id of ["dem", "ms", "landcover"]) {
    const l = layer(id);
    for (const z of [l.max_zoom, l.max_zoom - 2]) {
      const { x, y } = centreTile(l, z);
      const res = await get(`/tiles/${id}/${z}/${x}/${y}.tif`);
      assert.equal(res.status, 200, `${id} ${z}/${x}/${y}`);
      assert.equal(res.headers.get("content-type"), "image/tiff");
      const file = join(scratch, `${id}-${z}-${x}-${y}.tif`);
      writeFileSync(file, await bytes(res));
      const args = [join(ROOT, "tests/worker/compare_tiff.py"), STORE, id, z, x, y, file];
      try {
        execFileSync(PYTHON, args.map(String), { encoding: "utf8" });
      } catch (err) {
        assert.fail(`${id} ${z}/${x}/${y}: ${err.stdout}${err.stderr}`);
      }
    }
  }
});

test("If-None-Match gives 304, from the service and from the edge cache", async () => {
  const l = layer("landcover");
  const { z, x, y } = centreTile(l, l.max_zoom - 1);
  const path = `/tiles/landcover/${z}/${x}/${y}.png`;
  const first = await get(path);
  assert.equal(first.status, 200);
  const etag = first.headers.get("etag");
  await first.arrayBuffer();
  // The edge cache is written after the response (waitUntil); poll until it answers.
  let hit;
  for (let i = 0; i < 50; i++) {
    hit = await get(path);
    await hit.arrayBuffer();
    if (hit.headers.get("x-edge-cache") === "HIT") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(hit.headers.get("x-edge-cache"), "HIT");
  assert.equal(hit.status, 200);
  assert.equal(hit.headers.get("etag"), etag);
  const cached304 = await get(path, { "if-none-match": etag });
  assert.equal(cached304.status, 304);
  assert.equal(cached304.headers.get("etag"), etag);
  assert.equal((await bytes(cached304)).length, 0);
  // A different style is a different cache entry and a different ETag; the service itself
  // answers its revalidation.
  const styled = await get(`${path}?colormap_name=viridis`);
  const styledEtag = styled.headers.get("etag");
  await styled.arrayBuffer();
  assert.notEqual(styledEtag, etag);
  const fresh304 = await get(`${path}?colormap_name=viridis&x=1`, { "if-none-match": styledEtag });
  assert.equal(fresh304.status, 304);
  await fresh304.arrayBuffer();
  const stale = await get(path, { "if-none-match": '"something-else"' });
  assert.equal(stale.status, 200);
  await stale.arrayBuffer();
});

test("204 for a tile outside the layer", async () => {
  const l = layer("dem");
  const res = await get(`/tiles/dem/${l.max_zoom}/0/0.png`);
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal((await bytes(res)).length, 0);
});

test("400 names the bad parameter", async () => {
  const l = layer("dem");
  const { z, x, y } = centreTile(l, l.max_zoom);
  for (const [path, param] of [
    [`/tiles/dem/${z}/${x}/${y}.png?rescale=abc`, "rescale"],
    [`/tiles/dem/${z}/${x}/${y}.gif`, "format"],
    [`/tiles/dem/${z}/${x}/${y}.png?colormap_name=nope`, "colormap_name"],
    [`/tiles/dem/40/0/0.png`, "z"],
  ]) {
    const res = await get(path);
    assert.equal(res.status, 400, path);
    assert.match(res.headers.get("content-type"), /json/);
    const body = await res.json();
    assert.match(JSON.stringify(body), new RegExp(param), `${path} names ${param}`);
  }
});

test("404 for an unknown layer, JSON body", async () => {
  const res = await get("/tiles/no-such-layer/3/1/1.png");
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const body = await res.json();
  assert.ok(body.error);
});
