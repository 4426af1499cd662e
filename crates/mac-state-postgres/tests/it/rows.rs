//! Loads and saves: the state as rows, only changed rows written, a stale writer refused,
//! each project and environment its own state.

use mac_core::state::PendingCreate;
use mac_core::{ObjectId, State, StateError, StateStore};
use mac_state_postgres::{Overrides, PostgresStateStore};
use serde_json::json;

use crate::{TestDatabase, assert_no_canary, entry, settings};

#[test]
fn a_saved_state_loads_back_whole_in_a_new_store() {
    let Some(db) = TestDatabase::shared("round_trip") else { return };
    let store = db.store("payments", Some("production"));
    assert_eq!(store.describe(), format!("PostgreSQL state payments/production (schema mac, {})", db.display_url()));
    assert_eq!(store.binding(), "postgres payments/production");
    assert_no_canary(&store.describe());
    assert_no_canary(&format!("{store:?}"));

    let mut state = store.load().expect("an empty state");
    assert_eq!(state, State::empty());
    let mut protected = entry("b");
    protected.protect = true;
    protected.part_ids.insert("rule".into(), "uid-1".into());
    protected.secret_digests.insert("/password".into(), "sha256:abc".into());
    state.upsert(protected);
    state.upsert(entry("a"));
    state.set_pending(vec![PendingCreate { id: ObjectId::new("grafana", "folder", "c"), adoption_key: "C".into() }]);
    state.secret_salt();
    state.save_to(&store).expect("saved");

    let loaded = db.store("payments", Some("production")).load().expect("loaded by another store");
    assert_eq!(loaded, state);
    assert_eq!(loaded.serial, 1);
    assert_eq!(loaded.resources()[0].id.local_id, "a", "entries come back sorted");
    assert!(loaded.is_pending(&ObjectId::new("grafana", "folder", "c"), "C"));
    assert!(!loaded.stored_secret_salt().is_empty());
    assert!(loaded.changes().upserted.is_empty(), "a loaded state has nothing to save yet");

    let rows = db.psql(
        "SELECT s.serial, s.updated_by LIKE '%@% (pid %)', count(o.*) FROM mac.states s \
         JOIN mac.objects o ON o.state_id = s.id GROUP BY s.serial, s.updated_by",
    );
    assert_eq!(rows, "1|t|2", "one row per object, the writer recorded");
}

#[test]
fn a_save_writes_only_the_rows_that_changed() {
    let Some(db) = TestDatabase::shared("incremental") else { return };
    let stats_file = db.root.path().join("stats.jsonl");
    let overrides = Overrides { stats_file: Some(stats_file.clone()), ..crate::overrides(&db.url()) };
    let store = PostgresStateStore::open_with(&settings(Some("big"), None, json!({}), db.root.path()), overrides)
        .expect("valid settings");
    let mut state = store.load().expect("empty");
    for index in 0..10_000 {
        state.upsert(entry(&format!("folder-{index:05}")));
    }
    state.save_to(&store).expect("the first save");
    let first = store.stats().last.expect("figures of the first save");
    assert_eq!((first.rows, first.upserted, first.removed), (10_001, 10_000, 0));
    assert!(first.statements <= 5, "ten thousand objects in a few statements, not {}", first.statements);

    let mut changed = entry("folder-00042");
    changed.remote_id = "moved".into();
    state.upsert(changed.clone());
    state.remove(&ObjectId::new("grafana", "folder", "folder-00007"));
    state.save_to(&store).expect("the second save");
    let second = store.stats().last.expect("figures of the second save");
    assert_eq!((second.rows, second.upserted, second.removed), (3, 1, 1), "{second:?}");
    assert_eq!(second.statements, 5, "BEGIN, the state's row, one upsert, one delete, COMMIT");
    let entry_bytes = serde_json::to_string(&changed).expect("json").len() as u64;
    assert_eq!(second.bytes, entry_bytes + "[]".len() as u64, "the changed entry and the (empty) pending list");

    state.save_to(&store).expect("a save with no changes");
    let third = store.stats().last.expect("figures of the third save");
    assert_eq!((third.rows, third.statements), (1, 3), "only the state's row: {third:?}");
    assert_eq!(store.stats().saves, 3);

    let loaded = db.store("big", None).load().expect("loaded");
    assert_eq!(loaded.resources().len(), 9_999);
    assert_eq!(loaded.get(&changed.id), Some(&changed));
    assert_eq!(loaded, state);

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&stats_file)
        .expect("the stats file")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!((lines[1]["rows"].as_u64(), lines[1]["bytes"].as_u64()), (Some(3), Some(second.bytes)));
    assert!(lines[0]["ms"].as_f64().is_some_and(|ms| ms > 0.0), "{}", lines[0]);
}

#[test]
fn a_second_writer_from_a_stale_serial_is_refused_and_changes_nothing() {
    let Some(db) = TestDatabase::shared("stale_writer") else { return };
    let (first, second) = (db.store("payments", None), db.store("payments", None));
    let mut state = first.load().expect("empty");
    state.upsert(entry("a"));
    state.save_to(&first).expect("the first write");

    let mut ours = first.load().expect("serial 1");
    let mut theirs = second.load().expect("serial 1 too");
    ours.upsert(entry("ours"));
    ours.save_to(&first).expect("ours, from serial 1");
    theirs.upsert(entry("theirs"));
    theirs.remove(&ObjectId::new("grafana", "folder", "a"));
    let err = theirs.save_to(&second).expect_err("theirs, from serial 1 too");
    let StateError::Moved { expected, found, .. } = &err else { panic!("unexpected error: {err}") };
    assert_eq!((*expected, *found), (1, 2));
    assert_eq!(
        err.to_string(),
        format!(
            "state PostgreSQL state payments (schema mac, {}) moved on while this run held it: it is at serial 2, \
             this run loaded serial 1; nothing was overwritten — run again to plan from the current state",
            db.display_url()
        )
    );
    let stored = db.store("payments", None).load().expect("loaded");
    assert_eq!(stored, ours, "the refused write left nothing behind");
    assert!(stored.get(&ObjectId::new("grafana", "folder", "a")).is_some());
}

#[test]
fn each_project_and_environment_is_a_state_of_its_own() {
    let Some(db) = TestDatabase::shared("separate_states") else { return };
    let keys = [("payments", None), ("payments", Some("production")), ("checkout", Some("production"))];
    for (project, environment) in keys {
        let store = db.store(project, environment);
        let mut state = store.load().expect("empty");
        assert_eq!(state, State::empty(), "{project}/{environment:?} starts empty");
        state.upsert(entry(&format!("{project}-{}", environment.unwrap_or("default"))));
        state.save_to(&store).expect("saved");
    }
    for (project, environment) in keys {
        let state = db.store(project, environment).load().expect("loaded");
        let ids: Vec<&str> = state.resources().iter().map(|entry| entry.id.local_id.as_str()).collect();
        assert_eq!(ids, [format!("{project}-{}", environment.unwrap_or("default"))]);
    }
    let other_schema = db.store_with("payments", None, json!({"schema": "mac_other"}), &db.url());
    assert_eq!(other_schema.load().expect("another schema"), State::empty());

    // Locks are per state too.
    let held = db.store("payments", Some("production")).lock(std::time::Duration::ZERO).expect("locked");
    let beside =
        db.store("checkout", Some("production")).lock(std::time::Duration::ZERO).expect("another state's lock");
    drop((held, beside));
}
