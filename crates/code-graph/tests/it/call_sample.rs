//! The hand-checked call sample of `docs/code-graph-call-sample.md`, pinned: for 20
//! functions of each of syn, serde, rayon and regex-syntax (the first 20 functions or
//! methods of the library under `src/` in node-ID order whose body has a parenthesis,
//! as `examples/call_sample.rs` lists them), the `calls` edges must be exactly the
//! ones a reader found right. An edge more is a false edge (or a new find to check by
//! hand and add here); an edge fewer is lost recall. The calls the graph misses are
//! listed with why, so recall can be computed: found / (found + missed).

use std::path::PathBuf;

use code_graph::{build, BuildOptions, EdgeKind, NodeKind};

/// One sample function, as checked by reading it.
struct Checked {
    /// The function's node path.
    function: &'static str,
    /// Its file and line (the sample is pinned to these sources).
    at: &'static str,
    /// The node paths of its real in-crate callees that the graph links (to the trait's
    /// declaration for a call through a trait bound or a trait-provided method).
    found: &'static [&'static str],
    /// Its real in-crate calls that the graph does not link, and why.
    missed: &'static [&'static str],
}

/// The crate's directory in the local cargo registry, by exact name and version.
fn registry_dir(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("neither CARGO_HOME nor HOME is set");
    let src = home.join("registry/src");
    let mut found = Vec::new();
    for index in std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
        .flatten()
    {
        let dir = index.path().join(name);
        if dir.join("Cargo.toml").is_file() {
            found.push(dir);
        }
    }
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("{name}: not in the local cargo registry (it is a dependency of this workspace; run `cargo fetch`)")
    })
}

/// Checks one crate's sample; returns (found, missed).
fn check(dir_name: &str, sample: &[Checked]) -> (usize, usize) {
    let dir = registry_dir(dir_name);
    let g = build(&dir, &BuildOptions::parallel(2)).unwrap();
    assert_eq!(sample.len(), 20, "{dir_name}: a sample is 20 functions");
    let (mut found, mut missed) = (0, 0);
    for c in sample {
        let node = g
            .find(NodeKind::Method, c.function)
            .or_else(|| g.find(NodeKind::Function, c.function))
            .unwrap_or_else(|| panic!("{dir_name}: no function {}", c.function));
        let at = format!("{}:{}", node.file.as_deref().unwrap_or_default(), node.line);
        assert_eq!(at, c.at, "{dir_name}: {}", c.function);
        let mut callees: Vec<&str> = g
            .targets(node.id, EdgeKind::Calls)
            .into_iter()
            .map(|t| g.node(t).map_or("?", |n| n.path.as_str()))
            .collect();
        callees.sort_unstable();
        callees.dedup();
        let mut expected = c.found.to_vec();
        expected.sort_unstable();
        assert_eq!(
            callees, expected,
            "{dir_name}: the calls of {} are not the hand-checked ones",
            c.function
        );
        found += c.found.len();
        missed += c.missed.len();
    }
    let recall = found as f64 / (found + missed) as f64;
    eprintln!(
        "{dir_name}: recall {found}/{} = {recall:.2}, precision 100%",
        found + missed
    );
    (found, missed)
}

fn recall((found, missed): (usize, usize)) -> f64 {
    found as f64 / (found + missed) as f64
}

#[test]
fn call_sample_regex_syntax() {
    assert!(recall(check("regex-syntax-0.8.12", REGEX_SYNTAX)) >= 0.8);
}

#[test]
fn call_sample_syn() {
    assert!(recall(check("syn-2.0.119", SYN)) >= 0.8);
}

#[test]
fn call_sample_rayon() {
    assert!(recall(check("rayon-1.12.0", RAYON)) >= 0.8);
}

#[test]
fn call_sample_serde() {
    // Three of serde's 13 calls go to `de::Error`, a trait declared by a one-arm
    // `macro_rules!` whose metavariables are used only in a repetition.
    assert!(recall(check("serde-1.0.229", SERDE)) >= 0.8);
}

