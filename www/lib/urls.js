// URL building for the tile service: every map source, legend, identify and share URL comes
// from here, so Edge mode (HTTP to the Worker) and Browser mode (the same path handed to the
// wasm `BrowserTiler`) always ask for exactly the same thing.

/** Style parameters shared by /tiles and /algebra (see crates/tiler/README.md). */
export function styleParams(style) {
  const p = [];
  if (style.continuous?.on) {
    const c = style.continuous;
    const map = { continuous: true, from: hexToRgb(c.from), to: hexToRgb(c.to) };
    if (c.useOver) map.over = hexToRgb(c.over);
    p.push(["colormap", JSON.stringify(map)]);
  } else if (style.colormapName) {
    p.push(["colormap_name", style.colormapName + (style.reverse ? "_r" : "")]);
  }
  if (style.legend) p.push(["legend", style.legend]);
  if (isNum(style.rescaleLo) && isNum(style.rescaleHi)) {
    p.push(["rescale", `${style.rescaleLo},${style.rescaleHi}`]);
  }
  for (const k of ["color", "contrast", "brightness", "sharpness"]) {
    const v = Number(style.enhance?.[k] ?? 1);
    if (v !== 1) p.push([`enhance_${k}`, String(v)]);
  }
  return p;
}

const isNum = (v) => v !== "" && v !== undefined && v !== null && Number.isFinite(Number(v));

/** `#rrggbb` → [r, g, b]. */
export function hexToRgb(hex) {
  const n = parseInt(String(hex).replace("#", ""), 16) || 0;
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * A query string. URLSearchParams writes a space as `+` and `+` as `%2B`, which is exactly
 * how the service reads a query (`+` is a space), so formulas with `+` survive.
 */
export function query(pairs) {
  const s = new URLSearchParams(pairs).toString();
  return s ? `?${s}` : "";
}

/** `/tiles/{layer}/{z}/{x}/{y}.png?style` (MapLibre template placeholders kept). */
export function layerTilePath(layerId, style) {
  return `/tiles/${encodeURIComponent(layerId)}/{z}/{x}/{y}.png${query(styleParams(style))}`;
}

/**
 * The /algebra request for the applied algebra: `{kind: "formula", formula, bindings}` or
 * `{kind: "rgb", r, g, b, scale, alpha}` (channels as `layer[:band]`).
 */
export function algebraParams(algebra, style) {
  if (algebra.kind === "rgb") {
    const bind = (name, spec) => {
      const [layer, band] = String(spec).split(":");
      return band !== undefined && band !== "" ? `${name}:${band}=${layer}` : `${name}=${layer}`;
    };
    const p = [["layers", [bind("r", algebra.r), bind("g", algebra.g), bind("b", algebra.b)].join(",")]];
    if (algebra.scale) p.push(["scale", algebra.scale]);
    if (algebra.alpha) p.push(["alpha", "true"]);
    // Style maps do not apply to RGB; the enhancement does.
    return p.concat(styleParams({ enhance: style.enhance }));
  }
  return [["layers", algebra.bindings], ["formula", algebra.formula], ...styleParams(style)];
}

export function algebraTilePath(algebra, style) {
  return `/algebra/{z}/{x}/{y}.png${query(algebraParams(algebra, style))}`;
}

/** Fills a template's `{z}/{x}/{y}`. */
export function fillTemplate(template, z, x, y) {
  return template.replace("{z}", z).replace("{x}", x).replace("{y}", y);
}

/**
 * `/pixel/{lon}/{lat}?crs=4326&layers=..&formula=..` for what is identified: the applied
 * formula, else band 0 of the active layer.
 */
export function pixelPath(lngLat, target) {
  const p = [["crs", "4326"]];
  if (target.formula) p.push(["layers", target.bindings], ["formula", target.formula]);
  else p.push(["layers", `a=${target.layer}`]);
  return `/pixel/${lngLat.lng}/${lngLat.lat}${query(p)}`;
}

/** Ready-to-paste snippets of an absolute XYZ template for common clients. */
export function shareSnippets(absTemplate, minzoom = 0, maxzoom = 22) {
  const js = JSON.stringify(absTemplate);
  return {
    maplibre: `map.addSource("tilefn", { type: "raster", tiles: [${js}], tileSize: 256 });`,
    leaflet: `L.tileLayer(${js}, { tileSize: 256 }).addTo(map);`,
    openlayers: `new ol.layer.Tile({ source: new ol.source.XYZ({ url: ${js} }) })`,
    // The plain URL goes into "XYZ Tiles → New Connection"; PyQGIS takes a data-source URI.
    qgis: `${absTemplate}\n\nPyQGIS: QgsRasterLayer(${JSON.stringify(
      `type=xyz&url=${encodeURIComponent(absTemplate)}&zmin=${minzoom}&zmax=${maxzoom}`,
    )}, "tilefn", "wms")`,
    url: absTemplate,
  };
}
