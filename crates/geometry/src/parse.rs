//! GeoJSON and WKT text → validated [`Area`]s in Web-Mercator metres.
//!
//! Everything is checked before the areas are used: the size of the text, the kind of
//! geometry (Polygon or MultiPolygon only), rings (closed, at least four positions),
//! coordinates (finite, inside the Web-Mercator square) and the vertex and feature limits.

use std::str::FromStr;

use geojson::{GeoJson, GeometryValue, PolygonType, Position};
use tilefn_raster::mercator::{MAX_LATITUDE, ORIGIN_SHIFT, lonlat_to_mercator};

use crate::{Area, Feature, GeometryError, Limits, Point, Polygon};

/// The coordinate reference system of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Crs {
    /// EPSG:4326 longitude, latitude in degrees (GeoJSON's own).
    #[default]
    LonLat,
    /// EPSG:3857 metres.
    WebMercator,
}

/// What a request sent: one geometry, or the features of a FeatureCollection.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub features: Vec<Feature>,
    /// Whether the input was a FeatureCollection (the answer then lists features).
    pub collection: bool,
}

/// GeoJSON when the text starts with `{`, WKT otherwise.
pub fn parse_text(text: &str, crs: Crs, limits: &Limits) -> Result<Input, GeometryError> {
    if text.trim_start().starts_with('{') {
        parse_geojson(text, crs, limits)
    } else {
        let area = parse_wkt(text, crs, limits)?;
        Ok(Input {
            features: vec![Feature {
                id: None,
                properties: None,
                area,
            }],
            collection: false,
        })
    }
}

/// A GeoJSON Geometry, Feature or FeatureCollection. serde_json's recursion limit (128)
/// bounds nesting, so deep input cannot exhaust the stack.
pub fn parse_geojson(text: &str, crs: Crs, limits: &Limits) -> Result<Input, GeometryError> {
    check_size(text, limits)?;
    let doc = GeoJson::from_str(text).map_err(|e| GeometryError::GeoJson(short(&e.to_string())))?;
    let mut budget = Budget::new(limits);
    let (features, collection) = match doc {
        GeoJson::Geometry(g) => (
            vec![feature(None, None, &g.value, crs, &mut budget)?],
            false,
        ),
        GeoJson::Feature(f) => (vec![from_feature(f, crs, &mut budget)?], false),
        GeoJson::FeatureCollection(fc) => {
            if fc.features.len() > limits.max_features {
                return Err(GeometryError::TooManyFeatures(limits.max_features));
            }
            let features = fc
                .features
                .into_iter()
                .map(|f| from_feature(f, crs, &mut budget))
                .collect::<Result<Vec<_>, _>>()?;
            (features, true)
        }
    };
    if features.is_empty() {
        return Err(GeometryError::Empty);
    }
    Ok(Input {
        features,
        collection,
    })
}

/// A WKT `POLYGON` or `MULTIPOLYGON`.
pub fn parse_wkt(text: &str, crs: Crs, limits: &Limits) -> Result<Area, GeometryError> {
    check_size(text, limits)?;
    // The WKT parser recurses into GEOMETRYCOLLECTIONs without a depth limit; they are refused
    // anyway, so they are refused before parsing.
    if text.to_ascii_uppercase().contains("GEOMETRYCOLLECTION") {
        return Err(GeometryError::NotPolygonal("a GEOMETRYCOLLECTION".into()));
    }
    let wkt = wkt::Wkt::<f64>::from_str(text).map_err(|e| GeometryError::Wkt(short(e)))?;
    let mut budget = Budget::new(limits);
    let polygons: Vec<&wkt::types::Polygon<f64>> = match &wkt {
        wkt::Wkt::Polygon(p) => vec![p],
        wkt::Wkt::MultiPolygon(mp) => mp.polygons().iter().collect(),
        other => {
            let name = format!("{other:?}");
            let kind = name.split('(').next().unwrap_or("geometry").to_owned();
            return Err(GeometryError::NotPolygonal(format!("a {kind}")));
        }
    };
    let mut area = Area::default();
    for p in polygons {
        let rings: Vec<Vec<[f64; 2]>> = p
            .rings()
            .iter()
            .map(|r| r.coords().iter().map(|c| [c.x, c.y]).collect())
            .collect();
        if let Some(polygon) = polygon(rings, crs, &mut budget)? {
            area.polygons.push(polygon);
        }
    }
    if area.polygons.is_empty() {
        return Err(GeometryError::Empty);
    }
    Ok(area)
}

