//! `/statistics` end to end over synthetic layers: the figures against a brute-force count
//! over the layer's own GeoTIFF tiles, value counts, collections, formulas, the budget, and
//! bad input.

use serde_json::Value;
use tilefn_raster::mercator::{ORIGIN_SHIFT, resolution};

use super::{BoxError, TestResult, decode_geotiff, error_message, get, setup};
use crate::testkit::{categorical_layer, float_layer};
use crate::{MAX_STATS_TILES, Request, Response};

/// A polygon with a hole in zoom-5 pixel coordinates, crossing the z5 tile borders at
/// x = 4608 and y = 3584, partly outside the demo layer's box (x 4403.2..4915.2, y
/// 3276.8..3788.8).
const OUTER: [[f64; 2]; 5] = [
    [4350.3, 3290.2],
    [4800.7, 3310.9],
    [4700.1, 3700.4],
    [4420.6, 3650.8],
    [4350.3, 3290.2],
];
const HOLE: [[f64; 2]; 5] = [
    [4550.2, 3400.3],
    [4650.9, 3400.3],
    [4650.9, 3500.6],
    [4550.2, 3500.6],
    [4550.2, 3400.3],
];

fn to_mercator(p: [f64; 2]) -> [f64; 2] {
    let res = resolution(5);
    [p[0] * res - ORIGIN_SHIFT, ORIGIN_SHIFT - p[1] * res]
}

fn wkt(rings: &[&[[f64; 2]]]) -> String {
    let rings: Vec<String> = rings
        .iter()
        .map(|r| {
            let pts: Vec<String> = r
                .iter()
                .map(|p| {
                    let [x, y] = to_mercator(*p);
                    format!("{x:.9} {y:.9}")
                })
                .collect();
            format!("({})", pts.join(", "))
        })
        .collect();
    format!("POLYGON ({})", rings.join(", "))
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Even-odd: is pixel centre (`x`, `y`) inside the rings?
fn inside(rings: &[&[[f64; 2]]], x: f64, y: f64) -> bool {
    let mut odd = false;
    for ring in rings {
        for w in ring.windows(2) {
            let (a, b) = (w[0], w[1]);
            if (a[1] > y) != (b[1] > y) && x < a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]) {
                odd = !odd;
            }
        }
    }
    odd
}

/// The valid values whose z5 pixel centres are inside `rings`, read from the layer's own
/// GeoTIFF tiles.
async fn brute_force(
    svc: &super::Svc,
    layer: &str,
    rings: &[&[[f64; 2]]],
) -> Result<Vec<f64>, BoxError> {
    Ok(brute_force_rows(svc, layer, rings)
        .await?
        .into_iter()
        .map(|(v, _)| v)
        .collect())
}

/// [`brute_force`] with each value's global pixel row.
async fn brute_force_rows(
    svc: &super::Svc,
    layer: &str,
    rings: &[&[[f64; 2]]],
) -> Result<Vec<(f64, u64)>, BoxError> {
    let mut out = Vec::new();
    for ty in 12..=14u64 {
        for tx in 16..=18u64 {
            let r = svc
                .handle(&get(&format!("/tiles/{layer}/5/{tx}/{ty}.tif")))
                .await;
            if r.status == 204 {
                continue;
            }
            let (_, _, values, nodata) = decode_geotiff(&r.body)?;
            for (i, v) in values.iter().enumerate() {
                let (gx, gy) = (tx * 256 + (i % 256) as u64, ty * 256 + (i / 256) as u64);
                if Some(*v) != nodata && inside(rings, gx as f64 + 0.5, gy as f64 + 0.5) {
                    out.push((*v, gy));
                }
            }
        }
    }
    Ok(out)
}

fn json(r: &Response) -> Result<Value, BoxError> {
    Ok(serde_json::from_slice(&r.body)?)
}

fn post(url: &str, body: &str) -> Request {
    Request {
        method: "POST".into(),
        body: body.as_bytes().to_vec(),
        ..get(url)
    }
}

