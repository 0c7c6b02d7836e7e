//! A bounded stress run: 1,000 programs evaluated concurrently on one shared parallel
//! engine (with its cache), each compared with the sequential reference.

use std::sync::Arc;

use config_eval::{generate, Config, Engine};

use crate::sequential;

#[test]
fn a_thousand_programs_concurrently_match_sequential() {
    let seed: u64 = 0x5eed_0002;
    println!("stress seed {seed:#x}");
    let shared = Arc::new(
        Engine::new(Config {
            parallel: true,
            worker_threads: 2,
            parallel_threshold: 0,
            cache_size: 256,
            ..Config::default()
        })
        .unwrap(),
    );
    let reference = sequential();
    let expected: Vec<_> = (0..1000u64)
        .map(|n| {
            let src = generate::small_program(seed.wrapping_add(n % 400));
            reference.eval_str(&src)
        })
        .collect();
    let expected = Arc::new(expected);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (shared, expected) = (shared.clone(), expected.clone());
            s.spawn(move || {
                for n in (t..1000).step_by(4) {
                    let src = generate::small_program(seed.wrapping_add(n % 400));
                    let got = shared.eval_str(&src);
                    assert_eq!(got, expected[n as usize], "program {n}");
                }
            });
        }
    });
    let stats = shared.stats().cache.total();
    assert!(stats.hits > 0, "{stats:?}");
    assert!(expected.iter().any(|r| r.is_err()) && expected.iter().any(|r| r.is_ok()));
}

#[test]
fn generated_large_config_agrees_across_strategies() {
    let files = generate::large_config(30, 20, 7);
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let v = crate::eval_both(&refs).unwrap();
    assert_eq!(v.to_json().unwrap()["modules"], 30);
}
