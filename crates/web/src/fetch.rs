//! `fetch` from Rust: one GET with an optional `Range`, and a body read through a byte cap.
//!
//! The global `fetch` is bound directly (not `window.fetch`) so the same build runs in a
//! page, a Web Worker and Node (the tests).

use std::ops::Range;

use js_sys::{Promise, Uint8Array};
use tilefn_storage::{Result, StorageError};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, ReadableStreamDefaultReader, Request, RequestInit, Response};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(input: &Request) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, millis: i32) -> JsValue;
}

/// Attempts a GET gets when `fetch` itself rejects (a network error: no HTTP answer at all).
/// A dev server under load drops connections now and then (wrangler dev did, mid-way through
/// a page test, and the tile was a 502); object_store retries such errors too. An HTTP answer,
/// whatever its status, is never retried here: its meaning is the caller's to judge.
const NETWORK_ATTEMPTS: u32 = 3;

/// Pause before retry `attempt` (1-based), doubling: 50 ms, 100 ms.
fn backoff_ms(attempt: u32) -> i32 {
    50_i32.saturating_mul(1 << attempt.saturating_sub(1).min(4))
}

async fn sleep(millis: i32) {
    let promise = Promise::new(&mut |resolve, _reject| {
        let _ = set_timeout(&resolve, millis);
    });
    let _ = JsFuture::from(promise).await;
}

pub fn backend(key: &str, message: impl std::fmt::Display) -> StorageError {
    StorageError::Backend {
        key: key.to_owned(),
        message: message.to_string(),
    }
}

fn js_error(key: &str, err: &JsValue) -> StorageError {
    let message = err
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| err.as_string())
        .unwrap_or_else(|| "fetch failed".to_owned());
    backend(key, message)
}

/// `GET url`, with `Range: bytes=start-(end-1)` when `range` is given (never empty).
///
/// No `If-Match`: it is not a CORS-safelisted header, so every read would cost a preflight;
/// callers compare the answer's ETag instead.
pub async fn get(key: &str, url: &str, range: Option<&Range<u64>>) -> Result<Response> {
    let headers = Headers::new().map_err(|e| js_error(key, &e))?;
    if let Some(r) = range {
        let last = r.end.saturating_sub(1);
        headers
            .set("range", &format!("bytes={}-{last}", r.start))
            .map_err(|e| js_error(key, &e))?;
    }
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_headers(&headers);
    let mut attempt = 1;
    let resp = loop {
        // A Request's body is consumed by fetch, so each attempt gets a new one (GETs have
        // none, but the API does not know that).
        let req = Request::new_with_str_and_init(url, &init).map_err(|e| js_error(key, &e))?;
        match JsFuture::from(global_fetch(&req)).await {
            Ok(resp) => break resp,
            Err(err) if attempt < NETWORK_ATTEMPTS => {
                web_sys::console::warn_1(
                    &format!(
                        "tilefn: GET {url} failed ({}); retrying",
                        js_error(key, &err)
                    )
                    .into(),
                );
                sleep(backoff_ms(attempt)).await;
                attempt += 1;
            }
            Err(err) => return Err(js_error(key, &err)),
        }
    };
    resp.dyn_into::<Response>()
        .map_err(|_| backend(key, "fetch did not return a Response"))
}

/// A response header, if present.
pub fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers().get(name).ok().flatten()
}

/// The body, or `None` as soon as it holds more than `cap` bytes: the stream is read chunk
/// by chunk (and cancelled past the cap), so a hostile server cannot fill memory.
pub async fn read_capped(key: &str, resp: &Response, cap: u64) -> Result<Option<Vec<u8>>> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let declared = header(resp, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > cap as u64) {
        if let Some(body) = resp.body() {
            let _ = body.cancel();
        }
        return Ok(None);
    }
    let Some(body) = resp.body() else {
        return Ok(Some(Vec::new()));
    };
    let reader: ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|_| backend(key, "body reader is not a default reader"))?;
    let mut out = Vec::with_capacity(declared.map_or(0, |len| len as usize));
    loop {
        let step = JsFuture::from(reader.read())
            .await
            .map_err(|e| js_error(key, &e))?;
        let done = js_sys::Reflect::get(&step, &JsValue::from_str("done"))
            .map(|v| v.is_truthy())
            .unwrap_or(true);
        if done {
            return Ok(Some(out));
        }
        let chunk = js_sys::Reflect::get(&step, &JsValue::from_str("value"))
            .map_err(|e| js_error(key, &e))?
            .dyn_into::<Uint8Array>()
            .map_err(|_| backend(key, "body chunk is not bytes"))?;
        let len = chunk.length() as usize;
        if out.len().saturating_add(len) > cap {
            let _ = reader.cancel();
            return Ok(None);
        }
        let start = out.len();
        out.resize(start + len, 0);
        if let Some(dst) = out.get_mut(start..) {
            chunk.copy_to(dst);
        }
    }
}
