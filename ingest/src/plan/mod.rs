//! The plan: everything a layer's build decides before any pixel is read, as one JSON file.
//!
//! `tilefn-ingest plan` reads the sources' headers (never their pixels) and writes the plan:
//! the options, each source's header facts, the layer's grid, a fresh version, and the
//! independent units that build it (see `units`). `run-unit` builds one unit from the plan
//! alone, on any machine that reaches the sources and the store; `commit` publishes once
//! every unit has finished. `add` is the three in one process.
//!
//! The plan is also stored beside the version's objects (`layers/<id>/v/<version>/plan.json`),
//! so a cluster's workers need only its URL.

mod grid;
mod units;

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tilefn_catalog::{nodata_serde, validate_layer_id, version_prefix};
use tilefn_raster::{Bounds, DataType, TileCoord, mercator};

pub use grid::{Grid, promote};
pub use units::Unit;

use crate::IngestError;
use crate::fetch;
use crate::options::LayerOptions;
use crate::publish::{ParseLog, new_version, now_rfc3339};
use crate::source::{OpenOptions, Source};
use crate::store::Store;

/// The plan file's format tag: a unit refuses a plan of another format.
pub const PLAN_FORMAT: &str = "tilefn-plan/1";

/// What the plan keeps of one source's header: enough to cut units and to check, when a
/// unit opens the source again, that it is still the file that was planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceHeader {
    /// A local absolute path, or an http(s):// or s3:// URL.
    pub url: String,
    pub file_name: String,
    pub width: u32,
    pub height: u32,
    pub bands: usize,
    pub dtype: DataType,
    #[serde(with = "nodata_serde")]
    pub nodata: Option<f64>,
    /// "EPSG:32633", or the proj4 string of a CRS without a code.
    pub crs: String,
    pub proj4: String,
    /// Its footprint in EPSG:3857: one box, or two for a source across the antimeridian.
    pub parts: Vec<Bounds>,
    /// EPSG:3857 metres per source pixel at its centre.
    pub resolution: f64,
    pub photometric_rgb: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub palette: Option<Vec<[u8; 4]>>,
}

impl SourceHeader {
    fn of(url: &str, source: &Source) -> Result<SourceHeader, IngestError> {
        let info = source.info();
        Ok(SourceHeader {
            url: url.to_owned(),
            file_name: info.file_name.clone(),
            width: info.width,
            height: info.height,
            bands: info.bands,
            dtype: info.dtype,
            nodata: info.nodata,
            crs: info
                .crs
                .epsg
                .map_or_else(|| info.crs.proj4.clone(), |c| format!("EPSG:{c}")),
            proj4: info.crs.proj4.clone(),
            parts: source.footprint_parts_3857()?,
            resolution: source.native_resolution_3857(),
            photometric_rgb: info.photometric_rgb,
            palette: info.palette.clone(),
        })
    }

    /// Whether tile `t` overlaps this source's footprint.
    pub fn touches(&self, t: TileCoord) -> bool {
        let b = mercator::tile_bounds(t);
        self.parts.iter().any(|p| b.intersects(p))
    }

    /// Fails when `source`, opened again by a unit, is not the file that was planned.
    pub fn check(&self, source: &Source) -> Result<(), IngestError> {
        let i = source.info();
        if (i.width, i.height, i.bands, i.dtype)
            != (self.width, self.height, self.bands, self.dtype)
        {
            return Err(IngestError::Invalid(format!(
                "{}: the source changed since it was planned ({}x{} px, {} band(s) of {} then; \
                 {}x{}, {} of {} now): plan again",
                self.url,
                self.width,
                self.height,
                self.bands,
                self.dtype,
                i.width,
                i.height,
                i.bands,
                i.dtype
            )));
        }
        Ok(())
    }
}

/// A layer's build, decided: see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerPlan {
    pub format: String,
    /// The output store's URL (local stores made absolute, so units may run elsewhere).
    pub store: String,
    pub options: LayerOptions,
    pub version: String,
    /// `layers/<id>/v/<version>/`: every object of this build lives under it.
    pub prefix: String,
    pub created: String,
    pub grid: Grid,
    pub sources: Vec<SourceHeader>,
    /// Unit indices per stage: stage `k + 1` reads what stage `k` wrote.
    pub stages: Vec<Vec<usize>>,
    pub units: Vec<Unit>,
}

/// Opens a source named in a plan: a local path as it is, a remote one downloaded (whole for
/// a unit, which reads its pixels; only its header for the planner).
pub fn open_source(
    url: &str,
    options: &LayerOptions,
    header_only: bool,
    rt: &Arc<tokio::runtime::Runtime>,
) -> Result<(Source, fetch::LocalSource), IngestError> {
    let local = if header_only {
        fetch::localize_header(url, rt.clone())?
    } else {
        fetch::localize(url, rt.clone())?
    };
    let opts = OpenOptions {
        nodata: options.nodata,
        srid: options.srid,
    };
    let source = Source::open(local.path(), &opts).map_err(|e| IngestError::OpenSource {
        url: url.to_owned(),
        source: e,
    })?;
    Ok((source, local))
}

