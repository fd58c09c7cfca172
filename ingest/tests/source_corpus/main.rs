//! Opens every file of the TIFF conformance corpus and checks what we read against what GDAL
//! read (MANIFEST.tsv and details.json, written by rasterio/GDAL 3.10).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tilefn_ingest::source;
use tilefn_ingest::source::{MaskKind, OpenOptions, Source, SourceError, Transformer};
use tilefn_raster::{Block, DataType, mercator};

/// LERC sources and the header walk's typed errors.
mod lerc_and_header;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/tiff");

fn corpus() -> PathBuf {
    PathBuf::from(CORPUS)
}

fn manifest() -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(corpus().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            head.iter()
                .zip(l.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn details() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(corpus().join("details.json")).unwrap()).unwrap()
}

/// Compression that decodes bit-exactly (JPEG and WebP decoders differ in rounding; LERC is
/// exact when written with MAX_Z_ERROR 0, GDAL's default).
fn lossless(compression: &str, det: &serde_json::Value) -> bool {
    match compression {
        "jpeg" | "webp" => false,
        "lerc" => det["image_structure"]["MAX_Z_ERROR"]
            .as_str()
            .is_none_or(|e| e.parse() == Ok(0.0)),
        _ => true,
    }
}

/// SHA-256 of a raw block as numpy's `tobytes()` of `ds.read()`: band-sequential, LE.
fn numpy_sha(b: &Block) -> String {
    let mut bytes = Vec::with_capacity(b.values.len() * b.dtype.size());
    for v in &b.values {
        b.dtype.write_le(*v, &mut bytes);
    }
    Sha256::digest(&bytes)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn kind(e: &SourceError) -> &'static str {
    match e {
        SourceError::NotFound(_) => "NotFound",
        SourceError::Io(_) => "Io",
        SourceError::NotTiff => "NotTiff",
        SourceError::Corrupt(_) => "Corrupt",
        SourceError::Unsupported(_) => "Unsupported",
        SourceError::NoGeoreference => "NoGeoreference",
        SourceError::NoCrs => "NoCrs",
        SourceError::UnknownEpsg(_) => "UnknownEpsg",
        SourceError::UnsupportedCrs(_) => "UnsupportedCrs",
        SourceError::OutsideWebMercator => "OutsideWebMercator",
    }
}

/// The window GDAL read for its statistics: the whole image, or 512x512 at the origin.
fn gdal_window(info: &source::SourceInfo, gdal_read: &str) -> (usize, usize) {
    if gdal_read == "ok" {
        (info.width as usize, info.height as usize)
    } else {
        (
            (info.width as usize).min(512),
            (info.height as usize).min(512),
        )
    }
}

