//! `cargo xtask setup` (and the first phase of `cargo xtask ci`): installs what the test
//! suite needs and is missing, and nothing else.
//!
//! - rustfmt and clippy, through rustup;
//! - Debian's `prometheus` (with promtool), `prometheus-alertmanager`, `python3-django`,
//!   `python3-django-prometheus`, `postgresql`, `openssl` and `man-db` (and `python3` and
//!   `python3-venv` when there is no `python3`, `python3-venv` when `python3` is Debian's and
//!   lacks it), through apt-get (waiting up to 5 minutes for dpkg's lock): directly as root, through
//!   `sudo -n` where that works without a password, otherwise an error that lists the exact
//!   commands to run. Off Debian (no `dpkg-query`), setup checks the programs as the tests
//!   find them (prometheus, promtool, alertmanager, Django for python3, PostgreSQL's initdb,
//!   openssl, man) and stops only when one is missing, with the commands that install it;
//! - three virtualenvs outside the repository, under `$MAC_CLIENT_VENVS` (default
//!   `$HOME/.cache/mac/clients`), one per Python program a test runs (the two clients of the
//!   emulator's `clients` tests, and pre-commit for the hooks test of `mac-cli`):
//!   `python3 -m venv DIR.tmp-PID`, `DIR.tmp-PID/bin/pip install -r REQUIREMENTS`, then a rename
//!   to `DIR`, so nobody sees half a venv. A venv records a hash of its requirement lines (not
//!   its comments) and is made anew when they changed or the venv is broken; every run checks,
//!   as the clients tests do, that each pinned package is installed at its pinned version, and
//!   repairs a venv that drifted with `pip install -r`. Setup replaces only a directory that is
//!   a venv or empty: anything else under `$MAC_CLIENT_VENVS` stops it;
//! - actionlint (the CI examples' test checks `examples/ci/github-actions.yml` with it), built
//!   from its Go module with `GOBIN=DIR go install github.com/rhysd/actionlint/cmd/actionlint@v…`
//!   into `$HOME/.cache/mac/tools/bin` (built in a directory beside it, then renamed into place).
//!   Go is `go` on PATH or `/usr/local/go/bin/go`; without Go, an `actionlint` already on PATH is
//!   used as it is, and otherwise setup stops naming how to install Go;
//! - Cortex (the cortex provider's tests run it), built from its Go module into
//!   `$HOME/.cache/mac/tools/bin/cortex` by `cargo xtask cortex build` (see `cortex.rs`); it
//!   needs Go 1.25 or later, and setup stops naming how to install Go when there is none.
//!
//! Every step checks first: a second run installs, updates and recreates nothing, and says so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{describe, run_command, succeeds};

/// The Debian packages the tests run, with what needs each.
const PACKAGES: [(&str, &str); 7] = [
    ("prometheus", "Prometheus and promtool: the prometheus provider's, `mac test`'s and the django tests"),
    ("prometheus-alertmanager", "Alertmanager: the end-to-end alerting test and the silences example"),
    ("python3-django", "the django bundle's demo app"),
    ("python3-django-prometheus", "the django bundle's demo app"),
    ("postgresql", "PostgreSQL: the PostgreSQL state backend's tests"),
    ("openssl", "openssl: the test CA of the PostgreSQL state backend's TLS tests"),
    ("man-db", "man: the man pages' test renders every page `mac man` writes with man -l"),
];

/// Off Debian, what the tests run, found exactly as they find it (the table is the tests' own,
/// in `mac-test-tools`; each name is the one `MAC_TEST_SKIP_MISSING` takes).
const PROGRAMS: [mac_test_tools::Program; 7] = [
    mac_test_tools::PROMETHEUS,
    mac_test_tools::PROMTOOL,
    mac_test_tools::ALERTMANAGER,
    mac_test_tools::DJANGO_PYTHON,
    mac_test_tools::INITDB,
    mac_test_tools::OPENSSL,
    mac_test_tools::MAN,
];

