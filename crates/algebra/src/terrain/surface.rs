//! What slope, aspect and hillshade make of a cell's gradient, with gdaldem's formulas,
//! conventions and rounding. They see rise over run only: windows, nodata and pixel sizes
//! are the caller's.

/// What an operation makes of a cell's gradient: `east` is the fall towards the east
/// (west minus east) and `north` the fall towards the north (south minus north), float32
/// differences of elevations that `scale` turns into rise over run. NaN means no value.
pub(super) trait Surface: Copy {
    fn at(self, east: f32, north: f32, scale: f64) -> f64;
}

/// Rise over run in f64, as gdaldem takes it for slope and aspect: the float32 difference
/// times a double scale.
#[inline(always)]
fn rise_over_run(east: f32, north: f32, scale: f64) -> (f64, f64) {
    (f64::from(east) * scale, f64::from(north) * scale)
}

/// Degrees from horizontal.
#[derive(Clone, Copy)]
pub(super) struct Slope;

impl Surface for Slope {
    #[inline(always)]
    fn at(self, east: f32, north: f32, scale: f64) -> f64 {
        let (east, north) = rise_over_run(east, north, scale);
        (east * east + north * north).sqrt().atan().to_degrees()
    }
}

/// Degrees clockwise from north of the direction the slope faces; NaN where it is flat.
#[derive(Clone, Copy)]
pub(super) struct Aspect;

impl Surface for Aspect {
    #[inline(always)]
    fn at(self, east: f32, north: f32, scale: f64) -> f64 {
        let (east, north) = rise_over_run(east, north, scale);
        if east == 0.0 && north == 0.0 {
            // gdaldem writes nodata here unless `-zero_for_flat`.
            return f64::NAN;
        }
        // Counter-clockwise from east, -180..180, turned into an azimuth 0..360 the way
        // gdaldem does it, so that the two agree on which side of 0/360 a value falls.
        let trigonometric = north.atan2(east).to_degrees();
        let azimuth = if trigonometric > 90.0 {
            450.0 - trigonometric
        } else {
            90.0 - trigonometric
        };
        if azimuth >= 360.0 { 0.0 } else { azimuth }
    }
}

/// gdaldem's default hillshade: 254 × the cosine of the angle between the light and the
/// surface's normal, plus 1, as a byte (0 is left to nodata).
///
/// In float32: twice the lanes of f64, and float32 square roots and divisions cost a
/// fraction of double ones (the kernel's hillshade pass took 98 of a hillshade tile's
/// 790 us in f64). The shade carries a relative error of a few 1e-7, as gdaldem's own
/// does (it divides by SSE's approximate reciprocal square root after one Newton step), so
/// a byte can differ from gdaldem's by one where its value lies within ~1e-4 of a rounding
/// boundary.
#[derive(Clone, Copy)]
pub(super) struct Hillshade {
    /// 254 sin(altitude): the shade of flat ground.
    flat: f32,
    /// 254 cos(altitude) sin(azimuth): how much a fall towards the east adds.
    east: f32,
    /// 254 cos(altitude) cos(azimuth): how much a fall towards the north adds.
    north: f32,
}

impl Hillshade {
    pub(super) fn new(azimuth: f64, altitude: f64) -> Hillshade {
        let (azimuth, altitude) = (azimuth.to_radians(), altitude.to_radians());
        // The narrowing is the point: the shade is computed in float32.
        Hillshade {
            flat: (254.0 * altitude.sin()) as f32,
            east: (254.0 * altitude.cos() * azimuth.sin()) as f32,
            north: (254.0 * altitude.cos() * azimuth.cos()) as f32,
        }
    }
}

