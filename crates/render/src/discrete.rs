//! django-raster's discrete colormaps (`band_data_to_image`): keys in insertion order, each a
//! number (pixels equal to it) or a formula in `x` (pixels where it is true); later keys
//! overwrite earlier ones, masked pixels never match, and every key counts its matches even
//! where a later key overwrote them.
//!
//! Compiled once per request: formulas are parsed up front, and for 8-bit layers every key
//! is evaluated once over all 256 values into a lookup table. A tile of integer values
//! (class data of any type) whose range is no larger than the tile gets the same table,
//! built over its range. Either way painting is one table read per pixel. Other tiles
//! evaluate each formula once, vectorised over all pixels (one pass per formula node), and
//! numeric keys through one hash lookup per pixel.

use rustc_hash::FxHashMap;
use tilefn_algebra::{Bindings, Column, Expr, ReduceFn, Reduction, evaluate};
use tilefn_raster::DataType;

use crate::error::RenderError;
use crate::spec::{Entry, python_float};

/// Most formula keys in one colormap: each costs a vectorised evaluation per tile.
pub const MAX_FORMULA_KEYS: usize = 64;
/// Most formula text across all keys: evaluation cost grows with formula size, and this
/// keeps a whole style no dearer than one maximal algebra formula (4096 bytes).
pub const MAX_FORMULA_BYTES: usize = 4096;

/// How many valid pixels of a tile one key selected (django-raster's `stats`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCount {
    pub key: String,
    pub count: u64,
}

#[derive(Debug, Clone)]
enum Matcher {
    Number(f64),
    Formula(Expr),
}

#[derive(Debug, Clone)]
struct Key {
    text: String,
    matcher: Matcher,
}

/// A compiled discrete colormap.
#[derive(Debug, Clone)]
pub(crate) struct Discrete {
    keys: Vec<Key>,
    /// `palette[0]` is transparent; key `i` paints `palette[i + 1]`.
    palette: Vec<[u8; 4]>,
    /// Whole-layer min and max, for formulas using `min(x)` / `max(x)`.
    layer_range: Option<(f64, f64)>,
    domain: Option<DomainLut>,
    /// Canonical text of the keys (formulas pretty-printed), for ETags.
    pub canonical: String,
}

/// The winning key (+1, 0 = none) of every integer value `lo..lo + len`.
#[derive(Debug, Clone)]
struct DomainLut {
    lo: f64,
    winner: Vec<u16>,
}

/// `x` bound to a tile's (or a domain's) values.
struct XBinding<'a> {
    values: &'a [f64],
    valid: &'a [bool],
    layer_range: Option<(f64, f64)>,
}

impl Bindings for XBinding<'_> {
    fn column(&self, name: &str) -> Option<Column<'_>> {
        (name == "x").then_some(Column {
            values: self.values,
            valid: self.valid,
            nodata: None,
        })
    }

    fn reduction(&self, r: &Reduction) -> Option<f64> {
        let (min, max) = self.layer_range?;
        match (r.func, r.bare_variable()) {
            (ReduceFn::Min, Some("x")) => Some(min),
            (ReduceFn::Max, Some("x")) => Some(max),
            _ => None,
        }
    }
}

