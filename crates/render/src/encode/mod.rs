//! Image encoders: PNG (palette when it fits), JPEG, raw-value GeoTIFF, and elevations as
//! the RGB of MapLibre `raster-dem` tiles.

mod dem;
mod geotiff;
mod jpeg;
mod palette;
mod png;

pub use self::dem::{DemEncoding, encode_dem_png};
pub use self::geotiff::encode_geotiff;
pub use self::jpeg::encode_jpeg;
pub(crate) use self::png::encode_palette_png;
pub use self::png::encode_png;

use crate::Rgba;
use crate::error::RenderError;

/// Checks the buffer matches the dimensions before an encoder indexes it.
fn check_dims(img: &Rgba) -> Result<(), RenderError> {
    let want = img
        .width
        .checked_mul(img.height)
        .and_then(|n| n.checked_mul(4));
    if img.width == 0 || img.height == 0 || want != Some(img.pixels.len()) {
        return Err(RenderError::Encode(format!(
            "a {}x{} RGBA image needs {} bytes, got {}",
            img.width,
            img.height,
            want.map_or_else(|| "too many".to_owned(), |n| n.to_string()),
            img.pixels.len()
        )));
    }
    Ok(())
}
