//! Generic references to another object's server-computed fields:
//! `datasource = { ref = "datasource.prometheus", field = "uid" }`.
//!
//! A reference adds a dependency edge. At plan time it resolves to the referenced object's
//! observed field, or to [`KNOWN_AFTER_APPLY`] when that object is still to be created; at
//! apply time, to the field of the object as its own write returned it.

use serde_json::{Map, Value};

use crate::json_text::JsonText;
use crate::object::{Fields, LocalRef};
use crate::provider::{FieldError, KNOWN_AFTER_APPLY, Resolved, Resolver};
use crate::source::push_pointer;

/// One `{ ref = …, field = … }` inside a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// Where it stands in the object.
    pub pointer: String,
    pub target: LocalRef,
    /// The referenced object's remote field; `None` means its remote id.
    pub field: Option<String>,
}

/// [`find_refs`] of fields kept as text: no tree is built for the text of fields that name
/// no `ref` key, most of them.
pub fn find_refs_in(fields: &JsonText) -> Result<Vec<FieldRef>, FieldError> {
    if !fields.may_have_key("ref") {
        return Ok(Vec::new());
    }
    find_refs(&fields.to_map())
}

/// Finds every generic reference in `fields`. A table with a `ref` key and at most a `field`
/// key besides is a reference; a malformed one is an error.
pub fn find_refs(fields: &Fields) -> Result<Vec<FieldRef>, FieldError> {
    let mut found = Vec::new();
    let mut path = Vec::new();
    for (key, value) in fields {
        path.push(Segment::Key(key));
        collect(value, &mut path, &mut found)?;
        path.pop();
    }
    Ok(found)
}

