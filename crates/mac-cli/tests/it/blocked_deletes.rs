//! Deletes the plan already knows cannot or must not happen (issue 16, item 2): a folder that
//! holds what mac does not manage is shown as blocked and never attempted; a data source
//! that unmanaged rules or dashboards use is deleted with a warning naming them. The
//! `mac` binary against the Grafana 8.5 emulator.

use insta::assert_snapshot;
use reqwest::Method;
use serde_json::{Value, json};

use crate::grafana8::{Grafana, threshold_rule};
use crate::run;

/// A folder with a group and a dashboard, an empty folder, and a folder that stays.
const FOLDERS: &str = r#"
[[grafana8.folder]]
id = "payments"
title = "Payments"

[[grafana8.folder]]
id = "archive"
title = "Archive"

[[grafana8.folder]]
id = "keep"
title = "Keep"

[[grafana8.alert_group]]
id = "payments-http"
folder = "payments"
name = "HTTP"
interval = "1m"

[[grafana8.alert_group.rules]]
title = "Always"
condition = "A"

[[grafana8.alert_group.rules.data]]
ref_id = "A"
datasource = "__expr__"
model = { type = "math", expression = "1 > 0" }

[[grafana8.dashboard]]
id = "payments-board"
folder = "payments"
json = { title = "Payments board", panels = [{ id = 1, type = "text", title = "Notes" }] }
"#;

/// A rule group made by hand (in the UI) in the folder titled `folder`, querying `datasource_uid`.
fn hand_made_group(grafana: &Grafana, folder: &str, name: &str, datasource_uid: &str) {
    let group = json!({
        "name": name,
        "interval": "1m",
        "rules": [{ "grafana_alert": {
            "title": format!("{name} rule"), "condition": "B",
            "data": [
                { "refId": "A", "datasourceUid": datasource_uid, "relativeTimeRange": { "from": 600, "to": 0 },
                  "model": { "expr": "up == 0" } },
                { "refId": "B", "datasourceUid": "__expr__", "relativeTimeRange": { "from": 0, "to": 0 },
                  "model": { "type": "math", "expression": "$A > 0" } },
            ],
        }}],
    });
    grafana.api(Method::POST, &format!("/api/ruler/grafana/api/v1/rules/{folder}"), Some(group));
}

