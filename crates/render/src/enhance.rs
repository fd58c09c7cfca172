//! django-raster's `enhance_color`, `enhance_contrast`, `enhance_brightness` and
//! `enhance_sharpness`: PIL's `ImageEnhance`, reproduced to the byte on RGBA8 images.
//!
//! Every PIL enhancer blends the image with a "degenerate" image,
//! `Image.blend(degenerate, image, factor)`: `degenerate + factor * (image - degenerate)`,
//! computed in `f32` as Pillow's C code does, truncated and clipped to 0..=255.
//! - Color: the image in grey (PIL's `"LA"` conversion, `L = (19595 R + 38470 G + 7471 B +
//!   2^15) >> 16`, which is ITU-R 601-2 `R*299/1000 + G*587/1000 + B*114/1000` in 16-bit
//!   fixed point, rounded).
//! - Contrast: a solid grey of the mean grey level, `int(mean + 0.5)`; as in PIL the mean
//!   runs over every pixel, transparent ones included (their colour is black), and it is the
//!   tile's own mean, so contrast can differ from tile to tile, as in django-raster.
//! - Brightness: black.
//! - Sharpness: the image through PIL's `SMOOTH` kernel (3x3, `[1 1 1; 1 5 1; 1 1 1] / 13`,
//!   rounded); the outermost rows and columns are copied unchanged, as PIL's filter does.
//!
//! The alpha channel is never changed (PIL puts the original alpha into every degenerate
//! image, so the blend leaves it as it was). Enhancers run in the order color, contrast,
//! brightness, sharpness; a factor of 1 is the identity and is skipped.
//!
//! Written by hand rather than with an image crate: the point is bit-exact agreement with
//! PIL's fixed-point conversion, float blend and edge handling, which `image`'s filters do not
//! promise. Checked against fixtures generated with Pillow (`tests/enhance.rs`).

use crate::Rgba;

/// Largest enhancement factor accepted (PIL has no limit; past 10 every channel saturates).
pub const MAX_ENHANCE_FACTOR: f64 = 10.0;

/// The four enhancement factors; 1.0 leaves the image as it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Enhancement {
    pub color: f64,
    pub contrast: f64,
    pub brightness: f64,
    pub sharpness: f64,
}

impl Default for Enhancement {
    fn default() -> Self {
        Enhancement {
            color: 1.0,
            contrast: 1.0,
            brightness: 1.0,
            sharpness: 1.0,
        }
    }
}

impl Enhancement {
    /// Whether applying it changes nothing (every factor is 1).
    pub fn is_identity(&self) -> bool {
        *self == Enhancement::default()
    }

