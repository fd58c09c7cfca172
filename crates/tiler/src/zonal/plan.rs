//! Which zoom a polygon is measured at, and the tiles that takes: the request's cost,
//! known before any tile byte is read.
//!
//! The cost of a zoom is the number of tiles holding at least one counted pixel (inside a
//! polygon and inside a layer's box), and the number of values kept for percentiles. The
//! default zoom is the deepest stored zoom within both budgets (the layer's max zoom for a
//! field); a forced zoom over budget is a 400 naming the zoom that fits.

use tilefn_geometry::{Input, Spans, rasterize};
use tilefn_raster::TileCoord;
use tilefn_raster::mercator::{ORIGIN_SHIFT, resolution};

use crate::TileError;

/// Most tiles read for one `/statistics` request.
pub const MAX_STATS_TILES: usize = 256;
/// Most values kept for percentiles (4 bytes each: 64 MiB), over all features and bands.
pub const MAX_STATS_VALUES: u64 = 1 << 24;
/// Most edge visits of the scanline fill at one zoom (a 100,000-vertex zigzag over 500
/// rows); past it that zoom is not tried.
const MAX_SCAN_WORK: u64 = 50_000_000;
/// A zoom whose bounding box spans more than this many tiles is not rasterized at all: the
/// polygons would have to fill less than 1/64 of their box to fit the budget.
const MAX_BOX_TILES: f64 = (MAX_STATS_TILES * 64) as f64;

/// The measured zoom, each feature's pixels there, and the tiles to read.
#[derive(Debug, Clone)]
pub struct Plan {
    pub zoom: u8,
    pub spans: Vec<Spans>,
    pub tiles: Vec<TileCoord>,
}

/// What the data allows: stored zooms, and which tiles hold data at all.
pub struct Extent<'a> {
    pub min_zoom: u8,
    pub max_zoom: u8,
    /// Values kept per counted pixel (bands summarised).
    pub bands: u64,
    pub covers: &'a dyn Fn(TileCoord) -> bool,
}

/// The plan at `forced` (400 over budget), or at the deepest zoom that fits.
pub fn plan(input: &Input, extent: &Extent<'_>, forced: Option<u8>) -> Result<Plan, TileError> {
    if let Some(z) = forced {
        if z > extent.max_zoom || z < extent.min_zoom {
            return Err(TileError::bad(
                "zoom",
                format!(
                    "the data is stored at zooms {}..={}",
                    extent.min_zoom, extent.max_zoom
                ),
            ));
        }
        if let Some(plan) = at_zoom(input, extent, z) {
            return Ok(plan);
        }
        let fits = deepest(input, extent, z).map(|p| p.zoom);
        let hint = match fits {
            Some(f) => format!("; zoom {f} fits"),
            None => String::new(),
        };
        return Err(TileError::bad(
            "zoom",
            format!(
                "at zoom {z} the polygons need more than {MAX_STATS_TILES} tiles or \
                 {MAX_STATS_VALUES} values (statistics budget){hint}"
            ),
        ));
    }
    deepest(input, extent, extent.max_zoom).ok_or_else(|| {
        TileError::bad(
            "geom",
            format!(
                "the polygons need more than {MAX_STATS_TILES} tiles even at zoom {}, the \
                 coarsest stored (statistics budget)",
                extent.min_zoom
            ),
        )
    })
}

/// The deepest zoom at or below `from` within budget.
fn deepest(input: &Input, extent: &Extent<'_>, from: u8) -> Option<Plan> {
    (extent.min_zoom..=from)
        .rev()
        .find_map(|z| at_zoom(input, extent, z))
}

/// The plan at zoom `z`, if it is within every budget.
fn at_zoom(input: &Input, extent: &Extent<'_>, z: u8) -> Option<Plan> {
    if box_tiles(input, z) > MAX_BOX_TILES {
        return None;
    }
    let mut work_left = MAX_SCAN_WORK;
    let mut spans = Vec::with_capacity(input.features.len());
    let mut union = Spans {
        zoom: z,
        ..Spans::default()
    };
    for f in &input.features {
        let s = rasterize(&f.area, z, work_left)?;
        work_left = work_left.saturating_sub(s.work);
        union = union.union(&s);
        spans.push(s);
    }
    let tiles: Vec<TileCoord> = union
        .tiles()
        .into_iter()
        .filter(|t| (extent.covers)(*t))
        .collect();
    if tiles.len() > MAX_STATS_TILES {
        return None;
    }
    // Values kept: pixels in tiles that hold data, per feature (features may overlap).
    let mut values = 0u64;
    for s in &spans {
        let held: u64 = tiles
            .iter()
            .flat_map(|t| s.tile_runs(*t))
            .map(|(_, a, b)| (b - a) as u64)
            .sum();
        values = values.saturating_add(held.saturating_mul(extent.bands));
    }
    (values <= MAX_STATS_VALUES).then_some(Plan {
        zoom: z,
        spans,
        tiles,
    })
}

