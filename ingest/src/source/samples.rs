//! Decoded chunk samples in their stored type (a cache of f64 would be 8x larger for bytes).

use tiff::decoder::DecodingResult;

use tilefn_raster::DataType;

use super::error::SourceError;

#[derive(Debug)]
pub(super) enum Samples {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// One decoded strip or tile: rows of `width` pixels of `spp` interleaved samples (one
/// sample for a plane of a planar image), clipped to the image.
#[derive(Debug)]
pub(super) struct Chunk {
    pub width: usize,
    pub spp: usize,
    pub data: Samples,
    /// Per-pixel validity carried by the codec (LERC's mask); `None`: all valid.
    pub valid: Option<Vec<bool>>,
}

impl Chunk {
    /// Memory held, for the cache's byte bound.
    pub fn bytes(&self) -> usize {
        self.data.bytes() + self.valid.as_ref().map_or(0, Vec::len)
    }
}

macro_rules! each {
    ($s:expr, $v:ident => $e:expr) => {
        match $s {
            Samples::U8($v) => $e,
            Samples::I8($v) => $e,
            Samples::U16($v) => $e,
            Samples::I16($v) => $e,
            Samples::U32($v) => $e,
            Samples::I32($v) => $e,
            Samples::F32($v) => $e,
            Samples::F64($v) => $e,
        }
    };
}

impl Samples {
    pub fn len(&self) -> usize {
        each!(self, v => v.len())
    }

    pub fn bytes(&self) -> usize {
        each!(self, v => std::mem::size_of_val(v.as_slice()))
    }

