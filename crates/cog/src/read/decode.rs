//! Tile decoding: decompress, undo the predictor, convert to little-endian, unpack sub-byte
//! samples. Output is always `tile_width * tile_height * samples` samples, pixel-interleaved.

use super::{Ifd, Limits, Tiff};
use crate::{CogError, codec, predictor};

/// Decodes one tile (or strip) of `ifd` from its compressed file bytes (`tile_range`).
///
/// Returns `tile_width * tile_height * samples` little-endian samples, pixel-interleaved.
/// Samples of 1, 2 or 4 bits (GDAL masks, palettes) are unpacked to one byte each with their
/// value unchanged (a GDAL mask gives 0 or 1); 16-bit floats stay float16 bits. Edge tiles
/// are full size, padded as the file stores them. A short last strip is zero-filled.
pub fn decode_tile(
    tiff: &Tiff,
    ifd: &Ifd,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<u8>, CogError> {
    let unsupported = |m: String| Err(CogError::Unsupported(m));
    if !ifd.uniform_samples {
        return unsupported("samples with different BitsPerSample or SampleFormat".into());
    }
    let bits = ifd.bits_per_sample;
    if !matches!(bits, 1 | 2 | 4 | 8 | 16 | 32 | 64) {
        return unsupported(format!("{bits}-bit samples"));
    }
    if matches!(ifd.sample_format, 5 | 6) {
        return unsupported("complex samples".into());
    }
    if ifd.planar_config == 2 && ifd.samples > 1 {
        return unsupported("PlanarConfiguration 2 (separate planes)".into());
    }
    if !matches!(
        ifd.compression,
        codec::NONE
            | codec::LZW
            | codec::DEFLATE
            | codec::DEFLATE_OLD
            | codec::PACKBITS
            | codec::ZSTD
    ) {
        return unsupported(codec::compression_name(ifd.compression));
    }
    let predictor = if codec::uses_predictor(ifd.compression) {
        ifd.predictor
    } else {
        1
    };
    let size = usize::from(bits).div_ceil(8);
    match predictor {
        1 => {}
        2 if bits >= 8 => {}
        3 if ifd.sample_format == 3 && matches!(bits, 16 | 32 | 64) => {}
        3 if ifd.sample_format != 3 => {
            return Err(CogError::Format(format!(
                "floating-point predictor on SampleFormat {}",
                ifd.sample_format
            )));
        }
        p => return unsupported(format!("Predictor {p} with {bits}-bit samples")),
    }

    // Sizes in u64 first: every factor comes from the file.
    let (w, h, spp) = (
        u64::from(ifd.tile_width),
        u64::from(ifd.tile_height),
        u64::from(ifd.samples),
    );
    let too_big = || {
        CogError::Limits(format!(
            "a {w}x{h} tile of {spp} x {bits}-bit samples is too large"
        ))
    };
    let row_bits = w
        .checked_mul(spp)
        .and_then(|v| v.checked_mul(u64::from(bits)))
        .ok_or_else(too_big)?;
    let row_bytes = row_bits.div_ceil(8);
    let packed = row_bytes.checked_mul(h).ok_or_else(too_big)?;
    // Unpacked output: at least one byte per sample.
    let out_len = w
        .checked_mul(h)
        .and_then(|v| v.checked_mul(spp))
        .and_then(|v| v.checked_mul(size as u64));
    let out_len = out_len.ok_or_else(too_big)?;
    if packed.max(out_len) > limits.max_tile_bytes {
        return Err(CogError::Limits(format!(
            "a {w}x{h} tile of {spp} x {bits}-bit samples decodes to {} bytes (limit {})",
            packed.max(out_len),
            limits.max_tile_bytes
        )));
    }
    let (Ok(row_bytes), Ok(packed)) = (usize::try_from(row_bytes), usize::try_from(packed)) else {
        return Err(too_big());
    };

    let mut buf = vec![0u8; packed];
    let got = codec::decompress_into(ifd.compression, bytes, &mut buf)?;
    if got < packed && ifd.tiled {
        return Err(CogError::Format(format!(
            "tile data decodes to {got} bytes, expected {packed}"
        )));
    }
    // A strip may be short: the last strip of an image often holds fewer rows. Zero-fill
    // (already done by the allocation) and only process the rows that arrived.
    let rows = if row_bytes == 0 {
        0
    } else {
        got.div_ceil(row_bytes)
    };
    let data = &mut buf[..(rows * row_bytes).min(packed)];
    let spp = usize::from(ifd.samples);
    match predictor {
        // The shuffled layout is byte-order independent and decodes to little-endian.
        3 => predictor::floating_point(data, row_bytes, spp, size, false),
        2 => {
            if !tiff.little_endian {
                predictor::swap_bytes(data, size);
            }
            predictor::horizontal(data, row_bytes, spp, size, false);
        }
        _ => {
            if !tiff.little_endian && bits > 8 {
                predictor::swap_bytes(data, size);
            }
        }
    }
    if bits < 8 {
        return Ok(unpack(&buf, row_bytes, ifd.tile_width as usize * spp, bits));
    }
    Ok(buf)
}

/// Expands rows of `bits`-bit samples (MSB first, rows padded to a byte) to one byte each.
fn unpack(buf: &[u8], row_bytes: usize, row_samples: usize, bits: u16) -> Vec<u8> {
    let bits = usize::from(bits);
    let mask = (1u16 << bits) - 1;
    let mut out = Vec::with_capacity(buf.len() * 8 / bits);
    for row in buf.chunks_exact(row_bytes.max(1)) {
        for i in 0..row_samples {
            let bit = i * bits;
            let byte = row.get(bit / 8).copied().unwrap_or(0);
            let shift = 8 - bits - bit % 8;
            out.push(((u16::from(byte) >> shift) & mask) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_bits() {
        assert_eq!(
            unpack(&[0b1010_0000, 0b1100_0000], 1, 3, 1),
            vec![1, 0, 1, 1, 1, 0]
        );
        assert_eq!(unpack(&[0b1101_0010], 1, 2, 4), vec![13, 2]);
        assert_eq!(unpack(&[0b1110_0100], 1, 4, 2), vec![3, 2, 1, 0]);
    }
}
