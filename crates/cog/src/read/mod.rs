//! TIFF/COG reader (sans-io): [`parse_header`] turns the first bytes of a file into a
//! [`Tiff`], [`Ifd::tile_range`] says which bytes hold a tile, and [`decode_tile`] turns
//! those bytes into pixels.
//!
//! Reads classic TIFF and BigTIFF in both byte orders, tiled or striped. Every byte is
//! treated as hostile: counts are checked against [`Limits`] before anything is allocated,
//! and malformed input yields a [`CogError`], never a panic.

mod chain;
mod decode;
mod parse;
mod raw;

use std::ops::Range;

use tilefn_raster::DataType;

use crate::CogError;

pub use chain::{Chain, ChainError, ChainParse, FileBytes, parse_chain};
pub use decode::decode_tile;
pub use parse::parse_header;

/// Resource bounds for hostile input. The defaults fit a 128 MB Cloudflare Worker isolate
/// with room for several decodes in flight; ingest (native, trusted-ish input) may raise them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most IFDs followed in the chain. Default 128: a COG with 20 overviews plus a mask
    /// for each needs 42; ours have at most 8.
    pub max_ifds: usize,
    /// Most tiles (or strips) in one IFD, counting every plane. Default 2^20: a 262144 px
    /// square of 256 px tiles. Ours have at most 16384.
    pub max_tiles_per_ifd: u64,
    /// The header (IFDs and every array they point to) must lie within this many bytes of
    /// the file start. Default 8 MiB; our COG headers are under 180 KB. Parsed arrays take
    /// at most about twice this in memory.
    pub max_header_bytes: u64,
    /// Most bytes one decoded tile (or strip) may take; decoders never buffer much more
    /// than this. Default 16 MiB: a 512x512 tile of 8 float64 bands (a 256x256 RGBA
    /// float64 tile is 2 MiB).
    pub max_tile_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_ifds: 128,
            max_tiles_per_ifd: 1 << 20,
            max_header_bytes: 8 << 20,
            max_tile_bytes: 16 << 20,
        }
    }
}

/// Result of [`parse_header`] on a prefix of a file.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderParse {
    Complete(Tiff),
    /// The header extends past the prefix: retry with at least `min_len` bytes (fetching
    /// more, e.g. double, saves round trips since later IFDs may need still more).
    NeedMore {
        min_len: u64,
    },
}

/// A parsed TIFF header: every IFD in chain order (GDAL COGs: full resolution, then
/// overviews, with mask IFDs interleaved).
#[derive(Debug, Clone, PartialEq)]
pub struct Tiff {
    pub big: bool,
    pub little_endian: bool,
    pub ifds: Vec<Ifd>,
}

impl Tiff {
    /// The image IFDs (full resolution and overviews), skipping transparency masks.
    pub fn images(&self) -> impl Iterator<Item = &Ifd> {
        self.ifds.iter().filter(|i| !i.is_mask())
    }

    /// The mask IFD (NewSubfileType bit 4) with the same size as `image`, as GDAL pairs them.
    pub fn mask_of(&self, image: &Ifd) -> Option<&Ifd> {
        self.ifds
            .iter()
            .find(|m| m.is_mask() && m.width == image.width && m.height == image.height)
    }
}

