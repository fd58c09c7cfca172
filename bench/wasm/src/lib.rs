//! The Worker's Rust tile path without workerd, R2 or the Worker's JS glue: objects go into
//! a `MemoryStore`, and tile URLs are answered by the same `tilefn_tiler::Service`. Built for
//! wasm32 by bench/wasm/run.sh and timed in V8 (Node) by bench/wasm/run.mjs.

#[cfg(target_arch = "wasm32")]
mod exports {
    use std::cell::RefCell;
    use std::task::{Context, Poll, Waker};

    use tilefn_storage::MemoryStore;
    use tilefn_tiler::{Config, Request, Service};
    use wasm_bindgen::prelude::wasm_bindgen;

    thread_local! {
        static STORE: MemoryStore = MemoryStore::new();
        static SERVICE: RefCell<Option<Service<MemoryStore>>> = const { RefCell::new(None) };
        static BODY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    /// Stores `value` under `key`; returns its ETag (manifests must name it).
    #[wasm_bindgen]
    pub fn put(key: &str, value: Vec<u8>) -> String {
        STORE.with(|s| s.put(key, value))
    }

    /// Answers `GET url` (path and query); returns the status. The body stays in the module
    /// (`body()` copies it out), so a timing loop copies nothing into JS.
    #[wasm_bindgen]
    pub fn handle(url: &str, now_ms: f64) -> u16 {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let req = Request {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            if_none_match: None,
            now_ms,
            origin: None,
            body: Vec::new(),
        };
        let out = SERVICE.with(|s| {
            let mut s = s.borrow_mut();
            let service =
                s.get_or_insert_with(|| Service::new(STORE.with(Clone::clone), Config::default()));
            // Memory reads complete at once, so one poll finishes the request.
            let mut fut = std::pin::pin!(service.handle(&req));
            match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(out) => Some(out),
                Poll::Pending => None,
            }
        });
        let Some(out) = out else { return 0 };
        BODY.with(|b| *b.borrow_mut() = out.body);
        out.status
    }

    /// Empties the service's cache of tile rims, so the next halo (hillshade, focal
    /// functions) decodes every neighbour instead of pasting their cached rims.
    #[wasm_bindgen]
    pub fn forget_rims() {
        SERVICE.with(|s| {
            if let Some(service) = s.borrow().as_ref() {
                service.forget_rims();
            }
        });
    }

    /// The last answer's body.
    #[wasm_bindgen]
    pub fn body() -> Vec<u8> {
        BODY.with(|b| b.borrow().clone())
    }
}
