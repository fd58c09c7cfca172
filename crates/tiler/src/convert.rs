//! Decoded tile samples to a `Block`: one monomorphised loop per sample type, only the
//! bands a request uses, validity from the nodata value, an alpha sample or a mask tile.

use tilefn_catalog::Manifest;
use tilefn_cog::read::Ifd;
use tilefn_raster::{Block, DataType, TILE_SIZE};

use crate::TileError;

const TS: usize = TILE_SIZE as usize;

/// Which of a layer's bands (at most 64, `layer::MAX_BANDS`) a request uses. Only those are
/// converted from the decoded samples, and the `Block` holds only those, in band order
/// ([`BandMask::position`] finds one); the others do not count towards a pixel's validity.
/// /tiles reads every band; /algebra only the bound ones (an NDVI over a 4-band scene
/// converts and holds 2: converting all was a tenth of its CPU time, and filling the unused
/// bands with NaN, 1 MiB a tile, another 2-4%).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BandMask(u64);

impl BandMask {
    pub const ALL: BandMask = BandMask(u64::MAX);
    pub const NONE: BandMask = BandMask(0);

    pub fn with(self, band: usize) -> BandMask {
        BandMask(self.0 | 1u64.checked_shl(band as u32).unwrap_or(0))
    }

    pub fn contains(self, band: usize) -> bool {
        band < 64 && self.0 & (1 << band) != 0
    }

    /// Where band `band` is in a `Block` read with this mask: how many wanted bands come
    /// before it. `None` when the mask does not hold it.
    pub fn position(self, band: usize) -> Option<usize> {
        self.contains(band)
            .then(|| (self.0 & ((1u64 << band) - 1)).count_ones() as usize)
    }

    /// How many of a layer's `bands` the mask holds: the band count of its `Block`s.
    pub fn count(self, bands: usize) -> usize {
        (0..bands.min(64)).filter(|b| self.contains(*b)).count()
    }
}

/// Pixel-interleaved little-endian samples of one decoded tile → a `Block`, with validity
/// from the alpha sample (when the layer has one), else the nodata value (NaN included),
/// else NaN values of float data.
pub(crate) fn to_block(
    m: &Manifest,
    ifd: &Ifd,
    raw: &[u8],
    wanted: BandMask,
    mask: Option<&[u8]>,
) -> Result<Block, TileError> {
    let dtype = ifd
        .dtype
        .ok_or_else(|| TileError::Unsupported(format!("sample format {}", ifd.sample_format)))?;
    let samples = usize::from(ifd.samples);
    let bands = m.band_count;
    if samples != bands + usize::from(m.alpha) {
        return Err(TileError::Corrupt(format!(
            "{samples} samples per pixel, the manifest says {bands} bands{}",
            if m.alpha { " + alpha" } else { "" }
        )));
    }
    let size = dtype.size();
    let n = TS * TS;
    let kept = wanted.count(bands);
    if raw.len() != n * samples * size {
        return Err(TileError::Corrupt(format!(
            "decoded tile is {} bytes",
            raw.len()
        )));
    }
    let mut block = Block {
        width: TS,
        height: TS,
        bands: kept,
        dtype,
        // Filled by pushing, not zeroed first: a 4-band tile is 2 MiB of f64, and zeroing it
        // cost as much as converting into it (measured).
        values: Vec::with_capacity(n * kept),
        valid: vec![false; n],
    };
    if let Some(mask) = mask
        && mask.len() != n
    {
        return Err(TileError::Corrupt(format!(
            "a mask tile of {} pixels",
            mask.len()
        )));
    }
    // A mask tile (one 0/1 byte per pixel, decoded) decides validity on its own, as GDAL's
    // internal masks do: the samples are then only converted, not checked against nodata.
    let layout = Layout {
        samples,
        bands,
        wanted,
        alpha: m.alpha,
        from_samples: mask.is_none(),
    };
    convert(
        dtype,
        layout,
        m.nodata,
        raw,
        &mut block.values,
        &mut block.valid,
    );
    if let Some(mask) = mask {
        for (ok, m) in block.valid.iter_mut().zip(mask) {
            *ok = *m != 0;
        }
    }
    Ok(block)
}

