//! Slope, aspect and hillshade over the 3×3 window of each cell, as GDAL 3.6's `gdaldem`
//! computes them with `-compute_edges`: Horn's or Zevenbergen & Thorne's derivatives, slope
//! in degrees, aspect in degrees clockwise from north (flat cells are nodata), and gdaldem's
//! default hillshade as its byte values 1..255. It does not render, colour or combine.
//!
//! # Neighbours that are missing
//!
//! A cell whose own value is invalid (or NaN) is invalid in the output. An invalid or NaN
//! neighbour takes the cell's own value, which is gdaldem's `-compute_edges` rule for
//! nodata neighbours. A neighbour outside the grid does the same. There gdaldem would
//! instead extrapolate linearly (`2a - b`) from the raster's frame, but our grid is a tile
//! and its halo: past the halo lies data we did not read, not the edge of the world, and
//! treating it as nodata keeps a cell's value independent of how its tile was cut. The
//! tests run gdaldem on the input padded with a one-cell nodata ring, which makes gdaldem
//! follow the same rule.
//!
//! # Scales
//!
//! Row `r` is `grid.pixel_size[r]` metres across in both directions, and elevations are
//! multiplied by `z_factor`: row `r` equals gdaldem on a raster of that pixel size with
//! `-z z_factor` (hillshade) or `-s 1/z_factor` (slope; gdaldem's slope ignores `-z`, so
//! its scale carries the factor). A row with a pixel size that is not a positive finite
//! number is invalid.
//!
//! # Where the numbers may differ from gdaldem's
//!
//! None for slope and aspect beyond gdaldem's float32 output: elevations are taken as
//! float32 and the window summed in float32 in gdaldem's order, then scaled and finished in
//! f64 as gdaldem does (`derivatives`). The hillshade is computed in float32 (`surface`), as
//! approximate as gdaldem's own (which divides by SSE's approximate reciprocal square
//! root), so a byte can differ by one where the exact value lies within ~1e-4 of a rounding
//! boundary: 7 cells in 107,925 on the corpus DEM (`crates/server/tests/terrain_oracle.rs`).
//!
//! # Speed
//!
//! Each row takes two passes over scratch rows allocated once per call: its derivatives,
//! then the operation over them. Three float32 rows are kept as the loop moves down, each
//! converted once and checked once for missing cells (a row inside a layer has none, and
//! then no cell is marked or redone). Inside the frame the derivatives are sums of shifted
//! rows, with no per-cell window; only cells next to a missing elevation are then redone
//! from their window, with the substitution, and the grid's frame asks of each neighbour
//! whether it is on the grid. Only the cells inside the caller's margin are computed and written
//! ([`terrain_inside`]): a tile's halo is read, never answered. Both passes run through
//! [`vectorised`] (AVX2 where the CPU has it, simd128 on wasm). Measured (criterion
//! `hillshade_horn_258_whole`, x86-64 with AVX2, 258×258 cells, a shared 2-core host):
//! 146 us, from 220 us with f64 sums and shade and each row's missing cells looked for
//! three times; slope and aspect cost more, in libm's `atan` and `atan2`.

mod derivatives;
mod surface;

use tilefn_raster::{Kernel, vectorised};

use crate::neighborhood::{Grid, Method, TerrainOp};
use derivatives::{Derivatives, Horn, Scratch, Window, Zevenbergen};
use surface::{Aspect, Hillshade, Slope, Surface};

/// Three consecutive cells of a row: their values and which of them are valid.
type Triple<'a> = (&'a [f32], &'a [bool]);

/// `op` over `values` (row-major, `grid.width` × `grid.height`): a cell is invalid where
/// its own value is; an invalid or off-grid neighbour takes the cell's own value.
///
/// When the lengths of `values`, `valid` or `grid.pixel_size` do not fit the grid, every
/// cell is invalid. Invalid cells hold NaN.
pub fn terrain(
    op: TerrainOp,
    grid: &Grid,
    values: &[f64],
    valid: &[bool],
) -> (Vec<f64>, Vec<bool>) {
    terrain_inside(op, grid, values, valid, 0)
}

