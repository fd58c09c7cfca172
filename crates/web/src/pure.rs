//! The browser adapter's decisions that need no JavaScript: header parsing, the `/layers`
//! listing and the formula check. Tested natively.

/// The layer ids of a `/layers` document (`{"layers": [{"id": ...}, ...]}`), sorted and
/// unique as `Bucket::list_dirs` promises.
pub fn layer_ids(json: &[u8]) -> Option<Vec<String>> {
    let doc: serde_json::Value = serde_json::from_slice(json).ok()?;
    let mut ids: Vec<String> = doc
        .get("layers")?
        .as_array()?
        .iter()
        .filter_map(|l| l.get("id")?.as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    Some(ids)
}

/// `path?query` split for `tilefn_tiler::Request` (a leading origin is not expected).
pub fn split_path(url: &str) -> (&str, &str) {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    url.split_once('?').unwrap_or((url, ""))
}

/// What `checkFormula` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormulaCheck {
    /// The formula parses; its variables, sorted.
    Ok { variables: Vec<String> },
    /// Where and why it does not.
    Err {
        position: usize,
        expected: String,
        message: String,
    },
}

/// Parses `formula` with the same parser and limits as `/algebra`.
pub fn check_formula(formula: &str) -> FormulaCheck {
    match tilefn_algebra::Expr::parse(formula) {
        Ok(expr) => FormulaCheck::Ok {
            variables: expr.variables(),
        },
        Err(err) => FormulaCheck::Err {
            position: err.position,
            expected: err.expected.clone(),
            message: err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_from_layers_json() {
        let doc = br#"{"layers":[{"id":"ms"},{"id":"dem"},{"id":"dem"},{"name":"x"}]}"#;
        assert_eq!(
            layer_ids(doc),
            Some(vec!["dem".to_owned(), "ms".to_owned()])
        );
        assert_eq!(layer_ids(b"{}"), None);
        assert_eq!(layer_ids(b"not json"), None);
    }

    #[test]
    fn paths_split() {
        assert_eq!(
            split_path("/tiles/a/1/2/3.png?x=1#h"),
            ("/tiles/a/1/2/3.png", "x=1")
        );
        assert_eq!(split_path("/layers"), ("/layers", ""));
    }

    #[test]
    fn formulas_are_checked() {
        assert_eq!(
            check_formula("b + a*2"),
            FormulaCheck::Ok {
                variables: vec!["a".to_owned(), "b".to_owned()]
            }
        );
        match check_formula("a+b*") {
            FormulaCheck::Err {
                position, message, ..
            } => {
                assert_eq!(position, 4);
                assert!(message.contains("at byte 4"), "{message}");
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
}
