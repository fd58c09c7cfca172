//! Neighbourhoods of focal operations and the settings of terrain operations: the types the
//! parser builds and the kernels in `focal` and `terrain` run.
//!
//! The shapes are GeoPySpark's (GeoTrellis's `Neighborhood`s), with the same membership
//! rules: a cell at offset `(dx, dy)` from the focus (x east, y south) belongs to
//! - `Square(r)`: `|dx| <= r` and `|dy| <= r`;
//! - `Circle(r)`: `sqrt(dx² + dy²) <= r` (the rim included);
//! - `Annulus(r1, r2)`: `r1 <= sqrt(dx² + dy²) <= r2` (both rims included);
//! - `Nesw(r)`: the focus's row and column within `r` (`dx == 0` or `dy == 0`);
//! - `Wedge(r, start, end)`: within the circle of radius `r` and at an angle between
//!   `start` and `end` degrees, counter-clockwise from east (`atan2(-dy, dx)` in 0..360;
//!   `start > end` wraps through east), plus the focus itself.
//!
//! A shape's reach is `ceil(radius)` cells; at most [`MAX_RADIUS`].

use std::fmt;

/// The largest reach of a neighbourhood, in cells: a tile's halo is the sum of the reaches
/// along a formula's deepest chain of neighbourhood operations, and a halo stays within the
/// eight neighbouring tiles.
pub const MAX_RADIUS: u32 = 16;

/// The cells around a focus that a focal operation reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// `square(r)`: the `(2r+1)²` cells around the focus; `focal_mean(a, 3)` is `square(1)`.
    Square(u32),
    /// `circle(r)`.
    Circle(f64),
    /// `annulus(inner, outer)`.
    Annulus(f64, f64),
    /// `nesw(r)`: von Neumann's cross.
    Nesw(u32),
    /// `wedge(r, start_degrees, end_degrees)`.
    Wedge(f64, f64, f64),
}

impl Shape {
    /// How many cells past the focus the shape reaches.
    pub fn reach(&self) -> u32 {
        let ceil = |r: f64| {
            // Radii are checked to lie in 0..=MAX_RADIUS by the parser; clamping keeps a
            // hand-built shape from asking for a huge halo.
            r.ceil().clamp(0.0, f64::from(MAX_RADIUS)) as u32
        };
        match *self {
            Shape::Square(r) | Shape::Nesw(r) => r.min(MAX_RADIUS),
            Shape::Circle(r) | Shape::Wedge(r, _, _) => ceil(r),
            Shape::Annulus(_, outer) => ceil(outer),
        }
    }

    /// Whether the cell at offset (`dx` east, `dy` south) of the focus belongs to the shape.
    pub fn contains(&self, dx: i32, dy: i32) -> bool {
        let reach = self.reach() as i32;
        if dx.abs() > reach || dy.abs() > reach {
            return false;
        }
        let (x, y) = (f64::from(dx), f64::from(dy));
        let distance = (x * x + y * y).sqrt();
        match *self {
            Shape::Square(_) => true,
            Shape::Circle(r) => distance <= r,
            Shape::Annulus(inner, outer) => inner <= distance && distance <= outer,
            Shape::Nesw(_) => dx == 0 || dy == 0,
            Shape::Wedge(r, start, end) => {
                if dx == 0 && dy == 0 {
                    return true;
                }
                // Counter-clockwise from east with north up: y grows southwards in rows.
                let mut angle = (-y).atan2(x);
                if angle < 0.0 {
                    angle += 2.0 * std::f64::consts::PI;
                }
                let (s, e) = (start.to_radians(), end.to_radians());
                let in_angle = if s > e {
                    s <= angle || angle <= e
                } else {
                    s <= angle && angle <= e
                };
                distance <= r && in_angle
            }
        }
    }

    /// The member offsets `(dx, dy)`, row by row from the north-west.
    pub fn offsets(&self) -> Vec<(i32, i32)> {
        let reach = self.reach() as i32;
        let mut out = Vec::new();
        for dy in -reach..=reach {
            for dx in -reach..=reach {
                if self.contains(dx, dy) {
                    out.push((dx, dy));
                }
            }
        }
        out
    }
}

