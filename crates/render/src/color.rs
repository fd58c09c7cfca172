//! Colour values as django-raster accepts them: hex strings (`hex_to_rgba`) or RGB(A) lists.

use serde_json::Value;

/// Parses a hex colour exactly as django-raster's `hex_to_rgba(value, alpha)`:
/// leading `#`s are stripped, the rest must be 1, 2, 3 or 6 alphanumeric characters, and a
/// short form is *repeated* to six characters (`"abc"` becomes `"abcabc"`, not CSS's
/// `"aabbcc"`). Lengths 4, 5 and above 6 are errors, as are non-hex characters.
pub fn hex_to_rgba(value: &str, alpha: u8) -> Result<[u8; 4], String> {
    let hex = value.trim_start_matches('#');
    let invalid = || format!("invalid color {value:?} (expected #RGB, #RRGGBB or [r, g, b])");
    // Python's isalnum() + int(.., 16): only ASCII hex digits survive both (int() would
    // take non-ASCII Unicode digits, which no colour picker emits; we reject them).
    if !matches!(hex.len(), 1 | 2 | 3 | 6) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let six: Vec<u8> = hex.bytes().cycle().take(6).collect();
    let channel = |i: usize| -> Result<u8, String> {
        let pair = six.get(i..i + 2).ok_or_else(invalid)?;
        let text = std::str::from_utf8(pair).map_err(|_| invalid())?;
        u8::from_str_radix(text, 16).map_err(|_| invalid())
    };
    Ok([channel(0)?, channel(2)?, channel(4)?, alpha])
}

/// A colour from JSON: a hex string, or a list of 3 or 4 numbers in 0..=255 (django-raster
/// passes lists through unchanged; a 3-element list gets alpha 255 so it can be painted).
pub fn color_value(v: &Value) -> Result<[u8; 4], String> {
    match v {
        Value::String(s) => hex_to_rgba(s, 255),
        Value::Array(items) if matches!(items.len(), 3 | 4) => {
            let mut out = [0, 0, 0, 255];
            for (slot, item) in out.iter_mut().zip(items) {
                *slot = channel_value(item)?;
            }
            Ok(out)
        }
        other => Err(format!(
            "invalid color {other} (expected a hex string or [r, g, b(, a)])"
        )),
    }
}

/// One channel: a number in 0..=255 (fractions truncate, as numpy's uint8 cast does).
pub(crate) fn channel_value(v: &Value) -> Result<u8, String> {
    v.as_f64()
        .filter(|c| (0.0..256.0).contains(c))
        .map(|c| c as u8)
        .ok_or_else(|| format!("invalid color channel {v} (expected 0..255)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeats_short_forms() {
        assert_eq!(hex_to_rgba("#abc", 255), Ok([171, 202, 188, 255]));
        assert_eq!(hex_to_rgba("##1", 7), Ok([17, 17, 17, 7]));
        assert!(hex_to_rgba("#abcd", 255).is_err());
        assert!(hex_to_rgba("#éé", 255).is_err());
    }

    #[test]
    fn lists_pass_through() {
        assert_eq!(color_value(&json!([1, 2, 3])), Ok([1, 2, 3, 255]));
        assert_eq!(color_value(&json!([1, 2, 3, 4])), Ok([1, 2, 3, 4]));
        assert!(color_value(&json!([1, 2, 300])).is_err());
        assert!(color_value(&json!([1, 2])).is_err());
        assert!(color_value(&json!(255)).is_err());
    }
}