/// Compares one opened file with GDAL's view of it; returns problems found.
fn check_file(
    row: &HashMap<String, String>,
    det: &serde_json::Value,
    src: &Source,
    problems: &mut Vec<String>,
) -> bool {
    let name = &row["file"];
    let info = src.info();
    let alpha =
        usize::from(matches!(info.mask, MaskKind::Alpha { .. }) || row["mask"].contains("alpha"));
    let mut p = |m: String| problems.push(format!("{name}: {m}"));
    if row["width"] != info.width.to_string() || row["height"] != info.height.to_string() {
        p(format!(
            "size {}x{} vs manifest {}x{}",
            info.width, info.height, row["width"], row["height"]
        ));
    }
    if row["bands"] != (info.bands + alpha).to_string() {
        p(format!(
            "bands {} (+{alpha} alpha) vs manifest {}",
            info.bands, row["bands"]
        ));
    }
    if row["dtype"] != info.dtype.name() {
        p(format!("dtype {} vs manifest {}", info.dtype, row["dtype"]));
    }
    let want_nd: Option<f64> = match row["nodata"].as_str() {
        "" => None,
        "nan" => Some(f64::NAN),
        v => v.parse().ok(),
    };
    let nd_ok = match (want_nd, info.nodata) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-6 * a.abs().max(1.0)
        }
        _ => false,
    };
    if !nd_ok {
        p(format!(
            "nodata {:?} vs manifest {:?}",
            info.nodata, row["nodata"]
        ));
    }
    let mask_ok = match info.mask {
        MaskKind::Internal => row["mask"].contains("per-dataset"),
        // GDAL reports nodata, not alpha, as the mask when a file has both.
        MaskKind::Alpha { .. } => {
            row["mask"].contains("alpha") || (row["mask"] == "nodata" && nd_ok)
        }
        MaskKind::None => !row["mask"].contains("alpha") && !row["mask"].contains("per-dataset"),
    };
    if !mask_ok {
        p(format!(
            "mask {:?} vs manifest {:?}",
            info.mask, row["mask"]
        ));
    }
    // Geotransform: rasterio's Affine order is (a, b, c, d, e, f) = (a1, a2, a0, a4, a5, a3).
    if let Some(t) = det["transform"]
        .as_array()
        .filter(|_| info.crs.name != "none")
    {
        let t: Vec<f64> = t.iter().filter_map(|v| v.as_f64()).collect();
        let g = info.geo.coeffs();
        let ours = [g[1], g[2], g[0], g[4], g[5], g[3]];
        if ours
            .iter()
            .zip(&t)
            .any(|(a, b)| (a - b).abs() > 1e-9 * b.abs().max(1.0))
        {
            p(format!("geotransform {ours:?} vs GDAL {t:?}"));
        }
    }
    // Footprint vs GDAL's transform_bounds (21 points per edge), away from the clamp.
    // EPSG:5482 declares northing-first axes, which GDAL's bounds honour and GeoTIFF model
    // space (x = easting) does not.
    let axis_quirk = name.contains("polar_stereographic_variant_a");
    if let (Some(b), Ok(parts), false) = (
        det["bounds_4326"].as_array(),
        src.footprint_parts_3857(),
        axis_quirk,
    ) {
        let b: Vec<f64> = b.iter().filter_map(|v| v.as_f64()).collect();
        if b.len() == 4 && b[1].abs() < 85.0 && b[3].abs() < 85.0 {
            let crossing = b[0] > b[2];
            let (lo, hi) = if crossing {
                (parts[parts.len() - 1], parts[0])
            } else {
                (parts[0], parts[0])
            };
            let (w, s) =
                mercator::mercator_to_lonlat(if crossing { hi.min_x } else { lo.min_x }, lo.min_y);
            let (e, n) =
                mercator::mercator_to_lonlat(if crossing { lo.max_x } else { hi.max_x }, hi.max_y);
            let tol = 1e-3 + 2e-3 * (b[2] - b[0]).abs().max(b[3] - b[1]);
            if crossing != (parts.len() == 2)
                || [w - b[0], s - b[1], e - b[2], n - b[3]]
                    .iter()
                    .any(|d| d.abs() > tol)
            {
                p(format!(
                    "footprint {:?} vs GDAL {b:?} ({} parts)",
                    [w, s, e, n],
                    parts.len()
                ));
            }
        }
    }
    let gdal_read = row["gdal_read"].as_str();
    if !gdal_read.starts_with("ok") {
        return false;
    }
    let (w, h) = gdal_window(info, gdal_read);
    let mut r = src.reader().unwrap();
    let raw = match r.read_raw_window(0, 0, w, h) {
        Ok(b) => b,
        Err(e) => {
            p(format!("read failed: {e}"));
            return false;
        }
    };
    let mut sha_checked = false;
    if lossless(&row["compression"], det)
        && let Some(want) = det["pixel_sha256"].as_str()
    {
        sha_checked = true;
        if numpy_sha(&raw) != want {
            p("pixel sha256 differs from GDAL's".to_string());
        }
    }
    let block = r.read_window(0, 0, w, h).unwrap();
    if let Some(want) = det["valid_fraction"].as_f64() {
        let got = block.valid.iter().filter(|v| **v).count() as f64 / block.valid.len() as f64;
        let tol = if lossless(&row["compression"], det) {
            2e-6
        } else {
            0.02
        };
        if (got - want).abs() > tol {
            p(format!("valid fraction {got:.6} vs GDAL {want}"));
        }
    }
    sha_checked
}

