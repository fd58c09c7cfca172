//! Sans-io TIFF header parser. Stateless: a caller that gets `NeedMore` fetches a longer
//! prefix and calls again from scratch (headers are small; re-parsing is cheaper than a
//! round trip).

use std::cell::{Cell, RefCell};
use std::ops::Range;

use super::chain::FileBytes;
use super::raw::RawIfd;
use super::{FieldAt, HeaderParse, Ifd, Limits, Tiff};
use crate::CogError;

/// Why parsing stopped: not enough bytes yet, or a real error.
pub(super) enum Stop {
    More(u64),
    Err(CogError),
    /// Not a TIFF at all (magic bytes or version); a `Format` error to `parse_header`.
    NotTiff(String),
    /// Bytes past the end of the file (only when the file length is known: `parse_chain`).
    Past(String),
}

impl From<CogError> for Stop {
    fn from(e: CogError) -> Self {
        Stop::Err(e)
    }
}

pub(super) fn format(msg: String) -> Stop {
    Stop::Err(CogError::Format(msg))
}

/// Parses the TIFF header and every IFD from `prefix`, the first bytes of a file. Returns
/// `NeedMore` when the IFD chain or an array it points to lies past `prefix.len()`.
pub fn parse_header(prefix: &[u8], limits: &Limits) -> Result<HeaderParse, CogError> {
    match Parser::new(prefix, None, limits).parse_with(false) {
        Ok(p) => Ok(HeaderParse::Complete(p.tiff)),
        Err(Stop::More(min_len)) => Ok(HeaderParse::NeedMore { min_len }),
        Err(Stop::Err(e)) => Err(e),
        Err(Stop::NotTiff(m) | Stop::Past(m)) => Err(CogError::Format(m)),
    }
}

/// What `Parser::parse` found: the IFDs, and for a lenient parse where the chain ended early.
pub(super) struct Parsed {
    pub tiff: Tiff,
    /// File offset of the next-IFD pointer that closed a loop (lenient only).
    pub loop_at: Option<u64>,
    /// Why a later IFD was dropped (lenient only).
    pub broken: Option<String>,
}

pub(super) struct Parser<'a> {
    data: &'a [u8],
    /// Set for `parse_chain`: the whole file's length and the ranges fetched so far.
    file: Option<&'a FileBytes>,
    le: bool,
    big: bool,
    limits: &'a Limits,
    /// Bytes of parsed arrays allocated so far: IFDs may share one on-disk array, so the
    /// header-size limit alone would not bound memory.
    budget: Cell<u64>,
    /// Header bytes read so far (`file` only: there the header may lie anywhere in the file,
    /// so `max_header_bytes` bounds its size instead of its end).
    read: Cell<u64>,
    /// Ranges missing from `file` (all of one IFD's arrays at once, to save round trips).
    pub(super) wanted: RefCell<Vec<Range<u64>>>,
    /// Walk as `parse_chain` does (see `chain`).
    lenient: bool,
}

/// One raw IFD entry: where its value field is, so values can be read lazily.
struct Entry {
    tag: u16,
    typ: u16,
    count: u64,
    field_pos: u64,
}

/// Most values read from a tag other than tile/strip arrays (65536-entry colour maps x 3).
const MAX_VALUES: u64 = 3 << 16;

fn type_size(typ: u16) -> Option<u64> {
    Some(match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => return None,
    })
}

fn tag_name(tag: u16) -> String {
    let name = match tag {
        256 => "ImageWidth",
        257 => "ImageLength",
        258 => "BitsPerSample",
        273 => "StripOffsets",
        277 => "SamplesPerPixel",
        278 => "RowsPerStrip",
        279 => "StripByteCounts",
        322 => "TileWidth",
        323 => "TileLength",
        324 => "TileOffsets",
        325 => "TileByteCounts",
        _ => return format!("tag {tag}"),
    };
    name.to_owned()
}

