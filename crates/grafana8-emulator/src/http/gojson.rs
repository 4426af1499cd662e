//! Go's `encoding/json` decoding and `mime.ParseMediaType`, as `web.Bind` (pkg/web/binding.go)
//! applies them in Grafana v8.5.4, which is built with Go 1.17:
//!
//! * the body's first JSON value is decoded and whatever follows it is never read
//!   (`json.NewDecoder(req.Body).Decode(v)`), except that a scalar must end at whitespace;
//! * invalid UTF-8 bytes and unpaired surrogate escapes in strings become U+FFFD, one per byte;
//! * a key goes to the field of that exact name, else to the first field equal to it under
//!   Unicode simple case folding; a repeated key is decoded again, so the last one wins;
//! * `null` leaves a string, number or bool field as it was and empties a pointer, map, slice
//!   or interface field.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::fmt;

/// What a field of the Go command struct is, as far as decoding cares.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Field {
    /// A string, number or bool (or a struct): `null` is a no-op.
    Plain,
    /// A pointer, map, slice or interface, or a type with its own `UnmarshalJSON`: `null` is
    /// handed to the Rust type (an `Option` reads it as `None`).
    Nullable,
    /// A slice of structs with these fields; a `null` element is a zero struct.
    Structs(&'static [(&'static str, Field)]),
    /// A slice of pointers to structs with these fields; a `null` element is a nil pointer,
    /// handed to the Rust type as `null`.
    StructPointers(&'static [(&'static str, Field)]),
}

/// A JSON value with its objects' keys in document order, repeats included.
enum GoJson {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<GoJson>),
    Object(Vec<(String, GoJson)>),
}

