//! `/statistics` against rasterio: corpus files ingested into a temporary store, polygons
//! sent to the shared `Service` (in process, as every host runs it), and every figure
//! compared with `tests/oracle/stats_oracle.py`, which reads the same COGs with GDAL and
//! decides the pixels with `rasterio.features.geometry_mask` (centre rule) on the XYZ grid
//! of the zoom used.
//!
//! Tolerances: pixel counts, valid counts, histogram counts and value counts exactly equal;
//! min and max bit for bit; sum, mean, std and class areas to 1e-9 relative; percentiles to
//! f32 rounding (tilefn keeps the values for them as f32, `zonal/summary.rs`): 2^-23 of
//! their magnitude. Needs the venv (scripts/python-env.sh); skipped without it except
//! under CI=true.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tilefn_storage::ObjectStoreBucket;
use tilefn_tiler::{Config, Request, Service};

use crate::{oracle, util};

const ORIGIN: f64 = 20_037_508.342_789_244;
const REL: f64 = 1e-9;
const F32_REL: f64 = 1.0 / (1u64 << 23) as f64;

fn res(z: u8) -> f64 {
    2.0 * ORIGIN / (256.0 * f64::from(1u32 << z))
}

/// One request and what the oracle must compute for it.
struct Case {
    name: String,
    layer: &'static str,
    /// `Some(z)` sends `zoom=z`; either way the answer must be at `expect_zoom`.
    forced: Option<u8>,
    expect_zoom: u8,
    max_zoom: u8,
    formula: Option<&'static str>,
    categorical: bool,
    geometry: Value,
}

impl Case {
    fn new(name: &str, layer: &'static str, max_zoom: u8, geometry: Value) -> Case {
        Case {
            name: name.to_owned(),
            layer,
            forced: None,
            expect_zoom: max_zoom,
            max_zoom,
            formula: None,
            categorical: true,
            geometry,
        }
    }

    fn at_zoom(mut self, z: u8) -> Case {
        self.name = format!("{} at zoom={z}", self.name);
        self.forced = Some(z);
        self.expect_zoom = z;
        self
    }

    /// Value counts are in the answer: asked for, or a categorical layer's.
    fn classes(&self) -> bool {
        self.categorical || self.layer == "classes"
    }

    fn request(&self) -> Request {
        let mut query = vec!["crs=3857".to_owned()];
        let path = match self.formula {
            Some(f) => {
                query.push(format!("layers=a={}&formula={f}", self.layer));
                "/statistics".to_owned()
            }
            None => format!("/statistics/{}", self.layer),
        };
        if let Some(z) = self.forced {
            query.push(format!("zoom={z}"));
        }
        if self.categorical {
            query.push("categorical=true".into());
        }
        Request {
            method: "POST".into(),
            path,
            query: query.join("&"),
            body: self.geometry.to_string().into_bytes(),
            ..Request::default()
        }
    }

    fn oracle_case(&self) -> Value {
        let mut c = json!({"name": self.name, "zoom": self.expect_zoom,
            "geometry": self.geometry, "bind": {"a": [self.layer, 0]}});
        if let Some(f) = self.formula {
            c["formula"] = json!(f);
        }
        c
    }
}

/// A closed ring from points.
fn ring(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut r = points.to_vec();
    r.push(points[0]);
    r
}

fn polygon(rings: &[&[[f64; 2]]]) -> Value {
    let rings: Vec<_> = rings.iter().map(|r| ring(r)).collect();
    json!({"type": "Polygon", "coordinates": rings})
}

/// The point at fractions (fx, fy) of a box `[min_x, min_y, max_x, max_y]`.
fn at(b: [f64; 4], fx: f64, fy: f64) -> [f64; 2] {
    [b[0] + fx * (b[2] - b[0]), b[1] + fy * (b[3] - b[1])]
}

fn pts(b: [f64; 4], f: &[(f64, f64)]) -> Vec<[f64; 2]> {
    f.iter().map(|&(x, y)| at(b, x, y)).collect()
}

/// The corner of global pixel (col, row) at zoom z, in metres.
fn corner(z: u8, col: f64, row: f64) -> [f64; 2] {
    [col * res(z) - ORIGIN, ORIGIN - row * res(z)]
}

