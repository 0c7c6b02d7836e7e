//! The atoms of an expression: literals, paths, macros, struct literals, blocks,
//! control flow, closures.

use super::{cap, is_keyword, Ev, Kind, PSyn, RSyn, CAP, COMPARE, E, P, RANGE};

impl<'t, 'a> P<'t, 'a> {
    pub(super) fn atom(&mut self, allow_struct: bool) -> Option<E<'a>> {
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
                    self.qualified_self()?;
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

    pub(super) fn if_expr(&mut self) -> Option<()> {
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
    pub(super) fn block(&mut self) -> Option<()> {
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

    pub(super) fn arms(&mut self) -> Option<()> {
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

    pub(super) fn paren_or_tuple(&mut self, start: usize) -> Option<E<'a>> {
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

    pub(super) fn closure(&mut self, allow_struct: bool, start: usize) -> Option<E<'a>> {
        self.eat_word("move");
        let mut params = Vec::new();
        if self.punct2(b'|', b'|') {
            self.i += 2;
        } else {
            self.eat_punct(b'|')?;
            while !self.punct(b'|') {
                self.attrs()?;
                let mut pat = self.pat_single()?;
                if self.colon() {
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
    pub(super) fn path_expr(&mut self, allow_struct: bool, start: usize) -> Option<E<'a>> {
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
            let cfg_if = segs.last().is_some_and(|l| *l == "cfg_if");
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
            RSyn::Ident(segs[0])
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
    pub(super) fn expr_path_rest(&mut self) -> Option<(Vec<&'a str>, bool)> {
        let mut segs = Vec::new();
        let mut has_args = false;
        loop {
            let w = self.word()?;
            if is_keyword(w) || w == "_" {
                return None;
            }
            segs.push(w);
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
    pub(super) fn struct_fields(&mut self) -> Option<()> {
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
                if p.colon() {
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
}
