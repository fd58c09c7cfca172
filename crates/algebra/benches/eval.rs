//! `(a - b) / (a + b)` over one 256x256 tile (65,536 cells). Target: at most 0.3 ms.
//!
//! Neighbourhood functions over a tile and its halo: 258×258 (a 3×3 window's halo of 1)
//! and 288×288 (the radius limit's halo of 16), each with `focal_mean(a, 3)`,
//! `focal_mean(a, square(16))`, `focal_median(a, 5)` and `focal_max(a, circle(8))`.
//! `cargo bench -p tilefn-algebra --bench eval -- focal` runs only those; on shared cores
//! `cargo run --release -p tilefn-algebra --example focal_cpu` measures CPU time instead.
// A bench whose formula fails to parse must stop loudly.
#![allow(clippy::panic)]

#[cfg(not(target_arch = "wasm32"))]
mod bench {
    use criterion::Criterion;
    use std::hint::black_box;
    use std::time::Duration;
    use tilefn_algebra::{
        Bindings, Column, Expr, Grid, Reduction, TerrainSettings, evaluate, evaluate_grid,
    };

    const CELLS: usize = 256 * 256;

    struct Tile {
        a: Vec<f64>,
        b: Vec<f64>,
        valid_a: Vec<bool>,
        valid_b: Vec<bool>,
    }

    impl Bindings for Tile {
        fn column(&self, name: &str) -> Option<Column<'_>> {
            match name {
                "a" => Some(Column {
                    values: &self.a,
                    valid: &self.valid_a,
                    nodata: Some(0.0),
                }),
                "b" => Some(Column {
                    values: &self.b,
                    valid: &self.valid_b,
                    nodata: Some(0.0),
                }),
                _ => None,
            }
        }

        fn reduction(&self, _: &Reduction) -> Option<f64> {
            None
        }
    }

    fn tile(cells: usize) -> Tile {
        Tile {
            a: (0..cells).map(|i| (i % 251) as f64 + 1.0).collect(),
            b: (0..cells).map(|i| (i % 127) as f64 * 0.5).collect(),
            valid_a: (0..cells).map(|i| i % 17 != 0).collect(),
            valid_b: (0..cells).map(|i| i % 23 != 0).collect(),
        }
    }

    pub fn normalized_difference(c: &mut Criterion) {
        let tile = tile(CELLS);
        let expr = Expr::parse("(a - b) / (a + b)").unwrap_or_else(|e| panic!("{e}"));
        c.bench_function("ndvi_65536", |bench| {
            bench.iter(|| evaluate(black_box(&expr), CELLS, black_box(&tile)))
        });
    }

    /// A DEM-like surface: hills plus noise, with scattered nodata (1 cell in 17).
    fn terrain_tile(side: usize) -> Tile {
        let mut t = tile(side * side);
        let mut seed: u64 = 7;
        for (i, v) in t.a.iter_mut().enumerate() {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let (x, y) = ((i % side) as f64, (i / side) as f64);
            let noise = (seed >> 11) as f64 / (1u64 << 53) as f64;
            *v = 500.0 + 80.0 * (x / 23.0).sin() * (y / 31.0).cos() + 5.0 * noise;
        }
        t
    }

    pub fn focal(c: &mut Criterion) {
        let mut group = c.benchmark_group("focal");
        // The large windows take tens of milliseconds per grid: fewer, longer samples.
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        for side in [258, 288] {
            let tile = terrain_tile(side);
            let grid = Grid {
                width: side,
                height: side,
                pixel_size: vec![30.0; side],
                terrain: TerrainSettings::default(),
            };
            for (name, formula) in [
                ("mean_3x3", "focal_mean(a, 3)"),
                ("mean_square16", "focal_mean(a, square(16))"),
                ("median_5x5", "focal_median(a, 5)"),
                ("max_circle8", "focal_max(a, circle(8))"),
            ] {
                let expr = Expr::parse(formula).unwrap_or_else(|e| panic!("{e}"));
                group.bench_function(format!("{name}_{side}"), |bench| {
                    bench.iter(|| evaluate_grid(black_box(&expr), &grid, black_box(&tile)))
                });
            }
        }
        group.finish();
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(benches, bench::normalized_difference, bench::focal);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