fn bounds(store: &Path, layer: &str) -> ([f64; 4], u8) {
    let m = util::manifest_json(store, layer);
    let b = &m["bounds"]["mercator"];
    let b = [0, 1, 2, 3].map(|i| b[i].as_f64().unwrap_or(f64::NAN));
    (b, m["max_zoom"].as_u64().unwrap_or(0) as u8)
}

/// dem-hills at the origin: float32, nodata, four COGs of the z7..14 group meeting at
/// (0, 0), and a z0..6 group.
fn dem_cases(store: &Path) -> Vec<Case> {
    let (b, max) = bounds(store, "dem0");
    let hole = polygon(&[
        &pts(
            b,
            &[
                (0.05, 0.08),
                (0.93, 0.12),
                (0.88, 0.95),
                (0.1, 0.9),
                (0.02, 0.5),
            ],
        ),
        &pts(b, &[(0.55, 0.31), (0.71, 0.28), (0.69, 0.46), (0.57, 0.43)]),
    ]);
    // Overlapping parts, one with a hole, one far off the data.
    let multi = json!({"type": "MultiPolygon", "coordinates": [
        [ring(&pts(b, &[(0.2, 0.3), (0.5, 0.35), (0.4, 0.7)]))],
        [ring(&pts(b, &[(0.45, 0.5), (0.9, 0.55), (0.85, 0.9), (0.5, 0.85)])),
         ring(&pts(b, &[(0.6, 0.6), (0.75, 0.62), (0.7, 0.75)]))],
        [ring(&pts(b, &[(3.0, 3.0), (3.5, 3.0), (3.5, 3.4)]))],
    ]});
    let outside = polygon(&[&pts(b, &[(0.7, 0.4), (1.8, 0.35), (1.6, 1.5), (0.75, 1.3)])]);
    // Slivers 0.4 px wide: over the centres of column `c` (one pixel a row), between two
    // columns' centres (no pixel), and slanted across many columns.
    let c = ((b[0] + 0.37 * (b[2] - b[0]) + ORIGIN) / res(max)).floor();
    let (top, bottom) = (at(b, 0.0, 0.85)[1], at(b, 0.0, 0.15)[1]);
    let sliver = |x0: f64| {
        let (x0, x1) = (
            corner(max, c + x0, 0.0)[0],
            corner(max, c + x0 + 0.4, 0.0)[0],
        );
        polygon(&[&[[x0, bottom], [x1, bottom], [x1, top], [x0, top]]])
    };
    let w = 0.25 * res(max);
    let (p, q) = (at(b, 0.1, 0.2), at(b, 0.9, 0.7));
    let slanted = polygon(&[&[p, q, [q[0] - w, q[1] + w], [p[0] - w, p[1] + w]]]);
    // Edges on pixel borders, around the origin (a tile corner at every zoom, where the
    // four finest COGs meet).
    let o = f64::from(1u32 << (max + 7));
    let aligned = polygon(&[&[
        corner(max, o - 37.0, o + 29.0),
        corner(max, o + 53.0, o + 29.0),
        corner(max, o + 53.0, o - 41.0),
        corner(max, o - 37.0, o - 41.0),
    ]]);
    let collection = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": 1, "properties": {"name": "a"}, "geometry": hole},
        {"type": "Feature", "id": "b", "properties": null, "geometry": outside},
        {"type": "Feature", "geometry": polygon(&[&pts(b, &[(4.0, 4.0), (4.5, 4.0), (4.5, 4.5)])])},
        {"type": "Feature", "properties": {"kind": "sliver"}, "geometry": sliver(0.3)},
    ]});
    let whole = polygon(&[&pts(
        b,
        &[(-1.0, -1.0), (2.0, -1.0), (2.0, 2.0), (-1.0, 2.0)],
    )]);
    let mut no_classes = Case::new(
        "partly outside, no categorical",
        "dem0",
        max,
        outside.clone(),
    );
    no_classes.categorical = false;
    let mut formula = Case::new("formula a*2", "dem0", max, hole.clone());
    formula.formula = Some("a*2");
    let mut formula_zoom = Case::new("formula a*2", "dem0", max, outside.clone()).at_zoom(max - 3);
    formula_zoom.formula = Some("a*2");
    vec![
        Case::new("hole across four COGs", "dem0", max, hole.clone()),
        Case::new("multipolygon, overlapping parts", "dem0", max, multi),
        Case::new("partly outside", "dem0", max, outside.clone()),
        no_classes,
        Case::new("sliver over column centres", "dem0", max, sliver(0.3)),
        Case::new("sliver between column centres", "dem0", max, sliver(0.55)),
        Case::new("slanted sliver", "dem0", max, slanted),
        Case::new("pixel-aligned box at the origin", "dem0", max, aligned),
        Case::new("feature collection", "dem0", max, collection),
        Case::new("hole", "dem0", max, hole).at_zoom(max - 2),
        Case::new("around the layer", "dem0", max, whole.clone()).at_zoom(7),
        Case::new("around the layer (coarse group)", "dem0", max, whole).at_zoom(6),
        formula,
        formula_zoom,
    ]
}

