//! Which pixels of the XYZ grid of a zoom an [`Area`] holds, by GDAL's rule.
//!
//! A pixel counts when its centre is inside: the scanline fill of GDAL's
//! `GDALdllImageFilledPolygon` (alg/llrasterize.cpp), which `gdal_rasterize` and
//! `rasterio.features.geometry_mask` (without `all_touched`) use, reproduced step for step
//! so counts agree exactly, ties included: for each pixel row, the crossings of the row's
//! centre line with every edge (an edge from `y1` to `y2`, `y1 < y2`, crosses when
//! `y1 <= yc < y2`) are rounded with `floor(x + 0.5)`, sorted, and paired even-odd over the
//! rings of a polygon (so holes are holes); a horizontal edge lying on a row's centre line,
//! walked right to left, fills its own pixels. A multipolygon holds the union of its
//! polygons' pixels: GDAL burns each part on its own, so where parts overlap the pixels
//! still count (an even-odd fill over all the parts' rings would drop them).
//!
//! Written here rather than taken from `geo-rasterize`, which burns every pixel a shape
//! touches (GDAL's `ALL_TOUCHED`), not the centre rule; the statistics must match rasterio's
//! default exactly.
//!
//! The grid is the whole world at zoom z: `256·2^z` pixels a side, pixel (0, 0) at the
//! north-west corner. Rows are swept with an active-edge list, so the work is the sum over
//! rows of the edges crossing them, and it is capped: [`rasterize`] gives up (`None`) past
//! `max_work`, and the caller measures at a coarser zoom.

use tilefn_raster::TileCoord;
use tilefn_raster::mercator::{ORIGIN_SHIFT, resolution};

use crate::{Area, Point};

const TILE: u64 = 256;

/// The pixels an area holds at one zoom: for each row from `row0`, sorted, disjoint,
/// half-open runs `[start, end)` of global pixel columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spans {
    pub zoom: u8,
    pub row0: u64,
    pub rows: Vec<Vec<(u64, u64)>>,
    /// Edge visits the fill took (what `max_work` bounds).
    pub work: u64,
}

/// An edge in pixel coordinates, `y1 <= y2`.
#[derive(Debug, Clone, Copy)]
struct Edge {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
    /// Horizontal edges fill only when walked right to left (GDAL's "bottom" segments).
    fills: bool,
}

impl Spans {
    /// Pixels held.
    pub fn pixel_count(&self) -> u64 {
        self.rows.iter().flatten().map(|(a, b)| b - a).sum()
    }

    /// The tiles holding at least one pixel, sorted by row then column.
    pub fn tiles(&self) -> Vec<TileCoord> {
        // Per tile row, the runs' tile-column intervals merged first: listing a tile per
        // pixel row would hold 256 copies of each (a continent's box at the zoom the budget
        // tries: 4 M entries, 64 MB).
        let mut out = Vec::new();
        let mut intervals: Vec<(u64, u64)> = Vec::new();
        let mut current = None;
        for (i, runs) in self.rows.iter().enumerate() {
            let ty = (self.row0 + i as u64) / TILE;
            if current != Some(ty) {
                if let Some(prev) = current {
                    self.emit(prev, &mut intervals, &mut out);
                }
                current = Some(ty);
            }
            intervals.extend(runs.iter().map(|(a, b)| (a / TILE, (b - 1) / TILE + 1)));
            if intervals.len() > 64 {
                intervals = merge(std::mem::take(&mut intervals));
            }
        }
        if let Some(ty) = current {
            self.emit(ty, &mut intervals, &mut out);
        }
        out
    }

    /// The tiles of tile row `ty` covered by `intervals` (half-open tile columns), in order.
    fn emit(&self, ty: u64, intervals: &mut Vec<(u64, u64)>, out: &mut Vec<TileCoord>) {
        for (x0, x1) in merge(std::mem::take(intervals)) {
            out.extend((x0..x1).filter_map(|tx| TileCoord::checked(u32::from(self.zoom), tx, ty)));
        }
    }

