//! The canonical text of a type or attribute: a function of its tokens only, so two
//! spellings that differ in whitespace (or in how punctuation was glued) give one string.
//!
//! The rule: a space between two words (identifiers and literals) and after `,` and `;`,
//! and nowhere else. `Vec < Option<&'a  str> >` becomes `Vec<Option<&'a str>>`.

use std::fmt::Write as _;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Start,
    Word,
    Punct,
    Separator,
    Open,
    Close,
}

/// The canonical text of anything that prints as tokens.
pub fn normalize(t: &impl ToTokens) -> String {
    normalize_tokens(t.to_token_stream())
}

/// The canonical text of a type: the same string as [`normalize`] gives, written
/// straight from syn's tree for the shapes types usually have (paths with generic
/// arguments, references, slices, arrays, tuples, pointers, `dyn` and `impl` bounds),
/// which skips building and walking a token stream; anything else takes the token path.
pub fn normalize_type(ty: &syn::Type) -> String {
    let mut out = String::new();
    write_type(ty, &mut out);
    out
}

/// [`normalize_type`] into a reused buffer (cleared first).
pub(crate) fn write_type(ty: &syn::Type, out: &mut String) {
    out.clear();
    let mut w = Writer {
        out,
        last: Last::Start,
    };
    if !w.ty(ty) {
        out.clear();
        let mut last = Last::Start;
        write(ty.to_token_stream(), out, &mut last);
    }
}

/// The canonical text of a path as written (generic arguments included), as
/// [`normalize`] gives it.
pub(crate) fn normalize_path(path: &syn::Path) -> String {
    let mut out = String::new();
    let mut w = Writer {
        out: &mut out,
        last: Last::Start,
    };
    if w.path(path, true) {
        out
    } else {
        normalize(path)
    }
}

/// The canonical text of an attribute's content, as [`normalize`] gives it.
pub(crate) fn normalize_meta(meta: &syn::Meta) -> String {
    let mut out = String::new();
    let mut w = Writer {
        out: &mut out,
        last: Last::Start,
    };
    if w.meta(meta) {
        out
    } else {
        normalize(meta)
    }
}

/// Writes syn trees by the same spacing rule as [`write`] writes tokens, emitting
/// exactly the tokens syn's own printing would. Each method returns false on a shape
/// it does not know, leaving `out` in any state; the caller then starts over from the
/// tokens.
struct Writer<'a> {
    out: &'a mut String,
    last: Last,
}

