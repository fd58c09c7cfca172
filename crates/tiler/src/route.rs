//! URL → [`Route`]. Every 400 the service returns is produced here, before any read, and
//! names the offending parameter. Parameters are parsed and normalised, so two URLs that
//! mean the same tile get the same ETag; unknown parameters are ignored.

use percent_encoding::percent_decode_str;
use tilefn_catalog::validate_layer_id;
use tilefn_raster::TileCoord;
use tilefn_raster::mercator::MAX_ZOOM;
use tilefn_render::{DemEncoding, Enhancement, MAX_ENHANCE_FACTOR};

use crate::TileError;
use crate::algorithm::{algorithm_request, tile_parameters};
use crate::dem_encoding::dem_encoding;
use crate::export::{ExportRequest, FormulaExportRequest, export_route};
use crate::query::{AlgebraQuery, PixelRequest, QueryKind, algebra_query, pixel_point};
use crate::zonal::{StatsRequest, stats_request};

/// Longest query string accepted (a URL-encoded colormap fits comfortably).
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Longest path accepted.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest `colormap` JSON accepted (render enforces its own limit too).
pub const MAX_COLORMAP_BYTES: usize = 8 * 1024;

/// What a URL asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// `GET /health`
    Health,
    /// `GET /colormaps`: the names `colormap_name=` accepts.
    Colormaps,
    /// `GET /layers`
    Layers,
    /// `GET /layers/{id}`
    Layer(String),
    /// `GET /layers/{id}/breaks?n=N[&band=B]`: N-quantile class breaks.
    Breaks(BreaksRequest),
    /// `GET /tiles/{id}.json` (TileJSON 3.0.0), with the style parameters and the
    /// `algorithm=`/`encoding=` parameters (canonical query text) for the template.
    TileJson(String, StyleQuery, String),
    /// `GET /tiles/{id}/{z}/{x}/{y}.{png|jpg|jpeg|tif}`
    Tile(TileRequest),
    /// `GET /legends/{name}`: the stored legend JSON.
    Legend(String),
    /// `GET /legends/{name}.png`: a swatch image of the legend.
    LegendPng(String),
    /// `GET /algebra/{z}/{x}/{y}.{png|jpg|jpeg|tif}?layers=...&formula=...`: raster algebra
    /// or an RGB composite of bound layers.
    Algebra(AlgebraRequest),
    /// `GET /pixel/{x}/{y}?layers=...&formula=...`: one value of a formula.
    Pixel(PixelRequest),
    /// `GET|POST /statistics/{layer}` and `/statistics?layers=...&formula=...`: summaries of
    /// the pixels inside polygons (or of the whole layer).
    Statistics(StatsRequest),
    /// `GET|POST /export/{id}.{tif|png|jpg}?bbox=...`: a box of pixels stitched from tiles.
    Export(ExportRequest),
    /// `GET|POST /export.{tif|png|jpg}?layers=...&formula=...&bbox=...`: a formula's box.
    FormulaExport(FormulaExportRequest),
}

/// One `/layers/{id}/breaks` request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreaksRequest {
    pub layer: String,
    /// Classes wanted: 2..=[`MAX_BREAK_CLASSES`].
    pub n: u32,
    pub band: usize,
}

/// Most classes `/breaks` divides a band into (GeoPySpark's breaks are for classed maps).
pub const MAX_BREAK_CLASSES: u32 = 100;

/// One `/algebra` tile, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgebraRequest {
    pub tile: TileCoord,
    pub format: Format,
    pub query: AlgebraQuery,
}

/// Output encoding of a tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    /// Raw values as a GeoTIFF (ignores style parameters).
    Tiff,
}

impl Format {
    /// The canonical extension (`.jpeg` is an alias of `jpg`).
    pub fn ext(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Tiff => "tif",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Tiff => "image/tiff",
        }
    }
}

/// One tile request, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct TileRequest {
    pub layer: String,
    pub tile: TileCoord,
    pub format: Format,
    pub style: StyleQuery,
    /// `encoding=terrarium|mapbox`: band 0's raw values as a MapLibre `raster-dem` PNG
    /// instead of a styled image (`dem_encoding`).
    pub encoding: Option<DemEncoding>,
}

