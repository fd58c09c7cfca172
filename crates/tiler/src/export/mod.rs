//! `/export/{layer}.{tif,png,jpg}`: the pixels of a box (or a POSTed polygon's box)
//! stitched from the XYZ tiles of one zoom (GeoPySpark's `stitch`, TiTiler's `/bbox`).
//! `/export.{tif,png,jpg}?layers=...&formula=...` (`formula`) does the same with a
//! formula's result tiles; the canvas, the plan and the reply here serve both.
//!
//! Three steps, as everywhere in this crate: plan (`plan`: the query, the pixel window,
//! the zoom under the size limits; every 400 is raised here, after the manifest and before
//! any tile byte), fetch (the window's tiles, a tile row at a time, one coalesced read per
//! COG, decoded one tile at a time), then stitch and encode (`raw`, `stitch`, `encode`: pure,
//! on bytes; a GeoTIFF's finished strips are compressed and freed while later rows read).

mod encode;
mod formula;
mod mask;
mod plan;
mod raw;
mod stitch;

use std::future::Future;
use std::sync::Arc;

use futures_util::{StreamExt, stream};
use tilefn_catalog::Datatype;
use tilefn_geometry::{Crs, Input, Limits, parse_text};
use tilefn_raster::{Block, Bounds, DataType, TILE_SIZE, TileCoord};
use tilefn_render::{Enhancement, Rgba};
use tilefn_storage::Bucket;

use self::encode::TiffEncoder;
pub use self::formula::{FormulaExportRequest, formula_export_request};
use self::mask::Mask;
pub use self::plan::{ExportQuery, MAX_EXPORT_BYTES, MAX_EXPORT_SIDE, Window, export_query};
use self::raw::RawCanvas;
use self::stitch::{ImageCanvas, overlap};
use crate::convert::BandMask;
use crate::etag;
use crate::layer::{Layer, Legend};
use crate::paint::{Painter, finish};
use crate::read::decode_fetched;
use crate::route::{Format, Route, StyleQuery, stem_and_format, style_query};
use crate::service::{Caching, Reply};
use crate::zonal::body_text;
use crate::{Request, Service, TileError};

/// Tile rows read at once: the next row's bytes arrive while this one is decoded.
const ROWS_IN_FLIGHT: usize = 2;

/// One `/export` request, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    pub layer: String,
    pub format: Format,
    pub query: ExportQuery,
    /// Style parameters of `/tiles` (PNG and JPEG; `v=` pins the version for every format).
    pub style: StyleQuery,
    /// A POST's polygons (GeoJSON or WKT, in `query.crs`): the export is their box, and the
    /// pixels outside them are nodata (GeoTIFF) or transparent (PNG).
    pub input: Option<Input>,
}

/// The export routes of a request's path segments: `/export/{layer}.{ext}` and the
/// formula's `/export.{ext}`; `None` for any other path. `body` is a POST's.
pub fn export_route(
    segments: &[String],
    query: &str,
    body: Option<&[u8]>,
) -> Option<Result<Route, TileError>> {
    match segments {
        [first, file] if first == "export" => {
            Some(export_request(file, query, body).map(Route::Export))
        }
        [file]
            if file
                .split_once('.')
                .is_some_and(|(stem, _)| stem == "export") =>
        {
            Some(formula_export_request(file, query, body).map(Route::FormulaExport))
        }
        _ => None,
    }
}

/// Parses `/export/{file}`, its query and a POST's `body`: `file` is
/// `{layer}.{tif|png|jpg|jpeg}`.
pub fn export_request(
    file: &str,
    query: &str,
    body: Option<&[u8]>,
) -> Result<ExportRequest, TileError> {
    let (id, format) = stem_and_format(file)?;
    let query_params = export_query(query)?;
    Ok(ExportRequest {
        layer: crate::route::layer_id(id)?,
        format,
        input: polygon_body(body, query_params.crs)?,
        query: query_params,
        style: style_query(query)?,
    })
}

/// A POST's polygons (GeoJSON or WKT in `crs`); `None` for a GET.
fn polygon_body(body: Option<&[u8]>, crs: Crs) -> Result<Option<Input>, TileError> {
    let Some(bytes) = body else {
        return Ok(None);
    };
    let text = body_text(bytes)?;
    parse_text(&text, crs, &Limits::default())
        .map(Some)
        .map_err(|e| TileError::bad("body", e.to_string()))
}

