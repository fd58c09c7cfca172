//! The fetch handler: one `tilefn_tiler::Service` per isolate, request/response conversion
//! and the edge cache in front of rendered tiles.

use std::cell::OnceCell;
use std::rc::Rc;

use tilefn_tiler::{
    Config, MAX_BODY_BYTES, Request as TileRequest, Response as TileResponse, Service,
};
use worker::{Cache, Context, Date, Env, Headers, Request, Response, Result, Url, event};

use crate::objects;
use crate::pure::{etag_matches, is_cacheable_path, parse_max_age};
use crate::r2::R2Bucket;
use crate::test_routes;

/// The R2 binding holding the published store (`wrangler.toml` `[[r2_buckets]]`).
const TILES_BINDING: &str = "TILES";

thread_local! {
    // One service per isolate, so its manifest cache and COG-header LRU outlive a request:
    // a warm tile then costs one R2 read. Isolates are single-threaded, hence thread_local.
    static SERVICE: OnceCell<Rc<Service<R2Bucket>>> = const { OnceCell::new() };
}

fn service(env: &Env) -> Result<Rc<Service<R2Bucket>>> {
    SERVICE.with(|cell| {
        if let Some(service) = cell.get() {
            return Ok(Rc::clone(service));
        }
        // The binding object is the same for every request of an isolate, so keeping the
        // first one is safe (it is not an I/O object tied to one request).
        let bucket = R2Bucket::new(env.bucket(TILES_BINDING)?);
        let service = Rc::new(Service::new(bucket, config(env)));
        let _ = cell.set(Rc::clone(&service));
        Ok(service)
    })
}

/// `[vars]` of wrangler.toml: `MAX_AGE` (seconds) and `CORS_ORIGIN`.
fn config(env: &Env) -> Config {
    let defaults = Config::default();
    let var = |name: &str| env.var(name).ok().map(|v| v.to_string());
    Config {
        max_age: parse_max_age(var("MAX_AGE").as_deref(), defaults.max_age),
        cors_origin: var("CORS_ORIGIN")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| defaults.cors_origin.clone()),
        ..defaults
    }
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> Result<Response> {
    let url = req.url()?;
    if url.path().starts_with("/__test/") && test_routes::enabled(&env) {
        return test_routes::handle(&url, &env).await;
    }
    if url.path().starts_with(objects::PREFIX) {
        let config = config(&env);
        let bucket = env.bucket(TILES_BINDING)?;
        return objects::handle(
            &req,
            url.path(),
            &bucket,
            config.max_age,
            &config.cors_origin,
        )
        .await;
    }
    let method = req.inner().method();
    let body = if method.eq_ignore_ascii_case("POST") {
        let declared = req.headers().get("content-length")?;
        let declared: usize = declared.and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        if declared > MAX_BODY_BYTES {
            // Refused before reading a byte of it.
            return match service(&env) {
                Ok(service) => to_worker(&service.body_too_large()),
                Err(_) => Response::error("{\"error\":\"the tile store is not configured\"}", 500),
            };
        }
        req.bytes().await?
    } else {
        Vec::new()
    };
    let tile_req = TileRequest {
        body,
        method,
        path: url.path().to_owned(),
        query: url.query().unwrap_or_default().to_owned(),
        if_none_match: req.headers().get("if-none-match")?,
        now_ms: Date::now().as_millis() as f64,
        origin: Some(url.origin().ascii_serialization()),
    };
    let cacheable = tile_req.method == "GET" && is_cacheable_path(&tile_req.path);
    if cacheable && let Some(hit) = from_cache(&url, tile_req.if_none_match.as_deref()).await? {
        return Ok(hit);
    }
    let service = match service(&env) {
        Ok(service) => service,
        Err(err) => {
            worker::console_error!("tilefn: cannot start the service: {err}");
            return Response::error("{\"error\":\"the tile store is not configured\"}", 500);
        }
    };
    let out = service.handle(&tile_req).await;
    // Only 200s: a 204 (no data there) is cheap to answer again, and the Cache API cannot
    // store it anyway: Miniflare's cache rebuilds the entry with a body, which a 204 must
    // not have, and every such put failed with a TypeError in wrangler dev's log.
    if cacheable && out.status == 200 && out.header("cache-control").is_some() {
        let copy = to_worker(&out)?;
        let key = url.to_string();
        // The client need not wait for the cache write.
        ctx.wait_until(async move {
            if let Err(err) = Cache::default().put(key.as_str(), copy).await {
                worker::console_warn!("tilefn: cache put failed: {err}");
            }
        });
    }
    to_worker(&out)
}

/// A cached answer for `url`: 304 when `If-None-Match` matches its ETag, else the cached
/// response itself, marked `x-edge-cache: HIT`.
async fn from_cache(url: &Url, if_none_match: Option<&str>) -> Result<Option<Response>> {
    let Some(mut cached) = Cache::default().get(url.as_str(), false).await? else {
        return Ok(None);
    };
    let headers = Headers::new();
    for (name, value) in cached.headers().entries() {
        headers.set(&name, &value)?;
    }
    headers.set("x-edge-cache", "HIT")?;
    let etag = cached.headers().get("etag")?;
    if let (Some(inm), Some(etag)) = (if_none_match, etag.as_deref())
        && etag_matches(inm, etag)
    {
        for name in ["content-type", "content-length"] {
            headers.delete(name)?;
        }
        return Ok(Some(
            Response::empty()?.with_status(304).with_headers(headers),
        ));
    }
    let status = cached.status_code();
    let body = cached.bytes().await?;
    let response = if body.is_empty() {
        Response::empty()?
    } else {
        Response::from_bytes(body)?
    };
    Ok(Some(response.with_status(status).with_headers(headers)))
}

/// The service's response as a workers-rs one. Empty bodies become null bodies, which 204
/// and 304 require (the JS `Response` constructor rejects any body for them).
fn to_worker(out: &TileResponse) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &out.headers {
        headers.append(name, value)?;
    }
    let response = if out.body.is_empty() {
        Response::empty()?
    } else {
        Response::from_bytes(out.body.clone())?
    };
    Ok(response.with_status(out.status).with_headers(headers))
}
