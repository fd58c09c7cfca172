#!/usr/bin/env bash
# Makes sure (once) that the Spark test (ingest/tests/cli/spark.rs) and the Spark driver
# (ingest/spark/tilefn_spark.py) can run here: Java 17 from Debian and a pinned PySpark in the
# project's venv (.venv, created by scripts/python-env.sh). Prints the venv's spark-submit path
# on stdout (everything else goes to stderr).
#
# PySpark's wheel bundles the whole Spark distribution (jars, bin/spark-submit), so local-mode
# Spark needs nothing but a JVM: no Hadoop, no Spark download. PySpark 4.x requires Java 17+;
# Debian 12 ships openjdk-17-jre-headless.
#
# The pip-installed launcher finds its Spark home with `$PYSPARK_PYTHON` (default: `python3`
# on PATH), which must be the venv's python: callers set PYSPARK_PYTHON=.venv/bin/python (or
# activate the venv), which also makes the executors' Python workers the venv's.
#
# Idempotent: a stamp file records the pin; when it matches and java runs, nothing is touched
# (under a second: the `java -version` check). Cold, on the 2-core dev machine while cargo was
# compiling (2026-12-07): installing the PySpark wheel (490 MB unpacked, download included)
# took 57 s; from no venv at all with pip's cache warm, 53 s including python-env.sh. Java
# was already installed there, so apt-get's time is not included.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="$PWD/.venv"
# Pin: PySpark 4.3.0, the newest release (checked with `pip index versions pyspark`). The
# driver only uses the core RDD API (parallelize, foreach, TaskContext, SparkFiles), unchanged
# across 3.x and 4.x, so a cluster on another Spark version should run the same script
# (only 4.3.0 is tested).
PINS=("pyspark==4.3.0")
STAMP="$VENV/.tilefn-spark-pins"
WANT="$(printf '%s\n' "${PINS[@]}")"

java_ok() {
    # `java -version` prints e.g. `openjdk version "17.0.15" 2025-04-15` on stderr.
    local v
    v="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)" || return 1
    [[ -n "$v" && "$v" -ge 17 ]]
}

if java_ok && [[ -x "$VENV/bin/spark-submit" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    echo "$VENV/bin/spark-submit"
    exit 0
fi

start=$(date +%s)
if ! java_ok; then
    echo "spark-env: installing openjdk-17-jre-headless (Debian)" >&2
    SUDO=""
    [[ "$(id -u)" -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        openjdk-17-jre-headless >&2
    java_ok || { echo "spark-env: java 17+ still not found after apt-get" >&2; exit 1; }
fi

# The venv itself (rasterio etc.) is python-env.sh's job; it is idempotent too.
bash scripts/python-env.sh >/dev/null
echo "spark-env: installing ${PINS[*]} into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
# Fail here, not in the first test, if Spark's launcher cannot find Java.
version="$(PYSPARK_PYTHON="$VENV/bin/python" "$VENV/bin/spark-submit" --version 2>&1)" || {
    echo "spark-env: spark-submit --version failed: $version" >&2
    exit 1
}
echo "spark-env: $(grep -m1 -o 'version [0-9.]*' <<<"$version" | sed 's/^/spark /'), $(java -version 2>&1 | head -n1)" >&2
printf '%s' "$WANT" >"$STAMP"
echo "spark-env: done in $(( $(date +%s) - start )) s" >&2
echo "$VENV/bin/spark-submit"
