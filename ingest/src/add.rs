//! `tilefn-ingest add`: source → plan → pyramid → manifest, in that order.

use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use tilefn_catalog::{
    BandInfo, LayerBounds, MANIFEST_FORMAT, Manifest, SourceInfo as ManifestSource,
    validate_layer_id, version_prefix,
};
use tilefn_raster::{TILE_SIZE, mercator};

use crate::cli::AddArgs;
use crate::legend::load_legend;
use crate::plan::{Plan, PlanOptions};
use crate::publish::{ParseLog, new_version, now_rfc3339, publish, read_manifest};
use crate::pyramid::Builder;
use crate::source::{OpenOptions, Source};
use crate::store::Store;
use crate::warp::WarpContext;
use crate::{IngestError, fetch};

pub fn add(
    args: &AddArgs,
    store: &Store,
    rt: Arc<tokio::runtime::Runtime>,
) -> Result<(), IngestError> {
    validate_layer_id(&args.layer).map_err(|e| IngestError::Usage(e.to_string()))?;
    let nodata = args.nodata.as_deref().map(parse_nodata).transpose()?;
    let legend = args.legend.as_deref().map(load_legend).transpose()?;
    let log = ParseLog::default();
    log.info(&format!(
        "ingest of {} into layer {} started",
        args.source, args.layer
    ));
    let started = Instant::now();
    match build_and_publish(args, store, rt, nodata, legend, &log) {
        Ok(m) => {
            log.info(&format!(
                "published version {} in {:.1}s",
                m.version,
                started.elapsed().as_secs_f64()
            ));
            log.save(store, &m.id)?;
            let bytes: u64 = m.objects.iter().map(|o| o.size).sum();
            println!(
                "ingested {} version {}: zoom {}..{}, {} COG(s), {:.1} MB, {:.1}s",
                m.id,
                m.version,
                m.min_zoom,
                m.max_zoom,
                m.objects.len(),
                bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(e) => {
            log.event("error", &e.to_string());
            // The log is written for the user to read; failing to write it must not hide
            // the real error.
            let _ = log.save(store, &args.layer);
            Err(e)
        }
    }
}

fn parse_nodata(s: &str) -> Result<f64, IngestError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "nan" => Ok(f64::NAN),
        t => t
            .parse()
            .map_err(|_| IngestError::Usage(format!("--nodata {s:?} is not a number"))),
    }
}

