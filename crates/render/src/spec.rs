//! Parsing of the style parameters (`colormap=`, a legend's JSON, `rescale=`, `entries=`)
//! into an uncompiled [`Spec`]. Everything here is hostile input: sizes are capped before
//! anything is built and every error names the parameter.

use serde_json::{Map, Value};

use crate::color::{channel_value, color_value};
use crate::continuous::Ramp;
use crate::error::RenderError;

/// Largest `colormap=` JSON accepted, in bytes.
pub const MAX_COLORMAP_BYTES: usize = 64 * 1024;
/// Most keys in a colormap or entries in a legend.
pub const MAX_ENTRIES: usize = 1024;

/// One discrete key: a number (`"4"`, `"4.0"`) or a formula in `x`, and its colour.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub color: [u8; 4],
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Spec {
    /// Keys in insertion order; later keys overwrite earlier ones.
    Discrete(Vec<Entry>),
    /// `range: None` = the layer's min/max, else the tile's own.
    Continuous {
        ramp: Ramp,
        range: Option<(f64, f64)>,
    },
}

/// `colormap=`: URL-decoded JSON of a discrete or continuous colormap dict.
pub(crate) fn parse_colormap_param(text: &str) -> Result<Spec, RenderError> {
    let bad = |m: String| RenderError::bad("colormap", m);
    if text.len() > MAX_COLORMAP_BYTES {
        return Err(bad(format!(
            "{} bytes is more than the {MAX_COLORMAP_BYTES} allowed",
            text.len()
        )));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    match &value {
        Value::Object(map) => parse_colormap_object(map).map_err(bad),
        _ => Err(bad(
            "expected a JSON object such as {\"1\": \"#FF0000\"}".into()
        )),
    }
}

/// A legend: a list of entries `{"expression", "color", "name"}`, an object with `"entries"`
/// (plus optional `"title"`, `"description"`), or a colormap dict (discrete or continuous).
pub(crate) fn parse_legend(value: &Value) -> Result<Spec, String> {
    match value {
        Value::Array(entries) => parse_entries_list(entries),
        Value::Object(map) => match map.get("entries") {
            Some(Value::Array(entries)) if !map.contains_key("continuous") => {
                parse_entries_list(entries)
            }
            Some(_) if !map.contains_key("continuous") => {
                Err("\"entries\" must be a list of {expression, color, name}".into())
            }
            _ => parse_colormap_object(map),
        },
        _ => Err("a legend is a list of entries or an object".into()),
    }
}

fn parse_entries_list(entries: &[Value]) -> Result<Spec, String> {
    check_count(entries.len())?;
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let obj = e
            .as_object()
            .ok_or_else(|| format!("entry {i} is not an object"))?;
        let key = match obj.get("expression") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(format!(
                    "entry {i} needs an \"expression\" (number or formula)"
                ));
            }
        };
        let color = obj
            .get("color")
            .ok_or_else(|| format!("entry {i} needs a \"color\""))
            .and_then(|c| color_value(c).map_err(|m| format!("entry {i}: {m}")))?;
        let name = match obj.get("name") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        out.push(Entry { key, color, name });
    }
    Ok(Spec::Discrete(out))
}

