//! The plugin surface: a [`Provider`] is one remote system, a [`Handler`] one kind of object
//! in it. Providers register themselves with `inventory::submit!` of a
//! [`ProviderRegistration`]; a third party needs nothing but this crate to publish one.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json_text::JsonText;
pub use crate::object::FieldError;
use crate::object::{Fields, LocalRef, ObjectId, RemoteObject};
use crate::relation::{LinkedObject, Links, Relation};

/// How a provider makes itself known. Submit one from the provider crate:
///
/// ```text
/// inventory::submit! {
///     mac_core::ProviderRegistration {
///         name: "grafana8",
///         description: "Grafana 8.5: folders, alert rule groups, …",
///         kinds: kind_specs,
///         build: build_provider,
///         starter: mac_core::Starter { settings: "url = …", definitions: "[[grafana8.folder]] …" },
///     }
/// }
/// ```
#[derive(Debug)]
pub struct ProviderRegistration {
    /// The provider's name: the `NAME` in `[providers.NAME]` and `[[NAME.KIND]]`.
    pub name: &'static str,
    /// One line for `mac providers`.
    pub description: &'static str,
    /// The kinds every instance has, in dependency order: what `mac providers` lists, and
    /// what [`Provider::kinds`] returns (return this from there too, so that there is one list).
    pub kinds: fn() -> Vec<KindSpec>,
    /// Builds an instance from its settings. Must not do network I/O: `mac validate` builds
    /// providers offline; connectivity is checked by [`Provider::check`].
    pub build: BuildProvider,
    /// What `mac init` writes for this provider.
    pub starter: Starter,
}

/// What `mac init` writes for a provider: its settings and a first definition, commented for
/// someone who has never used it. Both must pass `mac validate` as written (a test checks
/// every registered provider's).
#[derive(Debug, Clone, Copy)]
pub struct Starter {
    /// The lines under `[providers.NAME]` in mac.toml: the settings a first plan needs, with
    /// the others as comments. Credentials only as secret references (`{ env = … }`).
    pub settings: &'static str,
    /// A first definitions file (`definitions/NAME.toml`), valid offline.
    pub definitions: &'static str,
}

/// The constructor a provider registers.
pub type BuildProvider = fn(&ProviderSettings) -> Result<Box<dyn Provider>, SettingsError>;

inventory::collect!(ProviderRegistration);

/// The providers compiled into this program, by name.
#[derive(Debug)]
pub struct Registry {
    providers: BTreeMap<&'static str, &'static ProviderRegistration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("two providers are registered under the name `{0}`; provider names must be unique")]
    Duplicate(String),
    #[error(
        "provider name `{0}` is invalid: use lowercase letters, digits, `_` and `-` (and not `use` or `moved`, \
         which definition files use)"
    )]
    InvalidName(String),
}

impl Registry {
    /// Every provider linked into this binary through `inventory::submit!`.
    pub fn from_inventory() -> Result<Registry, RegistryError> {
        Registry::new(inventory::iter::<ProviderRegistration>)
    }

    /// A registry of the given registrations; a duplicate name is an error, not a silent pick.
    pub fn new(
        registrations: impl IntoIterator<Item = &'static ProviderRegistration>,
    ) -> Result<Registry, RegistryError> {
        let mut providers = BTreeMap::new();
        for registration in registrations {
            let valid = !registration.name.is_empty()
                && registration
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            // Top-level keys of definition files that are not providers.
            let reserved = matches!(registration.name, "use" | "moved");
            if !valid || reserved {
                return Err(RegistryError::InvalidName(registration.name.to_owned()));
            }
            if providers.insert(registration.name, registration).is_some() {
                return Err(RegistryError::Duplicate(registration.name.to_owned()));
            }
        }
        Ok(Registry { providers })
    }

