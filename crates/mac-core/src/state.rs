//! State: what `mac` manages and where it lives remotely. Never secret values.
//!
//! The [`StateStore`] trait keeps the engine independent of where state is kept;
//! [`FileStateStore`] is the embedded default (a JSON file written atomically, guarded by an
//! OS file lock). Shared backends for teams (PostgreSQL, in `mac-state-postgres`) implement
//! the same trait and register through [`crate::backend::StateBackendRegistration`].
//!
//! A [`State`] keeps a journal of what changed since it was loaded or last saved
//! ([`State::changes`]), so that a store keeping a row per object writes only those rows, and
//! the serial it was loaded at, so that a store can refuse a write over a state that moved.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::object::{Fields, LocalRef, ObjectId};

/// The state format this version reads and writes.
pub const STATE_FORMAT: u32 = 1;

/// Everything `mac` remembers between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    /// A random id given when the state is first written; a saved plan is only valid for
    /// the lineage (and serial) it was made from. Empty until the first write.
    pub lineage: String,
    /// Incremented on every write, like omicron's generation numbers: a stale plan or a
    /// second writer cannot move the state backwards unnoticed.
    pub serial: u64,
    resources: Vec<StateEntry>,
    /// Creates an apply was about to attempt, saved before it started them. If the process
    /// dies between a create and the state save after it, the next plan recognises the
    /// object by its natural key as ours — not as a stranger's object to adopt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<PendingCreate>,
    /// The salt of secret digests, made when the first secret is digested.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    secret_salt: String,
    /// What changed since load or the last save; never stored.
    #[serde(skip)]
    journal: Journal,
}

/// Two states are equal when what they store is: the journal is bookkeeping of one process.
impl PartialEq for State {
    fn eq(&self, other: &State) -> bool {
        self.format == other.format
            && self.lineage == other.lineage
            && self.serial == other.serial
            && self.resources == other.resources
            && self.pending == other.pending
            && self.secret_salt == other.secret_salt
    }
}

/// The changes since a state was loaded or last saved.
#[derive(Debug, Clone, Default)]
struct Journal {
    /// The serial the stored state has (as far as this process knows): the one loaded, or the
    /// one last saved.
    base_serial: u64,
    /// Entries added, replaced or removed.
    entries: BTreeSet<ObjectId>,
    /// Every entry is to be written anew (a state pushed over another).
    replace_all: bool,
}

/// What [`StateStore::save`] must write: the entries changed since `base_serial`, and the
/// state's header (lineage, serial, pending creates, secret salt), which every save writes.
#[derive(Debug)]
pub struct StateChanges<'a> {
    /// The serial the store must still hold for the write to be allowed (0: none stored yet).
    pub base_serial: u64,
    /// Replace every stored entry by `upserted` (a push), rather than merging.
    pub replace_all: bool,
    /// Entries to insert or replace.
    pub upserted: Vec<&'a StateEntry>,
    /// Entries to delete.
    pub removed: Vec<&'a ObjectId>,
}

/// The stored parts of a state, for stores that keep them apart (rows of a database).
#[derive(Debug, Clone, Default)]
pub struct StateParts {
    pub lineage: String,
    pub serial: u64,
    pub resources: Vec<StateEntry>,
    pub pending: Vec<PendingCreate>,
    pub secret_salt: String,
}

/// An object whose create was started but not yet recorded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PendingCreate {
    #[serde(flatten)]
    pub id: ObjectId,
    pub adoption_key: String,
}

/// One managed object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateEntry {
    #[serde(flatten)]
    pub id: ObjectId,
    pub remote_id: String,
    /// A hash of the definition as last applied (secrets only as their references): tells
    /// whether a remote difference is drift (code unchanged) or a change in code.
    pub applied_hash: String,
    /// The objects it referred to when applied, so that deletes can be ordered after the
    /// objects that still used them are gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<LocalRef>,
    /// See [`crate::RemoteObject::part_ids`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub part_ids: BTreeMap<String, String>,
    /// Salted digests of the secret values last written, by field pointer (never the values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_digests: BTreeMap<String, String>,
    /// Written with `protect = true`: deleting it is refused until the code says otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
}