/// One image file directory, with the tags tilefn uses decoded. Strips are exposed as tiles
/// `width` wide and `rows_per_strip` tall (`tiled == false`), so [`Ifd::tile_range`] and
/// [`decode_tile`] work for both layouts.
#[derive(Debug, Clone, PartialEq)]
pub struct Ifd {
    /// File offset of this IFD.
    pub offset: u64,
    pub width: u32,
    pub height: u32,
    pub tiled: bool,
    /// TileWidth, or `width` for strips.
    pub tile_width: u32,
    /// TileLength, or `rows_per_strip` (at most `height`) for strips.
    pub tile_height: u32,
    /// RowsPerStrip for striped images.
    pub rows_per_strip: Option<u32>,
    pub samples: u16,
    /// BitsPerSample of the first sample (see `uniform_samples`).
    pub bits_per_sample: u16,
    /// SampleFormat of the first sample: 1 uint, 2 int, 3 float, 4 void, 5/6 complex.
    pub sample_format: u16,
    /// Whether every sample has the same bits and format (required to decode).
    pub uniform_samples: bool,
    /// The sample type, when it is one tilefn handles (not 1-bit masks, float16, complex).
    pub dtype: Option<DataType>,
    pub compression: u16,
    pub predictor: u16,
    pub planar_config: u16,
    pub photometric: Option<u16>,
    /// NewSubfileType: bit 0 reduced-resolution (overview), bit 2 transparency mask.
    pub subfile_type: u32,
    pub extra_samples: Vec<u16>,
    /// TileOffsets or StripOffsets (all planes, plane-major, for PlanarConfiguration 2).
    pub tile_offsets: Vec<u64>,
    pub tile_byte_counts: Vec<u64>,
    /// GDAL_NODATA parsed to f64 ("nan" allowed); `None` if absent or unparsable.
    pub nodata: Option<f64>,
    pub model_pixel_scale: Option<Vec<f64>>,
    pub model_tiepoint: Option<Vec<f64>>,
    pub model_transformation: Option<Vec<f64>>,
    pub geo_key_directory: Vec<u16>,
    pub geo_double_params: Vec<f64>,
    pub geo_ascii_params: Option<String>,
    /// GDAL_METADATA (XML: band scale/offset, descriptions, ...).
    pub gdal_metadata: Option<String>,
    /// ColorMap: red, green and blue arrays of 2^bits entries each, 16-bit.
    pub colormap: Vec<u16>,
    /// Where PhotometricInterpretation's value lies in the file, when it is one value held
    /// in its entry: ingest shows the `tiff` crate a patched copy there (see its
    /// `source::patch`).
    pub photometric_at: Option<FieldAt>,
    /// YCbCrSubSampling (empty if absent).
    pub chroma_subsampling: Vec<u16>,
    /// LercParameters (tag 50674): LERC version and additional compression (empty if
    /// absent).
    pub lerc_parameters: Vec<u32>,
}

/// The value field of one IFD entry: its file offset and TIFF field type (3 SHORT, 4 LONG,
/// 16 LONG8), enough to overwrite the value in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldAt {
    pub offset: u64,
    pub field_type: u16,
}

impl Ifd {
    pub fn tiles_across(&self) -> u32 {
        div_ceil_u32(self.width, self.tile_width)
    }

    pub fn tiles_down(&self) -> u32 {
        div_ceil_u32(self.height, self.tile_height)
    }

    /// An overview (reduced-resolution image).
    pub fn is_reduced(&self) -> bool {
        self.subfile_type & 1 != 0
    }

    /// A GDAL transparency mask (NewSubfileType 4, or 5 for a mask overview).
    pub fn is_mask(&self) -> bool {
        self.subfile_type & 4 != 0
    }

    /// Index into `tile_offsets` of tile (`col`, `row`) of the first plane.
    pub fn tile_index(&self, col: u32, row: u32) -> Option<usize> {
        if col >= self.tiles_across() || row >= self.tiles_down() {
            return None;
        }
        // Checked: on wasm32 a hand-built Ifd could overflow usize.
        (row as usize)
            .checked_mul(self.tiles_across() as usize)?
            .checked_add(col as usize)
    }

    /// The file bytes of tile (`col`, `row`) (first plane for PlanarConfiguration 2);
    /// `None` when the tile is outside the grid or sparse (offset or byte count 0: read it as
    /// nodata/empty, as GDAL does).
    pub fn tile_range(&self, col: u32, row: u32) -> Option<Range<u64>> {
        let i = self.tile_index(col, row)?;
        let (off, len) = (*self.tile_offsets.get(i)?, *self.tile_byte_counts.get(i)?);
        // The parser rejected offset + len overflows; checked_add keeps this total anyway.
        (off != 0 && len != 0).then_some(off..off.checked_add(len)?)
    }

    /// Bytes per decoded sample (sub-byte samples are unpacked to one byte each).
    pub fn bytes_per_sample(&self) -> usize {
        usize::from(self.bits_per_sample).div_ceil(8)
    }
}

fn div_ceil_u32(a: u32, b: u32) -> u32 {
    if b == 0 { 0 } else { a.div_ceil(b) }
}

/// Parses a whole file (or a prefix the caller knows is all there is): `NeedMore` becomes a
/// `Format` error, since the header points past the end of the data.
pub fn parse_file(bytes: &[u8], limits: &Limits) -> Result<Tiff, CogError> {
    match parse_header(bytes, limits)? {
        HeaderParse::Complete(t) => Ok(t),
        HeaderParse::NeedMore { min_len } => Err(CogError::Format(format!(
            "truncated: the header needs {min_len} bytes but the file has {}",
            bytes.len()
        ))),
    }
}
