//! `(a - b) / (a + b)` over one 256x256 tile (65,536 cells). Target: at most 0.3 ms.
// A bench whose formula fails to parse must stop loudly.
#![allow(clippy::panic)]

#[cfg(not(target_arch = "wasm32"))]
mod bench {
    use criterion::Criterion;
    use std::hint::black_box;
    use tilefn_algebra::{Bindings, Column, Expr, Reduction, evaluate};

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

    pub fn normalized_difference(c: &mut Criterion) {
        let tile = Tile {
            a: (0..CELLS).map(|i| (i % 251) as f64 + 1.0).collect(),
            b: (0..CELLS).map(|i| (i % 127) as f64 * 0.5).collect(),
            valid_a: (0..CELLS).map(|i| i % 17 != 0).collect(),
            valid_b: (0..CELLS).map(|i| i % 23 != 0).collect(),
        };
        let expr = Expr::parse("(a - b) / (a + b)").unwrap_or_else(|e| panic!("{e}"));
        c.bench_function("ndvi_65536", |bench| {
            bench.iter(|| evaluate(black_box(&expr), CELLS, black_box(&tile)))
        });
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(benches, bench::normalized_difference);
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
