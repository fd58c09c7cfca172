// A small polygon draw mode on MapLibre GeoJSON sources and layers: click the vertices,
// double-click (or click the first vertex again) to close, Escape to cancel. Also shows the
// selected polygon and the features of a dropped GeoJSON file.

const DRAW = "stats-draw"; // the polygon being drawn or the selected one
const FILE = "stats-file"; // a dropped GeoJSON file's polygons
const CLOSE_PX = 10; // clicking this close to the first vertex closes the ring

const empty = () => ({ type: "FeatureCollection", features: [] });

/** Adds the sources and layers; call once the style is loaded. */
export function addDrawLayers(map) {
  map.addSource(FILE, { type: "geojson", data: empty() });
  map.addLayer({ id: `${FILE}-fill`, type: "fill", source: FILE,
    paint: { "fill-color": "#7a3cff", "fill-opacity": 0.12 } });
  map.addLayer({ id: `${FILE}-line`, type: "line", source: FILE,
    paint: { "line-color": "#7a3cff", "line-width": 1.5 } });
  map.addSource(DRAW, { type: "geojson", data: empty() });
  map.addLayer({ id: `${DRAW}-fill`, type: "fill", source: DRAW, filter: ["==", ["geometry-type"], "Polygon"],
    paint: { "fill-color": "#ff6a00", "fill-opacity": 0.15 } });
  map.addLayer({ id: `${DRAW}-line`, type: "line", source: DRAW,
    paint: { "line-color": "#ff6a00", "line-width": 2 } });
  map.addLayer({ id: `${DRAW}-vertex`, type: "circle", source: DRAW, filter: ["==", ["geometry-type"], "Point"],
    paint: { "circle-radius": 4, "circle-color": "#fff", "circle-stroke-color": "#ff6a00", "circle-stroke-width": 2 } });
}

/** Keeps the draw and file layers above raster layers added later. */
export function raiseDrawLayers(map) {
  for (const id of [`${FILE}-fill`, `${FILE}-line`, `${DRAW}-fill`, `${DRAW}-line`, `${DRAW}-vertex`]) {
    if (map.getLayer(id)) map.moveLayer(id);
  }
}

/** Shows `geometry` (a Polygon or MultiPolygon, or null) as the selected polygon. */
export function showPolygon(map, geometry) {
  const data = empty();
  if (geometry) data.features.push({ type: "Feature", properties: {}, geometry });
  map.getSource(DRAW)?.setData(data);
}

/** Shows a dropped file's polygons; each feature gets `_i`, its index in `features`. */
export function showFile(map, features) {
  map.getSource(FILE)?.setData({
    type: "FeatureCollection",
    features: features.map((f, i) => ({ ...f, properties: { ...(f.properties || {}), _i: i } })),
  });
}

/** The index of the dropped file's feature under `point`, or -1. */
export function fileFeatureAt(map, point) {
  if (!map.getLayer(`${FILE}-fill`)) return -1;
  const hit = map.queryRenderedFeatures(point, { layers: [`${FILE}-fill`] })[0];
  return hit ? Number(hit.properties._i) : -1;
}

/**
 * Starts drawing. `onDone(geometry)` gets the closed Polygon, `onCancel()` is called on
 * Escape or `stop()`. Returns `{stop}`. Map clicks add vertices meanwhile: the page's own
 * click handlers should stay quiet until one of the callbacks ran.
 */
export function startDrawing(map, { onDone, onCancel }) {
  const vertices = []; // [lng, lat]
  let cursor = null;
  const canvas = map.getCanvasContainer();
  const zoomOnDblClick = map.doubleClickZoom.isEnabled();
  map.doubleClickZoom.disable();
  canvas.style.cursor = "crosshair";

  function render() {
    const features = vertices.map((v) => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: v } }));
    const line = cursor ? [...vertices, cursor] : vertices;
    if (line.length >= 2) {
      features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: line } });
    }
    map.getSource(DRAW).setData({ type: "FeatureCollection", features });
  }

  // Two clicks of a double-click land on (nearly) the same pixel: drop the repeats.
  function distinct(vs) {
    const out = [];
    for (const v of vs) {
      const last = out[out.length - 1];
      if (last) {
        const a = map.project(last);
        const b = map.project(v);
        if (Math.hypot(a.x - b.x, a.y - b.y) < 3) continue;
      }
      out.push(v);
    }
    return out;
  }

  function finish() {
    const ring = distinct(vertices);
    if (ring.length < 3) return false;
    stop(false);
    onDone({ type: "Polygon", coordinates: [[...ring, ring[0]]] });
    return true;
  }

  function onClick(e) {
    if (vertices.length >= 3) {
      const first = map.project(vertices[0]);
      if (Math.hypot(first.x - e.point.x, first.y - e.point.y) <= CLOSE_PX) {
        finish();
        return;
      }
    }
    vertices.push([e.lngLat.lng, e.lngLat.lat]);
    render();
  }

  function onDblClick(e) {
    e.preventDefault();
    finish();
  }

  function onMove(e) {
    cursor = [e.lngLat.lng, e.lngLat.lat];
    if (vertices.length) render();
  }

  function onKey(e) {
    if (e.key === "Escape") stop(true);
  }

  let active = true;
  function stop(cancelled = true) {
    if (!active) return;
    active = false;
    map.off("click", onClick);
    map.off("dblclick", onDblClick);
    map.off("mousemove", onMove);
    window.removeEventListener("keydown", onKey);
    canvas.style.cursor = "";
    // Re-enabled after the double-click's own zoom handler has seen the event.
    if (zoomOnDblClick) setTimeout(() => map.doubleClickZoom.enable(), 0);
    if (cancelled) {
      showPolygon(map, null);
      onCancel?.();
    }
  }

  map.on("click", onClick);
  map.on("dblclick", onDblClick);
  map.on("mousemove", onMove);
  window.addEventListener("keydown", onKey);
  showPolygon(map, null);
  return { stop };
}

/**
 * The polygons of a parsed GeoJSON document as features: a Geometry, Feature or
 * FeatureCollection; other geometry types are left out.
 */
export function polygonFeatures(doc) {
  const list =
    doc?.type === "FeatureCollection" ? doc.features || []
      : doc?.type === "Feature" ? [doc]
        : doc?.type ? [{ type: "Feature", properties: {}, geometry: doc }] : [];
  return list.filter((f) => f?.geometry && ["Polygon", "MultiPolygon"].includes(f.geometry.type));
}

/** [west, south, east, north] of a Polygon or MultiPolygon. */
export function geometryBounds(geometry) {
  const rings = geometry.type === "Polygon" ? geometry.coordinates : geometry.coordinates.flat();
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  for (const ring of rings) {
    for (const [x, y] of ring) {
      w = Math.min(w, x); e = Math.max(e, x);
      s = Math.min(s, y); n = Math.max(n, y);
    }
  }
  return [w, s, e, n];
}
