//! The interpreter: evaluation by unification against the environment's rules, with
//! nondeterministic results.

use std::collections::HashMap;

use crate::error::shorten;
use crate::unify::{rename, Bindings};
use crate::{Atom, Environment, Error, RuleEnvironment};

/// Default nesting limit of [`Interpreter::eval`]. Each level costs a few stack frames;
/// this many fit comfortably in the 2 MiB stack of a test or rayon thread.
pub const DEFAULT_MAX_DEPTH: usize = 200;

/// Default limit on the number of alternative results of one evaluation.
pub const DEFAULT_MAX_RESULTS: usize = 100_000;

/// Evaluates atoms against an environment it owns (so `add-atom` can define rules
/// while evaluating).
///
/// Evaluation of an atom:
/// - A symbol rewrites by the rules `(= symbol rhs)`, or is itself.
/// - An expression whose head is a special form (`match`, `superpose`, `collapse`,
///   `let`, `let*`, `if`, `quote`, `add-atom`, `remove-atom`, `get-type`, `empty`,
///   `car-atom`, `cdr-atom`, `cons-atom`) is handled by that form.
/// - Any other expression has its items evaluated first (every combination of their
///   results), then arithmetic and comparison are applied to numbers, then each
///   combination is unified with every matching rule's left side (variables renamed
///   apart) and the instantiated right side is evaluated. Every matching rule
///   contributes its results. An expression that no rule matches is its own result.
/// - Anything else is its own result.
///
/// ```
/// use cow_env::{parse_atom, Environment, Interpreter, RuleEnvironment};
///
/// let mut interp = Interpreter::new(Environment::empty());
/// interp.env_mut().add_atom(parse_atom("(= (fact 0) 1)").unwrap());
/// interp.env_mut().add_atom(parse_atom("(= (fact $n) (if (> $n 0) (* $n (fact (- $n 1))) 1))").unwrap());
/// // Both rules match (fact 0); the second then yields 1 through its `if` as well.
/// let results = interp.eval(&parse_atom("(fact 5)").unwrap()).unwrap();
/// assert_eq!(results[0].to_string(), "120");
/// ```
#[derive(Debug, Clone)]
pub struct Interpreter<E: RuleEnvironment = Environment> {
    env: E,
    max_depth: usize,
    max_results: usize,
    fresh: u64,
}

impl<E: RuleEnvironment> Interpreter<E> {
    /// An interpreter over `env` with the default limits.
    pub fn new(env: E) -> Self {
        Interpreter {
            env,
            max_depth: DEFAULT_MAX_DEPTH,
            max_results: DEFAULT_MAX_RESULTS,
            fresh: 0,
        }
    }

    /// Sets the nesting limit.
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets the limit on alternative results.
    pub fn with_max_results(mut self, max_results: usize) -> Self {
        self.max_results = max_results.max(1);
        self
    }

    /// The environment.
    pub fn env(&self) -> &E {
        &self.env
    }

    /// The environment, for adding atoms.
    pub fn env_mut(&mut self) -> &mut E {
        &mut self.env
    }

    /// Gives the environment back.
    pub fn into_env(self) -> E {
        self.env
    }

    /// All results of evaluating `atom`, in rule order.
    pub fn eval(&mut self, atom: &Atom) -> Result<Vec<Atom>, Error> {
        self.eval_at(atom, 0)
    }

    fn check_size(&self, results: &[Atom], atom: &Atom) -> Result<(), Error> {
        if results.len() > self.max_results {
            return Err(Error::TooManyResults {
                limit: self.max_results,
                atom: shorten(atom.to_string()),
            });
        }
        Ok(())
    }

