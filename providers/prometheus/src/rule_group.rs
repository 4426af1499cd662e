//! `rule_group`: a Prometheus rule group, in the file of its namespace
//! (`<rules_dir>/<namespace>.yml`). Its remote id is `<namespace>/<name>`, which is also the
//! key under which an existing group is adopted.
//!
//! Rules are matched between definition and file by their alert or record name (with `#2`,
//! `#3` for a name repeated in the group, as Prometheus allows), so a changed threshold shows
//! as `rules[id="HighErrorRate"].expr`.

#[allow(unused_imports)] // TEMPORARY (issue 17): until this kind is typed.
use mac_core::legacy::LegacyHandler as _;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use mac_core::{DesiredObject, FieldError, Fields, Handler, HandlerError, RemoteObject, Resolver, async_trait};
use serde_json::{Map, Value, json};

use crate::files::RuleFiles;
use crate::server::Server;
use mac_core::duration;

#[derive(Debug)]
pub struct RuleGroupHandler {
    files: Arc<RuleFiles>,
    server: Option<Arc<Server>>,
}

impl RuleGroupHandler {
    pub fn new(files: Arc<RuleFiles>, server: Option<Arc<Server>>) -> RuleGroupHandler {
        RuleGroupHandler { files, server }
    }

    /// Writes the group into its file, taking it out of the file it was in when it moved or
    /// was renamed — one transaction, one reload.
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        desired: &DesiredObject,
    ) -> Result<RemoteObject, HandlerError> {
        let namespace = namespace_of(&desired.fields);
        let name = group_name(desired);
        let wanted = normalise(&namespace, &name, &desired.fields);
        let group = to_yaml(&wanted).map_err(|err| {
            HandlerError::new(mac_core::HandlerErrorKind::Other, format!("cannot write group `{name}` as YAML"))
                .with_source(err)
        })?;
        let mut edit = self.files.edit().await;
        let previous = current.map(|current| {
            (
                current.fields.get("namespace").and_then(Value::as_str).unwrap_or_default().to_owned(),
                current.fields.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            )
        });
        let same_place =
            previous.as_ref().is_some_and(|(old_namespace, old_name)| *old_namespace == namespace && *old_name == name);
        if let Some((old_namespace, old_name)) = &previous
            && !same_place
        {
            edit.remove(old_namespace, old_name)?;
        }
        edit.put(&namespace, &name, group, !same_place)?;
        edit.commit(self.server.as_deref()).await.map_err(|err| locate(err, &name, &namespace))?;
        Ok(remote_object(&namespace, &wanted))
    }
}

