//! The `mac-silences` build end to end: the real binary, as a process, against a real
//! Alertmanager on loopback.

mod alertmanager;

use assert_cmd::Command;

/// The binary under test, with colours off.
fn mac() -> Command {
    let mut command = Command::cargo_bin("mac-silences").expect("the mac-silences binary is built");
    command.env("NO_COLOR", "1");
    command
}

/// Runs a command, returning (exit code, stdout, stderr).
fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("mac-silences runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_build_lists_the_third_party_provider_beside_the_built_in_ones() {
    let (code, stdout, stderr) = run(mac().arg("providers"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    for name in ["grafana8", "alertmanager_silences"] {
        assert!(stdout.lines().any(|line| line.split_whitespace().next() == Some(name)), "{name} in:\n{stdout}");
    }
}

#[test]
fn the_example_project_is_valid() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../example");
    let (code, stdout, stderr) =
        run(mac().arg("validate").arg("-C").arg(example).env_remove("MAC_ALERTMANAGER_SILENCES_URL"));
    assert_eq!(code, 0, "{stdout}{stderr}");
}