    /// The runs inside tile `t` (same zoom), as `(row, first column, end column)` in the
    /// tile's own 0..256 pixel coordinates.
    pub fn tile_runs(&self, t: TileCoord) -> Vec<(usize, usize, usize)> {
        let (x0, y0) = (u64::from(t.x) * TILE, u64::from(t.y) * TILE);
        let mut out = Vec::new();
        if y0 + TILE <= self.row0 || y0 >= self.row0 + self.rows.len() as u64 {
            return out;
        }
        for r in 0..TILE {
            let Some(runs) = (y0 + r)
                .checked_sub(self.row0)
                .and_then(|i| self.rows.get(i as usize))
            else {
                continue;
            };
            // Runs are sorted: skip those ending before the tile.
            let first = runs.partition_point(|(_, b)| *b <= x0);
            for &(a, b) in runs.get(first..).unwrap_or_default() {
                if a >= x0 + TILE {
                    break;
                }
                let (a, b) = (a.max(x0) - x0, b.min(x0 + TILE) - x0);
                out.push((r as usize, a as usize, b as usize));
            }
        }
        out
    }

    /// The union of two span sets of the same zoom.
    pub fn union(&self, other: &Spans) -> Spans {
        if self.rows.is_empty() {
            return other.clone();
        }
        if other.rows.is_empty() {
            return self.clone();
        }
        let row0 = self.row0.min(other.row0);
        let end = (self.row0 + self.rows.len() as u64).max(other.row0 + other.rows.len() as u64);
        let get = |s: &Spans, row: u64| -> Vec<(u64, u64)> {
            row.checked_sub(s.row0)
                .and_then(|i| s.rows.get(i as usize))
                .cloned()
                .unwrap_or_default()
        };
        let rows = (row0..end)
            .map(|row| {
                let mut runs = get(self, row);
                runs.extend(get(other, row));
                merge(runs)
            })
            .collect();
        Spans {
            zoom: self.zoom,
            row0,
            rows,
            work: self.work + other.work,
        }
    }
}

/// The pixels of `area` at `zoom`, or `None` when the sweeps would take more than `max_work`
/// edge visits in all (the caller then tries a coarser zoom).
pub fn rasterize(area: &Area, zoom: u8, max_work: u64) -> Option<Spans> {
    let mut parts: Vec<Spans> = Vec::with_capacity(area.polygons.len());
    let mut work = 0u64;
    for polygon in &area.polygons {
        let s = sweep(&polygon.rings, zoom, max_work.saturating_sub(work))?;
        work += s.work;
        if !s.rows.is_empty() {
            parts.push(s);
        }
    }
    let mut out = match parts.len() {
        0 => Spans {
            zoom,
            ..Spans::default()
        },
        1 => parts.swap_remove(0),
        _ => {
            // The union, row by row: every part's runs of a row, merged once.
            let row0 = parts.iter().map(|s| s.row0).min().unwrap_or(0);
            let end = parts.iter().map(|s| s.row0 + s.rows.len() as u64).max();
            let mut rows = vec![Vec::new(); (end.unwrap_or(row0) - row0) as usize];
            for s in &parts {
                for (i, runs) in s.rows.iter().enumerate() {
                    rows[(s.row0 - row0) as usize + i].extend_from_slice(runs);
                }
            }
            Spans {
                zoom,
                row0,
                rows: rows.into_iter().map(merge).collect(),
                work: 0,
            }
        }
    };
    out.work = work;
    Some(out)
}

