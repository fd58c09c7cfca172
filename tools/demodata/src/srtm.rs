//! Synthetic SRTM-like one-degree DEM tiles for planet-scale planning tests (issue 16).
//!
//! Each file has the exact header of a 1 arc-second SRTM tile (3601 × 3601 int16,
//! EPSG:4326, pixel-is-area with the half-pixel overlap of the real tiles, nodata -32768,
//! tiled) but only one compressed tile of data, shared by every tile offset: a file is a few
//! KB, so 14,000 of them fit in ~60 MB and write in seconds. They exist to exercise what reads
//! headers (`tilefn-ingest plan`), not to be rendered: the content is one gently sloping
//! block repeated, at a height that varies from file to file.
//!
//! `Content::Terrain` writes the same headers over real-looking terrain instead (striped,
//! ~10 MB a file), to measure what a pyramid of such data weighs once ingested.
//!
//! Which cells exist is decided by smooth noise over longitude and latitude, thresholded so
//! that exactly `count` cells between 56°S and 60°N (SRTM's coverage) are "land": they form
//! continents and islands rather than a checkerboard, so a planner sees realistic adjacency.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::geotiff::{self, Crs, Encoding, Error, Georef, Layout, Sample, Scene};
use crate::noise::{fbm_row, ridged_row, subseed};

/// Pixels per side: one degree at 1 arc-second, plus the row and column shared with the
/// neighbouring tiles.
pub const SIZE: u32 = 3601;
pub const NODATA: i16 = -32768;
/// Southernmost and northernmost cell edges SRTM covers.
pub const SOUTH: i32 = -56;
pub const NORTH: i32 = 60;
/// Cells in the covered band: 360 × 116.
pub const CELLS: usize = 360 * (NORTH - SOUTH) as usize;
/// Continents are this many degrees across, roughly; the noise's base wavelength.
const WAVELENGTH_DEG: f64 = 35.0;

/// One one-degree cell, named by its south-west corner as SRTM names its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub lat: i32,
    pub lon: i32,
    /// Height of the cell's repeated block, so neighbouring files differ.
    pub elevation: i16,
}

impl Cell {
    /// `N45E006`, `S12W077`: hemisphere letters and zero-padded degrees of the SW corner.
    pub fn name(&self) -> String {
        let ns = if self.lat < 0 { 'S' } else { 'N' };
        let ew = if self.lon < 0 { 'W' } else { 'E' };
        format!(
            "{ns}{:02}{ew}{:03}",
            self.lat.unsigned_abs(),
            self.lon.unsigned_abs()
        )
    }

    /// The SRTM header: pixel centres fall on whole arc-seconds from the corner, so the image
    /// edge sits half a pixel outside the one-degree cell on every side.
    pub fn layout(&self) -> Layout {
        let pixel = 1.0 / 3600.0;
        Layout {
            width: SIZE,
            height: SIZE,
            bands: 1,
            sample: Sample::I16,
            rgb: false,
            georef: Georef {
                crs: Crs::Geographic(4326),
                origin_x: f64::from(self.lon) - 0.5 * pixel,
                origin_y: f64::from(self.lat + 1) + 0.5 * pixel,
                pixel_x: pixel,
                pixel_y: pixel,
            },
            nodata: Some(NODATA.to_string()),
        }
    }

    /// One tile of samples: the cell's elevation plus a ramp of up to 2 × side / 32 metres,
    /// so the predictor and codec have something other than a constant to work on.
    pub fn block(&self, tile_size: u32) -> Vec<u8> {
        let side = tile_size as usize;
        let mut out = Vec::with_capacity(side * side * 2);
        for y in 0..side {
            for x in 0..side {
                let ramp = i16::try_from((x + y) / 32).unwrap_or(i16::MAX);
                out.extend_from_slice(&self.elevation.saturating_add(ramp).to_ne_bytes());
            }
        }
        out
    }
}

/// The `count` most land-like cells under `seed`, most land-like first: cutting the list
/// after its first N lines gives exactly the cells `count = N` would, so subsets nest.
pub fn land_cells(seed: u64, count: usize) -> Result<Vec<Cell>, Error> {
    if count == 0 || count > CELLS {
        return Err(format!("count must be 1..={CELLS}, got {count}").into());
    }
    let seed = subseed(seed, 16);
    let mut scored = Vec::with_capacity(CELLS);
    let mut row = vec![0.0; 360];
    for lat in SOUTH..NORTH {
        // Noise is sampled at cell centres, in units of the continent wavelength.
        let y = (f64::from(lat) + 0.5) / WAVELENGTH_DEG;
        let x0 = (-180.0 + 0.5) / WAVELENGTH_DEG;
        fbm_row(seed, y, x0, 1.0 / WAVELENGTH_DEG, 5, 0.5, &mut row);
        for (lon, score) in (-180..180).zip(&row) {
            scored.push((*score, lat, lon));
        }
    }
    // Highest score first; ties (which exact arithmetic makes unlikely) by position, so the
    // order is total and the same everywhere.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    Ok(scored
        .into_iter()
        .take(count)
        .map(|(score, lat, lon)| Cell {
            lat,
            lon,
            elevation: elevation(score),
        })
        .collect())
}

/// Metres from the land score: the fbm sits near 0.5, so land (the top third) starts around
/// 0.55; scale so that the highest cells reach a few thousand metres.
fn elevation(score: f64) -> i16 {
    ((score - 0.5) * 12_000.0).clamp(1.0, 6000.0) as i16
}

/// DEFLATE with the horizontal predictor, as `gdal_translate -co COMPRESS=DEFLATE
/// -co PREDICTOR=2` writes SRTM mosaics.
pub fn encoding() -> Encoding {
    Encoding {
        deflate_level: Some(6),
        predictor: true,
        strip_bytes: 0,
    }
}

