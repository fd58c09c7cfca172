//! LERC chunks (TIFF Compression 34887): GDAL's LERC, LERC_DEFLATE and LERC_ZSTD.
//!
//! A chunk is one LERC blob, optionally wrapped in a second compression named by the
//! LercParameters tag (50674: `[version, additional compression]`, 0 none, 1 deflate (zlib
//! stream), 2 zstd). The blob is decoded with `lerc-rs` 0.8 (pure Rust), chosen over `lerc`
//! 0.2 (Esri's C++ library via `lerc-sys`, bindgen and `cc`) by measurement on the corpus's
//! LERC tiles (blobs already unwrapped), release builds, median of 9 interleaved rounds of
//! 100 decodes, this shared 2-core host, two runs:
//!
//! | file | lerc-rs | lerc (C++) |
//! |---|---|---|
//! | `derived__dem-hills_lerc.tif`, 2 tiles 256², lossless float32 | 0.71, 0.72 ms | 0.61, 0.59 ms |
//! | `derived__dem-hills_lerc_zstd_zerr0.5.tif`, 6 tiles 128², ±0.5 | 0.34, 0.41 ms | 0.35, 0.36 ms |
//!
//! Both give identical values on every tile (lossless: equal to the source; lossy: within
//! 0.4999 of it). The C++ path is at most 1.2x faster, about 0.05 ms per 256² tile, noise
//! beside reprojection; against that it adds a C++ and libclang build (3 min 20 s more here),
//! does not build for wasm32 without a C++ toolchain there, and its `decode_auto` sizes
//! buffers from the blob header unchecked. `lerc-rs` has no `unsafe`, refuses headers that
//! promise far more samples than the blob could hold, and every one of ~600 truncations of
//! the corpus blobs gave an error, not a panic.
//!
//! LERC carries its own validity mask; masked pixels come back invalid (and, for float
//! data, NaN, as libtiff hands them to GDAL).

use ::lerc::bitmask::BitMask;
use ::lerc::{DataType as LercType, SampleData};
use tilefn_raster::DataType;

use super::error::SourceError;
use super::samples::Samples;

/// TIFF Compression value for LERC.
pub(super) const COMPRESSION_LERC: u16 = 34887;

/// The compression wrapped around each LERC blob (LercParameters, second value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Additional {
    None,
    Deflate,
    Zstd,
}

impl Additional {
    /// From the LercParameters tag; a missing tag means plain LERC (libtiff's default).
    pub fn from_tag(params: Option<&[u32]>) -> Result<Additional, SourceError> {
        match params.and_then(|p| p.get(1)).copied().unwrap_or(0) {
            0 => Ok(Additional::None),
            1 => Ok(Additional::Deflate),
            2 => Ok(Additional::Zstd),
            n => Err(SourceError::Unsupported(format!(
                "LERC with additional compression {n} is not supported"
            ))),
        }
    }
}

/// What a chunk must decode to: its full stored size (edge tiles included) and samples.
#[derive(Debug, Clone, Copy)]
pub(super) struct Expect {
    pub width: usize,
    /// Rows stored: the tile height, or at most the strip height (a last strip may be short).
    pub height: usize,
    pub spp: usize,
    pub dtype: DataType,
}

/// A decoded LERC chunk: `width x height` pixels of `spp` interleaved samples, and the pixel
/// validity when the blob had a mask (a pixel with any masked sample is invalid).
#[derive(Debug)]
pub(super) struct Decoded {
    pub height: usize,
    pub data: Samples,
    pub valid: Option<Vec<bool>>,
}

