//! Bounded stress: many clones with random mutations, deep clone chains, concurrent
//! clone-and-mutate storms with unions, and a 10K-rule clone and union. Every test
//! prints its seed and finishes in about a second.

use std::time::{Duration, Instant};

use cow_env::{Environment, MutexEnvironment, RuleEnvironment, RwLockEnvironment};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::{atom, rule, seed};

fn thousand_clones_with_random_mutations<E: RuleEnvironment>(name: &str) {
    let mut rng = StdRng::seed_from_u64(seed(name));
    let mut base = E::empty();
    base.add_rules_bulk((0..100).map(|i| rule("base", i, i)));
    let mut clones: Vec<(E, usize)> = Vec::with_capacity(1_000);
    for _ in 0..1_000 {
        let mut c = base.clone();
        let writes = rng.gen_range(0..4);
        for _ in 0..writes {
            c.add_rule(rule("mine", rng.gen_range(0..10), rng.gen_range(0..10)));
        }
        clones.push((c, writes));
    }
    assert_eq!(base.get_rule_count(), 100);
    for (c, writes) in &clones {
        assert_eq!(c.get_rule_count(), 100 + writes);
    }
    let total: usize = clones.iter().map(|(_, w)| w).sum();
    let merged = clones.iter().fold(base.clone(), |acc, (c, _)| acc.union(c));
    assert_eq!(
        merged.get_rule_count(),
        100 + total,
        "every clone's writes once, the base once"
    );
}

fn clone_chains_deeper_than_ten<E: RuleEnvironment>() {
    let mut chain = vec![E::empty()];
    for depth in 0..25 {
        let mut next = chain[depth].clone();
        next.add_rule(rule("level", depth as i64, depth as i64));
        chain.push(next);
    }
    for (depth, env) in chain.iter().enumerate() {
        assert_eq!(
            env.get_rule_count(),
            depth,
            "level {depth} sees exactly its ancestors' rules"
        );
    }
    let top = chain.last().unwrap();
    for env in &chain {
        assert!(
            top.union(env).same_state(top),
            "an ancestor is absorbed by the fast path"
        );
    }
    // Writing in the middle of the chain touches nobody else.
    let mut middle = chain[12].clone();
    middle.add_rule(rule("side", 0, 0));
    assert_eq!(chain[13].get_rule_count(), 13);
    assert_eq!(middle.union(top).get_rule_count(), 26);
}

fn concurrent_clone_mutate_union_storm<E: RuleEnvironment>(name: &str) {
    let seed = seed(name);
    let mut base = E::empty();
    base.add_rules_bulk((0..200).map(|i| rule("shared", i % 10, i)));
    let deadline = Instant::now() + Duration::from_millis(400);
    let results: Vec<(E, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let base = &base;
                s.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(seed ^ t);
                    let mut mine = base.clone();
                    let mut added = 0;
                    while Instant::now() < deadline && added < 5_000 {
                        let mut fork = mine.clone();
                        fork.add_rule(rule(&format!("t{t}"), rng.gen_range(0..50), added as i64));
                        // Reads on the shared base run while other threads clone it.
                        assert_eq!(base.get_matching_rules(&atom("(shared 3)")).len(), 200);
                        assert_eq!(
                            mine.get_rule_count(),
                            200 + added,
                            "the old handle is untouched"
                        );
                        mine = if rng.gen_bool(0.5) {
                            mine.union(&fork)
                        } else {
                            fork.union(&mine)
                        };
                        added += 1;
                    }
                    (mine, added)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(base.get_rule_count(), 200);
    let mut merged = base.clone();
    let mut total = 0;
    for (env, added) in &results {
        assert_eq!(env.get_rule_count(), 200 + added);
        merged = merged.union(env);
        total += added;
    }
    assert_eq!(merged.get_rule_count(), 200 + total);
}

fn ten_thousand_rule_clone_and_union<E: RuleEnvironment>() {
    let mut base = E::empty();
    base.add_rules_bulk((0..10_000).map(|i| rule(&format!("f{}", i % 1_000), i / 1_000, i)));
    let mut a = base.clone();
    let mut b = base.clone();
    a.add_rules_bulk((0..100).map(|i| rule("a", i, i)));
    b.add_rules_bulk((0..100).map(|i| rule("b", i, i)));
    let merged = a.union(&b);
    assert_eq!(merged.get_rule_count(), 10_200);
    assert_eq!(base.get_rule_count(), 10_000);
    assert_eq!(merged.get_matching_rules(&atom("(f7 3)")).len(), 10);
}

macro_rules! for_each_variant {
    ($($test:ident $(($arg:expr))?),* $(,)?) => {
        mod cow {
            $( #[test] fn $test() { super::$test::<super::Environment>($($arg)?); } )*
        }
        mod mutex {
            $( #[test] fn $test() { super::$test::<super::MutexEnvironment>($($arg)?); } )*
        }
        mod rwlock {
            $( #[test] fn $test() { super::$test::<super::RwLockEnvironment>($($arg)?); } )*
        }
    };
}

for_each_variant!(
    thousand_clones_with_random_mutations("thousand_clones"),
    clone_chains_deeper_than_ten,
    concurrent_clone_mutate_union_storm("storm"),
    ten_thousand_rule_clone_and_union,
);
