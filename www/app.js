// The viewer's controller: state (mirrored in the URL hash) → MapLibre sources and panel.
// Edge mode points raster sources at the Worker's tile URLs; Browser mode points them at
// `tilefn:///...`, rendered in the page by the wasm BrowserTiler (lib/browser.js).

import { defaultState, stateFromHash, stateToHash } from "./lib/state.js";
import { algebraTilePath, layerTilePath, pixelPath, shareSnippets } from "./lib/urls.js";
import { loadWasm, registerProtocol, serviceFetch, stats, PROTOCOL } from "./lib/browser.js";
import { checkFormula, renderMirror } from "./lib/formula.js";
import { legendLookup, renderLegend } from "./lib/legend.js";
import {
  addDrawLayers, fileFeatureAt, geometryBounds, polygonFeatures, raiseDrawLayers, showFile, showPolygon, startDrawing,
} from "./lib/draw.js";
import { errorOf, renderAnswer, renderError, statisticsPath } from "./lib/stats.js";
import { makeExporter } from "./lib/export.js";
import { makeTerrain, registerDemProtocol } from "./lib/terrain.js";

const $ = (id) => document.getElementById(id);
const maplibregl = window.maplibregl;

const hadHash = location.hash.length > 1;
const state = stateFromHash(location.hash);
let layers = []; // /layers summaries
const layerInfo = new Map(); // id -> /layers/{id} document
let wasmReady = false;
let lastCheck = null; // the editor's latest check result
let drawing = null; // the draw mode while a polygon is being drawn
let fileFeatures = []; // the polygons of a dropped GeoJSON file

window.tilefnStats = stats;
// For the tests and the console: the map, the state and the lazily loaded wasm.
window.tilefn = { state, stats, ready: false, loadWasm };

const map = new maplibregl.Map({
  container: "map",
  style: {
    version: 8,
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#dde3e8" } }],
  },
  center: state.view ? [state.view.lng, state.view.lat] : [12, 46.7],
  zoom: state.view ? state.view.zoom : 6,
  bearing: state.view?.bearing ?? 0,
  pitch: state.view?.pitch ?? 0,
  // Screenshots in tests read the canvas.
  canvasContextAttributes: { preserveDrawingBuffer: true },
});
map.addControl(new maplibregl.NavigationControl());
window.tilefn.map = map;
window.tilefn.layerInfo = layerInfo;

// The export buttons (lib/export.js) see the page through this.
const exporter = makeExporter({
  state,
  map,
  $,
  layers: () => layers,
  fail(error, title) {
    showStatsPanel(true);
    renderError(statsBox(), error, title);
    setStatsState("error");
  },
});
const { runExport, exportPolygon, updateExportLink } = exporter;
// The terrain view (lib/terrain.js): its changes re-render the layer list and controls too.
registerDemProtocol(maplibregl, () => state.mode);
const terrain = makeTerrain({
  state, map, $, layers: () => layers, tileUrl,
  onChange() {
    buildLayerList();
    writeControls();
    syncMap();
  },
});

// Tile failures (a 400 from a bad binding, a wasm error) are shown in the panel and kept for
// the tests instead of MapLibre's default console.error.
map.on("error", (e) => {
  const msg = String(e.error?.message || e.error || "map error");
  stats.errors.push(msg);
  setStatus(msg);
});

function setStatus(text) {
  $("status").textContent = text;
}

function saveHash() {
  const c = map.getCenter();
  state.view = { lng: c.lng, lat: c.lat, zoom: map.getZoom(), bearing: map.getBearing(), pitch: map.getPitch() };
  history.replaceState(null, "", stateToHash(state));
}
map.on("moveend", () => {
  saveHash();
  updateExportLink();
});

// --- map sources ---

function tileUrl(path) {
  return state.mode === "browser" ? `${PROTOCOL}://${path}` : `${location.origin}${path}`;
}

