//! Named legends shared by layers: `tilefn-ingest legend put|get|list|remove`.
//!
//! A tile request names one with `?legend=NAME`; the tile service reads
//! `legends/NAME.json` (see `tilefn_catalog::legend_key`). A layer's own default legend
//! (`add --legend FILE`) goes through the same checks and lives in its manifest.

use std::path::Path;

use tilefn_catalog::{legend_key, validate_layer_id};

use crate::IngestError;
use crate::store::Store;

/// Legends are small documents; anything bigger is a mistake, not a legend. The tile service
/// refuses larger ones too, so a legend that is put can always be served.
pub const MAX_LEGEND_BYTES: u64 = 256 * 1024;

/// Reads and checks a legend file: JSON, an array of entries or an object, within the size
/// limit.
pub fn load_legend(path: &Path) -> Result<serde_json::Value, IngestError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| IngestError::Legend(format!("{}: {e}", path.display())))?;
    if meta.len() > MAX_LEGEND_BYTES {
        return Err(IngestError::Legend(format!(
            "{} is larger than {} KiB",
            path.display(),
            MAX_LEGEND_BYTES / 1024
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|e| IngestError::Legend(format!("{}: {e}", path.display())))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| IngestError::Legend(format!("{} is not JSON: {e}", path.display())))?;
    if !(v.is_array() || v.is_object()) {
        return Err(IngestError::Legend(format!(
            "{}: a legend is a JSON list of entries or an object",
            path.display()
        )));
    }
    Ok(v)
}

/// Legend names become object keys and URL segments: the layer-id alphabet.
fn check_name(name: &str) -> Result<(), IngestError> {
    validate_layer_id(name).map_err(|_| {
        IngestError::Usage(format!(
            "invalid legend name {name:?}: use 1-64 characters from a-z, A-Z, 0-9, '-' and '_'"
        ))
    })
}

pub fn put(store: &Store, name: &str, file: &Path) -> Result<(), IngestError> {
    check_name(name)?;
    let legend = load_legend(file)?;
    // Stored compact: the service parses it on every cold request.
    let bytes = serde_json::to_vec(&legend).map_err(|e| IngestError::Legend(e.to_string()))?;
    store.put(&legend_key(name), bytes)?;
    println!("legend {name} stored at {}", legend_key(name));
    Ok(())
}

pub fn get(store: &Store, name: &str) -> Result<(), IngestError> {
    check_name(name)?;
    let bytes = store
        .get(&legend_key(name))?
        .ok_or_else(|| IngestError::NotFound(format!("legend {name}")))?;
    println!("{}", String::from_utf8_lossy(&bytes));
    Ok(())
}

pub fn list(store: &Store) -> Result<(), IngestError> {
    let mut names: Vec<String> = store
        .list("legends/")?
        .into_iter()
        .filter_map(|k| {
            k.strip_prefix("legends/")
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    for n in names {
        println!("{n}");
    }
    Ok(())
}

pub fn remove(store: &Store, name: &str) -> Result<(), IngestError> {
    check_name(name)?;
    if store.head(&legend_key(name))?.is_none() {
        return Err(IngestError::NotFound(format!("legend {name}")));
    }
    store.delete(&legend_key(name))?;
    println!("removed legend {name}");
    Ok(())
}
