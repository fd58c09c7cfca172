//! A bucket wrapper that counts reads, for request-budget tests.

use tilefn_storage::Bucket;

/// Counts what reaches a bucket: whole-object `get`s and data reads on the objects it hands
/// out (`read_range`, `read_ranges`, `read_prefix`, `read_range_if_match`), for request
/// budget tests ("a warm tile costs one range read").
#[derive(Debug)]
pub struct CountingBucket<B> {
    inner: B,
    counts: std::sync::Arc<Counts>,
}

/// The counters of a [`CountingBucket`].
#[derive(Debug, Default)]
pub struct Counts {
    gets: std::sync::atomic::AtomicU64,
    reads: std::sync::atomic::AtomicU64,
}

/// A snapshot of [`Counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub gets: u64,
    pub reads: u64,
}

impl<B> CountingBucket<B> {
    pub fn new(inner: B) -> Self {
        CountingBucket {
            inner,
            counts: std::sync::Arc::default(),
        }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The counts so far.
    pub fn tally(&self) -> Tally {
        use std::sync::atomic::Ordering::Relaxed;
        Tally {
            gets: self.counts.gets.load(Relaxed),
            reads: self.counts.reads.load(Relaxed),
        }
    }

    /// Zeroes the counts.
    pub fn reset(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counts.gets.store(0, Relaxed);
        self.counts.reads.store(0, Relaxed);
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
impl<B: Bucket> Bucket for CountingBucket<B> {
    async fn get(
        &self,
        key: &str,
        max_len: u64,
    ) -> tilefn_storage::Result<Option<tilefn_storage::Fetched>> {
        self.counts
            .gets
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.get(key, max_len).await
    }

    fn object(
        &self,
        key: &str,
        etag: Option<&str>,
    ) -> std::sync::Arc<dyn tilefn_storage::RangeRead> {
        std::sync::Arc::new(CountedObject {
            inner: self.inner.object(key, etag),
            counts: std::sync::Arc::clone(&self.counts),
        })
    }

    async fn list_dirs(&self, prefix: &str) -> tilefn_storage::Result<Vec<String>> {
        self.inner.list_dirs(prefix).await
    }
}

#[derive(Debug)]
struct CountedObject {
    inner: std::sync::Arc<dyn tilefn_storage::RangeRead>,
    counts: std::sync::Arc<Counts>,
}

impl CountedObject {
    fn count(&self) {
        self.counts
            .reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
impl tilefn_storage::RangeRead for CountedObject {
    async fn len(&self) -> tilefn_storage::Result<u64> {
        self.inner.len().await
    }
    async fn read_range(
        &self,
        range: std::ops::Range<u64>,
    ) -> tilefn_storage::Result<bytes::Bytes> {
        self.count();
        self.inner.read_range(range).await
    }
    async fn read_ranges(
        &self,
        ranges: &[std::ops::Range<u64>],
    ) -> tilefn_storage::Result<Vec<bytes::Bytes>> {
        self.count();
        self.inner.read_ranges(ranges).await
    }
    fn etag(&self) -> Option<String> {
        self.inner.etag()
    }
    async fn read_prefix(&self, max_len: u64) -> tilefn_storage::Result<bytes::Bytes> {
        self.count();
        self.inner.read_prefix(max_len).await
    }
    async fn read_range_if_match(
        &self,
        range: std::ops::Range<u64>,
        etag: &str,
    ) -> tilefn_storage::Result<bytes::Bytes> {
        self.count();
        self.inner.read_range_if_match(range, etag).await
    }
}
