//! `/export/{layer}.{tif,png,jpg}`: the pixels of a box (or a POSTed polygon's box)
//! stitched from the XYZ tiles of one zoom (GeoPySpark's `stitch`, TiTiler's `/bbox`).
//!
//! Three steps, as everywhere in this crate: plan (`plan`: the query, the pixel window,
//! the zoom under the size limits; every 400 is raised here, after the manifest and before
//! any tile byte), fetch (the window's tiles, a tile row at a time, one coalesced read per
//! COG, decoded one tile at a time), then stitch and encode (`raw`, `stitch`, `encode`: pure,
//! on bytes; a GeoTIFF's finished strips are compressed and freed while later rows read).

mod encode;
mod mask;
mod plan;
mod raw;
mod stitch;

use std::sync::Arc;

use futures_util::{StreamExt, stream};
use tilefn_catalog::Datatype;
use tilefn_geometry::{Input, Limits, parse_text};
use tilefn_raster::{Block, TILE_SIZE, TileCoord};
use tilefn_storage::Bucket;

use self::encode::TiffEncoder;
use self::mask::Mask;
pub use self::plan::{ExportQuery, MAX_EXPORT_BYTES, MAX_EXPORT_SIDE, Window, export_query};
use self::raw::RawCanvas;
use self::stitch::{ImageCanvas, overlap};
use crate::convert::BandMask;
use crate::etag;
use crate::layer::{Layer, Legend};
use crate::paint::{Painter, finish};
use crate::read::decode_fetched;
use crate::route::{Format, StyleQuery, stem_and_format, style_query};
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

/// Parses `/export/{file}`, its query and a POST's `body`: `file` is
/// `{layer}.{tif|png|jpg|jpeg}`.
pub fn export_request(
    file: &str,
    query: &str,
    body: Option<&[u8]>,
) -> Result<ExportRequest, TileError> {
    let (id, format) = stem_and_format(file)?;
    let query_params = export_query(query)?;
    let input = match body {
        Some(bytes) => {
            let text = body_text(bytes)?;
            let input = parse_text(&text, query_params.crs, &Limits::default())
                .map_err(|e| TileError::bad("body", e.to_string()))?;
            Some(input)
        }
        None => None,
    };
    Ok(ExportRequest {
        layer: crate::route::layer_id(id)?,
        format,
        query: query_params,
        style: style_query(query)?,
        input,
    })
}

/// What the read tiles are stitched into: raw samples with the encoder that takes each
/// finished strip, or painted pixels.
enum Canvas {
    Raw(RawCanvas, Box<TiffEncoder>),
    Image(ImageCanvas),
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
        let (window, mask) = plan_export(e, &layer)?;
        if mask.is_some() {
            // A POST: the answer depends on the body, which no ETag here covers.
            let body = self.render_export(&layer, &window, e, &painter, mask.as_ref());
            return Ok(Reply {
                status: 200,
                content_type: Some(e.format.content_type()),
                body: body.await?,
                etag: None,
                caching: Caching::NoStore,
            });
        }
        let caching = match e.style.version {
            Some(_) => Caching::Immutable,
            None => Caching::MaxAge(self.config.max_age),
        };
        let tag = etag::strong(&[
            "export",
            &e.layer,
            &m.version,
            &format!(
                "{}/{}/{}/{}x{}",
                window.z, window.col0, window.row0, window.width, window.height
            ),
            e.format.ext(),
            &e.style.canonical(),
            &painter.canonical(),
        ]);
        if let Some(not_modified) = Reply::conditional(req, tag.clone(), caching) {
            return Ok(not_modified);
        }
        let body = self
            .render_export(&layer, &window, e, &painter, None)
            .await?;
        Ok(Reply {
            status: 200,
            content_type: Some(e.format.content_type()),
            body,
            etag: Some(tag),
            caching,
        })
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
        let (w, h) = (window.width as usize, window.height as usize);
        let mut canvas = match e.format {
            Format::Tiff => {
                let fill = m.nodata.unwrap_or(0.0);
                let raw = RawCanvas::new(w, h, m.band_count, m.dtype, fill);
                let categorical = m.datatype != Datatype::Continuous;
                let encoder = TiffEncoder::new(&raw, window, categorical, m.nodata)?;
                Canvas::Raw(raw, Box::new(encoder))
            }
            _ => Canvas::Image(ImageCanvas::new(w, h)),
        };
        let rows: Vec<(u64, Vec<TileCoord>)> = window_tiles(window)
            .into_iter()
            .map(|(ty, row)| {
                let row = row
                    .into_iter()
                    .filter(|t| layer.covers(*t) && mask::wanted(mask, *t))
                    .collect();
                (ty, row)
            })
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
                    paste(&mut canvas, o, &block, painter, mask)?;
                }
            }
            // Window rows above the next tile row are complete: encode and free them.
            if let Canvas::Raw(raw, encoder) = &mut canvas {
                let below = ((ty + 1) * u64::from(TILE_SIZE)).saturating_sub(window.row0);
                encoder.strips_ready(raw, usize::try_from(below).unwrap_or(usize::MAX))?;
            }
        }
        match canvas {
            Canvas::Raw(raw, encoder) => encoder.finish(raw),
            Canvas::Image(img) => finish(img.image, e.format, &e.style.enhance),
        }
    }
}

/// Pastes a read tile, then clears its pixels outside the POSTed polygons.
fn paste(
    canvas: &mut Canvas,
    o: stitch::Overlap,
    block: &Block,
    painter: &Painter,
    mask: Option<&Mask>,
) -> Result<(), TileError> {
    match canvas {
        Canvas::Raw(raw, _) => raw.paste(o, block),
        Canvas::Image(img) => img.paste(o, &painter.paint(block)?),
    }
    for (row, cols) in mask.into_iter().flat_map(|m| mask::outside(m, o)) {
        for col in cols {
            match canvas {
                Canvas::Raw(raw, _) => raw.clear(col, row),
                Canvas::Image(img) => img.clear(col, row),
            }
        }
    }
    Ok(())
}

/// The window, and for a POST the polygons' pixels in it: every 400 of an export.
fn plan_export(e: &ExportRequest, layer: &Layer) -> Result<(Window, Option<Mask>), TileError> {
    let m = &layer.manifest;
    let bbox = match &e.input {
        Some(input) => mask::polygon_box(input, e.query.bbox)?,
        None => e.query.bbox.ok_or_else(|| {
            TileError::bad("bbox", "required: minx,miny,maxx,maxy (or POST a polygon)")
        })?,
    };
    let sample_bytes = (m.band_count * m.dtype.size()) as u64;
    let zooms = layer.stored_zooms();
    let window = plan::choose(&bbox, e.query.zoom, zooms, e.format, sample_bytes)?;
    let mask = match &e.input {
        Some(input) => Some(Mask::new(input, &window)?),
        None => None,
    };
    Ok((window, mask))
}

/// The tiles of the window's zoom under it: each tile row (its `y`) and its tiles.
fn window_tiles(w: &Window) -> Vec<(u64, Vec<TileCoord>)> {
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
                .collect();
            (y, row)
        })
        .collect()
}
