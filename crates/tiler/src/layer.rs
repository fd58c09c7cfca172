//! Manifests and legends from the bucket, validated once and cached per [`Service`].
//!
//! A layer's current manifest (`layers/<id>/manifest.json`) is trusted for
//! `Config::manifest_ttl_ms`; a pinned one (`layers/<id>/v/<version>/manifest.json`) never
//! changes, so it stays until evicted. Legends (`legends/<name>.json`) follow the same TTL.

use std::sync::Arc;

use tilefn_catalog::{Manifest, ObjectEntry, manifest_key, version_prefix};
use tilefn_cog::layout::{MAX_LEVELS_PER_COG, PyramidLayout};
use tilefn_raster::mercator::MAX_ZOOM;
use tilefn_storage::Bucket;

use crate::{Service, TileError};

/// Largest manifest read (a world layer lists ~262k COGs).
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// Largest legend read.
pub const MAX_LEGEND_BYTES: u64 = 256 << 10;
/// Most data bands a layer may declare (a decoded tile is 256x256 f64 per band).
const MAX_BANDS: usize = 64;

/// A validated manifest and what is derived from it once.
#[derive(Debug)]
pub struct Layer {
    pub manifest: Manifest,
    /// Where each zoom lives (unused for external COGs).
    pub layout: PyramidLayout,
}

impl Layer {
    pub fn from_json(id: &str, bytes: &[u8]) -> Result<Layer, TileError> {
        let corrupt = |m: String| TileError::Corrupt(format!("manifest of {id}: {m}"));
        let mut manifest = Manifest::from_json(bytes).map_err(|e| corrupt(e.to_string()))?;
        if !manifest.format.starts_with("tilefn-layer/") {
            return Err(corrupt(format!("unknown format {:?}", manifest.format)));
        }
        if manifest.min_zoom > manifest.max_zoom || manifest.max_zoom > MAX_ZOOM {
            return Err(corrupt("bad zoom range".into()));
        }
        if manifest.band_count == 0 || manifest.band_count > MAX_BANDS {
            return Err(corrupt(format!("{} bands", manifest.band_count)));
        }
        let groups_ok = manifest.groups.iter().all(|g| {
            g.anchor_zoom <= g.max_zoom
                && g.max_zoom <= manifest.max_zoom
                && g.levels() <= MAX_LEVELS_PER_COG
        });
        if !groups_ok {
            return Err(corrupt("bad level groups".into()));
        }
        let layout = if manifest.groups.is_empty() {
            PyramidLayout::new(manifest.min_zoom, manifest.max_zoom)
        } else {
            PyramidLayout {
                min_zoom: manifest.min_zoom,
                max_zoom: manifest.max_zoom,
                groups: manifest.groups.clone(),
            }
        };
        // Ingest writes objects sorted; sorting anyway keeps lookups a binary search.
        if !manifest.objects.is_sorted_by(|a, b| a.key <= b.key) {
            manifest.objects.sort_by(|a, b| a.key.cmp(&b.key));
        }
        Ok(Layer { manifest, layout })
    }

    /// The manifest's entry for `key`, if the object exists.
    pub fn object(&self, key: &str) -> Option<&ObjectEntry> {
        let objects = &self.manifest.objects;
        objects
            .binary_search_by(|o| o.key.as_str().cmp(key))
            .ok()
            .and_then(|i| objects.get(i))
    }

    /// The zooms tiles are stored at (`min..=max`).
    pub fn stored_zooms(&self) -> (u8, u8) {
        match &self.manifest.external {
            Some(ext) => {
                let zooms = ext.levels.iter().map(|l| l.zoom);
                let min = zooms.clone().min().unwrap_or(0);
                (min, zooms.max().unwrap_or(0))
            }
            None => (self.manifest.min_zoom, self.manifest.max_zoom),
        }
    }
}

/// A stored legend and a digest of its bytes (legend content feeds tile ETags).
#[derive(Debug)]
pub struct Legend {
    pub value: serde_json::Value,
    pub digest: String,
}

impl<B: Bucket> Service<B> {
    /// The layer `id`, at `version` when pinned.
    pub(crate) async fn layer(
        &self,
        id: &str,
        version: Option<&str>,
        now_ms: f64,
    ) -> Result<Arc<Layer>, TileError> {
        let Some(version) = version else {
            return self.current_layer(id, now_ms).await;
        };
        let key = format!("{}manifest.json", version_prefix(id, version));
        if let Some(layer) = self.manifests.get(&key, now_ms, f64::INFINITY) {
            return Ok(layer);
        }
        if let Some(layer) = self.fetch_layer(id, &key, now_ms).await? {
            // Immutable: cache it with no expiry.
            return Ok(layer);
        }
        // Older publishes only wrote the current manifest: accept it if it is that version.
        let current = self.current_layer(id, now_ms).await?;
        if current.manifest.version == version {
            Ok(current)
        } else {
            Err(TileError::NotFound(format!(
                "version not found: {version} of layer {id}"
            )))
        }
    }

    async fn current_layer(&self, id: &str, now_ms: f64) -> Result<Arc<Layer>, TileError> {
        let key = manifest_key(id);
        if let Some(layer) = self
            .manifests
            .get(&key, now_ms, self.config.manifest_ttl_ms)
        {
            return Ok(layer);
        }
        self.fetch_layer(id, &key, now_ms)
            .await?
            .ok_or_else(|| TileError::NotFound(format!("layer not found: {id}")))
    }

    async fn fetch_layer(
        &self,
        id: &str,
        key: &str,
        now_ms: f64,
    ) -> Result<Option<Arc<Layer>>, TileError> {
        let Some(fetched) = self.bucket.get(key, MAX_MANIFEST_BYTES).await? else {
            return Ok(None);
        };
        let layer = Arc::new(Layer::from_json(id, &fetched.bytes)?);
        if layer.manifest.id != id {
            return Err(TileError::Corrupt(format!(
                "{key} describes layer {:?}",
                layer.manifest.id
            )));
        }
        // Parsed JSON takes roughly twice its text in memory.
        let size = fetched.bytes.len().saturating_mul(2);
        self.manifests
            .put(key.to_owned(), Arc::clone(&layer), size, now_ms);
        Ok(Some(layer))
    }

    /// Drops the cached current manifest of `id` (an object it lists changed or vanished).
    pub(crate) fn forget_layer(&self, id: &str) {
        self.manifests.remove(&manifest_key(id));
    }

    /// The legend `name` (`legends/<name>.json`).
    pub(crate) async fn legend(&self, name: &str, now_ms: f64) -> Result<Arc<Legend>, TileError> {
        let key = format!("legends/{name}.json");
        if let Some(legend) = self.legends.get(&key, now_ms, self.config.manifest_ttl_ms) {
            return Ok(legend);
        }
        let Some(fetched) = self.bucket.get(&key, MAX_LEGEND_BYTES).await? else {
            return Err(TileError::NotFound(format!("legend not found: {name}")));
        };
        let value = serde_json::from_slice(&fetched.bytes)
            .map_err(|e| TileError::Corrupt(format!("{key}: {e}")))?;
        let digest = crate::etag::strong(&[&String::from_utf8_lossy(&fetched.bytes)]);
        let legend = Arc::new(Legend { value, digest });
        let size = fetched.bytes.len().saturating_mul(3);
        self.legends.put(key, Arc::clone(&legend), size, now_ms);
        Ok(legend)
    }
}
