//! The file parser: syn's own item grammar, except that the initialiser of a top-level
//! `const` or `static` is stepped over as tokens instead of being parsed as an
//! expression, when nothing in it could hold an item.
//!
//! The graph takes nothing from such an initialiser except the items declared inside
//! it (`const _: () = { impl Foo {} };`), and an item can only be declared inside a
//! block, so an initialiser whose tokens contain no `{ }` group yields nothing whether
//! it is parsed or not. Generated tables are exactly that (`regex-syntax`'s Unicode
//! tables are half of its source: `&[('a', 'z'), ...]`), and parsing them into
//! expression trees costs more than all the rest of the file. Every other item, and
//! every initialiser with a brace in it, goes through `syn::Item`'s parser unchanged,
//! so the items and the facts drawn from them are the same as with `syn::parse_file`.
//!
//! What is given up: a syntax error inside a skipped initialiser (tokens that lex but
//! are not an expression) is not reported; the file is read as if the initialiser were
//! well formed.

use syn::buffer::Cursor;
use syn::ext::IdentExt;
use syn::parse::discouraged::Speculative;
use syn::parse::ParseStream;
use syn::{Attribute, Item, Token};

/// A parsed file: inner attributes and items, as `syn::File` holds them.
pub(crate) struct ParsedFile {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) items: Vec<Item>,
}

/// Parses `content` as a file. With `skip_data`, brace-free initialisers of top-level
/// consts and statics are stepped over (see the module documentation); without it this
/// is `syn::parse_file`.
pub(crate) fn parse_file(content: &str, skip_data: bool) -> syn::Result<ParsedFile> {
    const BOM: &str = "\u{feff}";
    let content = content.strip_prefix(BOM).unwrap_or(content);
    let shebang = content
        .strip_prefix("#!")
        .is_some_and(|rest| !rest.trim_start().starts_with('['));
    if !skip_data || shebang {
        // A first line that may be a shebang (`#!` not followed by an inner attribute's
        // `[`) is left to syn's own handling; such files are scripts, not tables.
        return syn::parse_file(content).map(|f| ParsedFile {
            attrs: f.attrs,
            items: f.items,
        });
    }
    syn::parse::Parser::parse_str(parse_items, content)
}

/// `syn::File`'s grammar with the data-item shortcut.
fn parse_items(input: ParseStream<'_>) -> syn::Result<ParsedFile> {
    let attrs = input.call(Attribute::parse_inner)?;
    let mut items = Vec::new();
    while !input.is_empty() {
        match data_item(input) {
            Some(item) => items.push(item),
            None => items.push(input.parse()?),
        }
    }
    Ok(ParsedFile { attrs, items })
}

/// A `const` or `static` with a brace-free initialiser, parsed without its initialiser;
/// `None` (and the input untouched) for anything else.
fn data_item(input: ParseStream<'_>) -> Option<Item> {
    if !starts_data_item(input) {
        return None;
    }
    let fork = input.fork();
    let item = data_item_on(&fork).ok()?;
    input.advance_to(&fork);
    Some(item)
}

/// A cheap look past outer attributes and visibility for `const NAME:` or `static`.
fn starts_data_item(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    // Outer attributes (doc comments are `#[doc = ...]` too) are stepped over as tokens.
    let skipped = fork.step(|cursor| {
        let mut rest = *cursor;
        while let Some((p, next)) = rest.punct() {
            match next.group(proc_macro2::Delimiter::Bracket) {
                Some((_, _, after)) if p.as_char() == '#' => rest = after,
                _ => break,
            }
        }
        Ok(((), rest))
    });
    if skipped.is_err() {
        return false;
    }
    if fork.peek(Token![pub]) && fork.parse::<syn::Visibility>().is_err() {
        return false;
    }
    if fork.peek(Token![const]) {
        (fork.peek2(syn::Ident) || fork.peek2(Token![_])) && fork.peek3(Token![:])
    } else {
        fork.peek(Token![static])
    }
}

