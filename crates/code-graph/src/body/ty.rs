//! Types, as far as receiver typing needs them.

use super::{is_keyword, Args, Kind, Ty, P};

impl<'t, 'a> P<'t, 'a> {
    /// A type (`allow_plus`: `dyn A + B` takes every bound).
    pub(super) fn ty(&mut self, allow_plus: bool) -> Option<Ty<'a>> {
        self.deeper()?;
        let t = self.ty_inner(allow_plus);
        self.depth -= 1;
        t
    }

    pub(super) fn ty_inner(&mut self, allow_plus: bool) -> Option<Ty<'a>> {
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
                    self.qualified_self()?;
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

    /// `<T as Trait>::` or `<T>::` at the current `<`, up to the path after it.
    pub(super) fn qualified_self(&mut self) -> Option<()> {
        self.eat_punct(b'<')?;
        self.ty(false)?;
        if self.eat_word("as") {
            self.ty_path(false)?;
        }
        self.eat_punct(b'>')?;
        if !self.punct2(b':', b':') {
            return None;
        }
        self.i += 2;
        Some(())
    }

    /// `(A, B)` of a function pointer or `Fn` sugar: types, maybe named.
    pub(super) fn fn_args(&mut self) -> Option<()> {
        self.group(b'(', |p| {
            while !p.at_end() {
                p.attrs()?;
                if p.word().is_some()
                    && p.punct_at(p.i + 1, b':')
                    && !p.punct2_at(p.i + 1, b':', b':')
                {
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
    pub(super) fn plain_tokens(&mut self) -> Option<()> {
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
    pub(super) fn ty_path(&mut self, allow_plus: bool) -> Option<Ty<'a>> {
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
            all.retain(|s| s.last().is_some_and(|l| *l != "Sized"));
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
    pub(super) fn ty_path_rest(&mut self) -> Option<(Vec<&'a str>, Args<'a>)> {
        let mut segs = Vec::new();
        loop {
            let w = self.word()?;
            if is_keyword(w) {
                return None;
            }
            segs.push(w);
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
    pub(super) fn generic_args(&mut self) -> Option<Option<Box<Ty<'a>>>> {
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
                    if (self.punct_at(self.i + 1, b'=')
                        && !self.punct2_at(self.i + 1, b'=', b'='))
                        || (self.punct_at(self.i + 1, b':')
                            && !self.punct2_at(self.i + 1, b':', b':')) =>
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
    pub(super) fn bounds(&mut self, allow_plus: bool) -> Option<Vec<Vec<&'a str>>> {
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
                if self.is_word("use")
                    || self.punct(b'~')
                    || self.is_word("const")
                    || self.open(b'(')
                {
                    return None;
                }
                let leading = self.punct2(b':', b':');
                if leading {
                    self.i += 2;
                }
                let (segs, _) = self.ty_path_rest()?;
                if segs.last().is_some_and(|l| *l != "Sized") {
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
