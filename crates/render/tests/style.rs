//! `Style::compile` / `paint` through the public API: precedence, stretches, named maps,
//! errors that name their parameter, and canonical text.
// Test helpers outside #[test] fns unwrap too: a failure should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use tilefn_raster::DataType;
use tilefn_render::{LayerContext, RenderError, StatsSummary, Style, StyleParams, named_colormap};

fn dem() -> LayerContext {
    LayerContext {
        dtype: DataType::Float32,
        categorical: false,
        stats: Some(StatsSummary {
            min: -10.0,
            max: 1000.0,
            p2: 0.0,
            p98: 512.0,
        }),
    }
}

fn px(img: &tilefn_render::Rgba, i: usize) -> [u8; 4] {
    let p = &img.pixels[i * 4..i * 4 + 4];
    [p[0], p[1], p[2], p[3]]
}

fn param_of(err: RenderError) -> &'static str {
    match err {
        RenderError::BadParam { param, .. } => param,
        other => panic!("expected BadParam, got {other:?}"),
    }
}

#[test]
fn default_is_grey_over_p2_p98_and_clamps() {
    let style = Style::compile(&StyleParams::default(), &dem()).unwrap();
    let values = [0.0, 256.0, 512.0, -5.0, 2000.0, f64::NAN, 100.0];
    let valid = [true, true, true, true, true, true, false];
    let img = style.paint(&values, &valid, 7, 1);
    assert_eq!(px(&img, 0), [0, 0, 0, 255]);
    assert_eq!(px(&img, 1), [128, 128, 128, 255]);
    assert_eq!(px(&img, 2), [255, 255, 255, 255]);
    assert_eq!(px(&img, 3), [0, 0, 0, 255], "below the stretch clamps");
    assert_eq!(
        px(&img, 4),
        [255, 255, 255, 255],
        "above the stretch clamps"
    );
    assert_eq!(px(&img, 5)[3], 0, "NaN is transparent");
    assert_eq!(px(&img, 6)[3], 0, "invalid is transparent");
    assert_eq!(style.canonical(), "gray:0.0,512.0");
}

#[test]
fn categorical_default_uses_min_max_and_no_stats_uses_the_tile() {
    let mut ctx = dem();
    ctx.categorical = true;
    let style = Style::compile(&StyleParams::default(), &ctx).unwrap();
    let img = style.paint(&[-10.0, 1000.0], &[true, true], 2, 1);
    assert_eq!((px(&img, 0)[0], px(&img, 1)[0]), (0, 255));
    ctx.stats = None;
    let style = Style::compile(&StyleParams::default(), &ctx).unwrap();
    let img = style.paint(&[5.0, 7.0, 9.0], &[true, true, true], 3, 1);
    assert_eq!(
        [px(&img, 0)[0], px(&img, 1)[0], px(&img, 2)[0]],
        [0, 128, 255]
    );
    assert_eq!(style.canonical(), "gray:tile");
}

#[test]
fn named_colormap_with_rescale() {
    let params = StyleParams {
        colormap_name: Some("viridis"),
        rescale: Some("100,200"),
        ..StyleParams::default()
    };
    let style = Style::compile(&params, &dem()).unwrap();
    let img = style.paint(&[100.0, 200.0, 150.0], &[true; 3], 3, 1);
    let viridis = named_colormap("viridis").unwrap();
    let rgb = |i: usize| [viridis[i][0], viridis[i][1], viridis[i][2], 255];
    assert_eq!(px(&img, 0), rgb(0));
    assert_eq!(px(&img, 1), rgb(255));
    assert_eq!(px(&img, 2), rgb(128));
    assert_eq!(style.canonical(), "cmap:viridis:100.0,200.0");
    // Inverted rescale flips the ramp.
    let params = StyleParams {
        colormap_name: Some("viridis"),
        rescale: Some("200,100"),
        ..StyleParams::default()
    };
    let img = Style::compile(&params, &dem())
        .unwrap()
        .paint(&[100.0], &[true], 1, 1);
    assert_eq!(px(&img, 0), rgb(255));
}

