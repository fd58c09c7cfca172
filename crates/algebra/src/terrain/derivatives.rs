//! The two ways gdaldem takes a cell's derivatives from its 3×3 window, Horn's and
//! Zevenbergen & Thorne's, per window and per row. They give differences of elevations,
//! (west minus east, south minus north); the caller divides by the ground distance.
//!
//! The sums are float32, added in gdaldem's order (`afWin[0] + afWin[3] + afWin[3] +
//! afWin[6]`, left to right): gdaldem reads elevations as float32 and sums its window in
//! float32 before turning the difference into a double. Summing the same way gives the same
//! bits, so slope and aspect match gdaldem to its float32 output rather than to the
//! rounding of its sums (about 1e-4 degrees apart when we summed in f64), and a row of
//! float32 sums is eight lanes wide on AVX2 where f64 was four.

/// The nine elevations around a cell, row by row from the north-west, the cell itself in
/// the middle: gdaldem's `afWin` order (0 1 2 / 3 4 5 / 6 7 8).
pub(super) type Window = [f32; 9];

/// A way of taking a cell's derivatives. Divided by `DIVISOR` pixel sizes, its differences
/// are rise over run.
pub(super) trait Derivatives {
    const DIVISOR: f64;

    /// The differences of one window.
    fn of_window(w: &Window) -> (f32, f32);

    /// The differences of the interior cells of `rows.row` (columns 1..width-1) into
    /// `east` and `north` (one entry a cell, the first for column 1), as if every cell held
    /// an elevation: the caller redoes the cells next to one that does not. Rows shorter
    /// than `east.len() + 2` leave the differences as they were.
    fn of_rows(rows: [&[f32]; 3], scratch: &mut Scratch, east: &mut [f32], north: &mut [f32]);
}

/// Working space for [`Derivatives::of_rows`], a row long.
pub(super) struct Scratch {
    sums: Vec<f32>,
}

impl Scratch {
    pub(super) fn new(width: usize) -> Scratch {
        Scratch {
            sums: vec![0.0; width],
        }
    }
}

/// Columns `c - 1`, `c` and `c + 1` of a row, for its `n` interior columns `c`.
#[inline(always)]
fn shifted(x: &[f32], n: usize) -> Option<(&[f32], &[f32], &[f32])> {
    Some((x.get(..n)?, x.get(1..=n)?, x.get(2..n + 2)?))
}

/// Horn (1981), weighted over all eight neighbours: its sums span two pixels with weights
/// 1, 2, 1, so a difference spans 8 pixel sizes.
pub(super) struct Horn;

impl Derivatives for Horn {
    const DIVISOR: f64 = 8.0;

    #[inline(always)]
    fn of_window(w: &Window) -> (f32, f32) {
        let [nw, n, ne, west, _, east, sw, s, se] = *w;
        (
            (((nw + west) + west) + sw) - (((ne + east) + east) + se),
            (((sw + s) + s) + se) - (((nw + n) + n) + ne),
        )
    }

    /// West minus east is the difference of the columns' sums (`above + row + row +
    /// below`) two apart; south minus north is the difference of the rows below and above,
    /// each summed along itself. Each step is a loop over equal slices, which vectorises.
    #[inline(always)]
    fn of_rows(rows: [&[f32]; 3], scratch: &mut Scratch, east: &mut [f32], north: &mut [f32]) {
        let [above, row, below] = rows;
        let columns = above.iter().zip(row).zip(below);
        for (sum, ((&a, &m), &b)) in scratch.sums.iter_mut().zip(columns) {
            *sum = ((a + m) + m) + b;
        }
        let n = east.len();
        if let (Some(west_sums), Some(east_sums)) =
            (scratch.sums.get(..n), scratch.sums.get(2..n + 2))
        {
            for (east, (&w, &e)) in east.iter_mut().zip(west_sums.iter().zip(east_sums)) {
                *east = w - e;
            }
        }
        let (Some((aw, ac, ae)), Some((bw, bc, be))) = (shifted(above, n), shifted(below, n))
        else {
            return;
        };
        let above = aw.iter().zip(ac).zip(ae);
        let below = bw.iter().zip(bc).zip(be);
        for (north, (((&aw, &ac), &ae), ((&bw, &bc), &be))) in
            north.iter_mut().zip(above.zip(below))
        {
            *north = (((bw + bc) + bc) + be) - (((aw + ac) + ac) + ae);
        }
    }
}

/// Zevenbergen & Thorne (1987), the four edge-adjacent neighbours: a difference spans two
/// pixel sizes.
pub(super) struct Zevenbergen;

impl Derivatives for Zevenbergen {
    const DIVISOR: f64 = 2.0;

    #[inline(always)]
    fn of_window(w: &Window) -> (f32, f32) {
        let [_, n, _, west, _, east, _, s, _] = *w;
        (west - east, s - n)
    }

    #[inline(always)]
    fn of_rows(rows: [&[f32]; 3], _: &mut Scratch, east: &mut [f32], north: &mut [f32]) {
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
        let elevation = |r: usize, c: usize| ((r * 7 + c * 13) % 11) as f32 * 1.37 + c as f32;
        let rows: Vec<Vec<f32>> = (0..3)
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
            let w: Vec<f32> = (0..3)
                .flat_map(|r| (c - 1..=c + 1).map(move |c| (r, c)))
                .map(|(r, c)| rows[r][c])
                .collect();
            let window: Window = w.try_into().unwrap();
            // Bit for bit: both add in gdaldem's order.
            let (e, n) = D::of_window(&window);
            assert_eq!(
                (e.to_bits(), n.to_bits()),
                (east[c - 1].to_bits(), north[c - 1].to_bits()),
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
