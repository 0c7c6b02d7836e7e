//! Lexer and recursive-descent parser for the grammar in `docs/config-eval.md`.
//!
//! Recursion is bounded by [`MAX_NESTING`] and the depth of the finished tree (long
//! operator and application chains build deep trees without recursing in the parser)
//! by [`MAX_AST_DEPTH`], so hostile input gets an error instead of a stack overflow.

use std::sync::Arc;

use crate::ast::*;

/// The level of comparison operators in [`Parser::peek_binop`].
const CMP: usize = 2;

/// How deeply brackets, lambdas, `let`, `if`, `match` and unary operators may nest.
pub(crate) const MAX_NESTING: usize = 200;
/// How deep the finished syntax tree of one declaration may be.
pub(crate) const MAX_AST_DEPTH: usize = 2_000;

/// The names of a selective import: name, local name, where.
type ImportItems = Vec<(String, String, Span)>;

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

/// One piece of an interpolated string literal.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Lit(String),
    /// The tokens of `${ ... }`, ending with `Eof`.
    Code(Vec<(Tok, Span)>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Upper(String),
    TyVar(String),
    Int(i64),
    Float(f64),
    Str(String),
    /// A string literal with at least one `${ ... }`.
    Interp(Vec<Piece>),
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
            Tok::Str(_) | Tok::Interp(_) => "a string".into(),
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

// Longest symbols first so that `->` wins over `-`, `==` over `=` and `...` over `.`.
const SYMBOLS: &[&str] = &[
    "...", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "++", "(", ")", "{", "}", "[", "]", ",",
    ";", ":", "=", ".", "\\", "|", "_", "+", "-", "*", "/", "%", "<", ">", "!", "&",
];

/// Whether `word` is a reserved word (it cannot name a variable or a field bare).
pub(crate) fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

fn lex(src: &str) -> Result<Vec<(Tok, Span)>, SyntaxError> {
    let mut lx = Lexer {
        chars: src.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
    };
    lx.tokens(0)
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
    line: u32,
    col: u32,
}

impl Lexer {
    fn advance(&mut self) {
        if let Some(&c) = self.chars.get(self.i) {
            self.i += 1;
            if c == '\n' {
                self.line += 1;
                self.col = 1;
            } else {
                self.col += 1;
            }
        }
    }

    fn here(&self) -> Span {
        Span {
            line: self.line,
            col: self.col,
        }
    }

    /// Tokens up to the end of input or, inside `${` (`nested > 0`), up to the `}` that
    /// closes it (consumed). The result ends with `Eof`.
    fn tokens(&mut self, nested: usize) -> Result<Vec<(Tok, Span)>, SyntaxError> {
        let mut out = Vec::new();
        let mut braces = 0usize;
        loop {
            let Some(&c) = self.chars.get(self.i) else {
                if nested > 0 {
                    return err(self.here(), "unterminated `${` in a string literal");
                }
                break;
            };
            let span = self.here();
            if c.is_whitespace() {
                self.advance();
                continue;
            }
            let next = self.chars.get(self.i + 1).copied();
            if (c == '/' && next == Some('/')) || (c == '-' && next == Some('-')) {
                while self.chars.get(self.i).is_some_and(|&ch| ch != '\n') {
                    self.advance();
                }
                continue;
            }
            if c == '/' && next == Some('*') {
                self.advance();
                self.advance();
                loop {
                    match (self.chars.get(self.i), self.chars.get(self.i + 1)) {
                        (Some('*'), Some('/')) => {
                            self.advance();
                            self.advance();
                            break;
                        }
                        (Some(_), _) => self.advance(),
                        (None, _) => return err(span, "unterminated `/*` comment"),
                    }
                }
                continue;
            }
            if nested > 0 && c == '}' && braces == 0 {
                self.advance();
                break;
            }
            if c == '{' {
                braces += 1;
            } else if c == '}' {
                braces = braces.saturating_sub(1);
            }
            if c.is_ascii_digit() {
                out.push((self.number()?, span));
                continue;
            }
            if c.is_alphabetic()
                || (c == '_' && next.is_some_and(|n| n.is_alphanumeric() || n == '_'))
            {
                let start = self.i;
                while self
                    .chars
                    .get(self.i)
                    .is_some_and(|&ch| ch.is_alphanumeric() || ch == '_')
                {
                    self.advance();
                }
                let text: String = self.chars[start..self.i].iter().collect();
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
                self.advance();
                let start = self.i;
                while self
                    .chars
                    .get(self.i)
                    .is_some_and(|&ch| ch.is_alphanumeric() || ch == '_')
                {
                    self.advance();
                }
                if start == self.i {
                    return err(span, "expected a type variable name after `'`");
                }
                out.push((Tok::TyVar(self.chars[start..self.i].iter().collect()), span));
                continue;
            }
            if c == '"' {
                out.push((self.string(nested)?, span));
                continue;
            }
            let rest = &self.chars[self.i..];
            let sym = SYMBOLS.iter().find(|s| {
                let sc: Vec<char> = s.chars().collect();
                rest.len() >= sc.len() && rest[..sc.len()] == sc[..]
            });
            match sym {
                Some(s) => {
                    for _ in s.chars() {
                        self.advance();
                    }
                    out.push((Tok::Sym(s), span));
                }
                None => return err(span, format!("unexpected character `{c}`")),
            }
        }
        out.push((Tok::Eof, self.here()));
        Ok(out)
    }

    fn number(&mut self) -> Result<Tok, SyntaxError> {
        let span = self.here();
        let start = self.i;
        while self.chars.get(self.i).is_some_and(|c| c.is_ascii_digit()) {
            self.advance();
        }
        let is_float = self.chars.get(self.i) == Some(&'.')
            && self
                .chars
                .get(self.i + 1)
                .is_some_and(|c| c.is_ascii_digit());
        if is_float {
            self.advance();
            while self.chars.get(self.i).is_some_and(|c| c.is_ascii_digit()) {
                self.advance();
            }
        }
        let text: String = self.chars[start..self.i].iter().collect();
        if is_float {
            return match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Tok::Float(f)),
                _ => err(span, format!("float literal `{text}` is out of range")),
            };
        }
        match text.parse::<i64>() {
            Ok(n) => Ok(Tok::Int(n)),
            Err(_) => {
                let shown: String = text.chars().take(24).collect();
                err(
                    span,
                    format!(
                        "integer literal `{shown}{}` does not fit in 64 bits (maximum {})",
                        if text.len() > 24 { "..." } else { "" },
                        i64::MAX
                    ),
                )
            }
        }
    }

    /// A string literal starting at `"`; `${ expr }` inside it makes an `Interp`.
    fn string(&mut self, nested: usize) -> Result<Tok, SyntaxError> {
        let span = self.here();
        self.advance();
        let mut pieces = Vec::new();
        let mut s = String::new();
        loop {
            let Some(&ch) = self.chars.get(self.i) else {
                return err(span, "unterminated string literal");
            };
            if ch == '$' && self.chars.get(self.i + 1) == Some(&'{') {
                if nested >= MAX_NESTING {
                    return err(
                        self.here(),
                        format!("nesting is too deep (the limit is {MAX_NESTING} levels)"),
                    );
                }
                self.advance();
                self.advance();
                pieces.push(Piece::Lit(std::mem::take(&mut s)));
                let code = self.tokens(nested + 1)?;
                pieces.push(Piece::Code(code));
                continue;
            }
            self.advance();
            match ch {
                '"' => break,
                '\\' => {
                    let Some(&e) = self.chars.get(self.i) else {
                        return err(span, "unterminated string literal");
                    };
                    let here = self.here();
                    self.advance();
                    s.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '"' => '"',
                        '\\' => '\\',
                        '$' => '$',
                        other => return err(here, format!("unknown escape `\\{other}`")),
                    });
                }
                other => s.push(other),
            }
        }
        if pieces.is_empty() {
            return Ok(Tok::Str(s));
        }
        pieces.push(Piece::Lit(s));
        Ok(Tok::Interp(pieces))
    }
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

