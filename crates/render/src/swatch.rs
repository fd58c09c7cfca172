//! Legend images: what a map's legend panel shows, drawn from the same spec that renders
//! the tiles.

use crate::Rgba;
use crate::colormaps::named_colormap;
use crate::encode::encode_png;
use crate::error::RenderError;
use crate::spec::{self, Spec};
use crate::style::{LayerContext, Style, StyleParams};

/// Side of one discrete swatch, and height of a gradient bar, in pixels.
const SWATCH: usize = 16;
/// Width of a gradient bar: one column per colour of a 256-entry table.
const BAR: usize = 256;

/// A PNG of `legend`: one `SWATCH`-pixel square per discrete entry, stacked top to bottom in
/// key order, or for a continuous legend a 256x16 bar painted through the compiled style
/// over its range (low values on the left). A JSON string names a colormap
/// (`"viridis_r"`) and gives its 256x16 bar.
pub fn legend_swatch_png(
    legend: &serde_json::Value,
    ctx: &LayerContext,
) -> Result<Vec<u8>, RenderError> {
    if let serde_json::Value::String(name) = legend {
        let table = named_colormap(name)
            .ok_or_else(|| RenderError::Legend(format!("unknown colormap {name:?}")))?;
        let pixels = (0..SWATCH)
            .flat_map(|_| table.iter().flat_map(|[r, g, b]| [*r, *g, *b, 255]))
            .collect();
        return encode_png(&Rgba {
            width: BAR,
            height: SWATCH,
            pixels,
        });
    }
    let spec = spec::parse_legend(legend).map_err(RenderError::Legend)?;
    let img = match spec {
        Spec::Discrete(entries) => {
            if entries.is_empty() {
                return Err(RenderError::Legend("the legend has no entries".into()));
            }
            let mut img = Rgba::transparent(SWATCH, SWATCH * entries.len());
            let row_bytes = SWATCH * 4 * SWATCH;
            for (e, block) in entries.iter().zip(img.pixels.chunks_exact_mut(row_bytes)) {
                for px in block.chunks_exact_mut(4) {
                    px.copy_from_slice(&e.color);
                }
            }
            img
        }
        Spec::Continuous { range, .. } => {
            let params = StyleParams {
                legend: Some(legend),
                ..StyleParams::default()
            };
            let style =
                Style::compile(&params, ctx).map_err(|e| RenderError::Legend(e.to_string()))?;
            let (lo, hi) = range
                .or_else(|| ctx.stats.map(|s| (s.min, s.max)))
                .unwrap_or((0.0, 1.0));
            let row: Vec<f64> = (0..BAR)
                .map(|i| lo + (hi - lo) * i as f64 / (BAR - 1) as f64)
                .collect();
            let values: Vec<f64> = row.iter().copied().cycle().take(BAR * SWATCH).collect();
            let valid = vec![true; values.len()];
            // Without a range anywhere, the bar's own 0..1 is the tile range the style falls
            // back to, so the bar still shows the ramp.
            style.paint(&values, &valid, BAR, SWATCH)
        }
    };
    encode_png(&img)
}
