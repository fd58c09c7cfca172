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
use std::sync::{Arc, Mutex, Weak};
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
use crate::source::{DEFAULT_CACHE_BYTES, Source};
use crate::stats::{BandAcc, Bucketing};
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
    pool: &SourcePool,
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
        let (inputs, _held) = open_inputs(plan, unit, store, pool)?;
        progress.set_length(unit.weight);
        let mosaic = Mosaic::new(&plan.grid, plan.options.merge, inputs);
        let stats = Bucketing::for_plan(plan);
        CogBuild::new(&plan.grid, group, unit.anchor, Some(stats), progress)?
            .run(&mosaic, store, &key)?
    } else {
        let children = finished_children(plan, unit, store)?;
        progress.set_length(children.len() as u64);
        let leaves = ReadBack::new(&plan.grid, store, unit.stage, unit.anchor, children)?;
        CogBuild::new(&plan.grid, group, unit.anchor, None, progress)?.run(&leaves, store, &key)?
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

/// A source open in this process: the reader state every unit using it shares.
pub struct OpenSource {
    source: Source,
    // Held so a downloaded source's file stays until the last unit using it is done.
    _local: LocalSource,
}

/// The sources open in this process, shared by the units running at the same time. Two
/// units over one source (its strips span both) then decode each chunk once, into one
/// cache: with a unit each, an 8192² RGB scene split over two units took 1.09x the CPU of
/// one pass. A source closes when the last unit holding it finishes, so a long `add`
/// keeps only the running units' sources open (an empty slot per source once used stays:
/// a few dozen bytes each).
#[derive(Default)]
pub struct SourcePool {
    /// A slot per source: units wanting one source wait for each other (the first opens it),
    /// units wanting different sources open them at the same time.
    slots: Mutex<HashMap<u32, Arc<Mutex<Weak<OpenSource>>>>>,
}

fn poisoned() -> IngestError {
    IngestError::Io("a worker thread panicked".into())
}

impl SourcePool {
    fn get(
        &self,
        index: u32,
        plan: &LayerPlan,
        rt: &Arc<tokio::runtime::Runtime>,
    ) -> Result<Arc<OpenSource>, IngestError> {
        let slot = self
            .slots
            .lock()
            .map_err(|_| poisoned())?
            .entry(index)
            .or_default()
            .clone();
        let mut slot = slot.lock().map_err(|_| poisoned())?;
        if let Some(open) = slot.upgrade() {
            return Ok(open);
        }
        let header = plan
            .sources
            .get(index as usize)
            .ok_or_else(|| IngestError::Invalid(format!("no source {index} in the plan")))?;
        let (source, local) = open_source(&header.url, &plan.options, false, rt)?;
        header.check(&source)?;
        let open = Arc::new(OpenSource {
            source,
            _local: local,
        });
        *slot = Arc::downgrade(&open);
        Ok(open)
    }
}

/// The unit's sources, from the pool (remote ones downloaded), checked against the plan. The
/// decoded-chunk memory is shared out among them, so a unit over many sources stays within
/// one source's budget: with a floor of 8 MB each, a z5 unit over 169 SRTM cells peaked at
/// 1.3 GB. The depth-first build touches a few sources at a time, whose current windows a
/// small share still holds (a 1-arcsecond cell's window for a z12 tile is a few 256² chunks).
fn open_inputs(
    plan: &LayerPlan,
    unit: &Unit,
    store: &Store,
    pool: &SourcePool,
) -> Result<(Vec<Input>, Vec<Arc<OpenSource>>), IngestError> {
    const MIN_CACHE_BYTES: usize = 1 << 20;
    let share = (DEFAULT_CACHE_BYTES / unit.sources.len().max(1)).max(MIN_CACHE_BYTES);
    let rt = store.runtime_handle();
    let mut inputs = Vec::with_capacity(unit.sources.len());
    let mut held = Vec::with_capacity(unit.sources.len());
    for &i in &unit.sources {
        let open = pool.get(i, plan, &rt)?;
        let header = plan.sources.get(i as usize).ok_or_else(|| {
            IngestError::Invalid(format!("unit {}: no source {i} in the plan", unit.index))
        })?;
        open.source.set_cache_bytes(share);
        inputs.push(Input::new(header.clone(), open.source.clone(), &plan.grid)?);
        held.push(open);
    }
    Ok((inputs, held))
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
