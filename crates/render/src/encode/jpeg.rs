//! JPEG encoding. JPEG has no alpha: pixels are composited over black, so transparent and
//! nodata pixels come out black (as django-raster documents).

use jpeg_encoder::{ColorType, Encoder};

use super::check_dims;
use crate::Rgba;
use crate::error::RenderError;

/// Encodes `img` as a baseline JPEG at `quality` (1..=100; 0 is taken as 1).
pub fn encode_jpeg(img: &Rgba, quality: u8) -> Result<Vec<u8>, RenderError> {
    check_dims(img)?;
    let w = u16::try_from(img.width).map_err(|_| RenderError::Encode("JPEG: too wide".into()))?;
    let h = u16::try_from(img.height).map_err(|_| RenderError::Encode("JPEG: too tall".into()))?;
    let rgb: Vec<u8> = img
        .pixels
        .chunks_exact(4)
        .flat_map(|p| {
            let a = u16::from(p[3]);
            // c * a / 255, rounded; at most 255, so the cast is exact.
            let over_black = |c: u8| ((u16::from(c) * a + 127) / 255) as u8;
            [over_black(p[0]), over_black(p[1]), over_black(p[2])]
        })
        .collect();
    let mut out = Vec::with_capacity(rgb.len() / 8);
    Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(&rgb, w, h, ColorType::Rgb)
        .map_err(|e| RenderError::Encode(format!("JPEG: {e}")))?;
    Ok(out)
}
