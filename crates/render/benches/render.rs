//! Per-tile rendering costs: COG tile decode, viridis paint, PNG and JPEG encode, elevations as
//! raster-dem PNGs (Terrarium, Terrain-RGB), on a real float32 DEM
//! (`georust-gdal__dem-hills.tiff` from the shared corpus, 333x218, tiled out to 256x256 by
//! wrapping rows) and on an edge tile whose bottom rows are nodata.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tilefn_cog::{CogSpec, Compression, Photometric, Predictor};
use tilefn_raster::{DataType, TileCoord};
use tilefn_render::{
    DemEncoding, LayerContext, StatsSummary, Style, StyleParams, encode_dem_png, encode_jpeg,
    encode_png,
};

const N: usize = 256 * 256;

/// The DEM's first 256 columns; rows wrap past its 218th. Edge tiles mark rows >= 218
/// invalid instead.
fn dem_tile(edge: bool) -> (Vec<f64>, Vec<bool>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/tiff/georust-gdal__dem-hills.tiff"
    );
    let bytes = std::fs::read(path).expect("shared corpus DEM");
    let limits = tilefn_cog::Limits::default();
    let tiff = tilefn_cog::parse_file(&bytes, &limits).unwrap();
    let ifd = tiff.images().next().unwrap();
    let (w, h) = (ifd.width as usize, ifd.height as usize);
    let mut grid = Vec::with_capacity(w * h);
    for strip in 0..ifd.tiles_down() {
        let r = ifd.tile_range(0, strip).unwrap();
        let raw = tilefn_cog::decode_tile(
            &tiff,
            ifd,
            &bytes[r.start as usize..r.end as usize],
            &limits,
        )
        .unwrap();
        grid.extend(
            raw.chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        );
    }
    let nodata = ifd.nodata.unwrap();
    let mut values = Vec::with_capacity(N);
    let mut valid = Vec::with_capacity(N);
    for y in 0..256 {
        for x in 0..256 {
            let v = grid[(y % h) * w + x];
            values.push(v);
            valid.push(v != nodata && !(edge && y >= h));
        }
    }
    (values, valid)
}

fn dem_ctx() -> LayerContext {
    LayerContext {
        dtype: DataType::Float32,
        categorical: false,
        stats: Some(StatsSummary {
            min: 138.28,
            max: 168.0,
            p2: 140.0,
            p98: 166.0,
        }),
    }
}

/// The tile as ingest stores it: float32, floating-point predictor, deflate.
fn cog_tile(values: &[f64]) -> (CogSpec, Vec<u8>) {
    let spec = CogSpec {
        anchor: TileCoord::new(12, 100, 100),
        levels: 1,
        dtype: DataType::Float32,
        bands: 1,
        alpha: false,
        mask: false,
        photometric: Photometric::MinIsBlack,
        compression: Compression::Deflate,
        predictor: Predictor::FloatingPoint,
        nodata: Some(-999_999.0),
    };
    let raw: Vec<u8> = values
        .iter()
        .flat_map(|v| (*v as f32).to_le_bytes())
        .collect();
    let tile = tilefn_cog::encode_tile(&spec, &raw).unwrap();
    let header = tilefn_cog::header(&spec, &[vec![tile.len() as u64]]).unwrap();
    let mut file = header;
    file.extend_from_slice(&tile);
    (spec, file)
}

fn decode(file: &[u8]) -> Vec<f64> {
    let limits = tilefn_cog::Limits::default();
    let tiff = tilefn_cog::parse_file(file, &limits).unwrap();
    let ifd = &tiff.ifds[0];
    let r = ifd.tile_range(0, 0).unwrap();
    let raw = tilefn_cog::decode_tile(&tiff, ifd, &file[r.start as usize..r.end as usize], &limits)
        .unwrap();
    raw.chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .collect()
}

fn benches(c: &mut Criterion) {
    let params = StyleParams {
        colormap_name: Some("viridis"),
        ..StyleParams::default()
    };
    let style = Style::compile(&params, &dem_ctx()).unwrap();
    for (name, edge) in [("full", false), ("edge", true)] {
        let (values, valid) = dem_tile(edge);
        let (_, file) = cog_tile(&values);
        let img = style.paint(&values, &valid, 256, 256);
        c.bench_function(&format!("decode_f32_deflate_{name}"), |b| {
            b.iter(|| decode(black_box(&file)))
        });
        c.bench_function(&format!("paint_viridis_{name}"), |b| {
            b.iter(|| style.paint(black_box(&values), black_box(&valid), 256, 256))
        });
        c.bench_function(&format!("png_viridis_{name}"), |b| {
            b.iter(|| encode_png(black_box(&img)).unwrap())
        });
        c.bench_function(&format!("paint_png_indexed_viridis_{name}"), |b| {
            b.iter(|| {
                style
                    .paint_png(black_box(&values), black_box(&valid), 256, 256)
                    .unwrap()
            })
        });
        c.bench_function(&format!("paint_then_png_viridis_{name}"), |b| {
            b.iter(|| {
                encode_png(&style.paint(black_box(&values), black_box(&valid), 256, 256)).unwrap()
            })
        });
        for enc in DemEncoding::ALL {
            c.bench_function(&format!("png_dem_{}_{name}", enc.name()), |b| {
                b.iter(|| encode_dem_png(black_box(&values), black_box(&valid), 256, 256, enc))
            });
        }
        c.bench_function(&format!("jpeg_q85_viridis_{name}"), |b| {
            b.iter(|| encode_jpeg(black_box(&img), 85).unwrap())
        });
        c.bench_function(&format!("total_decode_paint_png_{name}"), |b| {
            b.iter(|| {
                let v = decode(black_box(&file));
                let img = style.paint(&v, &valid, 256, 256);
                encode_png(&img).unwrap()
            })
        });
    }
    let compile = |p: StyleParams| Style::compile(&p, &dem_ctx()).unwrap();
    let legend = serde_json::json!([
        {"expression": "x < 145", "color": "#2c7bb6"},
        {"expression": "(145 <= x) & (x < 155)", "color": "#ffffbf"},
        {"expression": "x >= 155", "color": "#d7191c"},
    ]);
    let classes = compile(StyleParams {
        legend: Some(&legend),
        ..StyleParams::default()
    });
    let (values, valid) = dem_tile(false);
    c.bench_function("paint_formula_legend_f32", |b| {
        b.iter(|| classes.paint(black_box(&values), black_box(&valid), 256, 256))
    });
    // Land-cover-like classes: 20 numeric keys over integer values (the per-tile table).
    let classes: Vec<serde_json::Value> = (0..20)
        .map(|i| serde_json::json!({"expression": i.to_string(), "color": format!("#{:06x}", i * 99_991)}))
        .collect();
    let classes = serde_json::Value::Array(classes);
    let numeric = compile(StyleParams {
        legend: Some(&classes),
        ..StyleParams::default()
    });
    let ints: Vec<f64> = values
        .iter()
        .map(|v| (v - 140.0).clamp(0.0, 25.0).floor())
        .collect();
    c.bench_function("paint_numeric_legend_ints", |b| {
        b.iter(|| numeric.paint_with_counts(black_box(&ints), black_box(&valid), 256, 256))
    });
    c.bench_function("compile_viridis", |b| b.iter(|| compile(black_box(params))));
}

criterion_group!(render, benches);
criterion_main!(render);
