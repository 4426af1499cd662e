//! The `silence` kind: one Alertmanager silence per definition, a maintenance window.
//!
//! Alertmanager's API v2 (its `api/v2/openapi.yaml`; behaviour checked against 0.25) shapes
//! what this handler does:
//!
//! - `GET /api/v2/silences` lists every silence, expired ones included until Alertmanager
//!   forgets them (after `--data.retention`, 120 h by default). An expired silence is over and
//!   can never be changed again, so it counts as absent: a managed one that expired (ended, or
//!   expired by hand) is planned as a recreate.
//! - `POST /api/v2/silences` creates, or updates the silence whose `id` the body carries. An
//!   update keeps the id only when the matchers are unchanged (in the same order) and, for an
//!   active silence, the start too; otherwise Alertmanager expires the old silence and creates
//!   a new one with a new id, which is what gets recorded. A start in the past is moved to
//!   the time of the write.
//! - `DELETE /api/v2/silence/{id}` expires a silence; it is the only way to end one.

#[allow(unused_imports)] // TEMPORARY (issue 17): until this kind is typed.
use mac_core::legacy::LegacyHandler as _;
use mac_core::{
    DesiredObject, FieldError, Fields, Handler, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields,
    RemoteObject, Resolver, async_trait,
};
use mac_provider_kit::reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::client::Client;
use crate::timestamp::Timestamp;

/// What the comparable form shows for a definition without `starts_at`: the silence starts
/// when it is written.
pub const WHEN_APPLIED: &str = "(when applied)";

/// `created_by` when a definition names nobody.
pub const DEFAULT_CREATED_BY: &str = "mac";

/// A definition as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SilenceFields {
    matchers: Vec<Matcher>,
    /// Optional: without it, the silence starts when it is applied.
    starts_at: Option<String>,
    ends_at: String,
    comment: String,
    created_by: Option<String>,
}

/// One label matcher. Field order is the canonical sort order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(deny_unknown_fields)]
struct Matcher {
    name: String,
    value: String,
    #[serde(default)]
    is_regex: bool,
    #[serde(default = "yes")]
    is_equal: bool,
}

fn yes() -> bool {
    true
}

impl Matcher {
    /// Name and value, and the flags only where they are not the default (plain equality), so
    /// that a plan lists what was written.
    fn comparable(&self) -> Value {
        let mut comparable = json!({ "name": self.name, "value": self.value });
        if self.is_regex {
            comparable["is_regex"] = json!(true);
        }
        if !self.is_equal {
            comparable["is_equal"] = json!(false);
        }
        comparable
    }

    /// PromQL's spelling: `service="api"`, `env=~"prod|staging"`, `team!="db"`.
    fn spelled(&self) -> String {
        let operator = match (self.is_equal, self.is_regex) {
            (true, false) => "=",
            (false, false) => "!=",
            (true, true) => "=~",
            (false, true) => "!~",
        };
        format!("{}{operator}{:?}", self.name, self.value)
    }
}

/// A silence in canonical form: matchers sorted, instants in UTC at millisecond precision.
#[derive(Debug, Clone, PartialEq)]
struct Silence {
    matchers: Vec<Matcher>,
    starts_at: Option<Timestamp>,
    ends_at: Timestamp,
    comment: String,
    created_by: String,
}

impl Silence {
    fn from_fields(fields: &Fields) -> Result<Silence, FieldError> {
        let parsed: SilenceFields = mac_core::parse_fields(fields)?;
        let starts_at = match &parsed.starts_at {
            Some(text) => Some(Timestamp::parse(text).map_err(|err| FieldError::at("/starts_at", err.to_string()))?),
            None => None,
        };
        let ends_at = Timestamp::parse(&parsed.ends_at).map_err(|err| FieldError::at("/ends_at", err.to_string()))?;
        let mut matchers = parsed.matchers;
        matchers.sort();
        Ok(Silence {
            matchers,
            starts_at,
            ends_at,
            comment: parsed.comment,
            created_by: parsed.created_by.unwrap_or_else(|| DEFAULT_CREATED_BY.to_owned()),
        })
    }

