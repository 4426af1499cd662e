//! Checks and normalisations several kinds share: validation of plain fields, and the
//! handling of "secure" keys that Grafana stores but never returns.

use mac_core::FieldError;
use serde_json::{Map, Value, json};

/// Reports every key of `table` (at `pointer`) not in `known`.
pub fn unknown_keys(table: &Map<String, Value>, pointer: &str, known: &[&str], errors: &mut Vec<FieldError>) {
    for key in table.keys().filter(|key| !known.contains(&key.as_str())) {
        errors.push(FieldError::at(
            format!("{pointer}/{key}"),
            format!("unknown field `{key}`, expected one of {}", known.join(", ")),
        ));
    }
}

/// Reports each of `required` that is missing or not a non-empty string.
pub fn required_strings(fields: &Map<String, Value>, required: &[&str], errors: &mut Vec<FieldError>) {
    for field in required {
        if fields.get(*field).and_then(Value::as_str).is_none_or(|value| value.trim().is_empty()) {
            errors.push(FieldError::at(format!("/{field}"), format!("`{field}` is required (a non-empty string)")));
        }
    }
}

/// Reports each of `names` that is present but of the wrong type.
pub fn typed(
    fields: &Map<String, Value>,
    strings: &[&str],
    bools: &[&str],
    tables: &[&str],
    errors: &mut Vec<FieldError>,
) {
    for field in strings {
        if fields.get(*field).is_some_and(|value| !value.is_string()) {
            errors.push(FieldError::at(format!("/{field}"), format!("`{field}` must be a string")));
        }
    }
    for field in bools {
        if fields.get(*field).is_some_and(|value| !value.is_boolean()) {
            errors.push(FieldError::at(format!("/{field}"), format!("`{field}` must be true or false")));
        }
    }
    for field in tables {
        if fields.get(*field).is_some_and(|value| !value.is_object()) {
            errors.push(FieldError::at(format!("/{field}"), format!("`{field}` must be a table")));
        }
    }
}

/// Reports a `uid` that Grafana would refuse (pkg/util/shortid_generator.go).
pub fn uid(fields: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    if let Some(uid) = fields.get("uid")
        && !uid.as_str().is_some_and(crate::folder::valid_uid)
    {
        errors.push(FieldError::at("/uid", "a uid has 1 to 40 characters from a-z, A-Z, 0-9, `-` and `_`"));
    }
}

/// The keys a definition's secure table sets (`secure_json_data`, `secure_settings`).
pub fn defined_secret_keys(table: Option<&Value>) -> Value {
    json!(table.and_then(Value::as_object).map(|map| map.keys().collect::<Vec<_>>()).unwrap_or_default())
}

/// The keys Grafana reports as stored (`secureJsonFields`, `secureFields`: key → true).
pub fn stored_secret_keys(table: Option<&Value>) -> Value {
    let keys: Vec<&String> = table
        .and_then(Value::as_object)
        .map(|map| map.iter().filter(|(_, set)| set.as_bool() == Some(true)).map(|(key, _)| key).collect())
        .unwrap_or_default();
    json!(keys)
}

/// Narrows the observed secret keys at `key` to those the desired object sets, and drops the
/// uid unless the definition names one: Grafana keeps stored secrets a write does not
/// mention, and an adopted object keeps the uid Grafana gave it.
pub fn observed_against(mut observed: Value, desired: &Value, key: &str) -> Value {
    if let Value::Object(map) = &mut observed {
        if desired.get("uid").is_none() {
            map.remove("uid");
        }
        let wanted: Vec<&str> =
            desired.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        if let Some(Value::Array(present)) = map.get_mut(key) {
            present.retain(|stored| stored.as_str().is_some_and(|stored| wanted.contains(&stored)));
        }
    }
    observed
}
