//! Typed kinds: a [`Kind`] declares the typed forms of its objects — what a definition says
//! ([`Kind::Desired`]), what the remote returns ([`Kind::Remote`]), the normalised form both
//! are compared in ([`Kind::Comparable`]) and what planning reads besides its own objects
//! ([`Kind::Context`]) — and works on those types only. [`Typed`] bridges a kind to the
//! object-safe [`Handler`] the engine and the `inventory` registry hold.
//!
//! The engine keeps definitions and remote objects as compact JSON text ([`JsonText`]) and
//! contexts as JSON values (they are saved in plans and state, and recorded for replay);
//! [`Typed`] parses each into the kind's type at the boundary — straight from the text, or,
//! for fields with generic references or to name the failing field, through a tree — and
//! serialises the comparable forms.
//! Plan paths are the comparable form's serde field names.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize as _, Serialize};
use serde_json::Value;

use crate::json_text::JsonText;
use crate::object::{Fields, LocalRef, ObjectId, RemoteObject};
use crate::provider::{
    Batch, BatchMember, Compared, DesiredObject, FieldError, Handler, HandlerError, HandlerErrorKind, ImportRefs,
    ImportedFields, KeyReference, Parked, Prepared, PreparedContext, Reread, Resolved, Resolver, Written,
    parse_fields_value,
};
use crate::relation::{LinkedObject, Links, Relation};

/// A remote object with its fields parsed into the kind's [`Kind::Remote`].
#[derive(Debug)]
pub struct Remote<'a, R> {
    /// The object as listed: remote id, natural key, part ids.
    pub object: &'a RemoteObject,
    /// Its fields, typed.
    pub fields: R,
}

impl<R> Remote<'_, R> {
    /// The object's id on the remote.
    pub fn remote_id(&self) -> &str {
        &self.object.remote_id
    }
}

