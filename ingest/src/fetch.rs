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

/// Reads a whole object at `url` (http(s)://, s3://): small things only, such as a plan.
pub fn get_url(url: &str, rt: &tokio::runtime::Runtime) -> Result<Vec<u8>, IngestError> {
    let (store, key) = tilefn_storage::url_store::store_from_url(url)
        .map_err(|e| IngestError::Usage(format!("cannot read {url}: {e}")))?;
    rt.block_on(async {
        let got = store.get(&key).await.map_err(|e| not_found_or(url, e))?;
        got.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| IngestError::Store(format!("cannot read {url}: {e}")))
    })
}

fn not_found_or(url: &str, e: object_store::Error) -> IngestError {
    match e {
        object_store::Error::NotFound { .. } => {
            IngestError::Source(SourceError::NotFound(url.to_owned()))
        }
        e => IngestError::Store(format!("cannot read {url}: {e}")),
    }
}

/// The first request for a remote header; doubled while the header needs more.
const FIRST_HEADER_BYTES: u64 = 64 << 10;
/// Past this a header is not worth chasing in pieces: the file is downloaded whole.
const MAX_HEADER_BYTES: u64 = 16 << 20;

/// Like `localize`, for reading only the header: a remote file whose TIFF directories sit at
/// its start (COGs, and most GeoTIFFs written tiled) becomes a sparse local file of the same
/// size holding just those bytes, so planning a bucket of large scenes reads kilobytes per
/// scene. A file whose directories lie elsewhere (strip-by-strip writers put them last) is
/// downloaded whole, as `localize` does.
pub fn localize_header(
    source: &str,
    rt: Arc<tokio::runtime::Runtime>,
) -> Result<LocalSource, IngestError> {
    if !is_remote(source) {
        return localize(source, rt);
    }
    let (store, key) = tilefn_storage::url_store::store_from_url(source)
        .map_err(|e| IngestError::Usage(format!("cannot read {source}: {e}")))?;
    let header = rt.block_on(async {
        let size = store
            .head(&key)
            .await
            .map_err(|e| not_found_or(source, e))?
            .size;
        let limits = tilefn_cog::read::Limits::default();
        let mut want = FIRST_HEADER_BYTES.min(size);
        loop {
            let bytes = store
                .get_range(&key, 0..want)
                .await
                .map_err(|e| not_found_or(source, e))?;
            match tilefn_cog::read::parse_header(&bytes, &limits) {
                Ok(tilefn_cog::read::HeaderParse::Complete(_)) => {
                    return Ok::<_, IngestError>(Some((bytes, size)));
                }
                Ok(tilefn_cog::read::HeaderParse::NeedMore { min_len })
                    if min_len <= MAX_HEADER_BYTES && min_len <= size && want < size =>
                {
                    want = min_len.max(want * 2).min(size);
                }
                // Directories at the end, or a header our parser refuses: the whole file
                // goes to the reader, which gives the precise error if there is one.
                _ => return Ok(None),
            }
        }
    })?;
    let Some((bytes, size)) = header else {
        return localize(source, rt);
    };
    let name = key.filename().unwrap_or("source.tif").to_owned();
    let dir =
        tempfile::tempdir().map_err(|e| IngestError::Io(format!("temporary directory: {e}")))?;
    let path = dir.path().join(&name);
    let io = |e: std::io::Error| IngestError::Io(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::create(&path).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    file.set_len(size).map_err(io)?;
    Ok(LocalSource {
        path,
        _dir: Some(dir),
    })
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
        let got = store.get(&key).await.map_err(|e| not_found_or(source, e))?;
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
