//! The interpreter: evaluation by unification against the rules of a space, with
//! nondeterministic results, bindings that flow outwards, types, spaces and states.
//!
//! Evaluation runs on an explicit stack of frames (never the thread's stack), so the
//! depth of a MeTTa recursion is bounded by [`Interpreter::with_max_depth`] and memory,
//! not by the native stack.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::shorten;
use crate::stdlib;
use crate::types::{self, Builtins, UNDEFINED};
use crate::unify::{rename, Bindings};
use crate::{parse_program, Atom, Environment, Error, RuleEnvironment};

/// Default limit on the evaluation depth: the number of pending evaluations plus the
/// chain of tail calls that led to the current one. A recursion `n` levels deep uses
/// about three levels per call, so the default runs 10,000-deep recursions with room to
/// spare, and an endless recursion ends with [`Error::DepthExceeded`].
pub const DEFAULT_MAX_DEPTH: usize = 100_000;

/// Default limit on the number of alternative results of one evaluation.
pub const DEFAULT_MAX_RESULTS: usize = 100_000;

/// How many nested drivers (for the operands of assertions, states, folds, imports)
/// may be open at once.
const MAX_NESTED_DRIVERS: usize = 48;

/// One result: the atom and the bindings of the evaluated atom's variables it needs.
type Res = (Atom, Bindings);

/// Every `assert*` form the interpreter knows.
pub const ASSERTIONS: &[&str] = &[
    "assert",
    "assertEqual",
    "assertEqualMsg",
    "assertEqualToResult",
    "assertEqualToResultMsg",
    "assertIncludes",
    "assertIncludesMsg",
    "assertAlphaEqual",
    "assertAlphaEqualMsg",
    "assertAlphaEqualToResult",
    "assertAlphaEqualToResultMsg",
];

/// Names the interpreter handles itself (special forms and operations on spaces and
/// states), for the runner's "unknown name" warning.
pub(crate) const FORM_NAMES: &[&str] = &[
    "if",
    "let",
    "let*",
    "superpose",
    "collapse",
    "quote",
    "noeval",
    "eval",
    "chain",
    "unify",
    "case",
    "switch",
    "match",
    "empty",
    "add-atom",
    "remove-atom",
    "get-atoms",
    "new-space",
    "bind!",
    "import!",
    "new-state",
    "get-state",
    "change-state!",
    "nop",
    "get-type",
    "pragma!",
    "println!",
    "trace!",
    "if-decons-expr",
    "foldl-atom",
    "map-atom",
    "filter-atom",
    "Error",
    "get-doc",
    "help!",
];

/// Evaluates atoms against the spaces it owns: `&self` is the environment it was made
/// with, and `new-space` adds more (each one a copy-on-write environment of the same
/// type, so a snapshot of a space is a clone).
///
/// Evaluation of an atom, as the reference MeTTa interpreter defines it:
/// - Symbols, numbers, strings, variables and `()` are their own result.
/// - An expression whose head is a special form (`if`, `let`, `let*`, `case`,
///   `switch`, `match`, `superpose`, `collapse`, `unify`, `chain`, `eval`, `quote`,
///   `noeval`, the `assert*` family, spaces and states, ...) is handled by that form.
/// - Any other expression `(f a1 .. an)`: when `f` has a declared function type
///   `(-> T1 .. Tn R)`, a wrong argument count is `(Error call
///   IncorrectNumberOfArguments)`, arguments typed `Atom` (or `Expression`, `Symbol`,
///   `Variable` for atoms of that kind) are passed as written and the others are
///   evaluated, and an argument of the wrong type is `(Error call (BadArgType i Ti
///   actual))`. Without a function type every item is evaluated. An argument that
///   evaluates to an `(Error ...)` makes the whole call that error. Then the grounded
///   operation runs, or every rule `(= lhs rhs)` whose left side unifies with the
///   expression contributes its evaluated right side; bindings of the expression's own
///   variables flow outwards into the enclosing expression. An expression no rule
///   matches is its own result.
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
    spaces: Vec<E>,
    self_space: usize,
    states: Vec<Atom>,
    tokens: HashMap<Arc<str>, Atom>,
    builtins: Arc<Builtins>,
    /// The declared function type of a head symbol (and whether it has type variables).
    sigs: HashMap<Arc<str>, Option<(Atom, bool)>>,
    max_depth: usize,
    max_results: usize,
    fresh: u64,
    type_check_auto: bool,
    file: Option<PathBuf>,
    nesting: usize,
}

/// A pending evaluation waiting for the results of a child evaluation.
enum Frame<E: RuleEnvironment> {
    /// Merge the child's results with these bindings.
    Merge(Bindings),
    /// Evaluate a list of atoms one after the other and concatenate their results.
    Concat(Box<Concat>),
    /// Evaluate the arguments of an application.
    Args(Box<Args>),
    /// Run a continuation on the child's results.
    Then(Then<E>),
}

type Then<E> = Box<dyn FnOnce(&mut Interpreter<E>, Vec<Res>, usize) -> Result<Step<E>, Error>>;

struct Concat {
    todo: VecDeque<(Atom, Bindings)>,
    current: Bindings,
    acc: Vec<Res>,
    whole: Atom,
}

struct Combo {
    values: Vec<Atom>,
    bindings: Bindings,
}

struct Args {
    items: Arc<[Atom]>,
    whole: Atom,
    sig: Option<(Atom, bool)>,
    index: usize,
    pending: VecDeque<Combo>,
    done: Vec<Combo>,
    current: Option<Combo>,
    shared: bool,
    errors: Vec<Res>,
}

/// What an evaluation step asks the driver to do next.
enum Step<E: RuleEnvironment> {
    /// These are the results (of the frame that made the step).
    Done(Vec<Res>),
    /// Keep the frame and evaluate the atom; resume the frame with its results.
    Call(Frame<E>, Atom),
    /// Evaluate the atom in place of the current evaluation, merging its results with
    /// the bindings.
    Tail(Atom, Bindings),
}

fn done<E: RuleEnvironment>(atom: Atom) -> Step<E> {
    Step::Done(vec![(atom, Bindings::new())])
}

fn unit() -> Atom {
    Atom::unit()
}

fn needs_eval(atom: &Atom) -> bool {
    matches!(atom, Atom::Expr(items) if !items.is_empty())
}

fn expr_of(head: &str, rest: &[Atom]) -> Atom {
    let mut items = Vec::with_capacity(rest.len() + 1);
    items.push(Atom::sym(head));
    items.extend_from_slice(rest);
    Atom::expr(items)
}

impl<E: RuleEnvironment> Interpreter<E> {
    /// An interpreter over `env` (its `&self` space) with the default limits.
    pub fn new(env: E) -> Self {
        Interpreter {
            spaces: vec![env],
            self_space: 0,
            states: Vec::new(),
            tokens: HashMap::new(),
            builtins: Arc::new(Builtins::new()),
            sigs: HashMap::new(),
            max_depth: DEFAULT_MAX_DEPTH,
            max_results: DEFAULT_MAX_RESULTS,
            fresh: 0,
            type_check_auto: false,
            file: None,
            nesting: 0,
        }
    }

    /// Sets the depth limit (see [`DEFAULT_MAX_DEPTH`]).
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets the limit on alternative results.
    pub fn with_max_results(mut self, max_results: usize) -> Self {
        self.max_results = max_results.max(1);
        self
    }

