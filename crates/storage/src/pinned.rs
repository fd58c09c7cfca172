//! [`EtagPinned`]: every read comes from one version of the object, or fails.
//!
//! A tile reads a header and then tile bytes in separate requests. If ingest republishes the
//! object in between, the offsets from the old header would slice the new file: mixed pixels.
//! Pinning records the ETag once and makes every later read conditional on it, so a change
//! mid-request surfaces as [`StorageError::Precondition`] and the caller retries from scratch.

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::{MAX_CONCURRENT_READS, RangeRead, Result, StorageError};

/// Pins the wrapped reader to the version it had when opened.
///
/// Put it directly above the adapter so every decorator above it (readahead, coalescing)
/// reads pinned bytes. If the backend reports no ETag there is nothing to pin to and reads
/// pass through unchanged; [`pinned_etag`](Self::pinned_etag) then returns `None`.
#[derive(Debug)]
pub struct EtagPinned<R> {
    inner: R,
    etag: Option<String>,
}

impl<R: RangeRead> EtagPinned<R> {
    /// Pins `inner` to its current version, looking it up (via `len`) if the handle does not
    /// know it yet.
    pub async fn open(inner: R) -> Result<Self> {
        let etag = match inner.etag() {
            Some(etag) => Some(etag),
            None => {
                inner.len().await?;
                inner.etag()
            }
        };
        Ok(Self { inner, etag })
    }
}

impl<R> EtagPinned<R> {
    /// Pins `inner` to a version the caller already knows (e.g. from a metadata cache keyed
    /// by ETag), without any I/O.
    pub fn with_etag(inner: R, etag: impl Into<String>) -> Self {
        Self {
            inner,
            etag: Some(etag.into()),
        }
    }

    /// The version reads are pinned to, if any.
    pub fn pinned_etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// The wrapped reader.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// Unwraps the reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl<R: RangeRead> RangeRead for EtagPinned<R> {
    async fn len(&self) -> Result<u64> {
        self.inner.len().await
    }

    async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        match &self.etag {
            Some(etag) => self.inner.read_range_if_match(range, etag).await,
            None => self.inner.read_range(range).await,
        }
    }

    /// Issues the conditional reads concurrently (bounded), keeping input order.
    async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let Some(etag) = &self.etag else {
            return self.inner.read_ranges(ranges).await;
        };
        stream::iter(ranges.iter().cloned())
            .map(|range| self.inner.read_range_if_match(range, etag))
            .buffered(MAX_CONCURRENT_READS)
            .try_collect()
            .await
    }

    fn etag(&self) -> Option<String> {
        self.etag.clone().or_else(|| self.inner.etag())
    }

    async fn read_prefix(&self, max_len: u64) -> Result<Bytes> {
        match &self.etag {
            // The size may belong to a newer version; the conditional read then fails, which
            // is the point.
            Some(etag) => {
                let len = self.inner.len().await?;
                self.inner
                    .read_range_if_match(0..max_len.min(len), etag)
                    .await
            }
            None => self.inner.read_prefix(max_len).await,
        }
    }

    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        match &self.etag {
            Some(pinned) if pinned != etag => {
                Err(StorageError::changed(etag, Some(pinned.clone())))
            }
            _ => self.inner.read_range_if_match(range, etag).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryObject, MemoryStore, conformance};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[tokio::test]
    async fn pinned_conforms() -> TestResult {
        let reader = EtagPinned::open(MemoryObject::new(conformance::pattern())).await?;
        assert!(reader.pinned_etag().is_some());
        conformance::run(&reader).await?;
        Ok(())
    }

    #[tokio::test]
    async fn a_changed_object_fails_every_kind_of_read() -> TestResult {
        let store = MemoryStore::new();
        store.put("k", conformance::pattern());
        let reader = EtagPinned::open(store.object("k")).await?;
        reader.read_range(0..10).await?;
        store.put("k", conformance::pattern());
        let changed = |r: Result<_>| matches!(r, Err(StorageError::Precondition { .. }));
        assert!(changed(reader.read_range(0..10).await.map(drop)));
        assert!(changed(reader.read_ranges(&[0..1, 5..9]).await.map(drop)));
        assert!(changed(reader.read_prefix(100).await.map(drop)));
        Ok(())
    }

    #[tokio::test]
    async fn with_etag_rejects_a_version_it_was_not_pinned_to() -> TestResult {
        let store = MemoryStore::new();
        let etag = store.put("k", conformance::pattern());
        let reader = EtagPinned::with_etag(store.object("k"), "someone-else");
        assert!(matches!(
            reader.read_range(0..1).await,
            Err(StorageError::Precondition { .. })
        ));
        assert!(matches!(
            reader.read_range_if_match(0..1, &etag).await,
            Err(StorageError::Precondition { .. })
        ));
        Ok(())
    }
}
