// /export in workerd: an exported GeoTIFF read back with rasterio (tests/oracle/export_oracle.py)
// equals the Worker's own /tiles GeoTIFFs stitched, with the right window, CRS and nodata; a
// large one passes `rio cogeo validate`; PNG exports decode; limits are 400s.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startWorker, tool } from "./harness.mjs";

const STORE = process.env.TILEFN_TEST_STORE;
const PYTHON = process.env.TILEFN_PYTHON;
const { PNG } = await tool("pngjs");

const ORIGIN = 20037508.342789244;
let mf;
let layers;
let scratch;

before(async () => {
  mf = await startWorker({ store: STORE });
  scratch = mkdtempSync(join(tmpdir(), "tilefn-export-test-"));
  layers = (await (await get("/layers")).json()).layers;
});
after(async () => {
  await mf?.dispose();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function get(path) {
  return mf.dispatchFetch(`http://localhost${path}`);
}

function mercator(lon, lat) {
  const x = (lon * Math.PI * 6378137) / 180;
  const y = Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360)) * 6378137;
  return [x, y];
}

/** A part of a layer's box in metres: fractions [x0, y0, x1, y1] from the south-west. */
function part(id, f) {
  const l = layers.find((l) => l.id === id);
  assert.ok(l, `layer ${id} is listed`);
  const [w, s] = mercator(l.bounds[0], l.bounds[1]);
  const [e, n] = mercator(l.bounds[2], l.bounds[3]);
  return [w + f[0] * (e - w), s + f[1] * (n - s), w + f[2] * (e - w), s + f[3] * (n - s)];
}

/** Exports `id` over `bbox` (metres), fetches the tiles under it and runs the oracle. */
async function checkExport(name, id, bbox, extra = "", cog = false, polygon = null) {
  const dir = join(scratch, name);
  mkdirSync(join(dir, "tiles"), { recursive: true });
  const res = polygon
    ? await mf.dispatchFetch(`http://localhost/export/${id}.tif?crs=3857`, {
        method: "POST",
        body: JSON.stringify(polygon),
      })
    : await get(`/export/${id}.tif?bbox=${bbox.join(",")}&crs=3857${extra}`);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get("content-type"), "image/tiff");
  const body = Buffer.from(await res.arrayBuffer());
  writeFileSync(join(dir, "export.tif"), body);
  // The zoom the service chose, from the GeoTIFF's pixel size (read with rasterio); then
  // the Worker's tiles of that zoom under the box.
  const probe = JSON.parse(
    execFileSync(PYTHON, [
      "-c",
      "import rasterio,math,sys;t=rasterio.open(sys.argv[1]).transform;" +
        "print(round(math.log2(2*20037508.342789244/(256*t.a))))",
      join(dir, "export.tif"),
    ]).toString(),
  );
  const z = Number(probe);
  const size = (2 * ORIGIN) / 2 ** z;
  const [x0, x1] = [bbox[0], bbox[2]].map((v) => Math.floor((v + ORIGIN) / size));
  const [y0, y1] = [bbox[3], bbox[1]].map((v) => Math.floor((ORIGIN - v) / size));
  for (let y = Math.max(y0, 0); y <= Math.min(y1, 2 ** z - 1); y++) {
    for (let x = Math.max(x0, 0); x <= Math.min(x1, 2 ** z - 1); x++) {
      const tile = await get(`/tiles/${id}/${z}/${x}/${y}.tif`);
      if (tile.status === 200) {
        writeFileSync(join(dir, "tiles", `${z}_${x}_${y}.tif`), Buffer.from(await tile.arrayBuffer()));
      }
    }
  }
  const args = [join(ROOT, "tests/oracle/export_oracle.py"), "--export", join(dir, "export.tif")];
  args.push("--tiles", join(dir, "tiles"), `--bbox=${bbox.join(",")}`);
  if (cog) args.push("--cog");
  if (polygon) {
    writeFileSync(join(dir, "polygon.json"), JSON.stringify(polygon));
    args.push("--geojson", join(dir, "polygon.json"));
  }
  const report = JSON.parse(execFileSync(PYTHON, args).toString());
  assert.deepEqual(report.problems, [], JSON.stringify(report));
  assert.equal(report.mask_mismatches, 0, JSON.stringify(report));
  assert.equal(report.value_mismatches, 0, JSON.stringify(report));
  assert.ok(report.valid > 0, JSON.stringify(report));
  if (cog) assert.equal(report.cog_valid, true, JSON.stringify(report));
  return { report, bytes: body.length };
}

test("a DEM export equals the stitched /tiles GeoTIFFs in rasterio", async () => {
  await checkExport("dem", "dem", part("dem", [0.2, 0.3, 0.45, 0.5]));
});

test("the multispectral scene's four bands export and stitch", async () => {
  await checkExport("ms", "ms", part("ms", [-0.1, -0.1, 0.3, 0.4]));
});

test("a large land-cover export is a valid COG", async () => {
  const { report, bytes } = await checkExport("lc", "landcover", part("landcover", [0, 0, 1, 1]), "", true);
  assert.ok(report.width > 512 || report.height > 512, JSON.stringify(report));
  console.log(`landcover export: ${report.width}x${report.height} px at zoom ${report.zoom}, ${bytes} bytes`);
});

test("a POSTed polygon with a hole masks the rest, as rasterio's geometry_mask", async () => {
  const [w, s, e, n] = part("dem", [0.2, 0.2, 0.6, 0.7]);
  const at = (fx, fy) => [w + fx * (e - w), s + fy * (n - s)];
  const polygon = {
    type: "Polygon",
    coordinates: [
      [at(0, 0), at(1, 0), at(0.5, 1), at(0, 0)],
      [at(0.4, 0.2), at(0.4, 0.4), at(0.6, 0.4), at(0.6, 0.2), at(0.4, 0.2)],
    ],
  };
  const { report } = await checkExport("post", "dem", [w, s, e, n], "", false, polygon);
  assert.ok(report.inside > 0 && report.valid < report.pixels, JSON.stringify(report));
});

test("PNG exports decode to the window's size", async () => {
  const bbox = part("dem", [0.2, 0.3, 0.45, 0.5]);
  const res = await get(`/export/dem.png?bbox=${bbox.join(",")}&crs=3857&colormap_name=viridis`);
  assert.equal(res.status, 200, await res.clone().text());
  const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
  assert.ok(png.width > 10 && png.height > 10);
});

test("over the limit, bad boxes and unknown layers are 4xx with JSON errors", async () => {
  for (const [path, status, message] of [
    // At zoom 10 the float32 window is about 2913x3175 px: 92 MB by the measured estimate.
    ["/export/dem.tif?bbox=10,45,14,48&zoom=12", 400, "the largest zoom that fits is 9"],
    ["/export/dem.tif?bbox=1,2,nan,4", 400, "bbox:"],
    ["/export/dem.tif?bbox=0,0,1,86", 400, "latitudes"],
    ["/export/dem.gif?bbox=0,0,1,1", 400, "format:"],
    ["/export/nope.tif?bbox=0,0,1,1", 404, "layer not found"],
  ]) {
    const res = await get(path);
    assert.equal(res.status, status, path);
    const body = await res.json();
    assert.ok(body.error.message.includes(message), `${path}: ${body.error.message}`);
  }
});
