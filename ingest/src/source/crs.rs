//! GeoKeys → CRS as a proj4 string (what proj4rs understands).
//!
//! EPSG-coded CRSs come from `crs-definitions`; user-defined ones (key value 32767) are built
//! from the projection method and parameter keys for the common methods. Anything we cannot
//! express faithfully is an `UnsupportedCrs` error rather than a silently wrong map.

use super::error::SourceError;
use super::geokeys::{GeoKeys, USER_DEFINED, key};
use super::wkt;

/// A coordinate reference system, ready for proj4rs.
#[derive(Debug, Clone, PartialEq)]
pub struct Crs {
    pub epsg: Option<u32>,
    pub proj4: String,
    pub name: String,
}

impl Crs {
    pub fn is_web_mercator(&self) -> bool {
        self.epsg == Some(3857)
    }
}

/// The CRS for an EPSG code.
pub fn from_epsg(code: u32) -> Result<Crs, SourceError> {
    let def = u16::try_from(code)
        .ok()
        .and_then(crs_definitions::from_code)
        .ok_or(SourceError::UnknownEpsg(code))?;
    let name = wkt::first_name(def.wkt).unwrap_or_else(|| format!("EPSG:{code}"));
    let crs = Crs {
        epsg: Some(code),
        proj4: without_grids(def.proj4),
        name,
    };
    check(&crs)?;
    Ok(crs)
}

/// NAD27 → WGS84 Helmert shift for the conterminous US (EPSG:1173, about ±10 m).
const NAD27_TOWGS84: &str = "+ellps=clrk66 +towgs84=-8,160,176,0,0,0,0";

/// Removes grid-shift files from a proj4 definition. proj4rs ships no grids and refuses
/// `+datum=NAD27` (whose grids are @conus etc.), so NAD27 falls back to the mean Helmert
/// shift PROJ itself uses when grids are missing (metre-level error), and explicit
/// `+nadgrids` are dropped (no datum shift; `@null` on EPSG:3857 means exactly that).
pub(super) fn without_grids(p: &str) -> String {
    let kept: Vec<&str> = p
        .split_whitespace()
        .filter(|t| !t.starts_with("+nadgrids=") && !t.starts_with("+wktext"))
        .map(|t| {
            if t.eq_ignore_ascii_case("+datum=NAD27") {
                NAD27_TOWGS84
            } else {
                t
            }
        })
        .collect();
    kept.join(" ")
}

/// Fails when proj4rs cannot build the projection, naming the CRS.
pub fn check(crs: &Crs) -> Result<(), SourceError> {
    proj4rs::Proj::from_proj_string(&crs.proj4)
        .map(|_| ())
        .map_err(|e| SourceError::UnsupportedCrs(format!("{} ({}): {e}", crs.name, crs.proj4)))
}

/// The CRS described by a file's GeoKeys. `NoCrs` when the keys say nothing usable.
pub fn from_geokeys(k: &GeoKeys) -> Result<Crs, SourceError> {
    let model = k.short(key::MODEL_TYPE);
    if model == Some(3) {
        return Err(SourceError::UnsupportedCrs(
            "geocentric (ECEF) rasters are not supported".into(),
        ));
    }
    // GDAL stores CRSs GeoTIFF cannot encode as an ESRI WKT string in a citation.
    let pe = [key::PCS_CITATION, key::CITATION, key::GEOG_CITATION]
        .iter()
        .filter_map(|c| k.ascii(*c))
        .find_map(|s| s.find("ESRI PE String = ").map(|i| &s[i + 17..]));
    let pcs = k.short(key::PROJECTED_TYPE);
    if let Some(code) = pcs.filter(|c| (1..USER_DEFINED).contains(c)) {
        let mut crs = from_epsg(u32::from(code))?;
        override_units(&mut crs, k)?;
        return Ok(crs);
    }
    if let Some(pe) = pe {
        let crs = wkt::to_crs(pe)?;
        check(&crs)?;
        return Ok(crs);
    }
    let projected = model == Some(1) || pcs.is_some() || k.short(key::PROJ_COORD_TRANS).is_some();
    if projected {
        let crs = user_projected(k)?;
        check(&crs)?;
        return Ok(crs);
    }
    let gcs = k.short(key::GEOGRAPHIC_TYPE);
    if let Some(code) = gcs.filter(|c| (1..USER_DEFINED).contains(c)) {
        return from_epsg(u32::from(code));
    }
    if gcs == Some(USER_DEFINED) || model == Some(2) {
        let unit = angular_unit(k)?;
        if (unit - 1.0).abs() > 1e-9 {
            return Err(SourceError::UnsupportedCrs(
                "geographic coordinates in units other than degrees".into(),
            ));
        }
        let name = geog_name(k).unwrap_or_else(|| "user-defined geographic CRS".into());
        let crs = Crs {
            epsg: None,
            proj4: format!("+proj=longlat {} +no_defs", geog_part(k)?),
            name,
        };
        check(&crs)?;
        return Ok(crs);
    }
    Err(SourceError::NoCrs)
}

