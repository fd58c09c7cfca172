//! The query of `/algebra` and `/pixel` (django-raster's raster algebra URLs): `layers=`,
//! `formula=`, `scale=`, `alpha`, the style and enhancement parameters, and the point of
//! `/pixel`. Every 400 comes from here, before any read: a formula that does not parse
//! (with its byte position), a variable `layers=` does not bind, a broken limit.

use std::collections::BTreeSet;

use tilefn_algebra::{Expr, is_valid_variable_name};
use tilefn_raster::mercator::{MAX_LATITUDE, ORIGIN_SHIFT, lonlat_to_mercator};

use crate::TileError;
use crate::neighbourhood::{TerrainQuery, check_cost, terrain_query};
use crate::overview::MAX_OVERVIEW_TILES;
use crate::route::{StyleQuery, layer_id, number_pair, printable, style_query};

/// Longest query string of `/algebra` and `/pixel` (a formula is at most 4096 bytes).
pub const MAX_ALGEBRA_QUERY_BYTES: usize = 8 * 1024;
/// Most `layers=` bindings (and so layers read for one tile).
pub const MAX_BINDINGS: usize = 16;
/// Highest band index `a:N=` accepts (a layer has at most 64 bands).
const MAX_BAND_INDEX: usize = 63;

/// One `layers=` item: `var=ID` (band 0) or `var:BAND=ID` (0-based band index).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Binding {
    pub var: String,
    pub band: usize,
    pub layer: String,
}

/// What is computed from the bindings.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// A formula (or, without `formula=`, a single bound variable).
    Formula(Expr),
    /// No formula and the bindings are exactly `r`, `g`, `b`: an RGB composite.
    Rgb,
}

/// A parsed `/algebra` or `/pixel` query.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgebraQuery {
    /// The bindings that are used (the formula's variables, or r, g, b in that order);
    /// bindings the formula does not mention are dropped: they are never read.
    pub bindings: Vec<Binding>,
    pub mode: Mode,
    /// `scale=lo,hi` of RGB mode.
    pub scale: Option<(f64, f64)>,
    /// `alpha`: in RGB mode, pixels whose three channels are 0 are transparent.
    pub alpha: bool,
    /// Style (of a formula's result) and enhancement. `v=` is not used here.
    pub style: StyleQuery,
    /// How terrain functions measure the ground (`method=`, `z_factor=`, `pixel_size=`).
    pub terrain: TerrainQuery,
}

/// `/pixel`: a point in Web Mercator metres.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelRequest {
    pub point: (f64, f64),
    pub query: AlgebraQuery,
}

/// Which route the query belongs to (`/pixel` has no RGB mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    Tile,
    Pixel,
}

impl AlgebraQuery {
    /// The binding of `var`.
    pub fn binding(&self, var: &str) -> Option<&Binding> {
        self.bindings.iter().find(|b| b.var == var)
    }

    /// The distinct layer ids read, sorted.
    pub fn layer_ids(&self) -> Vec<&str> {
        let ids: BTreeSet<&str> = self.bindings.iter().map(|b| b.layer.as_str()).collect();
        ids.into_iter().collect()
    }

    /// A stable text of everything the result depends on besides the layers' data: used
    /// bindings, the formula's canonical form (`Expr`'s `Display`), scale, alpha and style.
    pub fn canonical(&self) -> String {
        let layers: Vec<String> = self
            .bindings
            .iter()
            .map(|b| format!("{}:{}={}", b.var, b.band, b.layer))
            .collect();
        let mode = match &self.mode {
            Mode::Formula(expr) => format!("formula={expr}"),
            Mode::Rgb => "rgb".to_owned(),
        };
        let scale = self
            .scale
            .map(|(lo, hi)| format!("{lo:?},{hi:?}"))
            .unwrap_or_default();
        format!(
            "layers={}\n{mode}\nscale={scale}\nalpha={}\n{}{}",
            layers.join(","),
            self.alpha,
            self.style.canonical(),
            self.terrain.canonical()
        )
    }
}

