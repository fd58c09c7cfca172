//! [`HttpObject`]: one object read with ranged HTTP `GET`s, over any [`RangedGet`]
//! transport. The Worker (`fetch` in workerd, for registered `http(s)://` COGs) and the
//! browser renderer (`fetch` in the page, for `/objects/{key}`) differ only in how a request
//! is sent and a body read; how answers map onto the `RangeRead` contract lives here once.
//!
//! Servers differ: most answer 206 with `Content-Range`, some ignore `Range` and send the
//! whole object with 200 (sliced here, up to the transport's cap), a range past the end is
//! 416 with the size, and a failed `If-Match` is 412. Every body is read through a byte cap,
//! so a hostile server cannot fill a 128 MB isolate. The handle is a snapshot of the first
//! version it sees (or the pinned one): answers with another ETag are `Precondition` errors,
//! which also catches servers that ignore `If-Match` and transports that cannot send it.

use std::ops::Range;
use std::sync::OnceLock;

use async_trait::async_trait;
use bytes::Bytes;

use crate::http_headers::{ContentRange, parse_content_range, same_etag};
use crate::{MaybeSendSync, RangeRead, Result, StorageError, check_range};

/// What [`HttpObject`] needs of one answer to a `GET`.
pub struct HttpAnswer<R> {
    /// The HTTP status.
    pub status: u16,
    /// The raw `Content-Range` header.
    pub content_range: Option<String>,
    /// The `ETag` header.
    pub etag: Option<String>,
    /// The response, for [`RangedGet::body`].
    pub response: R,
}

/// Sends ranged `GET`s for one object and reads bodies under a cap.
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
pub trait RangedGet: MaybeSendSync + std::fmt::Debug {
    /// A response whose body is still to be read.
    type Response: MaybeSendSync;

    /// The object's name in errors (its key or URL).
    fn name(&self) -> &str;

    /// Largest whole object accepted from a server that ignores `Range`.
    fn max_whole_body(&self) -> u64;

    /// `GET` with `Range: bytes=start-(end-1)` (`range` is never empty), and `If-Match` when
    /// given and the transport can send it.
    async fn get(
        &self,
        range: &Range<u64>,
        if_match: Option<&str>,
    ) -> Result<HttpAnswer<Self::Response>>;

    /// The body, or `None` as soon as it holds more than `cap` bytes.
    async fn body(&self, response: Self::Response, cap: u64) -> Result<Option<Vec<u8>>>;
}

/// One object at a URL, read through transport `T`.
#[derive(Debug)]
pub struct HttpObject<T> {
    transport: T,
    pin: Option<String>,
    meta: OnceLock<Meta>,
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

impl<T: RangedGet> HttpObject<T> {
    /// A handle reading through `transport`, pinned to `etag` when given. No I/O.
    pub fn new(transport: T, etag: Option<&str>) -> Self {
        HttpObject {
            transport,
            pin: etag.map(str::to_owned),
            meta: OnceLock::new(),
        }
    }

    fn backend(&self, message: impl std::fmt::Display) -> StorageError {
        StorageError::Backend {
            key: self.transport.name().to_owned(),
            message: message.to_string(),
        }
    }

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

    /// One `GET` of `range` (non-empty) that must come from `version` when given.
    async fn get(&self, range: Range<u64>, version: Option<&str>) -> Result<Answer> {
        let answer = self.transport.get(&range, version).await?;
        let content_range = answer
            .content_range
            .as_deref()
            .and_then(parse_content_range);
        let etag = answer.etag;
        let check_version = |etag: &Option<String>| match version {
            Some(v) if !etag.as_deref().is_some_and(|e| same_etag(e, v)) => {
                Err(StorageError::Precondition {
                    expected: v.to_owned(),
                    actual: etag.clone(),
                })
            }
            _ => Ok(()),
        };
        let checked = match answer.status {
            206 => {
                let Some(ContentRange {
                    range: Some((first, end)),
                    total: Some(size),
                }) = content_range
                else {
                    // Without the total (`bytes a-b/*`) later bounds checks would guess.
                    return Err(self.backend("206 without a complete Content-Range"));
                };
                check_version(&etag)?;
                let bytes = self
                    .transport
                    .body(answer.response, end - first)
                    .await?
                    .ok_or_else(|| self.backend("body longer than its Content-Range"))?;
                Answer {
                    bytes: Bytes::from(bytes),
                    offset: first,
                    size,
                }
            }
            200 => {
                check_version(&etag)?;
                let cap = self.transport.max_whole_body();
                let bytes = self
                    .transport
                    .body(answer.response, cap)
                    .await?
                    .ok_or_else(|| {
                        self.backend("server ignores Range and the object is too large")
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
                    .ok_or_else(|| self.backend("416 without the object's size"))?;
                check_version(&etag)?;
                self.remember(len, etag);
                return Err(StorageError::OutOfRange { range, len });
            }
            412 => {
                return Err(StorageError::Precondition {
                    expected: version.unwrap_or_default().to_owned(),
                    actual: etag,
                });
            }
            404 | 410 => {
                return Err(StorageError::NotFound {
                    key: self.transport.name().to_owned(),
                });
            }
            status => return Err(self.backend(format!("HTTP {status}"))),
        };
        self.remember(checked.size, etag);
        Ok(checked)
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

/// `range` out of `bytes`, which hold the object from `offset` on; `ShortRead` when the
/// answer does not cover it.
pub fn slice_answer(bytes: Bytes, offset: u64, range: &Range<u64>) -> Result<Bytes> {
    let got = bytes.len();
    let short = || StorageError::ShortRead {
        range: range.clone(),
        got: got as u64,
    };
    let start = range.start.checked_sub(offset).ok_or_else(short)?;
    let end = range.end.checked_sub(offset).ok_or_else(short)?;
    match (usize::try_from(start), usize::try_from(end)) {
        (Ok(s), Ok(e)) if s <= e && e <= got => Ok(if s == 0 && e == got {
            bytes
        } else {
            bytes.slice(s..e)
        }),
        _ => Err(short()),
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl<T: RangedGet> RangeRead for HttpObject<T> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slicing_answers() {
        let bytes = Bytes::from_static(b"0123456789");
        assert_eq!(
            slice_answer(bytes.clone(), 0, &(2..5)).ok(),
            Some(Bytes::from_static(b"234"))
        );
        assert_eq!(
            slice_answer(bytes.clone(), 10, &(12..13)).ok(),
            Some(Bytes::from_static(b"2"))
        );
        assert_eq!(
            slice_answer(bytes.clone(), 0, &(0..10)).ok(),
            Some(bytes.clone())
        );
        assert!(matches!(
            slice_answer(bytes.clone(), 0, &(5..11)),
            Err(StorageError::ShortRead { got: 10, .. })
        ));
        assert!(matches!(
            slice_answer(bytes, 5, &(0..3)),
            Err(StorageError::ShortRead { .. })
        ));
    }
}
