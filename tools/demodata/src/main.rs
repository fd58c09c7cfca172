//! `tilefn-demodata`: deterministic demo and benchmark GeoTIFFs, made from seeded noise so
//! tests and benchmarks need no downloads and get the same bytes on every machine.
//!
//! ```text
//! tilefn-demodata dem --size 8192 --out dem.tif            float32 DEM, EPSG:32633, nodata -9999
//! tilefn-demodata multispectral --size 2048 --out ms.tif   4 x uint16 B/G/R/NIR, EPSG:4326, nodata 0
//! tilefn-demodata landcover --size 2048 --out lc.tif       uint8 classes 1..8, EPSG:32633, nodata 0
//! tilefn-demodata rgb --size 8192 --out rgb.tif            3 x uint8 RGB, EPSG:4326
//! tilefn-demodata all --out-dir demo [--size 2048]         all four
//! tilefn-demodata srtm-tiles --out-dir srtm [--count 14000] [--list srtm/list.txt]
//!                                  one-degree SRTM-like headers (one shared tile each)
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use tilefn_demodata::{DEFAULT_SEED, Encoding, Kind, srtm};

#[derive(Parser)]
#[command(
    name = "tilefn-demodata",
    version,
    about = "Deterministic demo and benchmark GeoTIFFs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Float32 DEM (metres), UTM 33N (EPSG:32633), 30 m pixels in the eastern Alps, nodata -9999.
    Dem(One),
    /// 4-band uint16 blue/green/red/NIR reflectance x 10000, EPSG:4326, nodata 0.
    Multispectral(One),
    /// Uint8 land-cover classes 1..8, EPSG:32633, nodata 0.
    Landcover(One),
    /// 3-band uint8 RGB orthophoto, EPSG:4326, no nodata (the ingest benchmark input).
    Rgb(One),
    /// The whole demo set: dem.tif, multispectral.tif, landcover.tif and rgb.tif.
    All {
        #[arg(long)]
        out_dir: PathBuf,
        #[arg(long, default_value_t = 2048)]
        size: u32,
        #[command(flatten)]
        common: Common,
    },
    /// COUNT one-degree SRTM-like DEMs (3601x3601 int16, EPSG:4326, nodata -32768) named
    /// N45E006.tif etc., on land-like cells between 56S and 60N. Every tile offset points at
    /// one shared tile, so each file is a few KB: full headers for planning, no real data.
    /// Also writes LIST: one absolute path per line, most land-like cell first, so its first
    /// N lines are the files COUNT=N would write.
    SrtmTiles(SrtmArgs),
}

#[derive(Args)]
struct SrtmArgs {
    #[arg(long)]
    out_dir: PathBuf,
    #[arg(long, default_value_t = 14_000)]
    count: usize,
    /// Default: OUT_DIR/list.txt.
    #[arg(long)]
    list: Option<PathBuf>,
    /// Internal tile side (a multiple of 16).
    #[arg(long, default_value_t = 256)]
    tile_size: u32,
    /// Chooses a different set of cells.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Generate every pixel (real-looking terrain, ~10 MB and seconds a file) instead of one
    /// shared tile: inputs for measuring what an ingested DEM pyramid weighs.
    #[arg(long)]
    terrain: bool,
}

#[derive(Args)]
struct One {
    /// Width and height in pixels.
    #[arg(long)]
    size: u32,
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Clone, Copy)]
struct Common {
    /// Changes every scene while keeping it deterministic.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// zlib level for DEFLATE strips (0-9); 6 matches GDAL's default.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(0..=9))]
    level: u8,
    /// Write uncompressed strips without a predictor.
    #[arg(long)]
    uncompressed: bool,
}

impl Common {
    fn encoding(self) -> Encoding {
        Encoding {
            deflate_level: (!self.uncompressed).then_some(self.level),
            predictor: !self.uncompressed,
            ..tilefn_demodata::default_encoding()
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), tilefn_demodata::Error> {
    let (jobs, common): (Vec<(Kind, u32, PathBuf)>, Common) = match cli.command {
        Command::Dem(o) => (vec![(Kind::Dem, o.size, o.out)], o.common),
        Command::Multispectral(o) => (vec![(Kind::Multispectral, o.size, o.out)], o.common),
        Command::Landcover(o) => (vec![(Kind::Landcover, o.size, o.out)], o.common),
        Command::Rgb(o) => (vec![(Kind::Rgb, o.size, o.out)], o.common),
        Command::SrtmTiles(a) => return srtm_tiles(&a),
        Command::All {
            out_dir,
            size,
            common,
        } => {
            std::fs::create_dir_all(&out_dir)?;
            let jobs = Kind::ALL
                .into_iter()
                .map(|k| (k, size, out_dir.join(format!("{}.tif", k.name()))))
                .collect();
            (jobs, common)
        }
    };
    for (kind, size, out) in jobs {
        if size == 0 || size > 65_536 {
            return Err(format!("--size must be 1..=65536, got {size}").into());
        }
        let start = Instant::now();
        let scene = kind.scene(size, common.seed);
        tilefn_demodata::geotiff::write(&out, scene.as_ref(), &common.encoding())
            .map_err(|e| format!("writing {}: {e}", out.display()))?;
        println!(
            "{}: {} ({size}x{size}, {} bytes, {:.1} s)",
            kind.name(),
            out.display(),
            file_len(&out),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn srtm_tiles(a: &SrtmArgs) -> Result<(), tilefn_demodata::Error> {
    let start = Instant::now();
    let cells = srtm::land_cells(a.seed, a.count)?;
    let list = a.list.clone().unwrap_or_else(|| a.out_dir.join("list.txt"));
    let content = if a.terrain {
        srtm::Content::Terrain { seed: a.seed }
    } else {
        srtm::Content::Headers {
            tile_size: a.tile_size,
        }
    };
    let w = srtm::write_tiles(&a.out_dir, &cells, content, &list)?;
    println!(
        "srtm-tiles: {} files in {}, {} bytes, list {} ({:.1} s)",
        w.files,
        a.out_dir.display(),
        w.bytes,
        list.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}
