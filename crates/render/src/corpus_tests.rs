//! Every case of the shared django-raster colormap corpus
//! (`/work/shared/corpus/colormap/cases.json`), run through this crate's own code paths.

use serde_json::{Map, Value};
use tilefn_raster::DataType;

use crate::continuous::continuous_rgba;
use crate::spec::{self, Spec};
use crate::{LayerContext, Style, StyleParams, color_value, hex_to_rgba, rescale_to_channel_range};

fn cases() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/colormap/cases.json"
    );
    let text = std::fs::read_to_string(path).expect("corpus cases.json");
    serde_json::from_str(&text).expect("cases.json is JSON")
}

fn group(name: &str) -> Vec<Value> {
    let all = cases();
    let list = all[name].as_array().expect(name).clone();
    assert!(!list.is_empty(), "{name} has cases");
    list
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn bools(v: &Value) -> Vec<bool> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_bool().unwrap())
        .collect()
}

fn ctx(dtype: DataType) -> LayerContext {
    LayerContext {
        dtype,
        categorical: true,
        stats: None,
    }
}

#[test]
fn hex_to_rgba_cases() {
    for case in group("hex_to_rgba") {
        let input = case["input"].as_str().unwrap();
        let alpha = case.get("alpha").and_then(Value::as_u64).unwrap_or(255) as u8;
        let got = hex_to_rgba(input, alpha);
        match case.get("expected") {
            Some(want) => {
                let want: Vec<u8> = f64s(want).iter().map(|c| *c as u8).collect();
                assert_eq!(got.map(Vec::from), Ok(want), "{input:?}");
            }
            None => assert!(got.is_err(), "{input:?} must be an invalid color"),
        }
    }
}

#[test]
fn colormap_to_rgba_cases() {
    for case in group("colormap_to_rgba") {
        let input = case["input"].as_object().unwrap();
        let expected = case["expected"].as_object().unwrap();
        let rgb = |v: &Value| -> [f64; 3] {
            let c = f64s(v);
            [c[0], c[1], c[2]]
        };
        match spec::parse_legend(&case["input"]).unwrap() {
            Spec::Continuous { ramp, .. } => {
                // Only from/to/over are colours; the 4th channel of a converted hex string
                // is not used by the ramp.
                assert_eq!(ramp.from, rgb(&expected["from"]));
                assert_eq!(ramp.to, rgb(&expected["to"]));
                assert_eq!(ramp.over.unwrap(), rgb(&expected["over"]));
                assert_eq!(
                    color_value(&input["to"]).unwrap().to_vec(),
                    f64s(&expected["to"])
                        .iter()
                        .map(|c| *c as u8)
                        .collect::<Vec<_>>()
                );
            }
            Spec::Discrete(entries) => {
                assert_eq!(entries.len(), expected.len());
                for (e, (key, want)) in entries.iter().zip(expected) {
                    assert_eq!(&e.key, key);
                    let want: Vec<u8> = f64s(want).iter().map(|c| *c as u8).collect();
                    assert_eq!(e.color.to_vec(), want, "key {key}");
                }
            }
        }
    }
}

#[test]
fn rescale_to_channel_range_cases() {
    for case in group("rescale_to_channel_range") {
        let (from, to) = (case["from"].as_f64().unwrap(), case["to"].as_f64().unwrap());
        let over = case["over"].as_f64();
        let got: Vec<f64> = f64s(&case["data"])
            .iter()
            .map(|n| rescale_to_channel_range(*n, from, to, over))
            .collect();
        assert_eq!(got, f64s(&case["expected"]), "{case}");
    }
}

/// Paints `colormap` (a JSON dict, as the `colormap=` parameter) with the layer type given.
fn paint_dict(
    colormap: &Value,
    values: &[f64],
    valid: &[bool],
    dtype: DataType,
) -> (Vec<u8>, Map<String, Value>) {
    let text = colormap.to_string();
    let params = StyleParams {
        colormap: Some(&text),
        ..StyleParams::default()
    };
    let style = Style::compile(&params, &ctx(dtype)).unwrap();
    let (img, counts) = style.paint_with_counts(values, valid, values.len(), 1);
    let stats = counts
        .into_iter()
        .map(|c| (c.key, Value::from(c.count)))
        .collect();
    (img.pixels, stats)
}

