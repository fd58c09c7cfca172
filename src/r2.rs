//! The R2 adapter: [`R2Bucket`] (a [`Bucket`]) and [`R2Object`] (a [`RangeRead`]).
//!
//! R2 ranged gets are lenient the way HTTP is: a range running past the end comes back short
//! (the local emulation) or fails with a generic error (production). Both become this crate's
//! exact contract here: `OutOfRange { len }` with the object's real size, never a short buffer.
//! Keys that are `http(s)://` URLs (registered external COGs) are handed to
//! [`HttpObject`](crate::http::HttpObject).

use std::cell::OnceCell;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use tilefn_storage::{Bucket, Fetched, RangeRead, Result, StorageError, check_range};
use worker::{Conditional, Object, Range as R2Range};

use crate::pure::{JS_MAX_SAFE_INTEGER, bare_etag, dir_names, is_http_key};

/// How many ranged gets of one batch run at once: a tile plan has a handful, and a Worker has
/// six simultaneous outgoing connections, so more would only queue.
const MAX_CONCURRENT_READS: usize = 6;

/// Listing pages (up to 1000 entries each) read before `list_dirs` gives up: bounds the time
/// and memory a bucket with a huge flat folder can cost one request.
const MAX_LIST_PAGES: usize = 50;

/// The R2 binding as a [`Bucket`].
#[derive(Debug, Clone)]
pub struct R2Bucket {
    bucket: worker::Bucket,
}

impl R2Bucket {
    /// Wraps an R2 binding (`env.bucket("TILES")`).
    pub fn new(bucket: worker::Bucket) -> Self {
        Self { bucket }
    }

    /// The binding, for test routes that seed objects.
    pub fn binding(&self) -> &worker::Bucket {
        &self.bucket
    }
}

fn backend(key: &str, err: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        key: key.to_owned(),
        message: err.to_string(),
    }
}

#[async_trait(?Send)]
impl Bucket for R2Bucket {
    async fn get(&self, key: &str, max_len: u64) -> Result<Option<Fetched>> {
        if is_http_key(key) {
            return crate::http::get_whole(key, max_len).await;
        }
        if max_len == 0 {
            // R2 rejects a zero-length range; the size alone answers this case.
            return match self.bucket.head(key).await.map_err(|e| backend(key, e))? {
                None => Ok(None),
                Some(obj) if obj.size() == 0 => Ok(Some(Fetched {
                    bytes: Bytes::new(),
                    etag: Some(obj.http_etag()),
                })),
                Some(obj) => Err(too_large(key, obj.size(), max_len)),
            };
        }
        // A prefix range bounds the transfer to `max_len` even when the object is huge; its
        // size, reported with the body, tells whether the prefix is the whole object.
        let length = max_len.min(JS_MAX_SAFE_INTEGER);
        let got = self
            .bucket
            .get(key)
            .range(R2Range::Prefix { length })
            .execute()
            .await;
        let obj = match got {
            Ok(Some(obj)) => obj,
            Ok(None) => return Ok(None),
            // An empty object cannot serve any range: fall back to its metadata.
            Err(err) => {
                return match self.bucket.head(key).await.map_err(|e| backend(key, e))? {
                    None => Ok(None),
                    Some(obj) if obj.size() == 0 => Ok(Some(Fetched {
                        bytes: Bytes::new(),
                        etag: Some(obj.http_etag()),
                    })),
                    Some(_) => Err(backend(key, err)),
                };
            }
        };
        let size = obj.size();
        if size > max_len {
            return Err(too_large(key, size, max_len));
        }
        let bytes = body_bytes(key, &obj).await?;
        if bytes.len() as u64 != size {
            return Err(StorageError::ShortRead {
                range: 0..size,
                got: bytes.len() as u64,
            });
        }
        Ok(Some(Fetched {
            bytes,
            etag: Some(obj.http_etag()),
        }))
    }

