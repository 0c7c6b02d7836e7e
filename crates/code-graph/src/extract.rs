//! One file's syntax tree turned into plain, thread-safe facts.
//!
//! syn's trees hold `proc_macro2` tokens, which are neither `Send` nor `Sync`, so each
//! worker parses a file and extracts everything the graph needs into [`FileFacts`]
//! before the tree is dropped on the same thread. Facts are module-relative: the module
//! path a file ends up at is known only once the module tree is followed, and one file
//! can even be mounted twice through `#[path]`.

use syn::visit::Visit;

use crate::body::{Ev, PSyn, RSyn};

pub(crate) mod recv;

pub(crate) use recv::MAX_RECV_DEPTH;
use recv::{ty_ref, Generics};
pub(crate) use recv::{Env, FnFact, Recv, TyRef};

use crate::id::NodeId;
use crate::interner::TypeInterner;
use crate::model::{EdgeKind, NodeKind};
use crate::normalize::{normalize_meta, normalize_path, normalize_type, write_type};

/// Everything the graph needs from one file.
#[derive(Debug, Default)]
pub(crate) struct FileFacts {
    /// Inner attributes (`#![...]`), recorded on the file's module node.
    pub(crate) inner_attrs: Vec<String>,
    /// Top-level items in source order.
    pub(crate) items: Vec<ItemFact>,
    /// Item-position macro invocations found anywhere in the file's items.
    pub(crate) macro_invocations: u64,
    /// Items nested in function bodies (they are in `items`, as children of their
    /// function).
    pub(crate) items_in_bodies: u64,
}

/// One item with its children.
#[derive(Debug)]
pub(crate) struct ItemFact {
    pub(crate) kind: NodeKind,
    pub(crate) name: String,
    pub(crate) line: u32,
    pub(crate) attrs: Vec<String>,
    pub(crate) detail: Option<std::borrow::Cow<'static, str>>,
    /// Fields, variants, methods, associated items, or an inline module's items.
    pub(crate) children: Vec<ItemFact>,
    /// Edges to type nodes: has-param, returns, uses-type, impl-for.
    pub(crate) types: Vec<(EdgeKind, NodeId)>,
    /// What only a module, an impl or a use has (boxed: most facts have none, and a
    /// large input has millions of facts).
    pub(crate) extra: Option<Box<Extra>>,
    /// For functions and methods: the callees named in the body, in order.
    pub(crate) calls: Vec<Callee>,
    /// Call sites with no name to resolve (a closure or a field called).
    pub(crate) opaque_calls: u32,
}

/// The part of a fact only some kinds have.
#[derive(Debug)]
pub(crate) enum Extra {
    /// For modules: inline or not, and the `#[path]` value.
    Module(ModFact),
    /// For impls: the self type and trait paths.
    Impl(ImplFact),
    /// For uses: the path named.
    Use(UsePath),
    /// For functions and methods with a return type or generic parameters in scope:
    /// what typing their calls' receivers needs.
    Fn(FnFact),
    /// For fields and type aliases: the type, when it is one typing can use; for traits,
    /// their supertraits (as bounds).
    Typed(TyRef),
    /// For a `macro_rules!` of one arm whose children are its expansion without its
    /// repetitions: an invocation with arguments expands to them too.
    OneArm,
}

impl ItemFact {
    fn new(kind: NodeKind, name: String, line: u32, attrs: Vec<String>) -> Self {
        ItemFact {
            kind,
            name,
            line,
            attrs,
            detail: None,
            children: Vec::new(),
            types: Vec::new(),
            extra: None,
            calls: Vec::new(),
            opaque_calls: 0,
        }
    }

    /// The module part, for modules (and `include!` and `name!()` facts).
    pub(crate) fn module(&self) -> Option<&ModFact> {
        match self.extra.as_deref() {
            Some(Extra::Module(m)) => Some(m),
            _ => None,
        }
    }

    /// The impl part, for impls.
    pub(crate) fn imp(&self) -> Option<&ImplFact> {
        match self.extra.as_deref() {
            Some(Extra::Impl(i)) => Some(i),
            _ => None,
        }
    }

    /// The path of a use.
    pub(crate) fn use_path(&self) -> Option<&UsePath> {
        match self.extra.as_deref() {
            Some(Extra::Use(u)) => Some(u),
            _ => None,
        }
    }

    /// The signature facts of a function or method, if it has any.
    pub(crate) fn fn_fact(&self) -> Option<&FnFact> {
        match self.extra.as_deref() {
            Some(Extra::Fn(f)) => Some(f),
            _ => None,
        }
    }

    /// Whether this `macro_rules!` expands to its children whatever its arguments.
    pub(crate) fn is_one_arm(&self) -> bool {
        matches!(self.extra.as_deref(), Some(Extra::OneArm))
    }

