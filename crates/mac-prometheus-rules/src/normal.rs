//! The normal form of a rule group ([`NormalGroup`]): what a definition and a stored group
//! (YAML as a rule file or a ruler API holds it, [`StoredGroup`]) are compared in, and what is
//! written back ([`to_yaml`]).
//!
//! Rules are matched between definition and server by their alert or record name (with `#2`,
//! `#3` for a name repeated in the group, as Prometheus allows), so a changed threshold shows
//! as `rules[id="HighErrorRate"].expr`.

use std::collections::HashMap;

use indexmap::IndexMap;
use mac_core::{HandlerError, RemoteObject};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::definition::{Rule, RuleGroup};
use mac_core::duration;

/// A group as read from its rule file (plus the file's namespace): lenient where YAML reads
/// a scalar as a number or a boolean that Prometheus reads as a string.
#[derive(Debug, Deserialize)]
pub struct StoredGroup {
    /// The namespace it was read from (a rule file's stem, a ruler's namespace).
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    interval: Option<YamlText>,
    #[serde(default)]
    limit: Option<i64>,
    /// Its rules, as stored.
    #[serde(default)]
    pub rules: Option<Vec<StoredRule>>,
    /// What the model has no field for (`query_offset`, group `labels` of newer rulers):
    /// kept so that a plan shows a write would drop them.
    #[serde(flatten)]
    unmodelled: std::collections::BTreeMap<String, Value>,
}

/// A rule as read from a rule file.
#[derive(Debug, Deserialize)]
pub struct StoredRule {
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    expr: Option<YamlText>,
    #[serde(rename = "for", default)]
    for_: Option<YamlText>,
    #[serde(default)]
    labels: Option<IndexMap<String, YamlText>>,
    #[serde(default)]
    annotations: Option<IndexMap<String, YamlText>>,
    /// What the model has no field for (`keep_firing_for`): see [`StoredGroup`]'s.
    #[serde(flatten)]
    unmodelled: std::collections::BTreeMap<String, Value>,
}

/// A YAML scalar as the string Prometheus reads it as: `expr: 1` is the expression "1",
/// `severity: 5` the label value "5", an empty value "".
#[derive(Debug, Default)]
struct YamlText(String);

impl<'de> Deserialize<'de> for YamlText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<YamlText, D::Error> {
        Ok(YamlText(match Value::deserialize(deserializer)? {
            Value::String(text) => text,
            Value::Null => String::new(),
            other => other.to_string(),
        }))
    }
}

/// A group in the form both sides are compared in, which is also what is written: the
/// namespace, the name, the interval and the limit when set, and each rule with its `id`
/// (see the module's comment), a trimmed expression, a canonical `for` (alerts only) and
/// labels and annotations (alerts only), without what Prometheus assumes when a rule leaves
/// it out (`for: 0s`, no labels or annotations: rulefmt.RuleNode's zero values), so that a
/// plan never shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NormalGroup {
    pub namespace: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    pub rules: Vec<NormalRule>,
    /// A stored group's fields the model does not know, under their own names: compared, so
    /// that a plan shows that writing the group drops them (never written from here).
    #[serde(flatten)]
    pub unmodelled: std::collections::BTreeMap<String, Value>,
}

/// A rule in [`NormalGroup`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NormalRule {
    /// The rule's alert or record name, `#2`, `#3`… for a name repeated in the group.
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<IndexMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<IndexMap<String, String>>,
    /// As [`NormalGroup::unmodelled`], for a rule.
    #[serde(flatten)]
    pub unmodelled: std::collections::BTreeMap<String, Value>,
}

/// A rule's parts, borrowed from a definition or a file, before normalisation.
struct RuleParts<'a> {
    alert: Option<&'a str>,
    record: Option<&'a str>,
    expr: &'a str,
    for_: Option<&'a str>,
    labels: Option<IndexMap<&'a str, &'a str>>,
    annotations: Option<IndexMap<&'a str, &'a str>>,
    unmodelled: Option<&'a std::collections::BTreeMap<String, Value>>,
}