function layerPath(id) {
  // The styling controls apply to the active layer; the others keep their own default.
  return layerTilePath(id, id === state.layer ? state.style : defaultState().style);
}

function upsertRaster(sourceId, url, extra) {
  const src = map.getSource(sourceId);
  if (src) {
    if (src.tiles?.[0] !== url) src.setTiles([url]);
    return;
  }
  map.addSource(sourceId, { type: "raster", tiles: [url], tileSize: 256, ...extra });
  map.addLayer({ id: sourceId, type: "raster", source: sourceId, paint: { "raster-fade-duration": 0 } });
}

function syncMap() {
  for (const l of layers) {
    const id = `layer-${l.id}`;
    upsertRaster(id, tileUrl(layerPath(l.id)), { bounds: l.bounds, minzoom: 0, maxzoom: l.max_zoom });
    map.setLayoutProperty(id, "visibility", state.visible[l.id] ? "visible" : "none");
    map.setPaintProperty(id, "raster-opacity", state.opacity[l.id] ?? 1);
  }
  if (state.algebra) {
    upsertRaster("algebra", tileUrl(algebraTilePath(state.algebra, state.style)), { maxzoom: 14 });
    map.moveLayer("algebra"); // always on top
    $("algebra-status").textContent =
      state.algebra.kind === "rgb"
        ? `showing RGB ${state.algebra.r} ${state.algebra.g} ${state.algebra.b}`
        : `showing ${state.algebra.formula} with ${state.algebra.bindings}`;
  } else {
    if (map.getLayer("algebra")) map.removeLayer("algebra");
    if (map.getSource("algebra")) map.removeSource("algebra");
    $("algebra-status").textContent = "";
  }
  terrain.sync();
  raiseDrawLayers(map);
  updateShare();
  updateExportLink();
  refreshStats();
  updateLegends();
  saveHash();
}

// --- layer list ---

function buildLayerList() {
  const list = $("layers");
  list.replaceChildren();
  if (!layers.length) list.textContent = "no layers published yet";
  for (const l of layers) {
    const div = document.createElement("div");
    div.className = "layer";
    div.dataset.layer = l.id;
    const row = document.createElement("div");
    row.className = "row";
    const active = Object.assign(document.createElement("input"), {
      type: "radio", name: "active", value: l.id, checked: state.layer === l.id, title: "active layer",
    });
    active.addEventListener("change", () => {
      state.layer = l.id;
      syncMap();
    });
    const vis = Object.assign(document.createElement("input"), {
      type: "checkbox", checked: !!state.visible[l.id], className: "visible", title: "visible",
    });
    vis.addEventListener("change", () => {
      state.visible[l.id] = vis.checked;
      syncMap();
    });
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `${l.name || l.id} (${l.id})`;
    const fit = Object.assign(document.createElement("button"), { textContent: "fit", className: "fit" });
    fit.addEventListener("click", () => map.fitBounds(l.bounds, { padding: 40, animate: false }));
    row.append(active, vis, name, fit);
    const opacity = Object.assign(document.createElement("input"), {
      type: "range", min: 0, max: 1, step: 0.05, value: state.opacity[l.id] ?? 1, className: "opacity",
      title: "opacity",
    });
    opacity.addEventListener("input", () => {
      state.opacity[l.id] = Number(opacity.value);
      syncMap();
    });
    const legend = document.createElement("div");
    legend.className = "legend";
    legend.id = `legend-${l.id}`;
    div.append(row, opacity, legend);
    list.append(div);
  }
}

async function updateLegends() {
  for (const l of layers) {
    const style = l.id === state.layer ? state.style : defaultState().style;
    const el = $(`legend-${l.id}`);
    if (el) renderLegend(el, layerInfo.get(l.id), style, state.mode).catch((e) => setStatus(String(e)));
  }
}

// --- mode ---

