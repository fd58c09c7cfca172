//! The vectorised evaluator: one pass over the whole tile per tree node, never a tree walk
//! per pixel. Constants stay scalars and broadcast; variables are borrowed, not copied;
//! a node reuses an operand's buffer when it owns one. Each pass is one of
//! [`kernels`], so on AVX2 CPUs it works on four values per instruction.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use crate::ast::{BinaryOp, Expr, Func, Node, UnaryOp};
use crate::error::EvalError;
use crate::kernels;
use crate::reduce::Reduction;

/// One bound variable: the tile's values, which of them are valid, and the layer's nodata
/// value (what `~x` fills invalid cells with).
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub values: &'a [f64],
    pub valid: &'a [bool],
    pub nodata: Option<f64>,
}

/// The result: `valid[i]` is false where an input was invalid or the value is NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub values: Vec<f64>,
    pub valid: Vec<bool>,
}

/// What the formula's names are bound to.
pub trait Bindings {
    /// The column bound to a variable, `None` if unbound.
    fn column(&self, name: &str) -> Option<Column<'_>>;
    /// The whole-layer value of a reduction such as `min(x)`, `None` if unavailable.
    fn reduction(&self, r: &Reduction) -> Option<f64>;
}

/// An intermediate result.
enum Val<'a> {
    /// Valid everywhere; broadcasts.
    Scalar(f64),
    Array(Arr<'a>),
}

struct Arr<'a> {
    values: Cow<'a, [f64]>,
    valid: Cow<'a, [bool]>,
    /// The nodata value `~` fills with: the left-most operand's, as numpy's fill_value.
    nodata: Option<f64>,
}

#[inline(always)]
fn truth(v: f64) -> bool {
    v != 0.0
}

#[inline(always)]
fn boolean(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// numpy's sign: 0 for ±0, NaN for NaN (f64::signum gives ±1 for zeros).
#[inline(always)]
fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        v
    }
}

/// NaN-propagating min/max, as numpy's minimum/maximum (f64::min ignores NaN).
#[inline(always)]
fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

#[inline(always)]
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Cells per pass. The tree is evaluated block by block, as numexpr does, rather than once
/// over the whole tile: a tile-sized intermediate is 512 KiB of `f64`, so every pass over
/// whole tiles streamed through memory, while 4096-cell blocks (32 KiB) stay in cache from
/// the pass that writes them to the pass that reads them. Each pass is still one vectorised
/// loop per tree node; the tree is walked 16 times per 256x256 tile, not once per cell.
const BLOCK: usize = 4096;

/// Computed neighbourhood functions, by canonical text: `focal_mean(a, square(1))` used
/// twice is computed once.
pub(crate) type Neighbourhoods = BTreeMap<String, Output>;

pub(crate) fn evaluate_blocks(
    expr: &Expr,
    len: usize,
    env: &dyn Bindings,
    neighbourhoods: &Neighbourhoods,
) -> Result<Output, EvalError> {
    let mut values = Vec::with_capacity(len);
    let mut valid = Vec::with_capacity(len);
    let mut start = 0;
    loop {
        let end = len.min(start + BLOCK);
        let mut eval = Evaluator {
            len,
            cells: start..end,
            env,
            neighbourhoods,
        };
        match eval.eval(expr)? {
            Val::Scalar(v) => {
                values.resize(end, v);
                valid.resize(end, !v.is_nan());
            }
            Val::Array(a) => {
                values.extend_from_slice(&a.values);
                valid.extend_from_slice(&a.valid);
                kernels::invalidate_nan(&mut valid[start..], &values[start..]);
            }
        }
        if end >= len {
            break;
        }
        start = end;
    }
    Ok(Output { values, valid })
}

