//! [`PostgresStateStore`]: the [`StateStore`] the CLI sees. It checks settings when opened,
//! resolves the URL and starts the connection's thread on first use, and turns each call into
//! a request to that thread.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mac_core::state::StateLock;
use mac_core::{LockInfo, SettingsError, State, StateError, StateSettings, StateStore};

use crate::connect::Target;
use crate::error::PostgresStateError;
use crate::session::{ObjectColumns, StateWrite};
use crate::settings::{Overrides, StoreConfig};
use crate::stats::SaveStats;
use crate::worker::{Request, WorkerHandle};

/// How long dropping a lock waits for the release to be confirmed. Past it the lock is
/// released all the same when the process exits, since the connection is the lock.
const UNLOCK_WAIT: Duration = Duration::from_secs(5);

/// State in PostgreSQL: the state of one project and environment, in the schema `schema`.
#[derive(Debug)]
pub struct PostgresStateStore {
    config: Arc<StoreConfig>,
    /// The URL, resolved and parsed on first use.
    target: Mutex<Option<Arc<Target>>>,
    worker: Mutex<Option<WorkerHandle>>,
    stats: Arc<Mutex<SaveStats>>,
}

impl PostgresStateStore {
    /// Opens the store for `settings`, with [`Overrides::from_process`]. Offline: nothing is
    /// read or connected until the first call.
    pub fn open(settings: &StateSettings) -> Result<PostgresStateStore, SettingsError> {
        PostgresStateStore::open_with(settings, Overrides::from_process())
    }

    /// Opens the store with the process-wide inputs given rather than read.
    pub fn open_with(settings: &StateSettings, overrides: Overrides) -> Result<PostgresStateStore, SettingsError> {
        let config = StoreConfig::from_settings(settings, overrides)?;
        Ok(PostgresStateStore {
            config: Arc::new(config),
            target: Mutex::new(None),
            worker: Mutex::new(None),
            stats: Arc::new(Mutex::new(SaveStats::default())),
        })
    }

    /// The figures of the saves made through this store.
    pub fn stats(&self) -> SaveStats {
        self.stats.lock().map(|stats| *stats).unwrap_or_default()
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.config.schema
    }

    fn target(&self) -> Result<Arc<Target>, PostgresStateError> {
        let mut cached = self.target.lock().map_err(|_| poisoned())?;
        if let Some(target) = cached.as_ref() {
            return Ok(Arc::clone(target));
        }
        let target = Arc::new(Target::resolve(&self.config)?);
        *cached = Some(Arc::clone(&target));
        Ok(target)
    }

    fn worker(&self) -> Result<WorkerHandle, StateError> {
        let target = self.target()?;
        let mut worker = self.worker.lock().map_err(|_| poisoned())?;
        if let Some(worker) = worker.as_ref() {
            return Ok(worker.clone());
        }
        let started = WorkerHandle::spawn(Arc::clone(&self.config), target, self.describe(), Arc::clone(&self.stats))?;
        *worker = Some(started.clone());
        Ok(started)
    }
}

fn poisoned() -> PostgresStateError {
    PostgresStateError::Worker { reason: "was left in a broken state by a panic".to_owned() }
}

impl StateStore for PostgresStateStore {
    /// `PostgreSQL state payments/production (schema mac, postgres://mac@db:5432/macstate)`:
    /// never the password. Before the URL can be read, where it comes from.
    fn describe(&self) -> String {
        let place = match self.target() {
            Ok(target) => target.display.clone(),
            Err(_) => format!("URL from {}", self.config.url_setting()),
        };
        format!("PostgreSQL state {} (schema {}, {place})", self.config.state_name(), self.config.schema)
    }

    /// `postgres payments/production`: not the host, which runners may reach by different
    /// names.
    fn binding(&self) -> String {
        format!("postgres {}", self.config.state_name())
    }

    fn load(&self) -> Result<State, StateError> {
        self.worker()?.call(|reply| Request::Load { reply })
    }

    fn save(&self, state: &State) -> Result<(), StateError> {
        let write = state_write(state).map_err(|reason| PostgresStateError::Worker { reason })?;
        let worker = self.worker()?;
        worker.call(|reply| Request::Save { write: Box::new(write), reply }).map(drop)
    }

    fn lock(&self, timeout: Duration) -> Result<Box<dyn StateLock>, StateError> {
        let worker = self.worker()?;
        let holder = LockInfo::current();
        let previous = worker.call(|reply| Request::Lock { timeout, holder, reply })?;
        Ok(Box::new(PostgresLock { previous, worker }))
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        self.worker()?.call(|reply| Request::LockHolder { reply })
    }

    fn force_unlock(&self, expected: &LockInfo) -> Result<Option<LockInfo>, StateError> {
        let expected = expected.clone();
        self.worker()?.call(|reply| Request::ForceUnlock { expected, reply })
    }
}

/// What a save of `state` sends: its header and the entries changed since the last save.
fn state_write(state: &State) -> Result<StateWrite, String> {
    let changes = state.changes();
    let serial = |serial: u64| i64::try_from(serial).map_err(|_| format!("cannot store serial {serial}"));
    let mut write = StateWrite {
        lineage: state.lineage.clone(),
        serial: serial(state.serial)?,
        base_serial: serial(changes.base_serial)?,
        pending: to_json(state.pending())?,
        secret_salt: state.stored_secret_salt().to_owned(),
        replace_all: changes.replace_all,
        upserted: ObjectColumns::default(),
        removed: ObjectColumns::default(),
    };
    for entry in changes.upserted {
        write.upserted.push(&entry.id, Some(to_json(entry)?));
    }
    for id in changes.removed {
        write.removed.push(id, None);
    }
    Ok(write)
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|err| format!("cannot serialise the state: {err}"))
}

/// The state lock, held by the store's session until dropped.
#[derive(Debug)]
struct PostgresLock {
    previous: Option<LockInfo>,
    worker: WorkerHandle,
}

impl StateLock for PostgresLock {
    fn previous_holder(&self) -> Option<&LockInfo> {
        self.previous.as_ref()
    }
}

impl Drop for PostgresLock {
    fn drop(&mut self) {
        // Waits for the release, so that a process exiting right after leaves no holder
        // record behind (the next run would take it for a run that died).
        let _ = self.worker.call_within(UNLOCK_WAIT, |reply| Request::Unlock { reply });
    }
}
