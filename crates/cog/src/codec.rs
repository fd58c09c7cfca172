//! Compression codecs, pure Rust so they build for wasm32.
//!
//! Decoders write into a caller-sized output buffer and stop when it is full, so hostile data
//! (a zip bomb, an LZW stream without an end code, a zstd frame of RLE blocks) can never make
//! them allocate or loop past the size the TIFF header promised. Extra decoded bytes are
//! ignored, as libtiff does; *missing* bytes are reported by returning a short count and the
//! caller decides whether that is an error.

use std::io::Read;

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use crate::CogError;
use crate::write::Compression;

/// TIFF Compression tag values.
pub(crate) const NONE: u16 = 1;
pub(crate) const LZW: u16 = 5;
pub(crate) const DEFLATE: u16 = 8;
pub(crate) const DEFLATE_OLD: u16 = 32946;
pub(crate) const PACKBITS: u16 = 32773;
/// GDAL's (and libtiff's) unofficial code for ZSTD.
pub(crate) const ZSTD: u16 = 50000;

/// Deflate level for data that went through the floating-point predictor: its byte planes
/// leave little for lazy matching to find. Measured on DEM tiles with libdeflate, level 1
/// output is ~1.5% larger than level 6 at about twice the speed.
pub(crate) const FLOAT_DEFLATE_LEVEL: u8 = 1;
/// Deflate level for 8-bit samples (imagery). Measured with `bench/ingest.sh`'s 8192² RGB
/// scene (horizontal predictor, internal mask), total ingest time and size against GDAL's
/// level-6 output: level 6 0.78x time / 0.90x size, level 5 0.70x / 0.90x, level 1 0.54x /
/// 0.95x. Level 1 keeps the output smaller than GDAL's at half the time.
pub(crate) const BYTE_DEFLATE_LEVEL: u8 = 1;
/// zlib's and GDAL's default deflate level.
pub(crate) const DEFAULT_DEFLATE_LEVEL: u8 = 6;

/// How hard to compress one tile, chosen by what its predictor left in the bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Effort {
    /// The deflate level.
    pub deflate_level: u8,
    /// ZSTD made for fast decoding: raw literals, longer matches (see [`zstd_compress`]).
    pub zstd_fast_decode: bool,
}

impl Effort {
    /// zlib's defaults and full ZSTD: masks and anything without a tuned choice.
    pub const DEFAULT: Effort = Effort {
        deflate_level: DEFAULT_DEFLATE_LEVEL,
        zstd_fast_decode: false,
    };
}

pub(crate) fn compress(c: Compression, data: &[u8], effort: Effort) -> Result<Vec<u8>, CogError> {
    Ok(match c {
        Compression::None => data.to_vec(),
        Compression::Deflate => deflate(data, effort.deflate_level)?,
        Compression::Lzw => weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(data)
            .map_err(|e| CogError::Format(format!("LZW encoding failed: {e}")))?,
        Compression::Zstd => zstd_compress(data, effort.zstd_fast_decode)?,
    })
}

/// zlib-wrapped deflate at `level`.
///
/// Pure Rust (miniz_oxide) by default, so the writer builds for wasm32 (GeoTIFF tile responses).
#[cfg(not(all(feature = "libdeflate", not(target_arch = "wasm32"))))]
fn deflate(data: &[u8], level: u8) -> Result<Vec<u8>, CogError> {
    Ok(miniz_oxide::deflate::compress_to_vec_zlib(data, level))
}

