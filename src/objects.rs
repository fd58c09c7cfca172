//! `GET /objects/{key}`: the stored R2 objects served the way an R2 public bucket serves
//! them, so the browser build (`crates/web`) can range-read COGs, manifests and legends from
//! the same origin.
//!
//! Single byte ranges (`bytes=a-b`, `bytes=a-`, `bytes=-n`) are 206, no or an unsupported
//! `Range` is 200, an unsatisfiable one 416; `If-None-Match` is 304. Only keys under
//! `layers/` and `legends/` of the tile store are served.

use worker::{Bucket, Conditional, Headers, Range as R2Range, Request, Response, Result};

use crate::byte_range::{
    RangeAnswer, is_public_key, object_cache_control, parse_range, percent_decode, resolve,
};
use crate::pure::{bare_etag, etag_matches};

/// The route's path prefix.
pub const PREFIX: &str = "/objects/";

/// Headers every answer carries: CORS for a page on another origin, which must read
/// `ETag` and `Content-Range` to pin and check its ranges.
fn base_headers(cors_origin: &str) -> Result<Headers> {
    let headers = Headers::new();
    headers.set("access-control-allow-origin", cors_origin)?;
    headers.set(
        "access-control-expose-headers",
        "ETag, Content-Range, Content-Length, Accept-Ranges",
    )?;
    headers.set("accept-ranges", "bytes")?;
    Ok(headers)
}

fn error(status: u16, code: &str, message: &str, cors_origin: &str) -> Result<Response> {
    let headers = base_headers(cors_origin)?;
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "no-store")?;
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    Ok(Response::from_bytes(body.to_string().into_bytes())?
        .with_status(status)
        .with_headers(headers))
}

/// Answers a request whose path starts with [`PREFIX`].
pub async fn handle(
    req: &Request,
    path: &str,
    bucket: &Bucket,
    max_age: u32,
    cors_origin: &str,
) -> Result<Response> {
    let method = req.inner().method();
    if method == "OPTIONS" {
        let headers = base_headers(cors_origin)?;
        headers.set("access-control-allow-methods", "GET, HEAD, OPTIONS")?;
        headers.set("access-control-allow-headers", "Range, If-None-Match")?;
        headers.set("access-control-max-age", "86400")?;
        return Ok(Response::empty()?.with_status(204).with_headers(headers));
    }
    if method != "GET" && method != "HEAD" {
        let resp = error(405, "method_not_allowed", "use GET or HEAD", cors_origin)?;
        resp.headers().set("allow", "GET, HEAD, OPTIONS")?;
        return Ok(resp);
    }
    let raw = path.strip_prefix(PREFIX).unwrap_or_default();
    // Keys are stored decoded; the URL carries them percent-encoded like any path.
    let key = match percent_decode(raw) {
        Some(key) if is_public_key(&key) => key,
        _ => return error(404, "not_found", "no such object", cors_origin),
    };
    let Some(meta) = bucket.head(&key).await? else {
        return error(404, "not_found", "no such object", cors_origin);
    };
    let size = meta.size();
    let etag = meta.http_etag();
    let headers = base_headers(cors_origin)?;
    headers.set("etag", &etag)?;
    headers.set("cache-control", &object_cache_control(&key, max_age))?;
    if let Some(inm) = req.headers().get("if-none-match")?
        && etag_matches(&inm, &etag)
    {
        return Ok(Response::empty()?.with_status(304).with_headers(headers));
    }
    headers.set("content-type", content_type(&key))?;
    let range = req.headers().get("range")?.as_deref().and_then(parse_range);
    let (status, start, end) = match range.map(|spec| resolve(spec, size)) {
        None => (200, 0, size),
        Some(RangeAnswer::Partial { start, end }) => {
            headers.set(
                "content-range",
                &format!("bytes {start}-{}/{size}", end - 1),
            )?;
            (206, start, end)
        }
        Some(RangeAnswer::Unsatisfiable) => {
            let resp = error(
                416,
                "range_not_satisfiable",
                "range not satisfiable",
                cors_origin,
            )?;
            resp.headers()
                .set("content-range", &format!("bytes */{size}"))?;
            resp.headers().set("etag", &etag)?;
            return Ok(resp);
        }
    };
    headers.set("content-length", &(end - start).to_string())?;
    if method == "HEAD" || start == end {
        return Ok(Response::empty()?.with_status(status).with_headers(headers));
    }
    // The bytes of exactly the version the head saw: a publish in between is a 412-like
    // failure here rather than a body that disagrees with the ETag sent.
    let mut get = bucket.get(&key).only_if(Conditional {
        etag_matches: Some(bare_etag(&etag).to_owned()),
        ..Conditional::default()
    });
    if status == 206 {
        get = get.range(R2Range::OffsetWithLength {
            offset: start,
            length: end - start,
        });
    }
    let changed = || {
        worker::console_warn!("tilefn: /objects/{key} changed under a read of {etag}");
        error(503, "changed", "the object changed; retry", cors_origin)
    };
    let Some(obj) = get.execute().await? else {
        return error(404, "not_found", "no such object", cors_origin);
    };
    if bare_etag(&obj.http_etag()) != bare_etag(&etag) || obj.body().is_none() {
        return changed();
    }
    let body = match obj.body() {
        Some(body) => body.response_body()?,
        None => return changed(),
    };
    // The R2 body streams straight through, never copied into wasm memory.
    Ok(Response::from_body(body)?
        .with_status(status)
        .with_headers(headers))
}

/// A content type from the key's extension (R2 would use the stored metadata; ingest sets
/// none, so the extension decides).
fn content_type(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, ext)| ext) {
        Some("json") => "application/json",
        Some("tif" | "tiff") => "image/tiff",
        _ => "application/octet-stream",
    }
}
