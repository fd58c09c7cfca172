# Shell helpers shared by the server benchmarks (bench/tiles.sh, bench/statistics.sh):
# wrk, starting tilefn-serve and TiTiler, waiting for a server, and the CPU time of a process tree from /proc.

TCK=$(getconf CLK_TCK)

# Installs wrk (the load generator) when it is missing.
need_wrk() {
    command -v wrk >/dev/null && return 0
    echo "bench: installing wrk" >&2
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
}

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

# Starts tilefn-serve (the binary SERVE over the store directory STORE) on $OURS_PORT and
# TiTiler (bench/tiles/titiler_app.py under uvicorn, one worker, $TITILER_PY) on
# $TITILER_PORT, logging to WORK/serve.log and WORK/titiler.log; sets OURS_PID and
# TITILER_PID and adds both to PIDS (the caller's cleanup kills them).
start_servers() {
    local serve=$1 store=$2 work=$3
    echo "bench: starting tilefn-serve on :$OURS_PORT" >&2
    "$serve" --store "file://$store" --addr "127.0.0.1:$OURS_PORT" 2>"$work/serve.log" &
    OURS_PID=$!
    PIDS+=("$OURS_PID")
    wait_up "http://127.0.0.1:$OURS_PORT/health" "$OURS_PID" tilefn-serve
    echo "bench: starting TiTiler (uvicorn, 1 worker) on :$TITILER_PORT" >&2
    # GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR is TiTiler's documented production setting (no
    # directory listing for sidecar files on every open); no access log on either side.
    GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR "$TITILER_PY" -m uvicorn titiler_app:app \
        --app-dir bench/tiles --host 127.0.0.1 --port "$TITILER_PORT" --workers 1 \
        --no-access-log --log-level warning 2>"$work/titiler.log" &
    TITILER_PID=$!
    PIDS+=("$TITILER_PID")
    wait_up "http://127.0.0.1:$TITILER_PORT/openapi.json" "$TITILER_PID" TiTiler
}

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

# The median of whitespace-separated numbers (the mean of the middle two for an even count).
median() {
    tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else if (NR) printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
