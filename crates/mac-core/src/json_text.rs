//! [`JsonText`]: a JSON value kept as its compact text.
//!
//! The engine holds every definition and every observed remote object for a whole plan. As
//! `serde_json::Value` trees (with `preserve_order`, 80 bytes a value and an index per map)
//! they took 5–8× the size of the text they came from: at 10k rules, about 60 MB of
//! definitions and 40 MB of ruler answer, where the inputs are 4.4 and 7.5 MB. Kept as text,
//! they cost what they weigh; a kind parses its typed form straight from the text
//! (`serde_json::from_str`, no tree in between), and the few generic walks (references,
//! secrets, diffs) parse a tree for as long as they need it.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A JSON value as compact text. Cloning shares the text. It serialises as the JSON value
/// itself (not as a string), and deserialises from any JSON value.
#[derive(Clone)]
pub struct JsonText(Arc<RawValue>);

impl JsonText {
    /// The text of `value`.
    pub fn from_value(value: &Value) -> JsonText {
        // A `Value` always serialises: its map keys are strings.
        let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
        JsonText::from_valid(text)
    }

    /// The text of a table of fields.
    pub fn from_map(map: &Map<String, Value>) -> JsonText {
        let text = serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned());
        JsonText::from_valid(text)
    }

    /// The text of any serialisable value (a provider's typed remote object).
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<JsonText, serde_json::Error> {
        Ok(JsonText::from_valid(serde_json::to_string(value)?))
    }

    /// The compact text of the JSON value `text` holds. Written again, not kept as given:
    /// [`JsonText::may_have_key`] relies on the compact form (no `"ref" :`, no `\u0072ef`).
    pub fn parse_text(text: &str) -> Result<JsonText, serde_json::Error> {
        Ok(JsonText::from_value(&serde_json::from_str::<Value>(text)?))
    }

    fn from_valid(text: String) -> JsonText {
        match RawValue::from_string(text) {
            Ok(raw) => JsonText(Arc::from(raw)),
            // The text came from serde_json itself: only a value nested deeper than serde_json's
            // limit of 128 levels fails here, and such a value could not have come from a
            // remote's JSON answer or a JSON file either (the same limit); TOML that deep is
            // not written by hand.
            Err(_) => JsonText::null(),
        }
    }

    /// `null`.
    pub fn null() -> JsonText {
        JsonText(Arc::from(RawValue::from_string("null".to_owned()).expect("`null` is JSON")))
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The value as a tree, for the walks that need one.
    pub fn to_value(&self) -> Value {
        // The text is valid JSON (checked when made), and any JSON parses into a `Value`.
        serde_json::from_str(self.as_str()).unwrap_or(Value::Null)
    }

    /// The value as a table of fields: empty when it is not a table.
    pub fn to_map(&self) -> Map<String, Value> {
        match self.to_value() {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// The value in a typed form, parsed from the text.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.as_str())
    }

    /// Whether the text may hold a key named `key` somewhere: `false` is certain. Quotes in
    /// strings are escaped, so `"key":` is a key, or (a false positive) the end of a key that
    /// holds an escaped quote. A cheap test before a walk of the tree.
    pub fn may_have_key(&self, key: &str) -> bool {
        let text = self.as_str();
        let quoted = format!("\"{key}\":");
        text.contains(&quoted)
    }
}

impl Default for JsonText {
    fn default() -> JsonText {
        JsonText::null()
    }
}

impl From<Value> for JsonText {
    fn from(value: Value) -> JsonText {
        JsonText::from_value(&value)
    }
}

impl From<&Value> for JsonText {
    fn from(value: &Value) -> JsonText {
        JsonText::from_value(value)
    }
}

impl From<Map<String, Value>> for JsonText {
    fn from(map: Map<String, Value>) -> JsonText {
        JsonText::from_map(&map)
    }
}

impl From<&Map<String, Value>> for JsonText {
    fn from(map: &Map<String, Value>) -> JsonText {
        JsonText::from_map(map)
    }
}

impl PartialEq for JsonText {
    /// The same text; two texts of the same value differ only by key order, which the
    /// engine keeps as written.
    fn eq(&self, other: &JsonText) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JsonText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonText {
    /// Through a `Value`, so that any deserializer (a JSON text, a `Value`, a database's
    /// JSON column) gives one.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<JsonText, D::Error> {
        Value::deserialize(deserializer).map(|value| JsonText::from_value(&value))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn it_keeps_the_value_and_its_key_order_and_serialises_as_the_value() {
        let value = json!({ "b": 1, "a": [true, null, "x"], "c": { "z": 1.5, "y": "\"ref\": no" } });
        let text = JsonText::from_value(&value);
        assert_eq!(text.to_value(), value);
        assert_eq!(text.as_str(), r#"{"b":1,"a":[true,null,"x"],"c":{"z":1.5,"y":"\"ref\": no"}}"#);
        assert_eq!(serde_json::to_string(&json!({ "fields": text })).expect("json"), format!(r#"{{"fields":{text}}}"#));
        assert_eq!(serde_json::to_value(&text).expect("json"), value, "into a tree as well");
        let back: JsonText = serde_json::from_str(&serde_json::to_string(&text).expect("json")).expect("json");
        assert_eq!(back, text);
        let from_tree: JsonText = serde_json::from_value(value.clone()).expect("json");
        assert_eq!(from_tree, text, "from any deserializer");
    }

    #[test]
    fn a_key_test_is_never_wrongly_negative() {
        let text = JsonText::from_value(&json!({ "folder": { "ref": "folder.a" } }));
        assert!(text.may_have_key("ref"));
        assert!(!JsonText::from_value(&json!({ "folder": "refs" })).may_have_key("ref"));
        assert!(!JsonText::from_value(&json!({ "note": "\"ref\": x" })).may_have_key("ref"), "quotes are escaped");
        assert!(
            JsonText::from_value(&json!({ "a\"ref": 1 })).may_have_key("ref"),
            "a key ending in an escaped quote and the name is a false positive, never a miss"
        );
    }

    #[test]
    fn typed_forms_parse_from_the_text() {
        #[derive(Deserialize, PartialEq, Debug)]
        struct Folder {
            title: String,
        }
        let text = JsonText::from_value(&json!({ "title": "Payments" }));
        assert_eq!(text.parse::<Folder>().expect("json"), Folder { title: "Payments".to_owned() });
        assert_eq!(text.to_map()["title"], "Payments");
        assert!(JsonText::null().to_map().is_empty());
        assert!(JsonText::parse_text("{").is_err());
        assert!(JsonText::parse_text(r#"{ "\u0072ef" : "folder.a" }"#).expect("json").may_have_key("ref"));
    }
}