/// django-raster's colormap dict: continuous if it has a `continuous` key (whatever its
/// value), else `{key: colour}` in insertion order.
fn parse_colormap_object(map: &Map<String, Value>) -> Result<Spec, String> {
    if map.contains_key("continuous") {
        return parse_continuous(map);
    }
    check_count(map.len())?;
    map.iter()
        .map(|(key, c)| {
            let color = color_value(c).map_err(|m| format!("key {key:?}: {m}"))?;
            Ok(Entry {
                key: key.clone(),
                color,
                name: None,
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Spec::Discrete)
}

fn parse_continuous(map: &Map<String, Value>) -> Result<Spec, String> {
    let rgb = |name: &str| -> Result<Option<[f64; 3]>, String> {
        let Some(v) = map.get(name) else {
            return Ok(None);
        };
        // django-raster converts hex strings with hex_to_rgba; lists stay as given (their
        // 4th element, if any, is ignored).
        let c = match v {
            Value::Array(items) if items.len() >= 3 => {
                let mut c = [0.0; 3];
                for (slot, item) in c.iter_mut().zip(items) {
                    *slot = f64::from(channel_value(item).map_err(|m| format!("{name}: {m}"))?);
                }
                c
            }
            _ => {
                let [r, g, b, _] = color_value(v).map_err(|m| format!("{name}: {m}"))?;
                [f64::from(r), f64::from(g), f64::from(b)]
            }
        };
        Ok(Some(c))
    };
    let from = rgb("from")?.ok_or("a continuous colormap needs \"from\"")?;
    let to = rgb("to")?.ok_or("a continuous colormap needs \"to\"")?;
    let over = rgb("over")?;
    let range = match map.get("range") {
        None | Some(Value::Null) => None,
        Some(Value::Array(r)) if r.len() == 2 => {
            let lo = r.first().and_then(Value::as_f64);
            let hi = r.get(1).and_then(Value::as_f64);
            match (lo, hi) {
                (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() => Some((lo, hi)),
                _ => return Err("\"range\" must be two finite numbers".into()),
            }
        }
        Some(_) => return Err("\"range\" must be [min, max]".into()),
    };
    Ok(Spec::Continuous {
        ramp: Ramp { from, to, over },
        range,
    })
}

fn check_count(n: usize) -> Result<(), String> {
    if n > MAX_ENTRIES {
        Err(format!(
            "{n} entries is more than the {MAX_ENTRIES} allowed"
        ))
    } else {
        Ok(())
    }
}

/// `rescale=lo,hi`: two finite numbers.
pub(crate) fn parse_rescale(text: &str) -> Result<(f64, f64), RenderError> {
    let bad = || RenderError::bad("rescale", format!("{text:?} is not \"min,max\""));
    let (lo, hi) = text.split_once(',').ok_or_else(bad)?;
    let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
    if !lo.is_finite() || !hi.is_finite() {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// `entries=a,b`: keeps only the keys listed, compared as strings (django-raster splits the
/// parameter on commas, so a formula containing a comma cannot be selected).
pub(crate) fn filter_entries(entries: Vec<Entry>, text: &str) -> Result<Vec<Entry>, RenderError> {
    if text.len() > MAX_COLORMAP_BYTES {
        return Err(RenderError::bad("entries", "too long"));
    }
    let keep: Vec<&str> = text.split(',').collect();
    if keep.len() > MAX_ENTRIES {
        return Err(RenderError::bad(
            "entries",
            format!("more than {MAX_ENTRIES} keys"),
        ));
    }
    Ok(entries
        .into_iter()
        .filter(|e| keep.contains(&e.key.as_str()))
        .collect())
}

/// Python's `float(key)`: surrounding whitespace allowed, `inf`/`nan` spellings, and `_`
/// only between digits. `None` means the key is a formula.
pub(crate) fn python_float(key: &str) -> Option<f64> {
    let s = key.trim();
    if s.contains('_') {
        let b = s.as_bytes();
        let ok = b.iter().enumerate().all(|(i, c)| {
            *c != b'_'
                || (i > 0
                    && b.get(i - 1).is_some_and(u8::is_ascii_digit)
                    && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        });
        return if ok {
            s.replace('_', "").parse().ok()
        } else {
            None
        };
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_float_rules() {
        assert_eq!(python_float("4"), Some(4.0));
        assert_eq!(python_float(" 4.0 "), Some(4.0));
        assert_eq!(python_float("1_000"), Some(1000.0));
        assert_eq!(python_float("1__0"), None);
        assert_eq!(python_float("_1"), None);
        assert_eq!(python_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(python_float("nan").is_some_and(f64::is_nan));
        assert_eq!(python_float("x > 1"), None);
    }

    #[test]
    fn legend_shapes() {
        let entry = json!({"expression": "3", "color": "#FF0000", "name": "three"});
        let want = Spec::Discrete(vec![Entry {
            key: "3".into(),
            color: [255, 0, 0, 255],
            name: Some("three".into()),
        }]);
        assert_eq!(parse_legend(&json!([entry.clone()])), Ok(want.clone()));
        let obj = json!({"title": "t", "entries": [entry]});
        assert_eq!(parse_legend(&obj), Ok(want));
        let numeric = json!([{"expression": 3, "color": "#FF0000"}]);
        assert!(matches!(parse_legend(&numeric), Ok(Spec::Discrete(e)) if e[0].key == "3"));
        let cont = json!({"continuous": true, "from": "#000", "to": [255, 255, 255]});
        assert!(matches!(
            parse_legend(&cont),
            Ok(Spec::Continuous { range: None, .. })
        ));
        assert!(parse_legend(&json!([{"color": "#FF0000"}])).is_err());
        assert!(parse_legend(&json!("x")).is_err());
    }

    #[test]
    fn colormap_param_limits_and_order() {
        let Ok(Spec::Discrete(e)) = parse_colormap_param(r##"{"b": "#000", "a": "#111"}"##) else {
            panic!("discrete");
        };
        assert_eq!(e[0].key, "b", "insertion order is kept");
        let err = parse_colormap_param("[1]").unwrap_err();
        assert!(matches!(
            err,
            RenderError::BadParam {
                param: "colormap",
                ..
            }
        ));
        let big = format!("{{\"1\": \"{}\"}}", "a".repeat(MAX_COLORMAP_BYTES));
        assert!(parse_colormap_param(&big).is_err());
        let many: Map<String, Value> = (0..=MAX_ENTRIES)
            .map(|i| (i.to_string(), json!("#000")))
            .collect();
        let text = Value::Object(many).to_string();
        assert!(parse_colormap_param(&text).is_err());
        assert!(parse_colormap_param(r#"{"continuous": 1, "from": [0,0,0]}"#).is_err());
        assert!(
            parse_colormap_param(r#"{"continuous": 1, "from": "0", "to": "f", "range": [0, "a"]}"#)
                .is_err()
        );
    }

    #[test]
    fn rescale_and_entries() {
        assert_eq!(parse_rescale("0, 10"), Ok((0.0, 10.0)));
        assert!(parse_rescale("0").is_err());
        assert!(parse_rescale("a,b").is_err());
        assert!(parse_rescale("0,inf").is_err());
        let e = |k: &str| Entry {
            key: k.into(),
            color: [0; 4],
            name: None,
        };
        let kept = filter_entries(vec![e("4"), e("5"), e("x>1")], "4,x>1").unwrap();
        assert_eq!(kept, vec![e("4"), e("x>1")]);
    }
}
