#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - `route`: URL → typed [`Route`] (every 400 comes from here, before any read).
//! - `service`: [`Service::handle`], the handlers and the HTTP headers.
//! - `layer`: manifests and legends from the bucket, cached per `Service`.
//! - `read`: one stored tile: COG header (cached) and one range read, decoded to a `Block`.
//! - `zoom`: over-zoom (crop + nearest) and under-zoom (average or nearest) tiles.
//! - `paint`: the calls into `tilefn-render` (style, RGB, enhancement, encoders).
//! - `dem_encoding`: `encoding=terrarium|mapbox` on `/tiles` (MapLibre `raster-dem` PNGs).
//! - `query`: the `/algebra` and `/pixel` query (`layers=`, `formula=`, ...).
//! - `algorithm`: `/tiles?algorithm=hillshade|slope|aspect` as an `/algebra` request.
//! - `algebra`: the `/algebra` and `/pixel` handlers (formulas and RGB over bound layers).
//! - `export`: `/export` boxes of pixels (of a layer or a formula): plan (window, zoom,
//!   limits), stitch, encode.
//! - `halo`: a tile with cells of its neighbours around it, for neighbourhood functions.
//! - `neighbourhood`: terrain parameters, padded grids, cost limits and the evaluation of a
//!   formula on one tile ([`Service`]'s `formula_tile`).
//! - `rim`: the cached outer cells of decoded tiles, which later halos read instead of the tile.
//! - `overview`: whole-layer reductions and default stretches of formulas.
//! - `zonal`: `/statistics`: polygons to tiles at a chosen zoom, value summaries per band.
//! - `error`: [`TileError`] and the one error → status table.

mod algebra;
mod algorithm;
mod cache;
mod catalog;
mod convert;
mod dem_encoding;
mod error;
mod etag;
mod export;
mod halo;
mod layer;
mod neighbourhood;
mod overview;
mod paint;
mod query;
mod read;
mod rim;
mod route;
mod service;
mod zonal;
mod zoom;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
#[cfg(test)]
mod tests;

pub use error::TileError;
pub use export::{
    ExportQuery, ExportRequest, FormulaExportRequest, MAX_EXPORT_BYTES, MAX_EXPORT_SIDE,
};
pub use neighbourhood::{MAX_NEIGHBOURHOOD_WORK, PixelSize, TerrainQuery};
pub use query::{AlgebraQuery, Binding, Mode, PixelRequest};
pub use route::{AlgebraRequest, Format, Route, StyleQuery, TileRequest};
pub use service::Service;
pub use tilefn_render::DemEncoding;
pub use zonal::{MAX_STATS_TILES, MAX_STATS_VALUES, StatsRequest, StatsTarget};

/// How the service behaves; the host (Worker, native server) builds it once.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `Cache-Control: max-age` of tiles and legends, seconds.
    pub max_age: u32,
    /// `Access-Control-Allow-Origin` on every response.
    pub cors_origin: String,
    /// How long a layer's current manifest is trusted before it is fetched again.
    pub manifest_ttl_ms: f64,
    /// Budget of the parsed-COG-header cache.
    pub header_cache_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_age: 3600,
            cors_origin: "*".to_owned(),
            manifest_ttl_ms: 10_000.0,
            header_cache_bytes: 32 << 20,
        }
    }
}

/// One HTTP request, as the host saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// `GET`, `HEAD`, `OPTIONS`, ...
    pub method: String,
    /// The URL path, still percent-encoded (`/tiles/dem/3/4/2.png`).
    pub path: String,
    /// The raw query string without `?` (may be empty).
    pub query: String,
    /// The `If-None-Match` header, if any.
    pub if_none_match: Option<String>,
    /// Milliseconds since the Unix epoch (`Date.now()` on the Worker): `Instant` panics on
    /// wasm32-unknown-unknown, so time comes from the host.
    pub now_ms: f64,
    /// `scheme://host[:port]` the client used, for absolute URLs in TileJSON and layer
    /// listings. `None` gives root-relative URLs (`/tiles/...`).
    pub origin: Option<String>,
    /// The body of a `POST` (a GeoJSON polygon for `/statistics` and `/export`); hosts stop
    /// reading past [`MAX_BODY_BYTES`] + 1 bytes, and the service refuses more than that.
    pub body: Vec<u8>,
}

/// Largest request body accepted (a 100,000-vertex polygon as GeoJSON fits).
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// One HTTP response. Header names are lower case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
