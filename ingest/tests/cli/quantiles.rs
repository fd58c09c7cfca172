//! Whole-layer quantiles and class counts in the manifest (issue 17), against numpy over the
//! max-zoom pixels read back from our COGs with rasterio (`wholelayer.py`; needs the venv).
//!
//! - exact quantiles equal `numpy.percentile` on a float DEM, a uint16 scene and a
//!   categorical land cover, whose value counts and ground areas match too;
//! - a float layer with more distinct values than ingest keeps falls back to the KLL sketch,
//!   and every grid point's rank is within the stated rank error;
//! - the same pixels as one unit and as several units (straddling longitude 0, so split
//!   across COGs) give the same quantiles, counts and areas.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tilefn_demodata::{DEFAULT_SEED, Kind};

use crate::{oracle, util};

const TIMEOUT: Duration = Duration::from_secs(600);

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `wholelayer.py STORE LAYER [--classes]`: numpy's figures per band.
fn numpy_stats(python: &Path, store: &Path, layer: &str, classes: bool) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/wholelayer.py");
    let mut cmd = Command::new(python);
    cmd.arg(script).arg(store).arg(layer);
    if classes {
        cmd.arg("--classes");
    }
    let out = cmd.output().expect("cannot run the venv python");
    assert!(
        out.status.success(),
        "wholelayer.py {layer}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(line.lines().last().unwrap_or("{}")).expect("JSON");
    v["bands"].as_array().cloned().unwrap_or_default()
}

fn add(store: &Path, id: &str, src: &str, extra: &[&str]) -> Value {
    let url = util::store_url(store);
    let mut args = vec!["add", src, "--layer", id, "--store", &url, "--quiet"];
    args.extend(extra);
    util::run_ok(&args, &[], TIMEOUT);
    util::manifest_json(store, id)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// The problems of band `b`'s exact quantiles (and, for classes, counts and areas) against
/// numpy's.
fn compare_exact(id: &str, b: usize, ours: &Value, numpy: &Value, classes: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let q = &ours["quantiles"];
    if q["method"] != "exact" || q["rank_error"] != 0.0 {
        problems.push(format!(
            "{id} band {b}: {} / {}",
            q["method"], q["rank_error"]
        ));
    }
    let (mine, want) = (floats(&q["values"]), floats(&numpy["percentiles"]));
    if mine.len() != 201 || mine != want {
        let diffs: Vec<String> = mine
            .iter()
            .zip(&want)
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("p{}: {a} vs numpy {b}", i as f64 / 2.0))
            .collect();
        problems.push(format!("{id} band {b}: {} values; {diffs:?}", mine.len()));
    }
    if ours["count"] != numpy["count"] {
        problems.push(format!(
            "{id} band {b}: count {} vs {}",
            ours["count"], numpy["count"]
        ));
    }
    if classes {
        if ours["value_counts"] != numpy["value_counts"] {
            problems.push(format!(
                "{id} band {b}: value_counts {} vs numpy {}",
                ours["value_counts"], numpy["value_counts"]
            ));
        }
        let (a, n) = (&ours["area_m2"], &numpy["area_m2"]);
        for (k, want) in n.as_object().into_iter().flatten() {
            let (got, want) = (
                a[k].as_f64().unwrap_or(f64::NAN),
                want.as_f64().unwrap_or(0.0),
            );
            if (got - want).abs() > want.abs() * 1e-9 {
                problems.push(format!("{id} band {b}: area_m2[{k}] {got} vs numpy {want}"));
            }
        }
    }
    problems
}

