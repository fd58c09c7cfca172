#!/usr/bin/env bash
# The web page's end-to-end tests: Debian's chromium, driven by playwright-core, against
# `wrangler dev` serving www/ and the demo layers (like scripts/run.sh, but with its own store,
# its own local R2 under tests/.work/www and its own port, so it can run beside run.sh).
#
#   bash scripts/test-www.sh            # TILEFN_WWW_PORT (default 8788) changes the port
#
# Browser-mode checks need the wasm package www/pkg/tilefn_web.js (scripts/build-web.sh);
# without it they are reported as skipped, the rest still runs. Screenshots go to
# docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never

bash scripts/install-tools.sh
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CI=true WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false

if [[ ! -x /usr/bin/chromium ]]; then
    echo "test-www: installing Debian's chromium" >&2
    apt-get install -y -qq chromium >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }
fi

echo "test-www: building the Worker (and the browser wasm when its script exists)" >&2
bash scripts/build-worker.sh
if [[ -f scripts/build-web.sh ]]; then
    bash scripts/build-web.sh
else
    echo "test-www: scripts/build-web.sh not found: Browser-mode checks will be skipped" >&2
fi

echo "test-www: demo data, a fresh store and a fresh local R2" >&2
cargo build --release --quiet -p tilefn-ingest -p tilefn-demodata
WORK="$ROOT/tests/.work/www"
DEMO="$WORK/demo"
STORE="$WORK/store"
PERSIST="$WORK/wrangler"
mkdir -p "$DEMO"
# Demo data is deterministic (fixed seed), so an existing copy is reused.
[[ -f "$DEMO/landcover.tif" ]] || target/release/tilefn-demodata all --out-dir "$DEMO"
rm -rf "$STORE" "$PERSIST"
mkdir -p "$STORE"
target/release/tilefn-ingest add "$DEMO/dem.tif" --layer dem --name "Demo DEM (UTM 33N)" \
    --store "file://$STORE" >/dev/null
target/release/tilefn-ingest add "$DEMO/multispectral.tif" --layer ms \
    --name "Demo multispectral (EPSG:4326)" --store "file://$STORE" >/dev/null
target/release/tilefn-ingest add "$DEMO/landcover.tif" --layer landcover --name "Demo land cover" \
    --datatype categorical --store "file://$STORE" >/dev/null
node scripts/seed-r2.mjs "$STORE" "$PERSIST"

PORT="${TILEFN_WWW_PORT:-8788}"
URL="http://127.0.0.1:$PORT"
export WRANGLER_LOG_PATH="$WORK/wrangler-logs"
# wrangler.toml without its [build] table (the Worker was just built): otherwise `wrangler
# dev` rebuilds on start and again whenever anything under crates/ changes, and stalls every
# request meanwhile. Paths are relative to the config, which lives in build/.
awk '/^\[build\]/ { skip = 1; next } /^\[/ { skip = 0 } !skip' wrangler.toml \
    | sed -e 's|^main = "build/index.js"|main = "index.js"|' -e 's|^directory = "www"|directory = "../www"|' \
    > build/www-test.toml
grep -q '^main = "index.js"' build/www-test.toml && grep -q '^directory = "../www"' build/www-test.toml \
    || { echo "test-www: could not derive build/www-test.toml from wrangler.toml" >&2; exit 1; }
# Its own process group, so stopping it also stops the workerd it spawned.
setsid wrangler dev --config build/www-test.toml --ip 127.0.0.1 --port "$PORT" --persist-to "$PERSIST" \
    --show-interactive-dev-session=false < /dev/null > "$WORK/wrangler-dev.log" 2>&1 &
DEV=$!
trap 'kill -- -"$DEV" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 1200); do
    curl -sf "$URL/health" >/dev/null 2>&1 && break
    kill -0 "$DEV" 2>/dev/null || { cat "$WORK/wrangler-dev.log" >&2; echo "test-www: wrangler dev exited" >&2; exit 1; }
    sleep 0.25
done
curl -sf "$URL/health" >/dev/null || { cat "$WORK/wrangler-dev.log" >&2; echo "test-www: the Worker did not become healthy" >&2; exit 1; }

echo "test-www: node --test tests/www/ against $URL" >&2
TILEFN_WWW_URL="$URL" node --test --test-concurrency=1 tests/www/*.test.mjs
