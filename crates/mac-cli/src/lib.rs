//! The `mac` command line: thin glue from arguments to `mac_core`.
//!
//! A library as well as a binary so that a `mac` with extra, third-party providers is a
//! three-line crate: depend on `mac-cli` and the provider crates, name each provider crate
//! (`extern crate my_provider as _;`) and call [`main`]. See `examples/third-party-provider`.

mod args;
mod commands;
mod completions;
mod fmt;
mod init;
mod man_pages;
mod output;
mod progress;
mod render;
mod rule_tests;
mod schema;
mod show;
mod toml_like;

use std::process::ExitCode;

use clap::Parser;

// The linker drops a crate nothing references, and its `inventory::submit!` with it: name
// every provider and state backend crate that a feature enables.
#[cfg(feature = "cortex")]
extern crate mac_provider_cortex as _;
#[cfg(feature = "grafana8")]
extern crate mac_provider_grafana8 as _;
#[cfg(feature = "prometheus")]
extern crate mac_provider_prometheus as _;
#[cfg(feature = "postgres")]
extern crate mac_state_postgres as _;
#[cfg(feature = "test-provider")]
extern crate mac_test_provider as _;

/// Parses the process arguments, runs the command and reports errors on stderr.
pub fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        // `mac plan --json --target` (a bad command line) is JSON too, for whoever reads it.
        Err(err) if asks_for_json(std::env::args_os()) && err.use_stderr() => {
            output::write_json_error(&output::JsonError::usage(&err.render().to_string()));
            return ExitCode::from(2);
        }
        Err(err) => err.exit(),
    };
    let json = cli.json();
    let color = output::Color::of(&cli.color, cli.no_color);
    color.apply();
    let filter = tracing_subscriber::EnvFilter::new(format!("warn,mac={}", cli.log_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color.for_stderr())
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) if json => {
            output::write_json_error(&output::JsonError::of(&err));
            ExitCode::FAILURE
        }
        Err(err) => {
            let mut stderr = anstream::stderr();
            let label = anstyle::AnsiColor::Red.on_default().bold();
            let _ = std::io::Write::write_fmt(
                &mut stderr,
                format_args!("{}error:{} {}\n", label.render(), label.render_reset(), error_chain(&err)),
            );
            ExitCode::FAILURE
        }
    }
}

/// Whether a command line that clap refused asked for JSON output.
fn asks_for_json(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.skip(1).take_while(|arg| arg != "--").any(|arg| arg == "--json")
}

/// `error: what failed: why`, without repeating a cause already in the message.
fn error_chain(err: &anyhow::Error) -> String {
    mac_core::apply::error_chain(err.as_ref())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_registered_provider_declares_its_kinds() {
        let registry = mac_core::Registry::from_inventory().expect("unique provider names");
        for registration in registry.iter() {
            let kinds: Vec<String> = (registration.kinds)().into_iter().map(|kind| kind.name).collect();
            assert!(!kinds.is_empty(), "{} declares no kind", registration.name);
            let unique: std::collections::BTreeSet<&String> = kinds.iter().collect();
            assert_eq!(unique.len(), kinds.len(), "{}: a kind declared twice: {kinds:?}", registration.name);
        }
    }

    #[test]
    fn every_enabled_provider_feature_is_registered() {
        let registry = mac_core::Registry::from_inventory().expect("unique provider names");
        let names = registry.names();
        let expected: &[(&str, bool)] = &[
            ("grafana8", cfg!(feature = "grafana8")),
            ("prometheus", cfg!(feature = "prometheus")),
            ("cortex", cfg!(feature = "cortex")),
            ("testfs", cfg!(feature = "test-provider")),
        ];
        for (name, enabled) in expected {
            assert_eq!(
                names.contains(name),
                *enabled,
                "provider {name}: feature enabled = {enabled}, registered: {names:?}"
            );
        }
    }

    #[test]
    fn every_enabled_state_backend_feature_is_registered() {
        let names: Vec<&str> = mac_core::backend::registered_backends().iter().map(|backend| backend.name).collect();
        assert_eq!(names.contains(&"postgres"), cfg!(feature = "postgres"), "registered: {names:?}");
    }
}