    pub fn get(&self, name: &str) -> Option<&'static ProviderRegistration> {
        self.providers.get(name).copied()
    }

    /// Registrations in name order.
    pub fn iter(&self) -> impl Iterator<Item = &'static ProviderRegistration> + '_ {
        self.providers.values().copied()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.providers.keys().copied().collect()
    }
}

/// The settings of one provider instance, as merged from `mac.toml` and the environment.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The instance name: `grafana8` for `[providers.grafana8]`, `grafana8.eu` for
    /// `[providers."grafana8.eu"]`.
    pub instance: String,
    /// The settings table, converted to JSON.
    pub values: Value,
    /// The project root, against which relative paths (secret files, CA certificates) resolve.
    pub project_root: PathBuf,
    /// The project's name (`project = "…"` in mac.toml), for providers that mark the objects
    /// they write with their owner (see [`Handler::owner`]). `None` when mac.toml names no
    /// project: nothing is marked then.
    pub project: Option<String>,
}

impl ProviderSettings {
    /// Deserialises the settings into the provider's own type; an error names the field.
    /// Use `#[serde(deny_unknown_fields)]` so that typos are caught.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, SettingsError> {
        from_value_with_path(&self.values).map_err(|(pointer, message)| SettingsError::at(pointer, message))
    }
}

/// A problem with a provider's settings, at a field given as a JSON pointer into the
/// settings table (`""` for the table itself). The loader turns it into `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    pub pointer: String,
    pub message: String,
    /// The environment variable the faulty value came from, when one overrides the setting
    /// (`MAC_GRAFANA8_URL`): the error is then its, not a line of mac.toml's.
    pub variable: Option<String>,
}

impl SettingsError {
    pub fn at(pointer: impl Into<String>, message: impl Into<String>) -> SettingsError {
        SettingsError { pointer: pointer.into(), message: message.into(), variable: None }
    }

    /// The same error, blamed on the environment variable `variable` that set the value.
    pub fn from_variable(self, variable: impl Into<String>) -> SettingsError {
        SettingsError { variable: Some(variable.into()), ..self }
    }
}

/// Deserialises `fields` into a handler's typed view of them, with the failing field's
/// pointer — the usual first step of [`Handler::validate`].
pub fn parse_fields<T: DeserializeOwned>(fields: &Fields) -> Result<T, FieldError> {
    // Straight from the map: no copy of the fields as a `Value` first.
    from_deserializer_with_path(fields).map_err(|(pointer, message)| FieldError::at(pointer, message))
}

/// Deserialises any JSON value with the failing field's pointer.
pub(crate) fn parse_fields_value<T: DeserializeOwned>(value: &Value) -> Result<T, FieldError> {
    from_value_with_path(value).map_err(|(pointer, message)| FieldError::at(pointer, message))
}

fn from_value_with_path<T: DeserializeOwned>(value: &Value) -> Result<T, (String, String)> {
    from_deserializer_with_path(value)
}

fn from_deserializer_with_path<'de, D, T>(deserializer: D) -> Result<T, (String, String)>
where
    D: serde::Deserializer<'de, Error = serde_json::Error> + Copy,
    T: DeserializeOwned,
{
    // Tracking the path costs a copy of every map key; most values parse, so the path is
    // tracked only to report an error, by parsing again.
    if let Ok(parsed) = T::deserialize(deserializer) {
        return Ok(parsed);
    }
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let mut pointer = String::new();
        for segment in err.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => pointer = crate::source::push_pointer(&pointer, &index.to_string()),
                Segment::Map { key } => pointer = crate::source::push_pointer(&pointer, key),
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        (pointer, err.into_inner().to_string())
    })
}

/// A kind of object a provider manages, the kinds it depends on (created before it,
/// deleted after it), and the schema of its definitions.
#[derive(Debug, Clone)]
pub struct KindSpec {
    pub name: String,
    pub depends_on: Vec<String>,
    /// The JSON Schema of a definition's fields ([`crate::schema::desired_schema`] of the
    /// kind's `Desired`): what `mac schema` prints without building a provider instance.
    pub desired_schema: fn() -> Value,
}

