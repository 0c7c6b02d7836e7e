//! A reader of function bodies for the body shortcut (see [`crate::hollow`]).
//!
//! It follows syn's grammar for statements, expressions, patterns and types, keeps only
//! what the graph takes from a body, and records it as a list of [`Ev`]ents in the
//! order syn's visitor in `extract.rs` meets them: call sites, what each method call's
//! receiver is, the bindings of `let`s, patterns and closure parameters, and the scopes
//! they live in. The extractor replays the events with the same rules it applies to a
//! syn tree, so the facts are the same.
//!
//! It reads a subset of Rust and refuses the rest (`None`): items and item macros in a
//! body, inner attributes, macros whose arguments are not expressions, `try` and
//! `const` blocks, qualified paths in patterns, anything unusual in a type. A refused
//! body is left to syn. It is never looser than syn where the difference could change
//! a fact: a macro is read only when its arguments parse as expressions here, which
//! implies they do for syn.

use crate::extract::MAX_RECV_DEPTH;
use crate::lex::{Kind, Tok};

/// What a body says, in visiting order.
#[derive(Debug, Default)]
pub(crate) struct Body {
    pub(crate) events: Vec<Ev>,
    /// Byte ranges of the items declared in the body (attributes included), in source
    /// order: they stay in the text, for syn to parse as the block's statements.
    pub(crate) kept: Vec<(u32, u32)>,
}

#[derive(Debug)]
pub(crate) enum Ev {
    /// A call of a path (`f(..)`, `a::b(..)`); `true` for a one-segment path.
    Call(Vec<String>, bool),
    /// A call of something that is not a path.
    Opaque,
    /// `recv.name(..)`.
    Method(String, RSyn),
    Push,
    Pop,
    /// A pattern bound to a value (`None`: nothing known).
    Bind(PSyn, Option<RSyn>),
}

/// An expression, as far as a receiver description needs it.
#[derive(Debug, Clone)]
pub(crate) enum RSyn {
    Other,
    /// A one-segment path without arguments (`self`, a local).
    Ident(String),
    Field(Box<RSyn>, String),
    MethodRet(Box<RSyn>, String),
    CallRet(Vec<String>),
    Struct(Vec<String>),
    Cast(Ty),
    /// Parentheses, a reference or a dereference.
    Wrap(Box<RSyn>),
}

/// A pattern, as far as binding needs it.
#[derive(Debug)]
pub(crate) enum PSyn {
    /// `name` or `name @ sub` (`ref`/`mut` dropped).
    Ident(String, Option<Box<PSyn>>),
    /// `pat: Type`.
    Typed(Box<PSyn>, Ty),
    /// `&pat` or `(pat)`.
    Ref(Box<PSyn>),
    /// `Path(a, b, ..)`: elements, `None` for `..`.
    TupleStruct(Vec<String>, Vec<Option<PSyn>>),
    /// `Path { a, b: pat, .. }`.
    Struct(Vec<String>, Vec<(String, PSyn)>),
    /// Any other pattern: the names it binds, in order.
    Names(Vec<String>),
}

/// A type, as far as `recv::ty_ref` needs it.
#[derive(Debug, Clone)]
pub(crate) enum Ty {
    /// A reference, parentheses.
    Ref(Box<Ty>),
    Path {
        segs: Vec<String>,
        leading_colon: bool,
        args: Args,
    },
    /// `impl`/`dyn` bounds: the trait paths, `Sized` left out.
    Bounds(Vec<Vec<String>>),
    Other,
}

/// The arguments of a path type's last segment.
#[derive(Debug, Clone)]
pub(crate) enum Args {
    None,
    /// `<...>`, with the first argument when it is a type.
    Angle(Option<Box<Ty>>),
    /// `(...) -> ...`.
    Paren,
}

/// How deep the reader recurses before it gives the body to syn.
const MAX_DEPTH: u32 = 96;

/// Keywords (strict and reserved) other than the path keywords `self`, `Self`,
/// `super` and `crate`.
fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "as" | "async"
            | "await"
            | "become"
            | "box"
            | "break"
            | "const"
            | "continue"
            | "do"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "macro"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "static"
            | "struct"
            | "trait"
            | "true"
            | "try"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "yield"
            | "abstract"
            | "final"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
    )
}

/// Reads the body between the braces at `open` and `close`.
pub(crate) fn parse(toks: &[Tok], src: &str, open: usize, close: usize) -> Option<Body> {
    let mut p = P {
        t: toks,
        s: src,
        i: open + 1,
        end: close,
        ev: Vec::new(),
        kept: Vec::new(),
        depth: 0,
    };
    // Inner attributes of a function body are the function's attributes.
    if p.punct(b'#') && p.punct_at(p.i + 1, b'!') {
        return None;
    }
    p.ev.push(Ev::Push);
    p.stmts()?;
    p.ev.push(Ev::Pop);
    Some(Body {
        events: p.ev,
        kept: p.kept,
    })
}

/// A parsed expression.
struct E {
    r: RSyn,
    /// Where its events start (a call's event goes before its callee's and receiver's).
    start: usize,
    /// The path it is, when it is a plain path (no `<T as Trait>::`).
    path: Option<(Vec<String>, bool)>,
    block_like: bool,
    range: bool,
    /// The precedence of its top binary operator (0: none).
    prec: u8,
}

impl E {
    fn other(start: usize) -> E {
        E {
            r: RSyn::Other,
            start,
            path: None,
            block_like: false,
            range: false,
            prec: 0,
        }
    }
}

const ASSIGN: u8 = 1;
const RANGE: u8 = 2;
const COMPARE: u8 = 6;
const CAST: u8 = 13;

struct P<'a> {
    t: &'a [Tok],
    s: &'a str,
    i: usize,
    end: usize,
    ev: Vec<Ev>,
    kept: Vec<(u32, u32)>,
    depth: u32,
}

impl<'a> P<'a> {
    // ---- tokens ----

    fn at_end(&self) -> bool {
        self.i >= self.end
    }

