//! GDAL as the oracle for the terrain kernels: a synthetic DEM through `gdaldem slope |
//! aspect | hillshade -compute_edges` (GDAL 3.6, Debian's `gdal-bin`) and through
//! `tilefn_algebra::terrain`, compared cell by cell, for Horn and Zevenbergen-Thorne, with
//! and without a z factor, and with a different pixel size on each row.
//!
//! The DEM is written as raw float32 behind a VRT that declares its nodata value, padded
//! with a one-cell nodata ring: gdaldem then substitutes the centre for cells off our grid,
//! as `terrain` does (gdaldem would extrapolate at a raster's own frame). gdaldem writes
//! ENVI, raw float32 or bytes that need no TIFF reader.
//!
//! Without /usr/bin/gdaldem the tests print a notice and pass, except under CI=true where
//! they fail.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;

use tilefn_algebra::{Grid, Method, TerrainOp, TerrainSettings, terrain};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GDALDEM: &str = "/usr/bin/gdaldem";
const WIDTH: usize = 97;
const HEIGHT: usize = 83;
/// The DEM file's pixel size, metres.
const PIXEL: f64 = 30.0;
/// The file's nodata value; gdaldem writes it for slope and aspect too (hillshade: 0).
const NODATA: f32 = -9999.0;

/// gdaldem, or `None` when the oracle must be skipped (a failure under CI).
fn gdaldem() -> Option<PathBuf> {
    let path = PathBuf::from(GDALDEM);
    if path.exists() {
        return Some(path);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "gdaldem is missing but CI=true: apt-get install gdal-bin"
    );
    eprintln!("SKIPPED: gdaldem missing (apt-get install gdal-bin)");
    None
}

/// A DEM: row-major elevations in metres and which cells hold one.
struct Dem {
    width: usize,
    height: usize,
    values: Vec<f64>,
    valid: Vec<bool>,
}

impl Dem {
    /// Rows `rows` of the DEM.
    fn strip(&self, rows: std::ops::Range<usize>) -> Dem {
        let cells = rows.start * self.width..rows.end * self.width;
        Dem {
            width: self.width,
            height: rows.len(),
            values: self.values[cells.clone()].to_vec(),
            valid: self.valid[cells].to_vec(),
        }
    }
}

/// Ridges and valleys from sines, two hills, a flat plateau (no aspect there), pseudo-random
/// noise from an LCG, and nodata holes: single cells, a disc, a run along a row, and one
/// valid-but-NaN cell.
///
/// Elevations are float32 values on a 1/64 m grid below 2048 m: gdaldem adds up the window
/// in float32, and on such values those sums are exact, so the comparison tests the
/// formulas rather than float32 rounding (see `float32_sums_are_the_only_other_source`).
fn synthetic_dem(quantised: bool) -> Dem {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut noise = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut values = Vec::with_capacity(WIDTH * HEIGHT);
    let mut valid = Vec::with_capacity(WIDTH * HEIGHT);
    for r in 0..HEIGHT {
        for c in 0..WIDTH {
            let (x, y) = (c as f64, r as f64);
            let hill = |cx: f64, cy: f64, height: f64, spread: f64| {
                height * (-((x - cx).powi(2) + (y - cy).powi(2)) / (2.0 * spread * spread)).exp()
            };
            let mut z = 600.0
                + 140.0 * (x / 9.0).sin() * (y / 13.0).cos()
                + 60.0 * (x / 4.0 + y / 7.0).sin()
                + hill(30.0, 40.0, 500.0, 9.0)
                + hill(75.0, 20.0, -250.0, 6.0)
                + 8.0 * noise();
            if (62..72).contains(&c) && (58..70).contains(&r) {
                z = 777.0;
            }
            if quantised {
                z = (z * 64.0).round() / 64.0;
            }
            let hole = (x - 20.0).powi(2) + (y - 15.0).powi(2) <= 6.0
                || (r == 50 && (10..30).contains(&c))
                || (r * 31 + c * 17) % 211 == 0;
            values.push(f64::from(z as f32));
            valid.push(!hole);
        }
    }
    // A cell that claims to be valid but holds NaN: both sides must treat it as nodata.
    values[40 * WIDTH + 60] = f64::NAN;
    Dem {
        width: WIDTH,
        height: HEIGHT,
        values,
        valid,
    }
}

