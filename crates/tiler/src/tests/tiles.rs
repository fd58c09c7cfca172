//! Tile contents: formats, values, zoom rules, layers of every kind.

use tilefn_raster::TileCoord;

use super::*;
use crate::testkit::{categorical_layer, float_layer, holey_pixel, rgb_layer};

const TS: u64 = 256;

fn f32v(v: f64) -> f64 {
    f64::from(v as f32)
}

#[tokio::test]
async fn geotiff_has_the_raw_values_of_the_source() -> TestResult {
    let layer = float_layer("f");
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    for t in [
        TileCoord::new(5, 18, 13),
        TileCoord::new(5, 17, 12),
        TileCoord::new(3, 4, 3),
    ] {
        let r = svc.handle(&get(&format!("/tiles/f/{t}.tif"))).await;
        assert_eq!(r.status, 200, "{t}: {}", error_message(&r));
        assert_eq!(r.header("content-type"), Some("image/tiff"));
        let (dtype, bands, values, nodata) = decode_geotiff(&r.body)?;
        assert_eq!(
            (dtype, bands, nodata),
            (DataType::Float32, 1, Some(-9999.0))
        );
        let want = layer.block(t);
        assert_eq!(values.len(), want.values.len());
        for (p, got) in values.iter().enumerate() {
            let expected = if want.valid[p] {
                f32v(want.values[p])
            } else {
                -9999.0
            };
            assert_eq!(*got, expected, "{t} pixel {p}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn png_paints_the_default_grey_stretch() -> TestResult {
    let layer = float_layer("f");
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let manifest = svc.layer("f", None, 0.0).await?;
    let stats = manifest.manifest.bands[0].stats.clone().ok_or("stats")?;
    let t = TileCoord::new(5, 17, 12);
    let r = svc.handle(&get(&format!("/tiles/f/{t}.png"))).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(r.header("content-type"), Some("image/png"));
    let (w, h, rgba) = decode_png(&r.body)?;
    assert_eq!((w, h), (256, 256));
    let want = layer.block(t);
    for p in [0usize, 1000, 40_000, 65_535] {
        let px = &rgba[p * 4..p * 4 + 4];
        if want.valid[p] {
            let v = f32v(want.values[p]);
            let i = ((v - stats.p2) / (stats.p98 - stats.p2) * 256.0).clamp(0.0, 255.0);
            assert!(
                (f64::from(px[0]) - i.floor()).abs() <= 1.0,
                "pixel {p}: {px:?} vs {i}"
            );
            assert_eq!((px[0], px[3]), (px[1], 255));
            assert_eq!(px[1], px[2]);
        } else {
            assert_eq!(px[3], 0, "pixel {p} is nodata: transparent");
        }
    }
    Ok(())
}

#[tokio::test]
async fn jpeg_decodes_and_jpeg_is_an_alias() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    for ext in ["jpg", "jpeg"] {
        let r = svc.handle(&get(&format!("/tiles/f/5/18/13.{ext}"))).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("image/jpeg"));
        let mut decoder = jpeg_decoder::Decoder::new(std::io::Cursor::new(&r.body));
        let pixels = decoder.decode()?;
        let info = decoder.info().ok_or("jpeg info")?;
        assert_eq!((info.width, info.height), (256, 256));
        assert!(!pixels.is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn outside_and_empty_tiles_are_204() -> TestResult {
    let mut holey = float_layer("h");
    holey.pixel = holey_pixel;
    let (svc, _) = setup(&[float_layer("f"), holey]).await?;
    for url in [
        "/tiles/f/5/16/13.png", // west of the data box
        "/tiles/f/5/0/0.png",
        "/tiles/f/12/0/0.tif",
        "/tiles/h/5/18/13.png", // sparse in its COG
        "/tiles/f/5/16/13.png?encoding=terrarium",
        "/tiles/h/5/18/13.png?encoding=mapbox",
    ] {
        let r = svc.handle(&get(url)).await;
        assert_eq!(r.status, 204, "{url}: {}", error_message(&r));
        assert!(r.body.is_empty());
        assert!(r.header("etag").is_some());
        assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    }
    Ok(())
}

#[tokio::test]
async fn overzoom_repeats_max_zoom_pixels() -> TestResult {
    let layer = float_layer("f");
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let t = TileCoord::new(7, 18 * 4 + 1, 13 * 4 + 2);
    let r = svc.handle(&get(&format!("/tiles/f/{t}.tif"))).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, values, _) = decode_geotiff(&r.body)?;
    for (col, row) in [(0u64, 0u64), (3, 3), (4, 0), (255, 255), (100, 37)] {
        let gx = (u64::from(t.x) * TS + col) >> 2;
        let gy = (u64::from(t.y) * TS + row) >> 2;
        let want = layer.value_at(5, gx, gy).ok_or("inside")?[0];
        assert_eq!(
            values[(row * TS + col) as usize],
            f32v(want),
            "({col}, {row})"
        );
    }
    Ok(())
}

#[tokio::test]
async fn underzoom_averages_continuous_and_picks_classes() -> TestResult {
    let float = float_layer("f");
    let classes = categorical_layer("c");
    let (svc, _) = setup(&[float.clone(), classes.clone()]).await?;
    // z1 (1, 0) holds z3 (4, 3): each output pixel covers 4 x 4 z3 pixels.
    let r = svc.handle(&get("/tiles/f/1/1/0.tif")).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, values, _) = decode_geotiff(&r.body)?;
    let r = svc.handle(&get("/tiles/c/1/1/0.tif")).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, class_values, _) = decode_geotiff(&r.body)?;
    let mut checked = 0;
    for row in 0..TS {
        for col in 0..TS {
            let footprint: Vec<(u64, u64)> = (0..16)
                .map(|i| ((TS + col) * 4 + i % 4, row * 4 + i / 4))
                .collect();
            let inside: Vec<f64> = footprint
                .iter()
                .filter_map(|(gx, gy)| float.value_at(3, *gx, *gy))
                .map(|v| f32v(v[0]))
                .collect();
            if inside.len() != 16 {
                continue;
            }
            let p = (row * TS + col) as usize;
            let mean = inside.iter().sum::<f64>() / 16.0;
            assert!(
                (values[p] - mean).abs() < 1e-3,
                "({col}, {row}): {} vs {mean}",
                values[p]
            );
            let (cx, cy) = footprint[2 + 2 * 4];
            assert_eq!(class_values[p], classes.value_at(3, cx, cy).ok_or("c")?[0]);
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} full pixels");
    Ok(())
}

#[tokio::test]
async fn rgb_layers_render_as_colour() -> TestResult {
    let layer = rgb_layer("rgb");
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let t = TileCoord::new(5, 17, 12);
    let r = svc.handle(&get(&format!("/tiles/rgb/{t}.png"))).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, rgba) = decode_png(&r.body)?;
    let want = layer.block(t);
    let n = (TS * TS) as usize;
    let mut opaque = 0;
    for p in (0..n).step_by(97) {
        let px = &rgba[p * 4..p * 4 + 4];
        if want.valid[p] {
            let rgb = [want.values[p], want.values[n + p], want.values[2 * n + p]];
            if rgb.iter().all(|v| *v == 0.0) {
                continue; // render_rgb makes black transparent when alpha is on
            }
            assert_eq!(
                px,
                [rgb[0] as u8, rgb[1] as u8, rgb[2] as u8, 255],
                "pixel {p}"
            );
            opaque += 1;
        } else {
            assert_eq!(px[3], 0);
        }
    }
    assert!(opaque > 100);
    // A style parameter switches to band 0 through the style.
    let r = svc
        .handle(&get(&format!("/tiles/rgb/{t}.png?colormap_name=viridis")))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    Ok(())
}

#[tokio::test]
async fn categorical_layers_use_their_default_legend() -> TestResult {
    let layer = categorical_layer("c");
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let t = TileCoord::new(5, 18, 13);
    let r = svc.handle(&get(&format!("/tiles/c/{t}.png"))).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, rgba) = decode_png(&r.body)?;
    let want = layer.block(t);
    let colours = [
        [255, 0, 0, 255],
        [0, 255, 0, 255],
        [0, 0, 255, 255],
        [255, 255, 255, 255],
    ];
    for p in (0..(TS * TS) as usize).step_by(101) {
        let class = want.values[p] as usize;
        assert_eq!(
            rgba[p * 4..p * 4 + 4],
            colours[class - 1],
            "pixel {p} class {class}"
        );
    }
    // `legend=classes` only knows classes 1 and 2: 3 and 4 become transparent.
    let r = svc
        .handle(&get(&format!("/tiles/c/{t}.png?legend=classes")))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, rgba) = decode_png(&r.body)?;
    for p in (0..(TS * TS) as usize).step_by(101) {
        let class = want.values[p] as usize;
        let alpha = rgba[p * 4 + 3];
        assert_eq!(alpha == 255, class <= 2, "pixel {p} class {class}");
    }
    Ok(())
}

