//! `tilefn-ingest run-unit PLAN N`: builds one unit's COG and records what it made.
//!
//! A unit writes two objects under the plan's version prefix: its COG, then its result
//! (`units/<N>.json`: the COG's entry, partial statistics, its log lines). The result is the
//! unit's commit point, written last, so a unit killed at any moment has either finished or
//! left no result, and running it again redoes it. A unit whose result is there (and whose
//! COG still is) returns at once. Two runs of one unit at the same time write the same bytes
//! to the same keys, and each put is atomic (a rename locally, a completed upload on S3), so
//! either may win; `commit` takes each COG's ETag from the store, not from the result.

use std::collections::HashMap;
use std::time::Instant;

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use tilefn_catalog::ObjectEntry;
use tilefn_cog::layout::cog_key;
use tilefn_raster::TileCoord;

use crate::IngestError;
use crate::fetch::LocalSource;
use crate::mosaic::{Input, Mosaic};
use crate::plan::{LayerPlan, Unit, open_source};
use crate::publish::ParseLog;
use crate::pyramid::{Built, CogBuild};
use crate::readback::ReadBack;
use crate::source::DEFAULT_CACHE_BYTES;
use crate::stats::BandAcc;
use crate::store::Store;

pub const UNIT_FORMAT: &str = "tilefn-unit/1";

/// What a finished unit leaves for `commit` and for the next stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    pub format: String,
    /// The plan's version: a result is only ever read under its own version's prefix, but
    /// this makes a misplaced one detectable.
    pub version: String,
    pub unit: usize,
    pub stage: usize,
    pub anchor: TileCoord,
    /// The COG; `None` when the unit's area held no valid pixel.
    pub object: Option<ObjectEntry>,
    /// Per band, over the unit's max-zoom pixels (stage 0 only).
    pub stats: Vec<BandAcc>,
    pub tiles: u64,
    pub seconds: f64,
    /// Parse-log lines (JSON), gathered into the layer's log by `commit`.
    pub log: Vec<String>,
}

pub fn result_key(plan: &LayerPlan, n: usize) -> String {
    format!("{}units/{n:06}.json", plan.prefix)
}

/// Unit `n`'s result, if it has finished.
pub fn read_result(
    plan: &LayerPlan,
    n: usize,
    store: &Store,
) -> Result<Option<UnitResult>, IngestError> {
    let key = result_key(plan, n);
    let Some(bytes) = store.get(&key)? else {
        return Ok(None);
    };
    let r: UnitResult =
        serde_json::from_slice(&bytes).map_err(|e| IngestError::Invalid(format!("{key}: {e}")))?;
    if r.format != UNIT_FORMAT || r.version != plan.version || r.unit != n {
        return Err(IngestError::Invalid(format!(
            "{key} is not unit {n}'s result for version {}",
            plan.version
        )));
    }
    Ok(Some(r))
}

/// How a `run-unit` ended.
pub enum Outcome {
    Built(UnitResult),
    /// Its result was already in the store.
    AlreadyDone(UnitResult),
}

/// Builds unit `n` of `plan` unless it has finished already.
pub fn run_unit(
    plan: &LayerPlan,
    n: usize,
    store: &Store,
    progress: &ProgressBar,
) -> Result<Outcome, IngestError> {
    let unit = plan.unit(n)?;
    if let Some(done) = read_result(plan, n, store)?
        && object_present(store, done.object.as_ref())?
    {
        return Ok(Outcome::AlreadyDone(done));
    }
    let started = Instant::now();
    let group = *plan.grid.groups.get(unit.stage).ok_or_else(|| {
        IngestError::Invalid(format!("unit {n}: the plan has no stage {}", unit.stage))
    })?;
    let key = format!("{}{}", plan.prefix, cog_key(unit.anchor));
    let built = if unit.stage == 0 {
        let (inputs, _downloads) = open_inputs(plan, unit, store)?;
        progress.set_length(unit.weight);
        let mosaic = Mosaic::new(&plan.grid, plan.options.merge, inputs);
        CogBuild::new(&plan.grid, group, unit.anchor, true, progress)?.run(&mosaic, store, &key)?
    } else {
        let children = finished_children(plan, unit, store)?;
        progress.set_length(children.len() as u64);
        let leaves = ReadBack::new(&plan.grid, store, unit.stage, unit.anchor, children)?;
        CogBuild::new(&plan.grid, group, unit.anchor, false, progress)?.run(&leaves, store, &key)?
    };
    let result = record(plan, unit, built, started, store)?;
    Ok(Outcome::Built(result))
}

