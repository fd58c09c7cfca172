//! [`Service`]: one typed request in, one response out. Handlers return a `Reply` or a
//! [`TileError`]; this file alone turns them into statuses and headers (CORS, ETag,
//! Cache-Control, content type), so every route behaves the same.

use std::fmt;
use std::sync::Arc;

use tilefn_cog::read::Tiff;
use tilefn_storage::Bucket;

use crate::cache::ByteLru;
use crate::convert::BandMask;
use crate::etag;
use crate::layer::{Layer, Legend};
use crate::paint::{self, Painter};
use crate::rim::Rim;
use crate::route::{self, Route, TileRequest};
use crate::{Config, Request, Response, TileError};

/// Budget of the manifest cache (one 16 MiB manifest, the largest read, still fits).
const MANIFEST_CACHE_BYTES: usize = 40 << 20;
/// Budget of the legend cache.
const LEGEND_CACHE_BYTES: usize = 4 << 20;
/// Budget of the whole-layer reduction cache.
const REDUCTION_CACHE_BYTES: usize = 1 << 20;
/// Tile rims for halos: ~900 single-band tiles' rims of width 1 (a map view is ~30 tiles),
/// or 22 rims of width 16 of a 4-band layer; small beside a 128 MB isolate.
const RIM_CACHE_BYTES: usize = 8 << 20;
/// `max-age` of version-pinned tiles: they never change.
const IMMUTABLE_MAX_AGE: u32 = 31_536_000;

/// The tile service over one bucket. Cheap to share; caches live as long as it does (one
/// Worker isolate, one native process).
pub struct Service<B: Bucket> {
    pub(crate) bucket: B,
    pub(crate) config: Config,
    pub(crate) manifests: ByteLru<String, Layer>,
    pub(crate) legends: ByteLru<String, Legend>,
    pub(crate) headers: ByteLru<String, Tiff>,
    /// Whole-layer reductions (`min(x)`, `mean(a - b)`, default stretches of formulas), keyed
    /// by the canonical reduction and the bound layers' versions, so they never go stale.
    pub(crate) reductions: ByteLru<String, f64>,
    /// Rims of decoded tiles, for the halos of neighbourhood functions (`rim.rs`).
    pub(crate) rims: ByteLru<String, Rim>,
}

impl<B: Bucket> fmt::Debug for Service<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("bucket", &self.bucket)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How long a response may be cached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Caching {
    NoStore,
    MaxAge(u32),
    Immutable,
}

impl Caching {
    fn header(self) -> String {
        match self {
            Caching::NoStore => "no-store".to_owned(),
            Caching::MaxAge(s) => format!("public, max-age={s}"),
            Caching::Immutable => format!("public, max-age={IMMUTABLE_MAX_AGE}, immutable"),
        }
    }
}

/// A successful answer, before headers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub etag: Option<String>,
    pub caching: Caching,
}

impl Reply {
    /// A 200 with an ETag of its body, or a 304 when `If-None-Match` already has it.
    pub fn json(value: &serde_json::Value, caching: Caching, req: &Request) -> Reply {
        let body = value.to_string().into_bytes();
        let tag = etag::strong(&[&String::from_utf8_lossy(&body)]);
        if let Some(not_modified) = Reply::conditional(req, tag.clone(), caching) {
            return not_modified;
        }
        Reply {
            status: 200,
            content_type: Some("application/json"),
            body,
            etag: Some(tag),
            caching,
        }
    }

    /// A 304 for `tag` when the request's `If-None-Match` matches it.
    pub fn conditional(req: &Request, tag: String, caching: Caching) -> Option<Reply> {
        let header = req.if_none_match.as_deref()?;
        etag::none_match(header, &tag).then_some(Reply {
            status: 304,
            content_type: None,
            body: Vec::new(),
            etag: Some(tag),
            caching,
        })
    }
}

