//! Replays a list of request paths against `Service::handle` in-process, without HTTP, and
//! prints CPU ms per request: the rendering cost `bench/tiles.sh` measures minus the server
//! and the socket. Used to profile the tile path (`perf record` on this binary).
//!
//!   cargo run --release -p tilefn-server --example replay -- STORE PATHS_FILE [ROUNDS] [RIMS]
//!
//! PATHS_FILE holds one `/path?query` per line, e.g. `target/bench/tiles/dem/paths-tilefn.txt`
//! after a `bench/tiles.sh` run, with STORE `file://target/bench/tiles/store-4096`.
//!
//! RIMS says what the cache of tile rims (neighbourhood functions' halos) holds when a tile
//! is answered: `warm` (default) whatever the replay left, so every neighbour of a replayed
//! list is cached; `pass` emptied before each pass over the list, as a fresh server serving
//! a map once; `cold` emptied before every request, so every neighbour is decoded.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::time::Instant;

// Linked for its global allocator, as in the server.
use tilefn_server as _;
use tilefn_storage::ObjectStoreBucket;
use tilefn_tiler::{Config, Request, Service};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(store), Some(paths)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: replay STORE_URL PATHS_FILE [ROUNDS] [warm|pass|cold]");
        return ExitCode::FAILURE;
    };
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(5);
    let rims = args.get(4).map_or("warm", String::as_str);
    if !["warm", "pass", "cold"].contains(&rims) {
        eprintln!("replay: RIMS is warm, pass or cold, not {rims}");
        return ExitCode::FAILURE;
    }
    let text = match std::fs::read_to_string(paths) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("replay: {paths}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let bucket = match ObjectStoreBucket::from_url(store) {
        Ok(bucket) => bucket,
        Err(err) => {
            eprintln!("replay: {store}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let service = Service::new(bucket, Config::default());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("replay: {err}");
            return ExitCode::FAILURE;
        }
    };
    let requests: Vec<Request> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (path, query) = line.split_once('?').unwrap_or((line, ""));
            Request {
                method: "GET".to_owned(),
                path: path.to_owned(),
                query: query.to_owned(),
                if_none_match: None,
                now_ms: 0.0,
                origin: None,
                body: Vec::new(),
            }
        })
        .collect();
    runtime.block_on(async {
        // Warm-up: manifests and headers cached, as on a long-running server.
        for r in &requests {
            service.handle(r).await;
        }
        let (cpu0, wall0) = (cpu_ms(), Instant::now());
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        let mut bytes = 0usize;
        for _ in 0..rounds {
            if rims == "pass" {
                service.forget_rims();
            }
            for r in &requests {
                if rims == "cold" {
                    service.forget_rims();
                }
                let reply = service.handle(r).await;
                *statuses.entry(reply.status).or_default() += 1;
                bytes += reply.body.len();
            }
        }
        let n = (rounds * requests.len()).max(1) as f64;
        let cpu = cpu_ms() - cpu0;
        let wall = wall0.elapsed().as_secs_f64() * 1e3;
        println!(
            "{} requests, rims {rims}: {:.3} ms CPU and {:.3} ms wall per request, {:.0} bytes mean, statuses {statuses:?}",
            n,
            cpu / n,
            wall / n,
            bytes as f64 / n
        );
    });
    ExitCode::SUCCESS
}

/// CPU time of this process, all threads (utime + stime from /proc/self/stat, Linux only).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`, which may itself hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after `)`.
    (ticks(11) + ticks(12)) * 10.0
}