    fn eval_at(&mut self, atom: &Atom, depth: usize) -> Result<Vec<Atom>, Error> {
        if depth > self.max_depth {
            return Err(Error::DepthExceeded {
                limit: self.max_depth,
                atom: shorten(atom.to_string()),
            });
        }
        match atom {
            Atom::Sym(_) => self.rewrite(atom, depth),
            Atom::Expr(items) if items.is_empty() => Ok(vec![atom.clone()]),
            Atom::Expr(items) => {
                if let Some(head) = items[0].as_sym() {
                    if let Some(result) = self.special_form(head, items, atom, depth)? {
                        return Ok(result);
                    }
                }
                let mut combos: Vec<Vec<Atom>> = vec![Vec::with_capacity(items.len())];
                for item in items.iter() {
                    let values = self.eval_at(item, depth + 1)?;
                    let mut next = Vec::with_capacity(combos.len() * values.len());
                    for combo in &combos {
                        for value in &values {
                            let mut extended = combo.clone();
                            extended.push(value.clone());
                            next.push(extended);
                        }
                    }
                    if next.len() > self.max_results {
                        return Err(Error::TooManyResults {
                            limit: self.max_results,
                            atom: shorten(atom.to_string()),
                        });
                    }
                    combos = next;
                }
                let mut results = Vec::new();
                for combo in combos {
                    let expr = Atom::expr(combo);
                    match grounded(&expr) {
                        Some(value) => results.push(value),
                        None => results.extend(self.rewrite(&expr, depth)?),
                    }
                    self.check_size(&results, atom)?;
                }
                Ok(results)
            }
            _ => Ok(vec![atom.clone()]),
        }
    }

    /// Applies every matching rule to `expr` (whose items are already evaluated).
    fn rewrite(&mut self, expr: &Atom, depth: usize) -> Result<Vec<Atom>, Error> {
        let rules = self.env.get_matching_rules(expr);
        let mut results = Vec::new();
        let mut matched = false;
        // A ground query shares no variable with any rule, so the rule can be unified as
        // written and only the variables its right side keeps free need fresh names:
        // this skips renaming (and allocating) for every candidate that does not match.
        let ground = expr.is_ground();
        for rule in rules.iter() {
            self.fresh += 1;
            let mut bindings = Bindings::new();
            let rhs = if ground {
                if !bindings.unify(&rule.lhs, expr) {
                    continue;
                }
                rename(&bindings.apply(&rule.rhs), self.fresh, &mut HashMap::new())
            } else {
                let mut names = HashMap::new();
                let lhs = rename(&rule.lhs, self.fresh, &mut names);
                if !bindings.unify(&lhs, expr) {
                    continue;
                }
                bindings.apply(&rename(&rule.rhs, self.fresh, &mut names))
            };
            matched = true;
            results.extend(self.eval_at(&rhs, depth + 1)?);
            self.check_size(&results, expr)?;
        }
        if !matched {
            results.push(expr.clone());
        }
        Ok(results)
    }

    fn eval_all(&mut self, atoms: &[Atom], depth: usize, whole: &Atom) -> Result<Vec<Atom>, Error> {
        let mut out = Vec::new();
        for atom in atoms {
            out.extend(self.eval_at(atom, depth + 1)?);
            self.check_size(&out, whole)?;
        }
        Ok(out)
    }

