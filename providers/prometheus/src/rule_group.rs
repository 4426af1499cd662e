//! `rule_group`: a Prometheus rule group, in the file of its namespace
//! (`<rules_dir>/<namespace>.yml`). Its remote id is `<namespace>/<name>`, which is also the
//! key under which an existing group is adopted.
//!
//! The model — definitions, validation, the normal form both sides are compared in and the
//! YAML written — is `mac-prometheus-rules`', shared with every provider of Prometheus rule
//! groups; this module is where the groups live: rule files, reloaded and verified.

use std::sync::Arc;

use mac_core::{
    FieldError, HandlerError, ImportRefs, ImportedFields, Kind, ObjectId, RemoteObject, Resolver, async_trait,
};
use mac_prometheus_rules::{NormalGroup, RuleGroup, StoredGroup, locate, remote_object, to_yaml};
use serde::Deserialize;
use serde_json::Value;

use crate::files::RuleFiles;
use crate::server::Server;

/// Where a remote group lives: enough to move or delete it.
#[derive(Debug, Deserialize)]
struct Place {
    namespace: String,
    name: String,
}

/// The group's name: its `name`, else the definition's local id.
fn group_name<'a>(id: &'a ObjectId, group: &'a RuleGroup) -> &'a str {
    group.name.as_deref().unwrap_or(&id.local_id)
}

/// The `rule_group` kind over one rules directory and, when configured, its Prometheus.
#[derive(Debug)]
pub(crate) struct RuleGroupKind {
    files: Arc<RuleFiles>,
    server: Option<Arc<Server>>,
    /// The groups' rules in PromQL terms, for `mac test` (`crate::rule_view`, which reads this
    /// module's normal form: handed in by the provider so that neither module imports the other).
    rules: Option<&'static dyn mac_core::rules::RuleView>,
}

impl RuleGroupKind {
    pub(crate) fn new(files: Arc<RuleFiles>, server: Option<Arc<Server>>) -> RuleGroupKind {
        RuleGroupKind { files, server, rules: None }
    }

    /// What [`Kind::rule_view`] answers.
    pub(crate) fn with_rule_view(mut self, rules: &'static dyn mac_core::rules::RuleView) -> RuleGroupKind {
        self.rules = Some(rules);
        self
    }

    async fn remove(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let Place { namespace, name } = place(current);
        let mut edit = self.files.edit().await;
        edit.remove(&namespace, &name)?;
        edit.commit(self.server.as_deref()).await.map_err(|err| locate(err, &name, &namespace))
    }
}

/// Where a recorded group is.
fn place(current: &RemoteObject) -> Place {
    current.fields.parse::<Place>().unwrap_or_else(|_| {
        // A namespace is a file stem: it holds no `/`, so the remote id splits there.
        let (namespace, name) = current.remote_id.split_once('/').unwrap_or_default();
        Place { namespace: namespace.to_owned(), name: name.to_owned() }
    })
}

#[async_trait]
impl Kind for RuleGroupKind {
    type Desired = RuleGroup;
    type Remote = StoredGroup;
    type Comparable = NormalGroup;
    type Context = ();

    fn validate(&self, group: &RuleGroup) -> Result<(), Vec<FieldError>> {
        mac_prometheus_rules::validate_group(group)
    }

    fn adoption_key(&self, id: &ObjectId, group: &RuleGroup, _refs: &dyn Resolver) -> Option<String> {
        Some(format!("{}/{}", group.namespace, group_name(id, group)))
    }