fn geog_name(k: &GeoKeys) -> Option<String> {
    let c = k.ascii(key::GEOG_CITATION)?;
    let name = c
        .split('|')
        .find_map(|p| p.strip_prefix("GCS Name = "))
        .unwrap_or(c);
    Some(name.trim().to_string())
}

/// Degrees per unit of the GeogAngularUnits key (projection angles are stored in it).
fn angular_unit(k: &GeoKeys) -> Result<f64, SourceError> {
    Ok(match k.short(key::GEOG_ANGULAR_UNITS) {
        None | Some(9102 | 9122) => 1.0,
        Some(9101) => 180.0 / std::f64::consts::PI,
        Some(9105 | 9106) => 0.9,
        Some(9104) => 1.0 / 3600.0,
        Some(9103) => 1.0 / 60.0,
        Some(USER_DEFINED) => match k.double(key::GEOG_ANGULAR_UNIT_SIZE) {
            Some(rad) if rad > 0.0 => rad.to_degrees(),
            _ => {
                return Err(SourceError::UnsupportedCrs(
                    "user-defined angular unit without a size".into(),
                ));
            }
        },
        Some(c) => {
            return Err(SourceError::UnsupportedCrs(format!(
                "angular unit EPSG:{c}"
            )));
        }
    })
}

/// Metres per unit for an EPSG linear unit code.
pub(super) fn linear_unit(code: u16) -> Option<f64> {
    Some(match code {
        9001 => 1.0,
        9002 => 0.3048,
        9003 => 1200.0 / 3937.0,
        9005 => 0.304_797_265_4,
        9014 => 1.8288,
        9030 => 1852.0,
        9031 => 1.000_013_596_5,
        9033 => 20.116_840_233_680_5,
        9035 | 9093 => 1609.344,
        9036 => 1000.0,
        9037 => 0.914_391_796_2,
        9040 => 0.914_398_414_616_029,
        9041 => 0.304_799_471_538_676,
        9042 => 20.116_765_121_552_6,
        9094 => 0.304_799_710_181_508_8,
        9095 => 0.304_799_333_333_333_3,
        9096 => 0.9144,
        9097 => 20.1168,
        9098 => 0.201_168,
        9099 => 0.914_398,
        9300 => 0.304_799_333_333_333_3,
        9301 => 20.116_756,
        _ => return None,
    })
}

/// Metres per projected unit (ProjLinearUnits), 1 when absent.
fn proj_linear_unit(k: &GeoKeys) -> Result<f64, SourceError> {
    match k.short(key::PROJ_LINEAR_UNITS) {
        None => Ok(1.0),
        Some(USER_DEFINED) => k
            .double(key::PROJ_LINEAR_UNIT_SIZE)
            .filter(|v| *v > 0.0)
            .ok_or_else(|| {
                SourceError::UnsupportedCrs("user-defined linear unit without a size".into())
            }),
        Some(c) => linear_unit(c)
            .ok_or_else(|| SourceError::UnsupportedCrs(format!("linear unit EPSG:{c}"))),
    }
}

fn units_token(to_meter: f64) -> String {
    if (to_meter - 1.0).abs() < 1e-12 {
        "+units=m".into()
    } else {
        format!("+to_meter={to_meter}")
    }
}

/// Metres per unit a proj4 string declares.
fn proj4_to_meter(p: &str) -> f64 {
    for t in p.split_whitespace() {
        if let Some(v) = t.strip_prefix("+to_meter=") {
            return v.parse().unwrap_or(1.0);
        }
        if let Some(u) = t.strip_prefix("+units=") {
            return match u {
                "ft" => 0.3048,
                "us-ft" => 1200.0 / 3937.0,
                "km" => 1000.0,
                _ => 1.0,
            };
        }
    }
    1.0
}

