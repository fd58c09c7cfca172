//! Resampling kernels: how a Web Mercator pixel takes its value from source pixels (`Kernel`)
//! and how a parent tile is made from its four children (`downsample`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tilefn_raster::{Block, TILE_SIZE};

/// `--resampling`, named as in GDAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Resampling {
    Nearest,
    Bilinear,
    Cubic,
    Average,
    Mode,
}

impl Resampling {
    pub fn name(self) -> &'static str {
        match self {
            Resampling::Nearest => "nearest",
            Resampling::Bilinear => "bilinear",
            Resampling::Cubic => "cubic",
            Resampling::Average => "average",
            Resampling::Mode => "mode",
        }
    }
}

/// True when `v` is a usable sample: not NaN and not the band's nodata value.
pub fn is_data(v: f64, nodata: Option<f64>) -> bool {
    !v.is_nan() && nodata.is_none_or(|n| v != n)
}

/// Builds the parent of four 256² children (NW, NE, SW, SE; `None` = empty).
///
/// Every pyramid level is an exact 2:1 reduction because each level is the XYZ grid of its
/// zoom, so the kernel only ever sees 2×2 blocks. Nearest takes the south-east pixel of each
/// 2×2 block, as GDAL's nearest overview does (`floor((i + 0.5) * 2)`); mode takes the most
/// frequent value (ties: the first seen) and is what categorical layers use; every other
/// method averages the valid samples, which is what a 2:1 bilinear or cubic reduction
/// converges to and what GDAL's `average` overviews compute.
pub fn downsample(
    children: &[Option<Block>; 4],
    method: Resampling,
    nodata: Option<f64>,
) -> Option<Block> {
    let proto = children.iter().flatten().next()?;
    let size = TILE_SIZE as usize;
    let half = size / 2;
    let (bands, dtype) = (proto.bands, proto.dtype);
    let fill = nodata.unwrap_or(0.0);
    let mut out = Block::empty(size, size, bands, dtype, fill);
    let n = size * size;
    for (q, child) in children.iter().enumerate() {
        let Some(child) = child else { continue };
        let (ox, oy) = ((q % 2) * half, (q / 2) * half);
        for py in 0..half {
            for px in 0..half {
                let src = [
                    (2 * py) * size + 2 * px,
                    (2 * py) * size + 2 * px + 1,
                    (2 * py + 1) * size + 2 * px,
                    (2 * py + 1) * size + 2 * px + 1,
                ];
                let dst = (oy + py) * size + ox + px;
                if !src.iter().any(|&i| child.valid[i]) {
                    continue;
                }
                match method {
                    Resampling::Nearest => {
                        let i = src[3];
                        if !child.valid[i] {
                            continue;
                        }
                        for b in 0..bands {
                            out.values[b * n + dst] = child.values[b * n + i];
                        }
                    }
                    Resampling::Mode => {
                        for b in 0..bands {
                            out.values[b * n + dst] = mode_of(
                                src.iter()
                                    .filter(|&&i| child.valid[i])
                                    .map(|&i| child.values[b * n + i]),
                                nodata,
                            );
                        }
                    }
                    _ => {
                        for b in 0..bands {
                            let (mut sum, mut cnt) = (0.0, 0u32);
                            for &i in &src {
                                let v = child.values[b * n + i];
                                if child.valid[i] && is_data(v, nodata) {
                                    sum += v;
                                    cnt += 1;
                                }
                            }
                            out.values[b * n + dst] = if cnt > 0 {
                                dtype.clamp(sum / f64::from(cnt))
                            } else {
                                fill
                            };
                        }
                    }
                }
                out.valid[dst] = true;
            }
        }
    }
    out.any_valid().then_some(out)
}

/// The most frequent data value; nodata only when every value is nodata.
pub fn mode_of(values: impl Iterator<Item = f64>, nodata: Option<f64>) -> f64 {
    let mut counts: Vec<(f64, u32)> = Vec::with_capacity(4);
    let mut fallback = None;
    for v in values {
        if !is_data(v, nodata) {
            fallback.get_or_insert(v);
            continue;
        }
        match counts.iter_mut().find(|(x, _)| *x == v) {
            Some(e) => e.1 += 1,
            None => counts.push((v, 1)),
        }
    }
    let mut best: Option<(f64, u32)> = None;
    for (v, c) in counts {
        if best.is_none_or(|(_, bc)| c > bc) {
            best = Some((v, c));
        }
    }
    best.map(|b| b.0)
        .or(fallback)
        .unwrap_or(nodata.unwrap_or(0.0))
}

/// Mode over a large footprint (downsampling warps), where a linear scan would be quadratic.
pub fn mode_of_many(values: impl Iterator<Item = f64>, nodata: Option<f64>) -> Option<f64> {
    let mut counts: HashMap<u64, (u32, usize)> = HashMap::new();
    for (order, v) in values.filter(|v| is_data(*v, nodata)).enumerate() {
        counts.entry(v.to_bits()).or_insert((0, order)).0 += 1;
    }
    // Highest count wins; ties go to the value seen first, so results do not depend on
    // hash order.
    counts
        .into_iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(bits, _)| f64::from_bits(bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilefn_raster::DataType;

    fn child(v: f64) -> Block {
        let n = (TILE_SIZE * TILE_SIZE) as usize;
        let mut b = Block::empty(
            TILE_SIZE as usize,
            TILE_SIZE as usize,
            1,
            DataType::Float32,
            -1.0,
        );
        b.values = (0..n).map(|i| v + (i % 2) as f64).collect();
        b.valid = vec![true; n];
        b
    }

    #[test]
    fn average_and_nearest_reduce_two_to_one() {
        let kids = [Some(child(10.0)), None, None, Some(child(20.0))];
        let avg = downsample(&kids, Resampling::Average, Some(-1.0)).unwrap_or_else(|| child(0.0));
        assert_eq!(avg.values[0], 10.5);
        assert!(avg.valid[0] && !avg.valid[200]);
        assert_eq!(avg.values[255 * 256 + 255], 20.5);
        let near = downsample(&kids, Resampling::Nearest, Some(-1.0)).unwrap_or_else(|| child(0.0));
        assert_eq!(near.values[0], 11.0);
        assert!(downsample(&[None, None, None, None], Resampling::Mode, None).is_none());
    }

    #[test]
    fn mode_ignores_nodata_and_breaks_ties_by_order() {
        assert_eq!(mode_of([3.0, 0.0, 0.0, 3.0].into_iter(), Some(0.0)), 3.0);
        assert_eq!(mode_of([2.0, 5.0, 5.0, 2.0].into_iter(), None), 2.0);
        assert_eq!(mode_of([0.0, 0.0].into_iter(), Some(0.0)), 0.0);
        assert_eq!(
            mode_of_many([1.0, 2.0, 2.0, f64::NAN].into_iter(), None),
            Some(2.0)
        );
    }
}
