//! Formulas with neighbourhood functions on tiles: the terrain parameters of a query
//! (`method=`, `z_factor=`, `pixel_size=`), the grid of a tile and its halo, the cost
//! check made before any read, and [`Service::formula_tile`], the one place a formula is
//! evaluated on a tile for `/algebra`, `/pixel`, `/statistics` and whole-layer values.

use std::collections::BTreeMap;

use futures_util::future::try_join_all;
use tilefn_algebra::{Expr, Grid, Method, Output, TerrainSettings, evaluate_grid_inside};
use tilefn_raster::mercator::{EARTH_RADIUS, ORIGIN_SHIFT, resolution};
use tilefn_raster::{TILE_SIZE, TileCoord};
use tilefn_storage::Bucket;

use crate::algebra::{Blocks, Columns, Layers, bound_bands, eval_error};
use crate::query::AlgebraQuery;
use crate::{Service, TileError};

const TS: usize = TILE_SIZE as usize;

/// Most weighted neighbour visits one request may make ([`Expr::neighbourhood_work`] times
/// the cells of every padded tile it evaluates). 2^28 visits is about a second of a Worker's
/// CPU: `focal_mean(a, 33)` (a 33×33 square, radius 16) on one tile fits; its median does not.
pub const MAX_NEIGHBOURHOOD_WORK: u64 = 1 << 28;

/// How terrain functions measure pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PixelSize {
    /// The true ground size: the Mercator pixel times cos(latitude) of its row.
    #[default]
    Ground,
    /// The Mercator pixel itself, as `gdaldem` measures an EPSG:3857 file (slopes too
    /// steep away from the equator; for comparing with GDAL).
    Mercator,
}

/// The terrain parameters of a query: `method=horn|zevenbergen`, `z_factor=`,
/// `pixel_size=ground|mercator`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TerrainQuery {
    pub method: Method,
    /// `None`: 1 (elevations in metres).
    pub z_factor: Option<f64>,
    pub pixel_size: PixelSize,
}

impl TerrainQuery {
    /// The part of an ETag: empty for the defaults, so tags made before these parameters
    /// existed stay valid.
    pub fn canonical(&self) -> String {
        if *self == TerrainQuery::default() {
            return String::new();
        }
        format!(
            "\nmethod={:?},z_factor={:?},pixel_size={:?}",
            self.method, self.z_factor, self.pixel_size
        )
    }

    pub fn settings(&self) -> TerrainSettings {
        TerrainSettings {
            method: self.method,
            z_factor: self.z_factor.unwrap_or(1.0),
        }
    }
}