    fn tok(&self, i: usize) -> Option<&'a Tok> {
        if i < self.end {
            self.t.get(i)
        } else {
            None
        }
    }

    fn text(&self, i: usize) -> &'a str {
        let t = &self.t[i];
        &self.s[t.start as usize..t.end as usize]
    }

    fn punct_at(&self, i: usize, c: u8) -> bool {
        self.tok(i).is_some_and(|t| t.kind == Kind::Punct && t.ch == c)
    }

    fn punct(&self, c: u8) -> bool {
        self.punct_at(self.i, c)
    }

    /// `c1c2` as one operator at `i` (`::`, `=>`, `..`).
    fn punct2_at(&self, i: usize, c1: u8, c2: u8) -> bool {
        self.punct_at(i, c1) && self.t[i].joint && self.punct_at(i + 1, c2)
    }

    fn punct2(&self, c1: u8, c2: u8) -> bool {
        self.punct2_at(self.i, c1, c2)
    }

    fn word_at(&self, i: usize) -> Option<&'a str> {
        let t = self.tok(i)?;
        (t.kind == Kind::Ident).then(|| self.text(i))
    }

    fn word(&self) -> Option<&'a str> {
        self.word_at(self.i)
    }

    fn is_word(&self, w: &str) -> bool {
        self.word() == Some(w)
    }

    fn is_word_at(&self, i: usize, w: &str) -> bool {
        self.word_at(i) == Some(w)
    }

    fn open_at(&self, i: usize, c: u8) -> bool {
        self.tok(i).is_some_and(|t| t.kind == Kind::Open && t.ch == c)
    }

    fn open(&self, c: u8) -> bool {
        self.open_at(self.i, c)
    }

    fn eat_punct(&mut self, c: u8) -> Option<()> {
        if self.punct(c) {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Runs `f` inside the group opening at the current token, which must be `c`; `f`
    /// must consume the whole group.
    fn group<R>(&mut self, c: u8, f: impl FnOnce(&mut Self) -> Option<R>) -> Option<R> {
        if !self.open(c) {
            return None;
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let close = self.t[self.i].close as usize;
        let outer = self.end;
        self.i += 1;
        self.end = close;
        let r = f(self)?;
        if self.i != close {
            return None;
        }
        self.end = outer;
        self.i = close + 1;
        self.depth -= 1;
        Some(r)
    }

    fn deeper(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    // ---- attributes ----

    /// Outer attributes (`#[path]`, `#[path(...)]`, `#[path = literal]`), stepped over.
    fn attrs(&mut self) -> Option<()> {
        while self.punct(b'#') {
            self.i += 1;
            self.attr_body()?;
        }
        Some(())
    }

    fn attr_body(&mut self) -> Option<()> {
        self.group(b'[', |p| {
            p.eat_word("unsafe");
            p.mod_path()?;
            if p.punct(b'=') {
                p.i += 1;
                if p.tok(p.i)?.kind != Kind::Literal {
                    return None;
                }
                p.i += 1;
            } else if let Some(t) = p.tok(p.i) {
                if t.kind != Kind::Open {
                    return None;
                }
                p.i = t.close as usize + 1;
            }
            Some(())
        })
    }

    /// `a::b::c` without arguments.
    fn mod_path(&mut self) -> Option<Vec<String>> {
        let mut segs = Vec::new();
        if self.punct2(b':', b':') {
            self.i += 2;
        }
        loop {
            let w = self.word()?;
            if is_keyword(w) {
                return None;
            }
            segs.push(w.to_string());
            self.i += 1;
            if self.punct2(b':', b':') && self.word_at(self.i + 2).is_some() {
                self.i += 2;
            } else {
                return Some(segs);
            }
        }
    }

    // ---- statements ----

    fn stmts(&mut self) -> Option<()> {
        loop {
            while self.punct(b';') {
                self.i += 1;
            }
            if self.at_end() {
                return Some(());
            }
            let stmt = self.i;
            self.attrs()?;
            if self.is_word("let") {
                self.local()?;
                continue;
            }
            if self.item_start() {
                self.keep_item(stmt)?;
                continue;
            }
            if let Some(done) = self.stmt_macro(stmt)? {
                if done {
                    continue;
                }
            }
            let e = self.expr_early()?;
            if self.punct(b';') {
                self.i += 1;
            } else if self.at_end() || e.block_like {
                // A tail expression, or one that needs no `;`.
            } else {
                return None;
            }
        }
    }

    /// An item declared in the body, from its first attribute at `from`: left in the
    /// text for syn (see [`Body::kept`]).
    fn keep_item(&mut self, from: usize) -> Option<()> {
        let next = crate::hollow::item_end(self.t, self.s, from, self.end)?;
        if next <= from || next > self.end {
            return None;
        }
        self.kept.push((self.t[from].start, self.t[next - 1].end));
        self.i = next;
        Some(())
    }

    /// syn's test for an item in statement position.
    fn item_start(&self) -> bool {
        let Some(w) = self.word() else {
            return false;
        };
        let w2 = self.word_at(self.i + 1);
        match w {
            "pub" | "extern" | "use" | "fn" | "mod" | "type" | "struct" | "enum" | "trait"
            | "impl" | "macro" => true,
            "crate" => !self.punct2_at(self.i + 1, b':', b':'),
            "static" => w2.is_some_and(|w| w == "mut" || !is_keyword(w) || w == "async"),
            "const" => !self.open_at(self.i + 1, b'{'),
            "unsafe" => !self.open_at(self.i + 1, b'{'),
            "async" => matches!(w2, Some("unsafe" | "extern" | "fn")),
            "union" => w2.is_some_and(|w| !is_keyword(w)),
            "auto" => w2 == Some("trait"),
            "default" => matches!(w2, Some("unsafe" | "impl")),
            _ => false,
        }
    }

    /// A statement `path! { ... }` (or an item macro): `Some(true)` when read,
    /// `Some(false)` when the statement is not one, `None` to refuse the body.
    fn stmt_macro(&mut self, stmt: usize) -> Option<Option<bool>> {
        let save = self.i;
        let path = self.mod_path();
        let cfg_if = path.as_ref().and_then(|p| p.last()).is_some_and(|l| l == "cfg_if");
        let is_path = path.is_some();
        let bang = is_path && self.punct(b'!') && !self.punct2(b'!', b'=');
        if !bang {
            self.i = save;
            return Some(Some(false));
        }
        let after = self.i + 1;
        if self.word_at(after).is_some() {
            // `macro_rules! name { ... }` and other item macros.
            self.keep_item(stmt)?;
            return Some(Some(true));
        }
        if self.open_at(after, b'{') {
            let next = self.t[after].close as usize + 1;
            let trailer = (self.punct_at(next, b'.') && !self.punct2_at(next, b'.', b'.'))
                || self.punct_at(next, b'?');
            if !trailer {
                self.i = after;
                self.macro_args(cfg_if)?;
                if self.punct(b';') {
                    self.i += 1;
                }
                return Some(Some(true));
            }
        }
        self.i = save;
        Some(Some(false))
    }

    /// The arguments of a macro (the group at the current token) as `a, b; c`; `cfg_if`
    /// says whether the macro is `cfg_if!`.
    ///
    /// When they are not expressions for certain (an expression read completely is
    /// followed by something other than `,` or `;`, as in `select! { _ = f => {} }`
    /// or `trace!(target: "x")`), syn's reading fails too and the macro contributes
    /// nothing, unless its tokens could be items (a statement macro's items belong to
    /// the body): then the body is refused.
    fn macro_args(&mut self, cfg_if: bool) -> Option<()> {
        let t = self.tok(self.i)?;
        if t.kind != Kind::Open {
            return None;
        }
        let (close, outer, depth) = (t.close as usize, self.end, self.depth);
        let (first_event, first_kept) = (self.ev.len(), self.kept.len());
        let may_be_items = cfg_if || self.could_start_item(self.i + 1, close);
        self.i += 1;
        self.end = close;
        let mut read = true;
        while !self.at_end() {
            self.expr(true)?;
            if self.at_end() {
                break;
            }
            if self.punct(b';') || self.punct(b',') {
                self.i += 1;
            } else {
                read = false;
                break;
            }
        }
        if !read {
            if may_be_items {
                return None;
            }
            self.ev.truncate(first_event);
            self.kept.truncate(first_kept);
            self.depth = depth;
        }
        self.end = outer;
        self.i = close + 1;
        Some(())
    }

    /// Whether the tokens from `i` (up to `end`) could begin an item.
    fn could_start_item(&self, i: usize, end: usize) -> bool {
        if i >= end {
            return false;
        }
        let t = &self.t[i];
        match t.kind {
            Kind::Punct => t.ch == b'#' || (t.ch == b':' && t.joint),
            Kind::Ident => {
                matches!(
                    self.text(i),
                    "pub" | "fn" | "struct" | "enum" | "union" | "trait" | "impl" | "use"
                        | "const" | "static" | "extern" | "mod" | "type" | "unsafe" | "async"
                        | "default" | "auto" | "macro" | "macro_rules" | "safe"
                ) || (i + 1 < end
                    && self.t[i + 1].kind == Kind::Punct
                    && (self.t[i + 1].ch == b'!' || (self.t[i + 1].ch == b':' && self.t[i + 1].joint)))
            }
            _ => false,
        }
    }

    fn local(&mut self) -> Option<()> {
        self.i += 1;
        let mut pat = self.pat_single()?;
        if self.punct(b':') && !self.punct2(b':', b':') {
            self.i += 1;
            let ty = self.ty(true)?;
            pat = PSyn::Typed(Box::new(pat), ty);
        }
        let mut value = None;
        if self.punct(b'=') && !self.punct2(b'=', b'=') && !self.punct2(b'=', b'>') {
            self.i += 1;
            let e = self.expr(true)?;
            if self.is_word("else") {
                self.i += 1;
                self.block()?;
            }
            value = Some(e.r);
        }
        self.eat_punct(b';')?;
        self.ev.push(Ev::Bind(pat, value));
        Some(())
    }

    // ---- expressions ----

    /// A statement's expression: a block-like expression ends it unless `.` or `?`
    /// follows.
    fn expr_early(&mut self) -> Option<E> {
        self.attrs()?;
        let start = self.ev.len();
        let block_like = match self.word() {
            Some("if" | "while" | "for" | "loop" | "match") => true,
            Some("unsafe") => self.open_at(self.i + 1, b'{'),
            Some(_) => false,
            None => {
                self.open(b'{')
                    || self.tok(self.i).is_some_and(|t| t.kind == Kind::Lifetime)
            }
        };
        if !block_like {
            let e = self.unary(true)?;
            return self.binary(e, true, 0);
        }
        let mut e = self.atom(true)?;
        e.start = start;
        if (self.punct(b'.') && !self.punct2(b'.', b'.')) || self.punct(b'?') {
            let mut e = self.trailers(e)?;
            e.block_like = false;
            return self.binary(e, true, 0);
        }
        e.block_like = true;
        Some(e)
    }

    /// Any expression (`allow_struct`: a path followed by `{` is a struct literal).
    fn expr(&mut self, allow_struct: bool) -> Option<E> {
        self.deeper()?;
        let e = self.unary(allow_struct)?;
        let e = self.binary(e, allow_struct, 0);
        self.depth -= 1;
        e
    }

    /// The binary operator at the current token: its precedence and length.
    fn binop(&self) -> Option<(u8, usize)> {
        let t = self.tok(self.i)?;
        if t.kind != Kind::Punct {
            return None;
        }
        let c0 = t.ch;
        let next = |k: usize| -> Option<u8> {
            let prev = self.tok(self.i + k - 1)?;
            if !prev.joint {
                return None;
            }
            let t = self.tok(self.i + k)?;
            (t.kind == Kind::Punct).then_some(t.ch)
        };
        let c1 = next(1);
        let c2 = c1.and_then(|_| next(2));
        if let (Some(a), Some(b'=')) = (c1, c2) {
            if (c0 == b'<' && a == b'<') || (c0 == b'>' && a == b'>') {
                return Some((ASSIGN, 3));
            }
        }
        if let Some(a) = c1 {
            let two = match (c0, a) {
                (b'&', b'&') => Some(4),
                (b'|', b'|') => Some(3),
                (b'=', b'=') | (b'!', b'=') | (b'<', b'=') | (b'>', b'=') => Some(COMPARE),
                (b'<', b'<') | (b'>', b'>') => Some(10),
                (b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'&' | b'|', b'=') => Some(ASSIGN),
                _ => None,
            };
            if let Some(p) = two {
                return Some((p, 2));
            }
        }
        let one = match c0 {
            b'<' | b'>' => COMPARE,
            b'|' => 7,
            b'^' => 8,
            b'&' => 9,
            b'+' | b'-' => 11,
            b'*' | b'/' | b'%' => 12,
            _ => return None,
        };
        Some((one, 1))
    }

    fn is_assign(&self) -> bool {
        self.punct(b'=') && !self.punct2(b'=', b'=') && !self.punct2(b'=', b'>')
    }

    fn is_range_op(&self) -> bool {
        self.punct2(b'.', b'.')
    }

    /// `..`, `..=` or `...`: its length.
    fn range_len(&self) -> usize {
        if self.t[self.i + 1].joint && (self.punct_at(self.i + 2, b'=') || self.punct_at(self.i + 2, b'.')) {
            3
        } else {
            2
        }
    }

    fn peek_prec(&self) -> u8 {
        if let Some((p, _)) = self.binop() {
            p
        } else if self.is_assign() {
            ASSIGN
        } else if self.is_range_op() {
            RANGE
        } else if self.is_word("as") {
            CAST
        } else {
            0
        }
    }

    fn binary(&mut self, mut lhs: E, allow_struct: bool, base: u8) -> Option<E> {
        loop {
            if lhs.range {
                break;
            }
            if let Some((prec, len)) = self.binop() {
                if prec < base {
                    break;
                }
                if prec == COMPARE && lhs.prec == COMPARE {
                    return None;
                }
                self.i += len;
                self.rhs(allow_struct, prec)?;
                lhs = E {
                    prec,
                    ..E::other(lhs.start)
                };
            } else if ASSIGN >= base && self.is_assign() {
                self.i += 1;
                self.rhs(allow_struct, ASSIGN)?;
                lhs = E::other(lhs.start);
            } else if RANGE >= base && self.is_range_op() {
                self.i += self.range_len();
                if self.begins_range_end(allow_struct) {
                    self.rhs(allow_struct, RANGE)?;
                }
                lhs = E {
                    range: true,
                    ..E::other(lhs.start)
                };
            } else if CAST >= base && self.is_word("as") {
                self.i += 1;
                let ty = self.ty(false)?;
                if self.punct(b'<') {
                    return None;
                }
                lhs = E {
                    r: RSyn::Cast(ty),
                    ..E::other(lhs.start)
                };
            } else {
                break;
            }
        }
        Some(lhs)
    }

    fn rhs(&mut self, allow_struct: bool, prec: u8) -> Option<()> {
        self.deeper()?;
        let mut rhs = self.unary(allow_struct)?;
        loop {
            let next = self.peek_prec();
            if next > prec || (next == prec && prec == ASSIGN) {
                let at = self.i;
                rhs = self.binary(rhs, allow_struct, next)?;
                if at == self.i {
                    break;
                }
            } else {
                break;
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Whether an expression can begin here (syn's `Expr::peek`).
    fn begins_expr(&self) -> bool {
        let Some(t) = self.tok(self.i) else {
            return false;
        };
        match t.kind {
            Kind::Ident => self.text(self.i) != "as",
            Kind::Literal | Kind::Open | Kind::Lifetime => true,
            Kind::Punct => match t.ch {
                b'!' => !self.punct2(b'!', b'='),
                b'-' => !self.punct2(b'-', b'=') && !self.punct2(b'-', b'>'),
                b'*' => !self.punct2(b'*', b'='),
                b'|' => !self.punct2(b'|', b'='),
                b'&' => !self.punct2(b'&', b'='),
                b'.' => self.punct2(b'.', b'.'),
                b'<' => !self.punct2(b'<', b'=') && !(self.punct2(b'<', b'<') && self.punct2_at(self.i + 1, b'<', b'=')),
                b':' => self.punct2(b':', b':'),
                b'#' => true,
                _ => false,
            },
            Kind::Close => false,
        }
    }

    fn begins_range_end(&self, allow_struct: bool) -> bool {
        if !allow_struct && self.open(b'{') {
            return false;
        }
        if self.punct2(b'=', b'>') || self.is_assign() {
            return false;
        }
        self.begins_expr() && !(self.punct(b'.') && !self.punct2(b'.', b'.'))
    }

    fn unary(&mut self, allow_struct: bool) -> Option<E> {
        self.deeper()?;
        self.attrs()?;
        let start = self.ev.len();
        let e = if self.punct(b'&') {
            self.i += 1;
            let raw = self.is_word("raw") && matches!(self.word_at(self.i + 1), Some("mut" | "const"));
            if raw {
                self.i += 2;
                self.unary(allow_struct)?;
                E::other(start)
            } else {
                self.eat_word("mut");
                let inner = self.unary(allow_struct)?;
                E {
                    r: RSyn::Wrap(Box::new(cap(inner.r, CAP))),
                    ..E::other(start)
                }
            }
        } else if self.punct(b'*') {
            self.i += 1;
            let inner = self.unary(allow_struct)?;
            E {
                r: RSyn::Wrap(Box::new(cap(inner.r, CAP))),
                ..E::other(start)
            }
        } else if self.punct(b'!') || self.punct(b'-') {
            self.i += 1;
            self.unary(allow_struct)?;
            E::other(start)
        } else {
            let atom = self.atom(allow_struct)?;
            self.trailers(atom)?
        };
        self.depth -= 1;
        Some(e)
    }

    /// Calls, method calls, fields, indexes, `?` and `.await` after `e`.
    fn trailers(&mut self, e: E) -> Option<E> {
        // The chain's call events, innermost first: syn's visitor meets the outermost
        // call first, then its receiver, then the arguments, so they go before the
        // atom's events in reverse (one splice for the whole chain).
        let mut chain = Vec::new();
        let e = self.chain(e, &mut chain);
        if !chain.is_empty() {
            let at = e.as_ref().map_or(self.ev.len(), |e| e.start);
            self.ev.splice(at..at, chain.into_iter().rev());
        }
        e
    }

    fn chain(&mut self, mut e: E, chain: &mut Vec<Ev>) -> Option<E> {
        loop {
            if self.open(b'(') {
                chain.push(match &e.path {
                    Some((segs, single)) => Ev::Call(segs.clone(), *single),
                    None => Ev::Opaque,
                });
                self.call_args()?;
                let r = match e.path.take() {
                    Some((segs, _)) => RSyn::CallRet(segs),
                    None => RSyn::Other,
                };
                e = E { r, ..E::other(e.start) };
            } else if self.punct(b'.') && !self.punct2(b'.', b'.') && !e.range {
                self.i += 1;
                let t = self.tok(self.i)?;
                if t.kind == Kind::Literal {
                    // `x.0`, and `x.0.1` (one float literal to the tokenizer).
                    let text = self.text(self.i);
                    let mut r = e.r;
                    for part in text.split('.') {
                        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
                            return None;
                        }
                        r = RSyn::Field(Box::new(cap(r, CAP)), part.to_string());
                    }
                    self.i += 1;
                    e = E { r, ..E::other(e.start) };
                    continue;
                }
                let name = self.word()?;
                if name == "await" {
                    self.i += 1;
                    e = E::other(e.start);
                    continue;
                }
                if is_keyword(name) || matches!(name, "self" | "Self" | "super" | "crate") {
                    return None;
                }
                self.i += 1;
                let turbofish = self.punct2(b':', b':');
                if turbofish {
                    self.i += 2;
                    self.generic_args()?;
                }
                let r = cap(e.r, CAP);
                if turbofish || self.open(b'(') {
                    chain.push(Ev::Method(name.to_string(), r.clone()));
                    self.call_args()?;
                    e = E {
                        r: RSyn::MethodRet(Box::new(r), name.to_string()),
                        ..E::other(e.start)
                    };
                } else {
                    e = E {
                        r: RSyn::Field(Box::new(r), name.to_string()),
                        ..E::other(e.start)
                    };
                }
            } else if self.open(b'[') {
                self.group(b'[', |p| p.expr(true).map(|_| ()))?;
                e = E::other(e.start);
            } else if self.punct(b'?') && !e.range {
                self.i += 1;
                e = E::other(e.start);
            } else {
                return Some(e);
            }
        }
    }

    /// `(a, b, c)` with an optional trailing comma.
    fn call_args(&mut self) -> Option<()> {
        self.group(b'(', |p| p.comma_exprs())
    }

    fn comma_exprs(&mut self) -> Option<()> {
        while !self.at_end() {
            self.expr(true)?;
            if self.at_end() {
                break;
            }
            self.eat_punct(b',')?;
        }
        Some(())
    }

    fn atom(&mut self, allow_struct: bool) -> Option<E> {
        let start = self.ev.len();
        let t = self.tok(self.i)?;
        match t.kind {
            Kind::Literal => {
                self.i += 1;
                return Some(E::other(start));
            }
            Kind::Lifetime => {
                // A label: `'a: loop {}`.
                self.i += 1;
                self.eat_punct(b':')?;
                if self.punct(b':') {
                    return None;
                }
                return match self.word() {
                    Some("while" | "for" | "loop") => self.atom(allow_struct),
                    _ if self.open(b'{') => {
                        self.block()?;
                        Some(E::other(start))
                    }
                    _ => None,
                };
            }
            Kind::Open => {
                return match t.ch {
                    b'(' => self.paren_or_tuple(start),
                    b'[' => {
                        self.group(b'[', |p| {
                            if p.at_end() {
                                return Some(());
                            }
                            p.expr(true)?;
                            if p.punct(b';') {
                                p.i += 1;
                                p.expr(true)?;
                                return Some(());
                            }
                            while !p.at_end() {
                                p.eat_punct(b',')?;
                                if p.at_end() {
                                    break;
                                }
                                p.expr(true)?;
                            }
                            Some(())
                        })?;
                        Some(E::other(start))
                    }
                    _ => {
                        self.block()?;
                        Some(E::other(start))
                    }
                };
            }
            Kind::Close => return None,
            Kind::Punct => {
                if self.punct(b'|') {
                    return self.closure(allow_struct, start);
                }
                if self.punct2(b'.', b'.') {
                    self.i += self.range_len();
                    if self.begins_range_end(allow_struct) {
                        self.rhs(allow_struct, RANGE)?;
                    }
                    return Some(E {
                        range: true,
                        ..E::other(start)
                    });
                }
                if self.punct(b'<') {
                    // `<T as Trait>::f`: a path with a qualified self.
                    self.i += 1;
                    self.ty(false)?;
                    if self.eat_word("as") {
                        self.ty_path(false)?;
                    }
                    self.eat_punct(b'>')?;
                    if !self.punct2(b':', b':') {
                        return None;
                    }
                    self.i += 2;
                    self.expr_path_rest()?;
                    if self.punct(b'!') && !self.punct2(b'!', b'=') {
                        return None;
                    }
                    if allow_struct && self.open(b'{') {
                        self.struct_fields()?;
                    }
                    return Some(E::other(start));
                }
                if self.punct2(b':', b':') {
                    return self.path_expr(allow_struct, start);
                }
                return None;
            }
            Kind::Ident => {}
        }
        let w = self.text(self.i);
        match w {
            "true" | "false" => {
                self.i += 1;
                Some(E::other(start))
            }
            "async" => {
                if self.open_at(self.i + 1, b'{') {
                    self.i += 1;
                    self.block()?;
                    Some(E::other(start))
                } else if self.is_word_at(self.i + 1, "move") && self.open_at(self.i + 2, b'{') {
                    self.i += 2;
                    self.block()?;
                    Some(E::other(start))
                } else if self.punct_at(self.i + 1, b'|') || self.is_word_at(self.i + 1, "move") {
                    self.i += 1;
                    self.closure(allow_struct, start)
                } else {
                    None
                }
            }
            "move" => self.closure(allow_struct, start),
            "break" => {
                self.i += 1;
                if self.tok(self.i).is_some_and(|t| t.kind == Kind::Lifetime) {
                    self.i += 1;
                    // syn refuses `break 'a: ...` (and with it `break 'a ::path`).
                    if self.punct(b':') {
                        return None;
                    }
                }
                let value = !(self.at_end()
                    || self.punct(b',')
                    || self.punct(b';')
                    || (!allow_struct && self.open(b'{')))
                    && self.begins_expr();
                if value {
                    self.expr(allow_struct)?;
                }
                Some(E::other(start))
            }
            "continue" => {
                self.i += 1;
                if self.tok(self.i).is_some_and(|t| t.kind == Kind::Lifetime) {
                    self.i += 1;
                }
                Some(E::other(start))
            }
            "return" => {
                self.i += 1;
                if self.begins_expr() && !self.punct(b',') && !self.punct(b';') {
                    self.expr(allow_struct)?;
                }
                Some(E::other(start))
            }
            "let" => {
                self.i += 1;
                let pat = self.pat_multi()?;
                if !self.is_assign() {
                    return None;
                }
                self.i += 1;
                let e = self.unary(allow_struct)?;
                let e = self.binary(e, allow_struct, COMPARE)?;
                self.ev.push(Ev::Bind(pat, Some(e.r)));
                Some(E::other(start))
            }
            "if" => {
                self.if_expr()?;
                Some(E::other(start))
            }
            "while" => {
                self.i += 1;
                self.ev.push(Ev::Push);
                self.expr(false)?;
                self.block()?;
                self.ev.push(Ev::Pop);
                Some(E::other(start))
            }
            "for" => {
                self.i += 1;
                if self.punct(b'<') {
                    return None;
                }
                let pat = self.pat_multi()?;
                if !self.eat_word("in") {
                    return None;
                }
                self.expr(false)?;
                self.ev.push(Ev::Push);
                self.ev.push(Ev::Bind(pat, None));
                self.block()?;
                self.ev.push(Ev::Pop);
                Some(E::other(start))
            }
            "loop" => {
                self.i += 1;
                self.block()?;
                Some(E::other(start))
            }
            "match" => {
                self.i += 1;
                self.expr(false)?;
                self.group(b'{', |p| p.arms())?;
                Some(E::other(start))
            }
            "unsafe" => {
                self.i += 1;
                self.block()?;
                Some(E::other(start))
            }
            "_" => {
                self.i += 1;
                Some(E::other(start))
            }
            "self" | "Self" | "super" | "crate" => self.path_expr(allow_struct, start),
            w if is_keyword(w) || w == "builtin" && self.punct_at(self.i + 1, b'#') => None,
            _ => self.path_expr(allow_struct, start),
        }
    }

    fn if_expr(&mut self) -> Option<()> {
        self.i += 1;
        self.ev.push(Ev::Push);
        self.expr(false)?;
        self.block()?;
        self.ev.push(Ev::Pop);
        if self.eat_word("else") {
            if self.is_word("if") {
                self.deeper()?;
                self.if_expr()?;
                self.depth -= 1;
            } else {
                self.block()?;
            }
        }
        Some(())
    }

    /// A `{ ... }` block: its statements in a scope.
    fn block(&mut self) -> Option<()> {
        self.group(b'{', |p| {
            p.ev.push(Ev::Push);
            // Inner attributes of a block expression.
            while p.punct(b'#') && p.punct_at(p.i + 1, b'!') {
                p.i += 2;
                p.attr_body()?;
            }
            p.stmts()?;
            p.ev.push(Ev::Pop);
            Some(())
        })
    }

    fn arms(&mut self) -> Option<()> {
        while !self.at_end() {
            self.attrs()?;
            let pat = self.pat_multi()?;
            self.ev.push(Ev::Push);
            self.ev.push(Ev::Bind(pat, None));
            if self.eat_word("if") {
                self.expr(true)?;
            }
            if !self.punct2(b'=', b'>') {
                return None;
            }
            self.i += 2;
            let body = self.expr_early()?;
            self.ev.push(Ev::Pop);
            if self.punct(b',') {
                self.i += 1;
            } else if !body.block_like && !self.at_end() {
                return None;
            }
        }
        Some(())
    }

    fn paren_or_tuple(&mut self, start: usize) -> Option<E> {
        self.group(b'(', |p| {
            if p.at_end() {
                return Some(E::other(start));
            }
            let first = p.expr(true)?;
            if p.at_end() {
                return Some(E {
                    r: RSyn::Wrap(Box::new(cap(first.r, CAP))),
                    ..E::other(start)
                });
            }
            while !p.at_end() {
                p.eat_punct(b',')?;
                if p.at_end() {
                    break;
                }
                p.expr(true)?;
            }
            Some(E::other(start))
        })
    }

    fn closure(&mut self, allow_struct: bool, start: usize) -> Option<E> {
        self.eat_word("move");
        let mut params = Vec::new();
        if self.punct2(b'|', b'|') {
            self.i += 2;
        } else {
            self.eat_punct(b'|')?;
            while !self.punct(b'|') {
                self.attrs()?;
                let mut pat = self.pat_single()?;
                if self.punct(b':') && !self.punct2(b':', b':') {
                    self.i += 1;
                    let ty = self.ty(false)?;
                    pat = PSyn::Typed(Box::new(pat), ty);
                }
                params.push(pat);
                if self.punct(b',') {
                    self.i += 1;
                } else if !self.punct(b'|') {
                    return None;
                }
            }
            self.i += 1;
        }
        self.ev.push(Ev::Push);
        for pat in params {
            self.ev.push(Ev::Bind(pat, None));
        }
        if self.punct2(b'-', b'>') {
            self.i += 2;
            self.ty(false)?;
            self.block()?;
        } else {
            self.expr(allow_struct)?;
        }
        self.ev.push(Ev::Pop);
        Some(E::other(start))
    }

    /// A path expression, macro or struct literal.
    fn path_expr(&mut self, allow_struct: bool, start: usize) -> Option<E> {
        let leading = self.punct2(b':', b':');
        if leading {
            self.i += 2;
        }
        let (segs, has_args) = self.expr_path_rest()?;
        if self.punct(b'!') && !self.punct2(b'!', b'=') && !has_args {
            self.i += 1;
            let t = self.tok(self.i)?;
            if t.kind != Kind::Open {
                return None;
            }
            let cfg_if = segs.last().is_some_and(|l| l == "cfg_if");
            self.macro_args(cfg_if)?;
            return Some(E::other(start));
        }
        if allow_struct && self.open(b'{') {
            self.struct_fields()?;
            return Some(E {
                r: RSyn::Struct(segs),
                ..E::other(start)
            });
        }
        let single = segs.len() == 1 && !leading && !has_args;
        let r = if single {
            RSyn::Ident(segs[0].clone())
        } else {
            RSyn::Other
        };
        Some(E {
            r,
            path: Some((segs, single)),
            ..E::other(start)
        })
    }

    /// Segments of an expression path (`a::<T>::b`): the identifiers, and whether any
    /// has generic arguments.
    fn expr_path_rest(&mut self) -> Option<(Vec<String>, bool)> {
        let mut segs = Vec::new();
        let mut has_args = false;
        loop {
            let w = self.word()?;
            if is_keyword(w) || w == "_" {
                return None;
            }
            segs.push(w.to_string());
            self.i += 1;
            if !self.punct2(b':', b':') {
                return Some((segs, has_args));
            }
            if self.punct_at(self.i + 2, b'<') {
                self.i += 2;
                self.generic_args()?;
                has_args = true;
                if !self.punct2(b':', b':') {
                    return Some((segs, has_args));
                }
            }
            if self.word_at(self.i + 2).is_none() {
                return Some((segs, has_args));
            }
            self.i += 2;
        }
    }

    /// `{ a, b: expr, 0: expr, ..base }`.
    fn struct_fields(&mut self) -> Option<()> {
        self.group(b'{', |p| {
            while !p.at_end() {
                p.attrs()?;
                if p.punct2(b'.', b'.') {
                    p.i += 2;
                    if !p.at_end() {
                        p.expr(true)?;
                    }
                    break;
                }
                let t = p.tok(p.i)?;
                match t.kind {
                    Kind::Ident if !is_keyword(p.text(p.i)) && p.text(p.i) != "_" => {}
                    Kind::Literal if p.text(p.i).bytes().all(|c| c.is_ascii_digit()) => {}
                    _ => return None,
                }
                let shorthand = t.kind == Kind::Ident;
                p.i += 1;
                if p.punct(b':') && !p.punct2(b':', b':') {
                    p.i += 1;
                    p.expr(true)?;
                } else if !shorthand {
                    return None;
                }
                if p.at_end() {
                    break;
                }
                p.eat_punct(b',')?;
            }
            Some(())
        })
    }

    // ---- patterns ----

    /// A pattern with optional leading `|` and alternatives.
    fn pat_multi(&mut self) -> Option<PSyn> {
        if self.punct(b'|') && !self.punct2(b'|', b'|') {
            self.i += 1;
        }
        let first = self.pat_single()?;
        if !(self.punct(b'|') && !self.punct2(b'|', b'|') && !self.punct2(b'|', b'=')) {
            return Some(first);
        }
        let mut names = Vec::new();
        names_of(&first, &mut names);
        while self.punct(b'|') && !self.punct2(b'|', b'|') && !self.punct2(b'|', b'=') {
            self.i += 1;
            let p = self.pat_single()?;
            names_of(&p, &mut names);
        }
        Some(PSyn::Names(names))
    }

    fn pat_single(&mut self) -> Option<PSyn> {
        self.deeper()?;
        let p = self.pat_single_inner();
        self.depth -= 1;
        p
    }

    fn pat_single_inner(&mut self) -> Option<PSyn> {
        let t = self.tok(self.i)?;
        match t.kind {
            Kind::Literal => {
                self.i += 1;
                self.pat_range_rest()?;
                return Some(PSyn::Names(Vec::new()));
            }
            Kind::Punct => {
                if self.punct(b'&') {
                    self.i += 1;
                    self.eat_word("mut");
                    let inner = self.pat_single()?;
                    return Some(PSyn::Ref(Box::new(inner)));
                }
                if self.punct(b'-') {
                    self.i += 1;
                    if self.tok(self.i)?.kind != Kind::Literal {
                        return None;
                    }
                    self.i += 1;
                    self.pat_range_rest()?;
                    return Some(PSyn::Names(Vec::new()));
                }
                if self.punct2(b'.', b'.') {
                    if self.range_len() != 2 {
                        return None;
                    }
                    self.i += 2;
                    // `..` alone is a rest pattern; `..X` is not read here.
                    if !(self.at_end() || self.punct(b',') || self.punct(b'|') || self.punct(b']')) {
                        return None;
                    }
                    return Some(PSyn::Names(Vec::new()));
                }
                if self.punct2(b':', b':') {
                    return self.pat_path();
                }
                return None;
            }
            Kind::Open => {
                return match t.ch {
                    b'(' => self.group(b'(', |p| {
                        if p.at_end() {
                            return Some(PSyn::Names(Vec::new()));
                        }
                        let first = p.pat_multi()?;
                        if p.at_end() {
                            return Some(PSyn::Ref(Box::new(first)));
                        }
                        let mut names = Vec::new();
                        names_of(&first, &mut names);
                        while !p.at_end() {
                            p.eat_punct(b',')?;
                            if p.at_end() {
                                break;
                            }
                            let e = p.pat_multi()?;
                            names_of(&e, &mut names);
                        }
                        Some(PSyn::Names(names))
                    }),
                    b'[' => self.group(b'[', |p| {
                        let mut names = Vec::new();
                        while !p.at_end() {
                            let e = p.pat_multi()?;
                            names_of(&e, &mut names);
                            if p.at_end() {
                                break;
                            }
                            p.eat_punct(b',')?;
                        }
                        Some(PSyn::Names(names))
                    }),
                    _ => None,
                };
            }
            Kind::Lifetime | Kind::Close => return None,
            Kind::Ident => {}
        }
        let w = self.text(self.i);
        match w {
            "_" => {
                self.i += 1;
                Some(PSyn::Names(Vec::new()))
            }
            "true" | "false" => {
                self.i += 1;
                Some(PSyn::Names(Vec::new()))
            }
            "box" => {
                self.i += 1;
                let inner = self.pat_single()?;
                let mut names = Vec::new();
                names_of(&inner, &mut names);
                Some(PSyn::Names(names))
            }
            "ref" | "mut" => {
                self.eat_word("ref");
                self.eat_word("mut");
                let name = self.word()?;
                if is_keyword(name) {
                    return None;
                }
                self.i += 1;
                self.pat_ident_rest(name.to_string())
            }
            "self" | "Self" | "super" | "crate" => self.pat_path(),
            w if is_keyword(w) => None,
            _ => {
                let next_is_path = self.punct2_at(self.i + 1, b':', b':')
                    || self.open_at(self.i + 1, b'(')
                    || self.open_at(self.i + 1, b'{')
                    || self.punct_at(self.i + 1, b'!')
                    || self.punct_at(self.i + 1, b'<')
                    || self.punct2_at(self.i + 1, b'.', b'.');
                if next_is_path {
                    return self.pat_path();
                }
                self.i += 1;
                self.pat_ident_rest(w.to_string())
            }
        }
    }

    fn pat_ident_rest(&mut self, name: String) -> Option<PSyn> {
        if self.punct(b'@') {
            self.i += 1;
            let sub = self.pat_single()?;
            return Some(PSyn::Ident(name, Some(Box::new(sub))));
        }
        Some(PSyn::Ident(name, None))
    }

    /// After a literal or path: `..=end`, `..end` or `...end`, or nothing.
    fn pat_range_rest(&mut self) -> Option<()> {
        if !self.punct2(b'.', b'.') {
            return Some(());
        }
        self.i += self.range_len();
        if self.punct(b'-') {
            self.i += 1;
        }
        match self.tok(self.i).map(|t| t.kind) {
            Some(Kind::Literal) => self.i += 1,
            Some(Kind::Ident) => {
                self.mod_path()?;
            }
            _ => {}
        }
        Some(())
    }

    /// A pattern starting with a path: `A::B`, `A(..)`, `A { .. }`, a range.
    fn pat_path(&mut self) -> Option<PSyn> {
        let leading = self.punct2(b':', b':');
        if leading {
            self.i += 2;
        }
        let (segs, _) = self.expr_path_rest()?;
        if self.punct(b'!') || self.punct(b'<') {
            return None;
        }
        if self.open(b'(') {
            let elems = self.group(b'(', |p| {
                let mut elems = Vec::new();
                while !p.at_end() {
                    if p.punct2(b'.', b'.')
                        && (p.at_end_at(p.i + 2) || p.punct_at(p.i + 2, b','))
                    {
                        p.i += 2;
                        elems.push(None);
                    } else {
                        elems.push(Some(p.pat_multi()?));
                    }
                    if p.at_end() {
                        break;
                    }
                    p.eat_punct(b',')?;
                }
                Some(elems)
            })?;
            return Some(PSyn::TupleStruct(segs, elems));
        }
        if self.open(b'{') {
            let fields = self.group(b'{', |p| {
                let mut fields = Vec::new();
                while !p.at_end() {
                    p.attrs()?;
                    if p.punct2(b'.', b'.') {
                        p.i += 2;
                        break;
                    }
                    let t = p.tok(p.i)?;
                    if t.kind == Kind::Literal {
                        let member = p.text(p.i);
                        if !member.bytes().all(|c| c.is_ascii_digit()) {
                            return None;
                        }
                        p.i += 1;
                        if !(p.punct(b':') && !p.punct2(b':', b':')) {
                            return None;
                        }
                        p.i += 1;
                        fields.push((member.to_string(), p.pat_multi()?));
                    } else if matches!(p.word(), Some("ref" | "mut" | "box")) {
                        let boxed = p.eat_word("box");
                        p.eat_word("ref");
                        p.eat_word("mut");
                        let name = p.word()?;
                        if is_keyword(name) {
                            return None;
                        }
                        p.i += 1;
                        let pat = if boxed {
                            PSyn::Names(vec![name.to_string()])
                        } else {
                            PSyn::Ident(name.to_string(), None)
                        };
                        fields.push((name.to_string(), pat));
                    } else {
                        let name = p.word()?;
                        if is_keyword(name) {
                            return None;
                        }
                        p.i += 1;
                        if p.punct(b':') && !p.punct2(b':', b':') {
                            p.i += 1;
                            fields.push((name.to_string(), p.pat_multi()?));
                        } else {
                            fields.push((name.to_string(), PSyn::Ident(name.to_string(), None)));
                        }
                    }
                    if p.at_end() {
                        break;
                    }
                    p.eat_punct(b',')?;
                }
                Some(fields)
            })?;
            return Some(PSyn::Struct(segs, fields));
        }
        self.pat_range_rest()?;
        Some(PSyn::Names(Vec::new()))
    }

    fn at_end_at(&self, i: usize) -> bool {
        i >= self.end
    }

    // ---- types ----

    /// A type (`allow_plus`: `dyn A + B` takes every bound).
    fn ty(&mut self, allow_plus: bool) -> Option<Ty> {
        self.deeper()?;
        let t = self.ty_inner(allow_plus);
        self.depth -= 1;
        t
    }

    fn ty_inner(&mut self, allow_plus: bool) -> Option<Ty> {
        let t = self.tok(self.i)?;
        match t.kind {
            Kind::Punct => {
                if self.punct(b'&') {
                    self.i += 1;
                    if self.tok(self.i).is_some_and(|t| t.kind == Kind::Lifetime) {
                        self.i += 1;
                    }
                    self.eat_word("mut");
                    let inner = self.ty(false)?;
                    return Some(Ty::Ref(Box::new(inner)));
                }
                if self.punct(b'*') {
                    self.i += 1;
                    if !(self.eat_word("const") || self.eat_word("mut")) {
                        return None;
                    }
                    self.ty(false)?;
                    return Some(Ty::Other);
                }
                if self.punct(b'!') {
                    self.i += 1;
                    return Some(Ty::Other);
                }
                if self.punct(b'<') {
                    self.i += 1;
                    self.ty(false)?;
                    if self.eat_word("as") {
                        self.ty_path(false)?;
                    }
                    self.eat_punct(b'>')?;
                    if !self.punct2(b':', b':') {
                        return None;
                    }
                    self.i += 2;
                    self.ty_path_rest()?;
                    return Some(Ty::Other);
                }
                if self.punct2(b':', b':') {
                    return self.ty_path(allow_plus);
                }
                None
            }
            Kind::Open => match t.ch {
                b'(' => {
                    let inner = self.group(b'(', |p| {
                        if p.at_end() {
                            return Some(Ty::Other);
                        }
                        let first = p.ty(true)?;
                        if p.at_end() {
                            return Some(Ty::Ref(Box::new(first)));
                        }
                        while !p.at_end() {
                            p.eat_punct(b',')?;
                            if p.at_end() {
                                break;
                            }
                            p.ty(true)?;
                        }
                        Some(Ty::Other)
                    })?;
                    if allow_plus && self.punct(b'+') {
                        return None;
                    }
                    Some(inner)
                }
                b'[' => {
                    self.group(b'[', |p| {
                        p.ty(true)?;
                        if p.punct(b';') {
                            p.i += 1;
                            p.plain_tokens()?;
                        }
                        Some(())
                    })?;
                    Some(Ty::Other)
                }
                _ => None,
            },
            Kind::Ident => {
                let w = self.text(self.i);
                match w {
                    "_" => {
                        self.i += 1;
                        Some(Ty::Other)
                    }
                    "impl" | "dyn" => {
                        self.i += 1;
                        let b = self.bounds(allow_plus)?;
                        Some(Ty::Bounds(b))
                    }
                    "fn" | "unsafe" | "extern" => {
                        self.eat_word("unsafe");
                        if self.eat_word("extern") && self.tok(self.i)?.kind == Kind::Literal {
                            self.i += 1;
                        }
                        if !self.eat_word("fn") || !self.open(b'(') {
                            return None;
                        }
                        self.fn_args()?;
                        if self.punct2(b'-', b'>') {
                            self.i += 2;
                            self.ty(false)?;
                        }
                        Some(Ty::Other)
                    }
                    "self" | "Self" | "super" | "crate" => self.ty_path(allow_plus),
                    w if is_keyword(w) => None,
                    _ => self.ty_path(allow_plus),
                }
            }
            _ => None,
        }
    }

    /// `(A, B)` of a function pointer or `Fn` sugar: types, maybe named.
    fn fn_args(&mut self) -> Option<()> {
        self.group(b'(', |p| {
            while !p.at_end() {
                p.attrs()?;
                if p.word().is_some() && p.punct_at(p.i + 1, b':') && !p.punct2_at(p.i + 1, b':', b':') {
                    p.i += 2;
                }
                p.ty(true)?;
                if p.at_end() {
                    break;
                }
                p.eat_punct(b',')?;
            }
            Some(())
        })
    }

    /// Tokens with no group, macro or call: an array length or const argument.
    fn plain_tokens(&mut self) -> Option<()> {
        while !self.at_end() {
            let t = self.tok(self.i)?;
            match t.kind {
                Kind::Open | Kind::Close => return None,
                Kind::Punct if t.ch == b'!' || t.ch == b'.' || t.ch == b'#' => return None,
                _ => self.i += 1,
            }
        }
        Some(())
    }

    /// A path type, and `+` bounds after it when allowed.
    fn ty_path(&mut self, allow_plus: bool) -> Option<Ty> {
        let leading = self.punct2(b':', b':');
        if leading {
            self.i += 2;
        }
        let (segs, args) = self.ty_path_rest()?;
        if self.punct(b'!') {
            return None;
        }
        if allow_plus && self.punct(b'+') {
            let mut all = vec![segs];
            all.retain(|s| s.last().is_some_and(|l| l != "Sized"));
            self.i += 1;
            let more = self.bounds(true)?;
            all.extend(more);
            return Some(Ty::Bounds(all));
        }
        Some(Ty::Path {
            segs,
            leading_colon: leading,
            args,
        })
    }

    /// Segments of a path type with their arguments: the identifiers and the last
    /// segment's arguments.
    fn ty_path_rest(&mut self) -> Option<(Vec<String>, Args)> {
        let mut segs = Vec::new();
        loop {
            let w = self.word()?;
            if is_keyword(w) {
                return None;
            }
            segs.push(w.to_string());
            self.i += 1;
            let mut args = Args::None;
            if self.punct2(b':', b':') && self.punct_at(self.i + 2, b'<') {
                self.i += 2;
            }
            if self.punct(b'<') && !self.punct2(b'<', b'=') {
                args = Args::Angle(self.generic_args()?);
            } else if self.open(b'(') {
                self.fn_args()?;
                if self.punct2(b'-', b'>') {
                    self.i += 2;
                    self.ty(false)?;
                }
                args = Args::Paren;
            }
            if self.punct2(b':', b':') && self.word_at(self.i + 2).is_some() {
                self.i += 2;
                continue;
            }
            return Some((segs, args));
        }
    }

    /// `<A, 'a, N = T, 3>` at the current `<`: the first argument when it is a type.
    fn generic_args(&mut self) -> Option<Option<Box<Ty>>> {
        self.eat_punct(b'<')?;
        let mut first = None;
        let mut n = 0;
        loop {
            if self.punct(b'>') {
                self.i += 1;
                return Some(first);
            }
            let t = self.tok(self.i)?;
            match t.kind {
                Kind::Lifetime => self.i += 1,
                Kind::Literal => self.i += 1,
                Kind::Punct if t.ch == b'-' => {
                    self.i += 1;
                    if self.tok(self.i)?.kind != Kind::Literal {
                        return None;
                    }
                    self.i += 1;
                }
                Kind::Open if t.ch == b'{' => return None,
                Kind::Ident
                    if (self.punct_at(self.i + 1, b'=') && !self.punct2_at(self.i + 1, b'=', b'='))
                        || (self.punct_at(self.i + 1, b':') && !self.punct2_at(self.i + 1, b':', b':')) =>
                {
                    self.i += 1;
                    if self.eat_punct(b'=').is_some() {
                        self.ty(true)?;
                    } else {
                        self.i += 1;
                        self.bounds(true)?;
                    }
                }
                _ => {
                    let ty = self.ty(true)?;
                    if n == 0 {
                        first = Some(Box::new(ty));
                    }
                }
            }
            n += 1;
            if self.punct(b',') {
                self.i += 1;
            } else if !self.punct(b'>') {
                return None;
            }
        }
    }

    /// `A + B + 'a + ?Sized`: the trait paths, `Sized` left out.
    fn bounds(&mut self, allow_plus: bool) -> Option<Vec<Vec<String>>> {
        let mut out = Vec::new();
        loop {
            if self.tok(self.i).is_some_and(|t| t.kind == Kind::Lifetime) {
                self.i += 1;
            } else {
                self.eat_punct(b'?');
                if self.eat_word("for") {
                    if !self.punct(b'<') {
                        return None;
                    }
                    self.generic_args()?;
                }
                if self.is_word("use") || self.punct(b'~') || self.is_word("const") || self.open(b'(') {
                    return None;
                }
                let leading = self.punct2(b':', b':');
                if leading {
                    self.i += 2;
                }
                let (segs, _) = self.ty_path_rest()?;
                if segs.last().is_some_and(|l| l != "Sized") {
                    out.push(segs);
                }
            }
            if allow_plus && self.punct(b'+') {
                self.i += 1;
                if !(self.word().is_some()
                    || self.punct(b'?')
                    || self.punct2(b':', b':')
                    || self.tok(self.i).is_some_and(|t| t.kind == Kind::Lifetime))
                {
                    return Some(out);
                }
            } else {
                return Some(out);
            }
        }
    }
}

/// How many levels of a receiver description are kept under a new outer one: typing
/// looks [`MAX_RECV_DEPTH`] levels deep, so what lies deeper is never read (and a
/// chain of 100,000 calls stays small).
const CAP: usize = MAX_RECV_DEPTH - 1;

/// `r` with its levels past the first `keep` replaced by [`RSyn::Other`].
fn cap(r: RSyn, keep: usize) -> RSyn {
    if keep == 0 {
        return RSyn::Other;
    }
    match r {
        RSyn::Field(base, m) => RSyn::Field(Box::new(cap(*base, keep - 1)), m),
        RSyn::MethodRet(base, m) => RSyn::MethodRet(Box::new(cap(*base, keep - 1)), m),
        RSyn::Wrap(inner) => RSyn::Wrap(Box::new(cap(*inner, keep - 1))),
        leaf => leaf,
    }
}

/// The names a pattern binds, in syn's visiting order.
fn names_of(p: &PSyn, out: &mut Vec<String>) {
    match p {
        PSyn::Ident(n, sub) => {
            out.push(n.clone());
            if let Some(s) = sub {
                names_of(s, out);
            }
        }
        PSyn::Typed(p, _) | PSyn::Ref(p) => names_of(p, out),
        PSyn::TupleStruct(_, elems) => {
            for e in elems.iter().flatten() {
                names_of(e, out);
            }
        }
        PSyn::Struct(_, fields) => {
            for (_, f) in fields {
                names_of(f, out);
            }
        }
        PSyn::Names(n) => out.extend(n.iter().cloned()),
    }
}

#[cfg(test)]
mod tests {
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
}
