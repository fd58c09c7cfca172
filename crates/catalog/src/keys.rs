//! Object keys inside a store. Everything a layer owns lives under `layers/<id>/`:
//!
//! ```text
//! layers/<id>/manifest.json          the published version (written last)
//! layers/<id>/parse-log.jsonl        the last ingest's log (django-raster's "parse log")
//! layers/<id>/v/<version>/cog/...    immutable objects of one version
//! ```
//! Versions are immutable, so a CDN may cache `?v=`-pinned tiles forever.

/// A layer id from a user or a URL was not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid layer id {0:?}: use 1-64 characters from a-z, A-Z, 0-9, '-' and '_'")]
pub struct InvalidLayerId(pub String);

/// Layer ids become path segments and URL segments, so only a safe alphabet is allowed:
/// no '/', no '..', nothing that needs escaping.
pub fn validate_layer_id(id: &str) -> Result<(), InvalidLayerId> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(InvalidLayerId(id.to_owned()))
    }
}

pub fn layer_prefix(id: &str) -> String {
    format!("layers/{id}/")
}

pub fn manifest_key(id: &str) -> String {
    format!("layers/{id}/manifest.json")
}

pub fn parse_log_key(id: &str) -> String {
    format!("layers/{id}/parse-log.jsonl")
}

pub fn version_prefix(id: &str, version: &str) -> String {
    format!("layers/{id}/v/{version}/")
}

/// An immutable copy of one version's manifest, inside that version's prefix, so a tile URL
/// pinned with `?v=` is served from exactly that version for as long as its objects exist.
pub fn version_manifest_key(id: &str, version: &str) -> String {
    format!("layers/{id}/v/{version}/manifest.json")
}

/// A named legend shared by layers (`?legend=NAME`), written by `tilefn-ingest legend put`.
pub fn legend_key(name: &str) -> String {
    format!("legends/{name}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_layer_id("dem_2024-v1").is_ok());
        for bad in ["", "a/b", "..", "a b", "é", &"x".repeat(65)] {
            assert!(validate_layer_id(bad).is_err(), "{bad}");
        }
        assert_eq!(version_prefix("dem", "v1"), "layers/dem/v/v1/");
        assert_eq!(manifest_key("dem"), "layers/dem/manifest.json");
        assert_eq!(
            version_manifest_key("dem", "v1"),
            "layers/dem/v/v1/manifest.json"
        );
        assert_eq!(legend_key("ndvi"), "legends/ndvi.json");
    }
}
