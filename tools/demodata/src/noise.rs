//! Seeded hashing and value noise.
//!
//! Why not the `rand` crate: its seeded generators are documented as not portable across
//! versions (StdRng may change algorithm in any release), and a benchmark input that changes
//! when Cargo.lock moves makes timings and oracle figures incomparable. SplitMix64 is five
//! lines that will never change. It is also used as a *hash* of lattice coordinates rather
//! than as a stream, so any pixel can be computed independently of the others: rows are
//! generated in parallel and in any order, and the output is still byte-identical.
//!
//! Only `+ - * /`, `floor` and `sqrt` are used (all exactly rounded in IEEE 754), never
//! `exp`/`sin`/`powf` whose libm implementations differ between platforms, so the same seed
//! gives the same bytes on every machine.

/// SplitMix64's output function (Steele, Lea & Flood 2014), used as a 64-bit mixer.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a lattice point under `seed`. Each coordinate goes through the mixer separately so
/// that (x, y) and (y, x) do not collide.
pub fn hash2(seed: u64, x: i64, y: i64) -> u64 {
    // `as u64` reinterprets the two's-complement bits, which is what a hash wants.
    splitmix64(splitmix64(seed ^ splitmix64(x as u64)) ^ y as u64)
}

/// Uniform in [0, 1) from the top 53 bits.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Derives an independent seed for a named sub-field (octave, band, class).
pub fn subseed(seed: u64, k: u64) -> u64 {
    splitmix64(seed ^ k.wrapping_mul(0xD6E8_FEB8_6659_FD93))
}

/// Quintic fade: C2-continuous, so summed octaves show no grid creases.
fn fade(t: f64) -> f64 {
    t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
}

pub fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Value noise in [0, 1) along a line of lattice coordinates:
/// `out[i] = noise(x0 + i * dx, y0 + i * dy)`. The four corner hashes are recomputed only when
/// the lattice cell changes, which is what makes 8192² rasters with many octaves take seconds.
pub fn value_noise_line(seed: u64, (x0, y0): (f64, f64), (dx, dy): (f64, f64), out: &mut [f64]) {
    let mut cell = (i64::MIN, i64::MIN);
    let (mut top, mut bottom) = ((0.0, 0.0), (0.0, 0.0));
    for (i, o) in out.iter_mut().enumerate() {
        let x = x0 + i as f64 * dx;
        let y = y0 + i as f64 * dy;
        let (xf, yf) = (x.floor(), y.floor());
        let (ix, iy) = (xf as i64, yf as i64);
        if (ix, iy) != cell {
            cell = (ix, iy);
            top = (unit(hash2(seed, ix, iy)), unit(hash2(seed, ix + 1, iy)));
            bottom = (
                unit(hash2(seed, ix, iy + 1)),
                unit(hash2(seed, ix + 1, iy + 1)),
            );
        }
        let (tx, ty) = (fade(x - xf), fade(y - yf));
        let a = top.0 + (top.1 - top.0) * tx;
        let b = bottom.0 + (bottom.1 - bottom.0) * tx;
        *o = a + (b - a) * ty;
    }
}

/// Value noise along one image row: `out[i] = noise(x0 + i * dx, y)`.
pub fn value_noise_row(seed: u64, y: f64, x0: f64, dx: f64, out: &mut [f64]) {
    value_noise_line(seed, (x0, y), (dx, 0.0), out);
}

/// Rotations by exact Pythagorean triples (cos, sin) = (a/c, b/c): every octave is turned by a
/// different angle so the lattice axes of the octaves do not line up into visible grid lines,
/// without calling `sin`/`cos` (whose results vary between libms).
const ROTATIONS: [(f64, f64); 10] = [
    (-4.0 / 5.0, 3.0 / 5.0),
    (3.0 / 5.0, 4.0 / 5.0),
    (12.0 / 13.0, 5.0 / 13.0),
    (8.0 / 17.0, -15.0 / 17.0),
    (24.0 / 25.0, -7.0 / 25.0),
    (20.0 / 29.0, 21.0 / 29.0),
    (-12.0 / 37.0, 35.0 / 37.0),
    (40.0 / 41.0, 9.0 / 41.0),
    (28.0 / 53.0, -45.0 / 53.0),
    (-11.0 / 61.0, 60.0 / 61.0),
];

