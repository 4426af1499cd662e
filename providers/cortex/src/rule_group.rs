//! `rule_group`: a Prometheus rule group in a namespace of the tenant's ruler. Its remote id is
//! `<namespace>/<name>`, which is also the key under which an existing group is adopted.
//!
//! The model — rules, validation, canonical durations, the normal form both sides are
//! compared in and the YAML sent — is `mac-prometheus-rules`', the prometheus provider's too.
//! A plan reads every group of the tenant with one GET; a write is one POST of the group to its
//! namespace (Cortex replaces a group of the same name), a delete one DELETE.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, ObjectId, RemoteObject, Resolver,
    async_trait,
};
use mac_prometheus_rules::{NormalGroup, Rule, StoredGroup, remote_object, to_yaml};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::checks::{self, GroupToCheck};
use crate::client::Client;

/// A Prometheus rule group in a Cortex ruler namespace, as a `cortex.rule_group` definition
/// writes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["namespace", "rules"]))]
pub struct RuleGroup {
    /// The ruler namespace the group lives in (like a rule file of Prometheus).
    #[serde(default, deserialize_with = "namespace_field")]
    pub namespace: String,
    /// The group's name in its namespace; the definition's local id when left out.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "mac_prometheus_rules::name_field")]
    pub name: Option<String>,
    /// How often the group is evaluated, e.g. `1m`; the ruler's evaluation interval when left out.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "mac_prometheus_rules::interval_field"
    )]
    #[schemars(pattern(mac_core::duration::PATTERN))]
    pub interval: Option<String>,
    /// The most alerts or series a rule may produce (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "mac_prometheus_rules::limit_field")]
    pub limit: Option<u64>,
    /// The group's rules, evaluated in this order: Prometheus rules, as `prometheus.rule_group`'s.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "rule_tables")]
    pub rules: Vec<Rule>,
}

const NAMESPACE_MESSAGE: &str =
    "`namespace` names the ruler namespace: letters, digits, `_`, `-` and `.`, not starting with a dot";

fn namespace_field<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    String::deserialize(deserializer).map_err(|_| D::Error::custom(NAMESPACE_MESSAGE))
}

fn rule_tables<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Rule>, D::Error> {
    mac_core::kind::list_of_tables(deserializer, "cortex.rule_group.rules")
}

impl RuleGroup {
    /// The group in the shared model's terms (the same fields).
    fn model(&self) -> mac_prometheus_rules::RuleGroup {
        mac_prometheus_rules::RuleGroup {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            interval: self.interval.clone(),
            limit: self.limit,
            rules: self.rules.clone(),
        }
    }

    /// The group's name: its `name`, else the definition's local id.
    fn name_or<'a>(&'a self, local_id: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(local_id)
    }

    fn normal(&self, local_id: &str) -> NormalGroup {
        NormalGroup::of_definition(&self.model(), self.name_or(local_id))
    }
}

/// Where a remote group lives: enough to move or delete it.
#[derive(Debug, Deserialize)]
struct Place {
    namespace: String,
    name: String,
}

/// Where a recorded group is.
fn place(current: &RemoteObject) -> Place {
    current.fields.parse::<Place>().unwrap_or_else(|_| {
        // A namespace holds no `/` (validation), so the remote id splits there.
        let (namespace, name) = current.remote_id.split_once('/').unwrap_or_default();
        Place { namespace: namespace.to_owned(), name: name.to_owned() }
    })
}

/// The `rule_group` kind of one tenant.
#[derive(Debug)]
pub(crate) struct RuleGroupKind {
    client: Arc<Client>,
    /// Checks every group's PromQL when the project loads; `None`: not checked.
    promtool: Option<PathBuf>,
    rules: Option<&'static dyn mac_core::rules::RuleView>,
}

impl RuleGroupKind {
    pub(crate) fn new(client: Arc<Client>, promtool: Option<PathBuf>) -> RuleGroupKind {
        RuleGroupKind { client, promtool, rules: None }
    }

    /// What [`Kind::rule_view`] answers.
    pub(crate) fn with_rule_view(mut self, rules: &'static dyn mac_core::rules::RuleView) -> RuleGroupKind {
        self.rules = Some(rules);
        self
    }
}

/// The group as it is sent: Prometheus' rule-file form of one group, as YAML.
fn group_yaml(normal: &NormalGroup) -> Result<serde_norway::Value, HandlerError> {
    to_yaml(normal).map_err(|err| {
        HandlerError::new(HandlerErrorKind::Other, format!("cannot write group `{}` as YAML", normal.name))
            .with_source(err)
    })
}

#[async_trait]
impl Kind for RuleGroupKind {
    type Desired = RuleGroup;
    type Remote = StoredGroup;
    type Comparable = NormalGroup;
    type Context = ();

    fn validate(&self, group: &RuleGroup) -> Result<(), Vec<FieldError>> {
        mac_prometheus_rules::validate_group_with(&group.model(), NAMESPACE_MESSAGE)
    }