    /// The environment (the `&self` space).
    pub fn env(&self) -> &E {
        &self.spaces[0]
    }

    /// The environment, for adding atoms.
    pub fn env_mut(&mut self) -> &mut E {
        self.sigs.clear();
        &mut self.spaces[0]
    }

    /// Gives the environment back.
    pub fn into_env(mut self) -> E {
        self.spaces.swap_remove(0)
    }

    /// Sets the file that relative `import!` paths are resolved against.
    pub fn set_current_file(&mut self, path: &Path) {
        self.file = Some(path.to_path_buf());
    }

    /// Whether `(pragma! type-check auto)` is in force.
    pub fn type_check_auto(&self) -> bool {
        self.type_check_auto
    }

    /// All results of evaluating `atom`, in rule order.
    pub fn eval(&mut self, atom: &Atom) -> Result<Vec<Atom>, Error> {
        Ok(self
            .run(atom.clone(), 0)?
            .into_iter()
            .map(|(a, _)| a)
            .collect())
    }

    /// Replaces the tokens bound with `bind!` by their values.
    pub fn resolve_tokens(&self, atom: &Atom) -> Atom {
        if self.tokens.is_empty() {
            return atom.clone();
        }
        match atom {
            Atom::Sym(name) => self
                .tokens
                .get(name)
                .cloned()
                .unwrap_or_else(|| atom.clone()),
            Atom::Expr(items) => Atom::expr(
                items
                    .iter()
                    .map(|i| self.resolve_tokens(i))
                    .collect::<Vec<_>>(),
            ),
            _ => atom.clone(),
        }
    }

    /// The atom with every state cell shown as `(State value)`, for printing.
    pub fn show_states(&self, atom: &Atom) -> Atom {
        match atom {
            Atom::State(id) => match self.states.get(*id as usize) {
                Some(value) => Atom::expr(vec![Atom::sym("State"), self.show_states(value)]),
                None => atom.clone(),
            },
            Atom::Expr(items)
                if items
                    .iter()
                    .any(|i| matches!(i, Atom::State(_) | Atom::Expr(_))) =>
            {
                Atom::expr(
                    items
                        .iter()
                        .map(|i| self.show_states(i))
                        .collect::<Vec<_>>(),
                )
            }
            _ => atom.clone(),
        }
    }

    /// Adds an atom to the `&self` space (a rule, a type assertion or a fact).
    pub fn add_atom(&mut self, atom: Atom) {
        let space = self.self_space;
        self.add_to(space, atom);
    }

    /// The types of `atom` inferred against the `&self` space (`get-type`); empty when
    /// the atom is ill-typed.
    pub fn infer_types(&mut self, atom: &Atom) -> Vec<Atom> {
        let space = self.self_space;
        self.infer_in(atom, space)
    }

    /// Whether `name` is handled by the interpreter itself or is a grounded operation.
    pub fn is_builtin(name: &str) -> bool {
        stdlib::GROUNDED_NAMES.contains(&name)
            || FORM_NAMES.contains(&name)
            || ASSERTIONS.contains(&name)
    }

    /// Whether the `&self` space has a rule or a type for the symbol `name`.
    pub fn knows(&mut self, name: &str) -> bool {
        let head = Atom::sym(name);
        if !self.spaces[self.self_space].get_type(&head).is_empty() {
            return true;
        }
        let probe = Atom::expr(vec![head.clone(), Atom::var("__probe")]);
        let rules = self.spaces[self.self_space].get_matching_rules(&probe);
        rules.iter().any(|r| match r.lhs.as_expr() {
            Some([h, ..]) => *h == head,
            _ => r.lhs == head,
        })
    }

    fn add_to(&mut self, space: usize, atom: Atom) {
        if let Some([colon, ..]) = atom.as_expr() {
            if colon.as_sym() == Some(":") {
                self.sigs.clear();
            }
        }
        if let Some(target) = self.spaces.get_mut(space) {
            target.add_atom(atom);
        }
    }

    fn infer_in(&mut self, atom: &Atom, space: usize) -> Vec<Atom> {
        let builtins = self.builtins.clone();
        let env = &self.spaces[space.min(self.spaces.len() - 1)];
        let mut declared = |a: &Atom| {
            let mut out = env.get_type(a);
            if let Atom::Sym(name) = a {
                if let Some(ty) = builtins.get(name) {
                    out.push(ty.clone());
                }
            }
            out
        };
        types::infer(atom, &mut declared, &mut self.fresh, 0)
    }

    fn signature(&mut self, head: &Arc<str>) -> Option<(Atom, bool)> {
        if let Some(cached) = self.sigs.get(head) {
            return cached.clone();
        }
        let mut declared = self.spaces[self.self_space].get_type(&Atom::Sym(head.clone()));
        if let Some(ty) = self.builtins.get(head) {
            declared.push(ty.clone());
        }
        let sig = declared
            .into_iter()
            .find(|t| types::function_parts(t).is_some())
            .map(|t| {
                let ground = t.is_ground();
                (t, !ground)
            });
        self.sigs.insert(head.clone(), sig.clone());
        sig
    }

    fn check_depth(&self, depth: usize, atom: &Atom) -> Result<(), Error> {
        if depth > self.max_depth {
            return Err(Error::DepthExceeded {
                limit: self.max_depth,
                atom: shorten(atom.to_string()),
            });
        }
        Ok(())
    }

    fn check_size(&self, len: usize, atom: &Atom) -> Result<(), Error> {
        if len > self.max_results {
            return Err(Error::TooManyResults {
                limit: self.max_results,
                atom: shorten(atom.to_string()),
            });
        }
        Ok(())
    }

    /// The driver: runs steps on an explicit stack until the first evaluation is done.
    fn run(&mut self, atom: Atom, base: usize) -> Result<Vec<Res>, Error> {
        let mut stack: Vec<(Frame<E>, usize)> = Vec::new();
        let mut depth = base;
        self.check_depth(depth, &atom)?;
        let mut step = self.start(atom, depth)?;
        loop {
            step = match step {
                Step::Done(results) => match stack.pop() {
                    None => return Ok(results),
                    Some((frame, d)) => {
                        depth = d;
                        self.resume(frame, results, d)?
                    }
                },
                Step::Call(frame, child) => {
                    stack.push((frame, depth));
                    depth += 1;
                    self.check_depth(depth, &child)?;
                    self.start(child, depth)?
                }
                Step::Tail(child, bindings) => {
                    if !bindings.is_empty() {
                        stack.push((Frame::Merge(bindings), depth));
                    }
                    depth += 1;
                    self.check_depth(depth, &child)?;
                    self.start(child, depth)?
                }
            };
        }
    }

    /// Evaluates `atom` on a fresh stack (for forms whose operands are rarely deep).
    fn nested(&mut self, atom: &Atom, depth: usize) -> Result<Vec<Res>, Error> {
        // Each nested driver sits on the thread's stack: bound how many can be open at
        // once, so a recursion through such forms ends with the depth error, not a
        // stack overflow.
        if self.nesting >= MAX_NESTED_DRIVERS {
            return Err(Error::DepthExceeded {
                limit: self.max_depth.min(depth),
                atom: shorten(format!(
                    "{atom} (more than {MAX_NESTED_DRIVERS} nested evaluations of assertion, state, fold or import operands)"
                )),
            });
        }
        self.nesting += 1;
        let result = self.run(atom.clone(), depth + 1);
        self.nesting -= 1;
        result
    }