impl LayerPlan {
    /// Plans layer `options.layer` from `urls` (already expanded, in merge order) into the
    /// store at `store_url`. Reads headers only, in parallel.
    pub fn build(
        urls: &[String],
        options: &LayerOptions,
        store: &Store,
        store_url: &str,
    ) -> Result<LayerPlan, IngestError> {
        validate_layer_id(&options.layer).map_err(|e| IngestError::Usage(e.to_string()))?;
        let rt = store.runtime_handle();
        let sources: Vec<SourceHeader> = urls
            .par_iter()
            .map(|url| {
                let (source, _local) = open_source(url, options, true, &rt)?;
                SourceHeader::of(url, &source).map_err(|e| match e {
                    IngestError::Source(s) => IngestError::OpenSource {
                        url: url.clone(),
                        source: s,
                    },
                    e => e,
                })
            })
            .collect::<Result<_, _>>()?;
        check_band_layout(&sources)?;
        let grid = Grid::new(&sources, options)?;
        let (units, stages) = units::cut(&grid, &sources);
        let version = new_version();
        Ok(LayerPlan {
            format: PLAN_FORMAT.to_owned(),
            store: absolute_store_url(store_url)?,
            options: options.clone(),
            prefix: version_prefix(&options.layer, &version),
            version,
            created: now_rfc3339(),
            grid,
            sources,
            stages,
            units,
        })
    }

    /// Where the plan is kept in the store.
    pub fn key(&self) -> String {
        format!("{}plan.json", self.prefix)
    }

    /// The plan's URL in the store, for workers: `run-unit URL N`.
    pub fn url(&self) -> String {
        format!("{}/{}", self.store.trim_end_matches('/'), self.key())
    }

    pub fn to_json(&self) -> Result<Vec<u8>, IngestError> {
        serde_json::to_vec(self).map_err(|e| IngestError::Invalid(format!("plan: {e}")))
    }

    pub fn from_json(bytes: &[u8]) -> Result<LayerPlan, IngestError> {
        let plan: LayerPlan = serde_json::from_slice(bytes)
            .map_err(|e| IngestError::Usage(format!("not a tilefn plan: {e}")))?;
        if plan.format != PLAN_FORMAT {
            return Err(IngestError::Usage(format!(
                "plan format {:?}, this tilefn-ingest reads {PLAN_FORMAT:?}",
                plan.format
            )));
        }
        Ok(plan)
    }

    /// Reads a plan from a local path or a URL (file://, s3://, http(s)://).
    pub fn load(
        location: &str,
        rt: Arc<tokio::runtime::Runtime>,
    ) -> Result<LayerPlan, IngestError> {
        let bytes = if location.contains("://") && !location.starts_with("file://") {
            fetch::get_url(location, &rt)?
        } else {
            let path = Path::new(location.strip_prefix("file://").unwrap_or(location));
            std::fs::read(path)
                .map_err(|e| IngestError::Usage(format!("plan {}: {e}", path.display())))?
        };
        LayerPlan::from_json(&bytes)
    }

    /// One line: what the build will make.
    pub fn describe(&self) -> String {
        let g = &self.grid;
        let per_stage: Vec<String> = self.stages.iter().map(|s| s.len().to_string()).collect();
        format!(
            "plan {}: {} source(s), zoom {}..{}, {} unit(s) in {} stage(s) ({}), {} of {}, {}, \
             resampling {}, merge {}",
            self.version,
            self.sources.len(),
            g.min_zoom,
            g.max_zoom,
            self.units.len(),
            self.stages.len(),
            per_stage.join(" + "),
            g.bands,
            g.dtype,
            if g.mask {
                "internal mask".to_owned()
            } else {
                format!("nodata {:?}", g.nodata)
            },
            g.resampling.name(),
            self.options.merge.name(),
        )
    }

    /// The parse log's account of the plan: its summary and the sources (the first
    /// `LOGGED_SOURCES`; plan.json lists them all).
    pub fn log_to(&self, log: &ParseLog) {
        const LOGGED_SOURCES: usize = 100;
        for s in self.sources.iter().take(LOGGED_SOURCES) {
            log.info(&format!(
                "source {}: {}x{} px, {} band(s) of {}, nodata {:?}, CRS {}",
                s.url, s.width, s.height, s.bands, s.dtype, s.nodata, s.crs
            ));
        }
        if self.sources.len() > LOGGED_SOURCES {
            log.info(&format!(
                "… and {} more sources (see {})",
                self.sources.len() - LOGGED_SOURCES,
                self.key()
            ));
        }
        log.info(&self.describe());
    }

    pub fn unit(&self, n: usize) -> Result<&Unit, IngestError> {
        self.units.get(n).ok_or_else(|| {
            IngestError::Usage(format!(
                "unit {n} does not exist: the plan has units 0..{}",
                self.units.len()
            ))
        })
    }
}

/// Every source must have the band layout of the first; the message names the one that
/// differs, so a user with a thousand files knows which to look at.
fn check_band_layout(sources: &[SourceHeader]) -> Result<(), IngestError> {
    let Some(first) = sources.first() else {
        return Err(IngestError::Usage("no sources".into()));
    };
    for s in sources.iter().skip(1) {
        if s.bands != first.bands {
            return Err(IngestError::Usage(format!(
                "{} has {} band(s) but {} has {}: all sources of a layer need the same bands",
                s.url, s.bands, first.url, first.bands
            )));
        }
        if s.photometric_rgb != first.photometric_rgb && first.bands == 3 {
            return Err(IngestError::Usage(format!(
                "{} is {} but {} is {}: all sources of a layer need the same band layout",
                s.url,
                rgb_name(s.photometric_rgb),
                first.url,
                rgb_name(first.photometric_rgb)
            )));
        }
    }
    Ok(())
}

fn rgb_name(rgb: bool) -> &'static str {
    if rgb { "RGB" } else { "not RGB" }
}

/// `./data/store` → `file:///abs/data/store`: workers may start in another directory.
fn absolute_store_url(url: &str) -> Result<String, IngestError> {
    use tilefn_storage::url_store::{StoreLocation, parse_store_url};
    match parse_store_url(url).map_err(|e| IngestError::Store(e.to_string()))? {
        StoreLocation::File { dir } => Ok(format!("file://{}", dir.display())),
        _ => Ok(url.to_owned()),
    }
}
