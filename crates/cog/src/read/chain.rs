//! Parsing the header of a whole file whose IFDs may lie anywhere (GeoTIFFs that are not
//! COGs often keep them at the end), as ingest reads sources: [`parse_chain`] says which
//! byte ranges it still needs, the caller reads them into [`FileBytes`] and calls again.
//!
//! The chain is walked as libtiff (and so GDAL) walks it: only the first IFD must be
//! sound; a loop, or a broken IFD after the first, ends the chain where it breaks.

use std::collections::BTreeMap;
use std::ops::Range;

use super::parse::{Parser, Stop};
use super::{Limits, Tiff};
use crate::CogError;

/// The bytes of a file fetched so far, by file offset, and the file's length.
#[derive(Debug, Clone, Default)]
pub struct FileBytes {
    len: u64,
    head: Vec<u8>,
    ranges: BTreeMap<u64, Vec<u8>>,
}

impl FileBytes {
    /// A file of `len` bytes whose first bytes are `head` (all of them for a short file; 16
    /// are enough, a few KiB saves round trips).
    pub fn new(len: u64, head: Vec<u8>) -> FileBytes {
        FileBytes {
            len,
            head,
            ranges: BTreeMap::new(),
        }
    }

    /// The file's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `bytes` read at file offset `offset`.
    pub fn insert(&mut self, offset: u64, bytes: Vec<u8>) {
        self.ranges.insert(offset, bytes);
    }

    /// Bytes held, head included (callers bound what they fetch with it).
    pub fn held(&self) -> u64 {
        let ranges: usize = self.ranges.values().map(Vec::len).sum();
        (self.head.len() + ranges) as u64
    }

    /// Bytes `off..end` if one fetched range holds them all.
    pub(super) fn get(&self, off: u64, end: u64) -> Option<&[u8]> {
        let within = |start: u64, v: &'_ [u8]| -> Option<Range<usize>> {
            let s = usize::try_from(off.checked_sub(start)?).ok()?;
            let e = usize::try_from(end - start).ok()?;
            (e <= v.len()).then_some(s..e)
        };
        if let Some(r) = within(0, &self.head) {
            return self.head.get(r);
        }
        let (start, v) = self.ranges.range(..=off).next_back()?;
        v.get(within(*start, v)?)
    }
}

/// A parsed IFD chain, and where it ended early.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    pub tiff: Tiff,
    /// File offset of the next-IFD pointer that closes a loop: the chain stops there (a
    /// reader that walks the chain itself must be shown 0 at that position).
    pub loop_at: Option<u64>,
    /// Why the IFD after the last one in `tiff` could not be read, if one could not.
    pub broken: Option<String>,
}

/// Result of [`parse_chain`].
#[derive(Debug, Clone, PartialEq)]
pub enum ChainParse {
    Complete(Chain),
    /// Read these ranges of the file into the [`FileBytes`] and call again.
    Need(Vec<Range<u64>>),
}

/// Why a file's header cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// Not a TIFF: bad magic bytes, unknown version, or too short to tell.
    #[error("not a TIFF: {0}")]
    NotTiff(String),
    /// The header or the first IFD lies past the end of the file.
    #[error("truncated: {0}")]
    Truncated(String),
    /// The first IFD is invalid, or a limit was exceeded.
    #[error(transparent)]
    Invalid(CogError),
}

/// Parses the header and IFD chain of a file from the ranges fetched so far. Only the first
/// IFD must be valid; `Limits::max_header_bytes` bounds the header's size (not its end), and
/// `max_ifds` where the chain is cut.
pub fn parse_chain(file: &FileBytes, limits: &Limits) -> Result<ChainParse, ChainError> {
    let mut p = Parser::new(&file.head, Some(file), limits);
    match p.parse_with(true) {
        Ok(parsed) => Ok(ChainParse::Complete(Chain {
            tiff: parsed.tiff,
            loop_at: parsed.loop_at,
            broken: parsed.broken,
        })),
        // Only the magic-and-version check asks for bytes past the end (the rest is `Past`).
        Err(Stop::More(end)) if end > file.len => Err(ChainError::NotTiff(format!(
            "{} bytes are too short for a TIFF header",
            file.len
        ))),
        Err(Stop::More(end)) => {
            let wanted = p.wanted.take();
            // No range wanted: the head was too short for the file header itself.
            let head = std::iter::once(0..end);
            Ok(ChainParse::Need(if wanted.is_empty() {
                head.collect()
            } else {
                wanted
            }))
        }
        Err(Stop::Err(e)) => Err(ChainError::Invalid(e)),
        Err(Stop::NotTiff(m)) => Err(ChainError::NotTiff(m)),
        Err(Stop::Past(m)) => Err(ChainError::Truncated(m)),
    }
}