fn check_size(text: &str, limits: &Limits) -> Result<(), GeometryError> {
    if text.len() > limits.max_bytes {
        return Err(GeometryError::TooLong(limits.max_bytes));
    }
    Ok(())
}

/// Error text from a parser, shortened (it may quote the input).
fn short(message: &str) -> String {
    message.chars().take(200).collect()
}

/// Vertices left before the vertex limit.
struct Budget {
    left: usize,
    limit: usize,
}

impl Budget {
    fn new(limits: &Limits) -> Budget {
        Budget {
            left: limits.max_vertices,
            limit: limits.max_vertices,
        }
    }

    fn take(&mut self, n: usize) -> Result<(), GeometryError> {
        self.left = self
            .left
            .checked_sub(n)
            .ok_or(GeometryError::TooManyVertices(self.limit))?;
        Ok(())
    }
}

fn from_feature(
    f: geojson::Feature,
    crs: Crs,
    budget: &mut Budget,
) -> Result<Feature, GeometryError> {
    let id = f.id.map(|id| match id {
        geojson::feature::Id::String(s) => serde_json::Value::String(s),
        geojson::feature::Id::Number(n) => serde_json::Value::Number(n),
    });
    let geometry = f
        .geometry
        .ok_or_else(|| GeometryError::NotPolygonal("a feature without geometry".into()))?;
    feature(id, f.properties, &geometry.value, crs, budget)
}

fn feature(
    id: Option<serde_json::Value>,
    properties: Option<serde_json::Map<String, serde_json::Value>>,
    value: &GeometryValue,
    crs: Crs,
    budget: &mut Budget,
) -> Result<Feature, GeometryError> {
    let polygons: Vec<&PolygonType> = match value {
        GeometryValue::Polygon { coordinates } => vec![coordinates],
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
        other => {
            return Err(GeometryError::NotPolygonal(format!(
                "a {}",
                other.type_name()
            )));
        }
    };
    let mut area = Area::default();
    for rings in polygons {
        let rings = rings
            .iter()
            .map(|ring| ring.iter().map(position).collect::<Result<Vec<_>, _>>())
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(p) = polygon(rings, crs, budget)? {
            area.polygons.push(p);
        }
    }
    if area.polygons.is_empty() {
        return Err(GeometryError::Empty);
    }
    Ok(Feature {
        id,
        properties,
        area,
    })
}

/// x, y of a GeoJSON position (a third coordinate, elevation, is ignored).
fn position(p: &Position) -> Result<[f64; 2], GeometryError> {
    match p.as_slice() {
        [x, y] | [x, y, _] => Ok([*x, *y]),
        other => Err(GeometryError::BadPosition(other.len())),
    }
}

/// One polygon's rings, checked and projected; `None` for a polygon with no rings (`POLYGON
/// EMPTY`).
fn polygon(
    rings: Vec<Vec<[f64; 2]>>,
    crs: Crs,
    budget: &mut Budget,
) -> Result<Option<Polygon>, GeometryError> {
    if rings.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(rings.len());
    for ring in rings {
        budget.take(ring.len())?;
        if ring.len() < 4 {
            return Err(GeometryError::ShortRing(ring.len()));
        }
        if ring.first() != ring.last() {
            return Err(GeometryError::OpenRing);
        }
        let projected = ring
            .iter()
            .map(|p| project(*p, crs))
            .collect::<Result<Vec<Point>, _>>()?;
        out.push(projected);
    }
    Ok(Some(Polygon { rings: out }))
}

