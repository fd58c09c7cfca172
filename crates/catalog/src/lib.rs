//! The layer manifest (`<store>/layers/<id>/manifest.json`) and the store's key layout.
//!
//! Ingest writes a manifest last, after every object it names exists, so a reader that finds
//! a manifest can trust it (see `ingest/src/publish.rs`). The Worker and the browser read it
//! to find a tile's COG and to render with the layer's stats and legend, so this crate stays
//! free of I/O and compiles to wasm32.

mod keys;
mod manifest;
mod nodata;
mod quantiles;

pub use keys::{
    InvalidLayerId, layer_prefix, legend_key, manifest_key, parse_log_key, validate_layer_id,
    version_manifest_key, version_prefix,
};
pub use manifest::{
    BandInfo, BandStats, Datatype, ExternalCog, ExternalLevel, Histogram, LayerBounds,
    MANIFEST_FORMAT, MAX_CLASSES, Manifest, ObjectEntry, SourceInfo,
};
pub use nodata::nodata_serde;
pub use quantiles::{QUANTILE_GRID_POINTS, QuantileMethod, Quantiles, exact_grid, grid_percentile};
