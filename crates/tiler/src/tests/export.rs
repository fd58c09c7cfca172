//! `/export`: the exact pixel window of a box, zoom choice and the limit 400s, masked
//! integer layers, PNG stitched like `/tiles`, and hostile input (never a 5xx).

use tilefn_cog::read::{Limits, Tiff, decode_tile, parse_file};
use tilefn_raster::mercator::{ORIGIN_SHIFT, resolution};
use tilefn_raster::{DataType, TileCoord};

use super::*;
use crate::testkit::{Tally, categorical_layer, float_layer, rgb_layer};

/// A decoded export GeoTIFF at full resolution.
pub struct Decoded {
    pub width: usize,
    pub height: usize,
    pub dtype: DataType,
    pub samples: usize,
    pub nodata: Option<f64>,
    /// Band-sequential values.
    pub values: Vec<f64>,
    /// Validity from the internal mask, if the file has one.
    pub mask: Option<Vec<bool>>,
    /// Top-left corner and pixel size.
    pub origin: (f64, f64),
    pub resolution: f64,
    pub tiff: Tiff,
}

/// Decodes IFD 0 (and its mask IFD) of an export, tile by tile.
pub fn decode_export(bytes: &[u8]) -> Result<Decoded, BoxError> {
    let limits = Limits::default();
    let tiff = parse_file(bytes, &limits)?;
    let ifd = tiff.ifds.first().ok_or("no IFD")?;
    let (width, height) = (ifd.width as usize, ifd.height as usize);
    let dtype = ifd.dtype.ok_or("dtype")?;
    let samples = usize::from(ifd.samples);
    let mask_ifd = tiff.mask_of(ifd);
    let n = width * height;
    let mut values = vec![f64::NAN; n * samples];
    let mut mask = mask_ifd.map(|_| vec![false; n]);
    for row in 0..ifd.tiles_down() {
        for col in 0..ifd.tiles_across() {
            let tile = |i: &tilefn_cog::Ifd| -> Result<Option<Vec<u8>>, BoxError> {
                let Some(r) = i.tile_range(col, row) else {
                    return Ok(None);
                };
                let raw = &bytes[usize::try_from(r.start)?..usize::try_from(r.end)?];
                Ok(Some(decode_tile(&tiff, i, raw, &limits)?))
            };
            let raw = tile(ifd)?;
            let m = match mask_ifd {
                Some(i) => tile(i)?,
                None => None,
            };
            for y in 0..256 {
                for x in 0..256 {
                    let (gx, gy) = (col as usize * 256 + x, row as usize * 256 + y);
                    if gx >= width || gy >= height {
                        continue;
                    }
                    let (p, t) = (gy * width + gx, y * 256 + x);
                    for b in 0..samples {
                        values[b * n + p] = match &raw {
                            Some(raw) => {
                                let at = (t * samples + b) * dtype.size();
                                dtype.read_le(&raw[at..]).ok_or("sample")?
                            }
                            None => ifd.nodata.unwrap_or(0.0),
                        };
                    }
                    if let (Some(mask), Some(m)) = (mask.as_mut(), &m) {
                        mask[p] = m[t] != 0;
                    }
                }
            }
        }
    }
    let scale = ifd.model_pixel_scale.clone().ok_or("pixel scale")?;
    let tie = ifd.model_tiepoint.clone().ok_or("tiepoint")?;
    Ok(Decoded {
        width,
        height,
        dtype,
        samples,
        nodata: ifd.nodata,
        values,
        mask,
        origin: (tie[3], tie[4]),
        resolution: scale[0],
        tiff,
    })
}

/// A `bbox=` in EPSG:3857 for global pixels `cols` x `rows` of zoom `z` (edges on pixel
/// boundaries).
pub fn bbox(z: u8, cols: (u64, u64), rows: (u64, u64)) -> String {
    let res = resolution(z);
    let x = |c: u64| -ORIGIN_SHIFT + c as f64 * res;
    let y = |r: u64| ORIGIN_SHIFT - r as f64 * res;
    format!(
        "bbox={},{},{},{}&crs=3857",
        x(cols.0),
        y(rows.1),
        x(cols.1),
        y(rows.0)
    )
}