impl KindSpec {
    /// The spec of kind `K`, registered as `name`: its schema comes from `K::Desired`, the
    /// very type the loader parses definitions into.
    pub fn new<K: crate::Kind>(name: impl Into<String>, depends_on: &[&str]) -> KindSpec {
        KindSpec {
            name: name.into(),
            depends_on: depends_on.iter().map(|kind| (*kind).to_owned()).collect(),
            desired_schema: crate::schema::desired_schema::<K::Desired>,
        }
    }
}

/// An object to create or update, with generic references (`{ ref = "kind.id", field = … }`)
/// already replaced by values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesiredObject {
    pub id: ObjectId,
    /// As compact JSON text, shared with the definition when nothing was replaced.
    pub fields: JsonText,
}

/// What a reference points at, as far as is known.
#[derive(Debug, Clone, Copy)]
pub enum Resolved<'a> {
    /// The referenced object exists remotely (observed, or written earlier in this apply).
    Known(&'a RemoteObject),
    /// The referenced object will only exist after this apply (plan time only).
    Pending,
}

/// Looks up the remote side of the objects a definition refers to.
pub trait Resolver: Sync {
    /// `None` when `reference` names no object managed in this provider instance.
    fn resolve(&self, reference: &LocalRef) -> Option<Resolved<'_>>;
}

/// A field that names another object of the same provider instance by a natural key instead
/// of `{ ref = … }`: `datasource = { name = "Prometheus" }` names the data source whose `name`
/// is `Prometheus`. When a definition of `kind` in the project has that key, the loader
/// replaces the field with a generic reference to it (`{ ref = "kind.id", field = … }`), so
/// that the object is created first, the plan shows it as known after apply, and apply writes
/// its remote value. Otherwise the field stays as written, for the handler to resolve against
/// the server (see the `keyrefs` module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReference {
    /// The field holding the name; replaced whole when it resolves to a definition.
    pub pointer: String,
    /// The kind of object it names.
    pub kind: String,
    /// The top-level field of that kind's definitions that holds the key (`name`).
    pub key_field: String,
    /// The key written (`Prometheus`).
    pub key: String,
    /// The referenced object's remote field the field stands for (`uid`); `None`: its remote id.
    pub value_field: Option<String>,
}

/// The placeholder shown in a plan for a value that only an earlier write of the same
/// apply will determine.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// What an imported object becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedFields {
    /// A readable local id (made unique by the engine if it clashes).
    pub local_id: String,
    pub fields: Fields,
    /// The file (stem, without `.toml`) it belongs in, e.g. its folder's name.
    pub file: String,
    /// What `mac import --folder` selects by (a folder title), if anything.
    pub scope: Option<String>,
    /// Ids the remote assigned to parts, by part key (see [`RemoteObject::part_ids`]).
    pub part_ids: std::collections::BTreeMap<String, String>,
}

/// During an import: the local ids given to objects imported (or managed) before.
pub trait ImportRefs {
    fn local_id(&self, kind: &str, remote_id: &str) -> Option<&str>;
}

/// A remote system `mac` reconciles, for example one Grafana server.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The kinds this provider manages and the dependencies between them.
    fn kinds(&self) -> Vec<KindSpec>;

    /// The handler of one kind; `None` for a kind not in [`Provider::kinds`].
    fn handler(&self, kind: &str) -> Option<Arc<dyn Handler>>;

    /// Checks that the remote system answers and accepts the credentials, before the
    /// first read or write. The default does nothing.
    async fn check(&self) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// One kind of object, as the engine holds it: object-safe, on JSON values. A provider
