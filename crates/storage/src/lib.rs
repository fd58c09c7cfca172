#![doc = include_str!("../README.md")]
//!
//! # Design
//!
//! **Why one object, not a store?** A tile request touches exactly one COG, so the trait models
//! a handle to one object: its size, its version, and byte ranges of it. Listing, writing and
//! deleting belong to ingest, which uses `object_store` directly; keeping them out means the
//! Worker's R2 adapter and the browser's `fetch` adapter stay a few dozen lines each.
//!
//! **Why exact ranges?** HTTP and `object_store` silently shorten a range that runs past the
//! end. A TIFF parser fed a short buffer fails later with a confusing message, or worse decodes
//! garbage, so every adapter here returns exactly `range.end - range.start` bytes or
//! [`StorageError::OutOfRange`].
//!
//! **Why `u64` offsets?** Objects may exceed 4 GiB and `usize` is 32 bits on wasm32. Offsets
//! become `usize` only when slicing bytes already in memory, through `try_from`.
//!
//! **Why `?Send` on wasm32?** JavaScript futures (R2, `fetch`) are `!Send`; natively the trait
//! is `Send + Sync` so readers can be shared across a multi-threaded runtime.
//!
//! **Why decorators?** A COG header parser makes many tiny reads and a tile plan makes several
//! nearby ones. Rather than teaching every adapter to cache and merge, [`Readahead`] and
//! [`Coalescing`] do it once for all of them, [`EtagPinned`] turns "the object changed
//! mid-request" into an error instead of mixed pixels, and [`Counting`] lets tests assert a
//! request budget.

#![warn(missing_docs)]

mod bucket;
mod coalesce;
mod counting;
mod error;
pub mod http_headers;
mod http_object;
mod memory;
mod pinned;
mod read;
mod readahead;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
mod file;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
mod local;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
mod objbucket;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
mod objstore;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
pub mod url_store;

#[cfg(all(test, feature = "native", not(target_arch = "wasm32")))]
mod http_tests;

pub use bucket::{Bucket, Fetched, child_dirs};
pub use coalesce::{Coalescing, DEFAULT_COALESCE_GAP, coalesce_ranges};
pub use counting::{Counting, ReadStats};
pub use error::StorageError;
pub use http_object::{HttpAnswer, HttpObject, RangedGet, slice_answer};
pub use memory::{MemoryObject, MemoryStore};
pub use pinned::EtagPinned;
pub use read::{MaybeSendSync, RangeRead, check_range};
pub use readahead::{DEFAULT_READAHEAD, Readahead};

#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
pub use file::FileObject;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
pub use objbucket::ObjectStoreBucket;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
pub use objstore::ObjectStoreObject;

/// `Result` with [`StorageError`] as the default error.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// How many reads a decorator or adapter keeps in flight at once when it fans a batch out.
///
/// Enough to hide round-trip latency for a tile's handful of ranges, few enough that a batch
/// cannot exhaust a Worker's six simultaneous outgoing connections many times over.
pub(crate) const MAX_CONCURRENT_READS: usize = 8;
