//! `alert_group` rules in PromQL terms ([`mac_core::rules`]), for `mac test`'s comparison of
//! Grafana rules with their Prometheus twins.
//!
//! A rule's condition becomes one PromQL expression: each `$X` of a math expression becomes
//! `(query X)`, `&&` becomes `and`, `||` becomes `or`; a `threshold` expression becomes
//! `(X) > N` (or `<`); a `reduce` expression is taken as its input (exact for the instant
//! queries that a reduce of one sample sees). Grafana's math matches the series of `$A && $B`
//! by labels as PromQL's `and` does only when the queries return series with the same labels
//! (or one series each). Expression types other than math, threshold and reduce (classic
//! conditions, resample) are reported as not compared.

use std::collections::BTreeMap;

use mac_core::Fields;
use mac_core::rules::{AlertRule, Evaluator, RuleView, TranslatedSystem};
use serde_json::{Map, Value};

use crate::alert_group::{AlertGroup, AlertRule as GrafanaRule};

/// The [`RuleView`] of `alert_group` definitions.
#[derive(Debug)]
pub(crate) struct AlertGroupRules;

impl RuleView for AlertGroupRules {
    fn evaluator(&self) -> Evaluator {
        Evaluator::Translated(TranslatedSystem { name: "Grafana", no_data_setting: ("no_data_state", "Alerting") })
    }

    fn alert_rules(&self, local_id: &str, fields: &Fields) -> Vec<AlertRule> {
        // `mac test` sees loaded definitions, which the kind validated: one that does not parse
        // has no rules to show.
        let Ok(group) = mac_core::kind::parse_definition::<AlertGroup>(fields) else { return Vec::new() };
        group
            .rules
            .iter()
            .map(|rule| {
                let title = rule.id.as_deref().unwrap_or(&rule.title);
                AlertRule {
                    name: format!("{local_id}/{}", if title.is_empty() { "?" } else { title }),
                    runbook_url: rule.annotations.get("runbook_url").cloned(),
                    expr: condition_as_promql(rule),
                    for_ms: rule.for_.as_deref().map_or(Some(0), duration),
                    labels: rule.labels.clone(),
                    fires_on_no_data: rule.no_data_state.as_deref() == Some("Alerting"),
                }
            })
            .collect()
    }

    fn rule_count(&self, fields: &Fields) -> usize {
        mac_core::kind::parse_definition::<AlertGroup>(fields).map_or(0, |group| group.rules.len())
    }
}

fn duration(text: &str) -> Option<u64> {
    mac_core::duration::parse(text.trim())
}

/// The rule's condition as one PromQL expression.
fn condition_as_promql(rule: &GrafanaRule) -> Result<String, String> {
    let data: BTreeMap<&str, &Map<String, Value>> =
        rule.data.iter().filter_map(|query| Some((query.ref_id.as_str(), query.model.as_ref()?))).collect();
    if rule.condition.is_empty() {
        return Err("no condition".to_owned());
    }
    expand(&rule.condition, &data, 0)
}

