//! Reading a tile with a halo: the tile plus `halo` cells of its neighbours on every side,
//! what a formula with neighbourhood functions is evaluated on (GeoTrellis's buffered tiles).
//!
//! Every cell of the padded block equals the cell the neighbouring tile holds when served on
//! its own (the same zoom rules, the same nearest over-zoom mapping), so an operation over a
//! tile's halo equals the operation over the stitched mosaic: tiles are seamless by
//! construction. Columns wrap around the antimeridian; rows beyond the poles are nodata.
//!
//! - At a stored zoom the halo comes from the at most eight neighbouring tiles, fetched
//!   with the tile in one coalesced read per COG (a COG group boundary costs one more read).
//! - Above the max zoom it comes from the at most 2×2 stored tiles the padded window
//!   over-zooms, again one read per COG.
//! - Below the min zoom (tiles built from many stored tiles) each neighbour is built like
//!   `/tiles` builds it, one after the other so that one neighbour's blocks are in memory
//!   at a time.
//!
//! A neighbour read at the tile's own zoom leaves its rim in a per-`Service` cache
//! (`rim.rs`): the next tile that needs it reads nothing.
//!
//! Tiles are decoded one at a time and only their part of the window is kept: nine decoded
//! 64-band tiles would not fit in an isolate.

use std::collections::BTreeSet;
use std::sync::Arc;

use tilefn_raster::{Block, TILE_SIZE, TileCoord};
use tilefn_storage::Bucket;

use crate::convert::BandMask;
use crate::layer::Layer;
use crate::read::decode_fetched;
use crate::rim::{Cells, Rim, rim_key};
use crate::{Service, TileError};

const TS: u64 = TILE_SIZE as u64;

/// Where one cell of the padded window comes from: a stored tile's column or row index and
/// the pixel inside it; `None` beyond a pole.
type Source = Option<(u32, usize)>;

/// The source of each column (`wrap`: around the antimeridian) or row of the window.
fn sources(start: i64, side: usize, z: u8, dz: u8, wrap: bool) -> Vec<Source> {
    let world = (TS << z) as i64;
    (0..side as i64)
        .map(|i| {
            let mut g = start + i;
            if wrap {
                g = g.rem_euclid(world);
            } else if !(0..world).contains(&g) {
                return None;
            }
            let s = (g as u64) >> dz;
            Some(((s / TS) as u32, (s % TS) as usize))
        })
        .collect()
}

/// The padded window of tile `t` with `halo` cells, sampled from the tiles of zoom
/// `t.z - dz`: where each of its columns and rows comes from, and those tiles.
struct Window {
    side: usize,
    xs: Vec<Source>,
    ys: Vec<Source>,
    /// The source tiles, row by row: columns wrap, rows stop at the poles.
    tiles: Vec<TileCoord>,
}

impl Window {
    fn new(t: TileCoord, halo: u32, dz: u8) -> Window {
        let side = TS as usize + 2 * halo as usize;
        let start = |i: u32| i64::from(i) * TS as i64 - i64::from(halo);
        let xs = sources(start(t.x), side, t.z, dz, true);
        let ys = sources(start(t.y), side, t.z, dz, false);
        let cols: BTreeSet<u32> = xs.iter().flatten().map(|(c, _)| *c).collect();
        let rows: BTreeSet<u32> = ys.iter().flatten().map(|(r, _)| *r).collect();
        let tiles = rows
            .iter()
            .flat_map(|r| cols.iter().map(move |c| TileCoord::new(t.z - dz, *c, *r)))
            .collect();
        Window {
            side,
            xs,
            ys,
            tiles,
        }
    }

    /// An all-invalid block of the window's size for the bands in `bands`.
    fn empty(&self, layer: &Layer, bands: BandMask) -> Block {
        let band_count = bands.count(layer.manifest.band_count);
        Block::empty(self.side, self.side, band_count, layer.manifest.dtype, 0.0)
    }

    /// The window of a tile at its own zoom with `centre` (the tile's block) in its middle
    /// and an all-invalid ring of `halo` cells, each cell written once.
    fn around(&self, centre: &Block, halo: usize) -> Block {
        let side = self.side;
        let cells = side * side;
        let mut values = Vec::with_capacity(cells * centre.bands);
        let mut valid = Vec::with_capacity(cells);
        let planes = centre.values.chunks_exact(centre.width * centre.height);
        for plane in planes.take(centre.bands) {
            framed(&mut values, plane, centre.width, halo, 0.0);
        }
        framed(&mut valid, &centre.valid, centre.width, halo, false);
        Block {
            width: side,
            height: side,
            bands: centre.bands,
            dtype: centre.dtype,
            values,
            valid,
        }
    }

