//! Just enough WKT1 (as GDAL and ESRI write it) to turn a CRS GeoTIFF could not encode in
//! GeoKeys into a proj4 string: GDAL stores such CRSs as an "ESRI PE String" citation.

use super::crs::Crs;
use super::error::SourceError;

#[derive(Debug, Clone)]
enum Arg {
    Str(String),
    Num(f64),
    Node(Node),
    Word,
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    args: Vec<Arg>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.args.iter().find_map(|a| match a {
            Arg::Node(n) if n.name.eq_ignore_ascii_case(name) => Some(n),
            _ => None,
        })
    }
    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.args.iter().filter_map(move |a| match a {
            Arg::Node(n) if n.name.eq_ignore_ascii_case(name) => Some(n),
            _ => None,
        })
    }
    fn str_arg(&self, i: usize) -> Option<&str> {
        match self.args.get(i) {
            Some(Arg::Str(s)) => Some(s),
            _ => None,
        }
    }
    fn num_arg(&self, i: usize) -> Option<f64> {
        match self.args.get(i) {
            Some(Arg::Num(v)) => Some(*v),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn word(&mut self) -> String {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn node(&mut self) -> Option<Node> {
        self.depth += 1;
        if self.depth > 64 {
            return None;
        }
        self.ws();
        let name = self.word();
        self.ws();
        let open = *self.s.get(self.i)?;
        if open != b'[' && open != b'(' {
            return None;
        }
        self.i += 1;
        let mut args = Vec::new();
        loop {
            self.ws();
            match *self.s.get(self.i)? {
                b']' | b')' => {
                    self.i += 1;
                    break;
                }
                b',' => self.i += 1,
                b'"' => {
                    let start = self.i + 1;
                    let end = start + self.s.get(start..)?.iter().position(|c| *c == b'"')?;
                    args.push(Arg::Str(
                        String::from_utf8_lossy(&self.s[start..end]).into_owned(),
                    ));
                    self.i = end + 1;
                }
                c if c == b'-' || c == b'+' || c == b'.' || c.is_ascii_digit() => {
                    let start = self.i;
                    while self
                        .s
                        .get(self.i)
                        .is_some_and(|c| b"+-.eE".contains(c) || c.is_ascii_digit())
                    {
                        self.i += 1;
                    }
                    let t = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                    args.push(Arg::Num(t.parse().ok()?));
                }
                _ => {
                    let save = self.i;
                    let w = self.word();
                    if w.is_empty() {
                        return None;
                    }
                    self.ws();
                    if matches!(self.s.get(self.i), Some(b'[' | b'(')) {
                        self.i = save;
                        args.push(Arg::Node(self.node()?));
                    } else {
                        args.push(Arg::Word);
                    }
                }
            }
        }
        self.depth -= 1;
        Some(Node { name, args })
    }
}

fn parse(s: &str) -> Option<Node> {
    Parser {
        s: s.as_bytes(),
        i: 0,
        depth: 0,
    }
    .node()
}

/// The first quoted name in a WKT string (the CRS name).
pub fn first_name(wkt: &str) -> Option<String> {
    let start = wkt.find('"')? + 1;
    let len = wkt[start..].find('"')?;
    Some(wkt[start..start + len].to_string())
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// WKT1 → CRS. Only what proj4rs can project; anything else is `UnsupportedCrs`.
pub fn to_crs(wkt: &str) -> Result<Crs, SourceError> {
    let bad = |m: String| SourceError::UnsupportedCrs(m);
    let root = parse(wkt).ok_or_else(|| bad("unreadable WKT CRS".into()))?;
    let name = root.str_arg(0).unwrap_or("unnamed").to_string();
    // GDAL appends the exact proj4 definition when it has one.
    let ext = root.children("EXTENSION").find(|e| {
        e.str_arg(0)
            .is_some_and(|n| n.eq_ignore_ascii_case("PROJ4"))
    });
    if let Some(p) = ext.and_then(|e| e.str_arg(1)) {
        return Ok(Crs {
            epsg: None,
            proj4: super::crs::without_grids(p),
            name,
        });
    }
    let geog = if root.name.eq_ignore_ascii_case("GEOGCS") {
        Some(&root)
    } else {
        root.child("GEOGCS")
    };
    let geog = geog.ok_or_else(|| bad(format!("{name}: WKT without a geographic CRS")))?;
    let (geo, ang) = geographic(geog, &name)?;
    if std::ptr::eq(geog, &root) {
        return Ok(Crs {
            epsg: None,
            proj4: format!("+proj=longlat {geo} +no_defs"),
            name,
        });
    }
    if root
        .child("PROJECTION")
        .and_then(|p| p.str_arg(0))
        .is_some_and(|m| norm(m) == "mercatorauxiliarysphere")
    {
        // ESRI's name for Web Mercator (ESRI:102100).
        return super::crs::from_epsg(3857);
    }
    let unit = root.child("UNIT").and_then(|u| u.num_arg(1)).unwrap_or(1.0);
    let projection = projection(&root, &name, ang, unit)?;
    let units = if (unit - 1.0).abs() < 1e-12 {
        "+units=m".to_string()
    } else {
        format!("+to_meter={unit}")
    };
    Ok(Crs {
        epsg: None,
        proj4: format!("{projection} {geo} {units} +no_defs"),
        name,
    })
}

/// The ellipsoid, datum shift and prime meridian as proj4 parameters, and the size of the
/// angular unit in degrees.
fn geographic(geog: &Node, name: &str) -> Result<(String, f64), SourceError> {
    let bad = |m: String| SourceError::UnsupportedCrs(m);
    let datum = geog.child("DATUM");
    let sph = datum
        .and_then(|d| d.child("SPHEROID"))
        .ok_or_else(|| bad(format!("{name}: no ellipsoid")))?;
    let (a, rf) = (sph.num_arg(1).unwrap_or(0.0), sph.num_arg(2).unwrap_or(0.0));
    if !(6_300_000.0..=6_400_000.0).contains(&a) {
        return Err(bad(format!(
            "non-Earth body (semi-major axis {a} m) cannot be placed on Web Mercator"
        )));
    }
    let mut geo = if rf > 0.0 {
        format!("+a={a} +rf={rf}")
    } else {
        format!("+a={a} +b={a}")
    };
    if let Some(t) = datum.and_then(|d| d.child("TOWGS84")) {
        let v: Vec<String> = (0..t.args.len())
            .filter_map(|i| t.num_arg(i))
            .map(|x| x.to_string())
            .collect();
        geo.push_str(&format!(" +towgs84={}", v.join(",")));
    }
    let ang = geog
        .child("UNIT")
        .and_then(|u| u.num_arg(1))
        .unwrap_or(std::f64::consts::PI / 180.0)
        .to_degrees();
    // WKT spells the degree as 0.0174532925199433 rad; snap so parameters print exactly.
    let ang = if (ang - 1.0).abs() < 1e-9 { 1.0 } else { ang };
    if let Some(pm) = geog
        .child("PRIMEM")
        .and_then(|p| p.num_arg(1))
        .filter(|v| *v != 0.0)
    {
        geo.push_str(&format!(" +pm={}", pm * ang));
    }
    Ok((geo, ang))
}

/// A PROJCS's projection and its parameters as proj4 (`+proj=… +x_0=… +y_0=…`); angles in
/// units of `ang` degrees, false easting and northing in units of `unit` metres.
fn projection(root: &Node, name: &str, ang: f64, unit: f64) -> Result<String, SourceError> {
    let method = root
        .child("PROJECTION")
        .and_then(|p| p.str_arg(0))
        .unwrap_or("");
    let param = |names: &[&str]| {
        root.children("PARAMETER")
            .find(|p| {
                p.str_arg(0)
                    .is_some_and(|n| names.iter().any(|w| norm(n) == *w))
            })
            .and_then(|p| p.num_arg(1))
    };
    let a_ = |names: &[&str]| param(names).map(|v| v * ang);
    let lon0 = a_(&["centralmeridian", "longitudeofcenter", "longitudeoforigin"]).unwrap_or(0.0);
    let lat0 = a_(&["latitudeoforigin", "latitudeofcenter"]).unwrap_or(0.0);
    let sp1 = a_(&["standardparallel1"]);
    let sp2 = a_(&["standardparallel2"]).or(sp1);
    let k0 = param(&["scalefactor"]).unwrap_or(1.0);
    let x0 = param(&["falseeasting"]).unwrap_or(0.0) * unit;
    let y0 = param(&["falsenorthing"]).unwrap_or(0.0) * unit;
    let tail = format!("+x_0={x0} +y_0={y0}");
    let p = match norm(method).as_str() {
        "transversemercator" | "gausskruger" => {
            format!("+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k={k0}")
        }
        "albersconicequalarea" | "albers" => {
            let (p1, p2) = (sp1.unwrap_or(lat0), sp2.unwrap_or(lat0));
            format!("+proj=aea +lat_1={p1} +lat_2={p2} +lat_0={lat0} +lon_0={lon0}")
        }
        "lambertconformalconic" | "lambertconformalconic2sp" => {
            let (p1, p2) = (sp1.unwrap_or(lat0), sp2.unwrap_or(lat0));
            format!("+proj=lcc +lat_1={p1} +lat_2={p2} +lat_0={lat0} +lon_0={lon0} +k_0={k0}")
        }
        "lambertconformalconic1sp" => {
            format!("+proj=lcc +lat_1={lat0} +lat_0={lat0} +lon_0={lon0} +k_0={k0}")
        }
        "lambertazimuthalequalarea" => format!("+proj=laea +lat_0={lat0} +lon_0={lon0}"),
        "mercator" | "mercator1sp" | "mercator2sp" => match sp1 {
            Some(ts) => format!("+proj=merc +lat_ts={ts} +lon_0={lon0}"),
            None => format!("+proj=merc +lon_0={lon0} +k={k0}"),
        },
        "polarstereographic" => {
            let pole = if lat0 < 0.0 { -90.0 } else { 90.0 };
            format!("+proj=stere +lat_0={pole} +lat_ts={lat0} +lon_0={lon0} +k={k0}")
        }
        "stereographic" => format!("+proj=stere +lat_0={lat0} +lon_0={lon0} +k={k0}"),
        "obliquestereographic" | "doublestereographic" => {
            format!("+proj=sterea +lat_0={lat0} +lon_0={lon0} +k={k0}")
        }
        "equirectangular" | "platecarree" | "equidistantcylindrical" => {
            format!("+proj=eqc +lat_ts={} +lon_0={lon0}", sp1.unwrap_or(0.0))
        }
        "cylindricalequalarea" => format!("+proj=cea +lat_ts={} +lon_0={lon0}", sp1.unwrap_or(0.0)),
        "geostationarysatellite" => {
            let h = param(&["satelliteheight"]).unwrap_or(35_785_831.0);
            format!("+proj=geos +h={h} +lon_0={lon0}")
        }
        "sinusoidal" => format!("+proj=sinu +lon_0={lon0}"),
        "mollweide" => format!("+proj=moll +lon_0={lon0}"),
        "robinson" => format!("+proj=robin +lon_0={lon0}"),
        "millercylindrical" => format!("+proj=mill +lon_0={lon0}"),
        "cassinisoldner" | "cassini" => format!("+proj=cass +lat_0={lat0} +lon_0={lon0}"),
        "polyconic" => format!("+proj=poly +lat_0={lat0} +lon_0={lon0}"),
        "equidistantconic" => {
            let (p1, p2) = (sp1.unwrap_or(lat0), sp2.unwrap_or(lat0));
            format!("+proj=eqdc +lat_1={p1} +lat_2={p2} +lat_0={lat0} +lon_0={lon0}")
        }
        _ => {
            return Err(SourceError::UnsupportedCrs(format!(
                "{name}: projection {method} is not supported"
            )));
        }
    };
    Ok(format!("{p} {tail}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn esri_albers() {
        let w = r#"PROJCS["USA_Contiguous_Albers_Equal_Area_Conic_USGS_version",GEOGCS["GCS_North_American_1983",DATUM["D_North_American_1983",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Albers"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",-96.0],PARAMETER["Standard_Parallel_1",29.5],PARAMETER["Standard_Parallel_2",45.5],PARAMETER["Latitude_Of_Origin",23.0],UNIT["Meter",1.0]]"#;
        let c = to_crs(w).map(|c| c.proj4).unwrap_or_default();
        assert!(
            c.starts_with("+proj=aea +lat_1=29.5 +lat_2=45.5 +lat_0=23 +lon_0=-96"),
            "{c}"
        );
        assert_eq!(
            first_name(w).as_deref(),
            Some("USA_Contiguous_Albers_Equal_Area_Conic_USGS_version")
        );
    }
}
