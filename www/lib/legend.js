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
    const [lo, hi] = Array.isArray(spec.range) ? spec.range : range;
    return bar(rampStops(spec.from, spec.over, spec.to), lo, hi);
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
    el.append(title, bar(rampStops(c.from, c.useOver ? c.over : undefined, c.to), ...range));
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

// --- the colour of one value, for the statistics panel's value-count bars ---

const num = (v) => v !== "" && v !== null && v !== undefined && Number.isFinite(Number(v));

/**
 * One channel of django-raster's continuous ramp, as crates/render/src/continuous.rs
 * computes it: constant when `from == to` (even with an `over`), else one or two linear
 * segments.
 */
function channel(norm, from, to, over) {
  if (from === to) return from;
  if (over === undefined) {
    const data = to < from ? 1 - norm : norm;
    return data * Math.abs(to - from) + Math.min(to, from);
  }
  return norm < 0.5 ? channel(norm * 2, from, over) : channel((norm - 0.5) * 2, over, to);
}

/** The colour of value `v` on a continuous ramp from → [over →] to over lo..hi. */
function ramp(from, over, to, lo, hi) {
  const [a, b, c] = [from, over, to].map((x) => (x === undefined ? undefined : Array.isArray(x) ? x : hexToRgb(x)));
  return (v) => {
    const norm = Math.min(1, Math.max(0, (v - lo) / (hi - lo || 1)));
    return css([0, 1, 2].map((i) => Math.trunc(channel(norm, a[i], c[i], b?.[i]))));
  };
}

/**
 * Gradient stops of a continuous ramp as the renderer paints it (a channel equal at both
 * ends ignores `over`, so blue over white to red passes through magenta, not white).
 */
function rampStops(from, over, to) {
  const at = ramp(from, over, to, 0, 1);
  return [0, 0.1, 0.2, 0.3, 0.4, 0.4999, 0.5, 0.6, 0.7, 0.8, 0.9, 1].map(at);
}

/** The grey stretch of crates/render: `floor((v - lo) / (hi - lo) * 256)`, clamped. */
function grey(lo, hi) {
  return (v) => {
    const g = Math.min(255, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * 256))) || 0;
    return `rgb(${g},${g},${g})`;
  };
}

/** `{colorOf, nameOf}` of a legend / colormap JSON with numeric keys, or null. */
function lookupFromSpec(spec, range) {
  if (!spec || typeof spec !== "object") return null;
  if ("continuous" in spec && !Array.isArray(spec.entries)) {
    const [lo, hi] = Array.isArray(spec.range) ? spec.range : range;
    if (!num(lo) || !num(hi)) return null;
    return { colorOf: ramp(spec.from, spec.over, spec.to, Number(lo), Number(hi)), nameOf: () => undefined };
  }
  const entries = Array.isArray(spec) ? spec : Array.isArray(spec.entries) ? spec.entries
    : Object.keys(spec).filter((k) => !["title", "description"].includes(k)).map((k) => ({ expression: k, color: spec[k] }));
  // Later keys overwrite earlier ones, as in crates/render; keys that are formulas are not
  // evaluated here (their values get the fallback colour).
  const byValue = new Map();
  for (const e of entries) {
    const key = e.expression ?? e.key;
    if (num(key)) byValue.set(Number(key), e);
  }
  if (!byValue.size) return null;
  return {
    colorOf: (v) => (byValue.has(v) ? css(byValue.get(v).color) : "#bbb"),
    nameOf: (v) => byValue.get(v)?.name,
  };
}

/**
 * How the tiles of layer `info` colour each value under `style`: `{colorOf(v), nameOf(v),
 * note}`, following renderLegend's order (continuous colormap, stored legend, named colormap,
 * the layer's legend, the grey stretch). Named colormaps' tables live in the Rust renderer
 * only: their bars are a neutral colour, and `note` says so.
 */
export async function legendLookup(info, style, mode) {
  const range =
    style.rescaleLo !== "" && style.rescaleHi !== "" ? [style.rescaleLo, style.rescaleHi] : defaultRange(info);
  const [lo, hi] = range.map(Number);
  const fallback = num(range[0]) && num(range[1])
    ? { colorOf: grey(lo, hi), nameOf: () => undefined }
    : { colorOf: () => "#888", nameOf: () => undefined };
  if (style.continuous?.on) {
    const c = style.continuous;
    return { colorOf: ramp(c.from, c.useOver ? c.over : undefined, c.to, lo, hi), nameOf: () => undefined };
  }
  if (style.legend) {
    const r = await serviceFetch(mode, `/legends/${encodeURIComponent(style.legend)}`);
    if (r.status === 200) {
      try {
        const found = lookupFromSpec(JSON.parse(new TextDecoder().decode(r.body)), range);
        if (found) return found;
      } catch {
        // an unreadable legend: the tiles say so themselves; bars fall back to grey
      }
    }
    return fallback;
  }
  if (style.colormapName) {
    return { colorOf: () => "#8a8f98", nameOf: () => undefined,
      note: `bar colours: colormap ${style.colormapName} is drawn by the renderer only` };
  }
  return lookupFromSpec(info?.legend, range) || fallback;
}