/// zlib-wrapped deflate at `level` through libdeflate (C), for ingest.
///
/// Why a C library here: ingest spends most of its time compressing tiles, and libdeflate is
/// about 4x faster than miniz_oxide at the same level and size (measured on DEM tiles with the
/// float predictor); GDAL uses it too, so without it we could not beat GDAL's wall time.
#[cfg(all(feature = "libdeflate", not(target_arch = "wasm32")))]
fn deflate(data: &[u8], level: u8) -> Result<Vec<u8>, CogError> {
    use std::cell::RefCell;
    thread_local! {
        // A compressor holds ~hundreds of KB of tables: one per thread and level, not one per
        // tile.
        static COMPRESSORS: RefCell<Vec<(u8, libdeflater::Compressor)>> = const { RefCell::new(Vec::new()) };
    }
    let lvl = libdeflater::CompressionLvl::new(i32::from(level))
        .map_err(|_| CogError::Usage(format!("deflate level {level} is not 0-12")))?;
    COMPRESSORS.with(|cell| {
        let mut all = cell.borrow_mut();
        let i = match all.iter().position(|(l, _)| *l == level) {
            Some(i) => i,
            None => {
                all.push((level, libdeflater::Compressor::new(lvl)));
                all.len() - 1
            }
        };
        let Some((_, compressor)) = all.get_mut(i) else {
            return Err(CogError::Usage("deflate compressor cache".into()));
        };
        let mut out = vec![0u8; compressor.zlib_compress_bound(data.len())];
        let n = compressor
            .zlib_compress(data, &mut out)
            .map_err(|e| CogError::Format(format!("deflate failed: {e}")))?;
        out.truncate(n);
        Ok(out)
    })
}

/// A human name for a TIFF compression code, for `Unsupported` messages.
pub(crate) fn compression_name(code: u16) -> String {
    let name = match code {
        2 => "CCITT RLE",
        3 => "CCITT Group 3 fax",
        4 => "CCITT Group 4 fax",
        6 => "old-style JPEG",
        7 => "JPEG",
        32809 => "ThunderScan",
        32908 | 32909 => "Pixar log",
        34661 => "JBIG",
        34676 | 34677 => "SGI LogLuv",
        34712 => "JPEG 2000",
        34887 => "LERC",
        34892 => "lossy JPEG (DNG)",
        34925 => "LZMA",
        50001 => "WebP",
        50002 | 52546 => "JPEG XL",
        _ => return format!("compression {code}"),
    };
    format!("{name} compression")
}

/// Whether libtiff applies the Predictor tag for this compression: the predictor lives in
/// the LZW/Deflate/ZSTD codecs, so for uncompressed or PackBits data it is ignored.
pub(crate) fn uses_predictor(code: u16) -> bool {
    matches!(code, LZW | DEFLATE | DEFLATE_OLD | ZSTD)
}

/// Decompresses `input` into `out`; returns how many bytes of `out` were produced.
pub(crate) fn decompress_into(code: u16, input: &[u8], out: &mut [u8]) -> Result<usize, CogError> {
    match code {
        NONE => {
            let n = input.len().min(out.len());
            out[..n].copy_from_slice(&input[..n]);
            Ok(n)
        }
        DEFLATE | DEFLATE_OLD => inflate(input, out),
        LZW => lzw(input, out),
        PACKBITS => Ok(packbits(input, out)),
        ZSTD => zstd(input, out),
        other => Err(CogError::Unsupported(compression_name(other))),
    }
}

/// Inflate through libdeflate first where the `libdeflate` feature is on (native hosts:
/// ingest, the native server): it is about 3x faster than miniz_oxide, and decoding is most
/// of a tile's CPU. Anything it does not accept as a plain success (a stream that decodes
/// past the tile's size, a truncated or corrupt one) goes through miniz_oxide below, so the
/// results and error messages stay exactly those of the pure-Rust path.
#[cfg(all(feature = "libdeflate", not(target_arch = "wasm32")))]
fn inflate(input: &[u8], out: &mut [u8]) -> Result<usize, CogError> {
    use std::cell::RefCell;
    thread_local! {
        static DECOMPRESSOR: RefCell<libdeflater::Decompressor> =
            RefCell::new(libdeflater::Decompressor::new());
    }
    let fast = DECOMPRESSOR.with(|d| d.borrow_mut().zlib_decompress(input, out).ok());
    match fast {
        Some(n) if n == out.len() => Ok(n),
        _ => inflate_miniz(input, out),
    }
}

/// Without libdeflate (wasm32: the Worker and the browser): fdeflate, which inflated a
/// float32 DEM tile in ~0.7x miniz_oxide's time (measured natively; both pure Rust, and
/// fdeflate is already here for PNG encoding). Anything it does not finish exactly (see
/// above) goes through miniz_oxide, for the same results and error messages.
#[cfg(not(all(feature = "libdeflate", not(target_arch = "wasm32"))))]
fn inflate(input: &[u8], out: &mut [u8]) -> Result<usize, CogError> {
    let mut decompressor = fdeflate::Decompressor::new();
    match decompressor.read(input, out, 0, true) {
        Ok((_, written)) if written == out.len() => Ok(written),
        _ => inflate_miniz(input, out),
    }
}

