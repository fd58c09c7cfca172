//! [`ObjectStoreObject`]: one object of any `object_store` backend (native only).
//!
//! This is how native code (the dev server, ingest's verification, tests) reads local
//! directories, S3, R2's S3 API and plain HTTP servers through the same trait the Worker uses.
//! It turns `object_store`'s lenient ranges (a range past the end comes back short) into this
//! crate's exact ones, and its errors into [`StorageError`] so `object_store::Error` never
//! leaves the crate.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::read::{check_order, check_range};
use crate::{MAX_CONCURRENT_READS, RangeRead, Result, StorageError};

/// One object in an [`ObjectStore`], addressed by path.
///
/// A handle is a snapshot of one version. Its size and ETag come from its first response (a
/// `HEAD` from [`open`](Self::open) or [`len`](RangeRead::len), or any ranged `GET`); later
/// reads send `If-Match` with that ETag and also compare the ETag that comes back, so a
/// change mid-request is [`StorageError::Precondition`], never mixed bytes, even without
/// [`EtagPinned`](crate::EtagPinned). Handles are cheap: make one per request.
/// [`pinned`](Self::pinned) fixes the version before the first request.
#[derive(Debug, Clone)]
pub struct ObjectStoreObject {
    store: Arc<dyn ObjectStore>,
    path: Path,
    pin: Option<String>,
    meta: OnceLock<Meta>,
}

#[derive(Debug, Clone)]
struct Meta {
    size: u64,
    etag: Option<String>,
}

impl From<&ObjectMeta> for Meta {
    fn from(meta: &ObjectMeta) -> Self {
        Self {
            size: meta.size,
            etag: meta.e_tag.clone(),
        }
    }
}

impl ObjectStoreObject {
    /// A handle for `path` in `store`. No I/O until the first call.
    pub fn new(store: Arc<dyn ObjectStore>, path: Path) -> Self {
        Self {
            store,
            path,
            pin: None,
            meta: OnceLock::new(),
        }
    }

    /// A handle whose size and ETag are fetched now, so a missing object fails here.
    pub async fn open(store: Arc<dyn ObjectStore>, path: Path) -> Result<Self> {
        let object = Self::new(store, path);
        object.len().await?;
        Ok(object)
    }

    /// Makes every read conditional on `etag` (`If-Match`) from the first request on, for
    /// callers that already know the version (e.g. from a metadata cache keyed by ETag).
    #[must_use]
    pub fn pinned(mut self, etag: impl Into<String>) -> Self {
        self.pin = Some(etag.into());
        self
    }