/// The style and version parameters, normalised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StyleQuery {
    /// `legend=NAME`: a stored legend (`legends/NAME.json`).
    pub legend: Option<String>,
    /// `colormap=`: JSON (syntax checked, text kept: key order matters).
    pub colormap: Option<String>,
    /// `colormap_name=`
    pub colormap_name: Option<String>,
    /// `rescale=lo,hi`, re-printed canonically.
    pub rescale: Option<String>,
    /// `entries=`: legend entries to show, trimmed.
    pub entries: Option<String>,
    /// `v=`: pins a manifest version.
    pub version: Option<String>,
    /// `enhance_color`, `enhance_contrast`, `enhance_brightness`, `enhance_sharpness`: PIL
    /// `ImageEnhance` factors applied to PNG/JPEG output (not a style: an RGB layer stays RGB).
    pub enhance: Enhancement,
}

impl StyleQuery {
    /// Whether any styling parameter (not `v`) was given.
    pub fn has_style(&self) -> bool {
        self.legend.is_some()
            || self.colormap.is_some()
            || self.colormap_name.is_some()
            || self.rescale.is_some()
            || self.entries.is_some()
    }

    /// A stable text of the parameters, for ETags.
    pub fn canonical(&self) -> String {
        let parts = [
            ("legend", &self.legend),
            ("colormap", &self.colormap),
            ("colormap_name", &self.colormap_name),
            ("rescale", &self.rescale),
            ("entries", &self.entries),
            ("v", &self.version),
        ];
        parts
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .chain(Some(self.enhance.canonical()).filter(|e| !e.is_empty()))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The parameters as a query string (for URLs in TileJSON), canonical order.
    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        let parts = [
            ("legend", &self.legend),
            ("colormap", &self.colormap),
            ("colormap_name", &self.colormap_name),
            ("rescale", &self.rescale),
            ("entries", &self.entries),
            ("v", &self.version),
        ];
        for (k, v) in parts {
            if let Some(v) = v {
                out.append_pair(k, v);
            }
        }
        let e = &self.enhance;
        let factors = [
            ("enhance_color", e.color),
            ("enhance_contrast", e.contrast),
            ("enhance_brightness", e.brightness),
            ("enhance_sharpness", e.sharpness),
        ];
        for (k, f) in factors {
            if f != 1.0 {
                out.append_pair(k, &f.to_string());
            }
        }
        out.finish()
    }
}

/// Parses a request: `post` for `POST`, whose `body` only the routes that take one read
/// (any other route answers a POST with 405).
pub fn parse_request(post: bool, path: &str, query: &str, body: &[u8]) -> Result<Route, TileError> {
    let body = post.then_some(body);
    check_lengths(path, query)?;
    let segments = decoded_segments(path);
    if segments.first().is_some_and(|s| s == "statistics") {
        return match segments.as_slice() {
            [_] => stats_request(None, query, body),
            [_, id] if id.is_empty() => stats_request(None, query, body),
            [_, id] => stats_request(Some(layer_id(id)?), query, body),
            _ => Err(TileError::NotFound(format!("no route for {path}"))),
        }
        .map(Route::Statistics);
    }
    if let Some(export) = export_route(&segments, query, body) {
        return export;
    }
    if post {
        return Err(TileError::MethodNotAllowed("POST".to_owned()));
    }
    parse(path, query)
}

