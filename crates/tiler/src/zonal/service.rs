//! The `/statistics` handler: plan, read the planned tiles (a few at a time, each folded
//! into the summaries as it arrives, so memory holds a handful of tiles, not all of them),
//! answer JSON.

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::{Map, Value, json};
use tilefn_catalog::{BandStats, Datatype, Manifest};
use tilefn_geometry::Input;
use tilefn_raster::{TILE_SIZE, TileCoord};
use tilefn_storage::Bucket;

use super::{BandSummary, Extent, StatsRequest, StatsTarget, Wanted, pixel_area, plan};
use crate::algebra::{Layers, formula_zooms, versions};
use crate::convert::BandMask;
use crate::etag;
use crate::layer::Layer;
use crate::neighbourhood::check_cost;
use crate::query::{AlgebraQuery, Mode};
use crate::read::decode_fetched;
use crate::service::{Caching, Reply};
use crate::zonal::plan::Plan;
use crate::zonal::summary::value_key;
use crate::{Request, Service, TileError};

const TS: usize = TILE_SIZE as usize;
/// Tiles per coalesced read of a layer's statistics: a row of a field's tiles is one range.
const TILES_PER_READ: usize = 16;
/// Batches in flight at once: storage latency hidden, compressed bytes waiting bounded.
const BATCHES_IN_FLIGHT: usize = 2;
/// Tiles of a formula's layers read at once (each a read per bound layer).
const FORMULA_READS_IN_FLIGHT: usize = 4;

/// Per feature, per band.
type Summaries = Vec<Vec<BandSummary>>;

impl<B: Bucket> Service<B> {
    /// `/statistics`, retried once with fresh manifests after a stale read.
    pub(crate) async fn statistics(
        &self,
        s: &StatsRequest,
        req: &Request,
    ) -> Result<Reply, TileError> {
        match self.statistics_once(s, req).await {
            Err(err) if err.is_stale() => {
                match &s.target {
                    StatsTarget::Layer(id) => self.forget_layer(id),
                    StatsTarget::Formula(q) => {
                        for id in q.layer_ids() {
                            self.forget_layer(id);
                        }
                    }
                }
                self.statistics_once(s, req).await
            }
            other => other,
        }
    }

    async fn statistics_once(&self, s: &StatsRequest, req: &Request) -> Result<Reply, TileError> {
        let caching = Caching::MaxAge(self.config.max_age);
        let wanted = |classes: bool| Wanted {
            bins: s.bins,
            percentiles: s.percentiles.clone(),
            classes,
        };
        match &s.target {
            StatsTarget::Layer(id) => {
                let layer = self.layer(id, None, req.now_ms).await?;
                let tag = etag::strong(&["statistics", &s.canonical(), &layer.manifest.version]);
                if let Some(not_modified) = Reply::conditional(req, tag.clone(), caching) {
                    return Ok(not_modified);
                }
                let m = &layer.manifest;
                let classes =
                    s.categorical || matches!(m.datatype, Datatype::Categorical | Datatype::Mask);
                let body = match &s.input {
                    None => whole_layer(m, &wanted(classes)),
                    Some(input) => self.layer_stats(&layer, input, s, &wanted(classes)).await?,
                };
                Ok(json_reply(&body, tag, caching))
            }
            StatsTarget::Formula(q) => {
                let layers = self.bound_layers(q, req.now_ms).await?;
                let tag = etag::strong(&["statistics", &s.canonical(), &versions(&layers)]);
                if let Some(not_modified) = Reply::conditional(req, tag.clone(), caching) {
                    return Ok(not_modified);
                }
                let Some(input) = &s.input else {
                    return Err(TileError::bad("geom", "required for a formula"));
                };
                let body = self
                    .formula_stats(q, &layers, input, s, &wanted(s.categorical))
                    .await?;
                Ok(json_reply(&body, tag, caching))
            }
        }
    }

