//! django-raster's own formula tests (the shared corpus, `cases.json`, 142 cases). Every
//! case must agree with django-raster, except the ones `docs/algebra.md` lists under
//! "Corpus cases we answer differently": for those the test checks that we really differ,
//! and that we give exactly the result the document states.
// Helpers outside #[test] fns fail loudly too.
#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use tilefn_algebra::{Bindings, Column, Expr, Node, Reduction, evaluate};

fn cases_file() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/algebra/cases.json"
    ))
}

fn doc_file() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/algebra.md"
    ))
}

/// A variable as the corpus gives it.
struct Var {
    values: Vec<f64>,
    valid: Vec<bool>,
    nodata: Option<f64>,
}

struct Data(BTreeMap<String, Var>);

impl Bindings for Data {
    fn column(&self, name: &str) -> Option<Column<'_>> {
        self.0.get(name).map(|v| Column {
            values: &v.values,
            valid: &v.valid,
            nodata: v.nodata,
        })
    }

    /// The corpus arrays are whole layers, so a reduction is computed over them.
    fn reduction(&self, r: &Reduction) -> Option<f64> {
        let out = evaluate(&r.arg, self.len_for(&r.variables()), self).ok()?;
        r.func.apply(&out.values, &out.valid)
    }
}

impl Data {
    /// The length of the first variable used (inputs of unused variables may differ).
    fn len_for(&self, names: &[String]) -> usize {
        names
            .iter()
            .find_map(|n| self.0.get(n))
            .map_or(1, |v| v.values.len())
    }

    /// The tile length for `expr`: variables read only inside a reduction are whole
    /// layers and may be longer than the tile (`y * min(x)`).
    fn tile_len(&self, expr: &Expr) -> usize {
        let mut names = Vec::new();
        tile_variables(expr, &mut names);
        self.len_for(&names)
    }
}

fn tile_variables(expr: &Expr, names: &mut Vec<String>) {
    match &expr.node {
        Node::Variable(name) => names.push(name.clone()),
        Node::Reduce(..) => {}
        _ => expr
            .children()
            .into_iter()
            .for_each(|c| tile_variables(c, names)),
    }
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) if s == "Infinity" => f64::INFINITY,
        Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        Value::String(s) if s == "NaN" => f64::NAN,
        other => panic!("not a number: {other}"),
    }
}

/// A scalar (0-d) or an array, as a list.
fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn formula_data(case: &Value) -> Data {
    let mut vars = BTreeMap::new();
    for (name, var) in case["data"].as_object().into_iter().flatten() {
        let values: Vec<f64> = list(&var["values"]).iter().map(number).collect();
        let valid = match var.get("mask") {
            Some(mask) => list(mask).iter().map(|m| m != &Value::Bool(true)).collect(),
            None => vec![true; values.len()],
        };
        let nodata = var.get("fill_value").map(number);
        vars.insert(
            name.clone(),
            Var {
                values,
                valid,
                nodata,
            },
        );
    }
    Data(vars)
}

/// `layers` maps `name[:band]` to a raster; band index 0-based, nodata matched exactly.
fn raster_data(case: &Value) -> Data {
    let mut vars = BTreeMap::new();
    for (key, raster) in case["layers"].as_object().into_iter().flatten() {
        let (name, band) = match key.split_once(':') {
            Some((name, band)) => (name, band.parse::<usize>().unwrap_or(usize::MAX)),
            None => (key.as_str(), 0),
        };
        let band = &case["rasters"][raster.as_str().unwrap_or("")]["bands"][band];
        let values: Vec<f64> = list(&band["data"]).iter().map(number).collect();
        let nodata = band.get("nodata").filter(|v| !v.is_null()).map(number);
        let valid = values.iter().map(|v| Some(*v) != nodata).collect();
        vars.insert(
            name.to_string(),
            Var {
                values,
                valid,
                nodata,
            },
        );
    }
    Data(vars)
}

/// Our answer in the document's notation: `error`, a number for a single cell, else a
/// list with `null` for invalid cells.
fn our_result(formula: &str, data: &Data) -> String {
    let Ok(expr) = Expr::parse(formula) else {
        return "error".into();
    };
    let Ok(out) = evaluate(&expr, data.tile_len(&expr), data) else {
        return "error".into();
    };
    let cells: Vec<String> = out
        .values
        .iter()
        .zip(&out.valid)
        .map(|(v, ok)| {
            if *ok {
                format!("{}", v + 0.0)
            } else {
                "null".into()
            }
        })
        .collect();
    match cells.as_slice() {
        [only] => only.clone(),
        _ => format!("[{}]", cells.join(", ")),
    }
}

fn close(ours: f64, theirs: f64) -> bool {
    (ours.is_nan() && theirs.is_nan())
        || ours == theirs
        || (ours - theirs).abs() <= 1e-12 * ours.abs().max(theirs.abs())
}

