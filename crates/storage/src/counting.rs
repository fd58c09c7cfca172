//! [`Counting`]: how many reads and bytes pass through, for request-budget tests.
//!
//! Wrap the adapter directly (under any other decorator) to count what actually reaches the
//! backend: "a cold tile costs at most two round trips" becomes an assertion. It counts calls
//! into the wrapped reader, not network requests an adapter may make on its own (an adapter
//! that caches its size makes no request for a repeated `len`).

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{RangeRead, Result};

/// A snapshot of [`Counting`]'s counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Data-reading calls: `read_range`, `read_prefix`, `read_range_if_match` and
    /// `read_ranges` each count one (a batch the backend may serve in one round trip).
    pub calls: u64,
    /// Ranges requested: like `calls`, but a `read_ranges` batch counts each of its ranges.
    pub ranges: u64,
    /// Bytes returned by successful reads.
    pub bytes: u64,
    /// `len` calls.
    pub len_calls: u64,
}

/// Counts the reads and bytes that reach the wrapped reader.
#[derive(Debug, Default)]
pub struct Counting<R> {
    inner: R,
    calls: AtomicU64,
    ranges: AtomicU64,
    bytes: AtomicU64,
    len_calls: AtomicU64,
}

impl<R> Counting<R> {
    /// Wraps `inner` with all counters at zero.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            calls: AtomicU64::new(0),
            ranges: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            len_calls: AtomicU64::new(0),
        }
    }

    /// The counters now.
    pub fn stats(&self) -> ReadStats {
        ReadStats {
            calls: self.calls.load(Ordering::Relaxed),
            ranges: self.ranges.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            len_calls: self.len_calls.load(Ordering::Relaxed),
        }
    }

    /// Sets every counter back to zero (e.g. between a cold and a warm request).
    pub fn reset(&self) {
        for counter in [&self.calls, &self.ranges, &self.bytes, &self.len_calls] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// The wrapped reader.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// Unwraps the reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn record(&self, ranges: usize, result: &Result<Bytes>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.ranges.fetch_add(ranges as u64, Ordering::Relaxed);
        if let Ok(bytes) = result {
            self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
impl<R: RangeRead> RangeRead for Counting<R> {
    async fn len(&self) -> Result<u64> {
        self.len_calls.fetch_add(1, Ordering::Relaxed);
        self.inner.len().await
    }

    async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        let result = self.inner.read_range(range).await;
        self.record(1, &result);
        result
    }

    async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let result = self.inner.read_ranges(ranges).await;
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.ranges
            .fetch_add(ranges.len() as u64, Ordering::Relaxed);
        if let Ok(parts) = &result {
            let total: u64 = parts.iter().map(|b| b.len() as u64).sum();
            self.bytes.fetch_add(total, Ordering::Relaxed);
        }
        result
    }

    fn etag(&self) -> Option<String> {
        self.inner.etag()
    }

    async fn read_prefix(&self, max_len: u64) -> Result<Bytes> {
        let result = self.inner.read_prefix(max_len).await;
        self.record(1, &result);
        result
    }

    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        let result = self.inner.read_range_if_match(range, etag).await;
        self.record(1, &result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryObject, conformance};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[tokio::test]
    async fn counting_conforms() -> TestResult {
        conformance::run(&Counting::new(MemoryObject::new(conformance::pattern()))).await?;
        Ok(())
    }

    #[tokio::test]
    async fn counts_calls_ranges_bytes_and_resets() -> TestResult {
        let reader = Counting::new(MemoryObject::new(conformance::pattern()));
        reader.len().await?;
        reader.read_range(0..10).await?;
        reader.read_ranges(&[0..5, 10..20, 30..30]).await?;
        reader.read_prefix(100).await?;
        assert!(reader.read_range(99_999..100_001).await.is_err());
        assert_eq!(
            reader.stats(),
            ReadStats {
                calls: 4,
                ranges: 6,
                bytes: 10 + 15 + 100,
                len_calls: 1
            }
        );
        reader.reset();
        assert_eq!(reader.stats(), ReadStats::default());
        Ok(())
    }
}
