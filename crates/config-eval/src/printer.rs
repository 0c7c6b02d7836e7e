//! A printer that writes a syntax tree back as source the parser accepts.
//!
//! Every compound sub-expression is parenthesised, so the output does not depend on
//! precedence rules; comments and layout are not kept. Parsing the output gives a tree
//! equal to the original (spans aside), which the round-trip tests check.

use std::fmt::Write;

use crate::ast::*;

pub(crate) fn print_module(m: &Module) -> String {
    let mut out = String::new();
    if let Some(name) = &m.name {
        let _ = writeln!(out, "module {name};");
    }
    for imp in &m.imports {
        match &imp.path {
            ImportPath::Dotted(parts) => {
                let _ = write!(out, "import {} as {}", parts.join("."), imp.alias);
            }
            ImportPath::File(path) => {
                out.push_str("import ");
                string_lit(&mut out, path);
                let _ = write!(out, " as {}", imp.alias);
            }
        }
        let items: Vec<String> = m
            .selected
            .iter()
            .filter(|s| s.import == imp.alias)
            .map(|s| {
                if s.name == s.local {
                    s.name.clone()
                } else {
                    format!("{} as {}", s.name, s.local)
                }
            })
            .collect();
        if !items.is_empty() {
            let _ = write!(out, " {{ {} }}", items.join(", "));
        }
        out.push_str(";\n");
    }
    for t in &m.types {
        if t.exported {
            out.push_str("export ");
        }
        let _ = write!(out, "type {}", t.name);
        for p in &t.params {
            let _ = write!(out, " '{p}");
        }
        out.push_str(" =");
        match &t.body {
            TypeBody::Alias(ty) => {
                out.push(' ');
                type_expr(&mut out, ty);
            }
            TypeBody::Union(vs) => {
                for v in vs {
                    let _ = write!(out, " | {}", v.name);
                    if let Some(p) = &v.payload {
                        out.push('(');
                        type_expr(&mut out, p);
                        out.push(')');
                    }
                }
            }
        }
        out.push_str(";\n");
    }
    for c in &m.classes {
        if c.exported {
            out.push_str("export ");
        }
        let _ = write!(out, "typeclass {} '{} where", c.name, c.param);
        for (name, t) in &c.methods {
            let _ = write!(out, " {name} : ");
            type_expr(&mut out, t);
            out.push(';');
        }
        out.push('\n');
    }
    for l in &m.lets {
        if l.exported {
            out.push_str("export ");
        }
        let _ = write!(out, "let {}", l.name);
        if let Some(a) = &l.ann {
            out.push_str(": ");
            type_expr(&mut out, a);
        }
        out.push_str(" = ");
        expr(&mut out, &l.value);
        out.push_str(";\n");
    }
    for i in &m.instances {
        let _ = write!(out, "instance {} ", i.class);
        type_expr(&mut out, &i.ty);
        out.push_str(" where");
        for (name, e) in &i.methods {
            let _ = write!(out, " {name} = ");
            expr(&mut out, e);
            out.push(';');
        }
        out.push('\n');
    }
    out
}

/// A refinement predicate as text for error messages: a lambda's body (its parameter
/// is the subject, `x` in the implicit form), else the whole expression.
pub(crate) fn predicate_text(pred: &Expr) -> String {
    let mut out = String::new();
    match &pred.kind {
        ExprKind::Lambda(l) if l.ann.is_none() => expr(&mut out, &l.body),
        _ => expr(&mut out, pred),
    }
    if out.starts_with('(') && out.ends_with(')') && balanced_inside(&out) {
        out = out[1..out.len() - 1].to_owned();
    }
    out
}