fn project([x, y]: [f64; 2], crs: Crs) -> Result<Point, GeometryError> {
    if !x.is_finite() || !y.is_finite() {
        return Err(GeometryError::NotFinite);
    }
    match crs {
        Crs::LonLat => {
            if x.abs() > 180.0 {
                return Err(GeometryError::Longitude(x));
            }
            if y.abs() > MAX_LATITUDE {
                return Err(GeometryError::Latitude(y));
            }
            let (mx, my) = lonlat_to_mercator(x, y);
            Ok([mx, my])
        }
        Crs::WebMercator => {
            for v in [x, y] {
                if v.abs() > ORIGIN_SHIFT {
                    return Err(GeometryError::Mercator(v));
                }
            }
            Ok([x, y])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Input, GeometryError> {
        parse_text(text, Crs::LonLat, &Limits::default())
    }

    #[test]
    fn geojson_and_wkt_agree() -> Result<(), GeometryError> {
        let square = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}"#;
        let a = parse(square)?;
        let b = parse("POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))")?;
        assert_eq!(a, b);
        assert!(!a.collection);
        let area = &a.features[0].area;
        assert_eq!(area.vertex_count(), 5);
        let bbox = area.bbox().ok_or(GeometryError::Empty)?;
        assert!((bbox[2] - 111_319.490_793_273_57).abs() < 1e-6, "{bbox:?}");
        Ok(())
    }

    #[test]
    fn features_keep_id_and_properties() -> Result<(), GeometryError> {
        let fc = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","id":"f1","properties":{"name":"a"},
             "geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[2,2],[3,2],[3,3],[2,2]]]]}},
            {"type":"Feature","id":7,"properties":null,
             "geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[[0.2,0.1],[0.8,0.1],[0.8,0.5],[0.2,0.1]]]}}]}"#;
        let input = parse(fc)?;
        assert!(input.collection);
        assert_eq!(input.features.len(), 2);
        assert_eq!(input.features[0].id, Some(serde_json::json!("f1")));
        assert_eq!(input.features[0].area.polygons.len(), 2);
        assert_eq!(input.features[1].id, Some(serde_json::json!(7)));
        assert_eq!(input.features[1].area.polygons[0].rings.len(), 2);
        Ok(())
    }

    #[test]
    fn bad_input_names_the_problem() {
        let cases = [
            ("{", "invalid GeoJSON"),
            ("POLYGON ((0 0, 1 0", "invalid WKT"),
            ("POINT (1 2)", "not a Polygon"),
            (r#"{"type":"Point","coordinates":[1,2]}"#, "not a Polygon"),
            ("POLYGON ((0 0, 1 0, 1 1, 0 1))", "not closed"),
            ("POLYGON ((0 0, 1 0, 0 0))", "at least 4"),
            ("POLYGON ((0 0, 1 0, 1 89, 0 0))", "latitude"),
            ("POLYGON ((0 0, 181 0, 1 1, 0 0))", "longitude"),
            ("POLYGON ((0 0, NaN 0, 1 1, 0 0))", ""),
            (
                "GEOMETRYCOLLECTION (POLYGON ((0 0, 1 0, 1 1, 0 0)))",
                "GEOMETRYCOLLECTION",
            ),
            (
                r#"{"type":"Polygon","coordinates":[[[0,0],[1,"x"],[1,1],[0,0]]]}"#,
                "invalid GeoJSON",
            ),
            (
                r#"{"type":"Feature","geometry":null,"properties":{}}"#,
                "without geometry",
            ),
            ("POLYGON EMPTY", "no polygon"),
        ];
        for (text, want) in cases {
            match parse(text) {
                Err(e) => assert!(e.to_string().contains(want), "{text}: {e}"),
                Ok(i) => panic!("{text}: accepted {i:?}"),
            }
        }
    }

    #[test]
    fn limits_hold() {
        let limits = Limits {
            max_bytes: 1000,
            max_vertices: 8,
            max_features: 1,
        };
        let two =
            "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((0 0, 1 0, 1 1, 0 0)), ((0 0, 1 0, 1 1, 0 0)))";
        let err = parse_wkt(two, Crs::LonLat, &limits);
        assert_eq!(err, Err(GeometryError::TooManyVertices(8)));
        let long = "x".repeat(1001);
        assert_eq!(
            parse_wkt(&long, Crs::LonLat, &limits),
            Err(GeometryError::TooLong(1000))
        );
        let fc = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
            {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}"#;
        assert_eq!(
            parse_geojson(fc, Crs::LonLat, &limits),
            Err(GeometryError::TooManyFeatures(1))
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let deep = format!(r#"{{"type":"Polygon","coordinates":{deep}}}"#);
        let big = Limits::default();
        assert!(matches!(
            parse_geojson(&deep, Crs::LonLat, &big),
            Err(GeometryError::GeoJson(_))
        ));
    }

    #[test]
    fn web_mercator_input() -> Result<(), GeometryError> {
        let text = "POLYGON ((0 0, 1000 0, 1000 1000, 0 0))";
        let input = parse_text(text, Crs::WebMercator, &Limits::default())?;
        assert_eq!(
            input.features[0].area.polygons[0].rings[0][1],
            [1000.0, 0.0]
        );
        let far = "POLYGON ((0 0, 3e7 0, 1000 1000, 0 0))";
        assert!(parse_text(far, Crs::WebMercator, &Limits::default()).is_err());
        Ok(())
    }
}
