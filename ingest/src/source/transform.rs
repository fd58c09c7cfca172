//! Coordinate transforms between Web Mercator (and WGS84 lon/lat) and a source CRS.
//!
//! Web Mercator's inverse is closed-form, so we do it ourselves and let proj4rs go from WGS84
//! lon/lat to the source CRS: that keeps the datum shift (towgs84) proj4rs applies, and avoids
//! the `+nadgrids=@null` trick EPSG:3857's proj4 definition relies on.

use proj4rs::Proj;
use proj4rs::errors::Result as ProjResult;
use proj4rs::transform::{Transform, TransformClosure, transform};
use tilefn_raster::mercator;

use super::crs::Crs;
use super::error::SourceError;

const WGS84: &str = "+proj=longlat +datum=WGS84 +no_defs";

/// Parallel coordinate slices as a proj4rs point collection. A point that fails to
/// transform becomes NaN instead of aborting the batch.
struct Points<'a> {
    xs: &'a mut [f64],
    ys: &'a mut [f64],
}

impl Transform for Points<'_> {
    fn transform_coordinates<F: TransformClosure>(&mut self, f: &mut F) -> ProjResult<()> {
        for (x, y) in self.xs.iter_mut().zip(self.ys.iter_mut()) {
            if !(x.is_finite() && y.is_finite()) {
                (*x, *y) = (f64::NAN, f64::NAN);
                continue;
            }
            match f(*x, *y, 0.0) {
                Ok((a, b, _)) if a.is_finite() && b.is_finite() => (*x, *y) = (a, b),
                _ => (*x, *y) = (f64::NAN, f64::NAN),
            }
        }
        Ok(())
    }
}

fn proj(crs: &Crs) -> Result<Proj, SourceError> {
    Proj::from_proj_string(&crs.proj4)
        .map_err(|e| SourceError::UnsupportedCrs(format!("{}: {e}", crs.name)))
}

fn wgs84() -> Result<Proj, SourceError> {
    Proj::from_proj_string(WGS84).map_err(|e| SourceError::UnsupportedCrs(format!("WGS84: {e}")))
}

#[derive(Debug)]
enum Kind {
    /// The source is Web Mercator itself.
    Identity,
    Proj {
        lonlat: Box<Proj>,
        source: Box<Proj>,
        source_is_latlong: bool,
    },
}

/// EPSG:3857 metres → source CRS coordinates. `Send + Sync`; share one per ingest.
#[derive(Debug)]
pub struct Transformer {
    kind: Kind,
    /// For geographic sources: longitudes come out within ±180° of this (so a 0..360°
    /// raster is reachable east of the antimeridian).
    lon_centre: f64,
}

impl Transformer {
    pub fn to_source(crs: &Crs) -> Result<Transformer, SourceError> {
        if crs.is_web_mercator() {
            return Ok(Transformer {
                kind: Kind::Identity,
                lon_centre: 0.0,
            });
        }
        let source = proj(crs)?;
        let source_is_latlong = source.is_latlong();
        Ok(Transformer {
            kind: Kind::Proj {
                lonlat: Box::new(wgs84()?),
                source: Box::new(source),
                source_is_latlong,
            },
            lon_centre: 0.0,
        })
    }

    /// Wraps output longitudes of a geographic source to within ±180° of `lon` (use the
    /// raster's centre longitude; `Source::transformer` does).
    #[allow(dead_code)] // via Source::transformer
    pub fn with_longitude_centre(mut self, lon: f64) -> Transformer {
        if lon.is_finite() {
            self.lon_centre = lon;
        }
        self
    }

