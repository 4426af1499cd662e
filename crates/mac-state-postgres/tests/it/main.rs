//! The PostgreSQL state backend against a real PostgreSQL (`mac_test_tools::PostgresServer`):
//! a test fails, never passes, when PostgreSQL is missing.
//!
//! Most tests share one server, each in a database of its own; the server stops when the
//! last test using it ends. Tests that stop the server or serve TLS start their own.

mod errors;
mod locking;
mod rows;
mod schema;
mod tls;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use mac_core::state::StateEntry;
use mac_core::{ObjectId, Secret, StateSettings};
use mac_state_postgres::{Overrides, PostgresStateStore};
use mac_test_tools::PostgresServer;
use serde_json::json;

/// The role the stores log in as.
pub const RUNNER: &str = "mac_runner";

/// The runner's password: no error text or `Debug` output may ever show it.
pub const CANARY: &str = "canary-pw-5f0c1e";

static SHARED: Mutex<Weak<PostgresServer>> = Mutex::new(Weak::new());

/// The server shared by the tests running now, started when none is; `None` only after a
/// visible skip (a developer's `MAC_TEST_SKIP_MISSING`).
pub fn shared_server() -> Option<Arc<PostgresServer>> {
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(server) = shared.upgrade() {
        return Some(server);
    }
    let server = Arc::new(prepared(PostgresServer::start()?));
    *shared = Arc::downgrade(&server);
    Some(server)
}

/// `server` with the runner's role.
pub fn prepared(server: PostgresServer) -> PostgresServer {
    server.create_role(RUNNER, CANARY).expect("the runner's role");
    server
}

/// A database of its own on a server, owned by the runner's role.
#[derive(Debug)]
pub struct TestDatabase {
    pub server: Arc<PostgresServer>,
    pub name: String,
    /// A project root for settings' relative paths.
    pub root: tempfile::TempDir,
}

impl TestDatabase {
    /// A database named `name` on the shared server.
    pub fn shared(name: &str) -> Option<TestDatabase> {
        Some(TestDatabase::on(shared_server()?, name))
    }

    pub fn on(server: Arc<PostgresServer>, name: &str) -> TestDatabase {
        server.create_database_owned_by(name, RUNNER).expect("a database for the test");
        TestDatabase { server, name: name.to_owned(), root: tempfile::tempdir().expect("a project root") }
    }

    /// The runner's URL of this database.
    pub fn url(&self) -> String {
        self.server.url(RUNNER, CANARY, &self.name)
    }

    /// `postgres://mac_runner@127.0.0.1:PORT/NAME`: the URL as messages show it.
    pub fn display_url(&self) -> String {
        format!("postgres://{RUNNER}@127.0.0.1:{}/{}", self.server.port(), self.name)
    }

    /// Runs `sql` as the superuser in this database (`psql -At`).
    pub fn psql(&self, sql: &str) -> String {
        self.server.psql(&self.name, sql).unwrap_or_else(|err| panic!("psql {sql}: {err}"))
    }

    /// The store of `project` and `environment` with the URL given as `MAC_STATE_URL` would.
    pub fn store(&self, project: &str, environment: Option<&str>) -> PostgresStateStore {
        self.store_with(project, environment, json!({}), &self.url())
    }

    /// The store with `[state]` values and the URL given as `MAC_STATE_URL` would.
    pub fn store_with(
        &self,
        project: &str,
        environment: Option<&str>,
        values: serde_json::Value,
        url: &str,
    ) -> PostgresStateStore {
        let settings = settings(Some(project), environment, values, self.root.path());
        PostgresStateStore::open_with(&settings, overrides(url)).expect("the settings are valid")
    }
}

/// `[state]` settings as the loader builds them, each key located at a made-up line.
pub fn settings(
    project: Option<&str>,
    environment: Option<&str>,
    values: serde_json::Value,
    root: &Path,
) -> StateSettings {
    let locations: BTreeMap<String, String> = values
        .as_object()
        .map(|values| {
            values.keys().enumerate().map(|(line, key)| (key.clone(), format!("mac.toml:{}:1", line + 5))).collect()
        })
        .unwrap_or_default();
    StateSettings {
        project: project.map(str::to_owned),
        environment: environment.map(str::to_owned),
        values,
        locations,
        project_root: root.to_path_buf(),
    }
}

/// `MAC_STATE_URL` set to `url`.
pub fn overrides(url: &str) -> Overrides {
    Overrides { state_url: Some(Secret::new(url)), stats_file: None }
}

pub fn entry(local_id: &str) -> StateEntry {
    StateEntry {
        applied_hash: format!("sha256:{local_id}"),
        ..StateEntry::new(ObjectId::new("grafana", "folder", local_id), format!("remote-{local_id}"))
    }
}

/// An error as the CLI prints it: the message and every cause not already in it.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    mac_core::apply::error_chain(error)
}

/// Fails when `text` shows the canary password.
#[track_caller]
pub fn assert_no_canary(text: &str) {
    assert!(!text.contains(CANARY), "the password leaked: {text}");
    assert!(!text.contains("5f0c1e"), "part of the password leaked: {text}");
}
