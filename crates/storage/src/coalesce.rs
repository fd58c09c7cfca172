//! Merging nearby ranges into fewer reads ([`coalesce_ranges`], [`Coalescing`]).
//!
//! A tile plan asks for one range per band or per TIFF tile; on object storage each request
//! costs far more than a few wasted kilobytes, so ranges closer than a gap are fetched as one
//! and sliced apart afterwards (the idea of `object_store`'s `coalesce_ranges`). This file only
//! merges and slices; the reads themselves go to the wrapped reader.

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;

use crate::read::{check_order, slice};
use crate::{RangeRead, Result, StorageError};

/// Default largest gap between two ranges that still merges them: 64 KiB.
///
/// One extra round trip to R2 or S3 costs tens of milliseconds; 64 KiB arrives in far less.
pub const DEFAULT_COALESCE_GAP: u64 = 64 * 1024;

/// Merges `ranges` into sorted, disjoint ranges that cover them all, joining any two whose gap
/// is at most `gap` bytes (overlapping and touching ranges always merge).
///
/// Empty ranges are kept (merged into a neighbour or returned alone) so the reader still
/// checks them against the object's size. Inverted ranges (`start > end`) cover nothing and
/// are dropped; [`Coalescing`] rejects them before calling this.
pub fn coalesce_ranges(ranges: &[Range<u64>], gap: u64) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges
        .iter()
        .filter(|r| r.start <= r.end)
        .cloned()
        .collect();
    sorted.sort_unstable_by_key(|r| (r.start, r.end));

    let mut merged: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match merged.last_mut() {
            // `saturating_sub` is 0 for overlaps, so they merge whatever the gap.
            Some(last) if range.start.saturating_sub(last.end) <= gap => {
                last.end = last.end.max(range.end);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// Serves [`read_ranges`](RangeRead::read_ranges) by reading merged ranges from the inner
/// reader and slicing the results. Single reads pass straight through.
#[derive(Debug)]
pub struct Coalescing<R> {
    inner: R,
    gap: u64,
}

impl<R> Coalescing<R> {
    /// Wraps `inner` with the default gap, [`DEFAULT_COALESCE_GAP`].
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            gap: DEFAULT_COALESCE_GAP,
        }
    }

    /// Sets the largest gap (in bytes) that still merges two ranges.
    #[must_use]
    pub fn with_gap(mut self, gap: u64) -> Self {
        self.gap = gap;
        self
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
impl<R: RangeRead> RangeRead for Coalescing<R> {
    async fn len(&self) -> Result<u64> {
        self.inner.len().await
    }

    async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        self.inner.read_range(range).await
    }

    async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        for range in ranges {
            check_order(range)?;
        }
        let merged = coalesce_ranges(ranges, self.gap);
        let fetched = match self.inner.read_ranges(&merged).await {
            Ok(fetched) => fetched,
            Err(err) => return Err(blame_caller_range(err, ranges)),
        };
        if fetched.len() != merged.len() {
            return Err(StorageError::Backend {
                key: String::new(),
                message: format!(
                    "reader returned {} buffers for {} ranges",
                    fetched.len(),
                    merged.len()
                ),
            });
        }
        ranges.iter().map(|r| carve(&merged, &fetched, r)).collect()
    }

    fn etag(&self) -> Option<String> {
        self.inner.etag()
    }

    async fn read_prefix(&self, max_len: u64) -> Result<Bytes> {
        self.inner.read_prefix(max_len).await
    }

    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        self.inner.read_range_if_match(range, etag).await
    }
}

/// The bytes of `range`, cut from the merged range that contains it.
fn carve(merged: &[Range<u64>], fetched: &[Bytes], range: &Range<u64>) -> Result<Bytes> {
    // Merged ranges are sorted and disjoint: the container is the last one starting at or
    // before `range.start`.
    let idx = merged
        .partition_point(|m| m.start <= range.start)
        .checked_sub(1);
    let Some((m, bytes)) = idx.and_then(|i| Some((merged.get(i)?, fetched.get(i)?))) else {
        return Err(StorageError::InvalidRange {
            range: range.clone(),
        });
    };
    slice(bytes, &(range.start - m.start..range.end - m.start))
}

