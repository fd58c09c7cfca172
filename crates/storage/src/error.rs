//! The one error type of this crate.
//!
//! Variants are semantic so the HTTP layer can map each to a status without parsing strings
//! (404 for `NotFound`, retry-then-503 for `Precondition`, 502 for `Backend`, ...). Backend
//! error types (`object_store::Error`, `std::io::Error` from files, JS errors) never leave this
//! crate's adapters except as the `source` of `Io`.

use std::ops::Range;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The object does not exist (or the caller may not know it exists).
    #[error("object not found: {key}")]
    NotFound {
        /// The object's key or path.
        key: String,
    },

    /// The range runs past the end of the object. Adapters never return a short read instead.
    #[error("range {range:?} is past the end of the object ({len} bytes)")]
    OutOfRange {
        /// The range that was asked for.
        range: Range<u64>,
        /// The object's size.
        len: u64,
    },

    /// The range is malformed: its start lies after its end.
    #[error("invalid range {range:?}: start is after end")]
    InvalidRange {
        /// The range that was asked for.
        range: Range<u64>,
    },

    /// The object is no longer the version the read was pinned to (an ETag mismatch).
    ///
    /// A tile must never mix bytes of two versions, so callers drop what they read and retry
    /// with fresh metadata.
    #[error("object changed: expected version {expected:?}, found {actual:?}")]
    Precondition {
        /// The ETag the read required.
        expected: String,
        /// The ETag the backend reported, if it reported one.
        actual: Option<String>,
    },

    /// The backend answered "not modified" to a conditional request.
    #[error("object not modified: {key}")]
    NotModified {
        /// The object's key or path.
        key: String,
    },

    /// The backend returned fewer bytes than it claimed the range holds.
    #[error("short read for range {range:?}: got {got} bytes")]
    ShortRead {
        /// The range that was asked for.
        range: Range<u64>,
        /// How many bytes arrived.
        got: u64,
    },

    /// A local I/O error (files).
    #[error("i/o error on {key}: {source}")]
    Io {
        /// The object's key or path.
        key: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A remote backend failed (network, auth, throttling, a server error).
    #[error("storage backend error on {key}: {message}")]
    Backend {
        /// The object's key or path.
        key: String,
        /// The backend's own description, for logs; never shown to end users.
        message: String,
    },

    /// A whole-object read was refused because the object is larger than the caller allows.
    #[error("object {key} is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// The object's key or path.
        key: String,
        /// The object's size.
        len: u64,
        /// The caller's limit.
        max: u64,
    },

    /// A storage URL could not be understood or is of an unsupported kind.
    #[error("invalid storage url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl StorageError {
    /// A `Precondition` error for a read that required `expected` but saw `actual`.
    pub(crate) fn changed(expected: &str, actual: Option<String>) -> Self {
        Self::Precondition {
            expected: expected.to_owned(),
            actual,
        }
    }
}
