//! Writer -> reader -> decoder round trips over every dtype x compression x predictor.

mod common;

use common::Rng;
use tilefn_cog::read::{HeaderParse, Limits, Tiff, parse_file, parse_header};
use tilefn_cog::write::{
    CogSpec, Compression, Photometric, Predictor, data_order, encode_tile, header,
};
use tilefn_cog::{CogError, decode_tile};
use tilefn_raster::mercator::{resolution, tile_bounds};
use tilefn_raster::{DataType, TileCoord};

/// Pixels with structure (gradients) and noise, spanning the type's range, NaN for floats.
fn tile_pixels(spec: &CogSpec, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let (lo, hi) = spec.dtype.range();
    let samples = usize::from(spec.samples());
    let mut out = Vec::with_capacity(spec.tile_bytes());
    for y in 0..256usize {
        for x in 0..256usize {
            for s in 0..samples {
                let v = match rng.below(50) {
                    0 => lo,
                    1 => hi,
                    2 if spec.dtype.is_float() => f64::NAN,
                    3 => spec.nodata.unwrap_or(0.0),
                    _ => {
                        (x * 3 + y * 5 + s * 17) as f64 - 300.0
                            + rng.below(7) as f64
                            + 0.25 * (seed % 4) as f64
                    }
                };
                spec.dtype.write_le(spec.dtype.clamp(v), &mut out);
            }
        }
    }
    out
}

/// Present tiles of a 3-level COG: the overview tile, half of level 1, a few of level 0.
fn present(level: usize, i: usize) -> bool {
    match level {
        2 => true,
        1 => i.is_multiple_of(2),
        _ => matches!(i, 0 | 5 | 15),
    }
}

struct Cog {
    file: Vec<u8>,
    header_len: usize,
    tiles: Vec<Vec<Option<Vec<u8>>>>,
}

fn build(spec: &CogSpec) -> Result<Cog, CogError> {
    build_with(spec, present)
}

fn build_with(spec: &CogSpec, present: fn(usize, usize) -> bool) -> Result<Cog, CogError> {
    let mut tiles: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
    let mut encoded: Vec<Vec<Vec<u8>>> = Vec::new();
    for level in 0..usize::from(spec.levels) {
        let n = (spec.tiles_per_side(level) as usize).pow(2);
        let mut raw = Vec::new();
        let mut enc = Vec::new();
        for i in 0..n {
            if present(level, i) {
                let px = tile_pixels(spec, (level * 1000 + i) as u64 + 7);
                enc.push(encode_tile(spec, &px)?);
                raw.push(Some(px));
            } else {
                enc.push(Vec::new());
                raw.push(None);
            }
        }
        tiles.push(raw);
        encoded.push(enc);
    }
    let sizes: Vec<Vec<u64>> = encoded
        .iter()
        .map(|l| l.iter().map(|t| t.len() as u64).collect())
        .collect();
    let mut file = header(spec, &sizes)?;
    let header_len = file.len();
    for (level, i) in data_order(spec) {
        file.extend_from_slice(&encoded[level][i]);
    }
    Ok(Cog {
        file,
        header_len,
        tiles,
    })
}

/// Parses the way the Worker does: start small and grow to `min_len` until complete.
fn parse_incrementally(file: &[u8]) -> Result<(Tiff, usize), CogError> {
    let mut n = 16usize;
    loop {
        match parse_header(&file[..n.min(file.len())], &Limits::default())? {
            HeaderParse::Complete(t) => return Ok((t, n)),
            HeaderParse::NeedMore { min_len } => {
                assert!(
                    min_len as usize > n.min(file.len()),
                    "NeedMore must ask for more"
                );
                assert!(
                    min_len as usize <= file.len(),
                    "NeedMore past EOF on a good file"
                );
                n = min_len as usize;
            }
        }
    }
}

