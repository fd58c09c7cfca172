#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests need, then runs every
# check. Safe to rerun; installs are skipped when already present at the pinned versions.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# Incremental state only pays off across edits; on a fresh clone it is 1.4 GB of disk for nothing
# (CI once ran out of disk). Developers' own `cargo test` keeps it.
export CARGO_INCREMENTAL=0

step() { printf '\n== %s\n' "$*"; }

step "toolchain and test tools"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add wasm32-unknown-unknown >/dev/null
bash scripts/install-tools.sh
bash scripts/python-env.sh >/dev/null
# Java 17 + pinned PySpark in .venv for the Spark driver test (ingest/tests/cli/spark.rs).
bash scripts/spark-env.sh >/dev/null

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "wasm32 check (crates the Worker and the browser use)"
cargo check --quiet --target wasm32-unknown-unknown -p tilefn-raster -p tilefn-cog -p tilefn-catalog \
    -p tilefn-algebra -p tilefn-render -p tilefn-tiler
cargo check --quiet --target wasm32-unknown-unknown -p tilefn-storage --no-default-features
# The Worker itself (its JS-touching code only exists on wasm32, so lint it there too).
cargo clippy --quiet --target wasm32-unknown-unknown -p tilefn --no-deps -- -D warnings

step "tests"
cargo test --workspace --quiet 2>&1 | tee target/test-output.txt

step "wasm32 unit tests in Node (the float predictor's simd128 loop)"
# wasm-bindgen-test-runner comes with the wasm-bindgen CLI (install-tools.sh). No `--quiet`:
# cargo would pass it on to the runner, which rejects it.
PATH="$PWD/tools/node_modules/.bin:$PATH" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test --target wasm32-unknown-unknown -p tilefn-cog --lib predictor

step "the Worker in workerd (miniflare), bundle budget"
bash scripts/test-worker.sh

step "the browser renderer (wasm) against the Worker: identical pixels, /objects"
bash scripts/test-web.sh

step "the web map in Debian's chromium (playwright-core)"
bash scripts/test-www.sh
