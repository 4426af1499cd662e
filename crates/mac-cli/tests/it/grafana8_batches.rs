//! Requests at the round-trip limit: what creates and prunes of alert groups and folders ask
//! Grafana, counted by route. A create reads the uids of new rules back once per folder, a
//! prune looks each folder up once, and the checks of folder deletes are a constant number of
//! requests, whatever the number of groups and folders.

use std::collections::BTreeMap;

use grafana8_emulator::{FaultConfig, FaultKind, FaultRule};
use reqwest::Method;

use crate::grafana8::{Grafana, threshold_rule};
use crate::run;

/// Folders `f0` and `f1` (titled "Folder 0" and "Folder 1") with three groups each, and two
/// groups in the folder `hand` that mac does not manage, given by uid.
fn folders_and_groups() -> String {
    let mut toml = String::new();
    for folder in 0..2 {
        toml.push_str(&format!("[[grafana8.folder]]\nid = \"f{folder}\"\ntitle = \"Folder {folder}\"\n\n"));
        for group in 0..3 {
            toml.push_str(&group_in(
                &format!("f{folder}-g{group}"),
                &format!("\"f{folder}\""),
                &format!("{folder}-{group}"),
            ));
        }
    }
    for group in 0..2 {
        toml.push_str(&group_in(&format!("hand-g{group}"), "{ uid = \"hand\" }", &format!("hand-{group}")));
    }
    toml
}

fn group_in(id: &str, folder: &str, rule: &str) -> String {
    let rule = threshold_rule(&format!("Rule {rule}"), "", "Prometheus", "up", "0");
    format!("[[grafana8.alert_group]]\nid = \"{id}\"\nfolder = {folder}\nname = \"{id}\"\n{rule}\n")
}

/// Requests by (method, route), as the emulator counts them.
type Requests = BTreeMap<(String, String), u64>;

/// `mac ARGS`: its exit code and output, and the requests it made.
fn run_counting(grafana: &Grafana, args: &[&str]) -> ((i32, String, String), Requests) {
    let mut outcome = (0, String::new(), String::new());
    let requests = grafana.requests_during(|| outcome = run(grafana.mac().args(args)));
    (outcome, requests)
}

fn count(requests: &Requests, method: &str, route: &str) -> u64 {
    requests.get(&(method.to_owned(), route.to_owned())).copied().unwrap_or(0)
}

const NAMESPACE: &str = "/api/ruler/grafana/api/v1/rules/{Namespace}";
const GROUP: &str = "/api/ruler/grafana/api/v1/rules/{Namespace}/{Groupname}";

fn grafana_with_hand_made_folder(definitions: &str) -> Grafana {
    let grafana = Grafana::start(definitions);
    let folder =
        grafana.api(Method::POST, "/api/folders", Some(serde_json::json!({ "uid": "hand", "title": "By hand" })));
    assert_eq!(folder["uid"], "hand", "{folder}");
    grafana
}

