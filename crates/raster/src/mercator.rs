//! Web Mercator (EPSG:3857) and the XYZ tile grid.
//!
//! Conventions: XYZ (Google/OSM) tiles, y grows southwards, 256-pixel tiles, and the world
//! square spans `[-ORIGIN_SHIFT, ORIGIN_SHIFT]` metres on both axes.

use serde::{Deserialize, Serialize};

use crate::tile::{TileCoord, TileRange};

/// Tile edge in pixels. One XYZ tile is one internal COG tile.
pub const TILE_SIZE: u32 = 256;
/// WGS84 semi-major axis, the sphere Web Mercator projects onto.
pub const EARTH_RADIUS: f64 = 6_378_137.0;
/// Half the width of the world in metres.
pub const ORIGIN_SHIFT: f64 = std::f64::consts::PI * EARTH_RADIUS;
/// The latitude at which the Mercator square ends.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;
/// Deepest zoom we accept anywhere (2^30 tiles a side still fits u32 tile indices).
pub const MAX_ZOOM: u8 = 30;

/// An axis-aligned box: `min_x, min_y, max_x, max_y`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    pub min_x: f64,
    pub min_y: f64,
    pub max_x: f64,
    pub max_y: f64,
}

impl Bounds {
    pub fn new(min_x: f64, min_y: f64, max_x: f64, max_y: f64) -> Bounds {
        Bounds {
            min_x,
            min_y,
            max_x,
            max_y,
        }
    }

    /// The whole Web Mercator square.
    pub fn world() -> Bounds {
        Bounds::new(-ORIGIN_SHIFT, -ORIGIN_SHIFT, ORIGIN_SHIFT, ORIGIN_SHIFT)
    }

    pub fn width(&self) -> f64 {
        self.max_x - self.min_x
    }

    pub fn height(&self) -> f64 {
        self.max_y - self.min_y
    }

    pub fn is_empty(&self) -> bool {
        !(self.max_x > self.min_x && self.max_y > self.min_y)
    }

    pub fn intersection(&self, o: &Bounds) -> Option<Bounds> {
        let b = Bounds::new(
            self.min_x.max(o.min_x),
            self.min_y.max(o.min_y),
            self.max_x.min(o.max_x),
            self.max_y.min(o.max_y),
        );
        (!b.is_empty()).then_some(b)
    }

    pub fn intersects(&self, o: &Bounds) -> bool {
        self.intersection(o).is_some()
    }

    /// The smallest box holding both.
    pub fn union(&self, o: &Bounds) -> Bounds {
        Bounds::new(
            self.min_x.min(o.min_x),
            self.min_y.min(o.min_y),
            self.max_x.max(o.max_x),
            self.max_y.max(o.max_y),
        )
    }

    pub fn as_array(&self) -> [f64; 4] {
        [self.min_x, self.min_y, self.max_x, self.max_y]
    }
}

/// Metres per pixel at `zoom` (at the equator; Web Mercator's pixels are square in metres).
pub fn resolution(zoom: u8) -> f64 {
    2.0 * ORIGIN_SHIFT / (f64::from(TILE_SIZE) * 2f64.powi(i32::from(zoom)))
}

/// The zoom whose resolution best matches `res` metres per pixel. `finer` picks the zoom
/// whose pixels are no larger than `res` (never loses detail); otherwise the coarser one.
pub fn zoom_for_resolution(res: f64, finer: bool) -> u8 {
    if !(res.is_finite() && res > 0.0) {
        return 0;
    }
    let exact = (2.0 * ORIGIN_SHIFT / (f64::from(TILE_SIZE) * res)).log2();
    // Snap values within 1e-6 of an integer zoom so float noise in a source's pixel size
    // (e.g. 4.777314267823516 m) does not push a layer one zoom too deep.
    let snapped = if (exact - exact.round()).abs() < 1e-6 {
        exact.round()
    } else if finer {
        exact.ceil()
    } else {
        exact.floor()
    };
    snapped.clamp(0.0, f64::from(MAX_ZOOM)) as u8
}

pub fn lonlat_to_mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE);
    let x = lon.to_radians() * EARTH_RADIUS;
    let y = (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
        .tan()
        .ln()
        * EARTH_RADIUS;
    (x, y)
}

