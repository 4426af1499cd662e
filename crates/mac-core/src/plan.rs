//! What a plan is made of and from: its inputs besides definitions and state ([`Observed`],
//! [`PlanOptions`]) and its output ([`Plan`], [`Action`]), detailed enough that the executor
//! makes no choices. The planner that computes it is [`crate::planner`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diff::{FieldChange, ItemChange};
use crate::object::{LocalRef, ObjectId, RemoteObject};
use crate::provider::{DesiredObject, Handler};
use crate::refs::ResolveError;
use crate::state::{PendingCreate, value_hash};

/// What an action that writes or deletes was planned against, so that applying a saved plan
/// can refuse when that moved (see `recheck`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fingerprint {
    /// No remote object had the action's natural key (a create or recreate).
    Absent,
    /// `sha256:…` of the remote object's normalised observed form (an update, adopt or
    /// delete); its fields are in the action's `remote`.
    Observed(String),
}

impl Fingerprint {
    /// The fingerprint of a remote object as `handler` normalises it.
    pub fn of(handler: &dyn Handler, remote: &RemoteObject) -> Fingerprint {
        Fingerprint::Observed(value_hash(&handler.observed(remote)))
    }
}

/// The saved-plan format this version reads and writes (2: actions carry the fingerprint of
/// what they were planned against; a plan without them would apply unchecked).
/// 3: plans carry the contexts their writes use.
pub const PLAN_FORMAT: u32 = 3;

/// Choices that change what is planned.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Allow a plan that deletes every managed object of a provider instance (its
    /// definitions are all gone). Without it, such a plan is refused: an empty or
    /// mistyped definitions path must never wipe a server. It does not lift the share of
    /// `allow_mass_delete` (a caller that means both says both, as `mac plan` does).
    pub allow_delete_all: bool,
    /// Only these objects or provider instances, and what they depend on.
    pub targets: Vec<Target>,
    /// Allow a plan that deletes more than `max_delete_share` of the managed objects.
    pub allow_mass_delete: bool,
    /// The largest share of managed objects a plan may delete without `allow_mass_delete`
    /// (a threshold below 1 object is never applied: small projects delete freely).
    pub max_delete_share: Option<f64>,
    /// Digests of the current secret values ([`crate::secrets::digest_definitions`]), compared
    /// with those recorded at the last apply. The planner never sees a secret itself.
    pub secrets: crate::secrets::SecretDigests,
    /// The project's `[[moved]]` blocks: state entries renamed before comparing.
    pub moves: Vec<crate::moved::Move>,
    /// This project's name (`project = "…"` in mac.toml): remote objects that a handler
    /// reports marked by another project ([`Handler::owner`]) are not adopted, and managed
    /// ones are warned about.
    pub project: Option<String>,
}

/// What `--target` selects: an object (`kind.id` in any instance, or `instance/kind.id`) or
/// every object of a provider instance (`grafana8.eu`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Object { instance: Option<String>, object: LocalRef },
    Instance(String),
}

impl Target {
    /// Reads a `--target`: the name of one of `instances` is that instance (kinds are never
    /// named like instances: `grafana8.eu` cannot be the kind `grafana8`), else `kind.id` or
    /// `instance/kind.id`.
    pub fn parse<'a>(text: &str, instances: impl IntoIterator<Item = &'a str>) -> Option<Target> {
        if instances.into_iter().any(|instance| instance == text) {
            return Some(Target::Instance(text.to_owned()));
        }
        let (instance, object) = match text.split_once('/') {
            Some((instance, object)) if !instance.is_empty() => (Some(instance.to_owned()), object),
            Some(_) => return None,
            None => (None, text),
        };
        Some(Target::Object { instance, object: LocalRef::parse(object)? })
    }

    /// An object to one target, whatever its instance.
    pub fn object(object: LocalRef) -> Target {
        Target::Object { instance: None, object }
    }

    pub fn matches(&self, id: &ObjectId) -> bool {
        match self {
            Target::Instance(instance) => id.provider == *instance,
            Target::Object { instance, object } => {
                id.kind == object.kind
                    && id.local_id == object.local_id
                    && instance.as_ref().is_none_or(|instance| id.provider == *instance)
            }
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Instance(instance) => f.write_str(instance),
            Target::Object { instance: Some(instance), object } => write!(f, "{instance}/{object}"),
            Target::Object { instance: None, object } => write!(f, "{object}"),
        }
    }
}