/// One octave along an image row: the row's points scaled by `freq`, rotated and shifted.
fn octave_row(seed: u64, k: u32, freq: f64, y: f64, x0: f64, dx: f64, out: &mut [f64]) {
    let (c, s) = ROTATIONS[k as usize % ROTATIONS.len()];
    let shift = 17.31 * f64::from(k);
    let (px, py) = (x0 * freq, y * freq);
    let start = (c * px - s * py + shift, s * px + c * py + shift);
    let step = (c * dx * freq, s * dx * freq);
    value_noise_line(subseed(seed, u64::from(k)), start, step, out);
}

/// Fractal Brownian motion: `octaves` layers of value noise, each twice the frequency and
/// `gain` times the amplitude of the previous, normalised back to [0, 1).
/// `x0`, `dx`, `y` are in units of the base wavelength.
pub fn fbm_row(seed: u64, y: f64, x0: f64, dx: f64, octaves: u32, gain: f64, out: &mut [f64]) {
    let mut tmp = vec![0.0; out.len()];
    out.fill(0.0);
    let (mut freq, mut amp, mut total) = (1.0, 1.0, 0.0);
    for k in 0..octaves {
        octave_row(seed, k, freq, y, x0, dx, &mut tmp);
        for (o, t) in out.iter_mut().zip(&tmp) {
            *o += amp * t;
        }
        total += amp;
        freq *= 2.0;
        amp *= gain;
    }
    for o in out.iter_mut() {
        *o /= total;
    }
}

/// Ridged multifractal (Musgrave): `1 - |2n - 1|` makes sharp crests where the noise crosses
/// its median, squared for steeper flanks; each octave is weighted by the previous one so
/// detail concentrates on the ridges, as erosion does on real mountains. Result in [0, 1].
pub fn ridged_row(seed: u64, y: f64, x0: f64, dx: f64, octaves: u32, out: &mut [f64]) {
    let mut tmp = vec![0.0; out.len()];
    let mut weight = vec![1.0; out.len()];
    out.fill(0.0);
    let (mut freq, mut amp, mut total) = (1.0, 1.0, 0.0);
    for k in 0..octaves {
        octave_row(subseed(seed, 1000), k, freq, y, x0, dx, &mut tmp);
        for ((o, t), w) in out.iter_mut().zip(&tmp).zip(weight.iter_mut()) {
            let r = 1.0 - (2.0 * t - 1.0).abs();
            let r = r * r;
            *o += amp * r * *w;
            *w = (r * 2.0).clamp(0.0, 1.0);
        }
        total += amp;
        freq *= 2.0;
        amp *= 0.5;
    }
    for o in out.iter_mut() {
        *o = (*o / total).clamp(0.0, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs of the reference SplitMix64 stream seeded with 0: the generator
        // state advances by the golden gamma, and `splitmix64` is its output function.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn noise_is_continuous_and_bounded() {
        let mut row = vec![0.0; 1000];
        value_noise_row(7, 3.3, -5.0, 0.01, &mut row);
        for w in row.windows(2) {
            assert!((w[0] - w[1]).abs() < 0.05, "jump {w:?}");
        }
        assert!(row.iter().all(|v| (0.0..1.0).contains(v)));
        let mut f = vec![0.0; 1000];
        fbm_row(7, 3.3, 0.0, 0.013, 6, 0.5, &mut f);
        assert!(f.iter().all(|v| (0.0..1.0).contains(v)));
        ridged_row(7, 3.3, 0.0, 0.013, 6, &mut f);
        assert!(f.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn row_cache_matches_direct_evaluation() {
        let mut row = vec![0.0; 50];
        value_noise_line(3, (0.1, 1.25), (0.37, -0.11), &mut row);
        for (i, v) in row.iter().enumerate() {
            let mut one = [0.0];
            let p = (0.1 + i as f64 * 0.37, 1.25 + i as f64 * -0.11);
            value_noise_line(3, p, (0.0, 0.0), &mut one);
            assert_eq!(*v, one[0]);
        }
    }
}