/// Canonical text, as the parser reads it back.
impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:?}` of an f64 round-trips exactly and keeps a `.0` the parser accepts.
        match *self {
            Shape::Square(r) => write!(f, "square({r})"),
            Shape::Circle(r) => write!(f, "circle({})", number(r)),
            Shape::Annulus(a, b) => write!(f, "annulus({}, {})", number(a), number(b)),
            Shape::Nesw(r) => write!(f, "nesw({r})"),
            Shape::Wedge(r, s, e) => {
                write!(f, "wedge({}, {}, {})", number(r), number(s), number(e))
            }
        }
    }
}

/// The shortest text of `v` that parses back to it (`-` as the unary minus).
pub(crate) fn number(v: f64) -> String {
    let (plain, debug) = (v.to_string(), format!("{v:?}"));
    if plain.len() <= debug.len() {
        plain
    } else {
        debug
    }
}

/// The statistic a focal operation computes over the valid cells of the neighbourhood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FocalStat {
    Mean,
    Min,
    Max,
    Sum,
    /// numpy's median: the mean of the two middle values of an even count.
    Median,
    /// The most frequent value; ties go to the smallest.
    Mode,
    /// Population standard deviation (ddof = 0).
    Std,
}

impl FocalStat {
    pub fn name(self) -> &'static str {
        match self {
            FocalStat::Mean => "focal_mean",
            FocalStat::Min => "focal_min",
            FocalStat::Max => "focal_max",
            FocalStat::Sum => "focal_sum",
            FocalStat::Median => "focal_median",
            FocalStat::Mode => "focal_mode",
            FocalStat::Std => "focal_std",
        }
    }

    /// Every statistic, in the order the docs list them.
    pub const ALL: [FocalStat; 7] = [
        FocalStat::Mean,
        FocalStat::Min,
        FocalStat::Max,
        FocalStat::Sum,
        FocalStat::Median,
        FocalStat::Mode,
        FocalStat::Std,
    ];

    pub(crate) fn from_name(name: &str) -> Option<FocalStat> {
        FocalStat::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Relative cost of one neighbour: sorting-based statistics cost more than a running sum.
    pub fn weight(self) -> u64 {
        match self {
            FocalStat::Median | FocalStat::Mode => 8,
            _ => 1,
        }
    }
}

/// A terrain operation over the 3×3 window around each cell (GDAL's `gdaldem`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TerrainOp {
    /// Degrees from horizontal, 0..90.
    Slope,
    /// Degrees clockwise from north, 0..360, the direction the slope faces; flat cells
    /// are nodata (gdaldem's default).
    Aspect,
    /// Illumination 1..255 (gdaldem's byte values, 0 left for nodata) from a light at
    /// `azimuth` degrees clockwise from north and `altitude` degrees above the horizon.
    Hillshade { azimuth: f64, altitude: f64 },
}

impl TerrainOp {
    pub fn name(self) -> &'static str {
        match self {
            TerrainOp::Slope => "slope",
            TerrainOp::Aspect => "aspect",
            TerrainOp::Hillshade { .. } => "hillshade",
        }
    }

    /// gdaldem's defaults: a light from the north-west, 45° up.
    pub const DEFAULT_AZIMUTH: f64 = 315.0;
    pub const DEFAULT_ALTITUDE: f64 = 45.0;
}

/// How the 3×3 derivatives are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Method {
    /// Horn (1981), gdaldem's default: weighted differences over all eight neighbours.
    #[default]
    Horn,
    /// Zevenbergen & Thorne (1987), gdaldem's `-alg ZevenbergenThorne`: the four
    /// edge-adjacent neighbours; smoother surfaces read better with it.
    Zevenbergen,
}

/// The request-wide settings of terrain operations.
#[derive(Debug, Clone, PartialEq)]
pub struct TerrainSettings {
    pub method: Method,
    /// Multiplies elevations before the derivatives (gdaldem's `-z`): converts the layer's
    /// vertical unit to metres, or exaggerates relief.
    pub z_factor: f64,
}

impl Default for TerrainSettings {
    fn default() -> Self {
        TerrainSettings {
            method: Method::Horn,
            z_factor: 1.0,
        }
    }
}

/// The raster a neighbourhood operation runs over: a tile and its halo, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub width: usize,
    pub height: usize,
    /// Each row's ground size of a pixel in metres (Web Mercator is conformal, so one size
    /// serves both directions): the Mercator resolution times cos(latitude) of the row's
    /// centre, or the plain Mercator resolution to do what gdaldem does on an EPSG:3857
    /// file. `height` entries.
    pub pixel_size: Vec<f64>,
    pub terrain: TerrainSettings,
}

impl Grid {
    /// `width × height`, `None` when that overflows (`evaluate_grid` refuses such a grid).
    pub fn cells(&self) -> Option<usize> {
        self.width.checked_mul(self.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_geotrellis() {
        assert_eq!(Shape::Square(1).offsets().len(), 9);
        assert_eq!(Shape::Nesw(1).offsets().len(), 5);
        // The rim is in: (±1, ±1) is sqrt(2) ≈ 1.414 away.
        assert_eq!(Shape::Circle(1.0).offsets().len(), 5);
        assert_eq!(Shape::Circle(1.5).offsets().len(), 9);
        assert_eq!(Shape::Circle(1.5).reach(), 2);
        // The focus is out of an annulus with a positive inner radius.
        let ring = Shape::Annulus(1.0, 1.0).offsets();
        assert_eq!(ring, [(0, -1), (-1, 0), (1, 0), (0, 1)]);
        // North-east quarter, with the focus: east (1,0), north (0,-1), north-east (1,-1).
        let wedge = Shape::Wedge(1.5, 0.0, 90.0).offsets();
        assert_eq!(wedge, [(0, -1), (1, -1), (0, 0), (1, 0)]);
        // start > end wraps through east.
        let wrapped = Shape::Wedge(1.0, 270.0, 90.0).offsets();
        assert_eq!(wrapped, [(0, -1), (0, 0), (1, 0), (0, 1)]);
        assert_eq!(Shape::Square(40).reach(), MAX_RADIUS);
    }

    #[test]
    fn shapes_print_as_parsed() {
        assert_eq!(Shape::Circle(2.0).to_string(), "circle(2)");
        assert_eq!(
            Shape::Wedge(2.5, -10.0, 90.0).to_string(),
            "wedge(2.5, -10, 90)"
        );
        assert_eq!(number(1e300), "1e300");
    }
}