/// What the remote systems hold, per provider instance and kind: with the definitions and
/// state, every input of [`crate::planner::plan`]. It serialises, so that a plan can be replayed from a
/// recording without the network.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ObservedRecord", into = "ObservedRecord")]
pub struct Observed {
    objects: BTreeMap<(String, String), Vec<RemoteObject>>,
    /// Kinds not in use, read only for what lives in or uses a deleted object (see
    /// [`crate::links`]): possibly partial objects, never classified or compared.
    linked: BTreeMap<(String, String), Vec<RemoteObject>>,
    /// For objects a plan may delete: what lives in them that no kind models (see
    /// [`crate::Handler::unmodelled_contents`]), by (instance, kind, remote id).
    contents: BTreeMap<(String, String, String), Vec<crate::relation::LinkedObject>>,
    /// What each kind in use read besides its objects (see [`crate::Handler::observe`]),
    /// by (instance, kind): planner inputs like the objects themselves.
    contexts: BTreeMap<(String, String), Value>,
}

/// [`Observed`] as it is recorded (`serde` cannot key JSON maps by tuples).
#[derive(Serialize, Deserialize)]
struct ObservedRecord {
    objects: Vec<(String, String, Vec<RemoteObject>)>,
    #[serde(default)]
    linked: Vec<(String, String, Vec<RemoteObject>)>,
    #[serde(default)]
    contents: Vec<(String, String, String, Vec<crate::relation::LinkedObject>)>,
    #[serde(default)]
    contexts: Vec<(String, String, Value)>,
}

impl From<Observed> for ObservedRecord {
    fn from(observed: Observed) -> ObservedRecord {
        let pairs = |map: BTreeMap<(String, String), Vec<RemoteObject>>| {
            map.into_iter().map(|((instance, kind), objects)| (instance, kind, objects)).collect()
        };
        ObservedRecord {
            objects: pairs(observed.objects),
            linked: pairs(observed.linked),
            contents: observed
                .contents
                .into_iter()
                .map(|((instance, kind, remote_id), held)| (instance, kind, remote_id, held))
                .collect(),
            contexts: observed
                .contexts
                .into_iter()
                .map(|((instance, kind), context)| (instance, kind, context))
                .collect(),
        }
    }
}

impl From<ObservedRecord> for Observed {
    fn from(record: ObservedRecord) -> Observed {
        let pairs = |list: Vec<(String, String, Vec<RemoteObject>)>| {
            list.into_iter().map(|(instance, kind, objects)| ((instance, kind), objects)).collect()
        };
        Observed {
            objects: pairs(record.objects),
            linked: pairs(record.linked),
            contents: record
                .contents
                .into_iter()
                .map(|(instance, kind, remote_id, held)| ((instance, kind, remote_id), held))
                .collect(),
            contexts: record
                .contexts
                .into_iter()
                .map(|(instance, kind, context)| ((instance, kind), context))
                .collect(),
        }
    }
}

impl Observed {
    pub fn new() -> Observed {
        Observed::default()
    }

    pub fn insert(&mut self, instance: &str, kind: &str, objects: Vec<RemoteObject>) {
        self.objects.insert((instance.to_owned(), kind.to_owned()), objects);
    }

    /// Records what a kind read besides its objects.
    pub fn insert_context(&mut self, instance: &str, kind: &str, context: Value) {
        self.contexts.insert((instance.to_owned(), kind.to_owned()), context);
    }

    /// What a kind read besides its objects; `null` when it reads nothing (or was not read).
    pub fn context(&self, instance: &str, kind: &str) -> &Value {
        static NOTHING: Value = Value::Null;
        self.contexts.get(&(instance.to_owned(), kind.to_owned())).unwrap_or(&NOTHING)
    }

    pub fn get(&self, instance: &str, kind: &str) -> &[RemoteObject] {
        self.objects.get(&(instance.to_owned(), kind.to_owned())).map_or(&[], Vec::as_slice)
    }

    /// Records a kind read through [`crate::Handler::list_for_links`] only.
    pub fn insert_linked(&mut self, instance: &str, kind: &str, objects: Vec<RemoteObject>) {
        self.linked.insert((instance.to_owned(), kind.to_owned()), objects);
    }

