//! Expressions: statements' expressions, operators by precedence, unary operators and
//! the postfix chain (calls, method calls, fields, indexes).

use super::{cap, is_keyword, Ev, Kind, RSyn, ASSIGN, CAP, CAST, COMPARE, E, P, RANGE};

impl<'t, 'a> P<'t, 'a> {
    /// A statement's expression: a block-like expression ends it unless `.` or `?`
    /// follows.
    pub(super) fn expr_early(&mut self) -> Option<E<'a>> {
        self.attrs()?;
        let start = self.ev.len();
        let block_like = match self.word() {
            Some("if" | "while" | "for" | "loop" | "match") => true,
            Some("unsafe") => self.open_at(self.i + 1, b'{'),
            Some(_) => false,
            None => self.open(b'{') || self.tok(self.i).is_some_and(|t| t.kind == Kind::Lifetime),
        };
        if !block_like {
            let e = self.unary(true)?;
            return self.binary(e, true, 0);
        }
        let mut e = self.atom(true)?;
        e.start = start;
        if self.dot() || self.punct(b'?') {
            let mut e = self.trailers(e)?;
            e.block_like = false;
            return self.binary(e, true, 0);
        }
        e.block_like = true;
        Some(e)
    }

    /// Any expression (`allow_struct`: a path followed by `{` is a struct literal).
    pub(super) fn expr(&mut self, allow_struct: bool) -> Option<E<'a>> {
        self.deeper()?;
        let e = self.unary(allow_struct)?;
        let e = self.binary(e, allow_struct, 0);
        self.depth -= 1;
        e
    }

    /// The binary operator at the current token: its precedence and length.
    pub(super) fn binop(&self) -> Option<(u8, usize)> {
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

    pub(super) fn is_assign(&self) -> bool {
        self.punct(b'=') && !self.punct2(b'=', b'=') && !self.punct2(b'=', b'>')
    }

    pub(super) fn is_range_op(&self) -> bool {
        self.punct2(b'.', b'.')
    }

    /// `..`, `..=` or `...`: its length.
    pub(super) fn range_len(&self) -> usize {
        if self.t[self.i + 1].joint
            && (self.punct_at(self.i + 2, b'=') || self.punct_at(self.i + 2, b'.'))
        {
            3
        } else {
            2
        }
    }

    pub(super) fn peek_prec(&self) -> u8 {
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

    pub(super) fn binary(&mut self, mut lhs: E<'a>, allow_struct: bool, base: u8) -> Option<E<'a>> {
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

    pub(super) fn rhs(&mut self, allow_struct: bool, prec: u8) -> Option<()> {
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
    pub(super) fn begins_expr(&self) -> bool {
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
                b'<' => {
                    !(self.punct2(b'<', b'=')
                        || self.punct2(b'<', b'<') && self.punct2_at(self.i + 1, b'<', b'='))
                }
                b':' => self.punct2(b':', b':'),
                b'#' => true,
                _ => false,
            },
            Kind::Close => false,
        }
    }

    pub(super) fn begins_range_end(&self, allow_struct: bool) -> bool {
        if !allow_struct && self.open(b'{') {
            return false;
        }
        if self.punct2(b'=', b'>') || self.is_assign() {
            return false;
        }
        !self.dot() && self.begins_expr()
    }

    pub(super) fn unary(&mut self, allow_struct: bool) -> Option<E<'a>> {
        self.deeper()?;
        self.attrs()?;
        let start = self.ev.len();
        let e = if self.punct(b'&') {
            self.i += 1;
            let raw =
                self.is_word("raw") && matches!(self.word_at(self.i + 1), Some("mut" | "const"));
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
    pub(super) fn trailers(&mut self, e: E<'a>) -> Option<E<'a>> {
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

    pub(super) fn chain(&mut self, mut e: E<'a>, chain: &mut Vec<Ev<'a>>) -> Option<E<'a>> {
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
                e = E {
                    r,
                    ..E::other(e.start)
                };
            } else if self.dot() && !e.range {
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
                        r = RSyn::Field(Box::new(cap(r, CAP)), part);
                    }
                    self.i += 1;
                    e = E {
                        r,
                        ..E::other(e.start)
                    };
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
                if turbofish || self.open(b'(') {
                    // The receiver is read from the top (all its levels), and then
                    // again one level down, under the call's result.
                    chain.push(Ev::Method(name, e.r.clone()));
                    self.call_args()?;
                    e = E {
                        r: RSyn::MethodRet(Box::new(cap(e.r, CAP)), name),
                        ..E::other(e.start)
                    };
                } else {
                    e = E {
                        r: RSyn::Field(Box::new(cap(e.r, CAP)), name),
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
    pub(super) fn call_args(&mut self) -> Option<()> {
        self.group(b'(', |p| p.comma_exprs())
    }

    pub(super) fn comma_exprs(&mut self) -> Option<()> {
        while !self.at_end() {
            self.expr(true)?;
            if self.at_end() {
                break;
            }
            self.eat_punct(b',')?;
        }
        Some(())
    }
}
