//! Ownership between projects (issue 16, item 7): the objects a project writes carry its name
//! where Grafana 8.5 can hold one, so that another project's `mac import` and adoption leave
//! them alone and a plan warns when two projects claim one object; and what `mac import`
//! writes for dashboards (JSON files) and for secrets it cannot read (placeholders).

use insta::assert_snapshot;
use reqwest::Method;
use serde_json::{Value, json};

use crate::grafana8::{Grafana, PAYMENTS};
use crate::{Project, run};

/// The shared payments folder and alert group, with a dashboard in the folder.
fn payments() -> String {
    format!(
        r#"{PAYMENTS}
[[grafana8.dashboard]]
id = "payments-overview"
folder = "payments"
json = {{ title = "Payments overview", tags = ["payments"], panels = [{{ id = 1, type = "text", title = "Notes" }}] }}
"#
    )
}

/// Names the project of `project`'s mac.toml (its first line).
fn name_project(project: &Project, name: &str) {
    let config = std::fs::read_to_string(project.root().join("mac.toml")).expect("mac.toml");
    let config = config.lines().filter(|line| !line.starts_with("project = ")).collect::<Vec<_>>().join("\n");
    project.write("mac.toml", &format!("project = \"{name}\"\n{config}\n"));
}

/// A second project against the same Grafana, named `name`, with no definitions.
fn second_project(grafana: &Grafana, name: &str) -> Project {
    let project = Project::empty();
    project.write("mac.toml", &std::fs::read_to_string(grafana.project.root().join("mac.toml")).expect("mac.toml"));
    name_project(&project, name);
    project
}