async function setMode(mode) {
  if (mode === "browser" && !wasmReady) {
    try {
      const { tiler } = await loadWasm();
      registerProtocol(maplibregl, tiler, onRender);
      wasmReady = true;
    } catch (e) {
      showWasmMissing(e);
      mode = "edge";
    }
  }
  state.mode = mode;
  $(`mode-${mode}`).checked = true;
  syncMap();
}

function onRender() {
  const m = stats.median();
  $("render-median").textContent = m === null ? "–" : `${m.toFixed(2)} ms`;
  $("render-count").textContent = String(stats.renderMs.length);
}

function showWasmMissing(err) {
  const n = $("wasm-notice");
  n.hidden = false;
  n.textContent =
    "Browser mode needs the wasm package (www/pkg/tilefn_web.js, built by scripts/build-web.sh); " +
    `it did not load (${err?.message || err}). Edge mode works without it.`;
  $("mode-browser").disabled = true;
}

// --- formula editor and RGB composer ---

const bindingNames = (text) =>
  String(text).split(",").map((b) => b.split("=")[0].split(":")[0].trim()).filter(Boolean);

let checkSeq = 0;
async function checkEditor() {
  const formula = $("formula").value;
  state.formula = formula;
  state.bindings = $("bindings").value;
  const seq = ++checkSeq;
  const r = formula.trim() ? await checkFormula(formula, state.bindings) : { ok: false, position: 0, message: "empty formula" };
  if (seq !== checkSeq) return null; // a newer keystroke won
  lastCheck = r;
  renderMirror($("formula-mirror"), formula, formula.trim() ? r : null);
  let msg = r.ok ? r.problem || "" : r.message;
  if (r.ok && r.variables) {
    const bound = new Set(bindingNames(state.bindings));
    const missing = r.variables.filter((v) => !bound.has(v));
    if (missing.length) msg = `unbound variable(s): ${missing.join(", ")} (bind them in layers)`;
  }
  $("formula-error").textContent = formula.trim() ? msg : "";
  $("formula").classList.toggle("invalid", !!formula.trim() && !r.ok);
  $("formula").dataset.check = r.ok ? "ok" : "error";
  $("formula").dataset.checkedBy = r.by || "";
  $("formula-apply").disabled = !!msg;
  saveHash();
  return { ...r, message: msg || r.message, usable: !msg };
}

async function applyFormula() {
  const r = await checkEditor();
  // A malformed formula never reaches the map: the last good layer stays.
  if (!r || !r.usable) return;
  state.algebra = { kind: "formula", formula: state.formula, bindings: state.bindings };
  syncMap();
}

function applyRgb() {
  state.rgb = {
    r: $("rgb-r").value, g: $("rgb-g").value, b: $("rgb-b").value,
    scale: $("rgb-scale").value, alpha: $("rgb-alpha").checked,
  };
  state.algebra = { kind: "rgb", ...state.rgb };
  syncMap();
}

// --- styling controls ---

const ENHANCE = ["color", "contrast", "brightness", "sharpness"];

function buildEnhance() {
  for (const k of ENHANCE) {
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"), {
      type: "range", min: 0, max: 3, step: 0.1, id: `enhance-${k}`, value: state.style.enhance[k],
    });
    const out = Object.assign(document.createElement("span"), { id: `enhance-${k}-value` });
    out.textContent = String(state.style.enhance[k]);
    input.addEventListener("change", () => {
      state.style.enhance[k] = Number(input.value);
      out.textContent = input.value;
      syncMap();
    });
    label.append(`enhance ${k}`, input, out);
    $("enhance").append(label);
  }
}

function readStyleControls() {
  const s = state.style;
  s.colormapName = $("colormap-name").value;
  s.reverse = $("colormap-reverse").checked;
  s.continuous = {
    on: $("cont-on").checked, from: $("cont-from").value, over: $("cont-over").value,
    to: $("cont-to").value, useOver: $("cont-use-over").checked,
  };
  s.legend = $("legend-name").value.trim();
  s.rescaleLo = $("rescale-lo").value;
  s.rescaleHi = $("rescale-hi").value;
  syncMap();
}

