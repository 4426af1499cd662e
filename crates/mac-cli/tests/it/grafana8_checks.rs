//! What Grafana 8.5 would refuse, seen before it does (issue 16, items 4, 5 and 8): data
//! source names that the project itself provides, folder titles that exist already, and the
//! offline checks of expressions, integration types, misspelt references and kinds,
//! duplicated rule titles, and `mac render` of dashboards holding JSON `null`.

use insta::assert_snapshot;
use reqwest::Method;
use serde_json::json;

use crate::grafana8::{ERRORS, Grafana, PAYMENTS_FOLDER, payments_http, threshold_rule};
use crate::grafana8_dashboards::PAYMENTS_OVERVIEW;
use crate::{Project, run};

/// The README's alert example, with the data source it names defined beside it.
fn readme_example() -> String {
    let datasource = "\n[[grafana8.datasource]]\nid = \"prometheus\"\nname = \"Prometheus\"\ntype = \"prometheus\"\n\
                      url = \"http://prometheus:9090\"\n";
    let rule = threshold_rule("High 5xx ratio", "for = \"5m\"\n", "Prometheus", ERRORS, "0.05");
    format!("{datasource}{}", payments_http(&[rule]))
}

#[test]
fn a_data_source_named_by_the_project_is_created_first_and_referred_to_by_uid() {
    let grafana = Grafana::start_empty(&readme_example());
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create grafana8/datasource.prometheus
        name = "Prometheus"
        type = "prometheus"
        url = "http://prometheus:9090"
    + create grafana8/folder.payments
        title = "Payments"
    + create grafana8/alert_group.payments-http
        folder_uid = "(known after apply)"
        name = "HTTP"
        rules = [
          {
            id = "High 5xx ratio"
            title = "High 5xx ratio"
            condition = "B"
            for = "5m"
            data = [
              {
                ref_id = "A"
                datasource_uid = "(known after apply)"
                model = {
                  expr = 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'
                }
              },
              {
                ref_id = "B"
                datasource_uid = "__expr__"
                model = { expression = "$A > 0.05", type = "math" }
              },
            ]
          },
        ]

    Plan: 3 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);

    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let rules = grafana.api(Method::GET, "/api/ruler/grafana/api/v1/rules", None);
    let datasource = grafana.api(Method::GET, "/api/datasources/name/Prometheus", None);
    assert_eq!(rules["Payments"][0]["rules"][0]["grafana_alert"]["data"][0]["datasourceUid"], datasource["uid"]);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert_snapshot!(stdout, @"No changes. 3 object(s) match their definitions.");
}

#[test]
fn an_unknown_data_source_name_lists_the_known_ones_and_suggests_a_reference() {
    let grafana = Grafana::start_empty(
        &readme_example().replace("datasource = { name = \"Prometheus\" }", "datasource = { name = \"Promethus\" }"),
    );
    let loki = json!({ "name": "Loki", "type": "loki", "access": "proxy", "url": "http://loki:3100" });
    grafana.api(Method::POST, "/api/datasources", Some(loki));
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1, "{stdout}");
    assert_snapshot!(stderr, @r#"error: definitions/main.toml:25:1: Grafana has no data source named `Promethus` (it has: Loki), and no `datasource` of this project has name `Promethus`; did you mean `Prometheus`? (defined here: Prometheus). To use a `datasource` defined here, write { ref = "datasource.prometheus", field = "uid" }"#);
}

#[test]
fn a_folder_title_that_exists_is_offered_for_adoption() {
    let grafana = Grafana::start_empty(PAYMENTS_FOLDER);
    // Made by hand, with a uid Grafana chose and a title with the same URL slug.
    grafana.api(Method::POST, "/api/folders", Some(json!({ "uid": "hand-made", "title": "payments" })));
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    ~ adopt grafana8/folder.payments (exists remotely but is not managed; applied only with --adopt)
        ~ title: "payments" -> "Payments"

    Plan: 0 to create, 0 to update, 0 to delete, 1 to adopt, 0 unchanged.
    "#);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let folder = grafana.api(Method::GET, "/api/folders/hand-made", None);
    assert_eq!(folder["title"], "Payments");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert_snapshot!(stdout, @"No changes. 1 object(s) match their definitions.");
}

