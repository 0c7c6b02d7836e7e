//! The standard library: built-in functions on lists, strings, numbers and records.
//!
//! Built-ins are ordinary curried functions in scope everywhere, behind every local,
//! top-level and imported name (a program may define its own `map`). Their types are
//! written in the language's own type syntax ([`Builtin::signature`]) and converted by
//! the checker like an annotation, so they follow the checker's representation
//! whatever it is. `length` takes a `String` or a `List` and `sort` an `Integer`,
//! `Float` or `String` list: the checker adds those constraints
//! ([`Builtin::constraint`]).
//!
//! Every call charges evaluation steps in proportion to the size of what it reads or
//! builds, so the step limit bounds the work and memory of `range 0 1000000000`; a
//! single result is also capped at [`MAX_BUILT`] elements or bytes.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::eval::{short, Value};
use crate::sync::Arc;

/// The most elements (or bytes) one built-in call may build.
pub(crate) const MAX_BUILT: usize = 1 << 26;

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Builtin {
    Length,
    Map,
    Filter,
    Fold,
    Concat,
    Range,
    Sort,
    SortBy,
    Reverse,
    Any,
    All,
    Elem,
    Split,
    Join,
    Contains,
    Replace,
    Upper,
    Lower,
    Trim,
    StartsWith,
    EndsWith,
    ToString,
    ToFloat,
    Truncate,
    ParseInteger,
    ParseFloat,
    HasField,
}

/// The class a built-in's type variable `'a` must belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Constraint {
    /// `String` or `List`.
    Sized,
    /// `Integer`, `Float` or `String`.
    Ordered,
}

const ALL: &[Builtin] = &[
    Builtin::Length,
    Builtin::Map,
    Builtin::Filter,
    Builtin::Fold,
    Builtin::Concat,
    Builtin::Range,
    Builtin::Sort,
    Builtin::SortBy,
    Builtin::Reverse,
    Builtin::Any,
    Builtin::All,
    Builtin::Elem,
    Builtin::Split,
    Builtin::Join,
    Builtin::Contains,
    Builtin::Replace,
    Builtin::Upper,
    Builtin::Lower,
    Builtin::Trim,
    Builtin::StartsWith,
    Builtin::EndsWith,
    Builtin::ToString,
    Builtin::ToFloat,
    Builtin::Truncate,
    Builtin::ParseInteger,
    Builtin::ParseFloat,
    Builtin::HasField,
];

impl Builtin {
    /// The built-in called `name`, if any.
    pub(crate) fn lookup(name: &str) -> Option<Builtin> {
        ALL.iter().copied().find(|b| b.name() == name)
    }

