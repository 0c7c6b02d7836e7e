//! `cargo xtask stress --crate graphdb --mode crash|corrupt`: runs graphdb-core's outside
//! harness (`graphdb-stress`, release build) for the given duration: a child process
//! SIGKILLed at random moments with every acknowledged commit verified, or randomly
//! damaged files classified as clean error, committed state or wrong data.

use crate::{cargo, run_step, StressArgs, XtaskError};

/// The harness modes `--mode` accepts.
pub(crate) const MODES: [&str; 2] = ["crash", "corrupt"];

/// Whether these stress arguments ask for the graphdb harness.
pub(crate) fn wanted(args: &StressArgs) -> bool {
    args.mode.is_some()
}

pub(crate) fn run(args: &StressArgs) -> Result<(), XtaskError> {
    let mode = args.mode.as_deref().unwrap_or("crash");
    let modes: Vec<&str> = if mode == "all" {
        MODES.to_vec()
    } else if MODES.contains(&mode) {
        vec![mode]
    } else {
        return Err(XtaskError::Usage(format!(
            "--mode `{mode}`: expected crash, corrupt or all"
        )));
    };
    if args.crates.iter().any(|c| c != "graphdb") {
        return Err(XtaskError::Usage(
            "--mode is a graphdb harness: use it with --crate graphdb".into(),
        ));
    }
    for m in modes {
        let mut command = cargo();
        command.args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "graphdb-core",
            "--bin",
            "graphdb-stress",
            "--",
            m,
            "--duration",
            &args.duration,
        ]);
        if let Some(seed) = &args.seed {
            command.args(["--seed", seed]);
        }
        run_step(
            &format!("graphdb {m} harness for {}", args.duration),
            &mut command,
        )?;
    }
    Ok(())
}
