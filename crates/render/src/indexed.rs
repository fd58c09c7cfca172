//! Table styles (grey, named colormaps) painted straight to palette indices: the PNG path
//! then skips the RGBA image and the per-pixel colour counting of `encode::palette`, which
//! together cost more than the painting itself.
//!
//! The palette and indices are exactly those `palettize` finds in the RGBA image, so the PNG
//! is byte for byte the one the RGBA path writes. (Ordering the palette by table bin instead
//! was tried: a few bytes larger on some tiles, smaller on others.)

/// Index of the transparent bin in the intermediate per-pixel bins.
const TRANSPARENT: u16 = 256;
/// A bin not yet seen in [`table_indices`]'s palette pass.
const UNSET: u16 = u16::MAX;

/// Palette and one index per pixel for a `width * height` tile painted with `lut` over
/// `lo..hi` exactly as `style::paint_table` paints it; pixels past the shorter of `values`
/// and `valid` are transparent, as in `Style::paint`. `None` when the tile uses more than
/// 256 distinct colours (a full grey ramp plus transparency): the caller falls back to RGBA.
pub(crate) fn table_indices(
    lut: &[[u8; 4]; 256],
    range: Option<(f64, f64)>,
    values: &[f64],
    valid: &[bool],
    pixels: usize,
) -> Option<(Vec<[u8; 4]>, Vec<u8>)> {
    let n = pixels.min(values.len()).min(valid.len());
    // Palette order is each colour's first appearance, deduplicated, exactly as `palettize`
    // builds it from the RGBA image, so the PNG bytes are the same as the RGBA path's.
    // Alpha-0 colours all decode as (0, 0, 0, 0), as `palettize` makes them. One pass: a
    // bin's palette slot is looked up in a 257-entry table and assigned on first sight (a
    // branch that is almost never taken), rather than a hash probe on the colour.
    let colour = |bin: usize| match lut.get(bin) {
        Some(c) if c[3] != 0 => *c,
        _ => [0; 4],
    };
    let mut slot = [UNSET; 257];
    let mut palette: Vec<[u8; 4]> = Vec::with_capacity(256);
    let mut index_of = |bin: u16| -> Option<u8> {
        let s = &mut slot[usize::from(bin)];
        if *s == UNSET {
            let c = colour(usize::from(bin));
            let index = match palette.iter().position(|p| *p == c) {
                Some(i) => i,
                None => {
                    palette.push(c);
                    palette.len() - 1
                }
            };
            *s = u16::from(u8::try_from(index).ok()?); // the 257th colour: no palette
        }
        Some(*s as u8) // < 256: only ever set from a u8
    };
    let mut indices = Vec::with_capacity(pixels);
    if let Some((lo, hi)) = range {
        // Same arithmetic as `style::paint_table`, so the pixels are identical: clamping in
        // floating point first equals its saturating `as usize` then `min(255)` (NaN -> 0),
        // and lets this pass vectorise; the table lookups then run over plain integers.
        let scale = 256.0 / (hi - lo);
        let bins: Vec<u16> = values[..n]
            .iter()
            .zip(&valid[..n])
            .map(|(v, ok)| {
                let b = ((v - lo) * scale).clamp(0.0, 255.0) as u16;
                if *ok && !v.is_nan() { b } else { TRANSPARENT }
            })
            .collect();
        for bin in bins {
            indices.push(index_of(bin)?);
        }
    }
    if indices.len() < pixels {
        let transparent = index_of(TRANSPARENT)?;
        indices.resize(pixels, transparent);
    }
    Some((palette, indices))
}