    fn nested_atoms(&mut self, atom: &Atom, depth: usize) -> Result<Vec<Atom>, Error> {
        Ok(self
            .nested(atom, depth)?
            .into_iter()
            .map(|(a, _)| a)
            .collect())
    }

    fn resume(
        &mut self,
        frame: Frame<E>,
        results: Vec<Res>,
        depth: usize,
    ) -> Result<Step<E>, Error> {
        match frame {
            Frame::Merge(bindings) => Ok(Step::Done(
                results
                    .into_iter()
                    .filter_map(|(a, b)| bindings.merge(&b).map(|m| (a, m)))
                    .collect(),
            )),
            Frame::Concat(mut c) => {
                for (a, b) in results {
                    if let Some(m) = c.current.merge(&b) {
                        c.acc.push((a, m));
                    }
                }
                self.check_size(c.acc.len(), &c.whole)?;
                match c.todo.pop_front() {
                    Some((atom, bindings)) => {
                        c.current = bindings;
                        Ok(Step::Call(Frame::Concat(c), atom))
                    }
                    None => Ok(Step::Done(c.acc)),
                }
            }
            Frame::Args(mut args) => {
                self.receive(&mut args, results)?;
                self.advance(args, depth)
            }
            Frame::Then(then) => then(self, results, depth),
        }
    }

    /// Evaluates the atoms of `todo` after the `direct` results.
    fn concat(
        &self,
        mut todo: VecDeque<(Atom, Bindings)>,
        direct: Vec<Res>,
        whole: &Atom,
    ) -> Step<E> {
        match todo.pop_front() {
            None => Step::Done(direct),
            Some((atom, bindings)) if todo.is_empty() && direct.is_empty() => {
                Step::Tail(atom, bindings)
            }
            Some((atom, bindings)) => Step::Call(
                Frame::Concat(Box::new(Concat {
                    todo,
                    current: bindings,
                    acc: direct,
                    whole: whole.clone(),
                })),
                atom,
            ),
        }
    }

    fn start(&mut self, atom: Atom, depth: usize) -> Result<Step<E>, Error> {
        let items = match &atom {
            Atom::Expr(items) if !items.is_empty() => items.clone(),
            _ => return Ok(done(atom)),
        };
        if let Atom::Sym(head) = &items[0] {
            if let Some(step) = self.special(head, &items, &atom, depth)? {
                return Ok(step);
            }
        }
        self.apply(atom, items, depth)
    }

    fn apply(&mut self, atom: Atom, items: Arc<[Atom]>, depth: usize) -> Result<Step<E>, Error> {
        let sig = match &items[0] {
            Atom::Sym(head) => self.signature(head),
            _ => None,
        };
        if let Some((ty, _)) = &sig {
            if let Some((params, _)) = types::function_parts(ty) {
                if params.len() + 1 != items.len() {
                    return Ok(done(types::wrong_arity(&atom)));
                }
            }
        }
        // Fast path: nothing to evaluate (the arguments are symbols, numbers, strings,
        // variables or `()`), so apply at once without an argument frame.
        if !items.iter().any(needs_eval) {
            let mut todo = VecDeque::new();
            let mut direct = Vec::new();
            if let Some(sig) = &sig {
                if let Some(error) = self.check_args(sig, &atom, &atom) {
                    return Ok(done(error));
                }
            }
            let ret = return_type(sig.as_ref());
            self.call(
                atom.clone(),
                Bindings::new(),
                ret.as_ref(),
                &mut todo,
                &mut direct,
            )?;
            return Ok(self.concat(todo, direct, &atom));
        }
        let mut pending = VecDeque::with_capacity(1);
        pending.push_back(Combo {
            values: Vec::with_capacity(items.len()),
            bindings: Bindings::new(),
        });
        let args = Box::new(Args {
            items,
            whole: atom,
            sig,
            index: 0,
            pending,
            done: Vec::new(),
            current: None,
            shared: false,
            errors: Vec::new(),
        });
        self.advance(args, depth)
    }

    fn evaluates_item(args: &Args, index: usize) -> bool {
        let item = &args.items[index];
        if !needs_eval(item) {
            return false;
        }
        if index == 0 {
            return true;
        }
        match args
            .sig
            .as_ref()
            .and_then(|(ty, _)| types::function_parts(ty))
        {
            Some((params, _)) => match params.get(index - 1) {
                Some(expected) => !types::is_unevaluated_type(expected, item),
                None => true,
            },
            None => true,
        }
    }

    fn advance(&mut self, mut args: Box<Args>, depth: usize) -> Result<Step<E>, Error> {
        loop {
            if args.pending.is_empty() {
                if args.done.is_empty() || args.index + 1 >= args.items.len() {
                    args.pending = args.done.drain(..).collect();
                    return self.finish(args, depth);
                }
                args.pending = args.done.drain(..).collect();
                args.index += 1;
            }
            let index = args.index;
            if !Self::evaluates_item(&args, index) {
                let item = args.items[index].clone();
                while let Some(mut combo) = args.pending.pop_front() {
                    combo.values.push(item.clone());
                    args.done.push(combo);
                }
                continue;
            }
            let item = args.items[index].clone();
            if args.pending.len() > 1 && args.pending.iter().all(|c| c.bindings.is_empty()) {
                args.shared = true;
                return Ok(Step::Call(Frame::Args(args), item));
            }
            let Some(combo) = args.pending.pop_front() else {
                continue;
            };
            let child = combo.bindings.apply(&item);
            args.current = Some(combo);
            args.shared = false;
            return Ok(Step::Call(Frame::Args(args), child));
        }
    }

    fn receive(&mut self, args: &mut Args, results: Vec<Res>) -> Result<(), Error> {
        let combos: Vec<Combo> = if args.shared {
            args.pending.drain(..).collect()
        } else {
            args.current.take().into_iter().collect()
        };
        for combo in combos {
            for (value, bindings) in &results {
                let Some(merged) = combo.bindings.merge(bindings) else {
                    continue;
                };
                if value.is_error() {
                    args.errors.push((value.clone(), merged));
                    continue;
                }
                let mut values = combo.values.clone();
                values.push(value.clone());
                args.done.push(Combo {
                    values,
                    bindings: merged,
                });
            }
        }
        self.check_size(args.done.len() + args.errors.len(), &args.whole)
    }

    fn finish(&mut self, mut args: Box<Args>, depth: usize) -> Result<Step<E>, Error> {
        let _ = depth;
        let mut todo = VecDeque::new();
        let mut direct = std::mem::take(&mut args.errors);
        let combos: Vec<Combo> = args.pending.drain(..).collect();
        let ret = return_type(args.sig.as_ref());
        for combo in combos {
            let expr = if combo.bindings.is_empty() {
                Atom::expr(combo.values)
            } else {
                combo.bindings.apply(&Atom::expr(combo.values))
            };
            if let Some(sig) = &args.sig {
                if let Some(error) = self.check_args(sig, &expr, &args.whole) {
                    direct.push((error, combo.bindings));
                    continue;
                }
            }
            self.call(expr, combo.bindings, ret.as_ref(), &mut todo, &mut direct)?;
        }
        self.check_size(todo.len() + direct.len(), &args.whole)?;
        Ok(self.concat(todo, direct, &args.whole))
    }

