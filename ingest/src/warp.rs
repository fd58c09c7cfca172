//! Reprojection of the source onto one max-zoom XYZ tile.
//!
//! For each Web Mercator pixel centre we need the source pixel it falls in. Projecting all
//! 65,536 centres exactly costs more than the rest of ingest together, so — like GDAL's
//! approximate transformer — we project a 17×17 grid of cell corners and interpolate inside
//! each 16×16 cell. Unlike GDAL's default 0.125 px tolerance, every cell is checked at its
//! centre and falls back to exact projection if interpolation is off by more than
//! `MAX_INTERP_ERROR` source pixels, so results match an exact warp almost everywhere.

use tilefn_raster::{Block, DataType, TILE_SIZE, TileCoord, mercator};

use crate::IngestError;
use crate::resample::{Resampling, is_data, mode_of_many};
use crate::source::{Transformer, WindowReader};

const CELL: usize = 16;
const MAX_INTERP_ERROR: f64 = 0.01;
/// Largest source window read at once (pixels). Bigger footprints (a max zoom far coarser
/// than the source) are split into quadrants so memory stays bounded by this, not the source.
const MAX_WINDOW_PIXELS: i64 = 2048 * 2048;

/// What a warp needs besides the tile: fixed for the whole ingest.
pub struct WarpContext {
    pub transformer: Transformer,
    /// Inverse of the source geotransform: source CRS coordinates → fractional pixel (col, row).
    pub inverse: [f64; 6],
    pub width: i64,
    pub height: i64,
    pub bands: usize,
    pub dtype: DataType,
    pub nodata: Option<f64>,
    pub resampling: Resampling,
}

impl WarpContext {
    /// Source pixel coordinates (u = column, v = row, continuous; pixel (c, r) spans
    /// [c, c+1) × [r, r+1)) of every pixel centre of `t`, row-major. NaN where the projection
    /// failed.
    pub fn source_coords(&self, t: TileCoord) -> Result<(Vec<f64>, Vec<f64>), IngestError> {
        let size = TILE_SIZE as usize;
        let b = mercator::tile_bounds(t);
        let res = mercator::resolution(t.z);
        let g = size / CELL + 1;
        let mut gx = Vec::with_capacity(g * g);
        let mut gy = Vec::with_capacity(g * g);
        for j in 0..g {
            for i in 0..g {
                gx.push(b.min_x + (i * CELL) as f64 * res);
                gy.push(b.max_y - (j * CELL) as f64 * res);
            }
        }
        let (gu, gv) = self.project(gx, gy)?;
        // Exact coordinates at every cell centre, to check the interpolation.
        let cells = size / CELL;
        let mut cx = Vec::with_capacity(cells * cells);
        let mut cy = Vec::with_capacity(cells * cells);
        for j in 0..cells {
            for i in 0..cells {
                cx.push(b.min_x + (i * CELL + CELL / 2) as f64 * res);
                cy.push(b.max_y - (j * CELL + CELL / 2) as f64 * res);
            }
        }
        let (cu, cv) = self.project(cx, cy)?;
        let mut us = vec![f64::NAN; size * size];
        let mut vs = vec![f64::NAN; size * size];
        for cj in 0..cells {
            for ci in 0..cells {
                let k = [
                    cj * g + ci,
                    cj * g + ci + 1,
                    (cj + 1) * g + ci,
                    (cj + 1) * g + ci + 1,
                ];
                let corners_ok = k.iter().all(|&i| gu[i].is_finite() && gv[i].is_finite());
                let lerp = |a: &[f64], fx: f64, fy: f64| {
                    let top = a[k[0]] + (a[k[1]] - a[k[0]]) * fx;
                    let bot = a[k[2]] + (a[k[3]] - a[k[2]]) * fx;
                    top + (bot - top) * fy
                };
                let c = cj * cells + ci;
                let close = corners_ok
                    && (lerp(&gu, 0.5, 0.5) - cu[c]).abs() <= MAX_INTERP_ERROR
                    && (lerp(&gv, 0.5, 0.5) - cv[c]).abs() <= MAX_INTERP_ERROR;
                if close {
                    for py in 0..CELL {
                        let fy = (py as f64 + 0.5) / CELL as f64;
                        for px in 0..CELL {
                            let fx = (px as f64 + 0.5) / CELL as f64;
                            let o = (cj * CELL + py) * size + ci * CELL + px;
                            us[o] = lerp(&gu, fx, fy);
                            vs[o] = lerp(&gv, fx, fy);
                        }
                    }
                } else {
                    self.exact_cell(t, ci, cj, &mut us, &mut vs)?;
                }
            }
        }
        Ok((us, vs))
    }

