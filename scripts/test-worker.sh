#!/usr/bin/env bash
# The Worker's end-to-end tests: build it with worker-build, ingest the demo data into a
# temporary store, then run tests/worker/*.test.mjs (node --test + Miniflare 4: the real
# workerd runtime with an emulated R2 bucket seeded from that store). Finishes with the
# bundle-size budget from `wrangler deploy --dry-run`. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never

bash scripts/install-tools.sh
PYTHON=$(bash scripts/python-env.sh)
export PATH="$ROOT/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CI=true WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false

echo "test-worker: building the Worker" >&2
bash scripts/build-worker.sh

echo "test-worker: demo data and a fresh store" >&2
WORK="$ROOT/tests/.work/worker"
STORE="$WORK/store"
bash scripts/test-store.sh "$WORK"

echo "test-worker: node --test tests/worker/" >&2
TILEFN_TEST_STORE="$STORE" TILEFN_PYTHON="$PYTHON" node --test --test-concurrency=1 tests/worker/*.test.mjs

# Bundle budget: what Cloudflare would receive (JS + wasm), gzip size as wrangler reports it.
# A throwaway config without [build] and [assets], so the dry run neither rebuilds nor
# uploads the page; build/ is ignored by git.
BUDGET_KIB=1024
SIZE_DIR=$(mktemp -d)
trap 'rm -rf "$SIZE_DIR"' EXIT
cat > build/size-check.toml <<'TOML'
name = "tilefn-size-check"
main = "index.js"
compatibility_date = "2025-10-01"
[[r2_buckets]]
binding = "TILES"
bucket_name = "tilefn-tiles"
TOML
wrangler deploy --dry-run --config build/size-check.toml --outdir "$SIZE_DIR" > "$SIZE_DIR/out.txt" 2>&1 \
    || { cat "$SIZE_DIR/out.txt" >&2; exit 1; }
LINE=$(grep -E 'Total Upload:.*gzip:' "$SIZE_DIR/out.txt" | head -1)
echo "test-worker: bundle $LINE (budget: $BUDGET_KIB KiB gzip)"
# wrangler prints "gzip: 543.29 KiB" (or MiB past 1024 KiB).
GZIP_KIB=$(sed -nE 's/.*gzip: ([0-9.]+) (KiB|MiB).*/\1 \2/p' <<< "$LINE" \
    | awk '{ print ($2 == "MiB") ? $1 * 1024 : $1 }')
if ! [[ "$GZIP_KIB" =~ ^[0-9.]+$ ]]; then
    echo "test-worker: could not read the gzip size from wrangler: $LINE" >&2
    exit 1
fi
if awk -v s="$GZIP_KIB" -v b="$BUDGET_KIB" 'BEGIN { exit !(s > b) }'; then
    echo "test-worker: bundle is over budget" >&2
    exit 1
fi
