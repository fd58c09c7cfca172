//! What an image directory means for ingest: data type, sample roles, colour model,
//! palette, nodata and georeferencing, from tilefn-cog's parsed `Ifd`.

use tilefn_cog::read::Ifd;
use tilefn_raster::DataType;

use super::crs::{self, Crs};
use super::error::SourceError;
use super::geokeys::{GeoKeys, GeoTransform};
use super::lerc::COMPRESSION_LERC;
use super::reader::Role;
use super::{MaskKind, OpenOptions};

/// `None` for the compressions we decode, else the error naming the one we do not.
pub(super) fn unsupported_compression(c: u16) -> Option<SourceError> {
    let name = match c {
        1 | 5 | 7 | 8 | 32946 | 32773 | 50000 | 50001 | COMPRESSION_LERC => return None,
        2..=4 => "CCITT fax",
        6 => "old-style JPEG",
        34925 => "LZMA",
        34712 | 33003 | 33005 => "JPEG 2000",
        50002 => "JPEG XL",
        _ => {
            return Some(SourceError::Unsupported(format!(
                "compression {c} is not supported"
            )));
        }
    };
    Some(SourceError::Unsupported(format!(
        "{name} compression ({c}) is not supported"
    )))
}

pub(super) fn data_type(format: u16, bits: u16) -> Result<DataType, SourceError> {
    let unsupported = |m: String| Err(SourceError::Unsupported(m));
    match (format, bits) {
        (1, 1 | 2 | 4) => Ok(DataType::Uint8),
        // Half floats are promoted to float32, as GDAL does.
        (3, 16) => Ok(DataType::Float32),
        (5, b) => unsupported(format!("complex data type CInt{} is not supported", b / 2)),
        (6, b) => unsupported(format!(
            "complex data type CFloat{} is not supported",
            b / 2
        )),
        (1 | 2, 64) => unsupported("64-bit integer data is not supported".into()),
        (f, b) => DataType::from_tiff(f, b).ok_or_else(|| {
            SourceError::Unsupported(format!(
                "{b}-bit samples (SampleFormat {f}) are not supported"
            ))
        }),
    }
}

/// GDAL_NODATA, rounded to what the data type can hold (float32 data is compared as f32).
/// A value the type cannot hold matches no pixel, so it is dropped (rasterio does the same).
fn normalise_nodata(v: f64, dtype: DataType) -> Option<f64> {
    if v.is_nan() {
        return dtype.is_float().then_some(f64::NAN);
    }
    match dtype {
        DataType::Float32 => Some(f64::from(v as f32)),
        DataType::Float64 => Some(v),
        _ => (v.fract() == 0.0 && dtype.can_represent(v)).then_some(v),
    }
}

/// The nodata value in effect: `--nodata` (which must fit the samples), else the file's.
pub(super) fn nodata(
    ifd: &Ifd,
    opts: &OpenOptions,
    dtype: DataType,
) -> Result<Option<f64>, SourceError> {
    if let Some(v) = opts.nodata
        && normalise_nodata(v, dtype).is_none()
    {
        return Err(SourceError::Unsupported(format!(
            "--nodata {v} cannot be stored in the source's {dtype} samples"
        )));
    }
    Ok(opts
        .nodata
        .or(ifd.nodata)
        .and_then(|v| normalise_nodata(v, dtype)))
}

/// What each file sample becomes (the first associated or unassociated alpha is alpha, the
/// rest are bands), and the alpha sample's index.
pub(super) fn roles(ifd: &Ifd) -> (Vec<Role>, Option<usize>) {
    let samples = usize::from(ifd.samples);
    let extra = &ifd.extra_samples;
    let first_extra = samples.saturating_sub(extra.len());
    let alpha = extra
        .iter()
        .position(|e| *e == 1 || *e == 2)
        .map(|i| first_extra + i);
    let mut band = 0;
    let roles = (0..samples)
        .map(|s| {
            if Some(s) == alpha {
                Role::Alpha
            } else {
                band += 1;
                Role::Band(band - 1)
            }
        })
        .collect();
    (roles, alpha)
}

/// Whether samples are YCbCr to convert to RGB; refuses colour models we do not read.
pub(super) fn ycbcr(ifd: &Ifd) -> Result<bool, SourceError> {
    match ifd.photometric {
        Some(0..=5) | None => Ok(false),
        Some(6) if ifd.compression == 7 || ifd.chroma_subsampling == [1, 1] => {
            Ok(ifd.samples >= 3 && ifd.bits_per_sample == 8)
        }
        Some(6) => Err(SourceError::Unsupported(
            "subsampled YCbCr without JPEG compression is not supported".into(),
        )),
        Some(p) => {
            let name = match p {
                8 => "CIELab",
                9 | 10 => "ICC/ITU Lab",
                32844 | 32845 => "LogLuv",
                _ => "this",
            };
            Err(SourceError::Unsupported(format!(
                "{name} photometric interpretation ({p}) is not supported"
            )))
        }
    }
}