#[test]
fn precedence_colormap_then_name_then_legend() {
    let legend = json!([{"expression": "1", "color": "#0000FF", "name": "one"}]);
    let mut params = StyleParams {
        colormap: Some(r##"{"1": "#FF0000"}"##),
        colormap_name: Some("magma"),
        legend: Some(&legend),
        ..StyleParams::default()
    };
    let paint = |p: &StyleParams| {
        Style::compile(p, &dem())
            .unwrap()
            .paint(&[1.0], &[true], 1, 1)
    };
    assert_eq!(px(&paint(&params), 0), [255, 0, 0, 255]);
    params.colormap = None;
    let magma = named_colormap("magma").unwrap();
    // 1.0 on the p2..p98 stretch 0..512: bin floor(256 / 512) = 0.
    assert_eq!(px(&paint(&params), 0)[..3], magma[0]);
    params.colormap_name = None;
    assert_eq!(px(&paint(&params), 0), [0, 0, 255, 255]);
}

#[test]
fn entries_filter_legend_keys() {
    let legend = json!({"title": "dual", "entries": [
        {"expression": "4", "color": "#654321", "name": "four"},
        {"expression": "5", "color": "#123456", "name": "five"},
    ]});
    let params = StyleParams {
        legend: Some(&legend),
        entries: Some("4"),
        ..StyleParams::default()
    };
    let mut ctx = dem();
    ctx.dtype = DataType::Uint8;
    let style = Style::compile(&params, &ctx).unwrap();
    let (img, counts) = style.paint_with_counts(&[4.0, 5.0], &[true, true], 2, 1);
    assert_eq!(px(&img, 0), [101, 67, 33, 255]);
    assert_eq!(px(&img, 1)[3], 0);
    assert_eq!(counts.len(), 1);
    assert_eq!((counts[0].key.as_str(), counts[0].count), ("4", 1));
}

#[test]
fn continuous_range_falls_back_to_layer_min_max() {
    let legend = json!({"continuous": true, "from": [0, 0, 0], "to": [255, 255, 255]});
    let params = StyleParams {
        legend: Some(&legend),
        ..StyleParams::default()
    };
    let style = Style::compile(&params, &dem()).unwrap();
    // Layer min/max -10..1000: inclusive bounds for our (always masked) tiles.
    let img = style.paint(&[-10.0, 1000.0, 495.0, 2000.0], &[true; 4], 4, 1);
    assert_eq!(px(&img, 0), [0, 0, 0, 255]);
    assert_eq!(px(&img, 1), [255, 255, 255, 255]);
    assert_eq!(px(&img, 2), [127, 127, 127, 255]);
    assert_eq!(px(&img, 3)[3], 0, "outside the range is transparent");
}

#[test]
fn formula_keys_on_integer_and_float_layers_agree() {
    let colormap = r##"{"(x >= 2) & (x < 5)": "#123456", "x == max(x)": "#FF0000"}"##;
    let values: Vec<f64> = (0..300).map(f64::from).collect();
    let valid = vec![true; values.len()];
    let mut results = Vec::new();
    for dtype in [DataType::Uint16, DataType::Float32] {
        let ctx = LayerContext {
            dtype,
            categorical: true,
            stats: Some(StatsSummary {
                min: 0.0,
                max: 299.0,
                p2: 0.0,
                p98: 299.0,
            }),
        };
        let params = StyleParams {
            colormap: Some(colormap),
            ..StyleParams::default()
        };
        let style = Style::compile(&params, &ctx).unwrap();
        let (img, counts) = style.paint_with_counts(&values, &valid, 300, 1);
        assert_eq!(px(&img, 3), [18, 52, 86, 255]);
        assert_eq!(px(&img, 299), [255, 0, 0, 255]);
        assert_eq!(px(&img, 5)[3], 0);
        let counts: Vec<u64> = counts.iter().map(|c| c.count).collect();
        assert_eq!(counts, vec![3, 1]);
        results.push((img, style.canonical()));
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn bad_parameters_are_named() {
    let ctx = dem();
    let compile = |p: StyleParams| Style::compile(&p, &ctx).map(|_| ()).unwrap_err();
    let base = StyleParams::default();
    assert_eq!(
        param_of(compile(StyleParams {
            colormap: Some("{"),
            ..base
        })),
        "colormap"
    );
    assert_eq!(
        param_of(compile(StyleParams {
            colormap: Some(r##"{"1": "#12345"}"##),
            ..base
        })),
        "colormap"
    );
    assert_eq!(
        param_of(compile(StyleParams {
            colormap: Some(r##"{"y > 1": "#123"}"##),
            ..base
        })),
        "colormap"
    );
    assert_eq!(
        param_of(compile(StyleParams {
            colormap: Some(r##"{"x >": "#123"}"##),
            ..base
        })),
        "colormap"
    );
    assert_eq!(
        param_of(compile(StyleParams {
            colormap: Some(r##"{"mean(x) > 1": "#123"}"##),
            ..base
        })),
        "colormap"
    );
    assert_eq!(
        param_of(compile(StyleParams {
            colormap_name: Some("nope"),
            ..base
        })),
        "colormap_name"
    );
    assert_eq!(
        param_of(compile(StyleParams {
            rescale: Some("1"),
            ..base
        })),
        "rescale"
    );
    let legend = json!([{"expression": "x >", "color": "#000"}]);
    assert_eq!(
        param_of(compile(StyleParams {
            legend: Some(&legend),
            ..base
        })),
        "legend"
    );
    // Validated even when a higher-precedence parameter wins.
    assert_eq!(
        param_of(compile(StyleParams {
            colormap: Some(r##"{"1": "#000"}"##),
            rescale: Some("a,b"),
            ..base
        })),
        "rescale"
    );
    let many: String = (0..65)
        .map(|i| format!("\"x > {i}\": \"#000\""))
        .collect::<Vec<_>>()
        .join(",");
    let many = format!("{{{many}}}");
    assert_eq!(
        param_of(compile(StyleParams {
            colormap: Some(&many),
            ..base
        })),
        "colormap"
    );
}

#[test]
fn formula_cost_is_capped() {
    // Two formulas of ~3000 bytes each: each is within the algebra's 4096-byte limit, the
    // pair is over the style's total.
    let long = |n: usize| format!("x > {}", "1".repeat(n));
    let text = format!(
        r##"{{"{}": "#000", "{}": "#111"}}"##,
        long(3000),
        long(2999)
    );
    let params = StyleParams {
        colormap: Some(&text),
        ..StyleParams::default()
    };
    let err = Style::compile(&params, &dem()).map(|_| ()).unwrap_err();
    assert_eq!(param_of(err), "colormap");
    let ok = format!(r##"{{"{}": "#000"}}"##, long(3000));
    let params = StyleParams {
        colormap: Some(&ok),
        ..StyleParams::default()
    };
    assert!(Style::compile(&params, &dem()).is_ok());
}

#[test]
fn canonical_is_stable_across_spellings() {
    let a = r##"{"(x>=2)&(x<5)": "#123456", "4.0": "#abc"}"##;
    let b = r##"{"( x >= 2 ) & ( x < 5 )": "123456", "4": "abcabc"}"##;
    let canon = |c: &str| {
        Style::compile(
            &StyleParams {
                colormap: Some(c),
                ..StyleParams::default()
            },
            &dem(),
        )
        .unwrap()
        .canonical()
    };
    assert_eq!(canon(a), canon(b));
    assert_ne!(canon(a), canon(r##"{"4": "#abc"}"##));
}

#[test]
fn short_buffers_paint_transparent() {
    let style = Style::compile(&StyleParams::default(), &dem()).unwrap();
    let img = style.paint(&[100.0], &[true, true], 2, 2);
    assert_eq!(img.pixels.len(), 16);
    assert_eq!(px(&img, 0)[3], 255);
    assert!(img.pixels[4..].iter().all(|b| *b == 0));
    let empty = style.paint(&[], &[], 2, 2);
    assert!(empty.is_fully_transparent());
}