/// Names the group in an error, and points at the rule promtool or Prometheus complained
/// about (`group "NAME", rule N` in their messages, N counted from 1).
fn locate(error: HandlerError, name: &str, namespace: &str) -> HandlerError {
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

fn namespace_of(fields: &Fields) -> String {
    fields.get("namespace").and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn group_name(desired: &DesiredObject) -> String {
    desired.fields.get("name").and_then(Value::as_str).map_or_else(|| desired.id.local_id.clone(), str::to_owned)
}

/// A group as read from a file.
fn remote_object(namespace: &str, group: &Value) -> RemoteObject {
    let name = group.get("name").and_then(Value::as_str).unwrap_or_default();
    let remote_id = format!("{namespace}/{name}");
    let mut fields = group.as_object().cloned().unwrap_or_default();
    fields.insert("namespace".to_owned(), json!(namespace));
    RemoteObject {
        remote_id: remote_id.clone(),
        adoption_key: Some(remote_id),
        fields: Value::Object(fields),
        part_ids: Default::default(),
    }
}

/// A group in the form both sides are compared in, which is also what is written: the
/// namespace, the name, the interval and the limit when set, and each rule with its `id`
/// (see the module's comment), a trimmed expression, a canonical `for` (alerts only) and
/// labels and annotations as strings.
pub(crate) fn normalise(namespace: &str, name: &str, group: &Map<String, Value>) -> Value {
    let mut normal = Map::new();
    normal.insert("namespace".to_owned(), json!(namespace));
    normal.insert("name".to_owned(), json!(name));
    if let Some(interval) = group.get("interval").filter(|value| !value.is_null()) {
        normal.insert("interval".to_owned(), canonical_duration(interval));
    }
    if let Some(limit) = group.get("limit").and_then(Value::as_i64).filter(|limit| *limit != 0) {
        normal.insert("limit".to_owned(), json!(limit));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rules = Vec::new();
    for rule in group.get("rules").and_then(Value::as_array).into_iter().flatten() {
        let alert = rule.get("alert").and_then(Value::as_str);
        let record = rule.get("record").and_then(Value::as_str);
        let rule_name = alert.or(record).unwrap_or_default();
        let count = seen.entry(rule_name.to_owned()).or_insert(0);
        *count += 1;
        let id = if *count == 1 { rule_name.to_owned() } else { format!("{rule_name}#{count}") };
        let mut normal_rule = Map::new();
        normal_rule.insert("id".to_owned(), json!(id));
        match (alert, record) {
            (Some(alert), _) => normal_rule.insert("alert".to_owned(), json!(alert)),
            (None, Some(record)) => normal_rule.insert("record".to_owned(), json!(record)),
            (None, None) => None,
        };
        let expr = match rule.get("expr") {
            Some(Value::String(text)) => json!(text.trim()),
            // YAML reads `expr: 1` as a number; Prometheus reads it as the expression "1".
            Some(Value::Number(number)) => json!(number.to_string()),
            _ => json!(""),
        };
        normal_rule.insert("expr".to_owned(), expr);
        if alert.is_some() {
            let for_ = rule.get("for").map_or_else(|| json!("0s"), canonical_duration);
            normal_rule.insert("for".to_owned(), for_);
        }
        normal_rule.insert("labels".to_owned(), string_map(rule.get("labels")));
        if alert.is_some() {
            normal_rule.insert("annotations".to_owned(), string_map(rule.get("annotations")));
        }
        rules.push(Value::Object(normal_rule));
    }
    normal.insert("rules".to_owned(), Value::Array(rules));
    Value::Object(normal)
}

/// An observed group in the normal form, defaults still in.
fn observed_normal(remote: &RemoteObject) -> Value {
    let fields = remote.fields.as_object().cloned().unwrap_or_default();
    let namespace = fields.get("namespace").and_then(Value::as_str).unwrap_or_default().to_owned();
    let name = fields.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    normalise(&namespace, &name, &fields)
}

/// A normal group without what Prometheus assumes when a rule leaves it out (`for: 0s`, no
/// labels or annotations: rulefmt.RuleNode's zero values), so that a plan never shows it.
fn without_defaults(mut group: Value) -> Value {
    use mac_core::diff::remove_default;
    remove_default(&mut group, "/rules/*/for", &json!("0s"));
    remove_default(&mut group, "/rules/*/labels", &json!({}));
    remove_default(&mut group, "/rules/*/annotations", &json!({}));
    group
}

fn canonical_duration(value: &Value) -> Value {
    match value {
        Value::String(text) => json!(duration::canonical(text).unwrap_or_else(|| text.clone())),
        other => other.clone(),
    }
}

/// Labels and annotations are strings in Prometheus; YAML may have read `5` or `true`.
fn string_map(value: Option<&Value>) -> Value {
    let map: Map<String, Value> = value
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (key.clone(), json!(text))
        })
        .collect();
    Value::Object(map)
}

/// The group as it goes into the rule file, from its normal form: Prometheus' keys, in the
/// order its documentation shows them, without the namespace, the rules' ids, a zero `for`
/// or empty tables.
pub(crate) fn to_yaml(normal: &Value) -> Result<serde_norway::Value, serde_norway::Error> {
    let mut group = Map::new();
    for key in ["name", "interval", "limit"] {
        if let Some(value) = normal.get(key) {
            group.insert(key.to_owned(), value.clone());
        }
    }
    let rules: Vec<Value> = normal
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|rule| {
            let mut written = Map::new();
            for key in ["alert", "record", "expr"] {
                if let Some(value) = rule.get(key) {
                    written.insert(key.to_owned(), value.clone());
                }
            }
            if let Some(for_) = rule.get("for").filter(|for_| *for_ != "0s") {
                written.insert("for".to_owned(), for_.clone());
            }
            for key in ["labels", "annotations"] {
                if let Some(map) = rule.get(key).filter(|map| map.as_object().is_some_and(|map| !map.is_empty())) {
                    written.insert(key.to_owned(), map.clone());
                }
            }
            Value::Object(written)
        })
        .collect();
    group.insert("rules".to_owned(), Value::Array(rules));
    serde_norway::to_value(Value::Object(group))
}