    fn desired(
        &self,
        id: &ObjectId,
        group: &RuleGroup,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<NormalGroup, FieldError> {
        Ok(NormalGroup::of_definition(group, group_name(id, group)))
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
        mac_prometheus_rules::imported(&remote.fields)
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let mut groups = Vec::new();
        for file in self.files.list()? {
            for group in file.groups {
                let Value::Object(fields) = group else { continue };
                if let Some(name) = fields.get("name").and_then(Value::as_str) {
                    let name = name.to_owned();
                    groups.push(remote_object(&file.namespace, &name, fields));
                }
            }
        }
        Ok(groups)
    }

    /// Writes the group into its file, taking it out of the file it was in when it moved or
    /// was renamed — one transaction, one reload.
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        group: &RuleGroup,
        _refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let namespace = group.namespace.as_str();
        let name = group_name(id, group);
        let wanted = NormalGroup::of_definition(group, name);
        let cannot_write = |err: serde_norway::Error| {
            HandlerError::new(mac_core::HandlerErrorKind::Other, format!("cannot write group `{name}` as YAML"))
                .with_source(err)
        };
        let written = to_yaml(&wanted).map_err(cannot_write)?;
        let mut edit = self.files.edit().await;
        let previous = current.map(place);
        let same_place = previous.as_ref().is_some_and(|old| old.namespace == namespace && old.name == name);
        if let Some(old) = &previous
            && !same_place
        {
            edit.remove(&old.namespace, &old.name)?;
        }
        edit.put(namespace, name, written, !same_place)?;
        edit.commit(self.server.as_deref()).await.map_err(|err| locate(err, name, namespace))?;
        let fields = match serde_json::to_value(wanted.file_form()) {
            Ok(Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        };
        Ok(remote_object(namespace, name, fields))
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        self.remove(current).await
    }

    fn rule_view(&self) -> Option<&dyn mac_core::rules::RuleView> {
        self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mac_core::{Fields, Handler, Typed};
    use serde_json::json;

    fn group() -> Value {
        json!({
            "namespace": "payments",
            "name": "http",
            "interval": "60s",
            "rules": [
                { "record": "job:requests:rate5m", "expr": "sum by (job) (rate(requests_total[5m]))" },
                {
                    "alert": "HighErrors",
                    "expr": "job:errors:rate5m > 0.05",
                    "for": "300s",
                    "labels": { "severity": "page" },
                    "annotations": { "summary": "{{ $labels.job }} fails" },
                },
                { "alert": "HighErrors", "expr": "job:errors:rate5m > 0.2", "labels": { "severity": "critical" } },
            ],
        })
    }

    fn fields(value: &Value) -> Fields {
        value.as_object().cloned().expect("object")
    }

    fn text(value: &Value) -> mac_core::JsonText {
        mac_core::JsonText::from_value(value)
    }

    fn definition(value: &Value) -> RuleGroup {
        RuleGroup::deserialize(value).expect("a definition")
    }

    fn handler() -> Typed<RuleGroupKind> {
        Typed(RuleGroupKind::new(
            Arc::new(RuleFiles::new("rules".into(), None, std::time::Duration::from_secs(1))),
            None,
        ))
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut bad = group();
        bad["namespace"] = json!("../etc");
        bad["interval"] = json!("soon");
        bad["rules"][0]["for"] = json!("5m");
        bad["rules"][1]["record"] = json!("also:a:record");
        bad["rules"][2]["expr"] = json!("  ");
        bad["rules"][2]["for"] = json!("5 minutes");
        bad["rules"][2]["labels"] = json!({ "bad-name": "x" });
        let errors = handler().validate(&text(&bad)).expect_err("invalid");
        let pointers: Vec<&str> = errors.iter().map(|error| error.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/namespace",
                "/interval",
                "/rules/0/for",
                "/rules/1/record",
                "/rules/2/expr",
                "/rules/2/for",
                "/rules/2/labels/bad-name",
            ]
        );
        assert!(handler().validate(&text(&group())).is_ok());
        let neither = json!({ "namespace": "n", "rules": [{ "expr": "up" }] });
        let errors = handler().validate(&text(&neither)).expect_err("neither alert nor record");
        assert_eq!(errors[0].pointer, "/rules/0");
        let none = handler().validate(&text(&json!({ "namespace": "n" }))).expect_err("no rules");
        assert_eq!(none[0].pointer, "/rules");
    }

    #[test]
    fn fields_of_the_wrong_shape_are_refused_where_they_are() {
        let refused = |change: &dyn Fn(&mut Value)| {
            let mut bad = group();
            change(&mut bad);
            let errors = handler().validate(&text(&bad)).expect_err("refused");
            assert_eq!(errors.len(), 1, "{errors:?}");
            (errors[0].pointer.clone(), errors[0].message.clone())
        };
        let (pointer, message) = refused(&|bad| bad["rules"][2]["colour"] = json!("red"));
        assert_eq!(pointer, "/rules/2/colour");
        assert!(message.starts_with("unknown field `colour`, expected one of `alert`"), "{message}");
        assert_eq!(
            refused(&|bad| bad["namespace"] = json!(5)),
            ("/namespace".to_owned(), mac_prometheus_rules::NAMESPACE_MESSAGE.to_owned())
        );
        assert_eq!(
            refused(&|bad| bad["limit"] = json!(-1)),
            ("/limit".to_owned(), "`limit` must be a whole number (0: no limit)".to_owned())
        );
        assert_eq!(
            refused(&|bad| bad["rules"][1]["expr"] = json!(1)).1,
            "`expr` must be a non-empty PromQL expression"
        );
        let (pointer, message) = refused(&|bad| bad["rules"][1]["annotations"] = json!({ "summary": 1 }));
        assert!(pointer.starts_with("/rules/1/annotations"), "{pointer}");
        assert_eq!(message, "`annotations` must be a table of strings");
        let (pointer, message) = refused(&|bad| bad["rules"][0] = json!("up"));
        assert_eq!(pointer, "/rules/0");
        assert!(message.ends_with("expected a rule table"), "{message}");
    }

    #[test]
    fn import_writes_what_a_person_would() {
        let read: Value = serde_norway::from_str(
            "name: Node Health\nrules:\n- alert: Down\n  expr: up == 0\n  for: 120s\n  labels: {}\n",
        )
        .expect("parse");
        struct NoRefs;
        impl ImportRefs for NoRefs {
            fn local_id(&self, _: &str, _: &str) -> Option<&str> {
                None
            }
        }
        let remote = remote_object("infra", "Node Health", fields(&read));
        let imported = handler()
            .import(&remote, &NoRefs, &handler().prepare_context(&Value::Null).expect("context"))
            .expect("imported");
        assert_eq!(imported.local_id, "infra-node-health");
        assert_eq!(imported.file, "infra");
        assert_eq!(
            Value::Object(imported.fields.clone()),
            json!({ "namespace": "infra", "name": "Node Health", "rules": [{ "alert": "Down", "expr": "up == 0", "for": "2m" }] })
        );
        // Typed: what import writes is a definition.
        assert_eq!(definition(&Value::Object(imported.fields)).rules[0].for_.as_deref(), Some("2m"));
    }
}
