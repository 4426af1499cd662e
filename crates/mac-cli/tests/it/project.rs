//! Commands that need no remote: providers, validate, configuration errors, state.

use insta::assert_snapshot;

use crate::{Project, TWO_FOLDERS, run};

#[test]
fn providers_lists_what_was_compiled_in() {
    let (code, stdout, _) = run(Project::empty().mac().arg("providers"));
    assert_eq!(code, 0);
    assert_snapshot!(stdout, @r#"
    cortex       Cortex (an instance is one tenant): Prometheus rule groups through the ruler API, and the Alertmanager configuration
                 kinds: rule_group, alertmanager_config
    grafana8     Grafana 8.5 (an instance is one organisation): alerting, dashboards, data sources and access
                 kinds: datasource, folder, alert_group, library_panel, dashboard, folder_permission, dashboard_permission, org_preferences, notification_channel, contact_point, notification_policy, message_template, mute_timing, user, organization, team
    prometheus   Prometheus: alerting and recording rule groups in rule files, reloaded and verified
                 kinds: rule_group
    testfs       test-only: folders and groups kept in a local JSON file, with fault injection
                 kinds: folder, group

    State backends ([state] backend = "NAME"):
    file         a JSON file in the project (the default)
    postgres     state in PostgreSQL, shared by a team's runners (advisory lock per state)
    "#);
}

#[test]
fn validate_counts_objects_offline() {
    let project = Project::new(TWO_FOLDERS);
    let (code, stdout, _) = run(project.mac().arg("validate"));
    assert_eq!(code, 0);
    assert_snapshot!(stdout, @"Valid: 4 object(s) for 1 provider instance(s).");
    assert!(!project.root().join("remote.json").exists(), "validate never touches the remote");
}

#[test]
fn invalid_definitions_fail_with_every_problem_located() {
    let project = Project::new(
        "[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\ncolour = \"red\"\n\n[[testfs.group]]\nid = \"g\"\nfolder = \"ghost\"\ninterval = \"1m\"\n",
    );
    let (code, stdout, stderr) = run(project.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert_snapshot!(stderr, @r"
    error: definitions/main.toml:4:1: unknown field `colour`, expected one of `title`, `uid`, `secret`
    definitions/main.toml:8:1: `folder.ghost` is not defined for provider instance `testfs`
    ");
    assert!(!project.root().join("remote.json").exists(), "nothing was read or written remotely");
}

#[test]
fn bad_configuration_names_file_line_and_field() {
    let project = Project::new(TWO_FOLDERS);
    project.write("mac.toml", "[providers.testfs]\nfile = \"remote.json\"\nlatency = 5\n");
    let (code, _, stderr) = run(project.mac().arg("validate"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: mac.toml:3:1: provider `testfs`: unknown field `latency`, expected one of `file`, `latency_ms`, `fail`, `token`");

    project.write("mac.toml", "[providers.nosuch]\n");
    let (_, _, stderr) = run(project.mac().arg("validate"));
    assert_snapshot!(stderr, @"error: mac.toml:1:12: unknown provider `nosuch` (compiled into this mac: cortex, grafana8, prometheus, testfs)");

    project.write("mac.toml", "defintions = [\"x\"]\n");
    let (_, _, stderr) = run(project.mac().arg("validate"));
    assert_snapshot!(stderr, @"error: mac.toml:1:1: unknown field `defintions`, expected one of `project`, `definitions`, `templates`, `state`, `safety`, `providers`, `values`, `environments`");

    let (code, _, stderr) = run(Project::empty().mac().arg("validate"));
    assert_eq!(code, 1);
    assert!(stderr.contains("no mac.toml in"), "{stderr}");
}

#[test]
fn environments_override_settings_and_state_path() {
    let project = Project::new(TWO_FOLDERS);
    project.write(
        "mac.toml",
        r#"
[providers.testfs]
file = "production.json"

[environments.staging]
state = { path = ".mac/staging.json" }
providers.testfs = { file = "staging.json" }
"#,
    );
    let (code, _, stderr) = run(project.mac().args(["-e", "staging", "apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(project.root().join("staging.json").exists());
    assert!(project.root().join(".mac/staging.json").exists());
    assert!(!project.root().join("production.json").exists());
    assert!(!project.state_path().exists());

    let (code, _, stderr) = run(project.mac().args(["-e", "prod", "plan"]));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: mac.toml:1:1: unknown environment `prod` (defined: staging)");
}

#[test]
fn state_list_show_and_rm() {
    let project = Project::new(TWO_FOLDERS);
    // One write at a time: the remote assigns group ids in the order it sees creates.
    run(project.mac().args(["apply", "--auto-approve", "--parallelism", "1"]));
    let (code, stdout, _) = run(project.mac().args(["state", "list"]));
    assert_eq!(code, 0);
    assert_snapshot!(stdout, @r"
    testfs/folder.a	mac-a
    testfs/folder.b	mac-b
    testfs/group.a-alerts	g1
    testfs/group.b-alerts	g2
    ");
    let (_, stdout, _) = run(project.mac().args(["state", "show", "folder.a"]));
    let entry: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(entry["remote_id"], "mac-a");

    let (code, stdout, _) = run(project.mac().args(["state", "rm", "group.b-alerts"]));
    assert_eq!(code, 0);
    assert_snapshot!(stdout, @"Removed testfs/group.b-alerts from state; the remote object was not touched and is no longer managed.");
    assert_eq!(project.remote_count("group"), 2);
    let (code, stdout, _) = run(project.mac().args(["state", "list"]));
    assert_eq!(code, 0);
    assert_snapshot!(stdout, @r"
    testfs/folder.a	mac-a
    testfs/folder.b	mac-b
    testfs/group.a-alerts	g1
    ");
    let (code, _, stderr) = run(project.mac().args(["state", "show", "group.nope"]));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: no state entry matches `group.nope` (see `mac state list`)");
}

#[test]
fn an_environment_without_its_own_state_path_never_shares_the_default_state() {
    let project = Project::new(TWO_FOLDERS);
    project.write(
        "mac.toml",
        "[providers.testfs]\nfile = \"production.json\"\ntoken = { file = \"dev-token\" }\n\n\
         [environments.staging]\nproviders.testfs = { file = \"staging.json\", token = { env = \"STAGING_TOKEN\" } }\n",
    );
    let (code, _, stderr) = run(project.mac().args(["apply", "--auto-approve"]).env("STAGING_TOKEN", "x"));
    assert_eq!(code, 1, "the base token file does not exist");
    assert!(stderr.contains("dev-token"), "{stderr}");
    project.write("dev-token", "dev\n");
    let (code, _, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
    // The environment's token replaces the base one whole (no merged { file, env } table).
    let (code, stdout, stderr) = run(project.mac().args(["-e", "staging", "plan"]).env("STAGING_TOKEN", "s"));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Plan: 4 to create"), "staging starts from its own, empty state: {stdout}");
    let (code, _, _) = run(project.mac().args(["-e", "staging", "apply", "--auto-approve"]).env("STAGING_TOKEN", "s"));
    assert_eq!(code, 0);
    assert!(project.root().join(".mac/state.staging.json").exists());
    assert_eq!(project.state()["resources"].as_array().map(Vec::len), Some(4), "production state untouched");
}

#[test]
fn a_saved_plan_is_refused_in_another_environment() {
    let project = Project::new(TWO_FOLDERS);
    project.write(
        "mac.toml",
        "[providers.testfs]\nfile = \"production.json\"\n\n[environments.staging]\nproviders.testfs = { file = \"staging.json\" }\n",
    );
    let (code, _, _) = run(project.mac().args(["-e", "staging", "plan", "-o", "staging.plan"]));
    assert_eq!(code, 0);
    let (code, _, stderr) = run(project.mac().args(["apply", "staging.plan", "--auto-approve"]));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: staging.plan was made for another environment (staging) than this run's ((none)); make a new plan");
    assert!(!project.root().join("production.json").exists());
    let (code, _, stderr) = run(project.mac().args(["-e", "staging", "apply", "staging.plan", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
}
