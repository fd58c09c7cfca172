//! The strict formula parser. nom recognises the lexemes (numbers, names, whitespace); the
//! precedence levels are small hand-written loops over them, because nom has no
//! precedence-climbing combinator that keeps byte spans and gives "expected X" errors.
//!
//! Grammar, loosest to tightest:
//! ```text
//! or    := and ('|' and)*
//! and   := cmp ('&' cmp)*
//! cmp   := add (('=='|'!='|'>='|'<='|'>'|'<') add)*
//! add   := mul (('+'|'-') mul)*
//! mul   := unary (('*'|'/') unary)*
//! unary := ('-'|'+'|'!'|'~') unary | power
//! power := atom ('^' unary)?                       right-associative, 2^-1 allowed
//! atom  := NUMBER | KEYWORD | NAME | NAME '(' or (',' or)* ')' | '(' or ')'
//! ```

use nom::IResult;
use nom::Parser as _;
use nom::bytes::complete::take_while;
use nom::character::complete::{char, digit0, digit1, multispace0, one_of, satisfy};
use nom::combinator::{opt, recognize};

use crate::ast::{BinaryOp, Constant, Expr, Func, Node, ReduceFn, Span, UnaryOp};
use crate::error::ParseError;
use crate::limits::Limits;

/// Python keywords: django-raster rejects them as variable names, so we do too; a formula
/// accepted here then means the same thing there.
const RESERVED: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// True for names a layer can be bound to: `[A-Za-z][A-Za-z0-9]*` groups joined by single
/// underscores (django-raster's NAME rule: no leading, trailing or doubled `_`), not a
/// keyword, function name or Python keyword.
pub fn is_valid_variable_name(name: &str) -> bool {
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    starts_with_letter
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__")
        && !is_reserved_word(name)
}

fn is_reserved_word(name: &str) -> bool {
    name == "NULL"
        || Constant::from_keyword(name).is_some()
        || Func::from_name(name).is_some()
        || ReduceFn::from_name(name).is_some()
        || crate::parse_focal::is_neighbourhood_word(name)
        || RESERVED.contains(&name)
}

type Lex<'a> = IResult<&'a str, &'a str>;

pub(crate) fn number_lexeme(i: &str) -> Lex<'_> {
    // Each part is matched on its own and the length summed: nom 8.0.0's `recognize`
    // returns a short slice for `opt((char('.'), digit0))` (it gave "0." for "0.5").
    let (rest, _) = digit1(i)?;
    let rest = match (char::<_, nom::error::Error<&str>>('.'), digit0).parse(rest) {
        Ok((after, _)) => after,
        Err(_) => rest,
    };
    let exponent: Lex<'_> = recognize((one_of("eE"), opt(one_of("+-")), digit1)).parse(rest);
    let rest = exponent.map_or(rest, |(after, _)| after);
    let len = i.len() - rest.len();
    Ok((rest, i.get(..len).unwrap_or(i)))
}

pub(crate) fn name_lexeme(i: &str) -> Lex<'_> {
    recognize((
        satisfy(|c| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(i)
}

pub(crate) fn skip_space(i: &str) -> &str {
    let r: Lex<'_> = multispace0(i);
    r.map_or(i, |(rest, _)| rest)
}

/// A parsed sub-expression and the height of its tree (leaves are 1).
pub(crate) struct Parsed {
    pub(crate) expr: Expr,
    pub(crate) height: usize,
}

pub(crate) type PResult<'a> = Result<(&'a str, Parsed), ParseError>;

pub(crate) struct Parser<'s> {
    pub(crate) src: &'s str,
    pub(crate) limits: &'s Limits,
    /// Current recursion depth (parentheses, unary chains, exponents, call arguments).
    depth: usize,
}

/// Describes the text at the start of `rest` for error messages.
fn describe(rest: &str) -> String {
    match rest.chars().next() {
        None => "end of formula".to_string(),
        Some('=') if !rest.starts_with("==") => "`=` (comparisons use `==`)".to_string(),
        Some(c) => {
            let token: String = if c.is_ascii_alphanumeric() || c == '_' {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                    .take(40)
                    .collect()
            } else {
                c.to_string()
            };
            format!("`{}`", token.escape_default())
        }
    }
}

impl<'s> Parser<'s> {
    pub(crate) fn new(src: &'s str, limits: &'s Limits) -> Self {
        Parser {
            src,
            limits,
            depth: 0,
        }
    }

    pub(crate) fn pos(&self, rest: &str) -> usize {
        self.src.len() - rest.len()
    }

    pub(crate) fn expected(&self, rest: &str, what: &str) -> ParseError {
        ParseError::new(self.pos(rest), what, describe(rest))
    }

    pub(crate) fn too_deep(&self, rest: &str) -> ParseError {
        ParseError::new(
            self.pos(rest),
            format!(
                "at most {} levels of nesting (formula nesting limit)",
                self.limits.max_depth
            ),
            "deeper nesting",
        )
    }

