//! `recheck`: before a saved plan is applied, the objects it writes or deletes are re-read
//! (one list per kind involved) and compared with the fingerprints the plan recorded.

use mac_core::{Fingerprint, Movement, Operation, RecheckError, recheck};
use mac_test_provider::folder_uid;
use serde_json::json;

use crate::{Harness, TWO_FOLDERS};

fn moved(result: Result<(), RecheckError>) -> Vec<(String, Operation, Movement)> {
    match result {
        Ok(()) => Vec::new(),
        Err(RecheckError::Moved(moved)) => {
            moved.into_iter().map(|moved| (moved.id.short(), moved.operation, moved.how)).collect()
        }
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn only_a_move_of_an_object_the_plan_writes_or_deletes_refuses_it() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    // Reviewed: folder a renamed, group b-alerts deleted, a folder c created.
    let changed = TWO_FOLDERS
        .replace("Team A", "Team A2")
        .split("[[testfs.group]]\nid = \"b-alerts\"")
        .next()
        .map(|head| format!("{head}\n[[testfs.folder]]\nid = \"c\"\ntitle = \"Team C\"\n"));
    let plan = harness.plan(&changed.expect("split")).await.expect("plan");
    let fingerprints: Vec<(String, Option<&Fingerprint>)> =
        plan.actions.iter().map(|action| (action.id.short(), action.fingerprint.as_ref())).collect();
    assert!(
        matches!(fingerprints.as_slice(), [(a, Some(Fingerprint::Observed(_))), (c, Some(Fingerprint::Absent)), (b, Some(Fingerprint::Observed(_)))]
            if a == "folder.a" && c == "folder.c" && b == "group.b-alerts"),
        "{fingerprints:?}"
    );

    // Nothing moved: one list per kind the plan writes.
    let lists = harness.remote.lists();
    assert_eq!(moved(recheck(&plan, &harness.providers).await), []);
    assert_eq!(harness.remote.lists() - lists, 2, "folders and groups, each listed once");

    // An object the plan does not write changed: no reason to refuse.
    harness.remote.put("folder", &folder_uid("b"), json!({ "title": "Team B, renamed by hand" }));
    assert_eq!(moved(recheck(&plan, &harness.providers).await), []);

    // What it writes, deletes or creates moved.
    harness.remote.put("folder", &folder_uid("a"), json!({ "title": "Renamed by hand" }));
    harness.remote.put("folder", &folder_uid("c"), json!({ "title": "Made by hand" }));
    let group = plan.actions.iter().find(|action| action.id.local_id == "b-alerts").and_then(|a| a.remote.as_ref());
    harness.remote.remove("group", &group.expect("group b-alerts").remote_id);
    let found = moved(recheck(&plan, &harness.providers).await);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0].0, "folder.a");
    assert!(
        matches!(&found[0].2, Movement::Changed(changes) if changes.len() == 1 && changes[0].path == "title"
            && changes[0].old_value() == Some(json!("Team A")) && changes[0].new_value() == Some(json!("Renamed by hand"))),
        "{found:?}"
    );
    assert_eq!(found[1], ("folder.c".to_owned(), Operation::Create, Movement::Created { remote_id: folder_uid("c") }));
    assert_eq!(found[2], ("group.b-alerts".to_owned(), Operation::Delete, Movement::Deleted));
}
