//! Cloud Optimized GeoTIFFs for tilefn: where each XYZ tile lives ([`layout`]), how ingest
//! writes a COG ([`write`]) and how the Worker reads one back ([`read`]).
//!
//! Everything here is sans-io (bytes in, bytes out) and pure Rust so the same code runs in
//! the ingest binary and in a `wasm32-unknown-unknown` Cloudflare Worker. The reader treats
//! every input byte as hostile: it never panics and never allocates more than [`read::Limits`]
//! allow.

pub mod layout;
pub mod read;
pub mod write;

mod codec;
mod predictor;

pub use layout::{LevelGroup, MAX_LEVELS_PER_COG, PyramidLayout, TilePlace, cog_key};
pub use read::{HeaderParse, Ifd, Limits, Tiff, decode_tile, parse_file, parse_header};
pub use write::{
    CogSpec, Compression, Photometric, Predictor, data_order, default_predictor,
    encode_response_tile, encode_tile, header,
};

/// Everything that can go wrong in this crate, sorted by who is at fault (as `image-png`
/// does), so callers can map errors to HTTP statuses or CLI messages without string matching.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CogError {
    /// The bytes are not a valid TIFF (or not the TIFF they claim to be): the file's fault.
    #[error("invalid TIFF: {0}")]
    Format(String),
    /// A valid TIFF using a feature this crate does not handle; the message names it
    /// (e.g. "LERC compression").
    #[error("unsupported TIFF feature: {0}")]
    Unsupported(String),
    /// Decoding would exceed a configured [`read::Limits`] bound.
    #[error("limit exceeded: {0}")]
    Limits(String),
    /// The caller broke an API precondition (wrong buffer length, inconsistent spec, ...).
    #[error("invalid use: {0}")]
    Usage(String),
}