    fn exact_cell(
        &self,
        t: TileCoord,
        ci: usize,
        cj: usize,
        us: &mut [f64],
        vs: &mut [f64],
    ) -> Result<(), IngestError> {
        let size = TILE_SIZE as usize;
        let b = mercator::tile_bounds(t);
        let res = mercator::resolution(t.z);
        let mut xs = Vec::with_capacity(CELL * CELL);
        let mut ys = Vec::with_capacity(CELL * CELL);
        for py in 0..CELL {
            for px in 0..CELL {
                xs.push(b.min_x + ((ci * CELL + px) as f64 + 0.5) * res);
                ys.push(b.max_y - ((cj * CELL + py) as f64 + 0.5) * res);
            }
        }
        let (u, v) = self.project(xs, ys)?;
        for py in 0..CELL {
            for px in 0..CELL {
                let o = (cj * CELL + py) * size + ci * CELL + px;
                us[o] = u[py * CELL + px];
                vs[o] = v[py * CELL + px];
            }
        }
        Ok(())
    }

    /// EPSG:3857 metres → fractional source pixel coordinates.
    fn project(
        &self,
        mut xs: Vec<f64>,
        mut ys: Vec<f64>,
    ) -> Result<(Vec<f64>, Vec<f64>), IngestError> {
        self.transformer.transform(&mut xs, &mut ys)?;
        let g = self.inverse;
        for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
            let (sx, sy) = (*x, *y);
            *x = g[0] + sx * g[1] + sy * g[2];
            *y = g[3] + sx * g[4] + sy * g[5];
        }
        Ok((xs, ys))
    }

    /// Warps the source onto tile `t`. `None` when the tile holds no valid pixel.
    pub fn warp(
        &self,
        reader: &mut WindowReader,
        t: TileCoord,
    ) -> Result<Option<Block>, IngestError> {
        let size = TILE_SIZE as usize;
        let (us, vs) = self.source_coords(t)?;
        // Source pixels per output pixel, for the footprint of average and mode.
        let step = footprint_scale(&us, &vs, size);
        let mut out = Block::empty(
            size,
            size,
            self.bands,
            self.dtype,
            self.nodata.unwrap_or(0.0),
        );
        self.warp_region(reader, &us, &vs, step, 0, 0, size, &mut out)?;
        Ok(out.any_valid().then_some(out))
    }

    /// Fills the square of output pixels at (`x0`, `y0`) with side `side`, reading one source
    /// window for it, or splitting it in four when that window would be too large.
    #[allow(clippy::too_many_arguments)]
    fn warp_region(
        &self,
        reader: &mut WindowReader,
        us: &[f64],
        vs: &[f64],
        step: f64,
        x0: usize,
        y0: usize,
        side: usize,
        out: &mut Block,
    ) -> Result<(), IngestError> {
        let size = TILE_SIZE as usize;
        let reach = match self.resampling {
            Resampling::Nearest => 0.0,
            Resampling::Bilinear => 1.0,
            Resampling::Cubic => 2.0,
            Resampling::Average | Resampling::Mode => step / 2.0 + 1.0,
        };
        let (mut umin, mut umax, mut vmin, mut vmax) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for y in y0..y0 + side {
            for x in x0..x0 + side {
                let (u, v) = (us[y * size + x], vs[y * size + x]);
                if u.is_finite() && v.is_finite() {
                    umin = umin.min(u);
                    umax = umax.max(u);
                    vmin = vmin.min(v);
                    vmax = vmax.max(v);
                }
            }
        }
        if !umin.is_finite() {
            return Ok(());
        }
        let c0 = ((umin - reach).floor() as i64 - 1).max(0);
        let r0 = ((vmin - reach).floor() as i64 - 1).max(0);
        let c1 = ((umax + reach).ceil() as i64 + 1).min(self.width);
        let r1 = ((vmax + reach).ceil() as i64 + 1).min(self.height);
        if c1 <= c0 || r1 <= r0 {
            return Ok(());
        }
        if (c1 - c0) * (r1 - r0) > MAX_WINDOW_PIXELS && side > 1 {
            let h = side / 2;
            for (dx, dy) in [(0, 0), (h, 0), (0, h), (h, h)] {
                self.warp_region(reader, us, vs, step, x0 + dx, y0 + dy, h, out)?;
            }
            return Ok(());
        }
        let win = reader.read_window(c0, r0, (c1 - c0) as usize, (r1 - r0) as usize)?;
        let sampler = Sampler {
            win: &win,
            c0,
            r0,
            nodata: self.nodata,
            dtype: self.dtype,
        };
        let n = size * size;
        let copies = matches!(self.resampling, Resampling::Nearest | Resampling::Mode);
        let mut vals = vec![0.0; self.bands];
        for y in y0..y0 + side {
            for x in x0..x0 + side {
                let o = y * size + x;
                let ok = match self.resampling {
                    Resampling::Nearest => sampler.nearest(us[o], vs[o], &mut vals),
                    Resampling::Bilinear => sampler.bilinear(us[o], vs[o], &mut vals),
                    Resampling::Cubic => sampler.cubic(us[o], vs[o], &mut vals),
                    Resampling::Average => sampler.area(us[o], vs[o], step, false, &mut vals),
                    Resampling::Mode => sampler.area(us[o], vs[o], step, true, &mut vals),
                };
                if ok {
                    out.valid[o] = true;
                    for (b, v) in vals.iter().enumerate() {
                        // Nearest and mode copy a source value of the same type, which needs
                        // no clamping (and clamping every sample was an eighth of an RGB
                        // ingest); interpolation can overshoot the type's range.
                        out.values[b * n + o] = if copies { *v } else { self.dtype.clamp(*v) };
                    }
                }
            }
        }
        Ok(())
    }
}

