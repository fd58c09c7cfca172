//! Parse any bytes; when that works, print, re-parse and evaluate on a small tile.
//! Crashes found here go to `crates/algebra/tests/fuzz_crashes/`, replayed by `cargo test`.
#![no_main]

use libfuzzer_sys::fuzz_target;
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

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = Expr::parse(src) else { return };
    let again = Expr::parse(&expr.to_string());
    assert!(again.is_ok_and(|a| a.same_tree(&expr)));
    if let Ok(out) = evaluate(&expr, VALUES.len(), &AnyVars) {
        assert_eq!(out.values.len(), VALUES.len());
    }
});
