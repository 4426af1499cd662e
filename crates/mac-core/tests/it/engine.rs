//! Planning and applying.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use mac_core::state::{StateError, StateLock, StateStore};

use mac_core::apply::Outcome;
use mac_core::plan::Operation;
use mac_core::{ApplyError, ApplyOptions, FileStateStore, LocalRef, PlanError, PlanOptions, State, Target};
use mac_test_provider::{Faults, Remote, folder_uid};
use serde_json::json;

use crate::{Harness, TWO_FOLDERS, operations, summary};

#[tokio::test]
async fn creates_in_dependency_order_and_a_replan_is_empty() {
    let harness = Harness::new();
    let plan = harness.converge(TWO_FOLDERS).await;
    assert_eq!(
        summary(&plan),
        ["create folder.a", "create folder.b", "create group.a-alerts", "create group.b-alerts"]
    );
    // Four writes, counted: the "nothing was written" checks of other tests rely on the count.
    assert_eq!(harness.remote.writes(), 4);
    let log = harness.remote.log();
    let position = |entry: &str| log.iter().position(|line| line == entry).expect(entry);
    assert!(position("create folder.a") < position("create group.a-alerts"), "{log:?}");
    assert!(position("create folder.b") < position("create group.b-alerts"), "{log:?}");

    let replan = harness.plan(TWO_FOLDERS).await.expect("plan");
    assert!(!replan.has_changes(), "{:?}", replan.actions);
    assert_eq!(replan.unchanged, 4);
    assert_eq!(harness.state().resources().len(), 4);
}

#[tokio::test]
async fn a_plan_reads_each_kind_once_whatever_the_number_of_objects() {
    let harness = Harness::new();
    let mut toml = String::new();
    for index in 0..50 {
        toml.push_str(&format!("[[testfs.folder]]\nid = \"f{index}\"\ntitle = \"Folder {index}\"\n"));
    }
    harness.converge(&toml).await;
    let before = harness.remote.lists();
    harness.plan(&toml).await.expect("plan");
    assert_eq!(harness.remote.lists() - before, 2, "one list per kind");
}

#[tokio::test]
async fn a_changed_field_shows_as_that_field_and_reordering_or_respelling_is_no_change() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    // Rules reordered, `1m` written as `60s`: the same group.
    let reordered = TWO_FOLDERS
        .replace(
            r#"  { title = "High error rate", expr = "errors > 1", for = "5m" },
  { title = "Slow", expr = "latency > 2", for = "10m" },"#,
            r#"  { title = "Slow", expr = "latency > 2", for = "600s" },
  { title = "High error rate", expr = "errors > 1", for = "5m" },"#,
        )
        .replace("interval = \"1m\"", "interval = \"60s\"");
    assert!(!harness.plan(&reordered).await.expect("plan").has_changes());

    let edited = TWO_FOLDERS.replace("errors > 1", "errors > 5");
    let plan = harness.plan(&edited).await.expect("plan");
    assert_eq!(summary(&plan), ["update group.a-alerts"]);
    let changes = &plan.actions[0].changes;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].path, r#"rules[title="High error rate"].expr"#);
    assert_eq!(
        (changes[0].old_value(), changes[0].new_value()),
        (Some(json!("errors > 1")), Some(json!("errors > 5")))
    );
    assert!(!plan.actions[0].drift, "the code changed: not drift");
}

#[tokio::test]
async fn writes_never_exceed_the_parallelism_bound() {
    let harness = Harness::new();
    harness.faults(Faults { latency: Duration::from_millis(30), ..Faults::default() });
    let mut toml = String::new();
    for index in 0..24 {
        toml.push_str(&format!("[[testfs.folder]]\nid = \"f{index}\"\ntitle = \"Folder {index}\"\n"));
    }
    let plan = harness.plan(&toml).await.expect("plan");
    let options = ApplyOptions { parallelism: 3, ..ApplyOptions::default() };
    let report = harness.apply(&plan, &options).await.expect("apply");
    assert!(report.succeeded());
    assert_eq!(harness.remote.max_in_flight(), 3, "the bound is used and never exceeded");
}

