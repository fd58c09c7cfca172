//! Planning an export, purely: the `/export` query parsed (`bbox`, `crs`, `zoom`), the
//! pixel window of a box at a zoom, and the zoom choice under the size limits. Every 400 of
//! an export comes from here, before any tile byte is read.
//!
//! **Pixel rule.** The window at zoom z holds the XYZ pixels of zoom z whose centre lies in
//! the box, west and north edges included, east and south excluded: column `c` is in when
//! `min_x <= x_c < max_x`, row `r` when `min_y < y_r <= max_y`, with `(x_c, y_r)` the pixel
//! centre in EPSG:3857 metres. A box edge on a pixel centre therefore never counts a pixel
//! twice between two adjacent boxes. An edge within 1e-6 px of a centre counts as on it.

use tilefn_geometry::Crs;
use tilefn_raster::mercator::{MAX_LATITUDE, ORIGIN_SHIFT, lonlat_to_mercator};
use tilefn_raster::{Bounds, TILE_SIZE};

use crate::TileError;
use crate::route::{Format, printable};
use crate::zonal::{parse_crs, parse_zoom};

/// Longest side of an export, pixels.
pub const MAX_EXPORT_SIDE: u32 = 4096;
/// Most bytes an export may hold in memory while it is built (see [`Window::memory`]).
pub const MAX_EXPORT_BYTES: u64 = 64 << 20;

/// The `/export` query, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ExportQuery {
    /// The box in EPSG:3857 metres, inside the Web-Mercator world.
    pub bbox: Option<Bounds>,
    /// Of `bbox` and of a POSTed polygon: lon/lat (default) or Web-Mercator metres.
    pub crs: Crs,
    pub zoom: Option<u8>,
}

/// Parses `bbox=`, `crs=` and `zoom=` (other parameters belong to the style).
pub fn export_query(query: &str) -> Result<ExportQuery, TileError> {
    let mut crs = Crs::default();
    let mut bbox_text = None;
    let mut zoom = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        match key.as_ref() {
            "bbox" => bbox_text = Some(value.to_owned()),
            "crs" => crs = parse_crs(value)?,
            "zoom" => zoom = Some(parse_zoom(value)?),
            _ => {}
        }
    }
    // `crs` may come after `bbox`: convert once both are known.
    let bbox = bbox_text.map(|t| parse_bbox(&t, crs)).transpose()?;
    Ok(ExportQuery { bbox, crs, zoom })
}

/// `minx,miny,maxx,maxy` in `crs`, to Web-Mercator metres. Numbers must be finite, min
/// below max, and inside the Web-Mercator world (latitudes within ±85.0511°).
pub fn parse_bbox(value: &str, crs: Crs) -> Result<Bounds, TileError> {
    let bad = |m: String| TileError::bad("bbox", m);
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    let [a, b, c, d] = parts.as_slice() else {
        return Err(bad("expected four numbers minx,miny,maxx,maxy".into()));
    };
    let mut n = [0.0; 4];
    for (slot, text) in n.iter_mut().zip([a, b, c, d]) {
        *slot = text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| bad(format!("{} is not a finite number", printable(text))))?;
    }
    let [min_x, min_y, max_x, max_y] = n;
    if min_x >= max_x || min_y >= max_y {
        return Err(bad("min must be below max (minx,miny,maxx,maxy)".into()));
    }
    match crs {
        Crs::LonLat => {
            if min_x < -180.0 || max_x > 180.0 {
                return Err(bad("longitudes must be within -180..180".into()));
            }
            if min_y < -MAX_LATITUDE || max_y > MAX_LATITUDE {
                return Err(bad(format!(
                    "latitudes must be within ±{MAX_LATITUDE:.4} (Web Mercator)"
                )));
            }
            let (x0, y0) = lonlat_to_mercator(min_x, min_y);
            let (x1, y1) = lonlat_to_mercator(max_x, max_y);
            Ok(Bounds::new(x0, y0, x1, y1))
        }
        Crs::WebMercator => {
            // A millimetre of slack for bounds printed from the world's edge.
            let edge = ORIGIN_SHIFT + 1e-3;
            if n.iter().any(|v| v.abs() > edge) {
                return Err(bad(format!(
                    "metres must be within ±{ORIGIN_SHIFT:.2} (the Web-Mercator world)"
                )));
            }
            let world = |v: f64| v.clamp(-ORIGIN_SHIFT, ORIGIN_SHIFT);
            Ok(Bounds::new(
                world(min_x),
                world(min_y),
                world(max_x),
                world(max_y),
            ))
        }
    }
}

/// The pixels of zoom `z` an export covers: global pixel columns `col0..col0 + width`,
/// rows `row0..row0 + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub z: u8,
    pub col0: u64,
    pub row0: u64,
    pub width: u64,
    pub height: u64,
}

