//! The cortex provider end to end: the `mac` binary managing a tenant's rule groups and
//! Alertmanager configuration on a real Cortex (`mac_test_tools::cortex`, built by `cargo xtask
//! cortex build`), one throwaway server per test on free loopback ports.
//!
//! Requests are counted from mac's own debug log (`--log-level debug`: one line per attempt,
//! method and path, never headers or bodies).

use insta::assert_snapshot;
use mac_test_tools::cortex::CortexServer;

use crate::{Project, run};

const TENANT: &str = "team-a";

const GROUPS: &str = r#"
[[cortex.rule_group]]
id = "payments-http"
namespace = "payments"
name = "http"
interval = "30s"

[[cortex.rule_group.rules]]
record = "job:http_errors:ratio5m"
expr = 'sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))'

[[cortex.rule_group.rules]]
alert = "HighErrorRatio"
expr = "job:http_errors:ratio5m > 0.05"
for = "300s"
labels = { severity = "page" }
annotations = { summary = "{{ $labels.job }} fails" }

[[cortex.rule_group]]
id = "payments-latency"
namespace = "payments"
name = "latency"

[[cortex.rule_group.rules]]
alert = "SlowRequests"
expr = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5"
for = "10m"

[[cortex.rule_group]]
id = "infra-up"
namespace = "infra"
name = "up"

[[cortex.rule_group.rules]]
alert = "TargetDown"
expr = "up == 0"
for = "2m"
"#;

/// A project for `tenant` on `cortex`, with `extra` settings.
fn project(cortex: &CortexServer, tenant: &str, extra: &str, definitions: &str) -> Project {
    let project = Project::empty();
    project
        .write("mac.toml", &format!("[providers.cortex]\nurl = \"{}\"\ntenant = \"{tenant}\"\n{extra}", cortex.url()));
    project.define(definitions);
    project
}

fn mac(project: &Project) -> assert_cmd::Command {
    let mut command = project.mac();
    command.env_remove("MAC_CORTEX_URL");
    command
}

/// The requests a run made, as `METHOD /path`, from its debug log
/// (`… DEBUG GET /api/v1/rules attempt 1: ok, HTTP 200 (1 ms)`).
fn requests(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|line| {
            let request = line.split_once(" DEBUG ")?.1;
            let end = request.find(" attempt ")?;
            Some(request[..end].to_owned())
        })
        .collect()
}

