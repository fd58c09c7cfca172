//! The pure half of `GET /objects/{key}`: which keys are public and what a `Range` header
//! asks for. Kept apart from the R2 calls so `cargo test` checks it natively.

/// Whether `key` may be served by `/objects/`: only the published store (`layers/`,
/// `legends/`), never a path that could climb out of it or name an external URL.
pub fn is_public_key(key: &str) -> bool {
    let allowed_root = key.starts_with("layers/") || key.starts_with("legends/");
    allowed_root
        && !key.starts_with('/')
        && !key.contains("..")
        && !key.contains("//")
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key.len() <= 1024
}

/// A syntactically valid single `Range: bytes=...` request, not yet resolved against a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `bytes=first-last` (inclusive).
    FromTo(u64, u64),
    /// `bytes=first-`.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// What to answer for a range request against an object of a known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// 206 with bytes `start..end` (half-open, never empty).
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Parses a `Range` header. `None` for anything this server does not support (other units,
/// several ranges, malformed numbers): RFC 9110 lets a server ignore such a header and send
/// the whole object with 200, which is what R2's public buckets do too.
pub fn parse_range(header: &str) -> Option<RangeSpec> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        // `u64::from_str` accepts a leading `+`, which HTTP does not.
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => Some(RangeSpec::Suffix(number(last)?)),
        (false, true) => Some(RangeSpec::From(number(first)?)),
        (false, false) => {
            let (a, b) = (number(first)?, number(last)?);
            // `last < first` is syntactically invalid: ignored, like any malformed header.
            (b >= a).then_some(RangeSpec::FromTo(a, b))
        }
        (true, true) => None,
    }
}

/// Resolves `spec` against an object of `size` bytes (RFC 9110 section 14.1.2).
pub fn resolve(spec: RangeSpec, size: u64) -> RangeAnswer {
    let partial = |start: u64, end: u64| {
        if start < end {
            RangeAnswer::Partial { start, end }
        } else {
            RangeAnswer::Unsatisfiable
        }
    };
    match spec {
        RangeSpec::FromTo(first, last) if first < size => {
            partial(first, last.saturating_add(1).min(size))
        }
        RangeSpec::From(first) if first < size => partial(first, size),
        // A zero-length suffix, or any suffix of an empty object, selects nothing.
        RangeSpec::Suffix(n) => partial(size.saturating_sub(n), size),
        _ => RangeAnswer::Unsatisfiable,
    }
}

/// `Cache-Control` for an object. Current manifests change on publish, so caches revalidate
/// them (a cheap 304 by ETag); everything else (COGs under versioned keys, pinned manifest
/// copies, legends) may be kept for `max_age` seconds.
pub fn object_cache_control(key: &str, max_age: u32) -> String {
    let is_current_manifest = key
        .strip_prefix("layers/")
        .and_then(|rest| rest.strip_suffix("/manifest.json"))
        .is_some_and(|id| !id.contains('/'));
    if is_current_manifest {
        "no-cache".to_owned()
    } else {
        format!("public, max-age={max_age}")
    }
}

/// Percent-decodes a URL path segment; `None` when the result is not UTF-8. Written out
/// because the Worker crate has no URL-decoding dependency of its own (`worker::Url` gives
/// the encoded path) and this is a dozen lines; `+` stays `+` in paths.
pub fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.extend(u8::try_from(hi * 16 + lo).ok());
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys() {
        assert!(is_public_key("layers/dem/manifest.json"));
        assert!(is_public_key("legends/lc.json"));
        for bad in [
            "",
            "/layers/dem/manifest.json",
            "layers/../secret",
            "legends/..",
            "layers//x",
            "other/x",
            "changing.bin",
            "https://example.org/a.tif",
            "layers/a\nb",
            "layers\\x",
        ] {
            assert!(!is_public_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn range_headers() {
        assert_eq!(parse_range("bytes=0-9"), Some(RangeSpec::FromTo(0, 9)));
        assert_eq!(parse_range(" bytes=5- "), Some(RangeSpec::From(5)));
        assert_eq!(parse_range("bytes=-3"), Some(RangeSpec::Suffix(3)));
        for ignored in [
            "",
            "bytes=",
            "bytes=-",
            "bytes=9-0",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=+1-2",
            "bytes=a-b",
            "bytes=0-99999999999999999999",
        ] {
            assert_eq!(parse_range(ignored), None, "{ignored:?}");
        }
    }

    #[test]
    fn ranges_resolve_against_the_size() {
        let p = |start, end| RangeAnswer::Partial { start, end };
        assert_eq!(resolve(RangeSpec::FromTo(0, 9), 100), p(0, 10));
        assert_eq!(resolve(RangeSpec::FromTo(90, 200), 100), p(90, 100));
        assert_eq!(
            resolve(RangeSpec::FromTo(100, 200), 100),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(resolve(RangeSpec::From(99), 100), p(99, 100));
        assert_eq!(
            resolve(RangeSpec::From(100), 100),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(resolve(RangeSpec::Suffix(10), 100), p(90, 100));
        assert_eq!(resolve(RangeSpec::Suffix(1000), 100), p(0, 100));
        assert_eq!(
            resolve(RangeSpec::Suffix(0), 100),
            RangeAnswer::Unsatisfiable
        );
        assert_eq!(resolve(RangeSpec::Suffix(5), 0), RangeAnswer::Unsatisfiable);
        assert_eq!(resolve(RangeSpec::FromTo(0, u64::MAX), 100), p(0, 100));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("layers/a%20b/x+y").as_deref(),
            Some("layers/a b/x+y")
        );
        assert_eq!(percent_decode("%2e%2E").as_deref(), Some(".."));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn manifests_revalidate() {
        assert_eq!(
            object_cache_control("layers/dem/manifest.json", 60),
            "no-cache"
        );
        assert_eq!(
            object_cache_control("layers/dem/v/3/manifest.json", 60),
            "public, max-age=60"
        );
        assert_eq!(
            object_cache_control("layers/dem/v/3/cog/0.tif", 60),
            "public, max-age=60"
        );
    }
}
