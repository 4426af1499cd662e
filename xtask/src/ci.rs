//! `cargo xtask ci`: the one command CI and developers run before a change lands.
//!
//! Phases, each timed (`phase NAME: S s` after it, a table at the end): setup (`cargo xtask
//! setup`: what the tests need is installed, not skipped), fmt, clippy, tests, reliability
//! (the state in a file), reliability-postgres (the state in a throwaway PostgreSQL), publish
//! (`cargo publish --workspace --dry-run`: the published crates package and build alone).
//! Tests record each skip a developer asked for with `MAC_TEST_SKIP_MISSING` in a file under
//! target/, listed at the end ("no test skipped" otherwise).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{describe, project_root, run_command};

/// The variable the test harness of `mac-test-tools` appends skips to.
const SKIP_LOG_VARIABLE: &str = "MAC_TEST_SKIP_LOG";

/// The variable a developer sets to skip tests whose programs are missing.
const SKIP_VARIABLE: &str = "MAC_TEST_SKIP_MISSING";

/// CI (`CI` set, as every CI service does) never skips a test: a skip variable leaking in
/// from its environment is an error, not a quieter run.
fn refuse_skips_in_ci(ci: Option<&std::ffi::OsStr>, skip: Option<&std::ffi::OsStr>) -> Result<(), String> {
    match (ci.filter(|ci| !ci.is_empty()), skip) {
        (Some(ci), Some(skip)) => Err(format!(
            "CI={} and {SKIP_VARIABLE}={} are both set: CI must run every test, never skip one. \
             Unset {SKIP_VARIABLE} in the CI environment",
            ci.to_string_lossy(),
            skip.to_string_lossy()
        )),
        _ => Ok(()),
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`ci` takes no arguments, got `{extra}`"));
    }
    refuse_skips_in_ci(std::env::var_os("CI").as_deref(), std::env::var_os(SKIP_VARIABLE).as_deref())?;
    let root = project_root();
    // Absolute: each test binary runs in its own package's directory.
    let target = root.join(std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from));
    let skip_log = target.join("mac-test-skips.log");
    std::fs::create_dir_all(&target).map_err(|err| format!("cannot create {}: {err}", target.display()))?;
    std::fs::write(&skip_log, "").map_err(|err| format!("cannot empty {}: {err}", skip_log.display()))?;
    if let Some(value) = std::env::var_os(SKIP_VARIABLE) {
        println!(
            "ci: {SKIP_VARIABLE}={} is set: tests whose programs are missing are skipped",
            value.to_string_lossy()
        );
    }

    let mut phases = Phases::default();
    let mut counts = None;
    let result = run_phases(&root, &skip_log, &mut phases, &mut counts);

    println!("\n{}", phases.table());
    println!("{}", skipped_tests(&skip_log));
    // The suite's closing line, last: each test binary prints its own, and the last of those
    // (doc tests of a crate without any) would otherwise read as "no tests ran".
    if let Some(tally) = counts {
        println!("ci: {tally}");
    }
    result
}

