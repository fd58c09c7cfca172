#!/usr/bin/env bash
# Builds the Worker (build/index.js + build/index_bg.wasm) with worker-build, using the tools
# scripts/install-tools.sh installed. Also wrangler's `[build] command`.
#
# worker-build would otherwise download wasm-bindgen and wasm-opt from GitHub (unreachable
# here, ~30 s of retries, then failure) and does not look on PATH: the *_BIN variables point
# it at the installed CLI and at tools/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="$ROOT/tools/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$ROOT/tools/node_modules/.bin/esbuild"
for tool in "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
    [[ -x "$tool" ]] || { echo "build-worker: missing $tool: run scripts/install-tools.sh" >&2; exit 1; }
done
command -v worker-build >/dev/null || { echo "build-worker: missing worker-build: run scripts/install-tools.sh" >&2; exit 1; }
# `-p tilefn`: run from the workspace root, a bare `cargo build` would build every default
# member (ingest and the server pull libdeflate, which is native-only).
STAMP=build/.inputs-stamp
WANT="$(bash scripts/inputs-stamp.sh wrangler.toml) $*"
if [[ -f build/index_bg.wasm && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "build-worker: build/ is up to date" >&2
else
    worker-build --release . -p tilefn "$@"
    echo "$WANT" > "$STAMP"
fi

# The demo page loads MapLibre GL from the same origin (no CDN: offline-friendly, no
# third-party requests); the npm package's prebuilt dist is copied, not committed.
mkdir -p www/vendor
for f in maplibre-gl.js maplibre-gl.css; do
    cmp -s "tools/node_modules/maplibre-gl/dist/$f" "www/vendor/$f" 2>/dev/null \
        || cp "tools/node_modules/maplibre-gl/dist/$f" "www/vendor/$f"
done
