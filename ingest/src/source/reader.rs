//! Reading pixel windows: chunk decoding through the shared cache, and assembly into a
//! band-sequential `Block` with validity from the mask, alpha and nodata.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Most bytes of one compressed chunk read into memory (the decoder's own bound, too).
const MAX_CHUNK_BYTES: u64 = 1 << 30;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tiff::decoder::{Decoder, Limits};
use tilefn_raster::{Block, DataType};

use super::cache::{ChunkCache, Key};
use super::error::{SourceError, tiff_error};
use super::layout::ImageLayout;
use super::lerc::{self, Expect};
use super::patch::{Patch, PatchedFile};
use super::samples::{Chunk, Conversion, Samples, convert, crop, crop_samples, from_bytes};

/// What a file sample becomes in a `Block`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Role {
    Band(usize),
    Alpha,
}

/// State every reader of one source shares.
pub(super) struct Shared {
    pub path: PathBuf,
    pub patches: Arc<[Patch]>,
    pub main: ImageLayout,
    pub conv: Conversion,
    pub roles: Vec<Role>,
    pub dtype: DataType,
    /// File byte order, for strips read without the decoder.
    pub little_endian: bool,
    pub nodata: Option<f64>,
    /// The per-dataset mask IFD: its index in the IFD chain and layout.
    pub mask: Option<(usize, ImageLayout, Conversion)>,
    pub cache: Mutex<ChunkCache>,
}

const IMAGE: u8 = 0;
const MASK: u8 = 1;

pub(super) fn limits() -> Limits {
    let mut l = Limits::default();
    // One chunk may decode to up to 1 GiB (a whole-image strip); the cache, not the decoder,
    // bounds how much stays in memory.
    l.decoding_buffer_size = 1 << 30;
    l.intermediate_buffer_size = 1 << 30;
    // Offset arrays of very large tiled images (a million tiles is 8 MB).
    l.ifd_value_size = 256 << 20;
    l
}

pub(super) fn open_decoder(
    path: &PathBuf,
    patches: &Arc<[Patch]>,
) -> Result<Decoder<PatchedFile>, SourceError> {
    let file = File::open(path)?;
    Decoder::new(PatchedFile::new(file, patches.clone()))
        .map(|d| d.with_limits(limits()))
        .map_err(|e| tiff_error(e, "first image directory"))
}

/// Reads windows of one source. Owns its own decoders (file handles); cheap to create, one
/// per worker thread.
pub struct WindowReader {
    pub(super) shared: Arc<Shared>,
    pub(super) main: Decoder<PatchedFile>,
    pub(super) mask: Option<Decoder<PatchedFile>>,
}

impl WindowReader {
    fn chunk(&mut self, image: u8, index: usize) -> Result<Arc<Chunk>, SourceError> {
        let key: Key = (
            image,
            u32::try_from(index).map_err(|_| SourceError::Corrupt("too many chunks".into()))?,
        );
        let slot = self
            .shared
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .slot(key);
        let mut decoded = None;
        let result = slot
            .get_or_init(|| {
                let r = self.decode(image, index);
                decoded = Some(r.as_ref().map_or(0, |c| c.bytes()));
                r
            })
            .clone();
        if let Some(bytes) = decoded {
            self.shared
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(key, bytes);
        }
        result
    }

    fn decode(&mut self, image: u8, index: usize) -> Result<Arc<Chunk>, SourceError> {
        let shared = self.shared.clone();
        let (layout, conv, decoder) = if image == MASK {
            let Some((ifd, layout, conv)) = &shared.mask else {
                return Err(SourceError::Corrupt("no mask".into()));
            };
            if self.mask.is_none() {
                let mut d = open_decoder(&shared.path, &shared.patches)?;
                d.seek_to_image(*ifd)
                    .map_err(|e| tiff_error(e, "mask image directory"))?;
                self.mask = Some(d);
            }
            match self.mask.as_mut() {
                Some(d) => (layout, *conv, d),
                None => return Err(SourceError::Corrupt("no mask".into())),
            }
        } else {
            (&shared.main, shared.conv, &mut self.main)
        };
        let what = format!(
            "{}{} {index}",
            if image == MASK { "mask " } else { "" },
            layout.kind()
        );
        let per_plane = layout.per_plane().max(1);
        let within = index % per_plane;
        let (cx, cy) = (
            (within % layout.across as usize) as u32,
            (within / layout.across as usize) as u32,
        );
        let (w, h) = layout.data_size(cx, cy);
        let spp = layout.chunk_spp();
        let mut valid = None;
        let data = if layout.split {
            let bytes = read_raw(decoder.inner(), layout, index, &what)?;
            from_bytes(&bytes, shared.dtype, shared.little_endian)
        } else if let Some(add) = layout.lerc {
            let bytes = read_raw(decoder.inner(), layout, index, &what)?;
            let (data, v) = decode_lerc(&bytes, add, layout, (w, h, spp), shared.dtype, &what)?;
            valid = v;
            data
        } else {
            let raw = decoder
                .read_chunk(index as u32)
                .map_err(|e| tiff_error(e, &what))?;
            convert(raw, w, h, spp, conv, &what)?
        };
        if data.len() < w * h * spp {
            return Err(SourceError::Corrupt(format!(
                "{what} holds {} samples instead of {}",
                data.len(),
                w * h * spp
            )));
        }
        Ok(Arc::new(Chunk {
            width: w,
            spp,
            data,
            valid,
        }))
    }