fn inflate_miniz(input: &[u8], out: &mut [u8]) -> Result<usize, CogError> {
    let mut state = Box::<DecompressorOxide>::default();
    let flags = inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER
        | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let (status, _, written) = decompress(&mut state, input, out, 0, flags);
    match status {
        // HasMoreOutput: `out` is full; the rest is padding we do not need.
        TINFLStatus::Done | TINFLStatus::HasMoreOutput => Ok(written),
        TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
            Err(CogError::Format(format!(
                "truncated deflate data ({written} of {} bytes decoded)",
                out.len()
            )))
        }
        TINFLStatus::Adler32Mismatch => Err(CogError::Format(
            "deflate data fails its Adler-32 checksum".into(),
        )),
        _ => Err(CogError::Format("corrupt deflate data".into())),
    }
}

fn lzw(input: &[u8], out: &mut [u8]) -> Result<usize, CogError> {
    // Pre-1991 "old-style" LZW is LSB-first and starts with 0x00 0x01; libtiff still reads
    // it but nothing has written it for decades.
    if input.len() >= 2 && input[0] == 0 && input[1] & 1 == 1 {
        return Err(CogError::Unsupported(
            "old-style (LSB-first) LZW compression".into(),
        ));
    }
    let mut dec = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
    let mut inp = input;
    let mut written = 0;
    while written < out.len() {
        let r = dec.decode_bytes(inp, &mut out[written..]);
        inp = inp.get(r.consumed_in..).unwrap_or_default();
        written += r.consumed_out;
        match r.status {
            Ok(weezl::LzwStatus::Ok) if r.consumed_in > 0 || r.consumed_out > 0 => {}
            // Done = end code; NoProgress (or Ok without progress) = input ran out without an
            // end code, which some writers omit: keep what was decoded.
            Ok(_) => break,
            Err(e) => return Err(CogError::Format(format!("corrupt LZW data: {e}"))),
        }
    }
    Ok(written)
}

fn packbits(input: &[u8], out: &mut [u8]) -> usize {
    let (mut i, mut o) = (0usize, 0usize);
    while i < input.len() && o < out.len() {
        let n = input[i] as i8;
        i += 1;
        if n >= 0 {
            // Copy the next n + 1 bytes literally.
            let len = (usize::from(n as u8) + 1)
                .min(input.len() - i)
                .min(out.len() - o);
            out[o..o + len].copy_from_slice(&input[i..i + len]);
            i += len;
            o += len;
        } else if n != -128 {
            // Repeat the next byte 1 - n times; -128 is a no-op.
            let Some(&b) = input.get(i) else { break };
            i += 1;
            let len = (1 + usize::from(n.unsigned_abs())).min(out.len() - o);
            out[o..o + len].fill(b);
            o += len;
        }
    }
    o
}

/// ZSTD level where libzstd writes (the `libzstd` feature: ingest): GDAL's default
/// `ZSTD_LEVEL`. Measured on the 4096² benchmark DEM (float predictor), whole layer:
/// level 1 59.7 MB, 3 59.0 MB, 9 58.4 MB (ingest 1.6x level 1's time), 15 57.0 MB (7x);
/// deflate 60.7 MB; ruzstd's only level, used without the feature, 70.7 MB.
#[cfg(all(feature = "libzstd", not(target_arch = "wasm32")))]
const ZSTD_LEVEL: i32 = 9;

