//! Neighbourhood functions on tiles: seamless by construction (a 3×3 block of tiles, across
//! a COG boundary, stitched, equals the operation over the stitched source bit for bit),
//! over-zoomed tiles, reads coalesced per COG, `/pixel`, `?algorithm=`, and the 400s.

use tilefn_algebra::{Bindings, Column, Expr, Reduction, evaluate_grid};
use tilefn_raster::TileCoord;
use tilefn_raster::mercator::tile_bounds;

use super::*;
use crate::neighbourhood::{TerrainQuery, grid};
use crate::testkit::{SyntheticLayer, float_layer};

const TS: usize = 256;

/// Rolling hills (metres) from the global pixel position, with a nodata pit; the same surface
/// at every zoom.
fn hills_pixel(z: u8, gx: u64, gy: u64, _band: usize) -> f64 {
    let world = 256.0 * f64::from(1u32 << z);
    let (u, v) = (gx as f64 / world, gy as f64 / world);
    let tau = std::f64::consts::TAU;
    let h = 1500.0
        + 900.0 * (u * 97.0 * tau).sin() * (v * 71.0 * tau).cos()
        + 300.0 * ((u + v) * 331.0 * tau).sin();
    // A nodata pit near the middle of z5 tile (20, 12), to test edges next to nodata.
    let pit = (u - 20.3 / 32.0).powi(2) + (v - 12.6 / 32.0).powi(2) < (6.0 / 8192.0f64).powi(2);
    if pit { -9999.0 } else { h }
}

/// The hills over z5 tiles x 18..=22, y 11..=14: two z3 anchors (x 16..19 and 20..23),
/// so the layer is stored in two COGs split between x 19 and 20.
fn hills_layer() -> SyntheticLayer {
    let a = tile_bounds(TileCoord::new(5, 18, 11));
    let b = tile_bounds(TileCoord::new(5, 22, 14));
    SyntheticLayer {
        bounds: tilefn_raster::Bounds::new(
            a.min_x + 10.0,
            b.min_y + 10.0,
            b.max_x - 10.0,
            a.max_y - 10.0,
        ),
        pixel: hills_pixel,
        ..float_layer("dem")
    }
}

/// One bound variable over a source grid.
struct Source {
    values: Vec<f64>,
    valid: Vec<bool>,
}

impl Bindings for Source {
    fn column(&self, _: &str) -> Option<Column<'_>> {
        Some(Column {
            values: &self.values,
            valid: &self.valid,
            nodata: Some(-9999.0),
        })
    }
    fn reduction(&self, _: &Reduction) -> Option<f64> {
        None
    }
}

/// The stored values of the `(2k+1)²` tiles around `centre`, stitched into one grid.
fn stitched_source(layer: &SyntheticLayer, centre: TileCoord, k: u32) -> Source {
    let side = (2 * k as usize + 1) * TS;
    let mut src = Source {
        values: vec![0.0; side * side],
        valid: vec![false; side * side],
    };
    for dy in 0..=2 * k {
        for dx in 0..=2 * k {
            let t = TileCoord::new(centre.z, centre.x + dx - k, centre.y + dy - k);
            let block = layer.block(t);
            for row in 0..TS {
                for col in 0..TS {
                    let dst = (dy as usize * TS + row) * side + dx as usize * TS + col;
                    src.values[dst] = block.values[row * TS + col];
                    src.valid[dst] = block.valid[row * TS + col];
                }
            }
        }
    }
    src
}

/// `/algebra` float32 tiles of `formula` over the 3×3 block around `centre`, stitched.
async fn stitched_tiles(
    svc: &Svc,
    formula: &str,
    centre: TileCoord,
    extra: &str,
) -> Result<(Vec<f64>, Vec<bool>), BoxError> {
    let side = 3 * TS;
    let (mut values, mut valid) = (vec![f64::NAN; side * side], vec![false; side * side]);
    for dy in 0..3u32 {
        for dx in 0..3u32 {
            let t = TileCoord::new(centre.z, centre.x + dx - 1, centre.y + dy - 1);
            let url = format!("/algebra/{t}.tif?layers=a=dem&formula={formula}{extra}");
            let r = svc.handle(&get(&url)).await;
            if r.status == 204 {
                continue;
            }
            assert_eq!(r.status, 200, "{url}: {}", error_message(&r));
            let (_, _, tile, _) = decode_geotiff(&r.body)?;
            for row in 0..TS {
                for col in 0..TS {
                    let v = tile[row * TS + col];
                    let dst = (dy as usize * TS + row) * side + dx as usize * TS + col;
                    values[dst] = v;
                    valid[dst] = !v.is_nan();
                }
            }
        }
    }
    Ok((values, valid))
}

