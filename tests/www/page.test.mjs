// The page loads cleanly, draws every demo layer, restores its state from the URL hash and
// offers absolute tile URLs to share (Edge mode; no wasm needed).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, HAS_WASM, NO_WASM_REASON, drawnPixels, edge, launch, openPage, saveScreenshot, waitIdle } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test("the page loads without console errors and every demo layer draws", async () => {
  const { page, errors } = await openPage(browser);
  const ids = await page.$$eval("#layers .layer", (els) => els.map((e) => e.dataset.layer));
  const listed = (await edge("/layers")).json.layers.map((l) => l.id);
  assert.deepEqual(ids, listed);
  assert.ok(ids.includes("dem") && ids.includes("ms") && ids.includes("landcover"), `layers: ${ids}`);

  for (const id of ids) {
    // Only this layer visible, fitted: the canvas must show its pixels.
    await page.evaluate((id) => {
      for (const box of document.querySelectorAll("#layers .layer")) {
        const vis = box.querySelector("input.visible");
        if (vis.checked !== (box.dataset.layer === id)) vis.click();
      }
      document.querySelector(`#layers .layer[data-layer="${id}"] button.fit`).click();
    }, id);
    await waitIdle(page);
    const { drawn, total } = await drawnPixels(page);
    assert.ok(drawn > total * 0.05, `${id}: only ${drawn} of ${total} pixels drawn`);
  }
  assert.equal(await page.evaluate(() => window.tilefnStats.errors.length), 0);
  // For the README: the DEM in a named colormap under half-transparent land cover.
  const style = encodeURIComponent(JSON.stringify({ colormapName: "terrain" }));
  const shown = await openPage(browser, `#mode=edge&layer=dem&visible=dem,landcover,ms&opacity=landcover:0.45&style=${style}`);
  await shown.page.click('#layers .layer[data-layer="dem"] button.fit');
  await waitIdle(shown.page);
  assert.ok((await drawnPixels(shown.page)).drawn > 10000);
  console.log(`screenshot: ${await saveScreenshot(shown.page, "edge.png")}`);
  assert.deepEqual(shown.errors, []);
  await shown.page.close();
  assert.deepEqual(errors, []);
  assert.equal(await page.evaluate(() => window.tilefnStats.errors.length), 0);
  if (!HAS_WASM) {
    assert.ok(await page.isVisible("#wasm-notice"), "the missing-wasm notice is shown");
    console.log(`note: ${NO_WASM_REASON}`);
  }
  await page.close();
});

test("styling controls change the tile URL and the legend; the hash restores them", async () => {
  const { page, errors } = await openPage(browser);
  await page.evaluate(() => document.querySelectorAll("details").forEach((d) => (d.open = true)));
  await page.selectOption("#colormap-name", "viridis");
  await page.check("#colormap-reverse");
  await page.fill("#rescale-lo", "400");
  await page.fill("#rescale-hi", "1200");
  await page.dispatchEvent("#rescale-hi", "change");
  await page.fill("#enhance-contrast", "1.5");
  await page.dispatchEvent("#enhance-contrast", "change");
  await waitIdle(page);
  const template = await page.$eval("#share-text", (t) => t.value);
  assert.equal(template,
    `${BASE}/tiles/dem/{z}/{x}/{y}.png?colormap_name=viridis_r&rescale=400%2C1200&enhance_contrast=1.5`);
  // The template is a working URL.
  const tile = await edge(template.slice(BASE.length).replace("{z}", "9").replace("{x}", "273").replace("{y}", "181"));
  assert.ok([200, 204].includes(tile.status), `tile status ${tile.status}`);
  assert.match(await page.$eval("#legend-dem", (e) => e.textContent), /colormap viridis_r\s*4001200/);

  for (const [format, needle] of [["maplibre", "tiles: ["], ["leaflet", "L.tileLayer("],
    ["openlayers", "ol.source.XYZ"], ["qgis", "type=xyz&url=http%3A%2F%2F"]]) {
    await page.selectOption("#share-format", format);
    const text = await page.$eval("#share-text", (t) => t.value);
    assert.ok(text.includes(needle) && text.includes(`${BASE}/tiles/dem/{z}/{x}/{y}.png?`), `${format}: ${text}`);
  }

  // Continuous from/over/to → colormap JSON.
  await page.check("#cont-on");
  await page.dispatchEvent("#cont-on", "change");
  await page.selectOption("#share-format", "url");
  const cont = decodeURIComponent(await page.$eval("#share-text", (t) => t.value));
  assert.ok(cont.includes('colormap={"continuous":true,"from":[0,0,255],"to":[255,0,0],"over":[255,255,255]}'), cont);

  const hash = await page.evaluate(() => location.hash);
  const again = await openPage(browser, hash);
  assert.equal(await again.page.$eval("#colormap-name", (s) => s.value), "viridis");
  assert.equal(await again.page.$eval("#rescale-lo", (s) => s.value), "400");
  assert.equal(await again.page.$eval("#enhance-contrast", (s) => s.value), "1.5");
  assert.ok(await again.page.$eval("#cont-on", (s) => s.checked));
  assert.equal(await again.page.$eval("#share-text", (t) => t.value), await page.$eval("#share-text", (t) => t.value));
  const view = (h) => new URLSearchParams(h.slice(1)).get("view");
  assert.equal(view(await again.page.evaluate(() => location.hash)), view(hash));
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await page.close();
  await again.page.close();
});
