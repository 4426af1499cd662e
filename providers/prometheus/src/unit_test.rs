//! What `mac test` needs from this provider: the rule files an apply would write for a set of
//! `rule_group` definitions, and promtool unit-test files pointed at them.
//!
//! Both are plain functions over definitions' fields (no provider instance, no I/O), so that
//! the rules under test are byte for byte those `mac apply` writes.

use std::collections::BTreeMap;

use serde::Deserialize as _;
use serde_json::{Map, Value};
use serde_norway::{Mapping, Value as Yaml};

use crate::files::{HEADER, RuleFiles};
use crate::rule_group::{NormalGroup, RuleGroup, to_yaml};

/// Why a rule file or a test file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum UnitTestError {
    #[error("cannot write rule group `{group}` as YAML")]
    Group {
        group: String,
        #[source]
        source: serde_norway::Error,
    },
    #[error("rule group `{group}`: {message}")]
    Definition { group: String, message: String },
    #[error("not valid YAML")]
    Yaml(#[source] serde_norway::Error),
    #[error("not a promtool test file: {0}")]
    NotATestFile(&'static str),
}

/// A `prometheus.rule_group` definition: its local id and its fields as written (templates
/// expanded).
#[derive(Debug, Clone, Copy)]
pub struct GroupDefinition<'a> {
    pub local_id: &'a str,
    pub fields: &'a Map<String, Value>,
}

/// The rule files these groups make when applied to an empty rules directory: file name
/// (`<namespace>.yml`) → its text, each file's groups in the order given.
pub fn rule_files(groups: &[GroupDefinition<'_>]) -> Result<BTreeMap<String, String>, UnitTestError> {
    let mut files: BTreeMap<String, Vec<Yaml>> = BTreeMap::new();
    for group in groups {
        let namespace = group.fields.get("namespace").and_then(Value::as_str).unwrap_or_default();
        let name = group.fields.get("name").and_then(Value::as_str).unwrap_or(group.local_id);
        let definition = RuleGroup::deserialize(&Value::Object(group.fields.clone())).map_err(|err| {
            UnitTestError::Definition { group: format!("{namespace}/{name}"), message: err.to_string() }
        })?;
        let written = to_yaml(&NormalGroup::of_definition(&definition, name))
            .map_err(|source| UnitTestError::Group { group: format!("{namespace}/{name}"), source })?;
        files.entry(RuleFiles::file_name(namespace)).or_default().push(written);
    }
    files
        .into_iter()
        .map(|(file, groups)| {
            let mut document = Mapping::new();
            document.insert(Yaml::String("groups".to_owned()), Yaml::Sequence(groups));
            let text = serde_norway::to_string(&Yaml::Mapping(document)).map_err(UnitTestError::Yaml)?;
            Ok((file, format!("{HEADER}{text}")))
        })
        .collect()
}

/// A promtool unit-test file (`promtool test rules`) whose `rule_files` are `rule_files`,
/// whatever it named before: the rules under test are the project's.
pub fn point_test_file(text: &str, rule_files: &[String]) -> Result<String, UnitTestError> {
    let mut document: Yaml = serde_norway::from_str(text).map_err(UnitTestError::Yaml)?;
    let Yaml::Mapping(map) = &mut document else {
        return Err(UnitTestError::NotATestFile("it must be a mapping with `tests`"));
    };
    if !map.get("tests").is_some_and(Yaml::is_sequence) {
        return Err(UnitTestError::NotATestFile("it has no list of `tests`"));
    }
    let files = rule_files.iter().cloned().map(Yaml::String).collect();
    map.insert(Yaml::String("rule_files".to_owned()), Yaml::Sequence(files));
    serde_norway::to_string(&document).map_err(UnitTestError::Yaml)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rule_files_are_what_an_apply_writes() {
        let slo = json!({
            "namespace": "payments", "name": "slo", "interval": "60s",
            "rules": [{ "alert": "Down", "expr": " up == 0 ", "for": "120s", "labels": { "severity": "page" } }]
        });
        let other = json!({ "namespace": "payments", "rules": [{ "record": "a:b", "expr": "sum(a)" }] });
        let files = rule_files(&[
            GroupDefinition { local_id: "slo", fields: slo.as_object().expect("object") },
            GroupDefinition { local_id: "recorded", fields: other.as_object().expect("object") },
        ])
        .expect("rule files");
        assert_eq!(files.keys().collect::<Vec<_>>(), ["payments.yml"]);
        let expected = format!(
            "{HEADER}groups:\n- name: slo\n  interval: 1m\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 2m\n    labels:\n      severity: page\n- name: recorded\n  rules:\n  - record: a:b\n    expr: sum(a)\n"
        );
        assert_eq!(files["payments.yml"], expected);
    }

    #[test]
    fn a_test_file_is_pointed_at_the_rendered_rules() {
        let text = "rule_files: [theirs.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series: []\n";
        let pointed = point_test_file(text, &["/tmp/x/payments.yml".to_owned()]).expect("a test file");
        let document: Yaml = serde_norway::from_str(&pointed).expect("YAML");
        assert_eq!(document["rule_files"][0].as_str(), Some("/tmp/x/payments.yml"));
        assert_eq!(document["rule_files"].as_sequence().map(Vec::len), Some(1));
        assert_eq!(document["evaluation_interval"].as_str(), Some("1m"));
        assert!(matches!(point_test_file("- a\n", &[]), Err(UnitTestError::NotATestFile(_))));
        assert!(matches!(point_test_file("groups: []\n", &[]), Err(UnitTestError::NotATestFile(_))));
        assert!(matches!(point_test_file("tests: [\n", &[]), Err(UnitTestError::Yaml(_))));
    }
}
