//! The rims of decoded tiles: the outer `width` cells of each side, kept per `Service` so
//! that a neighbour's halo does not decode the tile again.
//!
//! A hillshade tile needs one cell of each of its eight neighbours. Decoding those tiles is
//! the cost (a float DEM tile decodes in about the time the rest of a plain tile takes), and
//! a map asks for the neighbours of every tile it shows: each tile is decoded once as a
//! tile of its own or as somebody's neighbour, and its rim (a thousand cells for width 1,
//! under 10 KB a band) serves every later halo. Keyed by layer version, so never stale.

use tilefn_raster::{Block, TILE_SIZE, TileCoord};

use crate::convert::BandMask;
use crate::layer::Layer;

const TS: usize = TILE_SIZE as usize;

/// The outer `width` cells of a tile, band-major like a `Block`: the top and bottom strips
/// (`width` full rows each), then the left and right strips of the rows between.
pub(crate) struct Rim {
    width: usize,
    bands: usize,
    values: Vec<f64>,
    valid: Vec<bool>,
}

/// Where cell (`row`, `col`) of a tile sits in a rim of `width`; `None` inside.
fn rim_index(width: usize, row: usize, col: usize) -> Option<usize> {
    let strip = width * TS;
    let middle_rows = TS.checked_sub(2 * width)?;
    if row < width {
        Some(row * TS + col)
    } else if row >= TS - width {
        Some(strip + (row - (TS - width)) * TS + col)
    } else if col < width {
        Some(2 * strip + (row - width) * width + col)
    } else if col >= TS - width {
        Some(2 * strip + middle_rows * width + (row - width) * width + col - (TS - width))
    } else {
        None
    }
}

/// Cells of a rim of `width`.
fn rim_cells(width: usize) -> usize {
    2 * width * TS + 2 * width * TS.saturating_sub(2 * width)
}

impl Rim {
    /// The rim of `block` (a 256×256 tile), copied strip by strip: a tile's own rim is
    /// taken on every halo read, so this must not visit the 65,536 cells inside it.
    pub fn of(block: &Block, width: usize) -> Rim {
        let n = rim_cells(width);
        let mut rim = Rim {
            width,
            bands: block.bands,
            values: Vec::with_capacity(n * block.bands),
            valid: Vec::with_capacity(n),
        };
        strips(&mut rim.valid, &block.valid, width, false);
        let tile_cells = TS * TS;
        for b in 0..block.bands {
            let band = block.values.get(b * tile_cells..(b + 1) * tile_cells);
            strips(&mut rim.values, band.unwrap_or(&[]), width, 0.0);
            // A block shorter than its bands (never decoded so) leaves this band empty.
            rim.values.resize((b + 1) * n, 0.0);
        }
        rim.valid.resize(n, false);
        rim
    }

    /// Bytes held, for the cache budget.
    pub fn size(&self) -> usize {
        self.values.len() * 8 + self.valid.len() + 64
    }
}

/// Appends the rim of `width` of one 256×256 band of cells in rim order: the top and bottom
/// rows, then the left and right cells of the rows between. Cells `tile` lacks are `fill`.
fn strips<T: Copy>(rim: &mut Vec<T>, tile: &[T], width: usize, fill: T) {
    let Some(middle_end) = TS.checked_sub(width).filter(|end| *end >= width) else {
        // Rims wider than half a tile hold nothing (see `rim_index`).
        return;
    };
    let mut copy = |start: usize, len: usize| match tile.get(start..start + len) {
        Some(cells) => rim.extend_from_slice(cells),
        None => rim.extend(std::iter::repeat_n(fill, len)),
    };
    for row in (0..width).chain(middle_end..TS) {
        copy(row * TS, TS);
    }
    for row in width..middle_end {
        copy(row * TS, width);
    }
    for row in width..middle_end {
        copy(row * TS + middle_end, width);
    }
}

/// Cells of a tile to copy from: a decoded tile or a rim. Reads are runs of cells along a
/// row: a halo copies the 65,536 cells of the tile itself on every request, so slices,
/// not calls per cell.
pub(crate) trait Cells {
    fn bands(&self) -> usize;
    /// Whether cells `col..col + len` of row `row` are valid; `None` when the source does
    /// not hold all of them.
    fn valid_run(&self, row: usize, col: usize, len: usize) -> Option<&[bool]>;
    /// The same cells' values in band `band`.
    fn value_run(&self, band: usize, row: usize, col: usize, len: usize) -> Option<&[f64]>;
}