#[async_trait]
impl mac_core::legacy::LegacyHandler for RuleGroupHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        validate_group(fields)
    }

    fn adoption_key(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Option<String> {
        Some(format!("{}/{}", namespace_of(&desired.fields), group_name(desired)))
    }

    fn desired(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<Value, FieldError> {
        Ok(without_defaults(normalise(&namespace_of(&desired.fields), &group_name(desired), &desired.fields)))
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        without_defaults(observed_normal(remote))
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        let field = |key: &str| remote.fields.get(key).and_then(Value::as_str).unwrap_or_default();
        let rules = remote.fields.get("rules").and_then(Value::as_array).map_or(0, Vec::len);
        format!(
            "rule group {:?} in namespace {:?}, {rules} rule{}",
            field("name"),
            field("namespace"),
            if rules == 1 { "" } else { "s" }
        )
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        match path {
            "/rules" => Some("id"),
            _ => None,
        }
    }

    fn import(&self, remote: &RemoteObject, _refs: &dyn mac_core::ImportRefs) -> Option<mac_core::ImportedFields> {
        let normal = observed_normal(remote);
        let namespace = normal.get("namespace")?.as_str()?.to_owned();
        let name = normal.get("name")?.as_str()?.to_owned();
        // What a person would write: the file's form, plus the namespace.
        let written = to_yaml(&normal).ok()?;
        let mut fields: Map<String, Value> = serde_json::to_value(written).ok()?.as_object()?.clone();
        fields.insert("namespace".to_owned(), json!(namespace));
        // The namespace first, as in the README's examples.
        let mut ordered = Map::new();
        for key in ["namespace", "name", "interval", "limit", "rules"] {
            if let Some(value) = fields.remove(key) {
                ordered.insert(key.to_owned(), value);
            }
        }
        Some(mac_core::ImportedFields {
            local_id: slug(&format!("{namespace}-{name}")),
            fields: ordered,
            file: slug(&namespace),
            scope: Some(namespace),
            part_ids: BTreeMap::new(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let mut groups = Vec::new();
        for file in self.files.list()? {
            for group in &file.groups {
                if group.get("name").and_then(Value::as_str).is_some() {
                    groups.push(remote_object(&file.namespace, group));
                }
            }
        }
        Ok(groups)
    }

    async fn create(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        self.write(None, desired).await
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        _refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        self.write(Some(current), desired).await
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let namespace = current.fields.get("namespace").and_then(Value::as_str).unwrap_or_default().to_owned();
        let name = current.fields.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut edit = self.files.edit().await;
        edit.remove(&namespace, &name)?;
        edit.commit(self.server.as_deref()).await.map_err(|err| locate(err, &name, &namespace))
    }

    fn rule_view(&self) -> Option<&dyn mac_core::rules::RuleView> {
        Some(&crate::rule_view::RuleGroupRules)
    }
}

/// A readable local id or file name: `Payments Team` → `payments-team`.
fn slug(text: &str) -> String {
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

/// A namespace names a file: letters, digits, `_`, `-` and `.`, not starting with a dot.
fn valid_namespace(namespace: &str) -> bool {
    !namespace.is_empty()
        && namespace.len() <= 200
        && !namespace.starts_with('.')
        && namespace.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A metric name, as a recording rule's `record` must be (it may hold colons).
fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a group as Prometheus' rule file parser would (model/rulefmt), before any write.
/// PromQL itself is checked by promtool (when available) and by Prometheus on apply.
fn validate_group(fields: &Fields) -> Result<(), Vec<FieldError>> {
    const GROUP_KEYS: [&str; 5] = ["namespace", "name", "interval", "limit", "rules"];
    const RULE_KEYS: [&str; 6] = ["alert", "record", "expr", "for", "labels", "annotations"];
    let mut errors = Vec::new();
    unknown_keys(fields, "", &GROUP_KEYS, &mut errors);
    match fields.get("namespace").and_then(Value::as_str) {
        Some(namespace) if valid_namespace(namespace) => {}
        _ => errors.push(FieldError::at(
            "/namespace",
            "`namespace` names the rule file (<rules_dir>/<namespace>.yml): letters, digits, `_`, `-` and `.`, not starting with a dot",
        )),
    }
    match fields.get("name") {
        None => {}
        Some(Value::String(name)) if !name.trim().is_empty() => {}
        Some(_) => errors.push(FieldError::at("/name", "`name` must be a non-empty string")),
    }
    if let Some(interval) = fields.get("interval") {
        match interval.as_str().and_then(duration::parse) {
            Some(milliseconds) if milliseconds > 0 => {}
            _ => errors.push(FieldError::at("/interval", "`interval` must be a positive duration such as \"1m\"")),
        }
    }
    if let Some(limit) = fields.get("limit")
        && limit.as_u64().is_none()
    {
        errors.push(FieldError::at("/limit", "`limit` must be a whole number (0: no limit)"));
    }
    let rules = match fields.get("rules") {
        Some(Value::Array(rules)) if !rules.is_empty() => rules.as_slice(),
        _ => {
            errors.push(FieldError::at("/rules", "a group needs at least one rule ([[…rule_group.rules]] tables)"));
            &[]
        }
    };
    for (index, rule) in rules.iter().enumerate() {
        let at = |field: &str| format!("/rules/{index}{field}");
        let Some(rule) = rule.as_object() else {
            errors.push(FieldError::at(at(""), "a rule must be a table"));
            continue;
        };
        unknown_keys(rule, &at(""), &RULE_KEYS, &mut errors);
        let is_alert = match (rule.get("alert"), rule.get("record")) {
            (Some(alert), None) => {
                if alert.as_str().is_none_or(|alert| alert.trim().is_empty()) {
                    errors.push(FieldError::at(at("/alert"), "`alert` must be a non-empty string, the alert's name"));
                }
                true
            }
            (None, Some(record)) => {
                if !record.as_str().is_some_and(valid_metric_name) {
                    errors.push(FieldError::at(
                        at("/record"),
                        "`record` must be a metric name such as \"job:http_requests:rate5m\"",
                    ));
                }
                false
            }
            (Some(_), Some(_)) => {
                errors.push(FieldError::at(at("/record"), "a rule is either an `alert` or a `record`, not both"));
                true
            }
            (None, None) => {
                errors.push(FieldError::at(
                    at(""),
                    "a rule needs `alert` (an alerting rule) or `record` (a recording rule)",
                ));
                true
            }
        };
        if rule.get("expr").and_then(Value::as_str).is_none_or(|expr| expr.trim().is_empty()) {
            errors.push(FieldError::at(at("/expr"), "`expr` must be a non-empty PromQL expression"));
        }
        if let Some(for_) = rule.get("for") {
            if !is_alert {
                errors.push(FieldError::at(at("/for"), "`for` is only for alerting rules"));
            } else if for_.as_str().and_then(duration::parse).is_none() {
                errors.push(FieldError::at(at("/for"), "`for` must be a duration such as \"5m\""));
            }
        }
        if rule.contains_key("annotations") && !is_alert {
            errors.push(FieldError::at(at("/annotations"), "`annotations` are only for alerting rules"));
        }
        for field in ["labels", "annotations"] {
            let Some(value) = rule.get(field) else { continue };
            let Some(map) = value.as_object().filter(|map| map.values().all(Value::is_string)) else {
                errors.push(FieldError::at(at(&format!("/{field}")), format!("`{field}` must be a table of strings")));
                continue;
            };
            for key in map.keys().filter(|key| !valid_label_name(key)) {
                errors.push(FieldError::at(
                    at(&format!("/{field}/{key}")),
                    format!(
                        "`{key}` is not a valid {} name (letters, digits and `_`, not starting with a digit)",
                        if field == "labels" { "label" } else { "annotation" }
                    ),
                ));
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

fn unknown_keys(table: &Map<String, Value>, pointer: &str, known: &[&str], errors: &mut Vec<FieldError>) {
    for key in table.keys().filter(|key| !known.contains(&key.as_str())) {
        errors.push(FieldError::at(
            format!("{pointer}/{key}"),
            format!("unknown field `{key}`, expected one of {}", known.join(", ")),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_written_group_reads_back_without_a_difference() {
        let desired = fields(&group());
        let normal = normalise("payments", "http", &desired);
        let written = serde_norway::to_string(&to_yaml(&normal).expect("yaml")).expect("text");
        assert_eq!(
            written,
            "name: http\ninterval: 1m\nrules:\n- record: job:requests:rate5m\n  expr: sum by (job) (rate(requests_total[5m]))\n- alert: HighErrors\n  expr: job:errors:rate5m > 0.05\n  for: 5m\n  labels:\n    severity: page\n  annotations:\n    summary: '{{ $labels.job }} fails'\n- alert: HighErrors\n  expr: job:errors:rate5m > 0.2\n  labels:\n    severity: critical\n"
        );
        let read: Value = serde_norway::from_str(&written).expect("parse");
        let remote = remote_object("payments", &read);
        assert_eq!(remote.remote_id, "payments/http");
        let observed = normalise("payments", "http", remote.fields.as_object().expect("object"));
        assert_eq!(observed, normal);
        let ids: Vec<&str> =
            normal["rules"].as_array().expect("rules").iter().filter_map(|rule| rule["id"].as_str()).collect();
        assert_eq!(ids, ["job:requests:rate5m", "HighErrors", "HighErrors#2"]);
    }

    #[test]
    fn hand_written_spellings_are_no_difference() {
        let by_hand: Value = serde_norway::from_str(
            "name: http\ninterval: 1m0s\nrules:\n- record: job:requests:rate5m\n  expr: |\n    sum by (job) (rate(requests_total[5m]))\n- alert: HighErrors\n  expr: job:errors:rate5m > 0.05\n  for: 5m0s\n  labels: {severity: page}\n  annotations: {summary: '{{ $labels.job }} fails'}\n- alert: HighErrors\n  expr: job:errors:rate5m > 0.2\n  for: 0s\n  labels: {severity: critical}\n  annotations: {}\n",
        )
        .expect("parse");
        let observed = normalise("payments", "http", by_hand.as_object().expect("object"));
        assert_eq!(observed, normalise("payments", "http", &fields(&group())));
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut bad = group();
        bad["namespace"] = json!("../etc");
        bad["interval"] = json!("soon");
        bad["rules"][0]["for"] = json!("5m");
        bad["rules"][1]["record"] = json!("also:a:record");
        bad["rules"][2]["expr"] = json!("  ");
        bad["rules"][2]["for"] = json!("5 minutes");
        bad["rules"][2]["labels"] = json!({ "bad-name": "x" });
        bad["rules"][2]["colour"] = json!("red");
        let errors = validate_group(&fields(&bad)).expect_err("invalid");
        let pointers: Vec<&str> = errors.iter().map(|error| error.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/namespace",
                "/interval",
                "/rules/0/for",
                "/rules/1/record",
                "/rules/2/colour",
                "/rules/2/expr",
                "/rules/2/for",
                "/rules/2/labels/bad-name",
            ]
        );
        assert!(validate_group(&fields(&group())).is_ok());
        let neither = json!({ "namespace": "n", "rules": [{ "expr": "up" }] });
        let errors = validate_group(&fields(&neither)).expect_err("neither alert nor record");
        assert_eq!(errors[0].pointer, "/rules/0");
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

    #[test]
    fn import_writes_what_a_person_would() {
        let handler = RuleGroupHandler::new(
            Arc::new(RuleFiles::new("rules".into(), None, std::time::Duration::from_secs(1))),
            None,
        );
        let read: Value = serde_norway::from_str(
            "name: Node Health\nrules:\n- alert: Down\n  expr: up == 0\n  for: 120s\n  labels: {}\n",
        )
        .expect("parse");
        struct NoRefs;
        impl mac_core::ImportRefs for NoRefs {
            fn local_id(&self, _: &str, _: &str) -> Option<&str> {
                None
            }
        }
        let imported = handler.import(&remote_object("infra", &read), &NoRefs).expect("imported");
        assert_eq!(imported.local_id, "infra-node-health");
        assert_eq!(imported.file, "infra");
        assert_eq!(
            Value::Object(imported.fields),
            json!({ "namespace": "infra", "name": "Node Health", "rules": [{ "alert": "Down", "expr": "up == 0", "for": "2m" }] })
        );
    }
}