/// Whether the parentheses of `s` without its first and last character still balance.
fn balanced_inside(s: &str) -> bool {
    let mut depth = 0i64;
    for c in s[1..s.len() - 1].chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// A field name as written: bare when it is a name, else a string.
fn field(out: &mut String, name: &str) {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_')
        && name != "_"
        && !crate::parser::is_keyword(name);
    if bare {
        out.push_str(name);
    } else {
        string_lit(out, name);
    }
}

fn string_lit(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '$' => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn type_expr(out: &mut String, t: &TypeExpr) {
    match t {
        TypeExpr::Named(n, args, _) if args.is_empty() => out.push_str(n),
        TypeExpr::Var(v) => {
            let _ = write!(out, "'{v}");
        }
        TypeExpr::Record(fs) => {
            out.push('{');
            for (i, (n, t)) in fs.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                field(out, n);
                out.push_str(": ");
                type_expr(out, t);
            }
            out.push_str(" }");
        }
        TypeExpr::Named(n, args, _) => {
            let _ = write!(out, "({n}");
            for a in args {
                out.push(' ');
                type_expr(out, a);
            }
            out.push(')');
        }
        TypeExpr::Fun(a, b) => {
            out.push('(');
            type_expr(out, a);
            out.push_str(" -> ");
            type_expr(out, b);
            out.push(')');
        }
        TypeExpr::Refine(b, p) => {
            out.push('(');
            type_expr(out, b);
            out.push_str(" where ");
            expr(out, p);
            out.push(')');
        }
    }
}

fn expr(out: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::Unit => out.push_str("()"),
        ExprKind::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        ExprKind::Int(i) => {
            let _ = write!(out, "{i}");
        }
        ExprKind::Float(f) => {
            // `Display` for f64 never uses an exponent and round-trips exactly.
            let s = f.0.to_string();
            out.push_str(&s);
            if !s.contains('.') {
                out.push_str(".0");
            }
        }
        ExprKind::Str(s) => string_lit(out, s),
        ExprKind::Var(n) | ExprKind::Ctor(n) => out.push_str(n),
        ExprKind::List(xs) => {
            out.push('[');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                expr(out, x);
            }
            out.push(']');
        }
        ExprKind::Record(fs) => {
            out.push('{');
            for (i, (n, x)) in fs.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                field(out, n);
                out.push_str(" = ");
                expr(out, x);
            }
            out.push_str(" }");
        }
        ExprKind::Update(r, fs) => {
            out.push_str("{ ");
            expr(out, r);
            out.push_str(" |");
            for (i, (n, x)) in fs.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                field(out, n);
                out.push_str(" = ");
                expr(out, x);
            }
            out.push_str(" }");
        }
        ExprKind::Interp(parts) => {
            let is_str = |i: usize| matches!(parts.get(i).map(|p| &p.kind), Some(ExprKind::Str(_)));
            let any_code = (0..parts.len()).any(|i| !is_str(i));
            out.push('"');
            for (i, p) in parts.iter().enumerate() {
                let literal = any_code && !(i > 0 && is_str(i - 1)) && !is_str(i + 1);
                match &p.kind {
                    ExprKind::Str(text) if literal => {
                        let mut lit = String::new();
                        string_lit(&mut lit, text);
                        out.push_str(&lit[1..lit.len() - 1]);
                    }
                    _ => {
                        out.push_str("${");
                        expr(out, p);
                        out.push('}');
                    }
                }
            }
            out.push('"');
        }
        ExprKind::Field(t, f) => {
            expr(out, t);
            out.push('.');
            // Only names are read with `.`; keywords included.
            out.push_str(f);
        }
        ExprKind::Lambda(l) => {
            out.push_str("(\\");
            match &l.ann {
                Some(a) => {
                    let _ = write!(out, "({} : ", l.param);
                    type_expr(out, a);
                    out.push(')');
                }
                None => out.push_str(&l.param),
            }
            out.push_str(" -> ");
            expr(out, &l.body);
            out.push(')');
        }
        ExprKind::App(f, a) => {
            out.push('(');
            expr(out, f);
            out.push(' ');
            expr(out, a);
            out.push(')');
        }
        ExprKind::Let(n, ann, v, b) => {
            let _ = write!(out, "(let {n}");
            if let Some(a) = ann {
                out.push_str(": ");
                type_expr(out, a);
            }
            out.push_str(" = ");
            expr(out, v);
            out.push_str(" in ");
            expr(out, b);
            out.push(')');
        }
        ExprKind::If(c, t, f) => {
            out.push_str("(if ");
            expr(out, c);
            out.push_str(" then ");
            expr(out, t);
            out.push_str(" else ");
            expr(out, f);
            out.push(')');
        }
        ExprKind::Match(s, arms) => {
            out.push_str("(match ");
            expr(out, s);
            out.push_str(" {");
            for (i, arm) in arms.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                pattern(out, &arm.pat);
                if let Some(g) = &arm.guard {
                    out.push_str(" if ");
                    expr(out, g);
                }
                out.push_str(" => ");
                expr(out, &arm.body);
            }
            out.push_str(" })");
        }
        ExprKind::Binary(op, a, b) => {
            out.push('(');
            expr(out, a);
            let _ = write!(out, " {} ", op.symbol());
            expr(out, b);
            out.push(')');
        }
        ExprKind::Unary(op, x) => {
            out.push('(');
            out.push(match op {
                UnOp::Neg => '-',
                UnOp::Not => '!',
            });
            expr(out, x);
            out.push(')');
        }
    }
}