#[test]
fn a_folder_title_that_exists_under_another_pinned_uid_is_refused_at_plan_time() {
    let grafana =
        Grafana::start_empty("[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments\"\nuid = \"payments-uid\"\n");
    grafana.api(Method::POST, "/api/folders", Some(json!({ "uid": "hand-made", "title": "Payments" })));
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1, "{stdout}");
    assert_snapshot!(stderr, @r#"error: definitions/main.toml:3:1: a folder titled `Payments` already exists with uid `hand-made`, and Grafana refuses a second folder whose title has the same URL slug: set uid = "hand-made" (instead of "payments-uid") to take it over with --adopt, or choose another title"#);
}

#[test]
fn offline_checks_catch_what_grafana_would_refuse_or_fail_to_evaluate() {
    let project = Project::empty();
    project
        .write("mac.toml", "[providers.grafana8]\nurl = \"http://127.0.0.1:1\"\ntoken = { env = \"GRAFANA_TOKEN\" }\n");
    project.define(
        r##"
[[grafana8.folder]]
id = "payments"
title = "Payments"

[[grafana8.datasource]]
id = "prom"
name = "Prometheus"
type = "prometheus"

[[grafana8.alert_group]]
id = "payments-latency"
folder = "paymnets"

[[grafana8.alert_group.rules]]
title = "Slow"
condition = "A"

[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = { ref = "datasource.promm", field = "uid" }
model = { expr = "up" }

[[grafana8.alert_group]]
id = "payments-http"
folder = "payments"

[[grafana8.alert_group.rules]]
title = "Errors"
condition = "B"

[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = { name = "Prometheus" }
model = { expr = "up" }

[[grafana8.alert_group.rules.data]]
ref_id = "B"
datasource = "__expr__"
model = { type = "math", expression = "$A > 1 && ${C} < 2" }

[[grafana8.alert_group.rules.data]]
ref_id = "D"
datasource = "__expr__"
model = { type = "reduce", reducer = "last", expression = "$Q" }

[[grafana8.alert_group.rules.data]]
ref_id = "E"
datasource = "__expr__"
model = { type = "classic_conditions", conditions = [{ query = { params = ["B"] }, reducer = { type = "last" }, evaluator = { type = "gt", params = [1] } }] }

[[grafana8.alert_group.rules]]
title = "Errors"
condition = "A"

[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = "__expr__"
model = { type = "resampel", expression = "$B" }

[[grafana8.alert_group.rules.data]]
ref_id = "B"
datasource = "__expr__"
model = { type = "reduce", reducer = "last", expression = "$B" }

[[grafana8.contact_point]]
id = "ops"

[[grafana8.contact_point.integrations]]
type = "slak"
settings = { recipient = "#ops" }

[[grafana8.alert_gruop]]
id = "typo"
"##,
    );
    let (code, _, stderr) = run(project.mac().arg("validate"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"
    error: definitions/main.toml:73:12: provider `grafana8` has no kind `alert_gruop`; did you mean `alert_group`? (its kinds: contact_point, datasource, folder, alert_group, library_panel, dashboard, message_template, mute_timing, notification_channel, notification_policy, org_preferences, user, organization, team, dashboard_permission, folder_permission)
    definitions/main.toml:13:1: `folder.paymnets` is not defined for provider instance `grafana8`; did you mean `folder.payments`?
    definitions/main.toml:21:1: `datasource.promm` is not defined for provider instance `grafana8`; did you mean `datasource.prom`?
    definitions/main.toml:40:26: `C` is not the ref_id of any query or expression of this rule (its ref_ids: A, B, D, E); Grafana would fail every evaluation of it (unable to find dependent node)
    definitions/main.toml:45:46: `Q` is not the ref_id of any query or expression of this rule (its ref_ids: A, B, D, E); Grafana would fail every evaluation of it (unable to find dependent node)
    definitions/main.toml:50:76: a classic condition takes only data source queries, and `B` is an expression
    definitions/main.toml:53:1: rule title `Errors` is used twice in this group; Grafana requires unique titles in a folder; first used at definitions/main.toml:29:1
    definitions/main.toml:59:11: `resampel` is not an expression type of Grafana 8.5; did you mean `resample`? (the types: math, reduce, resample, classic_conditions)
    definitions/main.toml:64:46: expression `B` cannot take itself as input
    definitions/main.toml:70:1: Grafana 8.5 has no integration type `slak`; did you mean `slack`? (the types: prometheus-alertmanager, dingding, discord, email, googlechat, kafka, line, opsgenie, pagerduty, pushover, sensugo, slack, teams, telegram, threema, victorops, webhook, wecom)
    ");
}

/// A dashboard as Grafana exports it: `null` in several places.
const EXPORTED_WITH_NULLS: &str = r#"{
  "annotations": { "list": [] },
  "gnetId": null,
  "id": null,
  "panels": [
    { "id": 1, "type": "stat", "title": "Error ratio", "gridPos": { "h": 8, "w": 12, "x": 0, "y": 0 },
      "fieldConfig": { "defaults": { "thresholds": { "mode": "absolute", "steps": [
        { "color": "green", "value": null }, { "color": "red", "value": 80 } ] } }, "overrides": [] } }
  ],
  "schemaVersion": 36,
  "title": "Payments overview",
  "uid": "payments-overview",
  "version": 3
}
"#;

#[test]
fn a_rendered_project_with_json_null_plans_exactly_as_the_original() {
    let grafana = Grafana::start_empty(PAYMENTS_OVERVIEW);
    grafana.project.write("dashboards/payments.json", EXPORTED_WITH_NULLS);
    let (code, rendered, stderr) = run(grafana.mac().arg("render"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(rendered, @r#"
    # Rendered by `mac render`: the definitions as planned, templates expanded.

    [[grafana8.dashboard]]
    id = "payments-overview"
    folder = "payments"
    json = { file = "dashboards/payments.json" }

    [[grafana8.folder]]
    id = "payments"
    title = "Payments"
    "#);
    let (_, original_plan, _) = run(grafana.mac().arg("plan"));

    // The rendered definitions in place of the original ones plan the same, byte for byte.
    grafana.project.define(&rendered);
    let (code, rendered_plan, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(rendered_plan, original_plan);
    let (code, _, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
    grafana.project.define(PAYMENTS_OVERVIEW);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn a_folder_title_this_project_manages_under_another_id_is_refused_at_plan_time() {
    let grafana = Grafana::start(PAYMENTS_FOLDER);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The id renamed without [[moved]]: a create Grafana would refuse (same slug), then a delete.
    grafana.project.define("[[grafana8.folder]]\nid = \"payments-team\"\ntitle = \"Payments\"\n");
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr.trim(), @r#"error: definitions/main.toml:1:1: `grafana8/folder.payments-team` would be created with the unique key `payments` of `grafana8/folder.payments` (remote `mac-payments`), which this project manages: if `grafana8/folder.payments-team` is `grafana8/folder.payments` under a new id, say so with [[moved]] from = "grafana8.folder.payments" to = "grafana8.folder.payments-team"; otherwise change what makes the key"#);
    // Two definitions whose titles give one slug.
    grafana.project.define(
        "[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments\"\n\n\
         [[grafana8.folder]]\nid = \"billing\"\ntitle = \"Same Name\"\n\n\
         [[grafana8.folder]]\nid = \"billing2\"\ntitle = \"same name!\"\n",
    );
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr.trim(), @"error: definitions/main.toml:9:1: `grafana8/folder.billing2` and `grafana8/folder.billing` (defined at definitions/main.toml:5:1) would both be created with the unique key `same-name`, which the remote allows once");
}

#[test]
fn a_folder_title_another_defined_folder_has_is_refused_without_suggesting_a_move() {
    let grafana = Grafana::start("[[grafana8.folder]]\nid = \"ops\"\ntitle = \"Ops\"\n");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.project.define(
        "[[grafana8.folder]]\nid = \"ops\"\ntitle = \"Ops\"\n\n[[grafana8.folder]]\nid = \"ops2\"\ntitle = \"ops\"\n",
    );
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert!(!stderr.contains("[[moved]]"), "{stderr}");
    assert_snapshot!(stderr.trim(), @"error: definitions/main.toml:5:1: `grafana8/folder.ops2` would be created with the unique key `ops` that `grafana8/folder.ops` (defined at definitions/main.toml:1:1) has on the server: the remote allows it once. If `grafana8/folder.ops` changes it in this plan, apply that change first, then this object");
}

#[test]
fn a_rule_title_two_groups_of_one_folder_use_is_refused_offline() {
    let project = offline_project();
    let group = |id: &str| {
        format!(
            "[[grafana8.alert_group]]\nid = \"{id}\"\nfolder = \"payments\"\n\n\
             [[grafana8.alert_group.rules]]\ntitle = \"Always\"\ncondition = \"A\"\n\n\
             [[grafana8.alert_group.rules.data]]\nref_id = \"A\"\ndatasource = \"__expr__\"\n\
             model = {{ type = \"math\", expression = \"1 > 0\" }}\n\n"
        )
    };
    project.define(&format!(
        "[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments\"\n\n{}{}",
        group("first"),
        group("second")
    ));
    let (code, stdout, stderr) = run(project.mac().arg("validate"));
    assert_eq!(code, 1, "{stdout}");
    assert_snapshot!(stderr.trim(), @"error: definitions/main.toml:23:1: rule title `Always` is also used by `grafana8/alert_group.first` in the same folder: Grafana requires unique rule titles in a folder, across its groups");
}

#[test]
fn a_rule_written_as_one_table_instead_of_a_list_is_named_at_its_line() {
    let project = offline_project();
    // `[grafana8.alert_group.rules]` (one bracket) makes one table where a list is wanted.
    project.define(
        "[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments\"\n\n\
         [[grafana8.alert_group]]\nid = \"api\"\nfolder = \"payments\"\n\n\
         [grafana8.alert_group.rules]\ntitle = \"Always\"\ncondition = \"A\"\n",
    );
    let (code, stdout, stderr) = run(project.mac().arg("validate"));
    assert_eq!(code, 1, "{stdout}");
    assert_snapshot!(stderr.trim(), @"error: definitions/main.toml:9:23: write each of these as [[grafana8.alert_group.rules]] (two brackets): one [grafana8.alert_group.rules] table is not a list");
}

/// A project whose Grafana is never reached: for what `mac validate` checks offline.
fn offline_project() -> Project {
    let project = Project::empty();
    project
        .write("mac.toml", "[providers.grafana8]\nurl = \"http://127.0.0.1:9\"\ntoken = { env = \"GRAFANA_TOKEN\" }\n");
    project
}

#[test]
fn renaming_a_data_source_a_rule_names_by_its_old_name_is_refused_at_the_rules_line() {
    let grafana = Grafana::start_empty(&readme_example());
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The data source is renamed; the rule still names "Prometheus", which Grafana has until
    // the apply: refused at the rule's query, not found broken by the next plan.
    grafana.project.define(&readme_example().replace("name = \"Prometheus\"\ntype", "name = \"Metrics\"\ntype"));
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_snapshot!(stderr, @r#"error: definitions/main.toml:25:1: `datasource` `Prometheus` is renamed to `Metrics` by `datasource.prometheus` in this plan, so this field would name nothing once it is applied: write `Metrics` here in the same change, or refer to it with { ref = "datasource.prometheus", field = "uid" }"#);
}
