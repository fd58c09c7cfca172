//! Evaluation on a grid: the neighbourhood functions of a formula are computed over the
//! whole grid first (each needs its argument at every cell around a cell), then the
//! element-wise tree runs block by block over their results (`eval.rs`).

use crate::ast::{Expr, Node};
use crate::error::EvalError;
use crate::eval::{Bindings, Column, Neighbourhoods, Output, evaluate_blocks};
use crate::focal::focal;
use crate::kernels;
use crate::neighborhood::Grid;
use crate::terrain::{terrain, terrain_inside};

/// Evaluates `expr` over `len` cells. Every bound column must have exactly `len` values.
/// A formula with neighbourhood functions needs the grid's shape: see [`evaluate_grid`].
pub fn evaluate(expr: &Expr, len: usize, env: &dyn Bindings) -> Result<Output, EvalError> {
    evaluate_on(expr, len, None, env)
}

/// Evaluates `expr` over the cells of `grid` (a tile and its halo, row-major). Every
/// bound column must have exactly `grid.cells()` values. Cells within the formula's
/// [`Expr::halo`] of the grid's edge see a cut neighbourhood; the caller keeps the inside.
pub fn evaluate_grid(expr: &Expr, grid: &Grid, env: &dyn Bindings) -> Result<Output, EvalError> {
    let cells = grid.cells().ok_or(EvalError::GridTooLarge {
        width: grid.width,
        height: grid.height,
    })?;
    evaluate_on(expr, cells, Some(grid), env)
}

/// [`evaluate_grid`] of the cells at least `margin` cells inside the grid's frame: the
/// `(width - 2 margin) × (height - 2 margin)` cells a tile read with a `margin`-cell halo
/// keeps, row-major. A formula that is one terrain function (`hillshade(a)`) computes those
/// cells only; any other is evaluated over the grid and cropped.
pub fn evaluate_grid_inside(
    expr: &Expr,
    grid: &Grid,
    margin: usize,
    env: &dyn Bindings,
) -> Result<Output, EvalError> {
    let cells = grid.cells().ok_or(EvalError::GridTooLarge {
        width: grid.width,
        height: grid.height,
    })?;
    if let Node::Terrain(op, arg) = &expr.node {
        let mut done = Neighbourhoods::new();
        neighbourhoods(arg, cells, Some(grid), env, &mut done)?;
        let input = argument(arg, cells, env, &done)?;
        let (input, input_valid) = input.cells();
        // Its cells are valid exactly where they are not NaN already.
        let (values, valid) = terrain_inside(*op, grid, input, input_valid, margin);
        return Ok(Output { values, valid });
    }
    let out = evaluate_on(expr, cells, Some(grid), env)?;
    Ok(crop(out, grid.width, grid.height, margin))
}

/// The cells of a `width × height` result at least `margin` inside its frame.
fn crop(out: Output, width: usize, height: usize, margin: usize) -> Output {
    if margin == 0 {
        return out;
    }
    let inside = |side: usize| side.saturating_sub(margin.saturating_mul(2));
    let cells = inside(width) * inside(height);
    let mut values = Vec::with_capacity(cells);
    let mut valid = Vec::with_capacity(cells);
    for row in margin..height.saturating_sub(margin) {
        let start = row * width + margin;
        let columns = start..start + inside(width);
        if let (Some(v), Some(ok)) = (out.values.get(columns.clone()), out.valid.get(columns)) {
            values.extend_from_slice(v);
            valid.extend_from_slice(ok);
        }
    }
    Output { values, valid }
}

/// What a neighbourhood function reads: a bare variable's column in place (`slope(a)`;
/// evaluating it would copy the column, and the kernels treat NaN as invalid, as the copy
/// would have), or its argument evaluated.
enum Argument<'a> {
    Bound(Column<'a>),
    Evaluated(Output),
}

impl Argument<'_> {
    fn cells(&self) -> (&[f64], &[bool]) {
        match self {
            Argument::Bound(column) => (column.values, column.valid),
            Argument::Evaluated(out) => (&out.values, &out.valid),
        }
    }
}

fn argument<'a>(
    arg: &Expr,
    len: usize,
    env: &'a dyn Bindings,
    done: &Neighbourhoods,
) -> Result<Argument<'a>, EvalError> {
    let bound = match &arg.node {
        Node::Variable(name) => env
            .column(name)
            .filter(|c| c.values.len() == len && c.valid.len() == len),
        _ => None,
    };
    match bound {
        Some(column) => Ok(Argument::Bound(column)),
        None => Ok(Argument::Evaluated(evaluate_blocks(arg, len, env, done)?)),
    }
}

fn evaluate_on(
    expr: &Expr,
    len: usize,
    grid: Option<&Grid>,
    env: &dyn Bindings,
) -> Result<Output, EvalError> {
    let mut done = Neighbourhoods::new();
    neighbourhoods(expr, len, grid, env, &mut done)?;
    if let Node::Focal(..) | Node::Terrain(..) = expr.node
        && let Some(mut out) = done.remove(&expr.to_string())
    {
        // The whole formula is one neighbourhood function (`hillshade(a)`): its result is
        // the answer, without another pass copying it block by block.
        kernels::invalidate_nan(&mut out.valid, &out.values);
        return Ok(out);
    }
    evaluate_blocks(expr, len, env, &done)
}

/// Computes every neighbourhood function of `expr` over the whole grid, innermost first:
/// unlike the element-wise tree, a neighbourhood needs its argument at every cell around a
/// cell, so its argument is evaluated completely before it.
fn neighbourhoods(
    expr: &Expr,
    len: usize,
    grid: Option<&Grid>,
    env: &dyn Bindings,
    done: &mut Neighbourhoods,
) -> Result<(), EvalError> {
    if let Node::Reduce(_, arg) = &expr.node
        && !arg.variables().is_empty()
    {
        // A whole-layer value from the caller: nothing in it runs on this grid.
        return Ok(());
    }
    for child in expr.children() {
        neighbourhoods(child, len, grid, env, done)?;
    }
    let (Node::Focal(_, _, arg) | Node::Terrain(_, arg)) = &expr.node else {
        return Ok(());
    };
    let key = expr.to_string();
    if done.contains_key(&key) {
        return Ok(());
    }
    let Some(grid) = grid else {
        return Err(EvalError::NeedsGrid { function: key });
    };
    let input = argument(arg, len, env, done)?;
    let (input, input_valid) = input.cells();
    let (values, valid) = match &expr.node {
        Node::Focal(stat, shape, _) => {
            focal(*stat, shape, input, input_valid, grid.width, grid.height)
        }
        Node::Terrain(op, _) => terrain(*op, grid, input, input_valid),
        _ => return Ok(()),
    };
    done.insert(key, Output { values, valid });
    Ok(())
}
