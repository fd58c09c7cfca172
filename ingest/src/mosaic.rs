//! A stage-0 unit's leaves: each max-zoom tile warped from every source that touches it and
//! merged by `--merge`.
//!
//! Validity is per source: a pixel a source marks invalid (its nodata, mask or alpha, or
//! outside its footprint) never counts, so one source's edge or nodata collar never blanks
//! another's data. With `first` (and `last`) the sources are warped in merge order and the
//! loop stops once every pixel is valid, so an overlap costs nothing where the first source
//! already covers the tile.

use std::sync::Mutex;

use tilefn_raster::{Block, TILE_SIZE, TileCoord};

use crate::IngestError;
use crate::options::MergeMode;
use crate::plan::{Grid, SourceHeader};
use crate::pyramid::Leaves;
use crate::resample::is_data;
use crate::source::{Source, SourceError, WindowReader};
use crate::warp::WarpContext;

/// One open source of the unit.
pub struct Input {
    pub header: SourceHeader,
    pub source: Source,
    warp: WarpContext,
    /// Readers own file handles and decoders, which threads cannot share; each warp takes
    /// one from here (or opens one) and puts it back, so there are at most as many as threads.
    readers: Mutex<Vec<WindowReader>>,
}

impl Input {
    pub fn new(header: SourceHeader, source: Source, grid: &Grid) -> Result<Input, IngestError> {
        let info = source.info();
        let inverse = info
            .geo
            .invert()
            .map(|g| g.coeffs())
            .ok_or(SourceError::NoGeoreference)?;
        // The source's own marker: float data without one treats NaN as invalid.
        let nodata = match info.nodata {
            Some(v) => Some(v),
            None if info.dtype.is_float() => Some(f64::NAN),
            None => None,
        };
        let warp = WarpContext {
            transformer: source.transformer()?,
            inverse,
            width: i64::from(info.width),
            height: i64::from(info.height),
            bands: info.bands,
            dtype: info.dtype,
            nodata,
            resampling: grid.resampling,
        };
        Ok(Input {
            header,
            source,
            warp,
            readers: Mutex::new(Vec::new()),
        })
    }

    fn warp(&self, t: TileCoord) -> Result<Option<Block>, IngestError> {
        let pooled = self.readers.lock().map_err(|_| poisoned())?.pop();
        let mut reader = match pooled {
            Some(r) => r,
            None => self.source.reader()?,
        };
        let block = self.warp.warp(&mut reader, t);
        self.readers.lock().map_err(|_| poisoned())?.push(reader);
        block.map_err(|e| match e {
            IngestError::Source(s) => IngestError::OpenSource {
                url: self.header.url.clone(),
                source: s,
            },
            e => e,
        })
    }
}

fn poisoned() -> IngestError {
    IngestError::Io("a worker thread panicked".into())
}

/// The sources of one stage-0 unit, in merge order.
pub struct Mosaic<'a> {
    grid: &'a Grid,
    merge: MergeMode,
    inputs: Vec<Input>,
}

impl<'a> Mosaic<'a> {
    /// `inputs` in list order; `last` is `first` over the reversed list.
    pub fn new(grid: &'a Grid, merge: MergeMode, mut inputs: Vec<Input>) -> Mosaic<'a> {
        if merge == MergeMode::Last {
            inputs.reverse();
        }
        Mosaic {
            grid,
            merge,
            inputs,
        }
    }

    fn empty(&self) -> Block {
        let size = TILE_SIZE as usize;
        Block::empty(
            size,
            size,
            self.grid.bands,
            self.grid.dtype,
            self.grid.nodata.unwrap_or(0.0),
        )
    }

    /// The first valid pixel wins: sources are warped in order until the tile is full.
    fn first_valid(&self, t: TileCoord) -> Result<Option<Block>, IngestError> {
        let mut out: Option<Block> = None;
        let mut filled = 0;
        for input in self.inputs.iter().filter(|i| i.header.touches(t)) {
            let Some(mut b) = input.warp(t)? else {
                continue;
            };
            let Some(out) = out.as_mut() else {
                // The first block with data is taken as it is (most tiles have one source):
                // its invalid pixels' values are never read (encoding writes the layer's fill,
                // statistics and overviews look at valid pixels only).
                b.dtype = self.grid.dtype;
                filled = b.valid.iter().filter(|v| **v).count();
                if filled == b.pixels() {
                    return Ok(Some(b));
                }
                out = Some(b);
                continue;
            };
            let n = out.pixels();
            for i in 0..n {
                if out.valid[i] || !b.valid[i] {
                    continue;
                }
                out.valid[i] = true;
                filled += 1;
                for band in 0..out.bands {
                    out.values[band * n + i] = b.values[band * n + i];
                }
            }
            if filled == n {
                break;
            }
        }
        Ok(out.filter(|_| filled > 0))
    }

    /// Per band, the min, max or mean of the valid values of every source.
    fn combined(&self, t: TileCoord) -> Result<Option<Block>, IngestError> {
        let mut out = self.empty();
        let n = out.pixels();
        let bands = out.bands;
        // Values seen per pixel and band: a valid pixel may still hold nodata in one band.
        let mut seen = vec![0u32; n * bands];
        for input in self.inputs.iter().filter(|i| i.header.touches(t)) {
            let Some(b) = input.warp(t)? else { continue };
            let nodata = input.warp.nodata;
            for i in (0..n).filter(|i| b.valid[*i]) {
                out.valid[i] = true;
                for band in 0..bands {
                    let k = band * n + i;
                    let v = b.values[k];
                    if !is_data(v, nodata) {
                        continue;
                    }
                    let acc = &mut out.values[k];
                    *acc = match (seen[k], self.merge) {
                        (0, _) => v,
                        (_, MergeMode::Min) => acc.min(v),
                        (_, MergeMode::Max) => acc.max(v),
                        _ => *acc + v,
                    };
                    seen[k] += 1;
                }
            }
        }
        if self.merge == MergeMode::Mean {
            for (v, count) in out.values.iter_mut().zip(&seen) {
                if *count > 1 {
                    *v = self.grid.dtype.clamp(*v / f64::from(*count));
                }
            }
        }
        Ok(out.any_valid().then_some(out))
    }
}

impl Leaves for Mosaic<'_> {
    fn zoom(&self) -> u8 {
        self.grid.max_zoom
    }

    fn touches(&self, t: TileCoord) -> bool {
        self.inputs.iter().any(|i| i.header.touches(t))
    }

    fn leaf(&self, t: TileCoord) -> Result<Option<Block>, IngestError> {
        match self.merge {
            MergeMode::First | MergeMode::Last => self.first_valid(t),
            MergeMode::Min | MergeMode::Max | MergeMode::Mean => self.combined(t),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in [
            MergeMode::First,
            MergeMode::Last,
            MergeMode::Min,
            MergeMode::Max,
            MergeMode::Mean,
        ] {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
    }
}