    /// Handles a special form; `Ok(None)` when `head` is not one (or has the wrong
    /// number of arguments, in which case the expression evaluates as ordinary data).
    fn special_form(
        &mut self,
        head: &str,
        items: &[Atom],
        whole: &Atom,
        depth: usize,
    ) -> Result<Option<Vec<Atom>>, Error> {
        let args = &items[1..];
        let result = match (head, args) {
            ("quote", [_]) => vec![whole.clone()],
            ("empty", []) => Vec::new(),
            ("superpose", [Atom::Expr(options)]) => self.eval_all(options, depth, whole)?,
            ("collapse", [inner]) => vec![Atom::expr(self.eval_at(inner, depth + 1)?)],
            ("match", [_space, pattern, template]) => {
                let space = self.env.create_space();
                let found = space.query(pattern, &mut self.fresh);
                let instantiated: Vec<Atom> = found.iter().map(|b| b.apply(template)).collect();
                self.eval_all(&instantiated, depth, whole)?
            }
            ("let", [pattern, value, body]) => {
                let mut out = Vec::new();
                for v in self.eval_at(value, depth + 1)? {
                    let mut bindings = Bindings::new();
                    if bindings.unify(pattern, &v) {
                        out.extend(self.eval_at(&bindings.apply(body), depth + 1)?);
                        self.check_size(&out, whole)?;
                    }
                }
                out
            }
            ("let*", [Atom::Expr(pairs), body]) => match pairs.split_first() {
                None => self.eval_at(body, depth + 1)?,
                Some((first, rest)) => match first.as_expr() {
                    Some([pattern, value]) => {
                        let inner = Atom::expr(vec![
                            Atom::sym("let*"),
                            Atom::expr(rest.to_vec()),
                            body.clone(),
                        ]);
                        let desugared = Atom::expr(vec![
                            Atom::sym("let"),
                            pattern.clone(),
                            value.clone(),
                            inner,
                        ]);
                        self.eval_at(&desugared, depth + 1)?
                    }
                    _ => return Ok(None),
                },
            },
            ("if", [condition, then, otherwise]) => {
                let mut out = Vec::new();
                for c in self.eval_at(condition, depth + 1)? {
                    match c.as_sym() {
                        Some("True") => out.extend(self.eval_at(then, depth + 1)?),
                        Some("False") => out.extend(self.eval_at(otherwise, depth + 1)?),
                        _ => out.push(Atom::expr(vec![
                            items[0].clone(),
                            c,
                            then.clone(),
                            otherwise.clone(),
                        ])),
                    }
                    self.check_size(&out, whole)?;
                }
                out
            }
            ("add-atom", [_space, atom]) => {
                self.env.add_atom(atom.clone());
                vec![Atom::expr(Vec::new())]
            }
            ("remove-atom", [_space, atom]) => {
                self.env.remove_atom(atom);
                vec![Atom::expr(Vec::new())]
            }
            ("get-type", [atom]) => {
                let builtin = match atom {
                    Atom::Int(_) | Atom::Float(_) => Some("Number"),
                    Atom::Str(_) => Some("String"),
                    Atom::Sym(s) if &**s == "True" || &**s == "False" => Some("Bool"),
                    _ => None,
                };
                match builtin {
                    Some(ty) => vec![Atom::sym(ty)],
                    None => {
                        let types = self.env.get_type(atom);
                        if types.is_empty() {
                            vec![Atom::sym("%Undefined%")]
                        } else {
                            types
                        }
                    }
                }
            }
            ("car-atom", [inner]) => self
                .eval_at(inner, depth + 1)?
                .into_iter()
                .filter_map(|a| a.as_expr().and_then(|xs| xs.first().cloned()))
                .collect(),
            ("cdr-atom", [inner]) => self
                .eval_at(inner, depth + 1)?
                .into_iter()
                .filter_map(|a| match a.as_expr() {
                    Some([_, rest @ ..]) => Some(Atom::expr(rest.to_vec())),
                    _ => None,
                })
                .collect(),
            ("cons-atom", [first, rest]) => {
                let mut out = Vec::new();
                for f in self.eval_at(first, depth + 1)? {
                    for r in self.eval_at(rest, depth + 1)? {
                        if let Some(tail) = r.as_expr() {
                            let mut items = vec![f.clone()];
                            items.extend_from_slice(tail);
                            out.push(Atom::expr(items));
                        }
                    }
                    self.check_size(&out, whole)?;
                }
                out
            }
            _ => return Ok(None),
        };
        Ok(Some(result))
    }
}

fn number(atom: &Atom) -> Option<f64> {
    match atom {
        Atom::Int(i) => Some(*i as f64),
        Atom::Float(x) => Some(*x),
        _ => None,
    }
}

fn error_atom(expr: &Atom, message: &str) -> Atom {
    Atom::expr(vec![
        Atom::sym("Error"),
        expr.clone(),
        Atom::string(message),
    ])
}