fn close(a: &Value, b: f64, what: &str) {
    let a = a.as_f64().unwrap_or(f64::NAN);
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

#[tokio::test]
async fn figures_match_a_brute_force_count() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let rings: [&[[f64; 2]]; 2] = [&OUTER, &HOLE];
    let geom = encode(&wkt(&rings));
    let r = svc
        .handle(&get(&format!(
            "/statistics/f?crs=3857&geom={geom}&percentiles=2,50,98"
        )))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = json(&r)?;
    let mut want = brute_force(&svc, "f", &rings).await?;
    assert!(want.len() > 50_000, "{}", want.len());
    assert_eq!(v["zoom"], 5);
    assert_eq!(v["exact"], true);
    let b = &v["bands"][0];
    assert_eq!(b["count"], want.len());
    let sum: f64 = want.iter().sum();
    close(&b["sum"], sum, "sum");
    close(&b["mean"], sum / want.len() as f64, "mean");
    want.sort_by(f64::total_cmp);
    close(&b["min"], want[0], "min");
    close(&b["max"], want[want.len() - 1], "max");
    let rank = 0.5 * (want.len() - 1) as f64;
    let (lo, hi) = (want[rank.floor() as usize], want[rank.ceil() as usize]);
    close(
        &b["percentiles"]["50"],
        lo + (hi - lo) * rank.fract(),
        "median",
    );
    let counts: u64 = b["histogram"]["counts"]
        .as_array()
        .ok_or("counts")?
        .iter()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(counts, want.len() as u64);
    // Pixels inside the polygon include those outside the layer's box (no data there).
    assert!(v["pixels"].as_u64().unwrap_or(0) > want.len() as u64);

    // The same polygon as GeoJSON in a POST body: the same answer.
    let coords: Vec<Vec<[f64; 2]>> = rings
        .iter()
        .map(|r| r.iter().map(|p| to_mercator(*p)).collect())
        .collect();
    let body = serde_json::json!({"type": "Polygon", "coordinates": coords}).to_string();
    svc.bucket().reset();
    let r = svc.handle(&post("/statistics/f?crs=3857", &body)).await;
    // Manifest and header cached: the tiles (all in one COG) are one coalesced read.
    let tally = svc.bucket().tally();
    assert_eq!((tally.gets, tally.reads), (0, 1), "{tally:?}");
    let posted = json(&r)?;
    assert_eq!(posted["bands"][0]["count"], b["count"]);
    assert_eq!(posted["bands"][0]["sum"], b["sum"]);
    Ok(())
}

#[tokio::test]
async fn categories_are_counted_with_areas() -> TestResult {
    let (svc, _) = setup(&[categorical_layer("c")]).await?;
    let rings: [&[[f64; 2]]; 1] = [&OUTER];
    let r = svc
        .handle(&get(&format!(
            "/statistics/c?crs=3857&geom={}",
            encode(&wkt(&rings))
        )))
        .await;
    let v = json(&r)?;
    let b = &v["bands"][0];
    let want = brute_force_rows(&svc, "c", &rings).await?;
    let res = resolution(5);
    for class in 1..=4 {
        let pixels: Vec<u64> = want
            .iter()
            .filter(|(v, _)| *v == f64::from(class))
            .map(|(_, row)| *row)
            .collect();
        assert_eq!(
            b["value_counts"][class.to_string()],
            pixels.len(),
            "class {class}"
        );
        // Each pixel's ground area: res² · cos²(latitude of its row's centre).
        let area: f64 = pixels
            .iter()
            .map(|row| {
                let y = ORIGIN_SHIFT - (*row as f64 + 0.5) * res;
                let (_, lat) = tilefn_raster::mercator::mercator_to_lonlat(0.0, y);
                let c = lat.to_radians().cos();
                res * res * c * c
            })
            .sum();
        close(&b["area_m2"][class.to_string()], area, "area");
    }
    Ok(())
}

#[tokio::test]
async fn collections_answer_per_feature() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let ring = |dx: f64| -> Vec<[f64; 2]> {
        OUTER
            .iter()
            .map(|p| to_mercator([p[0] + dx, p[1]]))
            .collect()
    };
    let fc = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "a", "properties": {"name": "west"},
         "geometry": {"type": "Polygon", "coordinates": [ring(0.0)]}},
        {"type": "Feature", "id": 2, "properties": null,
         "geometry": {"type": "MultiPolygon", "coordinates": [[ring(3000.0)]]}},
    ]});
    let r = svc
        .handle(&post("/statistics/f?crs=3857", &fc.to_string()))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = json(&r)?;
    let features = v["features"].as_array().ok_or("features")?;
    assert_eq!(features.len(), 2);
    assert_eq!(features[0]["id"], "a");
    assert_eq!(features[0]["properties"]["name"], "west");
    assert!(features[0]["bands"][0]["count"].as_u64().unwrap_or(0) > 0);
    // The second polygon is far east of the data: pixels but no values.
    assert_eq!(features[1]["id"], 2);
    assert_eq!(features[1]["bands"][0]["count"], 0);
    assert!(features[1]["bands"][0]["mean"].is_null());
    Ok(())
}