    /// The type of a field or type alias, if typing can use it.
    pub(crate) fn typed(&self) -> Option<&TyRef> {
        match self.extra.as_deref() {
            Some(Extra::Typed(t)) => Some(t),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct ModFact {
    /// `mod a { ... }` (items in `children`) as opposed to `mod a;`.
    pub(crate) inline: bool,
    /// The `#[path = "..."]` value, if any.
    pub(crate) path_attr: Option<String>,
    /// The paths of `#[cfg_attr(pred, path = "...")]`, in source order: every arm is
    /// followed, and the module's attributes say under which `cfg` each applies.
    pub(crate) cfg_paths: Vec<String>,
    /// Not a module at all: an item-position `include!("file.rs")`, whose file's items
    /// belong to the enclosing module (`path_attr` holds the path).
    pub(crate) include: bool,
    /// Not a module at all: `name!()` with no tokens, the invocation of a crate's own
    /// `macro_rules!` whose `()` arm expands to fixed items (serde's `crate_root!()`);
    /// those items belong to the enclosing module.
    pub(crate) invoke: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ImplFact {
    /// The self type as a path (`Foo` for `Foo<T>`), when it is one.
    pub(crate) self_path: Option<Vec<String>>,
    /// The implemented trait's path, without generic arguments.
    pub(crate) trait_path: Option<Vec<String>>,
    /// The type node of the trait path, the fallback target of `implements`.
    pub(crate) trait_type: Option<NodeId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Callee {
    /// `a::b::c(...)`.
    Path(Vec<String>),
    /// `f(...)`: a path of one segment, kept without a vector (most calls are so).
    Name(String),
    /// `self.name(...)`.
    SelfMethod(String),
    /// `value.name(...)` on a receiver nothing is known of: resolved by the method name
    /// alone, when exactly one method of the graph can be meant.
    Method(String),
    /// `value.name(...)` with what is known of the receiver: resolved on the
    /// receiver's type where the resolver can tell it, else by the name alone.
    /// The method name and receiver are one string (see `recv::encode`), since
    /// facts hold millions of calls.
    Typed(Box<str>),
}

#[derive(Debug)]
pub(crate) struct UsePath {
    pub(crate) segments: Vec<String>,
    pub(crate) glob: bool,
}

/// How reading or parsing a file failed.
#[derive(Debug)]
pub(crate) struct ParseFailure {
    pub(crate) line: u32,
    pub(crate) column: u32,
    pub(crate) message: String,
}

/// Files larger than this are parsed in pieces (see [`crate::scan`]).
const PIECES_FROM: usize = 128 << 10;

/// The size of one piece of a large file.
const PIECE: usize = 32 << 10;

/// How many pieces one parse may span when a cut turns out not to fall between items
/// (the piece did not parse alone): it is joined to the next and parsed again.
const MAX_JOINED: usize = 8;

/// The shortcuts a parse takes past `syn::parse_file`; a build takes both. Each is
/// checked to change no fact ([`crate::check_data_skip`],
/// [`crate::check_doc_blanking`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shortcuts {
    /// Brace-free initialisers of top-level consts and statics are stepped over as
    /// tokens (see [`crate::items`]).
    pub(crate) skip_data: bool,
    /// Doc comments are blanked out before tokenising (see [`crate::docs`]).
    pub(crate) blank_docs: bool,
    /// Function bodies the body reader understands are read without syn (see
    /// [`crate::hollow`]).
    pub(crate) hollow_bodies: bool,
}

impl Shortcuts {
    /// What a build does.
    pub(crate) const ALL: Shortcuts = Shortcuts {
        skip_data: true,
        blank_docs: true,
        hollow_bodies: true,
    };
}

/// Parses `source` and extracts its facts.
///
/// A file nested too deeply for the recursive parser is refused before parsing (see
/// [`crate::scan`]); a large file is parsed in pieces cut between its top-level items,
/// so the syntax tree held at once stays small whatever the file's size.
pub(crate) fn extract_file(
    source: &str,
    interner: &dyn TypeInterner,
) -> Result<FileFacts, ParseFailure> {
    extract_file_with(source, interner, Shortcuts::ALL)
}

/// [`extract_file`], choosing which [`Shortcuts`] to take: with none, every file goes
/// through `syn::parse_file` as written.
pub(crate) fn extract_file_with(
    source: &str,
    interner: &dyn TypeInterner,
    shortcuts: Shortcuts,
) -> Result<FileFacts, ParseFailure> {
    // Lines and columns are the same in the blanked text, so every line in the facts
    // and in a parse error is the line in `source`.
    let blanked = if shortcuts.blank_docs {
        crate::docs::blank_docs(source)
    } else {
        None
    };
    let source = blanked.as_deref().unwrap_or(source);
    // Lines and columns outside hollowed bodies are kept too.
    let hollowed = if shortcuts.hollow_bodies {
        crate::hollow::hollow(source)
    } else {
        None
    };
    let (source, bodies) = match &hollowed {
        Some(h) => (h.text.as_str(), Some(&h.bodies)),
        None => (source, None),
    };
    let skip_data = shortcuts.skip_data;
    let piece = if source.len() > PIECES_FROM { PIECE } else { 0 };
    let cuts = crate::scan::scan(source, piece).map_err(|d| ParseFailure {
        line: d.line,
        column: d.column,
        message: format!(
            "nested too deeply to parse safely (nesting cost above {}: about {} delimiters, or an expression of that many operators)",
            crate::scan::MAX_COST,
            crate::scan::MAX_COST / crate::scan::DEPTH_COST
        ),
    })?;
    if cuts.is_empty() {
        return extract_piece(
            source,
            interner,
            skip_data,
            Hollow {
                bodies,
                lines_before: 0,
            },
        );
    }
    let mut bounds = Vec::with_capacity(cuts.len() + 2);
    bounds.push(0);
    bounds.extend(cuts);
    bounds.push(source.len());
    let mut facts = FileFacts::default();
    let mut k = 0;
    let mut lines_before: u32 = 0;
    while k + 1 < bounds.len() {
        let mut end = k + 1;
        loop {
            let text = &source[bounds[k]..bounds[end]];
            let hollow = Hollow {
                bodies,
                lines_before,
            };
            match extract_piece(text, interner, skip_data, hollow) {
                Ok(mut part) => {
                    if lines_before > 0 {
                        shift_lines(&mut part.items, lines_before);
                    }
                    if k == 0 {
                        facts.inner_attrs = part.inner_attrs;
                    }
                    // Appended at once, so each piece's vector is freed before the next
                    // piece is parsed (a vector of pieces joined at the end would hold
                    // every fact twice at its peak, and leave the pieces' blocks behind).
                    facts.items.append(&mut part.items);
                    facts.macro_invocations += part.macro_invocations;
                    facts.items_in_bodies += part.items_in_bodies;
                    lines_before += text.bytes().filter(|b| *b == b'\n').count() as u32;
                    k = end;
                    break;
                }
                Err(_) if end + 1 < bounds.len() && end - k < MAX_JOINED => end += 1,
                Err(mut e) => {
                    e.line += lines_before;
                    return Err(e);
                }
            }
        }
    }
    facts.items.shrink_to_fit();
    Ok(facts)
}

/// Adds `by` to the line of every fact (the facts of a piece that starts further down).
fn shift_lines(items: &mut [ItemFact], by: u32) {
    for it in items {
        if it.line > 0 {
            it.line += by;
        }
        shift_lines(&mut it.children, by);
    }
}

/// The bodies read by the body shortcut, for a piece that starts `lines_before` lines
/// into the file.
#[derive(Clone, Copy)]
struct Hollow<'a> {
    bodies: Option<&'a crate::fasthash::FastMap<(u32, u32), crate::body::Body<'a>>>,
    lines_before: u32,
}

/// Parses one piece of source (a whole file, or a run of its items) and extracts it.
fn extract_piece(
    source: &str,
    interner: &dyn TypeInterner,
    skip_data: bool,
    hollow: Hollow<'_>,
) -> Result<FileFacts, ParseFailure> {
    let result = match crate::items::parse_file(source, skip_data) {
        Ok(file) => {
            let mut x = Extractor {
                interner,
                macros: 0,
                in_bodies: 0,
                buf: std::cell::Cell::new(String::new()),
                generics: Generics::default(),
                hollow,
            };
            let mut items = Vec::new();
            x.items_into(&file.items, &mut items);
            items.shrink_to_fit();
            Ok(FileFacts {
                inner_attrs: attrs(&file.attrs),
                items,
                macro_invocations: x.macros,
                items_in_bodies: x.in_bodies,
            })
        }
        Err(e) => {
            let start = e.span().start();
            Err(ParseFailure {
                line: start.line as u32,
                column: start.column as u32 + 1,
                message: e.to_string(),
            })
        }
    };
    // The tree is gone; every span of this thread can go with it. Without this the
    // thread's source map keeps every file ever parsed on it (memory grows with each
    // build, and span offsets would eventually overflow).
    proc_macro2::extra::invalidate_current_thread_spans();
    result
}

fn attrs(list: &[syn::Attribute]) -> Vec<String> {
    list.iter()
        .filter(|a| !a.path().is_ident("doc"))
        .map(|a| normalize_meta(&a.meta))
        .collect()
}

fn line_of(span: proc_macro2::Span) -> u32 {
    span.start().line as u32
}

fn path_segments(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

/// The `path = "..."` values of `#[cfg_attr(pred, ..., path = "...")]` attributes.
fn cfg_paths(list: &[syn::Attribute]) -> Vec<String> {
    let mut out = Vec::new();
    for a in list.iter().filter(|a| a.path().is_ident("cfg_attr")) {
        let parsed = a.parse_args_with(
            syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
        );
        let Ok(metas) = parsed else { continue };
        // The first element is the predicate; the rest are the attributes it switches.
        for m in metas.iter().skip(1) {
            if let syn::Meta::NameValue(nv) = m {
                if nv.path.is_ident("path") {
                    if let syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) = &nv.value
                    {
                        out.push(s.value());
                    }
                }
            }
        }
    }
    out
}

/// The expansion of a `macro_rules!` arm `() => { ... }`, if the macro has one: with
/// nothing to match, it expands to the same tokens wherever it is invoked. A macro of
/// one arm whose expansion uses its metavariables only inside repetitions (`$( ... )*`)
/// expands, with those repetitions left out, to the same items too: the items of
/// serde's `declare_error_trait!` are its `Error` trait, whatever supertraits are
/// passed in.
fn fixed_expansion(rules: &proc_macro2::TokenStream) -> Option<(proc_macro2::TokenStream, bool)> {
    use proc_macro2::TokenTree;
    let tokens: Vec<TokenTree> = rules.clone().into_iter().collect();
    let mut arms = 0;
    let mut only_body = None;
    let mut i = 0;
    while i + 3 < tokens.len() + 1 {
        let (
            TokenTree::Group(matcher),
            Some(TokenTree::Punct(eq)),
            Some(TokenTree::Punct(gt)),
            Some(TokenTree::Group(body)),
        ) = (
            &tokens[i],
            tokens.get(i + 1),
            tokens.get(i + 2),
            tokens.get(i + 3),
        )
        else {
            return None;
        };
        if eq.as_char() != '=' || gt.as_char() != '>' {
            return None;
        }
        // With no metavariables in the matcher, a `$` in the expansion (a nested
        // `macro_rules!`) is passed through as written: the expansion is fixed.
        if matcher.stream().is_empty() {
            return Some((body.stream(), false));
        }
        arms += 1;
        only_body = Some(body.stream());
        i += 4;
        if matches!(tokens.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ';') {
            i += 1;
        }
    }
    if arms == 1 && i == tokens.len() {
        return only_body
            .and_then(|b| without_repetitions(b, 0))
            .map(|b| (b, true));
    }
    None
}

/// `tokens` with every `$( ... ) sep? op` left out and `$crate` written `crate`;
/// `None` if any other `$` is left (a metavariable the expansion needs).
fn without_repetitions(
    tokens: proc_macro2::TokenStream,
    depth: usize,
) -> Option<proc_macro2::TokenStream> {
    use proc_macro2::{Group, Ident, TokenTree};
    // Bounded like the parser's own recursion: scan.rs refused deeper files already.
    if depth > 256 {
        return None;
    }
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Punct(p) if p.as_char() == '$' => match tokens.get(i + 1) {
                Some(TokenTree::Group(g))
                    if g.delimiter() == proc_macro2::Delimiter::Parenthesis =>
                {
                    i += 2;
                    // An optional separator, then the repetition operator.
                    let is_op = |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if matches!(p.as_char(), '*' | '+' | '?'));
                    if !is_op(tokens.get(i)) {
                        i += 1;
                    }
                    if !is_op(tokens.get(i)) {
                        return None;
                    }
                    i += 1;
                }
                Some(TokenTree::Ident(id)) if id == "crate" => {
                    out.push(TokenTree::Ident(Ident::new("crate", id.span())));
                    i += 2;
                }
                _ => return None,
            },
            TokenTree::Group(g) => {
                let inner = without_repetitions(g.stream(), depth + 1)?;
                let mut ng = Group::new(g.delimiter(), inner);
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
                i += 1;
            }
            t => {
                out.push(t.clone());
                i += 1;
            }
        }
    }
    Some(out.into_iter().collect())
}