/// Parses the query of `/algebra` (`kind` Tile) or `/pixel`.
pub fn algebra_query(query: &str, kind: QueryKind) -> Result<AlgebraQuery, TileError> {
    if query.len() > MAX_ALGEBRA_QUERY_BYTES {
        return Err(TileError::bad(
            "query",
            format!("longer than {MAX_ALGEBRA_QUERY_BYTES} bytes"),
        ));
    }
    let mut layers = None;
    let mut formula = None;
    let mut scale = None;
    let mut alpha = false;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "layers" => layers = Some(value.into_owned()),
            "formula" => formula = Some(value.into_owned()),
            "scale" => scale = Some(number_pair("scale", value.trim())?),
            "alpha" => alpha = flag("alpha", value.trim())?,
            _ => {}
        }
    }
    let mut style = style_query(query)?;
    style.version = None;
    // The formula first: a typo in it is the most useful thing to report.
    let expr = match formula.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(f) => Some(Expr::parse(f).map_err(|e| TileError::BadFormula {
            position: e.position,
            message: e.to_string(),
        })?),
    };
    let layers = layers.ok_or_else(|| TileError::bad("layers", "required (e.g. a=dem,b:2=ms)"))?;
    let all = bindings(&layers)?;
    let var_names = |bs: &[Binding]| -> Vec<String> { bs.iter().map(|b| b.var.clone()).collect() };
    let (mode, used) = match expr {
        Some(expr) => {
            let mut used = Vec::new();
            for name in expr.variables() {
                let b = all.iter().find(|b| b.var == name).ok_or_else(|| {
                    TileError::bad(
                        "layers",
                        format!("the formula uses variable {name:?}, which layers= does not bind"),
                    )
                })?;
                used.push(b.clone());
            }
            (Mode::Formula(expr), used)
        }
        None => {
            let mut names = var_names(&all);
            names.sort();
            if kind == QueryKind::Tile && names == ["b", "g", "r"] {
                let pick = |v: &str| all.iter().find(|b| b.var == v).cloned();
                let rgb: Vec<Binding> = ["r", "g", "b"].iter().filter_map(|v| pick(v)).collect();
                (Mode::Rgb, rgb)
            } else if let [single] = all.as_slice() {
                // Already a valid variable name, so it parses as a formula.
                let expr = Expr::parse(&single.var)
                    .map_err(|e| TileError::bad("layers", e.to_string()))?;
                (Mode::Formula(expr), all.clone())
            } else {
                let rgb = if kind == QueryKind::Tile {
                    " unless layers= binds exactly r, g and b (RGB)"
                } else {
                    " unless layers= binds a single variable"
                };
                return Err(TileError::bad("formula", format!("required{rgb}")));
            }
        }
    };
    let terrain = terrain_query(query)?;
    if let Mode::Formula(expr) = &mode {
        // One tile (or the tile of one pixel): the cost is known now, before any read.
        check_cost(expr, 1)?;
        // Whole-layer values are evaluated over the layers' overview tiles.
        for r in expr.reductions() {
            check_cost(&r.arg, MAX_OVERVIEW_TILES)?;
        }
    }
    Ok(AlgebraQuery {
        bindings: used,
        mode,
        scale,
        alpha,
        style,
        terrain,
    })
}

/// `layers=a=dem,b:2=ms`: variable names checked as the formula language names them, band
/// indices 0-based, layer ids with the catalogue's rules (an impossible id is a 404, like
/// an unknown one).
fn bindings(value: &str) -> Result<Vec<Binding>, TileError> {
    let mut out: Vec<Binding> = Vec::new();
    for item in value.split(',').map(str::trim) {
        let bad = |m: String| TileError::bad("layers", m);
        let (key, id) = item.split_once('=').ok_or_else(|| {
            bad(format!(
                "expected var=LAYER or var:BAND=LAYER, got {}",
                printable(item)
            ))
        })?;
        let (var, band) = match key.trim().split_once(':') {
            Some((var, band)) => (var.trim(), band_index(band.trim())?),
            None => (key.trim(), 0),
        };
        if !is_valid_variable_name(var) {
            return Err(bad(format!(
                "{} is not a valid variable name",
                printable(var)
            )));
        }
        if out.iter().any(|b| b.var == var) {
            return Err(bad(format!("variable {var:?} is bound twice")));
        }
        if out.len() == MAX_BINDINGS {
            return Err(bad(format!(
                "at most {MAX_BINDINGS} bindings (bound layers limit)"
            )));
        }
        out.push(Binding {
            var: var.to_owned(),
            band,
            layer: layer_id(id.trim())?,
        });
    }
    Ok(out)
}

fn band_index(s: &str) -> Result<usize, TileError> {
    let ok = !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.parse::<usize>().ok())
        .flatten()
        .filter(|b| *b <= MAX_BAND_INDEX)
        .ok_or_else(|| {
            TileError::bad(
                "layers",
                format!(
                    "band index must be 0..={MAX_BAND_INDEX}, got {}",
                    printable(s)
                ),
            )
        })
}

/// A flag parameter: present (empty), `true`/`1`, or `false`/`0`.
pub(crate) fn flag(param: &'static str, value: &str) -> Result<bool, TileError> {
    match value.to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(TileError::bad(param, "expected nothing, true or false")),
    }
}

