//! Pixel blocks, data types and Web Mercator tile math.
//!
//! This crate has no I/O and no dependencies beyond `serde`, so every other crate (the Worker,
//! the browser build and ingest) can share one definition of "tile z/x/y" and "float32".

mod block;
mod dtype;
pub mod mercator;
mod tile;

pub use block::Block;
pub use dtype::{DataType, UnknownDataType};
pub use mercator::{Bounds, TILE_SIZE};
pub use tile::{TileCoord, TileRange};
