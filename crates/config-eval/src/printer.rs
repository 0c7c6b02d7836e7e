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
                let _ = writeln!(out, "import {} as {};", parts.join("."), imp.alias);
            }
            ImportPath::File(path) => {
                out.push_str("import ");
                string_lit(&mut out, path);
                let _ = writeln!(out, " as {};", imp.alias);
            }
        }
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
    out
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
                let _ = write!(out, "{n}: ");
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
                let _ = write!(out, "{n} = ");
                expr(out, x);
            }
            out.push_str(" }");
        }
        ExprKind::Field(t, f) => {
            expr(out, t);
            let _ = write!(out, ".{f}");
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
                let _ = write!(out, "{n} = ");
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
