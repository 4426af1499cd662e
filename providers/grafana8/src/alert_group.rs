//! `alert_group`: a unified alerting rule group of Grafana-managed rules (the ruler API,
//! API.md §3). The group is the unit of writing: one POST of the whole group. Rules keep
//! their identity through the uids Grafana gives them, which mac remembers in state.

#[allow(unused_imports)] // TEMPORARY (issue 17): until this kind is typed.
use mac_core::legacy::LegacyHandler as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    DesiredObject, FieldError, Fields, Handler, HandlerError, HandlerErrorKind, KeyReference, LocalRef, ObjectId,
    RemoteObject, Resolved, Resolver, async_trait,
};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::checks;
use crate::client::Client;
use crate::folder_ref::{FolderRef, folder_of, folder_references};
use mac_core::duration;

/// The ruler API's path for Grafana-managed rules.
const RULER: [&str; 6] = ["api", "ruler", "grafana", "api", "v1", "rules"];
/// Data source uids that stand for server-side expressions (`expr.IsDataSource`).
const EXPRESSION_UIDS: [&str; 2] = ["__expr__", "-100"];
/// Defaults Grafana applies (models/alert_rule.go, models/alert_query.go, v8.5.4).
const DEFAULT_INTERVAL_MS: u64 = 60_000;
const DEFAULT_NO_DATA_STATE: &str = "NoData";
const DEFAULT_EXEC_ERR_STATE: &str = "Alerting";
const NO_DATA_STATES: [&str; 3] = ["Alerting", "NoData", "OK"];
const EXEC_ERR_STATES: [&str; 3] = ["Alerting", "Error", "OK"];

#[derive(Debug)]
pub struct AlertGroupHandler {
    client: Arc<Client>,
    /// Data source name → uid, read once per plan with the rule list (needs an org admin;
    /// `Err` says why names cannot be resolved).
    datasources: Mutex<Option<Result<HashMap<String, String>, String>>>,
    /// The project whose owner marker every written rule carries (`crate::owner`).
    project: Option<String>,
}

impl AlertGroupHandler {
    pub fn new(client: Arc<Client>) -> AlertGroupHandler {
        AlertGroupHandler { client, datasources: Mutex::new(None), project: None }
    }

    async fn load_datasources(&self) -> Result<HashMap<String, String>, String> {
        match self.client.get(&["api", "datasources"], &[]).await {
            Ok(answer) => Ok(answer
                .body
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|source| {
                    Some((source.get("name")?.as_str()?.to_owned(), source.get("uid")?.as_str()?.to_owned()))
                })
                .collect()),
            Err(err) if err.kind == HandlerErrorKind::Unauthorized => Err(
                "these credentials may not list data sources (Grafana 8 requires an org Admin); give the data source's uid instead of its name".to_owned(),
            ),
            Err(err) => Err(err.message),
        }
    }

    fn cached_datasources(&self) -> Option<Result<HashMap<String, String>, String>> {
        self.datasources.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    async fn datasources_for_writing(&self) -> Result<HashMap<String, String>, String> {
        if let Some(cached) = self.cached_datasources() {
            return cached;
        }
        let loaded = self.load_datasources().await;
        *self.datasources.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(loaded.clone());
        loaded
    }

    /// The folder a group goes to: its uid and (for writing) its current title, which is the
    /// ruler API's namespace.
    async fn target_folder(
        &self,
        desired: &DesiredObject,
        refs: &dyn Resolver,
    ) -> Result<(String, String), HandlerError> {
        match folder_of(&desired.fields) {
            Some(FolderRef::Uid(uid)) => {
                let answer = self.client.get(&["api", "folders", &uid], &[]).await.map_err(|err| {
                    if err.kind == HandlerErrorKind::NotFound {
                        HandlerError::new(
                            HandlerErrorKind::Invalid,
                            format!("there is no folder with uid `{uid}` in Grafana"),
                        )
                        .at("/folder")
                    } else {
                        err
                    }
                })?;
                let title = answer.body.get("title").and_then(Value::as_str).unwrap_or_default().to_owned();
                Ok((uid, title))
            }
            Some(FolderRef::Local(local_id)) => match refs.resolve(&LocalRef::new("folder", &local_id)) {
                Some(Resolved::Known(folder)) => {
                    let title = folder.fields.get("title").and_then(Value::as_str).unwrap_or_default().to_owned();
                    Ok((folder.remote_id.clone(), title))
                }
                _ => {
                    Err(HandlerError::new(HandlerErrorKind::Other, format!("folder `{local_id}` has not been created"))
                        .at("/folder"))
                }
            },
            None => Err(HandlerError::new(HandlerErrorKind::Invalid, "`folder` is missing").at("/folder")),
        }
    }

    /// Writes the group with one POST, then reads it back for the uids Grafana gave new rules.
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        desired: &DesiredObject,
        refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        let datasources = self.datasources_for_writing().await;
        let wanted = comparable(desired, refs, Some(&datasources)).map_err(field_error)?;
        let (folder_uid, folder_title) = self.target_folder(desired, refs).await?;
        let name = group_name(desired);
        let rules = wanted.get("rules").and_then(Value::as_array).cloned().unwrap_or_default();
        let uids = current.map(|current| assign_uids(current, &rules)).unwrap_or_else(|| vec![None; rules.len()]);

        // Grafana 8.5 keeps a rule's stored `for` when an update sends 0 (API.md §3.4): a rule
        // whose `for` goes back to 0 is written as a new rule, after a first POST without it.
        let resets: BTreeSet<usize> = current
            .map(|current| {
                rules
                    .iter()
                    .zip(&uids)
                    .enumerate()
                    .filter(|(_, (rule, uid))| {
                        rule.get("for").and_then(Value::as_str) == Some("0s")
                            && uid.as_ref().and_then(|uid| stored_rule(current, uid)).is_some_and(|stored| {
                                stored.get("for").and_then(Value::as_str).is_some_and(|stored_for| stored_for != "0s")
                            })
                    })
                    .map(|(index, _)| index)
                    .collect()
            })
            .unwrap_or_default();
        let namespace = ruler_path(&[&folder_title]);
        if !resets.is_empty() {
            let kept: Vec<Value> = rules
                .iter()
                .zip(&uids)
                .enumerate()
                .filter(|(index, _)| !resets.contains(index))
                .map(|(_, (rule, uid))| postable_rule(rule, uid.as_deref()))
                .collect();
            let body = json!({ "name": name, "interval": wanted.get("interval"), "rules": self.marked(kept) });
            self.post(&namespace, &body, &rules).await?;
        }
        let postable: Vec<Value> = rules
            .iter()
            .zip(&uids)
            .enumerate()
            .map(|(index, (rule, uid))| {
                postable_rule(rule, if resets.contains(&index) { None } else { uid.as_deref() })
            })
            .collect();
        let body = json!({ "name": name, "interval": wanted.get("interval"), "rules": self.marked(postable) });
        self.post(&namespace, &body, &rules).await?;

        // A group that moved folder or was renamed leaves rules it no longer has behind in
        // its old place: delete what is left there.
        let new_id = format!("{folder_uid}/{name}");
        if let Some(current) = current
            && current.remote_id != new_id
        {
            self.delete(current).await?;
        }
        // Every rule already had its uid and the group stayed where it was: what Grafana stored
        // is what was posted, so reading it back would only double the requests of an update.
        let uids_all_known = resets.is_empty()
            && uids.iter().all(Option::is_some)
            && current.is_some_and(|current| current.remote_id == new_id);
        let answer = if uids_all_known {
            body
        } else {
            // New rules get their uids from Grafana (8.5 refuses client-chosen ones): read them.
            self.client.get(&ruler_path(&[&folder_title, &name]), &[]).await?.body
        };
        let mut written = group_object(&folder_uid, &folder_title, &answer);
        written.part_ids = rule_keys_to_uids(&rules, &answer);
        Ok(written)
    }

    /// Postable rules with this project's owner marker.
    fn marked(&self, mut rules: Vec<Value>) -> Vec<Value> {
        for rule in &mut rules {
            crate::owner::mark_rule(rule, self.project.as_deref());
        }
        rules
    }

    /// Marks every rule written from now on as managed by `project`.
    pub fn with_project(mut self, project: Option<String>) -> AlertGroupHandler {
        self.project = project;
        self
    }

    async fn post(&self, namespace: &[&str], body: &Value, rules: &[Value]) -> Result<(), HandlerError> {
        self.client
            .send(Method::POST, self.client.url(namespace, &[]), Some(body))
            .await
            .map(|_| ())
            .map_err(|err| locate_rule_error(err, rules))
    }
}