function writeControls() {
  const s = state.style;
  $("colormap-name").value = s.colormapName;
  $("colormap-reverse").checked = s.reverse;
  $("cont-on").checked = s.continuous.on;
  $("cont-from").value = s.continuous.from;
  $("cont-over").value = s.continuous.over;
  $("cont-to").value = s.continuous.to;
  $("cont-use-over").checked = s.continuous.useOver;
  $("legend-name").value = s.legend;
  $("rescale-lo").value = s.rescaleLo;
  $("rescale-hi").value = s.rescaleHi;
  $("formula").value = state.formula;
  $("bindings").value = state.bindings;
  for (const c of ["r", "g", "b", "scale"]) $(`rgb-${c}`).value = state.rgb[c];
  $("rgb-alpha").checked = !!state.rgb.alpha;
}

// --- share ---

function currentTemplate() {
  const path = state.algebra ? algebraTilePath(state.algebra, state.style) : layerPath(state.layer);
  return `${location.origin}${path}`;
}

function updateShare() {
  const info = layers.find((l) => l.id === state.layer);
  const snippets = shareSnippets(currentTemplate(), 0, info?.max_zoom ?? 22);
  $("share-text").value = snippets[$("share-format").value] ?? snippets.url;
}

// --- click to identify ---

/** What identify and statistics measure: the applied formula, else the active layer. */
function measuredTarget() {
  return state.algebra?.kind === "formula"
    ? { formula: state.algebra.formula, bindings: state.algebra.bindings }
    : { layer: state.layer };
}

map.on("click", async (e) => {
  if (drawing) return; // the draw mode takes the click
  const picked = fileFeatureAt(map, e.point);
  if (picked >= 0) {
    selectPolygon(fileFeatures[picked].geometry);
    return;
  }
  const target = measuredTarget();
  const path = pixelPath(e.lngLat, target);
  const popup = new maplibregl.Popup({ className: "pixel-popup" }).setLngLat(e.lngLat);
  const box = document.createElement("div");
  box.className = "pixel";
  box.dataset.path = path;
  try {
    const r = await serviceFetch(state.mode, path);
    const body = JSON.parse(new TextDecoder().decode(r.body));
    const value = document.createElement("span");
    value.className = "pixel-value";
    if (r.status !== 200) value.textContent = body?.error?.message || `HTTP ${r.status}`;
    else value.textContent = body.value === null ? "nodata" : String(body.value);
    box.append(`${target.formula || target.layer} = `, value, document.createElement("br"),
      `zoom ${body.zoom ?? "?"} · ${state.mode}`);
  } catch (err) {
    box.textContent = String(err);
  }
  popup.setDOMContent(box).addTo(map);
});

// --- statistics and export of a polygon ---

const statsBox = () => $("stats-result");
let statsSeq = 0;
let lastStats = null; // {key, status, body} of the latest answer
let pendingKey = null; // the request on its way
let renderedKey = null; // the answer and style the panel shows

function showStatsPanel(show) {
  $("stats-panel").hidden = !show;
}

function setStatsState(s) {
  statsBox().dataset.state = s;
}

function selectPolygon(geometry) {
  state.polygon = geometry;
  showPolygon(map, geometry);
  saveHash();
  refreshStats(true);
}

function toggleDrawing() {
  if (drawing) {
    drawing.stop(true);
    return;
  }
  $("stats-draw").textContent = "cancel drawing";
  $("stats-hint").textContent =
    "Click the vertices; double-click or click the first vertex to close; Escape cancels.";
  const done = () => {
    drawing = null;
    $("stats-draw").textContent = "draw polygon";
    $("stats-hint").textContent = "The statistics follow the active layer or the applied formula; draw again to replace the polygon.";
  };
  drawing = startDrawing(map, {
    onDone: (geometry) => {
      done();
      selectPolygon(geometry);
    },
    onCancel: () => {
      done();
      showPolygon(map, state.polygon);
    },
  });
}

