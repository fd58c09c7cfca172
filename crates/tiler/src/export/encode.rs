//! A stitched [`RawCanvas`] → a GeoTIFF of the window (EPSG:3857), through `tilefn-cog`'s
//! window writer: 256 x 256 tiles, overviews halving to one tile, tiles without a valid
//! pixel left sparse. Validity is the layer's nodata value, or a GDAL internal mask for
//! layers without one (integer layers ingest masked): what GDAL, rasterio and QGIS read as
//! validity, and a bit a pixel rather than the alpha band's byte.

use tilefn_cog::write::{
    Compression, Photometric, WindowSpec, default_predictor, encode_mask_tile,
    encode_response_tile, window_data_order, window_header,
};
use tilefn_raster::{DataType, TILE_SIZE};

use super::plan::Window;
use super::raw::RawCanvas;
use crate::TileError;

const TS: usize = TILE_SIZE as usize;

/// Encodes `canvas` (the full-resolution window) as a tiled GeoTIFF with overviews.
pub fn encode_tiff(
    canvas: RawCanvas,
    window: &Window,
    categorical: bool,
    nodata: Option<f64>,
) -> Result<Vec<u8>, TileError> {
    let err = |e: tilefn_cog::CogError| TileError::Render(format!("export GeoTIFF: {e}"));
    let size =
        |v: usize| u32::try_from(v).map_err(|_| TileError::Render("export too large".into()));
    let (x, y) = window.origin();
    let spec = WindowSpec {
        width: size(canvas.width)?,
        height: size(canvas.height)?,
        origin_x: x,
        origin_y: y,
        resolution: window.resolution(),
        dtype: canvas.dtype,
        bands: u16::try_from(canvas.bands)
            .map_err(|_| TileError::Render(format!("{} bands", canvas.bands)))?,
        mask: nodata.is_none(),
        photometric: if canvas.dtype == DataType::Uint8 && canvas.bands >= 3 {
            Photometric::Rgb
        } else {
            Photometric::MinIsBlack
        },
        compression: Compression::Deflate,
        predictor: default_predictor(canvas.dtype),
        nodata,
    };
    spec.validate().map_err(err)?;
    let tile_spec = spec.tile_spec();
    let (mut tiles, mut masks) = (Vec::new(), Vec::new());
    let mut level = canvas;
    for l in 0..spec.levels() {
        // The next overview is built first; then each strip of this level is freed once
        // its tiles are compressed, so raw pixels shrink as the file grows.
        let next = (l + 1 < spec.levels()).then(|| level.reduce(categorical));
        let (cols, rows) = spec.level_tiles(l);
        let (mut encoded, mut encoded_masks) = (Vec::new(), Vec::new());
        for r in 0..rows as usize {
            for c in 0..cols as usize {
                let Some((bytes, valid)) = level.tile(c, r) else {
                    encoded.push(Vec::new());
                    encoded_masks.push(Vec::new());
                    continue;
                };
                debug_assert_eq!(valid.len(), TS * TS);
                encoded.push(encode_response_tile(&tile_spec, &bytes).map_err(err)?);
                encoded_masks.push(if spec.mask {
                    encode_mask_tile(&tile_spec, &valid).map_err(err)?
                } else {
                    Vec::new()
                });
            }
            level.free_strip(r);
        }
        tiles.push(encoded);
        masks.push(encoded_masks);
        match next {
            Some(n) => level = n,
            None => break,
        }
    }
    let lengths = |v: &[Vec<Vec<u8>>]| -> Vec<Vec<u64>> {
        v.iter()
            .map(|l| l.iter().map(|t| t.len() as u64).collect())
            .collect()
    };
    let mask_sizes = if spec.mask {
        lengths(&masks)
    } else {
        Vec::new()
    };
    let mut out = window_header(&spec, &lengths(&tiles), &mask_sizes).map_err(err)?;
    let total: usize = tiles.iter().chain(&masks).flatten().map(Vec::len).sum();
    out.reserve_exact(total);
    for (l, i) in window_data_order(&spec) {
        for part in [&mut tiles, &mut masks] {
            // Taken, so each tile's memory is freed as the file takes its copy.
            if let Some(bytes) = part.get_mut(l).and_then(|level| level.get_mut(i)) {
                out.extend_from_slice(&std::mem::take(bytes));
            }
        }
    }
    Ok(out)
}