/// What a GeoTIFF export stores: its samples' type and count and how validity is written.
struct RawSamples {
    bands: usize,
    dtype: DataType,
    /// `None`: an internal mask marks validity.
    nodata: Option<f64>,
    /// Overviews pick a pixel rather than average (no class is invented).
    categorical: bool,
}

/// What the read tiles are stitched into: raw samples with the encoder that takes each
/// finished strip, or painted pixels.
enum Canvas {
    Raw(RawCanvas, Box<TiffEncoder>),
    Image(ImageCanvas),
}

impl Canvas {
    /// An empty canvas of the window: raw `samples` for a GeoTIFF, else painted pixels.
    fn new(format: Format, window: &Window, samples: &RawSamples) -> Result<Canvas, TileError> {
        let (w, h) = (window.width as usize, window.height as usize);
        if format != Format::Tiff {
            return Ok(Canvas::Image(ImageCanvas::new(w, h)));
        }
        let fill = samples.nodata.unwrap_or(0.0);
        let raw = RawCanvas::new(w, h, samples.bands, samples.dtype, fill);
        let encoder = TiffEncoder::new(&raw, window, samples.categorical, samples.nodata)?;
        Ok(Canvas::Raw(raw, Box::new(encoder)))
    }

    /// Pastes a read tile (`paint` colours it for PNG and JPEG), then clears its pixels
    /// outside the POSTed polygons.
    fn paste(
        &mut self,
        o: stitch::Overlap,
        block: &Block,
        paint: impl FnOnce(&Block) -> Result<Rgba, TileError>,
        mask: Option<&Mask>,
    ) -> Result<(), TileError> {
        match self {
            Canvas::Raw(raw, _) => raw.paste(o, block),
            Canvas::Image(img) => img.paste(o, &paint(block)?),
        }
        for (row, cols) in mask.into_iter().flat_map(|m| mask::outside(m, o)) {
            for col in cols {
                match self {
                    Canvas::Raw(raw, _) => raw.clear(col, row),
                    Canvas::Image(img) => img.clear(col, row),
                }
            }
        }
        Ok(())
    }

    /// Every global pixel row above `row_end` is pasted: a GeoTIFF encodes and frees the
    /// window's strips that lie wholly above it.
    fn rows_done(&mut self, window: &Window, row_end: u64) -> Result<(), TileError> {
        if let Canvas::Raw(raw, encoder) = self {
            let done = row_end.saturating_sub(window.row0);
            encoder.strips_ready(raw, usize::try_from(done).unwrap_or(usize::MAX))?;
        }
        Ok(())
    }

    /// The encoded file.
    fn finish(self, format: Format, enhance: &Enhancement) -> Result<Vec<u8>, TileError> {
        match self {
            Canvas::Raw(raw, encoder) => encoder.finish(raw),
            Canvas::Image(img) => finish(img.image, format, enhance),
        }
    }
}

/// The reply of an export whose body `render` makes. A POST (`tag` `None`) is never
/// cached: its answer depends on the body, which no ETag covers; a GET answers 304 to a
/// matching `If-None-Match` without rendering.
async fn export_reply(
    req: &Request,
    format: Format,
    tag: Option<(String, Caching)>,
    render: impl Future<Output = Result<Vec<u8>, TileError>>,
) -> Result<Reply, TileError> {
    let (etag, caching) = match tag {
        Some((tag, caching)) => {
            if let Some(not_modified) = Reply::conditional(req, tag.clone(), caching) {
                return Ok(not_modified);
            }
            (Some(tag), caching)
        }
        None => (None, Caching::NoStore),
    };
    Ok(Reply {
        status: 200,
        content_type: Some(format.content_type()),
        body: render.await?,
        etag,
        caching,
    })
}

impl<B: Bucket> Service<B> {
    /// An export, retried once with a fresh manifest when an object changed mid-read.
    pub(crate) async fn export(
        &self,
        e: &ExportRequest,
        req: &Request,
    ) -> Result<Reply, TileError> {
        match self.export_once(e, req).await {
            Err(err) if err.is_stale() && e.style.version.is_none() => {
                log::info!("export {}: {err}; retrying with a fresh manifest", e.layer);
                self.forget_layer(&e.layer);
                self.export_once(e, req).await
            }
            other => other,
        }
    }

