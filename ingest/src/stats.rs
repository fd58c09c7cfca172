//! Per-band statistics over the valid max-zoom pixels, gathered while tiles are built.
//!
//! Min, max, mean and standard deviation are exact (Chan's parallel merge of per-tile
//! moments). The histogram and the 2nd/98th percentiles need a value distribution without a
//! second pass over the data, so values are counted in buckets: exactly per value for 8- and
//! 16-bit integers, and otherwise by the top 24 bits of an order-preserving encoding of the
//! f64 (sign, exponent and 12 mantissa bits: 1/4096 relative precision). Percentiles are
//! therefore exact for small integer types and within 0.025% for the rest.
//!
//! Whole-layer quantiles come from the same exact buckets for small integer types, and from
//! the classes of categorical and mask layers, which count each value and its ground area
//! (`distribution::Classes`). Other layers keep a KLL sketch (`kll`), and small ones their
//! exact values while few enough (`distribution::ExactValues`).

use rustc_hash::FxHashMap;

use tilefn_catalog::{
    BandStats, Datatype, Histogram, QUANTILE_GRID_POINTS, QuantileMethod, Quantiles, exact_grid,
    grid_percentile,
};
use tilefn_raster::mercator::tile_range;
use tilefn_raster::{Block, DataType, TileCoord};

use crate::distribution::{Classes, ExactValues, MAX_EXACT_TILES};
use crate::kll::{self, Kll};
use crate::plan::LayerPlan;
use crate::resample::is_data;

const HISTOGRAM_BINS: usize = 256;

/// One band's running statistics. Serialisable: a unit hands its partial statistics to
/// `commit` through the store, which merges them in unit order.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BandAcc {
    count: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    // Fx, not SipHash: keys are our own bucket numbers, and this map is hit per pixel.
    #[serde(with = "buckets_serde")]
    buckets: FxHashMap<i64, u64>,
    /// Only gathered when [`Bucketing`] says `values` (types wider than 16 bits).
    #[serde(default)]
    exact: ExactValues,
    #[serde(default)]
    sketch: Kll,
    /// Only gathered when [`Bucketing`] says `classes` (categorical and mask layers).
    #[serde(default)]
    classes: Classes,
}

/// Buckets as a sorted list of `[key, count]` pairs: compact, and the same text for the same
/// counts.
mod buckets_serde {
    use rustc_hash::FxHashMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &FxHashMap<i64, u64>, s: S) -> Result<S::Ok, S::Error> {
        let mut pairs: Vec<(i64, u64)> = m.iter().map(|(k, c)| (*k, *c)).collect();
        pairs.sort_unstable();
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FxHashMap<i64, u64>, D::Error> {
        let pairs = Vec::<(i64, u64)>::deserialize(d)?;
        Ok(pairs.into_iter().collect())
    }
}

/// How values map to buckets for one layer.
#[derive(Debug, Clone, Copy)]
pub struct Bucketing {
    exact: bool,
    /// For 8-bit types, the value of bucket 0 of a 256-entry tally (0 or -128): a tile is
    /// counted in a stack array and merged into the map once per distinct value, because
    /// imagery changes value at almost every pixel and would otherwise hit the map per pixel.
    dense8: Option<i64>,
    /// Keep a sketch for quantiles: the buckets are not exact.
    values: bool,
    /// Also keep exact values (a small layer, see `distribution::MAX_EXACT_TILES`).
    keep_values: bool,
    /// Count classes and their areas: a categorical or mask layer.
    classes: bool,
}

impl Bucketing {
    /// How the layer of `plan` is counted.
    pub fn for_plan(plan: &LayerPlan) -> Bucketing {
        let g = &plan.grid;
        let tiles = tile_range(&g.footprint, g.max_zoom).map_or(u64::MAX, |r| r.count());
        Bucketing::for_layer(g.dtype, plan.options.datatype, tiles)
    }

    /// How a layer of type `d` and kind `datatype` covering `tiles` max-zoom tiles is
    /// counted.
    pub fn for_layer(d: DataType, datatype: Datatype, tiles: u64) -> Bucketing {
        let b = Bucketing::for_dtype(d);
        Bucketing {
            classes: matches!(datatype, Datatype::Categorical | Datatype::Mask),
            keep_values: b.keep_values && tiles <= MAX_EXACT_TILES,
            ..b
        }
    }