/// Parses the terrain parameters of a query string.
pub fn terrain_query(query: &str) -> Result<TerrainQuery, TileError> {
    let mut out = TerrainQuery::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        match key.as_ref() {
            "method" => {
                out.method = match value {
                    "horn" => Method::Horn,
                    "zevenbergen" => Method::Zevenbergen,
                    _ => return Err(TileError::bad("method", "horn (default) or zevenbergen")),
                }
            }
            "z_factor" => {
                let z: f64 = value
                    .parse()
                    .map_err(|_| TileError::bad("z_factor", "a number, e.g. 0.3048 for feet"))?;
                if !z.is_finite() || z <= 0.0 || z > 1e6 {
                    return Err(TileError::bad("z_factor", "a positive number up to 1e6"));
                }
                out.z_factor = Some(z);
            }
            "pixel_size" => {
                out.pixel_size = match value {
                    "ground" => PixelSize::Ground,
                    "mercator" => PixelSize::Mercator,
                    _ => return Err(TileError::bad("pixel_size", "ground (default) or mercator")),
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Metres per unit of a band's values, for the units ingest records (GDAL's unit types and
/// PROJ's names); `None` for a unit that is not a length.
pub fn metres_per_unit(unit: &str) -> Option<f64> {
    let u = unit.trim().to_ascii_lowercase();
    Some(match u.as_str() {
        "m" | "metre" | "meter" | "metres" | "meters" => 1.0,
        "ft" | "foot" | "feet" | "international foot" | "international feet" => 0.3048,
        "us-ft" | "ftus" | "us survey foot" | "us survey feet" | "foot_us" | "us_survey_foot" => {
            1200.0 / 3937.0
        }
        "cm" | "centimetre" | "centimeter" => 0.01,
        "dm" | "decimetre" | "decimeter" => 0.1,
        "mm" | "millimetre" | "millimeter" => 0.001,
        "km" | "kilometre" | "kilometer" => 1000.0,
        _ => return None,
    })
}

/// The default `z_factor`: the bound bands' unit in metres when they all agree (a band
/// without a unit, or with one that is not a length, counts as metres); 1 otherwise.
fn unit_z_factor(q: &AlgebraQuery, layers: &Layers) -> f64 {
    let factors: Vec<f64> = q
        .bindings
        .iter()
        .map(|b| {
            layers
                .get(&b.layer)
                .and_then(|l| l.manifest.bands.get(b.band))
                .and_then(|band| band.unit.as_deref())
                .and_then(metres_per_unit)
                .unwrap_or(1.0)
        })
        .collect();
    match factors.split_first() {
        Some((first, rest)) if rest.iter().all(|f| f == first) => *first,
        _ => 1.0,
    }
}

/// The cells of a tile with halo `halo`.
pub fn padded_cells(halo: u32) -> u64 {
    let side = TS as u64 + 2 * u64::from(halo);
    side * side
}

/// Refuses, before any read, a formula whose neighbourhood work over `tiles` tiles passes
/// [`MAX_NEIGHBOURHOOD_WORK`].
pub fn check_cost(expr: &Expr, tiles: u64) -> Result<(), TileError> {
    let per_cell = expr.neighbourhood_work();
    if per_cell == 0 {
        return Ok(());
    }
    let work = per_cell
        .saturating_mul(padded_cells(expr.halo()))
        .saturating_mul(tiles);
    if work > MAX_NEIGHBOURHOOD_WORK {
        let per_tile = per_cell.saturating_mul(padded_cells(expr.halo()));
        return Err(TileError::bad(
            "formula",
            format!(
                "its neighbourhoods take {work} neighbour visits over {tiles} tile(s) \
                 ({per_tile} a tile); at most {MAX_NEIGHBOURHOOD_WORK} per request \
                 (neighbourhood work limit): use smaller neighbourhoods, fewer functions, \
                 or a lower zoom"
            ),
        ));
    }
    Ok(())
}

/// The grid of tile `t` and `halo` cells around it: each row's pixel size from its latitude.
pub fn grid(t: TileCoord, halo: u32, terrain: &TerrainQuery) -> Grid {
    let side = TS + 2 * halo as usize;
    let res = resolution(t.z);
    let first_row = i64::from(t.y) * TS as i64 - i64::from(halo);
    let last_row = ((TS as i64) << t.z) - 1;
    let pixel_size = (0..side as i64)
        .map(|r| match terrain.pixel_size {
            PixelSize::Mercator => res,
            PixelSize::Ground => {
                // Rows beyond the poles hold no data; their size only has to be finite.
                let row = (first_row + r).clamp(0, last_row);
                let y = ORIGIN_SHIFT - (row as f64 + 0.5) * res;
                // cos(latitude) = 1 / cosh(y / R) on the sphere Web Mercator uses.
                res / (y / EARTH_RADIUS).cosh()
            }
        })
        .collect();
    Grid {
        width: side,
        height: side,
        pixel_size,
        terrain: terrain.settings(),
    }
}

impl<B: Bucket> Service<B> {
    /// Tile `t` of every layer with `halo` cells around it, read concurrently, each layer
    /// once, with only the bands the query binds.
    pub(crate) async fn read_layers_with_halo(
        &self,
        layers: &Layers,
        q: &AlgebraQuery,
        t: TileCoord,
        halo: u32,
    ) -> Result<Blocks, TileError> {
        let reads = layers
            .iter()
            .map(|(id, layer)| self.read_with_halo(layer, t, bound_bands(q, id), halo));
        let blocks = try_join_all(reads).await?;
        Ok(layers.keys().cloned().zip(blocks).collect())
    }

    /// `expr` on tile `t` (256×256 cells), its neighbourhoods read from the halo; `None` when
    /// no layer has data within the halo. `reductions` are the whole-layer values it uses.
    pub(crate) async fn formula_tile(
        &self,
        expr: &Expr,
        q: &AlgebraQuery,
        layers: &Layers,
        reductions: &BTreeMap<String, f64>,
        t: TileCoord,
    ) -> Result<Option<Output>, TileError> {
        let halo = expr.halo();
        let blocks = self.read_layers_with_halo(layers, q, t, halo).await?;
        if blocks.values().all(Option::is_none) {
            return Ok(None);
        }
        let terrain = TerrainQuery {
            z_factor: Some(
                q.terrain
                    .z_factor
                    .unwrap_or_else(|| unit_z_factor(q, layers)),
            ),
            ..q.terrain
        };
        let grid = grid(t, halo, &terrain);
        // A tile and at most a 64-cell halo: (256 + 128)² cells, far from overflowing.
        let cells = grid.width * grid.height;
        let columns = Columns::new(q, layers, &blocks, reductions, cells);
        // The tile's own cells: a terrain function computes only those.
        let out = evaluate_grid_inside(expr, &grid, halo as usize, &columns).map_err(eval_error)?;
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ground_pixels_shrink_with_latitude() {
        let terrain = TerrainQuery::default();
        // Zoom 1, tile (0, 0): the northern hemisphere's west half; the last row touches
        // the equator, where the ground pixel is the Mercator one.
        let g = grid(TileCoord::new(1, 0, 0), 1, &terrain);
        assert_eq!((g.width, g.pixel_size.len()), (258, 258));
        let res = resolution(1);
        let equator = g.pixel_size[256];
        assert!((equator / res - 1.0).abs() < 1e-4, "{equator} vs {res}");
        assert!(
            g.pixel_size[1] < 0.1 * res,
            "near the pole: {}",
            g.pixel_size[1]
        );
        let flat = grid(
            TileCoord::new(1, 0, 0),
            0,
            &TerrainQuery {
                pixel_size: PixelSize::Mercator,
                ..terrain
            },
        );
        assert!(flat.pixel_size.iter().all(|p| *p == res));
    }

    #[test]
    fn terrain_parameters_are_checked() {
        assert_eq!(terrain_query("").ok(), Some(TerrainQuery::default()));
        let q = terrain_query("method=zevenbergen&z_factor=0.3048&pixel_size=mercator").ok();
        assert_eq!(
            q.map(|q| (q.method, q.z_factor)),
            Some((Method::Zevenbergen, Some(0.3048)))
        );
        for bad in [
            "method=sobel",
            "z_factor=0",
            "z_factor=nan",
            "pixel_size=feet",
        ] {
            assert!(terrain_query(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cost_is_checked_from_the_text() {
        let parse = |s: &str| Expr::parse(s).map_err(|e| e.to_string());
        let ok = parse("focal_mean(a, 33)").map(|e| check_cost(&e, 1).is_ok());
        assert_eq!(ok, Ok(true));
        let median = parse("focal_median(a, 33)").map(|e| check_cost(&e, 1).is_err());
        assert_eq!(median, Ok(true));
        let many =
            parse("slope(a)").map(|e| (check_cost(&e, 256).is_ok(), check_cost(&e, 1000).is_err()));
        assert_eq!(many, Ok((true, true)));
    }
}