    /// Every built-in, in documentation order.
    #[cfg(test)]
    pub(crate) fn all() -> &'static [Builtin] {
        ALL
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Builtin::Length => "length",
            Builtin::Map => "map",
            Builtin::Filter => "filter",
            Builtin::Fold => "fold",
            Builtin::Concat => "concat",
            Builtin::Range => "range",
            Builtin::Sort => "sort",
            Builtin::SortBy => "sortBy",
            Builtin::Reverse => "reverse",
            Builtin::Any => "any",
            Builtin::All => "all",
            Builtin::Elem => "elem",
            Builtin::Split => "split",
            Builtin::Join => "join",
            Builtin::Contains => "contains",
            Builtin::Replace => "replace",
            Builtin::Upper => "upper",
            Builtin::Lower => "lower",
            Builtin::Trim => "trim",
            Builtin::StartsWith => "startsWith",
            Builtin::EndsWith => "endsWith",
            Builtin::ToString => "toString",
            Builtin::ToFloat => "toFloat",
            Builtin::Truncate => "truncate",
            Builtin::ParseInteger => "parseInteger",
            Builtin::ParseFloat => "parseFloat",
            Builtin::HasField => "hasField",
        }
    }

    /// The type, in the language's syntax.
    pub(crate) fn signature(self) -> &'static str {
        match self {
            Builtin::Length => "'a -> Integer",
            Builtin::Map => "('a -> 'b) -> List 'a -> List 'b",
            Builtin::Filter => "('a -> Bool) -> List 'a -> List 'a",
            Builtin::Fold => "('b -> 'a -> 'b) -> 'b -> List 'a -> 'b",
            Builtin::Concat => "List (List 'a) -> List 'a",
            Builtin::Range => "Integer -> Integer -> List Integer",
            Builtin::Sort => "List 'a -> List 'a",
            Builtin::SortBy => "('a -> 'a -> Bool) -> List 'a -> List 'a",
            Builtin::Reverse => "List 'a -> List 'a",
            Builtin::Any | Builtin::All => "('a -> Bool) -> List 'a -> Bool",
            Builtin::Elem => "'a -> List 'a -> Bool",
            Builtin::Split => "String -> String -> List String",
            Builtin::Join => "String -> List String -> String",
            Builtin::Contains | Builtin::StartsWith | Builtin::EndsWith => {
                "String -> String -> Bool"
            }
            Builtin::Replace => "String -> String -> String -> String",
            Builtin::Upper | Builtin::Lower | Builtin::Trim => "String -> String",
            Builtin::ToString => "'a -> String",
            Builtin::ToFloat => "Integer -> Float",
            Builtin::Truncate => "Float -> Integer",
            Builtin::ParseInteger => "String -> Integer",
            Builtin::ParseFloat => "String -> Float",
            Builtin::HasField => "String -> 'a -> Bool",
        }
    }

    /// What it does, for the reference in `docs/config-eval.md`.
    #[cfg(test)]
    pub(crate) fn summary(self) -> &'static str {
        match self {
            Builtin::Length => "number of elements of a list, or of characters of a string",
            Builtin::Map => "`map f xs` applies `f` to every element",
            Builtin::Filter => "`filter p xs` keeps the elements for which `p` is true",
            Builtin::Fold => "`fold f init xs` is `f (... (f (f init x1) x2) ...) xn`",
            Builtin::Concat => "joins a list of lists into one list",
            Builtin::Range => "`range a b` is `[a, a + 1, ..., b - 1]` (empty if `b <= a`)",
            Builtin::Sort => "sorts ascending (a stable sort)",
            Builtin::SortBy => "`sortBy less xs` sorts stably by the `less` relation",
            Builtin::Reverse => "the list backwards",
            Builtin::Any => "`any p xs`: whether `p` holds for some element",
            Builtin::All => "`all p xs`: whether `p` holds for every element",
            Builtin::Elem => "`elem x xs`: whether `x` is an element of `xs`",
            Builtin::Split => "`split sep s` cuts `s` at every `sep` (`sep` not empty)",
            Builtin::Join => "`join sep xs` puts `sep` between the strings",
            Builtin::Contains => "`contains s part`: whether `part` occurs in `s`",
            Builtin::Replace => "`replace s from to` replaces every `from` (not empty)",
            Builtin::Upper => "upper case",
            Builtin::Lower => "lower case",
            Builtin::Trim => "without leading and trailing white space",
            Builtin::StartsWith => "`startsWith s prefix`",
            Builtin::EndsWith => "`endsWith s suffix`",
            Builtin::ToString => {
                "a value as text: strings as they are, other values as they print (not functions)"
            }
            Builtin::ToFloat => "an Integer as a Float",
            Builtin::Truncate => {
                "a Float as an Integer, rounded toward zero (an error if it does not fit)"
            }
            Builtin::ParseInteger => "a decimal Integer from a string (an error if it is not one)",
            Builtin::ParseFloat => "a Float from a string (an error if it is not one)",
            Builtin::HasField => "`hasField name r`: whether the record `r` has that field",
        }
    }

    /// The constraint on `'a`, if any.
    pub(crate) fn constraint(self) -> Option<Constraint> {
        match self {
            Builtin::Length => Some(Constraint::Sized),
            Builtin::Sort => Some(Constraint::Ordered),
            _ => None,
        }
    }

    /// How many arguments it takes before it runs.
    pub(crate) fn arity(self) -> usize {
        match self {
            Builtin::Replace | Builtin::Fold => 3,
            Builtin::Length
            | Builtin::Concat
            | Builtin::Sort
            | Builtin::Reverse
            | Builtin::Upper
            | Builtin::Lower
            | Builtin::Trim
            | Builtin::ToString
            | Builtin::ToFloat
            | Builtin::Truncate
            | Builtin::ParseInteger
            | Builtin::ParseFloat => 1,
            _ => 2,
        }
    }
}

