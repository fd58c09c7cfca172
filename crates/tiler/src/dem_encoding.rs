//! `encoding=terrarium|mapbox` on `/tiles/{layer}/{z}/{x}/{y}.png`: the tile's raw values of
//! band 0 packed into RGB for MapLibre's `raster-dem` sources (3D terrain, hillshade layers),
//! by `tilefn_render::encode_dem_png`. This file parses the parameter and refuses what cannot
//! go with it; the tile itself is read exactly as `/tiles` reads it (over-zoom, under-zoom,
//! 204 outside the layer or where no pixel is valid).
//!
//! The parameter is a tile *format*, not a style: the response is elevations, so the style
//! and enhancement parameters, which colour values, would silently do nothing. They are a
//! 400 instead, like any other parameter that cannot apply, and so is a JPEG or GeoTIFF
//! extension (raster-dem tiles are lossless PNGs; `.tif` already has the raw values).

use tilefn_render::DemEncoding;

use crate::TileError;
use crate::route::{Format, StyleQuery, printable};

/// The `encoding=` of a `/tiles` URL: `None` without one; a 400 naming `encoding` when its
/// value is unknown, the extension is not `.png`, or style parameters come with it.
pub(crate) fn dem_encoding(
    query: &str,
    format: Format,
    style: &StyleQuery,
) -> Result<Option<DemEncoding>, TileError> {
    // A repeated parameter keeps its last value, as the style parameters do.
    let Some(value) = form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == "encoding")
        .map(|(_, value)| value.trim().to_owned())
        .last()
    else {
        return Ok(None);
    };
    let encoding = DemEncoding::from_name(&value).ok_or_else(|| {
        let names: Vec<&str> = DemEncoding::ALL.iter().map(|e| e.name()).collect();
        TileError::bad(
            "encoding",
            format!(
                "expected {} (MapLibre raster-dem encodings), got {}",
                names.join(" or "),
                printable(&value)
            ),
        )
    })?;
    if format != Format::Png {
        return Err(TileError::bad(
            "encoding",
            format!(
                "raster-dem tiles are PNG: use .png, not .{} (.tif without encoding= has the raw values)",
                format.ext()
            ),
        ));
    }
    let styled = style_parameters(style);
    if !styled.is_empty() {
        return Err(TileError::bad(
            "encoding",
            format!(
                "returns raw elevations, which are not coloured: {} do(es) not apply",
                styled.join(", ")
            ),
        ));
    }
    Ok(Some(encoding))
}

/// The parameters of `style` that colour a tile (everything but `v=`), by their URL names.
fn style_parameters(style: &StyleQuery) -> Vec<&'static str> {
    let e = &style.enhance;
    [
        ("legend", style.legend.is_some()),
        ("colormap", style.colormap.is_some()),
        ("colormap_name", style.colormap_name.is_some()),
        ("rescale", style.rescale.is_some()),
        ("entries", style.entries.is_some()),
        ("enhance_color", e.color != 1.0),
        ("enhance_contrast", e.contrast != 1.0),
        ("enhance_brightness", e.brightness != 1.0),
        ("enhance_sharpness", e.sharpness != 1.0),
    ]
    .into_iter()
    .filter_map(|(name, given)| given.then_some(name))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Route, parse};

    /// The `encoding` of `/tiles/dem/3/4/2.{ext}?{query}`, or the error's text.
    fn encoding_of(ext: &str, query: &str) -> Result<Option<DemEncoding>, String> {
        match parse(&format!("/tiles/dem/3/4/2.{ext}"), query) {
            Ok(Route::Tile(t)) => Ok(t.encoding),
            Ok(other) => Err(format!("not a tile: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn encodings_parse_and_the_last_one_wins() {
        assert_eq!(encoding_of("png", ""), Ok(None));
        assert_eq!(
            encoding_of("png", "encoding=terrarium"),
            Ok(Some(DemEncoding::Terrarium))
        );
        assert_eq!(
            encoding_of("png", "encoding=terrarium&encoding=%20mapbox"),
            Ok(Some(DemEncoding::Mapbox))
        );
        // `v=` pins a version; it is not a style.
        assert_eq!(
            encoding_of("png", "encoding=mapbox&v=abc&enhance_color=1"),
            Ok(Some(DemEncoding::Mapbox))
        );
    }

    #[test]
    fn bad_combinations_are_400s_naming_encoding() {
        for (ext, query, says) in [
            ("png", "encoding=", "expected terrarium or mapbox"),
            ("png", "encoding=Terrain-RGB", "got \"Terrain-RGB\""),
            ("jpg", "encoding=terrarium", "use .png, not .jpg"),
            ("tif", "encoding=mapbox", "not .tif"),
            (
                "png",
                "encoding=terrarium&colormap_name=viridis",
                "colormap_name do",
            ),
            (
                "png",
                "rescale=0,1&legend=x&encoding=mapbox",
                "legend, rescale do",
            ),
            (
                "png",
                "encoding=mapbox&enhance_contrast=2",
                "enhance_contrast",
            ),
            ("png", "encoding=mapbox&entries=a", "entries"),
            ("png", "encoding=mapbox&colormap=%7B%7D", "colormap do"),
        ] {
            let err = encoding_of(ext, query).err().unwrap_or_default();
            assert!(err.starts_with("encoding: "), "{ext}?{query}: {err}");
            assert!(err.contains(says), "{ext}?{query}: {err}");
        }
        // A malformed style parameter is reported as itself.
        let err = encoding_of("png", "encoding=mapbox&rescale=1").err();
        assert!(err.is_some_and(|e| e.starts_with("rescale:")));
    }
}