impl StateEntry {
    /// An entry that records only where the object lives: no applied hash, dependencies, part
    /// ids, secret digests or protection yet (what a backend's or a test's state starts from).
    pub fn new(id: ObjectId, remote_id: impl Into<String>) -> StateEntry {
        StateEntry {
            id,
            remote_id: remote_id.into(),
            applied_hash: String::new(),
            depends_on: Vec::new(),
            part_ids: BTreeMap::new(),
            secret_digests: BTreeMap::new(),
            protect: false,
        }
    }
}

impl Default for State {
    fn default() -> Self {
        State::empty()
    }
}

impl State {
    pub fn empty() -> State {
        State {
            format: STATE_FORMAT,
            lineage: String::new(),
            serial: 0,
            resources: Vec::new(),
            pending: Vec::new(),
            secret_salt: String::new(),
            journal: Journal::default(),
        }
    }

    /// A state as a store read it: nothing changed yet, stored at `parts.serial`.
    pub fn from_parts(parts: StateParts) -> State {
        let StateParts { lineage, serial, mut resources, mut pending, secret_salt } = parts;
        resources.sort_by(|a, b| a.id.cmp(&b.id));
        pending.sort();
        pending.dedup();
        State {
            format: STATE_FORMAT,
            lineage,
            serial,
            resources,
            pending,
            secret_salt,
            journal: Journal { base_serial: serial, ..Journal::default() },
        }
    }

    /// The salt of secret digests as stored (empty when none was made yet).
    pub fn stored_secret_salt(&self) -> &str {
        &self.secret_salt
    }

