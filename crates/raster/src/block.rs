use crate::dtype::DataType;

/// A rectangle of pixels for every band, held as `f64` whatever the stored type.
///
/// `f64` represents every sample type we store exactly (32-bit integers included), so the
/// warp, pyramid and statistics code is written once rather than once per type. Values are
/// band-sequential: band `b` occupies `values[b * w * h .. (b + 1) * w * h]`. `valid` is one
/// flag per pixel: a pixel outside the source footprint, masked by the source's mask or
/// alpha, or equal to nodata in every band, is not valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub width: usize,
    pub height: usize,
    pub bands: usize,
    pub dtype: DataType,
    pub values: Vec<f64>,
    pub valid: Vec<bool>,
}

impl Block {
    /// An all-invalid block, filled with `fill` (the nodata value, or 0).
    pub fn empty(width: usize, height: usize, bands: usize, dtype: DataType, fill: f64) -> Block {
        let n = width * height;
        Block {
            width,
            height,
            bands,
            dtype,
            values: vec![fill; n * bands],
            valid: vec![false; n],
        }
    }

    pub fn pixels(&self) -> usize {
        self.width * self.height
    }

    pub fn band(&self, b: usize) -> &[f64] {
        let n = self.pixels();
        &self.values[b * n..(b + 1) * n]
    }

    pub fn band_mut(&mut self, b: usize) -> &mut [f64] {
        let n = self.pixels();
        &mut self.values[b * n..(b + 1) * n]
    }

    pub fn any_valid(&self) -> bool {
        self.valid.iter().any(|v| *v)
    }

    /// Pixel-interleaved little-endian bytes of the stored type (TIFF PlanarConfiguration 1),
    /// with invalid pixels written as `fill`, and an alpha sample (0 or max) appended per
    /// pixel when `alpha` is set.
    pub fn to_interleaved_le(&self, fill: f64, alpha: bool) -> Vec<u8> {
        // One monomorphised loop per type: this runs for every tile ingest writes, and a
        // per-sample `match` on the type plus `Vec::push` cost more than the conversion.
        match self.dtype {
            // `floor(v + 0.5)` through the saturating cast, as GDAL converts to bytes: the
            // same as `int` (halves away from zero, clamped, NaN 0) except for values within
            // an ulp below a half, and a third of the cost (measured on an RGB ingest).
            DataType::Uint8 => self.interleave(fill, alpha, |v| [(v + 0.5) as u8]),
            DataType::Int8 => {
                self.interleave(fill, alpha, |v| [(int(v, -128.0, 127.0) as i8) as u8])
            }
            DataType::Uint16 => {
                self.interleave(fill, alpha, |v| (int(v, 0.0, 65535.0) as u16).to_le_bytes())
            }
            DataType::Int16 => self.interleave(fill, alpha, |v| {
                (int(v, -32768.0, 32767.0) as i16).to_le_bytes()
            }),
            DataType::Uint32 => self.interleave(fill, alpha, |v| {
                (int(v, 0.0, f64::from(u32::MAX)) as u32).to_le_bytes()
            }),
            DataType::Int32 => self.interleave(fill, alpha, |v| {
                (int(v, f64::from(i32::MIN), f64::from(i32::MAX)) as i32).to_le_bytes()
            }),
            DataType::Float32 => self.interleave(fill, alpha, |v| (v as f32).to_le_bytes()),
            DataType::Float64 => self.interleave(fill, alpha, f64::to_le_bytes),
        }
    }

    fn interleave<const N: usize>(
        &self,
        fill: f64,
        alpha: bool,
        encode: impl Fn(f64) -> [u8; N],
    ) -> Vec<u8> {
        let n = self.pixels();
        let per_pixel = self.bands + usize::from(alpha);
        let mut out = vec![0u8; n * per_pixel * N];
        // GDAL's convention: an opaque alpha is the type's maximum (255 for uint8).
        let opaque = encode(if self.dtype.is_float() {
            1.0
        } else {
            self.dtype.range().1
        });
        let transparent = encode(0.0);
        let fill = encode(fill);
        let stride = per_pixel * N;
        // Band by band: each pass walks one band's values and the validity in step and
        // writes one sample slot per pixel (a per-pixel loop over the bands with indexed
        // reads was a seventh of an RGB ingest).
        for (b, band) in self
            .values
            .chunks_exact(n.max(1))
            .take(self.bands)
            .enumerate()
        {
            let at = b * N;
            for ((px, v), ok) in out.chunks_exact_mut(stride).zip(band).zip(&self.valid) {
                if let Some(dst) = px.get_mut(at..at + N) {
                    dst.copy_from_slice(&if *ok { encode(*v) } else { fill });
                }
            }
        }
        if alpha {
            let at = self.bands * N;
            for (px, ok) in out.chunks_exact_mut(stride).zip(&self.valid) {
                if let Some(dst) = px.get_mut(at..at + N) {
                    dst.copy_from_slice(if *ok { &opaque } else { &transparent });
                }
            }
        }
        out
    }
}

/// [`DataType::clamp`] for integer types: NaN is 0, otherwise rounded (half away from zero)
/// and clamped. Whole numbers, the common case after nearest resampling, skip `round`, which
/// is a libm call on baseline x86-64.
#[inline]
fn int(v: f64, lo: f64, hi: f64) -> f64 {
    if v.is_nan() {
        return 0.0;
    }
    let whole = crate::dtype::round(v);
    whole.clamp(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaves_with_fill_and_alpha() {
        let mut b = Block::empty(2, 1, 2, DataType::Uint8, 0.0);
        b.values = vec![1.0, 2.0, 10.0, 20.0];
        b.valid = vec![true, false];
        assert_eq!(b.to_interleaved_le(9.0, false), vec![1, 10, 9, 9]);
        assert_eq!(b.to_interleaved_le(0.0, true), vec![1, 10, 255, 0, 0, 0]);
        assert_eq!(b.band(1), &[10.0, 20.0]);
        // The same bytes as clamping and writing sample by sample, for every type.
        for dtype in [
            DataType::Uint8,
            DataType::Int8,
            DataType::Uint16,
            DataType::Int16,
            DataType::Uint32,
            DataType::Int32,
            DataType::Float32,
            DataType::Float64,
        ] {
            let vals = [
                -1e12,
                -70000.5,
                -2.5,
                -0.5,
                0.4,
                2.5,
                254.6,
                1e12,
                f64::NAN,
                3.0,
            ];
            let mut b = Block::empty(vals.len(), 1, 1, dtype, 0.0);
            b.values = vals.to_vec();
            b.valid = vec![true; vals.len()];
            let mut want = Vec::new();
            for v in vals {
                dtype.write_le(dtype.clamp(v), &mut want);
            }
            let got = b.to_interleaved_le(0.0, false);
            if dtype.is_float() {
                // NaN payloads aside, floats pass through.
                assert_eq!(got.len(), want.len());
            } else {
                assert_eq!(got, want, "{dtype:?}");
            }
        }
        assert!(b.any_valid());
    }
}