/// `RULER` followed by `more`.
fn ruler_path<'a>(more: &[&'a str]) -> Vec<&'a str> {
    RULER.iter().copied().chain(more.iter().copied()).collect()
}

fn group_name(desired: &DesiredObject) -> String {
    desired.fields.get("name").and_then(Value::as_str).map_or_else(|| desired.id.local_id.clone(), str::to_owned)
}

fn field_error(error: FieldError) -> HandlerError {
    HandlerError::new(HandlerErrorKind::Invalid, error.message).at(error.pointer)
}

/// Points a Grafana validation error at the rule it names: `… at index [2]: …` or a title.
fn locate_rule_error(error: HandlerError, rules: &[Value]) -> HandlerError {
    if let Some(start) = error.message.find("at index [") {
        let digits: String = error.message[start + 10..].chars().take_while(char::is_ascii_digit).collect();
        if let Ok(index) = digits.parse::<usize>() {
            return error.at(format!("/rules/{index}"));
        }
    }
    let by_title = rules.iter().position(|rule| {
        rule.get("title")
            .and_then(Value::as_str)
            .is_some_and(|title| error.message.contains(&format!("alert rule {title}")))
    });
    match by_title {
        Some(index) => error.at(format!("/rules/{index}")),
        None => error,
    }
}

/// The stored rule with this uid in an observed group.
fn stored_rule<'a>(current: &'a RemoteObject, uid: &str) -> Option<&'a Value> {
    current
        .fields
        .get("rules")
        .and_then(Value::as_array)?
        .iter()
        .find(|rule| rule.pointer("/grafana_alert/uid").and_then(Value::as_str) == Some(uid))
}

/// The uid each desired rule is written with: the one remembered for its key, else the
/// stored rule with its title, else none (a new rule). No uid is used twice.
fn assign_uids(current: &RemoteObject, rules: &[Value]) -> Vec<Option<String>> {
    let stored: Vec<(&str, &str)> = current
        .fields
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|rule| {
            Some((rule.pointer("/grafana_alert/uid")?.as_str()?, rule.pointer("/grafana_alert/title")?.as_str()?))
        })
        .collect();
    let mut used = BTreeSet::new();
    let mut uids = vec![None; rules.len()];
    for (index, rule) in rules.iter().enumerate() {
        let key = rule.get("id").and_then(Value::as_str).unwrap_or_default();
        if let Some(uid) = current.part_ids.get(key)
            && stored.iter().any(|(stored_uid, _)| stored_uid == uid)
            && used.insert(uid.clone())
        {
            uids[index] = Some(uid.clone());
        }
    }
    for (index, rule) in rules.iter().enumerate() {
        if uids[index].is_some() {
            continue;
        }
        let title = rule.get("title").and_then(Value::as_str).unwrap_or_default();
        if let Some((uid, _)) = stored.iter().find(|(uid, stored_title)| *stored_title == title && !used.contains(*uid))
        {
            used.insert((*uid).to_owned());
            uids[index] = Some((*uid).to_owned());
        }
    }
    uids
}

/// After a write: each desired rule's key → the uid Grafana holds for its title (titles are
/// unique per folder in Grafana).
fn rule_keys_to_uids(rules: &[Value], group: &Value) -> BTreeMap<String, String> {
    let stored: HashMap<&str, &str> = group
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|rule| {
            Some((rule.pointer("/grafana_alert/title")?.as_str()?, rule.pointer("/grafana_alert/uid")?.as_str()?))
        })
        .collect();
    rules
        .iter()
        .filter_map(|rule| {
            let key = rule.get("id")?.as_str()?;
            let uid = stored.get(rule.get("title")?.as_str()?)?;
            Some((key.to_owned(), (*uid).to_owned()))
        })
        .collect()
}

/// A remote group: id `folder-uid/name`, the group as the ruler API returned it, plus where
/// it lives.
fn group_object(folder_uid: &str, folder_title: &str, group: &Value) -> RemoteObject {
    let name = group.get("name").and_then(Value::as_str).unwrap_or_default();
    let remote_id = format!("{folder_uid}/{name}");
    let mut fields = group.as_object().cloned().unwrap_or_default();
    fields.insert("folder_uid".to_owned(), json!(folder_uid));
    fields.insert("folder_title".to_owned(), json!(folder_title));
    RemoteObject {
        remote_id: remote_id.clone(),
        adoption_key: Some(remote_id),
        fields: Value::Object(fields),
        part_ids: Default::default(),
    }
}