/// One kind of object, typed. Only `desired`, `observed`, `list`, `write` and `delete` are
/// required; every other method has the default of a kind that does not need it.
#[async_trait]
pub trait Kind: Send + Sync + fmt::Debug + 'static {
    /// A definition's fields (use `#[serde(deny_unknown_fields)]`: a misspelt field is an error
    /// at its line). Generic references (`{ ref = … }`) arrive replaced by the value they
    /// resolve to, or by [`crate::KNOWN_AFTER_APPLY`] while unknown.
    ///
    /// Its `JsonSchema` (derive it with `schemars`) is what `mac schema` and editors show: a
    /// doc comment on each field, whose first line says what it means, and a hand-written
    /// schema (`#[schemars(with = …)]`, `schema_with`) for a field with its own `Deserialize`
    /// that accepts exactly what that accepts.
    type Desired: DeserializeOwned + schemars::JsonSchema + Send + Sync;
    /// A remote object's fields, as [`Kind::list`] records them.
    type Remote: DeserializeOwned + Send + Sync;
    /// The normalised form desired and observed objects are compared in.
    type Comparable: Serialize + Send;
    /// What planning reads besides the kind's own objects (a directory of names), read by
    /// [`Kind::read_context`] with the list and given to the planner as an argument; `()` for none.
    type Context: DeserializeOwned + Serialize + Default + Send + Sync;

    /// Checks a definition offline; each problem names its field.
    fn validate(&self, _desired: &Self::Desired) -> Result<(), Vec<FieldError>> {
        Ok(())
    }

    /// Checks an instance's definitions together (see [`Handler::validate_together`]). They
    /// come one at a time, in order, so that the check keeps only what it needs of each (at
    /// 10k rules, every alert group parsed at once was 20 MB); each problem names its
    /// definition by its position in that order.
    fn validate_together(
        &self,
        _definitions: &mut dyn Iterator<Item = (&ObjectId, Self::Desired)>,
    ) -> Vec<(usize, FieldError)> {
        Vec::new()
    }

    /// Objects this one needs first, named other than by `{ ref = … }` (see [`Handler::references`]).
    fn references(&self, _desired: &Self::Desired) -> Vec<(String, LocalRef)> {
        Vec::new()
    }

    /// Fields naming another object by a natural key (see [`Handler::key_references`]).
    fn key_references(&self, _desired: &Self::Desired) -> Vec<KeyReference> {
        Vec::new()
    }

    /// The remote's other unique key of a definition (see [`Handler::unique_key`]).
    fn unique_key(&self, _id: &ObjectId, _desired: &Self::Desired) -> Option<String> {
        None
    }

    /// [`Kind::unique_key`] of a remote object.
    fn remote_unique_key(&self, _remote: &Remote<'_, Self::Remote>) -> Option<String> {
        None
    }

    /// What a clash on the unique key means (see [`Handler::unique_key_clash`]).
    fn unique_key_clash(
        &self,
        _id: &ObjectId,
        _desired: &Self::Desired,
        remote: &Remote<'_, Self::Remote>,
    ) -> Result<(), FieldError> {
        Err(FieldError::at(
            "",
            format!("the remote object `{}` already has this object's unique key", remote.remote_id()),
        ))
    }

    /// Pointer patterns of secret fields (see [`Handler::secret_fields`]).
    fn secret_fields(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Whether secrets are written on create only (see [`Handler::secrets_on_create_only`]).
    fn secrets_on_create_only(&self) -> bool {
        false
    }

    /// Pointer patterns of fields that may name a JSON file (see [`Handler::file_fields`]).
    fn file_fields(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Pointer patterns of fields that may name a text file (see [`Handler::text_file_fields`]).
    fn text_file_fields(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The natural key a definition would have remotely (see [`Handler::adoption_key`]).
    fn adoption_key(&self, _id: &ObjectId, _desired: &Self::Desired, _refs: &dyn Resolver) -> Option<String> {
        None
    }

    /// The desired state in comparable form; an error names its field.
    fn desired(
        &self,
        id: &ObjectId,
        desired: &Self::Desired,
        refs: &dyn Resolver,
        context: &Self::Context,
    ) -> Result<Self::Comparable, FieldError>;

    /// A remote object in comparable form, server defaults and formatting normalised away.
    fn observed(&self, remote: &Remote<'_, Self::Remote>) -> Self::Comparable;

    /// A remote object normalised against a desired one, for kinds that manage part of an
    /// object (the secret keys a definition names); the default ignores `desired`.
    fn observed_for(&self, remote: &Remote<'_, Self::Remote>, _desired: &Self::Comparable) -> Self::Comparable {
        self.observed(remote)
    }

    /// The key list items at `path` are matched by (see [`Handler::list_key`]).
    fn list_key(&self, _path: &str) -> Option<&'static str> {
        None
    }

    /// The project a remote object's owner marker names (see [`Handler::owner`]).
    fn owner(&self, _remote: &Remote<'_, Self::Remote>) -> Option<String> {
        None
    }

    /// A remote object in a few words, for its delete line.
    fn describe(&self, remote: &Remote<'_, Self::Remote>) -> String {
        remote.remote_id().to_owned()
    }

    /// A remote object as a definition to write (see [`Handler::import`]).
    fn import(
        &self,
        _remote: &Remote<'_, Self::Remote>,
        _refs: &dyn ImportRefs,
        _context: &Self::Context,
    ) -> Option<ImportedFields> {
        None
    }

    /// The kinds this kind's objects live in or use (see [`Handler::relations`]).
    fn relations(&self) -> Vec<(Relation, &'static str)> {
        Vec::new()
    }

    /// An observed object's title and what it lives in and uses (see [`Handler::links`]).
    fn links(&self, _remote: &Remote<'_, Self::Remote>) -> Links {
        Links::default()
    }

    /// What lives in deletable objects that no kind models (see [`Handler::unmodelled_contents`]).
    async fn unmodelled_contents(
        &self,
        _remote_ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<LinkedObject>>, HandlerError> {
        Ok(BTreeMap::new())
    }

    /// Every remote object as far as links need it (see [`Handler::list_for_links`]).
    async fn list_for_links(&self, _relations: &BTreeSet<Relation>) -> Result<Vec<RemoteObject>, HandlerError> {
        self.list().await
    }

    /// Every remote object of this kind, in as few requests as the API allows.
    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError>;

    /// What planning needs besides the list (see [`Kind::Context`]), read with it.
    async fn read_context(&self) -> Result<Self::Context, HandlerError> {
        Ok(Self::Context::default())
    }

    /// The list and the context, as a plan reads them: by default both concurrently; override
    /// it when the list itself learns part of the context (which objects were unreadable).
    async fn list_with_context(&self) -> Result<(Vec<RemoteObject>, Self::Context), HandlerError> {
        let (objects, context) = futures::future::join(self.list(), self.read_context()).await;
        Ok((objects?, context?))
    }

    /// One remote object (see [`Handler::read`]); by default found in [`Kind::list`].
    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.list().await?.into_iter().find(|remote| remote.remote_id == remote_id))
    }

    /// How a saved plan's objects of this kind are re-read (see [`Handler::reread`]).
    fn reread(&self) -> Reread {
        Reread::List
    }

    /// The remote object with this natural key (see [`Handler::read_by_adoption_key`]).
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.list().await?.into_iter().find(|remote| remote.adoption_key.as_deref() == Some(key)))
    }

    /// Creates (`current` is `None`) or updates the object; returns it as now stored. `context`
    /// is the one the plan was made with (a saved plan carries it), so that what is written is
    /// what the plan showed.
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &Self::Desired,
        refs: &dyn Resolver,
        context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError>;

    /// Deletes the object.
    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError>;

    /// Whether this kind's writes or deletes come in batches ([`Kind::write_batch`],
    /// [`Kind::delete_batch`]): set it when overriding either, as the engine asks only then
    /// (a write's batch needs its definition parsed).
    const BATCHED: bool = false;

    /// The batch a create or update belongs to ([`crate::Batch::Writes`] of that name): what
    /// its members share, a preparation or a read-back. A name made of a value not known yet
    /// ([`crate::KNOWN_AFTER_APPLY`]) is no batch.
    fn write_batch(&self, _id: &ObjectId, _desired: &Self::Desired) -> Option<String> {
        None
    }

    /// The batch a delete belongs to ([`crate::Batch::Deletes`] of that name).
    fn delete_batch(&self, _current: &Remote<'_, Self::Remote>) -> Option<String> {
        None
    }

    /// Run before members of `batch` start, for those ready to (see [`Handler::prepare_batch`]).
    async fn prepare_batch(&self, _batch: &Batch, _members: &[BatchMember<'_>]) -> Result<Prepared, HandlerError> {
        Ok(Prepared::nothing())
    }

    /// A write in a batch, with what its preparation found: by default [`Kind::write`]. A
    /// kind may return [`Written::ReadBack`] to read the object with the batch's other writes
    /// ([`Kind::read_back`]).
    async fn write_in_batch(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &Self::Desired,
        refs: &dyn Resolver,
        context: &Self::Context,
        _prepared: &Prepared,
    ) -> Result<Written, HandlerError> {
        self.write(current, id, desired, refs, context).await.map(Written::Object)
    }

    /// A delete in a batch, with what its preparation found: by default [`Kind::delete`].
    async fn delete_in_batch(&self, current: &RemoteObject, _prepared: &Prepared) -> Result<(), HandlerError> {
        self.delete(current).await
    }

    /// The objects of the batch's writes that returned [`Written::ReadBack`], in order (see
    /// [`Handler::read_back`]).
    async fn read_back(&self, batch: &Batch, parked: Vec<Parked>) -> Vec<Result<RemoteObject, HandlerError>> {
        parked
            .iter()
            .map(|_| Err(HandlerError::new(HandlerErrorKind::Other, format!("{batch}: this kind reads nothing back"))))
            .collect()
    }

    /// The PromQL view of the alerting rules this kind's definitions hold, for `mac test`
    /// (see [`Handler::rule_view`]); `None` for kinds without alerting rules.
    fn rule_view(&self) -> Option<&dyn crate::rules::RuleView> {
        None
    }
}

