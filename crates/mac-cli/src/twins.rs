//! Grafana and Prometheus twins: a Grafana 8 alert rule and a Prometheus alerting rule that
//! a project defines for the same alert (a bundle rendered for both targets), checked for
//! the equivalence of their PromQL by `mac test`.
//!
//! **Pairing.** Two rules are twins when they carry the same `runbook_url` annotation, and
//! that URL is on exactly one alert rule on each side. A runbook entry per alert is what
//! both renderings of a bundle share; rules without a twin are counted, not checked.
//!
//! **Equivalence.** The Grafana rule's condition is turned into one PromQL expression: each
//! `$X` of a math expression becomes `(query X)`, `&&` becomes `and`, `||` becomes `or`; a
//! `threshold` expression becomes `(X) > N` (or `<`); a `reduce` expression is taken as its
//! input (exact for the instant queries that a reduce of one sample sees). Both expressions
//! are then reduced to a signature, and the twins are equivalent when the signatures are:
//! - the same series selectors (metric name, label matchers, range), as multisets;
//! - the same thresholds (comparison operator and number), as multisets;
//! - the same functions and aggregations with their `by`/`without` labels, and the same
//!   other numbers (quantiles, objectives) and set operators (`and`, `or`, `unless`);
//! - the same `for` (as a duration) and the same labels.
//!
//! Grafana's `no_data_state = "Alerting"` is taken as equivalent to `or absent(…)` in the
//! Prometheus expression (and required to be there): the `absent` call, its selectors and
//! its `or` are left out of the comparison. What is approximate: the expressions' structure
//! (operator precedence, which side of an operator a selector is on, parentheses) is not
//! compared, only what is in them; Grafana's math matches series of `$A && $B` by labels as
//! PromQL's `and` does only when the queries return series with the same labels (or one
//! series each, as the django bundle's do); expression types other than math, threshold
//! and reduce (classic conditions, resample) are reported as not compared.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One alert rule of either side, as the check needs it.
#[derive(Debug, Clone)]
pub struct AlertRule {
    /// `group/rule` for messages.
    pub name: String,
    pub runbook_url: Option<String>,
    /// The rule's PromQL, or why it could not be made.
    pub expr: Result<String, String>,
    pub for_ms: Option<u64>,
    pub labels: BTreeMap<String, String>,
    /// Grafana: `no_data_state = "Alerting"`.
    pub fires_on_no_data: bool,
}

/// The check of one pair.
#[derive(Debug)]
pub struct Pair {
    pub grafana: String,
    pub prometheus: String,
    /// Empty when the twins are equivalent.
    pub differences: Vec<String>,
}

/// The outcome for a project.
#[derive(Debug, Default)]
pub struct Report {
    pub pairs: Vec<Pair>,
    pub unpaired_grafana: Vec<String>,
    pub unpaired_prometheus: Vec<String>,
}

/// The alert rules of `grafana8.alert_group` definitions' fields (id, fields).
pub fn grafana_rules<'a>(groups: impl IntoIterator<Item = (&'a str, &'a Map<String, Value>)>) -> Vec<AlertRule> {
    let mut rules = Vec::new();
    for (group_id, group) in groups {
        for rule in group.get("rules").and_then(Value::as_array).into_iter().flatten() {
            let title = rule.get("id").or_else(|| rule.get("title")).and_then(Value::as_str).unwrap_or("?");
            rules.push(AlertRule {
                name: format!("{group_id}/{title}"),
                runbook_url: annotation(rule, "runbook_url"),
                expr: grafana_expr(rule),
                for_ms: rule.get("for").and_then(Value::as_str).map_or(Some(0), parse_duration),
                labels: string_map(rule.get("labels")),
                fires_on_no_data: rule.get("no_data_state").and_then(Value::as_str) == Some("Alerting"),
            });
        }
    }
    rules
}

/// The alerting rules of `prometheus.rule_group` definitions' fields (id, fields).
pub fn prometheus_rules<'a>(groups: impl IntoIterator<Item = (&'a str, &'a Map<String, Value>)>) -> Vec<AlertRule> {
    let mut rules = Vec::new();
    for (group_id, group) in groups {
        for rule in group.get("rules").and_then(Value::as_array).into_iter().flatten() {
            let Some(alert) = rule.get("alert").and_then(Value::as_str) else { continue };
            rules.push(AlertRule {
                name: format!("{group_id}/{alert}"),
                runbook_url: annotation(rule, "runbook_url"),
                expr: rule.get("expr").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| "no expr".to_owned()),
                for_ms: rule.get("for").and_then(Value::as_str).map_or(Some(0), parse_duration),
                labels: string_map(rule.get("labels")),
                fires_on_no_data: false,
            });
        }
    }
    rules
}