impl Window {
    /// The pixels of zoom `z` whose centre lies in `b` (see the module's pixel rule).
    pub fn of(b: &Bounds, z: u8) -> Window {
        let n = u64::from(TILE_SIZE) << z;
        let res = 2.0 * ORIGIN_SHIFT / n as f64;
        // First index whose centre is at or past `t` pixels from the world's edge. An edge
        // within 1e-6 px of a centre is on it: a box printed from pixel centres must not
        // gain or lose a pixel to rounding in the degrees-to-metres conversion.
        let first = |t: f64| {
            let v = t - 0.5;
            let v = if (v - v.round()).abs() < 1e-6 {
                v.round()
            } else {
                v
            };
            (v.ceil().max(0.0) as u64).min(n)
        };
        let (col0, col1) = (
            first((b.min_x + ORIGIN_SHIFT) / res),
            first((b.max_x + ORIGIN_SHIFT) / res),
        );
        let (row0, row1) = (
            first((ORIGIN_SHIFT - b.max_y) / res),
            first((ORIGIN_SHIFT - b.min_y) / res),
        );
        Window {
            z,
            col0,
            row0,
            width: col1.saturating_sub(col0),
            height: row1.saturating_sub(row0),
        }
    }

    /// `z/col0/row0/WxH`: the pixels an ETag names, whatever box spelled them.
    pub fn canonical(&self) -> String {
        format!(
            "{}/{}/{}/{}x{}",
            self.z, self.col0, self.row0, self.width, self.height
        )
    }

    /// Pixel size, metres.
    pub fn resolution(&self) -> f64 {
        2.0 * ORIGIN_SHIFT / (u64::from(TILE_SIZE) << self.z) as f64
    }

    /// The top-left corner in EPSG:3857 metres.
    pub fn origin(&self) -> (f64, f64) {
        let res = self.resolution();
        (
            -ORIGIN_SHIFT + self.col0 as f64 * res,
            ORIGIN_SHIFT - self.row0 as f64 * res,
        )
    }

    /// Bytes the export holds while it is built, from measured peaks (release `tilefn-serve`,
    /// peak RSS less the idle 11 MB): a GeoTIFF twice its samples plus a validity byte a
    /// pixel (raw strips, compressed tiles, overviews and the assembled file overlap: a
    /// 3100² float32 export peaked at 11.1 bytes a pixel, a 4096² masked uint16 one at 5.2);
    /// PNG and JPEG 15 (the painted RGBA, the encoder's copies and its output: 12.9 and 14.7
    /// measured at 3000²). The 64 MB budget then keeps an export well inside a 128 MB
    /// Worker isolate.
    pub fn memory(&self, format: Format, sample_bytes: u64) -> u64 {
        let px = self.width.saturating_mul(self.height);
        match format {
            Format::Tiff => px.saturating_mul(sample_bytes + 1).saturating_mul(2),
            Format::Png | Format::Jpeg => px.saturating_mul(15),
        }
    }

    fn fits(&self, format: Format, sample_bytes: u64) -> bool {
        let side = u64::from(MAX_EXPORT_SIDE);
        self.width <= side
            && self.height <= side
            && self.memory(format, sample_bytes) <= MAX_EXPORT_BYTES
    }

    fn describe(&self, format: Format, sample_bytes: u64) -> String {
        let mb = self.memory(format, sample_bytes) as f64 / f64::from(1u32 << 20);
        format!("{}x{} px ({mb:.1} MB)", self.width, self.height)
    }
}

/// The window to export: at `zoom` when given, else at the deepest of the layer's zooms
/// `lo..=hi` that fits the limits. `sample_bytes` is bytes per pixel of all bands.
pub fn choose(
    b: &Bounds,
    zoom: Option<u8>,
    (lo, hi): (u8, u8),
    format: Format,
    sample_bytes: u64,
) -> Result<Window, TileError> {
    let limit = format!("{MAX_EXPORT_SIDE}x{MAX_EXPORT_SIDE} px and {MAX_EXPORT_BYTES_MB} MB");
    let deepest_fit = (lo..=hi)
        .rev()
        .find(|z| Window::of(b, *z).fits(format, sample_bytes));
    let window = match zoom {
        Some(z) if z < lo || z > hi => {
            return Err(TileError::bad(
                "zoom",
                format!("must be within the layer's zooms {lo}..={hi}"),
            ));
        }
        Some(z) => {
            let w = Window::of(b, z);
            if !w.fits(format, sample_bytes) {
                let hint = match deepest_fit {
                    Some(f) => format!("the largest zoom that fits is {f}"),
                    None => format!("no zoom of the layer fits (min zoom {lo})"),
                };
                return Err(TileError::bad(
                    "zoom",
                    format!(
                        "at zoom {z} the export is {}, over the limit of {limit}; {hint}",
                        w.describe(format, sample_bytes)
                    ),
                ));
            }
            w
        }
        None => {
            let Some(z) = deepest_fit else {
                let w = Window::of(b, lo);
                return Err(TileError::bad(
                    "bbox",
                    format!(
                        "too large: even at the layer's min zoom {lo} the export is {}, over \
                         the limit of {limit}",
                        w.describe(format, sample_bytes)
                    ),
                ));
            };
            Window::of(b, z)
        }
    };
    if window.width == 0 || window.height == 0 {
        return Err(TileError::bad(
            "bbox",
            format!("holds no pixel centre at zoom {}", window.z),
        ));
    }
    Ok(window)
}

