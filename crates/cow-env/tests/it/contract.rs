//! The environment contract, checked on all three variants with one body per test.

use std::collections::HashMap;

use cow_env::{
    Atom, AtomSpace, Environment, Error, MutexEnvironment, Rule, RuleEnvironment, RwLockEnvironment,
};

use crate::{atom, rule};

fn values<E: RuleEnvironment>(env: &E, query: &str) -> Vec<String> {
    env.get_matching_rules(&atom(query))
        .iter()
        .map(|r| r.rhs.to_string())
        .collect()
}

fn clone_isolates_both_ways<E: RuleEnvironment>() {
    let mut parent = E::empty();
    parent.add_rule(rule("f", 1, 10));
    let mut child = parent.clone();
    assert!(child.same_state(&parent));
    child.add_rule(rule("f", 1, 11));
    parent.add_rule(rule("f", 1, 12));
    parent.add_type(atom("x"), atom("T"));
    assert_eq!(values(&parent, "(f 1)"), ["10", "12"]);
    assert_eq!(values(&child, "(f 1)"), ["10", "11"]);
    assert_eq!(child.get_type(&atom("x")), Vec::<Atom>::new());
    assert_eq!(parent.get_type(&atom("x")), vec![atom("T")]);
    assert!(!child.same_state(&parent));
    assert!(!child.create_space().contains(&rule("f", 1, 12).to_atom()));
}

fn snapshot_does_not_see_later_parent_writes<E: RuleEnvironment>() {
    // The seed's defect: only the clone lost ownership, so the parent kept writing into
    // the data the snapshot still pointed at.
    let mut parent = E::empty();
    parent.add_rule(rule("g", 0, 0));
    let _ = parent.get_matching_rules(&atom("(g 0)")); // warm the shared cache
    let snapshot = parent.clone();
    parent.add_rule(rule("g", 0, 1));
    assert_eq!(values(&snapshot, "(g 0)"), ["0"]);
    assert_eq!(snapshot.get_rule_count(), 1);
    assert_eq!(values(&parent, "(g 0)"), ["0", "1"]);
}

fn cache_is_invalidated_by_writes<E: RuleEnvironment>() {
    let mut env = E::empty();
    env.add_rule(rule("h", 1, 1));
    assert_eq!(values(&env, "(h 1)"), ["1"]);
    env.add_rule(rule("h", 2, 2));
    assert_eq!(values(&env, "(h 5)"), ["1", "2"]);
    // A wildcard rule joins every query's candidates.
    env.add_rule(Rule::new(atom("$any"), atom("w")));
    assert_eq!(values(&env, "(h 5)"), ["1", "2", "w"]);
    assert_eq!(values(&env, "(other)"), ["w"]);
    // A query without a symbol head sees every rule.
    assert_eq!(values(&env, "($x 1)").len(), 3);
}

fn union_fast_paths_and_deep_merge<E: RuleEnvironment>() {
    let mut base = E::empty();
    base.add_rules_bulk((0..5).map(|i| rule("r", i, i)));
    let same = base.clone();
    assert!(base.union(&same).same_state(&base));

    let mut ahead = base.clone();
    ahead.add_rule(rule("r", 9, 9));
    assert!(
        ahead.union(&base).same_state(&ahead),
        "base is an ancestor of ahead"
    );
    assert!(base.union(&ahead).same_state(&ahead));

    let mut other = base.clone();
    other.add_rule(rule("r", 8, 8));
    let merged = ahead.union(&other);
    assert_eq!(
        merged.get_rule_count(),
        7,
        "5 shared + 1 + 1, the base counted once"
    );
    // All (r _) rules share one key; instances come in id order whichever side they
    // came from.
    assert_eq!(
        values(&merged, "(r 9)"),
        ["0", "1", "2", "3", "4", "9", "8"]
    );
    assert_eq!(
        values(&other.union(&ahead), "(r 9)"),
        values(&merged, "(r 9)")
    );

    let mut unrelated = E::empty();
    unrelated.add_rule(rule("u", 1, 1));
    let both = base.union(&unrelated);
    assert_eq!(
        both.get_rule_count(),
        6,
        "unrelated environments lose nothing"
    );
    assert_eq!(unrelated.union(&base).get_rule_count(), 6);
}

