//! Secrets inside definitions (a data source password, a channel token): fields a handler
//! declares secret hold only references, `{ env = "VAR" }` or `{ file = "path" }`.
//!
//! The planner never sees a value: the caller digests each secret with the state's salt
//! ([`digest_definitions`]) and the planner compares digests with those recorded at the last
//! apply, so a changed value is one `(sensitive)` change and an unchanged one no change. The
//! executor reveals values only to the handler's write ([`reveal`]) and records new digests.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::json_text::JsonText;
use crate::object::{Definition, Fields, ObjectId};
use crate::provider::{FieldError, Providers};
use crate::secret::{SecretError, SecretRef};
use crate::source::{SourceError, push_pointer};

/// What a plan shows instead of a secret value.
pub const SENSITIVE: &str = "(sensitive)";
/// What a plan shows for a secret whose value changed.
pub const SENSITIVE_CHANGED: &str = "(sensitive, changed)";

/// Digests of the current secret values, by object and field pointer.
pub type SecretDigests = BTreeMap<ObjectId, BTreeMap<String, String>>;

/// Whether `pointer` (e.g. `/secure_json_data/password`) matches `pattern`, where a `*`
/// segment matches any one segment.
fn matches(pattern: &str, pointer: &str) -> bool {
    pattern.split('/').count() == pointer.split('/').count() && covers(pattern, pointer)
}

/// Whether `pointer` is a secret field of `pattern` or inside one: where a message about the
/// value could quote the secret.
pub(crate) fn covers(pattern: &str, pointer: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let pointer: Vec<&str> = pointer.split('/').collect();
    pointer.len() >= pattern.len() && pattern.iter().zip(&pointer).all(|(want, have)| *want == "*" || want == have)
}

