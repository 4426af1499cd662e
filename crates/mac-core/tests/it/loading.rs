//! Loading definitions: every problem named at its file:line:column.

use crate::{Harness, TWO_FOLDERS};

fn error_of(toml: &str) -> String {
    let harness = Harness::new();
    harness.definitions(toml).expect_err("invalid").to_string()
}

#[test]
fn valid_definitions_load_with_their_ids() {
    let harness = Harness::new();
    let definitions = harness.definitions(TWO_FOLDERS).expect("valid");
    let ids: Vec<String> = definitions.iter().map(|definition| definition.id.to_string()).collect();
    assert_eq!(ids, ["testfs/folder.a", "testfs/folder.b", "testfs/group.a-alerts", "testfs/group.b-alerts"]);
}

#[test]
fn a_duplicate_id_names_both_places() {
    let toml = "[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\n\n[[testfs.folder]]\nid = \"a\"\ntitle = \"A again\"\n";
    assert_eq!(error_of(toml), "defs.toml:5:1: `testfs/folder.a` is defined twice; first definition at defs.toml:1:1");
}

#[test]
fn a_dependency_cycle_names_its_members() {
    let toml = r#"
[[testfs.folder]]
id = "a"
title = { ref = "group.g", field = "interval" }

[[testfs.group]]
id = "g"
folder = "a"
interval = "1m"
"#;
    assert_eq!(
        error_of(toml),
        "defs.toml:2:1: definitions depend on each other in a cycle: testfs/folder.a -> testfs/group.g -> testfs/folder.a"
    );
}

#[test]
fn unknown_keys_wrong_types_and_bad_values_point_at_the_field() {
    let unknown = "[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\ncolour = \"red\"\n";
    assert_eq!(error_of(unknown), "defs.toml:4:1: unknown field `colour`, expected one of `title`, `uid`, `secret`");

    let wrong_type = "[[testfs.group]]\nid = \"g\"\nfolder = \"a\"\ninterval = 5\n";
    assert_eq!(error_of(wrong_type), "defs.toml:4:1: invalid type: integer `5`, expected a string");

    let bad_duration = "[[testfs.group]]\nid = \"g\"\nfolder = \"a\"\ninterval = \"soon\"\n";
    let message = error_of(&format!("[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\n{bad_duration}"));
    assert_eq!(message, "defs.toml:7:1: invalid duration `soon` (use e.g. 30s, 1m, 2h)");

    let nested =
        "[[testfs.group]]\nid = \"g\"\nfolder = \"a\"\ninterval = \"1m\"\nrules = [{ title = \"t\", expr = 1 }]\n";
    let message = error_of(&format!("[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\n{nested}"));
    assert_eq!(message, "defs.toml:8:25: invalid type: integer `1`, expected a string");
}

#[test]
fn unknown_kinds_providers_missing_ids_and_dangling_references() {
    assert_eq!(
        error_of("[[testfs.dashboard]]\nid = \"d\"\n"),
        "defs.toml:1:10: provider `testfs` has no kind `dashboard` (its kinds: folder, group)"
    );
    assert_eq!(
        error_of("[[nosuch.folder]]\nid = \"d\"\n"),
        "defs.toml:1:3: `nosuch` is not a provider configured in mac.toml; add a [providers.nosuch] table"
    );
    assert_eq!(error_of("[[testfs.folder]]\ntitle = \"A\"\n"), "defs.toml:1:1: missing `id` in [[testfs.folder]]");
    assert_eq!(
        error_of("[[testfs.group]]\nid = \"g\"\nfolder = \"ghost\"\ninterval = \"1m\"\n"),
        "defs.toml:3:1: `folder.ghost` is not defined for provider instance `testfs`"
    );
    assert_eq!(
        error_of("[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\nprovider = \"testfs.eu\"\n"),
        "defs.toml:4:1: `testfs.eu` is not a configured instance of provider `testfs`"
    );
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let toml = "[[testfs.folder]]\nid = \"a\"\ntitle = \"\"\n\n[[testfs.folder]]\ntitle = \"B\"\n";
    // Both problems, each at its own place (not the first one twice).
    assert_eq!(error_of(toml), "defs.toml:5:1: missing `id` in [[testfs.folder]]\ndefs.toml:3:1: must not be empty");
}

#[test]
fn malformed_toml_names_the_line() {
    let message = error_of("[[testfs.folder]]\nid = \"a\"\ntitle = \n");
    assert!(message.starts_with("defs.toml:3:"), "{message}");
}

#[test]
fn a_handler_describes_its_definitions_as_its_kind_spec_does() {
    let harness = Harness::new();
    let provider = mac_test_provider::TestProvider::new(harness.remote.clone());
    for spec in mac_core::Provider::kinds(&provider) {
        let handler = harness.providers.handler("testfs", &spec.name).expect("a handler per kind");
        let schema = handler.desired_schema();
        assert_eq!(schema, (spec.desired_schema)(), "{}", spec.name);
        // The loader's own types, field for field: a definition with another field is refused.
        assert_eq!(schema["additionalProperties"], false, "{}", spec.name);
    }
    let folder = harness.providers.handler("testfs", "folder").expect("folder").desired_schema();
    let fields: Vec<&String> = folder["properties"].as_object().expect("properties").keys().collect();
    assert_eq!(fields, ["title", "uid", "secret"], "in declaration order");
}
