//! Serialises a chain of IFDs (little-endian, classic TIFF or BigTIFF) laid out the way a COG
//! needs: file header, then each IFD immediately followed by its out-of-line values, all
//! before any pixel data. The output length depends only on the tags' types and counts, never
//! on their values, which lets the writer size the header before it knows the tile offsets.

/// A tag value, already in the TIFF type the writer wants on disk.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Short(Vec<u16>),
    Long(Vec<u32>),
    Long8(Vec<u64>),
    Double(Vec<f64>),
    /// Written NUL-terminated; the count includes the NUL.
    Ascii(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub tag: u16,
    pub value: Value,
}

impl Entry {
    pub fn new(tag: u16, value: Value) -> Entry {
        Entry { tag, value }
    }
}

impl Value {
    fn type_code(&self) -> u16 {
        match self {
            Value::Ascii(_) => 2,
            Value::Short(_) => 3,
            Value::Long(_) => 4,
            Value::Double(_) => 12,
            Value::Long8(_) => 16,
        }
    }

    fn count(&self) -> u64 {
        let n = match self {
            Value::Short(v) => v.len(),
            Value::Long(v) => v.len(),
            Value::Long8(v) => v.len(),
            Value::Double(v) => v.len(),
            Value::Ascii(s) => s.len() + 1,
        };
        n as u64
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Value::Short(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Value::Long(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Value::Long8(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Value::Double(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Value::Ascii(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                b
            }
        }
    }
}

/// Writes the header and every IFD. `ifds` are written in order and chained; each IFD's
/// entries are sorted by tag here, as TIFF requires.
pub(crate) fn serialize(ifds: &[Vec<Entry>], big: bool) -> Vec<u8> {
    // Word alignment: TIFF requires even offsets; BigTIFF readers prefer 8-byte alignment.
    let align = if big { 8 } else { 2 };
    let inline = if big { 8 } else { 4 };
    let mut out = Vec::new();
    if big {
        out.extend_from_slice(b"II");
        out.extend_from_slice(&43u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&16u64.to_le_bytes());
    } else {
        out.extend_from_slice(b"II");
        out.extend_from_slice(&42u16.to_le_bytes());
        out.extend_from_slice(&8u32.to_le_bytes());
    }
    let put_off = |out: &mut Vec<u8>, v: u64| {
        if big {
            out.extend_from_slice(&v.to_le_bytes());
        } else {
            // Classic offsets fit u32: the writer switches to BigTIFF before they could not.
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
    };
    for (i, ifd) in ifds.iter().enumerate() {
        let mut entries: Vec<&Entry> = ifd.iter().collect();
        entries.sort_by_key(|e| e.tag);
        let n = entries.len() as u64;
        let ifd_len = if big { 8 + 20 * n + 8 } else { 2 + 12 * n + 4 };
        let ifd_start = out.len() as u64;
        // Out-of-line values start right after this IFD; lay them out first.
        let mut data_at = align_up(ifd_start + ifd_len, align);
        let mut blobs = Vec::new();
        let mut block = Vec::with_capacity(ifd_len as usize);
        if big {
            block.extend_from_slice(&n.to_le_bytes());
        } else {
            block.extend_from_slice(&(n as u16).to_le_bytes());
        }
        for e in &entries {
            let bytes = e.value.bytes();
            block.extend_from_slice(&e.tag.to_le_bytes());
            block.extend_from_slice(&e.value.type_code().to_le_bytes());
            put_off(&mut block, e.value.count());
            if bytes.len() <= inline {
                let mut field = bytes.clone();
                field.resize(inline, 0);
                block.extend_from_slice(&field);
            } else {
                put_off(&mut block, data_at);
                let len = bytes.len() as u64;
                blobs.push((data_at, bytes));
                data_at = align_up(data_at + len, align);
            }
        }
        let next = if i + 1 < ifds.len() { data_at } else { 0 };
        put_off(&mut block, next);
        out.extend_from_slice(&block);
        for (at, bytes) in blobs {
            out.resize(at as usize, 0);
            out.extend_from_slice(&bytes);
        }
        out.resize(data_at as usize, 0);
    }
    out
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}
