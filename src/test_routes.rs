//! Test-only routes: the shared storage conformance suite, run inside workerd against the
//! real R2 binding and `fetch`, so the adapters are checked where they actually run.
//!
//! Compiled in, but answered only when the `TILEFN_TEST_ROUTES` binding is `"1"`. The
//! miniflare tests set it; wrangler.toml never does, so a deployed Worker 404s these paths
//! through the normal service. They also need a separate `TEST_BUCKET` binding, so the suite
//! never writes to the tile store.

use std::sync::Arc;

use tilefn_storage::conformance::{self, ConformanceError};
use tilefn_storage::{Bucket, RangeRead};
use worker::{Env, Response, Result, Url};

use crate::r2::R2Bucket;

/// Whether the test routes are switched on for this Worker.
pub fn enabled(env: &Env) -> bool {
    env.var("TILEFN_TEST_ROUTES")
        .map(|v| v.to_string() == "1")
        .unwrap_or(false)
}

/// A key outside the fixture's folders, used for the change-detection check.
const CHANGING_KEY: &str = "changing.bin";

/// `GET /__test/conformance[?url=<http url of the pattern>]`: JSON
/// `{"ok": bool, "checks": [{"name", "ok", "error"}]}`.
pub async fn handle(url: &Url, env: &Env) -> Result<Response> {
    if url.path() != "/__test/conformance" {
        return Response::error("unknown test route", 404);
    }
    let mut checks = Vec::new();
    let bucket = R2Bucket::new(env.bucket("TEST_BUCKET")?);
    for (key, bytes) in conformance::bucket_fixture() {
        bucket.binding().put(key, bytes.to_vec()).execute().await?;
    }
    checks.push(("r2 bucket", conformance::check_bucket(&bucket).await));
    checks.push(("r2 change detected", r2_change(&bucket).await));
    let pattern_url = url
        .query_pairs()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.into_owned());
    if let Some(pattern_url) = pattern_url {
        checks.push(("http object", http_suite(&bucket, &pattern_url).await));
    }
    let ok = checks.iter().all(|(_, r)| r.is_ok());
    let checks: Vec<serde_json::Value> = checks
        .into_iter()
        .map(|(name, result)| {
            serde_json::json!({
                "name": name,
                "ok": result.is_ok(),
                "error": result.err().map(|e| e.to_string()),
            })
        })
        .collect();
    Response::from_json(&serde_json::json!({ "ok": ok, "checks": checks }))
}

/// Replacing an R2 object under a handle turns pinned reads into `Precondition`.
async fn r2_change(bucket: &R2Bucket) -> std::result::Result<(), ConformanceError> {
    let put = |bytes: Vec<u8>| async move {
        bucket
            .binding()
            .put(CHANGING_KEY, bytes)
            .execute()
            .await
            .map(|_| ())
    };
    put(conformance::pattern().to_vec())
        .await
        .map_err(|e| setup_failed(e.to_string()))?;
    let reader = bucket.object(CHANGING_KEY, None);
    conformance::run(reader.as_ref()).await?;
    let result = conformance::check_change_detected(reader.as_ref(), async || {
        let _ = put(b"replaced".to_vec()).await;
    })
    .await;
    let _ = bucket.binding().delete(CHANGING_KEY).await;
    result
}

/// The pattern served over HTTP (by the test), read through `fetch`, plain and pinned, and
/// through the bucket's URL-key path.
async fn http_suite(bucket: &R2Bucket, url: &str) -> std::result::Result<(), ConformanceError> {
    let plain = crate::http::object(url, None);
    conformance::run(&plain).await?;
    if let Some(etag) = plain.etag() {
        conformance::run(&crate::http::object(url, Some(&etag))).await?;
    }
    let via_bucket: Arc<dyn RangeRead> = bucket.object(url, None);
    conformance::run(via_bucket.as_ref()).await?;
    match bucket.get(url, conformance::PATTERN_LEN).await {
        Ok(Some(f)) if f.bytes == conformance::pattern() => Ok(()),
        other => Err(setup_failed(format!(
            "bucket get of a url: {:?}",
            other.map(|f| f.map(|f| f.bytes.len()))
        ))),
    }
}

fn setup_failed(detail: String) -> ConformanceError {
    ConformanceError {
        check: "worker test route",
        detail,
    }
}