/// A definition's fields as a kind's `Desired` type, as the offline checks see them: generic
/// references stand as [`crate::KNOWN_AFTER_APPLY`]. For code that reads loaded definitions
/// outside the planner (`mac test`'s rule views).
pub fn parse_definition<T: serde::de::DeserializeOwned>(fields: &Fields) -> Result<T, FieldError> {
    parse_resolved(fields, &NothingResolves)
}

/// A definition's fields as `T` straight from their text, when they hold no generic reference
/// and parse: most definitions. `None` sends the caller the long way, through a tree (to
/// replace references, or to name the failing field).
fn parse_plain<T: DeserializeOwned>(fields: &JsonText) -> Option<T> {
    if fields.may_have_key("ref") {
        return None;
    }
    fields.parse().ok()
}

/// A definition's fields as `T`, generic references replaced through `refs` first; a
/// malformed `{ ref = … }` is reported as such, not as the type error it would cause.
fn parse_resolved<T: serde::de::DeserializeOwned>(fields: &Fields, refs: &dyn Resolver) -> Result<T, FieldError> {
    if crate::refs::find_refs(fields)?.is_empty() {
        return crate::provider::parse_fields(fields);
    }
    let substituted = crate::refs::substitute(fields, refs)
        .map_err(|err| FieldError::at(err.pointer().to_owned(), err.to_string()))?;
    crate::provider::parse_fields(&substituted)
}

