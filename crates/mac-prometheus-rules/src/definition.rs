//! The definitions' typed fields ([`RuleGroup`], [`Rule`]) and what Prometheus' rule file
//! parser (`model/rulefmt`) would refuse of them ([`validate_group`]), located at the field.

use indexmap::IndexMap;
use mac_core::FieldError;
use mac_core::duration;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

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
        /// Reads the field, saying what it must be in the kind's words when it cannot.
        pub fn $function<'de, D: Deserializer<'de>>(deserializer: D) -> Result<$type, D::Error> {
            <$type>::deserialize(deserializer).map_err(|_| D::Error::custom($message))
        }
    };
}

pub const NAMESPACE_MESSAGE: &str = "`namespace` names the rule file (<rules_dir>/<namespace>.yml): letters, digits, `_`, `-` and `.`, not starting with a dot";
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

/// The `[[prometheus.rule_group.rules]]` tables.
fn rule_tables<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Rule>, D::Error> {
    mac_core::kind::list_of_tables(deserializer, "prometheus.rule_group.rules")
}

/// A namespace names a file (or a ruler's namespace, in a URL path): letters, digits, `_`, `-` and `.`, not starting with a dot.
pub fn valid_namespace(namespace: &str) -> bool {
    !namespace.is_empty()
        && namespace.len() <= 200
        && !namespace.starts_with('.')
        && namespace.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A metric name, as a recording rule's `record` must be (it may hold colons).
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks a group as Prometheus' rule file parser would (model/rulefmt), before any write;
/// unknown fields and values of the wrong type were refused when it was read.
/// PromQL itself is checked by promtool (when available) and by Prometheus on apply.
pub fn validate_group(group: &RuleGroup) -> Result<(), Vec<FieldError>> {
    validate_group_with(group, NAMESPACE_MESSAGE)
}

/// [`validate_group`], with what a bad namespace is told in the caller's words (a ruler's
/// namespace is no file).
pub fn validate_group_with(group: &RuleGroup, namespace_message: &str) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if !valid_namespace(&group.namespace) {
        errors.push(FieldError::at("/namespace", namespace_message));
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
