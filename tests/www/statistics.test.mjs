// The Statistics tool: a polygon drawn by clicks (or a feature of a dropped GeoJSON file) gets
// the same answer in the panel as a direct POST to the server; land-cover value counts are
// bars in the legend's colours; errors are shown; the export button downloads a GeoTIFF.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  BASE, HAS_WASM, NO_WASM_REASON, decodePng, edge, launch, openPage, saveScreenshot, waitIdle,
} from "./harness.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Whether the server answers `path` (with `init`) with a GeoTIFF: the export routes of issue 17. */
async function servesTiff(path, init) {
  try {
    const res = await fetch(`${BASE}${path}`, init);
    await res.arrayBuffer();
    return res.status === 200 && (res.headers.get("content-type") || "").includes("tiff");
  } catch {
    return false;
  }
}
const TINY = { type: "Polygon", coordinates: [[[12.7, 46.8], [12.71, 46.8], [12.71, 46.81], [12.7, 46.81], [12.7, 46.8]]] };
const HAS_POST_EXPORT = await servesTiff("/export/dem.tif", { method: "POST", body: JSON.stringify(TINY) });
const HAS_GET_EXPORT = await servesTiff("/export/dem.tif?bbox=12.7,46.8,12.71,46.81&crs=4326");
const NO_EXPORT_REASON = "the server does not answer POST /export/{layer}.tif with a GeoTIFF yet: export checks skipped";

/** A square of the demo area (both demo rasters in UTM 33N cover 12.36..13.19 E, 46.55..47.12 N). */
const SQUARE = [[12.6, 46.75], [12.85, 46.75], [12.85, 46.95], [12.6, 46.95]];

/** POSTs `body` (a geometry) to `path` from Node: `{status, json}`. */
async function post(path, body) {
  const res = await fetch(`${BASE}${path}`, {
    method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/geo+json" },
  });
  return { status: res.status, json: await res.json() };
}

/**
 * The colour the tiles give each value, read from the renderer itself: at each point, the
 * value from /pixel and the colour of that pixel in the PNG tile styled by `query` (the
 * page's own tile query). Returns value (as a string) → "rgb(r, g, b)".
 */
async function renderedColors(layer, query, points) {
  const tiles = new Map();
  const out = new Map();
  for (const [lon, lat] of points) {
    const px = await edge(`/pixel/${lon}/${lat}?crs=4326&layers=${encodeURIComponent(`a=${layer}`)}`);
    assert.equal(px.status, 200);
    if (px.json.value === null) continue;
    const n = 2 ** px.json.zoom;
    const fx = ((lon + 180) / 360) * n;
    const r = (lat * Math.PI) / 180;
    const fy = ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n;
    const key = `${px.json.zoom}/${Math.floor(fx)}/${Math.floor(fy)}`;
    if (!tiles.has(key)) {
      const t = await edge(`/tiles/${layer}/${key}.png${query}`);
      assert.equal(t.status, 200, key);
      tiles.set(key, decodePng(t.bytes));
    }
    const png = tiles.get(key);
    const i = (Math.floor((fy % 1) * 256) * png.width + Math.floor((fx % 1) * 256)) * 4;
    out.set(String(px.json.value), `rgb(${png.data[i]}, ${png.data[i + 1]}, ${png.data[i + 2]})`);
  }
  return out;
}

/** The query of the page's active-layer tile template (the share box). */
async function tileQuery(page) {
  const template = await page.$eval("#share-text", (t) => t.value);
  const q = template.indexOf("?");
  return q < 0 ? "" : template.slice(q);
}

/** A grid of points inside SQUARE. */
const GRID = [];
for (let i = 1; i < 8; i += 1) {
  for (let j = 1; j < 8; j += 1) GRID.push([12.6 + 0.25 * (i / 8) + 0.0013, 46.75 + 0.2 * (j / 8) + 0.0007]);
}

/** Asserts each bar whose value was sampled has the tiles' colour of that value. */
async function assertBarColors(page, bars) {
  const colors = await renderedColors("landcover", await tileQuery(page), GRID);
  let checked = 0;
  for (const b of bars) {
    if (!colors.has(b.value)) continue;
    assert.equal(b.color, colors.get(b.value), `class ${b.value}`);
    checked += 1;
  }
  assert.ok(checked >= 3, `only ${checked} classes sampled`);
}