    fn paste(&self, out: &mut Block, source: &dyn Cells, tile: TileCoord) {
        paste(out, source, (tile.x, tile.y), &self.xs, &self.ys);
    }
}

/// Appends the rows of `plane` (`width` wide) framed by `halo` cells of `ring` on every side.
fn framed<T: Copy>(out: &mut Vec<T>, plane: &[T], width: usize, halo: usize, ring: T) {
    let side = width + 2 * halo;
    let grow = |out: &mut Vec<T>, n: usize| out.resize(out.len() + n, ring);
    grow(out, halo * side + halo);
    let mut rows = plane.chunks_exact(width).peekable();
    while let Some(row) = rows.next() {
        out.extend_from_slice(row);
        // This row's right ring and the next one's left, or the bottom rows.
        let after = if rows.peek().is_some() {
            2 * halo
        } else {
            halo + halo * side
        };
        grow(out, after);
    }
}

/// Copies the cells of `source` (stored tile `col`, `row`) that the window takes from it,
/// a run at a time: window columns that read consecutive pixels of the source (all of
/// them at the tile's own zoom; pairs and more when over-zoomed) are one slice copy.
fn paste(
    out: &mut Block,
    source: &dyn Cells,
    (col, row): (u32, u32),
    xs: &[Source],
    ys: &[Source],
) {
    let n_out = out.width * out.height;
    let bands = out.bands.min(source.bands());
    // (first window column, first source pixel, length).
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for (c, s) in xs.iter().enumerate() {
        let Some((_, px)) = s.filter(|(tc, _)| *tc == col) else {
            continue;
        };
        match runs.last_mut() {
            Some((c0, px0, len)) if *c0 + *len == c && *px0 + *len == px => *len += 1,
            _ => runs.push((c, px, 1)),
        }
    }
    for (r, from) in ys.iter().enumerate() {
        let Some((tile_row, py)) = from else { continue };
        if *tile_row != row {
            continue;
        }
        for &(c, px, len) in &runs {
            let dst = r * out.width + c;
            if let (Some(slots), Some(cells)) = (
                out.valid.get_mut(dst..dst + len),
                source.valid_run(*py, px, len),
            ) {
                slots.copy_from_slice(cells);
            }
            for b in 0..bands {
                let at = b * n_out + dst;
                if let (Some(slots), Some(cells)) = (
                    out.values.get_mut(at..at + len),
                    source.value_run(b, *py, px, len),
                ) {
                    slots.copy_from_slice(cells);
                }
            }
        }
    }
}

impl<B: Bucket> Service<B> {
    /// Tile `t` of `layer` with `halo` cells around it: a `(256 + 2·halo)²` block of the
    /// bands in `bands`; `None` when no cell of it is valid. `halo` 0 is the tile itself.
    pub(crate) async fn read_with_halo(
        &self,
        layer: &Layer,
        t: TileCoord,
        bands: BandMask,
        halo: u32,
    ) -> Result<Option<Block>, TileError> {
        if halo == 0 {
            return match layer.covers(t) {
                true => self.read_tile(layer, t, bands).await,
                false => Ok(None),
            };
        }
        let (lo, hi) = layer.stored_zooms();
        if t.z < lo {
            return self.halo_from_built_tiles(layer, t, bands, halo).await;
        }
        self.halo_from_stored(layer, t, t.z.min(hi), bands, halo)
            .await
    }