    /// Two definitions of one group would overwrite each other; and every group's PromQL is
    /// checked with promtool (one run for all), so that Cortex never sees an expression it
    /// would refuse without saying why.
    fn validate_together(
        &self,
        definitions: &mut dyn Iterator<Item = (&ObjectId, RuleGroup)>,
    ) -> Vec<(usize, FieldError)> {
        let mut errors = Vec::new();
        let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut to_check = Vec::new();
        for (position, (id, group)) in definitions.enumerate() {
            let name = group.name_or(&id.local_id).to_owned();
            if let Some(other) = seen.insert((group.namespace.clone(), name.clone()), id.local_id.clone()) {
                errors.push((
                    position,
                    FieldError::at(
                        if group.name.is_some() { "/name" } else { "" },
                        format!(
                            "rule group `{}/{name}` is also defined by `{other}`: a group's name is unique in its namespace",
                            group.namespace
                        ),
                    ),
                ));
                continue;
            }
            // A field given by a reference reads as a placeholder here, which is no PromQL:
            // such a group is checked by Cortex itself, at apply.
            let has_placeholder =
                serde_json::to_string(&group).is_ok_and(|text| text.contains(mac_core::KNOWN_AFTER_APPLY));
            if self.promtool.is_some()
                && !has_placeholder
                && let Ok(yaml) = to_yaml(&group.normal(&id.local_id))
            {
                to_check.push(GroupToCheck { position, namespace: group.namespace.clone(), name, yaml });
            }
        }
        if let Some(promtool) = &self.promtool {
            errors.extend(checks::promtool(promtool, to_check));
        }
        errors
    }

    fn adoption_key(&self, id: &ObjectId, group: &RuleGroup, _refs: &dyn Resolver) -> Option<String> {
        Some(format!("{}/{}", group.namespace, group.name_or(&id.local_id)))
    }

    /// The ruler keeps one group per namespace and name, and a POST replaces it: the same
    /// key, so that a new id for a managed group is refused with a `[[moved]]` hint, not
    /// planned as a create and a delete of one group; and a rename onto another group's key
    /// is refused instead of replacing that group.
    fn unique_key(&self, id: &ObjectId, group: &RuleGroup) -> Option<String> {
        Some(format!("{}/{}", group.namespace, group.name_or(&id.local_id)))
    }

    fn remote_unique_key(&self, remote: &mac_core::Remote<'_, StoredGroup>) -> Option<String> {
        Some(remote.remote_id().to_owned())
    }

