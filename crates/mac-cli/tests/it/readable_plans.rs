//! Plans a reviewer can read (issue 16, item 3): a rule added, removed or changed shows as
//! that rule, TOML-like; values Grafana fills in never show; a delete says what it deletes.

use insta::{assert_json_snapshot, assert_snapshot};
use serde_json::Value;

use crate::grafana8::{ERRORS, Grafana, LATENCY, PAYMENTS_FOLDER, threshold_rule};
use crate::run;

/// A rule of the `HTTP` group, paging, querying the emulator's Prometheus data source by name.
fn rule(title: &str, for_: &str, expr: &str, threshold: &str) -> String {
    threshold_rule(
        title,
        &format!("for = \"{for_}\"\nlabels = {{ severity = \"page\" }}\n"),
        "Prometheus",
        expr,
        threshold,
    )
}

fn group(rules: &[String]) -> String {
    format!(
        "{PAYMENTS_FOLDER}\n[[grafana8.alert_group]]\nid = \"payments-http\"\nfolder = \"payments\"\nname = \"HTTP\"\n{}",
        rules.concat()
    )
}

#[test]
fn rules_added_removed_and_changed_show_as_rules() {
    let r1 = rule("High 5xx ratio", "5m", ERRORS, "0.05");
    let r2 = rule("Slow p95", "10m", LATENCY, "0.5");
    let grafana = Grafana::start(&group(&[r1, r2]));
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // R1's `for` and threshold change, R2 goes, R3 comes.
    let r1 = rule("High 5xx ratio", "10m", ERRORS, "0.02");
    let r3 = rule("Traffic gone", "0s", "sum(rate(http_requests_total[5m]))", "0")
        .replace("labels = { severity = \"page\" }", "labels = { severity = \"ticket\", team = \"payments\" }");
    grafana.project.define(&group(&[r1, r3]));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    let stdout = stdout.replace(&grafana.datasource_uid, "PROMETHEUS-UID");
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/alert_group.payments-http
        ~ rules[id="High 5xx ratio"].for: "5m" -> "10m"
        ~ rules[id="High 5xx ratio"].data[ref_id="B"].model.expression: "$A > 0.05" -> "$A > 0.02"
        + rules[id="Traffic gone"]
            title = "Traffic gone"
            condition = "B"
            labels = { severity = "ticket", team = "payments" }
            data = [
              {
                ref_id = "A"
                datasource_uid = "PROMETHEUS-UID"
                model = { expr = "sum(rate(http_requests_total[5m]))" }
              },
              {
                ref_id = "B"
                datasource_uid = "__expr__"
                model = { expression = "$A > 0", type = "math" }
              },
            ]
        - rules[id="Slow p95"]
            title = "Slow p95"
            condition = "B"
            for = "10m"
            labels = { severity = "page" }
            data = [
              {
                ref_id = "A"
                datasource_uid = "PROMETHEUS-UID"
                model = {
                  expr = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"
                }
              },
              {
                ref_id = "B"
                datasource_uid = "__expr__"
                model = { expression = "$A > 0.5", type = "math" }
              },
            ]

    Plan: 0 to create, 1 to update (1 rule added, 1 rule removed, 1 rule changed), 0 to delete, 1 unchanged.
    "#);

    let (_, stdout, _) = run(grafana.mac().args(["plan", "--json"]));
    let json: Value = serde_json::from_str(&stdout).expect("json");
    assert_json_snapshot!([&json["summary"]["update_items"], &json["actions"][0]["items"]], @r#"
    [
      {
        "rules": {
          "added": 1,
          "removed": 1,
          "changed": 1
        }
      },
      [
        {
          "list": "rules",
          "key": "id",
          "value": "High 5xx ratio",
          "change": "changed"
        },
        {
          "list": "rules",
          "key": "id",
          "value": "Traffic gone",
          "change": "added"
        },
        {
          "list": "rules",
          "key": "id",
          "value": "Slow p95",
          "change": "removed"
        }
      ]
    ]
    "#);

    // Applied, the group is exactly the code: R2's uid gone, R1 kept its uid.
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn creates_show_only_what_the_definition_says() {
    let datasource = r#"
[[grafana8.datasource]]
id = "metrics"
name = "Metrics"
type = "prometheus"
url = "http://127.0.0.1:9090"
access = "proxy"
"#;
    // `access = "proxy"` and `no_data_state = "NoData"` are Grafana's defaults written out:
    // they compare equal to what Grafana stores, and show nowhere.
    let rules = rule("High 5xx ratio", "5m", ERRORS, "0.05")
        .replace("for = \"5m\"", "for = \"5m\"\nno_data_state = \"NoData\"");
    let grafana = Grafana::start(&format!("{datasource}{}", group(&[rules])));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    let stdout = stdout.replace(&grafana.datasource_uid, "PROMETHEUS-UID");
    assert_snapshot!(stdout, @r#"
    + create grafana8/datasource.metrics
        name = "Metrics"
        type = "prometheus"
        url = "http://127.0.0.1:9090"
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
            labels = { severity = "page" }
            data = [
              {
                ref_id = "A"
                datasource_uid = "PROMETHEUS-UID"
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
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "the explicit defaults match what Grafana stored: {stdout}");
}

#[test]
fn deletes_say_what_they_delete() {
    let grafana = Grafana::start(&group(&[rule("High 5xx ratio", "5m", ERRORS, "0.05")]));
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.project.define("");
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "--detailed-exitcode", "--allow-delete-all"]));
    assert_eq!(code, 2, "{stderr}");
    assert_snapshot!(stdout, @r#"
    - delete grafana8/alert_group.payments-http (rule group "HTTP" in folder "Payments", 1 rule)
    - delete grafana8/folder.payments (folder "Payments", uid "mac-payments")

    Plan: 0 to create, 0 to update, 2 to delete, 0 unchanged.
    "#);
    let (_, stdout, _) = run(grafana.mac().args(["plan", "--json", "--allow-delete-all"]));
    let json: Value = serde_json::from_str(&stdout).expect("json");
    let descriptions: Vec<&Value> =
        json["actions"].as_array().expect("actions").iter().map(|a| &a["description"]).collect();
    assert_json_snapshot!(descriptions, @r#"
    [
      "rule group \"HTTP\" in folder \"Payments\", 1 rule",
      "folder \"Payments\", uid \"mac-payments\""
    ]
    "#);
}
