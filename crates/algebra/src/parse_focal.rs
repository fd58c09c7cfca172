//! Parsing the neighbourhood functions: `focal_mean(x, 3)`, `focal_max(x, circle(2.5))`,
//! `slope(x)`, `hillshade(x, 315, 45)`.
//!
//! A neighbourhood and the light of a hillshade are literal numbers, never expressions of
//! the data: the halo a formula reads and the work it costs must be known from the text
//! alone, before any byte is read.

use crate::ast::{Expr, Node, Span};
use crate::error::ParseError;
use crate::neighborhood::{FocalStat, MAX_RADIUS, Shape, TerrainOp};
use crate::parser::{PResult, Parsed, Parser, name_lexeme, number_lexeme, skip_space};

const TERRAIN: [&str; 3] = ["slope", "aspect", "hillshade"];
const SHAPES: [&str; 5] = ["square", "circle", "annulus", "nesw", "wedge"];

/// Names taking a neighbourhood: reserved, so no layer binding can shadow them.
pub(crate) fn is_neighbourhood_function(name: &str) -> bool {
    FocalStat::from_name(name).is_some() || TERRAIN.contains(&name)
}

/// Function and shape names that may not be variable names.
pub(crate) fn is_neighbourhood_word(name: &str) -> bool {
    is_neighbourhood_function(name) || SHAPES.contains(&name)
}

/// A literal number with its position.
struct Literal {
    value: f64,
    at: usize,
}

impl<'s> Parser<'s> {
    /// Arguments of a neighbourhood function `name(`; `i` starts after the `(`.
    pub(crate) fn neighbourhood_call(
        &mut self,
        name: &str,
        start: usize,
        i: &'s str,
    ) -> PResult<'s> {
        self.enter(i)?;
        let (rest, arg) = self.or(skip_space(i))?;
        let mut rest = skip_space(rest);
        let node = if let Some(stat) = FocalStat::from_name(name) {
            let Some(after) = rest.strip_prefix(',') else {
                return Err(self.expected(
                    rest,
                    &format!("`,` and a neighbourhood for `{name}` (a width such as 3, or square(r), circle(r), annulus(r1, r2), nesw(r), wedge(r, start, end))"),
                ));
            };
            let (after, shape) = self.shape(skip_space(after))?;
            rest = skip_space(after);
            Node::Focal(stat, shape, Box::new(arg.expr))
        } else {
            let (after, op) = self.terrain_op(name, rest)?;
            rest = after;
            Node::Terrain(op, Box::new(arg.expr))
        };
        let Some(rest) = rest.strip_prefix(')') else {
            return Err(self.expected(rest, "`)`"));
        };
        self.leave();
        let height = arg.height + 1;
        if height > self.limits.max_depth {
            return Err(self.too_deep(rest));
        }
        let span = Span::new(start, self.pos(rest));
        Ok((
            rest,
            Parsed {
                expr: Expr::new(node, span),
                height,
            },
        ))
    }

    /// The rest of `slope(x` / `aspect(x` / `hillshade(x[, azimuth[, altitude]]`.
    fn terrain_op(&self, name: &str, rest: &'s str) -> Result<(&'s str, TerrainOp), ParseError> {
        match name {
            "slope" => Ok((rest, TerrainOp::Slope)),
            "aspect" => Ok((rest, TerrainOp::Aspect)),
            _ => {
                let (rest, light) = self.literals(rest, 2, true)?;
                let azimuth = light
                    .first()
                    .map_or(TerrainOp::DEFAULT_AZIMUTH, |l| l.value);
                let altitude = light
                    .get(1)
                    .map_or(TerrainOp::DEFAULT_ALTITUDE, |l| l.value);
                if let Some(l) = light.first().filter(|l| !(0.0..=360.0).contains(&l.value)) {
                    return Err(ParseError::new(
                        l.at,
                        "an azimuth from 0 to 360 degrees",
                        number_text(l.value),
                    ));
                }
                if let Some(l) = light.get(1).filter(|l| !(0.0..=90.0).contains(&l.value)) {
                    return Err(ParseError::new(
                        l.at,
                        "an altitude from 0 to 90 degrees",
                        number_text(l.value),
                    ));
                }
                Ok((rest, TerrainOp::Hillshade { azimuth, altitude }))
            }
        }
    }

    /// A neighbourhood: an odd width (`3` is `square(1)`) or a shape call.
    fn shape(&self, i: &'s str) -> Result<(&'s str, Shape), ParseError> {
        let at = self.pos(i);
        let Ok((after_name, name)) = name_lexeme(i) else {
            let (rest, width) = self.literal(i)?;
            let w = width.value;
            let max_width = 2 * MAX_RADIUS + 1;
            if w.fract() != 0.0 || w < 1.0 || w > f64::from(max_width) || w % 2.0 == 0.0 {
                return Err(ParseError::new(
                    width.at,
                    format!(
                        "an odd width from 1 to {max_width} (neighbourhood radius limit {MAX_RADIUS})"
                    ),
                    number_text(w),
                ));
            }
            return Ok((rest, Shape::Square(((w as u32) - 1) / 2)));
        };
        let arity = match name {
            "square" | "circle" | "nesw" => 1,
            "annulus" => 2,
            "wedge" => 3,
            _ => {
                return Err(ParseError::new(
                    at,
                    "a neighbourhood: a width, square(r), circle(r), annulus(r1, r2), nesw(r) or wedge(r, start, end)",
                    format!("`{name}`"),
                ));
            }
        };
        let rest = skip_space(after_name);
        let Some(rest) = rest.strip_prefix('(') else {
            return Err(self.expected(rest, &format!("`(` after `{name}`")));
        };
        let (rest, args) = self.literals(rest, arity, false)?;
        let rest = skip_space(rest);
        let Some(rest) = rest.strip_prefix(')') else {
            return Err(self.expected(rest, "`)`"));
        };
        Ok((rest, build_shape(name, &args)?))
    }

    /// `n` comma-separated literals (`optional`: up to `n`, each preceded by a comma);
    /// otherwise exactly `n`, the first without a comma.
    fn literals(
        &self,
        mut rest: &'s str,
        n: usize,
        optional: bool,
    ) -> Result<(&'s str, Vec<Literal>), ParseError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            rest = skip_space(rest);
            if optional || !out.is_empty() {
                match rest.strip_prefix(',') {
                    Some(after) => rest = skip_space(after),
                    None if optional => break,
                    None => {
                        return Err(self
                            .expected(rest, &format!("`,` and {} more number(s)", n - out.len())));
                    }
                }
            }
            let (after, lit) = self.literal(rest)?;
            out.push(lit);
            rest = after;
        }
        Ok((rest, out))
    }

    /// A number with an optional sign.
    fn literal(&self, i: &'s str) -> Result<(&'s str, Literal), ParseError> {
        let at = self.pos(i);
        let (negative, unsigned) = match i.strip_prefix('-') {
            Some(r) => (true, skip_space(r)),
            None => (false, i.strip_prefix('+').map_or(i, skip_space)),
        };
        let Ok((rest, text)) = number_lexeme(unsigned) else {
            return Err(self.expected(
                i,
                "a number (neighbourhood sizes and angles are literal numbers)",
            ));
        };
        let value: f64 = text.parse().map_err(|_| self.expected(i, "a number"))?;
        let value = if negative { -value } else { value };
        if !value.is_finite() {
            return Err(ParseError::new(at, "a finite number", text.to_string()));
        }
        Ok((rest, Literal { value, at }))
    }
}

