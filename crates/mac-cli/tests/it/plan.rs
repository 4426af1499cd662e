//! `mac plan`: human and JSON output, exit codes, saved plans.

use insta::{assert_json_snapshot, assert_snapshot};

use crate::{Project, TWO_FOLDERS, run};

#[test]
fn a_plan_from_empty_shows_every_create() {
    let project = Project::new(TWO_FOLDERS);
    let (code, stdout, _) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "changes");
    assert_snapshot!(stdout, @r#"
    + create testfs/folder.a
        title = "Team A"
        uid = "mac-a"
    + create testfs/folder.b
        title = "Team B"
        uid = "mac-b"
    + create testfs/group.a-alerts
        folder_uid = "(known after apply)"
        interval = "60s"
        rules = [
          { title = "High error rate", expr = "errors > 1", for = "300s" },
          { title = "Slow", expr = "latency > 2", for = "600s" },
        ]
    + create testfs/group.b-alerts
        folder_uid = "(known after apply)"
        interval = "30s"
        rules = [{ title = "Down", expr = "up == 0", for = "0s" }]

    Plan: 4 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);
}

#[test]
fn after_apply_a_plan_is_empty_and_exits_zero() {
    let project = Project::new(TWO_FOLDERS);
    let (code, _, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0);
    assert_snapshot!(stdout, @"No changes. 4 object(s) match their definitions.");
}

#[test]
fn an_edit_shows_only_the_changed_field() {
    let project = Project::new(TWO_FOLDERS);
    run(project.mac().args(["apply", "--auto-approve"]));
    project.define(&TWO_FOLDERS.replace("errors > 1", "errors > 5").replace("Team B", "Team Bee"));
    let (code, stdout, _) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2);
    assert_snapshot!(stdout, @r#"
    ~ update testfs/folder.b
        ~ title: "Team B" -> "Team Bee"
    ~ update testfs/group.a-alerts
        ~ rules[title="High error rate"].expr: "errors > 1" -> "errors > 5"

    Plan: 0 to create, 2 to update (1 rule changed), 0 to delete, 2 unchanged.
    "#);
}

#[test]
fn json_output_has_a_stable_schema() {
    let project = Project::new(TWO_FOLDERS);
    run(project.mac().args(["apply", "--auto-approve"]));
    project.define(&TWO_FOLDERS.replace("errors > 1", "errors > 5"));
    let (code, stdout, _) = run(project.mac().args(["plan", "--json"]));
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_json_snapshot!(json, @r#"
    {
      "format_version": 1,
      "has_changes": true,
      "summary": {
        "create": 0,
        "recreate": 0,
        "adopt": 0,
        "update": 1,
        "delete": 0,
        "forget": 0,
        "move": 0,
        "unchanged": 3,
        "blocked": 0,
        "update_items": {
          "rules": {
            "added": 0,
            "removed": 0,
            "changed": 1
          }
        }
      },
      "actions": [
        {
          "id": "testfs/group.a-alerts",
          "provider": "testfs",
          "kind": "group",
          "local_id": "a-alerts",
          "operation": "update",
          "drift": false,
          "resumed": false,
          "changes": [
            {
              "path": "rules[title=\"High error rate\"].expr",
              "old": "errors > 1",
              "new": "errors > 5"
            }
          ],
          "items": [
            {
              "list": "rules",
              "key": "title",
              "value": "High error rate",
              "change": "changed"
            }
          ],
          "description": null
        }
      ],
      "warnings": [],
      "blocked": []
    }
    "#);
}

#[test]
fn drift_and_deletes_are_marked() {
    let project = Project::new(TWO_FOLDERS);
    run(project.mac().args(["apply", "--auto-approve"]));
    // Someone renames folder a in the remote's UI; folder b and its group leave the code.
    let mut remote = project.remote();
    remote["folder"]["mac-a"]["title"] = "Renamed by hand".into();
    std::fs::write(project.root().join("remote.json"), remote.to_string()).expect("write");
    let only_a = TWO_FOLDERS.split("[[testfs.group]]\nid = \"b-alerts\"").next().unwrap_or_default();
    project.define(&only_a.replace("[[testfs.folder]]\nid = \"b\"\ntitle = \"Team B\"\n", ""));
    let (_, stdout, _) = run(project.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ update testfs/folder.a (drift: changed outside mac, restoring the code's version)
        ~ title: "Renamed by hand" -> "Team A"
    - delete testfs/group.b-alerts (group of 1 rule(s) in folder "mac-b")
    - delete testfs/folder.b (folder "Team B", uid "mac-b")

    Plan: 0 to create, 1 to update, 2 to delete, 1 unchanged.
    "#);
}

#[test]
fn removing_every_definition_is_refused_without_the_flag() {
    let project = Project::new(TWO_FOLDERS);
    run(project.mac().args(["apply", "--auto-approve"]));
    project.define("");
    let (code, _, stderr) = run(project.mac().arg("plan"));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: refusing to delete all 4 managed object(s) of `testfs`: no definitions for it were found. If that is really intended, pass --allow-delete-all");
    let (code, stdout, _) = run(project.mac().args(["plan", "--allow-delete-all"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("Plan: 0 to create, 0 to update, 4 to delete"), "{stdout}");
}

/// Two instances of testfs: `testfs` and `testfs.eu`, each with a folder.
fn two_instances() -> Project {
    let project = Project::empty();
    project.write(
        "mac.toml",
        "[providers.testfs]\nfile = \"remote.json\"\n\n[providers.\"testfs.eu\"]\nfile = \"remote-eu.json\"\n",
    );
    project.define(
        "[[testfs.folder]]\nid = \"a\"\ntitle = \"A\"\n\n\
         [[testfs.folder]]\nid = \"a\"\nprovider = \"testfs.eu\"\ntitle = \"A in the EU\"\n\n\
         [[testfs.folder]]\nid = \"b\"\nprovider = \"testfs.eu\"\ntitle = \"B in the EU\"\n",
    );
    project
}

#[test]
fn a_target_names_an_instance_or_an_object_of_one() {
    let project = two_instances();
    let (code, stdout, stderr) = run(project.mac().args(["plan", "--target", "testfs.eu"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(stdout, @r#"
    + create testfs.eu/folder.a
        title = "A in the EU"
        uid = "mac-a"
    + create testfs.eu/folder.b
        title = "B in the EU"
        uid = "mac-b"

    Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);

    // `folder.a` is in both instances; `INSTANCE/KIND.ID` picks one.
    let (_, stdout, _) = run(project.mac().args(["plan", "--target", "folder.a"]));
    assert!(stdout.contains("testfs/folder.a") && stdout.contains("testfs.eu/folder.a"), "{stdout}");
    let (_, stdout, _) = run(project.mac().args(["plan", "--target", "testfs/folder.a"]));
    assert!(stdout.contains("+ create testfs/folder.a") && !stdout.contains("testfs.eu"), "{stdout}");

    let (code, _, stderr) = run(project.mac().args(["plan", "--target", "testfs.us"]));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: no defined or managed object matches --target testfs.us");
    let (code, _, stderr) = run(project.mac().args(["plan", "--target", "payments"]));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: --target `payments` is neither KIND.ID, INSTANCE/KIND.ID nor a provider instance of this project (configured: testfs, testfs.eu)");
}