/// Arithmetic, comparison and boolean operators on already evaluated arguments; `None`
/// when `expr` is not such an application (so rules may still apply).
fn grounded(expr: &Atom) -> Option<Atom> {
    let items = expr.as_expr()?;
    let op = items.first()?.as_sym()?;
    match (op, &items[1..]) {
        ("==", [a, b]) => Some(Atom::bool(a == b)),
        ("!=", [a, b]) => Some(Atom::bool(a != b)),
        ("not", [a]) => match a.as_sym()? {
            "True" => Some(Atom::bool(false)),
            "False" => Some(Atom::bool(true)),
            _ => None,
        },
        ("and" | "or", [a, b]) => {
            let (a, b) = (truth(a)?, truth(b)?);
            Some(Atom::bool(if op == "and" { a && b } else { a || b }))
        }
        ("<" | ">" | "<=" | ">=", [a, b]) => {
            let (x, y) = (number(a)?, number(b)?);
            Some(Atom::bool(match op {
                "<" => x < y,
                ">" => x > y,
                "<=" => x <= y,
                _ => x >= y,
            }))
        }
        ("+" | "-" | "*" | "/" | "%", [a, b]) => arithmetic(op, a, b, expr),
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

fn arithmetic(op: &str, a: &Atom, b: &Atom, expr: &Atom) -> Option<Atom> {
    if let (Atom::Int(x), Atom::Int(y)) = (a, b) {
        let (x, y) = (*x, *y);
        let value = match op {
            "+" => x.checked_add(y),
            "-" => x.checked_sub(y),
            "*" => x.checked_mul(y),
            "/" | "%" if y == 0 => return Some(error_atom(expr, "division by zero")),
            "/" => x.checked_div(y),
            _ => x.checked_rem(y),
        };
        return Some(match value {
            Some(v) => Atom::Int(v),
            None => error_atom(expr, "integer overflow"),
        });
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

/// Evaluates `queries` in parallel with rayon, each in its own copy-on-write fork of
/// `env`, and merges the forks' environments with `union`, so rules that branches
/// define with `add-atom` all reach the result exactly once.
///
/// ```
/// use cow_env::{eval_parallel, parse_atom, Environment, RuleEnvironment};
///
/// let queries: Vec<_> = (0..4)
///     .map(|i| parse_atom(&format!("(add-atom &self (= (branch {i}) done))")).unwrap())
///     .collect();
/// let (_, merged) = eval_parallel(&Environment::empty(), &queries).unwrap();
/// assert_eq!(merged.get_rule_count(), 4);
/// ```
pub fn eval_parallel<E: RuleEnvironment>(
    env: &E,
    queries: &[Atom],
) -> Result<(Vec<Vec<Atom>>, E), Error> {
    use rayon::prelude::*;
    let branches: Vec<(Vec<Atom>, E)> = queries
        .par_iter()
        .map(|query| {
            let mut interp = Interpreter::new(env.clone());
            let results = interp.eval(query)?;
            Ok((results, interp.into_env()))
        })
        .collect::<Result<_, Error>>()?;
    let mut merged = env.clone();
    let mut results = Vec::with_capacity(branches.len());
    for (r, branch_env) in branches {
        merged = merged.union(&branch_env);
        results.push(r);
    }
    Ok((results, merged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_atom;

    fn interp(rules: &[&str]) -> Interpreter {
        let mut interp = Interpreter::new(Environment::empty());
        for r in rules {
            interp.env_mut().add_atom(parse_atom(r).unwrap());
        }
        interp
    }

    fn eval(interp: &mut Interpreter, text: &str) -> Vec<Atom> {
        interp.eval(&parse_atom(text).unwrap()).unwrap()
    }

    #[test]
    fn free_variables_of_a_right_side_are_fresh_per_application() {
        let mut i = interp(&["(= (mk) (pair $x $x))"]);
        let first = eval(&mut i, "(mk)");
        let second = eval(&mut i, "(mk)");
        assert_eq!(first.len(), 1);
        assert_ne!(
            first, second,
            "each application names its free variable anew"
        );
        let items = first[0].as_expr().unwrap();
        assert_eq!(items[1], items[2]);
    }

    #[test]
    fn non_ground_queries_are_renamed_apart_from_rules() {
        let mut i = interp(&["(= (id $x) $x)", "(= (first $x $y) $x)"]);
        assert_eq!(eval(&mut i, "(id $x)"), vec![Atom::var("x")]);
        assert_eq!(eval(&mut i, "(first $y $x)"), vec![Atom::var("y")]);
    }

    #[test]
    fn limits_are_errors() {
        let mut deep = interp(&["(= (down $n) (down (+ $n 1)))"]);
        assert!(matches!(
            deep.eval(&parse_atom("(down 0)").unwrap()),
            Err(Error::DepthExceeded { .. })
        ));
        let mut wide = interp(&["(= (two) 0)", "(= (two) 1)"]).with_max_results(100);
        let text = format!("({})", ["(two)"; 10].join(" "));
        assert!(matches!(
            wide.eval(&parse_atom(&text).unwrap()),
            Err(Error::TooManyResults { .. })
        ));
    }
}
