//! Method calls resolved on their receiver's type: each way a type is known, and the
//! ways it is not (which must give no edge rather than a wrong one).

use code_graph::{build, BuildOptions, CodeGraph, EdgeKind};

use crate::crate_dir;

/// The paths of the functions `caller` has a `calls` edge to, sorted.
fn callees(g: &CodeGraph, caller: &str) -> Vec<String> {
    let node = g
        .nodes
        .iter()
        .find(|n| n.path == caller)
        .unwrap_or_else(|| panic!("no node {caller}"));
    let mut out: Vec<String> = g
        .targets(node.id, EdgeKind::Calls)
        .into_iter()
        .filter_map(|t| g.node(t))
        .map(|n| n.path.clone())
        .collect();
    out.sort();
    out
}

/// Two types with methods of the same names, so that a call by name alone is
/// ambiguous and only the receiver's type can pick one.
const TYPES: &str = "\
pub struct A { pub inner: B }
pub struct B;
pub struct W<C> { base: C }
pub enum E { One(A), Two { b: B } }
pub type AliasA = A;
pub trait Visit { fn visit(&self) {} fn provided(&self) {} }
pub trait Other { fn visit(&self) {} }
impl A { pub fn new() -> Self { A { inner: B } } pub fn go(&self) {} pub fn to_b(&self) -> B { B } }
impl B { pub fn go(&self) {} pub fn new() -> Self { B } }
impl Visit for A { fn visit(&self) {} }
impl Other for B { fn visit(&self) {} }
impl Visit for B {}
impl<C: Visit> W<C> { pub fn run(&self) { self.base.visit(); } }
";

#[test]
fn receivers_typed_by_declarations() {
    let src = format!(
        "{TYPES}
pub fn param(a: &A, b: Box<B>) {{ a.go(); b.go(); }}
pub fn lets() {{ let a = A::new(); a.go(); let b: B = make(); b.go(); let c = B {{}}; c.go(); }}
fn make() -> B {{ B }}
pub fn field(a: A) {{ a.inner.go(); }}
pub fn chained(a: A) {{ a.to_b().go(); A::new().to_b().go(); }}
pub fn bound<T: Visit>(t: T) {{ t.visit(); }}
pub fn bound_where<T>(t: &T) where T: Other {{ t.visit(); }}
pub fn provided(b: B) {{ b.provided(); }}
pub fn pattern(e: E) {{ match e {{ E::One(a) => a.go(), E::Two {{ b }} => b.go() }} }}
pub fn alias(a: AliasA) {{ a.go(); }}
pub fn cloned(a: &A) {{ let c = a.clone(); c.go(); }}
pub fn shadowed(a: A) {{ let f = |a| {{ a.go(); }}; f(1); for a in 0..1 {{ a.go(); }} }}
pub fn tuple(a: A, b: B) {{ let (x, y) = (a, b); x.go(); y.go(); }}
pub fn two_visits() {{ unknown().visit(); }}
fn unknown() -> u8 {{ 0 }}
pub struct Outer<C> {{ base: C }}
impl Outer<A> {{ pub fn run(&self) {{ self.base.go(); }} }}
pub trait Super {{ fn sup(&self) {{}} }}
pub trait Sub: Super {{ fn sub(&self) {{ self.sup(); }} }}
pub trait Sup2 {{ fn sup(&self) {{}} }}
pub fn through_super<T: Sub>(t: T) {{ t.sup(); }}
"
    );
    let dir = crate_dir("ty", &[("src/lib.rs", &src)]);
    let g = build(dir.path(), &BuildOptions::sequential()).unwrap();
    let a_go = "ty::impl A::go".to_owned();
    let b_go = "ty::impl B::go".to_owned();
    assert_eq!(callees(&g, "ty::param"), [a_go.clone(), b_go.clone()]);
    assert_eq!(
        callees(&g, "ty::lets"),
        [
            a_go.clone(),
            "ty::impl A::new".into(),
            b_go.clone(),
            "ty::make".into()
        ]
    );
    assert_eq!(callees(&g, "ty::field"), ["ty::impl B::go"]);
    assert_eq!(
        callees(&g, "ty::chained"),
        [
            "ty::impl A::new".to_owned(),
            "ty::impl A::to_b".into(),
            b_go.clone()
        ]
    );
    assert_eq!(callees(&g, "ty::bound"), ["ty::Visit::visit"]);
    assert_eq!(callees(&g, "ty::bound_where"), ["ty::Other::visit"]);
    assert_eq!(callees(&g, "ty::provided"), ["ty::Visit::provided"]);
    assert_eq!(callees(&g, "ty::pattern"), [a_go.clone(), b_go.clone()]);
    assert_eq!(callees(&g, "ty::alias"), ["ty::impl A::go"]);
    assert_eq!(callees(&g, "ty::cloned"), [a_go]);
    // A struct's generic field, inside the struct's own impl: the impl's bound.
    assert_eq!(callees(&g, "ty::impl W<C>::run"), ["ty::Visit::visit"]);

    // What is not known gives no typed edge. `a` rebound by a closure parameter and a
    // `for` pattern is of unknown type, and `go` by name alone is one of two methods.
    assert_eq!(callees(&g, "ty::shadowed"), Vec::<String>::new());
    assert_eq!(callees(&g, "ty::tuple"), Vec::<String>::new());
    // `u8` has no `visit` in the crate: by name, `visit` is one of two declared.
    assert_eq!(callees(&g, "ty::two_visits"), ["ty::unknown"]);
    // `base: C` where the impl names no parameter `C`: unknown, not guessed.
    assert_eq!(callees(&g, "ty::impl Outer<A>::run"), Vec::<String>::new());
    // A supertrait's method, on a bound generic and on `self` in a default method
    // (`sup` by name alone is one of two).
    assert_eq!(callees(&g, "ty::through_super"), ["ty::Super::sup"]);
    assert_eq!(callees(&g, "ty::Sub::sub"), ["ty::Super::sup"]);
    // Those six sites are ambiguous, and counted so.
    assert_eq!(g.metrics.calls_ambiguous, 6, "{:?}", g.metrics);
}

