//! `cargo xtask ci`: the one command CI and developers run before a change lands.

use std::process::Command;

use crate::{project_root, run_command};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`ci` takes no arguments, got `{extra}`"));
    }
    let root = project_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    run_command(Command::new(&cargo).current_dir(&root).args(["fmt", "--all", "--", "--check"]))?;
    run_command(Command::new(&cargo).current_dir(&root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    run_command(Command::new(&cargo).current_dir(&root).args(["test", "--workspace", "--all-features"]))?;
    Ok(())
}