/// An EPSG CRS whose file declares other linear units (libgeotiff allows overriding them):
/// proj4's false easting stays in metres, so only the unit token changes.
fn override_units(crs: &mut Crs, k: &GeoKeys) -> Result<(), SourceError> {
    if k.short(key::PROJ_LINEAR_UNITS).is_none() {
        return Ok(());
    }
    let want = proj_linear_unit(k)?;
    if (proj4_to_meter(&crs.proj4) - want).abs() <= 1e-12 * want {
        return Ok(());
    }
    let kept: Vec<&str> = crs
        .proj4
        .split_whitespace()
        .filter(|t| !t.starts_with("+units=") && !t.starts_with("+to_meter="))
        .collect();
    crs.proj4 = format!("{} {}", kept.join(" "), units_token(want));
    crs.name = format!("{} (units overridden to {want} m)", crs.name);
    Ok(())
}

/// Datum, ellipsoid and prime meridian as proj4 tokens (no `+proj`).
fn geog_part(k: &GeoKeys) -> Result<String, SourceError> {
    let gcs = k
        .short(key::GEOGRAPHIC_TYPE)
        .filter(|c| (1..USER_DEFINED).contains(c));
    // GeoTIFF datum codes 6xxx map to geographic CRS codes 4xxx for the classic EPSG range.
    let datum_gcs = k
        .short(key::GEOG_DATUM)
        .filter(|d| (6001..7000).contains(d))
        .map(|d| d - 2000);
    if let Some(code) = gcs.or(datum_gcs) {
        let def =
            crs_definitions::from_code(code).ok_or(SourceError::UnknownEpsg(u32::from(code)))?;
        let kept: Vec<&str> = def
            .proj4
            .split_whitespace()
            .filter(|t| {
                !matches!(
                    t.split('=').next(),
                    Some("+proj" | "+no_defs" | "+type" | "+units")
                )
            })
            .collect();
        return Ok(without_grids(&kept.join(" ")));
    }
    let mut parts = Vec::new();
    let ellps = match k.short(key::GEOG_ELLIPSOID) {
        Some(7030) => Some("+ellps=WGS84"),
        Some(7019) => Some("+ellps=GRS80"),
        Some(7008) => Some("+ellps=clrk66"),
        Some(7022) => Some("+ellps=intl"),
        Some(7004) => Some("+ellps=bessel"),
        Some(7012) => Some("+ellps=clrk80"),
        Some(7001) => Some("+ellps=airy"),
        Some(7043) => Some("+ellps=WGS72"),
        Some(7024) => Some("+ellps=krass"),
        Some(7011) => Some("+a=6378249.2 +b=6356515"),
        _ => None,
    };
    if let Some(e) = ellps {
        parts.push(e.to_string());
    } else {
        let a = k.double(key::GEOG_SEMI_MAJOR).ok_or_else(|| {
            SourceError::UnsupportedCrs("user-defined ellipsoid without a semi-major axis".into())
        })?;
        // Mars, the Moon, Europa...: proj4rs would happily project them onto Earth's grid.
        if !(6_300_000.0..=6_400_000.0).contains(&a) {
            return Err(SourceError::UnsupportedCrs(format!(
                "non-Earth body (semi-major axis {a} m) cannot be placed on Web Mercator"
            )));
        }
        match (
            k.double(key::GEOG_INV_FLATTENING),
            k.double(key::GEOG_SEMI_MINOR),
        ) {
            (Some(rf), _) if rf > 0.0 => parts.push(format!("+a={a} +rf={rf}")),
            (_, Some(b)) if b > 0.0 => parts.push(format!("+a={a} +b={b}")),
            _ => parts.push(format!("+a={a} +b={a}")),
        }
    }
    if let Some(t) = k
        .doubles(key::GEOG_TOWGS84)
        .filter(|t| t.len() == 3 || t.len() == 7)
    {
        let s: Vec<String> = t.iter().map(|v| v.to_string()).collect();
        parts.push(format!("+towgs84={}", s.join(",")));
    }
    let pm = match (
        k.double(key::GEOG_PRIME_MERIDIAN_LONG),
        k.short(key::GEOG_PRIME_MERIDIAN),
    ) {
        (Some(v), _) => v * angular_unit(k)?,
        (None, Some(8903)) => 2.337_229_166_666_667,
        (None, Some(8901) | None) => 0.0,
        (None, Some(c)) => {
            return Err(SourceError::UnsupportedCrs(format!(
                "prime meridian EPSG:{c}"
            )));
        }
    };
    if pm != 0.0 {
        parts.push(format!("+pm={pm}"));
    }
    Ok(parts.join(" "))
}

