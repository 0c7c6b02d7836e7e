//! Lexer and recursive-descent parser for the grammar in `docs/config-eval.md`.
//!
//! Recursion is bounded by [`MAX_NESTING`] and the depth of the finished tree (long
//! operator and application chains build deep trees without recursing in the parser)
//! by [`MAX_AST_DEPTH`], so hostile input gets an error instead of a stack overflow.

use std::sync::Arc;

use crate::ast::*;

/// How deeply brackets, lambdas, `let`, `if`, `match` and unary operators may nest.
pub(crate) const MAX_NESTING: usize = 200;
/// How deep the finished syntax tree of one declaration may be.
pub(crate) const MAX_AST_DEPTH: usize = 2_000;

/// A syntax error: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) span: Span,
    pub(crate) message: String,
}

fn err<T>(span: Span, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        span,
        message: message.into(),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Upper(String),
    TyVar(String),
    Int(i64),
    Float(f64),
    Str(String),
    Kw(&'static str),
    Sym(&'static str),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier `{s}`"),
            Tok::Upper(s) => format!("name `{s}`"),
            Tok::TyVar(s) => format!("type variable `'{s}`"),
            Tok::Int(i) => format!("integer `{i}`"),
            Tok::Float(f) => format!("float `{f}`"),
            Tok::Str(_) => "a string".into(),
            Tok::Kw(k) => format!("keyword `{k}`"),
            Tok::Sym(s) => format!("`{s}`"),
            Tok::Eof => "end of input".into(),
        }
    }
}

const KEYWORDS: &[&str] = &[
    "module", "import", "as", "export", "let", "in", "if", "then", "else", "match", "type",
    "where", "true", "false",
];

// Longest symbols first so that `->` wins over `-` and `==` over `=`.
const SYMBOLS: &[&str] = &[
    "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "++", "(", ")", "{", "}", "[", "]", ",", ";",
    ":", "=", ".", "\\", "|", "_", "+", "-", "*", "/", "%", "<", ">", "!",
];

fn lex(src: &str) -> Result<Vec<(Tok, Span)>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    let advance = |i: &mut usize, line: &mut u32, col: &mut u32, c: char| {
        *i += 1;
        if c == '\n' {
            *line += 1;
            *col = 1;
        } else {
            *col += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let span = Span { line, col };
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut col, c);
            continue;
        }
        let next = chars.get(i + 1).copied();
        if (c == '/' && next == Some('/')) || (c == '-' && next == Some('-')) {
            while i < chars.len() && chars[i] != '\n' {
                {
                    let ch = chars[i];
                    advance(&mut i, &mut line, &mut col, ch);
                }
            }
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                {
                    let ch = chars[i];
                    advance(&mut i, &mut line, &mut col, ch);
                }
            }
            let is_float = i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit();
            if is_float {
                advance(&mut i, &mut line, &mut col, '.');
                while i < chars.len() && chars[i].is_ascii_digit() {
                    {
                        let ch = chars[i];
                        advance(&mut i, &mut line, &mut col, ch);
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            if is_float {
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() => out.push((Tok::Float(f), span)),
                    _ => return err(span, format!("float literal `{text}` is out of range")),
                }
            } else {
                match text.parse::<i64>() {
                    Ok(n) => out.push((Tok::Int(n), span)),
                    Err(_) => {
                        let shown: String = text.chars().take(24).collect();
                        return err(
                            span,
                            format!(
                                "integer literal `{shown}{}` does not fit in 64 bits (maximum {})",
                                if text.len() > 24 { "..." } else { "" },
                                i64::MAX
                            ),
                        );
                    }
                }
            }
            continue;
        }
        if c.is_alphabetic() || (c == '_' && next.is_some_and(|n| n.is_alphanumeric() || n == '_'))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                {
                    let ch = chars[i];
                    advance(&mut i, &mut line, &mut col, ch);
                }
            }
            let text: String = chars[start..i].iter().collect();
            let tok = if let Some(k) = KEYWORDS.iter().find(|k| **k == text) {
                Tok::Kw(k)
            } else if c.is_uppercase() {
                Tok::Upper(text)
            } else {
                Tok::Ident(text)
            };
            out.push((tok, span));
            continue;
        }
        if c == '\'' {
            advance(&mut i, &mut line, &mut col, c);
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                {
                    let ch = chars[i];
                    advance(&mut i, &mut line, &mut col, ch);
                }
            }
            if start == i {
                return err(span, "expected a type variable name after `'`");
            }
            out.push((Tok::TyVar(chars[start..i].iter().collect()), span));
            continue;
        }
        if c == '"' {
            advance(&mut i, &mut line, &mut col, c);
            let mut s = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    return err(span, "unterminated string literal");
                };
                advance(&mut i, &mut line, &mut col, ch);
                match ch {
                    '"' => break,
                    '\\' => {
                        let Some(&e) = chars.get(i) else {
                            return err(span, "unterminated string literal");
                        };
                        let here = Span { line, col };
                        advance(&mut i, &mut line, &mut col, e);
                        s.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            '"' => '"',
                            '\\' => '\\',
                            other => return err(here, format!("unknown escape `\\{other}`")),
                        });
                    }
                    other => s.push(other),
                }
            }
            out.push((Tok::Str(s), span));
            continue;
        }
        let rest = &chars[i..];
        let sym = SYMBOLS.iter().find(|s| {
            let sc: Vec<char> = s.chars().collect();
            rest.len() >= sc.len() && rest[..sc.len()] == sc[..]
        });
        match sym {
            Some(s) => {
                for ch in s.chars() {
                    advance(&mut i, &mut line, &mut col, ch);
                }
                out.push((Tok::Sym(s), span));
            }
            None => return err(span, format!("unexpected character `{c}`")),
        }
    }
    out.push((Tok::Eof, Span { line, col }));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    nesting: usize,
    /// Set while parsing a `match` scrutinee, where `{` opens the arms rather than a
    /// record argument (as with Rust's struct literals in `match`).
    no_record_arg: bool,
    /// Links of the operator, application and field chains currently open. A chain
    /// builds a left-deep tree without recursing, so this bounds the depth of what is
    /// built (and later dropped recursively) before the tree even exists.
    chain: usize,
}