/// Tiles of each formula around `centre` equal the formula over the stitched source.
async fn assert_seamless(
    svc: &Svc,
    layer: &SyntheticLayer,
    centre: TileCoord,
    extra: &str,
) -> TestResult {
    let formulas = [
        "hillshade(a)",
        "slope(a)",
        "aspect(a)",
        "focal_mean(a, circle(3))",
        "focal_median(a, 5)",
        "slope(focal_mean(a, 5)) %2B focal_max(a, wedge(4, 30, 200))",
    ];
    // 5×5 tiles of source: every cell of the 3×3 block has its whole halo inside.
    let source = stitched_source(layer, centre, 2);
    let terrain = TerrainQuery::default();
    let reference_grid = grid(centre, 2 * TS as u32, &terrain);
    for formula in formulas {
        let expr = Expr::parse(&formula.replace("%2B", "+"))?;
        let want = evaluate_grid(&expr, &reference_grid, &source)?;
        let (got, got_valid) = stitched_tiles(svc, formula, centre, extra).await?;
        let (side, big) = (3 * TS, 5 * TS);
        let mut compared = 0;
        for row in 0..side {
            for col in 0..side {
                let w = (row + TS) * big + col + TS;
                let g = row * side + col;
                let want_valid = want.valid[w];
                assert_eq!(
                    got_valid[g], want_valid,
                    "{formula}: validity at ({col}, {row})"
                );
                if want_valid {
                    let expected = f64::from(want.values[w] as f32);
                    assert_eq!(
                        got[g].to_bits(),
                        expected.to_bits(),
                        "{formula} at ({col}, {row})"
                    );
                    compared += 1;
                }
            }
        }
        assert!(
            compared > side * side / 2,
            "{formula}: only {compared} valid cells"
        );
    }
    Ok(())
}

#[tokio::test]
async fn tiles_are_seamless_across_tiles_and_cog_boundaries() -> TestResult {
    let layer = hills_layer();
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    // Centre x 20: the block spans x 19..21, across the COG boundary between 19 and 20, and
    // tile (20, 12) holds the nodata pit.
    assert_seamless(&svc, &layer, TileCoord::new(5, 20, 12), "").await
}

#[tokio::test]
async fn a_halo_is_read_with_the_tile_and_neighbours_rims_are_reused() -> TestResult {
    let layer = hills_layer();
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let tif = |t: &str, f: &str| get(&format!("/algebra/{t}.tif?layers=a=dem&formula={f}"));
    // Warm the manifest and both COG headers with halo-free tiles.
    for t in ["5/18/13", "5/21/13"] {
        let r = svc.handle(&tif(t, "a")).await;
        assert_eq!(r.status, 200, "{}", error_message(&r));
    }
    svc.bucket().reset();
    let r = svc.handle(&tif("5/19/12", "slope(a)")).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    // Across the COG boundary: at most one read per tile row of each COG (a COG stores a
    // level row by row; rows closer than the 64 KiB coalescing gap merge).
    let reads = svc.bucket().tally().reads;
    assert!(
        (2..=6).contains(&reads),
        "{reads} reads for a tile and its halo"
    );
    // The east neighbour's halo: tiles 19 and 20 of rows 11..=13 left their rims, so only
    // tile (20, 12) itself and the column x = 21 are read, all in the second COG.
    svc.bucket().reset();
    let r = svc.handle(&tif("5/20/12", "slope(a)")).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let reads = svc.bucket().tally().reads;
    assert!((1..=3).contains(&reads), "{reads} reads with cached rims");
    // Its own tile once more: the rims and nothing else are cached, so one read.
    svc.bucket().reset();
    let r = svc.handle(&tif("5/20/12", "hillshade(a)")).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(
        svc.bucket().tally().reads,
        1,
        "every neighbour's rim is cached"
    );
    Ok(())
}

