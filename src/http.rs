//! External objects by URL (registered `http(s)://` COGs), read with `fetch` and a `Range`
//! header: the transport for the shared `tilefn_storage::HttpObject`, which maps answers
//! onto the `RangeRead` contract. Every body is read through a byte cap so a hostile server
//! cannot fill the isolate's 128 MB.

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tilefn_storage::{Fetched, HttpAnswer, RangedGet, Result, StorageError};
use worker::{Fetch, Headers, Request, RequestInit, ResponseBody};

/// Largest whole object accepted from a server that ignores `Range` (the answer is sliced
/// locally). COG tiles are read many times per object, so anything bigger must be served by
/// a range-capable server.
const MAX_IGNORED_RANGE_BODY: u64 = 16 << 20;

/// A registered `http(s)://` object: the shared [`tilefn_storage::HttpObject`] (answer
/// checks, ETag pinning, slicing) over the Worker's `fetch`.
pub type HttpObject = tilefn_storage::HttpObject<UrlFetch>;

/// A handle for `url`, pinned to `etag` when given. No I/O.
pub fn object(url: &str, etag: Option<&str>) -> HttpObject {
    HttpObject::new(
        UrlFetch {
            url: url.to_owned(),
        },
        etag,
    )
}

/// `fetch` of one URL, sending `If-Match` (servers that honour it answer 412 rather than
/// another version's bytes).
#[derive(Debug)]
pub struct UrlFetch {
    url: String,
}

#[async_trait(?Send)]
impl RangedGet for UrlFetch {
    type Response = worker::Response;

    fn name(&self) -> &str {
        &self.url
    }

    fn max_whole_body(&self) -> u64 {
        MAX_IGNORED_RANGE_BODY
    }

    async fn get(
        &self,
        range: &Range<u64>,
        if_match: Option<&str>,
    ) -> Result<HttpAnswer<worker::Response>> {
        let resp = send(&self.url, Some(range.clone()), if_match).await?;
        Ok(HttpAnswer {
            status: resp.status_code(),
            content_range: header(&resp, "content-range"),
            etag: header(&resp, "etag"),
            response: resp,
        })
    }

    async fn body(&self, mut response: worker::Response, cap: u64) -> Result<Option<Vec<u8>>> {
        read_capped(&self.url, &mut response, cap).await
    }
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
