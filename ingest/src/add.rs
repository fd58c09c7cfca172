//! `tilefn-ingest add`: plan, every unit on local threads (stage by stage), commit: the same
//! three steps a cluster runs as separate commands, so a laptop and Spark share one path.

use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use tilefn_catalog::Manifest;

use crate::IngestError;
use crate::commit::commit;
use crate::options::LayerOptions;
use crate::plan::LayerPlan;
use crate::publish::ParseLog;
use crate::store::Store;
use crate::unit::{Outcome, SourcePool, run_unit};

/// Plans, builds and publishes layer `options.layer` from `sources` (expanded, in order).
pub fn add(
    sources: &[String],
    options: &LayerOptions,
    store: &Store,
    store_url: &str,
    quiet: bool,
) -> Result<Manifest, IngestError> {
    let log = ParseLog::default();
    log.info(&format!(
        "ingest of {} source(s) into layer {} started (first: {})",
        sources.len(),
        options.layer,
        sources.first().map_or("", String::as_str)
    ));
    let started = Instant::now();
    let result = LayerPlan::build(sources, options, store, store_url).and_then(|plan| {
        store.put(&plan.key(), plan.to_json()?)?;
        run_all(&plan, store, quiet)?;
        commit(&plan, store, &log)
    });
    match result {
        Ok(m) => {
            let seconds = started.elapsed().as_secs_f64();
            log.info(&format!("published version {} in {seconds:.1}s", m.version));
            log.save(store, &m.id)?;
            let bytes: u64 = m.objects.iter().map(|o| o.size).sum();
            println!(
                "ingested {} version {}: zoom {}..{}, {} COG(s), {:.1} MB, {seconds:.1}s",
                m.id,
                m.version,
                m.min_zoom,
                m.max_zoom,
                m.objects.len(),
                bytes as f64 / 1e6,
            );
            Ok(m)
        }
        Err(e) => {
            log.event("error", &e.to_string());
            // The log is written for the user to read; failing to write it must not hide
            // the real error.
            let _ = log.save(store, &options.layer);
            Err(e)
        }
    }
}

/// Every unit, stage after stage; the units of a stage run in parallel (and each unit's
/// tiles too: rayon shares the threads between them).
fn run_all(plan: &LayerPlan, store: &Store, quiet: bool) -> Result<(), IngestError> {
    let bars = MultiProgress::with_draw_target(if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let total = bars.add(ProgressBar::new(plan.units.len() as u64));
    total.set_style(style(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} units",
    ));
    let pool = SourcePool::default();
    for stage in &plan.stages {
        stage.par_iter().try_for_each(|&n| {
            let bar = bars.add(ProgressBar::new(0));
            bar.set_style(style(
                "  unit {prefix}: {bar:30} {pos}/{len} tiles, ETA {eta}",
            ));
            bar.set_prefix(n.to_string());
            let outcome = run_unit(plan, n, store, &pool, &bar);
            bar.finish_and_clear();
            bars.remove(&bar);
            total.inc(1);
            outcome.map(|o| match o {
                Outcome::Built(_) | Outcome::AlreadyDone(_) => (),
            })
        })?;
    }
    total.finish_and_clear();
    Ok(())
}

pub fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or(ProgressStyle::default_bar())
}