/// The point of `/pixel/{x}/{y}`: Web Mercator metres, or lon/lat degrees with `crs=4326`.
pub fn pixel_point(x: &str, y: &str, query: &str) -> Result<(f64, f64), TileError> {
    let number = |name: &'static str, s: &str| -> Result<f64, TileError> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| TileError::bad(name, format!("expected a number, got {}", printable(s))))
    };
    let (x, y) = (number("x", x)?, number("y", y)?);
    let mut crs = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "crs" {
            crs = Some(value.trim().to_ascii_uppercase());
        }
    }
    match crs.as_deref() {
        None | Some("3857" | "EPSG:3857") => {
            for (name, v) in [("x", x), ("y", y)] {
                if v.abs() > ORIGIN_SHIFT {
                    return Err(TileError::bad(
                        name,
                        format!("outside Web Mercator (|{name}| <= {ORIGIN_SHIFT})"),
                    ));
                }
            }
            Ok((x, y))
        }
        Some("4326" | "EPSG:4326") => {
            if x.abs() > 180.0 {
                return Err(TileError::bad("x", "longitude must be -180..=180"));
            }
            if y.abs() > MAX_LATITUDE {
                return Err(TileError::bad(
                    "y",
                    format!("latitude must be within ±{MAX_LATITUDE} (Web Mercator)"),
                ));
            }
            Ok(lonlat_to_mercator(x, y))
        }
        Some(other) => Err(TileError::bad(
            "crs",
            format!("{} is not 3857 or 4326", printable(other)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(query: &str) -> TileError {
        match algebra_query(query, QueryKind::Tile) {
            Err(e) => e,
            Ok(q) => TileError::NotFound(format!("parsed: {q:?}")),
        }
    }

    #[test]
    fn layers_and_formula() -> Result<(), TileError> {
        let q = algebra_query(
            "layers=a=ms,b:3=ms,unused=zz&formula=(a-b)/(a%2Bb)",
            QueryKind::Tile,
        )?;
        assert_eq!(q.bindings.len(), 2, "unused bindings are dropped");
        assert_eq!(q.binding("b").map(|b| b.band), Some(3));
        assert_eq!(q.layer_ids(), ["ms"]);
        let same = algebra_query(
            "formula=(a - b) / (a + b)&layers=b:3=ms,a:0=ms",
            QueryKind::Tile,
        );
        // `+` in a query is a space: the second formula means `(a - b) / (a   b)`: an error.
        assert!(same.is_err());
        let same = algebra_query(
            "formula=(a%20-%20b)%20/%20(((a%2Bb)))&layers=b:3=ms,a:0=ms",
            QueryKind::Tile,
        )?;
        assert_eq!(q.canonical(), same.canonical());
        let rgb = algebra_query("layers=g=x,b=y,r:2=z&alpha", QueryKind::Tile)?;
        assert_eq!(rgb.mode, Mode::Rgb);
        assert!(rgb.alpha);
        let vars: Vec<&str> = rgb.bindings.iter().map(|b| b.var.as_str()).collect();
        assert_eq!(vars, ["r", "g", "b"]);
        Ok(())
    }

    #[test]
    fn errors_before_any_read() {
        for (query, position) in [("1%2B", 2), ("(a", 2), ("a%20b", 2)] {
            match err(&format!("layers=a=x,b=y&formula={query}")) {
                TileError::BadFormula {
                    position: p,
                    message,
                } => {
                    assert_eq!(p, position, "{query}: {message}");
                    assert!(message.starts_with(&format!("at byte {position}: expected")));
                }
                other => panic!("{query}: {other:?}"),
            }
        }
        let unbound = err("layers=a=x&formula=a*c");
        assert!(unbound.to_string().contains("\"c\""), "{unbound}");
        let vars: Vec<String> = (0..17).map(|i| format!("v{i}")).collect();
        let many = err(&format!("layers=a=x&formula={}", vars.join("%2B")));
        assert!(matches!(many, TileError::BadFormula { .. }), "{many}");
        assert!(many.to_string().contains("16"), "{many}");
        let bindings: Vec<String> = (0..17).map(|i| format!("v{i}=x")).collect();
        let too_many = err(&format!("layers={}&formula=v0", bindings.join(",")));
        assert!(too_many.to_string().contains("at most 16"), "{too_many}");
        assert!(
            err("layers=a:x=l&formula=a")
                .to_string()
                .starts_with("layers:")
        );
        assert!(
            err("layers=a=l,a=m&formula=a")
                .to_string()
                .contains("twice")
        );
        assert!(
            err("layers=lambda=l&formula=1")
                .to_string()
                .starts_with("layers:")
        );
        assert!(
            err("layers=a=l,b=m")
                .to_string()
                .starts_with("formula: required")
        );
        assert!(err("formula=1").to_string().starts_with("layers: required"));
        assert!(matches!(
            err("layers=a=..&formula=a"),
            TileError::NotFound(_)
        ));
        assert!(
            err("layers=r=a,g=b,b=c&scale=1")
                .to_string()
                .starts_with("scale:")
        );
        assert!(
            err("layers=r=a,g=b,b=c&alpha=maybe")
                .to_string()
                .starts_with("alpha:")
        );
        let long = format!("layers=a=x&formula={}", "1".repeat(MAX_ALGEBRA_QUERY_BYTES));
        assert!(err(&long).to_string().starts_with("query:"));
    }

    #[test]
    fn pixel_points() -> Result<(), TileError> {
        assert_eq!(
            pixel_point("-9218229", "3229269", "")?,
            (-9218229.0, 3229269.0)
        );
        let (x, y) = pixel_point("0", "0", "crs=4326")?;
        assert!(x.abs() < 1e-9 && y.abs() < 1e-9);
        assert!(pixel_point("a", "0", "").is_err());
        assert!(pixel_point("0", "90", "crs=4326").is_err());
        assert!(pixel_point("0", "0", "crs=2154").is_err());
        assert!(pixel_point("3e7", "0", "").is_err());
        Ok(())
    }
}
