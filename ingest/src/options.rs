//! What the user asked a layer to be: every `add` / `plan` option, as data. It travels inside
//! the plan file, so a unit run on another machine builds exactly what the planner decided.

use serde::{Deserialize, Serialize};
use tilefn_catalog::{Datatype, nodata_serde};
use tilefn_cog::write::Compression;

use crate::resample::Resampling;

/// `--snap`: which zoom to pick when the source's resolution falls between two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Snap {
    /// The finer zoom: no detail is lost (django-raster's default).
    Higher,
    /// The coarser zoom: fewer, smaller tiles.
    Lower,
}

/// `--merge`: which value a pixel gets where several sources have valid data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MergeMode {
    /// The first source in list order with a valid pixel there (GDAL's VRT and
    /// `gdal_merge.py` let the last win; `first` lets the user put the best source first).
    First,
    /// The last source in list order with a valid pixel there (gdalbuildvrt's order).
    Last,
    /// Per band, the smallest valid value.
    Min,
    /// Per band, the largest valid value.
    Max,
    /// Per band, the mean of the valid values.
    Mean,
}

impl MergeMode {
    pub fn name(self) -> &'static str {
        match self {
            MergeMode::First => "first",
            MergeMode::Last => "last",
            MergeMode::Min => "min",
            MergeMode::Max => "max",
            MergeMode::Mean => "mean",
        }
    }
}

/// Everything `add` and `plan` take besides the sources and the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerOptions {
    pub layer: String,
    pub name: Option<String>,
    pub description: String,
    pub datatype: Datatype,
    /// Overrides every source's nodata value (NaN allowed).
    #[serde(with = "nodata_serde")]
    pub nodata: Option<f64>,
    /// Overrides every source's CRS with this EPSG code.
    pub srid: Option<u32>,
    pub max_zoom: Option<u8>,
    pub snap: Snap,
    pub no_pyramid: bool,
    /// `None`: bilinear for continuous data, nearest for the rest.
    pub resampling: Option<Resampling>,
    pub compression: Compression,
    pub merge: MergeMode,
    /// The layer's default legend (django-raster legend JSON), already read and checked.
    pub legend: Option<serde_json::Value>,
    /// The unit of the values (`--unit`), over the sources' own (GDAL's unit type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl LayerOptions {
    /// Defaults for layer `id`, as the command line has them.
    pub fn new(id: &str) -> LayerOptions {
        LayerOptions {
            layer: id.to_owned(),
            name: None,
            description: String::new(),
            datatype: Datatype::Continuous,
            nodata: None,
            srid: None,
            max_zoom: None,
            snap: Snap::Higher,
            no_pyramid: false,
            resampling: None,
            compression: Compression::Zstd,
            merge: MergeMode::First,
            legend: None,
            unit: None,
        }
    }
}
