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