    async fn export_once(&self, e: &ExportRequest, req: &Request) -> Result<Reply, TileError> {
        let layer = self
            .layer(&e.layer, e.style.version.as_deref(), req.now_ms)
            .await?;
        let legend: Option<Arc<Legend>> = match &e.style.legend {
            Some(name) => Some(self.legend(name, req.now_ms).await?),
            None => None,
        };
        let m = &layer.manifest;
        let painter = Painter::new(m, e.format, &e.style, legend.as_ref().map(|l| &l.value))?;
        let sample_bytes = (m.band_count * m.dtype.size()) as u64;
        let (window, mask) = plan_window(
            e.input.as_ref(),
            &e.query,
            layer.stored_zooms(),
            e.format,
            sample_bytes,
        )?;
        let tag = match mask {
            Some(_) => None,
            None => {
                let caching = match e.style.version {
                    Some(_) => Caching::Immutable,
                    None => Caching::MaxAge(self.config.max_age),
                };
                let tag = etag::strong(&[
                    "export",
                    &e.layer,
                    &m.version,
                    &window.canonical(),
                    e.format.ext(),
                    &e.style.canonical(),
                    &painter.canonical(),
                ]);
                Some((tag, caching))
            }
        };
        let body = self.render_export(&layer, &window, e, &painter, mask.as_ref());
        export_reply(req, e.format, tag, body).await
    }

    /// Reads the window's tiles, stitches and encodes them.
    async fn render_export(
        &self,
        layer: &Layer,
        window: &Window,
        e: &ExportRequest,
        painter: &Painter,
        mask: Option<&Mask>,
    ) -> Result<Vec<u8>, TileError> {
        let m = &layer.manifest;
        let samples = RawSamples {
            bands: m.band_count,
            dtype: m.dtype,
            nodata: m.nodata,
            categorical: m.datatype != Datatype::Continuous,
        };
        let mut canvas = Canvas::new(e.format, window, &samples)?;
        let rows: Vec<(u64, Vec<TileCoord>)> = window_tiles(window, mask)
            .into_iter()
            .map(|(ty, row)| (ty, row.into_iter().filter(|t| layer.covers(*t)).collect()))
            .collect();
        // A tile row is one coalesced read per COG, still compressed; the next row is read
        // while this one is decoded, pasted (one block at a time) and encoded.
        let mut reads = stream::iter(rows)
            .map(|(ty, row)| async move {
                Ok::<_, TileError>((ty, self.fetch_stored(layer, &row).await?))
            })
            .buffered(ROWS_IN_FLIGHT);
        while let Some(next) = reads.next().await {
            let (ty, fetched) = next?;
            for tile in &fetched {
                let Some(o) = overlap(window, tile.located.tile) else {
                    continue;
                };
                if let Some(block) = decode_fetched(layer, tile, BandMask::ALL)? {
                    canvas.paste(o, &block, |b| painter.paint(b), mask)?;
                }
            }
            // Window rows above the next tile row are complete: encode and free them.
            canvas.rows_done(window, (ty + 1) * u64::from(TILE_SIZE))?;
        }
        canvas.finish(e.format, &e.style.enhance)
    }
}

/// The window and, for a POST, the polygons' pixels in it: every 400 of an export's size.
/// `zooms` are the stored zooms to choose from, `sample_bytes` a GeoTIFF pixel's bytes.
fn plan_window(
    input: Option<&Input>,
    query: &ExportQuery,
    zooms: (u8, u8),
    format: Format,
    sample_bytes: u64,
) -> Result<(Window, Option<Mask>), TileError> {
    let bbox: Bounds = match input {
        Some(input) => mask::polygon_box(input, query.bbox)?,
        None => query.bbox.ok_or_else(|| {
            TileError::bad("bbox", "required: minx,miny,maxx,maxy (or POST a polygon)")
        })?,
    };
    let window = plan::choose(&bbox, query.zoom, zooms, format, sample_bytes)?;
    let mask = match input {
        Some(input) => Some(Mask::new(input, &window)?),
        None => None,
    };
    Ok((window, mask))
}

/// The tiles of the window's zoom under it that may hold a kept pixel (all of them
/// without a mask): each tile row (its `y`) and its tiles.
fn window_tiles(w: &Window, mask: Option<&Mask>) -> Vec<(u64, Vec<TileCoord>)> {
    let ts = u64::from(TILE_SIZE);
    if w.width == 0 || w.height == 0 {
        return Vec::new();
    }
    let (x0, x1) = (w.col0 / ts, (w.col0 + w.width - 1) / ts);
    let (y0, y1) = (w.row0 / ts, (w.row0 + w.height - 1) / ts);
    (y0..=y1)
        .map(|y| {
            let row = (x0..=x1)
                .filter_map(|x| TileCoord::checked(u32::from(w.z), x, y))
                .filter(|t| mask::wanted(mask, *t))
                .collect();
            (y, row)
        })
        .collect()
}
