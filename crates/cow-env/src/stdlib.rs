//! Grounded operations on already evaluated arguments: arithmetic, comparison, booleans,
//! and the pure part of the standard library (atoms as lists, strings, numbers).
//!
//! Each function returns `None` when the application is not one it handles (wrong
//! arity, or arguments of the wrong kind that the type check let through), so rules may
//! still apply and the expression otherwise stays as it is.

use crate::Atom;

/// Every name [`call`] handles, for the runner's "unknown name" warning.
pub(crate) const GROUNDED_NAMES: &[&str] = &[
    "==",
    "not",
    "and",
    "or",
    "xor",
    "<",
    ">",
    "<=",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "car-atom",
    "cdr-atom",
    "cons-atom",
    "decons-atom",
    "size-atom",
    "index-atom",
    "min-atom",
    "max-atom",
    "sort-strings",
    "id",
    "get-metatype",
    "repr",
    "parse",
    "format-args",
    "pow-math",
    "sqrt-math",
    "abs-math",
    "floor-math",
    "ceil-math",
    "round-math",
    "trunc-math",
    "unique-atom",
    "union-atom",
    "intersection-atom",
    "subtraction-atom",
    "concat-string",
];

pub(crate) fn error(call: &Atom, message: Atom) -> Atom {
    Atom::expr(vec![Atom::sym("Error"), call.clone(), message])
}

fn error_text(call: &Atom, message: &str) -> Atom {
    error(call, Atom::string(message))
}

fn number(atom: &Atom) -> Option<f64> {
    match atom {
        Atom::Int(i) => Some(*i as f64),
        Atom::Float(x) => Some(*x),
        _ => None,
    }
}

fn truth(atom: &Atom) -> Option<bool> {
    match atom.as_sym()? {
        "True" => Some(true),
        "False" => Some(false),
        _ => None,
    }
}

