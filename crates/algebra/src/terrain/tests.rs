//! `terrain` end to end on small grids: planes, nodata, the frame, sizes. The formulas'
//! own tests sit with them; `tests/gdaldem.rs` compares with gdaldem itself.

use super::*;
use crate::neighborhood::TerrainSettings;

const PIXEL: f64 = 30.0;
const METHODS: [Method; 2] = [Method::Horn, Method::Zevenbergen];
const SHADE: TerrainOp = TerrainOp::Hillshade {
    azimuth: TerrainOp::DEFAULT_AZIMUTH,
    altitude: TerrainOp::DEFAULT_ALTITUDE,
};
const OPS: [TerrainOp; 3] = [TerrainOp::Slope, TerrainOp::Aspect, SHADE];

fn grid(width: usize, height: usize, method: Method) -> Grid {
    Grid {
        width,
        height,
        pixel_size: vec![PIXEL; height],
        terrain: TerrainSettings {
            method,
            z_factor: 1.0,
        },
    }
}

fn all_valid(op: TerrainOp, grid: &Grid, values: &[f64]) -> (Vec<f64>, Vec<bool>) {
    terrain(op, grid, values, &vec![true; values.len()])
}

/// A plane falling 1 m per metre towards `azimuth` (degrees clockwise from north).
fn plane(width: usize, height: usize, azimuth: f64) -> Vec<f64> {
    let (sin, cos) = azimuth.to_radians().sin_cos();
    let mut values = Vec::new();
    for r in 0..height {
        for c in 0..width {
            let (east, north) = (c as f64 * PIXEL, -(r as f64) * PIXEL);
            values.push(-(sin * east + cos * north));
        }
    }
    values
}

fn angle_between(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}

#[test]
fn a_plane_at_45_degrees_has_slope_45_and_faces_its_fall() {
    for method in METHODS {
        let g = grid(5, 5, method);
        for azimuth in [0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0] {
            let values = plane(5, 5, azimuth);
            let (slope, _) = all_valid(TerrainOp::Slope, &g, &values);
            let (aspect, valid) = all_valid(TerrainOp::Aspect, &g, &values);
            // The interior: on the frame the plane's missing neighbours are flattened.
            // Elevations are float32, as gdaldem reads them: ~1e-5 m off the plane here.
            for r in 1..4 {
                for c in 1..4 {
                    let i = r * 5 + c;
                    assert!((slope[i] - 45.0).abs() < 1e-4, "{method:?} {azimuth}");
                    assert!(valid[i]);
                    assert!(
                        angle_between(aspect[i], azimuth) < 1e-4,
                        "{method:?}: {} for {azimuth}",
                        aspect[i]
                    );
                    assert!((0.0..360.0).contains(&aspect[i]));
                }
            }
        }
    }
}

#[test]
fn hillshade_of_flat_ground_is_254_sin_altitude_plus_one_rounded() {
    let g = grid(3, 3, Method::Horn);
    let flat = [100.0; 9];
    // 1 + 254 sin 45° = 180.605, which gdaldem writes as 181.
    let (shade, valid) = all_valid(SHADE, &g, &flat);
    assert_eq!(shade, [181.0; 9]);
    assert_eq!(valid, [true; 9]);
    for (altitude, expected) in [(90.0, 255.0), (30.0, 128.0), (0.0, 1.0)] {
        let op = TerrainOp::Hillshade {
            azimuth: 315.0,
            altitude,
        };
        assert_eq!(
            all_valid(op, &g, &flat).0[4],
            expected,
            "altitude {altitude}"
        );
    }
}

#[test]
fn flat_ground_has_no_aspect() {
    let (_, valid) = all_valid(TerrainOp::Aspect, &grid(3, 3, Method::Horn), &[7.0; 9]);
    assert_eq!(valid, [false; 9]);
}

#[test]
fn a_cell_without_elevation_is_invalid() {
    let values = plane(3, 3, 10.0);
    for method in METHODS {
        for op in OPS {
            let g = grid(3, 3, method);
            let mut valid = [true; 9];
            valid[4] = false;
            let (out, ok) = terrain(op, &g, &values, &valid);
            assert!(!ok[4] && out[4].is_nan());
            let mut nan = values.clone();
            nan[4] = f64::NAN;
            assert!(!all_valid(op, &g, &nan).1[4]);
        }
    }
}