impl RuleParts<'_> {
    fn of_definition(rule: &Rule) -> RuleParts<'_> {
        fn strings(map: &Option<IndexMap<String, String>>) -> Option<IndexMap<&str, &str>> {
            map.as_ref().map(|map| map.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect())
        }
        RuleParts {
            alert: rule.alert.as_deref(),
            record: rule.record.as_deref(),
            expr: &rule.expr,
            for_: rule.for_.as_deref(),
            labels: strings(&rule.labels),
            annotations: strings(&rule.annotations),
            unmodelled: None,
        }
    }

    fn of_file(rule: &StoredRule) -> RuleParts<'_> {
        fn strings(map: &Option<IndexMap<String, YamlText>>) -> Option<IndexMap<&str, &str>> {
            map.as_ref().map(|map| map.iter().map(|(key, value)| (key.as_str(), value.0.as_str())).collect())
        }
        RuleParts {
            alert: rule.alert.as_deref(),
            record: rule.record.as_deref(),
            expr: rule.expr.as_ref().map_or("", |expr| expr.0.as_str()),
            for_: rule.for_.as_ref().map(|for_| for_.0.as_str()),
            labels: strings(&rule.labels),
            annotations: strings(&rule.annotations),
            unmodelled: Some(&rule.unmodelled),
        }
    }
}

impl NormalGroup {
    fn new<'a>(
        namespace: &str,
        name: &str,
        interval: Option<&str>,
        limit: Option<i64>,
        rules: impl IntoIterator<Item = RuleParts<'a>>,
    ) -> NormalGroup {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let rules = rules
            .into_iter()
            .map(|rule| {
                let rule_name = rule.alert.or(rule.record).unwrap_or_default();
                let count = seen.entry(rule_name.to_owned()).or_insert(0);
                *count += 1;
                let id = if *count == 1 { rule_name.to_owned() } else { format!("{rule_name}#{count}") };
                let is_alert = rule.alert.is_some();
                let strings = |map: Option<IndexMap<&str, &str>>| {
                    map.filter(|map| !map.is_empty())
                        .map(|map| map.into_iter().map(|(key, value)| (key.to_owned(), value.to_owned())).collect())
                };
                NormalRule {
                    id,
                    alert: rule.alert.map(str::to_owned),
                    record: if is_alert { None } else { rule.record.map(str::to_owned) },
                    expr: rule.expr.trim().to_owned(),
                    for_: if is_alert { rule.for_.map(canonical_duration).filter(|for_| for_ != "0s") } else { None },
                    labels: strings(rule.labels),
                    annotations: if is_alert { strings(rule.annotations) } else { None },
                    unmodelled: rule.unmodelled.cloned().unwrap_or_default(),
                }
            })
            .collect();
        NormalGroup {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            interval: interval.map(canonical_duration),
            limit: limit.filter(|limit| *limit != 0),
            rules,
            unmodelled: Default::default(),
        }
    }

    /// A definition in normal form; `name` is the group's name (see [`RuleGroup::name`]).
    pub fn of_definition(group: &RuleGroup, name: &str) -> NormalGroup {
        let limit = group.limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
        NormalGroup::new(
            &group.namespace,
            name,
            group.interval.as_deref(),
            limit,
            group.rules.iter().map(RuleParts::of_definition),
        )
    }

    /// A stored group (read from a rule file or a ruler API) in normal form.
    pub fn of_stored(group: &StoredGroup) -> NormalGroup {
        let mut normal = NormalGroup::new(
            &group.namespace,
            &group.name,
            group.interval.as_ref().map(|interval| interval.0.as_str()),
            group.limit,
            group.rules.iter().flatten().map(RuleParts::of_file),
        );
        normal.unmodelled = group.unmodelled.clone();
        normal
    }

    /// The group as it goes into the rule file: Prometheus' keys, in the order its
    /// documentation shows them, without the namespace and the rules' ids.
    pub fn file_form(&self) -> FileGroup<'_> {
        FileGroup {
            name: &self.name,
            interval: self.interval.as_deref(),
            limit: self.limit,
            rules: self
                .rules
                .iter()
                .map(|rule| FileRule {
                    alert: rule.alert.as_deref(),
                    record: rule.record.as_deref(),
                    expr: &rule.expr,
                    for_: rule.for_.as_deref(),
                    labels: rule.labels.as_ref(),
                    annotations: rule.annotations.as_ref(),
                })
                .collect(),
        }
    }

    /// The group as a person writes its definition: the file's form, plus the namespace.
    pub fn definition(&self) -> RuleGroup {
        RuleGroup {
            namespace: self.namespace.clone(),
            name: Some(self.name.clone()),
            interval: self.interval.clone(),
            limit: self.limit.and_then(|limit| u64::try_from(limit).ok()),
            rules: self
                .rules
                .iter()
                .map(|rule| Rule {
                    alert: rule.alert.clone(),
                    record: rule.record.clone(),
                    expr: rule.expr.clone(),
                    for_: rule.for_.clone(),
                    labels: rule.labels.clone(),
                    annotations: rule.annotations.clone(),
                })
                .collect(),
        }
    }
}

