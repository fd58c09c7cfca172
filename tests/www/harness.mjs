// Shared helpers of the www/ browser tests: Debian's chromium driven by playwright-core
// against the `wrangler dev` that scripts/test-www.sh started (TILEFN_WWW_URL).
import { createRequire } from "node:module";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const requireTool = createRequire(join(ROOT, "tools", "package.json"));
const { chromium } = requireTool("playwright-core");
const { PNG } = requireTool("pngjs");

export const BASE = (process.env.TILEFN_WWW_URL || "http://127.0.0.1:8788").replace(/\/$/, "");
export const SCREENSHOTS = join(ROOT, "docs", "screenshots");

/** Whether the wasm package is built (the Browser-mode checks need it). */
export const HAS_WASM = existsSync(join(ROOT, "www", "pkg", "tilefn_web.js"));
export const NO_WASM_REASON =
  "www/pkg/tilefn_web.js is not built (scripts/build-web.sh): Browser-mode checks skipped";

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run"],
  });
}

/**
 * Opens the page at `hash`; returns `{page, errors}` where `errors` collects console errors
 * and uncaught exceptions. Without the wasm package, the one expected 404 (the lazy import
 * of /pkg/tilefn_web.js that the page turns into a notice) is not an error.
 */
export async function openPage(browser, hash = "") {
  const page = await browser.newPage({ viewport: { width: 1100, height: 750 } });
  const errors = [];
  const missing404 = new Set();
  page.on("response", (r) => {
    if (r.status() === 404 && new URL(r.url()).pathname.startsWith("/pkg/") && !HAS_WASM) {
      missing404.add(r.url());
    }
  });
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const url = m.location()?.url || "";
    if (!HAS_WASM && (missing404.has(url) || url.includes("/pkg/"))) return;
    errors.push(`${m.text()} (${url})`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  await page.goto(`${BASE}/${hash}`);
  await page.waitForFunction(() => window.tilefn?.ready === true, null, { timeout: 30000 });
  await waitIdle(page);
  return { page, errors };
}

/**
 * Waits until MapLibre has every visible tile loaded and nothing moves, three polls in a
 * row (a source changed by a click may not have asked for its tiles at the first poll).
 */
export async function waitIdle(page) {
  await page.waitForFunction(
    () => {
      const t = window.tilefn;
      const m = t.map;
      const idle = m.loaded() && m.areTilesLoaded() && !m.isMoving();
      t.idlePolls = idle ? (t.idlePolls || 0) + 1 : 0;
      return t.idlePolls >= 3;
    },
    null,
    { timeout: 30000, polling: 150 },
  );
  await page.evaluate(() => {
    window.tilefn.idlePolls = 0;
  });
  // One more frame so the canvas shows what was loaded.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

export function decodePng(buf) {
  const png = PNG.sync.read(Buffer.from(buf));
  return { width: png.width, height: png.height, data: png.data };
}

/**
 * The map canvas itself as PNG bytes (the page keeps its drawing buffer), without the panel
 * that covers part of it on screen.
 */
export async function canvasPng(page) {
  const url = await page.evaluate(() => window.tilefn.map.getCanvas().toDataURL("image/png"));
  return Buffer.from(url.slice(url.indexOf(",") + 1), "base64");
}

/** Pixels of the map canvas that are not the plain background colour #dde3e8. */
export async function drawnPixels(page) {
  const shot = await canvasPng(page);
  const { data, width, height } = decodePng(shot);
  let drawn = 0;
  for (let i = 0; i < data.length; i += 4) {
    const bg = Math.abs(data[i] - 0xdd) + Math.abs(data[i + 1] - 0xe3) + Math.abs(data[i + 2] - 0xe8);
    if (bg > 12) drawn += 1;
  }
  return { drawn, total: width * height };
}

export async function saveScreenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, name);
  writeFileSync(path, await page.screenshot());
  return path;
}

/** GET from the Worker (Node side): `{status, json?, bytes}`. */
export async function edge(path) {
  const res = await fetch(`${BASE}${path}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  let json;
  if ((res.headers.get("content-type") || "").includes("json")) json = JSON.parse(Buffer.from(bytes).toString());
  return { status: res.status, contentType: res.headers.get("content-type"), bytes, json };
}