#[test]
fn typed_calls_are_the_same_for_every_thread_count() {
    let src = format!("{TYPES}\npub fn param(a: &A) {{ a.go(); a.inner.go(); }}\n");
    let dir = crate_dir("ty", &[("src/lib.rs", &src)]);
    let seq = code_graph::to_json(&build(dir.path(), &BuildOptions::sequential()).unwrap());
    for threads in [1, 2, 8] {
        let par =
            code_graph::to_json(&build(dir.path(), &BuildOptions::parallel(threads)).unwrap());
        assert_eq!(
            seq.as_ref().unwrap(),
            par.as_ref().unwrap(),
            "{threads} threads"
        );
    }
}

#[test]
fn names_through_globs_that_share_a_path() {
    // rayon's shapes: a function re-exported from a module of the same name
    // (`pub use self::once::{once, ..}`), and two globs whose paths share a prefix
    // (`crate::iter::plumbing::*`, then `crate::iter::*`).
    let dir = crate_dir(
        "gl",
        &[
            (
                "src/lib.rs",
                "pub mod iter;\npub fn user() { iter::once(); }\n",
            ),
            (
                "src/iter/mod.rs",
                "mod once;\npub mod plumbing;\npub mod other;\n\
                 pub use self::once::once;\npub trait Par { fn par(&self) {} }\n\
                 mod test { use super::*; fn t() { once(); } }\n",
            ),
            ("src/iter/once.rs", "pub fn once() {}\n"),
            ("src/iter/plumbing.rs", "pub fn plumb() {}\n"),
            (
                "src/iter/other.rs",
                "use crate::iter::plumbing::*;\nuse crate::iter::*;\n\
                 pub fn o() { plumb(); once(); }\n",
            ),
        ],
    );
    let g = build(dir.path(), &BuildOptions::sequential()).unwrap();
    assert_eq!(callees(&g, "gl::user"), ["gl::iter::once::once"]);
    assert_eq!(callees(&g, "gl::iter::test::t"), ["gl::iter::once::once"]);
    assert_eq!(
        callees(&g, "gl::iter::other::o"),
        ["gl::iter::once::once", "gl::iter::plumbing::plumb"]
    );
}

#[test]
fn typing_is_bounded_on_cycles_and_long_chains() {
    // Type aliases that name each other, a struct whose field is itself, a function
    // returning its own caller's type through an alias cycle, and a 3,000-call method
    // chain: typing stops (fuel and depth bounds), every site is still counted.
    let chain = ".next()".repeat(3000);
    let src = format!(
        "pub type A = B;\npub type B = A;\n\
         pub struct N {{ pub next: Box<N> }}\n\
         impl N {{ pub fn next(&self) -> &N {{ &self.next }} pub fn go(&self) {{}} }}\n\
         pub struct M; impl M {{ pub fn go(&self) {{}} }}\n\
         pub fn cyc(a: A) {{ a.go(); }}\n\
         pub fn deep(n: &N) {{ n.next.next.next.next.next.next.next.next.next.next.go(); }}\n\
         pub fn long(n: &N) {{ n{chain}.go(); }}\n"
    );
    let dir = crate_dir("bd", &[("src/lib.rs", &src)]);
    let g = build(dir.path(), &BuildOptions::parallel(2)).unwrap();
    // `a: A` never reaches a type: `go` by name is one of two methods. (`cyc` and
    // `deep` make one call each, `long` 3,001.)
    assert_eq!(callees(&g, "bd::cyc"), Vec::<String>::new());
    // Ten fields deep is past the depth kept: `go` falls back to its name (ambiguous).
    assert_eq!(callees(&g, "bd::deep"), Vec::<String>::new());
    // The long chain's `next` calls are typed from `n: &N` while the description is
    // short enough; the last `go` is past it.
    assert_eq!(callees(&g, "bd::long"), ["bd::impl N::next"]);
    let m = &g.metrics;
    assert_eq!(
        m.calls_resolved + m.calls_ambiguous + m.calls_unresolved,
        1 + 1 + 3001,
        "{m:?}"
    );
}
