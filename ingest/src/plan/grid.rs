//! Decides, before any pixel is read, what the layer will be: zoom range, COG grouping, the
//! stored type and how invalid pixels are marked. Made from the sources' headers alone.

use serde::{Deserialize, Serialize};
use tilefn_catalog::{Datatype, nodata_serde};
use tilefn_cog::layout::{LevelGroup, PyramidLayout};
use tilefn_cog::write::{CogSpec, Compression, Photometric, Predictor, default_predictor};
use tilefn_raster::{Bounds, DataType, TileCoord, mercator};

use super::SourceHeader;
use crate::IngestError;
use crate::options::{LayerOptions, Snap};
use crate::resample::Resampling;

/// The layer every unit builds its part of: shared by all COGs, fixed by the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// The union of the sources' footprints (EPSG:3857).
    pub footprint: Bounds,
    pub max_zoom: u8,
    pub min_zoom: u8,
    /// Level groups, finest first: group `k` is built by the units of stage `k`.
    pub groups: Vec<LevelGroup>,
    pub dtype: DataType,
    pub bands: usize,
    #[serde(with = "nodata_serde")]
    pub nodata: Option<f64>,
    /// Validity kept in a GDAL internal mask (see `CogSpec::mask`).
    pub mask: bool,
    pub photometric: Photometric,
    pub compression: Compression,
    pub predictor: Predictor,
    pub resampling: Resampling,
    pub overview_resampling: Resampling,
    /// The first source's colour table, for a palette layer's default legend.
    pub palette: Option<Vec<[u8; 4]>>,
}

/// Deepest zoom with a max zoom this far below it still fitting one COG group.
const GROUP_SPAN: u8 = tilefn_cog::layout::MAX_LEVELS_PER_COG - 1;

impl Grid {
    /// The layer made of `sources` (at least one, all with the same band count).
    pub fn new(sources: &[SourceHeader], o: &LayerOptions) -> Result<Grid, IngestError> {
        let first = sources
            .first()
            .ok_or_else(|| IngestError::Usage("no sources".into()))?;
        let footprint = sources
            .iter()
            .flat_map(|s| s.parts.iter().copied())
            .reduce(|a, b| a.union(&b))
            .ok_or(crate::source::SourceError::OutsideWebMercator)?;
        let finest = sources
            .iter()
            .map(|s| s.resolution)
            .filter(|r| r.is_finite() && *r > 0.0)
            .fold(f64::INFINITY, f64::min);
        let max_zoom = match o.max_zoom {
            Some(z) if z > mercator::MAX_ZOOM => {
                return Err(IngestError::Usage(format!(
                    "--max-zoom {z} is deeper than {}",
                    mercator::MAX_ZOOM
                )));
            }
            Some(z) => z,
            None => mercator::zoom_for_resolution(finest, o.snap == Snap::Higher),
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
        let palette = first.palette.clone();
        let categorical = o.datatype != Datatype::Continuous || palette.is_some();
        let resampling = o.resampling.unwrap_or(if categorical {
            Resampling::Nearest
        } else {
            Resampling::Bilinear
        });
        let overview_resampling = match resampling {
            Resampling::Nearest if categorical => Resampling::Mode,
            r => r,
        };
        let dtype = sources
            .iter()
            .map(|s| s.dtype)
            .reduce(promote)
            .unwrap_or(first.dtype);
        let (nodata, mask) = invalid_marker(sources, dtype);
        let photometric = if first.bands == 3 && sources.iter().all(|s| s.photometric_rgb) {
            Photometric::Rgb
        } else {
            Photometric::MinIsBlack
        };
        let predictor = if o.compression == Compression::None {
            Predictor::None
        } else {
            default_predictor(dtype)
        };
        Ok(Grid {
            footprint,
            max_zoom,
            min_zoom,
            groups: PyramidLayout::new(min_zoom, max_zoom).groups,
            dtype,
            bands: first.bands,
            nodata,
            mask,
            photometric,
            compression: o.compression,
            predictor,
            resampling,
            overview_resampling,
            palette,
        })
    }

    pub fn layout(&self) -> PyramidLayout {
        PyramidLayout {
            min_zoom: self.min_zoom,
            max_zoom: self.max_zoom,
            groups: self.groups.clone(),
        }
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
}

/// How invalid pixels are marked. A nodata value every source declares is kept as is.
/// Otherwise float layers use NaN (never a real measurement) and integer layers get an
/// internal mask, because any integer we picked could be a real value in some source. (A mask
/// rather than an alpha sample: for 8-bit RGB an alpha sample was a quarter of the bytes to
/// compress, and cost ~10% in size.)
fn invalid_marker(sources: &[SourceHeader], dtype: DataType) -> (Option<f64>, bool) {
    let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => false,
    };
    let first = sources.first().and_then(|s| s.nodata);
    let shared = sources.iter().all(|s| same(s.nodata, first));
    match first {
        Some(v) if shared => (Some(v), false),
        _ if dtype.is_float() => (Some(f64::NAN), false),
        _ => (None, true),
    }
}

/// The narrowest type that holds every value of both `a` and `b` (as numpy's `promote_types`,
/// without 64-bit integers, which tilefn does not store: they become float64).
pub fn promote(a: DataType, b: DataType) -> DataType {
    use DataType::*;
    if a == b {
        return a;
    }
    if a.is_float() || b.is_float() {
        let wide = |d: DataType| matches!(d, Float64 | Uint32 | Int32);
        return if wide(a) || wide(b) { Float64 } else { Float32 };
    }
    let (ua, ub) = (!a.is_signed(), !b.is_signed());
    if ua == ub {
        return if a.bits() >= b.bits() { a } else { b };
    }
    let (u, s) = if ua { (a, b) } else { (b, a) };
    if s.bits() > u.bits() {
        return s;
    }
    match u {
        Uint8 => Int16,
        Uint16 => Int32,
        _ => Float64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;

    #[test]
    fn promotion_holds_both_ranges() {
        assert_eq!(promote(Uint8, Uint16), Uint16);
        assert_eq!(promote(Uint8, Int8), Int16);
        assert_eq!(promote(Int16, Uint8), Int16);
        assert_eq!(promote(Uint16, Int16), Int32);
        assert_eq!(promote(Uint32, Int8), Float64);
        assert_eq!(promote(Int16, Float32), Float32);
        assert_eq!(promote(Int32, Float32), Float64);
        assert_eq!(promote(Float32, Float64), Float64);
        for (a, b) in [
            (Uint8, Int8),
            (Uint16, Int32),
            (Int16, Float32),
            (Uint32, Int16),
        ] {
            let p = promote(a, b);
            for d in [a, b] {
                let (lo, hi) = d.range();
                assert!(p.can_represent(lo) && p.can_represent(hi), "{p:?} {d:?}");
            }
        }
    }
}
