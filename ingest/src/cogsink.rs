//! Collects the encoded tiles of one COG as they are produced, then writes the COG.
//!
//! A COG's header lists every tile's offset, so nothing can be written until the last tile
//! exists. Tiles are therefore spilled, already compressed, to a temporary file as the
//! pyramid produces them (in whatever order rayon finishes them); when the COG's anchor tile
//! is done the header is built and the data copied behind it in COG order. Memory per COG is
//! its tile index, never its pixels.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

use tilefn_catalog::ObjectEntry;
use tilefn_cog::write::{CogSpec, data_order, header_with_mask};

use crate::IngestError;
use crate::store::Store;

struct Spill {
    file: File,
    len: u64,
    /// `[level][row * cols + col]` → (offset in the spill file, image length, mask length):
    /// the mask tile (if any) is spilled right behind its image tile; length 0 = sparse.
    index: Vec<Vec<(u64, u64, u64)>>,
}

pub struct CogSink {
    pub spec: CogSpec,
    spill: Mutex<Spill>,
}

impl CogSink {
    pub fn new(spec: CogSpec) -> Result<CogSink, IngestError> {
        let file =
            tempfile::tempfile().map_err(|e| IngestError::Io(format!("temporary file: {e}")))?;
        let index = (0..usize::from(spec.levels))
            .map(|l| {
                let n = spec.tiles_per_side(l) as usize;
                vec![(0, 0, 0); n * n]
            })
            .collect();
        Ok(CogSink {
            spec,
            spill: Mutex::new(Spill {
                file,
                len: 0,
                index,
            }),
        })
    }

    /// Stores the encoded tile at (`level`, `col`, `row`) and its encoded mask tile (empty
    /// when the spec has no mask).
    pub fn put(
        &self,
        level: usize,
        col: u32,
        row: u32,
        bytes: &[u8],
        mask: &[u8],
    ) -> Result<(), IngestError> {
        let mut s = self
            .spill
            .lock()
            .map_err(|_| IngestError::Io("a worker thread panicked".into()))?;
        let n = self.spec.tiles_per_side(level);
        if col >= n || row >= n || level >= s.index.len() {
            return Err(IngestError::Io(format!(
                "tile {level}/{col}/{row} outside its COG"
            )));
        }
        let off = s.len;
        s.file
            .seek(SeekFrom::Start(off))
            .and_then(|_| s.file.write_all(bytes))
            .and_then(|_| s.file.write_all(mask))
            .map_err(|e| IngestError::Io(format!("spill: {e}")))?;
        s.len += (bytes.len() + mask.len()) as u64;
        s.index[level][(row * n + col) as usize] = (off, bytes.len() as u64, mask.len() as u64);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.spill.lock().map(|s| s.len == 0).unwrap_or(true)
    }

    /// Writes the finished COG to `key` in the store.
    pub fn finish(self, store: &Store, key: &str) -> Result<ObjectEntry, IngestError> {
        let spill = self
            .spill
            .into_inner()
            .map_err(|_| IngestError::Io("a worker thread panicked".into()))?;
        let sizes: Vec<Vec<u64>> = spill
            .index
            .iter()
            .map(|l| l.iter().map(|t| t.1).collect())
            .collect();
        let mask_sizes: Vec<Vec<u64>> = if self.spec.mask {
            spill
                .index
                .iter()
                .map(|l| l.iter().map(|t| t.2).collect())
                .collect()
        } else {
            Vec::new()
        };
        let head = header_with_mask(&self.spec, &sizes, &mask_sizes)?;
        let order = data_order(&self.spec);
        let header_len = head.len() as u64;
        let mut entry = store.put_streamed(key, |emit| {
            emit(&head)?;
            let mut buf = Vec::new();
            for (level, i) in order {
                // The image tile and its mask tile, spilled together in file order.
                let Some(&(off, image, mask)) = spill.index.get(level).and_then(|l| l.get(i))
                else {
                    continue;
                };
                let len = image + mask;
                if len == 0 {
                    continue;
                }
                buf.resize(len as usize, 0);
                spill
                    .file
                    .read_exact_at(&mut buf, off)
                    .map_err(|e| IngestError::Io(format!("spill: {e}")))?;
                emit(&buf)?;
            }
            Ok(())
        })?;
        entry.header_len = Some(header_len);
        Ok(entry)
    }
}
