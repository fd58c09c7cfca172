//! The browser adapter's decisions that need no JavaScript: header parsing, slicing an
//! answer to the asked range, the `/layers` listing and the formula check. Tested natively.

use std::ops::Range;

use bytes::Bytes;
pub use tilefn_storage::http_headers::{ContentRange, bare_etag, parse_content_range, same_etag};
use tilefn_storage::{Result, StorageError};

/// `range` out of `bytes`, which hold the object from `offset` on; `ShortRead` when the
/// answer does not cover it.
pub fn slice_answer(bytes: Bytes, offset: u64, range: &Range<u64>) -> Result<Bytes> {
    let got = bytes.len();
    let short = || StorageError::ShortRead {
        range: range.clone(),
        got: got as u64,
    };
    let start = range.start.checked_sub(offset).ok_or_else(short)?;
    let end = range.end.checked_sub(offset).ok_or_else(short)?;
    match (usize::try_from(start), usize::try_from(end)) {
        (Ok(s), Ok(e)) if s <= e && e <= got => Ok(if s == 0 && e == got {
            bytes
        } else {
            bytes.slice(s..e)
        }),
        _ => Err(short()),
    }
}

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
    fn slicing_answers() {
        let bytes = Bytes::from_static(b"0123456789");
        assert_eq!(
            slice_answer(bytes.clone(), 0, &(2..5)).ok(),
            Some(Bytes::from_static(b"234"))
        );
        assert_eq!(
            slice_answer(bytes.clone(), 10, &(12..13)).ok(),
            Some(Bytes::from_static(b"2"))
        );
        assert_eq!(
            slice_answer(bytes.clone(), 0, &(0..10)).ok(),
            Some(bytes.clone())
        );
        assert!(matches!(
            slice_answer(bytes.clone(), 0, &(5..11)),
            Err(StorageError::ShortRead { got: 10, .. })
        ));
        assert!(matches!(
            slice_answer(bytes, 5, &(0..3)),
            Err(StorageError::ShortRead { .. })
        ));
    }

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
