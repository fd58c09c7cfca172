//! A small walk over the TIFF header and IFD chain, done before the `tiff` crate sees the file.
//!
//! Two things need it: the `tiff` crate rejects a file whose IFD chain loops (GDAL reads the
//! first image of such files fine), and it refuses to decode palette and transparency-mask
//! images (it only decodes photometric interpretations it can turn into colours). Both are
//! worked around by `PatchedFile`, which presents a few patched bytes to the decoder: the
//! looping next-IFD pointer reads as 0, and PhotometricInterpretation reads as MinIsBlack so
//! the decoder hands back raw samples for every image (we interpret palette, RGB, YCbCr and
//! alpha ourselves).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

use super::error::SourceError;

/// Most IFDs we follow; real files have a handful (image, mask, overviews).
const MAX_IFDS: usize = 4096;
/// Most entries per IFD we accept; TIFF writers use a few dozen.
const MAX_ENTRIES: u64 = 4096;

pub(super) const TAG_NEW_SUBFILE_TYPE: u16 = 254;
pub(super) const TAG_WIDTH: u16 = 256;
pub(super) const TAG_HEIGHT: u16 = 257;
pub(super) const TAG_PHOTOMETRIC: u16 = 262;

/// Bytes to show in place of the file's own at `pos`.
#[derive(Debug, Clone)]
pub(super) struct Patch {
    pub pos: u64,
    pub bytes: Vec<u8>,
}

/// One IFD entry whose value fits inline (a single SHORT, LONG or LONG8).
#[derive(Debug, Clone, Copy)]
pub(super) struct InlineValue {
    pub value: u64,
    /// File position of the value field, for patching.
    pub pos: u64,
    /// Field type (3 SHORT, 4 LONG, 16 LONG8).
    pub field_type: u16,
}

#[derive(Debug, Clone, Default)]
pub(super) struct RawIfd {
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub subfile_type: u64,
    pub photometric: Option<InlineValue>,
}

#[derive(Debug, Clone)]
pub(super) struct Scan {
    pub little_endian: bool,
    pub ifds: Vec<RawIfd>,
    /// Patches that break an IFD loop.
    pub patches: Vec<Patch>,
}

fn read_at<R: Read + Seek>(r: &mut R, pos: u64, buf: &mut [u8]) -> std::io::Result<()> {
    r.seek(SeekFrom::Start(pos))?;
    r.read_exact(buf)
}

struct Endian(bool);

