//! Remote sources (http(s):// and s3:// URLs) are streamed to a temporary file first.
//!
//! The TIFF decoder wants `Read + Seek`, and a source is read many times over in scattered
//! windows during a warp; one sequential download is cheaper and more robust than thousands
//! of small range requests, and it works with servers that ignore `Range`. The download is
//! streamed, so memory stays flat whatever the file's size.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use object_store::ObjectStoreExt;

use crate::IngestError;
use crate::source::SourceError;

pub struct LocalSource {
    path: PathBuf,
    // Held so the download is deleted when the ingest ends.
    _dir: Option<tempfile::TempDir>,
}

impl LocalSource {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn is_remote(s: &str) -> bool {
    ["http://", "https://", "s3://"]
        .iter()
        .any(|p| s.starts_with(p))
}

pub fn localize(
    source: &str,
    rt: Arc<tokio::runtime::Runtime>,
) -> Result<LocalSource, IngestError> {
    if !is_remote(source) {
        let path = PathBuf::from(source.strip_prefix("file://").unwrap_or(source));
        if !path.exists() {
            return Err(SourceError::NotFound(path.display().to_string()).into());
        }
        return Ok(LocalSource { path, _dir: None });
    }
    let (store, key) = tilefn_storage::url_store::store_from_url(source)
        .map_err(|e| IngestError::Usage(format!("cannot read {source}: {e}")))?;
    let name = key.filename().unwrap_or("source.tif").to_owned();
    let dir =
        tempfile::tempdir().map_err(|e| IngestError::Io(format!("temporary directory: {e}")))?;
    let path = dir.path().join(&name);
    let mut file = std::fs::File::create(&path)
        .map_err(|e| IngestError::Io(format!("{}: {e}", path.display())))?;
    rt.block_on(async {
        let got = store.get(&key).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => {
                IngestError::Source(SourceError::NotFound(source.to_owned()))
            }
            e => IngestError::Store(format!("cannot read {source}: {e}")),
        })?;
        let mut stream = got.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|e| IngestError::Store(format!("download of {source} failed: {e}")))?;
            file.write_all(&chunk)
                .map_err(|e| IngestError::Io(format!("{}: {e}", path.display())))?;
        }
        Ok::<(), IngestError>(())
    })?;
    Ok(LocalSource {
        path,
        _dir: Some(dir),
    })
}