fn multiplicities_count_instances<E: RuleEnvironment>() {
    let mut env = E::empty();
    let twice = rule("m", 1, 1);
    env.add_rule(twice.clone());
    env.add_rule(twice.clone());
    assert_eq!(env.get_multiplicities()[&twice.to_atom()], 2);
    assert_eq!(values(&env, "(m 1)"), ["1", "1"]);

    let mut fork_a = env.clone();
    let mut fork_b = env.clone();
    fork_a.add_rule(twice.clone());
    fork_b.add_rule(twice.clone());
    let merged = fork_a.union(&fork_b);
    assert_eq!(
        merged.get_multiplicities()[&twice.to_atom()],
        4,
        "2 base + 1 + 1"
    );

    let mut counts = HashMap::new();
    counts.insert(twice.to_atom(), 6);
    env.set_multiplicities(&counts).unwrap();
    assert_eq!(env.get_multiplicities()[&twice.to_atom()], 6);
    counts.insert(twice.to_atom(), 1);
    env.set_multiplicities(&counts).unwrap();
    assert_eq!(env.get_multiplicities()[&twice.to_atom()], 1);
    assert_eq!(values(&env, "(m 1)"), ["1"]);
    let mut not_rule = HashMap::new();
    not_rule.insert(atom("(fact)"), 1);
    assert!(matches!(
        env.set_multiplicities(&not_rule),
        Err(Error::NotARule { .. })
    ));
    assert_eq!(env.get_rule_count(), 1);
    counts.insert(twice.to_atom(), 0);
    env.set_multiplicities(&counts).unwrap();
    assert!(env.get_multiplicities().is_empty());
    assert!(!env.create_space().contains(&twice.to_atom()));
}

fn types_and_pathmap_updates<E: RuleEnvironment>() {
    let mut env = E::empty();
    env.add_type(atom("a"), atom("A"));
    assert_eq!(env.get_type(&atom("a")), vec![atom("A")]);
    env.add_facts_bulk([atom("(: a B)"), atom("(plain fact)")]);
    env.ensure_type_index();
    assert_eq!(env.get_type(&atom("a")), vec![atom("A"), atom("B")]);

    let incoming = AtomSpace::from_atoms([atom("(= (late 1) 5)"), atom("(: late Fn)")]);
    env.update_pathmap(&incoming);
    assert_eq!(env.get_type(&atom("late")), vec![atom("Fn")]);
    assert_eq!(
        values(&env, "(late 1)"),
        ["5"],
        "rules arriving by path are indexed"
    );
    env.update_pathmap(&incoming);
    assert_eq!(
        env.get_rule_count(),
        1,
        "a path already present adds nothing"
    );
    env.rebuild_rule_index();
    assert_eq!(values(&env, "(late 1)"), ["5"]);
    assert_eq!(env.get_rule_count(), 1, "rebuilding changes nothing");
    assert!(env.create_space().contains(&atom("(plain fact)")));
}

fn removal_survives_union<E: RuleEnvironment>() {
    let mut base = E::empty();
    base.add_rule(rule("d", 1, 1));
    base.add_facts_bulk([atom("(fact a)"), atom("(fact b)")]);
    base.add_type(atom("x"), atom("T"));
    let mut a = base.clone();
    let mut b = base.clone();
    assert_eq!(a.remove_atom(&rule("d", 1, 1).to_atom()), 1);
    assert_eq!(a.remove_atom(&atom("(fact a)")), 1);
    assert_eq!(a.remove_atom(&atom("(: x T)")), 1);
    assert_eq!(a.remove_atom(&atom("(absent)")), 0);
    b.add_rule(rule("d", 2, 2));
    assert_eq!(values(&a, "(d 1)"), Vec::<String>::new());
    assert!(a.get_type(&atom("x")).is_empty());
    assert_eq!(
        values(&base, "(d 1)"),
        ["1"],
        "the base keeps what a fork removed"
    );
    for merged in [a.union(&b), b.union(&a)] {
        assert_eq!(
            values(&merged, "(d 1)"),
            ["2"],
            "removed on one side stays removed"
        );
        assert!(!merged.create_space().contains(&atom("(fact a)")));
        assert!(merged.create_space().contains(&atom("(fact b)")));
        assert!(merged.get_type(&atom("x")).is_empty());
        assert_eq!(merged.get_rule_count(), 1);
    }
    // Adding an atom again after removing it makes a new, live instance.
    a.add_facts_bulk([atom("(fact a)")]);
    assert!(a.union(&b).create_space().contains(&atom("(fact a)")));
}

fn modification_tracking<E: RuleEnvironment>() {
    let mut env = E::empty();
    let copy = env.clone();
    assert!(env.same_state(&copy));
    env.add_facts_bulk([atom("(x)")]);
    assert!(!env.same_state(&copy));
    let again = env.clone();
    assert!(again.same_state(&env));
}