/// What a built-in needs from the evaluator.
pub(crate) trait Host {
    /// Applies a function value to one argument.
    fn call(&mut self, f: &Value, arg: Value) -> Result<Value, Error>;
    /// Counts `n` evaluation steps against the step limit.
    fn charge(&mut self, n: u64) -> Result<(), Error>;
    /// Fails when building a `what` (`"a list"`, `"a string"`) of `size` elements or
    /// bytes would pass the value-size limit.
    fn check_size(&mut self, what: &str, size: usize) -> Result<(), Error>;
    /// The value-size limit (bytes of a string, elements of a list).
    fn size_limit(&self) -> usize;
}

/// Why a built-in failed: a message for the caller's position, or an error that
/// already has one (from a function it called, or a limit).
pub(crate) enum Fail {
    Msg(String),
    Err(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Err(e)
    }
}

fn list(v: &Value) -> Result<&Arc<Vec<Value>>, Fail> {
    match v {
        Value::List(xs) => Ok(xs),
        other => Err(Fail::Msg(format!(
            "expected a list, found {}",
            short(other)
        ))),
    }
}

fn string(v: &Value) -> Result<&str, Fail> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(Fail::Msg(format!(
            "expected a string, found {}",
            short(other)
        ))),
    }
}

fn boolean(v: Value, what: &str) -> Result<bool, Fail> {
    match v {
        Value::Bool(b) => Ok(b),
        other => Err(Fail::Msg(format!(
            "{what} must return a Bool, found {}",
            short(&other)
        ))),
    }
}

fn too_big(host: &mut dyn Host, what: &str, n: usize) -> Result<(), Fail> {
    host.check_size(what, n)?;
    if n > MAX_BUILT {
        return Err(Fail::Msg(format!(
            "value too large: {n} elements or bytes (the limit for one built-in result is {MAX_BUILT})"
        )));
    }
    Ok(())
}

fn str_value(s: String) -> Value {
    Value::Str(Arc::from(s))
}

/// `a < b` for `sort`: integers, floats and strings.
fn less(a: &Value, b: &Value) -> Result<bool, Fail> {
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => x < y,
        _ => {
            return Err(Fail::Msg(format!(
                "cannot order {} and {}",
                short(a),
                short(b)
            )))
        }
    })
}

/// A fallible "strictly less" relation that may call back into the evaluator.
type LessFn<'a> = dyn FnMut(&mut dyn Host, &Value, &Value) -> Result<bool, Fail> + 'a;

/// A stable merge sort with a fallible comparison (`less`), so that a failing or
/// inconsistent comparison cannot panic the way `sort_by` may.
fn merge_sort(
    xs: Vec<Value>,
    host: &mut dyn Host,
    less: &mut LessFn<'_>,
) -> Result<Vec<Value>, Fail> {
    let mut items = xs;
    let n = items.len();
    let mut width = 1;
    while width < n {
        let mut out = Vec::with_capacity(n);
        let mut it = items.into_iter();
        loop {
            let left: Vec<Value> = it.by_ref().take(width).collect();
            if left.is_empty() {
                break;
            }
            let right: Vec<Value> = it.by_ref().take(width).collect();
            host.charge((left.len() + right.len()) as u64)?;
            let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
            while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
                // Take from the right only when it is strictly less: stable.
                if less(host, b, a)? {
                    out.extend(r.next());
                } else {
                    out.extend(l.next());
                }
            }
            out.extend(l);
            out.extend(r);
        }
        items = out;
        width *= 2;
    }
    Ok(items)
}