/// Parses a token stream as a sequence of items.
fn parse_items(input: syn::parse::ParseStream<'_>) -> syn::Result<Vec<syn::Item>> {
    let mut items = Vec::new();
    while !input.is_empty() {
        items.push(input.parse()?);
    }
    Ok(items)
}

/// Parses a token stream as a sequence of impl items.
fn parse_impl_items(input: syn::parse::ParseStream<'_>) -> syn::Result<Vec<syn::ImplItem>> {
    let mut items = Vec::new();
    while !input.is_empty() {
        items.push(input.parse()?);
    }
    Ok(items)
}

/// One arm of `cfg_if!`: its predicate (`None` for the final `else`) and its tokens.
type CfgArm = (Option<String>, proc_macro2::TokenStream);

/// `if #[cfg(p)] { ... } else if #[cfg(q)] { ... } else { ... }`, the input of
/// `cfg_if!`.
fn parse_cfg_if(input: syn::parse::ParseStream<'_>) -> syn::Result<Vec<CfgArm>> {
    let mut arms = Vec::new();
    loop {
        input.parse::<syn::Token![if]>()?;
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let pred = attrs
            .iter()
            .find(|a| a.path().is_ident("cfg"))
            .and_then(|a| a.meta.require_list().ok())
            .map(|l| crate::normalize::normalize_tokens(l.tokens.clone()));
        let content;
        syn::braced!(content in input);
        arms.push((pred, content.parse()?));
        if input.is_empty() {
            return Ok(arms);
        }
        input.parse::<syn::Token![else]>()?;
        if input.peek(syn::Token![if]) {
            continue;
        }
        let content;
        syn::braced!(content in input);
        arms.push((None, content.parse()?));
        return Ok(arms);
    }
}

fn path_attr(list: &[syn::Attribute]) -> Option<String> {
    list.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

struct Extractor<'a> {
    interner: &'a dyn TypeInterner,
    macros: u64,
    in_bodies: u64,
    /// The text of the type being interned, reused so a lookup that hits allocates
    /// nothing.
    buf: std::cell::Cell<String>,
    /// The generic parameters of the enclosing items.
    generics: Generics,
    /// The bodies read without syn.
    hollow: Hollow<'a>,
}

impl<'a> Extractor<'a> {
    /// What the body reader recorded for `block`, when it was hollowed.
    fn hollowed(&self, block: &syn::Block) -> Option<&'a crate::body::Body<'a>> {
        if !block.stmts.iter().all(|s| matches!(s, syn::Stmt::Item(_))) {
            return None;
        }
        let at = block.brace_token.span.open().start();
        let key = (at.line as u32 + self.hollow.lines_before, at.column as u32);
        self.hollow.bodies?.get(&key)
    }

    fn ty(&self, ty: &syn::Type) -> NodeId {
        let mut text = self.buf.take();
        write_type(ty, &mut text);
        let id = self.interner.intern(&text);
        self.buf.set(text);
        id
    }