/// django-raster's test raster: categorical uint8 classes, nodata 255.
fn categorical_cases(store: &Path) -> Vec<Case> {
    let (b, max) = bounds(store, "classes");
    let holed = polygon(&[
        &pts(b, &[(-0.2, 0.1), (0.62, -0.15), (0.7, 0.8), (0.3, 1.3)]),
        &pts(b, &[(0.2, 0.3), (0.45, 0.35), (0.3, 0.6)]),
    ]);
    let square = |x: f64, y: f64, s: f64| {
        polygon(&[&pts(
            b,
            &[(x, y), (x + s, y + 0.01), (x + s, y + s), (x - 0.01, y + s)],
        )])
    };
    let fields: Vec<Value> = (0..6)
        .map(|i| {
            let (x, y) = (0.05 + 0.15 * f64::from(i), 0.1 + 0.13 * f64::from(i % 3));
            json!({"type": "Feature", "id": i, "properties": {"field": i},
                "geometry": square(x, y, 0.17)})
        })
        .collect();
    let fields = json!({"type": "FeatureCollection", "features": fields});
    vec![
        Case::new("hole, partly outside", "classes", max, holed.clone()),
        Case::new("hole, partly outside", "classes", max, holed).at_zoom(max - 1),
        // Without categorical=true: a categorical layer always answers value counts.
        Case {
            categorical: false,
            ..Case::new("six fields", "classes", max, fields)
        },
    ]
}

/// rio-tiler's uint16 COG, no nodata: ingest masks outside the UTM footprint.
fn masked_cases(store: &Path) -> Vec<Case> {
    let (b, max) = bounds(store, "masked");
    let corner_poly = polygon(&[&pts(
        b,
        &[
            (-0.1, -0.05),
            (0.33, -0.12),
            (0.36, 0.31),
            (0.12, 0.27),
            (-0.04, 0.4),
        ],
    )]);
    let multi = json!({"type": "MultiPolygon", "coordinates": [
        [ring(&pts(b, &[(0.5, 0.5), (0.8, 0.55), (0.75, 0.8)])),
         ring(&pts(b, &[(0.62, 0.58), (0.7, 0.6), (0.68, 0.66)]))],
        [ring(&pts(b, &[(0.85, 0.9), (1.1, 0.88), (1.05, 1.15)]))],
    ]});
    vec![
        Case::new(
            "corner across tiles and the mask",
            "masked",
            max,
            corner_poly.clone(),
        ),
        Case::new("corner", "masked", max, corner_poly).at_zoom(max - 2),
        Case::new("multipolygon with a hole", "masked", max, multi),
    ]
}

fn ingest(store: &Path, src: &Path, layer: &str, extra: &[&str]) {
    let url = util::store_url(store);
    let src = src.to_string_lossy();
    let mut args = vec!["add", &src, "--layer", layer, "--store", &url, "--quiet"];
    args.extend(extra);
    util::run_ok(&args, &[], Duration::from_secs(300));
}