/// The larger of the two axis scales (source pixels per output pixel), from the tile's
/// central row and column.
fn footprint_scale(us: &[f64], vs: &[f64], size: usize) -> f64 {
    let mid = size / 2;
    let (a, b) = (mid * size, mid * size + size - 1);
    let (c, d) = (mid, (size - 1) * size + mid);
    let span = |i: usize, j: usize| {
        ((us[j] - us[i]).powi(2) + (vs[j] - vs[i]).powi(2)).sqrt() / (size - 1) as f64
    };
    let s = span(a, b).max(span(c, d));
    if s.is_finite() { s } else { 1.0 }
}

/// Reads samples of one source window at fractional pixel coordinates.
struct Sampler<'a> {
    win: &'a Block,
    c0: i64,
    r0: i64,
    nodata: Option<f64>,
    dtype: DataType,
}

impl Sampler<'_> {
    /// Window index of source pixel (col, row), if it is inside the window and valid.
    fn index(&self, col: i64, row: i64) -> Option<usize> {
        let (x, y) = (col - self.c0, row - self.r0);
        if x < 0 || y < 0 || x >= self.win.width as i64 || y >= self.win.height as i64 {
            return None;
        }
        let i = y as usize * self.win.width + x as usize;
        self.win.valid[i].then_some(i)
    }

    fn value(&self, band: usize, i: usize) -> f64 {
        self.win.values[band * self.win.pixels() + i]
    }

    fn nearest(&self, u: f64, v: f64, out: &mut [f64]) -> bool {
        if !(u.is_finite() && v.is_finite()) {
            return false;
        }
        let Some(i) = self.index(u.floor() as i64, v.floor() as i64) else {
            return false;
        };
        for (b, o) in out.iter_mut().enumerate() {
            *o = self.value(b, i);
        }
        true
    }

    /// Weighted sum over a kernel; invalid or nodata samples drop out and the weights are
    /// renormalised, as GDAL does. The pixel's validity is the nearest pixel's, so every
    /// method produces the same mask as nearest (no halo of invented pixels at edges).
    fn kernel(
        &self,
        u: f64,
        v: f64,
        taps: &[(i64, f64)],
        rows: &[(i64, f64)],
        out: &mut [f64],
    ) -> bool {
        if !self.nearest(u, v, out) {
            return false;
        }
        for (b, o) in out.iter_mut().enumerate() {
            let (mut sum, mut wsum) = (0.0, 0.0);
            for &(r, wy) in rows {
                for &(c, wx) in taps {
                    if let Some(i) = self.index(c, r) {
                        let s = self.value(b, i);
                        if is_data(s, self.nodata) {
                            sum += s * wx * wy;
                            wsum += wx * wy;
                        }
                    }
                }
            }
            if wsum.abs() > 1e-12 {
                *o = sum / wsum;
            }
        }
        true
    }

    fn bilinear(&self, u: f64, v: f64, out: &mut [f64]) -> bool {
        let (uc, vc) = (u - 0.5, v - 0.5);
        let (c, r) = (uc.floor(), vc.floor());
        let (fx, fy) = (uc - c, vc - r);
        let (c, r) = (c as i64, r as i64);
        self.kernel(
            u,
            v,
            &[(c, 1.0 - fx), (c + 1, fx)],
            &[(r, 1.0 - fy), (r + 1, fy)],
            out,
        )
    }

    fn cubic(&self, u: f64, v: f64, out: &mut [f64]) -> bool {
        let (uc, vc) = (u - 0.5, v - 0.5);
        let (c, r) = (uc.floor(), vc.floor());
        let (fx, fy) = (uc - c, vc - r);
        let (c, r) = (c as i64, r as i64);
        let taps = |c: i64, f: f64| {
            [
                (c - 1, keys(1.0 + f)),
                (c, keys(f)),
                (c + 1, keys(1.0 - f)),
                (c + 2, keys(2.0 - f)),
            ]
        };
        let ok = self.kernel(u, v, &taps(c, fx), &taps(r, fy), out);
        // Cubic overshoots; keep results storable in the band's type.
        for o in out.iter_mut() {
            *o = self.dtype.clamp(*o);
        }
        ok
    }

    /// Average or mode of the source pixels whose centres fall in the output pixel.
    fn area(&self, u: f64, v: f64, step: f64, mode: bool, out: &mut [f64]) -> bool {
        if step <= 1.0 {
            return self.nearest(u, v, out);
        }
        if !(u.is_finite() && v.is_finite()) {
            return false;
        }
        let h = step / 2.0;
        let (c0, c1) = ((u - h - 0.5).ceil() as i64, (u + h - 0.5).ceil() as i64);
        let (r0, r1) = ((v - h - 0.5).ceil() as i64, (v + h - 0.5).ceil() as i64);
        let cells: Vec<usize> = (r0..r1)
            .flat_map(|r| (c0..c1).map(move |c| (c, r)))
            .filter_map(|(c, r)| self.index(c, r))
            .collect();
        if cells.is_empty() {
            return false;
        }
        for (b, o) in out.iter_mut().enumerate() {
            let samples = cells.iter().map(|&i| self.value(b, i));
            let v = if mode {
                mode_of_many(samples, self.nodata)
            } else {
                let (s, n) = samples
                    .filter(|s| is_data(*s, self.nodata))
                    .fold((0.0, 0u64), |(s, n), x| (s + x, n + 1));
                (n > 0).then(|| s / n as f64)
            };
            *o = v.unwrap_or(self.nodata.unwrap_or(0.0));
        }
        true
    }
}

/// Keys' cubic convolution kernel with a = -0.5, as GDAL's cubic resampling.
fn keys(x: f64) -> f64 {
    let x = x.abs();
    if x <= 1.0 {
        (1.5 * x - 2.5) * x * x + 1.0
    } else if x < 2.0 {
        ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cubic_kernel_partitions_unity() {
        for f in [0.0, 0.25, 0.5, 0.9] {
            let s = keys(1.0 + f) + keys(f) + keys(1.0 - f) + keys(2.0 - f);
            assert!((s - 1.0).abs() < 1e-12);
        }
    }
}
