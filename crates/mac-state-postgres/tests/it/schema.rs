//! Schema versions: an older schema is upgraded with its state kept, a newer one is refused
//! untouched.

use mac_core::{ObjectId, StateStore};
use mac_state_postgres::{PostgresStateError, SCHEMA_VERSION};

use crate::{TestDatabase, entry};

#[test]
fn a_version_1_schema_is_upgraded_and_its_state_kept() {
    let Some(db) = TestDatabase::shared("upgrade_from_v1") else { return };
    mac_state_postgres::migrate_to(&db.url(), "mac", 1).expect("the schema of a mac that knew version 1");
    assert_eq!(db.psql("SELECT string_agg(version::text, ',') FROM mac.schema_migrations"), "1");
    assert_eq!(db.psql("SELECT to_regclass('mac.lock_holders') IS NULL"), "t", "no version 2 table yet");
    // A state as version 1 wrote it.
    let stored = serde_json::to_string(&entry("kept")).expect("json");
    db.psql(&format!(
        "INSERT INTO mac.states (project, environment, lineage, serial, pending, secret_salt) \
         VALUES ('payments', 'production', 'lineage-1', 7, '[]', 'salt'); \
         INSERT INTO mac.objects SELECT id, 'grafana', 'folder', 'kept', '{stored}'::jsonb FROM mac.states"
    ));

    let store = db.store("payments", Some("production"));
    let mut state = store.load().expect("loaded after the upgrade");
    assert_eq!((state.lineage.as_str(), state.serial, state.stored_secret_salt()), ("lineage-1", 7, "salt"));
    assert_eq!(state.get(&ObjectId::new("grafana", "folder", "kept")), Some(&entry("kept")));
    assert_eq!(db.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM mac.schema_migrations"), "1,2");

    // Version 2's additions work: the lock holder record and the last writer.
    let lock = store.lock(std::time::Duration::ZERO).expect("locked");
    assert_eq!(db.psql("SELECT count(*) FROM mac.lock_holders"), "1");
    state.upsert(entry("new"));
    state.save_to(&store).expect("saved");
    drop(lock);
    assert_eq!(db.psql("SELECT serial, updated_by IS NOT NULL FROM mac.states"), "8|t");
}

#[test]
fn a_schema_from_a_newer_mac_is_refused_and_left_untouched() {
    let Some(db) = TestDatabase::shared("newer_schema") else { return };
    mac_state_postgres::migrate_to(&db.url(), "mac", SCHEMA_VERSION).expect("the current schema");
    db.psql("INSERT INTO mac.schema_migrations (version, applied_by) VALUES (99, 'a future mac')");
    let tables = "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables \
                  WHERE table_schema = 'mac'";
    let before = (db.psql(tables), db.psql("SELECT count(*) FROM mac.states"));

    let err = db.store("payments", None).load().expect_err("refused");
    let expected = "the state schema `mac` is at version 99, written by a newer mac; this mac knows versions up to \
                    2: upgrade mac (nothing was changed)";
    assert_eq!(err.to_string(), expected);
    let source = std::error::Error::source(&err).and_then(|source| source.downcast_ref::<PostgresStateError>());
    assert!(matches!(source, Some(PostgresStateError::NewerSchema { found: 99, known: 2, .. })), "{err:?}");
    let lock_err = db.store("payments", None).lock(std::time::Duration::ZERO).expect_err("no lock either");
    assert_eq!(lock_err.to_string(), expected);
    assert_eq!((db.psql(tables), db.psql("SELECT count(*) FROM mac.states")), before, "nothing was created");
    assert_eq!(before.1, "0");
}
