//! A KLL quantile sketch (Karnin, Lang, Liberty 2016) for layers too varied to count value
//! by value: bounded size, mergeable across tiles and work units, with a stated rank error.
//!
//! Our own rather than a crate's: the crates.io KLLs either bind DataSketches' C++ (unsafe
//! FFI and a C++ build in every ingest install) or draw the compaction coin from the clock,
//! while ingest must give a layer the same bits on every run and however its units ran.
//! Here the coin is a hash of the sketch's own compaction count, so a sketch is a pure
//! function of its inputs and the merge tree, which ingest fixes (tiles depth-first in
//! quadrant order, units in tile order).
//!
//! Layout as DataSketches': level `h` holds items of weight 2^h, level capacities shrink by
//! 2/3 going down from the top (never below 8), and a level over capacity keeps one item if
//! it has an odd count and promotes every other item of the rest (offset by the coin). Our
//! levels are kept sorted, so a compaction is a stride and a merge a sorted merge.

use serde::{Deserialize, Serialize};

/// The accuracy parameter: about 3·K items retained (~24 KB a band).
pub const K: usize = 1024;
const MIN_WIDTH: usize = 8;

/// DataSketches' fit of KLL's single-sided normalized rank error at 99% confidence,
/// 2.296 / K^0.9723 (0.28% at K = 1024); our tests measure ours against it.
pub fn rank_error() -> f64 {
    2.296 / (K as f64).powf(0.9723)
}

/// A mergeable quantile summary of any number of values in about 3·[`K`] items.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Kll {
    n: u64,
    /// `levels[h]`: sorted items of weight 2^h.
    levels: Vec<Vec<f64>>,
    /// Compactions so far: seeds each compaction's coin.
    compactions: u64,
}

impl Kll {
    /// A sketch of `sorted` (ascending, no NaN).
    pub fn from_sorted(sorted: &[f64]) -> Kll {
        let mut s = Kll {
            n: sorted.len() as u64,
            levels: vec![sorted.to_vec()],
            compactions: 0,
        };
        s.compress();
        s
    }

    /// How many values the sketch summarises.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Adds `o`'s items. Merging an empty sketch changes nothing, and merging into an empty
    /// one copies, so empty tiles do not perturb the coin sequence.
    pub fn merge(&mut self, o: &Kll) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = o.clone();
            return;
        }
        if self.levels.len() < o.levels.len() {
            self.levels.resize(o.levels.len(), Vec::new());
        }
        for (mine, theirs) in self.levels.iter_mut().zip(&o.levels) {
            *mine = merge_sorted(mine, theirs);
        }
        self.n += o.n;
        self.compactions = self.compactions.wrapping_add(o.compactions);
        self.compress();
    }

    fn capacity(&self, h: usize) -> usize {
        let depth = self.levels.len().saturating_sub(h + 1);
        let c = (K as f64 * (2.0f64 / 3.0).powi(depth as i32)).ceil() as usize;
        c.max(MIN_WIDTH)
    }

    fn compress(&mut self) {
        loop {
            let retained: usize = self.levels.iter().map(Vec::len).sum();
            let room: usize = (0..self.levels.len()).map(|h| self.capacity(h)).sum();
            if retained <= room {
                return;
            }
            let Some(h) =
                (0..self.levels.len()).find(|&h| self.levels[h].len() >= self.capacity(h))
            else {
                return;
            };
            self.compact(h);
        }
    }

    fn compact(&mut self, h: usize) {
        if h + 1 == self.levels.len() {
            self.levels.push(Vec::new());
        }
        let items = std::mem::take(&mut self.levels[h]);
        // An odd count leaves its smallest item behind, so the promoted pairs are whole.
        let keep = items.len() % 2;
        let offset = usize::from(coin(self.compactions));
        self.compactions = self.compactions.wrapping_add(1);
        let promoted: Vec<f64> = items[keep..]
            .iter()
            .skip(offset)
            .step_by(2)
            .copied()
            .collect();
        self.levels[h] = items[..keep].to_vec();
        self.levels[h + 1] = merge_sorted(&self.levels[h + 1], &promoted);
    }

    /// The item at normalized rank `q` (0..=1): the smallest whose cumulative weight exceeds
    /// `q · (n − 1)`, so `q` = 0 and 1 give the retained minimum and maximum.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<f64> {
        let mut items: Vec<(f64, u64)> = self
            .levels
            .iter()
            .enumerate()
            .flat_map(|(h, l)| l.iter().map(move |v| (*v, 1u64 << h)))
            .collect();
        items.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut ends = Vec::with_capacity(items.len());
        let mut run = 0u64;
        for (_, w) in &items {
            run += w;
            ends.push(run);
        }
        qs.iter()
            .map(|q| {
                let target = (q.clamp(0.0, 1.0) * total.saturating_sub(1) as f64).floor() as u64;
                let i = ends.partition_point(|&e| e <= target);
                items.get(i).or(items.last()).map_or(f64::NAN, |(v, _)| *v)
            })
            .collect()
    }
}