fn concurrent_reads_agree<E: RuleEnvironment>() {
    let mut env = E::empty();
    env.add_rules_bulk((0..200).map(|i| rule("c", i % 20, i)));
    std::thread::scope(|s| {
        for t in 0..4 {
            let env = &env;
            s.spawn(move || {
                for i in 0..2_000 {
                    let key = (i + t) % 20;
                    let got = env.get_matching_rules(&atom(&format!("(c {key})")));
                    assert_eq!(
                        got.len(),
                        200,
                        "every (c _) rule is a candidate for (c {key})"
                    );
                }
            });
        }
    });
}

macro_rules! for_each_variant {
    ($($test:ident),* $(,)?) => {
        mod cow {
            $( #[test] fn $test() { super::$test::<super::Environment>(); } )*
        }
        #[cfg(feature = "pathmap")]
        mod cow_pathmap {
            $( #[test] fn $test() {
                super::$test::<cow_env::Environment<cow_env::PathMapTrie>>();
            } )*
        }
        mod mutex {
            $( #[test] fn $test() { super::$test::<super::MutexEnvironment>(); } )*
        }
        mod rwlock {
            $( #[test] fn $test() { super::$test::<super::RwLockEnvironment>(); } )*
        }
        mod rwlock_write_hit {
            $( #[test] fn $test() {
                super::$test::<cow_env::LockedEnvironment<cow_env::RwLockWriteHitKind>>();
            } )*
        }
    };
}

for_each_variant!(
    clone_isolates_both_ways,
    snapshot_does_not_see_later_parent_writes,
    cache_is_invalidated_by_writes,
    union_fast_paths_and_deep_merge,
    multiplicities_count_instances,
    types_and_pathmap_updates,
    modification_tracking,
    removal_survives_union,
    concurrent_reads_agree,
);

#[test]
fn cow_first_write_replaces_a_shared_cache_instead_of_copying_it() {
    let mut env = Environment::empty();
    env.add_rules_bulk((0..50).map(|i| rule("k", i, i)));
    for i in 0..50 {
        env.get_matching_rules(&atom(&format!("(k{i} 1)")));
    }
    assert_eq!(env.pattern_cache_len(), 50);
    let mut fork = env.clone();
    assert_eq!(
        fork.pattern_cache_len(),
        50,
        "a clone shares the warm cache"
    );
    fork.add_rule(rule("k", 1, 1));
    assert_eq!(
        fork.pattern_cache_len(),
        0,
        "first write starts an empty cache"
    );
    assert_eq!(
        env.pattern_cache_len(),
        50,
        "the other handle keeps its cache"
    );
    // A sole owner only drops the entries the write affects.
    let mut sole = Environment::empty();
    sole.add_rule(rule("k", 1, 1));
    sole.get_matching_rules(&atom("(k 1)"));
    sole.get_matching_rules(&atom("(z 1)"));
    sole.add_rule(rule("k", 2, 2));
    assert_eq!(sole.pattern_cache_len(), 1);
}

#[test]
fn cow_rule_instances_of_a_merge_are_the_union_of_ids() {
    let mut base = Environment::empty();
    base.add_rule(rule("i", 1, 1));
    let mut a = base.clone();
    let mut b = base.clone();
    a.add_rule(rule("i", 2, 2));
    b.add_rule(rule("i", 3, 3));
    let ids = |e: &Environment| {
        e.rule_instances()
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>()
    };
    let mut expected = ids(&a);
    expected.extend(ids(&b));
    expected.sort();
    expected.dedup();
    assert_eq!(ids(&a.union(&b)), expected);
    assert_eq!(a.union(&b).multiplicity(&rule("i", 1, 1).to_atom()), 1);
}

#[test]
fn locked_variants_name_their_lock() {
    assert_eq!(MutexEnvironment::empty().lock_name(), "mutex");
    assert_eq!(RwLockEnvironment::empty().lock_name(), "rwlock");
}

#[test]
fn features_do_not_change_the_default_types() {
    // `LockedEnvironment` and `Environment` name the same types whatever features a
    // build turns on: one dependent's features cannot change another's types.
    let default: cow_env::LockedEnvironment = cow_env::LockedEnvironment::empty();
    assert_eq!(default.lock_name(), "rwlock");
    assert_eq!(Environment::empty().backend_name(), "native");
    let _same: Environment<cow_env::NativeTrie> = Environment::empty();
}
