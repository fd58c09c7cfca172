//! A GeoTIFF of any Web-Mercator window (origin, pixel size, width x height), tiled 256 x
//! 256, with reduced-resolution levels until the coarsest fits one tile: the layout of a
//! COG, which `rio cogeo validate` accepts once the image passes 512 px. Exports use it;
//! unlike [`CogSpec`](super::CogSpec) the window need not be an XYZ tile, so its size is
//! arbitrary and edge tiles are partly padding (GDAL writes padding the same way).
//!
//! Sans-io like the rest of the writer: encode each tile with [`WindowSpec::tile_spec`]
//! (`encode_response_tile`, `encode_mask_tile`), then concatenate [`window_header`] and the
//! non-empty tiles in [`window_data_order`] (each mask tile right behind its image tile).

use tilefn_raster::DataType;
use tilefn_raster::mercator::TILE_SIZE;

use super::entries::{self, Image};
use super::{CogSpec, Compression, Photometric, Predictor};
use crate::CogError;
use tilefn_raster::TileCoord;

/// Most levels a window has: a 2^31-px side halves to one tile in 23 steps.
const MAX_WINDOW_LEVELS: usize = 24;

/// Everything about a window GeoTIFF except its pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    /// Full-resolution size in pixels, each `1..=2^31`.
    pub width: u32,
    pub height: u32,
    /// The top-left corner, EPSG:3857 metres.
    pub origin_x: f64,
    pub origin_y: f64,
    /// Pixel size in metres (square pixels).
    pub resolution: f64,
    pub dtype: DataType,
    pub bands: u16,
    /// A GDAL internal mask (1-bit IFD behind each level) marks the valid pixels.
    pub mask: bool,
    pub photometric: Photometric,
    pub compression: Compression,
    pub predictor: Predictor,
    pub nodata: Option<f64>,
}

impl WindowSpec {
    /// Number of levels: the full image, then halvings (rounded up) until both sides fit
    /// one tile, as GDAL's COG driver chooses them.
    pub fn levels(&self) -> usize {
        let mut n = 1;
        let (mut w, mut h) = (self.width, self.height);
        while (w > TILE_SIZE || h > TILE_SIZE) && n < MAX_WINDOW_LEVELS {
            w = w.div_ceil(2);
            h = h.div_ceil(2);
            n += 1;
        }
        n
    }

    /// Width and height of `level` (0 = full resolution).
    pub fn level_size(&self, level: usize) -> (u32, u32) {
        let shrink = |v: u32| (0..level).fold(v, |v, _| v.div_ceil(2));
        (shrink(self.width), shrink(self.height))
    }

    /// Tiles across and down `level`.
    pub fn level_tiles(&self, level: usize) -> (u32, u32) {
        let (w, h) = self.level_size(level);
        (w.div_ceil(TILE_SIZE), h.div_ceil(TILE_SIZE))
    }

    /// The per-tile encoding as a [`CogSpec`], for `encode_response_tile` and
    /// `encode_mask_tile` (which use only its sample layout and compression; the anchor
    /// means nothing here).
    pub fn tile_spec(&self) -> CogSpec {
        CogSpec {
            anchor: TileCoord::new(0, 0, 0),
            levels: 1,
            dtype: self.dtype,
            bands: self.bands,
            alpha: false,
            mask: self.mask,
            photometric: self.photometric,
            compression: self.compression,
            predictor: self.predictor,
            nodata: self.nodata,
        }
    }

    /// Checks the spec is writable and GDAL-readable.
    pub fn validate(&self) -> Result<(), CogError> {
        let usage = |m: String| Err(CogError::Usage(m));
        let side = 1..=(1u32 << 31);
        if !side.contains(&self.width) || !side.contains(&self.height) {
            return usage(format!("a {}x{} window", self.width, self.height));
        }
        let finite = [self.origin_x, self.origin_y, self.resolution];
        if !finite.iter().all(|v| v.is_finite()) || self.resolution <= 0.0 {
            return usage("origin and resolution must be finite, resolution > 0".into());
        }
        self.tile_spec().validate()
    }
}

/// The order tile data is stored in: coarsest level first, full resolution last,
/// row-major within each level. Entries are `(level, row * cols + col)`.
pub fn window_data_order(spec: &WindowSpec) -> Vec<(usize, usize)> {
    (0..spec.levels())
        .rev()
        .flat_map(|level| {
            let (c, r) = spec.level_tiles(level);
            (0..c as usize * r as usize).map(move |i| (level, i))
        })
        .collect()
}

