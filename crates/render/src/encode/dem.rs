//! Elevations packed into the RGB of a PNG, as MapLibre's `raster-dem` sources read them
//! (`encoding: "terrarium"` or `"mapbox"`), for its 3D terrain and hillshade layers. This
//! file only packs numbers into pixels; which tile and which band is the tiler's business.
//!
//! Both encodings are a 24-bit integer `code = R·65536 + G·256 + B` on a fixed grid:
//!
//! | encoding | elevation | step | range |
//! |---|---|---|---|
//! | Terrarium (Mapzen) | `code / 256 − 32768` | 1/256 m | −32768 ..= 32767.996 m |
//! | Mapbox Terrain-RGB | `code · 0.1 − 10000` | 0.1 m | −10000 ..= 1667721.5 m |
//!
//! An elevation becomes the *nearest* code (not the one below it, as a cast to `uint8`
//! gives, which TiTiler's Terrarium algorithm does), so a decoded value is within half a step
//! of the input; values past the range take its end.
//!
//! **Nodata is sea level, opaque.** MapLibre decodes only R, G and B, and it gets them by
//! drawing the PNG on a 2D canvas and calling `getImageData` (`DEMData`, maplibre-gl 5.x). A
//! canvas keeps premultiplied colours, so a pixel with alpha 0 comes back as (0, 0, 0) whatever
//! it held (checked in Chromium: `(128, 7, 9, 0)` reads back as `(0, 0, 0, 0)`): −32768 m in Terrarium, −10000 m in Terrain-RGB, a deep pit in the terrain and a
//! black crater in the hillshade. An opaque 0 m is what MapLibre itself assumes where it has
//! no DEM tile at all (its empty terrain tile decodes to 0), so a nodata hole looks like the
//! land outside the layer. Clients that need the mask read the `.tif` tile. The image has no
//! alpha channel: 3 bytes a pixel instead of 4, and no decoder can mistake a premultiplied
//! pixel for data.

use ::png::{ColorType, DeflateCompression, Filter};

use super::png::{Settings, dimensions, encoder};
use crate::error::RenderError;

/// How elevations are packed into RGB: the `encoding` of a MapLibre `raster-dem` source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DemEncoding {
    /// Mapzen Terrarium: `R·256 + G + B/256 − 32768` metres.
    Terrarium,
    /// Mapbox Terrain-RGB: `(R·65536 + G·256 + B) · 0.1 − 10000` metres.
    Mapbox,
}

/// DEFLATE and row filter of elevation PNGs: zlib level 2 and the Paeth filter. Measured
/// on 256x256 tiles made from two float32 DEMs of the shared corpus (`dem-hills`, 138-168 m;
/// `DEM_BS28`, up to 414 m), bytes Terrarium / Terrain-RGB, natively on a loaded 2-core host:
///
/// | | fdeflate | zlib 1 | zlib 2 | zlib 6 |
/// |---|---|---|---|---|
/// | dem-hills | 88 / 49 KB, 0.9 ms | 94 / 53 KB, 2.0 ms | 89 / 46 KB, 1.7-3.3 ms | 81 / 39 KB, 12-16 ms |
/// | DEM_BS28 | 64 / 37 KB, 0.9 ms | 20 / 15 KB, 0.7 ms | 18 / 11 KB, 1.0 ms | 17 / 9 KB, 3.3-4.7 ms |
///
/// fdeflate, the palette images' choice, was up to 3.4x larger; level 6 cost 4-8x the time
/// for 5-20% fewer bytes. Paeth was within 0.5% of the adaptive filter's bytes (which tries
/// four filters a row); "up" and "sub" were 2-15% larger on dem-hills.
const DEM_PNG: Settings = Settings {
    deflate: DeflateCompression::Level(2),
    filter: Filter::Paeth,
};

/// The largest 24-bit code.
const MAX_CODE: f64 = 16_777_215.0;

impl DemEncoding {
    /// Every encoding, in the order error messages list them.
    pub const ALL: [DemEncoding; 2] = [DemEncoding::Terrarium, DemEncoding::Mapbox];

