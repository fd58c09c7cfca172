//! Property tests: the pretty-printer round-trips random trees, and no input string makes
//! parsing or evaluation panic (a stand-in for the cargo-fuzz target in `fuzz/`).

use proptest::prelude::*;
use tilefn_algebra::{
    BinaryOp, Bindings, Column, Constant, Expr, Func, Node, ReduceFn, Reduction, Span, UnaryOp,
    evaluate,
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

/// Random well-formed trees (NULL only beside == / !=, arities right).
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
            (prop::sample::select(REDUCE.to_vec()), inner)
                .prop_map(|(f, x)| e(Node::Reduce(f, Box::new(x)))),
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
        if let Ok(out) = evaluate(&expr, VALUES.len(), &AnyVars) {
            assert_eq!((out.values.len(), out.valid.len()), (4, 4));
            for (v, ok) in out.values.iter().zip(&out.valid) {
                assert!(!(*ok && v.is_nan()), "{src:?}: NaN marked valid");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn display_round_trips(expr in tree()) {
        let text = expr.to_string();
        let parsed = Expr::parse(&text);
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
    fn arbitrary_text_never_panics(src in ".{0,64}") {
        parse_and_evaluate(&src);
    }

    /// Text built from the language's own tokens reaches deeper than random characters.
    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(vec![
        "x", "y", "1", "2.5", "1e999", "0", "(", ")", ",", "+", "-", "*", "/", "^", "==", "!=", ">", ">=",
        "<", "<=", "&", "|", "!", "~", "NULL", "TRUE", "INF", "PI", "sin(", "min(", "max(", "where(",
        "clamp(", "median(", "sum(", "log(", " ", "=", "_", ".",
    ]), 0..40)) {
        parse_and_evaluate(&tokens.concat());
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