#[tokio::test]
async fn the_window_has_the_exact_pixels_of_the_tiles() -> TestResult {
    let layer = float_layer("f");
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    // Crosses tile boundaries (4352, 4608; 3328, 3584) and the data's west and north edges.
    let (cols, rows) = ((4390, 4700), (3260, 3600));
    let r = svc
        .handle(&get(&format!("/export/f.tif?{}", bbox(5, cols, rows))))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(r.header("content-type"), Some("image/tiff"));
    // One COG holds the window's 3 x 3 tiles: manifest, header, then one coalesced read a
    // tile row.
    assert_eq!(svc.bucket().tally(), Tally { gets: 1, reads: 4 });
    let d = decode_export(&r.body)?;
    assert_eq!((d.width, d.height), (310, 340));
    assert_eq!(
        (d.dtype, d.samples, d.nodata),
        (DataType::Float32, 1, Some(-9999.0))
    );
    let res = resolution(5);
    assert_eq!(d.resolution, res);
    assert_eq!(
        d.origin,
        (-ORIGIN_SHIFT + 4390.0 * res, ORIGIN_SHIFT - 3260.0 * res)
    );
    assert!(d.mask.is_none(), "nodata marks validity");
    // 310 x 340 passes one tile: one overview.
    assert_eq!(d.tiff.ifds.len(), 2);
    let (mut valid, mut invalid) = (0, 0);
    for y in 0..d.height {
        for x in 0..d.width {
            let (gx, gy) = (cols.0 + x as u64, rows.0 + y as u64);
            let want = match layer.value_at(5, gx, gy) {
                Some(v) => {
                    valid += 1;
                    f64::from(v[0] as f32)
                }
                None => {
                    invalid += 1;
                    -9999.0
                }
            };
            assert_eq!(d.values[y * d.width + x], want, "pixel {gx},{gy}");
        }
    }
    assert!(
        valid > 1000 && invalid > 1000,
        "{valid} valid, {invalid} not"
    );
    Ok(())
}

#[tokio::test]
async fn the_default_zoom_is_the_deepest_that_fits() -> TestResult {
    let (svc, _) = setup(&[float_layer("f"), categorical_layer("c")]).await?;
    // A small box: the layer's max zoom.
    let small = bbox(5, (4400, 4500), (3300, 3400));
    let r = svc.handle(&get(&format!("/export/f.tif?{small}"))).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(decode_export(&r.body)?.resolution, resolution(5));
    let r = svc
        .handle(&get(&format!("/export/f.tif?{small}&zoom=4")))
        .await;
    assert_eq!(decode_export(&r.body)?.width, 50);
    // The world: 8192 px at zoom 5, 4096 px (112 MB of float32) at 4, so zoom 3.
    svc.bucket().reset();
    let world = "bbox=-180,-85,180,85";
    let r = svc
        .handle(&get(&format!("/export/f.tif?{world}&zoom=5")))
        .await;
    assert_eq!(r.status, 400);
    let msg = error_message(&r);
    assert!(
        msg.starts_with("zoom: at zoom 5 the export is 8192x"),
        "{msg}"
    );
    assert!(msg.contains("4096x4096 px and 64 MB"), "{msg}");
    assert!(msg.ends_with("the largest zoom that fits is 3"), "{msg}");
    assert_eq!(
        svc.bucket().tally().reads,
        0,
        "the limit is checked before any read"
    );
    // A uint8 layer's 4096 x 4096 GeoTIFF is 43 MB: zoom 4 fits.
    let r = svc
        .handle(&get(&format!("/export/c.tif?{world}&zoom=5")))
        .await;
    assert!(error_message(&r).ends_with("is 4"), "{}", error_message(&r));
    let r = svc.handle(&get(&format!("/export/f.tif?{world}"))).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let d = decode_export(&r.body)?;
    assert_eq!((d.resolution, d.width), (resolution(3), 2048));
    Ok(())
}

#[tokio::test]
async fn masked_integer_layers_export_an_internal_mask() -> TestResult {
    let layer = rgb_layer("rgb");
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let (cols, rows) = ((4395, 4420), (3270, 3290));
    let r = svc
        .handle(&get(&format!("/export/rgb.tif?{}", bbox(5, cols, rows))))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let d = decode_export(&r.body)?;
    assert_eq!((d.dtype, d.samples, d.nodata), (DataType::Uint8, 3, None));
    let mask = d.mask.ok_or("no mask IFD")?;
    let n = d.width * d.height;
    for y in 0..d.height {
        for x in 0..d.width {
            let (gx, gy) = (cols.0 + x as u64, rows.0 + y as u64);
            let p = y * d.width + x;
            let want = layer.value_at(5, gx, gy);
            assert_eq!(mask[p], want.is_some(), "pixel {gx},{gy}");
            if let Some(v) = want {
                for (b, want) in v.iter().enumerate() {
                    assert_eq!(d.values[b * n + p], *want);
                }
            }
        }
    }
    Ok(())
}