#[tokio::test]
async fn a_failure_skips_only_what_depends_on_it_and_a_rerun_converges() {
    let harness = Harness::new();
    harness.faults(Faults { fail: BTreeSet::from(["folder.b".to_owned()]), ..Faults::default() });
    let plan = harness.plan(TWO_FOLDERS).await.expect("plan");
    let report = harness.apply(&plan, &ApplyOptions::default()).await.expect("apply runs");
    assert!(!report.succeeded());
    let outcome = |local_id: &str| {
        report.actions.iter().find(|action| action.id.local_id == local_id).map(|action| action.outcome.clone())
    };
    assert_eq!(outcome("a"), Some(Outcome::Done));
    assert_eq!(outcome("a-alerts"), Some(Outcome::Done));
    assert!(matches!(outcome("b"), Some(Outcome::Failed { error, .. }) if error.contains("injected failure")));
    assert_eq!(
        outcome("b-alerts"),
        Some(Outcome::Skipped { reason: "depends on `testfs/folder.b`, which failed".into() })
    );
    assert_eq!(harness.state().resources().len(), 2, "only what was written is in state");

    harness.faults(Faults::default());
    let rerun = harness.converge(TWO_FOLDERS).await;
    assert_eq!(summary(&rerun), ["create folder.b", "create group.b-alerts"]);
    assert!(!harness.plan(TWO_FOLDERS).await.expect("plan").has_changes());
}

#[tokio::test]
async fn removed_definitions_are_deleted_dependants_first_or_forgotten_when_gone_remotely() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    // Keep folder a and its group; drop folder b with its group.
    let only_a = r#"
[[testfs.folder]]
id = "a"
title = "Team A"

[[testfs.group]]
id = "a-alerts"
folder = "a"
interval = "1m"
rules = [
  { title = "High error rate", expr = "errors > 1", for = "5m" },
  { title = "Slow", expr = "latency > 2", for = "10m" },
]
"#;
    let plan = harness.plan(only_a).await.expect("plan");
    assert_eq!(summary(&plan), ["delete group.b-alerts", "delete folder.b"]);
    assert_eq!(plan.actions[1].depends_on, vec![plan.actions[0].id.clone()], "the folder waits for its group");
    harness.apply(&plan, &ApplyOptions::default()).await.expect("apply");
    assert!(harness.remote.objects("folder").keys().eq([folder_uid("a")].iter()));

    // Gone remotely as well as from code: forgotten without a remote call.
    for id in harness.remote.groups_named("a-alerts") {
        harness.remote.remove("group", &id);
    }
    let folder_only = "[[testfs.folder]]\nid = \"a\"\ntitle = \"Team A\"\n";
    let plan = harness.plan(folder_only).await.expect("plan");
    assert_eq!(summary(&plan), ["forget group.a-alerts"]);
    let writes = harness.remote.writes();
    harness.apply(&plan, &ApplyOptions::default()).await.expect("apply");
    assert_eq!(harness.remote.writes(), writes);
    assert_eq!(harness.state().resources().len(), 1);
}

#[tokio::test]
async fn an_object_deleted_by_hand_is_recreated() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    for id in harness.remote.groups_named("b-alerts") {
        harness.remote.remove("group", &id);
    }
    let plan = harness.converge(TWO_FOLDERS).await;
    assert_eq!(summary(&plan), ["recreate group.b-alerts"]);
    assert_eq!(harness.remote.groups_named("b-alerts").len(), 1);
}

#[tokio::test]
async fn a_change_made_outside_mac_is_planned_back_and_marked_as_drift() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    harness.remote.put("folder", &folder_uid("a"), json!({"title": "Renamed in the UI"}));
    let plan = harness.plan(TWO_FOLDERS).await.expect("plan");
    assert_eq!(summary(&plan), ["update folder.a"]);
    assert!(plan.actions[0].drift);
    assert_eq!(plan.actions[0].changes[0].old_value(), Some(json!("Renamed in the UI")));
}

