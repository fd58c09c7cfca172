//! GDAL as the oracle for `/export`: corpus GeoTIFFs ingested with `tilefn-ingest` into a
//! directory store, exported through the `Service` (as the server and the Worker run it),
//! and read back with rasterio by `tests/oracle/export_oracle.py`, which checks the window,
//! CRS and transform on its own, compares values and validity with the `/tiles` GeoTIFFs
//! of the same zoom pasted at their georeferenced offsets, and runs `rio cogeo validate` on
//! the large exports.
//!
//! Needs the venv from `scripts/python-env.sh`; without it the test is skipped with a
//! notice, except under CI=true where it fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tilefn_catalog::Datatype;
use tilefn_ingest::add::add;
use tilefn_ingest::options::LayerOptions;
use tilefn_ingest::resample::Resampling;
use tilefn_ingest::store::Store;
use tilefn_raster::mercator::{ORIGIN_SHIFT, TILE_SIZE, tile_range};
use tilefn_raster::{Bounds, TileCoord};
use tilefn_storage::ObjectStoreBucket;
use tilefn_tiler::testkit::get;
use tilefn_tiler::{Config, Service};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// `(layer, corpus file, datatype)`: nodata float, masked integer (no nodata), categories.
const LAYERS: &[(&str, &str, Datatype)] = &[
    (
        "dem",
        "cogeotiff-js__DEM_BS28_2016_1000_1141.tif",
        Datatype::Continuous,
    ),
    ("cog", "rio-tiler__cog.tif", Datatype::Continuous),
    ("labels", "georust-gdal__labels.tif", Datatype::Categorical),
];

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The venv python, or `None` when the oracle must be skipped (a failure under CI).
fn python() -> Option<PathBuf> {
    let p = repo_root().join(".venv/bin/python");
    if p.exists() {
        return Some(p);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "the Python venv is missing but CI=true: run scripts/python-env.sh"
    );
    eprintln!("SKIPPED: the Python venv (.venv) is missing; run scripts/python-env.sh");
    None
}

/// A part of `b`: fractions `(x0, y0, x1, y1)` of its width and height from the south-west.
fn part(b: &Bounds, f: [f64; 4]) -> Bounds {
    let (w, h) = (b.width(), b.height());
    Bounds::new(
        b.min_x + f[0] * w,
        b.min_y + f[1] * h,
        b.min_x + f[2] * w,
        b.min_y + f[3] * h,
    )
}

