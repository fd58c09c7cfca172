//! [`LocalObject`]: the lazily opened [`FileObject`] that [`ObjectStoreBucket`] hands out for
//! keys of a local directory store (native only).
//!
//! `object_store`'s `LocalFileSystem` answers every ranged GET on the blocking pool: it opens,
//! stats, reads and closes the file on another thread, and the request waits for two context
//! switches. For the tile server's local store that hand-off cost more than the read (see
//! [`FileObject::reading_inline`]), so its range reads go through this handle instead, while
//! `get` and listing stay with `object_store`. Both see the same files under the same paths
//! and the same ETags, so versions learnt through one pin reads through the other.
//!
//! [`ObjectStoreBucket`]: crate::ObjectStoreBucket

use std::ops::Range;
use std::path::PathBuf;
use std::sync::OnceLock;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{FileObject, RangeRead, Result, StorageError};

/// A local file opened on first use, optionally pinned to one version.
///
/// [`Bucket::object`](crate::Bucket::object) must not do I/O, so the file is opened by the
/// first call that needs it; a missing file is then [`StorageError::NotFound`], as for
/// `object_store`'s handles. Once open, the handle keeps reading the inode it opened, and a
/// pinned handle checks every read against its version.
#[derive(Debug)]
pub(crate) struct LocalObject {
    path: PathBuf,
    pin: Option<String>,
    file: OnceLock<FileObject>,
}

impl LocalObject {
    pub(crate) fn new(path: PathBuf, pin: Option<&str>) -> Self {
        Self {
            path,
            pin: pin.map(str::to_owned),
            file: OnceLock::new(),
        }
    }

    /// The open file, opening it now if no call has yet. Two racing first calls may both
    /// open it; one handle wins and the other is dropped.
    fn file(&self) -> Result<&FileObject> {
        if let Some(file) = self.file.get() {
            return Ok(file);
        }
        let opened = FileObject::open(&self.path)?.reading_inline();
        Ok(self.file.get_or_init(|| opened))
    }
}

#[async_trait]
impl RangeRead for LocalObject {
    async fn len(&self) -> Result<u64> {
        let file = self.file()?;
        if let Some(pin) = &self.pin
            && file.etag().as_deref() != Some(pin)
        {
            return Err(StorageError::changed(pin, file.etag()));
        }
        file.len().await
    }

    async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        let file = self.file()?;
        match &self.pin {
            Some(pin) => file.read_range_if_match(range, pin).await,
            None => file.read_range(range).await,
        }
    }

    /// The pinned version, or the opened file's (`None` before the first read, as for
    /// `object_store`'s lazily opened handles).
    fn etag(&self) -> Option<String> {
        match (&self.pin, self.file.get()) {
            (Some(pin), _) => Some(pin.clone()),
            (None, Some(file)) => file.etag(),
            (None, None) => None,
        }
    }

    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        if let Some(pin) = &self.pin
            && pin != etag
        {
            return Err(StorageError::changed(etag, Some(pin.clone())));
        }
        self.file()?.read_range_if_match(range, etag).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[tokio::test]
    async fn local_objects_conform_and_open_lazily() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("pattern.bin");
        let object = LocalObject::new(path.clone(), None);
        assert!(object.etag().is_none());
        // Not there yet: nothing was opened when the handle was made.
        std::fs::write(&path, conformance::pattern())?;
        conformance::run(&object).await?;
        Ok(())
    }

    #[tokio::test]
    async fn pinned_local_objects_reject_other_versions() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("pattern.bin");
        std::fs::write(&path, conformance::pattern())?;
        let current = FileObject::open(&path)?.etag().ok_or("no etag")?;
        let pinned = LocalObject::new(path.clone(), Some(&current));
        assert_eq!(
            pinned.read_range(5..9).await?,
            conformance::pattern_slice(&(5..9))
        );
        let stale = LocalObject::new(path.clone(), Some("not-the-etag"));
        assert!(matches!(
            stale.read_range(5..9).await,
            Err(StorageError::Precondition { .. })
        ));
        assert!(matches!(
            stale.len().await,
            Err(StorageError::Precondition { .. })
        ));
        // A write in place (same inode) after the pin was taken is caught too.
        conformance::check_change_detected(&pinned, async || {
            let _ = std::fs::write(&path, b"a much shorter file");
        })
        .await?;
        Ok(())
    }
}
