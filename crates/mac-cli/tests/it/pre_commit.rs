//! The repository's `.pre-commit-hooks.yaml`, run by pre-commit itself (the version pinned in
//! `tests/pre-commit/requirements.txt`, in a virtualenv outside the repository that `cargo
//! xtask setup` makes) on a copy of `examples/grafana` that is a git repository of its own:
//! `pre-commit try-repo REPOSITORY HOOK --all-files`, with the `mac` of this build on PATH, as
//! the hooks' `language: system` expects.
//!
//! try-repo reads the hooks from the repository's HEAD, plus (through a temporary commit in a
//! clone) what is staged and what changed in tracked files; an untracked, never added
//! `.pre-commit-hooks.yaml` is not seen.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// The pre-commit virtualenv's directory name under `$MAC_CLIENT_VENVS`.
const VENV: &str = "pre-commit";

/// The workspace's root, where `.pre-commit-hooks.yaml` is.
fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository's root")
}

/// `$MAC_CLIENT_VENVS`, else `$HOME/.cache/mac/clients` (as `cargo xtask setup` and the
/// emulator's client tests read it).
fn venvs_root() -> PathBuf {
    match std::env::var_os("MAC_CLIENT_VENVS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/mac/clients"),
    }
}

/// The venv's `pre-commit` when its python has every package pinned in the requirements file
/// at the pinned version; otherwise a failure naming how to make it (or, when the developer set
/// `MAC_TEST_SKIP_MISSING`, a visible skip and `None`).
fn pre_commit() -> Option<PathBuf> {
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pre-commit/requirements.txt");
    let text = std::fs::read_to_string(&requirements).expect("the requirements file is in the repository");
    let pins: Vec<(&str, &str)> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter_map(|line| line.split_once("=="))
        .map(|(package, version)| (package.trim(), version.trim()))
        .collect();
    assert!(!pins.is_empty(), "{} pins no package", requirements.display());
    let dir = venvs_root().join(VENV);
    // Exits non-zero when a package is missing (PackageNotFoundError) or at another version.
    let probe = format!(
        "import importlib.metadata as m, sys; sys.exit(any(m.version(p) != v for p, v in {}))",
        serde_json::to_string(&pins).expect("pins as JSON")
    );
    let python = dir.join("bin/python");
    let found = mac_test_tools::find_program(&[&python.to_string_lossy()], &["-c", &probe]);
    let install = format!(
        "cargo xtask setup (or: python3 -m venv {dir} && {dir}/bin/pip install -r {requirements})",
        dir = dir.display(),
        requirements = requirements.display()
    );
    mac_test_tools::require(&mac_test_tools::current_test(), "pre-commit-venv", found, &install)
        .map(|_| dir.join("bin/pre-commit"))
}

/// A copy of `examples/NAME` in a new git repository with one commit, as a team's
/// monitoring repository would be.
struct ExampleRepository {
    dir: tempfile::TempDir,
}

impl ExampleRepository {
    fn copy_of(name: &str) -> ExampleRepository {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_tree(&repository_root().join("examples").join(name), dir.path());
        let repository = ExampleRepository { dir };
        repository.git(&["init", "--quiet"]);
        repository.commit("the example");
        repository
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.root().join(relative)).expect("a file of the example")
    }

    fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.root().join(relative), text).expect("write a file of the example");
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "--all"]);
        self.git(&[
            "-c",
            "user.name=mac tests",
            "-c",
            "user.email=tests@mac.invalid",
            "commit",
            "--quiet",
            "-m",
            message,
        ]);
    }

    fn git(&self, args: &[&str]) {
        let (code, _, stderr) = run(assert_cmd::Command::from_std(git(self.root())).args(args));
        assert_eq!(code, 0, "git {args:?}: {stderr}");
    }

    /// `pre-commit try-repo REPOSITORY HOOK --all-files` here: (exit code, what it printed).
    fn try_repo(&self, pre_commit: &Path, hook: &str) -> (i32, String) {
        let mac = assert_cmd::cargo::cargo_bin("mac");
        let mac_dir = mac.parent().expect("the mac binary's directory").to_path_buf();
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let path =
            std::env::join_paths(std::iter::once(mac_dir).chain(std::env::split_paths(&inherited))).expect("a PATH");
        let home = tempfile::tempdir().expect("tempdir");
        let mut command = without_git_variables(Command::new(pre_commit), self.root());
        command
            .arg("try-repo")
            .arg(repository_root())
            .args([hook, "--all-files", "--color", "never"])
            .env("PATH", path)
            // pre-commit's log, which it would otherwise write under ~/.cache.
            .env("PRE_COMMIT_HOME", home.path())
            // A developer's SKIP=mac-validate would make the hook pass unrun.
            .env_remove("SKIP");
        let (code, stdout, stderr) = run(&mut assert_cmd::Command::from_std(command));
        (code, format!("{stdout}{stderr}"))
    }
}