fn check_lengths(path: &str, query: &str) -> Result<(), TileError> {
    if path.len() > MAX_PATH_BYTES {
        return Err(TileError::bad(
            "path",
            format!("longer than {MAX_PATH_BYTES} bytes"),
        ));
    }
    if query.len() > MAX_QUERY_BYTES {
        return Err(TileError::bad(
            "query",
            format!("longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn decoded_segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// Parses a GET request's path (percent-encoded) and query string.
pub fn parse(path: &str, query: &str) -> Result<Route, TileError> {
    check_lengths(path, query)?;
    let segments = decoded_segments(path);
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let not_found = || TileError::NotFound(format!("no route for {path}"));
    if let Some(export) = export_route(&segments, query, None) {
        return export;
    }
    match segs.as_slice() {
        ["health"] => Ok(Route::Health),
        ["colormaps"] => Ok(Route::Colormaps),
        ["layers"] | ["layers", ""] => Ok(Route::Layers),
        ["layers", id] => Ok(Route::Layer(layer_id(id)?)),
        ["layers", id, "breaks"] => Ok(Route::Breaks(breaks_query(layer_id(id)?, query)?)),
        ["legends", name] => match name.strip_suffix(".png") {
            Some(stem) => Ok(Route::LegendPng(legend_name(stem)?)),
            None => Ok(Route::Legend(legend_name(name)?)),
        },
        ["tiles", file] => {
            let id = file.strip_suffix(".json").ok_or_else(not_found)?;
            let (layer, style) = (layer_id(id)?, style_query(query)?);
            let terrain = tile_parameters(&layer, query, &style)?;
            Ok(Route::TileJson(layer, style, terrain))
        }
        ["tiles", id, z, x, y] => {
            let layer = layer_id(id)?;
            let (tile, format) = tile_and_format(z, x, y)?;
            if let Some(a) = algorithm_request(&layer, tile, format, query)? {
                return Ok(Route::Algebra(a));
            }
            let style = style_query(query)?;
            Ok(Route::Tile(TileRequest {
                layer,
                tile,
                format,
                encoding: dem_encoding(query, format, &style)?,
                style,
            }))
        }
        ["algebra", z, x, y] => {
            let (tile, format) = tile_and_format(z, x, y)?;
            Ok(Route::Algebra(AlgebraRequest {
                tile,
                format,
                query: algebra_query(query, QueryKind::Tile)?,
            }))
        }
        ["pixel", x, y] | ["pixel", x, y, ""] => Ok(Route::Pixel(PixelRequest {
            point: pixel_point(x, y, query)?,
            query: algebra_query(query, QueryKind::Pixel)?,
        })),
        _ => Err(not_found()),
    }
}

/// `n=` (required, 2..=100) and `band=` (default 0) of `/breaks`.
fn breaks_query(layer: String, query: &str) -> Result<BreaksRequest, TileError> {
    let (mut n, mut band) = (None, 0);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "n" => n = Some(integer("n", value.trim())?),
            "band" => band = integer("band", value.trim())?,
            _ => {}
        }
    }
    let n = n
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (2..=MAX_BREAK_CLASSES).contains(n))
        .ok_or_else(|| TileError::bad("n", format!("must be 2..={MAX_BREAK_CLASSES}")))?;
    let band = usize::try_from(band).map_err(|_| TileError::bad("band", "too large"))?;
    Ok(BreaksRequest { layer, n, band })
}

/// `{z}/{x}/{y}.{ext}` of a tile URL.
fn tile_and_format(z: &str, x: &str, y: &str) -> Result<(TileCoord, Format), TileError> {
    let (y, format) = stem_and_format(y)?;
    Ok((tile_coord(z, x, y)?, format))
}

/// `{stem}.{png|jpg|jpeg|tif|tiff}` → the stem and the format.
pub(crate) fn stem_and_format(file: &str) -> Result<(&str, Format), TileError> {
    let (stem, ext) = file
        .rsplit_once('.')
        .ok_or_else(|| TileError::bad("format", "missing extension: use .png, .jpg or .tif"))?;
    let format = match ext.to_ascii_lowercase().as_str() {
        "png" => Format::Png,
        "jpg" | "jpeg" => Format::Jpeg,
        "tif" | "tiff" => Format::Tiff,
        other => {
            return Err(TileError::bad(
                "format",
                format!("{} is not one of png, jpg, jpeg, tif", printable(other)),
            ));
        }
    };
    Ok((stem, format))
}

/// Layer ids that cannot exist (bad alphabet) are simply unknown: 404, not 400.
pub(crate) fn layer_id(id: &str) -> Result<String, TileError> {
    validate_layer_id(id)
        .map(|()| id.to_owned())
        .map_err(|_| TileError::NotFound(format!("layer not found: {}", printable(id))))
}

fn legend_name(name: &str) -> Result<String, TileError> {
    validate_layer_id(name)
        .map(|()| name.to_owned())
        .map_err(|_| TileError::NotFound(format!("legend not found: {}", printable(name))))
}

/// Untrusted text shortened for an error message.
pub(crate) fn printable(s: &str) -> String {
    let short: String = s.chars().take(64).collect();
    format!("{short:?}")
}

fn tile_coord(z: &str, x: &str, y: &str) -> Result<TileCoord, TileError> {
    let z = integer("z", z)?;
    if z > u64::from(MAX_ZOOM) {
        return Err(TileError::bad("z", format!("must be 0..={MAX_ZOOM}")));
    }
    let n = 1u64 << z;
    let x = integer("x", x)?;
    let y = integer("y", y)?;
    for (name, v) in [("x", x), ("y", y)] {
        if v >= n {
            return Err(TileError::bad(
                name,
                format!("must be 0..={} at zoom {z}", n - 1),
            ));
        }
    }
    // z <= 30 and x, y < 2^z were checked above, so `checked` cannot fail here.
    TileCoord::checked(z as u32, x, y).ok_or_else(|| TileError::bad("z", "off the grid"))
}

pub(crate) fn integer(name: &'static str, s: &str) -> Result<u64, TileError> {
    let ok = !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| TileError::bad(name, format!("expected an integer, got {}", printable(s))))
}

/// Parses and normalises the style parameters; unknown ones are ignored, a repeated one
/// keeps its last value.
pub fn style_query(query: &str) -> Result<StyleQuery, TileError> {
    let mut q = StyleQuery::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.trim();
        match key.as_ref() {
            "legend" => q.legend = Some(param_name("legend", value)?),
            "colormap" => q.colormap = Some(colormap(value)?),
            "colormap_name" => q.colormap_name = Some(param_name("colormap_name", value)?),
            "rescale" => q.rescale = Some(rescale(value)?),
            "entries" => q.entries = Some(entries(value)?),
            "v" => q.version = Some(version(value)?),
            "enhance_color" => q.enhance.color = factor("enhance_color", value)?,
            "enhance_contrast" => q.enhance.contrast = factor("enhance_contrast", value)?,
            "enhance_brightness" => q.enhance.brightness = factor("enhance_brightness", value)?,
            "enhance_sharpness" => q.enhance.sharpness = factor("enhance_sharpness", value)?,
            _ => {}
        }
    }
    Ok(q)
}

