//! Writes a generated configuration to a directory, to try the CLI on something big:
//! `cargo run --example gen_config -- OUT_DIR MODULES DECLS`, then
//! `config-eval eval OUT_DIR/main.lig --parallel --stats`.
//!
//! `cargo run --example gen_config -- OUT_DIR MODULES RECORDS twin` writes the
//! configuration of the Jsonnet comparison instead, in both languages (`main.lig` and
//! `main.jsonnet`), so `jsonnet OUT_DIR/main.jsonnet` can be run beside it.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(args.get(1).map_or("generated", |s| s.as_str()));
    let modules: usize = args.get(2).map_or(Ok(100), |s| s.parse())?;
    let decls: usize = args.get(3).map_or(Ok(50), |s| s.parse())?;
    let files = if args.get(4).is_some_and(|s| s == "twin") {
        let twin = config_eval::generate::twin_config(modules, decls);
        twin.ligature.into_iter().chain(twin.jsonnet).collect()
    } else {
        config_eval::generate::large_config(modules, decls, 1)
    };
    for (path, text) in files {
        let p = out.join(path);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(p, text)?;
    }
    println!("wrote {} modules to {}", modules + 1, out.display());
    Ok(())
}
