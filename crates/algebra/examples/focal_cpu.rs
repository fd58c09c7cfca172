//! CPU time per `evaluate_grid` of the neighbourhood benches' formulas, for machines whose
//! cores are shared: criterion measures wall time, which other processes inflate (with a
//! load of 5–10 on 2 cores its estimates moved by ±40% between runs); the time this
//! thread spent on a CPU (`/proc/thread-self/schedstat`, Linux) barely moves.
//!
//! `cargo run --release -p tilefn-algebra --example focal_cpu [-- SUBSTRING]` prints, per
//! grid and formula, the best of 5 rounds of CPU milliseconds per evaluation.

// A measuring tool: a missing /proc or a bad formula should stop it loudly.
#![allow(clippy::panic)]

use std::hint::black_box;

use tilefn_algebra::{Bindings, Column, Expr, Grid, Reduction, TerrainSettings, evaluate_grid};

const FORMULAS: [&str; 7] = [
    "focal_mean(a, 3)",
    "focal_mean(a, square(16))",
    "focal_median(a, 5)",
    "focal_max(a, circle(8))",
    "focal_median(a, circle(8))",
    "focal_mode(a, 5)",
    "focal_std(a, 5)",
];

struct Tile {
    a: Vec<f64>,
    valid: Vec<bool>,
}

impl Bindings for Tile {
    fn column(&self, _: &str) -> Option<Column<'_>> {
        Some(Column {
            values: &self.a,
            valid: &self.valid,
            nodata: Some(0.0),
        })
    }

    fn reduction(&self, _: &Reduction) -> Option<f64> {
        None
    }
}

/// The bench's surface: hills plus noise, one cell in 17 nodata.
fn tile(side: usize) -> Tile {
    let mut seed: u64 = 7;
    let a = (0..side * side)
        .map(|i| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let (x, y) = ((i % side) as f64, (i / side) as f64);
            let noise = (seed >> 11) as f64 / (1u64 << 53) as f64;
            500.0 + 80.0 * (x / 23.0).sin() * (y / 31.0).cos() + 5.0 * noise
        })
        .collect();
    let valid = (0..side * side).map(|i| i % 17 != 0).collect();
    Tile { a, valid }
}

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat")
        .unwrap_or_else(|e| panic!("/proc/thread-self/schedstat: {e}"));
    let first = stat.split_whitespace().next().unwrap_or_default();
    first
        .parse()
        .unwrap_or_else(|e| panic!("schedstat {stat:?}: {e}"))
}

/// Best of 5 rounds of CPU nanoseconds per run of `f`, each round about a second.
fn best_cpu_ns(mut f: impl FnMut()) -> u64 {
    let t0 = cpu_ns();
    f();
    let iters = (1_000_000_000 / (cpu_ns() - t0).max(1)).clamp(3, 200);
    (0..5)
        .map(|_| {
            let t0 = cpu_ns();
            (0..iters).for_each(|_| f());
            (cpu_ns() - t0) / iters
        })
        .min()
        .unwrap_or(0)
}

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    for side in [258, 288] {
        let tile = tile(side);
        let grid = Grid {
            width: side,
            height: side,
            pixel_size: vec![30.0; side],
            terrain: TerrainSettings::default(),
        };
        for formula in FORMULAS.iter().filter(|f| f.contains(filter.as_str())) {
            let expr = Expr::parse(formula).unwrap_or_else(|e| panic!("{e}"));
            let ns = best_cpu_ns(|| {
                let _ = black_box(evaluate_grid(black_box(&expr), &grid, &tile));
            });
            println!("{side}×{side}\t{formula}\t{:.3} ms", ns as f64 / 1e6);
        }
    }
}
