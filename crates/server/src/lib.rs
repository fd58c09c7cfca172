//! The native host of `tilefn_tiler::Service`: axum in, `Service::handle` in the middle,
//! axum out. All tile logic lives in `tilefn-tiler`, shared with the Cloudflare Worker; this
//! crate only converts requests and responses, supplies the clock, and optionally serves a
//! directory of static files (the demo page) at `/`.

/// mimalloc rather than the system allocator, for every binary linking this crate (the
/// server, its tests and examples). Each tile request allocates a few buffers of 0.5-2 MiB
/// (decoded samples as f64, painted pixels), and glibc hands those back to the kernel on
/// free, so every request page-faulted them in again: ~970 faults per RGB tile, a third of
/// its CPU. mimalloc keeps them: 1.9x less CPU per RGB JPEG tile, the same for the DEM and
/// NDVI tiles (examples/replay.rs; jemalloc was measured too: RGB 1.5x less, DEM and NDVI
/// 1.2x more).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use tilefn_storage::{ObjectStoreBucket, StorageError};
use tilefn_tiler::{Config, MAX_BODY_BYTES, Request, Service};
use tokio::net::TcpListener;

/// What `tilefn-serve` is asked to do.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub store: String,
    pub max_age: u32,
    pub cors_origin: String,
    pub www: Option<PathBuf>,
}

/// Paths the tile service answers; with `--www`, everything else is a static file.
const SERVICE_PREFIXES: [&str; 10] = [
    "/tiles/",
    "/layers",
    "/legends/",
    "/health",
    "/colormaps",
    "/algebra/",
    "/pixel/",
    "/statistics",
    "/export/",
    // The formula export, `/export.{tif,png,jpg}`.
    "/export.",
];

struct AppState {
    service: Service<ObjectStoreBucket>,
    www: Option<PathBuf>,
}

/// Builds the router for a store URL.
pub fn app(options: &ServerOptions) -> Result<Router, StorageError> {
    let bucket = ObjectStoreBucket::from_url(&store_url(&options.store))?;
    let config = Config {
        max_age: options.max_age,
        cors_origin: options.cors_origin.clone(),
        ..Config::default()
    };
    let state = Arc::new(AppState {
        service: Service::new(bucket, config),
        www: options.www.clone(),
    });
    Ok(Router::new().fallback(handle).with_state(state))
}

/// Serves until the process is stopped.
pub async fn serve(listener: TcpListener, options: &ServerOptions) -> Result<(), String> {
    let app = app(options).map_err(|e| e.to_string())?;
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

/// `file://./dir` (a relative path written as a URL, the documented default) is not a valid
/// file URL; treat it as the relative path it means.
fn store_url(url: &str) -> String {
    match url.strip_prefix("file://") {
        Some(rest) if rest.starts_with('.') => rest.to_owned(),
        _ => url.to_owned(),
    }
}

async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path();
    if let Some(www) = &state.www
        && !SERVICE_PREFIXES.iter().any(|p| path.starts_with(p))
        && matches!(method, Method::GET | Method::HEAD)
    {
        return static_file(www, path, method == Method::HEAD).await;
    }
    let text = |name: HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    // One byte over the limit is enough for the service to refuse it with its JSON error.
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES + 1).await else {
        return to_axum(state.service.body_too_large());
    };
    let request = Request {
        body: body.to_vec(),
        method: method.as_str().to_owned(),
        path: path.to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        if_none_match: text(header::IF_NONE_MATCH),
        now_ms: now_ms(),
        origin: text(header::HOST).map(|host| format!("http://{host}")),
    };
    to_axum(state.service.handle(&request).await)
}

fn to_axum(reply: tilefn_tiler::Response) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// A file under `root`; `..` and other escapes are refused (404).
async fn static_file(root: &Path, url_path: &str, head: bool) -> Response {
    let relative = url_path.trim_start_matches('/');
    let relative = if relative.is_empty() || relative.ends_with('/') {
        format!("{relative}index.html")
    } else {
        relative.to_owned()
    };
    let rel = Path::new(&relative);
    let safe = rel.components().all(|c| matches!(c, Component::Normal(_)));
    let found = if safe {
        tokio::fs::read(root.join(rel)).await.ok()
    } else {
        None
    };
    let Some(bytes) = found else {
        let mut r = Response::new(Body::from("not found"));
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    };
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(bytes)
    };
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(rel)),
    );
    r
}

fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript",
        "css" => "text/css",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}
