#!/usr/bin/env bash
# Creates (once) the venv TiTiler runs from in the tile benchmark (bench/tiles.sh) and prints
# its python path on stdout (everything else goes to stderr).
#
# A separate venv from scripts/python-env.sh: titiler pulls rio-tiler, FastAPI, pydantic and
# friends whose own pins must not move the GDAL oracle's. rasterio is pinned to the same
# 1.4.4 wheel (GDAL 3.10 inside) so both benchmarks read with the same GDAL.
#
# Idempotent: a stamp file records the pins; when it matches, nothing is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

# Under target/ (git-ignored, a disposable cache like the benchmark inputs).
VENV="$PWD/target/venv-titiler"
# titiler.core (not titiler.application): the tiler factory is all the benchmark mounts.
# uvicorn[standard] brings uvloop and httptools, as TiTiler's own Docker image runs it.
PINS=("titiler.core==2.4.0" "rasterio==1.4.4" "numpy<3" "uvicorn[standard]==0.54.0")
STAMP="$VENV/.tilefn-pins"
WANT="$(printf '%s\n' "${PINS[@]}")"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "$VENV/bin/python"
    exit 0
fi

PY="${PYTHON:-python3}"
echo "titiler-env: creating $VENV with ${PINS[*]}" >&2
start=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PY" -m venv "$VENV" >&2
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
"$VENV/bin/python" -c 'import rasterio, titiler.core, uvicorn; print("titiler-env: titiler.core", titiler.core.__version__, "rasterio", rasterio.__version__, "GDAL", rasterio.__gdal_version__, "uvicorn", uvicorn.__version__)' >&2
printf '%s' "$WANT" >"$STAMP"
echo "titiler-env: done in $(( $(date +%s) - start )) s" >&2
echo "$VENV/bin/python"
