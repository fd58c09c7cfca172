//! Strong ETags computed from what a response depends on (layer id, manifest version, route
//! and canonical parameters), never from the bytes: a conditional request is answered
//! without reading or rendering the tile.

use sha2::{Digest, Sha256};

/// A strong ETag (quoted): the first 128 bits of SHA-256 over the parts, each length-prefixed
/// so `("ab", "c")` and `("a", "bc")` differ.
pub fn strong(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether an `If-None-Match` header matches `etag` (RFC 9110 §13.1.2: a list of tags or
/// `*`, compared weakly, so `W/"x"` matches `"x"`).
pub fn none_match(header: &str, etag: &str) -> bool {
    let ours = opaque(etag);
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || (!tag.is_empty() && opaque(tag) == ours))
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_strong_and_separate_their_parts() {
        let a = strong(&["ab", "c"]);
        assert_ne!(a, strong(&["a", "bc"]));
        assert_eq!(a, strong(&["ab", "c"]));
        assert!(a.starts_with('"') && a.ends_with('"') && a.len() == 34);
    }

    #[test]
    fn if_none_match_lists_wildcards_and_weak_tags() {
        let tag = "\"abc\"";
        assert!(none_match("\"abc\"", tag));
        assert!(none_match("W/\"abc\"", tag));
        assert!(none_match("\"x\", W/\"abc\" ,\"y\"", tag));
        assert!(none_match("*", tag));
        assert!(!none_match("\"abcd\"", tag));
        assert!(!none_match("", tag));
        assert!(!none_match("abc", tag));
    }
}
