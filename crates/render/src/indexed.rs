//! Table styles (grey, named colormaps) painted straight to palette indices: the PNG path
//! then skips the RGBA image and the per-pixel colour counting of `encode::palette`, which
//! together cost more than the painting itself.
//!
//! The palette holds the colours the tile uses in table order (transparent first), so the
//! decoded pixels are those of the RGBA path, though the bytes differ: `palettize` orders by
//! first appearance. Table order needs no per-pixel "is this colour new" test, and it makes
//! indices follow the values, which PNG's row filters then predict: viridis tiles of the
//! corpus DEM are 0.58x and 0.55x the bytes of the first-appearance palette's (see
//! tests/paint_png.rs, which prints both).

/// Index of the transparent bin in the intermediate per-pixel bins.
const TRANSPARENT: u16 = 256;

/// Palette and one index per pixel for a `width * height` tile painted with `lut` over
/// `lo..hi` exactly as `style::paint_table` paints it; pixels past the shorter of `values`
/// and `valid` are transparent, as in `Style::paint`. `None` when the tile uses more than
/// 256 distinct colours (a full grey ramp plus transparency): the caller falls back to RGBA.
pub(crate) fn table_indices(
    lut: &[[u8; 4]; 256],
    range: Option<(f64, f64)>,
    values: &[f64],
    valid: &[bool],
    pixels: usize,
) -> Option<(Vec<[u8; 4]>, Vec<u8>)> {
    let n = pixels.min(values.len()).min(valid.len());
    // Without a range (an all-nodata tile) every pixel is transparent.
    let mut bins = vec![TRANSPARENT; pixels];
    if let Some((lo, hi)) = range {
        tilefn_raster::vectorised(Binning {
            values: &values[..n],
            valid: &valid[..n],
            bins: &mut bins[..n],
            lo,
            scale: 256.0 / (hi - lo),
        });
    }
    // Which bins occur, in a pass of its own: a store per pixel inside the binning loop
    // would keep that loop from vectorising. 512 entries so that `bin & 511` indexes
    // without a bounds check (bins are <= 256).
    let mut seen = [false; 512];
    for bin in &bins {
        seen[usize::from(*bin) & 511] = true;
    }
    // Alpha-0 colours all decode as (0, 0, 0, 0), as `palettize` makes them; equal colours
    // share an entry. The transparent bin goes first, keeping the tRNS chunk one byte long.
    let colour = |bin: usize| match lut.get(bin) {
        Some(c) if c[3] != 0 => *c,
        _ => [0; 4],
    };
    let mut palette: Vec<[u8; 4]> = Vec::with_capacity(256);
    let mut slot = [0u8; 512];
    let order = std::iter::once(usize::from(TRANSPARENT)).chain(0..256);
    for bin in order.filter(|b| seen[*b]) {
        let c = colour(bin);
        let index = match palette.iter().rposition(|p| *p == c) {
            Some(i) => i,
            None => {
                palette.push(c);
                palette.len() - 1
            }
        };
        slot[bin] = u8::try_from(index).ok()?; // the 257th colour: no palette
    }
    let indices = bins.iter().map(|b| slot[usize::from(*b) & 511]).collect();
    Some((palette, indices))
}

/// Bins of valid values, [`TRANSPARENT`] for the rest: on AVX2 twice as fast
/// (`tilefn_raster::vectorised`).
struct Binning<'a> {
    values: &'a [f64],
    valid: &'a [bool],
    bins: &'a mut [u16],
    lo: f64,
    scale: f64,
}

impl tilefn_raster::Kernel for Binning<'_> {
    type Output = ();

    /// Same arithmetic as `style::paint_table`, so the pixels are identical: clamping in
    /// floating point first equals its saturating `as usize` then `min(255)` (NaN -> 0).
    /// Indexed over equal-length slices, and `&` rather than `&&` with the bin always
    /// computed: the select then has no branch and the loop vectorises.
    #[inline(always)]
    fn run(self) {
        let n = self.values.len().min(self.valid.len()).min(self.bins.len());
        let (values, valid, bins) = (&self.values[..n], &self.valid[..n], &mut self.bins[..n]);
        for i in 0..n {
            let v = values[i];
            let bin = floor_bin((v - self.lo) * self.scale);
            bins[i] = if valid[i] & !v.is_nan() {
                bin
            } else {
                TRANSPARENT
            };
        }
    }
}

/// `x.clamp(0.0, 255.0) as u16` (NaN -> 0), in operations that vectorise on baseline
/// x86-64: its float-to-int conversion with Rust's saturating semantics is scalar there
/// (`cvttsd2si` per value): [`table_indices`] took ~1.3x as long with the cast (best of 40
/// batches, one run; also tried: `as i32 as u16`, no better). Adding 2^52 rounds a
/// value in 0..=255 to the nearest integer in the low mantissa bits, exactly; one less when
/// that rounded up gives the floor.
#[inline(always)]
#[expect(
    clippy::manual_clamp,
    reason = "clamp keeps NaN; max/min map it to 0 like the cast"
)]
fn floor_bin(x: f64) -> u16 {
    const MAGIC: f64 = 4_503_599_627_370_496.0; // 2^52
    // `max` first: NaN (0 * inf when hi == lo) -> 0, as the saturating cast gives.
    let x = x.max(0.0).min(255.0);
    let y = x + MAGIC;
    let rounded = y - MAGIC;
    (y.to_bits() as u16).wrapping_sub(u16::from(rounded > x))
}

#[cfg(test)]
mod tests {
    use super::floor_bin;

    #[test]
    fn floor_bin_is_the_saturating_cast() {
        let mut cases = vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            -1e-300,
            1e-300,
            0.5,
            1.5,
            2.5,
            254.5,
            254.999_999_999_999_97,
            255.0,
            255.5,
            256.0,
            1e300,
            -1e300,
        ];
        for k in 0..=256 {
            let k = f64::from(k);
            cases.extend([
                k,
                k.next_up(),
                k.next_down(),
                k + 0.5,
                (k + 0.5).next_down(),
            ]);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push((x >> 11) as f64 / (1u64 << 53) as f64 * 300.0 - 20.0);
        }
        for v in cases {
            assert_eq!(floor_bin(v), v.clamp(0.0, 255.0) as u16, "{v:?}");
        }
    }
}