/// Does our answer agree with django-raster's expectation? `Err` says how it differs.
fn agrees(case: &Value, data: &Data) -> Result<(), String> {
    let formula = case["formula"].as_str().unwrap_or("");
    let parsed = Expr::parse(formula);
    let out = parsed
        .as_ref()
        .map_err(ToString::to_string)
        .and_then(|e| evaluate(e, data.tile_len(e), data).map_err(|err| err.to_string()));
    if case.get("error").is_some() {
        return match out {
            Err(_) => Ok(()),
            Ok(_) => Err("django-raster rejects this formula, we accept it".into()),
        };
    }
    let out = out?;
    let expected = &case["expected"];
    let nodata = expected.get("nodata").filter(|v| !v.is_null()).map(number);
    let wanted = list(&expected["values"]);
    // A 0-d expectation broadcasts over every cell.
    let wanted: Vec<&Value> = if wanted.len() == 1 {
        vec![&wanted[0]; out.values.len()]
    } else {
        wanted.iter().collect()
    };
    if wanted.len() != out.values.len() {
        return Err(format!(
            "{} cells, expected {}",
            out.values.len(),
            wanted.len()
        ));
    }
    for (i, want) in wanted.iter().enumerate() {
        let (value, valid) = (out.values[i], out.valid[i]);
        let ok = match (want, nodata) {
            (Value::Null, _) => !valid,
            (w, Some(nd)) if number(w) == nd => !valid || value == nd,
            (w, _) => valid && close(value, number(w)),
        };
        if !ok {
            return Err(format!(
                "cell {i}: got {value} (valid: {valid}), expected {want}"
            ));
        }
    }
    Ok(())
}

/// The "we give" column of the deviation table in docs/algebra.md, by case id.
fn documented_deviations() -> BTreeMap<String, String> {
    let doc =
        std::fs::read_to_string(doc_file()).unwrap_or_else(|e| panic!("docs/algebra.md: {e}"));
    let section = doc
        .split("## Corpus cases we answer differently")
        .nth(1)
        .unwrap_or_else(|| panic!("docs/algebra.md has no deviation section"));
    let section = section.split("\n## ").next().unwrap_or("");
    section
        .lines()
        .filter(|l| l.starts_with("| DR") || l.starts_with("| RA") || l.starts_with("| VW"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let [id, _formula, _theirs, ours, _why] = cells.as_slice() else {
                panic!("a deviation row needs 5 cells: {line}");
            };
            (id.to_string(), ours.trim_matches('`').to_string())
        })
        .collect()
}

#[test]
fn corpus_agrees_except_documented_deviations() {
    let text = std::fs::read_to_string(cases_file())
        .unwrap_or_else(|e| panic!("{}: {e}", cases_file().display()));
    let corpus: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("cases.json: {e}"));
    let deviations = documented_deviations();
    let mut seen = 0;
    let mut failures = Vec::new();
    for group in [
        "formula_cases",
        "raster_algebra_cases",
        "view_formula_cases",
    ] {
        for case in corpus[group].as_array().into_iter().flatten() {
            seen += 1;
            let id = case["id"].as_str().unwrap_or("?").to_string();
            let data = if group == "raster_algebra_cases" {
                raster_data(case)
            } else {
                formula_data(case)
            };
            let formula = case["formula"].as_str().unwrap_or("");
            match (agrees(case, &data), deviations.get(&id)) {
                (Ok(()), None) => {}
                (Ok(()), Some(_)) => {
                    failures.push(format!("{id}: listed as a deviation but agrees"))
                }
                (Err(why), None) => failures.push(format!("{id} `{formula}`: {why}")),
                (Err(_), Some(documented)) => {
                    let ours = our_result(formula, &data);
                    if &ours != documented {
                        failures.push(format!(
                            "{id}: docs say we give `{documented}`, we give `{ours}`"
                        ));
                    }
                }
            }
        }
    }
    assert_eq!(seen, 142, "the corpus should hold 142 cases");
    for id in deviations.keys() {
        let known = [
            "formula_cases",
            "raster_algebra_cases",
            "view_formula_cases",
        ]
        .iter()
        .any(|g| {
            corpus[*g]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["id"] == id.as_str())
        });
        if !known {
            failures.push(format!("{id}: documented but not in the corpus"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The checker itself must notice a wrong answer, or the test above proves nothing.
#[test]
fn harness_notices_disagreement() {
    let data = Data(BTreeMap::new());
    let case = |formula: &str, expected: Value| serde_json::json!({"formula": formula, "expected": expected});
    assert!(agrees(&case("2 > 1", serde_json::json!({"values": 1})), &data).is_ok());
    assert!(agrees(&case("2 > 1", serde_json::json!({"values": 0})), &data).is_err());
    // django-raster reads -2^2 as (-2)^2 = 4; we give -4.
    assert!(agrees(&case("-2^2", serde_json::json!({"values": 4.0})), &data).is_err());
    assert_eq!(our_result("-2^2", &data), "-4");
    let error = serde_json::json!({"formula": "1 + 2)", "error": {"kind": "syntax"}});
    assert!(agrees(&error, &data).is_ok());
    let not_error = serde_json::json!({"formula": "1 + 2", "error": {"kind": "syntax"}});
    assert!(agrees(&not_error, &data).is_err());
}

/// The "Differences by example" table in docs/algebra.md: the tilefn column is our answer.
#[test]
fn documented_examples_hold() {
    let doc =
        std::fs::read_to_string(doc_file()).unwrap_or_else(|e| panic!("docs/algebra.md: {e}"));
    let section = doc.split("### Differences by example").nth(1).unwrap_or("");
    let section = section.split("\n## ").next().unwrap_or("");
    let data = Data(BTreeMap::new());
    let mut rows = 0;
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let [formula, _theirs, ours, _why] = cells.as_slice() else {
            panic!("bad row: {line}")
        };
        let formula = formula.trim_matches('`');
        assert_eq!(&our_result(formula, &data), ours, "{formula}");
        rows += 1;
    }
    assert!(
        rows >= 10,
        "the example table should not vanish ({rows} rows)"
    );
}
