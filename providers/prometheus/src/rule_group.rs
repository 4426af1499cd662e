//! `rule_group`: a Prometheus rule group, in the file of its namespace
//! (`<rules_dir>/<namespace>.yml`). Its remote id is `<namespace>/<name>`, which is also the
//! key under which an existing group is adopted.
//!
//! Rules are matched between definition and file by their alert or record name (with `#2`,
//! `#3` for a name repeated in the group, as Prometheus allows), so a changed threshold shows
//! as `rules[id="HighErrorRate"].expr`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use indexmap::IndexMap;
use mac_core::{
    FieldError, HandlerError, ImportRefs, ImportedFields, Kind, ObjectId, RemoteObject, Resolver, async_trait,
};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::files::RuleFiles;
use crate::server::Server;
use mac_core::duration;

/// A Prometheus rule group, as a `prometheus.rule_group` definition writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["namespace", "rules"]))]
pub struct RuleGroup {
    /// The rule file the group lives in: `<rules_dir>/<namespace>.yml`.
    #[serde(default, deserialize_with = "namespace_field")]
    pub namespace: String,
    /// The group's name in its file; the definition's local id when left out.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "name_field")]
    pub name: Option<String>,
    /// How often the group is evaluated, e.g. `1m`; Prometheus' global interval when left out.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "interval_field")]
    #[schemars(pattern(mac_core::duration::PATTERN))]
    pub interval: Option<String>,
    /// The most alerts or series a rule may produce (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "limit_field")]
    pub limit: Option<u64>,
    /// The group's rules, evaluated in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "rule_tables")]
    pub rules: Vec<Rule>,
}

/// One alerting (`alert`) or recording (`record`) rule of a [`RuleGroup`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a rule table")]
#[schemars(transform = mac_core::schema::require(&["expr"]))]
pub struct Rule {
    /// The alert's name, for an alerting rule.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "alert_field")]
    pub alert: Option<String>,
    /// The metric the result is recorded as, for a recording rule.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "record_field")]
    pub record: Option<String>,
    /// The PromQL expression.
    #[serde(default, deserialize_with = "expr_field")]
    pub expr: String,
    /// How long an alert's condition must hold before it fires (alerting rules only).
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none", deserialize_with = "for_field")]
    #[schemars(pattern(mac_core::duration::PATTERN))]
    pub for_: Option<String>,
    /// Labels added to the alerts or series.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "labels_field")]
    pub labels: Option<IndexMap<String, String>>,
    /// An alert's annotations (alerting rules only).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "annotations_field")]
    pub annotations: Option<IndexMap<String, String>>,
}

/// Field parsers that say what a field must be in this kind's words rather than serde's, as
/// the rest of its validation does.
macro_rules! field_with_message {
    ($function:ident, $type:ty, $message:expr) => {
        fn $function<'de, D: Deserializer<'de>>(deserializer: D) -> Result<$type, D::Error> {
            <$type>::deserialize(deserializer).map_err(|_| D::Error::custom($message))
        }
    };
}

const NAMESPACE_MESSAGE: &str = "`namespace` names the rule file (<rules_dir>/<namespace>.yml): letters, digits, `_`, `-` and `.`, not starting with a dot";
field_with_message!(namespace_field, String, NAMESPACE_MESSAGE);
field_with_message!(name_field, Option<String>, "`name` must be a non-empty string");
field_with_message!(interval_field, Option<String>, "`interval` must be a positive duration such as \"1m\"");
field_with_message!(limit_field, Option<u64>, "`limit` must be a whole number (0: no limit)");
field_with_message!(alert_field, Option<String>, "`alert` must be a non-empty string, the alert's name");
field_with_message!(
    record_field,
    Option<String>,
    "`record` must be a metric name such as \"job:http_requests:rate5m\""
);
field_with_message!(expr_field, String, "`expr` must be a non-empty PromQL expression");
field_with_message!(for_field, Option<String>, "`for` must be a duration such as \"5m\"");
field_with_message!(labels_field, Option<IndexMap<String, String>>, "`labels` must be a table of strings");
field_with_message!(annotations_field, Option<IndexMap<String, String>>, "`annotations` must be a table of strings");

