//! `--merge` and type/nodata promotion over overlapping sources (issue 16, "merge and types").
//!
//! The sources are small EPSG:3857 rasters written by rasterio on the XYZ pixel grid of z12
//! (`pieces.py write`), inside one z12 tile: with `--max-zoom 12` the layer is that tile's
//! single COG and nearest sampling reads every source pixel exactly, so every output pixel is
//! predicted here and compared with what rasterio decodes from the COG. Needs the venv.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::{oracle, util};

const Z: u8 = 12;
const TILE: (u32, u32) = (2100, 1400);

/// One source: its top-left pixel in the tile, size, dtype, nodata and values (row-major,
/// one band).
struct Src {
    col0: u32,
    row0: u32,
    cols: u32,
    rows: u32,
    dtype: &'static str,
    nodata: Option<f64>,
    values: Vec<f64>,
}

impl Src {
    fn new(col0: u32, row0: u32, cols: u32, rows: u32, dtype: &'static str) -> Src {
        Src {
            col0,
            row0,
            cols,
            rows,
            dtype,
            nodata: None,
            values: vec![0.0; (cols * rows) as usize],
        }
    }

    /// The value at tile pixel (col, row) if this source covers it and it is valid.
    fn at(&self, col: u32, row: u32) -> Option<f64> {
        if col < self.col0 || row < self.row0 {
            return None;
        }
        let (c, r) = (col - self.col0, row - self.row0);
        if c >= self.cols || r >= self.rows {
            return None;
        }
        let v = self.values[(r * self.cols + c) as usize];
        (!v.is_nan() && self.nodata != Some(v)).then_some(v)
    }

    fn write(&self, python: &Path, path: &Path) {
        let values: Vec<String> = self.values.iter().map(|v| v.to_string()).collect();
        let nodata = self.nodata.map_or("none".to_owned(), |v| v.to_string());
        let (z, x, y) = (Z.to_string(), TILE.0.to_string(), TILE.1.to_string());
        let (c0, r0) = (self.col0.to_string(), self.row0.to_string());
        let (cols, rows) = (self.cols.to_string(), self.rows.to_string());
        let out = path.to_string_lossy();
        // `--k=v`: argparse would take a negative value for an option.
        let args = [
            "write".to_owned(),
            out.into_owned(),
            format!("--dtype={}", self.dtype),
            format!("--nodata={nodata}"),
            format!("--z={z}"),
            format!("--x={x}"),
            format!("--y={y}"),
            format!("--col0={c0}"),
            format!("--row0={r0}"),
            format!("--cols={cols}"),
            format!("--rows={rows}"),
            format!("--values={}", values.join(",")),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        util::py_json(python, &args);
    }
}

/// Writes `sources` as s0.tif, s1.tif, … and ingests them in that order as layer `id` with
/// `extra` options; returns the manifest and the decoded max-zoom pixels over the sources'
/// union box (`pieces.py pixels`).
fn ingest(python: &Path, dir: &Path, id: &str, sources: &[Src], extra: &[&str]) -> (Value, Value) {
    let store = dir.join("store");
    let url = util::store_url(&store);
    let paths: Vec<String> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = dir.join(format!("{id}-s{i}.tif"));
            s.write(python, &p);
            p.to_string_lossy().into_owned()
        })
        .collect();
    let z = Z.to_string();
    let mut args = vec!["add"];
    args.extend(paths.iter().map(String::as_str));
    args.extend(["--layer", id, "--store", &url, "--max-zoom", &z, "--quiet"]);
    args.extend(extra);
    util::run_ok(&args, &[], Duration::from_secs(120));
    let m = util::manifest_json(&store, id);
    let (c0, r0, cols, rows) = union(sources);
    let window = format!("--window={c0},{r0},{cols},{rows}");
    let px = util::py_json(python, &["pixels", &store.to_string_lossy(), id, &window]);
    // One COG, anchored at the sources' tile: its level 0 is that tile's pixel grid.
    let cog = format!("{Z}/{}/{}.tif", TILE.0, TILE.1);
    assert_eq!(px["cog"].as_str(), Some(cog.as_str()), "{id}");
    (m, px)
}

/// The union box of `sources` in tile pixels: (col0, row0, cols, rows).
fn union(sources: &[Src]) -> (u32, u32, u32, u32) {
    let c0 = sources.iter().map(|s| s.col0).min().unwrap();
    let r0 = sources.iter().map(|s| s.row0).min().unwrap();
    let c1 = sources.iter().map(|s| s.col0 + s.cols).max().unwrap();
    let r1 = sources.iter().map(|s| s.row0 + s.rows).max().unwrap();
    (c0, r0, c1 - c0, r1 - r0)
}

