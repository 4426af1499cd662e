//! `project` and `[state]` in mac.toml: choosing a backend, its settings located at their
//! line, and the journal a shared backend writes from.

use std::sync::Mutex;
use std::time::Duration;

use mac_core::state::{StateEntry, StateLock};
use mac_core::{
    LockInfo, ObjectId, ProjectConfig, SettingsError, State, StateBackendRegistration, StateError, StateParts,
    StateSettings, StateStore,
};

/// One save as a store saw it: the serial it replaces, the entries upserted and removed.
type SeenSave = (u64, Vec<String>, Vec<String>);

/// A backend registered by this test binary exactly as a backend crate registers one.
#[derive(Debug, Default)]
struct MemoryStore {
    key: String,
    saves: Mutex<Vec<SeenSave>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MemorySettings {
    bucket: String,
}

fn open_memory(settings: &StateSettings) -> Result<Box<dyn StateStore>, SettingsError> {
    let parsed: MemorySettings = settings.parse()?;
    let Some(project) = &settings.project else {
        return Err(SettingsError::at("", "needs `project`"));
    };
    let environment = settings.environment.as_deref().unwrap_or("(default)");
    Ok(Box::new(MemoryStore {
        key: format!("{}/{project}/{environment} via {}", parsed.bucket, settings.describe_setting("bucket")),
        ..MemoryStore::default()
    }))
}

mac_core::inventory::submit! {
    StateBackendRegistration { name: "memory", description: "a test backend", open: open_memory }
}

impl StateStore for MemoryStore {
    fn describe(&self) -> String {
        self.key.clone()
    }
    fn load(&self) -> Result<State, StateError> {
        Ok(State::empty())
    }
    fn save(&self, state: &State) -> Result<(), StateError> {
        let changes = state.changes();
        let upserted = changes.upserted.iter().map(|entry| entry.id.local_id.clone()).collect();
        let removed = changes.removed.iter().map(|id| id.local_id.clone()).collect();
        self.saves.lock().expect("lock").push((changes.base_serial, upserted, removed));
        Ok(())
    }
    fn lock(&self, _timeout: Duration) -> Result<Box<dyn StateLock>, StateError> {
        Err(StateError::Unsupported { store: self.describe(), operation: "locking" })
    }
}

fn config(toml: &str, environment: Option<&str>) -> Result<ProjectConfig, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("mac.toml"), toml).expect("write");
    let config = ProjectConfig::load(dir.path(), environment).map_err(|err| err.to_string())?;
    Ok(config)
}

fn store_of(toml: &str, environment: Option<&str>) -> Result<Box<dyn StateStore>, String> {
    config(toml, environment)?.open_state_store().map_err(|err| err.to_string())
}

#[test]
fn a_registered_backend_is_chosen_with_its_settings_and_the_project_and_environment() {
    let toml = "project = \"payments\"\n\n[state]\nbackend = \"memory\"\nbucket = \"b\"\n\n\
                [environments.prod.state]\nbucket = \"p\"\n";
    let store = store_of(toml, None).expect("opens");
    assert_eq!(store.describe(), "b/payments/(default) via [state] bucket (mac.toml:5:1)");
    let store = store_of(toml, Some("prod")).expect("opens");
    assert_eq!(store.describe(), "p/payments/prod via [state] bucket (mac.toml:8:1)");
}

#[test]
fn state_settings_errors_name_their_line() {
    let unknown = "project = \"p\"\n[state]\nbackend = \"s3\"\n";
    assert_eq!(
        store_of(unknown, None).expect_err("unknown"),
        "mac.toml:3:1: unknown state backend `s3` (compiled into this mac: file, memory)"
    );
    let typo = "project = \"p\"\n[state]\nbackend = \"memory\"\nbuckett = \"b\"\n";
    assert_eq!(
        store_of(typo, None).expect_err("typo"),
        "mac.toml:4:1: state backend `memory`: unknown field `buckett`, expected `bucket`"
    );
    let no_project = "[state]\nbackend = \"memory\"\nbucket = \"b\"\n";
    assert_eq!(
        store_of(no_project, None).expect_err("no project"),
        "mac.toml:1:2: state backend `memory`: needs `project`"
    );
    let file_extra = "[state]\nurl = \"postgres://x\"\n";
    assert_eq!(
        store_of(file_extra, None).expect_err("file"),
        "mac.toml:2:1: `[state] url` is not a setting of the file backend (it takes `path`); set `backend` to use another store"
    );
    let path_elsewhere = "project = \"p\"\n[state]\nbackend = \"memory\"\nbucket = \"b\"\npath = \"s.json\"\n";
    assert_eq!(
        store_of(path_elsewhere, None).expect_err("path"),
        "mac.toml:5:1: `[state] path` is the file backend's; backend `memory` does not use it"
    );
    let bad_name = "project = \"my project\"\n";
    assert_eq!(
        config(bad_name, None).expect_err("name"),
        "mac.toml:1:1: `project` may hold letters, digits, `.`, `_` and `-`, not ' '"
    );
}

