//! Big-endian decoding: predictors must work on sample values in the file's byte order and
//! the output must always be little-endian. The corpus has no big-endian file with a
//! predictor, so these tiles are built by hand from known values.

use tilefn_cog::read::{Limits, Tiff, parse_file};
use tilefn_cog::write::{
    CogSpec, Compression, Photometric, Predictor, data_order, encode_tile, header,
};
use tilefn_cog::{CogError, decode_tile};
use tilefn_raster::{DataType, TileCoord};

/// A one-tile COG (for its IFD) and the little-endian pixels of a 256x256 tile of `dtype`.
fn setup(
    dtype: DataType,
    compression: Compression,
    predictor: Predictor,
) -> Result<(Tiff, Vec<u8>), CogError> {
    let spec = CogSpec {
        anchor: TileCoord::new(3, 1, 2),
        levels: 1,
        dtype,
        bands: 2,
        alpha: false,
        mask: false,
        photometric: Photometric::MinIsBlack,
        compression,
        predictor,
        nodata: None,
    };
    let mut px = Vec::new();
    for i in 0..256 * 256 * 2u32 {
        let v = f64::from(i % 1000) * 37.0 - 12_345.0 + f64::from(i / 512);
        dtype.write_le(dtype.clamp(v), &mut px);
    }
    let tile = encode_tile(&spec, &px)?;
    let mut file = header(&spec, &[vec![tile.len() as u64]])?;
    assert_eq!(data_order(&spec), vec![(0, 0)]);
    file.extend_from_slice(&tile);
    Ok((parse_file(&file, &Limits::default())?, px))
}

/// Horizontal differencing of `size`-byte samples (2 per pixel) written big-endian.
fn be_differenced(px_le: &[u8], size: usize) -> Vec<u8> {
    let vals: Vec<u64> = px_le
        .chunks_exact(size)
        .map(|c| c.iter().rev().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
        .collect();
    let mask = if size == 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    };
    let per_row = 256 * 2;
    let mut out = Vec::with_capacity(px_le.len());
    for (i, v) in vals.iter().enumerate() {
        let d = if i % per_row >= 2 {
            v.wrapping_sub(vals[i - 2]) & mask
        } else {
            *v
        };
        out.extend_from_slice(&d.to_be_bytes()[8 - size..]);
    }
    out
}

#[test]
fn big_endian_horizontal_predictor() {
    for dtype in [
        DataType::Uint16,
        DataType::Int16,
        DataType::Uint32,
        DataType::Int32,
    ] {
        let setup = setup(dtype, Compression::Deflate, Predictor::Horizontal);
        assert!(setup.is_ok(), "{setup:?}");
        let Ok((mut tiff, px)) = setup else { return };
        tiff.little_endian = false;
        let be = be_differenced(&px, dtype.size());
        let packed = miniz_oxide::deflate::compress_to_vec_zlib(&be, 6);
        let got = decode_tile(&tiff, &tiff.ifds[0], &packed, &Limits::default());
        assert!(
            got.as_ref() == Ok(&px),
            "{dtype}: big-endian predictor 2 decoded wrongly"
        );
    }
}

#[test]
fn big_endian_without_predictor_is_swapped() {
    let Ok((mut tiff, px)) = setup(DataType::Float32, Compression::None, Predictor::None) else {
        return;
    };
    tiff.little_endian = false;
    let be: Vec<u8> = px
        .chunks_exact(4)
        .flat_map(|c| [c[3], c[2], c[1], c[0]])
        .collect();
    assert_eq!(
        decode_tile(&tiff, &tiff.ifds[0], &be, &Limits::default()),
        Ok(px)
    );
}

#[test]
fn floating_point_predictor_ignores_byte_order() {
    // libtiff's shuffled layout is the same in II and MM files, and decodes to native order.
    for dtype in [DataType::Float32, DataType::Float64] {
        let Ok((mut tiff, px)) = setup(dtype, Compression::Zstd, Predictor::FloatingPoint) else {
            return;
        };
        let r = tiff.ifds[0].tile_range(0, 0).unwrap_or(0..0);
        let spec_tile = {
            // Re-encode: the file bytes are not kept by `setup`.
            let spec = CogSpec {
                anchor: TileCoord::new(3, 1, 2),
                levels: 1,
                dtype,
                bands: 2,
                alpha: false,
                mask: false,
                photometric: Photometric::MinIsBlack,
                compression: Compression::Zstd,
                predictor: Predictor::FloatingPoint,
                nodata: None,
            };
            encode_tile(&spec, &px).unwrap_or_default()
        };
        assert_eq!(spec_tile.len() as u64, r.end - r.start);
        let le = decode_tile(&tiff, &tiff.ifds[0], &spec_tile, &Limits::default());
        tiff.little_endian = false;
        let be = decode_tile(&tiff, &tiff.ifds[0], &spec_tile, &Limits::default());
        assert_eq!(le.as_ref(), Ok(&px));
        assert_eq!(be, le);
    }
}
