//! The predictors against libtiff's plain loops and known vectors.
//!
//! These also run in wasm32 (scripts/test.sh: `cargo test --target wasm32-unknown-unknown`
//! under Node through wasm-bindgen-test-runner), where the float predictor has its own
//! simd128 loop.
use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn horizontal_decode_fast_path_matches_generic_loop() {
    for samples in 1..=4usize {
        for size in [1usize, 2, 4, 8] {
            for width in [1usize, 2, 5, 256] {
                let row = width * samples * size;
                let data = random_bytes(row * 3, (samples * 100 + size * 10 + width) as u64);
                let mut fast = data.clone();
                horizontal(&mut fast, row, samples, size, false);
                let mut slow = data.clone();
                for r in slow.chunks_exact_mut(row) {
                    match size {
                        1 => horizontal_row::<1>(
                            r,
                            samples,
                            false,
                            |b| u64::from(b[0]),
                            |v| [v as u8],
                        ),
                        2 => horizontal_row::<2>(
                            r,
                            samples,
                            false,
                            |b| u64::from(u16::from_le_bytes(b)),
                            |v| (v as u16).to_le_bytes(),
                        ),
                        4 => horizontal_row::<4>(
                            r,
                            samples,
                            false,
                            |b| u64::from(u32::from_le_bytes(b)),
                            |v| (v as u32).to_le_bytes(),
                        ),
                        _ => horizontal_row::<8>(
                            r,
                            samples,
                            false,
                            u64::from_le_bytes,
                            u64::to_le_bytes,
                        ),
                    }
                }
                assert_eq!(fast, slow, "samples {samples} size {size} width {width}");
            }
        }
    }
}

#[test]
fn horizontal_known_vectors() {
    // 8-bit, 2 samples per pixel, 3 pixels: differences per band.
    let mut b = vec![10u8, 200, 12, 190, 5, 255];
    horizontal(&mut b, 6, 2, 1, true);
    assert_eq!(b, vec![10, 200, 2, 246, 249, 65]);
    horizontal(&mut b, 6, 2, 1, false);
    assert_eq!(b, vec![10, 200, 12, 190, 5, 255]);

    // 16-bit LE, one sample: 1000, 999, 65535 -> 1000, -1 (0xffff), 64536.
    let vals: Vec<u8> = [1000u16, 999, 65535]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut b = vals.clone();
    horizontal(&mut b, 6, 1, 2, true);
    let diffs: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(diffs, vec![1000, 0xffff, 64536]);
    horizontal(&mut b, 6, 1, 2, false);
    assert_eq!(b, vals);

    // Rows are independent: the second row starts from its own first pixel.
    let mut b = vec![1u8, 2, 3, 7, 8, 9];
    horizontal(&mut b, 3, 1, 1, true);
    assert_eq!(b, vec![1, 1, 1, 7, 1, 1]);
}

#[test]
fn horizontal_wide_round_trip() {
    for size in [4usize, 8] {
        let vals: Vec<u8> = (0..48u8)
            .map(|i| i.wrapping_mul(97).wrapping_add(3))
            .collect();
        let mut b = vals.clone();
        horizontal(&mut b, 48, 3, size, true);
        assert_ne!(b, vals);
        horizontal(&mut b, 48, 3, size, false);
        assert_eq!(b, vals);
    }
}

#[test]
fn floating_point_known_vector() {
    // Two float32 samples 1.0 (0x3f800000) and 2.0 (0x40000000), one band. Shuffled MSB
    // planes: [3f 40][80 00][00 00][00 00]; then byte differences with stride 1.
    let mut b: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    floating_point(&mut b, 8, 1, 4, true);
    assert_eq!(b, vec![0x3f, 0x01, 0x40, 0x80, 0x00, 0x00, 0x00, 0x00]);
    floating_point(&mut b, 8, 1, 4, false);
    let back: Vec<f32> = b
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(back, vec![1.0, 2.0]);
}

#[test]
fn floating_point_round_trip_all_widths() {
    for size in [2usize, 4, 8] {
        for samples in [1usize, 3] {
            let row = 5 * samples * size;
            let vals: Vec<u8> = (0..row * 2).map(|i| (i * 31 % 251) as u8).collect();
            let mut b = vals.clone();
            floating_point(&mut b, row, samples, size, true);
            floating_point(&mut b, row, samples, size, false);
            assert_eq!(b, vals, "size {size} samples {samples}");
        }
    }
}

