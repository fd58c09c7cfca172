//! The [`RangeRead`] trait: stateless, read-only byte ranges of one object.
//!
//! This file holds the trait, its forwarding impls for pointers, and the range arithmetic every
//! adapter shares. It does no I/O itself.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{Result, StorageError};

/// `Send + Sync` natively, nothing on wasm32.
///
/// JavaScript handles (R2 bindings, `fetch` promises) are `!Send`, and wasm32 Workers are
/// single-threaded anyway, so requiring `Send` there would only force `SendWrapper` hacks.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}

/// `Send + Sync` natively, nothing on wasm32.
///
/// JavaScript handles (R2 bindings, `fetch` promises) are `!Send`, and wasm32 Workers are
/// single-threaded anyway, so requiring `Send` there would only force `SendWrapper` hacks.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSendSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSendSync for T {}

/// Read-only byte-range access to one object.
///
/// # Contract (checked by the `conformance` module)
///
/// - Offsets are `u64`; `range` is half-open (`start..end`).
/// - A read returns **exactly** `end - start` bytes. A range whose `end` is past the object's
///   size is [`StorageError::OutOfRange`], never a silently short buffer; `start > end` is
///   [`StorageError::InvalidRange`]. An empty range (`start == end <= len`) returns empty bytes,
///   and adapters answer it without transferring data.
/// - [`read_ranges`](Self::read_ranges) returns one buffer per input range, in input order;
///   ranges may be unsorted, overlapping or repeated.
/// - [`read_range_if_match`](Self::read_range_if_match) fails with
///   [`StorageError::Precondition`] when the object is no longer the given version.
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
pub trait RangeRead: MaybeSendSync + fmt::Debug {
    /// The object's size in bytes.
    ///
    /// Adapters may cache it from the first response they see, so it describes the version
    /// this handle first observed; handles are cheap and meant to live for one request.
    async fn len(&self) -> Result<u64>;

    /// Whether the object is empty. Provided so `len` has its usual companion.
    async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// Exactly the bytes of `range`. See the trait docs for the error contract.
    async fn read_range(&self, range: Range<u64>) -> Result<Bytes>;

    /// One buffer per range, in input order.
    ///
    /// The default reads them one after another; adapters that can fetch concurrently and
    /// decorators such as [`Coalescing`](crate::Coalescing) override it.
    async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            out.push(self.read_range(range.clone()).await?);
        }
        Ok(out)
    }

    /// The version of the object this handle knows (its ETag), if any.
    ///
    /// `None` when the backend has no versions, or when a lazily opened handle has not yet
    /// seen any metadata (call [`len`](Self::len) first to learn it).
    fn etag(&self) -> Option<String>;

    /// The first `min(max_len, len)` bytes: a header read that needs no size lookup first.
    ///
    /// Remote adapters override it to ask for `0..max_len` in one request and accept a
    /// shorter answer, so opening a COG costs one round trip rather than two.
    async fn read_prefix(&self, max_len: u64) -> Result<Bytes> {
        let len = self.len().await?;
        self.read_range(0..max_len.min(len)).await
    }

    /// Like [`read_range`](Self::read_range), but only from version `etag` of the object;
    /// any other version (or a backend that cannot tell) is [`StorageError::Precondition`].
    ///
    /// The default reads, then compares [`etag`](Self::etag), which suits handles whose
    /// version is fixed or refreshed per response. Adapters whose backend can make the
    /// request itself conditional (`If-Match`, R2 `onlyIf`) override it.
    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        let bytes = self.read_range(range).await?;
        match self.etag() {
            Some(actual) if actual == etag => Ok(bytes),
            actual => Err(StorageError::changed(etag, actual)),
        }
    }
}

/// Checks `range` against an object of `len` bytes under the [`RangeRead`] contract.
///
/// Public so adapters in other crates (R2, browser `fetch`) report the same errors.
pub fn check_range(range: &Range<u64>, len: u64) -> Result<()> {
    if range.start > range.end {
        return Err(StorageError::InvalidRange {
            range: range.clone(),
        });
    }
    if range.end > len {
        return Err(StorageError::OutOfRange {
            range: range.clone(),
            len,
        });
    }
    Ok(())
}

/// Rejects `start > end` before any I/O.
pub(crate) fn check_order(range: &Range<u64>) -> Result<()> {
    if range.start > range.end {
        return Err(StorageError::InvalidRange {
            range: range.clone(),
        });
    }
    Ok(())
}

/// `range` (relative to a buffer already in memory) as `usize` indices.
///
/// Fails only on 32-bit targets for buffers that could not exist there anyway.
pub(crate) fn to_usize_range(range: &Range<u64>) -> Result<Range<usize>> {
    let conv = |v: u64| {
        usize::try_from(v).map_err(|_| StorageError::InvalidRange {
            range: range.clone(),
        })
    };
    Ok(conv(range.start)?..conv(range.end)?)
}

/// `bytes[range]` for a range already checked against `bytes.len()`, without panicking.
pub(crate) fn slice(bytes: &Bytes, range: &Range<u64>) -> Result<Bytes> {
    let r = to_usize_range(range)?;
    if r.start > r.end || r.end > bytes.len() {
        return Err(StorageError::OutOfRange {
            range: range.clone(),
            len: bytes.len() as u64,
        });
    }
    Ok(bytes.slice(r))
}

/// Forwards every method, so `Arc<dyn RangeRead>` and friends are readers too (decorators
/// can then wrap a trait object chosen at run time).
macro_rules! forward_pointer {
    ($($ptr:ty),*) => {$(
        #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
        #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
        impl<T: RangeRead + ?Sized> RangeRead for $ptr {
            async fn len(&self) -> Result<u64> {
                (**self).len().await
            }
            async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
                (**self).read_range(range).await
            }
            async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
                (**self).read_ranges(ranges).await
            }
            fn etag(&self) -> Option<String> {
                (**self).etag()
            }
            async fn read_prefix(&self, max_len: u64) -> Result<Bytes> {
                (**self).read_prefix(max_len).await
            }
            async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
                (**self).read_range_if_match(range, etag).await
            }
        }
    )*};
}

forward_pointer!(&T, Box<T>, Arc<T>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_range_contract() {
        assert!(check_range(&(0..10), 10).is_ok());
        assert!(check_range(&(10..10), 10).is_ok());
        assert!(matches!(
            check_range(&(5..11), 10),
            Err(StorageError::OutOfRange { len: 10, .. })
        ));
        assert!(matches!(
            check_range(&(11..11), 10),
            Err(StorageError::OutOfRange { .. })
        ));
        let (start, end) = (6, 5);
        assert!(matches!(
            check_range(&(start..end), 10),
            Err(StorageError::InvalidRange { .. })
        ));
    }

    #[test]
    fn slice_never_panics() {
        let b = Bytes::from_static(b"abcdef");
        assert_eq!(slice(&b, &(1..3)).ok(), Some(Bytes::from_static(b"bc")));
        assert!(slice(&b, &(4..9)).is_err());
        let (start, end) = (3, 2);
        assert!(slice(&b, &(start..end)).is_err());
    }
}
