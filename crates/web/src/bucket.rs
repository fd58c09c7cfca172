//! [`HttpBucket`]: the store as the browser sees it, `{origin}/objects/{key}` read with
//! `fetch` and `Range`, mapped onto the `Bucket` / `RangeRead` contracts.
//!
//! Servers differ: the Worker (and R2 public buckets) answer 206 with `Content-Range`, some
//! servers ignore `Range` and send 200 with the whole object (sliced here, up to a cap), and a
//! range past the end is 416 with the size. Ranges are pinned to an ETag by comparing the
//! answer's `ETag` (no `If-Match`, which would make every read a CORS preflight).

use std::cell::OnceCell;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tilefn_storage::{Bucket, Fetched, RangeRead, Result, StorageError, check_range};

use crate::fetch::{backend, get, header, read_capped};
use crate::pure::{layer_ids, parse_content_range, same_etag, slice_answer};

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
        Arc::new(HttpObject {
            key: key.to_owned(),
            url: self.url(key),
            pin: etag.map(str::to_owned),
            meta: OnceCell::new(),
        })
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

/// One object: a snapshot of the first version it sees (or the pinned one).
#[derive(Debug)]
pub struct HttpObject {
    key: String,
    url: String,
    pin: Option<String>,
    // The browser is single-threaded: a plain cell is enough (no Sync needed on wasm32).
    meta: OnceCell<Meta>,
}

#[derive(Debug, Clone)]
struct Meta {
    size: u64,
    etag: Option<String>,
}

/// A checked answer: the object's bytes from `offset` on.
struct Answer {
    bytes: Bytes,
    offset: u64,
    size: u64,
}

impl HttpObject {
    fn version(&self, explicit: Option<&str>) -> Option<String> {
        explicit
            .map(str::to_owned)
            .or_else(|| self.pin.clone())
            .or_else(|| self.meta.get().and_then(|m| m.etag.clone()))
    }

    fn remember(&self, size: u64, etag: Option<String>) {
        // First observation wins: a later answer must not move the size under a reader.
        let _ = self.meta.set(Meta { size, etag });
    }

    /// One GET of `range` (non-empty) that must come from `version` when given.
    async fn get(&self, range: Range<u64>, version: Option<&str>) -> Result<Answer> {
        let resp = get(&self.key, &self.url, Some(&range)).await?;
        let content_range = header(&resp, "content-range").and_then(|v| parse_content_range(&v));
        let etag = header(&resp, "etag");
        let check_version = |etag: &Option<String>| match version {
            Some(v) if !etag.as_deref().is_some_and(|e| same_etag(e, v)) => {
                Err(StorageError::Precondition {
                    expected: v.to_owned(),
                    actual: etag.clone(),
                })
            }
            _ => Ok(()),
        };
        let answer = match resp.status() {
            206 => {
                let Some(crate::pure::ContentRange {
                    range: Some((first, end)),
                    total: Some(size),
                }) = content_range
                else {
                    // Without the total, later bounds checks would guess: refuse.
                    return Err(backend(&self.key, "206 without a complete Content-Range"));
                };
                check_version(&etag)?;
                let bytes = read_capped(&self.key, &resp, end - first)
                    .await?
                    .ok_or_else(|| backend(&self.key, "body longer than its Content-Range"))?;
                Answer {
                    bytes: Bytes::from(bytes),
                    offset: first,
                    size,
                }
            }
            200 => {
                check_version(&etag)?;
                let bytes = read_capped(&self.key, &resp, MAX_IGNORED_RANGE_BODY)
                    .await?
                    .ok_or_else(|| {
                        backend(
                            &self.key,
                            "server ignores Range and the object is too large",
                        )
                    })?;
                Answer {
                    offset: 0,
                    size: bytes.len() as u64,
                    bytes: Bytes::from(bytes),
                }
            }
            416 => {
                let len = content_range
                    .and_then(|c| c.total)
                    .ok_or_else(|| backend(&self.key, "416 without the object's size"))?;
                check_version(&etag)?;
                self.remember(len, etag);
                return Err(StorageError::OutOfRange { range, len });
            }
            404 | 410 => {
                return Err(StorageError::NotFound {
                    key: self.key.clone(),
                });
            }
            status => return Err(backend(&self.key, format!("HTTP {status}"))),
        };
        self.remember(answer.size, etag);
        Ok(answer)
    }

    /// Exactly `range`, from version `explicit`, else the pinned or first-seen version.
    async fn fetch(&self, range: Range<u64>, explicit: Option<&str>) -> Result<Bytes> {
        if range.start > range.end {
            return Err(StorageError::InvalidRange { range });
        }
        let version = self.version(explicit);
        if let Some(meta) = self.meta.get()
            && match (&meta.etag, &version) {
                (Some(a), Some(b)) => same_etag(a, b),
                (None, None) => true,
                _ => false,
            }
        {
            // The snapshot's size belongs to the required version: check without a request.
            check_range(&range, meta.size)?;
        }
        if range.is_empty() {
            check_range(&range, self.len().await?)?;
            return Ok(Bytes::new());
        }
        let answer = self.get(range.clone(), version.as_deref()).await?;
        check_range(&range, answer.size)?;
        slice_answer(answer.bytes, answer.offset, &range)
    }
}

#[async_trait(?Send)]
impl RangeRead for HttpObject {
    async fn len(&self) -> Result<u64> {
        if let Some(meta) = self.meta.get() {
            return Ok(meta.size);
        }
        // A one-byte range learns size and ETag in one request; an empty object answers 416
        // with its size (0), which `get` records before failing.
        match self.get(0..1, self.pin.as_deref()).await {
            Ok(answer) => Ok(answer.size),
            Err(StorageError::OutOfRange { len, .. }) => Ok(len),
            Err(err) => Err(err),
        }
    }

    async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        self.fetch(range, None).await
    }

    fn etag(&self) -> Option<String> {
        self.version(None)
    }

    /// One request for `0..max_len`, accepting the shorter answer a smaller object gives.
    async fn read_prefix(&self, max_len: u64) -> Result<Bytes> {
        if max_len == 0 {
            return Ok(Bytes::new());
        }
        let version = self.version(None);
        match self.get(0..max_len, version.as_deref()).await {
            Ok(answer) => {
                let want = max_len.min(answer.size);
                slice_answer(answer.bytes, answer.offset, &(0..want))
            }
            // Only an empty object refuses a range starting at 0.
            Err(StorageError::OutOfRange { len: 0, .. }) => Ok(Bytes::new()),
            Err(err) => Err(err),
        }
    }

    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        if let Some(pin) = &self.pin
            && !same_etag(pin, etag)
        {
            return Err(StorageError::Precondition {
                expected: etag.to_owned(),
                actual: Some(pin.clone()),
            });
        }
        self.fetch(range, Some(etag)).await
    }
}
