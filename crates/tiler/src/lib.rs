//! The tile service (skeleton; see docs/contracts-edge.md).
