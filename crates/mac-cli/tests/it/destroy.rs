//! `mac destroy`: deletes what mac manages, with every guard of a prune.

use insta::assert_snapshot;
use reqwest::Method;
use serde_json::json;

use crate::grafana8::Grafana;
use crate::{Project, TWO_FOLDERS, run};

#[test]
fn destroy_deletes_every_managed_object_with_the_guards_of_a_prune() {
    let project = Project::new(TWO_FOLDERS);
    run(project.mac().args(["apply", "--auto-approve"]));
    let before = project.remote();

    // Four of four is more than the share: the flag, as for a prune.
    let (code, stdout, stderr) = run(project.mac().arg("destroy"));
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_snapshot!(stderr, @"error: refusing to delete 4 of 4 managed objects (more than the allowed share of 0.5): review the plan, then pass --allow-mass-delete, or raise [safety] max_delete_share");

    // Not on a terminal: the plan is shown, nothing deleted without --auto-approve.
    let (code, stdout, stderr) = run(project.mac().args(["destroy", "--allow-mass-delete"]));
    assert_eq!(code, 1);
    assert_snapshot!(stdout, @r#"
    - delete testfs/group.a-alerts (group of 2 rule(s) in folder "mac-a")
    - delete testfs/group.b-alerts (group of 1 rule(s) in folder "mac-b")
    - delete testfs/folder.a (folder "Team A", uid "mac-a")
    - delete testfs/folder.b (folder "Team B", uid "mac-b")

    Plan: 0 to create, 0 to update, 4 to delete, 0 unchanged.
    "#);
    assert_snapshot!(stderr, @"error: refusing to destroy without confirmation: standard input is not a terminal. Review the plan, then pass --auto-approve");
    assert_eq!(project.remote(), before);

    let (code, stdout, stderr) = run(project.mac().args(["destroy", "--allow-mass-delete", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Apply complete: 0 created, 0 updated, 4 deleted, 0 failed"), "{stdout}");
    assert_eq!(project.remote(), json!({ "folder": {}, "group": {} }));
    let (_, listed, _) = run(project.mac().args(["state", "list"]));
    assert_eq!(listed, "No managed objects in ./.mac/state.json.\n");

    // The definitions are untouched: the next plan creates everything again.
    let (_, stdout, _) = run(project.mac().arg("plan"));
    assert!(stdout.contains("Plan: 4 to create"), "{stdout}");
    let (code, stdout, _) = run(project.mac().args(["destroy", "--auto-approve"]));
    assert_eq!((code, stdout.as_str()), (0, "Nothing to destroy: no object is managed there.\n"));
}

#[test]
fn destroying_a_target_takes_what_needs_it_and_changes_nothing_else() {
    let project = Project::new(TWO_FOLDERS);
    run(project.mac().args(["apply", "--auto-approve"]));
    // A pending change elsewhere is not destroy's business.
    project.define(&TWO_FOLDERS.replace("title = \"Team A\"", "title = \"Team A, renamed\""));

    let (code, stdout, stderr) = run(project.mac().args(["destroy", "--target", "folder.b", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let shown = stdout.split("Apply complete").next().unwrap_or_default();
    assert_snapshot!(shown, @r#"
    note: testfs/group.b-alerts is destroyed too: it needs an object that --target destroys
    - delete testfs/group.b-alerts (group of 1 rule(s) in folder "mac-b")
    - delete testfs/folder.b (folder "Team B", uid "mac-b")

    Plan: 0 to create, 0 to update, 2 to delete, 1 unchanged.
    "#);
    let remote = project.remote();
    assert_eq!(remote["folder"]["mac-a"]["title"], "Team A", "the rename was not applied");
    assert!(remote["folder"].get("mac-b").is_none(), "{remote}");

    // Protected when last applied (the code no longer says so, not applied yet): refused,
    // whatever the flags, as a prune is.
    project.define(&TWO_FOLDERS.replacen("title = \"Team A\"", "title = \"Team A\"\nprotect = true", 1));
    run(project.mac().args(["apply", "--auto-approve"]));
    project.define(TWO_FOLDERS);
    let (code, _, stderr) =
        run(project.mac().args(["destroy", "--target", "testfs", "--allow-mass-delete", "--auto-approve"]));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: refusing to delete `testfs/folder.a`: it is protected (protect = true when last applied). Set protect = false in its definition and apply, then remove it");
    assert_eq!(project.remote()["folder"]["mac-a"]["title"], "Team A");
}

#[test]
fn destroy_keeps_a_folder_holding_what_mac_does_not_manage() {
    let grafana = Grafana::start(
        "[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments\"\n\n\
         [[grafana8.folder]]\nid = \"archive\"\ntitle = \"Archive\"\n",
    );
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.hand_made_dashboard("abc", "Overview", "mac-payments", json!([]));

    let (code, stdout, stderr) =
        run(grafana.mac().args(["destroy", "--target", "grafana8", "--allow-mass-delete", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    - delete grafana8/folder.archive (folder "Archive", uid "mac-archive")
    ! delete grafana8/folder.payments — blocked: holds dashboard "Overview" (uid abc) that mac does not manage; move or delete it, or manage it

    Plan: 0 to create, 0 to update, 1 to delete, 1 delete blocked, 0 unchanged.
    kept: grafana8/folder.payments — holds dashboard "Overview" (uid abc) that mac does not manage; move or delete it, or manage it
    Apply complete: 0 created, 0 updated, 1 deleted, 0 failed, 0 skipped, 1 kept.
    "#);
    assert_eq!(grafana.api(Method::GET, "/api/folders/mac-payments", None)["title"], "Payments");
    assert_eq!(grafana.api(Method::GET, "/api/dashboards/uid/abc", None)["dashboard"]["title"], "Overview");
}

#[test]
fn destroy_refuses_what_the_code_protects_names_what_is_not_managed_and_what_must_change_first() {
    let project = Project::new(TWO_FOLDERS);
    run(project.mac().args(["apply", "--auto-approve"]));
    let before = project.remote();

    // Protected in the code, not yet applied: refused all the same.
    project.define(&TWO_FOLDERS.replacen("title = \"Team A\"", "title = \"Team A\"\nprotect = true", 1));
    let (code, _, stderr) = run(project.mac().args(["destroy", "--target", "folder.a", "--auto-approve"]));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: refusing to destroy `testfs/folder.a`: its definition says protect = true. Set protect = false and apply, then destroy");
    let (code, _, _) = run(project.mac().args(["destroy", "--allow-mass-delete", "--auto-approve"]));
    assert_eq!(code, 1, "nor with everything");
    assert_eq!(project.remote(), before);

    // Defined, never applied: nothing of it to destroy.
    project.define(&format!("{TWO_FOLDERS}\n[[testfs.folder]]\nid = \"new\"\ntitle = \"New\"\n"));
    let (code, _, stderr) = run(project.mac().args(["destroy", "--target", "folder.new"]));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: `folder.new` is defined but not managed (it was never applied): there is nothing of it to destroy");

    // A group moved out of folder a in the code, not yet applied: it still uses folder a on the
    // server, so destroying a needs that change first.
    project.define(&TWO_FOLDERS.replacen("folder = \"a\"", "folder = \"b\"", 1));
    let (code, _, stderr) = run(project.mac().args(["destroy", "--target", "folder.a", "--auto-approve"]));
    assert_eq!(code, 1);
    assert_snapshot!(stderr, @"error: testfs/group.a-alerts stays, but as last applied it uses an object this destroy deletes, and its change (update) is not applied yet: apply that change first, or --target testfs/group.a-alerts too");
    assert_eq!(project.remote(), before);
}

#[test]
fn a_folder_renamed_by_a_moved_block_is_still_kept_when_it_holds_what_mac_does_not_manage() {
    // One folder: no other delete makes the plan read dashboards.
    let folders = "[[grafana8.folder]]\nid = \"payments\"\ntitle = \"Payments\"\n";
    let grafana = Grafana::start(folders);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.hand_made_dashboard("abc", "Overview", "mac-payments", json!([]));
    // Renamed in the code: dashboards are no kind in use, so they are read only because the
    // renamed folder may be deleted.
    grafana.project.define(&format!(
        "{}\n[[moved]]\nfrom = \"grafana8.folder.payments\"\nto = \"grafana8.folder.payments2\"\n",
        folders.replacen("id = \"payments\"", "id = \"payments2\"\nuid = \"mac-payments\"", 1)
    ));
    let (code, stdout, stderr) = run(grafana.mac().arg("plan"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("grafana8/folder.payments2"), "moved: {stdout}");

    let (code, stdout, stderr) = run(grafana.mac().args(["destroy", "--allow-mass-delete", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("! delete grafana8/folder.payments2"), "blocked, as without the move:\n{stdout}");
    assert_eq!(grafana.api(Method::GET, "/api/dashboards/uid/abc", None)["dashboard"]["title"], "Overview");
}
