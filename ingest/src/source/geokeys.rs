//! GeoTIFF georeferencing tags: the GeoKey directory and the raster-to-model transform.

use std::collections::BTreeMap;

use super::error::SourceError;

/// One GeoKey value: a SHORT held inline, DOUBLEs from GeoDoubleParams, or ASCII from
/// GeoAsciiParams.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum GeoValue {
    Short(u16),
    Doubles(Vec<f64>),
    Ascii(String),
}

/// The GeoKeys of a file, by key id.
#[derive(Debug, Clone, Default)]
pub(super) struct GeoKeys(pub BTreeMap<u16, GeoValue>);

/// GeoKey ids (GeoTIFF 1.0 §6.2 / OGC GeoTIFF 1.1).
pub(super) mod key {
    pub const MODEL_TYPE: u16 = 1024;
    pub const RASTER_TYPE: u16 = 1025;
    pub const CITATION: u16 = 1026;
    pub const GEOGRAPHIC_TYPE: u16 = 2048;
    pub const GEOG_CITATION: u16 = 2049;
    pub const GEOG_DATUM: u16 = 2050;
    pub const GEOG_PRIME_MERIDIAN: u16 = 2051;
    pub const GEOG_ANGULAR_UNITS: u16 = 2054;
    pub const GEOG_ANGULAR_UNIT_SIZE: u16 = 2055;
    pub const GEOG_ELLIPSOID: u16 = 2056;
    pub const GEOG_SEMI_MAJOR: u16 = 2057;
    pub const GEOG_SEMI_MINOR: u16 = 2058;
    pub const GEOG_INV_FLATTENING: u16 = 2059;
    pub const GEOG_PRIME_MERIDIAN_LONG: u16 = 2061;
    pub const GEOG_TOWGS84: u16 = 2062;
    pub const PROJECTED_TYPE: u16 = 3072;
    pub const PCS_CITATION: u16 = 3073;
    pub const PROJECTION: u16 = 3074;
    pub const PROJ_COORD_TRANS: u16 = 3075;
    pub const PROJ_LINEAR_UNITS: u16 = 3076;
    pub const PROJ_LINEAR_UNIT_SIZE: u16 = 3077;
    pub const STD_PARALLEL1: u16 = 3078;
    pub const STD_PARALLEL2: u16 = 3079;
    pub const NAT_ORIGIN_LONG: u16 = 3080;
    pub const NAT_ORIGIN_LAT: u16 = 3081;
    pub const FALSE_EASTING: u16 = 3082;
    pub const FALSE_NORTHING: u16 = 3083;
    pub const FALSE_ORIGIN_LONG: u16 = 3084;
    pub const FALSE_ORIGIN_LAT: u16 = 3085;
    pub const FALSE_ORIGIN_EASTING: u16 = 3086;
    pub const FALSE_ORIGIN_NORTHING: u16 = 3087;
    pub const CENTER_LONG: u16 = 3088;
    pub const CENTER_LAT: u16 = 3089;
    pub const CENTER_EASTING: u16 = 3090;
    pub const CENTER_NORTHING: u16 = 3091;
    pub const SCALE_AT_NAT_ORIGIN: u16 = 3092;
    pub const SCALE_AT_CENTER: u16 = 3093;
    pub const STRAIGHT_VERT_POLE_LONG: u16 = 3095;
}

/// "User-defined" in every GeoKey code space.
pub(super) const USER_DEFINED: u16 = 32767;

impl GeoKeys {
    /// Parses the GeoKeyDirectory (`dir`, SHORTs) against the double and ASCII parameter
    /// tags. Malformed entries are skipped rather than failing the file: GDAL is lenient here
    /// and a bad citation should not stop an ingest.
    pub fn parse(dir: &[u16], doubles: &[f64], ascii: &str) -> GeoKeys {
        let mut keys = BTreeMap::new();
        let Some(&count) = dir.get(3) else {
            return GeoKeys(keys);
        };
        for i in 0..usize::from(count) {
            let Some(e) = dir.get(4 + i * 4..8 + i * 4) else {
                break;
            };
            let (id, loc, n, off) = (e[0], e[1], usize::from(e[2]), usize::from(e[3]));
            let v = match loc {
                0 => GeoValue::Short(e[3]),
                34736 => match doubles.get(off..off + n) {
                    Some(d) => GeoValue::Doubles(d.to_vec()),
                    None => continue,
                },
                34737 => {
                    let b = ascii.as_bytes();
                    let s = b.get(off..(off + n).min(b.len())).unwrap_or_default();
                    // Each ASCII key ends with '|' in the parameter tag.
                    GeoValue::Ascii(
                        String::from_utf8_lossy(s)
                            .trim_end_matches(['|', '\0'])
                            .to_string(),
                    )
                }
                // A SHORT array stored back in the directory itself (rare, e.g. vertical keys).
                34735 => match dir.get(off) {
                    Some(v) => GeoValue::Short(*v),
                    None => continue,
                },
                _ => continue,
            };
            keys.insert(id, v);
        }
        GeoKeys(keys)
    }

