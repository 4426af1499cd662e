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

use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, ObjectId, Remote, RemoteObject,
    Resolver, async_trait,
};
use mac_provider_kit::reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::sync::Arc;

use crate::client::Client;
use crate::timestamp::Timestamp;

/// What the comparable form shows for a definition without `starts_at`: the silence starts
/// when it is written.
pub const WHEN_APPLIED: &str = "(when applied)";

/// `created_by` when a definition names nobody.
pub const DEFAULT_CREATED_BY: &str = "mac";

/// An Alertmanager silence, as an `alertmanager.silence` definition writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// The alerts it mutes: those whose labels match every matcher.
    pub matchers: Vec<Matcher>,
    /// An RFC 3339 instant; without it, the silence starts when it is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// An RFC 3339 instant, after which the silence is over.
    pub ends_at: String,
    /// Why alerts are silenced.
    pub comment: String,
    /// Who silenced them; [`DEFAULT_CREATED_BY`] when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// One label matcher. Field order is the canonical sort order; it serialises with the flags
/// only where they are not the default (plain equality), so that a plan lists what was written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// The label's name.
    pub name: String,
    /// The value, or a regular expression when `is_regex`.
    pub value: String,
    /// The value is a regular expression (RE2 syntax).
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_regex: bool,
    /// Matches when the label equals (`true`, the default) or differs from the value.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    // Written out here: schemars leaves out a default that serde would not serialise.
    #[schemars(extend("default" = true))]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

fn is_true(flag: &bool) -> bool {
    *flag
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

impl Matcher {
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
struct CanonicalSilence {
    matchers: Vec<Matcher>,
    starts_at: Option<Timestamp>,
    ends_at: Timestamp,
    comment: String,
    created_by: String,
}

/// A silence, compared: [`CanonicalSilence`] with its instants spelled out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparableSilence {
    matchers: Vec<Matcher>,
    /// The canonical start, or [`WHEN_APPLIED`].
    starts_at: String,
    ends_at: String,
    comment: String,
    created_by: String,
}

impl CanonicalSilence {
    fn of_definition(silence: &Silence) -> Result<CanonicalSilence, FieldError> {
        let starts_at = match &silence.starts_at {
            Some(text) => Some(Timestamp::parse(text).map_err(|err| FieldError::at("/starts_at", err.to_string()))?),
            None => None,
        };
        let ends_at = Timestamp::parse(&silence.ends_at).map_err(|err| FieldError::at("/ends_at", err.to_string()))?;
        let mut matchers = silence.matchers.clone();
        matchers.sort();
        Ok(CanonicalSilence {
            matchers,
            starts_at,
            ends_at,
            comment: silence.comment.clone(),
            created_by: silence.created_by.clone().unwrap_or_else(|| DEFAULT_CREATED_BY.to_owned()),
        })
    }

    fn comparable(&self) -> ComparableSilence {
        ComparableSilence {
            matchers: self.matchers.clone(),
            starts_at: self.starts_at.map_or_else(|| WHEN_APPLIED.to_owned(), Timestamp::canonical),
            ends_at: self.ends_at.canonical(),
            comment: self.comment.clone(),
            created_by: self.created_by.clone(),
        }
    }

    /// The body of `POST /api/v2/silences`; `id` makes it an update.
    fn postable<'a>(&'a self, id: Option<&'a str>, starts_at: Timestamp) -> PostableSilence<'a> {
        PostableSilence {
            id,
            matchers: self
                .matchers
                .iter()
                .map(|matcher| PostableMatcher {
                    name: &matcher.name,
                    value: &matcher.value,
                    is_regex: matcher.is_regex,
                    is_equal: matcher.is_equal,
                })
                .collect(),
            starts_at: starts_at.canonical(),
            ends_at: self.ends_at.canonical(),
            created_by: &self.created_by,
            comment: &self.comment,
        }
    }

    /// The natural key under which an unmanaged silence counts as this one (see
    /// [`Kind::adoption_key`]): the same matchers in any order, the same end and the same
    /// comment. Not the start, which Alertmanager moves to the time of the write.
    fn adoption_key(&self) -> String {
        let matchers: Vec<String> = self.matchers.iter().map(Matcher::spelled).collect();
        format!("{{{}}} until {}: {}", matchers.join(", "), self.ends_at.canonical(), self.comment)
    }
}

/// The body of `POST /api/v2/silences`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence<'a> {
    matchers: Vec<PostableMatcher<'a>>,
    starts_at: String,
    ends_at: String,
    created_by: &'a str,
    comment: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PostableMatcher<'a> {
    name: &'a str,
    value: &'a str,
    is_regex: bool,
    is_equal: bool,
}

/// Alertmanager's answer to `POST /api/v2/silences`.
#[derive(Debug, Deserialize)]
struct PostAnswer {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

/// A silence as `GET /api/v2/silences` returns it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    status: SilenceStatus,
    matchers: Vec<GettableMatcher>,
    #[serde(deserialize_with = "timestamp")]
    starts_at: Timestamp,
    #[serde(deserialize_with = "timestamp")]
    ends_at: Timestamp,
    created_by: String,
    comment: String,
}