    fn item(&mut self, item: &syn::Item) -> Option<ItemFact> {
        use syn::Item;
        let fact = match item {
            Item::Fn(f) => {
                let mut fact = ItemFact::new(
                    NodeKind::Function,
                    f.sig.ident.to_string(),
                    line_of(f.sig.ident.span()),
                    attrs(&f.attrs),
                );
                let mark = self.generics.push(&f.sig.generics);
                self.signature(&f.sig, &mut fact);
                self.fn_fact(&f.sig, &mut fact);
                self.body(Some(&f.sig), &f.block, &mut fact);
                self.generics.truncate(mark);
                fact
            }
            Item::Struct(s) => {
                let mut fact = ItemFact::new(
                    NodeKind::Struct,
                    s.ident.to_string(),
                    line_of(s.ident.span()),
                    attrs(&s.attrs),
                );
                let mark = self.generics.push(&s.generics);
                fact.children = self.fields(&s.fields, fact.line);
                self.generics.truncate(mark);
                fact
            }
            Item::Union(u) => {
                let mut fact = ItemFact::new(
                    NodeKind::Union,
                    u.ident.to_string(),
                    line_of(u.ident.span()),
                    attrs(&u.attrs),
                );
                let mark = self.generics.push(&u.generics);
                fact.children = self.named_fields(&u.fields.named, fact.line);
                self.generics.truncate(mark);
                fact
            }
            Item::Enum(e) => {
                let mut fact = ItemFact::new(
                    NodeKind::Enum,
                    e.ident.to_string(),
                    line_of(e.ident.span()),
                    attrs(&e.attrs),
                );
                let mark = self.generics.push(&e.generics);
                for v in &e.variants {
                    let mut var = ItemFact::new(
                        NodeKind::Variant,
                        v.ident.to_string(),
                        line_of(v.ident.span()),
                        attrs(&v.attrs),
                    );
                    var.children = self.fields(&v.fields, var.line);
                    fact.children.push(var);
                }
                self.generics.truncate(mark);
                fact
            }
            Item::Trait(t) => {
                let mut fact = ItemFact::new(
                    NodeKind::Trait,
                    t.ident.to_string(),
                    line_of(t.ident.span()),
                    attrs(&t.attrs),
                );
                // Supertraits, for methods called on a generic bound by this trait.
                let sup = recv::trait_bounds(t.supertraits.iter());
                if !sup.is_empty() {
                    fact.extra = Some(Box::new(Extra::Typed(TyRef::Bounds(sup))));
                }
                let mark = self.generics.push(&t.generics);
                for ti in &t.items {
                    if let Some(c) = self.trait_item(ti) {
                        fact.children.push(c);
                    }
                }
                self.generics.truncate(mark);
                fact
            }
            Item::TraitAlias(t) => ItemFact::new(
                NodeKind::Trait,
                t.ident.to_string(),
                line_of(t.ident.span()),
                attrs(&t.attrs),
            ),
            Item::Impl(i) => self.impl_block(i),
            Item::Type(t) => {
                let mut fact = ItemFact::new(
                    NodeKind::TypeAlias,
                    t.ident.to_string(),
                    line_of(t.ident.span()),
                    attrs(&t.attrs),
                );
                fact.types.push((EdgeKind::UsesType, self.ty(&t.ty)));
                let mark = self.generics.push(&t.generics);
                self.typed(&t.ty, &mut fact);
                self.generics.truncate(mark);
                fact
            }
            Item::Const(c) => {
                let mut fact = ItemFact::new(
                    NodeKind::Const,
                    c.ident.to_string(),
                    line_of(c.ident.span()),
                    attrs(&c.attrs),
                );
                fact.types.push((EdgeKind::UsesType, self.ty(&c.ty)));
                self.expr_items(&c.expr, &mut fact);
                fact
            }
            Item::Static(s) => {
                let mut fact = ItemFact::new(
                    NodeKind::Static,
                    s.ident.to_string(),
                    line_of(s.ident.span()),
                    attrs(&s.attrs),
                );
                fact.types.push((EdgeKind::UsesType, self.ty(&s.ty)));
                self.expr_items(&s.expr, &mut fact);
                fact
            }
            Item::Macro(m) => match &m.ident {
                Some(ident) => {
                    let mut fact = ItemFact::new(
                        NodeKind::Macro,
                        ident.to_string(),
                        line_of(ident.span()),
                        attrs(&m.attrs),
                    );
                    // A `() => { items }` arm with no metavariables expands to the same
                    // items wherever it is invoked: they are kept (as the macro's
                    // children, never emitted under it) for the invocations to mount.
                    if let Some((body, one_arm)) = fixed_expansion(&m.mac.tokens) {
                        if let Ok(items) = syn::parse::Parser::parse2(parse_items, body) {
                            let mut children = Vec::new();
                            self.items_into(&items, &mut children);
                            fact.children = children;
                            if one_arm {
                                fact.extra = Some(Box::new(Extra::OneArm));
                            }
                        }
                    }
                    fact
                }
                None => return self.item_macro(&m.mac),
            },
            Item::Mod(m) => {
                let mut fact = ItemFact::new(
                    NodeKind::Module,
                    m.ident.to_string(),
                    line_of(m.ident.span()),
                    attrs(&m.attrs),
                );
                fact.extra = Some(Box::new(Extra::Module(ModFact {
                    inline: m.content.is_some(),
                    path_attr: path_attr(&m.attrs),
                    cfg_paths: cfg_paths(&m.attrs),
                    include: false,
                    invoke: None,
                })));
                if let Some((_, items)) = &m.content {
                    let mut children = Vec::new();
                    self.items_into(items, &mut children);
                    fact.children = children;
                }
                fact
            }
            Item::Use(u) => {
                // A use item becomes one fact per name it binds; they are returned as
                // the children of a transparent group that the caller flattens.
                let mut group = ItemFact::new(
                    NodeKind::Use,
                    String::new(),
                    line_of(u.use_token.span),
                    attrs(&u.attrs),
                );
                let mut prefix = Vec::new();
                use_tree(
                    &u.tree,
                    &mut prefix,
                    &mut group.children,
                    group.line,
                    &group.attrs,
                );
                group.detail = Some(GROUP.into());
                group
            }
            Item::ExternCrate(e) => {
                let name = match &e.rename {
                    Some((_, r)) => r.to_string(),
                    None => e.ident.to_string(),
                };
                let mut fact = ItemFact::new(
                    NodeKind::Use,
                    name,
                    line_of(e.ident.span()),
                    attrs(&e.attrs),
                );
                fact.detail = Some(format!("extern crate {}", e.ident).into());
                fact.extra = Some(Box::new(Extra::Use(UsePath {
                    segments: vec![e.ident.to_string()],
                    glob: false,
                })));
                fact
            }
            Item::ForeignMod(f) => {
                // Items of an `extern` block belong to the enclosing module; returned as
                // a transparent group like uses.
                let mut group = ItemFact::new(NodeKind::Use, String::new(), 0, Vec::new());
                group.detail = Some(GROUP.into());
                for fi in &f.items {
                    match fi {
                        syn::ForeignItem::Fn(func) => {
                            let mut fact = ItemFact::new(
                                NodeKind::Function,
                                func.sig.ident.to_string(),
                                line_of(func.sig.ident.span()),
                                attrs(&func.attrs),
                            );
                            self.signature(&func.sig, &mut fact);
                            group.children.push(fact);
                        }
                        syn::ForeignItem::Static(s) => {
                            let mut fact = ItemFact::new(
                                NodeKind::Static,
                                s.ident.to_string(),
                                line_of(s.ident.span()),
                                attrs(&s.attrs),
                            );
                            fact.types.push((EdgeKind::UsesType, self.ty(&s.ty)));
                            group.children.push(fact);
                        }
                        syn::ForeignItem::Type(t) => {
                            group.children.push(ItemFact::new(
                                NodeKind::TypeAlias,
                                t.ident.to_string(),
                                line_of(t.ident.span()),
                                attrs(&t.attrs),
                            ));
                        }
                        syn::ForeignItem::Macro(_) => self.macros += 1,
                        _ => {}
                    }
                }
                group
            }
            _ => {
                // `Item::Verbatim` and future kinds: tokens syn could not give a shape.
                self.macros += 1;
                return None;
            }
        };
        Some(fact)
    }

