//! The source half of ingest: open a GeoTIFF, describe it, and read arbitrary pixel windows
//! from it without ever holding the whole image.
//!
//! Decoding goes through the `tiff` crate; `ifd` patches the bytes it sees so it decodes
//! every image as raw samples (palette, masks, RGB/YCbCr and alpha are interpreted here).
//! LERC chunks, which the `tiff` crate cannot decode, are read raw and decoded by `lerc`
//! (with their deflate/zstd wrapper undone first); LERC's own validity mask marks pixels
//! invalid like nodata. Decoded chunks live in a byte-bounded LRU shared by all readers of a
//! source.

mod cache;
mod crs;
mod error;
mod footprint;
mod geokeys;
mod ifd;
mod layout;
mod lerc;
mod reader;
mod samples;
mod transform;
mod wkt;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tiff::decoder::Decoder;
use tiff::tags::Tag;
use tilefn_raster::{Bounds, DataType};

pub use crs::Crs;
pub use error::SourceError;
pub use geokeys::GeoTransform;
pub use reader::WindowReader;
pub use transform::Transformer;

use cache::ChunkCache;
use error::tiff_error;
use geokeys::GeoKeys;
use ifd::PatchedFile;
use layout::ImageLayout;
use reader::{Role, Shared, open_decoder};
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
}

/// An open source file. Cheap to clone; shareable between threads.
#[derive(Clone)]
pub struct Source {
    shared: Arc<Shared>,
    info: Arc<SourceInfo>,
}

/// `None` for the compressions we decode, else the error naming the one we do not.
fn unsupported_compression(c: u16) -> Option<SourceError> {
    let name = match c {
        1 | 5 | 7 | 8 | 32946 | 32773 | 50000 | 50001 | lerc::COMPRESSION_LERC => return None,
        2..=4 => "CCITT fax",
        6 => "old-style JPEG",
        34925 => "LZMA",
        34712 | 33003 | 33005 => "JPEG 2000",
        50002 => "JPEG XL",
        _ => {
            return Some(SourceError::Unsupported(format!(
                "compression {c} is not supported"
            )));
        }
    };
    Some(SourceError::Unsupported(format!(
        "{name} compression ({c}) is not supported"
    )))
}

fn data_type(format: u16, bits: u16) -> Result<DataType, SourceError> {
    let unsupported = |m: String| Err(SourceError::Unsupported(m));
    match (format, bits) {
        (1, 1 | 2 | 4) => Ok(DataType::Uint8),
        // Half floats are promoted to float32, as GDAL does.
        (3, 16) => Ok(DataType::Float32),
        (5, b) => unsupported(format!("complex data type CInt{} is not supported", b / 2)),
        (6, b) => unsupported(format!(
            "complex data type CFloat{} is not supported",
            b / 2
        )),
        (1 | 2, 64) => unsupported("64-bit integer data is not supported".into()),
        (f, b) => DataType::from_tiff(f, b).ok_or_else(|| {
            SourceError::Unsupported(format!(
                "{b}-bit samples (SampleFormat {f}) are not supported"
            ))
        }),
    }
}

/// GDAL_NODATA, rounded to what the data type can hold (float32 data is compared as f32).
/// A value the type cannot hold matches no pixel, so it is dropped (rasterio does the same).
fn normalise_nodata(v: f64, dtype: DataType) -> Option<f64> {
    if v.is_nan() {
        return dtype.is_float().then_some(f64::NAN);
    }
    match dtype {
        DataType::Float32 => Some(f64::from(v as f32)),
        DataType::Float64 => Some(v),
        _ => (v.fract() == 0.0 && dtype.can_represent(v)).then_some(v),
    }
}

fn tag_f64s(d: &mut Decoder<PatchedFile>, tag: Tag) -> Result<Option<Vec<f64>>, SourceError> {
    match d.find_tag(tag).map_err(|e| tiff_error(e, "GeoTIFF tags"))? {
        Some(v) => Ok(Some(
            v.into_f64_vec()
                .map_err(|e| tiff_error(e, "GeoTIFF tags"))?,
        )),
        None => Ok(None),
    }
}

fn tag_ascii(d: &mut Decoder<PatchedFile>, tag: Tag) -> Option<String> {
    d.find_tag(tag)
        .ok()
        .flatten()
        .and_then(|v| v.into_string().ok())
}

