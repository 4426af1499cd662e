//! `library_panel`: a library panel (`/api/library-elements`, kind 1; pkg/services/
//! libraryelements at v8.5.4) in a folder, its model from inline TOML or a JSON file
//! (`model = { file = "panels/x.json" }`), as a dashboard's `json`.
//!
//! Dashboards use one with a panel `libraryPanel = { uid = { ref = "library_panel.ID" },
//! name = "…" }`; Grafana stores only that reference in the dashboard, and the dashboard kind
//! compares only it (the panel's content is this kind's). Grafana refuses to delete a library
//! panel a dashboard is connected to, so a plan does not try: the delete is blocked and names
//! the dashboards (one connections GET per library panel the plan would delete, and one
//! search for their titles).
//!
//! A plan reads `⌈library elements/1000⌉` pages: one request for most orgs. A write is one
//! POST (create) or PATCH (update, with the version read at plan time), after one GET of the
//! folder for its numeric id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mac_core::provider::KNOWN_AFTER_APPLY;
use mac_core::{
    FieldError, HandlerError, HandlerErrorKind, ImportRefs, ImportedFields, Kind, LinkedObject, LocalRef, ObjectId,
    Remote, RemoteObject, Resolved, Resolver, async_trait,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::dashboard::DashboardJson;
use crate::folder_ref::FolderRef;

/// Elements read per page.
const PAGE_SIZE: usize = 1000;
/// A library element of kind 1 is a panel (2 a variable; libraryelements/models.go).
const PANEL_KIND: i64 = 1;

/// A `library_panel` definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = mac_core::schema::require(&["name", "model"]))]
pub struct LibraryPanel {
    /// The folder it lives in; General when left out.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::dashboard::dashboard_folder")]
    pub folder: Option<FolderRef>,
    /// The name dashboards and the panel library show; unique in its folder.
    #[serde(default)]
    pub name: String,
    /// The uid; by default derived from the local id (`mac-ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The panel model: a table, or `{ file = "panels/x.json" }` holding one panel's JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<DashboardJson>,
}

/// One element of `GET /api/library-elements` (`LibraryElementDTO`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredPanel {
    uid: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: i64,
    #[serde(default)]
    model: Map<String, Value>,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    meta: PanelMeta,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PanelMeta {
    /// `""` for General.
    #[serde(default)]
    folder_uid: String,
    #[serde(default)]
    folder_name: String,
    #[serde(default)]
    connected_dashboards: i64,
}

/// A page of `GET /api/library-elements`.
#[derive(Debug, Deserialize)]
struct ElementsAnswer {
    result: ElementsPage,
}

#[derive(Debug, Deserialize)]
struct ElementsPage {
    #[serde(default)]
    elements: Option<Vec<StoredPanel>>,
    #[serde(default, rename = "totalCount")]
    total_count: u64,
}

/// One answer of `GET /api/library-elements/:uid` and of the writes.
#[derive(Debug, Deserialize)]
struct ElementAnswer {
    result: StoredPanel,
}

/// `GET /api/library-elements/:uid/connections`.
#[derive(Debug, Deserialize)]
struct ConnectionsAnswer {
    #[serde(default)]
    result: Vec<Connection>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    connection_id: i64,
}

/// A hit of `GET /api/search`.
#[derive(Debug, Deserialize)]
struct DashboardHit {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    title: String,
}

/// The part of `GET /api/folders/:uid` a write needs.
#[derive(Debug, Deserialize)]
struct FolderAnswer {
    id: i64,
}

/// A library panel, compared: its folder (`None`: General), name and normalised model.
#[derive(Debug, Serialize)]
pub(crate) struct ComparablePanel {
    folder_uid: Option<String>,
    name: String,
    model: Value,
}

/// The `library_panel` kind.
#[derive(Debug)]
pub(crate) struct LibraryPanelKind {
    client: Arc<Client>,
}

/// The definition's model as a table.
fn model(desired: &LibraryPanel) -> Result<Map<String, Value>, FieldError> {
    match &desired.model {
        None => Err(FieldError::at(
            "",
            "`model` is missing: the panel as a table (model = { type = \"timeseries\", … }), or model = { file = \"panels/x.json\" }",
        )),
        Some(DashboardJson::Model(model)) => Ok(model.clone()),
        Some(DashboardJson::File { file, content: Some(Value::Object(model)) }) => {
            let _ = file;
            Ok(model.clone())
        }
        Some(DashboardJson::File { file, content: Some(_) }) => {
            Err(FieldError::at("/model/file", format!("{file} does not hold a JSON object")))
        }
        Some(DashboardJson::File { file, content: None }) => Err(FieldError::at(
            "/model/file",
            format!(
                "{file} has not been read: the project loader reads `model = {{ file = … }}`, and a definition built in code reads it first with mac_core::project::read_file_fields"
            ),
        )),
    }
}

/// The uid written: the definition's, else one derived from the local id.
fn uid(local_id: &str, desired: &LibraryPanel) -> String {
    desired.uid.clone().unwrap_or_else(|| crate::folder::derived_uid(local_id))
}

/// A model in the comparable form: without what Grafana adds or keeps per dashboard (the
/// panel's `id`, `gridPos` and `libraryPanel`), empty values pruned (Grafana adds an empty
/// `description` and `type`).
fn normalise(mut model: Map<String, Value>) -> Value {
    for key in ["id", "gridPos", "libraryPanel"] {
        model.remove(key);
    }
    // syncFieldsWithModel (libraryelements/database.go) writes `type` and `description`
    // into the model, empty when the model had none.
    for key in ["type", "description"] {
        if model.get(key).and_then(Value::as_str) == Some("") {
            model.remove(key);
        }
    }
    crate::dashboard::prune(Value::Object(model))
}

fn panel_object(panel: StoredPanel) -> RemoteObject {
    let uid = panel.uid.clone();
    RemoteObject {
        remote_id: uid.clone(),
        adoption_key: Some(uid),
        // Plain data: serialising it cannot fail.
        fields: mac_core::JsonText::from_serialize(&panel).unwrap_or_default(),
        part_ids: BTreeMap::new(),
    }
}

impl LibraryPanelKind {
    pub(crate) fn new(client: Arc<Client>) -> LibraryPanelKind {
        LibraryPanelKind { client }
    }

    /// The folder's numeric id (0: General), which the library-elements API takes.
    async fn folder_id(&self, desired: &LibraryPanel, refs: &dyn Resolver) -> Result<i64, HandlerError> {
        let folder_uid = match &desired.folder {
            None => return Ok(0),
            Some(FolderRef::Uid(uid)) => uid.clone(),
            Some(FolderRef::Local(local_id)) => match refs.resolve(&LocalRef::new("folder", local_id)) {
                Some(Resolved::Known(folder)) => folder.remote_id.clone(),
                _ => {
                    return Err(HandlerError::new(
                        HandlerErrorKind::Other,
                        format!("folder `{local_id}` has not been created"),
                    )
                    .at("/folder"));
                }
            },
        };
        let answer = self.client.get(&["api", "folders", &folder_uid], &[]).await.map_err(|err| err.at("/folder"))?;
        Ok(answer.parse::<FolderAnswer>("GET /api/folders/:uid")?.id)
    }

    async fn get(&self, uid: &str) -> Result<Option<RemoteObject>, HandlerError> {
        match self.client.get(&["api", "library-elements", uid], &[]).await {
            Ok(answer) => {
                let found: ElementAnswer = answer.parse("GET /api/library-elements/:uid")?;
                Ok((found.result.kind == PANEL_KIND).then(|| panel_object(found.result)))
            }
            Err(err) if err.kind == HandlerErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }
}

#[async_trait]
impl Kind for LibraryPanelKind {
    type Desired = LibraryPanel;
    type Remote = StoredPanel;
    type Comparable = ComparablePanel;
    type Context = ();

    fn file_fields(&self) -> Vec<&'static str> {
        vec!["/model"]
    }

    fn validate(&self, desired: &LibraryPanel) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if desired.name.trim().is_empty() {
            errors.push(FieldError::at("/name", "`name` must be a non-empty string"));
        }
        if let Some(uid) = &desired.uid
            && !crate::folder::valid_uid(uid)
        {
            errors.push(FieldError::at(
                "/uid",
                "a library panel uid has 1 to 40 characters from a-z, A-Z, 0-9, `-` and `_`",
            ));
        }
        if let Err(error) = model(desired) {
            errors.push(error);
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn references(&self, desired: &LibraryPanel) -> Vec<(String, LocalRef)> {
        desired.folder.as_ref().map(FolderRef::references).unwrap_or_default()
    }

    fn adoption_key(&self, id: &ObjectId, desired: &LibraryPanel, _refs: &dyn Resolver) -> Option<String> {
        Some(uid(&id.local_id, desired))
    }

    fn desired(
        &self,
        _id: &ObjectId,
        desired: &LibraryPanel,
        refs: &dyn Resolver,
        _context: &(),
    ) -> Result<ComparablePanel, FieldError> {
        let folder_uid = match &desired.folder {
            None => None,
            Some(FolderRef::Uid(uid)) => Some(uid.clone()),
            Some(FolderRef::Local(local_id)) => match refs.resolve(&LocalRef::new("folder", local_id)) {
                Some(Resolved::Known(folder)) => Some(folder.remote_id.clone()),
                _ => Some(KNOWN_AFTER_APPLY.to_owned()),
            },
        };
        Ok(ComparablePanel { folder_uid, name: desired.name.trim().to_owned(), model: normalise(model(desired)?) })
    }

    fn observed(&self, remote: &Remote<'_, StoredPanel>) -> ComparablePanel {
        let stored = &remote.fields;
        ComparablePanel {
            folder_uid: Some(stored.meta.folder_uid.clone()).filter(|uid| !uid.is_empty()),
            name: stored.name.clone(),
            model: normalise(stored.model.clone()),
        }
    }

    fn describe(&self, remote: &Remote<'_, StoredPanel>) -> String {
        let folder = &remote.fields.meta.folder_name;
        let folder = if folder.is_empty() { "General" } else { folder };
        format!("library panel {:?} in {folder}, uid {:?}", remote.fields.name, remote.remote_id())
    }

    fn import(&self, remote: &Remote<'_, StoredPanel>, refs: &dyn ImportRefs, _context: &()) -> Option<ImportedFields> {
        let stored = &remote.fields;
        let folder_uid = &stored.meta.folder_uid;
        let folder = if folder_uid.is_empty() {
            None
        } else {
            Some(match refs.local_id("folder", folder_uid) {
                Some(local_id) => FolderRef::Local(local_id.to_owned()),
                None => FolderRef::Uid(folder_uid.clone()),
            })
        };
        let Value::Object(model) = normalise(stored.model.clone()) else { return None };
        let definition = LibraryPanel {
            folder,
            name: stored.name.clone(),
            uid: Some(remote.remote_id().to_owned()),
            model: Some(DashboardJson::Model(model)),
        };
        let fields = serde_json::to_value(definition).ok()?.as_object()?.clone();
        let folder_name = if stored.meta.folder_name.is_empty() { "General" } else { &stored.meta.folder_name };
        Some(ImportedFields {
            local_id: crate::slug(&stored.name),
            fields,
            file: crate::slug(folder_name),
            scope: Some(folder_name.to_owned()),
            part_ids: BTreeMap::new(),
        })
    }

    /// The dashboards connected to library panels the plan may delete: Grafana refuses those
    /// deletes (libraryelements/database.go `deleteLibraryElement`, ErrLibraryElementHasConnections),
    /// so the plan blocks them and names the dashboards: one connections GET per library panel
    /// the plan may delete (only those: none in a plan that deletes nothing), and one search
    /// for the dashboards' titles.
    async fn unmodelled_contents(
        &self,
        remote_ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<LinkedObject>>, HandlerError> {
        let mut connected: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for uid in remote_ids {
            let answer = match self.client.get(&["api", "library-elements", uid, "connections"], &[]).await {
                Ok(answer) => answer,
                Err(err) if err.kind == HandlerErrorKind::NotFound => continue,
                Err(err) => return Err(err),
            };
            let found: ConnectionsAnswer = answer.parse("GET /api/library-elements/:uid/connections")?;
            if !found.result.is_empty() {
                connected.insert(uid.clone(), found.result.iter().map(|connection| connection.connection_id).collect());
            }
        }
        if connected.is_empty() {
            return Ok(BTreeMap::new());
        }
        let ids: BTreeSet<i64> = connected.values().flatten().copied().collect();
        let query: Vec<(&str, String)> = ids.iter().map(|id| ("dashboardIds", id.to_string())).collect();
        let hits: Vec<DashboardHit> = self.client.get(&["api", "search"], &query).await?.parse("GET /api/search")?;
        let by_id: BTreeMap<i64, &DashboardHit> = hits.iter().map(|hit| (hit.id, hit)).collect();
        Ok(connected
            .into_iter()
            .map(|(uid, dashboards)| {
                let users = dashboards
                    .into_iter()
                    .map(|id| match by_id.get(&id) {
                        Some(hit) => LinkedObject {
                            kind: "dashboard".to_owned(),
                            remote_id: hit.uid.clone(),
                            title: Some(hit.title.clone()),
                            uid: Some(hit.uid.clone()),
                            managed_as: None,
                        },
                        None => LinkedObject {
                            kind: "dashboard".to_owned(),
                            remote_id: format!("#{id}"),
                            title: None,
                            uid: None,
                            managed_as: None,
                        },
                    })
                    .collect();
                (uid, users)
            })
            .collect())
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        let mut panels = Vec::new();
        let mut received = 0u64;
        for page in 1.. {
            let query =
                [("kind", PANEL_KIND.to_string()), ("perPage", PAGE_SIZE.to_string()), ("page", page.to_string())];
            let answer: ElementsAnswer =
                self.client.get(&["api", "library-elements"], &query).await?.parse("GET /api/library-elements")?;
            let elements = answer.result.elements.unwrap_or_default();
            let count = elements.len();
            received += count as u64;
            panels.extend(elements.into_iter().filter(|element| element.kind == PANEL_KIND).map(panel_object));
            if count < PAGE_SIZE || received >= answer.result.total_count {
                break;
            }
        }
        panels.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
        Ok(panels)
    }

    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.get(remote_id).await
    }

    /// The natural key is the uid.
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.get(key).await
    }

    async fn write(
        &self,
        current: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &LibraryPanel,
        refs: &dyn Resolver,
        _context: &(),
    ) -> Result<RemoteObject, HandlerError> {
        let model =
            model(desired).map_err(|err| HandlerError::new(HandlerErrorKind::Invalid, err.message).at(err.pointer))?;
        let folder_id = self.folder_id(desired, refs).await?;
        let uid = uid(&id.local_id, desired);
        let mut body = json!({
            "folderId": folder_id,
            "name": desired.name.trim(),
            "model": model,
            "kind": PANEL_KIND,
            "uid": uid,
        });
        let answer = match current {
            None => {
                let url = self.client.url(&["api", "library-elements"], &[]);
                self.client.send(Method::POST, url, Some(&body)).await?
            }
            Some(current) => {
                // Grafana 8.5.4's PATCH stores only non-zero fields (xorm's `Update`), so a
                // move to General (folder id 0) would be answered as done and never stored.
                let stored_folder = current.fields.parse::<StoredPanel>().map(|stored| stored.meta.folder_uid).ok();
                if folder_id == 0 && stored_folder.is_some_and(|folder| !folder.is_empty()) {
                    return Err(HandlerError::new(
                        HandlerErrorKind::Invalid,
                        "Grafana 8.5 cannot move a library panel back to General (its PATCH does not store folder id 0): delete it and create it again, or give it a folder",
                    )
                    .at("/folder"));
                }
                // The version read at plan time: a panel saved by someone since is refused
                // (412, ErrLibraryElementVersionMismatch) rather than overwritten.
                let stored: StoredPanel = current.fields.parse().map_err(|err| {
                    HandlerError::new(
                        HandlerErrorKind::Other,
                        format!("the recorded library panel does not parse: {err}"),
                    )
                })?;
                body["version"] = json!(stored.version);
                let url = self.client.url(&["api", "library-elements", &current.remote_id], &[]);
                self.client.send(Method::PATCH, url, Some(&body)).await?
            }
        };
        let _ = answer;
        // The answers of both writes leave the folder out: read it back.
        self.get(&uid).await?.ok_or_else(|| {
            HandlerError::new(
                HandlerErrorKind::NotFound,
                format!("library panel {uid} disappeared while it was written"),
            )
        })
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        let url = self.client.url(&["api", "library-elements", &current.remote_id], &[]);
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
    use mac_core::{Handler, Typed};

    fn kind() -> Typed<LibraryPanelKind> {
        Typed(LibraryPanelKind::new(Arc::new(crate::client::unreachable())))
    }

    #[test]
    fn validation_names_each_bad_field() {
        let bad = mac_core::JsonText::from_value(&json!({ "name": " ", "uid": "no spaces" }));
        let errors = kind().validate(&bad).expect_err("invalid");
        let pointers: Vec<&str> = errors.iter().map(|error| error.pointer.as_str()).collect();
        assert_eq!(pointers, ["/name", "/uid", ""]);
    }

    #[test]
    fn what_grafana_adds_to_a_model_never_compares() {
        let stored = json!({ "type": "stat", "description": "", "title": "", "id": 3, "gridPos": { "h": 8 },
                             "libraryPanel": { "uid": "x" }, "options": {} });
        let Value::Object(stored) = stored else { panic!("an object") };
        assert_eq!(normalise(stored), json!({ "type": "stat", "title": "" }));
    }
}
