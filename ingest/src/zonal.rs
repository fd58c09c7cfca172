//! `tilefn-ingest stats`: polygonal summaries over a collection (GeoPySpark's
//! `polygonal_min/max/mean/sum` over many features), straight from the store.
//!
//! Each feature is answered by the tile service's own `/statistics` (the same `Service`,
//! over the store directly, no server), so a row of the CSV equals what the endpoint says
//! for that feature alone: each feature gets its own zoom within the request budget.

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value, json};
use tilefn_storage::ObjectStoreBucket;
use tilefn_tiler::{Config, Request, Service};

use crate::IngestError;

/// Features summarised at once: reads of one overlap the evaluation of others.
const IN_FLIGHT: usize = 4;

/// What `stats` is asked.
#[derive(Debug, Clone)]
pub struct ZonalJob<'a> {
    pub store: &'a str,
    pub layer: &'a str,
    pub features: &'a Path,
    pub zoom: Option<u8>,
    pub categorical: bool,
    pub out: &'a Path,
    pub quiet: bool,
}

/// Summarises every feature of `job.features` and writes `job.out` (`.csv`, or `.geojson`/
/// `.json`: the features with a `statistics` property). A feature the service refuses (an
/// invalid ring, over budget at a forced zoom) gets its error in the output; the command
/// then fails after writing it, naming how many.
pub fn run(job: &ZonalJob<'_>, rt: &tokio::runtime::Runtime) -> Result<(), IngestError> {
    let text = std::fs::read_to_string(job.features)
        .map_err(|e| IngestError::Io(format!("{}: {e}", job.features.display())))?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| IngestError::Invalid(format!("{}: {e}", job.features.display())))?;
    let features = features_of(doc)?;
    let bucket = ObjectStoreBucket::from_url(&local_url(job.store))
        .map_err(|e| IngestError::Io(format!("store {}: {e}", job.store)))?;
    let service = Arc::new(Service::new(bucket, Config::default()));
    let progress = progress_bar(features.len() as u64, job.quiet);
    let query = query_of(job);
    let answers: Vec<Value> = rt.block_on(async {
        futures::stream::iter(features.iter().map(|f| {
            let service = Arc::clone(&service);
            let req = Request {
                method: "POST".into(),
                path: format!("/statistics/{}", job.layer),
                query: query.clone(),
                body: f.to_string().into_bytes(),
                ..Request::default()
            };
            let progress = progress.clone();
            async move {
                let r = service.handle(&req).await;
                progress.inc(1);
                let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
                if r.status == 200 {
                    body
                } else {
                    let message = body["error"]["message"].as_str().unwrap_or("failed");
                    json!({ "error": format!("{} {message}", r.status) })
                }
            }
        }))
        .buffered(IN_FLIGHT)
        .collect()
        .await
    });
    progress.finish_and_clear();
    let failed = answers.iter().filter(|a| a.get("error").is_some()).count();
    write_output(job.out, &features, &answers)?;
    if failed > 0 {
        let first = answers
            .iter()
            .find_map(|a| a["error"].as_str())
            .unwrap_or_default();
        return Err(IngestError::Invalid(format!(
            "{failed} of {} features failed (first: {first}); their rows carry the error",
            features.len()
        )));
    }
    eprintln!(
        "{} features of {} summarised into {}",
        features.len(),
        job.layer,
        job.out.display()
    );
    Ok(())
}

/// `file://./dir` names a relative folder (the documented default), which object_store's
/// URL parser does not accept: pass it as the path it means.
fn local_url(url: &str) -> String {
    match url.strip_prefix("file://") {
        Some(rest) if rest.starts_with('.') => rest.to_owned(),
        _ => url.to_owned(),
    }
}

fn query_of(job: &ZonalJob<'_>) -> String {
    let mut q = form_urlencoded_pairs(job);
    q.retain(|s| !s.is_empty());
    q.join("&")
}