/// Sethi–Ullman number: how many block-sized buffers a subtree keeps alive at once. The
/// evaluator runs the hungrier child first, so a deep formula holds O(log n) buffers
/// instead of one per level (an isolate has 128 MB).
fn buffers_needed(expr: &Expr) -> usize {
    match &expr.node {
        Node::Number(_)
        | Node::Constant(_)
        | Node::Null
        | Node::Variable(_)
        | Node::Reduce(..)
        | Node::Focal(..)
        | Node::Terrain(..) => 0,
        Node::Unary(_, e) => buffers_needed(e).max(1),
        Node::Binary(_, l, r) => {
            let (nl, nr) = (buffers_needed(l), buffers_needed(r));
            if nl == nr { nl + 1 } else { nl.max(nr) }
        }
        Node::Call(_, args) => args
            .iter()
            .enumerate()
            .map(|(i, a)| buffers_needed(a) + i)
            .max()
            .unwrap_or(0)
            .max(1),
    }
}

struct Evaluator<'e> {
    /// Cells of every column.
    len: usize,
    /// The block of cells this pass evaluates.
    cells: Range<usize>,
    env: &'e dyn Bindings,
    /// The formula's neighbourhood functions, computed over the whole grid beforehand.
    neighbourhoods: &'e Neighbourhoods,
}

impl<'e> Evaluator<'e> {
    fn eval(&mut self, expr: &Expr) -> Result<Val<'e>, EvalError> {
        Ok(match &expr.node {
            Node::Number(v) => Val::Scalar(*v),
            Node::Constant(c) => Val::Scalar(c.value()),
            // The checker only lets NULL stand beside == / !=, which never evaluate it;
            // NaN (invalid) is the harmless answer should that ever change.
            Node::Null => Val::Scalar(f64::NAN),
            Node::Variable(name) => self.variable(name)?,
            Node::Unary(op, e) => {
                let v = self.eval(e)?;
                match op {
                    UnaryOp::Neg => map1(v, |x| -x),
                    UnaryOp::Plus => v,
                    UnaryOp::Not => map1(v, |x| boolean(!truth(x))),
                    UnaryOp::Fill => fill(v),
                }
            }
            Node::Binary(op @ (BinaryOp::Eq | BinaryOp::Ne), l, r)
                if matches!(l.node, Node::Null) || matches!(r.node, Node::Null) =>
            {
                let other = if matches!(l.node, Node::Null) { r } else { l };
                let is_null = *op == BinaryOp::Eq;
                null_test(self.eval(other)?, is_null)
            }
            Node::Binary(op, l, r) => {
                let (lv, rv) = if buffers_needed(r) > buffers_needed(l) {
                    let rv = self.eval(r)?;
                    (self.eval(l)?, rv)
                } else {
                    let lv = self.eval(l)?;
                    (lv, self.eval(r)?)
                };
                binary(*op, lv, rv)
            }
            Node::Call(func, args) => self.call(*func, args)?,
            Node::Focal(..) | Node::Terrain(..) => self.neighbourhood(expr)?,
            Node::Reduce(func, arg) => {
                let reduction = Reduction {
                    func: *func,
                    arg: (**arg).clone(),
                };
                if reduction.variables().is_empty() {
                    // No layer involved: reduce the one value (numpy on a 0-d array).
                    match self.eval(arg)? {
                        Val::Scalar(v) => {
                            Val::Scalar(func.apply(&[v], &[true]).unwrap_or(f64::NAN))
                        }
                        Val::Array(_) => Val::Scalar(f64::NAN),
                    }
                } else {
                    match self.env.reduction(&reduction) {
                        Some(v) => Val::Scalar(v),
                        None => {
                            return Err(EvalError::MissingReduction {
                                reduction: reduction.canonical(),
                            });
                        }
                    }
                }
            }
        })
    }

    fn variable(&self, name: &str) -> Result<Val<'e>, EvalError> {
        let col = self
            .env
            .column(name)
            .ok_or_else(|| EvalError::UnknownVariable {
                name: name.to_string(),
            })?;
        if col.values.len() != self.len || col.valid.len() != self.len {
            return Err(EvalError::LengthMismatch {
                name: name.to_string(),
                expected: self.len,
                found: col.values.len(),
                found_valid: col.valid.len(),
            });
        }
        // In bounds: `cells` lies within 0..len, and both slices are `len` long.
        Ok(Val::Array(Arr {
            values: Cow::Borrowed(&col.values[self.cells.clone()]),
            valid: Cow::Borrowed(&col.valid[self.cells.clone()]),
            nodata: col.nodata,
        }))
    }

    fn neighbourhood(&self, expr: &Expr) -> Result<Val<'e>, EvalError> {
        let key = expr.to_string();
        let out = self
            .neighbourhoods
            .get(&key)
            .ok_or_else(|| EvalError::NeedsGrid {
                function: key.clone(),
            })?;
        let (Some(values), Some(valid)) = (
            out.values.get(self.cells.clone()),
            out.valid.get(self.cells.clone()),
        ) else {
            return Err(EvalError::NeedsGrid { function: key });
        };
        Ok(Val::Array(Arr {
            values: Cow::Borrowed(values),
            valid: Cow::Borrowed(valid),
            nodata: None,
        }))
    }

    fn call(&mut self, func: Func, args: &[Expr]) -> Result<Val<'e>, EvalError> {
        let unary: Option<fn(f64) -> f64> = match func {
            Func::Sin => Some(f64::sin),
            Func::Cos => Some(f64::cos),
            Func::Tan => Some(f64::tan),
            Func::Log => Some(f64::ln),
            Func::Exp => Some(f64::exp),
            Func::Abs => Some(f64::abs),
            Func::Int => Some(f64::trunc),
            Func::Round => Some(f64::round_ties_even),
            Func::Sign => Some(sign),
            Func::Sqrt => Some(f64::sqrt),
            Func::Min | Func::Max | Func::Where | Func::Clamp => None,
        };
        if let (Some(f), [arg]) = (unary, args) {
            return Ok(map1(self.eval(arg)?, f));
        }
        if let Func::Min | Func::Max = func {
            // Folded one argument at a time, hungriest first: `min(a*1, a*1, ...)` with
            // hundreds of arguments then holds two tile buffers, not hundreds.
            let pick = if func == Func::Min { nan_min } else { nan_max };
            let mut by_need: Vec<&Expr> = args.iter().collect();
            by_need.sort_by_key(|a| std::cmp::Reverse(buffers_needed(a)));
            let mut acc: Option<Val<'e>> = None;
            for arg in by_need {
                let v = self.eval(arg)?;
                acc = Some(match acc {
                    Some(acc) => binary_with(acc, v, pick),
                    None => v,
                });
            }
            return Ok(acc.unwrap_or(Val::Scalar(f64::NAN)));
        }
        let [a, b, c] = args else {
            // Unreachable: the parser gives `where` and `clamp` three arguments.
            return Ok(Val::Scalar(f64::NAN));
        };
        let (a, b, c) = (self.eval(a)?, self.eval(b)?, self.eval(c)?);
        Ok(match func {
            Func::Where => where_(a, b, c, self.cells.len()),
            // numpy.clip's order: raise to `lo`, then cap at `hi` (so `hi` wins when
            // lo > hi). Not `f64::clamp`, which panics on such bounds or NaN bounds, and
            // both bounds can come from pixel data.
            Func::Clamp => binary_with(binary_with(a, b, nan_max), c, nan_min),
            // Unreachable: one-argument functions returned above.
            _ => Val::Scalar(f64::NAN),
        })
    }
}

