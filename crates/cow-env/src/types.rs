//! Types: the declared types of the built-in operations, `get-type` inference, and the
//! argument check behind `BadArgType`.
//!
//! A type is an atom. `(-> A1 .. An R)` is the type of a function of n arguments.
//! `%Undefined%` is the type of an atom nothing is known about and matches every type;
//! `Atom` matches every atom; `Expression`, `Symbol`, `Variable` and `Grounded` match
//! atoms of that kind (the *metatype*); a type variable `$t` matches any type,
//! consistently across the arguments of one application.

use std::collections::HashMap;

use crate::unify::{rename, Bindings};
use crate::Atom;

/// `%Undefined%`.
pub(crate) const UNDEFINED: &str = "%Undefined%";

/// The declared types of the built-in operations and forms, as text.
const BUILTIN_TYPES: &[(&str, &str)] = &[
    ("+", "(-> Number Number Number)"),
    ("-", "(-> Number Number Number)"),
    ("*", "(-> Number Number Number)"),
    ("/", "(-> Number Number Number)"),
    ("%", "(-> Number Number Number)"),
    ("<", "(-> Number Number Bool)"),
    (">", "(-> Number Number Bool)"),
    ("<=", "(-> Number Number Bool)"),
    (">=", "(-> Number Number Bool)"),
    ("==", "(-> $t $t Bool)"),
    ("and", "(-> Bool Bool Bool)"),
    ("or", "(-> Bool Bool Bool)"),
    ("xor", "(-> Bool Bool Bool)"),
    ("not", "(-> Bool Bool)"),
    ("if", "(-> Bool Atom Atom $t)"),
    ("let", "(-> Atom %Undefined% Atom %Undefined%)"),
    ("let*", "(-> Expression Atom %Undefined%)"),
    ("superpose", "(-> Expression %Undefined%)"),
    ("collapse", "(-> Atom Atom)"),
    ("quote", "(-> Atom Atom)"),
    ("noeval", "(-> Atom Atom)"),
    ("unify", "(-> Atom Atom Atom Atom %Undefined%)"),
    ("case", "(-> Atom Expression %Undefined%)"),
    ("switch", "(-> %Undefined% Expression %Undefined%)"),
    ("car-atom", "(-> Expression %Undefined%)"),
    ("cdr-atom", "(-> Expression Expression)"),
    ("cons-atom", "(-> Atom Expression Atom)"),
    ("decons-atom", "(-> Expression Atom)"),
    ("size-atom", "(-> Expression Number)"),
    ("index-atom", "(-> Expression Number Atom)"),
    ("min-atom", "(-> %Undefined% Number)"),
    ("max-atom", "(-> %Undefined% Number)"),
    ("get-metatype", "(-> Atom Atom)"),
    ("if-equal", "(-> Atom Atom Atom Atom %Undefined%)"),
    ("if-error", "(-> Atom Atom Atom %Undefined%)"),
    ("return-on-error", "(-> Atom Atom %Undefined%)"),
    ("for-each-in-atom", "(-> Expression Atom (->))"),
    ("unquote", "(-> %Undefined% %Undefined%)"),
    ("atom-subst", "(-> Atom Variable Atom Atom)"),
    ("is-function", "(-> Type Bool)"),
    ("add-reduct", "(-> SpaceType %Undefined% (->))"),
    ("add-atoms", "(-> SpaceType Expression (->))"),
    ("noreduce-eq", "(-> Atom Atom Bool)"),
    ("metta", "(-> Atom Type SpaceType Atom)"),
    ("function", "(-> Atom Atom)"),
    ("sort-strings", "(-> Expression Expression)"),
    ("format-args", "(-> String Expression String)"),
    ("id", "(-> $tid $tid)"),
    ("unique", "(-> Atom %Undefined%)"),
    ("sealed", "(-> Expression Atom Atom)"),
    ("eval", "(-> Atom Atom)"),
    ("chain", "(-> Atom Variable Atom %Undefined%)"),
    ("match", "(-> SpaceType Atom Atom %Undefined%)"),
    (
        "foldl-atom",
        "(-> Expression Atom Variable Variable Atom %Undefined%)",
    ),
    ("map-atom", "(-> Expression Variable Atom Expression)"),
    ("filter-atom", "(-> Expression Variable Atom Expression)"),
    (
        "if-decons-expr",
        "(-> Expression Variable Variable Atom Atom %Undefined%)",
    ),
    ("new-space", "(-> SpaceType)"),
    ("add-atom", "(-> SpaceType Atom (->))"),
    ("remove-atom", "(-> SpaceType Atom (->))"),
    ("get-atoms", "(-> SpaceType Atom)"),
    ("new-state", "(-> $tnso (StateMonad $tnso))"),
    ("get-state", "(-> (StateMonad $tgso) $tgso)"),
    (
        "change-state!",
        "(-> (StateMonad $tcso) $tcso (StateMonad $tcso))",
    ),
    ("Error", "(-> Atom Atom ErrorType)"),
    ("repr", "(-> Atom String)"),
    ("parse", "(-> String Atom)"),
    ("pow-math", "(-> Number Number Number)"),
    ("sqrt-math", "(-> Number Number)"),
    ("abs-math", "(-> Number Number)"),
    ("floor-math", "(-> Number Number)"),
    ("ceil-math", "(-> Number Number)"),
    ("round-math", "(-> Number Number)"),
    ("trunc-math", "(-> Number Number)"),
];

