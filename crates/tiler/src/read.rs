//! Reading one XYZ tile's values: locate the COG and internal tile, open the header (one
//! exact read, then cached by key + ETag), read the tile bytes (one read, pinned to the
//! manifest's ETag), decode, and turn samples into a `Block` with validity.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::try_join_all;
use tilefn_cog::layout::cog_key;
use tilefn_cog::read::{HeaderParse, Limits, Tiff, decode_tile, parse_header};
use tilefn_raster::mercator::{tile_bounds, tile_range};
use tilefn_raster::{Block, Bounds, TILE_SIZE, TileCoord};
use tilefn_storage::{Bucket, Coalescing, DEFAULT_READAHEAD, RangeRead};

use crate::convert::{BandMask, to_block};
use crate::layer::Layer;
use crate::zoom::{Part, overzoom, underzoom};
use crate::{Service, TileError};

/// Most stored tiles read to build one under-zoomed tile; past it the tile is empty (204).
pub const MAX_UNDERZOOM_READS: u64 = 16;

/// Where a stored tile's bytes are.
struct Place {
    key: String,
    etag: String,
    header_len: Option<u64>,
    ifd: usize,
    col: u32,
    row: u32,
}

impl Layer {
    /// The layer's box in Web Mercator metres.
    pub fn bounds(&self) -> Bounds {
        let [a, b, c, d] = self.manifest.bounds.mercator;
        Bounds::new(a, b, c, d)
    }

    /// Where tile `t` (at a stored zoom) lives; `None` when no object holds it.
    fn place(&self, t: TileCoord) -> Option<Place> {
        if let Some(ext) = &self.manifest.external {
            let level = ext.levels.iter().find(|l| l.zoom == t.z)?;
            return Some(Place {
                key: ext.url.clone(),
                etag: ext.etag.clone(),
                header_len: (ext.header_len > 0).then_some(ext.header_len),
                ifd: level.ifd,
                col: t.x.checked_sub(level.col_offset)?,
                row: t.y.checked_sub(level.row_offset)?,
            });
        }
        let place = self.layout.locate(t)?;
        let key = format!("{}{}", self.manifest.prefix, cog_key(place.cog));
        let entry = self.object(&key)?;
        Some(Place {
            etag: entry.etag.clone(),
            header_len: entry.header_len,
            key,
            // With a mask, each level's image IFD is followed by its mask IFD.
            ifd: place.level * (1 + usize::from(self.manifest.mask)),
            col: place.col,
            row: place.row,
        })
    }

    /// Whether the tile's box overlaps the layer's data box.
    pub fn covers(&self, t: TileCoord) -> bool {
        self.bounds().intersects(&tile_bounds(t))
    }
}

impl<B: Bucket> Service<B> {
    /// The values of tile `t`, from a stored zoom or built from one; `None` when empty.
    /// The block holds only the bands in `bands`, in band order (see [`BandMask`]).
    pub(crate) async fn read_tile(
        &self,
        layer: &Layer,
        t: TileCoord,
        bands: BandMask,
    ) -> Result<Option<Block>, TileError> {
        let (lo, hi) = layer.stored_zooms();
        if t.z > hi {
            let from = t.ancestor(hi);
            let src = self.read_stored(layer, from, bands).await?;
            return Ok(src.map(|block| overzoom(&block, from, t)));
        }
        if t.z < lo {
            return self.read_underzoom(layer, t, lo, bands).await;
        }
        self.read_stored(layer, t, bands).await
    }

    async fn read_underzoom(
        &self,
        layer: &Layer,
        t: TileCoord,
        lo: u8,
        bands: BandMask,
    ) -> Result<Option<Block>, TileError> {
        let under = t.range_at(lo);
        let Some(data) = tile_range(&layer.bounds(), lo) else {
            return Ok(None);
        };
        let (x0, x1) = (under.x0.max(data.x0), under.x1.min(data.x1));
        let (y0, y1) = (under.y0.max(data.y0), under.y1.min(data.y1));
        if x0 > x1 || y0 > y1 {
            return Ok(None);
        }
        let count = u64::from(x1 - x0 + 1) * u64::from(y1 - y0 + 1);
        if count > MAX_UNDERZOOM_READS {
            log::info!("tile {t}: {count} stored tiles below it, over the cap: empty");
            return Ok(None);
        }
        let tiles: Vec<TileCoord> = (y0..=y1)
            .flat_map(|y| (x0..=x1).map(move |x| TileCoord::new(lo, x, y)))
            .collect();
        let blocks = try_join_all(tiles.iter().map(|c| self.read_stored(layer, *c, bands))).await?;
        let parts: Vec<Part<'_>> = tiles
            .iter()
            .zip(&blocks)
            .filter_map(|(c, b)| {
                Some(Part {
                    col: u64::from(c.x - under.x0),
                    row: u64::from(c.y - under.y0),
                    block: b.as_ref()?,
                })
            })
            .collect();
        let categorical = layer.manifest.datatype != tilefn_catalog::Datatype::Continuous;
        Ok(underzoom(
            &parts,
            lo - t.z,
            bands.count(layer.manifest.band_count),
            categorical,
        ))
    }