#[test]
fn exact_quantiles_and_class_counts_equal_numpy() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let ms = dir.path().join("ms.tif");
    tilefn_demodata::write(Kind::Multispectral, 512, DEFAULT_SEED, &ms).expect("demodata");
    let lc = dir.path().join("lc.tif");
    tilefn_demodata::write(Kind::Landcover, 512, DEFAULT_SEED, &lc).expect("demodata");
    let hills = util::corpus("georust-gdal__dem-hills.tiff");
    let cases: [(&str, String, &[&str]); 3] = [
        ("hills", s(&hills), &[]),
        ("ms", s(&ms), &[]),
        ("lc", s(&lc), &["--datatype", "categorical"]),
    ];
    let mut problems = Vec::new();
    for (id, src, extra) in cases {
        let m = add(&store, id, &src, extra);
        let classes = !extra.is_empty();
        let numpy = numpy_stats(&python, &store, id, classes);
        assert_eq!(
            numpy.len(),
            m["bands"].as_array().map_or(0, Vec::len),
            "{id}"
        );
        for (b, want) in numpy.iter().enumerate() {
            let ours = &m["bands"][b]["stats"];
            problems.extend(compare_exact(id, b, ours, want, classes));
            if m["dtype"] == "float32" {
                let p = floats(&want["percentiles"]);
                if ours["p2"].as_f64() != p.get(4).copied()
                    || ours["p98"].as_f64() != p.get(196).copied()
                {
                    problems.push(format!(
                        "{id}: p2/p98 {} {} are not numpy's",
                        ours["p2"], ours["p98"]
                    ));
                }
            }
        }
        eprintln!("quantiles: {id}: {} band(s) checked", numpy.len());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_layer_of_many_values_uses_the_sketch_within_its_rank_error() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let src = dir.path().join("dem.tif");
    // ~2.4 M float32 pixels, bilinear: far more than 2^20 distinct values.
    tilefn_demodata::write(Kind::Dem, 1536, DEFAULT_SEED, &src).expect("demodata");
    let m = add(&store, "big", &s(&src), &[]);
    let q = &m["bands"][0]["stats"]["quantiles"];
    assert_eq!(q["method"], "kll", "{}", q["method"]);
    let stated = q["rank_error"].as_f64().expect("rank_error");
    // numpy's sorted values, as percentiles 0..100 of every rank, are too many for a JSON
    // line: ask numpy for the ranks of our grid values instead.
    let script = r#"
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from wholelayer import band_pixels
vals = np.sort(band_pixels(sys.argv[2], sys.argv[3])[0][0])
grid = json.loads(sys.argv[4])
n = vals.size
worst = 0.0
for i, v in enumerate(grid):
    q = i / 200
    lo = np.searchsorted(vals, v, "left") / n
    hi = np.searchsorted(vals, v, "right") / n
    worst = max(worst, lo - q if q < lo else (q - hi if q > hi else 0.0))
print(json.dumps({"n": int(n), "worst": worst}))
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli"))
        .arg(&store)
        .arg("big")
        .arg(q["values"].to_string())
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(out.stdout.trim_ascii()).expect("JSON");
    let worst = r["worst"].as_f64().expect("worst");
    eprintln!(
        "quantiles: sketch over {} pixels: worst rank error {worst:.5}, stated {stated:.5}",
        r["n"]
    );
    assert!(worst <= stated, "rank error {worst} > stated {stated}");
}

/// `pieces.py write`: 40×30 float32 classes (1, 2, 2.5, 3 and nodata -1) at z12 from pixel
/// (`col0`, 50) of tile (12, `x`, 1400).
fn write_classes(python: &Path, out: &Path, x: u32, col0: u32) {
    let vals: Vec<String> = (0..30 * 40)
        .map(|i| ["1", "2", "2.5", "3", "-1", "2"][(i * 7 / 3) % 6].to_owned())
        .collect();
    #[rustfmt::skip]
    util::py_json(python, &[
        "write", &s(out), "--dtype", "float32", "--nodata", "-1", "--z", "12",
        "--x", &x.to_string(), "--y", "1400", "--col0", &col0.to_string(), "--row0", "50",
        "--cols", "40", "--rows", "30", "--values", &vals.join(","),
    ]);
}

#[test]
fn several_units_give_the_same_quantiles_and_counts_as_one() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let (one, split) = (dir.path().join("one.tif"), dir.path().join("split.tif"));
    // The same rows; columns inside one tile east of longitude 0, or 20 on each side of it.
    write_classes(&python, &one, 2048, 100);
    write_classes(&python, &split, 2047, 236);
    let extra = ["--datatype", "categorical", "--max-zoom", "12"];
    let a = add(&store, "one", &s(&one), &extra);
    let b = add(&store, "split", &s(&split), &extra);
    let stage0 = |m: &Value, id: &str| {
        let path = store.join(format!(
            "layers/{id}/v/{}/plan.json",
            m["version"].as_str().unwrap()
        ));
        let plan: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        plan["stages"][0].as_array().map_or(0, Vec::len)
    };
    assert_eq!(stage0(&a, "one"), 1);
    assert!(
        stage0(&b, "split") >= 2,
        "the split layer needs several stage-0 units"
    );
    let (sa, sb) = (&a["bands"][0]["stats"], &b["bands"][0]["stats"]);
    for field in ["quantiles", "value_counts", "area_m2", "count", "p2", "p98"] {
        assert_eq!(sa[field], sb[field], "{field}");
    }
    assert_eq!(sa["value_counts"]["2.5"], 200, "{}", sa["value_counts"]);
    let mut problems = Vec::new();
    for id in ["one", "split"] {
        let numpy = numpy_stats(&python, &store, id, true);
        let m = util::manifest_json(&store, id);
        problems.extend(compare_exact(
            id,
            0,
            &m["bands"][0]["stats"],
            &numpy[0],
            true,
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
