//! Whole-layer quantiles from the manifest: the formula's `median` and `/layers/{id}/breaks`.
//!
//! The testkit publishes statistics without quantiles (as manifests written before ingest
//! computed them); these tests add exact ones over the layer's max-zoom pixels with the
//! catalog's `exact_grid`, the function ingest uses.

use std::collections::BTreeMap;

use tilefn_catalog::{QuantileMethod, Quantiles, exact_grid, manifest_key};
use tilefn_raster::mercator::{ORIGIN_SHIFT, resolution, tile_range};
use tilefn_storage::{Bucket, MemoryStore};

use super::{TestResult, error_message, get, setup};
use crate::testkit::{SyntheticLayer, float_layer};
use crate::{Config, Service};

/// The six valid pixels, at max zoom 5: 6, 5, 4, 3, 2, 1 along one row.
const ROW: u64 = 3500;
const COL0: u64 = 4500;

fn six_pixel(z: u8, gx: u64, gy: u64, _band: usize) -> f64 {
    if z == 5 && gy == ROW && (COL0..COL0 + 6).contains(&gx) {
        (6 - (gx - COL0)) as f64
    } else {
        -9999.0
    }
}

fn six_layer() -> SyntheticLayer {
    SyntheticLayer {
        pixel: six_pixel,
        pinned_copy: false,
        ..float_layer("six")
    }
}

/// Rewrites the published manifest of `layer` with exact quantiles of its max-zoom pixels,
/// or (`quantiles` false) only with ingest's 256-bin histogram of them.
async fn add_stats(store: &MemoryStore, layer: &SyntheticLayer, quantiles: bool) -> TestResult {
    let key = manifest_key(&layer.id);
    let fetched = store.get(&key, u64::MAX).await?.ok_or("manifest")?;
    let mut m = tilefn_catalog::Manifest::from_json(&fetched.bytes)?;
    let tiles = tile_range(&layer.bounds, layer.max_zoom).ok_or("tiles")?;
    for (b, band) in m.bands.iter_mut().enumerate() {
        let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
        for t in tiles.iter() {
            let block = layer.block(t);
            let n = block.pixels();
            for p in (0..n).filter(|p| block.valid[*p]) {
                *counts.entry(block.values[b * n + p].to_bits()).or_insert(0) += 1;
            }
        }
        let mut sorted: Vec<(f64, u64)> = counts
            .into_iter()
            .map(|(k, c)| (f64::from_bits(k), c))
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let Some(stats) = band.stats.as_mut() else {
            continue;
        };
        let span = stats.max - stats.min;
        for (v, c) in &sorted {
            let bin = ((v - stats.min) / span * 256.0) as usize;
            stats.histogram.counts[bin.min(255)] += c;
        }
        if quantiles {
            stats.quantiles = Some(Quantiles {
                method: QuantileMethod::Exact,
                rank_error: 0.0,
                values: exact_grid(&sorted).ok_or("no values")?,
            });
        }
    }
    store.put(&key, m.to_json_pretty());
    Ok(())
}

/// `median(b)` at one of the six pixels, through a fresh service over `store`.
async fn median_at_a_pixel(store: &MemoryStore) -> Result<f64, super::BoxError> {
    let svc = Service::new(store.clone(), Config::default());
    let res = resolution(5);
    let x = -ORIGIN_SHIFT + (COL0 as f64 + 2.5) * res;
    let y = ORIGIN_SHIFT - (ROW as f64 + 0.5) * res;
    let r = svc
        .handle(&get(&format!(
            "/pixel/{x}/{y}?layers=b=six&formula=median(b)"
        )))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    v["value"].as_f64().ok_or_else(|| "no value".into())
}

#[tokio::test]
async fn median_of_six_pixels_is_three_and_a_half() -> TestResult {
    let layer = six_layer();
    let (_, store) = setup(std::slice::from_ref(&layer)).await?;
    // Issue 17: interpolating ingest's 256-bin histogram gave 3.0117.
    add_stats(&store, &layer, false).await?;
    let from_histogram = median_at_a_pixel(&store).await?;
    assert!((from_histogram - 3.0117).abs() < 1e-4, "{from_histogram}");
    add_stats(&store, &layer, true).await?;
    assert_eq!(median_at_a_pixel(&store).await?, 3.5);
    Ok(())
}

#[tokio::test]
async fn breaks_come_from_the_stored_quantiles() -> TestResult {
    let layer = six_layer();
    let (svc, store) = setup(std::slice::from_ref(&layer)).await?;
    let r = svc.handle(&get("/layers/six/breaks?n=2")).await;
    assert_eq!(r.status, 404, "no quantiles stored yet");
    add_stats(&store, &layer, true).await?;
    let svc = Service::new(store.clone(), Config::default());
    let r = svc.handle(&get("/layers/six/breaks?n=4&band=0")).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    // numpy.percentile([1..6], [25, 50, 75]) = [2.25, 3.5, 4.75]
    assert_eq!(
        v,
        serde_json::json!({"layer": "six", "band": 0, "n": 4, "breaks": [2.25, 3.5, 4.75],
                           "method": "exact", "rank_error": 0.0})
    );
    for (query, param) in [
        ("n=1", "n"),
        ("n=101", "n"),
        ("", "n"),
        ("n=x", "n"),
        ("n=3&band=-1", "band"),
        ("n=3&band=1", "band"),
    ] {
        let r = svc
            .handle(&get(&format!("/layers/six/breaks?{query}")))
            .await;
        assert_eq!(r.status, 400, "{query}");
        assert!(
            error_message(&r).starts_with(param),
            "{query}: {}",
            error_message(&r)
        );
    }
    let r = svc.handle(&get("/layers/nope/breaks?n=3")).await;
    assert_eq!(r.status, 404);
    Ok(())
}

#[tokio::test]
async fn whole_layer_statistics_answer_from_the_stored_quantiles_and_counts() -> TestResult {
    let layer = six_layer();
    let (_, store) = setup(std::slice::from_ref(&layer)).await?;
    add_stats(&store, &layer, true).await?;
    // Class counts as ingest writes them for categorical layers, passed through as stored.
    let key = manifest_key(&layer.id);
    let fetched = store.get(&key, u64::MAX).await?.ok_or("manifest")?;
    let mut m = tilefn_catalog::Manifest::from_json(&fetched.bytes)?;
    let stats = m.bands[0].stats.as_mut().ok_or("stats")?;
    stats.value_counts = Some(BTreeMap::from([("1".to_owned(), 1), ("2.5".to_owned(), 5)]));
    stats.area_m2 = Some(BTreeMap::from([
        ("1".to_owned(), 2.0),
        ("2.5".to_owned(), 9.5),
    ]));
    store.put(&key, m.to_json_pretty());
    let svc = Service::new(store.clone(), Config::default());
    let r = svc
        .handle(&get("/statistics/six?percentiles=50,25,100"))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let band = &v["bands"][0];
    assert_eq!(
        band["percentiles"],
        serde_json::json!({"25": 2.25, "50": 3.5, "100": 6.0})
    );
    assert_eq!(band["percentiles_method"], "exact");
    assert_eq!(band["value_counts"], serde_json::json!({"1": 1, "2.5": 5}));
    assert_eq!(band["area_m2"], serde_json::json!({"1": 2.0, "2.5": 9.5}));
    Ok(())
}
