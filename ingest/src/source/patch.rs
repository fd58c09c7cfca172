//! `PatchedFile`: the file as the `tiff` crate sees it, with a few bytes patched.
//!
//! Two things need it: the `tiff` crate rejects a file whose IFD chain loops (GDAL reads the
//! first image of such files fine), and it refuses to decode palette and transparency-mask
//! images (it only decodes photometric interpretations it can turn into colours). So the
//! looping next-IFD pointer reads as 0, and PhotometricInterpretation reads as MinIsBlack so
//! the decoder hands back raw samples for every image (we interpret palette, RGB, YCbCr and
//! alpha ourselves). Where those bytes are comes from tilefn-cog's directory walk
//! (`header`): `Chain::loop_at` and `Ifd::photometric_at`.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

use tilefn_cog::read::{Chain, FieldAt, Ifd};

/// Bytes to show in place of the file's own at `pos`.
#[derive(Debug, Clone)]
pub(super) struct Patch {
    pub pos: u64,
    pub bytes: Vec<u8>,
}

/// The patches the `tiff` crate needs for `chain`, whose `images` (the main image and its
/// mask, if any) it will decode: a looping chain cut, photometric MinIsBlack.
pub(super) fn for_decoder<'a>(
    chain: &Chain,
    images: impl IntoIterator<Item = Option<&'a Ifd>>,
) -> Arc<[Patch]> {
    let cut = chain.loop_at.map(|at| cut_chain(at, chain.tiff.big));
    let photometric = images.into_iter().flatten().filter_map(|f| {
        let at = f.photometric_at.filter(|_| f.photometric != Some(1))?;
        Some(patch_value(&at, 1, chain.tiff.little_endian))
    });
    cut.into_iter().chain(photometric).collect()
}

/// A next-IFD pointer (4 bytes, 8 in BigTIFF) at `pos` that reads as 0: the chain ends there.
pub(super) fn cut_chain(pos: u64, big: bool) -> Patch {
    Patch {
        pos,
        bytes: vec![0; if big { 8 } else { 4 }],
    }
}

/// A patch making `v`'s field read as `value` (same field type and size, file byte order).
pub(super) fn patch_value(v: &FieldAt, value: u64, little: bool) -> Patch {
    let size = match v.field_type {
        1 => 1,
        3 => 2,
        4 | 13 => 4,
        _ => 8,
    };
    let all = if little {
        value.to_le_bytes()
    } else {
        value.to_be_bytes()
    };
    // The low-order `size` bytes: first in little-endian order, last in big-endian.
    let bytes = if little {
        all.get(..size)
    } else {
        all.get(8 - size..)
    };
    Patch {
        pos: v.offset,
        bytes: bytes.unwrap_or_default().to_vec(),
    }
}

/// A buffered file that shows `patches` in place of the bytes underneath.
pub(super) struct PatchedFile {
    inner: BufReader<File>,
    pos: u64,
    patches: Arc<[Patch]>,
}

impl PatchedFile {
    pub fn new(file: File, patches: Arc<[Patch]>) -> PatchedFile {
        PatchedFile {
            inner: BufReader::with_capacity(64 * 1024, file),
            pos: 0,
            patches,
        }
    }
}

impl Read for PatchedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let (start, end) = (self.pos, self.pos + n as u64);
        for p in self.patches.iter() {
            let (ps, pe) = (p.pos, p.pos + p.bytes.len() as u64);
            if ps < end && pe > start {
                for (i, b) in p.bytes.iter().enumerate() {
                    let at = ps + i as u64;
                    if at >= start && at < end {
                        buf[(at - start) as usize] = *b;
                    }
                }
            }
        }
        self.pos = end;
        Ok(n)
    }
}

impl Seek for PatchedFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_field_size_and_byte_order() {
        let at = |field_type| FieldAt {
            offset: 10,
            field_type,
        };
        assert_eq!(patch_value(&at(3), 1, true).bytes, vec![1, 0]);
        assert_eq!(patch_value(&at(3), 1, false).bytes, vec![0, 1]);
        assert_eq!(patch_value(&at(4), 1, false).bytes, vec![0, 0, 0, 1]);
        assert_eq!(patch_value(&at(1), 1, false).bytes, vec![1]);
        assert_eq!(patch_value(&at(16), 1, true).bytes.len(), 8);
        assert_eq!(cut_chain(5, true).bytes, vec![0; 8]);
    }
}
