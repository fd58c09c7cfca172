//! Stitching XYZ tiles into one export window (GeoPySpark's `stitch`), purely on bytes.
//!
//! The window's pixels *are* pixels of the tiles' zoom, so stitching copies rows and never
//! resamples. A GeoTIFF export keeps the layer's raw samples in its own type
//! ([`RawCanvas`]: a 4096² float32 window is 64 MiB, where `f64` values would be 128 MiB per
//! band, the whole Worker isolate); PNG and JPEG exports keep painted RGBA
//! ([`ImageCanvas`]), each tile painted on its own with the layer-wide style.

use tilefn_raster::{Block, DataType, TILE_SIZE, TileCoord};
use tilefn_render::Rgba;

use super::plan::Window;

const TS: usize = TILE_SIZE as usize;

/// Where tile `t` and the window overlap: `w x h` pixels from (`src_x`, `src_y`) in the
/// tile to (`dst_x`, `dst_y`) in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    pub src_x: usize,
    pub src_y: usize,
    pub dst_x: usize,
    pub dst_y: usize,
    pub w: usize,
    pub h: usize,
}

/// The overlap of tile `t` (at the window's zoom) with `window`, if any.
pub fn overlap(window: &Window, t: TileCoord) -> Option<Overlap> {
    let span = |tile: u32, start: u64, len: u64| {
        let t0 = u64::from(tile) * TS as u64;
        let lo = t0.max(start);
        let hi = (t0 + TS as u64).min(start + len);
        (lo < hi).then(|| {
            (
                (lo - t0) as usize,
                (lo - start) as usize,
                (hi - lo) as usize,
            )
        })
    };
    let (src_x, dst_x, w) = span(t.x, window.col0, window.width)?;
    let (src_y, dst_y, h) = span(t.y, window.row0, window.height)?;
    Some(Overlap {
        src_x,
        src_y,
        dst_x,
        dst_y,
        w,
        h,
    })
}

/// A window of raw samples: pixel-interleaved little-endian samples of `dtype`, invalid
/// pixels holding `fill`, and one validity flag a pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCanvas {
    pub width: usize,
    pub height: usize,
    pub bands: usize,
    pub dtype: DataType,
    /// The bytes of one invalid pixel (the nodata value in every band, or zeros).
    pub fill: Vec<u8>,
    pub bytes: Vec<u8>,
    pub valid: Vec<bool>,
}

impl RawCanvas {
    /// An all-invalid canvas; `fill` is the nodata value (or 0 with a mask).
    pub fn new(width: usize, height: usize, bands: usize, dtype: DataType, fill: f64) -> Self {
        let mut px = Vec::with_capacity(bands * dtype.size());
        for _ in 0..bands {
            dtype.write_le(dtype.clamp(fill), &mut px);
        }
        RawCanvas {
            width,
            height,
            bands,
            dtype,
            bytes: px.repeat(width * height),
            fill: px,
            valid: vec![false; width * height],
        }
    }