    fn comparable(&self) -> Value {
        let matchers: Vec<Value> = self.matchers.iter().map(Matcher::comparable).collect();
        json!({
            "matchers": matchers,
            "starts_at": self.starts_at.map_or_else(|| WHEN_APPLIED.to_owned(), Timestamp::canonical),
            "ends_at": self.ends_at.canonical(),
            "comment": self.comment,
            "created_by": self.created_by,
        })
    }

    /// The body of `POST /api/v2/silences`; `id` makes it an update.
    fn postable(&self, id: Option<&str>, starts_at: Timestamp) -> Value {
        let matchers: Vec<Value> = self
            .matchers
            .iter()
            .map(|matcher| {
                json!({
                    "name": matcher.name,
                    "value": matcher.value,
                    "isRegex": matcher.is_regex,
                    "isEqual": matcher.is_equal,
                })
            })
            .collect();
        let mut body = json!({
            "matchers": matchers,
            "startsAt": starts_at.canonical(),
            "endsAt": self.ends_at.canonical(),
            "createdBy": self.created_by,
            "comment": self.comment,
        });
        if let Some(id) = id {
            body["id"] = json!(id);
        }
        body
    }

    /// The natural key under which an unmanaged silence counts as this one (see
    /// [`Handler::adoption_key`]): the same matchers in any order, the same end and the same
    /// comment. Not the start, which Alertmanager moves to the time of the write.
    fn adoption_key(&self) -> String {
        let matchers: Vec<String> = self.matchers.iter().map(Matcher::spelled).collect();
        format!("{{{}}} until {}: {}", matchers.join(", "), self.ends_at.canonical(), self.comment)
    }
}

/// A silence as `GET /api/v2/silences` returns it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GettableSilence {
    status: SilenceStatus,
    matchers: Vec<GettableMatcher>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

#[derive(Debug, Deserialize)]
struct SilenceStatus {
    state: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GettableMatcher {
    name: String,
    value: String,
    is_regex: bool,
    /// Absent from Alertmanager before 0.22, where every matcher was an equality.
    #[serde(default = "yes")]
    is_equal: bool,
}

/// A remote silence: its state (`active`, `pending`, `expired`) and canonical form.
#[derive(Debug)]
struct Observed {
    state: String,
    silence: Silence,
}

impl Observed {
    fn from_remote(fields: &Value) -> Option<Observed> {
        let gettable = GettableSilence::deserialize(fields).ok()?;
        let mut matchers: Vec<Matcher> = gettable
            .matchers
            .into_iter()
            .map(|matcher| Matcher {
                name: matcher.name,
                value: matcher.value,
                is_regex: matcher.is_regex,
                is_equal: matcher.is_equal,
            })
            .collect();
        matchers.sort();
        Some(Observed {
            state: gettable.status.state,
            silence: Silence {
                matchers,
                starts_at: Some(Timestamp::parse(&gettable.starts_at).ok()?),
                ends_at: Timestamp::parse(&gettable.ends_at).ok()?,
                comment: gettable.comment,
                created_by: gettable.created_by,
            },
        })
    }

    fn active(&self) -> bool {
        self.state == "active"
    }
}

fn is_expired(fields: &Value) -> bool {
    fields.pointer("/status/state").and_then(Value::as_str) == Some("expired")
}

fn remote_object(fields: Value) -> Option<RemoteObject> {
    let remote_id = fields.get("id").and_then(Value::as_str)?.to_owned();
    let adoption_key = Observed::from_remote(&fields).map(|observed| observed.silence.adoption_key());
    Some(RemoteObject { remote_id, adoption_key, fields, part_ids: Default::default() })
}

#[derive(Debug)]
pub struct SilenceHandler {
    client: Arc<Client>,
    /// When this run started. `validate` compares `ends_at` with it rather than with the clock,
    /// so that it stays a function of its inputs for the whole run (and testable).
    now: Timestamp,
}

impl SilenceHandler {
    pub fn new(client: Arc<Client>, now: Timestamp) -> SilenceHandler {
        SilenceHandler { client, now }
    }

