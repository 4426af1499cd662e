//! Field-level differences between a desired and an observed object.
//!
//! Written here rather than taken from a JSON-diff crate because the behaviour users need is
//! domain-specific: list items are matched by a key the handler names (a rule by its title,
//! a query by its ref id), so reordering is no change and a change inside one item is shown
//! as that item's field, which positional diffs (RFC 6902 crates such as `json-patch`) cannot do.

use serde::{Deserialize, Serialize};

use crate::json_text::JsonText;
use serde_json::{Map, Value};

/// One changed field: its readable path (`rules[title="High CPU"].for`), the observed
/// value and the desired value; `None` where the field is absent on that side. The values
/// are kept as JSON text (a plan of 10k rules created holds 150k of them) and written out
/// as JSON values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    /// Absent (not `null`) in JSON where the field does not exist on that side.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "as_tree")]
    pub old: Option<JsonText>,
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "as_tree")]
    pub new: Option<JsonText>,
}

impl FieldChange {
    /// A change from `old` to `new`.
    pub fn of(path: impl Into<String>, old: Option<&Value>, new: Option<&Value>) -> FieldChange {
        FieldChange { path: path.into(), old: old.map(JsonText::from_value), new: new.map(JsonText::from_value) }
    }

    /// The observed value, as a tree.
    pub fn old_value(&self) -> Option<Value> {
        self.old.as_ref().map(JsonText::to_value)
    }

    /// The desired value, as a tree.
    pub fn new_value(&self) -> Option<Value> {
        self.new.as_ref().map(JsonText::to_value)
    }
}

/// Written as the value's tree, so that pretty-printed plans indent it as before.
fn as_tree<S: serde::Serializer>(value: &Option<JsonText>, serializer: S) -> Result<S::Ok, S::Error> {
    value.as_ref().map(JsonText::to_value).serialize(serializer)
}

/// How one item of a keyed list differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemChangeKind {
    Added,
    Removed,
    /// Present on both sides, with at least one field changed.
    Changed,
}

/// A change to one item of a keyed list (a rule of a group, a panel of a dashboard): what a
/// reviewer counts. Only the outermost keyed list of a path counts: a query changed inside a
/// rule is that rule changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemChange {
    /// The readable path of the list (`rules`, `dashboard.panels`).
    pub list: String,
    /// The field its items are matched by (`id`).
    pub key: String,
    /// This item's value of that field.
    pub value: Value,
    pub change: ItemChangeKind,
}

/// The field changes and the keyed-list items they fall in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Difference {
    pub changes: Vec<FieldChange>,
    /// One entry per changed item, in the order of `changes`.
    pub items: Vec<ItemChange>,
}

/// The changes that turn `old` into `new`. `list_key` receives a list's path pattern
/// (pointer with `*` for indices, e.g. `/rules/*/data`) and names the key to match its items by.
pub fn diff(old: &Value, new: &Value, list_key: &dyn Fn(&str) -> Option<&'static str>) -> Vec<FieldChange> {
    diff_items(old, new, list_key).changes
}

/// [`diff`], and which items of keyed lists the changes add, remove or change.
pub fn diff_items(old: &Value, new: &Value, list_key: &dyn Fn(&str) -> Option<&'static str>) -> Difference {
    let mut difference = Difference::default();
    Differ { list_key, changes: &mut difference.changes, items: Some(&mut difference.items) }.compare(
        Some(old),
        Some(new),
        &mut Path::default(),
    );
    difference
}

/// How a keyed list item shows in a path: `[id="High CPU"]`, `[id=3]`. `None` for a key value
/// that cannot match items (a table, a list, null).
pub fn item_label(key: &str, value: &Value) -> Option<String> {
    Some(format!("[{key}={}]", key_text(value)?))
}

fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(format!("{text:?}")),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[derive(Default)]
struct Path {
    readable: String,
    pattern: String,
}

impl Path {
    fn with<T>(&mut self, readable: &str, pattern: &str, body: impl FnOnce(&mut Path) -> T) -> T {
        let (readable_len, pattern_len) = (self.readable.len(), self.pattern.len());
        self.readable.push_str(readable);
        self.pattern.push_str(pattern);
        let result = body(self);
        self.readable.truncate(readable_len);
        self.pattern.truncate(pattern_len);
        result
    }

    fn field(&mut self, key: &str) -> (String, String) {
        let readable = if self.readable.is_empty() { key.to_owned() } else { format!(".{key}") };
        (readable, format!("/{}", key.replace('~', "~0").replace('/', "~1")))
    }
}

struct Differ<'a> {
    list_key: &'a dyn Fn(&str) -> Option<&'static str>,
    changes: &'a mut Vec<FieldChange>,
    /// Where item changes are recorded; `None` inside an item already being recorded.
    items: Option<&'a mut Vec<ItemChange>>,
}

