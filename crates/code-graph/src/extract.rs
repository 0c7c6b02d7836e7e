//! One file's syntax tree turned into plain, thread-safe facts.
//!
//! syn's trees hold `proc_macro2` tokens, which are neither `Send` nor `Sync`, so each
//! worker parses a file and extracts everything the graph needs into [`FileFacts`]
//! before the tree is dropped on the same thread. Facts are module-relative: the module
//! path a file ends up at is known only once the module tree is followed, and one file
//! can even be mounted twice through `#[path]`.

use syn::visit::Visit;

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
    /// Items nested in function bodies.
    pub(crate) items_in_bodies: u64,
}

/// One item with its children.
#[derive(Debug)]
pub(crate) struct ItemFact {
    pub(crate) kind: NodeKind,
    pub(crate) name: String,
    pub(crate) line: u32,
    pub(crate) attrs: Vec<String>,
    pub(crate) detail: Option<String>,
    /// Fields, variants, methods, associated items, or an inline module's items.
    pub(crate) children: Vec<ItemFact>,
    /// Edges to type nodes: has-param, returns, uses-type, impl-for.
    pub(crate) types: Vec<(EdgeKind, NodeId)>,
    /// For modules: inline or not, and the `#[path]` value.
    pub(crate) module: Option<ModFact>,
    /// For impls: the self type and trait paths.
    pub(crate) imp: Option<ImplFact>,
    /// For functions and methods: the callees named in the body, in order.
    pub(crate) calls: Vec<Callee>,
    /// Method calls on receivers other than `self`: not resolvable syntactically.
    pub(crate) opaque_calls: u64,
    /// For uses: the path named.
    pub(crate) use_path: Option<UsePath>,
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
            module: None,
            imp: None,
            calls: Vec::new(),
            opaque_calls: 0,
            use_path: None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct ModFact {
    /// `mod a { ... }` (items in `children`) as opposed to `mod a;`.
    pub(crate) inline: bool,
    /// The `#[path = "..."]` value, if any.
    pub(crate) path_attr: Option<String>,
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
    /// `self.name(...)`.
    SelfMethod(String),
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

/// Parses `source` and extracts its facts.
pub(crate) fn extract_file(
    source: &str,
    interner: &dyn TypeInterner,
) -> Result<FileFacts, ParseFailure> {
    let result = match syn::parse_file(source) {
        Ok(file) => {
            let mut x = Extractor {
                interner,
                macros: 0,
                in_bodies: 0,
                buf: std::cell::Cell::new(String::new()),
            };
            let items = file.items.iter().filter_map(|i| x.item(i)).collect();
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
}

impl Extractor<'_> {
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
                self.signature(&f.sig, &mut fact);
                self.body(&f.block, &mut fact);
                fact
            }
            Item::Struct(s) => {
                let mut fact = ItemFact::new(
                    NodeKind::Struct,
                    s.ident.to_string(),
                    line_of(s.ident.span()),
                    attrs(&s.attrs),
                );
                fact.children = self.fields(&s.fields, fact.line);
                fact
            }
            Item::Union(u) => {
                let mut fact = ItemFact::new(
                    NodeKind::Union,
                    u.ident.to_string(),
                    line_of(u.ident.span()),
                    attrs(&u.attrs),
                );
                fact.children = self.named_fields(&u.fields.named, fact.line);
                fact
            }
            Item::Enum(e) => {
                let mut fact = ItemFact::new(
                    NodeKind::Enum,
                    e.ident.to_string(),
                    line_of(e.ident.span()),
                    attrs(&e.attrs),
                );
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
                fact
            }
            Item::Trait(t) => {
                let mut fact = ItemFact::new(
                    NodeKind::Trait,
                    t.ident.to_string(),
                    line_of(t.ident.span()),
                    attrs(&t.attrs),
                );
                for ti in &t.items {
                    if let Some(c) = self.trait_item(ti) {
                        fact.children.push(c);
                    }
                }
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
                self.count_body_expr(&c.expr);
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
                fact
            }
            Item::Macro(m) => match &m.ident {
                Some(ident) => ItemFact::new(
                    NodeKind::Macro,
                    ident.to_string(),
                    line_of(ident.span()),
                    attrs(&m.attrs),
                ),
                None => {
                    self.macros += 1;
                    return None;
                }
            },
            Item::Mod(m) => {
                let mut fact = ItemFact::new(
                    NodeKind::Module,
                    m.ident.to_string(),
                    line_of(m.ident.span()),
                    attrs(&m.attrs),
                );
                fact.module = Some(ModFact {
                    inline: m.content.is_some(),
                    path_attr: path_attr(&m.attrs),
                });
                if let Some((_, items)) = &m.content {
                    fact.children = items.iter().filter_map(|i| self.item(i)).collect();
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
                group.detail = Some(GROUP.to_owned());
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
                fact.detail = Some(format!("extern crate {}", e.ident));
                fact.use_path = Some(UsePath {
                    segments: vec![e.ident.to_string()],
                    glob: false,
                });
                fact
            }
            Item::ForeignMod(f) => {
                // Items of an `extern` block belong to the enclosing module; returned as
                // a transparent group like uses.
                let mut group = ItemFact::new(NodeKind::Use, String::new(), 0, Vec::new());
                group.detail = Some(GROUP.to_owned());
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
                self.signature(&f.sig, &mut fact);
                if let Some(b) = &f.default {
                    self.body(b, &mut fact);
                }
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
        fact.imp = Some(ImplFact {
            self_path,
            trait_path,
            trait_type,
        });
        for ii in &i.items {
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
                    self.signature(&f.sig, &mut m);
                    self.body(&f.block, &mut m);
                    fact.children.push(m);
                }
                ImplItem::Const(c) => {
                    let mut m = ItemFact::new(
                        NodeKind::Const,
                        c.ident.to_string(),
                        line_of(c.ident.span()),
                        attrs(&c.attrs),
                    );
                    m.types.push((EdgeKind::UsesType, self.ty(&c.ty)));
                    fact.children.push(m);
                }
                ImplItem::Type(t) => {
                    let mut m = ItemFact::new(
                        NodeKind::TypeAlias,
                        t.ident.to_string(),
                        line_of(t.ident.span()),
                        attrs(&t.attrs),
                    );
                    m.types.push((EdgeKind::UsesType, self.ty(&t.ty)));
                    fact.children.push(m);
                }
                ImplItem::Macro(_) => self.macros += 1,
                _ => {}
            }
        }
        fact
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
        fact
    }

    fn body(&mut self, block: &syn::Block, fact: &mut ItemFact) {
        let mut c = CallCollector {
            calls: &mut fact.calls,
            opaque: 0,
            nested: 0,
        };
        c.visit_block(block);
        fact.opaque_calls += c.opaque;
        self.in_bodies += c.nested;
    }

    fn count_body_expr(&mut self, expr: &syn::Expr) {
        let mut calls = Vec::new();
        let mut c = CallCollector {
            calls: &mut calls,
            opaque: 0,
            nested: 0,
        };
        c.visit_expr(expr);
        self.in_bodies += c.nested;
    }
}

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
        fact.detail = Some(text);
        fact.use_path = Some(UsePath { segments, glob });
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

struct CallCollector<'a> {
    calls: &'a mut Vec<Callee>,
    opaque: u64,
    nested: u64,
}

impl<'ast> Visit<'ast> for CallCollector<'_> {
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        match &*call.func {
            syn::Expr::Path(p) if p.qself.is_none() => {
                self.calls.push(Callee::Path(path_segments(&p.path)));
            }
            _ => self.opaque += 1,
        }
        syn::visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        match &*call.receiver {
            syn::Expr::Path(p) if p.path.is_ident("self") => {
                self.calls.push(Callee::SelfMethod(call.method.to_string()));
            }
            _ => self.opaque += 1,
        }
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_item(&mut self, _item: &'ast syn::Item) {
        // Items nested in bodies are out of scope: counted, not descended into, so their
        // calls are not charged to the enclosing function.
        self.nested += 1;
    }
}