impl Cells for Block {
    fn bands(&self) -> usize {
        self.bands
    }
    fn valid_run(&self, row: usize, col: usize, len: usize) -> Option<&[bool]> {
        let start = (col + len <= self.width).then_some(row * self.width + col)?;
        self.valid.get(start..start + len)
    }
    fn value_run(&self, band: usize, row: usize, col: usize, len: usize) -> Option<&[f64]> {
        let start = (col + len <= self.width && row < self.height)
            .then_some(band * self.width * self.height + row * self.width + col)?;
        self.values.get(start..start + len)
    }
}

impl Rim {
    /// Where cells `col..col + len` of row `row` start in the rim, if they are all in it
    /// and side by side there (within one strip).
    fn run_start(&self, row: usize, col: usize, len: usize) -> Option<usize> {
        let last = col.checked_add(len)?.checked_sub(1)?;
        if row >= TS || last >= TS {
            return None;
        }
        let inner_end = TS.saturating_sub(self.width);
        let full_row = row < self.width || row >= inner_end;
        let one_strip = last < self.width || col >= inner_end;
        (full_row || one_strip).then(|| rim_index(self.width, row, col))?
    }
}

impl Cells for Rim {
    fn bands(&self) -> usize {
        self.bands
    }
    fn valid_run(&self, row: usize, col: usize, len: usize) -> Option<&[bool]> {
        let start = self.run_start(row, col, len)?;
        self.valid.get(start..start + len)
    }
    fn value_run(&self, band: usize, row: usize, col: usize, len: usize) -> Option<&[f64]> {
        let start = band * self.valid.len() + self.run_start(row, col, len)?;
        self.values.get(start..start + len)
    }
}

/// For benchmarks only: a tile list replayed in a loop finds every neighbour's rim cached,
/// the best case; emptying the cache before a request times the worst (every neighbour
/// decoded), before a pass over the list the first visit of a map.
#[cfg(feature = "benchmarks")]
impl<B: tilefn_storage::Bucket> crate::Service<B> {
    /// Forgets every cached rim.
    pub fn forget_rims(&self) {
        self.rims.clear();
    }
}

/// The cache key of tile `t`'s rim of `width` in `layer`'s current data, bands `bands`.
pub(crate) fn rim_key(layer: &Layer, t: TileCoord, bands: BandMask, width: u32) -> String {
    let m = &layer.manifest;
    format!("{}@{}\n{t}\n{bands:?}\n{width}", m.id, m.version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilefn_raster::DataType;

    #[test]
    fn a_rim_holds_the_outer_cells_and_nothing_else() {
        let mut block = Block::empty(TS, TS, 2, DataType::Float32, 0.0);
        for i in 0..TS * TS {
            block.values[i] = i as f64;
            block.values[TS * TS + i] = -(i as f64);
            block.valid[i] = !i.is_multiple_of(3);
        }
        let rim = Rim::of(&block, 2);
        assert_eq!(rim.valid.len(), rim_cells(2));
        for (row, col) in [
            (0, 0),
            (1, 255),
            (255, 3),
            (254, 128),
            (100, 0),
            (100, 1),
            (7, 254),
            (200, 255),
        ] {
            let i = row * TS + col;
            assert_eq!(
                rim.valid_run(row, col, 1),
                Some(&[!i.is_multiple_of(3)][..]),
                "({row}, {col})"
            );
            assert_eq!(
                rim.value_run(0, row, col, 1),
                Some(&[i as f64][..]),
                "({row}, {col})"
            );
            assert_eq!(
                rim.value_run(1, row, col, 1),
                Some(&[-(i as f64)][..]),
                "({row}, {col})"
            );
        }
        for (row, col) in [(2, 2), (128, 128), (253, 253), (0, 256), (256, 0)] {
            assert_eq!(rim.valid_run(row, col, 1), None, "({row}, {col})");
        }
        // Runs: a whole top row, two cells of a side strip; not across the inside.
        let row: Vec<f64> = (TS..2 * TS).map(|i| i as f64).collect();
        assert_eq!(rim.value_run(0, 1, 0, TS), Some(&row[..]));
        assert_eq!(
            rim.value_run(0, 100, 254, 2),
            Some(&[(100 * TS + 254) as f64, (100 * TS + 255) as f64][..])
        );
        assert_eq!(rim.value_run(0, 100, 0, 3), None);
        assert_eq!(rim.value_run(0, 100, 1, 254), None);
    }
}
