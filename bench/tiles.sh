#!/usr/bin/env bash
# Tile-serving benchmark: tilefn-serve, TiTiler and the Worker under workerd, in one run,
# under wrk on 127.0.0.1 with the same tile list.
#
#   bench/tiles.sh                      # everything; inputs are cached in $BENCH_DIR
#   BENCH_SIZE=2048 BENCH_DURATION=3 bench/tiles.sh   # quick smoke run
#
# Input: the demodata DEM (float32, UTM 33N, nodata -9999), cached. Ours is ingested with
# tilefn-ingest; TiTiler reads the same source converted by
#   rio cogeo create --web-optimized --zoom-level Z --cog-profile deflate --co PREDICTOR=3
# (Z = our max zoom, so both sides serve the same grid, one internal tile per XYZ tile, with
# the predictor our ingest uses for floats), nearest resampling on both sides.
# Tiles: every tile of the layer's bounds at the $BENCH_ZOOMS highest zooms that both
# tilefn-serve and TiTiler answer 200 with a PNG (edge tiles outside the data are 204 here and
# 404 there), rendered as viridis over the layer's p2..p98 (from the manifest) on all sides:
#   ours:    /tiles/dem/{z}/{x}/{y}.png?colormap_name=viridis&rescale=lo,hi
#   titiler: /cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url=FILE&colormap_name=viridis&rescale=lo,hi
# TiTiler (titiler.core from PyPI, scripts/titiler-env.sh) runs under uvicorn with one worker;
# the Worker runs under Miniflare's workerd (bench/tiles/workerd.mjs) with R2 seeded from our
# store. Each server gets a warm-up run, then `wrk -t1 -c$BENCH_CONNECTIONS -d$BENCH_DURATION`
# cycling through the list (bench/tiles/paths.lua).
#
# Reported per server: tiles/s (wrk), server CPU ms per tile (utime+stime of the server's
# process tree from /proc, all threads, before and after the run, divided by the completed
# requests), and mean PNG bytes per tile (each tile fetched once). Targets from the issue:
# ours <= 0.6 ms CPU per tile natively, <= 3 ms in workerd, PNG bytes <= TiTiler's.
# The machine is shared: compare the ratios of one run, not absolute numbers across runs.
#
# Environment: BENCH_DIR (default target/bench), BENCH_SIZE (4096), BENCH_ZOOMS (3),
# BENCH_DURATION (seconds, 10), BENCH_CONNECTIONS (2), BENCH_PORT (first of three ports,
# 18081), BENCH_WORKERD=0 to skip workerd, BENCH_WORKER_BUILD=0 to run the Worker already in
# build/ instead of rebuilding it first, BENCH_STRICT=1 to exit 1 when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BENCH_DIR=${BENCH_DIR:-target/bench}
SIZE=${BENCH_SIZE:-4096}
ZOOMS=${BENCH_ZOOMS:-3}
DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-2}
PORT=${BENCH_PORT:-18081}
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
WORK="$BENCH_DIR/tiles"
mkdir -p "$WORK"

if ! command -v wrk >/dev/null; then
    echo "bench: installing wrk" >&2
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
PY=$(scripts/python-env.sh)
RIO="$(dirname "$PY")/rio"
TITILER_PY=$(scripts/titiler-env.sh)

echo "bench: building release binaries" >&2
cargo build --release --quiet -p tilefn-demodata -p tilefn-ingest -p tilefn-server
DEMODATA=target/release/tilefn-demodata
INGEST=target/release/tilefn-ingest
SERVE=target/release/tilefn-serve

# --- Inputs, cached by size and the checksums of the binaries that made them ---
SRC="$BENCH_DIR/dem-$SIZE.tif"
src_stamp="$WORK/source-$SIZE.stamp"
want="$(cksum <"$DEMODATA" | cut -d' ' -f1) size=$SIZE"
if [[ ! -f $src_stamp || ! -f $SRC || "$(cat "$src_stamp")" != "$want" ]]; then
    echo "bench: generating the ${SIZE}² DEM" >&2
    $DEMODATA dem --size "$SIZE" --out "$SRC"
    echo "$want" >"$src_stamp"