    fn desired(
        &self,
        id: &ObjectId,
        group: &RuleGroup,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<NormalGroup, FieldError> {
        Ok(group.normal(&id.local_id))
    }

    fn observed(&self, remote: &mac_core::Remote<'_, StoredGroup>) -> NormalGroup {
        NormalGroup::of_stored(&remote.fields)
    }

    fn describe(&self, remote: &mac_core::Remote<'_, StoredGroup>) -> String {
        mac_prometheus_rules::describe(&remote.fields)
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        mac_prometheus_rules::list_key(path)
    }

    fn import(
        &self,
        remote: &mac_core::Remote<'_, StoredGroup>,
        _refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let group = &remote.fields;
        // A namespace a definition may not name (`agent/ns/name`, as Grafana Alloy writes
        // them) is left out: imported, it would be managed by a definition that fails to load.
        if !mac_prometheus_rules::valid_namespace(&group.namespace) {
            tracing::warn!(
                "not importing rule group {:?} of namespace {:?}: a cortex.rule_group namespace is letters, digits, `_`, `-` and `.`",
                group.name,
                group.namespace
            );
            return None;
        }
        mac_prometheus_rules::imported(group)
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let groups = self.client.rule_groups().await?;
        Ok(groups
            .into_iter()
            .filter_map(|(namespace, fields)| {
                let name = fields.get("name").and_then(Value::as_str)?.to_owned();
                Some(remote_object(&namespace, &name, fields))
            })
            .collect())
    }

    /// One POST of the group to its namespace; a group that moved or was renamed is then
    /// deleted where it was (after the POST, so that its rules are never missing).
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        group: &RuleGroup,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<RemoteObject, HandlerError> {
        let namespace = group.namespace.as_str();
        let name = group.name_or(&id.local_id);
        let wanted = group.normal(&id.local_id);
        let yaml = group_yaml(&wanted)?;
        let body = serde_norway::to_string(&yaml).map_err(|err| {
            HandlerError::new(HandlerErrorKind::Other, format!("cannot write group `{name}` as YAML")).with_source(err)
        })?;
        self.client.put_group(namespace, body.into_bytes()).await.map_err(|err| named(err, namespace, name))?;
        if let Some(old) = current.map(place)
            && (old.namespace != namespace || old.name != name)
        {
            self.client
                .delete_group(&old.namespace, &old.name)
                .await
                .map_err(|err| named(err, &old.namespace, &old.name))?;
        }
        let fields = match serde_json::to_value(wanted.file_form()) {
            Ok(Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        };
        Ok(remote_object(namespace, name, fields))
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let Place { namespace, name } = place(current);
        self.client.delete_group(&namespace, &name).await.map_err(|err| named(err, &namespace, &name))
    }

    fn rule_view(&self) -> Option<&dyn mac_core::rules::RuleView> {
        self.rules
    }
}

/// Names the group in an error.
fn named(error: HandlerError, namespace: &str, name: &str) -> HandlerError {
    let message = format!("rule group `{namespace}/{name}`: {}", error.message);
    HandlerError { message, ..error }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mac_core::{Handler, Typed};
    use serde_json::json;

    fn client() -> Arc<Client> {
        let settings = mac_core::ProviderSettings {
            instance: "cortex".to_owned(),
            values: Value::Null,
            project_root: PathBuf::from("/nonexistent"),
            project: None,
        };
        let http =
            mac_provider_kit::HttpSettings::new("Cortex", "http://127.0.0.1:1").build(&settings).expect("client");
        Arc::new(Client::new(http, "t".to_owned(), vec!["api".to_owned()], vec!["alerts".to_owned()]))
    }

    fn handler(promtool: Option<PathBuf>) -> Typed<RuleGroupKind> {
        Typed(RuleGroupKind::new(client(), promtool))
    }

    fn text(value: &Value) -> mac_core::JsonText {
        mac_core::JsonText::from_value(value)
    }

    fn group() -> Value {
        json!({
            "namespace": "payments",
            "interval": "60s",
            "rules": [{ "alert": "Down", "expr": "up == 0", "for": "300s", "labels": { "severity": "page" } }],
        })
    }

    #[test]
    fn validation_is_the_prometheus_models_in_cortex_words() {
        assert!(handler(None).validate(&text(&group())).is_ok());
        let mut bad = group();
        bad["namespace"] = json!("a/b");
        bad["rules"][0]["for"] = json!("soon");
        let errors = handler(None).validate(&text(&bad)).expect_err("invalid");
        let found: Vec<(&str, &str)> =
            errors.iter().map(|error| (error.pointer.as_str(), error.message.as_str())).collect();
        assert_eq!(
            found,
            [("/namespace", NAMESPACE_MESSAGE), ("/rules/0/for", "`for` must be a duration such as \"5m\"")]
        );
        let mut unknown = group();
        unknown["rules"][0]["colour"] = json!("red");
        let errors = handler(None).validate(&text(&unknown)).expect_err("unknown field");
        assert_eq!(errors[0].pointer, "/rules/0/colour");
    }

    #[test]
    fn what_is_sent_reads_back_without_a_difference() {
        let definition = RuleGroup::deserialize(&group()).expect("a definition");
        let normal = definition.normal("slo");
        let sent = serde_norway::to_string(&group_yaml(&normal).expect("yaml")).expect("text");
        assert_eq!(
            sent,
            "name: slo\ninterval: 1m\nrules:\n- alert: Down\n  expr: up == 0\n  for: 5m\n  labels:\n    severity: page\n"
        );
        // Cortex answers with the group as it stored it, under its namespace.
        let answered: Value = serde_norway::from_str(&sent).expect("yaml");
        let remote = remote_object("payments", "slo", answered.as_object().cloned().expect("a map"));
        assert_eq!(remote.remote_id, "payments/slo");
        let stored = remote.fields.parse::<StoredGroup>().expect("stored");
        assert_eq!(NormalGroup::of_stored(&stored), normal);
    }

    #[test]
    fn a_group_with_a_reference_is_left_to_cortex() {
        // A promtool that refuses everything: only the group without a placeholder reaches it.
        let kind = RuleGroupKind::new(client(), Some(PathBuf::from("/bin/false")));
        let a = ObjectId::new("cortex", "rule_group", "a");
        let b = ObjectId::new("cortex", "rule_group", "b");
        let plain = RuleGroup::deserialize(&group()).expect("a definition");
        let mut referring = plain.clone();
        referring.namespace = "other".to_owned();
        referring.rules[0].expr = mac_core::KNOWN_AFTER_APPLY.to_owned();
        let errors = kind.validate_together(&mut [(&a, referring), (&b, plain)].into_iter());
        let positions: Vec<usize> = errors.iter().map(|(position, _)| *position).collect();
        assert_eq!(positions, [1], "{errors:?}");
    }

    #[test]
    fn two_definitions_of_one_group_are_refused() {
        let kind = RuleGroupKind::new(client(), None);
        let a = ObjectId::new("cortex", "rule_group", "a");
        let b = ObjectId::new("cortex", "rule_group", "b");
        let mut first = RuleGroup::deserialize(&group()).expect("a definition");
        first.name = Some("same".to_owned());
        let second = first.clone();
        let errors = kind.validate_together(&mut [(&a, first), (&b, second)].into_iter());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, 1);
        assert!(errors[0].1.message.contains("also defined by `a`"), "{}", errors[0].1.message);
    }
}