    pub(crate) fn enter(&mut self, rest: &str) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            Err(self.too_deep(rest))
        } else {
            Ok(())
        }
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// The whole formula: one expression and nothing after it.
    pub(crate) fn parse_formula(&mut self) -> Result<Expr, ParseError> {
        let rest = skip_space(self.src);
        if rest.is_empty() {
            return Err(self.expected(rest, "a formula"));
        }
        let (rest, parsed) = self.or(rest)?;
        let rest = skip_space(rest);
        if !rest.is_empty() {
            return Err(self.expected(rest, "an operator or the end of the formula"));
        }
        Ok(parsed.expr)
    }

    fn binary(&self, op: BinaryOp, l: Parsed, r: Parsed, at: &str) -> Result<Parsed, ParseError> {
        let height = 1 + l.height.max(r.height);
        if height > self.limits.max_depth {
            return Err(self.too_deep(at));
        }
        let span = Span::new(l.expr.span.start, r.expr.span.end);
        let node = Node::Binary(op, Box::new(l.expr), Box::new(r.expr));
        Ok(Parsed {
            expr: Expr::new(node, span),
            height,
        })
    }

    /// One left-associative level: `next (OP next)*` where `ops` maps the text to an operator.
    fn left_assoc(
        &mut self,
        i: &'s str,
        next: fn(&mut Self, &'s str) -> PResult<'s>,
        ops: fn(&str) -> Option<(BinaryOp, usize)>,
    ) -> PResult<'s> {
        let (mut rest, mut acc) = next(self, i)?;
        loop {
            let at = skip_space(rest);
            let Some((op, len)) = ops(at) else {
                return Ok((rest, acc));
            };
            let (after, rhs) = next(self, skip_space(&at[len..]))?;
            acc = self.binary(op, acc, rhs, at)?;
            rest = after;
        }
    }

    pub(crate) fn or(&mut self, i: &'s str) -> PResult<'s> {
        self.left_assoc(i, Self::and, |s| {
            s.starts_with('|').then_some((BinaryOp::Or, 1))
        })
    }

    fn and(&mut self, i: &'s str) -> PResult<'s> {
        self.left_assoc(i, Self::cmp, |s| {
            s.starts_with('&').then_some((BinaryOp::And, 1))
        })
    }

    fn cmp(&mut self, i: &'s str) -> PResult<'s> {
        self.left_assoc(i, Self::add, |s| {
            const OPS: [(&str, BinaryOp); 6] = [
                ("==", BinaryOp::Eq),
                ("!=", BinaryOp::Ne),
                (">=", BinaryOp::Ge),
                ("<=", BinaryOp::Le),
                (">", BinaryOp::Gt),
                ("<", BinaryOp::Lt),
            ];
            OPS.iter()
                .find(|(t, _)| s.starts_with(t))
                .map(|(t, op)| (*op, t.len()))
        })
    }

    fn add(&mut self, i: &'s str) -> PResult<'s> {
        self.left_assoc(i, Self::mul, |s| match s.chars().next() {
            Some('+') => Some((BinaryOp::Add, 1)),
            Some('-') => Some((BinaryOp::Sub, 1)),
            _ => None,
        })
    }

    fn mul(&mut self, i: &'s str) -> PResult<'s> {
        self.left_assoc(i, Self::unary, |s| match s.chars().next() {
            Some('*') => Some((BinaryOp::Mul, 1)),
            Some('/') => Some((BinaryOp::Div, 1)),
            _ => None,
        })
    }

    fn unary(&mut self, i: &'s str) -> PResult<'s> {
        let i = skip_space(i);
        let op = match i.chars().next() {
            Some('-') => UnaryOp::Neg,
            Some('+') => UnaryOp::Plus,
            Some('!') => UnaryOp::Not,
            Some('~') => UnaryOp::Fill,
            _ => return self.power(i),
        };
        let start = self.pos(i);
        self.enter(i)?;
        let (rest, operand) = self.unary(skip_space(&i[1..]))?;
        self.leave();
        let height = operand.height + 1;
        if height > self.limits.max_depth {
            return Err(self.too_deep(i));
        }
        let span = Span::new(start, operand.expr.span.end);
        Ok((
            rest,
            Parsed {
                expr: Expr::new(Node::Unary(op, Box::new(operand.expr)), span),
                height,
            },
        ))
    }

    fn power(&mut self, i: &'s str) -> PResult<'s> {
        let (rest, base) = self.atom(i)?;
        let at = skip_space(rest);
        if !at.starts_with('^') {
            return Ok((rest, base));
        }
        self.enter(at)?;
        let (rest, exponent) = self.unary(skip_space(&at[1..]))?;
        self.leave();
        Ok((rest, self.binary(BinaryOp::Pow, base, exponent, at)?))
    }

    fn atom(&mut self, i: &'s str) -> PResult<'s> {
        let i = skip_space(i);
        let start = self.pos(i);
        let src_len = self.src.len();
        let leaf = |node, rest: &'s str| {
            let span = Span::new(start, src_len - rest.len());
            Ok((
                rest,
                Parsed {
                    expr: Expr::new(node, span),
                    height: 1,
                },
            ))
        };
        if let Ok((rest, text)) = number_lexeme(i) {
            // The lexeme is digits with an optional fraction and exponent, which Rust's
            // float parser always accepts; overflow gives inf, as in numpy.
            let value: f64 = text.parse().map_err(|_| self.expected(i, "a number"))?;
            return leaf(Node::Number(value), rest);
        }
        if let Some(after_paren) = i.strip_prefix('(') {
            self.enter(i)?;
            let (rest, mut inner) = self.or(skip_space(after_paren))?;
            self.leave();
            let rest = skip_space(rest);
            let Some(rest) = rest.strip_prefix(')') else {
                return Err(self.expected(rest, "`)` or an operator"));
            };
            inner.expr.span = Span::new(start, self.pos(rest));
            return Ok((rest, inner));
        }
        let Ok((rest, name)) = name_lexeme(i) else {
            return Err(self.expected(i, "a number, name, function call or `(`"));
        };
        if let Some(c) = Constant::from_keyword(name) {
            return leaf(Node::Constant(c), rest);
        }
        if name == "NULL" {
            return leaf(Node::Null, rest);
        }
        let after = skip_space(rest);
        if crate::parse_focal::is_neighbourhood_function(name) {
            let Some(args_start) = after.strip_prefix('(') else {
                return Err(self.expected(after, &format!("`(` after the function name `{name}`")));
            };
            return self.neighbourhood_call(name, start, args_start);
        }
        let is_function = Func::from_name(name).is_some() || ReduceFn::from_name(name).is_some();
        if is_function {
            let Some(args_start) = after.strip_prefix('(') else {
                return Err(self.expected(after, &format!("`(` after the function name `{name}`")));
            };
            return self.call(name, start, args_start);
        }
        if after.starts_with('(') {
            return Err(ParseError::new(
                start,
                "a known function",
                format!("unknown function `{name}`"),
            ));
        }
        if !is_valid_variable_name(name) {
            return Err(ParseError::new(
                start,
                "a variable name (letters and digits, single `_` inside, not a reserved word)",
                format!("`{name}`"),
            ));
        }
        leaf(Node::Variable(name.to_string()), rest)
    }

    /// Arguments of `name(`; `i` starts after the `(`.
    fn call(&mut self, name: &str, start: usize, i: &'s str) -> PResult<'s> {
        self.enter(i)?;
        let mut args: Vec<Parsed> = Vec::new();
        let mut rest = skip_space(i);
        if rest.starts_with(')') {
            return Err(self.expected(rest, &format!("an argument for `{name}`")));
        }
        loop {
            let (after, arg) = self.or(rest)?;
            args.push(arg);
            rest = skip_space(after);
            if let Some(after) = rest.strip_prefix(',') {
                rest = skip_space(after);
                continue;
            }
            if let Some(after) = rest.strip_prefix(')') {
                rest = after;
                break;
            }
            return Err(self.expected(rest, "`,` or `)`"));
        }
        self.leave();
        let span = Span::new(start, self.pos(rest));
        let height = 1 + args.iter().map(|a| a.height).max().unwrap_or(0);
        if height > self.limits.max_depth {
            return Err(self.too_deep(rest));
        }
        let mut exprs: Vec<Expr> = args.into_iter().map(|a| a.expr).collect();
        let count = exprs.len();
        let arity_error = |wanted: &str| {
            Err(ParseError::new(
                start,
                format!("{wanted} for `{name}`"),
                format!("{count} arguments"),
            ))
        };
        let node = match (ReduceFn::from_name(name), Func::from_name(name)) {
            (Some(reduce), _) if count == 1 => match exprs.pop() {
                Some(arg) => Node::Reduce(reduce, Box::new(arg)),
                None => return arity_error("one argument"),
            },
            (_, Some(func @ (Func::Min | Func::Max))) => Node::Call(func, exprs),
            (Some(_), _) => return arity_error("one argument"),
            (None, Some(func @ (Func::Where | Func::Clamp))) if count == 3 => {
                Node::Call(func, exprs)
            }
            (None, Some(Func::Where | Func::Clamp)) => return arity_error("three arguments"),
            (None, Some(func)) if count == 1 => Node::Call(func, exprs),
            _ => return arity_error("one argument"),
        };
        Ok((
            rest,
            Parsed {
                expr: Expr::new(node, span),
                height,
            },
        ))
    }
}
