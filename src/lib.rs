//! The tilefn Cloudflare Worker.
//!
//! This crate is glue only: routing, the R2 adapter of `tilefn_storage::RangeRead` and
//! response headers. Every decision about tiles lives in the crates under `crates/`, so the
//! core is tested natively with `cargo test`. The Worker itself arrives with the edge-tiles
//! issue; until then this is the workspace root that names the crate layout.