#[test]
fn legend_expression_cases() {
    for case in group("legend_expressions") {
        let expr = case["expression"].as_str().unwrap();
        let values = f64s(&case["x"]["values"]);
        let valid: Vec<bool> = bools(&case["x"]["mask"]).iter().map(|m| !m).collect();
        let colormap = serde_json::json!({ expr: "#FFFFFF" });
        // Float data evaluates per tile; int16 tries the whole-domain table, finds
        // fractional values and falls back.
        for dtype in [DataType::Float64, DataType::Int16] {
            let (pixels, _) = paint_dict(&colormap, &values, &valid, dtype);
            for (i, want) in case["expected"].as_array().unwrap().iter().enumerate() {
                let painted = pixels[i * 4 + 3] == 255;
                // null = masked: never matches.
                let want = want.as_u64() == Some(1);
                assert_eq!(painted, want, "{expr} at {} ({dtype})", values[i]);
            }
        }
    }
}

#[test]
fn render_discrete_cases() {
    for case in group("render_discrete") {
        let values = f64s(&case["data"]["values"]);
        let valid: Vec<bool> = bools(&case["data"]["mask"]).iter().map(|m| !m).collect();
        let want: Vec<u8> = case["expected_rgba"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| f64s(p).into_iter().map(|c| c as u8))
            .collect();
        // uint8 uses the whole-domain table, float32 evaluates per tile.
        for dtype in [DataType::Uint8, DataType::Float32, DataType::Int16] {
            let (pixels, stats) = paint_dict(&case["colormap"], &values, &valid, dtype);
            assert_eq!(pixels, want, "{} ({dtype})", case["source"]);
            assert_eq!(
                &stats,
                case["expected_stats"].as_object().unwrap(),
                "{}",
                case["source"]
            );
        }
    }
}

#[test]
fn render_continuous_cases() {
    for case in group("render_continuous") {
        let values = f64s(&case["data"]["values"]);
        let mask = bools(&case["data"]["mask"]);
        let unmasked = mask.iter().all(|m| !m);
        let valid: Vec<bool> = mask.iter().map(|m| !m).collect();
        let pixels = if unmasked {
            // django-raster's unmasked quirk: only reachable through the bare function.
            let Spec::Continuous { ramp, range } = spec::parse_legend(&case["colormap"]).unwrap()
            else {
                panic!("continuous");
            };
            let range = range
                .or_else(|| crate::continuous::data_range(&values, &valid))
                .unwrap();
            let mut out = vec![0; values.len() * 4];
            continuous_rgba(
                &values, None, ramp.from, ramp.to, ramp.over, range, &mut out,
            );
            out
        } else {
            paint_dict(&case["colormap"], &values, &valid, DataType::Uint8).0
        };
        for (i, want) in case["expected_rgba"].as_array().unwrap().iter().enumerate() {
            let got = &pixels[i * 4..i * 4 + 4];
            let want = want.as_array().unwrap();
            assert_eq!(
                u64::from(got[3]),
                want[3].as_u64().unwrap(),
                "alpha {i} {}",
                case["source"]
            );
            for c in 0..3 {
                if let Some(w) = want[c].as_u64() {
                    assert_eq!(
                        u64::from(got[c]),
                        w,
                        "channel {c} of pixel {i} {}",
                        case["source"]
                    );
                }
            }
        }
    }
}

/// The exact class counts of the django-raster test raster, decoded with tilefn-cog and
/// counted through a discrete style's per-key statistics.
#[test]
fn value_counts_case() {
    let case = group("value_counts").into_iter().next().unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/tiff/django-raster__raster.tif"
    );
    let bytes = std::fs::read(path).unwrap();
    let limits = tilefn_cog::Limits::default();
    let tiff = tilefn_cog::parse_file(&bytes, &limits).unwrap();
    let ifd = tiff.images().next().unwrap();
    let nodata = ifd.nodata.unwrap();
    let mut values = Vec::new();
    for row in 0..ifd.tiles_down() {
        let range = ifd.tile_range(0, row).unwrap();
        let chunk = &bytes[range.start as usize..range.end as usize];
        let decoded = tilefn_cog::decode_tile(&tiff, ifd, chunk, &limits).unwrap();
        let rows_left = (ifd.height - row * ifd.tile_height).min(ifd.tile_height) as usize;
        values.extend(
            decoded[..rows_left * ifd.width as usize]
                .iter()
                .map(|b| f64::from(*b)),
        );
    }
    assert_eq!(values.len(), (ifd.width * ifd.height) as usize);
    let valid: Vec<bool> = values.iter().map(|v| *v != nodata).collect();
    let expected = case["expected"].as_object().unwrap();
    let colormap: Map<String, Value> = (0..10)
        .map(|k| (k.to_string(), Value::from("#000")))
        .collect();
    let (_, stats) = paint_dict(&Value::Object(colormap), &values, &valid, DataType::Uint8);
    for (key, count) in &stats {
        let want = expected.get(key).and_then(Value::as_u64).unwrap_or(0);
        assert_eq!(count.as_u64(), Some(want), "class {key}");
    }
}
