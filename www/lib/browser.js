// Browser mode: the wasm build of the same Rust crates (www/pkg, built by scripts/build-web.sh)
// renders tiles in the page. It is imported lazily, so the page keeps working in Edge mode
// when the package is missing.
//
// MapLibre gets the tiles through a custom protocol: a source URL `tilefn:///tiles/...` is
// handed to `BrowserTiler.fetch("/tiles/...")`, the same path the Worker would serve.

export const stats = {
  renderMs: [], // per tile rendered in the browser (BrowserTiler's own timing)
  tiles: 0,
  errors: [],
  median() {
    const a = [...this.renderMs].sort((x, y) => x - y);
    if (!a.length) return null;
    const m = a.length >> 1;
    return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
  },
};

let loading = null;

/** Resolves to `{tiler, checkFormula}`, or rejects when the package is not there. */
export function loadWasm() {
  if (!loading) {
    loading = (async () => {
      const mod = await import("/pkg/tilefn_web.js");
      await mod.default();
      return { tiler: new mod.BrowserTiler(location.origin), checkFormula: mod.checkFormula, mod };
    })();
    loading.catch(() => {}); // callers handle it; no unhandled-rejection noise
  }
  return loading;
}

export const PROTOCOL = "tilefn";

/** Registers `tilefn://` with MapLibre; `onRender(ms)` gets every tile's render time. */
export function registerProtocol(maplibregl, tiler, onRender) {
  maplibregl.addProtocol(PROTOCOL, async (params) => {
    const path = params.url.slice(`${PROTOCOL}://`.length);
    const r = await tiler.fetch(path);
    if (r.status === 204) return { data: new ArrayBuffer(0) }; // MapLibre draws it transparent
    if (r.status !== 200) {
      const text = new TextDecoder().decode(r.body);
      throw new Error(`${path}: ${r.status} ${text}`);
    }
    stats.tiles += 1;
    if (Number.isFinite(r.renderMs)) {
      stats.renderMs.push(r.renderMs);
      onRender?.(r.renderMs);
    }
    const body = r.body;
    return { data: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) };
  });
}

/**
 * A service request in either mode: `{status, contentType, body: Uint8Array}`. `init` may
 * give `method` and `body` (a string or bytes) for POST routes (`/statistics`, `/export`).
 */
export async function serviceFetch(mode, path, init = {}) {
  const method = init.method || "GET";
  const body = typeof init.body === "string" ? new TextEncoder().encode(init.body) : init.body;
  if (mode === "browser") {
    const { tiler } = await loadWasm();
    const r = body === undefined ? await tiler.fetch(path) : await tiler.fetch(path, method, body);
    return { status: r.status, contentType: r.contentType, body: r.body };
  }
  const res = await fetch(path, body === undefined ? { method }
    : { method, body, headers: { "content-type": "application/geo+json" } });
  return {
    status: res.status,
    contentType: res.headers.get("content-type") || "",
    body: new Uint8Array(await res.arrayBuffer()),
  };
}
