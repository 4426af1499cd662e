//! `contact_point` and `notification_policy`: unified alerting's receivers and routes, which
//! Grafana 8 keeps in one Alertmanager configuration document (API.md §5.2) with the message
//! templates and mute timings of `crate::am_parts`.
//!
//! mac owns only the receivers, the child routes of the root route, the templates and the mute
//! timings that code defines;
//! every write re-reads the document, changes only those parts and posts it back whole, so
//! other teams' receivers, routes, templates and stored secrets are kept. Writes of the
//! document are serialised within a run (one lock for both kinds). The document itself stays
//! a JSON value: most of it belongs to others, and is posted back exactly as read; the parts
//! mac owns are read and written through the typed forms below.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use mac_core::links::{LinkTarget, Links, Relation};

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, KeyReference, Kind, LocalRef, ObjectId,
    Remote, RemoteObject, Resolved, Resolver, SecretRef, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::client::Client;
use mac_core::duration;

const CONFIG: [&str; 7] = ["api", "alertmanager", "grafana", "config", "api", "v1", "alerts"];

/// A read of the document that several lists await together.
type SharedRead = Shared<BoxFuture<'static, Result<Arc<Value>, Arc<HandlerError>>>>;

/// The read the kinds of one observation share, and the kinds that took it.
struct Listing {
    read: SharedRead,
    listed: BTreeSet<&'static str>,
    /// When the read started: an observation lists its kinds at once, so a list that comes
    /// later than [`JOIN_WINDOW`] belongs to another observation and reads afresh.
    started: std::time::Instant,
}

/// How long after a read started a list of another kind may still share it. The kinds of one
/// observation start listing within milliseconds of each other; this bounds how old a shared
/// document can ever be, whatever else calls `list()` (a program using mac as a library).
const JOIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

impl Listing {
    /// Whether `kind`'s list may share this read at `now`.
    fn joinable(&self, kind: &str, now: std::time::Instant) -> bool {
        !self.listed.contains(kind) && now.saturating_duration_since(self.started) < JOIN_WINDOW
    }
}

/// The document, shared by the handlers of the kinds that live in it.
pub struct Alertmanager {
    client: Arc<Client>,
    /// Held from read to write, so two writes of one run never lose each other's change.
    write_lock: tokio::sync::Mutex<()>,
    /// The read for lists: a plan lists every kind in use at once, and the kinds of the
    /// document share one read instead of making one each. A kind that lists again (a saved
    /// plan's recheck, the next plan) starts a fresh read, and so does any list after a write
    /// or more than [`JOIN_WINDOW`] after the read began.
    listing: Mutex<Option<Listing>>,
}

impl fmt::Debug for Alertmanager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alertmanager").field("client", &self.client).finish_non_exhaustive()
    }
}

impl Alertmanager {
    pub fn new(client: Arc<Client>) -> Arc<Alertmanager> {
        Arc::new(Alertmanager { client, write_lock: tokio::sync::Mutex::new(()), listing: Mutex::new(None) })
    }

    /// The document for `kind`'s list: the read other kinds of the same observation took (in
    /// flight or done), or a new one that they may share.
    pub(crate) async fn read_for_list(&self, kind: &'static str) -> Result<Arc<Value>, HandlerError> {
        let read = {
            let mut slot = self.listing.lock().expect("the listing slot is never held across a panic");
            let now = std::time::Instant::now();
            match slot.as_mut().filter(|listing| listing.joinable(kind, now)) {
                Some(listing) => {
                    listing.listed.insert(kind);
                    listing.read.clone()
                }
                None => {
                    let client = self.client.clone();
                    let read =
                        async move { read_document(&client).await.map(Arc::new).map_err(Arc::new) }.boxed().shared();
                    *slot = Some(Listing { read: read.clone(), listed: BTreeSet::from([kind]), started: now });
                    read
                }
            }
        };
        read.await.map_err(|error| HandlerError {
            kind: error.kind,
            message: error.message.clone(),
            pointer: error.pointer.clone(),
            source: None,
        })
    }

    /// Forgets the shared read: what lists see next must include a write.
    fn forget_listing(&self) {
        *self.listing.lock().expect("the listing slot is never held across a panic") = None;
    }

    pub(crate) async fn read(&self) -> Result<Value, HandlerError> {
        read_document(&self.client).await
    }

    /// Reads the document, lets `change` edit it, and posts it back, under the write lock.
    pub(crate) async fn modify(
        &self,
        change: impl FnOnce(&mut Map<String, Value>) -> Result<(), HandlerError>,
    ) -> Result<Value, HandlerError> {
        self.modify_document(|document| {
            let config = document.get_mut("alertmanager_config").and_then(Value::as_object_mut).ok_or_else(|| {
                HandlerError::new(
                    HandlerErrorKind::Unavailable,
                    "Grafana's Alertmanager configuration has no alertmanager_config",
                )
            })?;
            change(config)
        })
        .await
    }

    /// [`Alertmanager::modify`] with the whole document (its `template_files` too).
    pub(crate) async fn modify_document(
        &self,
        change: impl FnOnce(&mut Value) -> Result<(), HandlerError>,
    ) -> Result<Value, HandlerError> {
        let _guard = self.write_lock.lock().await;
        self.forget_listing();
        let mut document = self.read().await?;
        change(&mut document)?;
        let config = document.get_mut("alertmanager_config").and_then(Value::as_object_mut).ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                "Grafana's Alertmanager configuration has no alertmanager_config",
            )
        })?;
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