/// Applies the grounded operation `op` to `args` (the items after the head of `call`).
pub(crate) fn call(op: &str, args: &[Atom], call: &Atom) -> Option<Vec<Atom>> {
    let one = |a: Atom| Some(vec![a]);
    match (op, args) {
        ("==", [a, b]) => one(Atom::bool(a == b)),
        ("not", [a]) => one(Atom::bool(!truth(a)?)),
        ("and" | "or" | "xor", [a, b]) => {
            let (a, b) = (truth(a)?, truth(b)?);
            one(Atom::bool(match op {
                "and" => a && b,
                "or" => a || b,
                _ => a ^ b,
            }))
        }
        ("<" | ">" | "<=" | ">=", [a, b]) => {
            let (x, y) = (number(a)?, number(b)?);
            one(Atom::bool(match op {
                "<" => x < y,
                ">" => x > y,
                "<=" => x <= y,
                _ => x >= y,
            }))
        }
        ("+" | "-" | "*" | "/" | "%", [a, b]) => one(arithmetic(op, a, b, call)?),
        ("pow-math", [a, b]) => one(Atom::Float(number(a)?.powf(number(b)?))),
        (
            "sqrt-math" | "abs-math" | "floor-math" | "ceil-math" | "round-math" | "trunc-math",
            [a],
        ) => {
            if let (Atom::Int(i), "abs-math") = (a, op) {
                return one(Atom::Int(i.checked_abs()?));
            }
            let x = number(a)?;
            one(Atom::Float(match op {
                "sqrt-math" => x.sqrt(),
                "abs-math" => x.abs(),
                "floor-math" => x.floor(),
                "ceil-math" => x.ceil(),
                "round-math" => x.round(),
                _ => x.trunc(),
            }))
        }
        ("car-atom", [list]) => match list.as_expr() {
            Some([first, ..]) => one(first.clone()),
            Some([]) => one(error_text(
                call,
                "car-atom expects a non-empty expression as an argument",
            )),
            None => None,
        },
        ("cdr-atom", [list]) => match list.as_expr() {
            Some([_, rest @ ..]) => one(Atom::expr(rest.to_vec())),
            Some([]) => one(error_text(
                call,
                "cdr-atom expects a non-empty expression as an argument",
            )),
            None => None,
        },
        ("cons-atom", [first, rest]) => {
            let tail = rest.as_expr()?;
            let mut items = Vec::with_capacity(tail.len() + 1);
            items.push(first.clone());
            items.extend_from_slice(tail);
            one(Atom::expr(items))
        }
        ("decons-atom", [list]) => match list.as_expr()? {
            [first, rest @ ..] => one(Atom::expr(vec![first.clone(), Atom::expr(rest.to_vec())])),
            [] => one(error_text(
                call,
                "decons-atom expects a non-empty expression as an argument",
            )),
        },
        ("size-atom", [list]) => one(Atom::Int(list.as_expr()?.len() as i64)),
        ("index-atom", [list, Atom::Int(i)]) => {
            let items = list.as_expr()?;
            match usize::try_from(*i).ok().and_then(|i| items.get(i)) {
                Some(item) => one(item.clone()),
                None => one(error(call, Atom::sym("Index is out of bounds"))),
            }
        }
        ("min-atom" | "max-atom", [list]) => {
            let items = list.as_expr()?;
            if items.is_empty() {
                return one(error(call, Atom::sym("Empty expression")));
            }
            let mut best: Option<f64> = None;
            for item in items {
                let x = number(item)?;
                best = Some(match best {
                    None => x,
                    Some(b) if op == "min-atom" => b.min(x),
                    Some(b) => b.max(x),
                });
            }
            one(Atom::Float(best?))
        }
        ("sort-strings", [list]) => {
            let mut texts = Vec::new();
            for item in list.as_expr()? {
                match item {
                    Atom::Str(s) => texts.push(s.clone()),
                    _ => return None,
                }
            }
            texts.sort();
            one(Atom::expr(
                texts.into_iter().map(Atom::Str).collect::<Vec<_>>(),
            ))
        }
        ("unique-atom", [list]) => {
            let mut out: Vec<Atom> = Vec::new();
            for item in list.as_expr()? {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            one(Atom::expr(out))
        }
        ("union-atom", [a, b]) => {
            let mut out = a.as_expr()?.to_vec();
            out.extend_from_slice(b.as_expr()?);
            one(Atom::expr(out))
        }
        ("intersection-atom" | "subtraction-atom", [a, b]) => {
            let mut rest = b.as_expr()?.to_vec();
            let mut out = Vec::new();
            for item in a.as_expr()? {
                let found = rest.iter().position(|r| r == item);
                match (found, op) {
                    (Some(i), "intersection-atom") => {
                        rest.remove(i);
                        out.push(item.clone());
                    }
                    (Some(i), _) => {
                        rest.remove(i);
                    }
                    (None, "subtraction-atom") => out.push(item.clone()),
                    (None, _) => {}
                }
            }
            one(Atom::expr(out))
        }
        ("id", [a]) => one(a.clone()),
        ("get-metatype", [a]) => one(Atom::sym(crate::types::metatype(a))),
        ("repr", [a]) => one(Atom::string(&a.to_string())),
        ("parse", [Atom::Str(text)]) => match crate::parse_atom(text) {
            Ok(atom) => one(atom),
            Err(e) => one(error_text(call, &e.to_string())),
        },
        ("concat-string", [Atom::Str(a), Atom::Str(b)]) => one(Atom::string(&format!("{a}{b}"))),
        ("format-args", [Atom::Str(format), list]) => {
            let items = list.as_expr()?;
            let mut out = String::new();
            let mut next = items.iter();
            let mut rest = &format[..];
            while let Some(at) = rest.find("{}") {
                out.push_str(&rest[..at]);
                match next.next() {
                    Some(Atom::Str(s)) => out.push_str(s),
                    Some(item) => out.push_str(&item.to_string()),
                    None => out.push_str("{}"),
                }
                rest = &rest[at + 2..];
            }
            out.push_str(rest);
            one(Atom::string(&out))
        }
        _ => None,
    }
}

fn arithmetic(op: &str, a: &Atom, b: &Atom, call: &Atom) -> Option<Atom> {
    if let (Atom::Int(x), Atom::Int(y)) = (a, b) {
        let (x, y) = (*x, *y);
        // Integers wrap on overflow, as in the reference interpreter.
        let value = match op {
            "+" => x.wrapping_add(y),
            "-" => x.wrapping_sub(y),
            "*" => x.wrapping_mul(y),
            "/" | "%" if y == 0 => return Some(error(call, Atom::sym("DivisionByZero"))),
            "/" => x.wrapping_div(y),
            _ => x.wrapping_rem(y),
        };
        return Some(Atom::Int(value));
    }
    let (x, y) = (number(a)?, number(b)?);
    Some(Atom::Float(match op {
        "+" => x + y,
        "-" => x - y,
        "*" => x * y,
        "/" => x / y,
        _ => x % y,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_atom;

    fn run(text: &str) -> Option<Vec<String>> {
        let atom = parse_atom(text).unwrap();
        let items = atom.as_expr().unwrap();
        let op = items[0].as_sym().unwrap();
        call(op, &items[1..], &atom).map(|v| v.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn list_operations() {
        assert_eq!(run("(decons-atom (1 2 3))").unwrap(), vec!["(1 (2 3))"]);
        assert_eq!(run("(index-atom (a b c) 2)").unwrap(), vec!["c"]);
        assert_eq!(run("(max-atom (1 5 2))").unwrap(), vec!["5.0"]);
        assert_eq!(
            run("(sort-strings (\"b\" \"c\" \"a\"))").unwrap(),
            vec!["(\"a\" \"b\" \"c\")"]
        );
        assert_eq!(
            run("(format-args \"{} and {}\" (1 \"x\"))").unwrap(),
            vec!["\"1 and x\""]
        );
        assert_eq!(run("(size-atom x)"), None);
    }
}
