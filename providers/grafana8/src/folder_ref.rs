//! `folder = "local-id"` or `folder = { uid = "…" }`: how alert groups, dashboards and folder
//! permissions name their folder — one defined here (a dependency), or one that is not.

use mac_core::LocalRef;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The folder a definition names: one defined in this project, or one by its uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderRef {
    /// A folder defined in this project, by its local id.
    Local(String),
    /// A folder mac does not manage, by its uid.
    Uid(String),
}

/// The message of a `folder` that is neither form.
pub const FOLDER_FORMS: &str =
    "`folder` must be the id of a folder defined here, or { uid = \"…\" } of one that is not";

/// What a `folder` field that is neither form is told (the same words as [`FOLDER_FORMS`]).
pub const FOLDER_EXPECTED: &str = FOLDER_FORMS;

impl FolderRef {
    /// The dependency on a folder defined here, for `Kind::references`.
    pub fn references(&self) -> Vec<(String, LocalRef)> {
        folder_reference(self)
    }

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

    /// Deserialises a `folder` field strictly ([`FolderRef::from_value`]), refusing other
    /// forms with `message`.
    pub fn deserialize_or<'de, D: Deserializer<'de>>(deserializer: D, message: &str) -> Result<FolderRef, D::Error> {
        let value = Value::deserialize(deserializer)?;
        FolderRef::from_value(&value).ok_or_else(|| serde::de::Error::custom(message))
    }
}

/// The two forms [`FolderRef`]'s `Deserialize` takes.
impl schemars::JsonSchema for FolderRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FolderRef".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                { "description": "The local id of a folder defined here.", "type": "string", "minLength": 1 },
                {
                    "description": "A folder mac does not manage: { uid = \"…\" }.",
                    "type": "object",
                    "properties": { "uid": { "description": "The folder's uid.", "type": "string", "minLength": 1 } },
                    "required": ["uid"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

impl Serialize for FolderRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FolderRef::Local(local_id) => serializer.serialize_str(local_id),
            FolderRef::Uid(uid) => {
                use serde::ser::SerializeMap;
                let mut table = serializer.serialize_map(Some(1))?;
                table.serialize_entry("uid", uid)?;
                table.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for FolderRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(local_id) => Ok(FolderRef::Local(local_id)),
            Value::Object(table) if table.len() == 1 => match table.get("uid") {
                Some(Value::String(uid)) => Ok(FolderRef::Uid(uid.clone())),
                _ => Err(serde::de::Error::custom(FOLDER_FORMS)),
            },
            _ => Err(serde::de::Error::custom(FOLDER_FORMS)),
        }
    }
}

/// [`folder_references`] of a typed folder.
pub fn folder_reference(folder: &FolderRef) -> Vec<(String, LocalRef)> {
    match folder {
        FolderRef::Local(local_id) => vec![("/folder".to_owned(), LocalRef::new("folder", local_id))],
        FolderRef::Uid(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_folder_is_a_local_id_or_a_uid_table() {
        let local: FolderRef = serde_json::from_value(json!("payments")).expect("local");
        assert_eq!(local, FolderRef::Local("payments".into()));
        let uid: FolderRef = serde_json::from_value(json!({ "uid": "abc" })).expect("uid");
        assert_eq!(serde_json::to_value(&uid).expect("serialised"), json!({ "uid": "abc" }));
        for other in [json!({ "uid": "abc", "title": "x" }), json!({ "title": "x" }), json!(1)] {
            let error = serde_json::from_value::<FolderRef>(other).expect_err("neither form");
            assert_eq!(error.to_string(), FOLDER_EXPECTED);
        }
    }
}