/// [`terrain`] of the cells at least `margin` cells inside the grid's frame only: a
/// `(width - 2 margin) × (height - 2 margin)` result, row-major. A tile read with a halo
/// keeps only its own cells, so computing the rest and cropping it off would be wasted
/// (measured: a third of a hillshade tile's kernel time went to writing, reading and
/// copying the ring and the full-size buffers).
pub fn terrain_inside(
    op: TerrainOp,
    grid: &Grid,
    values: &[f64],
    valid: &[bool],
    margin: usize,
) -> (Vec<f64>, Vec<bool>) {
    let inside = |side: usize| side.checked_sub(margin.checked_mul(2)?);
    let (Some(cells), Some(width), Some(height)) = (
        grid.width.checked_mul(grid.height),
        inside(grid.width),
        inside(grid.height),
    ) else {
        // No such grid can be held in memory, or nothing is inside the margin.
        return (Vec::new(), Vec::new());
    };
    let out_cells = width * height;
    let fits =
        values.len() == cells && valid.len() == cells && grid.pixel_size.len() == grid.height;
    if out_cells == 0 || !fits {
        return (vec![f64::NAN; out_cells], vec![false; out_cells]);
    }
    let input = Input {
        grid,
        values,
        valid,
    };
    let mut out = Output {
        values: Vec::with_capacity(out_cells),
        valid: Vec::with_capacity(out_cells),
        margin,
    };
    match op {
        TerrainOp::Slope => with_method(&input, Slope, &mut out),
        TerrainOp::Aspect => with_method(&input, Aspect, &mut out),
        TerrainOp::Hillshade { azimuth, altitude } => {
            with_method(&input, Hillshade::new(azimuth, altitude), &mut out);
        }
    }
    (out.values, out.valid)
}

/// The input grid, its sizes checked against the grid's.
struct Input<'a> {
    grid: &'a Grid,
    values: &'a [f64],
    valid: &'a [bool],
}

/// One row of the input grid, its elevations as float32.
#[derive(Clone, Copy)]
struct Row<'a> {
    values: &'a [f32],
    valid: &'a [bool],
    /// Cells without an elevation (invalid or NaN), and whether there is any.
    missing: &'a [bool],
    any_missing: bool,
}

impl<'a> Row<'a> {
    /// Columns `c - 1..=c + 1`.
    fn triple(self, c: usize) -> Option<Triple<'a>> {
        let columns = c.checked_sub(1)?..=c.checked_add(1)?;
        Some((self.values.get(columns.clone())?, self.valid.get(columns)?))
    }
}

impl Input<'_> {
    fn valid_row(&self, r: usize) -> Option<&[bool]> {
        let start = r.checked_mul(self.grid.width)?;
        self.valid.get(start..start.checked_add(self.grid.width)?)
    }

    fn values_row(&self, r: usize) -> Option<&[f64]> {
        let start = r.checked_mul(self.grid.width)?;
        self.values.get(start..start.checked_add(self.grid.width)?)
    }

    /// The elevation at `(r, c)` as float32, if the cell is on the grid and holds one.
    fn elevation(&self, r: usize, c: usize) -> Option<f32> {
        if r >= self.grid.height || c >= self.grid.width {
            return None;
        }
        let i = r * self.grid.width + c;
        let value = *self.values.get(i)? as f32;
        (*self.valid.get(i)? && !value.is_nan()).then_some(value)
    }
}

/// The result, filled row by row with the cells inside `margin`.
struct Output {
    values: Vec<f64>,
    valid: Vec<bool>,
    margin: usize,
}

/// Monomorphises the row loop for the derivative method: the method is fixed per request,
/// so no cell pays for choosing it.
fn with_method(input: &Input<'_>, surface: impl Surface, out: &mut Output) {
    match input.grid.terrain.method {
        Method::Horn => rows::<Horn>(input, surface, out),
        Method::Zevenbergen => rows::<Zevenbergen>(input, surface, out),
    }
}

/// A row and the rows above and below it.
#[derive(Clone, Copy)]
struct ThreeRows<'a> {
    above: Row<'a>,
    row: Row<'a>,
    below: Row<'a>,
}

/// Three consecutive rows of the grid as float32, kept as the row loop moves down, so each
/// row is converted once and the grid is never copied whole.
struct Elevations {
    rows: [Vec<f32>; 3],
    missing: [Vec<bool>; 3],
    any_missing: [bool; 3],
    /// Which grid row each slot holds.
    held: [Option<usize>; 3],
}

