#!/usr/bin/env python3
"""Ingest one tilefn layer on a Spark cluster: plan on the driver, units as Spark tasks, commit.

    spark-submit --files target/release/tilefn-ingest ingest/spark/tilefn_spark.py \\
        --layer dem --store s3://bucket/tiles [--bin PATH] [plan options...] SOURCES...

Every option this script does not know (--sources, --merge, --max-zoom, --resampling,
--compress, --nodata, ...) and every source is passed to `tilefn-ingest plan` unchanged.

The work itself is done by the `tilefn-ingest` binary; Spark only schedules it. `run-unit` is
idempotent and safe to run twice at once, so Spark's task retries (spark.task.maxFailures) and
speculative copies (spark.speculation) are harmless: a unit that already finished returns at
once, and a unit killed half-way is simply rebuilt. Stages run as one Spark job each, in
order, because stage k+1 reads what stage k wrote. See ingest/spark/README.md.
"""

import argparse
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

from pyspark import AccumulatorParam, SparkConf, SparkContext, SparkFiles, TaskContext

BIN_NAME = "tilefn-ingest"
# Test hook (used by ingest/tests/cli/spark.rs, never needed in production): "N:SECONDS"
# SIGKILLs the run-unit child of unit N once it has used SECONDS of CPU time, on the task's
# first attempt, and fails the task, so the test sees Spark retry a unit that died half-way.
# CPU time, not wall time: a loaded CI machine stretches the wall clock, not the work, and a
# wall-clock kill would sometimes come after the unit had finished. Read on the driver and
# shipped in the task closure, so it need not be set on the executors.
TEST_KILL_ENV = "TILEFN_SPARK_TEST_KILL"


def log(msg):
    print(f"tilefn-spark: {msg}", file=sys.stderr, flush=True)


