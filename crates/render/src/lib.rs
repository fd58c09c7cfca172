//! Rendering (skeleton; see docs/contracts-edge.md).
