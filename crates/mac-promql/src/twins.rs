//! Twins: an alert rule that another system evaluates (a Grafana 8 alert rule) and a
//! Prometheus alerting rule that a project defines for the same alert (a bundle rendered for
//! both targets), checked for the equivalence of their PromQL by `mac test`. Each provider
//! puts its rules in PromQL terms ([`mac_core::rules::RuleView`]); this module compares them.
//!
//! **Pairing.** Two rules are twins when they carry the same `runbook_url` annotation, and
//! that URL is on exactly one alert rule on each side. A runbook entry per alert is what
//! both renderings of a bundle share; rules without a twin are counted, not checked.
//!
//! **Equivalence.** Both expressions are reduced to a signature, and the twins are equivalent
//! when the signatures are:
//! - the same series selectors (metric name, label matchers, range), as multisets;
//! - the same thresholds (comparison operator and number), as multisets;
//! - the same functions and aggregations with their `by`/`without` labels, and the same
//!   other numbers (quantiles, objectives) and set operators (`and`, `or`, `unless`);
//! - the same `for` (as a duration) and the same labels.
//!
//! A translated rule that fires on no data (Grafana's `no_data_state = "Alerting"`) is taken
//! as equivalent to `or absent(…)` in the Prometheus expression (and requires it there): the
//! `absent` call, its selectors and its `or` are left out of the comparison. What is
//! approximate: the expressions' structure (operator precedence, which side of an operator a
//! selector is on, parentheses) is not compared, only what is in them; how faithful the
//! translation of the other system's condition is, its provider says.

use std::collections::BTreeMap;

use mac_core::rules::{AlertRule, TranslatedSystem};

/// The check of one pair.
#[derive(Debug)]
pub struct Pair {
    /// The translated rule's name (`group/rule`).
    pub translated: String,
    /// Its Prometheus twin's name.
    pub prometheus: String,
    /// Empty when the twins are equivalent.
    pub differences: Vec<String>,
}

/// The outcome for the rules of one translated system and the project's Prometheus rules.
#[derive(Debug)]
pub struct Report {
    pub system: TranslatedSystem,
    pub pairs: Vec<Pair>,
    pub unpaired_translated: Vec<String>,
    pub unpaired_prometheus: Vec<String>,
}

/// Pairs the rules by `runbook_url` and compares each pair.
pub fn check(system: TranslatedSystem, translated: &[AlertRule], prometheus: &[AlertRule]) -> Report {
    let unique = |rules: &[AlertRule]| -> BTreeMap<String, usize> {
        let mut counts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, rule) in rules.iter().enumerate() {
            if let Some(url) = &rule.runbook_url {
                counts.entry(url.clone()).or_default().push(index);
            }
        }
        counts.into_iter().filter(|(_, indices)| indices.len() == 1).map(|(url, indices)| (url, indices[0])).collect()
    };
    let translated_urls = unique(translated);
    let prometheus_urls = unique(prometheus);
    let mut report =
        Report { system, pairs: Vec::new(), unpaired_translated: Vec::new(), unpaired_prometheus: Vec::new() };
    let mut paired_prometheus = vec![false; prometheus.len()];
    for (index, rule) in translated.iter().enumerate() {
        let twin = rule
            .runbook_url
            .as_ref()
            .filter(|url| translated_urls.get(*url) == Some(&index))
            .and_then(|url| prometheus_urls.get(url));
        match twin {
            Some(&twin) => {
                paired_prometheus[twin] = true;
                report.pairs.push(Pair {
                    translated: rule.name.clone(),
                    prometheus: prometheus[twin].name.clone(),
                    differences: compare(&system, rule, &prometheus[twin]),
                });
            }
            None => report.unpaired_translated.push(rule.name.clone()),
        }
    }
    for (rule, paired) in prometheus.iter().zip(paired_prometheus) {
        if !paired {
            report.unpaired_prometheus.push(rule.name.clone());
        }
    }
    report
}

