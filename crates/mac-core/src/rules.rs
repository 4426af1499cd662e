//! Alerting rules in PromQL terms: the provider-neutral view of a kind whose definitions hold
//! alerting rules, which `mac test` asks for through [`crate::Handler::rule_view`].
//!
//! A provider knows its own field layout; `mac test` knows none. Through [`RuleView`] a kind
//! says who evaluates its rules ([`Evaluator`]), what its definitions' alerting rules are as
//! PromQL ([`AlertRule`]), and, for rules Prometheus evaluates, the rule files an apply would
//! write, so that promtool can test them. Everything here is pure: no I/O, no provider instance
//! state, definitions' fields in, values out.

use std::collections::BTreeMap;

use crate::object::Fields;

/// One alerting rule, as the comparison of twins needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// `group/rule`, for messages: the definition's local id and the rule's name in it.
    pub name: String,
    /// The `runbook_url` annotation, by which rules of different evaluators are paired.
    pub runbook_url: Option<String>,
    /// The rule's condition as one PromQL expression, or why it cannot be written as one.
    pub expr: Result<String, String>,
    /// How long the condition must hold before the rule fires, in milliseconds; `None` when
    /// the written duration cannot be read.
    pub for_ms: Option<u64>,
    pub labels: BTreeMap<String, String>,
    /// The rule fires when its queries return no series (Prometheus' `or absent(…)`).
    pub fires_on_no_data: bool,
}

/// Who evaluates a kind's rules, which decides how `mac test` checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluator {
    /// Prometheus evaluates the PromQL as written: the rules are unit-tested with promtool
    /// (through [`RuleView::rule_files`]) and are the reference side of a twin check.
    Prometheus,
    /// Another system evaluates the rules; their conditions are translated into PromQL and
    /// compared with their Prometheus twins.
    Translated(TranslatedSystem),
}

/// A system whose rule conditions a provider translates into PromQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranslatedSystem {
    /// Its name in messages: `Grafana`.
    pub name: &'static str,
    /// The setting that makes one of its rules fire on no data, and the value that does:
    /// (`no_data_state`, `Alerting`). Named when a twin's `absent(…)` and this setting disagree.
    pub no_data_setting: (&'static str, &'static str),
}

/// A problem rendering rule files, with the group it concerns in its message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RuleFilesError {
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The rules of one kind's definitions, in PromQL terms. A kind returns it from
/// [`crate::Handler::rule_view`].
pub trait RuleView: Send + Sync + std::fmt::Debug {
    /// Who evaluates this kind's rules.
    fn evaluator(&self) -> Evaluator;

    /// The alerting rules of one definition (its local id and its fields as loaded, templates
    /// expanded), in the order written. Recording rules are left out.
    fn alert_rules(&self, local_id: &str, fields: &Fields) -> Vec<AlertRule>;

    /// How many rules, alerting and recording, one definition holds.
    fn rule_count(&self, fields: &Fields) -> usize;

    /// For [`Evaluator::Prometheus`]: the rule files that these definitions (all of one
    /// provider instance, as (local id, fields)) make when applied to an empty rules
    /// directory, file name → text, byte for byte what an apply writes. The default: none.
    fn rule_files(&self, _definitions: &[(&str, &Fields)]) -> Result<BTreeMap<String, String>, RuleFilesError> {
        Ok(BTreeMap::new())
    }
}
