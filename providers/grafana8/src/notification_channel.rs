//! `notification_channel`: a legacy alerting notification channel (`/api/alert-notifications`,
//! API.md §5.1).

use std::collections::BTreeMap;
use std::sync::Arc;

use mac_core::duration;
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, ObjectId, Remote, RemoteObject,
    Resolver, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::checks::{self, SecretField};
use crate::client::Client;

/// The `notification_channel` kind.
#[derive(Debug)]
pub(crate) struct NotificationChannelKind {
    client: Arc<Client>,
}

/// A legacy notification channel definition (`[[grafana8.notification_channel]]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationChannel {
    /// The name, unique per org (how channels made by hand are adopted).
    pub name: String,
    /// The notifier type, e.g. `slack`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The notifier's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
    /// Whether every alert notifies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// Whether it is notified again while an alert fires (needs `frequency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_reminder: Option<bool>,
    /// Whether it is told when an alert resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_resolve_message: Option<bool>,
    /// How often reminders go out, e.g. `15m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(mac_core::duration::PATTERN))]
    pub frequency: Option<String>,
    /// The uid; one derived from the local id when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Secrets (`secureSettings`), each a reference: Grafana stores them and never returns them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_settings: Option<BTreeMap<String, SecretField>>,
}

/// A channel as Grafana answers it, and as a listed one records it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GrafanaChannel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type", default)]
    type_: Option<String>,
    #[serde(default)]
    is_default: Option<bool>,
    #[serde(default)]
    send_reminder: Option<bool>,
    #[serde(default)]
    disable_resolve_message: Option<bool>,
    #[serde(default)]
    frequency: Option<String>,
    #[serde(default = "checks::empty_table")]
    settings: Value,
    #[serde(default, with = "checks::stored_keys")]
    secure_fields: Vec<String>,
}

/// The write body (API.md §5.1).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    uid: String,
    name: &'a str,
    #[serde(rename = "type")]
    type_: &'a str,
    is_default: bool,
    send_reminder: bool,
    disable_resolve_message: bool,
    frequency: String,
    /// Required on updates (API.md §5.1).
    settings: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    secure_settings: Option<&'a BTreeMap<String, SecretField>>,
}

/// A channel, compared, without what a write gets when the definition leaves it out, so that
/// a plan never shows it: the Go zero values of the flags (pkg/models/alert_notifications.go:44-53,
/// CreateAlertNotificationCommand, v8.5.4), the empty `settings` mac writes, no secret keys.
/// Grafana only stores a frequency with reminders on, so only then is it compared.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableChannel {
    name: Option<String>,
    #[serde(rename = "type")]
    type_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    settings: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_default: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_reminder: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disable_resolve_message: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secure_fields: Option<Vec<String>>,
}

/// `true`, or `None` for Go's zero value.
fn flag(value: Option<bool>) -> Option<bool> {
    value.filter(|set| *set)
}

/// `settings` unless it is the `{}` mac writes.
fn settings(value: Value) -> Option<Value> {
    (value != checks::empty_table()).then_some(value)
}

impl ComparableChannel {
    fn observed(remote: &Remote<'_, GrafanaChannel>) -> ComparableChannel {
        let channel = &remote.fields;
        let send_reminder = flag(channel.send_reminder);
        ComparableChannel {
            name: channel.name.clone(),
            type_: channel.type_.clone(),
            settings: settings(channel.settings.clone()),
            is_default: flag(channel.is_default),
            send_reminder,
            disable_resolve_message: flag(channel.disable_resolve_message),
            frequency: send_reminder.map(|_| channel.frequency.clone().unwrap_or_default()),
            uid: Some(remote.remote_id().to_owned()),
            secure_fields: (!channel.secure_fields.is_empty()).then(|| channel.secure_fields.clone()),
        }
    }
}

impl NotificationChannelKind {
    pub fn new(client: Arc<Client>) -> NotificationChannelKind {
        NotificationChannelKind { client }
    }