fn check(spec: &CogSpec) -> Result<(), CogError> {
    let label = format!(
        "{} {:?} {:?} bands {} alpha {}",
        spec.dtype, spec.compression, spec.predictor, spec.bands, spec.alpha
    );
    let cog = build(spec)?;
    let (tiff, needed) = parse_incrementally(&cog.file)?;
    assert!(
        needed <= cog.header_len,
        "{label}: parsing needed {needed} bytes of a {}-byte header",
        cog.header_len
    );
    assert!(!tiff.big && tiff.little_endian);
    assert_eq!(tiff.ifds.len(), 3, "{label}");
    assert_eq!(tiff.ifds[0].offset, 8);

    let ifd0 = &tiff.ifds[0];
    let b = tile_bounds(spec.anchor);
    assert_eq!(
        ifd0.model_tiepoint.as_deref(),
        Some(&[0.0, 0.0, 0.0, b.min_x, b.max_y, 0.0][..])
    );
    let res = resolution(spec.full_zoom());
    assert_eq!(
        ifd0.model_pixel_scale.as_deref(),
        Some(&[res, res, 0.0][..])
    );
    assert_eq!(
        ifd0.geo_key_directory.get(16..20),
        Some(&[3072u16, 0, 1, 3857][..])
    );
    assert_eq!(
        ifd0.geo_ascii_params.as_deref(),
        Some("WGS 84 / Pseudo-Mercator|")
    );

    let mut last_data_offset = cog.header_len as u64;
    let mut first_data = None;
    for (level, i) in data_order(spec) {
        let ifd = &tiff.ifds[level];
        if let Some(&off) = ifd.tile_offsets.get(i).filter(|o| **o != 0) {
            first_data.get_or_insert(off);
            assert!(off >= last_data_offset, "{label}: tile data out of order");
            last_data_offset = off;
        }
    }
    assert_eq!(
        first_data,
        Some(cog.header_len as u64),
        "{label}: data must start right after the header"
    );

    for (level, ifd) in tiff.ifds.iter().enumerate() {
        let side = spec.tiles_per_side(level);
        assert_eq!((ifd.width, ifd.height), (side * 256, side * 256));
        assert_eq!(
            (ifd.tile_width, ifd.tile_height, ifd.tiled),
            (256, 256, true)
        );
        assert_eq!(ifd.samples, spec.samples());
        assert_eq!(ifd.dtype, Some(spec.dtype));
        assert_eq!(ifd.compression, spec.compression.tiff_code());
        assert_eq!(ifd.predictor, spec.effective_predictor().tiff_code());
        assert_eq!(ifd.subfile_type, u32::from(level > 0));
        assert_eq!(ifd.photometric, Some(spec.photometric.tiff_code()));
        assert_eq!(ifd.extra_samples.last() == Some(&2), spec.alpha);
        match (ifd.nodata, spec.nodata) {
            (Some(a), Some(b)) => assert!(
                a == b || (a.is_nan() && b.is_nan()),
                "{label}: nodata {a} != {b}"
            ),
            (a, b) => assert_eq!(a.is_some(), b.is_some()),
        }
        for row in 0..side {
            for col in 0..side {
                let i = (row * side + col) as usize;
                let want = &cog.tiles[level][i];
                let range = ifd.tile_range(col, row);
                assert_eq!(
                    range.is_some(),
                    want.is_some(),
                    "{label}: sparse mismatch at {level}/{col}/{row}"
                );
                if let (Some(r), Some(want)) = (range, want) {
                    let got = decode_tile(
                        &tiff,
                        ifd,
                        &cog.file[r.start as usize..r.end as usize],
                        &Limits::default(),
                    )?;
                    assert!(
                        got == *want,
                        "{label}: level {level} tile {col},{row} differs"
                    );
                }
            }
        }
    }
    Ok(())
}

fn spec(
    dtype: DataType,
    compression: Compression,
    predictor: Predictor,
    bands: u16,
    alpha: bool,
) -> CogSpec {
    CogSpec {
        anchor: TileCoord::new(7, 100, 50),
        levels: 3,
        dtype,
        bands,
        alpha,
        mask: false,
        photometric: if bands >= 3 && dtype == DataType::Uint8 {
            Photometric::Rgb
        } else {
            Photometric::MinIsBlack
        },
        compression,
        predictor,
        nodata: if dtype.is_float() {
            Some(f64::NAN)
        } else {
            Some(dtype.clamp(-9999.0))
        },
    }
}

#[test]
fn every_dtype_compression_and_predictor() {
    for (k, dtype) in DataType::ALL.into_iter().enumerate() {
        let preds = if dtype.is_float() {
            [Predictor::None, Predictor::FloatingPoint]
        } else {
            [Predictor::None, Predictor::Horizontal]
        };
        for compression in Compression::ALL {
            for predictor in preds {
                // Vary the sample count too: 1, 2 or 3 bands, with alpha on some.
                let bands = 1 + (k % 3) as u16;
                let s = spec(dtype, compression, predictor, bands, k % 2 == 0);
                assert_eq!(check(&s), Ok(()), "{s:?}");
            }
        }
    }
}

