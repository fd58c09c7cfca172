//! django-raster's continuous colormaps (`"continuous": true, "from", "to", "over", "range"`),
//! computed exactly as its numpy code does: per-channel ramps in f64, truncated to u8.
//!
//! This is arithmetic, not a lookup table, on purpose: the corpus pins exact truncated
//! channel values, which a quantised LUT would miss by one here and there. It is still a
//! handful of flops per pixel with no expression interpretation.

/// One channel of a ramp at normalised value `norm`, as django-raster's
/// `rescale_to_channel_range(data, dfrom, dto, dover)`: constant when `from == to`, a linear
/// ramp without `over`, and with `over` two ramps (`from`→`over` below 0.5, `over`→`to`
/// from 0.5 up), each over its half stretched to 0..1.
pub fn rescale_to_channel_range(norm: f64, from: f64, to: f64, over: Option<f64>) -> f64 {
    if from == to {
        return from;
    }
    match over {
        None => {
            // django-raster inverts the data and ramps up from min(from, to); the result is
            // the same line but keeps its exact float rounding.
            let data = if to < from { 1.0 - norm } else { norm };
            data * (to - from).abs() + to.min(from)
        }
        Some(over) if norm < 0.5 => rescale_to_channel_range(norm * 2.0, from, over, None),
        Some(over) => rescale_to_channel_range((norm - 0.5) * 2.0, over, to, None),
    }
}

/// A parsed continuous colormap. Colours are RGB (django-raster ignores a 4th channel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ramp {
    pub from: [f64; 3],
    pub to: [f64; 3],
    pub over: Option<[f64; 3]>,
}

impl Ramp {
    /// RGB at `norm`, truncated to u8 like numpy's `astype('uint8')` (which wraps or
    /// saturates out-of-range floats; those pixels are transparent, so we saturate).
    pub fn rgb(&self, norm: f64) -> [u8; 3] {
        let mut out = [0u8; 3];
        for (c, slot) in out.iter_mut().enumerate() {
            let over = self.over.map(|o| o[c]);
            *slot = rescale_to_channel_range(norm, self.from[c], self.to[c], over) as u8;
        }
        out
    }
}

/// The (min, max) of the valid, non-NaN values: django-raster's fallback range when neither
/// the colormap nor the layer metadata gives one. `None` when nothing is valid.
pub(crate) fn data_range(values: &[f64], valid: &[bool]) -> Option<(f64, f64)> {
    values
        .iter()
        .zip(valid)
        .filter(|(v, ok)| **ok && !v.is_nan())
        .fold(None, |acc, (v, _)| match acc {
            None => Some((*v, *v)),
            Some((lo, hi)) => Some((v.min(lo), v.max(hi))),
        })
}

/// Paints `values` with a continuous ramp over `range` into `out` (RGBA, 4 bytes per value).
///
/// `valid: Some(mask)` is django-raster's masked-array case: alpha is 255 where the pixel is
/// valid and `0 <= norm <= 1`. `valid: None` reproduces its unmasked quirk: alpha is 255 only
/// where `0 < norm < 1`, so pixels exactly at the range ends are transparent. Tiles always
/// carry a validity mask (pixels outside the source footprint exist for every layer), so
/// [`crate::Style::paint`] always takes the masked, inclusive branch; the quirk is kept here
/// only so it can be checked against django-raster.
pub fn continuous_rgba(
    values: &[f64],
    valid: Option<&[bool]>,
    from: [f64; 3],
    to: [f64; 3],
    over: Option<[f64; 3]>,
    range: (f64, f64),
    out: &mut [u8],
) {
    paint(&Ramp { from, to, over }, values, valid, range, out);
}

pub(crate) fn paint(
    ramp: &Ramp,
    values: &[f64],
    valid: Option<&[bool]>,
    (dmin, dmax): (f64, f64),
    out: &mut [u8],
) {
    let span = dmax - dmin;
    for (i, (v, px)) in values.iter().zip(out.chunks_exact_mut(4)).enumerate() {
        let norm = (v - dmin) / span;
        let visible = match valid {
            Some(mask) => mask.get(i).copied().unwrap_or(false) && (0.0..=1.0).contains(&norm),
            None => norm > 0.0 && norm < 1.0,
        };
        if visible {
            let [r, g, b] = ramp.rgb(norm);
            px.copy_from_slice(&[r, g, b, 255]);
        } else {
            px.copy_from_slice(&[0, 0, 0, 0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_segment_ramp() {
        let got: Vec<f64> = [0.0, 0.5, 1.0]
            .iter()
            .map(|n| rescale_to_channel_range(*n, 60.0, 50.0, Some(40.0)))
            .collect();
        assert_eq!(got, vec![60.0, 40.0, 50.0]);
    }

    #[test]
    fn degenerate_range_is_transparent() {
        let mut out = vec![9u8; 8];
        let ramp = Ramp {
            from: [0.0; 3],
            to: [255.0; 3],
            over: None,
        };
        paint(
            &ramp,
            &[3.0, 4.0],
            Some(&[true, true]),
            (3.0, 3.0),
            &mut out,
        );
        assert_eq!(out, vec![0; 8]);
    }

    #[test]
    fn data_range_skips_invalid_and_nan() {
        let r = data_range(&[5.0, f64::NAN, -1.0, 100.0], &[true, true, true, false]);
        assert_eq!(r, Some((-1.0, 5.0)));
        assert_eq!(data_range(&[1.0], &[false]), None);
    }
}