/// A group as read from its rule file (plus the file's namespace): lenient where YAML reads
/// a scalar as a number or a boolean that Prometheus reads as a string.
#[derive(Debug, Deserialize)]
pub(crate) struct StoredGroup {
    namespace: String,
    name: String,
    #[serde(default)]
    interval: Option<YamlText>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    rules: Option<Vec<StoredRule>>,
}

/// A rule as read from a rule file.
#[derive(Debug, Deserialize)]
struct StoredRule {
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

/// Where a remote group lives: enough to move or delete it.
#[derive(Debug, Deserialize)]
struct Place {
    namespace: String,
    name: String,
}

/// A group in the form both sides are compared in, which is also what is written: the
/// namespace, the name, the interval and the limit when set, and each rule with its `id`
/// (see the module's comment), a trimmed expression, a canonical `for` (alerts only) and
/// labels and annotations (alerts only), without what Prometheus assumes when a rule leaves
/// it out (`for: 0s`, no labels or annotations: rulefmt.RuleNode's zero values), so that a
/// plan never shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct NormalGroup {
    namespace: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    rules: Vec<NormalRule>,
}

/// A rule in [`NormalGroup`].
#[derive(Debug, Clone, PartialEq, Serialize)]
struct NormalRule {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<String>,
    expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<IndexMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<IndexMap<String, String>>,
}

/// A rule's parts, borrowed from a definition or a file, before normalisation.
struct RuleParts<'a> {
    alert: Option<&'a str>,
    record: Option<&'a str>,
    expr: &'a str,
    for_: Option<&'a str>,
    labels: Option<IndexMap<&'a str, &'a str>>,
    annotations: Option<IndexMap<&'a str, &'a str>>,
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
                }
            })
            .collect();
        NormalGroup {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            interval: interval.map(canonical_duration),
            limit: limit.filter(|limit| *limit != 0),
            rules,
        }
    }

    /// A definition in normal form; `name` is the group's name (see [`RuleGroup::name`]).
    pub(crate) fn of_definition(group: &RuleGroup, name: &str) -> NormalGroup {
        let limit = group.limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
        NormalGroup::new(
            &group.namespace,
            name,
            group.interval.as_deref(),
            limit,
            group.rules.iter().map(RuleParts::of_definition),
        )
    }

    /// A group read from a file in normal form.
    fn of_file(group: &StoredGroup) -> NormalGroup {
        NormalGroup::new(
            &group.namespace,
            &group.name,
            group.interval.as_ref().map(|interval| interval.0.as_str()),
            group.limit,
            group.rules.iter().flatten().map(RuleParts::of_file),
        )
    }

    /// The group as it goes into the rule file: Prometheus' keys, in the order its
    /// documentation shows them, without the namespace and the rules' ids.
    fn file_form(&self) -> FileGroup<'_> {
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
    fn definition(&self) -> RuleGroup {
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
struct FileGroup<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<i64>,
    rules: Vec<FileRule<'a>>,
}

/// A rule in a rule file.
#[derive(Debug, Serialize)]
struct FileRule<'a> {
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

fn rule_tables<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Rule>, D::Error> {
    mac_core::kind::list_of_tables(deserializer, "prometheus.rule_group.rules")
}

fn canonical_duration(text: &str) -> String {
    duration::canonical(text).unwrap_or_else(|| text.to_owned())
}

/// The group as it goes into the rule file, from its normal form.
pub(crate) fn to_yaml(normal: &NormalGroup) -> Result<serde_norway::Value, serde_norway::Error> {
    serde_norway::to_value(normal.file_form())
}

/// The group's name: its `name`, else the definition's local id.
fn group_name<'a>(id: &'a ObjectId, group: &'a RuleGroup) -> &'a str {
    group.name.as_deref().unwrap_or(&id.local_id)
}

/// A group as read from a file (a JSON object), or as just written, recorded with its namespace.
pub(crate) fn remote_object(namespace: &str, name: &str, mut fields: serde_json::Map<String, Value>) -> RemoteObject {
    let remote_id = format!("{namespace}/{name}");
    fields.insert("namespace".to_owned(), Value::String(namespace.to_owned()));
    RemoteObject {
        remote_id: remote_id.clone(),
        adoption_key: Some(remote_id),
        fields: mac_core::JsonText::from_map(&fields),
        part_ids: Default::default(),
    }
}

