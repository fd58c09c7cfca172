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
    let whole_pixels = row_bytes.is_multiple_of(samples.max(1) * size.max(1));
    if !encode && (1..=4).contains(&samples) && matches!(size, 1 | 2 | 4 | 8) && whole_pixels {
        for row in buf.chunks_exact_mut(row_bytes) {
            match (samples, size) {
                (1, 1) => accumulate::<1, u8>(row),
                (2, 1) => accumulate::<2, u8>(row),
                (3, 1) => accumulate::<3, u8>(row),
                (4, 1) => accumulate::<4, u8>(row),
                (1, 2) => accumulate::<1, u16>(row),
                (2, 2) => accumulate::<2, u16>(row),
                (3, 2) => accumulate::<3, u16>(row),
                (4, 2) => accumulate::<4, u16>(row),
                (1, 4) => accumulate::<1, u32>(row),
                (2, 4) => accumulate::<2, u32>(row),
                (3, 4) => accumulate::<3, u32>(row),
                (4, 4) => accumulate::<4, u32>(row),
                (1, _) => accumulate::<1, u64>(row),
                (2, _) => accumulate::<2, u64>(row),
                (3, _) => accumulate::<3, u64>(row),
                _ => accumulate::<4, u64>(row),
            }
        }
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

/// A sample type [`accumulate`] adds in: `u8`..`u64`, little-endian in the buffer.
trait Sample: Copy + Default {
    const SIZE: usize;
    fn load(bytes: &[u8]) -> Self;
    fn store(self, bytes: &mut [u8]);
    fn wrapping_add(self, other: Self) -> Self;
}

macro_rules! sample {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn load(bytes: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&bytes[..Self::SIZE]);
                <$t>::from_le_bytes(a)
            }
            #[inline(always)]
            fn store(self, bytes: &mut [u8]) {
                bytes[..Self::SIZE].copy_from_slice(&self.to_le_bytes());
            }
            #[inline(always)]
            fn wrapping_add(self, other: Self) -> Self {
                <$t>::wrapping_add(self, other)
            }
        }
    )*};
}
sample!(u8, u16, u32, u64);