fn timestamp<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(deserializer)?;
    Timestamp::parse(&text).map_err(serde::de::Error::custom)
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

/// Only the state of a silence, to leave out expired ones whatever else they hold.
#[derive(Debug, Deserialize)]
struct StateOnly {
    status: SilenceStatus,
}

impl GettableSilence {
    /// The silence in canonical form.
    fn canonical(&self) -> CanonicalSilence {
        let mut matchers: Vec<Matcher> = self
            .matchers
            .iter()
            .map(|matcher| Matcher {
                name: matcher.name.clone(),
                value: matcher.value.clone(),
                is_regex: matcher.is_regex,
                is_equal: matcher.is_equal,
            })
            .collect();
        matchers.sort();
        CanonicalSilence {
            matchers,
            starts_at: Some(self.starts_at),
            ends_at: self.ends_at,
            comment: self.comment.clone(),
            created_by: self.created_by.clone(),
        }
    }

    /// `active`, as opposed to `pending` or `expired`.
    fn active(&self) -> bool {
        self.status.state == "active"
    }
}

fn is_expired(fields: &Value) -> bool {
    StateOnly::deserialize(fields).is_ok_and(|silence| silence.status.state == "expired")
}

fn remote_object(fields: Value) -> Option<RemoteObject> {
    let remote_id = fields.get("id").and_then(Value::as_str)?.to_owned();
    let adoption_key = GettableSilence::deserialize(&fields).ok().map(|silence| silence.canonical().adoption_key());
    Some(RemoteObject {
        remote_id,
        adoption_key,
        fields: mac_core::JsonText::from_value(&fields),
        part_ids: Default::default(),
    })
}

/// The `silence` kind over one Alertmanager.
#[derive(Debug)]
pub struct SilenceKind {
    client: Arc<Client>,
    /// When this run started. `validate` compares `ends_at` with it rather than with the clock,
    /// so that it stays a function of its inputs for the whole run (and testable).
    now: Timestamp,
}

impl SilenceKind {
    pub fn new(client: Arc<Client>, now: Timestamp) -> SilenceKind {
        SilenceKind { client, now }
    }

    fn canonical(silence: &Silence) -> Result<CanonicalSilence, HandlerError> {
        CanonicalSilence::of_definition(silence)
            .map_err(|err| HandlerError::new(HandlerErrorKind::Invalid, err.message).at(err.pointer))
    }