    /// What a save must write (see [`StateStore::save`]).
    pub fn changes(&self) -> StateChanges<'_> {
        if self.journal.replace_all {
            return StateChanges {
                base_serial: self.journal.base_serial,
                replace_all: true,
                upserted: self.resources.iter().collect(),
                removed: Vec::new(),
            };
        }
        let mut upserted = Vec::new();
        let mut removed = Vec::new();
        for id in &self.journal.entries {
            match self.get(id) {
                Some(entry) => upserted.push(entry),
                None => removed.push(id),
            }
        }
        StateChanges { base_serial: self.journal.base_serial, replace_all: false, upserted, removed }
    }

    /// Marks one more write and saves it through `store`: sets the lineage on the first write,
    /// increments the serial, writes the changes. After a failed save the changes are kept
    /// for the next attempt (whose serial is one higher again: serials only move forward).
    pub fn save_to(&mut self, store: &dyn StateStore) -> Result<(), StateError> {
        self.bump();
        store.save(self)?;
        self.journal = Journal { base_serial: self.serial, ..Journal::default() };
        Ok(())
    }

    /// Writes this state, as it is (lineage and serial kept), over the state `store` holds at
    /// `stored_serial`: every entry replaced. Checking that this is allowed (same lineage, a
    /// serial not behind) is the caller's.
    pub fn replace_stored(&mut self, store: &dyn StateStore, stored_serial: u64) -> Result<(), StateError> {
        self.journal = Journal { base_serial: stored_serial, entries: BTreeSet::new(), replace_all: true };
        store.save(self)?;
        self.journal = Journal { base_serial: self.serial, ..Journal::default() };
        Ok(())
    }

    pub fn resources(&self) -> &[StateEntry] {
        &self.resources
    }

    pub fn get(&self, id: &ObjectId) -> Option<&StateEntry> {
        self.resources.binary_search_by(|entry| entry.id.cmp(id)).ok().map(|index| &self.resources[index])
    }

    /// Adds or replaces the entry for its id, keeping entries sorted (stable files, fast lookups).
    pub fn upsert(&mut self, entry: StateEntry) {
        self.journal.entries.insert(entry.id.clone());
        match self.resources.binary_search_by(|existing| existing.id.cmp(&entry.id)) {
            Ok(index) => self.resources[index] = entry,
            Err(index) => self.resources.insert(index, entry),
        }
    }

    pub fn remove(&mut self, id: &ObjectId) -> Option<StateEntry> {
        let index = self.resources.binary_search_by(|entry| entry.id.cmp(id)).ok()?;
        self.journal.entries.insert(id.clone());
        Some(self.resources.remove(index))
    }

    /// Moves the entry of `from` to `to` (a `[[moved]]` block, `mac state mv`), with the
    /// references other entries of its provider instance record to it. False when state has
    /// no `from` or has a `to` already (nothing is changed then).
    pub fn rename(&mut self, from: &ObjectId, to: &ObjectId) -> bool {
        if self.get(to).is_some() {
            return false;
        }
        let Some(mut entry) = self.remove(from) else { return false };
        entry.id = to.clone();
        self.upsert(entry);
        let (old, new) = (from.local_ref(), to.local_ref());
        let referring: Vec<ObjectId> = self
            .resources
            .iter()
            .filter(|entry| entry.id.provider == from.provider && entry.depends_on.contains(&old))
            .map(|entry| entry.id.clone())
            .collect();
        for id in referring {
            if let Some(mut entry) = self.get(&id).cloned() {
                for reference in &mut entry.depends_on {
                    if *reference == old {
                        *reference = new.clone();
                    }
                }
                entry.depends_on.sort();
                entry.depends_on.dedup();
                self.upsert(entry);
            }
        }
        true
    }

    /// The salt for secret digests, made (randomly) on first use and kept with the state.
    pub fn secret_salt(&mut self) -> &str {
        if self.secret_salt.is_empty() {
            self.secret_salt = uuid::Uuid::new_v4().simple().to_string();
        }
        &self.secret_salt
    }

    pub fn pending(&self) -> &[PendingCreate] {
        &self.pending
    }

    /// Whether an interrupted apply was creating `id` under `adoption_key`.
    pub fn is_pending(&self, id: &ObjectId, adoption_key: &str) -> bool {
        self.pending.iter().any(|pending| &pending.id == id && pending.adoption_key == adoption_key)
    }

    pub fn set_pending(&mut self, mut pending: Vec<PendingCreate>) {
        pending.sort();
        pending.dedup();
        self.pending = pending;
    }

    pub fn remove_pending(&mut self, id: &ObjectId) {
        self.pending.retain(|pending| &pending.id != id);
    }

    /// Marks one more write: sets the lineage on the first, increments the serial. Stores
    /// are written through [`State::save_to`], which bumps.
    fn bump(&mut self) {
        if self.lineage.is_empty() {
            self.lineage = uuid::Uuid::new_v4().to_string();
        }
        self.serial += 1;
    }
}

/// The hash recorded for an applied definition: SHA-256 of its canonical JSON (keys sorted),
/// so that reordering keys in a file does not count as a change.
pub fn definition_hash(fields: &Fields) -> String {
    value_hash(&Value::Object(fields.clone()))
}

/// [`definition_hash`] of fields kept as text (a definition's): the same hash, from one tree.
pub fn definition_text_hash(fields: &crate::JsonText) -> String {
    value_hash(&fields.to_value())
}