#[test]
fn a_missing_neighbour_takes_the_cells_value() {
    let values = [3.0, 9.0, 4.0, 1.0, 5.0, 2.0, 8.0, 6.0, 7.0];
    for method in METHODS {
        let g = grid(3, 3, method);
        for op in OPS {
            for k in [0, 1, 2, 3, 5, 6, 7, 8] {
                let mut substituted = values;
                substituted[k] = values[4];
                // Bit for bit, so that NaN (no aspect) equals NaN.
                let expected = all_valid(op, &g, &substituted).0[4].to_bits();
                let mut valid = [true; 9];
                valid[k] = false;
                assert_eq!(terrain(op, &g, &values, &valid).0[4].to_bits(), expected);
                let mut nan = values;
                nan[k] = f64::NAN;
                assert_eq!(all_valid(op, &g, &nan).0[4].to_bits(), expected);
            }
        }
    }
}

#[test]
fn off_the_grid_is_like_nodata() {
    // A 4×3 grid equals the middle of a 6×5 grid whose ring is nodata.
    let inner = [3.0, 9.0, 4.0, 1.0, 5.0, 2.0, 8.0, 6.0, 7.0, 2.0, 0.5, 4.0];
    let mut padded = vec![0.0; 30];
    let mut ring = vec![false; 30];
    for r in 0..3 {
        for c in 0..4 {
            padded[(r + 1) * 6 + c + 1] = inner[r * 4 + c];
            ring[(r + 1) * 6 + c + 1] = true;
        }
    }
    for method in METHODS {
        for op in OPS {
            let (small, small_ok) = all_valid(op, &grid(4, 3, method), &inner);
            let (big, big_ok) = terrain(op, &grid(6, 5, method), &padded, &ring);
            for r in 0..3 {
                for c in 0..4 {
                    let (i, j) = (r * 4 + c, (r + 1) * 6 + c + 1);
                    assert_eq!(small_ok[i], big_ok[j]);
                    assert!(small[i] == big[j] || !small_ok[i], "{op:?} {method:?}");
                }
            }
        }
    }
}

#[test]
fn sizes_that_do_not_fit_the_grid_give_all_invalid() {
    let g = grid(3, 2, Method::Horn);
    for (values, valid) in [(vec![1.0; 5], vec![true; 6]), (vec![1.0; 6], vec![true; 7])] {
        let (out, ok) = terrain(TerrainOp::Slope, &g, &values, &valid);
        assert_eq!((out.len(), ok), (6, vec![false; 6]));
    }
    let mut short = g.clone();
    short.pixel_size.pop();
    assert_eq!(all_valid(TerrainOp::Slope, &short, &[1.0; 6]).1, [false; 6]);
    let huge = grid(usize::MAX, 2, Method::Horn);
    assert_eq!(all_valid(TerrainOp::Slope, &huge, &[1.0; 6]).0.len(), 0);
}

#[test]
fn a_row_without_a_usable_pixel_size_is_invalid() {
    for bad in [0.0, -30.0, f64::NAN, f64::INFINITY] {
        let mut g = grid(3, 3, Method::Horn);
        g.pixel_size[1] = bad;
        let (_, ok) = all_valid(TerrainOp::Slope, &g, &plane(3, 3, 90.0));
        assert_eq!(
            ok,
            [true, true, true, false, false, false, true, true, true]
        );
    }
}

#[test]
fn thin_grids_do_not_panic() {
    for (width, height) in [(1, 1), (1, 5), (5, 1), (2, 2), (0, 3), (3, 0), (2, 7)] {
        for method in METHODS {
            for op in OPS {
                let g = grid(width, height, method);
                let values = plane(width, height, 60.0);
                let (out, ok) = all_valid(op, &g, &values);
                assert_eq!((out.len(), ok.len()), (width * height, width * height));
            }
        }
    }
    // A lone cell has only itself: flat.
    let g = grid(1, 1, Method::Horn);
    assert_eq!(all_valid(TerrainOp::Slope, &g, &[5.0]).0, [0.0]);
    assert_eq!(all_valid(TerrainOp::Aspect, &g, &[5.0]).1, [false]);
    assert_eq!(all_valid(SHADE, &g, &[5.0]).0, [181.0]);
}

