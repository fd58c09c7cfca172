//! Errors. A `ParseError` is always the formula author's fault (HTTP 400). An `EvalError`
//! is a mismatch between the formula and what the caller bound to it.

use thiserror::Error;

/// Why a formula was rejected: where, what the parser wanted there, and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("at byte {position}: expected {expected}, found {message}")]
pub struct ParseError {
    /// Byte offset into the formula.
    pub position: usize,
    /// What would have been accepted at `position` (or the limit that was broken).
    pub expected: String,
    /// What was found instead.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(
        position: usize,
        expected: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ParseError {
            position,
            expected: expected.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvalError {
    #[error("the formula uses variable \"{name}\", which no layer is bound to")]
    UnknownVariable { name: String },
    #[error(
        "variable \"{name}\" has {found} values (or {found_valid} validity flags), expected {expected}"
    )]
    LengthMismatch {
        name: String,
        expected: usize,
        found: usize,
        found_valid: usize,
    },
    #[error("no whole-layer value was supplied for {reduction}")]
    MissingReduction { reduction: String },
    #[error("{function} needs the grid's width and height (evaluate_grid)")]
    NeedsGrid { function: String },
    #[error("a grid of {width} × {height} cells has more cells than memory can address")]
    GridTooLarge { width: usize, height: usize },
}