impl Surface for Hillshade {
    #[inline(always)]
    fn at(self, east: f32, north: f32, scale: f64) -> f64 {
        // The narrowing is the point: see the type's documentation.
        let scale = scale as f32;
        let (east, north) = (east * scale, north * scale);
        // The light (sin az cos alt, cos az cos alt, sin alt) dotted with the unit normal
        // (-dz/dx, -dz/dy, 1) / sqrt(1 + |grad|²), where -dz/dx is the fall to the east.
        let lit = (self.flat + self.east * east + self.north * north)
            / (1.0 + east * east + north * north).sqrt();
        // In shadow (facing away, lit <= 0) gdaldem gives 1, the darkest value.
        let shade = if lit <= 0.0 { 1.0 } else { 1.0 + lit };
        gdal_byte(shade)
    }
}

/// The byte gdaldem writes for its float result: GDAL converts float32 to byte by adding
/// 0.5 in float32 and truncating. `shade` lies in 1..=255 (up to rounding), so no clamping
/// is needed below; NaN stays NaN.
#[inline(always)]
fn gdal_byte(shade: f32) -> f64 {
    // floor(half_up) for 0 <= half_up < 2^23 in plain arithmetic, which vectorises (`floor`
    // is a libm call on x86-64 without SSE4.1): adding and taking away 2^23 rounds to the
    // nearest integer; step back one where that rounded up.
    const TWO_TO_23: f32 = 8_388_608.0;
    let half_up = shade + 0.5;
    let nearest = (half_up + TWO_TO_23) - TWO_TO_23;
    let floor = if nearest > half_up {
        nearest - 1.0
    } else {
        nearest
    };
    // Should rounding push 1 + 254 cos θ a hair past 255.
    f64::from(if floor > 255.0 { 255.0 } else { floor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_is_the_angle_of_the_steepest_rise() {
        assert_eq!(Slope.at(0.0, 0.0, 1.0), 0.0);
        assert!((Slope.at(0.6, 0.8, 1.0) - 45.0).abs() < 1e-5);
        assert!((Slope.at(-3f32.sqrt(), 0.0, 1.0) - 60.0).abs() < 1e-5);
    }

    #[test]
    fn aspect_is_the_azimuth_of_the_fall_and_none_where_flat() {
        assert!(Aspect.at(0.0, 0.0, 1.0).is_nan());
        for (east, north, azimuth) in [
            (0.0, 1.0, 0.0),
            (1.0, 0.0, 90.0),
            (0.0, -1.0, 180.0),
            (-1.0, 0.0, 270.0),
            (-1.0, 1.0, 315.0),
        ] {
            assert!(
                (Aspect.at(east, north, 1.0) - azimuth).abs() < 1e-12,
                "{azimuth}"
            );
        }
        // Just west of north stays below 360.
        let nearly_north = Aspect.at(-1e-12, 1.0, 1.0);
        assert!(nearly_north > 359.0 && nearly_north < 360.0);
    }

    #[test]
    fn hillshade_of_flat_ground_and_full_light_and_shadow() {
        let light = Hillshade::new(315.0, 45.0);
        // 1 + 254 sin 45° = 180.605, which gdaldem writes as 181.
        assert_eq!(light.at(0.0, 0.0, 1.0), 181.0);
        // Falling 45° towards the light (north-west): lit square on.
        let towards = std::f32::consts::FRAC_1_SQRT_2;
        assert_eq!(light.at(-towards, towards, 1.0), 255.0);
        // Falling 45° away from it: grazed at 90°, in shadow.
        assert_eq!(light.at(towards, -towards, 1.0), 1.0);
        assert!(light.at(f32::NAN, 0.0, 1.0).is_nan());
    }

    #[test]
    fn bytes_round_half_up_as_gdal_does() {
        assert_eq!(gdal_byte(180.5), 181.0);
        assert_eq!(gdal_byte(180.499), 180.0);
        assert_eq!(gdal_byte(1.0), 1.0);
        assert_eq!(gdal_byte(255.4), 255.0);
        assert_eq!(gdal_byte(255.9), 255.0);
        assert!(gdal_byte(f32::NAN).is_nan());
    }
}
