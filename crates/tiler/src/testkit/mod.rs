//! Synthetic layers for tests, written with the real COG writer (`tilefn_cog::write`) and
//! published the way ingest does (objects first, then the manifest), into any [`Bucket`].
//!
//! Pixel values come from a formula of the zoom and the global pixel position, so a test can
//! compute exactly what any tile must contain. Pixels whose centre lies outside the layer's
//! box are nodata (or transparent alpha), so edge tiles are partial.
//!
//! Available in this crate's tests and with the `testkit` feature. [`CountingBucket`]
//! (`counting.rs`) counts the reads a request makes.

use std::error::Error;

use tilefn_catalog::{
    BandInfo, BandStats, Datatype, ExternalCog, ExternalLevel, Histogram, LayerBounds,
    MANIFEST_FORMAT, Manifest, ObjectEntry, SourceInfo, manifest_key, version_prefix,
};
use tilefn_cog::layout::{PyramidLayout, cog_key};
use tilefn_cog::write::{
    CogSpec, Compression, Photometric, data_order, default_predictor, encode_mask_tile,
    encode_tile, header_with_mask,
};
use tilefn_raster::mercator::{
    ORIGIN_SHIFT, mercator_to_lonlat, resolution, tile_bounds, tile_range,
};
use tilefn_raster::{Block, Bounds, DataType, TILE_SIZE, TileCoord};
use tilefn_storage::Bucket;

use crate::Request;

mod counting;
pub use counting::{CountingBucket, Counts, Tally};

type BoxError = Box<dyn Error + Send + Sync>;

/// Stores one object: `(key, bytes)`.
pub type PutFn<'a> = dyn FnMut(&str, Vec<u8>) -> Result<(), BoxError> + 'a;

const TS: usize = TILE_SIZE as usize;

/// A layer described by a formula.
#[derive(Debug, Clone)]
pub struct SyntheticLayer {
    pub id: String,
    pub version: String,
    pub datatype: Datatype,
    pub dtype: DataType,
    pub bands: usize,
    pub alpha: bool,
    /// A GDAL internal mask marks valid pixels (as ingest writes integer layers without a
    /// nodata value).
    pub mask: bool,
    pub nodata: Option<f64>,
    pub min_zoom: u8,
    pub max_zoom: u8,
    /// Data box in Web Mercator metres.
    pub bounds: Bounds,
    /// Value of `band` at global pixel (`gx`, `gy`) of zoom `z`.
    pub pixel: fn(z: u8, gx: u64, gy: u64, band: usize) -> f64,
    /// Record `header_len` in the manifest (ingest does); `false` exercises the readahead path.
    pub record_header_len: bool,
    /// Publish as one registered external COG (`manifest.external`) instead of a pyramid.
    pub external: bool,
    /// Also write the pinned copy `layers/<id>/v/<version>/manifest.json`.
    pub pinned_copy: bool,
    pub legend: Option<serde_json::Value>,
    /// The bands' unit in the manifest (`m`, `ft`).
    pub unit: Option<String>,
}

/// A box inside tile z3 (4, 3), 30 %..80 % across and 20 %..70 % down: at zoom 5 it touches
/// 3 x 3 tiles, the edge ones partly.
pub fn demo_bounds() -> Bounds {
    let t = tile_bounds(TileCoord::new(3, 4, 3));
    let (w, h) = (t.width(), t.height());
    Bounds::new(
        t.min_x + 0.3 * w,
        t.max_y - 0.7 * h,
        t.min_x + 0.8 * w,
        t.max_y - 0.2 * h,
    )
}

/// float32, NaN-free formula, nodata -9999, zooms 3..=5. Values encode the zoom
/// (`z * 1000 + ...`) so a test can tell which zoom a pixel came from.
pub fn float_layer(id: &str) -> SyntheticLayer {
    SyntheticLayer {
        id: id.to_owned(),
        version: "v1".to_owned(),
        datatype: Datatype::Continuous,
        dtype: DataType::Float32,
        bands: 1,
        alpha: false,
        mask: false,
        nodata: Some(-9999.0),
        min_zoom: 3,
        max_zoom: 5,
        bounds: demo_bounds(),
        pixel: float_pixel,
        record_header_len: true,
        external: false,
        pinned_copy: true,
        legend: None,
        unit: None,
    }
}

pub fn float_pixel(z: u8, gx: u64, gy: u64, _band: usize) -> f64 {
    f64::from(z) * 1000.0 + (gx % 251) as f64 * 0.25 + (gy % 13) as f64
}

