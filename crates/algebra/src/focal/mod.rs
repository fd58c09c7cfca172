//! Focal statistics: each cell's value from the valid cells of its neighbourhood, as
//! GeoTrellis's focal operations compute them (and scipy's `generic_filter` with a
//! NaN-ignoring function over a footprint).
//!
//! A cell's result uses the valid, non-NaN cells of the neighbourhood that lie on the grid;
//! it is invalid only when there is none. So, as in GeoTrellis, a nodata cell with valid
//! neighbours gets a value (`where(a == NULL, focal_mean(a, 3), a)` fills small holes), and
//! valid data spreads `reach` cells into nodata; `focal_mean(a, 3) * (a != NULL)` keeps the
//! original footprint.
//!
//! Two kernels, chosen by the statistic:
//! - [`tables`]: sum, mean, min and max fold each run of the neighbourhood once per grid
//!   position and combine one fold per run at each focus;
//! - [`runs`]: std, median and mode gather each focus's usable neighbours, run by run,
//!   into a window and summarise it (median and mode on integer order keys).
//!
//! Measured against the first version (a bounds-checked loop over the neighbour offsets
//! of every cell), CPU ms per `evaluate_grid` (`cargo run --release -p tilefn-algebra
//! --example focal_cpu`; criterion's wall times, `cargo bench -p tilefn-algebra --bench
//! eval -- focal`, agree within the noise of the shared cores):
//!
//! | formula | 258×258 | 288×288 |
//! |---|---|---|
//! | `focal_mean(a, 3)` | 1.16 → 0.45 (2.6×) | 1.84 → 0.94 (2.0×) |
//! | `focal_mean(a, square(16))` | 171 → 1.69 (101×) | 226 → 2.45 (92×) |
//! | `focal_max(a, circle(8))` | 30.5 → 1.14 (27×) | 40.7 → 1.87 (22×) |
//! | `focal_median(a, 5)` | 15.2 → 14.7 (1.03×) | 18.7 → 18.4 (1.02×) |
//! | `focal_median(a, circle(8))` | 56.6 → 52.4 (1.08×) | 72.9 → 68.1 (1.07×) |
//! | `focal_mode(a, 5)` | 26.0 → 18.4 (1.4×) | 31.9 → 21.9 (1.5×) |
//! | `focal_std(a, 5)` | 5.01 → 4.33 (1.16×) | 6.39 → 5.79 (1.10×) |
//!
//! The median is a selection per cell (about 10 of its 15 ms at 5×5; gathering the window
//! is the rest, as `focal_std` shows). Tried and dropped: a sorted window sliding east (one
//! removal and one insertion per run and step), 1.5× slower at 5×5 and no faster at
//! `circle(8)`, binary searches mispredicting as much as the selection; Batcher's sorting
//! network for windows up to 32 cells, 10% faster for the median and 5% slower for the
//! mode, not worth its code.

mod runs;
mod tables;

use crate::neighborhood::{FocalStat, Shape};

/// `stat` over `shape` at every cell of a `width` × `height` row-major grid. Inputs of
/// another length give a grid of invalid cells.
pub fn focal(
    stat: FocalStat,
    shape: &Shape,
    values: &[f64],
    valid: &[bool],
    width: usize,
    height: usize,
) -> (Vec<f64>, Vec<bool>) {
    let cells = width.saturating_mul(height);
    if values.len() != cells || valid.len() != cells {
        return (vec![f64::NAN; cells], vec![false; cells]);
    }
    let usable: Vec<bool> = values
        .iter()
        .zip(valid)
        .map(|(v, ok)| *ok && !v.is_nan())
        .collect();
    let runs = runs::runs(shape);
    let reach = shape.reach() as usize;
    let size = (width, height);
    if let Some(out) = tables::fold(stat, &runs, reach, values, &usable, size) {
        return out;
    }
    match stat {
        FocalStat::Median => runs::per_cell(&runs, values, &usable, size, order_key, median),
        FocalStat::Mode => runs::per_cell(&runs, values, &usable, size, order_key, mode),
        _ => runs::per_cell(&runs, values, &usable, size, |v| v, |w| summarise(stat, w)),
    }
}

