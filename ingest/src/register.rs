//! `tilefn-ingest register URL --layer ID`: serve an existing web-optimized COG as a layer
//! without re-ingesting it. Only a manifest is written.
//!
//! Accepted: a COG in EPSG:3857 whose every level is on the XYZ grid, as
//! `rio cogeo create --web-optimized` and GDAL's COG driver with
//! `TILING_SCHEME=GoogleMapsCompatible` make them: 256×256 tiles, square pixels at exactly a
//! zoom's resolution, and an origin on a tile corner of that zoom. Anything else would need
//! resampling per request, which is what `add` exists to avoid, so it is refused with the
//! reason. Statistics come from the coarsest level (a few tiles), not the full resolution,
//! which a register must not read; the manifest records that in the parse log.

use tilefn_catalog::{
    BandInfo, BandStats, Datatype, ExternalCog, ExternalLevel, LayerBounds, MANIFEST_FORMAT,
    Manifest, SourceInfo, validate_layer_id,
};
use tilefn_cog::read::{HeaderParse, Ifd, Limits, Tiff, decode_tile, parse_header};
use tilefn_raster::{Block, DataType, TileCoord, mercator};
use tilefn_storage::{ObjectStoreObject, RangeRead};

use crate::IngestError;
use crate::legend::load_legend;
use crate::publish::{ParseLog, new_version, now_rfc3339, publish, read_manifest};
use crate::stats::{BandAcc, Bucketing, tile_stats};
use crate::store::Store;

/// Headers of web-optimized COGs are small; 64 KiB covers most in one read.
const FIRST_READ: u64 = 64 * 1024;
/// The coarsest level is read whole for statistics; more tiles than this means the COG's
/// overviews stop too early to be served fast at low zooms either.
const MAX_STATS_TILES: usize = 64;
/// Relative tolerance for "this resolution is zoom z's": GDAL writes the exact double.
const RES_TOLERANCE: f64 = 1e-6;

/// What `register` is asked to do.
pub struct RegisterRequest {
    /// A key of the store, or an http(s):// URL that answers range requests.
    pub url: String,
    pub layer: String,
    pub name: Option<String>,
    pub description: String,
    pub datatype: Datatype,
    pub legend: Option<std::path::PathBuf>,
}

