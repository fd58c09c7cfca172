//! The tilefn Cloudflare Worker.
//!
//! This crate is glue only: the R2 (and `fetch`) adapters of `tilefn_storage::Bucket`, the
//! conversion between workers-rs and `tilefn_tiler` requests and responses, and the edge
//! cache. Every decision about tiles (routing, errors, headers, ETags) is
//! `tilefn_tiler::Service::handle`, tested natively with `cargo test`.
//!
//! Everything that touches JavaScript compiles only for wasm32: those types are `!Send`, and
//! calling them natively panics. The pure helpers in [`pure`] are tested natively.

pub mod byte_range;
pub mod pure;

#[cfg(target_arch = "wasm32")]
mod edge;
#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod objects;
#[cfg(target_arch = "wasm32")]
mod r2;
#[cfg(target_arch = "wasm32")]
mod test_routes;
