//! Deletes checked against what lives in and uses the deleted objects (`mac_core::links`):
//! blocked when something that stays lives in them, a warning when something uses them.

use std::collections::BTreeSet;

use mac_core::links::{deletable_remote_ids, kinds_for_deletes};
use mac_core::state::StateEntry;
use mac_core::{ApplyOptions, LinkedObject, ObjectId, Relation, State};
use serde_json::json;

use crate::{Harness, TWO_FOLDERS, summary};

/// TWO_FOLDERS without folder `a` and its group.
fn only_b() -> String {
    let start = TWO_FOLDERS.find("[[testfs.folder]]\nid = \"b\"").expect("folder b");
    let group_a = TWO_FOLDERS.find("[[testfs.group]]\nid = \"a-alerts\"").expect("group a");
    let group_b = TWO_FOLDERS.find("[[testfs.group]]\nid = \"b-alerts\"").expect("group b");
    format!("{}{}", &TWO_FOLDERS[start..group_a], &TWO_FOLDERS[group_b..])
}

fn hand_made_group(harness: &Harness, remote_id: &str, folder_uid: &str, uses: &[&str]) {
    harness.remote.put(
        "group",
        remote_id,
        json!({ "name": remote_id, "folder_uid": folder_uid, "interval": "1m", "rules": [], "uses": uses }),
    );
}

#[tokio::test]
async fn a_delete_of_a_folder_holding_an_unmanaged_group_is_blocked_kept_and_shown_again() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    hand_made_group(&harness, "hand", "mac-a", &[]);

    let plan = harness.plan(&only_b()).await.expect("plan");
    assert_eq!(summary(&plan), ["delete group.a-alerts"], "the folder's delete is not an action");
    assert_eq!(plan.blocked.len(), 1, "{:?}", plan.blocked);
    let blocked = &plan.blocked[0];
    assert_eq!(blocked.id, ObjectId::new("testfs", "folder", "a"));
    assert_eq!(
        blocked.holds,
        [LinkedObject {
            kind: "group".into(),
            remote_id: "hand".into(),
            title: Some("hand".into()),
            uid: None,
            managed_as: None
        }]
    );
    assert_eq!(blocked.reason, "holds group \"hand\" that mac does not manage; move or delete it, or manage it");

    let report = harness.apply(&plan, &ApplyOptions::default()).await.expect("apply");
    assert!(report.succeeded(), "a plan executed as shown succeeds: {report:?}");
    assert_eq!(report.kept, plan.blocked);
    assert!(!harness.remote.log().iter().any(|line| line.starts_with("delete folder")), "{:?}", harness.remote.log());
    assert!(harness.remote.objects("folder").contains_key("mac-a"));
    assert!(harness.state().get(&ObjectId::new("testfs", "folder", "a")).is_some(), "kept in state");

    let again = harness.plan(&only_b()).await.expect("plan");
    assert!(!again.has_changes(), "{:?}", again.actions);
    assert_eq!(again.blocked, plan.blocked, "shown again");

    // Once the group is gone, the folder is deleted.
    harness.remote.remove("group", "hand");
    let plan = harness.plan(&only_b()).await.expect("plan");
    assert_eq!(summary(&plan), ["delete folder.a"]);
    assert!(plan.blocked.is_empty());
}

#[tokio::test]
async fn managed_objects_the_plan_deletes_or_moves_away_do_not_block() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    // a-alerts moves to folder b; folder a leaves the code.
    let start = TWO_FOLDERS.find("[[testfs.folder]]\nid = \"b\"").expect("folder b");
    let moved = TWO_FOLDERS[start..].replace("folder = \"a\"", "folder = \"b\"");
    let plan = harness.plan(&moved).await.expect("plan");
    assert_eq!(summary(&plan), ["update group.a-alerts", "delete folder.a"]);
    assert!(plan.blocked.is_empty() && plan.warnings.is_empty());
    let report = harness.apply(&plan, &ApplyOptions::default()).await.expect("apply");
    assert!(report.succeeded(), "{report:?}");
}