/// implements [`crate::Kind`] (typed) and hands out `Arc::new(Typed(kind))`; the pointers
/// below are JSON pointers relative to the object. The synchronous methods must be pure:
/// the planner calls them for many objects at once on plain threads, outside any async
/// runtime and tracing span, and stays deterministic.
#[async_trait]
pub trait Handler: Send + Sync + fmt::Debug {
    /// The JSON Schema of a definition's fields (see [`crate::schema::desired_schema`]): its
    /// `properties` are in the order the kind's `Desired` type declares its fields, an order
    /// kept stable for `mac schema` and for tools that write definitions in canonical order.
    fn desired_schema(&self) -> Value;

    /// Checks a definition's fields offline; each problem names its field.
    fn validate(&self, fields: &JsonText) -> Result<(), Vec<FieldError>>;

    /// Checks an instance's definitions of this kind together (a title unique across them),
    /// once each passed `validate`: each problem with its definition's index.
    fn validate_together(&self, definitions: &[(&ObjectId, &JsonText)]) -> Vec<(usize, FieldError)>;

    /// The objects this one needs first, named other than by a generic `{ ref = … }`, each
    /// with the pointer of the field that names it.
    fn references(&self, fields: &JsonText) -> Vec<(String, LocalRef)>;

    /// Fields naming another object by a natural key (see [`KeyReference`]); such a field must
    /// also accept the generic reference the loader puts in its place.
    fn key_references(&self, fields: &JsonText) -> Vec<KeyReference>;

    /// Another key the remote keeps unique (a folder's title slug), compared between would-be
    /// creates and unclaimed remote objects; `None` when there is none.
    fn unique_key(&self, desired: &DesiredObject) -> Option<String>;

    /// [`Handler::unique_key`] of a remote object.
    fn remote_unique_key(&self, remote: &RemoteObject) -> Option<String>;

    /// A clash on the unique key with the unmanaged `remote`: `Ok` offers to adopt it, an
    /// error refuses the plan at the field it names.
    fn unique_key_clash(&self, desired: &DesiredObject, remote: &RemoteObject) -> Result<(), FieldError>;

    /// Pointer patterns (`*` one segment) of secret fields: kept out of plans and state,
    /// compared by salted digest, revealed only to [`Handler::write`].
    fn secret_fields(&self) -> Vec<&'static str>;

    /// Whether the secret fields are written only when the object is created (a user's
    /// initial password): a changed value is then no change of an existing object, as the
    /// remote never gives it back to compare.
    fn secrets_on_create_only(&self) -> bool {
        false
    }

    /// Pointer patterns of fields that may name a JSON file, which the loader reads into
    /// `{ file = "…", content = <the JSON> }` so that its content is part of the definition.
    fn file_fields(&self) -> Vec<&'static str>;