impl Elevations {
    fn new(width: usize) -> Elevations {
        let row = || vec![0.0; width];
        let flags = || vec![false; width];
        Elevations {
            rows: [row(), row(), row()],
            missing: [flags(), flags(), flags()],
            any_missing: [false; 3],
            held: [None; 3],
        }
    }

    /// Converts the rows around `r` that are not held yet (row `r - 1` from 1 on).
    fn load(&mut self, input: &Input<'_>, r: usize) {
        for row in [r.checked_sub(1), Some(r), r.checked_add(1)]
            .into_iter()
            .flatten()
        {
            let slot = row % 3;
            if self.held[slot] == Some(row) {
                continue;
            }
            if let (Some(source), Some(valid), Some(target), Some(missing)) = (
                input.values_row(row),
                input.valid_row(row),
                self.rows.get_mut(slot),
                self.missing.get_mut(slot),
            ) {
                self.any_missing[slot] = vectorised(ToFloat32 {
                    source,
                    valid,
                    target,
                    missing,
                });
                self.held[slot] = Some(row);
            }
        }
    }

    /// Rows `r - 1`, `r` and `r + 1`, loaded by [`load`](Self::load).
    fn around<'a>(&'a self, input: &'a Input<'a>, r: usize) -> Option<ThreeRows<'a>> {
        let row = |row: usize| {
            let slot = row % 3;
            (self.held[slot] == Some(row)).then_some(())?;
            Some(Row {
                values: self.rows.get(slot)?,
                valid: input.valid_row(row)?,
                missing: self.missing.get(slot)?,
                any_missing: *self.any_missing.get(slot)?,
            })
        };
        Some(ThreeRows {
            above: row(r.checked_sub(1)?)?,
            row: row(r)?,
            below: row(r + 1)?,
        })
    }
}

/// A row's elevations as float32, and which cells have none (invalid or NaN); the output
/// says whether any has none. gdaldem reads elevations as float32 and sums them so (see
/// `derivatives`); the conversion is exact for the integer and float32 DEMs that fill tiles.
struct ToFloat32<'a> {
    source: &'a [f64],
    valid: &'a [bool],
    target: &'a mut [f32],
    missing: &'a mut [bool],
}

impl Kernel for ToFloat32<'_> {
    type Output = bool;

    #[inline(always)]
    fn run(self) -> bool {
        for (target, &source) in self.target.iter_mut().zip(self.source) {
            *target = source as f32;
        }
        // Whether any cell misses, as two OR reductions, which vectorise: flagging every
        // cell, or folding the flags, stayed scalar in wasm and cost ~0.06 ms of a 1.1 ms
        // hillshade tile in V8, for rows that almost always miss nothing.
        let invalid = self.valid.iter().fold(0u8, |any, &ok| any | u8::from(!ok));
        let nan = self
            .target
            .iter()
            .fold(0u32, |any, v| any | u32::from(v.is_nan()));
        if invalid == 0 && nan == 0 {
            return false;
        }
        let cells = self.target.iter().zip(self.valid);
        for (missing, (value, &ok)) in self.missing.iter_mut().zip(cells) {
            *missing = !ok | value.is_nan();
        }
        true
    }
}

/// Runs the rows inside the margin in two passes each: the differences, then the operation
/// over them.
fn rows<D: Derivatives>(input: &Input<'_>, surface: impl Surface, out: &mut Output) {
    let (width, height) = (input.grid.width, input.grid.height);
    let margin = out.margin;
    let columns = margin..width - margin;
    let z_factor = input.grid.terrain.z_factor;
    let mut scratch = Scratch::new(width);
    let mut elevations = Elevations::new(width);
    // Columns of the three rows around a row with a cell that holds no elevation.
    let mut missing = vec![false; width];
    let mut differences = Differences {
        east: vec![f32::NAN; width],
        north: vec![f32::NAN; width],
    };
    for r in margin..height - margin {
        let start = out.values.len();
        let pixel_size = input.grid.pixel_size.get(r).copied().unwrap_or(f64::NAN);
        if !(pixel_size.is_finite() && pixel_size > 0.0) {
            out.values.resize(start + columns.len(), f64::NAN);
            out.valid.resize(start + columns.len(), false);
            continue;
        }
        if width >= 3 && r >= 1 && r + 1 < height {
            elevations.load(input, r);
        }
        match elevations.around(input, r).filter(|_| width >= 3) {
            Some(rows) => {
                vectorised(FromRows::<D> {
                    rows,
                    scratch: &mut scratch,
                    missing: &mut missing,
                    differences: &mut differences,
                    method: std::marker::PhantomData,
                });
                differences.redo_near_missing::<D>(rows, &missing);
                if margin == 0 {
                    differences.fill_edges::<D>(input, r);
                }
            }
            None => differences.fill_from_edge_windows::<D>(input, r),
        }
        let (Some(east), Some(north)) = (
            differences.east.get(columns.clone()),
            differences.north.get(columns.clone()),
        ) else {
            // Unreachable: the margin leaves `columns` inside the row.
            out.values.resize(start + columns.len(), f64::NAN);
            out.valid.resize(start + columns.len(), false);
            continue;
        };
        vectorised(SurfaceRow {
            surface,
            // Multiplying the differences by this makes them rise over run, in z units.
            scale: z_factor / (D::DIVISOR * pixel_size),
            east,
            north,
            out,
        });
    }
}

