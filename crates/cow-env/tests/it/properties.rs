//! Properties: isolation after clone, and the laws of `union` (commutative, associative,
//! idempotent, three-way for forks, lossless for unrelated environments), on every
//! variant.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use cow_env::{Atom, Environment, MutexEnvironment, Rule, RuleEnvironment, RwLockEnvironment};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Rule(u8, u8, u8),
    Wildcard(u8),
    Fact(u8),
    Type(u8, u8),
    /// Removes every live instance of the atom the inner operation would add.
    Remove(Box<Op>),
}

fn add_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, 0u8..3, 0u8..3).prop_map(|(h, a, v)| Op::Rule(h, a, v)),
        1 => (0u8..2).prop_map(Op::Wildcard),
        2 => (0u8..4).prop_map(Op::Fact),
        1 => (0u8..3, 0u8..2).prop_map(|(n, t)| Op::Type(n, t)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => add_op(),
        1 => add_op().prop_map(|o| Op::Remove(Box::new(o))),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 0..8)
}

fn atom_of(op: &Op) -> Atom {
    match op {
        Op::Rule(h, a, v) => Rule::new(
            Atom::expr(vec![Atom::sym(&format!("h{h}")), Atom::Int(i64::from(*a))]),
            Atom::Int(i64::from(*v)),
        )
        .to_atom(),
        Op::Wildcard(v) => Rule::new(Atom::var("x"), Atom::Int(i64::from(*v))).to_atom(),
        Op::Fact(f) => Atom::expr(vec![Atom::sym("fact"), Atom::Int(i64::from(*f))]),
        Op::Type(n, t) => Atom::expr(vec![
            Atom::sym(":"),
            Atom::sym(&format!("n{n}")),
            Atom::sym(&format!("T{t}")),
        ]),
        Op::Remove(inner) => atom_of(inner),
    }
}

fn apply<E: RuleEnvironment>(env: &mut E, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Remove(inner) => {
                env.remove_atom(&atom_of(inner));
            }
            other => env.add_atom(atom_of(other)),
        }
    }
}

/// The reference model of the documented semantics: instances with unique ids, and
/// tombstones; union is the union of both sets.
#[derive(Debug, Clone, Default)]
struct Model {
    instances: BTreeMap<u64, String>,
    removed: BTreeSet<u64>,
}

static NEXT_MODEL_ID: AtomicU64 = AtomicU64::new(0);

impl Model {
    fn apply(&mut self, ops: &[Op]) {
        for op in ops {
            let text = atom_of(op).to_string();
            match op {
                Op::Remove(_) => {
                    for (id, t) in &self.instances {
                        if *t == text {
                            self.removed.insert(*id);
                        }
                    }
                }
                _ => {
                    self.instances
                        .insert(NEXT_MODEL_ID.fetch_add(1, Ordering::Relaxed), text);
                }
            }
        }
    }

    fn union(&self, other: &Model) -> Model {
        let mut out = self.clone();
        out.instances.extend(other.instances.clone());
        out.removed.extend(other.removed.iter().copied());
        out
    }

    fn live(&self) -> impl Iterator<Item = &String> {
        self.instances
            .iter()
            .filter(|(id, _)| !self.removed.contains(id))
            .map(|(_, t)| t)
    }

    fn rule_multiplicities(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for t in self.live().filter(|t| t.starts_with("(= ")) {
            *out.entry(t.clone()).or_default() += 1;
        }
        out
    }

    fn atoms(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.live().collect();
        set.into_iter().cloned().collect()
    }
}

fn matches_model<E: RuleEnvironment>(
    env: &E,
    model: &Model,
    what: &str,
) -> Result<(), TestCaseError> {
    let seen = observe(env);
    prop_assert_eq!(
        &seen.multiplicities,
        &model.rule_multiplicities(),
        "{}: multiplicities",
        what
    );
    prop_assert_eq!(&seen.atoms, &model.atoms(), "{}: atoms", what);
    prop_assert_eq!(
        seen.rule_count,
        model.rule_multiplicities().values().sum::<usize>(),
        "{}: rule count",
        what
    );
    Ok(())
}

/// Everything a user can observe of an environment, in a comparable form.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    multiplicities: BTreeMap<String, usize>,
    atoms: Vec<String>,
    rule_count: usize,
    candidates: Vec<Vec<String>>,
    types: Vec<Vec<String>>,
}

fn observe<E: RuleEnvironment>(env: &E) -> Observed {
    let show = |atoms: Vec<Atom>| {
        let mut v: Vec<String> = atoms.iter().map(ToString::to_string).collect();
        v.sort();
        v
    };
    let queries = ["(h0 0)", "(h1 1)", "(h2 2)", "(nothing)", "($q 0)"];
    Observed {
        multiplicities: env
            .get_multiplicities()
            .into_iter()
            .map(|(a, n)| (a.to_string(), n))
            .collect(),
        atoms: show(env.create_space().atoms()),
        rule_count: env.get_rule_count(),
        candidates: queries
            .iter()
            .map(|q| {
                let mut v: Vec<String> = env
                    .get_matching_rules(&cow_env::parse_atom(q).unwrap())
                    .iter()
                    .map(|r| r.to_atom().to_string())
                    .collect();
                v.sort();
                v
            })
            .collect(),
        types: (0..3)
            .map(|n| show(env.get_type(&Atom::sym(&format!("n{n}")))))
            .collect(),
    }
}

