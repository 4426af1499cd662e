//! `message_template` and `mute_timing`: the notification templates (`template_files`) and
//! the named time intervals (`alertmanager_config.mute_time_intervals`) of Grafana 8's one
//! Alertmanager document, which contact points and policies share (`crate::alertmanager`).
//!
//! As there, mac owns only the templates and mute timings that code defines: a write re-reads
//! the document, changes only its own entry and posts everything else back as read, and a plan
//! reads the document once for every kind in it. Both are checked offline with the syntax
//! Grafana 8.5.4 applies (mac-alertmanager-syntax): a template that text/template refuses, or
//! a time range the vendored Alertmanager refuses, is reported at its definition's line.

use std::sync::Arc;

use mac_alertmanager_syntax::{template, time_interval};
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, ObjectId, Remote, RemoteObject,
    Resolver, async_trait,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::alertmanager::Alertmanager;

// ---------------------------------------------------------------------------------------
// message_template

/// A `message_template` definition: a named notification template (a file of Grafana's
/// `template_files`), whose `{{ define "…" }}` blocks contact points use in their settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["name", "content"]))]
pub struct MessageTemplate {
    /// The template's name in Grafana (its file name in the Alertmanager configuration).
    #[serde(default)]
    pub name: String,
    /// The template text, Go templating as Alertmanager runs it: inline, or `{ file = "templates/x.tmpl" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<TemplateContent>,
}

/// A template's text: inline, or `{ file = "templates/x.tmpl" }`.
pub type TemplateContent = mac_core::TextFile;

const CONTENT_FORMS: &str = "`content` must be the template text, or { file = \"templates/x.tmpl\" }";

/// A template as `list` records it: its name and text.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredTemplate {
    name: String,
    #[serde(default)]
    content: String,
}

/// A template in the comparable form.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableTemplate {
    name: String,
    content: Option<String>,
}

/// The file Grafana 8.5.4 puts among every configuration's templates, replacing one of that
/// name (pkg/services/ngalert/notifier/alertmanager.go `applyConfig`:
/// `cfg.TemplateFiles["__default__.tmpl"] = channels.DefaultTemplateString`).
const DEFAULT_TEMPLATE_FILE: &str = "__default__.tmpl";

/// Why Grafana would not keep a template under `name`, if it would not.
fn invalid_template_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("`name` must be a non-empty file name".to_owned());
    }
    // notifier/config.go `PersistTemplates` refuses a name that is not a clean base name, and
    // template.FromGlobs reads each name as a glob (so `*` would parse other teams' files).
    if name == "." || name == ".." || name.contains(['/', '*', '?', '[', '\\']) {
        return Some(format!(
            "`{name}` cannot name a template: Grafana stores it as a file name, without `/`, and reads `*`, `?`, `[` and `\\` as a pattern"
        ));
    }
    if name == DEFAULT_TEMPLATE_FILE {
        return Some(format!("`{DEFAULT_TEMPLATE_FILE}` is Grafana's own template, which replaces one of that name"));
    }
    None
}

#[derive(Debug)]
pub(crate) struct MessageTemplateKind {
    alertmanager: Arc<Alertmanager>,
}

impl MessageTemplateKind {
    pub(crate) fn new(alertmanager: Arc<Alertmanager>) -> MessageTemplateKind {
        MessageTemplateKind { alertmanager }
    }
}

/// The document's templates, by name.
fn template_files(document: &Value) -> impl Iterator<Item = (&String, &str)> {
    let files = document.get("template_files").and_then(Value::as_object);
    files.into_iter().flatten().map(|(name, text)| (name, text.as_str().unwrap_or_default()))
}

fn template_object(name: &str, text: &str) -> RemoteObject {
    RemoteObject {
        remote_id: name.to_owned(),
        adoption_key: Some(name.to_owned()),
        fields: mac_core::JsonText::from_value(&json!({ "name": name, "content": text })),
        part_ids: Default::default(),
    }
}

#[async_trait]
impl Kind for MessageTemplateKind {
    type Desired = MessageTemplate;
    type Remote = StoredTemplate;
    type Comparable = ComparableTemplate;
    type Context = ();

