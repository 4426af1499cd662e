//! The Prometheus rule group model, shared by every `mac` provider whose server evaluates
//! Prometheus rule groups (rule files on disk, a ruler API): one definition format
//! ([`RuleGroup`], [`Rule`]), one validation ([`validate_group`]), one canonical form
//! ([`NormalGroup`], with `mac_core::duration`'s canonical durations) and one YAML rendering
//! ([`to_yaml`]), plus the rules view `mac test` asks for ([`RuleGroupRules`]).
//!
//! No I/O: where the groups live, and how they are written, is each provider's.

mod definition;
mod normal;
mod view;

pub use definition::{
    NAMESPACE_MESSAGE, Rule, RuleGroup, interval_field, limit_field, name_field, valid_label_name, valid_metric_name,
    valid_namespace, validate_group, validate_group_with,
};
pub use normal::{
    FileGroup, FileRule, NormalGroup, NormalRule, StoredGroup, StoredRule, describe, imported, list_key, locate,
    remote_object, slug, to_yaml,
};
pub use view::RuleGroupRules;
