//! The external programs mac's tests run (Prometheus, promtool, Alertmanager, Django,
//! actionlint, Cortex, the client virtualenvs, PostgreSQL, openssl, man), found or reported; a
//! throwaway PostgreSQL server, [`PostgresServer`], for the tests of the PostgreSQL state
//! backend; and a throwaway Cortex, [`cortex::CortexServer`], for the tests of the cortex provider.
//!
//! A test that needs a program either runs or fails: a missing program is a panic that says
//! how to install it (`cargo xtask setup` installs everything). A developer may ask for the
//! tests to be skipped instead by setting [`SKIP_VARIABLE`]; CI never sets it. A skip is
//! written straight to the process's standard error (not through the test harness's capture,
//! so `cargo test` shows it even for a passing test) and appended to the file named by
//! [`SKIP_LOG_VARIABLE`], which `cargo xtask ci` lists at the end of the run.
//!
//! ```no_run
//! let found = mac_test_tools::find_program(&["/usr/bin/prometheus", "prometheus"], &["--version"]);
//! let test = mac_test_tools::current_test();
//! let Some(prometheus) = mac_test_tools::require(&test, "prometheus", found, "apt-get install prometheus") else {
//!     return; // Only when the developer set MAC_TEST_SKIP_MISSING; the skip was printed and logged.
//! };
//! ```

#[cfg(unix)]
pub mod cortex;
#[cfg(unix)]
mod postgres;

#[cfg(unix)]
pub use postgres::{POSTGRES_ADMIN, PostgresOptions, PostgresServer, TlsFiles, make_test_ca};

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

/// A program some tests need: where to look, how to tell it runs, and how to install it.
#[derive(Clone, Copy, Debug)]
pub struct Program {
    /// The name in messages and in [`SKIP_VARIABLE`]'s list.
    pub name: &'static str,
    /// Paths or names to try, in order; a leading `~/` stands for `$HOME/` (see [`expand_home`]).
    pub candidates: &'static [&'static str],
    /// Arguments with which a working program exits with success.
    pub probe: &'static [&'static str],
    /// The command that installs it.
    pub install: &'static str,
}

/// Debian's Prometheus.
pub const PROMETHEUS: Program = Program {
    name: "prometheus",
    candidates: &["/usr/bin/prometheus", "prometheus"],
    probe: &["--version"],
    install: "apt-get install -y --no-install-recommends prometheus",
};

/// promtool, looked up on PATH as `mac test` and the prometheus provider run it.
pub const PROMTOOL: Program = Program {
    name: "promtool",
    candidates: &["promtool"],
    probe: &["--version"],
    install: "apt-get install -y --no-install-recommends prometheus",
};

/// Debian's Alertmanager (`prometheus-alertmanager`), or an `alertmanager` on PATH.
pub const ALERTMANAGER: Program = Program {
    name: "alertmanager",
    candidates: &["/usr/bin/prometheus-alertmanager", "alertmanager"],
    probe: &["--version"],
    install: "apt-get install -y --no-install-recommends prometheus-alertmanager",
};

/// A Python with Django and django-prometheus. Debian's python3 has Debian's Django packages;
/// a python3 earlier on PATH (pyenv, a virtualenv) may not, so it is tried first.
pub const DJANGO_PYTHON: Program = Program {
    name: "django",
    candidates: &["/usr/bin/python3", "python3"],
    probe: &["-c", "import django, django_prometheus, prometheus_client"],
    install: "apt-get install -y --no-install-recommends python3-django python3-django-prometheus",
};

/// PostgreSQL's `initdb`: Debian's versioned directories (newest first, as several may be
/// installed side by side and only one is on PATH through its wrapper scripts), then PATH.
/// [`PostgresServer`] takes `pg_ctl`, `postgres` and `psql` from the same directory, so a
/// server and its client are one version.
pub const INITDB: Program = Program {
    name: "postgresql",
    candidates: &[
        "/usr/lib/postgresql/17/bin/initdb",
        "/usr/lib/postgresql/16/bin/initdb",
        "/usr/lib/postgresql/15/bin/initdb",
        "/usr/lib/postgresql/14/bin/initdb",
        "/usr/lib/postgresql/13/bin/initdb",
        "initdb",
    ],
    probe: &["--version"],
    install: "apt-get install -y --no-install-recommends postgresql",
};