/// `stat` of the values in `window` (reordered in place); `None` when it is empty.
fn summarise(stat: FocalStat, window: &mut [f64]) -> Option<f64> {
    if window.is_empty() {
        return None;
    }
    let n = window.len() as f64;
    Some(match stat {
        FocalStat::Sum => window.iter().sum(),
        FocalStat::Mean => window.iter().sum::<f64>() / n,
        FocalStat::Min => window.iter().copied().fold(f64::INFINITY, f64::min),
        FocalStat::Max => window.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        FocalStat::Std => {
            // Two passes: elevations of thousands of metres with centimetre spread would
            // lose their digits in a sum of squares.
            let mean = window.iter().sum::<f64>() / n;
            let squares: f64 = window.iter().map(|v| (v - mean) * (v - mean)).sum();
            (squares / n).sqrt()
        }
        FocalStat::Median | FocalStat::Mode => {
            let mut keys: Vec<i64> = window.iter().map(|v| order_key(*v)).collect();
            let summary = if stat == FocalStat::Median {
                median
            } else {
                mode
            };
            summary(&mut keys)?
        }
    })
}

/// `f64::total_cmp`'s order as an integer. Median and mode select and sort integers:
/// `total_cmp` converts both operands at every comparison. The mode's sort gains
/// (`focal_mode(a, 5)` on 258×258: 26.1 → 18.4 CPU ms); the median's selection does not
/// (14.8 → 14.7), its cost is the branches.
fn order_key(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// The value of an [`order_key`]: the same flip undoes it (it keeps the sign bit).
fn from_key(key: i64) -> f64 {
    f64::from_bits((key ^ ((((key >> 63) as u64) >> 1) as i64)) as u64)
}

/// numpy's median: the middle value, or the mean of the two middle values; `None` when
/// there is none.
fn median(keys: &mut [i64]) -> Option<f64> {
    let (mid, odd) = (keys.len() / 2, keys.len() % 2 == 1);
    if keys.is_empty() {
        return None;
    }
    let (below, upper, _) = keys.select_nth_unstable(mid);
    let upper = from_key(*upper);
    if odd {
        return Some(upper);
    }
    let lower = below.iter().max().map_or(upper, |k| from_key(*k));
    Some((lower + upper) / 2.0)
}

/// The most frequent value; among equally frequent ones, the smallest. Values count as
/// equal by `==`, so -0 and 0 are one value (adjacent in key order).
fn mode(keys: &mut [i64]) -> Option<f64> {
    keys.sort_unstable();
    let (mut best, mut best_count) = (None, 0usize);
    let mut rest: &[i64] = keys;
    while let Some(&first) = rest.first() {
        let v = from_key(first);
        let run = rest
            .iter()
            .take_while(|k| from_key(**k) == v)
            .count()
            .max(1);
        if run > best_count {
            (best, best_count) = (Some(v), run);
        }
        rest = rest.get(run..).unwrap_or_default();
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_window() {
        let stat = |s: FocalStat, w: &[f64]| summarise(s, &mut w.to_vec());
        assert_eq!(stat(FocalStat::Median, &[3.0, 1.0, 2.0, 2.0]), Some(2.0));
        assert_eq!(stat(FocalStat::Median, &[4.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(
            stat(FocalStat::Median, &[-1.0, f64::INFINITY]),
            Some(f64::INFINITY)
        );
        assert_eq!(stat(FocalStat::Mode, &[3.0, 1.0, 2.0, 2.0]), Some(2.0));
        assert_eq!(stat(FocalStat::Mode, &[5.0, 1.0, 5.0, 1.0]), Some(1.0));
        assert_eq!(stat(FocalStat::Mode, &[-0.0, 0.0, 7.0]), Some(0.0));
        assert_eq!(stat(FocalStat::Std, &[1.0, 3.0]), Some(1.0));
        assert_eq!(stat(FocalStat::Min, &[]), None);
        assert_eq!(stat(FocalStat::Mode, &[]), None);
        for v in [
            -0.0,
            0.0,
            -1.5,
            2.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(from_key(order_key(v)).to_bits(), v.to_bits());
        }
        let mut sorted = [3.0, -0.0, -7.5, 0.0, f64::NEG_INFINITY, 1e-300, -1e300];
        sorted.sort_by(f64::total_cmp);
        assert!(sorted.windows(2).all(|p| order_key(p[0]) < order_key(p[1])));
    }

    #[test]
    fn nodata_is_skipped_and_edges_use_what_is_on_the_grid() {
        // 3x3, the centre invalid: its mean is the mean of the eight others.
        let values: Vec<f64> = (1..=9).map(f64::from).collect();
        let mut valid = vec![true; 9];
        valid[4] = false;
        let (out, ok) = focal(FocalStat::Mean, &Shape::Square(1), &values, &valid, 3, 3);
        assert_eq!(out[4], (45.0 - 5.0) / 8.0);
        assert!(ok.iter().all(|v| *v));
        // The corner sees itself and three neighbours (one of them the invalid centre).
        assert_eq!(out[0], (1.0 + 2.0 + 4.0) / 3.0);
        let (sum, _) = focal(FocalStat::Sum, &Shape::Nesw(1), &values, &[true; 9], 3, 3);
        assert_eq!(sum[4], 2.0 + 4.0 + 5.0 + 6.0 + 8.0);
        let (_, none) = focal(
            FocalStat::Max,
            &Shape::Square(1),
            &values,
            &[false; 9],
            3,
            3,
        );
        assert!(none.iter().all(|v| !v));
        let (bad, bad_ok) = focal(FocalStat::Max, &Shape::Square(1), &values, &valid, 4, 3);
        assert_eq!((bad.len(), bad_ok.iter().any(|v| *v)), (12, false));
    }

    /// A grid with every kind of cell: values of mixed sign and scale, invalid cells,
    /// NaN marked valid, infinities.
    fn awkward_grid(width: usize, height: usize) -> (Vec<f64>, Vec<bool>) {
        let mut seed: u64 = 12345;
        let mut values = Vec::new();
        let mut valid = Vec::new();
        for i in 0..width * height {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = (seed >> 11) as f64 / (1u64 << 53) as f64;
            let v = match i % 97 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 if i % 2 == 0 => f64::NEG_INFINITY,
                _ => (u - 0.3) * 1e3,
            };
            values.push(v);
            valid.push(u > 0.15);
        }
        (values, valid)
    }

    #[test]
    fn tables_agree_with_the_per_cell_loop() {
        let shapes = [
            Shape::Square(0),
            Shape::Square(2),
            Shape::Square(6),
            Shape::Circle(3.5),
            Shape::Annulus(1.5, 4.0),
            Shape::Annulus(1.5, 1.5),
            Shape::Nesw(2),
            Shape::Wedge(5.0, 300.0, 30.0),
        ];
        for (width, height) in [(23, 17), (1, 9), (9, 1), (3, 3), (0, 4)] {
            let (values, valid) = awkward_grid(width, height);
            let usable: Vec<bool> = values
                .iter()
                .zip(&valid)
                .map(|(v, ok)| *ok && !v.is_nan())
                .collect();
            for shape in &shapes {
                let r = runs::runs(shape);
                let reach = shape.reach() as usize;
                for stat in [
                    FocalStat::Sum,
                    FocalStat::Mean,
                    FocalStat::Min,
                    FocalStat::Max,
                ] {
                    let size = (width, height);
                    let slow =
                        runs::per_cell(&r, &values, &usable, size, |v| v, |w| summarise(stat, w));
                    let fast = tables::fold(stat, &r, reach, &values, &usable, (width, height))
                        .unwrap_or_else(|| panic!("{stat:?} has a table"));
                    assert_eq!(fast.1, slow.1, "{stat:?} {shape} {width}x{height}");
                    for (f, s) in fast.0.iter().zip(&slow.0).filter(|(f, _)| !f.is_nan()) {
                        let close = f == s || (f - s).abs() <= 1e-12 * s.abs().max(1.0);
                        assert!(close, "{stat:?} {shape}: {f} != {s}");
                    }
                }
            }
        }
    }

    /// Median and mode on order keys equal those of the values sorted by `total_cmp`.
    #[test]
    fn keyed_median_and_mode_equal_a_sort_of_the_values() {
        let (values, _) = awkward_grid(40, 40);
        let classes: Vec<f64> = values.iter().map(|v| (v / 300.0).round()).collect();
        // Signed zeros: -0 and 0 are one value to the mode.
        let zeros: Vec<f64> = classes.iter().map(|v| v * 0.0).collect();
        for data in [&values, &classes, &zeros] {
            let usable: Vec<f64> = data.iter().copied().filter(|v| !v.is_nan()).collect();
            for n in 1..60 {
                for window in usable.chunks_exact(n).take(20) {
                    let mut sorted = window.to_vec();
                    sorted.sort_by(f64::total_cmp);
                    let mid = n / 2;
                    let want = if n % 2 == 1 {
                        sorted[mid]
                    } else {
                        (sorted[mid - 1] + sorted[mid]) / 2.0
                    };
                    let got = summarise(FocalStat::Median, &mut window.to_vec());
                    assert!(got.is_some_and(|g| g == want || (g.is_nan() && want.is_nan())));
                    let count = |v: f64| sorted.iter().filter(|w| **w == v).count();
                    let most = sorted.iter().map(|v| count(*v)).max().unwrap_or(0);
                    let first = sorted.iter().copied().find(|v| count(*v) == most);
                    assert_eq!(summarise(FocalStat::Mode, &mut window.to_vec()), first);
                }
            }
        }
    }
}