pub fn register(args: &RegisterRequest, store: &Store) -> Result<(), IngestError> {
    validate_layer_id(&args.layer).map_err(|e| IngestError::Usage(e.to_string()))?;
    let legend = args.legend.as_deref().map(load_legend).transpose()?;
    let reader = store.reader(&args.url)?;
    let rt = store.runtime();
    let (size, etag) = rt
        .block_on(async {
            Ok::<_, tilefn_storage::StorageError>((reader.len().await?, reader.etag()))
        })
        .map_err(|e| IngestError::Store(format!("{}: {e}", args.url)))?;
    let limits = Limits::default();
    let (tiff, header_len) = read_header(&reader, rt, size, &limits, &args.url)?;
    let (levels, masked) = grid_levels(&tiff)?;
    let first = tiff
        .ifds
        .get(levels[0].ifd)
        .ok_or_else(|| not_web("no image"))?;
    let dtype = first
        .dtype
        .ok_or_else(|| IngestError::Invalid(format!("{}: unsupported sample type", args.url)))?;
    let alpha = first.extra_samples.contains(&2) || first.extra_samples.contains(&1);
    let bands = usize::from(first.samples) - usize::from(alpha);
    let nodata = first.nodata;

    let coarsest = levels.last().ok_or_else(|| not_web("no image"))?;
    let stats_ifd = tiff
        .ifds
        .get(coarsest.ifd)
        .ok_or_else(|| not_web("no image"))?;
    let bucketing = Bucketing::for_dtype(dtype);
    // With internal masks, each image IFD's mask is the IFD after it (checked above).
    let mask_ifd = if masked {
        tiff.ifds.get(coarsest.ifd + 1)
    } else {
        None
    };
    let validity = Validity {
        alpha,
        mask: mask_ifd,
    };
    let stats = level_stats(
        &reader, rt, &tiff, stats_ifd, bands, validity, nodata, &limits,
    )?;

    let z = levels[0].zoom;
    let res = mercator::resolution(z);
    let min_x = -mercator::ORIGIN_SHIFT + f64::from(levels[0].col_offset) * 256.0 * res;
    let max_y = mercator::ORIGIN_SHIFT - f64::from(levels[0].row_offset) * 256.0 * res;
    let merc = [
        min_x,
        max_y - f64::from(first.height) * res,
        min_x + f64::from(first.width) * res,
        max_y,
    ];
    let (w, s) = mercator::mercator_to_lonlat(merc[0], merc[1]);
    let (e, n) = mercator::mercator_to_lonlat(merc[2], merc[3]);
    let datatype = args.datatype;
    let previous = read_manifest(store, &args.layer)?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        id: args.layer.clone(),
        name: args.name.clone().unwrap_or_else(|| args.layer.clone()),
        description: args.description.clone(),
        datatype,
        version: new_version(),
        created: now_rfc3339(),
        source: SourceInfo {
            file: args.url.rsplit('/').next().unwrap_or(&args.url).to_owned(),
            crs: "EPSG:3857".to_owned(),
            proj4: "+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs".to_owned(),
            width: first.width,
            height: first.height,
            dtype,
            count: None,
        },
        bounds: LayerBounds {
            lonlat: [w, s, e, n],
            mercator: merc,
        },
        min_zoom: coarsest.zoom,
        max_zoom: z,
        tile_size: 256,
        dtype,
        band_count: bands,
        alpha,
        mask: masked,
        nodata,
        bands: stats
            .iter()
            .enumerate()
            .map(|(i, acc)| BandInfo {
                index: i,
                dtype,
                nodata,
                // Counted over the coarsest overview, not the max zoom: its quantiles would
                // claim a precision the layer's pixels do not back, so none are published.
                unit: crate::source::describe::unit(first),
                stats: acc.finish(bucketing).map(|s| BandStats {
                    quantiles: None,
                    ..s
                }),
            })
            .collect(),
        compression: format!("tiff-{}", first.compression),
        resampling: "external".to_owned(),
        groups: Vec::new(),
        prefix: String::new(),
        objects: Vec::new(),
        legend,
        external: Some(ExternalCog {
            url: args.url.clone(),
            size,
            etag: etag.unwrap_or_default(),
            header_len,
            levels,
        }),
    };
    publish(
        store,
        &manifest,
        previous.as_ref().map(|m| m.version.as_str()),
    )?;
    let log = ParseLog::default();
    log.info(&format!(
        "registered {} as layer {} (zooms {}..{}, no pixels copied; statistics from the z{} overview)",
        args.url, args.layer, manifest.min_zoom, manifest.max_zoom, manifest.min_zoom
    ));
    log.save(store, &args.layer)?;
    println!(
        "registered {} as {} (version {}, z{}..{})",
        args.url, args.layer, manifest.version, manifest.min_zoom, manifest.max_zoom
    );
    Ok(())
}

fn not_web(why: &str) -> IngestError {
    IngestError::Invalid(format!(
        "not a web-optimized COG ({why}); make one with `rio cogeo create --web-optimized` or ingest it with `tilefn-ingest add`"
    ))
}

