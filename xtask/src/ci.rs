//! `cargo xtask ci`: the one command CI and developers run before a change lands.
//!
//! Phases, each timed (`phase NAME: S s` after it, a table at the end): setup (`cargo xtask
//! setup`: what the tests need is installed, not skipped), fmt, clippy, tests, reliability.
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

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`ci` takes no arguments, got `{extra}`"));
    }
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
    if let Some((passed, failed)) = counts {
        println!("ci: {passed} passed, {failed} failed");
    }
    result
}

fn run_phases(
    root: &Path,
    skip_log: &Path,
    phases: &mut Phases,
    counts: &mut Option<(usize, usize)>,
) -> Result<(), String> {
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
        test.current_dir(root).args(["test", "--workspace", "--all-features"]).env(SKIP_LOG_VARIABLE, skip_log);
        let (result, passed, failed) = run_counting_tests(&mut test);
        *counts = Some((passed, failed));
        println!("ci: {passed} passed, {failed} failed");
        result?;
        if passed == 0 { Err("no test ran".to_owned()) } else { Ok(()) }
    })?;
    // Issue 8's convergence proofs at CI size: a fixed seed, so a red run replays exactly
    // (`cargo xtask reliability --trials 6 --kills 4 --seed 11 --debug`).
    phases.run("reliability", || {
        crate::reliability::run(&["--trials", "6", "--kills", "4", "--seed", "11", "--debug"].map(str::to_owned))
    })
}

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
        let mut table = String::from("phase          seconds\n");
        for (name, elapsed, ok) in &self.done {
            let outcome = if *ok { "" } else { "  FAILED" };
            table.push_str(&format!("{name:<12} {:>9.1}{outcome}\n", elapsed.as_secs_f64()));
        }
        let total: Duration = self.done.iter().map(|(_, elapsed, _)| *elapsed).sum();
        table.push_str(&format!("{:<12} {:>9.1}", "total", total.as_secs_f64()));
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

/// Runs `cargo test`, echoing its output, and sums the `test result:` lines.
fn run_counting_tests(command: &mut Command) -> (Result<(), String>, usize, usize) {
    eprintln!("$ {}", describe(command));
    let mut child = match command.stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(err) => return (Err(format!("could not start `{}`: {err}", describe(command))), 0, 0),
    };
    let (mut passed, mut failed) = (0, 0);
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some(counts) = line.strip_prefix("test result: ") {
                passed += count(counts, "passed");
                failed += count(counts, "failed");
            }
        }
    }
    let result = match child.wait() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{}` failed with {status}", describe(command))),
        Err(err) => Err(format!("`{}` did not finish: {err}", describe(command))),
    };
    (result, passed, failed)
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

    use super::{Phases, count, skipped_tests};

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
}