#[tokio::test]
async fn external_cogs_are_read_through_their_levels() -> TestResult {
    let mut layer = float_layer("ext");
    layer.external = true;
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    for t in [
        TileCoord::new(5, 18, 13),
        TileCoord::new(4, 9, 6),
        TileCoord::new(3, 4, 3),
    ] {
        let r = svc.handle(&get(&format!("/tiles/ext/{t}.tif"))).await;
        assert_eq!(r.status, 200, "{t}: {}", error_message(&r));
        let (_, _, values, _) = decode_geotiff(&r.body)?;
        let want = layer.block(t);
        for p in (0..(TS * TS) as usize).step_by(37) {
            let expected = if want.valid[p] {
                f32v(want.values[p])
            } else {
                -9999.0
            };
            assert_eq!(values[p], expected, "{t} pixel {p}");
        }
    }
    // Over-zoom works from the last level too.
    let r = svc.handle(&get("/tiles/ext/6/36/26.png")).await;
    assert_eq!(r.status, 200);
    Ok(())
}

#[tokio::test]
async fn headers_without_a_recorded_length_are_read_ahead() -> TestResult {
    let mut layer = float_layer("f");
    layer.record_header_len = false;
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let r = svc.handle(&get("/tiles/f/5/18/13.tif")).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, values, _) = decode_geotiff(&r.body)?;
    assert_eq!(
        values[0],
        f32v(layer.block(TileCoord::new(5, 18, 13)).values[0])
    );
    Ok(())
}
