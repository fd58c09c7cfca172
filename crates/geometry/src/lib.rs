//! Polygons for tilefn's statistics and exports, in two halves kept apart (georust's rule:
//! types apart from algorithms):
//!
//! - [`parse`]: hostile GeoJSON (Geometry, Feature, FeatureCollection) and WKT text in,
//!   validated [`Area`]s in Web-Mercator metres out, within [`Limits`]; every problem is a
//!   [`GeometryError`] naming it.
//! - [`raster`]: which pixels of the XYZ grid of a zoom an area holds, by GDAL's centre rule
//!   (`GDALdllImageFilledPolygon`), as [`Spans`] of global pixel columns per row.
//!
//! Nothing here does I/O, so it tests natively and fuzzes as is.

mod parse;
pub mod raster;

pub use parse::{Crs, Input, parse_geojson, parse_text, parse_wkt};
pub use raster::{Spans, rasterize};

/// A point in EPSG:3857 metres.
pub type Point = [f64; 2];

/// One polygon: the exterior ring first, then its holes. Rings are closed (the last point
/// equals the first) and have at least four points.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    pub rings: Vec<Vec<Point>>,
}

/// A polygon or multipolygon: the union of its polygons.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Area {
    pub polygons: Vec<Polygon>,
}

impl Area {
    /// Vertices over all rings.
    pub fn vertex_count(&self) -> usize {
        self.polygons
            .iter()
            .flat_map(|p| &p.rings)
            .map(Vec::len)
            .sum()
    }

    /// `[min_x, min_y, max_x, max_y]`, or `None` for an empty area.
    pub fn bbox(&self) -> Option<[f64; 4]> {
        let mut points = self.polygons.iter().flat_map(|p| &p.rings).flatten();
        let first = points.next()?;
        let mut b = [first[0], first[1], first[0], first[1]];
        for p in points {
            b[0] = b[0].min(p[0]);
            b[1] = b[1].min(p[1]);
            b[2] = b[2].max(p[0]);
            b[3] = b[3].max(p[1]);
        }
        Some(b)
    }
}

/// One area to summarise, with what identifies it in a FeatureCollection.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// The GeoJSON feature's `id`, if any.
    pub id: Option<serde_json::Value>,
    /// The GeoJSON feature's `properties`, if any.
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
    pub area: Area,
}

/// Bounds on what one request may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of GeoJSON or WKT text.
    pub max_bytes: usize,
    /// Vertices over all rings of all features.
    pub max_vertices: usize,
    /// Features of a FeatureCollection.
    pub max_features: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 8 << 20,
            max_vertices: 100_000,
            max_features: 1_000,
        }
    }
}

/// Why a geometry was refused: the client's mistake (a 400), never ours.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryError {
    #[error("invalid GeoJSON: {0}")]
    GeoJson(String),
    #[error("invalid WKT: {0}")]
    Wkt(String),
    #[error("{0} is not a Polygon or MultiPolygon")]
    NotPolygonal(String),
    #[error("a ring has {0} positions; at least 4 are needed")]
    ShortRing(usize),
    #[error("a ring is not closed: its last position must equal its first")]
    OpenRing,
    #[error("a coordinate is not a finite number")]
    NotFinite,
    #[error("a position has {0} coordinates; 2 or 3 are accepted")]
    BadPosition(usize),
    #[error("longitude {0} is outside -180..=180")]
    Longitude(f64),
    #[error("latitude {0} is outside ±85.0511 (Web Mercator)")]
    Latitude(f64),
    #[error("{0} is outside Web Mercator (|x|, |y| <= 20037508.34)")]
    Mercator(f64),
    #[error("more than {0} vertices (vertex limit)")]
    TooManyVertices(usize),
    #[error("more than {0} features (feature limit)")]
    TooManyFeatures(usize),
    #[error("longer than {0} bytes (size limit)")]
    TooLong(usize),
    #[error("no polygon in the input")]
    Empty,
}