/// Reads the header with as few requests as possible, then finds the shortest prefix that
/// still parses, so the tile service's one header read is exact.
fn read_header(
    reader: &ObjectStoreObject,
    rt: &tokio::runtime::Runtime,
    size: u64,
    limits: &Limits,
    url: &str,
) -> Result<(Tiff, u64), IngestError> {
    let mut want = FIRST_READ.min(size);
    loop {
        let prefix = rt
            .block_on(reader.read_range(0..want))
            .map_err(|e| IngestError::Store(format!("{url}: {e}")))?;
        match parse_header(&prefix, limits)? {
            HeaderParse::Complete(tiff) => {
                // Binary search for the shortest complete prefix (parsing is cheap).
                let (mut lo, mut hi) = (8u64, want);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    let end = usize::try_from(mid).unwrap_or(usize::MAX).min(prefix.len());
                    match parse_header(prefix.get(..end).unwrap_or(&prefix), limits) {
                        Ok(HeaderParse::Complete(_)) => hi = mid,
                        _ => lo = mid + 1,
                    }
                }
                return Ok((tiff, hi));
            }
            HeaderParse::NeedMore { min_len } => {
                if min_len > size || min_len <= want {
                    return Err(IngestError::Invalid(format!(
                        "{url}: truncated TIFF header"
                    )));
                }
                want = min_len.max(want * 2).min(size);
            }
        }
    }
}

/// Where every image IFD sits in the XYZ grid, full resolution first, and whether the file
/// has internal masks; or why it does not fit. Masks must be laid out as GDAL (and our
/// ingest) write them: each image IFD directly followed by its mask IFD, which is what the
/// tile service reads (`manifest.mask`).
fn grid_levels(tiff: &Tiff) -> Result<(Vec<ExternalLevel>, bool), IngestError> {
    let images: Vec<(usize, &Ifd)> = tiff
        .ifds
        .iter()
        .enumerate()
        .filter(|(_, ifd)| !ifd.is_mask())
        .collect();
    let masked = images.len() < tiff.ifds.len();
    if masked {
        for (i, image) in &images {
            let paired = tiff.ifds.get(i + 1).is_some_and(|m| {
                m.is_mask()
                    && (m.width, m.height) == (image.width, image.height)
                    && (m.tile_width, m.tile_height, m.tiled) == (256, 256, true)
            });
            if !paired {
                return Err(not_web(
                    "its internal masks are not laid out as GDAL writes them (each image \
                     IFD followed by its 256x256-tiled mask IFD)",
                ));
            }
        }
    }
    let first = images
        .first()
        .map(|(_, ifd)| *ifd)
        .ok_or_else(|| not_web("no image"))?;
    let epsg = projected_epsg(first);
    if epsg != Some(3857) {
        return Err(not_web(&format!(
            "CRS is {}, not EPSG:3857",
            epsg.map_or_else(|| "unknown".to_owned(), |c| format!("EPSG:{c}"))
        )));
    }
    let (Some(scale), Some(tie)) = (&first.model_pixel_scale, &first.model_tiepoint) else {
        return Err(not_web("no tiepoint and pixel scale"));
    };
    let (sx, sy) = (scale.first().copied(), scale.get(1).copied());
    let (Some(sx), Some(sy)) = (sx, sy) else {
        return Err(not_web("short ModelPixelScale"));
    };
    if tie.len() < 6 || (sx - sy).abs() > sx.abs() * RES_TOLERANCE {
        return Err(not_web("pixels are not square"));
    }
    let x0 = tie[3] - tie[0] * sx;
    let y0 = tie[4] + tie[1] * sy;
    let mut levels = Vec::new();
    for (i, ifd) in images {
        if ifd.tile_width != 256 || ifd.tile_height != 256 || !ifd.tiled {
            return Err(not_web(&format!("level {i} is not tiled 256x256")));
        }
        let res = sx * f64::from(first.width) / f64::from(ifd.width);
        let zoom = zoom_of(res).ok_or_else(|| {
            not_web(&format!(
                "level {i} resolution {res} m is not a zoom level's"
            ))
        })?;
        let tile_m = 256.0 * mercator::resolution(zoom);
        let col = (x0 + mercator::ORIGIN_SHIFT) / tile_m;
        let row = (mercator::ORIGIN_SHIFT - y0) / tile_m;
        let on_grid = |v: f64| v >= -0.5 && (v - v.round()).abs() < 1e-6 && v < f64::from(u32::MAX);
        if !on_grid(col) || !on_grid(row) {
            return Err(not_web(&format!(
                "level {i} (z{zoom}) origin is not on a tile corner"
            )));
        }
        if levels
            .last()
            .is_some_and(|l: &ExternalLevel| l.zoom <= zoom)
        {
            return Err(not_web("overviews are not in decreasing resolution"));
        }
        levels.push(ExternalLevel {
            ifd: i,
            zoom,
            col_offset: col.round() as u32,
            row_offset: row.round() as u32,
        });
    }
    Ok((levels, masked))
}

