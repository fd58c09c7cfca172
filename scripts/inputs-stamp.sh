#!/usr/bin/env bash
# Prints a fingerprint of the Rust sources a wasm build depends on (every tracked or new file
# under src/ and crates/, plus the workspace manifests and .cargo/config.toml): path, size and mtime of each.
# build-worker.sh and build-web.sh skip their build when the fingerprint matches the one
# saved beside their output, because wasm-opt alone costs ~50 s per build here and the test
# scripts each ask for the same build.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -co --exclude-standard -- src crates Cargo.toml Cargo.lock .cargo/config.toml "$@" \
    | grep -v -e '/fuzz/' -e '/benches/' \
    | xargs -r stat -c '%n %s %Y' | sha256sum | cut -d' ' -f1