impl Differ<'_> {
    fn compare(&mut self, old: Option<&Value>, new: Option<&Value>, path: &mut Path) {
        // An absent field and an explicit null mean the same to every API we drive.
        let old = old.filter(|value| !value.is_null());
        let new = new.filter(|value| !value.is_null());
        match (old, new) {
            (None, None) => {}
            (Some(Value::Object(old)), Some(Value::Object(new))) => {
                let keys = old.keys().chain(new.keys().filter(|key| !old.contains_key(*key)));
                for key in keys {
                    let (readable, pattern) = path.field(key);
                    path.with(&readable, &pattern, |path| self.compare(old.get(key), new.get(key), path));
                }
            }
            (Some(Value::Array(old)), Some(Value::Array(new))) => self.compare_lists(old, new, path),
            (Some(old), Some(new)) if same_scalar(old, new) => {}
            (old, new) => self.changes.push(FieldChange::of(
                if path.readable.is_empty() { "(object)".to_owned() } else { path.readable.clone() },
                old,
                new,
            )),
        }
    }

    fn compare_lists(&mut self, old: &[Value], new: &[Value], path: &mut Path) {
        let keyed = (self.list_key)(&path.pattern).and_then(|key| {
            let old_keys = item_keys(old, key)?;
            let new_keys = item_keys(new, key)?;
            Some((key, old_keys, new_keys))
        });
        match keyed {
            Some((key, old_keys, new_keys)) => {
                for (new_item, item_key) in new.iter().zip(&new_keys) {
                    let old_item = old_keys.iter().position(|candidate| candidate == item_key).map(|index| &old[index]);
                    self.compare_item(key, item_key, old_item, Some(new_item), path);
                }
                for (old_item, item_key) in old.iter().zip(&old_keys) {
                    if !new_keys.contains(item_key) {
                        self.compare_item(key, item_key, Some(old_item), None, path);
                    }
                }
            }
            None => {
                for index in 0..old.len().max(new.len()) {
                    let readable = format!("[{index}]");
                    path.with(&readable, "/*", |path| self.compare(old.get(index), new.get(index), path));
                }
            }
        }
    }
}

impl Differ<'_> {
    /// Compares one item of a keyed list, recording it as an item change when it is the
    /// outermost keyed item of the path and anything in it changed.
    fn compare_item(&mut self, key: &str, item_key: &str, old: Option<&Value>, new: Option<&Value>, path: &mut Path) {
        let readable = format!("[{key}={item_key}]");
        let list = path.readable.clone();
        let before = self.changes.len();
        let mut items = self.items.take();
        path.with(&readable, "/*", |path| {
            Differ { list_key: self.list_key, changes: self.changes, items: None }.compare(old, new, path)
        });
        if let Some(items) = items.as_deref_mut()
            && self.changes.len() > before
        {
            let change = match (old, new) {
                (None, _) => ItemChangeKind::Added,
                (_, None) => ItemChangeKind::Removed,
                _ => ItemChangeKind::Changed,
            };
            let value = new.or(old).and_then(|item| item.get(key)).cloned().unwrap_or_default();
            items.push(ItemChange { list, key: key.to_owned(), value, change });
        }
        self.items = items;
    }
}

/// The rendered key of every item, if every item has a distinct scalar key.
fn item_keys(items: &[Value], key: &str) -> Option<Vec<String>> {
    let mut keys = Vec::with_capacity(items.len());
    for item in items {
        let rendered = key_text(item.get(key)?)?;
        if keys.contains(&rendered) {
            return None;
        }
        keys.push(rendered);
    }
    Some(keys)
}

/// Removes the field that `pattern` (a pointer whose `*` matches every item of a list)
/// names, wherever `is_default` holds for its value and the table holding it. Handlers use
/// it in a kind's `Kind::desired` and `Kind::observed` to leave out, on both
/// sides, the values a server fills in when a write leaves them out: a plan then never shows
/// them, and a definition that writes the default explicitly still compares equal.
pub fn remove_defaults(value: &mut Value, pattern: &str, is_default: &dyn Fn(&Value, &Map<String, Value>) -> bool) {
    let segments: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    remove_at(value, &segments, is_default);
}

fn remove_at(value: &mut Value, segments: &[&str], is_default: &dyn Fn(&Value, &Map<String, Value>) -> bool) {
    match (segments, value) {
        ([], _) => {}
        (["*", rest @ ..], Value::Array(items)) => {
            for item in items {
                remove_at(item, rest, is_default);
            }
        }
        ([last], Value::Object(table)) if table.get(*last).is_some_and(|field| is_default(field, table)) => {
            table.shift_remove(*last);
        }
        ([_], _) => {}
        ([segment, rest @ ..], Value::Object(table)) => {
            if let Some(field) = table.get_mut(*segment) {
                remove_at(field, rest, is_default);
            }
        }
        _ => {}
    }
}

/// [`remove_defaults`] of the fields at `pattern` equal to `default` (numbers by value).
pub fn remove_default(value: &mut Value, pattern: &str, default: &Value) {
    remove_defaults(value, pattern, &|field, _| same_scalar(field, default));
}

