//! Stitching XYZ tiles into one export window (GeoPySpark's `stitch`), purely on bytes.
//!
//! The window's pixels *are* pixels of the tiles' zoom, so stitching copies rows and never
//! resamples. A GeoTIFF export keeps the layer's raw samples (`raw::RawCanvas`); PNG and
//! JPEG exports keep painted RGBA ([`ImageCanvas`]), each tile painted on its own with the
//! layer-wide style.

use tilefn_raster::{TILE_SIZE, TileCoord};
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

    /// Makes pixel (`x`, `y`) transparent: outside a POSTed polygon.
    pub fn clear(&mut self, x: usize, y: usize) {
        let p = (y * self.image.width + x) * 4;
        if let (true, Some(px)) = (x < self.image.width, self.image.pixels.get_mut(p..p + 4)) {
            px.fill(0);
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
}
