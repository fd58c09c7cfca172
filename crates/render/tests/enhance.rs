//! `Enhancement` against PIL's `ImageEnhance`: `fixtures/enhance.json` holds Pillow's output
//! for every enhancer at several factors (extrapolation included) on small RGBA images with
//! transparent pixels, plus the four chained in the service's order. Regenerate it with
//! `fixtures/make_enhance.py`; the tests themselves need no Pillow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tilefn_render::{Enhancement, Rgba};

#[test]
fn enhancers_match_pillow_byte_for_byte() {
    let text = include_str!("fixtures/enhance.json");
    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
    let width = doc["width"].as_u64().unwrap() as usize;
    let height = doc["height"].as_u64().unwrap() as usize;
    let bytes = |v: &serde_json::Value| -> Vec<u8> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap() as u8)
            .collect()
    };
    let images: Vec<Vec<u8>> = doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(bytes)
        .collect();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() > 50);
    for case in cases {
        let factor = |k: &str| case["factors"][k].as_f64().unwrap_or(1.0);
        let one = case["factor"].as_f64().unwrap_or(1.0);
        let name = case["enhancer"].as_str().unwrap();
        let e = match name {
            "color" => Enhancement {
                color: one,
                ..Enhancement::default()
            },
            "contrast" => Enhancement {
                contrast: one,
                ..Enhancement::default()
            },
            "brightness" => Enhancement {
                brightness: one,
                ..Enhancement::default()
            },
            "sharpness" => Enhancement {
                sharpness: one,
                ..Enhancement::default()
            },
            "chain" => Enhancement {
                color: factor("color"),
                contrast: factor("contrast"),
                brightness: factor("brightness"),
                sharpness: factor("sharpness"),
            },
            other => panic!("unknown enhancer {other}"),
        };
        let src = &images[case["image"].as_u64().unwrap() as usize];
        let mut img = Rgba {
            width,
            height,
            pixels: src.clone(),
        };
        e.apply(&mut img);
        assert_eq!(
            img.pixels,
            bytes(&case["expected"]),
            "{name} {one} on image {}",
            case["image"]
        );
    }
}
