//! `testfs`: a provider for `mac`'s own tests. Its "remote system" is a map of objects kept
//! in memory or in a JSON file, so that engine and CLI tests run without a server, and it
//! injects the faults those tests need: failed writes, latency, and a process crash after
//! the Nth write (between a remote write and the state save that follows it).
//!
//! Kinds: `folder` (`title`, optional `uid`) and `group` (`folder` = a folder's local id,
//! `interval`, `rules = [{ title, expr, for }]`), where a group depends on its folder and a
//! folder that still holds groups cannot be deleted — the shape of Grafana's folders and
//! rule groups, small enough to read in one sitting. A group lives in its folder; a group
//! made outside mac (`Remote::put`) may also record the uids of folders it uses
//! (`uses = ["uid"]`), the shape of a rule querying a data source (see `mac_core::links`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mac_core::{
    DesiredObject, FieldError, Fields, Handler, HandlerError, HandlerErrorKind, KindSpec, LinkTarget, Links, LocalRef,
    Provider, ProviderRegistration, ProviderSettings, Relation, RemoteObject, Resolved, Resolver, SecretRef,
    SettingsError, async_trait, provider::KNOWN_AFTER_APPLY,
};
use serde::Deserialize;
use serde_json::{Value, json};

mac_core::inventory::submit! {
    ProviderRegistration {
        name: "testfs",
        description: "test-only: folders and groups kept in a local JSON file, with fault injection",
        build: build_provider,
    }
}

/// Set to N to abort the process right after the Nth successful remote write.
pub const CRASH_AFTER_ENV: &str = "MAC_TESTFS_CRASH_AFTER";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// The JSON file that holds the remote objects (relative to the project root).
    file: PathBuf,
    #[serde(default)]
    latency_ms: u64,
    /// `kind.local_id` of objects whose writes fail.
    #[serde(default)]
    fail: Vec<String>,
    /// A credential, as real providers take one: checked before the first read.
    token: Option<SecretRef>,
}

fn build_provider(settings: &ProviderSettings) -> Result<Box<dyn Provider>, SettingsError> {
    let parsed: Settings = settings.parse()?;
    if parsed.file.as_os_str().is_empty() {
        return Err(SettingsError::at("/file", "must name a file"));
    }
    let remote = Remote::in_file(settings.project_root.join(&parsed.file));
    remote.set_token(parsed.token.map(|token| (token, settings.project_root.clone())));
    remote.configure(Faults {
        latency: Duration::from_millis(parsed.latency_ms),
        fail: parsed.fail.into_iter().collect(),
        crash_after: std::env::var(CRASH_AFTER_ENV).ok().and_then(|value| value.parse().ok()),
        panic_on: BTreeSet::new(),
    });
    Ok(Box::new(TestProvider::new(remote)))
}

/// Faults to inject.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub latency: Duration,
    /// `kind.local_id` (creates, updates) or `kind.remote_id` (deletes) that fail.
    pub fail: BTreeSet<String>,
    /// Abort the process after this many successful writes.
    pub crash_after: Option<usize>,
    /// `kind.local_id` whose writes panic, as a buggy provider might.
    pub panic_on: BTreeSet<String>,
}

/// The fake remote system, shareable between a provider and the test that inspects it.
#[derive(Debug, Clone, Default)]
pub struct Remote {
    inner: Arc<RemoteInner>,
}

#[derive(Debug, Default)]
struct RemoteInner {
    file: Option<PathBuf>,
    objects: Mutex<BTreeMap<String, BTreeMap<String, Value>>>,
    faults: Mutex<Faults>,
    writes: AtomicUsize,
    lists: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    log: Mutex<Vec<String>>,
    token: Mutex<Option<(SecretRef, PathBuf)>>,
}

impl Remote {
    /// A remote that lives only in this process.
    pub fn in_memory() -> Remote {
        Remote::default()
    }

    /// A remote kept in `file`, read before and written after every operation, so that
    /// separate `mac` processes see the same remote.
    pub fn in_file(file: PathBuf) -> Remote {
        Remote { inner: Arc::new(RemoteInner { file: Some(file), ..RemoteInner::default() }) }
    }

