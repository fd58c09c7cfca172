//! The tile service in the browser: the same `tilefn_tiler::Service` the Worker runs, over a
//! `tilefn_storage::Bucket` that reads `{origin}/objects/{key}` with `fetch` and `Range`.
//!
//! Built with `scripts/build-web.sh` into `www/pkg/` (`wasm-bindgen --target web`); the JS API
//! is in [`api`](crate) (wasm32 only). Everything that touches JavaScript compiles only for
//! wasm32, so `cargo test` checks the pure parts ([`pure`]) natively.

pub mod pure;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod bucket;
#[cfg(all(target_arch = "wasm32", feature = "conformance"))]
mod conformance;
#[cfg(target_arch = "wasm32")]
mod fetch;
