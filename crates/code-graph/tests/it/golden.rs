//! A golden test: the whole graph of a tiny crate, written out by path, and one pinned
//! ID (IDs must not change between releases of this crate, or stored graphs break).

use code_graph::{build, BuildOptions, CodeGraph};

use crate::crate_dir;

const LIB: &str = "pub mod m;\n\
pub trait T { fn f(&self) -> u8; }\n\
pub struct S { pub a: u8 }\n\
impl T for S { fn f(&self) -> u8 { helper(self.a) } }\n\
fn helper(x: u8) -> u8 { x }\n";

const M: &str = "use crate::S;\npub enum E { V(S) }\npub type Alias = Vec<  E >;\n";

fn render(g: &CodeGraph) -> String {
    let name = |id| {
        let n = g.node(id).unwrap();
        format!("{}:{}", n.kind.as_str(), n.path)
    };
    let mut lines: Vec<String> = g
        .edges
        .iter()
        .map(|e| format!("{} -{}-> {}", name(e.from), e.kind.as_str(), name(e.to)))
        .collect();
    lines.sort();
    lines.join("\n")
}

const EXPECTED: &str = "\
crate:golden -contains-> function:golden::helper
crate:golden -contains-> impl:golden::impl T for S
crate:golden -contains-> module:golden::m
crate:golden -contains-> struct:golden::S
crate:golden -contains-> trait:golden::T
field:golden::S::a -field-of-> struct:golden::S
field:golden::S::a -uses-type-> type:u8
field:golden::m::E::V::0 -field-of-> variant:golden::m::E::V
field:golden::m::E::V::0 -uses-type-> type:S
function:golden::helper -has-param-> type:u8
function:golden::helper -returns-> type:u8
impl:golden::impl T for S -defines-> method:golden::impl T for S::f
impl:golden::impl T for S -impl-for-> type:S
impl:golden::impl T for S -implements-> trait:golden::T
method:golden::T::f -has-param-> type:&Self
method:golden::T::f -returns-> type:u8
method:golden::impl T for S::f -calls-> function:golden::helper
method:golden::impl T for S::f -has-param-> type:&Self
method:golden::impl T for S::f -returns-> type:u8
module:golden::m -contains-> enum:golden::m::E
module:golden::m -contains-> type-alias:golden::m::Alias
module:golden::m -contains-> use:golden::m::S
trait:golden::T -defines-> method:golden::T::f
type-alias:golden::m::Alias -uses-type-> type:Vec<E>
use:golden::m::S -imports-> struct:golden::S
variant:golden::m::E::V -variant-of-> enum:golden::m::E";

#[test]
fn tiny_crate_graph_matches_the_golden_edges() {
    let dir = crate_dir("golden", &[("src/lib.rs", LIB), ("src/m.rs", M)]);
    let g = build(dir.path(), &BuildOptions::parallel(2)).unwrap();
    let got = render(&g);
    assert_eq!(got, EXPECTED, "\n--- got ---\n{got}\n");
    assert!(g.diagnostics.is_empty(), "{:?}", g.diagnostics);
}

#[test]
fn ids_are_pinned() {
    let krate = code_graph::id::crate_id("golden");
    assert_eq!(krate.to_string(), PINNED_CRATE);
    let f = code_graph::id::item_id(krate, code_graph::NodeKind::Function, "helper", 0);
    assert_eq!(f.to_string(), PINNED_FN);
}

const PINNED_CRATE: &str = "d68db3028de6eae2";
const PINNED_FN: &str = "e7ca0c0c0f591e45";
