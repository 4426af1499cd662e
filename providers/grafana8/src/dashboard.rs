//! `dashboard`: a Grafana dashboard (API.md §7), from inline TOML or from a JSON file
//! exported from Grafana (`json = { file = "dashboards/x.json" }`, relative to the project).
//!
//! Compared at the panel level: panels (and the panels of collapsed rows) are matched by
//! their `id`, queries by `refId`, template variables and annotations by `name`, so a
//! changed threshold in panel 3 shows as `dashboard.panels[id=3].…`. Grafana's `id`,
//! `version` and the frontend's `iteration` are never compared; absent, `null` and empty
//! values are the same.
//!
//! A plan reads `⌈dashboards/1000⌉` search pages and then one GET per dashboard (8.5 has no
//! bulk read of dashboard JSON; the GETs run 8 at a time). A write is one POST with the
//! version read at plan time, so a dashboard saved by someone since the plan is refused
//! (412) rather than overwritten.

#[allow(unused_imports)] // TEMPORARY (issue 17): until this kind is typed.
use mac_core::legacy::LegacyHandler as _;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    DesiredObject, FieldError, Fields, Handler, HandlerError, HandlerErrorKind, LocalRef, RemoteObject, Resolved,
    Resolver, async_trait,
};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::folder_ref::{FolderRef, folder_of};

/// Hits per search request (Grafana's default limit; the maximum is 5000).
const PAGE_SIZE: usize = 1000;
/// Dashboard reads in flight at once while listing.
const CONCURRENCY: usize = 8;
/// Keys of the dashboard model that Grafana (or its frontend) sets and mac never compares.
const SERVER_KEYS: [&str; 3] = ["id", "version", "iteration"];
/// Keys of an export "for sharing externally" that are not part of the dashboard.
const EXPORT_KEYS: [&str; 2] = ["__requires", "__elements"];

#[derive(Debug)]
pub struct DashboardHandler {
    client: Arc<Client>,
    project_root: PathBuf,
    /// JSON files read so far this run (path → parsed object or the reason it is unusable),
    /// so that validation, plan and apply of one run see the same content.
    files: Mutex<HashMap<String, Result<Value, String>>>,
    /// The project whose owner marker every written dashboard carries (`crate::owner`).
    project: Option<String>,
}

impl DashboardHandler {
    pub fn new(client: Arc<Client>, project_root: PathBuf) -> DashboardHandler {
        DashboardHandler { client, project_root, files: Mutex::new(HashMap::new()), project: None }
    }

    /// Marks every dashboard written from now on as managed by `project`.
    pub fn with_project(mut self, project: Option<String>) -> DashboardHandler {
        self.project = project;
        self
    }

    /// The dashboard model a definition gives, before normalisation, or an error at its field.
    fn model(&self, fields: &Fields) -> Result<Map<String, Value>, FieldError> {
        let json = fields.get("json").ok_or_else(|| {
            FieldError::at(
                "",
                "`json` is missing: the dashboard as a table (json = { title = \"…\", panels = […] }), or json = { file = \"dashboards/x.json\" }",
            )
        })?;
        let Value::Object(table) = json else {
            return Err(FieldError::at("/json", "`json` must be a table, or { file = \"dashboards/x.json\" }"));
        };
        match file_reference(table) {
            // Read and parsed by the loader (see `file_fields`): the content is the definition's.
            Some(path) if table.contains_key("content") => {
                match dashboard_from_file(path, table.get("content").cloned().unwrap_or_default()) {
                    Ok(Value::Object(model)) => Ok(model),
                    Ok(_) => Err(FieldError::at("/json/file", format!("{path} does not hold a JSON object"))),
                    Err(message) => Err(FieldError::at("/json/file", message)),
                }
            }
            Some(path) => {
                let mut files = self.files.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let loaded =
                    files.entry(path.to_owned()).or_insert_with(|| read_dashboard_file(&self.project_root, path));
                match loaded {
                    Ok(Value::Object(model)) => Ok(model.clone()),
                    Ok(_) => Err(FieldError::at("/json/file", format!("{path} does not hold a JSON object"))),
                    Err(message) => Err(FieldError::at("/json/file", message.clone())),
                }
            }
            None => Ok(table.clone()),
        }
    }

