//! Unit tests of the writer's API (the byte-level checks are in tests/roundtrip.rs).

use super::*;

fn spec(levels: u8, dtype: DataType, compression: Compression) -> CogSpec {
    CogSpec {
        anchor: TileCoord::new(9, 300, 200),
        levels,
        dtype,
        bands: 1,
        alpha: false,
        mask: false,
        photometric: Photometric::MinIsBlack,
        compression,
        predictor: default_predictor(dtype),
        nodata: Some(-9999.0),
    }
}

#[test]
fn spec_geometry() {
    let s = spec(8, DataType::Uint8, Compression::Deflate);
    assert_eq!(s.full_zoom(), 16);
    assert_eq!(s.tiles_per_side(0), 128);
    assert_eq!(s.tiles_per_side(7), 1);
    assert_eq!(s.tiles_per_side(8), 0);
    assert_eq!(data_order(&s).len(), 21845);
    assert_eq!(data_order(&s).first(), Some(&(7, 0)));
    assert_eq!(data_order(&s).last(), Some(&(0, 128 * 128 - 1)));
    assert_eq!(s.tile_at(7, 0), Some(s.anchor));
    assert_eq!(
        s.tile_at(0, 129),
        Some(TileCoord::new(16, 300 * 128 + 1, 200 * 128 + 1))
    );
    assert_eq!(s.tile_at(1, 64 * 64), None);
    assert_eq!(s.zoom_of_level(8), None);
}

#[test]
fn full_cog_header_is_small() {
    // 8 levels = (4^8 - 1) / 3 = 21845 tiles: 8 bytes each in classic TIFF.
    let s = spec(8, DataType::Float32, Compression::Zstd);
    let sizes: Vec<Vec<u64>> = (0..8)
        .map(|l| vec![150_000; (s.tiles_per_side(l) as usize).pow(2)])
        .collect();
    let h = header(&s, &sizes).unwrap_or_default();
    assert!(h.len() > 21845 * 8, "{}", h.len());
    assert!(h.len() < 180_000, "header of {} bytes", h.len());
    assert_eq!(&h[..4], b"II*\0", "3.3 GB of tiles still fits classic TIFF");
}

#[test]
fn bigtiff_past_4_gib() {
    let s = spec(2, DataType::Float64, Compression::None);
    let sizes = vec![vec![1u64 << 30; 4], vec![1 << 20]];
    let h = header(&s, &sizes).unwrap_or_default();
    assert_eq!(&h[..4], &[b'I', b'I', 43, 0]);
    assert_eq!(
        u64::from_le_bytes(h[8..16].try_into().unwrap_or_default()),
        16
    );
}

#[test]
fn usage_errors() {
    let s = spec(3, DataType::Uint16, Compression::Lzw);
    assert!(matches!(encode_tile(&s, &[0; 10]), Err(CogError::Usage(_))));
    assert!(matches!(
        header(&s, &[vec![0; 16]]),
        Err(CogError::Usage(_))
    ));
    assert!(matches!(
        header(&s, &[vec![0; 16], vec![0; 4], vec![0; 2]]),
        Err(CogError::Usage(_))
    ));
    let bad = CogSpec {
        predictor: Predictor::FloatingPoint,
        ..s.clone()
    };
    assert!(matches!(bad.validate(), Err(CogError::Usage(_))));
    let bad = CogSpec {
        levels: 9,
        ..s.clone()
    };
    assert!(matches!(bad.validate(), Err(CogError::Usage(_))));
    let bad = CogSpec {
        photometric: Photometric::Rgb,
        ..s.clone()
    };
    assert!(matches!(bad.validate(), Err(CogError::Usage(_))));
    let bad = CogSpec {
        anchor: TileCoord::new(2, 4, 0),
        ..s
    };
    assert!(matches!(bad.validate(), Err(CogError::Usage(_))));
}

#[test]
fn names_parse() {
    for c in Compression::ALL {
        assert_eq!(c.name().parse::<Compression>(), Ok(c));
        assert_eq!(serde_json::to_string(&c).ok(), Some(format!("\"{c}\"")));
    }
    assert_eq!("ZSTD".parse::<Compression>(), Ok(Compression::Zstd));
    assert!("jpeg".parse::<Compression>().is_err());
}

