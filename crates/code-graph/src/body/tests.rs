//! The body reader against syn, construct by construct.

use crate::{body_coverage, check_body_shortcut};

/// Every body of `src` is read by the body reader, and the facts are syn's.
fn read_as_syn_reads(src: &str) {
    let (read, left) = body_coverage(src);
    assert_eq!(left, 0, "a body was left to syn in:\n{src}");
    assert!(read > 0, "no body read in:\n{src}");
    assert_eq!(check_body_shortcut(src), None, "{src}");
}

/// The body of `src` is left to syn, and the facts (or the error) are syn's.
fn left_to_syn(src: &str) {
    assert_eq!(body_coverage(src), (0, 1), "{src}");
    assert_eq!(check_body_shortcut(src), None, "{src}");
}

#[test]
fn calls_and_receivers_are_read_as_syn_reads_them() {
    read_as_syn_reads(
        "struct P { inner: Q } struct Q;\n\
         impl P {\n\
             fn new() -> P { P { inner: Q } }\n\
             fn run(&self, other: &P, boxed: Box<Q>, items: Vec<Q>) -> usize {\n\
                 let a = self.inner.go();\n\
                 let b: Q = make();\n\
                 b.go(); other.inner.go(); boxed.go();\n\
                 let c = P::new().inner;\n\
                 c.go().again().x.y();\n\
                 let d = (&*self).run(other, boxed, items) as u32 as usize;\n\
                 crate::free(a, ::std::mem::take(&mut 1), <Q as T>::f());\n\
                 (self.f)(1); self.0.go(); self.0.1.go(); f()(); x.0();\n\
                 let e = Q {}; e.go(); let g = e as Q; g.go();\n\
                 v.iter().map(|x| x.go()).collect::<Vec<_>>().len();\n\
                 Vec::<u8>::new(); foo::<u8>(); s[i].go(); t?.go(); u.await.go();\n\
                 -x.go() + !y.go() * z.go() - w.go() / 2 % 3 << 1 >> 2 & 1 | 2 ^ 3;\n\
                 a..b; ..c; d..; ..=e; a == b && c != d || e < f && g >= h;\n\
                 x = y; x += 1; x <<= 2; x >>= 3; &raw const x; &mut y;\n\
                 other.a().b().c().d().e().f().g().h().i().j().k;\n\
                 let deep = &*(&*(&*(&*(&*other)))); deep.inner.go().again();\n\
                 d\n\
             }\n\
         }",
    );
}

#[test]
fn bindings_and_scopes_are_read_as_syn_reads_them() {
    read_as_syn_reads(
        "fn f(p: &Parser, (a, b): (A, B), Wrapper(w): Wrapper) {\n\
             let x = p.clone(); x.go();\n\
             let Some(y) = p.get() else { return };\n\
             y.go();\n\
             if let Some(z) = p.next() && z.ok() { z.go(); } else if let Ok(q) = r { q.go() } else { z.go() }\n\
             while let Some(i) = it.next() { i.go(); }\n\
             for (k, v) in map.iter() { k.go(); v.go(); }\n\
             match p.kind() {\n\
                 Kind::A(inner, ..) if inner.ok() => inner.go(),\n\
                 Kind::B { field, other: Some(o), .. } => { field.go(); o.go() }\n\
                 ref r @ Kind::C | r @ Kind::D => r.go(),\n\
                 [first, rest @ ..] => first.go(),\n\
                 (1..=5, 'a'..='z', -3, true, _) => {}\n\
                 None => {},\n\
                 &mut Some(ref mut m) => m.go(),\n\
             }\n\
             let c = |n: Node, m| n.go() + m.go();\n\
             let d = move || -> u8 { p.go() };\n\
             let e = async move { p.go().await };\n\
             'outer: loop { break 'outer p.go(); }\n\
             'b: { continue 'b; }\n\
             let (s, t): (S, T) = make(); s.go();\n\
             let u: impl Tr + Send = make(); let v: &dyn Tr = make(); let w: Box<dyn Fn() -> u8> = make();\n\
             let q: <T as I>::Out = make(); let r: [u8; 4] = [0; 4]; let s: fn(u8) -> u8 = g;\n\
             unsafe { p.go() }; { p.go() }; x.go()\n\
         }",
    );
}