/// ProjectedCSTypeGeoKey (3072) from the GeoKeyDirectory, when stored inline.
fn projected_epsg(ifd: &Ifd) -> Option<u16> {
    let keys = &ifd.geo_key_directory;
    keys.get(4..)?
        .chunks_exact(4)
        .find(|k| k[0] == 3072 && k[1] == 0)
        .map(|k| k[3])
}

fn zoom_of(res: f64) -> Option<u8> {
    (0..=mercator::MAX_ZOOM).find(|&z| {
        let r = mercator::resolution(z);
        (res - r).abs() <= r * RES_TOLERANCE
    })
}

/// Where a registered file keeps pixel validity besides its nodata value.
#[derive(Clone, Copy)]
struct Validity<'a> {
    /// The last sample is alpha (0 = invalid).
    alpha: bool,
    /// The level's internal mask IFD (0 = invalid).
    mask: Option<&'a Ifd>,
}

/// Statistics of the valid pixels of one whole level.
#[allow(clippy::too_many_arguments)]
fn level_stats(
    reader: &ObjectStoreObject,
    rt: &tokio::runtime::Runtime,
    tiff: &Tiff,
    ifd: &Ifd,
    bands: usize,
    validity: Validity,
    nodata: Option<f64>,
    limits: &Limits,
) -> Result<Vec<BandAcc>, IngestError> {
    let alpha = validity.alpha;
    let dtype = ifd.dtype.unwrap_or(DataType::Uint8);
    let bucketing = Bucketing::for_dtype(dtype);
    let (across, down) = (ifd.tiles_across(), ifd.tiles_down());
    if (across as usize) * (down as usize) > MAX_STATS_TILES {
        return Err(not_web(&format!(
            "the coarsest overview has {across}x{down} tiles; add overviews down to one tile"
        )));
    }
    let mut total = vec![BandAcc::default(); bands];
    let samples = usize::from(ifd.samples);
    let size = dtype.size();
    for row in 0..down {
        for col in 0..across {
            let Some(range) = ifd.tile_range(col, row) else {
                continue; // sparse tile: nothing to count
            };
            let read = |range| {
                rt.block_on(reader.read_range(range))
                    .map_err(|e| IngestError::Store(e.to_string()))
            };
            let mask = match validity.mask {
                Some(m) => match m.tile_range(col, row) {
                    // A missing mask tile masks the whole tile, as GDAL reads it.
                    None => continue,
                    Some(r) => Some(decode_tile(tiff, m, &read(r)?, limits)?),
                },
                None => None,
            };
            let raw = decode_tile(tiff, ifd, &read(range)?, limits)?;
            let n = 256 * 256;
            let mut block = Block::empty(256, 256, bands, dtype, 0.0);
            for p in 0..n {
                let mut ok = true;
                for s in 0..samples {
                    let off = (p * samples + s) * size;
                    let v = raw
                        .get(off..off + size)
                        .and_then(|b| dtype.read_le(b))
                        .unwrap_or(0.0);
                    if s < bands {
                        block.values[s * n + p] = v;
                    } else if alpha && v == 0.0 {
                        ok = false;
                    }
                }
                let unmasked = mask
                    .as_ref()
                    .is_none_or(|m| m.get(p).is_some_and(|b| *b != 0));
                block.valid[p] = ok && unmasked;
            }
            // The tile coordinate only places class areas, which `for_dtype` does not count.
            let at = TileCoord::new(0, col, row);
            for (acc, t) in total
                .iter_mut()
                .zip(tile_stats(at, &block, nodata, bucketing, &[]))
            {
                acc.merge(t);
            }
        }
    }
    Ok(total)
}
