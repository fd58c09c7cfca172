//! Errors from opening and reading a source GeoTIFF.
//!
//! Every message is one line a user can act on; the variants are what the pipeline maps to
//! exit outcomes (bad input vs. unsupported feature vs. missing CRS ...).

use std::sync::Arc;

use tiff::{TiffError, TiffFormatError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    #[error("file not found: {0}")]
    NotFound(String),
    #[error("I/O error: {0}")]
    Io(Arc<std::io::Error>),
    #[error("not a TIFF file")]
    NotTiff,
    #[error("corrupt TIFF: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the file has no georeferencing (no geotransform or ModelTransformation tag)")]
    NoGeoreference,
    #[error("no CRS: pass --srid")]
    NoCrs,
    #[error("unknown EPSG code {0}")]
    UnknownEpsg(u32),
    #[error("unsupported CRS: {0}")]
    UnsupportedCrs(String),
    #[error("the raster lies entirely outside Web Mercator's latitude range (±85.0511°)")]
    OutsideWebMercator,
}

impl From<std::io::Error> for SourceError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            SourceError::Corrupt("truncated file: data ends early".into())
        } else {
            SourceError::Io(Arc::new(e))
        }
    }
}

/// Maps a `tiff` crate error met while decoding `what` (e.g. "tile 12") to a user message.
pub(super) fn tiff_error(e: TiffError, what: &str) -> SourceError {
    match e {
        TiffError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            SourceError::Corrupt(format!(
                "truncated file: {what} ends past the end of the file"
            ))
        }
        TiffError::IoError(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            SourceError::Corrupt(format!("{what} does not decompress: {io}"))
        }
        TiffError::IoError(io) => SourceError::Io(Arc::new(io)),
        TiffError::FormatError(
            TiffFormatError::TiffSignatureNotFound | TiffFormatError::TiffSignatureInvalid,
        ) => SourceError::NotTiff,
        TiffError::FormatError(f) => SourceError::Corrupt(format!("{what}: {f}")),
        TiffError::UnsupportedError(u) => SourceError::Unsupported(format!("{what}: {u}")),
        TiffError::LimitsExceeded => SourceError::Unsupported(format!(
            "{what} is too large to decode in one piece; rewrite the file tiled (gdal_translate -co TILED=YES)"
        )),
        TiffError::IntSizeError => SourceError::Corrupt(format!("{what}: sizes overflow")),
        TiffError::UsageError(u) => SourceError::Corrupt(format!("{what}: {u}")),
    }
}