/// Writes `dem` padded with a nodata ring as `dem.bin` + `dem.vrt` in `dir`.
fn write_padded(dir: &Path, dem: &Dem) -> std::io::Result<PathBuf> {
    let (width, height) = (dem.width + 2, dem.height + 2);
    let mut bytes = Vec::with_capacity(width * height * 4);
    for r in 0..height {
        for c in 0..width {
            let inside = (1..=dem.height).contains(&r) && (1..=dem.width).contains(&c);
            let elevation = inside
                .then(|| (r - 1) * dem.width + c - 1)
                .filter(|&i| dem.valid[i] && !dem.values[i].is_nan())
                .map(|i| dem.values[i] as f32);
            let value = elevation.unwrap_or(NODATA);
            bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
    std::fs::write(dir.join("dem.bin"), bytes)?;
    let vrt = format!(
        r#"<VRTDataset rasterXSize="{width}" rasterYSize="{height}">
  <GeoTransform>0, {PIXEL}, 0, 0, 0, -{PIXEL}</GeoTransform>
  <VRTRasterBand dataType="Float32" band="1" subClass="VRTRawRasterBand">
    <NoDataValue>{NODATA}</NoDataValue>
    <SourceFilename relativeToVRT="1">dem.bin</SourceFilename>
    <ImageOffset>0</ImageOffset>
    <PixelOffset>4</PixelOffset>
    <LineOffset>{}</LineOffset>
    <ByteOrder>LSB</ByteOrder>
  </VRTRasterBand>
</VRTDataset>
"#,
        width * 4
    );
    let path = dir.join("dem.vrt");
    std::fs::write(&path, vrt)?;
    Ok(path)
}

/// Runs gdaldem on `dem` and returns its values for the cells of `dem` (the ring dropped),
/// `None` where it wrote nodata.
fn run_gdaldem(gdaldem: &Path, dem: &Dem, args: &[String]) -> Result<Vec<Option<f64>>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let input = write_padded(dir.path(), dem).map_err(|e| e.to_string())?;
    let output = dir.path().join("out.bin");
    let status = Command::new(gdaldem)
        .args(args)
        .args(["-compute_edges", "-q", "-of", "ENVI"])
        .arg(&input)
        .arg(&output)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("gdaldem {args:?}: {status}"));
    }
    let bytes = std::fs::read(&output).map_err(|e| e.to_string())?;
    let hillshade = args.first().is_some_and(|a| a == "hillshade");
    let cells: Vec<Option<f64>> = if hillshade {
        bytes
            .iter()
            .map(|&b| (b != 0).then_some(f64::from(b)))
            .collect()
    } else {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .map(|v| (v != NODATA).then_some(f64::from(v)))
            .collect()
    };
    let padded_width = dem.width + 2;
    if cells.len() != padded_width * (dem.height + 2) {
        return Err(format!("gdaldem wrote {} cells", cells.len()));
    }
    Ok((0..dem.height)
        .flat_map(|r| (0..dem.width).map(move |c| (r + 1) * padded_width + c + 1))
        .map(|i| cells[i])
        .collect())
}

/// How far ours are from gdaldem's over the cells both have.
#[derive(Debug, Default)]
struct Agreement {
    compared: usize,
    max_difference: f64,
    unequal: usize,
}

/// Compares cell by cell; nodata must fall in the same places. `circular` measures the
/// difference of two azimuths the short way round.
fn agreement(
    label: &str,
    ours: &(Vec<f64>, Vec<bool>),
    theirs: &[Option<f64>],
    circular: bool,
) -> Agreement {
    let mut a = Agreement::default();
    assert_eq!(ours.0.len(), theirs.len(), "{label}: sizes");
    for (i, ((&value, &valid), theirs)) in ours.0.iter().zip(&ours.1).zip(theirs).enumerate() {
        let (r, c) = (i / WIDTH, i % WIDTH);
        assert_eq!(
            valid,
            theirs.is_some(),
            "{label}: nodata differs at row {r} column {c}: ours {value}, gdaldem {theirs:?}"
        );
        if let (true, Some(expected)) = (valid, theirs) {
            let mut d = (value - expected).abs();
            if circular {
                d = d.min(360.0 - d);
            }
            a.compared += 1;
            a.max_difference = a.max_difference.max(d);
            a.unequal += usize::from(d != 0.0);
        }
    }
    println!("{label}: {a:?}");
    a
}

