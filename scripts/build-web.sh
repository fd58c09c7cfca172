#!/usr/bin/env bash
# Builds the browser renderer (crates/web) into www/pkg/: tilefn_web.js + tilefn_web_bg.wasm
# (wasm-bindgen --target web, then wasm-opt -Oz). Fails when the wasm is over 1 MB gzipped.
# Independent of scripts/build-worker.sh; www/pkg is ignored by git.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
WASM_OPT="$ROOT/tools/node_modules/.bin/wasm-opt"
command -v wasm-bindgen >/dev/null || { echo "build-web: missing wasm-bindgen: run scripts/install-tools.sh" >&2; exit 1; }
[[ -x "$WASM_OPT" ]] || { echo "build-web: missing $WASM_OPT: run scripts/install-tools.sh" >&2; exit 1; }

OUT="$ROOT/www/pkg"
STAMP="$OUT/.inputs-stamp"
WANT=$(bash scripts/inputs-stamp.sh)
if [[ -f "$OUT/tilefn_web_bg.wasm" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "build-web: www/pkg is up to date" >&2
    exit 0
fi
cargo build -p tilefn-web --release --target wasm32-unknown-unknown
mkdir -p "$OUT"
wasm-bindgen --target web --out-dir "$OUT" target/wasm32-unknown-unknown/release/tilefn_web.wasm
# The features Rust's wasm32 target emits by default, plus SIMD (.cargo/config.toml); wasm-opt
# must accept them to optimise.
"$WASM_OPT" "$OUT/tilefn_web_bg.wasm" -Oz -o "$OUT/tilefn_web_bg.opt.wasm" \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd
mv "$OUT/tilefn_web_bg.opt.wasm" "$OUT/tilefn_web_bg.wasm"

BUDGET=$((1024 * 1024))
RAW=$(wc -c < "$OUT/tilefn_web_bg.wasm")
GZ=$(cat "$OUT/tilefn_web_bg.wasm" "$OUT/tilefn_web.js" | gzip -9 | wc -c)
echo "build-web: www/pkg/tilefn_web_bg.wasm $RAW bytes; wasm+js $GZ bytes gzip (budget $BUDGET)"
if (( GZ > BUDGET )); then
    echo "build-web: over the 1 MB gzip budget" >&2
    exit 1
fi
echo "$WANT" > "$STAMP"