    /// Bytes of one pixel.
    pub fn pixel_bytes(&self) -> usize {
        self.fill.len()
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
            let (s, d) = (
                (o.src_y + row) * TS + o.src_x,
                (o.dst_y + row) * self.width + o.dst_x,
            );
            let src = tile.get(s * px..(s + o.w) * px);
            let dst = self.bytes.get_mut(d * px..(d + o.w) * px);
            if let (Some(src), Some(dst)) = (src, dst) {
                dst.copy_from_slice(src);
            }
            let src = block.valid.get(s..s + o.w);
            if let (Some(src), Some(dst)) = (src, self.valid.get_mut(d..d + o.w)) {
                dst.copy_from_slice(src);
            }
        }
    }

    /// Marks the pixels outside `keep` (window row → its kept `[start, end)` column spans)
    /// invalid and writes `fill` into them: the POSTed polygon's mask.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "POST polygon masks, wired when tilefn-geometry lands"
        )
    )]
    pub fn keep_only(&mut self, keep: &dyn Fn(usize) -> Vec<(usize, usize)>) {
        let px = self.pixel_bytes();
        for row in 0..self.height {
            let mut inside = vec![false; self.width];
            for (a, b) in keep(row) {
                if let Some(s) = inside.get_mut(a.min(b)..b.min(self.width)) {
                    s.fill(true);
                }
            }
            for (col, keep) in inside.into_iter().enumerate() {
                let p = row * self.width + col;
                if keep {
                    continue;
                }
                if let Some(v) = self.valid.get_mut(p) {
                    *v = false;
                }
                if let Some(dst) = self.bytes.get_mut(p * px..(p + 1) * px) {
                    dst.copy_from_slice(&self.fill);
                }
            }
        }
    }

    /// One 256x256 tile of the canvas (column `c`, row `r`), padded with `fill` and
    /// invalid pixels past the edges: `(samples, validity)`, or `None` when no pixel of it
    /// is valid (written sparse).
    pub fn tile(&self, c: usize, r: usize) -> Option<(Vec<u8>, Vec<bool>)> {
        let px = self.pixel_bytes();
        let (x0, y0) = (c * TS, r * TS);
        let w = self.width.saturating_sub(x0).min(TS);
        let h = self.height.saturating_sub(y0).min(TS);
        let mut valid = vec![false; TS * TS];
        let mut any = false;
        for row in 0..h {
            let s = (y0 + row) * self.width + x0;
            if let (Some(src), Some(dst)) = (
                self.valid.get(s..s + w),
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
            let s = (y0 + row) * self.width + x0;
            let d = row * TS;
            if let (Some(src), Some(dst)) = (
                self.bytes.get(s * px..(s + w) * px),
                bytes.get_mut(d * px..(d + w) * px),
            ) {
                dst.copy_from_slice(src);
            }
        }
        Some((bytes, valid))
    }

    /// The next overview: each pixel from the valid pixels of its 2x2 footprint (rounded up
    /// at odd edges). Continuous data averages them (rounded for integer types); categories
    /// take the footprint's lower-right pixel, tilefn's under-zoom centre, else the first
    /// valid one, so no class is invented.
    pub fn reduce(&self, categorical: bool) -> RawCanvas {
        let (w, h) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let fill = self.dtype.read_le(&self.fill).unwrap_or(0.0);
        let mut out = RawCanvas::new(w, h, self.bands, self.dtype, fill);
        let mut bytes = Vec::with_capacity(out.bytes.len());
        let mut sums = vec![0.0f64; self.bands];
        for y in 0..h {
            for x in 0..w {
                let mut picked: Option<usize> = None;
                let mut count = 0u32;
                sums.fill(0.0);
                for (dx, dy) in [(1, 1), (0, 0), (1, 0), (0, 1)] {
                    let (sx, sy) = (2 * x + dx, 2 * y + dy);
                    let p = sy * self.width + sx;
                    if sx >= self.width || sy >= self.height || !self.valid[p] {
                        continue;
                    }
                    picked.get_or_insert(p);
                    count += 1;
                    for (b, sum) in sums.iter_mut().enumerate() {
                        *sum += self.sample(p, b);
                    }
                }
                let Some(first) = picked else {
                    bytes.extend_from_slice(&self.fill);
                    continue;
                };
                out.valid[y * w + x] = true;
                for (b, sum) in sums.iter().enumerate() {
                    let v = if categorical {
                        self.sample(first, b)
                    } else {
                        sum / f64::from(count)
                    };
                    self.dtype.write_le(self.dtype.clamp(v), &mut bytes);
                }
            }
        }
        out.bytes = bytes;
        out
    }

    fn sample(&self, p: usize, band: usize) -> f64 {
        let size = self.dtype.size();
        let at = p * self.pixel_bytes() + band * size;
        self.bytes
            .get(at..at + size)
            .and_then(|b| self.dtype.read_le(b))
            .unwrap_or(0.0)
    }
}

/// A window of painted pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageCanvas {
    pub image: Rgba,
}

impl ImageCanvas {
    pub fn new(width: usize, height: usize) -> Self {
        ImageCanvas {
            image: Rgba::transparent(width, height),
        }
    }

