//! A streaming GeoTIFF writer: strips are generated, predicted and deflated a small batch at a
//! time (in parallel), then appended to the file, so memory stays at a few strips whatever the
//! image size.
//!
//! The tiff crate's encoder writes the header, the IFD and every tag; the strip bytes are
//! compressed here because tiff 0.11's `ImageEncoder::write_strip` writes them uncompressed
//! (only `write_data`, which wants the whole image, turns compression on) and it has no
//! floating-point predictor for writing.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;

use tiff::encoder::{TiffEncoder, TiffKind};
use tiff::tags::Tag;

/// Sample types the demo scenes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    U8,
    U16,
    I16,
    F32,
}

impl Sample {
    pub fn bytes(self) -> usize {
        match self {
            Sample::U8 => 1,
            Sample::U16 | Sample::I16 => 2,
            Sample::F32 => 4,
        }
    }
    /// TIFF SampleFormat: 1 unsigned, 2 two's-complement signed, 3 IEEE float.
    fn format(self) -> u16 {
        match self {
            Sample::U8 | Sample::U16 => 1,
            Sample::I16 => 2,
            Sample::F32 => 3,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Crs {
    /// A projected CRS by EPSG code (e.g. 32633, UTM 33N).
    Projected(u16),
    /// A geographic CRS by EPSG code (e.g. 4326).
    Geographic(u16),
}

/// North-up georeferencing: top-left corner of the top-left pixel and the pixel size.
#[derive(Debug, Clone, Copy)]
pub struct Georef {
    pub crs: Crs,
    pub origin_x: f64,
    pub origin_y: f64,
    pub pixel_x: f64,
    pub pixel_y: f64,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    pub bands: u16,
    pub sample: Sample,
    /// RGB photometric interpretation (3 bands) instead of min-is-black.
    pub rgb: bool,
    pub georef: Georef,
    pub nodata: Option<String>,
}

impl Layout {
    pub fn row_bytes(&self) -> usize {
        self.width as usize * usize::from(self.bands) * self.sample.bytes()
    }
}

/// How strips are encoded.
#[derive(Debug, Clone, Copy)]
pub struct Encoding {
    /// zlib level 0-9; `None` writes uncompressed strips.
    pub deflate_level: Option<u8>,
    /// Use TIFF predictor 2 (integers) or 3 (floats), as GDAL's PREDICTOR=YES does.
    pub predictor: bool,
    /// Raw bytes per strip to aim for; a strip holds at least one row.
    pub strip_bytes: usize,
}

/// A scene fills one row of interleaved, native-endian samples (`Layout::row_bytes` long).
/// `Sync` because rows are generated on several threads at once.
pub trait Scene: Sync {
    fn layout(&self) -> Layout;
    fn fill_row(&self, y: u32, out: &mut [u8]);
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Writes `scene` to `path` (via a temporary file renamed into place, so an interrupted run
/// never leaves a truncated file that the bench cache would then trust).
pub fn write(path: &Path, scene: &dyn Scene, enc: &Encoding) -> Result<(), Error> {
    let layout = scene.layout();
    if layout.width == 0 || layout.height == 0 {
        return Err("width and height must be positive".into());
    }
    let tmp = path.with_extension("tif.partial");
    let file = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    // Classic TIFF offsets are 32-bit; switch to BigTIFF when even incompressible data could
    // pass 4 GiB, as GDAL's BIGTIFF=IF_SAFER does.
    let worst = layout.row_bytes() as u64 * u64::from(layout.height);
    if worst > 0xF000_0000 {
        let mut tiff = TiffEncoder::new_big(file)?;
        write_ifd(&mut tiff, scene, &layout, enc, true)?;
    } else {
        let mut tiff = TiffEncoder::new(file)?;
        write_ifd(&mut tiff, scene, &layout, enc, false)?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Writes a tiled GeoTIFF in which every tile's offset points at one shared copy of `block`
/// (`tile_size`² pixels of native-endian samples, predicted and compressed here), so a
/// full-size image costs one tile plus its header on disk. Readers (libtiff/GDAL, the tiff
/// crate) look tiles up by offset and do not care that the offsets repeat. Returns the file's
/// length. Classic TIFF only: the whole file is a few KB.
pub fn write_repeated_tile(
    path: &Path,
    layout: &Layout,
    tile_size: u32,
    block: &[u8],
    enc: &Encoding,
) -> Result<u64, Error> {
    // TIFF requires tile sides that are multiples of 16.
    if tile_size == 0 || !tile_size.is_multiple_of(16) {
        return Err(format!("tile size must be a positive multiple of 16, got {tile_size}").into());
    }
    let row_bytes = tile_size as usize * usize::from(layout.bands) * layout.sample.bytes();
    if block.len() != row_bytes * tile_size as usize {
        return Err("block is not one tile of samples".into());
    }
    let mut raw = block.to_vec();
    if enc.predictor {
        for row in raw.chunks_exact_mut(row_bytes) {
            predict_row(row, layout.sample, usize::from(layout.bands));
        }
    }
    let data = match enc.deflate_level {
        Some(level) => miniz_oxide::deflate::compress_to_vec_zlib(&raw, level),
        None => raw,
    };
    let tiles =
        layout.width.div_ceil(tile_size) as usize * layout.height.div_ceil(tile_size) as usize;

    // Built in memory (a few KB) so that write errors surface here rather than in a
    // BufWriter's drop, which ignores them.
    let mut bytes = Vec::with_capacity(data.len() + tiles * 8 + 1024);
    let mut tiff = TiffEncoder::new(std::io::Cursor::new(&mut bytes))?;
    let mut dir = tiff.image_directory()?;
    let offset = u32::try_from(dir.write_data(&data[..])?)?;
    let count = u32::try_from(data.len())?;
    write_image_tags(&mut dir, layout, enc)?;
    dir.write_tag(Tag::TileWidth, tile_size)?;
    dir.write_tag(Tag::TileLength, tile_size)?;
    dir.write_tag(Tag::TileOffsets, &vec![offset; tiles][..])?;
    dir.write_tag(Tag::TileByteCounts, &vec![count; tiles][..])?;
    write_geokeys(&mut dir, layout)?;
    dir.finish()?;
    let tmp = path.with_extension("tif.partial");
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(bytes.len() as u64)
}

fn write_ifd<W: Write + Seek, K: TiffKind>(
    tiff: &mut TiffEncoder<W, K>,
    scene: &dyn Scene,
    layout: &Layout,
    enc: &Encoding,
    big: bool,
) -> Result<(), Error> {
    let row_bytes = layout.row_bytes();
    let rows_per_strip = (enc.strip_bytes / row_bytes).clamp(1, layout.height as usize) as u32;
    let strips = layout.height.div_ceil(rows_per_strip);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    // A batch of 2 strips per thread keeps every thread busy while bounding memory at
    // 2 * threads * strip_bytes (compressed copies included), about 4 MiB by default.
    let batch = (threads * 2) as u32;

    let mut dir = tiff.image_directory()?;
    let mut offsets = Vec::with_capacity(strips as usize);
    let mut counts = Vec::with_capacity(strips as usize);
    let mut first = 0;
    while first < strips {
        let last = (first + batch).min(strips);
        let encoded = encode_batch(scene, layout, enc, rows_per_strip, first..last, threads);
        for bytes in encoded {
            offsets.push(dir.write_data(&bytes[..])?);
            counts.push(bytes.len() as u64);
        }
        first = last;
    }

    write_image_tags(&mut dir, layout, enc)?;
    dir.write_tag(Tag::RowsPerStrip, rows_per_strip)?;
    if big {
        dir.write_tag(Tag::StripOffsets, &offsets[..])?;
        dir.write_tag(Tag::StripByteCounts, &counts[..])?;
    } else {
        let o: Vec<u32> = offsets
            .iter()
            .map(|&v| u32::try_from(v))
            .collect::<Result<_, _>>()?;
        let c: Vec<u32> = counts
            .iter()
            .map(|&v| u32::try_from(v))
            .collect::<Result<_, _>>()?;
        dir.write_tag(Tag::StripOffsets, &o[..])?;
        dir.write_tag(Tag::StripByteCounts, &c[..])?;
    }
    write_geokeys(&mut dir, layout)?;
    dir.finish()?;
    Ok(())
}

/// The tags every image gets, strips or tiles: size, sample layout, compression and predictor.
fn write_image_tags<W: Write + Seek, K: TiffKind>(
    dir: &mut tiff::encoder::DirectoryEncoder<'_, W, K>,
    layout: &Layout,
    enc: &Encoding,
) -> Result<(), Error> {
    let samples = layout.bands;
    dir.write_tag(Tag::ImageWidth, layout.width)?;
    dir.write_tag(Tag::ImageLength, layout.height)?;
    dir.write_tag(
        Tag::BitsPerSample,
        &vec![(layout.sample.bytes() * 8) as u16; samples.into()][..],
    )?;
    dir.write_tag(
        Tag::Compression,
        if enc.deflate_level.is_some() {
            8u16
        } else {
            1u16
        },
    )?;
    dir.write_tag(
        Tag::PhotometricInterpretation,
        if layout.rgb { 2u16 } else { 1u16 },
    )?;
    dir.write_tag(Tag::SamplesPerPixel, samples)?;
    dir.write_tag(Tag::PlanarConfiguration, 1u16)?;
    if enc.predictor {
        dir.write_tag(
            Tag::Predictor,
            if layout.sample == Sample::F32 {
                3u16
            } else {
                2u16
            },
        )?;
    }
    // Samples beyond the colour model are "unspecified" extras (not alpha), as GDAL writes
    // for a 4-band min-is-black image; without this libtiff warns and some readers refuse.
    let colour = if layout.rgb { 3 } else { 1 };
    if samples > colour {
        dir.write_tag(
            Tag::ExtraSamples,
            &vec![0u16; usize::from(samples - colour)][..],
        )?;
    }
    dir.write_tag(
        Tag::SampleFormat,
        &vec![layout.sample.format(); samples.into()][..],
    )?;
    Ok(())
}

fn write_geokeys<W: Write + Seek, K: TiffKind>(
    dir: &mut tiff::encoder::DirectoryEncoder<'_, W, K>,
    layout: &Layout,
) -> Result<(), Error> {
    let g = &layout.georef;
    // ModelPixelScaleTag: (ScaleX, ScaleY, ScaleZ); ScaleY is positive for north-up images.
    dir.write_tag(Tag::Unknown(33550), &[g.pixel_x, g.pixel_y, 0.0][..])?;
    // ModelTiepointTag: raster (0, 0, 0) is model (origin_x, origin_y, 0).
    dir.write_tag(
        Tag::Unknown(33922),
        &[0.0, 0.0, 0.0, g.origin_x, g.origin_y, 0.0][..],
    )?;
    // GeoKeyDirectoryTag: header (version 1, revision 1.0, key count), then
    // (key, location 0 = value inline, count 1, value), sorted by key.
    let (model_type, crs_key, code) = match g.crs {
        Crs::Projected(code) => (1u16, 3072u16, code), // ProjectedCSTypeGeoKey
        Crs::Geographic(code) => (2u16, 2048u16, code), // GeographicTypeGeoKey
    };
    let keys: [u16; 16] = [
        1, 1, 0, 3, //
        1024, 0, 1, model_type, // GTModelTypeGeoKey
        1025, 0, 1, 1, // GTRasterTypeGeoKey = RasterPixelIsArea
        crs_key, 0, 1, code,
    ];
    dir.write_tag(Tag::Unknown(34735), &keys[..])?;
    if let Some(nodata) = &layout.nodata {
        // GDAL_NODATA: ASCII, one value for all bands.
        dir.write_tag(Tag::Unknown(42113), nodata.as_str())?;
    }
    Ok(())
}

/// Generates, predicts and compresses strips `range` on `threads` threads; returns them in
/// order. Threads take strips round-robin so every batch finishes at about the same time.
fn encode_batch(
    scene: &dyn Scene,
    layout: &Layout,
    enc: &Encoding,
    rows_per_strip: u32,
    range: std::ops::Range<u32>,
    threads: usize,
) -> Vec<Vec<u8>> {
    let n = (range.end - range.start) as usize;
    let mut out: Vec<Vec<u8>> = vec![Vec::new(); n];
    std::thread::scope(|s| {
        let mut slots: Vec<Vec<(usize, &mut Vec<u8>)>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, slot) in out.iter_mut().enumerate() {
            slots[i % threads].push((i, slot));
        }
        for work in slots {
            let start = range.start;
            s.spawn(move || {
                for (i, slot) in work {
                    *slot = encode_strip(scene, layout, enc, rows_per_strip, start + i as u32);
                }
            });
        }
    });
    out
}

fn encode_strip(
    scene: &dyn Scene,
    layout: &Layout,
    enc: &Encoding,
    rows_per_strip: u32,
    strip: u32,
) -> Vec<u8> {
    let row_bytes = layout.row_bytes();
    let y0 = strip * rows_per_strip;
    let y1 = (y0 + rows_per_strip).min(layout.height);
    let mut raw = vec![0u8; row_bytes * (y1 - y0) as usize];
    for (row, y) in raw.chunks_exact_mut(row_bytes).zip(y0..y1) {
        scene.fill_row(y, row);
        if enc.predictor {
            predict_row(row, layout.sample, usize::from(layout.bands));
        }
    }
    match enc.deflate_level {
        Some(level) => miniz_oxide::deflate::compress_to_vec_zlib(&raw, level),
        None => raw,
    }
}

/// Applies TIFF predictor 2 (integers) or 3 (floats) to one row in place.
pub fn predict_row(row: &mut [u8], sample: Sample, spp: usize) {
    match sample {
        Sample::U8 => {
            for i in (spp..row.len()).rev() {
                row[i] = row[i].wrapping_sub(row[i - spp]);
            }
        }
        // Predictor 2 is a wrapping difference of the bit patterns, so signed samples take
        // the unsigned path unchanged.
        Sample::U16 | Sample::I16 => {
            let stride = spp * 2;
            for i in (stride..row.len()).step_by(2).rev() {
                let cur = u16::from_ne_bytes([row[i], row[i + 1]]);
                let prev = u16::from_ne_bytes([row[i - stride], row[i - stride + 1]]);
                row[i..i + 2].copy_from_slice(&cur.wrapping_sub(prev).to_ne_bytes());
            }
        }
        Sample::F32 => {
            // Floating-point predictor (Adobe Photoshop TIFF tech note 3, libtiff's fpDiff):
            // split each row into byte planes, most significant byte first whatever the file's
            // byte order, then difference bytes `spp` apart across the whole row.
            let n = row.len() / 4;
            let shuffled: Vec<u8> = (0..4)
                .flat_map(|plane| {
                    let row = &*row;
                    (0..n).map(move |i| {
                        let v = f32::from_ne_bytes([
                            row[4 * i],
                            row[4 * i + 1],
                            row[4 * i + 2],
                            row[4 * i + 3],
                        ]);
                        v.to_be_bytes()[plane]
                    })
                })
                .collect();
            row.copy_from_slice(&shuffled);
            for i in (spp..row.len()).rev() {
                row[i] = row[i].wrapping_sub(row[i - spp]);
            }
        }
    }
}
