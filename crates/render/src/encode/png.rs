//! PNG encoding, picking the smallest colour type that holds the image: a palette (with
//! tRNS, packed to 1/2/4 bits when few colours) for at most 256 colours; else grey or
//! grey+alpha when every pixel is grey (a grey stretch with nodata has 257 colours); else
//! RGB when opaque, else RGBA.
//!
//! Compression was measured on 256x256 tiles of a float32 DEM (viridis, grey and terrain
//! stretches; full and nodata-edge tiles) and a three-class formula legend, against GDAL's
//! PNG driver at its default zlib level 6 writing the same RGBA (what TiTiler serves).
//! Bytes, ours / GDAL's (png 0.18; fdeflate = `Compression::Fast`, zlib 6 = `Balanced`):
//!
//! | tile | kind | fdeflate | zlib 2 | zlib 6 | GDAL |
//! |---|---|---|---|---|---|
//! | viridis full | palette | 40 633 | 35 988 | 35 378 | 65 906 |
//! | viridis edge | palette | 34 411 | 30 538 | 29 985 | 54 871 |
//! | grey full | grey+alpha | 32 265 | 32 432 | | 42 257 |
//! | grey edge | grey+alpha | 27 115 | 27 233 | | 35 226 |
//! | terrain full | RGBA | 86 875 | 65 750 | 62 345 | 67 478 |
//! | terrain edge | RGBA | 72 497 | 54 949 | 52 041 | 56 080 |
//! | classes full | 2-bit palette | 3 027 | 2 375 | 2 078 | 3 852 |
//!
//! fdeflate encodes in ~0.3 ms, zlib 2 in ~1.5 ms and zlib 6 in 3-10 ms (a loaded 2-core
//! machine). So palette and grey images use fdeflate (already smaller than GDAL's), and
//! RGB/RGBA use zlib level 2, the fastest level no larger than GDAL's on every tile.

use ::png::{BitDepth, ColorType, DeflateCompression, Encoder, Filter};

use super::check_dims;
use super::palette::palettize;
use crate::Rgba;
use crate::error::RenderError;

/// DEFLATE and row-filter settings.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    pub(super) deflate: DeflateCompression,
    pub(super) filter: Filter,
}

/// Palette and grey images: fdeflate. On every tile measured it already beats GDAL's
/// level-6 RGBA, since these carry a quarter (or half) of the bytes. The adaptive row filter
/// stays even for palette images (where the PNG spec suggests none): on the DEM and NDVI
/// benchmark tiles "none" made them 2.8x and 4.8x larger and "sub" 1.1x and 1.5x.
const FAST: Settings = Settings {
    deflate: DeflateCompression::FdeflateUltraFast,
    filter: Filter::Adaptive,
};

/// Palette images of table styles (grey and named colormaps, [`encode_palette_png`]):
/// fdeflate and the Paeth filter on every row. Their palettes are in table order
/// (`indexed`), so indices follow the values and Paeth predicts them about as well as the
/// adaptive choice: on the benchmark tiles (bench/wasm/run.mjs, 152 DEM and 152
/// NDVI tiles) 1.002x the bytes, where "up" gave 1.10x/1.22x and "sub" 1.17x/1.69x; on the
/// synthetic tiles of tests/paint_png.rs up to 1.11x (a NaN every 7th pixel) and 1.05x (a
/// clamped sawtooth), still below the first-appearance palette's bytes or within 256 of
/// them. The adaptive filter tries four filters per row; in the Worker (V8) that was
/// ~0.12 ms of a DEM tile's ~0.88 ms of Rust time (natively the difference was noise).
const TABLE_PALETTE: Settings = Settings {
    deflate: DeflateCompression::FdeflateUltraFast,
    filter: Filter::Paeth,
};

/// RGB and RGBA (more than 256 colours): zlib level 2, the fastest level that stays no
/// larger than GDAL's level 6 on every tile measured (fdeflate was up to 35% larger).
const SMALL: Settings = Settings {
    deflate: DeflateCompression::Level(2),
    filter: Filter::Adaptive,
};

/// Encodes `img` as the smallest fitting PNG kind (palette, RGB or RGBA).
pub fn encode_png(img: &Rgba) -> Result<Vec<u8>, RenderError> {
    check_dims(img)?;
    let (w, h) = dimensions(img.width, img.height)?;
    if let Some((palette, indices)) = palettize(&img.pixels) {
        return encode_indexed(w, h, &palette, &indices, FAST);
    }
    // Too many colours for a palette: the smallest direct colour type that holds them. (An
    // opaque grey image has at most 256 colours, so grey here always needs its alpha.)
    let opaque = img.pixels.chunks_exact(4).all(|p| p[3] == 255);
    let grey = img
        .pixels
        .chunks_exact(4)
        .all(|p| p[0] == p[1] && p[1] == p[2]);
    let (color, data): (ColorType, Vec<u8>) = match (grey, opaque) {
        (true, _) => (
            ColorType::GrayscaleAlpha,
            img.pixels
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[3]])
                .collect(),
        ),
        (false, true) => (
            ColorType::Rgb,
            img.pixels
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect(),
        ),
        (false, false) => (ColorType::Rgba, img.pixels.clone()),
    };
    encode_raw(w, h, color, &data, if grey { FAST } else { SMALL })
}

