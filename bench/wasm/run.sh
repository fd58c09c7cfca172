#!/usr/bin/env bash
# The Worker's Rust tile path timed in V8 without workerd (see run.mjs): builds bench/wasm
# for wasm32 the way worker-build builds the Worker (release profile, simd128, wasm-bindgen,
# then wasm-opt -O3 with the same feature set), then answers tile lists in Node.
#
#   bash bench/wasm/run.sh                                 # plain DEM vs hillshade, see below
#   bash bench/wasm/run.sh [store-dir] [paths-file] [seconds]   # one list
#
# Defaults: bench/tiles.sh's 4096² store and its tile lists (run bench/tiles.sh once).
# Without a paths file it times bench/tiles.sh's DEM list (viridis PNG) and, when that run
# had the hillshade scenario, the same tiles as ?algorithm=hillshade three ways: rims `warm`
# (every neighbour's rim cached, as a replayed list leaves them: one decode a tile), `pass`
# (the cache emptied before each pass over the list: a fresh isolate serving the map once,
# row by row) and `cold` (emptied before every tile: all nine tiles decoded, as for a lone
# tile in a fresh isolate). Each figure is the median of BENCH_ROUNDS (3) interleaved rounds
# of BENCH_DURATION (5) seconds; the table gives each one's ratio to the plain DEM tile
# (target for warm: <= 1.5).
# OUT=DIR keeps the built module elsewhere, for A/Bs of two builds (run.mjs DIR ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# shellcheck source=bench/lib.sh
source bench/lib.sh
STORE=${1:-target/bench/tiles/store-4096}
PATHS=${2:-}
SECONDS_=${3:-${BENCH_DURATION:-5}}
ROUNDS=${BENCH_ROUNDS:-3}
OUT=${OUT:-target/bench/wasm}
DEM_PATHS=target/bench/tiles/dem/paths-tilefn.txt
HILLSHADE_PATHS=target/bench/tiles/hillshade/paths-tilefn.txt
[[ -d "$STORE" && -f "${PATHS:-$DEM_PATHS}" ]] \
    || { echo "bench/wasm: no $STORE or ${PATHS:-$DEM_PATHS} (run bash bench/tiles.sh first)" >&2; exit 1; }
cargo build --quiet --release --target wasm32-unknown-unknown -p tilefn-wasm-bench
rm -rf "$OUT"
wasm-bindgen --target nodejs --out-dir "$OUT" target/wasm32-unknown-unknown/release/tilefn_wasm_bench.wasm
# worker-build's wasm-opt features (its build/mod.rs), minus exception handling (unused here).
wasm-opt -O3 --enable-simd --enable-mutable-globals --enable-sign-ext \
    --enable-nontrapping-float-to-int --enable-bulk-memory --enable-multivalue \
    --enable-reference-types "$OUT/tilefn_wasm_bench_bg.wasm" -o "$OUT/tilefn_wasm_bench_bg.wasm"

if [[ -n $PATHS ]]; then
    node bench/wasm/run.mjs "$OUT" "$STORE" "$PATHS" "$SECONDS_"
    exit 0
fi

# The comparison: rows "label paths-file rims", run in turn in every round.
ROWS=("dem $DEM_PATHS warm")
if [[ -f $HILLSHADE_PATHS ]]; then
    ROWS+=("hillshade-warm $HILLSHADE_PATHS warm" "hillshade-pass $HILLSHADE_PATHS pass"
        "hillshade-cold $HILLSHADE_PATHS cold")
else
    echo "bench/wasm: no $HILLSHADE_PATHS (bench/tiles.sh without the hillshade scenario): DEM only" >&2
fi
declare -A CPU LINE
for round in $(seq "$ROUNDS"); do
    for row in "${ROWS[@]}"; do
        read -r label paths rims <<<"$row"
        echo "bench/wasm: round $round of $ROUNDS: $label" >&2
        line=$(node bench/wasm/run.mjs "$OUT" "$STORE" "$paths" "$SECONDS_" "$rims")
        echo "  $line" >&2
        CPU[$label]="${CPU[$label]:-} $(sed -n 's/.* ms wall, \([0-9.]*\) ms CPU per tile.*/\1/p' <<<"$line")"
        LINE[$label]=$line
    done
done

echo
echo "bench/wasm: tilefn_tiler::Service in V8 (Node $(node --version)), ${SECONDS_}s x $ROUNDS interleaved rounds, $(nproc) cores"
echo "  $(wc -l <"$DEM_PATHS") DEM tiles as viridis PNG; the same tiles' ?algorithm=hillshade (grey PNG)"
base=$(median "${CPU[dem]}")
printf '%-15s %12s %8s  %s\n' list "CPU ms/tile" "vs dem" "rounds; last round's bytes and statuses"
for row in "${ROWS[@]}"; do
    read -r label _ _ <<<"$row"
    m=$(median "${CPU[$label]}")
    printf '%-15s %12s %8s  %s\n' "$label" "$m" \
        "$(awk -v a="$m" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')" \
        "${CPU[$label]# }; ${LINE[$label]#*); }"
done
[[ ${#ROWS[@]} -eq 1 ]] || echo "target (issue): hillshade <= 1.5x the plain DEM tile's CPU (the warm row; pass and cold show the cost of decoding neighbours)"
