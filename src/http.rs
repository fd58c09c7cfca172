//! External objects by URL (registered `http(s)://` COGs), read with `fetch` and a `Range`
//! header.
//!
//! Servers differ: most answer 206 with `Content-Range`, some ignore `Range` and send the
//! whole object with 200, and a range past the end is 416. All of it is mapped onto the
//! `RangeRead` contract, and every body is read through a byte cap so a hostile server
//! cannot fill the isolate's 128 MB.

use std::cell::OnceCell;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tilefn_storage::{Fetched, RangeRead, Result, StorageError, check_range};
use worker::{Fetch, Headers, Request, RequestInit, ResponseBody};

use crate::pure::{ContentRange, parse_content_range};

/// Largest whole object accepted from a server that ignores `Range` (the answer is sliced
/// locally). COG tiles are read many times per object, so anything bigger must be served by
/// a range-capable server.
const MAX_IGNORED_RANGE_BODY: u64 = 16 << 20;

/// One object at a URL. A snapshot of the first version it sees, like the R2 handle:
/// later requests send `If-Match` and compare the ETag that comes back.
#[derive(Debug)]
pub struct HttpObject {
    url: String,
    pin: Option<String>,
    meta: OnceCell<Meta>,
}

#[derive(Debug, Clone)]
struct Meta {
    size: u64,
    etag: Option<String>,
}

/// What one ranged `GET` returned, already checked for status.
struct Answer {
    /// The bytes of the object the answer covers, starting at `offset`.
    bytes: Vec<u8>,
    offset: u64,
    size: u64,
    etag: Option<String>,
}

fn backend(url: &str, err: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        key: url.to_owned(),
        message: err.to_string(),
    }
}

