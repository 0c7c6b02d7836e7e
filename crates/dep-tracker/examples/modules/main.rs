//! An incremental build of a tiny module language over real files on disk.
//!
//! It writes a few modules into a fresh directory, builds them, then edits files the way
//! a user would and rebuilds after each edit, printing what re-ran:
//! a comment-only edit (early cutoff after `Parse`), a value change (only the modules
//! that import it re-run), an import cycle (an error naming the cycle), an overflowing
//! sum (a panicking step, reported as that step's failure), and the fix.
//!
//! Run it with `cargo run -p dep-tracker --example modules`.

mod lang;

use std::path::{Path, PathBuf};

use lang::Key;

const MODULES: &[(&str, &str)] = &[
    ("config", "# settings\nlet base = 10\nlet scale = 3\n"),
    ("math", "import config\nlet double = config.base + config.base\nlet triple = double + config.base\n"),
    ("report", "import math\nimport config\nlet total = math.triple + config.scale\n"),
    ("extra", "let unrelated = 42\n"),
    ("main", "import report\nimport extra\nlet answer = report.total + extra.unrelated\n"),
];

fn write(dir: &Path, module: &str, text: &str) -> std::io::Result<()> {
    std::fs::write(dir.join(format!("{module}.mod")), text)
}

fn build(
    engine: &mut dep_tracker::Engine<Key, lang::Val>,
    dir: &Path,
    what: &str,
) -> std::io::Result<()> {
    let before = engine.executions();
    lang::load_dir(engine, dir)?;
    let result = lang::exec(engine, "main");
    let ran = engine.executions() - before;
    match result {
        Ok(values) => println!("{what}: main = {values:?} ({ran} steps ran)"),
        Err(err) => println!("{what}: error: {err} ({ran} steps ran)"),
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("dep-tracker-modules-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for (module, text) in MODULES {
        write(&dir, module, text)?;
    }
    println!("modules in {}", dir.display());

    // A step's panic is reported as its failure below; keep the default hook's
    // backtrace out of the example's output.
    std::panic::set_hook(Box::new(|info| eprintln!("(a step panicked: {info})")));

    // Sequential checking makes the printed step counts exact; the parallel default
    // computes the same values.
    let mut engine = lang::engine();
    engine.set_parallel(false);
    build(&mut engine, &dir, "first build")?;
    build(&mut engine, &dir, "nothing changed")?;

    write(
        &dir,
        "config",
        "# settings, reworded\nlet base = 10\nlet scale = 3\n",
    )?;
    build(&mut engine, &dir, "comment edited in config")?;

    write(&dir, "config", "let base = 11\nlet scale = 3\n")?;
    let stale = engine.invalidated_by(&[Key::Source("config".into())]);
    println!(
        "changing config may invalidate {} steps: {stale:?}",
        stale.len()
    );
    build(&mut engine, &dir, "config.base changed")?;

    write(
        &dir,
        "config",
        "import main\nlet base = 11\nlet scale = 3\n",
    )?;
    build(&mut engine, &dir, "config imports main")?;

    write(
        &dir,
        "config",
        "let base = 9223372036854775807\nlet scale = 3\n",
    )?;
    build(&mut engine, &dir, "config.base huge")?;

    write(&dir, "config", "let base = 11\nlet scale = 3\n")?;
    build(&mut engine, &dir, "fixed")?;

    let dot = engine.graph().to_dot();
    println!(
        "dependency graph in DOT ({} lines), first lines:",
        dot.lines().count()
    );
    for line in dot.lines().take(4) {
        println!("  {line}");
    }
    std::fs::remove_dir_all(&dir)
}
