// The terrain view of a DEM layer: MapLibre 3D terrain from our raster-dem tiles
// (`/tiles/{layer}/{z}/{x}/{y}.png?encoding=terrarium`, docs/terrain.md) with a pitched
// camera, and a hillshade (`?algorithm=hillshade`) under the layer's colour relief, which is
// shown translucent. The state is `state.terrain = {layer, exaggeration}` (the `terrain=`
// entry of the URL hash); app.js calls `sync()` whenever it re-syncs the map.

import { serviceFetch } from "./browser.js";

/** Opacity of the colour relief over the hillshade. */
export const RELIEF_OPACITY = 0.6;
/** The camera pitch the view starts with (MapLibre's default limit is 60). */
const PITCH = 55;
const DEM_SOURCE = "terrain-dem";
const HILLSHADE = "terrain-hillshade";
/** MapLibre fetches the DEM tiles through this protocol (see `registerDemProtocol`). */
export const DEM_PROTOCOL = "tilefn-dem";

/** The tile templates of the terrain view of `layerId` (MapLibre placeholders kept). */
export function terrainPaths(layerId) {
  const base = `/tiles/${encodeURIComponent(layerId)}/{z}/{x}/{y}.png`;
  return { dem: `${base}?encoding=terrarium`, hillshade: `${base}?algorithm=hillshade` };
}

let flatTile = null;
/** A 256x256 Terrarium tile of 0 m: opaque (128, 0, 0), so no premultiplication touches it. */
async function seaLevelTile() {
  flatTile ??= (async () => {
    const canvas = new OffscreenCanvas(256, 256);
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "rgb(128, 0, 0)";
    ctx.fillRect(0, 0, 256, 256);
    return (await canvas.convertToBlob({ type: "image/png" })).arrayBuffer();
  })();
  return (await flatTile).slice(0);
}

/**
 * Serves the DEM source's tiles in either mode (`mode()`: "edge" over HTTP, "browser" through
 * the wasm tiler). A 204 (no data in the tile) becomes a flat 0 m tile: maplibre-gl 5.x turns
 * an empty answer into a 1x1 DEM, and its neighbours then fail with "dem dimension mismatch"
 * when they backfill their borders; 0 m is also what MapLibre assumes where it has no DEM.
 */
export function registerDemProtocol(maplibregl, mode) {
  maplibregl.addProtocol(DEM_PROTOCOL, async (params) => {
    const path = params.url.slice(`${DEM_PROTOCOL}://`.length);
    const r = await serviceFetch(mode(), path);
    if (r.status === 204) return { data: await seaLevelTile() };
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status} ${new TextDecoder().decode(r.body)}`);
    return { data: r.body.buffer.slice(r.body.byteOffset, r.body.byteOffset + r.body.byteLength) };
  });
}

/**
 * The terrain controls and map layers. `state` is the page state, `map` the MapLibre map,
 * `$` getElementById, `layers()` the /layers summaries, `tileUrl(path)` the mode's URL of a
 * tile path, `onChange()` re-renders the panel and the map after the state changed.
 */
export function makeTerrain({ state, map, $, layers, tileUrl, onChange }) {
  /** Fills the layer choice with the single-band layers (the ones that can be a DEM). */
  function fillLayers() {
    const select = $("terrain-layer");
    select.replaceChildren();
    for (const l of layers().filter((x) => x.band_count === 1 && x.datatype !== "categorical")) {
      select.append(new Option(`${l.name || l.id} (${l.id})`, l.id));
    }
    if (state.terrain) {
      select.value = state.terrain.layer;
      $("terrain-tool").open = true;
    }
    $("terrain-on").checked = !!state.terrain;
    $("terrain-exaggeration").value = state.terrain?.exaggeration ?? 1.5;
  }

  /** Turns the view on for the chosen layer: relief active, visible, translucent, pitched. */
  function enable() {
    const id = $("terrain-layer").value;
    if (!id) return;
    state.terrain = { layer: id, exaggeration: Number($("terrain-exaggeration").value) || 1.5 };
    state.layer = id;
    state.visible[id] = true;
    state.opacity[id] = RELIEF_OPACITY;
    const s = state.style;
    // A grey stretch over a grey hillshade shows nothing: give the relief colours.
    if (!s.colormapName && !s.legend && !s.continuous.on) s.colormapName = "terrain";
    if (map.getPitch() < 20) map.setPitch(PITCH);
    onChange();
  }

  function disable() {
    state.terrain = null;
    map.setPitch(0);
    onChange();
  }

  $("terrain-on").addEventListener("change", () => ($("terrain-on").checked ? enable() : disable()));
  $("terrain-layer").addEventListener("change", () => state.terrain && enable());
  $("terrain-exaggeration").addEventListener("change", () => state.terrain && enable());

  function remove() {
    if (map.getTerrain()) map.setTerrain(null);
    if (map.getLayer(HILLSHADE)) map.removeLayer(HILLSHADE);
    for (const id of [HILLSHADE, DEM_SOURCE]) if (map.getSource(id)) map.removeSource(id);
  }

  /** Makes the map match `state.terrain` (after app.js has placed the layers' own sources). */
  function sync() {
    const l = state.terrain && layers().find((x) => x.id === state.terrain.layer);
    $("terrain-status").textContent = l ? `3D terrain of ${l.id} (×${state.terrain.exaggeration})` : "";
    if (!l) {
      remove();
      return;
    }
    const paths = terrainPaths(l.id);
    const extent = { bounds: l.bounds, minzoom: 0, maxzoom: l.max_zoom, tileSize: 256 };
    if (map.getSource(DEM_SOURCE)?.tiles?.[0] !== `${DEM_PROTOCOL}://${paths.dem}`) {
      remove();
      map.addSource(DEM_SOURCE, { type: "raster-dem", encoding: "terrarium", tiles: [`${DEM_PROTOCOL}://${paths.dem}`], ...extent });
    }
    const hillshade = tileUrl(paths.hillshade);
    const source = map.getSource(HILLSHADE);
    if (!source) map.addSource(HILLSHADE, { type: "raster", tiles: [hillshade], ...extent });
    else if (source.tiles?.[0] !== hillshade) source.setTiles([hillshade]);
    if (!map.getLayer(HILLSHADE)) {
      map.addLayer({ id: HILLSHADE, type: "raster", source: HILLSHADE, paint: { "raster-fade-duration": 0 } });
    }
    map.moveLayer(HILLSHADE, `layer-${l.id}`); // under the colour relief
    const t = map.getTerrain();
    if (t?.source !== DEM_SOURCE || t.exaggeration !== state.terrain.exaggeration) {
      map.setTerrain({ source: DEM_SOURCE, exaggeration: state.terrain.exaggeration });
    }
  }

  return { fillLayers, sync };
}