#[test]
fn z_factor_scales_elevations() {
    // A 1:2 plane exaggerated twice is a 45° plane.
    let mut g = grid(3, 3, Method::Horn);
    g.terrain.z_factor = 2.0;
    let half: Vec<f64> = plane(3, 3, 0.0).iter().map(|v| v / 2.0).collect();
    assert!((all_valid(TerrainOp::Slope, &g, &half).0[4] - 45.0).abs() < 1e-9);
}

/// The reference: every cell from its window on the slow path, which asks of each
/// neighbour whether it is on the grid and holds an elevation.
fn cell_by_cell(op: TerrainOp, grid: &Grid, values: &[f64], valid: &[bool]) -> Vec<f64> {
    let input = Input {
        grid,
        values,
        valid,
    };
    let mut out = Vec::new();
    for r in 0..grid.height {
        for c in 0..grid.width {
            let (east, north) = match (grid.terrain.method, edge_window(&input, r, c)) {
                (_, None) => (f32::NAN, f32::NAN),
                (Method::Horn, Some(w)) => Horn::of_window(&w),
                (Method::Zevenbergen, Some(w)) => Zevenbergen::of_window(&w),
            };
            let divisor = match grid.terrain.method {
                Method::Horn => Horn::DIVISOR,
                Method::Zevenbergen => Zevenbergen::DIVISOR,
            };
            let scale = grid.terrain.z_factor / (divisor * grid.pixel_size[r]);
            out.push(match op {
                TerrainOp::Slope => Slope.at(east, north, scale),
                TerrainOp::Aspect => Aspect.at(east, north, scale),
                TerrainOp::Hillshade { azimuth, altitude } => {
                    Hillshade::new(azimuth, altitude).at(east, north, scale)
                }
            });
        }
    }
    out
}

#[test]
fn the_fast_paths_equal_the_cell_by_cell_reference() {
    let (width, height) = (23, 17);
    // Elevations on a 1/64 m grid: every sum is exact, so the separable row sums and the
    // windows' sums agree to the bit.
    let values: Vec<f64> = (0..width * height)
        .map(|i| ((i * 7919) % 4096) as f64 / 64.0 + (i % width) as f64 * 3.0)
        .map(|v| if v > 60.0 && v < 60.5 { f64::NAN } else { v })
        .collect();
    let valid: Vec<bool> = (0..width * height)
        .map(|i| i % 29 != 3 && i % 31 != 7)
        .collect();
    for method in METHODS {
        let mut g = grid(width, height, method);
        g.pixel_size = (0..height).map(|r| 20.0 + r as f64).collect();
        g.terrain.z_factor = 1.5;
        for op in OPS {
            let (fast, ok) = terrain(op, &g, &values, &valid);
            let reference = cell_by_cell(op, &g, &values, &valid);
            for (i, (a, b)) in fast.iter().zip(&reference).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{op:?} {method:?} cell {i}");
                assert_eq!(ok[i], !b.is_nan());
            }
        }
    }
}

#[test]
fn the_inside_equals_the_whole_grid_cropped() {
    let (width, height) = (19, 14);
    let values: Vec<f64> = (0..width * height)
        .map(|i| ((i * 7919) % 4093) as f64 / 7.0 + (i / width) as f64 * 2.5)
        .collect();
    let valid: Vec<bool> = (0..width * height).map(|i| i % 23 != 5).collect();
    for method in METHODS {
        let mut g = grid(width, height, method);
        g.pixel_size = (0..height).map(|r| 25.0 + r as f64).collect();
        g.pixel_size[6] = f64::NAN;
        for op in OPS {
            let (whole, whole_ok) = terrain(op, &g, &values, &valid);
            for margin in [0, 1, 2, 5] {
                let (inside, ok) = terrain_inside(op, &g, &values, &valid, margin);
                let (w, h) = (width - 2 * margin, height - 2 * margin);
                assert_eq!((inside.len(), ok.len()), (w * h, w * h));
                for r in 0..h {
                    for c in 0..w {
                        let i = (r + margin) * width + c + margin;
                        let label = format!("{op:?} {method:?} margin {margin} ({r}, {c})");
                        assert_eq!(inside[r * w + c].to_bits(), whole[i].to_bits(), "{label}");
                        assert_eq!(ok[r * w + c], whole_ok[i], "{label}");
                    }
                }
            }
        }
        // Nothing inside a margin wider than half the grid.
        assert_eq!(terrain_inside(SHADE, &g, &values, &valid, 7).0.len(), 0);
    }
}
