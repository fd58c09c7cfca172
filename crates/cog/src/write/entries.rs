//! What every GeoTIFF tilefn writes has in common: the image and mask IFDs of each level,
//! the EPSG:3857 georeferencing of IFD 0, and the COG assembly (header sized first, then
//! every tile's offset laid out in data order). Shared by the XYZ-anchored pyramid COGs
//! (`CogSpec`, ingest) and by arbitrary windows (`WindowSpec`, exports), so both keep one
//! tag layout that GDAL and rio-cogeo's validator accept.

use tilefn_raster::DataType;
use tilefn_raster::mercator::TILE_SIZE;

use super::ifd::{self, Entry, Value};
use super::{CogSpec, Photometric, Predictor, gdal_nodata_string};
use crate::CogError;

// TIFF tags written, by number.
const NEW_SUBFILE_TYPE: u16 = 254;
const IMAGE_WIDTH: u16 = 256;
const IMAGE_LENGTH: u16 = 257;
const BITS_PER_SAMPLE: u16 = 258;
const COMPRESSION: u16 = 259;
const PHOTOMETRIC: u16 = 262;
/// PhotometricInterpretation of a transparency mask.
const PHOTOMETRIC_MASK: u16 = 4;
const SAMPLES_PER_PIXEL: u16 = 277;
const PLANAR_CONFIGURATION: u16 = 284;
const PREDICTOR: u16 = 317;
const TILE_WIDTH: u16 = 322;
const TILE_LENGTH: u16 = 323;
const TILE_OFFSETS: u16 = 324;
const TILE_BYTE_COUNTS: u16 = 325;
const EXTRA_SAMPLES: u16 = 338;
const SAMPLE_FORMAT: u16 = 339;
const MODEL_PIXEL_SCALE: u16 = 33550;
const MODEL_TIEPOINT: u16 = 33922;
const GEO_KEY_DIRECTORY: u16 = 34735;
const GEO_ASCII_PARAMS: u16 = 34737;
const GDAL_NODATA: u16 = 42113;

const CITATION: &str = "WGS 84 / Pseudo-Mercator";

/// The sample layout and encoding of every image IFD of one file.
pub(super) struct Image {
    pub dtype: DataType,
    pub bands: u16,
    pub alpha: bool,
    pub photometric: Photometric,
    pub compression_code: u16,
    /// The predictor actually applied (none without compression).
    pub predictor: Predictor,
    pub nodata: Option<f64>,
}

impl Image {
    pub fn of(spec: &CogSpec) -> Image {
        Image {
            dtype: spec.dtype,
            bands: spec.bands,
            alpha: spec.alpha,
            photometric: spec.photometric,
            compression_code: spec.compression.tiff_code(),
            predictor: spec.effective_predictor(),
            nodata: spec.nodata,
        }
    }

    fn samples(&self) -> u16 {
        self.bands.saturating_add(u16::from(self.alpha))
    }
}

/// Every IFD's entries in file order: each level's image IFD (of `dims[level]` pixels), then
/// its mask IFD when `mask` is set. `offsets` and `sizes` have one array per IFD; `georef`
/// goes on IFD 0 only (overviews inherit it).
pub(super) fn ifds(
    image: &Image,
    dims: &[(u32, u32)],
    mask: bool,
    georef: Vec<Entry>,
    offsets: &[Vec<u64>],
    sizes: &[Vec<u64>],
    big: bool,
) -> Vec<Vec<Entry>> {
    let samples = usize::from(image.samples());
    let per_sample = |v: u16| Value::Short(vec![v; samples]);
    let offset_array = |v: &[u64]| {
        if big {
            Value::Long8(v.to_vec())
        } else {
            Value::Long(v.iter().map(|x| *x as u32).collect())
        }
    };
    // Samples beyond the photometric's colour channels are "extra": unspecified data bands,
    // then the alpha.
    let colour = if image.photometric == Photometric::Rgb {
        3
    } else {
        1
    };
    let mut extra = vec![0u16; usize::from(image.bands).saturating_sub(colour)];
    if image.alpha {
        extra.push(2);
    }
    let nodata = image.nodata.map(gdal_nodata_string);
    let stride = 1 + usize::from(mask);
    let mut georef = Some(georef);
    let mut out = Vec::with_capacity(dims.len() * stride);
    for (level, &(width, height)) in dims.iter().enumerate() {
        let (im, mk) = (level * stride, level * stride + 1);
        let common = |photometric: u16, spp: u16, ifd: usize| {
            vec![
                Entry::new(IMAGE_WIDTH, Value::Long(vec![width])),
                Entry::new(IMAGE_LENGTH, Value::Long(vec![height])),
                Entry::new(COMPRESSION, Value::Short(vec![image.compression_code])),
                Entry::new(PHOTOMETRIC, Value::Short(vec![photometric])),
                Entry::new(SAMPLES_PER_PIXEL, Value::Short(vec![spp])),
                Entry::new(PLANAR_CONFIGURATION, Value::Short(vec![1])),
                Entry::new(TILE_WIDTH, Value::Short(vec![TILE_SIZE as u16])),
                Entry::new(TILE_LENGTH, Value::Short(vec![TILE_SIZE as u16])),
                Entry::new(TILE_OFFSETS, offset_array(&offsets[ifd])),
                Entry::new(TILE_BYTE_COUNTS, offset_array(&sizes[ifd])),
            ]
        };
        let mut e = common(image.photometric.tiff_code(), image.samples(), im);
        e.push(Entry::new(BITS_PER_SAMPLE, per_sample(image.dtype.bits())));
        e.push(Entry::new(
            SAMPLE_FORMAT,
            per_sample(image.dtype.tiff_sample_format()),
        ));
        if level > 0 {
            // Reduced-resolution version of IFD 0.
            e.push(Entry::new(NEW_SUBFILE_TYPE, Value::Long(vec![1])));
        }
        if image.predictor != Predictor::None {
            let code = image.predictor.tiff_code();
            e.push(Entry::new(PREDICTOR, Value::Short(vec![code])));
        }
        if !extra.is_empty() {
            e.push(Entry::new(EXTRA_SAMPLES, Value::Short(extra.clone())));
        }
        // On every IFD so an overview read on its own still knows its nodata.
        if let Some(nd) = &nodata {
            e.push(Entry::new(GDAL_NODATA, Value::Ascii(nd.clone())));
        }
        e.extend(georef.take().unwrap_or_default());
        out.push(e);
        if mask {
            let mut m = common(PHOTOMETRIC_MASK, 1, mk);
            // Transparency mask, of an overview past level 0 (GDAL's internal mask).
            let subfile = if level > 0 { 5 } else { 4 };
            m.push(Entry::new(NEW_SUBFILE_TYPE, Value::Long(vec![subfile])));
            m.push(Entry::new(BITS_PER_SAMPLE, Value::Short(vec![1])));
            m.push(Entry::new(SAMPLE_FORMAT, Value::Short(vec![1])));
            out.push(m);
        }
    }
    out
}

