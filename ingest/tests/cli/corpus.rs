//! Every corpus TIFF through `tilefn-ingest add`, against `ingest/tests/corpus_outcomes.tsv`.
//!
//! The table says, per file, `ingested`, `unsupported` (GDAL reads it, but it uses a feature
//! ingest refuses, and the message names that feature) or `error` (a broken file: a clean
//! one-line error). Whatever the outcome: no panic, no hang, and a failed ingest publishes
//! nothing. The table is itself checked against the corpus's MANIFEST.tsv: a file GDAL reads
//! may not be expected to `error` unless it is in the `broken` category, and a file GDAL
//! cannot read must `error`.
//!
//! The actual outcomes are written to `$CARGO_TARGET_TMPDIR/corpus_actual.tsv` in the table's
//! format, to review and copy from when the binary's behaviour changes on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::util::{self, Outcome};

const TABLE: &str = include_str!("../corpus_outcomes.tsv");
const LAYER: &str = "corpus";
/// Generous: the slowest corpus file takes a few seconds; a hang must still end the test.
const TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Ingested,
    Unsupported,
    Error,
}

#[derive(Debug)]
struct Row {
    file: String,
    expected: Expected,
    detail: String,
    /// Extra `add` arguments (fourth column), e.g. a `--max-zoom` cap for a huge raster.
    args: Vec<String>,
}

fn table() -> Vec<Row> {
    let mut rows = Vec::new();
    for (n, line) in TABLE.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let expected = match cols.get(1).copied() {
            Some("ingested") => Expected::Ingested,
            Some("unsupported") => Expected::Unsupported,
            Some("error") => Expected::Error,
            other => panic!("corpus_outcomes.tsv line {}: bad expected {other:?}", n + 1),
        };
        let detail = cols.get(2).copied().unwrap_or("").to_owned();
        assert!(
            expected == Expected::Ingested || !detail.is_empty(),
            "corpus_outcomes.tsv line {}: {} needs a detail",
            n + 1,
            cols[0]
        );
        let args = cols
            .get(3)
            .map(|a| a.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        rows.push(Row {
            file: cols[0].to_owned(),
            expected,
            detail,
            args,
        });
    }
    rows
}

/// file -> (category, gdal_open, gdal_read) from the corpus MANIFEST.tsv.
fn gdal_facts() -> BTreeMap<String, (String, String, String)> {
    let text = std::fs::read_to_string(util::corpus_dir().join("MANIFEST.tsv"))
        .expect("corpus MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .expect("MANIFEST.tsv column")
    };
    let (file, cat, open, read) = (
        col("file"),
        col("category"),
        col("gdal_open"),
        col("gdal_read"),
    );
    lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|c| c.len() > read)
        .map(|c| {
            (
                c[file].to_owned(),
                (c[cat].to_owned(), c[open].to_owned(), c[read].to_owned()),
            )
        })
        .collect()
}

fn corpus_files() -> BTreeSet<String> {
    let dir = util::corpus_dir();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus at {}: {e}", dir.display()));
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        // Sidecars (`.tif.ovr`, `.tif.aux.xml`) belong to their main file and are not inputs.
        .filter(|n| n.ends_with(".tif") || n.ends_with(".tiff"))
        .collect()
}