    fn trait_item(&mut self, ti: &syn::TraitItem) -> Option<ItemFact> {
        use syn::TraitItem;
        Some(match ti {
            TraitItem::Fn(f) => {
                let mut fact = ItemFact::new(
                    NodeKind::Method,
                    f.sig.ident.to_string(),
                    line_of(f.sig.ident.span()),
                    attrs(&f.attrs),
                );
                fact.detail = Some("trait".into());
                let mark = self.generics.push(&f.sig.generics);
                self.signature(&f.sig, &mut fact);
                self.fn_fact(&f.sig, &mut fact);
                if let Some(b) = &f.default {
                    self.body(Some(&f.sig), b, &mut fact);
                }
                self.generics.truncate(mark);
                fact
            }
            TraitItem::Const(c) => {
                let mut fact = ItemFact::new(
                    NodeKind::Const,
                    c.ident.to_string(),
                    line_of(c.ident.span()),
                    attrs(&c.attrs),
                );
                fact.types.push((EdgeKind::UsesType, self.ty(&c.ty)));
                fact
            }
            TraitItem::Type(t) => ItemFact::new(
                NodeKind::TypeAlias,
                t.ident.to_string(),
                line_of(t.ident.span()),
                attrs(&t.attrs),
            ),
            TraitItem::Macro(_) => {
                self.macros += 1;
                return None;
            }
            _ => return None,
        })
    }

    fn impl_block(&mut self, i: &syn::ItemImpl) -> ItemFact {
        let self_text = normalize_type(&i.self_ty);
        let self_node = self.interner.intern(&self_text);
        let (name, trait_path, trait_type) = match &i.trait_ {
            Some((bang, path, _)) => {
                let text = normalize_path(path);
                let neg = if bang.is_some() { "!" } else { "" };
                let tt = self.interner.intern(&text);
                (
                    format!("impl {neg}{text} for {self_text}"),
                    Some(path_segments(path)),
                    Some(tt),
                )
            }
            None => (format!("impl {self_text}"), None, None),
        };
        let mut fact = ItemFact::new(
            NodeKind::Impl,
            name,
            line_of(i.impl_token.span),
            attrs(&i.attrs),
        );
        fact.types.push((EdgeKind::ImplFor, self_node));
        let self_path = match &*i.self_ty {
            syn::Type::Path(p) if p.qself.is_none() => Some(path_segments(&p.path)),
            _ => None,
        };
        let flavour = if trait_path.is_some() {
            "trait-impl"
        } else {
            "inherent"
        };
        fact.extra = Some(Box::new(Extra::Impl(ImplFact {
            self_path,
            trait_path,
            trait_type,
        })));
        let mark = self.generics.push(&i.generics);
        for ii in &i.items {
            self.impl_item(ii, flavour, &mut fact.children);
        }
        self.generics.truncate(mark);
        fact
    }

    fn impl_item(&mut self, ii: &syn::ImplItem, flavour: &'static str, out: &mut Vec<ItemFact>) {
        use syn::ImplItem;
        match ii {
            ImplItem::Fn(f) => {
                let mut m = ItemFact::new(
                    NodeKind::Method,
                    f.sig.ident.to_string(),
                    line_of(f.sig.ident.span()),
                    attrs(&f.attrs),
                );
                m.detail = Some(flavour.into());
                let mark = self.generics.push(&f.sig.generics);
                self.signature(&f.sig, &mut m);
                self.fn_fact(&f.sig, &mut m);
                self.body(Some(&f.sig), &f.block, &mut m);
                self.generics.truncate(mark);
                out.push(m);
            }
            ImplItem::Const(c) => {
                let mut m = ItemFact::new(
                    NodeKind::Const,
                    c.ident.to_string(),
                    line_of(c.ident.span()),
                    attrs(&c.attrs),
                );
                m.types.push((EdgeKind::UsesType, self.ty(&c.ty)));
                self.expr_items(&c.expr, &mut m);
                out.push(m);
            }
            ImplItem::Type(t) => {
                let mut m = ItemFact::new(
                    NodeKind::TypeAlias,
                    t.ident.to_string(),
                    line_of(t.ident.span()),
                    attrs(&t.attrs),
                );
                m.types.push((EdgeKind::UsesType, self.ty(&t.ty)));
                self.typed(&t.ty, &mut m);
                out.push(m);
            }
            ImplItem::Macro(m) => {
                // A macro in an impl whose tokens are impl items (`fn`s, consts) passes
                // them through as far as this graph can tell.
                match syn::parse::Parser::parse2(parse_impl_items, m.mac.tokens.clone()) {
                    Ok(items) if !items.is_empty() => {
                        for ii in &items {
                            self.impl_item(ii, flavour, out);
                        }
                    }
                    _ => self.macros += 1,
                }
            }
            _ => {}
        }
    }

    /// Items from the top level of a file, a module, a macro or a body, with
    /// transparent groups (a `use` list, an `extern` block, a macro's items) spliced in.
    fn items_into(&mut self, items: &[syn::Item], out: &mut Vec<ItemFact>) {
        for i in items {
            if let Some(mut fact) = self.item(i) {
                if fact.detail.as_deref() == Some(GROUP) {
                    out.extend(fact.children);
                } else {
                    // Facts live until the graph is resolved, and a large input has
                    // millions: no spare capacity is kept.
                    fact.children.shrink_to_fit();
                    fact.types.shrink_to_fit();
                    fact.calls.shrink_to_fit();
                    out.push(fact);
                }
            }
        }
    }

    /// An item-position macro invocation with no name: `include!("file.rs")`,
    /// `cfg_if! { ... }`, or any macro whose tokens parse as items (`cfg_rt! { mod x; }`),
    /// whose items are taken as if written in place. Anything else is counted as a
    /// skipped invocation.
    fn item_macro(&mut self, mac: &syn::Macro) -> Option<ItemFact> {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let line = mac
            .path
            .segments
            .last()
            .map_or(0, |s| line_of(s.ident.span()));
        let mut group = ItemFact::new(NodeKind::Use, String::new(), line, Vec::new());
        group.detail = Some(GROUP.into());
        if name == "include" {
            if let Ok(lit) = syn::parse2::<syn::LitStr>(mac.tokens.clone()) {
                let mut fact = ItemFact::new(NodeKind::Module, String::new(), line, Vec::new());
                fact.extra = Some(Box::new(Extra::Module(ModFact {
                    inline: false,
                    path_attr: Some(lit.value()),
                    cfg_paths: Vec::new(),
                    include: true,
                    invoke: None,
                })));
                return Some(fact);
            }
        } else if name == "cfg_if" {
            if let Ok(arms) = syn::parse::Parser::parse2(parse_cfg_if, mac.tokens.clone()) {
                let mut before: Vec<String> = Vec::new();
                for (pred, tokens) in arms {
                    let Ok(items) = syn::parse::Parser::parse2(parse_items, tokens) else {
                        self.macros += 1;
                        continue;
                    };
                    let cfg = match &pred {
                        Some(p) if before.is_empty() => format!("cfg({p})"),
                        Some(p) => format!("cfg(all({p}, not(any({}))))", before.join(", ")),
                        None => format!("cfg(not(any({})))", before.join(", ")),
                    };
                    before.extend(pred);
                    let start = group.children.len();
                    self.items_into(&items, &mut group.children);
                    for f in &mut group.children[start..] {
                        f.attrs.insert(0, cfg.clone());
                    }
                }
                return Some(group);
            }
        } else if mac.tokens.is_empty() {
            // `name!()`: maybe a fixed-body `macro_rules!` of this crate; the module
            // tree walk knows the crate's macros and mounts the items (or counts it).
            let mut fact = ItemFact::new(NodeKind::Module, String::new(), line, Vec::new());
            fact.extra = Some(Box::new(Extra::Module(ModFact {
                inline: false,
                path_attr: None,
                cfg_paths: Vec::new(),
                include: false,
                invoke: Some(name),
            })));
            return Some(fact);
        } else if let Ok(items) = syn::parse::Parser::parse2(parse_items, mac.tokens.clone()) {
            if !items.is_empty() {
                self.items_into(&items, &mut group.children);
                let tag = format!("macro({name})");
                for f in &mut group.children {
                    f.attrs.insert(0, tag.clone());
                }
                return Some(group);
            }
        }
        if !mac.tokens.is_empty() && name != "include" && name != "cfg_if" {
            // `name!(tokens)` that are not items: maybe a one-arm `macro_rules!` of this
            // crate whose expansion needs none of its metavariables (serde's
            // `declare_error_trait!(Error: Sized + StdError)`); the walk mounts its
            // items, or counts the invocation as skipped.
            let mut fact = ItemFact::new(NodeKind::Module, String::new(), line, Vec::new());
            fact.extra = Some(Box::new(Extra::Module(ModFact {
                inline: false,
                path_attr: None,
                cfg_paths: Vec::new(),
                include: false,
                invoke: Some(format!("{name}{WITH_ARGS}")),
            })));
            return Some(fact);
        }
        self.macros += 1;
        None
    }

