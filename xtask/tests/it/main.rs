//! xtask's integration tests: the workspace's tidy checks, which `cargo test` runs.

mod tidy;
