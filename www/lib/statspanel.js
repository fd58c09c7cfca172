// The Statistics panel: a polygon (drawn, or a feature of a dropped GeoJSON file) measured by
// POST /statistics against the active layer or the applied formula (docs/statistics.md), and
// the export buttons' wiring. app.js calls `refresh()` whenever it re-syncs the map and lets
// `claimClick` have a map click before its own identify popup.

import { serviceFetch } from "./browser.js";
import { legendLookup } from "./legend.js";
import {
  addDrawLayers, fileFeatureAt, geometryBounds, polygonFeatures, showFile, showPolygon, startDrawing,
} from "./draw.js";
import { errorOf, renderAnswer, renderError, statisticsPath } from "./stats.js";

/** What identify and statistics measure: the applied formula, else the active layer. */
export function measuredTarget(state) {
  return state.algebra?.kind === "formula"
    ? { formula: state.algebra.formula, bindings: state.algebra.bindings }
    : { layer: state.layer };
}

/**
 * The panel over the page: `state` (mode, layer, algebra, style, polygon), the MapLibre `map`,
 * `$` (getElementById), `saveHash()`, `layers()` (the /layers summaries), `layerInfo` (id ->
 * /layers/{id} document, for the legend and max zoom) and `exporter` (lib/export.js's
 * actions, which report their failures through this panel's `showError`).
 */
export function makeStatsPanel({ state, map, $, saveHash, layers, layerInfo, exporter }) {
  const statsBox = () => $("stats-result");
  let drawing = null; // the draw mode while a polygon is being drawn
  let fileFeatures = []; // the polygons of a dropped GeoJSON file
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

  /** Opens the panel on an error (a failed export, an unreadable file). */
  function showError(error, title) {
    showStatsPanel(true);
    renderError(statsBox(), error, title);
    setStatsState("error");
  }

  function selectPolygon(geometry) {
    state.polygon = geometry;
    showPolygon(map, geometry);
    saveHash();
    refresh(true);
  }

  /**
   * Whether a map click is the panel's: while drawing, the draw mode takes it; on a polygon
   * of the dropped file, it selects that polygon. Otherwise the page may identify the pixel.
   */
  function claimClick(point) {
    if (drawing) return true;
    const picked = fileFeatureAt(map, point);
    if (picked < 0) return false;
    selectPolygon(fileFeatures[picked].geometry);
    return true;
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
    const l = layers().find((x) => x.id === target.layer);
    return l ? `${l.name || l.id} (${l.id})` : target.layer;
  }

  /**
   * Asks for the statistics of the polygon when what they depend on changed (polygon, layer
   * or formula, zoom, mode), or re-draws the last answer when only the style did (the bars'
   * colours). `force` asks again anyway.
   */
  async function refresh(force = false) {
    if (!state.polygon || !layers().length) {
      showStatsPanel(false);
      return;
    }
    const target = measuredTarget(state);
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
    // Not showError: the panel is open already, and a clear during the legend's await below
    // must leave it closed.
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
      showError({ code: "bad file", message: `${file.name}: ${err?.message || err}` });
    }
  }

  /** Adds the draw layers and wires the panel's controls, the export buttons and file drops. */
  function setup() {
    const { runExport, exportPolygon, updateExportLink } = exporter;
    addDrawLayers(map);
    showPolygon(map, state.polygon);
    $("stats-draw").addEventListener("click", toggleDrawing);
    $("stats-clear").addEventListener("click", clearPolygon);
    $("stats-close").addEventListener("click", () => showStatsPanel(false));
    $("stats-zoom").addEventListener("change", () => {
      updateExportLink();
      refresh(true);
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

  return { setup, refresh, claimClick, showError };
}
