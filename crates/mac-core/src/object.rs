//! Monitoring objects and the states a managed resource can be in.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::json_text::JsonText;
use crate::source::{Document, Location, SourceError};

/// The identity of a managed object: which provider instance, which kind, which local id.
///
/// Displayed as `instance/kind.local_id`, e.g. `grafana8/folder.payments`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectId {
    pub provider: String,
    pub kind: String,
    pub local_id: String,
}

impl ObjectId {
    pub fn new(provider: impl Into<String>, kind: impl Into<String>, local_id: impl Into<String>) -> ObjectId {
        ObjectId { provider: provider.into(), kind: kind.into(), local_id: local_id.into() }
    }

    /// The same provider instance's object `kind.local_id`.
    pub fn sibling(&self, reference: &LocalRef) -> ObjectId {
        ObjectId::new(&self.provider, &reference.kind, &reference.local_id)
    }

    /// The reference other objects of its instance use for it.
    pub fn local_ref(&self) -> LocalRef {
        LocalRef::new(&self.kind, &self.local_id)
    }

    /// `kind.local_id`, the form users write in `--target` and references.
    pub fn short(&self) -> String {
        format!("{}.{}", self.kind, self.local_id)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}.{}", self.provider, self.kind, self.local_id)
    }
}

/// A reference from one object to another of the same provider instance, as `kind.local_id`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LocalRef {
    pub kind: String,
    pub local_id: String,
}

impl LocalRef {
    pub fn new(kind: impl Into<String>, local_id: impl Into<String>) -> LocalRef {
        LocalRef { kind: kind.into(), local_id: local_id.into() }
    }

    /// Parses `kind.local_id`; the local id may itself contain dots.
    pub fn parse(text: &str) -> Option<LocalRef> {
        let (kind, local_id) = text.split_once('.')?;
        (!kind.is_empty() && !local_id.is_empty()).then(|| LocalRef::new(kind, local_id))
    }
}

impl fmt::Display for LocalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.local_id)
    }
}

/// The desired fields of an object, as written (without `id` and `provider`).
pub type Fields = Map<String, Value>;

/// A problem with a field of a definition, as a JSON pointer relative to the object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
    /// The field this one duplicates (a rule title used twice, say), as a pointer relative to
    /// the same object: the engine names where it was written, so that the message need not
    /// say "rule 0".
    pub duplicate_of: Option<String>,
}

impl FieldError {
    pub fn at(pointer: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { pointer: pointer.into(), message: message.into(), duplicate_of: None }
    }

    /// Names the field that `pointer` duplicates (see [`FieldError::duplicate_of`]).
    pub fn duplicating(mut self, first: impl Into<String>) -> FieldError {
        self.duplicate_of = Some(first.into());
        self
    }
}

/// An object as defined in code: its identity, its desired fields and where it was written.
#[derive(Debug, Clone)]
pub struct Definition {
    pub id: ObjectId,
    /// As compact JSON text ([`JsonText`]): a plan holds every definition, and its actions
    /// share these texts rather than copies.
    pub fields: JsonText,
    origin: Origin,
    /// The `[[use]]` sites that produced it from a template, outermost first.
    via: Vec<Location>,
    /// `protect = true`: mac refuses to delete it, even once it leaves the code.
    pub protect: bool,
    /// Its natural-key references that named no definition when loaded (see
    /// [`crate::keyrefs::link`]): left for the handler to find on the server, and checked by
    /// the planner against the objects a plan renames.
    pub(crate) literal_keys: Vec<crate::provider::KeyReference>,
}

/// A typed definition that does not serialise to a table of fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TypedError(String);

/// Where a definition came from, so that problems with any of its fields can be located.
#[derive(Debug, Clone)]
enum Origin {
    Document {
        document: Arc<Document>,
        pointer: String,
    },
    /// Built in code (library users, tests): the location is given directly.
    Code(Location),
}

impl Definition {
    /// A definition read from `document` at the table `pointer`.
    pub fn from_document(id: ObjectId, fields: Fields, document: Arc<Document>, pointer: String) -> Definition {
        Definition {
            id,
            fields: JsonText::from_map(&fields),
            origin: Origin::Document { document, pointer },
            via: Vec::new(),
            protect: false,
            literal_keys: Vec::new(),
        }
    }

    /// Records the template uses that produced this definition.
    pub fn with_via(mut self, via: Vec<Location>) -> Definition {
        self.via = via;
        self
    }

    /// The template uses that produced it, outermost first (empty when written directly).
    pub fn via(&self) -> &[Location] {
        &self.via
    }