fn grid(dem: &Dem, method: Method, z_factor: f64, pixel_size: Vec<f64>) -> Grid {
    Grid {
        width: dem.width,
        height: dem.height,
        pixel_size,
        terrain: TerrainSettings { method, z_factor },
    }
}

/// gdaldem's `-alg` for a method.
fn alg(method: Method) -> Vec<String> {
    match method {
        Method::Horn => vec![],
        Method::Zevenbergen => vec!["-alg".into(), "ZevenbergenThorne".into()],
    }
}

/// gdaldem's arguments for `op` with elevations times `z_factor` on pixels `scale` times
/// the file's: gdaldem's `-s` divides the gradient, and its slope ignores `-z`, so slope
/// carries the z factor in its scale.
fn arguments(op: TerrainOp, method: Method, z_factor: f64, scale: f64) -> Vec<String> {
    let mut args = vec![op.name().to_string()];
    args.extend(alg(method));
    match op {
        TerrainOp::Slope => args.extend(["-s".into(), (scale / z_factor).to_string()]),
        // Direction does not depend on the scales (for a positive z factor).
        TerrainOp::Aspect => {}
        TerrainOp::Hillshade { azimuth, altitude } => args.extend([
            "-s".into(),
            scale.to_string(),
            "-z".into(),
            z_factor.to_string(),
            "-az".into(),
            azimuth.to_string(),
            "-alt".into(),
            altitude.to_string(),
        ]),
    }
    args
}

/// How close slope and aspect must be, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tolerance {
    slope: f64,
    aspect: f64,
}

/// gdaldem's float32 output: 1e-4 degrees.
const GDALDEM_OUTPUT: Tolerance = Tolerance {
    slope: 1e-4,
    aspect: 1e-4,
};

/// Slope and aspect within `tolerance`; hillshade equal in 99.9% of the cells and never
/// more than 1 apart.
fn check(
    op: TerrainOp,
    tolerance: Tolerance,
    label: &str,
    ours: &(Vec<f64>, Vec<bool>),
    theirs: &[Option<f64>],
) {
    let a = agreement(label, ours, theirs, op == TerrainOp::Aspect);
    // The observed figures, for the comments below (`-- --nocapture`).
    eprintln!("gdaldem: {label}: {a:?}");
    assert!(
        a.compared > theirs.len() / 2,
        "{label}: too few cells compared"
    );
    let bound = match op {
        TerrainOp::Slope => tolerance.slope,
        TerrainOp::Aspect => tolerance.aspect,
        TerrainOp::Hillshade { .. } => {
            assert!(a.unequal * 1000 <= a.compared, "{label}: {a:?}");
            1.0
        }
    };
    assert!(a.max_difference <= bound, "{label}: {a:?}");
}

const OPS: [TerrainOp; 4] = [
    TerrainOp::Slope,
    TerrainOp::Aspect,
    TerrainOp::Hillshade {
        azimuth: TerrainOp::DEFAULT_AZIMUTH,
        altitude: TerrainOp::DEFAULT_ALTITUDE,
    },
    TerrainOp::Hillshade {
        azimuth: 200.0,
        altitude: 30.0,
    },
];

/// `on_64ths`: elevations on a 1/64 m grid, whose float32 sums are exact.
fn whole_dem_matches(method: Method, on_64ths: bool) -> TestResult {
    let Some(gdaldem) = gdaldem() else {
        return Ok(());
    };
    let dem = synthetic_dem(on_64ths);
    for z_factor in [1.0, 2.0] {
        let g = grid(&dem, method, z_factor, vec![PIXEL; dem.height]);
        for op in OPS {
            let ours = terrain(op, &g, &dem.values, &dem.valid);
            let theirs = run_gdaldem(&gdaldem, &dem, &arguments(op, method, z_factor, 1.0))?;
            let grid_note = if on_64ths { "1/64 m" } else { "float32" };
            let label = format!("{op:?} {method:?} z={z_factor} {grid_note} elevations");
            check(op, GDALDEM_OUTPUT, &label, &ours, &theirs);
        }
    }
    Ok(())
}

