// The formula editor (error position, last good layer kept) and click-to-identify, in Edge
// mode and, when the wasm package is built, in Browser mode.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  HAS_WASM, NO_WASM_REASON, canvasPng, drawnPixels, edge, launch, openPage, saveScreenshot, waitIdle,
} from "./harness.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const MODES = [["edge", false], ["browser", HAS_WASM ? false : NO_WASM_REASON]];

/** Opens the page in `mode`, DEM fitted, with the formula details open. */
async function pageIn(mode) {
  const opened = await openPage(browser, `#mode=${mode}&visible=dem&layer=dem`);
  const { page } = opened;
  assert.equal(await page.evaluate(() => window.tilefn.state.mode), mode);
  await page.evaluate(() => document.querySelectorAll("details").forEach((d) => (d.open = true)));
  await page.click('#layers .layer[data-layer="dem"] button.fit');
  await waitIdle(page);
  return opened;
}

async function applyFormula(page, bindings, formula) {
  await page.fill("#bindings", bindings);
  await page.fill("#formula", formula);
  await page.waitForFunction((f) => window.tilefn.state.formula === f && document.querySelector("#formula").dataset.check, formula);
  await page.click("#formula-apply");
  await waitIdle(page);
}

for (const [mode, skip] of MODES) {
  test(`${mode}: a malformed formula shows its error position and keeps the last good layer`, { skip }, async () => {
    const { page, errors } = await pageIn(mode);
    await applyFormula(page, "a=dem", "a*2");
    const good = await page.evaluate(() => window.tilefn.map.getSource("algebra").tiles[0]);
    assert.ok(good.includes("/algebra/") && good.includes("formula=a*2"), good);
    const before = await canvasPng(page);
    assert.ok((await drawnPixels(page)).drawn > 1000, "the algebra layer draws");

    const bad = "a*2+*3";
    // The Worker's parser is the reference for the position (a 400 before any read).
    const ref = await edge(`/pixel/0/0?crs=4326&layers=a%3Ddem&formula=${encodeURIComponent(bad)}`);
    assert.equal(ref.status, 400);
    assert.equal(ref.json.error.code, "bad_formula");
    const position = ref.json.error.position;
    assert.equal(position, 4);

    await page.fill("#formula", bad);
    await page.waitForSelector("#formula-mirror .err-char");
    const mark = await page.$eval("#formula-mirror .err-char", (e) => ({ pos: Number(e.dataset.position), text: e.textContent }));
    assert.deepEqual(mark, { pos: position, text: bad[position] });
    assert.match(await page.$eval("#formula-error", (e) => e.textContent), /at byte 4/);
    const checkedBy = await page.$eval("#formula", (e) => e.dataset.checkedBy);
    assert.equal(checkedBy, HAS_WASM ? "wasm" : "server");
    assert.ok(await page.$eval("#formula-apply", (b) => b.disabled));

    // Enter also tries to apply: nothing changes on the map.
    await page.press("#formula", "Enter");
    await waitIdle(page);
    assert.equal(await page.evaluate(() => window.tilefn.map.getSource("algebra").tiles[0]), good);
    assert.equal(await page.evaluate(() => window.tilefn.state.algebra.formula), "a*2");
    const after = await canvasPng(page);
    assert.ok(before.equals(after), "the map still shows the last good formula");
    if (mode === "edge") await saveScreenshot(page, "formula-error.png");

    // An unbound variable is caught before the map too.
    await page.fill("#formula", "a+c");
    await page.waitForFunction(() => /\bc\b/.test(document.querySelector("#formula-error").textContent));
    assert.match(await page.$eval("#formula-error", (e) => e.textContent), HAS_WASM ? /unbound variable\(s\): c/ : /c/);
    assert.ok(await page.$eval("#formula-apply", (b) => b.disabled));
    // Without wasm the Worker checks the formula: its 400 answers are logged by Chrome.
    const unexpected = errors.filter((e) => !(!HAS_WASM && /status of 400/.test(e)));
    assert.deepEqual(unexpected, []);
    await page.close();
  });

  test(`${mode}: a click shows the value /pixel returns`, { skip }, async () => {
    const { page, errors } = await pageIn(mode);
    const box = await page.locator("#map canvas").boundingBox();
    const clicks = [[0.6, 0.5], [0.7, 0.35]];
    for (const formula of [null, "a*2-100"]) {
      if (formula) await applyFormula(page, "a=dem", formula);
      for (const [fx, fy] of clicks) {
        const point = [Math.round(box.width * fx), Math.round(box.height * fy)];
        const lngLat = await page.evaluate((p) => window.tilefn.map.unproject(p), point);
        await page.mouse.click(box.x + point[0], box.y + point[1]);
        const popup = page.locator(".maplibregl-popup .pixel").last();
        await popup.locator(".pixel-value").waitFor();
        const shown = await popup.locator(".pixel-value").textContent();
        const path = await popup.getAttribute("data-path");
        // The page identified the clicked point (MapLibre's lngLat of the click).
        const [, lng, lat] = path.match(/^\/pixel\/([^/]+)\/([^/?]+)\?/);
        assert.ok(Math.abs(lng - lngLat.lng) < 1e-6 && Math.abs(lat - lngLat.lat) < 1e-6, path);
        const q = formula ? `layers=a%3Ddem&formula=${encodeURIComponent(formula)}` : "layers=a%3Ddem";
        const ref = await edge(`/pixel/${lng}/${lat}?crs=4326&${q}`);
        assert.equal(ref.status, 200);
        assert.equal(shown, ref.json.value === null ? "nodata" : String(ref.json.value), `${formula} at ${lng},${lat}`);
        assert.notEqual(shown, "nodata", "the click lands on data");
        await page.keyboard.press("Escape");
        await page.evaluate(() => document.querySelectorAll(".maplibregl-popup").forEach((p) => p.remove()));
      }
    }
    assert.deepEqual(errors, []);
    await page.close();
  });
}
