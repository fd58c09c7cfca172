//! The command line: clap's view of the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tilefn_catalog::Datatype;
use tilefn_cog::write::Compression;

use crate::options::{LayerOptions, MergeMode, Snap};
use crate::plan::LayerPlan;
use crate::resample::Resampling;
use crate::unit::{Outcome, SourcePool, run_unit};
use crate::{IngestError, add, commands, commit, legend, register, sources, store};

#[derive(Parser)]
#[command(
    name = "tilefn-ingest",
    version,
    about = "Turn GeoTIFFs into Web Mercator COG pyramids aligned to the XYZ tile grid"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
pub struct StoreArg {
    /// Where layers live: a folder (`file:///abs`, a plain path) or `s3://bucket/prefix`
    /// (credentials and endpoint from the usual AWS_* variables; a custom endpoint serves R2).
    #[arg(long, default_value = "file://./data/store", env = "TILEFN_STORE")]
    pub store: String,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest SOURCES (paths, globs, directories, http(s):// URLs, s3://bucket/key or an
    /// s3://bucket/prefix/) as one layer ID: plan, run every unit here, commit.
    Add(AddArgs),
    /// Read only the sources' headers and write the plan of LAYER's build: its independent
    /// work units, for `run-unit` on other machines (Spark, Kubernetes), then `commit`.
    Plan(PlanArgs),
    /// Build unit N of PLAN (a path or the plan's URL in the store). Idempotent: a finished
    /// unit returns at once, and two runs of one unit at once are safe.
    RunUnit {
        plan: String,
        n: usize,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Publish PLAN's layer once every unit has finished; refuses, naming the missing units,
    /// while any has not.
    Commit { plan: String },
    /// Print a layer's manifest.
    Info {
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// List the layers in the store.
    List {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Re-read every object of a layer and check it against the manifest.
    Validate {
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Delete a layer: its manifest first (so it stops being served), then its objects.
    Remove {
        id: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Serve an existing web-optimized COG (a key in the store, or an http(s) URL) as layer
    /// ID without re-ingesting it: writes only a manifest.
    Register(RegisterArgs),
    /// Polygonal summaries: the statistics of LAYER inside each feature of FEATURES (a
    /// GeoJSON file, EPSG:4326), as the tile service's /statistics gives them, into OUT
    /// (`.csv`: a row per feature and band; `.geojson`: the features with a `statistics`
    /// property).
    Stats {
        layer: String,
        #[arg(long)]
        features: std::path::PathBuf,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Measure every feature at this zoom (default: the deepest within the budget).
        #[arg(long)]
        zoom: Option<u8>,
        /// Value counts and class areas for any layer (always there for categorical ones).
        #[arg(long)]
        categorical: bool,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Named legends for `?legend=NAME` (stored as legends/NAME.json).
    #[command(subcommand)]
    Legend(LegendCommand),
}

#[derive(Subcommand)]
enum LegendCommand {
    /// Store FILE (django-raster legend JSON) as legend NAME, replacing any previous one.
    Put {
        name: String,
        file: PathBuf,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Print legend NAME.
    Get {
        name: String,
        #[command(flatten)]
        store: StoreArg,
    },
    /// List the stored legends.
    List {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Delete legend NAME.
    Remove {
        name: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// The sources of a layer, as typed.
#[derive(clap::Args)]
pub struct SourceArgs {
    /// Paths, globs ('scenes/*.tif', quoted), directories, http(s):// URLs, s3://bucket/key,
    /// or s3://bucket/prefix/ (every .tif under it). Order matters for --merge.
    pub sources: Vec<String>,
    /// A file of sources, one a line (blank lines and #comments skipped), after SOURCES.
    #[arg(long = "sources", value_name = "LIST")]
    pub list: Option<PathBuf>,
}

/// Who the layer is: shared by `add`, `plan` and `register`.
#[derive(clap::Args)]
pub struct LayerMetaArgs {
    #[arg(long)]
    pub layer: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, default_value = "")]
    pub description: String,
    #[arg(long, value_enum, default_value = "continuous")]
    pub datatype: DatatypeArg,
    /// The layer's default legend (django-raster legend JSON), stored in the manifest.
    #[arg(long)]
    pub legend: Option<PathBuf>,
}

/// What the layer should be.
#[derive(clap::Args)]
pub struct LayerArgs {
    #[command(flatten)]
    pub meta: LayerMetaArgs,
    /// Override every source's nodata value ("nan" accepted).
    #[arg(long, allow_hyphen_values = true)]
    pub nodata: Option<String>,
    /// Override every source's CRS with this EPSG code.
    #[arg(long)]
    pub srid: Option<u32>,
    /// Default: the zoom of the finest source (see --snap).
    #[arg(long)]
    pub max_zoom: Option<u8>,
    #[arg(long, value_enum, default_value = "higher")]
    pub snap: Snap,
    /// Build only the max-zoom COG group (each COG keeps its internal overviews).
    #[arg(long)]
    pub no_pyramid: bool,
    /// Default: bilinear for continuous data, nearest for the rest.
    #[arg(long, value_enum)]
    pub resampling: Option<Resampling>,
    /// Where sources overlap: the first valid pixel in list order (default), the last, or
    /// per band the min, max or mean of the valid values.
    #[arg(long, value_enum, default_value = "first")]
    pub merge: MergeMode,
    /// Tile compression. ZSTD (libzstd, GDAL's default level 9) by default; floating-point
    /// layers are written for fast decoding (raw literals, longer matches: 1-2% larger on
    /// real DEMs, decoded about twice as fast), which is what every tile request pays.
    /// `deflate` for readers older than GDAL 2.3.
    #[arg(long, value_enum, default_value = "zstd")]
    pub compress: CompressArg,
    /// The unit of the values, e.g. `m`, `ft`, `US survey foot` (default: the first
    /// source's GDAL unit type, if any). Slope and hillshade convert elevations to metres
    /// with it.
    #[arg(long)]
    pub unit: Option<String>,
}

impl LayerArgs {
    fn options(&self) -> Result<LayerOptions, IngestError> {
        Ok(LayerOptions {
            layer: self.meta.layer.clone(),
            name: self.meta.name.clone(),
            description: self.meta.description.clone(),
            datatype: self.meta.datatype.into(),
            nodata: self.nodata.as_deref().map(parse_nodata).transpose()?,
            srid: self.srid,
            max_zoom: self.max_zoom,
            snap: self.snap,
            no_pyramid: self.no_pyramid,
            resampling: self.resampling,
            compression: self.compress.into(),
            merge: self.merge,
            unit: self.unit.clone(),
            legend: self
                .meta
                .legend
                .as_deref()
                .map(legend::load_legend)
                .transpose()?,
        })
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

#[derive(clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub sources: SourceArgs,
    #[command(flatten)]
    pub layer: LayerArgs,
    #[command(flatten)]
    pub store: StoreArg,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub sources: SourceArgs,
    #[command(flatten)]
    pub layer: LayerArgs,
    #[command(flatten)]
    pub store: StoreArg,
    /// Also write the plan here (it is always stored under the new version's prefix).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct RegisterArgs {
    /// A key of the store (upload the file there first) or an http(s):// URL that answers
    /// range requests.
    pub url: String,
    #[command(flatten)]
    pub meta: LayerMetaArgs,
    #[command(flatten)]
    pub store: StoreArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DatatypeArg {
    Continuous,
    Categorical,
    Mask,
    RankOrdered,
}

impl From<DatatypeArg> for Datatype {
    fn from(d: DatatypeArg) -> Datatype {
        match d {
            DatatypeArg::Continuous => Datatype::Continuous,
            DatatypeArg::Categorical => Datatype::Categorical,
            DatatypeArg::Mask => Datatype::Mask,
            DatatypeArg::RankOrdered => Datatype::RankOrdered,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CompressArg {
    Deflate,
    Zstd,
    Lzw,
    None,
}

impl From<CompressArg> for Compression {
    fn from(c: CompressArg) -> Compression {
        match c {
            CompressArg::Deflate => Compression::Deflate,
            CompressArg::Zstd => Compression::Zstd,
            CompressArg::Lzw => Compression::Lzw,
            CompressArg::None => Compression::None,
        }
    }
}

fn runtime() -> Result<Arc<tokio::runtime::Runtime>, IngestError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| IngestError::Io(format!("cannot start the I/O runtime: {e}")))
}

fn run(cli: Cli) -> Result<(), IngestError> {
    let rt = runtime()?;
    match cli.command {
        Command::Add(args) => {
            let store = store::Store::open(&args.store.store, rt)?;
            let options = args.layer.options()?;
            let urls =
                sources::expand(&args.sources.sources, args.sources.list.as_deref(), &store)?;
            add::add(&urls, &options, &store, &args.store.store, args.quiet).map(|_| ())
        }
        Command::Plan(args) => plan(&args, rt),
        Command::RunUnit { plan, n, quiet } => run_one_unit(&plan, n, quiet, rt),
        Command::Commit { plan } => commit_plan(&plan, rt),
        Command::Info { id, store } => commands::info(&store::Store::open(&store.store, rt)?, &id),
        Command::List { store } => commands::list(&store::Store::open(&store.store, rt)?),
        Command::Validate { id, store } => {
            commands::validate(&store::Store::open(&store.store, rt)?, &id)
        }
        Command::Remove { id, store } => {
            commands::remove(&store::Store::open(&store.store, rt)?, &id)
        }
        Command::Stats {
            layer,
            features,
            out,
            zoom,
            categorical,
            quiet,
            store,
        } => crate::zonal::run(
            &crate::zonal::ZonalJob {
                store: &store.store,
                layer: &layer,
                features: &features,
                zoom,
                categorical,
                out: &out,
                quiet,
            },
            &rt,
        ),
        Command::Register(args) => {
            let request = register::RegisterRequest {
                url: args.url,
                layer: args.meta.layer,
                name: args.meta.name,
                description: args.meta.description,
                datatype: args.meta.datatype.into(),
                legend: args.meta.legend,
            };
            register::register(&request, &store::Store::open(&args.store.store, rt)?)
        }
        Command::Legend(cmd) => match cmd {
            LegendCommand::Put { name, file, store } => {
                legend::put(&store::Store::open(&store.store, rt)?, &name, &file)
            }
            LegendCommand::Get { name, store } => {
                legend::get(&store::Store::open(&store.store, rt)?, &name)
            }
            LegendCommand::List { store } => legend::list(&store::Store::open(&store.store, rt)?),
            LegendCommand::Remove { name, store } => {
                legend::remove(&store::Store::open(&store.store, rt)?, &name)
            }
        },
    }
}

fn plan(args: &PlanArgs, rt: Arc<tokio::runtime::Runtime>) -> Result<(), IngestError> {
    let store = store::Store::open(&args.store.store, rt)?;
    let options = args.layer.options()?;
    let urls = sources::expand(&args.sources.sources, args.sources.list.as_deref(), &store)?;
    let plan = LayerPlan::build(&urls, &options, &store, &args.store.store)?;
    let json = plan.to_json()?;
    store.put(&plan.key(), json.clone())?;
    if let Some(out) = &args.out {
        std::fs::write(out, &json)
            .map_err(|e| IngestError::Io(format!("{}: {e}", out.display())))?;
    }
    println!("{}", plan.describe());
    println!("plan stored at {}", plan.url());
    Ok(())
}

fn run_one_unit(
    plan: &str,
    n: usize,
    quiet: bool,
    rt: Arc<tokio::runtime::Runtime>,
) -> Result<(), IngestError> {
    let plan = LayerPlan::load(plan, rt.clone())?;
    let store = store::Store::open(&plan.store, rt)?;
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(add::style(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} tiles, ETA {eta}",
    ));
    let outcome = run_unit(&plan, n, &store, &SourcePool::default(), &bar)?;
    bar.finish_and_clear();
    let (r, verb) = match &outcome {
        Outcome::Built(r) => (r, "built"),
        Outcome::AlreadyDone(r) => (r, "was already done"),
    };
    let object = r.object.as_ref().map_or_else(
        || "no object (no valid pixel)".to_owned(),
        |o| format!("{} bytes", o.size),
    );
    let a = r.anchor;
    println!(
        "unit {n} {verb}: stage {}, COG {}/{}/{}, {} tile(s), {object}",
        r.stage, a.z, a.x, a.y, r.tiles
    );
    Ok(())
}

fn commit_plan(plan: &str, rt: Arc<tokio::runtime::Runtime>) -> Result<(), IngestError> {
    let plan = LayerPlan::load(plan, rt.clone())?;
    let store = store::Store::open(&plan.store, rt)?;
    let log = crate::publish::ParseLog::default();
    let m = commit::commit(&plan, &store, &log)?;
    log.info(&format!("published version {}", m.version));
    log.save(&store, &m.id)?;
    let bytes: u64 = m.objects.iter().map(|o| o.size).sum();
    println!(
        "published {} version {}: zoom {}..{}, {} COG(s), {:.1} MB",
        m.id,
        m.version,
        m.min_zoom,
        m.max_zoom,
        m.objects.len(),
        bytes as f64 / 1e6
    );
    Ok(())
}

/// Parses the arguments, runs the command and prints any error as one line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the error: messages from libraries may carry newlines.
            let msg = e.to_string().replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::from(if matches!(e, IngestError::Usage(_)) {
                2
            } else {
                1
            })
        }
    }
}