impl Discrete {
    /// `param` names the query parameter blamed for a bad key.
    pub fn compile(
        entries: &[Entry],
        dtype: DataType,
        layer_range: Option<(f64, f64)>,
        param: &'static str,
    ) -> Result<Discrete, RenderError> {
        // Costs are checked before anything is parsed.
        let numbers: Vec<Option<f64>> = entries.iter().map(|e| python_float(&e.key)).collect();
        let formulas = || entries.iter().zip(&numbers).filter(|(_, n)| n.is_none());
        let (count, bytes) = (
            formulas().count(),
            formulas().map(|(e, _)| e.key.len()).sum::<usize>(),
        );
        if count > MAX_FORMULA_KEYS || bytes > MAX_FORMULA_BYTES {
            return Err(RenderError::bad(
                param,
                format!(
                    "{count} formula keys of {bytes} bytes is more than the {MAX_FORMULA_KEYS} \
                     keys or {MAX_FORMULA_BYTES} bytes allowed"
                ),
            ));
        }
        let mut keys = Vec::with_capacity(entries.len());
        for (e, number) in entries.iter().zip(numbers) {
            let matcher = match number {
                Some(n) => Matcher::Number(n),
                None => Matcher::Formula(parse_formula(&e.key, layer_range, param)?),
            };
            keys.push(Key {
                text: e.key.clone(),
                matcher,
            });
        }
        let canonical = canonical(&keys, entries);
        let mut d = Discrete {
            keys,
            palette: std::iter::once([0; 4])
                .chain(entries.iter().map(|e| e.color))
                .collect(),
            layer_range,
            domain: None,
            canonical,
        };
        d.domain = d.domain_lut(dtype);
        Ok(d)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.text.as_str())
    }

    /// Paints `values` into `out` (RGBA); with `counts`, also counts each key's matches.
    pub fn paint(
        &self,
        values: &[f64],
        valid: &[bool],
        out: &mut [u8],
        counts: Option<&mut [u64]>,
    ) {
        let mut hist = Vec::new();
        let want_hist = counts.is_some();
        let mut lut = self.domain.as_ref();
        let mut painted =
            lut.is_some_and(|l| self.paint_lut(l, values, valid, out, want_hist, &mut hist));
        let tile_lut;
        if !painted {
            tile_lut = self.tile_lut(values, valid);
            lut = tile_lut.as_ref();
            painted =
                lut.is_some_and(|l| self.paint_lut(l, values, valid, out, want_hist, &mut hist));
        }
        if painted {
            if let (Some(lut), Some(counts)) = (lut, counts) {
                self.count_by_histogram(lut, &hist, counts);
            }
            return;
        }
        let winners = self.winners(values, valid, counts);
        for (w, px) in winners.iter().zip(out.chunks_exact_mut(4)) {
            px.copy_from_slice(&self.color(*w));
        }
    }

    /// Paints through `lut`, filling `hist` (per domain value) when `want_hist`; `false` if a
    /// valid value is not an integer of the domain (e.g. algebra output), and the caller
    /// falls back (every pixel is painted again then).
    fn paint_lut(
        &self,
        lut: &DomainLut,
        values: &[f64],
        valid: &[bool],
        out: &mut [u8],
        want_hist: bool,
        hist: &mut Vec<u64>,
    ) -> bool {
        let colors: Vec<[u8; 4]> = lut.winner.iter().map(|w| self.color(*w)).collect();
        let len = colors.len() as f64;
        hist.clear();
        if want_hist {
            hist.resize(colors.len(), 0);
        }
        for ((v, ok), px) in values.iter().zip(valid).zip(out.chunks_exact_mut(4)) {
            if !*ok {
                px.copy_from_slice(&[0; 4]);
                continue;
            }
            let i = v - lut.lo;
            if !(i >= 0.0 && i < len && is_integral(i)) {
                return false;
            }
            let i = i as usize; // integral and below len
            px.copy_from_slice(&colors.get(i).copied().unwrap_or([0; 4]));
            if let Some(h) = hist.get_mut(i) {
                *h += 1;
            }
        }
        true
    }

    fn color(&self, winner: u16) -> [u8; 4] {
        self.palette
            .get(usize::from(winner))
            .copied()
            .unwrap_or([0; 4])
    }

    /// The winning key (+1) of each pixel, evaluating every key over the given values.
    fn winners(&self, values: &[f64], valid: &[bool], mut counts: Option<&mut [u64]>) -> Vec<u16> {
        let n = values.len().min(valid.len());
        let (values, valid) = (&values[..n], &valid[..n]);
        let mut winner = vec![0u16; n];
        if self
            .keys
            .iter()
            .all(|k| matches!(k.matcher, Matcher::Number(_)))
        {
            self.numeric_winners(values, valid, &mut winner, counts);
            return winner;
        }
        for (k, key) in self.keys.iter().enumerate() {
            // Keys are capped at MAX_ENTRIES (1024), so k + 1 fits u16.
            let id = (k + 1) as u16;
            let mut hits = 0u64;
            self.for_each_match(key, values, valid, |i| {
                if let Some(w) = winner.get_mut(i) {
                    *w = id;
                }
                hits += 1;
            });
            if let Some(c) = counts.as_deref_mut().and_then(|c| c.get_mut(k)) {
                *c = hits;
            }
        }
        winner
    }

    /// Calls `hit(i)` for every pixel `i` that `key` selects.
    fn for_each_match(
        &self,
        key: &Key,
        values: &[f64],
        valid: &[bool],
        mut hit: impl FnMut(usize),
    ) {
        match &key.matcher {
            Matcher::Number(c) => {
                for (i, (v, ok)) in values.iter().zip(valid).enumerate() {
                    if *ok && v == c {
                        hit(i);
                    }
                }
            }
            Matcher::Formula(expr) => {
                let env = XBinding {
                    values,
                    valid,
                    layer_range: self.layer_range,
                };
                // Compile checked the variables and reductions, so this only fails if the
                // algebra crate disagrees; then the key matches nothing.
                let Ok(out) = evaluate(expr, values.len().min(valid.len()), &env) else {
                    return;
                };
                let selected = out.values.iter().zip(&out.valid).zip(valid);
                for (i, ((r, r_ok), ok)) in selected.enumerate() {
                    // django-raster paints where the (masked) result == 1.
                    if *ok && *r_ok && *r == 1.0 {
                        hit(i);
                    }
                }
            }
        }
    }

    /// All keys numeric: one hash lookup per pixel instead of one pass per key.
    fn numeric_winners(
        &self,
        values: &[f64],
        valid: &[bool],
        winner: &mut [u16],
        counts: Option<&mut [u64]>,
    ) {
        // value bits -> (last key with that value, pixels seen)
        let mut by_value: FxHashMap<u64, (u16, u64)> = FxHashMap::default();
        for (k, key) in self.keys.iter().enumerate() {
            if let Matcher::Number(c) = key.matcher
                && !c.is_nan()
            {
                by_value.insert(number_bits(c), ((k + 1) as u16, 0));
            }
        }
        for ((v, ok), w) in values.iter().zip(valid).zip(winner.iter_mut()) {
            if *ok && let Some((id, seen)) = by_value.get_mut(&number_bits(*v)) {
                *w = *id;
                *seen += 1;
            }
        }
        if let Some(counts) = counts {
            for (key, c) in self.keys.iter().zip(counts.iter_mut()) {
                *c = match key.matcher {
                    Matcher::Number(n) => by_value.get(&number_bits(n)).map_or(0, |e| e.1),
                    Matcher::Formula(_) => 0,
                };
            }
        }
    }

    /// For 8-bit layers: every key evaluated once, at compile time, over all 256 values.
    /// (16-bit domains are as large as a tile, so they are built per tile, over the tile's
    /// own range, by [`Discrete::tile_lut`].)
    fn domain_lut(&self, dtype: DataType) -> Option<DomainLut> {
        if !matches!(dtype, DataType::Uint8 | DataType::Int8) {
            return None;
        }
        let (lo, hi) = dtype.range();
        Some(self.lut_over(lo, (hi - lo) as usize + 1))
    }

    /// When every valid value is an integer and the tile's range holds no more values than
    /// the tile has pixels (class data, whatever its type): every key evaluated once over
    /// that range, so painting is a table lookup and numeric keys need no hashing.
    fn tile_lut(&self, values: &[f64], valid: &[bool]) -> Option<DomainLut> {
        let mut range: Option<(f64, f64)> = None;
        for (v, ok) in values.iter().zip(valid) {
            if !*ok {
                continue;
            }
            if !is_integral(*v) {
                return None;
            }
            range = Some(range.map_or((*v, *v), |(lo, hi)| (v.min(lo), v.max(hi))));
        }
        let (lo, hi) = range?;
        let len = hi - lo + 1.0;
        (len <= values.len() as f64 && len <= 65536.0).then(|| self.lut_over(lo, len as usize))
    }

    fn lut_over(&self, lo: f64, len: usize) -> DomainLut {
        let domain: Vec<f64> = (0..len).map(|i| lo + i as f64).collect();
        let valid = vec![true; len];
        DomainLut {
            lo,
            winner: self.winners(&domain, &valid, None),
        }
    }

    /// Counts from the tile's histogram over the domain: each key is tested once per
    /// distinct value present, not once per pixel.
    fn count_by_histogram(&self, lut: &DomainLut, hist: &[u64], counts: &mut [u64]) {
        let present: Vec<usize> = (0..hist.len()).filter(|i| hist[*i] > 0).collect();
        let values: Vec<f64> = present.iter().map(|i| lut.lo + *i as f64).collect();
        let valid = vec![true; values.len()];
        for (key, c) in self.keys.iter().zip(counts.iter_mut()) {
            let mut total = 0;
            self.for_each_match(key, &values, &valid, |j| {
                total += present
                    .get(j)
                    .and_then(|i| hist.get(*i))
                    .copied()
                    .unwrap_or(0);
            });
            *c = total;
        }
    }
}

