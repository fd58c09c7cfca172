//! [`HttpBucket`]: the store as the browser sees it, `{origin}/objects/{key}` read with
//! `fetch` and `Range`, mapped onto the `Bucket` / `RangeRead` contracts.
//!
//! Servers differ: the Worker (and R2 public buckets) answer 206 with `Content-Range`, some
//! servers ignore `Range` and send 200 with the whole object (sliced here, up to a cap), and a
//! range past the end is 416 with the size. Ranges are pinned to an ETag by comparing the
//! answer's `ETag` (no `If-Match`, which would make every read a CORS preflight).

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tilefn_storage::{
    Bucket, Fetched, HttpAnswer, HttpObject, RangeRead, RangedGet, Result, StorageError,
};

use crate::fetch::{backend, get, header, read_capped};
use crate::pure::layer_ids;

/// Largest whole object accepted from a server that ignores `Range` (sliced locally).
const MAX_IGNORED_RANGE_BODY: u64 = 64 << 20;

/// Largest `/layers` document read for `list_dirs`.
const MAX_LISTING_BYTES: u64 = 16 << 20;

/// The objects of the store at `origin` (`https://host[:port]`, no trailing slash).
#[derive(Debug, Clone)]
pub struct HttpBucket {
    origin: String,
}

impl HttpBucket {
    /// A bucket reading `{origin}/objects/{key}`.
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.trim_end_matches('/').to_owned(),
        }
    }

    fn url(&self, key: &str) -> String {
        if key.starts_with("http://") || key.starts_with("https://") {
            // Registered external COGs are read straight from their server.
            key.to_owned()
        } else {
            format!("{}/objects/{key}", self.origin)
        }
    }
}

#[async_trait(?Send)]
impl Bucket for HttpBucket {
    async fn get(&self, key: &str, max_len: u64) -> Result<Option<Fetched>> {
        let resp = get(key, &self.url(key), None).await?;
        match resp.status() {
            200 => {}
            404 | 410 => return Ok(None),
            status => return Err(backend(key, format!("HTTP {status}"))),
        }
        let etag = header(&resp, "etag");
        match read_capped(key, &resp, max_len).await? {
            Some(bytes) => Ok(Some(Fetched {
                bytes: Bytes::from(bytes),
                etag,
            })),
            None => Err(StorageError::TooLarge {
                key: key.to_owned(),
                len: header(&resp, "content-length")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(max_len.saturating_add(1)),
                max: max_len,
            }),
        }
    }

    // The trait hands out `Arc<dyn RangeRead>`; the browser is single-threaded, so a
    // non-Send reader in an Arc is never shared across threads.
    #[allow(clippy::arc_with_non_send_sync)]
    fn object(&self, key: &str, etag: Option<&str>) -> Arc<dyn RangeRead> {
        Arc::new(HttpObject::new(
            ObjectFetch {
                key: key.to_owned(),
                url: self.url(key),
            },
            etag,
        ))
    }

    /// Plain HTTP cannot list; the Worker's `/layers` document names the layers, which is the
    /// one listing the tile service needs.
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        if prefix != "layers/" {
            return Ok(Vec::new());
        }
        let url = format!("{}/layers", self.origin);
        let resp = get(prefix, &url, None).await?;
        if resp.status() != 200 {
            return Err(backend(
                prefix,
                format!("GET /layers: HTTP {}", resp.status()),
            ));
        }
        let body = read_capped(prefix, &resp, MAX_LISTING_BYTES)
            .await?
            .ok_or_else(|| backend(prefix, "/layers is too large"))?;
        layer_ids(&body).ok_or_else(|| backend(prefix, "/layers is not a layer list"))
    }
}

/// The transport of one store object (read through the shared [`HttpObject`]: answer
/// checks, ETag pinning, slicing): `fetch` of `{origin}/objects/{key}`. It sends no `If-Match` (not a CORS-safelisted
/// header: every read would cost a preflight); `HttpObject` compares the answer's ETag.
#[derive(Debug)]
pub struct ObjectFetch {
    key: String,
    url: String,
}

#[async_trait(?Send)]
impl RangedGet for ObjectFetch {
    type Response = web_sys::Response;

    fn name(&self) -> &str {
        &self.key
    }

    fn max_whole_body(&self) -> u64 {
        MAX_IGNORED_RANGE_BODY
    }

    async fn get(
        &self,
        range: &Range<u64>,
        _if_match: Option<&str>,
    ) -> Result<HttpAnswer<web_sys::Response>> {
        let resp = get(&self.key, &self.url, Some(range)).await?;
        Ok(HttpAnswer {
            status: resp.status(),
            content_range: header(&resp, "content-range"),
            etag: header(&resp, "etag"),
            response: resp,
        })
    }

    async fn body(&self, response: web_sys::Response, cap: u64) -> Result<Option<Vec<u8>>> {
        read_capped(&self.key, &response, cap).await
    }
}