#[test]
fn nodata_strings() {
    assert_eq!(gdal_nodata_string(f64::NAN), "nan");
    assert_eq!(gdal_nodata_string(-9999.0), "-9999");
    assert_eq!(gdal_nodata_string(0.0), "0");
    assert_eq!(gdal_nodata_string(-2147483648.0), "-2147483648");
    assert_eq!(gdal_nodata_string(0.5), "0.5");
    assert_eq!(
        gdal_nodata_string(f64::from(f32::MIN)),
        "-3.4028234663852886e38"
    );
    assert_eq!(gdal_nodata_string(f64::NEG_INFINITY), "-inf");
}

#[test]
fn masked_cog_has_gdal_mask_ifds_behind_each_level_and_mask_tiles_behind_image_tiles() {
    use crate::read::{Limits, decode_tile, parse_file};
    let s = CogSpec {
        mask: true,
        nodata: None,
        ..spec(2, DataType::Uint8, Compression::Deflate)
    };
    // Level 0: 2 x 2 tiles, the last one sparse; level 1: 1 tile. Valid = left half.
    let valid: Vec<bool> = (0..TS * TS).map(|p| p % TS < TS / 2).collect();
    let image = encode_tile(&s, &vec![7u8; TS * TS]).unwrap_or_default();
    let mask = encode_mask_tile(&s, &valid).unwrap_or_default();
    let sizes = |n: usize, len: usize| -> Vec<u64> {
        (0..n)
            .map(|i| if i == 3 { 0 } else { len as u64 })
            .collect()
    };
    let tile_sizes = vec![sizes(4, image.len()), sizes(1, image.len())];
    let mask_sizes = vec![sizes(4, mask.len()), sizes(1, mask.len())];
    assert!(
        header(&s, &tile_sizes).is_err(),
        "a masked spec needs mask sizes"
    );
    let mut file = header_with_mask(&s, &tile_sizes, &mask_sizes).unwrap_or_default();
    for (level, i) in data_order(&s) {
        if tile_sizes[level][i] > 0 {
            file.extend_from_slice(&image);
            file.extend_from_slice(&mask);
        }
    }
    let tiff = parse_file(&file, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<(bool, bool, u32)> = tiff
        .ifds
        .iter()
        .map(|i| (i.is_mask(), i.is_reduced(), i.width))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (false, false, 512),
            (true, false, 512),
            (false, true, 256),
            (true, true, 256)
        ]
    );
    for (image_ifd, col, row) in [(0usize, 1u32, 0u32), (2, 0, 0)] {
        let (img, msk) = (&tiff.ifds[image_ifd], &tiff.ifds[image_ifd + 1]);
        let (Some(a), Some(b)) = (img.tile_range(col, row), msk.tile_range(col, row)) else {
            panic!("tile {col},{row} of IFD {image_ifd} is missing");
        };
        assert_eq!(a.end, b.start, "the mask tile follows its image tile");
        let bits = decode_tile(
            &tiff,
            msk,
            &file[b.start as usize..b.end as usize],
            &Limits::default(),
        )
        .unwrap_or_default();
        let flags: Vec<bool> = bits.iter().map(|v| *v != 0).collect();
        assert_eq!(flags, valid);
    }
    assert_eq!(tiff.ifds[1].tile_range(1, 1), None, "sparse stays sparse");
    let both = CogSpec {
        alpha: true,
        ..s.clone()
    };
    assert!(matches!(both.validate(), Err(CogError::Usage(_))));
}

/// Response tiles (fdeflate) decode to the same samples as stored ones, for every type
/// and predictor: only the deflate encoder differs.
#[test]
fn response_tiles_decode_like_stored_tiles() {
    use crate::read::{Limits, decode_tile, parse_file};
    for dtype in DataType::ALL {
        let s = spec(1, dtype, Compression::Deflate);
        let n = s.tile_bytes();
        // A smooth ramp with some noise in the low bytes: predictors have work to do.
        let data: Vec<u8> = (0..n)
            .map(|i| ((i / 97) as u8).wrapping_add((i.wrapping_mul(2_654_435_761) >> 13) as u8 & 7))
            .collect();
        for encode in [encode_tile, encode_response_tile] {
            let tile = encode(&s, &data).unwrap_or_else(|e| panic!("{dtype}: {e}"));
            let mut file = header(&s, &[vec![tile.len() as u64]]).unwrap();
            file.extend_from_slice(&tile);
            let tiff = parse_file(&file, &Limits::default()).unwrap_or_else(|e| panic!("{e}"));
            let ifd = tiff.images().next().unwrap();
            let range = ifd.tile_range(0, 0).unwrap();
            let bytes = &file[range.start as usize..range.end as usize];
            let got = decode_tile(&tiff, ifd, bytes, &Limits::default()).unwrap();
            assert!(got == data, "{dtype}: samples differ");
        }
    }
}