    /// MapLibre's name of the encoding (`terrarium`, `mapbox`).
    pub fn name(self) -> &'static str {
        match self {
            DemEncoding::Terrarium => "terrarium",
            DemEncoding::Mapbox => "mapbox",
        }
    }

    /// The encoding MapLibre calls `name`.
    pub fn from_name(name: &str) -> Option<DemEncoding> {
        DemEncoding::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Codes per metre (the inverse of the step) and the elevation of code 0. Terrarium's
    /// 256 is exact in binary; Terrain-RGB multiplies by 10 rather than dividing by 0.1,
    /// which is not.
    fn grid(self) -> (f64, f64) {
        match self {
            DemEncoding::Terrarium => (256.0, -32_768.0),
            DemEncoding::Mapbox => (10.0, -10_000.0),
        }
    }

    /// Metres between two neighbouring representable elevations.
    pub fn step(self) -> f64 {
        1.0 / self.grid().0
    }

    /// The lowest and highest elevation the encoding holds.
    pub fn range(self) -> (f64, f64) {
        let (per_metre, base) = self.grid();
        (base, base + MAX_CODE / per_metre)
    }

    /// The RGB of the representable elevation nearest to `metres`, clamped to
    /// [`DemEncoding::range`]; NaN (no elevation) is 0 m.
    pub fn encode(self, metres: f64) -> [u8; 3] {
        let (per_metre, base) = self.grid();
        let metres = if metres.is_nan() { 0.0 } else { metres };
        // `as` saturates, and the clamp keeps infinities on the range's ends.
        let code = ((metres - base) * per_metre).round().clamp(0.0, MAX_CODE) as u32;
        let [_, r, g, b] = code.to_be_bytes();
        [r, g, b]
    }

    /// The elevation a decoder (MapLibre's `DEMData.unpack`) reads from `rgb`.
    pub fn decode(self, [r, g, b]: [u8; 3]) -> f64 {
        let (per_metre, base) = self.grid();
        let code = u32::from_be_bytes([0, r, g, b]);
        f64::from(code) / per_metre + base
    }
}

