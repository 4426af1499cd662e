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
    FieldError, Handler, HandlerError, HandlerErrorKind, KNOWN_AFTER_APPLY, Kind, KindSpec, LinkTarget, Links,
    LocalRef, ObjectId, Provider, ProviderRegistration, ProviderSettings, Relation, RemoteObject, Resolved, Resolver,
    SecretRef, SettingsError, Typed, async_trait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mac_core::inventory::submit! {
    ProviderRegistration {
        name: "testfs",
        description: "test-only: folders and groups kept in a local JSON file, with fault injection",
        kinds: kind_specs,
        build: build_provider,
        starter: mac_core::Starter {
            settings: "file = \"remote.json\"                     # the JSON file that plays the server\n",
            definitions: "[[testfs.folder]]\nid = \"example\"\ntitle = \"Example\"\n",
        },
    }
}

/// The kinds of every instance, in dependency order (the registration lists them too).
fn kind_specs() -> Vec<KindSpec> {
    vec![KindSpec::new::<FolderKind>("folder", &[]), KindSpec::new::<GroupKind>("group", &["folder"])]
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
        kind_specs()
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
            "folder" => Some(Arc::new(Typed(FolderKind { remote: self.remote.clone() }))),
            "group" => Some(Arc::new(Typed(GroupKind { remote: self.remote.clone() }))),
            _ => None,
        }
    }
}

/// The uid a folder gets when its definition names none: stable, so creates are idempotent.
pub fn folder_uid(local_id: &str) -> String {
    format!("mac-{local_id}")
}

/// A folder definition.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct FolderFields {
    /// The folder's title (possibly a generic reference: `{ ref = "group.x", field = "interval" }`).
    title: String,
    /// The folder's uid on the remote; one made up when left out.
    uid: Option<String>,
    /// A secret the remote keeps (`{ env = … }` or `{ file = … }`); it records only that it has one.
    ///
    /// The revealed string when written.
    #[schemars(with = "Option<mac_core::SecretRef>")]
    secret: Option<Value>,
}

/// What the remote keeps of a folder: the title, and whether a secret was given — never its value.
#[derive(Debug, Serialize, Deserialize)]
struct StoredFolder {
    title: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    has_secret: Option<bool>,
}

/// A folder, compared.
#[derive(Debug, Serialize)]
struct ComparableFolder {
    title: Value,
    uid: String,
}

#[derive(Debug)]
struct FolderKind {
    remote: Remote,
}

impl FolderKind {
    fn uid(id: &ObjectId, desired: &FolderFields) -> String {
        desired.uid.clone().unwrap_or_else(|| folder_uid(&id.local_id))
    }

    /// A revealed secret is a string here; anything else means it was not revealed.
    fn stored(desired: &FolderFields) -> Value {
        let stored =
            StoredFolder { title: json!(desired.title), has_secret: desired.secret.as_ref().map(Value::is_string) };
        serde_json::to_value(stored).unwrap_or_default()
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
        fields: mac_core::JsonText::from_value(fields),
        part_ids: Default::default(),
    }
}

fn list(remote: &Remote, kind: &str) -> Vec<RemoteObject> {
    remote.inner.lists.fetch_add(1, Ordering::SeqCst);
    remote.objects(kind).iter().map(|(id, fields)| remote_object(id, fields)).collect()
}

#[async_trait]
impl Kind for FolderKind {
    type Desired = FolderFields;
    type Remote = StoredFolder;
    type Comparable = ComparableFolder;
    type Context = ();

    fn validate(&self, desired: &FolderFields) -> Result<(), Vec<FieldError>> {
        if desired.title.trim().is_empty() {
            return Err(vec![FieldError::at("/title", "must not be empty")]);
        }
        Ok(())
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        vec!["/secret"]
    }

    fn adoption_key(&self, id: &ObjectId, desired: &FolderFields, _refs: &dyn Resolver) -> Option<String> {
        Some(FolderKind::uid(id, desired))
    }