/// `sha256:…` of a value in its canonical form (object keys sorted at every level).
pub(crate) fn value_hash(value: &Value) -> String {
    let digest = Sha256::digest(canonical(value).to_string().as_bytes());
    format!("sha256:{}", hex(&digest))
}

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map.iter().map(|(key, value)| (key, canonical(value))).collect();
            Value::Object(sorted.into_iter().map(|(key, value)| (key.clone(), value)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path} is damaged: {message}; restore it from version control or a backup")]
    Corrupt { path: PathBuf, message: String },
    #[error("state file {path} has format {found}, this mac reads format {supported}: upgrade mac")]
    UnsupportedFormat { path: PathBuf, found: u32, supported: u32 },
    #[error("cannot write state file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "state {} is locked by {holder}; waited {}s — retry later or raise --lock-timeout",
        path.display(), waited.as_secs()
    )]
    Locked { path: PathBuf, holder: LockInfo, waited: Duration },
    #[error("cannot lock state {path}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A shared store holds a newer serial than the one this run loaded: another writer wrote
    /// it in between. Nothing was written.
    #[error(
        "state {store} moved on while this run held it: it is at serial {found}, this run loaded serial {expected}; \
         nothing was overwritten — run again to plan from the current state"
    )]
    Moved { store: String, expected: u64, found: u64 },
    /// A store other than the file store failed; `message` says what and names the setting.
    #[error("{message}")]
    Backend {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("{store} does not support {operation}")]
    Unsupported { store: String, operation: &'static str },
}

/// Who holds (or held) the state lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// `user@host`.
    pub owner: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub since: String,
    /// The command line that took the lock (`mac apply reviewed.plan`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

impl LockInfo {
    /// This process.
    pub fn current() -> LockInfo {
        let user =
            std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".to_owned());
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown-host".to_owned());
        // The program's file name and its arguments: mac takes no secrets on its command line.
        let mut words = std::env::args();
        let program = words
            .next()
            .map(|path| Path::new(&path).file_name().map_or(path.clone(), |name| name.to_string_lossy().into_owned()));
        let command = program.map(|program| std::iter::once(program).chain(words).collect::<Vec<_>>().join(" "));
        LockInfo {
            owner: format!("{user}@{host}"),
            pid: std::process::id(),
            since: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            command,
        }
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (pid {}", self.owner, self.pid)?;
        if let Some(command) = &self.command {
            write!(f, ", `{command}`")?;
        }
        write!(f, ", since {})", self.since)
    }
}

/// Holds the state lock until dropped.
pub trait StateLock: Send + fmt::Debug {
    /// The holder of a lock that a process left behind when it died (the OS released it),
    /// so that the user can be told an earlier run was interrupted.
    fn previous_holder(&self) -> Option<&LockInfo>;
}

/// Where state is kept.
pub trait StateStore: Send + Sync + fmt::Debug {
    /// A short description for messages, e.g. the file path.
    fn describe(&self) -> String;

    /// The current state; an empty state when none was written yet.
    fn load(&self) -> Result<State, StateError>;

    /// What a saved plan is bound to: the same state, however a runner reaches it (a file
    /// path relative to the project; a database's project and environment, not its host).
    fn binding(&self) -> String {
        self.describe()
    }

    /// Writes `state` in one atomic step. A store may write only [`State::changes`] (and
    /// must then refuse with [`StateError::Moved`] when it no longer holds
    /// `changes.base_serial`), or the whole state. Called through [`State::save_to`].
    fn save(&self, state: &State) -> Result<(), StateError>;

    /// Takes the exclusive lock, waiting up to `timeout` for another holder.
    fn lock(&self, timeout: Duration) -> Result<Box<dyn StateLock>, StateError>;

    /// Who holds the lock now, if anyone (for `mac state unlock`).
    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(None)
    }

    /// Breaks a lock whose holder cannot release it (a hung run): the holder loses the lock
    /// and its later saves fail. Only the lock of `expected` (the holder the user was shown
    /// and confirmed) is broken: one that changed hands meanwhile is refused. Returns who
    /// held it; `None` when the lock was free.
    fn force_unlock(&self, expected: &LockInfo) -> Result<Option<LockInfo>, StateError> {
        let _ = expected;
        Err(StateError::Unsupported { store: self.describe(), operation: "breaking a lock" })
    }
}

/// State in a JSON file (`.mac/state.json` by default), next to a `.lock` file.
#[derive(Debug, Clone)]
pub struct FileStateStore {
    path: PathBuf,
}

