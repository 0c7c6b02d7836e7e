//! Writes a generated configuration to a directory, to try the CLI on something big:
//! `cargo run --example gen_config -- OUT_DIR MODULES DECLS`, then
//! `config-eval eval OUT_DIR/main.lig --parallel --stats`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(args.get(1).map_or("generated", |s| s.as_str()));
    let modules: usize = args.get(2).map_or(Ok(100), |s| s.parse())?;
    let decls: usize = args.get(3).map_or(Ok(50), |s| s.parse())?;
    for (path, text) in config_eval::generate::large_config(modules, decls, 1) {
        let p = out.join(path);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(p, text)?;
    }
    println!("wrote {} modules to {}", modules + 1, out.display());
    Ok(())
}
