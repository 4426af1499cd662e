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
use serde_json::Value;

/// The [`RuleView`] of `alert_group` definitions.
#[derive(Debug)]
pub(crate) struct AlertGroupRules;

impl RuleView for AlertGroupRules {
    fn evaluator(&self) -> Evaluator {
        Evaluator::Translated(TranslatedSystem { name: "Grafana", no_data_setting: ("no_data_state", "Alerting") })
    }

    fn alert_rules(&self, local_id: &str, fields: &Fields) -> Vec<AlertRule> {
        rules(fields)
            .map(|rule| {
                let title = rule.get("id").or_else(|| rule.get("title")).and_then(Value::as_str).unwrap_or("?");
                AlertRule {
                    name: format!("{local_id}/{title}"),
                    runbook_url: rule
                        .get("annotations")
                        .and_then(|annotations| annotations.get("runbook_url"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    expr: condition_as_promql(rule),
                    for_ms: rule.get("for").and_then(Value::as_str).map_or(Some(0), duration),
                    labels: string_map(rule.get("labels")),
                    fires_on_no_data: rule.get("no_data_state").and_then(Value::as_str) == Some("Alerting"),
                }
            })
            .collect()
    }

    fn rule_count(&self, fields: &Fields) -> usize {
        rules(fields).count()
    }
}

fn rules(fields: &Fields) -> impl Iterator<Item = &Value> {
    fields.get("rules").and_then(Value::as_array).into_iter().flatten()
}

fn duration(text: &str) -> Option<u64> {
    mac_core::duration::parse(text.trim())
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(key, value)| (key.clone(), value.as_str().map_or_else(|| value.to_string(), str::to_owned)))
        .collect()
}

/// The rule's condition as one PromQL expression.
fn condition_as_promql(rule: &Value) -> Result<String, String> {
    let data: BTreeMap<&str, &Value> = rule
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|query| Some((query.get("ref_id")?.as_str()?, query.get("model")?)))
        .collect();
    let condition = rule.get("condition").and_then(Value::as_str).ok_or("no condition")?;
    expand(condition, &data, 0)
}

fn expand(ref_id: &str, data: &BTreeMap<&str, &Value>, depth: usize) -> Result<String, String> {
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
            let evaluator = &model["conditions"][0]["evaluator"];
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
        let group = json!({ "rules": [{
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
        let group = json!({ "rules": [{
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
        let group = json!({ "rules": [
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
}