/// The `rule_group` kind over one rules directory and, when configured, its Prometheus.
#[derive(Debug)]
pub(crate) struct RuleGroupKind {
    files: Arc<RuleFiles>,
    server: Option<Arc<Server>>,
    /// The groups' rules in PromQL terms, for `mac test` (`crate::rule_view`, which reads this
    /// module's normal form: handed in by the provider so that neither module imports the other).
    rules: Option<&'static dyn mac_core::rules::RuleView>,
}

impl RuleGroupKind {
    pub(crate) fn new(files: Arc<RuleFiles>, server: Option<Arc<Server>>) -> RuleGroupKind {
        RuleGroupKind { files, server, rules: None }
    }

    /// What [`Kind::rule_view`] answers.
    pub(crate) fn with_rule_view(mut self, rules: &'static dyn mac_core::rules::RuleView) -> RuleGroupKind {
        self.rules = Some(rules);
        self
    }

    async fn remove(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let Place { namespace, name } = place(current);
        let mut edit = self.files.edit().await;
        edit.remove(&namespace, &name)?;
        edit.commit(self.server.as_deref()).await.map_err(|err| locate(err, &name, &namespace))
    }
}

/// Where a recorded group is.
fn place(current: &RemoteObject) -> Place {
    current.fields.parse::<Place>().unwrap_or_else(|_| {
        // A namespace is a file stem: it holds no `/`, so the remote id splits there.
        let (namespace, name) = current.remote_id.split_once('/').unwrap_or_default();
        Place { namespace: namespace.to_owned(), name: name.to_owned() }
    })
}

#[async_trait]
impl Kind for RuleGroupKind {
    type Desired = RuleGroup;
    type Remote = StoredGroup;
    type Comparable = NormalGroup;
    type Context = ();

    fn validate(&self, group: &RuleGroup) -> Result<(), Vec<FieldError>> {
        validate_group(group)
    }

    fn adoption_key(&self, id: &ObjectId, group: &RuleGroup, _refs: &dyn Resolver) -> Option<String> {
        Some(format!("{}/{}", group.namespace, group_name(id, group)))
    }

