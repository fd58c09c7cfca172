//! `/algebra/{z}/{x}/{y}` and `/pixel/{x}/{y}`: formulas over bound layers, and RGB
//! composites (django-raster's raster algebra and RGB endpoints).
//!
//! Each distinct layer is read once per request (a layer bound twice, `a:0=ms,b:3=ms`, is one
//! range read: our COGs are pixel-interleaved, so every band of a tile is one range), and
//! the layers are read concurrently. Layers of different zooms combine through
//! [`Service::read_tile`]'s zoom rules: the coarser one is over-zoomed.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::try_join_all;
use serde_json::json;
use tilefn_algebra::{Bindings, Column, EvalError, Expr, Reduction, evaluate};
use tilefn_raster::mercator::{ORIGIN_SHIFT, resolution};
use tilefn_raster::{Block, DataType, TILE_SIZE, TileCoord};
use tilefn_render::{LayerContext, StatsSummary, Style, StyleParams, encode_geotiff, render_rgb};
use tilefn_storage::Bucket;

use crate::convert::BandMask;
use crate::etag;
use crate::layer::{Layer, Legend};
use crate::neighbourhood::{check_cost, padded_cells};
use crate::overview::MAX_OVERVIEW_TILES;
use crate::paint::{self, band, band_context, render_error};
use crate::query::{AlgebraQuery, Binding, Mode, PixelRequest};
use crate::route::{AlgebraRequest, Format, StyleQuery};
use crate::service::{Caching, Reply};
use crate::{Request, Service, TileError};

const TS: usize = TILE_SIZE as usize;
/// Most bands (summed over the distinct bound layers) decoded for one request: each is a
/// 512 KiB `f64` tile, and a Worker isolate has 128 MB. The same as one layer's band cap.
pub const MAX_DECODED_BANDS: usize = 64;

/// The manifests of the layers a query reads, by id.
pub(crate) type Layers = BTreeMap<String, Arc<Layer>>;
/// One tile (or one pixel) of each layer; `None` where a layer has no data.
pub(crate) type Blocks = BTreeMap<String, Option<Block>>;

/// A formula's variables bound to the columns of the blocks read for one tile or pixel.
pub(crate) struct Columns<'a> {
    pub query: &'a AlgebraQuery,
    pub layers: &'a Layers,
    pub blocks: &'a Blocks,
    pub reductions: &'a BTreeMap<String, f64>,
    /// All-invalid stand-ins for layers without data here (`where(x == NULL, 0, x)` can
    /// still give a value). Made only when some layer has no block: a tile's worth of zeroed
    /// memory per request showed in profiles (memset and page faults, ~2% of an NDVI tile).
    empty_values: Vec<f64>,
    empty_valid: Vec<bool>,
}

impl<'a> Columns<'a> {
    pub fn new(
        query: &'a AlgebraQuery,
        layers: &'a Layers,
        blocks: &'a Blocks,
        reductions: &'a BTreeMap<String, f64>,
        len: usize,
    ) -> Self {
        let stand_in = if query
            .bindings
            .iter()
            .any(|b| !matches!(blocks.get(&b.layer), Some(Some(_))))
        {
            len
        } else {
            0
        };
        Columns {
            query,
            layers,
            blocks,
            reductions,
            empty_values: vec![0.0; stand_in],
            empty_valid: vec![false; stand_in],
        }
    }
}

impl Bindings for Columns<'_> {
    fn column(&self, name: &str) -> Option<Column<'_>> {
        let binding = self.query.binding(name)?;
        let nodata = self.layers.get(&binding.layer)?.manifest.nodata;
        match self.blocks.get(&binding.layer) {
            Some(Some(block)) => Some(Column {
                values: bound_band(self.query, block, binding),
                valid: &block.valid,
                nodata,
            }),
            _ => Some(Column {
                values: &self.empty_values,
                valid: &self.empty_valid,
                nodata,
            }),
        }
    }

    fn reduction(&self, r: &Reduction) -> Option<f64> {
        self.reductions.get(&r.canonical()).copied()
    }
}