fn object_present(store: &Store, object: Option<&ObjectEntry>) -> Result<bool, IngestError> {
    match object {
        None => Ok(true),
        Some(o) => Ok(store.head(&o.key)?.is_some_and(|(size, _)| size == o.size)),
    }
}

/// The unit's sources, opened (remote ones downloaded) and checked against the plan. The
/// decoded-chunk memory is shared out among them, so a unit over many sources stays within
/// one source's budget: with a floor of 8 MB each, a z5 unit over 169 SRTM cells peaked at
/// 1.3 GB. The depth-first build touches a few sources at a time, whose current windows a
/// small share still holds (a 1-arcsecond cell's window for a z12 tile is a few 256² chunks).
fn open_inputs(
    plan: &LayerPlan,
    unit: &Unit,
    store: &Store,
) -> Result<(Vec<Input>, Vec<LocalSource>), IngestError> {
    const MIN_CACHE_BYTES: usize = 1 << 20;
    let share = (DEFAULT_CACHE_BYTES / unit.sources.len().max(1)).max(MIN_CACHE_BYTES);
    let rt = store.runtime_handle();
    let mut inputs = Vec::with_capacity(unit.sources.len());
    let mut downloads = Vec::new();
    for &i in &unit.sources {
        let header = plan.sources.get(i as usize).ok_or_else(|| {
            IngestError::Invalid(format!("unit {}: no source {i} in the plan", unit.index))
        })?;
        let (source, local) = open_source(&header.url, &plan.options, false, &rt)?;
        header.check(&source)?;
        source.set_cache_bytes(share);
        inputs.push(Input::new(header.clone(), source, &plan.grid)?);
        downloads.push(local);
    }
    Ok((inputs, downloads))
}

/// The previous stage's COGs under this unit; an error names the units still missing.
fn finished_children(
    plan: &LayerPlan,
    unit: &Unit,
    store: &Store,
) -> Result<HashMap<TileCoord, ObjectEntry>, IngestError> {
    let mut objects = HashMap::new();
    let mut missing = Vec::new();
    for &c in &unit.children {
        match read_result(plan, c, store)? {
            Some(r) => {
                if let Some(o) = r.object {
                    objects.insert(r.anchor, o);
                }
            }
            None => missing.push(c),
        }
    }
    if !missing.is_empty() {
        return Err(IngestError::Invalid(format!(
            "unit {} (stage {}) reads units {} of stage {}, which have not finished: run them first",
            unit.index,
            unit.stage,
            list_some(&missing),
            unit.stage - 1
        )));
    }
    Ok(objects)
}

/// "1, 2, 3" or "1, 2, … (40 in all)".
pub fn list_some(units: &[usize]) -> String {
    const SHOWN: usize = 20;
    let head: Vec<String> = units.iter().take(SHOWN).map(usize::to_string).collect();
    if units.len() > SHOWN {
        format!("{}, … ({} in all)", head.join(", "), units.len())
    } else {
        head.join(", ")
    }
}

fn record(
    plan: &LayerPlan,
    unit: &Unit,
    built: Built,
    started: Instant,
    store: &Store,
) -> Result<UnitResult, IngestError> {
    let seconds = started.elapsed().as_secs_f64();
    let log = ParseLog::default();
    let a = unit.anchor;
    log.info(&format!(
        "unit {} (stage {}, COG {}/{}/{}): {} tile(s), {} in {seconds:.1}s",
        unit.index,
        unit.stage,
        a.z,
        a.x,
        a.y,
        built.tiles,
        built
            .object
            .as_ref()
            .map_or("no valid pixel, no object".to_owned(), |o| format!(
                "{} ({} bytes)",
                o.key, o.size
            )),
    ));
    let result = UnitResult {
        format: UNIT_FORMAT.to_owned(),
        version: plan.version.clone(),
        unit: unit.index,
        stage: unit.stage,
        anchor: unit.anchor,
        object: built.object,
        stats: built.stats,
        tiles: built.tiles,
        seconds,
        log: log.lines(),
    };
    let json = serde_json::to_vec(&result)
        .map_err(|e| IngestError::Invalid(format!("unit {} result: {e}", unit.index)))?;
    store.put(&result_key(plan, unit.index), json)?;
    Ok(result)
}
