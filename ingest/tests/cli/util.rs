//! Shared helpers: running the binary with a timeout, reading a store from disk, optional
//! tools (venv, s3s-fs) that must exist under CI, a local S3 server (s3s-fs), and a seeded PRNG.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tilefn_catalog::Manifest;

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tilefn-ingest"))
}

pub fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/tiff"
    ))
}

pub fn corpus(file: &str) -> PathBuf {
    corpus_dir().join(file)
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// CI sets CI=true; there every optional tool is installed, so a missing one is a failure
/// rather than a silent skip that would let the suite go green without running.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Returns whether the test can run; fails under CI when `what` is missing.
pub fn require(what: &str, available: bool, how: &str) -> bool {
    if available {
        return true;
    }
    assert!(!ci(), "{what} is missing but CI=true: {how}");
    eprintln!("SKIPPED: {what} is missing ({how}); set CI=true to make this a failure");
    false
}

pub fn venv_python() -> Option<PathBuf> {
    let p = repo_root().join(".venv/bin/python");
    p.exists().then_some(p)
}

pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// What a finished command did.
#[derive(Debug)]
pub struct Outcome {
    /// None when killed by a signal or the timeout.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Exit 101 is Rust's panic exit code; "panicked" catches panics in threads whose
    /// message still reached stderr.
    pub fn panicked(&self) -> bool {
        self.code == Some(101) || self.stderr.contains("panicked")
    }

    /// Exit, time and the start of stderr (a panic's backtrace is cut after a few frames).
    pub fn describe(&self) -> String {
        let stderr: String = self
            .stderr
            .trim()
            .lines()
            .take(12)
            .collect::<Vec<_>>()
            .join("\n");
        format!(
            "exit {:?}{} after {:.1}s; stderr: {stderr}",
            self.code,
            if self.timed_out { " (timed out)" } else { "" },
            self.elapsed.as_secs_f64(),
        )
    }
}

/// Starts `tilefn-ingest ARGS` with `envs`, stdout and stderr piped.
pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().expect("cannot start tilefn-ingest")
}

/// Runs `tilefn-ingest ARGS`, killing it after `timeout` (a hung ingest must fail the test,
/// not hang CI).
pub fn run(args: &[&str], envs: &[(&str, &str)], timeout: Duration) -> Outcome {
    let start = Instant::now();
    let mut child = spawn(args, envs);
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let (status, timed_out) = wait_timeout(&mut child, timeout);
    Outcome {
        code: status.and_then(|s| s.code()),
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
        timed_out,
        elapsed: start.elapsed(),
    }
}

pub fn wait_timeout(child: &mut Child, timeout: Duration) -> (Option<ExitStatus>, bool) {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (Some(status), false),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return (None, true);
            }
        }
    }
}

/// `run` that must succeed.
pub fn run_ok(args: &[&str], envs: &[(&str, &str)], timeout: Duration) -> Outcome {
    let o = run(args, envs, timeout);
    assert!(
        o.ok(),
        "tilefn-ingest {} failed: {}",
        args.join(" "),
        o.describe()
    );
    o
}

pub fn manifest_path(store: &Path, id: &str) -> PathBuf {
    store.join("layers").join(id).join("manifest.json")
}

/// The published manifest of `id` in a file store, checked the way a reader relies on it:
/// it parses, and every object it lists exists with the listed size. (An all-nodata source
/// legitimately publishes a layer with no objects.)
pub fn consistent_manifest(store: &Path, id: &str) -> Result<Manifest, String> {
    let path = manifest_path(store, id);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let m = Manifest::from_json(&bytes).map_err(|e| format!("manifest does not parse: {e}"))?;
    if m.id != id {
        return Err(format!("manifest id {:?} != {id:?}", m.id));
    }
    for o in &m.objects {
        let p = store.join(&o.key);
        match std::fs::metadata(&p) {
            Ok(meta) if meta.len() == o.size => {}
            Ok(meta) => {
                return Err(format!(
                    "{}: {} bytes, manifest says {}",
                    o.key,
                    meta.len(),
                    o.size
                ));
            }
            Err(e) => return Err(format!("{}: {e}", o.key)),
        }
    }
    Ok(m)
}

/// `--store` argument for a directory.
pub fn store_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// SplitMix64: a fixed, dependency-free PRNG, so "random" kill times are the same on every
/// run and machine (a failure reproduces).
pub struct Prng(pub u64);

impl Prng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A port that was free a moment ago (the OS picks it; a race with another process is
/// possible but rare, and shows up as a clear "address in use" failure).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

pub const S3_ACCESS_KEY: &str = "tilefn-test";
pub const S3_SECRET_KEY: &str = "tilefn-test-secret";

/// s3s-fs (a local S3 server on a directory, installed by `scripts/install-tools.sh`) serving
/// a temporary directory with one bucket, `bucket`; killed on drop so a failing test leaves
/// no server.
pub struct S3Server {
    child: Child,
    port: u16,
    root: tempfile::TempDir,
}

impl S3Server {
    pub fn start(program: &Path) -> S3Server {
        let root = tempfile::tempdir().expect("tempdir");
        // s3s-fs maps each top-level directory to a bucket.
        std::fs::create_dir(root.path().join("bucket")).expect("bucket dir");
        let port = free_port();
        let child = Command::new(program)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start s3s-fs");
        let server = S3Server { child, port, root };
        assert!(
            wait_for_port(port, Duration::from_secs(15)),
            "s3s-fs did not listen on {port}"
        );
        server
    }

    /// The AWS_* variables that point `tilefn-ingest` (object_store) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY.into()),
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// The directory behind `s3://bucket/`.
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join("bucket")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The s3s-fs program, or None (a skip; a failure under CI) when it is not on PATH.
pub fn s3s_fs() -> Option<PathBuf> {
    let found = on_path("s3s-fs");
    require("s3s-fs", found.is_some(), "run scripts/install-tools.sh")
        .then_some(found)
        .flatten()
}

/// `ingest/tests/cli/pieces.py` (rasterio helpers of the pieces and merge tests).
pub fn pieces_script() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/pieces.py"))
}

/// Runs `python pieces.py ARGS` and parses the last line of its stdout as JSON (an empty
/// object when it prints none); panics with its stderr when it fails.
pub fn py_json(python: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python)
        .arg(pieces_script())
        .args(args)
        .output()
        .expect("cannot run the venv python");
    assert!(
        out.status.success(),
        "pieces.py {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().last().map_or(serde_json::Value::Null, |l| {
        serde_json::from_str(l).unwrap_or_else(|e| panic!("pieces.py printed {l:?}: {e}"))
    })
}

/// The published manifest of `id` as JSON (for exact comparisons of its fields).
pub fn manifest_json(store: &Path, id: &str) -> serde_json::Value {
    let bytes = std::fs::read(manifest_path(store, id)).expect("manifest");
    serde_json::from_slice(&bytes).expect("manifest JSON")
}

/// Every COG of the published version of `id`: its path under the version's `cog/` (the
/// same for two layers of the same grid) and its bytes.
pub fn layer_cogs(store: &Path, id: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let m = consistent_manifest(store, id).unwrap_or_else(|e| panic!("{id}: {e}"));
    m.objects
        .iter()
        .map(|o| {
            let rel = o.key.split_once("/cog/").map_or(o.key.as_str(), |(_, r)| r);
            (
                rel.to_owned(),
                std::fs::read(store.join(&o.key)).expect("COG"),
            )
        })
        .collect()
}
