//! The reader against the shared corpus of real, derived and broken GeoTIFFs.

mod common;

use common::{Rng, corpus_dir, corpus_file, decode_chunk, fnv1a64, manifest};
use tilefn_cog::read::{HeaderParse, Ifd, Limits, Tiff, parse_file, parse_header};
use tilefn_cog::{CogError, decode_tile};
use tilefn_raster::DataType;

fn parse(name: &str) -> (Vec<u8>, Tiff) {
    let bytes = corpus_file(name);
    let t = parse_file(&bytes, &Limits::default());
    assert!(t.is_ok(), "{name}: {t:?}");
    let t = t.unwrap_or(Tiff {
        big: false,
        little_endian: true,
        ifds: Vec::new(),
    });
    (bytes, t)
}

fn first(t: &Tiff) -> &Ifd {
    assert!(!t.ifds.is_empty());
    &t.ifds[0]
}

#[test]
fn named_cogs_parse() {
    let (_, t) = parse("rio-tiler__cog.tif");
    let i = first(&t);
    assert!(!t.big && t.little_endian);
    assert_eq!(
        (i.width, i.height, i.tile_width, i.tile_height),
        (2658, 2667, 256, 256)
    );
    assert_eq!(
        (i.dtype, i.compression, i.samples),
        (Some(DataType::Uint16), 8, 1)
    );
    assert_eq!(t.images().count(), 5);
    assert!(t.images().skip(1).all(Ifd::is_reduced));
    assert!(
        i.geo_key_directory
            .windows(4)
            .any(|k| k == [3072, 0, 1, 32621])
    );

    let (_, t) = parse("rio-tiler__web.tif");
    let i = first(&t);
    assert_eq!(
        (i.predictor, i.nodata, t.images().count()),
        (2, Some(0.0), 3)
    );
    assert!(
        i.geo_key_directory
            .windows(4)
            .any(|k| k == [3072, 0, 1, 3857])
    );
    assert!(i.model_pixel_scale.is_some() && i.model_tiepoint.is_some());

    let (_, t) = parse("cogeotiff-js__rgba8_cog_big.tiff");
    let i = first(&t);
    assert!(t.big && t.little_endian);
    assert_eq!(
        (i.samples, i.compression, i.tile_width, t.ifds.len()),
        (4, 50000, 16, 5)
    );
    assert_eq!(i.extra_samples, vec![2]);

    let (_, t) = parse("image-tiff__BigTIFFMotorola.tif");
    let i = first(&t);
    assert!(t.big && !t.little_endian && !i.tiled);
    assert_eq!(
        (i.samples, i.rows_per_strip, i.dtype),
        (3, Some(64), Some(DataType::Uint8))
    );

    let (_, t) = parse("derived__dem-hills_int32_zstd_pred2.tif");
    let i = first(&t);
    assert_eq!(
        (i.dtype, i.compression, i.predictor),
        (Some(DataType::Int32), 50000, 2)
    );
    assert_eq!(i.nodata, Some(-2147483648.0));

    let (_, t) = parse("derived__dem-hills_float64_pred3_tiled.tif");
    let i = first(&t);
    assert_eq!(
        (i.dtype, i.predictor, i.tile_width, i.nodata),
        (Some(DataType::Float64), 3, 128, Some(-999999.0))
    );

    let (_, t) = parse("rio-tiler__cog_uint8_rgb_mask.tif");
    assert!(t.ifds.iter().any(|m| m.is_mask() && m.bits_per_sample == 1));
    let mask = t.mask_of(first(&t));
    assert!(mask.is_some_and(|m| m.subfile_type == 4 && m.dtype.is_none()));

    let (_, t) = parse("rasterio__float_nan.tif");
    assert!(first(&t).nodata.is_some_and(f64::is_nan));
    let (_, t) = parse("cogeotiff-js__model_transformation.tif");
    assert_eq!(
        first(&t).model_transformation.as_ref().map(Vec::len),
        Some(16)
    );
    let (_, t) = parse("rio-tiler__cog_cmap.tif");
    assert_eq!(first(&t).colormap.len(), 3 * 256);
}

