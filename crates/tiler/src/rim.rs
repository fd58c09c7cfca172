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
    /// The rim of `block` (a 256×256 tile).
    pub fn of(block: &Block, width: usize) -> Rim {
        let n = rim_cells(width);
        let mut rim = Rim {
            width,
            bands: block.bands,
            values: vec![0.0; n * block.bands],
            valid: vec![false; n],
        };
        let tile_cells = TS * TS;
        for row in 0..TS {
            for col in 0..TS {
                let Some(i) = rim_index(width, row, col) else {
                    continue;
                };
                let src = row * TS + col;
                if let (Some(slot), Some(v)) = (rim.valid.get_mut(i), block.valid.get(src)) {
                    *slot = *v;
                }
                for b in 0..block.bands {
                    if let (Some(slot), Some(v)) = (
                        rim.values.get_mut(b * n + i),
                        block.values.get(b * tile_cells + src),
                    ) {
                        *slot = *v;
                    }
                }
            }
        }
        rim
    }

    /// Bytes held, for the cache budget.
    pub fn size(&self) -> usize {
        self.values.len() * 8 + self.valid.len() + 64
    }
}

/// Cells of a tile to copy from: a decoded tile or a rim.
pub(crate) trait Cells {
    fn bands(&self) -> usize;
    /// Whether cell (`row`, `col`) is valid, and its value in each band; `None` when the
    /// source does not hold the cell.
    fn valid(&self, row: usize, col: usize) -> Option<bool>;
    fn value(&self, band: usize, row: usize, col: usize) -> Option<f64>;
}

impl Cells for Block {
    fn bands(&self) -> usize {
        self.bands
    }
    fn valid(&self, row: usize, col: usize) -> Option<bool> {
        (col < self.width).then(|| self.valid.get(row * self.width + col).copied())?
    }
    fn value(&self, band: usize, row: usize, col: usize) -> Option<f64> {
        let n = self.width * self.height;
        (col < self.width).then(|| self.values.get(band * n + row * self.width + col).copied())?
    }
}

impl Cells for Rim {
    fn bands(&self) -> usize {
        self.bands
    }
    fn valid(&self, row: usize, col: usize) -> Option<bool> {
        let i = rim_index(self.width, row, col.min(TS))?;
        (col < TS && row < TS).then(|| self.valid.get(i).copied())?
    }
    fn value(&self, band: usize, row: usize, col: usize) -> Option<f64> {
        let i = rim_index(self.width, row, col.min(TS))?;
        let n = self.valid.len();
        (col < TS && row < TS).then(|| self.values.get(band * n + i).copied())?
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
                rim.valid(row, col),
                Some(!i.is_multiple_of(3)),
                "({row}, {col})"
            );
            assert_eq!(rim.value(0, row, col), Some(i as f64), "({row}, {col})");
            assert_eq!(rim.value(1, row, col), Some(-(i as f64)), "({row}, {col})");
        }
        for (row, col) in [(2, 2), (128, 128), (253, 253), (0, 256), (256, 0)] {
            assert_eq!(rim.valid(row, col), None, "({row}, {col})");
        }
    }
}