// Observed with GDAL 3.6.2 on x86-64, z = 1 and 2: slope at most 3.9e-6 degrees apart and
// aspect 2.3e-5 (gdaldem's float32 output); hillshade equal in every cell.
#[test]
fn horn_matches_gdaldem() -> TestResult {
    whole_dem_matches(Method::Horn, true)
}

// Observed with GDAL 3.6.2 on x86-64, z = 1 and 2: slope at most 3.9e-6 degrees apart and
// aspect 2.3e-5; hillshade 1 apart in 1 cell of 7,971 (azimuth 200, altitude 30, z = 1, and
// the default light at z = 2: float32 shading on both sides), equal elsewhere.
#[test]
fn zevenbergen_thorne_matches_gdaldem() -> TestResult {
    whole_dem_matches(Method::Zevenbergen, true)
}

/// The same DEM without the 1/64 m grid, so gdaldem's float32 sums round: ours are the
/// same float32 sums in the same order (`derivatives.rs`), so they round alike.
// Observed with GDAL 3.6.2 on x86-64: slope 3.8e-6 degrees apart, aspect 2.3e-5, hillshade
// 1 apart in at most 1 cell of 7,971. Summing in f64 instead left Horn's slope 1.1e-4
// degrees apart (z = 1) and 2.0e-4 (z = 2), and aspect 3.1e-3.
#[test]
fn float32_sums_round_as_gdaldem_rounds_them() -> TestResult {
    whole_dem_matches(Method::Horn, false)?;
    whole_dem_matches(Method::Zevenbergen, false)
}

/// Rows across latitudes 40..60°, each `30 m × cos(latitude)`: row `r` equals gdaldem on
/// the strip of rows `r - 1..=r + 1` with `-s` = the row's pixel size / the file's (`-s`
/// divides the gradient, so a smaller pixel needs a smaller scale).
// Observed with GDAL 3.6.2 on x86-64, z = 1.5, rows 0, 1, 41 and 82: slope at most 3.8e-6
// degrees apart, aspect 2.3e-5, hillshade equal.
#[test]
fn each_row_uses_its_own_pixel_size() -> TestResult {
    let Some(gdaldem) = gdaldem() else {
        return Ok(());
    };
    let dem = synthetic_dem(true);
    let latitude = |r: usize| 40.0 + 20.0 * r as f64 / (HEIGHT - 1) as f64;
    let sizes: Vec<f64> = (0..HEIGHT)
        .map(|r| PIXEL * latitude(r).to_radians().cos())
        .collect();
    for method in [Method::Horn, Method::Zevenbergen] {
        let z_factor = 1.5;
        let g = grid(&dem, method, z_factor, sizes.clone());
        for op in OPS {
            let (values, valid) = terrain(op, &g, &dem.values, &dem.valid);
            for r in [0, 1, 41, HEIGHT - 1] {
                let rows = r.saturating_sub(1)..(r + 2).min(HEIGHT);
                let strip = dem.strip(rows.clone());
                let args = arguments(op, method, z_factor, sizes[r] / PIXEL);
                let theirs = run_gdaldem(&gdaldem, &strip, &args)?;
                let at = (r - rows.start) * WIDTH;
                let theirs = &theirs[at..at + WIDTH];
                let ours = (
                    values[r * WIDTH..(r + 1) * WIDTH].to_vec(),
                    valid[r * WIDTH..(r + 1) * WIDTH].to_vec(),
                );
                let label = format!("{op:?} {method:?} row {r} ({:.3} m)", sizes[r]);
                let a = agreement(&label, &ours, theirs, op == TerrainOp::Aspect);
                let tolerance = if op.name() == "hillshade" { 1.0 } else { 1e-4 };
                assert!(a.max_difference <= tolerance, "{label}: {a:?}");
            }
        }
    }
    Ok(())
}