fn georef_error(e: &SourceError) -> bool {
    matches!(
        e,
        SourceError::NoGeoreference
            | SourceError::NoCrs
            | SourceError::UnknownEpsg(_)
            | SourceError::UnsupportedCrs(_)
            | SourceError::Unsupported(_)
    )
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
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound(path.display().to_string()),
            _ => SourceError::from(e),
        })?;
        let len = file.metadata()?.len();
        let scan = ifd::scan(&mut BufReader::new(file), len)?;
        let Some(main_raw) = scan.ifds.first() else {
            return Err(SourceError::NotTiff);
        };
        let photometric = main_raw.photometric.map(|p| p.value);
        // GDAL's per-dataset mask: full resolution (bit 0 clear), mask bit set, same size.
        let mask_ifd = scan.ifds.iter().enumerate().skip(1).find(|(_, f)| {
            f.subfile_type & 4 != 0
                && f.subfile_type & 1 == 0
                && f.width == main_raw.width
                && f.height == main_raw.height
                && f.photometric.is_some_and(|p| p.value == 4)
        });
        let mut patches = scan.patches.clone();
        for f in [Some(main_raw), mask_ifd.map(|m| m.1)]
            .into_iter()
            .flatten()
        {
            if let Some(p) = f.photometric.filter(|p| p.value != 1) {
                patches.push(ifd::patch_value(&p, 1, scan.little_endian));
            }
        }
        let patches: Arc<[ifd::Patch]> = patches.into();
        let path_buf = path.to_path_buf();
        let mut d = open_decoder(&path_buf, &patches)?;
        let mut main = ImageLayout::read(&mut d)?;
        main.check_extent(len)?;

        let te = |e| tiff_error(e, "image directory");
        let bits = d
            .find_tag_unsigned_vec::<u16>(Tag::BitsPerSample)
            .map_err(te)?
            .unwrap_or_default();
        let bits = bits.first().copied().unwrap_or(1);
        let format = d
            .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
            .map_err(te)?
            .unwrap_or_default();
        let format = format.first().copied().unwrap_or(1);
        let compression = d
            .find_tag_unsigned::<u16>(Tag::Compression)
            .map_err(te)?
            .unwrap_or(1);
        if let Some(e) = unsupported_compression(compression) {
            return Err(e);
        }
        let dtype = data_type(format, bits)?;
        let predictor = d
            .find_tag_unsigned::<u16>(Tag::Predictor)
            .map_err(te)?
            .unwrap_or(1);
        if compression == 1 && predictor == 1 && dtype.bits() == bits && photometric != Some(6) {
            // Whole-image (or very tall) uncompressed strips are read a few rows at a time.
            main.split_strips((dtype.size() * main.chunk_spp()) as u64, SPLIT_STRIP_BYTES);
        }
        let extra = d
            .find_tag_unsigned_vec::<u16>(Tag::ExtraSamples)
            .map_err(te)?
            .unwrap_or_default();
        let samples = main.samples;
        let first_extra = samples.saturating_sub(extra.len());
        let alpha = extra
            .iter()
            .position(|e| *e == 1 || *e == 2)
            .map(|i| first_extra + i);
        let roles: Vec<Role> = {
            let mut band = 0;
            (0..samples)
                .map(|s| {
                    if Some(s) == alpha {
                        Role::Alpha
                    } else {
                        band += 1;
                        Role::Band(band - 1)
                    }
                })
                .collect()
        };
        let bands = roles.iter().filter(|r| matches!(r, Role::Band(_))).count();
        let subsampling = d
            .find_tag_unsigned_vec::<u16>(Tag::ChromaSubsampling)
            .map_err(te)?;
        let ycbcr = match photometric {
            Some(0..=5) | None => false,
            Some(6) if compression == 7 || subsampling.as_deref() == Some(&[1, 1]) => {
                samples >= 3 && bits == 8
            }
            Some(6) => {
                return Err(SourceError::Unsupported(
                    "subsampled YCbCr without JPEG compression is not supported".into(),
                ));
            }
            Some(p) => {
                let name = match p {
                    8 => "CIELab",
                    9 | 10 => "ICC/ITU Lab",
                    32844 | 32845 => "LogLuv",
                    _ => "this",
                };
                return Err(SourceError::Unsupported(format!(
                    "{name} photometric interpretation ({p}) is not supported"
                )));
            }
        };
        let palette = if photometric == Some(3) {
            read_palette(&mut d, bits)
        } else {
            None
        };

        let file_nodata = tag_ascii(&mut d, Tag::GdalNodata).and_then(|s| {
            let s = s.trim().trim_end_matches('\0').trim();
            if s.eq_ignore_ascii_case("nan") || s.eq_ignore_ascii_case("-nan") {
                Some(f64::NAN)
            } else {
                s.parse().ok()
            }
        });
        if let Some(v) = opts.nodata
            && normalise_nodata(v, dtype).is_none()
        {
            return Err(SourceError::Unsupported(format!(
                "--nodata {v} cannot be stored in the source's {dtype} samples"
            )));
        }
        let nodata = opts
            .nodata
            .or(file_nodata)
            .and_then(|v| normalise_nodata(v, dtype));

        let dir = d
            .find_tag(Tag::GeoKeyDirectoryTag)
            .ok()
            .flatten()
            .and_then(|v| v.into_u16_vec().ok());
        let doubles = tag_f64s(&mut d, Tag::GeoDoubleParamsTag)
            .ok()
            .flatten()
            .unwrap_or_default();
        let ascii = tag_ascii(&mut d, Tag::GeoAsciiParamsTag).unwrap_or_default();
        let keys = dir
            .map(|k| GeoKeys::parse(&k, &doubles, &ascii))
            .unwrap_or_default();
        let georef = GeoTransform::from_tags(
            tag_f64s(&mut d, Tag::ModelTransformationTag)?.as_deref(),
            tag_f64s(&mut d, Tag::ModelTiepointTag)?.as_deref(),
            tag_f64s(&mut d, Tag::ModelPixelScaleTag)?.as_deref(),
            keys.pixel_is_point(),
        )
        .and_then(|geo| {
            let crs = match opts.srid {
                Some(code) => crs::from_epsg(code)?,
                None if keys.is_empty() => return Err(SourceError::NoCrs),
                None => crs::from_geokeys(&keys)?,
            };
            Ok((geo, crs))
        });
        let (geo, crs, georef_err) = match georef {
            Ok((geo, crs)) => (geo, crs, None),
            Err(e) if !strict && georef_error(&e) => {
                let none = Crs {
                    epsg: None,
                    proj4: String::new(),
                    name: "none".into(),
                };
                (GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]), none, Some(e))
            }
            Err(e) => return Err(e),
        };

        let mask = match mask_ifd {
            Some((index, _)) => {
                let mut md = open_decoder(&path_buf, &patches)?;
                md.seek_to_image(index)
                    .map_err(|e| tiff_error(e, "mask image directory"))?;
                let layout = ImageLayout::read(&mut md)?;
                layout.check_extent(len)?;
                let mbits = md
                    .find_tag_unsigned::<u16>(Tag::BitsPerSample)
                    .map_err(te)?
                    .unwrap_or(1);
                Some((
                    index,
                    layout,
                    Conversion {
                        bits: mbits.min(8) as u8,
                        ycbcr: false,
                    },
                ))
            }
            None => None,
        };
        let mask_kind = match (&mask, alpha) {
            (Some(_), _) => MaskKind::Internal,
            (None, Some(band)) => MaskKind::Alpha { band },
            (None, None) => MaskKind::None,
        };
        let info = SourceInfo {
            file_name: path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            width: main.width,
            height: main.height,
            bands,
            dtype,
            nodata,
            mask: mask_kind,
            photometric_rgb: matches!(photometric, Some(2 | 6)),
            palette,
            geo,
            crs,
        };
        let shared = Shared {
            path: path_buf,
            patches,
            conv: Conversion {
                bits: bits.min(8) as u8,
                ycbcr,
            },
            main,
            roles,
            dtype,
            little_endian: scan.little_endian,
            nodata,
            mask,
            cache: Mutex::new(ChunkCache::new(DEFAULT_CACHE_BYTES)),
        };
        Ok((
            Source {
                shared: Arc::new(shared),
                info: Arc::new(info),
            },
            georef_err,
        ))
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

/// ColorMap (3 x 2^bits u16s) as RGBA. GDAL reads 16-bit entries as value/257, except
/// maps whose entries all fit in 8 bits (some writers store them unscaled).
fn read_palette(d: &mut Decoder<PatchedFile>, bits: u16) -> Option<Vec<[u8; 4]>> {
    let map = d
        .find_tag_unsigned_vec::<u16>(Tag::ColorMap)
        .ok()
        .flatten()?;
    let n = 1usize
        .checked_shl(u32::from(bits))
        .filter(|n| *n <= 65536)?;
    if map.len() < 3 * n {
        return None;
    }
    let div = if map.iter().all(|v| *v <= 255) {
        1.0
    } else {
        257.0
    };
    let c = |v: u16| (f64::from(v) / div).round().clamp(0.0, 255.0) as u8;
    Some(
        (0..n)
            .map(|i| [c(map[i]), c(map[n + i]), c(map[2 * n + i]), 255])
            .collect(),
    )
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
