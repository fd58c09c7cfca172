//! `/tiles/{layer}/{z}/{x}/{y}.{png,jpg,tif}?algorithm=hillshade|slope|aspect`: a terrain
//! style of a DEM layer, the formula `hillshade(a)` (or `slope(a)`, `aspect(a)`) over the
//! layer's band `band=` (default 0), answered by `/algebra` with every one of its parameters:
//! `azimuth=` and `altitude=` (hillshade), `method=`, `z_factor=`, `pixel_size=`, and the
//! style (`colormap_name=`, `rescale=`, `legend=`, ...), whose defaults suit each algorithm.

use tilefn_algebra::Expr;
use tilefn_raster::TileCoord;

use crate::TileError;
use crate::dem_encoding::dem_encoding;
use crate::neighbourhood::terrain_query;
use crate::query::{AlgebraQuery, Binding, Mode};
use crate::route::{AlgebraRequest, Format, StyleQuery, integer, rescale, style_query};

/// The default look of each algorithm: `(name, colormap, rescale)`. Hillshade is grey from
/// black (shadow, 0) to white (255); slope runs dark to bright up to 60° (steeper is rare
/// and all bright); aspect, an angle, uses a cyclic colormap so north meets north.
const DEFAULTS: [(&str, &str, &str); 3] = [
    ("hillshade", "gray", "0,255"),
    ("slope", "magma", "0,60"),
    ("aspect", "twilight", "0,360"),
];

/// The `/algebra` request behind `algorithm=`, or `None` when the query has none.
pub fn algorithm_request(
    layer: &str,
    tile: TileCoord,
    format: Format,
    query: &str,
) -> Result<Option<AlgebraRequest>, TileError> {
    let mut algorithm = None;
    let (mut band, mut azimuth, mut altitude, mut encoded) = (0, None, None, false);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        match key.as_ref() {
            "algorithm" => algorithm = Some(value.to_owned()),
            "band" => band = integer("band", value)?,
            "azimuth" => azimuth = Some(angle("azimuth", value, 360.0)?),
            "altitude" => altitude = Some(angle("altitude", value, 90.0)?),
            "encoding" => encoded = true,
            _ => {}
        }
    }
    let Some(algorithm) = algorithm else {
        return Ok(None);
    };
    let Some((name, colormap, range)) = DEFAULTS.iter().find(|d| d.0 == algorithm) else {
        return Err(TileError::bad("algorithm", "hillshade, slope or aspect"));
    };
    if encoded {
        // `encoding=` packs raw elevations for MapLibre's own terrain; a computed terrain
        // style is not elevations.
        return Err(TileError::bad(
            "encoding",
            "packs a DEM's raw elevations: it does not combine with algorithm=",
        ));
    }
    if band > 63 {
        return Err(TileError::bad("band", "a band index from 0 to 63"));
    }
    let formula = match *name {
        "hillshade" => format!(
            "hillshade(a, {}, {})",
            azimuth.unwrap_or(315.0),
            altitude.unwrap_or(45.0)
        ),
        other => format!("{other}(a)"),
    };
    let expr = Expr::parse(&formula).map_err(|e| TileError::bad("algorithm", e.to_string()))?;
    let mut style = style_query(query)?;
    style.version = None;
    if style.legend.is_none() && style.colormap.is_none() {
        style
            .colormap_name
            .get_or_insert_with(|| (*colormap).to_owned());
    }
    if style.rescale.is_none() && style.legend.is_none() {
        style.rescale = Some(rescale(range)?);
    }
    let query = AlgebraQuery {
        bindings: vec![Binding {
            var: "a".to_owned(),
            band: band as usize,
            layer: layer.to_owned(),
        }],
        mode: Mode::Formula(expr),
        scale: None,
        alpha: false,
        style,
        terrain: terrain_query(query)?,
    };
    Ok(Some(AlgebraRequest {
        tile,
        format,
        query,
    }))
}

fn angle(param: &'static str, value: &str, max: f64) -> Result<f64, TileError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=max).contains(v))
        .ok_or_else(|| TileError::bad(param, format!("degrees from 0 to {max}")))
}

/// The tile parameters a TileJSON passes on to its tile URLs, in this order.
const TILE_PARAMETERS: [&str; 8] = [
    "algorithm",
    "azimuth",
    "altitude",
    "band",
    "method",
    "z_factor",
    "pixel_size",
    "encoding",
];

/// `/tiles/{layer}.json?algorithm=hillshade&azimuth=270` (or `?encoding=terrarium`): the
/// parameters of its tiles beyond the style, checked now as each tile would check them
/// (so a bad one is a 400 here, not on every tile), as canonical query text; empty when
/// the query has neither `algorithm=` nor `encoding=`.
pub fn tile_parameters(layer: &str, query: &str, style: &StyleQuery) -> Result<String, TileError> {
    let any_tile = TileCoord::new(0, 0, 0);
    let algorithm = algorithm_request(layer, any_tile, Format::Png, query)?;
    let encoding = dem_encoding(query, Format::Png, style)?;
    if algorithm.is_none() && encoding.is_none() {
        return Ok(String::new());
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    for name in TILE_PARAMETERS {
        let last = form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .last();
        if let Some(value) = last {
            out.append_pair(name, &value);
        }
    }
    Ok(out.finish())
}
