//! A later stage's leaves: the coarsest tile of each child unit's COG, read back from the
//! store.
//!
//! A COG of the previous group ends at its anchor zoom with one tile, which is exactly the
//! tile the next group is built from. Stored values are the block's values (blocks are
//! rounded to the layer's type as they are made, and the codecs are lossless), so reading it
//! back gives the same pixels the unit had in memory: a layer built in stages equals one
//! built in a single pass. Each leaf costs two range reads: the header, then the tile with
//! its mask tile right behind it.

use std::collections::{HashMap, HashSet};

use tilefn_catalog::ObjectEntry;
use tilefn_cog::read::{HeaderParse, Limits, decode_tile, parse_header};
use tilefn_raster::{Block, TILE_SIZE, TileCoord};

use crate::IngestError;
use crate::plan::Grid;
use crate::pyramid::Leaves;
use crate::store::Store;

pub struct ReadBack<'a> {
    grid: &'a Grid,
    store: &'a Store,
    /// The children's anchor zoom: the leaves.
    zoom: u8,
    /// How many levels each child COG has: its last one is the anchor tile.
    child_levels: usize,
    children: HashMap<TileCoord, ObjectEntry>,
    /// Every child anchor and its ancestors down from the unit's anchor: the descent's map.
    above: HashSet<TileCoord>,
}

impl<'a> ReadBack<'a> {
    /// `children`: the previous stage's finished COGs under this unit, by anchor tile.
    pub fn new(
        grid: &'a Grid,
        store: &'a Store,
        stage: usize,
        anchor: TileCoord,
        children: HashMap<TileCoord, ObjectEntry>,
    ) -> Result<ReadBack<'a>, IngestError> {
        let child_group = stage
            .checked_sub(1)
            .and_then(|s| grid.groups.get(s))
            .ok_or_else(|| IngestError::Invalid(format!("stage {stage} has no children")))?;
        let zoom = child_group.anchor_zoom;
        let mut above = HashSet::new();
        for c in children.keys() {
            for z in anchor.z..=zoom {
                above.insert(c.ancestor(z));
            }
        }
        Ok(ReadBack {
            grid,
            store,
            zoom,
            child_levels: usize::from(child_group.levels()),
            children,
            above,
        })
    }

    fn read(&self, object: &ObjectEntry) -> Result<Option<Block>, IngestError> {
        let corrupt = |m: String| IngestError::Invalid(format!("{}: {m}", object.key));
        let limits = Limits::default();
        let header_len = object.header_len.unwrap_or(object.size.min(1 << 20));
        let head = self.store.get_range(&object.key, 0..header_len)?;
        let tiff = match parse_header(&head, &limits)? {
            HeaderParse::Complete(t) => t,
            HeaderParse::NeedMore { min_len } => {
                return Err(corrupt(format!("header longer than {min_len} bytes")));
            }
        };
        let ifd = tiff
            .images()
            .nth(self.child_levels - 1)
            .ok_or_else(|| corrupt(format!("fewer than {} levels", self.child_levels)))?;
        let Some(range) = ifd.tile_range(0, 0) else {
            return Ok(None);
        };
        let mask_ifd = if self.grid.mask {
            Some(
                tiff.mask_of(ifd)
                    .ok_or_else(|| corrupt("no mask for the last level".into()))?,
            )
        } else {
            None
        };
        let mask_range = mask_ifd.and_then(|m| m.tile_range(0, 0));
        // The mask tile follows its image tile (the writer's layout): one read for both.
        let end = mask_range
            .as_ref()
            .map_or(range.end, |m| m.end.max(range.end));
        let bytes = self.store.get_range(&object.key, range.start..end)?;
        let slice = |r: &std::ops::Range<u64>| {
            bytes
                .get((r.start - range.start) as usize..(r.end - range.start) as usize)
                .ok_or_else(|| corrupt("tile outside the read".into()))
        };
        let raw = decode_tile(&tiff, ifd, slice(&range)?, &limits)?;
        let mask = match (mask_ifd, &mask_range) {
            (Some(m), Some(r)) => Some(decode_tile(&tiff, m, slice(r)?, &limits)?),
            // A mask IFD without this tile masks the whole tile, as GDAL reads it.
            (Some(_), None) => return Ok(None),
            _ => None,
        };
        to_block(self.grid, &raw, mask.as_deref()).map_err(corrupt)
    }
}

/// Decoded interleaved samples (and 0/1 mask bytes) → a block, validity as the tiler sees it:
/// from the mask when there is one, otherwise a pixel whose every band is nodata is invalid.
fn to_block(grid: &Grid, raw: &[u8], mask: Option<&[u8]>) -> Result<Option<Block>, String> {
    let size = TILE_SIZE as usize;
    let n = size * size;
    let (bands, dtype) = (grid.bands, grid.dtype);
    let step = dtype.size();
    if raw.len() != n * bands * step {
        return Err(format!("decoded tile is {} bytes", raw.len()));
    }
    let mut block = Block::empty(size, size, bands, dtype, grid.nodata.unwrap_or(0.0));
    let is_nodata = |v: f64| {
        grid.nodata
            .is_some_and(|d| v == d || (d.is_nan() && v.is_nan()))
    };
    for (i, px) in raw.chunks_exact(bands * step).enumerate() {
        let mut all_nodata = true;
        for (b, sample) in px.chunks_exact(step).enumerate() {
            let v = dtype.read_le(sample).ok_or("short sample")?;
            all_nodata &= is_nodata(v);
            block.values[b * n + i] = v;
        }
        block.valid[i] = match mask {
            Some(m) => m.get(i).is_some_and(|v| *v != 0),
            None => !all_nodata,
        };
    }
    Ok(block.any_valid().then_some(block))
}

impl Leaves for ReadBack<'_> {
    fn zoom(&self) -> u8 {
        self.zoom
    }

    fn touches(&self, t: TileCoord) -> bool {
        self.above.contains(&t)
    }

    fn leaf(&self, t: TileCoord) -> Result<Option<Block>, IngestError> {
        match self.children.get(&t) {
            Some(object) => self.read(object),
            None => Ok(None),
        }
    }
}
