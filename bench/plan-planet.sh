#!/usr/bin/env bash
# Planet-scale planning (issue 16): `tilefn-ingest plan` over 14,000 one-degree SRTM-like DEM
# footprints must finish in seconds, with memory linear in the number of work units.
#
#   bench/plan-planet.sh [INGEST_BIN]
#
# The sources come from `tilefn-demodata srtm-tiles`: complete 3601² int16 SRTM headers
# (EPSG:4326, 1 arc-second, nodata -32768) whose tile offsets all point at one shared tile,
# so 14,000 files take ~60 MB and a few seconds to write. They are cached in $PLAN_DIR and
# reused while the generator binary is unchanged. The list file is ordered most land-like
# cell first, so its first N lines are the cells a smaller world would have: the runs over
# 1,000 and 4,000 sources are nested subsets of the 14,000 one, which is what lets memory's
# growth with the number of units be read off the table.
#
# Each run is `plan --sources LIST --layer srtm --store file://... --max-zoom 12 --out
# plan.json` under GNU time; the table gives wall time, peak RSS, units, stages and the sizes
# the plan JSON reports, and each plan.json stays in $PLAN_DIR for inspection.
#
# INGEST_BIN defaults to target/release/tilefn-ingest (built here when missing).
# Environment: PLAN_DIR (default ${TMPDIR:-/tmp}/tilefn-plan-planet), PLAN_COUNTS
# ("1000 4000 14000"), PLAN_MAX_ZOOM (12).
set -euo pipefail
cd "$(dirname "$0")/.."

INGEST=${1:-target/release/tilefn-ingest}
DEMODATA=target/release/tilefn-demodata
PLAN_DIR=${PLAN_DIR:-${TMPDIR:-/tmp}/tilefn-plan-planet}
COUNTS=${PLAN_COUNTS:-"1000 4000 14000"}
MAX_ZOOM=${PLAN_MAX_ZOOM:-12}
mkdir -p "$PLAN_DIR"
PLAN_DIR=$(cd "$PLAN_DIR" && pwd)

if [[ ! -x /usr/bin/time ]]; then
    echo "plan-planet: installing GNU time" >&2
    apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time; }
fi
# Build only what is missing: an explicit INGEST_BIN is used as given.
if [[ ! -x $DEMODATA ]] || { [[ $# -eq 0 ]] && [[ ! -x $INGEST ]]; }; then
    echo "plan-planet: building release binaries" >&2
    cargo build --release --quiet -p tilefn-demodata -p tilefn-ingest
fi

# The largest count decides how many tiles are generated; smaller runs take a prefix.
max=0
for n in $COUNTS; do (( n > max )) && max=$n; done
srtm="$PLAN_DIR/srtm"
list="$srtm/list.txt"
stamp="$srtm/.stamp"
want="$(cksum <"$DEMODATA" | cut -d' ' -f1) count=$max"
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
    echo "plan-planet: generating $max SRTM-like headers in $srtm" >&2
    rm -rf "$srtm"
    "$DEMODATA" srtm-tiles --out-dir "$srtm" --count "$max" --list "$list" >&2
    echo "$want" >"$stamp"
fi
echo "plan-planet: sources $(wc -l <"$list") files, $(du -sh "$srtm" | cut -f1) on disk" >&2

# Runs a command under GNU time; prints "wall_seconds peak_rss_kib".
measure() {
    local log="$PLAN_DIR/time.log"
    if ! /usr/bin/time -v -o "$log" "$@" >"$PLAN_DIR/cmd.out" 2>"$PLAN_DIR/cmd.err"; then
        echo "plan-planet: command failed: $*" >&2
        tail -5 "$PLAN_DIR/cmd.err" >&2
        return 1
    fi
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; wall = s }
        /Maximum resident set size/ { rss = $2 }
        END { printf "%.2f %d\n", wall, rss }' "$log"
}

# One line of figures from a plan (format tilefn-plan/1): units and units per stage, the
# source references of stage-0 units (summed and the largest), the level groups, and the
# plan's own size. jq keeps this independent of Python.
summarise() {
    jq -r '
        [ (.units | length),
          (.stages | map(length) | join("+")),
          (.units | map(.sources // [] | length) | add),
          (.units | map(.sources // [] | length) | max),
          (.grid.groups | map("z\(.anchor_zoom)-\(.max_zoom)") | join(","))
        ] | @tsv' "$1"
}

kib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1024 }'; }

printf '%8s %7s %8s %6s %-8s %9s %8s %-12s %9s\n' \
    sources wall_s rss_mib units stages src_refs max_refs groups plan_kib
first="" last=""
for n in $COUNTS; do
    sub="$PLAN_DIR/list-$n.txt"
    head -n "$n" "$list" >"$sub"
    store="$PLAN_DIR/store-$n"
    out="$PLAN_DIR/plan-$n.json"
    rm -rf "$store" "$out"
    # Captured first, so that a failed run stops the script (a process substitution's
    # status would be lost).
    m=$(measure "$INGEST" plan --sources "$sub" --layer srtm \
        --store "file://$store" --max-zoom "$MAX_ZOOM" --out "$out")
    read -r wall rss <<<"$m"
    s=$(summarise "$out")
    IFS=$'\t' read -r units stages refs max_refs groups <<<"$s"
    printf '%8d %7s %8.1f %6d %-8s %9d %8d %-12s %9d\n' "$n" "$wall" \
        "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$units" "$stages" "$refs" \
        "$max_refs" "$groups" "$(kib "$(stat -c %s "$out")")"
    [[ -z $first ]] && first="$n $rss $units"
    last="$n $rss $units $out"
done

# Growth between the smallest and the largest run: the memory each extra source (and unit)
# costs, which is what extrapolates to a larger world.
read -r n0 rss0 u0 <<<"$first"
read -r n1 rss1 u1 plan1 <<<"$last"
if (( n1 > n0 )); then
    awk -v a="$rss0" -v b="$rss1" -v n0="$n0" -v n1="$n1" -v u0="$u0" -v u1="$u1" 'BEGIN {
        printf "growth %d -> %d sources: %.2f KiB RSS per source", n0, n1, (b - a) / (n1 - n0)
        if (u1 > u0) printf ", %.0f KiB per unit", (b - a) / (u1 - u0)
        printf "\n" }'
fi

# The layer the largest plan describes. Each unit writes at most one COG (a unit whose
# sources only graze its anchor writes none), holding (4^levels - 1) / 3 tiles when full;
# tilefn-cog's classic-TIFF header spends 8 bytes per tile (4-byte offset + 4-byte count).
jq -r '
    .stages as $stages
    | .grid.groups | to_entries[]
    | (.value.max_zoom - .value.anchor_zoom + 1) as $levels
    | ([range(0; $levels)] | map(pow(4; .)) | add) as $tiles
    | "stage \(.key): \($stages[.key] | length) unit(s), COGs of z\(.value.anchor_zoom)..\(.value.max_zoom); "
      + "a full one holds \($tiles) tiles, header ~\($tiles * 8 / 1000 | floor) KB"
' "$plan1"
