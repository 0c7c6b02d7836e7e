//! Property tests: the parallel engine agrees with the sequential one (value or first
//! error) on generated multi-module programs, and no input makes the engine panic.

use proptest::prelude::*;

use crate::eval_both;
use config_eval::{Config, Engine};

#[derive(Debug, Clone)]
enum E {
    Lit(i64),
    Ref(usize),
    Bin(&'static str, Box<E>, Box<E>),
    If(Box<E>, Box<E>, Box<E>),
    LetIn(Box<E>, Box<E>),
    Apply(Box<E>, Box<E>),
    Opt(Box<E>),
    Rec(Box<E>, Box<E>),
}

fn expr() -> impl Strategy<Value = E> {
    let leaf = prop_oneof![
        (-20i64..100).prop_map(E::Lit),
        (0usize..1000).prop_map(E::Ref)
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec!["+", "-", "*", "/", "%"]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| E::Bin(op, Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(c, t, f)| E::If(
                Box::new(c),
                Box::new(t),
                Box::new(f)
            )),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| E::LetIn(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| E::Apply(Box::new(a), Box::new(b))),
            inner.clone().prop_map(|a| E::Opt(Box::new(a))),
            (inner.clone(), inner).prop_map(|(a, b)| E::Rec(Box::new(a), Box::new(b))),
        ]
    })
}

/// Renders an expression; `refs` are the names it may read.
fn render(e: &E, refs: &[String], depth: usize) -> String {
    match e {
        E::Lit(n) if *n < 0 => format!("(0 - {})", -n),
        E::Lit(n) => n.to_string(),
        E::Ref(i) => {
            if refs.is_empty() {
                "1".into()
            } else {
                refs[i % refs.len()].clone()
            }
        }
        E::Bin(op, a, b) => format!("({} {op} {})", render(a, refs, depth), render(b, refs, depth)),
        E::If(c, t, f) => format!(
            "(if {} > 10 then {} else {})",
            render(c, refs, depth),
            render(t, refs, depth),
            render(f, refs, depth)
        ),
        E::LetIn(a, b) => {
            let name = format!("v{depth}");
            let mut inner = refs.to_vec();
            inner.push(name.clone());
            format!("(let {name} = {} in {})", render(a, refs, depth), render(b, &inner, depth + 1))
        }
        E::Apply(a, b) => format!("((\\y{depth} -> y{depth} + {}) {})", render(a, refs, depth), render(b, refs, depth)),
        E::Opt(a) => format!(
            "(match (if {} % 2 == 0 then Some(1) else None) {{ Some(q) if q > 0 => q, Some(_) => 2, None => 3 }})",
            render(a, refs, depth)
        ),
        E::Rec(a, b) => format!("({{ f = {}, g = {} }}.g)", render(a, refs, depth), render(b, refs, depth)),
    }
}

fn program(modules: &[Vec<E>]) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut exported: Vec<String> = Vec::new();
    for (mi, decls) in modules.iter().enumerate() {
        let name = if mi + 1 == modules.len() {
            "main".to_owned()
        } else {
            format!("m{mi}")
        };
        let mut src = String::from("type Option 'T = Some('T) | None;\n");
        for prev in 0..mi {
            src.push_str(&format!("import m{prev};\n"));
        }
        let mut refs = exported.clone();
        for (di, e) in decls.iter().enumerate() {
            src.push_str(&format!("let d{di} = {};\n", render(e, &refs, 0)));
            refs.push(format!("d{di}"));
        }
        exported.extend((0..decls.len()).map(|di| format!("{name}.d{di}")));
        files.push((format!("{name}.lig"), src));
    }
    files
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn parallel_agrees_with_sequential(modules in prop::collection::vec(prop::collection::vec(expr(), 1..8), 1..4)) {
        let files = program(&modules);
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        // eval_both asserts the two engines agree, value or error.
        let _ = eval_both(&refs);
    }

    #[test]
    fn arbitrary_input_never_panics(src in "[a-zA-Z0-9 (){}\\[\\];:=.,\\\\+*/%<>!&|'\"_\\n-]{0,200}") {
        let e = Engine::new(Config { max_steps: 100_000, ..Config::default() }).unwrap();
        let _ = e.eval_str(&src);
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(vec![
        "let", "x", "=", "1", ";", "(", ")", "{", "}", "[", "]", "\\", "->", "match", "if", "then",
        "else", "in", "type", "T", "'a", "|", "Some", "where", "import", "export", ",", "+", "==", "\"s\"",
        "=>", "_", ".", ":", "Integer",
    ]), 0..60)) {
        let e = Engine::new(Config { max_steps: 100_000, ..Config::default() }).unwrap();
        let _ = e.eval_str(&tokens.join(" "));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// The canonical printer is a fixed point after one step and keeps the meaning.
    #[test]
    fn formatting_round_trips(modules in prop::collection::vec(expr(), 1..8)) {
        let files = program(&[modules]);
        let src = &files[0].1;
        let once = config_eval::format_source(src).unwrap();
        let twice = config_eval::format_source(&once).unwrap();
        prop_assert_eq!(&once, &twice);
        let e = Engine::new(Config { max_steps: 1_000_000, ..Config::default() }).unwrap();
        // Positions move when the text is reformatted, so errors are compared by kind.
        match (e.eval_str(src), e.eval_str(&once)) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(a), Err(b)) => prop_assert_eq!(std::mem::discriminant(&a), std::mem::discriminant(&b)),
            (a, b) => prop_assert!(false, "{:?} against {:?}", a, b),
        }
    }
}