fn run_oracle(python: &Path, store: &Path, cases: &[Case]) -> Vec<Value> {
    let file = store.join("cases.json");
    let list: Vec<Value> = cases.iter().map(Case::oracle_case).collect();
    std::fs::write(&file, Value::Array(list).to_string()).expect("cases.json");
    let script = util::repo_root().join("tests/oracle/stats_oracle.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .args(["--store", &store.to_string_lossy(), &file.to_string_lossy()])
        .output()
        .expect("cannot run the venv python");
    assert!(
        out.status.success(),
        "stats_oracle.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str(text.trim()) {
        Ok(Value::Array(results)) => results,
        other => panic!("stats_oracle.py printed {text:?}: {other:?}"),
    }
}

/// `|a - b| <= tol · max(|a|, |b|)`, both null, or both equal.
fn close(a: &Value, b: &Value, tol: f64) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y || (x - y).abs() <= tol * x.abs().max(y.abs()),
        _ => a == b,
    }
}

/// The differences between one band of ours and the oracle's.
fn compare_band(ours: &Value, want: &Value, classes: bool, problems: &mut Vec<String>) {
    let mut differ = |what: &str, a: &Value, b: &Value| {
        problems.push(format!("{what}: ours {a}, rasterio {b}"));
    };
    if ours["count"] != want["count"] {
        differ("count", &ours["count"], &want["count"]);
        return;
    }
    if want["count"] == 0 {
        for k in ["min", "max", "mean", "std", "sum"] {
            if !ours[k].is_null() {
                differ(k, &ours[k], &Value::Null);
            }
        }
    } else {
        for k in ["min", "max"] {
            if ours[k].as_f64() != want[k].as_f64() {
                differ(k, &ours[k], &want[k]);
            }
        }
        for k in ["sum", "mean", "std"] {
            if !close(&ours[k], &want[k], REL) {
                differ(k, &ours[k], &want[k]);
            }
        }
        for pair in want["percentiles"].as_array().into_iter().flatten() {
            let key = format!("{}", pair[0].as_f64().unwrap_or(f64::NAN));
            if !close(&ours["percentiles"][&key], &pair[1], F32_REL) {
                differ(&format!("p{key}"), &ours["percentiles"][&key], &pair[1]);
            }
        }
        let (h, wh) = (&ours["histogram"], &want["histogram"]);
        if h["counts"] != wh["counts"] {
            differ("histogram counts", &h["counts"], &wh["counts"]);
        }
        let edges = h["edges"].as_array().map_or(0, Vec::len);
        let want_edges = wh["edges"].as_array().cloned().unwrap_or_default();
        if edges != want_edges.len()
            || (0..edges).any(|i| !close(&h["edges"][i], &want_edges[i], REL))
        {
            differ("histogram edges", &h["edges"], &wh["edges"]);
        }
    }
    if !classes {
        if ours.get("value_counts").is_some() {
            differ(
                "value_counts (not asked for)",
                &ours["value_counts"],
                &Value::Null,
            );
        }
        return;
    }
    let want_classes = want["value_counts"].as_array().cloned().unwrap_or_default();
    let counts = ours["value_counts"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut ours_classes: Vec<(f64, &Value, &Value)> = counts
        .iter()
        .map(|(k, n)| (k.parse().unwrap_or(f64::NAN), n, &ours["area_m2"][k]))
        .collect();
    ours_classes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let same = ours_classes.len() == want_classes.len()
        && ours_classes
            .iter()
            .zip(&want_classes)
            .all(|((v, n, a), w)| Some(*v) == w[0].as_f64() && *n == &w[1] && close(a, &w[2], REL));
    if !same {
        let brief = |v: &Value| v.to_string().chars().take(300).collect::<String>();
        differ(
            "value_counts/area_m2",
            &json!(brief(&ours["value_counts"])),
            &json!(brief(&json!(want_classes))),
        );
    }
}

/// Checks one answer against the oracle's result; returns the problems.
fn compare(case: &Case, answer: &Value, want: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if answer["zoom"] != case.expect_zoom {
        problems.push(format!("zoom {} != {}", answer["zoom"], case.expect_zoom));
    }
    if answer["exact"] != json!(case.expect_zoom == case.max_zoom) {
        problems.push(format!("exact {}", answer["exact"]));
    }
    let features: Vec<&Value> = match answer.get("features") {
        Some(Value::Array(f)) => f.iter().collect(),
        _ => vec![answer],
    };
    let wanted = want["features"].as_array().cloned().unwrap_or_default();
    if features.len() != wanted.len() {
        problems.push(format!(
            "{} features, rasterio {}",
            features.len(),
            wanted.len()
        ));
        return problems;
    }
    let collection = case.geometry["type"] == "FeatureCollection";
    for (i, (ours, want)) in features.iter().zip(&wanted).enumerate() {
        let mut p = Vec::new();
        if ours["pixels"] != want["pixels"] {
            p.push(format!(
                "pixels: ours {}, rasterio {}",
                ours["pixels"], want["pixels"]
            ));
        }
        if collection {
            let f = &case.geometry["features"][i];
            if ours["id"] != f["id"] || ours["properties"] != f["properties"] {
                p.push(format!(
                    "id/properties {} {}",
                    ours["id"], ours["properties"]
                ));
            }
        }
        let bands = ours["bands"].as_array().cloned().unwrap_or_default();
        let want_bands = want["bands"].as_array().cloned().unwrap_or_default();
        if bands.len() != want_bands.len() {
            p.push(format!(
                "{} bands, rasterio {}",
                bands.len(),
                want_bands.len()
            ));
        }
        for (b, w) in bands.iter().zip(&want_bands) {
            compare_band(b, w, case.classes(), &mut p);
        }
        problems.extend(p.into_iter().map(|s| format!("feature {i}: {s}")));
    }
    problems
}

#[test]
fn statistics_match_rasterio() {
    let Some(python) = oracle::python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let dem = dir.path().join("dem0.tif");
    util::py_json(
        &python,
        &[
            "shift",
            &util::corpus("georust-gdal__dem-hills.tiff").to_string_lossy(),
            &dem.to_string_lossy(),
        ],
    );
    ingest(&store, &dem, "dem0", &[]);
    let classes = util::corpus("django-raster__raster.tif");
    ingest(&store, &classes, "classes", &["--datatype", "categorical"]);
    ingest(&store, &util::corpus("rio-tiler__cog.tif"), "masked", &[]);

    // What the dem0 cases rely on: four finest COGs meeting at the origin, a coarser group.
    let m = util::manifest_json(&store, "dem0");
    let finest = m["groups"][0]["anchor_zoom"].to_string();
    let anchors = m["objects"].as_array().into_iter().flatten();
    let cogs = anchors
        .filter(|o| {
            o["key"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("/cog/{finest}/"))
        })
        .count();
    assert_eq!((cogs, m["groups"].as_array().map(Vec::len)), (4, Some(2)));

    let mut cases = dem_cases(&store);
    cases.extend(categorical_cases(&store));
    cases.extend(masked_cases(&store));
    let oracle = run_oracle(&python, &store, &cases);
    assert_eq!(oracle.len(), cases.len());

    let bucket = ObjectStoreBucket::from_url(&util::store_url(&store)).expect("bucket");
    let service = Service::new(bucket, Config::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut failures = Vec::new();
    let mut checked = (0u64, 0u64);
    for (case, want) in cases.iter().zip(&oracle) {
        let reply = runtime.block_on(service.handle(&case.request()));
        let text = String::from_utf8_lossy(&reply.body);
        let answer: Value = match (reply.status, serde_json::from_str(&text)) {
            (200, Ok(v)) => v,
            (status, _) => {
                failures.push(format!("{}: {status} {text}", case.name));
                continue;
            }
        };
        let features = want["features"].as_array().cloned().unwrap_or_default();
        let pixels: u64 = features
            .iter()
            .map(|f| f["pixels"].as_u64().unwrap_or(0))
            .sum();
        let valid: u64 = features
            .iter()
            .flat_map(|f| f["bands"].as_array().cloned().unwrap_or_default())
            .map(|b| b["count"].as_u64().unwrap_or(0))
            .sum();
        eprintln!(
            "  {} ({}): zoom {}, {} feature(s), {pixels} px inside, {valid} valid",
            case.name,
            case.layer,
            case.expect_zoom,
            features.len()
        );
        checked = (checked.0 + pixels, checked.1 + valid);
        for p in compare(case, &answer, want) {
            failures.push(format!("{} ({}): {p}", case.name, case.layer));
        }
    }
    eprintln!(
        "statistics oracle: {} cases, {} pixels inside, {} valid values compared",
        cases.len(),
        checked.0,
        checked.1
    );
    assert!(
        failures.is_empty(),
        "/statistics differs from rasterio:\n  {}",
        failures.join("\n  ")
    );
}
