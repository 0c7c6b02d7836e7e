//! The canonical text of a type or attribute: a function of its tokens only, so two
//! spellings that differ in whitespace (or in how punctuation was glued) give one string.
//!
//! The rule: a space between two words (identifiers and literals) and after `,` and `;`,
//! and nowhere else. `Vec < Option<&'a  str> >` becomes `Vec<Option<&'a str>>`.

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

/// The canonical text of a type: the same string as [`normalize`] gives, with a fast
/// path for plain paths (`u8`, `std::string::String`, `Self`) and references to them,
/// the common cases, which skips building a token stream.
pub fn normalize_type(ty: &syn::Type) -> String {
    let mut out = String::new();
    if fast_type(ty, &mut out) {
        out
    } else {
        normalize(ty)
    }
}

/// Appends the canonical text of `ty` if it is a plain path or a reference to a type
/// this function handles; returns false (with `out` in any state) otherwise.
fn fast_type(ty: &syn::Type, out: &mut String) -> bool {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => {
            if p.path.leading_colon.is_some() {
                out.push_str("::");
            }
            for (i, seg) in p.path.segments.iter().enumerate() {
                if !seg.arguments.is_none() {
                    return false;
                }
                if i > 0 {
                    out.push_str("::");
                }
                out.push_str(&seg.ident.to_string());
            }
            true
        }
        syn::Type::Reference(r) => {
            out.push('&');
            let mut word = false;
            if let Some(l) = &r.lifetime {
                out.push('\'');
                out.push_str(&l.ident.to_string());
                word = true;
            }
            if r.mutability.is_some() {
                if word {
                    out.push(' ');
                }
                out.push_str("mut");
                word = true;
            }
            // The referent starts with a word (a path) or a punctuation mark (`&`, `::`);
            // only a word after a word takes a space.
            let before = out.len();
            if !fast_type(&r.elem, out) {
                return false;
            }
            let starts_with_word = out[before..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if word && starts_with_word {
                out.insert(before, ' ');
            }
            true
        }
        _ => false,
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