#[tokio::test]
async fn over_zoomed_tiles_are_seamless_too() -> TestResult {
    let layer = hills_layer();
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    // Zoom 7 tiles are over-zoomed from zoom 5; compare with the over-zoomed source.
    let centre = TileCoord::new(7, 81, 50);
    let over = SyntheticLayer {
        max_zoom: 7,
        pixel: |z, gx, gy, b| hills_pixel(5, gx >> (z - 5), gy >> (z - 5), b),
        ..hills_layer()
    };
    assert_seamless(&svc, &over, centre, "").await
}

#[tokio::test]
async fn pixel_and_algorithm_answer_the_same_values() -> TestResult {
    let layer = hills_layer();
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let t = TileCoord::new(5, 20, 12);
    let tile = svc
        .handle(&get(&format!(
            "/algebra/{t}.tif?layers=a=dem&formula=slope(a)"
        )))
        .await;
    assert_eq!(tile.status, 200, "{}", error_message(&tile));
    let (_, _, values, _) = decode_geotiff(&tile.body)?;
    // `algorithm=slope` on /tiles is the same formula.
    let alg = svc
        .handle(&get(&format!("/tiles/dem/{t}.tif?algorithm=slope")))
        .await;
    assert_eq!(alg.status, 200, "{}", error_message(&alg));
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(
        bits(&decode_geotiff(&alg.body)?.2) == bits(&values),
        "algorithm=slope differs"
    );
    // `/pixel` at the centre of the tile's first pixel (its halo reaches into tile x 19).
    let b = tile_bounds(t);
    let res = b.width() / 256.0;
    let url = format!(
        "/pixel/{}/{}?layers=a=dem&formula=slope(a)",
        b.min_x + res / 2.0,
        b.max_y - res / 2.0
    );
    let r = svc.handle(&get(&url)).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let got = v["value"].as_f64().ok_or("no value")?;
    assert_eq!(got as f32, values[0] as f32);
    // A styled hillshade PNG by default.
    let png = svc
        .handle(&get(&format!("/tiles/dem/{t}.png?algorithm=hillshade")))
        .await;
    assert_eq!(png.status, 200, "{}", error_message(&png));
    assert_eq!(png.header("content-type"), Some("image/png"));
    Ok(())
}

#[tokio::test]
async fn costs_and_parameters_are_400s_before_any_read() -> TestResult {
    let layer = hills_layer();
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    svc.bucket().reset();
    let cases = [
        (
            "/algebra/5/20/12.png?layers=a=dem&formula=focal_median(a,33)",
            "neighbourhood work limit",
        ),
        (
            "/algebra/5/20/12.png?layers=a=dem&formula=focal_mean(a,circle(17))",
            "radius limit",
        ),
        (
            "/algebra/5/20/12.png?layers=a=dem&formula=slope(a)&method=sobel",
            "method",
        ),
        (
            "/algebra/5/20/12.png?layers=a=dem&formula=slope(a)&z_factor=-1",
            "z_factor",
        ),
        ("/tiles/dem/5/20/12.png?algorithm=relief", "algorithm"),
        (
            "/tiles/dem/5/20/12.png?algorithm=hillshade&encoding=terrarium",
            "does not combine",
        ),
        (
            "/tiles/dem/5/20/12.png?algorithm=hillshade&altitude=100",
            "altitude",
        ),
        (
            "/algebra/5/20/12.png?layers=a=dem&formula=a-max(focal_median(a,25))",
            "neighbourhood work limit",
        ),
    ];
    for (url, wanted) in cases {
        let r = svc.handle(&get(url)).await;
        assert_eq!(r.status, 400, "{url}");
        let body = String::from_utf8_lossy(&r.body).into_owned();
        assert!(body.contains(wanted), "{url}: {body}");
    }
    assert_eq!(
        svc.bucket().tally().reads + svc.bucket().tally().gets,
        0,
        "nothing read"
    );
    Ok(())
}

