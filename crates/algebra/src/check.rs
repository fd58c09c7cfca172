//! Checks after parsing that the grammar cannot express: where `NULL` may stand, and how
//! many distinct variables a formula reads.

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
    Ok(())
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