/// Encodes one band of elevations (`values`, row-major, `width * height`, with the `valid`
/// flag of each pixel) as an RGB PNG in `encoding`; invalid pixels are 0 m (see the module
/// docs). Each row is packed and handed to the PNG encoder as it is made: one pass, no
/// image-sized buffer besides the output.
pub fn encode_dem_png(
    values: &[f64],
    valid: &[bool],
    width: usize,
    height: usize,
    encoding: DemEncoding,
) -> Result<Vec<u8>, RenderError> {
    let pixels = width.checked_mul(height);
    if width == 0 || pixels != Some(values.len()) || pixels != Some(valid.len()) {
        return Err(RenderError::Encode(format!(
            "a {width}x{height} elevation image with {} values and {} flags",
            values.len(),
            valid.len()
        )));
    }
    let (w, h) = dimensions(width, height)?;
    let err = |e: ::png::EncodingError| RenderError::Encode(format!("PNG: {e}"));
    let io_err = |e: std::io::Error| RenderError::Encode(format!("PNG: {e}"));
    let nodata = encoding.encode(0.0);
    let mut out = Vec::with_capacity(values.len() * 2);
    let mut writer = encoder(&mut out, w, h, ColorType::Rgb, DEM_PNG)
        .write_header()
        .map_err(err)?;
    let mut stream = writer.stream_writer().map_err(err)?;
    let mut row = vec![0u8; width * 3];
    for (row_values, row_valid) in values.chunks_exact(width).zip(valid.chunks_exact(width)) {
        for ((px, v), ok) in row.chunks_exact_mut(3).zip(row_values).zip(row_valid) {
            px.copy_from_slice(&if *ok { encoding.encode(*v) } else { nodata });
        }
        std::io::Write::write_all(&mut stream, &row).map_err(io_err)?;
    }
    stream.finish().map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// The RGB pixels of an 8-bit RGB PNG.
    fn decode_rgb(png: &[u8]) -> Result<(u32, u32, Vec<u8>), Box<dyn std::error::Error>> {
        let mut reader = ::png::Decoder::new(std::io::Cursor::new(png)).read_info()?;
        let mut buf = vec![0; reader.output_buffer_size().ok_or("too large")?];
        let info = reader.next_frame(&mut buf)?;
        assert_eq!(info.color_type, ColorType::Rgb);
        buf.truncate(info.buffer_size());
        Ok((info.width, info.height, buf))
    }

    #[test]
    fn known_pixels_match_the_published_formulas() {
        // Terrarium: 0 m is R=128; Terrain-RGB: 0 m is code 100000 = (1, 134, 160).
        assert_eq!(DemEncoding::Terrarium.encode(0.0), [128, 0, 0]);
        assert_eq!(DemEncoding::Terrarium.encode(1.5), [128, 1, 128]);
        assert_eq!(DemEncoding::Terrarium.encode(-1.0), [127, 255, 0]);
        assert_eq!(DemEncoding::Mapbox.encode(0.0), [1, 134, 160]);
        assert_eq!(DemEncoding::Mapbox.encode(8848.0), [2, 224, 64]);
        // MapLibre's unpack: r * 6553.6 + g * 25.6 + b * 0.1 - 10000.
        let maplibre = |[r, g, b]: [u8; 3]| {
            f64::from(r) * 6553.6 + f64::from(g) * 25.6 + f64::from(b) * 0.1 - 10000.0
        };
        assert!((maplibre([2, 224, 64]) - 8848.0).abs() < 1e-9);
        assert_eq!(DemEncoding::from_name("mapbox"), Some(DemEncoding::Mapbox));
        assert_eq!(DemEncoding::from_name("terrain-rgb"), None);
    }

    #[test]
    fn round_trips_within_half_a_step() {
        for enc in DemEncoding::ALL {
            let half = enc.step() / 2.0;
            let mut v = -4_321.123_456_f64;
            while v < 9000.0 {
                let back = enc.decode(enc.encode(v));
                // A hair over half a step for the float error of `* 10.0` near ties.
                assert!((back - v).abs() <= half + 1e-9, "{enc:?}: {v} -> {back}");
                v += 0.377_777;
            }
        }
        // Rounding, not truncation: 0.09 m is nearer 0.1 than 0.0.
        assert!((DemEncoding::Mapbox.decode(DemEncoding::Mapbox.encode(0.09)) - 0.1).abs() < 1e-9);
        let almost = 1.0 - 1.0 / 1024.0;
        assert_eq!(
            DemEncoding::Terrarium.decode(DemEncoding::Terrarium.encode(almost)),
            1.0
        );
    }

    #[test]
    fn out_of_range_values_clamp_to_the_ends() {
        for enc in DemEncoding::ALL {
            let (lo, hi) = enc.range();
            assert_eq!(enc.encode(lo - 1e6), [0, 0, 0]);
            assert_eq!(enc.encode(f64::NEG_INFINITY), [0, 0, 0]);
            assert_eq!(enc.encode(hi + 1e6), [255, 255, 255]);
            assert_eq!(enc.encode(f64::INFINITY), [255, 255, 255]);
            assert_eq!(enc.decode([0, 0, 0]), lo);
            assert_eq!(enc.decode([255, 255, 255]), hi);
            assert_eq!(enc.encode(f64::NAN), enc.encode(0.0));
        }
        assert_eq!(DemEncoding::Terrarium.range().1, 32_768.0 - 1.0 / 256.0);
    }

    #[test]
    fn png_holds_every_pixel_and_nodata_is_opaque_sea_level() -> TestResult {
        let (w, h) = (37, 5);
        let values: Vec<f64> = (0..w * h).map(|i| i as f64 * 13.7 - 300.0).collect();
        let valid: Vec<bool> = (0..w * h).map(|i| i % 7 != 3).collect();
        for enc in DemEncoding::ALL {
            let png = encode_dem_png(&values, &valid, w, h, enc)?;
            let (pw, ph, rgb) = decode_rgb(&png)?;
            assert_eq!((pw as usize, ph as usize), (w, h));
            for (p, px) in rgb.chunks_exact(3).enumerate() {
                let got = enc.decode([px[0], px[1], px[2]]);
                let want = if valid[p] { values[p] } else { 0.0 };
                assert!((got - want).abs() <= enc.step() / 2.0 + 1e-9, "{enc:?} {p}");
            }
        }
        Ok(())
    }

    #[test]
    fn mismatched_buffers_are_an_encode_error() {
        let enc = DemEncoding::Terrarium;
        assert!(encode_dem_png(&[0.0; 6], &[true; 6], 3, 2, enc).is_ok());
        assert!(encode_dem_png(&[0.0; 6], &[true; 5], 3, 2, enc).is_err());
        assert!(encode_dem_png(&[0.0; 5], &[true; 5], 3, 2, enc).is_err());
        assert!(encode_dem_png(&[], &[], 0, 0, enc).is_err());
    }
}