/// Asserts that `{path}.png?{query}` of global pixels `cols` x `rows` of zoom 5 equals the
/// PNG tiles `tile_url(t)` stitched, and that `{path}.jpg` is a JPEG.
pub async fn assert_image_exports(
    svc: &Svc,
    path: &str,
    query: &str,
    (cols, rows): ((u64, u64), (u64, u64)),
    tile_url: impl Fn(TileCoord) -> String,
) -> TestResult {
    let window = bbox(5, cols, rows);
    let r = svc
        .handle(&get(&format!("{path}.png?{query}&{window}")))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(r.header("content-type"), Some("image/png"));
    let jpeg = svc
        .handle(&get(&format!("{path}.jpg?{query}&{window}")))
        .await;
    assert_eq!(
        (jpeg.status, jpeg.header("content-type")),
        (200, Some("image/jpeg"))
    );
    let (w, h, rgba) = decode_png(&r.body)?;
    let (width, height) = (cols.1 - cols.0, rows.1 - rows.0);
    assert_eq!((u64::from(w), u64::from(h)), (width, height));
    let mut tiles = std::collections::HashMap::new();
    for y in 0..height {
        for x in 0..width {
            let (gx, gy) = (cols.0 + x, rows.0 + y);
            let t = TileCoord::new(5, (gx / 256) as u32, (gy / 256) as u32);
            if let std::collections::hash_map::Entry::Vacant(slot) = tiles.entry(t) {
                let tile = svc.handle(&get(&tile_url(t))).await;
                slot.insert(decode_png(&tile.body)?.2);
            }
            let tile = tiles.get(&t).ok_or("tile")?;
            let s = (((gy % 256) * 256 + gx % 256) * 4) as usize;
            let d = ((y * width + x) * 4) as usize;
            assert_eq!(&rgba[d..d + 4], &tile[s..s + 4], "pixel {gx},{gy}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn png_equals_the_stitched_tile_pngs() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let window = ((4600, 4620), (3320, 3340));
    let style = "colormap_name=viridis";
    assert_image_exports(&svc, "/export/f", style, window, |t| {
        format!("/tiles/f/{t}.png?{style}")
    })
    .await
}

#[tokio::test]
async fn a_large_export_is_a_tiled_cog_with_overviews() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let r = svc
        .handle(&get(&format!(
            "/export/f.tif?{}",
            bbox(5, (4200, 5000), (3100, 3900))
        )))
        .await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let d = decode_export(&r.body)?;
    let sizes: Vec<(u32, u32)> = d.tiff.ifds.iter().map(|i| (i.width, i.height)).collect();
    assert_eq!(sizes, [(800, 800), (400, 400), (200, 200)]);
    assert!(d.tiff.ifds.iter().all(|i| i.tiled && i.tile_width == 256));
    // Tiles with no valid pixel are sparse; the others come after every IFD.
    let first_data = d.tiff.ifds[0].tile_offsets.iter().filter(|o| **o > 0).min();
    assert!(first_data.is_some_and(|o| *o > d.tiff.ifds[2].offset));
    assert!(d.tiff.ifds[0].tile_offsets.contains(&0));
    Ok(())
}

/// Asserts each `(url, status, message)`: a GET of `url` answers `status` with an error
/// message containing `message`.
pub async fn assert_errors(svc: &Svc, cases: &[(impl AsRef<str>, u16, &str)]) {
    for (url, status, message) in cases {
        let url = url.as_ref();
        let r = svc.handle(&get(url)).await;
        assert_eq!(r.status, *status, "{url}: {}", error_message(&r));
        assert!(
            error_message(&r).contains(message),
            "{url}: {}",
            error_message(&r)
        );
    }
}

#[tokio::test]
async fn hostile_input_is_a_400_or_404_never_a_5xx() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let ok = "bbox=10,-10,11,-9";
    let cases: &[(&str, u16, &str)] = &[
        ("/export/f.tif", 400, "bbox: required"),
        (
            "/export/f.tif?bbox=1,2,3",
            400,
            "bbox: expected four numbers",
        ),
        (
            "/export/f.tif?bbox=1,2,x,4",
            400,
            "bbox: \"x\" is not a finite number",
        ),
        ("/export/f.tif?bbox=NaN,2,3,4", 400, "bbox:"),
        (
            "/export/f.tif?bbox=3,2,1,4",
            400,
            "bbox: min must be below max",
        ),
        (
            "/export/f.tif?bbox=0,80,1,85.06",
            400,
            "bbox: latitudes must be within",
        ),
        (
            "/export/f.tif?bbox=0,0,1,1e-9&crs=4326&zoom=3",
            400,
            "holds no pixel centre",
        ),
        ("/export/f.tif?bbox=0,0,1,1&crs=900913", 400, "crs:"),
        ("/export/f.tif?bbox=0,0,1,1&zoom=1.5", 400, "zoom:"),
        (
            "/export/f.tif?bbox=0,0,1,1&zoom=2",
            400,
            "zoom: must be within the layer's zooms 3..=5",
        ),
        ("/export/f.gif?bbox=0,0,1,1", 400, "format:"),
        ("/export/f?bbox=0,0,1,1", 400, "format:"),
        ("/export/nope.tif?bbox=0,0,1,1", 404, "layer not found"),
        ("/export/..%2Ff.tif?bbox=0,0,1,1", 404, "layer not found"),
        (
            "/export/f.png?bbox=0,0,1,1&colormap_name=nope",
            400,
            "colormap_name",
        ),
        ("/export/f.png?bbox=0,0,1,1&rescale=1", 400, "rescale"),
    ];
    assert_errors(&svc, cases).await;
    // Outside the layer: a valid, all-nodata file without a tile read.
    svc.bucket().reset();
    let r = svc.handle(&get(&format!("/export/f.tif?{ok}"))).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert!(decode_export(&r.body)?.values.iter().all(|v| *v == -9999.0));
    Ok(())
}

#[tokio::test]
async fn etags_name_the_pixels_not_the_spelling() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let a = svc
        .handle(&get(&format!(
            "/export/f.tif?{}",
            bbox(5, (4400, 4410), (3300, 3310))
        )))
        .await;
    let tag = a.header("etag").ok_or("no etag")?.to_owned();
    // The same pixels from a box whose edges are 0.4 px off the pixel boundaries.
    let res = resolution(5);
    let (x, y) = (
        |c: f64| -ORIGIN_SHIFT + c * res,
        |r: f64| ORIGIN_SHIFT - r * res,
    );
    let q = format!(
        "bbox={},{},{},{}&crs=3857",
        x(4400.4),
        y(3310.4),
        x(4410.4),
        y(3299.6)
    );
    let mut req = get(&format!("/export/f.tif?{q}"));
    req.if_none_match = Some(tag);
    assert_eq!(svc.handle(&req).await.status, 304);
    Ok(())
}