    /// Copies the part of a painted 256x256 tile under the window.
    pub fn paste(&mut self, o: Overlap, tile: &Rgba) {
        if tile.width != TS || tile.height != TS {
            return;
        }
        let width = self.image.width;
        for row in 0..o.h {
            let (s, d) = (
                (o.src_y + row) * TS + o.src_x,
                (o.dst_y + row) * width + o.dst_x,
            );
            let src = tile.pixels.get(s * 4..(s + o.w) * 4);
            let dst = self.image.pixels.get_mut(d * 4..(d + o.w) * 4);
            if let (Some(src), Some(dst)) = (src, dst) {
                dst.copy_from_slice(src);
            }
        }
    }

    /// Makes the pixels outside `keep` (as [`RawCanvas::keep_only`]) transparent.
    #[expect(
        dead_code,
        reason = "POST polygon masks, wired when tilefn-geometry lands"
    )]
    pub fn keep_only(&mut self, keep: &dyn Fn(usize) -> Vec<(usize, usize)>) {
        let width = self.image.width;
        for row in 0..self.image.height {
            let mut inside = vec![false; width];
            for (a, b) in keep(row) {
                if let Some(s) = inside.get_mut(a.min(b)..b.min(width)) {
                    s.fill(true);
                }
            }
            for (col, keep) in inside.into_iter().enumerate() {
                let p = (row * width + col) * 4;
                if let (false, Some(px)) = (keep, self.image.pixels.get_mut(p..p + 4)) {
                    px.fill(0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(col0: u64, row0: u64, width: u64, height: u64) -> Window {
        Window {
            z: 5,
            col0,
            row0,
            width,
            height,
        }
    }

    #[test]
    fn overlaps() {
        let w = window(250, 510, 10, 300);
        assert_eq!(
            overlap(&w, TileCoord::new(5, 0, 1)),
            Some(Overlap {
                src_x: 250,
                src_y: 254,
                dst_x: 0,
                dst_y: 0,
                w: 6,
                h: 2
            })
        );
        assert_eq!(
            overlap(&w, TileCoord::new(5, 1, 3)).map(|o| (o.dst_x, o.dst_y, o.w, o.h)),
            Some((6, 258, 4, 42))
        );
        assert_eq!(overlap(&w, TileCoord::new(5, 2, 2)), None);
    }

    #[test]
    fn paste_tile_and_reduce() {
        let mut block = Block::empty(TS, TS, 1, DataType::Int16, -1.0);
        for p in 0..TS * TS {
            block.values[p] = (p % TS) as f64;
            block.valid[p] = p % TS != 3;
        }
        let w = window(2, 0, 3, 2);
        let mut c = RawCanvas::new(3, 2, 1, DataType::Int16, -1.0);
        let o = overlap(&w, TileCoord::new(5, 0, 0)).unwrap_or(Overlap {
            src_x: 0,
            src_y: 0,
            dst_x: 0,
            dst_y: 0,
            w: 0,
            h: 0,
        });
        c.paste(o, &block);
        assert_eq!(c.valid, [true, false, true, true, false, true]);
        assert_eq!(c.sample(0, 0), 2.0);
        assert_eq!(c.sample(1, 0), -1.0, "invalid pixels hold the fill");
        let r = c.reduce(false);
        assert_eq!((r.width, r.height), (2, 1));
        assert_eq!(r.sample(0, 0), 2.0, "the one valid of 2, -, 2, -");
        assert_eq!(r.sample(1, 0), 4.0);
        c.keep_only(&|row| if row == 0 { vec![(0, 1)] } else { vec![] });
        assert_eq!(c.valid, [true, false, false, false, false, false]);
        let (bytes, valid) = c.tile(0, 0).unwrap_or_default();
        assert_eq!((bytes.len(), valid.len()), (TS * TS * 2, TS * TS));
        assert_eq!(&bytes[4..6], &(-1i16).to_le_bytes());
        assert!(
            RawCanvas::new(3, 2, 1, DataType::Int16, -1.0)
                .tile(0, 0)
                .is_none()
        );
    }
}