#[tokio::test]
async fn an_existing_remote_object_is_adopted_only_when_asked() {
    let harness = Harness::new();
    harness.remote.put("folder", &folder_uid("a"), json!({"title": "Made by hand"}));
    let toml = "[[testfs.folder]]\nid = \"a\"\ntitle = \"Team A\"\n";
    let plan = harness.plan(toml).await.expect("plan");
    assert_eq!(summary(&plan), ["adopt folder.a"]);
    assert_eq!(plan.actions[0].changes.len(), 1, "the plan shows what adoption would change");

    let writes = harness.remote.writes();
    let err = harness.apply(&plan, &ApplyOptions::default()).await.expect_err("refused");
    assert!(matches!(err, ApplyError::AdoptionNotAllowed(ref ids) if ids.len() == 1), "{err}");
    assert_eq!(harness.remote.writes(), writes, "nothing was written");
    assert!(harness.state().resources().is_empty());

    let report = harness.apply(&plan, &ApplyOptions { adopt: true, ..ApplyOptions::default() }).await.expect("adopt");
    assert!(report.succeeded());
    assert_eq!(harness.state().resources()[0].remote_id, folder_uid("a"));
    assert!(!harness.plan(toml).await.expect("plan").has_changes());
}

#[tokio::test]
async fn an_empty_definition_set_never_deletes_everything_unless_allowed() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    let err = harness.plan("").await.expect_err("refused");
    assert_eq!(err, PlanError::WouldDeleteAll { instance: "testfs".into(), count: 4 });
    assert!(err.to_string().contains("--allow-delete-all"), "{err}");

    let options = PlanOptions { allow_delete_all: true, ..PlanOptions::default() };
    let plan = harness.plan_with("", &options).await.expect("allowed");
    assert_eq!(operations(&plan), [Operation::Delete; 4]);
    let groups_first = summary(&plan).iter().take(2).all(|line| line.starts_with("delete group."));
    assert!(groups_first, "{:?}", summary(&plan));
    harness.apply(&plan, &ApplyOptions::default()).await.expect("apply");
    assert!(harness.remote.objects("folder").is_empty());
}

#[tokio::test]
async fn a_saved_plan_round_trips_and_is_refused_once_state_moved_on() {
    let harness = Harness::new();
    let saved = harness.plan(TWO_FOLDERS).await.expect("plan");
    let text = serde_json::to_string(&saved).expect("serialise");
    let reloaded: mac_core::Plan = serde_json::from_str(&text).expect("deserialise");
    assert_eq!(reloaded, saved);

    // Something else is applied first.
    harness.converge("[[testfs.folder]]\nid = \"x\"\ntitle = \"X\"\n").await;
    let writes = harness.remote.writes();
    let err = harness.apply(&reloaded, &ApplyOptions::default()).await.expect_err("stale");
    assert!(matches!(err, ApplyError::StalePlan { plan_serial: 0, state_serial: 2, .. }), "{err}");
    assert_eq!(harness.remote.writes(), writes);
}

#[tokio::test]
async fn targets_limit_the_plan_to_an_object_and_its_dependencies() {
    let harness = Harness::new();
    let options =
        PlanOptions { targets: vec![Target::object(LocalRef::new("group", "b-alerts"))], ..PlanOptions::default() };
    let plan = harness.plan_with(TWO_FOLDERS, &options).await.expect("plan");
    assert_eq!(summary(&plan), ["create folder.b", "create group.b-alerts"]);

    let options =
        PlanOptions { targets: vec![Target::object(LocalRef::new("group", "nope"))], ..PlanOptions::default() };
    let err = harness.plan_with(TWO_FOLDERS, &options).await.expect_err("unknown target");
    assert_eq!(err.to_string(), "no defined or managed object matches --target group.nope");
}

