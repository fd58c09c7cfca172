//! GDAL as the oracle: ingest corpus files with nearest resampling, then let
//! `tests/oracle/gdal_oracle.py` validate every COG with rio-cogeo and compare the max zoom
//! with GDAL's own exact warp of the source onto the same grid.
//!
//! Needs the venv from `scripts/python-env.sh` (rasterio 1.4.4 with GDAL 3.10, rio-cogeo).
//! Without it the test is skipped with a notice, except under CI=true where it fails.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util;

/// Files chosen to cover the main paths with CRSs on the WGS 84 datum (NAD27 and friends
/// need datum grids, where PROJ's choice is not ours to test): UTM north/south, geographic,
/// already-Mercator, the antimeridian, nodata (0, 255, -9999, NaN), alpha, 1-4 bands and
/// uint8/uint16/float32/float64.
const FILES: &[&str] = &[
    "rasterio__RGB.byte.tif",                    // 3 x uint8, UTM 18N, nodata 0
    "georust-gdal__labels.tif",                  // categorical uint8, UTM 17N, nodata 255
    "rio-tiler__cog.tif",                        // uint16 COG with overviews, UTM 21N
    "rio-tiler__web.tif",                        // uint16 already in EPSG:3857, nodata 0
    "rio-cogeo__image_nan.tif",                  // float64, EPSG:4326, NaN nodata
    "cogeotiff-js__DEM_BS28_2016_1000_1141.tif", // float32 DEM, NZTM2000, nodata -9999
    "rasterio__RGBA.uint16.tif",                 // uint16 + alpha, UTM 12N
    "rio-tiler__pix4d_alpha_nodata.tif",         // RGBA uint8, UTM 50S (southern)
    "rio-tiler__cog_dateline.tif",               // UTM 60N across the antimeridian
];

/// Also written with `--compress deflate` (FILES use ingest's default, zstd), read back by
/// GDAL: a float DEM (floating-point predictor) and 16-bit imagery (horizontal differencing).
const DEFLATE_FILES: &[&str] = &[
    "cogeotiff-js__DEM_BS28_2016_1000_1141.tif",
    "rio-tiler__cog.tif",
];

pub const MIN_IDENTICAL: f64 = 0.999;
pub const MAX_MASK_MISMATCH: f64 = 0.001;

/// The venv python, or None when the oracle must be skipped (fails under CI).
pub fn python() -> Option<std::path::PathBuf> {
    let python = util::venv_python();
    util::require(
        "the Python venv (.venv)",
        python.is_some(),
        "run scripts/python-env.sh",
    )
    .then_some(python)
    .flatten()
}

/// Runs the oracle on layer `layer` of the file store `store` made from `src`, prints its
/// figures and returns the problems found (empty = all thresholds met).
/// Runs [`check`] and records any problems under `label`.
pub fn check_into(
    failures: &mut Vec<String>,
    label: &str,
    python: &Path,
    store: &Path,
    layer: &str,
    src: &Path,
) {
    let problems = check(python, store, layer, src);
    if !problems.is_empty() {
        failures.push(format!("{label}: {}", problems.join("; ")));
    }
}

pub fn check(python: &Path, store: &Path, layer: &str, src: &Path) -> Vec<String> {
    let script = util::repo_root().join("tests/oracle/gdal_oracle.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .args(["--store", &store.to_string_lossy(), "--layer", layer])
        .args(["--source", &src.to_string_lossy(), "--bands-check"])
        .output()
        .expect("cannot run the venv python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return vec![format!(
            "oracle crashed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )];
    }
    let Some(report) = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
    else {
        return vec![format!("oracle printed no JSON: {stdout}")];
    };
    let identical = report["identical_fraction"].as_f64();
    let mismatch = report["mask_mismatch_fraction"].as_f64();
    let name = src
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    eprintln!(
        "oracle {name}: z{} cogs {}/{} valid, {} px compared, identical {}, mask mismatch {} ({} px), transformer {}",
        report["max_zoom"],
        report["valid_cogs"],
        report["cogs"],
        report["pixels_compared"],
        identical.map_or("n/a".into(), |v| format!("{v:.6}")),
        mismatch.map_or("n/a".into(), |v| format!("{v:.6}")),
        report["mask_mismatch"],
        report["transformer"].as_str().unwrap_or("?"),
    );
    let mut problems = Vec::new();
    if report["cogs"] != report["valid_cogs"] || report["cogs"].as_u64() == Some(0) {
        problems.push(format!("invalid COGs: {}", report["cog_errors"]));
    }
    for list in ["grid_errors", "bands_errors", "notes"] {
        if report[list].as_array().is_some_and(|a| !a.is_empty()) {
            problems.push(format!("{list}: {}", report[list]));
        }
    }
    if report["pixels_compared"].as_u64().unwrap_or(0) == 0 {
        problems.push("no pixel was valid in both".into());
    }
    if identical.is_none_or(|v| v < MIN_IDENTICAL) {
        problems.push(format!(
            "identical_fraction {identical:?} < {MIN_IDENTICAL}"
        ));
    }
    if mismatch.is_none_or(|v| v > MAX_MASK_MISMATCH) {
        problems.push(format!(
            "mask_mismatch_fraction {mismatch:?} > {MAX_MASK_MISMATCH}"
        ));
    }
    problems
}

#[test]
fn max_zoom_matches_gdal_exact_warp() {
    let Some(python) = python() else { return };
    let mut failures = Vec::new();
    let cases = FILES.iter().map(|f| (*f, "zstd"));
    for (file, compress) in cases.chain(DEFLATE_FILES.iter().map(|f| (*f, "deflate"))) {
        let store = tempfile::tempdir().expect("tempdir");
        let url = util::store_url(store.path());
        let src = util::corpus(file);
        let layer = "oracle";
        let src_arg = src.to_string_lossy();
        let o = util::run(
            &[
                "add",
                &src_arg,
                "--layer",
                layer,
                "--store",
                &url,
                "--resampling",
                "nearest",
                "--compress",
                compress,
                "--quiet",
            ],
            &[],
            Duration::from_secs(300),
        );
        let name = format!("{file} ({compress})");
        if !o.ok() {
            failures.push(format!("{name}: ingest failed: {}", o.describe()));
            continue;
        }
        check_into(&mut failures, &name, &python, store.path(), layer, &src);
    }
    assert!(
        failures.is_empty(),
        "GDAL oracle:\n  {}",
        failures.join("\n  ")
    );
}