/// apt-get's option to wait up to 5 minutes for dpkg's lock.
const APT_LOCK_TIMEOUT: &str = "DPkg::Lock::Timeout=300";

/// Where the client virtualenvs go unless `MAC_CLIENT_VENVS` says otherwise: `$HOME/` + this.
const DEFAULT_VENVS: &str = ".cache/mac/clients";

/// The variable naming the directory of the client virtualenvs.
pub(crate) const VENVS_VARIABLE: &str = "MAC_CLIENT_VENVS";

/// The client virtualenvs: the directory name under `$MAC_CLIENT_VENVS` and the requirements
/// file (relative to the repository) installed into it. pre-commit is not a client of the
/// emulator, but is a Python program a test runs, kept out of the repository the same way.
const CLIENTS: [(&str, &str); 3] = [
    ("python-original", "crates/grafana8-emulator/tests/clients/python-original/requirements.txt"),
    ("ansible", "crates/grafana8-emulator/tests/clients/ansible/requirements.txt"),
    ("pre-commit", "crates/mac-cli/tests/pre-commit/requirements.txt"),
];

/// The file inside a venv that records what it was made from.
const STAMP: &str = "mac-setup.stamp";

/// The oldest Python the clients run on (the Python original uses `match` and `X | Y` types).
const MIN_PYTHON: (u32, u32) = (3, 10);

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`setup` takes no arguments, got `{extra}`"));
    }
    ensure(&crate::project_root())
}

/// Installs what is missing; prints one line per step saying what it did.
pub(crate) fn ensure(root: &Path) -> Result<(), String> {
    rust_components()?;
    let debian = succeeds(Command::new("dpkg-query").arg("--version"));
    let mut packages: Vec<&str> = PACKAGES.iter().map(|(name, _)| *name).collect();
    let found = match python()? {
        Some(python) => Some(python),
        // A fresh Debian may lack python3 itself: apt-get brings it.
        None if debian => {
            packages.extend(["python3", "python3-venv"]);
            None
        }
        None => return Err("no python3 on PATH: install Python >= 3.10 with venv, then rerun".to_owned()),
    };
    if let Some(python) = &found
        && !can_make_venvs(python)
    {
        if !debian || !is_debians(python) {
            return Err(no_venv(python));
        }
        // Debian ships ensurepip apart from its python3.
        packages.push("python3-venv");
    }
    if debian {
        debian_packages(&packages)?;
    } else {
        programs()?;
    }
    let python = match found {
        Some(python) => python,
        None => python()?.ok_or("apt-get installed python3, yet there is no python3 on PATH")?,
    };
    if !can_make_venvs(&python) {
        return Err(no_venv(&python));
    }
    let venvs = venvs_dir()?;
    // Before installing anything: a directory setup would have to replace but will not.
    for (name, _) in CLIENTS {
        let dir = venvs.join(name);
        if dir.symlink_metadata().is_ok() {
            replaceable(&dir)?;
        }
    }
    for (name, requirements) in CLIENTS {
        venv(&python, &venvs.join(name), root, Path::new(requirements))?;
    }
    actionlint()?;
    crate::cortex::ensure()
}

fn rust_components() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let missing: Vec<&str> = [("rustfmt", "fmt"), ("clippy", "clippy")]
        .into_iter()
        .filter(|(_, subcommand)| !succeeds(Command::new(&cargo).args([*subcommand, "--version"])))
        .map(|(component, _)| component)
        .collect();
    if missing.is_empty() {
        println!("setup: rustfmt and clippy: present");
        return Ok(());
    }
    let started = Instant::now();
    run_command(Command::new("rustup").args(["component", "add"]).args(&missing))
        .map_err(|err| format!("{err}: install the rustup components {} by hand", missing.join(", ")))?;
    println!("setup: installed the rustup components {} ({:.1} s)", missing.join(", "), seconds(started));
    Ok(())
}