/// uint8 classes 1..=4, nodata 0, with a default legend.
pub fn categorical_layer(id: &str) -> SyntheticLayer {
    SyntheticLayer {
        datatype: Datatype::Categorical,
        dtype: DataType::Uint8,
        nodata: Some(0.0),
        pixel: class_pixel,
        legend: Some(serde_json::json!([
            {"expression": "1", "color": "#FF0000", "name": "one"},
            {"expression": "2", "color": "#00FF00", "name": "two"},
            {"expression": "3", "color": "#0000FF", "name": "three"},
            {"expression": "4", "color": "#FFFFFF", "name": "four"},
        ])),
        ..float_layer(id)
    }
}

/// Like [`float_pixel`], but tile z5 (18, 13) is all nodata (a sparse tile in its COG).
pub fn holey_pixel(z: u8, gx: u64, gy: u64, band: usize) -> f64 {
    if z == 5 && gx / 256 == 18 && gy / 256 == 13 {
        -9999.0
    } else {
        float_pixel(z, gx, gy, band)
    }
}

pub fn class_pixel(_z: u8, gx: u64, gy: u64, _band: usize) -> f64 {
    ((gx / 7 + gy / 5) % 4 + 1) as f64
}

/// Three uint8 bands with an internal mask (no nodata value), as ingest writes them.
pub fn rgb_layer(id: &str) -> SyntheticLayer {
    SyntheticLayer {
        dtype: DataType::Uint8,
        bands: 3,
        mask: true,
        nodata: None,
        pixel: rgb_pixel,
        ..float_layer(id)
    }
}

pub fn rgb_pixel(_z: u8, gx: u64, gy: u64, band: usize) -> f64 {
    ((gx + gy * 3 + band as u64 * 50) % 256) as f64
}

/// float32, four bands, nodata -9999, zooms 3..=5 (a multispectral image): bands differ so
/// `(a - b) / (a + b)` over two of them is a real NDVI-like ratio.
pub fn multiband_layer(id: &str) -> SyntheticLayer {
    SyntheticLayer {
        bands: 4,
        pixel: multiband_pixel,
        ..float_layer(id)
    }
}

pub fn multiband_pixel(z: u8, gx: u64, gy: u64, band: usize) -> f64 {
    let b = band as u64 + 1;
    f64::from(z) * 10.0 + b as f64 * 100.0 + ((gx * b + gy * 7) % 97) as f64 * 0.5
}

/// A GET of `url` (path and optional query) at time 0.
pub fn get(url: &str) -> Request {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    Request {
        method: "GET".into(),
        path: path.into(),
        query: query.into(),
        ..Request::default()
    }
}

/// One object to store.
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub bytes: Vec<u8>,
    pub header_len: u64,
}

impl SyntheticLayer {
    /// The values of every band at a pixel, or `None` where the layer has no data.
    pub fn value_at(&self, z: u8, gx: u64, gy: u64) -> Option<Vec<f64>> {
        let res = resolution(z);
        let x = -ORIGIN_SHIFT + (gx as f64 + 0.5) * res;
        let y = ORIGIN_SHIFT - (gy as f64 + 0.5) * res;
        let b = &self.bounds;
        let inside = x > b.min_x && x < b.max_x && y > b.min_y && y < b.max_y;
        inside.then(|| {
            (0..self.bands)
                .map(|band| (self.pixel)(z, gx, gy, band))
                .collect()
        })
    }

    /// The expected stored values of tile `t` (at a stored zoom).
    pub fn block(&self, t: TileCoord) -> Block {
        let fill = self.nodata.unwrap_or(0.0);
        let mut block = Block::empty(TS, TS, self.bands, self.dtype, fill);
        let n = TS * TS;
        for row in 0..TS {
            for col in 0..TS {
                let gx = u64::from(t.x) * TS as u64 + col as u64;
                let gy = u64::from(t.y) * TS as u64 + row as u64;
                let values = self.value_at(t.z, gx, gy);
                // A formula may return the nodata value itself: such pixels are holes.
                if let Some(values) = values.filter(|v| v.first() != self.nodata.as_ref()) {
                    let p = row * TS + col;
                    block.valid[p] = true;
                    for (b, v) in values.into_iter().enumerate() {
                        block.values[b * n + p] = self.dtype.clamp(v);
                    }
                }
            }
        }
        block
    }

    fn spec(&self, anchor: TileCoord, levels: u8) -> CogSpec {
        let rgb = self.bands >= 3 && self.dtype == DataType::Uint8;
        CogSpec {
            anchor,
            levels,
            dtype: self.dtype,
            bands: self.bands as u16,
            alpha: self.alpha,
            mask: self.mask,
            photometric: if rgb {
                Photometric::Rgb
            } else {
                Photometric::MinIsBlack
            },
            compression: Compression::Deflate,
            predictor: default_predictor(self.dtype),
            nodata: self.nodata,
        }
    }