    /// Pixels `[col0, col0 + w) x [row0, row0 + h)`, data bands only. A pixel is invalid
    /// outside the image, where the mask or alpha is 0, or where every band equals nodata.
    pub fn read_window(
        &mut self,
        col0: i64,
        row0: i64,
        w: usize,
        h: usize,
    ) -> Result<Block, SourceError> {
        self.read(col0, row0, w, h, false)
    }

    /// Every sample of the file as stored (alpha included, no mask or nodata applied), for
    /// checks against other readers; validity only marks pixels inside the image.
    #[allow(dead_code)] // for tests and inspection tools
    pub fn read_raw_window(
        &mut self,
        col0: i64,
        row0: i64,
        w: usize,
        h: usize,
    ) -> Result<Block, SourceError> {
        self.read(col0, row0, w, h, true)
    }

    fn read(
        &mut self,
        col0: i64,
        row0: i64,
        w: usize,
        h: usize,
        raw: bool,
    ) -> Result<Block, SourceError> {
        let s = self.shared.clone();
        let all: Vec<Role>;
        let roles_all = if raw {
            all = (0..s.roles.len()).map(Role::Band).collect();
            &all
        } else {
            &s.roles
        };
        let bands = roles_all
            .iter()
            .filter(|r| matches!(r, Role::Band(_)))
            .count();
        let fill = s
            .nodata
            .filter(|v| s.dtype.can_represent(*v) || v.is_nan())
            .unwrap_or(0.0);
        let mut block = Block::empty(w, h, bands, s.dtype, fill);
        let (iw, ih) = (i64::from(s.main.width), i64::from(s.main.height));
        let (c0, c1) = (col0.max(0), col0.saturating_add(w as i64).min(iw));
        let (r0, r1) = (row0.max(0), row0.saturating_add(h as i64).min(ih));
        if c0 >= c1 || r0 >= r1 {
            return Ok(block);
        }
        let n = w * h;
        for r in r0..r1 {
            let o = (r - row0) as usize * w;
            block.valid[o + (c0 - col0) as usize..o + (c1 - col0) as usize].fill(true);
        }
        let has_alpha = roles_all.contains(&Role::Alpha);
        let mut alpha = if has_alpha { vec![1.0; n] } else { Vec::new() };
        let win = Win {
            col0,
            row0,
            w,
            c0,
            c1,
            r0,
            r1,
        };
        let layout = &s.main;
        for plane in 0..layout.planes() {
            let roles: Vec<(usize, Role)> = if layout.planar {
                roles_all
                    .get(plane)
                    .map(|r| vec![(0, *r)])
                    .unwrap_or_default()
            } else {
                roles_all.iter().copied().enumerate().collect()
            };
            self.visit(IMAGE, layout, plane, &win, |chunk, src, dst, count| {
                for (sample, role) in &roles {
                    let out = match role {
                        Role::Band(b) => &mut block.values[b * n + dst..b * n + dst + count],
                        Role::Alpha => &mut alpha[dst..dst + count],
                    };
                    match chunk {
                        Some(c) => c.data.extract(src + sample, c.spp, out),
                        // Sparse: nodata (or 0) for data, transparent for alpha, as GDAL reads it.
                        None => out.fill(if *role == Role::Alpha { 0.0 } else { fill }),
                    }
                }
                // The codec's own mask (LERC): invalid like nodata, but not in raw reads.
                if let Some(valid) = chunk.and_then(|c| c.valid.as_ref().map(|v| (c, v)))
                    && !raw
                {
                    let (c, v) = valid;
                    let from = v.get(src / c.spp.max(1)..).unwrap_or_default();
                    for (d, s) in block.valid[dst..dst + count].iter_mut().zip(from) {
                        *d &= *s;
                    }
                }
            })?;
        }
        if has_alpha {
            for (v, a) in block.valid.iter_mut().zip(&alpha) {
                *v &= *a != 0.0;
            }
        }
        if raw {
            return Ok(block);
        }
        if let Some((_, mask_layout, _)) = &s.mask {
            let mut m = vec![1.0; n];
            self.visit(
                MASK,
                mask_layout,
                0,
                &win,
                |chunk, src, dst, count| match chunk {
                    Some(c) => c.data.extract(src, c.spp, &mut m[dst..dst + count]),
                    None => m[dst..dst + count].fill(0.0),
                },
            )?;
            for (v, m) in block.valid.iter_mut().zip(&m) {
                *v &= *m != 0.0;
            }
        }
        if let Some(nd) = s.nodata {
            let same = |v: f64| if nd.is_nan() { v.is_nan() } else { v == nd };
            for i in 0..n {
                if block.valid[i] && (0..bands).all(|b| same(block.values[b * n + i])) {
                    block.valid[i] = false;
                }
            }
        }
        Ok(block)
    }