    /// Copies `dst.len()` samples starting at `start`, `step` apart, into `dst` as f64.
    #[allow(clippy::useless_conversion)] // the macro arm for f64 converts f64 to itself
    pub fn extract(&self, start: usize, step: usize, dst: &mut [f64]) {
        each!(self, v => {
            for (d, s) in dst.iter_mut().zip(v.iter().skip(start).step_by(step.max(1))) {
                *d = f64::from(*s);
            }
        })
    }
}

/// How to turn what the `tiff` crate decodes into samples.
#[derive(Debug, Clone, Copy)]
pub(super) struct Conversion {
    /// Bits per sample in the file (1, 2 and 4 are unpacked to one byte per sample).
    pub bits: u8,
    /// Convert JPEG-decoded YCbCr to RGB (the JPEG codec hands back raw YCbCr).
    pub ycbcr: bool,
}

/// Converts one decoded chunk of `width x height` pixels with `spp` samples each.
pub(super) fn convert(
    r: DecodingResult,
    width: usize,
    height: usize,
    spp: usize,
    conv: Conversion,
    what: &str,
) -> Result<Samples, SourceError> {
    let mut s = match r {
        DecodingResult::U8(v) if conv.bits < 8 => {
            Samples::U8(unpack(&v, width * spp, height, conv.bits))
        }
        DecodingResult::U8(v) => Samples::U8(v),
        DecodingResult::I8(v) => Samples::I8(v),
        DecodingResult::U16(v) => Samples::U16(v),
        DecodingResult::I16(v) => Samples::I16(v),
        DecodingResult::U32(v) => Samples::U32(v),
        DecodingResult::I32(v) => Samples::I32(v),
        // GDAL promotes half floats to float32; every f16 is exact in f32.
        DecodingResult::F16(v) => Samples::F32(v.iter().map(|h| h.to_f32()).collect()),
        DecodingResult::F32(v) => Samples::F32(v),
        DecodingResult::F64(v) => Samples::F64(v),
        DecodingResult::U64(_) | DecodingResult::I64(_) => {
            return Err(SourceError::Unsupported(
                "64-bit integer samples are not supported".into(),
            ));
        }
    };
    let want = width * height * spp;
    if s.len() < want {
        return Err(SourceError::Corrupt(format!(
            "{what} decodes to {} samples instead of {want}",
            s.len()
        )));
    }
    if conv.ycbcr
        && let Samples::U8(v) = &mut s
    {
        ycbcr_to_rgb(&mut v[..want], spp);
    }
    Ok(s)
}

/// Samples of `dtype` from raw uncompressed bytes in the file's byte order.
pub(super) fn from_bytes(b: &[u8], dtype: DataType, little: bool) -> Samples {
    macro_rules! read {
        ($t:ty, $n:expr) => {
            b.chunks_exact($n)
                .map(|c| {
                    let mut a = [0u8; $n];
                    a.copy_from_slice(c);
                    if little {
                        <$t>::from_le_bytes(a)
                    } else {
                        <$t>::from_be_bytes(a)
                    }
                })
                .collect()
        };
    }
    match dtype {
        DataType::Uint8 => Samples::U8(b.to_vec()),
        DataType::Int8 => Samples::I8(b.iter().map(|v| *v as i8).collect()),
        DataType::Uint16 => Samples::U16(read!(u16, 2)),
        DataType::Int16 => Samples::I16(read!(i16, 2)),
        DataType::Uint32 => Samples::U32(read!(u32, 4)),
        DataType::Int32 => Samples::I32(read!(i32, 4)),
        DataType::Float32 => Samples::F32(read!(f32, 4)),
        DataType::Float64 => Samples::F64(read!(f64, 8)),
    }
}

/// The top-left `w x h` pixels of rows `stored_w` pixels wide (an edge tile's data part).
pub(super) fn crop<T: Copy>(v: &[T], stored_w: usize, spp: usize, w: usize, h: usize) -> Vec<T> {
    if stored_w == w {
        return v.iter().take(w * h * spp).copied().collect();
    }
    v.chunks(stored_w * spp)
        .take(h)
        .flat_map(|row| row.iter().take(w * spp).copied())
        .collect()
}

/// `crop` for every sample type.
pub(super) fn crop_samples(s: Samples, stored_w: usize, spp: usize, w: usize, h: usize) -> Samples {
    macro_rules! c {
        ($($v:ident),*) => {
            match s {
                $(Samples::$v(v) => Samples::$v(crop(&v, stored_w, spp, w, h)),)*
            }
        };
    }
    c!(U8, I8, U16, I16, U32, I32, F32, F64)
}

/// Unpacks `rows` rows of `per_row` samples of `bits` bits (MSB first, rows byte-aligned).
fn unpack(packed: &[u8], per_row: usize, rows: usize, bits: u8) -> Vec<u8> {
    let bits = usize::from(bits.clamp(1, 8));
    let row_bytes = (per_row * bits).div_ceil(8);
    let mask = (1u16 << bits) - 1;
    let mut out = Vec::with_capacity(per_row * rows);
    for r in 0..rows {
        let row = packed.get(r * row_bytes..).unwrap_or_default();
        for i in 0..per_row {
            let bit = i * bits;
            // Two bytes, so samples of any width up to 8 bits may straddle a byte boundary.
            let hi = u16::from(row.get(bit / 8).copied().unwrap_or(0));
            let lo = u16::from(row.get(bit / 8 + 1).copied().unwrap_or(0));
            out.push((((hi << 8 | lo) >> (16 - bits - bit % 8)) & mask) as u8);
        }
    }
    out
}

/// JFIF YCbCr → RGB in place (what libjpeg does for GDAL's JPEGCOLORMODE=RGB).
fn ycbcr_to_rgb(v: &mut [u8], spp: usize) {
    if spp < 3 {
        return;
    }
    for px in v.chunks_exact_mut(spp) {
        let (y, cb, cr) = (
            f64::from(px[0]),
            f64::from(px[1]) - 128.0,
            f64::from(px[2]) - 128.0,
        );
        let c = |x: f64| x.round().clamp(0.0, 255.0) as u8;
        px[0] = c(y + 1.402 * cr);
        px[1] = c(y - 0.344_136 * cb - 0.714_136 * cr);
        px[2] = c(y + 1.772 * cb);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_bits_and_extracts() {
        assert_eq!(
            unpack(&[0b1010_0000, 0b0100_0000], 3, 2, 1),
            vec![1, 0, 1, 0, 1, 0]
        );
        assert_eq!(unpack(&[0xAB], 2, 1, 4), vec![0xA, 0xB]);
        assert_eq!(unpack(&[0b1010_1100, 0b0100_0000], 3, 1, 3), vec![5, 3, 0]);
        let be = from_bytes(&[1, 2, 3, 4], DataType::Uint16, false);
        assert!(matches!(be, Samples::U16(v) if v == vec![0x0102, 0x0304]));
        let s = Samples::I16(vec![1, -2, 3, -4]);
        let mut d = [0.0; 2];
        s.extract(1, 2, &mut d);
        assert_eq!(d, [-2.0, -4.0]);
        let mut px = [128u8, 128, 128];
        ycbcr_to_rgb(&mut px, 3);
        assert_eq!(px, [128, 128, 128]);
    }
}