    /// Where it was written, and through which template use: `t.toml:3:1 (used at d.toml:1:1)`.
    pub fn describe_location(&self) -> String {
        match self.via.last() {
            Some(used) => format!("{} (used at {used})", self.location()),
            None => self.location().to_string(),
        }
    }

    /// A definition built in code; `location` is what errors about it will name.
    pub fn new(id: ObjectId, fields: Fields, location: Location) -> Definition {
        Definition {
            id,
            fields: JsonText::from_map(&fields),
            origin: Origin::Code(location),
            via: Vec::new(),
            protect: false,
            literal_keys: Vec::new(),
        }
    }

    /// A definition built in code from a provider's typed definition (a kind's
    /// [`crate::Kind::Desired`]), so that a misspelt field is a compile error; `location` is
    /// what errors about it will name. Fails only for a value that is not a table.
    pub fn from_typed<T: Serialize>(id: ObjectId, typed: &T, location: Location) -> Result<Definition, TypedError> {
        match serde_json::to_value(typed) {
            Ok(Value::Object(fields)) => Ok(Definition::new(id, fields, location)),
            Ok(_) => Err(TypedError(format!("{id}: a definition must serialise to a table"))),
            Err(err) => Err(TypedError(format!("{id}: {err}"))),
        }
    }

    /// Where the object's table starts.
    pub fn location(&self) -> Location {
        self.field_location("")
    }

    /// Where a field (a JSON pointer relative to the object, e.g. `/rules/0/title`) was
    /// written, or the nearest enclosing place that was.
    pub fn field_location(&self, field_pointer: &str) -> Location {
        match &self.origin {
            Origin::Document { document, pointer } => document.location(&format!("{pointer}{field_pointer}")),
            Origin::Code(location) => location.clone(),
        }
    }

    /// A handler's [`FieldError`] about this definition, at its field, naming where
    /// the field it duplicates (if any) was written.
    pub fn field_error(&self, error: &FieldError) -> SourceError {
        match &error.duplicate_of {
            Some(first) => {
                self.error(&error.pointer, format!("{}; first used at {}", error.message, self.field_location(first)))
            }
            None => self.error(&error.pointer, error.message.clone()),
        }
    }

    /// An error about a field of this definition (naming the template use, if any).
    pub fn error(&self, field_pointer: &str, message: impl Into<String>) -> SourceError {
        let mut message = message.into();
        if let Some(used) = self.via.last() {
            message.push_str(&format!(" (in a template used at {used})"));
        }
        SourceError { location: self.field_location(field_pointer), message }
    }
}

/// An object as the remote system has it: its id there and its fields as the remote
/// returned them (a handler normalises them before any comparison).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoteObject {
    pub remote_id: String,
    /// The natural key (for example a uid derived from the local id, or a unique name) by
    /// which a desired object not yet in state can be recognised remotely: see
    /// [`crate::Handler::adoption_key`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adoption_key: Option<String>,
    /// As compact JSON text ([`JsonText`]), shared: the planner, the plan's actions and the
    /// references it resolves hold the same fields as the observation they came from, not
    /// copies, and a kind parses its typed form straight from the text.
    pub fields: JsonText,
    /// Ids the remote assigned to parts of the object (a rule group's rule uids, by rule
    /// key), when the remote will not let the client choose them. Recorded in state, and
    /// given back to the handler with the observed object, so parts keep their identity
    /// across renames and reorders.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub part_ids: BTreeMap<String, String>,
}

/// The state of one object, as the planner classifies it from (definitions, state, observed);
/// each state plans as one operation.
#[derive(Debug, Clone)]
pub enum Resource<'a> {
    /// Defined only locally: nothing in state, nothing remote. Planned as a create.
    Local(&'a Definition),
    /// Not in state, but an object with the same natural (or unique) key exists remotely.
    /// Planned as an adopt.
    Adoptable { local: &'a Definition, remote: RemoteObject },
    /// Defined and recorded in state with a remote id, but the remote object is gone
    /// (deleted by hand). Planned as a recreate.
    Mapped { local: &'a Definition, remote_id: String },
    /// Defined, recorded in state and present remotely. Planned as an update or no-op.
    Synced { local: &'a Definition, remote: RemoteObject },
    /// Recorded in state but no longer defined. Planned as a delete when the remote object
    /// still exists, otherwise forgotten.
    Obsolete { id: ObjectId, remote_id: String, remote: Option<RemoteObject> },
}
