//! Property tests: the pretty-printer round-trips random trees (neighbourhood functions
//! included), no input string makes parsing or evaluation panic (a stand-in for the
//! cargo-fuzz target in `fuzz/`), and no grid makes `evaluate_grid` panic, however small or
//! inconsistent.

use proptest::prelude::*;
use tilefn_algebra::{
    BinaryOp, Bindings, Column, Constant, Expr, FocalStat, Func, Grid, Limits, MAX_RADIUS, Method,
    Node, ReduceFn, Reduction, Shape, Span, TerrainOp, TerrainSettings, UnaryOp, evaluate,
    evaluate_grid,
};

fn e(node: Node) -> Expr {
    Expr::new(node, Span::default())
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        prop_oneof![
            0.0..1e6f64,
            (0u32..1000).prop_map(f64::from),
            1e-9..1e-3f64,
            1e200..1e300f64
        ]
        .prop_map(|n| e(Node::Number(n))),
        Just(e(Node::Number(f64::INFINITY))),
        prop::sample::select(vec![
            Constant::E,
            Constant::Pi,
            Constant::True,
            Constant::False,
            Constant::Inf
        ])
        .prop_map(|c| e(Node::Constant(c))),
        prop::sample::select(vec!["x", "y", "a_1", "e", "pi", "INFx", "B2"])
            .prop_map(|v| e(Node::Variable(v.to_string()))),
    ]
}

const BINARY: [BinaryOp; 13] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Pow,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::Gt,
    BinaryOp::Ge,
    BinaryOp::Lt,
    BinaryOp::Le,
    BinaryOp::And,
    BinaryOp::Or,
];

const ONE_ARG: [Func; 10] = [
    Func::Sin,
    Func::Cos,
    Func::Tan,
    Func::Log,
    Func::Exp,
    Func::Abs,
    Func::Int,
    Func::Round,
    Func::Sign,
    Func::Sqrt,
];

const REDUCE: [ReduceFn; 6] = [
    ReduceFn::Min,
    ReduceFn::Max,
    ReduceFn::Mean,
    ReduceFn::Median,
    ReduceFn::Std,
    ReduceFn::Sum,
];

const FOCAL: [FocalStat; 7] = FocalStat::ALL;

/// A radius the parser accepts: whole or fractional, 0 to the limit.
fn radius() -> impl Strategy<Value = f64> {
    let max = f64::from(MAX_RADIUS);
    prop_oneof![(0..=MAX_RADIUS).prop_map(f64::from), 0.0..=max]
}

/// Literal neighbourhoods within the limits, in every form the parser reads.
fn shape() -> impl Strategy<Value = Shape> {
    let angle = || prop_oneof![(0u32..=360).prop_map(f64::from), 0.0..=360.0f64];
    prop_oneof![
        (0..=MAX_RADIUS).prop_map(Shape::Square),
        (0..=MAX_RADIUS).prop_map(Shape::Nesw),
        radius().prop_map(Shape::Circle),
        (radius(), radius()).prop_map(|(a, b)| Shape::Annulus(a.min(b), a.max(b))),
        (radius(), angle(), angle()).prop_map(|(r, s, e)| Shape::Wedge(r, s, e)),
    ]
}

fn terrain_op() -> impl Strategy<Value = TerrainOp> {
    prop_oneof![
        Just(TerrainOp::Slope),
        Just(TerrainOp::Aspect),
        (
            prop_oneof![(0u32..=360).prop_map(f64::from), 0.0..=360.0f64],
            prop_oneof![(0u32..=90).prop_map(f64::from), 0.0..=90.0f64],
        )
            .prop_map(|(azimuth, altitude)| TerrainOp::Hillshade { azimuth, altitude }),
    ]
}

/// Random well-formed trees (NULL only beside == / !=, arities right, neighbourhoods
/// literal); their halo may break the limit, which the round trip then expects refused.
fn tree() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(6, 64, 4, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec![
                    UnaryOp::Neg,
                    UnaryOp::Plus,
                    UnaryOp::Not,
                    UnaryOp::Fill
                ]),
                inner.clone()
            )
                .prop_map(|(op, x)| e(Node::Unary(op, Box::new(x)))),
            (
                prop::sample::select(BINARY.to_vec()),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, l, r)| e(Node::Binary(op, Box::new(l), Box::new(r)))),
            (
                prop::sample::select(vec![BinaryOp::Eq, BinaryOp::Ne]),
                inner.clone(),
                any::<bool>()
            )
                .prop_map(|(op, x, null_left)| {
                    let null = Box::new(e(Node::Null));
                    let x = Box::new(x);
                    e(if null_left {
                        Node::Binary(op, null, x)
                    } else {
                        Node::Binary(op, x, null)
                    })
                }),
            (prop::sample::select(ONE_ARG.to_vec()), inner.clone())
                .prop_map(|(f, x)| e(Node::Call(f, vec![x]))),
            (
                prop::sample::select(vec![Func::Min, Func::Max]),
                prop::collection::vec(inner.clone(), 2..4)
            )
                .prop_map(|(f, args)| e(Node::Call(f, args))),
            (
                prop::sample::select(vec![Func::Where, Func::Clamp]),
                prop::collection::vec(inner.clone(), 3)
            )
                .prop_map(|(f, args)| e(Node::Call(f, args))),
            (prop::sample::select(REDUCE.to_vec()), inner.clone())
                .prop_map(|(f, x)| e(Node::Reduce(f, Box::new(x)))),
            (prop::sample::select(FOCAL.to_vec()), shape(), inner.clone())
                .prop_map(|(f, s, x)| e(Node::Focal(f, s, Box::new(x)))),
            (terrain_op(), inner).prop_map(|(op, x)| e(Node::Terrain(op, Box::new(x)))),
        ]
    })
}