    fn set_token(&self, token: Option<(SecretRef, PathBuf)>) {
        *lock(&self.inner.token) = token;
    }

    pub fn configure(&self, faults: Faults) {
        *lock(&self.inner.faults) = faults;
    }

    /// The objects of a kind, by remote id.
    pub fn objects(&self, kind: &str) -> BTreeMap<String, Value> {
        self.load().get(kind).cloned().unwrap_or_default()
    }

    /// Puts an object directly, as a person using the remote's own UI would.
    pub fn put(&self, kind: &str, remote_id: &str, fields: Value) {
        let mut objects = self.load();
        objects.entry(kind.to_owned()).or_default().insert(remote_id.to_owned(), fields);
        self.store(&objects);
    }

    pub fn remove(&self, kind: &str, remote_id: &str) {
        let mut objects = self.load();
        objects.entry(kind.to_owned()).or_default().remove(remote_id);
        self.store(&objects);
    }

    /// A fresh remote id.
    fn next_id(&self) -> usize {
        let highest = self.objects("group").keys().filter_map(|id| id.strip_prefix('g')?.parse::<usize>().ok()).max();
        highest.unwrap_or(0) + 1
    }

    /// The remote ids of the groups named `name` (more than one means a duplicate).
    pub fn groups_named(&self, name: &str) -> Vec<String> {
        self.objects("group")
            .into_iter()
            .filter(|(_, fields)| fields.get("name").and_then(Value::as_str) == Some(name))
            .map(|(id, _)| id)
            .collect()
    }

    /// Successful writes so far.
    pub fn writes(&self) -> usize {
        self.inner.writes.load(Ordering::SeqCst)
    }

    /// Bulk list calls so far.
    pub fn lists(&self) -> usize {
        self.inner.lists.load(Ordering::SeqCst)
    }