impl FileStateStore {
    pub fn new(path: impl Into<PathBuf>) -> FileStateStore {
        FileStateStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn write_error(&self, source: std::io::Error) -> StateError {
        StateError::Write { path: self.path.clone(), source }
    }
}

impl StateStore for FileStateStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn load(&self) -> Result<State, StateError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(State::empty()),
            Err(source) => return Err(StateError::Read { path: self.path.clone(), source }),
        };
        #[derive(Deserialize)]
        struct FormatOnly {
            format: u32,
        }
        let corrupt =
            |err: serde_json::Error| StateError::Corrupt { path: self.path.clone(), message: format!("{err}") };
        let format: FormatOnly = serde_json::from_str(&text).map_err(corrupt)?;
        if format.format != STATE_FORMAT {
            return Err(StateError::UnsupportedFormat {
                path: self.path.clone(),
                found: format.format,
                supported: STATE_FORMAT,
            });
        }
        let mut state: State = serde_json::from_str(&text).map_err(corrupt)?;
        // Files edited by hand may be unsorted; lookups rely on order.
        state.resources.sort_by(|a, b| a.id.cmp(&b.id));
        state.journal.base_serial = state.serial;
        Ok(state)
    }

    fn save(&self, state: &State) -> Result<(), StateError> {
        let directory = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&directory).map_err(|err| self.write_error(err))?;
        let mut text =
            serde_json::to_string_pretty(state).map_err(|err| self.write_error(std::io::Error::other(err)))?;
        text.push('\n');
        // Write a temporary file beside the target, flush it to disk, then rename it over the
        // target: a reader (or a crash) sees the old state or the new one, never a mix.
        let file_name = self.path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let temporary = directory.join(format!(".{file_name}.tmp-{}", std::process::id()));
        let result = (|| {
            let mut file = File::create(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, &self.path)?;
            // Make the rename itself durable.
            if let Ok(directory) = File::open(&directory) {
                let _ = directory.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        result.map_err(|err| self.write_error(err))
    }

    fn lock(&self, timeout: Duration) -> Result<Box<dyn StateLock>, StateError> {
        let path = self.lock_path();
        let lock_error = |source| StateError::Lock { path: path.clone(), source };
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(lock_error)?;
        }
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(lock_error)?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if started.elapsed() >= timeout {
                        let holder = read_lock_info(&mut file).unwrap_or(LockInfo {
                            owner: "another process".to_owned(),
                            pid: 0,
                            since: "an unknown time".to_owned(),
                            command: None,
                        });
                        return Err(StateError::Locked { path: self.path.clone(), holder, waited: started.elapsed() });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::Error(source)) => return Err(lock_error(source)),
            }
        }
        // The OS releases the lock when its holder dies, so a leftover owner record means an
        // earlier run was killed mid-way.
        let previous = read_lock_info(&mut file);
        let info = serde_json::to_string(&LockInfo::current()).map_err(|err| lock_error(std::io::Error::other(err)))?;
        file.set_len(0).map_err(lock_error)?;
        file.seek(SeekFrom::Start(0)).map_err(lock_error)?;
        file.write_all(info.as_bytes()).map_err(lock_error)?;
        file.sync_all().map_err(lock_error)?;
        Ok(Box::new(FileLock { file, previous }))
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let path = self.lock_path();
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Lock { path, source }),
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                Ok(None)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(Some(read_lock_info(&mut file).unwrap_or(LockInfo {
                owner: "another process".to_owned(),
                pid: 0,
                since: "an unknown time".to_owned(),
                command: None,
            }))),
            Err(std::fs::TryLockError::Error(source)) => Err(StateError::Lock { path, source }),
        }
    }
}

fn read_lock_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[derive(Debug)]
struct FileLock {
    file: File,
    previous: Option<LockInfo>,
}