    fn desired(
        &self,
        id: &ObjectId,
        desired: &FolderFields,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableFolder, FieldError> {
        Ok(ComparableFolder { title: json!(desired.title), uid: FolderKind::uid(id, desired) })
    }

    fn observed(&self, remote: &mac_core::Remote<'_, StoredFolder>) -> ComparableFolder {
        ComparableFolder { title: remote.fields.title.clone(), uid: remote.remote_id().to_owned() }
    }

    fn links(&self, remote: &mac_core::Remote<'_, StoredFolder>) -> Links {
        Links { title: remote.fields.title.as_str().map(str::to_owned), ..Links::default() }
    }

    fn describe(&self, remote: &mac_core::Remote<'_, StoredFolder>) -> String {
        format!("folder {}, uid {:?}", remote.fields.title, remote.remote_id())
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(list(&self.remote, "folder"))
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.remote.objects("folder").get(remote_id).map(|fields| remote_object(remote_id, fields)))
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &FolderFields,
        _refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let fields = FolderKind::stored(desired);
        match current {
            None => {
                let uid = FolderKind::uid(id, desired);
                self.remote
                    .write(format!("create {}", id.short()), |remote| {
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
            Some(current) => {
                let uid = current.remote_id.clone();
                self.remote
                    .write(format!("update {}", id.short()), |remote| {
                        remote.put("folder", &uid, fields.clone());
                        Ok(remote_object(&uid, &fields))
                    })
                    .await
            }
        }
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

/// A group definition.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct GroupFields {
    /// The local id of the folder it lives in.
    folder: String,
    /// How often its rules are evaluated, such as `"1m"`.
    interval: String,
    /// Its rules.
    #[serde(default)]
    rules: Vec<RuleFields>,
}

/// A rule, as defined and as the remote stores it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RuleFields {
    /// The rule's title, its key in the group.
    title: String,
    /// Its expression.
    expr: String,
    /// How long the expression must hold before it fires, such as `"5m"`.
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
}

/// What the remote keeps of a group.
#[derive(Debug, Serialize, Deserialize)]
struct StoredGroup {
    name: String,
    folder_uid: Value,
    interval: String,
    #[serde(default)]
    rules: Vec<StoredRule>,
    /// Folders a group made outside mac uses (see the crate's documentation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    uses: Vec<String>,
}

/// A rule as stored: lenient, since groups made outside mac may carry more.
#[derive(Debug, Serialize, Deserialize)]
struct StoredRule {
    title: Value,
    expr: Value,
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
}

/// A group, compared.
#[derive(Debug, Serialize)]
struct ComparableGroup {
    folder_uid: Value,
    interval: String,
    rules: Vec<ComparableRule>,
}

#[derive(Debug, Serialize)]
struct ComparableRule {
    title: Value,
    expr: Value,
    #[serde(rename = "for")]
    for_: String,
}

#[derive(Debug)]
struct GroupKind {
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

fn normalise_duration(text: Option<&str>) -> String {
    match text {
        Some(text) => seconds(text).map_or_else(|| text.to_owned(), |seconds| format!("{seconds}s")),
        None => "0s".to_owned(),
    }
}

impl GroupKind {
    fn folder_uid(desired: &GroupFields, refs: &dyn Resolver) -> Value {
        match refs.resolve(&LocalRef::new("folder", &desired.folder)) {
            Some(Resolved::Known(remote)) => json!(remote.remote_id),
            _ => json!(KNOWN_AFTER_APPLY),
        }
    }

    fn stored(id: &ObjectId, desired: &GroupFields, refs: &dyn Resolver) -> Value {
        json!({
            "name": id.local_id,
            "folder_uid": GroupKind::folder_uid(desired, refs),
            "interval": desired.interval,
            "rules": desired.rules,
        })
    }
}

#[async_trait]
impl Kind for GroupKind {
    type Desired = GroupFields;
    type Remote = StoredGroup;
    type Comparable = ComparableGroup;
    type Context = ();

    fn validate(&self, desired: &GroupFields) -> Result<(), Vec<FieldError>> {
        if seconds(&desired.interval).is_none() {
            return Err(vec![FieldError::at(
                "/interval",
                format!("invalid duration `{}` (use e.g. 30s, 1m, 2h)", desired.interval),
            )]);
        }
        Ok(())
    }

    fn references(&self, desired: &GroupFields) -> Vec<(String, LocalRef)> {
        vec![("/folder".to_owned(), LocalRef::new("folder", &desired.folder))]
    }

    fn adoption_key(&self, id: &ObjectId, desired: &GroupFields, refs: &dyn Resolver) -> Option<String> {
        let folder = GroupKind::folder_uid(desired, refs);
        let folder = folder.as_str().filter(|uid| *uid != KNOWN_AFTER_APPLY)?;
        Some(format!("{folder}/{}", id.local_id))
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &GroupFields,
        refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableGroup, FieldError> {
        let rules = desired
            .rules
            .iter()
            .map(|rule| ComparableRule {
                title: json!(rule.title),
                expr: json!(rule.expr),
                for_: normalise_duration(rule.for_.as_deref()),
            })
            .collect();
        Ok(ComparableGroup {
            folder_uid: GroupKind::folder_uid(desired, refs),
            interval: normalise_duration(Some(&desired.interval)),
            rules,
        })
    }

    fn observed(&self, remote: &mac_core::Remote<'_, StoredGroup>) -> ComparableGroup {
        let group = &remote.fields;
        let rules = group
            .rules
            .iter()
            .map(|rule| ComparableRule {
                title: rule.title.clone(),
                expr: rule.expr.clone(),
                for_: normalise_duration(rule.for_.as_deref()),
            })
            .collect();
        ComparableGroup {
            folder_uid: group.folder_uid.clone(),
            interval: normalise_duration(Some(&group.interval)),
            rules,
        }
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        (path == "/rules").then_some("title")
    }

    fn relations(&self) -> Vec<(Relation, &'static str)> {
        vec![(Relation::LivesIn, "folder"), (Relation::Uses, "folder")]
    }

    fn links(&self, remote: &mac_core::Remote<'_, StoredGroup>) -> Links {
        let group = &remote.fields;
        Links {
            title: Some(group.name.clone()),
            uid: None,
            lives_in: group
                .folder_uid
                .as_str()
                .map(|uid| LinkTarget::by_remote_id("folder", uid))
                .into_iter()
                .collect(),
            uses: group.uses.iter().map(|uid| LinkTarget::by_remote_id("folder", uid)).collect(),
        }
    }

    fn describe(&self, remote: &mac_core::Remote<'_, StoredGroup>) -> String {
        let folder = remote.fields.folder_uid.as_str().unwrap_or_default();
        format!("group of {} rule(s) in folder {folder:?}", remote.fields.rules.len())
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(list(&self.remote, "group"))
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.remote.objects("group").get(remote_id).map(|fields| remote_object(remote_id, fields)))
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &GroupFields,
        refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let fields = GroupKind::stored(id, desired, refs);
        match current {
            None => {
                self.remote
                    .write(format!("create {}", id.short()), |remote| {
                        // The remote assigns ids, and like many APIs it does not stop a second
                        // group with the same name: only mac's bookkeeping prevents duplicates.
                        let group_id = format!("g{}", remote.next_id());
                        let folder = fields.get("folder_uid").and_then(Value::as_str).unwrap_or_default();
                        if !remote.objects("folder").contains_key(folder) {
                            return Err(HandlerError::new(
                                HandlerErrorKind::Invalid,
                                format!("folder {folder} does not exist"),
                            ));
                        }
                        remote.put("group", &group_id, fields.clone());
                        Ok(remote_object(&group_id, &fields))
                    })
                    .await
            }
            Some(current) => {
                let group_id = current.remote_id.clone();
                self.remote
                    .write(format!("update {}", id.short()), |remote| {
                        remote.put("group", &group_id, fields.clone());
                        Ok(remote_object(&group_id, &fields))
                    })
                    .await
            }
        }
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
