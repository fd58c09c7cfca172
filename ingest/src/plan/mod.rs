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
use tilefn_cog::layout::PyramidLayout;
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

/// Most bands a layer may have: the COG writer's `u16`, bounded to what a tile service can
/// hold in memory for one tile (256² f64 per band).
const MAX_BANDS: usize = 256;

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
    /// The first band's unit from GDAL's metadata (`m`, `ft`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
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
            unit: info.unit.clone(),
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
        plan.check()
            .map_err(|m| IngestError::Usage(format!("inconsistent plan: {m}")))?;
        Ok(plan)
    }

    /// A plan is a file anyone can edit: before a unit trusts it with allocations and tile
    /// arithmetic, everything that indexes or sizes something is checked.
    fn check(&self) -> Result<(), String> {
        let g = &self.grid;
        validate_layer_id(&self.options.layer).map_err(|e| e.to_string())?;
        if g.max_zoom > mercator::MAX_ZOOM || g.min_zoom > g.max_zoom {
            return Err(format!("zooms {}..{}", g.min_zoom, g.max_zoom));
        }
        if g.groups != PyramidLayout::new(g.min_zoom, g.max_zoom).groups {
            return Err("level groups do not match the zooms".into());
        }
        if !(1..=MAX_BANDS).contains(&g.bands) {
            return Err(format!("{} bands", g.bands));
        }
        if self.stages.len() != g.groups.len() {
            return Err(format!(
                "{} stages for {} level groups",
                self.stages.len(),
                g.groups.len()
            ));
        }
        if self.prefix != version_prefix(&self.options.layer, &self.version) {
            return Err(format!("prefix {:?}", self.prefix));
        }
        for (stage, units) in self.stages.iter().enumerate() {
            for &n in units {
                let u = self
                    .units
                    .get(n)
                    .ok_or(format!("stage {stage} lists unit {n}"))?;
                self.check_unit(u, n, stage)?;
            }
        }
        Ok(())
    }

    fn check_unit(&self, u: &Unit, n: usize, stage: usize) -> Result<(), String> {
        let zoom = self.grid.groups.get(stage).map(|g| g.anchor_zoom);
        let a = u.anchor;
        if u.index != n || u.stage != stage || Some(a.z) != zoom {
            return Err(format!("unit {n} is not where stage {stage} puts it"));
        }
        if TileCoord::checked(u32::from(a.z), u64::from(a.x), u64::from(a.y)).is_none() {
            return Err(format!("unit {n}: anchor {a} is off the grid"));
        }
        if u.sources.iter().any(|i| *i as usize >= self.sources.len()) {
            return Err(format!("unit {n} reads a source the plan does not have"));
        }
        let below = stage.checked_sub(1).and_then(|s| self.stages.get(s));
        for c in &u.children {
            let child = below
                .filter(|b| b.contains(c))
                .and_then(|_| self.units.get(*c))
                .ok_or(format!(
                    "unit {n}: child {c} is not in stage {}",
                    stage.wrapping_sub(1)
                ))?;
            if child.anchor.z <= a.z || child.anchor.ancestor(a.z) != a {
                return Err(format!("unit {n}: child {c} is not under its anchor"));
            }
        }
        Ok(())
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// A one-band int16 source covering `b` (EPSG:3857) at `res` metres per pixel.
    pub fn source(b: Bounds, res: f64) -> SourceHeader {
        SourceHeader {
            url: format!("{b:?}"),
            file_name: String::new(),
            width: 1,
            height: 1,
            bands: 1,
            dtype: DataType::Int16,
            nodata: Some(-32768.0),
            crs: "EPSG:3857".into(),
            proj4: String::new(),
            parts: vec![b],
            resolution: res,
            photometric_rgb: false,
            palette: None,
            unit: None,
        }
    }

    fn two_stage_plan() -> LayerPlan {
        let res = mercator::resolution(9);
        let sources = vec![
            source(Bounds::new(-30_000.0, -20_000.0, -10_000.0, 20_000.0), res),
            source(Bounds::new(5_000.0, -20_000.0, 40_000.0, 20_000.0), res),
        ];
        let options = LayerOptions::new("t");
        let grid = Grid::new(&sources, &options).unwrap();
        let (units, stages) = units::cut(&grid, &sources);
        LayerPlan {
            format: PLAN_FORMAT.into(),
            store: "file:///tmp/x".into(),
            prefix: version_prefix("t", "v1"),
            version: "v1".into(),
            created: String::new(),
            options,
            grid,
            sources,
            stages,
            units,
        }
    }

    #[test]
    fn plans_round_trip_and_tampering_is_refused() {
        let plan = two_stage_plan();
        let back = LayerPlan::from_json(&plan.to_json().unwrap()).unwrap();
        assert_eq!(back, plan);
        let tamper = |f: &dyn Fn(&mut LayerPlan)| {
            let mut p = plan.clone();
            f(&mut p);
            LayerPlan::from_json(&p.to_json().unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(tamper(&|p| p.grid.bands = 100_000).contains("bands"));
        assert!(tamper(&|p| p.grid.max_zoom = 40).contains("zooms"));
        assert!(tamper(&|p| p.units[0].sources = vec![7]).contains("source"));
        assert!(tamper(&|p| p.units[0].anchor.x = 99).contains("off the grid"));
        assert!(tamper(&|p| p.units[4].children = vec![4]).contains("child"));
        assert!(tamper(&|p| p.stages[1] = vec![9]).contains("unit 9"));
        assert!(tamper(&|p| p.prefix = "layers/other/".into()).contains("prefix"));
        assert!(tamper(&|p| p.format = "x".into()).contains("format"));
        assert!(LayerPlan::from_json(b"{").is_err());
    }
}