    /// Records what lives in a remote object that no kind models.
    pub fn insert_contents(
        &mut self,
        instance: &str,
        kind: &str,
        remote_id: &str,
        contents: Vec<crate::relation::LinkedObject>,
    ) {
        self.contents.insert((instance.to_owned(), kind.to_owned(), remote_id.to_owned()), contents);
    }

    /// What lives in a remote object that no kind models, as far as it was read.
    pub fn contents(&self, instance: &str, kind: &str, remote_id: &str) -> &[crate::relation::LinkedObject] {
        self.contents.get(&(instance.to_owned(), kind.to_owned(), remote_id.to_owned())).map_or(&[], Vec::as_slice)
    }

    /// A kind's objects as far as [`crate::Handler::links`] needs them: the full list when
    /// the kind was read in full, else what was read for links.
    pub fn linked(&self, instance: &str, kind: &str) -> &[RemoteObject] {
        let key = (instance.to_owned(), kind.to_owned());
        self.objects.get(&key).or_else(|| self.linked.get(&key)).map_or(&[], Vec::as_slice)
    }
}

/// What to do to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Create,
    /// Recorded in state, but gone remotely (deleted by hand): create it again.
    Recreate,
    /// Not in state, but an object with the same natural key exists remotely: take it over
    /// (applied only with `--adopt`), updating the fields listed.
    Adopt,
    Update,
    Delete,
    /// In state, gone from code and gone remotely: only drop it from state.
    Forget,
    /// Renamed in code (`[[moved]]`) and otherwise unchanged: only state is renamed, nothing
    /// is written remotely. A moved object with changes is an update (or recreate) with
    /// [`Action::moved_from`] instead.
    Move,
}

impl Operation {
    /// Delete or forget: runs in reverse dependency order.
    pub fn removes(self) -> bool {
        matches!(self, Operation::Delete | Operation::Forget)
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: ObjectId,
    pub operation: Operation,
    /// Field-level changes from the observed to the desired state (create: every field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// An update that only undoes a change made outside `mac`: the code is as last applied.
    #[serde(default)]
    pub drift: bool,
    /// What to write, references still unresolved (create, recreate, adopt, update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<DesiredObject>,
    /// The remote object as observed (adopt, update, delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteObject>,
    /// Actions that must succeed before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ObjectId>,
    /// The objects the written definition refers to, recorded in state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<LocalRef>,
    /// Hash of the definition, recorded in state once written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_hash: Option<String>,
    /// The natural key a create will give the object (recorded as pending before it starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adoption_key: Option<String>,
    /// An adoption of an object that an interrupted earlier apply created: it is ours, so no
    /// `--adopt` is needed.
    #[serde(default)]
    pub resumed: bool,
    /// The definition says `protect = true` (recorded in state with the object).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The id state has for this object, renamed by a `[[moved]]` block; state takes the new
    /// id when the action is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<ObjectId>,
    /// What the remote object was when planned (update, adopt, delete), or that none had the
    /// natural key (create, recreate): applying a saved plan re-reads it and refuses if it
    /// moved ([`crate::recheck`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    /// The items of keyed lists (rules, panels, …) an update or adopt adds, removes or
    /// changes, for the reviewer's summary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemChange>,
    /// What a delete removes, in a few words ([`Handler::describe`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A remote object the actions refer to but do not change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnownRemote {
    pub id: ObjectId,
    pub remote: RemoteObject,
}

/// The reviewed unit of change: `mac plan -o FILE` saves it, `mac apply FILE` executes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: u32,
    /// The state this plan was made from; applying it to any other is refused.
    pub state_lineage: String,
    pub state_serial: u64,
    /// In execution order: every action after those it depends on.
    pub actions: Vec<Action>,
    /// How many defined objects need no change.
    pub unchanged: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_remote: Vec<KnownRemote>,
    /// The context (see [`crate::Handler::observe`]) of each kind this plan writes, as it was
    /// planned with: a write resolves names with it, so that it writes what the plan showed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<KindContext>,
    /// The creates to record as pending before any write (see [`PendingCreate`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingCreate>,
    /// What the plan was made for, as the caller describes it (environment, state location,
    /// a fingerprint of each provider instance's settings); a caller applying a saved plan
    /// refuses it when these differ. Never secret values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bindings: BTreeMap<String, String>,
    /// What a reviewer must know that is not a change (an object others use is deleted, an
    /// object another project claims, …), in a stable order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<PlanWarning>,
    /// Deletes shown but not done, because something that stays lives in the object (see
    /// [`crate::links`]). They are not actions: apply never attempts them, and the objects
    /// stay in state, so every plan shows them again until the cause is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<crate::relation::BlockedDelete>,
}

