#!/usr/bin/env bash
# The main job: generate the deterministic demo data, ingest it into the local store
# (./data/store), and show what was published. The edge tile service that serves this
# store is added by the edge-tiles work; this script will then also start it.
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
