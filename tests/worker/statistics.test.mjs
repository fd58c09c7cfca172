// /statistics in workerd (issue 17): polygons POSTed as GeoJSON and sent as WKT through the
// built Worker over R2 seeded from the demo store. The expected figures come from GDAL: the
// same Worker's GeoTIFF tiles at the zoom the answer names, merged by rasterio and masked with
// rasterio.features.geometry_mask (pixel centres, all_touched=False) — independent of the Rust
// rasterizer and accumulator.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorker } from "./harness.mjs";

const STORE = process.env.TILEFN_TEST_STORE;
const PYTHON = process.env.TILEFN_PYTHON;
if (!STORE || !PYTHON) {
  throw new Error("run through scripts/test-worker.sh (needs TILEFN_TEST_STORE and TILEFN_PYTHON)");
}

const ORIGIN = 20037508.342789244;
let mf;
let scratch;
let layers;

before(async () => {
  mf = await startWorker({ store: STORE });
  scratch = mkdtempSync(join(tmpdir(), "tilefn-stats-test-"));
  layers = (await (await get("/layers")).json()).layers;
});
after(async () => {
  await mf?.dispose();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function get(path, init = {}) {
  return mf.dispatchFetch(`http://localhost${path}`, init);
}

function post(path, body) {
  return get(path, { method: "POST", body, headers: { "content-type": "application/geo+json" } });
}

function mercator(lon, lat) {
  const x = (lon * Math.PI * 6378137) / 180;
  const y = Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360)) * 6378137;
  return [x, y];
}

/** A square polygon with a square hole, in EPSG:3857, over the middle of `layer`'s box. */
function holedSquare(layer) {
  const [w, s, e, n] = layer.bounds;
  const [x0, y0] = mercator(w, s);
  const [x1, y1] = mercator(e, n);
  const box = (fx0, fy0, fx1, fy1) => {
    const a = [x0 + (x1 - x0) * fx0, y0 + (y1 - y0) * fy0];
    const b = [x0 + (x1 - x0) * fx1, y0 + (y1 - y0) * fy1];
    return [a, [b[0], a[1]], b, [a[0], b[1]], a];
  };
  // Off-centre fractions: edges fall between pixel centres, not on them.
  return { type: "Polygon", coordinates: [box(0.213, 0.271, 0.687, 0.733), box(0.41, 0.43, 0.52, 0.57)] };
}

function wkt(polygon) {
  const rings = polygon.coordinates.map((r) => `(${r.map((p) => `${p[0]} ${p[1]}`).join(", ")})`);
  return `POLYGON (${rings.join(", ")})`;
}

/** GDAL's figures: the Worker's .tif tiles at `zoom` over the polygon's box, merged and masked. */
async function gdalStats(layerId, polygon, zoom) {
  const pts = polygon.coordinates[0];
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const size = (2 * ORIGIN) / 2 ** zoom;
  const tx0 = Math.floor((Math.min(...xs) + ORIGIN) / size);
  const tx1 = Math.floor((Math.max(...xs) + ORIGIN) / size);
  const ty0 = Math.floor((ORIGIN - Math.max(...ys)) / size);
  const ty1 = Math.floor((ORIGIN - Math.min(...ys)) / size);
  const files = [];
  for (let x = tx0; x <= tx1; x++) {
    for (let y = ty0; y <= ty1; y++) {
      const res = await get(`/tiles/${layerId}/${zoom}/${x}/${y}.tif`);
      if (res.status !== 200) {
        await res.arrayBuffer();
        continue;
      }
      const path = join(scratch, `${layerId}-${zoom}-${x}-${y}.tif`);
      writeFileSync(path, Buffer.from(await res.arrayBuffer()));
      files.push(path);
    }
  }
  const py = [
    "import json, sys, numpy as np, rasterio",
    "from rasterio.merge import merge",
    "from rasterio.features import geometry_mask",
    "poly = json.loads(sys.argv[1])",
    "srcs = [rasterio.open(f) for f in sys.argv[2:]]",
    "nodata = srcs[0].nodata",
    "arr, transform = merge(srcs, nodata=nodata)",
    "a = arr[0].astype('float64')",
    "inside = geometry_mask([poly], out_shape=a.shape, transform=transform, invert=True)",
    "ok = inside & ~np.isnan(a) & (a != nodata)",
    "v = a[ok]",
    "u, c = np.unique(v, return_counts=True)",
    "print(json.dumps({'count': int(v.size), 'sum': float(v.sum()), 'mean': float(v.mean()),",
    "  'min': float(v.min()), 'max': float(v.max()), 'std': float(v.std()),",
    "  'p50': float(np.percentile(v, 50)),",
    "  'value_counts': {('%d' % k if float(k).is_integer() else repr(float(k))): int(n) for k, n in zip(u, c)}}))",
  ].join("\n");
  const out = execFileSync(PYTHON, ["-c", py, JSON.stringify(polygon), ...files], { maxBuffer: 64 << 20 });
  return JSON.parse(out.toString());
}

