//! [`Readahead`]: the first bytes of an object, fetched once, then served from memory.
//!
//! A TIFF header parser reads 8 bytes, then an IFD offset, then each IFD and its tag arrays:
//! a dozen tiny reads, all near the start of a COG. Fetching one prefix (64 KiB by default)
//! turns them into a single request. Only reads that fit inside the prefix window are served
//! from it; everything else passes through. The cache lives as long as the decorator, so wrap
//! a reader per request (or pin it with [`EtagPinned`](crate::EtagPinned) underneath).

use std::ops::Range;

use async_lock::OnceCell;
use async_trait::async_trait;
use bytes::Bytes;

use crate::read::{check_order, slice};
use crate::{RangeRead, Result, StorageError};

/// Default prefix size: 64 KiB, enough for the header and IFDs of a COG with several
/// overviews, and still a single cheap request.
pub const DEFAULT_READAHEAD: u64 = 64 * 1024;

/// Serves reads near offset 0 from a prefix buffer fetched once.
///
/// Concurrent first reads share one fetch (the cell is async-aware), so the request budget
/// holds even when a parser issues reads in parallel.
#[derive(Debug)]
pub struct Readahead<R> {
    inner: R,
    size: u64,
    prefix: OnceCell<Prefix>,
}

#[derive(Debug)]
struct Prefix {
    bytes: Bytes,
    /// The object is shorter than the window, so `bytes` is all of it and its length is the
    /// object's size.
    complete: bool,
    /// The version the prefix came from, as the inner reader reported it after the fetch.
    etag: Option<String>,
}

impl<R> Readahead<R> {
    /// Wraps `inner` with the default window, [`DEFAULT_READAHEAD`].
    pub fn new(inner: R) -> Self {
        Self::with_size(inner, DEFAULT_READAHEAD)
    }

    /// Wraps `inner` with a prefix window of `size` bytes.
    pub fn with_size(inner: R, size: u64) -> Self {
        Self {
            inner,
            size,
            prefix: OnceCell::new(),
        }
    }

    /// The wrapped reader.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// Unwraps the reader (dropping the cached prefix).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Whether `range` lies inside the prefix window (a zero window disables the cache).
    fn in_window(&self, range: &Range<u64>) -> bool {
        self.size > 0 && range.start <= range.end && range.end <= self.size
    }
}

impl<R: RangeRead> Readahead<R> {
    async fn prefix(&self) -> Result<&Prefix> {
        self.prefix
            .get_or_try_init(|| async {
                let bytes = self.inner.read_prefix(self.size).await?;
                let complete = (bytes.len() as u64) < self.size;
                Ok(Prefix {
                    bytes,
                    complete,
                    etag: self.inner.etag(),
                })
            })
            .await
    }

    /// Serves an in-window `range` from the prefix.
    fn serve(prefix: &Prefix, range: &Range<u64>) -> Result<Bytes> {
        let have = prefix.bytes.len() as u64;
        if range.end > have {
            // Only a complete prefix can be shorter than the window.
            return Err(StorageError::OutOfRange {
                range: range.clone(),
                len: have,
            });
        }
        slice(&prefix.bytes, range)
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl<R: RangeRead> RangeRead for Readahead<R> {
    /// Answered from the prefix when it already holds the whole object.
    async fn len(&self) -> Result<u64> {
        match self.prefix.get() {
            Some(p) if p.complete => Ok(p.bytes.len() as u64),
            _ => self.inner.len().await,
        }
    }

    async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        check_order(&range)?;
        if !self.in_window(&range) {
            return self.inner.read_range(range).await;
        }
        Self::serve(self.prefix().await?, &range)
    }

    /// Serves what it can from the prefix and sends the rest to the inner reader as one batch.
    async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mut out: Vec<Option<Bytes>> = vec![None; ranges.len()];
        let mut rest = Vec::new();
        for (i, range) in ranges.iter().enumerate() {
            check_order(range)?;
            if self.in_window(range) {
                out[i] = Some(Self::serve(self.prefix().await?, range)?);
            } else {
                rest.push(range.clone());
            }
        }
        if !rest.is_empty() {
            let mut fetched = self.inner.read_ranges(&rest).await?.into_iter();
            for slot in out.iter_mut().filter(|slot| slot.is_none()) {
                *slot = fetched.next();
            }
        }
        out.into_iter()
            .map(|slot| {
                slot.ok_or_else(|| StorageError::Backend {
                    key: String::new(),
                    message: "reader returned fewer buffers than ranges".to_owned(),
                })
            })
            .collect()
    }

