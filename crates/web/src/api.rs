//! The JavaScript API (`wasm-bindgen --target web`):
//!
//! ```js
//! import init, { BrowserTiler, checkFormula } from "/pkg/tilefn_web.js";
//! await init();
//! const t = new BrowserTiler(location.origin);
//! const r = await t.fetch("/tiles/dem/5/17/11.png?colormap_name=viridis");
//! // r = { status, contentType, body: Uint8Array, renderMs, totalMs }
//! // Routes with a body: method and body (bytes) follow the path.
//! const s = await t.fetch("/statistics/dem", "POST", new TextEncoder().encode(geojson));
//! checkFormula("a+b*"); // { ok: false, position, expected, message } | { ok: true, variables }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use tilefn_tiler::{Config, Request, Service};
use wasm_bindgen::prelude::*;

use crate::bucket::HttpBucket;
use crate::pure::{FormulaCheck, check_formula, split_path};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// A future that adds up the time spent inside its own `poll`s.
///
/// The page is single-threaded, so that sum is exactly the CPU this request used (parsing,
/// decoding, evaluating, colouring, encoding) and none of the time it spent waiting for
/// range reads, during which other tiles' work runs. It is what "render time per tile"
/// means; the wall time, reads included, is reported beside it.
struct Busy<F> {
    inner: Pin<Box<F>>,
    busy_ms: f64,
}

impl<F: Future> Future for Busy<F> {
    type Output = (F::Output, f64);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let started = performance_now();
        let polled = self.inner.as_mut().poll(cx);
        self.busy_ms += performance_now() - started;
        polled.map(|out| (out, self.busy_ms))
    }
}

/// The tile service running in the page over `{origin}/objects/{key}`.
#[wasm_bindgen]
pub struct BrowserTiler {
    // One service per tiler, so its manifest cache and COG-header LRU serve every tile of the
    // page; `Rc` lets each pending `fetch` promise hold it.
    service: Rc<Service<HttpBucket>>,
    origin: String,
}

fn set(obj: &Object, name: &str, value: &JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(name), value);
}

#[wasm_bindgen]
impl BrowserTiler {
    /// A tiler reading objects from `${origin}/objects/${key}`.
    #[wasm_bindgen(constructor)]
    pub fn new(origin: &str) -> BrowserTiler {
        let origin = origin.trim_end_matches('/').to_owned();
        BrowserTiler {
            service: Rc::new(Service::new(HttpBucket::new(&origin), Config::default())),
            origin,
        }
    }

    /// Answers any service route (`/tiles/...`, `/algebra/...`, `/pixel/...`, `/layers`,
    /// `/legends/...`, `/statistics/...`, `/export/...`): a promise of `{ status,
    /// contentType, body, renderMs, totalMs }`: `renderMs` is the CPU time of this request
    /// alone, `totalMs` the wall time with reads. `method` defaults to `GET`; `body` (bytes,
    /// such as a POSTed GeoJSON polygon) defaults to empty.
    pub fn fetch(&self, path: &str, method: Option<String>, body: Option<Vec<u8>>) -> Promise {
        let service = Rc::clone(&self.service);
        let (path, query) = split_path(path);
        let req = Request {
            method: method.unwrap_or_else(|| "GET".to_owned()),
            path: path.to_owned(),
            query: query.to_owned(),
            body: body.unwrap_or_default(),
            now_ms: js_sys::Date::now(),
            origin: Some(self.origin.clone()),
            ..Request::default()
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let started = performance_now();
            let busy = Busy {
                inner: Box::pin(async { service.handle(&req).await }),
                busy_ms: 0.0,
            };
            let (out, render_ms) = busy.await;
            let total_ms = performance_now() - started;
            let obj = Object::new();
            set(&obj, "status", &JsValue::from(out.status));
            let content_type = out.header("content-type").unwrap_or_default();
            set(&obj, "contentType", &JsValue::from_str(content_type));
            set(&obj, "body", &Uint8Array::from(out.body.as_slice()).into());
            set(&obj, "renderMs", &JsValue::from(render_ms));
            set(&obj, "totalMs", &JsValue::from(total_ms));
            Ok(obj.into())
        })
    }
}

/// Parses a formula with the `/algebra` parser: `{ ok: true, variables }` or
/// `{ ok: false, position, expected, message }` (`position` is a byte offset).
#[wasm_bindgen(js_name = checkFormula)]
pub fn check_formula_js(formula: &str) -> JsValue {
    let obj = Object::new();
    match check_formula(formula) {
        FormulaCheck::Ok { variables } => {
            set(&obj, "ok", &JsValue::TRUE);
            let list: Array = variables.iter().map(|v| JsValue::from_str(v)).collect();
            set(&obj, "variables", &list.into());
        }
        FormulaCheck::Err {
            position,
            expected,
            message,
        } => {
            set(&obj, "ok", &JsValue::FALSE);
            set(&obj, "position", &JsValue::from(position as u32));
            set(&obj, "expected", &JsValue::from_str(&expected));
            set(&obj, "message", &JsValue::from_str(&message));
        }
    }
    obj.into()
}