/// Striped like the real SRTM GeoTIFFs (~256 KiB strips), deflate with the predictor.
fn terrain_encoding() -> Encoding {
    Encoding {
        strip_bytes: 256 * 1024,
        ..encoding()
    }
}

/// Real-looking terrain over a cell, in whole metres as SRTM stores it: ridged mountains
/// inside massifs, rolling hills between them (the `Dem` scene's recipe at 30 m). Noise is
/// sampled at longitude and latitude, so neighbouring cells join up and their shared edge
/// row and column agree.
pub struct Terrain {
    pub cell: Cell,
    pub seed: u64,
}

/// Noise wavelengths in degrees (~111 km): massifs ~80 km, hills ~20 km, ridges ~15 km.
const MASSIF_DEG: f64 = 0.72;
const HILLS_DEG: f64 = 0.18;
const RIDGE_DEG: f64 = 0.135;

impl Scene for Terrain {
    fn layout(&self) -> Layout {
        self.cell.layout()
    }

    fn fill_row(&self, y: u32, out: &mut [u8]) {
        let w = SIZE as usize;
        let px = 1.0 / 3600.0;
        // Pixel centres sit on whole arc-seconds; noise y grows southwards like image rows.
        let lat = f64::from(self.cell.lat + 1) - f64::from(y) * px;
        let lon = f64::from(self.cell.lon);
        let octave_row = |seed: u64, deg: f64, octaves: u32, ridged: bool| {
            let mut row = vec![0.0; w];
            let (yy, x0, dx) = (-lat / deg, lon / deg, px / deg);
            if ridged {
                ridged_row(seed, yy, x0, dx, octaves, &mut row);
            } else {
                fbm_row(seed, yy, x0, dx, octaves, 0.5, &mut row);
            }
            row
        };
        let massif = octave_row(subseed(self.seed, 1), MASSIF_DEG, 3, false);
        let hills = octave_row(subseed(self.seed, 2), HILLS_DEG, 10, false);
        let ridge = octave_row(subseed(self.seed, 3), RIDGE_DEG, 9, true);
        for x in 0..w {
            let m = (massif[x] * 1.6 - 0.3).clamp(0.0, 1.0);
            let r = ridge[x] * (0.3 + hills[x]);
            let z = f64::from(self.cell.elevation) / 4.0
                + 700.0 * hills[x] * hills[x]
                + m * 3400.0 * r * r;
            let z = z.round() as i16;
            out[2 * x..2 * x + 2].copy_from_slice(&z.to_ne_bytes());
        }
    }
}

/// What each file holds.
#[derive(Debug, Clone, Copy)]
pub enum Content {
    /// One shared tile of this side behind every tile offset: a few KB a file.
    Headers { tile_size: u32 },
    /// Every pixel generated (`Terrain`), in strips: ~10 MB and a few seconds a file.
    Terrain { seed: u64 },
}

/// What `write_tiles` wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Written {
    pub files: usize,
    pub bytes: u64,
}

/// Writes `cells` into `out_dir` as `NAME.tif` on a few threads, then `list` with one
/// absolute path per line in the order of `cells` (ingest's `--sources` format).
pub fn write_tiles(
    out_dir: &Path,
    cells: &[Cell],
    content: Content,
    list: &Path,
) -> Result<Written, Error> {
    std::fs::create_dir_all(out_dir)?;
    // Absolute, so the list works from any working directory.
    let out_dir = std::fs::canonicalize(out_dir)?;
    // Terrain files are written by the strip writer, which has threads of its own.
    let threads = match content {
        Content::Headers { .. } => std::thread::available_parallelism().map_or(1, |n| n.get()),
        Content::Terrain { .. } => 1,
    }
    .min(8);
    let results: Vec<Result<Written, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let out_dir = &out_dir;
                s.spawn(move || write_share(out_dir, cells, content, t, threads))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a writer thread panicked".into()))
            })
            .collect()
    });
    let mut total = Written::default();
    for r in results {
        let w = r?;
        total.files += w.files;
        total.bytes += w.bytes;
    }
    write_list(list, cells.iter().map(|c| path_of(&out_dir, c)))?;
    Ok(total)
}

/// Thread `t` of `threads` writes every `threads`-th cell.
fn write_share(
    out_dir: &Path,
    cells: &[Cell],
    content: Content,
    t: usize,
    threads: usize,
) -> Result<Written, Error> {
    let mut w = Written::default();
    for cell in cells.iter().skip(t).step_by(threads) {
        let path = path_of(out_dir, cell);
        let bytes = match content {
            Content::Headers { tile_size } => geotiff::write_repeated_tile(
                &path,
                &cell.layout(),
                tile_size,
                &cell.block(tile_size),
                &encoding(),
            ),
            Content::Terrain { seed } => {
                let scene = Terrain { cell: *cell, seed };
                geotiff::write(&path, &scene, &terrain_encoding())
                    .and_then(|()| Ok(std::fs::metadata(&path)?.len()))
            }
        };
        w.bytes += bytes.map_err(|e| format!("writing {}: {e}", path.display()))?;
        w.files += 1;
    }
    Ok(w)
}

fn path_of(dir: &Path, cell: &Cell) -> PathBuf {
    dir.join(format!("{}.tif", cell.name()))
}

fn write_list(list: &Path, paths: impl Iterator<Item = PathBuf>) -> Result<(), Error> {
    if let Some(parent) = list.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut text = Vec::new();
    for p in paths {
        let s = p
            .to_str()
            .ok_or_else(|| format!("path is not UTF-8: {}", p.display()))?;
        writeln!(text, "{s}")?;
    }
    std::fs::write(list, text)?;
    Ok(())
}
