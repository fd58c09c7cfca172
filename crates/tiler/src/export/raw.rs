//! [`RawCanvas`]: a GeoTIFF export's pixels as the layer's own samples, held in strips of
//! 256 rows (one row of output tiles each).
//!
//! Raw samples rather than `f64`: a 4096² float32 window is 64 MiB, where `Block`'s `f64`
//! would be 128 MiB per band, the whole Worker isolate. Strips so memory falls while the
//! file is encoded: each strip is freed once its tiles are compressed (and the next
//! overview built), so the raw pixels and the compressed file are never both whole.

use tilefn_raster::{Block, DataType, TILE_SIZE};

use super::stitch::Overlap;

const TS: usize = TILE_SIZE as usize;

/// 256 rows (fewer in the last strip) of pixel-interleaved little-endian samples and one
/// validity flag a pixel; empty until first written (all invalid) and once freed.
#[derive(Debug, Clone, Default, PartialEq)]
struct Strip {
    bytes: Vec<u8>,
    valid: Vec<bool>,
    freed: bool,
}

/// A window of raw samples of `dtype`; invalid pixels hold `fill`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCanvas {
    pub width: usize,
    pub height: usize,
    pub bands: usize,
    pub dtype: DataType,
    /// The bytes of one invalid pixel (the nodata value in every band, or zeros).
    pub fill: Vec<u8>,
    strips: Vec<Strip>,
}

impl RawCanvas {
    /// An all-invalid canvas; `fill` is the nodata value (or 0 with a mask).
    pub fn new(width: usize, height: usize, bands: usize, dtype: DataType, fill: f64) -> Self {
        let mut px = Vec::with_capacity(bands * dtype.size());
        for _ in 0..bands {
            dtype.write_le(dtype.clamp(fill), &mut px);
        }
        // Strips are allocated when first written (as tile rows arrive), not here.
        let strips = vec![Strip::default(); height.div_ceil(TS)];
        RawCanvas {
            width,
            height,
            bands,
            dtype,
            fill: px,
            strips,
        }
    }

    /// Bytes of one pixel.
    pub fn pixel_bytes(&self) -> usize {
        self.fill.len()
    }

    /// The strip holding row `y` (allocated, all invalid, on first use; `None` once
    /// freed) and the index of the row's first pixel in it.
    fn locate(&mut self, y: usize) -> Option<(&mut Strip, usize)> {
        self.locate_with_fill(y).map(|(strip, at, _)| (strip, at))
    }

    /// [`locate`](Self::locate), also lending the fill bytes (a disjoint borrow).
    fn locate_with_fill(&mut self, y: usize) -> Option<(&mut Strip, usize, &[u8])> {
        let (width, rows) = (self.width, self.strip_rows(y / TS));
        let strip = self.strips.get_mut(y / TS).filter(|s| !s.freed)?;
        if strip.valid.is_empty() {
            strip.bytes = self.fill.repeat(width * rows);
            strip.valid = vec![false; width * rows];
        }
        Some((strip, (y % TS) * width, &self.fill))
    }

    /// Copies the part of a stored tile's block under the window. A block of the wrong
    /// shape or band count (never produced by the reader) is skipped.
    pub fn paste(&mut self, o: Overlap, block: &Block) {
        if block.width != TS || block.height != TS || block.bands != self.bands {
            log::warn!("export: a {}x{} block skipped", block.width, block.height);
            return;
        }
        let fill = self.dtype.read_le(&self.fill).unwrap_or(0.0);
        let tile = block.to_interleaved_le(fill, false);
        let px = self.pixel_bytes();
        for row in 0..o.h {
            let s = (o.src_y + row) * TS + o.src_x;
            let Some((strip, at)) = self.locate(o.dst_y + row) else {
                continue;
            };
            let d = at + o.dst_x;
            let src = tile.get(s * px..(s + o.w) * px);
            let dst = strip.bytes.get_mut(d * px..(d + o.w) * px);
            if let (Some(src), Some(dst)) = (src, dst) {
                dst.copy_from_slice(src);
            }
            let src = block.valid.get(s..s + o.w);
            if let (Some(src), Some(dst)) = (src, strip.valid.get_mut(d..d + o.w)) {
                dst.copy_from_slice(src);
            }
        }
    }