    pub fn short(&self, k: u16) -> Option<u16> {
        match self.0.get(&k) {
            Some(GeoValue::Short(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn double(&self, k: u16) -> Option<f64> {
        match self.0.get(&k) {
            Some(GeoValue::Doubles(v)) => v.first().copied().filter(|x| x.is_finite()),
            _ => None,
        }
    }

    pub fn doubles(&self, k: u16) -> Option<&[f64]> {
        match self.0.get(&k) {
            Some(GeoValue::Doubles(v)) => Some(v),
            _ => None,
        }
    }

    pub fn ascii(&self, k: u16) -> Option<&str> {
        match self.0.get(&k) {
            Some(GeoValue::Ascii(v)) => Some(v),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when the raster's pixel values sample points rather than cover areas.
    pub fn pixel_is_point(&self) -> bool {
        self.short(key::RASTER_TYPE) == Some(2)
    }
}

/// An affine pixel-to-CRS transform in GDAL order: `x = a0 + col*a1 + row*a2`,
/// `y = a3 + col*a4 + row*a5`, with (col, row) = (0, 0) the top-left corner of the top-left
/// pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoTransform(pub [f64; 6]);

impl GeoTransform {
    pub fn coeffs(&self) -> [f64; 6] {
        self.0
    }

    /// Pixel (col, row) → CRS coordinates.
    pub fn apply(&self, col: f64, row: f64) -> (f64, f64) {
        let g = &self.0;
        (
            g[0] + col * g[1] + row * g[2],
            g[3] + col * g[4] + row * g[5],
        )
    }

    /// The inverse transform, `None` when degenerate.
    pub fn invert(&self) -> Option<GeoTransform> {
        let g = &self.0;
        let det = g[1] * g[5] - g[2] * g[4];
        if !(det.is_finite() && det != 0.0) {
            return None;
        }
        let (i1, i2, i4, i5) = (g[5] / det, -g[2] / det, -g[4] / det, g[1] / det);
        Some(GeoTransform([
            -g[0] * i1 - g[3] * i2,
            i1,
            i2,
            -g[0] * i4 - g[3] * i5,
            i4,
            i5,
        ]))
    }

    /// The affine from GeoTIFF tags: ModelTransformation (16 doubles), else one tiepoint plus
    /// ModelPixelScale. Several tiepoints without a pixel scale are ground control points.
    pub fn from_tags(
        transformation: Option<&[f64]>,
        tiepoints: Option<&[f64]>,
        scale: Option<&[f64]>,
        pixel_is_point: bool,
    ) -> Result<GeoTransform, SourceError> {
        let mut g = if let Some(m) = transformation.filter(|m| m.len() >= 16) {
            [m[3], m[0], m[1], m[7], m[4], m[5]]
        } else if let (Some(t), Some(s)) = (
            tiepoints.filter(|t| t.len() >= 6),
            scale.filter(|s| s.len() >= 2),
        ) {
            let (i, j, x, y) = (t[0], t[1], t[3], t[4]);
            [x - i * s[0], s[0], 0.0, y + j * s[1], 0.0, -s[1]]
        } else if tiepoints.is_some_and(|t| t.len() >= 6) {
            return Err(SourceError::Unsupported(
                "GCP-only georeferencing is not supported (warp the file first, e.g. gdalwarp -t_srs EPSG:3857)"
                    .into(),
            ));
        } else {
            return Err(SourceError::NoGeoreference);
        };
        if pixel_is_point {
            // Pixel centres sit on the model coordinates; move the origin to the pixel corner
            // as GDAL does (unless GTIFF_POINT_GEO_IGNORE).
            g[0] -= 0.5 * g[1] + 0.5 * g[2];
            g[3] -= 0.5 * g[4] + 0.5 * g[5];
        }
        let gt = GeoTransform(g);
        if g.iter().any(|v| !v.is_finite()) || gt.invert().is_none() {
            return Err(SourceError::NoGeoreference);
        }
        Ok(gt)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_transform() {
        let dir = [
            1, 1, 0, 3, 1024, 0, 1, 1, 3072, 0, 1, 32618, 1026, 34737, 6, 0,
        ];
        let k = GeoKeys::parse(&dir, &[], "UTM18|");
        assert_eq!(k.short(key::PROJECTED_TYPE), Some(32618));
        assert_eq!(k.ascii(key::CITATION), Some("UTM18"));
        let g = GeoTransform::from_tags(
            None,
            Some(&[0.0, 0.0, 0.0, 100.0, 200.0, 0.0]),
            Some(&[2.0, 3.0, 0.0]),
            false,
        );
        let g = g.unwrap_or(GeoTransform([0.0; 6]));
        assert_eq!(g.0, [100.0, 2.0, 0.0, 200.0, 0.0, -3.0]);
        let inv = g.invert().unwrap_or(GeoTransform([0.0; 6]));
        let (x, y) = g.apply(5.0, 7.0);
        let (c, r) = inv.apply(x, y);
        assert!((c - 5.0).abs() < 1e-9 && (r - 7.0).abs() < 1e-9);
    }
}
