//! Where a source lands on Web Mercator: its bounding box (split at the antimeridian when it
//! crosses it) and its native resolution.

use tilefn_raster::Bounds;
use tilefn_raster::mercator::{self, MAX_LATITUDE};

use super::SourceInfo;
use super::error::SourceError;
use super::transform::ToLonLat;

/// Points per edge; GDAL's transform_bounds uses 21.
const EDGE_POINTS: usize = 64;
/// Interior grid side: catches sources whose edges do not map to the Earth at all (a
/// geostationary full disk has every corner in space).
const GRID: usize = 21;

/// Pixel positions to sample: the image outline plus an interior grid.
fn sample_pixels(w: f64, h: f64) -> (Vec<f64>, Vec<f64>) {
    let (mut cols, mut rows) = (Vec::new(), Vec::new());
    for i in 0..=EDGE_POINTS {
        let t = i as f64 / EDGE_POINTS as f64;
        for (c, r) in [(t * w, 0.0), (t * w, h), (0.0, t * h), (w, t * h)] {
            cols.push(c);
            rows.push(r);
        }
    }
    for j in 0..GRID {
        for i in 0..GRID {
            cols.push((i as f64 + 0.5) / GRID as f64 * w);
            rows.push((j as f64 + 0.5) / GRID as f64 * h);
        }
    }
    (cols, rows)
}

/// Pixel positions → WGS84 lon/lat degrees (NaN where the projection has no answer).
fn to_lonlat(
    info: &SourceInfo,
    t: &ToLonLat,
    cols: &[f64],
    rows: &[f64],
) -> Result<(Vec<f64>, Vec<f64>), SourceError> {
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = cols
        .iter()
        .zip(rows)
        .map(|(c, r)| info.geo.apply(*c, *r))
        .unzip();
    t.transform(&mut xs, &mut ys)?;
    Ok((xs, ys))
}

/// The source's Web Mercator bounding boxes: one, or two when it crosses the antimeridian
/// (east part first).
pub(super) fn parts(info: &SourceInfo) -> Result<Vec<Bounds>, SourceError> {
    let (w, h) = (f64::from(info.width), f64::from(info.height));
    if info.crs.is_web_mercator() {
        // Exact corners: a round trip through lon/lat would nudge tile-aligned edges.
        let c = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)].map(|(c, r)| info.geo.apply(c, r));
        let (xs, ys) = (c.map(|p| p.0), c.map(|p| p.1));
        let lim = mercator::ORIGIN_SHIFT;
        let b = Bounds::new(
            xs.iter().copied().fold(f64::INFINITY, f64::min),
            ys.iter().copied().fold(f64::INFINITY, f64::min).max(-lim),
            xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ys.iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max)
                .min(lim),
        );
        return if b.is_empty() {
            Err(SourceError::OutsideWebMercator)
        } else {
            Ok(vec![b])
        };
    }
    let t = ToLonLat::new(&info.crs)?;
    let (cols, rows) = sample_pixels(w, h);
    let (lons, lats) = to_lonlat(info, &t, &cols, &rows)?;
    let ok: Vec<(f64, f64)> = lons
        .iter()
        .zip(&lats)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (*x, *y))
        .collect();
    if ok.is_empty() {
        return Err(SourceError::OutsideWebMercator);
    }
    let mut lat_min = ok.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut lat_max = ok.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    // A pole inside the image: the outline never reaches it, but the data covers every
    // longitude up to it.
    let inv = info.geo.invert();
    let mut pole = false;
    for lat in [90.0, -90.0] {
        let (mut x, mut y) = (vec![0.0], vec![lat]);
        if t.lonlat_to_source(&mut x, &mut y).is_ok()
            && let Some((c, r)) = inv.map(|g| g.apply(x[0], y[0]))
            && (0.0..=w).contains(&c)
            && (0.0..=h).contains(&r)
        {
            pole = true;
            lat_min = lat_min.min(lat);
            lat_max = lat_max.max(lat);
        }
    }
    if lat_max < -MAX_LATITUDE || lat_min > MAX_LATITUDE {
        return Err(SourceError::OutsideWebMercator);
    }
    let (lat_min, lat_max) = (lat_min.max(-MAX_LATITUDE), lat_max.min(MAX_LATITUDE));
    // Longitudes past ±180° (a 0..360° grid) wrap; ±180 itself stays put so a whole-world
    // raster keeps both edges.
    let wrap = |l: f64| {
        if l.abs() > 180.0 {
            (l + 180.0).rem_euclid(360.0) - 180.0
        } else {
            l
        }
    };
    let mut sorted: Vec<f64> = ok.iter().map(|p| wrap(p.0)).collect();
    sorted.sort_by(f64::total_cmp);
    let (first, last) = (sorted[0], sorted[sorted.len() - 1]);
    let (gap, at) = sorted
        .windows(2)
        .enumerate()
        .map(|(i, p)| (p[1] - p[0], i))
        .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
    let to_bounds = |lo: f64, hi: f64| {
        let (x0, y0) = mercator::lonlat_to_mercator(lo, lat_min);
        let (x1, y1) = mercator::lonlat_to_mercator(hi, lat_max);
        Bounds::new(x0, y0, x1, y1)
    };
    // Longitudes on both sides of a gap wider than a hemisphere: the data wraps around the
    // antimeridian rather than spanning the whole world.
    if !pole && gap > 180.0 {
        let (east, west) = (sorted[at + 1], sorted[at]);
        return Ok(vec![to_bounds(east, 180.0), to_bounds(-180.0, west)]);
    }
    if pole {
        return Ok(vec![to_bounds(-180.0, 180.0)]);
    }
    Ok(vec![to_bounds(first, last)])
}

/// Metres per pixel (Web Mercator units) at the image centre: the square root of one
/// pixel's area there. NaN when no pixel near the centre maps to the Earth.
pub(super) fn native_resolution(info: &SourceInfo) -> f64 {
    if info.crs.is_web_mercator() {
        let g = info.geo.coeffs();
        return (g[1] * g[5] - g[2] * g[4]).abs().sqrt();
    }
    let Ok(t) = ToLonLat::new(&info.crs) else {
        return f64::NAN;
    };
    let (w, h) = (f64::from(info.width), f64::from(info.height));
    // The centre first, then points spiralling out, in case the centre is off the Earth.
    let mut centres = vec![(w / 2.0, h / 2.0)];
    for k in 1..GRID {
        let f = k as f64 / GRID as f64 / 2.0;
        centres.extend([
            (w * (0.5 + f), h / 2.0),
            (w * (0.5 - f), h / 2.0),
            (w / 2.0, h * (0.5 + f)),
            (w / 2.0, h * (0.5 - f)),
        ]);
    }
    for (c, r) in centres {
        let (cols, rows) = ([c, c + 1.0, c], [r, r, r + 1.0]);
        let Ok((lons, lats)) = to_lonlat(info, &t, &cols, &rows) else {
            continue;
        };
        let p: Vec<(f64, f64)> = lons
            .iter()
            .zip(&lats)
            .map(|(x, y)| mercator::lonlat_to_mercator(*x, *y))
            .collect();
        let (ax, ay, bx, by) = (
            p[1].0 - p[0].0,
            p[1].1 - p[0].1,
            p[2].0 - p[0].0,
            p[2].1 - p[0].1,
        );
        let area = (ax * by - ay * bx).abs();
        if area.is_finite() && area > 0.0 {
            return area.sqrt();
        }
    }
    f64::NAN
}