impl Writer<'_> {
    fn word(&mut self, text: &str) {
        word(text, self.out, &mut self.last);
    }

    fn ident(&mut self, ident: &proc_macro2::Ident) {
        if matches!(self.last, Last::Word | Last::Separator | Last::Close) {
            self.out.push(' ');
        }
        // Display is how the token path prints an identifier too (`r#` included); this
        // writes it in place instead of through a temporary string.
        let _ = write!(self.out, "{ident}");
        self.last = Last::Word;
    }

    fn punct(&mut self, c: char) {
        if self.last == Last::Separator {
            self.out.push(' ');
        }
        self.out.push(c);
        self.last = if c == ',' || c == ';' {
            Last::Separator
        } else {
            Last::Punct
        };
    }

    fn open(&mut self, c: char) {
        if self.last == Last::Separator {
            self.out.push(' ');
        }
        self.out.push(c);
        self.last = Last::Open;
    }

    fn close(&mut self, c: char) {
        self.out.push(c);
        self.last = Last::Close;
    }

    fn lifetime(&mut self, l: &syn::Lifetime) {
        self.punct('\'');
        self.ident(&l.ident);
    }

    fn lit(&mut self, lit: &syn::Lit) -> bool {
        match lit {
            syn::Lit::Int(i) => {
                if matches!(self.last, Last::Word | Last::Separator | Last::Close) {
                    self.out.push(' ');
                }
                let _ = write!(self.out, "{i}");
                self.last = Last::Word;
            }
            syn::Lit::Str(s) => self.word(&s.token().to_string()),
            syn::Lit::Bool(b) => self.word(if b.value { "true" } else { "false" }),
            _ => return false,
        }
        true
    }

    fn ty(&mut self, ty: &syn::Type) -> bool {
        use syn::Type;
        match ty {
            Type::Path(p) => p.qself.is_none() && self.path(&p.path, true),
            Type::Reference(r) => {
                self.punct('&');
                if let Some(l) = &r.lifetime {
                    self.lifetime(l);
                }
                if r.mutability.is_some() {
                    self.word("mut");
                }
                self.ty(&r.elem)
            }
            Type::Slice(s) => {
                self.open('[');
                let ok = self.ty(&s.elem);
                self.close(']');
                ok
            }
            Type::Array(a) => {
                self.open('[');
                if !self.ty(&a.elem) {
                    return false;
                }
                self.punct(';');
                let ok = match &a.len {
                    syn::Expr::Lit(l) if l.attrs.is_empty() => self.lit(&l.lit),
                    syn::Expr::Path(p) if p.attrs.is_empty() && p.qself.is_none() => {
                        self.path(&p.path, true)
                    }
                    _ => false,
                };
                self.close(']');
                ok
            }
            Type::Tuple(t) => {
                self.open('(');
                for pair in t.elems.pairs() {
                    if !self.ty(pair.value()) {
                        return false;
                    }
                    if pair.punct().is_some() {
                        self.punct(',');
                    }
                }
                // syn prints a one-element tuple with its comma even when the source
                // had none, to tell it from a parenthesised type.
                if t.elems.len() == 1 && !t.elems.trailing_punct() {
                    self.punct(',');
                }
                self.close(')');
                true
            }
            Type::Ptr(p) => {
                self.punct('*');
                self.word(if p.mutability.is_some() {
                    "mut"
                } else {
                    "const"
                });
                self.ty(&p.elem)
            }
            Type::Paren(p) => {
                self.open('(');
                let ok = self.ty(&p.elem);
                self.close(')');
                ok
            }
            // An invisible group prints as its content.
            Type::Group(g) => self.ty(&g.elem),
            Type::Never(_) => {
                self.punct('!');
                true
            }
            Type::TraitObject(t) => {
                if t.dyn_token.is_some() {
                    self.word("dyn");
                }
                self.bounds(&t.bounds)
            }
            Type::ImplTrait(t) => {
                self.word("impl");
                self.bounds(&t.bounds)
            }
            _ => false,
        }
    }

    fn bounds(
        &mut self,
        bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>,
    ) -> bool {
        for pair in bounds.pairs() {
            match pair.value() {
                syn::TypeParamBound::Trait(t)
                    if t.paren_token.is_none() && t.lifetimes.is_none() =>
                {
                    if let syn::TraitBoundModifier::Maybe(_) = t.modifier {
                        self.punct('?');
                    }
                    if !self.path(&t.path, true) {
                        return false;
                    }
                }
                syn::TypeParamBound::Lifetime(l) => self.lifetime(l),
                _ => return false,
            }
            if pair.punct().is_some() {
                self.punct('+');
            }
        }
        true
    }

    /// A path; `args` false prints it the way attribute paths print (without generic
    /// arguments).
    fn path(&mut self, path: &syn::Path, args: bool) -> bool {
        if path.leading_colon.is_some() {
            self.punct(':');
            self.punct(':');
        }
        for pair in path.segments.pairs() {
            let seg = pair.value();
            self.ident(&seg.ident);
            if args && !self.arguments(&seg.arguments) {
                return false;
            }
            if pair.punct().is_some() {
                self.punct(':');
                self.punct(':');
            }
        }
        true
    }

    fn arguments(&mut self, arguments: &syn::PathArguments) -> bool {
        use syn::GenericArgument as G;
        match arguments {
            syn::PathArguments::None => true,
            syn::PathArguments::AngleBracketed(a) => {
                if a.colon2_token.is_some() {
                    self.punct(':');
                    self.punct(':');
                }
                self.punct('<');
                // syn prints lifetimes first whatever their place in the source, and
                // inserts a comma between the two runs when needed.
                let mut trailing_or_empty = true;
                for pair in a.args.pairs() {
                    if let G::Lifetime(l) = pair.value() {
                        self.lifetime(l);
                        if pair.punct().is_some() {
                            self.punct(',');
                        }
                        trailing_or_empty = pair.punct().is_some();
                    }
                }
                for pair in a.args.pairs() {
                    let ok = match pair.value() {
                        G::Lifetime(_) => continue,
                        G::Type(t) => {
                            if !trailing_or_empty {
                                self.punct(',');
                            }
                            self.ty(t)
                        }
                        G::AssocType(at) if at.generics.is_none() => {
                            if !trailing_or_empty {
                                self.punct(',');
                            }
                            self.ident(&at.ident);
                            self.punct('=');
                            self.ty(&at.ty)
                        }
                        _ => false,
                    };
                    if !ok {
                        return false;
                    }
                    if pair.punct().is_some() {
                        self.punct(',');
                    }
                    trailing_or_empty = pair.punct().is_some();
                }
                self.punct('>');
                true
            }
            syn::PathArguments::Parenthesized(p) => {
                self.open('(');
                for pair in p.inputs.pairs() {
                    if !self.ty(pair.value()) {
                        return false;
                    }
                    if pair.punct().is_some() {
                        self.punct(',');
                    }
                }
                self.close(')');
                match &p.output {
                    syn::ReturnType::Default => true,
                    syn::ReturnType::Type(_, t) => {
                        self.punct('-');
                        self.punct('>');
                        self.ty(t)
                    }
                }
            }
        }
    }

    fn meta(&mut self, meta: &syn::Meta) -> bool {
        match meta {
            syn::Meta::Path(p) => self.path(p, false),
            syn::Meta::List(l) => {
                self.path(&l.path, false);
                let (open, close) = match l.delimiter {
                    syn::MacroDelimiter::Paren(_) => ('(', ')'),
                    syn::MacroDelimiter::Brace(_) => ('{', '}'),
                    syn::MacroDelimiter::Bracket(_) => ('[', ']'),
                };
                self.open(open);
                write(l.tokens.clone(), self.out, &mut self.last);
                self.close(close);
                true
            }
            syn::Meta::NameValue(nv) => {
                self.path(&nv.path, false);
                self.punct('=');
                match &nv.value {
                    syn::Expr::Lit(l) if l.attrs.is_empty() => self.lit(&l.lit),
                    _ => false,
                }
            }
        }
    }
}

