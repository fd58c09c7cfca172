//! A band's whole-layer quantiles as the manifest stores them, and the questions they answer
//! (any percentile, N-quantile class breaks).
//!
//! Ingest computes them (`ingest/src/quantiles.rs`); this module only reads them, and since
//! a served manifest is untrusted, every answer checks the grid it is given.

use serde::{Deserialize, Serialize};

/// Points of the stored grid: percentiles 0, 0.5, 1, …, 100. A 0.5 step keeps a band's grid
/// near 4 KB of JSON (the manifest is read on every cold request) while every multiple of
/// 0.5, and so every break of `n` dividing 200, is stored rather than interpolated.
pub const QUANTILE_GRID_POINTS: usize = 201;

/// The percentile of grid point `i` (0..=200).
pub fn grid_percentile(i: usize) -> f64 {
    i as f64 * 100.0 / (QUANTILE_GRID_POINTS - 1) as f64
}

/// How the quantiles were computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuantileMethod {
    /// From every valid value: each grid point equals `numpy.percentile` (linear
    /// interpolation between the closest ranks) over the values as float64.
    Exact,
    /// From a KLL sketch, merged across work units: each grid point is a value whose
    /// normalized rank is within `rank_error` of the point's.
    Kll,
}

impl QuantileMethod {
    /// The name the manifest and the `/breaks` answer use.
    pub fn name(self) -> &'static str {
        match self {
            QuantileMethod::Exact => "exact",
            QuantileMethod::Kll => "kll",
        }
    }
}

/// Whole-layer quantiles of one band over its valid max-zoom pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub method: QuantileMethod,
    /// The stated normalized rank error (0 for exact; for KLL the sketch's bound at 99%
    /// confidence).
    pub rank_error: f64,
    /// Percentiles 0, 0.5, …, 100 ([`QUANTILE_GRID_POINTS`] values, non-decreasing).
    pub values: Vec<f64>,
}

impl Quantiles {
    /// The `p`th percentile (0..=100): a grid value, or linear interpolation between the two
    /// grid points around `p`. `None` for `p` out of range or a malformed grid.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if !(0.0..=100.0).contains(&p) || self.values.len() != QUANTILE_GRID_POINTS {
            return None;
        }
        let pos = p / 100.0 * (QUANTILE_GRID_POINTS - 1) as f64;
        let lo = pos.floor() as usize;
        let a = *self.values.get(lo)?;
        let t = pos - lo as f64;
        if t == 0.0 {
            return Some(a);
        }
        let b = *self.values.get(lo + 1)?;
        Some(a + (b - a) * t)
    }

    /// The `n - 1` inner class breaks of `n` equal-count classes (percentiles 100·i/n for
    /// i in 1..n), as GeoPySpark's `get_quantile_breaks`. `None` for `n < 2` or a malformed
    /// grid.
    pub fn breaks(&self, n: u32) -> Option<Vec<f64>> {
        if n < 2 {
            return None;
        }
        (1..n)
            .map(|i| self.percentile(100.0 * f64::from(i) / f64::from(n)))
            .collect()
    }
}

/// `numpy.percentile`'s default (linear) over a sorted multiset given as distinct values
/// with their counts, at every grid point; `None` when `counts` is empty.
///
/// Bit-for-bit numpy's arithmetic: the virtual index `(n - 1) · q` with `q = p / 100`, and
/// its `_lerp`, which interpolates from the upper value when the fraction is at least 0.5.
pub fn exact_grid(counts: &[(f64, u64)]) -> Option<Vec<f64>> {
    let n: u64 = counts.iter().map(|(_, c)| c).sum();
    if n == 0 {
        return None;
    }
    // Cumulative counts: rank r (0-based) holds the first value whose running total > r.
    let mut ends = Vec::with_capacity(counts.len());
    let mut total = 0u64;
    for (_, c) in counts {
        total += c;
        ends.push(total);
    }
    let at = |rank: u64| -> Option<f64> {
        let i = ends.partition_point(|&e| e <= rank);
        counts.get(i).map(|(v, _)| *v)
    };
    (0..QUANTILE_GRID_POINTS)
        .map(|i| {
            let q = grid_percentile(i) / 100.0;
            let virtual_index = (n - 1) as f64 * q;
            let below = virtual_index.floor();
            let gamma = virtual_index - below;
            let lo = below as u64;
            let a = at(lo)?;
            let b = at((lo + 1).min(n - 1))?;
            Some(numpy_lerp(a, b, gamma))
        })
        .collect()
}

/// numpy's `_lerp(a, b, t)`.
fn numpy_lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(vals: &[f64]) -> Quantiles {
        let mut v = vals.to_vec();
        v.sort_by(f64::total_cmp);
        let mut counts: Vec<(f64, u64)> = Vec::new();
        for x in v {
            match counts.last_mut() {
                Some((y, c)) if *y == x => *c += 1,
                _ => counts.push((x, 1)),
            }
        }
        Quantiles {
            method: QuantileMethod::Exact,
            rank_error: 0.0,
            values: exact_grid(&counts).unwrap(),
        }
    }

    #[test]
    fn six_pixels_have_median_three_and_a_half() {
        let q = grid(&[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
        assert_eq!(q.percentile(50.0), Some(3.5));
        assert_eq!(q.percentile(0.0), Some(1.0));
        assert_eq!(q.percentile(100.0), Some(6.0));
        // numpy.percentile([1..6], 2) = 1.1, [.., 98] = 5.9
        assert!((q.percentile(2.0).unwrap() - 1.1).abs() < 1e-12);
        assert!((q.percentile(98.0).unwrap() - 5.9).abs() < 1e-12);
    }

    #[test]
    fn repeated_values_and_breaks() {
        // numpy.percentile([1, 1, 1, 10], [25, 50, 75]) = [1, 1, 3.25]
        let q = grid(&[1.0, 10.0, 1.0, 1.0]);
        assert_eq!(q.breaks(4), Some(vec![1.0, 1.0, 3.25]));
        assert_eq!(q.breaks(1), None);
        assert_eq!(grid(&[7.0]).breaks(3), Some(vec![7.0, 7.0]));
    }

    #[test]
    fn between_grid_points_interpolates() {
        let vals: Vec<f64> = (0..=200).map(f64::from).collect();
        let q = grid(&vals);
        assert_eq!(q.values[3], 3.0);
        assert!((q.percentile(100.0 / 7.0).unwrap() - 200.0 / 7.0).abs() < 1e-9);
    }

    #[test]
    fn malformed_grids_answer_none() {
        let mut q = grid(&[1.0, 2.0]);
        q.values.truncate(10);
        assert_eq!(q.percentile(50.0), None);
        assert_eq!(q.breaks(7), None);
        assert_eq!(grid(&[1.0]).percentile(f64::NAN), None);
        assert_eq!(exact_grid(&[]), None);
    }
}