#[tokio::test]
async fn moving_a_group_to_a_new_folder_orders_create_update_delete() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    let moved = TWO_FOLDERS
        .replace("id = \"b\"\ntitle = \"Team B\"", "id = \"c\"\ntitle = \"Team C\"")
        .replace("folder = \"b\"", "folder = \"c\"");
    let plan = harness.plan(&moved).await.expect("plan");
    assert_eq!(summary(&plan), ["create folder.c", "update group.b-alerts", "delete folder.b"]);
    assert_eq!(plan.actions[1].changes[0].new_value(), Some(json!(mac_core::provider::KNOWN_AFTER_APPLY)));
    let report = harness.apply(&plan, &ApplyOptions::default()).await.expect("apply");
    assert!(report.succeeded(), "{report:?}");
    assert!(!harness.plan(&moved).await.expect("plan").has_changes());
}

#[tokio::test]
async fn an_interrupted_apply_finishes_in_flight_writes_and_saves_them() {
    let harness = Harness::new();
    harness.faults(Faults { latency: Duration::from_millis(20), ..Faults::default() });
    let plan = harness.plan(TWO_FOLDERS).await.expect("plan");
    let interrupt = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let options = ApplyOptions { parallelism: 1, interrupt: Some(interrupt.clone()), ..ApplyOptions::default() };
    struct InterruptAfterFirst(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl mac_core::ApplyObserver for InterruptAfterFirst {
        fn started(&self, _: &mac_core::Action) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let _lock = harness.store.lock(Duration::ZERO).expect("lock");
    let (_, report) = mac_core::apply(
        &plan,
        &harness.providers,
        &harness.store,
        harness.state(),
        &options,
        &InterruptAfterFirst(interrupt),
    )
    .await
    .expect("apply");
    let done: Vec<_> = report.actions.iter().filter(|action| action.outcome == Outcome::Done).collect();
    assert_eq!(done.len(), 1, "{report:?}");
    assert_eq!(report.skipped().count(), 3);
    assert_eq!(harness.state().resources().len(), 1, "the finished write was saved");
}

#[tokio::test]
async fn an_object_created_by_an_interrupted_apply_is_recognised_as_ours() {
    let harness = Harness::new();
    // The folders are made remotely, then no state save succeeds after the first: the failing
    // store stands in for a process killed between the remote writes and their save.
    let plan = harness.plan(TWO_FOLDERS).await.expect("plan");
    // Folders are recorded as pending at plan time; groups, whose key needs their folder's
    // uid, just before their own writes.
    assert_eq!(plan.pending.len(), 2, "every create whose key is known is recorded as pending first");
    let store = RecordingStore::new(&harness).failing_after(1);
    {
        let _lock = harness.store.lock(Duration::ZERO).expect("lock");
        let result = mac_core::apply(
            &plan,
            &harness.providers,
            &store,
            harness.state(),
            &ApplyOptions::default(),
            &mac_core::apply::Silent,
        )
        .await;
        let Err(ApplyError::State { unrecorded, .. }) = result else { panic!("{result:?}") };
        // Both folders were written; the groups after them could not start (their pending
        // record could not be saved).
        let unrecorded: Vec<String> = unrecorded.iter().map(ToString::to_string).collect();
        assert_eq!(unrecorded, ["testfs/folder.a", "testfs/folder.b"], "the error names what state missed");
    }
    assert_eq!(harness.remote.objects("folder").len(), 2, "both folders were made");
    assert!(harness.state().resources().is_empty(), "no write was saved");

    let plan = harness.plan(TWO_FOLDERS).await.expect("plan");
    for local_id in ["a", "b"] {
        let adopt = plan.actions.iter().find(|action| action.id.local_id == local_id).expect("planned");
        assert_eq!((adopt.operation, adopt.resumed), (Operation::Adopt, true), "{local_id}");
        assert!(adopt.changes.is_empty(), "{:?}", adopt.changes);
    }
    // No --adopt needed: mac created them.
    let report = harness.apply(&plan, &ApplyOptions::default()).await.expect("apply");
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(harness.remote.objects("folder").len(), 2, "no duplicate");
    assert!(harness.state().pending().is_empty());
    assert!(!harness.plan(TWO_FOLDERS).await.expect("plan").has_changes());
}

#[tokio::test]
async fn a_create_the_remote_refused_is_not_pending_so_a_later_lookalike_needs_adopt() {
    let harness = Harness::new();
    let toml = "[[testfs.folder]]\nid = \"a\"\ntitle = \"Team A\"\n";
    let plan = harness.plan(toml).await.expect("plan");
    // Someone makes the folder by hand between plan and apply: the create is refused.
    harness.remote.put("folder", &folder_uid("a"), json!({"title": "Made by hand"}));
    let report = harness.apply(&plan, &ApplyOptions::default()).await.expect("apply runs");
    assert!(!report.succeeded());
    assert!(harness.state().pending().is_empty(), "a refused create is not pending");

    let plan = harness.plan(toml).await.expect("plan");
    assert_eq!((plan.actions[0].operation, plan.actions[0].resumed), (Operation::Adopt, false));
    let err = harness.apply(&plan, &ApplyOptions::default()).await.expect_err("needs --adopt");
    assert!(matches!(err, ApplyError::AdoptionNotAllowed(_)), "{err}");
    assert_eq!(harness.remote.objects("folder")[&folder_uid("a")]["title"], "Made by hand");
}

#[tokio::test]
async fn an_interrupted_recreate_is_resumed_without_a_duplicate() {
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    let old_ids = harness.remote.groups_named("b-alerts");
    for id in &old_ids {
        harness.remote.remove("group", id);
    }
    // The fake remote numbers a new group after the highest id it holds: an unrelated group
    // makes the recreate's id a new one, as a real server's would be.
    harness.remote.put("group", "g9", json!({"name": "unrelated", "folder_uid": "elsewhere", "interval": "1m"}));
    // The recreate is made remotely, then its save fails: the failing store stands in for a
    // process killed right after the remote write.
    let plan = harness.plan(TWO_FOLDERS).await.expect("plan");
    assert_eq!(summary(&plan), ["recreate group.b-alerts"]);
    let store = RecordingStore::new(&harness).failing_after(1);
    {
        let _lock = harness.store.lock(Duration::ZERO).expect("lock");
        let result = mac_core::apply(
            &plan,
            &harness.providers,
            &store,
            harness.state(),
            &ApplyOptions::default(),
            &mac_core::apply::Silent,
        )
        .await;
        assert!(matches!(result, Err(ApplyError::State { .. })), "{result:?}");
    }
    let made = harness.remote.groups_named("b-alerts");
    assert_eq!(made.len(), 1, "the recreate reached the remote");
    assert!(!old_ids.contains(&made[0]), "a new remote id: {made:?}");
    let group = mac_core::ObjectId::new("testfs", "group", "b-alerts");
    let saved = harness.state().get(&group).map(|entry| entry.remote_id.clone());
    assert_eq!(saved.as_ref(), old_ids.first(), "the new id was not saved");
    harness.remote.remove("group", "g9");

    let plan = harness.plan(TWO_FOLDERS).await.expect("plan");
    assert_eq!(summary(&plan), ["adopt group.b-alerts"]);
    assert!(plan.actions[0].resumed);
    harness.apply(&plan, &ApplyOptions::default()).await.expect("apply");
    assert_eq!(harness.remote.groups_named("b-alerts"), made, "no duplicate");
    assert!(!harness.plan(TWO_FOLDERS).await.expect("plan").has_changes());
}

#[tokio::test]
async fn a_panicking_provider_fails_its_action_and_skips_its_dependants() {
    let harness = Harness::new();
    harness.faults(Faults { panic_on: BTreeSet::from(["folder.b".to_owned()]), ..Faults::default() });
    let plan = harness.plan(TWO_FOLDERS).await.expect("plan");
    let report = harness.apply(&plan, &ApplyOptions::default()).await.expect("apply runs");
    let outcome = |local_id: &str| {
        report.actions.iter().find(|action| action.id.local_id == local_id).map(|action| action.outcome.clone())
    };
    assert!(matches!(outcome("b"), Some(Outcome::Failed { error, .. }) if error.contains("panicked")), "{report:?}");
    assert!(matches!(outcome("b-alerts"), Some(Outcome::Skipped { .. })));
    assert_eq!(outcome("a"), Some(Outcome::Done));
    assert_eq!(outcome("a-alerts"), Some(Outcome::Done));
}

#[tokio::test]
async fn a_create_whose_key_needs_a_new_folder_is_recorded_before_its_write() {
    let harness = Harness::new();
    let store = RecordingStore::new(&harness);
    // Group b-alerts (written last, one write at a time) never reaches the remote, as if the
    // process died right after group a-alerts was made.
    harness.faults(Faults { fail: BTreeSet::from(["group.b-alerts".to_owned()]), ..Faults::default() });
    let plan = harness.plan(TWO_FOLDERS).await.expect("plan");
    let group = mac_core::ObjectId::new("testfs", "group", "a-alerts");
    assert!(
        plan.pending.iter().all(|pending| pending.id != group),
        "its key needs folder a's uid, unknown at plan time: {:?}",
        plan.pending
    );
    let observer = SavesWhenStarted { store: &store, local_id: "a-alerts", saves: Mutex::new(None) };
    let options = ApplyOptions { parallelism: 1, ..ApplyOptions::default() };
    let report = {
        let _lock = harness.store.lock(Duration::ZERO).expect("lock");
        let (_, report) = mac_core::apply(&plan, &harness.providers, &store, harness.state(), &options, &observer)
            .await
            .expect("apply");
        report
    };
    assert_eq!(report.done(&[Operation::Create]), 3, "{report:?}");

    // What the executor itself saved before starting the group's write records it as pending.
    let saves = store.saves();
    let started_after = observer.saves.lock().expect("not poisoned").expect("the group's write started");
    let recorded =
        mac_core::state::PendingCreate { id: group.clone(), adoption_key: format!("{}/a-alerts", folder_uid("a")) };
    let (_, before_start) = saves[..started_after].last().expect("a save before the group's write");
    assert!(before_start.pending().contains(&recorded), "not pending before its write: {:?}", before_start.pending());

    // A kill right after the remote made the group, before the next save, leaves the last
    // state saved before that write completed: the next run recognises the group as its own.
    let written = harness.remote.log().iter().position(|line| line == "create group.a-alerts").expect("written");
    let (_, at_kill) = saves.iter().rev().find(|(writes, _)| *writes <= written).expect("a save before the write");
    assert!(at_kill.get(&group).is_none(), "the kill lost the group's state entry");
    {
        let _lock = harness.store.lock(Duration::ZERO).expect("lock");
        harness.store.save(at_kill).expect("save");
    }
    harness.faults(Faults::default());
    let plan = harness.plan(TWO_FOLDERS).await.expect("plan");
    let adopt = plan.actions.iter().find(|action| action.id.local_id == "a-alerts").expect("planned");
    assert_eq!((adopt.operation, adopt.resumed), (Operation::Adopt, true));
    let report = harness.apply(&plan, &ApplyOptions::default()).await.expect("no --adopt needed");
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(harness.remote.groups_named("a-alerts").len(), 1, "no duplicate");
    assert!(!harness.plan(TWO_FOLDERS).await.expect("plan").has_changes());
}

/// The harness's file store, also keeping every state saved with the number of remote
/// writes completed at that moment; optionally failing every save after the first few.
#[derive(Debug)]
struct RecordingStore {
    inner: FileStateStore,
    remote: Remote,
    saves: Mutex<Vec<(usize, State)>>,
    fail_after: Option<usize>,
}

impl RecordingStore {
    fn new(harness: &Harness) -> RecordingStore {
        RecordingStore {
            inner: harness.store.clone(),
            remote: harness.remote.clone(),
            saves: Mutex::default(),
            fail_after: None,
        }
    }

    /// Saves after the first `saves` fail, as if the process had died.
    fn failing_after(self, saves: usize) -> RecordingStore {
        RecordingStore { fail_after: Some(saves), ..self }
    }

    fn saves(&self) -> Vec<(usize, State)> {
        self.saves.lock().expect("not poisoned").clone()
    }
}

impl StateStore for RecordingStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn load(&self) -> Result<State, StateError> {
        self.inner.load()
    }

    fn save(&self, state: &State) -> Result<(), StateError> {
        let mut saves = self.saves.lock().expect("not poisoned");
        if self.fail_after.is_some_and(|limit| saves.len() >= limit) {
            let source = std::io::Error::other("injected: the process died");
            return Err(StateError::Write { path: self.inner.path().to_owned(), source });
        }
        saves.push((self.remote.log().len(), state.clone()));
        self.inner.save(state)
    }

    fn lock(&self, timeout: Duration) -> Result<Box<dyn StateLock>, StateError> {
        self.inner.lock(timeout)
    }
}

/// Notes how many saves the store had seen when the write of `local_id` started.
struct SavesWhenStarted<'a> {
    store: &'a RecordingStore,
    local_id: &'static str,
    saves: Mutex<Option<usize>>,
}

