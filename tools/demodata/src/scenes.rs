//! The demo scenes. Every scene is a pure function of (seed, pixel), so rows come out the same
//! whatever thread or order generates them.
//!
//! Noise coordinates are in ground units (metres or degrees) rather than pixels, so a scene at
//! size 2048 shows the same terrain as the top-left of the 8192 one; only the nodata regions,
//! placed relative to the image, differ.

use crate::geotiff::{Crs, Georef, Layout, Sample, Scene};
use crate::noise::{fbm_row, ridged_row, smoothstep, subseed, value_noise_row};

/// Top-left of the UTM scenes: about 12.4°E 47.1°N (Hohe Tauern); 8192 × 30 m reaches into
/// Slovenia, so both high Alps and foreland are covered.
const UTM_ORIGIN: (f64, f64) = (300_000.0, 5_220_000.0);
const UTM_PIXEL: f64 = 30.0;

fn utm_georef() -> Georef {
    Georef {
        crs: Crs::Projected(32633),
        origin_x: UTM_ORIGIN.0,
        origin_y: UTM_ORIGIN.1,
        pixel_x: UTM_PIXEL,
        pixel_y: UTM_PIXEL,
    }
}

fn put_f32(out: &mut [u8], i: usize, v: f32) {
    out[4 * i..4 * i + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put_u16(out: &mut [u8], i: usize, v: u16) {
    out[2 * i..2 * i + 2].copy_from_slice(&v.to_ne_bytes());
}

/// Nodata inside an ellipse centred at (cx, cy) with radii (rx, ry), all as fractions of the
/// image, whose edge is made irregular by `wobble` in [0, 1).
fn in_blob(fx: f64, fy: f64, c: (f64, f64), r: (f64, f64), wobble: f64) -> bool {
    let dx = (fx - c.0) / r.0;
    let dy = (fy - c.1) / r.1;
    dx * dx + dy * dy < 0.75 + 0.5 * wobble
}

/// Float32 DEM in metres: ridged mountains over rolling foreland, a lake (nodata) and a
/// missing corner (nodata), like a mosaic with a gap in its coverage.
pub struct Dem {
    pub size: u32,
    pub seed: u64,
}

pub const DEM_NODATA: f32 = -9999.0;

impl Scene for Dem {
    fn layout(&self) -> Layout {
        Layout {
            width: self.size,
            height: self.size,
            bands: 1,
            sample: Sample::F32,
            rgb: false,
            georef: utm_georef(),
            nodata: Some("-9999".into()),
        }
    }

    fn fill_row(&self, y: u32, out: &mut [u8]) {
        let w = self.size as usize;
        let n = f64::from(self.size);
        // Wavelengths in metres: massifs ~80 km, ridge lines ~15 km, detail down to 2 pixels.
        let my = f64::from(y) * UTM_PIXEL;
        let (mut massif, mut hills, mut ridge, mut lake) =
            (vec![0.0; w], vec![0.0; w], vec![0.0; w], vec![0.0; w]);
        fbm_row(
            subseed(self.seed, 1),
            my / 80_000.0,
            0.0,
            UTM_PIXEL / 80_000.0,
            3,
            0.5,
            &mut massif,
        );
        fbm_row(
            subseed(self.seed, 2),
            my / 20_000.0,
            0.0,
            UTM_PIXEL / 20_000.0,
            10,
            0.5,
            &mut hills,
        );
        ridged_row(
            subseed(self.seed, 3),
            my / 15_000.0,
            0.0,
            UTM_PIXEL / 15_000.0,
            9,
            &mut ridge,
        );
        value_noise_row(
            subseed(self.seed, 4),
            f64::from(y) * 16.0 / n,
            0.0,
            16.0 / n,
            &mut lake,
        );
        let fy = f64::from(y) / n;
        for x in 0..w {
            let fx = x as f64 / n;
            // High ridged terrain inside massifs, rolling hills in the foreland between them;
            // squaring the ridges gives broad valleys and sharp crests.
            let m = (massif[x] * 1.6 - 0.3).clamp(0.0, 1.0);
            let r = ridge[x] * (0.3 + hills[x]);
            let z = 300.0 + 700.0 * hills[x] * hills[x] + m * 3400.0 * r * r;
            // Round to centimetres, as survey DEMs are, so predictor 3 has something to chew.
            let z = (z * 100.0).round() / 100.0;
            let nodata = in_blob(fx, fy, (0.3, 0.65), (0.09, 0.05), lake[x]) || fx + fy > 1.8;
            put_f32(out, x, if nodata { DEM_NODATA } else { z as f32 });
        }
    }
}

/// Land-cover patches shared by the multispectral and RGB scenes: fractions of water,
/// vegetation, urban and bare soil per pixel, summing to 1.
struct Cover {
    water: Vec<f64>,
    veg: Vec<f64>,
    urban: Vec<f64>,
    bright: Vec<f64>,
    texture: Vec<f64>,
}

impl Cover {
    /// `x0`, `dx`, `y` in degrees; patch sizes ~5 km (water), ~2 km (fields), ~3 km (towns).
    fn row(seed: u64, y: f64, x0: f64, dx: f64, w: usize) -> Cover {
        let mut c = Cover {
            water: vec![0.0; w],
            veg: vec![0.0; w],
            urban: vec![0.0; w],
            bright: vec![0.0; w],
            texture: vec![0.0; w],
        };
        let (mut lakes, mut fields, mut towns) = (vec![0.0; w], vec![0.0; w], vec![0.0; w]);
        fbm_row(
            subseed(seed, 10),
            y / 0.05,
            x0 / 0.05,
            dx / 0.05,
            5,
            0.5,
            &mut lakes,
        );
        fbm_row(
            subseed(seed, 11),
            y / 0.02,
            x0 / 0.02,
            dx / 0.02,
            6,
            0.55,
            &mut fields,
        );
        fbm_row(
            subseed(seed, 12),
            y / 0.03,
            x0 / 0.03,
            dx / 0.03,
            5,
            0.5,
            &mut towns,
        );
        fbm_row(
            subseed(seed, 13),
            y / 0.01,
            x0 / 0.01,
            dx / 0.01,
            4,
            0.5,
            &mut c.bright,
        );
        fbm_row(
            subseed(seed, 14),
            y / 0.0005,
            x0 / 0.0005,
            dx / 0.0005,
            3,
            0.6,
            &mut c.texture,
        );
        for i in 0..w {
            let water = 1.0 - smoothstep(0.30, 0.33, lakes[i]);
            let urban = (1.0 - water) * smoothstep(0.62, 0.66, towns[i]);
            let veg = (1.0 - water - urban) * smoothstep(0.40, 0.50, fields[i]);
            c.water[i] = water;
            c.urban[i] = urban;
            c.veg[i] = veg;
        }
        c
    }

    /// Mixes per-class values (water, vegetation, urban, soil) by the pixel's fractions.
    fn mix(&self, i: usize, e: [f64; 4]) -> f64 {
        let soil = (1.0 - self.water[i] - self.veg[i] - self.urban[i]).max(0.0);
        self.water[i] * e[0] + self.veg[i] * e[1] + self.urban[i] * e[2] + soil * e[3]
    }
}

/// 4-band uint16 surface reflectance × 10000 (blue, green, red, NIR), EPSG:4326, with a
/// diagonal swath edge (nodata 0) as in a Landsat/Sentinel scene.
pub struct Multispectral {
    pub size: u32,
    pub seed: u64,
}

const MS_ORIGIN: (f64, f64) = (10.5, 46.8);
const MS_PIXEL: f64 = 0.000_25;

/// Typical reflectance × 10000 of water, vegetation, urban and soil per band: vegetation's
/// red edge (red low, NIR high) is what makes NDVI meaningful.
const ENDMEMBERS: [[f64; 4]; 4] = [
    [600.0, 300.0, 1200.0, 800.0],   // blue
    [550.0, 600.0, 1250.0, 1100.0],  // green
    [400.0, 350.0, 1300.0, 1500.0],  // red
    [200.0, 3500.0, 1500.0, 2200.0], // NIR
];

impl Scene for Multispectral {
    fn layout(&self) -> Layout {
        Layout {
            width: self.size,
            height: self.size,
            bands: 4,
            sample: Sample::U16,
            rgb: false,
            georef: Georef {
                crs: Crs::Geographic(4326),
                origin_x: MS_ORIGIN.0,
                origin_y: MS_ORIGIN.1,
                pixel_x: MS_PIXEL,
                pixel_y: MS_PIXEL,
            },
            nodata: Some("0".into()),
        }
    }

    fn fill_row(&self, y: u32, out: &mut [u8]) {
        let w = self.size as usize;
        let n = f64::from(self.size);
        let lat = MS_ORIGIN.1 - f64::from(y) * MS_PIXEL;
        let c = Cover::row(self.seed, lat, MS_ORIGIN.0, MS_PIXEL, w);
        let fy = f64::from(y) / n;
        for x in 0..w {
            let fx = x as f64 / n;
            let outside = fx + 0.35 * fy < 0.12; // swath edge, slanted like a satellite track
            // Shared illumination/brightness makes the bands correlated, as in real scenes;
            // texture adds within-field variation.
            let light = 0.8 + 0.4 * c.bright[x];
            for (b, e) in ENDMEMBERS.iter().enumerate() {
                let t = 0.9 + 0.2 * c.texture[x] + 0.02 * b as f64;
                let v = if outside {
                    0.0
                } else {
                    (c.mix(x, *e) * light * t).clamp(1.0, 65535.0)
                };
                put_u16(out, x * 4 + b, v as u16);
            }
        }
    }
}

/// 3-band uint8 aerial-photo-like RGB, EPSG:4326, all pixels valid (the ingest benchmark's
/// "orthophoto" input).
pub struct Rgb {
    pub size: u32,
    pub seed: u64,
}

const RGB_ORIGIN: (f64, f64) = (11.0, 47.0);
const RGB_PIXEL: f64 = 0.000_1;

impl Scene for Rgb {
    fn layout(&self) -> Layout {
        Layout {
            width: self.size,
            height: self.size,
            bands: 3,
            sample: Sample::U8,
            rgb: true,
            georef: Georef {
                crs: Crs::Geographic(4326),
                origin_x: RGB_ORIGIN.0,
                origin_y: RGB_ORIGIN.1,
                pixel_x: RGB_PIXEL,
                pixel_y: RGB_PIXEL,
            },
            nodata: None,
        }
    }

    fn fill_row(&self, y: u32, out: &mut [u8]) {
        let w = self.size as usize;
        let lat = RGB_ORIGIN.1 - f64::from(y) * RGB_PIXEL;
        let c = Cover::row(subseed(self.seed, 77), lat, RGB_ORIGIN.0, RGB_PIXEL, w);
        // Colours of water, vegetation, roofs/roads and soil per channel.
        let colours: [[f64; 4]; 3] = [
            [40.0, 70.0, 170.0, 160.0],
            [70.0, 120.0, 165.0, 130.0],
            [90.0, 60.0, 160.0, 95.0],
        ];
        for x in 0..w {
            let light = 0.75 + 0.5 * c.bright[x];
            let t = 0.8 + 0.4 * c.texture[x];
            for (b, e) in colours.iter().enumerate() {
                out[x * 3 + b] = (c.mix(x, *e) * light * t).clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Uint8 land-cover classes 1..=8 (urban, cropland, grassland, broadleaf, conifer, rock,
/// water, ice), 0 = nodata outside an irregular area of interest. Each class has its own
/// noise field and a pixel takes the class whose field is highest, which gives blobby,
/// space-filling regions like a classified image.
pub struct Landcover {
    pub size: u32,
    pub seed: u64,
}

impl Scene for Landcover {
    fn layout(&self) -> Layout {
        Layout {
            width: self.size,
            height: self.size,
            bands: 1,
            sample: Sample::U8,
            rgb: false,
            georef: utm_georef(),
            nodata: Some("0".into()),
        }
    }

    fn fill_row(&self, y: u32, out: &mut [u8]) {
        let w = self.size as usize;
        let n = f64::from(self.size);
        let my = f64::from(y) * UTM_PIXEL;
        let mut best = vec![f64::MIN; w];
        let mut field = vec![0.0; w];
        for class in 1..=8u8 {
            // Patch sizes ~3 km; the rarer classes (urban, water, ice) get a handicap.
            let bias = match class {
                1 | 7 | 8 => -0.06,
                _ => 0.0,
            };
            fbm_row(
                subseed(self.seed, 100 + u64::from(class)),
                my / 3000.0,
                0.0,
                UTM_PIXEL / 3000.0,
                4,
                0.5,
                &mut field,
            );
            for x in 0..w {
                if field[x] + bias > best[x] {
                    best[x] = field[x] + bias;
                    out[x] = class;
                }
            }
        }
        let mut edge = vec![0.0; w];
        value_noise_row(
            subseed(self.seed, 99),
            f64::from(y) * 8.0 / n,
            0.0,
            8.0 / n,
            &mut edge,
        );
        let fy = f64::from(y) / n;
        for x in 0..w {
            if !in_blob(x as f64 / n, fy, (0.5, 0.5), (0.55, 0.55), edge[x]) {
                out[x] = 0;
            }
        }
    }
}