#[tokio::test]
async fn a_delete_of_an_object_others_use_goes_ahead_with_a_warning_naming_them() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    hand_made_group(&harness, "reader", "mac-b", &["mac-a"]);
    hand_made_group(&harness, "other", "mac-b", &["mac-b"]);
    let plan = harness.plan(&only_b()).await.expect("plan");
    assert_eq!(summary(&plan), ["delete group.a-alerts", "delete folder.a"]);
    assert!(plan.blocked.is_empty());
    let warnings: Vec<(String, &str)> =
        plan.warnings.iter().map(|warning| (warning.id.to_string(), warning.message.as_str())).collect();
    assert_eq!(
        warnings,
        [(
            "testfs/folder.a".to_owned(),
            "deleting it leaves group \"reader\", which mac does not manage, using it: they will break"
        )]
    );
}

#[tokio::test]
async fn a_delete_that_a_kept_object_needs_is_kept_too() {
    let harness = Harness::new();
    // Folder `c` takes its title from folder `a`: state records that it uses `a`.
    let with_c =
        format!("{TWO_FOLDERS}\n[[testfs.folder]]\nid = \"c\"\ntitle = {{ ref = \"folder.a\", field = \"title\" }}\n");
    harness.converge(&with_c).await;
    hand_made_group(&harness, "hand", "mac-c", &[]);
    // `c`, `a` and a's group leave the code.
    let plan = harness.plan(&only_b()).await.expect("plan");
    let blocked: Vec<(String, &str)> =
        plan.blocked.iter().map(|blocked| (blocked.id.to_string(), blocked.reason.as_str())).collect();
    assert_eq!(
        blocked,
        [
            ("testfs/folder.a".to_owned(), "testfs/folder.c stays and needs it"),
            (
                "testfs/folder.c".to_owned(),
                "holds group \"hand\" that mac does not manage; move or delete it, or manage it"
            ),
        ]
    );
    assert_eq!(plan.blocked[0].needed_by, [ObjectId::new("testfs", "folder", "c")]);
    assert_eq!(summary(&plan), ["delete group.a-alerts"]);
    let report = harness.apply(&plan, &ApplyOptions::default()).await.expect("apply");
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(harness.remote.objects("folder").len(), 3, "no folder deleted");
}

#[test]
fn the_kinds_to_read_for_deletes_are_those_relating_to_a_deletable_kind_and_not_read_anyway() {
    let harness = Harness::new();
    let mut state = State::empty();
    state.upsert(StateEntry::new(ObjectId::new("testfs", "folder", "a"), "mac-a"));
    let folder_only = deletable_remote_ids([], &state);
    state.upsert(StateEntry::new(ObjectId::new("testfs", "group", "a-alerts"), "group-a"));
    let folder_and_group = deletable_remote_ids([], &state);
    let group_only = deletable_remote_ids([&ObjectId::new("testfs", "folder", "a")], &state);
    let folders_only: BTreeSet<(String, String)> = [("testfs".to_owned(), "folder".to_owned())].into();
    // Nothing to delete: nothing more to read.
    let nothing = deletable_remote_ids(
        [&ObjectId::new("testfs", "folder", "a"), &ObjectId::new("testfs", "group", "a-alerts")],
        &state,
    );
    assert!(nothing.is_empty());
    assert!(kinds_for_deletes(&harness.providers, &nothing, &folders_only).is_empty());
    // A folder may be deleted: its groups are read, for both relations.
    let kinds = kinds_for_deletes(&harness.providers, &folder_only, &folders_only);
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [(("testfs".to_owned(), "group".to_owned()), BTreeSet::from([Relation::LivesIn, Relation::Uses]))]
    );
    // Groups are read in full anyway.
    let both: BTreeSet<(String, String)> =
        [("testfs".to_owned(), "folder".to_owned()), ("testfs".to_owned(), "group".to_owned())].into();
    assert!(kinds_for_deletes(&harness.providers, &folder_and_group, &both).is_empty());
    // A group may be deleted: nothing lives in or uses groups.
    assert!(kinds_for_deletes(&harness.providers, &group_only, &folders_only).is_empty());
}
