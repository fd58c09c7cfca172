// The statistics panel: the request for a polygon (docs/statistics.md) and its answer as
// DOM: zoom and exactness, pixel counts, per-band figures with a small SVG histogram, and
// value counts as bars in the legend's colours with their ground areas.

import { query } from "./urls.js";

/**
 * `/statistics/{layer}` or, for an applied formula, `/statistics?layers=..&formula=..`;
 * `zoom` (optional) forces the pixel grid.
 */
export function statisticsPath(target, zoom) {
  const p = [];
  if (target.formula) p.push(["layers", target.bindings], ["formula", target.formula]);
  if (zoom !== "" && zoom !== undefined && zoom !== null) p.push(["zoom", String(zoom)]);
  const base = target.formula ? "/statistics" : `/statistics/${encodeURIComponent(target.layer)}`;
  return base + query(p);
}

/** `/export/{layer}.tif` (POST a polygon) or, with `bbox` [w, s, e, n], the GET of a box. */
export function exportPath(layer, bbox) {
  const base = `/export/${encodeURIComponent(layer)}.tif`;
  if (!bbox) return base;
  return base + query([["bbox", bbox.map((v) => +v.toFixed(6)).join(",")], ["crs", "4326"]]);
}

/** `{code, message}` of an error answer, else a generic one from the status. */
export function errorOf(status, body) {
  const text = new TextDecoder().decode(body);
  try {
    const e = JSON.parse(text).error;
    if (e && typeof e === "object") return { code: e.code || `HTTP ${status}`, message: e.message || "" };
    if (typeof e === "string") return { code: `HTTP ${status}`, message: e };
  } catch {
    // not JSON: fall through
  }
  return { code: `HTTP ${status}`, message: text.slice(0, 300) };
}

// --- formatting ---

export function fmtNumber(v) {
  if (v === null || v === undefined) return "–";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return n.toLocaleString("en-US");
  const a = Math.abs(n);
  if (a !== 0 && (a >= 1e9 || a < 1e-3)) return n.toExponential(4);
  return String(+n.toPrecision(6));
}

/** Square metres as km² (from 1 km²) or hectares. */
export function fmtArea(m2) {
  if (!Number.isFinite(m2)) return "–";
  if (m2 >= 1e6) return `${(m2 / 1e6).toLocaleString("en-US", { maximumFractionDigits: m2 >= 1e8 ? 0 : 2 })} km²`;
  return `${(m2 / 1e4).toLocaleString("en-US", { maximumFractionDigits: 2 })} ha`;
}

const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

// --- the histogram ---

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** An inline SVG bar chart of `{edges, counts}`, min and max below it. */
export function histogramSvg(hist, width = 240, height = 48) {
  const counts = hist?.counts || [];
  const edges = hist?.edges || [];
  const wrap = el("div", { className: "stats-hist" });
  if (!counts.length) return wrap;
  const top = Math.max(...counts, 1);
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  chart.setAttribute("aria-label", "histogram");
  const w = width / counts.length;
  counts.forEach((c, i) => {
    const h = c ? Math.max(1, (c / top) * height) : 0;
    const bar = svg("rect", { x: (i * w).toFixed(2), y: (height - h).toFixed(2), width: Math.max(w - 1, 0.5).toFixed(2),
      height: h.toFixed(2), fill: "#4a78b5" });
    const lo = edges[i];
    const hi = edges[i + 1];
    const title = svg("title", {});
    title.textContent = `${fmtNumber(lo)} – ${fmtNumber(hi)}: ${fmtNumber(c)}`;
    bar.append(title);
    chart.append(bar);
  });
  const labels = el("div", { className: "legend-labels" },
    el("span", { textContent: fmtNumber(edges[0]) }), el("span", { textContent: fmtNumber(edges[edges.length - 1]) }));
  wrap.append(chart, labels);
  return wrap;
}

// --- value counts ---

/**
 * Value-count bars: `colorOf(value)` gives a CSS colour (the legend's), `nameOf(value)` a
 * class name or undefined.
 */