/// A query's or expression's model is Grafana's free-form JSON: read as such.
fn expand(ref_id: &str, data: &BTreeMap<&str, &Map<String, Value>>, depth: usize) -> Result<String, String> {
    if depth > 16 {
        return Err(format!("expressions refer to each other in a cycle through {ref_id}"));
    }
    let model = data.get(ref_id).ok_or_else(|| format!("no query or expression {ref_id}"))?;
    if let Some(expr) = model.get("expr").and_then(Value::as_str) {
        return Ok(format!("({expr})"));
    }
    let kind = model.get("type").and_then(Value::as_str).unwrap_or("");
    let expression = model.get("expression").and_then(Value::as_str).unwrap_or("");
    match kind {
        "math" => {
            let mut out = String::new();
            let mut chars = expression.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '$' => {
                        let braced = chars.peek() == Some(&'{');
                        if braced {
                            chars.next();
                        }
                        let mut name = String::new();
                        while let Some(&next) = chars.peek() {
                            if next.is_alphanumeric() || next == '_' {
                                name.push(next);
                                chars.next();
                            } else {
                                break;
                            }
                        }
                        if braced {
                            chars.next();
                        }
                        out.push_str(&expand(&name, data, depth + 1)?);
                    }
                    '&' if chars.peek() == Some(&'&') => {
                        chars.next();
                        out.push_str(" and ");
                    }
                    '|' if chars.peek() == Some(&'|') => {
                        chars.next();
                        out.push_str(" or ");
                    }
                    other => out.push(other),
                }
            }
            Ok(out)
        }
        "reduce" => expand(expression.trim_start_matches('$'), data, depth + 1),
        "threshold" => {
            let input = expand(expression.trim_start_matches('$'), data, depth + 1)?;
            let evaluator = &model.get("conditions").unwrap_or(&Value::Null)[0]["evaluator"];
            let threshold = evaluator["params"][0].as_f64().ok_or("a threshold without a number")?;
            let op = match evaluator["type"].as_str() {
                Some("gt") => ">",
                Some("lt") => "<",
                other => return Err(format!("threshold evaluator {other:?} is not compared")),
            };
            Ok(format!("{input} {op} {threshold}"))
        }
        other => Err(format!("expression type `{other}` ({ref_id}) is not compared")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(group: &Value) -> Vec<AlertRule> {
        AlertGroupRules.alert_rules("g", group.as_object().expect("an object"))
    }

    #[test]
    fn a_math_condition_is_its_queries_joined_as_promql() {
        let group = json!({ "folder": "f", "rules": [{
            "id": "burn", "condition": "C", "for": "2m", "no_data_state": "Alerting",
            "labels": { "severity": "page" }, "annotations": { "runbook_url": "https://r/#burn" },
            "data": [
                { "ref_id": "A", "model": { "expr": "rate(x_total[1h])" } },
                { "ref_id": "B", "model": { "expr": "up{job=\"a\"}" } },
                { "ref_id": "C", "model": { "type": "math", "expression": "$A > 14.4 && ${B} < 1 || $B == 2" } },
            ],
        }]});
        let rules = view(&group);
        assert_eq!(
            rules,
            [AlertRule {
                name: "g/burn".to_owned(),
                runbook_url: Some("https://r/#burn".to_owned()),
                // The spaces around `&&` and `||` stay: the comparison ignores them.
                expr: Ok("(rate(x_total[1h])) > 14.4  and  (up{job=\"a\"}) < 1  or  (up{job=\"a\"}) == 2".to_owned()),
                for_ms: Some(120_000),
                labels: BTreeMap::from([("severity".to_owned(), "page".to_owned())]),
                fires_on_no_data: true,
            }]
        );
        assert_eq!(AlertGroupRules.rule_count(group.as_object().expect("an object")), 1);
    }

    #[test]
    fn reduce_and_threshold_expressions_are_their_input() {
        let group = json!({ "folder": "f", "rules": [{
            "title": "Latency", "condition": "C",
            "data": [
                { "ref_id": "A", "model": { "expr": "histogram_quantile(0.95, x)" } },
                { "ref_id": "B", "model": { "type": "reduce", "expression": "$A" } },
                { "ref_id": "C", "model": { "type": "threshold", "expression": "$B",
                    "conditions": [{ "evaluator": { "type": "gt", "params": [0.5] } }] } },
            ],
        }]});
        let rule = view(&group).remove(0);
        assert_eq!(rule.name, "g/Latency");
        assert_eq!(rule.expr, Ok("(histogram_quantile(0.95, x)) > 0.5".to_owned()));
        assert_eq!((rule.for_ms, rule.fires_on_no_data, rule.runbook_url), (Some(0), false, None));
    }

    #[test]
    fn conditions_that_cannot_be_promql_say_why() {
        let group = json!({ "folder": "f", "rules": [
            { "id": "a", "condition": "A", "data": [{ "ref_id": "A", "model": { "type": "classic_conditions" } }] },
            { "id": "b", "condition": "A", "data": [{ "ref_id": "A", "model": { "type": "math", "expression": "$A" } }] },
            { "id": "c", "data": [] },
            { "id": "d", "condition": "Z", "data": [] },
        ]});
        let whys: Vec<Result<String, String>> = view(&group).into_iter().map(|rule| rule.expr).collect();
        assert_eq!(
            whys,
            [
                Err("expression type `classic_conditions` (A) is not compared".to_owned()),
                Err("expressions refer to each other in a cycle through A".to_owned()),
                Err("no condition".to_owned()),
                Err("no query or expression Z".to_owned()),
            ]
        );
    }

    #[test]
    fn rules_of_a_group_whose_fields_are_references_are_still_shown() {
        let group = json!({ "folder": { "ref": "folder.f", "field": "uid" }, "rules": [{
            "title": "Down", "condition": "A", "for": { "ref": "folder.f", "field": "title" },
            "data": [{ "ref_id": "A", "datasource": { "ref": "datasource.prom", "field": "uid" },
                       "model": { "expr": "up == 0" } }],
        }]});
        let rules = view(&group);
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert_eq!(rules[0].expr, Ok("(up == 0)".to_owned()));
    }
}
