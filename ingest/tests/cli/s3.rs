//! A real S3 round trip against s3s-fs (a local S3 server on a directory, installed by
//! `scripts/install-tools.sh`): publish to `s3://bucket/prefix`, then `info`, `validate`,
//! `list`, `remove`; and ingest *from* s3:// and http:// sources.
//!
//! Skipped with a notice when s3s-fs is not on PATH, except under CI=true where it fails.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tilefn_catalog::Manifest;

use crate::util;

const SOURCE: &str = "rasterio__RGB.byte.tif";
const TIMEOUT: Duration = Duration::from_secs(300);

fn ingest(args: &[&str], env: &[(&str, String)]) -> util::Outcome {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    util::run(args, &env, TIMEOUT)
}

/// Ingests `source` (a path or URL) as `layer` into the local store at `dir` and returns
/// the published manifest, checked for consistency with the objects on disk.
fn add_local(source: &str, layer: &str, dir: &Path, env: &[(&str, String)]) -> Manifest {
    let url = util::store_url(dir);
    ok(
        &["add", source, "--layer", layer, "--store", &url, "--quiet"],
        env,
    );
    util::consistent_manifest(dir, layer).unwrap_or_else(|e| panic!("{e}"))
}

fn ok(args: &[&str], env: &[(&str, String)]) -> util::Outcome {
    let o = ingest(args, env);
    assert!(
        o.ok() && !o.panicked(),
        "tilefn-ingest {} failed: {}",
        args.join(" "),
        o.describe()
    );
    o
}

#[test]
fn publish_to_s3_then_info_validate_list_remove() {
    let Some(program) = util::s3s_fs() else {
        return;
    };
    let server = util::S3Server::start(&program);
    let env = server.env();
    let store = "s3://bucket/tiles";
    let src = util::corpus(SOURCE);
    let src = src.to_string_lossy();

    ok(
        &["add", &src, "--layer", "rgb", "--store", store, "--quiet"],
        &env,
    );

    // What the server stored, read straight from its directory: the same checks as a file store.
    let on_disk = util::consistent_manifest(&server.bucket_dir().join("tiles"), "rgb")
        .unwrap_or_else(|e| panic!("objects in the bucket: {e}"));
    assert!(!on_disk.objects.is_empty(), "no objects in the bucket");

    let info = ok(&["info", "rgb", "--store", store], &env);
    let m = Manifest::from_json(info.stdout.as_bytes())
        .unwrap_or_else(|e| panic!("info is not a manifest: {e}"));
    assert_eq!(m, on_disk, "info differs from the stored manifest");

    ok(&["validate", "rgb", "--store", store], &env);

    let list = ok(&["list", "--store", store], &env);
    let line = list.stdout.lines().find(|l| l.starts_with("rgb\t"));
    let line = line.unwrap_or_else(|| panic!("list lacks rgb: {:?}", list.stdout));
    let cols: Vec<&str> = line.split('\t').collect();
    assert_eq!(cols.get(1), Some(&m.version.as_str()), "list line {line:?}");
    assert_eq!(
        cols.get(2),
        Some(&format!("{}..{}", m.min_zoom, m.max_zoom).as_str()),
        "list line {line:?}"
    );

    ok(&["remove", "rgb", "--store", store], &env);
    assert!(
        !util::manifest_path(&server.bucket_dir().join("tiles"), "rgb").exists(),
        "manifest left after remove"
    );
    let gone = ingest(&["info", "rgb", "--store", store], &env);
    assert_eq!(gone.code, Some(1), "info after remove: {}", gone.describe());
}

