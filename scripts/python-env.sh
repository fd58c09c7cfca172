#!/usr/bin/env bash
# Creates (once) the Python venv that the GDAL oracle, the benchmark, the demo-data checks and
# the scipy focal oracle use, and prints its python path on stdout (everything else goes to stderr).
#
# GDAL is the reference implementation we compare against, so its version must not drift
# between machines: rasterio's manylinux wheels bundle their own GDAL (1.4.4 ships GDAL 3.10),
# which means no system GDAL is needed and every machine gets the same one.
#
# Idempotent: a stamp file records the pins; when it matches, nothing is touched (~5 ms).
# A cold creation takes ~20 s (wheels: rasterio ~25 MB with GDAL and PROJ inside).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="$PWD/.venv"
# Pins. rio-cogeo 7.0.4 is the newest release (checked against PyPI) and works with
# rasterio 1.4.4; numpy<3 because rasterio 1.4 wheels are built against numpy 2.x.
# scipy 1.17.1 is the focal statistics' oracle (tests/oracle/focal_oracle.py runs
# scipy.ndimage.generic_filter over each neighbourhood's footprint); pinned so the
# reference cannot change under the test.
PINS=("rasterio==1.4.4" "rio-cogeo==7.0.4" "numpy<3" "scipy==1.17.1")
STAMP="$VENV/.tilefn-pins"
WANT="$(printf '%s\n' "${PINS[@]}")"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "$VENV/bin/python"
    exit 0
fi

PY="${PYTHON:-python3}"
echo "python-env: creating $VENV with ${PINS[*]}" >&2
start=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PY" -m venv "$VENV" >&2
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
# Fail here, not in the first test, if the wheel's GDAL cannot load.
"$VENV/bin/python" -c 'import rasterio, rio_cogeo, scipy; print("python-env: rasterio", rasterio.__version__, "GDAL", rasterio.__gdal_version__, "rio-cogeo", rio_cogeo.__version__, "scipy", scipy.__version__)' >&2
printf '%s' "$WANT" >"$STAMP"
echo "python-env: done in $(( $(date +%s) - start )) s" >&2
echo "$VENV/bin/python"