/// GeoTIFF tags for IFD 0: EPSG:3857, PixelIsArea, the top-left corner (`x`, `y`) and
/// the pixel size `res`, in metres.
pub(super) fn georeferencing(x: f64, y: f64, res: f64) -> Vec<Entry> {
    let citation = format!("{CITATION}|");
    #[rustfmt::skip]
    let keys = vec![
        1, 1, 0, 4, // directory version 1, revision 1.0, 4 keys
        1024, 0, 1, 1, // GTModelTypeGeoKey = ModelTypeProjected
        1025, 0, 1, 1, // GTRasterTypeGeoKey = RasterPixelIsArea
        1026, GEO_ASCII_PARAMS, citation.len() as u16, 0, // GTCitationGeoKey
        3072, 0, 1, 3857, // ProjectedCSTypeGeoKey = EPSG:3857
    ];
    vec![
        Entry::new(MODEL_PIXEL_SCALE, Value::Double(vec![res, res, 0.0])),
        Entry::new(
            MODEL_TIEPOINT,
            Value::Double(vec![0.0, 0.0, 0.0, x, y, 0.0]),
        ),
        Entry::new(GEO_KEY_DIRECTORY, Value::Short(keys)),
        Entry::new(GEO_ASCII_PARAMS, Value::Ascii(citation)),
    ]
}

/// Lays out a COG: `sizes` has each IFD's tile byte lengths (0 = sparse) in file order,
/// `order` the `(level, index)` data order, `stride` the IFDs per level (2 with a mask,
/// whose tile follows its image tile). `build(offsets, sizes, big)` makes the IFD entries.
/// The header's length depends only on tag counts, so it is sized with zero offsets first;
/// BigTIFF only when the file would pass 4 GiB.
pub(super) fn assemble(
    sizes: &[Vec<u64>],
    order: &[(usize, usize)],
    stride: usize,
    build: impl Fn(&[Vec<u64>], &[Vec<u64>], bool) -> Vec<Vec<Entry>>,
) -> Result<Vec<u8>, CogError> {
    let data_len = sizes
        .iter()
        .flatten()
        .try_fold(0u64, |acc, s| acc.checked_add(*s))
        .ok_or_else(|| CogError::Usage("tile sizes overflow u64".into()))?;
    let zeros: Vec<Vec<u64>> = sizes.iter().map(|s| vec![0; s.len()]).collect();
    let classic_len = ifd::serialize(&build(&zeros, sizes, false), false).len() as u64;
    let big = classic_len.saturating_add(data_len) > u64::from(u32::MAX);
    let header_len = if big {
        ifd::serialize(&build(&zeros, sizes, true), true).len() as u64
    } else {
        classic_len
    };
    let mut offsets = zeros;
    let mut at = header_len;
    for &(level, i) in order {
        // The image tile, then (with a mask) its mask tile right behind it.
        let ifds = level * stride..(level + 1) * stride;
        for (ifd, slots) in offsets.iter_mut().enumerate().skip(ifds.start).take(stride) {
            let size = sizes
                .get(ifd)
                .and_then(|s| s.get(i))
                .copied()
                .ok_or_else(|| CogError::Usage(format!("no tile {i} in IFD {ifd}")))?;
            if let (true, Some(slot)) = (size > 0, slots.get_mut(i)) {
                *slot = at;
                at = at
                    .checked_add(size)
                    .ok_or_else(|| CogError::Usage("file size overflows u64".into()))?;
            }
        }
    }
    let out = ifd::serialize(&build(&offsets, sizes, big), big);
    debug_assert_eq!(out.len() as u64, header_len);
    Ok(out)
}