/// Every value in `fields` at a secret path, with its pointer.
fn secret_values<'a>(fields: &'a Fields, patterns: &[&str]) -> Vec<(String, &'a Value)> {
    fn walk<'a>(value: &'a Value, pointer: String, patterns: &[&str], found: &mut Vec<(String, &'a Value)>) {
        if patterns.iter().any(|pattern| matches(pattern, &pointer)) {
            found.push((pointer, value));
            return;
        }
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    walk(child, push_pointer(&pointer, key), patterns, found);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    walk(child, push_pointer(&pointer, &index.to_string()), patterns, found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    if patterns.is_empty() {
        return found;
    }
    for (key, value) in fields {
        walk(value, push_pointer("", key), patterns, &mut found);
    }
    found
}

/// [`secret_refs`] of fields kept as text: a kind without secret fields parses nothing.
pub fn secret_refs_in(fields: &JsonText, patterns: &[&str]) -> Result<Vec<(String, SecretRef)>, FieldError> {
    if patterns.is_empty() {
        return Ok(Vec::new());
    }
    secret_refs(&fields.to_map(), patterns)
}

/// The secret references in `fields`; a secret written inline is an error at its field.
pub fn secret_refs(fields: &Fields, patterns: &[&str]) -> Result<Vec<(String, SecretRef)>, FieldError> {
    secret_values(fields, patterns)
        .into_iter()
        .map(|(pointer, value)| {
            serde_json::from_value::<SecretRef>(value.clone())
                .map(|reference| (pointer.clone(), reference))
                .map_err(|err| FieldError::at(pointer, err.to_string()))
        })
        .collect()
}

/// A salted digest of a secret value: equal values give equal digests within one state, and
/// the state file reveals nothing usable about the value.
pub fn digest(salt: &str, value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0]);
    hasher.update(value.as_bytes());
    let bytes = hasher.finalize();
    format!("sha256:{}", bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

/// Reads and digests every secret of every definition. An unreadable secret (a variable not
/// set, a missing file) is an error at its definition's field, naming only the reference.
///
/// A kind whose secrets the remote takes on create only ([`crate::Handler::secrets_on_create_only`],
/// a user's initial password) needs them only for an object not yet managed (`managed` says
/// which are): for the others they are neither read nor compared, so that an imported user
/// needs no variable set for a password nobody will write. A re-create reads it at write time.
pub fn digest_definitions(
    definitions: &[Definition],
    providers: &Providers,
    salt: &str,
    root: &Path,
    managed: &dyn Fn(&crate::ObjectId) -> bool,
) -> Result<SecretDigests, Vec<SourceError>> {
    let mut digests = SecretDigests::new();
    let mut problems = Vec::new();
    for definition in definitions {
        let Some(handler) = providers.handler(&definition.id.provider, &definition.id.kind) else { continue };
        if handler.secrets_on_create_only() && managed(&definition.id) {
            continue;
        }
        let patterns = handler.secret_fields();
        let references = match secret_refs_in(&definition.fields, &patterns) {
            Ok(references) => references,
            Err(error) => {
                problems.push(definition.error(&error.pointer, error.message));
                continue;
            }
        };
        for (pointer, reference) in references {
            match reference.resolve(root) {
                Ok(secret) => {
                    digests.entry(definition.id.clone()).or_default().insert(pointer, digest(salt, secret.expose()));
                }
                Err(error) => problems.push(definition.error(&pointer, error.to_string())),
            }
        }
    }
    if problems.is_empty() { Ok(digests) } else { Err(problems) }
}

/// `fields` without their secrets, for comparisons.
pub fn strip(fields: &Fields, patterns: &[&str]) -> Fields {
    let pointers: Vec<String> = secret_values(fields, patterns).into_iter().map(|(pointer, _)| pointer).collect();
    if pointers.is_empty() {
        return fields.clone();
    }
    let mut value = Value::Object(fields.clone());
    for pointer in pointers {
        let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", &pointer));
        if let Some(Value::Object(map)) = value.pointer_mut(parent) {
            map.remove(&key.replace("~1", "/").replace("~0", "~"));
        }
    }
    match value {
        Value::Object(map) => map,
        _ => fields.clone(),
    }
}

/// [`reveal`] of fields kept as text: those of a kind without secret fields are handed back
/// as they are.
pub fn reveal_in(
    fields: JsonText,
    patterns: &[&str],
    salt: &str,
    root: &Path,
) -> Result<(JsonText, BTreeMap<String, String>), SecretError> {
    if patterns.is_empty() {
        return Ok((fields, BTreeMap::new()));
    }
    let (revealed, digests) = reveal(fields.to_map(), patterns, salt, root)?;
    Ok((JsonText::from_map(&revealed), digests))
}

/// `fields` with every secret reference replaced by its value, for the handler's write, and
/// the digests of those values. Taken by value: fields without secrets, most of them, are
/// handed back as they are, not copied.
pub fn reveal(
    fields: Fields,
    patterns: &[&str],
    salt: &str,
    root: &Path,
) -> Result<(Fields, BTreeMap<String, String>), SecretError> {
    let references = secret_refs(&fields, patterns).unwrap_or_default();
    if references.is_empty() {
        return Ok((fields, BTreeMap::new()));
    }
    let mut value = Value::Object(fields);
    let mut digests = BTreeMap::new();
    for (pointer, reference) in references {
        let secret = reference.resolve(root)?;
        digests.insert(pointer.clone(), digest(salt, secret.expose()));
        if let Some(slot) = value.pointer_mut(&pointer) {
            *slot = Value::String(secret.expose().to_owned());
        }
    }
    match value {
        Value::Object(map) => Ok((map, digests)),
        // Never: a secret's pointer names a field, not the whole object.
        _ => Ok((Fields::new(), digests)),
    }
}

/// The readable path of a pointer, as diffs show it (`secure_json_data.password`).
pub fn readable(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Fields {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn secrets_are_found_by_pattern_and_must_be_references() {
        let input = fields(json!({ "name": "db", "secure_json_data": { "password": { "env": "DB_PASSWORD" } } }));
        let found = secret_refs(&input, &["/secure_json_data/*"]).expect("references");
        assert_eq!(
            found,
            vec![("/secure_json_data/password".to_owned(), SecretRef::Env { env: "DB_PASSWORD".into() })]
        );
        let inline = fields(json!({ "secure_json_data": { "password": "hunter2" } }));
        let err = secret_refs(&inline, &["/secure_json_data/*"]).expect_err("inline");
        assert_eq!(err.pointer, "/secure_json_data/password");
        let listed =
            fields(json!({ "integrations": [{ "type": "slack", "secure_settings": { "url": { "file": "hook" } } }] }));
        let found = secret_refs(&listed, &["/integrations/*/secure_settings/*"]).expect("references");
        assert_eq!(found[0].0, "/integrations/0/secure_settings/url");
        // Outside secret paths, an `{ env = … }` table is ordinary data.
        assert!(
            secret_refs(&fields(json!({ "model": { "env": "prod" } })), &["/secure_json_data/*"])
                .expect("none")
                .is_empty()
        );
    }

    #[test]
    fn strip_and_reveal() {
        let input =
            fields(json!({ "name": "db", "secure_json_data": { "password": { "env": "MAC_TEST_SECRET_REVEAL" } } }));
        assert_eq!(
            Value::Object(strip(&input, &["/secure_json_data/*"])),
            json!({ "name": "db", "secure_json_data": {} })
        );
        // No test sets this variable.
        let err = reveal(input.clone(), &["/secure_json_data/*"], "salt", Path::new(".")).expect_err("unset");
        assert!(err.to_string().contains("MAC_TEST_SECRET_REVEAL"));

        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("db-password"), "hunter2").expect("write the secret");
        let input = fields(json!({ "name": "db", "secure_json_data": { "password": { "file": "db-password" } } }));
        let (revealed, digests) = reveal(input, &["/secure_json_data/*"], "salt", dir.path()).expect("revealed");
        assert_eq!(Value::Object(revealed), json!({ "name": "db", "secure_json_data": { "password": "hunter2" } }));
        assert_eq!(digests, BTreeMap::from([("/secure_json_data/password".to_owned(), digest("salt", "hunter2"))]));
    }

    #[test]
    fn digests_are_salted() {
        assert_eq!(digest("a", "x"), digest("a", "x"));
        assert_ne!(digest("a", "x"), digest("b", "x"));
        assert_ne!(digest("a", "x"), digest("a", "y"));
        assert_eq!(readable("/secure_json_data/password"), "secure_json_data.password");
    }
}