/// Band-interleaved window (0, 0, w, h) of a decoded chunk, as GDAL returns it; float16 is
/// widened to float32 as GDAL does.
fn window(ifd: &Ifd, chunk: &[u8], w: usize, h: usize) -> Vec<u8> {
    let px = usize::from(ifd.samples) * ifd.bytes_per_sample();
    let stride = ifd.tile_width as usize * px;
    let mut out = Vec::new();
    for row in chunk.chunks(stride).take(h) {
        out.extend_from_slice(&row[..(w * px).min(row.len())]);
    }
    if ifd.sample_format == 3 && ifd.bits_per_sample == 16 {
        out = out
            .chunks_exact(2)
            .flat_map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])).to_le_bytes())
            .collect();
    }
    out
}

fn f16_to_f32(h: u16) -> f32 {
    let (sign, exp, frac) = (
        u32::from(h >> 15),
        u32::from((h >> 10) & 0x1f),
        u32::from(h & 0x3ff),
    );
    let mag = match exp {
        0 => frac as f32 * 2f32.powi(-24),
        31 => {
            if frac == 0 {
                f32::INFINITY
            } else {
                return f32::from_bits((sign << 31) | 0x7fc0_0000 | (frac << 13));
            }
        }
        _ => f32::from_bits(((exp + 112) << 23) | (frac << 13)),
    };
    if sign == 1 { -mag } else { mag }
}

/// The first chunk of each GDAL-readable file, compared with GDAL's pixels (hashes made by
/// tests/oracle/first_chunk_hashes.py). Only `Unsupported` may stop a comparison.
#[test]
fn first_chunk_matches_gdal() {
    let tsv = include_str!("oracle/first_chunk_hashes.tsv");
    let (mut compared, mut unsupported) = (Vec::new(), Vec::new());
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let [name, w, h, _dtype, hash] = f[..] else {
            continue;
        };
        let (w, h): (usize, usize) = (w.parse().unwrap_or(0), h.parse().unwrap_or(0));
        let (bytes, tiff) = parse(name);
        let ifd = first(&tiff);
        match decode_chunk(&bytes, &tiff, ifd, 0, 0) {
            Err(CogError::Unsupported(m)) => unsupported.push(format!("{name}: {m}")),
            Err(e) => expect_unsupported(name, &e),
            Ok(chunk) => {
                // A sparse chunk reads as nodata (or 0), as in GDAL.
                let chunk = chunk.unwrap_or_else(|| sparse_fill(ifd));
                let got = format!("{:016x}", fnv1a64(&window(ifd, &chunk, w, h)));
                assert_eq!(got, hash, "{name}: pixels differ from GDAL's");
                compared.push(name);
            }
        }
    }
    println!(
        "compared with GDAL: {}\nunsupported:\n  {}",
        compared.len(),
        unsupported.join("\n  ")
    );
    assert!(
        compared.len() >= 45,
        "only {} files compared",
        compared.len()
    );
    for must in [
        "rio-tiler__cog.tif",
        "rio-tiler__web.tif",
        "cogeotiff-js__rgba8_cog_big.tiff",
        "image-tiff__BigTIFFMotorola.tif",
        "derived__dem-hills_int32_zstd_pred2.tif",
        "derived__dem-hills_float64_pred3_tiled.tif",
        "image-tiff__random-fp16-pred3.tiff",
        "image-tiff__predictor-3-gray-f32.tif",
        "image-tiff__tiled-oversize-gray-i8.tif",
        "rasterio__rotated.tif",
    ] {
        assert!(compared.contains(&must), "{must} was not compared");
    }
}

fn expect_unsupported(name: &str, e: &CogError) {
    assert!(matches!(e, CogError::Unsupported(_)), "{name}: {e}");
}

fn sparse_fill(ifd: &Ifd) -> Vec<u8> {
    let n = ifd.tile_width as usize * ifd.tile_height as usize * usize::from(ifd.samples);
    let mut out = Vec::new();
    match (ifd.dtype, ifd.nodata) {
        (Some(d), Some(nd)) => (0..n).for_each(|_| d.write_le(d.clamp(nd), &mut out)),
        _ => out.resize(n * ifd.bytes_per_sample(), 0),
    }
    out
}

