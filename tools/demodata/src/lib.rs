//! Deterministic demo and benchmark GeoTIFFs made from seeded noise, so tests and benchmarks
//! need no downloads and get the same bytes on every machine. The `tilefn-demodata` binary is
//! the command line; ingest's integration tests use this library to make inputs on the fly.

pub mod geotiff;
pub mod noise;
pub mod scenes;
pub mod srtm;

use std::path::Path;

pub use geotiff::{Encoding, Error, Scene};

/// The demo scenes by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dem,
    Multispectral,
    Landcover,
    Rgb,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Dem, Kind::Multispectral, Kind::Landcover, Kind::Rgb];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Dem => "dem",
            Kind::Multispectral => "multispectral",
            Kind::Landcover => "landcover",
            Kind::Rgb => "rgb",
        }
    }

    pub fn scene(self, size: u32, seed: u64) -> Box<dyn Scene> {
        match self {
            Kind::Dem => Box::new(scenes::Dem { size, seed }),
            Kind::Multispectral => Box::new(scenes::Multispectral { size, seed }),
            Kind::Landcover => Box::new(scenes::Landcover { size, seed }),
            Kind::Rgb => Box::new(scenes::Rgb { size, seed }),
        }
    }
}

/// The seed the command line uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 20_240_601;

/// DEFLATE level 6 with GDAL's PREDICTOR=YES equivalent, ~256 KiB strips.
pub fn default_encoding() -> Encoding {
    Encoding {
        deflate_level: Some(6),
        predictor: true,
        strip_bytes: 256 * 1024,
    }
}

/// Writes scene `kind` at `size`² to `path` with the default encoding.
pub fn write(kind: Kind, size: u32, seed: u64, path: &Path) -> Result<(), Error> {
    geotiff::write(path, kind.scene(size, seed).as_ref(), &default_encoding())
}

#[cfg(test)]
mod tests;