/// Validity of a sample value: not the nodata value (NaN matching NaN), and without a
/// nodata value not NaN. Branch-free so the per-dtype loops stay tight.
#[inline(always)]
fn is_valid(v: f64, nodata: f64) -> bool {
    !(v == nodata || (nodata.is_nan() && v.is_nan()))
}

/// Calls the generic `$fill::<N>(args.., read)` with the sample size and little-endian
/// reader of `$dtype`: one monomorphised loop per type (see [`one_band`]).
macro_rules! per_type {
    ($dtype:expr, $fill:ident($($arg:expr),*)) => {
        match $dtype {
            DataType::Uint8 => $fill::<1>($($arg),*, |b| f64::from(b[0])),
            DataType::Int8 => $fill::<1>($($arg),*, |b| f64::from(b[0] as i8)),
            DataType::Uint16 => $fill($($arg),*, |b| f64::from(u16::from_le_bytes(b))),
            DataType::Int16 => $fill($($arg),*, |b| f64::from(i16::from_le_bytes(b))),
            DataType::Uint32 => $fill($($arg),*, |b| f64::from(u32::from_le_bytes(b))),
            DataType::Int32 => $fill($($arg),*, |b| f64::from(i32::from_le_bytes(b))),
            DataType::Float32 => $fill($($arg),*, |b| f64::from(f32::from_le_bytes(b))),
            DataType::Float64 => $fill($($arg),*, f64::from_le_bytes),
        }
    };
}

/// Samples of `dtype` laid out as `layout` to band-major `values`, and their validity.
fn convert(
    dtype: DataType,
    layout: Layout,
    nodata: Option<f64>,
    raw: &[u8],
    values: &mut Vec<f64>,
    valid: &mut [bool],
) {
    tilefn_raster::vectorised(Conversion {
        dtype,
        layout,
        nodata: nodata.unwrap_or(f64::NAN),
        raw,
        values,
        valid,
    });
}

/// [`convert`]'s loops, run through `tilefn_raster::vectorised` (on AVX2 ~1.4x as fast):
/// samples of `dtype` to band-major `f64` values and their validity.
struct Conversion<'a> {
    dtype: DataType,
    layout: Layout,
    /// NaN without a nodata value.
    nodata: f64,
    raw: &'a [u8],
    values: &'a mut Vec<f64>,
    valid: &'a mut [bool],
}

impl tilefn_raster::Kernel for Conversion<'_> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let Conversion {
            dtype,
            layout,
            nodata,
            raw,
            values,
            valid,
        } = self;
        let single = layout.samples == 1 && !layout.alpha && layout.wanted.contains(0);
        if single {
            per_type!(
                dtype,
                one_band(raw, (nodata, layout.from_samples), values, valid)
            )
        } else {
            per_type!(dtype, interleaved(raw, (layout, nodata), values, valid))
        }
    }
}

/// The common single-band, no-alpha tile: one tight loop per sample type (a per-sample
/// `match` on the type, as the general loop does, costs several times more).
/// With `from_samples` false the values are only converted and `valid` is left to the
/// caller (a mask tile).
#[inline(always)]
fn one_band<const N: usize>(
    raw: &[u8],
    (nodata, from_samples): (f64, bool),
    values: &mut Vec<f64>,
    valid: &mut [bool],
    read: impl Fn([u8; N]) -> f64,
) {
    let (samples, _) = raw.as_chunks::<N>();
    let samples = &samples[..samples.len().min(valid.len())];
    values.clear();
    values.extend(samples.iter().map(|s| read(*s)));
    if from_samples {
        for (x, ok) in values.iter().zip(valid) {
            *ok = is_valid(*x, nodata);
        }
    }
}

