//! The external programs mac's tests run (Prometheus, promtool, Alertmanager, Django, the
//! client virtualenvs), found or reported.
//!
//! A test that needs a program either runs or fails: a missing program is a panic that says
//! how to install it (`cargo xtask setup` installs everything). A developer may ask for the
//! tests to be skipped instead by setting [`SKIP_VARIABLE`]; CI never sets it. A skip is
//! written straight to the process's standard error (not through the test harness's capture,
//! so `cargo test` shows it even for a passing test) and appended to the file named by
//! [`SKIP_LOG_VARIABLE`], which `cargo xtask ci` lists at the end of the run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Set to `1` (every missing program) or a comma-separated list of program names to skip the
/// tests that need them instead of failing.
pub const SKIP_VARIABLE: &str = "MAC_TEST_SKIP_MISSING";

/// A file each skip is appended to, one line per skip.
pub const SKIP_LOG_VARIABLE: &str = "MAC_TEST_SKIP_LOG";

/// What every "missing" message ends with.
const SETUP_HINT: &str = "`cargo xtask setup` installs everything the tests need";

/// The first of `candidates` that runs `args` successfully.
pub fn find_program(candidates: &[&str], args: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|program| runs(program, args))
}

/// Whether `program args…` starts and exits with success.
pub fn runs(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A program the test needs: `Some(path)` when found; when missing, a panic naming `name` and
/// `install`, or `None` after a visible skip when the developer set [`SKIP_VARIABLE`] to allow
/// `name`.
pub fn require(test: &str, name: &str, found: Option<PathBuf>, install: &str) -> Option<PathBuf> {
    if found.is_some() {
        return found;
    }
    if !skip_allowed(name, std::env::var(SKIP_VARIABLE).ok().as_deref()) {
        panic!(
            "{test} needs {name}, which is missing: install it with `{install}` ({SETUP_HINT}; {SKIP_VARIABLE}=1 skips such tests instead)"
        );
    }
    record_skip(&format!("skipped {test}: {name} is missing ({SKIP_VARIABLE} is set; install it with `{install}`)"));
    None
}

/// Whether the variable's value allows skipping tests that need `name`.
fn skip_allowed(name: &str, value: Option<&str>) -> bool {
    match value.map(str::trim) {
        None | Some("" | "0") => false,
        Some("1" | "all") => true,
        Some(list) => list.split(',').any(|entry| entry.trim() == name),
    }
}

fn record_skip(line: &str) {
    // Straight to fd 2: `eprintln!` would be captured by the harness and lost for a passing test.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    if let Some(log) = std::env::var_os(SKIP_LOG_VARIABLE)
        && let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(log)
    {
        let _ = writeln!(file, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::skip_allowed;

    #[test]
    fn only_an_explicit_value_allows_a_skip() {
        assert!(!skip_allowed("prometheus", None));
        assert!(!skip_allowed("prometheus", Some("")));
        assert!(!skip_allowed("prometheus", Some("0")));
        assert!(skip_allowed("prometheus", Some("1")));
        assert!(skip_allowed("prometheus", Some("all")));
        assert!(skip_allowed("prometheus", Some("promtool, prometheus")));
        assert!(!skip_allowed("prometheus", Some("promtool,alertmanager")));
    }

    #[test]
    #[should_panic(expected = "needs definitely-not-a-program, which is missing")]
    fn a_missing_program_fails_the_test() {
        // Nobody sets the skip variable to name this program.
        super::require("this test", "definitely-not-a-program", None, "nothing");
    }
}
