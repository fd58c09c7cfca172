//! Builds one unit's COG: every level of one level group under one anchor tile, in one
//! depth-first pass.
//!
//! `build(t)` returns the block of tile `t`: at the leaf zoom it asks the unit's [`Leaves`]
//! (the sources, warped and merged, for the finest group; the children's COGs read back for
//! coarser ones), above it merges the four children (built in parallel with `rayon::join`).
//! Every non-empty tile of the group is encoded into the COG as it is finished. Depth-first
//! order keeps live memory to a few tiles per level per thread, whatever the unit's size.
//!
//! Statistics are merged along the same tree, children in fixed order, so a unit's numbers
//! are the same bits whichever thread finished first.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use indicatif::ProgressBar;
use tilefn_catalog::ObjectEntry;
use tilefn_cog::layout::LevelGroup;
use tilefn_cog::write::{encode_mask_tile, encode_tile};
use tilefn_raster::{Block, TileCoord};

use crate::IngestError;
use crate::cogsink::CogSink;
use crate::plan::Grid;
use crate::resample::downsample;
use crate::stats::{BandAcc, Bucketing, tile_stats};
use crate::store::Store;

/// Where a unit's finest tiles come from.
pub trait Leaves: Sync {
    /// The zoom of the leaves: the group's max zoom, or one deeper when the leaves are the
    /// previous group's anchor tiles.
    fn zoom(&self) -> u8;
    /// Whether tile `t` (at or above the leaf zoom) may hold data: prunes the descent.
    fn touches(&self, t: TileCoord) -> bool;
    /// Leaf tile `t`; `None` when it has no valid pixel.
    fn leaf(&self, t: TileCoord) -> Result<Option<Block>, IngestError>;
}

/// What building one unit's COG produced.
pub struct Built {
    /// The COG, `None` when no tile held a valid pixel.
    pub object: Option<ObjectEntry>,
    /// Per band, over the leaves (empty accumulators unless `stats` was asked for).
    pub stats: Vec<BandAcc>,
    pub tiles: u64,
}

pub struct CogBuild<'a> {
    grid: &'a Grid,
    group: LevelGroup,
    anchor: TileCoord,
    sink: CogSink,
    /// How statistics are gathered over the leaves (which must be the layer's max zoom);
    /// `None`: not at all.
    stats: Option<Bucketing>,
    /// Per band: a partial result gave up its exact values, so the unit's total will too and
    /// later leaves skip keeping theirs (on a 4096² float DEM this saved most of the memory
    /// exact values cost).
    exact_dropped: Vec<AtomicBool>,
    progress: &'a ProgressBar,
    tiles_written: AtomicU64,
}

impl<'a> CogBuild<'a> {
    pub fn new(
        grid: &'a Grid,
        group: LevelGroup,
        anchor: TileCoord,
        stats: Option<Bucketing>,
        progress: &'a ProgressBar,
    ) -> Result<CogBuild<'a>, IngestError> {
        let spec = grid.cog_spec(anchor, group.levels());
        Ok(CogBuild {
            grid,
            group,
            anchor,
            sink: CogSink::new(spec)?,
            stats,
            exact_dropped: (0..grid.bands).map(|_| AtomicBool::new(false)).collect(),
            progress,
            tiles_written: AtomicU64::new(0),
        })
    }

    /// Builds every tile under the anchor and writes the COG to `key` (if any tile holds
    /// data).
    pub fn run(self, leaves: &dyn Leaves, store: &Store, key: &str) -> Result<Built, IngestError> {
        let (_, stats) = self.build(self.anchor, leaves)?;
        let tiles = self.tiles_written.load(Ordering::Relaxed);
        let object = if self.sink.is_empty() {
            None
        } else {
            Some(self.sink.finish(store, key)?)
        };
        Ok(Built {
            object,
            stats,
            tiles,
        })
    }

    fn empty_stats(&self) -> Vec<BandAcc> {
        vec![BandAcc::default(); self.grid.bands]
    }

    fn build(
        &self,
        t: TileCoord,
        leaves: &dyn Leaves,
    ) -> Result<(Option<Block>, Vec<BandAcc>), IngestError> {
        if !leaves.touches(t) {
            return Ok((None, self.empty_stats()));
        }
        let (block, stats) = if t.z >= leaves.zoom() {
            let block = leaves.leaf(t)?;
            self.progress.inc(1);
            let stats = match &block {
                Some(b) => match self.stats {
                    Some(bucketing) => {
                        let skip: Vec<bool> = self
                            .exact_dropped
                            .iter()
                            .map(|d| d.load(Ordering::Relaxed))
                            .collect();
                        tile_stats(t, b, self.grid.nodata, bucketing, &skip)
                    }
                    None => self.empty_stats(),
                },
                _ => self.empty_stats(),
            };
            (block, stats)
        } else {
            let [k0, k1, k2, k3] = t.children();
            let ((a, b), (c, d)) = rayon::join(
                || rayon::join(|| self.build(k0, leaves), || self.build(k1, leaves)),
                || rayon::join(|| self.build(k2, leaves), || self.build(k3, leaves)),
            );
            let kids = [a?, b?, c?, d?];
            let mut stats = self.empty_stats();
            let mut blocks: [Option<Block>; 4] = [None, None, None, None];
            for (slot, (block, acc)) in blocks.iter_mut().zip(kids) {
                *slot = block;
                for (total, a) in stats.iter_mut().zip(acc) {
                    total.merge(a);
                }
            }
            for (acc, dropped) in stats.iter().zip(&self.exact_dropped) {
                if acc.exact_values_dropped() {
                    dropped.store(true, Ordering::Relaxed);
                }
            }
            let block = downsample(&blocks, self.grid.overview_resampling, self.grid.nodata);
            (block, stats)
        };
        if let Some(b) = &block
            && self.group.contains(t.z)
        {
            self.emit(t, b)?;
        }
        Ok((block, stats))
    }

    fn emit(&self, t: TileCoord, block: &Block) -> Result<(), IngestError> {
        let level = usize::from(self.group.max_zoom - t.z);
        let shift = t.z - self.anchor.z;
        let (col, row) = (
            t.x - (self.anchor.x << shift),
            t.y - (self.anchor.y << shift),
        );
        let spec = &self.sink.spec;
        let raw = block.to_interleaved_le(self.grid.nodata.unwrap_or(0.0), false);
        let bytes = encode_tile(spec, &raw)?;
        let mask = if spec.mask {
            encode_mask_tile(spec, &block.valid)?
        } else {
            Vec::new()
        };
        self.sink.put(level, col, row, &bytes, &mask)?;
        self.tiles_written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