/// Any band count, with or without an alpha sample: pixel-interleaved samples to band-major
/// values. Monomorphised per sample type and run band by band, like [`one_band`]: the
/// per-sample `match` on the type of [`DataType::read_le`] made this loop most of a
/// multispectral tile's CPU time (measured: 38% of an NDVI tile).
#[inline(always)]
fn interleaved<const N: usize>(
    raw: &[u8],
    (layout, nodata): (Layout, f64),
    values: &mut Vec<f64>,
    valid: &mut [bool],
    read: impl Fn([u8; N]) -> f64,
) {
    let Layout {
        samples,
        bands,
        wanted,
        alpha,
        from_samples,
    } = layout;
    let (cells, _) = raw.as_chunks::<N>();
    let n = valid.len();
    let pixels = || cells.chunks_exact(samples).take(n);
    values.clear();
    for b in (0..bands).filter(|b| wanted.contains(*b)) {
        values.extend(pixels().map(|pixel| pixel.get(b).map_or(f64::NAN, |s| read(*s))));
    }
    // Valid where any wanted band is not nodata, unless an alpha sample says otherwise.
    if alpha {
        for (pixel, ok) in pixels().zip(valid.iter_mut()) {
            *ok = pixel.get(bands).is_some_and(|a| read(*a) > 0.0);
        }
    } else if from_samples {
        valid.fill(false);
        for band in values.chunks_exact(n.max(1)) {
            for (x, ok) in band.iter().zip(valid.iter_mut()) {
                *ok |= is_valid(*x, nodata);
            }
        }
    }
}