/// The first pass over a row's interior as a [`Kernel`] for [`vectorised`]: which columns
/// miss an elevation, and the differences as if none did ([`Derivatives::of_rows`]).
struct FromRows<'a, D> {
    rows: ThreeRows<'a>,
    scratch: &'a mut Scratch,
    missing: &'a mut [bool],
    differences: &'a mut Differences,
    method: std::marker::PhantomData<D>,
}

impl<D: Derivatives> Kernel for FromRows<'_, D> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let ThreeRows { above, row, below } = self.rows;
        // Inside a layer no row misses anything: nothing to mark (nor to redo).
        if above.any_missing | row.any_missing | below.any_missing {
            let rows = above.missing.iter().zip(row.missing).zip(below.missing);
            for (missing, ((&a, &m), &b)) in self.missing.iter_mut().zip(rows) {
                *missing = a | m | b;
            }
        }
        let (east, north) = self.differences.interior();
        D::of_rows(
            [above.values, row.values, below.values],
            self.scratch,
            east,
            north,
        );
    }
}

/// One row's differences (west minus east, south minus north); NaN where the cell has no
/// elevation.
struct Differences {
    east: Vec<f32>,
    north: Vec<f32>,
}

impl Differences {
    /// The interior cells' entries (columns 1..width-1).
    fn interior(&mut self) -> (&mut [f32], &mut [f32]) {
        let end = self.east.len().saturating_sub(1);
        let east = self.east.get_mut(1..end).unwrap_or_default();
        let north = self.north.get_mut(1..end).unwrap_or_default();
        (east, north)
    }

    /// Redoes from its window each interior cell with a missing elevation among its nine
    /// (`missing` marks the columns): the window substitutes the cell's own value, or
    /// there is none when the cell itself is missing.
    fn redo_near_missing<D: Derivatives>(&mut self, rows: ThreeRows<'_>, missing: &[bool]) {
        if !(rows.above.any_missing | rows.row.any_missing | rows.below.any_missing) {
            return;
        }
        let (east, north) = self.interior();
        let cells = east.iter_mut().zip(north.iter_mut());
        let own = rows.row.values.iter().zip(rows.row.valid).skip(1);
        for (c, (((east, north), near), (value, &ok))) in
            (1..).zip(cells.zip(missing.windows(3)).zip(own))
        {
            // A cell without an elevation has no result: no window to build (a tile at a
            // layer's edge has thousands of them; building each cost ~5% of its time).
            if !ok || value.is_nan() {
                (*east, *north) = (f32::NAN, f32::NAN);
            } else if let [west, centre, east_of] = *near
                && west | centre | east_of
            {
                let w = interior_window(rows, c);
                (*east, *north) = w.map_or((f32::NAN, f32::NAN), |w| D::of_window(&w));
            }
        }
    }

    /// Every cell of row `r` from [`edge_window`], for the first and last rows and grids
    /// narrower than three cells.
    fn fill_from_edge_windows<D: Derivatives>(&mut self, input: &Input<'_>, r: usize) {
        let cells = self.east.iter_mut().zip(self.north.iter_mut());
        for (c, (east, north)) in cells.enumerate() {
            let w = edge_window(input, r, c);
            (*east, *north) = w.map_or((f32::NAN, f32::NAN), |w| D::of_window(&w));
        }
    }

