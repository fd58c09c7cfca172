//! Turns the raw tag values of one IFD into an [`Ifd`]: defaults, validation and the
//! geometry checks that make `tile_range` and `decode_tile` safe to call.

use tilefn_raster::DataType;

use super::parse::{Stop, format};
use super::{FieldAt, Ifd, Limits};
use crate::CogError;

/// Tag values as read, before defaults and validation.
#[derive(Default)]
pub(super) struct RawIfd {
    pub(super) subfile_type: Option<u32>,
    pub(super) width: Option<u32>,
    pub(super) height: Option<u32>,
    pub(super) bits: Option<Vec<u64>>,
    pub(super) compression: Option<u16>,
    pub(super) photometric: Option<u16>,
    pub(super) strip_offsets: Option<Vec<u64>>,
    pub(super) samples: Option<u16>,
    pub(super) rows_per_strip: Option<u32>,
    pub(super) strip_counts: Option<Vec<u64>>,
    pub(super) planar: Option<u16>,
    pub(super) predictor: Option<u16>,
    pub(super) colormap: Option<Vec<u64>>,
    pub(super) tile_width: Option<u32>,
    pub(super) tile_height: Option<u32>,
    pub(super) tile_offsets: Option<Vec<u64>>,
    pub(super) tile_counts: Option<Vec<u64>>,
    pub(super) extra_samples: Option<Vec<u64>>,
    pub(super) sample_format: Option<Vec<u64>>,
    pub(super) pixel_scale: Option<Vec<f64>>,
    pub(super) tiepoint: Option<Vec<f64>>,
    pub(super) transformation: Option<Vec<f64>>,
    pub(super) geo_keys: Option<Vec<u64>>,
    pub(super) geo_doubles: Option<Vec<f64>>,
    pub(super) geo_ascii: Option<String>,
    pub(super) gdal_metadata: Option<String>,
    pub(super) nodata: Option<String>,
    pub(super) photometric_at: Option<FieldAt>,
    pub(super) chroma_subsampling: Option<Vec<u64>>,
    pub(super) lerc_parameters: Option<Vec<u64>>,
}

fn to_u16s(v: Option<Vec<u64>>) -> Vec<u16> {
    // Values above u16 only come from malformed files; saturate rather than wrap.
    v.unwrap_or_default()
        .into_iter()
        .map(|x| u16::try_from(x).unwrap_or(u16::MAX))
        .collect()
}

