//! A saved plan applies only what was reviewed (issue 16, item 1): `mac apply FILE` re-reads
//! every object the plan writes or deletes and refuses, before any write, when one moved since
//! the plan — naming the object and the field — so that an edit nobody reviewed is never undone.

use std::collections::BTreeMap;

use insta::assert_snapshot;
use reqwest::Method;
use serde_json::{Value, json};

use crate::grafana8::{Grafana, LATENCY, payments_http, threshold_rule};
use crate::run;

/// A group of two rules, R1 and R2, each with its threshold in a math expression.
fn group() -> String {
    payments_http(&[
        threshold_rule("R1", "", "Prometheus", r#"sum(rate(http_requests_total{status=~"5.."}[5m]))"#, "5"),
        threshold_rule("R2", "", "Prometheus", LATENCY, "0.5"),
    ])
}

const RULER: &str = "/api/ruler/grafana/api/v1/rules";

/// The group as Grafana's UI saves it after a person edited R2's threshold: the whole group,
/// rules keeping their uids.
fn edit_r2_threshold_by_hand(grafana: &Grafana, threshold: &str) {
    let mut group = grafana.api(Method::GET, &format!("{RULER}/Payments/HTTP"), None);
    for rule in group["rules"].as_array_mut().expect("rules") {
        if rule["grafana_alert"]["title"] == "R2" {
            rule["grafana_alert"]["data"][1]["model"]["expression"] = json!(format!("$A > {threshold}"));
        }
    }
    let answer = grafana.api(Method::POST, &format!("{RULER}/Payments"), Some(group));
    assert_eq!(answer["message"], "rule group updated successfully", "{answer}");
}

fn expression(grafana: &Grafana, title: &str) -> Value {
    let rules = grafana.api(Method::GET, RULER, None);
    let group = &rules["Payments"][0]["rules"];
    group
        .as_array()
        .expect("rules")
        .iter()
        .find(|rule| rule["grafana_alert"]["title"] == title)
        .map(|rule| rule["grafana_alert"]["data"][1]["model"]["expression"].clone())
        .expect("the rule")
}

fn count(requests: &BTreeMap<(String, String), u64>, method: &str, route: &str) -> u64 {
    requests.get(&(method.to_owned(), route.to_owned())).copied().unwrap_or(0)
}

/// The issue's own reproduction: the reviewed plan changes R1; R2 is edited by hand before the
/// apply; the apply must not put R2 back.
#[test]
fn a_saved_plan_refuses_to_revert_a_rule_edited_by_hand_since_the_plan() {
    let grafana = Grafana::start(&group());
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    grafana.project.define(&group().replace("$A > 5\"", "$A > 10\""));
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "p.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(r#"rules[id="R1"].data[ref_id="B"].model.expression: "$A > 5" -> "$A > 10""#), "{stdout}");
    assert!(!stdout.contains("R2"), "the reviewed plan never shows R2: {stdout}");

    edit_r2_threshold_by_hand(&grafana, "0.9");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "p.plan", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stdout, "", "refused before the plan is shown or anything written");
    assert_snapshot!(stderr, @r#"
    error: p.plan is out of date: 1 object(s) it writes or deletes changed on the server since the plan was made. Nothing was written; re-plan to review it.
      grafana8/alert_group.payments-http (planned: update) changed (as planned -> now):
          rules[id="R2"].data[ref_id="B"].model.expression: "$A > 0.5" -> "$A > 0.9"
    "#);
    assert_eq!(expression(&grafana, "R2"), "$A > 0.9", "the hand edit is still there");
    assert_eq!(expression(&grafana, "R1"), "$A > 5", "nothing was written");

    // A new plan shows both, to review; once applied, the code's version holds.
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "p.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(r#"rules[id="R2"].data[ref_id="B"].model.expression: "$A > 0.9" -> "$A > 0.5""#),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "p.plan", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!((expression(&grafana, "R1"), expression(&grafana, "R2")), (json!("$A > 10"), json!("$A > 0.5")));
}

/// A fresh `mac apply` (no plan file) plans anew: the hand edit shows in its plan as drift,
/// which the person approving it sees.
#[test]
fn a_fresh_apply_shows_the_hand_edit_in_its_plan() {
    let grafana = Grafana::start(&group());
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    edit_r2_threshold_by_hand(&grafana, "0.9");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(r#"rules[id="R2"].data[ref_id="B"].model.expression: "$A > 0.9" -> "$A > 0.5""#),
        "{stdout}"
    );
    assert_eq!(expression(&grafana, "R2"), "$A > 0.5");
}

const DASHBOARDS_AND_SOURCES: &str = r#"
[[grafana8.dashboard]]
id = "overview"
json = { title = "Overview", panels = [{ id = 1, type = "text", title = "Hello" }] }

[[grafana8.dashboard]]
id = "details"
json = { title = "Details", panels = [{ id = 1, type = "text", title = "Hello" }] }

[[grafana8.datasource]]
id = "loki"
name = "Loki"
type = "loki"
url = "http://127.0.0.1:3100"
"#;

/// Saves a dashboard as the UI does, with one panel's title changed.
fn edit_dashboard_by_hand(grafana: &Grafana, uid: &str, panel_title: &str) {
    let mut model = grafana.api(Method::GET, &format!("/api/dashboards/uid/{uid}"), None)["dashboard"].clone();
    model["panels"][0]["title"] = json!(panel_title);
    let saved = grafana.api(Method::POST, "/api/dashboards/db", Some(json!({ "dashboard": model })));
    assert_eq!(saved["status"], "success", "{saved}");
}

/// Dashboards and data sources are read one by one in 8.5: the check reads only the objects
/// the plan writes, one GET each, and never lists them all.
#[test]
fn dashboards_and_data_sources_edited_since_the_plan_are_refused_with_one_read_each() {
    let grafana = Grafana::start(DASHBOARDS_AND_SOURCES);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    let changed = DASHBOARDS_AND_SOURCES
        .replacen("title = \"Hello\"", "title = \"Welcome\"", 1)
        .replace("127.0.0.1:3100", "127.0.0.1:3101");
    grafana.project.define(&changed);
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "p.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("~ update grafana8/dashboard.overview"), "{stdout}");
    assert!(stdout.contains("~ update grafana8/datasource.loki"), "{stdout}");
    assert!(!stdout.contains("dashboard.details"), "{stdout}");

    edit_dashboard_by_hand(&grafana, "mac-overview", "Edited in the UI");
    let loki = grafana.api(Method::GET, "/api/datasources/uid/mac-loki", None);
    let edited = grafana.api(
        Method::PUT,
        &format!("/api/datasources/{}", loki["id"]),
        Some(json!({ "name": "Loki", "type": "loki", "access": "proxy", "url": "http://loki.example:3100" })),
    );
    assert_eq!(edited["message"], "Datasource updated", "{edited}");

    let ((code, stdout, stderr), requests) = apply_saved_plan_counting_requests(&grafana);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_snapshot!(stderr, @r#"
    error: p.plan is out of date: 2 object(s) it writes or deletes changed on the server since the plan was made. Nothing was written; re-plan to review it.
      grafana8/datasource.loki (planned: update) changed (as planned -> now):
          url: "http://127.0.0.1:3100" -> "http://loki.example:3100"
      grafana8/dashboard.overview (planned: update) changed (as planned -> now):
          dashboard.panels[id=1].title: "Hello" -> "Edited in the UI"
    "#);
    assert_eq!(count(&requests, "GET", "/api/dashboards/uid/{uid}"), 1, "{requests:?}");
    assert_eq!(count(&requests, "GET", "/api/datasources/uid/{uid}"), 1, "{requests:?}");
    assert_eq!(count(&requests, "GET", "/api/search"), 0, "no list of all dashboards: {requests:?}");
    assert_eq!(count(&requests, "GET", "/api/datasources"), 0, "no list of all data sources: {requests:?}");
    let writes: u64 = requests.iter().filter(|((method, _), _)| method != "GET").map(|(_, count)| count).sum();
    assert_eq!(writes, 0, "nothing written: {requests:?}");
    let overview = grafana.api(Method::GET, "/api/dashboards/uid/mac-overview", None);
    assert_eq!(overview["dashboard"]["panels"][0]["title"], "Edited in the UI");
    assert_eq!(grafana.api(Method::GET, "/api/datasources/uid/mac-loki", None)["url"], "http://loki.example:3100");
}

/// An edit of an object the plan does not write is no reason to refuse it.
#[test]
fn a_saved_plan_applies_when_only_objects_it_does_not_write_were_edited() {
    let grafana = Grafana::start(DASHBOARDS_AND_SOURCES);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.project.define(&DASHBOARDS_AND_SOURCES.replacen("title = \"Hello\"", "title = \"Welcome\"", 1));
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "p.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    edit_dashboard_by_hand(&grafana, "mac-details", "Edited in the UI");
    let ((code, stdout, stderr), requests) = apply_saved_plan_counting_requests(&grafana);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Apply complete: 0 created, 1 updated"), "{stdout}");
    // The check: one GET of the dashboard it writes; the update's POST.
    assert_eq!(count(&requests, "GET", "/api/dashboards/uid/{uid}"), 1, "{requests:?}");
    assert_eq!(count(&requests, "POST", "/api/dashboards/db"), 1, "{requests:?}");
    let overview = grafana.api(Method::GET, "/api/dashboards/uid/mac-overview", None);
    assert_eq!(overview["dashboard"]["panels"][0]["title"], "Welcome");
    let details = grafana.api(Method::GET, "/api/dashboards/uid/mac-details", None);
    assert_eq!(details["dashboard"]["panels"][0]["title"], "Edited in the UI", "not the plan's to touch");
}

const FOLDERS: &str = r#"
[[grafana8.folder]]
id = "payments"
title = "Payments"
"#;

/// An object the plan updates was deleted by hand; another it creates was made by hand under
/// the same uid (or data source name): either way the plan no longer says what apply would do.
#[test]
fn objects_deleted_or_created_by_hand_since_the_plan_are_refused() {
    let grafana = Grafana::start(FOLDERS);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.project.define(&format!(
        "{}\n[[grafana8.folder]]\nid = \"ops\"\ntitle = \"Ops\"\n\n\
         [[grafana8.datasource]]\nid = \"loki\"\nname = \"Loki\"\ntype = \"loki\"\nurl = \"http://127.0.0.1:3100\"\n",
        FOLDERS.replace("\"Payments\"", "\"Payments team\"")
    ));
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "p.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("+ create grafana8/folder.ops"), "{stdout}");
    assert!(stdout.contains("+ create grafana8/datasource.loki"), "{stdout}");
    assert!(stdout.contains("~ update grafana8/folder.payments"), "{stdout}");

    grafana.api(Method::DELETE, "/api/folders/mac-payments", None);
    grafana.api(Method::POST, "/api/folders", Some(json!({ "uid": "mac-ops", "title": "Ops by hand" })));
    let created = grafana.api(
        Method::POST,
        "/api/datasources",
        Some(json!({ "name": "Loki", "type": "loki", "access": "proxy", "url": "http://elsewhere:3100" })),
    );
    assert_eq!(created["message"], "Datasource added", "{created}");

    let ((code, stdout, stderr), requests) = apply_saved_plan_counting_requests(&grafana);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let stderr = stderr.replace(created["datasource"]["uid"].as_str().expect("a uid"), "UID");
    assert_snapshot!(stderr, @"
    error: p.plan is out of date: 3 object(s) it writes or deletes changed on the server since the plan was made. Nothing was written; re-plan to review it.
      grafana8/datasource.loki (planned: create) was made outside mac meanwhile (remote id UID): creating it would clash with or duplicate that
      grafana8/folder.ops (planned: create) was made outside mac meanwhile (remote id mac-ops): creating it would clash with or duplicate that
      grafana8/folder.payments (planned: update) was deleted
    ");
    assert_eq!(count(&requests, "GET", "/api/datasources/name/{name}"), 1, "{requests:?}");
    assert_eq!(count(&requests, "GET", "/api/datasources"), 0, "{requests:?}");
    let folders = grafana.api(Method::GET, "/api/folders", None);
    assert_eq!(folders, json!([{ "id": folders[0]["id"], "uid": "mac-ops", "title": "Ops by hand" }]));
}

/// Contact points share Grafana's one Alertmanager document: what moves for one is its own
/// receiver. Another receiver added by hand is kept by the write, and is no reason to refuse.
#[test]
fn a_contact_point_moves_only_when_its_own_receiver_does() {
    let definitions = r#"
[[grafana8.contact_point]]
id = "ops"
name = "ops"
integrations = [{ type = "email", settings = { addresses = "ops@example.com" } }]
"#;
    let grafana = Grafana::start(definitions);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.project.define(&definitions.replace("ops@example.com", "oncall@example.com"));
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "p.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    let config = "/api/alertmanager/grafana/config/api/v1/alerts";
    let add_receiver = |name: &str, address: &str| {
        let mut document = grafana.api(Method::GET, config, None);
        let receivers = document["alertmanager_config"]["receivers"].as_array_mut().expect("receivers");
        receivers.retain(|receiver| receiver["name"] != name);
        receivers.push(json!({ "name": name, "grafana_managed_receiver_configs": [{
            "name": name, "type": "email", "settings": { "addresses": address } }] }));
        let answer = grafana.api(Method::POST, config, Some(document));
        assert!(answer["message"].as_str().is_some_and(|message| message.contains("created")), "{answer}");
    };
    add_receiver("team-b", "b@example.com");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "p.plan", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let document = grafana.api(Method::GET, config, None);
    let names: Vec<&str> = document["alertmanager_config"]["receivers"]
        .as_array()
        .expect("receivers")
        .iter()
        .filter_map(|receiver| receiver["name"].as_str())
        .collect();
    assert!(names.contains(&"team-b"), "kept: {names:?}");

    // Its own receiver edited by hand: refused.
    grafana.project.define(definitions);
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "p.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    add_receiver("ops", "by-hand@example.com");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "p.plan", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_snapshot!(stderr, @r#"
    error: p.plan is out of date: 1 object(s) it writes or deletes changed on the server since the plan was made. Nothing was written; re-plan to review it.
      grafana8/contact_point.ops (planned: update) changed (as planned -> now):
          integrations[0].settings.addresses: "oncall@example.com" -> "by-hand@example.com"
    "#);
}

/// A folder's permission list is read one folder at a time in 8.5: the check makes one GET
/// of the list the plan writes, and lists no folders.
#[test]
fn a_folder_permission_list_edited_since_the_plan_is_refused_with_one_read() {
    let definitions = r#"
[[grafana8.folder]]
id = "payments"
title = "Payments"

[[grafana8.folder_permission]]
id = "payments"
folder = "payments"
permissions = [{ role = "Viewer", permission = "View" }]
"#;
    let grafana = Grafana::start(definitions);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.project.define(&definitions.replace("permission = \"View\"", "permission = \"Edit\""));
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "p.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("~ update grafana8/folder_permission.payments"), "{stdout}");

    let items = json!({ "items": [{ "role": "Viewer", "permission": 1 }, { "role": "Editor", "permission": 2 }] });
    grafana.api(Method::POST, "/api/folders/mac-payments/permissions", Some(items));
    let ((code, stdout, stderr), requests) = apply_saved_plan_counting_requests(&grafana);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_snapshot!(stderr, @r#"
    error: p.plan is out of date: 1 object(s) it writes or deletes changed on the server since the plan was made. Nothing was written; re-plan to review it.
      grafana8/folder_permission.payments (planned: update) changed (as planned -> now):
          permissions[who="role:Editor"]: (absent) -> { who = "role:Editor", permission = "Edit" }
    "#);
    assert_eq!(count(&requests, "GET", "/api/folders/{uid}/permissions"), 1, "{requests:?}");
    assert_eq!(count(&requests, "GET", "/api/folders"), 0, "no list of all folders: {requests:?}");
    assert_eq!(count(&requests, "POST", "/api/folders/{uid}/permissions"), 0, "nothing written: {requests:?}");
}

/// Requests by (method, route), as the emulator counts them.
type Requests = BTreeMap<(String, String), u64>;

/// `mac apply p.plan --auto-approve`: its exit code and output, and the requests it made.
fn apply_saved_plan_counting_requests(grafana: &Grafana) -> ((i32, String, String), Requests) {
    let mut outcome = (0, String::new(), String::new());
    let requests = grafana.requests_during(|| {
        outcome = run(grafana.mac().args(["apply", "p.plan", "--auto-approve"]));
    });
    (outcome, requests)
}
