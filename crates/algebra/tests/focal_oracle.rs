//! scipy as the oracle for the focal statistics: every statistic over every neighbourhood
//! shape, on a grid with nodata holes, NaN, a whole nodata block, integer-valued areas (so
//! `focal_mode` has ties to break) and smooth hills, compared with
//! `tests/oracle/focal_oracle.py`, which builds each footprint itself from GeoTrellis's
//! membership rules and runs `scipy.ndimage.generic_filter` with NaN-ignoring numpy
//! functions. The same through the formula language with `evaluate_grid`.
//!
//! Results must have the same validity, and values within [`TOLERANCE`] relative
//! (`|ours - scipy| <= TOLERANCE * max(|scipy|, 1)`): summation order differs (numpy sums
//! pairwise), nothing else may. Observed (printed by the tests): 1.8e-15 over the 98
//! statistic × shape cases, 1.1e-13 through formulas (`focal_mean(a, circle(2)) - a`
//! is a small difference of two ~300 values, so its relative error is larger).
//!
//! A width (`focal_median(a, 5)`) is `Shape::Square(2)`: it is checked through the formula
//! language; the shapes include `square(5)` instead.
//!
//! Needs the venv from `scripts/python-env.sh` (scipy); without it the test is skipped with
//! a notice, except under CI=true where it fails.

#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tilefn_algebra::{
    Bindings, Column, Expr, FocalStat, Grid, Reduction, Shape, TerrainSettings, evaluate_grid,
    focal,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const TOLERANCE: f64 = 1e-9;
const WIDTH: usize = 53;
const HEIGHT: usize = 47;

const STATS: [(FocalStat, &str); 7] = [
    (FocalStat::Mean, "mean"),
    (FocalStat::Min, "min"),
    (FocalStat::Max, "max"),
    (FocalStat::Sum, "sum"),
    (FocalStat::Median, "median"),
    (FocalStat::Mode, "mode"),
    (FocalStat::Std, "std"),
];

const SHAPES: [Shape; 14] = [
    Shape::Square(0),
    Shape::Square(1),
    Shape::Square(2),
    Shape::Square(5),
    Shape::Circle(1.0),
    Shape::Circle(1.5),
    Shape::Circle(2.5),
    Shape::Annulus(1.0, 2.0),
    Shape::Annulus(0.0, 1.5),
    Shape::Nesw(1),
    Shape::Nesw(3),
    Shape::Wedge(2.0, 0.0, 90.0),
    Shape::Wedge(2.5, 270.0, 45.0),
    Shape::Wedge(3.0, 45.0, 45.0),
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

/// The test raster: values as stored (nodata cells hold -9999) and the validity mask.
struct Raster {
    values: Vec<f64>,
    valid: Vec<bool>,
}

/// Deterministic: LCG noise on two hills; a band of integer classes (ties for the mode);
/// scattered nodata, NaN marked valid, and a whole 7×6 nodata block wider than the
/// 5×5 window, so some windows see nothing.
fn raster() -> Raster {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut noise = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut values = Vec::with_capacity(WIDTH * HEIGHT);
    let mut valid = Vec::with_capacity(WIDTH * HEIGHT);
    for row in 0..HEIGHT {
        for col in 0..WIDTH {
            let (x, y) = (col as f64, row as f64);
            let hill = |cx: f64, cy: f64, h: f64, s: f64| {
                h * (-((x - cx).powi(2) + (y - cy).powi(2)) / (2.0 * s * s)).exp()
            };
            let n = noise();
            let smooth = 100.0 + hill(12.0, 10.0, 250.0, 6.0) + hill(40.0, 30.0, -80.0, 9.0);
            let v = if (20..32).contains(&row) && col < 30 {
                // Land-cover-like classes: few distinct integers.
                ((col / 4 + row / 3) % 5) as f64 + (n * 2.0).floor()
            } else {
                smooth + 3.0 * n
            };
            let hole = n < 0.08 || ((5..11).contains(&row) && (30..37).contains(&col));
            let v = if !hole && (0.08..0.1).contains(&n) {
                f64::NAN
            } else {
                v
            };
            values.push(if hole { -9999.0 } else { v });
            valid.push(!hole);
        }
    }
    Raster { values, valid }
}

fn shape_json(shape: &Shape) -> Value {
    match *shape {
        Shape::Square(r) => json!({"kind": "square", "r": r}),
        Shape::Circle(r) => json!({"kind": "circle", "r": r}),
        Shape::Annulus(a, b) => json!({"kind": "annulus", "inner": a, "outer": b}),
        Shape::Nesw(r) => json!({"kind": "nesw", "r": r}),
        Shape::Wedge(r, s, e) => json!({"kind": "wedge", "r": r, "start": s, "end": e}),
    }
}

/// A version 1.0 `.npy` file: `descr` and `shape` in the header, padded to 64 bytes.
fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) -> TestResult {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&u16::try_from(header.len())?.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes)?;
    Ok(())
}

