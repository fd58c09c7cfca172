//! tilefn's ingest as a library: GeoTIFFs → Web Mercator COG pyramids aligned to the XYZ
//! grid, published to a store with a manifest. The `tilefn-ingest` binary is a thin CLI over
//! it (`cli`); tests and tools use the modules directly.

pub mod add;
pub mod cli;
pub mod cogsink;
pub mod commands;
pub mod commit;
pub mod distribution;
pub mod fetch;
pub mod kll;
pub mod legend;
pub mod mosaic;
pub mod options;
pub mod plan;
pub mod publish;
pub mod pyramid;
pub mod readback;
pub mod register;
pub mod resample;
pub mod source;
pub mod sources;
pub mod stats;
pub mod store;
pub mod unit;
pub mod warp;
pub mod zonal;

/// Everything that can stop a command, sorted by who can fix it: usage errors exit 2, the
/// rest 1. Each prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Source(#[from] source::SourceError),
    /// A source that failed to open or read, named: a layer may have thousands.
    #[error("{url}: {source}")]
    OpenSource {
        url: String,
        #[source]
        source: source::SourceError,
    },
    #[error("{0}")]
    Usage(String),
    #[error("store: {0}")]
    Store(String),
    #[error("{0}")]
    Io(String),
    #[error("COG: {0}")]
    Cog(#[from] tilefn_cog::CogError),
    #[error("legend: {0}")]
    Legend(String),
    #[error("layer {0:?} not found")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
}