fn param_name(param: &'static str, value: &str) -> Result<String, TileError> {
    if validate_layer_id(value).is_err() {
        return Err(TileError::bad(
            param,
            "expected 1-64 characters from a-z, A-Z, 0-9, '-' and '_'",
        ));
    }
    Ok(value.to_owned())
}

fn colormap(value: &str) -> Result<String, TileError> {
    if value.len() > MAX_COLORMAP_BYTES {
        return Err(TileError::bad(
            "colormap",
            format!("longer than {MAX_COLORMAP_BYTES} bytes"),
        ));
    }
    // Only the syntax is checked here; render gives it meaning. The text is kept as sent:
    // key order matters to discrete colormaps, so it is not re-serialised.
    serde_json::from_str::<serde::de::IgnoredAny>(value)
        .map_err(|e| TileError::bad("colormap", format!("invalid JSON: {e}")))?;
    Ok(value.to_owned())
}

/// An enhancement factor: a number in `0..=MAX_ENHANCE_FACTOR`.
fn factor(param: &'static str, value: &str) -> Result<f64, TileError> {
    let f: f64 = value.parse().map_err(|_| {
        TileError::bad(
            param,
            format!("expected a number, got {}", printable(value)),
        )
    })?;
    if !(0.0..=MAX_ENHANCE_FACTOR).contains(&f) {
        return Err(TileError::bad(
            param,
            format!("must be between 0 and {MAX_ENHANCE_FACTOR}"),
        ));
    }
    // -0.0 and 0.0 are the same factor; keep one spelling for ETags.
    Ok(f + 0.0)
}

/// `lo,hi`: two finite, different numbers.
pub(crate) fn number_pair(param: &'static str, value: &str) -> Result<(f64, f64), TileError> {
    let bad = || TileError::bad(param, "expected two numbers lo,hi");
    let (lo, hi) = value.split_once(',').ok_or_else(bad)?;
    let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
    if !lo.is_finite() || !hi.is_finite() {
        return Err(TileError::bad(param, "lo and hi must be finite"));
    }
    if lo == hi {
        return Err(TileError::bad(param, "lo and hi must differ"));
    }
    Ok((lo, hi))
}