/// The canonical text of a token stream.
pub fn normalize_tokens(tokens: TokenStream) -> String {
    let mut out = String::new();
    let mut last = Last::Start;
    write(tokens, &mut out, &mut last);
    out
}

fn write(tokens: TokenStream, out: &mut String, last: &mut Last) {
    for tt in tokens {
        match tt {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::None => ("", ""),
                };
                if open.is_empty() {
                    write(g.stream(), out, last);
                    continue;
                }
                if *last == Last::Separator {
                    out.push(' ');
                }
                out.push_str(open);
                *last = Last::Open;
                write(g.stream(), out, last);
                out.push_str(close);
                *last = Last::Close;
            }
            TokenTree::Ident(i) => {
                word(&i.to_string(), out, last);
            }
            TokenTree::Literal(l) => {
                word(&l.to_string(), out, last);
            }
            TokenTree::Punct(p) => {
                if *last == Last::Separator {
                    out.push(' ');
                }
                let c = p.as_char();
                out.push(c);
                *last = if c == ',' || c == ';' {
                    Last::Separator
                } else {
                    Last::Punct
                };
            }
        }
    }
}

fn word(text: &str, out: &mut String, last: &mut Last) {
    if matches!(*last, Last::Word | Last::Separator | Last::Close) {
        out.push(' ');
    }
    out.push_str(text);
    *last = Last::Word;
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::visit::Visit;

    /// Checks every type, attribute and path in a file: the direct writers must give
    /// the token path's text. Returns how many it checked.
    fn agree_on_file(source: &str) -> usize {
        struct Check(usize);
        impl<'ast> Visit<'ast> for Check {
            fn visit_type(&mut self, t: &'ast syn::Type) {
                assert_eq!(normalize_type(t), normalize(t), "{}", normalize(t));
                self.0 += 1;
                syn::visit::visit_type(self, t);
            }
            fn visit_meta(&mut self, m: &'ast syn::Meta) {
                assert_eq!(normalize_meta(m), normalize(m), "{}", normalize(m));
                self.0 += 1;
                syn::visit::visit_meta(self, m);
            }
            fn visit_path(&mut self, p: &'ast syn::Path) {
                assert_eq!(normalize_path(p), normalize(p), "{}", normalize(p));
                self.0 += 1;
                syn::visit::visit_path(self, p);
            }
        }
        let file = syn::parse_file(source).unwrap();
        let mut c = Check(0);
        c.visit_file(&file);
        c.0
    }

    #[test]
    fn direct_writers_agree_with_tokens_on_this_crate() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut checked = 0;
        for sub in ["src", "tests", "examples"] {
            for e in walkdir::WalkDir::new(dir.join(sub)).into_iter().flatten() {
                if e.path().extension().is_some_and(|x| x == "rs") {
                    checked += agree_on_file(&std::fs::read_to_string(e.path()).unwrap());
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    fn ty(s: &str) -> String {
        normalize(&syn::parse_str::<syn::Type>(s).unwrap())
    }

    #[test]
    fn whitespace_does_not_matter() {
        assert_eq!(ty("Vec < Option<&'a  str> >"), "Vec<Option<&'a str>>");
        assert_eq!(ty("Vec<Option<& 'a str>>"), "Vec<Option<&'a str>>");
        assert_eq!(ty("HashMap<String,Vec<u8>>"), "HashMap<String, Vec<u8>>");
        assert_eq!(ty("[u8 ;4]"), "[u8; 4]");
        assert_eq!(ty("&mut  dyn Fn(u8)->u8"), ty("&mut dyn Fn (u8) -> u8"));
        assert_eq!(ty("(A,B)"), "(A, B)");
    }

    #[test]
    fn fast_path_agrees_with_tokens() {
        for text in [
            "u8",
            "std::string::String",
            "::core::fmt::Formatter",
            "Self",
            "&Self",
            "&mut Self",
            "&'a str",
            "&'a mut Vec<u8>",
            "& 'static  mut  ::a::B",
            "&&mut &'a T",
            "r#type",
            "Vec<u8>",
            "[u8; 4]",
            "(A, B)",
            "dyn Fn(u8) -> u8",
            "&dyn Trait",
            "<T as Tr>::Out",
        ] {
            let t: syn::Type = syn::parse_str(text).unwrap();
            assert_eq!(normalize_type(&t), normalize(&t), "{text}");
        }
    }

    #[test]
    fn attributes_normalise_too() {
        let attr: syn::Attribute = syn::parse_quote!(#[cfg(feature="x")]);
        assert_eq!(normalize(&attr.meta), "cfg(feature=\"x\")");
    }
}