/// `git` in `dir`.
fn git(dir: &Path) -> Command {
    without_git_variables(Command::new("git"), dir)
}

/// `command` in `dir`, free of the variables of a git hook this test may run under (which
/// would point git at another repository).
fn without_git_variables(mut command: Command, dir: &Path) -> Command {
    command.current_dir(dir);
    for variable in ["GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY"] {
        command.env_remove(variable);
    }
    command
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("a directory of the example") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file of the example");
        }
    }
}

#[test]
fn the_mac_validate_hook_passes_an_example_and_fails_a_broken_definition_at_its_line() {
    let Some(pre_commit) = pre_commit() else { return };
    let example = ExampleRepository::copy_of("grafana");
    let (code, output) = example.try_repo(&pre_commit, "mac-validate");
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("mac validate....") && output.contains("Passed"), "{output}");

    let definitions = "definitions/payments.toml";
    let text = example.read(definitions);
    let broken = text.replacen("folder = \"payments\"", "folder = \"paymnets\"", 1);
    assert_ne!(broken, text, "the example's group names its folder");
    example.write(definitions, &broken);
    example.commit("a misspelt folder");
    let (code, output) = example.try_repo(&pre_commit, "mac-validate");
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("Failed") && output.contains("- hook id: mac-validate"), "{output}");
    let line = broken.lines().position(|line| line.starts_with("folder = \"paymnets\"")).expect("the edit") + 1;
    let located = format!(
        "error: {definitions}:{line}:1: `folder.paymnets` is not defined for provider instance `grafana8`; did you \
         mean `folder.payments`?"
    );
    assert!(output.contains(&located), "the error is located: {output}");
}

/// pre-commit's way with a formatter: the hook rewrites the files, and the run fails because
/// files changed; the next run, on formatted files, passes.
#[test]
fn the_mac_fmt_hook_rewrites_a_misformatted_definition_then_passes() {
    let Some(pre_commit) = pre_commit() else { return };
    let example = ExampleRepository::copy_of("grafana");
    let definitions = "definitions/payments.toml";
    let text = example.read(definitions);
    let misformatted = text.replacen("title = \"Payments\"", "title   =   \"Payments\"", 1);
    assert_ne!(misformatted, text, "the example's folder has a title");
    example.write(definitions, &misformatted);
    example.commit("a misformatted definition");

    let (code, output) = example.try_repo(&pre_commit, "mac-fmt");
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("- hook id: mac-fmt") && output.contains("- files were modified by this hook"), "{output}");
    let formatted = example.read(definitions);
    assert_ne!(formatted, misformatted, "the hook rewrote the file");
    assert!(formatted.contains("title = \"Payments\""), "{formatted}");

    example.commit("formatted by the hook");
    let (code, output) = example.try_repo(&pre_commit, "mac-fmt");
    assert_eq!(code, 0, "formatting is idempotent: {output}");
    assert!(output.contains("mac fmt....") && output.contains("Passed"), "{output}");
    // Other TOML files of the repository are no concern of the hook's.
    example.write("Cargo.toml", "[package]\nname   =   \"not-mac\"\n");
    example.commit("a TOML file mac does not own");
    let (code, output) = example.try_repo(&pre_commit, "mac-fmt");
    assert_eq!(code, 0, "{output}");
    assert_eq!(example.read("Cargo.toml"), "[package]\nname   =   \"not-mac\"\n");
}
