//! Encoders, checked by decoding their output: PNG with the png crate, JPEG with zune-jpeg,
//! GeoTIFF with tilefn-cog's reader.
// Test helpers outside #[test] fns unwrap too: a failure should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tilefn_raster::{Block, DataType, TileCoord};
use tilefn_render::{Rgba, encode_geotiff, encode_jpeg, encode_png, legend_swatch_png};

struct Decoded {
    color: png::ColorType,
    depth: png::BitDepth,
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

/// Decodes any PNG to RGBA8 (palette and tRNS expanded).
fn decode_png(bytes: &[u8]) -> Decoded {
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = dec.read_info().unwrap();
    let (color, depth) = {
        let info = reader.info();
        (info.color_type, info.bit_depth)
    };
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    buf.truncate(frame.buffer_size());
    if frame.color_type == png::ColorType::GrayscaleAlpha {
        buf = buf
            .chunks(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect();
    } else {
        assert_eq!(frame.color_type, png::ColorType::Rgba);
    }
    Decoded {
        color,
        depth,
        width: frame.width,
        height: frame.height,
        rgba: buf,
    }
}

fn image(width: usize, height: usize, f: impl Fn(usize, usize) -> [u8; 4]) -> Rgba {
    let pixels = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .flat_map(|(x, y)| f(x, y))
        .collect();
    Rgba {
        width,
        height,
        pixels,
    }
}

#[test]
fn few_colours_become_a_packed_palette_png() {
    let img = image(13, 7, |x, y| match (x + y) % 3 {
        0 => [255, 0, 0, 255],
        1 => [0, 0, 255, 128],
        _ => [0, 0, 0, 0],
    });
    let bytes = encode_png(&img).unwrap();
    let d = decode_png(&bytes);
    assert_eq!(
        (d.color, d.depth),
        (png::ColorType::Indexed, png::BitDepth::Two)
    );
    assert_eq!((d.width, d.height), (13, 7));
    assert_eq!(d.rgba, img.pixels);
}

#[test]
fn full_palette_and_rgb_and_rgba() {
    // 256 greys, opaque: 8-bit palette without tRNS.
    let grey = image(256, 4, |x, _| [x as u8, x as u8, x as u8, 255]);
    let d = decode_png(&encode_png(&grey).unwrap());
    assert_eq!(
        (d.color, d.depth),
        (png::ColorType::Indexed, png::BitDepth::Eight)
    );
    assert_eq!(d.rgba, grey.pixels);
    // Many colours, opaque: RGB.
    let many = image(64, 64, |x, y| [(x * 4) as u8, (y * 4) as u8, 7, 255]);
    let d = decode_png(&encode_png(&many).unwrap());
    assert_eq!(d.color, png::ColorType::Rgb);
    assert_eq!(d.rgba, many.pixels);
    // Many colours with transparency: RGBA, pixels kept exactly.
    let holes = image(64, 64, |x, y| {
        [
            (x * 4) as u8,
            (y * 4) as u8,
            7,
            if x == y { 0 } else { 255 },
        ]
    });
    let d = decode_png(&encode_png(&holes).unwrap());
    assert_eq!(d.color, png::ColorType::Rgba);
    assert_eq!(d.rgba, holes.pixels);
}

#[test]
fn grey_with_nodata_is_grey_alpha() {
    // 256 greys plus transparent: 257 colours, too many for a palette.
    let img = image(256, 8, |x, y| {
        if y == 0 && x < 3 {
            [0, 0, 0, 0]
        } else {
            [x as u8, x as u8, x as u8, 255]
        }
    });
    let d = decode_png(&encode_png(&img).unwrap());
    assert_eq!(d.color, png::ColorType::GrayscaleAlpha);
    assert_eq!(d.rgba, img.pixels);
}

#[test]
fn transparent_pixels_share_one_palette_entry() {
    // Different RGB under alpha 0 must not use up palette slots.
    let img = image(32, 32, |x, y| {
        if x < 16 {
            [x as u8, y as u8, 1, 0]
        } else {
            [9, 9, 9, 255]
        }
    });
    let d = decode_png(&encode_png(&img).unwrap());
    assert_eq!(d.color, png::ColorType::Indexed);
    for (got, want) in d.rgba.chunks(4).zip(img.pixels.chunks(4)) {
        assert_eq!(got[3], want[3]);
        if want[3] != 0 {
            assert_eq!(got, want);
        }
    }
}

#[test]
fn bad_dimensions_are_errors() {
    let img = Rgba {
        width: 2,
        height: 2,
        pixels: vec![0; 15],
    };
    assert!(encode_png(&img).is_err());
    assert!(encode_jpeg(&img, 80).is_err());
    let empty = Rgba {
        width: 0,
        height: 0,
        pixels: vec![],
    };
    assert!(encode_png(&empty).is_err());
    let huge = Rgba {
        width: 70_000,
        height: 1,
        pixels: vec![0; 280_000],
    };
    assert!(encode_jpeg(&huge, 80).is_err());
}

#[test]
fn jpeg_paints_transparent_black() {
    let img = image(64, 64, |x, _| {
        if x < 32 {
            [255, 255, 255, 0]
        } else {
            [200, 100, 50, 255]
        }
    });
    let bytes = encode_jpeg(&img, 90).unwrap();
    let mut dec = zune_jpeg::JpegDecoder::new(std::io::Cursor::new(&bytes));
    let rgb = dec.decode().unwrap();
    let info = dec.info().unwrap();
    assert_eq!((info.width, info.height), (64, 64));
    assert_eq!(rgb.len(), 64 * 64 * 3);
    let at = |x: usize, y: usize| &rgb[(y * 64 + x) * 3..(y * 64 + x) * 3 + 3];
    // JPEG is lossy: compare with a tolerance, away from the edge between the halves.
    let close = |got: &[u8], want: [u8; 3]| got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 6);
    assert!(close(at(8, 8), [0, 0, 0]), "{:?}", at(8, 8));
    assert!(close(at(56, 40), [200, 100, 50]), "{:?}", at(56, 40));
}

#[test]
fn geotiff_round_trips_values_nodata_and_georeferencing() {
    let tile = TileCoord::new(10, 300, 400);
    for (dtype, nodata) in [
        (DataType::Float32, Some(-9999.0)),
        (DataType::Int16, None),
        (DataType::Uint8, Some(255.0)),
    ] {
        let mut block = Block::empty(256, 256, 2, dtype, 0.0);
        for (i, v) in block.values.iter_mut().enumerate() {
            *v = dtype.clamp((i % 251) as f64 - 50.0);
        }
        for (i, ok) in block.valid.iter_mut().enumerate() {
            *ok = i % 7 != 0;
        }
        let bytes = encode_geotiff(&block, tile, nodata).unwrap();
        let limits = tilefn_cog::Limits::default();
        let tiff = tilefn_cog::parse_file(&bytes, &limits).unwrap();
        let ifd = tiff.images().next().unwrap();
        assert_eq!((ifd.width, ifd.height, ifd.dtype), (256, 256, Some(dtype)));
        assert_eq!(ifd.nodata, nodata);
        let alpha = nodata.is_none();
        assert_eq!(ifd.samples, 2 + u16::from(alpha));
        // EPSG:3857 and the tile's top-left corner.
        assert!(
            ifd.geo_key_directory
                .windows(4)
                .any(|k| k == [3072, 0, 1, 3857])
        );
        let bounds = tilefn_raster::mercator::tile_bounds(tile);
        let tie = ifd.model_tiepoint.as_ref().unwrap();
        assert!((tie[3] - bounds.min_x).abs() < 1e-6 && (tie[4] - bounds.max_y).abs() < 1e-6);
        let range = ifd.tile_range(0, 0).unwrap();
        let raw = tilefn_cog::decode_tile(
            &tiff,
            ifd,
            &bytes[range.start as usize..range.end as usize],
            &limits,
        )
        .unwrap();
        let size = dtype.size();
        let samples = usize::from(ifd.samples);
        for i in [0usize, 1, 7, 1000, 65535] {
            for b in 0..2 {
                let at = (i * samples + b) * size;
                let got = dtype.read_le(&raw[at..]).unwrap();
                let want = if block.valid[i] {
                    block.values[b * 65536 + i]
                } else {
                    nodata.unwrap_or(0.0)
                };
                assert_eq!(got, want, "{dtype} pixel {i} band {b}");
            }
            if alpha {
                let got = dtype.read_le(&raw[(i * samples + 2) * size..]).unwrap();
                assert_eq!(got > 0.0, block.valid[i]);
            }
        }
    }
}

#[test]
fn geotiff_rejects_wrong_sizes() {
    let block = Block::empty(100, 256, 1, DataType::Uint8, 0.0);
    assert!(encode_geotiff(&block, TileCoord::new(1, 0, 0), None).is_err());
}

#[test]
fn legend_swatches() {
    let ctx = tilefn_render::LayerContext {
        dtype: DataType::Uint8,
        categorical: true,
        stats: None,
    };
    let legend = serde_json::json!([
        {"expression": "1", "color": "#FF0000", "name": "one"},
        {"expression": "x > 1", "color": [0, 0, 255], "name": "more"},
    ]);
    let d = decode_png(&legend_swatch_png(&legend, &ctx).unwrap());
    assert_eq!((d.width, d.height), (16, 32));
    assert_eq!(&d.rgba[..4], &[255, 0, 0, 255]);
    assert_eq!(&d.rgba[d.rgba.len() - 4..], &[0, 0, 255, 255]);
    let ramp =
        serde_json::json!({"continuous": true, "from": "#000", "to": "#FFF", "range": [0, 10]});
    let d = decode_png(&legend_swatch_png(&ramp, &ctx).unwrap());
    assert_eq!((d.width, d.height), (256, 16));
    assert_eq!(&d.rgba[..4], &[0, 0, 0, 255]);
    assert_eq!(&d.rgba[255 * 4..256 * 4], &[255, 255, 255, 255]);
    let d = decode_png(&legend_swatch_png(&serde_json::json!("viridis_r"), &ctx).unwrap());
    assert_eq!((d.width, d.height), (256, 16));
    assert_eq!(&d.rgba[..4], &[253, 231, 37, 255]);
    assert_eq!(&d.rgba[255 * 4..256 * 4], &[68, 1, 84, 255]);
    assert!(legend_swatch_png(&serde_json::json!("nope"), &ctx).is_err());
    assert!(legend_swatch_png(&serde_json::json!([]), &ctx).is_err());
    assert!(legend_swatch_png(&serde_json::json!(3), &ctx).is_err());
}
