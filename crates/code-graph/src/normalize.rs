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
    fn attributes_normalise_too() {
        let attr: syn::Attribute = syn::parse_quote!(#[cfg(feature="x")]);
        assert_eq!(normalize(&attr.meta), "cfg(feature=\"x\")");
    }
}
