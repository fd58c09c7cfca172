//! Every call into `tilefn-render`: choosing how a tile is painted, and encoding it.

use tilefn_catalog::{Datatype, Manifest};
use tilefn_raster::{Block, DataType, TileCoord};
use tilefn_render::{
    DemEncoding, Enhancement, LayerContext, RenderError, Rgba, StatsSummary, Style, StyleParams,
    encode_dem_png, encode_geotiff, encode_jpeg, encode_png, legend_swatch_png, render_rgb,
};

use crate::TileError;
use crate::route::{Format, StyleQuery};

/// JPEG quality of rendered tiles.
const JPEG_QUALITY: u8 = 85;

/// How a tile's values become pixels.
pub enum Painter {
    /// Band 0 through a compiled style.
    Style(Box<Style>),
    /// Bands 0-2 as red, green, blue (3- or 4-band uint8 layers without style parameters;
    /// a 4th band is alpha).
    Rgb,
    /// Raw values (GeoTIFF).
    Raw,
    /// Band 0's raw values as elevations in a MapLibre `raster-dem` PNG (`encoding=`).
    Dem(DemEncoding),
}

impl Painter {
    /// Chooses and compiles the painter. `legend` is the `legend=` parameter's JSON, if any;
    /// without any style parameter the layer's own legend applies.
    pub fn new(
        m: &Manifest,
        format: Format,
        q: &StyleQuery,
        legend: Option<&serde_json::Value>,
    ) -> Result<Painter, TileError> {
        if format == Format::Tiff {
            return Ok(Painter::Raw);
        }
        if !q.has_style() && m.dtype == DataType::Uint8 && matches!(m.band_count, 3 | 4) {
            return Ok(Painter::Rgb);
        }
        let legend = legend.or(if q.has_style() {
            None
        } else {
            m.legend.as_ref()
        });
        let params = StyleParams {
            colormap: q.colormap.as_deref(),
            colormap_name: q.colormap_name.as_deref(),
            rescale: q.rescale.as_deref(),
            legend,
            entries: q.entries.as_deref(),
        };
        let style = Style::compile(&params, &context(m)).map_err(render_error)?;
        Ok(Painter::Style(Box::new(style)))
    }

    /// Stable text of the painting, for ETags.
    pub fn canonical(&self) -> String {
        match self {
            Painter::Style(style) => style.canonical(),
            Painter::Rgb => "rgb".to_owned(),
            Painter::Raw => "raw".to_owned(),
            Painter::Dem(encoding) => format!("dem:{}", encoding.name()),
        }
    }

    /// The encoded tile; `enhance` applies to PNG and JPEG.
    pub fn encode(
        &self,
        block: &Block,
        tile: TileCoord,
        format: Format,
        nodata: Option<f64>,
        enhance: &Enhancement,
    ) -> Result<Vec<u8>, TileError> {
        match self {
            Painter::Raw => return encode_geotiff(block, tile, nodata).map_err(render_error),
            Painter::Dem(encoding) => {
                let (w, h) = (block.width, block.height);
                return encode_dem_png(band(block, 0), &block.valid, w, h, *encoding)
                    .map_err(render_error);
            }
            // PNG without enhancement: table styles go straight to palette indices.
            Painter::Style(style) if format == Format::Png && enhance.is_identity() => {
                let (w, h) = (block.width, block.height);
                return style
                    .paint_png(band(block, 0), &block.valid, w, h)
                    .map_err(render_error);
            }
            _ => {}
        }
        finish(self.paint(block)?, format, enhance)
    }

    /// A block painted to RGBA (not for [`Painter::Raw`] and [`Painter::Dem`], which have no
    /// colours).
    pub fn paint(&self, block: &Block) -> Result<Rgba, TileError> {
        let (w, h) = (block.width, block.height);
        match self {
            Painter::Raw | Painter::Dem(_) => {
                Err(TileError::Render("raw values are not painted".into()))
            }
            Painter::Style(style) => Ok(style.paint(band(block, 0), &block.valid, w, h)),
            Painter::Rgb => {
                let valid: Vec<bool> = if block.bands >= 4 {
                    let alpha = band(block, 3);
                    block
                        .valid
                        .iter()
                        .zip(alpha)
                        .map(|(ok, a)| *ok && *a > 0.0)
                        .collect()
                } else {
                    block.valid.clone()
                };
                let bands = [band(block, 0), band(block, 1), band(block, 2)];
                Ok(render_rgb(bands, &valid, w, h, (0.0, 255.0), true))
            }
        }
    }
}

/// Enhances (PIL `ImageEnhance`) and encodes a painted image as PNG or JPEG.
pub fn finish(mut img: Rgba, format: Format, enhance: &Enhancement) -> Result<Vec<u8>, TileError> {
    if !enhance.is_identity() {
        enhance.apply(&mut img);
    }
    match format {
        Format::Jpeg => encode_jpeg(&img, JPEG_QUALITY),
        _ => encode_png(&img),
    }
    .map_err(render_error)
}

/// A swatch image of a stored legend (no layer: a float context without statistics).
pub fn swatch(legend: &serde_json::Value) -> Result<Vec<u8>, TileError> {
    let ctx = LayerContext {
        dtype: DataType::Float64,
        categorical: false,
        stats: None,
    };
    legend_swatch_png(legend, &ctx).map_err(render_error)
}

/// The names `colormap_name=` accepts.
pub fn colormap_names() -> &'static [&'static str] {
    tilefn_render::named_colormaps()
}

fn context(m: &Manifest) -> LayerContext {
    band_context(m, 0)
}

/// What render needs to know about band `band` of a layer.
pub fn band_context(m: &Manifest, band: usize) -> LayerContext {
    let stats = m.bands.get(band).and_then(|b| b.stats.as_ref());
    LayerContext {
        dtype: m.dtype,
        categorical: matches!(m.datatype, Datatype::Categorical | Datatype::Mask),
        stats: stats.map(|s| StatsSummary {
            min: s.min,
            max: s.max,
            p2: s.p2,
            p98: s.p98,
        }),
    }
}

/// Band `b` of a block, or nothing if the block is short (never panics).
pub fn band(block: &Block, b: usize) -> &[f64] {
    let n = block.pixels();
    block.values.get(b * n..(b + 1) * n).unwrap_or(&[])
}

pub fn render_error(err: RenderError) -> TileError {
    match err {
        RenderError::BadParam { param, message } => TileError::BadParam { param, message },
        // A stored legend (the layer's default) that does not compile is stored data's fault.
        RenderError::Legend(m) => TileError::Corrupt(format!("legend: {m}")),
        RenderError::Encode(m) => TileError::Render(m),
    }
}
