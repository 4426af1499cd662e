//! Command-line arguments: parsing and validation only; acting on them is `commands`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Monitoring configuration as code: plan and apply Grafana folders, alert rules and more
/// from files in version control.
#[derive(Debug, Parser)]
#[command(name = "mac", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// The project root (the directory holding mac.toml).
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR", default_value = ".")]
    pub directory: PathBuf,

    /// The environment whose overrides apply ([environments.NAME] in mac.toml).
    #[arg(short = 'e', long = "env", global = true, value_name = "NAME")]
    pub environment: Option<String>,

    /// How much to log to stderr: error, warn, info or debug (every HTTP request: method, path,
    /// outcome and time — never headers or bodies).
    #[arg(long, global = true, value_name = "LEVEL", default_value = "warn", env = "MAC_LOG",
          value_parser = ["error", "warn", "info", "debug"])]
    pub log_level: String,

    /// When to colour output: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto",
          value_parser = ["auto", "always", "never"])]
    pub color: String,

    /// Never colour output (the same as --color never).
    #[arg(long, global = true)]
    pub no_color: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Whether the command writes JSON: its errors are then JSON too (docs/json-output.md).
    pub fn json(&self) -> bool {
        match &self.command {
            Command::Plan(args) => args.json,
            Command::Show(args) => args.json,
            _ => false,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a project: a commented mac.toml, definitions/ with a first example, a .gitignore;
    /// with --import, from what a server has. Never overwrites a file.
    Init(InitArgs),
    /// List the providers and state backends compiled into this mac.
    Providers,
    /// Check the project offline: configuration, definitions, references.
    Validate,
    /// Lay out mac.toml, definitions and templates canonically (comments and values kept).
    Fmt(FmtArgs),
    /// Print the definitions as they will be planned, templates expanded (offline).
    Render,
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Make the remote systems match the definitions.
    Apply(ApplyArgs),
    /// Delete every managed object (of the --target instances or objects), after showing the
    /// plan, with every guard of a prune.
    Destroy(DestroyArgs),
    /// Print a saved plan as `mac plan` showed it, or (without FILE) what state manages.
    Show(ShowArgs),
    /// Write definitions for what a server already has, and manage it from now on.
    Import(ImportArgs),
    /// Run promtool unit tests of the rendered Prometheus rules (tests/*.yml), and check that
    /// Grafana rules and their Prometheus twins have equivalent PromQL (offline).
    Test(TestArgs),
    /// Inspect or repair the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Print a shell completion script (e.g. `source <(mac completions bash)`).
    Completions(crate::completions::CompletionsArgs),
    /// Write a man page for every command (mac.1, mac-plan.1, mac-state-list.1, …) into a directory.
    Man(crate::man_pages::ManArgs),
    /// Describe each kind's fields (type, default, meaning), or print the JSON Schema of
    /// definition and template files for editors (offline).
    Schema {
        /// One kind only, as PROVIDER.KIND (such as grafana8.folder).
        #[arg(value_name = "KIND")]
        kind: Option<String>,
        /// Print a JSON Schema instead: of definition and template files, or of KIND's fields.
        #[arg(long)]
        json_schema: bool,
    },
}

#[derive(Debug, Args)]
pub struct PlanSelection {
    /// Plan only this object (KIND.ID, or INSTANCE/KIND.ID) or every object of a provider
    /// instance (INSTANCE, such as grafana8.eu), and what they depend on; repeatable.
    #[arg(long = "target", value_name = "KIND.ID|INSTANCE")]
    pub targets: Vec<String>,

    /// Allow a plan that deletes every managed object of a provider instance.
    #[arg(long)]
    pub allow_delete_all: bool,

    /// Allow a plan that deletes more than [safety] max_delete_share of the managed objects.
    #[arg(long)]
    pub allow_mass_delete: bool,

    /// Set by `mac destroy` (never on the command line): deleting all of an instance is
    /// allowed, the mass-delete share still asked about.
    #[arg(skip)]
    pub destroy: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub selection: PlanSelection,

    /// Print the plan as JSON (see docs/json-output.md).
    #[arg(long)]
    pub json: bool,

    /// Exit 0 with no changes, 2 with changes, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Save the plan to FILE, for `mac apply FILE`.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `mac plan -o FILE`; applied exactly, or refused if state moved on.
    #[arg(value_name = "FILE")]
    pub plan_file: Option<PathBuf>,

    #[command(flatten)]
    pub selection: PlanSelection,

    /// Apply a fresh plan without asking for confirmation (a saved plan is never asked about:
    /// it was reviewed when it was made).
    #[arg(long)]
    pub auto_approve: bool,

    /// At most N remote writes at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,

    /// Take over existing remote objects that the plan proposes to adopt.
    #[arg(long)]
    pub adopt: bool,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Destroy only this object (KIND.ID, or INSTANCE/KIND.ID) and what needs it, or every
    /// managed object of a provider instance (INSTANCE, such as grafana8.eu); repeatable.
    /// Without it, every managed object of every instance.
    #[arg(long = "target", value_name = "KIND.ID|INSTANCE")]
    pub targets: Vec<String>,

    /// Allow deleting more than [safety] max_delete_share of the managed objects.
    #[arg(long)]
    pub allow_mass_delete: bool,

    /// Destroy without the typed confirmation (required when standard input is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,

    /// At most N remote deletes at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to start the project (default: the current directory, or -C DIR).
    #[arg(value_name = "DIR")]
    pub new_directory: Option<PathBuf>,

    /// Write settings and a first definition for this provider; repeatable (default: every
    /// provider compiled in, or the imported instance's).
    #[arg(long = "provider", value_name = "NAME")]
    pub providers: Vec<String>,

    /// Then import what this provider instance's server has (e.g. grafana8), with the settings
    /// written to mac.toml: set the URL and credential variables it names first.
    #[arg(long, value_name = "INSTANCE")]
    pub import: Option<String>,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files or directories (their *.toml) to format; default: mac.toml and the definition and
    /// template paths it names.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Change nothing: list the files that are not formatted and exit 1 if any (for CI and
    /// pre-commit).
    #[arg(long)]
    pub check: bool,

    /// Change nothing: print what formatting would change, as a unified diff.
    #[arg(long)]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved by `mac plan -o FILE`.
    #[arg(value_name = "FILE")]
    pub plan_file: Option<PathBuf>,

    /// Print JSON: a plan as `mac plan --json` does, or the managed objects (see
    /// docs/json-output.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// promtool test files (`promtool test rules` format, `rule_files` filled in by mac) or
    /// directories of them; default: the project's tests/ directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The promtool to run (default: promtool from PATH).
    #[arg(long, value_name = "PATH")]
    pub promtool: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The provider instance to import from, e.g. grafana8.
    pub instance: String,

    /// Only objects in this folder (by title), and the imported objects they use (data
    /// sources); repeatable.
    #[arg(long = "folder", value_name = "TITLE")]
    pub folders: Vec<String>,

    /// Where to write the definition files (default: the first `definitions` path).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// How long to wait for another run holding the state lock, e.g. 30s or 2m.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List managed objects and their remote ids.
    List,
    /// Show one state entry as JSON.
    Show {
        /// `kind.id`, or `instance/kind.id` when several instances have it.
        id: String,
    },
    /// Forget an object without touching the remote (it will no longer be managed).
    Rm {
        /// `kind.id`, or `instance/kind.id`.
        id: String,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Rename a state entry (a local id renamed in code) without touching the remote object,
    /// as a `[[moved]]` block does at the next apply.
    Mv {
        /// `kind.id`, or `instance/kind.id`: the id state has now.
        from: String,
        /// `kind.id` (same instance and kind), or `instance/kind.id`: the id the code uses.
        to: String,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Print the configured store's state as a state file (or write it to a new FILE), e.g.
    /// to move state out of a shared backend or keep a backup.
    Pull {
        /// Write to this new file instead of standard output.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Replace the configured store's state by a state file's, lineage and serial kept (e.g.
    /// to move `.mac/state.json` into PostgreSQL). Refused over another lineage or a newer serial.
    Push {
        /// A state file written by mac (`.mac/state.json`, or by `mac state pull -o`).
        file: std::path::PathBuf,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Break the state lock of a run that is gone or hung (a shared backend releases the lock
    /// of a run that died by itself; this is for the rare rest). Says what it breaks.
    Unlock {
        /// Do not ask for the holder's pid.
        #[arg(long)]
        force: bool,
    },
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|err| format!("`{text}`: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_are_validated() {
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
    }
}