impl mac_core::ApplyObserver for SavesWhenStarted<'_> {
    fn started(&self, action: &mac_core::Action) {
        if action.id.local_id == self.local_id {
            *self.saves.lock().expect("not poisoned") = Some(self.store.saves.lock().expect("not poisoned").len());
        }
    }
}

#[tokio::test]
async fn an_instance_target_keeps_that_instance_s_objects_only() {
    let harness = Harness::new();
    let instances = ["testfs", "testfs.eu"];
    let target = Target::parse("testfs", instances).expect("an instance");
    assert_eq!(target, Target::Instance("testfs".to_owned()));
    let options = PlanOptions { targets: vec![target], ..PlanOptions::default() };
    let plan = harness.plan_with(TWO_FOLDERS, &options).await.expect("plan");
    assert_eq!(summary(&plan).len(), 4, "{:?}", summary(&plan));

    let options = PlanOptions { targets: vec![Target::Instance("testfs.eu".to_owned())], ..PlanOptions::default() };
    let plan = harness.plan_with(TWO_FOLDERS, &options).await.expect("plan");
    assert!(summary(&plan).is_empty(), "nothing of testfs.eu is defined: {:?}", summary(&plan));
}

#[test]
fn targets_read_instances_objects_and_objects_of_an_instance() {
    let instances = ["grafana8", "grafana8.eu"];
    assert_eq!(Target::parse("grafana8.eu", instances), Some(Target::Instance("grafana8.eu".to_owned())));
    assert_eq!(Target::parse("folder.a", instances), Some(Target::object(LocalRef::new("folder", "a"))));
    let scoped = Target::parse("grafana8.eu/folder.a.b", instances).expect("scoped");
    assert_eq!(scoped.to_string(), "grafana8.eu/folder.a.b");
    assert!(scoped.matches(&mac_core::ObjectId::new("grafana8.eu", "folder", "a.b")));
    assert!(!scoped.matches(&mac_core::ObjectId::new("grafana8", "folder", "a.b")));
    assert_eq!(Target::parse("grafana8", ["grafana8.eu"]), None, "neither an instance nor kind.id");
    assert_eq!(Target::parse("/folder.a", instances), None);
}