    /// Pointer patterns of fields that may name a text file, which the loader reads into
    /// `{ file = "…", content = "<the text>" }` (a message template), as [`Handler::file_fields`]
    /// does with JSON.
    fn text_file_fields(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The natural key a definition not in state would have remotely (a uid derived from the
    /// local id): a remote object with it is offered for adoption.
    fn adoption_key(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Option<String>;

    /// The kind's context (see [`Handler::observe`]) read once for a whole plan or import,
    /// for [`Handler::compare`] and [`Handler::import`]; an error says why the recorded
    /// context cannot be read.
    fn prepare_context(&self, context: &Value) -> Result<PreparedContext, FieldError>;

    /// The desired object and the remote one (if any) in one comparable form, given the
    /// kind's prepared context; unknown references show as [`KNOWN_AFTER_APPLY`], and an error
    /// names the definition's field.
    fn compare(
        &self,
        desired: &DesiredObject,
        remote: Option<&RemoteObject>,
        refs: &dyn Resolver,
        context: &PreparedContext,
    ) -> Result<Compared, FieldError>;

    /// [`Handler::compare`] for the planner, given the fields with references already
    /// replaced: `None` when the remote object has the desired comparable form already, found
    /// without building either form as a JSON value (most objects of a large plan).
    fn differences(
        &self,
        id: &ObjectId,
        fields: &JsonText,
        remote: Option<&RemoteObject>,
        refs: &dyn Resolver,
        context: &PreparedContext,
    ) -> Result<Option<Compared>, FieldError>;

    /// A remote object alone in comparable form (a saved plan's fingerprint).
    fn observed(&self, remote: &RemoteObject) -> Value;

    /// The field items of the list at `path` (`/rules`, indices as `*`) are matched by;
    /// `None`: by position.
    fn list_key(&self, path: &str) -> Option<&'static str>;

    /// The project a remote object's owner marker names; never part of the comparable form.
    fn owner(&self, remote: &RemoteObject) -> Option<String>;

    /// A remote object in a few words, for the plan line that deletes it.
    fn describe(&self, remote: &RemoteObject) -> String;

    /// A remote object as a definition to write (`mac import`) that plans as no change;
    /// `None` for objects this kind does not import.
    fn import(&self, remote: &RemoteObject, refs: &dyn ImportRefs, context: &PreparedContext)
    -> Option<ImportedFields>;

    /// The kinds this kind's objects live in or use, as [`Handler::links`] reports them.
    fn relations(&self) -> Vec<(Relation, &'static str)>;

    /// An observed object's title, and the objects of its instance it lives in and uses.
    fn links(&self, remote: &RemoteObject) -> Links;

    /// For remote objects a plan may delete: what lives in each that no kind models.
    async fn unmodelled_contents(
        &self,
        remote_ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<LinkedObject>>, HandlerError>;

    /// Every remote object with what [`Handler::links`] needs, for a kind not otherwise read.
    async fn list_for_links(&self, relations: &BTreeSet<Relation>) -> Result<Vec<RemoteObject>, HandlerError>;

    /// Every remote object of this kind, in as few requests as the API allows.
    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError>;

    /// Every remote object, and the kind's context: what planning reads besides them (a
    /// directory of names → ids), recorded in `Observed` and given back to
    /// [`Handler::compare`] and [`Handler::import`] (`null` when the kind needs none).
    async fn observe(&self) -> Result<(Vec<RemoteObject>, Value), HandlerError>;

    /// One remote object, `None` when it does not exist (a saved plan's re-read).
    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError>;

    /// How `mac apply FILE` re-reads this kind's objects.
    fn reread(&self) -> Reread;

    /// The remote object with this natural key, `None` when there is none.
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError>;

    /// The batch a write or delete belongs to (see [`Batch`]); `None`: it shares nothing.
    fn batch(&self, member: &BatchMember<'_>) -> Option<Batch>;

    /// Run before members of `batch` start, once for all of them that are ready to (`members`);
    /// what it returns is handed to each one's write or delete, and an error fails them. A
    /// member that becomes ready later (what it depends on finished since) is prepared again,
    /// so that what a preparation found is never older than what its members waited for.
    async fn prepare_batch(&self, batch: &Batch, members: &[BatchMember<'_>]) -> Result<Prepared, HandlerError>;

    /// Creates the object (`current` is `None`) or updates `current`, with the kind's context
    /// as the plan recorded it and what its batch's preparation found ([`Prepared::nothing`]
    /// outside a batch); returns the object as stored, or leaves reading it to
    /// [`Handler::read_back`].
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        desired: &DesiredObject,
        refs: &dyn Resolver,
        context: &Value,
        prepared: &Prepared,
    ) -> Result<Written, HandlerError>;

    /// Deletes the object, with what its batch's preparation found.
    async fn delete(&self, current: &RemoteObject, prepared: &Prepared) -> Result<(), HandlerError>;

    /// The objects of writes of `batch` that returned [`Written::ReadBack`], in the order of
    /// `parked`, read once all of the batch's members have written (or earlier, when nothing
    /// else can run).
    async fn read_back(&self, batch: &Batch, parked: Vec<Parked>) -> Vec<Result<RemoteObject, HandlerError>>;

    /// For kinds whose definitions hold alerting rules: their view in PromQL terms, which
    /// `mac test` checks (the `rules` module); `None` for other kinds.
    fn rule_view(&self) -> Option<&dyn crate::rules::RuleView>;
}

/// Actions of one kind that share requests: a preparation run before they start
/// ([`Handler::prepare_batch`]: a folder's title looked up once for all of its groups'
/// deletes), and a read-back run once after all of them have written ([`Handler::read_back`]:
/// the uids Grafana gave new rules, read with one request per folder, not one per group). The
/// executor finds every action's batch before it starts anything; a batch is named by its kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Batch {
    /// Creates and updates.
    Writes(String),
    /// Deletes.
    Deletes(String),
}

impl fmt::Display for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Batch::Writes(name) => write!(f, "writes of {name}"),
            Batch::Deletes(name) => write!(f, "deletes of {name}"),
        }
    }
}

/// An action that may belong to a batch, as the handler sees it.
#[derive(Debug, Clone, Copy)]
pub enum BatchMember<'a> {
    /// A create (`current` is `None`) or update; the definition as planned, its references
    /// not resolved yet.
    Write {
        desired: &'a DesiredObject,
        current: Option<&'a RemoteObject>,
    },
    Delete {
        current: &'a RemoteObject,
    },
}

/// What a batch's preparation found, in the kind's own type: opaque to the engine, which hands
/// it to each member's write or delete.
#[derive(Clone)]
pub struct Prepared(Arc<dyn std::any::Any + Send + Sync>);

impl Prepared {
    pub fn new<T: std::any::Any + Send + Sync>(value: T) -> Prepared {
        Prepared(Arc::new(value))
    }

    /// What a write or delete outside a batch (or of a batch with nothing to prepare) gets.
    pub fn nothing() -> Prepared {
        Prepared::new(())
    }

    /// The value, if it is a `T`.
    pub fn get<T: std::any::Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Prepared")
    }
}

/// What a write left for its batch's read-back, in the kind's own type.
pub struct Parked(Box<dyn std::any::Any + Send + Sync>);

impl Parked {
    pub fn new<T: std::any::Any + Send + Sync>(value: T) -> Parked {
        Parked(Box::new(value))
    }