/// ZSTD through libzstd (C): a quarter smaller than ruzstd's output on float data (above).
/// Not on wasm32: nothing there writes ZSTD (tile responses are deflate), and the compressor
/// would add ~0.4 MB to the Worker.
///
/// `fast_decode` trades a little size for decoding speed, still as a plain ZSTD frame that
/// GDAL and every reader decode: literals stay raw instead of Huffman-coded, and matches are
/// at least 6 bytes long (libzstd's level 9 takes 5), so there are fewer sequences to run.
/// Used for tiles after the floating-point predictor, whose literals are mostly the low
/// mantissa byte planes, close to random. Measured with `zstd -b9 -B262144` on such tiles
/// against the plain level 9: the corpus's real float DEMs (dem-hills, AROME) +2.2% and
/// +1.4% bytes, decoding 2.4x and 1.8x as fast; the benchmark DEM +13%, 2.4x. Decoding is
/// the edge's cost on every request (on wasm32 libzstd's Huffman decoder runs its slow
/// 32-bit paths), storage is paid once. Integer data keeps the defaults: raw literals made
/// multispectral uint16 tiles 9% larger for only 1.18x.
#[cfg(all(feature = "libzstd", not(target_arch = "wasm32")))]
fn zstd_compress(data: &[u8], fast_decode: bool) -> Result<Vec<u8>, CogError> {
    use zstd::zstd_safe::{CParameter, ParamSwitch};
    let failed = |e: std::io::Error| CogError::Format(format!("ZSTD compression failed: {e}"));
    let mut compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(failed)?;
    if fast_decode {
        compressor
            .set_parameter(CParameter::LiteralCompressionMode(ParamSwitch::Disable))
            .map_err(failed)?;
        compressor
            .set_parameter(CParameter::MinMatch(6))
            .map_err(failed)?;
    }
    compressor.compress(data).map_err(failed)
}

/// ruzstd has no such switches; `fast_decode` is libzstd's refinement only.
#[cfg(not(all(feature = "libzstd", not(target_arch = "wasm32"))))]
fn zstd_compress(data: &[u8], _fast_decode: bool) -> Result<Vec<u8>, CogError> {
    Ok(ruzstd::encoding::compress_to_vec(
        data,
        ruzstd::encoding::CompressionLevel::Fastest,
    ))
}

/// ZSTD through libzstd first where the `libzstd` feature is on (the native server, the
/// Worker and the browser renderer: libzstd builds for wasm32 with clang). On the benchmark
/// DEM stored as ZSTD, whole tiles took ~1.8x their deflate time with ruzstd decoding and
/// ~0.8x with libzstd (the replay example, level-1 frames), which is why ZSTD is ingest's
/// default and why the edge must not fall back to ruzstd for it.
/// As for inflate, anything libzstd does not finish exactly (a frame larger than the tile,
/// a corrupt or truncated one, a window over 2^27) goes through ruzstd below, so results,
/// limits and error messages stay those of the pure-Rust path.
#[cfg(feature = "libzstd")]
fn zstd(input: &[u8], out: &mut [u8]) -> Result<usize, CogError> {
    use std::cell::RefCell;
    thread_local! {
        // A decompression context holds its window; one per thread, reused.
        static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            RefCell::new(zstd::bulk::Decompressor::new().ok().and_then(|mut d| {
                d.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(27)).ok()?;
                Some(d)
            }));
    }
    let fast = DECOMPRESSOR.with(|d| {
        d.borrow_mut()
            .as_mut()
            .and_then(|d| d.decompress_to_buffer(input, &mut *out).ok())
    });
    match fast {
        Some(n) if n == out.len() => Ok(n),
        _ => zstd_ruzstd(input, out),
    }
}

#[cfg(not(feature = "libzstd"))]
fn zstd(input: &[u8], out: &mut [u8]) -> Result<usize, CogError> {
    zstd_ruzstd(input, out)
}

/// Largest ZSTD window accepted: libzstd's default `windowLogMax` (27). Memory does not
/// scale with the window (ruzstd grows its buffer as data is decoded, and decoding stops once
/// the frame is known to be longer than the tile); the cap only rejects absurd headers.
const ZSTD_MAX_WINDOW: u64 = 1 << 27;

