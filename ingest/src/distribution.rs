//! Whole-layer distributions that statistics merge across tiles and units: the exact
//! multiset of values (while it stays small enough), and the classes of categorical and mask
//! layers with their pixel counts and ground areas.
//!
//! Both give up past a cap, and both caps are decided by the merged content alone (a part
//! over the cap means the whole is too), so a layer's result is the same however its tiles
//! were grouped into units.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use tilefn_raster::{TILE_SIZE, TileCoord, mercator};

/// Distinct values kept for exact quantiles. A value costs 16 bytes here (value, count) and
/// about 40 in a unit's JSON result, so a band stays within 16 MB in memory and ~40 MB on
/// disk; a 4-band float scene peaks near 64 MB per merge on top of the 256 MB chunk cache.
/// 8- and 16-bit integers and categorical layers need none of this (their buckets and
/// classes are exact, see `stats.rs`).
pub const MAX_EXACT_VALUES: usize = 1 << 20;

/// Exact values are kept only for layers of at most this many max-zoom tiles (16.7 M
/// pixels): such a layer has a few stage-0 units, so their results stay a few tens of MB.
/// A larger layer would have up to ~40 MB of JSON per unit and band in the store (a
/// world-wide layer has hundreds of units) and could rarely stay under
/// [`MAX_EXACT_VALUES`] anyway; it keeps only the sketch, at no extra cost.
pub const MAX_EXACT_TILES: u64 = 256;

/// Distinct values with their counts, ascending; `None` once over [`MAX_EXACT_VALUES`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactValues(pub Option<Vec<(f64, u64)>>);

impl Default for ExactValues {
    fn default() -> Self {
        ExactValues(Some(Vec::new()))
    }
}

impl ExactValues {
    /// The multiset of `sorted` (ascending, no NaN; -0 counts as 0).
    pub fn from_sorted(sorted: &[f64]) -> ExactValues {
        let mut runs: Vec<(f64, u64)> = Vec::new();
        for &v in sorted {
            let v = v + 0.0;
            match runs.last_mut() {
                Some((last, c)) if *last == v => *c += 1,
                _ => runs.push((v, 1)),
            }
        }
        ExactValues((runs.len() <= MAX_EXACT_VALUES).then_some(runs))
    }

    /// Adds `o`'s values; `None` on either side, or a union over the cap, gives `None`.
    pub fn merge(&mut self, o: &ExactValues) {
        let (Some(a), Some(b)) = (&self.0, &o.0) else {
            self.0 = None;
            return;
        };
        if b.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        loop {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    out.push((x.0, x.1 + y.1));
                    (i, j) = (i + 1, j + 1);
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    out.push(*x);
                    i += 1;
                }
                (Some(x), None) => {
                    out.push(*x);
                    i += 1;
                }
                (_, Some(y)) => {
                    out.push(*y);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        self.0 = (out.len() <= MAX_EXACT_VALUES).then_some(out);
    }
}

/// Fixed-point scale of ground areas: integer sums are exact, so a class's area does not
/// depend on the order tiles were merged in. 2^-40 m² per unit resolves a z24 pixel
/// (~5·10^-5 m²) to 10^-8 of itself; the whole Earth is ~2^89 units, well within u128.
const AREA_SCALE: f64 = (1u64 << 40) as f64;

/// Counts and ground areas per distinct value; `None` once over `MAX_CLASSES`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classes(#[serde(with = "classes_serde")] pub Option<FxHashMap<u64, (u64, u128)>>);

impl Default for Classes {
    fn default() -> Self {
        Classes(Some(FxHashMap::default()))
    }
}

impl Classes {
    /// The classes of one max-zoom tile `t`: `values` row-major (`TILE_SIZE` wide), `ok`
    /// whether each is valid.
    pub fn of_tile(t: TileCoord, values: &[f64], ok: impl Fn(usize, f64) -> bool) -> Classes {
        let mut map: FxHashMap<u64, (u64, u128)> = FxHashMap::default();
        let width = TILE_SIZE as usize;
        for (r, row) in values.chunks(width).enumerate() {
            let area = row_area_fixed(t, r);
            for (c, &v) in row.iter().enumerate() {
                if ok(r * width + c, v) {
                    let e = map.entry((v + 0.0).to_bits()).or_insert((0, 0));
                    e.0 += 1;
                    e.1 += area;
                }
            }
        }
        Classes((map.len() <= tilefn_catalog::MAX_CLASSES).then_some(map))
    }

