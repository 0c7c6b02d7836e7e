//! Parallel evaluation with rayon: branches define rules while they evaluate, and the
//! branches' environments are merged with `union`.

use cow_env::{
    eval_parallel, Environment, Interpreter, MutexEnvironment, RuleEnvironment, RwLockEnvironment,
};

use crate::atom;

fn branches_define_rules_and_merge<E: RuleEnvironment>() {
    let mut env = E::empty();
    env.add_atom(atom("(= (square $x) (* $x $x))"));
    let queries: Vec<_> = (0..16)
        .map(|i| {
            atom(&format!(
                "(let $_ (add-atom &self (= (memo {i}) (square {i}))) (memo {i}))"
            ))
        })
        .collect();
    let (results, merged) = eval_parallel(&env, &queries).unwrap();
    for (i, r) in results.iter().enumerate() {
        let i = i as i64;
        assert_eq!(
            r,
            &vec![cow_env::Atom::Int(i * i)],
            "branch {i} sees its own rule"
        );
    }
    assert_eq!(env.get_rule_count(), 1, "the shared base is untouched");
    assert_eq!(
        merged.get_rule_count(),
        17,
        "base once plus one rule per branch"
    );
    let mut interp = Interpreter::new(merged);
    for i in 0..16 {
        assert_eq!(
            interp.eval(&atom(&format!("(memo {i})"))).unwrap(),
            vec![cow_env::Atom::Int(i * i)]
        );
    }
}

fn parallel_evaluation_matches_sequential<E: RuleEnvironment>() {
    let mut env = E::empty();
    for text in [
        "(= (fib 0) 0)",
        "(= (fib 1) 1)",
        "(= (fib $n) (if (> $n 1) (+ (fib (- $n 1)) (fib (- $n 2))) (empty)))",
    ] {
        env.add_atom(atom(text));
    }
    let queries: Vec<_> = (0..12).map(|i| atom(&format!("(fib {i})"))).collect();
    let (parallel, merged) = eval_parallel(&env, &queries).unwrap();
    let mut interp = Interpreter::new(env.clone());
    for (q, r) in queries.iter().zip(&parallel) {
        assert_eq!(&interp.eval(q).unwrap(), r);
    }
    assert!(
        merged.same_state(&env),
        "read-only branches merge back by the fast path"
    );
}

macro_rules! for_each_variant {
    ($($test:ident),* $(,)?) => {
        mod cow {
            $( #[test] fn $test() { super::$test::<super::Environment>(); } )*
        }
        mod mutex {
            $( #[test] fn $test() { super::$test::<super::MutexEnvironment>(); } )*
        }
        mod rwlock {
            $( #[test] fn $test() { super::$test::<super::RwLockEnvironment>(); } )*
        }
    };
}

for_each_variant!(
    branches_define_rules_and_merge,
    parallel_evaluation_matches_sequential
);
