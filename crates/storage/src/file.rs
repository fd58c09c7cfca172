//! [`FileObject`]: a local file read with positional reads (native only).
//!
//! Positional reads (`pread`) need no shared cursor, so one open handle serves concurrent
//! reads without a lock. The handle is opened once: if the file is replaced by a rename the
//! reader keeps seeing the old inode, which is exactly one consistent version. In-place writes
//! are caught by conditional reads, which re-check the version after reading.

use std::fs::{File, Metadata};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use bytes::Bytes;

use crate::read::{check_range, to_usize_range};
use crate::{RangeRead, Result, StorageError};

/// A local file, sized and versioned when opened.
#[derive(Debug, Clone)]
pub struct FileObject {
    file: Arc<File>,
    path: PathBuf,
    len: u64,
    etag: String,
    inline: bool,
}

impl FileObject {
    /// Opens `path`. A missing file is [`StorageError::NotFound`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| io_error(&path, e))?;
        let meta = file.metadata().map_err(|e| io_error(&path, e))?;
        if meta.is_dir() {
            return Err(StorageError::NotFound {
                key: path.display().to_string(),
            });
        }
        Ok(Self {
            len: meta.len(),
            etag: version(&meta),
            file: Arc::new(file),
            path,
            inline: false,
        })
    }

    /// Reads on the calling thread even inside a tokio runtime, instead of handing each read
    /// to the blocking pool.
    ///
    /// For a store that is served from the page cache (the tile server's local store): a
    /// tile's read is a ~100 KB copy, while the hand-off to a blocking thread and back costs
    /// two context switches, which took ~5% of an NDVI tile's CPU in `tilefn-serve` (perf,
    /// `finish_task_switch`) plus the blocking thread's own wake-ups. Martin serves local
    /// PMTiles from its async workers (memory-mapped) for the same reason. The cost is that a
    /// read that misses the page cache holds up one async worker for the disk's latency.
    #[must_use]
    pub fn reading_inline(mut self) -> Self {
        self.inline = true;
        self
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fails unless the open file is still version `etag` (its metadata, read from the handle).
    fn ensure_version(&self, etag: &str) -> Result<()> {
        let meta = self.file.metadata().map_err(|e| io_error(&self.path, e))?;
        let now = version(&meta);
        if now == etag {
            Ok(())
        } else {
            Err(StorageError::changed(etag, Some(now)))
        }
    }

    async fn read_exact(&self, range: Range<u64>) -> Result<Bytes> {
        check_range(&range, self.len)?;
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let len = to_usize_range(&(0..range.end - range.start))?.end;
        let file = Arc::clone(&self.file);
        let offset = range.start;
        let read = move || -> io::Result<Bytes> {
            let mut buf = vec![0u8; len];
            read_exact_at(&file, &mut buf, offset)?;
            Ok(Bytes::from(buf))
        };
        // Disk reads block; keep them off the async workers when there is a runtime, and
        // simply block when there is none (a CLI calling from a plain executor).
        let result = match tokio::runtime::Handle::try_current() {
            Ok(_) if self.inline => read(),
            Ok(handle) => handle
                .spawn_blocking(read)
                .await
                .unwrap_or_else(|join| Err(io::Error::other(join.to_string()))),
            Err(_) => read(),
        };
        result.map_err(|e| io_error(&self.path, e))
    }
}

#[async_trait]
impl RangeRead for FileObject {
    /// The size when the file was opened.
    async fn len(&self) -> Result<u64> {
        Ok(self.len)
    }

    async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        self.read_exact(range).await
    }

    fn etag(&self) -> Option<String> {
        Some(self.etag.clone())
    }

    /// Checks the version before reading (cheap rejection) and after (catches a write that
    /// raced the read).
    async fn read_range_if_match(&self, range: Range<u64>, etag: &str) -> Result<Bytes> {
        self.ensure_version(etag)?;
        let bytes = self.read_exact(range).await?;
        self.ensure_version(etag)?;
        Ok(bytes)
    }
}

/// Inode, modification time in microseconds and size, quoted, exactly as `object_store`'s
/// `LocalFileSystem` builds its ETags: a version learnt through one (a manifest fetched with
/// `ObjectStoreBucket::get`) pins reads through the other (checked by
/// `etags_match_object_store`).
pub(crate) fn version(meta: &Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_micros());
    format!("\"{:x}-{mtime:x}-{:x}\"", inode(meta), meta.len())
}

#[cfg(unix)]
fn inode(meta: &Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &Metadata) -> u64 {
    // NOTE: stable Rust exposes no file index on Windows; mtime and size must do.
    0
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn io_error(path: &Path, source: io::Error) -> StorageError {
    let key = path.display().to_string();
    if source.kind() == io::ErrorKind::NotFound {
        StorageError::NotFound { key }
    } else {
        StorageError::Io { key, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[tokio::test]
    async fn file_object_conforms() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("pattern.bin");
        std::fs::write(&path, conformance::pattern())?;
        conformance::run(&FileObject::open(&path)?).await?;
        Ok(())
    }

    #[tokio::test]
    async fn in_place_writes_are_detected() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("pattern.bin");
        std::fs::write(&path, conformance::pattern())?;
        let obj = FileObject::open(&path)?;
        // Truncate-and-write keeps the inode, so only the version check can notice.
        conformance::check_change_detected(&obj, async || {
            let _ = std::fs::write(&path, b"a much shorter file");
        })
        .await?;
        Ok(())
    }

    #[tokio::test]
    async fn etags_match_object_store() -> TestResult {
        use object_store::{ObjectStoreExt, local::LocalFileSystem, path::Path};
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("pattern.bin");
        std::fs::write(&path, conformance::pattern())?;
        let store = LocalFileSystem::new_with_prefix(dir.path())?;
        let theirs = store.head(&Path::from("pattern.bin")).await?.e_tag;
        assert_eq!(FileObject::open(&path)?.etag(), theirs);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inline_reads_conform() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("pattern.bin");
        std::fs::write(&path, conformance::pattern())?;
        conformance::run(&FileObject::open(&path)?.reading_inline()).await?;
        Ok(())
    }

    #[test]
    fn missing_files_and_directories_are_not_found() -> TestResult {
        let dir = tempfile::tempdir()?;
        assert!(matches!(
            FileObject::open(dir.path().join("nope.tif")),
            Err(StorageError::NotFound { .. })
        ));
        assert!(matches!(
            FileObject::open(dir.path()),
            Err(StorageError::NotFound { .. })
        ));
        Ok(())
    }

    #[test]
    fn reads_work_without_a_runtime() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("x.bin");
        std::fs::write(&path, b"hello world")?;
        let obj = FileObject::open(&path)?;
        let got = futures_util::FutureExt::now_or_never(obj.read_range(6..11));
        assert_eq!(got.transpose()?, Some(Bytes::from_static(b"world")));
        Ok(())
    }
}
