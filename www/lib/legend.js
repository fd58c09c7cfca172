// The legend panel of a layer, from the spec that renders its tiles: the style controls'
// continuous colormap, a stored legend (its /legends/{name}.png swatch, rendered by the same
// Rust code as the tiles), the layer's own legend from /layers/{id}, or the grey stretch.

import { hexToRgb } from "./urls.js";
import { serviceFetch } from "./browser.js";

const css = (c) => {
  if (Array.isArray(c)) {
    const [r, g, b, a = 255] = c;
    return `rgba(${r},${g},${b},${a / 255})`;
  }
  return typeof c === "string" ? c : "transparent";
};

function bar(colors, lo, hi) {
  const wrap = document.createElement("div");
  const g = document.createElement("div");
  g.className = "legend-bar";
  g.style.background = `linear-gradient(to right, ${colors.map(css).join(", ")})`;
  const labels = document.createElement("div");
  labels.className = "legend-labels";
  const a = document.createElement("span");
  const b = document.createElement("span");
  a.textContent = fmt(lo);
  b.textContent = fmt(hi);
  labels.append(a, b);
  wrap.append(g, labels);
  return wrap;
}

const fmt = (v) => (Number.isFinite(Number(v)) && v !== "" ? String(+Number(v).toPrecision(6)) : "");

function entriesList(entries) {
  const ul = document.createElement("ul");
  ul.className = "legend-entries";
  for (const { key, color, name } of entries) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = css(color);
    li.append(sw, ` ${name || key}`);
    ul.append(li);
  }
  return ul;
}

/** A stored legend / colormap JSON as DOM, or null when its shape is not recognised. */
function fromSpec(spec, range) {
  if (!spec || typeof spec !== "object") return null;
  if (Array.isArray(spec.entries)) {
    return entriesList(
      spec.entries.map((e) => ({ key: e.expression ?? e.key ?? "", color: e.color, name: e.name })),
    );
  }
  if ("continuous" in spec) {
    const colors = [spec.from, spec.over, spec.to].filter((c) => c !== undefined);
    const [lo, hi] = Array.isArray(spec.range) ? spec.range : range;
    return bar(colors, lo, hi);
  }
  const keys = Object.keys(spec).filter((k) => !["title", "description"].includes(k));
  if (!keys.length) return null;
  return entriesList(keys.map((k) => ({ key: k, color: spec[k] })));
}

/** The stretch the tiles use when nothing else is given (crates/render's default style). */
function defaultRange(info) {
  const s = info?.bands?.[0]?.stats;
  if (!s) return ["", ""];
  return info.datatype === "continuous" ? [s.p2, s.p98] : [s.min, s.max];
}

/**
 * Fills `el` with the legend of layer `info` (the /layers/{id} document) under `style`;
 * `mode` picks who renders the /legends swatch (Worker or wasm).
 */
export async function renderLegend(el, info, style, mode) {
  el.replaceChildren();
  const range =
    style.rescaleLo !== "" && style.rescaleHi !== "" ? [style.rescaleLo, style.rescaleHi] : defaultRange(info);
  const title = document.createElement("div");
  title.className = "legend-title";
  if (style.continuous?.on) {
    const c = style.continuous;
    title.textContent = "continuous colormap";
    const colors = [c.from, ...(c.useOver ? [c.over] : []), c.to].map(hexToRgb);
    el.append(title, bar(colors, ...range));
    return;
  }
  if (style.legend) {
    title.textContent = `legend ${style.legend}`;
    el.append(title);
    const r = await serviceFetch(mode, `/legends/${encodeURIComponent(style.legend)}.png`);
    if (r.status !== 200) {
      const p = document.createElement("div");
      p.className = "error";
      p.textContent = `legend ${style.legend}: HTTP ${r.status}`;
      el.append(p);
      return;
    }
    const img = document.createElement("img");
    img.className = "legend-swatch";
    img.alt = `legend ${style.legend}`;
    img.src = URL.createObjectURL(new Blob([r.body], { type: "image/png" }));
    el.append(img);
    return;
  }
  if (style.colormapName) {
    const name = style.colormapName + (style.reverse ? "_r" : "");
    title.textContent = `colormap ${name}`;
    const labels = bar([], ...range);
    labels.querySelector(".legend-bar").remove();
    el.append(title, labels);
    return;
  }
  const own = fromSpec(info?.legend, range);
  if (own) {
    title.textContent = info.legend.title || "layer legend";
    el.append(title, own);
    return;
  }
  title.textContent = "grey stretch";
  el.append(title, bar(["#000", "#fff"], ...range));
}