fn zstd_ruzstd(input: &[u8], out: &mut [u8]) -> Result<usize, CogError> {
    let err = |e: &dyn std::fmt::Display| CogError::Format(format!("corrupt ZSTD data: {e}"));
    let mut dec = FrameDecoder::new();
    dec.set_max_window_size(ZSTD_MAX_WINDOW);
    let mut src = input;
    dec.reset(&mut src).map_err(|e| match e {
        ruzstd::decoding::errors::FrameDecoderError::WindowSizeTooBig { requested, max } => {
            CogError::Limits(format!(
                "ZSTD window of {requested} bytes exceeds the {max}-byte limit"
            ))
        }
        e => err(&e),
    })?;
    const STEP: usize = 1 << 16;
    let mut written = 0;
    // Lower bound of the bytes decoded so far: each unfinished `decode_blocks` call below
    // decodes at least STEP bytes (and at most STEP plus one 128 KiB block).
    let mut decoded = 0usize;
    while written < out.len() {
        let finished = dec
            .decode_blocks(&mut src, BlockDecodingStrategy::UptoBytes(STEP))
            .map_err(|e| err(&e))?;
        // Until the frame ends, ruzstd only releases bytes older than the window.
        loop {
            let n = dec.read(&mut out[written..]).map_err(|e| err(&e))?;
            written += n;
            if n == 0 || written == out.len() || !finished {
                break;
            }
        }
        if finished {
            break;
        }
        decoded += STEP;
        if decoded > out.len() + (1 << 17) && written < out.len() {
            // The frame is longer than the tile and its window holds back the bytes we
            // need: refuse rather than buffer an unbounded frame.
            return Err(CogError::Format(format!(
                "ZSTD frame decodes to more than the expected {} bytes",
                out.len()
            )));
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i / 7 % 256) as u8).collect();
        for c in [
            Compression::None,
            Compression::Deflate,
            Compression::Lzw,
            Compression::Zstd,
        ] {
            let code = match c {
                Compression::None => NONE,
                Compression::Deflate => DEFLATE,
                Compression::Lzw => LZW,
                Compression::Zstd => ZSTD,
            };
            let efforts = [(FLOAT_DEFLATE_LEVEL, true), (DEFAULT_DEFLATE_LEVEL, false)];
            for (deflate_level, zstd_fast_decode) in efforts {
                let effort = Effort {
                    deflate_level,
                    zstd_fast_decode,
                };
                let packed = compress(c, &data, effort).unwrap_or_default();
                let mut out = vec![0u8; data.len()];
                assert_eq!(
                    decompress_into(code, &packed, &mut out),
                    Ok(data.len()),
                    "{c:?} {effort:?}"
                );
                assert_eq!(out, data, "{c:?} {effort:?}");
            }
            // A smaller output buffer is simply filled.
            let packed = compress(c, &data, Effort::DEFAULT).unwrap_or_default();
            let mut small = vec![0u8; 1000];
            assert_eq!(
                decompress_into(code, &packed, &mut small),
                Ok(1000),
                "{c:?}"
            );
            assert_eq!(small[..], data[..1000]);
        }
    }

    #[test]
    fn packbits_known_vector() {
        // The example from the TIFF 6.0 specification.
        let packed = [
            0xFEu8, 0xAA, 0x02, 0x80, 0x00, 0x2A, 0xFD, 0xAA, 0x03, 0x80, 0x00, 0x2A, 0x22, 0xF7,
            0xAA,
        ];
        let want = [
            0xAAu8, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0xAA, 0xAA, 0xAA, 0xAA, 0x80, 0x00, 0x2A, 0x22,
            0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA,
        ];
        let mut out = [0u8; 24];
        assert_eq!(packbits(&packed, &mut out), 24);
        assert_eq!(out, want);
    }

    #[test]
    fn garbage_is_an_error_or_short() {
        let junk: Vec<u8> = (0..300u32).map(|i| (i * 151 % 256) as u8).collect();
        for code in [DEFLATE, LZW, ZSTD, PACKBITS] {
            let mut out = vec![0u8; 4096];
            if let Ok(n) = decompress_into(code, &junk, &mut out) {
                assert!(n <= out.len());
            }
        }
        let mut out = [0u8; 4];
        assert!(
            matches!(decompress_into(34887, &junk, &mut out), Err(CogError::Unsupported(m)) if m.contains("LERC"))
        );
    }

    /// The fast-decode switches reach libzstd: its frames keep literals raw (by the block's
    /// own header), so on literals with a skewed alphabet (what Huffman coding is for) they
    /// are larger, and they still decode.
    #[cfg(all(feature = "libzstd", not(target_arch = "wasm32")))]
    #[test]
    fn zstd_fast_decode_skips_huffman() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // 64-byte runs, every other one repeating an earlier run (matches for both modes),
        // the rest four random bits per byte (literals Huffman codes in about half a byte).
        let mut data: Vec<u8> = Vec::with_capacity(100_000);
        while data.len() < 100_000 {
            if data.len() >= 4096 && next() % 2 == 0 {
                let from = (next() % 4000) as usize;
                data.extend_from_within(from..from + 64);
            } else {
                data.extend((0..64).map(|_| (next() >> 60) as u8));
            }
        }
        let raw = Effort {
            zstd_fast_decode: true,
            ..Effort::DEFAULT
        };
        let huffman = compress(Compression::Zstd, &data, Effort::DEFAULT).unwrap();
        let plain = compress(Compression::Zstd, &data, raw).unwrap();
        assert!(
            plain.len() > huffman.len() * 11 / 10,
            "raw {} vs Huffman {}",
            plain.len(),
            huffman.len()
        );
        assert_eq!(
            first_literals_type(&huffman),
            Some(2),
            "Huffman-coded literals"
        );
        assert_eq!(first_literals_type(&plain), Some(0), "raw literals");
        let mut out = vec![0u8; data.len()];
        assert_eq!(zstd(&plain, &mut out).unwrap(), data.len());
        assert_eq!(out, data);
    }

    /// Literals_Block_Type (RFC 8878 3.1.1.3.1.1: 0 raw, 1 RLE, 2 Huffman, 3 treeless) of a
    /// ZSTD frame's first block, when that block is a compressed one.
    #[cfg(all(feature = "libzstd", not(target_arch = "wasm32")))]
    fn first_literals_type(frame: &[u8]) -> Option<u8> {
        let descriptor = *frame.get(4)?;
        let single_segment = descriptor & 0x20 != 0;
        let content_size = match descriptor >> 6 {
            0 => usize::from(single_segment),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let dictionary_id = [0, 1, 2, 4][usize::from(descriptor & 3)];
        let block = 5 + usize::from(!single_segment) + dictionary_id + content_size;
        let block_type = (frame.get(block)? >> 1) & 3;
        (block_type == 2).then(|| frame.get(block + 3).map(|b| b & 3))?
    }

    /// Both ZSTD decoders (libzstd where the feature is on, ruzstd always) read both
    /// encoders' frames to the same bytes, and a frame longer than the tile fails the same.
    #[test]
    fn zstd_decoders_agree() {
        let data: Vec<u8> = (0..200_000u32)
            .map(|i| ((i / 7) ^ (i % 251)) as u8)
            .collect();
        let ours = compress(Compression::Zstd, &data, Effort::DEFAULT).unwrap();
        let raw = Effort {
            zstd_fast_decode: true,
            ..Effort::DEFAULT
        };
        let ours_raw = compress(Compression::Zstd, &data, raw).unwrap();
        let pure = ruzstd::encoding::compress_to_vec(
            data.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        for frame in [&ours, &ours_raw, &pure] {
            let mut a = vec![0u8; data.len()];
            let mut b = vec![0u8; data.len()];
            assert_eq!(zstd(frame, &mut a).unwrap(), data.len());
            assert_eq!(zstd_ruzstd(frame, &mut b).unwrap(), data.len());
            assert!(a == data && b == data);
            let mut short = vec![0u8; 1000];
            assert_eq!(
                zstd(frame, &mut short).map_err(|e| e.to_string()),
                zstd_ruzstd(frame, &mut short).map_err(|e| e.to_string())
            );
        }
    }

    #[test]
    fn zstd_window_is_bounded() {
        // A frame header declaring a 1 GiB window (window descriptor exponent 20).
        let frame = [0x28u8, 0xB5, 0x2F, 0xFD, 0x00, 20 << 3, 0, 0, 0];
        let mut out = [0u8; 16];
        assert!(matches!(
            decompress_into(ZSTD, &frame, &mut out),
            Err(CogError::Limits(_))
        ));
    }

    #[test]
    fn zstd_bomb_stops_at_the_tile_size() {
        // 10 MiB of zeros compress to a few hundred bytes; a 64 KiB tile must not buffer it all.
        let bomb =
            compress(Compression::Zstd, &vec![0u8; 10 << 20], Effort::DEFAULT).unwrap_or_default();
        let mut out = vec![1u8; 1 << 16];
        let r = decompress_into(ZSTD, &bomb, &mut out);
        assert!(
            r == Ok(1 << 16) || matches!(r, Err(CogError::Format(_))),
            "{r:?}"
        );
    }
}