#[tokio::test]
async fn formulas_are_summarised() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let rings: [&[[f64; 2]]; 1] = [&OUTER];
    let geom = encode(&wkt(&rings));
    let plain = json(
        &svc.handle(&get(&format!("/statistics/f?crs=3857&geom={geom}")))
            .await,
    )?;
    let doubled = svc
        .handle(&get(&format!(
            "/statistics?layers=a=f&formula=a*2&crs=3857&geom={geom}"
        )))
        .await;
    assert_eq!(
        doubled.status,
        200,
        "{}",
        String::from_utf8_lossy(&doubled.body)
    );
    let doubled = json(&doubled)?;
    assert_eq!(doubled["bands"][0]["count"], plain["bands"][0]["count"]);
    let mean = plain["bands"][0]["mean"].as_f64().unwrap_or(0.0);
    close(&doubled["bands"][0]["mean"], 2.0 * mean, "mean of a*2");
    Ok(())
}

#[tokio::test]
async fn whole_layer_comes_from_the_manifest() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    svc.bucket().reset();
    let r = svc.handle(&get("/statistics/f")).await;
    assert_eq!(r.status, 200);
    let v = json(&r)?;
    assert_eq!(v["whole_layer"], true);
    assert!(v["bands"][0]["count"].as_u64().unwrap_or(0) > 0);
    // Only the manifest was read.
    let tally = svc.bucket().tally();
    assert_eq!((tally.gets, tally.reads), (1, 0));
    Ok(())
}

#[tokio::test]
async fn the_budget_bounds_any_polygon() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let world = "POLYGON((-179 -85, 179 -85, 179 85, -179 85, -179 -85))";
    let r = svc
        .handle(&get(&format!("/statistics/f?geom={}", encode(world))))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = json(&r)?;
    assert!(v["tiles"].as_u64().unwrap_or(999) <= MAX_STATS_TILES as u64);
    // The data covers 9 tiles at zoom 5, so even the world is exact here.
    assert_eq!(v["zoom"], 5);

    // A forced zoom outside the stored ones is refused before any read. (Over-budget
    // zooms are tested on the planner, `zonal::plan`: a layer deep enough to exceed the
    // budget takes minutes to synthesise here.)
    let r = svc
        .handle(&get(&format!(
            "/statistics/f?zoom=9&geom={}",
            encode(world)
        )))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        error_message(&r).starts_with("zoom:"),
        "{}",
        error_message(&r)
    );
    Ok(())
}

#[tokio::test]
async fn bad_input_is_a_400_with_json() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let cases: Vec<Request> = vec![
        get("/statistics/f?geom=POLYGON((0%200,1%200,1%201,0%201))"),
        get("/statistics/f?geom=POLYGON((0%200,1%20NaN,1%201,0%200))"),
        get("/statistics/f?geom=POLYGON((0%200,1%200,1%2089,0%200))"),
        get("/statistics/f?geom=LINESTRING(0%200,1%201)"),
        get("/statistics/f?geom=%7B"),
        get("/statistics/f?zoom=abc"),
        get("/statistics/f?geom=POLYGON((0%200,1%200,1%201,0%200))&zoom=9"),
        post("/statistics/f", ""),
        post(
            "/statistics/f",
            "{\"type\":\"FeatureCollection\",\"features\":[]}",
        ),
        post("/statistics/f", &"[".repeat(10_000)),
        post(
            "/statistics?layers=a=f&formula=a%2B",
            "POLYGON((0 0,1 0,1 1,0 0))",
        ),
        post("/tiles/f/5/18/13.png", ""),
    ];
    for req in cases {
        let r = svc.handle(&req).await;
        assert!(
            r.status == 400 || r.status == 405,
            "{} {}?{}: {} {}",
            req.method,
            req.path,
            req.query,
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        assert!(json(&r)?["error"]["message"].is_string());
    }
    let r = svc
        .handle(&get(
            "/statistics/nope?geom=POLYGON((0%200,1%200,1%201,0%200))",
        ))
        .await;
    assert_eq!(r.status, 404);
    Ok(())
}
