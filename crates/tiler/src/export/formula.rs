//! `/export.{tif,png,jpg}?layers=...&formula=...`: a formula's result over a box (or a
//! POSTed polygon's box), stitched from the same tiles `/algebra` serves.
//!
//! Each tile of the window comes from [`Service::formula_tile`], the one place a formula is
//! evaluated on a tile (neighbourhoods read from the tile's halo), so an export's pixels are
//! those of the stitched `/algebra/{z}/{x}/{y}.tif` tiles of the same formula and zoom, and
//! its PNG is painted as `/algebra` paints them. The window, its limits, the polygon mask
//! and the encoders are the layer export's (`super`); what differs is where a tile's
//! values come from, the zooms (those of the bound layers together, as `/statistics` of a
//! formula has them) and the samples: one float32 band, NaN nodata.
//!
//! Every 400 comes before a tile is read: the query's from parsing (`algebra_query`: the
//! formula with its byte position, unbound variables, one tile's neighbourhood cost), the
//! window's size while planning, and the neighbourhood work over all the window's tiles
//! right after it.

use futures_util::{StreamExt, stream};
use tilefn_algebra::{Expr, Output};
use tilefn_geometry::Input;
use tilefn_raster::{Block, DataType, TILE_SIZE, TileCoord};
use tilefn_render::{Rgba, Style};
use tilefn_storage::Bucket;

use super::mask::Mask;
use super::stitch::overlap;
use super::{
    Canvas, ExportQuery, RawSamples, Window, export_query, export_reply, plan_window, polygon_body,
    window_tiles,
};
use crate::algebra::{Layers, check_formula_style, formula_zooms, versions};
use crate::etag;
use crate::layer::Legend;
use crate::neighbourhood::check_cost;
use crate::query::{AlgebraQuery, Mode, QueryKind, algebra_query};
use crate::route::{Format, stem_and_format};
use crate::service::{Caching, Reply};
use crate::{Request, Service, TileError};

const TS: usize = TILE_SIZE as usize;
/// Bytes of a GeoTIFF pixel: one float32 sample, as `/algebra` tiles are.
const RESULT_SAMPLE_BYTES: u64 = 4;
/// Tiles evaluated at once: each reads its layers (and halo) while others are evaluated,
/// and holds a few decoded tiles of memory, so a handful, as `/statistics` of a formula.
const TILES_IN_FLIGHT: usize = 4;

/// One formula `/export`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct FormulaExportRequest {
    pub format: Format,
    /// The `/algebra` query: bindings, formula, style and terrain parameters.
    pub formula: AlgebraQuery,
    /// `bbox=`, `crs=` and `zoom=`, as the layer export takes them.
    pub query: ExportQuery,
    /// A POST's polygons: the export is their box, pixels outside them nodata.
    pub input: Option<Input>,
}

/// Parses `/export.{tif|png|jpg|jpeg}` (`file`), its query and a POST's `body`.
pub fn formula_export_request(
    file: &str,
    query: &str,
    body: Option<&[u8]>,
) -> Result<FormulaExportRequest, TileError> {
    let (stem, format) = stem_and_format(file)?;
    if stem != "export" {
        return Err(TileError::NotFound(format!("no route for /{file}")));
    }
    // The formula first, as on `/algebra`: its mistakes are the most useful to report.
    let formula = algebra_query(query, QueryKind::Pixel)?;
    let export = export_query(query)?;
    Ok(FormulaExportRequest {
        format,
        formula,
        input: polygon_body(body, export.crs)?,
        query: export,
    })
}

/// A tile of the formula's result as a one-band float32 block; a NaN is nodata there (the
/// file's nodata value), so it is invalid and no overview averages it in.
fn result_block(out: Output) -> Block {
    let valid = out
        .valid
        .iter()
        .zip(&out.values)
        .map(|(ok, v)| *ok && !v.is_nan())
        .collect();
    Block {
        width: TS,
        height: TS,
        bands: 1,
        dtype: DataType::Float32,
        values: out.values,
        valid,
    }
}

/// A result tile painted with the formula's style (PNG and JPEG have one).
fn paint(style: Option<&Style>, block: &Block) -> Result<Rgba, TileError> {
    let style = style.ok_or_else(|| TileError::Render("a GeoTIFF is not painted".into()))?;
    Ok(style.paint(&block.values, &block.valid, block.width, block.height))
}

impl<B: Bucket> Service<B> {
    /// A formula export, retried once with fresh manifests after a stale read.
    pub(crate) async fn formula_export(
        &self,
        e: &FormulaExportRequest,
        req: &Request,
    ) -> Result<Reply, TileError> {
        match self.formula_export_once(e, req).await {
            Err(err) if err.is_stale() => {
                log::info!("formula export: {err}; retrying with fresh manifests");
                self.forget_layers(&e.formula);
                self.formula_export_once(e, req).await
            }
            other => other,
        }
    }