    /// The first and the last cell of row `r` from [`edge_window`].
    fn fill_edges<D: Derivatives>(&mut self, input: &Input<'_>, r: usize) {
        let last = input.grid.width.saturating_sub(1);
        for c in [0, last] {
            let w = edge_window(input, r, c);
            let (east, north) = w.map_or((f32::NAN, f32::NAN), |w| D::of_window(&w));
            if let (Some(e), Some(n)) = (self.east.get_mut(c), self.north.get_mut(c)) {
                (*e, *n) = (east, north);
            }
        }
    }
}

/// The second pass over a row's cells inside the margin, as a [`Kernel`] for
/// [`vectorised`]: a result of NaN is an invalid cell.
struct SurfaceRow<'a, S> {
    surface: S,
    scale: f64,
    east: &'a [f32],
    north: &'a [f32],
    out: &'a mut Output,
}

impl<S: Surface> Kernel for SurfaceRow<'_, S> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let (surface, scale, out) = (self.surface, self.scale, self.out);
        let start = out.values.len();
        // Appended on wasm, where filling the row first was a second pass over every cell
        // (~2% of a warm hillshade tile in V8, bench/wasm). Elsewhere written over the
        // filled row: `Vec::extend` is not inlined into the AVX2 copy of this loop, which
        // then ran SSE2 (in-process hillshade tile 0.633 -> 0.689 ms).
        #[cfg(target_arch = "wasm32")]
        {
            let differences = self.east.iter().zip(self.north);
            out.values
                .extend(differences.map(|(&east, &north)| surface.at(east, north, scale)));
            let row = out.values.get(start..).unwrap_or_default();
            out.valid.extend(row.iter().map(|value| !value.is_nan()));
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let cells = self.east.len().min(self.north.len());
            out.values.resize(start + cells, f64::NAN);
            out.valid.resize(start + cells, false);
            let values = out.values.get_mut(start..).unwrap_or_default();
            let valid = out.valid.get_mut(start..).unwrap_or_default();
            let differences = self.east.iter().zip(self.north);
            let cells = values.iter_mut().zip(valid.iter_mut());
            for ((value, valid), (&east, &north)) in cells.zip(differences) {
                *value = surface.at(east, north, scale);
                *valid = !value.is_nan();
            }
        }
    }
}

/// The window of the interior cell at column `c` of `rows.row`.
fn interior_window(rows: ThreeRows<'_>, c: usize) -> Option<Window> {
    let ThreeRows { above, row, below } = rows;
    window([above.triple(c)?, row.triple(c)?, below.triple(c)?])
}

/// The window of the middle cell of `rows`, its missing neighbours taking its value.
#[inline(always)]
fn window(rows: [Triple<'_>; 3]) -> Option<Window> {
    // Fixed-size patterns, so that the nine reads and choices compile to straight-line code.
    let [
        (&[nw, n, ne], &[nw_ok, n_ok, ne_ok]),
        (&[w, centre, e], &[w_ok, centre_ok, e_ok]),
        (&[sw, s, se], &[sw_ok, s_ok, se_ok]),
    ] = rows
    else {
        return None;
    };
    if !centre_ok || centre.is_nan() {
        return None;
    }
    let or_centre = |value: f32, ok: bool| if ok && !value.is_nan() { value } else { centre };
    Some([
        or_centre(nw, nw_ok),
        or_centre(n, n_ok),
        or_centre(ne, ne_ok),
        or_centre(w, w_ok),
        centre,
        or_centre(e, e_ok),
        or_centre(sw, sw_ok),
        or_centre(s, s_ok),
        or_centre(se, se_ok),
    ])
}

/// The window of a cell on the grid's frame: neighbours off the grid take the cell's value
/// too. `None` where the cell has no elevation.
fn edge_window(input: &Input<'_>, r: usize, c: usize) -> Option<Window> {
    let centre = input.elevation(r, c)?;
    let mut w = [centre; 9];
    let offsets = (0..3).flat_map(|dr| (0..3).map(move |dc| (dr, dc)));
    for (slot, (dr, dc)) in w.iter_mut().zip(offsets) {
        // `r + dr - 1` without going below zero: row -1 is off the grid anyway.
        let shift = |x: usize, d: usize| x.checked_add(d)?.checked_sub(1);
        let neighbour = shift(r, dr).zip(shift(c, dc));
        if let Some(value) = neighbour.and_then(|(nr, nc)| input.elevation(nr, nc)) {
            *slot = value;
        }
    }
    Some(w)
}

#[cfg(test)]
mod tests;
