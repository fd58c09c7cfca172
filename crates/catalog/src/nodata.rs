//! JSON has no NaN or infinity, yet NaN is the most common float nodata. Nodata values are
//! written as numbers when finite and as the strings "nan", "inf" and "-inf" otherwise, the
//! spellings GDAL uses in its GDAL_NODATA tag.

pub mod nodata_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(x) if x.is_nan() => s.serialize_str("nan"),
            Some(x) if x.is_infinite() => s.serialize_str(if *x > 0.0 { "inf" } else { "-inf" }),
            Some(x) => s.serialize_f64(*x),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(f64),
        Str(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        let raw: Option<Raw> = Option::deserialize(d)?;
        Ok(match raw {
            None => None,
            Some(Raw::Num(x)) => Some(x),
            Some(Raw::Str(s)) => Some(match s.to_ascii_lowercase().as_str() {
                "nan" => f64::NAN,
                "inf" | "+inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                other => other.parse().map_err(serde::de::Error::custom)?,
            }),
        })
    }
}