    fn desired_silence(desired: &DesiredObject) -> Result<Silence, HandlerError> {
        Silence::from_fields(&desired.fields)
            .map_err(|err| HandlerError::new(HandlerErrorKind::Invalid, err.message).at(err.pointer))
    }

    /// Posts a silence and reads back what Alertmanager made of it (its id may be new, its
    /// start moved to the time of the write).
    async fn post(&self, body: &Value) -> Result<RemoteObject, HandlerError> {
        let answer = self.client.send(Method::POST, self.client.url(&["api", "v2", "silences"]), Some(body)).await;
        let answer = answer.map_err(|err| match rejected_field(&err) {
            Some(pointer) if err.kind == HandlerErrorKind::Invalid => err.at(pointer),
            _ => err,
        })?;
        let id = answer.get("silenceID").and_then(Value::as_str).ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!("POST /api/v2/silences: Alertmanager's answer names no silenceID: {answer}"),
            )
        })?;
        self.read(id).await?.ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!("silence {id} is not active right after it was written (ends_at in the past?)"),
            )
        })
    }
}

/// The definition field an Alertmanager 400 is about, from its message.
fn rejected_field(error: &HandlerError) -> Option<&'static str> {
    let message = error.message.as_str();
    if message.contains("matcher") {
        Some("/matchers")
    } else if message.contains("end time") {
        Some("/ends_at")
    } else if message.contains("start time") {
        Some("/starts_at")
    } else {
        None
    }
}