const MAX_EXPORT_BYTES_MB: u64 = MAX_EXPORT_BYTES >> 20;

#[cfg(test)]
mod tests {
    use super::*;
    use tilefn_raster::mercator::resolution;

    fn param<T>(result: Result<T, TileError>) -> &'static str {
        match result {
            Err(TileError::BadParam { param, .. }) => param,
            _ => "(not a 400)",
        }
    }

    #[test]
    fn the_window_holds_the_pixel_centres_inside() {
        let res = resolution(10);
        let x = |c: f64| -ORIGIN_SHIFT + c * res;
        let y = |r: f64| ORIGIN_SHIFT - r * res;
        // Edges on pixel centres: west and north in, east and south out.
        let b = Bounds::new(x(100.5), y(60.5), x(110.5), y(50.5));
        let w = Window::of(&b, 10);
        assert_eq!((w.col0, w.row0, w.width, w.height), (100, 50, 10, 10));
        // Edges on pixel boundaries: the pixels in between.
        let b = Bounds::new(x(100.0), y(60.0), x(110.0), y(50.0));
        let w = Window::of(&b, 10);
        assert_eq!((w.col0, w.row0, w.width, w.height), (100, 50, 10, 10));
        assert_eq!(w.origin(), (x(100.0), y(50.0)));
        // Thinner than a pixel, between two centres: empty.
        let thin = Bounds::new(x(100.6), y(60.0), x(101.4), y(50.0));
        assert_eq!(Window::of(&thin, 10).width, 0);
        // The world.
        let w = Window::of(&Bounds::world(), 2);
        assert_eq!((w.col0, w.width, w.height), (0, 1024, 1024));
    }

    #[test]
    fn zoom_choice_and_limits() -> Result<(), TileError> {
        // About 3000 px across at zoom 12: fits at 12, not at 13.
        let res = resolution(12);
        let b = Bounds::new(0.0, 0.0, 3000.0 * res, 1000.0 * res);
        let w = choose(&b, None, (3, 14), Format::Tiff, 1)?;
        assert_eq!((w.z, w.width), (12, 3000));
        assert_eq!(choose(&b, Some(10), (3, 14), Format::Tiff, 1)?.z, 10);
        let over = choose(&b, Some(13), (3, 14), Format::Tiff, 1);
        assert!(format!("{over:?}").contains("largest zoom that fits is 12"));
        assert_eq!(param(over), "zoom");
        assert_eq!(
            param(choose(&b, Some(15), (3, 14), Format::Tiff, 1)),
            "zoom"
        );
        // 8 bytes a pixel: 3000 x 1000 x 9 x 2 = 54 MB fits; 16 bytes: 102 MB does not.
        assert_eq!(choose(&b, None, (3, 14), Format::Tiff, 8)?.z, 12);
        assert_eq!(choose(&b, None, (3, 14), Format::Tiff, 16)?.z, 11);
        assert_eq!(param(choose(&b, None, (13, 14), Format::Tiff, 1)), "bbox");
        Ok(())
    }

    #[test]
    fn bad_boxes_are_400s() {
        for q in [
            "bbox=1,2,3",
            "bbox=1,2,3,4,5",
            "bbox=a,2,3,4",
            "bbox=NaN,2,3,4",
            "bbox=1,2,inf,4",
            "bbox=3,2,1,4",
            "bbox=1,4,3,4",
            "bbox=-10,80,10,86",
            "bbox=-181,0,0,1",
            "bbox=0,0,30000000,1&crs=3857",
        ] {
            assert_eq!(param(export_query(q)), "bbox", "{q}");
        }
        assert_eq!(param(export_query("crs=27700")), "crs");
        assert_eq!(param(export_query("zoom=31")), "zoom");
        assert_eq!(param(export_query("zoom=-1")), "zoom");
    }

    #[test]
    fn crs_may_follow_the_box() -> Result<(), TileError> {
        let q = export_query("bbox=0,0,1000,1000&crs=EPSG:3857&zoom=7")?;
        assert_eq!(q.bbox, Some(Bounds::new(0.0, 0.0, 1000.0, 1000.0)));
        assert_eq!((q.crs, q.zoom), (Crs::WebMercator, Some(7)));
        Ok(())
    }
}
