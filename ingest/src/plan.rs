//! Decides, before any pixel is read, what the layer will be: zoom range, COG grouping, the
//! stored type and how invalid pixels are marked.

use tilefn_catalog::Datatype;
use tilefn_cog::write::{CogSpec, Compression, Photometric, Predictor, default_predictor};
use tilefn_raster::{Bounds, DataType, TileCoord, mercator};

use crate::IngestError;
use crate::resample::Resampling;
use crate::source::{Source, SourceInfo};

/// `--snap`: which zoom to pick when the source's resolution falls between two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Snap {
    /// The finer zoom: no detail is lost (django-raster's default).
    Higher,
    /// The coarser zoom: fewer, smaller tiles.
    Lower,
}

pub struct PlanOptions {
    pub datatype: Datatype,
    pub max_zoom: Option<u8>,
    pub snap: Snap,
    pub no_pyramid: bool,
    pub resampling: Option<Resampling>,
    pub compression: Compression,
}

pub struct Plan {
    pub footprint: Bounds,
    /// The footprint as one box, or two for data crossing the antimeridian: tiles between
    /// the two halves are never visited.
    pub parts: Vec<Bounds>,
    pub max_zoom: u8,
    pub min_zoom: u8,
    /// Tiles at `min_zoom` that hold data: the roots of the build.
    pub roots: Vec<TileCoord>,
    pub dtype: DataType,
    pub bands: usize,
    pub nodata: Option<f64>,
    /// Validity kept in a GDAL internal mask (see `CogSpec::mask`).
    pub mask: bool,
    pub photometric: Photometric,
    pub compression: Compression,
    pub predictor: Predictor,
    pub resampling: Resampling,
    pub overview_resampling: Resampling,
}

/// Deepest zoom with a max zoom this far below it still fitting one COG group.
const GROUP_SPAN: u8 = tilefn_cog::layout::MAX_LEVELS_PER_COG - 1;

impl Plan {
    pub fn new(source: &Source, o: &PlanOptions) -> Result<Plan, IngestError> {
        let info: &SourceInfo = source.info();
        // Projected once: the bounding box is the union of the parts.
        let parts = source.footprint_parts_3857()?;
        let footprint = parts
            .iter()
            .copied()
            .reduce(|a, b| a.union(&b))
            .ok_or(crate::source::SourceError::OutsideWebMercator)?;
        let max_zoom = match o.max_zoom {
            Some(z) if z > mercator::MAX_ZOOM => {
                return Err(IngestError::Usage(format!(
                    "--max-zoom {z} is deeper than {}",
                    mercator::MAX_ZOOM
                )));
            }
            Some(z) => z,
            None => mercator::zoom_for_resolution(
                source.native_resolution_3857(),
                o.snap == Snap::Higher,
            ),
        };
        // The deepest zoom at which the whole layer fits in one tile: the pyramid ends there.
        let fit = (0..=max_zoom)
            .rev()
            .find(|z| mercator::tile_range(&footprint, *z).is_some_and(|r| r.count() == 1))
            .unwrap_or(0);
        let min_zoom = if o.no_pyramid {
            max_zoom.saturating_sub(GROUP_SPAN).max(fit)
        } else {
            fit
        };
        let roots: Vec<TileCoord> = mercator::tile_range(&footprint, min_zoom)
            .ok_or(crate::source::SourceError::OutsideWebMercator)?
            .iter()
            .filter(|t| crate::pyramid::touches(&parts, *t))
            .collect();
        let categorical = o.datatype != Datatype::Continuous || info.palette.is_some();
        let resampling = o.resampling.unwrap_or(if categorical {
            Resampling::Nearest
        } else {
            Resampling::Bilinear
        });
        let overview_resampling = match resampling {
            Resampling::Nearest if categorical => Resampling::Mode,
            r => r,
        };
        let dtype = info.dtype;
        // Invalid pixels need a marker. A declared nodata value is used as is. Without one,
        // float layers use NaN (never a real measurement); integer layers get an internal
        // mask, because any integer we picked could be a real value. (A mask rather than an
        // alpha sample: for 8-bit RGB an alpha sample was a quarter of the bytes to compress,
        // and cost ~10% in size.)
        let (nodata, mask) = match info.nodata {
            Some(v) => (Some(v), false),
            None if dtype.is_float() => (Some(f64::NAN), false),
            None => (None, true),
        };
        let photometric = if info.photometric_rgb && info.bands == 3 {
            Photometric::Rgb
        } else {
            Photometric::MinIsBlack
        };
        let predictor = if o.compression == Compression::None {
            Predictor::None
        } else {
            default_predictor(dtype)
        };
        Ok(Plan {
            footprint,
            parts,
            max_zoom,
            min_zoom,
            roots,
            dtype,
            bands: info.bands,
            nodata,
            mask,
            photometric,
            compression: o.compression,
            predictor,
            resampling,
            overview_resampling,
        })
    }

    /// The spec of the COG anchored at `anchor` with `levels` levels: every COG of a layer
    /// shares all but position and depth.
    pub fn cog_spec(&self, anchor: TileCoord, levels: u8) -> CogSpec {
        CogSpec {
            anchor,
            levels,
            dtype: self.dtype,
            bands: self.bands as u16,
            alpha: false,
            mask: self.mask,
            photometric: self.photometric,
            compression: self.compression,
            predictor: self.predictor,
            nodata: self.nodata,
        }
    }

    /// Max-zoom tiles the footprint's bounding box touches: the progress bar's total.
    pub fn max_zoom_tiles(&self) -> u64 {
        self.parts
            .iter()
            .filter_map(|p| mercator::tile_range(p, self.max_zoom))
            .map(|r| r.count())
            .sum()
    }
}