async fn read_document(client: &Client) -> Result<Value, HandlerError> {
    match client.get(&CONFIG, &[]).await {
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

fn receivers(document: &Value) -> impl Iterator<Item = &Value> {
    document.pointer("/alertmanager_config/receivers").and_then(Value::as_array).into_iter().flatten()
}

fn child_routes(document: &Value) -> impl Iterator<Item = &Value> {
    document.pointer("/alertmanager_config/route/routes").and_then(Value::as_array).into_iter().flatten()
}

/// The name of a receiver of the document.
fn name_of(receiver: &Value) -> Option<&str> {
    receiver.get("name").and_then(Value::as_str)
}

/// A canonical duration, or the text as given.
fn canonical(text: &str) -> String {
    duration::canonical(text).unwrap_or_else(|| text.to_owned())
}

/// A field that Grafana may send as `null` as well as leave out: both are the default.
fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(deserializer: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn is_false(value: &bool) -> bool {
    !value
}

// ---------------------------------------------------------------------------------------
// contact_point

/// A `contact_point` definition: a receiver of unified alerting and its integrations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["integrations"]))]
pub struct ContactPoint {
    /// The receiver's name in Grafana; the local id when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where its notifications go: at least one integration.
    #[serde(default)]
    pub integrations: Vec<Integration>,
}

/// One integration of a contact point (an item of Grafana's `grafana_managed_receiver_configs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["type"]))]
pub struct Integration {
    /// The integration type: one of Grafana 8.5's (`slack`, `email`, `webhook`, …).
    ///
    /// `type` in a definition.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Its settings, as Grafana takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
    /// `true`: no message when an alert resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_resolve_message: Option<bool>,
    /// Settings Grafana stores encrypted and never returns, each given as a secret reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_settings: Option<BTreeMap<String, SecureSetting>>,
}

/// The value of a secure setting: a secret reference as a definition gives it, or the secret
/// itself, as a write receives it once the engine revealed it. (While planning, the engine
/// removes secure settings from the definition: they are compared by digest.)
#[derive(Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SecureSetting {
    /// `{ env = "VARIABLE" }` or `{ file = "path" }`.
    Reference(SecretRef),
    /// The revealed secret.
    Revealed(String),
}

/// A definition gives a secure setting as a reference only (the loader refuses one inline).
impl schemars::JsonSchema for SecureSetting {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        SecretRef::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        SecretRef::json_schema(generator)
    }
}

impl<'de> Deserialize<'de> for SecureSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(secret) => Ok(SecureSetting::Revealed(secret)),
            // Anything else must be a reference, and is told how to write one.
            other => SecretRef::deserialize(other).map(SecureSetting::Reference).map_err(serde::de::Error::custom),
        }
    }
}

/// Never shows a revealed secret.
impl fmt::Debug for SecureSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecureSetting::Reference(reference) => reference.fmt(f),
            SecureSetting::Revealed(_) => f.write_str("SecureSetting(revealed)"),
        }
    }
}

/// A receiver as the document holds it (`list` records it whole).
#[derive(Debug, Deserialize)]
pub(crate) struct StoredReceiver {
    #[serde(default, deserialize_with = "null_as_default")]
    grafana_managed_receiver_configs: Vec<StoredIntegration>,
}

/// An integration as Grafana returns it: `secureFields` names the secure settings it stores.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredIntegration {
    #[serde(default)]
    uid: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    disable_resolve_message: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    settings: Map<String, Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    secure_fields: BTreeMap<String, bool>,
}

/// An integration as a write posts it: the stored one's uid, so that Grafana keeps secrets
/// not sent again.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostedIntegration<'a> {
    uid: String,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    disable_resolve_message: bool,
    settings: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secure_settings: Option<&'a BTreeMap<String, SecureSetting>>,
}

#[derive(Serialize)]
struct PostedReceiver<'a> {
    name: &'a str,
    grafana_managed_receiver_configs: Vec<PostedIntegration<'a>>,
}

/// A contact point in the comparable form, without what an integration gets when the
/// definition leaves it out, so that a plan never shows it: no settings, resolve messages
/// sent (`disableResolveMessage`, a Go bool: false when absent), no secret keys.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableContactPoint {
    name: String,
    integrations: Vec<ComparableIntegration>,
}

#[derive(Debug, Serialize)]
struct ComparableIntegration {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    settings: Map<String, Value>,
    #[serde(skip_serializing_if = "is_false")]
    disable_resolve_message: bool,
    /// The secure settings' keys (never their values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secure_fields: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct ContactPointKind {
    alertmanager: Arc<Alertmanager>,
}

impl ContactPointKind {
    pub(crate) fn new(alertmanager: Arc<Alertmanager>) -> ContactPointKind {
        ContactPointKind { alertmanager }
    }
}

fn receiver_name(id: &ObjectId, desired: &ContactPoint) -> String {
    desired.name.clone().unwrap_or_else(|| id.local_id.clone())
}

