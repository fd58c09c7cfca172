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
//! gdaldem sums the window in float32 and, on x86-64, divides the hillshade by an
//! approximate reciprocal square root (SSE `rsqrt` plus one Newton step, relative error
//! about 1e-7). We compute in f64 with an exact square root. Slope and aspect therefore
//! agree to float32 rounding of the elevations' sums, and a hillshade byte can differ by
//! one where gdaldem's value lies within about 1e-5 of a rounding boundary.

use crate::neighborhood::{Grid, Method, TerrainOp};

/// The nine elevations around a cell, row by row from the north-west, the cell itself in
/// the middle: gdaldem's `afWin` order (0 1 2 / 3 4 5 / 6 7 8).
type Window = [f64; 9];

/// Three consecutive cells of a row: their values and which of them are valid.
type Triple<'a> = (&'a [f64], &'a [bool]);

/// One row of the input grid.
#[derive(Clone, Copy)]
struct Row<'a> {
    values: &'a [f64],
    valid: &'a [bool],
}

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
    let Some(cells) = grid.width.checked_mul(grid.height) else {
        // No such grid can be held in memory: there is nothing to answer with.
        return (Vec::new(), Vec::new());
    };
    let mut out = Output {
        values: vec![f64::NAN; cells],
        valid: vec![false; cells],
    };
    let fits =
        values.len() == cells && valid.len() == cells && grid.pixel_size.len() == grid.height;
    if cells == 0 || !fits {
        return (out.values, out.valid);
    }
    let input = Input {
        grid,
        values,
        valid,
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

impl<'a> Input<'a> {
    fn row(&self, r: usize) -> Option<Row<'a>> {
        let start = r.checked_mul(self.grid.width)?;
        let range = start..start.checked_add(self.grid.width)?;
        Some(Row {
            values: self.values.get(range.clone())?,
            valid: self.valid.get(range)?,
        })
    }

    /// The elevation at `(r, c)`, if the cell is on the grid and holds one.
    fn elevation(&self, r: usize, c: usize) -> Option<f64> {
        if r >= self.grid.height || c >= self.grid.width {
            return None;
        }
        let i = r * self.grid.width + c;
        let value = *self.values.get(i)?;
        (*self.valid.get(i)? && !value.is_nan()).then_some(value)
    }
}

/// The output grid, filled row by row.
struct Output {
    values: Vec<f64>,
    valid: Vec<bool>,
}

/// Monomorphises the row loop for the derivative method: the method is fixed per request,
/// so no cell pays for choosing it.
fn with_method(input: &Input<'_>, surface: impl Surface, out: &mut Output) {
    match input.grid.terrain.method {
        Method::Horn => rows(input, surface, horn, HORN_DIVISOR, out),
        Method::Zevenbergen => rows(input, surface, zevenbergen, ZEVENBERGEN_DIVISOR, out),
    }
}

/// Horn's sums span two pixels with weights 1, 2, 1: a gradient is the difference over 8
/// pixel sizes.
const HORN_DIVISOR: f64 = 8.0;
/// Zevenbergen & Thorne's difference spans two pixels.
const ZEVENBERGEN_DIVISOR: f64 = 2.0;

/// Horn (1981): (west minus east, south minus north), weighted over all eight neighbours.
#[inline(always)]
fn horn(w: &Window) -> (f64, f64) {
    let [nw, n, ne, west, _, east, sw, s, se] = *w;
    (
        (nw + 2.0 * west + sw) - (ne + 2.0 * east + se),
        (sw + 2.0 * s + se) - (nw + 2.0 * n + ne),
    )
}

/// Zevenbergen & Thorne (1987): (west minus east, south minus north) of the four
/// edge-adjacent neighbours.
#[inline(always)]
fn zevenbergen(w: &Window) -> (f64, f64) {
    let [_, n, _, west, _, east, _, s, _] = *w;
    (west - east, s - n)
}