/// What one kind of one provider instance read besides its objects, as a plan carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindContext {
    pub instance: String,
    pub kind: String,
    pub context: Value,
}

impl Plan {
    /// The context the plan recorded for a kind; `null` when it needs none.
    pub fn context(&self, instance: &str, kind: &str) -> &Value {
        static NOTHING: Value = Value::Null;
        self.contexts
            .iter()
            .find(|found| found.instance == instance && found.kind == kind)
            .map_or(&NOTHING, |found| &found.context)
    }
}

/// A note attached to a plan for its reviewer: the object it concerns and what to know.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlanWarning {
    pub id: ObjectId,
    pub message: String,
}

impl Action {
    /// An action that writes no definition (a delete, forget or move): no desired object,
    /// changes, references or hashes; callers set what else applies.
    pub(crate) fn without_write(id: ObjectId, operation: Operation, remote: Option<RemoteObject>) -> Action {
        Action {
            id,
            operation,
            changes: Vec::new(),
            drift: false,
            desired: None,
            remote,
            depends_on: Vec::new(),
            references: Vec::new(),
            applied_hash: None,
            adoption_key: None,
            resumed: false,
            protect: false,
            moved_from: None,
            fingerprint: None,
            items: Vec::new(),
            description: None,
        }
    }
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Adds a warning, keeping them sorted and without duplicates.
    pub fn warn(&mut self, id: &ObjectId, message: impl Into<String>) {
        let warning = PlanWarning { id: id.clone(), message: message.into() };
        if let Err(at) = self.warnings.binary_search(&warning) {
            self.warnings.insert(at, warning);
        }
    }

    pub fn count(&self, operation: Operation) -> usize {
        self.actions.iter().filter(|action| action.operation == operation).count()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "state holds {count} object(s) of provider instance `{instance}`, which is not configured; \
         restore its [providers] table so they can be deleted, or drop them with `mac state rm`"
    )]
    UnconfiguredInstance { instance: String, count: usize },
    #[error("state holds `{id}`, but provider instance `{}` has no kind `{}`", id.provider, id.kind)]
    UnknownKind { id: ObjectId },
    #[error(
        "refusing to delete all {count} managed object(s) of `{instance}`: no definitions for it were found. \
         If that is really intended, pass --allow-delete-all"
    )]
    WouldDeleteAll { instance: String, count: usize },
    #[error("`{id}`: {source}")]
    Reference {
        id: ObjectId,
        #[source]
        source: ResolveError,
    },
    #[error(
        "{location}: `{id}` would adopt the remote object `{key}`, but it is marked as managed by project `{owner}`{}: \
         two projects must not manage one object. Remove this definition, or, if `{owner}` no longer \
         manages it, remove the marker on the server first",
        ours.as_ref().map_or_else(|| " (this project has no `project` name in mac.toml)".to_owned(), |ours| format!(", not `{ours}`"))
    )]
    OwnedByAnotherProject { id: ObjectId, key: String, owner: String, ours: Option<String>, location: crate::Location },
    #[error("{location}: `{first}` and `{second}` would both adopt the remote object `{key}`")]
    AdoptionClash { key: String, first: ObjectId, second: ObjectId, location: crate::Location },
    #[error("{0}")]
    Definition(#[from] crate::source::SourceError),
    /// An update onto a unique key another remote object has, for an object without a
    /// definition to locate it by (otherwise [`PlanError::Definition`]).
    #[error("{0}")]
    KeyTaken(String),
    #[error(
        "refusing to delete `{id}`: it is protected (protect = true when last applied). Set protect = false \
         in its definition and apply, then remove it"
    )]
    Protected { id: ObjectId },
    #[error(
        "refusing to delete {deletes} of {managed} managed objects (more than the allowed share of {share}): \
         review the plan, then pass --allow-mass-delete, or raise [safety] max_delete_share"
    )]
    MassDelete { deletes: usize, managed: usize, share: f64 },
    #[error("no defined or managed object matches --target {0}")]
    UnknownTarget(Target),
    #[error("actions depend on each other in a cycle: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<ObjectId>),
    #[error(transparent)]
    MoveClash(#[from] crate::moved::MoveClash),
}
