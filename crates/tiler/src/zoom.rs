//! Tiles outside the stored zooms, built from stored ones (pure, on `Block`s).
//!
//! - **Over-zoom** (`z > max`): crop the max-zoom ancestor to the part under the tile and
//!   upsample by nearest neighbour, so values stay raw and categories stay categories.
//! - **Under-zoom** (`z < min`): each output pixel covers `2^d x 2^d` pixels of the min-zoom
//!   tiles below it. Continuous layers average the valid ones (rounded for integer types);
//!   categorical, mask and rank-ordered layers take the pixel at the centre of the footprint,
//!   or the first valid one when the centre is nodata (nearest, never a made-up class).

use tilefn_raster::{Block, TILE_SIZE, TileCoord};

const TS: usize = TILE_SIZE as usize;

/// The part of `src` (tile `from`) under its descendant `to`, upsampled to a full tile.
pub fn overzoom(src: &Block, from: TileCoord, to: TileCoord) -> Block {
    let d = u32::from(to.z.saturating_sub(from.z));
    let scale = 1u64 << d;
    // Pixel offset of `to` inside `from`, in `to`'s pixels: x - (from.x << d) tiles of 256.
    let off_x = (u64::from(to.x) - (u64::from(from.x) << d)) * TS as u64;
    let off_y = (u64::from(to.y) - (u64::from(from.y) << d)) * TS as u64;
    let mut out = Block::empty(TS, TS, src.bands, src.dtype, 0.0);
    let n = TS * TS;
    for row in 0..TS {
        let sy = ((off_y + row as u64) / scale) as usize;
        for col in 0..TS {
            let sx = ((off_x + col as u64) / scale) as usize;
            let (dst, s) = (row * TS + col, sy * TS + sx);
            if let (Some(v), Some(slot)) = (src.valid.get(s), out.valid.get_mut(dst)) {
                *slot = *v;
            }
            for b in 0..src.bands {
                if let (Some(v), Some(slot)) =
                    (src.values.get(b * n + s), out.values.get_mut(b * n + dst))
                {
                    *slot = *v;
                }
            }
        }
    }
    out
}

/// One stored tile below an under-zoomed tile: its position among the `2^d x 2^d` tiles
/// under the target, and its pixels.
pub struct Part<'a> {
    pub col: u64,
    pub row: u64,
    pub block: &'a Block,
}

/// Builds the tile `d` zooms above `parts` (the stored tiles under it that hold data).
pub fn underzoom(parts: &[Part<'_>], d: u8, bands: usize, categorical: bool) -> Option<Block> {
    let first = parts.first()?;
    let dtype = first.block.dtype;
    let n = TS * TS;
    let shift = u32::from(d);
    let mut sums = vec![0.0f64; n * bands];
    let mut counts = vec![0u32; n];
    // Categorical: whether the chosen pixel is the footprint's centre (which wins).
    let mut centred = vec![false; n];
    let half = if shift == 0 { 0 } else { 1u64 << (shift - 1) };
    let mask = (1u64 << shift) - 1;
    for part in parts {
        let block = part.block;
        if block.bands != bands || block.valid.len() != n || block.values.len() != n * bands {
            continue;
        }
        for sy in 0..TS {
            // Global source pixel row under the target tile, then the target row it feeds.
            let gy = part.row * TS as u64 + sy as u64;
            let ty = (gy >> shift) as usize;
            for sx in 0..TS {
                let s = sy * TS + sx;
                if !block.valid[s] {
                    continue;
                }
                let gx = part.col * TS as u64 + sx as u64;
                let t = ty * TS + (gx >> shift) as usize;
                if t >= n {
                    continue;
                }
                if categorical {
                    let is_centre = (gx & mask) == half && (gy & mask) == half;
                    if counts[t] == 0 || (is_centre && !centred[t]) {
                        for b in 0..bands {
                            sums[b * n + t] = block.values[b * n + s];
                        }
                        counts[t] = 1;
                        centred[t] = is_centre;
                    }
                } else {
                    for b in 0..bands {
                        sums[b * n + t] += block.values[b * n + s];
                    }
                    counts[t] += 1;
                }
            }
        }
    }
    let mut out = Block::empty(TS, TS, bands, dtype, 0.0);
    for t in 0..n {
        let count = counts[t];
        if count == 0 {
            continue;
        }
        out.valid[t] = true;
        for b in 0..bands {
            let v = sums[b * n + t] / f64::from(count);
            out.values[b * n + t] = if dtype.is_float() { v } else { v.round() };
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilefn_raster::DataType;

    fn gradient() -> Block {
        let mut b = Block::empty(TS, TS, 1, DataType::Float32, 0.0);
        for i in 0..TS * TS {
            b.values[i] = i as f64;
            b.valid[i] = i % TS != 0; // first column invalid
        }
        b
    }

    #[test]
    fn overzoom_crops_and_repeats() {
        let src = gradient();
        // z+1, south-east child: source pixels from (128, 128), each repeated 2x2.
        let out = overzoom(&src, TileCoord::new(3, 1, 1), TileCoord::new(4, 3, 3));
        assert_eq!(out.values[0], (128 * TS + 128) as f64);
        assert_eq!(out.values[1], (128 * TS + 128) as f64);
        assert_eq!(out.values[2], (128 * TS + 129) as f64);
        assert_eq!(out.values[2 * TS], (129 * TS + 128) as f64);
        // West child: its first two columns come from the invalid first source column.
        let west = overzoom(&src, TileCoord::new(3, 1, 1), TileCoord::new(4, 2, 2));
        assert!(!west.valid[0] && !west.valid[1] && west.valid[2]);
    }

    #[test]
    fn underzoom_averages_or_picks() {
        let a = gradient();
        let parts = [Part {
            col: 1,
            row: 0,
            block: &a,
        }];
        let avg = underzoom(&parts, 1, 1, false).unwrap_or_else(gradient);
        // Target pixel (128, 0) covers source (0..2, 0..2) of the east tile; (0,0) and (0,1)
        // are invalid, leaving 1 and 257.
        assert_eq!(avg.values[128], (1.0 + 257.0) / 2.0);
        assert!(!avg.valid[0], "the west half has no data");
        let pick = underzoom(&parts, 1, 1, true).unwrap_or_else(gradient);
        // Centre of a 2x2 footprint is its (1, 1) pixel.
        assert_eq!(pick.values[129], (TS + 3) as f64);
    }
}
