// The export buttons: the drawn polygon POSTed to /export/{layer}.tif, or the GET of the
// view's box, downloaded as a file; failures go to the statistics panel (docs/statistics.md).

import { serviceFetch } from "./browser.js";
import { errorOf, exportPath } from "./stats.js";

/** Saves `bytes` as a file called `name` (the browser's download). */
function download(bytes, name, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/**
 * The export actions over the page: `state` (mode, layer, polygon), the MapLibre `map`, `$`
 * (getElementById), `layers()` (the /layers summaries) and `fail(error, title)`, which shows
 * an error in the statistics panel.
 */
export function makeExporter({ state, map, $, layers, fail }) {
  function withZoom(path) {
    const zoom = $("stats-zoom").value.trim();
    if (!zoom) return path;
    return `${path}${path.includes("?") ? "&" : "?"}zoom=${encodeURIComponent(zoom)}`;
  }

  /** Runs an export request and downloads its GeoTIFF, or shows its error in the panel. */
  async function runExport(path, init, name) {
    const title = `export ${name}`;
    try {
      const r = await serviceFetch(state.mode, path, init);
      if (r.status !== 200) {
        fail(errorOf(r.status, r.body), title);
        return;
      }
      download(r.body, name, r.contentType || "image/tiff");
      $("stats-hint").textContent = `downloaded ${name} (${r.body.length.toLocaleString("en-US")} bytes)`;
    } catch (err) {
      fail({ code: "request failed", message: String(err?.message || err) }, title);
    }
  }

  function exportPolygon() {
    if (!state.polygon) {
      fail({ code: "no polygon", message: "draw a polygon (or pick a feature of a dropped file) first" });
      return;
    }
    runExport(withZoom(exportPath(state.layer)), { method: "POST", body: JSON.stringify(state.polygon) },
      `${state.layer}.tif`);
  }

  /** The view's box within the active layer's bounds (the GET export of what is on screen). */
  function viewBbox() {
    const b = map.getBounds();
    let box = [b.getWest(), Math.max(b.getSouth(), -85.05), b.getEast(), Math.min(b.getNorth(), 85.05)];
    const l = layers().find((x) => x.id === state.layer);
    if (l?.bounds) {
      const [w, s, e, n] = l.bounds;
      const cut = [Math.max(box[0], w), Math.max(box[1], s), Math.min(box[2], e), Math.min(box[3], n)];
      if (cut[0] < cut[2] && cut[1] < cut[3]) box = cut;
    }
    return box;
  }

  function updateExportLink() {
    if (!state.layer) return;
    $("export-view").href = withZoom(exportPath(state.layer, viewBbox()));
  }

  return { runExport, exportPolygon, updateExportLink };
}
