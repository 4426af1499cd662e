//! Source documents: TOML parsed with the span of every value, so that any problem found
//! later — by the loader, a provider's settings check or a handler's validation — can name
//! `file:line:column`.
//!
//! A document is converted once into a `serde_json::Value` (the form the engine and the
//! providers work with) plus a side table from JSON pointer to byte span.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};
use toml::de::{DeTable, DeValue};

/// A place in a source file, shown as `path:line:column` (both 1-based).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Location {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// A location for a whole file, when no finer position is known.
    pub fn file(path: impl Into<PathBuf>) -> Location {
        Location { path: path.into(), line: 1, column: 1 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// A problem with something a user wrote, at the place they wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct SourceError {
    pub location: Location,
    pub message: String,
}

fn next_serial() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A parsed TOML document with the spans of all its values.
#[derive(Debug)]
pub struct Document {
    /// Unique in this process: what tells two parsed files apart, whatever their paths and
    /// addresses (a dropped document's address is reused).
    serial: u64,
    path: PathBuf,
    text: String,
    root: Value,
    /// Where each value is, by JSON pointer. Only errors need it, so it is built on the first
    /// [`Document::location`] by parsing the text again: a large valid project never pays
    /// for it (at 10k rules the map was a third of a plan's memory).
    spans: OnceLock<HashMap<String, Range<usize>>>,
}

impl Document {
    /// Parses `text`, the contents of the file shown to users as `path`.
    pub fn parse(path: impl Into<PathBuf>, text: String) -> Result<Arc<Document>, SourceError> {
        let path = path.into();
        let parsed = DeTable::parse(&text).map_err(|err| {
            let offset = err.span().map_or(0, |span| span.start);
            SourceError {
                location: location_in(&path, &text, offset),
                message: format!("invalid TOML: {}", err.message().trim_end()),
            }
        })?;
        let root = table_to_json(parsed.get_ref());
        drop(parsed);
        Ok(Arc::new(Document { serial: next_serial(), path, text, root, spans: OnceLock::new() }))
    }

    /// Reads bytes that should be UTF-8 TOML; invalid UTF-8 is reported at its line.
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Arc<Document>, SourceError> {
        let path = path.into();
        match String::from_utf8(bytes) {
            Ok(text) => Document::parse(path, text),
            Err(err) => {
                let valid = err.utf8_error().valid_up_to();
                let prefix = String::from_utf8_lossy(&err.as_bytes()[..valid]).into_owned();
                Err(SourceError {
                    location: location_in(&path, &prefix, valid),
                    message: "file is not valid UTF-8".to_owned(),
                })
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This document's number, unique in the process.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// The same file for locating errors only, without its parsed values: what definitions
    /// keep, so that the values they were copied from are freed once loading is done (at 10k
    /// rules, a copy of every definition).
    pub fn for_locations(&self) -> Arc<Document> {
        Arc::new(Document {
            serial: next_serial(),
            path: self.path.clone(),
            text: self.text.clone(),
            root: Value::Null,
            spans: OnceLock::new(),
        })
    }

    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The location of the value at `pointer` (RFC 6901), or of its nearest ancestor that has
    /// one: a missing field is reported at the table that lacks it.
    pub fn location(&self, pointer: &str) -> Location {
        let spans = self.spans.get_or_init(|| spans_of(&self.text));
        let mut pointer = pointer;
        loop {
            if let Some(span) = spans.get(pointer) {
                return location_in(&self.path, &self.text, span.start);
            }
            match pointer.rfind('/') {
                Some(slash) => pointer = &pointer[..slash],
                None => return location_in(&self.path, &self.text, 0),
            }
        }
    }

    /// An error at `pointer`.
    pub fn error(&self, pointer: &str, message: impl Into<String>) -> SourceError {
        SourceError { location: self.location(pointer), message: message.into() }
    }
}

/// The largest source file read: definitions are written by people, and a runaway generated
/// file should be an error, not minutes of parsing.
pub const MAX_SOURCE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads a source file, refusing one larger than [`MAX_SOURCE_BYTES`].
pub fn read_source(path: &Path, shown: &Path) -> Result<Vec<u8>, SourceError> {
    let too_large = |size: u64| SourceError {
        location: Location::file(shown),
        message: format!(
            "the file has {size} bytes; files over {} MiB are refused: split it",
            MAX_SOURCE_BYTES / 1024 / 1024
        ),
    };
    let cannot =
        |err: std::io::Error| SourceError { location: Location::file(shown), message: format!("cannot read: {err}") };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    if size > MAX_SOURCE_BYTES {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_SOURCE_BYTES + 1), &mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Appends one reference token to a JSON pointer, escaping as RFC 6901 says.
pub fn push_pointer(pointer: &str, token: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + token.len() + 1);
    out.push_str(pointer);
    out.push('/');
    if token.contains(['~', '/']) {
        out.push_str(&token.replace('~', "~0").replace('/', "~1"));
    } else {
        out.push_str(token);
    }
    out
}

fn location_in(path: &Path, text: &str, offset: usize) -> Location {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    Location { path: path.to_path_buf(), line, column }
}

fn table_to_json(table: &DeTable<'_>) -> Value {
    let mut map = Map::with_capacity(table.len());
    for (key, value) in table {
        map.insert(key.get_ref().to_string(), value_to_json(value.get_ref()));
    }
    Value::Object(map)
}

fn value_to_json(value: &DeValue<'_>) -> Value {
    match value {
        DeValue::String(text) => Value::String(text.to_string()),
        DeValue::Integer(integer) => match i64::from_str_radix(integer.as_str(), integer.radix()) {
            Ok(number) => Value::from(number),
            // Larger than i64: keep the digits rather than lose precision silently.
            Err(_) => Value::String(integer.to_string()),
        },
        DeValue::Float(float) => float
            .as_str()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(float.as_str().to_owned()), Value::Number),
        DeValue::Boolean(flag) => Value::Bool(*flag),
        DeValue::Datetime(datetime) => Value::String(datetime.to_string()),
        DeValue::Array(items) => Value::Array(items.iter().map(|item| value_to_json(item.get_ref())).collect()),
        DeValue::Table(table) => table_to_json(table),
    }
}

/// The span of every value of a document that parsed before, by JSON pointer.
fn spans_of(text: &str) -> HashMap<String, Range<usize>> {
    let mut spans = HashMap::new();
    if let Ok(parsed) = DeTable::parse(text) {
        spans.insert(String::new(), parsed.span());
        table_spans(parsed.get_ref(), "", &mut spans);
    }
    spans
}

fn table_spans(table: &DeTable<'_>, pointer: &str, spans: &mut HashMap<String, Range<usize>>) {
    for (key, value) in table {
        let child = push_pointer(pointer, key.get_ref());
        // A key's span is where users look for it: `title = 1` is reported at `title`.
        spans.insert(child.clone(), key.span().start..value.span().end);
        value_spans(value.get_ref(), &child, spans);
    }
}

fn value_spans(value: &DeValue<'_>, pointer: &str, spans: &mut HashMap<String, Range<usize>>) {
    match value {
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let child = push_pointer(pointer, &index.to_string());
                spans.insert(child.clone(), item.span());
                value_spans(item.get_ref(), &child, spans);
            }
        }
        DeValue::Table(table) => table_spans(table, pointer, spans),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_point_at_keys_and_items() {
        let text = "a = 1\n[[x.y]]\nid = \"one\"\nlist = [1, 2]\n".to_owned();
        let doc = Document::parse("defs/a.toml", text).expect("valid toml");
        assert_eq!(doc.location("/a").to_string(), "defs/a.toml:1:1");
        assert_eq!(doc.location("/x/y/0/id").to_string(), "defs/a.toml:3:1");
        assert_eq!(doc.location("/x/y/0/list/1").to_string(), "defs/a.toml:4:12");
        // A missing field is reported at its nearest ancestor.
        assert_eq!(doc.location("/x/y/0/missing").line, 2);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = Document::parse("m.toml", "a = 1\nb = \n".to_owned()).expect_err("invalid");
        assert_eq!(err.location.line, 2, "{err}");
        assert!(err.message.starts_with("invalid TOML"), "{err}");
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let err = Document::from_bytes("m.toml", b"a = 1\nb = \"\xff\"\n".to_vec()).expect_err("invalid");
        assert_eq!(err.to_string(), "m.toml:2:6: file is not valid UTF-8");
    }
}
