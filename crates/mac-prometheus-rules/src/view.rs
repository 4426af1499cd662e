//! Rule groups in PromQL terms ([`mac_core::rules`]), for `mac test`: their alerting rules,
//! the reference side of a comparison with Grafana twins, and the rule files an apply would
//! write, which promtool unit-tests.
//!
//! Plain functions over definitions' fields (no provider instance, no I/O), so that the rules
//! under test are byte for byte those `mac apply` writes. A definition of any kind whose fields
//! are a [`RuleGroup`]'s (namespace, name, interval, limit, rules) is viewed.

use std::collections::BTreeMap;

use mac_core::Fields;
use mac_core::rules::{AlertRule, Evaluator, RuleFilesError, RuleView};
use serde_norway::{Mapping, Value as Yaml};

use crate::definition::RuleGroup;
use crate::normal::{NormalGroup, to_yaml};

/// The [`RuleView`] of rule group definitions: their rule files are `<namespace>.yml`, each
/// starting with `header` (a comment, or nothing).
#[derive(Debug)]
pub struct RuleGroupRules {
    pub header: &'static str,
}

impl RuleView for RuleGroupRules {
    fn evaluator(&self) -> Evaluator {
        Evaluator::Prometheus
    }

    fn alert_rules(&self, local_id: &str, fields: &Fields) -> Vec<AlertRule> {
        // `mac test` sees loaded definitions, which the kind validated: one that does not parse
        // has no rules to show.
        let Ok(group) = mac_core::kind::parse_definition::<RuleGroup>(fields) else { return Vec::new() };
        group
            .rules
            .iter()
            .filter_map(|rule| {
                let alert = rule.alert.as_deref()?;
                Some(AlertRule {
                    name: format!("{local_id}/{alert}"),
                    runbook_url: rule
                        .annotations
                        .as_ref()
                        .and_then(|annotations| annotations.get("runbook_url"))
                        .cloned(),
                    expr: if rule.expr.is_empty() { Err("no expr".to_owned()) } else { Ok(rule.expr.clone()) },
                    for_ms: rule.for_.as_deref().map_or(Some(0), |text| mac_core::duration::parse(text.trim())),
                    labels: rule.labels.iter().flatten().map(|(key, value)| (key.clone(), value.clone())).collect(),
                    fires_on_no_data: false,
                })
            })
            .collect()
    }

    fn rule_count(&self, fields: &Fields) -> usize {
        mac_core::kind::parse_definition::<RuleGroup>(fields).map_or(0, |group| group.rules.len())
    }

    fn rule_files(&self, definitions: &[(&str, &Fields)]) -> Result<BTreeMap<String, String>, RuleFilesError> {
        rule_files(self.header, definitions)
    }
}

/// The rule files these groups (local id, fields) make when applied to an empty rules
/// directory: file name (`<namespace>.yml`) → its text, each file's groups in the order given.
fn rule_files(header: &str, groups: &[(&str, &Fields)]) -> Result<BTreeMap<String, String>, RuleFilesError> {
    let mut files: BTreeMap<String, Vec<Yaml>> = BTreeMap::new();
    for (local_id, fields) in groups {
        let definition = mac_core::kind::parse_definition::<RuleGroup>(fields)
            .map_err(|err| RuleFilesError { message: format!("rule group `{local_id}`: {err}"), source: None })?;
        let namespace = definition.namespace.as_str();
        let name = definition.name.as_deref().unwrap_or(local_id);
        let written = to_yaml(&NormalGroup::of_definition(&definition, name)).map_err(|source| RuleFilesError {
            message: format!("cannot write rule group `{namespace}/{name}` as YAML"),
            source: Some(Box::new(source)),
        })?;
        files.entry(format!("{namespace}.yml")).or_default().push(written);
    }
    files
        .into_iter()
        .map(|(file, groups)| {
            let mut document = Mapping::new();
            document.insert(Yaml::String("groups".to_owned()), Yaml::Sequence(groups));
            let text = serde_norway::to_string(&Yaml::Mapping(document)).map_err(|source| RuleFilesError {
                message: format!("cannot write {file} as YAML"),
                source: Some(Box::new(source)),
            })?;
            Ok((file, format!("{header}{text}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const HEADER: &str = "# a header\n";
    const RULES: RuleGroupRules = RuleGroupRules { header: HEADER };
    use serde_json::json;

    fn fields(value: &Value) -> &Fields {
        value.as_object().expect("an object")
    }

    #[test]
    fn rule_files_are_what_an_apply_writes() {
        let slo = json!({
            "namespace": "payments", "name": "slo", "interval": "60s",
            "rules": [{ "alert": "Down", "expr": " up == 0 ", "for": "120s", "labels": { "severity": "page" } }]
        });
        let other = json!({ "namespace": "payments", "rules": [{ "record": "a:b", "expr": "sum(a)" }] });
        let files = RULES.rule_files(&[("slo", fields(&slo)), ("recorded", fields(&other))]).expect("rule files");
        assert_eq!(files.keys().collect::<Vec<_>>(), ["payments.yml"]);
        let expected = format!(
            "{HEADER}groups:\n- name: slo\n  interval: 1m\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 2m\n    labels:\n      severity: page\n- name: recorded\n  rules:\n  - record: a:b\n    expr: sum(a)\n"
        );
        assert_eq!(files["payments.yml"], expected);
    }

    #[test]
    fn alerting_rules_are_viewed_and_recording_rules_only_counted() {
        let group = json!({ "rules": [
            { "alert": "Down", "expr": "up == 0", "for": "2m", "labels": { "severity": "page" },
              "annotations": { "runbook_url": "https://r/#down" } },
            { "record": "a:b", "expr": "sum(a)" },
            { "alert": "Quiet" },
        ]});
        let rules = RULES.alert_rules("slo", fields(&group));
        assert_eq!(
            rules,
            [
                AlertRule {
                    name: "slo/Down".to_owned(),
                    runbook_url: Some("https://r/#down".to_owned()),
                    expr: Ok("up == 0".to_owned()),
                    for_ms: Some(120_000),
                    labels: BTreeMap::from([("severity".to_owned(), "page".to_owned())]),
                    fires_on_no_data: false,
                },
                AlertRule {
                    name: "slo/Quiet".to_owned(),
                    runbook_url: None,
                    expr: Err("no expr".to_owned()),
                    for_ms: Some(0),
                    labels: BTreeMap::new(),
                    fires_on_no_data: false,
                },
            ]
        );
        assert_eq!(RULES.rule_count(fields(&group)), 3);
    }
}