fn compare(system: &TranslatedSystem, translated: &AlertRule, prometheus: &AlertRule) -> Vec<String> {
    let name = system.name;
    let (setting, alerting) = system.no_data_setting;
    let mut differences = Vec::new();
    match (&translated.expr, &prometheus.expr) {
        (Err(why), _) => differences.push(format!("the {name} condition is not compared: {why}")),
        (_, Err(why)) => differences.push(format!("the Prometheus expression is not compared: {why}")),
        (Ok(translated_expr), Ok(prometheus_expr)) => {
            let translated_signature = Signature::of(translated_expr);
            let mut prometheus_signature = Signature::of(prometheus_expr);
            match (translated.fires_on_no_data, prometheus_signature.absent.is_empty()) {
                (true, true) => differences.push(format!(
                    "{name} fires on no data ({setting} = {alerting}); the Prometheus expression has no `or absent(…)`"
                )),
                (false, false) => differences.push(format!(
                    "the Prometheus expression fires on absent series (`absent(…)`); the {name} rule's {setting} is not {alerting}"
                )),
                (true, false) => {
                    // `X or absent(Y)`: the `or` that joins the absent clause is Grafana's NoData state.
                    if let Some(position) = prometheus_signature.set_operators.iter().position(|op| op == "or") {
                        prometheus_signature.set_operators.remove(position);
                    }
                }
                (false, true) => {}
            }
            let parts: [(&str, &Vec<String>, &Vec<String>); 5] = [
                ("selectors", &translated_signature.selectors, &prometheus_signature.selectors),
                ("thresholds", &translated_signature.thresholds, &prometheus_signature.thresholds),
                ("functions", &translated_signature.functions, &prometheus_signature.functions),
                ("other numbers", &translated_signature.numbers, &prometheus_signature.numbers),
                ("set operators", &translated_signature.set_operators, &prometheus_signature.set_operators),
            ];
            for (what, left, right) in parts {
                let (only_left, only_right) = multiset_difference(left, right);
                if !only_left.is_empty() || !only_right.is_empty() {
                    differences.push(format!(
                        "{what}: only in {name} [{}], only in Prometheus [{}]",
                        only_left.join(", "),
                        only_right.join(", ")
                    ));
                }
            }
        }
    }
    if translated.for_ms != prometheus.for_ms {
        let show =
            |ms: Option<u64>| ms.map_or_else(|| "(unreadable)".to_owned(), |ms| format!("{}s", ms as f64 / 1000.0));
        differences.push(format!("for: {name} {}, Prometheus {}", show(translated.for_ms), show(prometheus.for_ms)));
    }
    if translated.labels != prometheus.labels {
        differences.push(format!("labels: {name} {:?}, Prometheus {:?}", translated.labels, prometheus.labels));
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
    mac_core::duration::parse(text.trim()).map_or_else(|| text.to_owned(), |ms| format!("{ms}ms"))
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

    const GRAFANA: TranslatedSystem =
        TranslatedSystem { name: "Grafana", no_data_setting: ("no_data_state", "Alerting") };

    fn rule(name: &str, expr: &str, for_ms: u64, runbook_url: &str) -> AlertRule {
        AlertRule {
            name: name.to_owned(),
            runbook_url: Some(runbook_url.to_owned()),
            expr: Ok(expr.to_owned()),
            for_ms: Some(for_ms),
            labels: BTreeMap::from([("severity".to_owned(), "page".to_owned())]),
            fires_on_no_data: false,
        }
    }

    /// A Grafana rule whose math condition is `condition` over queries A (a burn rate) and B
    /// (`up`), as the grafana8 provider translates it.
    fn grafana(condition: &str) -> AlertRule {
        let a = "(sum(rate(x_total{job=\"a\", code=~\"5..\"}[1h])) / sum(rate(x_total{job=\"a\"}[60m])))";
        let expr = condition.replace("$A", a).replace("$B", "(up{job=\"a\"})");
        rule("g/burn", &expr, 120_000, "https://r/#burn")
    }

    fn prometheus(expr: &str, for_ms: u64) -> AlertRule {
        rule("g/Burn", expr, for_ms, "https://r/#burn")
    }

    const PROMETHEUS: &str = "(sum(rate(x_total{code=~'5..',job='a'}[3600s])) / sum(rate(x_total{job=\"a\"}[1h]))) > 14.4 and up{job=\"a\"} < 1";

    #[test]
    fn the_same_alert_written_differently_is_equivalent() {
        let report = check(GRAFANA, &[grafana("$A > 14.40  and  $B < 1")], &[prometheus(PROMETHEUS, 120_000)]);
        assert_eq!(report.pairs.len(), 1);
        assert!(report.pairs[0].differences.is_empty(), "{:?}", report.pairs[0].differences);
    }

    #[test]
    fn a_different_threshold_selector_or_for_is_reported() {
        let report = check(
            GRAFANA,
            &[grafana("$A > 14  and  $B < 1")],
            &[prometheus(&PROMETHEUS.replace("job='a'", "job='b'"), 300_000)],
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
        let twin = rule("p/Down", "up{job=\"a\"} < 1 or absent(up{job=\"a\"})", 120_000, "u");
        let alerting = AlertRule { fires_on_no_data: true, ..rule("g/down", "(up{job=\"a\"}) < 1", 120_000, "u") };
        let report = check(GRAFANA, std::slice::from_ref(&alerting), std::slice::from_ref(&twin));
        assert!(report.pairs[0].differences.is_empty(), "{:?}", report.pairs[0].differences);
        let without = rule("p/Down", "up{job=\"a\"} < 1", 120_000, "u");
        let report = check(GRAFANA, std::slice::from_ref(&alerting), &[without]);
        assert_eq!(
            report.pairs[0].differences,
            ["Grafana fires on no data (no_data_state = Alerting); the Prometheus expression has no `or absent(…)`"]
        );
        // The other way round: `or absent(…)` without Grafana's Alerting on no data.
        let quiet = AlertRule { fires_on_no_data: false, ..alerting };
        let report = check(GRAFANA, &[quiet], &[twin]);
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
        let mut other = prometheus("up == 0", 0);
        other.runbook_url = Some("https://r/#other".to_owned());
        let report = check(GRAFANA, &[grafana("$A > 1")], &[other]);
        assert!(report.pairs.is_empty());
        assert_eq!((report.unpaired_translated.len(), report.unpaired_prometheus.len()), (1, 1));
        let twice = [prometheus(PROMETHEUS, 120_000), prometheus(PROMETHEUS, 120_000)];
        assert!(check(GRAFANA, &[grafana("$A > 1")], &twice).pairs.is_empty(), "an ambiguous url pairs nothing");
    }

    #[test]
    fn conditions_that_are_not_promql_are_reported_not_compared() {
        let translated = AlertRule {
            expr: Err("expression type `classic_conditions` (A) is not compared".to_owned()),
            ..grafana("$A")
        };
        let report = check(GRAFANA, &[translated], &[prometheus(PROMETHEUS, 120_000)]);
        assert_eq!(
            report.pairs[0].differences,
            ["the Grafana condition is not compared: expression type `classic_conditions` (A) is not compared"]
        );
    }

    #[test]
    fn ranges_compare_as_durations() {
        let report = check(
            GRAFANA,
            &[grafana("$A > 14.4  and  $B < 1")],
            &[prometheus(&PROMETHEUS.replace("[1h]", "[60m]"), 120_000)],
        );
        assert!(report.pairs[0].differences.is_empty(), "{:?}", report.pairs[0].differences);
    }
}
