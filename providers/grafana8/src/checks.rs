//! Checks and normalisations several kinds share: validation of plain fields, and the
//! handling of "secure" keys that Grafana stores but never returns.

use std::fmt;

use mac_core::{FieldError, SecretRef};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

/// Reports each of `(field, value)` that is present but empty (or only blanks).
pub fn non_empty(required: &[(&str, &str)], errors: &mut Vec<FieldError>) {
    for (field, value) in required {
        if value.trim().is_empty() {
            errors.push(FieldError::at(format!("/{field}"), format!("`{field}` is required (a non-empty string)")));
        }
    }
}

/// Reports a `uid` that Grafana would refuse (pkg/util/shortid_generator.go).
pub fn valid_uid(uid: Option<&str>, errors: &mut Vec<FieldError>) {
    if let Some(uid) = uid
        && !crate::folder::valid_uid(uid)
    {
        errors.push(FieldError::at("/uid", "a uid has 1 to 40 characters from a-z, A-Z, 0-9, `-` and `_`"));
    }
}

/// `{}`: what mac writes for a table the definition leaves out, and Grafana's default.
pub fn empty_table() -> Value {
    Value::Object(Map::new())
}

/// A secret field's value: a reference as a definition writes it, or the value the engine
/// revealed for a write. Its `Debug` never shows a value.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SecretField {
    /// Where the secret comes from: `{ env = "VAR" }` or `{ file = "path" }`.
    Reference(SecretRef),
    /// The value itself, as a write receives it (a definition never holds one: the loader
    /// refuses a secret written inline).
    Revealed(String),
}

impl SecretField {
    /// A secret read from the environment variable `variable`.
    pub fn env(variable: impl Into<String>) -> SecretField {
        SecretField::Reference(SecretRef::Env { env: variable.into() })
    }
}

impl fmt::Debug for SecretField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretField::Reference(reference) => reference.fmt(f),
            SecretField::Revealed(_) => f.write_str("SecretField(revealed)"),
        }
    }
}

/// A definition gives a secret as a reference only (the loader refuses one written inline).
impl schemars::JsonSchema for SecretField {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        SecretRef::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        SecretRef::json_schema(generator)
    }
}

impl<'de> Deserialize<'de> for SecretField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SecretField, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(revealed) => Ok(SecretField::Revealed(revealed)),
            other => SecretRef::deserialize(other).map(SecretField::Reference).map_err(serde::de::Error::custom),
        }
    }
}

/// `secureJsonFields` / `secureFields` (key → true when a value is stored) as the keys that
/// are stored, in the answer's order; written back as the same table.
pub mod stored_keys {
    use super::*;

    /// The stored keys of the table.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
        let table: Option<Map<String, Value>> = Option::deserialize(deserializer)?;
        Ok(table.into_iter().flatten().filter(|(_, set)| set.as_bool() == Some(true)).map(|(key, _)| key).collect())
    }

    /// The table of the stored keys.
    pub fn serialize<S: Serializer>(keys: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        let table: Map<String, Value> = keys.iter().map(|key| (key.clone(), Value::Bool(true))).collect();
        table.serialize(serializer)
    }
}

/// `{ KEY = { env = "VAR" } }` for each stored secret key (Grafana never returns values).
pub fn secret_placeholders(keys: &[String], parts: &[&str]) -> Option<Value> {
    let table: Map<String, Value> = keys
        .iter()
        .map(|key| {
            let mut named = parts.to_vec();
            named.push(key);
            (key.clone(), json!({ "env": crate::secret_variable(&named) }))
        })
        .collect();
    (!table.is_empty()).then_some(Value::Object(table))
}

/// An imported definition of a kind whose secrets Grafana keeps write-only (data sources,
/// channels): its fields, with `{ env = … }` placeholders at `secret_field` for the stored
/// keys (Grafana never returns the values; the user sets them), one file per kind.
pub fn imported_with_secrets(
    definition: impl serde::Serialize,
    secret_field: &str,
    stored_keys: &[String],
    placeholder_parts: &[&str],
    name: &str,
    file: &str,
) -> Option<mac_core::ImportedFields> {
    let Ok(Value::Object(mut fields)) = serde_json::to_value(definition) else { return None };
    if let Some(secrets) = secret_placeholders(stored_keys, placeholder_parts) {
        fields.insert(secret_field.to_owned(), secrets);
    }
    Some(mac_core::ImportedFields {
        local_id: crate::slug(name),
        fields,
        file: file.to_owned(),
        scope: None,
        part_ids: Default::default(),
    })
}

/// The secret keys a definition sets, as its comparable form lists them (`None`: none).
pub fn desired_secret_keys<V>(secrets: Option<&std::collections::BTreeMap<String, V>>) -> Option<Vec<String>> {
    let keys: Vec<String> = secrets.into_iter().flat_map(|secrets| secrets.keys().cloned()).collect();
    (!keys.is_empty()).then_some(keys)
}

/// The stored secret keys a comparison shows: those the definition sets (`wanted`), since
/// Grafana keeps stored secrets a write does not mention; `None` (the default) when none.
pub fn compared_secret_keys(stored: &[String], wanted: &[String]) -> Option<Vec<String>> {
    let kept: Vec<String> = stored.iter().filter(|key| wanted.contains(key)).cloned().collect();
    (!kept.is_empty()).then_some(kept)
}

/// A 403 on a server-admin route is the credential not being a server admin (pkg/api/api.go
/// `reqGrafanaAdmin`; pkg/middleware/auth.go answers `Permission denied`): said so, with what
/// to use instead. `what` is the kind in plural (`users`).
pub(crate) fn needs_server_admin(what: &str, err: mac_core::HandlerError) -> mac_core::HandlerError {
    if err.kind != mac_core::HandlerErrorKind::Unauthorized {
        return err;
    }
    mac_core::HandlerError::new(
        mac_core::HandlerErrorKind::Unauthorized,
        format!(
            "grafana8 {what} need a Grafana server admin, and these credentials are not one ({}); use basic = {{ user = \"…\", password = {{ env = \"…\" }} }} of a server admin: API keys and service accounts never are one in Grafana 8.5",
            err.message
        ),
    )
}