    /// Stable text for cache keys (`""` for the identity).
    pub fn canonical(&self) -> String {
        let parts = [
            ("enhance_color", self.color),
            ("enhance_contrast", self.contrast),
            ("enhance_brightness", self.brightness),
            ("enhance_sharpness", self.sharpness),
        ];
        parts
            .iter()
            .filter(|(_, f)| *f != 1.0)
            .map(|(k, f)| format!("{k}={f:?}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Applies the enhancers in place: color, contrast, brightness, sharpness.
    pub fn apply(&self, img: &mut Rgba) {
        if img.pixels.len() != img.width * img.height * 4 {
            return; // Not a well-formed image; nothing sensible to do.
        }
        if self.color != 1.0 {
            let degenerate = grey(img);
            blend(&degenerate, img, self.color);
        }
        if self.contrast != 1.0 {
            let mean = mean_grey(img);
            let mut degenerate = img.pixels.clone();
            for px in degenerate.chunks_exact_mut(4) {
                px[..3].copy_from_slice(&[mean; 3]);
            }
            blend(&degenerate, img, self.contrast);
        }
        if self.brightness != 1.0 {
            let mut degenerate = img.pixels.clone();
            for px in degenerate.chunks_exact_mut(4) {
                px[..3].copy_from_slice(&[0; 3]);
            }
            blend(&degenerate, img, self.brightness);
        }
        if self.sharpness != 1.0 {
            let degenerate = smooth(img);
            blend(&degenerate, img, self.sharpness);
        }
    }
}

/// PIL's `L` of an RGB pixel (Convert.c `L24`, rounded 16-bit fixed point).
fn luma(px: &[u8]) -> u8 {
    let (r, g, b) = match px {
        [r, g, b, ..] => (u32::from(*r), u32::from(*g), u32::from(*b)),
        _ => return 0,
    };
    // At most 255 * 65536 + 0x8000 >> 16 = 255: fits.
    ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8
}

/// `image.convert("LA").convert("RGBA")`: grey with the alpha kept.
fn grey(img: &Rgba) -> Vec<u8> {
    let mut out = img.pixels.clone();
    for px in out.chunks_exact_mut(4) {
        let l = luma(px);
        px[..3].copy_from_slice(&[l; 3]);
    }
    out
}

/// `int(ImageStat.Stat(image.convert("L")).mean[0] + 0.5)`.
fn mean_grey(img: &Rgba) -> u8 {
    let n = img.pixels.len() / 4;
    if n == 0 {
        return 0;
    }
    let sum: u64 = img.pixels.chunks_exact(4).map(|p| u64::from(luma(p))).sum();
    // ImageStat divides in Python floats; mean <= 255, so the cast cannot overflow.
    (sum as f64 / n as f64 + 0.5) as u8
}

/// `Image.blend(degenerate, image, factor)` into `img` (Pillow's Blend.c: the factor is a C
/// `float`, the result truncated, and clipped when extrapolating).
fn blend(degenerate: &[u8], img: &mut Rgba, factor: f64) {
    let a = factor as f32;
    for (out, d) in img.pixels.iter_mut().zip(degenerate) {
        let d0 = i32::from(*d);
        let t = d0 as f32 + a * (i32::from(*out) - d0) as f32;
        *out = if t <= 0.0 {
            0
        } else if t >= 255.0 {
            255
        } else {
            t as u8
        };
    }
}

/// `image.filter(ImageFilter.SMOOTH)` (Filter.c, 3x3): weights pre-divided in `f32`, the sum
/// rounded half up and clipped; the first and last rows and columns are copied unchanged.
/// The alpha channel is filtered too, as in PIL, but `apply` never uses it: PIL replaces it
/// with the original alpha (`putalpha`), and so does the blend here (it keeps `img`'s).
fn smooth(img: &Rgba) -> Vec<u8> {
    let (w, h) = (img.width, img.height);
    let src = &img.pixels;
    let mut out = src.clone();
    if w < 3 || h < 3 {
        return out;
    }
    let side = 1.0f32 / 13.0;
    let centre = 5.0f32 / 13.0;
    let stride = w * 4;
    let rows: Vec<&[u8]> = src.chunks_exact(stride).collect();
    // Three source rows at a time (above, this, below) and the output row between them;
    // `windows(12).step_by(4)` walks 3-pixel neighbourhoods without any indexing.
    for (three, out_row) in rows.windows(3).zip(out.chunks_exact_mut(stride).skip(1)) {
        let [above, here, below] = three else {
            continue;
        };
        let neighbourhoods = above
            .windows(12)
            .step_by(4)
            .zip(here.windows(12).step_by(4))
            .zip(below.windows(12).step_by(4));
        for (((a, m), b), px) in neighbourhoods.zip(out_row.chunks_exact_mut(4).skip(1)) {
            for c in 0..3 {
                let f = |row: &[u8], i: usize| f32::from(row.get(i).copied().unwrap_or(0));
                let line = |row: &[u8], mid: f32| {
                    f(row, c) * side + f(row, c + 4) * mid + f(row, c + 8) * side
                };
                // Pillow's order: the row below, this row, the row above.
                let ss = 0.0f32 + line(b, side) + line(m, centre) + line(a, side);
                let v = if ss <= 0.0 {
                    0
                } else if ss >= 255.0 {
                    255
                } else {
                    (ss + 0.5) as u8
                };
                if let Some(slot) = px.get_mut(c) {
                    *slot = v;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(pixels: Vec<u8>, width: usize) -> Rgba {
        let height = pixels.len() / 4 / width;
        Rgba {
            width,
            height,
            pixels,
        }
    }

    #[test]
    fn factor_one_is_the_identity_and_alpha_is_kept() {
        let px: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
        let mut img = image(px.clone(), 4);
        Enhancement::default().apply(&mut img);
        assert_eq!(img.pixels, px);
        let all = Enhancement {
            color: 0.3,
            contrast: 2.0,
            brightness: 1.7,
            sharpness: 0.0,
        };
        all.apply(&mut img);
        let alphas = |v: &[u8]| v.chunks_exact(4).map(|p| p[3]).collect::<Vec<_>>();
        assert_eq!(alphas(&img.pixels), alphas(&px));
    }

    #[test]
    fn degenerate_images() {
        // Color 0 gives grey; brightness 0 gives black; contrast 0 gives the mean grey.
        let mut img = image(vec![255, 0, 0, 255, 0, 0, 255, 255], 2);
        Enhancement {
            color: 0.0,
            ..Enhancement::default()
        }
        .apply(&mut img);
        assert_eq!(img.pixels, vec![76, 76, 76, 255, 29, 29, 29, 255]);
        Enhancement {
            contrast: 0.0,
            ..Enhancement::default()
        }
        .apply(&mut img);
        assert_eq!(img.pixels, vec![53, 53, 53, 255, 53, 53, 53, 255]);
        Enhancement {
            brightness: 0.0,
            ..Enhancement::default()
        }
        .apply(&mut img);
        assert_eq!(img.pixels, vec![0, 0, 0, 255, 0, 0, 0, 255]);
        assert_eq!(
            Enhancement {
                brightness: 2.0,
                ..Enhancement::default()
            }
            .canonical(),
            "enhance_brightness=2.0"
        );
    }
}
