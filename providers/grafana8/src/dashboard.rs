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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, Links, LocalRef, ObjectId, Relation,
    Remote, RemoteObject, Resolved, Resolver, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::folder_ref::{FOLDER_FORMS, FolderRef};

/// Hits per search request (Grafana's default limit; the maximum is 5000).
const PAGE_SIZE: usize = 1000;
/// Dashboard reads in flight at once while listing.
const CONCURRENCY: usize = 8;
/// Keys of the dashboard model that Grafana (or its frontend) sets and mac never compares.
const SERVER_KEYS: [&str; 3] = ["id", "version", "iteration"];
/// Keys of an export "for sharing externally" that are not part of the dashboard.
const EXPORT_KEYS: [&str; 2] = ["__requires", "__elements"];

/// The `dashboard` kind.
#[derive(Debug)]
pub(crate) struct DashboardKind {
    client: Arc<Client>,
    /// The project whose owner marker every written dashboard carries (`crate::owner`).
    project: Option<String>,
}

/// A dashboard definition (`[[grafana8.dashboard]]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["json"]))]
pub struct Dashboard {
    /// The folder it lives in; General when left out.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "dashboard_folder")]
    pub folder: Option<FolderRef>,
    /// The dashboard model: a table, or `{ file = "dashboards/x.json" }` exported from Grafana.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<DashboardJson>,
    /// The title, instead of the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The uid, instead of the model's; one derived from the local id when neither has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// A dashboard's `json`: the model as a table, or a JSON file exported from Grafana.
#[derive(Debug, Clone, PartialEq)]
pub enum DashboardJson {
    /// The dashboard model itself.
    Model(Map<String, Value>),
    /// `{ file = "dashboards/x.json" }`, relative to the project, with the file's JSON once read:
    /// by the project loader, or `mac_core::project::read_file_fields` for a definition built in code.
    File {
        /// The path, relative to the project.
        file: String,
        /// The file's JSON.
        content: Option<Value>,
    },
}

impl DashboardJson {
    /// A JSON file to be read (see [`DashboardJson::File`]).
    pub fn file(path: impl Into<String>) -> DashboardJson {
        DashboardJson::File { file: path.into(), content: None }
    }

    /// The path of a file reference.
    fn path(&self) -> Option<&str> {
        match self {
            DashboardJson::File { file, .. } => Some(file),
            DashboardJson::Model(_) => None,
        }
    }
}

impl Serialize for DashboardJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            DashboardJson::Model(model) => model.serialize(serializer),
            DashboardJson::File { file, content: None } => json!({ "file": file }).serialize(serializer),
            DashboardJson::File { file, content: Some(content) } => {
                json!({ "file": file, "content": content }).serialize(serializer)
            }
        }
    }
}

/// The two forms [`DashboardJson`]'s `Deserialize` takes: any table is a model, except one
/// with only `file` (and `content`, which the loader adds).
impl schemars::JsonSchema for DashboardJson {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DashboardJson".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                {
                    "description": "A JSON file exported from Grafana: { file = \"dashboards/x.json\" }, relative to the project.",
                    "type": "object",
                    "properties": { "file": { "description": "The file's path, relative to the project.", "type": "string" } },
                    "required": ["file"],
                    "additionalProperties": false,
                },
                { "description": "The dashboard model itself, as a table.", "type": "object" },
            ],
        })
    }
}

impl<'de> Deserialize<'de> for DashboardJson {
    /// `{ file = "…" }` (with its `content` once read) is a file; any other table the model.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DashboardJson, D::Error> {
        let Value::Object(mut table) = Value::deserialize(deserializer)? else {
            return Err(serde::de::Error::custom("`json` must be a table, or { file = \"dashboards/x.json\" }"));
        };
        let only_file = table.keys().all(|key| key == "file" || key == "content");
        match table.get("file") {
            Some(Value::String(file)) if only_file => {
                let file = file.clone();
                Ok(DashboardJson::File { file, content: table.remove("content") })
            }
            _ => Ok(DashboardJson::Model(table)),
        }
    }
}

