//! The source half of ingest: open a GeoTIFF, describe it, and read arbitrary pixel windows
//! from it without ever holding the whole image.
//!
//! ## Reading a TIFF: who does what
//!
//! * The directory walk (IFD chain, subfile types, photometric, mask IFD, GeoKeys, nodata,
//!   colour map, strip/tile offsets) is tilefn-cog's parser, the one the tile server uses:
//!   `header` drives its `parse_chain` with reads from the file, and `describe` turns the
//!   `Ifd`s into a `SourceInfo`. Its lenient walk stops where libtiff does (a loop, a broken
//!   later IFD), so files GDAL opens still open.
//! * Pixels go through the `tiff` crate (JPEG, WebP, LZW, PackBits, YCbCr, bit depths ...),
//!   which walks to the image it decodes itself; `patch` shows it a few patched bytes, at
//!   positions the walk above found, so it decodes every image as raw samples (palette,
//!   masks, RGB/YCbCr and alpha are interpreted here) and never follows a looping chain.
//! * LERC chunks, which the `tiff` crate cannot decode, are read raw and decoded by `lerc`
//!   (with their deflate/zstd wrapper undone first); LERC's own validity mask marks pixels
//!   invalid like nodata.
//!
//! Decoded chunks live in a byte-bounded LRU (`lru::LruCache`) shared by all readers of a
//! source.

mod cache;
mod crs;
pub(crate) mod describe;
mod error;
mod footprint;
mod geokeys;
mod header;
mod layout;
mod lerc;
mod patch;
mod reader;
mod samples;
mod transform;
mod wkt;

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tilefn_cog::read::Ifd;
use tilefn_raster::{Bounds, DataType};

pub use crs::Crs;
pub use error::SourceError;
pub use geokeys::GeoTransform;
pub use reader::WindowReader;
pub use transform::Transformer;

use cache::ChunkCache;
use error::tiff_error;
use layout::ImageLayout;
use patch::Patch;
use reader::{Shared, open_decoder};
use samples::Conversion;

/// Decoded chunks kept in memory per source, unless `set_cache_bytes` says otherwise.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;
/// Uncompressed strips larger than this are read in row bands of about this size.
const SPLIT_STRIP_BYTES: u64 = 4 << 20;

/// Command-line overrides.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub nodata: Option<f64>,
    pub srid: Option<u32>,
}

/// Where per-pixel validity comes from, besides nodata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskKind {
    None,
    /// An alpha sample; `band` is its index among the file's samples.
    Alpha {
        band: usize,
    },
    /// GDAL's per-dataset mask IFD (1-bit, NewSubfileType 4).
    Internal,
}

#[derive(Debug, Clone)]
pub struct SourceInfo {
    pub file_name: String,
    pub width: u32,
    pub height: u32,
    /// Data bands (alpha excluded).
    pub bands: usize,
    pub dtype: DataType,
    /// After the `--nodata` override; may be NaN.
    pub nodata: Option<f64>,
    #[allow(dead_code)] // API: informational (validity already applies it)
    pub mask: MaskKind,
    /// The source was RGB or YCbCr (decoded to RGB), so output can be RGB.
    pub photometric_rgb: bool,
    /// The ColorMap as RGBA, for a default legend.
    pub palette: Option<Vec<[u8; 4]>>,
    pub geo: GeoTransform,
    pub crs: Crs,
    /// The first band's unit from GDAL's metadata (`m`, `ft`, ...), if any.
    pub unit: Option<String>,
}

/// An open source file. Cheap to clone; shareable between threads.
#[derive(Clone)]
pub struct Source {
    shared: Arc<Shared>,
    info: Arc<SourceInfo>,
}

impl Source {
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Source, SourceError> {
        Source::open_with(path, opts, true).map(|(s, _)| s)
    }

    /// Opens for pixel access only: when georeferencing or the CRS is missing or unusable,
    /// the source gets an identity geotransform and an empty CRS, and the error is returned
    /// alongside instead of failing (for inspection tools and tests).
    #[allow(dead_code)] // for tests and inspection tools
    pub fn open_pixels(
        path: &Path,
        opts: &OpenOptions,
    ) -> Result<(Source, Option<SourceError>), SourceError> {
        Source::open_with(path, opts, false)
    }