/// The rule as the ruler API takes it (API.md §3.2), from its comparable form.
fn postable_rule(rule: &Value, uid: Option<&str>) -> Value {
    let data: Vec<Value> = rule
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|query| {
            json!({
                "refId": query.get("ref_id"),
                "queryType": query.get("query_type"),
                "relativeTimeRange": query.get("relative_time_range"),
                "datasourceUid": query.get("datasource_uid"),
                "model": query.get("model"),
            })
        })
        .collect();
    json!({
        "for": rule.get("for"),
        "labels": rule.get("labels"),
        "annotations": rule.get("annotations"),
        "grafana_alert": {
            "uid": uid.unwrap_or_default(),
            "title": rule.get("title"),
            "condition": rule.get("condition"),
            "no_data_state": rule.get("no_data_state"),
            "exec_err_state": rule.get("exec_err_state"),
            "data": data,
        },
    })
}

/// A duration in canonical form; `0s` when absent.
fn canonical_duration(value: Option<&Value>) -> Value {
    match value {
        Some(Value::String(text)) => json!(duration::canonical(text).unwrap_or_else(|| text.clone())),
        _ => json!("0s"),
    }
}

/// Seconds, from a number of seconds or a duration string.
fn seconds(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64().or_else(|| number.as_f64().map(|seconds| seconds as i64)),
        Value::String(text) => duration::parse(text).map(|milliseconds| (milliseconds / 1000) as i64),
        _ => None,
    }
}

/// A query model as Grafana stores it: `intervalMs` and `maxDataPoints` added when missing
/// or 0 (models/alert_query.go `PreSave`).
fn stored_model(model: Option<&Value>) -> Value {
    let mut model = model.and_then(Value::as_object).cloned().unwrap_or_default();
    for (key, default) in [("intervalMs", 1000), ("maxDataPoints", 43200)] {
        let missing = model.get(key).and_then(Value::as_f64).is_none_or(|value| value == 0.0);
        if missing {
            model.insert(key.to_owned(), json!(default));
        }
    }
    Value::Object(model)
}

fn string_map(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        _ => Value::Object(Map::new()),
    }
}

/// The desired group in the comparable form. `datasources` resolves `{ name = … }`; `None`
/// uses what the last list read.
fn comparable(
    desired: &DesiredObject,
    refs: &dyn Resolver,
    datasources: Option<&Result<HashMap<String, String>, String>>,
) -> Result<Value, FieldError> {
    let fields = &desired.fields;
    let folder_uid = match folder_of(fields) {
        Some(FolderRef::Uid(uid)) => json!(uid),
        Some(FolderRef::Local(local_id)) => match refs.resolve(&LocalRef::new("folder", &local_id)) {
            Some(Resolved::Known(folder)) => json!(folder.remote_id),
            _ => json!(KNOWN_AFTER_APPLY),
        },
        None => return Err(FieldError::at("/folder", "`folder` is missing")),
    };
    let interval = match fields.get("interval") {
        Some(value) => canonical_duration(Some(value)),
        None => json!(duration::format(DEFAULT_INTERVAL_MS)),
    };
    let mut rules = Vec::new();
    for (index, rule) in fields.get("rules").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let title = rule.get("title").and_then(Value::as_str).unwrap_or_default();
        let mut data = Vec::new();
        for (position, query) in rule.get("data").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let pointer = format!("/rules/{index}/data/{position}/datasource");
            let datasource_uid = datasource_uid(query.get("datasource"), datasources)
                .map_err(|message| FieldError::at(&pointer, message))?;
            let expression = EXPRESSION_UIDS.contains(&datasource_uid.as_str());
            let range = query.get("relative_time_range");
            let (default_from, default_to) = if expression { (0, 0) } else { (600, 0) };
            let model = stored_model(query.get("model"));
            let query_type = query
                .get("query_type")
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .or_else(|| model.get("queryType").and_then(Value::as_str))
                .unwrap_or_default();
            data.push(json!({
                "ref_id": query.get("ref_id"),
                "datasource_uid": datasource_uid,
                "query_type": query_type,
                "relative_time_range": {
                    "from": seconds(range.and_then(|range| range.get("from"))).unwrap_or(default_from),
                    "to": seconds(range.and_then(|range| range.get("to"))).unwrap_or(default_to),
                },
                "model": model,
            }));
        }
        rules.push(json!({
            "id": rule.get("id").and_then(Value::as_str).unwrap_or(title),
            "title": title,
            "condition": rule.get("condition"),
            "for": canonical_duration(rule.get("for")),
            "no_data_state": rule.get("no_data_state").and_then(Value::as_str).unwrap_or(DEFAULT_NO_DATA_STATE),
            "exec_err_state": rule.get("exec_err_state").and_then(Value::as_str).unwrap_or(DEFAULT_EXEC_ERR_STATE),
            "labels": string_map(rule.get("labels")),
            "annotations": string_map(rule.get("annotations")),
            "data": data,
        }));
    }
    Ok(json!({ "folder_uid": folder_uid, "name": group_name(desired), "interval": interval, "rules": rules }))
}

fn datasource_uid(
    value: Option<&Value>,
    datasources: Option<&Result<HashMap<String, String>, String>>,
) -> Result<String, String> {
    match value {
        Some(Value::String(uid)) => Ok(uid.clone()),
        Some(Value::Object(table)) => {
            let name = table.get("name").and_then(Value::as_str).unwrap_or_default();
            match datasources {
                Some(Ok(known)) => known.get(name).cloned().ok_or_else(|| {
                    let mut names: Vec<&str> = known.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    format!(
                        "Grafana has no data source named `{name}`{} (it has: {})",
                        mac_core::suggest::hint(name, names.iter().copied()),
                        if names.is_empty() { "none".to_owned() } else { names.join(", ") },
                    )
                }),
                Some(Err(reason)) => Err(format!("cannot resolve data source `{name}`: {reason}")),
                None => Err(format!("cannot resolve data source `{name}`: data sources were not read")),
            }
        }
        _ => Err("`datasource` must be a data source uid or { name = \"…\" }".to_owned()),
    }
}

