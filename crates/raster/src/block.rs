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
        let n = self.pixels();
        let per_pixel = self.bands + usize::from(alpha);
        let mut out = Vec::with_capacity(n * per_pixel * self.dtype.size());
        // GDAL's convention: an opaque alpha is the type's maximum (255 for uint8).
        let opaque = if self.dtype.is_float() {
            1.0
        } else {
            self.dtype.range().1
        };
        for i in 0..n {
            let ok = self.valid[i];
            for b in 0..self.bands {
                let v = if ok { self.values[b * n + i] } else { fill };
                self.dtype.write_le(self.dtype.clamp(v), &mut out);
            }
            if alpha {
                self.dtype.write_le(if ok { opaque } else { 0.0 }, &mut out);
            }
        }
        out
    }
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
        assert!(b.any_valid());
    }
}