const REGEX_SYNTAX: &[Checked] = &[
    Checked {
        function: "regex_syntax::hir::translate::impl HirFrame::unwrap_repetition",
        at: "src/hir/translate.rs:289",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::ast::print::impl Printer::new",
        at: "src/ast/print.rs:54",
        found: &[
            "regex_syntax::ast::print::impl PrinterBuilder::build",
            "regex_syntax::ast::print::impl PrinterBuilder::new",
        ],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::translate::tests::class_perl_word_disabled",
        at: "src/hir/translate.rs:2406",
        found: &[
            "regex_syntax::ast::impl Position::new",
            "regex_syntax::ast::impl Span::new",
            "regex_syntax::hir::translate::tests::t_err",
        ],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::impl ClassUnicode::difference",
        at: "src/hir/mod.rs:1148",
        found: &["regex_syntax::hir::interval::impl IntervalSet<I>::difference"],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::translate::tests::hir_ascii_uclass",
        at: "src/hir/translate.rs:1494",
        found: &[
            "regex_syntax::hir::impl ClassUnicode::new",
            "regex_syntax::hir::impl ClassUnicodeRange::new",
            "regex_syntax::hir::impl Hir::class",
            "regex_syntax::hir::translate::ascii_class_as_chars",
        ],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::is_escapeable_character",
        at: "src/lib.rs:305",
        found: &["regex_syntax::is_meta_character"],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::literal::impl Literal::reverse",
        at: "src/hir/literal.rs:2105",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::ast::parse::impl ParserI<'s, P>::offset",
        at: "src/ast/parse.rs:419",
        found: &["regex_syntax::ast::parse::impl ParserI<'s, P>::parser"],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::ast::parse::impl ParserI<'s, P>::parse_flag",
        at: "src/ast/parse.rs:1414",
        found: &[
            "regex_syntax::ast::parse::impl ParserI<'s, P>::char",
            "regex_syntax::ast::parse::impl ParserI<'s, P>::error",
            "regex_syntax::ast::parse::impl ParserI<'s, P>::span_char",
        ],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::translate::tests::literal_case_insensitive",
        at: "src/hir/translate.rs:1665",
        found: &[
            "regex_syntax::hir::translate::tests::hir_bclass",
            "regex_syntax::hir::translate::tests::hir_blit",
            "regex_syntax::hir::translate::tests::hir_cat",
            "regex_syntax::hir::translate::tests::hir_lit",
            "regex_syntax::hir::translate::tests::hir_uclass",
            "regex_syntax::hir::translate::tests::t",
            "regex_syntax::hir::translate::tests::t_bytes",
        ],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::print::impl Visitor for Writer<W>::visit_post",
        at: "src/hir/print.rs:256",
        found: &["regex_syntax::hir::impl Hir::kind"],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::ast::parse::impl Parser::reset",
        at: "src/ast/parse.rs:380",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::unicode::sb::imp",
        at: "src/unicode.rs:868",
        found: &["regex_syntax::unicode::property_set"],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::tests::bdifference",
        at: "src/hir/mod.rs:3173",
        found: &["regex_syntax::hir::impl ClassBytes::difference"],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::interval::Interval::union",
        at: "src/hir/interval.rs:457",
        found: &[
            "regex_syntax::hir::interval::Interval::create",
            "regex_syntax::hir::interval::Interval::is_contiguous",
            "regex_syntax::hir::interval::Interval::lower",
            "regex_syntax::hir::interval::Interval::upper",
        ],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::impl Iterator for ClassBytesIter<'a>::next",
        at: "src/hir/mod.rs:1509",
        found: &["regex_syntax::hir::interval::impl Iterator for IntervalSetIter<'a, I>::next"],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::impl ClassUnicode::minimum_len",
        at: "src/hir/mod.rs:1175",
        found: &["regex_syntax::hir::impl ClassUnicode::ranges"],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::visitor::Visitor::visit_alternation_in",
        at: "src/hir/visitor.rs:41",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::hir::translate::tests::hir_uclass",
        at: "src/hir/translate.rs:1507",
        found: &[
            "regex_syntax::hir::impl Hir::class",
            "regex_syntax::hir::translate::tests::uclass",
        ],
        missed: &[],
    },
    Checked {
        function: "regex_syntax::ast::parse::impl ParserI<'s, P>::bump_if",
        at: "src/ast/parse.rs:516",
        found: &[
            "regex_syntax::ast::parse::impl ParserI<'s, P>::bump",
            "regex_syntax::ast::parse::impl ParserI<'s, P>::offset",
            "regex_syntax::ast::parse::impl ParserI<'s, P>::pattern",
        ],
        missed: &[],
    },
];