/// One step of the path to a value, kept while walking: a pointer is written out only for a
/// reference found, not for every value of every definition.
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn pointer_of(path: &[Segment<'_>]) -> String {
    path.iter().fold(String::new(), |pointer, segment| match segment {
        Segment::Key(key) => push_pointer(&pointer, key),
        Segment::Index(index) => push_pointer(&pointer, &index.to_string()),
    })
}

fn collect<'a>(value: &'a Value, path: &mut Vec<Segment<'a>>, found: &mut Vec<FieldRef>) -> Result<(), FieldError> {
    match value {
        Value::Object(map) if map.contains_key("ref") => found.push(parse_ref(map, &pointer_of(path))?),
        Value::Object(map) => {
            for (key, child) in map {
                path.push(Segment::Key(key));
                collect(child, path, found)?;
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                path.push(Segment::Index(index));
                collect(item, path, found)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

fn parse_ref(map: &Map<String, Value>, pointer: &str) -> Result<FieldRef, FieldError> {
    if let Some(extra) = map.keys().find(|key| *key != "ref" && *key != "field") {
        return Err(FieldError::at(
            push_pointer(pointer, extra),
            format!("unknown key `{extra}` in a reference (expected `ref` and optionally `field`)"),
        ));
    }
    let target = map.get("ref").and_then(Value::as_str).and_then(LocalRef::parse).ok_or_else(|| {
        FieldError::at(push_pointer(pointer, "ref"), "`ref` must be a string of the form \"kind.id\"")
    })?;
    let field = match map.get("field") {
        None => None,
        Some(Value::String(field)) => Some(field.clone()),
        Some(_) => return Err(FieldError::at(push_pointer(pointer, "field"), "`field` must be a string")),
    };
    Ok(FieldRef { pointer: pointer.to_owned(), target, field })
}

/// Errors when a reference cannot be resolved now (its target is unknown, or its field
/// is missing from the remote object).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{pointer}: reference to `{target}`, which is not defined")]
    Undefined { pointer: String, target: LocalRef },
    #[error("{pointer}: `{target}` has no remote field `{field}`")]
    MissingField { pointer: String, target: LocalRef, field: String },
}

impl ResolveError {
    /// The field holding the reference.
    pub fn pointer(&self) -> &str {
        match self {
            ResolveError::Undefined { pointer, .. } | ResolveError::MissingField { pointer, .. } => pointer,
        }
    }
}

/// [`substitute`] of fields kept as text: fields without references are shared, not copied.
pub fn substitute_in(fields: &JsonText, refs: &dyn Resolver) -> Result<JsonText, ResolveError> {
    if find_refs_in(fields).map_or(true, |found| found.is_empty()) {
        return Ok(fields.clone());
    }
    substitute(&fields.to_map(), refs).map(|substituted| JsonText::from_map(&substituted))
}

/// Replaces every reference in `fields` with its value.
pub fn substitute(fields: &Fields, refs: &dyn Resolver) -> Result<Fields, ResolveError> {
    let Ok(found) = find_refs(fields) else {
        // Malformed references were rejected at load time; leave such fields untouched.
        return Ok(fields.clone());
    };
    if found.is_empty() {
        return Ok(fields.clone());
    }
    let mut value = Value::Object(fields.clone());
    for reference in found {
        let resolved = match refs.resolve(&reference.target) {
            None => {
                return Err(ResolveError::Undefined { pointer: reference.pointer, target: reference.target });
            }
            Some(Resolved::Pending) => Value::String(KNOWN_AFTER_APPLY.to_owned()),
            Some(Resolved::Known(remote)) => match &reference.field {
                None => Value::String(remote.remote_id.clone()),
                Some(field) => match remote.fields.to_map().remove(field) {
                    Some(found) => found,
                    None => {
                        return Err(ResolveError::MissingField {
                            pointer: reference.pointer,
                            target: reference.target,
                            field: field.clone(),
                        });
                    }
                },
            },
        };
        if let Some(slot) = value.pointer_mut(&reference.pointer) {
            *slot = resolved;
        }
    }
    match value {
        Value::Object(map) => Ok(map),
        _ => Ok(fields.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::RemoteObject;
    use serde_json::json;

    struct OneKnown(RemoteObject);
    impl Resolver for OneKnown {
        fn resolve(&self, reference: &LocalRef) -> Option<Resolved<'_>> {
            match reference.local_id.as_str() {
                "known" => Some(Resolved::Known(&self.0)),
                "pending" => Some(Resolved::Pending),
                _ => None,
            }
        }
    }

    fn fields(value: Value) -> Fields {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn references_resolve_to_remote_fields_ids_or_placeholders() {
        let resolver = OneKnown(RemoteObject {
            remote_id: "r-1".into(),
            fields: json!({"uid": "u-1"}).into(),
            ..RemoteObject::default()
        });
        let input = fields(json!({
            "a": {"ref": "ds.known", "field": "uid"},
            "b": [{"x": {"ref": "ds.known"}}],
            "c": {"ref": "ds.pending", "field": "uid"},
        }));
        let output = substitute(&input, &resolver).expect("resolves");
        assert_eq!(Value::Object(output), json!({"a": "u-1", "b": [{"x": "r-1"}], "c": KNOWN_AFTER_APPLY}));
    }

    #[test]
    fn malformed_and_dangling_references_are_errors() {
        let err = find_refs(&fields(json!({"a": {"ref": "nodot"}}))).expect_err("malformed");
        assert_eq!(err.pointer, "/a/ref");
        let err = find_refs(&fields(json!({"a": {"ref": "k.i", "extra": 1}}))).expect_err("extra key");
        assert_eq!(err.pointer, "/a/extra");
        let resolver =
            OneKnown(RemoteObject { remote_id: "r".into(), fields: json!({}).into(), ..RemoteObject::default() });
        let err = substitute(&fields(json!({"a": {"ref": "k.gone"}})), &resolver).expect_err("dangling");
        assert_eq!(err.to_string(), "/a: reference to `k.gone`, which is not defined");
        let err = substitute(&fields(json!({"a": {"ref": "k.known", "field": "nope"}})), &resolver).expect_err("field");
        assert!(matches!(err, ResolveError::MissingField { .. }));
    }
}