    fn validate(&self, desired: &MessageTemplate) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(problem) = invalid_template_name(&desired.name) {
            errors.push(FieldError::at("/name", problem));
        }
        match &desired.content {
            None => errors.push(FieldError::at("/content", CONTENT_FORMS)),
            Some(content) => {
                // Parsed as Grafana 8.5.4 parses it on every save (template.FromGlobs); a file
                // not read yet (a definition built in code) is checked once it is.
                if let Some(text) = content.text()
                    && let Err(error) = template::parse(&desired.name, text)
                {
                    let message = match content {
                        TemplateContent::File { file, .. } => format!("{file}: {error}"),
                        TemplateContent::Text(_) => error.to_string(),
                    };
                    errors.push(FieldError::at("/content", message));
                }
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn validate_together(
        &self,
        definitions: &mut dyn Iterator<Item = (&ObjectId, MessageTemplate)>,
    ) -> Vec<(usize, FieldError)> {
        names_unique(definitions.map(|(id, template)| (id, template.name)), "message template")
    }

    fn text_file_fields(&self) -> Vec<&'static str> {
        vec!["/content"]
    }

    fn adoption_key(&self, _id: &ObjectId, desired: &MessageTemplate, _refs: &dyn Resolver) -> Option<String> {
        Some(desired.name.clone())
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &MessageTemplate,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableTemplate, FieldError> {
        let content = desired.content.as_ref().and_then(TemplateContent::text).ok_or_else(|| {
            FieldError::at("/content", "the template file has not been read (mac_core::project::read_file_fields)")
        })?;
        Ok(ComparableTemplate { name: desired.name.clone(), content: Some(content.to_owned()) })
    }

    fn observed(&self, remote: &Remote<'_, StoredTemplate>) -> ComparableTemplate {
        ComparableTemplate { name: remote.fields.name.clone(), content: Some(remote.fields.content.clone()) }
    }

    fn describe(&self, remote: &Remote<'_, StoredTemplate>) -> String {
        let lines = remote.fields.content.lines().count();
        format!("message template {:?}, {lines} line{}", remote.remote_id(), if lines == 1 { "" } else { "s" })
    }

    /// Templates are imported inline: they are short, and TOML's `'''` strings keep them as
    /// written.
    fn import(
        &self,
        remote: &Remote<'_, StoredTemplate>,
        _refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let template = MessageTemplate {
            name: remote.fields.name.clone(),
            content: Some(TemplateContent::Text(remote.fields.content.clone())),
        };
        Some(ImportedFields {
            local_id: crate::slug(remote.remote_id()),
            fields: serde_json::to_value(template).ok()?.as_object()?.clone(),
            file: "message-templates".to_owned(),
            scope: None,
            part_ids: Default::default(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let document = self.alertmanager.read_for_list("message_template").await?;
        Ok(template_files(&document).map(|(name, text)| template_object(name, text)).collect())
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &MessageTemplate,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<RemoteObject, HandlerError> {
        let name = desired.name.clone();
        let text = desired.content.as_ref().and_then(TemplateContent::text).unwrap_or_default().to_owned();
        let old_name = current.map_or_else(|| name.clone(), |current| current.remote_id.clone());
        let document = self
            .alertmanager
            .modify_document(|document| {
                let files = object_entry(document, "template_files")?;
                files.remove(&old_name);
                files.insert(name.clone(), Value::String(text.clone()));
                // As Grafana 8.5.4's UI saves a template (receivers/TemplateForm.tsx:57-60): its
                // name is also listed in `alertmanager_config.templates`.
                let config = object_entry(document, "alertmanager_config")?;
                let names = array_entry(config, "templates")?;
                names.retain(|listed| listed.as_str() != Some(old_name.as_str()) && listed.as_str() != Some(&name));
                names.push(Value::String(name.clone()));
                Ok(())
            })
            .await
            .map_err(|err| err.at("/content"))?;
        template_files(&document)
            .find(|(stored, _)| **stored == name)
            .map(|(name, text)| template_object(name, text))
            .ok_or_else(|| {
                HandlerError::new(
                    HandlerErrorKind::Unavailable,
                    format!("message template `{name}` is missing after the write"),
                )
            })
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let name = current.remote_id.clone();
        self.alertmanager
            .modify_document(|document| {
                if let Some(files) = document.get_mut("template_files").and_then(Value::as_object_mut) {
                    files.remove(&name);
                }
                if let Some(names) =
                    document.pointer_mut("/alertmanager_config/templates").and_then(Value::as_array_mut)
                {
                    names.retain(|listed| listed.as_str() != Some(name.as_str()));
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }
}

/// A name given to two definitions: the document keeps one entry per name (Grafana refuses a
/// second mute timing of a name, and a second template would silently replace the first).
fn names_unique<'a>(definitions: impl Iterator<Item = (&'a ObjectId, String)>, what: &str) -> Vec<(usize, FieldError)> {
    let mut first_use: std::collections::BTreeMap<String, ObjectId> = std::collections::BTreeMap::new();
    let mut errors = Vec::new();
    for (index, (id, name)) in definitions.enumerate() {
        match first_use.get(&name) {
            Some(other) => errors.push((
                index,
                FieldError::at(
                    "/name",
                    format!("{what} `{name}` is also defined by `{other}`: names are unique in Grafana"),
                ),
            )),
            None => {
                first_use.insert(name, id.clone());
            }
        }
    }
    errors
}

/// The table at `key` of `parent`, made when it is missing or `null`.
fn object_entry<'a>(parent: &'a mut Value, key: &str) -> Result<&'a mut Map<String, Value>, HandlerError> {
    let Some(parent) = parent.as_object_mut() else { return Err(unexpected_document(key)) };
    let entry = parent.entry(key).or_insert(Value::Null);
    if entry.is_null() {
        *entry = json!({});
    }
    entry.as_object_mut().ok_or_else(|| unexpected_document(key))
}

/// The list at `key` of `parent`, made when it is missing or `null`.
fn array_entry<'a>(parent: &'a mut Map<String, Value>, key: &str) -> Result<&'a mut Vec<Value>, HandlerError> {
    let entry = parent.entry(key).or_insert(Value::Null);
    if entry.is_null() {
        *entry = json!([]);
    }
    entry.as_array_mut().ok_or_else(|| unexpected_document(key))
}

fn unexpected_document(key: &str) -> HandlerError {
    HandlerError::new(
        HandlerErrorKind::Unavailable,
        format!("Grafana's Alertmanager configuration has an unexpected `{key}`"),
    )
}

// ---------------------------------------------------------------------------------------
// mute_timing

/// A `mute_timing` definition: named time intervals during which the notification policies
/// that name it send nothing (Alertmanager's `mute_time_intervals`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["name", "time_intervals"]))]
pub struct MuteTiming {
    /// The mute timing's name in Grafana, by which policies name it.
    #[serde(default)]
    pub name: String,
    /// When notifications are muted: during any one of these intervals (all in UTC).
    #[serde(default)]
    pub time_intervals: Vec<TimeInterval>,
}

/// One interval of a mute timing: the times that match every field it sets (a field left out
/// matches any time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeInterval {
    /// Times of day, `{ start_time = "22:00", end_time = "24:00" }` (the end excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<Vec<TimeRange>>,
    /// Days of the week or ranges of them: `"saturday"`, `"monday:friday"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekdays: Option<Vec<String>>,
    /// Days of the month or ranges of them, negative from the month's end: `"1:7"`, `"-1"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_of_month: Option<Vec<String>>,
    /// Months or ranges of them, by name or number: `"december"`, `"1:3"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<Vec<String>>,
    /// Years or ranges of them: `"2026"`, `"2026:2027"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<Vec<String>>,
}

/// A range of times of day, `HH:MM` in UTC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// When it starts, `HH:MM` (included).
    pub start_time: String,
    /// When it ends, `HH:MM` up to `24:00` (excluded).
    pub end_time: String,
}

/// A mute timing as the document holds it (and as Grafana marshals its ranges).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredMuteTiming {
    #[serde(default)]
    name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    time_intervals: Vec<Value>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Value>, D::Error> {
    Ok(Option::<Vec<Value>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A mute timing in the comparable form: each interval as Grafana marshals it (weekdays by
/// name, `"1:1"` as `"1"`, months by number), so that equivalent spellings are no change.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableMuteTiming {
    name: String,
    time_intervals: Vec<TimeInterval>,
}

#[derive(Debug)]
pub(crate) struct MuteTimingKind {
    alertmanager: Arc<Alertmanager>,
}

impl MuteTimingKind {
    pub(crate) fn new(alertmanager: Arc<Alertmanager>) -> MuteTimingKind {
        MuteTimingKind { alertmanager }
    }
}

/// One interval in Grafana's form: the vendored Alertmanager's decoding and marshalling.
fn canonical_interval(interval: &Value) -> Result<TimeInterval, String> {
    let decoded =
        time_interval::decode(&json!({ "name": "", "time_intervals": [interval] })).map_err(|error| error.message)?;
    let first = decoded.json.pointer("/time_intervals/0").cloned().unwrap_or_else(|| json!({}));
    TimeInterval::deserialize(first).map_err(|error| error.to_string())
}

fn mute_timings(document: &Value) -> impl Iterator<Item = &Value> {
    let list = document.pointer("/alertmanager_config/mute_time_intervals").and_then(Value::as_array);
    list.into_iter().flatten()
}

fn mute_timing_object(stored: &Value) -> RemoteObject {
    let name = stored.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    RemoteObject {
        remote_id: name.clone(),
        adoption_key: Some(name),
        fields: mac_core::JsonText::from_value(stored),
        part_ids: Default::default(),
    }
}

/// Routes that named a renamed mute timing follow it (Grafana refuses a route naming an
/// undefined one).
fn rename_mute_timing(route: &mut Value, old: &str, new: &str) {
    for name in route.get_mut("mute_time_intervals").and_then(Value::as_array_mut).into_iter().flatten() {
        if name.as_str() == Some(old) {
            *name = json!(new);
        }
    }
    for child in route.get_mut("routes").and_then(Value::as_array_mut).into_iter().flatten() {
        rename_mute_timing(child, old, new);
    }
}

#[async_trait]
impl Kind for MuteTimingKind {
    type Desired = MuteTiming;
    type Remote = StoredMuteTiming;
    type Comparable = ComparableMuteTiming;
    type Context = ();

    fn validate(&self, desired: &MuteTiming) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if desired.name.is_empty() {
            errors.push(FieldError::at("/name", "`name` must be a non-empty string"));
        }
        if desired.time_intervals.is_empty() {
            errors.push(FieldError::at(
                "/time_intervals",
                "a mute timing needs at least one interval ([[…mute_timing.time_intervals]])",
            ));
        }
        // Grafana 8.5.4 answers only "bad request data" for an interval it cannot decode: the
        // vendored Alertmanager's own message is given here, at the interval.
        for (index, interval) in desired.time_intervals.iter().enumerate() {
            let value = serde_json::to_value(interval).unwrap_or_default();
            if let Err(message) = canonical_interval(&value) {
                errors.push(FieldError::at(format!("/time_intervals/{index}"), message));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn validate_together(
        &self,
        definitions: &mut dyn Iterator<Item = (&ObjectId, MuteTiming)>,
    ) -> Vec<(usize, FieldError)> {
        names_unique(definitions.map(|(id, mute_timing)| (id, mute_timing.name)), "mute timing")
    }

    fn adoption_key(&self, _id: &ObjectId, desired: &MuteTiming, _refs: &dyn Resolver) -> Option<String> {
        Some(desired.name.clone())
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &MuteTiming,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableMuteTiming, FieldError> {
        let mut time_intervals = Vec::new();
        for (index, interval) in desired.time_intervals.iter().enumerate() {
            let value = serde_json::to_value(interval).unwrap_or_default();
            let canonical = canonical_interval(&value)
                .map_err(|message| FieldError::at(format!("/time_intervals/{index}"), message))?;
            time_intervals.push(canonical);
        }
        Ok(ComparableMuteTiming { name: desired.name.clone(), time_intervals })
    }

    fn observed(&self, remote: &Remote<'_, StoredMuteTiming>) -> ComparableMuteTiming {
        // Grafana stores them canonical already; one it could not have stored shows as written.
        let time_intervals = remote
            .fields
            .time_intervals
            .iter()
            .map(|interval| {
                canonical_interval(interval)
                    .or_else(|_| TimeInterval::deserialize(interval.clone()))
                    .unwrap_or_default()
            })
            .collect();
        ComparableMuteTiming { name: remote.fields.name.clone(), time_intervals }
    }

    fn describe(&self, remote: &Remote<'_, StoredMuteTiming>) -> String {
        let count = remote.fields.time_intervals.len();
        format!("mute timing {:?}, {count} interval{}", remote.remote_id(), if count == 1 { "" } else { "s" })
    }

    fn import(
        &self,
        remote: &Remote<'_, StoredMuteTiming>,
        _refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let observed = self.observed(remote);
        let mute_timing = MuteTiming { name: observed.name, time_intervals: observed.time_intervals };
        Some(ImportedFields {
            local_id: crate::slug(remote.remote_id()),
            fields: serde_json::to_value(mute_timing).ok()?.as_object()?.clone(),
            file: "mute-timings".to_owned(),
            scope: None,
            part_ids: Default::default(),
        })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let document = self.alertmanager.read_for_list("mute_timing").await?;
        Ok(mute_timings(&document).map(mute_timing_object).collect())
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        _id: &ObjectId,
        desired: &MuteTiming,
        _refs: &dyn Resolver,
        _context: &(),
    ) -> Result<RemoteObject, HandlerError> {
        let name = desired.name.clone();
        let old_name = current.map_or_else(|| name.clone(), |current| current.remote_id.clone());
        let stored = serde_json::to_value(desired).map_err(|err| {
            HandlerError::new(HandlerErrorKind::Other, format!("cannot encode mute timing `{name}`: {err}"))
        })?;
        let document = self
            .alertmanager
            .modify(|config| {
                let list = array_entry(config, "mute_time_intervals")?;
                let named = |entry: &Value, wanted: &str| entry.get("name").and_then(Value::as_str) == Some(wanted);
                match list.iter().position(|entry| named(entry, &old_name)) {
                    Some(index) => list[index] = stored.clone(),
                    None => list.push(stored.clone()),
                }
                if old_name != name
                    && let Some(route) = config.get_mut("route")
                {
                    rename_mute_timing(route, &old_name, &name);
                }
                Ok(())
            })
            .await
            .map_err(|err| err.at("/time_intervals"))?;
        let found = mute_timings(&document).find(|entry| entry.get("name").and_then(Value::as_str) == Some(&name));
        found.map(mute_timing_object).ok_or_else(|| {
            HandlerError::new(HandlerErrorKind::Unavailable, format!("mute timing `{name}` is missing after the write"))
        })
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let name = current.remote_id.clone();
        self.alertmanager
            .modify(|config| {
                // Grafana 8.5.4 would refuse the whole document with a bare "bad request data"
                // (config.go: "undefined time interval … used in route"): the routes that still
                // use it are named instead, and nothing is posted. The plan blocks this delete
                // for the project's own policies; these are routes mac does not manage.
                let mut users = Vec::new();
                if let Some(route) = config.get("route") {
                    routes_using(route, &name, &mut users);
                }
                if !users.is_empty() {
                    return Err(HandlerError::new(
                        HandlerErrorKind::Conflict,
                        format!(
                            "mute timing `{name}` is still used by the notification policies {{{}}}: remove it from them first",
                            users.join("}, {")
                        ),
                    ));
                }
                if let Some(list) = config.get_mut("mute_time_intervals").and_then(Value::as_array_mut) {
                    list.retain(|entry| entry.get("name").and_then(Value::as_str) != Some(name.as_str()));
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }
}

/// The matchers of every route under `route` (at any depth) that names the mute timing `name`.
fn routes_using(route: &Value, name: &str, found: &mut Vec<String>) {
    for child in route.get("routes").and_then(Value::as_array).into_iter().flatten() {
        let names = child.get("mute_time_intervals").and_then(Value::as_array);
        if names.into_iter().flatten().any(|used| used.as_str() == Some(name)) {
            found.push(crate::alertmanager::route_key(child));
        }
        routes_using(child, name, found);
    }
}

/// The names the document's routes give their mute timings, at any depth (for tests).
#[cfg(test)]
fn used_mute_timings(route: &Value, found: &mut std::collections::BTreeMap<String, usize>) {
    for name in route.get("mute_time_intervals").and_then(Value::as_array).into_iter().flatten() {
        *found.entry(name.as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    for child in route.get("routes").and_then(Value::as_array).into_iter().flatten() {
        used_mute_timings(child, found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mac_core::{Handler, Typed};
    use std::collections::BTreeMap;

    fn kinds() -> (Typed<MessageTemplateKind>, Typed<MuteTimingKind>) {
        let alertmanager = Alertmanager::new(Arc::new(crate::client::unreachable()));
        (Typed(MessageTemplateKind::new(alertmanager.clone())), Typed(MuteTimingKind::new(alertmanager)))
    }

    fn fields(value: Value) -> mac_core::JsonText {
        mac_core::JsonText::from_value(&value)
    }

    fn errors(result: Result<(), Vec<FieldError>>) -> Vec<(String, String)> {
        result.err().unwrap_or_default().into_iter().map(|error| (error.pointer, error.message)).collect()
    }

    #[test]
    fn templates_are_parsed_as_grafana_parses_them_and_named_as_it_stores_them() {
        let (templates, _) = kinds();
        let valid = json!({ "name": "ops", "content": "{{ define \"ops.title\" }}{{ .Status | toUpper }}{{ end }}" });
        assert!(templates.validate(&fields(valid)).is_ok());
        assert_eq!(
            errors(templates.validate(&fields(json!({ "name": "ops", "content": "{{ define \"x\" }}\n{{ .Foo }" })))),
            [("/content".to_owned(), "template: ops:2: unexpected \"}\" in operand".to_owned())]
        );
        assert_eq!(
            errors(templates.validate(&fields(
                json!({ "name": "ops", "content": { "file": "templates/ops.tmpl", "content": "{{ nope }}" } })
            ))),
            [("/content".to_owned(), "templates/ops.tmpl: template: ops:1: function \"nope\" not defined".to_owned())]
        );
        for name in ["a/b", "*", "__default__.tmpl", ""] {
            let found = errors(templates.validate(&fields(json!({ "name": name, "content": "" }))));
            assert_eq!(found.len(), 1, "{name}: {found:?}");
            assert_eq!(found[0].0, "/name");
        }
    }

    #[test]
    fn mute_timings_compare_in_grafanas_canonical_form_and_report_alertmanagers_errors() {
        let (_, mute_timings) = kinds();
        let written = json!({ "name": "nights", "time_intervals": [
            { "times": [{ "start_time": "22:00", "end_time": "24:00" }], "weekdays": ["Monday:Friday", "sunday:sunday"],
              "days_of_month": ["1:1"], "months": ["january:march"] }] });
        assert!(mute_timings.validate(&fields(written.clone())).is_ok());
        let stored = RemoteObject {
            remote_id: "nights".to_owned(),
            fields: fields(json!({ "name": "nights", "time_intervals": [
                { "times": [{ "start_time": "22:00", "end_time": "24:00" }], "weekdays": ["monday:friday", "sunday"],
                  "days_of_month": ["1"], "months": ["1:3"] }] })),
            ..RemoteObject::default()
        };
        let desired =
            mac_core::DesiredObject { id: ObjectId::new("grafana8", "mute_timing", "nights"), fields: fields(written) };
        struct NoRefs;
        impl Resolver for NoRefs {
            fn resolve(&self, _reference: &mac_core::LocalRef) -> Option<mac_core::Resolved<'_>> {
                None
            }
        }
        let context = mute_timings.prepare_context(&Value::Null).expect("context");
        let compared = mute_timings.compare(&desired, Some(&stored), &NoRefs, &context).expect("compared");
        assert_eq!(Some(compared.desired), compared.observed, "spellings Grafana marshals alike are no change");

        let invalid = json!({ "name": "nights", "time_intervals": [
            { "weekdays": ["friday:monday"] }, { "times": [{ "start_time": "9:00", "end_time": "17:00" }] }] });
        assert_eq!(
            errors(mute_timings.validate(&fields(invalid))),
            [
                ("/time_intervals/0".to_owned(), "start day cannot be before end day".to_owned()),
                ("/time_intervals/1".to_owned(), "couldn't parse timestamp 9:00, invalid format".to_owned()),
            ]
        );
    }

    #[test]
    fn renaming_a_mute_timing_renames_it_in_every_route() {
        let mut route = json!({ "receiver": "r", "routes": [
            { "mute_time_intervals": ["nights", "weekends"], "routes": [{ "mute_time_intervals": ["nights"] }] }] });
        rename_mute_timing(&mut route, "nights", "evenings");
        let mut found = BTreeMap::new();
        used_mute_timings(&route, &mut found);
        assert_eq!(found, BTreeMap::from([("evenings".to_owned(), 2), ("weekends".to_owned(), 1)]));
    }
}
