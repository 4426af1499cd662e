//! Decoding a request body as Go's encoding/json decodes it into a struct: a key names the
//! field it equals without regard to ASCII case, every matching key is decoded in turn (the
//! last one wins), and a value of the wrong JSON type fails the whole decoding (which the
//! handlers answer as the binding failure it is in Grafana).

use serde_json::{Map, Value};

/// The values of `obj` for the struct field whose JSON name is `name`, in document order.
pub(crate) fn go_field<'a>(obj: &'a Map<String, Value>, name: &str) -> impl Iterator<Item = &'a Value> {
    obj.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Decodes every value of the field `name` with `one`; the last result is kept. `None` is
/// a field left nil (absent, or `null`).
pub(crate) fn decode_each<T>(
    obj: &Map<String, Value>,
    name: &str,
    mut one: impl FnMut(&Value) -> Result<Option<T>, ()>,
) -> Result<Option<T>, ()> {
    let mut out = None;
    for v in go_field(obj, name) {
        out = one(v)?;
    }
    Ok(out)
}

/// A `string` (or `*string`).
pub(crate) fn opt_string(v: &Value) -> Result<Option<String>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(()),
    }
}

/// A `bool` (or `*bool`).
pub(crate) fn opt_bool(v: &Value) -> Result<Option<bool>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        _ => Err(()),
    }
}

/// An `int64`: an integer literal in range (a fraction or an exponent fails `ParseInt`).
pub(crate) fn opt_i64(v: &Value) -> Result<Option<i64>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or(()),
        _ => Err(()),
    }
}

/// A `[]string`: `null` is a nil slice, and a `null` element an empty string.
pub(crate) fn opt_strings(v: &Value) -> Result<Option<Vec<String>>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|x| match x {
                Value::Null => Ok(String::new()),
                Value::String(s) => Ok(s.clone()),
                _ => Err(()),
            })
            .collect::<Result<Vec<_>, ()>>()
            .map(Some),
        _ => Err(()),
    }
}

/// The top level of a body bound into a struct: `null` (or an empty body) leaves every field
/// as it is; anything but an object fails.
pub(crate) fn object(body: &Value) -> Result<Map<String, Value>, ()> {
    match body {
        Value::Null => Ok(Map::new()),
        Value::Object(o) => Ok(o.clone()),
        _ => Err(()),
    }
}
