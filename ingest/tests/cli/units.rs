//! Bad input among many sources, and work units run by hand (issue 16, "bad input").
//!
//! A source that fails to open, mixed band layouts and a glob matching nothing fail naming
//! the culprit and publish nothing. The work-unit tests use a plan with two stages: dem-hills'
//! pixels placed across the equator at longitude 0 (`pieces.py shift`), a layer that fits
//! only z0, so its z14 has four stage-0 COGs and one stage-1 COG; they need the venv to write
//! that source.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::{oracle, util};

const TIMEOUT: Duration = Duration::from_secs(120);

fn add(store: &Path, sources: &[&str]) -> util::Outcome {
    let url = util::store_url(store);
    let mut args = vec!["add"];
    args.extend(sources);
    args.extend(["--layer", "bad", "--store", &url, "--quiet"]);
    util::run(&args, &[], TIMEOUT)
}

fn nothing_published(store: &Path) -> bool {
    !util::manifest_path(store, "bad").exists()
}

#[test]
fn a_source_that_fails_to_open_is_named_and_nothing_is_published() {
    let good = util::corpus("georust-gdal__dem-hills.tiff");
    let good = good.to_string_lossy();
    let broken = util::corpus("broken__byte_header_only.tif");
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-file.tif");
    for bad in [broken.to_string_lossy(), missing.to_string_lossy()] {
        let store = dir.path().join("store");
        let o = add(&store, &[&good, &bad, &good]);
        assert!(!o.ok() && !o.panicked(), "{bad}: {}", o.describe());
        let name = Path::new(bad.as_ref())
            .file_name()
            .unwrap()
            .to_string_lossy();
        assert!(o.stderr.contains(name.as_ref()), "{bad}: {}", o.describe());
        assert!(nothing_published(&store), "{bad}: a manifest was published");
    }
}

#[test]
fn mixed_band_layouts_are_refused_naming_the_file() {
    let one = util::corpus("georust-gdal__dem-hills.tiff");
    let three = util::corpus("rasterio__RGB.byte.tif");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let o = add(&store, &[&one.to_string_lossy(), &three.to_string_lossy()]);
    assert!(!o.ok() && !o.panicked(), "{}", o.describe());
    assert!(
        o.stderr.contains("rasterio__RGB.byte.tif") && o.stderr.contains("band"),
        "{}",
        o.describe()
    );
    assert!(nothing_published(&store));
}

#[test]
fn a_glob_matching_nothing_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pattern = dir.path().join("nothing-*.tif");
    let store = dir.path().join("store");
    let good = util::corpus("georust-gdal__dem-hills.tiff");
    let o = add(
        &store,
        &[&good.to_string_lossy(), &pattern.to_string_lossy()],
    );
    assert_eq!(o.code, Some(2), "{}", o.describe());
    assert!(o.stderr.contains("nothing-*.tif"), "{}", o.describe());
    assert!(nothing_published(&store));
}

fn run_unit(plan: &str, n: u64) -> util::Outcome {
    util::run(&["run-unit", plan, &n.to_string(), "--quiet"], &[], TIMEOUT)
}

#[test]
fn work_units_by_hand() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("dem0.tif");
    let src_arg = src.to_string_lossy();
    let dem = util::corpus("georust-gdal__dem-hills.tiff");
    util::py_json(&python, &["shift", &dem.to_string_lossy(), &src_arg]);
    let store = dir.path().join("store");
    let url = util::store_url(&store);
    let plan_path = dir.path().join("plan.json");
    let plan = plan_path.to_string_lossy().into_owned();
    #[rustfmt::skip]
    util::run_ok(
        &["plan", &src_arg, "--layer", "units", "--store", &url, "--max-zoom", "14", "--out", &plan],
        &[],
        TIMEOUT,
    );
    let p: Value = serde_json::from_slice(&std::fs::read(&plan_path).unwrap()).unwrap();
    let stages: Vec<Vec<u64>> = serde_json::from_value(p["stages"].clone()).unwrap();
    assert!(
        stages.len() == 2 && stages[0].len() >= 2 && stages[1].len() == 1,
        "stages {stages:?}"
    );
    let (first, parent) = (&stages[0], stages[1][0]);
    let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");

    // Commit before any unit ran: refused, naming every unit; nothing published.
    let o = util::run(&["commit", &plan], &[], TIMEOUT);
    let all: Vec<u64> = stages.iter().flatten().copied().collect();
    assert!(!o.ok() && !o.panicked(), "{}", o.describe());
    assert!(o.stderr.contains(&list(&all)), "{}", o.describe());
    assert!(!util::manifest_path(&store, "units").exists());

    // The stage-1 unit before its stage-0 children: refused, naming them.
    let o = run_unit(&plan, parent);
    assert!(!o.ok() && !o.panicked(), "{}", o.describe());
    assert!(o.stderr.contains(&list(first)), "{}", o.describe());

    // A unit twice: built, then "already done".
    let o = util::run_ok(&["run-unit", &plan, &first[0].to_string()], &[], TIMEOUT);
    assert!(o.stdout.contains("built"), "{}", o.stdout);
    let o = run_unit(&plan, first[0]);
    assert!(o.ok() && o.stdout.contains("already done"), "{o:?}");

    // Commit with some units still missing names exactly those.
    let o = util::run(&["commit", &plan], &[], TIMEOUT);
    assert!(!o.ok(), "{}", o.describe());
    let rest: Vec<u64> = all[1..].to_vec();
    assert!(o.stderr.contains(&list(&rest)), "{}", o.describe());

    // Two runs of one unit at the same time: both succeed.
    for &n in &first[1..] {
        let args = ["run-unit", &plan, &n.to_string(), "--quiet"].map(String::from);
        let spawn = || {
            let a = args.clone();
            std::thread::spawn(move || {
                let a: Vec<&str> = a.iter().map(String::as_str).collect();
                util::run(&a, &[], TIMEOUT)
            })
        };
        let (x, y) = (spawn(), spawn());
        for o in [x.join().unwrap(), y.join().unwrap()] {
            assert!(o.ok(), "concurrent run-unit {n}: {}", o.describe());
        }
    }
    util::run_ok(
        &["run-unit", &plan, &parent.to_string(), "--quiet"],
        &[],
        TIMEOUT,
    );
    util::run_ok(&["commit", &plan], &[], TIMEOUT);
    let m = util::consistent_manifest(&store, "units").unwrap();
    assert!(m.objects.len() > first.len(), "{} objects", m.objects.len());
    util::run_ok(&["validate", "units", "--store", &url], &[], TIMEOUT);
}