    /// The dashboard as it is to be written: the model with mac's uid and title, without the
    /// server's keys.
    fn to_write(&self, desired: &DesiredObject) -> Result<Map<String, Value>, FieldError> {
        let mut model = self.model(&desired.fields)?;
        for key in SERVER_KEYS.iter().chain(EXPORT_KEYS.iter()) {
            model.remove(*key);
        }
        if model.get("__inputs").and_then(Value::as_array).is_some_and(Vec::is_empty) {
            model.remove("__inputs");
        }
        model.insert("uid".to_owned(), json!(uid(&desired.id.local_id, &desired.fields, &model)));
        if let Some(title) = desired.fields.get("title").and_then(Value::as_str) {
            model.insert("title".to_owned(), json!(title));
        }
        if let Some(Value::String(title)) = model.get("title") {
            let trimmed = title.trim().to_owned();
            model.insert("title".to_owned(), json!(trimmed));
        }
        Ok(model)
    }

    async fn get(&self, uid: &str) -> Result<Option<Value>, HandlerError> {
        match self.client.get(&["api", "dashboards", "uid", uid], &[]).await {
            Ok(answer) => Ok(Some(answer.body)),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The folder uid to write into (`""` is General).
    async fn target_folder(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<String, HandlerError> {
        match folder_of(&desired.fields) {
            None => Ok(String::new()),
            Some(FolderRef::Uid(uid)) => Ok(uid),
            Some(FolderRef::Local(local_id)) => match refs.resolve(&LocalRef::new("folder", &local_id)) {
                Some(Resolved::Known(folder)) => Ok(folder.remote_id.clone()),
                _ => {
                    Err(HandlerError::new(HandlerErrorKind::Other, format!("folder `{local_id}` has not been created"))
                        .at("/folder"))
                }
            },
        }
    }

    /// One POST of the whole dashboard (API.md §7.1). `existing` is the (id, version) to
    /// update; without it the dashboard is new.
    async fn post(
        &self,
        desired: &DesiredObject,
        refs: &dyn Resolver,
        existing: Option<(i64, i64)>,
    ) -> Result<RemoteObject, HandlerError> {
        let mut model = self.to_write(desired).map_err(field_error)?;
        crate::owner::mark_dashboard(&mut model, self.project.as_deref());
        let folder_uid = self.target_folder(desired, refs).await?;
        if let Some((id, version)) = existing {
            // The id keeps the dashboard's identity even when its uid changes in code.
            model.insert("id".to_owned(), json!(id));
            model.insert("version".to_owned(), json!(version));
        }
        let body = json!({
            "dashboard": model,
            "folderUid": folder_uid,
            "overwrite": false,
            "message": "mac",
        });
        let answer = self
            .client
            .send(Method::POST, self.client.url(&["api", "dashboards", "db"], &[]), Some(&body))
            .await
            .map_err(|err| locate(err, desired))?;
        let mut stored = model;
        stored.insert("id".to_owned(), answer.body.get("id").cloned().unwrap_or_default());
        stored.insert("uid".to_owned(), answer.body.get("uid").cloned().unwrap_or_default());
        let version = answer.body.get("version").cloned().unwrap_or_default();
        stored.insert("version".to_owned(), version.clone());
        Ok(dashboard_object(&Value::Object(stored), &folder_uid, version))
    }
}

/// Where Grafana's refusal belongs in the definition.
fn locate(error: HandlerError, desired: &DesiredObject) -> HandlerError {
    let message = error.message.clone();
    let error = if error.kind == HandlerErrorKind::Conflict && message.contains("has been changed by someone else") {
        HandlerError::new(
            HandlerErrorKind::Conflict,
            format!("{message}: the dashboard was saved since the plan read it; plan again to see the change"),
        )
    } else {
        error
    };
    if message.contains("title") || message.contains("name") {
        let pointer = if desired.fields.contains_key("title") { "/title" } else { "/json" };
        return error.at(pointer);
    }
    if message.contains("Folder") {
        return error.at("/folder");
    }
    error.at("/json")
}

fn field_error(error: FieldError) -> HandlerError {
    HandlerError::new(HandlerErrorKind::Invalid, error.message).at(error.pointer)
}

/// `{ file = "…" }`: the path of a JSON file (with its parsed `content` once the loader read it).
fn file_reference(table: &Map<String, Value>) -> Option<&str> {
    if table.keys().any(|key| key != "file" && key != "content") {
        return None;
    }
    table.get("file").and_then(Value::as_str)
}

/// Reads a dashboard exported from Grafana: the model itself ("Export → Save to file"), or
/// the answer of `GET /api/dashboards/uid/…` (`{ "dashboard": …, "meta": … }`).
fn read_dashboard_file(root: &Path, relative: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(root.join(relative)).map_err(|err| format!("cannot read {relative}: {err}"))?;
    let parsed: Value = serde_json::from_str(&text).map_err(|err| format!("{relative} is not valid JSON: {err}"))?;
    dashboard_from_file(relative, parsed)
}

/// The dashboard model in a file's JSON: the model itself, or unwrapped from an API answer;
/// an export for sharing externally is refused.
fn dashboard_from_file(relative: &str, parsed: Value) -> Result<Value, String> {
    let model = match parsed {
        Value::Object(mut object)
            if object.contains_key("meta") && object.get("dashboard").is_some_and(Value::is_object) =>
        {
            object.remove("dashboard").unwrap_or_default()
        }
        other => other,
    };
    if let Some(inputs) = model.get("__inputs").and_then(Value::as_array).filter(|inputs| !inputs.is_empty()) {
        let names: Vec<&str> = inputs.iter().filter_map(|input| input.get("name")?.as_str()).collect();
        return Err(format!(
            "{relative} was exported for sharing externally: it has placeholders (${{{}}}) Grafana fills in only when importing through its UI; export it again without \"Export for sharing externally\"",
            names.join("}, ${")
        ));
    }
    if !model.is_object() {
        return Err(format!("{relative} does not hold a JSON object (a dashboard)"));
    }
    Ok(model)
}

/// The definition's `uid`, else the JSON's, else one derived from the local id.
fn uid(local_id: &str, fields: &Fields, model: &Map<String, Value>) -> String {
    fields
        .get("uid")
        .and_then(Value::as_str)
        .or_else(|| model.get("uid").and_then(Value::as_str).filter(|uid| !uid.is_empty()))
        .map_or_else(|| crate::folder::derived_uid(local_id), str::to_owned)
}

/// A remote dashboard: id its uid; the stored model, its folder and its version.
fn dashboard_object(model: &Value, folder_uid: &str, version: Value) -> RemoteObject {
    let uid = model.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    RemoteObject {
        remote_id: uid.clone(),
        adoption_key: Some(uid),
        fields: json!({ "dashboard": model, "folder_uid": folder_uid, "version": version }),
        part_ids: BTreeMap::new(),
    }
}

/// The answer of `GET /api/dashboards/uid/:uid` as a remote object.
fn from_answer(answer: &Value) -> RemoteObject {
    let model = answer.get("dashboard").cloned().unwrap_or_default();
    let folder_uid = answer.pointer("/meta/folderUid").and_then(Value::as_str).unwrap_or_default();
    let mut object = dashboard_object(&model, folder_uid, answer.pointer("/meta/version").cloned().unwrap_or_default());
    if let Some(title) = answer.pointer("/meta/folderTitle")
        && let Value::Object(fields) = &mut object.fields
    {
        fields.insert("folder_title".to_owned(), title.clone());
    }
    object
}

/// The model without an owner marker, which is never compared (`crate::owner`).
fn unmarked(mut model: Map<String, Value>) -> Map<String, Value> {
    crate::owner::hide_dashboard_marker(&mut model);
    model
}

/// The model in the comparable form: no server keys, no nulls, no empty lists or tables.
fn normalise(model: &Map<String, Value>) -> Value {
    let mut model = model.clone();
    for key in SERVER_KEYS.iter().chain(EXPORT_KEYS.iter()) {
        model.remove(*key);
    }
    if model.get("__inputs").and_then(Value::as_array).is_some_and(Vec::is_empty) {
        model.remove("__inputs");
    }
    prune(Value::Object(model))
}

fn prune(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter().map(|(key, value)| (key, prune(value))).filter(|(_, value)| !is_empty(value)).collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(prune).collect()),
        other => other,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

fn folder_value(folder_uid: &str) -> Value {
    if folder_uid.is_empty() { Value::Null } else { json!(folder_uid) }
}

fn validate_fields(handler: &DashboardHandler, fields: &Fields) -> Result<(), Vec<FieldError>> {
    const KEYS: [&str; 4] = ["folder", "json", "title", "uid"];
    let mut errors = Vec::new();
    for key in fields.keys().filter(|key| !KEYS.contains(&key.as_str())) {
        errors.push(FieldError::at(
            format!("/{key}"),
            format!("unknown field `{key}`, expected one of {}", KEYS.join(", ")),
        ));
    }
    match fields.get("folder") {
        None => {}
        Some(Value::String(local_id)) if !local_id.is_empty() => {}
        Some(Value::Object(table))
            if table.len() == 1 && table.get("uid").and_then(Value::as_str).is_some_and(crate::folder::valid_uid) => {}
        _ => errors.push(FieldError::at(
            "/folder",
            "`folder` must be the id of a folder defined here, or { uid = \"…\" } of one that is not (leave it out for General)",
        )),
    }
    if let Some(uid) = fields.get("uid")
        && !uid.as_str().is_some_and(crate::folder::valid_uid)
    {
        errors.push(FieldError::at("/uid", "a dashboard uid has 1 to 40 characters from a-z, A-Z, 0-9, `-` and `_`"));
    }
    if let Some(title) = fields.get("title")
        && title.as_str().is_none_or(|title| title.trim().is_empty())
    {
        errors.push(FieldError::at("/title", "`title` must be a non-empty string"));
    }
    if let Some(Value::Object(table)) = fields.get("json")
        && table.contains_key("file")
        && file_reference(table).is_none()
    {
        errors.push(FieldError::at("/json/file", "`json = { file = \"dashboards/x.json\" }` takes only a path"));
    }
    match handler.model(fields) {
        Err(error) => errors.push(error),
        Ok(model) => {
            let file = fields.get("json").and_then(Value::as_object).and_then(file_reference);
            let at = if file.is_some() { "/json/file" } else { "/json" };
            let within = file.map(|path| format!(" in {path}")).unwrap_or_default();
            let title = fields.get("title").or_else(|| model.get("title"));
            if !fields.contains_key("title")
                && title.and_then(Value::as_str).is_none_or(|title| title.trim().is_empty())
            {
                errors.push(FieldError::at(
                    at,
                    format!(
                        "the dashboard has no `title`{within}; give it one there, or set `title` in the definition"
                    ),
                ));
            }
            if !fields.contains_key("uid")
                && let Some(uid) = model.get("uid").filter(|uid| !uid.is_null())
                && !uid.as_str().is_some_and(|uid| uid.is_empty() || crate::folder::valid_uid(uid))
            {
                errors.push(FieldError::at(
                    at,
                    format!(
                        "the dashboard's `uid`{within} must have 1 to 40 characters from a-z, A-Z, 0-9, `-` and `_`"
                    ),
                ));
            }
            if let Some(panels) = model.get("panels")
                && !panels.is_array()
            {
                errors.push(FieldError::at(at, format!("the dashboard's `panels`{within} must be a list")));
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

#[async_trait]
impl mac_core::legacy::LegacyHandler for DashboardHandler {
    fn file_fields(&self) -> Vec<&'static str> {
        vec!["/json"]
    }

    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        validate_fields(self, fields)
    }

    fn references(&self, fields: &Fields) -> Vec<(String, LocalRef)> {
        crate::folder_ref::folder_references(fields)
    }

    fn adoption_key(&self, desired: &DesiredObject, _refs: &dyn Resolver) -> Option<String> {
        let model = self.model(&desired.fields).ok()?;
        Some(uid(&desired.id.local_id, &desired.fields, &model))
    }

    fn desired(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<Value, FieldError> {
        let model = self.to_write(desired)?;
        let folder_uid = match folder_of(&desired.fields) {
            None => Value::Null,
            Some(FolderRef::Uid(uid)) => json!(uid),
            Some(FolderRef::Local(local_id)) => match refs.resolve(&LocalRef::new("folder", &local_id)) {
                Some(Resolved::Known(folder)) => json!(folder.remote_id),
                _ => json!(KNOWN_AFTER_APPLY),
            },
        };
        Ok(json!({ "folder_uid": folder_uid, "dashboard": normalise(&unmarked(model)) }))
    }

    fn observed(&self, remote: &RemoteObject) -> Value {
        let model = remote.fields.get("dashboard").and_then(Value::as_object).cloned().unwrap_or_default();
        let model = unmarked(model);
        let folder_uid = remote.fields.get("folder_uid").and_then(Value::as_str).unwrap_or_default();
        json!({ "folder_uid": folder_value(folder_uid), "dashboard": normalise(&model) })
    }

    fn owner(&self, remote: &RemoteObject) -> Option<String> {
        crate::owner::dashboard_owner(remote)
    }

    fn describe(&self, remote: &RemoteObject) -> String {
        let title = remote.fields.pointer("/dashboard/title").and_then(Value::as_str).unwrap_or_default();
        let folder = match remote.fields.get("folder_title").and_then(Value::as_str) {
            Some(folder) if !folder.is_empty() => format!(" in folder {folder:?}"),
            _ => " in General".to_owned(),
        };
        format!("dashboard {title:?}{folder}, uid {:?}", remote.remote_id)
    }

    fn list_key(&self, path: &str) -> Option<&'static str> {
        match path {
            "/dashboard/panels" | "/dashboard/panels/*/panels" => Some("id"),
            "/dashboard/panels/*/targets" | "/dashboard/panels/*/panels/*/targets" => Some("refId"),
            "/dashboard/templating/list" | "/dashboard/annotations/list" => Some("name"),
            _ => None,
        }
    }

    /// `json` is the model as Grafana stores it, less the keys it sets (`id`, `version`) and
    /// the owner marker; `json` being a file field, the engine writes it to a JSON file
    /// beside the definitions and the definition refers to it (`json = { file = … }`), as a
    /// dashboard exported from Grafana would be. The uid Grafana has stays in the JSON.
    fn import(&self, remote: &RemoteObject, refs: &dyn mac_core::ImportRefs) -> Option<mac_core::ImportedFields> {
        let model = remote.fields.get("dashboard")?.as_object()?;
        let title = model.get("title")?.as_str()?.to_owned();
        let mut json = unmarked(model.clone());
        for key in SERVER_KEYS {
            json.remove(key);
        }
        let json = Value::Object(json);
        let folder_uid = remote.fields.get("folder_uid").and_then(Value::as_str).unwrap_or_default();
        let folder_title = remote.fields.get("folder_title").and_then(Value::as_str).unwrap_or("General");
        let mut fields = Fields::new();
        let file = if folder_uid.is_empty() {
            "general".to_owned()
        } else {
            match refs.local_id("folder", folder_uid) {
                Some(local_id) => {
                    fields.insert("folder".to_owned(), json!(local_id));
                    local_id.to_owned()
                }
                None => {
                    fields.insert("folder".to_owned(), json!({ "uid": folder_uid }));
                    crate::slug(folder_title)
                }
            }
        };
        fields.insert("json".to_owned(), json);
        Some(mac_core::ImportedFields {
            local_id: crate::slug(&title),
            fields,
            file,
            scope: Some(folder_title.to_owned()),
            part_ids: BTreeMap::new(),
        })
    }

    fn relations(&self) -> Vec<(mac_core::Relation, &'static str)> {
        vec![(mac_core::Relation::LivesIn, "folder"), (mac_core::Relation::Uses, "datasource")]
    }

    fn links(&self, remote: &RemoteObject) -> mac_core::Links {
        crate::links::dashboard(remote)
    }

    /// Folder membership needs only the search pages; what a dashboard uses needs its JSON,
    /// one GET per dashboard, as [`Handler::list`] reads it.
    async fn list_for_links(
        &self,
        relations: &std::collections::BTreeSet<mac_core::Relation>,
    ) -> Result<Vec<RemoteObject>, HandlerError> {
        if relations.contains(&mac_core::Relation::Uses) {
            self.list().await
        } else {
            crate::links::dashboards_by_search(&self.client, PAGE_SIZE).await
        }
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let mut uids = Vec::new();
        for page in 1.. {
            let query = [("type", "dash-db".to_owned()), ("limit", PAGE_SIZE.to_string()), ("page", page.to_string())];
            let answer = self.client.get(&["api", "search"], &query).await?;
            let hits = answer.body.as_array().cloned().unwrap_or_default();
            uids.extend(hits.iter().filter_map(|hit| hit.get("uid")?.as_str().map(str::to_owned)));
            if hits.len() < PAGE_SIZE {
                break;
            }
        }
        uids.sort();
        uids.dedup();
        let mut dashboards = Vec::new();
        let mut pending = uids.into_iter();
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < CONCURRENCY
                && let Some(uid) = pending.next()
            {
                let client = self.client.clone();
                running.spawn(async move {
                    match client.get(&["api", "dashboards", "uid", &uid], &[]).await {
                        Ok(answer) => Ok(Some(from_answer(&answer.body))),
                        // Deleted between the search and the read.
                        Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
                        Err(err) => Err(err),
                    }
                });
            }
            let Some(done) = running.join_next().await else { break };
            let read = done.map_err(|err| {
                HandlerError::new(HandlerErrorKind::Other, format!("reading a dashboard failed: {err}"))
            })?;
            dashboards.extend(read?);
        }
        dashboards.sort_by(|a: &RemoteObject, b| a.remote_id.cmp(&b.remote_id));
        Ok(dashboards)
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.get(remote_id).await?.as_ref().map(from_answer))
    }

    /// A dashboard's JSON is read one GET per dashboard: a saved plan re-reads only its own.
    fn reread(&self) -> mac_core::Reread {
        mac_core::Reread::EachObject
    }

    /// The natural key is the uid.
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.read(key).await
    }

    async fn create(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<RemoteObject, HandlerError> {
        match self.post(desired, refs, None).await {
            Ok(written) => Ok(written),
            // 412 version-mismatch on a create means the uid exists: after a lost answer that
            // is our own dashboard (same title), which is then brought up to date.
            Err(err) if err.kind == HandlerErrorKind::Conflict => {
                let wanted = self.to_write(desired).map_err(field_error)?;
                let uid = wanted.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned();
                if let Some(existing) = self.get(&uid).await?
                    && existing.pointer("/dashboard/title") == wanted.get("title")
                {
                    let id = existing.pointer("/dashboard/id").and_then(Value::as_i64).unwrap_or_default();
                    let version = existing.pointer("/meta/version").and_then(Value::as_i64).unwrap_or_default();
                    return self.post(desired, refs, Some((id, version))).await;
                }
                Err(HandlerError::new(
                    HandlerErrorKind::Conflict,
                    format!(
                        "cannot create dashboard (uid {uid}): {}. If it is the dashboard you mean, add it to state with `mac apply --adopt`",
                        err.message
                    ),
                )
                .at(err.pointer.unwrap_or_else(|| "/json".to_owned())))
            }
            Err(err) => Err(err),
        }
    }

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        let id = current.fields.pointer("/dashboard/id").and_then(Value::as_i64).unwrap_or_default();
        let version = current.fields.get("version").and_then(Value::as_i64).unwrap_or_default();
        self.post(desired, refs, Some((id, version))).await
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let url = self.client.url(&["api", "dashboards", "uid", &current.remote_id], &[]);
        match self.client.send(Method::DELETE, url, None).await {
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
    fn server_keys_nulls_and_empties_never_compare() {
        let stored = json!({
            "id": 7, "uid": "u", "version": 3, "iteration": 1_650_000_000_000_u64, "title": "T",
            "tags": [], "links": [], "gnetId": null,
            "panels": [{ "id": 1, "type": "stat", "options": {}, "fieldConfig": { "defaults": { "thresholds": { "steps": [
                { "color": "green", "value": null }, { "color": "red", "value": 80 }
            ] } } } }],
        });
        let written = json!({
            "uid": "u", "title": "T",
            "panels": [{ "id": 1, "type": "stat", "fieldConfig": { "defaults": { "thresholds": { "steps": [
                { "color": "green" }, { "color": "red", "value": 80.0 }
            ] } } } }],
        });
        let object = |value: Value| value.as_object().cloned().unwrap_or_default();
        let changes = mac_core::diff::diff(&normalise(&object(stored)), &normalise(&object(written)), &|_| None);
        assert!(changes.is_empty(), "{changes:#?}");
    }

    #[test]
    fn a_file_exported_for_sharing_is_refused_with_its_placeholders() {
        let dir = std::env::temp_dir().join(format!("mac-dashboard-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("shared.json"), r#"{"__inputs":[{"name":"DS_PROMETHEUS"}],"title":"x"}"#)
            .expect("write");
        std::fs::write(dir.join("api.json"), r#"{"dashboard":{"title":"x","uid":"a"},"meta":{"version":2}}"#)
            .expect("write");
        let error = read_dashboard_file(&dir, "shared.json").expect_err("refused");
        assert!(error.contains("${DS_PROMETHEUS}"), "{error}");
        assert_eq!(read_dashboard_file(&dir, "api.json").expect("unwrapped"), json!({ "title": "x", "uid": "a" }));
        let _ = std::fs::remove_dir_all(dir);
    }
}