    /// Makes pixel (`x`, `y`) invalid, holding `fill`: outside a POSTed polygon.
    pub fn clear(&mut self, x: usize, y: usize) {
        let (px, width) = (self.pixel_bytes(), self.width);
        if let (true, Some((strip, at, fill))) = (x < width, self.locate_with_fill(y)) {
            let p = at + x;
            if let Some(v) = strip.valid.get_mut(p) {
                *v = false;
            }
            if let Some(dst) = strip.bytes.get_mut(p * px..(p + 1) * px) {
                dst.copy_from_slice(fill);
            }
        }
    }

    /// One 256x256 tile of the canvas (column `c`, row `r`), padded with `fill` and
    /// invalid pixels past the edges: `(samples, validity)`, or `None` when no pixel of it
    /// is valid (written sparse) or its strip was freed.
    pub fn tile(&self, c: usize, r: usize) -> Option<(Vec<u8>, Vec<bool>)> {
        let strip = self.strips.get(r)?;
        let px = self.pixel_bytes();
        let x0 = c * TS;
        let w = self.width.saturating_sub(x0).min(TS);
        let h = strip.valid.len() / self.width.max(1);
        let mut valid = vec![false; TS * TS];
        let mut any = false;
        for row in 0..h {
            let s = row * self.width + x0;
            if let (Some(src), Some(dst)) = (
                strip.valid.get(s..s + w),
                valid.get_mut(row * TS..row * TS + w),
            ) {
                dst.copy_from_slice(src);
                any |= src.iter().any(|v| *v);
            }
        }
        if !any {
            return None;
        }
        let mut bytes = self.fill.repeat(TS * TS);
        for row in 0..h {
            let s = row * self.width + x0;
            let d = row * TS;
            if let (Some(src), Some(dst)) = (
                strip.bytes.get(s * px..(s + w) * px),
                bytes.get_mut(d * px..(d + w) * px),
            ) {
                dst.copy_from_slice(src);
            }
        }
        Some((bytes, valid))
    }

    /// Frees strip `r` (its tiles are encoded).
    pub fn free_strip(&mut self, r: usize) {
        if let Some(s) = self.strips.get_mut(r) {
            *s = Strip {
                freed: true,
                ..Strip::default()
            };
        }
    }

    /// Whether pixel (`x`, `y`) is valid.
    pub fn is_valid(&self, x: usize, y: usize) -> bool {
        let (s, at) = (y / TS, (y % TS) * self.width + x);
        x < self.width
            && self
                .strips
                .get(s)
                .and_then(|s| s.valid.get(at))
                .is_some_and(|v| *v)
    }

    /// Band `band` of pixel (`x`, `y`), 0 when out of range.
    pub fn sample(&self, x: usize, y: usize, band: usize) -> f64 {
        let size = self.dtype.size();
        let at = ((y % TS) * self.width + x) * self.pixel_bytes() + band * size;
        self.strips
            .get(y / TS)
            .and_then(|s| s.bytes.get(at..at + size))
            .and_then(|b| self.dtype.read_le(b))
            .unwrap_or(0.0)
    }

    /// An all-invalid canvas for the next overview of this one (half the size, rounded up).
    pub fn overview(&self) -> RawCanvas {
        let fill = self.dtype.read_le(&self.fill).unwrap_or(0.0);
        RawCanvas::new(
            self.width.div_ceil(2),
            self.height.div_ceil(2),
            self.bands,
            self.dtype,
            fill,
        )
    }

    /// The whole next overview (see [`RawCanvas::reduce_rows`]).
    pub fn reduce(&self, categorical: bool) -> RawCanvas {
        let mut out = self.overview();
        self.reduce_rows(0..out.height, &mut out, categorical);
        out
    }

