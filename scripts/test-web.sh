#!/usr/bin/env bash
# The browser renderer's end-to-end tests: builds the Worker (scripts/build-worker.sh) and the
# browser package (scripts/build-web.sh), ingests the demo data into a fresh store, then runs
# tests/web/*.test.mjs: the Worker in Miniflare on a real 127.0.0.1 port, www/pkg loaded in
# Node reading /objects/{key} from it, tiles compared pixel for pixel.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CI=true WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false

bash scripts/install-tools.sh
echo "test-web: building the Worker and the browser package" >&2
bash scripts/build-worker.sh
bash scripts/build-web.sh

# A test-only build with `conformanceCheck` (the shared RangeRead suite), kept out of www/pkg.
cargo build -p tilefn-web --release --target wasm32-unknown-unknown --features conformance
wasm-bindgen --target web --out-dir tests/.work/web/pkg-conformance \
    target/wasm32-unknown-unknown/release/tilefn_web.wasm

echo "test-web: demo data and a fresh store" >&2
WORK="$ROOT/tests/.work/web"
STORE="$WORK/store"
bash scripts/test-store.sh "$WORK"

echo "test-web: node --test tests/web/" >&2
TILEFN_TEST_STORE="$STORE" node --test --test-concurrency=1 tests/web/*.test.mjs