/// Compares the decoded pixels with `expect(col, row)` (None = invalid) over the union
/// box; invalid pixels must be masked out and hold `fill` when given (NaN matches NaN).
fn check_pixels(
    px: &Value,
    sources: &[Src],
    fill: Option<f64>,
    expect: impl Fn(u32, u32) -> Option<f64>,
) -> Vec<String> {
    let (c0, r0, cols, rows) = union(sources);
    let band = &px["bands"][0];
    let mut problems = Vec::new();
    let rows_got = band.as_array().map_or(0, Vec::len);
    let cols_got = band[0].as_array().map_or(0, Vec::len);
    if (rows_got, cols_got) != (rows as usize, cols as usize) {
        return vec![format!(
            "decoded {cols_got}x{rows_got} px, expected {cols}x{rows}"
        )];
    }
    for r in 0..rows {
        for c in 0..cols {
            let got = band[r as usize][c as usize].as_f64().unwrap_or(f64::NAN);
            let valid = px["mask"][r as usize][c as usize].as_u64() == Some(1);
            let want = expect(c0 + c, r0 + r);
            let ok = match want {
                Some(w) => valid && got == w,
                None => !valid && fill.is_none_or(|f| got == f || (got.is_nan() && f.is_nan())),
            };
            if !ok {
                problems.push(format!(
                    "pixel ({c}, {r}): got {got} (mask {valid}), expected {want:?}"
                ));
            }
        }
    }
    problems.truncate(10);
    problems
}

/// Two int16 sources sharing nodata -1, overlapping in a 3×3 block, with values drawn so
/// that either may be the smaller; A has a nodata hole inside the overlap.
fn two_int16() -> Vec<Src> {
    let mut rng = util::Prng(16);
    let mut a = Src::new(10, 20, 6, 4, "int16");
    let mut b = Src::new(13, 21, 6, 5, "int16");
    for s in [&mut a, &mut b] {
        s.nodata = Some(-1.0);
        for v in &mut s.values {
            *v = (1 + rng.next_u64() % 300) as f64;
        }
    }
    a.values[(a.cols + 4) as usize] = -1.0; // tile pixel (14, 21): in B too
    vec![a, b]
}

#[test]
fn merge_modes_match_the_predicted_pixels() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sources = two_int16();
    let (a, b) = (&sources[0], &sources[1]);
    assert!(
        a.at(14, 21).is_none() && b.at(14, 21).is_some(),
        "the hole is in B"
    );
    type Rule = fn(Option<f64>, Option<f64>) -> Option<f64>;
    let modes: BTreeMap<&str, Rule> = BTreeMap::from([
        ("first", (|x, y| x.or(y)) as Rule),
        ("last", |x, y| y.or(x)),
        ("min", |x, y| match (x, y) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }),
        ("max", |x, y| match (x, y) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        }),
        // The stored type is int16: the mean is rounded half away from zero.
        ("mean", |x, y| match (x, y) {
            (Some(x), Some(y)) => Some(((x + y) / 2.0).round()),
            (x, y) => x.or(y),
        }),
    ]);
    let mut failures = Vec::new();
    for (mode, rule) in &modes {
        let (m, px) = ingest(&python, dir.path(), mode, &sources, &["--merge", mode]);
        if (
            m["dtype"].as_str(),
            m["nodata"].as_f64(),
            m["mask"].as_bool(),
        ) != (Some("int16"), Some(-1.0), Some(false))
        {
            failures.push(format!(
                "{mode}: dtype {} nodata {} mask {}: expected int16, the shared -1, no mask",
                m["dtype"], m["nodata"], m["mask"]
            ));
        }
        let expect = |c, r| rule(a.at(c, r), b.at(c, r));
        for p in check_pixels(&px, &sources, Some(-1.0), expect) {
            failures.push(format!("{mode}: {p}"));
        }
        // Statistics are over the merged layer: exactly the predicted valid values.
        let (c0, r0, cols, rows) = union(&sources);
        let vals: Vec<f64> = (r0..r0 + rows)
            .flat_map(|r| (c0..c0 + cols).map(move |c| (c, r)))
            .filter_map(|(c, r)| expect(c, r))
            .collect();
        let st = &m["bands"][0]["stats"];
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let (lo, hi) = vals
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
        let got = (st["count"].as_f64(), st["min"].as_f64(), st["max"].as_f64());
        if got != (Some(vals.len() as f64), Some(lo), Some(hi))
            || (st["mean"].as_f64().unwrap_or(f64::NAN) - mean).abs() > 1e-9 * mean
        {
            failures.push(format!(
                "{mode}: stats {st}, expected count {} min {lo} max {hi} mean {mean}",
                vals.len()
            ));
        }
    }
    assert!(failures.is_empty(), "merge:\n  {}", failures.join("\n  "));
}

