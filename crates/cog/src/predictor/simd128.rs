//! The floating-point predictor's decode loop in wasm32 SIMD (simd128), for the Worker and
//! the browser renderer.
//!
//! Why by hand: LLVM vectorises the portable 16-sample loop (`accumulate_unshuffle_x16`)
//! well for x86-64, but for wasm32 it builds the shifted and carried vectors lane by lane
//! and sums each plane's start byte by byte. Written with the intrinsics, a float32 tile's
//! 256 rows took ~0.065 ms in V8 against ~0.26 ms (one 256-byte-per-plane row set, timed in
//! Node), a fifth of the Rust time of a DEM tile in the Worker. The intrinsics are safe
//! functions once simd128 is on at compile time (`.cargo/config.toml`), and `bytemuck` moves
//! bytes in and out of vectors without `unsafe`.

use core::arch::wasm32::{i8x16_add, i8x16_shuffle, u8x16_splat, v128};

/// [`super::accumulate_unshuffle`] for `S` interleaved samples (1, 2 or 4) of `N`-byte
/// values (2 or 4), 16 bytes of each plane at a time: the same bytes as the scalar loop.
/// `planes.len() == out.len()`, a multiple of `16 * N`. Returns `false`, writing nothing,
/// for any other shape, which the caller then runs through the portable loop.
pub(super) fn accumulate_unshuffle<const S: usize, const N: usize>(
    planes: &[u8],
    out: &mut [u8],
) -> bool {
    let wc = out.len() / N;
    let shape_ok = matches!(S, 1 | 2 | 4) && matches!(N, 2 | 4);
    if !shape_ok || planes.len() != out.len() || !wc.is_multiple_of(16) {
        return false;
    }
    let plane: [&[[u8; 16]]; N] = std::array::from_fn(|p| {
        planes
            .get(p * wc..(p + 1) * wc)
            .map_or(&[][..], |bytes| bytes.as_chunks::<16>().0)
    });
    // Each plane's running sums start from the wrapping sum of all the planes before it
    // (the differencing runs on from one plane into the next), lane by lane.
    let mut carry = [u8x16_splat(0); N];
    for p in 1..N {
        let mut total = u8x16_splat(0);
        for chunk in plane[p - 1] {
            total = i8x16_add(total, bytemuck::cast(*chunk));
        }
        // Fold the 16 lanes into the `S` lanes of one sample (lane j adds to j % S), then
        // continue from the previous plane's start.
        let mut sums = fold_lanes::<S>(total);
        sums = i8x16_add(sums, carry[p - 1]);
        carry[p] = sums;
    }
    let (outs, _) = out.as_chunks_mut::<16>();
    let (groups, _) = outs.as_chunks_mut::<N>();
    for (i, group) in groups.iter_mut().enumerate() {
        let mut sums = [u8x16_splat(0); N];
        for p in 0..N {
            let Some(bytes) = plane[p].get(i) else {
                return true; // unreachable: every plane has `wc / 16` chunks
            };
            // Log-step prefix sum over lanes `S` apart, plus what the previous 16 carried.
            let mut x: v128 = bytemuck::cast(*bytes);
            let mut k = S;
            while k < 16 {
                x = i8x16_add(x, shift_up(x, k));
                k *= 2;
            }
            x = i8x16_add(x, carry[p]);
            carry[p] = last_sample::<S>(x);
            sums[p] = x;
        }
        interleave::<N>(&sums, group);
    }
    true
}

/// `x` moved up by `k` lanes (1, 2, 4 or 8), zeros shifted in.
#[inline(always)]
fn shift_up(x: v128, k: usize) -> v128 {
    let z = u8x16_splat(0);
    match k {
        1 => i8x16_shuffle::<16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14>(x, z),
        2 => i8x16_shuffle::<16, 17, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13>(x, z),
        4 => i8x16_shuffle::<16, 17, 18, 19, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11>(x, z),
        _ => i8x16_shuffle::<16, 17, 18, 19, 20, 21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7>(x, z),
    }
}

/// The last `S` lanes repeated across the vector: each lane's running sum so far.
#[inline(always)]
fn last_sample<const S: usize>(x: v128) -> v128 {
    match S {
        1 => i8x16_shuffle::<15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15>(x, x),
        2 => i8x16_shuffle::<14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15>(x, x),
        _ => i8x16_shuffle::<12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15>(x, x),
    }
}

/// Every lane `j` holds the wrapping sum of the lanes `i` of `x` with `i % S == j % S`.
#[inline(always)]
fn fold_lanes<const S: usize>(x: v128) -> v128 {
    // Adding the vector rotated by 8, 4, 2, 1 lanes (down to S) sums each residue class.
    let mut x = i8x16_add(
        x,
        i8x16_shuffle::<8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7>(x, x),
    );
    if S < 8 {
        x = i8x16_add(
            x,
            i8x16_shuffle::<4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3>(x, x),
        );
    }
    if S < 4 {
        x = i8x16_add(
            x,
            i8x16_shuffle::<2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1>(x, x),
        );
    }
    if S < 2 {
        x = i8x16_add(
            x,
            i8x16_shuffle::<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0>(x, x),
        );
    }
    x
}

/// 16 little-endian `N`-byte samples from their planes, most significant first:
/// `out[j][N - 1 - p] = planes[p][j]`, as byte zips and whole-vector stores.
#[inline(always)]
fn interleave<const N: usize>(planes: &[v128; N], out: &mut [[u8; 16]; N]) {
    match (planes.as_slice(), out.as_mut_slice()) {
        ([p0, p1], [o0, o1]) => {
            *o0 = bytemuck::cast(zip_lo::<1>(*p1, *p0));
            *o1 = bytemuck::cast(zip_hi::<1>(*p1, *p0));
        }
        ([p0, p1, p2, p3], [o0, o1, o2, o3]) => {
            let (low_lo, low_hi) = (zip_lo::<1>(*p3, *p2), zip_hi::<1>(*p3, *p2));
            let (high_lo, high_hi) = (zip_lo::<1>(*p1, *p0), zip_hi::<1>(*p1, *p0));
            *o0 = bytemuck::cast(zip_lo::<2>(low_lo, high_lo));
            *o1 = bytemuck::cast(zip_hi::<2>(low_lo, high_lo));
            *o2 = bytemuck::cast(zip_lo::<2>(low_hi, high_hi));
            *o3 = bytemuck::cast(zip_hi::<2>(low_hi, high_hi));
        }
        _ => {} // unreachable: `accumulate_unshuffle` only takes N = 2 or 4
    }
}

/// `W`-byte units of the low halves of `a` and `b`, alternating: a0 b0 a1 b1 ...
#[inline(always)]
fn zip_lo<const W: usize>(a: v128, b: v128) -> v128 {
    match W {
        1 => i8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(a, b),
        _ => i8x16_shuffle::<0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23>(a, b),
    }
}

/// As [`zip_lo`], for the high halves.
#[inline(always)]
fn zip_hi<const W: usize>(a: v128, b: v128) -> v128 {
    match W {
        1 => i8x16_shuffle::<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(a, b),
        _ => i8x16_shuffle::<8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31>(a, b),
    }
}