    fn check_args(&mut self, sig: &(Atom, bool), expr: &Atom, whole: &Atom) -> Option<Atom> {
        let ty = if sig.1 {
            self.fresh += 1;
            rename(&sig.0, self.fresh, &mut HashMap::new())
        } else {
            sig.0.clone()
        };
        let (params, _) = types::function_parts(&ty)?;
        let args = expr.as_expr()?.get(1..)?;
        let mut bindings = Bindings::new();
        for (i, (expected, arg)) in params.iter().zip(args).enumerate() {
            if types::is_unevaluated_type(expected, arg) {
                continue;
            }
            // Fast path: a literal against a plain type name needs no inference.
            if let (Some(name), Some(literal)) = (expected.as_sym(), types::literal_type(arg)) {
                if name == literal || name == UNDEFINED || name == "Atom" || name == "Grounded" {
                    continue;
                }
            }
            let actual = self.infer_types(arg);
            if !types::check_arg(expected, arg, &actual, &mut bindings) {
                let shown = actual
                    .first()
                    .cloned()
                    .unwrap_or_else(|| Atom::sym(UNDEFINED));
                return Some(types::bad_arg_type(
                    whole,
                    i + 1,
                    &bindings.apply(expected),
                    &shown,
                ));
            }
        }
        None
    }

    /// Applies an evaluated expression: the grounded operation, or the rules.
    /// `ret`: the function's declared return type. A result is evaluated further unless
    /// that type is `Atom`.
    fn call(
        &mut self,
        expr: Atom,
        bindings: Bindings,
        ret: Option<&Atom>,
        todo: &mut VecDeque<(Atom, Bindings)>,
        direct: &mut Vec<Res>,
    ) -> Result<(), Error> {
        if let Some([Atom::Sym(op), rest @ ..]) = expr.as_expr() {
            if let Some(values) = stdlib::call(op, rest, &expr) {
                for value in values {
                    if needs_eval(&value) && !value.is_error() && !kept_as_is(ret) {
                        todo.push_back((value, bindings.clone()));
                    } else {
                        direct.push((value, bindings.clone()));
                    }
                }
                return Ok(());
            }
        }
        let before = todo.len();
        self.rewrite(&expr, &bindings, todo);
        if todo.len() == before {
            direct.push((expr, bindings));
        } else if ret.is_some() {
            let produced: Vec<(Atom, Bindings)> = todo.drain(before..).collect();
            for (value, b) in produced {
                if kept_as_is(ret) {
                    direct.push((value, b));
                } else {
                    todo.push_back((value, b));
                }
            }
        }
        Ok(())
    }

    /// Queues the instantiated right side of every rule whose left side unifies with
    /// `expr`, with the bindings of `expr`'s own variables.
    fn rewrite(&mut self, expr: &Atom, outer: &Bindings, todo: &mut VecDeque<(Atom, Bindings)>) {
        let rules = self.spaces[self.self_space].get_matching_rules(expr);
        if rules.is_empty() {
            // Nothing to try: skip the walks over `expr` below (a long data structure
            // is evaluated level by level, so they would make it quadratic).
            return;
        }
        // A ground query shares no variable with any rule, so the rule can be unified as
        // written and only the variables its right side keeps free need fresh names:
        // this skips renaming (and allocating) for every candidate that does not match.
        let ground = expr.is_ground();
        let vars = if ground { Vec::new() } else { expr.vars() };
        for rule in rules.iter() {
            self.fresh += 1;
            let mut bindings = Bindings::new();
            if ground {
                if !bindings.unify(&rule.lhs, expr) {
                    continue;
                }
                let rhs = bindings.apply(&rule.rhs);
                let rhs = if rhs.is_ground() {
                    rhs
                } else {
                    rename(&rhs, self.fresh, &mut HashMap::new())
                };
                todo.push_back((rhs, outer.clone()));
            } else {
                let mut names = HashMap::new();
                let lhs = rename(&rule.lhs, self.fresh, &mut names);
                if !bindings.unify(&lhs, expr) {
                    continue;
                }
                let rhs = bindings.apply(&rename(&rule.rhs, self.fresh, &mut names));
                if let Some(merged) = outer.merge(&bindings.restricted(&vars)) {
                    todo.push_back((rhs, merged));
                }
            }
        }
    }

    fn space_index(&mut self, atom: &Atom, depth: usize) -> Result<Option<usize>, Error> {
        let resolved = self.resolve_tokens(atom);
        let value = match &resolved {
            Atom::Expr(_) => self.nested_atoms(&resolved, depth)?.into_iter().next(),
            other => Some(other.clone()),
        };
        Ok(match value {
            Some(Atom::Space(id)) if (id as usize) < self.spaces.len() => Some(id as usize),
            Some(Atom::Sym(name)) if &*name == "&self" => Some(self.self_space),
            _ => None,
        })
    }

    fn query(&mut self, space: usize, pattern: &Atom) -> Vec<Bindings> {
        let conjuncts: Vec<Atom> = match pattern.as_expr() {
            Some([comma, rest @ ..]) if comma.as_sym() == Some(",") => rest.to_vec(),
            _ => vec![pattern.clone()],
        };
        let snapshot = self.spaces[space].create_space();
        let mut found = vec![Bindings::new()];
        for conjunct in &conjuncts {
            let mut next = Vec::new();
            for b in &found {
                for m in snapshot.query(&b.apply(conjunct), &mut self.fresh) {
                    if let Some(merged) = b.merge(&m) {
                        next.push(merged);
                    }
                }
            }
            found = next;
        }
        found
    }

