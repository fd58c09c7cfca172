//! The neighbourhood functions' syntax: what parses, how it prints back, what is refused
//! and why, and the halo and work a formula declares.

#![allow(clippy::panic)]

use tilefn_algebra::{Expr, Node, Shape};

fn parse(src: &str) -> Expr {
    Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn error(src: &str) -> String {
    match Expr::parse(src) {
        Ok(e) => panic!("{src} parsed as {e}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn neighbourhoods_parse_and_print_back() {
    let cases = [
        ("focal_mean(a, 3)", "focal_mean(a, square(1))"),
        ("focal_max(a,circle(2.5))", "focal_max(a, circle(2.5))"),
        (
            "focal_sum(a + 1, annulus(1, 3))",
            "focal_sum(a + 1, annulus(1, 3))",
        ),
        ("focal_mode(a, nesw(2))", "focal_mode(a, nesw(2))"),
        (
            "focal_std(a, wedge(3, 270, 90))",
            "focal_std(a, wedge(3, 270, 90))",
        ),
        ("slope(a)", "slope(a)"),
        ("hillshade(a)", "hillshade(a, 315, 45)"),
        ("hillshade(a, 270)", "hillshade(a, 270, 45)"),
        (
            "hillshade(a) * (slope(a) > 20)",
            "hillshade(a, 315, 45) * (slope(a) > 20)",
        ),
    ];
    for (src, canonical) in cases {
        let e = parse(src);
        assert_eq!(e.to_string(), canonical, "{src}");
        assert!(parse(canonical).same_tree(&e), "{src}");
    }
    let Node::Focal(_, shape, _) = parse("focal_min(x, 33)").node else {
        panic!("not a focal node")
    };
    assert_eq!(shape, Shape::Square(16));
}

#[test]
fn halo_and_work_are_known_from_the_text() {
    assert_eq!(parse("a + 1").halo(), 0);
    assert_eq!(parse("a + 1").neighbourhood_work(), 0);
    assert_eq!(parse("slope(a)").halo(), 1);
    assert_eq!(parse("slope(focal_mean(a, 5))").halo(), 3);
    assert_eq!(parse("slope(a) + focal_max(a, circle(2.5))").halo(), 3);
    // A whole-layer reduction is not evaluated on the tile's grid.
    assert_eq!(parse("a - max(focal_mean(a, 9))").halo(), 0);
    assert_eq!(parse("focal_mean(a, 3)").neighbourhood_work(), 9);
    assert_eq!(parse("focal_median(a, 3)").neighbourhood_work(), 72);
    assert_eq!(
        parse("hillshade(a) * (slope(a) > 20)").neighbourhood_work(),
        18
    );
}

#[test]
fn bad_neighbourhoods_are_refused_with_a_reason() {
    let cases = [
        ("focal_mean(a)", "a neighbourhood"),
        ("focal_mean(a, 4)", "an odd width"),
        ("focal_mean(a, 35)", "radius limit"),
        ("focal_mean(a, b)", "a neighbourhood"),
        ("focal_mean(a, 1 + 2)", "`)`"),
        ("focal_mean(a, circle(17))", "radius limit"),
        ("focal_mean(a, square(1.5))", "a whole radius"),
        ("focal_mean(a, annulus(3, 1))", "inner radius"),
        ("focal_mean(a, wedge(2, 0, 400))", "an angle"),
        ("focal_mean(a, circle(1, 2))", "`)`"),
        ("focal_mean(a, hexagon(1))", "a neighbourhood"),
        ("slope(a, 3)", "`)`"),
        ("hillshade(a, 315, 95)", "an altitude"),
        ("hillshade(a, b)", "a number"),
        ("circle(2)", "a known function"),
        ("slope + 1", "`(`"),
        (
            "focal_max(focal_max(focal_max(focal_max(focal_max(a, 33), 33), 33), 33), 33)",
            "halo limit",
        ),
    ];
    for (src, wanted) in cases {
        let message = error(src);
        assert!(message.contains(wanted), "{src}: {message}");
    }
}
