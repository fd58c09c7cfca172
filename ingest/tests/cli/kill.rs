//! Crash safety: SIGKILL re-ingests at seeded random moments; after each, the store must still
//! serve a complete layer (the old version, or a newer one that is complete), and `validate`
//! must pass. Finally a clean re-run must succeed over whatever the kills left behind.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{self, Prng};

/// Mid-size (2658², 1-row strips, no overviews): long enough to be killed mid-way, short
/// enough for a test.
const SOURCE: &str = "rio-tiler__nocog.tif";
const LAYER: &str = "killme";
const KILLS: usize = 5;
const SEED: u64 = 0x7469_6c65_666e; // "tilefn"

#[test]
fn sigkill_during_reingest_leaves_a_consistent_store() {
    let store = tempfile::tempdir().expect("tempdir");
    let url = util::store_url(store.path());
    let src = util::corpus(SOURCE);
    let src = src.to_string_lossy().into_owned();
    let timeout = Duration::from_secs(300);

    // Version A, timed: the kill points are spread over this duration.
    let first = util::run_ok(
        &["add", &src, "--layer", LAYER, "--store", &url, "--quiet"],
        &[],
        timeout,
    );
    let a = util::consistent_manifest(store.path(), LAYER)
        .unwrap_or_else(|e| panic!("after the first ingest: {e}"));
    assert!(!a.objects.is_empty(), "version A has no objects");
    let duration = first.elapsed;
    eprintln!(
        "kill: version A {} took {:.2}s",
        a.version,
        duration.as_secs_f64()
    );

    let mut rng = Prng(SEED);
    let mut versions = vec![a.version.clone()];
    for i in 0..KILLS {
        // Kill points spread over the run: slot i of KILLS, jittered within it, so both the
        // early (reading, writing objects) and late (publishing) phases get hit.
        // Scaled by 0.9: re-ingests with zstd can finish a little faster than A did.
        let frac = 0.9 * (i as f64 + 0.1 + 0.8 * rng.next_f64()) / KILLS as f64;
        let at = duration.mul_f64(frac);
        // Alternate options so a re-ingest may produce a different version than A.
        let compress = if i % 2 == 0 { "zstd" } else { "deflate" };
        let mut child = util::spawn(
            &[
                "add",
                &src,
                "--layer",
                LAYER,
                "--store",
                &url,
                "--quiet",
                "--compress",
                compress,
            ],
            &[],
        );
        let start = Instant::now();
        std::thread::sleep(at);
        let finished = matches!(child.try_wait(), Ok(Some(_)));
        // Child::kill is SIGKILL on Unix: no destructor, no cleanup, like an OOM kill.
        let _ = child.kill();
        let _ = child.wait();
        eprintln!(
            "kill {i}: at {:.2}s ({:.0}% of A's run){}",
            start.elapsed().as_secs_f64(),
            frac * 100.0,
            if finished {
                ", but it had already finished"
            } else {
                ""
            }
        );
        let m = util::consistent_manifest(store.path(), LAYER).unwrap_or_else(|e| {
            panic!(
                "after kill {i} at {:.2}s: store inconsistent: {e}",
                at.as_secs_f64()
            )
        });
        // Either still A, or a re-ingest that completed its publish before the kill: never
        // anything older (RFC 3339 UTC timestamps order as strings).
        assert!(
            m.version == a.version || m.created >= a.created,
            "after kill {i}: version {} ({}) is older than A ({})",
            m.version,
            m.created,
            a.created
        );
        if !versions.contains(&m.version) {
            versions.push(m.version.clone());
        }
        assert_validates(store.path(), &format!("after kill {i}"));
    }

    // A clean run over the debris of the killed ones.
    util::run_ok(
        &["add", &src, "--layer", LAYER, "--store", &url, "--quiet"],
        &[],
        timeout,
    );
    let last = util::consistent_manifest(store.path(), LAYER)
        .unwrap_or_else(|e| panic!("after the clean rerun: {e}"));
    assert_validates(store.path(), "after the clean rerun");
    eprintln!("kill: versions seen {versions:?}, final {}", last.version);
}

fn assert_validates(store: &Path, when: &str) {
    let url = util::store_url(store);
    let v = util::run(
        &["validate", LAYER, "--store", &url],
        &[],
        Duration::from_secs(120),
    );
    assert!(v.ok() && !v.panicked(), "validate {when}: {}", v.describe());
}