/// One polygon's pixels (even-odd over its rings), within `max_work` edge visits.
fn sweep(rings: &[Vec<Point>], zoom: u8, max_work: u64) -> Option<Spans> {
    let res = resolution(zoom);
    let size = TILE << zoom;
    let mut edges = Vec::new();
    for ring in rings {
        let px: Vec<[f64; 2]> = ring
            .iter()
            .map(|p| [(p[0] + ORIGIN_SHIFT) / res, (ORIGIN_SHIFT - p[1]) / res])
            .collect();
        // GDAL's ring walk: the edge into each point from the one before it, the first
        // point's from the last (a closed ring's zero-length closing edge adds nothing).
        let n = px.len();
        for i in 0..n {
            let (a, b) = (px[(i + n - 1) % n], px[i]);
            edges.push(edge(a, b));
        }
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for e in &edges {
        lo = lo.min(e.y1);
        hi = hi.max(e.y2);
    }
    if edges.is_empty() || !lo.is_finite() {
        return Some(Spans {
            zoom,
            ..Spans::default()
        });
    }
    // GDAL truncates the extreme ys to rows, then clamps to the raster.
    let first_row = (lo.max(0.0) as u64).min(size - 1);
    let last_row = (hi.max(0.0) as u64).min(size - 1);
    edges.sort_by(|a, b| a.y1.total_cmp(&b.y1));
    let mut rows = Vec::with_capacity((last_row - first_row + 1) as usize);
    let mut next = 0;
    let mut active: Vec<Edge> = Vec::new();
    let mut work = 0u64;
    let mut crossings: Vec<i64> = Vec::new();
    for row in first_row..=last_row {
        let yc = row as f64 + 0.5;
        while let Some(e) = edges.get(next).filter(|e| e.y1 <= yc) {
            active.push(*e);
            next += 1;
        }
        active.retain(|e| e.y2 >= yc);
        work += active.len() as u64 + 1;
        if work > max_work {
            return None;
        }
        crossings.clear();
        let mut runs = Vec::new();
        for e in &active {
            if e.y1 == e.y2 {
                // Only a horizontal edge exactly on the centre line is still active here.
                if e.fills {
                    push_run(&mut runs, round(e.x1), round(e.x2), size);
                }
            } else if yc >= e.y1 && yc < e.y2 {
                let x = (yc - e.y1) * (e.x2 - e.x1) / (e.y2 - e.y1) + e.x1;
                crossings.push(round(x));
            }
        }
        crossings.sort_unstable();
        for pair in crossings.chunks_exact(2) {
            push_run(&mut runs, pair[0], pair[1], size);
        }
        rows.push(merge(runs));
    }
    // Empty rows at either end carry nothing.
    let lead = rows.iter().take_while(|r| r.is_empty()).count();
    let trail = rows.iter().rev().take_while(|r| r.is_empty()).count();
    let kept = rows.len().saturating_sub(lead + trail);
    let rows: Vec<Vec<(u64, u64)>> = rows.into_iter().skip(lead).take(kept).collect();
    Some(Spans {
        zoom,
        row0: if rows.is_empty() {
            0
        } else {
            first_row + lead as u64
        },
        rows,
        work,
    })
}

fn edge(a: [f64; 2], b: [f64; 2]) -> Edge {
    if a[1] <= b[1] {
        Edge {
            x1: a[0],
            y1: a[1],
            x2: b[0],
            y2: b[1],
            // Horizontal: GDAL fills when the walk goes right to left (x of the earlier point
            // greater), from the later point's x to the earlier one's.
            fills: a[1] == b[1] && a[0] > b[0],
        }
    } else {
        Edge {
            x1: b[0],
            y1: b[1],
            x2: a[0],
            y2: a[1],
            fills: false,
        }
    }
    .ordered_horizontal()
}

impl Edge {
    /// A horizontal edge keeps x1 <= x2, which is the order GDAL fills it in.
    fn ordered_horizontal(self) -> Edge {
        if self.y1 == self.y2 && self.x1 > self.x2 {
            Edge {
                x1: self.x2,
                x2: self.x1,
                ..self
            }
        } else {
            self
        }
    }
}

/// GDAL's `static_cast<int>(floor(x + 0.5))`, saturating far outside the grid.
fn round(x: f64) -> i64 {
    (x + 0.5).floor().clamp(-1e15, 1e15) as i64
}

/// GDAL's fill of `[start, end - 1]`, clamped to the grid (`gvBurnScanline`).
fn push_run(runs: &mut Vec<(u64, u64)>, start: i64, end: i64, size: u64) {
    let size = size as i64;
    if start >= size || end <= 0 || end <= start {
        return;
    }
    runs.push((start.max(0) as u64, end.min(size) as u64));
}

/// Sorted, disjoint runs from overlapping ones.
fn merge(mut runs: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    runs.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(runs.len());
    for (a, b) in runs {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Polygon;

    /// An area from rings in pixel coordinates of `zoom` (row 0 at the top).
    fn pixel_area(zoom: u8, rings: &[&[[f64; 2]]]) -> Area {
        let res = resolution(zoom);
        let rings = rings
            .iter()
            .map(|r| {
                r.iter()
                    .map(|p| [p[0] * res - ORIGIN_SHIFT, ORIGIN_SHIFT - p[1] * res])
                    .collect()
            })
            .collect();
        Area {
            polygons: vec![Polygon { rings }],
        }
    }

    fn brute_force(area: &Area, zoom: u8, rows: u64, cols: u64) -> Vec<(u64, u64)> {
        // Even-odd point-in-polygon of each pixel centre (no ties in the cases used).
        let res = resolution(zoom);
        let mut inside = Vec::new();
        for r in 0..rows {
            for c in 0..cols {
                let (x, y) = (
                    (c as f64 + 0.5) * res - ORIGIN_SHIFT,
                    ORIGIN_SHIFT - (r as f64 + 0.5) * res,
                );
                let mut odd = false;
                for ring in area.polygons.iter().flat_map(|p| &p.rings) {
                    for w in ring.windows(2) {
                        let (a, b) = (w[0], w[1]);
                        if (a[1] > y) != (b[1] > y) {
                            let xi = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
                            if x < xi {
                                odd = !odd;
                            }
                        }
                    }
                }
                if odd {
                    inside.push((r, c));
                }
            }
        }
        inside
    }

    fn pixels(s: &Spans) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for (i, runs) in s.rows.iter().enumerate() {
            for (a, b) in runs {
                for c in *a..*b {
                    out.push((s.row0 + i as u64, c));
                }
            }
        }
        out
    }

    #[test]
    fn square_with_a_hole() -> Result<(), String> {
        let outer: &[[f64; 2]] = &[[1.2, 1.3], [9.7, 1.3], [9.7, 8.6], [1.2, 8.6], [1.2, 1.3]];
        let hole: &[[f64; 2]] = &[[3.1, 3.2], [6.2, 3.2], [6.2, 5.9], [3.1, 5.9], [3.1, 3.2]];
        let area = pixel_area(4, &[outer, hole]);
        let spans = rasterize(&area, 4, 1 << 20).ok_or("over budget")?;
        assert_eq!(pixels(&spans), brute_force(&area, 4, 12, 12));
        // Rows 1..=8 (centres 1.5..8.5), columns 1..=9 minus the hole's 3..=5 x 3..=5.
        assert_eq!(spans.pixel_count(), 8 * 9 - 3 * 3);
        assert_eq!(spans.tiles(), vec![TileCoord::new(4, 0, 0)]);
        Ok(())
    }

    #[test]
    fn triangles_match_brute_force() -> Result<(), String> {
        let tri: &[[f64; 2]] = &[[0.3, 0.2], [37.9, 5.1], [11.4, 29.7], [0.3, 0.2]];
        let area = pixel_area(3, &[tri]);
        let spans = rasterize(&area, 3, 1 << 20).ok_or("over budget")?;
        assert_eq!(pixels(&spans), brute_force(&area, 3, 40, 40));
        Ok(())
    }

    #[test]
    fn a_sliver_between_centres_holds_nothing() -> Result<(), String> {
        let sliver: &[[f64; 2]] = &[[0.6, 0.1], [0.9, 0.1], [0.9, 20.0], [0.6, 20.0], [0.6, 0.1]];
        let area = pixel_area(2, &[sliver]);
        let spans = rasterize(&area, 2, 1 << 20).ok_or("over budget")?;
        assert_eq!(spans.pixel_count(), 0);
        assert!(spans.tiles().is_empty());
        Ok(())
    }

    #[test]
    fn tiles_and_runs_cross_tile_borders() -> Result<(), String> {
        let rect: &[[f64; 2]] = &[
            [250.0, 10.0],
            [262.0, 10.0],
            [262.0, 260.0],
            [250.0, 260.0],
            [250.0, 10.0],
        ];
        let area = pixel_area(2, &[rect]);
        let spans = rasterize(&area, 2, 1 << 20).ok_or("over budget")?;
        let tiles = spans.tiles();
        assert_eq!(tiles.len(), 4);
        let runs = spans.tile_runs(TileCoord::new(2, 1, 0));
        assert_eq!(runs.first(), Some(&(10, 0, 6)));
        assert_eq!(runs.len(), 246);
        let below = spans.tile_runs(TileCoord::new(2, 0, 1));
        assert_eq!(
            below,
            vec![(0, 250, 256), (1, 250, 256), (2, 250, 256), (3, 250, 256)]
        );
        Ok(())
    }

    #[test]
    fn work_is_capped() {
        let big: &[[f64; 2]] = &[[0.0, 0.0], [1e6, 0.0], [1e6, 1e6], [0.0, 0.0]];
        let area = pixel_area(14, &[big]);
        assert!(rasterize(&area, 14, 1000).is_none());
    }

    #[test]
    fn multipolygon_parts_are_a_union() -> Result<(), String> {
        // rasterio: geometry_mask of this MultiPolygon holds 4600 pixels, as the union of
        // its parts does; an even-odd fill over all four rings gives 4200 (their XOR). The
        // same two squares as one polygon's rings are an even-odd fill: 4200.
        let a: &[[f64; 2]] = &[
            [10.0, 40.0],
            [60.0, 40.0],
            [60.0, 90.0],
            [10.0, 90.0],
            [10.0, 40.0],
        ];
        let b: &[[f64; 2]] = &[
            [40.0, 10.0],
            [90.0, 10.0],
            [90.0, 60.0],
            [40.0, 60.0],
            [40.0, 10.0],
        ];
        let mut multi = pixel_area(8, &[a]);
        multi.polygons.extend(pixel_area(8, &[b]).polygons);
        let spans = rasterize(&multi, 8, 1 << 20).ok_or("over budget")?;
        assert_eq!(spans.pixel_count(), 4600);
        let one = rasterize(&pixel_area(8, &[a, b]), 8, 1 << 20).ok_or("over budget")?;
        assert_eq!(one.pixel_count(), 4200);
        assert!(rasterize(&multi, 8, spans.work - 1).is_none());
        Ok(())
    }

    #[test]
    fn union_merges_rows() -> Result<(), String> {
        let a: &[[f64; 2]] = &[[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]];
        let b: &[[f64; 2]] = &[[2.0, 2.0], [6.0, 2.0], [6.0, 6.0], [2.0, 6.0], [2.0, 2.0]];
        let sa = rasterize(&pixel_area(1, &[a]), 1, 1000).ok_or("a")?;
        let sb = rasterize(&pixel_area(1, &[b]), 1, 1000).ok_or("b")?;
        let u = sa.union(&sb);
        assert_eq!(u.pixel_count(), 16 + 16 - 4);
        assert_eq!(u.rows[2], vec![(0, 6)]);
        Ok(())
    }
}