/// Deserialises a list of tables — `[[grafana8.alert_group.rules]]` in TOML — for a kind's
/// `Desired` field (`deserialize_with`), naming the tables in the error a single `[…]` table
/// or a plain value gets, where serde would say "invalid type: map, expected a sequence".
/// Errors inside an item keep their item's pointer.
pub fn list_of_tables<'de, D, T>(deserializer: D, tables: &'static str) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct Tables<T> {
        tables: &'static str,
        item: std::marker::PhantomData<T>,
    }
    impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Tables<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of {} tables ([[…]], two brackets each)", self.tables)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(items)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, _map: A) -> Result<Vec<T>, A::Error> {
            Err(serde::de::Error::custom(format!(
                "write each of these as [[{}]] (two brackets): one [{}] table is not a list",
                self.tables, self.tables
            )))
        }
    }
    deserializer.deserialize_any(Tables { tables, item: std::marker::PhantomData })
}

/// The adapter that makes a [`Kind`] a [`Handler`]: `Arc::new(Typed(MyKind { … }))`.
pub struct Typed<K>(pub K);

impl<K: Kind> fmt::Debug for Typed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether a key or id holds the placeholder of a value not known yet (or not resolved
/// offline): a key made of it is no key.
fn is_placeholder(text: &str) -> bool {
    text.contains(crate::provider::KNOWN_AFTER_APPLY)
}

/// Generic references replaced by [`crate::KNOWN_AFTER_APPLY`], for the checks that run
/// before anything resolves.
struct NothingResolves;

impl Resolver for NothingResolves {
    fn resolve(&self, _reference: &LocalRef) -> Option<Resolved<'_>> {
        Some(Resolved::Pending)
    }
}

impl<K: Kind> Typed<K> {
    /// A definition's fields as the kind's type, references resolved through `refs`.
    fn parse_desired(&self, fields: &JsonText, refs: &dyn Resolver) -> Result<K::Desired, FieldError> {
        match parse_plain(fields) {
            Some(typed) => Ok(typed),
            None => parse_resolved(&fields.to_map(), refs),
        }
    }

    /// A definition's fields as the kind's type, before anything resolves (offline checks).
    fn parse_offline(&self, fields: &JsonText) -> Result<K::Desired, FieldError> {
        match parse_plain(fields) {
            Some(typed) => Ok(typed),
            None => parse_definition(&fields.to_map()),
        }
    }

    /// A remote object's fields as the kind's type; `None` when they do not parse (an answer
    /// of a shape the kind does not know: the caller falls back to what needs no fields).
    fn parse_remote<'a>(&self, remote: &'a RemoteObject) -> Result<Remote<'a, K::Remote>, String> {
        match remote.fields.parse::<K::Remote>() {
            Ok(fields) => Ok(Remote { object: remote, fields }),
            // The message as from the tree, without the text's line and column: it is part of
            // what an unreadable object compares as, and so of a saved plan's fingerprint.
            Err(_) => Err(match K::Remote::deserialize(&remote.fields.to_value()) {
                Ok(_) => "the fields do not parse".to_owned(),
                Err(err) => err.to_string(),
            }),
        }
    }

    fn context(&self, context: &Value) -> Result<K::Context, FieldError> {
        if context.is_null() {
            return Ok(K::Context::default());
        }
        parse_fields_value(context)
            .map_err(|err| FieldError::at("", format!("the recorded context of this kind is unreadable: {err}")))
    }
}

/// A remote object's comparable form, or what one that does not parse compares as.
enum Observed<C> {
    Typed(C),
    Unreadable(Value),
}

/// The desired comparable form, and the observed one when there is a remote object.
type ComparableForms<C> = (C, Option<Observed<C>>);