fi
STORE="$WORK/store-$SIZE"
COG="$WORK/titiler-dem-$SIZE.tif"
data_stamp="$WORK/data-$SIZE.stamp"
want="$want ingest=$(cksum <"$INGEST" | cut -d' ' -f1)"
if [[ ! -f $data_stamp || "$(cat "$data_stamp")" != "$want" ]]; then
    echo "bench: ingesting (tilefn-ingest) and converting (rio cogeo) the DEM" >&2
    rm -rf "$STORE" "$COG"
    $INGEST add "$SRC" --layer dem --store "file://$STORE" --resampling nearest --quiet
    zoom=$(sed -n 's/^  "max_zoom": \([0-9]*\),$/\1/p' "$STORE/layers/dem/manifest.json")
    "$RIO" cogeo create --web-optimized "$SRC" "$COG" --zoom-level "$zoom" \
        --cog-profile deflate --co PREDICTOR=3 \
        --resampling nearest --overview-resampling nearest --quiet
    echo "$want" >"$data_stamp"
fi
MANIFEST="$STORE/layers/dem/manifest.json"
RESCALE=$(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))["bands"][0]["stats"]
print("%g,%g" % (s["p2"], s["p98"]))' "$MANIFEST")
STYLE="colormap_name=viridis&rescale=$RESCALE"

# --- Servers ---
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# Waits until URL answers (any status) or the process PID exits; 1 on failure.
wait_up() {
    local url=$1 pid=$2 name=$3
    for _ in $(seq 1 600); do
        curl -s -o /dev/null "$url" && return 0
        kill -0 "$pid" 2>/dev/null || { echo "bench: $name exited" >&2; return 1; }
        sleep 0.2
    done
    echo "bench: $name did not come up at $url" >&2
    return 1
}

OURS_PORT=$PORT TITILER_PORT=$((PORT + 1)) WORKERD_PORT=$((PORT + 2))
echo "bench: starting tilefn-serve on :$OURS_PORT" >&2
$SERVE --store "file://$STORE" --addr "127.0.0.1:$OURS_PORT" 2>"$WORK/serve.log" &
OURS_PID=$!
PIDS+=("$OURS_PID")
wait_up "http://127.0.0.1:$OURS_PORT/health" "$OURS_PID" tilefn-serve

echo "bench: starting TiTiler (uvicorn, 1 worker) on :$TITILER_PORT" >&2
# GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR is TiTiler's documented production setting (no
# directory listing for sidecar files on every open); no access log on either side.
GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR "$TITILER_PY" -m uvicorn titiler_app:app \
    --app-dir bench/tiles --host 127.0.0.1 --port "$TITILER_PORT" --workers 1 \
    --no-access-log --log-level warning 2>"$WORK/titiler.log" &
TITILER_PID=$!
PIDS+=("$TITILER_PID")
wait_up "http://127.0.0.1:$TITILER_PORT/openapi.json" "$TITILER_PID" TiTiler

# The Worker: built by scripts/build-worker.sh (incremental, unless BENCH_WORKER_BUILD=0),
# served by workerd. Any failure
# here skips this row with the reason; the native comparison still runs.
WORKERD_PID= WORKERD_SKIP=
if [[ ${BENCH_WORKERD:-1} == 0 ]]; then
    WORKERD_SKIP="BENCH_WORKERD=0"
elif [[ ! -x tools/node_modules/.bin/workerd ]]; then
    WORKERD_SKIP="tools/node_modules has no workerd (run scripts/install-tools.sh)"
elif [[ ${BENCH_WORKER_BUILD:-1} == 1 ]] && ! bash scripts/build-worker.sh >"$WORK/build-worker.log" 2>&1; then
    WORKERD_SKIP="scripts/build-worker.sh failed (see $WORK/build-worker.log)"
elif [[ ! -f build/index.js || ! -f build/index_bg.wasm ]]; then
    WORKERD_SKIP="no Worker build in build/ (run scripts/build-worker.sh)"
else
    [[ ${BENCH_WORKER_BUILD:-1} == 1 ]] \
        || echo "bench: BENCH_WORKER_BUILD=0: using the Worker in build/ as built $(date -r build/index_bg.wasm '+%F %T')" >&2
    echo "bench: starting the Worker (workerd via Miniflare) on :$WORKERD_PORT" >&2
    PATH="$ROOT/tools/node_modules/.bin:$PATH" node bench/tiles/workerd.mjs "$STORE" "$WORKERD_PORT" \
        >"$WORK/workerd.out" 2>"$WORK/workerd.log" &
    WORKERD_PID=$!
    PIDS+=("$WORKERD_PID")
    for _ in $(seq 1 600); do
        grep -q '^ready' "$WORK/workerd.out" 2>/dev/null && break
        kill -0 "$WORKERD_PID" 2>/dev/null || break
        sleep 0.2
    done
    if ! grep -q '^ready' "$WORK/workerd.out" 2>/dev/null \
        || ! curl -sf -o /dev/null "http://127.0.0.1:$WORKERD_PORT/health"; then
        WORKERD_SKIP="the Worker did not become healthy (see $WORK/workerd.log)"
    fi