/// Every chunk of every IFD of every corpus file: files GDAL reads decode or say
/// `Unsupported`; files GDAL fails on fail somewhere with an error; nothing panics.
#[test]
fn every_chunk_of_every_file() {
    let entries = manifest();
    assert!(
        entries.len() > 70,
        "MANIFEST.tsv not found under {}",
        corpus_dir().display()
    );
    for entry in &entries {
        let name = &entry.file;
        let bytes = corpus_file(name);
        let mut errors = Vec::new();
        match parse_file(&bytes, &Limits::default()) {
            Err(e) => errors.push(e),
            Ok(tiff) => {
                for ifd in &tiff.ifds {
                    'chunks: for row in 0..ifd.tiles_down() {
                        for col in 0..ifd.tiles_across() {
                            if let Err(e) = decode_chunk(&bytes, &tiff, ifd, col, row) {
                                errors.push(e);
                                // One error per IFD is enough (unsupported IFDs have many).
                                break 'chunks;
                            }
                        }
                    }
                }
            }
        }
        if entry.category == "broken" {
            // Files GDAL cannot read must fail here too. Those it can (a bad CRS, an IFD loop
            // libtiff papers over) may go either way: we refuse loops outright.
            assert!(
                entry.gdal_read == "ok" || !errors.is_empty(),
                "{name}: broken file read without error"
            );
        } else {
            for e in &errors {
                assert!(matches!(e, CogError::Unsupported(_)), "{name}: {e}");
            }
        }
    }
}

#[test]
fn broken_files_fail_cleanly() {
    let l = Limits::default();
    let loop_file = corpus_file("broken__byte_ifd_loop.tif");
    assert!(matches!(parse_file(&loop_file, &l), Err(CogError::Format(m)) if m.contains("loop")));
    assert_eq!(
        parse_header(&[], &l),
        Ok(HeaderParse::NeedMore { min_len: 8 })
    );
    assert!(matches!(
        parse_file(&corpus_file("broken__not_a_tiff.tif"), &l),
        Err(CogError::Format(_))
    ));
    assert!(matches!(
        parse_file(&corpus_file("broken__byte_bad_version.tif"), &l),
        Err(CogError::Format(_))
    ));
    let header_only = corpus_file("broken__byte_header_only.tif");
    assert!(
        matches!(parse_header(&header_only, &l), Ok(HeaderParse::NeedMore { min_len }) if min_len > 8)
    );
    // The truncated COG keeps its header: it parses; its missing tiles are past EOF.
    let (bytes, t) = parse("broken__cog_truncated_64k.tif");
    assert_eq!(first(&t).width, 2658);
    let last = first(&t).tiles_down() - 1;
    assert!(decode_chunk(&bytes, &t, first(&t), 0, last).is_err());
    // 66000 x 66000 of sparse strips: parses without allocating the raster.
    let (bytes, t) = parse("node-gdal-async__huge-sparse.tiff");
    assert_eq!(decode_chunk(&bytes, &t, first(&t), 0, 0), Ok(None));
    // A strip larger than the tile limit is refused up front.
    let mut ifd = first(&t).clone();
    ifd.tile_offsets[0] = 8;
    ifd.tile_byte_counts[0] = 8;
    assert!(matches!(
        decode_tile(&t, &ifd, &bytes[8..16], &l),
        Err(CogError::Limits(_))
    ));
}

/// Every prefix of good files, then random byte flips: never a panic, and `NeedMore` always
/// asks for more than it was given.
#[test]
fn hostile_prefixes_and_flips() {
    let l = Limits::default();
    let files = [
        "rio-tiler__web.tif",
        "cogeotiff-js__rgba8_cog_big.tiff",
        "image-tiff__BigTIFFMotorola.tif",
        "rio-tiler__cog_uint8_rgb_mask.tif",
    ];
    for name in files {
        let good = corpus_file(name);
        let complete_at = (0..=good.len().min(40_000)).find(|&n| {
            let r = parse_header(&good[..n], &l);
            if let Ok(HeaderParse::NeedMore { min_len }) = r {
                assert!(min_len as usize > n, "{name}: NeedMore({min_len}) at {n}");
            }
            matches!(r, Ok(HeaderParse::Complete(_)))
        });
        assert!(complete_at.is_some(), "{name}: never completed");

        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ good.len() as u64);
        let region = complete_at.unwrap_or(good.len()).max(16);
        for _ in 0..1500 {
            let mut bad = good.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(region);
                bad[at] ^= 1 << rng.below(8);
            }
            if let Ok(tiff) = parse_file(&bad, &l) {
                for ifd in tiff.ifds.iter().take(3) {
                    for i in 0..ifd.tiles_across().min(2) {
                        let _ = decode_chunk(&bad, &tiff, ifd, i, 0);
                    }
                    // Decode arbitrary bytes as a tile too.
                    let junk = &bad[rng.below(bad.len())..];
                    let _ = decode_tile(&tiff, ifd, &junk[..junk.len().min(5000)], &l);
                }
            }
        }
    }
}
