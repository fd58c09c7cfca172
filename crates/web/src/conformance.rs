//! `conformanceCheck(url)` (feature `conformance`, test builds only): the storage crate's
//! shared `RangeRead` suite run on [`HttpObject`](crate::bucket) over `fetch`, where it
//! really runs, against a URL serving `tilefn_storage::conformance::pattern()`.

use js_sys::{Array, Promise};
use tilefn_storage::conformance;
use tilefn_storage::{Bucket, RangeRead};
use wasm_bindgen::prelude::*;

use crate::bucket::HttpBucket;

/// A promise of the failed checks' messages (empty when all pass): the reader plain, pinned
/// to the ETag it learnt, and `Bucket::get` of the whole object.
#[wasm_bindgen(js_name = conformanceCheck)]
pub fn conformance_check(url: String) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        // URL keys are read straight from their server (see `HttpBucket::url`).
        let bucket = HttpBucket::new("http://unused.invalid");
        let mut failures = Vec::new();
        let plain = bucket.object(&url, None);
        if let Err(err) = conformance::run(plain.as_ref()).await {
            failures.push(format!("plain: {err}"));
        }
        match plain.etag() {
            Some(etag) => {
                let pinned = bucket.object(&url, Some(&etag));
                if let Err(err) = conformance::run(pinned.as_ref()).await {
                    failures.push(format!("pinned: {err}"));
                }
                let wrong = bucket.object(&url, Some("\"not-the-etag\""));
                if wrong.read_range(0..4).await.is_ok() {
                    failures.push("a wrong pin read bytes".to_owned());
                }
            }
            None => failures.push("no ETag learnt".to_owned()),
        }
        match bucket.get(&url, conformance::PATTERN_LEN).await {
            Ok(Some(f)) if f.bytes == conformance::pattern() => {}
            other => failures.push(format!(
                "get: {:?}",
                other.map(|f| f.map(|f| f.bytes.len()))
            )),
        }
        Ok(failures
            .iter()
            .map(|f| JsValue::from_str(f))
            .collect::<Array>()
            .into())
    })
}