    #[allow(clippy::too_many_lines)]
    fn special(
        &mut self,
        head: &str,
        items: &Arc<[Atom]>,
        whole: &Atom,
        depth: usize,
    ) -> Result<Option<Step<E>>, Error> {
        let args = &items[1..];
        let step = match (head, args) {
            ("quote", [_]) => done(whole.clone()),
            ("noeval", [x]) => done(x.clone()),
            ("empty", []) => Step::Done(Vec::new()),
            ("superpose", [Atom::Expr(options)]) => {
                let todo = options
                    .iter()
                    .map(|o| (o.clone(), Bindings::new()))
                    .collect();
                self.concat(todo, Vec::new(), whole)
            }
            ("collapse", [inner]) => {
                if !needs_eval(inner) {
                    return Ok(Some(done(Atom::expr(vec![inner.clone()]))));
                }
                Step::Call(
                    Frame::Then(Box::new(|_, results, _| {
                        Ok(done(Atom::expr(
                            results.into_iter().map(|(a, _)| a).collect::<Vec<_>>(),
                        )))
                    })),
                    inner.clone(),
                )
            }
            ("if", [condition, then, otherwise]) => {
                let (then, otherwise, whole2) = (then.clone(), otherwise.clone(), whole.clone());
                let k: Then<E> = Box::new(move |me, results, _| {
                    let mut todo = VecDeque::new();
                    let mut direct = Vec::new();
                    for (c, b) in results {
                        match c.as_sym() {
                            Some("True") => todo.push_back((b.apply(&then), b)),
                            Some("False") => todo.push_back((b.apply(&otherwise), b)),
                            _ if c.is_error() => direct.push((c, b)),
                            _ => {
                                let types = me.infer_types(&c);
                                let fits = types
                                    .iter()
                                    .any(|t| matches!(t.as_sym(), Some("Bool") | Some(UNDEFINED)))
                                    || matches!(c, Atom::Var(_));
                                let error = if fits {
                                    expr_of("if", &[c, then.clone(), otherwise.clone()])
                                } else {
                                    let shown = types
                                        .first()
                                        .cloned()
                                        .unwrap_or_else(|| Atom::sym(UNDEFINED));
                                    types::bad_arg_type(&whole2, 1, &Atom::sym("Bool"), &shown)
                                };
                                direct.push((error, b));
                            }
                        }
                    }
                    Ok(me.concat(todo, direct, &whole2))
                });
                self.eval_then(condition, k, depth)?
            }
            ("let", [pattern, value, body]) => {
                let (pattern, body, whole2) = (pattern.clone(), body.clone(), whole.clone());
                let k: Then<E> = Box::new(move |me, results, _| {
                    let mut todo = VecDeque::new();
                    for (v, b) in results {
                        let mut u = b.clone();
                        if u.unify(&b.apply(&pattern), &v) {
                            todo.push_back((u.apply(&body), u));
                        }
                    }
                    Ok(me.concat(todo, Vec::new(), &whole2))
                });
                self.eval_then(value, k, depth)?
            }
            ("let*", [Atom::Expr(pairs), body]) => match pairs.split_first() {
                None => Step::Tail(body.clone(), Bindings::new()),
                Some((first, rest)) => match first.as_expr() {
                    Some([pattern, value]) => {
                        let inner = if rest.is_empty() {
                            body.clone()
                        } else {
                            Atom::expr(vec![
                                Atom::sym("let*"),
                                Atom::expr(rest.to_vec()),
                                body.clone(),
                            ])
                        };
                        Step::Tail(
                            Atom::expr(vec![
                                Atom::sym("let"),
                                pattern.clone(),
                                value.clone(),
                                inner,
                            ]),
                            Bindings::new(),
                        )
                    }
                    _ => return Ok(None),
                },
            },
            ("chain", [value, var @ Atom::Var(_), body]) => {
                let (var, body, whole2) = (var.clone(), body.clone(), whole.clone());
                let k: Then<E> = Box::new(move |me, results, _| {
                    let mut todo = VecDeque::new();
                    for (v, b) in results {
                        let mut u = b.clone();
                        if u.unify(&var, &v) {
                            todo.push_back((u.apply(&body), u));
                        }
                    }
                    Ok(me.concat(todo, Vec::new(), &whole2))
                });
                self.eval_then(value, k, depth)?
            }
            ("if-equal", [a, b, then, otherwise]) => {
                if a == b {
                    Step::Tail(then.clone(), Bindings::new())
                } else {
                    Step::Tail(otherwise.clone(), Bindings::new())
                }
            }
            ("if-error", [x, then, otherwise]) => {
                let branch = if x.is_error() { then } else { otherwise };
                Step::Tail(branch.clone(), Bindings::new())
            }
            ("return-on-error", [x, then]) => {
                if x.is_error() {
                    done(expr_of("return", std::slice::from_ref(x)))
                } else {
                    Step::Tail(then.clone(), Bindings::new())
                }
            }
            ("noreduce-eq", [a, b]) => done(Atom::bool(a == b)),
            ("is-function", [ty]) => done(Atom::bool(types::function_parts(ty).is_some())),
            ("atom-subst", [value, var @ Atom::Var(_), template]) => {
                let mut b = Bindings::new();
                if b.unify(var, value) {
                    done(b.apply(template))
                } else {
                    done(template.clone())
                }
            }
            ("unquote", [x]) => {
                let whole2 = whole.clone();
                let k: Then<E> = Box::new(move |me, results, _| {
                    let mut todo = VecDeque::new();
                    let mut direct = Vec::new();
                    for (r, b) in results {
                        match r.as_expr() {
                            Some([q, inner]) if q.as_sym() == Some("quote") => {
                                todo.push_back((inner.clone(), b));
                            }
                            _ => direct.push((expr_of("unquote", &[r]), b)),
                        }
                    }
                    Ok(me.concat(todo, direct, &whole2))
                });
                self.eval_then(x, k, depth)?
            }
            ("function", [body]) => {
                let k: Then<E> = Box::new(|_, results, _| {
                    Ok(Step::Done(
                        results
                            .into_iter()
                            .map(|(r, b)| match r.as_expr() {
                                Some([ret, value]) if ret.as_sym() == Some("return") => {
                                    (value.clone(), b)
                                }
                                _ => (r, b),
                            })
                            .collect(),
                    ))
                });
                self.eval_then(body, k, depth)?
            }
            ("metta", [x, _ty, _space]) => Step::Tail(x.clone(), Bindings::new()),
            ("for-each-in-atom", [list, f]) => {
                let items: Vec<Atom> = list.as_expr().map(<[Atom]>::to_vec).unwrap_or_default();
                for item in items {
                    self.nested(&Atom::expr(vec![f.clone(), item]), depth)?;
                }
                done(unit())
            }
            ("add-reduct" | "add-atoms", [space, value]) => {
                let Some(space) = self.space_index(space, depth)? else {
                    return Ok(Some(done(stdlib::error(
                        whole,
                        Atom::string("expects a space"),
                    ))));
                };
                let atoms: Vec<Atom> = if head == "add-reduct" {
                    self.nested_atoms(value, depth)?
                } else {
                    value.as_expr().map(<[Atom]>::to_vec).unwrap_or_default()
                };
                for atom in atoms {
                    self.add_to(space, atom);
                }
                done(unit())
            }
            ("unify", [a, b, then, otherwise]) => {
                let mut bindings = Bindings::new();
                if bindings.unify(a, b) {
                    Step::Tail(bindings.apply(then), bindings)
                } else {
                    Step::Tail(otherwise.clone(), Bindings::new())
                }
            }
            ("case" | "switch", [value, Atom::Expr(cases)]) => {
                let cases = cases.clone();
                let whole2 = whole.clone();
                let is_case = head == "case";
                let k: Then<E> = Box::new(move |me, results, _| {
                    let mut todo = VecDeque::new();
                    let pick = |v: &Atom, b: &Bindings, todo: &mut VecDeque<(Atom, Bindings)>| {
                        for case in cases.iter() {
                            if let Some([pattern, template]) = case.as_expr() {
                                let mut u = b.clone();
                                if u.unify(pattern, v) {
                                    todo.push_back((u.apply(template), u));
                                    return;
                                }
                            }
                        }
                    };
                    if results.is_empty() && is_case {
                        pick(&Atom::sym("Empty"), &Bindings::new(), &mut todo);
                    }
                    for (v, b) in &results {
                        pick(v, b, &mut todo);
                    }
                    Ok(me.concat(todo, Vec::new(), &whole2))
                });
                self.eval_then(value, k, depth)?
            }
            ("eval", [x]) => {
                let mut todo = VecDeque::new();
                let mut direct = Vec::new();
                match x {
                    Atom::Expr(items) if !items.is_empty() => {
                        if let Some(step) = self.special_eval(items, x, depth)? {
                            return Ok(Some(step));
                        }
                        self.call(x.clone(), Bindings::new(), None, &mut todo, &mut direct)?;
                    }
                    other => direct.push((other.clone(), Bindings::new())),
                }
                direct.extend(todo);
                Step::Done(direct)
            }
            ("match", [space, pattern, template]) => {
                let Some(space) = self.space_index(space, depth)? else {
                    return Ok(Some(done(stdlib::error(
                        whole,
                        Atom::string("match expects a space"),
                    ))));
                };
                let vars = whole.vars();
                let todo = self
                    .query(space, pattern)
                    .into_iter()
                    .map(|b| (b.apply(template), b.restricted(&vars)))
                    .collect();
                self.concat(todo, Vec::new(), whole)
            }
            ("add-atom" | "remove-atom", [space, atom]) => {
                let Some(space) = self.space_index(space, depth)? else {
                    return Ok(Some(done(stdlib::error(
                        whole,
                        Atom::string("expects a space"),
                    ))));
                };
                let atom = self.resolve_tokens(atom);
                if head == "add-atom" {
                    self.add_to(space, atom);
                } else {
                    self.spaces[space].remove_atom(&atom);
                    self.sigs.clear();
                }
                done(unit())
            }
            ("get-atoms", [space]) => {
                let Some(space) = self.space_index(space, depth)? else {
                    return Ok(Some(done(stdlib::error(
                        whole,
                        Atom::string("expects a space"),
                    ))));
                };
                Step::Done(
                    self.spaces[space]
                        .create_space()
                        .atoms()
                        .into_iter()
                        .map(|a| (a, Bindings::new()))
                        .collect(),
                )
            }
            ("new-space", []) => {
                let id = u32::try_from(self.spaces.len()).unwrap_or(u32::MAX);
                self.spaces.push(E::empty());
                done(Atom::Space(id))
            }
            ("bind!", [Atom::Sym(token), value]) => {
                let values = self.nested_atoms(value, depth)?;
                if let Some(v) = values.into_iter().next() {
                    self.tokens.insert(token.clone(), v);
                }
                done(unit())
            }
            ("import!", [target, file]) => done(self.import(target, file, whole, depth)?),
            ("new-state", [value]) => {
                let mut out = Vec::new();
                for (v, b) in self.nested(value, depth)? {
                    let id = u32::try_from(self.states.len()).unwrap_or(u32::MAX);
                    self.states.push(v);
                    out.push((Atom::State(id), b));
                }
                Step::Done(out)
            }
            ("get-state", [state]) => {
                let mut out = Vec::new();
                for (s, b) in self.nested(state, depth)? {
                    match s {
                        Atom::State(id) if (id as usize) < self.states.len() => {
                            out.push((self.states[id as usize].clone(), b));
                        }
                        other => out.push((expr_of("get-state", &[other]), b)),
                    }
                }
                Step::Done(out)
            }
            ("change-state!", [state, value]) => {
                let mut out = Vec::new();
                for (s, b) in self.nested(state, depth)? {
                    for (v, b2) in self.nested(&b.apply(value), depth)? {
                        if let Atom::State(id) = s {
                            if let Some(slot) = self.states.get_mut(id as usize) {
                                *slot = v;
                                out.push((s.clone(), b.merge(&b2).unwrap_or_default()));
                                continue;
                            }
                        }
                        out.push((expr_of("change-state!", &[s.clone(), v]), b.clone()));
                    }
                }
                Step::Done(out)
            }
            ("nop", rest) => {
                for arg in rest {
                    self.nested(arg, depth)?;
                }
                done(unit())
            }
            ("get-type", [atom]) | ("get-type", [atom, _]) => {
                let space = match args.get(1) {
                    Some(s) => self.space_index(s, depth)?.unwrap_or(self.self_space),
                    None => self.self_space,
                };
                let atom = self.resolve_tokens(atom);
                Step::Done(
                    self.infer_in(&atom, space)
                        .into_iter()
                        .map(|t| (t, Bindings::new()))
                        .collect(),
                )
            }
            ("pragma!", [key, value]) => {
                if key.as_sym() == Some("type-check") {
                    self.type_check_auto = value.as_sym() == Some("auto");
                }
                done(unit())
            }
            ("println!", [x]) => {
                let shown: Vec<String> = self
                    .nested_atoms(x, depth)?
                    .iter()
                    .map(|a| self.show_states(a).to_string())
                    .collect();
                let mut out = std::io::stdout().lock();
                for line in shown {
                    // A closed stdout is not the program's failure.
                    let _ = writeln!(out, "{line}");
                }
                done(unit())
            }
            ("trace!", [message, x]) => {
                let shown: Vec<String> = self
                    .nested_atoms(message, depth)?
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                let _ = writeln!(std::io::stderr().lock(), "{}", shown.join(" "));
                Step::Tail(x.clone(), Bindings::new())
            }
            ("if-decons-expr", [list, h, t, then, otherwise]) => {
                let list = match list {
                    Atom::Expr(_)
                        if needs_eval(list)
                            && !matches!(
                                list.as_expr(),
                                Some([Atom::Int(_) | Atom::Float(_) | Atom::Str(_), ..])
                            ) =>
                    {
                        self.nested_atoms(list, depth)?
                            .into_iter()
                            .next()
                            .unwrap_or_else(unit)
                    }
                    other => other.clone(),
                };
                match list.as_expr() {
                    Some([first, rest @ ..]) => {
                        let mut b = Bindings::new();
                        if b.unify(h, first) && b.unify(t, &Atom::expr(rest.to_vec())) {
                            Step::Tail(b.apply(then), Bindings::new())
                        } else {
                            Step::Tail(otherwise.clone(), Bindings::new())
                        }
                    }
                    _ => Step::Tail(otherwise.clone(), Bindings::new()),
                }
            }
            ("foldl-atom", [list, init, a, b, op]) => {
                let list = self.list_arg(list, depth)?;
                let mut accs = self.nested_atoms(init, depth)?;
                for item in list.as_expr().unwrap_or(&[]) {
                    let mut next = Vec::new();
                    for acc in &accs {
                        let mut bind = Bindings::new();
                        if bind.unify(a, acc) && bind.unify(b, item) {
                            next.extend(self.nested_atoms(&bind.apply(op), depth)?);
                        }
                    }
                    self.check_size(next.len(), whole)?;
                    accs = next;
                }
                Step::Done(accs.into_iter().map(|x| (x, Bindings::new())).collect())
            }
            ("map-atom" | "filter-atom", [list, var, body]) => {
                let list = self.list_arg(list, depth)?;
                let mut combos: Vec<Vec<Atom>> = vec![Vec::new()];
                for item in list.as_expr().unwrap_or(&[]) {
                    let mut bind = Bindings::new();
                    if !bind.unify(var, item) {
                        continue;
                    }
                    let values = self.nested_atoms(&bind.apply(body), depth)?;
                    let mut next = Vec::new();
                    for combo in &combos {
                        for v in &values {
                            let mut c = combo.clone();
                            if head == "map-atom" {
                                c.push(v.clone());
                            } else if v.as_sym() == Some("True") {
                                c.push(item.clone());
                            }
                            next.push(c);
                        }
                    }
                    self.check_size(next.len(), whole)?;
                    combos = next;
                }
                Step::Done(
                    combos
                        .into_iter()
                        .map(|c| (Atom::expr(c), Bindings::new()))
                        .collect(),
                )
            }
            ("get-doc", [space, atom]) => {
                let Some(space) = self.space_index(space, depth)? else {
                    return Ok(Some(done(stdlib::error(
                        whole,
                        Atom::string("get-doc expects a space"),
                    ))));
                };
                Step::Done(
                    self.documentation(space, atom)
                        .into_iter()
                        .map(|d| (d, Bindings::new()))
                        .collect(),
                )
            }
            ("help!", [atom]) => {
                let space = self.self_space;
                let lines = match self.documentation(space, atom).first() {
                    Some(doc) => help_lines(doc),
                    None => vec![format!("No documentation found for {atom}")],
                };
                let mut out = std::io::stdout().lock();
                for line in lines {
                    // A closed stdout is not the program's failure.
                    let _ = writeln!(out, "{line}");
                }
                done(unit())
            }
            ("unique", [inner]) => {
                let mut out: Vec<Res> = Vec::new();
                for (a, b) in self.nested(inner, depth)? {
                    if !out.iter().any(|(x, _)| *x == a) {
                        out.push((a, b));
                    }
                }
                Step::Done(out)
            }
            ("union" | "intersection" | "subtraction", [left, right]) => {
                let left = self.nested_atoms(left, depth)?;
                let mut right = self.nested_atoms(right, depth)?;
                let mut out = Vec::new();
                for a in left {
                    let found = right.iter().position(|r| *r == a);
                    match (head, found) {
                        ("union", _) => out.push(a),
                        ("intersection", Some(i)) => {
                            right.remove(i);
                            out.push(a);
                        }
                        ("subtraction", Some(i)) => {
                            right.remove(i);
                        }
                        ("subtraction", None) => out.push(a),
                        _ => {}
                    }
                }
                if head == "union" {
                    out.extend(right);
                }
                Step::Done(out.into_iter().map(|a| (a, Bindings::new())).collect())
            }
            ("sealed", [Atom::Expr(keep), body]) => {
                // Every variable of `body` not listed in `keep` gets a fresh name.
                let keep: Vec<Atom> = keep.to_vec();
                self.fresh += 1;
                let mut names: HashMap<Arc<str>, Atom> = keep
                    .iter()
                    .filter_map(|v| match v {
                        Atom::Var(name) => Some((name.clone(), v.clone())),
                        _ => None,
                    })
                    .collect();
                done(rename(body, self.fresh, &mut names))
            }
            (name, _) if name.starts_with("assert") && ASSERTIONS.contains(&name) => {
                match self.assertion(name, args, whole, depth)? {
                    Some(result) => done(result),
                    None => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(step))
    }

    /// `eval` of a special form: one step is the form itself.
    fn special_eval(
        &mut self,
        items: &Arc<[Atom]>,
        x: &Atom,
        depth: usize,
    ) -> Result<Option<Step<E>>, Error> {
        match &items[0] {
            Atom::Sym(head) if FORM_NAMES.contains(&&**head) || ASSERTIONS.contains(&&**head) => {
                self.special(head, items, x, depth)
            }
            _ => Ok(None),
        }
    }

    /// `get-doc`: the `(@doc-formal ...)` atom documenting `atom` in `space`, built
    /// from its `(@doc ...)` atom and its type.
    fn documentation(&mut self, space: usize, atom: &Atom) -> Vec<Atom> {
        let ty = self
            .infer_in(atom, space)
            .into_iter()
            .next()
            .unwrap_or_else(|| Atom::sym(UNDEFINED));
        let (desc, params, ret) = (
            Atom::var("__desc"),
            Atom::var("__params"),
            Atom::var("__ret"),
        );
        let function_doc = Atom::expr(vec![
            Atom::sym("@doc"),
            atom.clone(),
            desc.clone(),
            Atom::expr(vec![Atom::sym("@params"), params.clone()]),
            ret.clone(),
        ]);
        let atom_doc = Atom::expr(vec![Atom::sym("@doc"), atom.clone(), desc.clone()]);
        let formal = |kind: &str, ty: &Atom, desc: &Atom| {
            vec![
                Atom::sym("@doc-formal"),
                Atom::expr(vec![Atom::sym("@item"), atom.clone()]),
                Atom::expr(vec![Atom::sym("@kind"), Atom::sym(kind)]),
                Atom::expr(vec![Atom::sym("@type"), ty.clone()]),
                desc.clone(),
            ]
        };
        let is_function = types::function_parts(&ty).is_some();
        if !is_function {
            if let Some(b) = self.query(space, &atom_doc).into_iter().next() {
                return vec![Atom::expr(formal("atom", &ty, &b.apply(&desc)))];
            }
        }
        let Some(b) = self.query(space, &function_doc).into_iter().next() else {
            return Vec::new();
        };
        let param_docs: Vec<Atom> = b
            .apply(&params)
            .as_expr()
            .map(<[Atom]>::to_vec)
            .unwrap_or_default();
        let undefined = Atom::sym(UNDEFINED);
        let (param_types, ret_type): (Vec<Atom>, Atom) = match types::function_parts(&ty) {
            Some((ps, r)) => (ps.to_vec(), r.clone()),
            None => (vec![undefined.clone(); param_docs.len()], undefined.clone()),
        };
        let described: Vec<Atom> = param_docs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let text = p
                    .as_expr()
                    .and_then(|x| x.get(1))
                    .cloned()
                    .unwrap_or_else(unit);
                Atom::expr(vec![
                    Atom::sym("@param"),
                    Atom::expr(vec![
                        Atom::sym("@type"),
                        param_types
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| undefined.clone()),
                    ]),
                    Atom::expr(vec![Atom::sym("@desc"), text]),
                ])
            })
            .collect();
        let ret_text = b
            .apply(&ret)
            .as_expr()
            .and_then(|x| x.get(1))
            .cloned()
            .unwrap_or_else(unit);
        let mut items = formal("function", &ty, &b.apply(&desc));
        items.push(Atom::expr(vec![
            Atom::sym("@params"),
            Atom::expr(described),
        ]));
        items.push(Atom::expr(vec![
            Atom::sym("@return"),
            Atom::expr(vec![Atom::sym("@type"), ret_type]),
            Atom::expr(vec![Atom::sym("@desc"), ret_text]),
        ]));
        vec![Atom::expr(items)]
    }

    fn list_arg(&mut self, list: &Atom, depth: usize) -> Result<Atom, Error> {
        let head_is_data = matches!(list.as_expr(), Some([first, ..]) if !matches!(first, Atom::Sym(_) | Atom::Expr(_)));
        if needs_eval(list) && !head_is_data {
            Ok(self
                .nested_atoms(list, depth)?
                .into_iter()
                .next()
                .unwrap_or_else(unit))
        } else {
            Ok(list.clone())
        }
    }

    fn eval_then(&mut self, atom: &Atom, k: Then<E>, depth: usize) -> Result<Step<E>, Error> {
        if needs_eval(atom) {
            Ok(Step::Call(Frame::Then(k), atom.clone()))
        } else {
            k(self, vec![(atom.clone(), Bindings::new())], depth)
        }
    }

    fn import(
        &mut self,
        target: &Atom,
        file: &Atom,
        whole: &Atom,
        depth: usize,
    ) -> Result<Atom, Error> {
        let name = match file {
            Atom::Sym(s) | Atom::Str(s) => s.to_string(),
            _ => {
                return Ok(stdlib::error(
                    whole,
                    Atom::string("import! expects a module name"),
                ))
            }
        };
        if matches!(name.as_str(), "stdlib" | "top" | "corelib") {
            return Ok(unit());
        }
        let base = self
            .file
            .as_ref()
            .and_then(|f| f.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let mut path = base.join(&name);
        if path.extension().is_none() {
            path.set_extension("metta");
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                return Ok(stdlib::error(
                    whole,
                    Atom::string(&format!("cannot import {}: {e}", path.display())),
                ))
            }
        };
        let forms = match parse_program(&text) {
            Ok(forms) => forms,
            Err(e) => {
                return Ok(stdlib::error(
                    whole,
                    Atom::string(&format!("{}: {e}", path.display())),
                ))
            }
        };
        let space = match target {
            Atom::Sym(token) if &**token != "&self" && !self.tokens.contains_key(token) => {
                let id = u32::try_from(self.spaces.len()).unwrap_or(u32::MAX);
                self.spaces.push(E::empty());
                self.tokens.insert(token.clone(), Atom::Space(id));
                id as usize
            }
            other => self.space_index(other, depth)?.unwrap_or(self.self_space),
        };
        let saved = (self.self_space, self.file.replace(path));
        self.self_space = space;
        let mut outcome = Ok(());
        for form in forms {
            let atom = self.resolve_tokens(&form.atom);
            if form.bang {
                if let Err(e) = self.nested(&atom, depth) {
                    outcome = Err(e);
                    break;
                }
            } else {
                self.add_to(space, atom);
            }
        }
        self.self_space = saved.0;
        self.file = saved.1;
        self.sigs.clear();
        outcome.map(|()| unit())
    }

    fn assertion(
        &mut self,
        name: &str,
        args: &[Atom],
        whole: &Atom,
        depth: usize,
    ) -> Result<Option<Atom>, Error> {
        let with_msg = name.ends_with("Msg");
        let base = name.trim_end_matches("Msg");
        let (args, message) = if with_msg {
            match args.split_last() {
                Some((m, rest)) => (rest, Some(m.clone())),
                None => return Ok(None),
            }
        } else {
            (args, None)
        };
        let shown_call = if with_msg {
            expr_of(name, args)
        } else {
            whole.clone()
        };
        let fail = |detail: Atom| -> Atom {
            stdlib::error(&shown_call, message.clone().unwrap_or(detail))
        };
        match (base, args) {
            ("assert", [condition]) => {
                let got = self.nested_atoms(condition, depth)?;
                if got.len() == 1 && got[0].as_sym() == Some("True") {
                    Ok(Some(unit()))
                } else {
                    Ok(Some(fail(Atom::expr(vec![
                        condition.clone(),
                        Atom::sym("not"),
                        Atom::sym("True"),
                    ]))))
                }
            }
            ("assertEqual" | "assertAlphaEqual", [actual, expected])
            | ("assertEqualToResult" | "assertAlphaEqualToResult", [actual, expected])
            | ("assertIncludes", [actual, expected]) => {
                let got = self.nested_atoms(actual, depth)?;
                let want = if base == "assertEqual" || base == "assertAlphaEqual" {
                    self.nested_atoms(expected, depth)?
                } else {
                    match expected.as_expr() {
                        Some(items) => items.to_vec(),
                        None => vec![expected.clone()],
                    }
                };
                let got: Vec<Atom> = got.iter().map(|a| self.show_states(a)).collect();
                let alpha = base.contains("Alpha");
                if base == "assertIncludes" {
                    let missing = want.iter().any(|w| !got.iter().any(|g| same(g, w, true)));
                    return Ok(Some(if missing {
                        fail(Atom::expr(vec![
                            Atom::sym("assertIncludes"),
                            Atom::sym("error:"),
                            Atom::expr(want),
                            Atom::sym("not"),
                            Atom::sym("included"),
                            Atom::sym("in"),
                            Atom::sym("result:"),
                            Atom::expr(got),
                        ]))
                    } else {
                        unit()
                    }));
                }
                let (missed, excess) = difference(&got, &want, alpha);
                if missed.is_empty() && excess.is_empty() {
                    return Ok(Some(unit()));
                }
                let list = |atoms: &[Atom]| {
                    atoms
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut text = format!("\nExpected: [{}]\nGot: [{}]", list(&want), list(&got));
                if !missed.is_empty() {
                    text.push_str(&format!("\nMissed results: {}", list(&missed)));
                }
                if !excess.is_empty() {
                    text.push_str(&format!("\nExcessive results: {}", list(&excess)));
                }
                Ok(Some(fail(Atom::string(&text))))
            }
            _ => Ok(None),
        }
    }
}

