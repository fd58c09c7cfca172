//! In-memory objects: the reference adapter, for tests, benches and the browser demo.
//!
//! [`MemoryStore`] is a tiny keyed store whose objects get a fresh ETag on every `put`, so
//! tests can change an object under a reader and check that pinning notices. It is not a
//! cache and has no eviction.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use bytes::Bytes;

use crate::read::{check_range, slice};
use crate::{Bucket, EtagPinned, Fetched, RangeRead, Result, StorageError, child_dirs};

/// A set of in-memory objects, shared by every clone.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    state: Arc<RwLock<State>>,
}

#[derive(Debug, Default)]
struct State {
    objects: HashMap<String, Entry>,
    /// Bumped on every put, so ETags are never reused within a store.
    generation: u64,
}

#[derive(Clone, Debug)]
struct Entry {
    bytes: Bytes,
    etag: String,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `bytes` under `key`, replacing any previous object, and returns the new ETag.
    pub fn put(&self, key: impl Into<String>, bytes: impl Into<Bytes>) -> String {
        // A poisoned lock only means another thread panicked mid-put; the map is still whole.
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.generation += 1;
        let etag = format!("mem-{}", state.generation);
        state.objects.insert(
            key.into(),
            Entry {
                bytes: bytes.into(),
                etag: etag.clone(),
            },
        );
        etag
    }

    /// Removes `key`; returns whether it existed.
    pub fn delete(&self, key: &str) -> bool {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.objects.remove(key).is_some()
    }

    /// A reader for `key`. It reads the live object, so a later `put` is visible to it.
    pub fn object(&self, key: impl Into<String>) -> MemoryObject {
        MemoryObject {
            store: self.clone(),
            key: key.into(),
        }
    }

    fn entry(&self, key: &str) -> Result<Entry> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| StorageError::NotFound {
                key: key.to_owned(),
            })
    }
}

/// One object of a [`MemoryStore`].
#[derive(Clone, Debug)]
pub struct MemoryObject {
    store: MemoryStore,
    key: String,
}

impl MemoryObject {
    /// A standalone object holding `bytes` (in a store of its own, under the key `"memory"`).
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        let store = MemoryStore::new();
        store.put("memory", bytes);
        store.object("memory")
    }

    /// The object's key in its store.
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl RangeRead for MemoryObject {
    async fn len(&self) -> Result<u64> {
        Ok(self.store.entry(&self.key)?.bytes.len() as u64)
    }

    async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        read(&self.store.entry(&self.key)?, &range)
    }

    /// Reads every range from one snapshot, so a batch never straddles two versions.
    async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let entry = self.store.entry(&self.key)?;
        ranges.iter().map(|r| read(&entry, r)).collect()
    }

    fn etag(&self) -> Option<String> {
        self.store.entry(&self.key).ok().map(|e| e.etag)
    }

    /// Compares against the same snapshot it reads from: no window for a concurrent `put`.
    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        let entry = self.store.entry(&self.key)?;
        if entry.etag != etag {
            return Err(StorageError::changed(etag, Some(entry.etag)));
        }
        read(&entry, &range)
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl Bucket for MemoryStore {
    async fn get(&self, key: &str, max_len: u64) -> Result<Option<Fetched>> {
        let entry = match self.entry(key) {
            Ok(entry) => entry,
            Err(StorageError::NotFound { .. }) => return Ok(None),
            Err(other) => return Err(other),
        };
        let len = entry.bytes.len() as u64;
        if len > max_len {
            return Err(StorageError::TooLarge {
                key: key.to_owned(),
                len,
                max: max_len,
            });
        }
        Ok(Some(Fetched {
            bytes: entry.bytes,
            etag: Some(entry.etag),
        }))
    }

    fn object(&self, key: &str, etag: Option<&str>) -> Arc<dyn RangeRead> {
        let object = MemoryStore::object(self, key);
        match etag {
            Some(etag) => Arc::new(EtagPinned::with_etag(object, etag)),
            None => Arc::new(object),
        }
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Ok(child_dirs(prefix, state.objects.keys().map(String::as_str)))
    }
}

fn read(entry: &Entry, range: &Range<u64>) -> Result<Bytes> {
    check_range(range, entry.bytes.len() as u64)?;
    slice(&entry.bytes, range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[tokio::test]
    async fn memory_object_conforms() -> TestResult {
        conformance::run(&MemoryObject::new(conformance::pattern())).await?;
        Ok(())
    }

    #[tokio::test]
    async fn store_object_conforms_and_detects_change() -> TestResult {
        let store = MemoryStore::new();
        store.put("a.tif", conformance::pattern());
        let obj = store.object("a.tif");
        conformance::run(&obj).await?;
        conformance::check_change_detected(&obj, async || {
            store.put("a.tif", vec![1u8; 10]);
        })
        .await?;
        Ok(())
    }

    #[tokio::test]
    async fn missing_and_deleted_objects_are_not_found() -> TestResult {
        let store = MemoryStore::new();
        let obj = store.object("nope");
        assert!(matches!(obj.len().await, Err(StorageError::NotFound { key }) if key == "nope"));
        store.put("gone", vec![1u8, 2, 3]);
        assert!(store.delete("gone"));
        assert!(matches!(
            store.object("gone").read_range(0..1).await,
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(obj.etag(), None);
        Ok(())
    }

    #[tokio::test]
    async fn memory_store_is_a_conforming_bucket() -> TestResult {
        let store = MemoryStore::new();
        for (key, bytes) in conformance::bucket_fixture() {
            store.put(key, bytes);
        }
        conformance::check_bucket(&store).await?;
        Ok(())
    }

    #[test]
    fn etags_are_never_reused() {
        let store = MemoryStore::new();
        let a = store.put("k", vec![1u8]);
        let b = store.put("k", vec![1u8]);
        assert_ne!(a, b);
    }
}