/// `folder`, refused with a word about General.
pub(crate) fn dashboard_folder<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<FolderRef>, D::Error> {
    FolderRef::deserialize_or(deserializer, &format!("{FOLDER_FORMS} (leave it out for General)")).map(Some)
}

/// What a listed dashboard records: the stored model, its folder (`""`: General) and version.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredDashboard {
    #[serde(default)]
    dashboard: Map<String, Value>,
    #[serde(default)]
    folder_uid: String,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    folder_title: Option<String>,
}

/// The answer of `GET /api/dashboards/uid/:uid`.
#[derive(Debug, Deserialize)]
struct DashboardAnswer {
    #[serde(default)]
    dashboard: Map<String, Value>,
    #[serde(default)]
    meta: DashboardMeta,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DashboardMeta {
    #[serde(default)]
    folder_uid: Option<String>,
    #[serde(default)]
    folder_title: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

/// The answer of `POST /api/dashboards/db`.
#[derive(Debug, Deserialize)]
struct Saved {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

/// A hit of `/api/search`.
#[derive(Debug, Deserialize)]
struct SearchHit {
    #[serde(default)]
    uid: Option<String>,
}

/// A dashboard, compared: its folder (`null`: General) and its normalised model.
#[derive(Debug, Serialize)]
pub(crate) struct ComparableDashboard {
    folder_uid: Option<String>,
    dashboard: Value,
}

impl DashboardKind {
    pub fn new(client: Arc<Client>) -> DashboardKind {
        DashboardKind { client, project: None }
    }

    /// Marks every dashboard written from now on as managed by `project`.
    pub fn with_project(mut self, project: Option<String>) -> DashboardKind {
        self.project = project;
        self
    }

    async fn get(&self, uid: &str) -> Result<Option<DashboardAnswer>, HandlerError> {
        match self.client.get(&["api", "dashboards", "uid", uid], &[]).await {
            Ok(answer) => Ok(Some(answer.parse("GET /api/dashboards/uid/:uid")?)),
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// One POST of the whole dashboard (API.md §7.1). `existing` is the (id, version) to
    /// update; without it the dashboard is new.
    async fn post(
        &self,
        id: &ObjectId,
        desired: &Dashboard,
        refs: &dyn Resolver,
        existing: Option<(i64, i64)>,
    ) -> Result<RemoteObject, HandlerError> {
        let mut model = to_write(id, desired).map_err(field_error)?;
        crate::owner::mark_dashboard(&mut model, self.project.as_deref());
        let folder_uid = target_folder(desired, refs)?;
        if let Some((id, version)) = existing {
            // The id keeps the dashboard's identity even when its uid changes in code.
            model.insert("id".to_owned(), json!(id));
            model.insert("version".to_owned(), json!(version));
        }
        let mut body = json!({
            "dashboard": model,
            "folderUid": folder_uid,
            "overwrite": false,
            "message": "mac",
        });
        let saved: Saved = self
            .client
            .send(Method::POST, self.client.url(&["api", "dashboards", "db"], &[]), Some(&body))
            .await
            .map_err(|err| locate(err, desired))?
            .parse("POST /api/dashboards/db")?;
        let Value::Object(mut stored) = body["dashboard"].take() else { unreachable!("the model is a table") };
        stored.insert("id".to_owned(), json!(saved.id));
        stored.insert("uid".to_owned(), json!(saved.uid));
        stored.insert("version".to_owned(), json!(saved.version));
        Ok(dashboard_object(StoredDashboard {
            dashboard: stored,
            folder_uid,
            version: saved.version,
            folder_title: None,
        }))
    }

    async fn create(
        &self,
        id: &ObjectId,
        desired: &Dashboard,
        refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        match self.post(id, desired, refs, None).await {
            Ok(written) => Ok(written),
            // 412 version-mismatch on a create means the uid exists: after a lost answer that
            // is our own dashboard (same title), which is then brought up to date.
            Err(err) if err.kind == HandlerErrorKind::Conflict => {
                let wanted = to_write(id, desired).map_err(field_error)?;
                let uid = wanted.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned();
                if let Some(existing) = self.get(&uid).await?
                    && existing.dashboard.get("title") == wanted.get("title")
                {
                    let existing_id = existing.dashboard.get("id").and_then(Value::as_i64).unwrap_or_default();
                    let version = existing.meta.version.unwrap_or_default();
                    return self.post(id, desired, refs, Some((existing_id, version))).await;
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
}

/// The dashboard model a definition gives, before normalisation, or an error at its field.
fn model(desired: &Dashboard) -> Result<Map<String, Value>, FieldError> {
    match &desired.json {
        None => Err(FieldError::at(
            "",
            "`json` is missing: the dashboard as a table (json = { title = \"…\", panels = […] }), or json = { file = \"dashboards/x.json\" }",
        )),
        Some(DashboardJson::Model(model)) => Ok(model.clone()),
        // Read and parsed by the loader (see `file_fields`): the content is the definition's.
        Some(DashboardJson::File { file, content: Some(content) }) => {
            match dashboard_from_file(file, content.clone()) {
                Ok(Value::Object(model)) => Ok(model),
                Ok(_) => Err(FieldError::at("/json/file", format!("{file} does not hold a JSON object"))),
                Err(message) => Err(FieldError::at("/json/file", message)),
            }
        }
        // A definition built in code whose file nobody read: planning reads no files itself,
        // so that the same inputs give the same plan.
        Some(DashboardJson::File { file, content: None }) => Err(FieldError::at(
            "/json/file",
            format!(
                "{file} has not been read: the project loader reads `json = {{ file = … }}`, and a definition built in code reads it first with mac_core::project::read_file_fields"
            ),
        )),
    }
}

/// The dashboard as it is to be written: the model with mac's uid and title, without the
/// server's keys.
fn to_write(id: &ObjectId, desired: &Dashboard) -> Result<Map<String, Value>, FieldError> {
    let mut model = model(desired)?;
    for key in SERVER_KEYS.iter().chain(EXPORT_KEYS.iter()) {
        model.remove(*key);
    }
    if model.get("__inputs").and_then(Value::as_array).is_some_and(Vec::is_empty) {
        model.remove("__inputs");
    }
    model.insert("uid".to_owned(), json!(uid(&id.local_id, desired, &model)));
    if let Some(title) = &desired.title {
        model.insert("title".to_owned(), json!(title));
    }
    if let Some(Value::String(title)) = model.get("title") {
        let trimmed = title.trim().to_owned();
        model.insert("title".to_owned(), json!(trimmed));
    }
    Ok(model)
}

/// The folder uid to write into (`""` is General).
fn target_folder(desired: &Dashboard, refs: &dyn Resolver) -> Result<String, HandlerError> {
    match &desired.folder {
        None => Ok(String::new()),
        Some(FolderRef::Uid(uid)) => Ok(uid.clone()),
        Some(FolderRef::Local(local_id)) => match refs.resolve(&LocalRef::new("folder", local_id)) {
            Some(Resolved::Known(folder)) => Ok(folder.remote_id.clone()),
            _ => Err(HandlerError::new(HandlerErrorKind::Other, format!("folder `{local_id}` has not been created"))
                .at("/folder")),
        },
    }
}

/// Where Grafana's refusal belongs in the definition.
fn locate(error: HandlerError, desired: &Dashboard) -> HandlerError {
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
        let pointer = if desired.title.is_some() { "/title" } else { "/json" };
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

/// The dashboard model in a file's JSON: the model itself ("Export → Save to file"), or
/// unwrapped from the answer of `GET /api/dashboards/uid/…` (`{ "dashboard": …, "meta": … }`);
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
fn uid(local_id: &str, desired: &Dashboard, model: &Map<String, Value>) -> String {
    desired
        .uid
        .as_deref()
        .or_else(|| model.get("uid").and_then(Value::as_str).filter(|uid| !uid.is_empty()))
        .map_or_else(|| crate::folder::derived_uid(local_id), str::to_owned)
}

/// A remote dashboard: id its uid.
fn dashboard_object(stored: StoredDashboard) -> RemoteObject {
    let uid = stored.dashboard.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    RemoteObject {
        remote_id: uid.clone(),
        adoption_key: Some(uid),
        fields: mac_core::JsonText::from_serialize(&stored).unwrap_or_default(),
        part_ids: BTreeMap::new(),
    }
}

/// The answer of `GET /api/dashboards/uid/:uid` as a remote object.
fn from_answer(answer: DashboardAnswer) -> RemoteObject {
    dashboard_object(StoredDashboard {
        dashboard: answer.dashboard,
        folder_uid: answer.meta.folder_uid.unwrap_or_default(),
        version: answer.meta.version,
        folder_title: answer.meta.folder_title,
    })
}

/// The model without an owner marker, which is never compared (`crate::owner`).
fn unmarked(mut model: Map<String, Value>) -> Map<String, Value> {
    crate::owner::hide_dashboard_marker(&mut model);
    model
}

/// The model in the comparable form: no server keys, no nulls, no empty lists or tables.
fn normalise(mut model: Map<String, Value>) -> Value {
    for key in SERVER_KEYS.iter().chain(EXPORT_KEYS.iter()) {
        model.remove(*key);
    }
    if model.get("__inputs").and_then(Value::as_array).is_some_and(Vec::is_empty) {
        model.remove("__inputs");
    }
    library_panels_as_stored(&mut model);
    prune(Value::Object(model))
}

/// Library panels (and those of rows) as Grafana stores them in a dashboard: `id`, `gridPos`
/// and `libraryPanel = { uid, name }` only (librarypanels.go `CleanLibraryPanelsForDashboard`),
/// compared by uid.
/// A read fills in the rest from the library panel (`LoadLibraryPanelsForDashboard`), which
/// is the `library_panel`'s to compare, not the dashboard's.
fn library_panels_as_stored(parent: &mut Map<String, Value>) {
    let Some(Value::Array(panels)) = parent.get_mut("panels") else { return };
    for panel in panels.iter_mut() {
        let Value::Object(fields) = panel else { continue };
        if fields.get("type").and_then(Value::as_str) == Some("row") {
            library_panels_as_stored(fields);
            continue;
        }
        let Some(Value::Object(library)) = fields.get("libraryPanel") else { continue };
        // The name too is the library panel's: a read gives its current one.
        let reference = json!({ "uid": library.get("uid") });
        let mut stored = Map::new();
        for key in ["id", "gridPos"] {
            if let Some(value) = fields.get(key) {
                stored.insert(key.to_owned(), value.clone());
            }
        }
        stored.insert("libraryPanel".to_owned(), reference);
        *fields = stored;
    }
}

pub(crate) fn prune(value: Value) -> Value {
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

fn validate_dashboard(desired: &Dashboard) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some(uid) = &desired.uid
        && !crate::folder::valid_uid(uid)
    {
        errors.push(FieldError::at("/uid", "a dashboard uid has 1 to 40 characters from a-z, A-Z, 0-9, `-` and `_`"));
    }
    if let Some(title) = &desired.title
        && title.trim().is_empty()
    {
        errors.push(FieldError::at("/title", "`title` must be a non-empty string"));
    }
    if let Some(DashboardJson::Model(model)) = &desired.json
        && model.contains_key("file")
    {
        errors.push(FieldError::at("/json/file", "`json = { file = \"dashboards/x.json\" }` takes only a path"));
    }
    match model(desired) {
        Err(error) => errors.push(error),
        Ok(model) => {
            let file = desired.json.as_ref().and_then(DashboardJson::path);
            let at = if file.is_some() { "/json/file" } else { "/json" };
            let within = file.map(|path| format!(" in {path}")).unwrap_or_default();
            if desired.title.is_none()
                && model.get("title").and_then(Value::as_str).is_none_or(|title| title.trim().is_empty())
            {
                errors.push(FieldError::at(
                    at,
                    format!(
                        "the dashboard has no `title`{within}; give it one there, or set `title` in the definition"
                    ),
                ));
            }
            if desired.uid.is_none()
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
impl Kind for DashboardKind {
    type Desired = Dashboard;
    type Remote = StoredDashboard;
    type Comparable = ComparableDashboard;
    type Context = ();

    fn file_fields(&self) -> Vec<&'static str> {
        vec!["/json"]
    }

    fn validate(&self, desired: &Dashboard) -> Result<(), Vec<FieldError>> {
        validate_dashboard(desired)
    }

    fn references(&self, desired: &Dashboard) -> Vec<(String, LocalRef)> {
        desired.folder.as_ref().map(FolderRef::references).unwrap_or_default()
    }

    fn adoption_key(&self, id: &ObjectId, desired: &Dashboard, _refs: &dyn Resolver) -> Option<String> {
        let model = model(desired).ok()?;
        Some(uid(&id.local_id, desired, &model))
    }

    fn desired(
        &self,
        id: &ObjectId,
        desired: &Dashboard,
        refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparableDashboard, FieldError> {
        let model = to_write(id, desired)?;
        let folder_uid = match &desired.folder {
            None => None,
            Some(FolderRef::Uid(uid)) => Some(uid.clone()),
            Some(FolderRef::Local(local_id)) => match refs.resolve(&LocalRef::new("folder", local_id)) {
                Some(Resolved::Known(folder)) => Some(folder.remote_id.clone()),
                _ => Some(KNOWN_AFTER_APPLY.to_owned()),
            },
        };
        Ok(ComparableDashboard { folder_uid, dashboard: normalise(unmarked(model)) })
    }

    fn observed(&self, remote: &Remote<'_, StoredDashboard>) -> ComparableDashboard {
        let stored = &remote.fields;
        let folder_uid = Some(stored.folder_uid.clone()).filter(|uid| !uid.is_empty());
        ComparableDashboard { folder_uid, dashboard: normalise(unmarked(stored.dashboard.clone())) }
    }

    fn owner(&self, remote: &Remote<'_, StoredDashboard>) -> Option<String> {
        crate::owner::dashboard_owner(&remote.fields.dashboard)
    }

    fn describe(&self, remote: &Remote<'_, StoredDashboard>) -> String {
        let title = remote.fields.dashboard.get("title").and_then(Value::as_str).unwrap_or_default();
        let folder = match remote.fields.folder_title.as_deref() {
            Some(folder) if !folder.is_empty() => format!(" in folder {folder:?}"),
            _ => " in General".to_owned(),
        };
        format!("dashboard {title:?}{folder}, uid {:?}", remote.remote_id())
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
    fn import(
        &self,
        remote: &Remote<'_, StoredDashboard>,
        refs: &dyn ImportRefs,
        _context: &(),
    ) -> Option<ImportedFields> {
        let stored = &remote.fields;
        let title = stored.dashboard.get("title")?.as_str()?.to_owned();
        let mut json = unmarked(stored.dashboard.clone());
        for key in SERVER_KEYS {
            json.remove(key);
        }
        let folder_title = stored.folder_title.as_deref().unwrap_or("General");
        let (folder, file) = if stored.folder_uid.is_empty() {
            (None, "general".to_owned())
        } else {
            match refs.local_id("folder", &stored.folder_uid) {
                Some(local_id) => (Some(FolderRef::Local(local_id.to_owned())), local_id.to_owned()),
                None => (Some(FolderRef::Uid(stored.folder_uid.clone())), crate::slug(folder_title)),
            }
        };
        let definition = Dashboard { folder, json: Some(DashboardJson::Model(json)), title: None, uid: None };
        let Ok(Value::Object(fields)) = serde_json::to_value(definition) else { return None };
        Some(ImportedFields {
            local_id: crate::slug(&title),
            fields,
            file,
            scope: Some(folder_title.to_owned()),
            part_ids: BTreeMap::new(),
        })
    }

    fn relations(&self) -> Vec<(Relation, &'static str)> {
        vec![(Relation::LivesIn, "folder"), (Relation::Uses, "datasource")]
    }

    fn links(&self, remote: &Remote<'_, StoredDashboard>) -> Links {
        crate::links::dashboard(remote.remote_id(), &remote.fields.dashboard, &remote.fields.folder_uid)
    }

    /// Folder membership needs only the search pages; what a dashboard uses needs its JSON,
    /// one GET per dashboard, as [`Kind::list`] reads it.
    async fn list_for_links(&self, relations: &BTreeSet<Relation>) -> Result<Vec<RemoteObject>, HandlerError> {
        if relations.contains(&Relation::Uses) {
            self.list().await
        } else {
            crate::links::dashboards_by_search(&self.client, PAGE_SIZE).await
        }
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let mut uids = Vec::new();
        for page in 1.. {
            let query = [("type", "dash-db".to_owned()), ("limit", PAGE_SIZE.to_string()), ("page", page.to_string())];
            let hits: Vec<SearchHit> = self.client.get(&["api", "search"], &query).await?.parse("GET /api/search")?;
            let full_page = hits.len() >= PAGE_SIZE;
            uids.extend(hits.into_iter().filter_map(|hit| hit.uid));
            if !full_page {
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
                        Ok(answer) => Ok(Some(from_answer(answer.parse("GET /api/dashboards/uid/:uid")?))),
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
        Ok(self.get(remote_id).await?.map(from_answer))
    }

    /// A dashboard's JSON is read one GET per dashboard: a saved plan re-reads only its own.
    fn reread(&self) -> mac_core::Reread {
        mac_core::Reread::EachObject
    }

    /// The natural key is the uid.
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.read(key).await
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &Dashboard,
        refs: &dyn Resolver,
        _context: &Self::Context,
    ) -> Result<RemoteObject, HandlerError> {
        let Some(current) = current else { return self.create(id, desired, refs).await };
        let stored = current.fields.parse::<StoredDashboard>().ok();
        let existing_id = stored.as_ref().and_then(|stored| stored.dashboard.get("id")?.as_i64()).unwrap_or_default();
        let version = stored.and_then(|stored| stored.version).unwrap_or_default();
        self.post(id, desired, refs, Some((existing_id, version))).await
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
    fn a_library_panel_compares_as_grafana_stores_it_by_uid() {
        let read = json!({ "title": "T", "panels": [
            { "type": "row", "panels": [
                { "id": 2, "gridPos": { "h": 8 }, "type": "stat", "options": { "x": 1 },
                  "libraryPanel": { "uid": "lib", "name": "Now renamed", "version": 3 } },
            ] },
        ] });
        let defined = json!({ "title": "T", "panels": [
            { "type": "row", "panels": [
                { "id": 2, "gridPos": { "h": 8 }, "libraryPanel": { "uid": "lib", "name": "Lib" } },
            ] },
        ] });
        let (Value::Object(read), Value::Object(defined)) = (read, defined) else { panic!("objects") };
        assert_eq!(normalise(read), normalise(defined));
    }

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
        let changes = mac_core::diff::diff(&normalise(object(stored)), &normalise(object(written)), &|_| None);
        assert!(changes.is_empty(), "{changes:#?}");
    }

    #[test]
    fn a_file_exported_for_sharing_is_refused_with_its_placeholders() {
        let shared = json!({ "__inputs": [{ "name": "DS_PROMETHEUS" }], "title": "x" });
        let error = dashboard_from_file("shared.json", shared).expect_err("refused");
        assert!(error.contains("${DS_PROMETHEUS}"), "{error}");
        let api = json!({ "dashboard": { "title": "x", "uid": "a" }, "meta": { "version": 2 } });
        assert_eq!(dashboard_from_file("api.json", api).expect("unwrapped"), json!({ "title": "x", "uid": "a" }));
    }

    #[test]
    fn a_file_nobody_read_is_an_error_at_its_field_not_a_read() {
        let unread: Dashboard =
            serde_json::from_value(json!({ "json": { "file": "dashboards/x.json" } })).expect("a file reference");
        assert_eq!(unread.json, Some(DashboardJson::file("dashboards/x.json")));
        let errors = validate_dashboard(&unread).expect_err("refused");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].pointer, "/json/file");
        assert!(errors[0].message.contains("mac_core::project::read_file_fields"), "{}", errors[0].message);

        let read: Dashboard = serde_json::from_value(
            json!({ "json": { "file": "dashboards/x.json", "content": { "title": "X", "panels": [] } } }),
        )
        .expect("a file read by the loader");
        assert_eq!(validate_dashboard(&read), Ok(()));
        let id = ObjectId::new("grafana8", "dashboard", "x");
        assert_eq!(to_write(&id, &read).expect("a model").get("title"), Some(&json!("X")));
    }

    #[test]
    fn a_definition_built_in_code_reads_its_file_as_the_loader_does() {
        let root = std::env::temp_dir().join(format!("mac-dashboard-file-{}", std::process::id()));
        std::fs::create_dir_all(root.join("dashboards")).expect("a temp dir");
        std::fs::write(root.join("dashboards/x.json"), r#"{"title":"X","uid":"x"}"#).expect("written");
        let settings = mac_core::ProviderSettings {
            instance: "grafana8.code".to_owned(),
            values: json!({ "url": "http://127.0.0.1:1", "token": { "env": "MAC_TEST_UNSET_TOKEN" } }),
            project_root: root.clone(),
            project: None,
        };
        let mut providers = mac_core::Providers::new();
        providers.insert("grafana8.code", crate::build_provider(&settings).expect("settings")).expect("inserted");
        let handler = providers.handler("grafana8.code", "dashboard").expect("a dashboard handler").clone();
        let built = |path: &str| {
            let typed = Dashboard { json: Some(DashboardJson::file(path)), ..Dashboard::default() };
            let id = ObjectId::new("grafana8.code", "dashboard", "x");
            mac_core::Definition::from_typed(id, &typed, mac_core::Location::file("code.rs")).expect("a table")
        };

        let mut definition = built("dashboards/x.json");
        let unread = handler.validate(&definition.fields).expect_err("nothing read the file yet");
        assert_eq!(unread[0].pointer, "/json/file");
        mac_core::project::read_file_fields(&mut definition, &providers, &root).expect("read");
        assert_eq!(
            definition.fields.to_value()["json"],
            json!({ "file": "dashboards/x.json", "content": { "title": "X", "uid": "x" } })
        );
        assert_eq!(handler.validate(&definition.fields), Ok(()));

        let mut missing = built("dashboards/missing.json");
        let error = mac_core::project::read_file_fields(&mut missing, &providers, &root).expect_err("no such file");
        assert!(error.to_string().starts_with("code.rs:1:1: cannot read dashboards/missing.json"), "{error}");
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn a_typed_definition_reads_back_as_written() {
        let dashboard = Dashboard {
            folder: Some(FolderRef::Uid("ops".to_owned())),
            json: Some(DashboardJson::Model(json!({ "title": "T" }).as_object().cloned().unwrap_or_default())),
            ..Dashboard::default()
        };
        let fields = serde_json::to_value(&dashboard).expect("serialises");
        assert_eq!(fields, json!({ "folder": { "uid": "ops" }, "json": { "title": "T" } }));
        assert_eq!(serde_json::from_value::<Dashboard>(fields).expect("parses"), dashboard);
    }
}
