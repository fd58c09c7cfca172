//! `encoding=terrarium|mapbox`: raster-dem PNGs decode back to the `.tif` tile's values
//! within the encoding's precision, at stored, over- and under-zoomed tiles; nodata is an
//! opaque 0 m; 400s before any read; the ETag covers the encoding. (Their 204s are in
//! `tiles::outside_and_empty_tiles_are_204`.)

use tilefn_raster::TileCoord;
use tilefn_render::DemEncoding;

use super::*;
use crate::testkit::{Tally, float_layer, multiband_layer};

/// The nodata value of the synthetic float layers.
const NODATA: f64 = -9999.0;

/// Elevations with fractions no binary grid holds, below sea level, and, on every 9th
/// column, above Terrarium's top (32768 m) so the clamp shows.
fn terrain_pixel(z: u8, gx: u64, gy: u64, _band: usize) -> f64 {
    if gx % 9 == 4 {
        return 40_000.0;
    }
    f64::from(z) * 10.0 + (gx as f64 * 0.731).sin() * 900.0 + (gy % 37) as f64 * 1.013 - 120.0
}

/// A float32 DEM-like layer over the testkit's demo box (zooms 3..=5, nodata -9999).
fn terrain_layer(id: &str) -> SyntheticLayer {
    SyntheticLayer {
        pixel: terrain_pixel,
        ..float_layer(id)
    }
}

/// The elevations a raster-dem PNG holds (it must be 256x256 8-bit RGB, no alpha).
fn decode_dem(png: &[u8], encoding: DemEncoding) -> Result<Vec<f64>, BoxError> {
    // IHDR's colour type (byte 25): 2 is RGB.
    assert_eq!(
        png.get(25),
        Some(&2),
        "raster-dem PNGs are RGB without alpha"
    );
    let (w, h, rgba) = decode_png(png)?;
    assert_eq!((w, h), (256, 256));
    Ok(rgba
        .chunks_exact(4)
        .map(|p| encoding.decode([p[0], p[1], p[2]]))
        .collect())
}

/// Fetches `/tiles/{layer}/{t}.tif` and the same tile in `encoding`, and checks every pixel:
/// within half a step of the stored value (clamped to the encoding's range), 0 m at nodata.
/// Returns how many pixels were nodata.
async fn check_tile(
    svc: &Svc,
    layer: &str,
    t: TileCoord,
    encoding: DemEncoding,
) -> Result<usize, BoxError> {
    let tif = svc.handle(&get(&format!("/tiles/{layer}/{t}.tif"))).await;
    assert_eq!(tif.status, 200, "{t}.tif: {}", error_message(&tif));
    let (_, bands, want, _) = decode_geotiff(&tif.body)?;
    let url = format!("/tiles/{layer}/{t}.png?encoding={}", encoding.name());
    let r = svc.handle(&get(&url)).await;
    assert_eq!(r.status, 200, "{url}: {}", error_message(&r));
    assert_eq!(r.header("content-type"), Some("image/png"));
    let got = decode_dem(&r.body, encoding)?;
    let (lo, hi) = encoding.range();
    let mut nodata = 0;
    for (p, g) in got.iter().enumerate() {
        // Band 0 of a multi-band `.tif` is its first 256 x 256 values.
        let w = want[p];
        let expected = if w == NODATA { 0.0 } else { w.clamp(lo, hi) };
        nodata += usize::from(w == NODATA);
        // Under-zoomed averages are `f64`s the `.tif` rounds to float32 (half an ulp off);
        // the PNG encodes the average itself.
        let f32_rounding = expected.abs() * f64::from(f32::EPSILON) / 2.0;
        let off = (g - expected).abs();
        assert!(
            off <= encoding.step() / 2.0 + f32_rounding + 1e-9,
            "{url} pixel {p}: {g} for {w}"
        );
    }
    assert!(bands >= 1);
    Ok(nodata)
}

#[tokio::test]
async fn raster_dem_tiles_decode_to_the_tif_values() -> TestResult {
    let (svc, _) = setup(&[terrain_layer("t")]).await?;
    for encoding in DemEncoding::ALL {
        let mut nodata = 0;
        for t in [
            TileCoord::new(5, 18, 13),                 // stored, inside
            TileCoord::new(5, 17, 12),                 // stored, the box's corner: nodata
            TileCoord::new(7, 18 * 4 + 1, 13 * 4 + 2), // over-zoomed
            TileCoord::new(1, 1, 0),                   // under-zoomed (averaged)
        ] {
            nodata += check_tile(&svc, "t", t, encoding).await?;
        }
        assert!(
            nodata > 1000,
            "{encoding:?}: the corner tile has nodata ({nodata})"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_multiband_layer_gives_band_0() -> TestResult {
    let (svc, _) = setup(&[multiband_layer("m")]).await?;
    check_tile(&svc, "m", TileCoord::new(5, 18, 13), DemEncoding::Mapbox).await?;
    Ok(())
}

#[tokio::test]
async fn bad_requests_are_400s_before_any_read() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    for (url, says) in [
        (
            "/tiles/f/5/18/13.png?encoding=terrain-rgb",
            "expected terrarium or mapbox",
        ),
        ("/tiles/f/5/18/13.jpg?encoding=terrarium", "use .png"),
        ("/tiles/f/5/18/13.tif?encoding=mapbox", "use .png"),
        (
            "/tiles/f/5/18/13.png?encoding=mapbox&colormap_name=viridis",
            "do(es) not apply",
        ),
        (
            "/tiles/f/5/18/13.png?encoding=mapbox&enhance_brightness=2",
            "enhance_brightness",
        ),
    ] {
        let r = svc.handle(&get(url)).await;
        assert_eq!(r.status, 400, "{url}");
        let message = error_message(&r);
        assert!(
            message.starts_with("encoding: ") && message.contains(says),
            "{url}: {message}"
        );
    }
    assert_eq!(svc.bucket().tally(), Tally::default(), "nothing read");
    Ok(())
}

#[tokio::test]
async fn the_etag_covers_the_encoding() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let mut tags = Vec::new();
    for q in ["", "?encoding=terrarium", "?encoding=mapbox"] {
        let r = svc.handle(&get(&format!("/tiles/f/5/18/13.png{q}"))).await;
        assert_eq!(r.status, 200);
        tags.push(r.header("etag").ok_or("etag")?.to_owned());
    }
    assert!(
        tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
        "{tags:?}"
    );
    // A repeat is a 304 from the cached manifest, without reading the tile.
    svc.bucket().reset();
    let again = Request {
        if_none_match: Some(tags[1].clone()),
        ..get("/tiles/f/5/18/13.png?encoding=terrarium")
    };
    let r = svc.handle(&again).await;
    assert_eq!(r.status, 304);
    assert_eq!(svc.bucket().tally(), Tally::default());
    Ok(())
}