    fn open_with(
        path: &Path,
        opts: &OpenOptions,
        strict: bool,
    ) -> Result<(Source, Option<SourceError>), SourceError> {
        let mut file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound(path.display().to_string()),
            _ => SourceError::from(e),
        })?;
        let len = file.metadata()?.len();
        let chain = header::read_chain(&mut file, len)?;
        let ifds = &chain.tiff.ifds;
        let Some(main_ifd) = ifds.first() else {
            return Err(SourceError::NotTiff);
        };
        let mask_ifd = describe::mask_ifd(ifds, main_ifd);
        let little = chain.tiff.little_endian;
        let patches = patch::for_decoder(&chain, [Some(main_ifd), mask_ifd.map(|m| m.1)]);
        let path_buf = path.to_path_buf();
        // The pixel decoder must accept the file too; find out now, not in the first read.
        open_decoder(&path_buf, &patches)?;
        let mut main = ImageLayout::from_ifd(main_ifd)?;
        main.check_extent(len)?;
        let (dtype, conv) = Source::samples(main_ifd)?;
        if main_ifd.compression == 1
            && main_ifd.predictor == 1
            && dtype.bits() == main_ifd.bits_per_sample
            && main_ifd.photometric != Some(6)
        {
            // Whole-image (or very tall) uncompressed strips are read a few rows at a time.
            main.split_strips((dtype.size() * main.chunk_spp()) as u64, SPLIT_STRIP_BYTES);
        }
        let (roles, alpha) = describe::roles(main_ifd);
        let nodata = describe::nodata(main_ifd, opts, dtype)?;
        let (geo, crs, georef_err) = describe::georef(main_ifd, opts, strict)?;
        let mask = match mask_ifd {
            Some((index, m)) => Some(Source::mask_layout(&path_buf, &patches, index, m, len)?),
            None => None,
        };
        let info = SourceInfo {
            file_name: path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            width: main.width,
            height: main.height,
            bands: roles
                .iter()
                .filter(|r| matches!(r, reader::Role::Band(_)))
                .count(),
            dtype,
            nodata,
            mask: describe::mask_kind(mask.is_some(), alpha),
            photometric_rgb: matches!(main_ifd.photometric, Some(2 | 6)),
            palette: describe::palette(main_ifd),
            geo,
            crs,
            unit: describe::unit(main_ifd),
        };
        let shared = Shared {
            path: path_buf,
            patches,
            conv,
            main,
            roles,
            dtype,
            little_endian: little,
            nodata,
            mask,
            cache: Mutex::new(ChunkCache::new(DEFAULT_CACHE_BYTES)),
        };
        let source = Source {
            shared: Arc::new(shared),
            info: Arc::new(info),
        };
        Ok((source, georef_err))
    }

    /// The sample type and how decoded chunks convert to it; refuses what we cannot read.
    fn samples(ifd: &Ifd) -> Result<(DataType, Conversion), SourceError> {
        if let Some(e) = describe::unsupported_compression(ifd.compression) {
            return Err(e);
        }
        let dtype = describe::data_type(ifd.sample_format, ifd.bits_per_sample)?;
        let conv = Conversion {
            bits: ifd.bits_per_sample.min(8) as u8,
            ycbcr: describe::ycbcr(ifd)?,
        };
        Ok((dtype, conv))
    }

    /// The mask IFD's layout, checked now: the `tiff` crate must reach it too.
    fn mask_layout(
        path: &std::path::PathBuf,
        patches: &Arc<[Patch]>,
        index: usize,
        ifd: &Ifd,
        len: u64,
    ) -> Result<(usize, ImageLayout, Conversion), SourceError> {
        let mut md = open_decoder(path, patches)?;
        md.seek_to_image(index)
            .map_err(|e| tiff_error(e, "mask image directory"))?;
        let layout = ImageLayout::from_ifd(ifd)?;
        layout.check_extent(len)?;
        let conv = Conversion {
            bits: ifd.bits_per_sample.min(8) as u8,
            ycbcr: false,
        };
        Ok((index, layout, conv))
    }

    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Bounds the decoded-chunk cache shared by this source's readers.
    #[allow(dead_code)] // API: for a --cache-size option
    pub fn set_cache_bytes(&self, bytes: usize) {
        self.shared
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_limit(bytes);
    }

    /// EPSG:3857 → source CRS, with geographic longitudes kept on the raster's side of the
    /// antimeridian.
    pub fn transformer(&self) -> Result<Transformer, SourceError> {
        let (w, h) = (f64::from(self.info.width), f64::from(self.info.height));
        let (lon, _) = self.info.geo.apply(w / 2.0, h / 2.0);
        Ok(Transformer::to_source(&self.info.crs)?.with_longitude_centre(lon))
    }

    /// A reader with its own file handle; create one per worker thread.
    pub fn reader(&self) -> Result<WindowReader, SourceError> {
        let main = open_decoder(&self.shared.path, &self.shared.patches)?;
        Ok(WindowReader {
            shared: self.shared.clone(),
            main,
            mask: None,
        })
    }

    /// The Web Mercator box the source covers, from its outline densely reprojected, with
    /// latitudes clamped to ±85.0511°. A source crossing the antimeridian gets the full
    /// world width here; `footprint_parts_3857` gives the two halves.
    // The pipeline folds `footprint_parts_3857` itself (one projection); this union is for
    // ingest/tests/source_corpus.rs, which compares it with GDAL's bounds.
    #[allow(dead_code)]
    pub fn footprint_3857(&self) -> Result<Bounds, SourceError> {
        let parts = footprint::parts(&self.info)?;
        let first = parts
            .first()
            .copied()
            .ok_or(SourceError::OutsideWebMercator)?;
        Ok(parts.iter().fold(first, |a, b| a.union(b)))
    }

    /// One box, or two (east of and west of the antimeridian) for a crossing source.
    #[allow(dead_code)] // API: lets the planner skip the empty middle of a crossing source
    pub fn footprint_parts_3857(&self) -> Result<Vec<Bounds>, SourceError> {
        footprint::parts(&self.info)
    }

    /// Web Mercator metres per source pixel at the centre of the source.
    pub fn native_resolution_3857(&self) -> f64 {
        footprint::native_resolution(&self.info)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// The same source with its strips cut into bands of at most `target` bytes.
    fn split(src: &Source, target: u64) -> Source {
        let s = &src.shared;
        let mut main = s.main.clone();
        main.split_strips((s.dtype.size() * main.chunk_spp()) as u64, target);
        assert!(main.split, "{} was not split", src.info.file_name);
        let shared = Shared {
            path: s.path.clone(),
            patches: s.patches.clone(),
            main,
            conv: s.conv,
            roles: s.roles.clone(),
            dtype: s.dtype,
            little_endian: s.little_endian,
            nodata: s.nodata,
            mask: s.mask.clone(),
            cache: Mutex::new(ChunkCache::new(1 << 20)),
        };
        Source {
            shared: Arc::new(shared),
            info: src.info.clone(),
        }
    }

    #[test]
    fn split_strips_read_the_same_pixels() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/tiff");
        for (name, target) in [
            ("rasterio__RGB.byte.tif", 1000),
            ("rasterio__RGB.byte.tif", 5000),
            ("georust-gdal__dem-hills.tiff", 3000),
            ("rio-cogeo__image_nodata.tif", 4000),
            ("image-tiff__BigTIFFMotorola.tif", 100),
        ] {
            let (src, _) = Source::open_pixels(&dir.join(name), &OpenOptions::default()).unwrap();
            let cut = split(&src, target);
            let (w, h) = (src.info.width as usize, src.info.height as usize);
            for (c, r, ww, hh) in [
                (0, 0, w, h),
                (-3, 5, 17, 9),
                (w as i64 - 5, h as i64 - 7, 20, 20),
            ] {
                let a = src.reader().unwrap().read_raw_window(c, r, ww, hh).unwrap();
                let b = cut.reader().unwrap().read_raw_window(c, r, ww, hh).unwrap();
                assert_eq!(a, b, "{name} at {c},{r}");
            }
        }
    }
}
