//! `mac show`: a saved plan as `mac plan` printed it, and what state manages.

use insta::assert_snapshot;

use crate::{Project, TWO_FOLDERS, run};

#[test]
fn a_saved_plan_is_shown_as_plan_showed_it() {
    let project = Project::new(TWO_FOLDERS);
    let (code, planned, _) = run(project.mac().args(["plan", "-o", "saved.plan"]));
    assert_eq!(code, 0);
    let (code, shown, stderr) = run(project.mac().args(["show", "saved.plan"]));
    assert_eq!(code, 0, "{stderr}");
    let (plan_text, saved_line) = planned.split_once("Saved the plan to").expect("plan -o says it saved");
    assert!(shown.starts_with(plan_text), "the same plan text:\n{shown}\n---\n{plan_text}");
    assert!(saved_line.contains("saved.plan"));
    assert_snapshot!(&shown[plan_text.len()..], @"Saved plan saved.plan: made for environment (none) and state .mac/state.json at serial 0. Apply exactly it with: mac apply saved.plan");

    // JSON: exactly what `mac plan --json` printed.
    let (_, planned_json, _) = run(project.mac().args(["plan", "--json"]));
    let (code, shown_json, _) = run(project.mac().args(["show", "saved.plan", "--json"]));
    assert_eq!(code, 0);
    assert_eq!(shown_json, planned_json);

    // Something else: said so.
    project.write("not-a-plan.json", "{}");
    let (code, _, stderr) = run(project.mac().args(["show", "not-a-plan.json"]));
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: not-a-plan.json is not a plan saved by `mac plan -o` (or it was damaged)"),
        "{stderr}"
    );
}

#[test]
fn without_a_plan_show_lists_what_state_manages() {
    let project = Project::new(&format!("{TWO_FOLDERS}\n"));
    let (code, shown, _) = run(project.mac().arg("show"));
    assert_eq!(code, 0);
    assert_snapshot!(shown, @"./.mac/state.json manages nothing yet: `mac apply` or `mac import` starts it.");

    let protected = TWO_FOLDERS.replacen("title = \"Team A\"", "title = \"Team A\"\nprotect = true", 1);
    project.define(&protected);
    run(project.mac().args(["apply", "--auto-approve"]));
    let (code, shown, _) = run(project.mac().arg("show"));
    assert_eq!(code, 0);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.root().join(".mac/state.json")).expect("state"))
            .expect("JSON");
    let lineage = state["lineage"].as_str().expect("a lineage");
    // Groups get their remote ids in the order the parallel apply created them.
    let shown = shown
        .replace(lineage, "LINEAGE")
        .replace("remote id g1", "remote id gN")
        .replace("remote id g2", "remote id gN");
    assert_snapshot!(shown, @r"
    ./.mac/state.json: 4 managed object(s), serial 3, lineage LINEAGE.

    testfs (4 object(s))
      folder.a        remote id mac-a  (protected)
      folder.b        remote id mac-b
      group.a-alerts  remote id gN
      group.b-alerts  remote id gN
    ");

    let (code, json, _) = run(project.mac().args(["show", "--json"]));
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["serial"], 3);
    assert_eq!(json["lineage"], lineage);
    assert_eq!(json["objects"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        json["objects"][0],
        serde_json::json!({
            "id": "testfs/folder.a", "provider": "testfs", "kind": "folder", "local_id": "a",
            "remote_id": "mac-a", "protect": true, "depends_on": []
        })
    );
    assert_eq!(json["interrupted_creates"], serde_json::json!([]));
}