pub fn mercator_to_lonlat(x: f64, y: f64) -> (f64, f64) {
    let lon = (x / EARTH_RADIUS).to_degrees();
    let lat = (2.0 * (y / EARTH_RADIUS).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees();
    (lon, lat)
}

/// The Web Mercator box of a tile.
pub fn tile_bounds(t: TileCoord) -> Bounds {
    let size = 2.0 * ORIGIN_SHIFT / 2f64.powi(i32::from(t.z));
    let min_x = -ORIGIN_SHIFT + f64::from(t.x) * size;
    let max_y = ORIGIN_SHIFT - f64::from(t.y) * size;
    Bounds::new(min_x, max_y - size, min_x + size, max_y)
}

/// The tiles at `zoom` that a Web Mercator box touches. Edges that fall exactly on a tile
/// boundary do not pull in the neighbour. `None` if the box misses the world.
pub fn tile_range(b: &Bounds, zoom: u8) -> Option<TileRange> {
    let world = Bounds::world();
    let b = b.intersection(&world)?;
    let n = 2f64.powi(i32::from(zoom));
    let size = 2.0 * ORIGIN_SHIFT / n;
    let max_index = n - 1.0;
    // A tiny epsilon (1e-9 of a tile) keeps exact boundaries from rounding into a neighbour.
    let eps = 1e-9;
    let x0 = ((b.min_x + ORIGIN_SHIFT) / size + eps)
        .floor()
        .clamp(0.0, max_index);
    let x1 = ((b.max_x + ORIGIN_SHIFT) / size - eps)
        .floor()
        .clamp(0.0, max_index);
    let y0 = ((ORIGIN_SHIFT - b.max_y) / size + eps)
        .floor()
        .clamp(0.0, max_index);
    let y1 = ((ORIGIN_SHIFT - b.min_y) / size - eps)
        .floor()
        .clamp(0.0, max_index);
    Some(TileRange {
        z: zoom,
        x0: x0 as u32,
        y0: y0 as u32,
        x1: x1 as u32,
        y1: y1 as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn resolution_matches_gdal_googlemaps_tms() {
        assert!(close(resolution(0), 156_543.033_928_041, 1e-6));
        assert!(close(resolution(14), 9.554_628_535_647_032, 1e-9));
    }

    #[test]
    fn zoom_snapping() {
        assert_eq!(zoom_for_resolution(resolution(10), true), 10);
        assert_eq!(zoom_for_resolution(resolution(10) * 1.000_000_01, true), 10);
        assert_eq!(zoom_for_resolution(30.0, true), 13);
        assert_eq!(zoom_for_resolution(30.0, false), 12);
        assert_eq!(zoom_for_resolution(0.0, true), 0);
    }

    #[test]
    fn lonlat_round_trip() {
        for (lon, lat) in [(0.0, 0.0), (-122.4, 37.8), (179.9, -85.0), (10.0, 60.0)] {
            let (x, y) = lonlat_to_mercator(lon, lat);
            let (lo, la) = mercator_to_lonlat(x, y);
            assert!(close(lo, lon, 1e-9) && close(la, lat, 1e-9), "{lon},{lat}");
        }
        let (_, y) = lonlat_to_mercator(0.0, 90.0);
        assert!(close(y, ORIGIN_SHIFT, 1e-6));
    }

    #[test]
    fn tile_bounds_and_range_agree() {
        let t = TileCoord::new(5, 17, 11);
        let b = tile_bounds(t);
        assert_eq!(
            tile_range(&b, 5),
            Some(TileRange {
                z: 5,
                x0: 17,
                y0: 11,
                x1: 17,
                y1: 11
            })
        );
        let r = tile_range(&b, 7).unwrap_or(TileRange {
            z: 0,
            x0: 0,
            y0: 0,
            x1: 0,
            y1: 0,
        });
        assert_eq!((r.x0, r.y0, r.x1, r.y1), (68, 44, 71, 47));
        assert_eq!(tile_bounds(TileCoord::new(0, 0, 0)), Bounds::world());
        assert_eq!(tile_range(&Bounds::new(1e8, 1e8, 2e8, 2e8), 3), None);
    }
}