    async fn formula_export_once(
        &self,
        e: &FormulaExportRequest,
        req: &Request,
    ) -> Result<Reply, TileError> {
        let q = &e.formula;
        let Mode::Formula(expr) = &q.mode else {
            return Err(TileError::bad("formula", "required for /export"));
        };
        let layers = self.bound_layers(q, req.now_ms).await?;
        let legend = match &q.style.legend {
            Some(name) => Some(self.legend(name, req.now_ms).await?),
            None => None,
        };
        if e.format != Format::Tiff {
            check_formula_style(&q.style, legend.as_deref())?;
        }
        let zooms = formula_zooms(&layers);
        let (window, mask) = plan_window(
            e.input.as_ref(),
            &e.query,
            zooms,
            e.format,
            RESULT_SAMPLE_BYTES,
        )?;
        let tiles: Vec<TileCoord> = window_tiles(&window, mask.as_ref())
            .into_iter()
            .flat_map(|(_, row)| row)
            .collect();
        check_cost(expr, tiles.len() as u64)?;
        // A GET's tag: the pixels, the query's meaning and every bound layer's version.
        let tag = mask.is_none().then(|| {
            let legend_digest = legend.as_ref().map_or("", |l| l.digest.as_str());
            let tag = etag::strong(&[
                "export",
                "formula",
                &window.canonical(),
                e.format.ext(),
                &q.canonical(),
                &versions(&layers),
                legend_digest,
            ]);
            (tag, Caching::MaxAge(self.config.max_age))
        });
        let target = FormulaTarget {
            expr,
            layers: &layers,
            window: &window,
            mask: mask.as_ref(),
        };
        let body = self.render_formula_export(&target, e, legend.as_deref(), tiles);
        export_reply(req, e.format, tag, body).await
    }

    /// Evaluates the formula on `tiles` (row order), stitches and encodes them.
    async fn render_formula_export(
        &self,
        target: &FormulaTarget<'_>,
        e: &FormulaExportRequest,
        legend: Option<&Legend>,
        tiles: Vec<TileCoord>,
    ) -> Result<Vec<u8>, TileError> {
        let (q, expr, layers, window) = (&e.formula, target.expr, target.layers, target.window);
        let style = match e.format {
            Format::Tiff => None,
            _ => Some(self.formula_style(expr, q, layers, legend).await?),
        };
        let samples = RawSamples {
            bands: 1,
            dtype: DataType::Float32,
            nodata: Some(f64::NAN),
            categorical: false,
        };
        let mut canvas = Canvas::new(e.format, window, &samples)?;
        let reductions = self.gather_reductions(expr, q, layers).await?;
        let reductions = &reductions;
        let mut results = stream::iter(tiles)
            .map(|t| async move {
                let out = self.formula_tile(expr, q, layers, reductions, t).await?;
                Ok::<_, TileError>((t, out))
            })
            .buffered(TILES_IN_FLIGHT);
        while let Some(next) = results.next().await {
            let (t, out) = next?;
            // Tiles arrive in row order: the rows above this tile's row are all pasted.
            canvas.rows_done(window, u64::from(t.y) * TS as u64)?;
            let (Some(out), Some(o)) = (out, overlap(window, t)) else {
                continue;
            };
            let block = result_block(out);
            canvas.paste(o, &block, |b| paint(style.as_ref(), b), target.mask)?;
        }
        canvas.finish(e.format, &q.style.enhance)
    }
}

/// What a formula export evaluates, and where.
struct FormulaTarget<'a> {
    expr: &'a Expr,
    layers: &'a Layers,
    window: &'a Window,
    /// A POST's polygon pixels.
    mask: Option<&'a Mask>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Route, parse, parse_request};

    const QUERY: &str = "layers=a=dem&formula=slope(a)&bbox=0,0,1,1";

    #[test]
    fn export_dot_ext_is_the_formula_export() -> Result<(), TileError> {
        let Route::FormulaExport(e) = parse("/export.tif", QUERY)? else {
            return Err(TileError::bad("test", "not a formula export"));
        };
        assert_eq!((e.format, e.input.is_none()), (Format::Tiff, true));
        assert!(matches!(&e.formula.mode, Mode::Formula(x) if x.halo() == 1));
        let square = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#;
        let posted = parse_request(true, "/export.jpeg", QUERY, square.as_bytes())?;
        assert!(
            matches!(posted, Route::FormulaExport(e) if e.input.is_some() && e.format == Format::Jpeg)
        );
        // The layer export keeps its path; near misses are unknown.
        assert!(matches!(parse("/export/dem.tif", QUERY)?, Route::Export(_)));
        for path in ["/export", "/exports.tif", "/export.x.tif", "/export.tif/x"] {
            assert!(
                matches!(parse(path, QUERY), Err(TileError::NotFound(_))),
                "{path}"
            );
        }
        Ok(())
    }
}