impl StateLock for FileLock {
    fn previous_holder(&self) -> Option<&LockInfo> {
        self.previous.as_ref()
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // A clean release leaves an empty record; the OS lock goes with the file handle.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(local_id: &str) -> StateEntry {
        StateEntry::new(ObjectId::new("p", "k", local_id), format!("r-{local_id}"))
    }

    #[test]
    fn hash_ignores_key_order() {
        let a = json!({"a": 1, "b": {"x": 1, "y": 2}});
        let b = json!({"b": {"y": 2, "x": 1}, "a": 1});
        let hash = |value: serde_json::Value| definition_hash(value.as_object().expect("object"));
        assert_eq!(hash(a), hash(b.clone()));
        assert_ne!(hash(b), hash(json!({"a": 2})));
    }

    #[test]
    fn a_definition_kept_as_text_hashes_as_its_fields() {
        // States recorded before definitions were kept as text must not see every object as
        // changed.
        let fields = json!({"title": "x", "rules": [{"for": "5m", "expr": "up"}], "ratio": 0.30000000000000004});
        let map = fields.as_object().expect("object");
        assert_eq!(definition_text_hash(&crate::JsonText::from_map(map)), definition_hash(map));
    }

    #[test]
    fn file_round_trip_keeps_entries_sorted_and_bumps_serial() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStateStore::new(dir.path().join("nested/state.json"));
        let mut state = store.load().expect("empty");
        assert_eq!((state.serial, state.lineage.as_str()), (0, ""));
        state.upsert(entry("b"));
        state.upsert(entry("a"));
        state.save_to(&store).expect("save");
        let loaded = store.load().expect("load");
        assert_eq!(loaded, state);
        assert_eq!(loaded.resources()[0].id.local_id, "a");
        assert_eq!(loaded.serial, 1);
        assert!(!loaded.lineage.is_empty());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("nested")).expect("dir").collect();
        assert_eq!(leftovers.len(), 1, "no temporary files remain");
    }

    #[test]
    fn damaged_and_future_files_are_refused_with_their_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{\"format\": 1, \"lineage\": ").expect("write");
        let err = FileStateStore::new(&path).load().expect_err("damaged");
        assert!(err.to_string().contains("is damaged"), "{err}");
        std::fs::write(&path, "{\"format\": 99}").expect("write");
        let err = FileStateStore::new(&path).load().expect_err("future");
        assert!(matches!(err, StateError::UnsupportedFormat { found: 99, .. }), "{err}");
    }

    #[test]
    fn a_second_lock_waits_then_names_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStateStore::new(dir.path().join("state.json"));
        let held = store.lock(Duration::ZERO).expect("first lock");
        assert!(held.previous_holder().is_none());
        let started = Instant::now();
        let err = store.lock(Duration::from_millis(120)).expect_err("contended");
        assert!(started.elapsed() >= Duration::from_millis(120), "gave up after {:?}", started.elapsed());
        let StateError::Locked { holder, waited, .. } = &err else { panic!("unexpected error {err}") };
        assert!(*waited >= Duration::from_millis(120), "{waited:?}");
        assert_eq!(holder.pid, std::process::id());
        assert!(err.to_string().contains(&format!("pid {}", std::process::id())), "{err}");
        drop(held);
        let again = store.lock(Duration::ZERO).expect("released");
        assert!(again.previous_holder().is_none(), "a clean release leaves no record");
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_taken_and_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStateStore::new(dir.path().join("state.json"));
        let stale = LockInfo {
            owner: "ci@runner".into(),
            pid: 4242,
            since: "2026-01-01T00:00:00Z".into(),
            command: Some("mac apply".into()),
        };
        std::fs::write(dir.path().join("state.json.lock"), serde_json::to_string(&stale).expect("json"))
            .expect("write");
        let lock = store.lock(Duration::ZERO).expect("not held by anyone");
        assert_eq!(lock.previous_holder(), Some(&stale));
    }
}
