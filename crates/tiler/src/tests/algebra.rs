//! `/algebra` (formulas, RGB, enhancement), `/pixel`, and their errors and read budget.

use tilefn_algebra::ReduceFn;
use tilefn_raster::TileCoord;
use tilefn_raster::mercator::{ORIGIN_SHIFT, mercator_to_lonlat, resolution};
use tilefn_render::{Enhancement, Rgba};

use super::*;
use crate::testkit::{Tally, float_layer, multiband_layer, rgb_layer};

const TS: u64 = 256;
const NDVI: &str = "(a-b)/(a%2Bb)";

fn f32v(v: f64) -> f64 {
    f64::from(v as f32)
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_default()
}

#[tokio::test]
async fn ndvi_over_two_bands_of_one_layer_equals_a_direct_computation() -> TestResult {
    let ms = multiband_layer("ms");
    let (svc, _) = setup(std::slice::from_ref(&ms)).await?;
    let t = TileCoord::new(5, 17, 12);
    let url = format!("/algebra/{t}.tif?layers=a:0=ms,b:2=ms&formula={NDVI}");
    let r = svc.handle(&get(&url)).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(r.header("content-type"), Some("image/tiff"));
    let (dtype, bands, values, nodata) = decode_geotiff(&r.body)?;
    assert_eq!((dtype, bands), (DataType::Float32, 1));
    assert!(nodata.is_some_and(f64::is_nan), "NaN nodata: {nodata:?}");
    let want = ms.block(t);
    let n = want.pixels();
    let (mut valid, mut invalid) = (0, 0);
    for (p, got) in values.iter().enumerate() {
        if want.valid[p] {
            let (a, b) = (f32v(want.values[p]), f32v(want.values[2 * n + p]));
            assert_eq!(*got, f32v((a - b) / (a + b)), "pixel {p}");
            valid += 1;
        } else {
            assert!(got.is_nan(), "pixel {p} is nodata");
            invalid += 1;
        }
    }
    assert!(
        valid > 0 && invalid > 0,
        "an edge tile: {valid} / {invalid}"
    );
    // The same formula spelled differently is the same tile (canonical formula in the ETag).
    let same = format!("/algebra/{t}.tif?formula=((a%20-%20b))/(a%2Bb)&layers=b:2=ms,a:0=ms,c=ms");
    let r2 = svc.handle(&get(&same)).await;
    assert_eq!(r2.header("etag"), r.header("etag"));
    assert_eq!(r2.body, r.body);
    // PNG: grey stretch over the whole-layer min..max of the formula.
    let png = svc
        .handle(&get(&format!(
            "/algebra/{t}.png?layers=a:0=ms,b:2=ms&formula={NDVI}"
        )))
        .await;
    assert_eq!(png.status, 200, "{}", error_message(&png));
    let (w, h, rgba) = decode_png(&png.body)?;
    assert_eq!((w, h), (256, 256));
    let p = (0..n).find(|p| want.valid[*p]).ok_or("a valid pixel")?;
    assert_eq!(rgba[p * 4 + 3], 255);
    let q = (0..n).find(|p| !want.valid[*p]).ok_or("an invalid pixel")?;
    assert_eq!(rgba[q * 4 + 3], 0);
    Ok(())
}