    /// Transforms in place; points that cannot be transformed become NaN.
    pub fn transform(&self, xs: &mut [f64], ys: &mut [f64]) -> Result<(), SourceError> {
        let Kind::Proj {
            lonlat,
            source,
            source_is_latlong,
        } = &self.kind
        else {
            return Ok(());
        };
        for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
            let (lon, lat) = mercator::mercator_to_lonlat(*x, *y);
            (*x, *y) = (lon.to_radians(), lat.to_radians());
        }
        let mut pts = Points { xs, ys };
        transform(lonlat, source, &mut pts)
            .map_err(|e| SourceError::UnsupportedCrs(e.to_string()))?;
        if *source_is_latlong {
            let c = self.lon_centre;
            for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
                let lon = x.to_degrees();
                let lon = if (lon - c).abs() > 180.0 {
                    (lon - c + 180.0).rem_euclid(360.0) + c - 180.0
                } else {
                    lon
                };
                (*x, *y) = (lon, y.to_degrees());
            }
        }
        Ok(())
    }
}

/// Source CRS coordinates → WGS84 lon/lat degrees (for footprints).
pub(super) struct ToLonLat {
    source: Proj,
    lonlat: Proj,
}

impl ToLonLat {
    pub fn new(crs: &Crs) -> Result<ToLonLat, SourceError> {
        Ok(ToLonLat {
            source: proj(crs)?,
            lonlat: wgs84()?,
        })
    }

    pub fn transform(&self, xs: &mut [f64], ys: &mut [f64]) -> Result<(), SourceError> {
        if self.source.is_latlong() {
            for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
                (*x, *y) = (x.to_radians(), y.to_radians());
            }
        }
        let mut pts = Points { xs, ys };
        transform(&self.source, &self.lonlat, &mut pts)
            .map_err(|e| SourceError::UnsupportedCrs(e.to_string()))?;
        for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
            (*x, *y) = (x.to_degrees(), y.to_degrees());
        }
        Ok(())
    }

    /// The inverse: WGS84 lon/lat degrees → source CRS coordinates.
    pub fn lonlat_to_source(&self, xs: &mut [f64], ys: &mut [f64]) -> Result<(), SourceError> {
        for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
            (*x, *y) = (x.to_radians(), y.to_radians());
        }
        let mut pts = Points { xs, ys };
        transform(&self.lonlat, &self.source, &mut pts)
            .map_err(|e| SourceError::UnsupportedCrs(e.to_string()))?;
        if self.source.is_latlong() {
            for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
                (*x, *y) = (x.to_degrees(), y.to_degrees());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::super::crs::from_epsg;
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn utm_round_trip_and_nad27() {
        send_sync::<Transformer>();
        for (code, e, n) in [
            (32618, 500_000.0, 4_649_776.0),
            (26711, 440_720.0, 3_751_320.0),
        ] {
            let crs = from_epsg(code).unwrap_or_else(|e| panic!("{e}"));
            let (mut x, mut y) = (vec![e], vec![n]);
            ToLonLat::new(&crs)
                .and_then(|t| t.transform(&mut x, &mut y))
                .unwrap_or_else(|e| panic!("{e}"));
            let (mx, my) = mercator::lonlat_to_mercator(x[0], y[0]);
            let (mut bx, mut by) = (vec![mx], vec![my]);
            Transformer::to_source(&crs)
                .and_then(|t| t.transform(&mut bx, &mut by))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                (bx[0] - e).abs() < 1e-3 && (by[0] - n).abs() < 1e-3,
                "{code}: {bx:?} {by:?}"
            );
        }
        // Bad input becomes NaN, not an error.
        let t = Transformer::to_source(&from_epsg(32618).unwrap_or_else(|e| panic!("{e}")));
        let (mut x, mut y) = (vec![f64::NAN, 0.0], vec![0.0, 0.0]);
        t.and_then(|t| t.transform(&mut x, &mut y))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(x[0].is_nan() && x[1].is_finite());
    }

    #[test]
    fn geographic_longitudes_wrap_around_the_raster_centre() {
        let t = Transformer::to_source(&from_epsg(4326).unwrap())
            .unwrap()
            .with_longitude_centre(180.0);
        let (x, y) = mercator::lonlat_to_mercator(-170.0, 10.0);
        let (mut xs, mut ys) = (vec![x], vec![y]);
        t.transform(&mut xs, &mut ys).unwrap();
        assert!(
            (xs[0] - 190.0).abs() < 1e-9 && (ys[0] - 10.0).abs() < 1e-9,
            "{xs:?} {ys:?}"
        );
    }
}