function close(got, want, what, rel = 1e-9) {
  assert.ok(Math.abs(got - want) <= rel * Math.max(1, Math.abs(want)), `${what}: ${got} vs ${want}`);
}

test("a DEM polygon with a hole: POST GeoJSON and GET WKT agree with GDAL", async () => {
  const dem = layers.find((l) => l.id === "dem");
  assert.ok(dem, "the demo DEM is listed");
  const polygon = holedSquare(dem);
  const res = await post("/statistics/dem?crs=3857", JSON.stringify(polygon));
  assert.equal(res.status, 200, await res.clone().text());
  const v = await res.json();
  assert.equal(v.exact, true);
  assert.equal(v.zoom, dem.max_zoom);
  const band = v.bands[0];
  const want = await gdalStats("dem", polygon, v.zoom);
  assert.ok(want.count > 10000, `${want.count} pixels`);
  assert.equal(band.count, want.count);
  close(band.sum, want.sum, "sum");
  close(band.mean, want.mean, "mean");
  close(band.std, want.std, "std", 1e-7);
  assert.equal(band.min, want.min);
  assert.equal(band.max, want.max);
  close(band.percentiles["50"], want.p50, "median", 1e-6);

  const viaGet = await get(`/statistics/dem?crs=3857&geom=${encodeURIComponent(wkt(polygon))}`);
  assert.equal(viaGet.status, 200);
  const g = await viaGet.json();
  assert.equal(g.bands[0].count, band.count);
  assert.equal(g.bands[0].sum, band.sum);
});

test("categorical value counts equal GDAL's, with ground areas", async () => {
  const lc = layers.find((l) => l.id === "landcover");
  assert.ok(lc, "the demo land cover is listed");
  const polygon = holedSquare(lc);
  const res = await post("/statistics/landcover?crs=3857", JSON.stringify(polygon));
  assert.equal(res.status, 200, await res.clone().text());
  const band = (await res.json()).bands[0];
  const want = await gdalStats("landcover", polygon, lc.max_zoom);
  assert.deepEqual(band.value_counts, want.value_counts);
  const classes = Object.keys(band.value_counts);
  assert.deepEqual(Object.keys(band.area_m2), classes);
  for (const k of classes) assert.ok(band.area_m2[k] > 0, `class ${k} has an area`);
});

test("bad bodies are 400s with the JSON error, never 5xx", async () => {
  const cases = [
    ["/statistics/dem", ""],
    ["/statistics/dem", "{"],
    ["/statistics/dem", '{"type":"Point","coordinates":[1,2]}'],
    ["/statistics/dem", "POLYGON ((0 0, 1 0, 1 1, 0 1))"],
    ["/statistics/dem", " ".repeat((8 << 20) + 10)],
    ["/statistics?layers=a=dem&formula=a%2B", "POLYGON ((0 0, 1 0, 1 1, 0 0))"],
  ];
  for (const [path, body] of cases) {
    const res = await post(path, body);
    assert.equal(res.status, 400, `${path} ${body.slice(0, 40)}: ${res.status}`);
    const json = await res.json();
    assert.equal(typeof json.error.message, "string");
  }
  const notAllowed = await post("/tiles/dem/0/0/0.png", "x");
  assert.equal(notAllowed.status, 405);
  await notAllowed.arrayBuffer();
});