/// A group in a rule file, as [`NormalGroup::file_form`] writes it.
#[derive(Debug, Serialize)]
pub struct FileGroup<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    rules: Vec<FileRule<'a>>,
}

/// A rule in a rule file.
#[derive(Debug, Serialize)]
pub struct FileRule<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<&'a str>,
    expr: &'a str,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<&'a IndexMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a IndexMap<String, String>>,
}

fn canonical_duration(text: &str) -> String {
    duration::canonical(text).unwrap_or_else(|| text.to_owned())
}

/// The group as it goes into the rule file, from its normal form.
pub fn to_yaml(normal: &NormalGroup) -> Result<serde_norway::Value, serde_norway::Error> {
    serde_norway::to_value(normal.file_form())
}

/// A group as read from a file or a ruler (a JSON object), or as just written, recorded with
/// its namespace: its remote id and adoption key are `<namespace>/<name>`.
pub fn remote_object(namespace: &str, name: &str, mut fields: serde_json::Map<String, Value>) -> RemoteObject {
    let remote_id = format!("{namespace}/{name}");
    fields.insert("namespace".to_owned(), Value::String(namespace.to_owned()));
    RemoteObject {
        remote_id: remote_id.clone(),
        adoption_key: Some(remote_id),
        fields: mac_core::JsonText::from_map(&fields),
        part_ids: Default::default(),
    }
}

/// Names the group in an error, and points at the rule promtool or Prometheus complained
/// about (`group "NAME", rule N` in their messages, N counted from 1).
pub fn locate(error: HandlerError, name: &str, namespace: &str) -> HandlerError {
    let marker = format!("group \"{name}\", rule ");
    let rule = error.message.find(&marker).and_then(|start| {
        let digits: String = error.message[start + marker.len()..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<usize>().ok()
    });
    let message = format!("rule group `{namespace}/{name}`: {}", error.message);
    let located = HandlerError { message, ..error };
    match rule {
        Some(number) if number > 0 => located.at(format!("/rules/{}", number - 1)),
        _ => located,
    }
}

/// A readable local id or file name: `Payments Team` → `payments-team`.
pub fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() { "untitled".to_owned() } else { slug }
}

/// How a plan names a stored group: `rule group "http" in namespace "payments", 3 rules`.
pub fn describe(group: &StoredGroup) -> String {
    let rules = group.rules.as_ref().map_or(0, Vec::len);
    format!(
        "rule group {:?} in namespace {:?}, {rules} rule{}",
        group.name,
        group.namespace,
        if rules == 1 { "" } else { "s" }
    )
}

/// A list in a group's fields whose items are matched by a key (rules by their `id`), for
/// [`mac_core::Kind::list_key`].
pub fn list_key(path: &str) -> Option<&'static str> {
    match path {
        "/rules" => Some("id"),
        _ => None,
    }
}