/// uint8 (nodata 0) + int16 (nodata -5): int16, and no nodata both share, so an internal
/// mask. Each source's own nodata counts: A's 0 hole is filled from B, and B's valid 0 and
/// negative values survive.
#[test]
fn differing_types_and_nodata_promote_and_mask() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = Src::new(10, 20, 5, 4, "uint8");
    a.nodata = Some(0.0);
    for (i, v) in a.values.iter_mut().enumerate() {
        *v = 200.0 + i as f64; // up to 219, and 255 below
    }
    a.values[0] = 255.0;
    a.values[(a.cols + 3) as usize] = 0.0; // tile pixel (13, 21): nodata, in B too
    let mut b = Src::new(12, 21, 5, 4, "int16");
    b.nodata = Some(-5.0);
    for (i, v) in b.values.iter_mut().enumerate() {
        *v = -300.0 + 37.0 * i as f64;
    }
    b.values[(3 * b.cols + 4) as usize] = 0.0; // tile pixel (16, 24): B only, valid 0
    b.values[(3 * b.cols + 3) as usize] = -5.0; // tile pixel (15, 24): B's nodata
    let sources = vec![a, b];
    let (m, px) = ingest(&python, dir.path(), "types", &sources, &[]);
    let mut failures = Vec::new();
    if (
        m["dtype"].as_str(),
        m["mask"].as_bool(),
        m["nodata"].is_null(),
    ) != (Some("int16"), Some(true), true)
    {
        failures.push(format!(
            "dtype {} mask {} nodata {}: expected int16 with an internal mask and no nodata",
            m["dtype"], m["mask"], m["nodata"]
        ));
    }
    // GDAL sees a per-dataset mask (GDAL_NODATA would make it "nodata").
    if px["mask_flags"] != serde_json::json!([["per_dataset"]]) || !px["nodata"].is_null() {
        failures.push(format!(
            "GDAL reads mask flags {} and nodata {}",
            px["mask_flags"], px["nodata"]
        ));
    }
    let (a, b) = (&sources[0], &sources[1]);
    assert_eq!(
        (a.at(13, 21), b.at(16, 24), b.at(15, 24)),
        (None, Some(0.0), None)
    );
    failures.extend(check_pixels(&px, &sources, None, |c, r| {
        a.at(c, r).or(b.at(c, r))
    }));
    assert!(failures.is_empty(), "types:\n  {}", failures.join("\n  "));
}

/// float32 sources with different nodata values: the layer uses NaN.
#[test]
fn float_sources_with_different_nodata_use_nan() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = Src::new(30, 40, 4, 3, "float32");
    a.nodata = Some(-9999.0);
    for (i, v) in a.values.iter_mut().enumerate() {
        *v = 0.5 + i as f64;
    }
    a.values[5] = -9999.0; // tile pixel (31, 41): only A covers it, so invalid
    let mut b = Src::new(32, 41, 4, 3, "float32");
    b.nodata = Some(-1.0);
    for (i, v) in b.values.iter_mut().enumerate() {
        *v = -9999.0 + 0.25 * i as f64; // B's -9999 is a valid value
    }
    let sources = vec![a, b];
    let (m, px) = ingest(
        &python,
        dir.path(),
        "floats",
        &sources,
        &["--merge", "last"],
    );
    let mut failures = Vec::new();
    if (
        m["dtype"].as_str(),
        m["mask"].as_bool(),
        m["nodata"].as_str(),
    ) != (Some("float32"), Some(false), Some("nan"))
    {
        failures.push(format!(
            "dtype {} mask {} nodata {}: expected float32 with NaN nodata",
            m["dtype"], m["mask"], m["nodata"]
        ));
    }
    let (a, b) = (&sources[0], &sources[1]);
    failures.extend(check_pixels(&px, &sources, Some(f64::NAN), |c, r| {
        b.at(c, r).or(a.at(c, r))
    }));
    assert!(failures.is_empty(), "floats:\n  {}", failures.join("\n  "));
}