#[tokio::test]
async fn elevations_in_feet_are_converted_by_the_manifest_unit() -> TestResult {
    let layer = SyntheticLayer {
        unit: Some("ft".to_owned()),
        ..hills_layer()
    };
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let slope = |extra: &str| {
        get(&format!(
            "/algebra/5/20/12.tif?layers=a=dem&formula=slope(a){extra}"
        ))
    };
    let mut tiles = Vec::new();
    for extra in ["", "&z_factor=0.3048", "&z_factor=1"] {
        let r = svc.handle(&slope(extra)).await;
        assert_eq!(r.status, 200, "{}", error_message(&r));
        let bits: Vec<u64> = decode_geotiff(&r.body)?
            .2
            .iter()
            .map(|v| v.to_bits())
            .collect();
        tiles.push(bits);
    }
    assert!(tiles[0] == tiles[1], "the unit gives z_factor 0.3048");
    assert!(tiles[0] != tiles[2], "z_factor= overrides the unit");
    Ok(())
}

#[tokio::test]
async fn statistics_of_a_neighbourhood_formula_use_the_halo() -> TestResult {
    let layer = hills_layer();
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    // A box exactly over z5 tile (20, 12): at zoom 5 its pixels are the tile's.
    let t = TileCoord::new(5, 20, 12);
    let b = tile_bounds(t);
    let geom = format!(
        "POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))",
        w = b.min_x,
        s = b.min_y,
        e = b.max_x,
        n = b.max_y
    )
    .replace(' ', "%20");
    let url = format!("/statistics?layers=a=dem&formula=slope(a)&crs=3857&zoom=5&geom={geom}");
    let r = svc.handle(&get(&url)).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let tile = svc
        .handle(&get(&format!(
            "/algebra/{t}.tif?layers=a=dem&formula=slope(a)"
        )))
        .await;
    let (_, _, values, _) = decode_geotiff(&tile.body)?;
    let valid: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    assert_eq!(v["bands"][0]["count"].as_u64(), Some(valid.len() as u64));
    let max = valid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let got = v["bands"][0]["max"].as_f64().ok_or("max")?;
    assert_eq!(got as f32, max as f32, "the maximum slope, halo included");
    // A neighbourhood over many tiles costs more: over the whole layer at zoom 5 (20 tiles)
    // a 9×9 median passes the limit, a 400 before any read; without `zoom=` a coarser
    // zoom is chosen that fits.
    let (a, c) = (
        tile_bounds(TileCoord::new(5, 18, 11)),
        tile_bounds(TileCoord::new(5, 22, 14)),
    );
    let wide = format!(
        "POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))",
        w = a.min_x,
        s = c.min_y,
        e = c.max_x,
        n = a.max_y
    )
    .replace(' ', "%20");
    let heavy = format!("/statistics?layers=a=dem&formula=focal_median(a,9)&crs=3857&geom={wide}");
    let r = svc.handle(&get(&format!("{heavy}&zoom=5"))).await;
    assert_eq!(r.status, 400, "{}", error_message(&r));
    assert!(error_message(&r).contains("neighbourhood work limit"));
    let r = svc.handle(&get(&heavy)).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    assert!(
        v["zoom"].as_u64().is_some_and(|z| z < 5),
        "zoom {}",
        v["zoom"]
    );
    Ok(())
}

#[tokio::test]
async fn tilejson_carries_algorithm_and_encoding_to_its_tiles() -> TestResult {
    let layer = hills_layer();
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let template = |query: &str| {
        let svc = &svc;
        let url = format!("/tiles/dem.json?{query}");
        async move {
            let r = svc.handle(&get(&url)).await;
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            (
                r.status,
                v["tiles"][0].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    let (status, t) = template("algorithm=hillshade&azimuth=270&rescale=0,200&other=1").await;
    assert_eq!(status, 200);
    assert!(
        t.ends_with("/tiles/dem/{z}/{x}/{y}.png?rescale=0%2C200&algorithm=hillshade&azimuth=270"),
        "{t}"
    );
    let (_, t) = template("encoding=terrarium").await;
    assert!(t.ends_with(".png?encoding=terrarium"), "{t}");
    let (_, t) = template("method=zevenbergen").await;
    assert!(
        t.ends_with(".png"),
        "terrain parameters without algorithm= do nothing on /tiles: {t}"
    );
    for bad in [
        "algorithm=relief",
        "algorithm=hillshade&altitude=91",
        "encoding=png",
        "encoding=mapbox&legend=x",
    ] {
        assert_eq!(template(bad).await.0, 400, "{bad}");
    }
    Ok(())
}
