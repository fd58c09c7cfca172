//! Generated demo rasters (tools/demodata): bigger than any corpus file that ingests, so they
//! reach what the corpus does not: COG objects of several MB (multipart uploads), UTM and
//! geographic sources at realistic sizes, the floating-point predictor, 4-band uint16 and a
//! categorical layer. Each must ingest, validate, and (with the venv) match GDAL's exact warp.

use std::time::Duration;

use tilefn_demodata::{DEFAULT_SEED, Kind};

use crate::{oracle, util};

/// (scene, size, extra `add` arguments). 2048² float32 is ~16 MB raw: past object_store's
/// 10 MB single-put buffer.
const CASES: &[(Kind, u32, &[&str])] = &[
    (Kind::Dem, 2048, &[]),
    (Kind::Multispectral, 1024, &[]),
    (Kind::Landcover, 1024, &["--datatype", "categorical"]),
];

#[test]
fn demo_rasters_ingest_validate_and_match_gdal() {
    let python = oracle::python();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for (kind, size, extra) in CASES {
        let src = dir.path().join(format!("{}.tif", kind.name()));
        tilefn_demodata::write(*kind, *size, DEFAULT_SEED, &src)
            .unwrap_or_else(|e| panic!("generating {}: {e}", kind.name()));
        let store = dir.path().join(format!("store-{}", kind.name()));
        let url = util::store_url(&store);
        let src_arg = src.to_string_lossy();
        let layer = kind.name();
        let mut args = vec!["add", &src_arg, "--layer", layer, "--store", &url];
        args.extend(["--resampling", "nearest", "--quiet"]);
        args.extend(extra.iter());
        let o = util::run(&args, &[], Duration::from_secs(600));
        if !o.ok() || o.panicked() {
            failures.push(format!("{layer} {size}²: ingest failed: {}", o.describe()));
            continue;
        }
        eprintln!("demo {layer} {size}²: {}", o.stdout.trim());
        if let Err(e) = util::consistent_manifest(&store, layer) {
            failures.push(format!("{layer}: {e}"));
            continue;
        }
        let v = util::run(
            &["validate", layer, "--store", &url],
            &[],
            Duration::from_secs(300),
        );
        if !v.ok() {
            failures.push(format!("{layer}: validate failed: {}", v.describe()));
        }
        if let Some(python) = &python {
            oracle::check_into(&mut failures, layer, python, &store, layer, &src);
        }
    }
    assert!(
        failures.is_empty(),
        "demo rasters:\n  {}",
        failures.join("\n  ")
    );
}
