//! The read budget (cold tile: manifest + header + tile; warm tile: one range read), cache
//! expiry, republishing under a cached manifest, and the same through a real directory store.

use std::sync::Arc;

use tilefn_storage::{Bucket, ObjectStoreBucket, RangeRead};

use super::*;
use crate::testkit::{CountingBucket, Tally, float_layer, publish_to_dir};

fn tally(gets: u64, reads: u64) -> Tally {
    Tally { gets, reads }
}

#[tokio::test]
async fn cold_tile_costs_three_reads_and_warm_one() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let r = svc.handle(&get("/tiles/f/5/18/13.png")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        svc.bucket().tally(),
        tally(1, 2),
        "manifest get + header + tile"
    );
    svc.bucket().reset();
    // Warm: another tile of the same COG, another format.
    let r = svc.handle(&get("/tiles/f/5/17/13.tif")).await;
    assert_eq!(r.status, 200);
    assert_eq!(svc.bucket().tally(), tally(0, 1), "one range read");
    Ok(())
}

#[tokio::test]
async fn readahead_headers_keep_the_budget() -> TestResult {
    let mut layer = float_layer("f");
    layer.record_header_len = false;
    let (svc, _) = setup(&[layer]).await?;
    svc.handle(&get("/tiles/f/5/18/13.png")).await;
    assert_eq!(svc.bucket().tally(), tally(1, 2));
    Ok(())
}

#[tokio::test]
async fn manifests_expire_after_the_ttl() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let at = |ms: f64| Request {
        now_ms: ms,
        ..get("/tiles/f/5/18/13.png")
    };
    svc.handle(&at(0.0)).await;
    svc.bucket().reset();
    svc.handle(&at(9_999.0)).await;
    assert_eq!(svc.bucket().tally(), tally(0, 1));
    svc.handle(&at(10_000.0)).await;
    assert_eq!(
        svc.bucket().tally(),
        tally(1, 2),
        "manifest re-read, header still cached"
    );
    Ok(())
}

#[tokio::test]
async fn a_republished_object_is_retried_with_a_fresh_manifest() -> TestResult {
    let layer = float_layer("f");
    let (svc, store) = setup(std::slice::from_ref(&layer)).await?;
    assert_eq!(svc.handle(&get("/tiles/f/5/18/13.png")).await.status, 200);
    // Replace the COG in place (new ETag) but not the manifest: the pinned read fails, the
    // retry re-reads the same stale manifest and fails again.
    let key = "layers/f/v/v1/cog/3/4/3.tif";
    let bytes = store
        .object(key)
        .read_range(0..store.object(key).len().await?)
        .await?;
    store.put(key, bytes.clone());
    let r = svc.handle(&get("/tiles/f/5/18/13.png")).await;
    assert_eq!(r.status, 503, "{}", error_message(&r));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // Publishing a manifest naming the new ETag fixes it on the retry, within the TTL.
    crate::testkit::publish_to_memory(&store, &layer).await?;
    let r = svc.handle(&get("/tiles/f/5/18/13.png")).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    Ok(())
}

#[tokio::test]
async fn a_directory_store_serves_tiles_within_budget() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = format!("file://{}", dir.path().display());
    let bucket = ObjectStoreBucket::from_url(&url)?;
    let layer = float_layer("f");
    publish_to_dir(dir.path(), &bucket, &layer).await?;
    let svc = Service::new(CountingBucket::new(Arc::new(bucket)), Config::default());
    let r = svc.handle(&get("/tiles/f/5/18/13.tif")).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, values, _) = decode_geotiff(&r.body)?;
    let want = layer.block(tilefn_raster::TileCoord::new(5, 18, 13));
    assert_eq!(values[1234], f64::from(want.values[1234] as f32));
    assert_eq!(svc.bucket().tally(), tally(1, 2));
    svc.bucket().reset();
    assert_eq!(svc.handle(&get("/tiles/f/5/17/13.png")).await.status, 200);
    assert_eq!(svc.bucket().tally(), tally(0, 1));
    let r = svc.handle(&get("/layers")).await;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    assert_eq!(v["layers"][0]["id"], "f");
    assert!(
        svc.bucket()
            .inner()
            .list_dirs("layers/")
            .await?
            .contains(&"f".to_owned())
    );
    Ok(())
}