#[test]
fn exports_read_back_in_rasterio_equal_the_stitched_tiles() -> TestResult {
    let Some(python) = python() else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let store_path = dir.path().join("store");
    std::fs::create_dir_all(&store_path)?;
    let url = store_path.display().to_string();
    let rt = Arc::new(tokio::runtime::Runtime::new()?);
    let store = Store::open(&url, Arc::clone(&rt))?;
    let corpus = repo_root().join("../shared/corpus/tiff");
    for (id, file, datatype) in LAYERS {
        let mut options = LayerOptions::new(id);
        options.datatype = *datatype;
        options.resampling = Some(Resampling::Nearest);
        let src = corpus.join(file).display().to_string();
        add(&[src], &options, &store, &url, true)?;
    }
    let svc = Service::new(ObjectStoreBucket::from_url(&url)?, Config::default());
    let mut failures = Vec::new();
    let cases: &[(&str, [f64; 4], &str, bool)] = &[
        ("dem", [0.1, 0.05, 0.9, 0.95], "", false),
        ("dem", [-0.2, -0.1, 1.3, 1.2], "", false),
        ("labels", [0.0, 0.0, 1.0, 1.0], "", false),
        // The default zoom of the whole COG passes 512 px: a COG with overviews.
        ("cog", [-0.05, -0.05, 1.05, 1.05], "", true),
        ("cog", [0.3, 0.3, 0.45, 0.4], "", true),
        ("cog", [0.2, 0.6, 0.5, 0.9], "&zoom=7", false),
        // POSTed polygons (a triangle with a hole, over the box's part): "post" in `extra`.
        ("dem", [0.1, 0.05, 0.9, 0.95], "post", false),
        ("cog", [-0.05, -0.05, 1.05, 1.05], "post", true),
        // A neighbourhood formula's export, the `/algebra` tiles its oracle.
        ("dem", [0.1, 0.05, 0.9, 0.95], FORMULA, false),
        ("cog", [0.3, 0.3, 0.45, 0.4], FORMULA, false),
    ];
    for (n, (id, f, extra, cog)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("case{n}"));
        std::fs::create_dir_all(out.join("tiles"))?;
        let manifest_path = store_path.join(format!("layers/{id}/manifest.json"));
        let manifest: Value = serde_json::from_slice(&std::fs::read(manifest_path)?)?;
        let m = &manifest["bounds"]["mercator"];
        let num = |i: usize| m[i].as_f64().ok_or("bounds");
        let b = part(&Bounds::new(num(0)?, num(1)?, num(2)?, num(3)?), *f);
        let bbox = format!("{},{},{},{}", b.min_x, b.min_y, b.max_x, b.max_y);
        let geojson = (*extra == "post").then(|| triangle_with_hole(&b));
        let r = match &geojson {
            Some(g) => {
                std::fs::write(out.join("polygon.json"), g)?;
                let mut req = get(&format!("/export/{id}.tif?crs=3857"));
                req.method = "POST".into();
                req.body = g.clone().into_bytes();
                rt.block_on(svc.handle(&req))
            }
            None => rt.block_on(svc.handle(&get(&export_url(id, extra, &bbox)))),
        };
        if r.status != 200 {
            let message = String::from_utf8_lossy(&r.body).into_owned();
            failures.push(format!("case {n} {id}: {} {message}", r.status));
            continue;
        }
        let export = out.join("export.tif");
        std::fs::write(&export, &r.body)?;
        let z = export_zoom(&r.body)?;
        for t in tile_range(&b, z).ok_or("no tiles")?.iter() {
            let r = rt.block_on(svc.handle(&get(&tile_url(id, extra, t))));
            if r.status == 200 {
                let name = format!("{}_{}_{}.tif", t.z, t.x, t.y);
                std::fs::write(out.join("tiles").join(name), &r.body)?;
            }
        }
        let polygon = geojson.map(|_| out.join("polygon.json"));
        let tiles = out.join("tiles");
        let report = oracle(&python, &export, &tiles, &bbox, *cog, polygon.as_deref())?;
        eprintln!("export oracle case {n} ({id}{extra}): {report}");
        let problems = check(&report, *cog);
        if !problems.is_empty() {
            failures.push(format!("case {n} {id}: {}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// `extra` of a case exporting `slope(a)` over the layer rather than the layer.
const FORMULA: &str = "formula";

/// The `GET` export of a case: a layer's, or with [`FORMULA`] the formula's.
fn export_url(id: &str, extra: &str, bbox: &str) -> String {
    match extra {
        FORMULA => format!("/export.tif?layers=a={id}&formula=slope(a)&bbox={bbox}&crs=3857"),
        _ => format!("/export/{id}.tif?bbox={bbox}&crs=3857{extra}"),
    }
}

/// The tile the export's pixels come from: `/tiles`, or `/algebra` for a formula.
fn tile_url(id: &str, extra: &str, t: TileCoord) -> String {
    match extra {
        FORMULA => format!("/algebra/{t}.tif?layers=a={id}&formula=slope(a)"),
        _ => format!("/tiles/{id}/{t}.tif"),
    }
}

/// The zoom of an export's pixel size (its ModelPixelScale).
fn export_zoom(bytes: &[u8]) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    let tiff = tilefn_cog::parse_file(bytes, &tilefn_cog::Limits::default())?;
    let ifd = tiff.ifds.first().ok_or("no IFD")?;
    let res = ifd
        .model_pixel_scale
        .as_ref()
        .and_then(|s| s.first())
        .ok_or("no scale")?;
    let z = (2.0 * ORIGIN_SHIFT / (f64::from(TILE_SIZE) * res))
        .log2()
        .round();
    Ok(z as u8)
}

/// A GeoJSON triangle over `b` (its south edge and the middle of its north edge) with a
/// square hole, in EPSG:3857: its box is `b`.
fn triangle_with_hole(b: &Bounds) -> String {
    let (w, h) = (b.width(), b.height());
    let at = |fx: f64, fy: f64| format!("[{},{}]", b.min_x + fx * w, b.min_y + fy * h);
    let outer = [at(0.0, 0.0), at(1.0, 0.0), at(0.5, 1.0), at(0.0, 0.0)].join(",");
    let hole = [
        at(0.4, 0.2),
        at(0.4, 0.4),
        at(0.6, 0.4),
        at(0.6, 0.2),
        at(0.4, 0.2),
    ]
    .join(",");
    format!(r#"{{"type":"Polygon","coordinates":[[{outer}],[{hole}]]}}"#)
}

fn oracle(
    python: &Path,
    export: &Path,
    tiles: &Path,
    bbox: &str,
    cog: bool,
    polygon: Option<&Path>,
) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    let script = repo_root().join("tests/oracle/export_oracle.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(&script)
        .arg("--export")
        .arg(export)
        .arg("--tiles")
        .arg(tiles)
        .arg(format!("--bbox={bbox}"));
    if cog {
        cmd.arg("--cog");
    }
    if let Some(p) = polygon {
        cmd.arg("--geojson").arg(p);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("oracle failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// What the oracle's report says is wrong.
fn check(report: &Value, cog: bool) -> Vec<String> {
    let mut problems: Vec<String> = report["problems"]
        .as_array()
        .map(|a| a.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    for key in ["mask_mismatches", "value_mismatches"] {
        if report[key].as_u64() != Some(0) {
            problems.push(format!("{key}: {}", report[key]));
        }
    }
    if report["valid"].as_u64().unwrap_or(0) == 0 {
        problems.push("no valid pixel".into());
    }
    if cog && report["cog_valid"] != Value::Bool(true) {
        problems.push(format!("rio cogeo validate: {}", report["cog_errors"]));
    }
    problems
}