#[tokio::test]
async fn layers_of_different_zooms_overzoom_the_coarser_one() -> TestResult {
    let fine = float_layer("fine");
    let mut coarse = float_layer("coarse");
    coarse.max_zoom = 4;
    let (svc, _) = setup(&[fine.clone(), coarse.clone()]).await?;
    let t = TileCoord::new(5, 18, 13);
    let url = format!("/algebra/{t}.tif?layers=a=fine,b=coarse&formula=a-b");
    let r = svc.handle(&get(&url)).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, values, _) = decode_geotiff(&r.body)?;
    let mut checked = 0;
    for (col, row) in [
        (0u64, 0u64),
        (1, 1),
        (2, 3),
        (200, 100),
        (255, 255),
        (60, 250),
    ] {
        let gx = u64::from(t.x) * TS + col;
        let gy = u64::from(t.y) * TS + row;
        let got = values[(row * TS + col) as usize];
        match (fine.value_at(5, gx, gy), coarse.value_at(4, gx / 2, gy / 2)) {
            (Some(a), Some(b)) => {
                assert_eq!(got, f32v(f32v(a[0]) - f32v(b[0])), "({col}, {row})");
                checked += 1;
            }
            _ => assert!(got.is_nan(), "({col}, {row})"),
        }
    }
    assert!(checked >= 3);
    Ok(())
}

#[tokio::test]
async fn reductions_are_whole_layer_values() -> TestResult {
    let ms = multiband_layer("ms");
    let (svc, _) = setup(std::slice::from_ref(&ms)).await?;
    let t = TileCoord::new(5, 18, 13);
    let layer = svc.layer("ms", None, 0.0).await?;
    let min_a = layer.manifest.bands[0].stats.as_ref().ok_or("stats")?.min;
    // A bare variable: from the manifest's statistics.
    let r = svc
        .handle(&get(&format!(
            "/algebra/{t}.tif?layers=a=ms&formula=a-min(a)"
        )))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, values, _) = decode_geotiff(&r.body)?;
    let want = ms.block(t);
    let p = (0..want.pixels()).find(|p| want.valid[*p]).ok_or("valid")?;
    assert_eq!(values[p], f32v(f32v(want.values[p]) - min_a));
    // An expression: over the coarsest overview (the one z3 tile holding the layer).
    let r = svc
        .handle(&get(&format!(
            "/algebra/{t}.tif?layers=a:0=ms,b:1=ms&formula=mean(b-a)"
        )))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, values, _) = decode_geotiff(&r.body)?;
    let overview = ms.block(TileCoord::new(3, 4, 3));
    let n = overview.pixels();
    let diffs: Vec<f64> = (0..n)
        .map(|p| f32v(overview.values[n + p]) - f32v(overview.values[p]))
        .collect();
    let mean = ReduceFn::Mean
        .apply(&diffs, &overview.valid)
        .ok_or("mean")?;
    assert_eq!(values[0], f32v(mean), "constant over the tile");
    Ok(())
}

#[tokio::test]
async fn rgb_mode_with_scale_and_alpha() -> TestResult {
    let rgb = rgb_layer("rgb");
    let (svc, _) = setup(std::slice::from_ref(&rgb)).await?;
    let t = TileCoord::new(5, 17, 12);
    let base = format!("/algebra/{t}.png?layers=r:0=rgb,g:1=rgb,b:2=rgb");
    let want = rgb.block(t);
    let n = want.pixels();
    let r = svc.handle(&get(&format!("{base}&scale=0,255"))).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (_, _, px) = decode_png(&r.body)?;
    for p in (0..n).step_by(997) {
        let got = &px[p * 4..p * 4 + 4];
        if want.valid[p] {
            let expect: Vec<u8> = (0..3).map(|b| want.values[b * n + p] as u8).collect();
            assert_eq!(&got[..3], expect.as_slice(), "pixel {p}");
            assert_eq!(got[3], 255);
        } else {
            assert_eq!(got[3], 0, "pixel {p}");
        }
    }
    // scale=200,255 sends most pixels to black; `alpha` makes the all-black ones clear.
    let dark = |p: usize| (0..3).all(|b| want.values[b * n + p] < 200.0);
    let p = (0..n)
        .find(|p| want.valid[*p] && dark(*p))
        .ok_or("a dark pixel")?;
    let plain = decode_png(
        &svc.handle(&get(&format!("{base}&scale=200,255")))
            .await
            .body,
    )?
    .2;
    assert_eq!(&plain[p * 4..p * 4 + 4], &[0, 0, 0, 255]);
    let clear = svc
        .handle(&get(&format!("{base}&scale=200,255&alpha")))
        .await;
    assert_ne!(clear.header("etag"), None);
    let clear = decode_png(&clear.body)?.2;
    assert_eq!(clear[p * 4 + 3], 0);
    // Without scale: each channel's p2..p98 (the testkit's stats are the band's min..max).
    let layer = svc.layer("rgb", None, 0.0).await?;
    let s = layer.manifest.bands[1].stats.as_ref().ok_or("stats")?;
    let default = decode_png(&svc.handle(&get(&base)).await.body)?.2;
    let q = (0..n).find(|p| want.valid[*p]).ok_or("valid")?;
    let g = ((want.values[n + q] - s.p2) * (255.0 / (s.p98 - s.p2))) as u8;
    assert_eq!(default[q * 4 + 1], g);
    Ok(())
}

