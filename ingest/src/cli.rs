//! The command line: clap's view of the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tilefn_catalog::Datatype;
use tilefn_cog::write::Compression;

use crate::plan::Snap;
use crate::resample::Resampling;
use crate::{IngestError, add, commands, legend, register, store};

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
    /// Ingest SOURCE (a path, http(s):// URL or s3://bucket/key) as layer ID.
    Add(AddArgs),
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

#[derive(clap::Args)]
pub struct AddArgs {
    pub source: String,
    #[arg(long)]
    pub layer: String,
    #[command(flatten)]
    pub store: StoreArg,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, default_value = "")]
    pub description: String,
    #[arg(long, value_enum, default_value = "continuous")]
    pub datatype: DatatypeArg,
    /// Override the source's nodata value ("nan" accepted).
    #[arg(long, allow_hyphen_values = true)]
    pub nodata: Option<String>,
    /// Override the source's CRS with this EPSG code.
    #[arg(long)]
    pub srid: Option<u32>,
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
    /// The layer's default legend (django-raster legend JSON), stored in the manifest.
    #[arg(long)]
    pub legend: Option<PathBuf>,
    /// Tile compression. ZSTD (libzstd, GDAL's default level 9) by default; floating-point
    /// layers are written for fast decoding (raw literals, longer matches: 1-2% larger on
    /// real DEMs, decoded about twice as fast), which is what every tile request pays.
    /// `deflate` for readers older than GDAL 2.3.
    #[arg(long, value_enum, default_value = "zstd")]
    pub compress: CompressArg,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(clap::Args)]
pub struct RegisterArgs {
    /// A key of the store (upload the file there first) or an http(s):// URL that answers
    /// range requests.
    pub url: String,
    #[arg(long)]
    pub layer: String,
    #[command(flatten)]
    pub store: StoreArg,
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
            let store = store::Store::open(&args.store.store, rt.clone())?;
            add::add(&args, &store, rt)
        }
        Command::Info { id, store } => commands::info(&store::Store::open(&store.store, rt)?, &id),
        Command::List { store } => commands::list(&store::Store::open(&store.store, rt)?),
        Command::Validate { id, store } => {
            commands::validate(&store::Store::open(&store.store, rt)?, &id)
        }
        Command::Remove { id, store } => {
            commands::remove(&store::Store::open(&store.store, rt)?, &id)
        }
        Command::Register(args) => {
            register::register(&args, &store::Store::open(&args.store.store, rt)?)
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