fn receiver_object(receiver: &Value) -> RemoteObject {
    let name = name_of(receiver).unwrap_or_default().to_owned();
    RemoteObject {
        remote_id: name.clone(),
        adoption_key: Some(name),
        fields: mac_core::JsonText::from_value(receiver),
        part_ids: Default::default(),
    }
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

#[async_trait]
impl Kind for ContactPointKind {
    type Desired = ContactPoint;
    type Remote = StoredReceiver;
    type Comparable = ComparableContactPoint;
    type Context = ();

    fn validate(&self, desired: &ContactPoint) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if desired.name.as_ref().is_some_and(String::is_empty) {
            errors.push(FieldError::at("/name", "`name` must be a non-empty string"));
        }
        if desired.integrations.is_empty() {
            errors.push(FieldError::at(
                "/integrations",
                "a contact point needs at least one integration ([[…contact_point.integrations]])",
            ));
        }
        for (index, item) in desired.integrations.iter().enumerate() {
            let at = format!("/integrations/{index}/type");
            let kind = item.kind.as_str();
            if kind.is_empty() {
                errors.push(FieldError::at(at, "`type` is required, e.g. \"slack\", \"email\", \"webhook\""));
            } else if !INTEGRATION_TYPES.contains(&kind.to_lowercase().as_str()) {
                // channels/factory.go `Factory` looks the type up lower-cased.
                errors.push(FieldError::at(
                    at,
                    format!(
                        "Grafana 8.5 has no integration type `{kind}`{} (the types: {})",
                        mac_core::suggest::hint(kind, INTEGRATION_TYPES),
                        INTEGRATION_TYPES.join(", ")
                    ),
                ));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        vec!["/integrations/*/secure_settings/*"]
    }

    fn adoption_key(&self, id: &ObjectId, desired: &ContactPoint, _refs: &dyn Resolver) -> Option<String> {
        Some(receiver_name(id, desired))
    }

    fn desired(
        &self,
        id: &ObjectId,
        desired: &ContactPoint,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableContactPoint, FieldError> {
        let integrations = desired
            .integrations
            .iter()
            .map(|item| ComparableIntegration {
                kind: Some(item.kind.clone()),
                settings: item.settings.clone().unwrap_or_default(),
                disable_resolve_message: item.disable_resolve_message.unwrap_or(false),
                secure_fields: item.secure_settings.iter().flat_map(BTreeMap::keys).cloned().collect(),
            })
            .collect();
        Ok(ComparableContactPoint { name: receiver_name(id, desired), integrations })
    }

    fn observed(&self, remote: &Remote<'_, StoredReceiver>) -> ComparableContactPoint {
        let integrations = remote
            .fields
            .grafana_managed_receiver_configs
            .iter()
            .map(|item| ComparableIntegration {
                kind: item.kind.clone(),
                settings: item.settings.clone(),
                disable_resolve_message: item.disable_resolve_message,
                secure_fields: item.secure_fields.iter().filter(|(_, set)| **set).map(|(key, _)| key.clone()).collect(),
            })
            .collect();
        ComparableContactPoint { name: remote.remote_id().to_owned(), integrations }
    }

    /// Secret keys are compared only for those the definition sets: others stay stored.
    fn observed_for(
        &self,
        remote: &Remote<'_, StoredReceiver>,
        desired: &ComparableContactPoint,
    ) -> ComparableContactPoint {
        let mut observed = self.observed(remote);
        for (index, item) in observed.integrations.iter_mut().enumerate() {
            let wanted = desired.integrations.get(index).map_or(&[][..], |wanted| wanted.secure_fields.as_slice());
            item.secure_fields.retain(|key| wanted.contains(key));
        }
        observed
    }

    fn describe(&self, remote: &Remote<'_, StoredReceiver>) -> String {
        let count = remote.fields.grafana_managed_receiver_configs.len();
        format!("contact point {:?}, {count} integration{}", remote.remote_id(), if count == 1 { "" } else { "s" })
    }

    fn import(
        &self,
        remote: &Remote<'_, StoredReceiver>,
        _refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let observed = self.observed(remote);
        let type_of = |item: &ComparableIntegration| item.kind.clone().unwrap_or_default();
        let integrations = observed
            .integrations
            .iter()
            .enumerate()
            .map(|(index, item)| {
                // Grafana never returns secure values: a placeholder per stored key. The
                // integration's type names the variable, and its position when the type repeats.
                let kind = type_of(item);
                let repeated = observed.integrations.iter().filter(|other| type_of(other) == kind).count() > 1;
                let position = (index + 1).to_string();
                let mut parts = vec!["contact_point", remote.remote_id(), kind.as_str()];
                if repeated {
                    parts.push(&position);
                }
                let placeholders: BTreeMap<String, SecureSetting> = item
                    .secure_fields
                    .iter()
                    .map(|key| {
                        let mut named = parts.clone();
                        named.push(key);
                        let env = crate::secret_variable(&named);
                        (key.clone(), SecureSetting::Reference(SecretRef::Env { env }))
                    })
                    .collect();
                Integration {
                    kind: kind.clone(),
                    settings: Some(item.settings.clone()),
                    disable_resolve_message: item.disable_resolve_message.then_some(true),
                    secure_settings: (!placeholders.is_empty()).then_some(placeholders),
                }
            })
            .collect();
        let contact_point = ContactPoint { name: Some(remote.remote_id().to_owned()), integrations };
        Some(ImportedFields {
            local_id: crate::slug(remote.remote_id()),
            fields: serde_json::to_value(contact_point).ok()?.as_object()?.clone(),
            file: "contact-points".to_owned(),
            scope: None,
            part_ids: Default::default(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let document = self.alertmanager.read_for_list("contact_point").await?;
        Ok(receivers(&document).map(receiver_object).collect())
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &ContactPoint,
        _refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let name = receiver_name(id, desired);
        let old_name = current.map_or_else(|| name.clone(), |current| current.remote_id.clone());
        let document = self
            .alertmanager
            .modify(|config| {
                let list = config.entry("receivers").or_insert_with(|| json!([]));
                let Some(list) = list.as_array_mut() else { return Ok(()) };
                let existing = list.iter().position(|receiver| name_of(receiver) == Some(old_name.as_str()));
                let stored: Vec<StoredIntegration> = existing
                    .and_then(|index| StoredReceiver::deserialize(&list[index]).ok())
                    .map(|receiver| receiver.grafana_managed_receiver_configs)
                    .unwrap_or_default();
                let configs = desired
                    .integrations
                    .iter()
                    .enumerate()
                    .map(|(index, item)| PostedIntegration {
                        // The same integration keeps its uid, so Grafana keeps secrets not resent.
                        uid: stored
                            .get(index)
                            .filter(|stored| stored.kind.as_deref() == Some(item.kind.as_str()))
                            .and_then(|stored| stored.uid.clone())
                            .unwrap_or_default(),
                        name: &name,
                        kind: &item.kind,
                        disable_resolve_message: item.disable_resolve_message.unwrap_or(false),
                        settings: item.settings.clone().unwrap_or_default(),
                        secure_settings: item.secure_settings.as_ref(),
                    })
                    .collect();
                let receiver = PostedReceiver { name: &name, grafana_managed_receiver_configs: configs };
                let receiver = serde_json::to_value(receiver).map_err(|err| {
                    HandlerError::new(HandlerErrorKind::Other, format!("cannot encode contact point `{name}`: {err}"))
                })?;
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
        receivers(&document).find(|receiver| name_of(receiver) == Some(name.as_str())).map(receiver_object).ok_or_else(
            || {
                HandlerError::new(
                    HandlerErrorKind::Unavailable,
                    format!("contact point `{name}` is missing after the write"),
                )
            },
        )
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let name = current.remote_id.clone();
        self.alertmanager
            .modify(|config| {
                if let Some(list) = config.get_mut("receivers").and_then(Value::as_array_mut) {
                    list.retain(|receiver| name_of(receiver) != Some(name.as_str()));
                }
                Ok(())
            })
            .await
            .map(|_| ())
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

/// A `notification_policy` definition: a child route of the root policy, known by its
/// matchers. It sends to exactly one of `contact_point` or `receiver`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["matchers"]))]
pub struct NotificationPolicy {
    /// The local id of a contact point defined here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_point: Option<String>,
    /// A receiver's name in Grafana, for one not defined here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// The alerts it takes, `[label, operator, value]` (operators `=`, `!=`, `=~`, `!~`); they
    /// identify the policy.
    #[serde(default, deserialize_with = "matchers")]
    pub matchers: Vec<Matcher>,
    /// Labels alerts are grouped by.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "group_by")]
    pub group_by: Option<Vec<String>>,
    /// A duration such as `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(mac_core::duration::PATTERN))]
    pub group_wait: Option<String>,
    /// A duration such as `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(mac_core::duration::PATTERN))]
    pub group_interval: Option<String>,
    /// A duration such as `4h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(mac_core::duration::PATTERN))]
    pub repeat_interval: Option<String>,
    /// `true` lets the alerts it takes go on to the next policies.
    ///
    /// `continue` in a definition.
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none", deserialize_with = "continue_flag")]
    pub continue_matching: Option<bool>,
    /// The mute timings that silence it, by name: a `[[grafana8.mute_timing]]` defined here or
    /// one in Grafana; left out, the route keeps those it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mute_timings: Option<Vec<String>>,
}

/// One matcher of a policy: `[label, operator, value]`.
pub type Matcher = [String; 3];

const MATCHER_OPERATORS: [&str; 4] = ["=", "!=", "=~", "!~"];
const MATCHERS_EXPECTED: &str = "`matchers` must be a non-empty list such as [[\"team\", \"=\", \"payments\"]] (operators =, !=, =~, !~); they identify the policy";

/// `matchers`, told its shape when it has another.
fn matchers<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Matcher>, D::Error> {
    Vec::<Matcher>::deserialize(Value::deserialize(deserializer)?)
        .map_err(|_| serde::de::Error::custom(MATCHERS_EXPECTED))
}

fn group_by<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    Vec::<String>::deserialize(Value::deserialize(deserializer)?)
        .map(Some)
        .map_err(|_| serde::de::Error::custom("`group_by` must be a list of label names"))
}

fn continue_flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    bool::deserialize(Value::deserialize(deserializer)?)
        .map(Some)
        .map_err(|_| serde::de::Error::custom("`continue` must be true or false"))
}

/// A route of the document, as far as mac reads and writes it: `list` records the whole
/// route; a write merges these keys into the route it replaces, keeping the others.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Route {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    receiver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    object_matchers: Option<Vec<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_by: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_wait: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    repeat_interval: Option<String>,
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    continue_matching: Option<bool>,
    /// Nested routes: mac writes none, and imports no policy that has some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    routes: Option<Vec<Value>>,
    /// The names of the mute timings that silence it (Grafana leaves the key out when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mute_time_intervals: Option<Vec<String>>,
}

/// The keys of a route a policy's write replaces (the receiver is always written; the mute
/// timings when the definition names them).
const MANAGED_ROUTE_KEYS: [&str; 6] =
    ["object_matchers", "group_by", "group_wait", "group_interval", "repeat_interval", "continue"];
const MUTE_TIMINGS_KEY: &str = "mute_time_intervals";

/// Just a route's matchers, which identify it.
#[derive(Deserialize)]
struct RouteMatchers {
    #[serde(default, deserialize_with = "null_as_default")]
    object_matchers: Vec<Vec<String>>,
}

/// A policy in the comparable form, without what a route has when the definition leaves it
/// out, so that a plan never shows it: no grouping labels, `continue` false (Go zero values
/// of the Alertmanager `config.Route` that Grafana 8.5.4's routes embed).
#[derive(Debug, Serialize)]
pub(crate) struct ComparableRoute {
    receiver: Option<String>,
    matchers: Vec<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_by: Vec<String>,
    group_wait: Option<String>,
    group_interval: Option<String>,
    repeat_interval: Option<String>,
    #[serde(rename = "continue", skip_serializing_if = "is_false")]
    continue_matching: bool,
    /// Compared only when the definition names them (`observed_for`).
    #[serde(skip_serializing_if = "Option::is_none")]
    mute_timings: Option<Vec<String>>,
}

#[derive(Debug)]
pub(crate) struct NotificationPolicyKind {
    alertmanager: Arc<Alertmanager>,
}

impl NotificationPolicyKind {
    pub(crate) fn new(alertmanager: Arc<Alertmanager>) -> NotificationPolicyKind {
        NotificationPolicyKind { alertmanager }
    }
}

/// A policy's identity in the document: its matchers, which no other child route of the
/// root may share (Alertmanager would never reach the second).
fn matcher_key<Row: AsRef<[String]>>(matchers: &[Row]) -> String {
    let mut rows: Vec<String> = matchers.iter().map(|row| row.as_ref().join(" ")).collect();
    rows.sort();
    rows.join(", ")
}

/// The key of a route of the document.
pub(crate) fn route_key(route: &Value) -> String {
    RouteMatchers::deserialize(route).map(|route| matcher_key(&route.object_matchers)).unwrap_or_default()
}

/// The route as the document holds it, from a definition (receiver already resolved).
fn route_of(desired: &NotificationPolicy, receiver: &str) -> Route {
    Route {
        receiver: Some(receiver.to_owned()),
        object_matchers: Some(desired.matchers.iter().map(|row| row.to_vec()).collect()),
        group_by: desired.group_by.clone(),
        group_wait: desired.group_wait.as_deref().map(canonical),
        group_interval: desired.group_interval.as_deref().map(canonical),
        repeat_interval: desired.repeat_interval.as_deref().map(canonical),
        continue_matching: desired.continue_matching.filter(|continues| *continues),
        routes: None,
        mute_time_intervals: desired.mute_timings.clone().filter(|names| !names.is_empty()),
    }
}

/// Object matchers in the order Grafana 8.5.4 stores them: it sorts them when it decodes the
/// document (pkg/services/ngalert/api/tooling/definitions/alertmanager.go:1252,
/// `sort.Sort(labels.Matchers(*m))`: by name, then value, then match type), so the order they
/// were written in is no change.
fn sorted_matchers(matchers: &[Vec<String>]) -> Vec<Vec<String>> {
    let type_rank =
        |op: Option<&String>| MATCHER_OPERATORS.iter().position(|known| Some(*known) == op.map(String::as_str));
    let mut rows = matchers.to_vec();
    rows.sort_by_key(|row| (row.first().cloned(), row.get(2).cloned(), type_rank(row.get(1))));
    rows
}

/// The comparable form of a route (definition-made or from the document).
fn comparable_route(route: &Route) -> ComparableRoute {
    ComparableRoute {
        receiver: route.receiver.clone(),
        matchers: sorted_matchers(route.object_matchers.as_deref().unwrap_or_default()),
        group_by: route.group_by.clone().unwrap_or_default(),
        group_wait: route.group_wait.as_deref().map(canonical),
        group_interval: route.group_interval.as_deref().map(canonical),
        repeat_interval: route.repeat_interval.as_deref().map(canonical),
        continue_matching: route.continue_matching.unwrap_or(false),
        mute_timings: Some(route.mute_time_intervals.clone().unwrap_or_default()),
    }
}

fn policy_object(route: &Value) -> RemoteObject {
    let key = route_key(route);
    RemoteObject {
        remote_id: key.clone(),
        adoption_key: Some(key),
        fields: mac_core::JsonText::from_value(route),
        part_ids: Default::default(),
    }
}

/// The receiver name a policy sends to: a contact point defined here, or one by name.
fn policy_receiver(desired: &NotificationPolicy, refs: &dyn Resolver) -> Option<String> {
    if let Some(name) = &desired.receiver {
        return Some(name.clone());
    }
    let local_id = desired.contact_point.as_deref()?;
    match refs.resolve(&LocalRef::new("contact_point", local_id))? {
        Resolved::Known(remote) => Some(remote.remote_id.clone()),
        Resolved::Pending => Some(KNOWN_AFTER_APPLY.to_owned()),
    }
}

/// What a plan of policies reads besides the routes: the mute timings the document has, so
/// that a policy naming one that neither exists nor is defined here is refused at its line
/// (Grafana 8.5.4 would refuse the whole document with a bare "bad request data").
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct MuteTimingNames {
    #[serde(default)]
    names: Vec<String>,
}

#[async_trait]
impl Kind for NotificationPolicyKind {
    type Desired = NotificationPolicy;
    type Remote = Route;
    type Comparable = ComparableRoute;
    type Context = MuteTimingNames;

    fn validate(&self, desired: &NotificationPolicy) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if desired.contact_point.is_some() == desired.receiver.is_some() {
            errors.push(FieldError::at(
                "",
                "a policy needs exactly one of `contact_point` (a contact point defined here) or `receiver` (a receiver's name in Grafana)",
            ));
        }
        let matchers_valid = !desired.matchers.is_empty()
            && desired.matchers.iter().all(|[_, operator, _]| MATCHER_OPERATORS.contains(&operator.as_str()));
        if !matchers_valid {
            errors.push(FieldError::at("/matchers", MATCHERS_EXPECTED));
        }
        let durations = [
            ("group_wait", &desired.group_wait),
            ("group_interval", &desired.group_interval),
            ("repeat_interval", &desired.repeat_interval),
        ];
        for (key, value) in durations {
            if let Some(value) = value
                && duration::parse(value).is_none_or(|milliseconds| key != "group_wait" && milliseconds == 0)
            {
                errors.push(FieldError::at(format!("/{key}"), format!("`{key}` must be a duration such as \"5m\"")));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn references(&self, desired: &NotificationPolicy) -> Vec<(String, LocalRef)> {
        match &desired.contact_point {
            Some(local_id) => vec![("/contact_point".to_owned(), LocalRef::new("contact_point", local_id))],
            None => Vec::new(),
        }
    }

    fn adoption_key(&self, _id: &ObjectId, desired: &NotificationPolicy, _refs: &dyn Resolver) -> Option<String> {
        Some(matcher_key(&desired.matchers))
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &NotificationPolicy,
        refs: &dyn Resolver,
        context: &MuteTimingNames,
    ) -> Result<ComparableRoute, FieldError> {
        let receiver = policy_receiver(desired, refs)
            .ok_or_else(|| FieldError::at("/contact_point", "the contact point is not defined"))?;
        // A mute timing defined here stands for its name once it exists (or is known after
        // apply); any other name must be one Grafana has.
        for (index, name) in desired.mute_timings.iter().flatten().enumerate() {
            if name != KNOWN_AFTER_APPLY && !context.names.contains(name) {
                return Err(FieldError::at(
                    format!("/mute_timings/{index}"),
                    format!(
                        "no mute timing `{name}` is defined here or in Grafana{} (Grafana has: {})",
                        mac_core::suggest::hint(name, context.names.iter().map(String::as_str)),
                        if context.names.is_empty() { "none".to_owned() } else { context.names.join(", ") }
                    ),
                ));
            }
        }
        let mut route = comparable_route(&route_of(desired, &receiver));
        route.mute_timings = desired.mute_timings.clone();
        Ok(route)
    }

    fn observed(&self, remote: &Remote<'_, Route>) -> ComparableRoute {
        comparable_route(&remote.fields)
    }

    /// A route's mute timings are compared only when the definition names them: left out,
    /// the route keeps those it has.
    fn observed_for(&self, remote: &Remote<'_, Route>, desired: &ComparableRoute) -> ComparableRoute {
        let mut observed = self.observed(remote);
        if desired.mute_timings.is_none() {
            observed.mute_timings = None;
        }
        observed
    }

    fn key_references(&self, desired: &NotificationPolicy) -> Vec<KeyReference> {
        // A mute timing defined here is made first, and its name written when it exists.
        let names = desired.mute_timings.iter().flatten().enumerate();
        names
            .map(|(index, name)| KeyReference {
                pointer: format!("/mute_timings/{index}"),
                kind: "mute_timing".to_owned(),
                key_field: "name".to_owned(),
                key: name.clone(),
                value_field: None,
            })
            .collect()
    }

    fn relations(&self) -> Vec<(Relation, &'static str)> {
        vec![(Relation::Uses, "mute_timing")]
    }

    /// A policy uses its mute timings: deleting one it still names is refused at plan time
    /// (Grafana 8.5.4 would refuse the whole document: "undefined time interval … used in route").
    fn links(&self, remote: &Remote<'_, Route>) -> Links {
        let uses = remote.fields.mute_time_intervals.iter().flatten();
        Links {
            title: Some(remote.remote_id().to_owned()),
            uses: uses.map(|name| LinkTarget::by_remote_id("mute_timing", name.clone())).collect(),
            ..Links::default()
        }
    }

    fn describe(&self, remote: &Remote<'_, Route>) -> String {
        let receiver = remote.fields.receiver.as_deref().unwrap_or_default();
        format!("notification policy {{{}}} to contact point {receiver:?}", remote.remote_id())
    }

    fn import(
        &self,
        remote: &Remote<'_, Route>,
        refs: &dyn ImportRefs,
        _context: &MuteTimingNames,
    ) -> Option<ImportedFields> {
        let route = &remote.fields;
        let rows = route.object_matchers.as_ref()?;
        if rows.is_empty() || route.routes.as_ref().is_some_and(|routes| !routes.is_empty()) {
            // Only flat child routes with matchers are imported; nested trees stay by hand.
            return None;
        }
        let receiver = route.receiver.as_deref()?;
        let matchers = rows.iter().map(|row| Matcher::try_from(row.clone()).ok()).collect::<Option<Vec<_>>>()?;
        let (contact_point, receiver) = match refs.local_id("contact_point", receiver) {
            Some(local_id) => (Some(local_id.to_owned()), None),
            None => (None, Some(receiver.to_owned())),
        };
        let policy = NotificationPolicy {
            contact_point,
            receiver,
            matchers,
            group_by: route.group_by.clone(),
            group_wait: route.group_wait.as_deref().map(canonical),
            group_interval: route.group_interval.as_deref().map(canonical),
            repeat_interval: route.repeat_interval.as_deref().map(canonical),
            continue_matching: route.continue_matching,
            mute_timings: route.mute_time_intervals.clone().filter(|names| !names.is_empty()),
        };
        Some(ImportedFields {
            local_id: crate::slug(remote.remote_id()),
            fields: serde_json::to_value(policy).ok()?.as_object()?.clone(),
            file: "notification-policies".to_owned(),
            scope: None,
            part_ids: Default::default(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let document = self.alertmanager.read_for_list("notification_policy").await?;
        Ok(child_routes(&document).map(policy_object).collect())
    }

    async fn read_context(&self) -> Result<MuteTimingNames, HandlerError> {
        let document = self.alertmanager.read_for_list("notification_policy (mute timings)").await?;
        let list = document.pointer("/alertmanager_config/mute_time_intervals").and_then(Value::as_array);
        let names = list.into_iter().flatten().filter_map(|entry| entry.get("name").and_then(Value::as_str));
        Ok(MuteTimingNames { names: names.map(str::to_owned).collect() })
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &NotificationPolicy,
        refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let receiver =
            policy_receiver(desired, refs).filter(|receiver| receiver != KNOWN_AFTER_APPLY).ok_or_else(|| {
                HandlerError::new(HandlerErrorKind::Other, "the contact point has not been created")
                    .at("/contact_point")
            })?;
        if desired.mute_timings.iter().flatten().any(|name| name == KNOWN_AFTER_APPLY) {
            return Err(
                HandlerError::new(HandlerErrorKind::Other, "a mute timing has not been created").at("/mute_timings")
            );
        }
        let manages_mute_timings = desired.mute_timings.is_some();
        let route = serde_json::to_value(route_of(desired, &receiver))
            .map_err(|err| HandlerError::new(HandlerErrorKind::Other, format!("cannot encode the policy: {err}")))?;
        let new_key = matcher_key(&desired.matchers);
        let old_key = current.map_or_else(|| new_key.clone(), |current| current.remote_id.clone());
        let document = self
            .alertmanager
            .modify(|config| {
                let root = config.entry("route").or_insert_with(|| json!({}));
                let Some(root) = root.as_object_mut() else { return Ok(()) };
                let routes = root.entry("routes").or_insert_with(|| json!([]));
                let Some(routes) = routes.as_array_mut() else { return Ok(()) };
                match routes.iter().position(|route| route_key(route) == old_key) {
                    Some(index) => {
                        // Keep what mac does not manage in the route (nested routes, mute timings).
                        let mut merged = routes[index].as_object().cloned().unwrap_or_default();
                        for key in MANAGED_ROUTE_KEYS {
                            merged.remove(key);
                        }
                        if manages_mute_timings {
                            merged.remove(MUTE_TIMINGS_KEY);
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
        child_routes(&document).find(|route| route_key(route) == new_key).map(policy_object).ok_or_else(|| {
            HandlerError::new(HandlerErrorKind::Unavailable, format!("policy `{new_key}` is missing after the write"))
        })
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let key = current.remote_id.clone();
        self.alertmanager
            .modify(|config| {
                if let Some(routes) =
                    config.get_mut("route").and_then(|route| route.get_mut("routes")).and_then(Value::as_array_mut)
                {
                    routes.retain(|route| route_key(route) != key);
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mac_core::{Handler, Typed};

    fn fields(value: Value) -> mac_core::JsonText {
        mac_core::JsonText::from_value(&value)
    }

    fn alertmanager() -> Arc<Alertmanager> {
        let client = crate::client::unreachable();
        Alertmanager::new(Arc::new(client))
    }

    #[test]
    fn a_shared_read_is_joined_by_other_kinds_of_the_same_observation_only() {
        let started = std::time::Instant::now();
        let read: SharedRead = async { Ok(Arc::new(json!({}))) }.boxed().shared();
        let listing = Listing { read, listed: BTreeSet::from(["contact_point"]), started };
        assert!(listing.joinable("mute_timing", started + std::time::Duration::from_millis(50)));
        assert!(!listing.joinable("contact_point", started), "a kind listing again reads afresh");
        assert!(!listing.joinable("mute_timing", started + JOIN_WINDOW), "a later list is another observation");
    }

    struct NoRefs;
    impl Resolver for NoRefs {
        fn resolve(&self, _reference: &LocalRef) -> Option<Resolved<'_>> {
            None
        }
    }

    fn remote(remote_id: &str, fields: Value) -> RemoteObject {
        RemoteObject { remote_id: remote_id.to_owned(), fields: fields.into(), ..RemoteObject::default() }
    }

    /// A secure setting parses as written (a reference), as compared (the engine removed it)
    /// and as written to Grafana (revealed), and a revealed one never shows in a debug print.
    #[test]
    fn contact_points_compare_without_defaults_or_secrets_they_do_not_set() {
        let kind = Typed(ContactPointKind::new(alertmanager()));
        let written = json!({ "integrations": [{ "type": "slack", "settings": { "recipient": "#ops" },
            "secure_settings": { "url": { "env": "SLACK_URL" } } }] });
        assert!(kind.validate(&fields(written.clone())).is_ok());
        let revealed: ContactPoint = serde_json::from_value(json!({ "integrations": [{ "type": "slack",
            "secure_settings": { "url": "https://hooks.example.com/secret" } }] }))
        .expect("revealed");
        assert!(!format!("{revealed:?}").contains("hooks.example.com"));
        let error = kind
            .validate(&fields(json!({ "integrations": [{ "type": "slack", "secure_settings": { "url": 3 } }] })))
            .expect_err("not a reference");
        assert_eq!(error[0].pointer, "/integrations/0/secure_settings/url");
        assert!(error[0].message.contains("never written inline"), "{}", error[0].message);

        let stripped = json!({ "integrations": [{ "type": "slack", "settings": { "recipient": "#ops" },
            "secure_settings": {} }] });
        let stored = remote(
            "ops",
            json!({ "name": "ops", "grafana_managed_receiver_configs": [{ "uid": "u1", "name": "ops", "type": "slack",
                "disableResolveMessage": false, "settings": { "recipient": "#ops" },
                "secureFields": { "url": true, "token": true } }] }),
        );
        let desired =
            mac_core::DesiredObject { id: ObjectId::new("grafana8", "contact_point", "ops"), fields: fields(stripped) };
        let compared = kind
            .compare(&desired, Some(&stored), &NoRefs, &kind.prepare_context(&Value::Null).expect("context"))
            .expect("compared");
        let expected =
            json!({ "name": "ops", "integrations": [{ "type": "slack", "settings": { "recipient": "#ops" } }] });
        assert_eq!(compared.desired, expected);
        assert_eq!(compared.observed, Some(expected));
        assert_eq!(
            kind.observed(&stored)["integrations"][0]["secure_fields"],
            json!(["token", "url"]),
            "alone, every stored key shows"
        );
    }

    #[test]
    fn policy_errors_keep_their_texts_and_matchers_compare_in_grafanas_order() {
        let kind = Typed(NotificationPolicyKind::new(alertmanager()));
        let errors = kind
            .validate(&fields(json!({ "receiver": "r", "contact_point": "c", "matchers": [["team", "==", "x"]],
                "group_interval": "0s" })))
            .expect_err("invalid");
        let found: Vec<(&str, &str)> =
            errors.iter().map(|error| (error.pointer.as_str(), error.message.as_str())).collect();
        assert_eq!(
            found,
            [
                (
                    "",
                    "a policy needs exactly one of `contact_point` (a contact point defined here) or `receiver` (a receiver's name in Grafana)"
                ),
                ("/matchers", MATCHERS_EXPECTED),
                ("/group_interval", "`group_interval` must be a duration such as \"5m\""),
            ]
        );
        for (field, value, message) in [
            ("matchers", json!([["team", "="]]), MATCHERS_EXPECTED),
            ("group_by", json!("alertname"), "`group_by` must be a list of label names"),
            ("continue", json!("yes"), "`continue` must be true or false"),
        ] {
            let mut policy = json!({ "receiver": "r", "matchers": [["team", "=", "x"]] });
            policy[field] = value;
            let errors = kind.validate(&fields(policy)).expect_err(field);
            assert_eq!(
                (errors[0].pointer.as_str(), errors[0].message.as_str()),
                (format!("/{field}").as_str(), message)
            );
        }

        let desired = mac_core::DesiredObject {
            id: ObjectId::new("grafana8", "notification_policy", "p"),
            fields: fields(json!({ "receiver": "r", "matchers": [["team", "=", "x"], ["env", "!=", "dev"]],
                "group_wait": "30s", "continue": false })),
        };
        let stored = remote(
            "env != dev, team = x",
            json!({ "receiver": "r", "object_matchers": [["env", "!=", "dev"], ["team", "=", "x"]],
                "group_wait": "30s", "mute_time_intervals": ["nights"] }),
        );
        let compared = kind
            .compare(&desired, Some(&stored), &NoRefs, &kind.prepare_context(&Value::Null).expect("context"))
            .expect("compared");
        let expected = json!({ "receiver": "r", "matchers": [["env", "!=", "dev"], ["team", "=", "x"]],
            "group_wait": "30s", "group_interval": null, "repeat_interval": null });
        assert_eq!(compared.desired, expected);
        assert_eq!(compared.observed, Some(expected));
        assert_eq!(policy_object(&stored.fields.to_value()).remote_id, "env != dev, team = x");
    }

    /// What a library user builds is the definition a file would hold.
    #[test]
    fn typed_definitions_serialise_as_definition_files_spell_them() {
        let policy = NotificationPolicy {
            contact_point: Some("payments".into()),
            matchers: vec![["team".into(), "=".into(), "payments".into()]],
            continue_matching: Some(true),
            ..NotificationPolicy::default()
        };
        assert_eq!(
            serde_json::to_value(&policy).expect("policy"),
            json!({ "contact_point": "payments", "matchers": [["team", "=", "payments"]], "continue": true })
        );
        let contact_point = ContactPoint {
            name: None,
            integrations: vec![Integration {
                kind: "slack".into(),
                secure_settings: Some(BTreeMap::from([(
                    "url".to_owned(),
                    SecureSetting::Reference(SecretRef::Env { env: "SLACK_URL".into() }),
                )])),
                ..Integration::default()
            }],
        };
        assert_eq!(
            serde_json::to_value(&contact_point).expect("contact point"),
            json!({ "integrations": [{ "type": "slack", "secure_settings": { "url": { "env": "SLACK_URL" } } }] })
        );
    }
}