#[test]
fn table_matches_corpus_and_gdal() {
    let rows = table();
    let files = corpus_files();
    let facts = gdal_facts();
    let mut problems = Vec::new();
    let listed: BTreeSet<String> = rows.iter().map(|r| r.file.clone()).collect();
    for f in files.difference(&listed) {
        problems.push(format!("{f}: in the corpus but not in corpus_outcomes.tsv"));
    }
    for f in listed.difference(&files) {
        problems.push(format!("{f}: in corpus_outcomes.tsv but not in the corpus"));
    }
    for r in &rows {
        let Some((category, open, read)) = facts.get(&r.file) else {
            problems.push(format!("{}: not in MANIFEST.tsv", r.file));
            continue;
        };
        let gdal_reads = open == "yes" && read.starts_with("ok");
        if gdal_reads && category != "broken" && r.expected == Expected::Error {
            problems.push(format!(
                "{}: GDAL reads it, so it must ingest or be unsupported",
                r.file
            ));
        }
        if !gdal_reads && r.expected != Expected::Error {
            problems.push(format!(
                "{}: GDAL cannot read it, so it must be an error",
                r.file
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "corpus_outcomes.tsv:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_corpus_file_has_its_recorded_outcome() {
    let rows = table();
    let queue = Mutex::new(rows.iter().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    // Two workers: the machines have two cores, and each ingest is itself multi-threaded.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some(row) = queue.lock().map(|mut q| q.pop()).unwrap_or(None) {
                    let verdict = check(row);
                    if let Ok(mut r) = results.lock() {
                        r.push(verdict);
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by(|a, b| a.0.cmp(&b.0));

    let mut actual =
        String::from("# file\texpected\tdetail\targs (actual outcomes of the last run)\n");
    let mut failures = Vec::new();
    for (file, line, failure) in &results {
        let _ = writeln!(actual, "{line}");
        if let Some(f) = failure {
            failures.push(format!("{file}: {f}"));
        }
    }
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus_actual.tsv");
    let _ = std::fs::write(&out, actual);
    eprintln!(
        "corpus: {} files, {} failures; actual outcomes in {}",
        results.len(),
        failures.len(),
        out.display()
    );
    assert!(
        failures.is_empty(),
        "corpus outcomes differ:\n  {}",
        failures.join("\n  ")
    );
}

/// Ingests one file; returns (file, actual-outcome TSV line, failure if any).
fn check(row: &Row) -> (String, String, Option<String>) {
    let store = tempfile::tempdir().expect("tempdir");
    let url = util::store_url(store.path());
    let src = util::corpus(&row.file);
    let src = src.to_string_lossy();
    let mut args = vec!["add", &src, "--layer", LAYER, "--store", &url, "--quiet"];
    args.extend(row.args.iter().map(String::as_str));
    let o = util::run(&args, &[], TIMEOUT);
    let extra = row.args.join(" ");
    let line = |kind: &str, detail: &str| {
        format!("{}\t{kind}\t{detail}\t{extra}", row.file)
            .trim_end()
            .to_owned()
    };

    if o.timed_out || o.panicked() {
        let l = line("CRASH", &o.describe().replace(['\t', '\n'], " "));
        return (
            row.file.clone(),
            l,
            Some(format!("crashed or hung: {}", o.describe())),
        );
    }
    if o.ok() {
        let failure = check_published(store.path())
            .err()
            .map(|e| format!("ingested, but {e}"));
        let failure = failure.or_else(|| match row.expected {
            Expected::Ingested => None,
            _ => Some(format!(
                "expected {:?} containing {:?}, but it ingested",
                row.expected, row.detail
            )),
        });
        let elapsed = format!("# {:.1}s", o.elapsed.as_secs_f64());
        return (
            row.file.clone(),
            format!("{}\t{elapsed}", line("ingested", "")),
            failure,
        );
    }

    let message = error_line(&o);
    let actual = line(
        if row.expected == Expected::Ingested {
            "error"
        } else {
            kind_name(row.expected)
        },
        &message,
    );
    let mut failure = match (&message, row.expected) {
        (_, Expected::Ingested) => Some(format!("expected to ingest: {}", o.describe())),
        (m, _) if m.is_empty() => Some(format!("no one-line `error: ` message: {}", o.describe())),
        (m, _) if !m.to_lowercase().contains(&row.detail.to_lowercase()) => {
            Some(format!("message {m:?} lacks {:?}", row.detail))
        }
        _ => None,
    };
    if o.code != Some(1) {
        failure = failure.or(Some(format!("expected exit code 1: {}", o.describe())));
    }
    if util::manifest_path(store.path(), LAYER).exists() {
        failure = Some(format!(
            "failed ingest published a manifest ({})",
            failure.unwrap_or_default()
        ));
    }
    (row.file.clone(), actual, failure)
}

fn kind_name(e: Expected) -> &'static str {
    match e {
        Expected::Ingested => "ingested",
        Expected::Unsupported => "unsupported",
        Expected::Error => "error",
    }
}

/// The error message without its `error: ` prefix, if stderr is exactly one `error: ` line
/// (optionally after `warning: ` lines); empty otherwise.
fn error_line(o: &Outcome) -> String {
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("error: ")).collect();
    let others = lines
        .iter()
        .filter(|l| !l.starts_with("error: ") && !l.starts_with("warning: "))
        .count();
    match (errors.as_slice(), others) {
        ([one], 0) => one.trim_start_matches("error: ").trim().replace('\t', " "),
        _ => String::new(),
    }
}

fn check_published(store: &Path) -> Result<(), String> {
    util::consistent_manifest(store, LAYER)?;
    let url = util::store_url(store);
    let v = util::run(&["validate", LAYER, "--store", &url], &[], TIMEOUT);
    if !v.ok() {
        return Err(format!("validate failed: {}", v.describe()));
    }
    Ok(())
}
