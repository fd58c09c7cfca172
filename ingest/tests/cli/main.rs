//! Integration tests of the `tilefn-ingest` command line, run against the real binary
//! (`CARGO_BIN_EXE_tilefn-ingest`) and the TIFF corpus in `../shared/corpus/tiff`.
//!
//! One test binary for all of them: each extra binary costs a link of the whole dependency
//! tree, which on two shared cores is minutes.
//!
//! - `corpus`: every corpus file gives its recorded outcome, never a panic or a partial publish.
//! - `oracle`: max-zoom pixels equal GDAL's exact warp (needs the venv: scripts/python-env.sh).
//! - `demo`:   generated 1-2k² rasters (tools/demodata) ingest, validate and pass the oracle.
//! - `kill`:   SIGKILL mid-ingest never leaves the store inconsistent.
//! - `register`: web-optimized COGs served without re-ingest; named legends.
//! - `merge`:  --merge first|last|min|max|mean and dtype/nodata promotion, pixel by pixel.
//! - `pieces`: a file cut into 16 overlapping pieces (some with their CRS defined another
//!   way) ingests to the same bytes and statistics, through `add` and plan/run-unit/commit.
//! - `quantiles`: whole-layer quantiles, value counts and areas equal numpy's; the sketch
//!   keeps its rank error; several units give what one does.
//! - `s3`:     a real S3 round trip against s3s-fs (scripts/install-tools.sh), s3:// and
//!   http:// sources.
//! - `units`:  bad sources among good ones fail naming the file; plan/run-unit/commit by hand
//!   (commit and stage order refused naming units, run twice, run concurrently).
//! - `zonal`:  `stats`: polygonal summaries of a collection into CSV and GeoJSON.
//! - `stats_oracle`: `/statistics` (the shared Service, in process) over ingested corpus
//!   layers equals rasterio's `geometry_mask` and numpy on the same COGs (needs the venv).
//! - `spark`:  the Spark driver (ingest/spark) in local mode against s3s-fs, a unit killed and
//!   retried; equals `add` byte for byte (needs scripts/spark-env.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod corpus;
mod demo;
mod kill;
mod merge;
mod oracle;
mod pieces;
mod quantiles;
mod register;
mod s3;
mod spark;
mod stats_oracle;
mod units;
mod util;
mod zonal;