/// Binds every name to a 4-cell column with one invalid cell; every reduction is 1.5.
struct AnyVars;

const VALUES: [f64; 4] = [0.0, -2.5, 7.0, 1e300];
const VALID: [bool; 4] = [true, false, true, true];

impl Bindings for AnyVars {
    fn column(&self, _: &str) -> Option<Column<'_>> {
        Some(Column {
            values: &VALUES,
            valid: &VALID,
            nodata: Some(-9999.0),
        })
    }

    fn reduction(&self, _: &Reduction) -> Option<f64> {
        Some(1.5)
    }
}

/// Parses and, if that works, evaluates: must never panic, and the output must be whole.
fn parse_and_evaluate(src: &str) {
    if let Ok(expr) = Expr::parse(src) {
        let printed = expr.to_string();
        let again = Expr::parse(&printed);
        assert!(
            again.is_ok_and(|a| a.same_tree(&expr)),
            "{src:?} printed as {printed:?}"
        );
        let on_grids = [(2, 2), (4, 1), (1, 4)].map(|(width, height)| {
            let grid = Grid {
                width,
                height,
                pixel_size: vec![30.0; height],
                terrain: TerrainSettings::default(),
            };
            evaluate_grid(&expr, &grid, &AnyVars)
        });
        let plain = evaluate(&expr, VALUES.len(), &AnyVars);
        for out in on_grids.into_iter().chain([plain]).flatten() {
            assert_eq!((out.values.len(), out.valid.len()), (4, 4));
            for (v, ok) in out.values.iter().zip(&out.valid) {
                assert!(!(*ok && v.is_nan()), "{src:?}: NaN marked valid");
            }
        }
    }
}

/// A grid for `evaluate_grid` and what every name is bound to: any size up to 7×7 (0×0,
/// 1×N and N×1 included), values and flags of the grid's length or one off, pixel sizes
/// one per row or not, odd or not.
#[derive(Debug)]
struct GridCase {
    grid: Grid,
    values: Vec<f64>,
    valid: Vec<bool>,
}

impl Bindings for GridCase {
    fn column(&self, _: &str) -> Option<Column<'_>> {
        Some(Column {
            values: &self.values,
            valid: &self.valid,
            nodata: Some(-9999.0),
        })
    }

    fn reduction(&self, _: &Reduction) -> Option<f64> {
        Some(1.5)
    }
}

fn grid_case() -> impl Strategy<Value = GridCase> {
    let off_by = || prop_oneof![8 => Just(0isize), 1 => Just(-1isize), 1 => Just(1isize)];
    let cell = prop_oneof![
        6 => -1e4..1e4f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-9999.0),
    ];
    let size = prop_oneof![
        Just(30.0),
        Just(0.0),
        Just(-1.0),
        Just(f64::NAN),
        1e-3..1e5f64
    ];
    (0usize..8, 0usize..8, off_by(), off_by(), off_by()).prop_flat_map(
        move |(width, height, dv, dk, dp)| {
            let len = |d: isize, n: usize| n.saturating_add_signed(d);
            let cells = width * height;
            (
                prop::collection::vec(cell.clone(), len(dv, cells)),
                prop::collection::vec(any::<bool>(), len(dk, cells)),
                prop::collection::vec(size.clone(), len(dp, height)),
                prop_oneof![Just(Method::Horn), Just(Method::Zevenbergen)],
                prop_oneof![Just(1.0), Just(0.0), Just(-3.0), 1e-3..1e3f64],
            )
                .prop_map(move |(values, valid, pixel_size, method, z_factor)| {
                    GridCase {
                        grid: Grid {
                            width,
                            height,
                            pixel_size,
                            terrain: TerrainSettings { method, z_factor },
                        },
                        values,
                        valid,
                    }
                })
        },
    )
}

