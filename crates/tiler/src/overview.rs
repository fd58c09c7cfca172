//! Whole-layer values a formula needs: reductions (`min(x)`, `mean(a - b)`) and the default
//! stretch of a formula's result, so that no tile depends on the tile grid.
//!
//! - A reduction of a bare variable comes from the band's statistics in the manifest:
//!   `min`, `max`, `mean`, `std` as stored, `sum` = `mean × count`, `median` the stored
//!   quantiles' 50th percentile (exact, numpy's, or a KLL sketch's within its rank error),
//!   or in manifests without quantiles from the 256-bin histogram (linear inside the bin
//!   holding the middle cell). Without statistics (or with an empty histogram, for
//!   `median`) it is computed like the next case.
//! - Anything else is evaluated over the coarsest overview: the tiles covering the common
//!   box of the layers involved at the largest of their minimum stored zooms, or a coarser
//!   zoom when that takes more than [`MAX_OVERVIEW_TILES`] tiles; valid, non-NaN cells are
//!   reduced with `ReduceFn::apply`.
//! - No valid cell gives NaN: the result is nodata wherever it depends on that value.
//!
//! Values are cached per `Service`, keyed by the canonical reduction and the bound layers'
//! ids, bands and versions, so a warm tile needs none of these reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use tilefn_algebra::{Expr, ReduceFn, Reduction, evaluate};
use tilefn_catalog::{BandStats, Histogram};
use tilefn_raster::{Bounds, TileCoord, mercator::tile_range};
use tilefn_storage::Bucket;

use crate::algebra::{Blocks, Columns, Layers};
use crate::query::AlgebraQuery;
use crate::{Service, TileError};

/// Most overview tiles read per layer for one whole-layer value.
pub const MAX_OVERVIEW_TILES: u64 = 4;

/// A reduction's value from stored band statistics, when they can answer it.
fn from_stats(func: ReduceFn, s: &BandStats) -> Option<f64> {
    Some(match func {
        ReduceFn::Min => s.min,
        ReduceFn::Max => s.max,
        ReduceFn::Mean => s.mean,
        ReduceFn::Std => s.std,
        ReduceFn::Sum => s.mean * s.count as f64,
        ReduceFn::Median => match s.quantiles.as_ref().and_then(|q| q.percentile(50.0)) {
            Some(m) => m,
            None => histogram_median(&s.histogram)?,
        },
    })
}

/// The median estimated from equal-width bins: the bin holding the middle cell, linearly.
fn histogram_median(h: &Histogram) -> Option<f64> {
    let total: u64 = h.counts.iter().sum();
    let ordered = h.max >= h.min; // false for NaN bounds too
    if total == 0 || !ordered {
        return None;
    }
    let half = total as f64 / 2.0;
    let width = (h.max - h.min) / h.counts.len() as f64;
    let mut below = 0.0;
    for (i, &c) in h.counts.iter().enumerate() {
        let c = c as f64;
        if c > 0.0 && below + c >= half {
            return Some(h.min + (i as f64 + (half - below) / c) * width);
        }
        below += c;
    }
    Some(h.max)
}

/// The tiles of the overview of `layers`: see the module documentation.
fn overview_tiles(layers: &[&crate::layer::Layer]) -> Vec<TileCoord> {
    let Some(zoom) = layers.iter().map(|l| l.stored_zooms().0).max() else {
        return Vec::new();
    };
    let mut common: Option<Bounds> = None;
    for l in layers {
        let b = l.bounds();
        common = match common {
            None => Some(b),
            Some(c) => match c.intersection(&b) {
                Some(i) => Some(i),
                None => return Vec::new(),
            },
        };
    }
    let Some(common) = common else {
        return Vec::new();
    };
    let mut z = zoom;
    loop {
        let Some(range) = tile_range(&common, z) else {
            return Vec::new();
        };
        if range.count() <= MAX_OVERVIEW_TILES || z == 0 {
            return range.iter().take(MAX_OVERVIEW_TILES as usize).collect();
        }
        z -= 1;
    }
}

impl<B: Bucket> Service<B> {
    /// Cache key of `func(arg)` under the query's bindings of `arg`'s variables.
    fn reduction_key(func: ReduceFn, arg: &Expr, q: &AlgebraQuery, layers: &Layers) -> String {
        let r = Reduction {
            func,
            arg: arg.clone(),
        };
        let mut key = r.canonical();
        for name in r.variables() {
            if let Some(b) = q.binding(&name) {
                let version = layers
                    .get(&b.layer)
                    .map_or("", |l| l.manifest.version.as_str());
                key.push_str(&format!("\n{}:{}={}@{version}", b.var, b.band, b.layer));
            }
        }
        key
    }

    /// Every reduction `expr` needs, by canonical text (innermost first, so `max(x - min(x))`
    /// can use `min(x)`).
    pub(crate) async fn gather_reductions(
        &self,
        expr: &Expr,
        q: &AlgebraQuery,
        layers: &Layers,
    ) -> Result<BTreeMap<String, f64>, TileError> {
        let mut known = BTreeMap::new();
        for r in expr.reductions().into_iter().rev() {
            let value = self
                .whole_layer(&[r.func], &r.arg, q, layers, &known)
                .await?;
            let v = value.first().copied().unwrap_or(f64::NAN);
            known.insert(r.canonical(), v);
        }
        Ok(known)
    }