/// Runs `b` on its arguments (exactly `b.arity()` of them).
pub(crate) fn call(b: Builtin, args: &[Value], host: &mut dyn Host) -> Result<Value, Fail> {
    let arg = |i: usize| -> Result<&Value, Fail> {
        args.get(i)
            .ok_or_else(|| Fail::Msg("missing an argument".into()))
    };
    Ok(match b {
        Builtin::Length => match arg(0)? {
            Value::List(xs) => Value::Int(xs.len() as i64),
            Value::Str(s) => {
                host.charge(s.len() as u64 / 64)?;
                Value::Int(s.chars().count() as i64)
            }
            other => {
                return Err(Fail::Msg(format!(
                    "expected a string or a list, found {}",
                    short(other)
                )))
            }
        },
        Builtin::Map => {
            let f = arg(0)?;
            let xs = list(arg(1)?)?;
            host.charge(xs.len() as u64)?;
            let mut out = Vec::with_capacity(xs.len());
            for x in xs.iter() {
                out.push(host.call(f, x.clone())?);
            }
            Value::List(Arc::new(out))
        }
        Builtin::Filter => {
            let f = arg(0)?;
            let xs = list(arg(1)?)?;
            host.charge(xs.len() as u64)?;
            let mut out = Vec::new();
            for x in xs.iter() {
                if boolean(host.call(f, x.clone())?, "the `filter` predicate")? {
                    out.push(x.clone());
                }
            }
            Value::List(Arc::new(out))
        }
        Builtin::Fold => {
            let f = arg(0)?;
            let mut acc = arg(1)?.clone();
            let xs = list(arg(2)?)?;
            host.charge(xs.len() as u64)?;
            for x in xs.iter() {
                let g = host.call(f, acc)?;
                acc = host.call(&g, x.clone())?;
            }
            acc
        }
        Builtin::Concat => {
            let xss = list(arg(0)?)?;
            let mut total = 0usize;
            for xs in xss.iter() {
                total = total.saturating_add(list(xs)?.len());
            }
            too_big(host, "a list", total)?;
            host.charge(total as u64 + xss.len() as u64)?;
            let mut out = Vec::with_capacity(total);
            for xs in xss.iter() {
                out.extend(list(xs)?.iter().cloned());
            }
            Value::List(Arc::new(out))
        }
        Builtin::Range => {
            let (Value::Int(a), Value::Int(b)) = (arg(0)?, arg(1)?) else {
                return Err(Fail::Msg("expected two integers".into()));
            };
            let n = if b > a { b.abs_diff(*a) } else { 0 };
            too_big(host, "a list", usize::try_from(n).unwrap_or(usize::MAX))?;
            host.charge(n)?;
            Value::List(Arc::new((*a..*b).map(Value::Int).collect()))
        }
        Builtin::Sort => {
            let xs = list(arg(0)?)?;
            let sorted = merge_sort(xs.to_vec(), host, &mut |_, a, b| less(a, b))?;
            Value::List(Arc::new(sorted))
        }
        Builtin::SortBy => {
            let f = arg(0)?.clone();
            let xs = list(arg(1)?)?;
            let sorted = merge_sort(xs.to_vec(), host, &mut |h, a, b| {
                let g = h.call(&f, a.clone())?;
                boolean(h.call(&g, b.clone())?, "the `sortBy` relation")
            })?;
            Value::List(Arc::new(sorted))
        }
        Builtin::Reverse => {
            let xs = list(arg(0)?)?;
            host.charge(xs.len() as u64)?;
            Value::List(Arc::new(xs.iter().rev().cloned().collect()))
        }
        Builtin::Any | Builtin::All => {
            let f = arg(0)?;
            let xs = list(arg(1)?)?;
            let want = b == Builtin::Any;
            for x in xs.iter() {
                host.charge(1)?;
                if boolean(host.call(f, x.clone())?, "the predicate")? == want {
                    return Ok(Value::Bool(want));
                }
            }
            Value::Bool(!want)
        }
        Builtin::Elem => {
            let x = arg(0)?;
            let xs = list(arg(1)?)?;
            host.charge(xs.len() as u64)?;
            for y in xs.iter() {
                match crate::eval::values_equal(x, y) {
                    Some(true) => return Ok(Value::Bool(true)),
                    Some(false) => {}
                    None => return Err(Fail::Msg("functions cannot be compared".into())),
                }
            }
            Value::Bool(false)
        }
        Builtin::Split => {
            let sep = string(arg(0)?)?;
            let s = string(arg(1)?)?;
            if sep.is_empty() {
                return Err(Fail::Msg("the separator must not be empty".into()));
            }
            host.charge(s.len() as u64 / 16 + 1)?;
            Value::List(Arc::new(
                s.split(sep).map(|p| str_value(p.to_owned())).collect(),
            ))
        }
        Builtin::Join => {
            let sep = string(arg(0)?)?;
            let xs = list(arg(1)?)?;
            let mut total = 0usize;
            for x in xs.iter() {
                total = total
                    .saturating_add(string(x)?.len())
                    .saturating_add(sep.len());
            }
            too_big(host, "a string", total)?;
            host.charge(total as u64 / 16 + xs.len() as u64)?;
            let mut out = String::with_capacity(total);
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                out.push_str(string(x)?);
            }
            str_value(out)
        }
        Builtin::Contains | Builtin::StartsWith | Builtin::EndsWith => {
            let s = string(arg(0)?)?;
            let p = string(arg(1)?)?;
            host.charge(s.len() as u64 / 16)?;
            Value::Bool(match b {
                Builtin::Contains => s.contains(p),
                Builtin::StartsWith => s.starts_with(p),
                _ => s.ends_with(p),
            })
        }
        Builtin::Replace => {
            let s = string(arg(0)?)?;
            let from = string(arg(1)?)?;
            let to = string(arg(2)?)?;
            if from.is_empty() {
                return Err(Fail::Msg("the text to replace must not be empty".into()));
            }
            let count = s.matches(from).count();
            let size = s.len().saturating_add(count.saturating_mul(to.len()));
            too_big(host, "a string", size)?;
            host.charge(size as u64 / 16)?;
            str_value(s.replace(from, to))
        }
        Builtin::Upper | Builtin::Lower | Builtin::Trim => {
            let s = string(arg(0)?)?;
            host.charge(s.len() as u64 / 16)?;
            str_value(match b {
                Builtin::Upper => s.to_uppercase(),
                Builtin::Lower => s.to_lowercase(),
                _ => s.trim().to_owned(),
            })
        }
        Builtin::ToString => {
            let v = arg(0)?;
            str_value(to_text(v, host)?)
        }
        Builtin::ToFloat => match arg(0)? {
            Value::Int(i) => Value::Float(*i as f64),
            other => {
                return Err(Fail::Msg(format!(
                    "expected an integer, found {}",
                    short(other)
                )))
            }
        },
        Builtin::Truncate => match arg(0)? {
            Value::Float(f)
                if f.is_finite()
                    && f.trunc() >= -9.223_372_036_854_776e18
                    && f.trunc() < 9.223_372_036_854_776e18 =>
            {
                Value::Int(f.trunc() as i64)
            }
            other => return Err(Fail::Msg(format!("{other} does not fit in an Integer"))),
        },
        Builtin::ParseInteger => {
            let s = string(arg(0)?)?;
            match s.trim().parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => {
                    let shown: String = s.chars().take(40).collect();
                    return Err(Fail::Msg(format!("\"{shown}\" is not an integer")));
                }
            }
        }
        Builtin::ParseFloat => {
            let s = string(arg(0)?)?;
            match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Float(f),
                _ => {
                    let shown: String = s.chars().take(40).collect();
                    return Err(Fail::Msg(format!("\"{shown}\" is not a finite number")));
                }
            }
        }
        Builtin::HasField => {
            let name = string(arg(0)?)?;
            match arg(1)? {
                Value::Record(fs) => Value::Bool(fs.contains_key(name)),
                _ => Value::Bool(false),
            }
        }
    })
}