    /// A tile at a stored zoom: header (cached) + one range read.
    async fn read_stored(
        &self,
        layer: &Layer,
        t: TileCoord,
        bands: BandMask,
    ) -> Result<Option<Block>, TileError> {
        let Some((object, located)) = self.locate(layer, t).await? else {
            return Ok(None);
        };
        let mut fetched = fetch(object.as_ref(), vec![located]).await?;
        match fetched.pop() {
            Some(f) => decode_fetched(layer, &f, bands),
            None => Ok(None),
        }
    }

    /// Stored tiles `tiles` (all at one stored zoom) with one coalesced read per COG: what
    /// a polygon's statistics read. Undecoded, so a caller can decode and drop one tile at a
    /// time. Tiles without data (outside every COG, sparse) are left out.
    pub(crate) async fn fetch_stored(
        &self,
        layer: &Layer,
        tiles: &[TileCoord],
    ) -> Result<Vec<FetchedTile>, TileError> {
        let mut groups: Vec<(String, Arc<dyn RangeRead>, Vec<Located>)> = Vec::new();
        for t in tiles {
            let Some((object, located)) = self.locate(layer, *t).await? else {
                continue;
            };
            match groups.iter_mut().find(|g| g.0 == located.key) {
                Some(group) => group.2.push(located),
                None => groups.push((located.key.clone(), object, vec![located])),
            }
        }
        let reads = groups
            .into_iter()
            .map(|(_, object, located)| async move { fetch(object.as_ref(), located).await });
        Ok(try_join_all(reads).await?.into_iter().flatten().collect())
    }

    /// Where tile `t`'s bytes are: the COG's header (cached) and the tile's byte ranges;
    /// `None` when no object holds the tile or it is sparse.
    async fn locate(
        &self,
        layer: &Layer,
        t: TileCoord,
    ) -> Result<Option<(Arc<dyn RangeRead>, Located)>, TileError> {
        let Some(place) = layer.place(t) else {
            return Ok(None);
        };
        let object = self.bucket.object(&place.key, Some(&place.etag));
        let tiff = self.header(&place, object.as_ref()).await?;
        let ifd = tiff
            .ifds
            .get(place.ifd)
            .ok_or_else(|| TileError::Corrupt(format!("{} has no IFD {}", place.key, place.ifd)))?;
        if ifd.tile_width != TILE_SIZE || ifd.tile_height != TILE_SIZE || !ifd.tiled {
            return Err(TileError::Unsupported(format!(
                "{}: {}x{} tiles (256x256 needed)",
                place.key, ifd.tile_width, ifd.tile_height
            )));
        }
        // Sparse (or outside the IFD's grid): no data, no read.
        let Some(range) = ifd.tile_range(place.col, place.row) else {
            return Ok(None);
        };
        let limits = Limits::default();
        let too_big = |r: &Range<u64>| r.end - r.start > limits.max_tile_bytes;
        if too_big(&range) {
            return Err(TileError::Corrupt(format!(
                "{}: a {} byte tile",
                place.key,
                range.end - range.start
            )));
        }
        let mask = match layer.manifest.mask {
            true => {
                let mask_ifd = tiff
                    .ifds
                    .get(place.ifd + 1)
                    .filter(|m| m.is_mask() && m.width == ifd.width && m.height == ifd.height)
                    .ok_or_else(|| {
                        TileError::Corrupt(format!(
                            "{}: no mask IFD after IFD {}",
                            place.key, place.ifd
                        ))
                    })?;
                // A missing mask tile masks the whole tile (GDAL reads it as zeros).
                let Some(mask_range) = mask_ifd.tile_range(place.col, place.row) else {
                    return Ok(None);
                };
                if too_big(&mask_range) {
                    return Err(TileError::Corrupt(format!(
                        "{}: a huge mask tile",
                        place.key
                    )));
                }
                Some(mask_range)
            }
            false => None,
        };
        let located = Located {
            tile: t,
            key: place.key,
            ifd: place.ifd,
            tiff,
            range,
            mask,
        };
        Ok(Some((object, located)))
    }