    /// The object's path in its store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn key(&self) -> String {
        self.path.to_string()
    }

    fn remember(&self, meta: &ObjectMeta) {
        // First observation wins: later responses must not move the size under a reader.
        let _ = self.meta.set(Meta::from(meta));
    }

    /// The version a read must come from: the caller's, else the pinned one, else the
    /// snapshot's (none before the first response).
    fn version(&self, explicit: Option<&str>) -> Option<String> {
        explicit
            .map(str::to_owned)
            .or_else(|| self.pin.clone())
            .or_else(|| self.meta.get().and_then(|m| m.etag.clone()))
    }

    async fn head(&self) -> Result<Meta> {
        let meta = self
            .store
            .head(&self.path)
            .await
            .map_err(|e| self.map_err(e, None))?;
        self.remember(&meta);
        Ok(Meta::from(&meta))
    }

    /// A `GET` for exactly `range`, from version `explicit` or else the handle's version.
    async fn get(&self, range: Range<u64>, explicit: Option<&str>) -> Result<Bytes> {
        check_order(&range)?;
        let version = self.version(explicit);
        let if_match = version.as_deref();
        if let Some(meta) = self.meta.get()
            && meta.etag.as_deref() == if_match
        {
            // The snapshot's size belongs to the version we require, so it is exact: reject
            // out-of-range reads without a request.
            check_range(&range, meta.size)?;
        }
        if range.is_empty() {
            // `object_store` rejects empty ranges; an empty read only needs the bounds check.
            check_range(&range, self.len().await?)?;
            return Ok(Bytes::new());
        }
        let result = match self
            .request(GetRange::Bounded(range.clone()), if_match)
            .await
        {
            Ok(result) => result,
            Err(err) => return Err(self.classify_failed_get(err, &range, if_match).await),
        };
        self.body(result, &range, if_match).await
    }

    async fn request(
        &self,
        range: GetRange,
        if_match: Option<&str>,
    ) -> Result<GetResult, object_store::Error> {
        let options = GetOptions {
            range: Some(range),
            if_match: if_match.map(str::to_owned),
            ..GetOptions::default()
        };
        self.store.get_opts(&self.path, options).await
    }

    /// Checks the response is the version and range asked for, then reads the body.
    async fn body(
        &self,
        result: GetResult,
        range: &Range<u64>,
        if_match: Option<&str>,
    ) -> Result<Bytes> {
        self.remember(&result.meta);
        let etag = result.meta.e_tag.clone();
        // Not every server honours If-Match (plain HTTP servers may ignore it), and the first
        // requests of a handle go out before any version is known (several may race): compare
        // the ETag that came back with the required one, or else with the snapshot's.
        let expected = if_match
            .map(str::to_owned)
            .or_else(|| self.meta.get().and_then(|m| m.etag.clone()));
        if let Some(expected) = expected
            && etag.as_deref() != Some(expected.as_str())
        {
            return Err(StorageError::changed(&expected, etag));
        }
        if result.range != *range {
            // `object_store` shortens a range that runs past the end instead of failing.
            return Err(StorageError::OutOfRange {
                range: range.clone(),
                len: result.meta.size,
            });
        }
        let bytes = result
            .bytes()
            .await
            .map_err(|e| self.map_err(e, if_match))?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(StorageError::ShortRead {
                range: range.clone(),
                got: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }

    /// Backends report a range that starts past the end as a generic error; ask for the size
    /// to tell `OutOfRange` from a real failure.
    async fn classify_failed_get(
        &self,
        err: object_store::Error,
        range: &Range<u64>,
        if_match: Option<&str>,
    ) -> StorageError {
        match err {
            object_store::Error::NotFound { .. }
            | object_store::Error::Precondition { .. }
            | object_store::Error::NotModified { .. } => self.map_err(err, if_match),
            other => match self.head().await {
                Ok(meta) if range.end > meta.size => StorageError::OutOfRange {
                    range: range.clone(),
                    len: meta.size,
                },
                _ => self.map_err(other, if_match),
            },
        }
    }

    fn map_err(&self, err: object_store::Error, if_match: Option<&str>) -> StorageError {
        match err {
            object_store::Error::NotFound { .. } => StorageError::NotFound { key: self.key() },
            object_store::Error::Precondition { .. } => StorageError::Precondition {
                expected: if_match.unwrap_or_default().to_owned(),
                actual: None,
            },
            object_store::Error::NotModified { .. } => {
                StorageError::NotModified { key: self.key() }
            }
            other => StorageError::Backend {
                key: self.key(),
                message: other.to_string(),
            },
        }
    }
}

#[async_trait]
impl RangeRead for ObjectStoreObject {
    async fn len(&self) -> Result<u64> {
        match self.meta.get() {
            Some(meta) => Ok(meta.size),
            None => Ok(self.head().await?.size),
        }
    }

    async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        self.get(range, None).await
    }

    /// Fetches concurrently (bounded), keeping input order.
    async fn read_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        stream::iter(ranges.iter().cloned())
            .map(|range| self.get(range, None))
            .buffered(MAX_CONCURRENT_READS)
            .try_collect()
            .await
    }

    fn etag(&self) -> Option<String> {
        self.version(None)
    }

    /// One `GET 0..max_len`, which every backend shortens to the object's size: a header read
    /// with no `HEAD` first.
    async fn read_prefix(&self, max_len: u64) -> Result<Bytes> {
        if max_len == 0 {
            return Ok(Bytes::new());
        }
        let version = self.version(None);
        let if_match = version.as_deref();
        match self.request(GetRange::Bounded(0..max_len), if_match).await {
            Ok(result) if result.range.start == 0 => {
                let range = result.range.clone();
                self.body(result, &range, if_match).await
            }
            Err(
                err @ (object_store::Error::NotFound { .. }
                | object_store::Error::Precondition { .. }
                | object_store::Error::NotModified { .. }),
            ) => Err(self.map_err(err, if_match)),
            // An empty object cannot serve any range; fall back to asking its size.
            _ => {
                let len = self.len().await?;
                self.get(0..max_len.min(len), None).await
            }
        }
    }

    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        if let Some(pin) = &self.pin
            && pin != etag
        {
            return Err(StorageError::changed(etag, Some(pin.clone())));
        }
        self.get(range, Some(etag)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Coalescing, Counting, EtagPinned, Readahead, conformance};
    use object_store::PutPayload;
    use object_store::local::LocalFileSystem;
    use object_store::memory::InMemory;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    async fn in_memory(
        bytes: Bytes,
    ) -> std::result::Result<(Arc<dyn ObjectStore>, Path), object_store::Error> {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = Path::from("layers/a/cog/1/2/3.tif");
        store.put(&path, PutPayload::from(bytes)).await?;
        Ok((store, path))
    }

    #[tokio::test]
    async fn in_memory_store_conforms() -> TestResult {
        let (store, path) = in_memory(conformance::pattern()).await?;
        conformance::run(&ObjectStoreObject::new(Arc::clone(&store), path.clone())).await?;
        let opened = ObjectStoreObject::open(Arc::clone(&store), path.clone()).await?;
        conformance::run(&opened).await?;
        let etag = opened.etag().ok_or("InMemory has etags")?;
        conformance::run(&ObjectStoreObject::new(store, path).pinned(etag)).await?;
        Ok(())
    }

    #[tokio::test]
    async fn local_file_system_conforms_and_detects_change() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(dir.path())?);
        let path = Path::from("cog/0/0/0.tif");
        store
            .put(&path, PutPayload::from(conformance::pattern()))
            .await?;
        let object = ObjectStoreObject::new(Arc::clone(&store), path.clone());
        conformance::run(&object).await?;
        conformance::check_change_detected(&object, async || {
            let _ = store.put(&path, PutPayload::from_static(b"replaced")).await;
        })
        .await?;
        Ok(())
    }

    #[tokio::test]
    async fn the_full_decorator_stack_conforms() -> TestResult {
        let (store, path) = in_memory(conformance::pattern()).await?;
        let object = ObjectStoreObject::new(store, path);
        let reader = Coalescing::new(Readahead::new(
            EtagPinned::open(Counting::new(object)).await?,
        ));
        conformance::run(&reader).await?;
        let boxed: Arc<dyn RangeRead> = Arc::new(reader);
        conformance::run(&boxed).await?;
        Ok(())
    }

    #[tokio::test]
    async fn in_memory_store_detects_change() -> TestResult {
        let (store, path) = in_memory(conformance::pattern()).await?;
        let object = ObjectStoreObject::new(Arc::clone(&store), path.clone());
        conformance::check_change_detected(&object, async || {
            let _ = store.put(&path, PutPayload::from_static(b"v2")).await;
        })
        .await?;
        Ok(())
    }

    #[tokio::test]
    async fn a_handle_is_a_snapshot_of_its_first_version() -> TestResult {
        let (store, path) = in_memory(conformance::pattern()).await?;
        let old = ObjectStoreObject::new(Arc::clone(&store), path.clone());
        old.read_range(0..10).await?;
        store
            .put(&path, PutPayload::from_static(b"v2 bytes"))
            .await?;
        let changed = |r: Result<Bytes>| matches!(r, Err(StorageError::Precondition { .. }));
        assert!(changed(old.read_range(0..4).await));
        assert!(changed(old.read_prefix(4).await));
        assert_eq!(old.len().await?, conformance::PATTERN_LEN);
        // A fresh handle sees the new version.
        let new = ObjectStoreObject::new(store, path);
        assert_eq!(new.read_prefix(64).await?, Bytes::from_static(b"v2 bytes"));
        Ok(())
    }

    #[tokio::test]
    async fn header_read_costs_one_request() -> TestResult {
        let (store, path) = in_memory(conformance::pattern()).await?;
        let reader = Readahead::new(Counting::new(ObjectStoreObject::new(store, path)));
        reader.read_range(0..8).await?;
        reader.read_range(16..4_000).await?;
        assert_eq!(reader.inner().stats().calls, 1);
        assert_eq!(reader.inner().stats().len_calls, 0);
        // The size came with the ranged GET: no HEAD needed.
        assert_eq!(reader.len().await?, conformance::PATTERN_LEN);
        Ok(())
    }

    #[tokio::test]
    async fn missing_and_empty_objects() -> TestResult {
        let (store, _) = in_memory(Bytes::new()).await?;
        let missing = ObjectStoreObject::new(Arc::clone(&store), Path::from("nope.tif"));
        assert!(matches!(
            missing.read_range(0..1).await,
            Err(StorageError::NotFound { .. })
        ));
        assert!(matches!(
            missing.read_prefix(10).await,
            Err(StorageError::NotFound { .. })
        ));
        assert!(matches!(
            ObjectStoreObject::open(Arc::clone(&store), Path::from("nope.tif")).await,
            Err(StorageError::NotFound { .. })
        ));
        let empty = ObjectStoreObject::new(store, Path::from("layers/a/cog/1/2/3.tif"));
        assert!(empty.read_prefix(64).await?.is_empty());
        assert!(empty.is_empty().await?);
        assert!(matches!(
            empty.read_range(0..1).await,
            Err(StorageError::OutOfRange { len: 0, .. })
        ));
        Ok(())
    }
}