/// The bands of layer `id` that the query binds: what [`Service::read_layers`] reads.
pub(crate) fn bound_bands(q: &AlgebraQuery, id: &str) -> BandMask {
    q.bindings
        .iter()
        .filter(|b| b.layer == id)
        .fold(BandMask::NONE, |mask, b| mask.with(b.band))
}

/// A binding's values in its layer's block, which holds only the bound bands.
fn bound_band<'a>(q: &AlgebraQuery, block: &'a Block, b: &Binding) -> &'a [f64] {
    match bound_bands(q, &b.layer).position(b.band) {
        Some(i) => band(block, i),
        None => &[],
    }
}

/// Binding mistakes are caught while parsing; reaching one here is a bug, reported as 400.
pub(crate) fn eval_error(err: EvalError) -> TileError {
    TileError::bad("formula", err.to_string())
}

/// `id@version` of every layer, for ETags.
pub(crate) fn versions(layers: &Layers) -> String {
    let parts: Vec<String> = layers
        .iter()
        .map(|(id, l)| format!("{id}@{}", l.manifest.version))
        .collect();
    parts.join(",")
}

/// The zooms a formula's result has: from the coarsest zoom every bound layer stores to
/// the finest any stores (the others over-zoomed there, as on `/algebra` tiles).
pub(crate) fn formula_zooms(layers: &Layers) -> (u8, u8) {
    let zooms = layers.values().map(|l| l.stored_zooms());
    let min_zoom = zooms.clone().map(|z| z.0).max().unwrap_or(0);
    let max_zoom = zooms.map(|z| z.1).max().unwrap_or(0).max(min_zoom);
    (min_zoom, max_zoom)
}

/// The style of a formula's result (the `legend=` JSON if any, else the layer-free default).
fn compile_style(
    style: &StyleQuery,
    legend: Option<&Legend>,
    ctx: &LayerContext,
) -> Result<Style, TileError> {
    let params = StyleParams {
        colormap: style.colormap.as_deref(),
        colormap_name: style.colormap_name.as_deref(),
        rescale: style.rescale.as_deref(),
        legend: legend.map(|l| &l.value),
        entries: style.entries.as_deref(),
    };
    Style::compile(&params, ctx).map_err(render_error)
}

/// Reports the mistakes of a formula's style (an unknown colormap name) before anything is
/// read: compiled against a context without statistics, which any style accepts.
pub(crate) fn check_formula_style(
    style: &StyleQuery,
    legend: Option<&Legend>,
) -> Result<(), TileError> {
    let probe = LayerContext {
        dtype: DataType::Float64,
        categorical: false,
        stats: None,
    };
    compile_style(style, legend, &probe).map(|_| ())
}

impl<B: Bucket> Service<B> {
    /// The current manifests of the query's layers (fetched concurrently), with every
    /// binding's band checked against its layer.
    pub(crate) async fn bound_layers(
        &self,
        q: &AlgebraQuery,
        now_ms: f64,
    ) -> Result<Layers, TileError> {
        let ids = q.layer_ids();
        let fetched = try_join_all(ids.iter().map(|id| self.layer(id, None, now_ms))).await?;
        let layers: Layers = ids.iter().map(|id| (*id).to_owned()).zip(fetched).collect();
        let decoded: usize = layers.values().map(|l| l.manifest.band_count).sum();
        // A halo makes every band's block larger: the same memory allows fewer bands.
        let halo = match &q.mode {
            Mode::Formula(expr) => expr.halo(),
            Mode::Rgb => 0,
        };
        let budget = (MAX_DECODED_BANDS * TS * TS) as u64;
        let allowed = budget / padded_cells(halo);
        if decoded as u64 > allowed {
            let with_halo = match halo {
                0 => String::new(),
                h => format!(" with a halo of {h} cells"),
            };
            return Err(TileError::bad(
                "layers",
                format!(
                    "the bound layers hold {decoded} bands in all; at most {allowed} \
                     can be read per request{with_halo} (decoded bands limit)"
                ),
            ));
        }
        for b in &q.bindings {
            let count = layers.get(&b.layer).map_or(0, |l| l.manifest.band_count);
            if b.band >= count {
                return Err(TileError::bad(
                    "layers",
                    format!(
                        "{}:{}={}: layer {} has {count} band(s), 0-based",
                        b.var, b.band, b.layer, b.layer
                    ),
                ));
            }
        }
        Ok(layers)
    }

