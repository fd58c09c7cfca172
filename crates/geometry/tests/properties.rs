#![allow(clippy::expect_used)]
//! Properties over random input: any text parses to an area or an error (never a panic),
//! and the scanline fill equals an even-odd test of every pixel centre on random polygons.

use proptest::prelude::*;
use tilefn_geometry::{Area, Crs, Limits, Polygon, parse_text, rasterize};
use tilefn_raster::mercator::{ORIGIN_SHIFT, resolution};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_is_an_area_or_an_error(text in ".{0,300}") {
        for crs in [Crs::LonLat, Crs::WebMercator] {
            if let Ok(input) = parse_text(&text, crs, &Limits::default()) {
                for f in &input.features {
                    let _ = rasterize(&f.area, 12, 100_000);
                }
            }
        }
    }

    #[test]
    fn structured_wkt_never_panics(
        coords in prop::collection::vec((-200.0f64..200.0, -100.0f64..100.0), 0..12),
        close in any::<bool>(),
    ) {
        let mut pts: Vec<String> = coords.iter().map(|(x, y)| format!("{x} {y}")).collect();
        if close && !pts.is_empty() {
            pts.push(pts[0].clone());
        }
        let text = format!("POLYGON (({}))", pts.join(", "));
        let _ = parse_text(&text, Crs::LonLat, &Limits::default());
    }

    /// Star-shaped polygons around a centre, in zoom-4 pixel coordinates inside a 64-pixel
    /// square: every pixel's membership equals the even-odd rule at its centre.
    #[test]
    fn fill_equals_even_odd(
        radii in prop::collection::vec(1.0f64..30.0, 3..16),
        cx in 30.0f64..34.0,
        cy in 30.0f64..34.0,
    ) {
        let n = radii.len();
        let mut ring: Vec<[f64; 2]> = radii
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                [cx + r * a.cos(), cy + r * a.sin()]
            })
            .collect();
        ring.push(ring[0]);
        let res = resolution(4);
        let metres: Vec<[f64; 2]> = ring
            .iter()
            .map(|p| [p[0] * res - ORIGIN_SHIFT, ORIGIN_SHIFT - p[1] * res])
            .collect();
        let area = Area { polygons: vec![Polygon { rings: vec![metres.clone()] }] };
        let spans = rasterize(&area, 4, 1 << 20).expect("within the work cap");
        for row in 0..64u64 {
            for col in 0..64u64 {
                // The centre in metres, tested against the ring in metres: the same
                // arithmetic as the fill's inputs, so only exact ties could differ.
                let (x, y) = (
                    (col as f64 + 0.5) * res - ORIGIN_SHIFT,
                    ORIGIN_SHIFT - (row as f64 + 0.5) * res,
                );
                let mut odd = false;
                for w in metres.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    if (a[1] > y) != (b[1] > y)
                        && x < a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
                    {
                        odd = !odd;
                    }
                }
                let filled = row
                    .checked_sub(spans.row0)
                    .and_then(|i| spans.rows.get(i as usize))
                    .is_some_and(|runs| runs.iter().any(|(a, b)| (*a..*b).contains(&col)));
                prop_assert_eq!(filled, odd, "pixel ({}, {})", col, row);
            }
        }
    }
}
