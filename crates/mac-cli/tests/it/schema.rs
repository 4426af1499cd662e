//! `mac schema`: each kind's fields for people, and the JSON Schema editors validate definition
//! and template files with — checked against every example project and against the loader.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use insta::assert_snapshot;
use serde_json::Value;

use crate::{Project, run};

/// `mac schema --json-schema`, once per test binary.
fn file_schema() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let (code, stdout, stderr) = run(Project::empty().mac().args(["schema", "--json-schema"]));
        assert_eq!(code, 0, "{stderr}");
        let schema: Value = serde_json::from_str(&stdout).expect("the schema is JSON");
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        jsonschema::validator_for(&schema).expect("a valid JSON Schema")
    })
}

/// What the schema finds wrong with a TOML file's text: one line per problem, none when valid.
fn schema_problems(text: &str) -> Vec<String> {
    let instance: Value = toml::from_str(text).expect("valid TOML");
    file_schema().iter_errors(&instance).map(|error| format!("{}: {error}", error.instance_path())).collect()
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn toml_files_below(directory: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            toml_files_below(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "toml") {
            files.push(path);
        }
    }
}

#[test]
fn schema_lists_every_registered_kind() {
    let (code, stdout, stderr) = run(Project::empty().mac().arg("schema"));
    assert_eq!(code, 0, "{stderr}");
    let headers: Vec<&str> = stdout.lines().filter(|line| !line.is_empty() && !line.starts_with(' ')).collect();
    assert_snapshot!(headers.join("\n"), @r#"
    cortex.rule_group: A Prometheus rule group in a Cortex ruler namespace, as a `cortex.rule_group` definition writes it.
    cortex.alertmanager_config: A tenant's Alertmanager configuration, as a `cortex.alertmanager_config` definition writes it (one per instance).
    grafana8.datasource: A data source definition (`[[grafana8.datasource]]`); what is left out is written as Grafana's default.
    grafana8.folder: A folder definition (`[[grafana8.folder]]`).
    grafana8.alert_group: A unified alerting rule group of Grafana-managed rules (`[[grafana8.alert_group]]`).
    grafana8.library_panel: A `library_panel` definition.
    grafana8.dashboard: A dashboard definition (`[[grafana8.dashboard]]`).
    grafana8.folder_permission: A `folder_permission` definition: the whole permission list of one folder.
    grafana8.dashboard_permission: A `dashboard_permission` definition: the whole permission list of one dashboard.
    grafana8.org_preferences: An `org_preferences` definition: the fields set are owned, the others left as they are.
    grafana8.notification_channel: A legacy notification channel definition (`[[grafana8.notification_channel]]`).
    grafana8.contact_point: A `contact_point` definition: a receiver of unified alerting and its integrations.
    grafana8.notification_policy: A `notification_policy` definition: a child route of the root policy, known by its matchers. It sends to exactly one of `contact_point` or `receiver`.
    grafana8.message_template: A `message_template` definition: a named notification template (a file of Grafana's `template_files`), whose `{{ define "…" }}` blocks contact points use in their settings.
    grafana8.mute_timing: A `mute_timing` definition: named time intervals during which the notification policies that name it send nothing (Alertmanager's `mute_time_intervals`).
    grafana8.user: A `user` definition: a Grafana user, and its role in the instance's org.
    grafana8.organization: An `organization` definition: a Grafana organisation and who has which role in it.
    grafana8.team: A `team` definition: one team of the instance's org.
    prometheus.rule_group: A Prometheus rule group, as a `prometheus.rule_group` definition writes it.
    testfs.folder: A folder definition.
    testfs.group: A group definition.
    Every [[PROVIDER.KIND]] table also takes:
    A string field's value may be { ref = "KIND.ID", field = "FIELD" }: that object's field, known once it exists.
    In a template, a value that is exactly "%{param}" takes the parameter's value, of any type.
    "#);
}

/// The pointers of properties, anywhere below `schema`, that have no description.
fn undescribed(schema: &Value, pointer: &str, found: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                for (name, property) in properties {
                    if property.get("description").is_none() {
                        found.push(format!("{pointer}/properties/{name}"));
                    }
                }
            }
            for (key, child) in map {
                undescribed(child, &format!("{pointer}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                undescribed(item, &format!("{pointer}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn every_field_of_every_kind_says_what_it_means() {
    let (code, stdout, stderr) = run(Project::empty().mac().args(["schema", "--json-schema"]));
    assert_eq!(code, 0, "{stderr}");
    let schema: Value = serde_json::from_str(&stdout).expect("JSON");
    let mut found = Vec::new();
    undescribed(&schema, "", &mut found);
    assert!(found.is_empty(), "fields without a doc comment:\n{}", found.join("\n"));
}

#[test]
fn schema_of_one_kind_lists_its_fields_with_types_defaults_and_meaning() {
    let (code, stdout, stderr) = run(Project::empty().mac().args(["schema", "prometheus.rule_group"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    prometheus.rule_group: A Prometheus rule group, as a `prometheus.rule_group` definition writes it.
      namespace            string           required  The rule file the group lives in: `<rules_dir>/<namespace>.yml`.
      name                 string                     The group's name in its file; the definition's local id when left out.
      interval             duration                   How often the group is evaluated, e.g. `1m`; Prometheus' global interval when left out.
      limit                integer                    The most alerts or series a rule may produce (0: no limit).
      rules                list of tables   required  The group's rules, evaluated in this order.
      rules[].alert        string                     The alert's name, for an alerting rule.
      rules[].record       string                     The metric the result is recorded as, for a recording rule.
      rules[].expr         string           required  The PromQL expression.
      rules[].for          duration                   How long an alert's condition must hold before it fires (alerting rules only).
      rules[].labels       table of string            Labels added to the alerts or series.
      rules[].annotations  table of string            An alert's annotations (alerting rules only).

    Every [[PROVIDER.KIND]] table also takes:
      id        string  required       The definition's local id, unique per kind and provider instance: letters, digits, `_`, `-`, `.` and `:`.
      provider  string                 The provider instance, such as `PROVIDER.eu`, when not the default `PROVIDER`.
      protect   bool    default false  Never delete this object, even when its definition goes.
    A string field's value may be { ref = "KIND.ID", field = "FIELD" }: that object's field, known once it exists.
    In a template, a value that is exactly "%{param}" takes the parameter's value, of any type.
    "#);
}

#[test]
fn an_unknown_kind_is_an_error_naming_the_known_ones() {
    let (code, stdout, stderr) = run(Project::empty().mac().args(["schema", "grafana8.foldr"]));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert_snapshot!(stderr, @"error: unknown kind `grafana8.foldr` (known kinds: cortex.rule_group, cortex.alertmanager_config, grafana8.datasource, grafana8.folder, grafana8.alert_group, grafana8.library_panel, grafana8.dashboard, grafana8.folder_permission, grafana8.dashboard_permission, grafana8.org_preferences, grafana8.notification_channel, grafana8.contact_point, grafana8.notification_policy, grafana8.message_template, grafana8.mute_timing, grafana8.user, grafana8.organization, grafana8.team, prometheus.rule_group, testfs.folder, testfs.group); did you mean `grafana8.folder`?");
}

#[test]
fn one_kinds_json_schema_keeps_its_fields_in_declaration_order() {
    let (code, stdout, stderr) = run(Project::empty().mac().args(["schema", "grafana8.folder", "--json-schema"]));
    assert_eq!(code, 0, "{stderr}");
    let schema: Value = serde_json::from_str(&stdout).expect("JSON");
    let fields: Vec<&String> = schema["properties"].as_object().expect("properties").keys().collect();
    assert_eq!(fields, ["title", "uid"]);
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn every_example_definition_and_template_is_valid_against_the_json_schema() {
    let examples = workspace_root().join("examples");
    let mut files = Vec::new();
    for project in std::fs::read_dir(&examples).expect("examples/").flatten() {
        toml_files_below(&project.path().join("definitions"), &mut files);
        toml_files_below(&project.path().join("templates"), &mut files);
    }
    files.sort();
    let shown: Vec<String> =
        files.iter().map(|file| file.strip_prefix(&examples).expect("below examples/").display().to_string()).collect();
    // The third party's silences are not kinds of this `mac`: its own build checks them.
    assert_snapshot!(shown.join("\n"), @r"
    cortex/definitions/alertmanager.toml
    cortex/definitions/payments.toml
    django/definitions/payments.toml
    django/templates/django-alerts.toml
    django/templates/django-cortex-rules.toml
    django/templates/django-dashboard.toml
    django/templates/django-prometheus-rules.toml
    django/templates/django.toml
    grafana/definitions/payments.toml
    prometheus/definitions/payments.toml
    ");
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let problems = schema_problems(&text);
        assert!(problems.is_empty(), "{}:\n{}", file.display(), problems.join("\n"));
    }
    // The check can fail: a field misspelt deep inside a rule, a value of the wrong type.
    let grafana = std::fs::read_to_string(examples.join("grafana/definitions/payments.toml")).expect("readable");
    assert!(grafana.contains("condition = \"B\""));
    let misspelt = schema_problems(&grafana.replacen("condition = \"B\"", "conditon = \"B\"", 1));
    assert!(misspelt.iter().any(|problem| problem.contains("conditon")), "{misspelt:?}");
    let mistyped = schema_problems(&grafana.replacen("condition = \"B\"", "condition = 2", 1));
    assert!(!mistyped.is_empty());
}

/// A project with testfs and prometheus instances: what `mac validate` (the loader) says of a
/// definitions file and, when given, a template.
fn loader_accepts(definitions: &str, template: Option<&str>) -> bool {
    let project = Project::new(definitions);
    project.write(
        "mac.toml",
        "[providers.testfs]\nfile = \"remote.json\"\n\n[providers.prometheus]\nrules_dir = \"rules\"\npromtool = false\n",
    );
    if let Some(template) = template {
        project.write("templates/t.toml", template);
    }
    let (code, _, _) = run(project.mac().arg("validate"));
    code == 0
}

/// The schema and the loader agree on `definitions` (with `template`, if any): both accept it
/// (`true`) or both refuse it.
fn check(definitions: &str, template: Option<&str>, accepted: bool) {
    let mut schema_problems_found = schema_problems(definitions);
    if let Some(template) = template {
        schema_problems_found.extend(schema_problems(template));
    }
    assert_eq!(
        schema_problems_found.is_empty(),
        accepted,
        "the schema {}:\n{definitions}\n{template:?}\n{schema_problems_found:?}",
        if accepted { "refuses" } else { "accepts" }
    );
    assert_eq!(
        loader_accepts(definitions, template),
        accepted,
        "the loader {}:\n{definitions}\n{template:?}",
        if accepted { "refuses" } else { "accepts" }
    );
}

const FOLDER: &str = "[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\n";

#[test]
fn the_schema_refuses_what_the_loader_refuses() {
    check(FOLDER, None, true);
    // A misspelt field, a wrong type, an unknown kind, a missing or malformed id.
    check("[[testfs.folder]]\nid = \"a\"\ntitel = \"A\"\n", None, false);
    check(&format!("{FOLDER}\n[[testfs.group]]\nid = \"g\"\nfolder = \"a\"\ninterval = 60\n"), None, false);
    check("[[testfs.foldr]]\nid = \"a\"\ntitle = \"A\"\n", None, false);
    check("[[testfs.folder]]\ntitle = \"A\"\n", None, false);
    check("[[testfs.folder]]\nid = \"a b\"\ntitle = \"A\"\n", None, false);
    check("[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\nprotect = \"yes\"\n", None, false);
    // A duration Prometheus cannot read.
    let rule_group = "[[prometheus.rule_group]]\nid = \"g\"\nnamespace = \"app\"\nrules = [{ alert = \"Down\", expr = \"up == 0\" }]\n";
    check(&format!("{rule_group}interval = \"1m30s\"\n"), None, true);
    check(&format!("{rule_group}interval = \"90 seconds\"\n"), None, false);
    // A misspelt field inside a list of tables.
    check(
        &format!(
            "{FOLDER}\n[[testfs.group]]\nid = \"g\"\nfolder = \"a\"\ninterval = \"1m\"\nrules = [{{ title = \"T\", expr = \"up\", fro = \"5m\" }}]\n"
        ),
        None,
        false,
    );
    // A secret is a reference, never a value written inline.
    check("[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\nsecret = { env = \"SECRET\" }\n", None, true);
    check("[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\nsecret = \"hunter2\"\n", None, false);
    // Any field may be a generic reference; a malformed one is refused.
    let group = format!("{FOLDER}\n[[testfs.group]]\nid = \"g\"\nfolder = \"a\"\ninterval = \"1m\"\n");
    check(
        &format!("{group}\n[[testfs.folder]]\nid = \"b\"\ntitle = {{ ref = \"group.g\", field = \"interval\" }}\n"),
        None,
        true,
    );
    check(
        &format!("{group}\n[[testfs.folder]]\nid = \"b\"\ntitle = {{ ref = \"group.g\", feld = \"interval\" }}\n"),
        None,
        false,
    );
    // A reference stands only where a string goes (offline, it is the string "(known after apply)").
    check(
        &format!(
            "{group}\n[[testfs.folder]]\nid = \"b\"\ntitle = \"B\"\n\n[[testfs.group]]\nid = \"h\"\nfolder = {{ ref = \"folder.b\" }}\ninterval = \"1m\"\n"
        ),
        None,
        true,
    );
    check(&format!("{group}rules = [{{ ref = \"folder.a\" }}]\n"), None, false);
    // [[moved]] and [[use]] blocks.
    check(&format!("{FOLDER}\n[[moved]]\nfrom = \"testfs.folder.old\"\nto = \"testfs.folder.a\"\n"), None, true);
    check(
        &format!("{FOLDER}\n[[moved]]\nfrom = \"testfs.folder.old\"\nto = \"testfs.folder.a\"\nby = \"me\"\n"),
        None,
        false,
    );
}

const RULES_TEMPLATE: &str = r#"
[template]
name = "rules"

[template.params.limit]
type = "number"
default = 10

[[prometheus.rule_group]]
id = "limited"
namespace = "app"
limit = "%{limit}"
rules = [{ alert = "Down", expr = "up == 0" }]
"#;

#[test]
fn a_placeholder_stands_for_any_type_in_a_template_only() {
    let uses = "[[use]]\ntemplate = \"rules\"\n";
    check(uses, Some(RULES_TEMPLATE), true);
    // The same value in a definition file is a string where a number belongs.
    let body = RULES_TEMPLATE.split("\n[[prometheus.rule_group]]").nth(1).expect("a body");
    check(&format!("[[prometheus.rule_group]]{body}"), None, false);
    // A template is checked too: a misspelt field, or a parameter of an unknown type.
    check(uses, Some(&RULES_TEMPLATE.replace("namespace =", "namespcae =")), false);
    check(uses, Some(&RULES_TEMPLATE.replace("type = \"number\"", "type = \"integer\"")), false);
    check(uses, Some(&RULES_TEMPLATE.replace("default = 10", "default = \"ten\"")), false);
}
