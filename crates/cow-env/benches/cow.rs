//! Criterion micro-benchmarks of the seed's phase 1C targets on a 10K-rule environment:
//! clone, first write after a clone, union fast path and deep merge, for the seed's
//! Mutex-per-field design (`mutex`), its RwLock-per-field design (`rwlock`) and the
//! copy-on-write `Environment` (`cow`; with the `pathmap` feature also `cow-pathmap`).
//! Run with `cargo bench -p cow-env [--features pathmap]`.

use std::hint::black_box;

use cow_env::{Atom, Environment, MutexEnvironment, Rule, RuleEnvironment, RwLockEnvironment};
use criterion::{criterion_group, criterion_main, Criterion};

fn rule(head: &str, arg: usize, value: usize) -> Rule {
    Rule::new(
        Atom::expr(vec![Atom::sym(head), Atom::Int(arg as i64)]),
        Atom::Int(value as i64),
    )
}

fn build<E: RuleEnvironment>() -> E {
    let mut env = E::empty();
    env.add_rules_bulk((0..10_000).map(|i| rule(&format!("f{}", i % 1_000), i / 1_000, i)));
    for k in 0..100 {
        env.get_matching_rules(&Atom::expr(vec![Atom::sym(&format!("f{k}")), Atom::Int(1)]));
    }
    env
}

fn variant<E: RuleEnvironment>(c: &mut Criterion, name: &str) {
    let base = build::<E>();
    c.bench_function(&format!("clone/{name}"), |b| {
        b.iter(|| black_box(base.clone()))
    });
    c.bench_function(&format!("first-write/{name}"), |b| {
        b.iter(|| {
            let mut fork = base.clone();
            fork.add_rule(rule("new", 0, 0));
            black_box(fork)
        })
    });
    let mut ahead = base.clone();
    ahead.add_rule(rule("new", 0, 0));
    c.bench_function(&format!("union-fast-path/{name}"), |b| {
        b.iter(|| black_box(ahead.union(&base)))
    });
    let mut left = base.clone();
    let mut right = base.clone();
    left.add_rules_bulk((0..100).map(|i| rule("a", i, i)));
    right.add_rules_bulk((0..100).map(|i| rule("b", i, i)));
    c.bench_function(&format!("union-deep-merge/{name}"), |b| {
        b.iter(|| black_box(left.union(&right)))
    });
}

fn all(c: &mut Criterion) {
    variant::<MutexEnvironment>(c, "mutex");
    variant::<RwLockEnvironment>(c, "rwlock");
    variant::<Environment>(c, "cow");
    #[cfg(feature = "pathmap")]
    variant::<Environment<cow_env::PathMapTrie>>(c, "cow-pathmap");
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = all
}
criterion_main!(benches);
