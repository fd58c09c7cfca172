//! `/statistics`: what the pixels inside polygons hold (django-raster's `value_count`,
//! GeoPySpark's polygonal summaries, TiTiler's `/statistics`).
//!
//! The request flow is the tiles' flow: the query and the geometry are parsed and checked
//! here (every 400), `plan` turns the polygons into a zoom and a set of tiles within budget
//! (cost known before any read), `service` reads those tiles and `summary` folds the pixels
//! whose centres are inside into per-band figures. See `docs/statistics.md`.

mod plan;
mod service;
mod summary;

use tilefn_geometry::{Crs, Input, Limits, parse_text};
use tilefn_raster::mercator::MAX_ZOOM;

pub(crate) use plan::{Extent, pixel_area, plan};
pub use plan::{MAX_STATS_TILES, MAX_STATS_VALUES};
pub(crate) use summary::{BandSummary, Wanted};

use crate::query::{AlgebraQuery, QueryKind, algebra_query, flag};
use crate::route::printable;
use crate::{MAX_BODY_BYTES, TileError};

/// Most histogram bins.
pub const MAX_BINS: usize = 1024;
/// Most percentiles asked at once.
pub const MAX_PERCENTILES: usize = 32;

/// What is summarised: a layer's bands, or a formula's result.
#[derive(Debug, Clone, PartialEq)]
pub enum StatsTarget {
    Layer(String),
    Formula(Box<AlgebraQuery>),
}

/// A parsed `/statistics` request.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRequest {
    pub target: StatsTarget,
    /// The polygons; `None` asks for the whole layer (from its manifest).
    pub input: Option<Input>,
    /// The geometry text as sent, for the ETag.
    pub geometry_text: String,
    pub crs: Crs,
    pub zoom: Option<u8>,
    pub categorical: bool,
    pub bins: usize,
    pub percentiles: Vec<f64>,
}

impl StatsRequest {
    /// Everything the answer depends on besides the data, for the ETag.
    pub fn canonical(&self) -> String {
        let target = match &self.target {
            StatsTarget::Layer(id) => format!("layer={id}"),
            StatsTarget::Formula(q) => q.canonical(),
        };
        format!(
            "{target}\ncrs={:?}\nzoom={:?}\ncategorical={}\nbins={}\npercentiles={:?}\n{}",
            self.crs, self.zoom, self.categorical, self.bins, self.percentiles, self.geometry_text
        )
    }
}

/// Parses `/statistics[/{layer}]`: the query, and the body of a POST (`body` is `Some`
/// exactly for POST).
pub(crate) fn stats_request(
    layer: Option<String>,
    query: &str,
    body: Option<&[u8]>,
) -> Result<StatsRequest, TileError> {
    let mut geom = None;
    let mut crs = Crs::LonLat;
    let mut zoom = None;
    let mut categorical = false;
    let mut bins = 10;
    let mut percentiles = vec![2.0, 50.0, 98.0];
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        match key.as_ref() {
            "geom" => geom = Some(value.to_owned()),
            "crs" => crs = parse_crs(value)?,
            "zoom" => zoom = Some(parse_zoom(value)?),
            "categorical" => categorical = flag("categorical", value)?,
            "bins" => bins = parse_bins(value)?,
            "percentiles" => percentiles = parse_percentiles(value)?,
            _ => {}
        }
    }
    let target = match layer {
        Some(id) => StatsTarget::Layer(id),
        None => StatsTarget::Formula(Box::new(algebra_query(query, QueryKind::Pixel)?)),
    };
    let (param, text) = match body {
        Some(bytes) => ("body", Some(body_text(bytes)?)),
        None => ("geom", geom),
    };
    let input = match &text {
        Some(t) => Some(
            parse_text(t, crs, &Limits::default())
                .map_err(|e| TileError::bad(param, e.to_string()))?,
        ),
        None => None,
    };
    if input.is_none() && matches!(target, StatsTarget::Formula(_)) {
        return Err(TileError::bad(
            "geom",
            "required for a formula (POST a GeoJSON body or pass geom=WKT)",
        ));
    }
    Ok(StatsRequest {
        target,
        input,
        geometry_text: text.unwrap_or_default(),
        crs,
        zoom,
        categorical,
        bins,
        percentiles,
    })
}