    /// The default stretch of a formula's result, `min(F)..max(F)`; `None` when the layers
    /// have no data in common or the result is constant.
    pub(crate) async fn formula_range(
        &self,
        expr: &Expr,
        q: &AlgebraQuery,
        layers: &Layers,
    ) -> Result<Option<(f64, f64)>, TileError> {
        let known = self.gather_reductions(expr, q, layers).await?;
        let funcs = [ReduceFn::Min, ReduceFn::Max];
        let v = self.whole_layer(&funcs, expr, q, layers, &known).await?;
        Ok(match v.as_slice() {
            [lo, hi] if lo.is_finite() && hi.is_finite() && hi > lo => Some((*lo, *hi)),
            _ => None,
        })
    }

    /// `func(arg)` over the whole layers for each of `funcs` (cached), NaN when no cell is
    /// valid. `known` holds the reductions nested in `arg`.
    async fn whole_layer(
        &self,
        funcs: &[ReduceFn],
        arg: &Expr,
        q: &AlgebraQuery,
        layers: &Layers,
        known: &BTreeMap<String, f64>,
    ) -> Result<Vec<f64>, TileError> {
        let keys: Vec<String> = funcs
            .iter()
            .map(|f| Self::reduction_key(*f, arg, q, layers))
            .collect();
        let cached: Option<Vec<f64>> = keys
            .iter()
            .map(|k| self.reductions.get(k, 0.0, f64::INFINITY).map(|v| *v))
            .collect();
        if let Some(values) = cached {
            return Ok(values);
        }
        let values = match Self::stored_stats(funcs, arg, q, layers) {
            Some(values) => values,
            None => {
                let cells = self.overview_cells(arg, q, layers, known).await?;
                let valid = vec![true; cells.len()];
                funcs
                    .iter()
                    .map(|f| f.apply(&cells, &valid).unwrap_or(f64::NAN))
                    .collect()
            }
        };
        for (key, v) in keys.into_iter().zip(&values) {
            let size = key.len() + 64;
            self.reductions.put(key, Arc::new(*v), size, 0.0);
        }
        Ok(values)
    }

    /// The values from band statistics when `arg` is a bare variable and they answer every
    /// function.
    fn stored_stats(
        funcs: &[ReduceFn],
        arg: &Expr,
        q: &AlgebraQuery,
        layers: &Layers,
    ) -> Option<Vec<f64>> {
        let tilefn_algebra::Node::Variable(name) = &arg.node else {
            return None;
        };
        let b = q.binding(name)?;
        let stats = layers
            .get(&b.layer)?
            .manifest
            .bands
            .get(b.band)?
            .stats
            .as_ref()?;
        funcs.iter().map(|f| from_stats(*f, stats)).collect()
    }

    /// The valid, non-NaN cells of `arg` evaluated over the overview of its layers.
    async fn overview_cells(
        &self,
        arg: &Expr,
        q: &AlgebraQuery,
        layers: &Layers,
        known: &BTreeMap<String, f64>,
    ) -> Result<Vec<f64>, TileError> {
        let involved: Layers = arg
            .variables()
            .iter()
            .filter_map(|v| q.binding(v))
            .filter_map(|b| Some((b.layer.clone(), Arc::clone(layers.get(&b.layer)?))))
            .collect();
        if involved.is_empty() {
            // No variables (`max(3)`): the value itself, as numpy reduces a 0-d array.
            let blocks = Blocks::new();
            let columns = Columns::new(q, layers, &blocks, known, 1);
            let out =
                evaluate(arg, 1, &columns).map_err(|e| TileError::bad("formula", e.to_string()))?;
            return Ok(valid_cells(&out.values, &out.valid));
        }
        let refs: Vec<&crate::layer::Layer> = involved.values().map(|l| l.as_ref()).collect();
        let tiles = overview_tiles(&refs);
        let mut cells = Vec::new();
        // One overview tile at a time (its layers concurrently): memory stays one tile's worth.
        for t in tiles {
            if let Some(out) = self.formula_tile(arg, q, &involved, known, t).await? {
                cells.extend(valid_cells(&out.values, &out.valid));
            }
        }
        Ok(cells)
    }
}

fn valid_cells(values: &[f64], valid: &[bool]) -> Vec<f64> {
    values
        .iter()
        .zip(valid)
        .filter(|(v, ok)| **ok && !v.is_nan())
        .map(|(v, _)| *v)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_from_a_histogram() {
        let h = Histogram {
            min: 0.0,
            max: 4.0,
            counts: vec![1, 1, 1, 1],
        };
        assert_eq!(histogram_median(&h), Some(2.0));
        let skewed = Histogram {
            min: 0.0,
            max: 10.0,
            counts: vec![0, 8, 2, 0, 0, 0, 0, 0, 0, 0],
        };
        // 5 of 10 cells: 5/8 into the second bin (1..2).
        assert_eq!(histogram_median(&skewed), Some(1.625));
        let empty = Histogram {
            min: 0.0,
            max: 1.0,
            counts: vec![0; 4],
        };
        assert_eq!(histogram_median(&empty), None);
    }
}
