//! Rendering of tilefn tiles: django-raster legends and colormaps, matplotlib named
//! colormaps, grey stretches and RGB composites, then PNG/JPEG/GeoTIFF encoding, and elevations
//! packed into MapLibre `raster-dem` PNGs (Terrarium, Terrain-RGB).
//!
//! A request's style is parsed and compiled once ([`Style::compile`]) into lookup tables or
//! pre-evaluated key masks; [`Style::paint`] then only indexes tables per pixel. Legend keys
//! that are formulas (`"(-3.0 < x) & (x <= 1)"`) are evaluated with `tilefn-algebra`, either
//! once over the whole value domain of small integer types or vectorised once per tile,
//! never per pixel.
//!
//! The django-raster rules this crate reproduces (colour parsing, key order, continuous
//! ramps) are documented in `/work/shared/corpus/colormap/README.md`; where our tiles differ
//! from django-raster's (they always carry a validity mask) the choice is documented on the
//! function that makes it.

mod color;
mod colormaps;
mod continuous;
#[cfg(test)]
mod corpus_tests;
mod discrete;
mod encode;
mod enhance;
mod error;
mod indexed;
mod rgb;
mod spec;
mod style;
mod swatch;

pub use color::{color_value, hex_to_rgba};
pub use colormaps::{named_colormap, named_colormaps};
pub use continuous::{continuous_rgba, rescale_to_channel_range};
pub use discrete::{KeyCount, MAX_FORMULA_BYTES, MAX_FORMULA_KEYS};
pub use encode::{DemEncoding, encode_dem_png, encode_geotiff, encode_jpeg, encode_png};
pub use enhance::{Enhancement, MAX_ENHANCE_FACTOR};
pub use error::RenderError;
pub use rgb::render_rgb;
pub use spec::{MAX_COLORMAP_BYTES, MAX_ENTRIES};
pub use style::{LayerContext, StatsSummary, Style, StyleParams};
pub use swatch::legend_swatch_png;

/// An RGBA8 image, row-major, 4 bytes per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Rgba {
    /// A fully transparent image.
    pub fn transparent(width: usize, height: usize) -> Rgba {
        Rgba {
            width,
            height,
            pixels: vec![0; width * height * 4],
        }
    }

    /// Whether every pixel has alpha 0 (the tiler can answer with an empty tile).
    pub fn is_fully_transparent(&self) -> bool {
        self.pixels.chunks_exact(4).all(|p| p[3] == 0)
    }
}