    /// Calls `f(chunk, src, dst, count)` for every chunk row segment of `plane` inside the
    /// window: `count` pixels starting at sample offset `src` of the chunk (first sample of
    /// the pixel) land at pixel offset `dst` of the window. `chunk` is `None` when sparse.
    fn visit(
        &mut self,
        image: u8,
        layout: &ImageLayout,
        plane: usize,
        win: &Win,
        mut f: impl FnMut(Option<&Chunk>, usize, usize, usize),
    ) -> Result<(), SourceError> {
        let (cw, ch) = (i64::from(layout.chunk_w), i64::from(layout.chunk_h));
        for cy in win.r0 / ch..=(win.r1 - 1) / ch {
            for cx in win.c0 / cw..=(win.c1 - 1) / cw {
                let index = layout.index(plane, cx as u32, cy as u32);
                let chunk = if layout.is_sparse(index) {
                    None
                } else {
                    Some(self.chunk(image, index)?)
                };
                let (x0, y0) = (cx * cw, cy * ch);
                let (xa, xb) = (win.c0.max(x0), win.c1.min(x0 + cw));
                let (ya, yb) = (win.r0.max(y0), win.r1.min(y0 + ch));
                let count = (xb - xa) as usize;
                for y in ya..yb {
                    let dst = (y - win.row0) as usize * win.w + (xa - win.col0) as usize;
                    let src = match &chunk {
                        Some(c) => ((y - y0) as usize * c.width + (xa - x0) as usize) * c.spp,
                        None => 0,
                    };
                    f(chunk.as_deref(), src, dst, count);
                }
            }
        }
        Ok(())
    }
}

/// A LERC chunk's `w x h` pixels of `spp` samples (the part inside the image), and their
/// validity if the blob had a mask.
fn decode_lerc(
    bytes: &[u8],
    add: lerc::Additional,
    layout: &ImageLayout,
    (w, h, spp): (usize, usize, usize),
    dtype: DataType,
    what: &str,
) -> Result<(Samples, Option<Vec<bool>>), SourceError> {
    // Tiles are stored whole, edge tiles too; a strip holds just its rows.
    let want = Expect {
        width: layout.stored_w as usize,
        height: if layout.tiled {
            layout.stored_h as usize
        } else {
            h
        },
        spp,
        dtype,
    };
    let d = lerc::decode(bytes, add, want, what)?;
    if d.height < h {
        return Err(SourceError::Corrupt(format!(
            "{what} holds {} rows instead of {h}",
            d.height
        )));
    }
    let valid = d.valid.map(|v| crop(&v, want.width, 1, w, h));
    Ok((crop_samples(d.data, want.width, spp, w, h), valid))
}

/// The stored bytes of chunk `index`, read past the decoder (uncompressed strip bands, and
/// codecs the `tiff` crate lacks).
fn read_raw(
    f: &mut PatchedFile,
    layout: &ImageLayout,
    index: usize,
    what: &str,
) -> Result<Vec<u8>, SourceError> {
    let (Some(&offset), Some(&count)) = (layout.offsets.get(index), layout.counts.get(index))
    else {
        return Err(SourceError::Corrupt(format!("{what} has no offset")));
    };
    if count > MAX_CHUNK_BYTES {
        return Err(SourceError::Unsupported(format!(
            "{what} holds {count} bytes, more than the {MAX_CHUNK_BYTES} read in one piece"
        )));
    }
    let len = usize::try_from(count).map_err(|_| SourceError::Corrupt(what.to_string()))?;
    let mut bytes = vec![0u8; len];
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(&mut bytes).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => SourceError::Corrupt(format!(
            "truncated file: {what} ends past the end of the file"
        )),
        _ => SourceError::from(e),
    })?;
    Ok(bytes)
}

/// A window and its part inside the image.
struct Win {
    col0: i64,
    row0: i64,
    w: usize,
    c0: i64,
    c1: i64,
    r0: i64,
    r1: i64,
}