    /// Tile `t` of every layer, read concurrently, each layer once, with only the bands
    /// the query binds.
    pub(crate) async fn read_layers(
        &self,
        layers: &Layers,
        q: &AlgebraQuery,
        t: TileCoord,
    ) -> Result<Blocks, TileError> {
        let reads = layers.iter().map(|(id, layer)| async move {
            if layer.covers(t) {
                self.read_tile(layer, t, bound_bands(q, id)).await
            } else {
                Ok(None)
            }
        });
        let blocks = try_join_all(reads).await?;
        Ok(layers.keys().cloned().zip(blocks).collect())
    }

    /// Drops the cached manifests of the query's layers (after a stale read).
    pub(crate) fn forget_layers(&self, q: &AlgebraQuery) {
        for id in q.layer_ids() {
            self.forget_layer(id);
        }
    }

    /// An `/algebra` tile, retried once with fresh manifests after a stale read.
    pub(crate) async fn algebra(
        &self,
        a: &AlgebraRequest,
        req: &Request,
    ) -> Result<Reply, TileError> {
        match self.algebra_once(a, req).await {
            Err(err) if err.is_stale() => {
                log::info!("algebra {}: {err}; retrying with fresh manifests", a.tile);
                self.forget_layers(&a.query);
                self.algebra_once(a, req).await
            }
            other => other,
        }
    }

    async fn algebra_once(&self, a: &AlgebraRequest, req: &Request) -> Result<Reply, TileError> {
        let q = &a.query;
        let layers = self.bound_layers(q, req.now_ms).await?;
        let legend = match &q.style.legend {
            Some(name) => Some(self.legend(name, req.now_ms).await?),
            None => None,
        };
        if a.format != Format::Tiff && matches!(q.mode, Mode::Formula(_)) {
            check_formula_style(&q.style, legend.as_deref())?;
        }
        let caching = Caching::MaxAge(self.config.max_age);
        // Everything the tile depends on besides layer data: the data is covered by the
        // versions, so the tag is known without reading a tile (and a 304 costs nothing).
        let legend_digest = legend.as_ref().map(|l| l.digest.as_str()).unwrap_or("");
        let tag = etag::strong(&[
            "algebra",
            &a.tile.to_string(),
            a.format.ext(),
            &q.canonical(),
            &versions(&layers),
            legend_digest,
        ]);
        if let Some(not_modified) = Reply::conditional(req, tag.clone(), caching) {
            return Ok(not_modified);
        }
        let empty = Reply {
            status: 204,
            content_type: None,
            body: Vec::new(),
            etag: Some(tag.clone()),
            caching,
        };
        let body = match &q.mode {
            Mode::Rgb => {
                let blocks = self.read_layers(&layers, q, a.tile).await?;
                if blocks.values().all(Option::is_none) {
                    return Ok(empty);
                }
                rgb_tile(q, &layers, &blocks, a.tile, a.format)?
            }
            Mode::Formula(expr) => {
                let reductions = self.gather_reductions(expr, q, &layers).await?;
                let tile = self.formula_tile(expr, q, &layers, &reductions, a.tile);
                let Some(out) = tile.await? else {
                    return Ok(empty);
                };
                if !out.valid.iter().any(|v| *v) {
                    None
                } else if a.format == Format::Tiff {
                    let block = Block {
                        width: TS,
                        height: TS,
                        bands: 1,
                        dtype: DataType::Float32,
                        values: out.values,
                        valid: out.valid,
                    };
                    Some(encode_geotiff(&block, a.tile, Some(f64::NAN)).map_err(render_error)?)
                } else {
                    let style = self.formula_style(expr, q, &layers, legend.as_deref());
                    let style = style.await?;
                    if a.format == Format::Png && q.style.enhance.is_identity() {
                        // Table styles go straight to palette indices.
                        let png = style.paint_png(&out.values, &out.valid, TS, TS);
                        Some(png.map_err(render_error)?)
                    } else {
                        let img = style.paint(&out.values, &out.valid, TS, TS);
                        Some(paint::finish(img, a.format, &q.style.enhance)?)
                    }
                }
            }
        };
        let Some(body) = body else {
            return Ok(empty);
        };
        Ok(Reply {
            status: 200,
            content_type: Some(a.format.content_type()),
            body,
            etag: Some(tag),
            caching,
        })
    }