/// A POST of `body` to `url`.
pub fn post(url: &str, body: &str) -> Request {
    Request {
        method: "POST".into(),
        body: body.as_bytes().to_vec(),
        ..get(url)
    }
}

/// A GeoJSON polygon ring in EPSG:3857 of global pixel corners of zoom 5.
pub fn ring(cols: (f64, f64), rows: (f64, f64)) -> String {
    let res = resolution(5);
    let p = |c: f64, r: f64| format!("[{},{}]", -ORIGIN_SHIFT + c * res, ORIGIN_SHIFT - r * res);
    let (c0, c1, r0, r1) = (cols.0, cols.1, rows.0, rows.1);
    format!(
        "[{},{},{},{},{}]",
        p(c0, r0),
        p(c1, r0),
        p(c1, r1),
        p(c0, r1),
        p(c0, r0)
    )
}

/// A square polygon with a square hole, in global pixel columns and rows of zoom 5.
pub struct HoledSquare {
    pub outer: ((f64, f64), (f64, f64)),
    pub hole: ((f64, f64), (f64, f64)),
}

/// Edges 0.3 px off the pixel boundaries (no centre ties), across tile boundaries (4608,
/// 3328) and the float layer's north edge (3277); its box's pixels are 4550..4650 x
/// 3260..3360.
pub const HOLED_SQUARE: HoledSquare = HoledSquare {
    outer: ((4550.3, 4650.3), (3260.3, 3360.3)),
    hole: ((4580.3, 4620.3), (3300.3, 3340.3)),
};