/// Pairs the rules by `runbook_url` and compares each pair.
pub fn check(grafana: &[AlertRule], prometheus: &[AlertRule]) -> Report {
    let unique = |rules: &[AlertRule]| -> BTreeMap<String, usize> {
        let mut counts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, rule) in rules.iter().enumerate() {
            if let Some(url) = &rule.runbook_url {
                counts.entry(url.clone()).or_default().push(index);
            }
        }
        counts.into_iter().filter(|(_, indices)| indices.len() == 1).map(|(url, indices)| (url, indices[0])).collect()
    };
    let grafana_urls = unique(grafana);
    let prometheus_urls = unique(prometheus);
    let mut report = Report::default();
    let mut paired_prometheus = vec![false; prometheus.len()];
    for (index, rule) in grafana.iter().enumerate() {
        let twin = rule
            .runbook_url
            .as_ref()
            .filter(|url| grafana_urls.get(*url) == Some(&index))
            .and_then(|url| prometheus_urls.get(url));
        match twin {
            Some(&twin) => {
                paired_prometheus[twin] = true;
                report.pairs.push(Pair {
                    grafana: rule.name.clone(),
                    prometheus: prometheus[twin].name.clone(),
                    differences: compare(rule, &prometheus[twin]),
                });
            }
            None => report.unpaired_grafana.push(rule.name.clone()),
        }
    }
    for (rule, paired) in prometheus.iter().zip(paired_prometheus) {
        if !paired {
            report.unpaired_prometheus.push(rule.name.clone());
        }
    }
    report
}

fn compare(grafana: &AlertRule, prometheus: &AlertRule) -> Vec<String> {
    let mut differences = Vec::new();
    match (&grafana.expr, &prometheus.expr) {
        (Err(why), _) => differences.push(format!("the Grafana condition is not compared: {why}")),
        (_, Err(why)) => differences.push(format!("the Prometheus expression is not compared: {why}")),
        (Ok(grafana_expr), Ok(prometheus_expr)) => {
            let grafana_signature = Signature::of(grafana_expr);
            let mut prometheus_signature = Signature::of(prometheus_expr);
            match (grafana.fires_on_no_data, prometheus_signature.absent.is_empty()) {
                (true, true) => differences.push(
                    "Grafana fires on no data (no_data_state = Alerting); the Prometheus expression has no `or absent(…)`"
                        .to_owned(),
                ),
                (false, false) => differences.push(
                    "the Prometheus expression fires on absent series (`absent(…)`); the Grafana rule's no_data_state is not Alerting"
                        .to_owned(),
                ),
                (true, false) => {
                    // `X or absent(Y)`: the `or` that joins the absent clause is Grafana's NoData state.
                    if let Some(position) = prometheus_signature.set_operators.iter().position(|op| op == "or") {
                        prometheus_signature.set_operators.remove(position);
                    }
                }
                (false, true) => {}
            }
            let parts: [(&str, &Vec<String>, &Vec<String>); 5] = [
                ("selectors", &grafana_signature.selectors, &prometheus_signature.selectors),
                ("thresholds", &grafana_signature.thresholds, &prometheus_signature.thresholds),
                ("functions", &grafana_signature.functions, &prometheus_signature.functions),
                ("other numbers", &grafana_signature.numbers, &prometheus_signature.numbers),
                ("set operators", &grafana_signature.set_operators, &prometheus_signature.set_operators),
            ];
            for (what, left, right) in parts {
                let (only_left, only_right) = multiset_difference(left, right);
                if !only_left.is_empty() || !only_right.is_empty() {
                    differences.push(format!(
                        "{what}: only in Grafana [{}], only in Prometheus [{}]",
                        only_left.join(", "),
                        only_right.join(", ")
                    ));
                }
            }
        }
    }
    if grafana.for_ms != prometheus.for_ms {
        let show =
            |ms: Option<u64>| ms.map_or_else(|| "(unreadable)".to_owned(), |ms| format!("{}s", ms as f64 / 1000.0));
        differences.push(format!("for: Grafana {}, Prometheus {}", show(grafana.for_ms), show(prometheus.for_ms)));
    }
    if grafana.labels != prometheus.labels {
        differences.push(format!("labels: Grafana {:?}, Prometheus {:?}", grafana.labels, prometheus.labels));
    }
    differences
}