    /// The style of a formula's result: `q`'s style parameters (and `legend`) over the
    /// result's default context ([`Self::result_context`]).
    pub(crate) async fn formula_style(
        &self,
        expr: &Expr,
        q: &AlgebraQuery,
        layers: &Layers,
        legend: Option<&Legend>,
    ) -> Result<Style, TileError> {
        let ctx = self.result_context(expr, q, layers).await?;
        compile_style(&q.style, legend, &ctx)
    }

    /// How a formula's result is styled by default: a bare variable (`formula=a`, or no
    /// formula and one binding) like `/tiles` styles that band (p2..p98, or min..max for
    /// categories); any other formula as continuous data stretched over its whole-layer
    /// `min(F)..max(F)` (see `docs/algebra.md`). `rescale=` overrides either.
    async fn result_context(
        &self,
        expr: &Expr,
        q: &AlgebraQuery,
        layers: &Layers,
    ) -> Result<LayerContext, TileError> {
        if let tilefn_algebra::Node::Variable(name) = &expr.node
            && let Some(b) = q.binding(name)
            && let Some(layer) = layers.get(&b.layer)
        {
            return Ok(band_context(&layer.manifest, b.band));
        }
        // A neighbourhood formula too costly to run over the overview has no default
        // stretch; `rescale=` gives one.
        let too_costly = check_cost(expr, MAX_OVERVIEW_TILES).is_err();
        let stats = if q.style.rescale.is_some() || too_costly {
            None
        } else {
            self.formula_range(expr, q, layers)
                .await?
                .map(|(min, max)| StatsSummary {
                    min,
                    max,
                    p2: min,
                    p98: max,
                })
        };
        Ok(LayerContext {
            dtype: DataType::Float64,
            categorical: false,
            stats,
        })
    }

    /// `/pixel`, retried once with fresh manifests after a stale read.
    pub(crate) async fn pixel(&self, p: &PixelRequest, req: &Request) -> Result<Reply, TileError> {
        match self.pixel_once(p, req).await {
            Err(err) if err.is_stale() => {
                self.forget_layers(&p.query);
                self.pixel_once(p, req).await
            }
            other => other,
        }
    }

    async fn pixel_once(&self, p: &PixelRequest, req: &Request) -> Result<Reply, TileError> {
        let q = &p.query;
        let Mode::Formula(expr) = &q.mode else {
            return Err(TileError::bad("formula", "required for /pixel"));
        };
        let layers = self.bound_layers(q, req.now_ms).await?;
        let zoom = layers
            .values()
            .map(|l| l.stored_zooms().1)
            .max()
            .unwrap_or(0);
        let caching = Caching::MaxAge(self.config.max_age);
        let (x, y) = p.point;
        let tag = etag::strong(&[
            "pixel",
            &format!("{x:?},{y:?}"),
            &q.canonical(),
            &versions(&layers),
        ]);
        if let Some(not_modified) = Reply::conditional(req, tag.clone(), caching) {
            return Ok(not_modified);
        }
        let (tile, index) = locate(x, y, zoom);
        let reductions = self.gather_reductions(expr, q, &layers).await?;
        let (value, valid) = if expr.halo() > 0 {
            // A neighbourhood needs the cells around the pixel: the tile with its halo.
            let out = self
                .formula_tile(expr, q, &layers, &reductions, tile)
                .await?;
            let cell =
                |o: &tilefn_algebra::Output| Some((*o.values.get(index)?, *o.valid.get(index)?));
            out.as_ref().and_then(cell).unwrap_or((f64::NAN, false))
        } else {
            let blocks = self.read_layers(&layers, q, tile).await?;
            let single: Blocks = blocks
                .into_iter()
                .map(|(id, b)| (id, b.and_then(|b| pixel_block(&b, index))))
                .collect();
            let columns = Columns::new(q, &layers, &single, &reductions, 1);
            let out = evaluate(expr, 1, &columns).map_err(eval_error)?;
            let first = |v: &[f64]| v.first().copied().unwrap_or(f64::NAN);
            (
                first(&out.values),
                out.valid.first().copied().unwrap_or(false),
            )
        };
        let value = Some(value).filter(|v| valid && v.is_finite());
        let body = json!({ "value": value, "nodata": !valid, "zoom": zoom });
        Ok(Reply {
            status: 200,
            content_type: Some("application/json"),
            body: body.to_string().into_bytes(),
            etag: Some(tag),
            caching,
        })
    }
}