impl<C: Serialize> Observed<C> {
    fn into_value(self) -> Value {
        match self {
            Observed::Typed(comparable) => to_value(&comparable),
            Observed::Unreadable(value) => value,
        }
    }
}

impl<K: Kind> Typed<K> {
    /// The desired object and the remote one (if any) in the kind's comparable form.
    fn comparable_forms(
        &self,
        id: &ObjectId,
        fields: &JsonText,
        remote: Option<&RemoteObject>,
        refs: &dyn Resolver,
        context: &PreparedContext,
    ) -> Result<ComparableForms<K::Comparable>, FieldError> {
        let typed = self.parse_desired(fields, refs)?;
        let context = prepared::<K>(context)?;
        let comparable = self.0.desired(id, &typed, refs, context)?;
        let observed = match remote.map(|remote| self.parse_remote(remote)) {
            None => None,
            Some(Ok(remote)) => Some(Observed::Typed(self.0.observed_for(&remote, &comparable))),
            Some(Err(message)) => {
                remote.map(|remote| Observed::Unreadable(unreadable(message, &remote.fields.to_value())))
            }
        };
        Ok((comparable, observed))
    }
}

/// A context this kind's [`Handler::prepare_context`] made; another kind's is a caller's bug,
/// reported rather than a panic.
fn prepared<K: Kind>(context: &PreparedContext) -> Result<&K::Context, FieldError> {
    context
        .0
        .downcast_ref::<K::Context>()
        .ok_or_else(|| FieldError::at("", "the engine passed another kind's context to this kind"))
}

/// The owner reported for a remote object whose fields do not parse: never this project, so
/// that it is neither adopted nor imported, and a plan warns about it.
pub const UNREADABLE_OWNER: &str = "(unreadable: its fields are not what this kind reads)";

/// What a remote object that does not parse compares as: a value no definition has, so that
/// the plan shows it and a write replaces it, with its fields as read, so that a change to
/// any of them changes a saved plan's fingerprint.
fn unreadable(message: String, fields: &Value) -> Value {
    serde_json::json!({ "unreadable": message, "fields": fields })
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // A `Serialize` of plain data (no maps with non-string keys) cannot fail.
    serde_json::to_value(value).unwrap_or_else(|err| unreadable(err.to_string(), &Value::Null))
}

#[async_trait]
impl<K: Kind> Handler for Typed<K> {
    fn desired_schema(&self) -> Value {
        crate::schema::desired_schema::<K::Desired>()
    }

    fn validate(&self, fields: &JsonText) -> Result<(), Vec<FieldError>> {
        let desired = self.parse_offline(fields).map_err(|err| vec![err])?;
        self.0.validate(&desired)
    }

    fn validate_together(&self, definitions: &[(&ObjectId, &JsonText)]) -> Vec<(usize, FieldError)> {
        // Every definition passed `validate`, so each parses; one that does not is skipped.
        // Parsed a chunk at a time on both cores, and given to the kind one at a time.
        const CHUNK: usize = 256;
        let mut indices = Vec::new();
        let mut parsed = definitions
            .chunks(CHUNK)
            .enumerate()
            .flat_map(|(chunk_index, chunk)| {
                crate::parallel::in_order(chunk, 64, |(_, fields)| self.parse_offline(fields).ok())
                    .into_iter()
                    .enumerate()
                    .filter_map(move |(offset, desired)| Some((chunk_index * CHUNK + offset, desired?)))
            })
            .map(|(index, desired)| {
                indices.push(index);
                (definitions[index].0, desired)
            });
        let errors = self.0.validate_together(&mut parsed);
        drop(parsed);
        errors.into_iter().filter_map(|(position, error)| Some((*indices.get(position)?, error))).collect()
    }

    fn references(&self, fields: &JsonText) -> Vec<(String, LocalRef)> {
        let mut references = self.parse_offline(fields).map(|desired| self.0.references(&desired)).unwrap_or_default();
        // A field given by a generic reference reads as the placeholder here: the engine
        // finds that reference itself.
        references.retain(|(_, reference)| !is_placeholder(&reference.local_id));
        references
    }

    fn key_references(&self, fields: &JsonText) -> Vec<KeyReference> {
        self.parse_offline(fields).map(|desired| self.0.key_references(&desired)).unwrap_or_default()
    }

