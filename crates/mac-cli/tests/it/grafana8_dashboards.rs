//! grafana8 dashboards and folder permissions end to end: the `mac` binary against the
//! Grafana 8.5 emulator (issue 6).

use grafana8_emulator::{EmulatorConfig, Role, Seed, SeedTeam, SeedUser};
use insta::assert_snapshot;
use reqwest::Method;
use serde_json::{Value, json};

use crate::grafana8::Grafana;
use crate::run;

/// An emulator with two users (alice, bob) and a team (SRE) besides the admin.
pub(crate) fn seeded(definitions: &str) -> Grafana {
    let user = |login: &str, role: Role| SeedUser {
        login: login.to_owned(),
        password: "secret".to_owned(),
        email: Some(format!("{login}@example.com")),
        name: None,
        role,
        org: 1,
        other_orgs: Default::default(),
    };
    let seed = Seed {
        users: vec![user("alice", Role::Editor), user("bob", Role::Viewer)],
        teams: vec![SeedTeam {
            name: "SRE".to_owned(),
            email: String::new(),
            org: 1,
            members: vec!["alice".to_owned()],
        }],
        ..Seed::default()
    };
    Grafana::start_with(definitions, Role::Admin, EmulatorConfig { seed, ..EmulatorConfig::default() })
}

/// The reads a command made, by route.
pub(crate) fn reads_during(grafana: &Grafana, command: impl FnOnce()) -> u64 {
    grafana.requests_during(command).values().sum()
}

/// A folder's ACL as (who, permission name), as Grafana lists it.
fn acl(grafana: &Grafana, uid: &str) -> Vec<(String, String)> {
    let rows = grafana.api(Method::GET, &format!("/api/folders/{uid}/permissions"), None);
    let mut found: Vec<(String, String)> = rows
        .as_array()
        .expect("a list of permissions")
        .iter()
        .map(|row| {
            let who = match (row["role"].as_str(), row["userLogin"].as_str(), row["team"].as_str()) {
                (Some(role), _, _) => format!("role:{role}"),
                (_, Some(login), _) if !login.is_empty() => format!("user:{login}"),
                (_, _, Some(team)) => format!("team:{team}"),
                _ => panic!("an unexpected row: {row}"),
            };
            (who, row["permissionName"].as_str().expect("a permission name").to_owned())
        })
        .collect();
    found.sort();
    found
}

pub(crate) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> =
        list.iter().map(|(who, permission)| ((*who).to_owned(), (*permission).to_owned())).collect();
    pairs.sort();
    pairs
}

const PERMISSIONS: &str = r#"
[[grafana8.folder]]
id = "payments"
title = "Payments"

[[grafana8.folder_permission]]
id = "payments"
folder = "payments"
permissions = [
  { role = "Viewer", permission = "View" },
  { user = "alice@example.com", permission = "Edit" },
  { team = "SRE", permission = "Admin" },
]
"#;

