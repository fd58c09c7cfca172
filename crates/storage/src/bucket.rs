//! The [`Bucket`] trait: a read-only namespace of objects, as the tile service sees a store.
//!
//! [`RangeRead`] stays the one way to read bytes; a bucket only names objects (hands out
//! `RangeRead` handles), fetches small whole objects (manifests, legends) and lists "folders"
//! (layer ids). Writing stays with ingest, which uses `object_store` directly.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::read::MaybeSendSync;
use crate::{RangeRead, Result};

/// A whole small object and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The object's bytes.
    pub bytes: Bytes,
    /// The object's ETag, when the backend reports one.
    pub etag: Option<String>,
}

/// Read-only access to a store of named objects.
///
/// # Contract (checked by `conformance::check_bucket`)
///
/// - [`get`](Self::get) answers `Ok(None)` for a missing key, never `Err(NotFound)`; an
///   object larger than `max_len` is [`StorageError::TooLarge`](crate::StorageError::TooLarge)
///   and is not transferred, so a hostile store cannot exhaust a 128 MB isolate.
/// - [`object`](Self::object) does no I/O; a missing key surfaces as `NotFound` on first read.
/// - [`list_dirs`](Self::list_dirs) returns the names (not full keys) of the immediate
///   "folders" under `prefix` (which ends in `/`), sorted and without duplicates.
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
pub trait Bucket: MaybeSendSync + fmt::Debug {
    /// The whole object at `key`, if it exists and is at most `max_len` bytes.
    async fn get(&self, key: &str, max_len: u64) -> Result<Option<Fetched>>;

    /// A range reader for `key`. When `etag` is given the handle is pinned to that version
    /// (reads of any other version fail with `Precondition`), and adapters may skip a
    /// metadata round trip because the caller already knows the version.
    fn object(&self, key: &str, etag: Option<&str>) -> Arc<dyn RangeRead>;

    /// Immediate child folder names under `prefix` (for example layer ids under `layers/`).
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>>;
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl<T: Bucket + ?Sized> Bucket for Arc<T> {
    async fn get(&self, key: &str, max_len: u64) -> Result<Option<Fetched>> {
        (**self).get(key, max_len).await
    }
    fn object(&self, key: &str, etag: Option<&str>) -> Arc<dyn RangeRead> {
        (**self).object(key, etag)
    }
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        (**self).list_dirs(prefix).await
    }
}

/// The child folder names of `prefix` among `keys`: shared by adapters that list flat keys.
pub fn child_dirs<'a>(prefix: &str, keys: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut dirs: Vec<String> = keys
        .into_iter()
        .filter_map(|k| k.strip_prefix(prefix))
        .filter_map(|rest| rest.split_once('/').map(|(dir, _)| dir))
        .filter(|dir| !dir.is_empty())
        .map(str::to_owned)
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_dirs_are_sorted_unique_names() {
        let keys = [
            "layers/b/manifest.json",
            "layers/a/manifest.json",
            "layers/a/v/1/cog/0/0/0.tif",
            "layers/top.json",
            "legends/x.json",
        ];
        assert_eq!(child_dirs("layers/", keys), vec!["a", "b"]);
        assert!(child_dirs("nothing/", keys).is_empty());
    }
}
