//! TIFF predictors, shared by the writer and the reader. All functions work in place on
//! little-endian sample buffers, one row (`row_bytes`) at a time, exactly as libtiff does: a
//! predictor never crosses a row boundary, so each row can be undone independently.
//!
//! They never panic: a trailing partial row is left untouched, and sample sizes other than
//! 1, 2, 4 and 8 bytes are rejected by the callers before getting here.

/// Undoes (`decode`) or applies (`encode`) horizontal differencing (Predictor 2): each sample
/// minus the same band's sample one pixel to the left, with wrapping integer arithmetic at the
/// sample's width.
pub(crate) fn horizontal(
    buf: &mut [u8],
    row_bytes: usize,
    samples: usize,
    size: usize,
    encode: bool,
) {
    if row_bytes == 0 {
        return;
    }
    for row in buf.chunks_exact_mut(row_bytes) {
        match size {
            1 => horizontal_row::<1>(row, samples, encode, |b| u64::from(b[0]), |v| [v as u8]),
            2 => horizontal_row::<2>(
                row,
                samples,
                encode,
                |b| u64::from(u16::from_le_bytes(b)),
                |v| (v as u16).to_le_bytes(),
            ),
            4 => horizontal_row::<4>(
                row,
                samples,
                encode,
                |b| u64::from(u32::from_le_bytes(b)),
                |v| (v as u32).to_le_bytes(),
            ),
            8 => horizontal_row::<8>(row, samples, encode, u64::from_le_bytes, u64::to_le_bytes),
            _ => {}
        }
    }
}

/// One row of [`horizontal`] for `N`-byte samples. Values are carried in a u64 and truncated
/// back to `N` bytes by `put`, which makes the add/subtract wrap at the sample width.
fn horizontal_row<const N: usize>(
    row: &mut [u8],
    samples: usize,
    encode: bool,
    get: impl Fn([u8; N]) -> u64,
    put: impl Fn(u64) -> [u8; N],
) {
    let stride = samples * N;
    let n = row.len() / N * N;
    if stride == 0 || n <= stride {
        return;
    }
    let read = |row: &[u8], at: usize| -> u64 {
        let mut a = [0u8; N];
        a.copy_from_slice(&row[at..at + N]);
        get(a)
    };
    if encode {
        // Right to left, so each difference uses the original left neighbour.
        let mut at = n - N;
        while at >= stride {
            let v = read(row, at).wrapping_sub(read(row, at - stride));
            row[at..at + N].copy_from_slice(&put(v));
            at -= N;
        }
    } else {
        let mut at = stride;
        while at + N <= n {
            let v = read(row, at).wrapping_add(read(row, at - stride));
            row[at..at + N].copy_from_slice(&put(v));
            at += N;
        }
    }
}

/// Floating-point predictor (Predictor 3, libtiff's `fpDiff`/`fpAcc`): within each row the
/// samples' bytes are split into planes, most significant byte first, and the planes are then
/// byte-wise differenced with a stride of `samples`. The shuffled layout is the same whatever
/// the file's byte order, so decoding yields little-endian samples directly.
pub(crate) fn floating_point(
    buf: &mut [u8],
    row_bytes: usize,
    samples: usize,
    size: usize,
    encode: bool,
) {
    if row_bytes == 0 || size == 0 || samples == 0 {
        return;
    }
    let mut tmp = vec![0u8; row_bytes];
    let wc = row_bytes / size;
    for row in buf.chunks_exact_mut(row_bytes) {
        if encode {
            for count in 0..wc {
                for byte in 0..size {
                    tmp[(size - byte - 1) * wc + count] = row[size * count + byte];
                }
            }
            for i in (samples..row_bytes).rev() {
                tmp[i] = tmp[i].wrapping_sub(tmp[i - samples]);
            }
            row.copy_from_slice(&tmp);
        } else {
            for i in samples..row_bytes {
                row[i] = row[i].wrapping_add(row[i - samples]);
            }
            tmp.copy_from_slice(row);
            for count in 0..wc {
                for byte in 0..size {
                    row[size * count + byte] = tmp[(size - byte - 1) * wc + count];
                }
            }
        }
    }
}

/// Reverses the byte order of every `size`-byte sample (big-endian file -> little-endian).
pub(crate) fn swap_bytes(buf: &mut [u8], size: usize) {
    if size > 1 {
        for s in buf.chunks_exact_mut(size) {
            s.reverse();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn odd_lengths_do_not_panic() {
        let mut b = vec![1u8; 7];
        horizontal(&mut b, 3, 5, 8, false);
        floating_point(&mut b, 5, 9, 8, false);
        swap_bytes(&mut b, 4);
        horizontal(&mut b, 0, 1, 1, false);
    }
}