fn build_and_publish(
    args: &AddArgs,
    store: &Store,
    rt: Arc<tokio::runtime::Runtime>,
    nodata: Option<f64>,
    legend: Option<serde_json::Value>,
    log: &ParseLog,
) -> Result<Manifest, IngestError> {
    let local = fetch::localize(&args.source, rt)?;
    let source = Source::open(
        local.path(),
        &OpenOptions {
            nodata,
            srid: args.srid,
        },
    )?;
    let info = source.info().clone();
    log.info(&format!(
        "source {}: {}x{} px, {} band(s) of {}, nodata {:?}, CRS {}",
        info.file_name, info.width, info.height, info.bands, info.dtype, info.nodata, info.crs.name
    ));
    let datatype = args.datatype.into();
    let plan = Plan::new(
        &source,
        &PlanOptions {
            datatype,
            max_zoom: args.max_zoom,
            snap: args.snap,
            no_pyramid: args.no_pyramid,
            resampling: args.resampling,
            compression: args.compress.into(),
        },
    )?;
    log.info(&format!(
        "plan: zoom {}..{}, {} max-zoom tiles to visit, resampling {}, {}",
        plan.min_zoom,
        plan.max_zoom,
        plan.max_zoom_tiles(),
        plan.resampling.name(),
        if plan.mask {
            "internal mask"
        } else {
            "nodata value"
        }
    ));
    let previous = match read_manifest(store, &args.layer) {
        Ok(m) => m,
        Err(e) => {
            log.event(
                "warning",
                &format!("ignoring unreadable previous manifest: {e}"),
            );
            None
        }
    };
    let version = new_version();
    let prefix = version_prefix(&args.layer, &version);
    let inverse = info
        .geo
        .invert()
        .map(|g| g.coeffs())
        .ok_or(IngestError::Source(
            crate::source::SourceError::NoGeoreference,
        ))?;
    let warp = WarpContext {
        transformer: source.transformer()?,
        inverse,
        width: i64::from(info.width),
        height: i64::from(info.height),
        bands: info.bands,
        dtype: info.dtype,
        nodata: plan.nodata,
        resampling: plan.resampling,
    };
    let progress = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(plan.max_zoom_tiles())
    };
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} max-zoom tiles, ETA {eta}",
        )
        .unwrap_or(ProgressStyle::default_bar()),
    );
    let log_fn = |m: &str| log.info(m);
    let builder = Builder::new(
        &plan,
        &source,
        &warp,
        store,
        prefix.clone(),
        &progress,
        &log_fn,
    );
    builder.run()?;
    let groups = builder.layout().groups.clone();
    progress.finish_and_clear();
    let mut objects = builder
        .objects
        .into_inner()
        .map_err(|_| IngestError::Io("a worker thread panicked".into()))?;
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    if objects.is_empty() {
        log.event(
            "warning",
            "the source has no valid pixel: the layer is empty and every tile is blank",
        );
    }
    let stats = builder
        .stats
        .into_inner()
        .map_err(|_| IngestError::Io("a worker thread panicked".into()))?;
    let bucketing = crate::stats::Bucketing::for_dtype(plan.dtype);
    let bands = stats
        .iter()
        .enumerate()
        .map(|(i, acc)| BandInfo {
            index: i,
            dtype: plan.dtype,
            nodata: plan.nodata,
            stats: acc.finish(bucketing),
        })
        .collect::<Vec<_>>();
    let f = plan.footprint;
    let (w, s) = mercator::mercator_to_lonlat(f.min_x, f.min_y);
    let (e, n) = mercator::mercator_to_lonlat(f.max_x, f.max_y);
    let legend = legend.or_else(|| palette_legend(&info, &bands));
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        id: args.layer.clone(),
        name: args.name.clone().unwrap_or_else(|| args.layer.clone()),
        description: args.description.clone(),
        datatype,
        version: version.clone(),
        created: now_rfc3339(),
        source: ManifestSource {
            file: info.file_name.clone(),
            crs: info
                .crs
                .epsg
                .map_or_else(|| info.crs.proj4.clone(), |c| format!("EPSG:{c}")),
            proj4: info.crs.proj4.clone(),
            width: info.width,
            height: info.height,
            dtype: info.dtype,
        },
        bounds: LayerBounds {
            lonlat: [w, s, e, n],
            mercator: f.as_array(),
        },
        min_zoom: plan.min_zoom,
        max_zoom: plan.max_zoom,
        tile_size: TILE_SIZE,
        dtype: plan.dtype,
        band_count: plan.bands,
        alpha: false,
        mask: plan.mask,
        nodata: plan.nodata,
        bands,
        compression: format!("{:?}", plan.compression).to_ascii_lowercase(),
        resampling: plan.resampling.name().to_owned(),
        groups,
        prefix,
        objects,
        legend,
        external: None,
    };
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

/// A palette image's colours become its default legend, one entry per class in the data.
fn palette_legend(
    info: &crate::source::SourceInfo,
    bands: &[BandInfo],
) -> Option<serde_json::Value> {
    let palette = info.palette.as_ref()?;
    let stats = bands.first()?.stats.as_ref()?;
    let (lo, hi) = (stats.min.max(0.0) as usize, stats.max.max(0.0) as usize);
    let entries: Vec<serde_json::Value> = palette
        .iter()
        .enumerate()
        .filter(|(i, _)| (lo..=hi).contains(i) && Some(*i as f64) != info.nodata)
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
