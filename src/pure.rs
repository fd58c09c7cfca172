//! The Worker's few pure decisions, kept apart from JS calls so `cargo test` checks them
//! natively (anything touching a JS value panics off wasm32).

pub use tilefn_storage::http_headers::{ContentRange, bare_etag, parse_content_range};

/// The largest integer a JS number holds exactly; R2 range offsets are JS numbers, and
/// workers-rs asserts (panics) above it, so callers check first.
pub const JS_MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Whether a store key names an external object by URL rather than an R2 key.
pub fn is_http_key(key: &str) -> bool {
    let lower = key
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Folder names from R2's delimited prefixes (`layers/a/` under `layers/` is `a`), sorted and
/// without duplicates, as `Bucket::list_dirs` promises.
pub fn dir_names(prefix: &str, delimited: &[String]) -> Vec<String> {
    let mut names: Vec<String> = delimited
        .iter()
        .filter_map(|p| p.strip_prefix(prefix))
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `MAX_AGE` from the environment: whole seconds, at most a year (what browsers and CDNs
/// honour anyway); anything else falls back to `default`.
pub fn parse_max_age(value: Option<&str>, default: u32) -> u32 {
    value
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|v| *v <= 31_536_000)
        .unwrap_or(default)
}

/// Whether `if_none_match` (a list of entity tags or `*`) matches `etag`, with the weak
/// comparison RFC 9110 prescribes for `If-None-Match`.
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let strip = |t: &str| {
        let t = t.trim();
        t.strip_prefix("W/").unwrap_or(t).to_owned()
    };
    let want = strip(etag);
    if_none_match
        .split(',')
        .any(|tag| tag.trim() == "*" || strip(tag) == want)
}

/// Whether a request path is one whose rendered response the edge cache may hold.
pub fn is_cacheable_path(path: &str) -> bool {
    path.starts_with("/tiles/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_keys() {
        assert!(is_http_key("https://example.org/a.tif"));
        assert!(is_http_key("HTTP://example.org/a.tif"));
        assert!(!is_http_key("layers/a/manifest.json"));
        assert!(!is_http_key("http"));
        assert!(!is_http_key("ftp://x"));
        assert!(!is_http_key("é€ß://"));
    }

    #[test]
    fn dir_names_strip_prefix_and_slash() {
        let got = dir_names(
            "layers/",
            &[
                "layers/b/".to_owned(),
                "layers/a/".to_owned(),
                "layers/a/".to_owned(),
                "other/c/".to_owned(),
            ],
        );
        assert_eq!(got, ["a", "b"]);
        assert_eq!(dir_names("", &["layers/".to_owned()]), ["layers"]);
    }

    #[test]
    fn max_age_is_bounded() {
        assert_eq!(parse_max_age(Some("60"), 3600), 60);
        assert_eq!(parse_max_age(Some(" 0 "), 3600), 0);
        assert_eq!(parse_max_age(Some("-1"), 3600), 3600);
        assert_eq!(parse_max_age(Some("99999999999"), 3600), 3600);
        assert_eq!(parse_max_age(None, 3600), 3600);
    }

    #[test]
    fn if_none_match_lists() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("W/\"a\"", "\"a\""));
        assert!(etag_matches("\"x\", \"a\"", "W/\"a\""));
        assert!(etag_matches("*", "\"a\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
    }

    #[test]
    fn only_tiles_are_cached() {
        assert!(is_cacheable_path("/tiles/dem/1/2/3.png"));
        assert!(!is_cacheable_path("/layers"));
        assert!(!is_cacheable_path("/health"));
    }
}
