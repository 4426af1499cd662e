//! `contact_point` and `notification_policy`: unified alerting's receivers and routes, which
//! Grafana 8 keeps in one Alertmanager configuration document (API.md §5.2).
//!
//! mac owns only the receivers and the child routes of the root route that code defines;
//! every write re-reads the document, changes only those parts and posts it back whole, so
//! other teams' receivers, routes, templates and stored secrets are kept. Writes of the
//! document are serialised within a run (one lock for both kinds).

#[allow(unused_imports)] // TEMPORARY (issue 17): until this kind is typed.
use mac_core::legacy::LegacyHandler as _;
use std::sync::Arc;

use mac_core::{
    DesiredObject, FieldError, Fields, Handler, HandlerError, HandlerErrorKind, LocalRef, RemoteObject, Resolved,
    Resolver, async_trait,
};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::checks;
use crate::client::Client;
use mac_core::duration;

const CONFIG: [&str; 7] = ["api", "alertmanager", "grafana", "config", "api", "v1", "alerts"];

/// The document, shared by both kinds' handlers.
#[derive(Debug)]
pub struct Alertmanager {
    client: Arc<Client>,
    /// Held from read to write, so two writes of one run never lose each other's change.
    write_lock: tokio::sync::Mutex<()>,
}

impl Alertmanager {
    pub fn new(client: Arc<Client>) -> Arc<Alertmanager> {
        Arc::new(Alertmanager { client, write_lock: tokio::sync::Mutex::new(()) })
    }

    async fn read(&self) -> Result<Value, HandlerError> {
        match self.client.get(&CONFIG, &[]).await {
            Ok(answer) => Ok(answer.body),
            // Nothing stored yet: Grafana's default document (pkg/setting/setting_unified_alerting.go).
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(json!({
                "template_files": null,
                "alertmanager_config": {
                    "route": { "receiver": "grafana-default-email" },
                    "templates": null,
                    "receivers": [{ "name": "grafana-default-email", "grafana_managed_receiver_configs": [{
                        "uid": "", "name": "email receiver", "type": "email", "disableResolveMessage": false,
                        "settings": { "addresses": "<example@email.com>" }, "secureFields": {} }] }],
                },
            })),
            Err(err) => Err(err),
        }
    }

    /// Reads the document, lets `change` edit it, and posts it back, under the write lock.
    async fn modify(
        &self,
        change: impl FnOnce(&mut Map<String, Value>) -> Result<(), HandlerError>,
    ) -> Result<Value, HandlerError> {
        let _guard = self.write_lock.lock().await;
        let mut document = self.read().await?;
        let config = document.get_mut("alertmanager_config").and_then(Value::as_object_mut).ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                "Grafana's Alertmanager configuration has no alertmanager_config",
            )
        })?;
        change(config)?;
        // What GET returns is postable once `secureFields` are dropped: receivers keep their
        // uids, and Grafana carries their stored secrets over by uid.
        for receiver in config.get_mut("receivers").and_then(Value::as_array_mut).into_iter().flatten() {
            for integration in
                receiver.get_mut("grafana_managed_receiver_configs").and_then(Value::as_array_mut).into_iter().flatten()
            {
                if let Some(integration) = integration.as_object_mut() {
                    integration.remove("secureFields");
                }
            }
        }
        self.client.send(Method::POST, self.client.url(&CONFIG, &[]), Some(&document)).await?;
        self.read().await
    }
}

fn receivers(document: &Value) -> impl Iterator<Item = &Value> {
    document.pointer("/alertmanager_config/receivers").and_then(Value::as_array).into_iter().flatten()
}

fn child_routes(document: &Value) -> impl Iterator<Item = &Value> {
    document.pointer("/alertmanager_config/route/routes").and_then(Value::as_array).into_iter().flatten()
}

/// A canonical duration, or the text as given.
fn canonical(value: &Value) -> Value {
    match value.as_str().and_then(duration::canonical) {
        Some(text) => json!(text),
        None => value.clone(),
    }
}

