//! django-raster's raster algebra, made strict: a nom parser to a spanned syntax tree, a
//! checker, and a vectorised evaluator over whole tiles with validity masks.
//!
//! ```
//! use tilefn_algebra::{evaluate, Bindings, Column, Expr, Reduction};
//!
//! struct Tile { a: Vec<f64>, b: Vec<f64>, valid: Vec<bool> }
//! impl Bindings for Tile {
//!     fn column(&self, name: &str) -> Option<Column<'_>> {
//!         let values = match name { "a" => &self.a, "b" => &self.b, _ => return None };
//!         Some(Column { values, valid: &self.valid, nodata: None })
//!     }
//!     fn reduction(&self, _: &Reduction) -> Option<f64> { None }
//! }
//!
//! let expr = Expr::parse("(a - b) / (a + b)").unwrap();
//! assert_eq!(expr.variables(), ["a", "b"]);
//! let tile = Tile { a: vec![3.0, 1.0], b: vec![1.0, 1.0], valid: vec![true, false] };
//! let out = evaluate(&expr, 2, &tile).unwrap();
//! assert_eq!(out.values[0], 0.5);
//! assert_eq!(out.valid, [true, false]);
//! ```
//!
//! The language, and where it deliberately differs from django-raster, is described in
//! `docs/algebra.md`.

mod ast;
mod check;
mod error;
mod eval;
mod focal;
mod grid_eval;
mod kernels;
mod limits;
mod neighborhood;
mod parse_focal;
mod parser;
mod reduce;
mod terrain;

use std::collections::BTreeSet;

pub use ast::{BinaryOp, Constant, Expr, Func, Node, ReduceFn, Span, UNARY_PRECEDENCE, UnaryOp};
pub use error::{EvalError, ParseError};
pub use eval::{Bindings, Column, Output};
pub use focal::focal;
pub use grid_eval::{evaluate, evaluate_grid, evaluate_grid_inside};
pub use limits::Limits;
pub use neighborhood::{FocalStat, Grid, MAX_RADIUS, Method, Shape, TerrainOp, TerrainSettings};
pub use parser::is_valid_variable_name;
pub use reduce::Reduction;
pub use terrain::{terrain, terrain_inside};

impl Expr {
    /// Parses and checks a formula under the default [`Limits`].
    pub fn parse(src: &str) -> Result<Expr, ParseError> {
        Expr::parse_with(src, &Limits::default())
    }

    /// Parses and checks a formula under the given limits.
    pub fn parse_with(src: &str, limits: &Limits) -> Result<Expr, ParseError> {
        if src.len() > limits.max_len {
            return Err(ParseError::new(
                limits.max_len,
                format!("at most {} bytes (formula length limit)", limits.max_len),
                format!("{} bytes", src.len()),
            ));
        }
        let expr = parser::Parser::new(src, limits).parse_formula()?;
        check::check(&expr, limits)?;
        Ok(expr)
    }

    /// The variables (layers or bands) the formula reads, sorted and unique.
    pub fn variables(&self) -> Vec<String> {
        let mut names = BTreeSet::new();
        check::collect_variables(self, &mut names);
        names.into_iter().collect()
    }

    /// Cells past a tile the formula reads: the halo a tile is read with (0 without
    /// neighbourhood functions). Reductions over layers are whole-layer values, not part
    /// of it.
    pub fn halo(&self) -> u32 {
        check::halo(self)
    }

    /// Weighted neighbour visits per evaluated cell (0 without neighbourhood functions):
    /// times the cells of a tile and its halo, the work a tile costs beyond plain algebra.
    pub fn neighbourhood_work(&self) -> u64 {
        check::neighbourhood_work(self)
    }

    /// The whole-layer reductions over variables that [`Bindings::reduction`] must supply,
    /// outermost first, each once (by canonical text). Nested ones are listed too: the
    /// caller may need `min(x)` to compute `max(x - min(x))`.
    pub fn reductions(&self) -> Vec<Reduction> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        collect_reductions(self, &mut seen, &mut out);
        out
    }
}

fn collect_reductions(expr: &Expr, seen: &mut BTreeSet<String>, out: &mut Vec<Reduction>) {
    if let Node::Reduce(func, arg) = &expr.node {
        let r = Reduction {
            func: *func,
            arg: (**arg).clone(),
        };
        if !r.variables().is_empty() && seen.insert(r.canonical()) {
            out.push(r);
        }
    }
    for child in expr.children() {
        collect_reductions(child, seen, out);
    }
}