/** Opens the page with `layer` active and alone, fitted. */
async function pageWith(layer, mode = "edge") {
  const opened = await openPage(browser, `#mode=${mode}&layer=${layer}&visible=${layer}`);
  await opened.page.click(`#layers .layer[data-layer="${layer}"] button.fit`);
  await waitIdle(opened.page);
  return opened;
}

/** Screen points (page coordinates) of lon/lat positions; they must be on the open map. */
async function screenPoints(page, lngLats) {
  const pts = await page.evaluate((ps) => ps.map((p) => {
    const q = window.tilefn.map.project(p);
    return [q.x, q.y];
  }), lngLats);
  const canvas = await page.locator("#map canvas").boundingBox();
  const panel = await page.locator("#panel").boundingBox();
  const out = pts.map(([x, y]) => [canvas.x + x, canvas.y + y]);
  for (const [x] of out) assert.ok(x > panel.x + panel.width + 5, `vertex at x=${x} is under the panel`);
  return out;
}

/** Draws a polygon by clicks; closes it by a double-click on the last vertex or a click on the first. */
async function drawPolygon(page, lngLats, close = "dblclick") {
  await page.click("#stats-draw");
  const pts = await screenPoints(page, lngLats);
  const last = close === "dblclick" ? pts.length - 1 : pts.length;
  for (const [x, y] of pts.slice(0, last)) await page.mouse.click(x, y);
  if (close === "dblclick") await page.mouse.dblclick(...pts[pts.length - 1]);
  else await page.mouse.click(...pts[0]);
  return waitStats(page);
}

/** Waits for the panel's answer; returns its state ("done" | "error"). */
async function waitStats(page) {
  await page.waitForFunction(() => ["done", "error"].includes(document.querySelector("#stats-result").dataset.state),
    null, { timeout: 30000 });
  return page.$eval("#stats-result", (e) => e.dataset.state);
}

/** The panel's figures, read back from the DOM. */
async function panelFigures(page) {
  return page.evaluate(() => {
    const box = document.querySelector("#stats-result");
    return {
      zoom: Number(box.querySelector(".stats-zoom")?.dataset.zoom),
      exact: box.querySelector(".stats-zoom")?.dataset.exact,
      zoomText: box.querySelector(".stats-zoom")?.textContent,
      pixels: Number(box.querySelector(".stats-pixels")?.dataset.pixels),
      counts: [...box.querySelectorAll(".stats-band")].map((b) => Number(b.dataset.count)),
      bars: [...box.querySelectorAll(".stats-class")].map((r) => ({
        value: r.dataset.value, count: Number(r.dataset.count),
        color: getComputedStyle(r.querySelector(".stats-class-bar")).backgroundColor,
        figure: r.querySelector(".stats-class-figure").textContent,
      })),
      histBars: box.querySelectorAll(".stats-hist svg rect").length,
      error: box.querySelector(".stats-error")?.textContent ?? null,
    };
  });
}