/// The built-in type table, parsed.
#[derive(Debug)]
pub(crate) struct Builtins {
    types: HashMap<&'static str, Atom>,
}

impl Builtins {
    pub(crate) fn new() -> Self {
        let types = BUILTIN_TYPES
            .iter()
            .filter_map(|(name, text)| crate::parse_atom(text).ok().map(|ty| (*name, ty)))
            .collect();
        Builtins { types }
    }

    /// The declared type of a built-in operation.
    pub(crate) fn get(&self, name: &str) -> Option<&Atom> {
        self.types.get(name)
    }
}

/// The metatype of an atom: `Symbol`, `Variable`, `Expression` or `Grounded`.
pub(crate) fn metatype(atom: &Atom) -> &'static str {
    match atom {
        Atom::Sym(_) => "Symbol",
        Atom::Var(_) => "Variable",
        Atom::Expr(_) => "Expression",
        _ => "Grounded",
    }
}

/// The type name of a literal (`Number`, `String`, `Bool`), without allocating.
pub(crate) fn literal_type(atom: &Atom) -> Option<&'static str> {
    match atom {
        Atom::Int(_) | Atom::Float(_) => Some("Number"),
        Atom::Str(_) => Some("String"),
        Atom::Sym(s) if &**s == "True" || &**s == "False" => Some("Bool"),
        _ => None,
    }
}

/// The parameter types and return type of a function type `(-> A1 .. An R)`.
pub(crate) fn function_parts(ty: &Atom) -> Option<(&[Atom], &Atom)> {
    match ty.as_expr() {
        Some([arrow, params @ .., ret]) if arrow.as_sym() == Some("->") => Some((params, ret)),
        _ => None,
    }
}

/// Whether an argument of expected type `expected` is passed without being evaluated.
pub(crate) fn is_unevaluated_type(expected: &Atom, arg: &Atom) -> bool {
    match expected.as_sym() {
        Some("Atom") => true,
        Some(meta @ ("Expression" | "Symbol" | "Variable" | "Grounded")) => metatype(arg) == meta,
        _ => false,
    }
}

/// Whether the expected type accepts every atom without looking at it.
fn accepts_anything(expected: &Atom) -> bool {
    matches!(expected.as_sym(), Some(UNDEFINED) | Some("Atom"))
}

/// Checks `actual`'s types against `expected`, extending `bindings` (type variables) on
/// success. `actual_types` are the types inferred for the argument.
pub(crate) fn check_arg(
    expected: &Atom,
    arg: &Atom,
    actual_types: &[Atom],
    bindings: &mut Bindings,
) -> bool {
    if accepts_anything(expected) || matches!(arg, Atom::Var(_)) {
        return true;
    }
    if let Some(meta @ ("Expression" | "Symbol" | "Variable" | "Grounded")) = expected.as_sym() {
        return metatype(arg) == meta;
    }
    if actual_types.is_empty() {
        return false;
    }
    for ty in actual_types {
        if ty.as_sym() == Some(UNDEFINED) || ty.as_sym() == Some("Atom") {
            return true;
        }
        let mut attempt = bindings.clone();
        if attempt.unify(expected, ty) {
            *bindings = attempt;
            return true;
        }
    }
    false
}