    /// One COG: header followed by every non-empty tile in COG order; `None` if empty.
    fn cog(&self, spec: &CogSpec) -> Result<Option<(Vec<u8>, u64)>, BoxError> {
        let fill = self.nodata.unwrap_or(0.0);
        let mut tiles: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut masks: Vec<Vec<Vec<u8>>> = Vec::new();
        for level in 0..usize::from(spec.levels) {
            let n = spec.tiles_per_side(level) as usize;
            let mut encoded = Vec::with_capacity(n * n);
            let mut encoded_masks = Vec::with_capacity(n * n);
            for index in 0..n * n {
                let t = spec.tile_at(level, index).ok_or("tile outside its COG")?;
                let block = self.block(t);
                if block.any_valid() {
                    encoded.push(encode_tile(
                        spec,
                        &block.to_interleaved_le(fill, self.alpha),
                    )?);
                    encoded_masks.push(if spec.mask {
                        encode_mask_tile(spec, &block.valid)?
                    } else {
                        Vec::new()
                    });
                } else {
                    encoded.push(Vec::new());
                    encoded_masks.push(Vec::new());
                }
            }
            tiles.push(encoded);
            masks.push(encoded_masks);
        }
        if tiles.iter().flatten().all(Vec::is_empty) {
            return Ok(None);
        }
        let sizes: Vec<Vec<u64>> = tiles
            .iter()
            .map(|l| l.iter().map(|t| t.len() as u64).collect())
            .collect();
        let mask_sizes: Vec<Vec<u64>> = if spec.mask {
            masks
                .iter()
                .map(|l| l.iter().map(|t| t.len() as u64).collect())
                .collect()
        } else {
            Vec::new()
        };
        let mut bytes = header_with_mask(spec, &sizes, &mask_sizes)?;
        let header_len = bytes.len() as u64;
        for (level, index) in data_order(spec) {
            bytes.extend_from_slice(&tiles[level][index]);
            bytes.extend_from_slice(&masks[level][index]);
        }
        Ok(Some((bytes, header_len)))
    }

