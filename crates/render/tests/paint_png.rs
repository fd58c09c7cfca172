//! `Style::paint_png` (table styles painted straight to palette indices) against the RGBA
//! path `encode_png(&style.paint(..))`: identical decoded pixels.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tilefn_raster::DataType;
use tilefn_render::{LayerContext, StatsSummary, Style, StyleParams, encode_png};

/// Any PNG to RGBA8 (palette, tRNS and grey expanded).
fn decode_rgba(bytes: &[u8]) -> Vec<u8> {
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    buf.truncate(frame.buffer_size());
    match frame.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::GrayscaleAlpha => buf
            .chunks(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        other => panic!("unexpected expanded colour type {other:?}"),
    }
}

/// 256x256 values from the shared corpus DEM (float32, with nodata), tiled to fill.
fn dem() -> (Vec<f64>, Vec<bool>) {
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
    let (mut values, mut valid) = (Vec::new(), Vec::new());
    for y in 0..256 {
        for x in 0..256 {
            let v = grid[(y % h) * w + x % w];
            values.push(v);
            valid.push(v != nodata);
        }
    }
    (values, valid)
}

fn ctx(stats: bool) -> LayerContext {
    LayerContext {
        dtype: DataType::Float32,
        categorical: false,
        stats: stats.then_some(StatsSummary {
            min: 138.28,
            max: 168.0,
            p2: 140.0,
            p98: 166.0,
        }),
    }
}

/// Tiles that exercise every branch: full, a nodata edge, NaNs, out-of-range values, all
/// invalid, a flat tile (zero-width range), and a short value slice (a caller bug).
fn tiles() -> Vec<(&'static str, Vec<f64>, Vec<bool>)> {
    let (values, valid) = dem();
    let mut edge_valid = valid.clone();
    edge_valid[256 * 200..].fill(false);
    let mut nans = values.clone();
    for v in nans.iter_mut().step_by(7) {
        *v = f64::NAN;
    }
    let wide: Vec<f64> = (0..256 * 256).map(|i| f64::from(i % 700) - 200.0).collect();
    vec![
        ("full", values.clone(), valid.clone()),
        ("edge", values.clone(), edge_valid),
        ("nan", nans, valid.clone()),
        ("wide", wide, vec![true; 256 * 256]),
        ("invalid", values.clone(), vec![false; 256 * 256]),
        ("flat", vec![150.0; 256 * 256], valid.clone()),
        ("short", values[..1000].to_vec(), valid.clone()),
    ]
}

fn check(name: &str, params: &StyleParams, stats: bool) {
    let style = Style::compile(params, &ctx(stats)).unwrap();
    for (tile, values, valid) in tiles() {
        let rgba_path = encode_png(&style.paint(&values, &valid, 256, 256)).unwrap();
        let direct = style.paint_png(&values, &valid, 256, 256).unwrap();
        assert!(
            decode_rgba(&direct) == decode_rgba(&rgba_path),
            "{name} / {tile}: pixels differ"
        );
        // The palette is in table order rather than first appearance, and every row takes
        // the Paeth filter (`encode::png`'s TABLE_PALETTE): a different file, smaller for
        // smooth data (viridis DEM tiles ~0.6x), never more than a little larger. "A little":
        // 3%, or 256 bytes on tiny tiles (the clamped sawtooth "wide" is 2715 bytes against
        // 2575; the adaptive filter, which tries four filters per row, matched it).
        eprintln!(
            "{name} / {tile}: {} vs {} bytes",
            direct.len(),
            rgba_path.len()
        );
        assert!(
            direct.len() * 100 <= rgba_path.len() * 103 || direct.len() <= rgba_path.len() + 256,
            "{name} / {tile}: {} bytes, the RGBA path {}",
            direct.len(),
            rgba_path.len()
        );
    }
}

#[test]
fn viridis_matches_rgba_path() {
    let params = StyleParams {
        colormap_name: Some("viridis"),
        ..StyleParams::default()
    };
    check("viridis", &params, true);
    check("viridis, tile range", &params, false);
    let rescaled = StyleParams {
        colormap_name: Some("terrain"),
        rescale: Some("145,150"),
        ..StyleParams::default()
    };
    check("terrain rescaled", &rescaled, true);
}

#[test]
fn grey_matches_rgba_path() {
    check("grey", &StyleParams::default(), true);
    check("grey, tile range", &StyleParams::default(), false);
}

#[test]
fn continuous_and_discrete_match_rgba_path() {
    let continuous = serde_json::json!({
        "continuous": true, "from": "#000000", "to": "#ffffff", "over": "#ff0000"
    })
    .to_string();
    let params = StyleParams {
        colormap: Some(&continuous),
        ..StyleParams::default()
    };
    check("continuous", &params, true);
    let discrete = serde_json::json!({"x < 150": "#ff0000", "x >= 150": "#0f0"}).to_string();
    let params = StyleParams {
        colormap: Some(&discrete),
        ..StyleParams::default()
    };
    check("discrete", &params, true);
}
