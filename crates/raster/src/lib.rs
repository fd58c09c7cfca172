//! Pixel blocks, data types and Web Mercator tile math.
//!
//! This crate has no I/O and no dependencies beyond `serde` (and `pulp` on x86-64, for
//! [`vectorised`]), so every other crate (the Worker, the browser build and ingest) can share
//! one definition of "tile z/x/y" and "float32".

mod block;
mod dtype;
pub mod mercator;
mod simd;
mod tile;

pub use block::Block;
pub use dtype::{DataType, UnknownDataType};
pub use mercator::{Bounds, TILE_SIZE};
pub use simd::{Kernel, vectorised};
pub use tile::{TileCoord, TileRange};