    pub fn for_dtype(d: DataType) -> Bucketing {
        let exact = matches!(
            d,
            DataType::Uint8 | DataType::Int8 | DataType::Uint16 | DataType::Int16
        );
        Bucketing {
            exact,
            dense8: match d {
                DataType::Uint8 => Some(0),
                DataType::Int8 => Some(-128),
                _ => None,
            },
            values: !exact,
            keep_values: !exact,
            classes: false,
        }
    }

    fn key(self, v: f64) -> i64 {
        if self.exact {
            return v as i64;
        }
        let bits = v.to_bits();
        // Flip so that unsigned order of the encoding equals numeric order.
        let ordered = if bits >> 63 == 1 {
            !bits
        } else {
            bits | (1 << 63)
        };
        (ordered >> 40) as i64
    }

    /// A representative value of a bucket: the midpoint of the values it holds.
    fn value(self, key: i64) -> f64 {
        if self.exact {
            return key as f64;
        }
        let decode = |ordered: u64| {
            let bits = if ordered >> 63 == 1 {
                ordered & !(1 << 63)
            } else {
                !ordered
            };
            f64::from_bits(bits)
        };
        let lo = decode((key as u64) << 40);
        let hi = decode(((key as u64) << 40) | ((1 << 40) - 1));
        let mid = lo / 2.0 + hi / 2.0;
        if mid.is_finite() { mid } else { lo }
    }
}