#[test]
fn the_file_backend_stays_the_default() {
    let store = store_of("", None).expect("opens");
    assert!(store.describe().ends_with(".mac/state.json"), "{}", store.describe());
    let store = store_of("[environments.prod]\n", Some("prod")).expect("opens");
    assert!(store.describe().ends_with(".mac/state.prod.json"), "{}", store.describe());
}

fn entry(local_id: &str) -> StateEntry {
    StateEntry::new(ObjectId::new("p", "k", local_id), format!("r-{local_id}"))
}

#[test]
fn a_save_carries_only_the_changes_since_the_last_one_and_the_serial_it_replaces() {
    let store = MemoryStore::default();
    let mut state = State::from_parts(StateParts {
        lineage: "l".into(),
        serial: 7,
        resources: vec![entry("b"), entry("a"), entry("c")],
        ..StateParts::default()
    });
    assert!(state.changes().upserted.is_empty() && state.changes().removed.is_empty());
    state.upsert(entry("d"));
    state.remove(&ObjectId::new("p", "k", "b"));
    state.save_to(&store).expect("save");
    assert_eq!(state.serial, 8);
    state.upsert(entry("a"));
    state.save_to(&store).expect("save");
    let saves = store.saves.lock().expect("lock").clone();
    assert_eq!(
        saves,
        [(7, vec!["d".to_owned()], vec!["b".to_owned()]), (8, vec!["a".to_owned()], vec![])],
        "each save names the serial it replaces and only what changed since the last"
    );
}

/// A store whose saves fail until told otherwise.
#[derive(Debug, Default)]
struct FlakyStore {
    failing: std::sync::atomic::AtomicBool,
    bases: Mutex<Vec<(u64, u64, usize)>>,
}

impl StateStore for FlakyStore {
    fn describe(&self) -> String {
        "flaky".into()
    }
    fn load(&self) -> Result<State, StateError> {
        Ok(State::empty())
    }
    fn save(&self, state: &State) -> Result<(), StateError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StateError::Backend { message: "down".into(), source: None });
        }
        let changes = state.changes();
        self.bases.lock().expect("lock").push((changes.base_serial, state.serial, changes.upserted.len()));
        Ok(())
    }
    fn lock(&self, _timeout: Duration) -> Result<Box<dyn StateLock>, StateError> {
        Err(StateError::Unsupported { store: self.describe(), operation: "locking" })
    }
}

#[test]
fn a_failed_save_keeps_its_changes_for_the_next_and_serials_only_move_forward() {
    let store = FlakyStore::default();
    let mut state = State::empty();
    state.upsert(entry("a"));
    store.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    state.save_to(&store).expect_err("down");
    state.upsert(entry("b"));
    store.failing.store(false, std::sync::atomic::Ordering::SeqCst);
    state.save_to(&store).expect("up again");
    assert_eq!(*store.bases.lock().expect("lock"), [(0, 2, 2)], "both entries, over the serial still stored");
    assert!(!state.lineage.is_empty());
}

#[test]
fn lock_holders_name_their_command() {
    let holder = LockInfo {
        owner: "ci@runner-2".into(),
        pid: 77,
        since: "2026-12-04T09:00:00Z".into(),
        command: Some("mac apply reviewed.plan".into()),
    };
    assert_eq!(holder.to_string(), "ci@runner-2 (pid 77, `mac apply reviewed.plan`, since 2026-12-04T09:00:00Z)");
}
