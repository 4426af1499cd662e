//! grafana8 content kinds end to end — dashboard permissions, library panels and the org's
//! preferences: the `mac` binary against the Grafana 8.5 emulator (issue 20).

use insta::assert_snapshot;
use reqwest::Method;
use serde_json::json;

use crate::grafana8::Grafana;
use crate::grafana8_dashboards::{pairs, seeded};
use crate::run;

/// A dashboard's own ACL rows as (who, permission name), as Grafana lists them.
fn dashboard_acl(grafana: &Grafana, uid: &str) -> Vec<(String, String)> {
    let id = grafana.api(Method::GET, &format!("/api/dashboards/uid/{uid}"), None)["dashboard"]["id"].clone();
    let rows = grafana.api(Method::GET, &format!("/api/dashboards/id/{id}/permissions"), None);
    let mut found: Vec<(String, String)> = rows
        .as_array()
        .expect("a list of permissions")
        .iter()
        .filter(|row| row["inherited"] != json!(true))
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

const DASHBOARD_PERMISSIONS: &str = r#"
[[grafana8.folder]]
id = "ops"
title = "Ops"

[[grafana8.dashboard]]
id = "overview"
folder = "ops"
json = { title = "Overview", panels = [] }

[[grafana8.dashboard_permission]]
id = "overview"
dashboard = { ref = "dashboard.overview" }
permissions = [
  { user = "alice", permission = "Edit" },
  { team = "SRE", permission = "Admin" },
]
"#;

#[test]
fn dashboard_permissions_create_replan_edit_drift_import_prune() {
    let grafana = seeded(DASHBOARD_PERMISSIONS);
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create grafana8/folder.ops
        title = "Ops"
    + create grafana8/dashboard.overview
        folder_uid = "(known after apply)"
        dashboard = { title = "Overview", uid = "mac-overview" }
    + create grafana8/dashboard_permission.overview
        dashboard_uid = "(known after apply)"
        permissions = [
          { who = "user:alice", permission = "Edit" },
          { who = "team:SRE", permission = "Admin" },
        ]

    Plan: 3 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(dashboard_acl(&grafana, "mac-overview"), pairs(&[("user:alice", "Edit"), ("team:SRE", "Admin")]));

    // A clean re-plan: health, org, the folder list, the dashboard search (for dashboards and
    // again for their permissions), one dashboard GET and one ACL GET per dashboard, the
    // org's users and teams.
    let requests = grafana.requests_during(|| {
        let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "{stdout}");
    });
    let acl_reads = requests.get(&("GET".to_owned(), "/api/dashboards/id/{dashboard_id}/permissions".to_owned()));
    assert_eq!(acl_reads, Some(&1), "one ACL read per dashboard: {requests:?}");
    assert_eq!(requests.values().sum::<u64>(), 9, "{requests:?}");

    // One permission changed: exactly that entry shows.
    let edited = DASHBOARD_PERMISSIONS.replace("permission = \"Admin\"", "permission = \"View\"");
    grafana.project.define(&edited);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/dashboard_permission.overview
        ~ permissions[who="team:SRE"].permission: "Admin" -> "View"

    Plan: 0 to create, 1 to update (1 permission changed), 0 to delete, 2 unchanged.
    "#);
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    assert_eq!(dashboard_acl(&grafana, "mac-overview"), pairs(&[("user:alice", "Edit"), ("team:SRE", "View")]));

    // Drift: someone gives bob Admin in the UI (the POST replaces the whole list).
    let bob = grafana.api(Method::GET, "/api/org/users/lookup?query=bob", None)[0]["userId"].clone();
    let id = grafana.api(Method::GET, "/api/dashboards/uid/mac-overview", None)["dashboard"]["id"].clone();
    grafana.api(
        Method::POST,
        &format!("/api/dashboards/id/{id}/permissions"),
        Some(json!({ "items": [{ "userId": bob, "permission": 4 }] })),
    );
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/dashboard_permission.overview (drift: changed outside mac, restoring the code's version)
        + permissions[who="user:alice"]
            permission = "Edit"
        + permissions[who="team:SRE"]
            permission = "View"
        - permissions[who="user:bob"]
            permission = "Admin"

    Plan: 0 to create, 1 to update (2 permissions added, 1 permission removed), 0 to delete, 2 unchanged.
    "#);
    run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(dashboard_acl(&grafana, "mac-overview"), pairs(&[("user:alice", "Edit"), ("team:SRE", "View")]));

    // Prune: the dashboard keeps its folder's permissions only.
    grafana.project.define(&edited[..edited.find("[[grafana8.dashboard_permission]]").expect("the permission")]);
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert!(stdout.contains("- delete grafana8/dashboard_permission.overview"), "{stdout}");
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(dashboard_acl(&grafana, "mac-overview"), pairs(&[]));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn dashboard_permissions_are_imported_and_adopted() {
    let grafana = seeded("");
    grafana.hand_made_dashboard("general-uid", "Home", "", json!([]));
    grafana.hand_made_dashboard("plain-uid", "Plain", "", json!([]));
    let id = grafana.api(Method::GET, "/api/dashboards/uid/general-uid", None)["dashboard"]["id"].clone();
    let team = grafana.api(Method::GET, "/api/teams/search?name=SRE", None)["teams"][0]["id"].clone();
    grafana.api(
        Method::POST,
        &format!("/api/dashboards/id/{id}/permissions"),
        Some(json!({ "items": [{ "role": "Viewer", "permission": 1 }, { "teamId": team, "permission": 2 }] })),
    );
    let (code, stdout, stderr) = run(grafana.mac().args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    wrote definitions/dashboards/home.json
    wrote definitions/dashboards/plain.json
    wrote definitions/contact-points.toml
    wrote definitions/datasources.toml
    wrote definitions/general.toml
    wrote definitions/home.toml
    wrote definitions/teams.toml
    Imported 6 object(s) from `grafana8`; they are managed from now on. `mac plan` should show no changes.
    "#);
    let file = std::fs::read_to_string(grafana.project.root().join("definitions/home.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[grafana8.dashboard_permission]]
    id = "home-permissions"
    dashboard = { ref = "dashboard.home" }

    [[grafana8.dashboard_permission.permissions]]
    role = "Viewer"
    permission = "View"

    [[grafana8.dashboard_permission.permissions]]
    team = "SRE"
    permission = "Edit"
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");

    // A definition for a dashboard whose list mac does not manage takes it over only with --adopt.
    grafana.project.write(
        "definitions/plain-permissions.toml",
        "[[grafana8.dashboard_permission]]\nid = \"plain\"\ndashboard = \"plain-uid\"\npermissions = [{ role = \"Viewer\", permission = \"View\" }]\n",
    );
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ adopt grafana8/dashboard_permission.plain (exists remotely but is not managed; applied only with --adopt)
        - permissions[who="role:Editor"]
            permission = "Edit"

    Plan: 0 to create, 0 to update, 0 to delete, 1 to adopt (1 permission removed), 6 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(dashboard_acl(&grafana, "plain-uid"), pairs(&[("role:Viewer", "View")]));

    // An unknown user is an error at its entry, before any write.
    grafana.project.write(
        "definitions/plain-permissions.toml",
        "[[grafana8.dashboard_permission]]\nid = \"plain\"\ndashboard = \"plain-uid\"\npermissions = [{ user = \"carol\", permission = \"View\" }]\n",
    );
    let (code, _, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 1, "{stderr}");
    assert_snapshot!(stderr, @r#"error: definitions/plain-permissions.toml:4:18: Grafana has no user `carol` in this org (looked up by login and by email), and no `user` of this project has login `carol` (defined here: none). To use a `user` defined here, write { ref = "user.ID", field = "login" }"#);
}

const ORG_PREFERENCES: &str = r#"
[[grafana8.dashboard]]
id = "home"
json = { title = "Home", panels = [] }

[[grafana8.org_preferences]]
id = "org"
home_dashboard = { ref = "dashboard.home" }
theme = "dark"
"#;

/// The org's preferences as Grafana answers them: (theme, home dashboard id, timezone).
fn preferences(grafana: &Grafana) -> (String, i64, String) {
    let prefs = grafana.api(Method::GET, "/api/org/preferences", None);
    (
        prefs["theme"].as_str().expect("a theme").to_owned(),
        prefs["homeDashboardId"].as_i64().expect("an id"),
        prefs["timezone"].as_str().expect("a timezone").to_owned(),
    )
}

#[test]
fn org_preferences_adopt_replan_edit_drift_prune_owning_only_their_fields() {
    let grafana = seeded(ORG_PREFERENCES);
    // Set by hand and not defined: mac leaves it alone.
    grafana.api(Method::PATCH, "/api/org/preferences", Some(json!({ "timezone": "utc" })));
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create grafana8/dashboard.home
        dashboard = { title = "Home", uid = "mac-home" }
    ~ adopt grafana8/org_preferences.org (exists remotely but is not managed; applied only with --adopt)
        ~ home_dashboard: "" -> "(known after apply)"
        ~ theme: "" -> "dark"

    Plan: 1 to create, 0 to update, 0 to delete, 1 to adopt, 0 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stdout}");
    let home = grafana.api(Method::GET, "/api/dashboards/uid/mac-home", None)["dashboard"]["id"].as_i64().expect("id");
    assert_eq!(preferences(&grafana), ("dark".to_owned(), home, "utc".to_owned()));

    // A clean re-plan reads the preferences once, and searches once for the home dashboard's uid.
    let requests = grafana.requests_during(|| {
        let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "{stdout}");
    });
    let prefs_reads = requests.get(&("GET".to_owned(), "/api/org/preferences".to_owned()));
    assert_eq!(prefs_reads, Some(&1), "{requests:?}");

    // One field changed.
    let edited = ORG_PREFERENCES.replace("theme = \"dark\"", "theme = \"light\"");
    grafana.project.define(&edited);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/org_preferences.org
        ~ theme: "dark" -> "light"

    Plan: 0 to create, 1 to update, 0 to delete, 1 unchanged.
    "#);
    let (code, _, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    assert_eq!(preferences(&grafana), ("light".to_owned(), home, "utc".to_owned()));

    // Drift in an owned field is repaired; the timezone, not owned, may change freely.
    grafana.api(Method::PATCH, "/api/org/preferences", Some(json!({ "homeDashboardId": 0, "timezone": "browser" })));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/org_preferences.org (drift: changed outside mac, restoring the code's version)
        ~ home_dashboard: "" -> "mac-home"

    Plan: 0 to create, 1 to update, 0 to delete, 1 unchanged.
    "#);
    run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(preferences(&grafana), ("light".to_owned(), home, "browser".to_owned()));

    // A second definition is refused at its line: one org, one set of preferences.
    grafana.project.define(&format!("{edited}\n[[grafana8.org_preferences]]\nid = \"again\"\ntheme = \"dark\"\n"));
    let (code, _, stderr) = run(grafana.mac().arg("validate"));
    assert_eq!(code, 1, "{stderr}");
    assert_snapshot!(stderr, @"error: definitions/main.toml:11:1: an organisation has one set of preferences, already defined as `org_preferences.org`; a second org is a second provider instance");

    // Prune: the preferences go back to Grafana's defaults.
    grafana.project.define(&edited[..edited.find("[[grafana8.org_preferences]]").expect("the preferences")]);
    let (_, stdout, _) = run(grafana.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    - delete grafana8/org_preferences.org (the org's preferences: theme, home dashboard, timezone and week start are reset to Grafana's defaults)

    Plan: 0 to create, 0 to update, 1 to delete, 1 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(preferences(&grafana), (String::new(), 0, String::new()));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn org_preferences_are_imported_to_an_empty_plan() {
    let grafana = seeded("");
    grafana.hand_made_dashboard("start-uid", "Start", "", json!([]));
    let id = grafana.api(Method::GET, "/api/dashboards/uid/start-uid", None)["dashboard"]["id"].clone();
    grafana.api(Method::PATCH, "/api/org/preferences", Some(json!({ "homeDashboardId": id, "weekStart": "monday" })));
    let (code, _, stderr) = run(grafana.mac().args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    let file =
        std::fs::read_to_string(grafana.project.root().join("definitions/org-preferences.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[grafana8.org_preferences]]
    id = "org"
    week_start = "monday"
    home_dashboard = { ref = "dashboard.start" }
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

const LIBRARY_PANEL: &str = r#"
[[grafana8.folder]]
id = "shared"
title = "Shared"

[[grafana8.library_panel]]
id = "errors"
folder = "shared"
name = "Error rate"
model = { type = "stat", title = "Errors", options = { colorMode = "background" } }
"#;

const USING_DASHBOARD: &str = r#"
[[grafana8.dashboard]]
id = "overview"
json = { title = "Overview", panels = [
  { id = 1, gridPos = { h = 8, w = 12, x = 0, y = 0 }, libraryPanel = { uid = { ref = "library_panel.errors" }, name = "Error rate" } },
] }
"#;

/// A library panel as Grafana answers it.
fn library_panel(grafana: &Grafana, uid: &str) -> serde_json::Value {
    grafana.api(Method::GET, &format!("/api/library-elements/{uid}"), None)["result"].clone()
}

#[test]
fn library_panels_create_replan_edit_drift_and_a_used_one_is_not_deleted() {
    let grafana = seeded(&format!("{LIBRARY_PANEL}{USING_DASHBOARD}"));
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create grafana8/folder.shared
        title = "Shared"
    + create grafana8/library_panel.errors
        folder_uid = "(known after apply)"
        name = "Error rate"
        model = { options = { colorMode = "background" }, title = "Errors", type = "stat" }
    + create grafana8/dashboard.overview
        dashboard = {
          panels = [
            {
              id = 1
              gridPos = { h = 8, w = 12, x = 0, y = 0 }
              libraryPanel = { uid = "(known after apply)" }
            },
          ]
          title = "Overview"
          uid = "mac-overview"
        }

    Plan: 3 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    let panel = library_panel(&grafana, "mac-errors");
    assert_eq!((panel["name"].as_str(), panel["meta"]["folderName"].as_str()), (Some("Error rate"), Some("Shared")));
    assert_eq!(panel["meta"]["connectedDashboards"], 1, "{panel}");

    // A clean re-plan reads the library panels with one request, and the dashboard that
    // uses one compares only its reference to it.
    let requests = grafana.requests_during(|| {
        let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "{stdout}");
    });
    let panel_reads = requests.get(&("GET".to_owned(), "/api/library-elements".to_owned()));
    assert_eq!(panel_reads, Some(&1), "{requests:?}");

    // One field of the model changed.
    let edited = LIBRARY_PANEL.replace("colorMode = \"background\"", "colorMode = \"value\"");
    grafana.project.define(&format!("{edited}{USING_DASHBOARD}"));
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/library_panel.errors
        ~ model.options.colorMode: "background" -> "value"

    Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(library_panel(&grafana, "mac-errors")["model"]["options"]["colorMode"], "value");

    // Drift: someone renames it in the UI.
    let version = library_panel(&grafana, "mac-errors")["version"].clone();
    grafana.api(
        Method::PATCH,
        "/api/library-elements/mac-errors",
        Some(json!({ "name": "Errors!", "kind": 1, "version": version, "folderId": -1 })),
    );
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update grafana8/library_panel.errors (drift: changed outside mac, restoring the code's version)
        ~ name: "Errors!" -> "Error rate"

    Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(library_panel(&grafana, "mac-errors")["name"], "Error rate");

    // Prune while a dashboard still uses it: blocked at plan time, naming the dashboard.
    let kept = USING_DASHBOARD.replace("{ ref = \"library_panel.errors\" }", "\"mac-errors\"");
    grafana.project.define(&format!("[[grafana8.folder]]\nid = \"shared\"\ntitle = \"Shared\"\n{kept}"));
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    ! delete grafana8/library_panel.errors — blocked: holds dashboard "Overview" (uid mac-overview) (grafana8/dashboard.overview), which this plan leaves there; move it elsewhere or delete it in code

    No changes. 1 delete blocked. 2 object(s) match their definitions.
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(library_panel(&grafana, "mac-errors")["name"], "Error rate");

    // Once no dashboard uses it, it is deleted.
    grafana.project.define("[[grafana8.folder]]\nid = \"shared\"\ntitle = \"Shared\"\n");
    // Deleting two of three managed objects needs saying so; the dashboard goes first (Grafana
    // 8.5.4 disconnects its library panels when it deletes it, pkg/api/dashboard.go:263-264),
    // so the library panel it used is deleted in the same apply.
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve", "--allow-mass-delete"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Apply complete: 0 created, 0 updated, 2 deleted, 0 failed"), "{stdout}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    let gone = grafana.api(Method::GET, "/api/library-elements?kind=1", None);
    assert_eq!(gone["result"]["totalCount"], 0, "{gone}");
}

#[test]
fn library_panels_and_dashboards_using_them_are_imported_to_an_empty_plan() {
    let grafana = seeded("");
    let folder = grafana.api(Method::POST, "/api/folders", Some(json!({ "uid": "lib-uid", "title": "Library" })));
    let made = grafana.api(
        Method::POST,
        "/api/library-elements",
        Some(json!({ "folderId": folder["id"], "name": "Latency", "kind": 1, "uid": "latency-uid",
                     "model": { "type": "timeseries", "title": "p95" } })),
    );
    assert_eq!(made["result"]["uid"], "latency-uid", "{made}");
    grafana.hand_made_dashboard(
        "board-uid",
        "Board",
        "",
        json!([{ "id": 1, "gridPos": { "h": 8, "w": 12, "x": 0, "y": 0 },
                 "libraryPanel": { "uid": "latency-uid", "name": "Latency" } }]),
    );
    let (code, stdout, stderr) = run(grafana.mac().args(["import", "grafana8"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("wrote definitions/library.toml"), "{stdout}");
    let file = std::fs::read_to_string(grafana.project.root().join("definitions/library.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[grafana8.folder]]
    id = "library"
    title = "Library"
    uid = "lib-uid"

    [[grafana8.library_panel]]
    id = "latency"
    folder = "library"
    name = "Latency"
    uid = "latency-uid"
    model = { file = "definitions/library_panels/latency.json" }
    "#);
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

/// Offline checks point at the definition's line; `mac fmt` puts each kind's keys in its
/// schema's order; `mac schema` describes every field.
#[test]
fn content_kinds_validate_offline_format_and_describe_themselves() {
    let grafana = seeded("");
    grafana.project.define(
        r#"
[[grafana8.library_panel]]
model = { type = "stat" }
name = " "
id = "errors"

[[grafana8.dashboard_permission]]
permissions = [{ role = "Admin", permission = "View" }]
dashboard = "some-uid"
id = "board"

[[grafana8.org_preferences]]
theme = "blue"
id = "org"
"#,
    );
    let (code, _, stderr) = run(grafana.mac().arg("validate"));
    assert_eq!(code, 1, "{stderr}");
    assert_snapshot!(stderr, @r#"
    error: definitions/main.toml:8:18: role `Admin` cannot be granted: org Admins may always administer every dashboard; `role` must be Viewer or Editor
    definitions/main.toml:4:1: `name` must be a non-empty string
    definitions/main.toml:13:1: `theme` must be one of "", "light", "dark", not "blue"
    "#);

    let (code, stdout, stderr) = run(grafana.mac().args(["fmt", "definitions/main.toml"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("definitions/main.toml"), "{stdout}");
    let formatted = std::fs::read_to_string(grafana.project.root().join("definitions/main.toml")).expect("readable");
    assert_snapshot!(formatted, @r#"
    [[grafana8.library_panel]]
    id = "errors"
    name = " "
    model = { type = "stat" }

    [[grafana8.dashboard_permission]]
    id = "board"
    dashboard = "some-uid"
    permissions = [{ role = "Admin", permission = "View" }]

    [[grafana8.org_preferences]]
    id = "org"
    theme = "blue"
    "#);

    let (code, stdout, stderr) = run(grafana.mac().args(["schema", "grafana8.org_preferences"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    grafana8.org_preferences: An `org_preferences` definition: the fields set are owned, the others left as they are.
      home_dashboard  string                                   The home dashboard's uid: `{ ref = "dashboard.ID" }` for one defined here; `""` for Grafana's default home.
      theme           "" | "light" | "dark"                    The UI theme: `light`, `dark`, or `""` for the server's default.
      timezone        string                                   The default timezone: `browser`, `utc`, an IANA zone such as `Europe/Paris`, or `""` for the default.
      week_start      "" | "monday" | "saturday" | "sunday"    The first day of the week: `monday`, `saturday`, `sunday`, or `""` for the browser's.

    Every [[PROVIDER.KIND]] table also takes:
      id        string  required       The definition's local id, unique per kind and provider instance: letters, digits, `_`, `-`, `.` and `:`.
      provider  string                 The provider instance, such as `PROVIDER.eu`, when not the default `PROVIDER`.
      protect   bool    default false  Never delete this object, even when its definition goes.
    A string field's value may be { ref = "KIND.ID", field = "FIELD" }: that object's field, known once it exists.
    In a template, a value that is exactly "%{param}" takes the parameter's value, of any type.
    "#);
}

/// Grafana 8.5.4 answers a move of a library panel to General as done but never stores it:
/// the apply says so instead of repeating the change every run.
#[test]
fn a_library_panel_cannot_be_moved_back_to_general() {
    let grafana = seeded(LIBRARY_PANEL);
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}");
    grafana.project.define(&LIBRARY_PANEL.replace("folder = \"shared\"\n", ""));
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("definitions/main.toml:6:1: update grafana8/library_panel.errors: Grafana 8.5 cannot move a library panel back to General"), "{stdout}\n{stderr}");
    assert_eq!(library_panel(&grafana, "mac-errors")["meta"]["folderName"], "Shared");
}