fn map1<'a>(v: Val<'a>, f: impl Fn(f64) -> f64) -> Val<'a> {
    match v {
        Val::Scalar(s) => Val::Scalar(f(s)),
        Val::Array(mut a) => {
            match &mut a.values {
                Cow::Owned(values) => kernels::map_in_place(values, f),
                Cow::Borrowed(values) => a.values = Cow::Owned(kernels::map_into(values, f)),
            }
            Val::Array(a)
        }
    }
}

/// `~v`: invalid cells take the nodata value and become valid. Without a nodata value
/// there is nothing to fill with, so the cells stay invalid.
fn fill(v: Val<'_>) -> Val<'_> {
    let Val::Array(a) = v else { return v };
    let Some(nodata) = a.nodata else {
        return Val::Array(a);
    };
    let values = a
        .values
        .iter()
        .zip(a.valid.iter())
        .map(|(v, ok)| if *ok { *v } else { nodata })
        .collect();
    Val::Array(Arr {
        values: Cow::Owned(values),
        valid: Cow::Owned(vec![true; a.valid.len()]),
        nodata: a.nodata,
    })
}

/// `v == NULL` (is_null) or `v != NULL`: the validity mask itself, valid everywhere.
fn null_test(v: Val<'_>, is_null: bool) -> Val<'_> {
    match v {
        Val::Scalar(_) => Val::Scalar(boolean(!is_null)),
        Val::Array(a) => {
            let values = a.valid.iter().map(|ok| boolean(*ok != is_null)).collect();
            Val::Array(Arr {
                values: Cow::Owned(values),
                valid: Cow::Owned(vec![true; a.valid.len()]),
                nodata: a.nodata,
            })
        }
    }
}

fn binary<'a>(op: BinaryOp, l: Val<'a>, r: Val<'a>) -> Val<'a> {
    match op {
        BinaryOp::Add => binary_with(l, r, |a, b| a + b),
        BinaryOp::Sub => binary_with(l, r, |a, b| a - b),
        BinaryOp::Mul => binary_with(l, r, |a, b| a * b),
        BinaryOp::Div => binary_with(l, r, |a, b| a / b),
        BinaryOp::Pow => binary_with(l, r, f64::powf),
        BinaryOp::Eq => binary_with(l, r, |a, b| boolean(a == b)),
        BinaryOp::Ne => binary_with(l, r, |a, b| boolean(a != b)),
        BinaryOp::Gt => binary_with(l, r, |a, b| boolean(a > b)),
        BinaryOp::Ge => binary_with(l, r, |a, b| boolean(a >= b)),
        BinaryOp::Lt => binary_with(l, r, |a, b| boolean(a < b)),
        BinaryOp::Le => binary_with(l, r, |a, b| boolean(a <= b)),
        BinaryOp::And => binary_with(l, r, |a, b| boolean(truth(a) && truth(b))),
        BinaryOp::Or => binary_with(l, r, |a, b| boolean(truth(a) || truth(b))),
    }
}

/// Applies `f` cell by cell with broadcasting; a cell is valid only if both operands are.
fn binary_with<'a>(l: Val<'a>, r: Val<'a>, f: impl Fn(f64, f64) -> f64) -> Val<'a> {
    match (l, r) {
        (Val::Scalar(a), Val::Scalar(b)) => Val::Scalar(f(a, b)),
        (Val::Array(a), Val::Scalar(s)) => map1(Val::Array(a), |x| f(x, s)),
        (Val::Scalar(s), Val::Array(b)) => {
            let nodata = b.nodata;
            let mut out = map1(Val::Array(b), |x| f(s, x));
            if let Val::Array(arr) = &mut out {
                arr.nodata = nodata;
            }
            out
        }
        (Val::Array(a), Val::Array(b)) => {
            let nodata = a.nodata.or(b.nodata);
            let valid = and_masks(a.valid, b.valid);
            let values = match (a.values, b.values) {
                (Cow::Owned(mut x), y) => {
                    kernels::zip_in_place(&mut x, &y, f);
                    x
                }
                (x, Cow::Owned(mut y)) => {
                    kernels::zip_in_place(&mut y, &x, |y, x| f(x, y));
                    y
                }
                (x, y) => kernels::zip_into(&x, &y, f),
            };
            Val::Array(Arr {
                values: Cow::Owned(values),
                valid,
                nodata,
            })
        }
    }
}

fn and_masks<'a>(a: Cow<'a, [bool]>, b: Cow<'a, [bool]>) -> Cow<'a, [bool]> {
    match (a, b) {
        // Same layer twice (`x - x`): nothing to combine.
        (Cow::Borrowed(x), Cow::Borrowed(y)) if std::ptr::eq(x, y) => Cow::Borrowed(x),
        (Cow::Owned(mut x), y) | (y, Cow::Owned(mut x)) => {
            kernels::and_in_place(&mut x, &y);
            Cow::Owned(x)
        }
        (x, y) => Cow::Owned(kernels::and_into(&x, &y)),
    }
}

/// `where(c, a, b)`: a cell needs a valid condition and a valid chosen branch only, so
/// `where(x == NULL, 0, x)` replaces nodata (the one exception to the union rule).
fn where_<'a>(c: Val<'a>, a: Val<'a>, b: Val<'a>, len: usize) -> Val<'a> {
    if let (Val::Scalar(c), Val::Scalar(a), Val::Scalar(b)) = (&c, &a, &b) {
        return Val::Scalar(if truth(*c) { *a } else { *b });
    }
    let nodata = [&c, &a, &b].iter().find_map(|v| match v {
        Val::Array(arr) => arr.nodata,
        Val::Scalar(_) => None,
    });
    let (c, a, b) = (Lane::of(&c), Lane::of(&a), Lane::of(&b));
    let mut values = Vec::with_capacity(len);
    let mut valid = Vec::with_capacity(len);
    for i in 0..len {
        let (branch, pick) = if truth(c.value(i)) {
            (&a, a.value(i))
        } else {
            (&b, b.value(i))
        };
        values.push(pick);
        valid.push(c.valid(i) && branch.valid(i));
    }
    Val::Array(Arr {
        values: Cow::Owned(values),
        valid: Cow::Owned(valid),
        nodata,
    })
}