    /// The layer's objects (COGs), keys relative to the store root.
    pub fn objects(&self) -> Result<Vec<Object>, BoxError> {
        if self.external {
            let anchors = tile_range(&self.bounds, self.min_zoom).ok_or("empty bounds")?;
            if anchors.count() != 1 {
                return Err("an external test COG must fit in one min-zoom tile".into());
            }
            let spec = self.spec(
                TileCoord::new(self.min_zoom, anchors.x0, anchors.y0),
                self.max_zoom - self.min_zoom + 1,
            );
            let (bytes, header_len) = self.cog(&spec)?.ok_or("no data")?;
            let key = format!("external/{}.tif", self.id);
            return Ok(vec![Object {
                key,
                bytes,
                header_len,
            }]);
        }
        let layout = PyramidLayout::new(self.min_zoom, self.max_zoom);
        let prefix = version_prefix(&self.id, &self.version);
        let mut out = Vec::new();
        for group in &layout.groups {
            let Some(anchors) = tile_range(&self.bounds, group.anchor_zoom) else {
                continue;
            };
            for anchor in anchors.iter() {
                if let Some((bytes, header_len)) = self.cog(&self.spec(anchor, group.levels()))? {
                    let key = format!("{prefix}{}", cog_key(anchor));
                    out.push(Object {
                        key,
                        bytes,
                        header_len,
                    });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The manifest for objects stored with the given ETags (`(object, etag)`).
    pub fn manifest(&self, stored: &[(Object, String)]) -> Manifest {
        let b = self.bounds;
        let (w, s) = mercator_to_lonlat(b.min_x, b.min_y);
        let (e, n) = mercator_to_lonlat(b.max_x, b.max_y);
        let entries: Vec<ObjectEntry> = stored
            .iter()
            .map(|(o, etag)| ObjectEntry {
                key: o.key.clone(),
                size: o.bytes.len() as u64,
                etag: etag.clone(),
                header_len: self.record_header_len.then_some(o.header_len),
            })
            .collect();
        let external = match (self.external, stored.first()) {
            (true, Some((o, etag))) => Some(self.external_cog(o, etag)),
            _ => None,
        };
        Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            id: self.id.clone(),
            name: format!("Synthetic {}", self.id),
            description: "a test layer".to_owned(),
            datatype: self.datatype,
            version: self.version.clone(),
            created: "2026-01-01T00:00:00Z".to_owned(),
            source: SourceInfo {
                file: "synthetic.tif".to_owned(),
                crs: "EPSG:3857".to_owned(),
                proj4: "+proj=merc".to_owned(),
                width: 1,
                height: 1,
                dtype: self.dtype,
                count: None,
            },
            bounds: LayerBounds {
                lonlat: [w, s, e, n],
                mercator: b.as_array(),
            },
            min_zoom: self.min_zoom,
            max_zoom: self.max_zoom,
            tile_size: TILE_SIZE,
            dtype: self.dtype,
            band_count: self.bands,
            alpha: self.alpha,
            mask: self.mask,
            nodata: self.nodata,
            bands: (0..self.bands).map(|i| self.band_info(i)).collect(),
            compression: "deflate".to_owned(),
            resampling: "nearest".to_owned(),
            groups: if self.external {
                Vec::new()
            } else {
                PyramidLayout::new(self.min_zoom, self.max_zoom).groups
            },
            prefix: version_prefix(&self.id, &self.version),
            objects: if self.external { Vec::new() } else { entries },
            legend: self.legend.clone(),
            external,
        }
    }

    fn external_cog(&self, o: &Object, etag: &str) -> ExternalCog {
        let levels = (self.min_zoom..=self.max_zoom)
            .rev()
            .enumerate()
            .filter_map(|(ifd, zoom)| {
                let anchor = tile_range(&self.bounds, self.min_zoom)?;
                let shift = zoom - self.min_zoom;
                Some(ExternalLevel {
                    ifd,
                    zoom,
                    col_offset: anchor.x0 << shift,
                    row_offset: anchor.y0 << shift,
                })
            })
            .collect();
        ExternalCog {
            url: o.key.clone(),
            size: o.bytes.len() as u64,
            etag: etag.to_owned(),
            header_len: o.header_len,
            levels,
        }
    }

    /// Statistics over the max zoom (min/max stand in for the percentiles).
    fn band_info(&self, band: usize) -> BandInfo {
        let (mut lo, mut hi, mut count) = (f64::INFINITY, f64::NEG_INFINITY, 0u64);
        if let Some(range) = tile_range(&self.bounds, self.max_zoom) {
            for t in range.iter() {
                let block = self.block(t);
                let n = block.pixels();
                for p in (0..n).filter(|p| block.valid[*p]) {
                    let v = block.values[band * n + p];
                    (lo, hi, count) = (lo.min(v), hi.max(v), count + 1);
                }
            }
        }
        BandInfo {
            index: band,
            dtype: self.dtype,
            nodata: self.nodata,
            unit: self.unit.clone(),
            stats: (count > 0).then(|| BandStats {
                count,
                min: lo,
                max: hi,
                mean: (lo + hi) / 2.0,
                std: 0.0,
                p2: lo,
                p98: hi,
                histogram: Histogram {
                    min: lo,
                    max: hi,
                    counts: vec![0; 256],
                },
                quantiles: None,
                value_counts: None,
                area_m2: None,
                too_many_classes: false,
            }),
        }
    }

    /// Publishes the layer: `put(key, bytes)` stores each object, `bucket` (over the same
    /// store) reports its ETag, then the manifest goes in last, as ingest does.
    pub async fn publish(
        &self,
        bucket: &dyn Bucket,
        put: &mut PutFn<'_>,
    ) -> Result<Manifest, BoxError> {
        let mut stored = Vec::new();
        for object in self.objects()? {
            put(&object.key, object.bytes.clone())?;
            let fetched = bucket
                .get(&object.key, u64::MAX)
                .await?
                .ok_or("object vanished after put")?;
            stored.push((object, fetched.etag.ok_or("the store reports no ETag")?));
        }
        let manifest = self.manifest(&stored);
        let json = manifest.to_json_pretty();
        if self.pinned_copy {
            let key = format!("{}manifest.json", version_prefix(&self.id, &self.version));
            put(&key, json.clone())?;
        }
        put(&manifest_key(&self.id), json)?;
        Ok(manifest)
    }
}

/// Publishes `layer` into a [`MemoryStore`](tilefn_storage::MemoryStore).
pub async fn publish_to_memory(
    store: &tilefn_storage::MemoryStore,
    layer: &SyntheticLayer,
) -> Result<Manifest, BoxError> {
    let writer = store.clone();
    layer
        .publish(store, &mut |key, bytes| {
            writer.put(key, bytes);
            Ok(())
        })
        .await
}

/// Publishes `layer` into a directory (a `file://` store).
pub async fn publish_to_dir(
    dir: &std::path::Path,
    bucket: &dyn Bucket,
    layer: &SyntheticLayer,
) -> Result<Manifest, BoxError> {
    layer
        .publish(bucket, &mut |key, bytes| {
            let path = dir.join(key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, bytes)?;
            Ok(())
        })
        .await
}

/// Stores a legend at `legends/<name>.json`.
pub fn legend_key(name: &str) -> String {
    format!("legends/{name}.json")
}
