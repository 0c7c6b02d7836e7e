//! The call sample of `docs/code-graph-call-sample.md`: the first 20 functions or
//! methods of a crate's library under `src/`, in node-ID order, whose body has a
//! parenthesis after its `{`, each with the `calls` edges the graph gives it.
//!
//! `cargo run -p code-graph --example call_sample -- <crate-dir> [count]`
//!
//! The output is what a person checks by reading each function; the checked result is
//! pinned by `tests/it/call_sample.rs`.

use code_graph::{build, BuildOptions, EdgeKind, NodeKind, TargetKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(
        args.next()
            .ok_or("usage: call_sample <crate-dir> [count]")?,
    );
    let count: usize = args.next().map(|t| t.parse()).transpose()?.unwrap_or(20);
    let g = build(&dir, &BuildOptions::parallel(2))?;
    let lib = g
        .crates
        .iter()
        .find(|c| c.kind == TargetKind::Lib)
        .ok_or("no library target")?;
    let mut fns: Vec<&code_graph::Node> = g
        .nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Function | NodeKind::Method))
        .filter(|n| *n.krate == *lib.name)
        .filter(|n| n.file.as_deref().is_some_and(|f| f.starts_with("src/")))
        .collect();
    fns.sort_by_key(|n| n.id);
    let mut shown = 0;
    for n in fns {
        if shown == count {
            break;
        }
        let file = n.file.as_deref().unwrap_or_default();
        let text = std::fs::read_to_string(dir.join(file))?;
        if !body_has_paren(&text, n.line) {
            continue;
        }
        shown += 1;
        println!("{} ({file}:{})", n.path, n.line);
        let mut callees: Vec<&str> = g
            .targets(n.id, EdgeKind::Calls)
            .into_iter()
            .filter_map(|t| g.node(t))
            .map(|t| t.path.as_str())
            .collect();
        callees.sort_unstable();
        for c in callees {
            println!("    -> {c}");
        }
    }
    Ok(())
}

/// Whether the text from `line` on has a `(` between its first `{` and the `}` that
/// closes it (a rough test that a body may hold a call).
fn body_has_paren(text: &str, line: u32) -> bool {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let rest = &text[start..];
    let Some(open) = rest.find('{') else {
        return false;
    };
    let mut depth = 0;
    for c in rest[open..].chars() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return false;
                }
            }
            '(' => return true,
            _ => {}
        }
    }
    false
}