fn run_phases(root: &Path, skip_log: &Path, phases: &mut Phases, counts: &mut Option<Tally>) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    phases.run("setup", || crate::setup::ensure(root))?;
    phases
        .run("fmt", || run_command(Command::new(&cargo).current_dir(root).args(["fmt", "--all", "--", "--check"])))?;
    phases.run("clippy", || {
        run_command(Command::new(&cargo).current_dir(root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    phases.run("tests", || {
        let mut test = Command::new(&cargo);
        // --no-fail-fast: a failing test binary does not hide the results of the others.
        test.current_dir(root)
            .args(crate::reliability::TEST_COMMAND)
            .arg("--no-fail-fast")
            .env(SKIP_LOG_VARIABLE, skip_log);
        let (result, tally) = run_counting_tests(&mut test);
        println!("ci: {tally}");
        *counts = Some(tally);
        result?;
        if tally.passed == 0 { Err("no test ran".to_owned()) } else { Ok(()) }
    })?;
    // Issue 8's convergence proofs at CI size: a fixed seed, so a red run replays exactly
    // (`cargo xtask reliability --trials 6 --kills 4 --seed 11 --debug`), on the binaries the
    // tests phase built.
    phases.run("reliability", || {
        crate::reliability::run_after_tests(
            &["--trials", "6", "--kills", "4", "--seed", "11", "--debug"].map(str::to_owned),
        )
    })?;
    // The same with the state in a throwaway PostgreSQL: fewer fault trials and more kills,
    // since the kills are what its advisory lock and its rows are about; about 15 s on the
    // debug build (`cargo xtask reliability --trials 3 --kills 8 --seed 11 --debug --state
    // postgres`).
    phases.run("reliability-postgres", || {
        crate::reliability::run_after_tests(
            &["--trials", "3", "--kills", "8", "--seed", "11", "--debug", "--state", "postgres"].map(str::to_owned),
        )
    })?;
    // Every crate without `publish = false` is packaged as crates.io would receive it and built
    // from that package alone, its workspace dependencies taken from the packages made before
    // it (a local registry), so a missing version, file or metadata field fails here and not at
    // release. It reads the crates.io index. --allow-dirty: a developer runs it before
    // committing.
    phases.run("publish", || {
        forget_unpacked_packages()?;
        run_command(Command::new(&cargo).current_dir(root).args(PUBLISH_DRY_RUN_COMMAND))
    })
}

/// Removes what an earlier dry run unpacked of this workspace's packages. Cargo unpacks the
/// local registry's packages under `$CARGO_HOME/registry/src/-<hash>/NAME-VERSION` and reuses
/// a directory that exists: with the version unchanged between commits, a dry run would build
/// the dependents of a changed crate against its package from an earlier run (seen: a clean
/// clone at the same path verified grafana8 against a week-old mac-core).
fn forget_unpacked_packages() -> Result<(), String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"));
    let Ok(registries) = std::fs::read_dir(cargo_home.join("registry").join("src")) else { return Ok(()) };
    // xtask carries the workspace's version, which every published package shares.
    let version = env!("CARGO_PKG_VERSION");
    for registry in registries.flatten() {
        // Local registries only: crates.io's directory is named after its host.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for package in std::fs::read_dir(registry.path()).into_iter().flatten().flatten() {
            let name = package.file_name().to_string_lossy().into_owned();
            if name.starts_with("mac-") && name.ends_with(&format!("-{version}")) {
                std::fs::remove_dir_all(package.path())
                    .map_err(|err| format!("{}: {err}", package.path().display()))?;
            }
        }
    }
    Ok(())
}

/// The publish phase's command. A packaged crate is built as its own root, outside the
/// workspace's `[profile.dev]`; the two `--config` give it that profile again (line tables
/// for our code, no debug info for dependencies), so it reuses the dependencies the tests
/// phase built (measured on 2 busy cores with a built workspace: 2 minutes, against 8
/// without them).
const PUBLISH_DRY_RUN_COMMAND: [&str; 8] = [
    "publish",
    "--workspace",
    "--dry-run",
    "--allow-dirty",
    "--config",
    "profile.dev.debug=\"line-tables-only\"",
    "--config",
    "profile.dev.package.\"*\".debug=false",
];

/// The phases run so far, with their times and whether each succeeded.
#[derive(Debug, Default)]
struct Phases {
    done: Vec<(&'static str, Duration, bool)>,
}

impl Phases {
    /// Runs one phase and prints `phase NAME: S s` after it, whatever its outcome.
    fn run(&mut self, name: &'static str, phase: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        let started = Instant::now();
        let result = phase();
        let elapsed = started.elapsed();
        println!("phase {name}: {:.1} s{}", elapsed.as_secs_f64(), if result.is_ok() { "" } else { " (failed)" });
        self.done.push((name, elapsed, result.is_ok()));
        result.map_err(|err| format!("phase {name}: {err}"))
    }

    fn table(&self) -> String {
        // As wide as the longest name, and never narrower than the header's first column.
        let width = self.done.iter().map(|(name, _, _)| name.len()).max().unwrap_or(0).max(12);
        let mut table = format!("{:<width$} {:>9}\n", "phase", "seconds");
        for (name, elapsed, ok) in &self.done {
            let outcome = if *ok { "" } else { "  FAILED" };
            table.push_str(&format!("{name:<width$} {:>9.1}{outcome}\n", elapsed.as_secs_f64()));
        }
        let total: Duration = self.done.iter().map(|(_, elapsed, _)| *elapsed).sum();
        table.push_str(&format!("{:<width$} {:>9.1}", "total", total.as_secs_f64()));
        table
    }
}

/// The skips the tests logged, or that there were none.
fn skipped_tests(skip_log: &Path) -> String {
    let text = std::fs::read_to_string(skip_log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    if lines.is_empty() {
        return "no test skipped".to_owned();
    }
    let mut report = format!("{} test(s) skipped ({SKIP_VARIABLE}):", lines.len());
    for line in lines {
        report.push_str("\n  ");
        report.push_str(line);
    }
    report
}

/// What `cargo test` reported: the sums of its `test result:` lines, and the test binaries it
/// started (`Running …`, `Doc-tests …`) that printed none (crashed, or killed).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    passed: usize,
    failed: usize,
    started: usize,
    summarised: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(out, "{} passed, {} failed", self.passed, self.failed)?;
        let unsummarised = self.started.saturating_sub(self.summarised);
        if unsummarised > 0 {
            write!(out, ", {unsummarised} test binary(ies) ended without a result (see above)")?;
        }
        Ok(())
    }
}

impl Tally {
    /// Counts one line of cargo test's stdout or stderr.
    fn line(&mut self, line: &str) {
        let trimmed = line.trim_start();
        if trimmed.starts_with("Running ") || trimmed.starts_with("Doc-tests ") {
            self.started += 1;
        } else if let Some(counts) = line.strip_prefix("test result: ") {
            self.summarised += 1;
            self.passed += count(counts, "passed");
            self.failed += count(counts, "failed");
        }
    }
}

/// Runs `cargo test`, echoing its output, and tallies it.
fn run_counting_tests(command: &mut Command) -> (Result<(), String>, Tally) {
    eprintln!("$ {}", describe(command));
    let mut child = match command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(err) => return (Err(format!("could not start `{}`: {err}", describe(command))), Tally::default()),
    };
    // cargo says which binary it runs on stderr, the binaries report on stdout.
    let stderr = child.stderr.take().map(|stderr| {
        std::thread::spawn(move || {
            let mut tally = Tally::default();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                tally.line(&line);
            }
            tally
        })
    });
    let mut tally = Tally::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            tally.line(&line);
        }
    }
    if let Some(started) = stderr.and_then(|thread| thread.join().ok()) {
        tally.started += started.started;
    }
    let result = match child.wait() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{}` failed with {status}", describe(command))),
        Err(err) => Err(format!("`{}` did not finish: {err}", describe(command))),
    };
    (result, tally)
}

/// The number before `word` in `ok. 21 passed; 0 failed; …`.
fn count(counts: &str, word: &str) -> usize {
    counts
        .split(';')
        .filter_map(|part| part.trim().trim_start_matches("ok. ").trim_start_matches("FAILED. ").strip_suffix(word))
        .filter_map(|number| number.trim().parse::<usize>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Phases, Tally, count, refuse_skips_in_ci, skipped_tests};

    #[test]
    fn counts_come_from_cargo_test_summaries() {
        let line = "ok. 21 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.16s";
        assert_eq!((count(line, "passed"), count(line, "failed")), (21, 2));
        assert_eq!(count("FAILED. 3 passed; 1 failed; 0 ignored", "passed"), 3);
    }

    #[test]
    fn the_table_lists_each_phase_its_seconds_and_a_failure() {
        let phases = Phases {
            done: vec![("setup", Duration::from_millis(1_260), true), ("fmt", Duration::from_millis(500), false)],
        };
        assert_eq!(
            phases.table(),
            "phase          seconds\nsetup              1.3\nfmt                0.5  FAILED\ntotal              1.8"
        );
    }

    #[test]
    fn a_long_phase_name_widens_the_table() {
        let phases = Phases {
            done: vec![
                ("tests", Duration::from_millis(2_000), true),
                ("reliability-postgres", Duration::from_secs(30), true),
            ],
        };
        assert_eq!(
            phases.table(),
            "phase                  seconds\ntests                      2.0\nreliability-postgres      30.0\ntotal                     32.0"
        );
    }

    #[test]
    fn skips_are_listed_or_their_absence_said() {
        let dir = std::env::temp_dir().join(format!("xtask-ci-skips-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let log = dir.join("skips.log");
        std::fs::write(&log, "").expect("an empty log");
        assert_eq!(skipped_tests(&log), "no test skipped");
        std::fs::write(&log, "skipped a: prometheus is missing\nskipped b: promtool is missing\n").expect("a log");
        let report = skipped_tests(&log);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            report,
            "2 test(s) skipped (MAC_TEST_SKIP_MISSING):\n  skipped a: prometheus is missing\n  skipped b: promtool is missing"
        );
    }

    #[test]
    fn ci_refuses_to_skip() {
        let some = |text: &'static str| Some(std::ffi::OsStr::new(text));
        let message = refuse_skips_in_ci(some("true"), some("1")).expect_err("CI with skips is refused");
        assert!(message.contains("CI=true and MAC_TEST_SKIP_MISSING=1 are both set"), "{message}");
        assert!(refuse_skips_in_ci(some("true"), None).is_ok());
        assert!(refuse_skips_in_ci(None, some("1")).is_ok());
        assert!(refuse_skips_in_ci(some(""), some("1")).is_ok());
    }

    #[test]
    fn a_test_binary_without_a_result_is_counted() {
        let mut tally = Tally::default();
        for line in [
            "     Running unittests src/lib.rs (target/debug/deps/a-1)",
            "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "     Running tests/it/main.rs (target/debug/deps/it-2)",
            "error: test failed, to rerun pass `-p mac-cli --test it`",
            "   Doc-tests a",
            "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s",
        ] {
            tally.line(line);
        }
        assert_eq!(tally.to_string(), "4 passed, 1 failed, 1 test binary(ies) ended without a result (see above)");
    }
}
