//! The TIFF directory walk, by tilefn-cog's parser: `parse_chain` names the byte ranges it
//! needs and we read them from the file, so a header at the end of a multi-GB GeoTIFF costs
//! a few small reads, never the whole file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use tilefn_cog::CogError;
use tilefn_cog::read::{Chain, ChainError, ChainParse, FileBytes, Limits, parse_chain};

use super::error::SourceError;

/// Bounds for source headers, wider than the Worker's defaults (sources are not COGs):
/// every IFD a libtiff-style walk follows (the walk stops quietly at the 4096th, as it did
/// before), images of up to 2^24 strips or tiles (e.g. 66000 rows of one-row strips), and
/// at most 256 MiB of header (the `tiff` crate's per-array bound ingest used before).
pub(super) const LIMITS: Limits = Limits {
    max_ifds: 4096,
    max_tiles_per_ifd: 1 << 24,
    max_header_bytes: 256 << 20,
    // Unused: pixels are not decoded by tilefn-cog here.
    max_tile_bytes: 1 << 30,
};

/// Bytes read per wanted range at least: GDAL writes an IFD and its arrays together, so one
/// read usually brings a whole IFD.
const READ_AHEAD: u64 = 64 << 10;

/// Reads the header and IFD chain of `file` (`len` bytes).
pub(super) fn read_chain(file: &mut File, len: u64) -> Result<Chain, SourceError> {
    let mut bytes = FileBytes::new(len, read_at(file, 0, READ_AHEAD.min(len))?);
    // Each round brings at least one missing range; an IFD needs at most two (its entries,
    // then the arrays they point to), so this only stops a header built to waste reads.
    for _ in 0..2 * LIMITS.max_ifds + 8 {
        match parse_chain(&bytes, &LIMITS).map_err(chain_error)? {
            ChainParse::Complete(chain) => return Ok(chain),
            ChainParse::Need(ranges) => {
                for r in ranges {
                    let end = r.end.max(r.start.saturating_add(READ_AHEAD)).min(len);
                    let got = read_at(file, r.start, end.saturating_sub(r.start))?;
                    bytes.insert(r.start, got);
                }
                if bytes.held() > 2 * LIMITS.max_header_bytes {
                    return Err(too_big());
                }
            }
        }
    }
    Err(too_big())
}

fn too_big() -> SourceError {
    SourceError::Unsupported(format!(
        "the image directories need more than {} MiB of reads",
        2 * (LIMITS.max_header_bytes >> 20)
    ))
}

fn read_at(file: &mut File, pos: u64, len: u64) -> Result<Vec<u8>, SourceError> {
    let len = usize::try_from(len).map_err(|_| too_big())?;
    let mut buf = vec![0u8; len];
    file.seek(SeekFrom::Start(pos))?;
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// The walk's errors as the ones ingest reported before (the corpus outcomes name them).
fn chain_error(e: ChainError) -> SourceError {
    match e {
        ChainError::NotTiff(_) => SourceError::NotTiff,
        ChainError::Truncated(m) => SourceError::Corrupt(format!("truncated file: {m}")),
        ChainError::Invalid(CogError::Limits(m) | CogError::Unsupported(m)) => {
            SourceError::Unsupported(m)
        }
        ChainError::Invalid(CogError::Format(m) | CogError::Usage(m)) => SourceError::Corrupt(m),
    }
}
