// Page state ⇄ URL hash, so a view can be shared by its address. The hash is one
// URLSearchParams string; unknown or malformed entries fall back to defaults (a hand-edited
// hash must never break the page).

export function defaultState() {
  return {
    mode: "edge", // "edge" | "browser"
    layer: "", // the active layer: styled by the controls, identified on click
    visible: {}, // layer id -> bool
    opacity: {}, // layer id -> 0..1
    formula: "",
    bindings: "a=dem",
    rgb: { r: "ms:2", g: "ms:1", b: "ms:0", scale: "", alpha: false },
    algebra: null, // the applied algebra: {kind: "formula", formula, bindings} | {kind: "rgb", ...}
    style: {
      colormapName: "",
      reverse: false,
      continuous: { on: false, from: "#0000ff", over: "#ffffff", to: "#ff0000", useOver: true },
      legend: "",
      rescaleLo: "",
      rescaleHi: "",
      enhance: { color: 1, contrast: 1, brightness: 1, sharpness: 1 },
    },
    view: null, // {lng, lat, zoom, bearing, pitch}
    terrain: null, // the terrain view (lib/terrain.js): {layer, exaggeration}
    polygon: null, // the statistics polygon: a GeoJSON Polygon or MultiPolygon (EPSG:4326)
  };
}

export function stateToHash(s) {
  const p = new URLSearchParams();
  p.set("mode", s.mode);
  if (s.layer) p.set("layer", s.layer);
  const vis = Object.entries(s.visible).filter(([, v]) => v).map(([k]) => k);
  p.set("visible", vis.join(","));
  const op = Object.entries(s.opacity).filter(([, v]) => v !== 1).map(([k, v]) => `${k}:${v}`);
  if (op.length) p.set("opacity", op.join(","));
  if (s.formula) p.set("formula", s.formula);
  p.set("bindings", s.bindings);
  p.set("rgb", JSON.stringify(s.rgb));
  if (s.algebra) p.set("algebra", JSON.stringify(s.algebra));
  p.set("style", JSON.stringify(s.style));
  if (s.view) {
    const { lng, lat, zoom, bearing = 0, pitch = 0 } = s.view;
    // Bearing and pitch only when the camera is turned or tilted (the terrain view).
    const turned = bearing || pitch ? `/${bearing.toFixed(1)}/${pitch.toFixed(1)}` : "";
    p.set("view", `${zoom.toFixed(2)}/${lat.toFixed(5)}/${lng.toFixed(5)}${turned}`);
  }
  if (s.terrain) p.set("terrain", `${s.terrain.layer}:${s.terrain.exaggeration}`);
  const poly = polygonToText(s.polygon);
  if (poly) p.set("poly", poly);
  return `#${p.toString()}`;
}

export function stateFromHash(hash) {
  const s = defaultState();
  const p = new URLSearchParams(String(hash).replace(/^#/, ""));
  if (p.get("mode") === "browser") s.mode = "browser";
  if (p.has("layer")) s.layer = p.get("layer");
  if (p.has("visible")) {
    for (const id of p.get("visible").split(",").filter(Boolean)) s.visible[id] = true;
  }
  for (const pair of (p.get("opacity") || "").split(",").filter(Boolean)) {
    const [id, v] = pair.split(":");
    const n = Number(v);
    if (id && Number.isFinite(n)) s.opacity[id] = Math.min(1, Math.max(0, n));
  }
  if (p.has("formula")) s.formula = p.get("formula");
  if (p.has("bindings")) s.bindings = p.get("bindings");
  s.rgb = { ...s.rgb, ...json(p.get("rgb")) };
  const alg = json(p.get("algebra"));
  if (alg && (alg.kind === "formula" || alg.kind === "rgb")) s.algebra = alg;
  const style = json(p.get("style"));
  if (style) {
    s.style = {
      ...s.style,
      ...style,
      continuous: { ...s.style.continuous, ...style.continuous },
      enhance: { ...s.style.enhance, ...style.enhance },
    };
  }
  const view = (p.get("view") || "").split("/").map(Number);
  if ((view.length === 3 || view.length === 5) && view.every(Number.isFinite)) {
    s.view = { zoom: view[0], lat: view[1], lng: view[2], bearing: view[3] ?? 0, pitch: view[4] ?? 0 };
  }
  s.terrain = terrainFromText(p.get("terrain"));
  s.polygon = polygonFromText(p.get("poly"));
  return s;
}

/** `dem:1.5` → `{layer: "dem", exaggeration: 1.5}`; null when absent or malformed. */
function terrainFromText(text) {
  const [layer, exag] = String(text || "").split(":");
  const exaggeration = Number(exag || 1);
  if (!layer || !Number.isFinite(exaggeration) || exaggeration <= 0) return null;
  return { layer, exaggeration: Math.min(exaggeration, 10) };
}

/** Polygons with more vertices than this stay out of the hash (a dropped file's parcels). */
export const MAX_HASH_VERTICES = 500;

const rings = (g) => (g.type === "Polygon" ? g.coordinates : g.coordinates.flat());

/** `{"type":"Polygon","coordinates":...}` with 6 decimals (~10 cm), or "" when too large. */
function polygonToText(g) {
  if (!g) return "";
  const n = rings(g).reduce((sum, r) => sum + r.length, 0);
  if (n > MAX_HASH_VERTICES) return "";
  const round = (c) => (Array.isArray(c[0]) ? c.map(round) : c.map((v) => +v.toFixed(6)));
  return JSON.stringify({ type: g.type, coordinates: round(g.coordinates) });
}

function polygonFromText(text) {
  const g = json(text);
  if (!g || !["Polygon", "MultiPolygon"].includes(g.type) || !Array.isArray(g.coordinates)) return null;
  const ring = (r) => Array.isArray(r) && r.length >= 4 && r.every((c) => Array.isArray(c) && c.length >= 2 && c.every(Number.isFinite));
  const polygon = (p) => Array.isArray(p) && p.length >= 1 && p.every(ring);
  const ok = g.type === "Polygon" ? polygon(g.coordinates) : g.coordinates.length >= 1 && g.coordinates.every(polygon);
  return ok ? g : null;
}

function json(text) {
  if (!text) return null;
  try {
    const v = JSON.parse(text);
    return v && typeof v === "object" ? v : null;
  } catch {
    return null;
  }
}
