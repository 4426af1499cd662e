//! Values as a plan shows them: written the way definitions are, TOML-like — `key = value`,
//! strings quoted as TOML quotes them, small tables and lists inline, larger ones over several
//! indented lines — so that a rule or a panel reads as it was written, never as one-line JSON.
//!
//! It is TOML-like, not TOML: a table too long for one line opens with `{` and lists its fields
//! one a line, which TOML's inline tables cannot, and `null` (which TOML lacks) shows where a
//! list holds one. A table's `null` fields are left out: absent and null mean the same to the
//! comparison (`mac_core::diff`).

use serde_json::{Map, Value};

/// The widest line an inline value may make before it is spread over several lines.
const WIDTH: usize = 100;
/// How much deeper each nesting level is indented.
const STEP: usize = 2;

/// `value` as it follows `key = ` on a line indented by `indent` columns, where the text
/// before it (`key = `) takes `lead` columns: inline when the line stays within the width,
/// else a table or list over several lines, its closing bracket at `indent`.
pub fn value(value: &Value, indent: usize, lead: usize) -> String {
    let inline = inline(value);
    if indent + lead + inline.len() <= WIDTH {
        return inline;
    }
    let inner = " ".repeat(indent + STEP);
    let close = " ".repeat(indent);
    match value {
        Value::Object(table) if !table.is_empty() => {
            let lines: Vec<String> = fields(table, indent + STEP, &|_, _| false);
            format!("{{\n{}\n{close}}}", lines.join("\n"))
        }
        Value::Array(items) if !items.is_empty() => {
            let lines: Vec<String> =
                items.iter().map(|item| format!("{inner}{},", self::value(item, indent + STEP, 0))).collect();
            format!("[\n{}\n{close}]", lines.join("\n"))
        }
        _ => inline,
    }
}

/// The fields of a table, one `key = value` line each, indented by `indent` columns; fields
/// for which `skip` holds (and null ones) are left out.
pub fn fields(table: &Map<String, Value>, indent: usize, skip: &dyn Fn(&str, &Value) -> bool) -> Vec<String> {
    let pad = " ".repeat(indent);
    table
        .iter()
        .filter(|(name, field)| !field.is_null() && !skip(name, field))
        .map(|(name, field)| {
            let key = key(name);
            let lead = key.len() + 3;
            format!("{pad}{key} = {}", value(field, indent, lead))
        })
        .collect()
}

/// The value on one line: `"text"`, `42`, `[1, 2]`, `{ a = 1, b = "x" }`.
pub fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => string(text),
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Array(items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::Object(table) => {
            let fields: Vec<String> = table
                .iter()
                .filter(|(_, field)| !field.is_null())
                .map(|(name, field)| format!("{} = {}", key(name), inline(field)))
                .collect();
            if fields.is_empty() { "{}".to_owned() } else { format!("{{ {} }}", fields.join(", ")) }
        }
    }
}

/// A key as TOML writes it: bare when it can be, else quoted.
pub fn key(name: &str) -> String {
    let bare = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { name.to_owned() } else { basic_string(name) }
}

/// A string as TOML writes it on one line: a literal string (`'…'`) when that spares
/// escaping quotes or backslashes (a PromQL selector, a regex), else a basic string.
/// Written here rather than taken from toml_edit's encoder, which turns a string holding both
/// quote kinds into a multi-line `"""…"""` string: a plan line must stay one line.
pub fn string(text: &str) -> String {
    let literal_fits = !text.contains('\'') && !text.chars().any(char::is_control);
    if literal_fits && (text.contains('"') || text.contains('\\')) { format!("'{text}'") } else { basic_string(text) }
}

fn basic_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_are_written_as_toml_writes_them() {
        assert_eq!(inline(&json!("5m")), r#""5m""#);
        assert_eq!(inline(&json!(r#"rate(x{status=~"5.."}[5m])"#)), r#"'rate(x{status=~"5.."}[5m])'"#);
        assert_eq!(inline(&json!("it's \"quoted\"")), r#""it's \"quoted\"""#);
        assert_eq!(inline(&json!("two\nlines\u{1}")), r#""two\nlines\u0001""#);
        assert_eq!(inline(&json!(0.5)), "0.5");
        assert_eq!(inline(&json!(43200)), "43200");
        assert_eq!(inline(&json!(true)), "true");
    }

    #[test]
    fn small_tables_and_lists_are_inline_and_keys_quoted_only_when_needed() {
        let value = json!({ "severity": "page", "team name": "payments", "gone": null, "n": [1, 2] });
        assert_eq!(inline(&value), r#"{ severity = "page", "team name" = "payments", n = [1, 2] }"#);
        assert_eq!(inline(&json!({})), "{}");
        assert_eq!(inline(&json!([])), "[]");
        assert_eq!(inline(&json!([null, 1])), "[null, 1]");
        assert_eq!(self::value(&json!({ "a": 1 }), 4, 10), "{ a = 1 }");
    }

    #[test]
    fn large_values_spread_over_indented_lines() {
        let rule = json!({
            "title": "High 5xx ratio",
            "labels": { "severity": "page" },
            "data": [
                { "ref_id": "A", "model": { "expr": "sum(rate(http_requests_total{status=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m]))" } },
                { "ref_id": "B", "model": { "type": "math", "expression": "$A > 0.05" } },
            ],
        });
        let lines = fields(rule.as_object().expect("table"), 4, &|name, _| name == "title");
        let text = lines.join("\n");
        assert_eq!(
            text,
            r#"    labels = { severity = "page" }
    data = [
      {
        ref_id = "A"
        model = {
          expr = 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'
        }
      },
      { ref_id = "B", model = { type = "math", expression = "$A > 0.05" } },
    ]"#
        );
    }
}
