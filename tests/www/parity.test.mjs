// Edge vs Browser: the wasm BrowserTiler in the page must give the same RGBA as the Worker,
// tile by tile and on the map. Needs the wasm package (www/pkg); skipped, loudly, without it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  HAS_WASM, NO_WASM_REASON, canvasPng, decodePng, drawnPixels, edge, launch, openPage, saveScreenshot, waitIdle,
} from "./harness.mjs";

const skip = HAS_WASM ? false : NO_WASM_REASON;
if (!HAS_WASM) console.log(`SKIPPED: ${NO_WASM_REASON}`);

let browser;
let layers;
before(async () => {
  browser = await launch();
  layers = Object.fromEntries((await edge("/layers")).json.layers.map((l) => [l.id, l]));
});
after(async () => {
  await browser?.close();
});

/** The XYZ tile holding a layer's centre (`dx`, `dy`: neighbouring tiles). */
function centreTile(id, z, dx = 0, dy = 0) {
  const [w, s, e, n] = layers[id].bounds;
  const lon = (w + e) / 2;
  const lat = (s + n) / 2;
  const scale = 2 ** z;
  const x = Math.floor(((lon + 180) / 360) * scale);
  const r = (lat * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * scale);
  return `${z}/${x + dx}/${y + dy}`;
}

const q = (pairs) => `?${new URLSearchParams(pairs)}`;

/** A fixed set of tiles and formulas over the demo layers. */
function cases() {
  const cont = JSON.stringify({ continuous: true, from: [0, 0, 255], over: [255, 255, 255], to: [255, 0, 0] });
  return [
    `/tiles/dem/${centreTile("dem", 6)}.png`,
    `/tiles/dem/${centreTile("dem", 9)}.png`,
    `/tiles/dem/${centreTile("dem", 12)}.png`,
    `/tiles/dem/${centreTile("dem", 14)}.png`, // over-zoomed
    `/tiles/dem/${centreTile("dem", 10, 1, 0)}.png${q({ colormap_name: "viridis", rescale: "400,1200" })}`,
    `/tiles/dem/${centreTile("dem", 10)}.png${q({ colormap: cont, rescale: "400,1200" })}`,
    `/tiles/dem/${centreTile("dem", 10)}.png${q({ colormap_name: "terrain_r", enhance_contrast: "1.5", enhance_sharpness: "2" })}`,
    `/tiles/landcover/${centreTile("landcover", 10)}.png`,
    `/tiles/ms/${centreTile("ms", 10)}.png`,
    `/algebra/${centreTile("ms", 10)}.png${q({ layers: "a:3=ms,b:2=ms", formula: "(a-b)/(a+b)", colormap_name: "rdylgn" })}`,
    `/algebra/${centreTile("dem", 9)}.png${q({ layers: "a=dem", formula: "a*2-100" })}`,
    `/algebra/${centreTile("dem", 10)}.png${q({ layers: "a=dem,b=landcover", formula: "a*(b>4)+min(a)", colormap_name: "magma" })}`,
    `/algebra/${centreTile("ms", 11)}.png${q({ layers: "r:2=ms,g:1=ms,b:0=ms", scale: "200,1500" })}`,
    `/algebra/${centreTile("ms", 11)}.png${q({ layers: "r:2=ms,g:1=ms,b:0=ms", alpha: "true", enhance_color: "1.4" })}`,
    `/tiles/dem/${centreTile("dem", 3)}.png`, // below min zoom: under-zoomed
  ];
}

async function browserFetch(page, path) {
  return page.evaluate(async (p) => {
    const { tiler } = await window.tilefn.loadWasm();
    const r = await tiler.fetch(p);
    let bin = "";
    const body = r.body;
    for (let i = 0; i < body.length; i += 0x8000) bin += String.fromCharCode(...body.subarray(i, i + 0x8000));
    return { status: r.status, contentType: r.contentType, b64: btoa(bin), renderMs: r.renderMs };
  }, path);
}

test("every tile of the fixed set: the browser's RGBA equals the Edge tile's", { skip }, async () => {
  const { page, errors } = await openPage(browser, "#mode=browser");
  let drawn = 0;
  for (const path of cases()) {
    const e = await edge(path);
    const b = await browserFetch(page, path);
    assert.equal(b.status, e.status, `${path}: status`);
    if (e.status !== 200) continue;
    assert.equal(b.contentType, e.contentType, `${path}: content type`);
    const ei = decodePng(e.bytes);
    const bi = decodePng(Buffer.from(b.b64, "base64"));
    assert.deepEqual([bi.width, bi.height], [ei.width, ei.height], path);
    assert.ok(bi.data.equals(ei.data), `${path}: RGBA differs`);
    drawn += 1;
  }
  assert.ok(drawn >= 10, `only ${drawn} tiles had data`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("the map draws the same pixels in Edge and Browser mode; median render time", { skip }, async () => {
  const hash = "#mode=edge&layer=dem&visible=dem,landcover&opacity=landcover:0.5" +
    `&style=${encodeURIComponent(JSON.stringify({ colormapName: "terrain" }))}`;
  const { page, errors } = await openPage(browser, hash);
  await page.click('#layers .layer[data-layer="dem"] button.fit');
  await waitIdle(page);
  const compare = async (what) => {
    await page.check("#mode-edge");
    await page.waitForFunction(() => window.tilefn.state.mode === "edge");
    await waitIdle(page);
    const edgeShot = decodePng(await canvasPng(page));
    await page.check("#mode-browser");
    await page.waitForFunction(() => window.tilefn.state.mode === "browser");
    await waitIdle(page);
    const browserShot = decodePng(await canvasPng(page));
    assert.ok((await drawnPixels(page)).drawn > 10000, `${what}: the map draws`);
    assert.ok(browserShot.data.equals(edgeShot.data), `${what}: the map differs between modes`);
  };
  await compare("dem + landcover");
  await saveScreenshot(page, "browser.png");

  await page.evaluate(() => document.querySelectorAll("details").forEach((d) => (d.open = true)));
  await page.fill("#bindings", "a=dem,b=landcover");
  await page.fill("#formula", "a*(b>4)");
  await page.waitForFunction(() => document.querySelector("#formula").dataset.check === "ok");
  await page.click("#formula-apply");
  await compare("formula a*(b>4)");
  await saveScreenshot(page, "browser-formula.png");

  const { median, count, shown } = await page.evaluate(() => ({
    median: window.tilefnStats.median(),
    count: window.tilefnStats.renderMs.length,
    shown: document.querySelector("#render-median").textContent,
  }));
  assert.ok(count > 0 && Number.isFinite(median));
  assert.equal(shown, `${median.toFixed(2)} ms`);
  console.log(`browser render time: median ${median.toFixed(2)} ms per 256x256 tile over ${count} tiles (target <= 5 ms)`);
  assert.deepEqual(errors, []);
  await page.close();
});