/// The tile at `zoom` holding Web Mercator point (`x`, `y`) and the pixel's index in it.
fn locate(x: f64, y: f64, zoom: u8) -> (TileCoord, usize) {
    let res = resolution(zoom);
    let last = (1u64 << zoom) * TS as u64 - 1;
    // Global pixel column/row; a point on the far edge belongs to the last pixel.
    let gx = (((x + ORIGIN_SHIFT) / res).floor().max(0.0) as u64).min(last);
    let gy = (((ORIGIN_SHIFT - y) / res).floor().max(0.0) as u64).min(last);
    let tile = TileCoord::new(zoom, (gx / TS as u64) as u32, (gy / TS as u64) as u32);
    let index = (gy % TS as u64) as usize * TS + (gx % TS as u64) as usize;
    (tile, index)
}

/// Pixel `p` of a block as a 1x1 block.
fn pixel_block(b: &Block, p: usize) -> Option<Block> {
    let n = b.pixels();
    let values: Option<Vec<f64>> = (0..b.bands)
        .map(|i| b.values.get(i * n + p).copied())
        .collect();
    Some(Block {
        width: 1,
        height: 1,
        bands: b.bands,
        dtype: b.dtype,
        values: values?,
        valid: vec![*b.valid.get(p)?],
    })
}

/// An RGB composite of the `r`, `g`, `b` bindings: each channel stretched from `scale=` (or
/// its band's p2..p98, or 0..255 without statistics) to 0..255; a pixel is valid where all
/// three are. `.tif` gives the three raw channels as float32. `None`: no valid pixel.
fn rgb_tile(
    q: &AlgebraQuery,
    layers: &Layers,
    blocks: &Blocks,
    tile: TileCoord,
    format: Format,
) -> Result<Option<Vec<u8>>, TileError> {
    let n = TS * TS;
    let mut channels: Vec<Vec<f64>> = Vec::with_capacity(3);
    let mut valid = vec![true; n];
    for b in &q.bindings {
        let Some(Some(block)) = blocks.get(&b.layer) else {
            return Ok(None);
        };
        for (ok, v) in valid.iter_mut().zip(&block.valid) {
            *ok &= *v;
        }
        let values = bound_band(q, block, b);
        if format == Format::Tiff {
            channels.push(values.to_vec());
            continue;
        }
        let stats = layers
            .get(&b.layer)
            .and_then(|l| l.manifest.bands.get(b.band))
            .and_then(|i| i.stats.as_ref());
        let (lo, hi) = q
            .scale
            .or(stats.map(|s| (s.p2, s.p98)).filter(|(lo, hi)| hi > lo))
            .unwrap_or((0.0, 255.0));
        // Stretched here so each channel can have its own range; render_rgb then maps
        // 0..255 onto itself (a factor of exactly 1) and truncates as it always does.
        let k = 255.0 / (hi - lo);
        channels.push(values.iter().map(|v| (v - lo) * k).collect());
    }
    if !valid.iter().any(|v| *v) {
        return Ok(None);
    }
    let [r, g, bl] = channels.as_slice() else {
        return Err(TileError::bad("layers", "RGB needs r, g and b"));
    };
    if format == Format::Tiff {
        let mut values = Vec::with_capacity(3 * n);
        for c in [r, g, bl] {
            values.extend_from_slice(c);
        }
        let block = Block {
            width: TS,
            height: TS,
            bands: 3,
            dtype: DataType::Float32,
            values,
            valid,
        };
        return Ok(Some(
            encode_geotiff(&block, tile, Some(f64::NAN)).map_err(render_error)?,
        ));
    }
    let img = render_rgb([r, g, bl], &valid, TS, TS, (0.0, 255.0), q.alpha);
    Ok(Some(paint::finish(img, format, &q.style.enhance)?))
}