    fn signature(&self, sig: &syn::Signature, fact: &mut ItemFact) {
        for input in &sig.inputs {
            let ty = match input {
                syn::FnArg::Receiver(r) => &*r.ty,
                syn::FnArg::Typed(t) => &*t.ty,
            };
            fact.types.push((EdgeKind::HasParam, self.ty(ty)));
        }
        if let syn::ReturnType::Type(_, ty) = &sig.output {
            fact.types.push((EdgeKind::Returns, self.ty(ty)));
        }
    }

    fn fields(&self, fields: &syn::Fields, parent_line: u32) -> Vec<ItemFact> {
        match fields {
            syn::Fields::Named(n) => self.named_fields(&n.named, parent_line),
            syn::Fields::Unnamed(u) => u
                .unnamed
                .iter()
                .enumerate()
                .map(|(i, f)| self.field(i.to_string(), f, parent_line))
                .collect(),
            syn::Fields::Unit => Vec::new(),
        }
    }

    fn named_fields(
        &self,
        fields: &syn::punctuated::Punctuated<syn::Field, syn::Token![,]>,
        parent_line: u32,
    ) -> Vec<ItemFact> {
        fields
            .iter()
            .map(|f| {
                let name = f.ident.as_ref().map(|i| i.to_string()).unwrap_or_default();
                self.field(name, f, parent_line)
            })
            .collect()
    }

    fn field(&self, name: String, f: &syn::Field, parent_line: u32) -> ItemFact {
        let line = f.ident.as_ref().map_or(parent_line, |i| line_of(i.span()));
        let mut fact = ItemFact::new(NodeKind::Field, name, line, attrs(&f.attrs));
        fact.types.push((EdgeKind::UsesType, self.ty(&f.ty)));
        self.typed(&f.ty, &mut fact);
        fact
    }

    /// Records `ty` on a field or type alias for typing receivers.
    fn typed(&self, ty: &syn::Type, fact: &mut ItemFact) {
        if let Some(t) = ty_ref(ty, &|n| self.generics.is_param(n)) {
            fact.extra = Some(Box::new(Extra::Typed(t)));
        }
    }

    /// Records what typing needs from a function's signature (with its generics
    /// already pushed): its return type and the generic parameters in scope.
    fn fn_fact(&mut self, sig: &syn::Signature, fact: &mut ItemFact) {
        let ret = match &sig.output {
            syn::ReturnType::Type(_, ty) => ty_ref(ty, &|n| self.generics.is_param(n)),
            syn::ReturnType::Default => None,
        };
        if ret.is_none() && self.generics.is_empty() {
            return;
        }
        let env = self.generics.env();
        fact.extra = Some(Box::new(Extra::Fn(FnFact { ret, env })));
    }

    fn body(&mut self, sig: Option<&syn::Signature>, block: &syn::Block, fact: &mut ItemFact) {
        let mut c = CallCollector {
            x: self,
            calls: &mut fact.calls,
            opaque: 0,
            items: Vec::new(),
            scopes: vec![Vec::new()],
            buf: String::new(),
        };
        if let Some(sig) = sig {
            for input in &sig.inputs {
                if let syn::FnArg::Typed(t) = input {
                    let ty = c.ty_ref(&t.ty).map(Recv::Type);
                    c.bind(&t.pat, ty);
                }
            }
        }
        match c.x.hollowed(block) {
            Some(body) => {
                c.replay(&body.events);
                // What is left of a hollowed block is the items it declares.
                for stmt in &block.stmts {
                    if let syn::Stmt::Item(item) = stmt {
                        c.visit_item(item);
                    }
                }
            }
            None => c.visit_block(block),
        }
        let opaque = c.opaque;
        let found = std::mem::take(&mut c.items);
        fact.opaque_calls += opaque as u32;
        let items = self.body_items(found);
        fact.children.extend(items);
    }

    /// Items found in a body, without the `include!`s and `name!()` invocations, which
    /// only a module can mount (they are counted as skipped macro invocations).
    fn body_items(&mut self, mut items: Vec<ItemFact>) -> Vec<ItemFact> {
        let before = items.len();
        items.retain(|f| !f.module().is_some_and(|m| m.include || m.invoke.is_some()));
        self.macros += (before - items.len()) as u64;
        self.in_bodies += count(&items);
        items
    }

    /// Items declared inside a const or static initialiser (`const _: () = { impl ...
    /// };`), as children of the const or static; calls there belong to no function.
    fn expr_items(&mut self, expr: &syn::Expr, fact: &mut ItemFact) {
        let mut calls = Vec::new();
        let mut c = CallCollector {
            x: self,
            calls: &mut calls,
            opaque: 0,
            items: Vec::new(),
            scopes: vec![Vec::new()],
            buf: String::new(),
        };
        c.visit_expr(expr);
        let found = std::mem::take(&mut c.items);
        let items = self.body_items(found);
        fact.children.extend(items);
    }
}

fn count(items: &[ItemFact]) -> u64 {
    items.iter().map(|i| 1 + count(&i.children)).sum()
}

/// Marks [`ModFact::invoke`] of an invocation with arguments (`name!(..)`), which only a
/// one-arm macro expands (see [`ItemFact::is_one_arm`]).
pub(crate) const WITH_ARGS: &str = "(..)";

/// The `detail` of a transparent group (a `use` item's bindings, an `extern` block's
/// items): the caller splices its children into the parent and drops the group.
pub(crate) const GROUP: &str = "\u{0}group";

fn use_tree(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<ItemFact>,
    line: u32,
    attrs: &[String],
) {
    let mut push = |name: String, segments: Vec<String>, glob: bool| {
        let mut fact = ItemFact::new(NodeKind::Use, name, line, attrs.to_vec());
        let mut text = segments.join("::");
        if glob {
            text.push_str(if segments.is_empty() { "*" } else { "::*" });
        }
        fact.detail = Some(text.into());
        fact.extra = Some(Box::new(Extra::Use(UsePath { segments, glob })));
        out.push(fact);
    };
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_tree(&p.tree, prefix, out, line, attrs);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            if n.ident == "self" {
                let name = prefix.last().cloned().unwrap_or_else(|| "self".into());
                push(name, prefix.clone(), false);
            } else {
                let mut segs = prefix.clone();
                segs.push(n.ident.to_string());
                push(n.ident.to_string(), segs, false);
            }
        }
        syn::UseTree::Rename(r) => {
            let mut segs = prefix.clone();
            if r.ident != "self" {
                segs.push(r.ident.to_string());
            }
            push(r.rename.to_string(), segs, false);
        }
        syn::UseTree::Glob(_) => push("*".into(), prefix.clone(), true),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_tree(t, prefix, out, line, attrs);
            }
        }
    }
}

