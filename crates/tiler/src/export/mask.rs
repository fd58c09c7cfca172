//! A POSTed polygon's part in an export: the box it makes (cropped by `bbox`) and, once the
//! window is planned, which of its pixels are kept: GDAL's centre rule through
//! `tilefn_geometry::rasterize`, the same pixels `/statistics` counts. Both happen while
//! planning, so a polygon too complex to fill is a 400 before any tile is read.

use tilefn_geometry::{Input, Spans, rasterize};
use tilefn_raster::{Bounds, TileCoord};

use super::plan::Window;
use super::stitch::Overlap;
use crate::TileError;

/// Most edge visits of the scanline fill over all features (as `/statistics` allows).
const MAX_SCAN_WORK: u64 = 50_000_000;

/// The box of every polygon of `input`, cropped by `bbox` when one is given.
pub fn polygon_box(input: &Input, bbox: Option<Bounds>) -> Result<Bounds, TileError> {
    let boxes = input.features.iter().filter_map(|f| f.area.bbox());
    let all = boxes
        .map(|[a, b, c, d]| Bounds::new(a, b, c, d))
        .reduce(|acc, b| acc.union(&b))
        .ok_or_else(|| TileError::bad("body", "no polygon in the input"))?;
    match bbox {
        None => Ok(all),
        Some(b) => b
            .intersection(&all)
            .filter(|i| !i.is_empty())
            .ok_or_else(|| TileError::bad("bbox", "the polygon lies outside bbox")),
    }
}

/// The pixels of the window inside the polygons (the union over features).
#[derive(Debug, Clone)]
pub struct Mask {
    spans: Spans,
    window: Window,
    /// Tiles holding a kept pixel, sorted: only those are read.
    tiles: Vec<TileCoord>,
}

impl Mask {
    /// Rasterizes every feature of `input` at the window's zoom.
    pub fn new(input: &Input, window: &Window) -> Result<Mask, TileError> {
        let mut work_left = MAX_SCAN_WORK;
        let mut union = Spans {
            zoom: window.z,
            ..Spans::default()
        };
        for f in &input.features {
            let s = rasterize(&f.area, window.z, work_left).ok_or_else(|| {
                TileError::bad(
                    "body",
                    format!(
                        "the polygons are too complex to fill at zoom {} (more than \
                         {MAX_SCAN_WORK} edge visits); pass a lower zoom=",
                        window.z
                    ),
                )
            })?;
            work_left = work_left.saturating_sub(s.work);
            union = union.union(&s);
        }
        let mut tiles = union.tiles();
        tiles.sort_unstable_by_key(|t| (t.y, t.x));
        Ok(Mask {
            spans: union,
            window: *window,
            tiles,
        })
    }

    /// Whether tile `t` holds a kept pixel.
    pub fn holds(&self, t: TileCoord) -> bool {
        self.tiles
            .binary_search_by_key(&(t.y, t.x), |k| (k.y, k.x))
            .is_ok()
    }

    /// The kept `[start, end)` column runs of window row `row`, in window columns.
    pub fn runs(&self, row: usize) -> Vec<(usize, usize)> {
        let w = &self.window;
        let global = w.row0 + row as u64;
        let Some(runs) = global
            .checked_sub(self.spans.row0)
            .and_then(|i| self.spans.rows.get(usize::try_from(i).ok()?))
        else {
            return Vec::new();
        };
        let end = w.col0 + w.width;
        runs.iter()
            .filter(|(a, b)| *b > w.col0 && *a < end)
            .map(|(a, b)| {
                let a = a.max(&w.col0) - w.col0;
                let b = b.min(&end) - w.col0;
                (a as usize, b as usize)
            })
            .collect()
    }
}

/// Whether tile `t` of the window's zoom may hold a kept pixel (always, without a mask).
pub fn wanted(mask: Option<&Mask>, t: TileCoord) -> bool {
    mask.is_none_or(|m| m.holds(t))
}

/// For each row of the rectangle `o` (window coordinates), the columns of it outside
/// `mask`: what a canvas clears after pasting a tile there.
pub fn outside(mask: &Mask, o: Overlap) -> impl Iterator<Item = (usize, Vec<usize>)> + '_ {
    (o.dst_y..o.dst_y + o.h).map(move |row| {
        let mut inside = vec![false; o.w];
        for (a, b) in mask.runs(row) {
            let (a, b) = (a.max(o.dst_x), b.min(o.dst_x + o.w));
            if let Some(s) = inside.get_mut(a.saturating_sub(o.dst_x)..b.saturating_sub(o.dst_x)) {
                s.fill(true);
            }
        }
        let cols = inside
            .iter()
            .enumerate()
            .filter(|(_, keep)| !**keep)
            .map(|(i, _)| o.dst_x + i)
            .collect();
        (row, cols)
    })
}
