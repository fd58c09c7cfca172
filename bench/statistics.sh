#!/usr/bin/env bash
# Statistics benchmark: tilefn-serve's POST /statistics/dem and TiTiler's POST /cog/statistics
# on the same DEM and the same polygons, in one run, under wrk on 127.0.0.1.
#
#   bench/statistics.sh                      # inputs are cached in $BENCH_DIR/statistics
#   BENCH_DURATION=3 BENCH_ROUNDS=1 bench/statistics.sh   # quick smoke run
#
# Input: bench/tiles.sh's dem scenario input, the ${BENCH_SIZE}² demodata DEM (float32,
# UTM 33N, 30 m, nodata -9999), ingested by tilefn-ingest (nearest, $BENCH_COMPRESS) and
# converted for TiTiler with
#   rio cogeo create --web-optimized --zoom-level Z --cog-profile C --co PREDICTOR=3
# (Z = our max zoom), so both sides hold the same pixels on the same XYZ grid.
# Polygons (bench/statistics/bodies.py, EPSG:4326 GeoJSON Features, the same body to both):
#   small   a 0.01° square            (the issue: TiTiler ~13 ms on this machine)
#   large   a 0.2° square, ~460k px   (the issue: TiTiler ~239 ms)
#   fields  a FeatureCollection of 20 fields of 300..600 m
# Settings: ours, the defaults (the layer's max zoom, every pixel whose centre is inside;
# percentiles 2,50,98; 10 histogram bins). TiTiler (titiler.core 2.4.0): POST
# /cog/statistics?url=COG&dst_crs=epsg:3857. Its POST reads the feature at the COG's
# native resolution by default (PartFeatureParams' max_size is None; only GET /statistics
# previews at max_size=1024, so no max_size= is passed), but in the feature's CRS: without
# dst_crs it warps the 0.2° square onto a 679x680 EPSG:4326 grid; with dst_crs=epsg:3857
# it reads the COG's own z12 pixels (583x847 for that square, ours 583x846 centres), the
# same full-resolution pixels as ours. It weighs edge pixels by their coverage (cover_scale
# 10) and adds majority/minority/unique counts; its other options are its defaults.
# The table's "valid px" column is each side's count of valid pixels in the polygons (from
# one request: TiTiler's valid_pixels, every pixel its read touched), to show both summarise
# the same pixels.
#
# Measured per polygon and server: wrk -t1 -c$BENCH_CONNECTIONS -d$BENCH_DURATION after a
# 2 s warm-up; server CPU ms per request = utime+stime of the server's process tree
# (/proc, all threads) over the run / completed requests; $BENCH_ROUNDS rounds interleave
# the servers and the table gives each figure's median round. Target (issue 17): ours at
# most 0.1x TiTiler's CPU per request. The machine is shared: compare the ratios of one run.
#
# Environment: BENCH_DIR (target/bench), BENCH_SIZE (4096), BENCH_DURATION (10),
# BENCH_ROUNDS (3), BENCH_CONNECTIONS (1), BENCH_PORT (18181, and the next one),
# BENCH_COMPRESS (zstd), BENCH_STRICT=1 to exit 1 when the target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

BENCH_DIR=${BENCH_DIR:-target/bench}
SIZE=${BENCH_SIZE:-4096}
DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-1}
PORT=${BENCH_PORT:-18181}
COMPRESS=${BENCH_COMPRESS:-zstd}
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
WORK="$BENCH_DIR/statistics"
mkdir -p "$WORK"

need_wrk
PY=$(scripts/python-env.sh)
RIO="$(dirname "$PY")/rio"
TITILER_PY=$(scripts/titiler-env.sh)

echo "bench: building release binaries" >&2
cargo build --release --quiet -p tilefn-demodata -p tilefn-ingest -p tilefn-server
DEMODATA=target/release/tilefn-demodata
INGEST=target/release/tilefn-ingest
SERVE=target/release/tilefn-serve

# --- Inputs, cached by size and the checksums of the binaries that made them ---
SRC="$BENCH_DIR/dem-$SIZE.tif" # the same file (and name) as bench/tiles.sh's
STORE="$WORK/store-$SIZE"
COG="$WORK/titiler-dem-$SIZE.tif"
stamp="$WORK/data-$SIZE.stamp"
want="demodata=$(cksum <"$DEMODATA" | cut -d' ' -f1) ingest=$(cksum <"$INGEST" | cut -d' ' -f1) size=$SIZE compress=$COMPRESS"
if [[ ! -f $stamp || ! -f $SRC || "$(cat "$stamp")" != "$want" ]]; then
    echo "bench: generating the ${SIZE}² DEM, ingesting it and converting it for TiTiler" >&2
    $DEMODATA dem --size "$SIZE" --out "$SRC" >&2
    rm -rf "$STORE" "$COG"
    $INGEST add "$SRC" --layer dem --store "file://$STORE" --resampling nearest \
        --compress "$COMPRESS" --quiet >&2
    zoom=$(sed -n 's/^  "max_zoom": \([0-9]*\),$/\1/p' "$STORE/layers/dem/manifest.json")
    "$RIO" cogeo create --web-optimized "$SRC" "$COG" --zoom-level "$zoom" \
        --cog-profile "$COMPRESS" --co PREDICTOR=3 \
        --resampling nearest --overview-resampling nearest --quiet >&2
    echo "$want" >"$stamp"