    async fn layer_stats(
        &self,
        layer: &Layer,
        input: &Input,
        s: &StatsRequest,
        wanted: &Wanted,
    ) -> Result<Value, TileError> {
        let (min_zoom, max_zoom) = layer.stored_zooms();
        let bands = layer.manifest.band_count;
        // Scoped: the extent borrows a closure that must not live across an await (the
        // native server needs the future to be Send).
        let plan = {
            let covers = |t: TileCoord| layer.covers(t);
            let extent = Extent {
                min_zoom,
                max_zoom,
                bands: bands as u64,
                covers: &covers,
            };
            plan(input, &extent, s.zoom)?
        };
        let mut sums = new_summaries(input, bands, wanted.classes);
        // Tiles in row order, a batch at a time: each batch is one coalesced read per COG it
        // touches, decoded and folded one tile at a time.
        let batches: Vec<Vec<TileCoord>> = plan
            .tiles
            .chunks(TILES_PER_READ)
            .map(<[_]>::to_vec)
            .collect();
        let mut reads = stream::iter(
            batches
                .into_iter()
                .map(|batch| async move { self.fetch_stored(layer, &batch).await }),
        )
        .buffered(BATCHES_IN_FLIGHT);
        while let Some(fetched) = reads.next().await {
            for tile in fetched? {
                if let Some(block) = decode_fetched(layer, &tile, BandMask::ALL)? {
                    let columns: Vec<&[f64]> = (0..block.bands).map(|b| block.band(b)).collect();
                    fold(&plan, tile.located.tile, &columns, &block.valid, &mut sums);
                }
            }
        }
        Ok(answer(input, &plan, max_zoom, sums, wanted))
    }

    async fn formula_stats(
        &self,
        q: &AlgebraQuery,
        layers: &Layers,
        input: &Input,
        s: &StatsRequest,
        wanted: &Wanted,
    ) -> Result<Value, TileError> {
        let Mode::Formula(expr) = &q.mode else {
            return Err(TileError::bad("formula", "required"));
        };
        let (min_zoom, max_zoom) = formula_zooms(layers);
        let covers = |t: TileCoord| layers.values().any(|l| l.covers(t));
        let mut top = max_zoom;
        // The deepest zoom within the statistics budget whose neighbourhood work fits too:
        // `focal_mean(a, 9)` over a county takes a coarser zoom than `a` alone.
        let plan = loop {
            let extent = Extent {
                min_zoom,
                max_zoom: top,
                bands: 1,
                covers: &covers,
            };
            let plan = plan(input, &extent, s.zoom)?;
            match check_cost(expr, plan.tiles.len() as u64) {
                Ok(()) => break plan,
                Err(_) if s.zoom.is_none() && plan.zoom > min_zoom => top = plan.zoom - 1,
                Err(e) => return Err(e),
            }
        };
        let reductions = self.gather_reductions(expr, q, layers).await?;
        let mut sums = new_summaries(input, 1, wanted.classes);
        let tiles = plan.tiles.clone();
        let reductions = &reductions;
        let mut reads = stream::iter(tiles.into_iter().map(|t| async move {
            let out = self.formula_tile(expr, q, layers, reductions, t).await?;
            Ok::<_, TileError>((t, out))
        }))
        .buffered(FORMULA_READS_IN_FLIGHT);
        while let Some(read) = reads.next().await {
            let (t, out) = read?;
            if let Some(out) = out {
                fold(&plan, t, &[&out.values], &out.valid, &mut sums);
            }
        }
        let mut value = answer(input, &plan, max_zoom, sums, wanted);
        if let Some(map) = value.as_object_mut() {
            map.insert("formula".into(), json!(expr.to_string()));
        }
        Ok(value)
    }
}

fn json_reply(body: &Value, tag: String, caching: Caching) -> Reply {
    Reply {
        status: 200,
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
        etag: Some(tag),
        caching,
    }
}

fn new_summaries(input: &Input, bands: usize, classes: bool) -> Summaries {
    input
        .features
        .iter()
        .map(|_| (0..bands).map(|_| BandSummary::new(classes)).collect())
        .collect()
}

