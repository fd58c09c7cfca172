//! LERC sources against their GDAL-read originals, corrupt LERC tiles, and the header walk's
//! typed errors (split from source_corpus.rs, whose helpers they use).

use super::*;

#[test]
fn source_lerc_reads_like_its_source() {
    let src = open("georust-gdal__dem-hills.tiff");
    let (w, h) = (src.info().width as usize, src.info().height as usize);
    let want = src.reader().unwrap().read_window(0, 0, w, h).unwrap();
    assert!(
        want.valid.iter().any(|v| !v),
        "the source has nodata pixels"
    );
    // Lossless LERC: the same pixels and nodata.
    let exact = open("derived__dem-hills_lerc.tif");
    assert_eq!(exact.info().nodata, src.info().nodata);
    assert_eq!(
        exact.reader().unwrap().read_window(0, 0, w, h).unwrap(),
        want
    );
    // LERC_ZSTD with MAX_Z_ERROR 0.5: same validity, every valid value within 0.5.
    let lossy = open("derived__dem-hills_lerc_zstd_zerr0.5.tif");
    let got = lossy
        .reader()
        .unwrap()
        .read_window(-7, -5, w + 9, h + 11)
        .unwrap();
    for r in 0..h {
        for c in 0..w {
            let (a, b) = (
                want.values[r * w + c],
                got.values[(r + 5) * got.width + c + 7],
            );
            assert_eq!(
                want.valid[r * w + c],
                got.valid[(r + 5) * got.width + c + 7]
            );
            if want.valid[r * w + c] {
                assert!((a - b).abs() <= 0.5, "{a} vs {b} at {c},{r}");
            }
        }
    }
}

/// The `count` field of tile 0 in a copy of `name`, replaced by `f(count)`, and its bytes.
fn lerc_with_tile0(name: &str, edit: impl Fn(&mut Vec<u8>, u64, u64)) -> tempfile::TempPath {
    let mut bytes = std::fs::read(corpus().join(name)).unwrap();
    let t = tilefn_cog::parse_file(&bytes, &tilefn_cog::Limits::default()).unwrap();
    let i = &t.ifds[0];
    edit(&mut bytes, i.tile_offsets[0], i.tile_byte_counts[0]);
    let f = tempfile::Builder::new().suffix(".tif").tempfile().unwrap();
    std::fs::write(f.path(), &bytes).unwrap();
    f.into_temp_path()
}

/// File position of the first TileByteCounts value (LONGs) of a little-endian classic TIFF.
fn tile_byte_counts_at(b: &[u8]) -> usize {
    let u16_at = |p: usize| usize::from(u16::from_le_bytes([b[p], b[p + 1]]));
    let u32_at = |p: usize| u32::from_le_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]) as usize;
    let ifd = u32_at(4);
    let entry = (0..u16_at(ifd))
        .map(|i| ifd + 2 + 12 * i)
        .find(|e| u16_at(*e) == 325)
        .unwrap();
    assert_eq!(u16_at(entry + 2), 4, "TileByteCounts as LONG");
    if u32_at(entry + 4) == 1 {
        entry + 8
    } else {
        u32_at(entry + 8)
    }
}

#[test]
fn source_corrupt_lerc_tiles_are_typed_errors() {
    let name = "derived__dem-hills_lerc.tif";
    // Tile 0's byte count halved (the blob ends early), then its second half garbled.
    let truncated = lerc_with_tile0(name, |b, _, count| {
        let at = tile_byte_counts_at(b);
        let new = (count as u32 / 2).to_le_bytes();
        b[at..at + 4].copy_from_slice(&new);
    });
    let garbled = lerc_with_tile0(name, |b, off, count| {
        let (s, e) = ((off + count / 2) as usize, (off + count) as usize);
        b[s..e]
            .iter_mut()
            .for_each(|x| *x = x.wrapping_mul(7).wrapping_add(13));
    });
    let zstd = corpus().join("derived__dem-hills_lerc_zstd_zerr0.5.tif");
    let zstd_cut = lerc_with_tile0("derived__dem-hills_lerc_zstd_zerr0.5.tif", |b, off, _| {
        b[off as usize + 4..off as usize + 12].fill(0);
    });
    assert!(zstd.exists());
    for path in [&truncated, &garbled, &zstd_cut] {
        let src = Source::open(path, &OpenOptions::default()).unwrap();
        let r = src.reader().unwrap().read_window(0, 0, 64, 64);
        assert!(matches!(r, Err(SourceError::Corrupt(_))), "{path:?}: {r:?}");
        // The other tiles still read.
        assert!(src.reader().unwrap().read_window(300, 0, 8, 8).is_ok());
    }
}

#[test]
fn source_header_walk_errors_are_typed() {
    let kind_of =
        |name: &str| match Source::open_pixels(&corpus().join(name), &OpenOptions::default()) {
            Ok(_) => "ok",
            Err(e) => kind(&e),
        };
    for (name, want) in [
        ("broken__byte_bad_version.tif", "NotTiff"),
        ("broken__not_a_tiff.tif", "NotTiff"),
        ("broken__zero_length.tif", "NotTiff"),
        ("broken__byte_header_only.tif", "Corrupt"),
        ("node-gdal-async__truncated.tiff", "Corrupt"),
        ("broken__cog_truncated_64k.tif", "Corrupt"),
        // libtiff cuts the loop and reads the first image; so do we.
        ("broken__byte_ifd_loop.tif", "ok"),
        // BigTIFF in both byte orders; headers at the end of the file.
        ("image-tiff__BigTIFFMotorola.tif", "ok"),
        ("cogeotiff-js__rgba8_cog_big.tiff", "ok"),
        ("rasterio__RGB.byte.tif", "ok"),
    ] {
        assert_eq!(kind_of(name), want, "{name}");
    }
    let looped = open("broken__byte_ifd_loop.tif");
    let b = looped.reader().unwrap().read_window(0, 0, 20, 20).unwrap();
    assert_eq!(b, window("rasterio__byte.tif", 0, 0, 20, 20));
    // Every prefix of a file whose header is at its end: typed errors, never a panic.
    let bytes = std::fs::read(corpus().join("rasterio__alpha.tif")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in (0..bytes.len())
        .step_by(997)
        .chain([bytes.len() - 3, bytes.len() - 200])
    {
        let p = dir.path().join(format!("cut{cut}.tif"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let r = Source::open_pixels(&p, &OpenOptions::default());
        assert!(
            matches!(r, Err(SourceError::NotTiff | SourceError::Corrupt(_))),
            "cut at {cut}: {:?}",
            r.map(|_| ())
        );
    }
}