    /// The value, if it is a `T`; else the parked value back.
    pub fn take<T: std::any::Any>(self) -> Result<T, Parked> {
        self.0.downcast().map(|value| *value).map_err(Parked)
    }
}

impl fmt::Debug for Parked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Parked")
    }
}

/// What a write returns.
#[derive(Debug)]
pub enum Written {
    /// The object as now stored.
    Object(RemoteObject),
    /// Written; the object as stored is read with the other members of its batch
    /// ([`Handler::read_back`]), and the action completes only then.
    ReadBack(Parked),
}

impl From<RemoteObject> for Written {
    fn from(object: RemoteObject) -> Written {
        Written::Object(object)
    }
}

/// A kind's context in the kind's own type, made by [`Handler::prepare_context`]: opaque to
/// the engine, which only hands it back to the same handler.
pub struct PreparedContext(pub Box<dyn std::any::Any + Send + Sync>);

impl fmt::Debug for PreparedContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreparedContext")
    }
}

/// A desired object and its remote counterpart in the same comparable form.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    pub desired: Value,
    /// `None` when there is no remote object (a create).
    pub observed: Option<Value>,
}

/// How the objects of a kind are re-read to check that a saved plan is still current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reread {
    /// One bulk [`Handler::list`] for all of them: right when the whole list costs a request
    /// or two, whatever the number of objects.
    List,
    /// One [`Handler::read`] per object the plan writes (and one
    /// [`Handler::read_by_adoption_key`] per create): for kinds the API returns only one by one,
    /// whose list costs a request per object on the server.
    EachObject,
}