    /// The padded window of `t` from the stored tiles of zoom `stored` (≤ `t.z`).
    async fn halo_from_stored(
        &self,
        layer: &Layer,
        t: TileCoord,
        stored: u8,
        bands: BandMask,
        halo: u32,
    ) -> Result<Option<Block>, TileError> {
        let dz = t.z - stored;
        let window = Window::new(t, halo, dz);
        let tiles = window.tiles.iter().filter(|c| layer.covers(**c));
        // At the tile's own zoom the neighbours give only their rims: cached ones are pasted
        // without a read, the others are read (with the tile) and their rims kept.
        let rims = dz == 0;
        let mut to_read = Vec::new();
        let mut cached = Vec::new();
        for &c in tiles {
            let rim = match rims && c != t {
                true => self
                    .rims
                    .get(&rim_key(layer, c, bands, halo), 0.0, f64::INFINITY),
                false => None,
            };
            match rim {
                Some(rim) => cached.push((c, rim)),
                None => to_read.push(c),
            }
        }
        let fetched = self.fetch_stored(layer, &to_read).await?;
        // At the tile's own zoom the window is built around the tile's block, row by row:
        // filling an empty window and pasting the tile into it wrote its cells twice (~1% of
        // a warm hillshade tile in V8, bench/wasm).
        let mut centre = None;
        if rims && let Some(f) = fetched.iter().find(|f| f.located.tile == t) {
            centre = decode_fetched(layer, f, bands)?;
            if let Some(block) = &centre {
                self.keep_rim(layer, t, bands, halo, block);
            }
        }
        let mut out = match &centre {
            Some(block) => window.around(block, halo as usize),
            None => window.empty(layer, bands),
        };
        // A decoded tile has a valid cell (else it is `None`): no need to look for one.
        let has_data = centre.is_some();
        drop(centre);
        for (c, rim) in cached {
            window.paste(&mut out, rim.as_ref(), c);
        }
        for f in fetched.iter().filter(|f| !(rims && f.located.tile == t)) {
            let at = f.located.tile;
            let Some(block) = decode_fetched(layer, f, bands)? else {
                continue;
            };
            window.paste(&mut out, &block, at);
            if rims {
                self.keep_rim(layer, at, bands, halo, &block);
            }
        }
        Ok((has_data || out.any_valid()).then_some(out))
    }

    /// Keeps the outer `halo` cells of tile `at` for its neighbours' windows.
    fn keep_rim(&self, layer: &Layer, at: TileCoord, bands: BandMask, halo: u32, block: &Block) {
        let rim = Rim::of(block, halo as usize);
        let size = rim.size();
        self.rims
            .put(rim_key(layer, at, bands, halo), Arc::new(rim), size, 0.0);
    }

    /// The padded window of `t` below the layer's min zoom: each of the nine tiles built as
    /// `/tiles` builds it.
    async fn halo_from_built_tiles(
        &self,
        layer: &Layer,
        t: TileCoord,
        bands: BandMask,
        halo: u32,
    ) -> Result<Option<Block>, TileError> {
        let window = Window::new(t, halo, 0);
        let mut out = window.empty(layer, bands);
        for &c in &window.tiles {
            if !layer.covers(c) {
                continue;
            }
            if let Some(block) = self.read_tile(layer, c, bands).await? {
                window.paste(&mut out, &block, c);
            }
        }
        Ok(out.any_valid().then_some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_built_around_its_tile_equals_one_pasted_into() {
        let t = TileCoord::new(6, 33, 21);
        let ts = TILE_SIZE as usize;
        let n = ts * ts;
        for (halo, bands) in [(1, 1), (3, 2)] {
            let window = Window::new(t, halo, 0);
            let centre = Block {
                width: ts,
                height: ts,
                bands,
                dtype: tilefn_raster::DataType::Float32,
                values: (0..n * bands).map(|i| (i % 977) as f64 - 3.5).collect(),
                valid: (0..n).map(|i| i % 13 != 0).collect(),
            };
            let side = window.side;
            let mut pasted = Block::empty(side, side, bands, centre.dtype, 0.0);
            window.paste(&mut pasted, &centre, t);
            let built = window.around(&centre, halo as usize);
            assert_eq!(
                (built.width, built.height, built.bands),
                (side, side, bands)
            );
            assert_eq!(built.valid, pasted.valid, "halo {halo}");
            assert_eq!(built.values, pasted.values, "halo {halo}");
        }
    }

    #[test]
    fn window_sources_wrap_in_x_and_stop_at_the_poles() {
        // Zoom 1, tile (0, 0), halo 2: columns start 2 pixels west of the antimeridian.
        let xs = sources(-2, 260, 1, 0, true);
        assert_eq!(xs[0], Some((1, 254)));
        assert_eq!(xs[2], Some((0, 0)));
        assert_eq!(xs[259], Some((1, 1)));
        let ys = sources(-2, 260, 1, 0, false);
        assert_eq!((ys[0], ys[2]), (None, Some((0, 0))));
        // Over-zoomed by one level: two window pixels per stored pixel.
        let over = sources(254, 4, 2, 1, false);
        assert_eq!(
            over,
            [
                Some((0, 127)),
                Some((0, 127)),
                Some((0, 128)),
                Some((0, 128))
            ]
        );
    }
}
