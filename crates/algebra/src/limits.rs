//! Resource limits for untrusted formulas. Breaking one is a [`crate::ParseError`] that
//! names the limit, so the HTTP layer answers 400.

/// Limits applied by [`crate::Expr::parse_with`]. The defaults suit a URL parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest formula in bytes (default 4096).
    pub max_len: usize,
    /// Deepest nesting: tree height and bracket/unary/call depth (default 100). Keeps the
    /// recursive parser, evaluator and printer far from the 1 MiB wasm stack.
    pub max_depth: usize,
    /// Most distinct variables (default 16): each one is a layer read per tile.
    pub max_vars: usize,
    /// Widest halo in cells (default 64): the sum of neighbourhood reaches along the
    /// deepest chain of focal and terrain functions. A tile is read with this many cells
    /// of its neighbours on every side, so it must stay below a tile's width.
    pub max_halo: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_len: 4096,
            max_depth: 100,
            max_vars: 16,
            max_halo: 64,
        }
    }
}