#[test]
fn ingest_from_s3_and_http_sources() {
    let Some(program) = util::s3s_fs() else {
        return;
    };
    let server = util::S3Server::start(&program);
    let env = server.env();
    let src = util::corpus(SOURCE);

    // Reference: the same file from a local path.
    let local = tempfile::tempdir().expect("tempdir");
    let local_url = util::store_url(local.path());
    let reference = add_local(&src.to_string_lossy(), "ref", local.path(), &env);

    // s3:// source: put the file into the bucket's directory, where s3s-fs serves it.
    std::fs::create_dir_all(server.bucket_dir().join("sources")).expect("mkdir");
    std::fs::copy(&src, server.bucket_dir().join("sources").join(SOURCE)).expect("copy source");
    let s3_src = format!("s3://bucket/sources/{SOURCE}");
    let from_s3 = add_local(&s3_src, "from-s3", local.path(), &env);
    same_pyramid(&reference, &from_s3, "s3:// source");

    // s3://bucket/prefix/: every .tif under it (sorted, other files skipped), as one layer.
    std::fs::create_dir_all(server.bucket_dir().join("sources/more")).expect("mkdir");
    std::fs::copy(&src, server.bucket_dir().join("sources/more/copy.tif")).expect("copy");
    std::fs::write(
        server.bucket_dir().join("sources/notes.txt"),
        "not a raster",
    )
    .expect("txt");
    let from_prefix = add_local("s3://bucket/sources/", "from-prefix", local.path(), &env);
    assert_eq!(
        from_prefix.source.count,
        Some(2),
        "two .tif under the prefix"
    );
    same_pyramid(&reference, &from_prefix, "s3:// prefix of two copies");
    assert_eq!(
        from_prefix.bands, reference.bands,
        "a copy merged over itself keeps the statistics"
    );

    // http:// source, with a server that honours Range.
    let port = serve_file(src.clone());
    let http_src = format!("http://127.0.0.1:{port}/{SOURCE}");
    let from_http = add_local(&http_src, "from-http", local.path(), &env);
    same_pyramid(&reference, &from_http, "http:// source");
    ok(&["validate", "from-http", "--store", &local_url], &env);

    let missing = ingest(
        &[
            "add",
            &format!("http://127.0.0.1:{port}/nope.tif"),
            "--layer",
            "x",
            "--store",
            &local_url,
        ],
        &env,
    );
    assert_eq!(
        missing.code,
        Some(1),
        "missing http source: {}",
        missing.describe()
    );
    assert!(
        missing.stderr.starts_with("error: ") && !missing.panicked(),
        "{}",
        missing.describe()
    );
}

/// Same data, whatever the source's location: same grid, zooms and object sizes.
fn same_pyramid(a: &Manifest, b: &Manifest, what: &str) {
    assert_eq!(
        (a.min_zoom, a.max_zoom, &a.groups),
        (b.min_zoom, b.max_zoom, &b.groups),
        "{what}: zooms"
    );
    assert_eq!(a.bounds, b.bounds, "{what}: bounds");
    let sizes = |m: &Manifest| {
        let mut s: Vec<(String, u64)> = m
            .objects
            .iter()
            .map(|o| {
                (
                    o.key.rsplit("/cog/").next().unwrap_or("").to_owned(),
                    o.size,
                )
            })
            .collect();
        s.sort();
        s
    };
    assert_eq!(sizes(a), sizes(b), "{what}: objects");
}

/// Serves `file` over HTTP/1.1 on a free port for the rest of the test process: GET and HEAD,
/// `Range: bytes=a-b`, `a-` and `-n` (206 with Content-Range), 404 for other paths.
fn serve_file(file: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().map(|a| a.port()).expect("port");
    let name = format!(
        "/{}",
        file.file_name().and_then(|n| n.to_str()).unwrap_or("")
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (file, name) = (file.clone(), name.clone());
            std::thread::spawn(move || {
                let _ = handle(stream, &file, &name);
            });
        }
    });
    port
}

fn handle(mut stream: TcpStream, file: &Path, name: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request)? == 0 {
            return Ok(());
        }
        let mut range = None;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("range")
            {
                range = Some(v.trim().to_owned());
            }
        }
        let mut parts = request.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let body = if path == name {
            std::fs::read(file).ok()
        } else {
            None
        };
        let Some(body) = body else {
            stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        };
        let len = body.len() as u64;
        let (status, start, end) = match range.as_deref().and_then(|r| parse_range(r, len)) {
            Some((a, b)) => ("206 Partial Content", a, b),
            None if range.is_some() => {
                let h = format!(
                    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\n\r\n"
                );
                stream.write_all(h.as_bytes())?;
                continue;
            }
            None => ("200 OK", 0, len),
        };
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nETag: \"{len}\"\r\n\
             Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: image/tiff\r\n",
            end - start
        );
        if status.starts_with("206") {
            head.push_str(&format!(
                "Content-Range: bytes {start}-{}/{len}\r\n",
                end - 1
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        if method != "HEAD" {
            stream.write_all(&body[start as usize..end as usize])?;
        }
        stream.flush()?;
    }
}

/// `bytes=a-b` / `a-` / `-n` -> half-open [start, end) within `len`.
fn parse_range(spec: &str, len: u64) -> Option<(u64, u64)> {
    let (a, b) = spec.strip_prefix("bytes=")?.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => (len.saturating_sub(n.parse().ok()?), len),
        (a, "") => (a.parse().ok()?, len),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.saturating_add(1).min(len),
        ),
    };
    (start < end).then_some((start, end))
}

#[test]
fn range_parsing() {
    assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
    assert_eq!(parse_range("bytes=90-", 100), Some((90, 100)));
    assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
    assert_eq!(parse_range("bytes=95-200", 100), Some((95, 100)));
    assert_eq!(parse_range("bytes=100-", 100), None);
}