/// `python3` from PATH if it is recent enough, `None` when there is none.
fn python() -> Result<Option<PathBuf>, String> {
    let python = PathBuf::from("python3");
    let output = match Command::new(&python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .stderr(Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot run python3 ({err}): install Python >= 3.10 with venv")),
    };
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let parsed = version.split_once('.').and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
    match parsed {
        Some(found) if found >= MIN_PYTHON => Ok(Some(python)),
        _ => Err(format!(
            "python3 on PATH is `{version}`; the client virtualenvs need Python >= {}.{}: put one first on PATH",
            MIN_PYTHON.0, MIN_PYTHON.1
        )),
    }
}

/// Whether `python` has venv and ensurepip.
fn can_make_venvs(python: &Path) -> bool {
    succeeds(Command::new(python).args(["-c", "import ensurepip, venv"]))
}

fn no_venv(python: &Path) -> String {
    format!(
        "{} cannot make virtualenvs (no ensurepip): install its venv support, or put a Python >= 3.10 with venv \
         first on PATH",
        python.display()
    )
}

/// Whether `python` (found on PATH) is Debian's `/usr/bin/python3…`.
fn is_debians(python: &Path) -> bool {
    let output = Command::new(python).args(["-c", "import sys; print(sys.executable)"]).output();
    output.is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim().starts_with("/usr/bin/"))
}

fn debian_packages(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages.iter().copied().filter(|package| !installed(package)).collect();
    if missing.is_empty() {
        println!("setup: Debian packages {}: already installed", packages.join(", "));
        return Ok(());
    }
    let sudo = if is_root() {
        false
    } else if succeeds(Command::new("sudo").args(["-n", "true"])) {
        true
    } else {
        return Err(format!(
            "the tests need the Debian packages {}, and installing them needs root: run\n  sudo apt-get update\n  \
             sudo apt-get install -y --no-install-recommends -o {APT_LOCK_TIMEOUT} {}\nthen rerun",
            missing.join(", "),
            missing.join(" ")
        ));
    };
    let started = Instant::now();
    run_captured(&mut apt_get(sudo, &["update", "-qq"]))?;
    let install = [&["install", "-y", "-qq", "--no-install-recommends"][..], &missing].concat();
    run_captured(&mut apt_get(sudo, &install))?;
    let still: Vec<&str> = missing.iter().copied().filter(|package| !installed(package)).collect();
    if !still.is_empty() {
        return Err(format!("apt-get did not install {}", still.join(", ")));
    }
    println!(
        "setup: installed the Debian packages {} with apt-get{} ({:.1} s)",
        missing.join(", "),
        if sudo { " through sudo -n" } else { " as root" },
        seconds(started)
    );
    Ok(())
}

/// `apt-get ARGS…`, never asking a question; through `sudo -n` when `sudo`.
fn apt_get(sudo: bool, args: &[&str]) -> Command {
    let mut command = if sudo {
        // sudo resets the environment: the variable goes through `env`.
        let mut command = Command::new("sudo");
        command.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        command
    } else {
        let mut command = Command::new("apt-get");
        command.env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    // Wait for a lock held by another apt (unattended-upgrades at boot) instead of failing.
    command.args(["-o", APT_LOCK_TIMEOUT]).args(args);
    command
}

/// Runs a command, echoing it first; its output (dpkg's hundreds of lines) is shown only
/// when it fails.
pub(crate) fn run_captured(command: &mut Command) -> Result<(), String> {
    eprintln!("$ {}", describe(command));
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("could not start `{}`: {err}", describe(command)))?;
    if output.status.success() {
        return Ok(());
    }
    let text = [String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)].concat();
    let lines: Vec<&str> = text.lines().collect();
    Err(format!(
        "`{}` failed with {}:\n{}",
        describe(command),
        output.status,
        lines[lines.len().saturating_sub(40)..].join("\n")
    ))
}

