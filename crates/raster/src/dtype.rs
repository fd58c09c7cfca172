use serde::{Deserialize, Serialize};

/// The sample types a layer can hold. Names follow GDAL/numpy (`uint8`, `float32`, ...), which
/// is what users see in `gdalinfo` and what the manifest stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    Uint8,
    Int8,
    Uint16,
    Int16,
    Uint32,
    Int32,
    Float32,
    Float64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown data type {0:?}")]
pub struct UnknownDataType(pub String);

impl DataType {
    pub const ALL: [DataType; 8] = [
        DataType::Uint8,
        DataType::Int8,
        DataType::Uint16,
        DataType::Int16,
        DataType::Uint32,
        DataType::Int32,
        DataType::Float32,
        DataType::Float64,
    ];

    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            DataType::Uint8 | DataType::Int8 => 1,
            DataType::Uint16 | DataType::Int16 => 2,
            DataType::Uint32 | DataType::Int32 | DataType::Float32 => 4,
            DataType::Float64 => 8,
        }
    }

    pub fn bits(self) -> u16 {
        // size() is at most 8, so the cast is exact.
        (self.size() * 8) as u16
    }

    pub fn is_float(self) -> bool {
        matches!(self, DataType::Float32 | DataType::Float64)
    }

    pub fn is_signed(self) -> bool {
        matches!(
            self,
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Float32
                | DataType::Float64
        )
    }

    /// TIFF SampleFormat: 1 unsigned integer, 2 signed integer, 3 IEEE float.
    pub fn tiff_sample_format(self) -> u16 {
        if self.is_float() {
            3
        } else if self.is_signed() {
            2
        } else {
            1
        }
    }

    /// The inverse of (`tiff_sample_format`, `bits`).
    pub fn from_tiff(sample_format: u16, bits: u16) -> Option<DataType> {
        Some(match (sample_format, bits) {
            (1, 8) => DataType::Uint8,
            (2, 8) => DataType::Int8,
            (1, 16) => DataType::Uint16,
            (2, 16) => DataType::Int16,
            (1, 32) => DataType::Uint32,
            (2, 32) => DataType::Int32,
            (3, 32) => DataType::Float32,
            (3, 64) => DataType::Float64,
            _ => return None,
        })
    }

    /// The name used in manifests and by GDAL.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Uint8 => "uint8",
            DataType::Int8 => "int8",
            DataType::Uint16 => "uint16",
            DataType::Int16 => "int16",
            DataType::Uint32 => "uint32",
            DataType::Int32 => "int32",
            DataType::Float32 => "float32",
            DataType::Float64 => "float64",
        }
    }

    /// Smallest and largest representable value (finite range for floats).
    pub fn range(self) -> (f64, f64) {
        match self {
            DataType::Uint8 => (0.0, 255.0),
            DataType::Int8 => (-128.0, 127.0),
            DataType::Uint16 => (0.0, 65535.0),
            DataType::Int16 => (-32768.0, 32767.0),
            DataType::Uint32 => (0.0, 4_294_967_295.0),
            DataType::Int32 => (-2_147_483_648.0, 2_147_483_647.0),
            DataType::Float32 => (f64::from(f32::MIN), f64::from(f32::MAX)),
            DataType::Float64 => (f64::MIN, f64::MAX),
        }
    }

    /// Converts a computed value to one this type can store: integers are rounded to nearest
    /// and saturated (as GDAL does when it writes a resampled value), floats narrowed.
    pub fn clamp(self, v: f64) -> f64 {
        if self.is_float() {
            if self == DataType::Float32 {
                f64::from(v as f32)
            } else {
                v
            }
        } else if v.is_nan() {
            0.0
        } else {
            let (lo, hi) = self.range();
            round(v).clamp(lo, hi)
        }
    }

    /// Whether `v` can be stored in this type without change: used to check a user's
    /// `--nodata` against the layer's type.
    pub fn can_represent(self, v: f64) -> bool {
        if self.is_float() {
            return v.is_nan()
                || self == DataType::Float64
                || f64::from(v as f32) == v
                || v.is_infinite();
        }
        let (lo, hi) = self.range();
        v.fract() == 0.0 && v >= lo && v <= hi
    }

    /// Writes `v` (already `clamp`ed) into `out` in little-endian order.
    pub fn write_le(self, v: f64, out: &mut Vec<u8>) {
        // The casts below are the point: `v` has been clamped to this type's range.
        match self {
            DataType::Uint8 => out.push(v as u8),
            DataType::Int8 => out.push((v as i8) as u8),
            DataType::Uint16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
            DataType::Int16 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            DataType::Uint32 => out.extend_from_slice(&(v as u32).to_le_bytes()),
            DataType::Int32 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            DataType::Float32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
            DataType::Float64 => out.extend_from_slice(&v.to_le_bytes()),
        }
    }

    /// Reads one little-endian sample; `None` if `bytes` is shorter than `size()`.
    pub fn read_le(self, bytes: &[u8]) -> Option<f64> {
        Some(match self {
            DataType::Uint8 => f64::from(*bytes.first()?),
            DataType::Int8 => f64::from(*bytes.first()? as i8),
            DataType::Uint16 => f64::from(u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?)),
            DataType::Int16 => f64::from(i16::from_le_bytes(bytes.get(..2)?.try_into().ok()?)),
            DataType::Uint32 => f64::from(u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?)),
            DataType::Int32 => f64::from(i32::from_le_bytes(bytes.get(..4)?.try_into().ok()?)),
            DataType::Float32 => f64::from(f32::from_le_bytes(bytes.get(..4)?.try_into().ok()?)),
            DataType::Float64 => f64::from_le_bytes(bytes.get(..8)?.try_into().ok()?),
        })
    }
}

