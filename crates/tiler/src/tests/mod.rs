//! End-to-end tests of the service over stores built by `testkit`.

mod algebra;
mod budget;
mod dem_encoding;
mod export;
mod export_formula;
mod http;
mod quantiles;
mod statistics;
mod terrain;
mod tiles;

use tilefn_cog::read::{Limits, decode_tile, parse_file};
use tilefn_raster::DataType;
use tilefn_storage::MemoryStore;

pub use crate::testkit::get;
use crate::testkit::{CountingBucket, SyntheticLayer, publish_to_memory};
use crate::{Config, Request, Response, Service};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type TestResult = Result<(), BoxError>;
/// A decoded GeoTIFF tile: type, samples per pixel, band-sequential values, nodata.
pub type GeoTiffTile = (DataType, usize, Vec<f64>, Option<f64>);
pub type Svc = Service<CountingBucket<MemoryStore>>;

pub const CLASSES_LEGEND: &str = r##"[{"expression": "1", "color": "#FF0000", "name": "one"},
 {"expression": "2", "color": "#00FF00", "name": "two"}]"##;

/// A service over a memory store holding `layers` and the legend `classes`.
pub async fn setup(
    layers: &[SyntheticLayer],
) -> Result<(Svc, MemoryStore), Box<dyn std::error::Error + Send + Sync>> {
    let store = MemoryStore::new();
    for layer in layers {
        publish_to_memory(&store, layer).await?;
    }
    store.put("legends/classes.json", CLASSES_LEGEND.as_bytes().to_vec());
    let service = Service::new(CountingBucket::new(store.clone()), Config::default());
    Ok((service, store))
}

pub fn error_message(r: &Response) -> String {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// An RGBA8 image decoded from PNG bytes.
pub fn decode_png(
    bytes: &[u8],
) -> Result<(u32, u32, Vec<u8>), Box<dyn std::error::Error + Send + Sync>> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("png too large")?];
    let info = reader.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        other => return Err(format!("unexpected colour type {other:?}").into()),
    };
    Ok((info.width, info.height, rgba))
}

/// Band-sequential values and the nodata of a single-tile GeoTIFF.
pub fn decode_geotiff(bytes: &[u8]) -> Result<GeoTiffTile, BoxError> {
    let limits = Limits::default();
    let tiff = parse_file(bytes, &limits)?;
    let ifd = tiff.ifds.first().ok_or("no IFD")?;
    let range = ifd.tile_range(0, 0).ok_or("sparse")?;
    let start = usize::try_from(range.start)?;
    let end = usize::try_from(range.end)?;
    let raw = decode_tile(&tiff, ifd, &bytes[start..end], &limits)?;
    let dtype = ifd.dtype.ok_or("dtype")?;
    let samples = usize::from(ifd.samples);
    let n = 256 * 256;
    let mut values = vec![0.0; n * samples];
    for (p, px) in raw.chunks_exact(samples * dtype.size()).enumerate() {
        for (b, s) in px.chunks_exact(dtype.size()).enumerate() {
            values[b * n + p] = dtype.read_le(s).ok_or("sample")?;
        }
    }
    Ok((dtype, samples, values, ifd.nodata))
}