/// What went wrong talking to a remote system.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    pub kind: HandlerErrorKind,
    pub message: String,
    /// The field of the definition the remote rejected (e.g. `/rules/2`), when known, so that
    /// the error can be shown at its file and line.
    pub pointer: Option<String>,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerErrorKind {
    /// The remote refused the credentials or the permission.
    Unauthorized,
    /// The remote rejected the request as invalid.
    Invalid,
    /// A conflict with the remote's current state (version, uniqueness).
    Conflict,
    NotFound,
    /// Could not reach the remote, or it failed.
    Unavailable,
    Other,
}

impl HandlerError {
    pub fn new(kind: HandlerErrorKind, message: impl Into<String>) -> HandlerError {
        HandlerError { kind, message: message.into(), pointer: None, source: None }
    }

    /// Names the definition field the error concerns.
    pub fn at(mut self, pointer: impl Into<String>) -> HandlerError {
        self.pointer = Some(pointer.into());
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> HandlerError {
        self.source = Some(Box::new(source));
        self
    }
}

/// The instantiated providers of a project, by instance name, with their kinds checked.
pub struct Providers {
    instances: BTreeMap<String, ProviderInstance>,
}

struct ProviderInstance {
    provider: Box<dyn Provider>,
    specs: Vec<KindSpec>,
    /// Kind name → (rank in dependency order, handler).
    kinds: BTreeMap<String, (usize, Arc<dyn Handler>)>,
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.instances.iter().map(|(name, instance)| (name, instance.kinds.keys().collect::<Vec<_>>())))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvidersError {
    #[error("provider instance `{instance}` declares kind `{kind}` without a handler")]
    MissingHandler { instance: String, kind: String },
    #[error("provider instance `{instance}`: kind `{kind}` depends on undeclared kind `{dependency}`")]
    UnknownKindDependency { instance: String, kind: String, dependency: String },
    #[error("provider instance `{instance}`: its kinds depend on each other in a cycle: {}", cycle.join(" -> "))]
    KindCycle { instance: String, cycle: Vec<String> },
}

impl Providers {
    pub fn new() -> Providers {
        Providers { instances: BTreeMap::new() }
    }

    /// Adds an instance, checking that its kinds have handlers and an acyclic order.
    pub fn insert(&mut self, instance: impl Into<String>, provider: Box<dyn Provider>) -> Result<(), ProvidersError> {
        let instance = instance.into();
        let specs = provider.kinds();
        let order = kind_order(&instance, &specs)?;
        let declared = specs.clone();
        let mut kinds = BTreeMap::new();
        for (rank, name) in order.into_iter().enumerate() {
            let handler = provider
                .handler(&name)
                .ok_or_else(|| ProvidersError::MissingHandler { instance: instance.clone(), kind: name.clone() })?;
            kinds.insert(name, (rank, handler));
        }
        self.instances.insert(instance, ProviderInstance { provider, specs: declared, kinds });
        Ok(())
    }

    pub fn contains(&self, instance: &str) -> bool {
        self.instances.contains_key(instance)
    }

    pub fn instances(&self) -> impl Iterator<Item = &str> {
        self.instances.keys().map(String::as_str)
    }

    pub fn provider(&self, instance: &str) -> Option<&dyn Provider> {
        self.instances.get(instance).map(|found| found.provider.as_ref())
    }

    pub fn handler(&self, instance: &str, kind: &str) -> Option<&Arc<dyn Handler>> {
        self.instances.get(instance)?.kinds.get(kind).map(|(_, handler)| handler)
    }

    /// The kinds of an instance, in dependency order.
    pub fn kinds(&self, instance: &str) -> Vec<&str> {
        let Some(found) = self.instances.get(instance) else { return Vec::new() };
        let mut kinds: Vec<(&usize, &str)> =
            found.kinds.iter().map(|(name, (rank, _))| (rank, name.as_str())).collect();
        kinds.sort();
        kinds.into_iter().map(|(_, name)| name).collect()
    }