/// The float64 data of a `.npy` file numpy wrote (`<f8`, C order).
fn read_npy_f64(path: &Path) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    let (major, len_at) = (bytes.get(6).copied(), 8);
    let header_len = match major {
        Some(1) => usize::from(u16::from_le_bytes([bytes[len_at], bytes[len_at + 1]])) + 10,
        Some(2 | 3) => {
            let b: [u8; 4] = bytes[len_at..len_at + 4].try_into()?;
            usize::try_from(u32::from_le_bytes(b))? + 12
        }
        _ => return Err("not a .npy file".into()),
    };
    let header = String::from_utf8_lossy(&bytes[..header_len]);
    if !header.contains("'<f8'") || header.contains("'fortran_order': True") {
        return Err(format!("unexpected .npy header {header}").into());
    }
    Ok(bytes[header_len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

/// Runs the oracle on `(values, valid)` for `cases` (`(stat name, shape)`): one result
/// grid per case, NaN where invalid.
fn oracle(
    python: &Path,
    values: &[f64],
    valid: &[bool],
    cases: &[(&str, Shape)],
) -> Result<Vec<Vec<f64>>, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let floats: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(
        &dir.path().join("values.npy"),
        "<f8",
        &[HEIGHT, WIDTH],
        &floats,
    )?;
    let bools: Vec<u8> = valid.iter().map(|v| u8::from(*v)).collect();
    write_npy(
        &dir.path().join("valid.npy"),
        "|b1",
        &[HEIGHT, WIDTH],
        &bools,
    )?;
    let cases_json: Vec<Value> = cases
        .iter()
        .map(|(stat, shape)| json!({"stat": stat, "shape": shape_json(shape)}))
        .collect();
    let spec = json!({ "cases": cases_json });
    std::fs::write(dir.path().join("cases.json"), spec.to_string())?;
    let script = repo_root().join("tests/oracle/focal_oracle.py");
    let out = Command::new(python).arg(script).arg(dir.path()).output()?;
    if !out.status.success() {
        return Err(format!("oracle failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let all = read_npy_f64(&dir.path().join("out.npy"))?;
    let cells = WIDTH * HEIGHT;
    assert_eq!(all.len(), cases.len() * cells, "oracle output size");
    Ok(all.chunks(cells).map(<[f64]>::to_vec).collect())
}

/// Largest relative difference of `ours` from `expected` (NaN = invalid); panics on a
/// validity mismatch or a difference above [`TOLERANCE`], naming `what` and the cell.
fn compare(what: &str, values: &[f64], valid: &[bool], expected: &[f64]) -> f64 {
    let mut worst: f64 = 0.0;
    for (i, ((v, ok), e)) in values.iter().zip(valid).zip(expected).enumerate() {
        let (row, col) = (i / WIDTH, i % WIDTH);
        assert_eq!(
            *ok,
            !e.is_nan(),
            "{what} at row {row} col {col}: ours {v} (valid {ok}), scipy {e}"
        );
        if *ok {
            let diff = (v - e).abs() / e.abs().max(1.0);
            assert!(
                diff <= TOLERANCE,
                "{what} at row {row} col {col}: ours {v}, scipy {e}"
            );
            worst = worst.max(diff);
        }
    }
    worst
}

#[test]
fn every_statistic_and_shape_equals_scipy() -> TestResult {
    let Some(python) = python() else {
        return Ok(());
    };
    let r = raster();
    let cases: Vec<(&str, Shape)> = STATS
        .iter()
        .flat_map(|(_, name)| SHAPES.iter().map(move |s| (*name, *s)))
        .collect();
    let expected = oracle(&python, &r.values, &r.valid, &cases)?;
    let mut worst: f64 = 0.0;
    let stat_shape = STATS
        .iter()
        .flat_map(|(stat, _)| SHAPES.iter().map(move |s| (*stat, *s)));
    for ((stat, shape), want) in stat_shape.zip(&expected) {
        let (values, valid) = focal(stat, &shape, &r.values, &r.valid, WIDTH, HEIGHT);
        let what = format!("{}(x, {shape})", stat.name());
        worst = worst.max(compare(&what, &values, &valid, want));
    }
    // Some windows must see nothing at all, or the validity rule is untested.
    let none = expected
        .first()
        .map_or(0, |g| g.iter().filter(|v| v.is_nan()).count());
    assert!(none > 0, "no invalid result in square(0)");
    eprintln!(
        "focal oracle: {} cases x {} cells, max relative difference {worst:e}",
        cases.len(),
        WIDTH * HEIGHT
    );
    Ok(())
}

/// Binds `a` to the test raster.
struct One(Raster);

impl Bindings for One {
    fn column(&self, name: &str) -> Option<Column<'_>> {
        (name == "a").then_some(Column {
            values: &self.0.values,
            valid: &self.0.valid,
            nodata: Some(-9999.0),
        })
    }

    fn reduction(&self, _: &Reduction) -> Option<f64> {
        None
    }
}

fn grid() -> Grid {
    Grid {
        width: WIDTH,
        height: HEIGHT,
        pixel_size: vec![30.0; HEIGHT],
        terrain: TerrainSettings::default(),
    }
}

fn evaluate(src: &str, env: &One) -> Result<(Vec<f64>, Vec<bool>), Box<dyn std::error::Error>> {
    let expr = Expr::parse(src)?;
    let out = evaluate_grid(&expr, &grid(), env)?;
    Ok((out.values, out.valid))
}

#[test]
fn formulas_with_neighbourhoods_equal_scipy() -> TestResult {
    let Some(python) = python() else {
        return Ok(());
    };
    let env = One(raster());
    let (values, valid) = (&env.0.values, &env.0.valid);
    let scipy = oracle(
        &python,
        values,
        valid,
        &[
            ("mean", Shape::Circle(2.0)),
            ("std", Shape::Annulus(1.0, 2.0)),
            ("min", Shape::Square(1)),
            ("median", Shape::Square(2)),
        ],
    )?;
    let [mean, std, min, median] = &scipy[..] else {
        panic!("four results")
    };
    // An element-wise formula over the oracle's grids: NaN (invalid) propagates.
    let a: Vec<f64> = values
        .iter()
        .zip(valid)
        .map(|(v, ok)| if *ok { *v } else { f64::NAN })
        .collect();
    let minus: Vec<f64> = mean.iter().zip(&a).map(|(m, a)| m - a).collect();
    let (v, ok) = evaluate("focal_mean(a, circle(2)) - a", &env)?;
    let mut worst = compare("focal_mean(a, circle(2)) - a", &v, &ok, &minus);
    // Holes filled from their neighbourhood; valid cells kept.
    let filled: Vec<f64> = a
        .iter()
        .zip(std)
        .zip(valid)
        .map(|((a, s), ok)| if *ok { *a } else { *s })
        .collect();
    let (v, ok) = evaluate("where(a == NULL, focal_std(a, annulus(1, 2)), a)", &env)?;
    worst = worst.max(compare("where(...)", &v, &ok, &filled));
    // A width is a square.
    let (v, ok) = evaluate("focal_median(a, 5)", &env)?;
    worst = worst.max(compare("focal_median(a, 5)", &v, &ok, median));
    // A chain: the outer statistic reads the inner one's result, nodata where it is.
    let opened = oracle(
        &python,
        min,
        &min.iter().map(|v| !v.is_nan()).collect::<Vec<_>>(),
        &[("max", Shape::Square(1))],
    )?;
    let (v, ok) = evaluate("focal_max(focal_min(a, 3), 3)", &env)?;
    worst = worst.max(compare(
        "focal_max(focal_min(a, 3), 3)",
        &v,
        &ok,
        &opened[0],
    ));
    eprintln!("formula oracle: max relative difference {worst:e}");
    Ok(())
}
