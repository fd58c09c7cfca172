//! `register` (serve an existing web-optimized COG without re-ingesting) and `legend`
//! (named legends for `?legend=NAME`).

use std::process::Command;
use std::time::Duration;

use crate::{oracle, util};

const T: Duration = Duration::from_secs(120);

#[test]
fn register_accepts_web_optimized_cogs_and_names_what_others_lack() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    std::fs::create_dir_all(store.join("ext")).expect("mkdir");
    let url = util::store_url(&store);
    let rio = python.with_file_name("rio");
    let cog = store.join("ext/dem_cog.tif");
    let src = util::corpus("cogeotiff-js__DEM_BS28_2016_1000_1141.tif");
    let status = Command::new(&rio)
        .args([
            "cogeo",
            "create",
            "--web-optimized",
            "--quiet",
            "--cog-profile",
            "deflate",
        ])
        .arg(&src)
        .arg(&cog)
        .status()
        .expect("rio runs");
    assert!(status.success(), "rio cogeo create failed");

    util::run_ok(
        &[
            "register",
            "ext/dem_cog.tif",
            "--layer",
            "ext",
            "--store",
            &url,
        ],
        &[],
        T,
    );
    let m = util::consistent_manifest(&store, "ext").expect("manifest");
    let ext = m.external.as_ref().expect("external section");
    assert_eq!(ext.url, "ext/dem_cog.tif");
    assert_eq!(ext.size, std::fs::metadata(&cog).expect("stat").len());
    assert!(ext.header_len > 8 && ext.header_len < ext.size);
    assert_eq!(
        (m.min_zoom, m.max_zoom),
        (16, 17),
        "rio's zooms for this file"
    );
    assert_eq!(ext.levels.len(), 2);
    assert_eq!(m.nodata, Some(-9999.0));
    assert!(m.objects.is_empty() && m.groups.is_empty());
    // Stats of the coarsest level must be what GDAL reads from that overview.
    let stats = m.bands[0].stats.as_ref().expect("stats");
    let py = format!(
        "import rasterio, numpy as np\n\
         with rasterio.open({cog:?}, OVERVIEW_LEVEL=0) as d:\n\
         \x20   a = d.read(1, masked=True)\n\
         print(int(a.count()), float(a.min()), float(a.max()))",
        cog = cog.to_string_lossy()
    );
    let out = Command::new(&python)
        .args(["-c", &py])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<f64> = text
        .split_whitespace()
        .map(|v| v.parse().expect("number"))
        .collect();
    assert_eq!(
        stats.count as f64, f[0],
        "valid pixel count of the overview"
    );
    assert!((stats.min - f[1]).abs() < 1e-3 && (stats.max - f[2]).abs() < 1e-3);

    // Our own COG objects are web-optimized by construction.
    let rgb = util::corpus("rasterio__RGB.byte.tif");
    util::run_ok(
        &[
            "add",
            &rgb.to_string_lossy(),
            "--layer",
            "rgb",
            "--store",
            &url,
            "--quiet",
        ],
        &[],
        T,
    );
    let ours = util::consistent_manifest(&store, "rgb").expect("manifest");
    let key = &ours.objects[0].key;
    util::run_ok(
        &["register", key, "--layer", "rgb2", "--store", &url],
        &[],
        T,
    );
    let again = util::consistent_manifest(&store, "rgb2").expect("manifest");
    assert_eq!(again.max_zoom, ours.max_zoom);
    assert_eq!(again.band_count, 3);

    // 8-bit RGB without a nodata value: ingest writes GDAL internal masks, and register
    // reads them (validity for the statistics, `mask` for the tile service).
    let marble = util::corpus("derived__world_arctic_epsg3413.tif");
    util::run_ok(
        &[
            "add",
            &marble.to_string_lossy(),
            "--layer",
            "marble",
            "--store",
            &url,
            "--quiet",
        ],
        &[],
        T,
    );
    let ours = util::consistent_manifest(&store, "marble").expect("manifest");
    assert!(ours.mask && !ours.alpha && ours.nodata.is_none());
    let key = &ours.objects[0].key;
    util::run_ok(
        &["register", key, "--layer", "marble2", "--store", &url],
        &[],
        T,
    );
    let again = util::consistent_manifest(&store, "marble2").expect("manifest");
    assert!(again.mask && again.band_count == 3);
    let count = again.bands[0].stats.as_ref().expect("stats").count;
    let py = format!(
        "import rasterio\n\
         with rasterio.open({cog:?}) as d:\n\
         \x20   n = len(d.overviews(1))\n\
         kw = {{'OVERVIEW_LEVEL': n - 1}} if n else {{}}\n\
         with rasterio.open({cog:?}, **kw) as d:\n\
         \x20   print(int((d.read_masks(1) > 0).sum()))",
        cog = store.join(key).to_string_lossy()
    );
    let out = Command::new(&python)
        .args(["-c", &py])
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.trim().parse::<u64>().ok(),
        Some(count),
        "valid pixels of the coarsest level, by GDAL's mask"
    );

    // A plain GeoTIFF is refused with the reason, and nothing is published.
    std::fs::copy(&src, store.join("ext/plain.tif")).expect("copy");
    let o = util::run(
        &[
            "register",
            "ext/plain.tif",
            "--layer",
            "plain",
            "--store",
            &url,
        ],
        &[],
        T,
    );
    assert!(!o.ok() && !o.panicked(), "{}", o.describe());
    assert!(o.stderr.contains("not a web-optimized COG"), "{}", o.stderr);
    assert!(!util::manifest_path(&store, "plain").exists());
    let o = util::run(
        &[
            "register",
            "ext/missing.tif",
            "--layer",
            "gone",
            "--store",
            &url,
        ],
        &[],
        T,
    );
    assert!(!o.ok() && !o.panicked(), "{}", o.describe());
}

#[test]
fn legends_put_get_list_remove() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let url = util::store_url(&store);
    let file = dir.path().join("ndvi.json");
    let legend = r##"[{"expression": "(x > 0.5)", "color": "#00FF00", "name": "dense"},
                      {"expression": "x <= 0.5", "color": "#aa0000", "name": "sparse"}]"##;
    std::fs::write(&file, legend).expect("write");
    let f = file.to_string_lossy();
    util::run_ok(&["legend", "put", "ndvi", &f, "--store", &url], &[], T);
    let stored = std::fs::read(store.join("legends/ndvi.json")).expect("stored");
    let v: serde_json::Value = serde_json::from_slice(&stored).expect("json");
    assert_eq!(v[0]["color"], "#00FF00");
    let o = util::run_ok(&["legend", "get", "ndvi", "--store", &url], &[], T);
    assert!(o.stdout.contains("dense"));
    let o = util::run_ok(&["legend", "list", "--store", &url], &[], T);
    assert_eq!(o.stdout.trim(), "ndvi");

    std::fs::write(&file, "{not json").expect("write");
    let o = util::run(&["legend", "put", "bad", &f, "--store", &url], &[], T);
    assert!(!o.ok() && o.stderr.contains("not JSON"), "{}", o.describe());
    let o = util::run(&["legend", "put", "../x", &f, "--store", &url], &[], T);
    assert_eq!(o.code, Some(2), "{}", o.describe());

    util::run_ok(&["legend", "remove", "ndvi", "--store", &url], &[], T);
    assert!(!store.join("legends/ndvi.json").exists());
    let o = util::run(&["legend", "remove", "ndvi", "--store", &url], &[], T);
    assert!(!o.ok() && !o.panicked(), "{}", o.describe());
}