    /// Fills rows `rows` of `out`, this canvas's [`overview`](Self::overview): each pixel
    /// from the valid pixels of its 2x2 footprint (rounded up at odd edges). Continuous
    /// data averages them (rounded for integer types); categories take the footprint's
    /// lower-right pixel, tilefn's under-zoom centre, else the first valid one, so no class
    /// is invented. Row `y` needs this canvas's rows `2y` and `2y + 1` (not freed).
    pub fn reduce_rows(
        &self,
        rows: std::ops::Range<usize>,
        out: &mut RawCanvas,
        categorical: bool,
    ) {
        let mut sums = vec![0.0f64; self.bands];
        let mut px = Vec::with_capacity(self.pixel_bytes());
        let size = self.pixel_bytes();
        for y in rows {
            for x in 0..out.width {
                let mut picked: Option<(usize, usize)> = None;
                let mut count = 0u32;
                sums.fill(0.0);
                for (dx, dy) in [(1, 1), (0, 0), (1, 0), (0, 1)] {
                    let (sx, sy) = (2 * x + dx, 2 * y + dy);
                    if sy >= self.height || !self.is_valid(sx, sy) {
                        continue;
                    }
                    picked.get_or_insert((sx, sy));
                    count += 1;
                    for (b, sum) in sums.iter_mut().enumerate() {
                        *sum += self.sample(sx, sy, b);
                    }
                }
                let Some((first_x, first_y)) = picked else {
                    continue;
                };
                px.clear();
                for (b, sum) in sums.iter().enumerate() {
                    let v = if categorical {
                        self.sample(first_x, first_y, b)
                    } else {
                        sum / f64::from(count)
                    };
                    self.dtype.write_le(self.dtype.clamp(v), &mut px);
                }
                let Some((strip, at)) = out.locate(y) else {
                    continue;
                };
                let p = at + x;
                if let Some(v) = strip.valid.get_mut(p) {
                    *v = true;
                }
                if let Some(dst) = strip.bytes.get_mut(p * size..(p + 1) * size) {
                    dst.copy_from_slice(&px);
                }
            }
        }
    }

    /// Rows in strip `r` (0 past the last strip).
    pub fn strip_rows(&self, r: usize) -> usize {
        self.height.saturating_sub(r * TS).min(TS)
    }

    /// Number of strips.
    pub fn strips(&self) -> usize {
        self.strips.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::plan::Window;
    use crate::export::stitch::overlap;
    use tilefn_raster::TileCoord;

    fn valid(c: &RawCanvas) -> Vec<bool> {
        (0..c.height)
            .flat_map(|y| (0..c.width).map(move |x| (x, y)))
            .map(|(x, y)| c.is_valid(x, y))
            .collect()
    }

    #[test]
    fn paste_tile_and_reduce() {
        let mut block = Block::empty(TS, TS, 1, DataType::Int16, -1.0);
        for p in 0..TS * TS {
            block.values[p] = (p % TS) as f64;
            block.valid[p] = p % TS != 3;
        }
        let w = Window {
            z: 5,
            col0: 2,
            row0: 0,
            width: 3,
            height: 2,
        };
        let mut c = RawCanvas::new(3, 2, 1, DataType::Int16, -1.0);
        if let Some(o) = overlap(&w, TileCoord::new(5, 0, 0)) {
            c.paste(o, &block);
        }
        assert_eq!(valid(&c), [true, false, true, true, false, true]);
        assert_eq!(c.sample(0, 0, 0), 2.0);
        assert_eq!(c.sample(1, 0, 0), -1.0, "invalid pixels hold the fill");
        let r = c.reduce(false);
        assert_eq!((r.width, r.height), (2, 1));
        assert_eq!(r.sample(0, 0, 0), 2.0, "the one valid of 2, -, 2, -");
        assert_eq!(r.sample(1, 0, 0), 4.0);
        for (x, y) in [(1, 0), (2, 0), (0, 1), (1, 1), (2, 1)] {
            c.clear(x, y);
        }
        assert_eq!(valid(&c), [true, false, false, false, false, false]);
        let (bytes, flags) = c.tile(0, 0).unwrap_or_default();
        assert_eq!((bytes.len(), flags.len()), (TS * TS * 2, TS * TS));
        assert_eq!(&bytes[4..6], &(-1i16).to_le_bytes());
        c.free_strip(0);
        assert!(c.tile(0, 0).is_none());
        assert!(
            RawCanvas::new(3, 2, 1, DataType::Int16, -1.0)
                .tile(0, 0)
                .is_none()
        );
    }

    #[test]
    fn strips_hold_256_rows() {
        let mut c = RawCanvas::new(10, 600, 2, DataType::Uint8, 7.0);
        assert_eq!(c.strips.len(), 3);
        assert!(c.strips[2].valid.is_empty(), "allocated on first write");
        c.clear(9, 599);
        assert_eq!(c.strips[2].valid.len(), 10 * 88);
        assert_eq!(c.sample(9, 599, 1), 7.0);
        let r = c.reduce(true);
        assert_eq!((r.width, r.height, r.strips.len()), (5, 300, 2));
        assert!(!r.is_valid(0, 299));
    }
}
