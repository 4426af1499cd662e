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

#[test]
fn the_example_project_is_valid_against_the_json_schema_of_this_build() {
    let (code, stdout, stderr) = run(mac().args(["schema", "--json-schema"]));
    assert_eq!(code, 0, "{stderr}");
    let schema: serde_json::Value = serde_json::from_str(&stdout).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let definitions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../example/definitions");
    let mut checked = 0;
    for entry in std::fs::read_dir(definitions).expect("definitions/").flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("readable");
        let instance: serde_json::Value = toml::from_str(&text).expect("valid TOML");
        let problems: Vec<String> = validator.iter_errors(&instance).map(|error| error.to_string()).collect();
        assert!(problems.is_empty(), "{}:\n{}", entry.path().display(), problems.join("\n"));
        // The third party's kind is in the schema: a misspelt field of a silence is refused.
        let misspelt: serde_json::Value =
            toml::from_str(&text.replacen("comment =", "coment =", 1)).expect("valid TOML");
        assert!(!validator.is_valid(&misspelt), "{}: a misspelt field passes", entry.path().display());
        checked += 1;
    }
    assert!(checked > 0, "no example definitions found");
}
