//! Ingesting a file cut into pieces equals ingesting the file (issue 16, "the same pixels").
//!
//! `pieces.py split` cuts a source into a 4×4 grid of windows that overlap their neighbours
//! by 3 pixels, written as GeoTIFFs with the source's dtype and nodata. Ingested with
//! `--resampling nearest` at the same max zoom, the 16 pieces must give the very same layer
//! as the whole file: every COG byte for byte (the output is deterministic, so identical
//! pixels mean identical bytes) and the same band statistics (count, min, max, mean, std,
//! p2, p98, histogram). Some pieces carry the source's CRS under another definition (a proj
//! string or a WKT without authority codes, so their GeoKeys differ and ingest sees another
//! CRS string): the same projection, so they must match exactly too. A piece genuinely
//! reprojected (warped by GDAL to EPSG:4326) cannot be bit-identical; it is checked against
//! a stated tolerance. Needs the venv (scripts/python-env.sh); skipped without it except
//! under CI=true.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tilefn_demodata::{DEFAULT_SEED, Kind};

use crate::{oracle, util};

const TIMEOUT: Duration = Duration::from_secs(600);

/// The Delambre-ellipsoid geographic CRS of dem-hills, written two other ways: WKT2 with
/// longitude first and WKT1, both with other names. (A proj string is no other way here:
/// GDAL recognises the ellipsoid and writes the file's own GeoKeys.)
const DELAMBRE_WKT2: &str = r#"GEOGCRS["delambre two",DATUM["datum two",ELLIPSOID["ellipsoid two",6376428,311.5]],CS[ellipsoidal,2],AXIS["longitude",east],AXIS["latitude",north],ANGLEUNIT["degree",0.0174532925199433]]"#;
const DELAMBRE_WKT: &str = r#"GEOGCS["another name",DATUM["another datum",SPHEROID["Delambre again",6376428,311.5]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]"#;
/// WGS 84 (EPSG:4326) two other ways: a datum given by its ellipsoid and a null shift, and a
/// WKT with made-up names and no codes.
const WGS84_TOWGS84: &str = "+proj=longlat +ellps=WGS84 +towgs84=0,0,0 +no_defs";
const WGS84_WKT: &str = r#"GEOGCS["my wgs",DATUM["my datum",SPHEROID["my sphere",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]"#;
/// UTM zone 31N (EPSG:32631) three other ways: a transverse Mercator on a bare ellipsoid
/// (GDAL cannot give it the EPSG code: no datum), a WKT without codes, and UTM on a datum
/// given by a null shift.
const UTM31_TMERC: &str = "+proj=tmerc +lat_0=0 +lon_0=3 +k=0.9996 +x_0=500000 +y_0=0 +a=6378137 +rf=298.257223563 +units=m +no_defs";
const UTM31_WKT: &str = r#"PROJCS["my utm",GEOGCS["my gcs",DATUM["my datum",SPHEROID["my ellipsoid",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",3],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1]]"#;
const UTM31_TOWGS84: &str =
    "+proj=utm +zone=31 +ellps=WGS84 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs";