    /// The kinds `kind` depends on directly.
    pub fn kind_dependencies(&self, instance: &str, kind: &str) -> Vec<String> {
        let Some(found) = self.instances.get(instance) else { return Vec::new() };
        found.specs.iter().find(|spec| spec.name == kind).map(|spec| spec.depends_on.clone()).unwrap_or_default()
    }

    /// The kinds that depend directly on `kind`.
    pub fn dependent_kinds(&self, instance: &str, kind: &str) -> Vec<String> {
        let Some(found) = self.instances.get(instance) else { return Vec::new() };
        found
            .specs
            .iter()
            .filter(|spec| spec.depends_on.iter().any(|dependency| dependency == kind))
            .map(|spec| spec.name.clone())
            .collect()
    }

    /// The position of a kind in its instance's dependency order.
    pub fn kind_rank(&self, instance: &str, kind: &str) -> Option<usize> {
        self.instances.get(instance)?.kinds.get(kind).map(|(rank, _)| *rank)
    }
}

/// The kinds of a provider in dependency order.
pub(crate) fn kind_order(instance: &str, specs: &[KindSpec]) -> Result<Vec<String>, ProvidersError> {
    let nodes: BTreeSet<String> = specs.iter().map(|spec| spec.name.clone()).collect();
    let mut depends_on = BTreeMap::new();
    for spec in specs {
        for dependency in &spec.depends_on {
            if !nodes.contains(dependency) {
                return Err(ProvidersError::UnknownKindDependency {
                    instance: instance.to_owned(),
                    kind: spec.name.clone(),
                    dependency: dependency.clone(),
                });
            }
        }
        depends_on.insert(spec.name.clone(), spec.depends_on.iter().cloned().collect::<BTreeSet<_>>());
    }
    crate::graph::topological_order(&nodes, &depends_on)
        .map_err(|cycle| ProvidersError::KindCycle { instance: instance.to_owned(), cycle })
}

impl Default for Providers {
    fn default() -> Self {
        Providers::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never_built(_: &ProviderSettings) -> Result<Box<dyn Provider>, SettingsError> {
        Err(SettingsError::at("", "not built in tests"))
    }

    const NO_STARTER: Starter = Starter { settings: "", definitions: "" };
    static FIRST: ProviderRegistration = ProviderRegistration {
        name: "same",
        description: "one",
        kinds: Vec::new,
        build: never_built,
        starter: NO_STARTER,
    };
    static SECOND: ProviderRegistration = ProviderRegistration {
        name: "same",
        description: "two",
        kinds: Vec::new,
        build: never_built,
        starter: NO_STARTER,
    };
    static BAD_NAME: ProviderRegistration = ProviderRegistration {
        name: "Bad.Name",
        description: "",
        kinds: Vec::new,
        build: never_built,
        starter: NO_STARTER,
    };

    #[test]
    fn a_duplicate_provider_name_is_an_error_not_a_silent_pick() {
        let err = Registry::new([&FIRST, &SECOND]).expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "two providers are registered under the name `same`; provider names must be unique"
        );
        assert_eq!(Registry::new([&BAD_NAME]).expect_err("invalid"), RegistryError::InvalidName("Bad.Name".into()));
        assert_eq!(Registry::new([&FIRST]).expect("one").names(), ["same"]);
    }

    #[test]
    fn kind_cycles_and_unknown_kinds_are_errors() {
        let spec = |name: &str, depends_on: &[&str]| KindSpec {
            name: name.to_owned(),
            depends_on: depends_on.iter().map(|kind| (*kind).to_owned()).collect(),
            desired_schema: || serde_json::json!({}),
        };
        let specs = vec![spec("a", &["b"]), spec("b", &["a"])];
        let err = kind_order("p", &specs).expect_err("cycle");
        assert_eq!(err.to_string(), "provider instance `p`: its kinds depend on each other in a cycle: a -> b -> a");
        let specs = vec![spec("a", &["zzz"])];
        assert!(matches!(kind_order("p", &specs), Err(ProvidersError::UnknownKindDependency { .. })));
    }
}