impl<'a> Parser<'a> {
    pub(super) fn new(data: &'a [u8], file: Option<&'a FileBytes>, limits: &'a Limits) -> Self {
        Parser {
            data,
            file,
            le: true,
            big: false,
            limits,
            budget: Cell::new(0),
            read: Cell::new(0),
            wanted: RefCell::new(Vec::new()),
            lenient: false,
        }
    }

    /// `len` bytes at `off` from the fetched ranges of a file of known length.
    fn file_bytes(&self, file: &'a FileBytes, off: u64, end: u64) -> Result<&'a [u8], Stop> {
        if end > file.len() {
            return Err(Stop::Past(format!(
                "header data at bytes {off}..{end} lies past the end of the {}-byte file",
                file.len()
            )));
        }
        let read = self.read.get().saturating_add(end - off);
        if read > self.limits.max_header_bytes {
            return Err(Stop::Err(CogError::Limits(format!(
                "the header needs more than {} bytes",
                self.limits.max_header_bytes
            ))));
        }
        self.read.set(read);
        file.get(off, end).ok_or_else(|| {
            self.wanted.borrow_mut().push(off..end);
            Stop::More(end)
        })
    }

    /// `len` bytes at `off`, if within the prefix and the header limit.
    fn bytes(&self, off: u64, len: u64) -> Result<&'a [u8], Stop> {
        let end = off
            .checked_add(len)
            .ok_or_else(|| format(format!("offset {off} + {len} overflows")))?;
        if let Some(file) = self.file {
            return self.file_bytes(file, off, end);
        }
        if end > self.limits.max_header_bytes {
            return Err(Stop::Err(CogError::Limits(format!(
                "header data at bytes {off}..{end} lies past the {}-byte header limit",
                self.limits.max_header_bytes
            ))));
        }
        // end <= max_header_bytes, so usize conversion only fails on 32-bit targets with a
        // limit above 4 GiB, where the prefix cannot be that long anyway.
        let (Ok(s), Ok(e)) = (usize::try_from(off), usize::try_from(end)) else {
            return Err(Stop::More(end));
        };
        self.data.get(s..e).ok_or(Stop::More(end))
    }

    /// An unsigned integer of 1..=8 bytes in the file's byte order.
    fn uint(&self, b: &[u8]) -> u64 {
        let acc = |a: u64, x: &u8| (a << 8) | u64::from(*x);
        if self.le {
            b.iter().rev().fold(0, acc)
        } else {
            b.iter().fold(0, acc)
        }
    }

    /// Parses the header and the IFD chain (`lenient`: see `parse_chain`).
    pub(super) fn parse_with(&mut self, lenient: bool) -> Result<Parsed, Stop> {
        self.lenient = lenient;
        let d = self.data;
        let magic = d.get(..2);
        let not_tiff = || Stop::NotTiff("not a TIFF (bad magic bytes)".into());
        match magic {
            Some(b"II") => self.le = true,
            Some(b"MM") => self.le = false,
            Some(_) => return Err(not_tiff()),
            None if d.first().is_some_and(|b| *b != b'I' && *b != b'M') => {
                return Err(not_tiff());
            }
            None => return Err(Stop::More(8)),
        }
        let version = d.get(2..4).map(|v| self.uint(v));
        if version.is_some_and(|v| v != 42 && v != 43) || d.len() < 8 {
            // Report a bad version as early as possible, else ask for the whole header.
            if let Some(v) = version.filter(|v| *v != 42 && *v != 43) {
                return Err(Stop::NotTiff(format!(
                    "unknown TIFF version {v} (expected 42 or 43)"
                )));
            }
            return Err(Stop::More(if version == Some(43) { 16 } else { 8 }));
        }
        let version = version.unwrap_or_default();
        let first = match version {
            42 => self.uint(self.bytes(4, 4)?),
            43 => {
                self.big = true;
                let h = self.bytes(4, 12)?;
                let (offset_size, reserved) = (self.uint(&h[..2]), self.uint(&h[2..4]));
                if offset_size != 8 || reserved != 0 {
                    return Err(format(format!(
                        "BigTIFF with offset size {offset_size} (reserved {reserved})"
                    )));
                }
                self.uint(&h[4..12])
            }
            v => {
                return Err(format(format!(
                    "unknown TIFF version {v} (expected 42 or 43)"
                )));
            }
        };
        if first == 0 {
            return Err(format("the TIFF has no IFD".into()));
        }
        self.chain(first, lenient)
    }

