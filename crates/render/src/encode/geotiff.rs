//! One tile's raw values as a georeferenced GeoTIFF: a one-level COG anchored at the tile,
//! which is exactly a 256x256 GeoTIFF with EPSG:3857 GeoKeys, tiepoint and pixel scale, and
//! GDAL_NODATA (see `tilefn_cog::write`).

use tilefn_cog::{
    CogSpec, Compression, Photometric, default_predictor, encode_response_tile, header,
};
use tilefn_raster::{Block, TILE_SIZE, TileCoord};

use crate::error::RenderError;

/// Encodes `block` (256x256, any band count and type) as a deflate-compressed GeoTIFF of
/// `tile`. Invalid pixels are written as `nodata`; without a nodata value, an alpha band
/// marks them instead (when there are any), so GDAL still sees the mask.
pub fn encode_geotiff(
    block: &Block,
    tile: TileCoord,
    nodata: Option<f64>,
) -> Result<Vec<u8>, RenderError> {
    let side = TILE_SIZE as usize;
    if block.width != side || block.height != side {
        return Err(RenderError::Encode(format!(
            "GeoTIFF tiles are {side}x{side}, got {}x{}",
            block.width, block.height
        )));
    }
    if block.values.len() != block.pixels() * block.bands || block.valid.len() != block.pixels() {
        return Err(RenderError::Encode(
            "block buffers do not match its size".into(),
        ));
    }
    let bands = u16::try_from(block.bands)
        .map_err(|_| RenderError::Encode(format!("{} bands", block.bands)))?;
    let alpha = nodata.is_none() && block.valid.iter().any(|v| !*v);
    let spec = CogSpec {
        anchor: tile,
        levels: 1,
        dtype: block.dtype,
        bands,
        alpha,
        mask: false,
        photometric: Photometric::MinIsBlack,
        compression: Compression::Deflate,
        predictor: default_predictor(block.dtype),
        nodata,
    };
    let err = |e: tilefn_cog::CogError| RenderError::Encode(format!("GeoTIFF: {e}"));
    let data = block.to_interleaved_le(nodata.unwrap_or(0.0), alpha);
    let tile_bytes = encode_response_tile(&spec, &data).map_err(err)?;
    let mut out = header(&spec, &[vec![tile_bytes.len() as u64]]).map_err(err)?;
    out.extend_from_slice(&tile_bytes);
    Ok(out)
}
