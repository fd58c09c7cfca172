#!/usr/bin/env bash
# Builds the test store the Worker and browser tests read: the deterministic demo data
# (generated once into WORK/demo and reused) ingested into a fresh WORK/store.
#
#   bash scripts/test-store.sh WORK
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:?usage: test-store.sh WORK_DIR}
cargo build --release --quiet -p tilefn-ingest -p tilefn-demodata
DEMO="$WORK/demo"
STORE="$WORK/store"
mkdir -p "$DEMO"
# Demo data is deterministic (fixed seed), so an existing copy is reused.
[[ -f "$DEMO/landcover.tif" ]] || target/release/tilefn-demodata all --out-dir "$DEMO"
rm -rf "$STORE"
mkdir -p "$STORE"
target/release/tilefn-ingest add "$DEMO/dem.tif" --layer dem --name "Demo DEM" --store "file://$STORE" >/dev/null
target/release/tilefn-ingest add "$DEMO/multispectral.tif" --layer ms --name "Demo multispectral" \
    --store "file://$STORE" >/dev/null
target/release/tilefn-ingest add "$DEMO/landcover.tif" --layer landcover --name "Demo land cover" \
    --datatype categorical --store "file://$STORE" >/dev/null