/// A user-defined projected CRS from ProjCoordTrans and its parameters.
fn user_projected(k: &GeoKeys) -> Result<Crs, SourceError> {
    let deg = angular_unit(k)?;
    let to_m = proj_linear_unit(k)?;
    let ang = |id: u16| k.double(id).map(|v| v * deg);
    let first = |ids: &[u16]| ids.iter().find_map(|id| ang(*id));
    let lin = |ids: &[u16]| ids.iter().find_map(|id| k.double(*id)).unwrap_or(0.0) * to_m;
    let lon0 = first(&[
        key::NAT_ORIGIN_LONG,
        key::FALSE_ORIGIN_LONG,
        key::CENTER_LONG,
    ])
    .unwrap_or(0.0);
    let lat0 = first(&[key::NAT_ORIGIN_LAT, key::FALSE_ORIGIN_LAT, key::CENTER_LAT]).unwrap_or(0.0);
    let clon = first(&[
        key::CENTER_LONG,
        key::NAT_ORIGIN_LONG,
        key::FALSE_ORIGIN_LONG,
    ])
    .unwrap_or(0.0);
    let clat = first(&[key::CENTER_LAT, key::NAT_ORIGIN_LAT, key::FALSE_ORIGIN_LAT]).unwrap_or(0.0);
    let k0 = k
        .double(key::SCALE_AT_NAT_ORIGIN)
        .or(k.double(key::SCALE_AT_CENTER))
        .filter(|v| *v > 0.0)
        .unwrap_or(1.0);
    let sp1 = ang(key::STD_PARALLEL1);
    let sp2 = ang(key::STD_PARALLEL2);
    let x0 = lin(&[
        key::FALSE_EASTING,
        key::FALSE_ORIGIN_EASTING,
        key::CENTER_EASTING,
    ]);
    let y0 = lin(&[
        key::FALSE_NORTHING,
        key::FALSE_ORIGIN_NORTHING,
        key::CENTER_NORTHING,
    ]);
    let ct = k.short(key::PROJ_COORD_TRANS);
    let proj = match (ct, k.short(key::PROJECTION)) {
        // ProjectionGeoKey UTM zones (EPSG conversion codes 16001..16060 north, 16101..16160 south).
        (None, Some(c @ 16001..=16060)) => format!("+proj=utm +zone={}", c - 16000),
        (None, Some(c @ 16101..=16160)) => format!("+proj=utm +zone={} +south", c - 16100),
        (Some(1), _) => {
            format!("+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k={k0} +x_0={x0} +y_0={y0}")
        }
        (Some(7), _) => match sp1 {
            Some(ts) => format!("+proj=merc +lat_ts={ts} +lon_0={lon0} +x_0={x0} +y_0={y0}"),
            None => format!("+proj=merc +lon_0={lon0} +k={k0} +x_0={x0} +y_0={y0}"),
        },
        (Some(8), _) => {
            let (p1, p2) = (sp1.unwrap_or(lat0), sp2.or(sp1).unwrap_or(lat0));
            format!(
                "+proj=lcc +lat_1={p1} +lat_2={p2} +lat_0={lat0} +lon_0={lon0} +x_0={x0} +y_0={y0}"
            )
        }
        (Some(9), _) => format!(
            "+proj=lcc +lat_1={lat0} +lat_0={lat0} +lon_0={lon0} +k_0={k0} +x_0={x0} +y_0={y0}"
        ),
        (Some(10), _) => format!("+proj=laea +lat_0={clat} +lon_0={clon} +x_0={x0} +y_0={y0}"),
        (Some(11), _) => {
            let (p1, p2) = (sp1.unwrap_or(lat0), sp2.or(sp1).unwrap_or(lat0));
            format!(
                "+proj=aea +lat_1={p1} +lat_2={p2} +lat_0={lat0} +lon_0={lon0} +x_0={x0} +y_0={y0}"
            )
        }
        (Some(14), _) => {
            format!("+proj=stere +lat_0={clat} +lon_0={clon} +k={k0} +x_0={x0} +y_0={y0}")
        }
        (Some(15), _) => {
            let lon = ang(key::STRAIGHT_VERT_POLE_LONG).unwrap_or(lon0);
            let pole = if lat0 < 0.0 { -90.0 } else { 90.0 };
            if (lat0.abs() - 90.0).abs() < 1e-9 {
                // Variant A: scale at the pole. proj4rs needs lat_ts at the pole to use k.
                format!(
                    "+proj=stere +lat_0={pole} +lat_ts={pole} +lon_0={lon} +k={k0} +x_0={x0} +y_0={y0}"
                )
            } else {
                // Variant B: the latitude key holds the standard parallel.
                format!("+proj=stere +lat_0={pole} +lat_ts={lat0} +lon_0={lon} +x_0={x0} +y_0={y0}")
            }
        }
        (Some(16), _) => {
            format!("+proj=sterea +lat_0={lat0} +lon_0={lon0} +k={k0} +x_0={x0} +y_0={y0}")
        }
        (Some(17), _) => {
            let ts = sp1.unwrap_or(0.0);
            format!("+proj=eqc +lat_ts={ts} +lat_0={clat} +lon_0={clon} +x_0={x0} +y_0={y0}")
        }
        (Some(18), _) => format!("+proj=cass +lat_0={lat0} +lon_0={lon0} +x_0={x0} +y_0={y0}"),
        (Some(20), _) => format!("+proj=mill +lat_0={clat} +lon_0={clon} +x_0={x0} +y_0={y0}"),
        (Some(22), _) => format!("+proj=poly +lat_0={lat0} +lon_0={lon0} +x_0={x0} +y_0={y0}"),
        (Some(23), _) => format!("+proj=robin +lon_0={clon} +x_0={x0} +y_0={y0}"),
        (Some(24), _) => format!("+proj=sinu +lon_0={clon} +x_0={x0} +y_0={y0}"),
        (Some(28), _) => format!(
            "+proj=cea +lat_ts={} +lon_0={lon0} +x_0={x0} +y_0={y0}",
            sp1.unwrap_or(0.0)
        ),
        (Some(c), _) => {
            return Err(SourceError::UnsupportedCrs(format!(
                "projection method {} (GeoTIFF coordinate transformation {c}) is not supported",
                ct_name(c)
            )));
        }
        (None, p) => {
            return Err(SourceError::UnsupportedCrs(match p {
                Some(p) if p != USER_DEFINED => format!("projection EPSG:{p} without parameters"),
                _ => "projected CRS without a projection method".into(),
            }));
        }
    };
    let name = k
        .ascii(key::PCS_CITATION)
        .or(k.ascii(key::CITATION))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "unnamed")
        .unwrap_or_else(|| match proj.strip_prefix("+proj=utm +zone=") {
            Some(z) if z.ends_with("+south") => {
                format!("UTM zone {}S", z.trim_end_matches(" +south"))
            }
            Some(z) => format!("UTM zone {z}N"),
            None => format!(
                "user-defined {}",
                proj.split_whitespace().next().unwrap_or("")
            ),
        });
    Ok(Crs {
        epsg: None,
        proj4: format!("{proj} {} {} +no_defs", geog_part(k)?, units_token(to_m)),
        name,
    })
}