fi
python3 bench/statistics/bodies.py write "$WORK"
POLYGONS=(small large fields)

# --- Servers ---
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

OURS_PORT=$PORT TITILER_PORT=$((PORT + 1))
start_servers "$SERVE" "$STORE" "$WORK"

declare -A URL PATH_OF
URL[tilefn]="http://127.0.0.1:$OURS_PORT" PATH_OF[tilefn]="/statistics/dem"
URL[titiler]="http://127.0.0.1:$TITILER_PORT" PATH_OF[titiler]="/cog/statistics?url=$COG&dst_crs=epsg:3857"
declare -A ROOT_PID=([tilefn]=$OURS_PID [titiler]=$TITILER_PID)

# One request of each: both must answer 200; their valid pixel counts go in the table.
declare -A VALID
for poly in "${POLYGONS[@]}"; do
    for name in tilefn titiler; do
        out="$WORK/answer-$poly-$name.json"
        code=$(curl -s -o "$out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
            --data-binary "@$WORK/$poly.json" "${URL[$name]}${PATH_OF[$name]}")
        if [[ $code != 200 ]]; then
            echo "bench: $poly: $name answered $code: $(head -c 300 "$out")" >&2
            exit 1
        fi
        read -r _ VALID[$poly/$name] < <(python3 bench/statistics/bodies.py pixels "$out")
    done
done

# wrk against NAME with POLY; prints "requests cpu_ms_per_request non2xx".
load() {
    local poly=$1 name=$2 pids before after out
    export STATS_PATH=${PATH_OF[$name]} STATS_BODY="$WORK/$poly.json"
    wrk -t1 -c"$CONNECTIONS" -d2s -s bench/statistics/post.lua "${URL[$name]}" >/dev/null
    mapfile -t pids < <(tree_pids "${ROOT_PID[$name]}")
    before=$(cpu_ticks . "${pids[@]}")
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/statistics/post.lua "${URL[$name]}")
    mapfile -t pids < <(tree_pids "${ROOT_PID[$name]}")
    after=$(cpu_ticks . "${pids[@]}")
    echo "$out" >"$WORK/wrk-$poly-$name.txt"
    awk -v ticks=$((after - before)) -v tck="$TCK" '
        / requests in / { req = $1 }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        END { printf "%d %.3f %d\n", req, (req > 0 ? ticks * 1000 / tck / req : 0), bad + 0 }' <<<"$out"
}

declare -A REQ BAD CPU ROUND_CPU
for round in $(seq "$ROUNDS"); do
    for poly in "${POLYGONS[@]}"; do
        for name in tilefn titiler; do
            echo "bench: round $round/$ROUNDS: $poly: $name: wrk for ${DURATION}s" >&2
            read -r req cpu bad < <(load "$poly" "$name")
            [[ ${req:-0} -gt 0 ]] || { req=0 cpu=0 bad=1; }
            key=$poly/$name
            REQ[$key]=$((${REQ[$key]:-0} + req)) BAD[$key]=$((${BAD[$key]:-0} + bad))
            ROUND_CPU[$key]="${ROUND_CPU[$key]:-} $cpu"
        done
    done
done
for key in "${!ROUND_CPU[@]}"; do CPU[$key]=$(median "${ROUND_CPU[$key]}"); done

# --- Report ---
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
missed=0
echo
echo "statistics benchmark: ${SIZE}² DEM (float32, 30 m), POST one GeoJSON body per request,"
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s x $ROUNDS rounds, $(nproc) cores; CPU = server process tree utime+stime per request (median round)"
printf '%-7s %-8s %9s %10s %12s %10s  %s\n' polygon server requests "valid px" "CPU ms/req" "CPU ratio" target
for poly in "${POLYGONS[@]}"; do
    for name in tilefn titiler; do
        key=$poly/$name
        r=$(ratio "${CPU[$key]}" "${CPU[$poly/titiler]}")
        if [[ $name == titiler ]]; then
            verdict="(baseline)"
        elif [[ ${BAD[$key]} -gt 0 ]]; then
            verdict="FAILED (${BAD[$key]} non-2xx)" missed=1
        elif awk -v r="$r" 'BEGIN { exit !(r != "n/a" && r <= 0.1) }'; then
            verdict="<=0.1x: ok"
        else
            verdict="<=0.1x: MISSED" missed=1
        fi
        [[ $name == titiler && ${BAD[$key]} -gt 0 ]] && verdict="FAILED (${BAD[$key]} non-2xx)" missed=1
        printf '%-7s %-8s %9s %10s %12s %10s  %s\n' "$poly" "$name" "${REQ[$key]}" \
            "${VALID[$key]}" "${CPU[$key]}" "$r" "$verdict"
    done
done
echo "CPU ms/request of each round:"
for poly in "${POLYGONS[@]}"; do
    for name in tilefn titiler; do echo "  $poly $name:${ROUND_CPU[$poly/$name]}"; done
done
if [[ $missed == 1 && ${BENCH_STRICT:-0} == 1 ]]; then
    exit 1
fi
