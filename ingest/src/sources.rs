//! Turning what the user typed (`a.tif 'scenes/*.tif' dir/ s3://bucket/raw/`, `--sources
//! list.txt`) into the ordered list of sources of one layer.
//!
//! Order matters (`--merge first|last`), so every expansion is sorted by name and the
//! arguments keep the order they were given in. Local paths become absolute, because units
//! may run from another working directory (a Spark executor, a Kubernetes pod with the same
//! volume mounted).

use std::path::{Path, PathBuf};

use futures::TryStreamExt;

use crate::IngestError;
use crate::store::Store;

/// File names that count as GeoTIFFs when a directory or a bucket prefix is expanded.
fn is_tiff_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".tif", ".tiff", ".gtiff"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

fn is_remote(s: &str) -> bool {
    ["http://", "https://", "s3://"]
        .iter()
        .any(|p| s.starts_with(p))
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The sources named by `args` and by the lines of `list` (blank lines and `#` comments
/// skipped), in order, each expanded; exact repeats are dropped after their first place.
pub fn expand(
    args: &[String],
    list: Option<&Path>,
    store: &Store,
) -> Result<Vec<String>, IngestError> {
    let mut words: Vec<String> = args.to_vec();
    if let Some(list) = list {
        let text = std::fs::read_to_string(list)
            .map_err(|e| IngestError::Usage(format!("--sources {}: {e}", list.display())))?;
        words.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if words.is_empty() {
        return Err(IngestError::Usage(
            "no sources: name files, globs, directories or URLs, or --sources LIST".into(),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for w in &words {
        for s in expand_one(w, store)? {
            if seen.insert(s.clone()) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

fn expand_one(word: &str, store: &Store) -> Result<Vec<String>, IngestError> {
    if word.starts_with("s3://") && word.ends_with('/') {
        return list_bucket_prefix(word, store);
    }
    if is_remote(word) {
        return Ok(vec![word.to_owned()]);
    }
    let local = word.strip_prefix("file://").unwrap_or(word);
    if has_glob(local) {
        let paths = glob::glob(local)
            .map_err(|e| IngestError::Usage(format!("{word}: bad pattern: {e}")))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect::<Vec<_>>();
        if paths.is_empty() {
            return Err(IngestError::Usage(format!("{word} matches no file")));
        }
        return paths.iter().map(|p| absolute(p)).collect();
    }
    let path = Path::new(local);
    if path.is_dir() {
        let mut found = Vec::new();
        walk(path, &mut found)?;
        if found.is_empty() {
            return Err(IngestError::Usage(format!(
                "{word}: no .tif or .tiff file in this directory"
            )));
        }
        found.sort();
        return found.iter().map(|p| absolute(p)).collect();
    }
    Ok(vec![absolute(path)?])
}

/// Every GeoTIFF below `dir`, depth first.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), IngestError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| IngestError::Usage(format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry
            .map_err(|e| IngestError::Usage(format!("{}: {e}", dir.display())))?
            .path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path
            .file_name()
            .is_some_and(|n| is_tiff_name(&n.to_string_lossy()))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> Result<String, IngestError> {
    std::path::absolute(p)
        .map(|a| a.to_string_lossy().into_owned())
        .map_err(|e| IngestError::Usage(format!("{}: {e}", p.display())))
}

/// The GeoTIFFs under an `s3://bucket/prefix/` (credentials as for the output store).
fn list_bucket_prefix(url: &str, store: &Store) -> Result<Vec<String>, IngestError> {
    let (bucket, prefix) = tilefn_storage::url_store::store_from_url(url)
        .map_err(|e| IngestError::Usage(format!("cannot list {url}: {e}")))?;
    let metas: Vec<_> = store
        .runtime()
        .block_on(async { bucket.list(Some(&prefix)).try_collect::<Vec<_>>().await })
        .map_err(|e| IngestError::Store(format!("cannot list {url}: {e}")))?;
    let root = url.trim_end_matches('/');
    let base = prefix.as_ref();
    let mut keys: Vec<String> = metas
        .iter()
        .map(|m| m.location.as_ref().to_owned())
        .filter(|k| is_tiff_name(k))
        .collect();
    keys.sort();
    if keys.is_empty() {
        return Err(IngestError::Usage(format!(
            "{url}: no .tif or .tiff object under this prefix"
        )));
    }
    Ok(keys
        .iter()
        .map(|k| {
            let rest = k.strip_prefix(base).unwrap_or(k).trim_start_matches('/');
            format!("{root}/{rest}")
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tiff_names() {
        assert!(is_tiff_name("a/B.TIF"));
        assert!(is_tiff_name("x.tiff"));
        assert!(!is_tiff_name("x.tif.aux.xml"));
        assert!(has_glob("scenes/*.tif") && !has_glob("plain.tif"));
    }
}