/// The tenant's groups as Cortex answers them (YAML text; empty when it has none).
fn rules(cortex: &CortexServer, tenant: &str) -> String {
    let answer = cortex.get("/api/v1/rules", tenant);
    if answer.status == 404 && answer.body.trim() == "no rule groups found" {
        return String::new();
    }
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

#[test]
fn rule_groups_create_plan_update_drift_and_prune_on_a_real_cortex() {
    let Some(cortex) = CortexServer::start() else { return };
    let project = project(&cortex, TENANT, "", GROUPS);
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let stored = rules(&cortex, TENANT);
    assert!(stored.contains("- name: http") && stored.contains("- name: latency"), "{stored}");
    assert!(stored.contains("expr: job:http_errors:ratio5m > 0.05") && stored.contains("for: 5m"), "{stored}");

    // A plan reads the tenant's whole rule set with one GET.
    let (code, stdout, stderr) = run(mac(&project).args(["plan", "--detailed-exitcode", "--log-level", "debug"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @"No changes. 3 object(s) match their definitions.");
    assert_eq!(requests(&stderr), ["GET /api/v1/rules"], "{stderr}");

    // A threshold edit is one field; the apply is one POST of that group.
    let edited = GROUPS.replace("> 0.05", "> 0.02");
    project.define(&edited);
    let (code, stdout, _) = run(mac(&project).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{stdout}");
    assert_snapshot!(stdout, @r#"
    ~ update cortex/rule_group.payments-http
        ~ rules[id="HighErrorRatio"].expr: "job:http_errors:ratio5m > 0.05" -> "job:http_errors:ratio5m > 0.02"

    Plan: 0 to create, 1 to update (1 rule changed), 0 to delete, 2 unchanged.
    "#);
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve", "--log-level", "debug"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(requests(&stderr), ["GET /api/v1/rules", "POST /api/v1/rules/payments"], "{stderr}");
    assert!(rules(&cortex, TENANT).contains("expr: job:http_errors:ratio5m > 0.02"));

    // Someone changes a group by hand: drift, and the apply puts the code's version back.
    let by_hand = "name: up\nrules:\n- alert: TargetDown\n  expr: up < 1\n  for: 2m\n";
    assert_eq!(cortex.post("/api/v1/rules/infra", TENANT, "application/yaml", by_hand).status, 202);
    let (_, stdout, _) = run(mac(&project).arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ update cortex/rule_group.infra-up (drift: changed outside mac, restoring the code's version)
        ~ rules[id="TargetDown"].expr: "up < 1" -> "up == 0"

    Plan: 0 to create, 1 to update (1 rule changed), 0 to delete, 2 unchanged.
    "#);
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(rules(&cortex, TENANT).contains("expr: up == 0"));

    // A group made by hand is not mac's: kept through prunes, never planned.
    let theirs = "name: theirs\nrules:\n- record: job:up:sum\n  expr: sum by (job) (up)\n";
    assert_eq!(cortex.post("/api/v1/rules/payments", TENANT, "application/yaml", theirs).status, 202);

    // Removing definitions prunes their groups, past the mass-delete guard only when asked.
    let http_only = edited.split("[[cortex.rule_group]]\nid = \"payments-latency\"").next().expect("http");
    project.define(http_only);
    let (code, stdout, stderr) = run(mac(&project).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 1, "two of three objects: refused by the mass-delete guard: {stdout}{stderr}");
    let (code, stdout, stderr) = run(mac(&project).args(["plan", "--detailed-exitcode", "--allow-mass-delete"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    - delete cortex/rule_group.infra-up (rule group "up" in namespace "infra", 1 rule)
    - delete cortex/rule_group.payments-latency (rule group "latency" in namespace "payments", 1 rule)

    Plan: 0 to create, 0 to update, 2 to delete, 1 unchanged.
    "#);
    let (code, stdout, stderr) =
        run(mac(&project).args(["apply", "--auto-approve", "--allow-mass-delete", "--log-level", "debug"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mut deletes = requests(&stderr);
    deletes.retain(|request| request.starts_with("DELETE"));
    deletes.sort();
    assert_eq!(deletes, ["DELETE /api/v1/rules/infra/up", "DELETE /api/v1/rules/payments/latency"]);
    let stored = rules(&cortex, TENANT);
    assert!(stored.contains("- name: http") && stored.contains("- name: theirs"), "{stored}");
    assert!(!stored.contains("- name: latency") && !stored.contains("infra:"), "{stored}");

    // An empty definitions folder never wipes the tenant.
    project.define("");
    let (code, stdout, stderr) = run(mac(&project).args(["plan"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("--allow-delete-all"), "{stderr}");
}

#[test]
fn groups_made_by_hand_import_to_an_empty_plan_and_adopt() {
    let Some(cortex) = CortexServer::start() else { return };
    let by_hand = "name: Node Health\ninterval: 1m0s\nrules:\n- record: instance:cpu:rate5m\n  expr: |\n    sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))\n- alert: NodeDown\n  expr: up{job=\"node\"} == 0\n  for: 120s\n  labels:\n    severity: page\n";
    assert_eq!(cortex.post("/api/v1/rules/infra", TENANT, "application/yaml", by_hand).status, 202);
    let project = project(&cortex, TENANT, "", "");
    let (code, stdout, stderr) = run(mac(&project).args(["import", "cortex"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    wrote definitions/infra.toml
    Imported 1 object(s) from `cortex`; they are managed from now on. `mac plan` should show no changes.
    "#);
    let file = std::fs::read_to_string(project.root().join("definitions/infra.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[cortex.rule_group]]
    id = "infra-node-health"
    namespace = "infra"
    name = "Node Health"
    interval = "1m"

    [[cortex.rule_group.rules]]
    record = "instance:cpu:rate5m"
    expr = 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'

    [[cortex.rule_group.rules]]
    alert = "NodeDown"
    expr = 'up{job="node"} == 0'
    for = "2m"
    labels = { severity = "page" }
    "#);
    let (code, stdout, stderr) = run(mac(&project).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Without state, the same definition is an existing group: taken over only with --adopt.
    std::fs::remove_file(project.state_path()).expect("forget the import");
    let (code, stdout, stderr) = run(mac(&project).args(["plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r"
    ~ adopt cortex/rule_group.infra-node-health (exists remotely but is not managed; applied only with --adopt)

    Plan: 0 to create, 0 to update, 0 to delete, 1 to adopt, 0 unchanged.
    ");
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, _) = run(mac(&project).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn two_tenants_of_one_cortex_never_see_each_other() {
    let Some(cortex) = CortexServer::start() else { return };
    let a = project(&cortex, "tenant-a", "", GROUPS);
    let b_groups = "[[cortex.rule_group]]\nid = \"b\"\nnamespace = \"payments\"\nname = \"http\"\nrules = [{ alert = \"B\", expr = \"vector(1)\" }]\n";
    let b = project(&cortex, "tenant-b", "", b_groups);
    for project in [&a, &b] {
        let (code, stdout, stderr) = run(mac(project).args(["apply", "--auto-approve"]));
        assert_eq!(code, 0, "{stdout}{stderr}");
    }
    // The same namespace and group name in both tenants: each keeps its own.
    assert!(rules(&cortex, "tenant-a").contains("HighErrorRatio"));
    let theirs = rules(&cortex, "tenant-b");
    assert!(theirs.contains("alert: B") && !theirs.contains("HighErrorRatio"), "{theirs}");
    let (code, stdout, _) = run(mac(&a).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    // Pruning everything of tenant A leaves tenant B alone; importing into A finds nothing of B.
    a.define("");
    let (code, stdout, stderr) = run(mac(&a).args(["apply", "--auto-approve", "--allow-delete-all"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(rules(&cortex, "tenant-a"), "");
    assert_eq!(rules(&cortex, "tenant-b"), theirs);
    let (code, stdout, stderr) = run(mac(&a).args(["import", "cortex"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!a.root().join("definitions/payments.toml").exists(), "{stdout}");
}

#[test]
fn the_legacy_rules_prefix_is_a_setting() {
    let Some(cortex) = CortexServer::start() else { return };
    let project = project(&cortex, TENANT, "rules_prefix = \"/api/prom/rules\"\n", GROUPS);
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve", "--log-level", "debug"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let sent = requests(&stderr);
    assert!(sent.iter().all(|request| request.contains(" /api/prom/rules")), "{sent:?}");
    assert!(rules(&cortex, TENANT).contains("HighErrorRatio"), "the same rules, under either prefix");
    let (code, stdout, _) = run(mac(&project).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    // A prefix that is not the ruler's is said as such.
    project.write(
        "mac.toml",
        &format!("[providers.cortex]\nurl = \"{}\"\ntenant = \"{TENANT}\"\nrules_prefix = \"/nope\"\n", cortex.url()),
    );
    let (code, stdout, stderr) = run(mac(&project).args(["plan"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("is `rules_prefix` right for this server?"), "{stderr}");
}

#[test]
fn bad_input_is_one_located_error_before_any_request() {
    let Some(cortex) = CortexServer::start() else { return };
    // Invalid PromQL: promtool's complaint at the rule, when the project loads.
    let bad = GROUPS.replace("expr = \"up == 0\"", "expr = \"rate(up[5m]\"");
    let project = project(&cortex, TENANT, "", &bad);
    let (code, stdout, stderr) = run(mac(&project).args(["plan", "--log-level", "debug"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let line = bad.lines().position(|line| line.contains("rate(up[5m]")).expect("the bad rule") + 1;
    assert!(stderr.contains(&format!("definitions/main.toml:{line}:")), "located at the expression: {stderr}");
    assert!(stderr.contains("promtool check rules: could not parse expression"), "{stderr}");
    assert_eq!(requests(&stderr), Vec::<String>::new(), "nothing was sent");

    // An undefined receiver.
    project.define(
        "[[cortex.alertmanager_config]]\nid = \"am\"\n\n[cortex.alertmanager_config.config]\nroute = { receiver = \"ops\" }\nreceivers = [{ name = \"opz\" }]\n",
    );
    let (code, stdout, stderr) = run(mac(&project).args(["plan", "--log-level", "debug"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("definitions/main.toml:5:"), "{stderr}");
    assert!(stderr.contains("receiver `ops` is not defined in `receivers` (defined: opz)"), "{stderr}");
    assert_eq!(requests(&stderr), Vec::<String>::new(), "nothing was sent");

    // A missing tenant.
    project.define(GROUPS);
    project.write("mac.toml", &format!("[providers.cortex]\nurl = \"{}\"\n", cortex.url()));
    let (code, stdout, stderr) = run(mac(&project).args(["plan", "--log-level", "debug"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("mac.toml:1:") && stderr.contains("missing `tenant`"), "{stderr}");
    assert_eq!(requests(&stderr), Vec::<String>::new(), "nothing was sent");
}

#[test]
fn the_alertmanager_configuration_keeps_its_secrets_out_of_plans_and_state() {
    let Some(cortex) = CortexServer::start() else { return };
    let definitions = r#"
[[cortex.alertmanager_config]]
id = "alertmanager"
template_files = { "default.tmpl" = '{{ define "x" }}x{{ end }}' }

[cortex.alertmanager_config.config]
templates = ["default.tmpl"]
route = { receiver = "ops", group_by = ["alertname"] }
receivers = [{ name = "ops", webhook_configs = [{ url = { env = "HOOK_URL" } }] }]
"#;
    let project = project(&cortex, TENANT, "", definitions);
    let secret = "http://127.0.0.1:9/hook-secret-token";
    let (code, stdout, stderr) = run(mac(&project).env("HOOK_URL", secret).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let stored = cortex.get("/api/v1/alerts", TENANT);
    assert_eq!(stored.status, 200, "{}", stored.body);
    assert!(stored.body.contains("hook-secret-token"), "Cortex has the value: {}", stored.body);
    assert!(stored.body.contains("default.tmpl"), "{}", stored.body);

    let (code, stdout, stderr) = run(mac(&project).env("HOOK_URL", secret).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let state = std::fs::read_to_string(project.state_path()).expect("state");
    assert!(!state.contains("hook-secret-token"), "{state}");

    // A new secret value is a change, shown without the value.
    let (code, stdout, stderr) =
        run(mac(&project).env("HOOK_URL", "http://127.0.0.1:9/other").args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("(sensitive, changed)") && !stdout.contains("hook-secret-token"), "{stdout}");
    let saved = project.root().join("saved.plan");
    let (code, stdout, stderr) = run(mac(&project).env("HOOK_URL", "http://127.0.0.1:9/other").args([
        "plan",
        "-o",
        saved.to_str().expect("utf-8"),
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let plan = std::fs::read_to_string(&saved).expect("saved plan");
    assert!(!plan.contains("hook-secret-token") && !plan.contains("/other"), "{plan}");

    // Destroy removes it.
    let (code, stdout, stderr) = run(mac(&project).env("HOOK_URL", secret).args(["destroy", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(cortex.get("/api/v1/alerts", TENANT).status, 404);
}

#[test]
fn a_saved_plan_is_refused_when_its_group_was_changed_by_hand_since() {
    let Some(cortex) = CortexServer::start() else { return };
    let project = project(&cortex, TENANT, "", GROUPS);
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    project.define(&GROUPS.replace("> 0.05", "> 0.02"));
    let (code, stdout, stderr) = run(mac(&project).args(["plan", "-o", "p.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // The reviewed plan changes one rule; another of the same group is edited by hand.
    let by_hand = "name: http\ninterval: 30s\nrules:\n- record: job:http_errors:ratio5m\n  expr: sum(rate(http_requests_total[5m]))\n- alert: HighErrorRatio\n  expr: job:http_errors:ratio5m > 0.05\n  for: 5m\n  labels:\n    severity: page\n  annotations:\n    summary: '{{ $labels.job }} fails'\n";
    assert_eq!(cortex.post("/api/v1/rules/payments", TENANT, "application/yaml", by_hand).status, 202);
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "p.plan", "--auto-approve", "--log-level", "debug"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("p.plan is out of date")
            && stderr.contains("cortex/rule_group.payments-http (planned: update) changed"),
        "{stderr}"
    );
    assert_eq!(requests(&stderr), ["GET /api/v1/rules"], "one read, no write: {stderr}");
    assert!(rules(&cortex, TENANT).contains("expr: sum(rate(http_requests_total[5m]))"), "the hand edit stays");
}

// --- A tenant's Alertmanager configuration shared by several projects (`shared = true`) ---

/// A project named `name` (the name marks its parts of a shared document) on `tenant`.
fn named_project(cortex: &CortexServer, name: &str, definitions: &str) -> Project {
    let project = Project::empty();
    project.write(
        "mac.toml",
        &format!("project = \"{name}\"\n\n[providers.cortex]\nurl = \"{}\"\ntenant = \"{TENANT}\"\n", cortex.url()),
    );
    project.define(definitions);
    project
}

const TEAM_A: &str = r#"
[[cortex.alertmanager_config]]
id = "alertmanager"
shared = true
template_files = { "a.tmpl" = '{{ define "a.title" }}A{{ end }}' }

[cortex.alertmanager_config.config]
templates = ["a.tmpl"]
route = { routes = [{ receiver = "a-hook", matchers = ['team="a"'], group_by = ["alertname"] }] }
receivers = [{ name = "a-hook", webhook_configs = [{ url = { env = "A_HOOK" } }] }]
"#;

const TEAM_B: &str = r##"
[[cortex.alertmanager_config]]
id = "alertmanager"
shared = true
template_files = { "b.tmpl" = '{{ define "b.title" }}B{{ end }}' }

[cortex.alertmanager_config.config]
templates = ["b.tmpl"]
route = { routes = [{ receiver = "b-hook", matchers = ['team="b"'], mute_time_intervals = ["b-weekends"] }] }
receivers = [{ name = "b-hook", slack_configs = [{ api_url = { env = "B_SLACK" }, channel = "#b" }] }]
time_intervals = [{ name = "b-weekends", time_intervals = [{ weekdays = ["saturday", "sunday"] }] }]
inhibit_rules = [{ source_matchers = ['team="b"', 'severity="page"'], target_matchers = ['team="b"', 'severity="ticket"'], equal = ["alertname"] }]
"##;

const A_SECRET: &str = "http://127.0.0.1:9/a-secret-token";
const B_SECRET: &str = "https://hooks.slack.example/b-secret-token";

/// The tenant's document as Cortex stores it (secrets in clear).
fn alertmanager_document(cortex: &CortexServer) -> String {
    let stored = cortex.get("/api/v1/alerts", TENANT);
    assert_eq!(stored.status, 200, "{}", stored.body);
    stored.body
}

/// New (shared tenant): two projects each manage their own receivers, routes, templates, time
/// intervals and inhibit rules in one tenant's document; each plan shows only its own parts,
/// each apply keeps the other's parts and secrets, and a prune takes out only its own.
#[test]
fn shared_tenant_two_projects_keep_each_other_s_parts_and_secrets() {
    let Some(cortex) = CortexServer::start() else { return };
    assert_eq!(cortex.get("/api/v1/alerts", TENANT).status, 404, "an empty tenant");
    let a = named_project(&cortex, "team-a", TEAM_A);
    let b = named_project(&cortex, "team-b", TEAM_B);
    let mac_a = || {
        let mut command = mac(&a);
        command.env("A_HOOK", A_SECRET);
        command
    };
    let mac_b = || {
        let mut command = mac(&b);
        command.env("B_SLACK", B_SECRET);
        command
    };

    // A bootstraps the empty tenant: a root route to a receiver with no integration.
    let (code, stdout, stderr) = run(mac_a().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = alertmanager_document(&cortex);
    assert!(document.contains("receiver: default") && document.contains("- name: default"), "{document}");
    assert!(document.contains("a-secret-token") && document.contains("mac-owner.team-a.tmpl"), "{document}");

    // B's plan shows B's parts only; its apply keeps A's, secret included.
    let (code, stdout, stderr) = run(mac_b().args(["plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r##"
    + create cortex/alertmanager_config.alertmanager
        config = {
          receivers = [{ name = "b-hook", slack_configs = [{ channel = "#b" }] }]
          route = {
            routes = [
              { matchers = ['team="b"'], mute_time_intervals = ["b-weekends"], receiver = "b-hook" },
            ]
          }
          templates = ["b.tmpl"]
          time_intervals = [
            { name = "b-weekends", time_intervals = [{ weekdays = ["saturday", "sunday"] }] },
          ]
          inhibit_rules = [
            {
              equal = ["alertname"]
              source_matchers = ['team="b"', 'severity="page"']
              target_matchers = ['team="b"', 'severity="ticket"']
            },
          ]
        }
        template_files = { "b.tmpl" = '{{ define "b.title" }}B{{ end }}' }
        config.receivers.0.slack_configs.0.api_url = "(sensitive)"

    Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged.
    "##);
    assert!(!stdout.contains("b-secret-token"), "{stdout}");
    let (code, stdout, stderr) = run(mac_b().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = alertmanager_document(&cortex);
    for part in ["a-secret-token", "b-secret-token", "a.tmpl", "b.tmpl", "b-weekends", "severity=\"ticket\""] {
        assert!(document.contains(part), "{part}: {document}");
    }
    assert!(!document.contains("(sensitive)"), "a redacted value was written back: {document}");
    assert!(document.contains("mac-owner.team-a.tmpl") && document.contains("mac-owner.team-b.tmpl"), "{document}");

    // Neither sees the other's parts as a change.
    for (project, command) in [("a", mac_a()), ("b", mac_b())] {
        let mut command = command;
        let (code, stdout, stderr) = run(command.args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "{project}: {stdout}{stderr}");
    }

    // What B keeps of the document (a saved plan, state) has neither team's secrets.
    let (code, stdout, stderr) =
        run(mac_b().env("B_SLACK", "https://hooks.slack.example/new").args(["plan", "-o", "b.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    for kept in [b.root().join("b.plan"), b.state_path()] {
        let text = std::fs::read_to_string(&kept).expect("written");
        assert!(!text.contains("a-secret-token") && !text.contains("b-secret-token"), "{}: {text}", kept.display());
    }

    // A changes its route: B's parts and secret stay; B still plans no change.
    a.define(&TEAM_A.replace(r#"group_by = ["alertname"]"#, r#"group_by = ["alertname", "job"]"#));
    let (code, stdout, stderr) = run(mac_a().args(["plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r##"
    ~ update cortex/alertmanager_config.alertmanager
        + config.route.routes[0].group_by[1] = "job"

    Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged.
    "##);
    let (code, stdout, stderr) = run(mac_a().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = alertmanager_document(&cortex);
    assert!(document.contains("b-secret-token") && document.contains("- job"), "{document}");
    let (code, stdout, stderr) = run(mac_b().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // B prunes: only its parts go, the document stays (never Cortex's DELETE).
    b.define("");
    let (code, stdout, stderr) = run(mac_b().args(["apply", "--auto-approve", "--allow-delete-all"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = alertmanager_document(&cortex);
    for gone in ["b-hook", "b-secret-token", "b.tmpl", "b-weekends", "mac-owner.team-b.tmpl", "inhibit_rules"] {
        assert!(!document.contains(gone), "{gone}: {document}");
    }
    assert!(document.contains("a-secret-token") && document.contains("a.tmpl"), "{document}");
    let (code, stdout, stderr) = run(mac_a().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

/// New (shared tenant): a project may not take another's receiver, route or template file,
/// nor one that no project claims; a route to a receiver nobody defines is located; and a
/// receiver another project's route uses is not given up.
#[test]
fn shared_tenant_takeovers_and_receivers_in_use_are_refused_at_plan_time() {
    let Some(cortex) = CortexServer::start() else { return };
    // A receiver and a route made by hand, nobody's.
    let by_hand = "alertmanager_config: |\n  route:\n    receiver: hand\n    routes:\n    - receiver: hand\n      matchers: ['team=\"ops\"']\n  receivers:\n  - name: hand\n";
    assert_eq!(cortex.post("/api/v1/alerts", TENANT, "application/yaml", by_hand).status, 201);
    let a = named_project(&cortex, "team-a", TEAM_A);
    let (code, stdout, stderr) = run(mac(&a).env("A_HOOK", A_SECRET).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(alertmanager_document(&cortex).contains("receiver: hand"), "the hand-made parts stay");

    // B takes A's receiver: refused, naming it and A, at its line, before any write.
    let takeover = TEAM_B
        .replace(r#"name = "b-hook""#, r#"name = "a-hook""#)
        .replace(r#"receiver = "b-hook""#, r#"receiver = "a-hook""#);
    let b = named_project(&cortex, "team-b", &takeover);
    let (code, stdout, stderr) = run(mac(&b).env("B_SLACK", B_SECRET).args(["plan"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("definitions/main.toml:")
            && stderr.contains("receiver `a-hook` is managed by project `team-a`"),
        "{stderr}"
    );
    // The same for A's route, A's template file, and the hand-made receiver.
    for (definitions, refusal) in [
        (
            TEAM_B.replace(r#"matchers = ['team="b"']"#, r#"matchers = ['team="a"']"#),
            "route `team=\"a\"` is managed by project `team-a`",
        ),
        (TEAM_B.replace("b.tmpl", "a.tmpl"), "template file `a.tmpl` is managed by project `team-a`"),
        (
            TEAM_B
                .replace(r#"name = "b-hook""#, r#"name = "hand""#)
                .replace(r#"receiver = "b-hook""#, r#"receiver = "hand""#),
            "receiver `hand` is already in the tenant's Alertmanager configuration, and no project's owner marker claims it",
        ),
    ] {
        b.define(&definitions);
        let (code, stdout, stderr) = run(mac(&b).env("B_SLACK", B_SECRET).args(["plan"]));
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(stderr.contains(refusal), "{refusal}: {stderr}");
    }

    // A route to a receiver defined nowhere is located; one to a receiver another part has is fine.
    b.define(&TEAM_B.replace(r#"receiver = "b-hook""#, r#"receiver = "nobody""#));
    let (code, stdout, stderr) = run(mac(&b).env("B_SLACK", B_SECRET).args(["plan"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("receiver `nobody` is defined neither in `receivers` nor by another part of the tenant's"),
        "{stderr}"
    );
    b.define(&TEAM_B.replace(
        r#"route = { routes = [{ receiver = "b-hook""#,
        r#"route = { routes = [{ receiver = "a-hook", matchers = ['team="b", severity="page"'] }, { receiver = "b-hook""#,
    ));
    let (code, stdout, stderr) = run(mac(&b).env("B_SLACK", B_SECRET).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // A may not give up the receiver B's route uses.
    a.define(
        &TEAM_A
            .replace(r#"name = "a-hook""#, r#"name = "a-pager""#)
            .replace(r#"receiver = "a-hook""#, r#"receiver = "a-pager""#),
    );
    let (code, stdout, stderr) = run(mac(&a).env("A_HOOK", A_SECRET).args(["plan"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("receiver `a-hook`, which this configuration no longer defines, is still used by route")
            && stderr.contains("(project `team-b`)"),
        "{stderr}"
    );
    assert!(alertmanager_document(&cortex).contains("a-secret-token"), "nothing was written");
    // Nor by a prune, refused by the write that would drop it.
    a.define("");
    let (code, stdout, stderr) =
        run(mac(&a).env("A_HOOK", A_SECRET).args(["apply", "--auto-approve", "--allow-delete-all"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}")
            .contains("receiver `a-hook` is still used by route `team=\"b\", severity=\"page\"`"),
        "{stdout}{stderr}"
    );
    assert!(alertmanager_document(&cortex).contains("a-secret-token"), "nothing was written");

    // A configuration of the whole document may not take the shared one over.
    let whole = named_project(
        &cortex,
        "team-c",
        "[[cortex.alertmanager_config]]\nid = \"alertmanager\"\n\n[cortex.alertmanager_config.config]\nroute = { receiver = \"c\" }\nreceivers = [{ name = \"c\" }]\n",
    );
    let (code, stdout, stderr) = run(mac(&whole).args(["plan"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("it is marked as managed by project `team-a, team-b`"), "{stderr}");
}

/// New (shared tenant): the root route's own fields and `global` are the whole tenant's, refused
/// at their line before any request; so is a shared configuration in a project without a name.
#[test]
fn shared_tenant_refuses_the_root_route_and_global_offline() {
    let Some(cortex) = CortexServer::start() else { return };
    let definitions = r#"
[[cortex.alertmanager_config]]
id = "alertmanager"
shared = true

[cortex.alertmanager_config.config]
global = { resolve_timeout = "5m" }
route = { receiver = "b-hook", routes = [{ receiver = "b-hook", matchers = ['team="b"'] }] }
receivers = [{ name = "b-hook" }]
"#;
    let b = named_project(&cortex, "team-b", definitions);
    let (code, stdout, stderr) = run(mac(&b).args(["plan", "--log-level", "debug"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("definitions/main.toml:7:1: `global` is the whole tenant's: a shared configuration")
            && stderr.contains("the root route's `receiver` is the whole tenant's"),
        "{stderr}"
    );
    assert_eq!(requests(&stderr), Vec::<String>::new(), "nothing was sent");
    let unnamed = project(&cortex, TENANT, "", &definitions.replace("global = { resolve_timeout = \"5m\" }\n", ""));
    let (code, stdout, stderr) = run(mac(&unnamed).args(["plan"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("a shared configuration needs this project's name"), "{stderr}");
}

/// New (shared tenant): two instances of one project on one tenant are two owners, each with
/// its own marker (`mac-owner.PROJECT.NAME.tmpl` for an instance `cortex.NAME`).
#[test]
fn shared_tenant_two_instances_of_one_project_are_two_owners() {
    let Some(cortex) = CortexServer::start() else { return };
    let project = Project::empty();
    project.write(
        "mac.toml",
        &format!(
            "project = \"payments\"\n\n[providers.\"cortex.a\"]\nurl = \"{url}\"\ntenant = \"{TENANT}\"\n\n[providers.\"cortex.b\"]\nurl = \"{url}\"\ntenant = \"{TENANT}\"\n",
            url = cortex.url()
        ),
    );
    let a = TEAM_A.replace("id = \"alertmanager\"\n", "id = \"alertmanager\"\nprovider = \"cortex.a\"\n");
    let b = TEAM_B.replace("id = \"alertmanager\"\n", "id = \"alertmanager\"\nprovider = \"cortex.b\"\n");
    project.define(&format!("{a}\n{b}"));
    let mac = || {
        let mut command = mac(&project);
        command.env("A_HOOK", A_SECRET).env("B_SLACK", B_SECRET);
        command
    };
    // Written at once (parallelism 8): one lock per tenant keeps both.
    let (code, stdout, stderr) = run(mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = alertmanager_document(&cortex);
    for part in ["a-secret-token", "b-secret-token", "mac-owner.payments@a.tmpl", "mac-owner.payments@b.tmpl"] {
        assert!(document.contains(part), "{part}: {document}");
    }
    let (code, stdout, stderr) = run(mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_new_id_or_a_rename_onto_another_group_is_refused_at_plan_time_not_applied_as_a_loss() {
    let Some(cortex) = CortexServer::start() else { return };
    let project = project(&cortex, TENANT, "", GROUPS);
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // A new local id for the same group: a create and a delete of one group would lose it.
    project.define(&GROUPS.replace("id = \"infra-up\"", "id = \"infra-targets\""));
    let (code, stdout, stderr) = run(mac(&project).arg("plan"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("say so with [[moved]]"), "{stderr}");
    assert!(
        stderr.contains("from = \"cortex.rule_group.infra-up\" to = \"cortex.rule_group.infra-targets\""),
        "{stderr}"
    );

    // Another team's group by hand; renaming ours onto it would replace it: refused.
    let theirs = "name: theirs\nrules:\n    - alert: Theirs\n      expr: vector(1)\n";
    assert_eq!(cortex.post("/api/v1/rules/infra", TENANT, "application/yaml", theirs).status, 202);
    project.define(&GROUPS.replace("name = \"up\"", "name = \"theirs\""));
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_snapshot!(stderr, @"error: definitions/main.toml:29:1: `cortex/rule_group.infra-up` would take the unique key `infra/theirs` of the remote object `infra/theirs`, which this project does not manage: the remote would replace or refuse it. Choose another, or adopt that object with a definition of its own");
    assert!(rules(&cortex, TENANT).contains("alert: Theirs"), "their group is untouched");

    // A rename plus a new group under the old name, in one plan: refused, not ordered wrongly.
    let renamed_and_new = format!(
        "{}\n[[cortex.rule_group]]\nid = \"infra-up-new\"\nnamespace = \"infra\"\nname = \"up\"\n\n\
         [[cortex.rule_group.rules]]\nalert = \"New\"\nexpr = \"vector(1)\"\n",
        GROUPS.replace("name = \"up\"", "name = \"up-v1\"")
    );
    project.define(&renamed_and_new);
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("apply that change first, then this object"), "{stderr}");
    let stored = rules(&cortex, TENANT);
    assert!(stored.contains("- name: up\n") && !stored.contains("up-v1"), "nothing written: {stored}");

    // Ours deleted by hand, and renamed onto another team's group: a recreate would replace
    // theirs, so it is refused too.
    assert_eq!(cortex.delete("/api/v1/rules/infra/up", TENANT).status, 202);
    let other = "name: other\nrules:\n    - alert: OtherTeam\n      expr: vector(1)\n";
    assert_eq!(cortex.post("/api/v1/rules/infra", TENANT, "application/yaml", other).status, 202);
    project.define(&GROUPS.replace("name = \"up\"", "name = \"other\""));
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("forget the recorded one (`mac state rm`)"), "{stderr}");
    assert!(rules(&cortex, TENANT).contains("alert: OtherTeam"), "theirs stays");
}

#[test]
fn fields_the_rule_model_lacks_show_in_the_plan_as_dropped_rather_than_vanish() {
    let Some(cortex) = CortexServer::start() else { return };
    let stored = "name: up\nquery_offset: 1m\nlabels:\n    team: infra\nrules:\n    - alert: TargetDown\n      expr: up == 0\n      for: 2m\n      keep_firing_for: 5m\n";
    let answer = cortex.post("/api/v1/rules/infra", TENANT, "application/yaml", stored);
    assert_eq!(answer.status, 202, "{}", answer.body);
    let definition = "[[cortex.rule_group]]\nid = \"infra-up\"\nnamespace = \"infra\"\nname = \"up\"\n\n\
                      [[cortex.rule_group.rules]]\nalert = \"TargetDown\"\nexpr = \"up == 0\"\nfor = \"2m\"\n";
    let project = project(&cortex, TENANT, "", definition);
    let (code, stdout, stderr) = run(mac(&project).arg("plan"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    ~ adopt cortex/rule_group.infra-up (exists remotely but is not managed; applied only with --adopt)
        - rules[id="TargetDown"].keep_firing_for = "5m"
        - labels = { team = "infra" }
        - query_offset = "1m"

    Plan: 0 to create, 0 to update, 0 to delete, 1 to adopt (1 rule changed), 0 unchanged.
    "#);
}

#[test]
fn without_promtool_groups_are_not_sent_unchecked_unless_the_project_says_so() {
    let Some(cortex) = CortexServer::start() else { return };
    let checked = project(&cortex, TENANT, "", GROUPS);
    let empty = tempfile::tempdir().expect("an empty directory for PATH");
    let (code, stdout, stderr) = run(mac(&checked).env("PATH", empty.path()).arg("plan"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("no promtool on PATH") && stderr.contains("promtool = false"), "{stderr}");
    let unchecked = project(&cortex, TENANT, "promtool = false\n", GROUPS);
    let (code, stdout, stderr) = run(mac(&unchecked).env("PATH", empty.path()).arg("plan"));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_refused_secret_is_not_quoted_back_and_a_wrong_prefix_is_no_silent_forget() {
    let Some(cortex) = CortexServer::start() else { return };
    let definitions = r#"
[[cortex.alertmanager_config]]
id = "alertmanager"

[cortex.alertmanager_config.config]
route = { receiver = "ops" }
receivers = [{ name = "ops", webhook_configs = [{ url = { env = "HOOK_URL" } }] }]
"#;
    let project = project(&cortex, TENANT, "", definitions);
    // A CI secret with a typo in its port: Cortex's refusal quotes the whole URL.
    let broken = "https://hooks.example.com:8x/SUPERSECRETTOKEN123";
    let (code, stdout, stderr) = run(mac(&project).env("HOOK_URL", broken).args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let output = format!("{stdout}{stderr}");
    assert!(output.contains("Cortex answered 400: error validating Alertmanager config"), "{output}");
    assert!(!stdout.contains("SUPERSECRET") && !stderr.contains("SUPERSECRET"), "{stdout}{stderr}");

    // Applied, then planned against a path that is not Cortex's Alertmanager API: its 404 is
    // an error naming the setting, not "no configuration" (which would plan a create, and
    // let destroy drop the config from state while Cortex keeps it).
    let secret = "http://127.0.0.1:9/hook";
    let (code, stdout, stderr) = run(mac(&project).env("HOOK_URL", secret).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let wrong = project.root().join("mac.toml");
    let settings = std::fs::read_to_string(&wrong).expect("mac.toml");
    std::fs::write(&wrong, format!("{settings}alertmanager_prefix = \"/alertmanager/api/v1/alerts\"\n"))
        .expect("write");
    let (code, stdout, stderr) = run(mac(&project).env("HOOK_URL", secret).arg("plan"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("alertmanager_prefix"), "{stderr}");
    let (code, stdout, stderr) =
        run(mac(&project).env("HOOK_URL", secret).args(["destroy", "--auto-approve", "--allow-mass-delete"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(cortex.get("/api/v1/alerts", TENANT).status, 200, "the configuration stays");
}

#[test]
fn a_new_id_for_the_alertmanager_configuration_is_refused_not_a_create_and_a_delete() {
    let Some(cortex) = CortexServer::start() else { return };
    let definitions = "[[cortex.alertmanager_config]]\nid = \"am\"\n\n[cortex.alertmanager_config.config]\n\
                       route = { receiver = \"ops\" }\nreceivers = [{ name = \"ops\" }]\n";
    let project = project(&cortex, TENANT, "", definitions);
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    project.define(&definitions.replace("id = \"am\"", "id = \"alertmanager\""));
    let (code, stdout, stderr) = run(mac(&project).args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("say so with [[moved]]"), "{stderr}");
    assert_eq!(cortex.get("/api/v1/alerts", TENANT).status, 200, "the tenant keeps its configuration");
}

/// A configuration of the whole document, managed before a project shared the tenant, may no
/// longer write it (that would take the sharing project's parts out) nor delete it.
#[test]
fn a_whole_document_configuration_stops_once_another_project_shares_the_tenant() {
    let Some(cortex) = CortexServer::start() else { return };
    let whole = "[[cortex.alertmanager_config]]\nid = \"alertmanager\"\n\n[cortex.alertmanager_config.config]\n\
                 route = { receiver = \"ops\" }\nreceivers = [{ name = \"ops\" }]\n";
    let ops = named_project(&cortex, "ops", whole);
    let (code, stdout, stderr) = run(mac(&ops).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let b = named_project(&cortex, "b", TEAM_B);
    let (code, stdout, stderr) = run(mac(&b).env("B_SLACK", B_SECRET).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    let edited =
        whole.replace("receivers = [{ name = \"ops\" }]", "receivers = [{ name = \"ops\" }, { name = \"ops2\" }]");
    ops.define(&edited);
    let (code, stdout, stderr) = run(mac(&ops).args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("is shared by `b`") && stderr.contains("shared = true"), "{stderr}");
    let (code, stdout, stderr) = run(mac(&ops).args(["destroy", "--auto-approve", "--allow-mass-delete"]));
    assert_ne!(code, 0, "{stdout}{stderr}");
    let document = alertmanager_document(&cortex);
    assert!(document.contains("b-secret-token") && document.contains("mac-owner.b.tmpl"), "b's parts stay: {document}");
}

/// A hand-made document with unquoted values a rewrite would change (YAML 1.1 text for
/// Alertmanager, YAML 1.2 values for mac): a shared configuration refuses to rewrite it.
#[test]
fn a_shared_write_is_refused_where_rewriting_would_change_anothers_values() {
    let Some(cortex) = CortexServer::start() else { return };
    let by_hand = "alertmanager_config: |\n  route:\n    receiver: ops\n    routes:\n    - receiver: ops\n      match: {version: 1.10}\n  receivers:\n  - name: ops\n";
    assert_eq!(cortex.post("/api/v1/alerts", TENANT, "application/yaml", by_hand).status, 201);
    let b = named_project(&cortex, "b", TEAM_B);
    let (code, stdout, stderr) = run(mac(&b).env("B_SLACK", B_SECRET).arg("plan"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("unquoted numbers or booleans that a rewrite would change") && stderr.contains("line 5"),
        "{stderr}"
    );
    assert!(alertmanager_document(&cortex).contains("version: 1.10"), "untouched");
}

/// Time intervals are checked like receivers: a route may name another team's, not one
/// nobody defines, and one another team's route uses cannot be dropped.
#[test]
fn shared_tenant_time_intervals_in_use_are_kept_and_unknown_ones_refused_at_plan_time() {
    let Some(cortex) = CortexServer::start() else { return };
    let b = named_project(&cortex, "b", TEAM_B);
    let (code, stdout, stderr) = run(mac(&b).env("B_SLACK", B_SECRET).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let uses_b = TEAM_A.replace(
        "group_by = [\"alertname\"] }",
        "group_by = [\"alertname\"], mute_time_intervals = [\"b-weekends\"] }",
    );
    assert_ne!(uses_b, TEAM_A);
    let a = named_project(&cortex, "a", &uses_b);
    let (code, stdout, stderr) = run(mac(&a).env("A_HOOK", A_SECRET).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "another team's interval may be named: {stdout}{stderr}");

    let unknown = named_project(
        &cortex,
        "c",
        &TEAM_A
            .replace("a-hook", "c-hook")
            .replace("team=\"a\"", "team=\"c\"")
            .replace("\"a.tmpl\"", "\"c.tmpl\"")
            .replace(
                "group_by = [\"alertname\"] }",
                "group_by = [\"alertname\"], mute_time_intervals = [\"nobody\"] }",
            ),
    );
    let (code, stdout, stderr) = run(mac(&unknown).env("A_HOOK", A_SECRET).arg("plan"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("time interval `nobody` is defined neither"), "{stderr}");

    // b drops its interval while a's route still uses it: refused at plan time.
    let without = TEAM_B.replace(", mute_time_intervals = [\"b-weekends\"]", "").replace(
        "time_intervals = [{ name = \"b-weekends\", time_intervals = [{ weekdays = [\"saturday\", \"sunday\"] }] }]\n",
        "",
    );
    assert!(!without.contains("b-weekends"), "{without}");
    b.define(&without);
    let (code, stdout, stderr) = run(mac(&b).env("B_SLACK", B_SECRET).arg("plan"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("time interval `b-weekends`, which this configuration no longer defines, is still used by"),
        "{stderr}"
    );
}