/// Off Debian: the programs the tests run, looked for as the tests look for them (each name
/// is the one `MAC_TEST_SKIP_MISSING` takes); when one is missing, an error with the commands
/// that install it.
fn programs() -> Result<(), String> {
    let missing: Vec<&str> = PROGRAMS
        .iter()
        .filter(|program| mac_test_tools::find_program(program.candidates, program.probe).is_none())
        .map(|program| program.name)
        .collect();
    if missing.is_empty() {
        println!(
            "setup: not Debian (no dpkg-query); prometheus, promtool, alertmanager, Django for python3, PostgreSQL, \
             openssl and man: present"
        );
        return Ok(());
    }
    let mut commands: Vec<String> = Vec::new();
    let brew = succeeds(Command::new("brew").arg("--version"));
    let (os, arch) = (std::env::consts::OS.replace("macos", "darwin"), std::env::consts::ARCH);
    let arch = match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    for (project, version, binaries) in
        [("prometheus", "2.42.0", &["prometheus", "promtool"][..]), ("alertmanager", "0.25.0", &["alertmanager"][..])]
    {
        if !binaries.iter().any(|name| missing.contains(name)) {
            continue;
        }
        if brew {
            commands.push(format!("brew install {project}"));
        } else {
            let release = format!("{project}-{version}.{os}-{arch}");
            commands.push(format!(
                "curl -fsSL https://github.com/prometheus/{project}/releases/download/v{version}/{release}.tar.gz | tar -xz"
            ));
            let paths: Vec<String> = binaries.iter().map(|binary| format!("{release}/{binary}")).collect();
            commands.push(format!("sudo install {} /usr/local/bin/", paths.join(" ")));
        }
    }
    if missing.contains(&"django") {
        // The tests use /usr/bin/python3 when it has Django, else python3 from PATH.
        commands.push("python3 -m pip install django django-prometheus prometheus-client".to_owned());
    }
    for (name, with_brew, without_brew) in [
        // The tests need the server's programs (initdb, pg_ctl), not only psql; Homebrew may
        // leave a versioned PostgreSQL off PATH (keg-only), and the tests look on PATH.
        (
            "postgresql",
            "brew install postgresql@17 && export PATH=\"$(brew --prefix postgresql@17)/bin:$PATH\"",
            "your system's PostgreSQL server package (postgresql-server with dnf, postgresql with pacman, apk or \
             zypper), with initdb and pg_ctl on PATH",
        ),
        ("openssl", "brew install openssl", "your system's openssl package"),
        ("man", "brew install man-db", "your system's man-db (or man) package"),
    ] {
        if missing.contains(&name) {
            commands.push(if brew { with_brew.to_owned() } else { format!("install {without_brew}") });
        }
    }
    Err(format!(
        "this is not a Debian or Ubuntu machine (no dpkg-query), and the tests need what is missing here: {}. \
         Install it, for instance with\n  {}\nthen rerun (or skip those tests: MAC_TEST_SKIP_MISSING={})",
        missing.join(", "),
        commands.join("\n  "),
        missing.join(",")
    ))
}

fn installed(package: &str) -> bool {
    let output = Command::new("dpkg-query").args(["-W", "-f=${Status}", package]).stderr(Stdio::null()).output();
    output.is_ok_and(|output| output.status.success() && output.stdout == b"install ok installed")
}

fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output();
    output.is_ok_and(|output| output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// The Go package actionlint's command is built from.
const ACTIONLINT_PACKAGE: &str = "github.com/rhysd/actionlint/cmd/actionlint";

/// Where the official Go distribution puts `go` when it is not on PATH.
pub(crate) const GO_FALLBACK: &str = "/usr/local/go/bin/go";

/// Makes `$HOME/.cache/mac/tools/bin/actionlint` the pinned actionlint, building it with Go
/// unless it already is; another version there is replaced.
fn actionlint() -> Result<(), String> {
    let version = mac_test_tools::ACTIONLINT_VERSION;
    let bin = mac_test_tools::expand_home(mac_test_tools::TOOLS_BIN)
        .ok_or("HOME is not set: setup builds actionlint into $HOME/.cache/mac/tools/bin")?;
    let target = bin.join("actionlint");
    let present = actionlint_version(&target);
    if present.as_deref() == Some(version) {
        println!("setup: actionlint {version}: present at {}", target.display());
        return Ok(());
    }
    let Some(go) = mac_test_tools::find_program(&["go", GO_FALLBACK], &["version"]) else {
        if let Some(path) = mac_test_tools::find_program(&["actionlint"], &["-version"]) {
            let found = actionlint_version(&path).unwrap_or_default();
            println!(
                "setup: actionlint: no Go to build {version} with; the tests use {} ({found}) from PATH",
                path.display()
            );
            return Ok(());
        }
        return Err(format!(
            "the CI examples' test needs actionlint {version}, which setup builds with Go, and there is no `go` on \
             PATH nor at {GO_FALLBACK}: install Go 1.21 or later (it fetches the newer Go toolchain actionlint \
             needs by itself), then rerun; or put an actionlint on PATH"
        ));
    };
    let started = Instant::now();
    std::fs::create_dir_all(&bin).map_err(|err| format!("cannot create {}: {err}", bin.display()))?;
    // Built into a directory of its own, then renamed: a test never runs half a binary.
    let building = bin.join(format!(".actionlint.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let mut install = Command::new(&go);
    install
        .args(["install", &format!("{ACTIONLINT_PACKAGE}@v{version}")])
        .env("GOBIN", &building)
        // `go install PACKAGE@VERSION` ignores the module around its directory; go.work too.
        .env("GOWORK", "off")
        .current_dir(&bin);
    let built = run_captured(&mut install).and_then(|()| {
        let binary = building.join("actionlint");
        match actionlint_version(&binary) {
            Some(found) if found == version => std::fs::rename(&binary, &target)
                .map_err(|err| format!("cannot rename {} to {}: {err}", binary.display(), target.display())),
            found => Err(format!(
                "`{}` built {}, whose -version says {found:?}, not {version}",
                describe(&install),
                binary.display()
            )),
        }
    });
    let _ = std::fs::remove_dir_all(&building);
    built?;
    let before = present.map_or_else(String::new, |old| format!(", replacing {old}"));
    println!(
        "setup: actionlint {version}: built with {} into {}{before} ({:.1} s)",
        go.display(),
        target.display(),
        seconds(started)
    );
    Ok(())
}

/// The version `program -version` prints on its first line (`v1.7.12` when built from the
/// module, `1.7.12` in release binaries), without the `v`, when it runs.
fn actionlint_version(program: &Path) -> Option<String> {
    let output = Command::new(program).arg("-version").stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let first = text.lines().next()?.trim();
    let first = first.strip_prefix('v').unwrap_or(first);
    (output.status.success() && !first.is_empty()).then(|| first.to_owned())
}

/// `$MAC_CLIENT_VENVS`, or `$HOME/.cache/mac/clients`.
pub(crate) fn venvs_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(VENVS_VARIABLE).filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .ok_or_else(|| format!("neither {VENVS_VARIABLE} nor HOME is set: say where the client virtualenvs go"))?;
    Ok(PathBuf::from(home).join(DEFAULT_VENVS))
}

/// Makes `dir` a virtualenv with `requirements` (relative to `root`) installed, unless it
/// already is one with every pinned package at its pinned version (what the clients tests
/// check). A drifted venv is repaired with `pip install -r`; one that cannot be is made anew.
/// A new venv is built beside `dir` and renamed into place, so a test never sees half of one;
/// an existing `dir` is replaced only when it is a venv or empty.
fn venv(python: &Path, dir: &Path, root: &Path, shown: &Path) -> Result<(), String> {
    let requirements = root.join(shown);
    let text = std::fs::read_to_string(&requirements)
        .map_err(|err| format!("cannot read {}: {err}", requirements.display()))?;
    let lines = requirement_lines(&text);
    let pins = pins(&lines);
    if pins.is_empty() {
        return Err(format!("{} pins no package (`name==version` lines)", requirements.display()));
    }
    let stamp = format!("requirements fnv1a64 {:016x}\n", fnv1a64(lines.join("\n").as_bytes()));
    let reason = if dir.symlink_metadata().is_err() {
        "created"
    } else {
        replaceable(dir)?;
        match std::fs::read_to_string(dir.join(STAMP)) {
            Err(_) => "incomplete (no record of a finished install): recreated",
            Ok(recorded) if recorded != stamp => "requirements changed: recreated",
            Ok(_) if !venv_works(dir) => "broken (its python does not run): recreated",
            Ok(_) if pins_installed(dir, &pins) => {
                println!("setup: venv {}: up to date with {}", dir.display(), shown.display());
                return Ok(());
            }
            Ok(_) => {
                let started = Instant::now();
                println!("setup: venv {}: a pinned package is missing or at another version: repairing", dir.display());
                if pip_install(dir, &requirements).is_ok() && pins_installed(dir, &pins) {
                    println!("setup: venv {}: repaired with pip install -r ({:.1} s)", dir.display(), seconds(started));
                    return Ok(());
                }
                "pins still unmet after pip install -r: recreated"
            }
        }
    };
    let started = Instant::now();
    let name = dir.file_name().ok_or_else(|| format!("{} names no directory", dir.display()))?;
    let building = dir.with_file_name(format!("{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    if building.symlink_metadata().is_ok() {
        // Left by a run of an earlier process with this id, killed before its rename.
        replaceable(&building)?;
        std::fs::remove_dir_all(&building).map_err(|err| format!("cannot remove {}: {err}", building.display()))?;
    }
    let built = build_venv(python, &building, dir, &requirements, &pins, &stamp);
    if let Err(err) = built {
        let _ = std::fs::remove_dir_all(&building);
        return Err(err);
    }
    move_into_place(&building, dir)?;
    println!("setup: venv {}: {reason}, {} installed ({:.1} s)", dir.display(), shown.display(), seconds(started));
    Ok(())
}

/// Makes the venv in `building`, installs `requirements`, points its scripts at `dir` (where
/// it is about to be renamed: a venv's scripts name their interpreter by absolute path),
/// checks the pins and writes the stamp.
fn build_venv(
    python: &Path,
    building: &Path,
    dir: &Path,
    requirements: &Path,
    pins: &[(String, String)],
    stamp: &str,
) -> Result<(), String> {
    // The prompt `activate` shows is the directory's name unless told.
    let prompt = dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    run_command(Command::new(python).args(["-m", "venv", "--prompt", &prompt]).arg(building))?;
    pip_install(building, requirements)?;
    if !pins_installed(building, pins) {
        return Err(format!(
            "after pip install -r {}, a pinned package is missing or at another version in {}",
            requirements.display(),
            building.display()
        ));
    }
    repoint(building, dir)?;
    // Last: a venv without its stamp is one whose install did not finish.
    std::fs::write(building.join(STAMP), stamp)
        .map_err(|err| format!("cannot write {}: {err}", building.join(STAMP).display()))
}

/// `DIR/bin/pip install -r REQUIREMENTS`.
fn pip_install(dir: &Path, requirements: &Path) -> Result<(), String> {
    let mut install = Command::new(dir.join("bin/pip"));
    install.args(["install", "--quiet", "--disable-pip-version-check", "-r"]).arg(requirements);
    run_command(&mut install)
}

/// Rewrites `from` to `to` in the venv's `bin/` scripts (shebangs, activate) and `pyvenv.cfg`.
fn repoint(from: &Path, to: &Path) -> Result<(), String> {
    let (old, new) = (from.to_string_lossy().into_owned(), to.to_string_lossy().into_owned());
    let bin = from.join("bin");
    let entries = std::fs::read_dir(&bin).map_err(|err| format!("cannot list {}: {err}", bin.display()))?;
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|entry| entry.path()).collect();
    files.push(from.join("pyvenv.cfg"));
    for file in files {
        // Symlinks (bin/python) point at the base Python; binaries are left alone.
        let regular = file.symlink_metadata().is_ok_and(|meta| meta.file_type().is_file());
        let Some(text) = regular.then(|| std::fs::read_to_string(&file).ok()).flatten() else { continue };
        if text.contains(&old) {
            std::fs::write(&file, text.replace(&old, &new))
                .map_err(|err| format!("cannot rewrite {}: {err}", file.display()))?;
        }
    }
    Ok(())
}

/// Renames the finished venv `building` to `dir`, moving a venv already there aside first and
/// removing it after.
fn move_into_place(building: &Path, dir: &Path) -> Result<(), String> {
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|err| format!("cannot rename {} to {}: {err}", from.display(), to.display()))
    };
    if dir.symlink_metadata().is_err() {
        return rename(building, dir);
    }
    replaceable(dir)?;
    let old = building.with_extension(format!("old-{}", std::process::id()));
    rename(dir, &old)?;
    if let Err(err) = rename(building, dir) {
        // Put the previous venv back rather than leave none.
        let _ = std::fs::rename(&old, dir);
        return Err(err);
    }
    std::fs::remove_dir_all(&old).map_err(|err| format!("cannot remove {}: {err}", old.display()))
}