struct CallCollector<'a, 'x> {
    x: &'a mut Extractor<'x>,
    calls: &'a mut Vec<Callee>,
    /// Call sites with no name to resolve: a closure or a field called (`(self.f)(x)`).
    opaque: u64,
    /// Items declared in the body, extracted as children of the function.
    items: Vec<ItemFact>,
    /// The local bindings of the blocks being visited, innermost last: what is known
    /// of each name's value (`None`: nothing, but it hides any outer binding).
    scopes: Vec<Vec<(String, Option<Recv>)>>,
    /// Reused to write each typed callee before it is kept.
    buf: String,
}

impl CallCollector<'_, '_> {
    fn ty_ref(&self, ty: &syn::Type) -> Option<TyRef> {
        ty_ref(ty, &|n| self.x.generics.is_param(n))
    }

    fn local(&self, name: &str) -> Option<&Option<Recv>> {
        self.scopes
            .iter()
            .rev()
            .find_map(|s| s.iter().rev().find(|(n, _)| n == name).map(|(_, r)| r))
    }

    fn declare(&mut self, name: String, recv: Option<Recv>) {
        let recv = recv.filter(|r| r.depth() <= MAX_RECV_DEPTH);
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((name, recv));
        }
    }

    /// Binds the names of `pat` to what is known of the value it matches.
    fn bind(&mut self, pat: &syn::Pat, recv: Option<Recv>) {
        match pat {
            syn::Pat::Ident(i) => {
                if let Some((_, sub)) = &i.subpat {
                    self.bind(sub, recv.clone());
                }
                self.declare(i.ident.to_string(), recv);
            }
            syn::Pat::Type(t) => {
                let declared = self.ty_ref(&t.ty).map(Recv::Type);
                self.bind(&t.pat, declared);
            }
            syn::Pat::Reference(r) => self.bind(&r.pat, recv),
            syn::Pat::Paren(p) => self.bind(&p.pat, recv),
            syn::Pat::TupleStruct(ts) if ts.qself.is_none() => {
                let path = path_segments(&ts.path);
                let mut known = true;
                for (i, elem) in ts.elems.iter().enumerate() {
                    // After `..` the positions are not known.
                    known &= !matches!(elem, syn::Pat::Rest(_));
                    let r = known.then(|| Recv::PatField(path.clone(), i.to_string()));
                    self.bind(elem, r);
                }
            }
            syn::Pat::Struct(ps) if ps.qself.is_none() => {
                let path = path_segments(&ps.path);
                for f in &ps.fields {
                    let member = match &f.member {
                        syn::Member::Named(n) => n.to_string(),
                        syn::Member::Unnamed(i) => i.index.to_string(),
                    };
                    self.bind(&f.pat, Some(Recv::PatField(path.clone(), member)));
                }
            }
            _ => {
                // Tuples, slices, alternatives, boxes: the names are bound, their
                // types unknown.
                let mut names = PatNames(Vec::new());
                names.visit_pat(pat);
                for n in names.0 {
                    self.declare(n, None);
                }
            }
        }
    }

    /// What is known of the value of `e` as a receiver, if anything.
    fn recv(&self, e: &syn::Expr, depth: usize) -> Option<Recv> {
        if depth >= MAX_RECV_DEPTH {
            return None;
        }
        match e {
            syn::Expr::Path(p) if p.qself.is_none() => {
                let ident = p.path.get_ident()?;
                if ident == "self" {
                    return Some(Recv::SelfValue);
                }
                self.local(&ident.to_string())?.clone()
            }
            syn::Expr::Field(f) => {
                let base = self.recv(&f.base, depth + 1)?;
                let member = match &f.member {
                    syn::Member::Named(n) => n.to_string(),
                    syn::Member::Unnamed(i) => i.index.to_string(),
                };
                Some(match base {
                    Recv::SelfValue => Recv::SelfField(member),
                    base => Recv::Field(Box::new(base), member),
                })
            }
            syn::Expr::MethodCall(m) => {
                let base = self.recv(&m.receiver, depth + 1).map(Box::new);
                Some(Recv::MethodRet(base, m.method.to_string()))
            }
            syn::Expr::Call(c) => match &*c.func {
                syn::Expr::Path(p) if p.qself.is_none() => {
                    Some(Recv::CallRet(path_segments(&p.path)))
                }
                _ => None,
            },
            syn::Expr::Struct(s) if s.qself.is_none() => {
                Some(Recv::Type(TyRef::Path(path_segments(&s.path))))
            }
            syn::Expr::Cast(c) => self.ty_ref(&c.ty).map(Recv::Type),
            syn::Expr::Paren(p) => self.recv(&p.expr, depth + 1),
            syn::Expr::Group(g) => self.recv(&g.expr, depth + 1),
            syn::Expr::Reference(r) => self.recv(&r.expr, depth + 1),
            syn::Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => {
                self.recv(&u.expr, depth + 1)
            }
            _ => None,
        }
    }

    fn scoped(&mut self, f: impl FnOnce(&mut Self)) {
        self.scopes.push(Vec::new());
        f(self);
        self.scopes.pop();
    }

    /// Applies what the body reader recorded, with the rules the `Visit` methods below
    /// apply to a syn tree.
    fn replay(&mut self, events: &[Ev<'_>]) {
        for ev in events {
            match ev {
                Ev::Call(segs, single) => self.calls.push(match (single, segs.first()) {
                    (true, Some(name)) => Callee::Name(name.to_string()),
                    _ => Callee::Path(owned(segs)),
                }),
                Ev::Opaque => self.opaque += 1,
                Ev::Method(name, r) => {
                    let callee = match self.recv_read(r, 0) {
                        Some(Recv::SelfValue) => Callee::SelfMethod(name.to_string()),
                        Some(r) => Callee::Typed(recv::encode_with(&r, name, &mut self.buf)),
                        None => Callee::Method(name.to_string()),
                    };
                    self.calls.push(callee);
                }
                Ev::Push => self.scopes.push(Vec::new()),
                Ev::Pop => {
                    self.scopes.pop();
                }
                Ev::Bind(pat, value) => {
                    let recv = value.as_ref().and_then(|v| self.recv_read(v, 0));
                    self.bind_read(pat, recv);
                }
            }
        }
    }

    /// [`CallCollector::recv`] of a read expression.
    fn recv_read(&self, e: &RSyn<'_>, depth: usize) -> Option<Recv> {
        if depth >= MAX_RECV_DEPTH {
            return None;
        }
        match e {
            RSyn::Ident(name) => {
                if *name == "self" {
                    return Some(Recv::SelfValue);
                }
                self.local(name)?.clone()
            }
            RSyn::Field(base, member) => {
                let base = self.recv_read(base, depth + 1)?;
                Some(match base {
                    Recv::SelfValue => Recv::SelfField(member.to_string()),
                    base => Recv::Field(Box::new(base), member.to_string()),
                })
            }
            RSyn::MethodRet(base, name) => {
                let base = self.recv_read(base, depth + 1).map(Box::new);
                Some(Recv::MethodRet(base, name.to_string()))
            }
            RSyn::CallRet(path) => Some(Recv::CallRet(owned(path))),
            RSyn::Struct(path) => Some(Recv::Type(TyRef::Path(owned(path)))),
            RSyn::Cast(ty) => self.ty_ref_read(ty).map(Recv::Type),
            RSyn::Wrap(inner) => self.recv_read(inner, depth + 1),
            RSyn::Other => None,
        }
    }

    fn ty_ref_read(&self, ty: &crate::body::Ty<'_>) -> Option<TyRef> {
        recv::ty_ref_read(ty, &|n| self.x.generics.is_param(n))
    }

    /// [`CallCollector::bind`] of a read pattern.
    fn bind_read(&mut self, pat: &PSyn<'_>, recv: Option<Recv>) {
        match pat {
            PSyn::Ident(name, sub) => {
                if let Some(sub) = sub {
                    self.bind_read(sub, recv.clone());
                }
                self.declare(name.to_string(), recv);
            }
            PSyn::Typed(pat, ty) => {
                let declared = self.ty_ref_read(ty).map(Recv::Type);
                self.bind_read(pat, declared);
            }
            PSyn::Ref(pat) => self.bind_read(pat, recv),
            PSyn::TupleStruct(path, elems) => {
                let mut known = true;
                for (i, elem) in elems.iter().enumerate() {
                    known &= elem.is_some();
                    if let Some(elem) = elem {
                        let r = known.then(|| Recv::PatField(owned(path), i.to_string()));
                        self.bind_read(elem, r);
                    }
                }
            }
            PSyn::Struct(path, fields) => {
                for (member, f) in fields {
                    self.bind_read(f, Some(Recv::PatField(owned(path), member.to_string())));
                }
            }
            PSyn::Names(names) => {
                for n in names {
                    self.declare(n.to_string(), None);
                }
            }
        }
    }
}

