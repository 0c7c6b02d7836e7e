//! Prints the results of every `!` form of a `.metta` file, one line per form, for the
//! differential check against the reference interpreter
//! (`python3 crates/cow-env/tests/metta_diff.py`).
//!
//! Each line is `LINE<TAB>FORM<TAB>[r1, r2, ...]`; an evaluation error prints
//! `LINE<TAB>FORM<TAB>!ERROR message`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use cow_env::{parse_program, Environment, Interpreter};

fn main() -> ExitCode {
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: metta_results FILE.metta");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let forms = match parse_program(&text) {
        Ok(forms) => forms,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut interp = Interpreter::new(Environment::empty());
    interp.set_current_file(Path::new(&file));
    let mut out = std::io::stdout().lock();
    for form in forms {
        let atom = interp.resolve_tokens(&form.atom);
        if !form.bang {
            interp.add_atom(atom);
            continue;
        }
        let shown = match interp.eval(&atom) {
            Ok(results) => {
                let items: Vec<String> = results
                    .iter()
                    .map(|r| interp.show_states(r).to_string())
                    .collect();
                format!("[{}]", items.join(", "))
            }
            Err(e) => format!("!ERROR {e}"),
        };
        if writeln!(out, "{}\t{}\t{}", form.line, form.atom, shown).is_err() {
            return ExitCode::SUCCESS;
        }
    }
    ExitCode::SUCCESS
}
