//! `cargo xtask setup` (and the first phase of `cargo xtask ci`): installs what the test
//! suite needs and is missing, and nothing else.
//!
//! - rustfmt and clippy, through rustup;
//! - Debian's `prometheus` (with promtool), `prometheus-alertmanager`, `python3-django` and
//!   `python3-django-prometheus` (and `python3-venv` when `python3` is Debian's and lacks it),
//!   through apt-get: directly as root, through `sudo -n` where that works without a password,
//!   otherwise an error that lists the exact commands to run;
//! - two virtualenvs outside the repository, under `$MAC_CLIENT_VENVS` (default
//!   `$HOME/.cache/mac/clients`), one per client the emulator's `clients` tests run:
//!   `python3 -m venv DIR`, then `DIR/bin/pip install -r REQUIREMENTS`. A venv records a hash
//!   of its requirements file and is made anew when the file changed or the venv is broken.
//!
//! Every step checks first: a second run installs, updates and recreates nothing, and says so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{describe, run_command, succeeds};

/// The Debian packages the tests run, with what needs each.
const PACKAGES: [(&str, &str); 4] = [
    ("prometheus", "Prometheus and promtool: the prometheus provider's, `mac test`'s and the django tests"),
    ("prometheus-alertmanager", "Alertmanager: the end-to-end alerting test and the silences example"),
    ("python3-django", "the django bundle's demo app"),
    ("python3-django-prometheus", "the django bundle's demo app"),
];

/// Where the client virtualenvs go unless `MAC_CLIENT_VENVS` says otherwise: `$HOME/` + this.
const DEFAULT_VENVS: &str = ".cache/mac/clients";

/// The variable naming the directory of the client virtualenvs.
pub(crate) const VENVS_VARIABLE: &str = "MAC_CLIENT_VENVS";

/// The client virtualenvs: the directory name under `$MAC_CLIENT_VENVS` and the requirements
/// file (relative to the repository) installed into it.
const CLIENTS: [(&str, &str); 2] = [
    ("python-original", "crates/grafana8-emulator/tests/clients/python-original/requirements.txt"),
    ("ansible", "crates/grafana8-emulator/tests/clients/ansible/requirements.txt"),
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
    let python = python()?;
    let mut packages: Vec<&str> = PACKAGES.iter().map(|(name, _)| *name).collect();
    if !succeeds(Command::new(&python).args(["-c", "import ensurepip, venv"])) {
        if !is_debians(&python) {
            return Err(format!(
                "{} cannot make virtualenvs (no ensurepip): install its venv support, or put a Python >= 3.10 \
                 with venv first on PATH",
                python.display()
            ));
        }
        // Debian ships ensurepip apart from its python3.
        packages.push("python3-venv");
    }
    debian_packages(&packages)?;
    let venvs = venvs_dir()?;
    for (name, requirements) in CLIENTS {
        venv(&python, &venvs.join(name), root, Path::new(requirements))?;
    }
    Ok(())
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

/// `python3` from PATH, if it is recent enough.
fn python() -> Result<PathBuf, String> {
    let python = PathBuf::from("python3");
    let output = Command::new(&python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .stderr(Stdio::null())
        .output()
        .map_err(|err| format!("no python3 on PATH ({err}): install Python >= 3.10 with venv"))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let parsed = version.split_once('.').and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)));
    match parsed {
        Some(found) if found >= MIN_PYTHON => Ok(python),
        _ => Err(format!(
            "python3 on PATH is `{version}`; the client virtualenvs need Python >= {}.{}: put one first on PATH",
            MIN_PYTHON.0, MIN_PYTHON.1
        )),
    }
}

/// Whether `python` (found on PATH) is Debian's `/usr/bin/python3…`.
fn is_debians(python: &Path) -> bool {
    let output = Command::new(python).args(["-c", "import sys; print(sys.executable)"]).output();
    output.is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim().starts_with("/usr/bin/"))
}

fn debian_packages(packages: &[&str]) -> Result<(), String> {
    if !succeeds(Command::new("dpkg-query").arg("--version")) {
        return Err(format!(
            "this is not a Debian or Ubuntu machine (no dpkg-query): install by hand what these Debian packages \
             provide, then rerun:\n{}",
            PACKAGES.iter().map(|(name, why)| format!("  {name}: {why}")).collect::<Vec<_>>().join("\n")
        ));
    }
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
             sudo apt-get install -y --no-install-recommends {}\nthen rerun",
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
    command.args(args);
    command
}

/// Runs a command, echoing it first; its output (dpkg's hundreds of lines) is shown only
/// when it fails.
fn run_captured(command: &mut Command) -> Result<(), String> {
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

fn installed(package: &str) -> bool {
    let output = Command::new("dpkg-query").args(["-W", "-f=${Status}", package]).stderr(Stdio::null()).output();
    output.is_ok_and(|output| output.status.success() && output.stdout == b"install ok installed")
}

fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output();
    output.is_ok_and(|output| output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "0")
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
/// already is one.
fn venv(python: &Path, dir: &Path, root: &Path, shown: &Path) -> Result<(), String> {
    let requirements = root.join(shown);
    let text = std::fs::read(&requirements).map_err(|err| format!("cannot read {}: {err}", requirements.display()))?;
    let stamp = format!("requirements fnv1a64 {:016x}\n", fnv1a64(&text));
    let reason = match std::fs::read_to_string(dir.join(STAMP)) {
        _ if !dir.exists() => "created",
        Err(_) => "incomplete (no record of a finished install): recreated",
        Ok(recorded) if recorded != stamp => "requirements changed: recreated",
        Ok(_) if !venv_works(dir) => "broken (its python does not run): recreated",
        Ok(_) => {
            println!("setup: venv {}: up to date with {}", dir.display(), shown.display());
            return Ok(());
        }
    };
    let started = Instant::now();
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|err| format!("cannot remove {}: {err}", dir.display()))?;
    }
    run_command(Command::new(python).arg("-m").arg("venv").arg(dir))?;
    let pip = dir.join("bin/pip");
    let mut install = Command::new(&pip);
    install.args(["install", "--quiet", "--disable-pip-version-check", "-r"]).arg(&requirements);
    run_command(&mut install)?;
    // Last: a venv without its stamp is one whose install did not finish.
    std::fs::write(dir.join(STAMP), stamp)
        .map_err(|err| format!("cannot write {}: {err}", dir.join(STAMP).display()))?;
    println!("setup: venv {}: {reason}, {} installed ({:.1} s)", dir.display(), shown.display(), seconds(started));
    Ok(())
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

fn seconds(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::fnv1a64;

    #[test]
    fn the_requirements_digest_is_fnv1a() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