/// splitmix64's finaliser of the compaction count: a fixed pseudo-random bit sequence.
fn coin(k: u64) -> bool {
    let mut z = k.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) & 1 == 1
}

fn merge_sorted(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        if x.total_cmp(y).is_le() {
            out.push(*x);
            i += 1;
        } else {
            out.push(*y);
            j += 1;
        }
    }
    out.extend_from_slice(a.get(i..).unwrap_or_default());
    out.extend_from_slice(b.get(j..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worst normalized rank error over the percentile grid: how far each answer's rank
    /// range among `sorted` lies from the asked rank.
    pub fn worst_rank_error(s: &Kll, sorted: &[f64]) -> f64 {
        let n = sorted.len() as f64;
        let qs: Vec<f64> = (0..=200).map(|i| f64::from(i) / 200.0).collect();
        qs.iter()
            .zip(s.quantiles(&qs))
            .map(|(q, v)| {
                let below = sorted.partition_point(|x| *x < v) as f64 / n;
                let upto = sorted.partition_point(|x| *x <= v) as f64 / n;
                if *q < below {
                    below - q
                } else if *q > upto {
                    q - upto
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max)
    }

    fn values(n: usize, seed: u64) -> Vec<f64> {
        // A skewed, many-valued distribution from a small LCG.
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                (u * 7.0).exp()
            })
            .collect()
    }

    /// Tiles of 65,536 merged in a quadtree, as a unit does.
    fn quadtree(vals: &[f64]) -> Kll {
        let mut level: Vec<Kll> = vals
            .chunks(65_536)
            .map(|c| {
                let mut c = c.to_vec();
                c.sort_by(f64::total_cmp);
                Kll::from_sorted(&c)
            })
            .collect();
        while level.len() > 1 {
            level = level
                .chunks(4)
                .map(|kids| {
                    let mut s = Kll::default();
                    for k in kids {
                        s.merge(k);
                    }
                    s
                })
                .collect();
        }
        level.pop().unwrap_or_default()
    }

    #[test]
    fn rank_error_within_the_stated_bound() {
        for (n, seed) in [(4_000_000, 1), (1_000_000, 7), (300_000, 3)] {
            let vals = values(n, seed);
            let s = quadtree(&vals);
            let mut sorted = vals.clone();
            sorted.sort_by(f64::total_cmp);
            let err = worst_rank_error(&s, &sorted);
            eprintln!(
                "n {n}: worst rank error {err:.5}, stated {:.5}",
                rank_error()
            );
            assert_eq!(s.count(), n as u64);
            assert!(err <= rank_error(), "n {n}: {err} > {}", rank_error());
            let retained: usize = s.levels.iter().map(Vec::len).sum();
            assert!(retained < 4 * K, "{retained} items retained");
        }
    }

    #[test]
    fn small_inputs_are_exact_and_merges_deterministic() {
        let s = Kll::from_sorted(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(s.quantiles(&[0.0, 0.5, 1.0]), vec![1.0, 3.0, 6.0]);
        let vals = values(500_000, 9);
        assert_eq!(quadtree(&vals), quadtree(&vals));
        let mut with_empty = quadtree(&vals);
        with_empty.merge(&Kll::default());
        let mut from_empty = Kll::default();
        from_empty.merge(&with_empty);
        assert_eq!(from_empty, quadtree(&vals));
    }
}