    fn unique_key(&self, desired: &DesiredObject) -> Option<String> {
        let typed = self.parse_offline(&desired.fields).ok()?;
        let key = self.0.unique_key(&desired.id, &typed).filter(|key| !is_placeholder(key))?;
        // A key that changes with what an unresolved reference stands for (a title given by
        // a reference, slugged) is no key: compare it with another stand-in.
        let references = crate::refs::find_refs_in(&desired.fields).ok()?;
        if references.is_empty() {
            return Some(key);
        }
        let mut other = desired.fields.to_value();
        for reference in &references {
            if let Some(slot) = other.pointer_mut(&reference.pointer) {
                *slot = Value::String("another value".to_owned());
            }
        }
        let Value::Object(other) = other else { return None };
        let other: K::Desired = parse_fields_value(&Value::Object(other)).ok()?;
        (self.0.unique_key(&desired.id, &other).as_deref() == Some(key.as_str())).then_some(key)
    }

    fn remote_unique_key(&self, remote: &RemoteObject) -> Option<String> {
        self.0.remote_unique_key(&self.parse_remote(remote).ok()?)
    }

    fn unique_key_clash(&self, desired: &DesiredObject, remote: &RemoteObject) -> Result<(), FieldError> {
        let typed = self.parse_offline(&desired.fields)?;
        let remote = self.parse_remote(remote).map_err(|message| FieldError::at("", message))?;
        self.0.unique_key_clash(&desired.id, &typed, &remote)
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        self.0.secret_fields()
    }

    fn secrets_on_create_only(&self) -> bool {
        self.0.secrets_on_create_only()
    }