/// Indexed access to a scalar or an array, for the three-way `where`.
enum Lane<'v> {
    Scalar(f64),
    Array(&'v [f64], &'v [bool]),
}

impl<'v> Lane<'v> {
    fn of(v: &'v Val<'_>) -> Self {
        match v {
            Val::Scalar(s) => Lane::Scalar(*s),
            Val::Array(a) => Lane::Array(&a.values, &a.valid),
        }
    }

    fn value(&self, i: usize) -> f64 {
        match self {
            Lane::Scalar(s) => *s,
            Lane::Array(v, _) => v.get(i).copied().unwrap_or(f64::NAN),
        }
    }

    fn valid(&self, i: usize) -> bool {
        match self {
            Lane::Scalar(_) => true,
            Lane::Array(_, ok) => ok.get(i).copied().unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid_eval::evaluate;

    fn parse(src: &str) -> Expr {
        crate::Expr::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn buffer_need_grows_with_balanced_depth_only() {
        // A left-leaning chain of a variable reuses one buffer at each level.
        assert_eq!(buffers_needed(&parse("a")), 0);
        assert_eq!(buffers_needed(&parse("a + b + c + d + e")), 1);
        assert_eq!(buffers_needed(&parse("(a + b) * (c + d)")), 2);
        assert_eq!(buffers_needed(&parse("a * (b * (c * (d * e)))")), 1);
    }

    #[test]
    fn numpy_compatible_scalar_helpers() {
        assert_eq!(sign(-0.0).to_bits(), (-0.0f64).to_bits());
        assert!(sign(f64::NAN).is_nan());
        assert!(nan_min(1.0, f64::NAN).is_nan());
        assert!(nan_max(f64::NAN, 1.0).is_nan());
    }

    struct Shared(Vec<f64>, Vec<bool>);

    impl Bindings for Shared {
        fn column(&self, _: &str) -> Option<Column<'_>> {
            Some(Column {
                values: &self.0,
                valid: &self.1,
                nodata: None,
            })
        }
        fn reduction(&self, _: &Reduction) -> Option<f64> {
            None
        }
    }

    #[test]
    fn scalars_broadcast_and_inputs_are_untouched() {
        let env = Shared(vec![1.0, 2.0], vec![true, false]);
        let out = evaluate(&parse("2 * a - 1"), 2, &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            out,
            Output {
                values: vec![1.0, 3.0],
                valid: vec![true, false]
            }
        );
        assert_eq!(env.0, [1.0, 2.0]);
        let clamped = evaluate(&parse("clamp(a, 3, 1) + clamp(a, a, a)"), 2, &env)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(clamped.values, [2.0, 3.0]);
        let out = evaluate(&parse("PI"), 3, &env).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.values, [std::f64::consts::PI; 3]);
        assert_eq!(
            evaluate(&parse("1"), 0, &env).map(|o| o.values.len()),
            Ok(0)
        );
    }
}