// ---------------------------------------------------------------------------------------
// contact_point

#[derive(Debug)]
pub struct ContactPointHandler {
    alertmanager: Arc<Alertmanager>,
}

impl ContactPointHandler {
    pub fn new(alertmanager: Arc<Alertmanager>) -> ContactPointHandler {
        ContactPointHandler { alertmanager }
    }
}

fn receiver_name(desired: &DesiredObject) -> String {
    desired.fields.get("name").and_then(Value::as_str).map_or_else(|| desired.id.local_id.clone(), str::to_owned)
}

fn receiver_object(receiver: &Value) -> RemoteObject {
    let name = receiver.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    RemoteObject {
        remote_id: name.clone(),
        adoption_key: Some(name),
        fields: receiver.clone(),
        part_ids: Default::default(),
    }
}

fn integrations(fields: &Fields) -> &[Value] {
    fields.get("integrations").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The integration types of Grafana 8.5.4's unified alerting: the keys of `receiverFactories`
/// (pkg/services/ngalert/notifier/channels/factory.go:36-55). Any other type makes Grafana
/// refuse the whole Alertmanager configuration ("notifier … is not supported").
const INTEGRATION_TYPES: [&str; 18] = [
    "prometheus-alertmanager",
    "dingding",
    "discord",
    "email",
    "googlechat",
    "kafka",
    "line",
    "opsgenie",
    "pagerduty",
    "pushover",
    "sensugo",
    "slack",
    "teams",
    "telegram",
    "threema",
    "victorops",
    "webhook",
    "wecom",
];

/// A comparable contact point without what an integration gets when the definition leaves
/// it out, so that a plan never shows it: no settings, resolve messages sent
/// (`disableResolveMessage`, a Go bool: false when absent), no secret keys.
fn integrations_without_defaults(mut contact_point: Value) -> Value {
    use mac_core::diff::remove_default;
    remove_default(&mut contact_point, "/integrations/*/settings", &json!({}));
    remove_default(&mut contact_point, "/integrations/*/disable_resolve_message", &json!(false));
    remove_default(&mut contact_point, "/integrations/*/secure_fields", &json!([]));
    contact_point
}

#[async_trait]
impl mac_core::legacy::LegacyHandler for ContactPointHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        checks::unknown_keys(fields, "", &["name", "integrations"], &mut errors);
        if fields.get("name").is_some_and(|name| name.as_str().is_none_or(str::is_empty)) {
            errors.push(FieldError::at("/name", "`name` must be a non-empty string"));
        }
        match fields.get("integrations") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (index, item) in items.iter().enumerate() {
                    let at = format!("/integrations/{index}");
                    let Some(item) = item.as_object() else {
                        errors.push(FieldError::at(&at, "an integration must be a table"));
                        continue;
                    };
                    checks::unknown_keys(
                        item,
                        &at,
                        &["type", "settings", "secure_settings", "disable_resolve_message"],
                        &mut errors,
                    );
                    match item.get("type").and_then(Value::as_str).filter(|kind| !kind.is_empty()) {
                        None => errors.push(FieldError::at(
                            format!("{at}/type"),
                            "`type` is required, e.g. \"slack\", \"email\", \"webhook\"",
                        )),
                        // channels/factory.go `Factory` looks the type up lower-cased.
                        Some(kind) if !INTEGRATION_TYPES.contains(&kind.to_lowercase().as_str()) => {
                            errors.push(FieldError::at(
                                format!("{at}/type"),
                                format!(
                                    "Grafana 8.5 has no integration type `{kind}`{} (the types: {})",
                                    mac_core::suggest::hint(kind, INTEGRATION_TYPES),
                                    INTEGRATION_TYPES.join(", ")
                                ),
                            ))
                        }
                        Some(_) => {}
                    }
                    for table in ["settings", "secure_settings"] {
                        if item.get(table).is_some_and(|value| !value.is_object()) {
                            errors.push(FieldError::at(format!("{at}/{table}"), format!("`{table}` must be a table")));
                        }
                    }
                }
            }
            _ => errors.push(FieldError::at(
                "/integrations",
                "a contact point needs at least one integration ([[…contact_point.integrations]])",
            )),
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        vec!["/integrations/*/secure_settings/*"]
    }

    fn adoption_key(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Option<String> {
        Some(receiver_name(desired))
    }

    fn desired(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<Value, FieldError> {
        let items: Vec<Value> = integrations(&desired.fields)
            .iter()
            .map(|item| {
                let keys: Vec<&String> = item.get("secure_settings").and_then(Value::as_object).map(|map| map.keys().collect()).unwrap_or_default();
                json!({
                    "type": item.get("type"),
                    "settings": item.get("settings").cloned().unwrap_or_else(|| json!({})),
                    "disable_resolve_message": item.get("disable_resolve_message").and_then(Value::as_bool).unwrap_or(false),
                    "secure_fields": keys,
                })
            })
            .collect();
        Ok(integrations_without_defaults(json!({ "name": receiver_name(desired), "integrations": items })))
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        let items: Vec<Value> = remote
            .fields
            .get("grafana_managed_receiver_configs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|item| {
                let keys: Vec<&String> = item
                    .get("secureFields")
                    .and_then(Value::as_object)
                    .map(|map| map.iter().filter(|(_, set)| set.as_bool() == Some(true)).map(|(key, _)| key).collect())
                    .unwrap_or_default();
                json!({
                    "type": item.get("type"),
                    "settings": item.get("settings").cloned().unwrap_or_else(|| json!({})),
                    "disable_resolve_message": item.get("disableResolveMessage").and_then(Value::as_bool).unwrap_or(false),
                    "secure_fields": keys,
                })
            })
            .collect();
        integrations_without_defaults(json!({ "name": remote.remote_id, "integrations": items }))
    }

    /// Secret keys are compared only for those the definition sets: others stay stored.
    fn observed_for(&self, remote: &RemoteObject, desired: &Value) -> Value {
        let mut observed = self.observed(remote);
        let wanted: Vec<Vec<String>> = desired
            .get("integrations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|item| {
                item.get("secure_fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|key| key.as_str().map(str::to_owned))
                    .collect()
            })
            .collect();
        for (index, item) in
            observed.get_mut("integrations").and_then(Value::as_array_mut).into_iter().flatten().enumerate()
        {
            let keep = wanted.get(index).cloned().unwrap_or_default();
            if let Some(keys) = item.get_mut("secure_fields").and_then(Value::as_array_mut) {
                keys.retain(|key| key.as_str().is_some_and(|key| keep.iter().any(|wanted| wanted == key)));
            }
        }
        // Narrowed to no keys is the default too.
        integrations_without_defaults(observed)
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        let count = remote.fields.get("grafana_managed_receiver_configs").and_then(Value::as_array).map_or(0, Vec::len);
        format!("contact point {:?}, {count} integration{}", remote.remote_id, if count == 1 { "" } else { "s" })
    }

    fn import(&self, remote: &RemoteObject, _refs: &dyn mac_core::ImportRefs) -> Option<mac_core::ImportedFields> {
        let observed = self.observed(remote);
        let integrations = observed.get("integrations")?.as_array()?;
        let type_of = |item: &Value| item.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
        let items: Vec<Value> = integrations
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let mut out = Map::new();
                out.insert("type".to_owned(), item.get("type").cloned().unwrap_or_default());
                out.insert("settings".to_owned(), item.get("settings").cloned().unwrap_or_else(|| json!({})));
                if item.get("disable_resolve_message") == Some(&json!(true)) {
                    out.insert("disable_resolve_message".to_owned(), json!(true));
                }
                // Grafana never returns secure values: a placeholder per stored key. The
                // integration's type names the variable, and its position when the type repeats.
                let kind = type_of(item);
                let repeated = integrations.iter().filter(|other| type_of(other) == kind).count() > 1;
                let position = (index + 1).to_string();
                let mut parts = vec!["contact_point", remote.remote_id.as_str(), kind.as_str()];
                if repeated {
                    parts.push(&position);
                }
                let stored: Map<String, Value> = item
                    .get("secure_fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|key| Some((key.as_str()?.to_owned(), json!(true))))
                    .collect();
                if let Some(secrets) = crate::secret_placeholders(Some(&Value::Object(stored)), &parts) {
                    out.insert("secure_settings".to_owned(), secrets);
                }
                Value::Object(out)
            })
            .collect();
        let mut fields = Map::new();
        fields.insert("name".to_owned(), json!(remote.remote_id));
        fields.insert("integrations".to_owned(), Value::Array(items));
        Some(mac_core::ImportedFields {
            local_id: crate::slug(&remote.remote_id),
            fields,
            file: "contact-points".to_owned(),
            scope: None,
            part_ids: Default::default(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let document = self.alertmanager.read().await?;
        Ok(receivers(&document).map(receiver_object).collect())
    }

    async fn create(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        self.write(None, desired, refs).await
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        self.write(Some(current), desired, refs).await
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let name = current.remote_id.clone();
        self.alertmanager
            .modify(|config| {
                if let Some(list) = config.get_mut("receivers").and_then(Value::as_array_mut) {
                    list.retain(|receiver| receiver.get("name").and_then(Value::as_str) != Some(name.as_str()));
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }
}

impl ContactPointHandler {
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        desired: &DesiredObject,
        _refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        let name = receiver_name(desired);
        let old_name = current.map_or_else(|| name.clone(), |current| current.remote_id.clone());
        let wanted = integrations(&desired.fields).to_vec();
        let document = self
            .alertmanager
            .modify(|config| {
                let list = config.entry("receivers").or_insert_with(|| json!([]));
                let Some(list) = list.as_array_mut() else { return Ok(()) };
                let existing = list.iter().position(|receiver| receiver.get("name").and_then(Value::as_str) == Some(old_name.as_str()));
                let stored: Vec<Value> = existing
                    .and_then(|index| list[index].get("grafana_managed_receiver_configs").and_then(Value::as_array).cloned())
                    .unwrap_or_default();
                let configs: Vec<Value> = wanted
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        // The same integration keeps its uid, so Grafana keeps secrets not resent.
                        let uid = stored
                            .get(index)
                            .filter(|stored| stored.get("type") == item.get("type"))
                            .and_then(|stored| stored.get("uid").cloned())
                            .unwrap_or_else(|| json!(""));
                        let mut config = json!({
                            "uid": uid,
                            "name": name,
                            "type": item.get("type"),
                            "disableResolveMessage": item.get("disable_resolve_message").and_then(Value::as_bool).unwrap_or(false),
                            "settings": item.get("settings").cloned().unwrap_or_else(|| json!({})),
                        });
                        if let Some(secure) = item.get("secure_settings") {
                            config["secureSettings"] = secure.clone();
                        }
                        config
                    })
                    .collect();
                let receiver = json!({ "name": name, "grafana_managed_receiver_configs": configs });
                match existing {
                    Some(index) => list[index] = receiver,
                    None => list.push(receiver),
                }
                if old_name != name
                    && let Some(route) = config.get_mut("route")
                {
                    rename_receiver(route, &old_name, &name);
                }
                Ok(())
            })
            .await
            .map_err(|err| err.at("/integrations"))?;
        receivers(&document)
            .find(|receiver| receiver.get("name").and_then(Value::as_str) == Some(name.as_str()))
            .map(receiver_object)
            .ok_or_else(|| {
                HandlerError::new(
                    HandlerErrorKind::Unavailable,
                    format!("contact point `{name}` is missing after the write"),
                )
            })
    }
}

/// Routes that named a renamed contact point follow it.
fn rename_receiver(route: &mut Value, old: &str, new: &str) {
    if route.get("receiver").and_then(Value::as_str) == Some(old) {
        route["receiver"] = json!(new);
    }
    for child in route.get_mut("routes").and_then(Value::as_array_mut).into_iter().flatten() {
        rename_receiver(child, old, new);
    }
}

// ---------------------------------------------------------------------------------------
// notification_policy

#[derive(Debug)]
pub struct NotificationPolicyHandler {
    alertmanager: Arc<Alertmanager>,
}

impl NotificationPolicyHandler {
    pub fn new(alertmanager: Arc<Alertmanager>) -> NotificationPolicyHandler {
        NotificationPolicyHandler { alertmanager }
    }
}

const ROUTE_KEYS: [&str; 8] = [
    "contact_point",
    "receiver",
    "matchers",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "continue",
];

/// A policy's identity in the document: its matchers, which no other child route of the
/// root may share (Alertmanager would never reach the second).
fn matcher_key(matchers: Option<&Value>) -> String {
    let mut rows: Vec<String> = matchers
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|row| row.as_array().into_iter().flatten().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
        .collect();
    rows.sort();
    rows.join(", ")
}

/// The route as the document holds it, from a definition (receiver already resolved).
fn route_of(fields: &Fields, receiver: &str) -> Value {
    let mut route = Map::new();
    route.insert("receiver".to_owned(), json!(receiver));
    if let Some(matchers) = fields.get("matchers") {
        route.insert("object_matchers".to_owned(), matchers.clone());
    }
    if let Some(group_by) = fields.get("group_by") {
        route.insert("group_by".to_owned(), group_by.clone());
    }
    for key in ["group_wait", "group_interval", "repeat_interval"] {
        if let Some(value) = fields.get(key) {
            route.insert(key.to_owned(), canonical(value));
        }
    }
    if fields.get("continue") == Some(&json!(true)) {
        route.insert("continue".to_owned(), json!(true));
    }
    Value::Object(route)
}

/// Object matchers in the order Grafana 8.5.4 stores them: it sorts them when it decodes the
/// document (pkg/services/ngalert/api/tooling/definitions/alertmanager.go:1252,
/// `sort.Sort(labels.Matchers(*m))`: by name, then value, then match type), so the order they
/// were written in is no change.
fn sorted_matchers(matchers: Option<&Value>) -> Value {
    let Some(Value::Array(rows)) = matchers else { return json!([]) };
    let type_rank = |op: Option<&str>| ["=", "!=", "=~", "!~"].iter().position(|known| Some(*known) == op);
    let mut rows = rows.clone();
    rows.sort_by_key(|row| {
        let part = |i: usize| row.get(i).and_then(Value::as_str).map(str::to_owned);
        (part(0), part(2), type_rank(row.get(1).and_then(Value::as_str)))
    });
    Value::Array(rows)
}

/// The comparable form of a route (definition-made or from the document).
fn comparable_route(route: &Value) -> Value {
    let mut out = Map::new();
    out.insert("receiver".to_owned(), route.get("receiver").cloned().unwrap_or_default());
    out.insert("matchers".to_owned(), sorted_matchers(route.get("object_matchers")));
    out.insert("group_by".to_owned(), route.get("group_by").cloned().unwrap_or_else(|| json!([])));
    for key in ["group_wait", "group_interval", "repeat_interval"] {
        out.insert(key.to_owned(), route.get(key).map(canonical).unwrap_or(Value::Null));
    }
    out.insert("continue".to_owned(), json!(route.get("continue").and_then(Value::as_bool).unwrap_or(false)));
    Value::Object(out)
}

/// A comparable route without what a route has when the definition leaves it out, so that a
/// plan never shows it: no grouping labels, `continue` false (Go zero values of the
/// Alertmanager `config.Route` that Grafana 8.5.4's routes embed).
fn route_without_defaults(mut route: Value) -> Value {
    use mac_core::diff::remove_default;
    remove_default(&mut route, "/group_by", &json!([]));
    remove_default(&mut route, "/continue", &json!(false));
    route
}

fn policy_object(route: &Value) -> RemoteObject {
    let key = matcher_key(route.get("object_matchers"));
    RemoteObject {
        remote_id: key.clone(),
        adoption_key: Some(key),
        fields: route.clone(),
        part_ids: Default::default(),
    }
}

/// The receiver name a policy sends to: a contact point defined here, or one by name.
fn policy_receiver(fields: &Fields, refs: &dyn Resolver) -> Option<String> {
    if let Some(name) = fields.get("receiver").and_then(Value::as_str) {
        return Some(name.to_owned());
    }
    let local_id = fields.get("contact_point")?.as_str()?;
    match refs.resolve(&LocalRef::new("contact_point", local_id))? {
        Resolved::Known(remote) => Some(remote.remote_id.clone()),
        Resolved::Pending => Some(mac_core::provider::KNOWN_AFTER_APPLY.to_owned()),
    }
}

#[async_trait]
impl mac_core::legacy::LegacyHandler for NotificationPolicyHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        checks::unknown_keys(fields, "", &ROUTE_KEYS, &mut errors);
        match (fields.get("contact_point"), fields.get("receiver")) {
            (Some(Value::String(_)), None) | (None, Some(Value::String(_))) => {}
            _ => errors.push(FieldError::at(
                "",
                "a policy needs exactly one of `contact_point` (a contact point defined here) or `receiver` (a receiver's name in Grafana)",
            )),
        }
        let matchers_valid = fields.get("matchers").and_then(Value::as_array).is_some_and(|rows| {
            !rows.is_empty()
                && rows.iter().all(|row| {
                    row.as_array().is_some_and(|row| {
                        row.len() == 3
                            && row.iter().all(Value::is_string)
                            && matches!(row[1].as_str(), Some("=" | "!=" | "=~" | "!~"))
                    })
                })
        });
        if !matchers_valid {
            errors.push(FieldError::at(
                "/matchers",
                "`matchers` must be a non-empty list such as [[\"team\", \"=\", \"payments\"]] (operators =, !=, =~, !~); they identify the policy",
            ));
        }
        for key in ["group_wait", "group_interval", "repeat_interval"] {
            if let Some(value) = fields.get(key)
                && value
                    .as_str()
                    .and_then(duration::parse)
                    .is_none_or(|milliseconds| key != "group_wait" && milliseconds == 0)
            {
                errors.push(FieldError::at(format!("/{key}"), format!("`{key}` must be a duration such as \"5m\"")));
            }
        }
        if fields
            .get("group_by")
            .is_some_and(|value| !value.as_array().is_some_and(|labels| labels.iter().all(Value::is_string)))
        {
            errors.push(FieldError::at("/group_by", "`group_by` must be a list of label names"));
        }
        if fields.get("continue").is_some_and(|value| !value.is_boolean()) {
            errors.push(FieldError::at("/continue", "`continue` must be true or false"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn references(&self, fields: &Fields) -> Vec<(String, LocalRef)> {
        match fields.get("contact_point").and_then(Value::as_str) {
            Some(local_id) => vec![("/contact_point".to_owned(), LocalRef::new("contact_point", local_id))],
            None => Vec::new(),
        }
    }

    fn adoption_key(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Option<String> {
        Some(matcher_key(desired.fields.get("matchers")))
    }

    fn desired(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<Value, FieldError> {
        let receiver = policy_receiver(&desired.fields, refs)
            .ok_or_else(|| FieldError::at("/contact_point", "the contact point is not defined"))?;
        Ok(route_without_defaults(comparable_route(&route_of(&desired.fields, &receiver))))
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        route_without_defaults(comparable_route(&remote.fields))
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        let receiver = remote.fields.get("receiver").and_then(Value::as_str).unwrap_or_default();
        format!("notification policy {{{}}} to contact point {receiver:?}", remote.remote_id)
    }

    fn import(&self, remote: &RemoteObject, refs: &dyn mac_core::ImportRefs) -> Option<mac_core::ImportedFields> {
        let route = remote.fields.as_object()?;
        let matchers = route.get("object_matchers")?;
        if matchers.as_array().is_none_or(Vec::is_empty)
            || route.get("routes").is_some_and(|routes| routes.as_array().is_some_and(|routes| !routes.is_empty()))
        {
            // Only flat child routes with matchers are imported; nested trees stay by hand.
            return None;
        }
        let receiver = route.get("receiver")?.as_str()?;
        let mut fields = Map::new();
        match refs.local_id("contact_point", receiver) {
            Some(local_id) => fields.insert("contact_point".to_owned(), json!(local_id)),
            None => fields.insert("receiver".to_owned(), json!(receiver)),
        };
        fields.insert("matchers".to_owned(), matchers.clone());
        for key in ["group_by", "group_wait", "group_interval", "repeat_interval", "continue"] {
            if let Some(value) = route.get(key) {
                fields.insert(
                    key.to_owned(),
                    if key.ends_with("_wait") || key.ends_with("_interval") { canonical(value) } else { value.clone() },
                );
            }
        }
        Some(mac_core::ImportedFields {
            local_id: crate::slug(&remote.remote_id),
            fields,
            file: "notification-policies".to_owned(),
            scope: None,
            part_ids: Default::default(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let document = self.alertmanager.read().await?;
        Ok(child_routes(&document).map(policy_object).collect())
    }

    async fn create(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        self.write(None, desired, refs).await
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        self.write(Some(current), desired, refs).await
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let key = current.remote_id.clone();
        self.alertmanager
            .modify(|config| {
                if let Some(routes) =
                    config.get_mut("route").and_then(|route| route.get_mut("routes")).and_then(Value::as_array_mut)
                {
                    routes.retain(|route| matcher_key(route.get("object_matchers")) != key);
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }
}

impl NotificationPolicyHandler {
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        desired: &DesiredObject,
        refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        let receiver = policy_receiver(&desired.fields, refs)
            .filter(|receiver| receiver != mac_core::provider::KNOWN_AFTER_APPLY)
            .ok_or_else(|| {
                HandlerError::new(HandlerErrorKind::Other, "the contact point has not been created")
                    .at("/contact_point")
            })?;
        let route = route_of(&desired.fields, &receiver);
        let new_key = matcher_key(route.get("object_matchers"));
        let old_key = current.map_or_else(|| new_key.clone(), |current| current.remote_id.clone());
        let document = self
            .alertmanager
            .modify(|config| {
                let root = config.entry("route").or_insert_with(|| json!({}));
                let Some(root) = root.as_object_mut() else { return Ok(()) };
                let routes = root.entry("routes").or_insert_with(|| json!([]));
                let Some(routes) = routes.as_array_mut() else { return Ok(()) };
                let position = routes.iter().position(|route| matcher_key(route.get("object_matchers")) == old_key);
                match position {
                    Some(index) => {
                        // Keep what mac does not manage in the route (nested routes, mute timings).
                        let mut merged = routes[index].as_object().cloned().unwrap_or_default();
                        for key in [
                            "object_matchers",
                            "group_by",
                            "group_wait",
                            "group_interval",
                            "repeat_interval",
                            "continue",
                        ] {
                            merged.remove(key);
                        }
                        merged.extend(route.as_object().cloned().unwrap_or_default());
                        routes[index] = Value::Object(merged);
                    }
                    // New policies go last: they never take alerts from routes that matched before.
                    None => routes.push(route.clone()),
                }
                Ok(())
            })
            .await
            .map_err(|err| err.at("/matchers"))?;
        child_routes(&document)
            .find(|route| matcher_key(route.get("object_matchers")) == new_key)
            .map(policy_object)
            .ok_or_else(|| {
                HandlerError::new(
                    HandlerErrorKind::Unavailable,
                    format!("policy `{new_key}` is missing after the write"),
                )
            })
    }
}
