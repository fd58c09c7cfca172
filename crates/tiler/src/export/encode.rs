//! A stitched [`RawCanvas`] → a GeoTIFF of the window (EPSG:3857), through `tilefn-cog`'s
//! window writer: 256 x 256 tiles, overviews halving to one tile, tiles without a valid
//! pixel left sparse. Validity is the layer's nodata value, or a GDAL internal mask for
//! layers without one (integer layers ingest masked): what GDAL, rasterio and QGIS read as
//! validity, and a bit a pixel rather than the alpha band's byte.
//!
//! Streaming: the reader hands over each strip of 256 rows as soon as its tiles are pasted
//! ([`TiffEncoder::strips_ready`]); the strip is compressed, reduced into the first
//! overview and freed (strips are allocated only when first written). So the full
//! resolution is never whole in memory: at most the two or three strips under the tile
//! rows being read, the first overview (a quarter) and the compressed file.

use tilefn_cog::CogSpec;
use tilefn_cog::write::{
    Compression, Photometric, WindowSpec, default_predictor, encode_mask_tile,
    encode_response_tile, window_data_order, window_header,
};
use tilefn_raster::{DataType, TILE_SIZE};

use super::plan::Window;
use super::raw::RawCanvas;
use crate::TileError;

const TS: usize = TILE_SIZE as usize;

fn cog_error(e: tilefn_cog::CogError) -> TileError {
    TileError::Render(format!("export GeoTIFF: {e}"))
}

/// Compressed tiles of every level, in `(level, row * cols + col)` order.
pub struct TiffEncoder {
    spec: WindowSpec,
    tile_spec: CogSpec,
    categorical: bool,
    /// Strips of the full-resolution canvas already encoded.
    done: usize,
    /// The first overview, filled as strips arrive (`None` for a one-level file).
    overview: Option<RawCanvas>,
    tiles: Vec<Vec<Vec<u8>>>,
    masks: Vec<Vec<Vec<u8>>>,
}

impl TiffEncoder {
    /// An encoder for `canvas` (the full-resolution window, still empty).
    pub fn new(
        canvas: &RawCanvas,
        window: &Window,
        categorical: bool,
        nodata: Option<f64>,
    ) -> Result<TiffEncoder, TileError> {
        let size =
            |v: usize| u32::try_from(v).map_err(|_| TileError::Render("export too large".into()));
        let (x, y) = window.origin();
        let spec = WindowSpec {
            width: size(canvas.width)?,
            height: size(canvas.height)?,
            origin_x: x,
            origin_y: y,
            resolution: window.resolution(),
            dtype: canvas.dtype,
            bands: u16::try_from(canvas.bands)
                .map_err(|_| TileError::Render(format!("{} bands", canvas.bands)))?,
            mask: nodata.is_none(),
            photometric: if canvas.dtype == DataType::Uint8 && canvas.bands >= 3 {
                Photometric::Rgb
            } else {
                Photometric::MinIsBlack
            },
            compression: Compression::Deflate,
            predictor: default_predictor(canvas.dtype),
            nodata,
        };
        spec.validate().map_err(cog_error)?;
        let levels = spec.levels();
        Ok(TiffEncoder {
            tile_spec: spec.tile_spec(),
            overview: (levels > 1).then(|| canvas.overview()),
            spec,
            categorical,
            done: 0,
            tiles: vec![Vec::new(); levels],
            masks: vec![Vec::new(); levels],
        })
    }

    /// Encodes, reduces into the first overview and frees every strip of `canvas` whose
    /// rows all lie below `rows_ready` (the rows whose tiles have all been pasted).
    pub fn strips_ready(
        &mut self,
        canvas: &mut RawCanvas,
        rows_ready: usize,
    ) -> Result<(), TileError> {
        while self.done < canvas.strips()
            && self.done * TS + canvas.strip_rows(self.done) <= rows_ready
        {
            let r = self.done;
            self.encode_row(0, canvas, r)?;
            if let Some(overview) = self.overview.as_mut() {
                // Strip r (256 rows, even) makes overview rows r*128 .. r*128 + 128.
                let rows = r * TS / 2..((r * TS + canvas.strip_rows(r)).div_ceil(2));
                canvas.reduce_rows(rows, overview, self.categorical);
            }
            canvas.free_strip(r);
            self.done += 1;
        }
        Ok(())
    }

    /// Compresses the tiles of row `r` of `level`.
    fn encode_row(&mut self, level: usize, canvas: &RawCanvas, r: usize) -> Result<(), TileError> {
        let (cols, _) = self.spec.level_tiles(level);
        for c in 0..cols as usize {
            let (tile, mask) = match canvas.tile(c, r) {
                None => (Vec::new(), Vec::new()),
                Some((bytes, valid)) => {
                    debug_assert_eq!(valid.len(), TS * TS);
                    let tile = encode_response_tile(&self.tile_spec, &bytes).map_err(cog_error)?;
                    let mask = match self.spec.mask {
                        true => encode_mask_tile(&self.tile_spec, &valid).map_err(cog_error)?,
                        false => Vec::new(),
                    };
                    (tile, mask)
                }
            };
            if let (Some(t), Some(m)) = (self.tiles.get_mut(level), self.masks.get_mut(level)) {
                t.push(tile);
                m.push(mask);
            }
        }
        Ok(())
    }

    /// Encodes what is left of `canvas` and the coarser overviews, and assembles the file.
    pub fn finish(mut self, mut canvas: RawCanvas) -> Result<Vec<u8>, TileError> {
        let height = canvas.height;
        self.strips_ready(&mut canvas, height)?;
        drop(canvas);
        let mut level = self.overview.take();
        for l in 1..self.spec.levels() {
            let Some(current) = level.take() else {
                break;
            };
            // The next overview is built first; then this level's strips are freed as
            // their tiles are compressed.
            let next = (l + 1 < self.spec.levels()).then(|| current.reduce(self.categorical));
            let mut current = current;
            for r in 0..current.strips() {
                self.encode_row(l, &current, r)?;
                current.free_strip(r);
            }
            level = next;
        }
        self.assemble()
    }

    /// Header, then every tile (each mask tile right behind its image tile), coarsest
    /// level first. Tiles are moved into the file one by one, so the compressed bytes are
    /// held once, not twice.
    fn assemble(mut self) -> Result<Vec<u8>, TileError> {
        let lengths = |v: &[Vec<Vec<u8>>]| -> Vec<Vec<u64>> {
            v.iter()
                .map(|l| l.iter().map(|t| t.len() as u64).collect())
                .collect()
        };
        let mask_sizes = match self.spec.mask {
            true => lengths(&self.masks),
            false => Vec::new(),
        };
        let header = window_header(&self.spec, &lengths(&self.tiles), &mask_sizes);
        let mut out = header.map_err(cog_error)?;
        let total: usize = self
            .tiles
            .iter()
            .chain(&self.masks)
            .flatten()
            .map(Vec::len)
            .sum();
        out.reserve_exact(total);
        for (l, i) in window_data_order(&self.spec) {
            for part in [&mut self.tiles, &mut self.masks] {
                if let Some(bytes) = part.get_mut(l).and_then(|level| level.get_mut(i)) {
                    out.extend_from_slice(&std::mem::take(bytes));
                }
            }
        }
        Ok(out)
    }
}