impl HoledSquare {
    /// The GeoJSON polygon, EPSG:3857.
    pub fn geojson(&self) -> String {
        let (outer, hole) = (self.outer, self.hole);
        format!(
            r#"{{"type": "Polygon", "coordinates": [{}, {}]}}"#,
            ring(outer.0, outer.1),
            ring(hole.0, hole.1)
        )
    }

    /// Whether the centre of global pixel (`gx`, `gy`) lies inside the polygon.
    pub fn keeps(&self, gx: u64, gy: u64) -> bool {
        let (cx, cy) = (gx as f64 + 0.5, gy as f64 + 0.5);
        let inside =
            |(cs, rs): ((f64, f64), (f64, f64))| cx > cs.0 && cx < cs.1 && cy > rs.0 && cy < rs.1;
        inside(self.outer) && !inside(self.hole)
    }
}

#[tokio::test]
async fn a_posted_polygon_masks_the_pixels_outside_it() -> TestResult {
    let layer = float_layer("f");
    let (svc, _) = setup(std::slice::from_ref(&layer)).await?;
    let body = HOLED_SQUARE.geojson();
    let r = svc.handle(&post("/export/f.tif?crs=3857", &body)).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(r.header("etag"), None);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let d = decode_export(&r.body)?;
    // The polygon's box: centres from 4550.5 to 4649.5.
    assert_eq!((d.width, d.height), (100, 100));
    let (mut kept, mut masked) = (0, 0);
    for y in 0..d.height {
        for x in 0..d.width {
            let (gx, gy) = (4550 + x as u64, 3260 + y as u64);
            let keep = HOLED_SQUARE.keeps(gx, gy);
            let want = match layer.value_at(5, gx, gy).filter(|_| keep) {
                Some(v) => {
                    kept += 1;
                    f64::from(v[0] as f32)
                }
                None => {
                    masked += 1;
                    -9999.0
                }
            };
            assert_eq!(d.values[y * d.width + x], want, "pixel {gx},{gy}");
        }
    }
    assert!(kept > 5000 && masked > 1600, "{kept} kept, {masked} masked");
    // PNG: transparent outside; a bbox crops the polygon's box.
    let url = format!(
        "/export/f.png?crs=3857&{}",
        bbox(5, (4550, 4600), (3290, 3310))
    );
    let r = svc.handle(&post(&url, &body)).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    let (w, h, rgba) = decode_png(&r.body)?;
    assert_eq!((w, h), (50, 20));
    // (4590, 3305) is in the hole, (4560, 3305) in the square.
    assert_eq!(rgba[(15 * 50 + 40) * 4 + 3], 0);
    assert_eq!(rgba[(15 * 50 + 10) * 4 + 3], 255);
    Ok(())
}

#[tokio::test]
async fn bad_bodies_are_400s() -> TestResult {
    let (svc, _) = setup(&[float_layer("f")]).await?;
    let square =
        r#"{"type":"Polygon","coordinates":[[[10,-10],[11,-10],[11,-9],[10,-9],[10,-10]]]}"#;
    let cases: &[(&str, &str, u16, &str)] = &[
        ("/export/f.tif", "", 400, "body: empty"),
        ("/export/f.tif", "{", 400, "body: invalid GeoJSON"),
        (
            "/export/f.tif",
            r#"{"type":"Point","coordinates":[1,2]}"#,
            400,
            "body:",
        ),
        (
            "/export/f.tif",
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0.5]]]}"#,
            400,
            "body: a ring is not closed",
        ),
        (
            "/export/f.tif",
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,90],[0,0]]]}"#,
            400,
            "body: latitude",
        ),
        (
            "/export/f.tif?bbox=20,20,21,21",
            square,
            400,
            "bbox: the polygon lies outside bbox",
        ),
        ("/export/f.tif?zoom=2", square, 400, "zoom:"),
        ("/tiles/f/5/18/13.png", square, 405, "POST"),
        ("/export/nope.tif", square, 404, "layer not found"),
    ];
    for (url, body, status, message) in cases {
        let r = svc.handle(&post(url, body)).await;
        assert_eq!(r.status, *status, "{url} {body}: {}", error_message(&r));
        let msg = error_message(&r);
        assert!(msg.contains(message), "{url} {body}: {msg}");
    }
    // Outside the layer's data: all nodata, no tile read.
    svc.bucket().reset();
    let r = svc.handle(&post("/export/f.tif", square)).await;
    assert_eq!(r.status, 200, "{}", error_message(&r));
    assert_eq!(svc.bucket().tally().reads, 0);
    Ok(())
}
