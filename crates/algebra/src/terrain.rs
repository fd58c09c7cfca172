//! Slope, aspect and hillshade over the 3×3 window of each cell, as GDAL's `gdaldem` computes
//! them with `-compute_edges`.
//!
//! TO BE WRITTEN (helper): GDAL-exact Horn and Zevenbergen-Thorne kernels.

use crate::neighborhood::{Grid, TerrainOp};

/// `op` over `values` (row-major, `grid.width` × `grid.height`): a cell is invalid where
/// its own value is; an invalid or off-grid neighbour takes the cell's own value.
pub fn terrain(
    op: TerrainOp,
    grid: &Grid,
    values: &[f64],
    valid: &[bool],
) -> (Vec<f64>, Vec<bool>) {
    let _ = (op, grid);
    (values.to_vec(), valid.to_vec())
}