#[test]
fn rgba_and_many_bands() {
    for compression in Compression::ALL {
        let s = spec(DataType::Uint8, compression, Predictor::Horizontal, 3, true);
        assert_eq!(check(&s), Ok(()));
    }
    let s = spec(
        DataType::Int16,
        Compression::Zstd,
        Predictor::Horizontal,
        7,
        false,
    );
    assert_eq!(check(&s), Ok(()));
    let s = spec(
        DataType::Float64,
        Compression::Deflate,
        Predictor::FloatingPoint,
        5,
        true,
    );
    assert_eq!(check(&s), Ok(()));
}

#[test]
fn whole_file_parse_and_truncation() {
    let s = spec(
        DataType::Float32,
        Compression::Zstd,
        Predictor::FloatingPoint,
        1,
        false,
    );
    let cog = build(&s);
    assert!(cog.is_ok());
    let Ok(cog) = cog else { return };
    assert!(parse_file(&cog.file, &Limits::default()).is_ok());
    // Cut inside the header: a whole-file parse must say truncated.
    let cut = parse_file(&cog.file[..cog.header_len / 2], &Limits::default());
    assert!(matches!(cut, Err(CogError::Format(m)) if m.contains("truncated")));
    // A tile cut short is a Format error, not a panic or garbage.
    let Ok(tiff) = parse_file(&cog.file, &Limits::default()) else {
        return;
    };
    let ifd = &tiff.ifds[2];
    let r = ifd.tile_range(0, 0).unwrap_or(0..0);
    let short = &cog.file[r.start as usize..r.end as usize - 10];
    assert!(decode_tile(&tiff, ifd, short, &Limits::default()).is_err());
    // A tiny tile limit is enforced before decoding.
    let small = Limits {
        max_tile_bytes: 1000,
        ..Limits::default()
    };
    let full = &cog.file[r.start as usize..r.end as usize];
    assert!(matches!(
        decode_tile(&tiff, ifd, full, &small),
        Err(CogError::Limits(_))
    ));
}

#[test]
fn uncompressed_ignores_predictor() {
    let s = spec(
        DataType::Uint16,
        Compression::None,
        Predictor::Horizontal,
        1,
        false,
    );
    assert_eq!(s.effective_predictor(), Predictor::None);
    let px = tile_pixels(&s, 3);
    assert_eq!(encode_tile(&s, &px), Ok(px));
}

/// Writes sample COGs for checking with GDAL (tests/oracle/validate_samples.py) when
/// `TILEFN_COG_SAMPLES` names a directory; otherwise does nothing.
#[test]
fn write_samples_for_gdal() {
    let Some(dir) = std::env::var_os("TILEFN_COG_SAMPLES") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    assert!(std::fs::create_dir_all(&dir).is_ok());
    for dtype in DataType::ALL {
        for compression in Compression::ALL {
            for predictor in [Predictor::None, tilefn_cog::default_predictor(dtype)] {
                let s = spec(
                    dtype,
                    compression,
                    predictor,
                    1 + u16::from(dtype == DataType::Uint8) * 2,
                    dtype == DataType::Uint8,
                );
                // Also one COG whose first tile of every level but the last is sparse.
                let first_sparse =
                    compression == Compression::Deflate && predictor == Predictor::None;
                let cog = if first_sparse {
                    build_with(&s, |l, i| l == 2 || (i % 3 == 1))
                } else {
                    build(&s)
                };
                let Ok(cog) = cog else { continue };
                let sparse = if first_sparse { "_sparse00" } else { "" };
                let name = format!(
                    "{}_{}_p{}{sparse}.tif",
                    dtype,
                    compression,
                    predictor.tiff_code()
                );
                assert!(std::fs::write(dir.join(&name), &cog.file).is_ok());
                // The raw pixels of every present tile, for the pixel comparison.
                let mut raw = Vec::new();
                for (level, i) in data_order(&s) {
                    if let Some(px) = &cog.tiles[level][i] {
                        raw.extend_from_slice(format!("{level} {i}\n").as_bytes());
                        raw.extend_from_slice(px);
                    }
                }
                assert!(std::fs::write(dir.join(format!("{name}.raw")), raw).is_ok());
            }
        }
    }
}
