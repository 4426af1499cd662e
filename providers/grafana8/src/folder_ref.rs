//! `folder = "local-id"` or `folder = { uid = "…" }`: how alert groups, dashboards and folder
//! permissions name their folder — one defined here (a dependency), or one that is not.

use mac_core::{Fields, LocalRef};
use serde_json::Value;

pub enum FolderRef {
    /// A folder defined in this project, by its local id.
    Local(String),
    /// A folder mac does not manage, by its uid.
    Uid(String),
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
