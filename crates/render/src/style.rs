//! [`Style`]: the query's style parameters compiled once per request into tables, then
//! painted onto tiles.

use tilefn_raster::DataType;

use crate::Rgba;
use crate::colormaps::named_colormap;
use crate::continuous::{self, Ramp};
use crate::discrete::{Discrete, KeyCount};
use crate::encode::{encode_palette_png, encode_png};
use crate::error::RenderError;
use crate::indexed;
use crate::spec::{self, Spec};

/// What the renderer needs to know about the layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerContext {
    pub dtype: DataType,
    /// Class data (land cover): the default stretch is min..max rather than p2..p98.
    pub categorical: bool,
    pub stats: Option<StatsSummary>,
}

/// Whole-layer statistics from the manifest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsSummary {
    pub min: f64,
    pub max: f64,
    pub p2: f64,
    pub p98: f64,
}

/// Query parameters, raw (percent-decoded) strings; `legend` is the already fetched legend
/// JSON (the `legend=` parameter's or the layer's default).
#[derive(Debug, Clone, Copy, Default)]
pub struct StyleParams<'a> {
    pub colormap: Option<&'a str>,
    pub colormap_name: Option<&'a str>,
    pub rescale: Option<&'a str>,
    pub legend: Option<&'a serde_json::Value>,
    pub entries: Option<&'a str>,
}

/// A compiled style. Precedence: `colormap`, then `colormap_name`, then `legend`, then the
/// default grey stretch.
#[derive(Debug, Clone)]
pub struct Style {
    kind: Kind,
    canonical: String,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Grey or a named colormap: a 256-entry table over `lo..hi` (clamped at both ends, as
    /// TiTiler's rescale + colormap does); `None` = the tile's own min..max.
    Table {
        lut: Box<[[u8; 4]; 256]>,
        range: Option<(f64, f64)>,
    },
    /// django-raster's continuous colormap; `None` = the tile's own min..max.
    Continuous {
        ramp: Ramp,
        range: Option<(f64, f64)>,
    },
    Discrete(Discrete),
}

impl Style {
    pub fn compile(params: &StyleParams, ctx: &LayerContext) -> Result<Style, RenderError> {
        // Validate every given parameter, even one a higher-precedence one overrides, so a
        // typo is reported rather than silently ignored.
        let rescale = params.rescale.map(spec::parse_rescale).transpose()?;
        let colormap = params
            .colormap
            .map(spec::parse_colormap_param)
            .transpose()?;
        let named = match params.colormap_name {
            Some(name) => Some((
                name.to_ascii_lowercase(),
                named_colormap(name).ok_or_else(|| {
                    RenderError::bad(
                        "colormap_name",
                        format!("unknown colormap {name:?} (see /colormaps)"),
                    )
                })?,
            )),
            None => None,
        };
        let legend = match params.legend {
            Some(v) => Some(spec::parse_legend(v).map_err(|m| RenderError::bad("legend", m))?),
            None => None,
        };
        let stretch = rescale.or_else(|| default_stretch(ctx));
        if let Some(spec) = colormap {
            return Style::from_spec(spec, ctx, params.entries, rescale, "colormap");
        }
        if let Some((name, table)) = named {
            let lut = Box::new(table.map(|[r, g, b]| [r, g, b, 255]));
            let canonical = format!("cmap:{name}:{}", range_text(stretch));
            return Ok(Style {
                kind: Kind::Table {
                    lut,
                    range: stretch,
                },
                canonical,
            });
        }
        if let Some(spec) = legend {
            return Style::from_spec(spec, ctx, params.entries, rescale, "legend");
        }
        Ok(Style {
            kind: Kind::Table {
                lut: Box::new(std::array::from_fn(|i| {
                    let v = i as u8; // i < 256
                    [v, v, v, 255]
                })),
                range: stretch,
            },
            canonical: format!("gray:{}", range_text(stretch)),
        })
    }

    fn from_spec(
        spec: Spec,
        ctx: &LayerContext,
        entries: Option<&str>,
        rescale: Option<(f64, f64)>,
        param: &'static str,
    ) -> Result<Style, RenderError> {
        let layer_range = ctx.stats.map(|s| (s.min, s.max));
        match spec {
            Spec::Continuous { ramp, range } => {
                // django-raster: the colormap's range, else the layer metadata's min/max,
                // else the tile's. `rescale=` sits between the two explicit sources.
                let range = range.or(rescale).or(layer_range);
                let canonical = format!(
                    "continuous:{:?}:{:?}:{:?}:{}",
                    ramp.from,
                    ramp.to,
                    ramp.over,
                    range_text(range)
                );
                Ok(Style {
                    kind: Kind::Continuous { ramp, range },
                    canonical,
                })
            }
            Spec::Discrete(list) => {
                let list = match entries {
                    Some(text) => spec::filter_entries(list, text)?,
                    None => list,
                };
                let d = Discrete::compile(&list, ctx.dtype, layer_range, param)?;
                let canonical = format!("discrete:{}", d.canonical);
                Ok(Style {
                    kind: Kind::Discrete(d),
                    canonical,
                })
            }
        }
    }