/// The item, as syn's parser would build it, with an empty verbatim initialiser. Fails
/// (and the caller falls back to syn's parser) on anything that is not exactly
/// `const NAME: Type = tokens;` or `static [mut] NAME: Type = tokens;` with no brace and
/// no `where` among the tokens.
fn data_item_on(input: ParseStream<'_>) -> syn::Result<Item> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: syn::Visibility = input.parse()?;
    let empty = || Box::new(syn::Expr::Verbatim(proc_macro2::TokenStream::new()));
    if input.peek(Token![const]) {
        let const_token: Token![const] = input.parse()?;
        let ident = input.call(syn::Ident::parse_any)?;
        let colon_token: Token![:] = input.parse()?;
        let ty: syn::Type = input.parse()?;
        let eq_token: Token![=] = input.parse()?;
        skip_initializer(input)?;
        let semi_token: Token![;] = input.parse()?;
        Ok(Item::Const(syn::ItemConst {
            attrs,
            vis,
            const_token,
            ident,
            generics: syn::Generics::default(),
            colon_token,
            ty: Box::new(ty),
            eq_token,
            expr: empty(),
            semi_token,
        }))
    } else {
        let static_token: Token![static] = input.parse()?;
        let mutability: syn::StaticMutability = input.parse()?;
        let ident: syn::Ident = input.parse()?;
        let colon_token: Token![:] = input.parse()?;
        let ty: syn::Type = input.parse()?;
        let eq_token: Token![=] = input.parse()?;
        skip_initializer(input)?;
        let semi_token: Token![;] = input.parse()?;
        Ok(Item::Static(syn::ItemStatic {
            attrs,
            vis,
            static_token,
            mutability,
            ident,
            colon_token,
            ty: Box::new(ty),
            eq_token,
            expr: empty(),
            semi_token,
        }))
    }
}

/// Steps up to (not over) the `;` that ends the initialiser; fails on a brace group, a
/// `where`, or the end of input.
fn skip_initializer(input: ParseStream<'_>) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        loop {
            if let Some((p, _)) = rest.punct() {
                if p.as_char() == ';' {
                    return Ok(((), rest));
                }
            }
            match skip_tree(rest) {
                Some(next) => rest = next,
                None => return Err(cursor.error("not a plain initialiser")),
            }
        }
    })
}

/// The cursor after one token tree that holds no brace group and no `where`; `None` at
/// the end or on one that does.
fn skip_tree(c: Cursor<'_>) -> Option<Cursor<'_>> {
    if let Some((inner, delimiter, _, next)) = c.any_group() {
        if delimiter == proc_macro2::Delimiter::Brace {
            return None;
        }
        let mut i = inner;
        while !i.eof() {
            i = skip_tree(i)?;
        }
        return Some(next);
    }
    if let Some((_, next)) = c.punct() {
        return Some(next);
    }
    if let Some((_, next)) = c.literal() {
        return Some(next);
    }
    if let Some((_, next)) = c.lifetime() {
        return Some(next);
    }
    match c.ident() {
        Some((ident, _)) if ident == "where" => None,
        Some((_, next)) => Some(next),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debug(content: &str, skip: bool) -> Vec<String> {
        let f = parse_file(content, skip).unwrap();
        f.items
            .iter()
            .map(|i| match i {
                Item::Const(c) => format!(
                    "const {} {} {}",
                    c.ident,
                    c.attrs.len(),
                    quote::ToTokens::to_token_stream(&c.ty)
                ),
                Item::Static(s) => format!(
                    "static {} {}",
                    s.ident,
                    quote::ToTokens::to_token_stream(&s.ty)
                ),
                other => quote::ToTokens::to_token_stream(other).to_string(),
            })
            .collect()
    }

    #[test]
    fn plain_initialisers_are_stepped_over() {
        let src = "#![allow(x)]\n/// doc\n#[cfg(a)] pub const A: &[(char, char)] = &[('a', 'z'), ('\\u{300}', 'ʹ')];\n\
                   pub(crate) static mut B: u8 = f(1) + <u8 as T>::X;\nconst _: u8 = 0;\nfn g() {}\n";
        let fast = parse_file(src, true).unwrap();
        assert_eq!(fast.attrs.len(), 1);
        assert_eq!(fast.items.len(), 4);
        for item in &fast.items[..3] {
            let expr = match item {
                Item::Const(c) => &c.expr,
                Item::Static(s) => &s.expr,
                other => panic!("{other:?}"),
            };
            assert!(
                matches!(&**expr, syn::Expr::Verbatim(t) if t.is_empty()),
                "{}",
                quote::ToTokens::to_token_stream(item)
            );
        }
        assert_eq!(debug(src, true), debug(src, false));
    }

    #[test]
    fn initialisers_that_may_hold_items_are_parsed() {
        let src =
            "const _: () = { impl A {} };\nstatic S: u8 = m!{ 1 };\nconst C: [u8; 1] = [{ 1 }];\n\
                   static T: u8;\nconst fn f() {}\nconst G<T>: u8 = 1;\n";
        let fast = parse_file(src, true).unwrap();
        let full = parse_file(src, false).unwrap();
        assert_eq!(fast.items, full.items);
    }

    #[test]
    fn a_bad_file_fails_where_syn_fails() {
        for src in [
            "const A: u8 = 1",
            "const A: = 1;",
            "static A: u8 = 1; fn",
            "pub(in) const X: u8 = 0;",
        ] {
            let fast = parse_file(src, true).map(|_| ()).map_err(|e| e.to_string());
            let full = parse_file(src, false)
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(fast, full, "{src}");
        }
    }
}