    // The trait hands out `Arc<dyn RangeRead>` on every target; wasm32 isolates are
    // single-threaded, so a non-Send reader inside an Arc is never shared across threads.
    #[allow(clippy::arc_with_non_send_sync)]
    fn object(&self, key: &str, etag: Option<&str>) -> Arc<dyn RangeRead> {
        if is_http_key(key) {
            return Arc::new(crate::http::object(key, etag));
        }
        Arc::new(R2Object {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            pin: etag.map(str::to_owned),
            meta: OnceCell::new(),
        })
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let mut prefixes = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut list = self.bucket.list().prefix(prefix).delimiter("/");
            if let Some(c) = cursor.take() {
                list = list.cursor(c);
            }
            let page = list.execute().await.map_err(|e| backend(prefix, e))?;
            prefixes.extend(page.delimited_prefixes());
            if !page.truncated() {
                return Ok(dir_names(prefix, &prefixes));
            }
            cursor = page.cursor();
            if cursor.is_none() {
                return Ok(dir_names(prefix, &prefixes));
            }
        }
        Err(backend(
            prefix,
            format!("more than {MAX_LIST_PAGES} listing pages"),
        ))
    }
}

/// `onlyIf` for version `etag`, in the unquoted form R2 requires.
fn if_match(etag: &str) -> Conditional {
    Conditional {
        etag_matches: Some(bare_etag(etag).to_owned()),
        ..Conditional::default()
    }
}

fn too_large(key: &str, len: u64, max: u64) -> StorageError {
    StorageError::TooLarge {
        key: key.to_owned(),
        len,
        max,
    }
}

/// The body of a get whose condition held; `Precondition` when R2 withheld it.
async fn body_bytes(key: &str, obj: &Object) -> Result<Bytes> {
    match obj.body() {
        Some(body) => Ok(Bytes::from(
            body.bytes().await.map_err(|e| backend(key, e))?,
        )),
        None => Err(StorageError::Precondition {
            expected: String::new(),
            actual: Some(obj.http_etag()),
        }),
    }
}

/// One R2 object. Like `ObjectStoreObject`, a handle is a snapshot of the first version it
/// sees: its size and ETag come from the first response, and every later get carries
/// `onlyIf: { etagMatches }` so a replaced object is `Precondition`, never mixed bytes.
#[derive(Debug)]
pub struct R2Object {
    bucket: worker::Bucket,
    key: String,
    pin: Option<String>,
    // Workers run one thread per isolate, so a plain cell is enough (the trait needs no Sync
    // on wasm32).
    meta: OnceCell<Meta>,
}

#[derive(Debug, Clone)]
struct Meta {
    size: u64,
    etag: String,
}

impl R2Object {
    fn remember(&self, obj: &Object) {
        // First observation wins: a later response must not move the size under a reader.
        let _ = self.meta.set(Meta {
            size: obj.size(),
            etag: obj.http_etag(),
        });
    }

    fn version(&self, explicit: Option<&str>) -> Option<String> {
        explicit
            .map(str::to_owned)
            .or_else(|| self.pin.clone())
            .or_else(|| self.meta.get().map(|m| m.etag.clone()))
    }

    async fn head(&self) -> Result<Meta> {
        match self.bucket.head(&self.key).await {
            Ok(Some(obj)) => {
                self.remember(&obj);
                Ok(Meta {
                    size: obj.size(),
                    etag: obj.http_etag(),
                })
            }
            Ok(None) => Err(self.not_found()),
            Err(err) => Err(backend(&self.key, err)),
        }
    }

    fn not_found(&self) -> StorageError {
        StorageError::NotFound {
            key: self.key.clone(),
        }
    }