    /// The parsed header of the object at `place`: cached, else one exact read of
    /// `header_len` bytes (or a 64 KiB prefix, grown while the parser needs more).
    async fn header(&self, place: &Place, object: &dyn RangeRead) -> Result<Arc<Tiff>, TileError> {
        let cache_key = format!("{}\n{}", place.key, place.etag);
        if let Some(tiff) = self.headers.get(&cache_key, 0.0, f64::INFINITY) {
            return Ok(tiff);
        }
        let limits = Limits::default();
        let (mut want, mut exact) = match place.header_len {
            Some(len) => (len, true),
            None => (DEFAULT_READAHEAD, false),
        };
        loop {
            if want > limits.max_header_bytes {
                return Err(TileError::Corrupt(format!(
                    "{}: header larger than {} bytes",
                    place.key, limits.max_header_bytes
                )));
            }
            let bytes = if exact {
                object.read_range(0..want).await?
            } else {
                object.read_prefix(want).await?
            };
            match parse_header(&bytes, &limits)? {
                HeaderParse::Complete(tiff) => {
                    let tiff = Arc::new(tiff);
                    // Parsed arrays take about as much as the bytes they came from, plus
                    // per-IFD overhead.
                    let size = bytes.len().saturating_mul(2) + 4096;
                    self.headers.put(cache_key, Arc::clone(&tiff), size, 0.0);
                    return Ok(tiff);
                }
                HeaderParse::NeedMore { min_len } => {
                    if (bytes.len() as u64) < want {
                        return Err(TileError::Corrupt(format!(
                            "{}: truncated header",
                            place.key
                        )));
                    }
                    want = min_len.max(want.saturating_mul(2));
                    exact = false;
                }
            }
        }
    }
}

/// A stored tile's place in its COG: the parsed header, the image IFD (a mask IFD follows
/// it when the layer has masks) and the byte ranges.
pub(crate) struct Located {
    pub tile: TileCoord,
    key: String,
    ifd: usize,
    tiff: Arc<Tiff>,
    range: Range<u64>,
    mask: Option<Range<u64>>,
}

/// A located tile's bytes, not yet decoded.
pub(crate) struct FetchedTile {
    pub located: Located,
    bytes: Bytes,
    mask_bytes: Option<Bytes>,
}

/// The bytes of `located` tiles of one object, in one coalesced read: ingest (and GDAL's
/// COG driver) put a mask tile right behind its image tile, and a row of tiles is contiguous.
async fn fetch(
    object: &dyn RangeRead,
    located: Vec<Located>,
) -> Result<Vec<FetchedTile>, TileError> {
    let mut ranges = Vec::with_capacity(located.len() * 2);
    for l in &located {
        ranges.push(l.range.clone());
        if let Some(m) = &l.mask {
            ranges.push(m.clone());
        }
    }
    let mut bytes = Coalescing::new(object)
        .read_ranges(&ranges)
        .await?
        .into_iter();
    let mut out = Vec::with_capacity(located.len());
    for l in located {
        let short = || TileError::Corrupt(format!("{}: short read", l.key));
        let image = bytes.next().ok_or_else(short)?;
        let mask_bytes = match l.mask {
            Some(_) => Some(bytes.next().ok_or_else(short)?),
            None => None,
        };
        out.push(FetchedTile {
            located: l,
            bytes: image,
            mask_bytes,
        });
    }
    Ok(out)
}

/// Decodes a fetched tile into a block of the bands in `bands`; `None` when nothing in it is
/// valid.
pub(crate) fn decode_fetched(
    layer: &Layer,
    f: &FetchedTile,
    bands: BandMask,
) -> Result<Option<Block>, TileError> {
    let l = &f.located;
    let limits = Limits::default();
    let ifd = l
        .tiff
        .ifds
        .get(l.ifd)
        .ok_or_else(|| TileError::Corrupt(format!("{} has no IFD {}", l.key, l.ifd)))?;
    let raw = decode_tile(&l.tiff, ifd, &f.bytes, &limits)?;
    let mask_raw = match (&f.mask_bytes, l.tiff.ifds.get(l.ifd + 1)) {
        (Some(b), Some(mask_ifd)) => Some(decode_tile(&l.tiff, mask_ifd, b, &limits)?),
        _ => None,
    };
    let block = to_block(&layer.manifest, ifd, &raw, bands, mask_raw.as_deref())?;
    Ok(block.any_valid().then_some(block))
}