#[test]
fn macros_and_items_in_bodies_are_read_as_syn_reads_them() {
    read_as_syn_reads(
        "fn f(x: X) {\n\
             println!(\"{} {}\", x.go(), y = z.go());\n\
             assert!(x.ok(), \"msg\"); vec![x.go(); 3]; vec![1, 2,]; format!(\"\");\n\
             matches!(x, Some(_)); write!(f, \"x\")?;\n\
             tokio::select! { _ = x.go() => {}, v = y => v.go() }\n\
             trace!(target: \"t\", \"{}\", x.go());\n\
             m! { x.go() }\n\
             use std::fmt;\n\
             #[derive(Debug)] struct Local { a: u8 }\n\
             impl Local { fn m(&self) -> u8 { self.a.go() } }\n\
             fn nested(n: u8) { n.go() }\n\
             const C: u8 = 1; static S: u8 = 2;\n\
             macro_rules! local { () => {} }\n\
             let inner = { fn deep() {} deep() };\n\
             #[cfg(test)] #[allow(unused)] let y = x.go();\n\
             Local { a: 1 }.m()\n\
         }",
    );
}

#[test]
fn what_the_reader_does_not_cover_is_left_to_syn() {
    for src in [
        "fn f() { #![allow(unused)] g() }",
        "fn f() { const { 1 }; }",
        "fn f() { try { g()? }; }",
        "fn f() { thread_local! { static X: u8 = 1; } }",
        "fn f() { cfg_if::cfg_if! { if #[cfg(x)] { fn g() {} } } }",
        "fn f() { break 'a ::b::c(); }",
        "fn f() { let x = yield 1; }",
        "fn f() { let x: m!() = 1; }",
        "fn f() { a b }",
        "fn f() { let = 1; }",
        "fn f() { x.0u8 }",
        "fn f() { a < b < c }",
        "fn f() { if x {} else }",
        "fn f() { quote! { #x } }",
    ] {
        left_to_syn(src);
    }
}

#[test]
fn deep_bodies_are_left_to_syn_without_overflowing() {
    let deep = format!("fn f() {{ {}x{} }}", "(".repeat(500), ")".repeat(500));
    assert_eq!(body_coverage(&deep), (0, 1));
    let long = format!("fn f() {{ x{} }}", " + x".repeat(50_000));
    // A long flat chain is read without recursion, and a long call chain in
    // linear time and memory (receiver descriptions are capped).
    assert_eq!(body_coverage(&long), (1, 0));
    let calls = format!("fn f() {{ x{} }}", ".f(y.g())".repeat(100_000));
    assert_eq!(body_coverage(&calls), (1, 0));
}

mod generated {
    use crate::{body_coverage, check_body_shortcut};
    use proptest::prelude::*;

    /// Token soup for a function body, its brackets balanced: Rust's punctuation,
    /// keywords and a few names.
    fn body() -> impl Strategy<Value = String> {
        let token = prop::sample::select(vec![
            "x", "y", "self", "S", "f", "m", "a::b", ".", "..", ",", ";", ":", "::", "=", "==",
            "=>", "+", "-", "*", "&", "|", "||", "!", "?", "<", ">", "#", "'a", "1", "1.0",
            "\"s\"", "let", "if", "else", "match", "for", "in", "while", "loop", "return", "break",
            "move", "as", "fn", "struct", "use", "mut", "ref", "_", "m!", "Some", "async", "await",
            "unsafe", "const",
        ])
        .prop_map(str::to_owned);
        token.prop_recursive(4, 48, 8, |inner| {
            (
                prop::sample::select(vec![("(", ")"), ("[", "]"), ("{", "}")]),
                prop::collection::vec(inner, 0..8),
            )
                .prop_map(|((open, close), parts)| format!("{open} {} {close}", parts.join(" ")))
        })
    }

    fn soup() -> impl Strategy<Value = String> {
        prop::collection::vec(body(), 0..12).prop_map(|parts| parts.join(" "))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// On any token soup the reader either reads a body as syn does or leaves it to
        /// syn, and never panics: the facts and parse errors are the same either way.
        #[test]
        fn token_soup_reads_as_syn_reads_it(inner in soup()) {
            let src = format!("fn g() {{ {inner} }}\nfn h() {{ g() }}\n");
            let _ = body_coverage(&src);
            prop_assert_eq!(check_body_shortcut(&src), None, "{}", src);
        }
    }
}