fn multiset_difference(left: &[String], right: &[String]) -> (Vec<String>, Vec<String>) {
    let mut remaining: Vec<&String> = right.iter().collect();
    let mut only_left = Vec::new();
    for item in left {
        match remaining.iter().position(|other| *other == item) {
            Some(position) => {
                remaining.remove(position);
            }
            None => only_left.push(item.clone()),
        }
    }
    (only_left, remaining.into_iter().cloned().collect())
}

fn annotation(rule: &Value, name: &str) -> Option<String> {
    rule.get("annotations").and_then(|annotations| annotations.get(name)).and_then(Value::as_str).map(str::to_owned)
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(key, value)| (key.clone(), value.as_str().map_or_else(|| value.to_string(), str::to_owned)))
        .collect()
}

/// The Grafana rule's condition as one PromQL expression.
fn grafana_expr(rule: &Value) -> Result<String, String> {
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

/// A Prometheus duration (`1h30m`, `90s`, `500ms`) in milliseconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "0" {
        return Some(0);
    }
    let mut total = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(number.checked_mul(factor)?)?;
    }
    (!text.is_empty()).then_some(total)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Number(f64),
    Duration(String),
    Str(String),
    Op(String),
    Punct(char),
}

fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' || c == '`' {
            let mut value = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && c != '`' && i + 1 < chars.len() {
                    i += 1;
                }
                value.push(chars[i]);
                i += 1;
            }
            i += 1;
            tokens.push(Token::Str(value));
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match word.parse::<f64>() {
                Ok(number) => tokens.push(Token::Number(number)),
                Err(_) => tokens.push(Token::Duration(canonical_duration(&word))),
            }
        } else if c.is_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if "(){}[],".contains(c) {
            if c == '[' {
                // A range or subquery: its durations, canonical.
                let start = i + 1;
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
                let inner: String = chars[start..i.min(chars.len())].iter().collect();
                let range: Vec<String> = inner.split(':').map(|part| canonical_duration(part.trim())).collect();
                tokens.push(Token::Duration(format!("[{}]", range.join(":"))));
            } else {
                tokens.push(Token::Punct(c));
            }
            i += 1;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["==", "!=", ">=", "<=", "=~", "!~"].contains(&two.as_str()) {
                tokens.push(Token::Op(two));
                i += 2;
            } else {
                tokens.push(Token::Op(c.to_string()));
                i += 1;
            }
        }
    }
    tokens
}

fn canonical_duration(text: &str) -> String {
    parse_duration(text).map_or_else(|| text.to_owned(), |ms| format!("{ms}ms"))
}

fn number(value: f64) -> String {
    format!("{value}")
}

/// What an expression is made of; see the module's comment.
#[derive(Debug, Default)]
struct Signature {
    selectors: Vec<String>,
    thresholds: Vec<String>,
    functions: Vec<String>,
    numbers: Vec<String>,
    set_operators: Vec<String>,
    /// Selectors inside `absent(…)`.
    absent: Vec<String>,
}

const KEYWORDS: [&str; 10] =
    ["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or"];