/// Decoding one row of [`horizontal`] for `S` samples of type `T` per pixel, the running
/// sums held in registers: the generic loop re-reads each left neighbour from memory and
/// goes through u64, which made it a tenth of a multispectral tile's CPU time (measured).
/// A trailing partial pixel is left as it is, as libtiff does.
fn accumulate<const S: usize, T: Sample>(row: &mut [u8]) {
    let mut acc = [T::default(); S];
    for pixel in row.chunks_exact_mut(S * T::SIZE) {
        for (lane, sample) in pixel.chunks_exact_mut(T::SIZE).enumerate() {
            let Some(a) = acc.get_mut(lane) else { return };
            *a = a.wrapping_add(T::load(sample));
            a.store(sample);
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
                tmp.copy_from_slice(row);
                let chunked = row_bytes.is_multiple_of(16 * size);
                match (samples, size, chunked) {
                    (1, 2, true) => unshuffle_x16::<1, 2>(&tmp, row),
                    (1, 4, true) => unshuffle_x16::<1, 4>(&tmp, row),
                    (2, 2, true) => unshuffle_x16::<2, 2>(&tmp, row),
                    (2, 4, true) => unshuffle_x16::<2, 4>(&tmp, row),
                    (4, 2, true) => unshuffle_x16::<4, 2>(&tmp, row),
                    (4, 4, true) => unshuffle_x16::<4, 4>(&tmp, row),
                    (1, 2, _) => accumulate_unshuffle::<1, 2>(&tmp, row),
                    (1, 4, _) => accumulate_unshuffle::<1, 4>(&tmp, row),
                    (1, 8, _) => accumulate_unshuffle::<1, 8>(&tmp, row),
                    (2, 2, _) => accumulate_unshuffle::<2, 2>(&tmp, row),
                    (2, 4, _) => accumulate_unshuffle::<2, 4>(&tmp, row),
                    (2, 8, _) => accumulate_unshuffle::<2, 8>(&tmp, row),
                    (3, 2, _) => accumulate_unshuffle::<3, 2>(&tmp, row),
                    (3, 4, _) => accumulate_unshuffle::<3, 4>(&tmp, row),
                    (3, 8, _) => accumulate_unshuffle::<3, 8>(&tmp, row),
                    (_, 2, _) => accumulate_unshuffle::<4, 2>(&tmp, row),
                    (_, 4, _) => accumulate_unshuffle::<4, 4>(&tmp, row),
                    _ => accumulate_unshuffle::<4, 8>(&tmp, row),
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

/// The decode direction in one pass: undoes the byte differencing (`plane[i] += plane[i -
/// S]`, wrapping, running on from one plane into the next) and un-shuffles the `N` planes
/// (most significant first) into little-endian `N`-byte samples in `out`.
///
/// Why not "prefix sum, then un-shuffle": the running sum is one serial chain through the
/// whole row (one byte per cycle at best). But each plane's starting sum is just the
/// wrapping sum of everything before it, which a vectorised pass computes cheaply; with
/// those known the `N * S` chains are independent and advance side by side, and each
/// sample is written whole, with no intermediate buffer. About 4x faster for float32.
/// `planes.len() == out.len()`, a multiple of `S * N` (the fast path's precondition).
fn accumulate_unshuffle<const S: usize, const N: usize>(planes: &[u8], out: &mut [u8]) {
    let wc = out.len() / N;
    if planes.len() != out.len() || !wc.is_multiple_of(S) {
        return; // unreachable: see the precondition
    }
    let plane: [&[[u8; S]]; N] = std::array::from_fn(|p| {
        planes
            .get(p * wc..(p + 1) * wc)
            .map_or(&[][..], |bytes| bytes.as_chunks::<S>().0)
    });
    // acc[p][lane]: the running sum at the start of plane p.
    let mut acc = [[0u8; S]; N];
    for p in 1..N {
        let mut sum = acc[p - 1];
        for chunk in plane[p - 1] {
            for lane in 0..S {
                sum[lane] = sum[lane].wrapping_add(chunk[lane]);
            }
        }
        acc[p] = sum;
    }
    let (samples, _) = out.as_chunks_mut::<N>();
    let (pixels, _) = samples.as_chunks_mut::<S>();
    for (i, pixel) in pixels.iter_mut().enumerate() {
        for p in 0..N {
            let Some(bytes) = plane[p].get(i) else { return };
            for lane in 0..S {
                acc[p][lane] = acc[p][lane].wrapping_add(bytes[lane]);
                pixel[lane][N - 1 - p] = acc[p][lane];
            }
        }
    }
}

/// The 16-sample loop: by hand in simd128 on wasm32 ([`simd128`]), else the portable one.
#[inline(always)]
fn unshuffle_x16<const S: usize, const N: usize>(planes: &[u8], out: &mut [u8]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if simd128::accumulate_unshuffle::<S, N>(planes, out) {
        return;
    }
    accumulate_unshuffle_x16::<S, N>(planes, out);
}

/// [`accumulate_unshuffle`] 16 samples at a time, written so the compiler vectorises it
/// (SSE2 on x86-64; wasm32 with simd128 takes [`simd128`]'s intrinsics instead, since LLVM
/// vectorised this form poorly there, and keeps this one as its fallback): each plane's 16 bytes get their running sums in four
/// shift-and-add steps (a log-step prefix sum, lanes `S` apart), plus the sums carried from
/// the previous 16. Measured on a float32 tile row set: ~0.7x the time of the scalar fused
/// loop, ~0.3x the time of "prefix sum, then un-shuffle". (For 8-byte samples the scalar loop
/// was as fast, so they stay there.) Rows are a whole number of 16-sample chunks, and
/// `16 % S == 0` so a lane's carry is at the same place in every chunk.
#[inline(never)] // inlined into the 18-way match it was left scalar (measured)
fn accumulate_unshuffle_x16<const S: usize, const N: usize>(planes: &[u8], out: &mut [u8]) {
    let wc = out.len() / N;
    if planes.len() != out.len() || !wc.is_multiple_of(16) || 16 % S != 0 {
        return; // unreachable: see the precondition
    }
    let plane: [&[[u8; 16]]; N] = std::array::from_fn(|p| {
        planes
            .get(p * wc..(p + 1) * wc)
            .map_or(&[][..], |bytes| bytes.as_chunks::<16>().0)
    });
    let mut start = [[0u8; S]; N];
    for p in 1..N {
        let mut sum = start[p - 1];
        for chunk in plane[p - 1] {
            for (j, b) in chunk.iter().enumerate() {
                sum[j % S] = sum[j % S].wrapping_add(*b);
            }
        }
        start[p] = sum;
    }
    // carry[p][j]: the running sum of lane `j % S` of plane p so far.
    let mut carry: [[u8; 16]; N] =
        std::array::from_fn(|p| std::array::from_fn(|j| start[p][j % S]));
    let (outs, _) = out.as_chunks_mut::<16>();
    let (groups, _) = outs.as_chunks_mut::<N>();
    for (i, group) in groups.iter_mut().enumerate() {
        let mut sums = [[0u8; 16]; N];
        for p in 0..N {
            let Some(bytes) = plane[p].get(i) else { return };
            let mut x = *bytes;
            let mut k = S;
            while k < 16 {
                let mut shifted = [0u8; 16];
                // An index loop, not `copy_from_slice`: this form becomes one byte-shift
                // instruction, the slice copy a call to memcpy.
                #[allow(clippy::manual_memcpy)] // see above: memcpy is the slow form here
                for j in k..16 {
                    shifted[j] = x[j - k];
                }
                for j in 0..16 {
                    x[j] = x[j].wrapping_add(shifted[j]);
                }
                k *= 2;
            }
            for j in 0..16 {
                x[j] = x[j].wrapping_add(carry[p][j]);
            }
            carry[p] = std::array::from_fn(|j| x[16 - S + j % S]);
            sums[p] = x;
        }
        let flat = group.as_flattened_mut();
        for j in 0..16 {
            for p in 0..N {
                flat[N * j + (N - 1 - p)] = sums[p][j];
            }
        }
    }
}

/// Little-endian `N`-byte samples to byte planes, most significant first (the inverse of
/// [`accumulate_unshuffle`]'s un-shuffling).
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

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(test)]
mod tests;