/// The names a pattern binds.
struct PatNames(Vec<String>);

impl<'ast> Visit<'ast> for PatNames {
    fn visit_pat_ident(&mut self, i: &'ast syn::PatIdent) {
        self.0.push(i.ident.to_string());
        syn::visit::visit_pat_ident(self, i);
    }

    fn visit_expr(&mut self, _: &'ast syn::Expr) {
        // A range or constant in a pattern binds nothing.
    }
}

/// `a, b, c` or `a; n` (the forms of `vec![]`, `assert!()`, `format!()` arguments).
fn parse_macro_exprs(input: syn::parse::ParseStream<'_>) -> syn::Result<Vec<syn::Expr>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        out.push(input.parse()?);
        if input.is_empty() {
            break;
        }
        if input.peek(syn::Token![;]) {
            input.parse::<syn::Token![;]>()?;
        } else {
            input.parse::<syn::Token![,]>()?;
        }
    }
    Ok(out)
}

impl<'ast> Visit<'ast> for CallCollector<'_, '_> {
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        match &*call.func {
            syn::Expr::Path(p) if p.qself.is_none() => {
                let callee = match p.path.get_ident() {
                    Some(ident) if p.path.leading_colon.is_none() => {
                        Callee::Name(ident.to_string())
                    }
                    _ => Callee::Path(path_segments(&p.path)),
                };
                self.calls.push(callee);
            }
            _ => self.opaque += 1,
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let name = call.method.to_string();
        let callee = match self.recv(&call.receiver, 0) {
            Some(Recv::SelfValue) => Callee::SelfMethod(name),
            Some(r) => Callee::Typed(recv::encode_with(&r, &name, &mut self.buf)),
            None => Callee::Method(name),
        };
        self.calls.push(callee);
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.scoped(|c| syn::visit::visit_block(c, block));
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        // The pattern's names are visible after the statement, not in its initialiser.
        for attr in &local.attrs {
            self.visit_attribute(attr);
        }
        let mut recv = None;
        if let Some(init) = &local.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
            recv = self.recv(&init.expr, 0);
        }
        self.bind(&local.pat, recv);
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        self.scoped(|c| {
            c.bind(&arm.pat, None);
            if let Some((_, guard)) = &arm.guard {
                c.visit_expr(guard);
            }
            c.visit_expr(&arm.body);
        });
    }

    fn visit_expr_let(&mut self, e: &'ast syn::ExprLet) {
        // `if let` / `while let`: the names are bound for the rest of the condition and
        // the block, which `visit_expr_if` and `visit_expr_while` scope.
        self.visit_expr(&e.expr);
        let recv = self.recv(&e.expr, 0);
        self.bind(&e.pat, recv);
    }

    fn visit_expr_if(&mut self, e: &'ast syn::ExprIf) {
        self.scoped(|c| {
            c.visit_expr(&e.cond);
            c.visit_block(&e.then_branch);
        });
        if let Some((_, else_branch)) = &e.else_branch {
            self.visit_expr(else_branch);
        }
    }

    fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
        self.scoped(|c| {
            c.visit_expr(&e.cond);
            c.visit_block(&e.body);
        });
    }

    fn visit_expr_for_loop(&mut self, e: &'ast syn::ExprForLoop) {
        self.visit_expr(&e.expr);
        self.scoped(|c| {
            c.bind(&e.pat, None);
            c.visit_block(&e.body);
        });
    }

    fn visit_expr_closure(&mut self, e: &'ast syn::ExprClosure) {
        self.scoped(|c| {
            for input in &e.inputs {
                c.bind(input, None);
            }
            c.visit_expr(&e.body);
        });
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // The arguments of `assert!(f())`, `vec![g(); n]`, `format!("{}", h())` are
        // expressions: their calls are this function's calls. Token soups that are not
        // expressions (`quote!`, custom syntaxes) contribute nothing.
        if let Ok(exprs) = syn::parse::Parser::parse2(parse_macro_exprs, mac.tokens.clone()) {
            for e in &exprs {
                self.visit_expr(e);
            }
        }
    }

    fn visit_stmt_macro(&mut self, stmt: &'ast syn::StmtMacro) {
        // In a block, `m! { ... }` is a statement; when its tokens are items rather than
        // expressions (`thread_local! { static X: ... }`, `cfg_if! { ... }`) they are
        // the body's items.
        let mac = &stmt.mac;
        if let Ok(exprs) = syn::parse::Parser::parse2(parse_macro_exprs, mac.tokens.clone()) {
            for e in &exprs {
                self.visit_expr(e);
            }
            return;
        }
        let name = mac.path.segments.last().map(|s| s.ident.to_string());
        let items_like = name.as_deref() == Some("cfg_if")
            || syn::parse::Parser::parse2(parse_items, mac.tokens.clone())
                .is_ok_and(|i| !i.is_empty());
        if items_like {
            if let Some(group) = self.x.item_macro(mac) {
                self.items.extend(group.children);
            }
        }
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        // Items nested in bodies get nodes of their own, children of the function; their
        // bodies are collected on their own, so their calls are not charged to the
        // enclosing function. They do not see the function's generic parameters.
        let outer = self.x.generics.take();
        self.x
            .items_into(std::slice::from_ref(item), &mut self.items);
        self.x.generics.restore(outer);
    }
}

/// Owned copies of a read path's segments.
fn owned(segs: &[&str]) -> Vec<String> {
    segs.iter().map(|s| s.to_string()).collect()
}
