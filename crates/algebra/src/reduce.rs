//! Whole-layer reductions: `min(x)`, `mean(a - b)`, ... django-raster reduces the array it
//! was given, which in a tile service is the tile, so every tile would get its own "min".
//! We reduce over the whole layer instead; the evaluator asks the caller for the number
//! (see `docs/algebra.md`, "Reductions").

use std::collections::BTreeSet;

use crate::ast::{Expr, ReduceFn};
use crate::check::collect_variables;

/// One reduction the caller must supply: the function and its argument expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Reduction {
    pub func: ReduceFn,
    pub arg: Expr,
}

impl Reduction {
    /// Stable text, e.g. `mean(a - b)`: a cache key, and what error messages show.
    pub fn canonical(&self) -> String {
        format!("{}({})", self.func.name(), self.arg)
    }

    /// Variables the argument reads (sorted, unique).
    pub fn variables(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        collect_variables(&self.arg, &mut names);
        names.into_iter().collect()
    }

    /// `Some("x")` for `min(x)`: then the layer's stored statistics can answer directly.
    pub fn bare_variable(&self) -> Option<&str> {
        match &self.arg.node {
            crate::ast::Node::Variable(name) => Some(name),
            _ => None,
        }
    }
}

impl ReduceFn {
    /// Reduces the valid, non-NaN cells; `None` when there are none. Callers that compute a
    /// reduction themselves (from an overview) use this so the definitions stay in one place.
    pub fn apply(self, values: &[f64], valid: &[bool]) -> Option<f64> {
        let mut cells: Vec<f64> = values
            .iter()
            .zip(valid)
            .filter(|(v, ok)| **ok && !v.is_nan())
            .map(|(v, _)| *v)
            .collect();
        if cells.is_empty() {
            return None;
        }
        let n = cells.len() as f64;
        Some(match self {
            ReduceFn::Min => cells.iter().copied().fold(f64::INFINITY, f64::min),
            ReduceFn::Max => cells.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ReduceFn::Sum => cells.iter().sum(),
            ReduceFn::Mean => cells.iter().sum::<f64>() / n,
            ReduceFn::Std => {
                let mean = cells.iter().sum::<f64>() / n;
                (cells.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
            }
            ReduceFn::Median => {
                cells.sort_by(f64::total_cmp);
                let mid = cells.len() / 2;
                match (cells.get(mid.wrapping_sub(1)), cells.get(mid)) {
                    (Some(lo), Some(hi)) if cells.len().is_multiple_of(2) => (lo + hi) / 2.0,
                    (_, Some(m)) => *m,
                    _ => return None,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_skip_invalid_and_nan_cells() {
        let values = [4.0, f64::NAN, 1.0, 100.0, 3.0, 2.0];
        let valid = [true, true, true, false, true, true];
        assert_eq!(ReduceFn::Min.apply(&values, &valid), Some(1.0));
        assert_eq!(ReduceFn::Max.apply(&values, &valid), Some(4.0));
        assert_eq!(ReduceFn::Sum.apply(&values, &valid), Some(10.0));
        assert_eq!(ReduceFn::Mean.apply(&values, &valid), Some(2.5));
        assert_eq!(ReduceFn::Median.apply(&values, &valid), Some(2.5));
        assert_eq!(
            ReduceFn::Median.apply(&[3.0, 1.0, 2.0], &[true; 3]),
            Some(2.0)
        );
        let std = ReduceFn::Std.apply(&values, &valid).unwrap_or(f64::NAN);
        assert!((std - 1.25f64.sqrt()).abs() < 1e-12);
        assert_eq!(ReduceFn::Mean.apply(&[1.0], &[false]), None);
        assert_eq!(ReduceFn::Median.apply(&[], &[]), None);
    }

    #[test]
    fn reduction_names_itself() {
        let Ok(expr) = crate::Expr::parse("mean(b - a)") else {
            panic!("parse")
        };
        let reductions = expr.reductions();
        assert_eq!(reductions.len(), 1);
        assert_eq!(reductions[0].canonical(), "mean(b - a)");
        assert_eq!(reductions[0].variables(), ["a", "b"]);
        assert_eq!(reductions[0].bare_variable(), None);
        // A reduction without variables needs nothing from the caller.
        assert!(crate::Expr::parse("max(3) + x").is_ok_and(|e| e.reductions().is_empty()));
    }
}
