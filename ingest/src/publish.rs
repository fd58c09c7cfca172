//! Versions, the manifest and the parse log: how a finished ingest becomes visible.
//!
//! Atomicity comes from ordering. Every object of a new version is written under a fresh
//! prefix `layers/<id>/v/<version>/` that nothing refers to yet; the manifest, a single
//! object put (atomic on a file system via rename and on S3/R2 by definition), is written
//! last and switches readers to the new version in one step. A run killed before that leaves
//! the previous manifest and its objects untouched; its orphaned prefix is removed by the
//! next successful run.

use std::time::SystemTime;

use tilefn_catalog::{Manifest, layer_prefix, manifest_key, parse_log_key, version_manifest_key};

use crate::IngestError;
use crate::store::Store;

/// A new, unique content version: UTC time to the second plus 32 random bits, so versions
/// sort by age and two runs in the same second still differ.
pub fn new_version() -> String {
    use std::hash::{BuildHasher, Hasher};
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let stamp: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    // RandomState is seeded from the OS, which is all the randomness a unique suffix needs.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{}-{:08x}", stamp.to_ascii_lowercase(), h.finish() as u32)
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

pub fn read_manifest(store: &Store, id: &str) -> Result<Option<Manifest>, IngestError> {
    let Some(bytes) = store.get(&manifest_key(id))? else {
        return Ok(None);
    };
    Manifest::from_json(&bytes)
        .map(Some)
        .map_err(|e| IngestError::Invalid(format!("{}: {e}", manifest_key(id))))
}

/// Makes `m` the served version, then removes versions that are neither it nor the one it
/// replaces (kept so that clients holding the previous version's URLs finish cleanly).
pub fn publish(store: &Store, m: &Manifest, previous: Option<&str>) -> Result<usize, IngestError> {
    let json = m.to_json_pretty();
    // The pinned copy first: once the live manifest names a version, `?v=` can find it.
    store.put(&version_manifest_key(&m.id, &m.version), json.clone())?;
    store.put(&manifest_key(&m.id), json)?;
    let versions_dir = format!("{}v/", layer_prefix(&m.id));
    let mut removed = 0;
    for v in store.list_dirs(&versions_dir)? {
        if v != m.version && Some(v.as_str()) != previous {
            removed += store.delete_prefix(&format!("{versions_dir}{v}/"))?;
        }
    }
    Ok(removed)
}

/// django-raster's "parse log", as JSON lines: one object per event.
#[derive(Default)]
pub struct ParseLog {
    lines: std::sync::Mutex<Vec<String>>,
}

impl ParseLog {
    pub fn event(&self, level: &str, msg: &str) {
        let line = serde_json::json!({ "time": now_rfc3339(), "level": level, "message": msg })
            .to_string();
        if let Ok(mut l) = self.lines.lock() {
            l.push(line);
        }
    }

    pub fn info(&self, msg: &str) {
        self.event("info", msg);
    }

    /// The lines so far (JSON objects, one per event).
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Appends lines another process logged (a unit's, from its result).
    pub fn extend(&self, lines: &[String]) {
        if let Ok(mut l) = self.lines.lock() {
            l.extend_from_slice(lines);
        }
    }

    /// Stores the log beside the manifest (also after a failed run, so the failure can be
    /// read where the layer would be).
    pub fn save(&self, store: &Store, id: &str) -> Result<(), IngestError> {
        let body = self
            .lines
            .lock()
            .map(|l| l.join("\n") + "\n")
            .unwrap_or_default();
        store.put(&parse_log_key(id), body.into_bytes()).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_unique_and_sortable() {
        let a = new_version();
        let b = new_version();
        assert_ne!(a, b);
        assert_eq!(a.len(), b.len());
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    }
}