/// Decodes one chunk's file bytes.
pub(super) fn decode(
    raw: &[u8],
    add: Additional,
    want: Expect,
    what: &str,
) -> Result<Decoded, SourceError> {
    let corrupt = |m: String| SourceError::Corrupt(format!("{what}: {m}"));
    let samples = want
        .width
        .checked_mul(want.height)
        .and_then(|n| n.checked_mul(want.spp))
        .ok_or_else(|| corrupt("chunk size overflows".into()))?;
    // A LERC blob of n samples is at most about their raw size (incompressible data is
    // stored raw) plus its mask (1 bit per pixel) and headers; twice that plus 1 MiB bounds
    // what the wrapper compression may expand to, so a zip bomb cannot exhaust memory.
    let bound = samples
        .saturating_mul(want.dtype.size())
        .saturating_mul(2)
        .saturating_add(1 << 20);
    let unwrapped;
    let blob = match add {
        Additional::None => raw,
        Additional::Deflate => {
            unwrapped = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(raw, bound)
                .map_err(|e| corrupt(format!("LERC_DEFLATE does not decompress: {e}")))?;
            &unwrapped[..]
        }
        Additional::Zstd => {
            unwrapped = zstd::bulk::decompress(raw, bound)
                .map_err(|e| corrupt(format!("LERC_ZSTD does not decompress: {e}")))?;
            &unwrapped[..]
        }
    };
    let info = ::lerc::decode_info(blob).map_err(|e| corrupt(format!("LERC: {e}")))?;
    let (w, h, depth, bands) = (
        info.width as usize,
        info.height as usize,
        info.depth as usize,
        info.bands as usize,
    );
    if w != want.width
        || h == 0
        || h > want.height
        || depth.checked_mul(bands) != Some(want.spp)
        || (depth != 1 && bands != 1)
    {
        return Err(corrupt(format!(
            "the LERC blob is {w}x{h} pixels of {depth} x {bands} samples, expected {}x{} of {}",
            want.width, want.height, want.spp
        )));
    }
    if lerc_type(want.dtype) != Some(info.data_type) {
        return Err(corrupt(format!(
            "LERC data type {:?} in a {} image",
            info.data_type, want.dtype
        )));
    }
    let image = ::lerc::decode(blob).map_err(|e| corrupt(format!("LERC: {e}")))?;
    let pixels = w * h;
    let valid = validity(&image.valid_masks, pixels);
    let mut data = samples_of(image.data, want.spp, bands, pixels)
        .ok_or_else(|| corrupt("LERC data does not match its header".into()))?;
    if let Some(masks) = valid.as_ref().map(|_| &image.valid_masks) {
        nan_masked(&mut data, masks, want.spp, bands);
    }
    Ok(Decoded {
        height: h,
        data,
        valid,
    })
}

fn lerc_type(d: DataType) -> Option<LercType> {
    Some(match d {
        DataType::Int8 => LercType::Char,
        DataType::Uint8 => LercType::Byte,
        DataType::Int16 => LercType::Short,
        DataType::Uint16 => LercType::UShort,
        DataType::Int32 => LercType::Int,
        DataType::Uint32 => LercType::UInt,
        DataType::Float32 => LercType::Float,
        DataType::Float64 => LercType::Double,
    })
}

/// Per-pixel validity, `None` when every pixel is valid. One mask per band (libtiff writes
/// per-band masks when bands differ); a pixel is invalid when any band masks it, as one
/// masked sample (NaN) makes the pixel unusable for band algebra.
fn validity(masks: &[BitMask], pixels: usize) -> Option<Vec<bool>> {
    if masks.iter().all(BitMask::is_all_valid) {
        return None;
    }
    let ok = |k: usize| masks.iter().all(|m| k < m.num_pixels() && m.is_valid(k));
    Some((0..pixels).map(ok).collect())
}

/// LERC's samples in TIFF's pixel-interleaved order: `depth` samples per pixel are already
/// interleaved; `bands` are band-sequential and get interleaved here. `None` when the
/// decoder handed back fewer samples than the header promised.
fn samples_of(data: SampleData, spp: usize, bands: usize, pixels: usize) -> Option<Samples> {
    fn order<T: Copy>(v: Vec<T>, spp: usize, bands: usize, pixels: usize) -> Option<Vec<T>> {
        let n = pixels.checked_mul(spp)?;
        if v.len() < n {
            return None;
        }
        if bands <= 1 {
            let mut v = v;
            v.truncate(n);
            return Some(v);
        }
        let mut out = Vec::with_capacity(n);
        for p in 0..pixels {
            for b in 0..bands {
                out.push(*v.get(b * pixels + p)?);
            }
        }
        Some(out)
    }
    Some(match data {
        SampleData::I8(v) => Samples::I8(order(v, spp, bands, pixels)?),
        SampleData::U8(v) => Samples::U8(order(v, spp, bands, pixels)?),
        SampleData::I16(v) => Samples::I16(order(v, spp, bands, pixels)?),
        SampleData::U16(v) => Samples::U16(order(v, spp, bands, pixels)?),
        SampleData::I32(v) => Samples::I32(order(v, spp, bands, pixels)?),
        SampleData::U32(v) => Samples::U32(order(v, spp, bands, pixels)?),
        SampleData::F32(v) => Samples::F32(order(v, spp, bands, pixels)?),
        SampleData::F64(v) => Samples::F64(order(v, spp, bands, pixels)?),
    })
}