/// Tiles of the features' common bounding box at zoom `z` (as f64: it may exceed u64).
fn box_tiles(input: &Input, z: u8) -> f64 {
    let tile = resolution(z) * 256.0;
    let mut total = 0.0;
    for f in &input.features {
        let Some([x0, y0, x1, y1]) = f.area.bbox() else {
            continue;
        };
        let cols =
            ((x1 + ORIGIN_SHIFT) / tile).floor() - ((x0 + ORIGIN_SHIFT) / tile).floor() + 1.0;
        let rows =
            ((ORIGIN_SHIFT - y0) / tile).floor() - ((ORIGIN_SHIFT - y1) / tile).floor() + 1.0;
        total += cols * rows;
    }
    total
}

/// Ground area in m² of one pixel of row `row` (global) at zoom `z`: Web-Mercator pixels
/// shrink by cos(latitude) on both axes, and `cos φ = 1 / cosh(y / R)`.
pub fn pixel_area(z: u8, row: u64) -> f64 {
    let res = resolution(z);
    let y = ORIGIN_SHIFT - (row as f64 + 0.5) * res;
    let c = (y / tilefn_raster::mercator::EARTH_RADIUS).cosh();
    res * res / (c * c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilefn_geometry::{Crs, Limits, parse_text};

    fn input(wkt: &str) -> Input {
        match parse_text(wkt, Crs::LonLat, &Limits::default()) {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        }
    }

    fn extent(max_zoom: u8) -> (u8, u8) {
        (0, max_zoom)
    }

    #[test]
    fn a_field_is_exact_and_a_continent_is_bounded() -> Result<(), TileError> {
        let all = |_: TileCoord| true;
        let (min_zoom, max_zoom) = extent(14);
        let e = Extent {
            min_zoom,
            max_zoom,
            bands: 1,
            covers: &all,
        };
        let field = input("POLYGON ((10 45, 10.01 45, 10.01 45.01, 10 45.01, 10 45))");
        let p = plan(&field, &e, None)?;
        assert_eq!(p.zoom, 14);
        assert!(p.tiles.len() <= 4, "{}", p.tiles.len());
        let continent = input("POLYGON ((-10 35, 40 35, 40 70, -10 70, -10 35))");
        let p = plan(&continent, &e, None)?;
        assert!(
            p.tiles.len() <= MAX_STATS_TILES && p.zoom < 14,
            "{}",
            p.zoom
        );
        let forced = plan(&continent, &e, Some(14));
        let message = forced.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains(&format!("zoom {} fits", p.zoom)),
            "{message}"
        );
        Ok(())
    }

    #[test]
    fn tiles_outside_the_data_cost_nothing() -> Result<(), TileError> {
        let none = |_: TileCoord| false;
        let e = Extent {
            min_zoom: 0,
            max_zoom: 10,
            bands: 1,
            covers: &none,
        };
        let p = plan(&input("POLYGON ((0 0, 1 0, 1 1, 0 0))"), &e, None)?;
        assert_eq!(p.zoom, 10);
        assert!(p.tiles.is_empty());
        assert!(p.spans[0].pixel_count() > 0);
        Ok(())
    }

    #[test]
    fn ground_area_shrinks_with_latitude() {
        let equator = pixel_area(0, 127);
        let res = resolution(0);
        assert!((equator / (res * res) - 1.0).abs() < 1e-3);
        // Against cos² of the row centre's latitude, computed the other way round.
        let y = ORIGIN_SHIFT - 32.5 * res;
        let (_, lat) = tilefn_raster::mercator::mercator_to_lonlat(0.0, y);
        let north = pixel_area(0, 32) / (res * res);
        let cos = lat.to_radians().cos();
        assert!((north - cos * cos).abs() < 1e-12, "{north} at {lat}°");
    }
}
