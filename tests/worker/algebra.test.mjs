// Raster algebra in workerd (issue 4): /algebra formulas, RGB composites, /pixel lookups and
// malformed formulas, through the built Worker and R2 seeded from the ingested demo store.
// The expected values are computed here from the raw bands the same Worker serves as
// GeoTIFF (decoded by GDAL), so the check is independent of the Rust evaluator.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { centreTile, readTiffs, startWorker, tool } from "./harness.mjs";

const STORE = process.env.TILEFN_TEST_STORE;
const PYTHON = process.env.TILEFN_PYTHON;
if (!STORE || !PYTHON) {
  throw new Error("run through scripts/test-worker.sh (needs TILEFN_TEST_STORE and TILEFN_PYTHON)");
}
const { PNG } = await tool("pngjs");

let mf;
let ms;
let scratch;

before(async () => {
  mf = await startWorker({ store: STORE });
  scratch = mkdtempSync(join(tmpdir(), "tilefn-algebra-test-"));
  const layers = (await (await get("/layers")).json()).layers;
  ms = layers.find((l) => l.id === "ms");
  assert.ok(ms, "the multispectral demo layer is listed");
});
after(async () => {
  await mf?.dispose();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function get(path, headers = {}) {
  return mf.dispatchFetch(`http://localhost${path}`, { headers });
}

/** Reads a GeoTIFF response with GDAL: [bands][pixels] as numbers (NaN kept), plus nodata. */
function readTiff(buf, name) {
  const path = join(scratch, name);
  writeFileSync(path, buf);
  return readTiffs(PYTHON, [path])[0];
}

test("NDVI as raw float GeoTIFF equals the formula over the raw bands", async () => {
  const t = centreTile(ms, ms.max_zoom);
  const bands = await get(`/tiles/ms/${t.z}/${t.x}/${t.y}.tif`);
  assert.equal(bands.status, 200);
  const raw = readTiff(Buffer.from(await bands.arrayBuffer()), "bands.tif");
  const formula = encodeURIComponent("(a-b)/(a+b)");
  const res = await get(`/algebra/${t.z}/${t.x}/${t.y}.tif?layers=a:3=ms,b:2=ms&formula=${formula}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/tiff");
  const out = readTiff(Buffer.from(await res.arrayBuffer()), "ndvi.tif");
  assert.equal(out.crs, "EPSG:3857");
  const [nir, red] = [raw.bands[3], raw.bands[2]];
  let compared = 0;
  for (let i = 0; i < nir.length; i++) {
    if (!raw.mask[i]) continue;
    const want = (nir[i] - red[i]) / (nir[i] + red[i]);
    const got = out.bands[0][i];
    if (!Number.isFinite(want)) continue;
    assert.ok(Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)), `pixel ${i}: ${got} vs ${want}`);
    compared++;
  }
  assert.ok(compared > 1000, `compared ${compared} valid pixels`);
});

test("NDVI PNG with a named colormap decodes; the ETag gives 304", async () => {
  const t = centreTile(ms, ms.max_zoom - 1);
  const q = `layers=a:3=ms,b:2=ms&formula=${encodeURIComponent("(a-b)/(a+b)")}&colormap_name=rdylgn&rescale=-1,1`;
  const res = await get(`/algebra/${t.z}/${t.x}/${t.y}.png?${q}`);
  assert.equal(res.status, 200);
  const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
  assert.equal(png.width, 256);
  const etag = res.headers.get("etag");
  assert.ok(etag);
  const again = await get(`/algebra/${t.z}/${t.x}/${t.y}.png?${q}`, { "if-none-match": etag });
  assert.equal(again.status, 304);
  await again.arrayBuffer();
});

test("RGB composite with scale and alpha", async () => {
  const t = centreTile(ms, ms.max_zoom);
  const res = await get(`/algebra/${t.z}/${t.x}/${t.y}.png?layers=r:2=ms,g:1=ms,b:0=ms&scale=0,3000&alpha`);
  assert.equal(res.status, 200);
  const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
  let opaque = 0;
  const colours = new Set();
  for (let i = 0; i < png.data.length; i += 4) {
    if (png.data[i + 3] === 255) opaque++;
    colours.add(png.data.readUInt32BE(i));
  }
  assert.ok(opaque > 1000, "most of a centre tile is data");
  assert.ok(colours.size > 50, "a real composite, not a flat colour");
});

test("/pixel in lon/lat and in EPSG:3857 agree with the raw band", async () => {
  const t = centreTile(ms, ms.max_zoom);
  const q = "layers=a:3=ms,b:2=ms&formula=" + encodeURIComponent("(a-b)/(a+b)");
  const geo = await (await get(`/pixel/${t.lon}/${t.lat}?crs=4326&${q}`)).json();
  assert.equal(geo.zoom, ms.max_zoom);
  assert.equal(typeof geo.nodata, "boolean");
  const x = (t.lon * 20037508.342789244) / 180;
  const y = (Math.log(Math.tan(((90 + t.lat) * Math.PI) / 360)) * 20037508.342789244) / Math.PI;
  const merc = await (await get(`/pixel/${x}/${y}?${q}`)).json();
  assert.deepEqual(merc, geo);
  const nir = await (await get(`/pixel/${t.lon}/${t.lat}?crs=4326&layers=a:3=ms`)).json();
  const red = await (await get(`/pixel/${t.lon}/${t.lat}?crs=4326&layers=a:2=ms`)).json();
  if (!geo.nodata) {
    const want = (nir.value - red.value) / (nir.value + red.value);
    assert.ok(Math.abs(geo.value - want) < 1e-9, `${geo.value} vs ${want}`);
  }
});

test("malformed formulas are 400 with the byte position; unknown layers 404", async () => {
  const cases = [
    ["a+", 2],
    ["(a", 2],
    ["a b", 2],
  ];
  for (const [formula, position] of cases) {
    const res = await get(`/algebra/3/4/2.png?layers=a=ms,b=ms&formula=${encodeURIComponent(formula)}`);
    assert.equal(res.status, 400, formula);
    const body = await res.json();
    assert.equal(body.error.code, "bad_formula", formula);
    assert.equal(body.error.position, position, `${formula}: ${body.error.message}`);
    assert.match(body.error.message, /formula/);
  }
  const unbound = await get(`/algebra/3/4/2.png?layers=a=ms&formula=a%2Bc`);
  assert.equal(unbound.status, 400);
  assert.match((await unbound.json()).error.message, /\bc\b/);
  const missing = await get(`/algebra/3/4/2.png?layers=a=nosuchlayer&formula=a`);
  assert.equal(missing.status, 404);
  await missing.arrayBuffer();
});
