//! Replays every saved fuzz input in `tests/fuzz_crashes/` (README files aside): each
//! must parse or fail cleanly, print and re-parse to the same tree, and evaluate.

use std::path::PathBuf;

use tilefn_algebra::{Bindings, Column, Expr, Reduction, evaluate};

const VALUES: [f64; 4] = [0.0, -2.5, 7.0, 1e300];
const VALID: [bool; 4] = [true, false, true, true];

struct AnyVars;

impl Bindings for AnyVars {
    fn column(&self, _: &str) -> Option<Column<'_>> {
        Some(Column {
            values: &VALUES,
            valid: &VALID,
            nodata: Some(-9999.0),
        })
    }

    fn reduction(&self, _: &Reduction) -> Option<f64> {
        Some(1.5)
    }
}

fn replay(bytes: &[u8]) {
    let Ok(src) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(expr) = Expr::parse(src) else { return };
    let printed = expr.to_string();
    assert!(
        Expr::parse(&printed).is_ok_and(|a| a.same_tree(&expr)),
        "{src:?} printed as {printed:?}"
    );
    if let Ok(out) = evaluate(&expr, VALUES.len(), &AnyVars) {
        assert_eq!(out.values.len(), VALUES.len());
    }
}

#[test]
fn saved_fuzz_inputs_replay_cleanly() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz_crashes"));
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        replay(&bytes);
        replayed += 1;
    }
    // Also the shapes that stress the limits, so the replay path itself is exercised.
    for src in [
        "((((x))))",
        "-2^-2^-x",
        "x == NULL",
        "~(a + b) * where(x, y, 1e999)",
    ] {
        replay(src.as_bytes());
        replayed += 1;
    }
    assert!(replayed >= 4);
}
