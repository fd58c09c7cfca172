//! `info`, `list`, `validate` and `remove`.

use tilefn_catalog::{Manifest, layer_prefix, manifest_key, validate_layer_id};
use tilefn_cog::read::{HeaderParse, Limits, parse_header};

use crate::IngestError;
use crate::publish::read_manifest;
use crate::store::Store;

fn load(store: &Store, id: &str) -> Result<Manifest, IngestError> {
    validate_layer_id(id).map_err(|e| IngestError::Usage(e.to_string()))?;
    read_manifest(store, id)?.ok_or_else(|| IngestError::NotFound(id.to_owned()))
}

pub fn info(store: &Store, id: &str) -> Result<(), IngestError> {
    let m = load(store, id)?;
    println!("{}", String::from_utf8_lossy(&m.to_json_pretty()));
    Ok(())
}

pub fn list(store: &Store) -> Result<(), IngestError> {
    let mut ids = store.list_dirs("layers/")?;
    ids.sort();
    for id in ids {
        match read_manifest(store, &id) {
            Ok(Some(m)) => println!(
                "{}\t{}\t{}..{}\t{}",
                m.id, m.version, m.min_zoom, m.max_zoom, m.name
            ),
            // A folder without a manifest is an ingest that never finished: not a layer.
            Ok(None) => {}
            Err(e) => println!("{id}\t(unreadable manifest: {e})"),
        }
    }
    Ok(())
}

/// Re-reads every object: it must exist with the listed size and ETag, and hold a COG whose
/// header parses, has one IFD per level, and whose tiles all lie inside the object.
pub fn validate(store: &Store, id: &str) -> Result<(), IngestError> {
    let m = load(store, id)?;
    let mut problems = Vec::new();
    for o in &m.objects {
        match store.head(&o.key)? {
            None => problems.push(format!("{}: missing", o.key)),
            Some((size, etag)) if size != o.size || (!o.etag.is_empty() && etag != o.etag) => {
                problems.push(format!(
                    "{}: size/etag {size}/{etag} differ from the manifest's {}/{}",
                    o.key, o.size, o.etag
                ))
            }
            Some(_) => {
                let bytes = store
                    .get(&o.key)?
                    .ok_or_else(|| IngestError::Invalid(format!("{} vanished", o.key)))?;
                if let Err(p) = check_cog(&bytes) {
                    problems.push(format!("{}: {p}", o.key));
                }
            }
        }
    }
    if problems.is_empty() {
        println!(
            "{id}: version {} OK ({} objects)",
            m.version,
            m.objects.len()
        );
        Ok(())
    } else {
        Err(IngestError::Invalid(format!(
            "{id}: {} problem(s): {}",
            problems.len(),
            problems.join("; ")
        )))
    }
}

fn check_cog(bytes: &[u8]) -> Result<(), String> {
    let tiff = match parse_header(bytes, &Limits::default()).map_err(|e| e.to_string())? {
        HeaderParse::Complete(t) => t,
        HeaderParse::NeedMore { min_len } => {
            return Err(format!(
                "header needs {min_len} bytes, object has {}",
                bytes.len()
            ));
        }
    };
    if tiff.ifds.is_empty() {
        return Err("no image".into());
    }
    let len = bytes.len() as u64;
    for (i, ifd) in tiff.ifds.iter().enumerate() {
        for row in 0..ifd.tiles_down() {
            for col in 0..ifd.tiles_across() {
                if let Some(r) = ifd.tile_range(col, row)
                    && r.end > len
                {
                    return Err(format!(
                        "IFD {i} tile {col},{row} ends at {} past the object's {len} bytes",
                        r.end
                    ));
                }
            }
        }
    }
    Ok(())
}

pub fn remove(store: &Store, id: &str) -> Result<(), IngestError> {
    validate_layer_id(id).map_err(|e| IngestError::Usage(e.to_string()))?;
    if store.head(&manifest_key(id))?.is_none() && store.list(&layer_prefix(id))?.is_empty() {
        return Err(IngestError::NotFound(id.to_owned()));
    }
    // Manifest first: from then on the layer is gone for readers, whatever happens next.
    store.delete(&manifest_key(id))?;
    let n = store.delete_prefix(&layer_prefix(id))?;
    println!("removed {id} ({n} objects)");
    Ok(())
}