function clearPolygon() {
  drawing?.stop(true);
  state.polygon = null;
  fileFeatures = [];
  showFile(map, []);
  showPolygon(map, null);
  $("stats-file").value = "";
  statsSeq += 1; // drops an answer on its way
  lastStats = pendingKey = renderedKey = null;
  showStatsPanel(false);
  saveHash();
}

function targetTitle(target) {
  if (target.formula) return `${target.formula} (${target.bindings})`;
  const l = layers.find((x) => x.id === target.layer);
  return l ? `${l.name || l.id} (${l.id})` : target.layer;
}

/**
 * Asks for the statistics of the polygon when what they depend on changed (polygon, layer
 * or formula, zoom, mode), or re-draws the last answer when only the style did (the bars'
 * colours). `force` asks again anyway.
 */
async function refreshStats(force = false) {
  if (!state.polygon || !layers.length) {
    showStatsPanel(false);
    return;
  }
  const target = measuredTarget();
  const path = statisticsPath(target, $("stats-zoom").value.trim());
  const body = JSON.stringify(state.polygon);
  const key = `${state.mode} ${path} ${body}`;
  const shownKey = `${key} ${JSON.stringify(state.style)}`;
  if (!force && (key === pendingKey || (lastStats?.key === key && renderedKey === shownKey))) return;
  const seq = ++statsSeq;
  showStatsPanel(true);
  let answer = lastStats;
  if (force || !answer || answer.key !== key) {
    pendingKey = key;
    setStatsState("loading");
    statsBox().replaceChildren(`measuring ${targetTitle(target)} …`);
    try {
      const r = await serviceFetch(state.mode, path, { method: "POST", body });
      answer = { key, status: r.status, body: r.body };
    } catch (err) {
      answer = { key, status: 0, error: { code: "request failed", message: String(err?.message || err) } };
    }
    if (seq !== statsSeq) return; // a newer request won
    pendingKey = null;
    lastStats = answer;
  }
  renderedKey = shownKey;
  const box = statsBox();
  const title = `${targetTitle(target)} · ${state.mode}`;
  if (answer.status !== 200) {
    renderError(box, answer.error || errorOf(answer.status, answer.body), title);
    setStatsState("error");
    return;
  }
  try {
    const result = JSON.parse(new TextDecoder().decode(answer.body));
    const info = target.layer ? layerInfo.get(target.layer) : undefined;
    const needsLegend = (result.bands || []).some((b) => b.value_counts);
    const legend = needsLegend
      ? await legendLookup(info, state.style, state.mode)
      : { colorOf: () => "#888", nameOf: () => undefined };
    if (seq !== statsSeq) return;
    const forced = $("stats-zoom").value.trim() !== "";
    renderAnswer(box, result, { title, maxZoom: info?.max_zoom, forced, legend });
    if (legend.note) {
      const note = document.createElement("div");
      note.className = "stats-note";
      note.textContent = legend.note;
      box.append(note);
    }
    setStatsState("done");
  } catch (err) {
    renderError(box, { code: "bad answer", message: String(err?.message || err) }, title);
    setStatsState("error");
  }
}


async function loadGeoJsonFile(file) {
  try {
    const doc = JSON.parse(await file.text());
    const features = polygonFeatures(doc);
    if (!features.length) throw new Error("no Polygon or MultiPolygon in it");
    fileFeatures = features;
    showFile(map, features);
    const all = features.map((f) => geometryBounds(f.geometry));
    const bounds = [Math.min(...all.map((b) => b[0])), Math.min(...all.map((b) => b[1])),
      Math.max(...all.map((b) => b[2])), Math.max(...all.map((b) => b[3]))];
    map.fitBounds(bounds, { padding: 60, animate: false, maxZoom: 16 });
    $("stats-hint").textContent = `${file.name}: ${features.length} polygon feature(s); click one for its statistics`;
    if (features.length === 1) selectPolygon(features[0].geometry);
  } catch (err) {
    showStatsPanel(true);
    renderError(statsBox(), { code: "bad file", message: `${file.name}: ${err?.message || err}` });
    setStatsState("error");
  }
}

