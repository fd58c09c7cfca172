// MapLibre raster-dem tiles in workerd: `/tiles/dem/{z}/{x}/{y}.png?encoding=terrarium|mapbox`
// of the demo DEM decode (pngjs, then the encodings' published formulas, as MapLibre's
// DEMData unpacks them) back to the same tile's `.tif` values (read by GDAL) within the
// encoding's precision; nodata pixels are an opaque 0 m; outside the layer is 204.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { centreTile, readTiffs, startWorker, tileAt, tool } from "./harness.mjs";

const STORE = process.env.TILEFN_TEST_STORE;
const PYTHON = process.env.TILEFN_PYTHON;
if (!STORE || !PYTHON) {
  throw new Error("run through scripts/test-worker.sh (needs TILEFN_TEST_STORE and TILEFN_PYTHON)");
}
const { PNG } = await tool("pngjs");

/** Each encoding's unpacking (maplibre-gl DEMData) and the distance between its values. */
const ENCODINGS = {
  terrarium: { unpack: (r, g, b) => r * 256 + g + b / 256 - 32768, step: 1 / 256 },
  mapbox: { unpack: (r, g, b) => -10000 + (r * 65536 + g * 256 + b) * 0.1, step: 0.1 },
};

let mf;
let dem;
let scratch;

before(async () => {
  mf = await startWorker({ store: STORE });
  scratch = mkdtempSync(join(tmpdir(), "tilefn-terrain-test-"));
  const layers = (await (await get("/layers")).json()).layers;
  dem = layers.find((l) => l.id === "dem");
  assert.ok(dem, "the demo DEM is listed");
});
after(async () => {
  await mf?.dispose();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function get(path, headers = {}) {
  return mf.dispatchFetch(`http://localhost${path}`, { headers });
}

/** The elevations of a raster-dem PNG: it must be 256x256 RGB without alpha. */
function decodeDem(bytes, encoding) {
  assert.equal(bytes[25], 2, "IHDR colour type 2: RGB, no alpha channel");
  const png = PNG.sync.read(bytes);
  assert.equal(png.width, 256);
  assert.equal(png.height, 256);
  const { unpack } = ENCODINGS[encoding];
  const out = new Float64Array(256 * 256);
  for (let p = 0; p < out.length; p++) {
    out[p] = unpack(png.data[p * 4], png.data[p * 4 + 1], png.data[p * 4 + 2]);
  }
  return out;
}

/** `.tif` tiles `{z, x, y}` read by GDAL in one process; `null` for a 204. */
async function gdalTiles(tiles) {
  const paths = [];
  const found = [];
  for (const t of tiles) {
    const res = await get(`/tiles/dem/${t.z}/${t.x}/${t.y}.tif`);
    if (res.status === 204) continue;
    assert.equal(res.status, 200, `${t.z}/${t.x}/${t.y}.tif`);
    const path = join(scratch, `${t.z}-${t.x}-${t.y}.tif`);
    writeFileSync(path, Buffer.from(await res.arrayBuffer()));
    paths.push(path);
    found.push(t);
  }
  const read = paths.length ? readTiffs(PYTHON, paths) : [];
  return found.map((t, i) => ({ ...t, values: read[i].bands[0], valid: read[i].mask }));
}

/** Checks one tile in one encoding against GDAL's reading; returns its nodata pixel count. */
async function compare(tile, encoding) {
  const url = `/tiles/dem/${tile.z}/${tile.x}/${tile.y}.png?encoding=${encoding}`;
  const res = await get(url);
  assert.equal(res.status, 200, url);
  assert.equal(res.headers.get("content-type"), "image/png");
  assert.ok(res.headers.get("etag"), `${url} has an ETag`);
  const got = decodeDem(Buffer.from(await res.arrayBuffer()), encoding);
  const { step } = ENCODINGS[encoding];
  let nodata = 0;
  for (let p = 0; p < got.length; p++) {
    const want = tile.valid[p] ? tile.values[p] : 0;
    nodata += tile.valid[p] ? 0 : 1;
    // Half a step, plus the float error of the unpacking formulas themselves.
    assert.ok(Math.abs(got[p] - want) <= step / 2 + 1e-6, `${url} pixel ${p}: ${got[p]} vs ${want}`);
  }
  return nodata;
}

test("raster-dem tiles decode to the .tif's elevations; nodata is 0 m", async () => {
  // Every tile over the DEM two zooms below its maximum (the lake and the missing corner
  // give some of them nodata), plus the centre tile at max zoom and one over-zoomed.
  const z = dem.max_zoom - 2;
  const [w, s, e, n] = dem.bounds;
  const nw = tileAt(w, n, z);
  const se = tileAt(e, s, z);
  const wanted = [centreTile(dem, dem.max_zoom), centreTile(dem, dem.max_zoom + 1)];
  for (let x = nw.x; x <= se.x; x++) for (let y = nw.y; y <= se.y; y++) wanted.push({ z, x, y });
  const tiles = await gdalTiles(wanted);
  assert.ok(tiles.length >= 4, `${tiles.length} tiles with data`);
  for (const encoding of Object.keys(ENCODINGS)) {
    let nodata = 0;
    let valid = 0;
    for (const tile of tiles) {
      const holes = await compare(tile, encoding);
      nodata += holes;
      valid += tile.values.length - holes;
    }
    assert.ok(nodata > 1000 && valid > 100000, `${encoding}: ${nodata} nodata, ${valid} valid pixels compared`);
  }
});

test("raster-dem: 204 outside the layer, 400 naming encoding, ETags per encoding", async () => {
  const outside = await get("/tiles/dem/10/0/0.png?encoding=terrarium");
  assert.equal(outside.status, 204);
  await outside.arrayBuffer();
  const t = centreTile(dem, dem.max_zoom);
  const base = `/tiles/dem/${t.z}/${t.x}/${t.y}`;
  for (const [path, says] of [
    [`${base}.png?encoding=terrain-rgb`, "expected terrarium or mapbox"],
    [`${base}.jpg?encoding=terrarium`, "use .png"],
    [`${base}.png?encoding=mapbox&colormap_name=viridis`, "colormap_name"],
  ]) {
    const res = await get(path);
    assert.equal(res.status, 400, path);
    const body = await res.json();
    assert.equal(body.error.code, "bad_request");
    assert.ok(body.error.message.startsWith("encoding: ") && body.error.message.includes(says), body.error.message);
  }
  const tags = [];
  for (const q of ["", "?encoding=terrarium", "?encoding=mapbox"]) {
    const res = await get(`${base}.png${q}`);
    assert.equal(res.status, 200);
    tags.push(res.headers.get("etag"));
    await res.arrayBuffer();
  }
  assert.equal(new Set(tags).size, 3, `distinct ETags: ${tags}`);
  const again = await get(`${base}.png?encoding=terrarium`, { "if-none-match": tags[1] });
  assert.equal(again.status, 304);
  await again.arrayBuffer();
});
