use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tilefn_cog::layout::LevelGroup;
use tilefn_raster::DataType;

use crate::nodata::nodata_serde;
use crate::quantiles::Quantiles;

/// Bumped when a reader could misread a newer manifest.
pub const MANIFEST_FORMAT: &str = "tilefn-layer/1";

/// django-raster's RasterLayer datatypes: they choose default resampling and legends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Datatype {
    #[default]
    Continuous,
    Categorical,
    Mask,
    RankOrdered,
}

impl Datatype {
    pub fn name(self) -> &'static str {
        match self {
            Datatype::Continuous => "continuous",
            Datatype::Categorical => "categorical",
            Datatype::Mask => "mask",
            Datatype::RankOrdered => "rank-ordered",
        }
    }
}

/// One published layer version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub datatype: Datatype,
    /// Content version: names the immutable object prefix and feeds tile ETags.
    pub version: String,
    /// RFC 3339 UTC.
    pub created: String,
    pub source: SourceInfo,
    pub bounds: LayerBounds,
    pub min_zoom: u8,
    pub max_zoom: u8,
    pub tile_size: u32,
    pub dtype: DataType,
    /// Data bands in each pixel (an alpha sample, when present, is not counted).
    pub band_count: usize,
    /// Whether each COG carries an extra alpha sample (layers registered from such files).
    pub alpha: bool,
    /// Whether each COG carries a GDAL internal mask (`tilefn-cog` `CogSpec::mask`): how
    /// ingest marks valid pixels of integer layers without a nodata value.
    #[serde(default)]
    pub mask: bool,
    #[serde(with = "nodata_serde")]
    pub nodata: Option<f64>,
    pub bands: Vec<BandInfo>,
    pub compression: String,
    pub resampling: String,
    /// Which COG holds which zoom: see `crates/cog/README.md`.
    pub groups: Vec<LevelGroup>,
    /// Prefix of this version's objects, relative to the store root.
    pub prefix: String,
    pub objects: Vec<ObjectEntry>,
    /// The layer's default legend, as given to `--legend` (or built from a palette).
    #[serde(default)]
    pub legend: Option<serde_json::Value>,
    /// Set by `tilefn-ingest register`: the layer is one existing web-optimized COG, not our
    /// pyramid. `groups` and `objects` are then empty and tiles are read through this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalCog>,
}

/// A registered web-optimized COG (GDAL COG driver / `rio cogeo --web-optimized`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalCog {
    /// A key in the same store, or an absolute `http(s)://` URL.
    pub url: String,
    pub size: u64,
    pub etag: String,
    /// Bytes from 0 that hold every IFD (one read opens the header).
    pub header_len: u64,
    /// One entry per image IFD, full resolution first.
    pub levels: Vec<ExternalLevel>,
}

/// Where one IFD sits in the XYZ grid: XYZ tile `(x, y)` at `zoom` is internal tile
/// `(x - col_offset, y - row_offset)` of IFD `ifd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalLevel {
    pub ifd: usize,
    pub zoom: u8,
    pub col_offset: u32,
    pub row_offset: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub file: String,
    /// "EPSG:32633", or the proj4 string of a CRS without a code.
    pub crs: String,
    pub proj4: String,
    pub width: u32,
    pub height: u32,
    pub dtype: DataType,
    /// How many source files were merged into the layer, when more than one: the fields
    /// above then describe the first (the plan, `layers/<id>/v/<version>/plan.json`, lists
    /// them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerBounds {
    /// West, south, east, north in degrees.
    pub lonlat: [f64; 4],
    /// Min x, min y, max x, max y in EPSG:3857 metres.
    pub mercator: [f64; 4],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandInfo {
    pub index: usize,
    pub dtype: DataType,
    #[serde(with = "nodata_serde")]
    pub nodata: Option<f64>,
    pub stats: Option<BandStats>,
    /// The unit of the band's values (GDAL's unit type, `--unit`), e.g. `m`, `ft`,
    /// `US survey foot`: terrain functions convert elevations to metres with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Statistics over the valid pixels of the max zoom (after reprojection). `None` fields mean
/// the band has no valid pixel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandStats {
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
    /// The 2nd and 98th percentiles: `quantiles`' (numpy's linear interpolation) when those
    /// are exact and the type is wider than 16 bits; otherwise the value at rank
    /// ceil(p · count), exact for 8- and 16-bit integers and within 1/4096 relative for the
    /// rest (`ingest/src/stats.rs`).
    pub p2: f64,
    pub p98: f64,
    pub histogram: Histogram,
    /// Whole-layer quantiles (absent in manifests written before they were computed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantiles: Option<Quantiles>,
    /// Categorical and mask layers: pixels per distinct valid value, keyed by the value as
    /// Rust prints an f64 (`"1"`, `"2.5"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_counts: Option<BTreeMap<String, u64>>,
    /// The ground area of each `value_counts` class in m²: each pixel weighted by
    /// `(res · cos φ)²`, φ the latitude of its row's centre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_m2: Option<BTreeMap<String, f64>>,
    /// Set when a categorical or mask band had more than [`MAX_CLASSES`] distinct values:
    /// `value_counts` and `area_m2` are then absent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub too_many_classes: bool,
}

/// The most distinct values whose counts a manifest records: beyond this a band is not a
/// set of classes, and the counts would outweigh the rest of the manifest.
pub const MAX_CLASSES: usize = 65_536;

/// 256 equal bins over `[min, max]`; the last bin includes `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub min: f64,
    pub max: f64,
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEntry {
    /// Relative to the store root.
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// Bytes from 0 that hold every IFD of this COG, so the tile service opens the header
    /// with one exact read. Absent in manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_len: Option<u64>,
}

impl Manifest {
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn to_json_pretty(&self) -> Vec<u8> {
        // Serialising plain structs with string keys cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}
