//! `/export.{tif,png}?layers=...&formula=...`: a formula export's pixels are the stitched
//! `/algebra` tiles of the same formula and zoom (neighbourhoods included), a POSTed
//! polygon masks them, and every mistake is a 400 before any tile is read.

use std::collections::HashMap;

use tilefn_raster::{DataType, TileCoord};

use super::export::{
    Decoded, HOLED_SQUARE, assert_errors, assert_image_exports, bbox, decode_export, post,
};
use super::*;
use crate::testkit::float_layer;

/// The values of `/algebra/{t}.tif?{query}` (`None`: a 204, no valid pixel).
type AlgebraTiles = HashMap<TileCoord, Option<Vec<f64>>>;

/// The `/algebra` GeoTIFF tiles of zoom `z` under global pixels `cols` x `rows`.
async fn algebra_tiles(
    svc: &Svc,
    z: u8,
    cols: (u64, u64),
    rows: (u64, u64),
    query: &str,
) -> Result<AlgebraTiles, BoxError> {
    let mut tiles = HashMap::new();
    for ty in rows.0 / 256..=(rows.1 - 1) / 256 {
        for tx in cols.0 / 256..=(cols.1 - 1) / 256 {
            let t = TileCoord::new(z, u32::try_from(tx)?, u32::try_from(ty)?);
            let r = svc.handle(&get(&format!("/algebra/{t}.tif?{query}"))).await;
            let values = match r.status {
                204 => None,
                200 => Some(decode_geotiff(&r.body)?.2),
                other => return Err(format!("{t}: {other} {}", error_message(&r)).into()),
            };
            tiles.insert(t, values);
        }
    }
    Ok(tiles)
}

/// Checks every pixel of export `d`, whose window starts at global pixel `origin` of zoom
/// `z`: the stitched tile's value where `keep` holds (NaN where the tile has none), NaN
/// elsewhere. Returns the counts of valued and NaN pixels.
fn assert_stitched(
    d: &Decoded,
    z: u8,
    origin: (u64, u64),
    tiles: &AlgebraTiles,
    keep: impl Fn(u64, u64) -> bool,
) -> Result<(usize, usize), BoxError> {
    let (mut valued, mut nan) = (0, 0);
    for y in 0..d.height {
        for x in 0..d.width {
            let (gx, gy) = (origin.0 + x as u64, origin.1 + y as u64);
            let t = TileCoord::new(z, (gx / 256) as u32, (gy / 256) as u32);
            let tile = tiles.get(&t).ok_or("tile not fetched")?;
            let p = ((gy % 256) * 256 + gx % 256) as usize;
            let want = match tile {
                Some(values) if keep(gx, gy) => values[p],
                _ => f64::NAN,
            };
            let got = d.values[y * d.width + x];
            if want.is_nan() {
                assert!(got.is_nan(), "pixel {gx},{gy}: {got}, not nodata");
                nan += 1;
            } else {
                assert_eq!(got, want, "pixel {gx},{gy}");
                valued += 1;
            }
        }
    }
    Ok((valued, nan))
}

#[tokio::test]
async fn pixels_equal_the_stitched_algebra_tiles() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    // Crosses tile boundaries (4608; 3328, 3584) and the data's west and north edges.
    let (cols, rows) = ((4390, 4700), (3260, 3600));
    for formula in ["slope(a)", "a%20*%202", "focal_mean(a,%205)"] {
        let q = format!("layers=a=f&formula={formula}");
        let url = format!("/export.tif?{q}&{}", bbox(5, cols, rows));
        let r = svc.handle(&get(&url)).await;
        assert_eq!(r.status, 200, "{formula}: {}", error_message(&r));
        assert_eq!(r.header("content-type"), Some("image/tiff"));
        let d = decode_export(&r.body)?;
        assert_eq!((d.width, d.height), (310, 340));
        assert_eq!(
            (d.dtype, d.samples, d.mask.is_none()),
            (DataType::Float32, 1, true)
        );
        assert!(
            d.nodata.is_some_and(f64::is_nan),
            "NaN nodata: {:?}",
            d.nodata
        );
        assert_eq!(d.tiff.ifds.len(), 2, "one overview past 256 px");
        let tiles = algebra_tiles(&svc, 5, cols, rows, &q).await?;
        let (valued, nan) = assert_stitched(&d, 5, (cols.0, rows.0), &tiles, |_, _| true)?;
        assert!(
            valued > 1000 && nan > 1000,
            "{formula}: {valued} valued, {nan} not"
        );
    }
    // At a coarser zoom: the tiles of that zoom (the box's edges are even pixels of zoom 5).
    let q = "layers=a=f&formula=slope(a)";
    let url = format!("/export.tif?{q}&{}&zoom=4", bbox(5, cols, rows));
    let d = decode_export(&svc.handle(&get(&url)).await.body)?;
    let (cols4, rows4) = ((cols.0 / 2, cols.1 / 2), (rows.0 / 2, rows.1 / 2));
    assert_eq!((d.width, d.height), (155, 170));
    let tiles = algebra_tiles(&svc, 4, cols4, rows4, q).await?;
    assert_stitched(&d, 4, (cols4.0, rows4.0), &tiles, |_, _| true)?;
    Ok(())
}