impl<'de> Deserialize<'de> for GoJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<GoJson, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GoJson;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<GoJson, E> {
                Ok(GoJson::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<GoJson, E> {
                Ok(GoJson::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<GoJson, E> {
                Ok(GoJson::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<GoJson, E> {
                Ok(GoJson::Number(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<GoJson, E> {
                Number::from_f64(n).map(GoJson::Number).ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_str<E>(self, s: &str) -> Result<GoJson, E> {
                Ok(GoJson::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<GoJson, E> {
                Ok(GoJson::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GoJson, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(GoJson::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GoJson, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = map.next_entry::<String, GoJson>()? {
                    out.push(kv);
                }
                Ok(GoJson::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl GoJson {
    /// The value as Go's `interface{}` decoding sees it: a repeated key keeps the last value.
    fn into_value(self) -> Value {
        match self {
            GoJson::Null => Value::Null,
            GoJson::Bool(b) => Value::Bool(b),
            GoJson::Number(n) => Value::Number(n),
            GoJson::String(s) => Value::String(s),
            GoJson::Array(a) => Value::Array(a.into_iter().map(GoJson::into_value).collect()),
            GoJson::Object(pairs) => {
                let mut m = Map::new();
                for (k, v) in pairs {
                    m.insert(k, v.into_value());
                }
                Value::Object(m)
            }
        }
    }
}

/// JSON's insignificant whitespace (encoding/json `isSpace`); a form feed is not one.
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The body as text Go's decoder would read the same way: each byte that is not part of valid
/// UTF-8 becomes U+FFFD (utf8.DecodeRune consumes one byte on error), and a `\u` escape of a
/// surrogate that does not start a valid pair becomes `\ufffd` (encoding/json `unquote`).
fn sanitize(body: &[u8]) -> Cow<'_, str> {
    let text: Cow<'_, str> = match std::str::from_utf8(body) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(body.len() + 8);
            let mut rest = body;
            while !rest.is_empty() {
                match std::str::from_utf8(rest) {
                    Ok(s) => {
                        out.push_str(s);
                        break;
                    }
                    Err(e) => {
                        let (good, bad) = rest.split_at(e.valid_up_to());
                        out.push_str(std::str::from_utf8(good).unwrap_or_default());
                        out.push('\u{FFFD}');
                        rest = &bad[1..];
                    }
                }
            }
            Cow::Owned(out)
        }
    };
    if !has_surrogate_escape(&text) {
        return text;
    }
    Cow::Owned(replace_lone_surrogates(&text))
}

fn hex4(s: &[u8]) -> Option<u32> {
    let h = s.get(..4)?;
    let t = std::str::from_utf8(h).ok()?;
    u32::from_str_radix(t, 16).ok().filter(|_| h.iter().all(u8::is_ascii_hexdigit))
}

fn has_surrogate_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(3).any(|w| w[0] == b'\\' && w[1] == b'u' && matches!(w[2], b'd' | b'D'))
}

fn replace_lone_surrogates(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut i, mut start, mut in_string) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'"' => {
                in_string = !in_string;
                i += 1;
            }
            b'\\' if in_string => {
                let Some(r) = (b.get(i + 1) == Some(&b'u')).then(|| hex4(&b[i + 2..])).flatten() else {
                    i += 2;
                    continue;
                };
                if !(0xD800..0xE000).contains(&r) {
                    i += 6;
                    continue;
                }
                // utf16.DecodeRune: a high surrogate followed by an escaped low one.
                let pair = (0xD800..0xDC00).contains(&r)
                    && b.get(i + 6) == Some(&b'\\')
                    && b.get(i + 7) == Some(&b'u')
                    && hex4(&b[(i + 8).min(b.len())..]).is_some_and(|r2| (0xDC00..0xE000).contains(&r2));
                if pair {
                    i += 12;
                } else {
                    out.push_str(&s[start..i]);
                    out.push_str("\\ufffd");
                    i += 6;
                    start = i;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&s[start..]);
    out
}

/// Decodes the first JSON value of the body; `None` for a body of whitespace only (Decode's
/// `io.EOF`, which `web.Bind` ignores).
fn decode_first(body: &[u8]) -> Result<Option<GoJson>, ()> {
    let text = sanitize(body);
    if text.bytes().all(is_json_space) {
        return Ok(None);
    }
    let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<GoJson>();
    let v = stream.next().ok_or(())?.map_err(|_| ())?;
    // An object or array ends at its bracket; a scalar needs a space or the end after it.
    if !matches!(v, GoJson::Object(_) | GoJson::Array(_))
        && text.as_bytes().get(stream.byte_offset()).is_some_and(|b| !is_json_space(*b))
    {
        return Err(());
    }
    Ok(Some(v))
}

/// encoding/json `foldFunc`: ASCII letters match either case, and the key may use the Kelvin
/// sign for `k` and the long s for `s` (the only non-ASCII runes that fold to ASCII letters).
fn fold_eq(name: &str, key: &str) -> bool {
    let mut k = key.chars().map(|c| match c {
        '\u{17F}' => 's',
        '\u{212A}' => 'k',
        c => c,
    });
    let mut n = name.chars();
    loop {
        match (n.next(), k.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(&b) => {}
            _ => return false,
        }
    }
}

/// Decodes an object into the struct `fields` describe, as `Map` with the Rust field names.
/// A field given more than once keeps the last value it takes, and only that value reaches
/// the Rust type's checks, where Go, decoding each in turn, also refuses an earlier one of the
/// wrong type.
fn shape(pairs: Vec<(String, GoJson)>, fields: &[(&str, Field)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, v) in pairs {
        let found = fields.iter().find(|(n, _)| *n == key).or_else(|| fields.iter().find(|(n, _)| fold_eq(n, &key)));
        let Some((name, kind)) = found else { continue };
        let value = match (kind, v) {
            (Field::Plain, GoJson::Null) => continue,
            (Field::Structs(inner) | Field::StructPointers(inner), GoJson::Array(items)) => Value::Array(
                items
                    .into_iter()
                    .map(|item| match item {
                        GoJson::Object(p) => Value::Object(shape(p, inner)),
                        GoJson::Null if matches!(kind, Field::Structs(_)) => Value::Object(Map::new()),
                        other => other.into_value(),
                    })
                    .collect(),
            ),
            (_, v) => v.into_value(),
        };
        out.insert((*name).to_string(), value);
    }
    out
}

/// The body decoded into a struct with `fields`, as a JSON object keyed by the field names;
/// `Err` where Go's decoder fails (a syntax error, or a body that is not an object or `null`).
pub(crate) fn decode_struct(body: &[u8], fields: &[(&str, Field)]) -> Result<Value, ()> {
    match decode_first(body)? {
        None | Some(GoJson::Null) => Ok(Value::Object(Map::new())),
        Some(GoJson::Object(pairs)) => Ok(Value::Object(shape(pairs, fields))),
        Some(_) => Err(()),
    }
}

/// The body decoded as a whole document (Go `interface{}` semantics for repeated keys); a
/// missing body or a top-level `null` reads as `{}`, as it leaves Go's struct untouched.
pub(crate) fn decode_document(body: &[u8]) -> Result<Value, ()> {
    match decode_first(body)? {
        None | Some(GoJson::Null) => Ok(Value::Object(Map::new())),
        Some(v) => Ok(v.into_value()),
    }
}

/// `json.Unmarshal` into a struct: like [`decode_struct`], but anything after the value other
/// than whitespace is an error.
pub(crate) fn unmarshal_struct(text: &[u8], fields: &[(&str, Field)]) -> Result<Value, ()> {
    let clean = sanitize(text);
    let mut de = serde_json::Deserializer::from_str(&clean);
    let v = GoJson::deserialize(&mut de).map_err(|_| ())?;
    de.end().map_err(|_| ())?;
    match v {
        GoJson::Null => Ok(Value::Object(Map::new())),
        GoJson::Object(pairs) => Ok(Value::Object(shape(pairs, fields))),
        _ => Err(()),
    }
}

/// Go 1.17 `mime.ParseMediaType`, reduced to its media type; `Err` where it fails (no or a
/// malformed type, a malformed or repeated parameter).
pub(crate) fn parse_media_type(v: &str) -> Result<String, ()> {
    let base = v.split(';').next().unwrap_or("");
    let media = base.to_lowercase().trim().to_string();
    check_media_type(&media)?;
    let mut seen: Vec<String> = Vec::new();
    let mut rest = &v[base.len()..];
    while !rest.is_empty() {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        match consume_media_param(rest) {
            Some((key, after)) => {
                // "Duplicate parameter name is bogus" (Go 1.21 started to allow equal values).
                if seen.contains(&key) {
                    return Err(());
                }
                seen.push(key);
                rest = after;
            }
            // Trailing semicolons are ignored.
            None if rest.trim() == ";" => break,
            None => return Err(()),
        }
    }
    Ok(media)
}

fn is_tspecial(c: char) -> bool {
    "()<>@,;:\\\"/[]?=".contains(c)
}

fn is_token_char(c: char) -> bool {
    c > ' ' && c < '\x7f' && !is_tspecial(c)
}

fn consume_token(v: &str) -> (&str, &str) {
    let end = v.find(|c: char| !is_token_char(c)).unwrap_or(v.len());
    v.split_at(end)
}

fn check_media_type(s: &str) -> Result<(), ()> {
    let (typ, rest) = consume_token(s);
    if typ.is_empty() {
        return Err(());
    }
    if rest.is_empty() {
        return Ok(());
    }
    let rest = rest.strip_prefix('/').ok_or(())?;
    let (sub, rest) = consume_token(rest);
    if sub.is_empty() || !rest.is_empty() {
        return Err(());
    }
    Ok(())
}

/// `consumeMediaParam`: `; key=value`, the value a token or a quoted string. Returns the
/// lower-cased key and the rest.
fn consume_media_param(v: &str) -> Option<(String, &str)> {
    let rest = v.trim_start().strip_prefix(';')?.trim_start();
    let (key, rest) = consume_token(rest);
    if key.is_empty() {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let after = if let Some(quoted) = rest.strip_prefix('"') {
        // consumeValue: a quoted string must end, and may not hold CR or LF.
        let mut chars = quoted.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                '\\' if quoted[i + 1..].chars().next().is_some_and(is_tspecial) => {
                    chars.next();
                }
                '\r' | '\n' => return None,
                _ => {}
            }
        }
        &quoted[end?..]
    } else {
        let (value, after) = consume_token(rest);
        if value.is_empty() {
            return None;
        }
        after
    };
    Some((key.to_lowercase(), after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const F: &[(&str, Field)] = &[("title", Field::Plain), ("version", Field::Plain), ("data", Field::Nullable)];

    fn dec(s: &[u8]) -> Result<Value, ()> {
        decode_struct(s, F)
    }

    // Each expectation was checked against Go's encoding/json.
    #[test]
    fn decoding_follows_go() {
        assert_eq!(dec(br#"{"title":"a","Title":"b"}"#), Ok(json!({"title": "b"})));
        assert_eq!(dec(br#"{"Title":"b","title":"a"}"#), Ok(json!({"title": "a"})));
        assert_eq!(dec(br#"{"title":"a","title":null}"#), Ok(json!({"title": "a"})));
        assert_eq!(dec(br#"{"data":{"x":1},"data":null}"#), Ok(json!({"data": null})));
        assert_eq!(dec("{\"VER\u{17F}ION\":2}".as_bytes()), Ok(json!({"version": 2})));
        assert_eq!(dec(br#"{"title":"x"}}} garbage"#), Ok(json!({"title": "x"})));
        assert_eq!(dec(b"null"), Ok(json!({})));
        assert_eq!(dec(b" \n\t"), Ok(json!({})));
        assert_eq!(dec(b"nullx"), Err(()));
        assert_eq!(dec(b"\x0c{}"), Err(()));
        assert_eq!(dec(b"[]"), Err(()));
        assert_eq!(dec(b"{\"title\":\"a\xe2\x82b\"}"), Ok(json!({"title": "a\u{FFFD}\u{FFFD}b"})));
        assert_eq!(dec(br#"{"title":"\ud800x"}"#), Ok(json!({"title": "\u{FFFD}x"})));
        assert_eq!(dec(br#"{"title":"\ud800\ud800\udc00"}"#), Ok(json!({"title": "\u{FFFD}\u{10000}"})));
        assert_eq!(dec(br#"{"title":"\\ud800"}"#), Ok(json!({"title": "\\ud800"})));
    }

    #[test]
    fn null_elements_of_struct_slices() {
        const INNER: &[(&str, Field)] = &[("name", Field::Plain)];
        let structs: &[(&str, Field)] = &[("items", Field::Structs(INNER))];
        let pointers: &[(&str, Field)] = &[("items", Field::StructPointers(INNER))];
        let body = br#"{"items":[null,{"NAME":"a"}]}"#;
        assert_eq!(decode_struct(body, structs), Ok(json!({"items": [{}, {"name": "a"}]})));
        assert_eq!(decode_struct(body, pointers), Ok(json!({"items": [null, {"name": "a"}]})));
        assert_eq!(decode_struct(br#"{"items":null}"#, pointers), Ok(json!({"items": null})));
    }

    #[test]
    fn media_types_follow_go_1_17() {
        let ok = |s: &str| parse_media_type(s).ok();
        assert_eq!(ok("application/json"), Some("application/json".into()));
        assert_eq!(ok("Application/JSON ; charset=UTF-8"), Some("application/json".into()));
        assert_eq!(ok("application/json;"), Some("application/json".into()));
        assert_eq!(ok("application/json ;"), Some("application/json".into()));
        assert_eq!(ok("application/json; a=b ; "), Some("application/json".into()));
        assert_eq!(ok("application/json; charset=\"\""), Some("application/json".into()));
        assert_eq!(ok(""), None);
        assert_eq!(ok("application/json; charset"), None);
        assert_eq!(ok("application/json;;"), None);
        assert_eq!(ok("application/json; =x"), None);
        assert_eq!(ok("application/json x"), None);
        assert_eq!(ok("application/json; charset=utf-8; charset=utf-8"), None);
    }
}