    fn file_fields(&self) -> Vec<&'static str> {
        self.0.file_fields()
    }

    fn text_file_fields(&self) -> Vec<&'static str> {
        self.0.text_file_fields()
    }

    fn adoption_key(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Option<String> {
        let typed = self.parse_desired(&desired.fields, refs).ok()?;
        // A key made of a value not known yet is no key.
        self.0.adoption_key(&desired.id, &typed, refs).filter(|key| !is_placeholder(key))
    }

    fn prepare_context(&self, context: &Value) -> Result<PreparedContext, FieldError> {
        Ok(PreparedContext(Box::new(self.context(context)?)))
    }

    fn compare(
        &self,
        desired: &DesiredObject,
        remote: Option<&RemoteObject>,
        refs: &dyn Resolver,
        context: &PreparedContext,
    ) -> Result<Compared, FieldError> {
        let (desired, observed) = self.comparable_forms(&desired.id, &desired.fields, remote, refs, context)?;
        Ok(Compared { desired: to_value(&desired), observed: observed.map(|observed| observed.into_value()) })
    }

    fn differences(
        &self,
        id: &ObjectId,
        fields: &JsonText,
        remote: Option<&RemoteObject>,
        refs: &dyn Resolver,
        context: &PreparedContext,
    ) -> Result<Option<Compared>, FieldError> {
        let (desired, observed) = self.comparable_forms(id, fields, remote, refs, context)?;
        if let Some(Observed::Typed(observed)) = &observed
            && let (Ok(desired), Ok(observed)) = (serde_json::to_vec(&desired), serde_json::to_vec(observed))
            && desired == observed
        {
            // The same JSON text is the same value: nothing to diff.
            return Ok(None);
        }
        Ok(Some(Compared { desired: to_value(&desired), observed: observed.map(|observed| observed.into_value()) }))
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        match self.parse_remote(remote) {
            Ok(typed) => to_value(&self.0.observed(&typed)),
            Err(message) => unreadable(message, &remote.fields.to_value()),
        }
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        self.0.list_key(path)
    }

    fn owner(&self, remote: &RemoteObject) -> Option<String> {
        match self.parse_remote(remote) {
            Ok(typed) => self.0.owner(&typed),
            // Whose it is cannot be told: not this project's to adopt or import.
            Err(_) => Some(UNREADABLE_OWNER.to_owned()),
        }
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        match self.parse_remote(remote) {
            Ok(typed) => self.0.describe(&typed),
            Err(_) => remote.remote_id.clone(),
        }
    }

    fn import(
        &self,
        remote: &RemoteObject,
        refs: &dyn ImportRefs,
        context: &PreparedContext,
    ) -> Option<ImportedFields> {
        self.0.import(&self.parse_remote(remote).ok()?, refs, prepared::<K>(context).ok()?)
    }

    fn relations(&self) -> Vec<(Relation, &'static str)> {
        self.0.relations()
    }

    fn links(&self, remote: &RemoteObject) -> Links {
        self.parse_remote(remote).map(|remote| self.0.links(&remote)).unwrap_or_default()
    }

    async fn unmodelled_contents(
        &self,
        remote_ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<LinkedObject>>, HandlerError> {
        self.0.unmodelled_contents(remote_ids).await
    }

    async fn list_for_links(&self, relations: &BTreeSet<Relation>) -> Result<Vec<RemoteObject>, HandlerError> {
        self.0.list_for_links(relations).await
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        self.0.list().await
    }

    async fn observe(&self) -> Result<(Vec<RemoteObject>, Value), HandlerError> {
        let (objects, context) = self.0.list_with_context().await?;
        let context = serde_json::to_value(&context).map_err(|err| {
            HandlerError::new(HandlerErrorKind::Other, format!("cannot record this kind's context: {err}"))
        })?;
        Ok((objects, context))
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.0.read(remote_id).await
    }

    fn reread(&self) -> Reread {
        self.0.reread()
    }

    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.0.read_by_adoption_key(key).await
    }

    fn batch(&self, member: &BatchMember<'_>) -> Option<Batch> {
        if !K::BATCHED {
            return None;
        }
        let batch = match member {
            BatchMember::Write { desired, .. } => {
                Batch::Writes(self.0.write_batch(&desired.id, &self.parse_offline(&desired.fields).ok()?)?)
            }
            BatchMember::Delete { current } => Batch::Deletes(self.0.delete_batch(&self.parse_remote(current).ok()?)?),
        };
        let (Batch::Writes(name) | Batch::Deletes(name)) = &batch;
        (!is_placeholder(name)).then_some(batch)
    }

    async fn prepare_batch(&self, batch: &Batch, members: &[BatchMember<'_>]) -> Result<Prepared, HandlerError> {
        self.0.prepare_batch(batch, members).await
    }

    async fn read_back(&self, batch: &Batch, parked: Vec<Parked>) -> Vec<Result<RemoteObject, HandlerError>> {
        self.0.read_back(batch, parked).await
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        desired: &DesiredObject,
        refs: &dyn Resolver,
        context: &Value,
        prepared: &Prepared,
    ) -> Result<Written, HandlerError> {
        let secret_fields = self.0.secret_fields();
        let typed = self.parse_desired(&desired.fields, refs).map_err(|err| {
            // Secrets are revealed here: a message quoting the value must not leave.
            let message = if secret_fields.iter().any(|pattern| crate::secrets::covers(pattern, &err.pointer)) {
                "this secret's value does not have the form the field takes".to_owned()
            } else {
                err.message.clone()
            };
            HandlerError::new(HandlerErrorKind::Invalid, message).at(err.pointer.clone())
        })?;
        let context = self.context(context).map_err(|err| HandlerError::new(HandlerErrorKind::Other, err.message))?;
        self.0.write_in_batch(current, &desired.id, &typed, refs, &context, prepared).await
    }

    async fn delete(&self, current: &RemoteObject, prepared: &Prepared) -> Result<(), HandlerError> {
        self.0.delete_in_batch(current, prepared).await
    }

    fn rule_view(&self) -> Option<&dyn crate::rules::RuleView> {
        self.0.rule_view()
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    /// A kind whose definitions name a parent (by local id, or through a generic reference)
    /// and a title, and whose remote objects must have a numeric `n`.
    #[derive(Debug)]
    struct Small;

    #[derive(Debug, Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct SmallDesired {
        parent: String,
        title: String,
        /// Read only to fail: a revealed secret string is not a number.
        #[serde(default)]
        #[allow(dead_code)]
        secret: Option<u64>,
    }

    #[derive(Debug, Deserialize)]
    struct SmallRemote {
        n: u64,
    }

    #[async_trait]
    impl Kind for Small {
        type Desired = SmallDesired;
        type Remote = SmallRemote;
        type Comparable = Value;
        type Context = ();

        fn references(&self, desired: &SmallDesired) -> Vec<(String, LocalRef)> {
            vec![("/parent".to_owned(), LocalRef::new("small", &desired.parent))]
        }

        fn unique_key(&self, _id: &ObjectId, desired: &SmallDesired) -> Option<String> {
            Some(desired.title.to_lowercase().replace(['(', ')'], "").replace(' ', "-"))
        }

        fn secret_fields(&self) -> Vec<&'static str> {
            vec!["/secret"]
        }

        fn desired(&self, _: &ObjectId, desired: &SmallDesired, _: &dyn Resolver, _: &()) -> Result<Value, FieldError> {
            Ok(json!({ "title": desired.title }))
        }

        fn observed(&self, remote: &Remote<'_, SmallRemote>) -> Value {
            json!({ "n": remote.fields.n })
        }

        fn owner(&self, _remote: &Remote<'_, SmallRemote>) -> Option<String> {
            None
        }

        async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
            Ok(Vec::new())
        }

        async fn write(
            &self,
            _: Option<&RemoteObject>,
            _: &ObjectId,
            _: &SmallDesired,
            _: &dyn Resolver,
            _: &(),
        ) -> Result<RemoteObject, HandlerError> {
            Ok(RemoteObject::default())
        }

        async fn delete(&self, _: &RemoteObject) -> Result<(), HandlerError> {
            Ok(())
        }
    }

    fn fields(value: Value) -> JsonText {
        JsonText::from_value(&value)
    }

    fn remote(fields: Value) -> RemoteObject {
        RemoteObject { remote_id: "r".to_owned(), fields: fields.into(), ..RemoteObject::default() }
    }

    #[test]
    fn an_unreadable_remote_object_keeps_its_fields_in_what_is_compared_and_is_nobody_s_to_take() {
        let handler = Typed(Small);
        let one = handler.observed(&remote(json!({ "n": "x", "other": 1 })));
        let two = handler.observed(&remote(json!({ "n": "x", "other": 2 })));
        assert_ne!(one, two, "an edit elsewhere in an unreadable object still changes its fingerprint");
        assert_eq!(one["fields"], json!({ "n": "x", "other": 1 }));
        assert_eq!(handler.owner(&remote(json!({ "n": "x" }))).as_deref(), Some(UNREADABLE_OWNER));
        assert_eq!(handler.owner(&remote(json!({ "n": 1 }))), None);
    }

    #[test]
    fn offline_checks_drop_references_and_keys_made_of_an_unresolved_reference() {
        let handler = Typed(Small);
        let by_reference =
            fields(json!({ "parent": { "ref": "small.a" }, "title": { "ref": "small.b", "field": "t" } }));
        assert!(handler.validate(&by_reference).is_ok(), "a reference stands in for any string");
        assert_eq!(handler.references(&by_reference), [], "the engine finds generic references itself");
        let desired = DesiredObject { id: ObjectId::new("p", "small", "x"), fields: by_reference };
        assert_eq!(handler.unique_key(&desired), None, "a title given by a reference has no key yet");

        let written = fields(json!({ "parent": "a", "title": "Payments" }));
        assert_eq!(handler.references(&written), [("/parent".to_owned(), LocalRef::new("small", "a"))]);
        let desired = DesiredObject { id: ObjectId::new("p", "small", "x"), fields: written };
        assert_eq!(handler.unique_key(&desired).as_deref(), Some("payments"));
        let partly = fields(json!({ "parent": { "ref": "small.a" }, "title": "Payments" }));
        let desired = DesiredObject { id: ObjectId::new("p", "small", "x"), fields: partly };
        assert_eq!(handler.unique_key(&desired).as_deref(), Some("payments"), "a key not made of the reference stays");
    }

    #[test]
    fn a_malformed_reference_is_reported_as_such() {
        let errors = Typed(Small)
            .validate(&fields(json!({ "parent": { "ref": "nodot" }, "title": "t" })))
            .expect_err("a malformed reference");
        assert_eq!(errors[0].pointer, "/parent/ref", "{errors:?}");
        assert!(errors[0].message.contains("kind.id"), "{errors:?}");
    }

    #[tokio::test]
    async fn a_write_never_quotes_a_revealed_secret() {
        let desired = DesiredObject {
            id: ObjectId::new("p", "small", "x"),
            fields: fields(json!({ "parent": "a", "title": "t", "secret": "hunter2" })),
        };
        let error = Typed(Small)
            .write(None, &desired, &NothingResolves, &Value::Null, &Prepared::nothing())
            .await
            .expect_err("not a number");
        assert_eq!(error.pointer.as_deref(), Some("/secret"));
        assert!(!error.message.contains("hunter2"), "{}", error.message);
    }
}
