//! Three-band composites (django-raster's RGB endpoint).

use crate::Rgba;

/// Paints bands as red, green and blue, each stretched linearly from `scale.0..scale.1` to
/// 0..255 (clamped, truncated like numpy's uint8 cast). Invalid pixels are transparent; with
/// `alpha`, so are pixels whose three channels all come out 0 (black image borders).
pub fn render_rgb(
    bands: [&[f64]; 3],
    valid: &[bool],
    width: usize,
    height: usize,
    scale: (f64, f64),
    alpha: bool,
) -> Rgba {
    let mut img = Rgba::transparent(width, height);
    let (lo, hi) = scale;
    let k = 255.0 / (hi - lo);
    let channel = |v: f64| -> u8 {
        // `as u8` saturates (and maps NaN to 0), which is the clamp we want; hi == lo gives
        // an infinite k, so values above lo are 255.
        ((v - lo) * k) as u8
    };
    let [r, g, b] = bands;
    let pixels = r.iter().zip(g).zip(b).zip(valid);
    for ((((r, g), b), ok), px) in pixels.zip(img.pixels.chunks_exact_mut(4)) {
        if !*ok {
            continue;
        }
        let rgb = [channel(*r), channel(*g), channel(*b)];
        let opaque = !(alpha && rgb == [0, 0, 0]);
        px.copy_from_slice(&[rgb[0], rgb[1], rgb[2], if opaque { 255 } else { 0 }]);
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_clamps_and_masks() {
        let r = [0.0, 500.0, 1000.0, 2000.0];
        let g = [0.0, 0.0, 250.0, 0.0];
        let b = [0.0, 0.0, 0.0, -5.0];
        let valid = [true, true, true, false];
        let img = render_rgb([&r, &g, &b], &valid, 2, 2, (0.0, 1000.0), false);
        assert_eq!(
            img.pixels,
            vec![0, 0, 0, 255, 127, 0, 0, 255, 255, 63, 0, 255, 0, 0, 0, 0]
        );
        let img = render_rgb([&r, &g, &b], &valid, 2, 2, (0.0, 1000.0), true);
        assert_eq!(&img.pixels[..8], &[0, 0, 0, 0, 127, 0, 0, 255]);
    }
}
