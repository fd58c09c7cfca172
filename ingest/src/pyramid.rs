//! Builds every level of the layer in one depth-first pass.
//!
//! `build(t)` returns the block of tile `t`: at max zoom it warps the source, above it
//! merges the four children (built in parallel with `rayon::join`). Every non-empty tile at
//! or below the layer's min zoom is encoded into the COG that holds it, and a COG is written
//! as soon as its anchor tile is finished. Depth-first order keeps live memory to a few
//! tiles per level per thread, whatever the layer's size.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::ProgressBar;
use tilefn_catalog::ObjectEntry;
use tilefn_cog::layout::{PyramidLayout, cog_key};
use tilefn_cog::write::{encode_mask_tile, encode_tile};
use tilefn_raster::{Block, Bounds, TileCoord, mercator};

use crate::IngestError;
use crate::cogsink::CogSink;
use crate::plan::Plan;
use crate::resample::downsample;
use crate::source::{Source, WindowReader};
use crate::stats::{BandAcc, Bucketing, tile_stats};
use crate::store::Store;
use crate::warp::WarpContext;

pub struct Builder<'a> {
    pub plan: &'a Plan,
    pub source: &'a Source,
    pub warp: &'a WarpContext,
    pub store: &'a Store,
    /// Prefix of this version's objects.
    pub prefix: String,
    pub progress: &'a ProgressBar,
    layout: PyramidLayout,
    sinks: Mutex<HashMap<TileCoord, std::sync::Arc<CogSink>>>,
    pub objects: Mutex<Vec<ObjectEntry>>,
    pub stats: Mutex<Vec<BandAcc>>,
    pub tiles_written: AtomicU64,
    bucketing: Bucketing,
    log: &'a (dyn Fn(&str) + Sync),
}

thread_local! {
    /// One source reader per rayon thread: readers own a file handle and a decoder, which are
    /// not shareable, while the decoded-chunk cache behind them is.
    static READER: std::cell::RefCell<Option<WindowReader>> = const { std::cell::RefCell::new(None) };
}

impl<'a> Builder<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: &'a Plan,
        source: &'a Source,
        warp: &'a WarpContext,
        store: &'a Store,
        prefix: String,
        progress: &'a ProgressBar,
        log: &'a (dyn Fn(&str) + Sync),
    ) -> Builder<'a> {
        Builder {
            layout: PyramidLayout::new(plan.min_zoom, plan.max_zoom),
            plan,
            source,
            warp,
            store,
            prefix,
            progress,
            sinks: Mutex::new(HashMap::new()),
            objects: Mutex::new(Vec::new()),
            stats: Mutex::new(vec![BandAcc::default(); plan.bands]),
            tiles_written: AtomicU64::new(0),
            bucketing: Bucketing::for_dtype(plan.dtype),
            log,
        }
    }

    pub fn layout(&self) -> &PyramidLayout {
        &self.layout
    }

    /// Builds the whole pyramid.
    pub fn run(&self) -> Result<(), IngestError> {
        let roots: Vec<TileCoord> = self.plan.roots.clone();
        roots.iter().try_for_each(|t| self.build(*t).map(|_| ()))
    }

    fn touches(&self, t: TileCoord) -> bool {
        touches(&self.plan.parts, t)
    }

    fn build(&self, t: TileCoord) -> Result<Option<Block>, IngestError> {
        if !self.touches(t) {
            return Ok(None);
        }
        let block = if t.z == self.plan.max_zoom {
            let b = self.warp_tile(t)?;
            self.progress.inc(1);
            if let Some(b) = &b {
                let acc = tile_stats(b, self.plan.nodata, self.bucketing);
                let mut total = self.stats.lock().map_err(|_| poisoned())?;
                for (t, a) in total.iter_mut().zip(acc) {
                    t.merge(a);
                }
            }
            b
        } else {
            let [k0, k1, k2, k3] = t.children();
            let ((a, b), (c, d)) = rayon::join(
                || rayon::join(|| self.build(k0), || self.build(k1)),
                || rayon::join(|| self.build(k2), || self.build(k3)),
            );
            let kids = [a?, b?, c?, d?];
            downsample(&kids, self.plan.overview_resampling, self.plan.nodata)
        };
        if let Some(b) = &block
            && t.z >= self.plan.min_zoom
        {
            self.emit(t, b)?;
        }
        if self
            .layout
            .group_of(t.z)
            .is_some_and(|g| g.anchor_zoom == t.z)
        {
            self.finish_cog(t)?;
        }
        Ok(block)
    }

    fn warp_tile(&self, t: TileCoord) -> Result<Option<Block>, IngestError> {
        READER.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(self.source.reader()?);
            }
            match slot.as_mut() {
                Some(r) => self.warp.warp(r, t),
                None => Ok(None),
            }
        })
    }

    fn emit(&self, t: TileCoord, block: &Block) -> Result<(), IngestError> {
        let Some(place) = self.layout.locate(t) else {
            return Ok(());
        };
        let sink = {
            let mut sinks = self.sinks.lock().map_err(|_| poisoned())?;
            match sinks.get(&place.cog) {
                Some(s) => s.clone(),
                None => {
                    let g = self
                        .layout
                        .group_of(t.z)
                        .ok_or_else(|| IngestError::Io(format!("no group for zoom {}", t.z)))?;
                    let spec = self.plan.cog_spec(place.cog, g.levels());
                    let s = std::sync::Arc::new(CogSink::new(spec)?);
                    sinks.insert(place.cog, s.clone());
                    s
                }
            }
        };
        let raw = block.to_interleaved_le(self.plan.nodata.unwrap_or(0.0), false);
        let bytes = encode_tile(&sink.spec, &raw)?;
        let mask = if sink.spec.mask {
            encode_mask_tile(&sink.spec, &block.valid)?
        } else {
            Vec::new()
        };
        sink.put(place.level, place.col, place.row, &bytes, &mask)?;
        self.tiles_written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn finish_cog(&self, anchor: TileCoord) -> Result<(), IngestError> {
        let sink = self.sinks.lock().map_err(|_| poisoned())?.remove(&anchor);
        let Some(sink) = sink else { return Ok(()) };
        let sink = std::sync::Arc::try_unwrap(sink)
            .map_err(|_| IngestError::Io(format!("COG {anchor} still in use")))?;
        if sink.is_empty() {
            return Ok(());
        }
        let key = format!("{}{}", self.prefix, cog_key(anchor));
        let entry = sink.finish(self.store, &key)?;
        (self.log)(&format!("wrote {} ({} bytes)", entry.key, entry.size));
        self.objects.lock().map_err(|_| poisoned())?.push(entry);
        Ok(())
    }
}

fn poisoned() -> IngestError {
    IngestError::Io("a worker thread panicked".into())
}

/// Whether tile `t` overlaps the layer's footprint (in EPSG:3857).
pub fn touches(parts: &[Bounds], t: TileCoord) -> bool {
    let b = mercator::tile_bounds(t);
    parts.iter().any(|p| b.intersects(p))
}