test("a drawn polygon's statistics equal a direct POST; Escape cancels; the hash keeps the polygon", async () => {
  const { page, errors } = await pageWith("dem");
  assert.equal(await drawPolygon(page, SQUARE, "dblclick"), "done");
  const polygon = await page.evaluate(() => window.tilefn.state.polygon);
  assert.equal(polygon.type, "Polygon");
  assert.equal(polygon.coordinates[0].length, 5, "four vertices and the closing one");

  const direct = await post("/statistics/dem", polygon);
  assert.equal(direct.status, 200, JSON.stringify(direct.json));
  const shown = await panelFigures(page);
  assert.ok(direct.json.pixels > 1000, `pixels ${direct.json.pixels}`);
  assert.equal(shown.pixels, direct.json.pixels);
  assert.deepEqual(shown.counts, direct.json.bands.map((b) => b.count));
  assert.equal(shown.zoom, direct.json.zoom);
  assert.equal(shown.exact, String(direct.json.exact));
  assert.equal(shown.histBars, direct.json.bands[0].histogram.counts.length);
  assert.match(await page.$eval("#stats-result", (e) => e.textContent), /mean/);

  // Escape while drawing: the drawing is dropped, the closed polygon stays.
  await page.click("#stats-close");
  await page.click("#stats-draw");
  const pts = await screenPoints(page, [[12.65, 46.8], [12.7, 46.8]]);
  for (const [x, y] of pts) await page.mouse.click(x, y);
  await page.keyboard.press("Escape");
  assert.equal(await page.$eval("#stats-draw", (b) => b.textContent), "draw polygon");
  assert.deepEqual(await page.evaluate(() => window.tilefn.state.polygon), polygon);

  // The polygon survives a reload from the hash, and so does its answer.
  const hash = await page.evaluate(() => location.hash);
  assert.ok(new URLSearchParams(hash.slice(1)).get("poly"), hash);
  const again = await openPage(browser, hash);
  assert.equal(await waitStats(again.page), "done");
  assert.equal((await panelFigures(again.page)).pixels, (await post("/statistics/dem",
    await again.page.evaluate(() => window.tilefn.state.polygon))).json.pixels);
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await page.close();
  await again.page.close();
});

