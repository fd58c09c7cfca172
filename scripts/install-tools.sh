#!/usr/bin/env bash
# Installs the programs the test suite needs beyond cargo itself. Idempotent: a tool already
# installed at its pinned version is skipped (~0.1 s).
#
# s3s-fs: a small S3 server on top of a directory, used by ingest/tests/cli/s3.rs for a real
# S3 round trip (signing, multipart, listing) without any cloud. Installed from crates.io
# because only the registries are reachable. The pin is the newest release whose
# rust-version (1.92) builds with this machine's rustc 1.95; 0.15+ require rustc 1.96.
# A cold `cargo install` took 143 s here (2 cores, shared with other builds); it happens once
# per machine, after which this script returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."

S3S_FS_VERSION="0.14.1"

installed_version() {
    # `cargo install --list` prints "s3s-fs v0.14.1:" for installed crates.
    cargo install --list 2>/dev/null | awk -v c="$1" '$1 == c { sub(/^v/, "", $2); sub(/:$/, "", $2); print $2 }'
}

if [[ "$(installed_version s3s-fs)" == "$S3S_FS_VERSION" ]] && command -v s3s-fs >/dev/null; then
    echo "install-tools: s3s-fs $S3S_FS_VERSION already installed" >&2
else
    echo "install-tools: installing s3s-fs $S3S_FS_VERSION (a few minutes, compiled once)" >&2
    start=$(date +%s)
    # --locked: build with the dependency versions the release was tested with, so a newer
    # transitive crate cannot break the build or raise the rustc requirement.
    cargo install s3s-fs --version "=$S3S_FS_VERSION" --locked --features binary
    echo "install-tools: s3s-fs installed in $(( $(date +%s) - start )) s" >&2
fi

# GNU time gives peak RSS for bench/ingest.sh; Debian's `time` package provides /usr/bin/time.
if [[ ! -x /usr/bin/time ]]; then
    echo "install-tools: installing GNU time" >&2
    if ! apt-get install -y -qq time >/dev/null 2>&1; then
        apt-get update -qq >/dev/null && apt-get install -y -qq time >/dev/null
    fi
fi

# clang: the C compiler for wasm32. The Worker and the browser renderer decode ZSTD tiles (what
# ingest writes by default) with libzstd, which the zstd-sys crate compiles from C; gcc has no
# wasm32 backend. Debian's clang 14 works (zstd-sys brings its own libc shim for wasm32).
if ! command -v clang >/dev/null; then
    echo "install-tools: installing clang (C for wasm32)" >&2
    if ! apt-get install -y -qq clang >/dev/null 2>&1; then
        apt-get update -qq >/dev/null && apt-get install -y -qq clang >/dev/null
    fi
fi

# gdaldem: the oracle of crates/algebra/tests/gdaldem.rs for slope, aspect and hillshade, which
# fails without it under CI=true. Debian's gdal-bin (GDAL 3.6 on bookworm) puts it in /usr/bin,
# where the test looks. `env` carries DEBIAN_FRONTEND through sudo, which would drop it.
if [[ ! -x /usr/bin/gdaldem ]]; then
    echo "install-tools: installing gdal-bin (gdaldem, the terrain oracle)" >&2
    SUDO=""
    [[ "$(id -u)" -eq 0 ]] || SUDO="sudo"
    APT=($SUDO env DEBIAN_FRONTEND=noninteractive apt-get)
    if ! "${APT[@]}" install -y -qq --no-install-recommends gdal-bin >/dev/null 2>&1; then
        "${APT[@]}" update -qq >/dev/null
        "${APT[@]}" install -y -qq --no-install-recommends gdal-bin >/dev/null
    fi
fi

# --- The Worker toolchain (see /work/shared/notes/worker-toolchain.md for the why of each pin) ---
# worker-build turns the crate into build/index.js + build/index_bg.wasm; it runs the
# wasm-bindgen CLI, which must be exactly the wasm-bindgen version in Cargo.lock (pinned with
# `=` in the root Cargo.toml). Both are compiled from crates.io once per machine (~15 min on
# 2 cores); worker-build's own downloads come from GitHub, which is unreachable here, so
# scripts/build-worker.sh points it at these binaries and at tools/node_modules.
WORKER_BUILD_VERSION="0.8.7"
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown
BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, "", $0); print; exit }' Cargo.lock)
if [[ -z "$BINDGEN_VERSION" ]]; then
    echo "install-tools: no wasm-bindgen in Cargo.lock" >&2
    exit 1
fi
if [[ "$(worker-build --version 2>/dev/null)" == "$WORKER_BUILD_VERSION" ]]; then
    echo "install-tools: worker-build $WORKER_BUILD_VERSION already installed" >&2
else
    echo "install-tools: installing worker-build $WORKER_BUILD_VERSION (about 10 minutes, once)" >&2
    cargo install worker-build --version "=$WORKER_BUILD_VERSION" --locked
fi
if [[ "$(wasm-bindgen --version 2>/dev/null)" == "wasm-bindgen $BINDGEN_VERSION" ]]; then
    echo "install-tools: wasm-bindgen-cli $BINDGEN_VERSION already installed" >&2
else
    echo "install-tools: installing wasm-bindgen-cli $BINDGEN_VERSION (about 6 minutes, once)" >&2
    # No --locked: the release's lockfile pins a webpki-roots version crates.io no longer has.
    cargo install wasm-bindgen-cli --version "=$BINDGEN_VERSION" --force
fi

# JS tools, pinned by tools/package-lock.json: Node 22 (as an npm package, so wrangler 4.164
# runs although the system Node is 20), wrangler, miniflare 4 (tests), esbuild and binaryen's
# wasm-opt (for worker-build), the test decoders and MapLibre GL (copied into www/vendor).
# `npm install` (not `npm ci`: npm 11 omits the other platforms' optional workerd packages of
# the copy nested under wrangler from the lockfile, and `npm ci` then refuses it) follows the
# lockfile; it runs only when the lockfile changed since the last run.
LOCK_SUM=$(sha256sum tools/package-lock.json | cut -d' ' -f1)
STAMP=tools/node_modules/.tilefn-lock-sha256
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$LOCK_SUM" ]]; then
    echo "install-tools: tools/node_modules up to date" >&2
else
    echo "install-tools: npm install in tools/ (from the lockfile)" >&2
    (cd tools && npm install --no-audit --no-fund --loglevel=error)
    echo "$LOCK_SUM" > "$STAMP"
fi