pub(crate) fn body_text(bytes: &[u8]) -> Result<String, TileError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(TileError::bad(
            "body",
            format!("longer than {MAX_BODY_BYTES} bytes (size limit)"),
        ));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| TileError::bad("body", "not UTF-8 text"))?
        .trim();
    if text.is_empty() {
        return Err(TileError::bad(
            "body",
            "empty: send a GeoJSON Geometry, Feature or FeatureCollection",
        ));
    }
    Ok(text.to_owned())
}

pub(crate) fn parse_crs(value: &str) -> Result<Crs, TileError> {
    match value.to_ascii_uppercase().as_str() {
        "4326" | "EPSG:4326" => Ok(Crs::LonLat),
        "3857" | "EPSG:3857" => Ok(Crs::WebMercator),
        _ => Err(TileError::bad(
            "crs",
            format!("{} is not 4326 or 3857", printable(value)),
        )),
    }
}

pub(crate) fn parse_zoom(value: &str) -> Result<u8, TileError> {
    value
        .parse::<u8>()
        .ok()
        .filter(|z| *z <= MAX_ZOOM)
        .ok_or_else(|| TileError::bad("zoom", format!("must be an integer 0..={MAX_ZOOM}")))
}

fn parse_bins(value: &str) -> Result<usize, TileError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|b| (1..=MAX_BINS).contains(b))
        .ok_or_else(|| TileError::bad("bins", format!("must be an integer 1..={MAX_BINS}")))
}

fn parse_percentiles(value: &str) -> Result<Vec<f64>, TileError> {
    let bad = || {
        TileError::bad(
            "percentiles",
            format!("expected up to {MAX_PERCENTILES} comma-separated numbers 0..=100"),
        )
    };
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if items.len() > MAX_PERCENTILES {
        return Err(bad());
    }
    items
        .iter()
        .map(|s| {
            s.parse::<f64>()
                .ok()
                .filter(|p| (0.0..=100.0).contains(p))
                .map(|p| p + 0.0)
                .ok_or_else(bad)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(layer: Option<&str>, query: &str, body: Option<&[u8]>) -> String {
        match stats_request(layer.map(str::to_owned), query, body) {
            Err(e) => e.to_string(),
            Ok(r) => format!("parsed: {r:?}"),
        }
    }

    #[test]
    fn parses_queries_and_bodies() -> Result<(), TileError> {
        let r = stats_request(
            Some("dem".into()),
            "geom=POLYGON((0%200,1%200,1%201,0%200))&zoom=9&bins=5&percentiles=10,90&categorical",
            None,
        )?;
        assert_eq!(r.zoom, Some(9));
        assert_eq!(r.bins, 5);
        assert_eq!(r.percentiles, [10.0, 90.0]);
        assert!(r.categorical);
        assert_eq!(r.input.map(|i| i.features.len()), Some(1));
        let body = br#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#;
        let r = stats_request(None, "layers=a=dem&formula=a*2", Some(body))?;
        assert!(matches!(r.target, StatsTarget::Formula(_)));
        let whole = stats_request(Some("dem".into()), "", None)?;
        assert!(whole.input.is_none());
        Ok(())
    }

    #[test]
    fn bad_requests_name_the_parameter() {
        let cases = [
            (Some("dem"), "geom=POINT(1%202)", None, "geom:"),
            (Some("dem"), "zoom=31", None, "zoom:"),
            (Some("dem"), "bins=0", None, "bins:"),
            (Some("dem"), "percentiles=101", None, "percentiles:"),
            (Some("dem"), "percentiles=NaN", None, "percentiles:"),
            (Some("dem"), "crs=27700", None, "crs:"),
            (Some("dem"), "categorical=maybe", None, "categorical:"),
            (Some("dem"), "", Some(&b""[..]), "body: empty"),
            (Some("dem"), "", Some(&b"\xff"[..]), "body: not UTF-8"),
            (
                Some("dem"),
                "",
                Some(&b"{\"type\":"[..]),
                "body: invalid GeoJSON",
            ),
            (None, "layers=a=dem&formula=a", None, "geom: required"),
        ];
        for (layer, query, body, want) in cases {
            let e = err(layer, query, body);
            assert!(e.starts_with(want), "{query}: {e}");
        }
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        assert!(err(Some("dem"), "", Some(&huge)).contains("size limit"));
    }
}
