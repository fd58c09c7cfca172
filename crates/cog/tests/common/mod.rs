//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use tilefn_cog::read::{Ifd, Limits, Tiff};
use tilefn_cog::{CogError, decode_tile};

/// The shared corpus, checked out beside this repository.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/tiff"
    ))
}

pub fn corpus_file(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    let bytes = std::fs::read(&path);
    assert!(
        bytes.is_ok(),
        "reading {}: {:?}",
        path.display(),
        bytes.as_ref().err()
    );
    bytes.unwrap_or_default()
}

/// One MANIFEST.tsv row: file name, category and what GDAL's pixel read did ("ok", "FAIL",
/// "-" when it could not even open the file).
pub struct Entry {
    pub file: String,
    pub category: String,
    pub gdal_read: String,
}

pub fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv")).unwrap_or_default();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap_or(usize::MAX);
    let (file, category, read) = (col("file"), col("category"), col("gdal_read"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or_default().to_owned();
            Entry {
                file: get(file),
                category: get(category),
                gdal_read: get(read),
            }
        })
        .collect()
}

pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Decodes chunk `index` of `ifd` from a whole file: a sparse chunk is `Ok(None)`, a chunk
/// past the end of the file is a `Format` error.
pub fn decode_chunk(
    file: &[u8],
    tiff: &Tiff,
    ifd: &Ifd,
    col: u32,
    row: u32,
) -> Result<Option<Vec<u8>>, CogError> {
    let Some(r) = ifd.tile_range(col, row) else {
        return Ok(None);
    };
    let (Ok(s), Ok(e)) = (usize::try_from(r.start), usize::try_from(r.end)) else {
        return Err(CogError::Format("range overflows usize".into()));
    };
    let bytes = file
        .get(s..e)
        .ok_or_else(|| CogError::Format(format!("tile {r:?} is past the end of the file")))?;
    decode_tile(tiff, ifd, bytes, &Limits::default()).map(Some)
}

/// A tiny deterministic PRNG (xorshift64*), so tests need no extra dependencies.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