impl BandAcc {
    /// Adds one tile's values: two passes over the slice (mean, then squared deviations) give
    /// exact moments without the per-value division of Welford's update, and consecutive
    /// equal bucket keys (smooth data: most neighbours share one) are counted as one run, so
    /// the map is touched per run rather than per pixel.
    fn push_all(&mut self, vals: &[f64], bucketing: Bucketing) {
        if vals.is_empty() {
            return;
        }
        let n = vals.len() as u64;
        if let Some(base) = bucketing.dense8 {
            // 8-bit samples are whole numbers within the type's range, so the tally holds
            // everything: the moments come from its 256 entries rather than from two more
            // passes over the pixels (those were a tenth of an RGB ingest). The sums are of
            // small integers, exact in f64, so the mean is the same as summing per pixel.
            let mut tally = [0u64; 256];
            for &v in vals {
                let i = (bucketing.key(v) - base).clamp(0, 255) as usize;
                tally[i] += 1;
            }
            let value = |i: usize| (base + i as i64) as f64;
            let seen = || tally.iter().enumerate().filter(|(_, c)| **c > 0);
            let sum: f64 = seen().map(|(i, c)| value(i) * *c as f64).sum();
            let mean = sum / n as f64;
            let m2: f64 = seen()
                .map(|(i, c)| (value(i) - mean) * (value(i) - mean) * *c as f64)
                .sum();
            let lo = seen().map(|(i, _)| value(i)).fold(f64::INFINITY, f64::min);
            let hi = seen()
                .map(|(i, _)| value(i))
                .fold(f64::NEG_INFINITY, f64::max);
            for (i, c) in seen() {
                *self.buckets.entry(base + i as i64).or_insert(0) += *c;
            }
            self.merge_moments(n, mean, m2, lo, hi);
            return;
        }
        let (mut sum, mut lo, mut hi) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
        for &v in vals {
            sum += v;
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let mean = sum / n as f64;
        let m2: f64 = vals.iter().map(|v| (v - mean) * (v - mean)).sum();
        let mut run_key = bucketing.key(vals[0]);
        let mut run_len = 0u64;
        for &v in vals {
            let k = bucketing.key(v);
            if k != run_key {
                *self.buckets.entry(run_key).or_insert(0) += run_len;
                (run_key, run_len) = (k, 0);
            }
            run_len += 1;
        }
        *self.buckets.entry(run_key).or_insert(0) += run_len;
        self.merge_moments(n, mean, m2, lo, hi);
    }

    /// [`push_all`](Self::push_all), plus the sketch and (`keep_exact`) the exact values
    /// when the type needs them.
    fn push_values(&mut self, mut vals: Vec<f64>, bucketing: Bucketing, keep_exact: bool) {
        self.push_all(&vals, bucketing);
        if bucketing.values && !vals.is_empty() {
            // One sort serves both: runs of equal values, and a sketch built level by level
            // from sorted items.
            vals.sort_unstable_by(f64::total_cmp);
            self.exact = if keep_exact && bucketing.keep_values {
                ExactValues::from_sorted(&vals)
            } else {
                ExactValues(None)
            };
            self.sketch = Kll::from_sorted(&vals);
        }
    }

    /// Whether this band's exact values were given up (too many distinct values): then the
    /// whole layer's are too, and later tiles need not keep theirs.
    pub fn exact_values_dropped(&self) -> bool {
        self.exact.0.is_none()
    }

    fn merge_moments(&mut self, n: u64, mean: f64, m2: f64, lo: f64, hi: f64) {
        if self.count == 0 {
            (self.count, self.mean, self.m2, self.min, self.max) = (n, mean, m2, lo, hi);
            return;
        }
        let total = self.count + n;
        let delta = mean - self.mean;
        self.mean += delta * n as f64 / total as f64;
        self.m2 += m2 + delta * delta * self.count as f64 * n as f64 / total as f64;
        self.count = total;
        self.min = self.min.min(lo);
        self.max = self.max.max(hi);
    }

    pub fn merge(&mut self, mut o: BandAcc) {
        if o.count == 0 {
            return;
        }
        self.merge_moments(o.count, o.mean, o.m2, o.min, o.max);
        self.exact.merge(&o.exact);
        self.sketch.merge(&o.sketch);
        self.classes.merge(&o.classes);
        // Pour the smaller map into the larger: a unit merges its tiles up the tile tree, and
        // a parent would otherwise copy each child's map key by key. Counts add exactly, so
        // the result does not depend on which way round.
        if o.buckets.len() > self.buckets.len() {
            std::mem::swap(&mut self.buckets, &mut o.buckets);
        }
        for (k, c) in o.buckets {
            *self.buckets.entry(k).or_insert(0) += c;
        }
    }

    pub fn finish(&self, bucketing: Bucketing) -> Option<BandStats> {
        if self.count == 0 {
            return None;
        }
        let mut keys: Vec<(i64, u64)> = self.buckets.iter().map(|(k, c)| (*k, *c)).collect();
        keys.sort_unstable();
        let percentile = |p: f64| {
            // The value at rank ceil(p * count), so p2 of [1..=100] is 2.
            let rank = ((p * self.count as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (k, c) in &keys {
                seen += c;
                if seen >= rank {
                    return bucketing.value(*k).clamp(self.min, self.max);
                }
            }
            self.max
        };
        let mut counts = vec![0u64; HISTOGRAM_BINS];
        let span = self.max - self.min;
        for (k, c) in &keys {
            let v = bucketing.value(*k).clamp(self.min, self.max);
            let bin = if span > 0.0 {
                ((v - self.min) / span * HISTOGRAM_BINS as f64) as usize
            } else {
                0
            };
            counts[bin.min(HISTOGRAM_BINS - 1)] += c;
        }
        let quantiles = self.quantiles(bucketing, &keys);
        // Exact quantiles replace the bucketed p2/p98 where those were approximate (types
        // wider than 16 bits); a sketch's rank error is no improvement on 1/4096 in value.
        let (p2, p98) = match &quantiles {
            Some(q) if q.method == QuantileMethod::Exact && !bucketing.exact => (
                q.percentile(2.0).unwrap_or_else(|| percentile(0.02)),
                q.percentile(98.0).unwrap_or_else(|| percentile(0.98)),
            ),
            _ => (percentile(0.02), percentile(0.98)),
        };
        let classes = bucketing.classes.then(|| self.classes.sorted());
        let listed = classes.clone().flatten();
        let key = |v: f64| v.to_string();
        Some(BandStats {
            count: self.count,
            min: self.min,
            max: self.max,
            mean: self.mean,
            std: (self.m2 / self.count as f64).sqrt(),
            p2,
            p98,
            histogram: Histogram {
                min: self.min,
                max: self.max,
                counts,
            },
            quantiles,
            value_counts: listed
                .as_ref()
                .map(|c| c.iter().map(|x| (key(x.0), x.1)).collect()),
            area_m2: listed
                .as_ref()
                .map(|c| c.iter().map(|x| (key(x.0), x.2)).collect()),
            too_many_classes: matches!(classes, Some(None)),
        })
    }

    /// Exact from the buckets (8- and 16-bit integers), the classes (categorical and mask
    /// layers) or the kept values (small layers); otherwise from the sketch, with the exact
    /// min and max at its ends.
    fn quantiles(&self, bucketing: Bucketing, keys: &[(i64, u64)]) -> Option<Quantiles> {
        let exact = |counts: &[(f64, u64)]| {
            exact_grid(counts).map(|values| Quantiles {
                method: QuantileMethod::Exact,
                rank_error: 0.0,
                values,
            })
        };
        if bucketing.exact {
            let counts: Vec<(f64, u64)> = keys.iter().map(|(k, c)| (*k as f64, *c)).collect();
            return exact(&counts);
        }
        // Classes are exact counts of every value too.
        if let Some(classes) = self.classes.sorted().filter(|_| bucketing.classes) {
            let counts: Vec<(f64, u64)> = classes.iter().map(|c| (c.0, c.1)).collect();
            return exact(&counts);
        }
        if let Some(counts) = self.exact.0.as_ref().filter(|_| bucketing.keep_values) {
            return exact(counts);
        }
        let qs: Vec<f64> = (0..QUANTILE_GRID_POINTS)
            .map(|i| grid_percentile(i) / 100.0)
            .collect();
        let mut values = self.sketch.quantiles(&qs);
        if let Some(first) = values.first_mut() {
            *first = self.min;
        }
        if let Some(last) = values.last_mut() {
            *last = self.max;
        }
        Some(Quantiles {
            method: QuantileMethod::Kll,
            rank_error: kll::rank_error(),
            values,
        })
    }
}

/// Statistics of max-zoom tile `t`, to be merged into the layer's; bands whose
/// `skip_exact` is set keep no exact values (see [`BandAcc::exact_values_dropped`]).
pub fn tile_stats(
    t: TileCoord,
    block: &Block,
    nodata: Option<f64>,
    bucketing: Bucketing,
    skip_exact: &[bool],
) -> Vec<BandAcc> {
    (0..block.bands)
        .map(|b| {
            let mut acc = BandAcc::default();
            let band = block.band(b);
            let ok =
                |i: usize, v: f64| block.valid.get(i).is_some_and(|ok| *ok) && is_data(v, nodata);
            let vals: Vec<f64> = band
                .iter()
                .enumerate()
                .filter(|(i, v)| ok(*i, **v))
                .map(|(_, v)| *v)
                .collect();
            acc.push_values(
                vals,
                bucketing,
                !skip_exact.get(b).copied().unwrap_or(false),
            );
            if bucketing.classes {
                acc.classes = Classes::of_tile(t, band, ok);
            }
            acc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_of(vals: &[f64], d: DataType) -> Option<BandStats> {
        stats_in_chunks(vals, d, 7)
    }

    /// Merged chunk by chunk, in order (exact values are copied at each merge: chunks the
    /// size of tiles keep a million values quick).
    fn stats_in_chunks(vals: &[f64], d: DataType, chunk: usize) -> Option<BandStats> {
        let bk = Bucketing::for_dtype(d);
        let mut total = BandAcc::default();
        for chunk in vals.chunks(chunk) {
            let mut a = BandAcc::default();
            a.push_values(chunk.to_vec(), bk, true);
            total.merge(a);
        }
        total.finish(bk)
    }

    #[test]
    fn exact_for_small_integers() {
        let vals: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = stats_of(&vals, DataType::Uint8).unwrap();
        assert_eq!(
            (s.count, s.min, s.max, s.p2, s.p98),
            (100, 1.0, 100.0, 2.0, 98.0)
        );
        assert!((s.mean - 50.5).abs() < 1e-12);
        assert!((s.std - 28.866_070_047_722_12).abs() < 1e-9);
        assert_eq!(s.histogram.counts.iter().sum::<u64>(), 100);
        assert_eq!(s.histogram.counts[255], 1);
    }

    #[test]
    fn floats_within_bucket_precision() {
        let vals: Vec<f64> = (0..10_000).map(|i| -500.0 + f64::from(i) * 0.173).collect();
        let s = stats_of(&vals, DataType::Float32).unwrap();
        let exact_p98 = vals[(0.98f64 * 10_000.0).ceil() as usize - 1];
        assert!(
            (s.p98 - exact_p98).abs() <= exact_p98.abs() / 2048.0,
            "{} vs {exact_p98}",
            s.p98
        );
        assert_eq!(s.min, -500.0);
        assert!(stats_of(&[], DataType::Float32).is_none());
    }

    #[test]
    fn quantiles_exact_for_floats_and_small_integers() {
        for d in [DataType::Float32, DataType::Uint8, DataType::Int32] {
            let s = stats_of(&[6.0, 5.0, 4.0, 3.0, 2.0, 1.0], d).unwrap();
            let q = s.quantiles.unwrap();
            assert_eq!(
                (q.method, q.percentile(50.0)),
                (QuantileMethod::Exact, Some(3.5))
            );
        }
        // Floats take p2/p98 from the exact quantiles (numpy: 1.1 and 5.9), small integers
        // keep the rank ceil(p·n) (already exact).
        let f = stats_of(&[6.0, 5.0, 4.0, 3.0, 2.0, 1.0], DataType::Float64).unwrap();
        assert!((f.p2 - 1.1).abs() < 1e-12 && (f.p98 - 5.9).abs() < 1e-12);
        let u = stats_of(&[6.0, 5.0, 4.0, 3.0, 2.0, 1.0], DataType::Uint8).unwrap();
        assert_eq!((u.p2, u.p98), (1.0, 6.0));
    }

    #[test]
    fn many_distinct_floats_fall_back_to_the_sketch() {
        let n = crate::distribution::MAX_EXACT_VALUES + 10;
        let vals: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
        let s = stats_in_chunks(&vals, DataType::Float64, 65_536).unwrap();
        let q = s.quantiles.unwrap();
        assert_eq!(q.method, QuantileMethod::Kll);
        assert_eq!((q.values[0], q.values[200]), (0.0, (n - 1) as f64 * 0.5));
        let median = q.percentile(50.0).unwrap();
        assert!(
            (median / (n as f64 * 0.5) - 0.5).abs() <= q.rank_error,
            "{median}"
        );
    }

    /// One band's statistics over z10 tiles holding `per_tile(tile index, pixel)`.
    fn tiles_stats(bk: Bucketing, tiles: u32, per_tile: impl Fn(u32, usize) -> f64) -> BandStats {
        let mut total = BandAcc::default();
        for i in 0..tiles {
            let mut block = Block::empty(256, 256, 1, DataType::Float32, -1.0);
            for (p, v) in block.values.iter_mut().enumerate() {
                *v = per_tile(i, p);
            }
            block.valid.fill(true);
            let t = TileCoord::new(10, 500 + i, 300);
            for acc in tile_stats(t, &block, Some(-1.0), bk, &[]) {
                total.merge(acc);
            }
        }
        total.finish(bk).unwrap()
    }

    #[test]
    fn classes_give_exact_quantiles_and_a_cap() {
        let cat = Bucketing::for_layer(DataType::Float32, Datatype::Categorical, 1 << 30);
        let s = tiles_stats(cat, 2, |_, p| [1.0, 2.5, 2.5, 7.0][p % 4]);
        let q = s.quantiles.unwrap();
        assert_eq!(
            (q.method, q.percentile(50.0)),
            (QuantileMethod::Exact, Some(2.5))
        );
        let counts = s.value_counts.unwrap();
        assert_eq!((counts["2.5"], counts["7"]), (65_536, 32_768));
        assert!(!s.too_many_classes && s.area_m2.unwrap()["1"] > 0.0);
        // 2 × 65,536 distinct values: too many classes, and a sketch for the quantiles.
        let many = tiles_stats(cat, 2, |i, p| f64::from(i) * 1e6 + p as f64);
        assert!(many.too_many_classes && many.value_counts.is_none());
        assert_eq!(many.quantiles.unwrap().method, QuantileMethod::Kll);
    }

    #[test]
    fn large_layers_keep_only_the_sketch() {
        let small = Bucketing::for_layer(DataType::Float32, Datatype::Continuous, 256);
        let large = Bucketing::for_layer(DataType::Float32, Datatype::Continuous, 257);
        let method = |bk| {
            tiles_stats(bk, 2, |_, p| (p % 10) as f64)
                .quantiles
                .unwrap()
                .method
        };
        assert_eq!(
            (method(small), method(large)),
            (QuantileMethod::Exact, QuantileMethod::Kll)
        );
    }

    #[test]
    fn bucket_order_is_numeric_order() {
        let b = Bucketing::for_dtype(DataType::Float64);
        let vals = [-1e30, -2.0, -1e-9, 0.0, 1e-9, 3.5, 7e20];
        for w in vals.windows(2) {
            assert!(b.key(w[0]) < b.key(w[1]));
        }
        assert!((b.value(b.key(3.5)) - 3.5).abs() < 3.5 / 4096.0);
    }
}