/// The declared return type of a signature.
fn return_type(sig: Option<&(Atom, bool)>) -> Option<Atom> {
    sig.and_then(|(ty, _)| types::function_parts(ty))
        .map(|(_, ret)| ret.clone())
}

/// Whether a result of a function with return type `ret` is returned as it is (the
/// reference interpreter does not evaluate a result of type `Atom`).
fn kept_as_is(ret: Option<&Atom>) -> bool {
    ret.and_then(Atom::as_sym) == Some("Atom")
}

fn text_of(atom: &Atom) -> String {
    match atom {
        Atom::Str(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// The lines `help!` prints for a `(@doc-formal ...)` atom.
fn help_lines(doc: &Atom) -> Vec<String> {
    let field = |a: &Atom, i: usize| {
        a.as_expr()
            .and_then(|x| x.get(i))
            .cloned()
            .unwrap_or_else(unit)
    };
    let items = doc.as_expr().unwrap_or(&[]);
    let item = items.get(1).map(|a| field(a, 1)).unwrap_or_else(unit);
    let kind = items.get(2).map(|a| field(a, 1)).unwrap_or_else(unit);
    let ty = items.get(3).map(|a| field(a, 1)).unwrap_or_else(unit);
    let desc = items
        .get(4)
        .map(|a| text_of(&field(a, 1)))
        .unwrap_or_default();
    if kind.as_sym() != Some("function") || items.len() < 7 {
        let label = if kind.as_sym() == Some("function") {
            "Function"
        } else {
            "Atom"
        };
        return vec![format!("{label} {item}: {ty} {desc}")];
    }
    let mut lines = vec![
        format!("Function {item}: {ty} {desc}"),
        "Parameters:".to_owned(),
    ];
    for param in field(&items[5], 1).as_expr().unwrap_or(&[]) {
        let ptype = field(&field(param, 1), 1);
        let pdesc = text_of(&field(&field(param, 2), 1));
        lines.push(format!("  (type {ptype}) {pdesc}"));
    }
    let ret = &items[6];
    lines.push(format!(
        "Return: (type {}) {}",
        field(&field(ret, 1), 1),
        text_of(&field(&field(ret, 2), 1))
    ));
    lines
}

/// Whether two atoms are equal (`alpha`: up to a renaming of variables).
fn same(a: &Atom, b: &Atom, alpha: bool) -> bool {
    if alpha {
        crate::runner::alpha_equal(a, b)
    } else {
        a == b
    }
}

/// The expected atoms missing from `got` and the atoms of `got` not expected, as
/// multisets.
fn difference(got: &[Atom], want: &[Atom], alpha: bool) -> (Vec<Atom>, Vec<Atom>) {
    let mut excess: Vec<Atom> = got.to_vec();
    let mut missed = Vec::new();
    for w in want {
        match excess.iter().position(|g| same(g, w, alpha)) {
            Some(i) => {
                excess.remove(i);
            }
            None => missed.push(w.clone()),
        }
    }
    (missed, excess)
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
