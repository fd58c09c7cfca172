//! The language: precedence, operators, functions, NULL and `~`, errors and limits.
// Helpers outside #[test] fns fail loudly too.
#![allow(clippy::panic)]

use tilefn_algebra::{Bindings, Column, EvalError, Expr, Limits, Output, Reduction, evaluate};

/// Variables as (name, values, valid, nodata); reductions computed over the given arrays.
/// (name, values, valid, nodata)
type Var = (&'static str, Vec<f64>, Vec<bool>, Option<f64>);

struct Env(Vec<Var>);

impl Bindings for Env {
    fn column(&self, name: &str) -> Option<Column<'_>> {
        self.0.iter().find(|c| c.0 == name).map(|c| Column {
            values: &c.1,
            valid: &c.2,
            nodata: c.3,
        })
    }

    fn reduction(&self, r: &Reduction) -> Option<f64> {
        let len = self.0.first().map_or(1, |c| c.1.len());
        let out = evaluate(&r.arg, len, self).ok()?;
        r.func.apply(&out.values, &out.valid)
    }
}

fn x(values: &[f64]) -> Env {
    Env(vec![("x", values.to_vec(), vec![true; values.len()], None)])
}

fn eval(src: &str, env: &Env) -> Output {
    let len = env.0.first().map_or(1, |c| c.1.len());
    let expr = Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    evaluate(&expr, len, env).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn scalar(src: &str) -> f64 {
    let out = eval(src, &Env(vec![]));
    assert_eq!(out.values.len(), 1);
    out.values[0]
}

#[test]
fn legend_expressions() {
    let env = x(&[-1.0, 0.0, 0.5, 1.0, 2.0]);
    assert_eq!(eval("x > 0", &env).values, [0.0, 0.0, 1.0, 1.0, 1.0]);
    assert_eq!(eval("x<=0", &env).values, [1.0, 1.0, 0.0, 0.0, 0.0]);
    assert_eq!(
        eval("(x >= 0) & (x < 1)", &env).values,
        [0.0, 1.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(
        eval("x >= 0 & x < 1", &env).values,
        [0.0, 1.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(
        eval("x < 0 | x > 1", &env).values,
        [1.0, 0.0, 0.0, 0.0, 1.0]
    );
    assert_eq!(eval("!(x == 1)", &env).values, [1.0, 1.0, 1.0, 0.0, 1.0]);
    assert_eq!(eval("x == 0.5", &env).values, [0.0, 0.0, 1.0, 0.0, 0.0]);
    assert_eq!(eval("x != 0.5", &env).values, [1.0, 1.0, 0.0, 1.0, 1.0]);
    assert_eq!(
        eval("2 * x + 1 > 2", &env).values,
        [0.0, 0.0, 0.0, 1.0, 1.0]
    );
    assert_eq!(
        Expr::parse("(x > 0) & (x < 1)").map(|e| e.variables()),
        Ok(vec!["x".to_string()])
    );
}

#[test]
fn standard_precedence() {
    assert_eq!(scalar("1 + 2 * 3"), 7.0);
    assert_eq!(scalar("(1 + 2) * 3"), 9.0);
    assert_eq!(scalar("2 ^ 3 ^ 2"), 512.0);
    assert_eq!(scalar("-2^2"), -4.0);
    assert_eq!(scalar("2^-1"), 0.5);
    assert_eq!(scalar("-(1 + 2)"), -3.0);
    assert_eq!(scalar("!(1 > 2)"), 1.0);
    assert_eq!(scalar("1 + 2 > 2"), 1.0);
    assert_eq!(scalar("3 > 2 > 1"), 0.0);
    assert_eq!(scalar("1 | 0 & 0"), 1.0);
    assert_eq!(scalar("10 - 4 - 3"), 3.0);
    assert_eq!(scalar("12 / 3 / 2"), 2.0);
    assert_eq!(scalar("--9"), 9.0);
    assert_eq!(scalar("TRUE + TRUE"), 2.0);
}

#[test]
fn functions_and_keywords() {
    assert_eq!(scalar("round(2.5)"), 2.0);
    assert_eq!(scalar("round(-2.5)"), -2.0);
    assert_eq!(scalar("int(-2.7)"), -2.0);
    assert_eq!(scalar("sign(0)"), 0.0);
    assert_eq!(scalar("sign(-3)"), -1.0);
    assert_eq!(scalar("abs(-3)"), 3.0);
    assert_eq!(scalar("sqrt(16)"), 4.0);
    assert_eq!(scalar("log(E)"), 1.0);
    assert_eq!(scalar("exp(0)"), 1.0);
    assert_eq!(scalar("cos(PI)"), -1.0);
    assert_eq!(scalar("min(3, 1, 2)"), 1.0);
    assert_eq!(scalar("max(3, 1, 2)"), 3.0);
    assert_eq!(scalar("where(1 > 2, 10, 20)"), 20.0);
    assert_eq!(scalar("clamp(5, 0, 3)"), 3.0);
    assert_eq!(scalar("clamp(-5, 0, 3)"), 0.0);
    assert_eq!(scalar("INF > 1e308"), 1.0);
    assert_eq!(scalar("1e999"), f64::INFINITY);
    assert_eq!(scalar("FALSE"), 0.0);
    // Scalar reductions reduce the single value.
    assert_eq!(scalar("max(3)"), 3.0);
    assert_eq!(scalar("std(3)"), 0.0);
}

#[test]
fn many_argument_min_max() {
    let args: Vec<String> = (1..=300).map(|k| format!("x*{k}")).collect();
    let env = x(&[-1.0, 2.0]);
    assert_eq!(
        eval(&format!("min({})", args.join(",")), &env).values,
        [-300.0, 2.0]
    );
    assert_eq!(
        eval(&format!("max({})", args.join(",")), &env).values,
        [-1.0, 600.0]
    );
    let out = eval(
        "max(x, 0, y)",
        &Env(vec![
            ("x", vec![-1.0, 5.0], vec![true, true], None),
            ("y", vec![3.0, 1.0], vec![false, true], None),
        ]),
    );
    assert_eq!((out.values[1], out.valid), (5.0, vec![false, true]));
}

#[test]
fn ieee_results_and_nan_is_invalid() {
    let out = eval("1 / x", &x(&[0.0, -0.0, 2.0]));
    assert_eq!(out.values, [f64::INFINITY, f64::NEG_INFINITY, 0.5]);
    assert_eq!(out.valid, [true, true, true]);
    let out = eval("log(x)", &x(&[0.0, -1.0, 1.0]));
    assert_eq!(out.values[0], f64::NEG_INFINITY);
    assert!(out.values[1].is_nan());
    assert_eq!(out.valid, [true, false, true]);
    assert_eq!(eval("0/0", &Env(vec![])).valid, [false]);
}

fn masked() -> Env {
    Env(vec![
        (
            "a",
            vec![1.0, -9.0, 3.0, 4.0],
            vec![true, false, true, true],
            Some(-9.0),
        ),
        (
            "b",
            vec![10.0, 20.0, 0.0, 40.0],
            vec![true, true, false, true],
            Some(0.0),
        ),
        (
            "c",
            vec![5.0, 6.0, 7.0, 8.0],
            vec![true, false, true, false],
            None,
        ),
    ])
}

#[test]
fn nodata_masks_are_a_union() {
    let out = eval("a + b", &masked());
    assert_eq!(out.valid, [true, false, false, true]);
    assert_eq!((out.values[0], out.values[3]), (11.0, 44.0));
    assert_eq!(
        eval("a * 0 + 1", &masked()).valid,
        [true, false, true, true]
    );
    assert_eq!(eval("a - a", &masked()).valid, [true, false, true, true]);
}

#[test]
fn null_and_fill() {
    let env = masked();
    let out = eval("a == NULL", &env);
    assert_eq!(
        (out.values, out.valid),
        (vec![0.0, 1.0, 0.0, 0.0], vec![true; 4])
    );
    assert_eq!(eval("NULL != a", &env).values, [1.0, 0.0, 1.0, 1.0]);
    assert_eq!(eval("(a + b) == NULL", &env).values, [0.0, 1.0, 1.0, 0.0]);
    let out = eval("~a", &env);
    assert_eq!(
        (out.values, out.valid),
        (vec![1.0, -9.0, 3.0, 4.0], vec![true; 4])
    );
    assert_eq!(eval("~a == NULL", &env).values, [0.0; 4]);
    // The "replace nodata by 42" idiom.
    let out = eval("~a * (a != NULL) + 42 * (a == NULL)", &env);
    assert_eq!(
        (out.values, out.valid),
        (vec![1.0, 42.0, 3.0, 4.0], vec![true; 4])
    );
    // ~ of an expression fills with the left-most operand's nodata.
    assert_eq!(eval("~(b + a)", &env).values, [11.0, 0.0, 0.0, 44.0]);
    // Without a nodata value there is nothing to fill with.
    assert_eq!(eval("~c", &env).valid, [true, false, true, false]);
    // where() only needs the chosen branch to be valid.
    let out = eval("where(a == NULL, 0, a)", &env);
    assert_eq!(
        (out.values, out.valid),
        (vec![1.0, 0.0, 3.0, 4.0], vec![true; 4])
    );
    assert_eq!(
        eval("where(a > 2, a, b)", &env).valid,
        [true, false, true, true]
    );
    assert_eq!(eval("~300", &env).values, [300.0; 4]);
}

#[test]
fn reductions_are_asked_of_the_bindings() {
    let expr = Expr::parse("(x - min(x)) / (max(x) - min(x)) + mean(x * 2)")
        .unwrap_or_else(|e| panic!("{e}"));
    let texts: Vec<String> = expr.reductions().iter().map(Reduction::canonical).collect();
    assert_eq!(texts, ["min(x)", "max(x)", "mean(x * 2)"]);
    assert_eq!(expr.reductions()[0].bare_variable(), Some("x"));
    assert_eq!(expr.reductions()[2].bare_variable(), None);
    let out = eval("(x - min(x)) / (max(x) - min(x))", &x(&[2.0, 4.0, 6.0]));
    assert_eq!(out.values, [0.0, 0.5, 1.0]);
    assert_eq!(
        eval(
            "median(x) + std(x) * 0 + sum(x)",
            &x(&[1.0, 5.0, 3.0, 10.0])
        )
        .values,
        [4.0 + 19.0; 4]
    );

    struct NoStats;
    impl Bindings for NoStats {
        fn column(&self, _: &str) -> Option<Column<'_>> {
            Some(Column {
                values: &[1.0],
                valid: &[true],
                nodata: None,
            })
        }
        fn reduction(&self, _: &Reduction) -> Option<f64> {
            None
        }
    }
    let expr = Expr::parse("x / max(x)").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        evaluate(&expr, 1, &NoStats),
        Err(EvalError::MissingReduction {
            reduction: "max(x)".into()
        })
    );
}

#[test]
fn binding_errors() {
    let expr = Expr::parse("x + y").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        evaluate(&expr, 2, &x(&[1.0, 2.0])),
        Err(EvalError::UnknownVariable { name: "y".into() })
    );
    assert!(matches!(
        evaluate(&expr, 3, &x(&[1.0, 2.0])),
        Err(EvalError::LengthMismatch { .. })
    ));
}

fn parse_error(src: &str) -> (usize, String) {
    match Expr::parse(src) {
        Ok(e) => panic!("{src:?} parsed as {e}"),
        Err(e) => (e.position, e.to_string()),
    }
}

#[test]
fn strict_grammar_errors_say_where_and_what() {
    assert_eq!(parse_error("1 + 2)").0, 5);
    assert_eq!(parse_error("3*a bc abc/").0, 4);
    assert_eq!(parse_error("1+(2").0, 4);
    assert_eq!(parse_error("a ** 2").0, 3);
    assert_eq!(parse_error("x.y").0, 1);
    assert_eq!(parse_error("2 3").0, 2);
    assert_eq!(parse_error("").0, 0);
    assert_eq!(parse_error("   ").0, 3);
    assert_eq!(parse_error("sin()").0, 4);
    assert_eq!(parse_error("sin").0, 3);
    assert_eq!(parse_error("sin(1, 2)").0, 0);
    assert_eq!(parse_error("mean(1, 2)").0, 0);
    assert_eq!(parse_error("where(1, 2)").0, 0);
    assert_eq!(parse_error("foo(x)").0, 0);
    assert_eq!(parse_error(".5").0, 0);
    assert_eq!(parse_error("_x").0, 0);
    assert_eq!(parse_error("x_").0, 0);
    assert_eq!(parse_error("a__b").0, 0);
    assert_eq!(parse_error("lambda").0, 0);
    assert_eq!(parse_error("3 * del").0, 4);
    assert_eq!(parse_error("x >= NULL").0, 5);
    assert_eq!(parse_error("1 + NULL").0, 4);
    assert_eq!(parse_error("!NULL").0, 1);
    assert_eq!(parse_error("NULL == NULL").0, 8);
    assert_eq!(parse_error("NULL").0, 0);
    let (at, text) = parse_error("a = 1");
    assert_eq!(at, 2);
    assert!(
        text.contains("expected an operator or the end of the formula"),
        "{text}"
    );
    assert!(text.contains("use `==`"), "{text}");
    assert_eq!(
        parse_error("1 +").1,
        "at byte 3: expected a number, name, function call or `(`, found end of formula"
    );
}

#[test]
fn accepted_spellings() {
    for src in [
        "5.",
        "1e5",
        "1E+5",
        "1.e-3",
        "x\t+\ny",
        "sin (x)",
        "e * pi",
        "INFx",
        "a_1_b",
        "A1",
        "\r\nx\r\n",
    ] {
        assert!(Expr::parse(src).is_ok(), "{src:?}");
    }
}

#[test]
fn limits_are_parse_errors_that_name_the_limit() {
    let long = format!("x{}", " + x".repeat(1100));
    assert!(parse_error(&long).1.contains("formula length limit"));
    let deep = format!("{}x{}", "(".repeat(101), ")".repeat(101));
    assert!(parse_error(&deep).1.contains("nesting limit"));
    assert!(Expr::parse(&format!("{}x{}", "(".repeat(99), ")".repeat(99))).is_ok());
    let chain = format!("x{}", " + x".repeat(100));
    assert!(parse_error(&chain).1.contains("nesting limit"));
    assert!(parse_error(&"-".repeat(200)).1.contains("nesting limit"));
    let many: Vec<String> = (0..17).map(|i| format!("v{i}")).collect();
    assert!(parse_error(&many.join(" + ")).1.contains("variable limit"));
    assert!(Expr::parse(&many[..16].join(" + ")).is_ok());
    let tight = Limits {
        max_len: 5,
        max_depth: 3,
        max_vars: 1,
        ..Limits::default()
    };
    assert!(Expr::parse_with("x + y", &tight).is_err());
    assert!(Expr::parse_with("x + x", &tight).is_ok());
    assert!(Expr::parse_with("x + x + 1", &tight).is_err());
}

#[test]
fn spans_point_into_the_source() {
    let src = "sin(a) + (b * 2)";
    let expr = Expr::parse(src).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((expr.span.start, expr.span.end), (0, src.len()));
    let kids = expr.children();
    assert_eq!(&src[kids[0].span.start..kids[0].span.end], "sin(a)");
    assert_eq!(&src[kids[1].span.start..kids[1].span.end], "(b * 2)");
}

#[test]
fn display_is_canonical() {
    for (src, text) in [
        ("(a-b)/(a+b)", "(a - b) / (a + b)"),
        ("-x^2", "-x^2"),
        ("(-x)^2", "(-x)^2"),
        ("2^3^2", "2^3^2"),
        ("(2^3)^2", "(2^3)^2"),
        ("0.5 + 1e5 + 1.5e-7", "0.5 + 100000 + 1.5e-7"),
        ("a-(b-c)", "a - (b - c)"),
        ("(a-b)-c", "a - b - c"),
        ("x==NULL", "x == NULL"),
        ("max(x, 1) + min(x)", "max(x, 1) + min(x)"),
        ("~(a+b)", "~(a + b)"),
        ("1e300 * 1e-7", "1e300 * 1e-7"),
    ] {
        let expr = Expr::parse(src).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(expr.to_string(), text);
        let again = Expr::parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert!(again.same_tree(&expr), "{src}");
    }
}

/// The evaluator works in blocks of cells; a tile's result must not depend on where the
/// block edges fall, so every cell of a long (several blocks, a partial last one) input
/// equals that cell evaluated on its own.
#[test]
fn blocks_agree_with_cell_by_cell() {
    let n = 10_001;
    let xs: Vec<f64> = (0..n).map(|i| f64::from(i % 97) - 40.0).collect();
    let ys: Vec<f64> = (0..n).map(|i| f64::from(i % 13) * 0.5).collect();
    let x_ok: Vec<bool> = (0..n).map(|i| i % 11 != 0).collect();
    let y_ok: Vec<bool> = (0..n).map(|i| i % 7 != 3).collect();
    let env = Env(vec![
        ("x", xs.clone(), x_ok.clone(), Some(-9999.0)),
        ("y", ys.clone(), y_ok.clone(), None),
    ]);
    let formulas = [
        "(x - y) / (x + y)",
        "where(x == NULL, 0, x) + ~y",
        "~x * 2",
        "sqrt(x) + min(x, y, 3)",
        "clamp(x, -1, y) ^ 2",
        "x != NULL",
        "PI * 2",
    ];
    for src in formulas {
        let whole = eval(src, &env);
        assert_eq!(whole.values.len(), n as usize, "{src}");
        for i in 0..n as usize {
            let one = Env(vec![
                ("x", vec![xs[i]], vec![x_ok[i]], Some(-9999.0)),
                ("y", vec![ys[i]], vec![y_ok[i]], None),
            ]);
            let cell = eval(src, &one);
            assert_eq!(whole.valid[i], cell.valid[0], "{src} at {i}");
            assert_eq!(
                whole.values[i].to_bits(),
                cell.values[0].to_bits(),
                "{src} at {i}"
            );
        }
    }
}