/// Parses a type written on its own (the built-ins' signatures).
pub(crate) fn parse_type(src: &str) -> Result<TypeExpr, SyntaxError> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
        nesting: 0,
        no_record_arg: false,
        chain: 0,
    };
    let t = p.ty()?;
    if !matches!(p.peek(), Tok::Eof) {
        return p.unexpected("the end of the type");
    }
    Ok(t)
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
    /// A record field name: an identifier, a capitalised name (`DATABASE_URL`) or,
    /// where a record is written, a string (`"content-type"`).
    fn field_name(&mut self) -> Result<String, SyntaxError> {
        match self.peek().clone() {
            Tok::Ident(s) | Tok::Upper(s) | Tok::Str(s) => {
                self.bump();
                Ok(s)
            }
            // A keyword names a field too (`{ type = "service" }`, `r.type`), as in
            // the origin's grammar and samples.
            Tok::Kw(k) => {
                self.bump();
                Ok(k.to_owned())
            }
            _ => self.unexpected("a field name"),
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
            classes: Vec::new(),
            instances: Vec::new(),
            selected: Vec::new(),
        };
        if self.eat_kw("module") {
            let mut parts = vec![self.any_name()?];
            while self.eat_sym(".") {
                parts.push(self.any_name()?);
            }
            m.name = Some(parts.join("."));
            // The origin's samples sometimes leave the `;` out here.
            self.eat_sym(";");
        }
        // `export a, b;` lists: names and where they were listed.
        let mut export_list: Vec<(String, Span)> = Vec::new();
        loop {
            let span = self.span();
            if matches!(self.peek(), Tok::Eof) {
                break;
            }
            if self.eat_kw("import") {
                let (imp, items) = self.import(span)?;
                for (name, local, at) in items {
                    m.selected.push(Selected {
                        import: imp.alias.clone(),
                        name,
                        local,
                        span: at,
                    });
                }
                m.imports.push(imp);
                continue;
            }
            if matches!(self.peek(), Tok::Ident(w) if w == "typeclass")
                && matches!(self.peek_at(1), Tok::Upper(_))
            {
                self.bump();
                let c = self.class_decl(span, false)?;
                m.classes.push(c);
                continue;
            }
            if matches!(self.peek(), Tok::Ident(w) if w == "instance")
                && matches!(self.peek_at(1), Tok::Upper(_))
            {
                self.bump();
                let i = self.instance_decl(span)?;
                m.instances.push(i);
                continue;
            }
            let exported = self.eat_kw("export");
            if exported && matches!(self.peek(), Tok::Ident(w) if w == "typeclass") {
                self.bump();
                let c = self.class_decl(span, true)?;
                m.classes.push(c);
                continue;
            }
            if exported && matches!(self.peek(), Tok::Ident(_) | Tok::Upper(_)) {
                loop {
                    let nspan = self.span();
                    let name = self.any_name()?;
                    if self.is_kw("as") {
                        return err(self.span(), "renaming in an export list is not supported");
                    }
                    export_list.push((name, nspan));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.expect_sym(";")?;
                continue;
            }
            if self.eat_kw("let") {
                let (name, ann, value) = self.binding()?;
                self.expect_sym(";")?;
                let decl = LetDecl {
                    name,
                    ann,
                    value,
                    exported,
                    span,
                };
                check_depth(&decl.value)?;
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
                return self
                    .unexpected("`let`, `type`, `typeclass` or a list of names after `export`");
            } else {
                return self
                    .unexpected("`import`, `let`, `type`, `typeclass`, `instance` or `export`");
            }
        }
        for (name, span) in export_list {
            let mut found = false;
            for l in m.lets.iter_mut() {
                if l.name == name {
                    Arc::make_mut(l).exported = true;
                    found = true;
                }
            }
            for t in m.types.iter_mut() {
                if t.name == name {
                    t.exported = true;
                    found = true;
                }
            }
            for c in m.classes.iter_mut() {
                if c.name == name {
                    c.exported = true;
                    found = true;
                }
            }
            if !found {
                return err(
                    span,
                    format!("`{name}` is in an export list but is not declared in this module"),
                );
            }
        }
        Ok(m)
    }

    /// After `import`: `path ("as" name)? ("{" items "}")?` or `"{" items "}" from
    /// path`; the import and its selected names (name, local name, where).
    fn import(&mut self, span: Span) -> Result<(Import, ImportItems), SyntaxError> {
        let mut items = Vec::new();
        let selective_first = self.is_sym("{");
        if selective_first {
            items = self.import_items()?;
            if !matches!(self.peek(), Tok::Ident(w) if w == "from") {
                return self.unexpected("`from` after the imported names");
            }
            self.bump();
        }
        let (path, default_alias) = if let Tok::Str(s) = self.peek().clone() {
            self.bump();
            import_string(&s)
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
        if !selective_first && self.is_sym("{") {
            items = self.import_items()?;
        }
        let valid = alias
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() && !c.is_uppercase() || c == '_')
            && alias.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !KEYWORDS.contains(&alias.as_str());
        if !valid {
            return err(
                span,
                format!("this import's file name does not make a variable name (`{alias}`); add `as name`"),
            );
        }
        // The origin's samples sometimes leave the `;` out after an import.
        self.eat_sym(";");
        Ok((Import { path, alias, span }, items))
    }

    /// `{ a, b as c, T }`: the names of a selective import.
    fn import_items(&mut self) -> Result<ImportItems, SyntaxError> {
        self.expect_sym("{")?;
        let mut items = Vec::new();
        loop {
            let at = self.span();
            let name = self.any_name()?;
            let local = if self.eat_kw("as") {
                self.any_name()?
            } else {
                name.clone()
            };
            items.push((name, local, at));
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym("}")?;
        Ok(items)
    }

    /// After `typeclass`: `Name 'a where (method : type ;)*`.
    fn class_decl(&mut self, span: Span, exported: bool) -> Result<ClassDecl, SyntaxError> {
        let name = self.upper()?;
        let param = match self.bump() {
            Tok::TyVar(v) => v,
            other => {
                return err(
                    span,
                    format!(
                        "expected the class's type variable (e.g. `'a`), found {}",
                        other.describe()
                    ),
                )
            }
        };
        if matches!(self.peek(), Tok::TyVar(_)) {
            return err(self.span(), "a type class takes exactly one type variable");
        }
        self.expect_kw("where")?;
        let mut methods: Vec<(String, TypeExpr)> = Vec::new();
        loop {
            if matches!(self.peek(), Tok::Ident(w) if w == "superclass") {
                return err(self.span(), "superclasses are not supported");
            }
            if !(matches!(self.peek(), Tok::Ident(_)) && matches!(self.peek_at(1), Tok::Sym(":"))) {
                break;
            }
            let mspan = self.span();
            let m = self.ident()?;
            if methods.iter().any(|(n, _)| *n == m) {
                return err(mspan, format!("method `{m}` is declared twice"));
            }
            self.expect_sym(":")?;
            let t = self.ty()?;
            self.expect_sym(";")?;
            methods.push((m, t));
        }
        if methods.is_empty() {
            return self.unexpected("a method signature `name : type;`");
        }
        Ok(ClassDecl {
            name,
            param,
            methods,
            exported,
            span,
        })
    }

    /// After `instance`: `Class Type where (method = expr ;)*`.
    fn instance_decl(&mut self, span: Span) -> Result<InstanceDecl, SyntaxError> {
        let class = self.upper()?;
        // A constraint (`Eq 'a => ...`, in or out of parentheses) before `where`.
        for (t, at) in &self.toks[self.pos..] {
            match t {
                Tok::Sym("=>") => {
                    return err(
                        *at,
                        "constrained instances (`C 'a => ...`) are not supported",
                    )
                }
                Tok::Kw("where") | Tok::Sym(";") | Tok::Eof => break,
                _ => {}
            }
        }
        let ty = self.ty_app()?;
        self.expect_kw("where")?;
        let mut methods: Vec<(String, Expr)> = Vec::new();
        while matches!(self.peek(), Tok::Ident(_)) && matches!(self.peek_at(1), Tok::Sym("=")) {
            let mspan = self.span();
            let m = self.ident()?;
            if methods.iter().any(|(n, _)| *n == m) {
                return err(mspan, format!("method `{m}` is defined twice"));
            }
            self.expect_sym("=")?;
            let e = self.expr()?;
            check_depth(&e)?;
            self.expect_sym(";")?;
            methods.push((m, e));
        }
        if methods.is_empty() {
            return self.unexpected("a method definition `name = expr;`");
        }
        Ok(InstanceDecl {
            class,
            ty,
            methods,
            span,
        })
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

    /// A union when it starts with `|`, with `Name(`, or has a `|` outside brackets
    /// before the `;`; otherwise an alias.
    fn type_body(&mut self) -> Result<TypeBody, SyntaxError> {
        let leading_bar = self.eat_sym("|");
        let starts_variant =
            matches!(self.peek(), Tok::Upper(_)) && matches!(self.peek_at(1), Tok::Sym("("));
        if leading_bar || starts_variant || self.bar_ahead() {
            return Ok(TypeBody::Union(self.variants()?));
        }
        Ok(TypeBody::Alias(self.ty()?))
    }

    /// Whether a `|` comes before the end of this declaration, outside brackets.
    fn bar_ahead(&self) -> bool {
        let mut depth = 0usize;
        for (t, _) in &self.toks[self.pos..] {
            match t {
                Tok::Sym("(" | "[" | "{") => depth += 1,
                Tok::Sym(")" | "]" | "}") => {
                    if depth == 0 {
                        return false;
                    }
                    depth -= 1;
                }
                Tok::Sym("|") if depth == 0 => return true,
                Tok::Sym(";") | Tok::Eof | Tok::Kw("where") if depth == 0 => return false,
                _ => {}
            }
        }
        false
    }

    /// Variants `Name`, `Name(Type)` or `Name Type` (the origin's form, without
    /// parentheses: `Some Integer`, `Node (List Tree)`).
    fn variants(&mut self) -> Result<Vec<Variant>, SyntaxError> {
        let mut vs = Vec::new();
        loop {
            let span = self.span();
            let name = self.upper()?;
            let payload = if matches!(
                self.peek(),
                Tok::Upper(_) | Tok::TyVar(_) | Tok::Sym("(" | "{" | "[")
            ) {
                self.enter()?;
                let t = self.ty_app();
                self.leave();
                Some(t?)
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

    /// `NAME [: TYPE] = VALUE`, after `let`: the part a top-level declaration and a
    /// `let ... in` expression share.
    fn binding(&mut self) -> Result<(String, Option<TypeExpr>, Expr), SyntaxError> {
        let name = self.ident()?;
        let ann = if self.eat_sym(":") {
            Some(self.ty()?)
        } else {
            None
        };
        self.expect_sym("=")?;
        let value = self.expr()?;
        Ok((name, ann, value))
    }

    fn ty(&mut self) -> Result<TypeExpr, SyntaxError> {
        self.enter()?;
        let r = self.ty_inner();
        self.leave();
        r
    }

    fn ty_inner(&mut self) -> Result<TypeExpr, SyntaxError> {
        let mut base = self.ty_fun()?;
        // Class constraints in an annotation (`Ord 'a => 'a -> 'a -> 'a`, the origin's
        // form) are accepted and dropped: the checker resolves every method use itself.
        while self.is_sym("=>") {
            let constraint =
                matches!(&base, TypeExpr::Named(n, args, _) if n != "List" && !args.is_empty());
            if !constraint {
                return self.unexpected("a type (a constraint before `=>` is `Class 'a`)");
            }
            self.bump();
            base = self.ty_fun()?;
        }
        if !self.eat_kw("where") {
            return Ok(base);
        }
        let pred = self.expr()?;
        check_depth(&pred)?;
        Ok(TypeExpr::Refine(
            Box::new(base),
            Box::new(implicit_subject(pred)),
        ))
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
                Tok::Upper(_) | Tok::TyVar(_) | Tok::Sym("{" | "(" | "[")
            ) {
                args.push(self.ty_atom()?);
            }
            return Ok(TypeExpr::Named(builtin_alias(name), args, span));
        }
        self.ty_atom()
    }

    fn ty_atom(&mut self) -> Result<TypeExpr, SyntaxError> {
        let span = self.span();
        match self.peek().clone() {
            Tok::Upper(name) => {
                self.bump();
                Ok(TypeExpr::Named(builtin_alias(name), Vec::new(), span))
            }
            Tok::Sym("[") => {
                // `[T]` is `List T`, as in the origin's grammar.
                self.bump();
                let t = self.ty()?;
                self.expect_sym("]")?;
                Ok(TypeExpr::Named("List".into(), vec![t], span))
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
                    let name = self.field_name()?;
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
            // The origin's `\x : T -> e`: one parameter, a type without a top-level
            // arrow (parenthesise a function type).
            if self.is_sym(":") && params.len() == 1 && params[0].1.is_none() {
                self.bump();
                self.enter()?;
                let t = self.ty_app();
                self.leave();
                params[0].1 = Some(t?);
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
            let (name, ann, value) = self.binding()?;
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
                let when = matches!(self.peek(), Tok::Ident(w) if w == "when");
                let guard = if when || self.is_kw("if") {
                    self.bump();
                    let g = self.expr()?;
                    check_depth(&g)?;
                    Some(g)
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

    /// The binary operator at the cursor and its level (higher binds tighter).
    fn peek_binop(&self) -> Option<(usize, BinOp)> {
        const OPS: &[(&str, usize, BinOp)] = &[
            ("||", 0, BinOp::Or),
            ("&&", 1, BinOp::And),
            ("==", CMP, BinOp::Eq),
            ("!=", CMP, BinOp::Ne),
            ("<=", CMP, BinOp::Le),
            (">=", CMP, BinOp::Ge),
            ("<", CMP, BinOp::Lt),
            (">", CMP, BinOp::Gt),
            ("&", 3, BinOp::Merge),
            ("++", 4, BinOp::Concat),
            ("+", 4, BinOp::Add),
            ("-", 4, BinOp::Sub),
            ("*", 5, BinOp::Mul),
            ("/", 5, BinOp::Div),
            ("%", 5, BinOp::Rem),
        ];
        match self.peek() {
            Tok::Sym(s) => OPS
                .iter()
                .find(|(o, _, _)| o == s)
                .map(|(_, level, op)| (*level, *op)),
            _ => None,
        }
    }

    /// Operators of level `min` and above, by precedence climbing: one frame per
    /// operator level actually used, so nested brackets cost little stack.
    fn binary(&mut self, min: usize) -> Result<Expr, SyntaxError> {
        let mut lhs = self.unary()?;
        let mut links = 0;
        while let Some((level, op)) = self.peek_binop() {
            if level < min {
                break;
            }
            self.link()?;
            links += 1;
            let span = self.span();
            self.bump();
            let rhs = self.binary(level + 1)?;
            if level != CMP {
                lhs = Expr {
                    kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    span,
                };
                continue;
            }
            lhs = self.comparison(lhs, op, rhs, span, &mut links)?;
        }
        self.chain -= links;
        Ok(lhs)
    }

    /// `lhs op rhs`, then any further orderings: `a <= x <= b` (the origin's samples
    /// write ranges so) means `a <= x && x <= b`; equality does not chain.
    fn comparison(
        &mut self,
        lhs: Expr,
        op: BinOp,
        rhs: Expr,
        span: Span,
        links: &mut usize,
    ) -> Result<Expr, SyntaxError> {
        let ordering = |op: BinOp| matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge);
        let mut out = Expr {
            kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs.clone())),
            span,
        };
        let (mut prev_op, mut middle) = (op, rhs);
        while let Some((CMP, next)) = self.peek_binop() {
            if !(ordering(prev_op) && ordering(next)) {
                return self.unexpected(
                    "an operator other than a comparison (comparisons do not chain, except `<`, `<=`, `>`, `>=`)",
                );
            }
            self.link()?;
            *links += 1;
            let span = self.span();
            self.bump();
            let rhs = self.binary(CMP + 1)?;
            let step = Expr {
                kind: ExprKind::Binary(next, Box::new(middle), Box::new(rhs.clone())),
                span,
            };
            out = Expr {
                kind: ExprKind::Binary(BinOp::And, Box::new(out), Box::new(step)),
                span,
            };
            prev_op = next;
            middle = rhs;
        }
        Ok(out)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        // The origin's literals may carry a sign: `+5` is `5`.
        if self.is_sym("+") && matches!(self.peek_at(1), Tok::Int(_) | Tok::Float(_)) {
            self.bump();
        }
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
            let span = self.span();
            if self.is_sym("(") {
                // `f(a, b)` is `f a b` (the origin's call syntax); `f(a)` is `f (a)`.
                let args = self.call_args()?;
                for arg in args {
                    self.link()?;
                    links += 1;
                    f = Expr {
                        kind: ExprKind::App(Box::new(f), Box::new(arg)),
                        span,
                    };
                }
                continue;
            }
            self.link()?;
            links += 1;
            let arg = self.postfix()?;
            f = Expr {
                kind: ExprKind::App(Box::new(f), Box::new(arg)),
                span,
            };
        }
        self.chain -= links;
        Ok(f)
    }

    /// `e, e, ...` up to the closing `close` (consumed).
    fn comma_exprs(&mut self, close: &str) -> Result<Vec<Expr>, SyntaxError> {
        let mut out = Vec::new();
        loop {
            out.push(self.expr()?);
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym(close)?;
        Ok(out)
    }

    /// An argument in parentheses: `()`, `(e)` (with any `.field`s after it) or
    /// `(a, b, ...)`, which passes each as an argument.
    fn call_args(&mut self) -> Result<Vec<Expr>, SyntaxError> {
        let span = self.span();
        self.expect_sym("(")?;
        if self.eat_sym(")") {
            return Ok(vec![Expr {
                kind: ExprKind::Unit,
                span,
            }]);
        }
        self.enter()?;
        let saved = std::mem::replace(&mut self.no_record_arg, false);
        let r = self.comma_exprs(")");
        self.no_record_arg = saved;
        self.leave();
        let mut args = r?;
        if args.len() == 1 {
            let e = args.pop().map_or(
                Expr {
                    kind: ExprKind::Unit,
                    span,
                },
                |e| e,
            );
            return Ok(vec![self.fields_after(e)?]);
        }
        Ok(args)
    }

    fn starts_atom(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Ident(_)
                | Tok::Upper(_)
                | Tok::Int(_)
                | Tok::Float(_)
                | Tok::Str(_)
                | Tok::Interp(_)
                | Tok::Kw("true")
                | Tok::Kw("false")
                | Tok::Sym("(")
                | Tok::Sym("[")
        ) || (self.is_sym("{") && !self.no_record_arg)
    }

    fn postfix(&mut self) -> Result<Expr, SyntaxError> {
        let e = self.atom()?;
        self.fields_after(e)
    }

    /// `e.a.b`: the field accesses after an atom.
    fn fields_after(&mut self, mut e: Expr) -> Result<Expr, SyntaxError> {
        let mut links = 0;
        while self.is_sym(".") {
            self.link()?;
            links += 1;
            let span = self.span();
            self.bump();
            let field = match self.peek().clone() {
                Tok::Ident(s) | Tok::Upper(s) => {
                    self.bump();
                    s
                }
                Tok::Kw(k) => {
                    self.bump();
                    k.to_owned()
                }
                _ => return self.unexpected("a field name"),
            };
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
            Tok::Interp(pieces) => {
                self.bump();
                let mut parts = Vec::new();
                for piece in pieces {
                    match piece {
                        Piece::Lit(text) if text.is_empty() => {}
                        Piece::Lit(text) => parts.push(Expr {
                            kind: ExprKind::Str(text),
                            span,
                        }),
                        Piece::Code(toks) => {
                            let mut sub = Parser {
                                toks,
                                pos: 0,
                                nesting: self.nesting,
                                no_record_arg: false,
                                chain: self.chain,
                            };
                            sub.enter()?;
                            let e = sub.expr()?;
                            if !matches!(sub.peek(), Tok::Eof) {
                                return sub.unexpected("`}` closing `${`");
                            }
                            parts.push(e);
                        }
                    }
                }
                ExprKind::Interp(parts)
            }
            Tok::Sym("{") => {
                self.bump();
                self.enter()?;
                let r = self.record_body();
                self.leave();
                let kind = r?;
                self.expect_sym("}")?;
                kind
            }
            _ => return self.unexpected("an expression"),
        };
        Ok(Expr { kind, span })
    }

    /// After `{`: `a = 1, b = 2` (a record) or `r | a = 1` (an update), up to `}`.
    fn record_body(&mut self) -> Result<ExprKind, SyntaxError> {
        let literal = self.is_sym("}")
            || (matches!(
                self.peek(),
                Tok::Ident(_) | Tok::Upper(_) | Tok::Str(_) | Tok::Kw(_)
            ) && matches!(self.peek_at(1), Tok::Sym("=")));
        let base = if literal {
            None
        } else {
            let saved = std::mem::replace(&mut self.no_record_arg, false);
            let e = self.expr();
            self.no_record_arg = saved;
            let e = e?;
            self.expect_sym("|")?;
            Some(e)
        };
        let mut fields: Vec<(String, Expr)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while !self.is_sym("}") {
            let fspan = self.span();
            let name = self.field_name()?;
            if !seen.insert(name.clone()) {
                return err(fspan, format!("field `{name}` appears twice"));
            }
            self.expect_sym("=")?;
            let saved = std::mem::replace(&mut self.no_record_arg, false);
            let e = self.expr();
            self.no_record_arg = saved;
            fields.push((name, e?));
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(match base {
            None => ExprKind::Record(fields),
            Some(b) => {
                if fields.is_empty() {
                    return self.unexpected("a field to replace after `|`");
                }
                ExprKind::Update(Box::new(b), fields)
            }
        })
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
            Tok::Sym("+") => match self.bump() {
                Tok::Int(n) => Ok(Pattern::Int(n)),
                _ => err(span, "expected an integer after `+` in a pattern"),
            },
            Tok::Str(s) => Ok(Pattern::Str(s)),
            Tok::Kw("true") => Ok(Pattern::Bool(true)),
            Tok::Kw("false") => Ok(Pattern::Bool(false)),
            Tok::Upper(name) => {
                // `Some(x)`, or `Some x` as the origin's documentation writes it: a
                // payload pattern that is a name, a literal or a bracket (not `when`).
                let bare = match self.peek() {
                    Tok::Ident(w) => w != "when",
                    Tok::Int(_) | Tok::Str(_) | Tok::Kw("true" | "false") => true,
                    Tok::Sym("_" | "[" | "{") => true,
                    _ => false,
                };
                let payload = if self.eat_sym("(") {
                    let p = self.pattern()?;
                    self.expect_sym(")")?;
                    Some(Box::new(p))
                } else if bare {
                    Some(Box::new(self.pattern()?))
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
                let mut rest = None;
                while !self.is_sym("]") {
                    if self.eat_sym("...") {
                        rest = Some(Box::new(self.pattern()?));
                        break;
                    }
                    items.push(self.pattern()?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.expect_sym("]")?;
                Ok(match rest {
                    Some(r) => Pattern::ListRest(items, r),
                    None => Pattern::List(items),
                })
            }
            Tok::Sym("{") => {
                let mut fields: Vec<(String, Pattern)> = Vec::new();
                while !self.is_sym("}") {
                    let name = self.field_name()?;
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

/// `Int`, the origin's other spelling of `Integer`.
fn builtin_alias(name: String) -> String {
    if name == "Int" {
        "Integer".into()
    } else {
        name
    }
}

/// The origin's refinement form `T where x > 0` has an implicit subject `x`: a
/// predicate that is not a lambda and reads a free `x` becomes `\x -> pred`. A lambda,
/// or a predicate without a free `x` (a function name such as `isPort`), is kept.
fn implicit_subject(pred: Expr) -> Expr {
    if matches!(pred.kind, ExprKind::Lambda(_)) {
        return pred;
    }
    let mut free = std::collections::HashSet::new();
    crate::types::free_globals(&pred, &mut Vec::new(), &mut free);
    if !free.contains("x") {
        return pred;
    }
    let span = pred.span;
    Expr {
        kind: ExprKind::Lambda(Arc::new(Lambda {
            param: "x".into(),
            ann: None,
            body: pred,
        })),
        span,
    }
}

/// What `import "s";` names and binds. A string without `/` whose dot-separated parts
/// are identifiers (`"std.core"`) is a dotted module path (`std/core.lig`, bound to
/// `core`); a path without an extension gets `.lig`; the alias is the file's stem.
fn import_string(s: &str) -> (ImportPath, String) {
    let is_ident = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    if !s.contains('/') && !s.ends_with(".lig") && s.contains('.') && s.split('.').all(is_ident) {
        let parts: Vec<String> = s.split('.').map(str::to_owned).collect();
        let last = parts.last().cloned().unwrap_or_default();
        return (ImportPath::Dotted(parts), last);
    }
    let file = s.rsplit('/').next().unwrap_or(s);
    let (path, stem) = match file.strip_suffix(".lig") {
        Some(stem) => (s.to_owned(), stem.to_owned()),
        None if !file.contains('.') && !file.is_empty() => (format!("{s}.lig"), file.to_owned()),
        None => (s.to_owned(), file.to_owned()),
    };
    (ImportPath::File(path), stem)
}

/// Rejects expressions whose tree is deeper than [`MAX_AST_DEPTH`], walking with an
/// explicit stack so the check itself cannot overflow.
fn check_depth(root: &Expr) -> Result<(), SyntaxError> {
    let mut stack: Vec<(&Expr, usize)> = vec![(root, 1)];
    while let Some((e, d)) = stack.pop() {
        if d > MAX_AST_DEPTH {
            return err(
                e.span,
                format!("expression is nested too deeply (the limit is {MAX_AST_DEPTH} levels)"),
            );
        }
        match &e.kind {
            ExprKind::List(xs) | ExprKind::Interp(xs) => {
                stack.extend(xs.iter().map(|x| (x, d + 1)))
            }
            ExprKind::Record(fs) => stack.extend(fs.iter().map(|(_, x)| (x, d + 1))),
            ExprKind::Update(r, fs) => {
                stack.push((r, d + 1));
                stack.extend(fs.iter().map(|(_, x)| (x, d + 1)));
            }
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
        assert_eq!(expr_of("+5 + +2.5"), expr_of("5 + 2.5"));
        assert_eq!(
            expr_of("match o { Some n when n > 1 => n, Some _ => 0, None when true => 1 }"),
            expr_of("match o { Some(n) when n > 1 => n, Some(_) => 0, None when true => 1 }")
        );
        let m = parse_module("let m : Num 'a => Ord 'a => 'a -> 'a = \\x -> x;").unwrap();
        assert!(matches!(m.lets[0].ann, Some(TypeExpr::Fun(..))));
        assert_eq!(
            expr_of("match x { +1 => 0, _ => 1 }"),
            expr_of("match x { 1 => 0, _ => 1 }")
        );
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
    fn merge_binds_tighter_than_comparison_and_orderings_chain() {
        assert_eq!(expr_of("a & b == c"), expr_of("(a & b) == c"));
        assert_eq!(expr_of("a & b ++ c"), expr_of("a & (b ++ c)"));
        assert_eq!(expr_of("1 <= x < 9"), expr_of("1 <= x && x < 9"));
        assert_eq!(
            expr_of("a < b <= c > d"),
            expr_of("(a < b && b <= c) && c > d")
        );
        assert_eq!(expr_of("f(a, b)"), expr_of("f a b"));
        assert_eq!(expr_of("f(a)(b).c"), expr_of("f a (b.c)"));
        let e = parse_module("let x = 1 == 2 == 3;").unwrap_err();
        assert!(e.message.contains("do not chain"), "{}", e.message);
        let e = parse_module("let x = 1 < 2 == true;").unwrap_err();
        assert!(e.message.contains("do not chain"), "{}", e.message);
    }

    #[test]
    fn nesting_up_to_the_limit_parses_on_a_main_thread_stack() {
        // The engine parses on threads with big stacks; `format_source` parses on the
        // caller's, typically a main thread's 8 MiB. Every form of nesting, up to the
        // limit, must fit there, and one level more is an error.
        let run = || {
            let depth = MAX_NESTING - 2;
            let parens = format!("let x = {}1{};", "(".repeat(depth), ")".repeat(depth));
            assert!(parse_module(&parens).is_ok());
            let half = depth / 2;
            let calls = format!("let x = {}1{};", "f (".repeat(half), ")".repeat(half));
            assert!(parse_module(&calls).is_ok());
            let interp = format!("let x = {}1{};", "\"${".repeat(half), "}\"".repeat(half));
            assert!(parse_module(&interp).is_ok());
            let deep = MAX_NESTING + 1;
            let too_deep = format!("let x = {}1{};", "\"${".repeat(deep), "}\"".repeat(deep));
            let e = parse_module(&too_deep).unwrap_err();
            assert!(e.message.contains("too deep"), "{}", e.message);
            let too_deep = format!("let x = {}1{};", "(".repeat(deep), ")".repeat(deep));
            assert!(parse_module(&too_deep).is_err());
        };
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(run)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn implicit_subject_and_payload_forms() {
        let m = parse_module("type P = Integer where x > 0;\ntype Q = Integer where isOk;\ntype O = Some Integer | None;\ntype L = [Int];").unwrap();
        let TypeBody::Alias(TypeExpr::Refine(_, p)) = &m.types[0].body else {
            panic!("{:?}", m.types[0].body)
        };
        assert!(matches!(&p.kind, ExprKind::Lambda(l) if l.param == "x"));
        let TypeBody::Alias(TypeExpr::Refine(_, q)) = &m.types[1].body else {
            panic!("{:?}", m.types[1].body)
        };
        assert!(matches!(&q.kind, ExprKind::Var(n) if n == "isOk"));
        assert!(
            matches!(&m.types[2].body, TypeBody::Union(vs) if vs.len() == 2 && vs[0].payload.is_some())
        );
        assert_eq!(
            m.types[3].body,
            TypeBody::Alias(TypeExpr::Named(
                "List".into(),
                vec![TypeExpr::Named("Integer".into(), vec![], Span::default())],
                Span::default()
            ))
        );
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