function setupStatistics() {
  addDrawLayers(map);
  showPolygon(map, state.polygon);
  $("stats-draw").addEventListener("click", toggleDrawing);
  $("stats-clear").addEventListener("click", clearPolygon);
  $("stats-close").addEventListener("click", () => showStatsPanel(false));
  $("stats-zoom").addEventListener("change", () => {
    updateExportLink();
    refreshStats(true);
  });
  $("stats-export").addEventListener("click", exportPolygon);
  $("export-view").addEventListener("click", (e) => {
    e.preventDefault();
    updateExportLink();
    const href = $("export-view").getAttribute("href");
    runExport(href, {}, `${state.layer}-view.tif`);
  });
  $("stats-file").addEventListener("change", () => {
    const file = $("stats-file").files[0];
    if (file) loadGeoJsonFile(file);
  });
  const container = map.getContainer();
  container.addEventListener("dragover", (e) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  container.addEventListener("drop", (e) => {
    e.preventDefault();
    const file = e.dataTransfer.files[0];
    if (file) loadGeoJsonFile(file);
  });
}

// --- start ---

async function start() {
  setupStatistics();
  buildEnhance();
  writeControls();
  for (const id of ["colormap-name", "colormap-reverse", "cont-on", "cont-from", "cont-over", "cont-to",
    "cont-use-over", "legend-name", "rescale-lo", "rescale-hi"]) {
    $(id).addEventListener("change", readStyleControls);
  }
  $("formula").addEventListener("input", checkEditor);
  $("bindings").addEventListener("input", checkEditor);
  $("formula").addEventListener("keydown", (e) => e.key === "Enter" && applyFormula());
  $("formula-apply").addEventListener("click", applyFormula);
  $("algebra-clear").addEventListener("click", () => {
    state.algebra = null;
    syncMap();
  });
  $("rgb-apply").addEventListener("click", applyRgb);
  $("share-format").addEventListener("change", updateShare);
  $("share-copy").addEventListener("click", async () => {
    $("share-text").select();
    try {
      await navigator.clipboard.writeText($("share-text").value);
    } catch {
      document.execCommand("copy");
    }
  });
  for (const m of ["edge", "browser"]) $(`mode-${m}`).addEventListener("change", () => setMode(m));

  try {
    const [res, cm] = await Promise.all([fetch("/layers"), fetch("/colormaps")]);
    if (!res.ok) throw new Error(`/layers: HTTP ${res.status}`);
    layers = (await res.json()).layers;
    const names = cm.ok ? await cm.json() : [];
    for (const n of Array.isArray(names) ? names : names.colormaps || []) {
      $("colormap-name").append(new Option(n, n));
    }
    $("colormap-name").value = state.style.colormapName;
    await Promise.all(layers.map(async (l) => {
      const r = await fetch(`/layers/${encodeURIComponent(l.id)}`);
      if (r.ok) layerInfo.set(l.id, await r.json());
    }));
  } catch (err) {
    $("layers").textContent = String(err);
    return;
  }
  if (!layers.some((l) => l.id === state.layer)) state.layer = layers[0]?.id ?? "";
  if (!hadHash && layers[0]) state.visible[layers[0].id] = true;
  buildLayerList();
  terrain.fillLayers();
  if (!state.view && layers[0]) map.fitBounds(layers[0].bounds, { padding: 40, animate: false });
  if (state.formula) await checkEditor();
  // Probe the wasm package in the background so the notice shows before anyone clicks.
  loadWasm().catch(showWasmMissing);
  await setMode(state.mode);
  window.tilefn.ready = true;
}

map.on("load", start);
