//! The catalogue routes: `/layers`, `/layers/{id}`, `/layers/{id}/breaks` and TileJSON
//! (`/tiles/{id}.json`).
//!
//! URLs in these documents are absolute when the host passed `Request::origin`, otherwise
//! root-relative (`/tiles/...`), which browsers resolve against the page's origin.

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use tilefn_storage::Bucket;

use crate::layer::Layer;
use crate::route::{BreaksRequest, StyleQuery};
use crate::service::{Caching, Reply};
use crate::{Request, Service, TileError};

/// Most layers listed by `/layers` (each costs a manifest read when not cached).
const MAX_LISTED_LAYERS: usize = 500;
/// Manifest reads in flight while listing.
const LIST_CONCURRENCY: usize = 8;

impl<B: Bucket> Service<B> {
    /// Catalogue documents change when a layer is republished, which the service notices
    /// within `manifest_ttl_ms`: cache them no longer than that.
    fn catalogue_caching(&self) -> Caching {
        let ttl_s = (self.config.manifest_ttl_ms / 1000.0).ceil();
        let secs = if ttl_s.is_finite() && ttl_s > 0.0 {
            (ttl_s as u32).min(self.config.max_age)
        } else {
            0
        };
        Caching::MaxAge(secs)
    }

    pub(crate) async fn layers(&self, req: &Request) -> Result<Reply, TileError> {
        let mut ids = self.bucket.list_dirs("layers/").await?;
        ids.retain(|id| tilefn_catalog::validate_layer_id(id).is_ok());
        ids.truncate(MAX_LISTED_LAYERS);
        let layers: Vec<Option<Value>> = stream::iter(ids)
            .map(|id| async move {
                match self.layer(&id, None, req.now_ms).await {
                    Ok(layer) => Some(summary(&layer, req)),
                    // A half-written or broken layer must not hide the others.
                    Err(err) => {
                        log::warn!("/layers: skipping {id}: {err}");
                        None
                    }
                }
            })
            .buffered(LIST_CONCURRENCY)
            .collect()
            .await;
        let list: Vec<Value> = layers.into_iter().flatten().collect();
        Ok(Reply::json(
            &json!({ "layers": list }),
            self.catalogue_caching(),
            req,
        ))
    }

    pub(crate) async fn layer_info(&self, id: &str, req: &Request) -> Result<Reply, TileError> {
        let layer = self.layer(id, None, req.now_ms).await?;
        let mut value = serde_json::to_value(&layer.manifest)
            .map_err(|e| TileError::Corrupt(format!("manifest of {id}: {e}")))?;
        if let Some(map) = value.as_object_mut() {
            map.remove("objects");
            map.insert("tiles".into(), json!(tile_template(&layer, req, "")));
            map.insert(
                "tilejson".into(),
                json!(format!("{}/tiles/{id}.json", base(req))),
            );
        }
        Ok(Reply::json(&value, self.catalogue_caching(), req))
    }

    /// GeoPySpark's `get_quantile_breaks`: the `n - 1` inner breaks of `n` equal-count
    /// classes, from the band's stored quantiles (interpolated between their 0.5% grid).
    pub(crate) async fn breaks(
        &self,
        b: &BreaksRequest,
        req: &Request,
    ) -> Result<Reply, TileError> {
        let layer = self.layer(&b.layer, None, req.now_ms).await?;
        let m = &layer.manifest;
        let band = m.bands.get(b.band).ok_or_else(|| {
            TileError::bad(
                "band",
                format!("{} has bands 0..{}", b.layer, m.bands.len()),
            )
        })?;
        let q = band
            .stats
            .as_ref()
            .and_then(|s| s.quantiles.as_ref())
            .ok_or_else(|| {
                TileError::NotFound(format!(
                    "{} band {} has no stored quantiles (no valid pixel, or ingested before \
                     they were computed: ingest it again)",
                    b.layer, b.band
                ))
            })?;
        let breaks = q.breaks(b.n).ok_or_else(|| {
            TileError::Corrupt(format!("manifest of {}: malformed quantiles", b.layer))
        })?;
        let value = json!({
            "layer": b.layer,
            "band": b.band,
            "n": b.n,
            "breaks": breaks,
            "method": q.method.name(),
            "rank_error": q.rank_error,
        });
        Ok(Reply::json(&value, self.catalogue_caching(), req))
    }

    pub(crate) async fn tilejson(
        &self,
        id: &str,
        style: &StyleQuery,
        terrain: &str,
        req: &Request,
    ) -> Result<Reply, TileError> {
        let layer = self.layer(id, style.version.as_deref(), req.now_ms).await?;
        let query = [style.to_query(), terrain.to_owned()]
            .into_iter()
            .filter(|q| !q.is_empty())
            .collect::<Vec<_>>()
            .join("&");
        let m = &layer.manifest;
        let [w, s, e, n] = m.bounds.lonlat;
        let center_zoom = m.min_zoom.max(m.max_zoom.saturating_sub(4)).min(m.max_zoom);
        let mut value = json!({
            "tilejson": "3.0.0",
            "name": m.name,
            "description": m.description,
            "version": m.version,
            "scheme": "xyz",
            "tiles": [tile_template(&layer, req, &query)],
            "minzoom": 0,
            "maxzoom": m.max_zoom,
            "bounds": [w, s, e, n],
            "center": [(w + e) / 2.0, (s + n) / 2.0, center_zoom],
        });
        if let Some(legend) = &m.legend {
            value["legend"] = legend.clone();
        }
        Ok(Reply::json(&value, self.catalogue_caching(), req))
    }
}

/// The origin prefix of URLs: `scheme://host` or nothing (root-relative URLs).
fn base(req: &Request) -> String {
    req.origin
        .as_deref()
        .map(|o| o.trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

/// `{base}/tiles/{id}/{z}/{x}/{y}.png[?query]`
fn tile_template(layer: &Layer, req: &Request, query: &str) -> String {
    let id = &layer.manifest.id;
    let mut url = format!("{}/tiles/{id}/{{z}}/{{x}}/{{y}}.png", base(req));
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

fn summary(layer: &Layer, req: &Request) -> Value {
    let m = &layer.manifest;
    json!({
        "id": m.id,
        "name": m.name,
        "description": m.description,
        "datatype": m.datatype.name(),
        "bounds": m.bounds.lonlat,
        "min_zoom": m.min_zoom,
        "max_zoom": m.max_zoom,
        "dtype": m.dtype,
        "band_count": m.band_count,
        "version": m.version,
        "tiles": tile_template(layer, req, ""),
    })
}
