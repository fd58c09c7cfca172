//! Starts the server on an ephemeral port over a directory store built with the tiler's
//! testkit, and fetches over real HTTP.

use std::time::Duration;

use tilefn_server::{ServerOptions, serve};
use tilefn_storage::ObjectStoreBucket;
use tilefn_tiler::testkit::{float_layer, publish_to_dir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// One HTTP/1.1 request; returns the status line + headers, and the body.
async fn fetch(
    addr: &str,
    path: &str,
    extra: &str,
) -> Result<(String, Vec<u8>), Box<dyn std::error::Error + Send + Sync>> {
    let mut socket = TcpStream::connect(addr).await?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut raw)).await??;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    Ok((head, raw[split + 4..].to_vec()))
}

#[tokio::test]
async fn serves_health_tiles_and_static_files() -> TestResult {
    let store = tempfile::tempdir()?;
    let bucket = ObjectStoreBucket::from_url(&store.path().display().to_string())?;
    publish_to_dir(store.path(), &bucket, &float_layer("dem")).await?;
    let www = tempfile::tempdir()?;
    std::fs::write(www.path().join("index.html"), "<h1>demo</h1>")?;

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let options = ServerOptions {
        store: format!("file://{}", store.path().display()),
        max_age: 60,
        cors_origin: "https://maps.example".into(),
        www: Some(www.path().to_owned()),
    };
    tokio::spawn(async move { serve(listener, &options).await });

    let (head, body) = fetch(&addr, "/health", "").await?;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, br#"{"status":"ok"}"#);

    let (head, body) = fetch(&addr, "/tiles/dem/5/18/13.png", "").await?;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: image/png"));
    assert!(head.contains("cache-control: public, max-age=60"));
    assert!(head.contains("access-control-allow-origin: https://maps.example"));
    assert!(body.starts_with(b"\x89PNG"));
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .ok_or("etag")?
        .to_owned();
    let (head, body) = fetch(
        &addr,
        "/tiles/dem/5/18/13.png",
        &format!("If-None-Match: {etag}\r\n"),
    )
    .await?;
    assert!(head.starts_with("http/1.1 304"), "{head}");
    assert!(body.is_empty());

    let (head, _) = fetch(&addr, "/tiles/dem/5/0/0.png", "").await?;
    assert!(head.starts_with("http/1.1 204"), "{head}");
    let (head, body) = fetch(&addr, "/tiles/dem/99/0/0.png", "").await?;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("z: must be"));

    let (head, body) = fetch(&addr, "/tiles/dem.json", "").await?;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains(&format!("http://{addr}/tiles/dem/{{z}}")));

    // The formula export is the service's, not a static file, even with `--www`.
    let (head, body) = fetch(&addr, "/export.tif?layers=a=dem&formula=a", "").await?;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("bbox: required"));

    let (head, body) = fetch(&addr, "/", "").await?;
    assert!(head.contains("content-type: text/html"), "{head}");
    assert_eq!(body, b"<h1>demo</h1>");
    let (head, _) = fetch(&addr, "/../etc/passwd", "").await?;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    Ok(())
}