    async fn read_uid(&self, uid: &str) -> Result<Option<GrafanaChannel>, HandlerError> {
        match self.client.get(&["api", "alert-notifications", "uid", uid], &[]).await {
            Ok(answer) => Ok(Some(answer.parse("GET /api/alert-notifications/uid/:uid")?)),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn body(desired: &NotificationChannel, id: Option<i64>, uid: String) -> Result<Value, HandlerError> {
        let body = Body {
            id,
            uid,
            name: &desired.name,
            type_: &desired.type_,
            is_default: desired.is_default.unwrap_or(false),
            send_reminder: desired.send_reminder.unwrap_or(false),
            disable_resolve_message: desired.disable_resolve_message.unwrap_or(false),
            frequency: frequency(desired.frequency.as_deref()),
            settings: desired.settings.clone().map_or_else(checks::empty_table, Value::Object),
            secure_settings: desired.secure_settings.as_ref(),
        };
        serde_json::to_value(body).map_err(|err| HandlerError::new(HandlerErrorKind::Other, err.to_string()))
    }

    async fn create(&self, id: &ObjectId, desired: &NotificationChannel) -> Result<RemoteObject, HandlerError> {
        let uid = uid_of(id, desired);
        let body = NotificationChannelKind::body(desired, None, uid.clone())?;
        match self.client.send(Method::POST, self.client.url(&["api", "alert-notifications"], &[]), Some(&body)).await {
            Ok(answer) => Ok(channel_object(answer.parse("POST /api/alert-notifications")?)),
            // A create retried after a lost answer finds its own channel by uid.
            Err(err) if err.kind == HandlerErrorKind::Conflict => match self.read_uid(&uid).await? {
                Some(existing) if existing.name.as_deref() == Some(desired.name.as_str()) => {
                    Ok(channel_object(existing))
                }
                _ => Err(err.at("/name")),
            },
            Err(err) => Err(err.at("/settings")),
        }
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &NotificationChannel,
    ) -> Result<RemoteObject, HandlerError> {
        // By id, not by uid: the uid route ignores secure settings (API.md §5.1). The id is
        // taken from the body.
        let id = current.fields.parse::<GrafanaChannel>().ok().and_then(|channel| channel.id);
        // An adopted channel keeps the uid Grafana gave it.
        let uid = desired.uid.clone().unwrap_or_else(|| current.remote_id.clone());
        let body = NotificationChannelKind::body(desired, Some(id.unwrap_or_default()), uid)?;
        let path = id.unwrap_or_default().to_string();
        let answer = self
            .client
            .send(Method::PUT, self.client.url(&["api", "alert-notifications", &path], &[]), Some(&body))
            .await
            .map_err(|err| err.at("/settings"))?;
        Ok(channel_object(answer.parse("PUT /api/alert-notifications/:id")?))
    }
}

fn uid_of(id: &ObjectId, desired: &NotificationChannel) -> String {
    desired.uid.clone().unwrap_or_else(|| crate::folder::derived_uid(&id.local_id))
}

/// Grafana's spelling of a reminder frequency: Go's `XhYmZs` with zero parts left out, `""`
/// for none (pkg/api/dtos/alerting.go `formatShort`).
fn frequency(value: Option<&str>) -> String {
    let Some(milliseconds) = value.and_then(duration::parse) else { return String::new() };
    let seconds = milliseconds / 1000;
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut text = String::new();
    for (count, unit) in [(hours, "h"), (minutes, "m"), (seconds, "s")] {
        if count > 0 {
            text.push_str(&format!("{count}{unit}"));
        }
    }
    text
}

fn channel_object(channel: GrafanaChannel) -> RemoteObject {
    let remote_id = channel.uid.clone();
    let adoption_key = channel.name.clone().unwrap_or_default();
    RemoteObject {
        remote_id,
        adoption_key: Some(adoption_key),
        fields: mac_core::JsonText::from_serialize(&channel).unwrap_or_default(),
        part_ids: Default::default(),
    }
}

#[async_trait]
impl Kind for NotificationChannelKind {
    type Desired = NotificationChannel;
    type Remote = GrafanaChannel;
    type Comparable = ComparableChannel;
    type Context = ();

    fn validate(&self, desired: &NotificationChannel) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        checks::non_empty(&[("name", &desired.name), ("type", &desired.type_)], &mut errors);
        match &desired.frequency {
            None => {
                // Grafana answers 500 to reminders without a frequency (API.md §5.1).
                if desired.send_reminder == Some(true) {
                    errors.push(FieldError::at(
                        "/send_reminder",
                        "`send_reminder = true` needs a `frequency`, such as \"15m\"",
                    ));
                }
            }
            Some(text) => {
                if duration::parse(text).is_none_or(|milliseconds| milliseconds == 0) {
                    errors
                        .push(FieldError::at("/frequency", "`frequency` must be a positive duration such as \"15m\""));
                }
            }
        }
        checks::valid_uid(desired.uid.as_deref(), &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        vec!["/secure_settings/*"]
    }

    /// Channels made by hand are recognised by their name, unique per org.
    fn adoption_key(&self, _id: &ObjectId, desired: &NotificationChannel, _refs: &dyn Resolver) -> Option<String> {
        Some(desired.name.clone())
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &NotificationChannel,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableChannel, FieldError> {
        let send_reminder = flag(desired.send_reminder);
        Ok(ComparableChannel {
            name: Some(desired.name.clone()),
            type_: Some(desired.type_.clone()),
            settings: settings(desired.settings.clone().map_or_else(checks::empty_table, Value::Object)),
            is_default: flag(desired.is_default),
            send_reminder,
            disable_resolve_message: flag(desired.disable_resolve_message),
            frequency: send_reminder.map(|_| frequency(desired.frequency.as_deref())),
            uid: desired.uid.clone(),
            secure_fields: checks::desired_secret_keys(desired.secure_settings.as_ref()),
        })
    }

    fn observed(&self, remote: &Remote<'_, GrafanaChannel>) -> ComparableChannel {
        ComparableChannel::observed(remote)
    }

    /// The uid only when the definition names one (an adopted channel keeps Grafana's), and
    /// of the stored secret keys those the definition sets: Grafana keeps stored secrets a
    /// write does not mention.
    fn observed_for(&self, remote: &Remote<'_, GrafanaChannel>, desired: &ComparableChannel) -> ComparableChannel {
        let observed = ComparableChannel::observed(remote);
        let wanted = desired.secure_fields.as_deref().unwrap_or_default();
        ComparableChannel {
            uid: if desired.uid.is_some() { observed.uid } else { None },
            secure_fields: checks::compared_secret_keys(&remote.fields.secure_fields, wanted),
            ..observed
        }
    }

    fn describe(&self, remote: &Remote<'_, GrafanaChannel>) -> String {
        let channel = &remote.fields;
        format!(
            "{} notification channel {:?}, uid {:?}",
            channel.type_.as_deref().unwrap_or_default(),
            channel.name.as_deref().unwrap_or_default(),
            remote.remote_id()
        )
    }

    fn import(
        &self,
        remote: &Remote<'_, GrafanaChannel>,
        _refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let name = remote.fields.name.clone()?;
        let observed = ComparableChannel::observed(remote);
        let definition = NotificationChannel {
            name: name.clone(),
            type_: observed.type_.unwrap_or_default(),
            settings: observed.settings.and_then(|settings| settings.as_object().cloned()),
            is_default: observed.is_default,
            send_reminder: observed.send_reminder,
            disable_resolve_message: observed.disable_resolve_message,
            frequency: observed.frequency,
            uid: Some(remote.remote_id().to_owned()),
            secure_settings: None,
        };
        checks::imported_with_secrets(
            definition,
            "secure_settings",
            &remote.fields.secure_fields,
            &["channel", &name],
            &name,
            "notification-channels",
        )
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let answer = self.client.get(&["api", "alert-notifications"], &[]).await?;
        let channels: Vec<GrafanaChannel> = answer.parse("GET /api/alert-notifications")?;
        Ok(channels.into_iter().map(channel_object).collect())
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.read_uid(remote_id).await?.map(channel_object))
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &NotificationChannel,
        _refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        match current {
            None => self.create(id, desired).await,
            Some(current) => self.update(current, desired).await,
        }
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        match self
            .client
            .send(
                Method::DELETE,
                self.client.url(&["api", "alert-notifications", "uid", &current.remote_id], &[]),
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_are_spelled_as_grafana_returns_them() {
        assert_eq!(frequency(Some("15m")), "15m");
        assert_eq!(frequency(Some("90m")), "1h30m");
        assert_eq!(frequency(Some("1d")), "24h");
        assert_eq!(frequency(None), "");
    }
}