const SYN: &[Checked] = &[
    Checked {
        function: "syn::gen::visit::visit_static_mutability",
        at: "src/gen/visit.rs:3346",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "syn::punctuated::impl Punctuated<T, P>::clear",
        at: "src/punctuated.rs:281",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "syn::gen::fold::Fold::fold_expr_path",
        at: "src/gen/fold.rs:278",
        found: &[
            "syn::gen::fold::fold_expr_path",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::lit::value::impl Lit::span",
        at: "src/lit.rs:1265",
        found: &[
            "syn::lit::impl LitByte::span",
            "syn::lit::impl LitByteStr::span",
            "syn::lit::impl LitCStr::span",
            "syn::lit::impl LitChar::span",
            "syn::lit::impl LitFloat::span",
            "syn::lit::impl LitInt::span",
            "syn::lit::impl LitStr::span",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::gen::visit::visit_path_arguments",
        at: "src/gen/visit.rs:3173",
        found: &[
            "syn::gen::visit::Visit::visit_angle_bracketed_generic_arguments",
            "syn::gen::visit::Visit::visit_parenthesized_generic_arguments",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::gen::visit_mut::visit_type_slice_mut",
        at: "src/gen/visit_mut.rs:3559",
        found: &[
            "syn::gen::visit_mut::VisitMut::visit_type_mut",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::gen::visit::Visit::visit_type_param",
        at: "src/gen/visit.rs:837",
        found: &[
            "syn::gen::visit::visit_type_param",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::gen::clone::impl Clone for crate::TraitBound::clone",
        at: "src/gen/clone.rs:1830",
        found: &[
            "syn::gen::clone::impl Clone for crate::Path::clone",
            "syn::gen::clone::impl Clone for crate::TraitBoundModifier::clone",
        ],
        missed: &[
            "self.paren_token.clone(): the Clone of token::Paren, written by define_delimiters!, a macro with metavariables",
        ],
    },
    Checked {
        function: "syn::gen::debug::impl crate::ExprForLoop::debug",
        at: "src/gen/debug.rs:739",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "syn::file::parsing::impl Parse for File::parse",
        at: "src/file.rs:98",
        found: &[
            "syn::parse::impl ParseBuffer<'a>::call",
            "syn::parse::impl ParseBuffer<'a>::is_empty",
            "syn::parse::impl ParseBuffer<'a>::parse",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::gen::debug::impl Debug for crate::Meta::fmt",
        at: "src/gen/debug.rs:2102",
        found: &[
            "syn::gen::debug::impl crate::MetaList::debug",
            "syn::gen::debug::impl crate::MetaNameValue::debug",
            "syn::gen::debug::impl crate::Path::debug",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::gen::visit::Visit::visit_stmt_macro",
        at: "src/gen/visit.rs:756",
        found: &[
            "syn::gen::visit::visit_stmt_macro",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::gen::fold::fold_ident",
        at: "src/gen/fold.rs:2238",
        found: &[
            "syn::gen::fold::Fold::fold_span",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::attr::impl FilterAttrs<'a> for &'a[Attribute]::outer::is_outer",
        at: "src/attr.rs:611",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "syn::path::parsing::impl Path::is_mod_style",
        at: "src/path.rs:638",
        found: &[
            "syn::punctuated::impl Punctuated<T, P>::iter",
        ],
        missed: &[
            "segment.arguments.is_none(): PathArguments::is_none, on a closure parameter of unknown type",
        ],
    },
    Checked {
        function: "syn::gen::debug::impl crate::ItemEnum::debug",
        at: "src/gen/debug.rs:1670",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "syn::gen::fold::Fold::fold_lit_byte_str",
        at: "src/gen/fold.rs:598",
        found: &[
            "syn::gen::fold::fold_lit_byte_str",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::gen::hash::impl Hash for crate::StmtMacro::hash",
        at: "src/gen/hash.rs:2304",
        found: &[
            "syn::gen::hash::impl Hash for crate::Macro::hash",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::gen::visit_mut::VisitMut::visit_expr_repeat_mut",
        at: "src/gen/visit_mut.rs:294",
        found: &[
            "syn::gen::visit_mut::visit_expr_repeat_mut",
        ],
        missed: &[],
    },
    Checked {
        function: "syn::gen::fold::fold_expr_loop",
        at: "src/gen/fold.rs:1708",
        found: &[
            "syn::gen::fold::Fold::fold_attributes",
            "syn::gen::fold::Fold::fold_block",
            "syn::gen::fold::Fold::fold_label",
        ],
        missed: &[],
    },
];

const RAYON: &[Checked] = &[
    Checked {
        function: "rayon::iter::test::check_chunks_empty",
        at: "src/iter/test.rs:2101",
        found: &[
            "rayon::iter::IndexedParallelIterator::chunks",
            "rayon::iter::IntoParallelIterator::into_par_iter",
            "rayon::iter::ParallelIterator::collect",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::try_fold::impl Consumer<T> for TryFoldWithConsumer<'r, C, U, F>::into_folder",
        at: "src/iter/try_fold.rs:252",
        found: &[
            "rayon::iter::plumbing::Consumer::into_folder",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::sum::impl Folder<T> for SumFolder<S>::consume",
        at: "src/iter/sum.rs:88",
        found: &[
            "rayon::iter::sum::add",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::slice::ParallelSliceMut::par_sort_unstable",
        at: "src/slice/mod.rs:631",
        found: &[
            "rayon::slice::ParallelSliceMut::as_parallel_slice_mut",
            "rayon::slice::sort::par_quicksort",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::test::check_once",
        at: "src/iter/test.rs:2280",
        found: &[
            "rayon::iter::IndexedParallelIterator::collect_into_vec",
            "rayon::iter::IndexedParallelIterator::zip",
            "rayon::iter::ParallelIterator::collect",
            "rayon::iter::ParallelIterator::filter",
            "rayon::iter::once::once",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::empty::impl Producer for EmptyProducer<T>::split_at",
        at: "src/iter/empty.rs:97",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::flat_map_iter::impl Debug for FlatMapIter<I, F>::fmt",
        at: "src/iter/flat_map_iter.rs:18",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "rayon::collections::vec_deque::impl ParallelDrainRange<usize> for &'a mut VecDeque<T>::par_drain",
        at: "src/collections/vec_deque.rs:104",
        found: &[
            "rayon::math::simplify_range",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::skip_any_while::impl fmt::Debug for SkipAnyWhile<I, P>::fmt",
        at: "src/iter/skip_any_while.rs:19",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::noop::impl Consumer<T> for NoopConsumer::split_at",
        at: "src/iter/noop.rs:10",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::try_fold::impl Consumer<T> for TryFoldWithConsumer<'r, C, U, F>::split_at",
        at: "src/iter/try_fold.rs:236",
        found: &[
            "rayon::iter::plumbing::Consumer::split_at",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::while_some::impl UnindexedConsumer<Option<T>> for WhileSomeConsumer<'f, C>::to_reducer",
        at: "src/iter/while_some.rs:97",
        found: &[
            "rayon::iter::plumbing::UnindexedConsumer::to_reducer",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::slice::windows::impl ParallelIterator for ArrayWindows<'data, T, N>::opt_len",
        at: "src/slice/windows.rs:120",
        found: &[
            "rayon::slice::windows::impl IndexedParallelIterator for ArrayWindows<'_, T, N>::len",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::take::impl IndexedParallelIterator for Take<I>::with_producer::impl ProducerCallback<T> for Callback<CB>::callback",
        at: "src/iter/take.rs:75",
        found: &[
            "rayon::iter::plumbing::Producer::split_at",
            "rayon::iter::plumbing::ProducerCallback::callback",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::slice::chunk_by::ChunkBySlice::chunk_by",
        at: "src/slice/chunk_by.rs:8",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::map::impl Producer for MapProducer<'f, P, F>::split_at",
        at: "src/iter/map.rs:134",
        found: &[
            "rayon::iter::plumbing::Producer::split_at",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::chain::impl IndexedParallelIterator for Chain<A, B>::drive",
        at: "src/iter/chain.rs:62",
        found: &[
            "rayon::iter::IndexedParallelIterator::drive",
            "rayon::iter::IndexedParallelIterator::len",
            "rayon::iter::plumbing::Consumer::split_at",
        ],
        missed: &[
            "reducer.reduce(a, b): Reducer::reduce, on a tuple element of a trait method's result",
        ],
    },
    Checked {
        function: "rayon::iter::test::check_partial_cmp_gt_to_seq",
        at: "src/iter/test.rs:617",
        found: &[
            "rayon::iter::IntoParallelIterator::into_par_iter",
        ],
        missed: &[
            "partial_cmp: IndexedParallelIterator::partial_cmp, on the associated type Self::Iter of into_par_iter()",
        ],
    },
    Checked {
        function: "rayon::collections::vec_deque::impl IntoParallelIterator for VecDeque<T>::into_par_iter",
        at: "src/collections/vec_deque.rs:25",
        found: &[
            "rayon::iter::IntoParallelIterator::into_par_iter",
        ],
        missed: &[],
    },
    Checked {
        function: "rayon::iter::blocks::impl ParallelIterator for UniformBlocks<I>::drive_unindexed",
        at: "src/iter/blocks.rs:118",
        found: &[
            "rayon::iter::IndexedParallelIterator::len",
            "rayon::iter::IndexedParallelIterator::with_producer",
        ],
        missed: &[],
    },
];

const SERDE: &[Checked] = &[
    Checked {
        function: "serde::private::ser::content::impl ser::SerializeMap for SerializeMap<E>::serialize_value",
        at: "src/private/ser.rs:909",
        found: &[
            "serde::private::ser::content::impl ContentSerializer<E>::new",
            "serde::ser::Serialize::serialize",
        ],
        missed: &[],
    },
    Checked {
        function: "serde::de::impls::impl Visitor<'de> for PhantomDataVisitor<T>::visit_unit",
        at: "src/core/de/impls.rs:953",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "serde::de::value::impl IntoDeserializer<'de, E> for &'a[u8]::into_deserializer",
        at: "src/core/de/value.rs:895",
        found: &[
            "serde::de::value::impl BytesDeserializer<'a, E>::new",
        ],
        missed: &[],
    },
    Checked {
        function: "serde::de::impls::impl Deserialize<'de> for Result<T, E>::deserialize::impl Deserialize<'de> for Field::deserialize::impl Visitor<'de> for FieldVisitor::visit_str",
        at: "src/core/de/impls.rs:3026",
        found: &["serde::de::Error::unknown_variant"],
        missed: &[],
    },
    Checked {
        function: "serde::private::ser::content::impl Serializer for ContentSerializer<E>::serialize_i64",
        at: "src/private/ser.rs:594",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "serde::de::impls::impl Visitor<'a> for BytesVisitor::visit_borrowed_bytes",
        at: "src/core/de/impls.rs:750",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "serde::de::impls::impl Deserialize<'de> for Result<T, E>::deserialize::impl Visitor<'de> for ResultVisitor<T, E>::visit_enum",
        at: "src/core/de/impls.rs:3071",
        found: &[
            "serde::de::EnumAccess::variant",
            "serde::de::VariantAccess::newtype_variant",
        ],
        missed: &[],
    },
    Checked {
        function: "serde::de::value::private::impl de::VariantAccess<'de> for UnitOnly<E>::struct_variant",
        at: "src/core/de/value.rs:1781",
        found: &["serde::de::Error::invalid_type"],
        missed: &[],
    },
    Checked {
        function: "serde::private::ser::impl Serializer for TaggedSerializer<S>::serialize_struct_variant",
        at: "src/private/ser.rs:299",
        found: &[
            "serde::private::ser::impl TaggedSerializer<S>::bad_type",
        ],
        missed: &[],
    },
    Checked {
        function: "serde::de::impls::impl Deserialize<'de> for ()::deserialize",
        at: "src/core/de/impls.rs:32",
        found: &[
            "serde::de::Deserializer::deserialize_unit",
        ],
        missed: &[],
    },
    Checked {
        function: "serde::private::ser::content::impl ser::SerializeMap for SerializeMap<E>::serialize_entry",
        at: "src/private/ser.rs:926",
        found: &[
            "serde::private::ser::content::impl ContentSerializer<E>::new",
            "serde::ser::Serialize::serialize",
        ],
        missed: &[],
    },
    Checked {
        function: "serde::de::impls::impl Deserialize<'de> for RangeTo<Idx>::deserialize",
        at: "src/core/de/impls.rs:2745",
        found: &[
            "serde::de::Deserializer::deserialize_struct",
        ],
        missed: &[],
    },
    Checked {
        function: "serde::de::ignored_any::impl Visitor<'de> for IgnoredAny::expecting",
        at: "src/core/de/ignored_any.rs:116",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "serde::de::impls::impl Visitor<'de> for ArrayVisitor<[T; 0]>::visit_seq",
        at: "src/core/de/impls.rs:1249",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "serde::private::ser::content::impl ser::SerializeStruct for SerializeStruct<E>::end",
        at: "src/private/ser.rs:961",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "serde::private::ser::impl Serializer for FlatMapSerializer<'a, M>::serialize_struct",
        at: "src/private/ser.rs:1174",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "serde::private::de::content::impl MapRefDeserializer<'a, 'de, E>::end",
        at: "src/private/de.rs:2568",
        found: &["serde::de::Error::invalid_length"],
        missed: &[],
    },
    Checked {
        function: "serde::de::impl fmt::Display for Unexpected<'a>::fmt",
        at: "src/core/de/mod.rs:402",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "serde::private::de::content::impl Visitor<'de> for ContentVisitor<'de>::visit_unit",
        at: "src/private/de.rs:446",
        found: &[],
        missed: &[],
    },
    Checked {
        function: "serde::de::impls::impl Deserialize<'de> for Duration::deserialize::impl Deserialize<'de> for Field::deserialize::impl Visitor<'de> for FieldVisitor::expecting",
        at: "src/core/de/impls.rs:2153",
        found: &[],
        missed: &[],
    },
];