/// An `OutOfRange` for a merged range names bytes the caller never asked for; report the
/// first caller range that actually runs past the end instead.
fn blame_caller_range(err: StorageError, ranges: &[Range<u64>]) -> StorageError {
    match err {
        StorageError::OutOfRange { range, len } => {
            let culprit = ranges
                .iter()
                .find(|r| r.end > len)
                .cloned()
                .unwrap_or(range);
            StorageError::OutOfRange {
                range: culprit,
                len,
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Counting, MemoryObject, conformance};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn merges_within_gap_and_keeps_far_ranges_apart() {
        assert_eq!(
            coalesce_ranges(&[0..10, 15..20, 100..110], 5),
            vec![0..20, 100..110]
        );
        assert_eq!(coalesce_ranges(&[0..10, 16..20], 5), vec![0..10, 16..20]);
        // Touching ranges merge even with no gap allowed.
        assert_eq!(coalesce_ranges(&[0..10, 10..20], 0), vec![0..20]);
    }

    #[test]
    fn handles_unsorted_overlapping_and_contained_ranges() {
        assert_eq!(
            coalesce_ranges(&[50..60, 0..10, 5..30, 8..9], 0),
            vec![0..30, 50..60]
        );
        assert_eq!(coalesce_ranges(&[0..100, 10..20, 0..100], 0), vec![0..100]);
    }

    #[test]
    fn empty_inputs_and_empty_ranges() {
        assert!(coalesce_ranges(&[], 1024).is_empty());
        let lone = 5..5;
        assert_eq!(coalesce_ranges(std::slice::from_ref(&lone), 0), [lone]);
        assert_eq!(coalesce_ranges(&[0..10, 12..12], 4), vec![0..12]);
        let (start, end) = (9, 3);
        assert!(coalesce_ranges(std::slice::from_ref(&(start..end)), 100).is_empty());
    }

    #[test]
    fn does_not_overflow_near_u64_max() {
        let top = u64::MAX - 10..u64::MAX;
        assert_eq!(
            coalesce_ranges(&[0..1, top.clone()], u64::MAX),
            vec![0..u64::MAX]
        );
        assert_eq!(coalesce_ranges(&[0..1, top.clone()], 0), vec![0..1, top]);
    }

    #[tokio::test]
    async fn coalescing_conforms() -> TestResult {
        conformance::run(&Coalescing::new(MemoryObject::new(conformance::pattern()))).await?;
        let no_gap = Coalescing::new(MemoryObject::new(conformance::pattern())).with_gap(0);
        conformance::run(&no_gap).await?;
        Ok(())
    }

    #[tokio::test]
    async fn nearby_ranges_cost_one_read() -> TestResult {
        let reader = Coalescing::new(Counting::new(MemoryObject::new(conformance::pattern())));
        let ranges = [40_000..40_100, 0..16, 1_000..2_000, 30_000..30_010];
        let got = reader.read_ranges(&ranges).await?;
        for (range, bytes) in ranges.iter().zip(&got) {
            assert_eq!(bytes, &conformance::pattern_slice(range));
        }
        let stats = reader.inner().stats();
        assert_eq!((stats.calls, stats.ranges), (1, 1));
        assert_eq!(stats.bytes, 40_100);

        let far = Coalescing::new(Counting::new(MemoryObject::new(conformance::pattern())));
        far.read_ranges(&[0..10, 90_000..90_010]).await?;
        assert_eq!(far.inner().stats().ranges, 2);
        Ok(())
    }

    #[tokio::test]
    async fn out_of_range_names_the_callers_range() -> TestResult {
        let reader = Coalescing::new(MemoryObject::new(conformance::pattern()));
        let err = reader.read_ranges(&[99_000..99_100, 99_950..100_001]).await;
        assert!(matches!(
            err,
            Err(StorageError::OutOfRange { range, len: 100_000 }) if range == (99_950..100_001)
        ));
        Ok(())
    }
}