impl Endian {
    fn u16(&self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.0 {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }
    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.0 {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }
    fn u64(&self, b: &[u8]) -> u64 {
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        if self.0 {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }
}

/// Reads the header and follows the IFD chain. Only the first IFD must be readable; a broken
/// later IFD ends the chain (it can only hold overviews or masks).
pub(super) fn scan<R: Read + Seek>(r: &mut R, len: u64) -> Result<Scan, SourceError> {
    let mut head = [0u8; 16];
    let n = usize::try_from(len.min(16)).unwrap_or(16);
    read_at(r, 0, &mut head[..n])?;
    let little = match &head[..2.min(n)] {
        b"II" => true,
        b"MM" => false,
        _ => return Err(SourceError::NotTiff),
    };
    let e = Endian(little);
    if n < 8 {
        return Err(SourceError::NotTiff);
    }
    let big = match e.u16(&head[2..4]) {
        42 => false,
        43 => true,
        _ => return Err(SourceError::NotTiff),
    };
    if big && (n < 16 || e.u16(&head[4..6]) != 8) {
        return Err(SourceError::NotTiff);
    }
    let first = if big {
        e.u64(&head[8..16])
    } else {
        u64::from(e.u32(&head[4..8]))
    };
    let (count_size, entry_size, ptr_size) = if big { (8u64, 20u64, 8u64) } else { (2, 12, 4) };

    let mut ifds = Vec::new();
    let mut patches = Vec::new();
    let mut seen = HashSet::new();
    let mut offset = first;
    while ifds.len() < MAX_IFDS {
        let first_ifd = ifds.is_empty();
        let fail = |msg: String| -> Result<Scan, SourceError> { Err(SourceError::Corrupt(msg)) };
        if offset == 0 || offset.saturating_add(count_size) > len {
            if first_ifd {
                return fail(format!(
                    "truncated file: the first image directory (offset {offset}) lies past the end of the file"
                ));
            }
            break;
        }
        seen.insert(offset);
        let mut cbuf = [0u8; 8];
        read_at(r, offset, &mut cbuf[..count_size as usize])?;
        let count = if big {
            e.u64(&cbuf)
        } else {
            u64::from(e.u16(&cbuf))
        };
        let table = offset + count_size;
        let end = count
            .checked_mul(entry_size)
            .and_then(|b| b.checked_add(table + ptr_size));
        if count == 0 || count > MAX_ENTRIES || end.is_none_or(|end| end > len) {
            if first_ifd {
                return fail(format!(
                    "truncated or invalid image directory at offset {offset}"
                ));
            }
            break;
        }
        let mut buf = vec![0u8; (count * entry_size + ptr_size) as usize];
        read_at(r, table, &mut buf)?;
        let mut ifd = RawIfd::default();
        for i in 0..count as usize {
            let ent = &buf[i * entry_size as usize..(i + 1) * entry_size as usize];
            let tag = e.u16(&ent[0..2]);
            let field_type = e.u16(&ent[2..4]);
            let n = if big {
                e.u64(&ent[4..12])
            } else {
                u64::from(e.u32(&ent[4..8]))
            };
            let vstart = if big { 12 } else { 8 };
            let field = &ent[vstart..];
            let value = match (field_type, n) {
                (3, 1) => Some(u64::from(e.u16(field))),
                (4, 1) => Some(u64::from(e.u32(field))),
                (16, 1) if big => Some(e.u64(field)),
                _ => None,
            };
            let Some(value) = value else { continue };
            let pos = table + i as u64 * entry_size + vstart as u64;
            let inline = InlineValue {
                value,
                pos,
                field_type,
            };
            match tag {
                TAG_NEW_SUBFILE_TYPE => ifd.subfile_type = value,
                TAG_WIDTH => ifd.width = Some(value),
                TAG_HEIGHT => ifd.height = Some(value),
                TAG_PHOTOMETRIC => ifd.photometric = Some(inline),
                _ => {}
            }
        }
        ifds.push(ifd);
        let next_pos = table + count * entry_size;
        let ptr = &buf[(count * entry_size) as usize..];
        let next = if big {
            e.u64(ptr)
        } else {
            u64::from(e.u32(ptr))
        };
        if next == 0 {
            break;
        }
        if seen.contains(&next) {
            // Cut the loop where it closes, as libtiff does, so the decoder sees a finite chain.
            patches.push(Patch {
                pos: next_pos,
                bytes: vec![0; ptr_size as usize],
            });
            break;
        }
        offset = next;
    }
    Ok(Scan {
        little_endian: little,
        ifds,
        patches,
    })
}

/// A patch making `v`'s field read as `value` (same field type, file byte order).
pub(super) fn patch_value(v: &InlineValue, value: u64, little: bool) -> Patch {
    let bytes = match v.field_type {
        3 => {
            let x = value as u16;
            if little {
                x.to_le_bytes().to_vec()
            } else {
                x.to_be_bytes().to_vec()
            }
        }
        4 => {
            let x = value as u32;
            if little {
                x.to_le_bytes().to_vec()
            } else {
                x.to_be_bytes().to_vec()
            }
        }
        _ => {
            if little {
                value.to_le_bytes().to_vec()
            } else {
                value.to_be_bytes().to_vec()
            }
        }
    };
    Patch { pos: v.pos, bytes }
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