    /// The most writes that were ever in progress at once.
    pub fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight.load(Ordering::SeqCst)
    }

    /// `create kind.id` / `update …` / `delete …` in the order they completed.
    pub fn log(&self) -> Vec<String> {
        lock(&self.inner.log).clone()
    }

    fn load(&self) -> BTreeMap<String, BTreeMap<String, Value>> {
        if let Some(file) = &self.inner.file {
            let loaded = std::fs::read_to_string(file).ok().and_then(|text| serde_json::from_str(&text).ok());
            *lock(&self.inner.objects) = loaded.unwrap_or_default();
        }
        lock(&self.inner.objects).clone()
    }

    fn store(&self, objects: &BTreeMap<String, BTreeMap<String, Value>>) {
        *lock(&self.inner.objects) = objects.clone();
        if let Some(file) = &self.inner.file {
            let text = serde_json::to_string_pretty(objects).unwrap_or_default();
            let temporary = file.with_extension("tmp");
            if std::fs::write(&temporary, text).is_ok() {
                let _ = std::fs::rename(&temporary, file);
            }
        }
    }

    /// Runs one write with the configured latency and faults, tracking concurrency.
    async fn write<T>(
        &self,
        what: String,
        operation: impl FnOnce(&Remote) -> Result<T, HandlerError>,
    ) -> Result<T, HandlerError> {
        let now = self.inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let faults = lock(&self.inner.faults).clone();
        tokio::time::sleep(faults.latency).await;
        let target = what.split_once(' ').map_or(what.as_str(), |(_, target)| target).to_owned();
        if faults.panic_on.contains(&target) {
            self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
            panic!("injected panic writing {target}");
        }
        let result = if faults.fail.contains(&target) {
            Err(HandlerError::new(HandlerErrorKind::Unavailable, format!("injected failure writing {target}")))
        } else {
            // One write at a time touches the map (and the file), as a server would serialise them.
            static FILE_LOCK: Mutex<()> = Mutex::new(());
            let _guard = lock(&FILE_LOCK);
            operation(self)
        };
        self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        if result.is_ok() {
            lock(&self.inner.log).push(what);
            let writes = self.inner.writes.fetch_add(1, Ordering::SeqCst) + 1;
            if faults.crash_after == Some(writes) {
                // Simulates a killed runner: the remote has the write, state does not.
                std::process::abort();
            }
        }
        result
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The provider over a [`Remote`].
#[derive(Debug, Clone)]
pub struct TestProvider {
    remote: Remote,
}

impl TestProvider {
    pub fn new(remote: Remote) -> TestProvider {
        TestProvider { remote }
    }
}

#[async_trait]
impl Provider for TestProvider {
    fn kinds(&self) -> Vec<KindSpec> {
        vec![KindSpec::new("folder", &[]), KindSpec::new("group", &["folder"])]
    }

    async fn check(&self) -> Result<(), HandlerError> {
        let token = lock(&self.remote.inner.token).clone();
        if let Some((token, root)) = token {
            let secret = token.resolve(&root).map_err(|err| {
                HandlerError::new(HandlerErrorKind::Unauthorized, format!("cannot read the token: {err}"))
            })?;
            if secret.expose().is_empty() {
                return Err(HandlerError::new(HandlerErrorKind::Unauthorized, "the token is empty"));
            }
        }
        Ok(())
    }

    fn handler(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        match kind {
            "folder" => Some(Arc::new(FolderHandler { remote: self.remote.clone() })),
            "group" => Some(Arc::new(GroupHandler { remote: self.remote.clone() })),
            _ => None,
        }
    }
}

/// The uid a folder gets when its definition names none: stable, so creates are idempotent.
pub fn folder_uid(local_id: &str) -> String {
    format!("mac-{local_id}")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Deserialised only to validate.
struct FolderFields {
    /// A string, or a generic reference (`{ ref = "group.x", field = "interval" }`).
    title: Value,
    uid: Option<String>,
    /// A secret (`{ env = … }` or `{ file = … }`); the remote only records that it has one.
    secret: Option<Value>,
}

struct FolderHandler {
    remote: Remote,
}

impl FolderHandler {
    /// What the remote keeps: the title, and whether a secret was given — never its value.
    /// A revealed secret must be a string here; anything else means it was not revealed.
    fn stored(desired: &DesiredObject) -> Value {
        let mut fields = json!({ "title": desired.fields.get("title") });
        if let Some(secret) = desired.fields.get("secret") {
            fields["has_secret"] = json!(secret.is_string());
        }
        fields
    }

    fn uid(desired: &DesiredObject) -> String {
        desired
            .fields
            .get("uid")
            .and_then(Value::as_str)
            .map_or_else(|| folder_uid(&desired.id.local_id), str::to_owned)
    }
}

/// Folders are known by their uid; groups by `folder-uid/name` (the name is the local id),
/// since their remote ids are assigned by the remote — like Grafana's rule groups, whose key
/// is only known once their folder exists.
fn remote_object(remote_id: &str, fields: &Value) -> RemoteObject {
    let adoption_key =
        match (fields.get("folder_uid").and_then(Value::as_str), fields.get("name").and_then(Value::as_str)) {
            (Some(folder), Some(name)) => format!("{folder}/{name}"),
            _ => remote_id.to_owned(),
        };
    RemoteObject {
        remote_id: remote_id.to_owned(),
        adoption_key: Some(adoption_key),
        fields: fields.clone(),
        part_ids: Default::default(),
    }
}

fn list(remote: &Remote, kind: &str) -> Vec<RemoteObject> {
    remote.inner.lists.fetch_add(1, Ordering::SeqCst);
    remote.objects(kind).iter().map(|(id, fields)| remote_object(id, fields)).collect()
}

#[async_trait]
impl Handler for FolderHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        let parsed: FolderFields = mac_core::parse_fields(fields).map_err(|err| vec![err])?;
        match &parsed.title {
            Value::String(title) if title.trim().is_empty() => Err(vec![FieldError::at("/title", "must not be empty")]),
            Value::String(_) | Value::Object(_) => Ok(()),
            _ => Err(vec![FieldError::at("/title", "must be a string")]),
        }?;
        Ok(())
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        vec!["/secret"]
    }

    fn adoption_key(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Option<String> {
        Some(FolderHandler::uid(desired))
    }

    fn desired(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<Value, FieldError> {
        Ok(json!({ "title": desired.fields.get("title"), "uid": FolderHandler::uid(desired) }))
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        json!({ "title": remote.fields.get("title"), "uid": remote.remote_id })
    }

    fn links(&self, remote: &RemoteObject) -> Links {
        Links { title: remote.fields.get("title").and_then(Value::as_str).map(str::to_owned), ..Links::default() }
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        format!("folder {}, uid {:?}", remote.fields.get("title").unwrap_or(&Value::Null), remote.remote_id)
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(list(&self.remote, "folder"))
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.remote.objects("folder").get(remote_id).map(|fields| remote_object(remote_id, fields)))
    }

    async fn create(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        let uid = FolderHandler::uid(desired);
        let fields = FolderHandler::stored(desired);
        self.remote
            .write(format!("create {}", desired.id.short()), |remote| {
                if remote.objects("folder").contains_key(&uid) {
                    return Err(HandlerError::new(
                        HandlerErrorKind::Conflict,
                        format!("a folder with uid {uid} exists"),
                    ));
                }
                remote.put("folder", &uid, fields.clone());
                Ok(remote_object(&uid, &fields))
            })
            .await
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        _refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        let fields = FolderHandler::stored(desired);
        let uid = current.remote_id.clone();
        self.remote
            .write(format!("update {}", desired.id.short()), |remote| {
                remote.put("folder", &uid, fields.clone());
                Ok(remote_object(&uid, &fields))
            })
            .await
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let uid = current.remote_id.clone();
        self.remote
            .write(format!("delete folder.{uid}"), |remote| {
                let holds_groups =
                    remote.objects("group").values().any(|group| group.get("folder_uid") == Some(&json!(uid)));
                if holds_groups {
                    return Err(HandlerError::new(
                        HandlerErrorKind::Conflict,
                        format!("folder {uid} still holds groups"),
                    ));
                }
                remote.remove("folder", &uid);
                Ok(())
            })
            .await
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Deserialised only to validate.
struct GroupFields {
    folder: String,
    interval: String,
    #[serde(default)]
    rules: Vec<RuleFields>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Deserialised only to validate.
struct RuleFields {
    title: String,
    expr: String,
    #[serde(rename = "for", default)]
    for_: Option<String>,
}

struct GroupHandler {
    remote: Remote,
}

/// `60s` and `1m` are the same duration; compare seconds.
fn seconds(text: &str) -> Option<u64> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let number: u64 = number.parse().ok()?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return None,
    };
    Some(number * factor)
}

fn normalise_duration(value: Option<&Value>) -> Value {
    match value.and_then(Value::as_str) {
        Some(text) => seconds(text).map_or_else(|| json!(text), |seconds| json!(format!("{seconds}s"))),
        None => json!("0s"),
    }
}

impl GroupHandler {
    fn folder_uid(desired: &DesiredObject, refs: &dyn Resolver) -> Value {
        let folder = desired.fields.get("folder").and_then(Value::as_str).unwrap_or_default();
        match refs.resolve(&LocalRef::new("folder", folder)) {
            Some(Resolved::Known(remote)) => json!(remote.remote_id),
            _ => json!(KNOWN_AFTER_APPLY),
        }
    }

    fn comparable(folder_uid: Value, fields: &Value) -> Value {
        let rules: Vec<Value> = fields
            .get("rules")
            .and_then(Value::as_array)
            .map(|rules| {
                rules
                    .iter()
                    .map(|rule| json!({ "title": rule.get("title"), "expr": rule.get("expr"), "for": normalise_duration(rule.get("for")) }))
                    .collect()
            })
            .unwrap_or_default();
        json!({ "folder_uid": folder_uid, "interval": normalise_duration(fields.get("interval")), "rules": rules })
    }

    fn stored(desired: &DesiredObject, refs: &dyn Resolver) -> Value {
        json!({
            "name": desired.id.local_id,
            "folder_uid": GroupHandler::folder_uid(desired, refs),
            "interval": desired.fields.get("interval"),
            "rules": desired.fields.get("rules").cloned().unwrap_or_else(|| json!([])),
        })
    }
}

#[async_trait]
impl Handler for GroupHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        let parsed: GroupFields = mac_core::parse_fields(fields).map_err(|err| vec![err])?;
        if seconds(&parsed.interval).is_none() {
            return Err(vec![FieldError::at(
                "/interval",
                format!("invalid duration `{}` (use e.g. 30s, 1m, 2h)", parsed.interval),
            )]);
        }
        Ok(())
    }

    fn references(&self, fields: &Fields) -> Vec<(String, LocalRef)> {
        match fields.get("folder").and_then(Value::as_str) {
            Some(folder) => vec![("/folder".to_owned(), LocalRef::new("folder", folder))],
            None => Vec::new(),
        }
    }

    fn adoption_key(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Option<String> {
        let folder = GroupHandler::folder_uid(desired, refs);
        let folder = folder.as_str().filter(|uid| *uid != KNOWN_AFTER_APPLY)?;
        Some(format!("{folder}/{}", desired.id.local_id))
    }

    fn desired(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<Value, FieldError> {
        Ok(GroupHandler::comparable(GroupHandler::folder_uid(desired, refs), &Value::Object(desired.fields.clone())))
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        GroupHandler::comparable(remote.fields.get("folder_uid").cloned().unwrap_or(Value::Null), &remote.fields)
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        (path == "/rules").then_some("title")
    }

    fn relations(&self) -> Vec<(Relation, &'static str)> {
        vec![(Relation::LivesIn, "folder"), (Relation::Uses, "folder")]
    }

    fn links(&self, remote: &RemoteObject) -> Links {
        let uids = |value: Option<&Value>| -> Vec<String> {
            let strings = value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
            strings.map(str::to_owned).collect()
        };
        let folder = remote.fields.get("folder_uid").and_then(Value::as_str).map(str::to_owned);
        Links {
            title: remote.fields.get("name").and_then(Value::as_str).map(str::to_owned),
            uid: None,
            lives_in: folder.into_iter().map(|uid| LinkTarget::by_remote_id("folder", uid)).collect(),
            uses: uids(remote.fields.get("uses"))
                .into_iter()
                .map(|uid| LinkTarget::by_remote_id("folder", uid))
                .collect(),
        }
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        let rules = remote.fields.get("rules").and_then(Value::as_array).map_or(0, Vec::len);
        let folder = remote.fields.get("folder_uid").and_then(Value::as_str).unwrap_or_default();
        format!("group of {rules} rule(s) in folder {folder:?}")
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(list(&self.remote, "group"))
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.remote.objects("group").get(remote_id).map(|fields| remote_object(remote_id, fields)))
    }

    async fn create(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        let fields = GroupHandler::stored(desired, refs);
        self.remote
            .write(format!("create {}", desired.id.short()), |remote| {
                // The remote assigns ids, and like many APIs it does not stop a second group
                // with the same name: only mac's bookkeeping prevents duplicates.
                let id = format!("g{}", remote.next_id());
                let folder = fields.get("folder_uid").and_then(Value::as_str).unwrap_or_default();
                if !remote.objects("folder").contains_key(folder) {
                    return Err(HandlerError::new(
                        HandlerErrorKind::Invalid,
                        format!("folder {folder} does not exist"),
                    ));
                }
                remote.put("group", &id, fields.clone());
                Ok(remote_object(&id, &fields))
            })
            .await
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        let fields = GroupHandler::stored(desired, refs);
        let id = current.remote_id.clone();
        self.remote
            .write(format!("update {}", desired.id.short()), |remote| {
                remote.put("group", &id, fields.clone());
                Ok(remote_object(&id, &fields))
            })
            .await
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let id = current.remote_id.clone();
        self.remote
            .write(format!("delete group.{id}"), |remote| {
                remote.remove("group", &id);
                Ok(())
            })
            .await
    }
}

/// A small project for tests: two folders, a group in each.
pub const TWO_FOLDERS: &str = r#"
[[testfs.folder]]
id = "a"
title = "Team A"

[[testfs.folder]]
id = "b"
title = "Team B"

[[testfs.group]]
id = "a-alerts"
folder = "a"
interval = "1m"
rules = [
  { title = "High error rate", expr = "errors > 1", for = "5m" },
  { title = "Slow", expr = "latency > 2", for = "10m" },
]

[[testfs.group]]
id = "b-alerts"
folder = "b"
interval = "30s"
rules = [{ title = "Down", expr = "up == 0" }]
"#;