#[tokio::test]
async fn enhancement_is_applied_as_pil_would() -> TestResult {
    let (svc, _) = setup(&[float_layer("f"), rgb_layer("rgb")]).await?;
    for (url, e) in [
        (
            "/tiles/f/5/17/12.png",
            Enhancement {
                contrast: 2.0,
                ..Enhancement::default()
            },
        ),
        (
            "/algebra/5/17/12.png?layers=r:0=rgb,g:1=rgb,b:2=rgb&scale=0,255",
            Enhancement {
                color: 0.5,
                brightness: 1.5,
                sharpness: 3.0,
                ..Enhancement::default()
            },
        ),
    ] {
        let plain = svc.handle(&get(url)).await;
        let sep = if url.contains('?') { '&' } else { '?' };
        let q = format!(
            "enhance_color={}&enhance_contrast={}&enhance_brightness={}&enhance_sharpness={}",
            e.color, e.contrast, e.brightness, e.sharpness
        );
        let enhanced = svc.handle(&get(&format!("{url}{sep}{q}"))).await;
        assert_eq!(enhanced.status, 200, "{}", error_message(&enhanced));
        assert_ne!(plain.header("etag"), enhanced.header("etag"));
        let (w, h, pixels) = decode_png(&plain.body)?;
        let mut img = Rgba {
            width: w as usize,
            height: h as usize,
            pixels,
        };
        e.apply(&mut img);
        let got = decode_png(&enhanced.body)?.2;
        assert_ne!(got, decode_png(&plain.body)?.2, "{url}: changed");
        assert_eq!(got, img.pixels, "{url}");
    }
    let r = svc
        .handle(&get("/tiles/f/5/17/12.png?enhance_color=11"))
        .await;
    assert_eq!(r.status, 400);
    assert!(error_message(&r).starts_with("enhance_color:"));
    Ok(())
}

#[tokio::test]
async fn pixel_values_in_both_crs() -> TestResult {
    let f = float_layer("f");
    let (svc, _) = setup(std::slice::from_ref(&f)).await?;
    let (gx, gy) = (18 * TS + 100, 13 * TS + 77);
    let res = resolution(5);
    let x = -ORIGIN_SHIFT + (gx as f64 + 0.5) * res;
    let y = ORIGIN_SHIFT - (gy as f64 + 0.5) * res;
    let want = f32v(f.value_at(5, gx, gy).ok_or("inside")?[0]);
    let r = svc
        .handle(&get(&format!("/pixel/{x}/{y}/?layers=a=f&formula=a*2")))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = json(&r);
    assert_eq!(v["value"], want * 2.0);
    assert_eq!(
        (v["nodata"].as_bool(), v["zoom"].as_u64()),
        (Some(false), Some(5))
    );
    // lon/lat, and no formula with a single binding: the band value.
    let (lon, lat) = mercator_to_lonlat(x, y);
    let r = svc
        .handle(&get(&format!("/pixel/{lon}/{lat}?layers=a=f&crs=4326")))
        .await;
    assert_eq!(json(&r)["value"], want, "{}", error_message(&r));
    // Outside the data: nodata.
    let r = svc.handle(&get("/pixel/0/0?layers=a=f")).await;
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(
        (
            v["value"].is_null(),
            v["nodata"].as_bool(),
            v["zoom"].as_u64()
        ),
        (true, Some(true), Some(5))
    );
    Ok(())
}

