//! The output store (a local folder, S3 or R2), seen through `object_store` with a blocking
//! facade: ingest's hot loop runs on rayon threads, which hand each write to the tokio
//! runtime and wait for it.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tilefn_catalog::ObjectEntry;
use tokio::runtime::Runtime;

use crate::IngestError;

/// Objects are uploaded in parts of this size, so a COG never has to sit in memory whole.
const PART_SIZE: usize = 8 * 1024 * 1024;

pub struct Store {
    inner: Arc<dyn ObjectStore>,
    prefix: Path,
    rt: Arc<Runtime>,
}

fn store_err(e: impl std::fmt::Display) -> IngestError {
    IngestError::Store(e.to_string())
}

impl Store {
    pub fn open(url: &str, rt: Arc<Runtime>) -> Result<Store, IngestError> {
        let (inner, prefix) = tilefn_storage::url_store::store_from_url(url)
            .map_err(|e| IngestError::Store(format!("cannot open store {url}: {e}")))?;
        Ok(Store { inner, prefix, rt })
    }

    fn path(&self, key: &str) -> Path {
        let mut p = self.prefix.clone();
        for part in key.split('/').filter(|s| !s.is_empty()) {
            p = p.clone().join(part);
        }
        p
    }

    /// The key of `p` relative to the store root.
    fn relative(&self, p: &Path) -> String {
        let full = p.as_ref();
        let pre = self.prefix.as_ref();
        if pre.is_empty() {
            full.to_owned()
        } else {
            full.strip_prefix(pre)
                .map(|s| s.trim_start_matches('/').to_owned())
                .unwrap_or_else(|| full.to_owned())
        }
    }

    /// A range reader for `key` (or for an absolute `http(s)://` URL), plus the runtime to
    /// drive it: what `register` needs to read a COG header without downloading the file.
    pub fn reader(&self, key: &str) -> Result<tilefn_storage::ObjectStoreObject, IngestError> {
        if key.starts_with("http://") || key.starts_with("https://") {
            let (store, path) = tilefn_storage::url_store::store_from_url(key)
                .map_err(|e| IngestError::Usage(format!("{key}: {e}")))?;
            return Ok(tilefn_storage::ObjectStoreObject::new(store, path));
        }
        Ok(tilefn_storage::ObjectStoreObject::new(
            self.inner.clone(),
            self.path(key),
        ))
    }

    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// The runtime, shared: for downloads that outlive one call.
    pub fn runtime_handle(&self) -> Arc<Runtime> {
        self.rt.clone()
    }

    pub fn get(&self, key: &str) -> Result<Option<Bytes>, IngestError> {
        let path = self.path(key);
        self.rt.block_on(async {
            match self.inner.get(&path).await {
                Ok(r) => Ok(Some(r.bytes().await.map_err(store_err)?)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(store_err(e)),
            }
        })
    }

    /// Bytes `range` of `key`.
    pub fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Bytes, IngestError> {
        let path = self.path(key);
        self.rt
            .block_on(self.inner.get_range(&path, range))
            .map_err(|e| IngestError::Store(format!("{key}: {e}")))
    }

    pub fn put(&self, key: &str, bytes: Vec<u8>) -> Result<ObjectEntry, IngestError> {
        let path = self.path(key);
        let size = bytes.len() as u64;
        let r = self
            .rt
            .block_on(async { self.inner.put(&path, PutPayload::from(bytes)).await })
            .map_err(store_err)?;
        Ok(ObjectEntry {
            key: key.to_owned(),
            size,
            etag: r.e_tag.unwrap_or_default(),
            header_len: None,
        })
    }

    /// Uploads what `fill` writes, part by part.
    pub fn put_streamed(
        &self,
        key: &str,
        fill: impl FnOnce(&mut dyn FnMut(&[u8]) -> Result<(), IngestError>) -> Result<(), IngestError>,
    ) -> Result<ObjectEntry, IngestError> {
        let path = self.path(key);
        let rt = self.rt.clone();
        // WriteMultipart spawns part uploads as tasks, so the runtime must be entered while
        // it is driven from this (rayon) thread, or tokio has no reactor to spawn onto.
        let _guard = rt.enter();
        let upload = rt
            .block_on(self.inner.put_multipart(&path))
            .map_err(store_err)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut size = 0u64;
        let result = fill(&mut |chunk: &[u8]| {
            size += chunk.len() as u64;
            writer.write(chunk);
            // Bound the parts in flight so memory stays at a few parts, not the object.
            rt.block_on(writer.wait_for_capacity(2)).map_err(store_err)
        });
        if let Err(e) = result {
            // Best effort: the object was never completed, so nothing refers to it.
            let _ = rt.block_on(writer.abort());
            return Err(e);
        }
        let r = rt.block_on(writer.finish()).map_err(store_err)?;
        Ok(ObjectEntry {
            key: key.to_owned(),
            size,
            etag: r.e_tag.unwrap_or_default(),
            header_len: None,
        })
    }

    /// Size and ETag, or `None` if the object does not exist.
    pub fn head(&self, key: &str) -> Result<Option<(u64, String)>, IngestError> {
        let path = self.path(key);
        self.rt.block_on(async {
            match self.inner.head(&path).await {
                Ok(m) => Ok(Some((m.size, m.e_tag.unwrap_or_default()))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(store_err(e)),
            }
        })
    }

    /// Every key under `prefix` (relative to the store root).
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, IngestError> {
        let path = self.path(prefix);
        let metas: Vec<_> = self
            .rt
            .block_on(async { self.inner.list(Some(&path)).try_collect::<Vec<_>>().await })
            .map_err(store_err)?;
        Ok(metas.iter().map(|m| self.relative(&m.location)).collect())
    }

    /// The immediate child "directories" of `prefix`.
    pub fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, IngestError> {
        let path = self.path(prefix);
        let r = self
            .rt
            .block_on(self.inner.list_with_delimiter(Some(&path)))
            .map_err(store_err)?;
        Ok(r.common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect())
    }

    pub fn delete(&self, key: &str) -> Result<(), IngestError> {
        let path = self.path(key);
        self.rt.block_on(async {
            match self.inner.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(store_err(e)),
            }
        })
    }

    pub fn delete_prefix(&self, prefix: &str) -> Result<usize, IngestError> {
        let keys = self.list(prefix)?;
        for k in &keys {
            self.delete(k)?;
        }
        Ok(keys.len())
    }
}