    /// Paints one tile. Pixels beyond the shorter of `values` and `valid` (a caller bug) are
    /// transparent.
    pub fn paint(&self, values: &[f64], valid: &[bool], width: usize, height: usize) -> Rgba {
        self.paint_inner(values, valid, width, height, None)
    }

    /// [`Style::paint`] plus, for discrete styles, how many valid pixels each key selected
    /// (django-raster's `stats`), in key order; empty for other styles.
    pub fn paint_with_counts(
        &self,
        values: &[f64],
        valid: &[bool],
        width: usize,
        height: usize,
    ) -> (Rgba, Vec<KeyCount>) {
        let Kind::Discrete(d) = &self.kind else {
            return (self.paint(values, valid, width, height), Vec::new());
        };
        let keys: Vec<&str> = d.keys().collect();
        let mut counts = vec![0u64; keys.len()];
        let img = self.paint_inner(values, valid, width, height, Some(&mut counts));
        let counts = keys
            .into_iter()
            .zip(counts)
            .map(|(key, count)| KeyCount {
                key: key.to_owned(),
                count,
            })
            .collect();
        (img, counts)
    }

    fn paint_inner(
        &self,
        values: &[f64],
        valid: &[bool],
        width: usize,
        height: usize,
        counts: Option<&mut [u64]>,
    ) -> Rgba {
        let mut img = Rgba::transparent(width, height);
        let n = (width * height).min(values.len()).min(valid.len());
        let (values, valid) = (&values[..n], &valid[..n]);
        let out = &mut img.pixels[..n * 4];
        match &self.kind {
            Kind::Table { lut, range } => {
                if let Some(range) = range.or_else(|| continuous::data_range(values, valid)) {
                    paint_table(lut, range, values, valid, out);
                }
            }
            Kind::Continuous { ramp, range } => {
                if let Some(range) = range.or_else(|| continuous::data_range(values, valid)) {
                    continuous::paint(ramp, values, Some(valid), range, out);
                }
            }
            Kind::Discrete(d) => d.paint(values, valid, out, counts),
        }
        img
    }

    /// The painted tile encoded as PNG: the same pixels as `encode_png(&self.paint(..))`,
    /// but grey and named-colormap styles go straight from values to palette indices
    /// (no RGBA image, no colour counting). Other styles, and table tiles with more than
    /// 256 colours, take the RGBA path.
    pub fn paint_png(
        &self,
        values: &[f64],
        valid: &[bool],
        width: usize,
        height: usize,
    ) -> Result<Vec<u8>, RenderError> {
        if let Kind::Table { lut, range } = &self.kind
            && let Some(pixels) = width.checked_mul(height)
        {
            let n = pixels.min(values.len()).min(valid.len());
            let range = range.or_else(|| continuous::data_range(&values[..n], &valid[..n]));
            if let Some((palette, indices)) =
                indexed::table_indices(lut, range, values, valid, pixels)
            {
                return encode_palette_png(width, height, &palette, &indices);
            }
        }
        encode_png(&self.paint(values, valid, width, height))
    }

    /// Stable text of the compiled style (formulas pretty-printed, colours normalised), for
    /// ETags and cache keys: equal text, equal pixels.
    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }
}

/// The default stretch: p2..p98 for continuous data, min..max for classes; without
/// statistics, the full range of 8-bit types and otherwise each tile's own min..max.
fn default_stretch(ctx: &LayerContext) -> Option<(f64, f64)> {
    match ctx.stats {
        Some(s) if ctx.categorical => Some((s.min, s.max)),
        Some(s) => Some((s.p2, s.p98)),
        None if matches!(ctx.dtype, DataType::Uint8) => Some((0.0, 255.0)),
        None => None,
    }
}

fn range_text(range: Option<(f64, f64)>) -> String {
    match range {
        Some((lo, hi)) => format!("{lo:?},{hi:?}"),
        None => "tile".into(),
    }
}

/// The hot loop of grey and named maps: `index = floor((v - lo) / (hi - lo) * 256)`, clamped
/// to 0..=255 (matplotlib's binning; values past either end take the end colour).
fn paint_table(
    lut: &[[u8; 4]; 256],
    (lo, hi): (f64, f64),
    values: &[f64],
    valid: &[bool],
    out: &mut [u8],
) {
    // hi == lo gives an infinite scale: values above lo clamp to 255, below (and the NaN of
    // 0 * inf at lo) to 0.
    let scale = 256.0 / (hi - lo);
    // Entry 256 is transparent, so the loop has no branch to mispredict on nodata edges.
    let mut table = [[0u8; 4]; 257];
    table[..256].copy_from_slice(lut);
    for ((v, ok), px) in values.iter().zip(valid).zip(out.chunks_exact_mut(4)) {
        // `as usize` saturates (negative and NaN to 0), then bins past the end take 255.
        let bin = (((v - lo) * scale) as usize).min(255);
        let i = if *ok && !v.is_nan() { bin } else { 256 };
        px.copy_from_slice(&table[i]);
    }
}