fi
[[ -n $WORKERD_SKIP ]] && echo "bench: skipping workerd: $WORKERD_SKIP" >&2

# --- Tile list and PNG bytes ---
python3 bench/tiles/tiles.py candidates "$MANIFEST" "$ZOOMS" >"$WORK/candidates.txt"
echo "bench: probing $(wc -l <"$WORK/candidates.txt") candidate tiles on both native servers" >&2
python3 bench/tiles/tiles.py probe "$WORK/candidates.txt" "$WORK" \
    "tilefn=http://127.0.0.1:$OURS_PORT/tiles/dem/{z}/{x}/{y}.png?$STYLE" \
    "titiler=http://127.0.0.1:$TITILER_PORT/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url=$COG&$STYLE" \
    >"$WORK/probe.tsv"
if [[ -z $WORKERD_SKIP ]]; then
    # The Worker serves the same routes as tilefn-serve: the same paths.
    python3 bench/tiles/tiles.py check "$WORK/paths-tilefn.txt" "workerd=http://127.0.0.1:$WORKERD_PORT" \
        >>"$WORK/probe.tsv"
fi
TILES=$(awk -F'\t' '$1 == "tilefn" { print $2 }' "$WORK/probe.tsv")
if [[ ${TILES:-0} -eq 0 ]]; then
    echo "bench: no tile was served as a PNG by both servers:" >&2
    cat "$WORK/probe.tsv" >&2
    tail -5 "$WORK/serve.log" "$WORK/titiler.log" >&2
    exit 1
fi

# --- Load ---
TCK=$(getconf CLK_TCK)

# The process tree under PID: PID and every descendant.
tree_pids() {
    local all
    all=$(ps -e -o pid=,ppid=)
    awk -v root="$1" '{ parent[$1] = $2 } END {
        keep[root] = 1; changed = 1
        while (changed) { changed = 0
            for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
        for (p in keep) print p }' <<<"$all"
}

# CPU clock ticks (utime + stime + waited-for children's) of the given PIDs whose command
# name matches COMM (a regex; "." for any). Fields after the ")" that closes the name:
# 12 utime, 13 stime, 14 cutime, 15 cstime.
cpu_ticks() {
    local comm=$1 total=0 pid t
    shift
    for pid in "$@"; do
        [[ -r /proc/$pid/stat ]] || continue
        [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" =~ $comm ]] || continue
        t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }') || continue
        total=$((total + ${t:-0}))
    done
    echo "$total"
}

# Runs wrk against server NAME (base URL, root PID, process-name regex for the CPU count:
# "." for the whole tree, "^workerd$" for the Worker alone);
# prints "requests duration_s tiles_per_s cpu_ms_per_tile non2xx".
load() {
    local name=$1 base=$2 root=$3 comm=$4 pids before after all_before all_after out
    export TILES_PATHS="$WORK/paths-$name.txt"
    [[ $name == workerd ]] && TILES_PATHS="$WORK/paths-tilefn.txt"
    echo "bench: $name: warm-up, then wrk for ${DURATION}s" >&2
    wrk -t1 -c"$CONNECTIONS" -d2s -s bench/tiles/paths.lua "$base" >/dev/null
    mapfile -t pids < <(tree_pids "$root")
    before=$(cpu_ticks "$comm" "${pids[@]}") all_before=$(cpu_ticks . "${pids[@]}")
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/tiles/paths.lua "$base")
    mapfile -t pids < <(tree_pids "$root")
    after=$(cpu_ticks "$comm" "${pids[@]}") all_after=$(cpu_ticks . "${pids[@]}")
    echo "$out" >"$WORK/wrk-$name.txt"
    # The rest of the tree (Miniflare's node for workerd) should be idle under load; shown so a
    # proxy in the request path would not go unnoticed.
    [[ $comm == . ]] || echo "bench: $name: CPU of the rest of the process tree during the run:" \
        "$(((all_after - all_before - after + before) * 1000 / TCK)) ms" >&2
    awk -v ticks=$((after - before)) -v tck="$TCK" '
        / requests in / { req = $1; d = $4; sub(/,$/, "", d)
            if (d ~ /ms$/) { sub(/ms$/, "", d); d /= 1000 } else if (d ~ /m$/) { sub(/m$/, "", d); d *= 60 } else sub(/s$/, "", d) }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        /Requests\/sec:/ { rps = $2 }
        END { printf "%d %.2f %.1f %.3f %d\n", req, d, rps, (req > 0 ? ticks * 1000 / tck / req : 0), bad + 0 }' <<<"$out"
}