export function valueCountBars(band, colorOf, nameOf) {
  const counts = band.value_counts || {};
  const areas = band.area_m2 || {};
  const keys = Object.keys(counts).sort((a, b) => Number(a) - Number(b));
  const total = keys.reduce((s, k) => s + counts[k], 0) || 1;
  const top = Math.max(...keys.map((k) => counts[k]), 1);
  const list = el("div", { className: "stats-classes" });
  for (const k of keys) {
    const row = el("div", { className: "stats-class" });
    row.dataset.value = k;
    row.dataset.count = String(counts[k]);
    const color = colorOf(Number(k));
    const label = el("span", { className: "stats-class-label" },
      el("span", { className: "swatch", style: `background:${color}` }), ` ${nameOf(Number(k)) ?? k}`);
    const track = el("span", { className: "stats-class-track" });
    const bar = el("span", { className: "stats-class-bar" });
    bar.style.width = `${((counts[k] / top) * 100).toFixed(1)}%`;
    bar.style.background = color;
    track.append(bar);
    const figure = el("span", { className: "stats-class-figure" });
    const area = areas[k];
    figure.textContent = `${(100 * counts[k] / total).toFixed(1)}% · ${area !== undefined ? fmtArea(area) : `${fmtNumber(counts[k])} px`}`;
    row.title = `${k}: ${fmtNumber(counts[k])} pixels${area !== undefined ? `, ${fmtArea(area)}` : ""}`;
    row.append(label, track, figure);
    list.append(row);
  }
  return list;
}

// --- the whole answer ---

function bandTable(band) {
  const rows = [["count", band.count], ["min", band.min], ["max", band.max], ["mean", band.mean],
    ["std", band.std], ["sum", band.sum]];
  for (const [p, v] of Object.entries(band.percentiles || {})) rows.push([`p${p}`, v]);
  const table = el("table", { className: "stats-table" });
  for (const [k, v] of rows) {
    const tr = el("tr", {}, el("th", { textContent: k }), el("td", { textContent: fmtNumber(v) }));
    tr.dataset.key = k;
    table.append(tr);
  }
  return table;
}

/**
 * Fills `box` with the answer `r` of `/statistics` for `title` (layer or formula);
 * `maxZoom` and `forced` (a zoom was asked for) explain a coarser zoom; `legend` is
 * `{colorOf, nameOf}` for value counts.
 */
export function renderAnswer(box, r, { title, maxZoom, forced, legend }) {
  box.replaceChildren();
  box.append(el("div", { className: "stats-title", textContent: title }));
  const zoom = el("div", { className: "stats-zoom" });
  zoom.dataset.zoom = String(r.zoom);
  zoom.dataset.exact = String(!!r.exact);
  const finest = maxZoom !== undefined ? ` (max zoom ${maxZoom})` : "";
  zoom.textContent = r.exact
    ? `zoom ${r.zoom} · exact (the finest data)`
    : `zoom ${r.zoom} · not exact: measured at zoom ${r.zoom}, coarser than the data${finest}` +
      (forced ? ", as asked" : ", to stay within the tile budget");
  const pixels = el("div", { className: "stats-pixels" });
  pixels.dataset.pixels = String(r.pixels);
  pixels.textContent = `${fmtNumber(r.pixels)} pixels inside` + (r.tiles !== undefined ? ` · ${fmtNumber(r.tiles)} tiles read` : "");
  box.append(zoom, pixels);
  for (const band of r.bands || []) {
    const section = el("div", { className: "stats-band" });
    section.dataset.band = String(band.band);
    section.dataset.count = String(band.count);
    const many = (r.bands || []).length > 1;
    if (many) section.append(el("div", { className: "stats-band-title", textContent: `band ${band.band}` }));
    if (!band.count) {
      section.append(el("div", { className: "small", textContent: "no valid pixel inside (all nodata or masked)" }));
    } else {
      if (band.value_counts) section.append(valueCountBars(band, legend.colorOf, legend.nameOf));
      section.append(bandTable(band));
      if (band.histogram) section.append(histogramSvg(band.histogram));
    }
    box.append(section);
  }
}

/** Shows an error answer (or a thrown error) in `box`. */
export function renderError(box, { code, message }, title) {
  box.replaceChildren();
  if (title) box.append(el("div", { className: "stats-title", textContent: title }));
  const err = el("div", { className: "error stats-error" });
  err.dataset.code = code;
  err.append(el("b", { textContent: code }), message ? `: ${message}` : "");
  box.append(err);
}
