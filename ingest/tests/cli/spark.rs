//! The Spark driver (`ingest/spark/tilefn_spark.py`) for real: Spark in local mode with the
//! venv's PySpark (`scripts/spark-env.sh`: Java 17 from Debian, pinned pyspark) against
//! s3s-fs, one unit SIGKILLed on its first attempt by the driver's test hook. The layer must
//! equal `tilefn-ingest add`'s, COG for COG, byte for byte. Also: `commit` refuses a plan whose
//! units have not run, naming them.
//!
//! Skipped with a notice when s3s-fs, java or `.venv/bin/spark-submit` is missing, except
//! under CI=true where it fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tilefn_catalog::Manifest;

use crate::util;

/// Three small single-band uint8 sources far apart (California, Florida, Pennsylvania). At
/// `MAX_ZOOM` 15 the layer is one z8-anchored COG per source (stage 0: units 0, 1, 2) and the
/// z1..7 overview COG built from them (stage 1: unit 3).
const SOURCES: [&str; 3] = [
    "django-raster__raster.tif",
    "rasterio__byte.tif",
    "georust-gdal__labels.tif",
];
const MAX_ZOOM: &str = "15";
/// The Florida unit, the biggest (units are numbered heaviest first within a stage): ~1.6 s
/// of CPU in a debug build, ~1 s in a release build.
const KILL_UNIT: usize = 0;
/// The hook kills after this much CPU time of `run-unit` (not wall time, which a loaded
/// machine stretches), so the kill lands a quarter to a third into the unit's work.
const KILL_AFTER: &str = "0.4";
const STORE: &str = "s3://bucket/tiles";
const TIMEOUT: Duration = Duration::from_secs(300);

