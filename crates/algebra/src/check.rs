//! Checks after parsing that the grammar cannot express: where `NULL` may stand, how many
//! distinct variables a formula reads, and how far past a tile its neighbourhoods reach.

use std::collections::BTreeSet;

use crate::ast::{BinaryOp, Expr, Node};
use crate::error::ParseError;
use crate::limits::Limits;

pub(crate) fn check(expr: &Expr, limits: &Limits) -> Result<(), ParseError> {
    check_null(expr, false)?;
    let mut names = BTreeSet::new();
    collect_variables(expr, &mut names);
    if names.len() > limits.max_vars {
        return Err(ParseError::new(
            expr.span.start,
            format!(
                "at most {} distinct variables (formula variable limit)",
                limits.max_vars
            ),
            format!("{} variables", names.len()),
        ));
    }
    let halo = widest_halo(expr);
    if halo > limits.max_halo {
        return Err(ParseError::new(
            expr.span.start,
            format!(
                "neighbourhoods reaching at most {} cells past a tile in all (formula halo limit)",
                limits.max_halo
            ),
            format!("a halo of {halo} cells"),
        ));
    }
    Ok(())
}

/// Whether a reduction is answered whole-layer by the caller (it reads variables), so the
/// neighbourhoods inside it are not part of a tile's evaluation.
fn is_whole_layer(expr: &Expr) -> bool {
    if let Node::Reduce(..) = expr.node {
        let mut names = BTreeSet::new();
        collect_variables(expr, &mut names);
        return !names.is_empty();
    }
    false
}

/// The widest halo of the formula and of every whole-layer reduction in it (each is
/// evaluated tile by tile with its own halo).
fn widest_halo(expr: &Expr) -> u32 {
    let own = match &expr.node {
        Node::Reduce(_, arg) => halo(arg),
        _ => halo(expr),
    };
    expr.children()
        .into_iter()
        .map(widest_halo)
        .fold(own, u32::max)
}

/// Cells past the tile the formula reads: the sum of the neighbourhood reaches along its
/// deepest chain (`slope(focal_mean(x, 5))` reaches 1 + 2).
pub(crate) fn halo(expr: &Expr) -> u32 {
    if is_whole_layer(expr) {
        return 0;
    }
    let inner = expr.children().into_iter().map(halo).max().unwrap_or(0);
    let own = match &expr.node {
        Node::Focal(_, shape, _) => shape.reach(),
        Node::Terrain(..) => 1,
        _ => 0,
    };
    inner.saturating_add(own)
}

/// Neighbour visits per evaluated cell, weighted by the cost of each statistic: the
/// formula's neighbourhood work, which a caller multiplies by the cells it evaluates.
pub(crate) fn neighbourhood_work(expr: &Expr) -> u64 {
    if is_whole_layer(expr) {
        return 0;
    }
    let inner: u64 = expr.children().into_iter().map(neighbourhood_work).sum();
    let own = match &expr.node {
        Node::Focal(stat, shape, _) => shape.offsets().len() as u64 * stat.weight(),
        Node::Terrain(..) => 9,
        _ => 0,
    };
    inner.saturating_add(own)
}

/// `NULL` may only be a direct operand of `==` or `!=`, and not on both sides: `x == NULL`
/// asks "is x nodata here?"; anything else has no meaning (django-raster rejects it too).
fn check_null(expr: &Expr, null_allowed: bool) -> Result<(), ParseError> {
    match &expr.node {
        Node::Null if !null_allowed => Err(ParseError::new(
            expr.span.start,
            "NULL only as an operand of `==` or `!=`",
            "NULL used elsewhere",
        )),
        Node::Binary(op @ (BinaryOp::Eq | BinaryOp::Ne), l, r) => {
            if matches!(l.node, Node::Null) && matches!(r.node, Node::Null) {
                return Err(ParseError::new(
                    r.span.start,
                    format!("an expression on one side of `{}` NULL", op.symbol()),
                    "NULL on both sides",
                ));
            }
            check_null(l, true)?;
            check_null(r, true)
        }
        _ => expr
            .children()
            .into_iter()
            .try_for_each(|c| check_null(c, false)),
    }
}

pub(crate) fn collect_variables(expr: &Expr, names: &mut BTreeSet<String>) {
    if let Node::Variable(name) = &expr.node {
        names.insert(name.clone());
    }
    for child in expr.children() {
        collect_variables(child, names);
    }
}