/// Ok when `dir` may be removed: a directory that is a virtualenv (has `pyvenv.cfg`) or is
/// empty. Anything else (a mistaken `MAC_CLIENT_VENVS`) stops setup, naming it.
fn replaceable(dir: &Path) -> Result<(), String> {
    // A symlink to a venv counts as one (replacing it replaces the link, not its target).
    let is_dir = std::fs::metadata(dir).is_ok_and(|meta| meta.is_dir());
    let venv = is_dir && dir.join("pyvenv.cfg").is_file();
    let empty = is_dir && std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none());
    if venv || empty {
        return Ok(());
    }
    Err(format!(
        "{} exists and is not a virtualenv (no pyvenv.cfg) nor an empty directory: setup will not remove it. \
         Move it away, or point {VENVS_VARIABLE} at a directory for the client virtualenvs",
        dir.display()
    ))
}

/// The requirement lines of a requirements file: trimmed, without comments and blank lines
/// (pip's comments: `#` at the start of a line or after whitespace).
fn requirement_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let comment = line
                .char_indices()
                .find(|(at, c)| *c == '#' && (*at == 0 || line[..*at].ends_with(char::is_whitespace)))
                .map_or(line.len(), |(at, _)| at);
            line[..comment].trim().to_owned()
        })
        .filter(|line| !line.is_empty())
        .collect()
}