impl RawIfd {
    pub(super) fn finish(self, offset: u64, limits: &Limits) -> Result<Ifd, Stop> {
        let width = self
            .width
            .ok_or_else(|| format(format!("IFD at {offset} has no ImageWidth")))?;
        let height = self
            .height
            .ok_or_else(|| format(format!("IFD at {offset} has no ImageLength")))?;
        if width == 0 || height == 0 {
            return Err(format(format!(
                "IFD at {offset} is {width}x{height} pixels"
            )));
        }
        let samples = self.samples.unwrap_or(1);
        if samples == 0 {
            return Err(format(format!("IFD at {offset} has SamplesPerPixel 0")));
        }
        let bits = to_u16s(self.bits.or(Some(vec![1])));
        let formats = to_u16s(self.sample_format.or(Some(vec![1])));
        let bits_per_sample = bits.first().copied().unwrap_or(1);
        let sample_format = formats.first().copied().unwrap_or(1);
        let uniform_samples = bits.iter().all(|b| *b == bits_per_sample)
            && formats.iter().all(|f| *f == sample_format);
        let dtype = if uniform_samples {
            DataType::from_tiff(sample_format, bits_per_sample)
        } else {
            None
        };
        let planar_config = self.planar.unwrap_or(1);
        if planar_config != 1 && planar_config != 2 {
            return Err(format(format!(
                "IFD at {offset} has PlanarConfiguration {planar_config}"
            )));
        }

        let tiled =
            self.tile_width.is_some() || self.tile_height.is_some() || self.tile_offsets.is_some();
        let (tile_width, tile_height, offsets, counts, rows_per_strip) = if tiled {
            let tw = self.tile_width.unwrap_or(0);
            let th = self.tile_height.unwrap_or(0);
            if tw == 0 || th == 0 {
                return Err(format(format!("IFD at {offset} has a {tw}x{th} tile size")));
            }
            let missing = |name: &str| format(format!("tiled IFD at {offset} has no {name}"));
            let offs = self.tile_offsets.ok_or_else(|| missing("TileOffsets"))?;
            let cnts = self.tile_counts.ok_or_else(|| missing("TileByteCounts"))?;
            (tw, th, offs, cnts, None)
        } else {
            let rps = self.rows_per_strip.unwrap_or(u32::MAX);
            if rps == 0 {
                return Err(format(format!("IFD at {offset} has RowsPerStrip 0")));
            }
            let missing = |name: &str| format(format!("striped IFD at {offset} has no {name}"));
            let offs = self.strip_offsets.ok_or_else(|| missing("StripOffsets"))?;
            let cnts = self
                .strip_counts
                .ok_or_else(|| missing("StripByteCounts"))?;
            (width, rps.min(height), offs, cnts, Some(rps))
        };
        let planes = if planar_config == 2 {
            u64::from(samples)
        } else {
            1
        };
        let chunks = u64::from(width.div_ceil(tile_width))
            * u64::from(height.div_ceil(tile_height))
            * planes;
        if chunks > limits.max_tiles_per_ifd {
            return Err(Stop::Err(CogError::Limits(format!(
                "IFD at {offset} has {chunks} tiles (at most {} accepted)",
                limits.max_tiles_per_ifd
            ))));
        }
        if (offsets.len() as u64) < chunks || (counts.len() as u64) < chunks {
            return Err(format(format!(
                "IFD at {offset} has {} offsets and {} byte counts for {chunks} tiles",
                offsets.len(),
                counts.len()
            )));
        }
        if offsets
            .iter()
            .zip(&counts)
            .any(|(o, c)| o.checked_add(*c).is_none())
        {
            return Err(format(format!(
                "IFD at {offset} has a tile past the end of 64-bit offsets"
            )));
        }

        Ok(Ifd {
            offset,
            width,
            height,
            tiled,
            tile_width,
            tile_height,
            rows_per_strip,
            samples,
            bits_per_sample,
            sample_format,
            uniform_samples,
            dtype,
            compression: self.compression.unwrap_or(1),
            predictor: self.predictor.unwrap_or(1),
            planar_config,
            photometric: self.photometric,
            subfile_type: self.subfile_type.unwrap_or(0),
            extra_samples: to_u16s(self.extra_samples),
            tile_offsets: offsets,
            tile_byte_counts: counts,
            nodata: self.nodata.as_deref().and_then(parse_nodata),
            model_pixel_scale: self.pixel_scale,
            model_tiepoint: self.tiepoint,
            model_transformation: self.transformation,
            geo_key_directory: to_u16s(self.geo_keys),
            geo_double_params: self.geo_doubles.unwrap_or_default(),
            geo_ascii_params: self.geo_ascii,
            gdal_metadata: self.gdal_metadata,
            colormap: to_u16s(self.colormap),
            photometric_at: self.photometric_at,
            chroma_subsampling: to_u16s(self.chroma_subsampling),
            lerc_parameters: self
                .lerc_parameters
                .unwrap_or_default()
                .into_iter()
                .map(|x| u32::try_from(x).unwrap_or(u32::MAX))
                .collect(),
        })
    }
}

/// GDAL_NODATA is text: "nan", "-9999", "1e+30", sometimes with padding.
pub(super) fn parse_nodata(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    match t.to_ascii_lowercase().as_str() {
        "nan" | "-nan" | "+nan" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => t.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodata_text() {
        assert!(parse_nodata("nan").is_some_and(f64::is_nan));
        assert!(parse_nodata("-nan").is_some_and(f64::is_nan));
        assert_eq!(parse_nodata(" -9999 "), Some(-9999.0));
        assert_eq!(parse_nodata("1.27e+30\0"), Some(1.27e30));
        assert_eq!(
            parse_nodata("-3.4028234663852886e38"),
            Some(f64::from(f32::MIN))
        );
        assert_eq!(parse_nodata("abc"), None);
    }
}
