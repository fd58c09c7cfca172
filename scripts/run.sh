#!/usr/bin/env bash
# The main job: generate the deterministic demo data, ingest it into the local store
# (./data/store), show what was published, then serve it: the store is copied into the local
# R2 of `wrangler dev` (./data/wrangler) and the Worker runs at http://127.0.0.1:8787/ with a
# minimal MapLibre page (www/index.html). TILEFN_RUN_ONCE=1 stops after the first healthy
# answer (a smoke test); TILEFN_PORT changes the port.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

cargo build --release --quiet -p tilefn-ingest -p tilefn-demodata
BIN=target/release
mkdir -p data/demo
[ -f data/demo/dem.tif ] || "$BIN/tilefn-demodata" all --out-dir data/demo

STORE="${TILEFN_STORE:-file://$PWD/data/store}"
"$BIN/tilefn-ingest" add data/demo/dem.tif --layer dem --name "Demo DEM (UTM 33N)" --store "$STORE"
"$BIN/tilefn-ingest" add data/demo/multispectral.tif --layer ms --name "Demo multispectral (EPSG:4326)" --store "$STORE"
"$BIN/tilefn-ingest" add data/demo/landcover.tif --layer landcover --name "Demo land cover" \
    --datatype categorical --store "$STORE"
"$BIN/tilefn-ingest" list --store "$STORE"
for id in dem ms landcover; do "$BIN/tilefn-ingest" validate "$id" --store "$STORE"; done

# --- Serve the store with the Worker (wrangler dev, local R2) ---
case "$STORE" in
    file://*) STORE_DIR="${STORE#file://}" ;;
    *) echo "run: TILEFN_STORE is not a file:// store; only local stores are served here" >&2; exit 0 ;;
esac
bash scripts/install-tools.sh
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CI=true WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false
export WRANGLER_LOG_PATH="$PWD/data/wrangler-logs"
PERSIST="$PWD/data/wrangler"
# Miniflare's API writes R2 in wrangler's on-disk layout in milliseconds per object, where
# `wrangler r2 object put --local` would cost ~1.2 s each.
node scripts/seed-r2.mjs "$STORE_DIR" "$PERSIST"

# The browser renderer (www/pkg) for the map's "Browser" mode.
bash scripts/build-web.sh

PORT="${TILEFN_PORT:-8787}"
URL="http://127.0.0.1:$PORT/"
# wrangler dev runs the [build] command (scripts/build-worker.sh) itself.
wrangler dev --ip 127.0.0.1 --port "$PORT" --persist-to "$PERSIST" \
    --show-interactive-dev-session=false < /dev/null &
DEV=$!
trap 'kill "$DEV" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 1200); do
    curl -sf "${URL}health" >/dev/null 2>&1 && break
    kill -0 "$DEV" 2>/dev/null || { echo "run: wrangler dev exited" >&2; exit 1; }
    sleep 0.25
done
curl -sf "${URL}health" >/dev/null || { echo "run: the Worker did not become healthy" >&2; exit 1; }
echo
echo "tilefn is serving ./data/store at $URL (layers: ${URL}layers). Ctrl-C stops it."
[[ "${TILEFN_RUN_ONCE:-0}" == "1" ]] && exit 0
wait "$DEV"
