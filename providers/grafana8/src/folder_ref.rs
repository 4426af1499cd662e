//! `folder = "local-id"` or `folder = { uid = "…" }`: how alert groups, dashboards and folder
//! permissions name their folder — one defined here (a dependency), or one that is not.

use mac_core::{Fields, LocalRef};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

/// The folder a definition names: `folder = "local-id"` or `folder = { uid = "…" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderRef {
    /// A folder defined in this project, by its local id.
    Local(String),
    /// A folder mac does not manage, by its uid.
    Uid(String),
}

/// What a `folder` field that is neither form gets told.
pub const FOLDER_FORMS: &str =
    "`folder` must be the id of a folder defined here, or { uid = \"…\" } of one that is not";

impl FolderRef {
    /// A non-empty local id, or a table with only a valid `uid`; `None` for anything else.
    pub fn from_value(value: &Value) -> Option<FolderRef> {
        match value {
            Value::String(local_id) if !local_id.is_empty() => Some(FolderRef::Local(local_id.clone())),
            Value::Object(table) if table.len() == 1 => table
                .get("uid")
                .and_then(Value::as_str)
                .filter(|uid| crate::folder::valid_uid(uid))
                .map(|uid| FolderRef::Uid(uid.to_owned())),
            _ => None,
        }
    }

    /// The dependency on a folder defined here, for `Kind::references`.
    pub fn references(folder: Option<&FolderRef>) -> Vec<(String, LocalRef)> {
        match folder {
            Some(FolderRef::Local(local_id)) => vec![("/folder".to_owned(), LocalRef::new("folder", local_id))],
            _ => Vec::new(),
        }
    }

    /// Deserialises a `folder` field, refusing other forms with `message`.
    pub fn deserialize_or<'de, D: Deserializer<'de>>(deserializer: D, message: &str) -> Result<FolderRef, D::Error> {
        let value = Value::deserialize(deserializer)?;
        FolderRef::from_value(&value).ok_or_else(|| serde::de::Error::custom(message))
    }
}

impl Serialize for FolderRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FolderRef::Local(local_id) => serializer.serialize_str(local_id),
            FolderRef::Uid(uid) => json!({ "uid": uid }).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for FolderRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FolderRef, D::Error> {
        FolderRef::deserialize_or(deserializer, FOLDER_FORMS)
    }
}

/// The folder a definition names; `None` when it names none (or not in either form).
pub fn folder_of(fields: &Fields) -> Option<FolderRef> {
    match fields.get("folder")? {
        Value::String(local_id) => Some(FolderRef::Local(local_id.clone())),
        Value::Object(table) => table.get("uid").and_then(Value::as_str).map(|uid| FolderRef::Uid(uid.to_owned())),
        _ => None,
    }
}

/// The dependency on a folder defined here, for `Handler::references`.
pub fn folder_references(fields: &Fields) -> Vec<(String, LocalRef)> {
    match folder_of(fields) {
        Some(FolderRef::Local(local_id)) => vec![("/folder".to_owned(), LocalRef::new("folder", local_id))],
        _ => Vec::new(),
    }
}