#[test]
fn folder_permissions_create_replan_edit_drift_prune() {
    let grafana = seeded(PERMISSIONS);
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create grafana8/folder.payments
        title = "Payments"
    + create grafana8/folder_permission.payments
        folder_uid = "(known after apply)"
        permissions = [
          { who = "role:Viewer", permission = "View" },
          { who = "user:alice", permission = "Edit" },
          { who = "team:SRE", permission = "Admin" },
        ]

    Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        acl(&grafana, "mac-payments"),
        pairs(&[("role:Viewer", "View"), ("user:alice", "Edit"), ("team:SRE", "Admin")])
    );

    // A clean re-plan, in a constant number of reads: health, org, the folder list (for
    // folders and again for permissions), one ACL per folder, the org's users and teams.
    let reads = reads_during(&grafana, || {
        let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "{stdout}");
    });
    assert_eq!(reads, 7);

    // One permission changed, and the entries reordered: exactly that entry shows.
    let edited = PERMISSIONS
        .replace("{ team = \"SRE\", permission = \"Admin\" },", "")
        .replace("permissions = [", "permissions = [\n  { team = \"SRE\", permission = \"Edit\" },");
    grafana.project.define(&edited);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/folder_permission.payments
        ~ permissions[who="team:SRE"].permission: "Admin" -> "Edit"

    Plan: 0 to create, 1 to update (1 permission changed), 0 to delete, 1 unchanged.
    "#);
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    assert_eq!(
        acl(&grafana, "mac-payments"),
        pairs(&[("role:Viewer", "View"), ("user:alice", "Edit"), ("team:SRE", "Edit")])
    );

    // Drift: someone gives bob Admin in the UI (the POST replaces the whole list).
    let bob = grafana.api(Method::GET, "/api/org/users/lookup?query=bob", None)[0]["userId"].clone();
    grafana.api(
        Method::POST,
        "/api/folders/mac-payments/permissions",
        Some(json!({ "items": [
            { "role": "Viewer", "permission": 1 },
            { "userId": bob, "permission": 4 },
        ]})),
    );
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/folder_permission.payments (drift: changed outside mac, restoring the code's version)
        + permissions[who="user:alice"]
            permission = "Edit"
        + permissions[who="team:SRE"]
            permission = "Edit"
        - permissions[who="user:bob"]
            permission = "Admin"

    Plan: 0 to create, 1 to update (2 permissions added, 1 permission removed), 0 to delete, 1 unchanged.
    "#);
    run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(
        acl(&grafana, "mac-payments"),
        pairs(&[("role:Viewer", "View"), ("user:alice", "Edit"), ("team:SRE", "Edit")])
    );

    // Pointed at another folder: that folder gets the list, the one it left the defaults.
    let moved = format!(
        "{}\n[[grafana8.folder]]\nid = \"billing\"\ntitle = \"Billing\"\n",
        edited.replace("folder = \"payments\"", "folder = \"billing\"")
    );
    grafana.project.define(&moved);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(acl(&grafana, "mac-payments"), pairs(&[("role:Viewer", "View"), ("role:Editor", "Edit")]));
    assert_eq!(
        acl(&grafana, "mac-billing"),
        pairs(&[("role:Viewer", "View"), ("user:alice", "Edit"), ("team:SRE", "Edit")])
    );
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    grafana.project.define(&edited);
    run(grafana.mac().args(["apply", "--auto-approve", "--allow-delete-all"]));

    // Prune: the folder keeps Grafana's default list, not an empty one.
    grafana.project.define("[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments\"\n");
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains("- delete grafana8/folder_permission.payments"), "{stdout}");
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(acl(&grafana, "mac-payments"), pairs(&[("role:Viewer", "View"), ("role:Editor", "Edit")]));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn folder_permissions_of_an_existing_folder_are_adopted_and_imported() {
    let grafana = seeded("");
    grafana.api(Method::POST, "/api/folders", Some(json!({ "uid": "ops-uid", "title": "Ops" })));
    grafana.api(Method::POST, "/api/folders", Some(json!({ "uid": "plain-uid", "title": "Plain" })));
    let team = grafana.api(Method::GET, "/api/teams/search?name=SRE", None)["teams"][0]["id"].clone();
    grafana.api(
        Method::POST,
        "/api/folders/ops-uid/permissions",
        Some(json!({ "items": [{ "role": "Editor", "permission": 1 }, { "teamId": team, "permission": 2 }] })),
    );

    let (code, stdout, stderr) =
        run(grafana.mac().args(["import", "grafana8", "--folder", "Ops", "--folder", "Plain"]));
    assert_eq!(code, 0, "{stderr}");
    // `Plain` has Grafana's default list: its folder is imported, its permissions are not.
    assert_snapshot!(stdout, @r"
    wrote definitions/ops.toml
    wrote definitions/plain.toml
    Imported 3 object(s) from `grafana8`; they are managed from now on. `mac plan` should show no changes.
    ");
    let file = std::fs::read_to_string(grafana.project.root().join("definitions/ops.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[grafana8.folder]]
    id = "ops"
    title = "Ops"
    uid = "ops-uid"

    [[grafana8.folder_permission]]
    id = "ops-permissions"
    folder = "ops"

    [[grafana8.folder_permission.permissions]]
    role = "Editor"
    permission = "View"

    [[grafana8.folder_permission.permissions]]
    team = "SRE"
    permission = "Edit"
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");

    // A definition for a folder mac does not manage takes its list over only with --adopt.
    grafana.project.write(
        "definitions/plain-permissions.toml",
        "[[grafana8.folder_permission]]\nid = \"plain\"\nfolder = { uid = \"plain-uid\" }\npermissions = [{ role = \"Viewer\", permission = \"View\" }]\n",
    );
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ adopt grafana8/folder_permission.plain (exists remotely but is not managed; applied only with --adopt)
        - permissions[who="role:Editor"]
            permission = "Edit"

    Plan: 0 to create, 0 to update, 0 to delete, 1 to adopt (1 permission removed), 3 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(acl(&grafana, "plain-uid"), pairs(&[("role:Viewer", "View")]));
}

#[test]
fn folder_permission_errors_are_located() {
    let grafana = seeded(&PERMISSIONS.replace("alice@example.com", "carol"));
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r#"error: definitions/main.toml:11:5: Grafana has no user `carol` in this org (looked up by login and by email), and no `user` of this project has login `carol` (defined here: none). To use a `user` defined here, write { ref = "user.ID", field = "login" }"#);

    grafana.project.define(&PERMISSIONS.replace("team = \"SRE\"", "team = \"DBA\""));
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r#"error: definitions/main.toml:12:5: Grafana has no team named `DBA` in this org (it has: SRE), and no `team` of this project has name `DBA` (defined here: none). To use a `team` defined here, write { ref = "team.ID", field = "name" }"#);

    grafana.project.define(&PERMISSIONS.replace("folder = \"payments\"", "folder = { uid = \"no-such-folder\" }"));
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: definitions/main.toml:8:1: there is no folder with uid `no-such-folder` in Grafana");

    grafana.project.define(
        &PERMISSIONS
            .replace("permission = \"Admin\"", "permission = \"Owner\"")
            .replace("role = \"Viewer\"", "role = \"Admin\""),
    );
    let (code, _, stderr) = run(grafana.mac().arg("validate"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r#"
    error: definitions/main.toml:10:5: role `Admin` cannot be granted: org Admins may always administer every folder; `role` must be Viewer or Editor
    definitions/main.toml:12:19: `permission` must be "View", "Edit" or "Admin", not "Owner"
    "#);
}

/// A dashboard as Grafana's "Export → Save to file" writes it: a collapsed row holding a
/// panel, a stat panel with thresholds (whose base step is `null`), server keys.
const EXPORTED: &str = r#"{
  "annotations": { "list": [{ "builtIn": 1, "name": "Annotations & Alerts", "type": "dashboard", "enable": true }] },
  "editable": true,
  "gnetId": null,
  "id": 12,
  "iteration": 1650000000000,
  "links": [],
  "panels": [
    { "id": 1, "type": "timeseries", "title": "Requests", "gridPos": { "h": 8, "w": 12, "x": 0, "y": 0 },
      "targets": [{ "refId": "A", "expr": "sum(rate(http_requests_total[5m]))" }] },
    { "id": 3, "type": "stat", "title": "Error ratio", "gridPos": { "h": 8, "w": 12, "x": 12, "y": 0 },
      "fieldConfig": { "defaults": { "thresholds": { "mode": "absolute", "steps": [
        { "color": "green", "value": null }, { "color": "red", "value": 80 } ] } }, "overrides": [] },
      "targets": [{ "refId": "A", "expr": "sum(rate(http_requests_total{status=~\"5..\"}[5m]))" }] },
    { "id": 4, "type": "row", "title": "Details", "collapsed": true, "gridPos": { "h": 1, "w": 24, "x": 0, "y": 8 },
      "panels": [{ "id": 5, "type": "table", "title": "Slowest routes", "gridPos": { "h": 8, "w": 24, "x": 0, "y": 9 } }] }
  ],
  "schemaVersion": 36,
  "tags": ["payments"],
  "time": { "from": "now-6h", "to": "now" },
  "title": "Payments overview",
  "uid": "payments-overview",
  "version": 7
}
"#;

/// The `payments` folder and, in it, the dashboard of `dashboards/payments.json`.
pub(crate) const PAYMENTS_OVERVIEW: &str = r#"
[[grafana8.folder]]
id = "payments"
title = "Payments"

[[grafana8.dashboard]]
id = "payments-overview"
folder = "payments"
json = { file = "dashboards/payments.json" }
"#;

/// [`PAYMENTS_OVERVIEW`] and an inline dashboard in the General folder.
fn dashboards() -> String {
    format!(
        r#"{PAYMENTS_OVERVIEW}
[[grafana8.dashboard]]
id = "on-call"
json = {{ title = "On call", panels = [{{ id = 1, type = "text", title = "Runbook", options = {{ content = "Page the SRE" }} }}] }}
"#
    )
}

fn dashboard(grafana: &Grafana, uid: &str) -> Value {
    grafana.api(Method::GET, &format!("/api/dashboards/uid/{uid}"), None)
}

#[test]
fn dashboards_create_replan_edit_drift_prune() {
    let grafana = seeded(&dashboards());
    grafana.project.write("dashboards/payments.json", EXPORTED);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let stored = dashboard(&grafana, "payments-overview");
    assert_eq!(stored["meta"]["folderUid"], "mac-payments");
    assert_eq!(stored["meta"]["version"], 1);
    assert_eq!(stored["dashboard"]["panels"][2]["panels"][0]["title"], "Slowest routes");
    // The inline dashboard lives in General, under a uid derived from its id.
    let on_call = dashboard(&grafana, "mac-on-call");
    assert_eq!(
        (on_call["dashboard"]["title"].clone(), on_call["meta"]["folderId"].clone()),
        (json!("On call"), json!(0))
    );

    // A clean re-plan: one search and one read per dashboard besides the folder list.
    let reads = reads_during(&grafana, || {
        let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "{stdout}");
    });
    assert_eq!(reads, 6, "health, org, folders, search, two dashboards");

    // A threshold edited in panel 3 of the file shows as exactly that path.
    grafana.project.write("dashboards/payments.json", &EXPORTED.replace(r#""value": 80"#, r#""value": 90"#));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    // The file's content is part of the definition: an edit of the file is a change in code,
    // not drift.
    assert_snapshot!(stdout, @"
    ~ update grafana8/dashboard.payments-overview
        ~ dashboard.panels[id=3].fieldConfig.defaults.thresholds.steps[1].value: 80 -> 90

    Plan: 0 to create, 1 to update (1 panel changed), 0 to delete, 2 unchanged.
    ");
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    let stored = dashboard(&grafana, "payments-overview");
    assert_eq!(stored["meta"]["version"], 2, "updated in place");
    assert_eq!(stored["dashboard"]["panels"][1]["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"], 90);

    // Drift: a panel inside the collapsed row is renamed in the UI.
    let mut edited = stored["dashboard"].clone();
    edited["panels"][2]["panels"][0]["title"] = json!("Slow routes");
    let saved = grafana.api(
        Method::POST,
        "/api/dashboards/db",
        Some(json!({ "dashboard": edited, "folderUid": "mac-payments" })),
    );
    assert_eq!(saved["status"], "success", "{saved}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert!(stdout.contains("(drift: changed outside mac"), "{stdout}");
    assert!(
        stdout.contains(r#"dashboard.panels[id=4].panels[id=5].title: "Slow routes" -> "Slowest routes""#),
        "{stdout}"
    );
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    assert_eq!(
        dashboard(&grafana, "payments-overview")["dashboard"]["panels"][2]["panels"][0]["title"],
        "Slowest routes"
    );

    // A uid changed in code renames the dashboard's uid in place (it is updated by id).
    grafana.project.define(&dashboards().replace("id = \"on-call\"\n", "id = \"on-call\"\nuid = \"on-call\"\n"));
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains(r#"dashboard.uid: "mac-on-call" -> "on-call""#), "{stdout}");
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    let renamed = dashboard(&grafana, "on-call");
    assert_eq!(
        (renamed["dashboard"]["id"].clone(), renamed["meta"]["version"].clone()),
        (on_call["dashboard"]["id"].clone(), json!(2))
    );
    assert_eq!(dashboard(&grafana, "mac-on-call")["message"], "Dashboard not found");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    grafana.project.define(&dashboards());
    run(grafana.mac().args(["apply", "--auto-approve"]));

    // A change made after the plan is refused, not overwritten: found by the saved plan's
    // check before any write (and, should it land between that check and the write, by
    // Grafana's version check).
    grafana.project.write("dashboards/payments.json", &EXPORTED.replace("Payments overview", "Payments"));
    let (_, stdout, _) = run(grafana.mac().args(["plan", "-o", "reviewed.plan"]));
    assert!(stdout.contains(r#"dashboard.title: "Payments overview" -> "Payments""#), "{stdout}");
    let mut meanwhile = dashboard(&grafana, "payments-overview")["dashboard"].clone();
    meanwhile["tags"] = json!(["payments", "edited"]);
    grafana.api(
        Method::POST,
        "/api/dashboards/db",
        Some(json!({ "dashboard": meanwhile, "folderUid": "mac-payments" })),
    );
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "reviewed.plan", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}");
    assert!(stderr.contains(r#"dashboard.tags[1]: (absent) -> "edited""#), "{stderr}");
    assert!(stderr.contains("re-plan to review it"), "{stderr}");
    assert_eq!(dashboard(&grafana, "payments-overview")["dashboard"]["tags"], json!(["payments", "edited"]));

    // Prune: the inline dashboard leaves code and Grafana.
    grafana.project.write("dashboards/payments.json", EXPORTED);
    grafana.project.define(PAYMENTS_OVERVIEW);
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains("- delete grafana8/dashboard.on-call"), "{stdout}");
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    assert_eq!(dashboard(&grafana, "mac-on-call")["message"], "Dashboard not found");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");

    // Everything leaves: the dashboard goes before its folder, which is then empty.
    grafana.project.define("");
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve", "--allow-delete-all"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(dashboard(&grafana, "payments-overview")["message"], "Dashboard not found");
    assert_eq!(grafana.api(Method::GET, "/api/folders", None), json!([]));
}

#[test]
fn dashboards_import_round_trips_to_an_empty_plan() {
    let grafana = seeded("");
    grafana.api(Method::POST, "/api/folders", Some(json!({ "uid": "ops-uid", "title": "Ops" })));
    let mut model: Value = serde_json::from_str(EXPORTED).expect("the export is JSON");
    model["id"] = Value::Null;
    model["uid"] = json!("ops-overview");
    let saved =
        grafana.api(Method::POST, "/api/dashboards/db", Some(json!({ "dashboard": model, "folderUid": "ops-uid" })));
    assert_eq!(saved["status"], "success", "{saved}");
    grafana.api(
        Method::POST,
        "/api/dashboards/db",
        Some(json!({ "dashboard": { "title": "Home", "panels": [{ "id": 1, "type": "text" }] } })),
    );

    let (code, stdout, stderr) = run(grafana.mac().args(["import", "grafana8", "--folder", "Ops"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @"
    wrote definitions/dashboards/payments-overview.json
    wrote definitions/ops.toml
    Imported 2 object(s) from `grafana8`; they are managed from now on. `mac plan` should show no changes.
    ");
    // The dashboard is Grafana's JSON in a file of its own, referred to by the definition.
    let file = std::fs::read_to_string(grafana.project.root().join("definitions/ops.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[grafana8.folder]]
    id = "ops"
    title = "Ops"
    uid = "ops-uid"

    [[grafana8.dashboard]]
    id = "payments-overview"
    folder = "ops"
    json = { file = "definitions/dashboards/payments-overview.json" }
    "#);
    let json_path = grafana.project.root().join("definitions/dashboards/payments-overview.json");
    let json = std::fs::read_to_string(&json_path).expect("the dashboard's JSON file");
    let written: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(written["uid"], "ops-overview", "{json}");
    assert!(written.get("id").is_none() && written.get("version").is_none(), "{json}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert_snapshot!(stdout, @"No changes. 2 object(s) match their definitions.");

    // The imported definition is an ordinary one: an edit of its JSON is planned.
    assert!(json.contains("\"value\": 80"), "{json}");
    std::fs::write(&json_path, json.replace("\"value\": 80", "\"value\": 95")).expect("edit");
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(
        stdout.contains("dashboard.panels[id=3].fieldConfig.defaults.thresholds.steps[1].value: 80 -> 95"),
        "{stdout}"
    );
}

#[test]
fn dashboard_errors_are_located() {
    let grafana = seeded(&dashboards());
    let (code, _, stderr) = run(grafana.mac().arg("validate"));
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: definitions/main.toml:9:10: cannot read dashboards/payments.json: "),
        "{stderr}"
    );

    grafana.project.write("dashboards/payments.json", "{\n  \"title\": \"Payments\",\n  \"panels\": [,]\n}\n");
    let (code, _, stderr) = run(grafana.mac().arg("validate"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: dashboards/payments.json:3:14: invalid JSON: expected value");

    grafana.project.write("dashboards/payments.json", r#"{ "panels": [] }"#);
    grafana.project.define(&dashboards().replace("title = \"On call\", ", ""));
    let (code, _, stderr) = run(grafana.mac().arg("validate"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @r"
    error: definitions/main.toml:9:10: the dashboard has no `title` in dashboards/payments.json; give it one there, or set `title` in the definition
    definitions/main.toml:13:1: the dashboard has no `title`; give it one there, or set `title` in the definition
    ");
}