test("land cover: value counts are bars in the legend's colours with their areas", async () => {
  const { page, errors } = await pageWith("landcover");
  assert.equal(await drawPolygon(page, SQUARE, "first"), "done");
  const polygon = await page.evaluate(() => window.tilefn.state.polygon);
  const direct = await post("/statistics/landcover", polygon);
  assert.equal(direct.status, 200, JSON.stringify(direct.json));
  const band = direct.json.bands[0];
  assert.ok(band.value_counts, "a categorical layer answers value counts");
  const shown = await panelFigures(page);
  assert.equal(shown.pixels, direct.json.pixels);
  const want = Object.entries(band.value_counts).sort((a, b) => Number(a[0]) - Number(b[0]));
  assert.deepEqual(shown.bars.map((b) => [b.value, b.count]), want);
  assert.ok(shown.bars.length >= 3, `${shown.bars.length} classes`);
  // The demo land cover has no legend: its tiles are the grey stretch over min..max, and the
  // bars have the tiles' colours.
  for (const b of shown.bars) assert.match(b.figure, /% · [\d,.]+ (km²|ha)$/);
  await assertBarColors(page, shown.bars);
  // A continuous colormap (blue over white to red by default) colours the bars too.
  await page.evaluate(() => document.querySelectorAll("details").forEach((d) => (d.open = true)));
  await page.check("#cont-on");
  await page.dispatchEvent("#cont-on", "change");
  await page.waitForFunction(([v, before]) => {
    const bar = document.querySelector(`.stats-class[data-value="${v}"] .stats-class-bar`);
    return bar && getComputedStyle(bar).backgroundColor !== before;
  }, [shown.bars[0].value, shown.bars[0].color]);
  const colored = await panelFigures(page);
  await assertBarColors(page, colored.bars);
  // For the README: the map and the bars in the colormap's colours, the tool in view.
  await waitIdle(page);
  await page.evaluate(() => {
    // Only the layers and the Statistics tool open.
    for (const d of document.querySelectorAll("#panel details")) d.open = d.id === "stats-tool" || !!d.querySelector("#layers");
    document.querySelector("#stats-tool").scrollIntoView();
  });
  console.log(`screenshot: ${await saveScreenshot(page, "statistics.png")}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("a dropped GeoJSON file: click a feature (its holes kept) for its statistics", async () => {
  const { page, errors } = await pageWith("landcover");
  const field = [[12.65, 46.8], [12.8, 46.8], [12.8, 46.9], [12.65, 46.9], [12.65, 46.8]];
  // Far larger than the layer (only tiles holding data count against the budget).
  const region = [[11, 45.5], [14.5, 45.5], [14.5, 48], [11, 48], [11, 45.5]];
  const doc = {
    type: "FeatureCollection",
    features: [
      { type: "Feature", id: "field", properties: { name: "field" }, geometry: { type: "Polygon", coordinates: [field] } },
      { type: "Feature", id: "region", properties: { name: "region" }, geometry: { type: "Polygon", coordinates: [region, field] } },
      { type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [12.7, 46.8] } },
    ],
  };
  const dt = await page.evaluateHandle((text) => {
    const d = new DataTransfer();
    d.items.add(new File([text], "fields.geojson", { type: "application/geo+json" }));
    return d;
  }, JSON.stringify(doc));
  await page.dispatchEvent("#map", "drop", { dataTransfer: dt });
  await page.waitForFunction(() => document.querySelector("#stats-hint").textContent.includes("2 polygon feature"));
  await waitIdle(page);

  // Inside the field.
  let [[x, y]] = await screenPoints(page, [[12.72, 46.85]]);
  await page.mouse.click(x, y);
  assert.equal(await waitStats(page), "done");
  const fieldGeom = await page.evaluate(() => window.tilefn.state.polygon);
  assert.deepEqual(fieldGeom.coordinates, [field]);
  const direct = await post("/statistics/landcover", fieldGeom);
  assert.equal((await panelFigures(page)).pixels, direct.json.pixels);

  // Inside the region, outside its hole (the field).
  [[x, y]] = await screenPoints(page, [[12.9, 47.0]]);
  await page.evaluate(() => (document.querySelector("#stats-result").dataset.state = ""));
  await page.mouse.click(x, y);
  assert.equal(await waitStats(page), "done");
  const regionGeom = await page.evaluate(() => window.tilefn.state.polygon);
  assert.equal(regionGeom.coordinates.length, 2, "the hole is kept");
  const coarse = await post("/statistics/landcover", regionGeom);
  assert.equal(coarse.status, 200, JSON.stringify(coarse.json));
  const shown = await panelFigures(page);
  assert.equal(shown.pixels, coarse.json.pixels);
  assert.equal(shown.exact, String(coarse.json.exact));
  if (!coarse.json.exact) {
    assert.match(shown.zoomText, new RegExp(`measured at zoom ${coarse.json.zoom}, coarser than the data`));
  }

  // A file without polygons is an error in the panel.
  const bad = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(['{"type": "Point", "coordinates": [1, 2]}'], "point.geojson"));
    return d;
  });
  await page.dispatchEvent("#map", "drop", { dataTransfer: bad });
  await page.waitForFunction(() => document.querySelector("#stats-result .stats-error"));
  assert.match((await panelFigures(page)).error, /point\.geojson: no Polygon or MultiPolygon/);
  assert.deepEqual(errors, []);
  await page.close();
});

test("errors are shown in the panel; a coarser zoom is explained", async () => {
  const { page, errors } = await pageWith("dem");
  // A forced zoom far past the tile budget for this polygon.
  await page.fill("#stats-zoom", "17");
  assert.equal(await drawPolygon(page, SQUARE), "error");
  const polygon = await page.evaluate(() => window.tilefn.state.polygon);
  const direct = await post("/statistics/dem?zoom=17", polygon);
  assert.equal(direct.status, 400);
  const shown = await panelFigures(page);
  assert.equal(shown.error, `${direct.json.error.code}: ${direct.json.error.message}`);
  // A coarser zoom than the data's is measured, and said so.
  await page.fill("#stats-zoom", "10");
  await page.dispatchEvent("#stats-zoom", "change");
  assert.equal(await waitStats(page), "done");
  const coarse = await post("/statistics/dem?zoom=10", polygon);
  const figures = await panelFigures(page);
  assert.equal(coarse.json.exact, false);
  assert.equal(figures.exact, "false");
  assert.equal(figures.pixels, coarse.json.pixels);
  assert.match(figures.zoomText, /measured at zoom 10, coarser than the data \(max zoom 12\), as asked/);
  // An unknown layer's export is an error too, never a download.
  if (HAS_POST_EXPORT) {
    await page.evaluate(() => {
      window.tilefn.state.layer = "no-such-layer";
    });
    await page.click("#stats-export");
    await page.waitForFunction(() => document.querySelector("#stats-result .stats-error")?.dataset.code === "not_found");
  } else {
    console.log(`note: ${NO_EXPORT_REASON}`);
  }
  // The page's own errors are the panel's, not the console's.
  assert.deepEqual(errors.filter((e) => !e.includes("status of 40")), []);
  await page.close();
});

test("with a formula applied, the panel measures the formula", async () => {
  const { page, errors } = await pageWith("dem");
  assert.equal(await drawPolygon(page, SQUARE), "done");
  const polygon = await page.evaluate(() => window.tilefn.state.polygon);
  await page.fill("#bindings", "a=dem");
  await page.fill("#formula", "a*2-100");
  await page.waitForFunction(() => document.querySelector("#formula").dataset.check === "ok");
  await page.evaluate(() => (document.querySelector("#stats-result").dataset.state = ""));
  await page.click("#formula-apply");
  assert.equal(await waitStats(page), "done");
  const direct = await post(`/statistics?layers=${encodeURIComponent("a=dem")}&formula=${encodeURIComponent("a*2-100")}`, polygon);
  assert.equal(direct.status, 200, JSON.stringify(direct.json));
  const shown = await panelFigures(page);
  assert.equal(shown.pixels, direct.json.pixels);
  assert.deepEqual(shown.counts, direct.json.bands.map((b) => b.count));
  assert.match(await page.$eval(".stats-title", (e) => e.textContent), /^a\*2-100 \(a=dem\)/);
  const mean = await page.$eval('.stats-table tr[data-key="mean"] td', (e) => e.textContent);
  assert.equal(Number(mean.replace(/,/g, "")).toPrecision(5), direct.json.bands[0].mean.toPrecision(5));
  assert.deepEqual(errors, []);
  await page.close();
});

/** TIFF magic: "II*\0", "MM\0*" or BigTIFF "II+\0". */
function isTiff(bytes) {
  const head = Buffer.from(bytes.subarray(0, 4)).toString("latin1");
  return ["II*\0", "MM\0*", "II+\0", "MM\0+"].includes(head);
}

test("Export GeoTIFF downloads the polygon's pixels, and the view's box",
  { skip: HAS_POST_EXPORT || HAS_GET_EXPORT ? false : NO_EXPORT_REASON }, async () => {
    const { page, errors } = await pageWith("dem");
    await drawPolygon(page, SQUARE);
    if (HAS_POST_EXPORT) {
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#stats-export")]);
      assert.equal(download.suggestedFilename(), "dem.tif");
      const bytes = readFileSync(await download.path());
      assert.ok(isTiff(bytes), `not a TIFF: ${bytes.subarray(0, 8).toString("hex")}`);
      assert.ok(bytes.length > 1000, `${bytes.length} bytes`);
    }
    const href = await page.$eval("#export-view", (a) => a.getAttribute("href"));
    assert.match(href, /^\/export\/dem\.tif\?bbox=[-\d.]+%2C[-\d.]+%2C[-\d.]+%2C[-\d.]+&crs=4326$/);
    if (HAS_GET_EXPORT) {
      const [view] = await Promise.all([page.waitForEvent("download"), page.click("#export-view")]);
      assert.equal(view.suggestedFilename(), "dem-view.tif");
      assert.ok(isTiff(readFileSync(await view.path())));
    }
    assert.deepEqual(errors, []);
    await page.close();
  });

test("browser mode answers the same statistics (the wasm Service gets the body)",
  { skip: HAS_WASM ? false : NO_WASM_REASON }, async () => {
    const { page, errors } = await pageWith("landcover", "browser");
    assert.equal(await drawPolygon(page, SQUARE), "done");
    const polygon = await page.evaluate(() => window.tilefn.state.polygon);
    const direct = await post("/statistics/landcover", polygon);
    const shown = await panelFigures(page);
    assert.equal(shown.pixels, direct.json.pixels);
    assert.equal(shown.zoom, direct.json.zoom);
    assert.deepEqual(shown.bars.map((b) => [b.value, b.count]),
      Object.entries(direct.json.bands[0].value_counts).sort((a, b) => Number(a[0]) - Number(b[0])));
    assert.match(await page.$eval(".stats-title", (e) => e.textContent), /browser/);
    if (HAS_POST_EXPORT) {
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#stats-export")]);
      assert.ok(isTiff(readFileSync(await download.path())));
    }
    assert.deepEqual(errors, []);
    await page.close();
  });
