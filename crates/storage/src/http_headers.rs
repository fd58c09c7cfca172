//! The HTTP header grammar the range adapters over HTTP share: the Worker's (`src/http.rs`,
//! `src/objects.rs`, R2's ETag handling) and the browser's (`crates/web`). Pure and tiny, so
//! it lives here once rather than in two crates that cannot depend on each other.

/// A `Content-Range` header: `bytes first-last/total`, `bytes first-last/*` or `bytes */total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// `first..last + 1`, absent for an unsatisfied-range answer (`bytes */total`).
    pub range: Option<(u64, u64)>,
    /// The whole object's size, when the server told it.
    pub total: Option<u64>,
}

/// Parses a `Content-Range` header; `None` when it is malformed.
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    let range = match span.trim() {
        "*" => None,
        s => {
            let (first, last) = s.split_once('-')?;
            let first = first.trim().parse::<u64>().ok()?;
            let last = last.trim().parse::<u64>().ok()?;
            if last < first || total.is_some_and(|t| last >= t) {
                return None;
            }
            Some((first, last.checked_add(1)?))
        }
    };
    Some(ContentRange { range, total })
}

/// An entity tag without `W/` and quotes. Proxies weaken tags (compression), pins may be
/// written unquoted, and R2's `onlyIf.etagMatches` rejects quoted tags (a TypeError), so
/// comparisons and R2 conditions use this form.
pub fn bare_etag(etag: &str) -> &str {
    let t = etag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t)
}

/// Whether two entity tags name the same version.
pub fn same_etag(a: &str, b: &str) -> bool {
    bare_etag(a) == bare_etag(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        assert_eq!(
            parse_content_range("bytes 0-9/100"),
            Some(ContentRange {
                range: Some((0, 10)),
                total: Some(100)
            })
        );
        assert_eq!(
            parse_content_range("bytes */100"),
            Some(ContentRange {
                range: None,
                total: Some(100)
            })
        );
        assert_eq!(
            parse_content_range("bytes 5-5/*"),
            Some(ContentRange {
                range: Some((5, 6)),
                total: None
            })
        );
        for bad in [
            "",
            "bytes",
            "bytes 9-0/100",
            "bytes 0-100/100",
            "items 0-1/2",
            "bytes a-b/c",
            "bytes 0-18446744073709551615/*",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn etags_compare_bare() {
        assert_eq!(bare_etag("\"abc\""), "abc");
        assert_eq!(bare_etag("W/\"abc\""), "abc");
        assert_eq!(bare_etag("abc"), "abc");
        assert_eq!(bare_etag("\""), "\"");
        assert!(same_etag("\"abc\"", "W/\"abc\""));
        assert!(same_etag("abc", "\"abc\""));
        assert!(!same_etag("\"abc\"", "\"abd\""));
    }
}