#[test]
fn a_folder_holding_what_mac_does_not_manage_is_planned_as_blocked_and_kept() {
    let grafana = Grafana::start(FOLDERS);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    hand_made_group(&grafana, "Payments", "Hand-made", "__expr__");
    grafana.hand_made_dashboard("abc", "Overview", "mac-payments", json!([]));

    // Everything but `keep` leaves the code.
    grafana.project.define("[[grafana8.folder]]\nid = \"keep\"\ntitle = \"Keep\"\n");
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "--allow-mass-delete"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    - delete grafana8/dashboard.payments-board (dashboard "Payments board" in folder "Payments", uid "mac-payments-board")
    - delete grafana8/alert_group.payments-http (rule group "HTTP" in folder "Payments", 1 rule)
    - delete grafana8/folder.archive (folder "Archive", uid "mac-archive")
    ! delete grafana8/folder.payments — blocked: holds alert group "Payments/Hand-made" and dashboard "Overview" (uid abc) that mac does not manage; move or delete them, or manage them

    Plan: 0 to create, 0 to update, 3 to delete, 1 delete blocked, 1 unchanged.
    "#);

    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve", "--allow-mass-delete"]));
    assert_eq!(code, 0, "a plan executed as shown succeeds: {stdout}{stderr}");
    let report = stdout.split_once("Plan: ").map(|(_, rest)| rest).unwrap_or_default();
    assert_snapshot!(report, @r#"
    0 to create, 0 to update, 3 to delete, 1 delete blocked, 1 unchanged.
    kept: grafana8/folder.payments — holds alert group "Payments/Hand-made" and dashboard "Overview" (uid abc) that mac does not manage; move or delete them, or manage them
    Apply complete: 0 created, 0 updated, 3 deleted, 0 failed, 0 skipped, 1 kept.
    "#);
    // The folder and what it holds are untouched; the others are gone.
    assert_eq!(grafana.api(Method::GET, "/api/folders/mac-payments", None)["title"], "Payments");
    assert_eq!(grafana.api(Method::GET, "/api/dashboards/uid/abc", None)["dashboard"]["title"], "Overview");
    assert_eq!(grafana.api(Method::GET, "/api/folders/mac-archive", None)["message"], "folder not found");
    assert_eq!(
        grafana.api(Method::GET, "/api/dashboards/uid/mac-payments-board", None)["message"],
        "Dashboard not found"
    );
    let rules = grafana.api(Method::GET, "/api/ruler/grafana/api/v1/rules", None);
    let names: Vec<&str> =
        rules["Payments"].as_array().into_iter().flatten().filter_map(|group| group["name"].as_str()).collect();
    assert_eq!(names, ["Hand-made"]);

    // It stays in state: the next plan shows it blocked again, and nothing to apply.
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert_snapshot!(stdout, @r#"
    ! delete grafana8/folder.payments — blocked: holds alert group "Payments/Hand-made" and dashboard "Overview" (uid abc) that mac does not manage; move or delete them, or manage them

    No changes. 1 delete blocked. 1 object(s) match their definitions.
    "#);
    let (_, json_out, _) = run(grafana.mac().args(["plan", "--json"]));
    let plan: Value = serde_json::from_str(&json_out).expect("JSON");
    assert_eq!(plan["summary"]["blocked"], 1);
    assert_eq!(plan["blocked"][0]["id"], "grafana8/folder.payments");
    assert_eq!(
        plan["blocked"][0]["holds"],
        json!([
            { "kind": "alert_group", "remote_id": "mac-payments/Hand-made", "title": "Payments/Hand-made" },
            { "kind": "dashboard", "remote_id": "abc", "title": "Overview", "uid": "abc" },
        ])
    );

    // Once the hand-made objects are gone, the folder is deleted.
    grafana.api(Method::DELETE, "/api/dashboards/uid/abc", None);
    grafana.api(Method::DELETE, "/api/ruler/grafana/api/v1/rules/Payments/Hand-made", None);
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(
        stdout.contains("- delete grafana8/folder.payments (folder \"Payments\", uid \"mac-payments\")\n"),
        "{stdout}"
    );
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    assert_eq!(grafana.api(Method::GET, "/api/folders/mac-payments", None)["message"], "folder not found");
}

#[test]
fn a_folder_whose_managed_contents_move_away_is_not_blocked() {
    let grafana = Grafana::start(FOLDERS);
    run(grafana.mac().args(["apply", "--auto-approve"]));
    // The group and the dashboard move to `keep`; `payments` and `archive` leave the code.
    let moved = FOLDERS
        .replace("[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments\"\n", "")
        .replace("[[grafana8.folder]]\nid = \"archive\"\ntitle = \"Archive\"\n", "")
        .replace("folder = \"payments\"", "folder = \"keep\"");
    grafana.project.define(&moved);
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(!stdout.contains("blocked"), "{stdout}");
    assert!(
        stdout.contains("- delete grafana8/folder.payments (folder \"Payments\", uid \"mac-payments\")\n"),
        "{stdout}"
    );
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(grafana.api(Method::GET, "/api/folders/mac-payments", None)["message"], "folder not found");
}

#[test]
fn deleting_a_data_source_that_unmanaged_rules_and_dashboards_use_warns_naming_them() {
    let definitions = "[[grafana8.folder]]\nid = \"keep\"\ntitle = \"Keep\"\n\n\
                       [[grafana8.datasource]]\nid = \"metrics\"\nname = \"Metrics\"\ntype = \"prometheus\"\n\
                       url = \"http://127.0.0.1:9090\"\nuid = \"metrics-uid\"\n";
    let grafana = Grafana::start(definitions);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.api(Method::POST, "/api/folders", Some(json!({ "uid": "team", "title": "Team" })));
    hand_made_group(&grafana, "Team", "Latency", "metrics-uid");
    // One dashboard names the data source (as dashboards saved before Grafana 8.3 do), one
    // refers to it by uid in a query, one uses another data source.
    grafana.hand_made_dashboard(
        "by-name",
        "Old board",
        "",
        json!([{ "id": 1, "type": "graph", "datasource": "Metrics" }]),
    );
    grafana.hand_made_dashboard("by-uid",
        "New board",
        "team",
        json!([{ "id": 1, "type": "timeseries", "targets": [{ "refId": "A", "datasource": { "type": "prometheus", "uid": "metrics-uid" } }] }]),
    );
    grafana.hand_made_dashboard(
        "other",
        "Other board",
        "",
        json!([{ "id": 1, "type": "graph", "datasource": "Prometheus" }]),
    );

    grafana.project.define("[[grafana8.folder]]\nid = \"keep\"\ntitle = \"Keep\"\n");
    let before = grafana.requests();
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // What a dashboard uses is in its JSON: Grafana 8.5 has no bulk read of it, so a plan that
    // may delete a data source reads every dashboard (3 here), and the rules in one request.
    let reads = reads_since(&grafana, &before);
    assert_eq!(reads.get("GET /api/dashboards/uid/{uid}"), Some(&3), "{reads:?}");
    assert_eq!(reads.get("GET /api/ruler/grafana/api/v1/rules"), Some(&1), "{reads:?}");
    assert_snapshot!(stdout, @r#"
    - delete grafana8/datasource.metrics (prometheus data source "Metrics", uid "metrics-uid")

    warning: grafana8/datasource.metrics: deleting it leaves alert group "Team/Latency", dashboard "Old board" (uid by-name) and dashboard "New board" (uid by-uid), which mac does not manage, using it: they will break

    Plan: 0 to create, 0 to update, 1 to delete, 1 unchanged.
    "#);
    // A warning, not a block: the delete is applied.
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    assert_eq!(grafana.api(Method::GET, "/api/datasources/uid/metrics-uid", None)["message"], "Data source not found");
}

/// The requests made since `before`, as `METHOD route`.
fn reads_since(
    grafana: &Grafana,
    before: &std::collections::BTreeMap<(String, String), u64>,
) -> std::collections::BTreeMap<String, u64> {
    grafana
        .requests_since(before)
        .into_iter()
        .map(|((method, route), count)| (format!("{method} {route}"), count))
        .collect()
}

#[test]
fn folder_contents_are_read_only_when_a_folder_may_be_deleted_and_in_constant_requests() {
    let two_folders = "[[grafana8.folder]]\nid = \"keep\"\ntitle = \"Keep\"\n\n\
                       [[grafana8.folder]]\nid = \"archive\"\ntitle = \"Archive\"\n";
    let grafana = Grafana::start(two_folders);
    run(grafana.mac().args(["apply", "--auto-approve"]));
    for index in 0..5 {
        grafana.hand_made_dashboard(&format!("d{index}"), &format!("Board {index}"), "", json!([]));
    }
    grafana.hand_made_dashboard("in-archive", "Archived board", "mac-archive", json!([]));

    // Nothing to delete: neither dashboards nor rules are read.
    let before = grafana.requests();
    run(grafana.mac().arg("plan"));
    let reads = reads_since(&grafana, &before);
    assert_eq!(
        reads.keys().map(String::as_str).collect::<Vec<_>>(),
        ["GET /api/folders", "GET /api/health", "GET /api/org"],
        "{reads:?}"
    );

    // A folder leaves the code: one search page and one ruler read, not one GET per dashboard.
    grafana.project.define("[[grafana8.folder]]\nid = \"keep\"\ntitle = \"Keep\"\n");
    let before = grafana.requests();
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    let reads = reads_since(&grafana, &before);
    assert_eq!(reads.get("GET /api/search"), Some(&1), "{reads:?}");
    assert_eq!(reads.get("GET /api/ruler/grafana/api/v1/rules"), Some(&1), "{reads:?}");
    assert_eq!(reads.get("GET /api/dashboards/uid/{uid}"), None, "{reads:?}");
    assert_snapshot!(stdout, @r#"
    ! delete grafana8/folder.archive — blocked: holds dashboard "Archived board" (uid in-archive) that mac does not manage; move or delete it, or manage it

    No changes. 1 delete blocked. 1 object(s) match their definitions.
    "#);
}

#[test]
fn a_managed_group_that_stays_in_the_folder_blocks_it_even_when_the_plan_updates_it() {
    // The group names its folder by uid, not by local id: state records no reference to the
    // folder, so a rule change does not take the group out of it.
    let by_uid = FOLDERS.replace(
        "id = \"payments-http\"\nfolder = \"payments\"",
        "id = \"payments-http\"\nfolder = { uid = \"mac-payments\" }",
    );
    let grafana = Grafana::start(&by_uid);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let changed = by_uid
        .replace("[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments\"\n", "")
        .replace("folder = \"payments\"", "folder = \"keep\"")
        .replace("1 > 0", "2 > 1");
    grafana.project.define(&changed);
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("! delete grafana8/folder.payments — blocked: holds alert group \"Payments/HTTP\""),
        "{stdout}"
    );
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "exactly the plan, which keeps the folder: {stdout}{stderr}");
    assert_eq!(grafana.api(Method::GET, "/api/folders/mac-payments", None)["title"], "Payments");
}

/// A data source with a fixed uid.
const METRICS_DATASOURCE: &str = "[[grafana8.datasource]]\nid = \"metrics\"\nname = \"Metrics\"\n\
                                  type = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\nuid = \"metrics-uid\"\n";

/// A folder that stays, and a group in it naming the data source `Metrics` by name.
fn latency_group(threshold: &str) -> String {
    let group = "[[grafana8.folder]]\nid = \"keep\"\ntitle = \"Keep\"\n\n\
                 [[grafana8.alert_group]]\nid = \"latency\"\nfolder = \"keep\"\nname = \"Latency\"\n";
    format!("{group}{}", threshold_rule("Slow", "", "Metrics", "up == 0", threshold))
}

#[test]
fn a_data_source_a_kept_definition_still_names_is_not_deleted() {
    let group = latency_group("0");
    let grafana = Grafana::start(&format!("{METRICS_DATASOURCE}{group}"));
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The data source leaves the code; the group still names it, now resolved on the server.
    grafana.project.define(&group);
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @"
    ! delete grafana8/datasource.metrics — blocked: grafana8/alert_group.latency stays and uses it

    No changes. 1 delete blocked. 2 object(s) match their definitions.
    ");
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(grafana.api(Method::GET, "/api/datasources/uid/metrics-uid", None)["name"], "Metrics");
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "the project still plans: {stdout}{stderr}");
}

#[test]
fn a_folder_holding_a_library_panel_is_planned_as_blocked_and_never_deleted_with_it() {
    let grafana = Grafana::start(
        "[[grafana8.folder]]\nid = \"lib\"\ntitle = \"Lib\"\n\n[[grafana8.folder]]\nid = \"keep\"\ntitle = \"Keep\"\n",
    );
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let folder_id = grafana.api(Method::GET, "/api/folders/mac-lib", None)["id"].clone();
    let make_panel = || {
        let element = grafana.api(
            Method::POST,
            "/api/library-elements",
            Some(json!({ "folderId": folder_id, "name": "Shared panel", "kind": 1, "model": { "type": "text" } })),
        );
        element["result"]["uid"].as_str().expect("library panel made").to_owned()
    };
    let uid = make_panel();
    grafana.project.define("[[grafana8.folder]]\nid = \"keep\"\ntitle = \"Keep\"\n");
    // Grafana 8.5 would delete the panel with the folder: the plan shows the delete blocked,
    // and the apply does exactly that plan.
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout.replace(&uid, "UID"),
        "! delete grafana8/folder.lib — blocked: holds library panel \"Shared panel\" (uid UID) that mac does not \
         manage; move or delete it, or manage it\n\nNo changes. 1 delete blocked. 1 object(s) match their definitions.\n"
    );
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        grafana.api(Method::GET, &format!("/api/library-elements/{uid}"), None)["result"]["name"],
        "Shared panel"
    );

    // Made after a saved plan: the folder handler still refuses just before the delete.
    grafana.api(Method::DELETE, &format!("/api/library-elements/{uid}"), None);
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "-o", "clean.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("- delete grafana8/folder.lib"), "{stdout}");
    let uid = make_panel();
    let (code, stdout, _) = run(grafana.mac().args(["apply", "clean.plan", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("library panel `Shared panel`"), "{stdout}");
    assert_eq!(
        grafana.api(Method::GET, &format!("/api/library-elements/{uid}"), None)["result"]["name"],
        "Shared panel"
    );
}

#[test]
fn a_data_source_an_updated_definition_still_names_is_not_deleted() {
    let group = latency_group("0");
    let grafana = Grafana::start(&format!("{METRICS_DATASOURCE}{group}"));
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The data source leaves the code and the group changes in the same plan, still naming it.
    grafana.project.define(&latency_group("1"));
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout
            .contains("! delete grafana8/datasource.metrics — blocked: grafana8/alert_group.latency stays and uses it"),
        "{stdout}"
    );
}