fn form_urlencoded_pairs(job: &ZonalJob<'_>) -> Vec<String> {
    vec![
        job.zoom.map(|z| format!("zoom={z}")).unwrap_or_default(),
        if job.categorical {
            "categorical=true".to_owned()
        } else {
            String::new()
        },
    ]
}

/// The features of a FeatureCollection, or the one Feature / Geometry given.
fn features_of(doc: Value) -> Result<Vec<Value>, IngestError> {
    match doc.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => match doc.get("features") {
            Some(Value::Array(list)) => Ok(list.clone()),
            _ => Err(IngestError::Invalid(
                "a FeatureCollection without a features array".into(),
            )),
        },
        Some("Feature") => Ok(vec![doc]),
        Some(_) => Ok(vec![
            json!({"type": "Feature", "properties": {}, "geometry": doc}),
        ]),
        None => Err(IngestError::Invalid("not GeoJSON: no \"type\"".into())),
    }
}

fn progress_bar(len: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} features {eta}") {
        bar.set_style(style);
    }
    bar
}

fn write_output(out: &Path, features: &[Value], answers: &[Value]) -> Result<(), IngestError> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = match ext.as_str() {
        "csv" => csv_rows(features, answers)?,
        "geojson" | "json" => {
            let annotated: Vec<Value> = features
                .iter()
                .zip(answers)
                .map(|(f, a)| {
                    let mut f = f.clone();
                    if let Some(obj) = f.as_object_mut() {
                        let props = obj
                            .entry("properties")
                            .or_insert_with(|| Value::Object(Map::new()));
                        if !props.is_object() {
                            *props = Value::Object(Map::new());
                        }
                        if let Some(p) = props.as_object_mut() {
                            p.insert("statistics".into(), a.clone());
                        }
                    }
                    f
                })
                .collect();
            let fc = json!({"type": "FeatureCollection", "features": annotated});
            serde_json::to_vec_pretty(&fc).unwrap_or_default()
        }
        _ => {
            return Err(IngestError::Invalid(format!(
                "--out {}: use a .csv, .geojson or .json file",
                out.display()
            )));
        }
    };
    std::fs::write(out, bytes).map_err(|e| IngestError::Io(format!("{}: {e}", out.display())))
}

const CSV_HEADER: [&str; 17] = [
    "feature",
    "id",
    "zoom",
    "exact",
    "pixels",
    "band",
    "count",
    "min",
    "max",
    "mean",
    "std",
    "sum",
    "p2",
    "p50",
    "p98",
    "value_counts",
    "error",
];

/// One row per feature and band: the figures, value counts as JSON, or the error.
fn csv_rows(features: &[Value], answers: &[Value]) -> Result<Vec<u8>, IngestError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| IngestError::Io(format!("csv: {e}"));
    w.write_record(CSV_HEADER).map_err(csv_err)?;
    for (i, (f, a)) in features.iter().zip(answers).enumerate() {
        let id = match f.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let text = |v: &Value| match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if let Some(err) = a.get("error") {
            let mut row = vec![i.to_string(), id];
            row.resize(CSV_HEADER.len() - 1, String::new());
            row.push(text(err));
            w.write_record(&row).map_err(csv_err)?;
            continue;
        }
        for band in a["bands"].as_array().into_iter().flatten() {
            let pct = |p: &str| text(&band["percentiles"][p]);
            let counts = band.get("value_counts").map(text).unwrap_or_default();
            let row = [
                i.to_string(),
                id.clone(),
                text(&a["zoom"]),
                text(&a["exact"]),
                text(&a["pixels"]),
                text(&band["band"]),
                text(&band["count"]),
                text(&band["min"]),
                text(&band["max"]),
                text(&band["mean"]),
                text(&band["std"]),
                text(&band["sum"]),
                pct("2"),
                pct("50"),
                pct("98"),
                counts,
                String::new(),
            ];
            w.write_record(&row).map_err(csv_err)?;
        }
    }
    w.into_inner()
        .map_err(|e| IngestError::Io(format!("csv: {e}")))
}
