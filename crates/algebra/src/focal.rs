//! Focal statistics: each cell's value from the valid cells of its neighbourhood, as
//! GeoTrellis's focal operations compute them (and scipy's `generic_filter` with a
//! NaN-ignoring function over a footprint).
//!
//! A cell's result uses the valid, non-NaN cells of the neighbourhood that lie on the grid;
//! it is invalid only when there is none. So, as in GeoTrellis, a nodata cell with valid
//! neighbours gets a value (`where(a == NULL, focal_mean(a, 3), a)` fills small holes), and
//! valid data spreads `reach` cells into nodata; `focal_mean(a, 3) * (a != NULL)` keeps the
//! original footprint.

use crate::neighborhood::{FocalStat, Shape};

/// `stat` over `shape` at every cell of a `width` × `height` row-major grid.
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
    let offsets = shape.offsets();
    let reach = shape.reach() as usize;
    let mut out_values = vec![f64::NAN; cells];
    let mut out_valid = vec![false; cells];
    // Neighbour values of one cell, reused: no allocation per cell.
    let mut window: Vec<f64> = Vec::with_capacity(offsets.len());
    for row in 0..height {
        for col in 0..width {
            window.clear();
            let inside =
                row >= reach && row + reach < height && col >= reach && col + reach < width;
            for &(dx, dy) in &offsets {
                let neighbour = if inside {
                    Some((
                        (row as isize + dy as isize) as usize,
                        (col as isize + dx as isize) as usize,
                    ))
                } else {
                    on_grid(row, col, dx, dy, width, height)
                };
                let Some((r, c)) = neighbour else { continue };
                let i = r * width + c;
                if let (Some(true), Some(&v)) = (valid.get(i), values.get(i))
                    && !v.is_nan()
                {
                    window.push(v);
                }
            }
            let i = row * width + col;
            if let Some(v) = summarise(stat, &mut window)
                && let (Some(slot), Some(ok)) = (out_values.get_mut(i), out_valid.get_mut(i))
            {
                *slot = v;
                *ok = !v.is_nan();
            }
        }
    }
    (out_values, out_valid)
}

/// The grid cell at offset (`dx`, `dy`) of (`row`, `col`), if on the grid.
fn on_grid(
    row: usize,
    col: usize,
    dx: i32,
    dy: i32,
    width: usize,
    height: usize,
) -> Option<(usize, usize)> {
    let r = row.checked_add_signed(dy as isize)?;
    let c = col.checked_add_signed(dx as isize)?;
    (r < height && c < width).then_some((r, c))
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
        FocalStat::Median => median(window),
        FocalStat::Mode => mode(window),
    })
}

/// numpy's median: the middle value, or the mean of the two middle values.
fn median(window: &mut [f64]) -> f64 {
    let (mid, odd) = (window.len() / 2, window.len() % 2 == 1);
    let (below, upper, _) = window.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if odd {
        return upper;
    }
    let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lower + upper) / 2.0
}

/// The most frequent value; among equally frequent ones, the smallest.
fn mode(window: &mut [f64]) -> f64 {
    window.sort_unstable_by(f64::total_cmp);
    let (mut best, mut best_count) = (f64::NAN, 0usize);
    let mut i = 0;
    while i < window.len() {
        let v = window[i];
        let run = window[i..].iter().take_while(|w| **w == v).count().max(1);
        if run > best_count {
            (best, best_count) = (v, run);
        }
        i += run;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_window() {
        let mut w = vec![3.0, 1.0, 2.0, 2.0];
        assert_eq!(median(&mut w.clone()), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0]), 3.0);
        assert_eq!(mode(&mut w), 2.0);
        assert_eq!(mode(&mut [5.0, 1.0, 5.0, 1.0]), 1.0);
        assert_eq!(summarise(FocalStat::Std, &mut [1.0, 3.0]), Some(1.0));
        assert_eq!(summarise(FocalStat::Min, &mut []), None);
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
}