/// How a decoded tile's samples are laid out, and which bands to convert.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Samples per pixel: the bands, plus one when there is an alpha sample.
    samples: usize,
    bands: usize,
    wanted: BandMask,
    alpha: bool,
    /// Validity from the samples (nodata, alpha); false when a mask tile gives it.
    from_samples: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64 bytes, with some samples forced to the nodata pattern and NaN.
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

    /// The plain per-sample form of [`interleaved`], the reference its fast loops must match.
    fn reference(
        dtype: DataType,
        samples: usize,
        bands: usize,
        alpha: bool,
        nodata: Option<f64>,
        raw: &[u8],
        block: &mut Block,
    ) {
        let size = dtype.size();
        let n = TS * TS;
        let matches_nodata = |v: f64| match nodata {
            Some(nd) if nd.is_nan() => v.is_nan(),
            Some(nd) => v == nd,
            None => v.is_nan(),
        };
        for (p, pixel) in raw.chunks_exact(samples * size).enumerate() {
            let mut all_nodata = true;
            for (b, sample) in pixel.chunks_exact(size).take(bands).enumerate() {
                let v = dtype.read_le(sample).unwrap_or(f64::NAN);
                all_nodata &= matches_nodata(v);
                if let Some(slot) = block.values.get_mut(b * n + p) {
                    *slot = v;
                }
            }
            let valid = if alpha {
                let alpha = pixel.chunks_exact(size).nth(bands);
                alpha
                    .and_then(|a| dtype.read_le(a))
                    .is_some_and(|a| a > 0.0)
            } else {
                !all_nodata
            };
            if let Some(slot) = block.valid.get_mut(p) {
                *slot = valid;
            }
        }
    }

    /// `raw` as `(samples, bands, alpha)` converted with every band wanted.
    fn converted(
        dtype: DataType,
        (samples, bands, alpha): (usize, usize, bool),
        nodata: Option<f64>,
        raw: &[u8],
    ) -> Block {
        let mut block = Block::empty(TS, TS, bands, dtype, 0.0);
        let layout = Layout {
            samples,
            bands,
            wanted: BandMask::ALL,
            alpha,
            from_samples: true,
        };
        convert(
            dtype,
            layout,
            nodata,
            raw,
            &mut block.values,
            &mut block.valid,
        );
        block
    }

    #[test]
    fn one_band_loop_matches_the_general_loop() {
        let n = TS * TS;
        for dtype in DataType::ALL {
            let size = dtype.size();
            let mut raw = random_bytes(n * size, size as u64 + 11);
            // Make the first sample's value recur, so a nodata equal to it is exercised.
            let first = raw[..size].to_vec();
            for p in (0..n).step_by(5) {
                raw[p * size..(p + 1) * size].copy_from_slice(&first);
            }
            let first_value = dtype.read_le(&first);
            for nodata in [None, Some(f64::NAN), first_value, Some(-1.0)] {
                let fast = converted(dtype, (1, 1, false), nodata, &raw);
                let mut slow = Block::empty(TS, TS, 1, dtype, 0.0);
                reference(dtype, 1, 1, false, nodata, &raw, &mut slow);
                assert_eq!(fast.valid, slow.valid, "{dtype} nodata {nodata:?}");
                let bits = |b: &Block| b.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&slow), "{dtype} nodata {nodata:?}");
            }
        }
    }

    #[test]
    fn interleaved_loop_matches_the_reference() {
        let n = TS * TS;
        for dtype in DataType::ALL {
            let size = dtype.size();
            for (samples, bands, alpha) in
                [(3, 3, false), (4, 4, false), (4, 3, true), (2, 1, true)]
            {
                let mut raw = random_bytes(n * samples * size, (size * 10 + samples) as u64);
                // Some whole pixels equal to the first sample in every band (all nodata).
                let first = raw[..size].to_vec();
                for p in (0..n).step_by(7) {
                    for s in 0..samples {
                        let at = (p * samples + s) * size;
                        raw[at..at + size].copy_from_slice(&first);
                    }
                }
                for nodata in [None, Some(f64::NAN), dtype.read_le(&first), Some(-1.0)] {
                    let fast = converted(dtype, (samples, bands, alpha), nodata, &raw);
                    let mut slow = Block::empty(TS, TS, bands, dtype, 0.0);
                    reference(dtype, samples, bands, alpha, nodata, &raw, &mut slow);
                    let what = format!("{dtype} {samples}/{bands}/{alpha} nodata {nodata:?}");
                    assert_eq!(fast.valid, slow.valid, "{what}");
                    let bits = |b: &Block| b.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&fast), bits(&slow), "{what}");
                }
            }
        }
    }

    #[test]
    fn only_wanted_bands_are_kept_and_count_towards_validity() {
        let n = TS * TS;
        let (samples, bands) = (4, 4);
        let mut raw = vec![0u8; n * samples * 2];
        // Pixel p: band 0 = 7 everywhere, bands 1 and 3 = p % 3 (0 = nodata), band 2 = 9.
        for p in 0..n {
            for (b, v) in [7u16, (p % 3) as u16, 9, (p % 3) as u16].iter().enumerate() {
                let at = (p * samples + b) * 2;
                raw[at..at + 2].copy_from_slice(&v.to_le_bytes());
            }
        }
        let wanted = BandMask::NONE.with(1).with(3);
        let layout = Layout {
            samples,
            bands,
            wanted,
            alpha: false,
            from_samples: true,
        };
        let mut block = Block::empty(TS, TS, 2, DataType::Uint16, 0.0);
        convert(
            DataType::Uint16,
            layout,
            Some(0.0),
            &raw,
            &mut block.values,
            &mut block.valid,
        );
        assert_eq!(block.values.len(), 2 * n);
        assert_eq!((wanted.position(1), wanted.position(3)), (Some(0), Some(1)));
        assert_eq!((wanted.position(0), wanted.position(2)), (None, None));
        for p in [0usize, 1, 2, 300, n - 1] {
            assert_eq!(block.values[p], (p % 3) as f64);
            assert_eq!(block.values[n + p], (p % 3) as f64);
            assert_eq!(block.valid[p], p % 3 != 0, "pixel {p}");
        }
    }

    #[test]
    fn band_mask_positions_and_counts() {
        assert_eq!(BandMask::ALL.position(5), Some(5));
        assert_eq!(BandMask::ALL.count(4), 4);
        assert_eq!(BandMask::NONE.count(4), 0);
        let m = BandMask::NONE.with(0).with(2).with(63).with(64);
        assert_eq!(
            (m.position(0), m.position(2), m.position(63)),
            (Some(0), Some(1), Some(2))
        );
        assert_eq!((m.position(1), m.position(64)), (None, None));
        assert_eq!((m.count(2), m.count(3), m.count(100)), (1, 2, 3));
    }
}