fn same_scalar(old: &Value, new: &Value) -> bool {
    match (old, new) {
        // `1` and `1.0` are the same number to a server; only the TOML spelling differs.
        (Value::Number(old), Value::Number(new)) => old == new || old.as_f64() == new.as_f64(),
        _ => old == new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn by_title(pattern: &str) -> Option<&'static str> {
        (pattern == "/rules").then_some("title")
    }

    fn paths(changes: &[FieldChange]) -> Vec<&str> {
        changes.iter().map(|change| change.path.as_str()).collect()
    }

    #[test]
    fn equal_values_have_no_changes() {
        let value = json!({"a": 1, "b": [1, 2], "c": {"d": null}});
        assert!(diff(&value, &value, &|_| None).is_empty());
        assert!(diff(&json!({"n": 1, "x": null}), &json!({"n": 1.0}), &|_| None).is_empty());
    }

    #[test]
    fn reordered_keyed_items_are_no_change_and_edits_show_their_field() {
        let old = json!({"rules": [{"title": "a", "for": "5m"}, {"title": "b", "for": "1m"}]});
        let new = json!({"rules": [{"title": "b", "for": "1m"}, {"title": "a", "for": "10m"}]});
        let changes = diff(&old, &new, &by_title);
        assert_eq!(changes, vec![FieldChange::of("rules[title=\"a\"].for", Some(&json!("5m")), Some(&json!("10m")))]);
    }

    #[test]
    fn added_and_removed_items_and_fields() {
        let old = json!({"rules": [{"title": "a"}, {"title": "gone"}], "x": 1});
        let new = json!({"rules": [{"title": "a"}, {"title": "new"}], "y": 2});
        let changes = diff(&old, &new, &by_title);
        assert_eq!(paths(&changes), ["rules[title=\"new\"]", "rules[title=\"gone\"]", "x", "y"]);
        assert_eq!(changes[1].new, None);
    }

    #[test]
    fn item_changes_count_the_outermost_keyed_items_once() {
        let by_id = |pattern: &str| match pattern {
            "/rules" => Some("id"),
            "/rules/*/data" => Some("ref_id"),
            _ => None,
        };
        let old = json!({"rules": [
            {"id": "r1", "for": "5m", "data": [{"ref_id": "A", "x": 1}]},
            {"id": "r2"},
            {"id": "same"},
        ]});
        let new = json!({"rules": [
            {"id": "r1", "for": "10m", "data": [{"ref_id": "A", "x": 2}, {"ref_id": "B"}]},
            {"id": "same"},
            {"id": "r3"},
        ]});
        let difference = diff_items(&old, &new, &by_id);
        let items: Vec<(&str, &Value, ItemChangeKind)> =
            difference.items.iter().map(|item| (item.list.as_str(), &item.value, item.change)).collect();
        assert_eq!(
            items,
            [
                ("rules", &json!("r1"), ItemChangeKind::Changed),
                ("rules", &json!("r3"), ItemChangeKind::Added),
                ("rules", &json!("r2"), ItemChangeKind::Removed),
            ]
        );
        assert_eq!(difference.changes.len(), 5, "{:#?}", difference.changes);
        assert_eq!(item_label("id", &json!("a \"b\"")).as_deref(), Some("[id=\"a \\\"b\\\"\"]"));
        assert_eq!(item_label("id", &json!({})), None);
    }

    #[test]
    fn defaults_are_removed_where_the_pattern_matches() {
        let mut value = json!({
            "interval": "1m",
            "rules": [
                { "for": "0s", "data": [{ "model": { "intervalMs": 1000.0, "x": 1 } }, { "model": { "intervalMs": 5 } }] },
                { "for": "5m", "labels": {} },
            ],
        });
        remove_default(&mut value, "/interval", &json!("1m"));
        remove_default(&mut value, "/rules/*/for", &json!("0s"));
        remove_default(&mut value, "/rules/*/labels", &json!({}));
        remove_default(&mut value, "/rules/*/data/*/model/intervalMs", &json!(1000));
        remove_defaults(&mut value, "/missing/*/field", &|_, _| true);
        assert_eq!(
            value,
            json!({ "rules": [
                { "data": [{ "model": { "x": 1 } }, { "model": { "intervalMs": 5 } }] },
                { "for": "5m" },
            ]})
        );
    }

    #[test]
    fn lists_without_a_key_compare_by_position() {
        let changes = diff(&json!({"l": [1, 2]}), &json!({"l": [1, 3, 4]}), &|_| None);
        assert_eq!(paths(&changes), ["l[1]", "l[2]"]);
    }

    #[test]
    fn duplicate_keys_fall_back_to_position() {
        let old = json!({"rules": [{"title": "a", "v": 1}, {"title": "a", "v": 2}]});
        let new = json!({"rules": [{"title": "a", "v": 2}, {"title": "a", "v": 1}]});
        assert_eq!(paths(&diff(&old, &new, &by_title)), ["rules[0].v", "rules[1].v"]);
    }
}