/// The text of a value for `toString` and string interpolation: a string as it is,
/// anything else as `--format text` prints it. Functions have no text.
pub(crate) fn to_text(v: &Value, host: &mut dyn Host) -> Result<String, Fail> {
    match v {
        Value::Str(s) => Ok(s.to_string()),
        Value::Function(_) => Err(Fail::Msg("a function cannot be turned into text".into())),
        other => {
            if contains_function(other) {
                return Err(Fail::Msg("a function cannot be turned into text".into()));
            }
            // Rendering stops one byte past the limit: a value that shares its parts
            // can have an exponentially long text.
            let cap = host.size_limit().min(MAX_BUILT).saturating_add(1);
            let (text, complete) = crate::eval::capped_text(other, cap);
            if !complete {
                too_big(host, "a string", cap)?;
            }
            too_big(host, "a string", text.len())?;
            host.charge(text.len() as u64 / 16)?;
            Ok(text)
        }
    }
}

/// Whether a function is anywhere inside `v`; each shared part is looked at once.
fn contains_function(v: &Value) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Function(_) => return true,
            Value::List(xs) if seen.insert(Arc::as_ptr(xs) as usize) => stack.extend(xs.iter()),
            Value::Record(fs) if seen.insert(Arc::as_ptr(fs) as usize) => stack.extend(fs.values()),
            Value::Ctor(_, Some(p)) if seen.insert(Arc::as_ptr(p) as usize) => stack.push(p),
            _ => {}
        }
    }
    false
}

