//! Patterns, as far as binding needs them.

use super::{is_keyword, names_of, Kind, PSyn, P};

impl<'t, 'a> P<'t, 'a> {
    /// A pattern with optional leading `|` and alternatives.
    pub(super) fn pat_multi(&mut self) -> Option<PSyn<'a>> {
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

    pub(super) fn pat_single(&mut self) -> Option<PSyn<'a>> {
        self.deeper()?;
        let p = self.pat_single_inner();
        self.depth -= 1;
        p
    }

    pub(super) fn pat_single_inner(&mut self) -> Option<PSyn<'a>> {
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
                    if !(self.at_end() || self.punct(b',') || self.punct(b'|') || self.punct(b']'))
                    {
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
                self.pat_ident_rest(name)
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
                self.pat_ident_rest(w)
            }
        }
    }

    pub(super) fn pat_ident_rest(&mut self, name: &'a str) -> Option<PSyn<'a>> {
        if self.punct(b'@') {
            self.i += 1;
            let sub = self.pat_single()?;
            return Some(PSyn::Ident(name, Some(Box::new(sub))));
        }
        Some(PSyn::Ident(name, None))
    }

    /// After a literal or path: `..=end`, `..end` or `...end`, or nothing.
    pub(super) fn pat_range_rest(&mut self) -> Option<()> {
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
    pub(super) fn pat_path(&mut self) -> Option<PSyn<'a>> {
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
                    if p.punct2(b'.', b'.') && (p.at_end_at(p.i + 2) || p.punct_at(p.i + 2, b',')) {
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
                        if !p.colon() {
                            return None;
                        }
                        p.i += 1;
                        fields.push((member, p.pat_multi()?));
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
                            PSyn::Names(vec![name])
                        } else {
                            PSyn::Ident(name, None)
                        };
                        fields.push((name, pat));
                    } else {
                        let name = p.word()?;
                        if is_keyword(name) {
                            return None;
                        }
                        p.i += 1;
                        if p.colon() {
                            p.i += 1;
                            fields.push((name, p.pat_multi()?));
                        } else {
                            fields.push((name, PSyn::Ident(name, None)));
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

    pub(super) fn at_end_at(&self, i: usize) -> bool {
        i >= self.end
    }
}