/// A comparable group (desired or observed) without the values Grafana 8.5.4 fills in when a
/// write leaves them out, so that a plan never shows them: a new or removed rule reads as
/// it was written.
fn without_defaults(mut group: Value) -> Value {
    use mac_core::diff::{remove_default, remove_defaults};
    // A group without interval is evaluated every DefaultRuleEvaluationInterval, 60s
    // (pkg/services/ngalert/api/api_ruler_validation.go:154-158,
    // pkg/setting/setting_unified_alerting.go:56).
    remove_default(&mut group, "/interval", &json!(duration::format(DEFAULT_INTERVAL_MS)));
    // `for` is a Go duration, 0 when absent (api_ruler_validation.go:114).
    remove_default(&mut group, "/rules/*/for", &json!("0s"));
    // NoData and Alerting when not given (api_ruler_validation.go:52-78).
    remove_default(&mut group, "/rules/*/no_data_state", &json!(DEFAULT_NO_DATA_STATE));
    remove_default(&mut group, "/rules/*/exec_err_state", &json!(DEFAULT_EXEC_ERR_STATE));
    for field in ["labels", "annotations"] {
        remove_default(&mut group, &format!("/rules/*/{field}"), &json!({}));
    }
    remove_default(&mut group, "/rules/*/data/*/query_type", &json!(""));
    // Added to every query model when missing or 0 (pkg/services/ngalert/models/alert_query.go:13-14,
    // setIntervalMS and setMaxDatapoints, called by PreSave).
    remove_default(&mut group, "/rules/*/data/*/model/intervalMs", &json!(1000));
    remove_default(&mut group, "/rules/*/data/*/model/maxDataPoints", &json!(43200));
    // The range mac writes when a query gives none (Grafana's rule editor's default of 10m;
    // expressions are not queried over a range).
    remove_defaults(&mut group, "/rules/*/data/*/relative_time_range", &|range, query| {
        let expression =
            query.get("datasource_uid").and_then(Value::as_str).is_some_and(|uid| EXPRESSION_UIDS.contains(&uid));
        let from = if expression { 0 } else { 600 };
        range.get("from").and_then(Value::as_i64) == Some(from) && range.get("to").and_then(Value::as_i64) == Some(0)
    });
    group
}

/// An observed group in the comparable form.
fn observed_comparable(remote: &RemoteObject) -> Value {
    let uid_to_key: HashMap<&str, &str> =
        remote.part_ids.iter().map(|(key, uid)| (uid.as_str(), key.as_str())).collect();
    let rules: Vec<Value> = remote
        .fields
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|rule| {
            let alert = rule.get("grafana_alert").cloned().unwrap_or_default();
            let title = alert.get("title").and_then(Value::as_str).unwrap_or_default();
            let uid = alert.get("uid").and_then(Value::as_str).unwrap_or_default();
            let data: Vec<Value> = alert
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|query| {
                    json!({
                        "ref_id": query.get("refId"),
                        "datasource_uid": query.get("datasourceUid"),
                        "query_type": query.get("queryType").and_then(Value::as_str).unwrap_or_default(),
                        "relative_time_range": {
                            "from": seconds(query.pointer("/relativeTimeRange/from")).unwrap_or(0),
                            "to": seconds(query.pointer("/relativeTimeRange/to")).unwrap_or(0),
                        },
                        "model": query.get("model"),
                    })
                })
                .collect();
            json!({
                "id": uid_to_key.get(uid).copied().unwrap_or(title),
                "title": title,
                "condition": alert.get("condition"),
                "for": canonical_duration(rule.get("for")),
                "no_data_state": alert.get("no_data_state"),
                "exec_err_state": alert.get("exec_err_state"),
                "labels": string_map(rule.get("labels")),
                "annotations": string_map(rule.get("annotations")),
                "data": data,
            })
        })
        .collect();
    json!({
        "folder_uid": remote.fields.get("folder_uid"),
        "name": remote.fields.get("name"),
        "interval": canonical_duration(remote.fields.get("interval")),
        "rules": rules,
    })
}

#[async_trait]
impl mac_core::legacy::LegacyHandler for AlertGroupHandler {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        let mut errors = validate_group(fields).err().unwrap_or_default();
        errors.extend(crate::owner::reserved_rule_annotation(fields));
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn validate_together(&self, definitions: &[(&ObjectId, &Fields)]) -> Vec<(usize, FieldError)> {
        rule_titles_unique_per_folder(definitions)
    }

    fn references(&self, fields: &Fields) -> Vec<(String, LocalRef)> {
        folder_references(fields)
    }

    /// `datasource = { name = "…" }` names a data source; one defined in the project is
    /// referred to by its uid (the loader turns the name into a reference).
    fn key_references(&self, fields: &Fields) -> Vec<KeyReference> {
        let mut found = Vec::new();
        for (index, rule) in fields.get("rules").and_then(Value::as_array).into_iter().flatten().enumerate() {
            for (position, query) in rule.get("data").and_then(Value::as_array).into_iter().flatten().enumerate() {
                if let Some(name) = query.pointer("/datasource/name").and_then(Value::as_str) {
                    found.push(KeyReference {
                        pointer: format!("/rules/{index}/data/{position}/datasource"),
                        kind: "datasource".to_owned(),
                        key_field: "name".to_owned(),
                        key: name.to_owned(),
                        value_field: Some("uid".to_owned()),
                    });
                }
            }
        }
        found
    }