/// Parses one source file.
pub(crate) fn parse_module(src: &str) -> Result<Module, SyntaxError> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        nesting: 0,
        no_record_arg: false,
        chain: 0,
    };
    p.module()
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }
    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.pos + k).min(self.toks.len() - 1)].0
    }
    fn span(&self) -> Span {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }
    fn is_kw(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Kw(x) if *x == s)
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn eat_kw(&mut self, s: &str) -> bool {
        if self.is_kw(s) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn unexpected<T>(&self, wanted: &str) -> Result<T, SyntaxError> {
        err(
            self.span(),
            format!("expected {wanted}, found {}", self.peek().describe()),
        )
    }
    fn expect_sym(&mut self, s: &str) -> Result<(), SyntaxError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            self.unexpected(&format!("`{s}`"))
        }
    }
    fn expect_kw(&mut self, s: &str) -> Result<(), SyntaxError> {
        if self.eat_kw(s) {
            Ok(())
        } else {
            self.unexpected(&format!("`{s}`"))
        }
    }
    fn ident(&mut self) -> Result<String, SyntaxError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.bump();
                Ok(s)
            }
            _ => self.unexpected("an identifier"),
        }
    }
    fn upper(&mut self) -> Result<String, SyntaxError> {
        match self.peek().clone() {
            Tok::Upper(s) => {
                self.bump();
                Ok(s)
            }
            _ => self.unexpected("a capitalised name"),
        }
    }
    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return err(
                self.span(),
                format!("nesting is too deep (the limit is {MAX_NESTING} levels)"),
            );
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.nesting -= 1;
    }
    fn link(&mut self) -> Result<(), SyntaxError> {
        self.chain += 1;
        if self.chain > MAX_AST_DEPTH {
            return err(
                self.span(),
                format!("expression is nested too deeply (the limit is {MAX_AST_DEPTH} levels)"),
            );
        }
        Ok(())
    }

    fn module(&mut self) -> Result<Module, SyntaxError> {
        let mut m = Module {
            name: None,
            imports: Vec::new(),
            types: Vec::new(),
            lets: Vec::new(),
        };
        if self.eat_kw("module") {
            let mut parts = vec![self.any_name()?];
            while self.eat_sym(".") {
                parts.push(self.any_name()?);
            }
            m.name = Some(parts.join("."));
            self.expect_sym(";")?;
        }
        loop {
            let span = self.span();
            if matches!(self.peek(), Tok::Eof) {
                break;
            }
            if self.eat_kw("import") {
                let (path, default_alias) = if let Tok::Str(s) = self.peek().clone() {
                    self.bump();
                    let stem = s
                        .rsplit('/')
                        .next()
                        .unwrap_or(&s)
                        .trim_end_matches(".lig")
                        .to_owned();
                    (ImportPath::File(s), stem)
                } else {
                    let mut parts = vec![self.ident()?];
                    while self.eat_sym(".") {
                        parts.push(self.ident()?);
                    }
                    let last = parts.last().cloned().unwrap_or_default();
                    (ImportPath::Dotted(parts), last)
                };
                let alias = if self.eat_kw("as") {
                    self.ident()?
                } else {
                    default_alias
                };
                if alias.is_empty() || !alias.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return err(span, "this import needs `as name`");
                }
                self.expect_sym(";")?;
                m.imports.push(Import { path, alias, span });
                continue;
            }
            let exported = self.eat_kw("export");
            if self.eat_kw("let") {
                let name = self.ident()?;
                let ann = if self.eat_sym(":") {
                    Some(self.ty()?)
                } else {
                    None
                };
                self.expect_sym("=")?;
                let value = self.expr()?;
                self.expect_sym(";")?;
                let decl = LetDecl {
                    name,
                    ann,
                    value,
                    exported,
                    span,
                };
                check_depth(&decl)?;
                m.lets.push(Arc::new(decl));
            } else if self.eat_kw("type") {
                let name = self.upper()?;
                let mut params = Vec::new();
                while let Tok::TyVar(v) = self.peek().clone() {
                    self.bump();
                    params.push(v);
                }
                self.expect_sym("=")?;
                let body = self.type_body()?;
                self.expect_sym(";")?;
                m.types.push(TypeDecl {
                    name,
                    params,
                    body,
                    exported,
                    span,
                });
            } else if exported {
                return self.unexpected("`let` or `type` after `export`");
            } else {
                return self.unexpected("`import`, `let`, `type` or `export`");
            }
        }
        Ok(m)
    }

    fn any_name(&mut self) -> Result<String, SyntaxError> {
        match self.peek().clone() {
            Tok::Ident(s) | Tok::Upper(s) => {
                self.bump();
                Ok(s)
            }
            _ => self.unexpected("a module name"),
        }
    }

    fn type_body(&mut self) -> Result<TypeBody, SyntaxError> {
        let leading_bar = self.eat_sym("|");
        let starts_variant =
            matches!(self.peek(), Tok::Upper(_)) && matches!(self.peek_at(1), Tok::Sym("("));
        if leading_bar || starts_variant {
            return Ok(TypeBody::Union(self.variants()?));
        }
        let span = self.span();
        let t = self.ty()?;
        if self.is_sym("|") {
            if let TypeExpr::Named(name, args, _) = &t {
                if args.is_empty() {
                    let mut vs = vec![Variant {
                        name: name.clone(),
                        payload: None,
                        span,
                    }];
                    self.bump();
                    vs.extend(self.variants()?);
                    return Ok(TypeBody::Union(vs));
                }
            }
            return self.unexpected("`;` (a union's variants are `Name` or `Name(Type)`)");
        }
        Ok(TypeBody::Alias(t))
    }

    fn variants(&mut self) -> Result<Vec<Variant>, SyntaxError> {
        let mut vs = Vec::new();
        loop {
            let span = self.span();
            let name = self.upper()?;
            let payload = if self.eat_sym("(") {
                let t = self.ty()?;
                self.expect_sym(")")?;
                Some(t)
            } else {
                None
            };
            vs.push(Variant {
                name,
                payload,
                span,
            });
            if !self.eat_sym("|") {
                return Ok(vs);
            }
        }
    }

    fn ty(&mut self) -> Result<TypeExpr, SyntaxError> {
        self.enter()?;
        let base = self.ty_fun()?;
        let r = if self.eat_kw("where") {
            let pred = self.expr()?;
            TypeExpr::Refine(Box::new(base), Box::new(pred))
        } else {
            base
        };
        self.leave();
        Ok(r)
    }

    fn ty_fun(&mut self) -> Result<TypeExpr, SyntaxError> {
        let arg = self.ty_app()?;
        if self.eat_sym("->") {
            self.enter()?;
            let res = self.ty_fun();
            self.leave();
            return Ok(TypeExpr::Fun(Box::new(arg), Box::new(res?)));
        }
        Ok(arg)
    }

    fn ty_app(&mut self) -> Result<TypeExpr, SyntaxError> {
        if let Tok::Upper(name) = self.peek().clone() {
            let span = self.span();
            self.bump();
            let mut args = Vec::new();
            while matches!(
                self.peek(),
                Tok::Upper(_) | Tok::TyVar(_) | Tok::Sym("{") | Tok::Sym("(")
            ) {
                args.push(self.ty_atom()?);
            }
            return Ok(TypeExpr::Named(name, args, span));
        }
        self.ty_atom()
    }

    fn ty_atom(&mut self) -> Result<TypeExpr, SyntaxError> {
        let span = self.span();
        match self.peek().clone() {
            Tok::Upper(name) => {
                self.bump();
                Ok(TypeExpr::Named(name, Vec::new(), span))
            }
            Tok::TyVar(v) => {
                self.bump();
                Ok(TypeExpr::Var(v))
            }
            Tok::Sym("(") => {
                self.bump();
                if self.eat_sym(")") {
                    return Ok(TypeExpr::Named("Unit".into(), Vec::new(), span));
                }
                let t = self.ty()?;
                self.expect_sym(")")?;
                Ok(t)
            }
            Tok::Sym("{") => {
                self.bump();
                let mut fields = Vec::new();
                // A set beside the list: the duplicate check is linear in the fields.
                let mut seen = std::collections::HashSet::new();
                while !self.is_sym("}") {
                    let fspan = self.span();
                    let name = self.ident()?;
                    if !seen.insert(name.clone()) {
                        return err(fspan, format!("field `{name}` appears twice"));
                    }
                    self.expect_sym(":")?;
                    fields.push((name, self.ty()?));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.expect_sym("}")?;
                Ok(TypeExpr::Record(fields))
            }
            _ => self.unexpected("a type"),
        }
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.enter()?;
        let r = self.expr_inner();
        self.leave();
        r
    }

    fn expr_inner(&mut self) -> Result<Expr, SyntaxError> {
        let span = self.span();
        if self.eat_sym("\\") {
            let mut params = Vec::new();
            loop {
                match self.peek().clone() {
                    Tok::Ident(name) => {
                        self.bump();
                        params.push((name, None));
                    }
                    Tok::Sym("_") => {
                        self.bump();
                        params.push(("_".to_owned(), None));
                    }
                    Tok::Sym("(") => {
                        self.bump();
                        let name = self.ident()?;
                        self.expect_sym(":")?;
                        let t = self.ty()?;
                        self.expect_sym(")")?;
                        params.push((name, Some(t)));
                    }
                    _ => break,
                }
            }
            if params.is_empty() {
                return self.unexpected("a parameter name");
            }
            self.expect_sym("->")?;
            let mut body = self.expr()?;
            for (param, ann) in params.into_iter().rev() {
                body = Expr {
                    kind: ExprKind::Lambda(Arc::new(Lambda { param, ann, body })),
                    span,
                };
            }
            return Ok(body);
        }
        if self.eat_kw("let") {
            let name = self.ident()?;
            let ann = if self.eat_sym(":") {
                Some(self.ty()?)
            } else {
                None
            };
            self.expect_sym("=")?;
            let value = self.expr()?;
            self.expect_kw("in")?;
            let body = self.expr()?;
            return Ok(Expr {
                kind: ExprKind::Let(name, ann, Box::new(value), Box::new(body)),
                span,
            });
        }
        if self.eat_kw("if") {
            let c = self.expr()?;
            self.expect_kw("then")?;
            let t = self.expr()?;
            self.expect_kw("else")?;
            let e = self.expr()?;
            return Ok(Expr {
                kind: ExprKind::If(Box::new(c), Box::new(t), Box::new(e)),
                span,
            });
        }
        if self.eat_kw("match") {
            let saved = std::mem::replace(&mut self.no_record_arg, true);
            let scrutinee = self.expr();
            self.no_record_arg = saved;
            let scrutinee = scrutinee?;
            self.expect_sym("{")?;
            let mut arms = Vec::new();
            while !self.is_sym("}") {
                let pat = self.pattern()?;
                let guard = if self.eat_kw("if") {
                    Some(self.expr()?)
                } else {
                    None
                };
                self.expect_sym("=>")?;
                let body = self.expr()?;
                arms.push(Arm { pat, guard, body });
                if !self.eat_sym(",") {
                    break;
                }
            }
            if arms.is_empty() {
                return self.unexpected("a match arm");
            }
            self.expect_sym("}")?;
            return Ok(Expr {
                kind: ExprKind::Match(Box::new(scrutinee), arms),
                span,
            });
        }
        self.binary(0)
    }

    fn binary(&mut self, level: usize) -> Result<Expr, SyntaxError> {
        const LEVELS: &[&[(&str, BinOp)]] = &[
            &[("||", BinOp::Or)],
            &[("&&", BinOp::And)],
            &[
                ("==", BinOp::Eq),
                ("!=", BinOp::Ne),
                ("<=", BinOp::Le),
                (">=", BinOp::Ge),
                ("<", BinOp::Lt),
                (">", BinOp::Gt),
            ],
            &[("++", BinOp::Concat), ("+", BinOp::Add), ("-", BinOp::Sub)],
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        let mut links = 0;
        loop {
            let span = self.span();
            let op = LEVELS[level]
                .iter()
                .find(|(s, _)| self.is_sym(s))
                .map(|(_, op)| *op);
            let Some(op) = op else {
                self.chain -= links;
                return Ok(lhs);
            };
            self.link()?;
            links += 1;
            self.bump();
            let rhs = self.binary(level + 1)?;
            lhs = Expr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                span,
            };
            // Comparisons do not chain: `a < b < c` is almost always a mistake.
            if level == 2 {
                if LEVELS[2].iter().any(|(s, _)| self.is_sym(s)) {
                    return self.unexpected(
                        "an operator other than a comparison (comparisons do not chain)",
                    );
                }
                self.chain -= links;
                return Ok(lhs);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        let span = self.span();
        let op = if self.is_sym("-") {
            Some(UnOp::Neg)
        } else if self.is_sym("!") {
            Some(UnOp::Not)
        } else {
            None
        };
        if let Some(op) = op {
            self.bump();
            self.enter()?;
            let e = self.unary();
            self.leave();
            return Ok(Expr {
                kind: ExprKind::Unary(op, Box::new(e?)),
                span,
            });
        }
        let mut f = self.postfix()?;
        let mut links = 0;
        while self.starts_atom() {
            self.link()?;
            links += 1;
            let span = self.span();
            let arg = self.postfix()?;
            f = Expr {
                kind: ExprKind::App(Box::new(f), Box::new(arg)),
                span,
            };
        }
        self.chain -= links;
        Ok(f)
    }

    fn starts_atom(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Ident(_)
                | Tok::Upper(_)
                | Tok::Int(_)
                | Tok::Float(_)
                | Tok::Str(_)
                | Tok::Kw("true")
                | Tok::Kw("false")
                | Tok::Sym("(")
                | Tok::Sym("[")
        ) || (self.is_sym("{") && !self.no_record_arg)
    }

    fn postfix(&mut self) -> Result<Expr, SyntaxError> {
        let mut e = self.atom()?;
        let mut links = 0;
        while self.is_sym(".") {
            self.link()?;
            links += 1;
            let span = self.span();
            self.bump();
            let field = self.ident()?;
            e = Expr {
                kind: ExprKind::Field(Box::new(e), field),
                span,
            };
        }
        self.chain -= links;
        Ok(e)
    }

    fn atom(&mut self) -> Result<Expr, SyntaxError> {
        let span = self.span();
        let kind = match self.peek().clone() {
            Tok::Int(n) => {
                self.bump();
                ExprKind::Int(n)
            }
            Tok::Float(f) => {
                self.bump();
                ExprKind::Float(FloatLit(f))
            }
            Tok::Str(s) => {
                self.bump();
                ExprKind::Str(s)
            }
            Tok::Kw("true") => {
                self.bump();
                ExprKind::Bool(true)
            }
            Tok::Kw("false") => {
                self.bump();
                ExprKind::Bool(false)
            }
            Tok::Ident(name) => {
                self.bump();
                ExprKind::Var(name)
            }
            Tok::Upper(name) => {
                self.bump();
                ExprKind::Ctor(name)
            }
            Tok::Sym("(") => {
                self.bump();
                if self.eat_sym(")") {
                    ExprKind::Unit
                } else {
                    let saved = std::mem::replace(&mut self.no_record_arg, false);
                    let e = self.expr();
                    self.no_record_arg = saved;
                    let e = e?;
                    self.expect_sym(")")?;
                    return Ok(e);
                }
            }
            Tok::Sym("[") => {
                self.bump();
                self.enter()?;
                let mut items = Vec::new();
                while !self.is_sym("]") {
                    items.push(self.expr()?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.leave();
                self.expect_sym("]")?;
                ExprKind::List(items)
            }
            Tok::Sym("{") => {
                self.bump();
                self.enter()?;
                let mut fields: Vec<(String, Expr)> = Vec::new();
                // A set beside the list: the duplicate check is linear in the fields.
                let mut seen = std::collections::HashSet::new();
                while !self.is_sym("}") {
                    let fspan = self.span();
                    let name = self.ident()?;
                    if !seen.insert(name.clone()) {
                        return err(fspan, format!("field `{name}` appears twice"));
                    }
                    self.expect_sym("=")?;
                    fields.push((name, self.expr()?));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.leave();
                self.expect_sym("}")?;
                ExprKind::Record(fields)
            }
            _ => return self.unexpected("an expression"),
        };
        Ok(Expr { kind, span })
    }

    fn pattern(&mut self) -> Result<Pattern, SyntaxError> {
        self.enter()?;
        let r = self.pattern_inner();
        self.leave();
        r
    }

    fn pattern_inner(&mut self) -> Result<Pattern, SyntaxError> {
        let span = self.span();
        match self.bump() {
            Tok::Sym("_") => Ok(Pattern::Wildcard),
            Tok::Ident(n) => Ok(Pattern::Var(n)),
            Tok::Int(n) => Ok(Pattern::Int(n)),
            Tok::Sym("-") => match self.bump() {
                Tok::Int(n) => Ok(Pattern::Int(-n)),
                _ => err(span, "expected an integer after `-` in a pattern"),
            },
            Tok::Str(s) => Ok(Pattern::Str(s)),
            Tok::Kw("true") => Ok(Pattern::Bool(true)),
            Tok::Kw("false") => Ok(Pattern::Bool(false)),
            Tok::Upper(name) => {
                let payload = if self.eat_sym("(") {
                    let p = self.pattern()?;
                    self.expect_sym(")")?;
                    Some(Box::new(p))
                } else {
                    None
                };
                Ok(Pattern::Ctor(name, payload, span))
            }
            Tok::Sym("(") => {
                if self.eat_sym(")") {
                    return Ok(Pattern::Unit);
                }
                let p = self.pattern()?;
                self.expect_sym(")")?;
                Ok(p)
            }
            Tok::Sym("[") => {
                let mut items = Vec::new();
                while !self.is_sym("]") {
                    items.push(self.pattern()?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.expect_sym("]")?;
                Ok(Pattern::List(items))
            }
            Tok::Sym("{") => {
                let mut fields: Vec<(String, Pattern)> = Vec::new();
                while !self.is_sym("}") {
                    let name = self.ident()?;
                    let p = if self.eat_sym("=") {
                        self.pattern()?
                    } else {
                        Pattern::Var(name.clone())
                    };
                    fields.push((name, p));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.expect_sym("}")?;
                Ok(Pattern::Record(fields, span))
            }
            other => err(
                span,
                format!("expected a pattern, found {}", other.describe()),
            ),
        }
    }
}

/// Rejects declarations whose tree is deeper than [`MAX_AST_DEPTH`], walking with an
/// explicit stack so the check itself cannot overflow.
fn check_depth(decl: &LetDecl) -> Result<(), SyntaxError> {
    let mut stack: Vec<(&Expr, usize)> = vec![(&decl.value, 1)];
    while let Some((e, d)) = stack.pop() {
        if d > MAX_AST_DEPTH {
            return err(
                e.span,
                format!("expression is nested too deeply (the limit is {MAX_AST_DEPTH} levels)"),
            );
        }
        match &e.kind {
            ExprKind::List(xs) => stack.extend(xs.iter().map(|x| (x, d + 1))),
            ExprKind::Record(fs) => stack.extend(fs.iter().map(|(_, x)| (x, d + 1))),
            ExprKind::Field(x, _) | ExprKind::Unary(_, x) => stack.push((x, d + 1)),
            ExprKind::Lambda(l) => stack.push((&l.body, d + 1)),
            ExprKind::App(a, b) | ExprKind::Binary(_, a, b) | ExprKind::Let(_, _, a, b) => {
                stack.push((a, d + 1));
                stack.push((b, d + 1));
            }
            ExprKind::If(a, b, c) => {
                stack.push((a, d + 1));
                stack.push((b, d + 1));
                stack.push((c, d + 1));
            }
            ExprKind::Match(s, arms) => {
                stack.push((s, d + 1));
                for arm in arms {
                    stack.push((&arm.body, d + 1));
                    if let Some(g) = &arm.guard {
                        stack.push((g, d + 1));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr_of(src: &str) -> Expr {
        let m = parse_module(&format!("let x = {src};")).unwrap();
        m.lets[0].value.clone()
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(expr_of("1 + 2 * 3"), expr_of("1 + (2 * 3)"));
        assert_eq!(expr_of("1 - 2 - 3"), expr_of("(1 - 2) - 3"));
        assert_eq!(expr_of("f a b"), expr_of("(f a) b"));
        assert_eq!(expr_of("a || b && c"), expr_of("a || (b && c)"));
        assert_eq!(expr_of("f r.a"), expr_of("f (r.a)"));
        assert_eq!(expr_of("-x * y"), expr_of("(-x) * y"));
        assert_eq!(expr_of("\\a b -> a"), expr_of("\\a -> \\b -> a"));
    }

    #[test]
    fn trees_compare_structurally_ignoring_layout_and_comments() {
        let a = parse_module("let x = { a = 1, b = [2, 3] };").unwrap();
        let b = parse_module("// c\nlet   x =\n  { a = 1, -- c\n b = [2,3,] };").unwrap();
        assert_eq!(a, b);
        assert_eq!(crate::cache::hash_of(&a), crate::cache::hash_of(&b));
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = parse_module("let a = 1;\nlet b = (2;\n").unwrap_err();
        assert_eq!((e.span.line, e.span.col), (2, 11));
        assert_eq!(e.message, "expected `)`, found `;`");
        let e = parse_module("type t = Integer;").unwrap_err();
        assert!(e.message.contains("capitalised name"), "{}", e.message);
        let e = parse_module("let s = \"a\\q\";").unwrap_err();
        assert_eq!(e.message, "unknown escape `\\q`");
    }

    #[test]
    fn match_scrutinee_does_not_swallow_the_arms() {
        let e = expr_of("match f x { _ => 1 }");
        assert!(matches!(e.kind, ExprKind::Match(..)));
        let e = expr_of("match (f { a = 1 }) { _ => 1 }");
        assert!(matches!(e.kind, ExprKind::Match(..)));
    }

    #[test]
    fn type_bodies_distinguish_unions_from_aliases() {
        let m = parse_module(
            "type A = Integer;\ntype B = X | Y;\ntype C = | Only;\ntype D 'T = Some('T) | None;\ntype E = Integer where \\v -> v > 0;",
        )
        .unwrap();
        let kinds: Vec<bool> = m
            .types
            .iter()
            .map(|t| matches!(t.body, TypeBody::Union(_)))
            .collect();
        assert_eq!(kinds, vec![false, true, true, true, false]);
    }

    #[test]
    fn chains_are_bounded_before_the_tree_grows() {
        let src = format!("let x = 1{};", " + 1".repeat(MAX_AST_DEPTH + 5));
        let e = parse_module(&src).unwrap_err();
        assert!(e.message.contains("too deeply"), "{}", e.message);
        let ok = format!("let x = 1{};", " + 1".repeat(100));
        assert!(parse_module(&ok).is_ok());
    }
}