/// Evaluates `expr` over the case's grid: an error, or one value and flag per cell and no
/// NaN marked valid.
fn evaluate_on_grid(expr: &Expr, case: &GridCase) -> Result<(), TestCaseError> {
    let Ok(out) = evaluate_grid(expr, &case.grid, case) else {
        return Ok(());
    };
    let cells = case.grid.width * case.grid.height;
    prop_assert_eq!(
        (out.values.len(), out.valid.len()),
        (cells, cells),
        "{}",
        expr
    );
    for (v, ok) in out.values.iter().zip(&out.valid) {
        prop_assert!(!(*ok && v.is_nan()), "{}: NaN marked valid", expr);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn display_round_trips(expr in tree()) {
        let text = expr.to_string();
        let parsed = Expr::parse(&text);
        if expr.halo() > Limits::default().max_halo {
            let refused = parsed.is_err_and(|e| e.to_string().contains("halo limit"));
            prop_assert!(refused, "{text:?} is over the halo limit");
            return Ok(());
        }
        prop_assert!(parsed.is_ok(), "{text:?}: {parsed:?}");
        let parsed = parsed.unwrap_or_else(|_| e(Node::Null));
        prop_assert!(parsed.same_tree(&expr), "{text:?} parsed as {parsed}");
        // Canonical: printing the parsed tree gives the same text again.
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn printed_trees_evaluate_without_panic(expr in tree()) {
        parse_and_evaluate(&expr.to_string());
    }

    #[test]
    fn grids_of_any_shape_evaluate_without_panic(expr in tree(), case in grid_case()) {
        // Through the parser, as a request arrives: trees over the halo limit are refused.
        if let Ok(expr) = Expr::parse(&expr.to_string()) {
            evaluate_on_grid(&expr, &case)?;
        }
    }

    #[test]
    fn neighbourhoods_on_any_grid_never_panic(
        stat in prop::sample::select(FOCAL.to_vec()),
        shape in shape(),
        op in terrain_op(),
        case in grid_case(),
    ) {
        let a = || Box::new(e(Node::Variable("a".to_string())));
        evaluate_on_grid(&e(Node::Focal(stat, shape, a())), &case)?;
        evaluate_on_grid(&e(Node::Terrain(op, a())), &case)?;
    }

    #[test]
    fn arbitrary_text_never_panics(src in ".{0,64}") {
        parse_and_evaluate(&src);
    }

    /// Text built from the language's own tokens reaches deeper than random characters.
    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(vec![
        "x", "y", "1", "2.5", "1e999", "0", "(", ")", ",", "+", "-", "*", "/", "^", "==", "!=", ">", ">=",
        "<", "<=", "&", "|", "!", "~", "NULL", "TRUE", "INF", "PI", "sin(", "min(", "max(", "where(",
        "clamp(", "median(", "sum(", "log(", " ", "=", "_", ".",
        "focal_mean(", "focal_mode(", "focal_std(", "slope(", "aspect(", "hillshade(", "square(",
        "circle(", "annulus(", "nesw(", "wedge(", "3", "33", "35", "16", "17", "360", "-1", "2.5",
    ]), 0..40)) {
        parse_and_evaluate(&tokens.concat());
    }

    /// Neighbourhood calls with literal arguments good and bad: out of range, negative,
    /// not numbers, too many, too few.
    #[test]
    fn neighbourhood_calls_never_panic(
        func in prop::sample::select(vec![
            "focal_mean", "focal_max", "focal_median", "focal_mode", "slope", "aspect",
            "hillshade",
        ]),
        shape in prop::sample::select(vec![
            "", "square", "circle", "annulus", "nesw", "wedge", "hexagon",
        ]),
        args in prop::collection::vec(prop::sample::select(vec![
            "0", "1", "2.5", "16", "16.0001", "17", "-1", "-0", "+2", "360", "361", "1e3",
            "1e999", "NaN", "x", "(", ")", ",", " ",
        ]), 0..5),
        sep in prop::sample::select(vec![",", ", ", " ", ""]),
    ) {
        let inner = args.join(sep);
        parse_and_evaluate(&format!("{func}(x{sep}{inner})"));
        parse_and_evaluate(&format!("{func}(x, {shape}({inner}))"));
        parse_and_evaluate(&format!("{func}(x, {inner}) + {func}(x, {shape}({inner}), 1)"));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        parse_and_evaluate(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn pathological_inputs_are_rejected_quickly() {
    for src in [
        "(".repeat(10_000),
        "-".repeat(4096),
        format!("{}1", "2^".repeat(2000)),
        format!("x{}", "+x".repeat(2000)),
        "sin(".repeat(1000),
        "\u{1F600}".repeat(1000),
    ] {
        assert!(Expr::parse(&src).is_err());
    }
}

#[test]
fn grids_too_large_to_exist_are_refused() {
    let expr = Expr::parse("focal_mean(a, 3) + slope(a)").unwrap_or_else(|e| panic!("{e}"));
    for (width, height) in [(usize::MAX, 2), (1 << 33, 1 << 33)] {
        let case = GridCase {
            grid: Grid {
                width,
                height,
                pixel_size: Vec::new(),
                terrain: TerrainSettings::default(),
            },
            values: vec![1.0; 4],
            valid: vec![true; 4],
        };
        assert!(evaluate_grid(&expr, &case.grid, &case).is_err());
    }
}