    fn adoption_key(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Option<String> {
        let folder_uid = match folder_of(&desired.fields)? {
            FolderRef::Uid(uid) => uid,
            FolderRef::Local(local_id) => match refs.resolve(&LocalRef::new("folder", &local_id))? {
                Resolved::Known(folder) => folder.remote_id.clone(),
                Resolved::Pending => return None,
            },
        };
        Some(format!("{folder_uid}/{}", group_name(desired)))
    }

    fn desired(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<Value, FieldError> {
        comparable(desired, refs, self.cached_datasources().as_ref()).map(without_defaults)
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        without_defaults(crate::owner::hide_rule_markers(observed_comparable(remote)))
    }

    fn owner(&self, remote: &RemoteObject) -> Option<String> {
        crate::owner::group_owner(remote)
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        let field = |key: &str| remote.fields.get(key).and_then(Value::as_str).unwrap_or_default();
        let rules = remote.fields.get("rules").and_then(Value::as_array).map_or(0, Vec::len);
        format!(
            "rule group {:?} in folder {:?}, {rules} rule{}",
            field("name"),
            field("folder_title"),
            if rules == 1 { "" } else { "s" }
        )
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        match path {
            "/rules" => Some("id"),
            "/rules/*/data" => Some("ref_id"),
            _ => None,
        }
    }

    fn import(&self, remote: &RemoteObject, refs: &dyn mac_core::ImportRefs) -> Option<mac_core::ImportedFields> {
        let remote = &crate::owner::without_rule_markers(remote);
        let folder_uid = remote.fields.get("folder_uid")?.as_str()?;
        let folder_title = remote.fields.get("folder_title").and_then(Value::as_str).unwrap_or_default();
        let name = remote.fields.get("name")?.as_str()?;
        let (folder, file) = match refs.local_id("folder", folder_uid) {
            Some(local_id) => (json!(local_id), local_id.to_owned()),
            None => (json!({ "uid": folder_uid }), crate::slug(folder_title)),
        };
        let names: HashMap<String, String> = match self.cached_datasources() {
            Some(Ok(by_name)) => by_name.into_iter().map(|(name, uid)| (uid, name)).collect(),
            _ => HashMap::new(),
        };
        let mut part_ids = BTreeMap::new();
        let mut rules = Vec::new();
        for rule in remote.fields.get("rules").and_then(Value::as_array).into_iter().flatten() {
            let alert = rule.get("grafana_alert")?;
            let title = alert.get("title")?.as_str()?;
            if let Some(uid) = alert.get("uid").and_then(Value::as_str) {
                part_ids.insert(title.to_owned(), uid.to_owned());
            }
            let mut imported = Map::new();
            imported.insert("title".to_owned(), json!(title));
            imported.insert("condition".to_owned(), alert.get("condition").cloned().unwrap_or_default());
            let for_ = canonical_duration(rule.get("for"));
            if for_ != json!("0s") {
                imported.insert("for".to_owned(), for_);
            }
            for (field, default) in
                [("no_data_state", DEFAULT_NO_DATA_STATE), ("exec_err_state", DEFAULT_EXEC_ERR_STATE)]
            {
                if let Some(state) = alert.get(field).and_then(Value::as_str).filter(|state| *state != default) {
                    imported.insert(field.to_owned(), json!(state));
                }
            }
            for field in ["labels", "annotations"] {
                if let Some(map) = rule.get(field).and_then(Value::as_object).filter(|map| !map.is_empty()) {
                    imported.insert(field.to_owned(), Value::Object(map.clone()));
                }
            }
            let mut data = Vec::new();
            for query in alert.get("data").and_then(Value::as_array).into_iter().flatten() {
                let uid = query.get("datasourceUid").and_then(Value::as_str).unwrap_or_default();
                let mut item = Map::new();
                item.insert("ref_id".to_owned(), query.get("refId").cloned().unwrap_or_default());
                // A data source imported or managed too is referred to as such; one that is
                // not (provisioned by Grafana's files, say) by its name, else its uid.
                item.insert(
                    "datasource".to_owned(),
                    match (refs.local_id("datasource", uid), names.get(uid)) {
                        (Some(local_id), _) => json!({ "ref": format!("datasource.{local_id}"), "field": "uid" }),
                        (None, Some(name)) => json!({ "name": name }),
                        (None, None) => json!(uid),
                    },
                );
                let expression = EXPRESSION_UIDS.contains(&uid);
                let from = seconds(query.pointer("/relativeTimeRange/from")).unwrap_or(0);
                let to = seconds(query.pointer("/relativeTimeRange/to")).unwrap_or(0);
                if (from, to) != if expression { (0, 0) } else { (600, 0) } {
                    let as_duration = |seconds: i64| json!(duration::format(seconds.max(0) as u64 * 1000));
                    item.insert(
                        "relative_time_range".to_owned(),
                        json!({ "from": as_duration(from), "to": as_duration(to) }),
                    );
                }
                let mut model = query.get("model").and_then(Value::as_object).cloned().unwrap_or_default();
                // Grafana adds these when missing; mac does the same when comparing.
                if model.get("intervalMs") == Some(&json!(1000)) {
                    model.remove("intervalMs");
                }
                if model.get("maxDataPoints") == Some(&json!(43200)) {
                    model.remove("maxDataPoints");
                }
                let query_type = query.get("queryType").and_then(Value::as_str).unwrap_or_default();
                if !query_type.is_empty() && model.get("queryType").and_then(Value::as_str) != Some(query_type) {
                    item.insert("query_type".to_owned(), json!(query_type));
                }
                item.insert("model".to_owned(), Value::Object(model));
                data.push(Value::Object(item));
            }
            imported.insert("data".to_owned(), Value::Array(data));
            rules.push(Value::Object(imported));
        }
        let mut fields = Map::new();
        fields.insert("folder".to_owned(), folder);
        fields.insert("name".to_owned(), json!(name));
        fields.insert("interval".to_owned(), canonical_duration(remote.fields.get("interval")));
        fields.insert("rules".to_owned(), Value::Array(rules));
        Some(mac_core::ImportedFields {
            local_id: format!("{}-{}", crate::slug(folder_title), crate::slug(name)),
            fields,
            file,
            scope: Some(folder_title.to_owned()),
            part_ids,
        })
    }

    fn relations(&self) -> Vec<(mac_core::Relation, &'static str)> {
        vec![(mac_core::Relation::LivesIn, "folder"), (mac_core::Relation::Uses, "datasource")]
    }

    fn links(&self, remote: &RemoteObject) -> mac_core::Links {
        crate::links::alert_group(remote)
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        // One request for every rule of every folder (API.md §3.5), and one for data source
        // names: the cost of a plan does not grow with the number of rules.
        let (rules, datasources) = tokio::join!(self.client.get(&RULER, &[]), self.load_datasources());
        *self.datasources.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(datasources);
        let mut groups = Vec::new();
        for (folder_title, folder_groups) in rules?.body.as_object().into_iter().flatten() {
            for group in folder_groups.as_array().into_iter().flatten() {
                let folder_uid = group
                    .get("rules")
                    .and_then(Value::as_array)
                    .and_then(|rules| rules.first())
                    .and_then(|rule| rule.pointer("/grafana_alert/namespace_uid"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                groups.push(group_object(folder_uid, folder_title, group));
            }
        }
        Ok(groups)
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
        let name = current.fields.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let folder_uid = current.fields.get("folder_uid").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut title = current.fields.get("folder_title").and_then(Value::as_str).unwrap_or_default().to_owned();
        // The folder may have been renamed since the plan read it, and another folder may
        // now have its old title (even one made in this apply, for a group moving there):
        // the ruler API addresses folders by title and answers 202 when nothing matched, so
        // a stale title would delete another folder's group. Find the title by uid first.
        match self.client.get(&["api", "folders", &folder_uid], &[]).await {
            Ok(folder) => {
                if let Some(current_title) = folder.body.get("title").and_then(Value::as_str) {
                    title = current_title.to_owned();
                }
            }
            // The folder is gone, and its rules with it.
            Err(err) if err.kind == HandlerErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        }
        match self.client.send(Method::DELETE, self.client.url(&ruler_path(&[&title, &name]), &[]), None).await {
            Ok(_) => Ok(()),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    }

    fn rule_view(&self) -> Option<&dyn mac_core::rules::RuleView> {
        Some(&crate::rule_view::AlertGroupRules)
    }
}

/// Checks a group as Grafana 8.5 would (api/api_ruler_validation.go), before any request.
/// Grafana 8.5.4 keeps rule titles unique in a folder across its groups (a unique index on
/// org, namespace uid and title: pkg/services/sqlstore/migrations/ualert/tables.go:208) and
/// answers a clash with a 500 at apply; `validate_group` checks titles within one group.
fn rule_titles_unique_per_folder(definitions: &[(&ObjectId, &Fields)]) -> Vec<(usize, FieldError)> {
    let mut first_use: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut errors = Vec::new();
    for (index, (_, fields)) in definitions.iter().enumerate() {
        let folder = match folder_of(fields) {
            Some(FolderRef::Local(local_id)) => format!("local {local_id}"),
            Some(FolderRef::Uid(uid)) => format!("uid {uid}"),
            None => continue,
        };
        let rules = fields.get("rules").and_then(Value::as_array);
        for (rule_index, rule) in rules.into_iter().flatten().enumerate() {
            let Some(title) = rule.get("title").and_then(Value::as_str) else { continue };
            match first_use.get(&(folder.clone(), title.to_owned())) {
                Some(other) if *other != index => errors.push((
                    index,
                    FieldError::at(
                        format!("/rules/{rule_index}/title"),
                        format!(
                            "rule title `{title}` is also used by `{}` in the same folder: Grafana requires unique \
                             rule titles in a folder, across its groups",
                            definitions[*other].0
                        ),
                    ),
                )),
                // Within one group, `validate_group` reports it at both places.
                Some(_) => {}
                None => {
                    first_use.insert((folder.clone(), title.to_owned()), index);
                }
            }
        }
    }
    errors
}

fn validate_group(fields: &Fields) -> Result<(), Vec<FieldError>> {
    const GROUP_KEYS: [&str; 4] = ["folder", "name", "interval", "rules"];
    const RULE_KEYS: [&str; 9] =
        ["id", "title", "condition", "data", "for", "no_data_state", "exec_err_state", "labels", "annotations"];
    const QUERY_KEYS: [&str; 5] = ["ref_id", "datasource", "relative_time_range", "query_type", "model"];
    let mut errors = Vec::new();
    checks::unknown_keys(fields, "", &GROUP_KEYS, &mut errors);
    match fields.get("folder") {
        Some(Value::String(local_id)) if !local_id.is_empty() => {}
        Some(Value::Object(table))
            if table.len() == 1 && table.get("uid").and_then(Value::as_str).is_some_and(crate::folder::valid_uid) => {}
        _ => errors.push(FieldError::at(
            "/folder",
            "`folder` must be the id of a folder defined here, or { uid = \"…\" } of one that is not",
        )),
    }
    match fields.get("name") {
        None => {}
        Some(Value::String(name)) if !name.is_empty() && name.len() <= 190 => {}
        Some(_) => errors.push(FieldError::at("/name", "`name` must be a string of 1 to 190 characters")),
    }
    if let Some(interval) = fields.get("interval") {
        match interval.as_str().and_then(duration::parse) {
            Some(milliseconds) if milliseconds > 0 && milliseconds.is_multiple_of(10_000) => {}
            _ => errors.push(FieldError::at(
                "/interval",
                "`interval` must be a duration that is a positive multiple of 10s, such as \"1m\" (Grafana's base interval is 10s)",
            )),
        }
    }
    let rules = match fields.get("rules") {
        Some(Value::Array(rules)) if !rules.is_empty() => rules.as_slice(),
        _ => {
            errors.push(FieldError::at("/rules", "a group needs at least one rule ([[…alert_group.rules]] tables)"));
            &[]
        }
    };
    let mut titles: BTreeMap<String, usize> = BTreeMap::new();
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for (index, rule) in rules.iter().enumerate() {
        let at = |field: &str| format!("/rules/{index}{field}");
        let Some(rule) = rule.as_object() else {
            errors.push(FieldError::at(at(""), "a rule must be a table"));
            continue;
        };
        checks::unknown_keys(rule, &at(""), &RULE_KEYS, &mut errors);
        let title = match rule.get("title").and_then(Value::as_str) {
            Some(title) if !title.trim().is_empty() && title.len() <= 190 => title,
            _ => {
                errors.push(FieldError::at(at("/title"), "`title` must be a string of 1 to 190 characters"));
                ""
            }
        };
        if let Some(first) = titles.get(title) {
            errors.push(
                FieldError::at(
                    at("/title"),
                    format!(
                        "rule title `{title}` is used twice in this group; Grafana requires unique titles in a folder"
                    ),
                )
                .duplicating(format!("/rules/{first}/title")),
            );
        } else {
            titles.insert(title.to_owned(), index);
        }
        let key = rule.get("id").and_then(Value::as_str).unwrap_or(title).to_owned();
        if let Some(first) = keys.get(&key).copied()
            && rule.get("id").is_some()
        {
            let first_field =
                if rules.get(first).and_then(|first: &Value| first.get("id")).is_some() { "id" } else { "title" };
            errors.push(
                FieldError::at(at("/id"), format!("rule id `{key}` is used twice in this group"))
                    .duplicating(format!("/rules/{first}/{first_field}")),
            );
        } else {
            keys.entry(key).or_insert(index);
        }
        for (field, allowed) in
            [("no_data_state", NO_DATA_STATES.as_slice()), ("exec_err_state", EXEC_ERR_STATES.as_slice())]
        {
            if let Some(value) = rule.get(field)
                && !value.as_str().is_some_and(|state| allowed.contains(&state))
            {
                errors.push(FieldError::at(
                    at(&format!("/{field}")),
                    format!("`{field}` must be one of {}", allowed.join(", ")),
                ));
            }
        }
        if let Some(value) = rule.get("for")
            && value.as_str().and_then(duration::parse).is_none()
        {
            errors.push(FieldError::at(at("/for"), "`for` must be a duration such as \"5m\""));
        }
        for field in ["labels", "annotations"] {
            if let Some(value) = rule.get(field)
                && !value.as_object().is_some_and(|map| map.values().all(Value::is_string))
            {
                errors.push(FieldError::at(at(&format!("/{field}")), format!("`{field}` must be a table of strings")));
            }
        }
        let annotations = rule.get("annotations").and_then(Value::as_object);
        let has = |key: &str| annotations.is_some_and(|map| map.contains_key(key));
        if has("__dashboardUid__") != has("__panelId__") {
            errors.push(FieldError::at(at("/annotations"), "annotations __dashboardUid__ and __panelId__ go together"));
        }
        let data = match rule.get("data") {
            Some(Value::Array(data)) if !data.is_empty() => data.as_slice(),
            _ => {
                errors.push(FieldError::at(at("/data"), "a rule needs at least one query or expression in `data`"));
                &[]
            }
        };
        let mut ref_ids = Vec::new();
        for (position, query) in data.iter().enumerate() {
            let at = |field: &str| format!("/rules/{index}/data/{position}{field}");
            let Some(query) = query.as_object() else {
                errors.push(FieldError::at(at(""), "a query must be a table"));
                continue;
            };
            checks::unknown_keys(query, &at(""), &QUERY_KEYS, &mut errors);
            match query.get("ref_id").and_then(Value::as_str) {
                Some(ref_id) if !ref_id.is_empty() => {
                    if ref_ids.contains(&ref_id) {
                        errors.push(FieldError::at(
                            at("/ref_id"),
                            format!("ref_id `{ref_id}` is used twice in this rule"),
                        ));
                    }
                    ref_ids.push(ref_id);
                }
                _ => errors.push(FieldError::at(at("/ref_id"), "`ref_id` must be a non-empty string such as \"A\"")),
            }
            match query.get("datasource") {
                Some(Value::String(uid)) if !uid.is_empty() => {}
                Some(Value::Object(table))
                    if table.len() == 1 && table.get("name").and_then(Value::as_str).is_some() => {}
                // A generic reference, resolved by the engine.
                Some(Value::Object(table)) if table.contains_key("ref") => {}
                _ => errors.push(FieldError::at(
                    at("/datasource"),
                    "`datasource` must be a data source uid, \"__expr__\" for expressions, or { name = \"…\" }",
                )),
            }
            if let Some(range) = query.get("relative_time_range") {
                let valid = range.as_object().is_some_and(|range| {
                    range.keys().all(|key| key == "from" || key == "to")
                        && ["from", "to"]
                            .iter()
                            .all(|key| range.get(*key).is_none_or(|value| seconds(Some(value)).is_some()))
                });
                if !valid {
                    errors.push(FieldError::at(
                        at("/relative_time_range"),
                        "`relative_time_range` must be { from = \"10m\", to = \"0s\" } (durations or seconds)",
                    ));
                }
            }
            if query.get("model").is_some_and(|model| !model.is_object()) {
                errors.push(FieldError::at(at("/model"), "`model` must be a table"));
            }
        }
        check_expression_inputs(index, data, &ref_ids, &mut errors);
        match rule.get("condition").and_then(Value::as_str) {
            Some(condition) if ref_ids.contains(&condition) => {}
            Some(condition) => errors.push(FieldError::at(
                at("/condition"),
                format!("condition `{condition}` is not the ref_id of any query of this rule ({})", ref_ids.join(", ")),
            )),
            None => errors.push(FieldError::at(
                at("/condition"),
                "`condition` must name the ref_id whose result fires the alert",
            )),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// The expression types of Grafana 8.5.4 (pkg/expr/commands.go:296-310 `ParseCommandType`).
const EXPRESSION_TYPES: [&str; 4] = ["math", "reduce", "resample", "classic_conditions"];

/// Checks the inputs of each server-side expression of a rule as Grafana 8.5.4 builds its
/// evaluation graph (pkg/expr/graph.go:171-212 `buildGraphEdges`): every ref_id an expression
/// needs must be a query or expression of the rule ("unable to find dependent node"), not
/// itself, and a classic condition takes only data source queries. Grafana accepts such a
/// rule when it is saved and fails every evaluation of it, so mac refuses it before.
fn check_expression_inputs(index: usize, data: &[Value], ref_ids: &[&str], errors: &mut Vec<FieldError>) {
    let is_expression = |query: &Value| {
        query.get("datasource").and_then(Value::as_str).is_some_and(|uid| EXPRESSION_UIDS.contains(&uid))
    };
    let expressions: Vec<&str> = data
        .iter()
        .filter(|query| is_expression(query))
        .filter_map(|query| query.get("ref_id").and_then(Value::as_str))
        .collect();
    for (position, query) in data.iter().enumerate() {
        if !is_expression(query) {
            continue;
        }
        let at = |field: &str| format!("/rules/{index}/data/{position}/model{field}");
        let own = query.get("ref_id").and_then(Value::as_str).unwrap_or_default();
        let Some(model) = query.get("model").and_then(Value::as_object) else { continue };
        let kind = match model.get("type").and_then(Value::as_str) {
            Some(kind) if EXPRESSION_TYPES.contains(&kind) => kind,
            // nodes.go:99-103: "invalid expression command type".
            Some(kind) => {
                errors.push(FieldError::at(
                    at("/type"),
                    format!(
                        "`{kind}` is not an expression type of Grafana 8.5{} (the types: {})",
                        mac_core::suggest::hint(kind, EXPRESSION_TYPES),
                        EXPRESSION_TYPES.join(", ")
                    ),
                ));
                continue;
            }
            None => {
                errors.push(FieldError::at(
                    at("/type"),
                    format!("an expression needs `type` in its model (one of {})", EXPRESSION_TYPES.join(", ")),
                ));
                continue;
            }
        };
        // Each input: where it is written and the ref_id it names.
        let inputs: Vec<(String, String)> = match kind {
            // commands.go:41-63: the variables of the math expression, `$A` or `${A}`.
            "math" => match model.get("expression").and_then(Value::as_str) {
                Some(expression) => {
                    math_variables(expression).into_iter().map(|name| (at("/expression"), name)).collect()
                }
                None => Vec::new(),
            },
            // commands.go:95-104 and 199-209: `expression` names the input, `$` optional.
            "reduce" | "resample" => match model.get("expression").and_then(Value::as_str) {
                Some(expression) => vec![(at("/expression"), expression.trim_start_matches('$').to_owned())],
                None => Vec::new(),
            },
            // classic/classic.go:179-205: each condition's `query.params[0]`.
            _ => model
                .get("conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .filter_map(|(condition, value)| {
                    let name = value.pointer("/query/params/0")?.as_str()?;
                    Some((at(&format!("/conditions/{condition}/query/params/0")), name.to_owned()))
                })
                .collect(),
        };
        for (pointer, name) in inputs {
            if name == own {
                // graph.go:191-193.
                errors.push(FieldError::at(pointer, format!("expression `{own}` cannot take itself as input")));
            } else if !ref_ids.contains(&name.as_str()) {
                // graph.go:185-189.
                errors.push(FieldError::at(
                    pointer,
                    format!(
                        "`{name}` is not the ref_id of any query or expression of this rule{} (its ref_ids: {}); \
                         Grafana would fail every evaluation of it (unable to find dependent node)",
                        mac_core::suggest::hint(&name, ref_ids.iter().copied()),
                        ref_ids.join(", "),
                    ),
                ));
            } else if kind == "classic_conditions" && expressions.contains(&name.as_str()) {
                // graph.go:195-199.
                errors.push(FieldError::at(
                    pointer,
                    format!("a classic condition takes only data source queries, and `{name}` is an expression"),
                ));
            }
        }
    }
}

/// The variables a math expression reads (pkg/expr/mathexp/parse/lex.go:289-324 `lexVar`,
/// parse.go:300-305 `Var`): `$` then letters, digits and `_`, or `${…}`; none inside strings.
fn math_variables(expression: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut chars = expression.chars().peekable();
    let is_varchar = |c: char| c == '_' || c.is_alphanumeric();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for inner in chars.by_ref() {
                    if inner == '"' {
                        break;
                    }
                }
            }
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|inner| *inner != '}').collect();
                if !name.is_empty() {
                    names.push(name);
                }
            }
            '$' => {
                let mut name = String::new();
                while let Some(next) = chars.peek().copied().filter(|next| is_varchar(*next)) {
                    name.push(next);
                    chars.next();
                }
                if !name.is_empty() {
                    names.push(name);
                }
            }
            _ => {}
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoRefs;
    impl Resolver for NoRefs {
        fn resolve(&self, _: &LocalRef) -> Option<Resolved<'_>> {
            None
        }
    }

    fn desired(value: Value) -> DesiredObject {
        DesiredObject {
            id: mac_core::ObjectId::new("grafana8", "alert_group", "g"),
            fields: value.as_object().cloned().unwrap_or_default(),
        }
    }

    fn group() -> Value {
        json!({
            "folder": { "uid": "f1" },
            "name": "HTTP",
            "interval": "60s",
            "rules": [{
                "title": "High 5xx",
                "condition": "B",
                "for": "300s",
                "labels": { "severity": "page" },
                "data": [
                    { "ref_id": "A", "datasource": "prom", "model": { "expr": "rate(x[5m])" } },
                    { "ref_id": "B", "datasource": "__expr__", "model": { "type": "math", "expression": "$A > 1" } },
                ],
            }],
        })
    }

    #[test]
    fn desired_matches_what_grafana_reads_back() {
        let wanted = comparable(&desired(group()), &NoRefs, None).expect("comparable");
        let stored = json!({
            "name": "HTTP",
            "interval": "1m",
            "folder_uid": "f1",
            "rules": [{
                "expr": "",
                "for": "5m",
                "labels": { "severity": "page" },
                "grafana_alert": {
                    "id": 1, "orgId": 1, "uid": "abc", "title": "High 5xx", "condition": "B", "version": 1,
                    "namespace_uid": "f1", "namespace_id": 1, "rule_group": "HTTP", "intervalSeconds": 60,
                    "updated": "2026-01-01T00:00:00Z", "no_data_state": "NoData", "exec_err_state": "Alerting",
                    "data": [
                        { "refId": "A", "queryType": "", "relativeTimeRange": { "from": 600, "to": 0 }, "datasourceUid": "prom",
                          "model": { "expr": "rate(x[5m])", "intervalMs": 1000, "maxDataPoints": 43200 } },
                        { "refId": "B", "queryType": "", "relativeTimeRange": { "from": 0, "to": 0 }, "datasourceUid": "__expr__",
                          "model": { "expression": "$A > 1", "intervalMs": 1000, "maxDataPoints": 43200, "type": "math" } },
                    ],
                },
            }],
        });
        let remote = RemoteObject { remote_id: "f1/HTTP".into(), fields: stored, ..RemoteObject::default() };
        let changes = mac_core::diff::diff(&observed_comparable(&remote), &wanted, &|path| match path {
            "/rules" => Some("id"),
            "/rules/*/data" => Some("ref_id"),
            _ => None,
        });
        assert!(changes.is_empty(), "{changes:#?}");
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut bad = group();
        bad["interval"] = json!("15s");
        bad["rules"][0]["condition"] = json!("C");
        bad["rules"][0]["no_data_state"] = json!("Nope");
        bad["rules"][0]["data"][0]["datasource"] = json!(5);
        bad["rules"][0]["colour"] = json!("red");
        let errors = validate_group(bad.as_object().expect("object")).expect_err("invalid");
        let pointers: Vec<&str> = errors.iter().map(|error| error.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/interval",
                "/rules/0/colour",
                "/rules/0/no_data_state",
                "/rules/0/data/0/datasource",
                "/rules/0/condition"
            ]
        );
        assert!(validate_group(group().as_object().expect("object")).is_ok());
    }

    #[test]
    fn grafana_errors_point_at_their_rule() {
        let rules = vec![json!({ "title": "a" }), json!({ "title": "High 5xx" })];
        let error = HandlerError::new(HandlerErrorKind::Invalid, "invalid rule specification at index [1]: bad");
        assert_eq!(locate_rule_error(error, &rules).pointer.as_deref(), Some("/rules/1"));
        let error =
            HandlerError::new(HandlerErrorKind::Invalid, "failed to validate condition of alert rule High 5xx: x");
        assert_eq!(locate_rule_error(error, &rules).pointer.as_deref(), Some("/rules/1"));
    }

    #[test]
    fn uids_follow_keys_then_titles_and_are_never_reused() {
        let current = RemoteObject {
            remote_id: "f/g".into(),
            fields: json!({ "rules": [
                { "grafana_alert": { "uid": "u1", "title": "Old name" } },
                { "grafana_alert": { "uid": "u2", "title": "Other" } },
            ]}),
            part_ids: BTreeMap::from([("errors".to_owned(), "u1".to_owned())]),
            ..RemoteObject::default()
        };
        let rules = vec![
            json!({ "id": "errors", "title": "New name" }),
            json!({ "id": "Other", "title": "Other" }),
            json!({ "id": "New", "title": "New" }),
        ];
        assert_eq!(assign_uids(&current, &rules), [Some("u1".into()), Some("u2".into()), None]);
    }
}