impl<B: Bucket> Service<B> {
    pub fn new(bucket: B, config: Config) -> Self {
        let headers = ByteLru::new(config.header_cache_bytes);
        Service {
            bucket,
            config,
            manifests: ByteLru::new(MANIFEST_CACHE_BYTES),
            legends: ByteLru::new(LEGEND_CACHE_BYTES),
            headers,
            reductions: ByteLru::new(REDUCTION_CACHE_BYTES),
            rims: ByteLru::new(RIM_CACHE_BYTES),
        }
    }

    /// The bucket tiles are read from.
    pub fn bucket(&self) -> &B {
        &self.bucket
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answers one request. Never panics on hostile input and never fails: errors become
    /// JSON error responses (5xx details go to the `log` crate only).
    pub async fn handle(&self, req: &Request) -> Response {
        let method = req.method.to_ascii_uppercase();
        let mut response = match method.as_str() {
            "OPTIONS" => self.preflight(),
            "GET" | "HEAD" | "POST" => {
                let post = method == "POST";
                let result = match route::parse_request(post, &req.path, &req.query, &req.body) {
                    Ok(route) => self.dispatch(&route, req).await,
                    Err(err) => Err(err),
                };
                match result {
                    Ok(reply) => self.respond(reply),
                    Err(err) => self.error(&err, req),
                }
            }
            _ => {
                let mut r = self.error(&TileError::MethodNotAllowed(method.clone()), req);
                r.headers
                    .push(("allow".to_owned(), "GET, HEAD, POST, OPTIONS".to_owned()));
                r
            }
        };
        response.headers.push((
            "access-control-allow-origin".to_owned(),
            self.config.cors_origin.clone(),
        ));
        response.headers.push((
            "access-control-expose-headers".to_owned(),
            "ETag".to_owned(),
        ));
        if method == "HEAD" {
            response.body.clear();
        }
        response
    }

    async fn dispatch(&self, route: &Route, req: &Request) -> Result<Reply, TileError> {
        match route {
            Route::Health => Ok(Reply {
                status: 200,
                content_type: Some("application/json"),
                body: br#"{"status":"ok"}"#.to_vec(),
                etag: None,
                caching: Caching::NoStore,
            }),
            Route::Colormaps => {
                let value = serde_json::json!({ "colormaps": paint::colormap_names() });
                Ok(Reply::json(
                    &value,
                    Caching::MaxAge(self.config.max_age),
                    req,
                ))
            }
            Route::Tile(tile) => self.tile(tile, req).await,
            Route::Legend(name) => {
                let legend = self.legend(name, req.now_ms).await?;
                let caching = Caching::MaxAge(self.config.max_age);
                let tag = etag::strong(&["legend", &legend.digest]);
                if let Some(not_modified) = Reply::conditional(req, tag.clone(), caching) {
                    return Ok(not_modified);
                }
                Ok(Reply {
                    status: 200,
                    content_type: Some("application/json"),
                    body: legend.value.to_string().into_bytes(),
                    etag: Some(tag),
                    caching,
                })
            }
            Route::LegendPng(name) => {
                let legend = self.legend(name, req.now_ms).await?;
                let caching = Caching::MaxAge(self.config.max_age);
                let tag = etag::strong(&["legend.png", &legend.digest]);
                if let Some(not_modified) = Reply::conditional(req, tag.clone(), caching) {
                    return Ok(not_modified);
                }
                Ok(Reply {
                    status: 200,
                    content_type: Some("image/png"),
                    body: paint::swatch(&legend.value)?,
                    etag: Some(tag),
                    caching,
                })
            }
            Route::Layers => self.layers(req).await,
            Route::Layer(id) => self.layer_info(id, req).await,
            Route::Breaks(b) => self.breaks(b, req).await,
            Route::TileJson(id, style, terrain) => self.tilejson(id, style, terrain, req).await,
            Route::Algebra(a) => self.algebra(a, req).await,
            Route::Pixel(p) => self.pixel(p, req).await,
            Route::Statistics(s) => self.statistics(s, req).await,
            Route::Export(e) => self.export(e, req).await,
            Route::FormulaExport(e) => self.formula_export(e, req).await,
        }
    }

    /// A tile, retried once with a fresh manifest when an object it names changed or
    /// vanished (a publish happened since the manifest was cached).
    async fn tile(&self, t: &TileRequest, req: &Request) -> Result<Reply, TileError> {
        match self.tile_once(t, req).await {
            Err(err) if err.is_stale() && t.style.version.is_none() => {
                log::info!(
                    "tile {}/{}: {err}; retrying with a fresh manifest",
                    t.layer,
                    t.tile
                );
                self.forget_layer(&t.layer);
                self.tile_once(t, req).await
            }
            other => other,
        }
    }

    async fn tile_once(&self, t: &TileRequest, req: &Request) -> Result<Reply, TileError> {
        let version = t.style.version.as_deref();
        let layer = self.layer(&t.layer, version, req.now_ms).await?;
        let legend: Option<Arc<Legend>> = match &t.style.legend {
            Some(name) => Some(self.legend(name, req.now_ms).await?),
            None => None,
        };
        let painter = match t.encoding {
            Some(encoding) => Painter::Dem(encoding),
            None => Painter::new(
                &layer.manifest,
                t.format,
                &t.style,
                legend.as_ref().map(|l| &l.value),
            )?,
        };
        // Elevations are band 0 alone: its own validity, and no other band converted.
        let bands = match t.encoding {
            Some(_) => BandMask::NONE.with(0),
            None => BandMask::ALL,
        };
        let caching = match version {
            Some(_) => Caching::Immutable,
            None => Caching::MaxAge(self.config.max_age),
        };
        let tag = etag::strong(&[
            "tile",
            &t.layer,
            &layer.manifest.version,
            &t.tile.to_string(),
            t.format.ext(),
            &t.style.canonical(),
            &painter.canonical(),
        ]);
        // Decided from the (cached) manifest alone: no tile bytes are read for a 304.
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
        if !layer.covers(t.tile) {
            return Ok(empty);
        }
        let Some(block) = self.read_tile(&layer, t.tile, bands).await? else {
            return Ok(empty);
        };
        let body = painter.encode(
            &block,
            t.tile,
            t.format,
            layer.manifest.nodata,
            &t.style.enhance,
        )?;
        Ok(Reply {
            status: 200,
            content_type: Some(t.format.content_type()),
            body,
            etag: Some(tag),
            caching,
        })
    }

    fn respond(&self, reply: Reply) -> Response {
        let mut headers = vec![("cache-control".to_owned(), reply.caching.header())];
        if let Some(ct) = reply.content_type {
            headers.push(("content-type".to_owned(), ct.to_owned()));
        }
        if let Some(tag) = reply.etag {
            headers.push(("etag".to_owned(), tag));
        }
        Response {
            status: reply.status,
            headers,
            body: reply.body,
        }
    }

    fn error(&self, err: &TileError, req: &Request) -> Response {
        let status = err.status();
        if status >= 500 {
            log::error!("{} {}: {err}", req.method, req.path);
        }
        Response {
            status,
            headers: vec![
                ("cache-control".to_owned(), "no-store".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ],
            body: err.body(),
        }
    }

    /// The answer to a request whose body is larger than [`crate::MAX_BODY_BYTES`], for
    /// hosts that stop reading it early (so it never reaches [`Service::handle`]).
    pub fn body_too_large(&self) -> Response {
        let err = TileError::bad(
            "body",
            format!("longer than {} bytes (size limit)", crate::MAX_BODY_BYTES),
        );
        let mut response = self.error(&err, &Request::default());
        response.headers.push((
            "access-control-allow-origin".to_owned(),
            self.config.cors_origin.clone(),
        ));
        response
    }

    fn preflight(&self) -> Response {
        let headers = [
            ("cache-control", "public, max-age=86400"),
            ("access-control-allow-methods", "GET, HEAD, POST, OPTIONS"),
            (
                "access-control-allow-headers",
                "If-None-Match, Content-Type",
            ),
            ("access-control-max-age", "86400"),
        ];
        Response {
            status: 204,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: Vec::new(),
        }
    }
}
