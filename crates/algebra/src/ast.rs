//! The syntax tree. Every node carries the byte span of the source text it came from, so
//! errors found after parsing (NULL misuse, arity) can still point into the formula.

use std::fmt;

use crate::neighborhood::{FocalStat, Shape, TerrainOp, number};

/// Byte offsets `start..end` into the formula text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// One node of the syntax tree with its span.
///
/// `PartialEq` compares spans too; use [`Expr::same_tree`] to compare structure only
/// (what the pretty-printer round trip promises).
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub node: Node,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A numeric literal. Literals are unsigned: `-9` is `Neg(9)`. A literal too large for
    /// f64 (`1e999`) is `inf`, as in django-raster.
    Number(f64),
    Constant(Constant),
    /// `NULL`: only legal as a direct operand of `==` or `!=` (checked by the parser).
    Null,
    Variable(String),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// An element-wise function call; `args.len()` matches the function's arity.
    Call(Func, Vec<Expr>),
    /// A one-argument `min max mean median std sum`: one number over the whole layer.
    Reduce(ReduceFn, Box<Expr>),
    /// `focal_mean(x, 3)`, `focal_max(x, circle(2))`: a statistic of each cell's
    /// neighbourhood.
    Focal(FocalStat, Shape, Box<Expr>),
    /// `slope(x)`, `aspect(x)`, `hillshade(x, azimuth, altitude)`: over each cell's 3×3
    /// window, as gdaldem.
    Terrain(TerrainOp, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Constant {
    E,
    Pi,
    True,
    False,
    Inf,
}

impl Constant {
    pub fn value(self) -> f64 {
        match self {
            Constant::E => std::f64::consts::E,
            Constant::Pi => std::f64::consts::PI,
            Constant::True => 1.0,
            Constant::False => 0.0,
            Constant::Inf => f64::INFINITY,
        }
    }

    pub fn keyword(self) -> &'static str {
        match self {
            Constant::E => "E",
            Constant::Pi => "PI",
            Constant::True => "TRUE",
            Constant::False => "FALSE",
            Constant::Inf => "INF",
        }
    }

    pub(crate) fn from_keyword(word: &str) -> Option<Constant> {
        Some(match word {
            "E" => Constant::E,
            "PI" => Constant::Pi,
            "TRUE" => Constant::True,
            "FALSE" => Constant::False,
            "INF" => Constant::Inf,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`: the identity (django-raster drops the mask here; we do not).
    Plus,
    /// `!x`: logical not, `x == 0`.
    Not,
    /// `~x`: fill invalid cells with the nodata value, making them valid.
    Fill,
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Plus => "+",
            UnaryOp::Not => "!",
            UnaryOp::Fill => "~",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::And => "&",
            BinaryOp::Or => "|",
        }
    }

    /// Binding strength: higher binds tighter. Unary operators sit at [`UNARY_PRECEDENCE`].
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::Lt
            | BinaryOp::Le => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div => 5,
            BinaryOp::Pow => 7,
        }
    }
}

pub const UNARY_PRECEDENCE: u8 = 6;
const ATOM_PRECEDENCE: u8 = 8;

/// Element-wise functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Log,
    Exp,
    Abs,
    Int,
    Round,
    Sign,
    Sqrt,
    /// Element-wise minimum of two or more arguments.
    Min,
    /// Element-wise maximum of two or more arguments.
    Max,
    /// `where(cond, a, b)`
    Where,
    /// `clamp(x, lo, hi)`
    Clamp,
}

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Log => "log",
            Func::Exp => "exp",
            Func::Abs => "abs",
            Func::Int => "int",
            Func::Round => "round",
            Func::Sign => "sign",
            Func::Sqrt => "sqrt",
            Func::Min => "min",
            Func::Max => "max",
            Func::Where => "where",
            Func::Clamp => "clamp",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "sin" => Func::Sin,
            "cos" => Func::Cos,
            "tan" => Func::Tan,
            "log" => Func::Log,
            "exp" => Func::Exp,
            "abs" => Func::Abs,
            "int" => Func::Int,
            "round" => Func::Round,
            "sign" => Func::Sign,
            "sqrt" => Func::Sqrt,
            "min" => Func::Min,
            "max" => Func::Max,
            "where" => Func::Where,
            "clamp" => Func::Clamp,
            _ => return None,
        })
    }
}

/// Whole-layer reductions (one argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceFn {
    Min,
    Max,
    Mean,
    Median,
    /// Population standard deviation (ddof = 0), as numpy's default.
    Std,
    Sum,
}

impl ReduceFn {
    pub fn name(self) -> &'static str {
        match self {
            ReduceFn::Min => "min",
            ReduceFn::Max => "max",
            ReduceFn::Mean => "mean",
            ReduceFn::Median => "median",
            ReduceFn::Std => "std",
            ReduceFn::Sum => "sum",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<ReduceFn> {
        Some(match name {
            "min" => ReduceFn::Min,
            "max" => ReduceFn::Max,
            "mean" => ReduceFn::Mean,
            "median" => ReduceFn::Median,
            "std" => ReduceFn::Std,
            "sum" => ReduceFn::Sum,
            _ => return None,
        })
    }
}

impl Expr {
    pub fn new(node: Node, span: Span) -> Self {
        Expr { node, span }
    }

    /// Structural equality, spans ignored.
    pub fn same_tree(&self, other: &Expr) -> bool {
        match (&self.node, &other.node) {
            (Node::Number(a), Node::Number(b)) => a.to_bits() == b.to_bits(),
            (Node::Constant(a), Node::Constant(b)) => a == b,
            (Node::Null, Node::Null) => true,
            (Node::Variable(a), Node::Variable(b)) => a == b,
            (Node::Unary(op_a, a), Node::Unary(op_b, b)) => op_a == op_b && a.same_tree(b),
            (Node::Binary(op_a, la, ra), Node::Binary(op_b, lb, rb)) => {
                op_a == op_b && la.same_tree(lb) && ra.same_tree(rb)
            }
            (Node::Call(fa, aa), Node::Call(fb, ab)) => {
                fa == fb && aa.len() == ab.len() && aa.iter().zip(ab).all(|(x, y)| x.same_tree(y))
            }
            (Node::Reduce(fa, a), Node::Reduce(fb, b)) => fa == fb && a.same_tree(b),
            (Node::Focal(fa, sa, a), Node::Focal(fb, sb, b)) => {
                fa == fb && sa == sb && a.same_tree(b)
            }
            (Node::Terrain(ta, a), Node::Terrain(tb, b)) => ta == tb && a.same_tree(b),
            _ => false,
        }
    }

    /// Direct children, left to right.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.node {
            Node::Number(_) | Node::Constant(_) | Node::Null | Node::Variable(_) => Vec::new(),
            Node::Unary(_, e) | Node::Reduce(_, e) | Node::Focal(_, _, e) | Node::Terrain(_, e) => {
                vec![e]
            }
            Node::Binary(_, l, r) => vec![l, r],
            Node::Call(_, args) => args.iter().collect(),
        }
    }

    fn precedence(&self) -> u8 {
        match &self.node {
            Node::Binary(op, _, _) => op.precedence(),
            Node::Unary(_, _) => UNARY_PRECEDENCE,
            _ => ATOM_PRECEDENCE,
        }
    }
}

/// Writes `e`, wrapped in parentheses when its precedence is below `min`.
fn write_operand(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if e.precedence() < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

/// The canonical text: minimal parentheses, spaces around binary operators. It parses back
/// to the same tree (spans aside); the tests check this with random trees.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            // An overflowed literal prints as one that overflows again.
            Node::Number(n) if n.is_infinite() => f.write_str("1e999"),
            Node::Number(n) => {
                // Both forms round-trip exactly: Display gives "2" where Debug gives "2.0",
                // Debug gives "1e300" where Display writes 301 digits.
                let (plain, debug) = (n.to_string(), format!("{n:?}"));
                f.write_str(if plain.len() <= debug.len() {
                    &plain
                } else {
                    &debug
                })
            }
            Node::Constant(c) => f.write_str(c.keyword()),
            Node::Null => f.write_str("NULL"),
            Node::Variable(name) => f.write_str(name),
            Node::Unary(op, e) => {
                f.write_str(op.symbol())?;
                write_operand(f, e, UNARY_PRECEDENCE)
            }
            Node::Binary(op, l, r) => {
                let p = op.precedence();
                if *op == BinaryOp::Pow {
                    // Right-associative; the base is an atom, the exponent a unary.
                    write_operand(f, l, ATOM_PRECEDENCE)?;
                    f.write_str("^")?;
                    write_operand(f, r, UNARY_PRECEDENCE)
                } else {
                    write_operand(f, l, p)?;
                    write!(f, " {} ", op.symbol())?;
                    write_operand(f, r, p + 1)
                }
            }
            Node::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Node::Reduce(func, e) => write!(f, "{}({e})", func.name()),
            Node::Focal(stat, shape, e) => write!(f, "{}({e}, {shape})", stat.name()),
            Node::Terrain(TerrainOp::Hillshade { azimuth, altitude }, e) => {
                write!(
                    f,
                    "hillshade({e}, {}, {})",
                    number(*azimuth),
                    number(*altitude)
                )
            }
            Node::Terrain(op, e) => write!(f, "{}({e})", op.name()),
        }
    }
}