/// libtiff's `fpAcc`/`fpDiff` written as plainly as possible: the reference the fast
/// paths must match byte for byte.
fn reference_fp(buf: &mut [u8], row_bytes: usize, samples: usize, size: usize, encode: bool) {
    for row in buf.chunks_exact_mut(row_bytes) {
        let wc = row_bytes / size;
        let mut planes = row.to_vec();
        if encode {
            for count in 0..wc {
                for byte in 0..size {
                    planes[(size - byte - 1) * wc + count] = row[size * count + byte];
                }
            }
            let shuffled = planes.clone();
            for i in samples..row_bytes {
                planes[i] = shuffled[i].wrapping_sub(shuffled[i - samples]);
            }
            row.copy_from_slice(&planes);
        } else {
            for i in samples..row_bytes {
                planes[i] = planes[i].wrapping_add(planes[i - samples]);
            }
            row.copy_from_slice(&planes);
            for count in 0..wc {
                for byte in 0..size {
                    row[size * count + byte] = planes[(size - byte - 1) * wc + count];
                }
            }
        }
    }
}

/// xorshift64: deterministic random bytes without a dependency.
fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn floating_point_fast_paths_match_reference() {
    for samples in 1..=4usize {
        for size in [1usize, 2, 4, 8] {
            for width in [1usize, 2, 3, 7, 16, 33, 48, 256, 257] {
                let row = width * samples * size;
                let rows = 3;
                let seed = (samples * 1000 + size * 100 + width) as u64;
                let data = random_bytes(row * rows, seed);
                let what = format!("samples {samples} size {size} width {width}");

                let (mut fast, mut slow) = (data.clone(), data.clone());
                floating_point(&mut fast, row, samples, size, false);
                reference_fp(&mut slow, row, samples, size, false);
                assert_eq!(fast, slow, "decode, {what}");

                let (mut fast, mut slow) = (data.clone(), data.clone());
                floating_point(&mut fast, row, samples, size, true);
                reference_fp(&mut slow, row, samples, size, true);
                assert_eq!(fast, slow, "encode, {what}");

                floating_point(&mut fast, row, samples, size, false);
                assert_eq!(fast, data, "encode then decode, {what}");
            }
        }
    }
}

#[test]
fn floating_point_partial_pixel_rows_match_reference() {
    // Rows that are not a whole number of pixels take the generic loop; they must still
    // agree with the reference and round-trip.
    for (row, samples, size) in [(10usize, 3usize, 4usize), (9, 2, 4), (13, 1, 8), (6, 4, 2)] {
        let data = random_bytes(row * 4, (row * samples * size) as u64);
        let (mut fast, mut slow) = (data.clone(), data.clone());
        floating_point(&mut fast, row, samples, size, false);
        reference_fp(&mut slow, row, samples, size, false);
        assert_eq!(fast, slow, "decode row {row} samples {samples} size {size}");
        let (mut fast, mut slow) = (data.clone(), data.clone());
        floating_point(&mut fast, row, samples, size, true);
        reference_fp(&mut slow, row, samples, size, true);
        assert_eq!(fast, slow, "encode row {row} samples {samples} size {size}");
        floating_point(&mut fast, row, samples, size, false);
        assert_eq!(
            fast, data,
            "round trip row {row} samples {samples} size {size}"
        );
    }
}

#[test]
fn floating_point_trailing_partial_row_is_untouched() {
    let data = random_bytes(8 * 2 + 5, 7);
    let mut b = data.clone();
    floating_point(&mut b, 8, 1, 4, false);
    assert_eq!(b[16..], data[16..]);
    floating_point(&mut b, 8, 1, 4, true);
    assert_eq!(b, data);
}

#[test]
fn odd_lengths_do_not_panic() {
    let mut b = vec![1u8; 7];
    horizontal(&mut b, 3, 5, 8, false);
    floating_point(&mut b, 5, 9, 8, false);
    swap_bytes(&mut b, 4);
    horizontal(&mut b, 0, 1, 1, false);
}