    /// Exactly `range`, from version `explicit`, else the pinned or first-seen version.
    async fn fetch(&self, range: Range<u64>, explicit: Option<&str>) -> Result<Bytes> {
        if range.start > range.end {
            return Err(StorageError::InvalidRange { range });
        }
        let version = self.version(explicit);
        if let Some(meta) = self.meta.get()
            && Some(bare_etag(&meta.etag)) == version.as_deref().map(bare_etag)
        {
            // The snapshot's size belongs to the required version: check without a request.
            check_range(&range, meta.size)?;
        }
        if range.is_empty() || range.end > JS_MAX_SAFE_INTEGER {
            // Empty reads need only the bounds check; offsets past 2^53 cannot be sent to JS
            // and no object is that large, so the size check reports them as OutOfRange.
            check_range(&range, self.len().await?)?;
            return Ok(Bytes::new());
        }
        let mut get = self.bucket.get(&self.key).range(R2Range::OffsetWithLength {
            offset: range.start,
            length: range.end - range.start,
        });
        if let Some(v) = &version {
            get = get.only_if(if_match(v));
        }
        let obj = match get.execute().await {
            Ok(Some(obj)) => obj,
            Ok(None) => return Err(self.not_found()),
            Err(err) => return Err(self.classify_failed_get(err, &range).await),
        };
        self.remember(&obj);
        self.check_version(&obj, version.as_deref())?;
        if range.end > obj.size() {
            return Err(StorageError::OutOfRange {
                range,
                len: obj.size(),
            });
        }
        let bytes = body_bytes(&self.key, &obj).await?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(StorageError::ShortRead {
                range,
                got: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }

    /// A failed `onlyIf` comes back as an object without a body whose ETag differs.
    fn check_version(&self, obj: &Object, version: Option<&str>) -> Result<()> {
        match version {
            Some(v) if bare_etag(&obj.http_etag()) != bare_etag(v) || obj.body().is_none() => {
                Err(StorageError::Precondition {
                    expected: v.to_owned(),
                    actual: Some(obj.http_etag()),
                })
            }
            _ => Ok(()),
        }
    }

    /// Production R2 rejects a range that starts past the end with an error, not a short
    /// body: ask for the size to tell `OutOfRange` from a real failure.
    async fn classify_failed_get(&self, err: worker::Error, range: &Range<u64>) -> StorageError {
        match self.head().await {
            Ok(meta) if range.end > meta.size => StorageError::OutOfRange {
                range: range.clone(),
                len: meta.size,
            },
            Err(StorageError::NotFound { key }) => StorageError::NotFound { key },
            _ => backend(&self.key, err),
        }
    }
}

#[async_trait(?Send)]
impl RangeRead for R2Object {
    async fn len(&self) -> Result<u64> {
        match self.meta.get() {
            Some(meta) => Ok(meta.size),
            None => Ok(self.head().await?.size),
        }
    }

    async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        self.fetch(range, None).await
    }

    /// Concurrent ranged gets (bounded), in input order.
    async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        // With no version known yet, the first get learns it (without an extra `head`), so
        // the concurrent rest are all conditional on one ETag: no mixed versions.
        let (first, rest) = match ranges.split_first() {
            Some((first, rest)) if self.version(None).is_none() => {
                (Some(self.fetch(first.clone(), None).await?), rest)
            }
            _ => (None, ranges),
        };
        let fetched: Vec<Bytes> = stream::iter(rest.iter().cloned())
            .map(|range| self.fetch(range, None))
            .buffered(MAX_CONCURRENT_READS)
            .try_collect()
            .await?;
        Ok(first.into_iter().chain(fetched).collect())
    }

    fn etag(&self) -> Option<String> {
        self.version(None)
    }

    /// One get of `0..max_len`, which R2 shortens to the object's size: a COG header read
    /// costs one round trip, with no `head` first.
    async fn read_prefix(&self, max_len: u64) -> Result<Bytes> {
        if max_len == 0 {
            return Ok(Bytes::new());
        }
        let version = self.version(None);
        let mut get = self.bucket.get(&self.key).range(R2Range::Prefix {
            length: max_len.min(JS_MAX_SAFE_INTEGER),
        });
        if let Some(v) = &version {
            get = get.only_if(if_match(v));
        }
        match get.execute().await {
            Ok(Some(obj)) => {
                self.remember(&obj);
                self.check_version(&obj, version.as_deref())?;
                let want = max_len.min(obj.size());
                let bytes = body_bytes(&self.key, &obj).await?;
                if bytes.len() as u64 != want {
                    return Err(StorageError::ShortRead {
                        range: 0..want,
                        got: bytes.len() as u64,
                    });
                }
                Ok(bytes)
            }
            Ok(None) => Err(self.not_found()),
            // An empty object cannot serve a range; its size settles what to return.
            Err(_) => {
                let len = self.len().await?;
                self.fetch(0..max_len.min(len), None).await
            }
        }
    }

    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        if let Some(pin) = &self.pin
            && bare_etag(pin) != bare_etag(etag)
        {
            return Err(StorageError::Precondition {
                expected: etag.to_owned(),
                actual: Some(pin.clone()),
            });
        }
        self.fetch(range, Some(etag)).await
    }
}