/// Folds tile `t`'s pixels into each feature's summaries: the pixels whose centres the
/// feature holds, valid and not NaN, each weighted by its row's ground area.
fn fold(plan: &Plan, t: TileCoord, bands: &[&[f64]], valid: &[bool], sums: &mut Summaries) {
    for (spans, feature) in plan.spans.iter().zip(sums.iter_mut()) {
        for (row, c0, c1) in spans.tile_runs(t) {
            let area = pixel_area(plan.zoom, u64::from(t.y) * TS as u64 + row as u64);
            for i in row * TS + c0..row * TS + c1 {
                if !valid.get(i).copied().unwrap_or(false) {
                    continue;
                }
                for (values, summary) in bands.iter().zip(feature.iter_mut()) {
                    if let Some(v) = values.get(i).copied().filter(|v| !v.is_nan()) {
                        summary.add(v, area);
                    }
                }
            }
        }
    }
}

/// The JSON answer: one result, or one per feature of a FeatureCollection.
fn answer(input: &Input, plan: &Plan, max_zoom: u8, sums: Summaries, wanted: &Wanted) -> Value {
    let mut results: Vec<Value> = Vec::with_capacity(sums.len());
    for ((feature, spans), bands) in input.features.iter().zip(&plan.spans).zip(sums) {
        let bands: Vec<Value> = bands
            .into_iter()
            .enumerate()
            .map(|(i, s)| s.finish(i, wanted))
            .collect();
        let mut r = Map::new();
        if input.collection {
            r.insert("id".into(), feature.id.clone().unwrap_or(Value::Null));
            let props = feature.properties.clone().map(Value::Object);
            r.insert("properties".into(), props.unwrap_or(Value::Null));
        }
        r.insert("pixels".into(), json!(spans.pixel_count()));
        r.insert("bands".into(), Value::Array(bands));
        results.push(Value::Object(r));
    }
    let mut out = Map::new();
    out.insert("zoom".into(), json!(plan.zoom));
    out.insert("exact".into(), json!(plan.zoom == max_zoom));
    out.insert("tiles".into(), json!(plan.tiles.len()));
    if input.collection {
        out.insert("features".into(), Value::Array(results));
    } else if let Some(Value::Object(single)) = results.into_iter().next() {
        out.extend(single);
    }
    Value::Object(out)
}

/// Whole-layer figures from the manifest's statistics (computed by ingest over every
/// max-zoom pixel): no tile is read.
fn whole_layer(m: &Manifest, wanted: &Wanted) -> Value {
    let bands: Vec<Value> = m
        .bands
        .iter()
        .map(|b| match &b.stats {
            Some(stats) => band_from_stats(b.index, stats, wanted),
            None => json!({"band": b.index, "count": 0, "min": null, "max": null,
                "mean": null, "std": null, "sum": null, "percentiles": {}}),
        })
        .collect();
    json!({
        "zoom": m.max_zoom,
        "exact": true,
        "whole_layer": true,
        "bands": bands,
    })
}

fn band_from_stats(index: usize, s: &BandStats, wanted: &Wanted) -> Value {
    let h = &s.histogram;
    let bins = h.counts.len();
    let edges: Vec<f64> = (0..=bins)
        .map(|i| h.min + (h.max - h.min) * i as f64 / bins.max(1) as f64)
        .collect();
    // Any percentile from the stored quantiles (exact, or a sketch's within its rank
    // error); manifests written before ingest computed them have only p2 and p98.
    let percentiles: Map<String, Value> = match &s.quantiles {
        Some(q) => wanted
            .percentiles
            .iter()
            .filter_map(|p| Some((value_key(*p), json!(q.percentile(*p)?))))
            .collect(),
        None => [
            ("2".to_owned(), json!(s.p2)),
            ("98".to_owned(), json!(s.p98)),
        ]
        .into_iter()
        .collect(),
    };
    let mut out = json!({
        "band": index,
        "count": s.count,
        "min": s.min,
        "max": s.max,
        "mean": s.mean,
        "std": s.std,
        "sum": s.mean * s.count as f64,
        "percentiles": percentiles,
        "histogram": {"edges": edges, "counts": h.counts},
    });
    if let Some(q) = &s.quantiles {
        out["percentiles_method"] = json!(q.method.name());
        out["rank_error"] = json!(q.rank_error);
    }
    // Exact whole-layer class counts and areas (categorical and mask layers).
    if let (Some(counts), Some(areas)) = (&s.value_counts, &s.area_m2) {
        out["value_counts"] = json!(counts);
        out["area_m2"] = json!(areas);
    }
    out
}