/// What `mac import` writes for a stored group: what a person would write (the file's form,
/// the namespace first), one file per namespace, selected by namespace.
pub fn imported(group: &StoredGroup) -> Option<mac_core::ImportedFields> {
    let normal = NormalGroup::of_stored(group);
    let Value::Object(fields) = serde_json::to_value(normal.definition()).ok()? else { return None };
    Some(mac_core::ImportedFields {
        local_id: slug(&format!("{}-{}", normal.namespace, normal.name)),
        fields,
        file: slug(&normal.namespace),
        scope: Some(normal.namespace),
        part_ids: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mac_core::Fields;
    use serde_json::json;

    fn group() -> Value {
        json!({
            "namespace": "payments",
            "name": "http",
            "interval": "60s",
            "rules": [
                { "record": "job:requests:rate5m", "expr": "sum by (job) (rate(requests_total[5m]))" },
                {
                    "alert": "HighErrors",
                    "expr": "job:errors:rate5m > 0.05",
                    "for": "300s",
                    "labels": { "severity": "page" },
                    "annotations": { "summary": "{{ $labels.job }} fails" },
                },
                { "alert": "HighErrors", "expr": "job:errors:rate5m > 0.2", "labels": { "severity": "critical" } },
            ],
        })
    }

    fn fields(value: &Value) -> Fields {
        value.as_object().cloned().expect("object")
    }

    fn definition(value: &Value) -> RuleGroup {
        RuleGroup::deserialize(value).expect("a definition")
    }

    /// A group of a rule file's text, as `list` records it and the kind reads it.
    fn from_file(namespace: &str, text: &str) -> StoredGroup {
        let read: Value = serde_norway::from_str(text).expect("parse");
        let name = read["name"].as_str().expect("a name").to_owned();
        let remote = remote_object(namespace, &name, fields(&read));
        assert_eq!(remote.remote_id, format!("{namespace}/{name}"));
        remote.fields.parse::<StoredGroup>().expect("a stored group")
    }

    #[test]
    fn a_written_group_reads_back_without_a_difference() {
        let normal = NormalGroup::of_definition(&definition(&group()), "http");
        let written = serde_norway::to_string(&to_yaml(&normal).expect("yaml")).expect("text");
        assert_eq!(
            written,
            "name: http\ninterval: 1m\nrules:\n- record: job:requests:rate5m\n  expr: sum by (job) (rate(requests_total[5m]))\n- alert: HighErrors\n  expr: job:errors:rate5m > 0.05\n  for: 5m\n  labels:\n    severity: page\n  annotations:\n    summary: '{{ $labels.job }} fails'\n- alert: HighErrors\n  expr: job:errors:rate5m > 0.2\n  labels:\n    severity: critical\n"
        );
        assert_eq!(NormalGroup::of_stored(&from_file("payments", &written)), normal);
        let ids: Vec<&str> = normal.rules.iter().map(|rule| rule.id.as_str()).collect();
        assert_eq!(ids, ["job:requests:rate5m", "HighErrors", "HighErrors#2"]);
    }

    #[test]
    fn the_comparable_form_leaves_out_what_prometheus_assumes() {
        let normal = NormalGroup::of_definition(&definition(&group()), "http");
        assert_eq!(
            serde_json::to_value(&normal).expect("json"),
            json!({
                "namespace": "payments",
                "name": "http",
                "interval": "1m",
                "rules": [
                    { "id": "job:requests:rate5m", "record": "job:requests:rate5m", "expr": "sum by (job) (rate(requests_total[5m]))" },
                    {
                        "id": "HighErrors",
                        "alert": "HighErrors",
                        "expr": "job:errors:rate5m > 0.05",
                        "for": "5m",
                        "labels": { "severity": "page" },
                        "annotations": { "summary": "{{ $labels.job }} fails" },
                    },
                    { "id": "HighErrors#2", "alert": "HighErrors", "expr": "job:errors:rate5m > 0.2", "labels": { "severity": "critical" } },
                ],
            })
        );
    }

    #[test]
    fn hand_written_spellings_are_no_difference() {
        let by_hand = from_file(
            "payments",
            "name: http\ninterval: 1m0s\nrules:\n- record: job:requests:rate5m\n  expr: |\n    sum by (job) (rate(requests_total[5m]))\n- alert: HighErrors\n  expr: job:errors:rate5m > 0.05\n  for: 5m0s\n  labels: {severity: page}\n  annotations: {summary: '{{ $labels.job }} fails'}\n- alert: HighErrors\n  expr: job:errors:rate5m > 0.2\n  for: 0s\n  labels: {severity: critical}\n  annotations: {}\n",
        );
        assert_eq!(NormalGroup::of_stored(&by_hand), NormalGroup::of_definition(&definition(&group()), "http"));
        let scalars = from_file(
            "infra",
            "name: odd\nrules:\n- alert: One\n  expr: 1\n  labels: {level: 5, page: true, empty: }\n",
        );
        let normal = serde_json::to_value(NormalGroup::of_stored(&scalars)).expect("json");
        assert_eq!(normal["rules"][0]["expr"], "1");
        assert_eq!(normal["rules"][0]["labels"], json!({ "level": "5", "page": "true", "empty": "" }));
    }

    #[test]
    fn errors_name_the_group_and_point_at_the_rule() {
        let error = HandlerError::new(
            mac_core::HandlerErrorKind::Invalid,
            "promtool check rules rejects r/p.yml: 8:11: group \"http\", rule 2, \"HighErrors\": could not parse expression",
        );
        let located = locate(error, "http", "p");
        assert!(located.message.starts_with("rule group `p/http`: promtool"), "{}", located.message);
        assert_eq!(located.pointer.as_deref(), Some("/rules/1"));
    }
}