fn pattern(out: &mut String, p: &Pattern) {
    match p {
        Pattern::Wildcard => out.push('_'),
        Pattern::Var(n) => out.push_str(n),
        Pattern::Unit => out.push_str("()"),
        Pattern::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Pattern::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Pattern::Str(s) => string_lit(out, s),
        Pattern::Ctor(n, payload, _) => {
            out.push_str(n);
            if let Some(p) = payload {
                out.push('(');
                pattern(out, p);
                out.push(')');
            }
        }
        Pattern::Record(fs, _) => {
            out.push('{');
            for (i, (n, p)) in fs.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                field(out, n);
                out.push_str(" = ");
                pattern(out, p);
            }
            out.push_str(" }");
        }
        Pattern::List(ps) => {
            out.push('[');
            for (i, p) in ps.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                pattern(out, p);
            }
            out.push(']');
        }
        Pattern::ListRest(ps, rest) => {
            out.push('[');
            for p in ps {
                pattern(out, p);
                out.push_str(", ");
            }
            out.push_str("...");
            pattern(out, rest);
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_module;

    fn corpus_sources() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut out = Vec::new();
        for phase in ["parse", "typecheck", "eval"] {
            for kind in ["success", "failure"] {
                for entry in std::fs::read_dir(root.join(phase).join(kind)).unwrap() {
                    let p = entry.unwrap().path();
                    if p.extension().is_some_and(|e| e == "lig") {
                        out.push((
                            p.display().to_string(),
                            std::fs::read_to_string(&p).unwrap(),
                        ));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn printing_then_parsing_gives_the_same_tree_on_the_corpus() {
        let mut checked = 0;
        for (name, src) in corpus_sources() {
            let Ok(m) = parse_module(&src) else { continue };
            let printed = print_module(&m);
            let again =
                parse_module(&printed).unwrap_or_else(|e| panic!("{name}: {e:?}\n{printed}"));
            assert_eq!(m, again, "{name}:\n{printed}");
            assert_eq!(print_module(&again), printed, "{name}");
            checked += 1;
        }
        assert!(checked >= 20, "{checked}");
    }

    #[test]
    fn floats_negative_patterns_and_escapes_survive() {
        let src = "let x = match 0 - 3 { -3 => 0.1, _ => 100000000000000000000.0 };\nlet s = \"a\\\"\\n\";";
        let m = parse_module(src).unwrap();
        assert_eq!(parse_module(&print_module(&m)).unwrap(), m);
    }
}
