//! CPU cost of one `/algebra` NDVI tile once its bands are decoded: evaluate
//! `(a - b) / (a + b)` over 65,536 cells, compile the style, paint it (grey stretch and a
//! named colormap), encode PNG. Target: <= 1 ms native. Same calls as `algebra.rs`'s
//! handler makes (`tilefn_algebra::evaluate`, `Style::compile`/`paint`, `encode_png`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tilefn_algebra::{Bindings, Column, Expr, Reduction, evaluate};
use tilefn_raster::DataType;
use tilefn_render::{Enhancement, LayerContext, StatsSummary, Style, StyleParams, encode_png};

const TS: usize = 256;
const N: usize = TS * TS;

/// Two bands of a multispectral tile (red, near infrared), smooth like real imagery, with a
/// nodata corner.
struct Tile {
    red: Vec<f64>,
    nir: Vec<f64>,
    valid: Vec<bool>,
}

impl Tile {
    fn new() -> Tile {
        let mut t = Tile {
            red: Vec::with_capacity(N),
            nir: Vec::with_capacity(N),
            valid: Vec::with_capacity(N),
        };
        for row in 0..TS {
            for col in 0..TS {
                let (x, y) = (col as f64 / 40.0, row as f64 / 25.0);
                t.red.push(f64::from(
                    (800.0 + 300.0 * x.sin() + 200.0 * y.cos()) as f32,
                ));
                t.nir
                    .push(f64::from((2500.0 + 900.0 * (x * 0.7 + y).sin()) as f32));
                t.valid.push(row + col > 40);
            }
        }
        t
    }
}

impl Bindings for Tile {
    fn column(&self, name: &str) -> Option<Column<'_>> {
        let values = match name {
            "a" => &self.nir,
            "b" => &self.red,
            _ => return None,
        };
        Some(Column {
            values,
            valid: &self.valid,
            nodata: Some(-9999.0),
        })
    }
    fn reduction(&self, _: &Reduction) -> Option<f64> {
        None
    }
}

fn ndvi_png(tile: &Tile, expr: &Expr, params: &StyleParams, enhance: &Enhancement) -> Vec<u8> {
    let out = evaluate(expr, N, tile).unwrap();
    let ctx = LayerContext {
        dtype: DataType::Float64,
        categorical: false,
        stats: Some(StatsSummary {
            min: -1.0,
            max: 1.0,
            p2: -1.0,
            p98: 1.0,
        }),
    };
    let style = Style::compile(params, &ctx).unwrap();
    let mut img = style.paint(&out.values, &out.valid, TS, TS);
    if !enhance.is_identity() {
        enhance.apply(&mut img);
    }
    encode_png(&img).unwrap()
}

fn bench(c: &mut Criterion) {
    let tile = Tile::new();
    let expr = Expr::parse("(a - b) / (a + b)").unwrap();
    let grey = StyleParams::default();
    let viridis = StyleParams {
        colormap_name: Some("viridis"),
        rescale: Some("0,0.6"),
        ..StyleParams::default()
    };
    let none = Enhancement::default();
    c.bench_function("ndvi_png_grey", |b| {
        b.iter(|| black_box(ndvi_png(&tile, &expr, &grey, &none)))
    });
    c.bench_function("ndvi_png_viridis", |b| {
        b.iter(|| black_box(ndvi_png(&tile, &expr, &viridis, &none)))
    });
    let contrast = Enhancement {
        contrast: 1.5,
        sharpness: 2.0,
        ..Enhancement::default()
    };
    c.bench_function("ndvi_png_viridis_enhanced", |b| {
        b.iter(|| black_box(ndvi_png(&tile, &expr, &viridis, &contrast)))
    });
    // The enhancement alone (the rest of the difference is PNG encoding: an enhanced image
    // has too many colours for a palette).
    let out = evaluate(&expr, N, &tile).unwrap();
    let ctx = LayerContext {
        dtype: DataType::Float64,
        categorical: false,
        stats: None,
    };
    let painted = Style::compile(&viridis, &ctx)
        .unwrap()
        .paint(&out.values, &out.valid, TS, TS);
    c.bench_function("enhance_contrast_sharpness", |b| {
        b.iter(|| {
            let mut img = painted.clone();
            contrast.apply(&mut img);
            black_box(img)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
