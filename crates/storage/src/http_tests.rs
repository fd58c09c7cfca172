//! `http(s)://` storage URLs against a real (loopback) HTTP server.
//!
//! The server is deliberately minimal, like the static file servers the browser demo and
//! dev setups use: `Range` with `206`/`416`, `ETag`, optional `If-Match`. It checks that
//! `HttpStore` behind [`ObjectStoreObject`] keeps the exact-range contract and that pinning
//! still works when a server ignores `If-Match`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::url_store::{object_path, store_from_url};
use crate::{EtagPinned, ObjectStoreObject, RangeRead, StorageError, conformance};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

#[derive(Clone, Default)]
struct Server {
    /// Path → (body, quoted ETag).
    objects: Arc<Mutex<HashMap<String, (Bytes, String)>>>,
    honour_if_match: bool,
}

impl Server {
    fn put(&self, path: &str, body: Bytes, etag: &str) {
        let mut objects = self.objects.lock().unwrap_or_else(PoisonError::into_inner);
        objects.insert(path.to_owned(), (body, format!("\"{etag}\"")));
    }

    /// Serves until the test ends; returns the base URL.
    async fn start(self) -> std::io::Result<String> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let server = self.clone();
                tokio::spawn(async move { server.handle(socket).await });
            }
        });
        Ok(base)
    }

    async fn handle(&self, mut socket: TcpStream) -> std::io::Result<()> {
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            request.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&request).to_string();
        let (head, body) = self.respond(&text);
        socket.write_all(head.as_bytes()).await?;
        socket.write_all(&body).await?;
        socket.shutdown().await
    }

    fn respond(&self, request: &str) -> (String, Bytes) {
        let mut lines = request.lines();
        let mut first = lines.next().unwrap_or_default().split(' ');
        let (method, path) = (
            first.next().unwrap_or_default(),
            first.next().unwrap_or_default(),
        );
        let header = |name: &str| {
            request.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        };
        let objects = self.objects.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((bytes, etag)) = objects.get(path).cloned() else {
            return (status("404 Not Found", &[]), Bytes::new());
        };
        let len = bytes.len() as u64;
        if self.honour_if_match && header("if-match").is_some_and(|m| m != etag) {
            return (status("412 Precondition Failed", &[]), Bytes::new());
        }
        let tag = format!("ETag: {etag}");
        if method == "HEAD" {
            return (
                status("200 OK", &[&tag, &format!("Content-Length: {len}")]),
                Bytes::new(),
            );
        }
        let Some((start, end)) = header("range").and_then(|r| parse_range(&r)) else {
            return (
                status("200 OK", &[&tag, &format!("Content-Length: {len}")]),
                bytes,
            );
        };
        if start >= len {
            return (
                status(
                    "416 Range Not Satisfiable",
                    &[&format!("Content-Range: bytes */{len}")],
                ),
                Bytes::new(),
            );
        }
        let last = end.min(len - 1);
        let body = bytes.slice(start as usize..=last as usize);
        let range = format!("Content-Range: bytes {start}-{last}/{len}");
        (
            status(
                "206 Partial Content",
                &[&tag, &range, &format!("Content-Length: {}", body.len())],
            ),
            body,
        )
    }
}

fn status(line: &str, headers: &[&str]) -> String {
    let mut out = format!("HTTP/1.1 {line}\r\nConnection: close\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    if !headers.iter().any(|h| h.starts_with("Content-Length")) {
        out.push_str("Content-Length: 0\r\n");
    }
    out.push_str("\r\n");
    out
}

fn parse_range(value: &str) -> Option<(u64, u64)> {
    let (start, end) = value.strip_prefix("bytes=")?.split_once('-')?;
    Some((start.parse().ok()?, end.parse().ok()?))
}

async fn object(server: &Server) -> Result<ObjectStoreObject, Box<dyn std::error::Error>> {
    let base = server.clone().start().await?;
    let (store, prefix) = store_from_url(&format!("{base}/data"))?;
    Ok(ObjectStoreObject::new(store, object_path(&prefix, "a.tif")))
}

#[tokio::test]
async fn http_store_conforms_and_detects_change() -> TestResult {
    let server = Server {
        honour_if_match: true,
        ..Server::default()
    };
    server.put("/data/a.tif", conformance::pattern(), "v1");
    let reader = object(&server).await?;
    conformance::run(&reader).await?;
    conformance::check_change_detected(&reader, async || {
        server.put("/data/a.tif", Bytes::from_static(b"v2"), "v2");
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn pinning_holds_when_the_server_ignores_if_match() -> TestResult {
    let server = Server::default();
    server.put("/data/a.tif", conformance::pattern(), "v1");
    let reader = EtagPinned::open(object(&server).await?).await?;
    reader.read_range(0..10).await?;
    // Shorter, so a wrong order of checks would report OutOfRange instead.
    server.put("/data/a.tif", Bytes::from_static(b"v2"), "v2");
    assert!(matches!(
        reader.read_range(0..10).await,
        Err(StorageError::Precondition { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn missing_http_object_is_not_found() -> TestResult {
    let reader = object(&Server::default()).await?;
    assert!(matches!(
        reader.read_range(0..10).await,
        Err(StorageError::NotFound { .. })
    ));
    Ok(())
}