fn laws<E: RuleEnvironment>(
    base_ops: &[Op],
    a_ops: &[Op],
    b_ops: &[Op],
    c_ops: &[Op],
) -> Result<(), TestCaseError> {
    let mut base = E::empty();
    apply(&mut base, base_ops);
    let mut base_model = Model::default();
    base_model.apply(base_ops);
    let before = observe(&base);
    let mut a = base.clone();
    apply(&mut a, a_ops);
    let mut a_model = base_model.clone();
    a_model.apply(a_ops);
    let mut b = base.clone();
    apply(&mut b, b_ops);
    let mut b_model = base_model.clone();
    b_model.apply(b_ops);
    let mut c = E::empty();
    apply(&mut c, c_ops);
    let mut c_model = Model::default();
    c_model.apply(c_ops);

    // Isolation: the forks' writes never reach the base.
    prop_assert_eq!(&observe(&base), &before);
    for (env, model, what) in [
        (&base, &base_model, "base"),
        (&a, &a_model, "a"),
        (&b, &b_model, "b"),
        (&c, &c_model, "c"),
    ] {
        matches_model(env, model, what)?;
    }

    let ab = a.union(&b);
    prop_assert_eq!(observe(&ab), observe(&b.union(&a)), "commutative");
    prop_assert_eq!(
        observe(&ab.union(&c)),
        observe(&a.union(&b.union(&c))),
        "associative"
    );
    prop_assert_eq!(observe(&a.union(&a)), observe(&a), "idempotent");
    prop_assert_eq!(
        observe(&a.union(&base)),
        observe(&a),
        "a fork absorbs its base"
    );

    // Three-way for forks (the base once, removals on either side kept) and lossless
    // for unrelated environments, both as the model's set unions.
    matches_model(&ab, &a_model.union(&b_model), "a ∪ b")?;
    matches_model(&a.union(&c), &a_model.union(&c_model), "a ∪ c")?;
    matches_model(
        &ab.union(&c),
        &a_model.union(&b_model).union(&c_model),
        "a ∪ b ∪ c",
    )?;
    Ok(())
}

fn writes_after_clone_are_isolated<E: RuleEnvironment>(
    base_ops: &[Op],
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let mut parent = E::empty();
    apply(&mut parent, base_ops);
    let before = observe(&parent);
    let mut child = parent.clone();
    apply(&mut child, ops);
    prop_assert_eq!(
        &observe(&parent),
        &before,
        "the parent does not see the child"
    );
    let child_seen = observe(&child);
    apply(&mut parent, ops);
    prop_assert_eq!(
        observe(&child),
        child_seen,
        "the child does not see the parent"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn union_laws_cow(b in ops(), x in ops(), y in ops(), z in ops()) { laws::<Environment>(&b, &x, &y, &z)?; }

    #[test]
    fn union_laws_mutex(b in ops(), x in ops(), y in ops(), z in ops()) { laws::<MutexEnvironment>(&b, &x, &y, &z)?; }

    #[test]
    fn union_laws_rwlock(b in ops(), x in ops(), y in ops(), z in ops()) { laws::<RwLockEnvironment>(&b, &x, &y, &z)?; }

    #[test]
    fn clone_isolation_cow(b in ops(), x in ops()) { writes_after_clone_are_isolated::<Environment>(&b, &x)?; }

    #[test]
    fn clone_isolation_mutex(b in ops(), x in ops()) { writes_after_clone_are_isolated::<MutexEnvironment>(&b, &x)?; }

    #[test]
    fn clone_isolation_rwlock(b in ops(), x in ops()) { writes_after_clone_are_isolated::<RwLockEnvironment>(&b, &x)?; }

    /// The copy-on-write environment and the seed's design agree on every observation.
    #[test]
    fn cow_matches_the_seed_design(b in ops(), x in ops(), y in ops()) {
        let mut cow = Environment::empty();
        let mut seed = MutexEnvironment::empty();
        apply(&mut cow, &b);
        apply(&mut seed, &b);
        let (mut cow_a, mut seed_a) = (cow.clone(), seed.clone());
        apply(&mut cow_a, &x);
        apply(&mut seed_a, &x);
        apply(&mut cow, &y);
        apply(&mut seed, &y);
        prop_assert_eq!(observe(&cow.union(&cow_a)), observe(&seed.union(&seed_a)));
    }

    /// Parallel writes on clones are isolated: each thread's fork holds the base plus
    /// exactly its own writes.
    #[test]
    fn parallel_writes_on_clones_are_isolated(b in ops(), per_thread in proptest::collection::vec(ops(), 2..4)) {
        let mut base = Environment::empty();
        apply(&mut base, &b);
        let before = observe(&base);
        let forks: Vec<Environment> = std::thread::scope(|s| {
            let handles: Vec<_> = per_thread
                .iter()
                .map(|ops| {
                    let base = &base;
                    s.spawn(move || {
                        let mut fork = base.clone();
                        apply(&mut fork, ops);
                        fork
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        prop_assert_eq!(&observe(&base), &before);
        for (fork, ops) in forks.iter().zip(&per_thread) {
            let mut sequential = Environment::empty();
            apply(&mut sequential, &b);
            apply(&mut sequential, ops);
            prop_assert_eq!(observe(fork).multiplicities, observe(&sequential).multiplicities);
        }
    }
}
