#!/usr/bin/env bash
# The Worker's Rust tile path timed in V8 without workerd (see run.mjs): builds bench/wasm
# for wasm32 the way worker-build builds the Worker (release profile, simd128, wasm-bindgen,
# then wasm-opt -O3 with the same feature set), then answers a tile list in Node.
#
#   bash bench/wasm/run.sh [store-dir] [paths-file] [seconds]
#
# Defaults: bench/tiles.sh's 4096² store and its DEM tile list (run bench/tiles.sh once).
# OUT=DIR keeps the built module elsewhere, for A/Bs of two builds (run.mjs DIR ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
STORE=${1:-target/bench/tiles/store-4096}
PATHS=${2:-target/bench/tiles/dem/paths-tilefn.txt}
SECONDS_=${3:-5}
OUT=${OUT:-target/bench/wasm}
[[ -d "$STORE" && -f "$PATHS" ]] || { echo "bench/wasm: no $STORE or $PATHS (run bash bench/tiles.sh first)" >&2; exit 1; }
cargo build --quiet --release --target wasm32-unknown-unknown -p tilefn-wasm-bench
rm -rf "$OUT"
wasm-bindgen --target nodejs --out-dir "$OUT" target/wasm32-unknown-unknown/release/tilefn_wasm_bench.wasm
# worker-build's wasm-opt features (its build/mod.rs), minus exception handling (unused here).
wasm-opt -O3 --enable-simd --enable-mutable-globals --enable-sign-ext \
    --enable-nontrapping-float-to-int --enable-bulk-memory --enable-multivalue \
    --enable-reference-types "$OUT/tilefn_wasm_bench_bg.wasm" -o "$OUT/tilefn_wasm_bench_bg.wasm"
node bench/wasm/run.mjs "$OUT" "$STORE" "$PATHS" "$SECONDS_"
