//! Colour counting for palette PNGs: up to 256 distinct RGBA colours and each pixel's index.
//!
//! Hand-written (not a `HashMap`) because it runs on every tile: a last-colour check plus a
//! small open-addressed table costs a few ns per pixel and bails out at the 257th colour.

/// The palette (RGBA) and one index per pixel, or `None` past 256 colours. Fully
/// transparent pixels all become (0, 0, 0, 0): their RGB is invisible.
pub(crate) fn palettize(pixels: &[u8]) -> Option<(Vec<[u8; 4]>, Vec<u8>)> {
    const SLOTS: usize = 1024; // 4x the most colours kept: short probe chains
    let mut keys = [0u32; SLOTS];
    let mut idx = [0u8; SLOTS];
    let mut used = [false; SLOTS];
    let mut palette: Vec<[u8; 4]> = Vec::with_capacity(256);
    let mut indices = Vec::with_capacity(pixels.len() / 4);
    let mut last: Option<(u32, u8)> = None;
    for px in pixels.chunks_exact(4) {
        let rgba = if px[3] == 0 {
            [0; 4]
        } else {
            [px[0], px[1], px[2], px[3]]
        };
        let key = u32::from_le_bytes(rgba);
        if let Some((k, i)) = last
            && k == key
        {
            indices.push(i);
            continue;
        }
        let mut slot = (key.wrapping_mul(0x9E37_79B1) >> 22) as usize; // top 10 bits
        let i = loop {
            if !used[slot] {
                let i = u8::try_from(palette.len()).ok()?; // the 257th colour: give up
                used[slot] = true;
                keys[slot] = key;
                idx[slot] = i;
                palette.push(rgba);
                break i;
            }
            if keys[slot] == key {
                break idx[slot];
            }
            slot = (slot + 1) % SLOTS;
        };
        last = Some((key, i));
        indices.push(i);
    }
    Some((palette, indices))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_colours_and_bails_past_256() {
        let px = [1, 2, 3, 255, 9, 9, 9, 0, 1, 2, 3, 255, 0, 0, 0, 0];
        let (palette, indices) = palettize(&px).unwrap();
        assert_eq!(palette, vec![[1, 2, 3, 255], [0, 0, 0, 0]]);
        assert_eq!(indices, vec![0, 1, 0, 1]);
        let many: Vec<u8> = (0..257u32)
            .flat_map(|i| [(i % 256) as u8, (i / 256) as u8, 0, 255])
            .collect();
        assert!(palettize(&many).is_none());
        assert_eq!(palettize(&many[..256 * 4]).map(|p| p.0.len()), Some(256));
    }
}