fn spark_submit() -> Option<PathBuf> {
    let p = util::repo_root().join(".venv/bin/spark-submit");
    let found = p.is_file() && util::on_path("java").is_some();
    util::require(
        "Spark (.venv/bin/spark-submit and java)",
        found,
        "run scripts/spark-env.sh",
    )
    .then_some(p)
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn ok(args: &[&str], env: &[(&'static str, String)]) -> util::Outcome {
    util::run_ok(args, &env_refs(env), TIMEOUT)
}

/// Runs any program like `util::run` runs the ingest binary: pipes drained on threads,
/// killed after `timeout`.
fn run_program(mut cmd: Command, timeout: Duration) -> util::Outcome {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let (status, timed_out) = util::wait_timeout(&mut child, timeout);
    util::Outcome {
        code: status.and_then(|s| s.code()),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        timed_out,
        elapsed: start.elapsed(),
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn spark_driver_with_a_killed_unit_equals_add() {
    let Some(s3s) = util::s3s_fs() else { return };
    let Some(spark) = spark_submit() else { return };
    let server = util::S3Server::start(&s3s);
    let env = server.env();
    let tmp = tempfile::tempdir().expect("tempdir");
    let sources: Vec<String> = SOURCES
        .iter()
        .map(|f| util::corpus(f).to_string_lossy().into_owned())
        .collect();
    let with_sources = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        v.extend(sources.iter().cloned());
        v
    };

    // 1. A plan whose units have not run: its shape, and commit's refusal.
    let plan_file = tmp.path().join("plan.json");
    let plan_file_s = plan_file.to_string_lossy().into_owned();
    let args = with_sources(&[
        "plan",
        "--layer",
        "pending",
        "--store",
        STORE,
        "--max-zoom",
        MAX_ZOOM,
        "--out",
        &plan_file_s,
    ]);
    let o = ok(&args.iter().map(String::as_str).collect::<Vec<_>>(), &env);
    let plan_url = o
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("plan stored at "))
        .unwrap_or_else(|| panic!("plan printed no URL: {:?}", o.stdout))
        .trim()
        .to_owned();
    assert!(
        plan_url.starts_with("s3://bucket/tiles/layers/pending/v/"),
        "{plan_url}"
    );
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    let stages: Vec<Vec<u64>> = serde_json::from_value(plan["stages"].clone()).unwrap();
    // Stage 0 has several units and a stage 1 reads them back; and units are numbered stage
    // by stage, contiguously, which the Kubernetes Indexed Job (ingest/k8s) relies on.
    assert_eq!(stages, [vec![0, 1, 2], vec![3]], "stages of the plan");

    let refused = util::run(&["commit", &plan_url], &env_refs(&env), TIMEOUT);
    assert_eq!(
        refused.code,
        Some(1),
        "commit of an unrun plan: {}",
        refused.describe()
    );
    assert!(
        refused
            .stderr
            .contains("4 of 4 unit(s) have not finished: 0, 1, 2, 3"),
        "commit does not name the missing units: {}",
        refused.describe()
    );
    ok(&["run-unit", &plan_url, "0", "--quiet"], &env);
    let refused = util::run(&["commit", &plan_url], &env_refs(&env), TIMEOUT);
    assert_eq!(
        refused.code,
        Some(1),
        "commit with 3 units missing: {}",
        refused.describe()
    );
    assert!(
        refused.stderr.contains("have not finished: 1, 2, 3"),
        "{}",
        refused.describe()
    );
    assert!(
        !util::manifest_path(&server.bucket_dir().join("tiles"), "pending").exists(),
        "a refused commit published a manifest"
    );

    // 2. The reference: every unit on local threads.
    let args = with_sources(&[
        "add",
        "--layer",
        "local",
        "--store",
        STORE,
        "--max-zoom",
        MAX_ZOOM,
        "--quiet",
    ]);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>(), &env);

    // 3. Spark: local[2,4] = 2 task slots, 4 attempts per task (local mode's default is 1, no
    // retry). The binary is shipped with --files, the way a cluster gets it.
    let script = util::repo_root().join("ingest/spark/tilefn_spark.py");
    let mut cmd = Command::new(&spark);
    cmd.args(["--master", "local[2,4]", "--driver-memory", "1g"])
        .args([
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.log.level=WARN",
        ])
        .arg("--files")
        .arg(util::bin())
        .arg(&script)
        .args(["--layer", "spark", "--store", STORE, "--max-zoom", MAX_ZOOM])
        // A hung unit becomes a failed, retried attempt (and a clear failure below), not a
        // test that sits until TIMEOUT.
        .args(["--unit-timeout", "120"])
        .args(&sources)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        // The launcher finds its Spark home through this python; workers run it too.
        .env("PYSPARK_PYTHON", util::repo_root().join(".venv/bin/python"))
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env(
            "TILEFN_SPARK_TEST_KILL",
            format!("{KILL_UNIT}:{KILL_AFTER}"),
        )
        .env_remove("SPARK_HOME")
        .env_remove("SPARK_CONF_DIR")
        .env_remove("PYSPARK_DRIVER_PYTHON");
    let o = run_program(cmd, TIMEOUT);
    // The driver's Python prints to the JVM's stdout (spark-submit merges it there), Spark's
    // log4j and the executors' Python workers to stderr.
    let log = &format!("{}\n{}", o.stdout, o.stderr);
    assert!(
        o.ok(),
        "spark-submit failed: exit {:?}{} after {:.1}s; log:\n{}",
        o.code,
        if o.timed_out { " (timed out)" } else { "" },
        o.elapsed.as_secs_f64(),
        tail(log, 80)
    );
    eprintln!(
        "spark: driver + 2 stages + commit in {:.1} s",
        o.elapsed.as_secs_f64()
    );

    // The retry, from three sides: Spark's scheduler lost exactly one task (its WARN), that
    // task was the hook's, and the unit's task then succeeded as attempt 1 (the driver's
    // summary comes from TaskContext.attemptNumber of the successful attempt).
    let lost: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN TaskSetManager: Lost task"))
        .collect();
    assert_eq!(lost.len(), 1, "lost tasks: {lost:#?}\n{}", tail(log, 80));
    let hook = format!("test hook: failing [unit {KILL_UNIT} attempt 0]");
    assert!(
        log.contains(&hook),
        "no `{hook}` in the log:\n{}",
        tail(log, 80)
    );
    let summary = format!("unit {KILL_UNIT} succeeded on retry (attempt 1)");
    assert!(log.contains(&summary), "no `{summary}`:\n{}", tail(log, 80));
    assert_eq!(
        log.matches("succeeded on retry").count(),
        1,
        "another unit was retried:\n{}",
        tail(log, 80)
    );
    // The kill hit a running unit (not one that had finished), and the retry rebuilt it.
    assert!(
        log.contains(&format!(
            "{hook} at {KILL_AFTER} CPU s; killed it (SIGKILL)"
        )),
        "unit {KILL_UNIT} was not killed while running:\n{}",
        tail(log, 80)
    );
    let rebuilt = format!("[unit {KILL_UNIT} attempt 1] unit {KILL_UNIT} built");
    assert!(
        log.contains(&rebuilt),
        "no `{rebuilt}` in the executor log:\n{}",
        tail(log, 80)
    );
    assert!(log.contains("published spark version"), "{}", tail(log, 40));

    // 4. Both layers validate, and agree.
    for id in ["local", "spark"] {
        ok(&["validate", id, "--store", STORE], &env);
    }
    let tiles = server.bucket_dir().join("tiles");
    let local = util::consistent_manifest(&tiles, "local").unwrap_or_else(|e| panic!("{e}"));
    let spark = util::consistent_manifest(&tiles, "spark").unwrap_or_else(|e| panic!("{e}"));
    same_layer(&tiles, &local, &spark);
}

/// The same layer but for id, name, version, creation time and the keys' prefix: the
/// manifests (statistics, groups, zooms, bounds, objects) agree and every COG has the same
/// bytes.
fn same_layer(root: &Path, a: &Manifest, b: &Manifest) {
    let rel = |m: &Manifest| -> Vec<(String, u64, Option<u64>)> {
        let mut v: Vec<_> = m
            .objects
            .iter()
            .map(|o| {
                let key = o.key.strip_prefix(&m.prefix);
                let key = key.unwrap_or_else(|| panic!("{} outside {}", o.key, m.prefix));
                (key.to_owned(), o.size, o.header_len)
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(a.objects.len(), 4, "objects of {}", a.id);
    assert_eq!(
        rel(a),
        rel(b),
        "objects (key after the prefix, size, header)"
    );
    assert_eq!((a.min_zoom, a.max_zoom), (b.min_zoom, b.max_zoom), "zooms");
    assert_eq!(a.groups, b.groups, "groups");
    assert_eq!(a.bands, b.bands, "bands (statistics)");
    assert_eq!(a.bounds, b.bounds, "bounds");

    // Everything else too, once the run-specific fields are taken out.
    let normal = |m: &Manifest| {
        let mut m = m.clone();
        (m.id, m.name, m.version, m.created, m.prefix) = Default::default();
        m.objects.clear();
        m
    };
    assert_eq!(
        normal(a),
        normal(b),
        "manifests (run-specific fields aside)"
    );

    for (key, _, _) in rel(a) {
        let x = std::fs::read(root.join(format!("{}{key}", a.prefix))).unwrap();
        let y = std::fs::read(root.join(format!("{}{key}", b.prefix))).unwrap();
        assert!(
            x == y,
            "{key}: the COGs differ ({} vs {} bytes)",
            x.len(),
            y.len()
        );
    }
}