/// Label names as Alertmanager 0.25 accepts them in a silence.
fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[async_trait]
impl mac_core::legacy::LegacyHandler for SilenceHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        let silence = Silence::from_fields(fields).map_err(|err| vec![err])?;
        let mut problems = Vec::new();
        if silence.matchers.is_empty() {
            problems.push(FieldError::at("/matchers", "a silence needs at least one matcher"));
        }
        // Positions as written, not as sorted.
        let written: Vec<Matcher> =
            fields.get("matchers").and_then(|value| Vec::<Matcher>::deserialize(value).ok()).unwrap_or_default();
        for (index, matcher) in written.iter().enumerate() {
            if !valid_label_name(&matcher.name) {
                problems.push(FieldError::at(
                    format!("/matchers/{index}/name"),
                    format!(
                        "`{}` is not a label name (letters, digits and `_`, not starting with a digit)",
                        matcher.name
                    ),
                ));
            }
        }
        // Alertmanager refuses a silence that would match every alert: one of its matchers must
        // not match the empty string. Only plain matchers can be judged without a regex engine
        // (Go's RE2 syntax differs from Rust's); the server checks the rest.
        let matches_empty = |matcher: &Matcher| !matcher.is_regex && (matcher.value.is_empty() == matcher.is_equal);
        if !written.is_empty() && written.iter().all(matches_empty) {
            problems.push(FieldError::at(
                "/matchers",
                "every matcher matches the empty string, so the silence would mute every alert: name a label value",
            ));
        }
        if silence.comment.trim().is_empty() {
            problems.push(FieldError::at("/comment", "say why alerts are silenced: the comment must not be empty"));
        }
        if silence.created_by.trim().is_empty() {
            problems.push(FieldError::at("/created_by", "must not be empty (leave it out for \"mac\")"));
        }
        if let Some(starts_at) = silence.starts_at
            && starts_at >= silence.ends_at
        {
            problems.push(FieldError::at("/ends_at", "must be after starts_at"));
        }
        if silence.ends_at <= self.now {
            problems.push(FieldError::at(
                "/ends_at",
                format!(
                    "{} has passed: this maintenance window is over, remove its definition (Alertmanager refuses silences that end in the past)",
                    silence.ends_at.canonical()
                ),
            ));
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    fn adoption_key(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Option<String> {
        Silence::from_fields(&desired.fields).ok().map(|silence| silence.adoption_key())
    }

    fn desired(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<Value, FieldError> {
        Silence::from_fields(&desired.fields).map(|silence| silence.comparable())
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        match Observed::from_remote(&remote.fields) {
            Some(observed) => observed.silence.comparable(),
            // Not what the API documents: shown whole, so that the plan says what is there.
            None => json!({ "unreadable": remote.fields }),
        }
    }

    /// A start that has passed cannot be changed any more: once a silence is active, any
    /// desired start at or before the one Alertmanager recorded means the same window (the
    /// server moved it to the time of the write), and so does "when applied".
    fn observed_for(&self, remote: &RemoteObject, desired: &Value) -> Value {
        let mut comparable = self.observed(remote);
        let Some(observed) = Observed::from_remote(&remote.fields) else { return comparable };
        if !observed.active() {
            return comparable;
        }
        let desired_start = desired.get("starts_at").and_then(Value::as_str);
        let same_window = match desired_start {
            Some(WHEN_APPLIED) => true,
            Some(text) => Timestamp::parse(text)
                .is_ok_and(|start| observed.silence.starts_at.is_some_and(|observed| start <= observed)),
            None => false,
        };
        if same_window && let Some(start) = desired_start {
            comparable["starts_at"] = json!(start);
        }
        comparable
    }

    /// On a delete line: the matchers and who made it, rather than Alertmanager's uuid.
    fn describe(&self, remote: &RemoteObject) -> String {
        let Some(observed) = Observed::from_remote(&remote.fields) else { return remote.remote_id.clone() };
        let matchers: Vec<String> = observed
            .silence
            .matchers
            .iter()
            .map(|matcher| {
                let operator = match (matcher.is_equal, matcher.is_regex) {
                    (true, false) => "=",
                    (false, false) => "!=",
                    (true, true) => "=~",
                    (false, true) => "!~",
                };
                format!("{}{operator}{:?}", matcher.name, matcher.value)
            })
            .collect();
        format!("silence {{{}}} by {}", matchers.join(", "), observed.silence.created_by)
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        // Matchers are diffed by label name; two matchers on one label fall back to positions.
        (path == "/matchers").then_some("name")
    }

    fn import(&self, remote: &RemoteObject, _refs: &dyn ImportRefs) -> Option<ImportedFields> {
        let observed = Observed::from_remote(&remote.fields)?;
        let silence = observed.silence;
        let mut fields = Fields::new();
        // Defaults are left out, as a person would write it.
        let matchers: Vec<Value> = silence.matchers.iter().map(Matcher::comparable).collect();
        fields.insert("matchers".to_owned(), Value::Array(matchers));
        if let Some(starts_at) = silence.starts_at {
            fields.insert("starts_at".to_owned(), json!(starts_at.canonical()));
        }
        fields.insert("ends_at".to_owned(), json!(silence.ends_at.canonical()));
        fields.insert("comment".to_owned(), json!(silence.comment));
        if silence.created_by != DEFAULT_CREATED_BY {
            fields.insert("created_by".to_owned(), json!(silence.created_by));
        }
        let readable: String = silence
            .comment
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect();
        let readable = readable.split('-').filter(|part| !part.is_empty()).collect::<Vec<_>>().join("-");
        let short_id: String = remote.remote_id.chars().take(8).collect();
        let local_id =
            if readable.is_empty() { format!("silence-{short_id}") } else { format!("{readable}-{short_id}") };
        Some(ImportedFields {
            local_id,
            fields,
            file: "silences".to_owned(),
            scope: None,
            part_ids: Default::default(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let answer = self.client.send(Method::GET, self.client.url(&["api", "v2", "silences"]), None).await?;
        let Value::Array(silences) = answer else {
            return Err(HandlerError::new(
                HandlerErrorKind::Unavailable,
                "GET /api/v2/silences: Alertmanager's answer is not a list",
            ));
        };
        let mut remote: Vec<RemoteObject> =
            silences.into_iter().filter(|silence| !is_expired(silence)).filter_map(remote_object).collect();
        // The planner is deterministic in its inputs; the server's order is not promised.
        remote.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
        Ok(remote)
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        match self.client.send(Method::GET, self.client.url(&["api", "v2", "silence", remote_id]), None).await {
            Ok(fields) if is_expired(&fields) => Ok(None),
            Ok(fields) => Ok(remote_object(fields)),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn create(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        let silence = SilenceHandler::desired_silence(desired)?;
        let starts_at = silence.starts_at.unwrap_or_else(Timestamp::now);
        self.post(&silence.postable(None, starts_at)).await
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        _refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        let silence = SilenceHandler::desired_silence(desired)?;
        // Sending an active silence's recorded start back lets Alertmanager update it in place
        // (same id) when only the end, comment or author changed; any other start would make it
        // expire the silence and create another.
        let observed = Observed::from_remote(&current.fields);
        let starts_at = match (&observed, silence.starts_at) {
            (Some(observed), desired_start) if observed.active() => match (observed.silence.starts_at, desired_start) {
                (Some(recorded), None) => recorded,
                (Some(recorded), Some(wanted)) if wanted <= recorded => recorded,
                (_, wanted) => wanted.unwrap_or_else(Timestamp::now),
            },
            (_, wanted) => wanted.unwrap_or_else(Timestamp::now),
        };
        self.post(&silence.postable(Some(&current.remote_id), starts_at)).await
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let url = self.client.url(&["api", "v2", "silence", &current.remote_id]);
        match self.client.send(Method::DELETE, url, None).await {
            Ok(_) => Ok(()),
            // Already forgotten by Alertmanager: the silence is as gone as a delete makes it.
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Fields {
        let table: toml::Table = toml::from_str(text).expect("TOML");
        let Value::Object(fields) = serde_json::to_value(table).expect("JSON") else { panic!("a table is an object") };
        fields
    }

    #[test]
    fn matchers_order_and_timestamp_spelling_do_not_matter() {
        let written = fields(
            r#"
            matchers = [{ name = "service", value = "db" }, { name = "env", value = "prod|staging", is_regex = true }]
            starts_at = "2099-01-01T02:00:00+02:00"
            ends_at = "2099-01-01T04:00:00Z"
            comment = "upgrade"
            "#,
        );
        let remote = json!({
            "id": "6f6c…", "status": { "state": "pending" }, "updatedAt": "2026-01-01T00:00:00.000Z",
            "matchers": [
                { "name": "env", "value": "prod|staging", "isRegex": true, "isEqual": true },
                { "name": "service", "value": "db", "isRegex": false, "isEqual": true },
            ],
            "startsAt": "2099-01-01T00:00:00.000Z", "endsAt": "2099-01-01T06:00:00.000+02:00",
            "createdBy": "mac", "comment": "upgrade",
        });
        let desired = Silence::from_fields(&written).expect("valid").comparable();
        let observed = Observed::from_remote(&remote).expect("readable").silence.comparable();
        assert_eq!(desired, observed);
    }

    #[test]
    fn adoption_keys_name_matchers_end_and_comment() {
        let silence = Silence::from_fields(&fields(
            r#"
            matchers = [{ name = "team", value = "db", is_equal = false }, { name = "env", value = "prod.*", is_regex = true }]
            ends_at = "2099-01-01T04:00:00Z"
            comment = "upgrade"
            "#,
        ))
        .expect("valid");
        assert_eq!(silence.adoption_key(), r#"{env=~"prod.*", team!="db"} until 2099-01-01T04:00:00Z: upgrade"#);
    }
}