impl std::fmt::Display for DataType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DataType {
    type Err = UnknownDataType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataType::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDataType(s.to_owned()))
    }
}

/// `f64::round` (halves away from zero), without the call: on baseline x86-64 (no SSE4.1
/// rounding instruction) `f64::round` is a libm call, and it was 7% of an 8-bit RGB ingest
/// (one call per sample warped). Truncation is one instruction, and for |v| < 2^52 both the
/// truncated value and the fraction `v - trunc(v)` are exact, so this equals `f64::round`
/// (up to the sign of a zero result). NaN, infinities and larger values are returned as they
/// are, as `f64::round` does.
#[inline]
pub fn round(v: f64) -> f64 {
    const EXACT: f64 = 4_503_599_627_370_496.0; // 2^52: every float at or above is whole
    if v.is_nan() || v.abs() >= EXACT {
        return v;
    }
    let t = v as i64 as f64;
    let f = v - t;
    if f >= 0.5 {
        t + 1.0
    } else if f <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_matches_f64_round() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut cases = vec![
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            0.49999999999999994,
            -0.49999999999999994,
            254.5,
            255.49999999999997,
            4503599627370495.5,
            -4503599627370495.5,
            4503599627370496.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            3.0,
            -7.0,
        ];
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push((x >> 11) as f64 / (1u64 << 40) as f64 - 4096.0);
            cases.push(f64::from_bits(x));
        }
        for v in cases {
            let (ours, std) = (round(v), v.round());
            assert!(
                ours == std || (ours.is_nan() && std.is_nan()),
                "{v}: {ours} vs {std}"
            );
        }
    }

    #[test]
    fn tiff_round_trip_and_names() {
        for d in DataType::ALL {
            assert_eq!(
                DataType::from_tiff(d.tiff_sample_format(), d.bits()),
                Some(d)
            );
            assert_eq!(d.name().parse::<DataType>(), Ok(d));
            assert_eq!(
                serde_json::to_string(&d).ok(),
                Some(format!("\"{}\"", d.name()))
            );
        }
        assert_eq!(DataType::from_tiff(3, 16), None);
    }

    #[test]
    fn clamp_rounds_and_saturates() {
        assert_eq!(DataType::Uint8.clamp(300.0), 255.0);
        assert_eq!(DataType::Uint8.clamp(-3.0), 0.0);
        assert_eq!(DataType::Int16.clamp(2.5), 3.0);
        assert_eq!(DataType::Float32.clamp(0.1), f64::from(0.1f32));
    }

    #[test]
    fn le_round_trip() {
        for d in DataType::ALL {
            let mut buf = Vec::new();
            d.write_le(d.clamp(-7.0), &mut buf);
            assert_eq!(buf.len(), d.size());
            assert_eq!(d.read_le(&buf), Some(d.clamp(-7.0)));
            assert_eq!(d.read_le(&buf[..buf.len() - 1]), None);
        }
    }

    #[test]
    fn representable_nodata() {
        assert!(DataType::Uint8.can_represent(255.0));
        assert!(!DataType::Uint8.can_represent(-1.0));
        assert!(!DataType::Int16.can_represent(0.5));
        assert!(DataType::Float32.can_represent(f64::NAN));
        assert!(!DataType::Float32.can_represent(-3.4e38));
        assert!(DataType::Float32.can_represent(f64::from(-3.4e38f32)));
    }
}