/// The body, or `None` when it holds more than `cap` bytes (reading stops there).
async fn read_capped(url: &str, resp: &mut worker::Response, cap: u64) -> Result<Option<Vec<u8>>> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    match resp.body() {
        ResponseBody::Empty => return Ok(Some(Vec::new())),
        ResponseBody::Body(bytes) => return Ok((bytes.len() <= cap).then(|| bytes.clone())),
        ResponseBody::Stream(_) => {}
    }
    let mut stream = resp.stream().map_err(|e| backend(url, e))?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| backend(url, e))?;
        if out.len().saturating_add(chunk.len()) > cap {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

async fn send(
    url: &str,
    range: Option<Range<u64>>,
    if_match: Option<&str>,
) -> Result<worker::Response> {
    let headers = Headers::new();
    if let Some(r) = range {
        // HTTP ranges are inclusive; callers never send an empty one.
        let last = r.end.saturating_sub(1);
        headers
            .set("range", &format!("bytes={}-{last}", r.start))
            .map_err(|e| backend(url, e))?;
    }
    if let Some(etag) = if_match {
        headers.set("if-match", etag).map_err(|e| backend(url, e))?;
    }
    let mut init = RequestInit::new();
    init.with_headers(headers);
    let req = Request::new_with_init(url, &init).map_err(|e| backend(url, e))?;
    Fetch::Request(req)
        .send()
        .await
        .map_err(|e| backend(url, e))
}

fn header(resp: &worker::Response, name: &str) -> Option<String> {
    resp.headers().get(name).ok().flatten()
}

/// The whole object at `url` if it is at most `max_len` bytes (`Bucket::get` for URL keys).
pub async fn get_whole(url: &str, max_len: u64) -> Result<Option<Fetched>> {
    let mut resp = send(url, None, None).await?;
    match resp.status_code() {
        200 => {}
        404 | 410 => return Ok(None),
        status => return Err(backend(url, format!("HTTP {status}"))),
    }
    let declared = header(&resp, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared.filter(|len| *len > max_len) {
        return Err(StorageError::TooLarge {
            key: url.to_owned(),
            len,
            max: max_len,
        });
    }
    let etag = header(&resp, "etag");
    match read_capped(url, &mut resp, max_len).await? {
        Some(bytes) => Ok(Some(Fetched {
            bytes: Bytes::from(bytes),
            etag,
        })),
        None => Err(StorageError::TooLarge {
            key: url.to_owned(),
            len: declared.unwrap_or(max_len.saturating_add(1)),
            max: max_len,
        }),
    }
}

impl HttpObject {
    /// A handle for `url`, pinned to `etag` when given. No I/O.
    pub fn new(url: &str, etag: Option<&str>) -> Self {
        Self {
            url: url.to_owned(),
            pin: etag.map(str::to_owned),
            meta: OnceCell::new(),
        }
    }

    fn version(&self, explicit: Option<&str>) -> Option<String> {
        explicit
            .map(str::to_owned)
            .or_else(|| self.pin.clone())
            .or_else(|| self.meta.get().and_then(|m| m.etag.clone()))
    }

    /// One `GET` of `range` (non-empty), conditional on `version`, mapped onto the contract.
    async fn get(&self, range: Range<u64>, version: Option<&str>) -> Result<Answer> {
        let mut resp = send(&self.url, Some(range.clone()), version).await?;
        let status = resp.status_code();
        let content_range = header(&resp, "content-range").and_then(|v| parse_content_range(&v));
        let etag = header(&resp, "etag");
        let answer = match status {
            206 => {
                let Some(ContentRange {
                    range: Some((first, end)),
                    total,
                }) = content_range
                else {
                    return Err(backend(&self.url, "206 without a valid Content-Range"));
                };
                // A server may shorten a range past the end; its total then decides. Without
                // a total (`bytes a-b/*`) the size is unknown, and guessing it would make
                // later bounds checks wrong: refuse such servers.
                let Some(size) = total else {
                    return Err(backend(&self.url, "206 without the object's total size"));
                };
                let cap = end - first;
                let bytes = read_capped(&self.url, &mut resp, cap)
                    .await?
                    .ok_or_else(|| backend(&self.url, "body longer than its Content-Range"))?;
                Answer {
                    bytes,
                    offset: first,
                    size,
                    etag,
                }
            }
            200 => {
                let bytes = read_capped(&self.url, &mut resp, MAX_IGNORED_RANGE_BODY)
                    .await?
                    .ok_or_else(|| {
                        backend(
                            &self.url,
                            "server ignores Range and the object is too large",
                        )
                    })?;
                Answer {
                    offset: 0,
                    size: bytes.len() as u64,
                    bytes,
                    etag,
                }
            }
            416 => {
                let len = match content_range.and_then(|c| c.total) {
                    Some(len) => len,
                    None => return Err(backend(&self.url, "416 without the object's size")),
                };
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
                    key: self.url.clone(),
                });
            }
            other => return Err(backend(&self.url, format!("HTTP {other}"))),
        };
        self.remember(answer.size, answer.etag.clone());
        // Servers that ignore If-Match are caught by comparing the ETag they sent.
        if let Some(v) = version
            && answer.etag.as_deref() != Some(v)
        {
            return Err(StorageError::Precondition {
                expected: v.to_owned(),
                actual: answer.etag,
            });
        }
        Ok(answer)
    }

    fn remember(&self, size: u64, etag: Option<String>) {
        let _ = self.meta.set(Meta { size, etag });
    }

    async fn fetch(&self, range: Range<u64>, explicit: Option<&str>) -> Result<Bytes> {
        if range.start > range.end {
            return Err(StorageError::InvalidRange { range });
        }
        let version = self.version(explicit);
        if let Some(meta) = self.meta.get()
            && meta.etag == version
        {
            check_range(&range, meta.size)?;
        }
        if range.is_empty() {
            check_range(&range, self.len().await?)?;
            return Ok(Bytes::new());
        }
        let answer = self.get(range.clone(), version.as_deref()).await?;
        check_range(&range, answer.size)?;
        slice_answer(answer, &range)
    }
}

/// `range` out of an answer that starts at `answer.offset`, or `ShortRead` if it is not all there.
fn slice_answer(answer: Answer, range: &Range<u64>) -> Result<Bytes> {
    let short = |got: usize| StorageError::ShortRead {
        range: range.clone(),
        got: got as u64,
    };
    let got = answer.bytes.len();
    let start = range
        .start
        .checked_sub(answer.offset)
        .ok_or_else(|| short(0))?;
    let end = range.end - answer.offset;
    let (start, end) = match (usize::try_from(start), usize::try_from(end)) {
        (Ok(s), Ok(e)) if e <= got => (s, e),
        _ => return Err(short(got)),
    };
    let bytes = Bytes::from(answer.bytes);
    if start == 0 && end == got {
        return Ok(bytes);
    }
    Ok(bytes.slice(start..end))
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
                slice_answer(answer, &(0..want))
            }
            // Only an empty object refuses a range starting at 0.
            Err(StorageError::OutOfRange { len: 0, .. }) => Ok(Bytes::new()),
            Err(err) => Err(err),
        }
    }

    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        if let Some(pin) = &self.pin
            && pin != etag
        {
            return Err(StorageError::Precondition {
                expected: etag.to_owned(),
                actual: Some(pin.clone()),
            });
        }
        self.fetch(range, Some(etag)).await
    }
}