#[test]
fn rules_and_dashboards_carry_their_project_and_another_project_imports_around_them() {
    let grafana = Grafana::start(&payments());
    name_project(&grafana.project, "payments");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // The markers are on the server, where a person using Grafana sees them.
    let rules = grafana.api(Method::GET, "/api/ruler/grafana/api/v1/rules", None);
    let rule = &rules["Payments"][0]["rules"][0];
    assert_eq!(
        rule["annotations"],
        json!({ "summary": "More than 5% of requests fail", "mac_project": "payments" }),
        "an annotation, never a label"
    );
    assert_eq!(rule["labels"], json!({ "severity": "page" }));
    let dashboard = grafana.api(Method::GET, "/api/dashboards/uid/mac-payments-overview", None);
    assert_eq!(dashboard["dashboard"]["tags"], json!(["payments", "mac-project:payments"]));
    // …and never a change to review.
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert_snapshot!(stdout, @"No changes. 3 object(s) match their definitions.");

    // Someone adds a dashboard by hand in the same folder: nobody's yet.
    grafana.hand_made_dashboard("by-hand", "By hand", "mac-payments", json!([]));

    let search = second_project(&grafana, "search");
    let (code, stdout, stderr) = run(grafana.mac_in(&search).args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @"
    skipped grafana8/alert_group `mac-payments/HTTP`: marked as managed by project `payments`
    skipped grafana8/dashboard `mac-payments-overview`: marked as managed by project `payments`
    wrote definitions/dashboards/by-hand.json
    wrote definitions/contact-points.toml
    wrote definitions/datasources.toml
    wrote definitions/payments.toml
    Imported 4 object(s) from `grafana8`; they are managed from now on. `mac plan` should show no changes.
    ");
    let imported = std::fs::read_to_string(search.root().join("definitions/payments.toml")).expect("written");
    assert!(!imported.contains("alert_group") && !imported.contains("payments-overview"), "{imported}");
    let (code, stdout, _) = run(grafana.mac_in(&search).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn adopting_an_object_another_project_marked_is_refused() {
    let grafana = Grafana::start(&payments());
    name_project(&grafana.project, "payments");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Another project defines the same rule group (same folder and name) and would adopt it.
    let search = second_project(&grafana, "search");
    search.define(
        r#"
[[grafana8.alert_group]]
id = "http"
folder = { uid = "mac-payments" }
name = "HTTP"

[[grafana8.alert_group.rules]]
title = "Up"
condition = "A"

[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = "__expr__"
model = { type = "math", expression = "1 > 0" }
"#,
    );
    let (code, stdout, stderr) = run(grafana.mac_in(&search).args(["plan"]));
    assert_eq!(code, 1, "{stdout}");
    assert_snapshot!(stderr, @"error: definitions/main.toml:2:1: `grafana8/alert_group.http` would adopt the remote object `mac-payments/HTTP`, but it is marked as managed by project `payments`, not `search`: two projects must not manage one object. Remove this definition, or, if `payments` no longer manages it, remove the marker on the server first");

    // Or the same dashboard (same uid).
    search.define(
        r#"
[[grafana8.dashboard]]
id = "overview"
uid = "mac-payments-overview"
folder = { uid = "mac-payments" }
json = { title = "Payments overview", panels = [] }
"#,
    );
    let (code, stdout, stderr) = run(grafana.mac_in(&search).args(["plan"]));
    assert_eq!(code, 1, "{stdout}");
    assert_snapshot!(stderr, @"error: definitions/main.toml:2:1: `grafana8/dashboard.overview` would adopt the remote object `mac-payments-overview`, but it is marked as managed by project `payments`, not `search`: two projects must not manage one object. Remove this definition, or, if `payments` no longer manages it, remove the marker on the server first");
    let (code, _, stderr) = run(grafana.mac_in(&search).args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 1, "{stderr}");
    let dashboard = grafana.api(Method::GET, "/api/dashboards/uid/mac-payments-overview", None);
    assert_eq!(dashboard["dashboard"]["panels"].as_array().map(Vec::len), Some(1), "left as payments wrote it");
}

#[test]
fn a_plan_warns_when_two_projects_claim_one_object() {
    // Payments applies before it has a name: its dashboard carries no marker yet.
    let grafana = Grafana::start(&payments());
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // So search can import it, and marks it with its next write.
    let search = second_project(&grafana, "search");
    let (code, _, stderr) = run(grafana.mac_in(&search).args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    let path = search.root().join("definitions/dashboards/payments-overview.json");
    let json = std::fs::read_to_string(&path).expect("imported");
    std::fs::write(&path, json.replace("\"Notes\"", "\"Search notes\"")).expect("edit");
    let (code, stdout, stderr) = run(grafana.mac_in(&search).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let dashboard = grafana.api(Method::GET, "/api/dashboards/uid/mac-payments-overview", None);
    assert_eq!(dashboard["dashboard"]["tags"], json!(["payments", "mac-project:search"]));

    // Payments, named now, sees the claim next to the change it would undo.
    name_project(&grafana.project, "payments");
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/dashboard.payments-overview (drift: changed outside mac, restoring the code's version)
        ~ dashboard.panels[id=1].title: "Search notes" -> "Notes"

    warning: grafana8/dashboard.payments-overview: marked on the server as managed by project `search` (this project is `payments`): two projects claim this object, and each apply of one undoes the other's changes. Keep it in one project: remove its definition from the other and drop it from that project's state with `mac state rm`

    Plan: 0 to create, 1 to update (1 panel changed), 0 to delete, 2 unchanged.
    "#);
    let (_, stdout, _) = run(grafana.mac().args(["plan", "--json"]));
    let plan: Value = serde_json::from_str(&stdout).expect("JSON plan");
    assert_eq!(plan["warnings"][0]["id"]["local_id"], "payments-overview", "{stdout}");
    // Search, whose marker is on it, sees no claim of another project.
    let (code, stdout, _) = run(grafana.mac_in(&search).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert!(!stdout.contains("warning"), "{stdout}");
}

#[test]
fn import_writes_dashboards_as_json_files_and_secrets_as_placeholders() {
    let grafana = Grafana::start("");
    grafana.api(
        Method::POST,
        "/api/datasources",
        Some(json!({
            "name": "Metrics", "uid": "metrics-uid", "type": "prometheus", "url": "http://127.0.0.1:9091", "access": "proxy",
            "basicAuth": true, "basicAuthUser": "reader",
            "secureJsonData": { "basicAuthPassword": "metrics-secret-91c2" },
        })),
    );
    grafana.api(
        Method::POST,
        "/api/alert-notifications",
        Some(json!({
            "name": "Ops Slack", "type": "slack", "settings": { "recipient": "#ops" },
            "secureSettings": { "url": "https://hooks.example.com/slack-secret-4e1b" },
        })),
    );
    let mut document = grafana.api(Method::GET, "/api/alertmanager/grafana/config/api/v1/alerts", None);
    document["alertmanager_config"]["receivers"].as_array_mut().expect("receivers").push(json!({
        "name": "db-team", "grafana_managed_receiver_configs": [{
            "uid": "", "name": "db-team", "type": "webhook", "disableResolveMessage": false,
            "settings": { "url": "http://127.0.0.1:9/db" },
            "secureSettings": { "password": "hook-secret-0d5f" } }],
    }));
    grafana.api(Method::POST, "/api/alertmanager/grafana/config/api/v1/alerts", Some(document));
    // A dashboard as Grafana exports them, with `null`s TOML cannot hold.
    grafana.api(
        Method::POST,
        "/api/dashboards/db",
        Some(json!({ "dashboard": { "uid": "latency", "title": "Latency", "panels": [{
            "id": 1, "type": "timeseries", "fieldConfig": { "defaults": { "thresholds": { "steps": [
                { "color": "green", "value": null }, { "color": "red", "value": 0.5 }] } } } }] } })),
    );

    let (code, stdout, stderr) = run(grafana.mac().args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    wrote definitions/dashboards/latency.json
    wrote definitions/contact-points.toml
    wrote definitions/datasources.toml
    wrote definitions/general.toml
    wrote definitions/notification-channels.toml
    Imported 6 object(s) from `grafana8`; they are managed from now on. `mac plan` should show no changes.
    warning: 3 secret(s) could not be read from the server (it never returns them) and were written as { env = "…" } placeholders. Set these variables to the values the server has before the next plan; its first apply writes them once (shown as `(sensitive)`), so that mac knows them from then on:
      GRAFANA_CONTACT_POINT_DB_TEAM_WEBHOOK_PASSWORD  grafana8/contact_point.db-team integrations.0.secure_settings.password
      GRAFANA_DATASOURCE_METRICS_BASIC_AUTH_PASSWORD  grafana8/datasource.metrics secure_json_data.basicAuthPassword
      GRAFANA_CHANNEL_OPS_SLACK_URL                   grafana8/notification_channel.ops-slack secure_settings.url
    "#);
    for secret in ["metrics-secret-91c2", "slack-secret-4e1b", "hook-secret-0d5f"] {
        assert!(!stdout.contains(secret), "{stdout}");
    }
    let datasources = std::fs::read_to_string(grafana.project.root().join("definitions/datasources.toml"))
        .expect("written")
        .replace(&grafana.datasource_uid, "<uid of the emulator's Prometheus>");
    assert_snapshot!(datasources, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[grafana8.datasource]]
    id = "metrics"
    name = "Metrics"
    type = "prometheus"
    url = "http://127.0.0.1:9091"
    basic_auth_user = "reader"
    basic_auth = true
    uid = "metrics-uid"

    [grafana8.datasource.secure_json_data]
    basicAuthPassword = { env = "GRAFANA_DATASOURCE_METRICS_BASIC_AUTH_PASSWORD" }

    [[grafana8.datasource]]
    id = "prometheus"
    name = "Prometheus"
    type = "prometheus"
    url = "http://127.0.0.1:9090"
    uid = "<uid of the emulator's Prometheus>"
    "#);
    let dashboard = std::fs::read_to_string(grafana.project.root().join("definitions/dashboards/latency.json"))
        .expect("the dashboard's JSON file");
    assert_snapshot!(dashboard, @r#"
    {
      "uid": "latency",
      "title": "Latency",
      "panels": [
        {
          "id": 1,
          "type": "timeseries",
          "fieldConfig": {
            "defaults": {
              "thresholds": {
                "steps": [
                  {
                    "color": "green",
                    "value": null
                  },
                  {
                    "color": "red",
                    "value": 0.5
                  }
                ]
              }
            }
          }
        }
      ]
    }
    "#);

    // The next plan needs the variables…
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"
    error: definitions/contact-points.toml:20:1: environment variable GRAFANA_CONTACT_POINT_DB_TEAM_WEBHOOK_PASSWORD is not set (it holds a secret)
    definitions/datasources.toml:13:1: environment variable GRAFANA_DATASOURCE_METRICS_BASIC_AUTH_PASSWORD is not set (it holds a secret)
    definitions/notification-channels.toml:11:1: environment variable GRAFANA_CHANNEL_OPS_SLACK_URL is not set (it holds a secret)
    ");
    // …and, once they are set, writes each secret once: mac cannot know what the server has.
    let with_secrets = || {
        let mut command = grafana.mac();
        command
            .env("GRAFANA_DATASOURCE_METRICS_BASIC_AUTH_PASSWORD", "metrics-secret-91c2")
            .env("GRAFANA_CHANNEL_OPS_SLACK_URL", "https://hooks.example.com/slack-secret-4e1b")
            .env("GRAFANA_CONTACT_POINT_DB_TEAM_WEBHOOK_PASSWORD", "hook-secret-0d5f");
        command
    };
    let (code, stdout, stderr) = run(with_secrets().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/contact_point.db-team
        + integrations.0.secure_settings.password = "(sensitive)"
    ~ update grafana8/datasource.metrics
        + secure_json_data.basicAuthPassword = "(sensitive)"
    ~ update grafana8/notification_channel.ops-slack
        + secure_settings.url = "(sensitive)"

    Plan: 0 to create, 3 to update, 0 to delete, 3 unchanged.
    "#);
    let (code, stdout, stderr) = run(with_secrets().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, _) = run(with_secrets().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}