#[tokio::test]
async fn malformed_queries_are_400_before_any_read() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    for (formula, position) in [("1%2B", 2), ("(a", 2), ("a%20b", 2)] {
        let r = svc
            .handle(&get(&format!(
                "/algebra/5/18/13.png?layers=a=f&formula={formula}"
            )))
            .await;
        assert_eq!(r.status, 400);
        let v = json(&r);
        assert_eq!(v["error"]["code"], "bad_formula");
        assert_eq!(v["error"]["position"], position, "{formula}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("formula: at byte {position}: expected")),
            "{message}"
        );
    }
    let vars: Vec<String> = (0..17).map(|i| format!("v{i}")).collect();
    let cases = [
        (
            "/algebra/5/18/13.png?layers=a=f&formula=a*zz".to_owned(),
            "\"zz\"",
        ),
        (
            format!(
                "/algebra/5/18/13.png?layers=a=f&formula={}",
                vars.join("%2B")
            ),
            "16",
        ),
        (
            "/algebra/5/18/13.png?layers=a=f,b=f".to_owned(),
            "formula: required",
        ),
        (
            "/algebra/5/18/13.png?layers=a:x=f&formula=a".to_owned(),
            "layers:",
        ),
        ("/pixel/a/0?layers=a=f".to_owned(), "x:"),
        (
            "/pixel/0/0?layers=r=f,g=f,b=f".to_owned(),
            "formula: required",
        ),
    ];
    for (url, needle) in &cases {
        let r = svc.handle(&get(url)).await;
        assert_eq!(r.status, 400, "{url}");
        assert!(
            error_message(&r).contains(needle),
            "{url}: {}",
            error_message(&r)
        );
    }
    assert_eq!(svc.bucket().tally(), Tally::default(), "no read for a 400");
    // Unknown layers are 404; a band the layer lacks is 400 (after its manifest).
    let r = svc
        .handle(&get("/algebra/5/18/13.png?layers=a=nope&formula=a"))
        .await;
    assert_eq!(r.status, 404);
    let r = svc
        .handle(&get("/algebra/5/18/13.png?layers=a:1=f&formula=a"))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        error_message(&r).contains("1 band"),
        "{}",
        error_message(&r)
    );
    Ok(())
}

#[tokio::test]
async fn a_warm_algebra_tile_over_two_bands_of_one_layer_is_one_read() -> TestResult {
    let (svc, _) = setup(&[multiband_layer("ms")]).await?;
    let query = format!("layers=a:0=ms,b:3=ms&formula={NDVI}");
    // Cold, raw: manifest + header + one tile read, though the layer is bound twice.
    let r = svc
        .handle(&get(&format!("/algebra/5/18/12.tif?{query}")))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(svc.bucket().tally(), Tally { gets: 1, reads: 2 });
    let r = svc
        .handle(&get(&format!("/algebra/5/18/13.png?{query}")))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    svc.bucket().reset();
    // Another tile of the same COG: the stretch and the header are cached.
    let r = svc
        .handle(&get(&format!("/algebra/5/17/13.png?{query}")))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(svc.bucket().tally(), Tally { gets: 0, reads: 1 });
    // A conditional request with the tag reads nothing.
    svc.bucket().reset();
    let tag = r.header("etag").ok_or("etag")?.to_owned();
    let again = Request {
        if_none_match: Some(tag),
        ..get(&format!("/algebra/5/17/13.png?{query}"))
    };
    assert_eq!(svc.handle(&again).await.status, 304);
    assert_eq!(svc.bucket().tally(), Tally::default());
    Ok(())
}