/// ColorMap (3 x 2^bits u16s) as RGBA. GDAL reads 16-bit entries as value/257, except
/// maps whose entries all fit in 8 bits (some writers store them unscaled).
pub(super) fn palette(ifd: &Ifd) -> Option<Vec<[u8; 4]>> {
    if ifd.photometric != Some(3) {
        return None;
    }
    let map = &ifd.colormap;
    let n = 1usize
        .checked_shl(u32::from(ifd.bits_per_sample))
        .filter(|n| *n <= 65536)?;
    if map.len() < 3 * n {
        return None;
    }
    let div = if map.iter().all(|v| *v <= 255) {
        1.0
    } else {
        257.0
    };
    let c = |v: u16| (f64::from(v) / div).round().clamp(0.0, 255.0) as u8;
    Some(
        (0..n)
            .map(|i| [c(map[i]), c(map[n + i]), c(map[2 * n + i]), 255])
            .collect(),
    )
}

fn georef_error(e: &SourceError) -> bool {
    matches!(
        e,
        SourceError::NoGeoreference
            | SourceError::NoCrs
            | SourceError::UnknownEpsg(_)
            | SourceError::UnsupportedCrs(_)
            | SourceError::Unsupported(_)
    )
}

/// The geotransform and CRS. When `strict` is off, missing or unusable georeferencing gives
/// an identity transform and an empty CRS, with the error alongside.
pub(super) fn georef(
    ifd: &Ifd,
    opts: &OpenOptions,
    strict: bool,
) -> Result<(GeoTransform, Crs, Option<SourceError>), SourceError> {
    let keys = if ifd.geo_key_directory.is_empty() {
        GeoKeys::default()
    } else {
        let ascii = ifd.geo_ascii_params.as_deref().unwrap_or_default();
        GeoKeys::parse(&ifd.geo_key_directory, &ifd.geo_double_params, ascii)
    };
    let georef = GeoTransform::from_tags(
        ifd.model_transformation.as_deref(),
        ifd.model_tiepoint.as_deref(),
        ifd.model_pixel_scale.as_deref(),
        keys.pixel_is_point(),
    )
    .and_then(|geo| {
        let crs = match opts.srid {
            Some(code) => crs::from_epsg(code)?,
            None if keys.is_empty() => return Err(SourceError::NoCrs),
            None => crs::from_geokeys(&keys)?,
        };
        Ok((geo, crs))
    });
    match georef {
        Ok((geo, crs)) => Ok((geo, crs, None)),
        Err(e) if !strict && georef_error(&e) => {
            let none = Crs {
                epsg: None,
                proj4: String::new(),
                name: "none".into(),
            };
            Ok((GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]), none, Some(e)))
        }
        Err(e) => Err(e),
    }
}

/// GDAL's per-dataset mask for `main`: a full-resolution (bit 0 clear) transparency mask
/// (bit 2 set) of the same size, photometric Mask; its index in the chain.
pub(super) fn mask_ifd<'a>(ifds: &'a [Ifd], main: &Ifd) -> Option<(usize, &'a Ifd)> {
    ifds.iter().enumerate().skip(1).find(|(_, f)| {
        f.is_mask()
            && !f.is_reduced()
            && f.width == main.width
            && f.height == main.height
            && f.photometric == Some(4)
    })
}

/// Where validity comes from besides nodata.
pub(super) fn mask_kind(internal: bool, alpha: Option<usize>) -> MaskKind {
    match (internal, alpha) {
        (true, _) => MaskKind::Internal,
        (false, Some(band)) => MaskKind::Alpha { band },
        (false, None) => MaskKind::None,
    }
}

/// The unit of the first band from GDAL's metadata (`<Item name="UNITTYPE" sample="0"
/// role="unittype">m</Item>`, what `gdal_edit.py -units` and rasterio's `units` write).
/// A plain scan rather than an XML parser: one attribute of one element, and the text is
/// untrusted, so the answer is bounded (64 printable characters) and anything odd is `None`.
pub fn unit(ifd: &Ifd) -> Option<String> {
    unit_in_metadata(ifd.gdal_metadata.as_deref()?)
}

fn unit_in_metadata(xml: &str) -> Option<String> {
    let first_band = |item: &&str| {
        item.contains("role=\"unittype\"")
            && (item.contains("sample=\"0\"") || !item.contains("sample=\""))
    };
    let item = xml.split("<Item").find(first_band)?;
    let text = item.split_once('>')?.1.split_once("</Item>")?.0.trim();
    let printable = text.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    (!text.is_empty() && text.len() <= 64 && printable).then(|| text.to_owned())
}

#[cfg(test)]
mod unit_tests {
    use super::unit_in_metadata;

    #[test]
    fn the_first_bands_unit_type_is_read() {
        let xml = r#"<GDALMetadata>
  <Item name="STATISTICS_MAX" sample="0">12</Item>
  <Item name="UNITTYPE" sample="1" role="unittype">cm</Item>
  <Item name="UNITTYPE" sample="0" role="unittype">ft</Item>
</GDALMetadata>"#;
        assert_eq!(unit_in_metadata(xml).as_deref(), Some("ft"));
        let dataset =
            r#"<GDALMetadata><Item name="UNITTYPE" role="unittype"> m </Item></GDALMetadata>"#;
        assert_eq!(unit_in_metadata(dataset).as_deref(), Some("m"));
        for bad in [
            "<GDALMetadata></GDALMetadata>",
            r#"<Item name="UNITTYPE" sample="0" role="unittype"></Item>"#,
            r#"<Item name="UNITTYPE" sample="0" role="unittype">m"#,
            "<Item role=\"unittype\">a\u{7}b</Item>",
        ] {
            assert_eq!(unit_in_metadata(bad), None, "{bad}");
        }
    }
}