def find_binary(explicit):
    """--bin, else a binary shipped with `spark-submit --files`, else tilefn-ingest on PATH.

    Called on the driver (plan, commit) and in every task (run-unit), so each node resolves
    its own copy."""
    if explicit:
        return explicit
    try:
        shipped = SparkFiles.get(BIN_NAME)
    except Exception:  # no SparkContext / SparkFiles root on this process
        shipped = None
    if shipped and os.path.isfile(shipped):
        mode = os.stat(shipped).st_mode
        if not mode & stat.S_IXUSR:
            # --files copies the bytes; the executable bit does not always survive.
            os.chmod(shipped, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return shipped
    on_path = shutil.which(BIN_NAME)
    if on_path:
        return on_path
    raise RuntimeError(
        f"{BIN_NAME} not found: pass --bin PATH (present on every node), ship it with "
        f"`spark-submit --files path/to/{BIN_NAME}`, or put it on PATH"
    )


class ListParam(AccumulatorParam):
    """Accumulates lists: the (unit, attempt) of every task that succeeded on a retry."""

    def zero(self, value):
        return []

    def addInPlace(self, a, b):
        return a + b


def cpu_seconds(pid):
    """User + system CPU time of a process (Linux /proc), or None where unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # after "pid (comm)"
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def kill_when_busy(proc, seconds):
    """The test hook's killer: SIGKILL `proc` once it has used `seconds` of CPU time (of wall
    time where /proc is missing)."""
    start = time.monotonic()
    while proc.poll() is None:
        used = cpu_seconds(proc.pid)
        if (time.monotonic() - start if used is None else used) >= seconds:
            proc.send_signal(signal.SIGKILL)
            return
        time.sleep(0.01)


def run_unit(binary, plan_url, unit, timeout, kill, retried):
    """One Spark task: `tilefn-ingest run-unit PLAN N --quiet`, raising when it fails so that
    Spark retries the task (a retry of a half-written unit is safe)."""
    ctx = TaskContext.get()
    attempt = ctx.attemptNumber() if ctx else 0
    tag = f"[unit {unit} attempt {attempt}]"
    argv = [find_binary(binary), "run-unit", plan_url, str(unit), "--quiet"]
    # Merged stdout/stderr, re-printed line by line with a tag on the Python worker's stderr,
    # which Spark copies into the executor's log (stderr in the Spark UI's executor page).
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    hook = kill is not None and kill[0] == unit and attempt == 0
    if hook:
        threading.Thread(target=kill_when_busy, args=(proc, kill[1]), daemon=True).start()
    timer = None
    if timeout:  # SIGKILL: the unit's writes are atomic, a killed unit is simply redone
        timer = threading.Timer(timeout, lambda: proc.send_signal(signal.SIGKILL))
        timer.start()
    tail = []
    for line in proc.stdout:
        print(f"{tag} {line.rstrip()}", file=sys.stderr, flush=True)
        tail = (tail + [line.rstrip()])[-20:]
    code = proc.wait()
    if timer:
        timer.cancel()
    killed = code == -signal.SIGKILL
    if hook:
        how = "killed it (SIGKILL)" if killed else f"it had exited {code}"
        raise RuntimeError(f"{TEST_KILL_ENV} test hook: failing {tag} at {kill[1]} CPU s; {how}")
    if killed and timeout:
        raise RuntimeError(f"{tag} killed after --unit-timeout {timeout} s")
    if code != 0:
        raise RuntimeError(f"{tag} `{' '.join(argv)}` exited {code}:\n" + "\n".join(tail))
    if attempt > 0:
        retried.add([(unit, attempt)])


def run(argv):
    """Runs the binary on the driver; its output (and errors) goes to the driver log."""
    log("$ " + " ".join(argv))
    out = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    sys.stderr.write(out.stdout)
    if out.returncode != 0:
        raise RuntimeError(f"{argv[1]} exited {out.returncode}")
    return out


def parse_kill(spec):
    if not spec:
        return None
    unit, seconds = spec.split(":")
    return int(unit), float(seconds)


def main(argv):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Other options and SOURCES are passed to `tilefn-ingest plan` unchanged.",
        allow_abbrev=False,  # an unknown --st... must reach `plan`, not become --store
    )
    ap.add_argument("--layer", required=True, help="the layer ID")
    ap.add_argument(
        "--store",
        default=os.environ.get("TILEFN_STORE"),
        help="s3://bucket/prefix (or a folder every node shares); default $TILEFN_STORE",
    )
    ap.add_argument("--bin", help=f"path of {BIN_NAME} on every node (driver and executors)")
    ap.add_argument(
        "--unit-timeout",
        type=float,
        help="kill a unit's run-unit after this many seconds and fail its task (Spark retries "
        "it): a stuck connection then costs one attempt, not the job",
    )
    args, plan_args = ap.parse_known_args(argv)
    if not args.store:
        ap.error("--store is required (or set TILEFN_STORE)")
    if "--out" in plan_args:
        ap.error("--out is this script's (the plan is read from the store's copy)")
    kill = parse_kill(os.environ.get(TEST_KILL_ENV))

    conf = SparkConf().setIfMissing("spark.app.name", f"tilefn-ingest {args.layer}")
    sc = SparkContext.getOrCreate(conf)
    plan_url = None
    try:
        binary = find_binary(args.bin)
        with tempfile.TemporaryDirectory(prefix="tilefn-spark-") as tmp:
            local_plan = os.path.join(tmp, "plan.json")
            out = run(
                [binary, "plan", "--layer", args.layer, "--store", args.store]
                + plan_args
                + ["--out", local_plan]
            )
            with open(local_plan) as f:
                plan = json.load(f)
        # Executors read the plan from the store (the URL `plan` prints), not from this disk.
        stored = [l for l in out.stdout.splitlines() if l.startswith("plan stored at ")]
        plan_url = (
            stored[0][len("plan stored at ") :].strip()
            if stored
            else f"{plan['store'].rstrip('/')}/{plan['prefix']}plan.json"
        )
        log(f"plan {plan_url}: {len(plan['units'])} unit(s) in {len(plan['stages'])} stage(s)")

        retried = sc.accumulator([], ListParam())
        for k, units in enumerate(plan["stages"]):
            if not units:
                continue
            # The job's description is what the Spark UI lists for the job and its stage.
            sc.setJobDescription(f"tilefn {args.layer}: stage {k}, {len(units)} units")
            # One partition per unit: a task is a unit, retried and reported on its own.
            rdd = sc.parallelize(units, len(units))
            bin_arg, timeout = args.bin, args.unit_timeout  # the closure must not capture sc
            rdd.foreach(lambda n: run_unit(bin_arg, plan_url, n, timeout, kill, retried))
            log(f"stage {k}: {len(units)} unit(s) done")
        for unit, attempt in sorted(retried.value):
            log(f"unit {unit} succeeded on retry (attempt {attempt})")

        run([binary, "commit", plan_url])
    except Exception as e:  # a failed command or Spark job (its Py4J trace is long)
        lines = [l.strip() for l in str(e).strip().splitlines()]
        # From a Spark job (a task out of attempts): its last RuntimeError names the unit and
        # attempt; the traceback is in the log above.
        ours = [l for l in lines if l.startswith("RuntimeError:")][-1:]
        log(f"failed: {(ours or lines or [type(e).__name__])[0]}")
        if plan_url:
            # Finished units stay valid for this plan: finish it by hand rather than replan.
            log(f"nothing was published; to finish this plan: {BIN_NAME} run-unit {plan_url} N "
                f"(for each unit `commit` names), then {BIN_NAME} commit {plan_url}")
        return 1
    finally:
        sc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