/// The header of a window GeoTIFF: `tile_sizes[level][row * cols + col]` is each encoded
/// tile's byte length (0 = sparse), `mask_sizes` the same for mask tiles (empty without a
/// mask).
pub fn window_header(
    spec: &WindowSpec,
    tile_sizes: &[Vec<u64>],
    mask_sizes: &[Vec<u64>],
) -> Result<Vec<u8>, CogError> {
    spec.validate()?;
    let levels = spec.levels();
    check_shape(spec, tile_sizes, "tile_sizes")?;
    if spec.mask {
        check_shape(spec, mask_sizes, "mask_sizes")?;
    } else if !mask_sizes.is_empty() {
        return Err(CogError::Usage("mask sizes without a mask".into()));
    }
    let sizes: Vec<Vec<u64>> = (0..levels)
        .flat_map(|l| std::iter::once(&tile_sizes[l]).chain(mask_sizes.get(l)))
        .cloned()
        .collect();
    let dims: Vec<(u32, u32)> = (0..levels).map(|l| spec.level_size(l)).collect();
    let image = Image::of(&spec.tile_spec());
    let stride = 1 + usize::from(spec.mask);
    let order = window_data_order(spec);
    entries::assemble(&sizes, &order, stride, |offsets, sizes, big| {
        let georef = entries::georeferencing(spec.origin_x, spec.origin_y, spec.resolution);
        entries::ifds(&image, &dims, spec.mask, georef, offsets, sizes, big)
    })
}

fn check_shape(spec: &WindowSpec, sizes: &[Vec<u64>], what: &str) -> Result<(), CogError> {
    if sizes.len() != spec.levels() {
        return Err(CogError::Usage(format!(
            "{what} has {} levels, the window {}",
            sizes.len(),
            spec.levels()
        )));
    }
    for (level, s) in sizes.iter().enumerate() {
        let (c, r) = spec.level_tiles(level);
        if s.len() != c as usize * r as usize {
            return Err(CogError::Usage(format!(
                "level {level} needs {} {what}, got {}",
                c * r,
                s.len()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{Limits, decode_tile, parse_file};
    use crate::write::{default_predictor, encode_mask_tile, encode_response_tile};

    fn spec(width: u32, height: u32, mask: bool) -> WindowSpec {
        WindowSpec {
            width,
            height,
            origin_x: -1000.0,
            origin_y: 2000.0,
            resolution: 2.5,
            dtype: DataType::Int16,
            bands: 1,
            mask,
            photometric: Photometric::MinIsBlack,
            compression: Compression::Deflate,
            predictor: default_predictor(DataType::Int16),
            nodata: (!mask).then_some(-1.0),
        }
    }

    #[test]
    fn levels_halve_until_one_tile() {
        assert_eq!(spec(256, 100, false).levels(), 1);
        assert_eq!(spec(257, 1, false).levels(), 2);
        let s = spec(1000, 600, false);
        assert_eq!(s.levels(), 3);
        assert_eq!(s.level_size(1), (500, 300));
        assert_eq!(s.level_size(2), (250, 150));
        assert_eq!(s.level_tiles(0), (4, 3));
        assert_eq!(window_data_order(&s).first(), Some(&(2, 0)));
        assert_eq!(window_data_order(&s).last(), Some(&(0, 11)));
        assert!(spec(0, 5, false).validate().is_err());
    }

    /// Every level's tile decodes back, the georeferencing and mask IFDs are GDAL's.
    #[test]
    fn a_masked_window_reads_back() -> Result<(), CogError> {
        let s = spec(300, 20, true);
        let tile = s.tile_spec();
        let mut tiles = Vec::new();
        let mut masks = Vec::new();
        for level in 0..s.levels() {
            let (c, r) = s.level_tiles(level);
            let n = (c * r) as usize;
            let raw: Vec<u8> = (0..256 * 256u32)
                .flat_map(|i| (i as i16).to_le_bytes())
                .collect();
            let valid: Vec<bool> = (0..256 * 256).map(|i| i % 3 != 0).collect();
            tiles.push(vec![encode_response_tile(&tile, &raw)?; n]);
            masks.push(vec![encode_mask_tile(&tile, &valid)?; n]);
        }
        let size = |v: &Vec<Vec<Vec<u8>>>| -> Vec<Vec<u64>> {
            v.iter()
                .map(|l| l.iter().map(|t| t.len() as u64).collect())
                .collect()
        };
        let mut file = window_header(&s, &size(&tiles), &size(&masks))?;
        for (level, i) in window_data_order(&s) {
            file.extend_from_slice(&tiles[level][i]);
            file.extend_from_slice(&masks[level][i]);
        }
        let tiff = parse_file(&file, &Limits::default())?;
        assert_eq!(tiff.ifds.len(), 4);
        let ifd = &tiff.ifds[0];
        assert_eq!((ifd.width, ifd.height), (300, 20));
        assert_eq!(tiff.ifds[2].width, 150);
        assert!(tiff.ifds[1].is_mask() && tiff.ifds[3].is_mask());
        let range = ifd
            .tile_range(1, 0)
            .ok_or(CogError::Format("sparse".into()))?;
        let bytes = &file[range.start as usize..range.end as usize];
        let raw = decode_tile(&tiff, ifd, bytes, &Limits::default())?;
        assert_eq!(&raw[2..4], &1i16.to_le_bytes());
        Ok(())
    }
}