/// `a & b`: the fields of both records, `b`'s where both have one.
pub(crate) fn merge(a: &Value, b: &Value) -> Result<Value, String> {
    match (a, b) {
        (Value::Record(x), Value::Record(y)) => {
            let mut out: BTreeMap<String, Value> = (**x).clone();
            for (k, v) in y.iter() {
                out.insert(k.clone(), v.clone());
            }
            Ok(Value::Record(Arc::new(out)))
        }
        _ => Err(format!(
            "`&` merges two records, found {} and {}",
            short(a),
            short(b)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_type;

    #[test]
    fn every_signature_parses_and_names_are_unique() {
        let mut names = std::collections::HashSet::new();
        for b in Builtin::all() {
            assert!(names.insert(b.name()), "{}", b.name());
            assert!(parse_type(b.signature()).is_ok(), "{}", b.name());
            assert_eq!(Builtin::lookup(b.name()), Some(*b));
            let mut t = parse_type(b.signature()).unwrap();
            let mut arrows = 0;
            while let crate::ast::TypeExpr::Fun(_, r) = t {
                arrows += 1;
                t = *r;
            }
            assert_eq!(arrows, b.arity(), "{}", b.name());
        }
    }

    #[test]
    fn the_reference_lists_every_builtin_with_its_type() {
        let doc = include_str!("../../../docs/config-eval.md");
        for b in Builtin::all() {
            let row = format!("| `{}` | `{}` |", b.name(), b.signature());
            assert!(
                doc.contains(&row),
                "docs/config-eval.md lacks the row {row}"
            );
            assert!(!b.summary().is_empty());
        }
    }
}