/// Encodes a palette image given directly as colours and one index per pixel (row-major,
/// `width * height` of them), for styles that paint through a table
/// ([`crate::Style::paint_png`]), skipping the RGBA image and the colour counting. Its
/// palette is in table order, so it takes [`TABLE_PALETTE`] (Paeth rows) rather than the
/// adaptive filter [`encode_png`] gives first-appearance palettes.
pub(crate) fn encode_palette_png(
    width: usize,
    height: usize,
    palette: &[[u8; 4]],
    indices: &[u8],
) -> Result<Vec<u8>, RenderError> {
    let ok = width > 0
        && height > 0
        && (1..=256).contains(&palette.len())
        && width.checked_mul(height) == Some(indices.len())
        && indices
            .iter()
            .copied()
            .max()
            .is_none_or(|i| usize::from(i) < palette.len());
    if !ok {
        return Err(RenderError::Encode(format!(
            "a {width}x{height} palette image with {} colours and {} indices",
            palette.len(),
            indices.len()
        )));
    }
    let (w, h) = dimensions(width, height)?;
    encode_indexed(w, h, palette, indices, TABLE_PALETTE)
}

/// A PNG's width and height (`u32` in its header).
pub(super) fn dimensions(width: usize, height: usize) -> Result<(u32, u32), RenderError> {
    let w = u32::try_from(width).map_err(|_| RenderError::Encode("image too wide".into()))?;
    let h = u32::try_from(height).map_err(|_| RenderError::Encode("image too tall".into()))?;
    Ok((w, h))
}

fn encode_raw(
    w: u32,
    h: u32,
    color: ColorType,
    data: &[u8],
    compression: Settings,
) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::with_capacity(data.len() / 4);
    write(encoder(&mut out, w, h, color, compression), data)?;
    Ok(out)
}

/// An encoder of 8-bit `color` pixels with `compression`; its header is not written yet.
pub(super) fn encoder<W: std::io::Write>(
    out: W,
    w: u32,
    h: u32,
    color: ColorType,
    compression: Settings,
) -> Encoder<'static, W> {
    let mut enc = Encoder::new(out, w, h);
    enc.set_color(color);
    enc.set_depth(BitDepth::Eight);
    enc.set_deflate_compression(compression.deflate);
    enc.set_filter(compression.filter);
    enc
}

fn encode_indexed(
    w: u32,
    h: u32,
    palette: &[[u8; 4]],
    indices: &[u8],
    compression: Settings,
) -> Result<Vec<u8>, RenderError> {
    let (depth, bits) = match palette.len() {
        0..=2 => (BitDepth::One, 1),
        3..=4 => (BitDepth::Two, 2),
        5..=16 => (BitDepth::Four, 4),
        _ => (BitDepth::Eight, 8),
    };
    let packed = pack(indices, w as usize, bits);
    let rgb: Vec<u8> = palette.iter().flat_map(|c| [c[0], c[1], c[2]]).collect();
    // tRNS lists alpha up to the last non-opaque entry; later entries default to opaque.
    let trns_len = palette
        .iter()
        .rposition(|c| c[3] != 255)
        .map_or(0, |i| i + 1);
    let trns: Vec<u8> = palette.iter().take(trns_len).map(|c| c[3]).collect();
    let mut out = Vec::with_capacity(packed.len() / 2 + 1024);
    let mut enc = Encoder::new(&mut out, w, h);
    enc.set_color(ColorType::Indexed);
    enc.set_depth(depth);
    enc.set_palette(rgb);
    if !trns.is_empty() {
        enc.set_trns(trns);
    }
    enc.set_deflate_compression(compression.deflate);
    enc.set_filter(compression.filter);
    write(enc, &packed)?;
    Ok(out)
}

/// Packs 8-bit indices into `bits`-bit samples, MSB first, each row padded to a byte.
fn pack(indices: &[u8], width: usize, bits: usize) -> Vec<u8> {
    if bits == 8 {
        return indices.to_vec();
    }
    let per_byte = 8 / bits;
    let row_bytes = width.div_ceil(per_byte);
    let mut out = Vec::with_capacity(row_bytes * indices.len() / width.max(1));
    for row in indices.chunks(width.max(1)) {
        for group in row.chunks(per_byte) {
            let mut byte = 0u8;
            for (j, v) in group.iter().enumerate() {
                byte |= v << (8 - bits * (j + 1));
            }
            out.push(byte);
        }
    }
    out
}

fn write<W: std::io::Write>(enc: Encoder<'_, W>, data: &[u8]) -> Result<(), RenderError> {
    let err = |e: ::png::EncodingError| RenderError::Encode(format!("PNG: {e}"));
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(data).map_err(err)?;
    writer.finish().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_msb_first_with_row_padding() {
        assert_eq!(pack(&[1, 0, 1, 1, 0], 5, 1), vec![0b1011_0000]);
        assert_eq!(
            pack(&[3, 2, 1, 0, 3, 3, 3, 3], 4, 2),
            vec![0b1110_0100, 0xFF]
        );
        assert_eq!(pack(&[0xA, 0x5, 0xF], 3, 4), vec![0xA5, 0xF0]);
    }
}
