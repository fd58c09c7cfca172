//! `tilefn-ingest stats`: polygonal summaries of a collection into CSV and GeoJSON, from the
//! store directly; a bad feature is reported in its row and fails the command, after the
//! output is written. (Figures against GDAL: the statistics oracle test.)

use std::time::Duration;

use serde_json::{Value, json};
use tilefn_demodata::{DEFAULT_SEED, Kind};

use crate::util;

fn square(lon: f64, lat: f64, d: f64) -> Vec<[f64; 2]> {
    vec![
        [lon, lat],
        [lon + d, lat],
        [lon + d, lat + d],
        [lon, lat + d],
        [lon, lat],
    ]
}

#[test]
fn stats_summarises_a_collection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("landcover.tif");
    tilefn_demodata::write(Kind::Landcover, 512, DEFAULT_SEED, &src).expect("demodata");
    let store = dir.path().join("store");
    let url = util::store_url(&store);
    let src_arg = src.to_string_lossy();
    util::run_ok(
        &[
            "add",
            &src_arg,
            "--layer",
            "lc",
            "--store",
            &url,
            "--datatype",
            "categorical",
            "--quiet",
        ],
        &[],
        Duration::from_secs(300),
    );
    let m = util::manifest_json(&store, "lc");
    let b = &m["bounds"]["lonlat"];
    let (w, s, e, n) = (
        b[0].as_f64().unwrap(),
        b[1].as_f64().unwrap(),
        b[2].as_f64().unwrap(),
        b[3].as_f64().unwrap(),
    );
    let d = (e - w) / 5.0;
    let mut holed = vec![square(w + d, s + d, 2.0 * d)];
    holed.push(square(w + 1.5 * d, s + 1.5 * d, 0.5 * d));
    let mut open = square(w, s, d);
    open.pop();
    let fc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "field-1", "properties": {"crop": "wheat"},
         "geometry": {"type": "Polygon", "coordinates": [square(w + 0.2 * d, n - 1.3 * d, d)]}},
        {"type": "Feature", "id": 2, "properties": {},
         "geometry": {"type": "Polygon", "coordinates": holed}},
        {"type": "Feature", "id": "broken", "properties": {},
         "geometry": {"type": "Polygon", "coordinates": [open]}},
    ]});
    let features = dir.path().join("fields.geojson");
    std::fs::write(&features, fc.to_string()).unwrap();
    let features_arg = features.to_string_lossy();

    let csv_path = dir.path().join("stats.csv");
    let csv_arg = csv_path.to_string_lossy();
    let o = util::run(
        &[
            "stats",
            "lc",
            "--features",
            &features_arg,
            "--out",
            &csv_arg,
            "--store",
            &url,
            "-q",
        ],
        &[],
        Duration::from_secs(300),
    );
    assert!(!o.ok() && !o.panicked(), "{}", o.describe());
    assert!(
        o.stderr.contains("1 of 3 features failed"),
        "{}",
        o.describe()
    );
    let text = std::fs::read_to_string(&csv_path).expect("the CSV is written anyway");
    let mut rows = csv_rows(&text);
    let header = rows.remove(0);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 3, "{text}");
    for row in &rows[..2] {
        let count: u64 = row[col("count")].parse().unwrap();
        let pixels: u64 = row[col("pixels")].parse().unwrap();
        assert!(count > 100 && count <= pixels, "{row:?}");
        let classes: Value = serde_json::from_str(&row[col("value_counts")]).unwrap();
        let sum: u64 = classes
            .as_object()
            .unwrap()
            .values()
            .filter_map(Value::as_u64)
            .sum();
        assert_eq!(sum, count, "value counts add up to the count");
        assert_eq!(row[col("exact")], "true");
    }
    assert_eq!(rows[0][col("id")], "field-1");
    assert_eq!(rows[1][col("id")], "2");
    assert!(
        rows[2][col("error")].contains("not closed"),
        "{:?}",
        rows[2]
    );

    // GeoJSON out: the same figures, on the features.
    let geojson_path = dir.path().join("stats.geojson");
    let geojson_arg = geojson_path.to_string_lossy();
    let _ = util::run(
        &[
            "stats",
            "lc",
            "--features",
            &features_arg,
            "--out",
            &geojson_arg,
            "--store",
            &url,
            "-q",
        ],
        &[],
        Duration::from_secs(300),
    );
    let out: Value = serde_json::from_slice(&std::fs::read(&geojson_path).unwrap()).unwrap();
    let first = &out["features"][0]["properties"];
    assert_eq!(first["crop"], "wheat");
    let count = first["statistics"]["bands"][0]["count"].as_u64().unwrap();
    assert_eq!(count.to_string(), rows[0][col("count")]);
}

/// Rows of a CSV without quoted commas in the checked columns (value counts are quoted
/// JSON: fields are split by the csv rules here, by hand, to keep the test independent).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut quoted = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        field.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => fields.push(std::mem::take(&mut field)),
                    (c, _) => field.push(c),
                }
            }
            fields.push(field);
            fields
        })
        .collect()
}