/// The `name==version` pins among requirement lines, read as the clients tests read them.
fn pins(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|line| line.split_once("=="))
        .map(|(package, version)| (package.trim().to_owned(), version.trim().to_owned()))
        .collect()
}

/// Whether the venv's python has every pinned package at its pinned version: the probe of
/// the clients tests (`crates/grafana8-emulator/tests/clients/support.rs`).
fn pins_installed(dir: &Path, pins: &[(String, String)]) -> bool {
    succeeds(Command::new(dir.join("bin/python")).args(["-c", &pin_probe(pins)]))
}

/// A Python program that exits non-zero when a pinned package is missing or at another version.
fn pin_probe(pins: &[(String, String)]) -> String {
    let list: Vec<String> =
        pins.iter().map(|(package, version)| format!("({}, {})", py_string(package), py_string(version))).collect();
    format!("import importlib.metadata as m, sys; sys.exit(any(m.version(p) != v for p, v in [{}]))", list.join(", "))
}

/// `text` as a Python string literal.
fn py_string(text: &str) -> String {
    let mut quoted = String::from("'");
    for c in text.chars() {
        match c {
            '\\' | '\'' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if c.is_ascii_graphic() || c == ' ' => quoted.push(c),
            c => quoted.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    quoted.push('\'');
    quoted
}

/// Whether the venv's interpreter and pip still run (a removed or upgraded base Python breaks
/// a venv).
fn venv_works(dir: &Path) -> bool {
    let python = dir.join("bin/python");
    let check =
        format!("import sys, pip; sys.exit(0 if sys.version_info >= ({}, {}) else 1)", MIN_PYTHON.0, MIN_PYTHON.1);
    succeeds(Command::new(python).args(["-c", &check]))
}

/// 64-bit FNV-1a: a stable digest of a requirements file, std only.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

pub(crate) fn seconds(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::{actionlint_version, fnv1a64, pin_probe, pins, replaceable, requirement_lines};

    #[test]
    fn actionlint_versions_are_the_first_line_of_its_version_output() {
        use std::os::unix::fs::PermissionsExt;
        let _fake_programs = crate::FAKE_PROGRAMS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = std::env::temp_dir().join(format!("xtask-actionlint-version-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let fake = dir.join("actionlint");
        let script =
            "#!/bin/sh\n[ \"$1\" = -version ] || exit 3\necho 1.7.12\necho installed by building from source\n";
        std::fs::write(&fake, script).expect("a fake actionlint");
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("executable");
        let found = actionlint_version(&fake);
        std::fs::write(&fake, "#!/bin/sh\necho v1.7.12\necho installed by building from source\n").expect("a v");
        let built = actionlint_version(&fake);
        std::fs::write(&fake, "#!/bin/sh\necho 1.7.12\nexit 1\n").expect("a failing actionlint");
        let failing = actionlint_version(&fake);
        let missing = actionlint_version(&dir.join("absent"));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found.as_deref(), Some("1.7.12"));
        assert_eq!(built.as_deref(), Some("1.7.12"));
        assert_eq!(failing, None);
        assert_eq!(missing, None);
    }

    #[test]
    fn the_requirements_digest_is_fnv1a() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_stamp_reads_requirement_lines_only() {
        let text = "# a comment\nfoo==1.0  # why 1.0\n\n  Bar==2.1\ngit+https://x/y.git#egg=baz\n";
        let lines = requirement_lines(text);
        assert_eq!(lines, ["foo==1.0", "Bar==2.1", "git+https://x/y.git#egg=baz"]);
        let edited = "# another comment\n\nfoo==1.0\nBar==2.1   \ngit+https://x/y.git#egg=baz # new\n";
        assert_eq!(requirement_lines(edited), lines);
        assert_eq!(pins(&lines), [("foo".to_owned(), "1.0".to_owned()), ("Bar".to_owned(), "2.1".to_owned())]);
    }

    #[test]
    fn the_pin_probe_is_the_clients_tests_probe() {
        let pins = [("retry".to_owned(), "0.9.2".to_owned()), ("it's".to_owned(), "1".to_owned())];
        assert_eq!(
            pin_probe(&pins),
            "import importlib.metadata as m, sys; sys.exit(any(m.version(p) != v for p, v in \
             [('retry', '0.9.2'), ('it\\'s', '1')]))"
        );
    }

    #[test]
    fn only_a_venv_or_an_empty_directory_is_replaced() {
        let dir = std::env::temp_dir().join(format!("xtask-setup-replaceable-{}", std::process::id()));
        let (empty, venv, other) = (dir.join("empty"), dir.join("venv"), dir.join("other"));
        for made in [&empty, &venv, &other] {
            std::fs::create_dir_all(made).expect("a temporary directory");
        }
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").expect("a pyvenv.cfg");
        std::fs::write(other.join("Cargo.toml"), "").expect("a file");
        let results =
            [replaceable(&empty), replaceable(&venv), replaceable(&other), replaceable(&other.join("Cargo.toml"))];
        let _ = std::fs::remove_dir_all(&dir);
        assert!(results[0].is_ok() && results[1].is_ok());
        let message = results[2].clone().expect_err("a directory of other files is kept");
        assert!(message.contains(&other.display().to_string()) && message.contains("will not remove"), "{message}");
        assert!(results[3].is_err());
    }
}
