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
///
/// Hot on every float tile, so the common shapes (1..=4 samples, 2/4/8-byte samples, rows a
/// whole number of pixels) take loops that keep the running sums in registers and un-shuffle
/// with fixed plane counts; anything else takes the plain byte-at-a-time loop ([`fp_generic`]).
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
    let fast = matches!(size, 2 | 4 | 8)
        && matches!(samples, 1..=4)
        && row_bytes.is_multiple_of(samples * size);
    for row in buf.chunks_exact_mut(row_bytes) {
        match (fast, encode) {
            (true, false) => {
                match samples {
                    1 => prefix_sum::<1>(row, &mut tmp),
                    2 => prefix_sum::<2>(row, &mut tmp),
                    3 => prefix_sum::<3>(row, &mut tmp),
                    _ => prefix_sum::<4>(row, &mut tmp),
                }
                match size {
                    2 => unshuffle::<2>(&tmp, row),
                    4 => unshuffle::<4>(&tmp, row),
                    _ => unshuffle::<8>(&tmp, row),
                }
            }
            (true, true) => {
                match size {
                    2 => shuffle::<2>(row, &mut tmp),
                    4 => shuffle::<4>(row, &mut tmp),
                    _ => shuffle::<8>(row, &mut tmp),
                }
                difference(&tmp, row, samples);
            }
            (false, _) => fp_generic(row, &mut tmp, samples, size, encode),
        }
    }
}

/// `out[i] = input[i] + out[i - S]` (bytes, wrapping): the decode direction's differencing
/// undone, with the `S` lanes' running sums in registers rather than re-read from memory.
/// `input.len()` is a multiple of `S` (the fast path's precondition).
fn prefix_sum<const S: usize>(input: &[u8], out: &mut [u8]) {
    let mut acc = [0u8; S];
    let (ins, _) = input.as_chunks::<S>();
    let (outs, _) = out.as_chunks_mut::<S>();
    for (i, o) in ins.iter().zip(outs) {
        for lane in 0..S {
            acc[lane] = acc[lane].wrapping_add(i[lane]);
        }
        *o = acc;
    }
}

/// Byte planes (most significant first, `N` planes of `out.len() / N` bytes) back to
/// little-endian `N`-byte samples.
fn unshuffle<const N: usize>(planes: &[u8], out: &mut [u8]) {
    let (samples, _) = out.as_chunks_mut::<N>();
    let wc = samples.len();
    let plane: [&[u8]; N] =
        std::array::from_fn(|p| planes.get(p * wc..(p + 1) * wc).unwrap_or(&[]));
    if plane.iter().any(|p| p.len() != wc) {
        return; // unreachable: `planes` is as long as `out`
    }
    for (c, s) in samples.iter_mut().enumerate() {
        for b in 0..N {
            s[b] = plane[N - 1 - b][c];
        }
    }
}

/// Little-endian `N`-byte samples to byte planes, most significant first (the inverse of
/// [`unshuffle`]).
fn shuffle<const N: usize>(row: &[u8], planes: &mut [u8]) {
    let (samples, _) = row.as_chunks::<N>();
    let wc = samples.len();
    let mut chunks = planes.chunks_exact_mut(wc.max(1));
    let plane: [&mut [u8]; N] = std::array::from_fn(|_| chunks.next().unwrap_or(&mut []));
    if wc == 0 || plane.iter().any(|p| p.len() != wc) {
        return; // unreachable: `planes` is as long as `row`
    }
    for (c, s) in samples.iter().enumerate() {
        for b in 0..N {
            plane[N - 1 - b][c] = s[b];
        }
    }
}

/// `out[i] = planes[i] - planes[i - samples]` (bytes, wrapping), the first `samples` bytes
/// copied: every difference reads the un-differenced input, so this vectorises.
fn difference(planes: &[u8], out: &mut [u8], samples: usize) {
    let head = samples.min(planes.len()).min(out.len());
    out[..head].copy_from_slice(&planes[..head]);
    let tail = out.get_mut(head..).unwrap_or(&mut []);
    for ((o, cur), prev) in tail.iter_mut().zip(&planes[head..]).zip(planes) {
        *o = cur.wrapping_sub(*prev);
    }
}

/// The byte-at-a-time form of [`floating_point`] for one row, exactly libtiff's loops: any
/// sample count and size, and rows that are not a whole number of pixels (trailing bytes
/// are differenced but not shuffled).
fn fp_generic(row: &mut [u8], tmp: &mut [u8], samples: usize, size: usize, encode: bool) {
    let row_bytes = row.len();
    let wc = row_bytes / size;
    if encode {
        tmp.copy_from_slice(row);
        for count in 0..wc {
            for byte in 0..size {
                tmp[(size - byte - 1) * wc + count] = row[size * count + byte];
            }
        }
        for i in (samples..row_bytes).rev() {
            tmp[i] = tmp[i].wrapping_sub(tmp[i - samples]);
        }
        row.copy_from_slice(tmp);
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
                for width in [1usize, 2, 3, 7, 33, 257] {
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
}