pub(crate) fn rescale(value: &str) -> Result<String, TileError> {
    let (lo, hi) = number_pair("rescale", value)?;
    Ok(format!("{lo},{hi}"))
}

fn entries(value: &str) -> Result<String, TileError> {
    if value.is_empty() || value.len() > 1024 {
        return Err(TileError::bad(
            "entries",
            "expected a comma-separated list (at most 1024 bytes)",
        ));
    }
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err(TileError::bad("entries", "empty item in the list"));
    }
    Ok(items.join(","))
}

fn version(value: &str) -> Result<String, TileError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !value.starts_with('.');
    if !ok {
        return Err(TileError::bad(
            "v",
            "expected a version: 1-128 characters from a-z, A-Z, 0-9, '-', '_' and '.'",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad_param(path: &str, query: &str) -> Option<&'static str> {
        match parse(path, query) {
            Err(TileError::BadParam { param, .. }) => Some(param),
            _ => None,
        }
    }

    #[test]
    fn tile_routes() -> Result<(), TileError> {
        let Route::Tile(t) = parse("/tiles/dem/3/4/2.jpeg", "rescale=0,%2010&zzz=1")? else {
            return Err(TileError::bad("test", "not a tile"));
        };
        assert_eq!(t.tile, TileCoord::new(3, 4, 2));
        assert_eq!(t.format, Format::Jpeg);
        assert_eq!(t.style.rescale.as_deref(), Some("0,10"));
        assert!(matches!(parse("/tiles/dem.json", "")?, Route::TileJson(id, _, _) if id == "dem"));
        assert_eq!(parse("/health", "")?, Route::Health);
        assert_eq!(parse("/legends/x.png", "")?, Route::LegendPng("x".into()));
        assert_eq!(parse("/legends/x", "")?, Route::Legend("x".into()));
        assert_eq!(parse("/layers/dem", "")?, Route::Layer("dem".into()));
        Ok(())
    }

    #[test]
    fn bad_requests_name_the_parameter() {
        assert_eq!(bad_param("/tiles/dem/31/0/0.png", ""), Some("z"));
        assert_eq!(bad_param("/tiles/dem/a/0/0.png", ""), Some("z"));
        assert_eq!(bad_param("/tiles/dem/2/4/0.png", ""), Some("x"));
        assert_eq!(bad_param("/tiles/dem/2/0/-1.png", ""), Some("y"));
        assert_eq!(bad_param("/tiles/dem/2/0/0.gif", ""), Some("format"));
        assert_eq!(bad_param("/tiles/dem/2/0/0", ""), Some("format"));
        assert_eq!(
            bad_param("/tiles/dem/2/0/0.png", "rescale=1"),
            Some("rescale")
        );
        assert_eq!(
            bad_param("/tiles/dem/2/0/0.png", "rescale=a,b"),
            Some("rescale")
        );
        assert_eq!(
            bad_param("/tiles/dem/2/0/0.png", "colormap=%7Bx"),
            Some("colormap")
        );
        assert_eq!(bad_param("/tiles/dem/2/0/0.png", "v=..%2F"), Some("v"));
        assert_eq!(
            bad_param("/tiles/dem/2/0/0.png", "legend=a%2Fb"),
            Some("legend")
        );
        let long = "a=".to_owned() + &"x".repeat(MAX_QUERY_BYTES);
        assert_eq!(bad_param("/tiles/dem/2/0/0.png", &long), Some("query"));
    }

    #[test]
    fn unknown_things_are_not_found() {
        for path in [
            "/",
            "/nope",
            "/tiles/a/b",
            "/tiles/..%2Fx/1/0/0.png",
            "/layers/a%20b",
        ] {
            assert!(
                matches!(parse(path, ""), Err(TileError::NotFound(_))),
                "{path}"
            );
        }
    }

    #[test]
    fn equivalent_queries_are_canonical() -> Result<(), TileError> {
        let a = style_query("colormap=%7B%22b%22%3A1%7D&rescale=0.0,1e1&junk=1")?;
        let b = style_query("rescale=0,10&colormap=%7B%22b%22:1%7D")?;
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(a.colormap.as_deref(), Some(r#"{"b":1}"#));
        assert!(a.has_style());
        assert!(!style_query("v=abc")?.has_style());
        Ok(())
    }
}