    fn etag(&self) -> Option<String> {
        self.inner.etag()
    }

    async fn read_prefix(&self, max_len: u64) -> Result<Bytes> {
        if max_len > self.size {
            return self.inner.read_prefix(max_len).await;
        }
        let prefix = self.prefix().await?;
        let end = max_len.min(prefix.bytes.len() as u64);
        slice(&prefix.bytes, &(0..end))
    }

    /// Served from the prefix only when the prefix is known to be version `etag`.
    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        check_order(&range)?;
        if self.in_window(&range) {
            let prefix = self.prefix().await?;
            match prefix.etag.as_deref() {
                Some(seen) if seen == etag => return Self::serve(prefix, &range),
                Some(seen) => return Err(StorageError::changed(etag, Some(seen.to_owned()))),
                // The inner reader had no version to report: ask it directly.
                None => {}
            }
        }
        self.inner.read_range_if_match(range, etag).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Counting, MemoryObject, MemoryStore, conformance};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn counted(size: u64) -> Readahead<Counting<MemoryObject>> {
        Readahead::with_size(
            Counting::new(MemoryObject::new(conformance::pattern())),
            size,
        )
    }

    #[tokio::test]
    async fn readahead_conforms_for_any_window() -> TestResult {
        // Smaller than, equal to, and larger than the 100_000-byte object.
        for size in [0, 1_000, DEFAULT_READAHEAD, 100_000, 1_000_000] {
            conformance::run(&counted(size)).await?;
        }
        Ok(())
    }

    #[tokio::test]
    async fn header_reads_cost_one_fetch() -> TestResult {
        let reader = counted(DEFAULT_READAHEAD);
        reader.read_range(0..8).await?;
        reader.read_range(8..200).await?;
        reader.read_ranges(&[1_000..1_100, 60_000..65_536]).await?;
        assert_eq!(
            reader.read_prefix(16).await?,
            conformance::pattern_slice(&(0..16))
        );
        assert_eq!(reader.inner().stats().calls, 1);
        // Past the window: one more read, straight through.
        reader.read_range(65_000..70_000).await?;
        assert_eq!(reader.inner().stats().calls, 2);
        Ok(())
    }

    #[tokio::test]
    async fn concurrent_first_reads_share_one_fetch() -> TestResult {
        let reader = counted(DEFAULT_READAHEAD);
        let (a, b, c) = tokio::join!(
            reader.read_range(0..8),
            reader.read_range(4..16),
            reader.read_prefix(32)
        );
        assert_eq!(a?.len() + b?.len() + c?.len(), 8 + 12 + 32);
        assert_eq!(reader.inner().stats().calls, 1);
        Ok(())
    }

    #[tokio::test]
    async fn short_object_answers_len_from_the_prefix() -> TestResult {
        let reader = Readahead::with_size(
            Counting::new(MemoryObject::new(vec![7u8; 100])),
            DEFAULT_READAHEAD,
        );
        reader.read_range(0..4).await?;
        assert_eq!(reader.len().await?, 100);
        assert!(matches!(
            reader.read_range(50..101).await,
            Err(StorageError::OutOfRange { len: 100, .. })
        ));
        assert_eq!(
            reader.inner().stats(),
            crate::ReadStats {
                calls: 1,
                ranges: 1,
                bytes: 100,
                len_calls: 0,
            }
        );
        Ok(())
    }

    #[tokio::test]
    async fn stale_prefix_fails_a_pinned_read() -> TestResult {
        let store = MemoryStore::new();
        let old = store.put("k", conformance::pattern());
        let reader = Readahead::new(store.object("k"));
        reader.read_range_if_match(0..8, &old).await?;
        let new = store.put("k", vec![0u8; 10]);
        assert!(matches!(
            reader.read_range_if_match(0..8, &new).await,
            Err(StorageError::Precondition { .. })
        ));
        Ok(())
    }
}
