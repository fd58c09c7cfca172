//! `tilefn-ingest commit PLAN`: once every unit has finished, merges their statistics and
//! publishes the manifest (see `publish` for why that one put is atomic).
//!
//! It refuses, naming the units, while any is missing, and it checks every COG a unit
//! recorded against the store (size, and the ETag it has now: a unit run twice at once may
//! have been overwritten by its twin with the same bytes).

use tilefn_catalog::{
    BandInfo, LayerBounds, MANIFEST_FORMAT, Manifest, ObjectEntry, SourceInfo as ManifestSource,
};
use tilefn_raster::{TILE_SIZE, mercator};

use crate::IngestError;
use crate::plan::LayerPlan;
use crate::publish::{ParseLog, now_rfc3339, publish, read_manifest};
use crate::stats::{BandAcc, Bucketing};
use crate::store::Store;
use crate::unit::{UnitResult, list_some, read_result};

/// Publishes `plan`'s layer from its units' results; `log` gets the units' lines and ours.
pub fn commit(plan: &LayerPlan, store: &Store, log: &ParseLog) -> Result<Manifest, IngestError> {
    let results = gather(plan, store)?;
    plan.log_to(log);
    let mut stats = vec![BandAcc::default(); plan.grid.bands];
    let mut objects = Vec::new();
    // Statistics merge in tile order, not unit order: units are numbered by their work
    // (heaviest first), which depends on how the sources are cut, while tile order gives a
    // layer the same bits however its sources were split.
    let mut finest: Vec<&UnitResult> = results.iter().filter(|r| r.stage == 0).collect();
    finest.sort_by_key(|r| r.anchor);
    for r in finest {
        for (total, acc) in stats.iter_mut().zip(r.stats.iter().cloned()) {
            total.merge(acc);
        }
    }
    for r in &results {
        log.extend(&r.log);
        if let Some(o) = &r.object {
            objects.push(current(store, o)?);
        }
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    if objects.is_empty() {
        log.event(
            "warning",
            "the sources have no valid pixel: the layer is empty and every tile is blank",
        );
    }
    let previous = match read_manifest(store, &plan.options.layer) {
        Ok(m) => m,
        Err(e) => {
            log.event(
                "warning",
                &format!("ignoring unreadable previous manifest: {e}"),
            );
            None
        }
    };
    let manifest = manifest(plan, &stats, objects);
    let removed = publish(
        store,
        &manifest,
        previous.as_ref().map(|m| m.version.as_str()),
    )?;
    if removed > 0 {
        log.info(&format!(
            "removed {removed} object(s) of superseded or unfinished versions"
        ));
    }
    Ok(manifest)
}

/// Every unit's result, in unit order; an error lists the unfinished units.
fn gather(plan: &LayerPlan, store: &Store) -> Result<Vec<UnitResult>, IngestError> {
    let mut done = Vec::with_capacity(plan.units.len());
    let mut missing = Vec::new();
    for u in &plan.units {
        match read_result(plan, u.index, store)? {
            Some(r) => done.push(r),
            None => missing.push(u.index),
        }
    }
    if !missing.is_empty() {
        return Err(IngestError::Invalid(format!(
            "{} of {} unit(s) have not finished: {}. Run them (tilefn-ingest run-unit PLAN N), \
             then commit again; nothing was published",
            missing.len(),
            plan.units.len(),
            list_some(&missing)
        )));
    }
    Ok(done)
}

/// `o` as the store has it now; an error if it is gone or not the size the unit wrote.
fn current(store: &Store, o: &ObjectEntry) -> Result<ObjectEntry, IngestError> {
    match store.head(&o.key)? {
        Some((size, etag)) if size == o.size => Ok(ObjectEntry { etag, ..o.clone() }),
        Some((size, _)) => Err(IngestError::Invalid(format!(
            "{} is {size} bytes, its unit wrote {}: run the unit again",
            o.key, o.size
        ))),
        None => Err(IngestError::Invalid(format!(
            "{} is missing although its unit finished: run the unit again",
            o.key
        ))),
    }
}

fn manifest(plan: &LayerPlan, stats: &[BandAcc], objects: Vec<ObjectEntry>) -> Manifest {
    let grid = &plan.grid;
    let o = &plan.options;
    let bucketing = Bucketing::for_plan(plan);
    let bands: Vec<BandInfo> = stats
        .iter()
        .enumerate()
        .map(|(i, acc)| BandInfo {
            index: i,
            dtype: grid.dtype,
            nodata: grid.nodata,
            stats: acc.finish(bucketing),
            unit: layer_unit(plan),
        })
        .collect();
    let f = grid.footprint;
    let (w, s) = mercator::mercator_to_lonlat(f.min_x, f.min_y);
    let (e, n) = mercator::mercator_to_lonlat(f.max_x, f.max_y);
    let legend = o.legend.clone().or_else(|| palette_legend(plan, &bands));
    let first = plan.sources.first();
    Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        id: o.layer.clone(),
        name: o.name.clone().unwrap_or_else(|| o.layer.clone()),
        description: o.description.clone(),
        datatype: o.datatype,
        version: plan.version.clone(),
        created: now_rfc3339(),
        source: ManifestSource {
            file: first.map(|s| s.file_name.clone()).unwrap_or_default(),
            crs: first.map(|s| s.crs.clone()).unwrap_or_default(),
            proj4: first.map(|s| s.proj4.clone()).unwrap_or_default(),
            width: first.map_or(0, |s| s.width),
            height: first.map_or(0, |s| s.height),
            dtype: first.map_or(grid.dtype, |s| s.dtype),
            count: (plan.sources.len() > 1).then_some(plan.sources.len()),
        },
        bounds: LayerBounds {
            lonlat: [w, s, e, n],
            mercator: f.as_array(),
        },
        min_zoom: grid.min_zoom,
        max_zoom: grid.max_zoom,
        tile_size: TILE_SIZE,
        dtype: grid.dtype,
        band_count: grid.bands,
        alpha: false,
        mask: grid.mask,
        nodata: grid.nodata,
        bands,
        compression: format!("{:?}", grid.compression).to_ascii_lowercase(),
        resampling: grid.resampling.name().to_owned(),
        groups: grid.groups.clone(),
        prefix: plan.prefix.clone(),
        objects,
        legend,
        external: None,
    }
}

/// A palette image's colours become its default legend, one entry per class in the data.
fn palette_legend(plan: &LayerPlan, bands: &[BandInfo]) -> Option<serde_json::Value> {
    let palette = plan.grid.palette.as_ref()?;
    let stats = bands.first()?.stats.as_ref()?;
    let (lo, hi) = (stats.min.max(0.0) as usize, stats.max.max(0.0) as usize);
    let nodata = plan.grid.nodata;
    let entries: Vec<serde_json::Value> = palette
        .iter()
        .enumerate()
        .filter(|(i, _)| (lo..=hi).contains(i) && Some(*i as f64) != nodata)
        .map(|(i, c)| {
            serde_json::json!({
                "expression": i.to_string(),
                "color": format!("#{:02X}{:02X}{:02X}", c[0], c[1], c[2]),
                "name": i.to_string(),
            })
        })
        .collect();
    Some(serde_json::Value::Array(entries))
}

/// The layer's unit: `--unit`, else the first source's that has one.
fn layer_unit(plan: &LayerPlan) -> Option<String> {
    plan.options
        .unit
        .clone()
        .or_else(|| plan.sources.iter().find_map(|s| s.unit.clone()))
}
