//! Where an image's strips or tiles are, and which of them a pixel window touches.

use tilefn_cog::read::Ifd;

use super::error::SourceError;
use super::lerc::{Additional, COMPRESSION_LERC};

#[derive(Debug, Clone)]
pub(super) struct ImageLayout {
    pub width: u32,
    pub height: u32,
    pub chunk_w: u32,
    pub chunk_h: u32,
    /// Tile size as stored (edge tiles are full tiles in the file); for strips, the width.
    pub stored_w: u32,
    pub stored_h: u32,
    /// Chunks per row and per column of one plane.
    pub across: u32,
    pub down: u32,
    /// Samples per pixel in the file (alpha included).
    pub samples: usize,
    /// One plane per sample (PlanarConfiguration 2).
    pub planar: bool,
    pub tiled: bool,
    /// Chunks are row bands of uncompressed strips, read straight from the file
    /// (`split_strips`), not strips for the decoder.
    pub split: bool,
    pub offsets: Vec<u64>,
    pub counts: Vec<u64>,
    /// LERC chunks (the `tiff` crate has no LERC codec) and their wrapper compression.
    pub lerc: Option<Additional>,
}

impl ImageLayout {
    /// The layout tilefn-cog's parser found for one IFD.
    pub fn from_ifd(ifd: &Ifd) -> Result<ImageLayout, SourceError> {
        let (width, height) = (ifd.width, ifd.height);
        // The parser reports strips as tiles `width` wide and RowsPerStrip (at most the
        // image) tall; a tile larger than the image holds the whole image along that axis.
        let (stored_w, stored_h) = (ifd.tile_width, ifd.tile_height);
        let (chunk_w, chunk_h) = (
            stored_w.max(1).min(width.max(1)),
            stored_h.max(1).min(height.max(1)),
        );
        let samples = usize::from(ifd.samples);
        let planar = ifd.planar_config == 2 && samples > 1;
        let lerc = if ifd.compression == COMPRESSION_LERC {
            Some(Additional::from_tag(Some(&ifd.lerc_parameters))?)
        } else {
            None
        };
        let l = ImageLayout {
            width,
            height,
            chunk_w,
            chunk_h,
            stored_w,
            stored_h,
            across: width.div_ceil(chunk_w),
            down: height.div_ceil(chunk_h),
            samples,
            planar,
            tiled: ifd.tiled,
            split: false,
            offsets: ifd.tile_offsets.clone(),
            counts: ifd.tile_byte_counts.clone(),
            lerc,
        };
        let planes = if planar { samples } else { 1 };
        let need = l.per_plane() * planes;
        if l.offsets.len() < need || l.counts.len() < need {
            return Err(SourceError::Corrupt(format!(
                "{} {} offsets for {need} {}s",
                l.offsets.len().min(l.counts.len()),
                l.kind(),
                l.kind()
            )));
        }
        Ok(l)
    }

    pub fn kind(&self) -> &'static str {
        if self.tiled { "tile" } else { "strip" }
    }

    /// Re-cuts uncompressed strips into bands of at most `target` bytes, so that a window
    /// of a single-strip image reads a few rows, not the whole image. Bands never straddle
    /// strips: their height divides the strip height. `bpp` is bytes per pixel per plane.
    pub fn split_strips(&mut self, bpp: u64, target: u64) {
        let row_bytes = u64::from(self.width) * bpp;
        let rps = self.chunk_h;
        if self.tiled || row_bytes == 0 || u64::from(rps) * row_bytes <= target {
            return;
        }
        let want = u32::try_from((target / row_bytes).max(1))
            .unwrap_or(1)
            .min(rps);
        let band = (1..=want)
            .rev()
            .find(|d| rps.is_multiple_of(*d))
            .unwrap_or(1);
        let down = self.height.div_ceil(band);
        let (mut offsets, mut counts) = (Vec::new(), Vec::new());
        for plane in 0..self.planes() {
            for b in 0..down {
                let row = b * band;
                let strip = plane * self.per_plane() + (row / rps) as usize;
                let (o, c) = (self.offsets[strip], self.counts[strip]);
                let rows = band.min(self.height - row);
                let start = u64::from(row % rps) * row_bytes;
                let len = u64::from(rows) * row_bytes;
                // A short or sparse strip keeps its problem: sparse stays sparse, and a band
                // past the strip's bytes fails when read.
                let sparse = o == 0 || c == 0;
                offsets.push(if sparse { 0 } else { o + start });
                counts.push(if sparse { 0 } else { len });
            }
        }
        (
            self.chunk_h,
            self.down,
            self.offsets,
            self.counts,
            self.split,
        ) = (band, down, offsets, counts, true);
    }

    pub fn per_plane(&self) -> usize {
        self.across as usize * self.down as usize
    }

    pub fn planes(&self) -> usize {
        if self.planar { self.samples } else { 1 }
    }

    /// Samples per pixel inside one chunk.
    pub fn chunk_spp(&self) -> usize {
        if self.planar { 1 } else { self.samples }
    }

    pub fn index(&self, plane: usize, cx: u32, cy: u32) -> usize {
        plane * self.per_plane() + cy as usize * self.across as usize + cx as usize
    }

    /// Pixel size of chunk (cx, cy) once clipped to the image.
    pub fn data_size(&self, cx: u32, cy: u32) -> (usize, usize) {
        let w = self.chunk_w.min(self.width - cx * self.chunk_w);
        let h = self.chunk_h.min(self.height - cy * self.chunk_h);
        (w as usize, h as usize)
    }

    /// A chunk GDAL wrote as "sparse" (no bytes): it reads as nodata (or 0) without decoding.
    pub fn is_sparse(&self, i: usize) -> bool {
        self.counts.get(i).is_none_or(|c| *c == 0) || self.offsets.get(i).is_none_or(|o| *o == 0)
    }

    /// Fails if any chunk extends past the end of the file (a truncated download, say), so
    /// the ingest stops before spending hours on the part that is there.
    pub fn check_extent(&self, file_len: u64) -> Result<(), SourceError> {
        for (i, (o, c)) in self.offsets.iter().zip(&self.counts).enumerate() {
            if *c > 0 && *o > 0 && o.saturating_add(*c) > file_len {
                return Err(SourceError::Corrupt(format!(
                    "truncated file: {} {i} ends past the end of the file",
                    self.kind()
                )));
            }
        }
        Ok(())
    }
}