/// The shape `name(args)`, its radii checked against [`MAX_RADIUS`].
fn build_shape(name: &str, args: &[Literal]) -> Result<Shape, ParseError> {
    let radius = |l: &Literal, whole: bool| -> Result<f64, ParseError> {
        let ok =
            (0.0..=f64::from(MAX_RADIUS)).contains(&l.value) && (!whole || l.value.fract() == 0.0);
        if ok {
            return Ok(l.value);
        }
        let kind = if whole { "a whole radius" } else { "a radius" };
        Err(ParseError::new(
            l.at,
            format!("{kind} from 0 to {MAX_RADIUS} (neighbourhood radius limit)"),
            number_text(l.value),
        ))
    };
    let angle = |l: &Literal| -> Result<f64, ParseError> {
        if (0.0..=360.0).contains(&l.value) {
            Ok(l.value)
        } else {
            Err(ParseError::new(
                l.at,
                "an angle from 0 to 360 degrees",
                number_text(l.value),
            ))
        }
    };
    Ok(match (name, args) {
        ("square", [r]) => Shape::Square(radius(r, true)? as u32),
        ("nesw", [r]) => Shape::Nesw(radius(r, true)? as u32),
        ("circle", [r]) => Shape::Circle(radius(r, false)?),
        ("annulus", [a, b]) => {
            let (inner, outer) = (radius(a, false)?, radius(b, false)?);
            if inner > outer {
                return Err(ParseError::new(
                    a.at,
                    "an inner radius at most the outer one",
                    number_text(inner),
                ));
            }
            Shape::Annulus(inner, outer)
        }
        ("wedge", [r, s, e]) => Shape::Wedge(radius(r, false)?, angle(s)?, angle(e)?),
        // Unreachable: `shape` reads exactly the arity of each name.
        _ => return Err(ParseError::new(0, "a neighbourhood", format!("`{name}`"))),
    })
}

fn number_text(v: f64) -> String {
    crate::neighborhood::number(v)
}
