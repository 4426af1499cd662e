//! `notification_channel`: a legacy alerting notification channel (`/api/alert-notifications`,
//! API.md §5.1).

#[allow(unused_imports)] // TEMPORARY (issue 17): until this kind is typed.
use mac_core::legacy::LegacyHandler as _;
use std::sync::Arc;

use mac_core::{
    DesiredObject, FieldError, Fields, Handler, HandlerError, HandlerErrorKind, RemoteObject, Resolver, async_trait,
};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::checks;
use crate::client::Client;
use mac_core::duration;

#[derive(Debug)]
pub struct NotificationChannelHandler {
    client: Arc<Client>,
}

const KNOWN_FIELDS: [&str; 9] = [
    "name",
    "type",
    "settings",
    "secure_settings",
    "is_default",
    "send_reminder",
    "frequency",
    "disable_resolve_message",
    "uid",
];
const BOOL_FIELDS: [(&str, &str); 3] = [
    ("is_default", "isDefault"),
    ("send_reminder", "sendReminder"),
    ("disable_resolve_message", "disableResolveMessage"),
];

impl NotificationChannelHandler {
    pub fn new(client: Arc<Client>) -> NotificationChannelHandler {
        NotificationChannelHandler { client }
    }

    async fn read_uid(&self, uid: &str) -> Result<Option<Value>, HandlerError> {
        match self.client.get(&["api", "alert-notifications", "uid", uid], &[]).await {
            Ok(answer) => Ok(Some(answer.body)),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn body(desired: &DesiredObject) -> Value {
        let fields = &desired.fields;
        let mut body = Map::new();
        body.insert("uid".to_owned(), json!(uid_of(desired)));
        body.insert("name".to_owned(), fields.get("name").cloned().unwrap_or_default());
        body.insert("type".to_owned(), fields.get("type").cloned().unwrap_or_default());
        for (field, api) in BOOL_FIELDS {
            body.insert(api.to_owned(), json!(fields.get(field).and_then(Value::as_bool).unwrap_or(false)));
        }
        body.insert("frequency".to_owned(), json!(frequency(fields.get("frequency"))));
        // `settings` is required on updates (API.md §5.1).
        body.insert("settings".to_owned(), fields.get("settings").cloned().unwrap_or_else(|| json!({})));
        if let Some(secure) = fields.get("secure_settings") {
            body.insert("secureSettings".to_owned(), secure.clone());
        }
        Value::Object(body)
    }
}

fn uid_of(desired: &DesiredObject) -> String {
    desired
        .fields
        .get("uid")
        .and_then(Value::as_str)
        .map_or_else(|| crate::folder::derived_uid(&desired.id.local_id), str::to_owned)
}

/// Grafana's spelling of a reminder frequency: Go's `XhYmZs` with zero parts left out, `""`
/// for none (pkg/api/dtos/alerting.go `formatShort`).
fn frequency(value: Option<&Value>) -> String {
    let Some(milliseconds) = value.and_then(Value::as_str).and_then(duration::parse) else { return String::new() };
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

fn channel_object(body: &Value) -> RemoteObject {
    let uid = body.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    RemoteObject { remote_id: uid, adoption_key: Some(name), fields: body.clone(), part_ids: Default::default() }
}

/// The comparable form, from definition fields (`api` false) or Grafana's JSON.
fn comparable(source: &Map<String, Value>, api: bool) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("name".to_owned(), source.get("name").cloned().unwrap_or_default());
    out.insert("type".to_owned(), source.get("type").cloned().unwrap_or_default());
    out.insert("settings".to_owned(), source.get("settings").cloned().unwrap_or_else(|| json!({})));
    for (field, api_name) in BOOL_FIELDS {
        let key = if api { api_name } else { field };
        out.insert(field.to_owned(), json!(source.get(key).and_then(Value::as_bool).unwrap_or(false)));
    }
    // Grafana only stores a frequency with reminders on, so only then is it compared.
    if out.get("send_reminder") == Some(&json!(true)) {
        let text = if api {
            source.get("frequency").and_then(Value::as_str).unwrap_or_default().to_owned()
        } else {
            frequency(source.get("frequency"))
        };
        out.insert("frequency".to_owned(), json!(text));
    }
    out
}

/// An observed channel in the comparable form, defaults still in.
fn observed_comparable(remote: &RemoteObject) -> Value {
    let source = remote.fields.as_object().cloned().unwrap_or_default();
    let mut out = comparable(&source, true);
    out.insert("uid".to_owned(), json!(remote.remote_id));
    out.insert("secure_fields".to_owned(), checks::stored_secret_keys(source.get("secureFields")));
    Value::Object(out)
}

/// A comparable channel without what a write gets when the definition leaves it out, so that
/// a plan never shows it: the Go zero values of the flags (pkg/models/alert_notifications.go:44-53,
/// CreateAlertNotificationCommand, v8.5.4), the empty `settings` mac writes, no secret keys.
fn without_defaults(mut channel: Value) -> Value {
    use mac_core::diff::remove_default;
    for (field, _) in BOOL_FIELDS {
        remove_default(&mut channel, &format!("/{field}"), &json!(false));
    }
    remove_default(&mut channel, "/settings", &json!({}));
    remove_default(&mut channel, "/secure_fields", &json!([]));
    channel
}

#[async_trait]
impl mac_core::legacy::LegacyHandler for NotificationChannelHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        checks::unknown_keys(fields, "", &KNOWN_FIELDS, &mut errors);
        checks::required_strings(fields, &["name", "type"], &mut errors);
        let bools: Vec<&str> = BOOL_FIELDS.iter().map(|(field, _)| *field).collect();
        checks::typed(fields, &[], &bools, &["settings", "secure_settings"], &mut errors);
        match fields.get("frequency") {
            None => {
                // Grafana answers 500 to reminders without a frequency (API.md §5.1).
                if fields.get("send_reminder") == Some(&json!(true)) {
                    errors.push(FieldError::at(
                        "/send_reminder",
                        "`send_reminder = true` needs a `frequency`, such as \"15m\"",
                    ));
                }
            }
            Some(value) => {
                if value.as_str().and_then(duration::parse).is_none_or(|milliseconds| milliseconds == 0) {
                    errors
                        .push(FieldError::at("/frequency", "`frequency` must be a positive duration such as \"15m\""));
                }
            }
        }
        checks::uid(fields, &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn secret_fields(&self) -> Vec<&'static str> {
        vec!["/secure_settings/*"]
    }

    /// Channels made by hand are recognised by their name, unique per org.
    fn adoption_key(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Option<String> {
        desired.fields.get("name").and_then(Value::as_str).map(str::to_owned)
    }

    fn desired(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<Value, FieldError> {
        let mut out = comparable(&desired.fields, false);
        if let Some(uid) = desired.fields.get("uid") {
            out.insert("uid".to_owned(), uid.clone());
        }
        out.insert("secure_fields".to_owned(), checks::defined_secret_keys(desired.fields.get("secure_settings")));
        Ok(without_defaults(Value::Object(out)))
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        without_defaults(observed_comparable(remote))
    }

    fn observed_for(&self, remote: &RemoteObject, desired: &Value) -> Value {
        without_defaults(checks::observed_against(observed_comparable(remote), desired, "secure_fields"))
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        let field = |key: &str| remote.fields.get(key).and_then(Value::as_str).unwrap_or_default();
        format!("{} notification channel {:?}, uid {:?}", field("type"), field("name"), remote.remote_id)
    }

    fn import(&self, remote: &RemoteObject, _refs: &dyn mac_core::ImportRefs) -> Option<mac_core::ImportedFields> {
        let source = remote.fields.as_object()?;
        let name = source.get("name")?.as_str()?.to_owned();
        let mut fields = Map::new();
        for (key, value) in comparable(source, true) {
            let default = value == json!(false) || (key == "settings" && value == json!({}));
            if !default {
                fields.insert(key, value);
            }
        }
        fields.insert("uid".to_owned(), json!(remote.remote_id));
        // Grafana never returns secure values: a placeholder per stored key, for the user to set.
        if let Some(secrets) = crate::secret_placeholders(source.get("secureFields"), &["channel", &name]) {
            fields.insert("secure_settings".to_owned(), secrets);
        }
        Some(mac_core::ImportedFields {
            local_id: crate::slug(&name),
            fields,
            file: "notification-channels".to_owned(),
            scope: None,
            part_ids: Default::default(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let answer = self.client.get(&["api", "alert-notifications"], &[]).await?;
        Ok(answer.body.as_array().into_iter().flatten().map(channel_object).collect())
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.read_uid(remote_id).await?.as_ref().map(channel_object))
    }

    async fn create(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        let body = NotificationChannelHandler::body(desired);
        match self.client.send(Method::POST, self.client.url(&["api", "alert-notifications"], &[]), Some(&body)).await {
            Ok(answer) => Ok(channel_object(&answer.body)),
            // A create retried after a lost answer finds its own channel by uid.
            Err(err) if err.kind == HandlerErrorKind::Conflict => match self.read_uid(&uid_of(desired)).await? {
                Some(existing) if existing.get("name") == body.get("name") => Ok(channel_object(&existing)),
                _ => Err(err.at("/name")),
            },
            Err(err) => Err(err.at("/settings")),
        }
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        _refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        // By id, not by uid: the uid route ignores secure settings (API.md §5.1). The id is
        // taken from the body.
        let id = current.fields.get("id").cloned().unwrap_or_default();
        let mut body = NotificationChannelHandler::body(desired);
        if let Value::Object(map) = &mut body {
            map.insert("id".to_owned(), id.clone());
            if desired.fields.get("uid").is_none() {
                // An adopted channel keeps the uid Grafana gave it.
                map.insert("uid".to_owned(), json!(current.remote_id));
            }
        }
        let path = id.as_i64().unwrap_or_default().to_string();
        let answer = self
            .client
            .send(Method::PUT, self.client.url(&["api", "alert-notifications", &path], &[]), Some(&body))
            .await
            .map_err(|err| err.at("/settings"))?;
        Ok(channel_object(&answer.body))
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
        assert_eq!(frequency(Some(&json!("15m"))), "15m");
        assert_eq!(frequency(Some(&json!("90m"))), "1h30m");
        assert_eq!(frequency(Some(&json!("1d"))), "24h");
        assert_eq!(frequency(None), "");
    }
}