/// PostgreSQL's `pg_ctl`, for when it is not beside the [`INITDB`] found (named `postgresql`
/// too: one name in [`SKIP_VARIABLE`] skips every PostgreSQL test).
pub const PG_CTL: Program = Program {
    name: "postgresql",
    candidates: &[
        "/usr/lib/postgresql/17/bin/pg_ctl",
        "/usr/lib/postgresql/16/bin/pg_ctl",
        "/usr/lib/postgresql/15/bin/pg_ctl",
        "/usr/lib/postgresql/14/bin/pg_ctl",
        "/usr/lib/postgresql/13/bin/pg_ctl",
        "pg_ctl",
    ],
    probe: &["--version"],
    install: "apt-get install -y --no-install-recommends postgresql",
};

/// PostgreSQL's `psql`, for when it is not beside the [`INITDB`] found.
pub const PSQL: Program = Program {
    name: "postgresql",
    candidates: &["psql"],
    probe: &["--version"],
    install: "apt-get install -y --no-install-recommends postgresql",
};

/// The `openssl` command, which makes the test CA of [`make_test_ca`].
pub const OPENSSL: Program = Program {
    name: "openssl",
    candidates: &["/usr/bin/openssl", "openssl"],
    probe: &["version"],
    install: "apt-get install -y openssl",
};

/// man-db's `man`, which renders the man pages `mac man` writes (`man -l FILE`).
pub const MAN: Program = Program {
    name: "man",
    candidates: &["man"],
    probe: &["--version"],
    install: "apt-get install -y --no-install-recommends man-db",
};

/// Where `cargo xtask setup` puts the tools it builds (actionlint), `~/` being `$HOME/`.
pub const TOOLS_BIN: &str = "~/.cache/mac/tools/bin";

/// The actionlint release `cargo xtask setup` builds.
pub const ACTIONLINT_VERSION: &str = "1.7.12";

/// actionlint (the GitHub Actions workflow checker) for the CI examples' test: the one `cargo
/// xtask setup` builds into [`TOOLS_BIN`], else one on PATH.
pub const ACTIONLINT: Program = Program {
    name: "actionlint",
    candidates: &["~/.cache/mac/tools/bin/actionlint", "actionlint"],
    probe: &["-version"],
    install: "cargo xtask setup",
};

/// The Cortex release `cargo xtask cortex build` (and `cargo xtask setup`) builds, and the one
/// the tests of the cortex provider run.
pub const CORTEX_VERSION: &str = "1.21.1";

/// Cortex, one process of every component (`-target=all`), as `cargo xtask cortex build` builds
/// it into [`TOOLS_BIN`] from its Go module (there is no Debian package). [`cortex::binary`]
/// also takes the path in `MAC_CORTEX_BIN`, and checks that the binary is [`CORTEX_VERSION`].
pub const CORTEX: Program = Program {
    name: "cortex",
    candidates: &["~/.cache/mac/tools/bin/cortex"],
    probe: &["-version"],
    install: "cargo xtask cortex build",
};

/// The version `cortex -version` prints (`Cortex, version 1.21.1 (branch: …, revision: …)`),
/// when `program` runs and says one.
pub fn cortex_version(program: &Path) -> Option<String> {
    let output = Command::new(program).arg("-version").stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.lines().next()?.split_once(", version ")?.1.split_whitespace().next()?;
    (output.status.success() && !version.is_empty()).then(|| version.to_owned())
}

/// The running test's `program`: its path, a failure naming how to install it, or `None` after
/// a visible skip (see [`require`]).
pub fn program(program: &Program) -> Option<PathBuf> {
    let found = find_program(program.candidates, program.probe);
    require(&current_test(), program.name, found, program.install)
}

/// The first of `candidates` that runs `args` successfully; a candidate beginning with `~/`
/// is looked for under `$HOME` (and skipped when HOME is unset).
pub fn find_program(candidates: &[&str], args: &[&str]) -> Option<PathBuf> {
    candidates.iter().filter_map(|candidate| expand_home(candidate)).find(|program| runs(program, args))
}

/// `candidate` as a path: a leading `~/` replaced by `$HOME/`; `None` for such a candidate when
/// HOME is unset or empty. Anything else is taken as it is.
pub fn expand_home(candidate: &str) -> Option<PathBuf> {
    with_home(candidate, std::env::var_os("HOME").as_deref().map(Path::new))
}

fn with_home(candidate: &str, home: Option<&Path>) -> Option<PathBuf> {
    match candidate.strip_prefix("~/") {
        Some(rest) => home.filter(|home| !home.as_os_str().is_empty()).map(|home| home.join(rest)),
        None => Some(PathBuf::from(candidate)),
    }
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

/// The name of the running test (libtest names each test's thread after it), for messages.
pub fn current_test() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => "this test".to_owned(),
    }
}