#[tokio::test]
async fn etags_name_the_formula_not_its_spelling() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let b = bbox(5, (4400, 4410), (3300, 3310));
    let r = svc
        .handle(&get(&format!("/export.tif?layers=a=f&formula=a*2&{b}")))
        .await;
    let tag = r.header("etag").ok_or("no etag")?.to_owned();
    let mut same = get(&format!(
        "/export.tif?formula=(a)%20*%202&layers=a=f,unused=f&{b}"
    ));
    same.if_none_match = Some(tag.clone());
    assert_eq!(svc.handle(&same).await.status, 304);
    let mut other = get(&format!("/export.tif?layers=a=f&formula=a*3&{b}"));
    other.if_none_match = Some(tag);
    assert_eq!(svc.handle(&other).await.status, 200);
    Ok(())
}

#[tokio::test]
async fn a_posted_polygon_masks_the_result_outside_it() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let body = HOLED_SQUARE.geojson();
    let q = "layers=a=f&formula=slope(a)";
    let r = svc
        .handle(&post(&format!("/export.tif?{q}&crs=3857"), &body))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(r.header("etag"), None);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let d = decode_export(&r.body)?;
    assert_eq!((d.width, d.height), (100, 100));
    let tiles = algebra_tiles(&svc, 5, (4550, 4650), (3260, 3360), q).await?;
    let keep = |gx, gy| HOLED_SQUARE.keeps(gx, gy);
    let (valued, nan) = assert_stitched(&d, 5, (4550, 3260), &tiles, keep)?;
    assert!(valued > 5000 && nan > 1600, "{valued} kept, {nan} masked");
    Ok(())
}

#[tokio::test]
async fn png_is_painted_as_the_algebra_tiles_are() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let q = "layers=a=f&formula=slope(a)&colormap_name=viridis";
    assert_image_exports(&svc, "/export", q, ((4600, 4620), (3320, 3340)), |t| {
        format!("/algebra/{t}.png?{q}")
    })
    .await
}

#[tokio::test]
async fn mistakes_are_400s_before_any_tile_is_read() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let ok = bbox(5, (4400, 4410), (3300, 3310));
    // Six tiles: a 33 x 33 mean fits one tile's work, not six.
    let six = bbox(5, (4400, 4700), (3300, 3600));
    let cases: Vec<(String, u16, &str)> = vec![
        (
            format!("/export.tif?layers=a=f&formula=a%2B&{ok}"),
            400,
            "at byte 2",
        ),
        (
            format!("/export.tif?layers=a=f&formula=a*c&{ok}"),
            400,
            "variable \"c\", which layers= does not bind",
        ),
        (
            format!("/export.tif?layers=a=f&formula=focal_mean(a,33)&{six}"),
            400,
            "over 6 tile(s)",
        ),
        (
            format!("/export.tif?layers=a=f&formula=focal_median(a,33)&{ok}"),
            400,
            "neighbourhood work limit",
        ),
        (
            "/export.tif?layers=a=f&formula=a*2".to_owned(),
            400,
            "bbox: required",
        ),
        (
            format!("/export.tif?layers=a=f&formula=a&{ok}&zoom=2"),
            400,
            "zoom: must be within",
        ),
        (
            format!("/export.png?layers=a=f&formula=a*2&{ok}&colormap_name=nope"),
            400,
            "colormap_name",
        ),
        (
            format!("/export.tif?formula=a&{ok}"),
            400,
            "layers: required",
        ),
        (
            format!("/export.gif?layers=a=f&formula=a&{ok}"),
            400,
            "format:",
        ),
        (
            format!("/export.a.tif?layers=a=f&formula=a&{ok}"),
            404,
            "no route",
        ),
        (
            format!("/export.tif?layers=a=nope&formula=a&{ok}"),
            404,
            "not found",
        ),
    ];
    svc.bucket().reset();
    assert_errors(&svc, &cases).await;
    assert_eq!(svc.bucket().tally().reads, 0, "no tile was read");
    let r = svc
        .handle(&get(&format!("/export.tif?layers=a=f&formula=a%2B&{ok}")))
        .await;
    let body: serde_json::Value = serde_json::from_slice(&r.body)?;
    assert_eq!(body["error"]["position"], 2);
    let r = svc
        .handle(&post("/export.tif?layers=a=f&formula=a", "{"))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        error_message(&r).starts_with("body:"),
        "{}",
        error_message(&r)
    );
    Ok(())
}