    /// Follows the IFD chain from `first`. `lenient` (libtiff's behaviour, for ingest): a
    /// loop or a broken IFD after the first ends the chain instead of failing the file, and
    /// an entry of unknown field type is skipped as if absent (as the `tiff` crate does).
    fn chain(&self, first: u64, lenient: bool) -> Result<Parsed, Stop> {
        let mut ifds = Vec::new();
        let mut visited = Vec::new();
        let (mut off, mut pointer_at) = (first, None);
        let (mut loop_at, mut broken) = (None, None);
        while off != 0 {
            if ifds.len() >= self.limits.max_ifds {
                if lenient {
                    broken = Some(format!("more than {} IFDs", self.limits.max_ifds));
                    break;
                }
                return Err(Stop::Err(CogError::Limits(format!(
                    "more than {} IFDs",
                    self.limits.max_ifds
                ))));
            }
            if visited.contains(&off) {
                if lenient {
                    loop_at = pointer_at;
                    break;
                }
                return Err(format(format!("IFD chain loops back to offset {off}")));
            }
            visited.push(off);
            match self.ifd(off) {
                Ok((ifd, next, at)) => {
                    ifds.push(ifd);
                    (off, pointer_at) = (next, Some(at));
                }
                Err(Stop::More(end)) => return Err(Stop::More(end)),
                Err(Stop::Past(m)) if ifds.is_empty() => {
                    return Err(Stop::Past(format!("the first IFD (offset {off}): {m}")));
                }
                Err(e) if lenient && !ifds.is_empty() => {
                    broken = Some(match e {
                        Stop::Err(e) => e.to_string(),
                        Stop::NotTiff(m) | Stop::Past(m) => m,
                        Stop::More(_) => String::new(),
                    });
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Parsed {
            tiff: Tiff {
                big: self.big,
                little_endian: self.le,
                ifds,
            },
            loop_at,
            broken,
        })
    }

    /// Parses the IFD at `off`; returns it, the next IFD's offset and where that offset is.
    fn ifd(&self, off: u64) -> Result<(Ifd, u64, u64), Stop> {
        let (count_size, entry_size, off_size) = if self.big { (8, 20, 8) } else { (2, 12, 4) };
        let n = self.uint(self.bytes(off, count_size)?);
        if n == 0 {
            return Err(format(format!("IFD at {off} has no entries")));
        }
        let body = off + count_size;
        let len = n
            .checked_mul(entry_size)
            .and_then(|l| l.checked_add(off_size));
        let block = self.bytes(
            body,
            len.ok_or_else(|| format(format!("IFD at {off} has {n} entries")))?,
        )?;
        let next = self.uint(
            block
                .get(block.len() - off_size as usize..)
                .unwrap_or_default(),
        );

        let mut b = RawIfd::default();
        // Largest end offset of the arrays this IFD needs but the prefix lacks.
        let mut missing = 0u64;
        macro_rules! grab {
            ($e:expr) => {
                match $e {
                    Ok(v) => Some(v),
                    Err(Stop::More(end)) => {
                        missing = missing.max(end);
                        None
                    }
                    Err(e) => return Err(e),
                }
            };
        }
        for (i, raw) in block.chunks_exact(entry_size as usize).enumerate() {
            let e = Entry {
                tag: self.uint(&raw[..2]) as u16,
                typ: self.uint(&raw[2..4]) as u16,
                count: self.uint(&raw[4..4 + off_size as usize]),
                field_pos: body + i as u64 * entry_size + 4 + off_size,
            };
            if self.lenient && type_size(e.typ).is_none() {
                continue;
            }
            let tiles = self.limits.max_tiles_per_ifd;
            match e.tag {
                254 => b.subfile_type = grab!(self.scalar(&e)),
                256 => b.width = grab!(self.scalar(&e)),
                257 => b.height = grab!(self.scalar(&e)),
                258 => b.bits = grab!(self.uints(&e, MAX_VALUES, false)),
                259 => b.compression = grab!(self.scalar(&e)),
                262 => {
                    b.photometric = grab!(self.scalar(&e));
                    b.photometric_at = (e.count == 1).then_some(FieldAt {
                        offset: e.field_pos,
                        field_type: e.typ,
                    });
                }
                273 => b.strip_offsets = grab!(self.uints(&e, tiles, true)),
                277 => b.samples = grab!(self.scalar(&e)),
                278 => b.rows_per_strip = grab!(self.scalar(&e)),
                279 => b.strip_counts = grab!(self.uints(&e, tiles, true)),
                284 => b.planar = grab!(self.scalar(&e)),
                317 => b.predictor = grab!(self.scalar(&e)),
                320 => b.colormap = grab!(self.uints(&e, MAX_VALUES, false)),
                322 => b.tile_width = grab!(self.scalar(&e)),
                323 => b.tile_height = grab!(self.scalar(&e)),
                324 => b.tile_offsets = grab!(self.uints(&e, tiles, true)),
                325 => b.tile_counts = grab!(self.uints(&e, tiles, true)),
                338 => b.extra_samples = grab!(self.uints(&e, MAX_VALUES, false)),
                339 => b.sample_format = grab!(self.uints(&e, MAX_VALUES, false)),
                33550 => b.pixel_scale = grab!(self.doubles(&e)),
                33922 => b.tiepoint = grab!(self.doubles(&e)),
                34264 => b.transformation = grab!(self.doubles(&e)),
                34735 => b.geo_keys = grab!(self.uints(&e, MAX_VALUES, false)),
                34736 => b.geo_doubles = grab!(self.doubles(&e)),
                34737 => b.geo_ascii = grab!(self.ascii(&e)),
                42112 => b.gdal_metadata = grab!(self.ascii(&e)),
                42113 => b.nodata = grab!(self.ascii(&e)),
                530 => b.chroma_subsampling = grab!(self.uints(&e, MAX_VALUES, false)),
                50674 => b.lerc_parameters = grab!(self.uints(&e, MAX_VALUES, false)),
                // Everything else is skipped without touching its data.
                _ => {}
            }
        }
        if missing > 0 {
            return Err(Stop::More(missing));
        }
        let next_at = body + n * entry_size;
        Ok((b.finish(off, self.limits)?, next, next_at))
    }

    /// The bytes of an entry's value: inline in the entry or at the offset it holds.
    fn value(&self, e: &Entry) -> Result<&'a [u8], Stop> {
        let size = type_size(e.typ)
            .ok_or_else(|| format(format!("{} has unknown type {}", tag_name(e.tag), e.typ)))?;
        let len = e
            .count
            .checked_mul(size)
            .ok_or_else(|| format(format!("{} count {} overflows", tag_name(e.tag), e.count)))?;
        let inline = if self.big { 8 } else { 4 };
        if len <= inline {
            self.bytes(e.field_pos, len)
        } else {
            let at = self.uint(self.bytes(e.field_pos, inline)?);
            self.bytes(at, len)
        }
    }

    fn spend(&self, values: u64) -> Result<(), Stop> {
        let used = self.budget.get().saturating_add(values.saturating_mul(8));
        let cap = self
            .limits
            .max_header_bytes
            .saturating_mul(2)
            .saturating_add(1 << 20);
        if used > cap {
            return Err(Stop::Err(CogError::Limits(format!(
                "header arrays need more than {cap} bytes of memory"
            ))));
        }
        self.budget.set(used);
        Ok(())
    }

    /// Integer values. `tile_array` says an over-long count is a limit (tile/strip arrays)
    /// rather than a format error.
    fn uints(&self, e: &Entry, max: u64, tile_array: bool) -> Result<Vec<u64>, Stop> {
        if !matches!(e.typ, 1 | 3 | 4 | 13 | 16 | 18) {
            return Err(format(format!(
                "{} has type {}, expected an unsigned integer",
                tag_name(e.tag),
                e.typ
            )));
        }
        if e.count > max {
            let msg = format!(
                "{} has {} values (at most {max} accepted)",
                tag_name(e.tag),
                e.count
            );
            return Err(Stop::Err(if tile_array {
                CogError::Limits(msg)
            } else {
                CogError::Format(msg)
            }));
        }
        let b = self.value(e)?;
        self.spend(e.count)?;
        let size = type_size(e.typ).unwrap_or(1) as usize;
        Ok(b.chunks_exact(size).map(|c| self.uint(c)).collect())
    }

    fn scalar<T: TryFrom<u64>>(&self, e: &Entry) -> Result<T, Stop> {
        let v = self.uints(e, MAX_VALUES, false)?;
        let first = *v
            .first()
            .ok_or_else(|| format(format!("{} has no value", tag_name(e.tag))))?;
        T::try_from(first)
            .map_err(|_| format(format!("{} value {first} is out of range", tag_name(e.tag))))
    }

    fn doubles(&self, e: &Entry) -> Result<Vec<f64>, Stop> {
        if e.count > MAX_VALUES {
            return Err(format(format!(
                "{} has {} values",
                tag_name(e.tag),
                e.count
            )));
        }
        let b = self.value(e)?;
        self.spend(e.count)?;
        let size = type_size(e.typ).unwrap_or(1) as usize;
        let conv = |c: &[u8]| -> Option<f64> {
            let v = self.uint(c);
            Some(match e.typ {
                12 => f64::from_bits(v),
                11 => f64::from(f32::from_bits(v as u32)),
                1 | 3 | 4 | 13 | 16 | 18 => v as f64,
                // RATIONAL: the numerator is the first LONG in file order.
                5 => {
                    let (n, d) = (self.uint(c.get(..4)?), self.uint(c.get(4..)?));
                    n as f64 / d as f64
                }
                _ => return None,
            })
        };
        b.chunks_exact(size)
            .map(|c| {
                conv(c)
                    .ok_or_else(|| format(format!("tag {} has non-numeric type {}", e.tag, e.typ)))
            })
            .collect()
    }

    fn ascii(&self, e: &Entry) -> Result<String, Stop> {
        if !matches!(e.typ, 1 | 2 | 7) {
            return Err(format(format!(
                "tag {} has type {}, expected ASCII",
                e.tag, e.typ
            )));
        }
        let b = self.value(e)?;
        self.spend(e.count / 8)?;
        Ok(String::from_utf8_lossy(b).trim_end_matches('\0').to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_prefixes() {
        let l = Limits::default();
        assert_eq!(
            parse_header(&[], &l),
            Ok(HeaderParse::NeedMore { min_len: 8 })
        );
        assert_eq!(
            parse_header(b"I", &l),
            Ok(HeaderParse::NeedMore { min_len: 8 })
        );
        assert!(parse_header(b"P", &l).is_err());
        assert!(parse_header(b"\x89PNG\r\n\x1a\n", &l).is_err());
        assert!(matches!(
            parse_header(b"II*\0\0\0\0\0", &l),
            Err(CogError::Format(_))
        ));
        assert_eq!(
            parse_header(b"II*\0\x08\0\0\0", &l),
            Ok(HeaderParse::NeedMore { min_len: 10 })
        );
        assert_eq!(
            parse_header(b"II+\0\x08\0\0\0", &l),
            Ok(HeaderParse::NeedMore { min_len: 16 })
        );
        assert!(
            matches!(parse_header(b"II)\0\x08\0\0\0", &l), Err(CogError::Format(m)) if m.contains("version 41"))
        );
        let far = Limits {
            max_header_bytes: 100,
            ..l
        };
        assert!(matches!(
            parse_header(b"II*\0\xff\xff\0\0", &far),
            Err(CogError::Limits(_))
        ));
    }
}
