//! Project automation, run as `cargo xtask <task>` (see `.cargo/config.toml`).
//!
//! Every task is plain Rust over `std::process::Command`, so a fresh clone needs nothing
//! but cargo to run them.

mod bench;
mod bench_cortex;
mod bench_kinds;
mod ci;
mod cortex;
mod demo;
mod emulator;
mod fuzz;
mod grafana;
mod reliability;
mod setup;
mod state;

use std::process::ExitCode;

/// Held by the tests that write a fake program and run it: a file still open for writing
/// cannot be executed (ETXTBSY), and a process another test forks meanwhile inherits the open
/// file until it execs, so two such tests at once could fail each other.
#[cfg(test)]
pub(crate) static FAKE_PROGRAMS: std::sync::Mutex<()> = std::sync::Mutex::new(());

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  bench               requests, time and peak RSS at S/M/L scale [--scale S,M,L] [--latency-ms N] [--runs N] [--parallelism P] [--peer]
                      [--state file|postgres|both]: the state in mac's file, a throwaway PostgreSQL, or each in turn;
                      --kinds [--counts 10,100]: the requests of a no-change plan per grafana8 kind, at each count
                      --cortex [--scale S,M,L] [--runs N] [--parallelism P]: the cortex provider on a real Cortex
                      (1,000 groups of 10 rules at M), beside mimirtool's approach (one GET, one request per group)
  ci                  setup, fmt check, clippy (-D warnings), the whole test suite, seeded reliability runs
                      (the state in a file, then in PostgreSQL), `cargo publish --workspace --dry-run`; prints
                      each phase's time and the tests skipped (MAC_TEST_SKIP_MISSING)
  cortex build|run    build Cortex 1.21.1 with go into ~/.cache/mac/tools/bin (once; setup does it too), or run
                      one on loopback as the tests configure it, printing its URL
  demo                the Grafana emulator plus validate/plan/apply of examples/grafana
  setup               installs what the tests need and is missing: rustfmt, clippy, Debian's Prometheus,
                      Alertmanager, Django, PostgreSQL, openssl and man-db (apt-get, as root or through
                      sudo -n), the client and pre-commit virtualenvs, actionlint and Cortex (built with go into
                      ~/.cache/mac/tools/bin)
  reliability         fault and kill -9 trials against the emulator [--trials N] [--kills N] [--seed S] [--debug]
                      [--state file|postgres]: the state in mac's file or a throwaway PostgreSQL
  fuzz                libFuzzer on the config loader and the template renderer [--seconds N] [--target NAME]
  grafana             why a real Grafana 8.5.4 cannot be built here (issue 3)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench::run(&args[1..]),
        Some("ci") => ci::run(&args[1..]),
        Some("cortex") => cortex::run(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("reliability") => reliability::run(&args[1..]),
        Some("setup") => setup::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("grafana") => grafana::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command, echoing it first, and turns a non-zero exit into an error naming it.
pub(crate) fn run_command(command: &mut std::process::Command) -> Result<(), String> {
    eprintln!("$ {}", describe(command));
    let status = command.status().map_err(|err| format!("could not start `{}`: {err}", describe(command)))?;
    if status.success() { Ok(()) } else { Err(format!("`{}` failed with {status}", describe(command))) }
}

/// Whether `command` runs and exits 0, its output discarded.
pub(crate) fn succeeds(command: &mut std::process::Command) -> bool {
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

pub(crate) fn describe(command: &std::process::Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// The workspace root: xtask lives one level below it.
pub(crate) fn project_root() -> std::path::PathBuf {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map(std::path::Path::to_path_buf).unwrap_or_else(|| manifest_dir.to_path_buf())
}
