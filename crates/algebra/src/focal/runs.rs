//! A neighbourhood as horizontal runs of cells, and the per-cell loop over them that every
//! statistic can use (std, median and mode always do).
//!
//! Every shape is a few runs per row (a circle one, an annulus two), so a cell's
//! neighbours are a few contiguous slices of each row. Clipping a run to the grid is one
//! `max` and one `min` per run, not a bounds check per neighbour, and the copy of a slice
//! into the window is a loop over zipped slices the compiler keeps free of checks.

use std::ops::Range;

use crate::neighborhood::Shape;

/// Cells `dx0 .. dx0 + len` (east of the focus) of row `dy` (south of the focus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    pub dy: isize,
    pub dx0: isize,
    pub len: usize,
}

/// The runs of `shape`, row by row from the north, west to east within a row: the order
/// of [`Shape::offsets`], so a window is filled in the same order as cell by cell.
pub(super) fn runs(shape: &Shape) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for (dx, dy) in shape.offsets() {
        let (dx, dy) = (dx as isize, dy as isize);
        match out.last_mut() {
            Some(run) if run.dy == dy && run.dx0 + run.len as isize == dx => run.len += 1,
            _ => out.push(Run {
                dy,
                dx0: dx,
                len: 1,
            }),
        }
    }
    out
}

/// The row-major indices of the on-grid cells of `run` around (`row`, `col`), or `None`
/// when the run lies off the grid.
pub(super) fn span(
    run: &Run,
    row: usize,
    col: usize,
    width: usize,
    height: usize,
) -> Option<Range<usize>> {
    let r = row.checked_add_signed(run.dy).filter(|r| *r < height)?;
    let first = col.checked_add_signed(run.dx0).unwrap_or(0);
    // `col + dx0 + len`, at least 0 (the run ends west of the grid) and at most `width`.
    let end = col
        .saturating_add(run.len)
        .checked_add_signed(run.dx0)
        .unwrap_or(0)
        .min(width);
    (first < end).then(|| r * width + first..r * width + end)
}

/// At every cell, `summary` of the window of its usable (valid, not NaN) neighbours, each
/// as `item(value)`, gathered run by run; `None` from `summary` is an invalid cell.
pub(super) fn per_cell<T>(
    runs: &[Run],
    values: &[f64],
    usable: &[bool],
    (width, height): (usize, usize),
    item: impl Fn(f64) -> T,
    mut summary: impl FnMut(&mut [T]) -> Option<f64>,
) -> (Vec<f64>, Vec<bool>) {
    let cells = width * height;
    let mut out_values = vec![f64::NAN; cells];
    let mut out_valid = vec![false; cells];
    let capacity = runs.iter().map(|r| r.len).sum();
    // One window reused for every cell: no allocation per cell.
    let mut window: Vec<T> = Vec::with_capacity(capacity);
    let cells_out = out_values.iter_mut().zip(out_valid.iter_mut());
    for (i, (slot, ok)) in cells_out.enumerate() {
        let (row, col) = (i / width, i % width);
        window.clear();
        for run in runs {
            let Some(range) = span(run, row, col, width, height) else {
                continue;
            };
            let (Some(vs), Some(us)) = (values.get(range.clone()), usable.get(range)) else {
                continue;
            };
            let usable_cells = vs.iter().zip(us).filter(|(_, u)| **u);
            window.extend(usable_cells.map(|(v, _)| item(*v)));
        }
        if let Some(v) = summary(&mut window) {
            *slot = v;
            *ok = !v.is_nan();
        }
    }
    (out_values, out_valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_become_runs() {
        let square = runs(&Shape::Square(1));
        assert_eq!(square.len(), 3);
        assert!(square.iter().all(|r| r.dx0 == -1 && r.len == 3));
        // An annulus has two runs on the focus's row: west and east of the hole.
        let ring = runs(&Shape::Annulus(1.0, 1.0));
        let middle: Vec<_> = ring.iter().filter(|r| r.dy == 0).collect();
        assert_eq!(middle.len(), 2);
        let cells: usize = runs(&Shape::Circle(8.0)).iter().map(|r| r.len).sum();
        assert_eq!(cells, Shape::Circle(8.0).offsets().len());
    }

    #[test]
    fn spans_are_clipped_to_the_grid() {
        let run = Run {
            dy: -1,
            dx0: -2,
            len: 5,
        };
        // 4 wide, 3 high: row 1, col 0 reads row 0, columns 0..3.
        assert_eq!(span(&run, 1, 0, 4, 3), Some(0..3));
        assert_eq!(span(&run, 1, 3, 4, 3), Some(1..4));
        assert_eq!(span(&run, 0, 1, 4, 3), None);
        let west = Run {
            dy: 0,
            dx0: -3,
            len: 2,
        };
        assert_eq!(span(&west, 0, 0, 4, 3), None);
        assert_eq!(span(&west, 0, 3, 4, 3), Some(0..2));
    }
}
