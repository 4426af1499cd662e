//! `mac completions SHELL`: a completion script for bash, zsh, fish, PowerShell or elvish,
//! generated from the same clap definition that parses the command line, so that every
//! command and option (those added later too) completes without a hand-kept list.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, CommandFactory};

use crate::args::Cli;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Writes the script to standard output (quietly cut short when the reader goes away).
pub(crate) fn print(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "mac", &mut script);
    let mut out = crate::output::stdout();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