/// The types of `atom`: `declared` gives the declared types of a symbol (from the space
/// and the built-in table). An empty result means the atom is ill-typed.
pub(crate) fn infer(
    atom: &Atom,
    declared: &mut dyn FnMut(&Atom) -> Vec<Atom>,
    fresh: &mut u64,
    depth: usize,
) -> Vec<Atom> {
    let undefined = || vec![Atom::sym(UNDEFINED)];
    if depth > 200 {
        return undefined();
    }
    match atom {
        Atom::Int(_) | Atom::Float(_) => vec![Atom::sym("Number")],
        Atom::Str(_) => vec![Atom::sym("String")],
        Atom::Space(_) => vec![Atom::sym("SpaceType")],
        Atom::State(_) => undefined(),
        Atom::Var(_) => undefined(),
        Atom::Sym(name) => {
            if &**name == "True" || &**name == "False" {
                return vec![Atom::sym("Bool")];
            }
            if &**name == "&self" {
                return vec![Atom::sym("SpaceType")];
            }
            let types = declared(atom);
            if types.is_empty() {
                undefined()
            } else {
                types
            }
        }
        Atom::Expr(items) if items.is_empty() => undefined(),
        Atom::Expr(items) => {
            let head_types = infer(&items[0], declared, fresh, depth + 1);
            let args = &items[1..];
            let functions: Vec<&Atom> = head_types
                .iter()
                .filter(|t| function_parts(t).is_some())
                .collect();
            if !functions.is_empty() {
                let arg_types: Vec<Vec<Atom>> = args
                    .iter()
                    .map(|a| infer(a, declared, fresh, depth + 1))
                    .collect();
                let mut out = Vec::new();
                for ty in functions {
                    *fresh += 1;
                    let ty = rename(ty, *fresh, &mut HashMap::new());
                    let Some((params, ret)) = function_parts(&ty) else {
                        continue;
                    };
                    if params.len() != args.len() {
                        continue;
                    }
                    let mut bindings = Bindings::new();
                    let ok = params
                        .iter()
                        .zip(args.iter().zip(&arg_types))
                        .all(|(p, (a, ts))| check_arg(p, a, ts, &mut bindings));
                    if ok {
                        let ret = bindings.apply(ret);
                        if !out.contains(&ret) {
                            out.push(ret);
                        }
                    }
                }
                return out;
            }
            // A tuple: the product of its items' types, when every item has one.
            let mut combos: Vec<Vec<Atom>> = vec![Vec::new()];
            for item in items.iter() {
                let types = infer(item, declared, fresh, depth + 1);
                if types.is_empty() {
                    return Vec::new();
                }
                if types.iter().any(|t| t.as_sym() == Some(UNDEFINED)) {
                    return undefined();
                }
                let mut next = Vec::new();
                for combo in &combos {
                    for t in &types {
                        let mut c = combo.clone();
                        c.push(t.clone());
                        next.push(c);
                    }
                }
                if next.len() > 1_000 {
                    return undefined();
                }
                combos = next;
            }
            combos.into_iter().map(Atom::expr).collect()
        }
    }
}

/// `(Error call (BadArgType index expected actual))`.
pub(crate) fn bad_arg_type(call: &Atom, index: usize, expected: &Atom, actual: &Atom) -> Atom {
    Atom::expr(vec![
        Atom::sym("Error"),
        call.clone(),
        Atom::expr(vec![
            Atom::sym("BadArgType"),
            Atom::Int(index as i64),
            expected.clone(),
            actual.clone(),
        ]),
    ])
}

/// `(Error call IncorrectNumberOfArguments)`.
pub(crate) fn wrong_arity(call: &Atom) -> Atom {
    Atom::expr(vec![
        Atom::sym("Error"),
        call.clone(),
        Atom::sym("IncorrectNumberOfArguments"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_atom;

    fn p(text: &str) -> Atom {
        parse_atom(text).unwrap()
    }

    fn types_of(text: &str) -> Vec<String> {
        let builtins = Builtins::new();
        let mut declared = |a: &Atom| match a {
            Atom::Sym(s) => builtins.get(s).cloned().into_iter().collect(),
            _ => Vec::new(),
        };
        infer(&p(text), &mut declared, &mut 0, 0)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn infers_applications_tuples_and_ill_typed_expressions() {
        assert_eq!(types_of("(+ 1 (* 2 3))"), vec!["Number"]);
        assert_eq!(types_of("(== 1 2)"), vec!["Bool"]);
        assert!(types_of("(== 1 \"a\")").is_empty());
        assert!(types_of("(+ 1)").is_empty());
        assert_eq!(types_of("(1 \"x\")"), vec!["(Number String)"]);
        assert_eq!(types_of("(foo 1)"), vec![UNDEFINED]);
        assert_eq!(types_of("(+ 1 $x)"), vec!["Number"]);
    }
}