/// Cuts `src` into 16 pieces under `out`; `alt` gives pieces (row-major index) another
/// definition of the CRS, `warp` reprojects pieces. Returns the split's report.
fn split(
    python: &Path,
    src: &Path,
    out: &Path,
    alt: &[(usize, &str)],
    warp: &[(usize, &str)],
) -> Value {
    let mut args: Vec<String> = vec!["split".into(), s(src), s(out)];
    args.extend(["--grid", "4", "--overlap", "3"].map(String::from));
    for (i, crs) in alt {
        args.push(format!("--alt={i}={crs}"));
    }
    for (i, crs) in warp {
        args.push(format!("--warp={i}={crs}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = util::py_json(python, &args);
    assert_eq!(report["pieces"].as_array().map(Vec::len), Some(16));
    report
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `add SOURCES --layer ID` with nearest resampling (and `--max-zoom` when given); returns
/// the manifest as JSON.
fn add(store: &Path, id: &str, sources: &[&str], max_zoom: Option<u8>) -> Value {
    let url = util::store_url(store);
    let z = max_zoom.map(|z| z.to_string());
    let mut args = vec!["add"];
    args.extend(sources);
    args.extend(["--layer", id, "--store", &url, "--resampling", "nearest"]);
    args.push("--quiet");
    if let Some(z) = &z {
        args.extend(["--max-zoom", z]);
    }
    let o = util::run_ok(&args, &[], TIMEOUT);
    eprintln!("pieces: {}", o.stdout.trim());
    util::manifest_json(store, id)
}

/// The plan stored beside the published version of `id`.
fn published_plan(store: &Path, id: &str, m: &Value) -> Value {
    let path = store.join(format!(
        "layers/{id}/v/{}/plan.json",
        m["version"].as_str().expect("version")
    ));
    serde_json::from_slice(&std::fs::read(path).expect("plan.json")).expect("plan JSON")
}

/// Layer `b` has layer `a`'s COGs, byte for byte, and its band statistics; the problems
/// otherwise (with a pixel comparison when bytes differ, to tell how).
fn same_layer(python: &Path, store: &Path, a: &str, b: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (ca, cb) = (util::layer_cogs(store, a), util::layer_cogs(store, b));
    let differing: Vec<&String> = ca
        .iter()
        .filter(|(k, v)| cb.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    let names = |m: &std::collections::BTreeMap<String, Vec<u8>>| m.keys().cloned().collect();
    let (na, nb): (Vec<String>, Vec<String>) = (names(&ca), names(&cb));
    if na != nb {
        problems.push(format!("{b}: COGs {nb:?}, {a} has {na:?}"));
    }
    if !differing.is_empty() {
        let dir = store.join("npz");
        std::fs::create_dir_all(&dir).expect("npz dir");
        let (fa, fb) = (dir.join(format!("{a}.npz")), dir.join(format!("{b}.npz")));
        util::py_json(python, &["levels", &s(store), a, &s(&fa)]);
        util::py_json(python, &["levels", &s(store), b, &s(&fb)]);
        let px = util::py_json(python, &["compare", &s(&fa), &s(&fb)]);
        problems.push(format!(
            "{b}: COGs {differing:?} differ from {a}'s in bytes; pixels: {px}"
        ));
    }
    if ca.is_empty() {
        problems.push(format!("{a}: no COG at all"));
    }
    let (ma, mb) = (util::manifest_json(store, a), util::manifest_json(store, b));
    for field in [
        "bands", "min_zoom", "max_zoom", "dtype", "nodata", "mask", "groups",
    ] {
        if ma[field] != mb[field] {
            problems.push(format!(
                "{b}: manifest {field} {} != {a}'s {}",
                mb[field], ma[field]
            ));
        }
    }
    problems
}

/// Whole file vs its 16 pieces (some with the CRS defined another way), through `add`, as
/// layers `whole` and `pieces` of `DIR/store`; the problems found.
fn pieces_equal_whole(python: &Path, dir: &Path, src: &Path, alt: &[(usize, &str)]) -> Vec<String> {
    let store = dir.join("store");
    let whole = add(&store, "whole", &[&s(src)], None);
    let z = whole["max_zoom"]
        .as_u64()
        .and_then(|z| u8::try_from(z).ok());
    let report = split(python, src, &dir.join("pieces"), alt, &[]);
    let glob = s(&dir.join("pieces/*.tif"));
    let m = add(&store, "pieces", &[&glob], z);
    let mut problems = same_layer(python, &store, "whole", "pieces");
    // The alternative definitions must really be written another way (else this test would
    // only repeat the plain case): GDAL or ingest reads the piece's CRS differently from
    // piece 0's, which has the file's own.
    let plan = published_plan(&store, "pieces", &m);
    let (ours0, gdal0) = (&plan["sources"][0]["crs"], &report["pieces"][0]["crs"]);
    for (i, _) in alt {
        let (ours, gdal) = (&plan["sources"][*i]["crs"], &report["pieces"][*i]["crs"]);
        eprintln!(
            "pieces: piece {i}: ingest reads {ours}, GDAL {gdal}; the file: {ours0}, {gdal0}"
        );
        if ours == ours0 && gdal == gdal0 {
            problems.push(format!(
                "piece {i}: its CRS reads as the file's ({ours}, {gdal})"
            ));
        }
    }
    problems
}

#[test]
fn dem_pieces_equal_the_whole_file() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // 333×218 float32, nodata -999999, a user-defined geographic CRS (Delambre ellipsoid).
    let src = util::corpus("georust-gdal__dem-hills.tiff");
    let problems = pieces_equal_whole(
        &python,
        dir.path(),
        &src,
        &[(5, DELAMBRE_WKT2), (10, DELAMBRE_WKT)],
    );
    assert!(
        problems.is_empty(),
        "dem-hills:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn multispectral_pieces_equal_the_whole_file() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // 4 × uint16, EPSG:4326, nodata 0 along a slanted swath edge.
    let src = dir.path().join("multispectral.tif");
    tilefn_demodata::write(Kind::Multispectral, 1024, DEFAULT_SEED, &src).expect("demodata");
    let problems = pieces_equal_whole(
        &python,
        dir.path(),
        &src,
        &[(5, WGS84_TOWGS84), (10, WGS84_WKT)],
    );
    assert!(
        problems.is_empty(),
        "multispectral:\n  {}",
        problems.join("\n  ")
    );
}

/// dem-hills' pixels (and nodata) placed in UTM 31N, 10 m pixels, across the equator at
/// longitude 0: the layer fits only z0, so at its z14 it has two stages (four stage-0 COGs
/// around the origin, then the z0..z6 COG) while staying ~2×3 tiles at z14.
fn dem_at_the_origin(python: &Path, out: &Path) {
    util::py_json(
        python,
        &[
            "shift",
            &s(&util::corpus("georust-gdal__dem-hills.tiff")),
            &s(out),
        ],
    );
}

#[test]
fn staged_pieces_through_plan_run_unit_commit_equal_add() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("dem0.tif");
    dem_at_the_origin(&python, &src);
    let alt = [(5, UTM31_TMERC), (6, UTM31_WKT), (10, UTM31_TOWGS84)];
    let mut problems = pieces_equal_whole(&python, dir.path(), &src, &alt);

    // The same pieces planned, each unit run on its own (stage by stage), committed.
    let store = dir.path().join("store");
    let url = util::store_url(&store);
    let plan_path = dir.path().join("plan.json");
    let glob = s(&dir.path().join("pieces/*.tif"));
    let z = util::manifest_json(&store, "whole")["max_zoom"].to_string();
    let pp = s(&plan_path);
    util::run_ok(
        &[
            "plan",
            &glob,
            "--layer",
            "staged",
            "--store",
            &url,
            "--resampling",
            "nearest",
            "--max-zoom",
            &z,
            "--out",
            &pp,
        ],
        &[],
        TIMEOUT,
    );
    let plan: Value = serde_json::from_slice(&std::fs::read(&plan_path).unwrap()).unwrap();
    let stages: Vec<Vec<u64>> = serde_json::from_value(plan["stages"].clone()).unwrap();
    eprintln!("pieces: staged plan: stages {stages:?}");
    assert!(
        stages.len() >= 2 && stages[0].len() >= 4,
        "the test needs two stages and several stage-0 units: {stages:?}"
    );
    for n in stages.iter().flatten() {
        util::run_ok(&["run-unit", &pp, &n.to_string(), "--quiet"], &[], TIMEOUT);
    }
    util::run_ok(&["commit", &pp], &[], TIMEOUT);
    problems.extend(same_layer(&python, &store, "pieces", "staged"));
    problems.extend(same_layer(&python, &store, "whole", "staged"));
    assert!(problems.is_empty(), "staged:\n  {}", problems.join("\n  "));
}

/// Piece 5 warped to EPSG:4326 by GDAL (nearest, its default grid of about the same
/// resolution), the others as cut.
///
/// Tolerance: nearest onto GDAL's intermediate grid and then nearest onto ours moves each
/// sample by up to half an intermediate pixel, so inside the warped piece a pixel may take a
/// neighbouring source pixel's value (≤ 50% of them in theory at equal resolutions; 16%
/// observed). So: outside the warped piece's EPSG:3857 box every max-zoom pixel and mask bit
/// is identical (the other pieces are unchanged, and merge `first` is per pixel); inside,
/// at most [`MAX_INSIDE_DIFF`] of the pixels valid in both differ, every value is one of the
/// source's values (nearest never invents one), the count of valid pixels differs by no
/// more than the mask bits that differ, and the mean moves by no more than the differing
/// pixels could move it (each by at most max − min).
#[test]
fn a_reprojected_piece_stays_within_tolerance() {
    const MAX_INSIDE_DIFF: f64 = 0.35;
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("dem0.tif");
    dem_at_the_origin(&python, &src);
    let store = dir.path().join("store");
    let whole = add(&store, "whole", &[&s(&src)], None);
    let z = whole["max_zoom"]
        .as_u64()
        .and_then(|z| u8::try_from(z).ok());
    let report = split(
        &python,
        &src,
        &dir.path().join("pieces"),
        &[],
        &[(5, "EPSG:4326")],
    );
    add(&store, "warped", &[&s(&dir.path().join("pieces/*.tif"))], z);

    let b = &report["pieces"][5]["bounds_3857"];
    let bbox: Vec<String> = (0..4).map(|i| b[i].to_string()).collect();
    let (fa, fb) = (dir.path().join("a.npz"), dir.path().join("b.npz"));
    util::py_json(&python, &["levels", &s(&store), "whole", &s(&fa)]);
    util::py_json(&python, &["levels", &s(&store), "warped", &s(&fb)]);
    let outside = format!("--outside={}", bbox.join(","));
    let c = util::py_json(
        &python,
        &["compare", &s(&fa), &s(&fb), &outside, "--source", &s(&src)],
    );
    eprintln!("pieces: reprojected piece: {c}");
    let n = |k: &str| c[k].as_u64().unwrap_or(u64::MAX);
    assert!(n("arrays") > 0 && n("inside_both_valid") > 1000, "{c}");
    assert_eq!((n("outside_diff"), n("outside_mask_diff")), (0, 0), "{c}");
    assert_eq!(n("not_source_values"), 0, "{c}");
    let frac = n("inside_diff") as f64 / n("inside_both_valid") as f64;
    assert!(frac <= MAX_INSIDE_DIFF, "{frac} of the pixels differ: {c}");

    let sa = &whole["bands"][0]["stats"];
    let sb = &util::manifest_json(&store, "warped")["bands"][0]["stats"];
    let f = |s: &Value, k: &str| s[k].as_f64().unwrap();
    let count_diff = (f(sa, "count") - f(sb, "count")).abs();
    assert!(count_diff <= n("inside_mask_diff") as f64, "{sa} vs {sb}");
    assert!(f(sb, "min") >= f(sa, "min") && f(sb, "max") <= f(sa, "max"));
    let moved = (n("inside_diff") + n("inside_mask_diff")) as f64 * (f(sa, "max") - f(sa, "min"));
    let mean_diff = (f(sa, "mean") - f(sb, "mean")).abs();
    assert!(
        mean_diff <= moved / f(sa, "count"),
        "mean {} vs {}",
        f(sa, "mean"),
        f(sb, "mean")
    );
}