    /// Posts a silence and reads back what Alertmanager made of it (its id may be new, its
    /// start moved to the time of the write).
    async fn post(&self, body: &PostableSilence<'_>) -> Result<RemoteObject, HandlerError> {
        let body = serde_json::to_value(body).map_err(|err| {
            HandlerError::new(HandlerErrorKind::Other, "cannot write the silence as JSON").with_source(err)
        })?;
        let answer = self.client.send(Method::POST, self.client.url(&["api", "v2", "silences"]), Some(&body)).await;
        let answer = answer.map_err(|err| match rejected_field(&err) {
            Some(pointer) if err.kind == HandlerErrorKind::Invalid => err.at(pointer),
            _ => err,
        })?;
        let id = PostAnswer::deserialize(&answer).map(|answer| answer.silence_id).map_err(|_| {
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!("POST /api/v2/silences: Alertmanager's answer names no silenceID: {answer}"),
            )
        })?;
        self.read(&id).await?.ok_or_else(|| {
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
impl Kind for SilenceKind {
    type Desired = Silence;
    type Remote = GettableSilence;
    type Comparable = ComparableSilence;
    type Context = ();

    fn validate(&self, written: &Silence) -> Result<(), Vec<FieldError>> {
        let silence = CanonicalSilence::of_definition(written).map_err(|err| vec![err])?;
        let mut problems = Vec::new();
        if silence.matchers.is_empty() {
            problems.push(FieldError::at("/matchers", "a silence needs at least one matcher"));
        }
        // Positions as written, not as sorted.
        for (index, matcher) in written.matchers.iter().enumerate() {
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
        if !written.matchers.is_empty() && written.matchers.iter().all(matches_empty) {
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

    fn adoption_key(&self, _id: &ObjectId, silence: &Silence, _refs: &dyn Resolver) -> Option<String> {
        CanonicalSilence::of_definition(silence).ok().map(|silence| silence.adoption_key())
    }

    fn desired(
        &self,
        _id: &ObjectId,
        silence: &Silence,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableSilence, FieldError> {
        CanonicalSilence::of_definition(silence).map(|silence| silence.comparable())
    }

    fn observed(&self, remote: &Remote<'_, GettableSilence>) -> ComparableSilence {
        remote.fields.canonical().comparable()
    }

    /// A start that has passed cannot be changed any more: once a silence is active, any
    /// desired start at or before the one Alertmanager recorded means the same window (the
    /// server moved it to the time of the write), and so does "when applied".
    fn observed_for(&self, remote: &Remote<'_, GettableSilence>, desired: &ComparableSilence) -> ComparableSilence {
        let mut comparable = self.observed(remote);
        if !remote.fields.active() {
            return comparable;
        }
        let same_window = desired.starts_at == WHEN_APPLIED
            || Timestamp::parse(&desired.starts_at).is_ok_and(|start| start <= remote.fields.starts_at);
        if same_window {
            comparable.starts_at = desired.starts_at.clone();
        }
        comparable
    }

    /// On a delete line: the matchers and who made it, rather than Alertmanager's uuid.
    fn describe(&self, remote: &Remote<'_, GettableSilence>) -> String {
        let silence = remote.fields.canonical();
        let matchers: Vec<String> = silence.matchers.iter().map(Matcher::spelled).collect();
        format!("silence {{{}}} by {}", matchers.join(", "), silence.created_by)
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        // Matchers are diffed by label name; two matchers on one label fall back to positions.
        (path == "/matchers").then_some("name")
    }

    fn import(
        &self,
        remote: &Remote<'_, GettableSilence>,
        _refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let silence = remote.fields.canonical();
        // Defaults are left out, as a person would write it.
        let written = Silence {
            matchers: silence.matchers.clone(),
            starts_at: silence.starts_at.map(Timestamp::canonical),
            ends_at: silence.ends_at.canonical(),
            comment: silence.comment.clone(),
            created_by: Some(silence.created_by.clone()).filter(|created_by| created_by != DEFAULT_CREATED_BY),
        };
        let Value::Object(fields) = serde_json::to_value(written).ok()? else { return None };
        let readable: String = silence
            .comment
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect();
        let readable = readable.split('-').filter(|part| !part.is_empty()).collect::<Vec<_>>().join("-");
        let short_id: String = remote.remote_id().chars().take(8).collect();
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

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &Silence,
        _refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let silence = SilenceKind::canonical(desired)?;
        let Some(current) = current else {
            let starts_at = silence.starts_at.unwrap_or_else(Timestamp::now);
            return self.post(&silence.postable(None, starts_at)).await;
        };
        // Sending an active silence's recorded start back lets Alertmanager update it in place
        // (same id) when only the end, comment or author changed; any other start would make it
        // expire the silence and create another.
        let observed = current.fields.parse::<GettableSilence>().ok();
        let starts_at = match (&observed, silence.starts_at) {
            (Some(observed), None) if observed.active() => observed.starts_at,
            (Some(observed), Some(wanted)) if observed.active() && wanted <= observed.starts_at => observed.starts_at,
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
    use serde_json::json;

    fn silence(text: &str) -> Silence {
        toml::from_str(text).expect("a silence")
    }

    #[test]
    fn matchers_order_and_timestamp_spelling_do_not_matter() {
        let written = silence(
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
        let desired = CanonicalSilence::of_definition(&written).expect("valid").comparable();
        let observed = GettableSilence::deserialize(&remote).expect("readable").canonical().comparable();
        assert_eq!(desired, observed);
        assert_eq!(
            serde_json::to_value(&desired).expect("json"),
            json!({
                "matchers": [
                    { "name": "env", "value": "prod|staging", "is_regex": true },
                    { "name": "service", "value": "db" },
                ],
                "starts_at": "2099-01-01T00:00:00Z",
                "ends_at": "2099-01-01T04:00:00Z",
                "comment": "upgrade",
                "created_by": "mac",
            })
        );
    }

    #[test]
    fn adoption_keys_name_matchers_end_and_comment() {
        let silence = CanonicalSilence::of_definition(&silence(
            r#"
            matchers = [{ name = "team", value = "db", is_equal = false }, { name = "env", value = "prod.*", is_regex = true }]
            ends_at = "2099-01-01T04:00:00Z"
            comment = "upgrade"
            "#,
        ))
        .expect("valid");
        assert_eq!(silence.adoption_key(), r#"{env=~"prod.*", team!="db"} until 2099-01-01T04:00:00Z: upgrade"#);
    }

    #[test]
    fn the_post_body_is_alertmanagers_shape() {
        let silence = CanonicalSilence::of_definition(&silence(
            r#"
            matchers = [{ name = "team", value = "db", is_equal = false }]
            ends_at = "2099-01-01T04:00:00Z"
            comment = "upgrade"
            created_by = "ops"
            "#,
        ))
        .expect("valid");
        let start = Timestamp::parse("2098-12-31T00:00:00Z").expect("instant");
        assert_eq!(
            serde_json::to_value(silence.postable(Some("id-1"), start)).expect("json"),
            json!({
                "matchers": [{ "name": "team", "value": "db", "isRegex": false, "isEqual": false }],
                "startsAt": "2098-12-31T00:00:00Z",
                "endsAt": "2099-01-01T04:00:00Z",
                "createdBy": "ops",
                "comment": "upgrade",
                "id": "id-1",
            })
        );
    }
}