#[test]
fn source_every_corpus_file() {
    let rows = manifest();
    let det = details();
    assert!(rows.len() >= 70, "manifest has {} rows", rows.len());
    let mut problems = Vec::new();
    let mut table = Vec::new();
    let mut sha_checked = 0;
    for row in &rows {
        let name = row["file"].clone();
        let path = corpus().join(&name);
        let res = std::panic::catch_unwind(|| {
            let strict = Source::open(&path, &OpenOptions::default());
            let pixels = Source::open_pixels(&path, &OpenOptions::default());
            (strict, pixels)
        });
        let Ok((strict, pixels)) = res else {
            problems.push(format!("{name}: PANIC while opening"));
            table.push(format!("{name}\tPANIC"));
            continue;
        };
        let outcome = match &strict {
            Ok(s) => format!(
                "ok ({} {}x{}x{} {}, {})",
                s.info().crs.name,
                s.info().width,
                s.info().height,
                s.info().bands,
                s.info().dtype,
                match s.footprint_3857() {
                    Ok(_) => "footprint ok".to_string(),
                    Err(e) => format!("footprint: {e}"),
                }
            ),
            Err(e) => format!("{}: {e}", kind(e)),
        };
        table.push(format!("{name}\t{outcome}"));
        let gdal_ok = row["gdal_open"] == "yes" && row["gdal_read"].starts_with("ok");
        match &pixels {
            Ok((src, _)) => {
                let d = &det[name.as_str()];
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut p = Vec::new();
                    if gdal_ok {
                        if check_file(row, d, src, &mut p) {
                            p.push("sha-ok".into());
                        }
                    } else {
                        // Reading what GDAL cannot must fail cleanly, not panic.
                        let mut r = src.reader().unwrap();
                        let _ = r.read_window(
                            0,
                            0,
                            src.info().width.min(1024) as usize,
                            src.info().height.min(1024) as usize,
                        );
                    }
                    p
                }));
                match r {
                    Ok(p) => {
                        sha_checked += p.iter().filter(|m| *m == "sha-ok").count();
                        problems.extend(p.into_iter().filter(|m| m != "sha-ok"));
                    }
                    Err(_) => problems.push(format!("{name}: PANIC while reading")),
                }
            }
            Err(e) if gdal_ok && !matches!(e, SourceError::Unsupported(_)) => {
                problems.push(format!(
                    "{name}: GDAL reads it but we fail with {}: {e}",
                    kind(e)
                ));
            }
            Err(_) => {}
        }
    }
    println!("{}", table.join("\n"));
    println!("pixel sha256 compared with GDAL for {sha_checked} files");
    assert!(
        sha_checked >= 40,
        "only {sha_checked} files had their pixels compared"
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn open(name: &str) -> Source {
    Source::open(&corpus().join(name), &OpenOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn window(name: &str, c: i64, r: i64, w: usize, h: usize) -> Block {
    open(name)
        .reader()
        .unwrap()
        .read_window(c, r, w, h)
        .unwrap()
}

#[test]
fn source_same_pixels_across_layouts_and_codecs() {
    for (c, r) in [(0, 0), (300, 250), (700, 650), (-10, -10)] {
        let a = window("rasterio__RGB.byte.tif", c, r, 100, 80);
        assert_eq!(
            a,
            window("rasterio__rgb_deflate.tif", c, r, 100, 80),
            "deflate at {c},{r}"
        );
        assert_eq!(
            a,
            window("rasterio__rgb_lzw.tif", c, r, 100, 80),
            "lzw at {c},{r}"
        );
        assert!(a.values.iter().any(|v| *v != 0.0) || (c, r) != (300, 250));
    }
    for (c, r) in [(0, 0), (1000, 1200), (2600, 2600)] {
        assert_eq!(
            window("rio-tiler__cog.tif", c, r, 300, 300),
            window("rio-tiler__nocog.tif", c, r, 300, 300)
        );
    }
}

#[test]
fn source_windows_clip_to_the_image() {
    let b = window("rasterio__byte.tif", -5, 15, 10, 10);
    assert_eq!((b.width, b.height, b.bands), (10, 10, 1));
    assert!(!b.valid[0] && b.valid[5] && !b.valid[5 * 10 + 5]);
    let full = window("rasterio__byte.tif", 0, 0, 20, 20);
    assert_eq!(b.values[5], full.values[15 * 20]);
    let out = window("rasterio__byte.tif", 100, 100, 4, 4);
    assert!(!out.any_valid());
}

#[test]
fn source_huge_sparse_reads_cheaply_as_nodata() {
    let path = corpus().join("node-gdal-async__huge-sparse.tiff");
    let (src, err) = Source::open_pixels(&path, &OpenOptions::default()).unwrap();
    assert!(matches!(err, Some(SourceError::NoGeoreference)));
    assert_eq!(
        (src.info().width, src.info().height, src.info().nodata),
        (66000, 66000, Some(42.0))
    );
    let mut r = src.reader().unwrap();
    let t = std::time::Instant::now();
    for (c, row) in [(0, 0), (33000, 33000), (65800, 65800)] {
        let b = r.read_window(c, row, 512, 512).unwrap();
        assert!(!b.any_valid() && b.values.iter().all(|v| *v == 42.0));
    }
    assert!(t.elapsed().as_secs() < 5);
}

#[test]
fn source_mask_alpha_palette_and_crs_details() {
    let cogeo = open("rasterio__cogeo.tif");
    assert_eq!(cogeo.info().mask, MaskKind::Internal);
    assert!(cogeo.info().photometric_rgb);
    let cmap = open("rio-tiler__cog_cmap.tif");
    let pal = cmap.info().palette.as_ref().expect("palette");
    assert_eq!(pal.len(), 256);
    let alpha = open("rasterio__RGBA.uint16.tif");
    assert_eq!(
        (alpha.info().bands, alpha.info().mask),
        (3, MaskKind::Alpha { band: 3 })
    );
    assert_eq!(
        open("derived__labels_epsg2283_ftUS.tif").info().crs.epsg,
        Some(2283)
    );
    let km = open("libgeotiff__ProjLinearUnitsGeoKey_9036.tif");
    assert!(
        km.info().crs.proj4.contains("+to_meter=1000"),
        "{}",
        km.info().crs.proj4
    );
    // --srid and --nodata override the file.
    let o = OpenOptions {
        nodata: Some(7.0),
        srid: Some(32611),
    };
    let s = Source::open(&corpus().join("rasterio__byte.tif"), &o).unwrap();
    assert_eq!(
        (s.info().nodata, s.info().crs.epsg),
        (Some(7.0), Some(32611))
    );
    let e = Source::open(
        &corpus().join("rasterio__byte.tif"),
        &OpenOptions {
            nodata: None,
            srid: Some(12345),
        },
    );
    assert!(matches!(e, Err(SourceError::UnknownEpsg(12345))));
    let o = OpenOptions {
        nodata: Some(-9999.0),
        srid: None,
    };
    let e = Source::open(&corpus().join("rasterio__byte.tif"), &o);
    assert!(matches!(e, Err(SourceError::Unsupported(_))));
    assert!(matches!(
        Source::open(Path::new("/nonexistent/x.tif"), &OpenOptions::default()),
        Err(SourceError::NotFound(_))
    ));
    // Half floats promote to float32.
    let (h, _) = Source::open_pixels(
        &corpus().join("image-tiff__random-fp16-pred3.tiff"),
        &OpenOptions::default(),
    )
    .unwrap();
    assert_eq!(h.info().dtype, DataType::Float32);
}

#[test]
fn source_polar_and_antimeridian_footprints() {
    let north = open("derived__world_arctic_epsg3413.tif")
        .footprint_3857()
        .unwrap();
    assert!(
        (north.max_y - mercator::ORIGIN_SHIFT).abs() < 1.0
            && north.width() > 1.99 * mercator::ORIGIN_SHIFT
    );
    let south = open("derived__world_antarctic_epsg3031.tif")
        .footprint_3857()
        .unwrap();
    assert!((south.min_y + mercator::ORIGIN_SHIFT).abs() < 1.0);
    let parts = open("rio-tiler__cog_dateline.tif")
        .footprint_parts_3857()
        .unwrap();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(parts.iter().all(|p| p.width() < 1_000_000.0));
    let res = open("rasterio__RGB.byte.tif").native_resolution_3857();
    assert!(res > 300.0 && res < 340.0, "{res}");
}

#[test]
fn source_transformer_maps_web_mercator_back_to_source_pixels() {
    for name in [
        "rasterio__RGB.byte.tif",
        "rasterio__cogeo.tif",
        "rio-tiler__cog_fullearth.tif",
        "django-raster__raster.tif",
    ] {
        let src = open(name);
        let f = src.footprint_3857().unwrap();
        let t = src.transformer().unwrap();
        let _ = Transformer::to_source(&src.info().crs).unwrap();
        let (mut xs, mut ys) = (
            vec![(f.min_x + f.max_x) / 2.0, f64::NAN],
            vec![(f.min_y + f.max_y) / 2.0, 0.0],
        );
        t.transform(&mut xs, &mut ys).unwrap();
        let inv = src.info().geo.invert().unwrap();
        let (c, r) = inv.apply(xs[0], ys[0]);
        let (w, h) = (f64::from(src.info().width), f64::from(src.info().height));
        assert!(
            (0.0..w).contains(&c) && (0.0..h).contains(&r),
            "{name}: centre maps to pixel {c},{r}"
        );
        assert!(
            xs[1].is_nan() || name.contains("cogeo"),
            "{name}: NaN in, {} out",
            xs[1]
        );
    }
}

#[test]
fn source_readers_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Source>();
    send_sync::<Transformer>();
    send::<source::WindowReader>();
    let src = open("rio-tiler__cog.tif");
    let want = src
        .reader()
        .unwrap()
        .read_window(1000, 1000, 700, 700)
        .unwrap();
    let got: Vec<Block> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    src.reader()
                        .unwrap()
                        .read_window(1000, 1000, 700, 700)
                        .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(got.iter().all(|b| *b == want));
    // A tiny cache still reads correctly (evicting as it goes).
    src.set_cache_bytes(1);
    assert_eq!(
        src.reader()
            .unwrap()
            .read_window(1000, 1000, 700, 700)
            .unwrap(),
        want
    );
}