impl Signature {
    fn of(expr: &str) -> Signature {
        let tokens = tokenize(expr);
        let mut signature = Signature::default();
        // The parenthesis depth at which an `absent(` call closes, while inside one.
        let mut absent_until: Option<usize> = None;
        let mut depth = 0usize;
        let mut i = 0;
        while i < tokens.len() {
            let next = tokens.get(i + 1);
            match &tokens[i] {
                Token::Punct('(') => depth += 1,
                Token::Punct(')') => {
                    depth = depth.saturating_sub(1);
                    if absent_until == Some(depth) {
                        absent_until = None;
                    }
                }
                Token::Ident(word) if ["and", "or", "unless"].contains(&word.as_str()) => {
                    signature.set_operators.push(word.clone());
                }
                Token::Ident(word)
                    if ["by", "without", "on", "ignoring", "group_left", "group_right"].contains(&word.as_str()) =>
                {
                    let mut labels = Vec::new();
                    if next == Some(&Token::Punct('(')) {
                        i += 2;
                        while i < tokens.len() && tokens[i] != Token::Punct(')') {
                            if let Token::Ident(label) = &tokens[i] {
                                labels.push(label.clone());
                            }
                            i += 1;
                        }
                    }
                    labels.sort();
                    signature.functions.push(format!("{word} ({})", labels.join(", ")));
                }
                Token::Ident(word) if KEYWORDS.contains(&word.as_str()) => {}
                Token::Ident(word) if next == Some(&Token::Punct('(')) => {
                    if word == "absent" && absent_until.is_none() {
                        absent_until = Some(depth);
                    } else if absent_until.is_none() {
                        signature.functions.push(word.clone());
                    }
                }
                Token::Ident(_) | Token::Punct('{') => {
                    let (selector, end) = selector(&tokens, i);
                    i = end;
                    if absent_until.is_some() {
                        signature.absent.push(selector);
                    } else {
                        signature.selectors.push(selector);
                    }
                    continue;
                }
                Token::Op(op) if ["==", "!=", ">", "<", ">=", "<="].contains(&op.as_str()) => {
                    let mut j = i + 1;
                    if tokens.get(j) == Some(&Token::Ident("bool".to_owned())) {
                        j += 1;
                    }
                    if let Some(Token::Number(value)) = tokens.get(j) {
                        signature.thresholds.push(format!("{op} {}", number(*value)));
                        i = j + 1;
                        continue;
                    }
                    signature.thresholds.push(format!("{op} (an expression)"));
                }
                Token::Number(value) if absent_until.is_none() => signature.numbers.push(number(*value)),
                _ => {}
            }
            i += 1;
        }
        signature.selectors.sort();
        signature.thresholds.sort();
        signature.functions.sort();
        signature.numbers.sort();
        signature.set_operators.sort();
        signature
    }
}