    /// Adds `o`'s counts and areas; `None` on either side, or a union over the cap, gives
    /// `None`.
    pub fn merge(&mut self, o: &Classes) {
        let (Some(a), Some(b)) = (&mut self.0, &o.0) else {
            self.0 = None;
            return;
        };
        for (k, (n, area)) in b {
            let e = a.entry(*k).or_insert((0, 0));
            e.0 += n;
            e.1 += area;
        }
        if a.len() > tilefn_catalog::MAX_CLASSES {
            self.0 = None;
        }
    }

    /// Ascending by value: (value, pixels, area in m²).
    pub fn sorted(&self) -> Option<Vec<(f64, u64, f64)>> {
        let map = self.0.as_ref()?;
        let mut v: Vec<(f64, u64, f64)> = map
            .iter()
            .map(|(k, (n, a))| (f64::from_bits(*k), *n, *a as f64 / AREA_SCALE))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some(v)
    }
}

/// The ground area of one pixel of row `r` of tile `t`, in 2^-40 m²: `(res · cos φ)²`, φ
/// the latitude of the row's centre (a Web-Mercator pixel's scale factor is 1 / cos φ).
pub fn row_area_fixed(t: TileCoord, r: usize) -> u128 {
    let res = mercator::resolution(t.z);
    let y = mercator::ORIGIN_SHIFT - (f64::from(t.y) * f64::from(TILE_SIZE) + r as f64 + 0.5) * res;
    let phi = (y / mercator::EARTH_RADIUS).sinh().atan();
    let side = res * phi.cos();
    (side * side * AREA_SCALE).round() as u128
}

/// Classes as a sorted list of `[value bits, count, area]`, the area a decimal string
/// (JSON numbers lose integers above 2^53).
mod classes_serde {
    use rustc_hash::FxHashMap;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    type Map = FxHashMap<u64, (u64, u128)>;

    pub fn serialize<S: Serializer>(m: &Option<Map>, s: S) -> Result<S::Ok, S::Error> {
        let pairs: Option<Vec<(u64, u64, String)>> = m.as_ref().map(|m| {
            let mut v: Vec<(u64, u64, String)> = m
                .iter()
                .map(|(k, (n, a))| (*k, *n, a.to_string()))
                .collect();
            v.sort_unstable();
            v
        });
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Map>, D::Error> {
        let pairs = Option::<Vec<(u64, u64, String)>>::deserialize(d)?;
        pairs
            .map(|p| {
                p.into_iter()
                    .map(|(k, n, a)| {
                        let a = a.parse::<u128>().map_err(serde::de::Error::custom)?;
                        Ok((k, (n, a)))
                    })
                    .collect()
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_values_merge_and_give_up_past_the_cap() {
        let mut a = ExactValues::from_sorted(&[-0.0, 0.0, 1.0, 1.0, 3.0]);
        a.merge(&ExactValues::from_sorted(&[0.5, 1.0, 4.0]));
        assert_eq!(
            a.0,
            Some(vec![(0.0, 2), (0.5, 1), (1.0, 3), (3.0, 1), (4.0, 1)])
        );
        a.merge(&ExactValues::default());
        assert_eq!(a.0.as_ref().map(Vec::len), Some(5));
        let many: Vec<f64> = (0..=MAX_EXACT_VALUES).map(|i| i as f64).collect();
        let big = ExactValues::from_sorted(&many);
        assert_eq!(big.0, None);
        a.merge(&big);
        assert_eq!(a.0, None);
    }

    #[test]
    fn row_areas_shrink_with_latitude() {
        // z0 row 128 straddles the equator: its centre is half a pixel south.
        let equator = row_area_fixed(TileCoord::new(1, 0, 1), 0) as f64 / AREA_SCALE;
        let res = mercator::resolution(1);
        assert!((equator / (res * res) - 1.0).abs() < 1e-4, "{equator}");
        let north = row_area_fixed(TileCoord::new(1, 0, 0), 0) as f64 / AREA_SCALE;
        assert!(north < equator / 100.0);
    }

    #[test]
    fn classes_count_areas_exactly_and_serialise() {
        let t = TileCoord::new(10, 3, 200);
        let mut vals = vec![1.0; 256 * 256];
        vals[5] = 2.5;
        vals[256 * 7] = -0.0;
        let c = Classes::of_tile(t, &vals, |i, _| i != 9);
        let s = c.sorted().unwrap();
        assert_eq!(
            s.iter().map(|x| (x.0, x.1)).collect::<Vec<_>>(),
            vec![(0.0, 1), (1.0, 65_533), (2.5, 1)]
        );
        let row7 = row_area_fixed(t, 7) as f64 / AREA_SCALE;
        assert!((s[0].2 - row7).abs() <= row7 * 1e-12);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Classes>(&json).unwrap(), c);
        let mut m = c.clone();
        m.merge(&Classes(None));
        assert_eq!(m.sorted(), None);
    }
}
