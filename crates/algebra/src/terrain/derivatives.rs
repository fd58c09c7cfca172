//! The two ways gdaldem takes a cell's derivatives from its 3×3 window, Horn's and
//! Zevenbergen & Thorne's, per window and per row. They give differences of elevations,
//! (west minus east, south minus north); the caller divides by the ground distance.

/// The nine elevations around a cell, row by row from the north-west, the cell itself in
/// the middle: gdaldem's `afWin` order (0 1 2 / 3 4 5 / 6 7 8).
pub(super) type Window = [f64; 9];

/// A way of taking a cell's derivatives. Divided by `DIVISOR` pixel sizes, its differences
/// are rise over run.
pub(super) trait Derivatives {
    const DIVISOR: f64;

    /// The differences of one window.
    fn of_window(w: &Window) -> (f64, f64);

    /// The differences of the interior cells of `rows.row` (columns 1..width-1) into
    /// `east` and `north` (one entry a cell, the first for column 1), as if every cell held
    /// an elevation: the caller redoes the cells next to one that does not.
    fn of_rows(rows: [&[f64]; 3], scratch: &mut Scratch, east: &mut [f64], north: &mut [f64]);
}

/// Working space for [`Derivatives::of_rows`], a row long.
pub(super) struct Scratch {
    sums: Vec<f64>,
    falls: Vec<f64>,
}

impl Scratch {
    pub(super) fn new(width: usize) -> Scratch {
        Scratch {
            sums: vec![0.0; width],
            falls: vec![0.0; width],
        }
    }
}

/// Horn (1981), weighted over all eight neighbours: its sums span two pixels with weights
/// 1, 2, 1, so a difference spans 8 pixel sizes.
pub(super) struct Horn;

impl Derivatives for Horn {
    const DIVISOR: f64 = 8.0;

    #[inline(always)]
    fn of_window(w: &Window) -> (f64, f64) {
        let [nw, n, ne, west, _, east, sw, s, se] = *w;
        (
            (nw + 2.0 * west + sw) - (ne + 2.0 * east + se),
            (sw + 2.0 * s + se) - (nw + 2.0 * n + ne),
        )
    }

    /// Horn's kernels are separable: west minus east is the difference of the columns'
    /// weighted sums two apart, south minus north the weighted sum along the row of the
    /// columns' falls. Each step is a loop over zipped rows, which vectorises.
    #[inline(always)]
    fn of_rows(rows: [&[f64]; 3], scratch: &mut Scratch, east: &mut [f64], north: &mut [f64]) {
        let [above, row, below] = rows;
        let columns = above.iter().zip(row).zip(below);
        let sums_falls = scratch.sums.iter_mut().zip(scratch.falls.iter_mut());
        for ((sum, fall), ((&a, &m), &b)) in sums_falls.zip(columns) {
            (*sum, *fall) = (a + 2.0 * m + b, b - a);
        }
        let sums = scratch.sums.iter().zip(scratch.sums.iter().skip(2));
        for (east, (&west_sum, &east_sum)) in east.iter_mut().zip(sums) {
            *east = west_sum - east_sum;
        }
        let falls = scratch.falls.iter().zip(scratch.falls.iter().skip(1));
        let falls = falls.zip(scratch.falls.iter().skip(2));
        for (north, ((&west_fall, &fall), &east_fall)) in north.iter_mut().zip(falls) {
            *north = west_fall + 2.0 * fall + east_fall;
        }
    }
}

/// Zevenbergen & Thorne (1987), the four edge-adjacent neighbours: a difference spans two
/// pixel sizes.
pub(super) struct Zevenbergen;

impl Derivatives for Zevenbergen {
    const DIVISOR: f64 = 2.0;

    #[inline(always)]
    fn of_window(w: &Window) -> (f64, f64) {
        let [_, n, _, west, _, east, _, s, _] = *w;
        (west - east, s - n)
    }

    #[inline(always)]
    fn of_rows(rows: [&[f64]; 3], _: &mut Scratch, east: &mut [f64], north: &mut [f64]) {
        let [above, row, below] = rows;
        for (east, (&w, &e)) in east.iter_mut().zip(row.iter().zip(row.iter().skip(2))) {
            *east = w - e;
        }
        let columns = above.iter().zip(below).skip(1);
        for (north, (&n, &s)) in north.iter_mut().zip(columns) {
            *north = s - n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows' differences equal each window's, cell by cell.
    fn rows_agree_with_windows<D: Derivatives>() {
        let width = 9;
        let elevation = |r: usize, c: usize| ((r * 7 + c * 13) % 11) as f64 * 1.5 + c as f64;
        let rows: Vec<Vec<f64>> = (0..3)
            .map(|r| (0..width).map(|c| elevation(r, c)).collect())
            .collect();
        let (mut east, mut north) = (vec![0.0; width - 2], vec![0.0; width - 2]);
        let mut scratch = Scratch::new(width);
        D::of_rows(
            [&rows[0], &rows[1], &rows[2]],
            &mut scratch,
            &mut east,
            &mut north,
        );
        for c in 1..width - 1 {
            let w: Vec<f64> = (0..3)
                .flat_map(|r| (c - 1..=c + 1).map(move |c| (r, c)))
                .map(|(r, c)| rows[r][c])
                .collect();
            let window: Window = w.try_into().unwrap();
            assert_eq!(
                D::of_window(&window),
                (east[c - 1], north[c - 1]),
                "column {c}"
            );
        }
    }

    #[test]
    fn horn_rows_agree_with_windows() {
        rows_agree_with_windows::<Horn>();
    }

    #[test]
    fn zevenbergen_rows_agree_with_windows() {
        rows_agree_with_windows::<Zevenbergen>();
    }

    #[test]
    fn a_plane_rising_east_and_north() {
        // 3 m more per column east, 5 m more per row north (rows run south).
        let w = [10.0, 13.0, 16.0, 5.0, 8.0, 11.0, 0.0, 3.0, 6.0];
        assert_eq!(Horn::of_window(&w), (-3.0 * 8.0, -5.0 * 8.0));
        assert_eq!(Zevenbergen::of_window(&w), (-3.0 * 2.0, -5.0 * 2.0));
    }
}