fn ct_name(c: u16) -> &'static str {
    match c {
        2 => "Alaska modified transverse Mercator",
        3..=6 => "oblique Mercator",
        12 => "azimuthal equidistant",
        13 => "equidistant conic",
        19 => "gnomonic",
        21 => "orthographic",
        25 => "Van der Grinten",
        26 => "New Zealand Map Grid",
        27 => "south-oriented transverse Mercator",
        _ => "unknown",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::super::geokeys::GeoValue;
    use super::*;

    fn keys(v: &[(u16, GeoValue)]) -> GeoKeys {
        GeoKeys(v.iter().cloned().collect())
    }

    #[test]
    fn epsg_and_unknown() {
        for code in [
            4326, 4269, 3857, 32618, 32750, 26711, 3413, 3031, 3035, 2283, 2193, 3086,
        ] {
            assert!(from_epsg(code).is_ok(), "EPSG:{code}");
        }
        assert!(matches!(
            from_epsg(12345),
            Err(SourceError::UnknownEpsg(12345))
        ));
    }

    #[test]
    fn grads_lcc_matches_epsg_27563() {
        use GeoValue::*;
        let k = keys(&[
            (key::MODEL_TYPE, Short(1)),
            (key::GEOGRAPHIC_TYPE, Short(4807)),
            (key::GEOG_ANGULAR_UNITS, Short(9105)),
            (key::PROJECTED_TYPE, Short(USER_DEFINED)),
            (key::PROJ_COORD_TRANS, Short(9)),
            (key::NAT_ORIGIN_LAT, Doubles(vec![49.0])),
            (key::NAT_ORIGIN_LONG, Doubles(vec![0.0])),
            (key::FALSE_EASTING, Doubles(vec![600000.0])),
            (key::FALSE_NORTHING, Doubles(vec![200000.0])),
            (key::SCALE_AT_NAT_ORIGIN, Doubles(vec![0.999877499])),
        ]);
        let crs = from_geokeys(&k).unwrap_or_else(|e| Crs {
            epsg: None,
            proj4: e.to_string(),
            name: String::new(),
        });
        assert!(crs.proj4.contains("+lat_0=44.1"), "{}", crs.proj4);
        assert!(crs.proj4.contains("+pm=paris"), "{}", crs.proj4);
    }
}