/// Whether `v` is a whole number in i64's range (false for NaN and infinities; values past
/// i64 just take the slower general path). A round trip through i64
/// rather than `fract()`, which is a libm call per pixel on baseline x86-64.
fn is_integral(v: f64) -> bool {
    (v as i64) as f64 == v
}

/// Equal numbers, equal bits: -0.0 and 0.0 compare equal in numpy, so fold them.
fn number_bits(v: f64) -> u64 {
    if v == 0.0 { 0 } else { v.to_bits() }
}

fn parse_formula(
    key: &str,
    layer_range: Option<(f64, f64)>,
    param: &'static str,
) -> Result<Expr, RenderError> {
    let bad = |m: String| RenderError::bad(param, format!("key {key:?}: {m}"));
    let expr = Expr::parse(key).map_err(|e| bad(e.to_string()))?;
    if let Some(other) = expr.variables().into_iter().find(|v| v != "x") {
        return Err(bad(format!(
            "unknown variable {other:?} (legend formulas use x, the pixel value)"
        )));
    }
    for r in expr.reductions() {
        let supported =
            matches!(r.func, ReduceFn::Min | ReduceFn::Max) && r.bare_variable() == Some("x");
        if !supported {
            return Err(bad(format!(
                "{} is not available in a legend (only min(x) and max(x))",
                r.canonical()
            )));
        }
        if layer_range.is_none() {
            return Err(bad(format!("{} needs layer statistics", r.canonical())));
        }
    }
    Ok(expr)
}

fn canonical(keys: &[Key], entries: &[Entry]) -> String {
    let items: Vec<serde_json::Value> = keys
        .iter()
        .zip(entries)
        .map(|(k, e)| {
            let key = match &k.matcher {
                Matcher::Number(n) => format!("{n:?}"),
                Matcher::Formula(expr) => expr.to_string(),
            };
            let [r, g, b, a] = e.color;
            serde_json::json!([key, format!("{r:02x}{g:02x}{b:02x}{a:02x}")])
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_check() {
        for v in [0.0, -0.0, 3.0, -128.0, 65535.0, 1e15] {
            assert!(is_integral(v), "{v}");
        }
        for v in [
            0.5,
            -2.25,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
        ] {
            assert!(!is_integral(v), "{v}");
        }
    }
}