/// Runs every row: the frame cells on the slow path, which asks of each neighbour whether
/// it is on the grid; the others on the fast path, which reads three row slices.
fn rows<S, D>(input: &Input<'_>, surface: S, differences: D, divisor: f64, out: &mut Output)
where
    S: Surface,
    D: Fn(&Window) -> (f64, f64),
{
    let width = input.grid.width;
    let z_factor = input.grid.terrain.z_factor;
    let out_rows = out
        .values
        .chunks_exact_mut(width)
        .zip(out.valid.chunks_exact_mut(width));
    for (r, ((out_values, out_valid), &pixel_size)) in
        out_rows.zip(&input.grid.pixel_size).enumerate()
    {
        if !(pixel_size.is_finite() && pixel_size > 0.0) {
            continue;
        }
        // Multiplying the differences by this makes them rise over run, in z units.
        let scale = z_factor / (divisor * pixel_size);
        let cell = |w: &Window| {
            let (west_east, south_north) = differences(w);
            surface.at(west_east * scale, south_north * scale)
        };
        let neighbours = (r > 0)
            .then(|| input.row(r - 1))
            .flatten()
            .zip(input.row(r + 1));
        match (neighbours, input.row(r)) {
            (Some((above, below)), Some(row)) if width >= 3 => {
                let interior = out_values.iter_mut().zip(out_valid.iter_mut()).skip(1);
                for (window, (value, valid)) in interior_windows(above, row, below).zip(interior) {
                    if let Some(w) = window {
                        store(cell(&w), value, valid);
                    }
                }
                for c in [0, width - 1] {
                    edge_cell(input, r, c, &cell, out_values, out_valid);
                }
            }
            _ => {
                for c in 0..width {
                    edge_cell(input, r, c, &cell, out_values, out_valid);
                }
            }
        }
    }
}

/// The windows of a row's interior cells (all but the first and the last), `None` where the
/// cell itself holds no elevation.
fn interior_windows<'a>(
    above: Row<'a>,
    row: Row<'a>,
    below: Row<'a>,
) -> impl Iterator<Item = Option<Window>> + 'a {
    let triples = |r: Row<'a>| r.values.windows(3).zip(r.valid.windows(3));
    triples(above)
        .zip(triples(row))
        .zip(triples(below))
        .map(|((above, row), below)| window([above, row, below]))
}