/// Masked float samples become NaN, as libtiff's LERC decoder hands them to GDAL (integer
/// samples keep the decoder's 0).
fn nan_masked(data: &mut Samples, masks: &[BitMask], spp: usize, bands: usize) {
    let masked = |i: usize| {
        let (pixel, sample) = (i / spp.max(1), i % spp.max(1));
        let m = if bands > 1 {
            masks.get(sample)
        } else {
            masks.first()
        };
        m.is_some_and(|m| pixel < m.num_pixels() && !m.is_valid(pixel))
    };
    match data {
        Samples::F32(v) => v
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| masked(*i))
            .for_each(|(_, x)| *x = f32::NAN),
        Samples::F64(v) => v
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| masked(*i))
            .for_each(|(_, x)| *x = f64::NAN),
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn blob(mask: Option<&BitMask>) -> Vec<u8> {
        let px: Vec<f32> = (0..64).map(|i| i as f32 * 0.5).collect();
        match mask {
            Some(m) => ::lerc::encode_slice_masked(8, 8, &px, m, ::lerc::Precision::Lossless),
            None => ::lerc::encode_slice(8, 8, &px, ::lerc::Precision::Lossless),
        }
        .unwrap()
    }

    const WANT: Expect = Expect {
        width: 8,
        height: 8,
        spp: 1,
        dtype: DataType::Float32,
    };

    #[test]
    fn wrappers_masks_and_corrupt_blobs() {
        let plain = blob(None);
        let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&plain, 6);
        let zst = zstd::bulk::compress(&plain, 3).unwrap();
        for (bytes, add) in [
            (&plain, Additional::None),
            (&zlib, Additional::Deflate),
            (&zst, Additional::Zstd),
        ] {
            let d = decode(bytes, add, WANT, "tile 0").unwrap();
            assert!(d.valid.is_none() && d.height == 8);
            assert!(matches!(&d.data, Samples::F32(v) if v[3] == 1.5 && v.len() == 64));
        }
        let mut m = BitMask::all_valid(64);
        m.set_invalid(5);
        let d = decode(&blob(Some(&m)), Additional::None, WANT, "tile 0").unwrap();
        let valid = d.valid.unwrap();
        assert!(!valid[5] && valid[4] && valid[6]);
        assert!(matches!(&d.data, Samples::F32(v) if v[5].is_nan() && v[6] == 3.0));
        // Wrong wrapper, wrong size, wrong type, truncations: typed errors, never panics.
        assert!(decode(&plain, Additional::Zstd, WANT, "t").is_err());
        let wide = Expect { width: 16, ..WANT };
        assert!(matches!(
            decode(&plain, Additional::None, wide, "t"),
            Err(SourceError::Corrupt(_))
        ));
        let ints = Expect {
            dtype: DataType::Int16,
            ..WANT
        };
        assert!(decode(&plain, Additional::None, ints, "t").is_err());
        for cut in 0..plain.len() {
            let r = decode(&plain[..cut], Additional::None, WANT, "t");
            assert!(matches!(r, Err(SourceError::Corrupt(_))), "cut at {cut}");
        }
        assert!(Additional::from_tag(Some(&[4, 3])).is_err());
        assert_eq!(Additional::from_tag(None).unwrap(), Additional::None);
    }

    #[test]
    fn bands_are_interleaved() {
        let v = samples_of(SampleData::U8(vec![1, 2, 3, 10, 20, 30]), 2, 2, 3).unwrap();
        assert!(matches!(v, Samples::U8(v) if v == vec![1, 10, 2, 20, 3, 30]));
        assert!(samples_of(SampleData::U8(vec![1, 2]), 2, 2, 3).is_none());
    }
}
