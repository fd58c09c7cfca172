//! `parse_chain`, the whole-file header walk ingest uses, against the corpus.

mod common;

use common::{Rng, corpus_file, manifest};
use tilefn_cog::read::{Chain, ChainError, ChainParse, FileBytes, Limits, parse_chain, parse_file};

/// Parses `bytes` as ingest does, fetching `step` bytes (at least) per wanted range.
fn chain(bytes: &[u8], step: usize) -> Result<Chain, ChainError> {
    let l = Limits::default();
    let head = bytes[..bytes.len().min(step)].to_vec();
    let mut file = FileBytes::new(bytes.len() as u64, head);
    for _ in 0..10_000 {
        match parse_chain(&file, &l)? {
            ChainParse::Complete(c) => return Ok(c),
            ChainParse::Need(ranges) => {
                assert!(!ranges.is_empty());
                for r in ranges {
                    let end = (r.end as usize)
                        .max(r.start as usize + step)
                        .min(bytes.len());
                    assert!(r.end as usize <= bytes.len(), "{r:?} past the end");
                    file.insert(r.start, bytes[r.start as usize..end].to_vec());
                }
            }
        }
    }
    Err(ChainError::Truncated("too many rounds".into()))
}

#[test]
fn same_ifds_as_parse_file_wherever_the_header_is() {
    let mut compared = 0;
    for e in manifest() {
        let bytes = corpus_file(&e.file);
        let Ok(whole) = parse_file(&bytes, &Limits::default()) else {
            continue;
        };
        for step in [16, 1000, 1 << 20] {
            let c = chain(&bytes, step);
            // Debug text, not ==: NaN nodata values are equal there.
            let same = |t: &tilefn_cog::Tiff| format!("{t:?}") == format!("{whole:?}");
            assert!(
                matches!(&c, Ok(c) if same(&c.tiff) && c.loop_at.is_none() && c.broken.is_none()),
                "{} (step {step}): {c:?}",
                e.file
            );
        }
        compared += 1;
    }
    assert!(compared > 60, "{compared}");
}

#[test]
fn loops_cut_and_broken_files_are_typed() {
    let lp = corpus_file("broken__byte_ifd_loop.tif");
    let c = chain(&lp, 64).unwrap();
    let at = c.loop_at.unwrap() as usize;
    assert!(!c.tiff.ifds.is_empty() && at + 4 <= lp.len());
    // The pointer at `loop_at` leads back into the chain.
    let ptr = u32::from_le_bytes([lp[at], lp[at + 1], lp[at + 2], lp[at + 3]]);
    assert!(c.tiff.ifds.iter().any(|i| i.offset == u64::from(ptr)));
    for name in [
        "broken__not_a_tiff.tif",
        "broken__byte_bad_version.tif",
        "broken__zero_length.tif",
    ] {
        let r = chain(&corpus_file(name), 4096);
        assert!(matches!(r, Err(ChainError::NotTiff(_))), "{name}: {r:?}");
    }
    let r = chain(&corpus_file("broken__byte_header_only.tif"), 4096);
    assert!(matches!(r, Err(ChainError::Truncated(_))), "{r:?}");
    // The photometric field position points at the value parse_file read.
    let b = corpus_file("image-tiff__BigTIFFMotorola.tif");
    let c = chain(&b, 4096).unwrap();
    let f = c.tiff.ifds[0].photometric_at.unwrap();
    let o = f.offset as usize;
    assert_eq!(f.field_type, 3);
    assert_eq!(
        Some(u16::from_be_bytes([b[o], b[o + 1]])),
        c.tiff.ifds[0].photometric
    );
}

/// Byte flips anywhere in the header region: typed results, never a panic or a range
/// past the end of the file.
#[test]
fn flipped_headers_never_panic() {
    for name in ["rasterio__RGB.byte.tif", "image-tiff__BigTIFFMotorola.tif"] {
        let good = corpus_file(name);
        let mut rng = Rng(0x5151_7777 ^ good.len() as u64);
        for _ in 0..800 {
            let mut bad = good.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(good.len().min(4096));
                bad[at] ^= 1 << rng.below(8);
            }
            let _ = chain(&bad, 512);
        }
    }
}
