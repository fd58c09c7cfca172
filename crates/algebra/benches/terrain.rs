//! Slope, aspect and hillshade over one 256x256 tile and its one-cell halo (258x258 cells,
//! a synthetic DEM with a nodata cell in every 97, so every row takes the slow path near
//! its holes; `_whole` without them, as inside a layer). Compare with `eval`'s `ndvi_65536`, a plain formula over a tile, in the same
//! run: wall times move a lot on a shared host.

#[cfg(not(target_arch = "wasm32"))]
mod bench {
    use criterion::Criterion;
    use std::hint::black_box;
    use tilefn_algebra::{Grid, Method, TerrainOp, TerrainSettings, terrain};

    const SIDE: usize = 258;

    struct Dem {
        values: Vec<f64>,
        valid: Vec<bool>,
    }

    fn dem(holes: bool) -> Dem {
        let values = (0..SIDE * SIDE)
            .map(|i| {
                let (x, y) = ((i % SIDE) as f64, (i / SIDE) as f64);
                500.0 + 80.0 * (x / 11.0).sin() * (y / 17.0).cos() + 0.01 * (i % 7) as f64
            })
            .collect();
        let valid = (0..SIDE * SIDE).map(|i| !holes || i % 97 != 0).collect();
        Dem { values, valid }
    }

    fn grid(method: Method) -> Grid {
        Grid {
            width: SIDE,
            height: SIDE,
            // Zoom 12 at latitude 45: 38 m Mercator pixels, 27 m on the ground.
            pixel_size: (0..SIDE).map(|r| 27.0 + r as f64 * 1e-3).collect(),
            terrain: TerrainSettings {
                method,
                z_factor: 1.0,
            },
        }
    }

    pub fn terrain_ops(c: &mut Criterion) {
        let (dem, whole) = (dem(true), dem(false));
        let shade = TerrainOp::Hillshade {
            azimuth: TerrainOp::DEFAULT_AZIMUTH,
            altitude: TerrainOp::DEFAULT_ALTITUDE,
        };
        for (name, op, method) in [
            ("hillshade_horn_258", shade, Method::Horn),
            ("hillshade_zevenbergen_258", shade, Method::Zevenbergen),
            ("slope_horn_258", TerrainOp::Slope, Method::Horn),
            ("aspect_horn_258", TerrainOp::Aspect, Method::Horn),
        ] {
            let g = grid(method);
            c.bench_function(name, |bench| {
                bench.iter(|| terrain(op, black_box(&g), black_box(&dem.values), &dem.valid))
            });
            if op == shade && method == Method::Horn {
                c.bench_function(&format!("{name}_whole"), |bench| {
                    bench
                        .iter(|| terrain(op, black_box(&g), black_box(&whole.values), &whole.valid))
                });
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(benches, bench::terrain_ops);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