declare -A REQ RPS CPU BAD BYTES
for row in "tilefn http://127.0.0.1:$OURS_PORT $OURS_PID ." \
    "titiler http://127.0.0.1:$TITILER_PORT $TITILER_PID ." \
    "workerd http://127.0.0.1:$WORKERD_PORT ${WORKERD_PID:-0} ^workerd$"; do
    read -r name base root comm <<<"$row"
    [[ $name == workerd && -n $WORKERD_SKIP ]] && continue
    read -r req _ rps cpu bad < <(load "$name" "$base" "$root" "$comm")
    if [[ ${req:-0} -eq 0 ]]; then
        # wrk failed or nothing completed: no figure to judge (a missing CPU must not read as 0).
        echo "bench: $name: wrk completed no request (see $WORK/wrk-$name.txt)" >&2
        req=0 rps=0 cpu=0 bad=1
    fi
    REQ[$name]=$req RPS[$name]=$rps CPU[$name]=$cpu BAD[$name]=$bad
    BYTES[$name]=$(awk -F'\t' -v n="$name" '$1 == n { print $3 }' "$WORK/probe.tsv")
done

# --- Report ---
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

missed=0
declare -A TARGET
# Sets TARGET[name] from its CPU limit (ms per tile) and the bytes target (<= TiTiler's).
judge() {
    local name=$1 cpu_max=$2 v=ok
    if [[ ${BAD[$name]:-0} -gt 0 ]]; then
        v="FAILED (${BAD[$name]} non-2xx)"
    elif ! le "${CPU[$name]}" "$cpu_max" || ! le "${BYTES[$name]}" "${BYTES[titiler]}"; then
        v=MISSED
    fi
    [[ $v == ok ]] || missed=1
    TARGET[$name]="<=$cpu_max ms, <=1x bytes: $v"
}
judge tilefn 0.6
TARGET[titiler]="(baseline)"
# Without a working baseline the ratios and the bytes target mean nothing.
if [[ ${BAD[titiler]:-0} -gt 0 ]]; then TARGET[titiler]="FAILED (${BAD[titiler]} non-2xx)"; missed=1; fi
if [[ -n $WORKERD_SKIP ]]; then
    # An explicit BENCH_WORKERD=0 is a choice; any other skip leaves a target unchecked.
    [[ ${BENCH_WORKERD:-1} == 0 ]] || missed=1
else
    judge workerd 3
fi

echo
echo "tile benchmark: DEM ${SIZE}² float32 -> viridis PNG (rescale $RESCALE), $TILES tiles at the $ZOOMS highest zooms,"
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s, $(nproc) cores; CPU = server process tree utime+stime per completed request"
printf '%-8s %9s %9s %12s %10s %11s %8s  %s\n' server "tiles/s" requests "CPU ms/tile" "CPU ratio" "mean PNG B" "B ratio" "target"
for name in tilefn titiler workerd; do
    if [[ $name == workerd && -n $WORKERD_SKIP ]]; then
        printf '%-8s %s\n' workerd "skipped: $WORKERD_SKIP"
        continue
    fi
    printf '%-8s %9s %9s %12s %10s %11s %8s  %s\n' "$name" "${RPS[$name]}" "${REQ[$name]}" "${CPU[$name]}" \
        "$(ratio "${CPU[$name]}" "${CPU[titiler]}")" "${BYTES[$name]}" "$(ratio "${BYTES[$name]}" "${BYTES[titiler]}")" \
        "${TARGET[$name]}"
done
[[ -n $WORKERD_SKIP ]] || echo "workerd CPU includes Miniflare's R2 simulator (same process; production R2 is remote)."
if [[ $missed == 1 && ${BENCH_STRICT:-0} == 1 ]]; then
    exit 1
fi