/// A program the test needs: `Some(path)` when found; when missing, a panic naming `name` and
/// `install`, or `None` after a visible skip when the developer set [`SKIP_VARIABLE`] to allow
/// `name`.
pub fn require(test: &str, name: &str, found: Option<PathBuf>, install: &str) -> Option<PathBuf> {
    match decide(test, name, found, install, std::env::var(SKIP_VARIABLE).ok().as_deref()) {
        Decision::Found(path) => Some(path),
        Decision::Fail(message) => panic!("{message}"),
        Decision::Skip(line) => {
            record_skip(&line, std::env::var_os(SKIP_LOG_VARIABLE).as_deref().map(Path::new));
            None
        }
    }
}

/// What [`require`] does, given the skip variable's value.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Found(PathBuf),
    Fail(String),
    Skip(String),
}

fn decide(test: &str, name: &str, found: Option<PathBuf>, install: &str, skip: Option<&str>) -> Decision {
    if let Some(path) = found {
        return Decision::Found(path);
    }
    if skip_allowed(name, skip) {
        Decision::Skip(format!(
            "skipped {test}: {name} is missing ({SKIP_VARIABLE} is set; install it with `{install}`)"
        ))
    } else {
        Decision::Fail(format!(
            "{test} needs {name}, which is missing: install it with `{install}` ({SETUP_HINT}; {SKIP_VARIABLE}=1 skips such tests instead)"
        ))
    }
}

/// Whether the variable's value allows skipping tests that need `name`.
fn skip_allowed(name: &str, value: Option<&str>) -> bool {
    match value.map(str::trim) {
        None | Some("" | "0") => false,
        Some("1" | "all") => true,
        Some(list) => list.split(',').any(|entry| entry.trim() == name),
    }
}

fn record_skip(line: &str, log: Option<&Path>) {
    // Straight to fd 2: `eprintln!` would be captured by the harness and lost for a passing test.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    if let Some(log) = log {
        append_line(log, line);
    }
}

fn append_line(log: &Path, line: &str) {
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        // One write per line: tests of several processes append to the same file at once.
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{ACTIONLINT, Decision, append_line, decide, skip_allowed, with_home};

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
    fn a_missing_program_fails_the_test_unless_a_skip_is_asked_for() {
        let found = PathBuf::from("/usr/bin/prometheus");
        assert_eq!(decide("t", "prometheus", Some(found.clone()), "apt", None), Decision::Found(found));
        assert_eq!(
            decide("t", "prometheus", None, "apt-get install prometheus", None),
            Decision::Fail(
                "t needs prometheus, which is missing: install it with `apt-get install prometheus` \
                 (`cargo xtask setup` installs everything the tests need; MAC_TEST_SKIP_MISSING=1 skips such tests instead)"
                    .to_owned()
            )
        );
        assert!(matches!(decide("t", "prometheus", None, "apt", Some("promtool")), Decision::Fail(_)));
        assert_eq!(
            decide("t", "prometheus", None, "apt-get install prometheus", Some("1")),
            Decision::Skip(
                "skipped t: prometheus is missing (MAC_TEST_SKIP_MISSING is set; install it with `apt-get install prometheus`)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn skips_are_appended_to_the_log_one_line_each() {
        let log = std::env::temp_dir().join(format!("mac-test-tools-skips-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&log);
        append_line(&log, "skipped a");
        append_line(&log, "skipped b");
        let written = std::fs::read_to_string(&log).expect("the log was written");
        let _ = std::fs::remove_file(&log);
        assert_eq!(written, "skipped a\nskipped b\n");
    }

    #[test]
    fn a_tilde_candidate_is_under_home() {
        let home = PathBuf::from("/home/dev");
        assert_eq!(
            with_home(ACTIONLINT.candidates[0], Some(&home)),
            Some(PathBuf::from("/home/dev/.cache/mac/tools/bin/actionlint"))
        );
        assert_eq!(with_home("~/bin/x", None), None);
        assert_eq!(with_home("~/bin/x", Some(&PathBuf::new())), None);
        assert_eq!(with_home("actionlint", None), Some(PathBuf::from("actionlint")));
        assert_eq!(with_home("/usr/bin/~/x", Some(&home)), Some(PathBuf::from("/usr/bin/~/x")));
        assert_eq!(with_home("~user/x", Some(&home)), Some(PathBuf::from("~user/x")));
    }

    #[test]
    fn the_actionlint_candidates_are_the_setup_build_then_path() {
        assert_eq!(ACTIONLINT.candidates, [format!("{}/actionlint", super::TOOLS_BIN).as_str(), "actionlint"]);
    }

    #[test]
    fn the_test_name_comes_from_the_harness_thread() {
        assert_eq!(super::current_test(), "tests::the_test_name_comes_from_the_harness_thread");
    }
}
