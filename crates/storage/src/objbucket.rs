//! [`ObjectStoreBucket`]: a [`Bucket`] over any `object_store` backend plus a key prefix
//! (native only): local directories, S3/R2 and plain HTTP servers, as `tilefn-serve` and
//! the tile service's tests see a store.
//!
//! Keys that are absolute `http://` or `https://` URLs (registered external COGs) are read
//! from that server with `object_store`'s HTTP store, whatever backend the bucket itself uses.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;

use crate::local::LocalObject;
use crate::url_store::{StoreLocation, object_path, parse_store_url, store_from_url};
use crate::{Bucket, Fetched, ObjectStoreObject, RangeRead, Result, StorageError};

/// A store of named objects under `prefix` in one `object_store` backend.
#[derive(Debug)]
pub struct ObjectStoreBucket {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// HTTP stores for external COG URLs, one per origin: each holds a connection pool, so
    /// building one per request would redo the TLS handshake every time.
    http: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    /// For a local directory store: maps object paths to files, so that range reads go
    /// through [`LocalObject`] on the calling thread (see there) rather than the blocking pool.
    local: Option<LocalFileSystem>,
}

impl ObjectStoreBucket {
    /// A bucket over `store`, with every key relative to `prefix`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path) -> Self {
        Self {
            store,
            prefix,
            http: Mutex::new(HashMap::new()),
            local: None,
        }
    }

    /// A bucket for a storage URL (`file://`, a path, `s3://`, `http(s)://`); see
    /// [`url_store`](crate::url_store). No I/O.
    pub fn from_url(url: &str) -> Result<Self> {
        let local = matches!(parse_store_url(url)?, StoreLocation::File { .. });
        let (store, prefix) = store_from_url(url)?;
        let mut bucket = Self::new(store, prefix);
        if local {
            bucket.local = Some(LocalFileSystem::new());
        }
        Ok(bucket)
    }

    /// The range reader for `path` in the bucket's own store.
    fn own_object(&self, path: Path, etag: Option<&str>) -> Arc<dyn RangeRead> {
        if let Some(local) = &self.local
            && let Ok(file) = local.path_to_filesystem(&path)
        {
            return Arc::new(LocalObject::new(file, etag));
        }
        let object = ObjectStoreObject::new(Arc::clone(&self.store), path);
        match etag {
            Some(etag) => Arc::new(object.pinned(etag)),
            None => Arc::new(object),
        }
    }

    /// The backend and path that hold `key`.
    fn resolve(&self, key: &str) -> Result<(Arc<dyn ObjectStore>, Path)> {
        if !is_http_url(key) {
            return Ok((Arc::clone(&self.store), object_path(&self.prefix, key)));
        }
        let origin = url_origin(key);
        let mut cache = self.http.lock().unwrap_or_else(PoisonError::into_inner);
        // `store_from_url` validates the URL and splits it into origin store + path.
        let (store, path) = store_from_url(key)?;
        let store = Arc::clone(cache.entry(origin.to_owned()).or_insert(store));
        Ok((store, path))
    }
}

fn is_http_url(key: &str) -> bool {
    key.starts_with("http://") || key.starts_with("https://")
}

/// `scheme://host[:port]` of an `http(s)://` URL (used only as a cache key).
fn url_origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

#[async_trait]
impl Bucket for ObjectStoreBucket {
    async fn get(&self, key: &str, max_len: u64) -> Result<Option<Fetched>> {
        let (store, path) = self.resolve(key)?;
        let object = ObjectStoreObject::new(store, path);
        // Ask for one byte more than allowed: a longer answer proves the object too large
        // without transferring it all, and needs no HEAD first.
        let bytes = match object.read_prefix(max_len.saturating_add(1)).await {
            Ok(bytes) => bytes,
            Err(StorageError::NotFound { .. }) => return Ok(None),
            Err(other) => return Err(other),
        };
        if bytes.len() as u64 > max_len {
            return Err(StorageError::TooLarge {
                key: key.to_owned(),
                // Known from the response already: no extra request.
                len: object.len().await?,
                max: max_len,
            });
        }
        Ok(Some(Fetched {
            bytes,
            etag: object.etag(),
        }))
    }

    fn object(&self, key: &str, etag: Option<&str>) -> Arc<dyn RangeRead> {
        if !is_http_url(key) {
            return self.own_object(object_path(&self.prefix, key), etag);
        }
        match self.resolve(key) {
            Ok((store, path)) => {
                let object = ObjectStoreObject::new(store, path);
                match etag {
                    Some(etag) => Arc::new(object.pinned(etag)),
                    None => Arc::new(object),
                }
            }
            Err(err) => Arc::new(Unopenable {
                key: key.to_owned(),
                reason: err.to_string(),
            }),
        }
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = object_path(&self.prefix, prefix);
        let listed = match self.store.list_with_delimiter(Some(&dir)).await {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(other) => {
                return Err(StorageError::Backend {
                    key: dir.to_string(),
                    message: other.to_string(),
                });
            }
        };
        let mut dirs: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect();
        dirs.sort();
        dirs.dedup();
        Ok(dirs)
    }
}

/// The reader for a key that names no reachable object (a malformed external URL): every
/// read fails with the reason, since [`Bucket::object`] itself cannot fail.
#[derive(Debug)]
struct Unopenable {
    key: String,
    reason: String,
}

impl Unopenable {
    fn error(&self) -> StorageError {
        StorageError::InvalidUrl {
            url: self.key.clone(),
            reason: self.reason.clone(),
        }
    }
}

#[async_trait]
impl RangeRead for Unopenable {
    async fn len(&self) -> Result<u64> {
        Err(self.error())
    }
    async fn read_range(&self, _range: Range<u64>) -> Result<Bytes> {
        Err(self.error())
    }
    fn etag(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[tokio::test]
    async fn directory_bucket_conforms() -> TestResult {
        let dir = tempfile::tempdir()?;
        for (key, bytes) in conformance::bucket_fixture() {
            let path = dir.path().join(key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, bytes)?;
        }
        let bucket = ObjectStoreBucket::from_url(&format!("file://{}", dir.path().display()))?;
        conformance::check_bucket(&bucket).await?;
        Ok(())
    }

    #[tokio::test]
    async fn in_memory_store_bucket_conforms() -> TestResult {
        use object_store::{ObjectStoreExt, PutPayload};
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let prefix = Path::from("some/prefix");
        for (key, bytes) in conformance::bucket_fixture() {
            store
                .put(&object_path(&prefix, key), PutPayload::from(bytes))
                .await?;
        }
        conformance::check_bucket(&ObjectStoreBucket::new(store, prefix)).await?;
        Ok(())
    }

    #[tokio::test]
    async fn a_missing_directory_lists_nothing() -> TestResult {
        let dir = tempfile::tempdir()?;
        let bucket = ObjectStoreBucket::from_url(&dir.path().join("absent").display().to_string())?;
        assert!(bucket.list_dirs("layers/").await?.is_empty());
        assert!(bucket.get("layers/a/manifest.json", 10).await?.is_none());
        Ok(())
    }

    #[tokio::test]
    async fn a_malformed_external_url_fails_on_read() {
        let bucket = ObjectStoreBucket::new(
            Arc::new(object_store::memory::InMemory::new()),
            Path::default(),
        );
        let object = bucket.object("http://", None);
        assert!(matches!(
            object.read_range(0..1).await,
            Err(StorageError::InvalidUrl { .. })
        ));
        assert_eq!(
            url_origin("https://h.example:8/a/b.tif"),
            "https://h.example:8"
        );
    }
}