/// The selector starting at `tokens[start]` (a metric name and/or `{…}`, and a range), in a
/// canonical spelling, and the index after it.
fn selector(tokens: &[Token], start: usize) -> (String, usize) {
    let mut i = start;
    let mut name = String::new();
    if let Token::Ident(word) = &tokens[i] {
        name = word.clone();
        i += 1;
    }
    let mut matchers = Vec::new();
    if tokens.get(i) == Some(&Token::Punct('{')) {
        i += 1;
        while i < tokens.len() && tokens[i] != Token::Punct('}') {
            if let (Some(Token::Ident(label)), Some(Token::Op(op)), Some(Token::Str(value))) =
                (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
            {
                if label == "__name__" && op == "=" {
                    name = value.clone();
                } else {
                    matchers.push(format!("{label}{op}{value:?}"));
                }
                i += 3;
            } else {
                i += 1;
            }
        }
        i += 1;
    }
    matchers.sort();
    let mut spelled = format!("{name}{{{}}}", matchers.join(", "));
    if let Some(Token::Duration(range)) = tokens.get(i)
        && range.starts_with('[')
    {
        spelled.push_str(range);
        i += 1;
    }
    (spelled, i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grafana(expression: &str, no_data: &str) -> AlertRule {
        let group = json!({ "rules": [{
            "id": "burn", "condition": "C", "for": "2m", "no_data_state": no_data,
            "labels": { "severity": "page" }, "annotations": { "runbook_url": "https://r/#burn" },
            "data": [
                { "ref_id": "A", "model": { "expr": "sum(rate(x_total{job=\"a\", code=~\"5..\"}[1h])) / sum(rate(x_total{job=\"a\"}[60m]))" } },
                { "ref_id": "B", "model": { "expr": "up{job=\"a\"}" } },
                { "ref_id": "C", "model": { "type": "math", "expression": expression } },
            ],
        }]});
        grafana_rules([("g", group.as_object().expect("object"))]).remove(0)
    }

    fn prometheus(expr: &str, for_: &str) -> AlertRule {
        let group = json!({ "rules": [{
            "alert": "Burn", "expr": expr, "for": for_,
            "labels": { "severity": "page" }, "annotations": { "runbook_url": "https://r/#burn" },
        }]});
        prometheus_rules([("g", group.as_object().expect("object"))]).remove(0)
    }

    const PROMETHEUS: &str = "(sum(rate(x_total{code=~'5..',job='a'}[3600s])) / sum(rate(x_total{job=\"a\"}[1h]))) > 14.4 and up{job=\"a\"} < 1";

    #[test]
    fn the_same_alert_written_differently_is_equivalent() {
        let report = check(&[grafana("$A > 14.40 && ${B} < 1", "OK")], &[prometheus(PROMETHEUS, "120s")]);
        assert_eq!(report.pairs.len(), 1);
        assert!(report.pairs[0].differences.is_empty(), "{:?}", report.pairs[0].differences);
    }

    #[test]
    fn a_different_threshold_selector_or_for_is_reported() {
        let report = check(
            &[grafana("$A > 14 && $B < 1", "OK")],
            &[prometheus(&PROMETHEUS.replace("job='a'", "job='b'"), "5m")],
        );
        let differences = &report.pairs[0].differences;
        assert_eq!(differences.len(), 3, "{differences:?}");
        assert_eq!(
            differences[0],
            "selectors: only in Grafana [x_total{code=~\"5..\", job=\"a\"}[3600000ms]], only in Prometheus [x_total{code=~\"5..\", job=\"b\"}[3600000ms]]"
        );
        assert_eq!(differences[1], "thresholds: only in Grafana [> 14], only in Prometheus [> 14.4]");
        assert_eq!(differences[2], "for: Grafana 120s, Prometheus 300s");
    }

    #[test]
    fn no_data_alerting_is_or_absent() {
        let expr = "up{job=\"a\"} < 1 or absent(up{job=\"a\"})";
        let group = json!({ "rules": [{
            "id": "down", "condition": "B", "for": "2m", "no_data_state": "Alerting",
            "labels": {}, "annotations": { "runbook_url": "u" },
            "data": [
                { "ref_id": "A", "model": { "expr": "up{job=\"a\"}" } },
                { "ref_id": "B", "model": { "type": "math", "expression": "$A < 1" } },
            ],
        }]});
        let twin =
            json!({ "rules": [{ "alert": "Down", "expr": expr, "for": "2m", "annotations": { "runbook_url": "u" } }] });
        let grafana = grafana_rules([("g", group.as_object().expect("object"))]);
        let report = check(&grafana, &prometheus_rules([("p", twin.as_object().expect("object"))]));
        assert!(report.pairs[0].differences.is_empty(), "{:?}", report.pairs[0].differences);
        let without = json!({ "rules": [{ "alert": "Down", "expr": "up{job=\"a\"} < 1", "for": "2m", "annotations": { "runbook_url": "u" } }] });
        let report = check(&grafana, &prometheus_rules([("p", without.as_object().expect("object"))]));
        assert_eq!(
            report.pairs[0].differences,
            ["Grafana fires on no data (no_data_state = Alerting); the Prometheus expression has no `or absent(…)`"]
        );
        // The other way round: `or absent(…)` without Grafana's Alerting on no data.
        let mut quiet = group.clone();
        quiet["rules"][0]["no_data_state"] = json!("OK");
        let grafana = grafana_rules([("g", quiet.as_object().expect("object"))]);
        let report = check(&grafana, &prometheus_rules([("p", twin.as_object().expect("object"))]));
        assert_eq!(
            report.pairs[0].differences,
            [
                "the Prometheus expression fires on absent series (`absent(…)`); the Grafana rule's no_data_state is not Alerting",
                "set operators: only in Grafana [], only in Prometheus [or]",
            ]
        );
    }

    #[test]
    fn rules_pair_by_a_runbook_url_unique_on_each_side() {
        let mut other = prometheus("up == 0", "0s");
        other.runbook_url = Some("https://r/#other".to_owned());
        let report = check(&[grafana("$A > 1", "OK")], &[other]);
        assert!(report.pairs.is_empty());
        assert_eq!((report.unpaired_grafana.len(), report.unpaired_prometheus.len()), (1, 1));
        let twice = [prometheus(PROMETHEUS, "2m"), prometheus(PROMETHEUS, "2m")];
        assert!(check(&[grafana("$A > 1", "OK")], &twice).pairs.is_empty(), "an ambiguous url pairs nothing");
    }

    #[test]
    fn durations_parse_as_prometheus_does() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("soon"), None);
    }
}