    fn desired(
        &self,
        id: &ObjectId,
        group: &RuleGroup,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<NormalGroup, FieldError> {
        Ok(NormalGroup::of_definition(group, group_name(id, group)))
    }

    fn observed(&self, remote: &mac_core::Remote<'_, StoredGroup>) -> NormalGroup {
        NormalGroup::of_file(&remote.fields)
    }

    fn describe(&self, remote: &mac_core::Remote<'_, StoredGroup>) -> String {
        let group = &remote.fields;
        let rules = group.rules.as_ref().map_or(0, Vec::len);
        format!(
            "rule group {:?} in namespace {:?}, {rules} rule{}",
            group.name,
            group.namespace,
            if rules == 1 { "" } else { "s" }
        )
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        match path {
            "/rules" => Some("id"),
            _ => None,
        }
    }

    fn import(
        &self,
        remote: &mac_core::Remote<'_, StoredGroup>,
        _refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let normal = NormalGroup::of_file(&remote.fields);
        // What a person would write: the file's form, the namespace first as in the README.
        let Value::Object(fields) = serde_json::to_value(normal.definition()).ok()? else { return None };
        Some(ImportedFields {
            local_id: slug(&format!("{}-{}", normal.namespace, normal.name)),
            fields,
            file: slug(&normal.namespace),
            scope: Some(normal.namespace),
            part_ids: BTreeMap::new(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let mut groups = Vec::new();
        for file in self.files.list()? {
            for group in file.groups {
                let Value::Object(fields) = group else { continue };
                if let Some(name) = fields.get("name").and_then(Value::as_str) {
                    let name = name.to_owned();
                    groups.push(remote_object(&file.namespace, &name, fields));
                }
            }
        }
        Ok(groups)
    }

    /// Writes the group into its file, taking it out of the file it was in when it moved or
    /// was renamed — one transaction, one reload.
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        group: &RuleGroup,
        _refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let namespace = group.namespace.as_str();
        let name = group_name(id, group);
        let wanted = NormalGroup::of_definition(group, name);
        let cannot_write = |err: serde_norway::Error| {
            HandlerError::new(mac_core::HandlerErrorKind::Other, format!("cannot write group `{name}` as YAML"))
                .with_source(err)
        };
        let written = to_yaml(&wanted).map_err(cannot_write)?;
        let mut edit = self.files.edit().await;
        let previous = current.map(place);
        let same_place = previous.as_ref().is_some_and(|old| old.namespace == namespace && old.name == name);
        if let Some(old) = &previous
            && !same_place
        {
            edit.remove(&old.namespace, &old.name)?;
        }
        edit.put(namespace, name, written, !same_place)?;
        edit.commit(self.server.as_deref()).await.map_err(|err| locate(err, name, namespace))?;
        let fields = match serde_json::to_value(wanted.file_form()) {
            Ok(Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        };
        Ok(remote_object(namespace, name, fields))
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        self.remove(current).await
    }

    fn rule_view(&self) -> Option<&dyn mac_core::rules::RuleView> {
        self.rules
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

/// Checks a group as Prometheus' rule file parser would (model/rulefmt), before any write;
/// unknown fields and values of the wrong type were refused when it was read.
/// PromQL itself is checked by promtool (when available) and by Prometheus on apply.
fn validate_group(group: &RuleGroup) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if !valid_namespace(&group.namespace) {
        errors.push(FieldError::at("/namespace", NAMESPACE_MESSAGE));
    }
    if group.name.as_ref().is_some_and(|name| name.trim().is_empty()) {
        errors.push(FieldError::at("/name", "`name` must be a non-empty string"));
    }
    if let Some(interval) = &group.interval {
        match duration::parse(interval) {
            Some(milliseconds) if milliseconds > 0 => {}
            _ => errors.push(FieldError::at("/interval", "`interval` must be a positive duration such as \"1m\"")),
        }
    }
    if group.rules.is_empty() {
        errors.push(FieldError::at("/rules", "a group needs at least one rule ([[…rule_group.rules]] tables)"));
    }
    for (index, rule) in group.rules.iter().enumerate() {
        let at = |field: &str| format!("/rules/{index}{field}");
        let is_alert = match (&rule.alert, &rule.record) {
            (Some(alert), None) => {
                if alert.trim().is_empty() {
                    errors.push(FieldError::at(at("/alert"), "`alert` must be a non-empty string, the alert's name"));
                }
                true
            }
            (None, Some(record)) => {
                if !valid_metric_name(record) {
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
        if rule.expr.trim().is_empty() {
            errors.push(FieldError::at(at("/expr"), "`expr` must be a non-empty PromQL expression"));
        }
        if let Some(for_) = &rule.for_ {
            if !is_alert {
                errors.push(FieldError::at(at("/for"), "`for` is only for alerting rules"));
            } else if duration::parse(for_).is_none() {
                errors.push(FieldError::at(at("/for"), "`for` must be a duration such as \"5m\""));
            }
        }
        if rule.annotations.is_some() && !is_alert {
            errors.push(FieldError::at(at("/annotations"), "`annotations` are only for alerting rules"));
        }
        for (field, map) in [("labels", &rule.labels), ("annotations", &rule.annotations)] {
            for key in map.iter().flat_map(IndexMap::keys).filter(|key| !valid_label_name(key)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use mac_core::{Fields, Handler, Typed};
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

    fn text(value: &Value) -> mac_core::JsonText {
        mac_core::JsonText::from_value(value)
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

    fn handler() -> Typed<RuleGroupKind> {
        Typed(RuleGroupKind::new(
            Arc::new(RuleFiles::new("rules".into(), None, std::time::Duration::from_secs(1))),
            None,
        ))
    }

    #[test]
    fn a_written_group_reads_back_without_a_difference() {
        let normal = NormalGroup::of_definition(&definition(&group()), "http");
        let written = serde_norway::to_string(&to_yaml(&normal).expect("yaml")).expect("text");
        assert_eq!(
            written,
            "name: http\ninterval: 1m\nrules:\n- record: job:requests:rate5m\n  expr: sum by (job) (rate(requests_total[5m]))\n- alert: HighErrors\n  expr: job:errors:rate5m > 0.05\n  for: 5m\n  labels:\n    severity: page\n  annotations:\n    summary: '{{ $labels.job }} fails'\n- alert: HighErrors\n  expr: job:errors:rate5m > 0.2\n  labels:\n    severity: critical\n"
        );
        assert_eq!(NormalGroup::of_file(&from_file("payments", &written)), normal);
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
        assert_eq!(NormalGroup::of_file(&by_hand), NormalGroup::of_definition(&definition(&group()), "http"));
        let scalars = from_file(
            "infra",
            "name: odd\nrules:\n- alert: One\n  expr: 1\n  labels: {level: 5, page: true, empty: }\n",
        );
        let normal = serde_json::to_value(NormalGroup::of_file(&scalars)).expect("json");
        assert_eq!(normal["rules"][0]["expr"], "1");
        assert_eq!(normal["rules"][0]["labels"], json!({ "level": "5", "page": "true", "empty": "" }));
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
        let errors = handler().validate(&text(&bad)).expect_err("invalid");
        let pointers: Vec<&str> = errors.iter().map(|error| error.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/namespace",
                "/interval",
                "/rules/0/for",
                "/rules/1/record",
                "/rules/2/expr",
                "/rules/2/for",
                "/rules/2/labels/bad-name",
            ]
        );
        assert!(handler().validate(&text(&group())).is_ok());
        let neither = json!({ "namespace": "n", "rules": [{ "expr": "up" }] });
        let errors = handler().validate(&text(&neither)).expect_err("neither alert nor record");
        assert_eq!(errors[0].pointer, "/rules/0");
        let none = handler().validate(&text(&json!({ "namespace": "n" }))).expect_err("no rules");
        assert_eq!(none[0].pointer, "/rules");
    }

    #[test]
    fn fields_of_the_wrong_shape_are_refused_where_they_are() {
        let refused = |change: &dyn Fn(&mut Value)| {
            let mut bad = group();
            change(&mut bad);
            let errors = handler().validate(&text(&bad)).expect_err("refused");
            assert_eq!(errors.len(), 1, "{errors:?}");
            (errors[0].pointer.clone(), errors[0].message.clone())
        };
        let (pointer, message) = refused(&|bad| bad["rules"][2]["colour"] = json!("red"));
        assert_eq!(pointer, "/rules/2/colour");
        assert!(message.starts_with("unknown field `colour`, expected one of `alert`"), "{message}");
        assert_eq!(
            refused(&|bad| bad["namespace"] = json!(5)),
            ("/namespace".to_owned(), NAMESPACE_MESSAGE.to_owned())
        );
        assert_eq!(
            refused(&|bad| bad["limit"] = json!(-1)),
            ("/limit".to_owned(), "`limit` must be a whole number (0: no limit)".to_owned())
        );
        assert_eq!(
            refused(&|bad| bad["rules"][1]["expr"] = json!(1)).1,
            "`expr` must be a non-empty PromQL expression"
        );
        let (pointer, message) = refused(&|bad| bad["rules"][1]["annotations"] = json!({ "summary": 1 }));
        assert!(pointer.starts_with("/rules/1/annotations"), "{pointer}");
        assert_eq!(message, "`annotations` must be a table of strings");
        let (pointer, message) = refused(&|bad| bad["rules"][0] = json!("up"));
        assert_eq!(pointer, "/rules/0");
        assert!(message.ends_with("expected a rule table"), "{message}");
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
        let read: Value = serde_norway::from_str(
            "name: Node Health\nrules:\n- alert: Down\n  expr: up == 0\n  for: 120s\n  labels: {}\n",
        )
        .expect("parse");
        struct NoRefs;
        impl ImportRefs for NoRefs {
            fn local_id(&self, _: &str, _: &str) -> Option<&str> {
                None
            }
        }
        let remote = remote_object("infra", "Node Health", fields(&read));
        let imported = handler()
            .import(&remote, &NoRefs, &handler().prepare_context(&Value::Null).expect("context"))
            .expect("imported");
        assert_eq!(imported.local_id, "infra-node-health");
        assert_eq!(imported.file, "infra");
        assert_eq!(
            Value::Object(imported.fields.clone()),
            json!({ "namespace": "infra", "name": "Node Health", "rules": [{ "alert": "Down", "expr": "up == 0", "for": "2m" }] })
        );
        // Typed: what import writes is a definition.
        assert_eq!(definition(&Value::Object(imported.fields)).rules[0].for_.as_deref(), Some("2m"));
    }
}