#[test]
fn a_create_reads_uids_back_once_per_folder_and_a_prune_looks_each_folder_up_once() {
    let grafana = grafana_with_hand_made_folder(&folders_and_groups());
    let ((code, stdout, stderr), requests) = run_counting(&grafana, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(count(&requests, "POST", "/api/folders"), 2, "{requests:?}");
    assert_eq!(count(&requests, "POST", NAMESPACE), 8, "one POST per group: {requests:?}");
    assert_eq!(count(&requests, "GET", NAMESPACE), 3, "one read-back per folder: {requests:?}");
    assert_eq!(count(&requests, "GET", GROUP), 0, "no read-back per group: {requests:?}");
    assert_eq!(
        count(&requests, "GET", "/api/folders/{uid}"),
        1,
        "the folder given by uid, looked up once: {requests:?}"
    );
    // The uids were read back and recorded: the project plans as no change, and an edit
    // updates its rule in place.
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    let uid_of = |grafana: &Grafana| {
        grafana.api(Method::GET, "/api/ruler/grafana/api/v1/rules/Folder%201/f1-g2", None)["rules"][0]["grafana_alert"]
            ["uid"]
            .clone()
    };
    let uid = uid_of(&grafana);
    assert!(uid.as_str().is_some_and(|uid| !uid.is_empty()), "{uid}");
    grafana
        .project
        .define(&folders_and_groups().replace("title = \"Rule 1-2\"\n", "title = \"Rule 1-2\"\nfor = \"5m\"\n"));
    let ((code, stdout, stderr), requests) = run_counting(&grafana, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(uid_of(&grafana), uid, "updated in place");
    assert_eq!(count(&requests, "GET", NAMESPACE), 0, "an update of known rules reads nothing back: {requests:?}");

    // The prune, from a saved plan so that only the apply's own requests are counted.
    grafana.project.define("");
    let (code, stdout, stderr) =
        run(grafana.mac().args(["plan", "--allow-delete-all", "--allow-mass-delete", "-o", "prune.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let ((code, stdout, stderr), requests) = run_counting(&grafana, &["apply", "prune.plan", "--auto-approve"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(count(&requests, "DELETE", GROUP), 8, "{requests:?}");
    assert_eq!(count(&requests, "GET", "/api/folders/{uid}"), 3, "each folder's title once: {requests:?}");
    assert_eq!(count(&requests, "DELETE", "/api/folders/{uid}"), 2, "{requests:?}");
    // What the two folders hold besides rules: one search and one library-elements read for
    // both, and no ruler read (Grafana refuses a folder with rules itself).
    assert_eq!(count(&requests, "GET", "/api/search"), 1, "{requests:?}");
    assert_eq!(count(&requests, "GET", "/api/library-elements"), 1, "{requests:?}");
    assert_eq!(count(&requests, "GET", NAMESPACE), 0, "{requests:?}");
    assert_eq!(grafana.api(Method::GET, "/api/ruler/grafana/api/v1/rules", None), serde_json::json!({}));
}

#[test]
fn a_folder_that_gained_a_dashboard_since_the_plan_is_refused_and_the_others_are_deleted() {
    let two_folders = "[[grafana8.folder]]\nid = \"keep\"\ntitle = \"Keep\"\n\n\
                       [[grafana8.folder]]\nid = \"empty\"\ntitle = \"Empty\"\n";
    let grafana = Grafana::start(two_folders);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.project.define("");
    let (code, stdout, stderr) = run(grafana.mac().args(["plan", "--allow-delete-all", "-o", "prune.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    grafana.hand_made_dashboard("board", "Made in the UI", "mac-keep", serde_json::json!([]));
    let (code, stdout, _) = run(grafana.mac().args(["apply", "prune.plan", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "refusing to delete folder `Keep`: it still holds what mac does not manage, which Grafana would delete \
             with it: dashboard `Made in the UI`."
        ),
        "{stdout}"
    );
    assert_eq!(grafana.api(Method::GET, "/api/dashboards/uid/board", None)["dashboard"]["title"], "Made in the UI");
    assert_eq!(grafana.api(Method::GET, "/api/folders/mac-keep", None)["title"], "Keep");
    assert_eq!(grafana.api(Method::GET, "/api/folders/mac-empty", None)["message"], "folder not found");
}

/// A create whose read-back is lost: the groups are written but not recorded. They stay
/// recorded as pending, as after a kill between the POST and the read-back, and the next run
/// adopts them without `--adopt` and without writing them again.
#[test]
fn groups_written_whose_read_back_failed_are_adopted_by_the_next_run() {
    let definitions = "[[grafana8.folder]]\nid = \"f0\"\ntitle = \"Folder 0\"\n\n".to_owned()
        + &group_in("g0", "\"f0\"", "0")
        + &group_in("g1", "\"f0\"", "1");
    let grafana = Grafana::start(&definitions);
    // No retries, so that the failure is quick.
    let settings = std::fs::read_to_string(grafana.project.root().join("mac.toml")).expect("mac.toml");
    grafana.project.write("mac.toml", &format!("{settings}retries = 1\n"));
    grafana.emulator.set_faults(FaultConfig {
        seed: 7,
        latency: None,
        rules: vec![FaultRule {
            method: Some("GET".to_owned()),
            route: Some(NAMESPACE.to_owned()),
            fault: FaultKind::Status500,
            nth: None,
            probability: None,
            retry_after_secs: None,
        }],
    });
    let (code, stdout, _) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}");
    let rules = grafana.api(Method::GET, "/api/ruler/grafana/api/v1/rules", None);
    assert_eq!(rules["Folder 0"].as_array().map(Vec::len), Some(2), "written: {rules}");

    grafana.emulator.set_faults(FaultConfig::default());
    let ((code, stdout, stderr), requests) = run_counting(&grafana, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "adopted without --adopt: {stdout}{stderr}");
    assert_eq!(count(&requests, "POST", NAMESPACE), 0, "not written again: {requests:?}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    let rules = grafana.api(Method::GET, "/api/ruler/grafana/api/v1/rules", None);
    assert_eq!(rules["Folder 0"].as_array().map(Vec::len), Some(2), "no duplicate: {rules}");
}

#[test]
fn a_group_moved_to_another_folder_is_read_back_at_once_and_recorded_in_its_new_place() {
    let grafana = grafana_with_hand_made_folder(&folders_and_groups());
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // f0-g1 moves from "Folder 0" to "Folder 1": written in its new place, its old place
    // cleared, then read back on its own (it has no pending record to be found by if the run
    // died before its folder's batch were read back).
    grafana.project.define(&folders_and_groups().replacen(
        "folder = \"f0\"\nname = \"f0-g1\"",
        "folder = \"f1\"\nname = \"f0-g1\"",
        1,
    ));
    let ((code, stdout, stderr), requests) = run_counting(&grafana, &["apply", "--auto-approve"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(count(&requests, "POST", NAMESPACE), 1, "{requests:?}");
    assert_eq!(count(&requests, "DELETE", GROUP), 1, "the old place: {requests:?}");
    assert_eq!(count(&requests, "GET", GROUP), 1, "read back at once: {requests:?}");
    assert_eq!(count(&requests, "GET", NAMESPACE), 0, "not parked for a batch: {requests:?}");
    let moved = grafana.api(Method::GET, "/api/ruler/grafana/api/v1/rules/Folder%201/f0-g1", None);
    assert_eq!(moved["rules"][0]["grafana_alert"]["title"], "Rule 0-1", "{moved}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "recorded in its new place: {stdout}");
}

#[test]
fn a_folder_renamed_while_its_groups_are_deleted_loses_them_under_its_new_title() {
    let grafana = grafana_with_hand_made_folder(&folders_and_groups());
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // "Folder 0" becomes "Folder zero" and its three groups go, in one apply: the deletes
    // address the groups by the folder's title, so they must wait for the rename, or they
    // would go to a title Grafana no longer has (404) and leave the groups behind.
    let mut toml = String::from("[[grafana8.folder]]\nid = \"f0\"\ntitle = \"Folder zero\"\n\n");
    toml.push_str(
        &folders_and_groups()
            .split("[[grafana8.folder]]\nid = \"f1\"")
            .nth(1)
            .map(|rest| format!("[[grafana8.folder]]\nid = \"f1\"{rest}"))
            .expect("f1"),
    );
    grafana.project.define(&toml);
    let (code, stdout, stderr) = run(grafana.mac().args(["apply", "--auto-approve", "--parallelism", "8"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let renamed = grafana.api(Method::GET, "/api/ruler/grafana/api/v1/rules/Folder%20zero", None);
    assert_eq!(renamed, serde_json::json!({}), "no group left in the renamed folder: {renamed}");
    let (code, stdout, _) = run(grafana.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}