/// The window of the middle cell of `rows`, its missing neighbours taking its value.
#[inline(always)]
fn window(rows: [Triple<'_>; 3]) -> Option<Window> {
    let [_, (values, valid), _] = rows;
    let centre = *values.get(1)?;
    if !*valid.get(1)? || centre.is_nan() {
        return None;
    }
    let mut w = [centre; 9];
    for (slots, (values, valid)) in w.chunks_exact_mut(3).zip(rows) {
        for ((slot, &value), &ok) in slots.iter_mut().zip(values).zip(valid) {
            if ok && !value.is_nan() {
                *slot = value;
            }
        }
    }
    Some(w)
}

/// One cell on the grid's frame: neighbours off the grid take the cell's value too.
fn edge_cell(
    input: &Input<'_>,
    r: usize,
    c: usize,
    cell: &impl Fn(&Window) -> f64,
    out_values: &mut [f64],
    out_valid: &mut [bool],
) {
    let Some(centre) = input.elevation(r, c) else {
        return;
    };
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
    if let (Some(value), Some(valid)) = (out_values.get_mut(c), out_valid.get_mut(c)) {
        store(cell(&w), value, valid);
    }
}

/// Writes a result; NaN (from a NaN z factor or infinite elevations) stays invalid.
#[inline(always)]
fn store(result: f64, value: &mut f64, valid: &mut bool) {
    if !result.is_nan() {
        *value = result;
        *valid = true;
    }
}

/// What an operation makes of a cell's gradient: `east` is the fall towards the east
/// (west minus east) and `north` the fall towards the north (south minus north), both as
/// rise over run. NaN means no value.
trait Surface: Copy {
    fn at(self, east: f64, north: f64) -> f64;
}

/// Degrees from horizontal.
#[derive(Clone, Copy)]
struct Slope;

impl Surface for Slope {
    #[inline(always)]
    fn at(self, east: f64, north: f64) -> f64 {
        (east * east + north * north).sqrt().atan().to_degrees()
    }
}

/// Degrees clockwise from north of the direction the slope faces; NaN where it is flat.
#[derive(Clone, Copy)]
struct Aspect;

impl Surface for Aspect {
    #[inline(always)]
    fn at(self, east: f64, north: f64) -> f64 {
        if east == 0.0 && north == 0.0 {
            // gdaldem writes nodata here unless `-zero_for_flat`.
            return f64::NAN;
        }
        // Counter-clockwise from east, -180..180, turned into an azimuth 0..360 the way
        // gdaldem does it, so that the two agree on which side of 0/360 a value falls.
        let trigonometric = north.atan2(east).to_degrees();
        let azimuth = if trigonometric > 90.0 {
            450.0 - trigonometric
        } else {
            90.0 - trigonometric
        };
        if azimuth >= 360.0 { 0.0 } else { azimuth }
    }
}

/// gdaldem's default hillshade: 254 × the cosine of the angle between the light and the
/// surface's normal, plus 1, as a byte (0 is left to nodata).
#[derive(Clone, Copy)]
struct Hillshade {
    /// 254 sin(altitude): the shade of flat ground.
    flat: f64,
    /// 254 cos(altitude) sin(azimuth): how much a fall towards the east adds.
    east: f64,
    /// 254 cos(altitude) cos(azimuth): how much a fall towards the north adds.
    north: f64,
}

impl Hillshade {
    fn new(azimuth: f64, altitude: f64) -> Hillshade {
        let (azimuth, altitude) = (azimuth.to_radians(), altitude.to_radians());
        Hillshade {
            flat: 254.0 * altitude.sin(),
            east: 254.0 * altitude.cos() * azimuth.sin(),
            north: 254.0 * altitude.cos() * azimuth.cos(),
        }
    }
}

impl Surface for Hillshade {
    #[inline(always)]
    fn at(self, east: f64, north: f64) -> f64 {
        // The light (sin az cos alt, cos az cos alt, sin alt) dotted with the unit normal
        // (-dz/dx, -dz/dy, 1) / sqrt(1 + |grad|²), where -dz/dx is the fall to the east.
        let lit = (self.flat + self.east * east + self.north * north)
            / (1.0 + east * east + north * north).sqrt();
        // In shadow (facing away, lit <= 0) gdaldem gives 1, the darkest value.
        let shade = if lit <= 0.0 { 1.0 } else { 1.0 + lit };
        gdal_byte(shade)
    }
}

/// The byte gdaldem writes for its float result: GDAL converts float32 to byte by adding
/// 0.5 in float32 and truncating, clamped to 0..255.
#[inline(always)]
fn gdal_byte(shade: f64) -> f64 {
    // The narrowing is the point: the value is rounded as the float32 GDAL holds it.
    let single = shade as f32;
    f64::from((single + 0.5).floor().clamp(0.0, 255.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neighborhood::TerrainSettings;

    const PIXEL: f64 = 30.0;
    const METHODS: [Method; 2] = [Method::Horn, Method::Zevenbergen];
    const SHADE: TerrainOp = TerrainOp::Hillshade {
        azimuth: TerrainOp::DEFAULT_AZIMUTH,
        altitude: TerrainOp::DEFAULT_ALTITUDE,
    };
    const OPS: [TerrainOp; 3] = [TerrainOp::Slope, TerrainOp::Aspect, SHADE];

    fn grid(width: usize, height: usize, method: Method) -> Grid {
        Grid {
            width,
            height,
            pixel_size: vec![PIXEL; height],
            terrain: TerrainSettings {
                method,
                z_factor: 1.0,
            },
        }
    }

    fn all_valid(op: TerrainOp, grid: &Grid, values: &[f64]) -> (Vec<f64>, Vec<bool>) {
        terrain(op, grid, values, &vec![true; values.len()])
    }

    /// A plane falling 1 m per metre towards `azimuth` (degrees clockwise from north).
    fn plane(width: usize, height: usize, azimuth: f64) -> Vec<f64> {
        let (sin, cos) = azimuth.to_radians().sin_cos();
        let mut values = Vec::new();
        for r in 0..height {
            for c in 0..width {
                let (east, north) = (c as f64 * PIXEL, -(r as f64) * PIXEL);
                values.push(-(sin * east + cos * north));
            }
        }
        values
    }

    fn angle_between(a: f64, b: f64) -> f64 {
        let d = (a - b).rem_euclid(360.0);
        d.min(360.0 - d)
    }

    #[test]
    fn a_plane_at_45_degrees_has_slope_45_and_faces_its_fall() {
        for method in METHODS {
            let g = grid(5, 5, method);
            for azimuth in [0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0] {
                let values = plane(5, 5, azimuth);
                let (slope, _) = all_valid(TerrainOp::Slope, &g, &values);
                let (aspect, valid) = all_valid(TerrainOp::Aspect, &g, &values);
                // The interior: on the frame the plane's missing neighbours are flattened.
                for r in 1..4 {
                    for c in 1..4 {
                        let i = r * 5 + c;
                        assert!((slope[i] - 45.0).abs() < 1e-9, "{method:?} {azimuth}");
                        assert!(valid[i]);
                        assert!(
                            angle_between(aspect[i], azimuth) < 1e-9,
                            "{method:?}: {} for {azimuth}",
                            aspect[i]
                        );
                        assert!((0.0..360.0).contains(&aspect[i]));
                    }
                }
            }
        }
    }

    #[test]
    fn hillshade_of_flat_ground_is_254_sin_altitude_plus_one_rounded() {
        let g = grid(3, 3, Method::Horn);
        let flat = [100.0; 9];
        // 1 + 254 sin 45° = 180.605, which gdaldem writes as 181.
        let (shade, valid) = all_valid(SHADE, &g, &flat);
        assert_eq!(shade, [181.0; 9]);
        assert_eq!(valid, [true; 9]);
        for (altitude, expected) in [(90.0, 255.0), (30.0, 128.0), (0.0, 1.0)] {
            let op = TerrainOp::Hillshade {
                azimuth: 315.0,
                altitude,
            };
            assert_eq!(
                all_valid(op, &g, &flat).0[4],
                expected,
                "altitude {altitude}"
            );
        }
    }

    #[test]
    fn hillshade_is_brightest_facing_the_light_and_darkest_facing_away() {
        let g = grid(3, 3, Method::Horn);
        // Falling 45° towards the north-west, the light's side: the normal points at it.
        assert_eq!(all_valid(SHADE, &g, &plane(3, 3, 315.0)).0[4], 255.0);
        // Falling towards the south-east: the light grazes at 90°, in shadow.
        assert_eq!(all_valid(SHADE, &g, &plane(3, 3, 135.0)).0[4], 1.0);
    }

    #[test]
    fn flat_ground_has_no_aspect() {
        let (_, valid) = all_valid(TerrainOp::Aspect, &grid(3, 3, Method::Horn), &[7.0; 9]);
        assert_eq!(valid, [false; 9]);
    }

    #[test]
    fn a_cell_without_elevation_is_invalid() {
        let values = plane(3, 3, 10.0);
        for method in METHODS {
            for op in OPS {
                let g = grid(3, 3, method);
                let mut valid = [true; 9];
                valid[4] = false;
                let (out, ok) = terrain(op, &g, &values, &valid);
                assert!(!ok[4] && out[4].is_nan());
                let mut nan = values.clone();
                nan[4] = f64::NAN;
                assert!(!all_valid(op, &g, &nan).1[4]);
            }
        }
    }

    #[test]
    fn a_missing_neighbour_takes_the_cells_value() {
        let values = [3.0, 9.0, 4.0, 1.0, 5.0, 2.0, 8.0, 6.0, 7.0];
        for method in METHODS {
            let g = grid(3, 3, method);
            for op in OPS {
                for k in [0, 1, 2, 3, 5, 6, 7, 8] {
                    let mut substituted = values;
                    substituted[k] = values[4];
                    // Bit for bit, so that NaN (no aspect) equals NaN.
                    let expected = all_valid(op, &g, &substituted).0[4].to_bits();
                    let mut valid = [true; 9];
                    valid[k] = false;
                    assert_eq!(terrain(op, &g, &values, &valid).0[4].to_bits(), expected);
                    let mut nan = values;
                    nan[k] = f64::NAN;
                    assert_eq!(all_valid(op, &g, &nan).0[4].to_bits(), expected);
                }
            }
        }
    }

    #[test]
    fn off_the_grid_is_like_nodata() {
        // A 4×3 grid equals the middle of a 6×5 grid whose ring is nodata.
        let inner = [3.0, 9.0, 4.0, 1.0, 5.0, 2.0, 8.0, 6.0, 7.0, 2.0, 0.5, 4.0];
        let mut padded = vec![0.0; 30];
        let mut ring = vec![false; 30];
        for r in 0..3 {
            for c in 0..4 {
                padded[(r + 1) * 6 + c + 1] = inner[r * 4 + c];
                ring[(r + 1) * 6 + c + 1] = true;
            }
        }
        for method in METHODS {
            for op in OPS {
                let (small, small_ok) = all_valid(op, &grid(4, 3, method), &inner);
                let (big, big_ok) = terrain(op, &grid(6, 5, method), &padded, &ring);
                for r in 0..3 {
                    for c in 0..4 {
                        let (i, j) = (r * 4 + c, (r + 1) * 6 + c + 1);
                        assert_eq!(small_ok[i], big_ok[j]);
                        assert!(small[i] == big[j] || !small_ok[i], "{op:?} {method:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn sizes_that_do_not_fit_the_grid_give_all_invalid() {
        let g = grid(3, 2, Method::Horn);
        for (values, valid) in [(vec![1.0; 5], vec![true; 6]), (vec![1.0; 6], vec![true; 7])] {
            let (out, ok) = terrain(TerrainOp::Slope, &g, &values, &valid);
            assert_eq!((out.len(), ok), (6, vec![false; 6]));
        }
        let mut short = g.clone();
        short.pixel_size.pop();
        assert_eq!(all_valid(TerrainOp::Slope, &short, &[1.0; 6]).1, [false; 6]);
        let huge = grid(usize::MAX, 2, Method::Horn);
        assert_eq!(all_valid(TerrainOp::Slope, &huge, &[1.0; 6]).0.len(), 0);
    }

    #[test]
    fn a_row_without_a_usable_pixel_size_is_invalid() {
        for bad in [0.0, -30.0, f64::NAN, f64::INFINITY] {
            let mut g = grid(3, 3, Method::Horn);
            g.pixel_size[1] = bad;
            let (_, ok) = all_valid(TerrainOp::Slope, &g, &plane(3, 3, 90.0));
            assert_eq!(
                ok,
                [true, true, true, false, false, false, true, true, true]
            );
        }
    }

    #[test]
    fn thin_grids_do_not_panic() {
        for (width, height) in [(1, 1), (1, 5), (5, 1), (2, 2), (0, 3), (3, 0), (2, 7)] {
            for method in METHODS {
                for op in OPS {
                    let g = grid(width, height, method);
                    let values = plane(width, height, 60.0);
                    let (out, ok) = all_valid(op, &g, &values);
                    assert_eq!((out.len(), ok.len()), (width * height, width * height));
                }
            }
        }
        // A lone cell has only itself: flat.
        let g = grid(1, 1, Method::Horn);
        assert_eq!(all_valid(TerrainOp::Slope, &g, &[5.0]).0, [0.0]);
        assert_eq!(all_valid(TerrainOp::Aspect, &g, &[5.0]).1, [false]);
        assert_eq!(all_valid(SHADE, &g, &[5.0]).0, [181.0]);
    }

    #[test]
    fn z_factor_scales_elevations() {
        // A 1:2 plane exaggerated twice is a 45° plane.
        let mut g = grid(3, 3, Method::Horn);
        g.terrain.z_factor = 2.0;
        let half: Vec<f64> = plane(3, 3, 0.0).iter().map(|v| v / 2.0).collect();
        assert!((all_valid(TerrainOp::Slope, &g, &half).0[4] - 45.0).abs() < 1e-9);
    }

    #[test]
    fn bytes_round_half_up_as_gdal_does() {
        assert_eq!(gdal_byte(180.5), 181.0);
        assert_eq!(gdal_byte(180.499), 180.0);
        assert_eq!(gdal_byte(255.4), 255.0);
        assert_eq!(gdal_byte(255.9), 255.0);
        assert!(gdal_byte(f64::NAN).is_nan());
    }
}
