//! Library elements and the library panels of dashboards: pkg/services/libraryelements
//! (api.go, database.go, guard.go, models.go, writers.go) and
//! pkg/services/librarypanels/librarypanels.go at v8.5.4.

use crate::auth::{Identity, PERM_EDIT, PERM_VIEW, has_permission};
use crate::http::{Field, R, bind_go, err_trace, json, parse_query, query_i64, query_str};
use crate::permissions::sql_can;
use crate::server::App;
use crate::state::{Dash, Db, LibraryConnection, LibraryElement, Role};
use crate::util::{avatar_url, generate_short_uid, is_short_uid_too_long, is_valid_short_uid, now_rfc3339, sql_like};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// `CreateLibraryElementCommand` (pkg/services/libraryelements/models.go): `Model` is a
/// `json.RawMessage`, whose `UnmarshalJSON` Go calls for `null` too.
const CREATE_FIELDS: &[(&str, Field)] = &[
    ("folderId", Field::Plain),
    ("name", Field::Plain),
    ("model", Field::Nullable),
    ("kind", Field::Plain),
    ("uid", Field::Plain),
];
/// `patchLibraryElementCommand`, with the same `json.RawMessage` model.
const PATCH_FIELDS: &[(&str, Field)] = &[
    ("folderId", Field::Plain),
    ("name", Field::Plain),
    ("model", Field::Nullable),
    ("kind", Field::Plain),
    ("version", Field::Plain),
    ("uid", Field::Plain),
];

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/library-elements", get(get_all).post(create))
        .route("/api/library-elements/name/{name}", get(get_by_name))
        .route("/api/library-elements/{uid}", get(get_by_uid).patch(patch).delete(delete))
        .route("/api/library-elements/{uid}/connections", get(connections))
}

/// The errors of database.go and guard.go that `toLibraryElementError` (api.go) maps.
#[derive(Debug)]
enum LeError {
    AlreadyExists,
    NotFound,
    VersionMismatch,
    FolderNotFound,
    FolderAccessDenied,
    HasConnections,
    InvalidUid,
    UidTooLong,
    /// Any other error: 500 with the handler's message.
    Other,
    /// A Go panic (a nil map written, a non-string type asserted), answered by the recovery
    /// middleware.
    Panic,
}

impl LeError {
    /// api.go `toLibraryElementError`: every branch builds `response.Error` from the error.
    fn respond(self, message: &str) -> Response {
        match self {
            LeError::AlreadyExists => err_trace(400, "library element with that name or UID already exists"),
            LeError::NotFound => err_trace(404, "library element could not be found"),
            LeError::VersionMismatch => err_trace(412, "the library element has been changed by someone else"),
            LeError::FolderNotFound => err_trace(404, "folder not found"),
            LeError::FolderAccessDenied => err_trace(403, "access denied to folder"),
            LeError::HasConnections => err_trace(403, "the library element has connections"),
            LeError::InvalidUid => err_trace(400, "uid contains illegal characters"),
            LeError::UidTooLong => err_trace(400, "uid too long, max 40 characters"),
            LeError::Other => err_trace(500, message),
            LeError::Panic => panic_response(),
        }
    }
}

/// pkg/middleware/recovery.go in production mode, for an API request.
fn panic_response() -> Response {
    let body = json!({
        "message": "Internal Server Error - Check the Grafana server logs for the detailed error message.",
        "error": "Server Error",
    });
    crate::http::raw_json(500, serde_json::to_vec(&body).unwrap_or_default(), "application/json; charset=UTF-8")
}

/// guard.go `requireSupportedElementKind`: panels (1) and variables (2).
fn require_supported_kind(kind: i64) -> Result<(), LeError> {
    if kind == 1 || kind == 2 { Ok(()) } else { Err(LeError::Other) }
}

/// guard.go `requirePermissionsOnFolder`: in General, `HasRole(Editor)` (Editors, Admins and
/// server admins, pkg/models/user.go:219) may write and Viewers may not; a caller with no role
/// falls through to the General folder's guardian, which grants it nothing; elsewhere the folder must exist and be viewable (`GetFolderByID`) and the caller
/// must be able to edit it (`CanEdit`).
fn require_permissions_on_folder(db: &Db, id: &Identity, folder_id: i64) -> Result<(), LeError> {
    if folder_id == 0 {
        return if id.has_role(Role::Editor) { Ok(()) } else { Err(LeError::FolderAccessDenied) };
    }
    let f = db
        .dashboards
        .get(&folder_id)
        .filter(|d| d.org_id == id.org_id && d.is_folder && d.folder_id == 0)
        .ok_or(LeError::FolderNotFound)?;
    if !has_permission(db, id, f.id, PERM_VIEW) || !has_permission(db, id, f.id, PERM_EDIT) {
        return Err(LeError::FolderAccessDenied);
    }
    Ok(())
}

/// database.go `syncFieldsWithModel`: the model must decode into a JSON object; a variable's
/// `name` is the element's; `type` and `description` go from the model to the element when set,
/// else from the element to the model; the result is re-marshalled as Go does (sorted keys,
/// numbers as float64).
fn sync_fields_with_model(el: &mut LibraryElement, model: Option<&Value>) -> Result<(), LeError> {
    let mut m: Map<String, Value> = match model {
        // json.Unmarshal of an empty RawMessage: "unexpected end of JSON input".
        None => return Err(LeError::Other),
        // `null` leaves the map nil, and the first write to it panics.
        Some(Value::Null) => return Err(LeError::Panic),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(LeError::Other),
    };
    if el.kind == 2 {
        m.insert("name".into(), json!(el.name));
    }
    for (key, field) in [("type", &mut el.el_type), ("description", &mut el.description)] {
        match m.get(key) {
            None | Some(Value::Null) => {
                m.insert(key.into(), json!(field.clone()));
            }
            Some(Value::String(s)) => *field = s.clone(),
            // `model["type"].(string)` on another type panics.
            Some(_) => return Err(LeError::Panic),
        }
    }
    el.model = crate::http::go_normalise(&Value::Object(m));
    Ok(())
}

/// `LibraryElementDTOMetaUser`: the login and gravatar of a user row, empty for none (API keys
/// write user id 0, which joins no user).
fn meta_user(db: &Db, user_id: i64) -> Value {
    let (login, email) = db.users.get(&user_id).map(|u| (u.login.clone(), u.email.clone())).unwrap_or_default();
    json!({"id": user_id, "name": login, "avatarUrl": avatar_url(&email)})
}

fn connected_dashboards(db: &Db, element_id: i64) -> usize {
    db.library_connections.values().filter(|c| c.element_id == element_id && c.kind == 1).count()
}

/// `LibraryElementDTO` with its meta; `folder` is the (name, uid) the query selected.
fn dto(db: &Db, el: &LibraryElement, folder: (&str, &str)) -> Value {
    json!({
        "id": el.id, "orgId": el.org_id, "folderId": el.folder_id, "uid": el.uid, "name": el.name,
        "kind": el.kind, "type": el.el_type, "description": el.description, "model": el.model,
        "version": el.version,
        "meta": {
            "folderName": folder.0, "folderUid": folder.1,
            "connectedDashboards": connected_dashboards(db, el.id),
            "created": el.created, "updated": el.updated,
            "createdBy": meta_user(db, el.created_by), "updatedBy": meta_user(db, el.updated_by),
        },
    })
}

/// database.go `getLibraryElement`: the org's element of that uid in any folder, with
/// `coalesce(dashboard.title, 'General')` and `coalesce(dashboard.uid, '')` as its folder.
fn get_any<'a>(db: &'a Db, org_id: i64, uid: &str) -> Result<(&'a LibraryElement, String, String), LeError> {
    let el = db.library_elements.values().find(|e| e.org_id == org_id && e.uid == uid).ok_or(LeError::NotFound)?;
    let (name, fuid) = match db.dashboards.get(&el.folder_id) {
        Some(f) => (f.title.clone(), f.uid.clone()),
        None => ("General".to_string(), String::new()),
    };
    Ok((el, name, fuid))
}

/// The folder row an element in a folder joins (`INNER JOIN dashboard ... le.folder_id <> 0`).
fn folder_of<'a>(db: &'a Db, el: &LibraryElement) -> Option<&'a Dash> {
    (el.folder_id != 0).then(|| db.dashboards.get(&el.folder_id)).flatten()
}

/// database.go `getLibraryElements`: General's elements, then those in a folder the caller may
/// view (the SQL permission filter), as one `UNION` — which sorts, by name first.
fn visible<'a>(db: &'a Db, id: &Identity, matches: impl Fn(&LibraryElement) -> bool) -> Vec<Value> {
    let mut found: Vec<(&'a LibraryElement, Option<&'a Dash>)> = db
        .library_elements
        .values()
        .filter(|e| e.org_id == id.org_id && matches(e))
        .filter_map(|e| {
            if e.folder_id == 0 {
                return Some((e, None));
            }
            let f = folder_of(db, e)?;
            sql_can(db, id, f, PERM_VIEW).then_some((e, Some(f)))
        })
        .collect();
    found.sort_by(|a, b| a.0.name.cmp(&b.0.name).then(a.0.id.cmp(&b.0.id)));
    found
        .into_iter()
        .map(|(e, f)| match f {
            Some(f) => dto(db, e, (&f.title, &f.uid)),
            None => dto(db, e, ("General", "")),
        })
        .collect()
}

#[derive(Deserialize, Default)]
struct CreateCmd {
    #[serde(default, rename = "folderId")]
    folder_id: Option<i64>,
    #[serde(default)]
    name: Option<String>,
    /// `json.RawMessage`: absent is nil, `null` is the text `null`.
    #[serde(default, deserialize_with = "raw_present")]
    model: Option<Value>,
    #[serde(default)]
    kind: Option<i64>,
    #[serde(default)]
    uid: Option<String>,
}

/// Keeps a present `null` as `Some(Value::Null)`, as a `json.RawMessage` keeps the text `null`.
fn raw_present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// api.go `createHandler` → database.go `createLibraryElement`.
async fn create(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, headers: HeaderMap, body: Bytes) -> R {
    let cmd: CreateCmd = bind_go(&headers, &body, CREATE_FIELDS)?;
    // models.go: `Kind int64 binding:"Required"`.
    let kind = cmd.kind.unwrap_or(0);
    if kind == 0 {
        return Err(crate::http::bad_request_data());
    }
    let mut db = app.db();
    let mut el = create_element(&db, &id, kind, cmd).map_err(|e| e.respond("Failed to create library element"))?;
    el.id = db.next_id("library_element");
    // The create answer's meta has no folder name or uid; both users are the caller.
    let v = dto(&db, &el, ("", ""));
    db.library_elements.insert(el.id, el);
    Ok(json(200, &json!({ "result": v })))
}

/// Validates a create command and builds its row (id 0 until stored).
fn create_element(db: &Db, id: &Identity, kind: i64, cmd: CreateCmd) -> Result<LibraryElement, LeError> {
    require_supported_kind(kind)?;
    let mut uid = cmd.uid.unwrap_or_default();
    if uid.is_empty() {
        uid = generate_short_uid();
    } else if !is_valid_short_uid(&uid) {
        return Err(LeError::InvalidUid);
    } else if is_short_uid_too_long(&uid) {
        return Err(LeError::UidTooLong);
    }
    let now = now_rfc3339();
    let mut el = LibraryElement {
        id: 0,
        org_id: id.org_id,
        folder_id: cmd.folder_id.unwrap_or(0),
        uid,
        name: cmd.name.unwrap_or_default(),
        kind,
        el_type: String::new(),
        description: String::new(),
        model: Value::Null,
        version: 1,
        created: now.clone(),
        updated: now,
        created_by: id.user_id,
        updated_by: id.user_id,
    };
    sync_fields_with_model(&mut el, cmd.model.as_ref())?;
    require_permissions_on_folder(db, id, el.folder_id)?;
    // UQE (org_id, folder_id, name, kind) and (org_id, uid).
    if db.library_elements.values().any(|e| {
        e.org_id == el.org_id
            && (e.uid == el.uid || (e.folder_id == el.folder_id && e.name == el.name && e.kind == el.kind))
    }) {
        return Err(LeError::AlreadyExists);
    }
    Ok(el)
}

/// api.go `getHandler` → `getLibraryElementByUid`.
async fn get_by_uid(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(uid): Path<String>) -> R {
    let db = app.db();
    let found = visible(&db, &id, |e| e.uid == uid);
    match found.into_iter().next() {
        Some(v) => Ok(json(200, &json!({ "result": v }))),
        None => Err(LeError::NotFound.respond("Failed to get library element")),
    }
}

/// api.go `getByNameHandler` → `getLibraryElementsByName`: every visible element of that name.
async fn get_by_name(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(name): Path<String>) -> R {
    let db = app.db();
    let found = visible(&db, &id, |e| e.name == name);
    if found.is_empty() {
        return Err(LeError::NotFound.respond("Failed to get library element"));
    }
    Ok(json(200, &json!({ "result": found })))
}

/// api.go `getAllHandler` → database.go `getAllLibraryElements` with writers.go's filters.
async fn get_all(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    let q = parse_query(req.uri().query());
    let fail = || LeError::Other.respond("Failed to get library elements");
    let mut per_page = query_i64(&q, "perPage");
    if per_page <= 0 {
        per_page = 100;
    }
    let mut page = query_i64(&q, "page");
    if page <= 0 {
        page = 1;
    }
    let search = query_str(&q, "searchString");
    let kind = query_i64(&q, "kind");
    let type_filter: Vec<&str> = if query_str(&q, "typeFilter").trim().is_empty() {
        vec![]
    } else {
        query_str(&q, "typeFilter").split(',').collect()
    };
    let exclude = query_str(&q, "excludeUid");
    // writers.go parseFolderFilter / writeFolderFilterSQL: every entry must parse as an int64.
    let raw_folders = query_str(&q, "folderFilter");
    let (include_general, folder_ids): (bool, Vec<i64>) = if raw_folders.trim().is_empty() {
        (true, vec![])
    } else {
        let ids: Vec<i64> =
            raw_folders.split(',').map(|f| f.parse::<i64>()).collect::<Result<_, _>>().map_err(|_| fail())?;
        (ids.contains(&0), ids)
    };
    let db = app.db();
    let filtered = |e: &LibraryElement| {
        e.org_id == id.org_id
            && (kind != 1 && kind != 2 || e.kind == kind)
            && (search.trim().is_empty()
                || sql_like(&format!("%{search}%"), &e.name)
                || sql_like(&format!("%{search}%"), &e.description))
            && (exclude.trim().is_empty() || e.uid != exclude)
            && (type_filter.is_empty() || type_filter.contains(&e.el_type.as_str()))
    };
    let mut rows: Vec<(&LibraryElement, &str, &str)> = Vec::new();
    for e in db.library_elements.values().filter(|e| filtered(e)) {
        if e.folder_id == 0 {
            if include_general {
                rows.push((e, "General", ""));
            }
            continue;
        }
        let Some(f) = folder_of(&db, e) else { continue };
        let in_filter = folder_ids.iter().filter(|i| **i != 0).count() == 0 || folder_ids.contains(&e.folder_id);
        if in_filter && sql_can(&db, &id, f, PERM_VIEW) {
            rows.push((e, &f.title, &f.uid));
        }
    }
    rows.sort_by(|a, b| a.0.name.cmp(&b.0.name).then(a.0.id.cmp(&b.0.id)));
    if query_str(&q, "sortDirection") == "alpha-desc" {
        rows.sort_by(|a, b| b.0.name.cmp(&a.0.name));
    }
    let elements: Vec<Value> = rows
        .iter()
        .skip(per_page.saturating_mul(page - 1).max(0) as usize)
        .take(per_page as usize)
        .map(|(e, name, uid)| dto(&db, e, (name, uid)))
        .collect();
    // The count query has neither the folder join nor the permission filter, and its folder
    // filter keeps 0.
    let total = db
        .library_elements
        .values()
        .filter(|e| filtered(e) && (folder_ids.is_empty() || folder_ids.contains(&e.folder_id)))
        .count();
    Ok(json(200, &json!({"result": {"totalCount": total, "elements": elements, "page": page, "perPage": per_page}})))
}

#[derive(Deserialize, Default)]
struct PatchCmd {
    /// `binding:"Default(-1)"` is not applied by 8.5.4's `web.Bind`, so an absent folder id
    /// is 0.
    #[serde(default, rename = "folderId")]
    folder_id: Option<i64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "raw_present")]
    model: Option<Value>,
    #[serde(default)]
    kind: Option<i64>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    uid: Option<String>,
}

/// api.go `patchHandler` → database.go `patchLibraryElement`.
async fn patch(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(uid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let cmd: PatchCmd = bind_go(&headers, &body, PATCH_FIELDS)?;
    // `Kind` and `Version` are `binding:"Required"`.
    let (kind, version) = (cmd.kind.unwrap_or(0), cmd.version.unwrap_or(0));
    if kind == 0 || version == 0 {
        return Err(crate::http::bad_request_data());
    }
    let mut db = app.db();
    let (saved, answer) =
        patch_element(&db, &id, &uid, kind, version, cmd).map_err(|e| e.respond("Failed to update library element"))?;
    db.library_elements.insert(saved.id, saved);
    Ok(json(200, &json!({ "result": answer })))
}

/// Validates a patch; returns the row to store and the answer's DTO.
fn patch_element(
    db: &Db,
    id: &Identity,
    uid: &str,
    kind: i64,
    version: i64,
    cmd: PatchCmd,
) -> Result<(LibraryElement, Value), LeError> {
    require_supported_kind(kind)?;
    let (in_db, _, _) = get_any(db, id.org_id, uid)?;
    if in_db.version != version {
        return Err(LeError::VersionMismatch);
    }
    let mut new_uid = cmd.uid.unwrap_or_default();
    if new_uid.is_empty() {
        new_uid = uid.to_string();
    } else if new_uid != uid {
        if !is_valid_short_uid(&new_uid) {
            return Err(LeError::InvalidUid);
        } else if is_short_uid_too_long(&new_uid) {
            return Err(LeError::UidTooLong);
        }
        if get_any(db, id.org_id, &new_uid).is_ok() {
            return Err(LeError::AlreadyExists);
        }
    }
    let to_folder = cmd.folder_id.unwrap_or(0);
    let name = cmd.name.filter(|n| !n.is_empty()).unwrap_or_else(|| in_db.name.clone());
    let mut el = LibraryElement {
        uid: new_uid,
        name,
        version: in_db.version + 1,
        updated: now_rfc3339(),
        updated_by: id.user_id,
        ..in_db.clone()
    };
    // handleFolderIDPatches: the target folder when it changes, then the current one.
    let to_folder = if to_folder == -1 { in_db.folder_id } else { to_folder };
    if to_folder != in_db.folder_id {
        require_permissions_on_folder(db, id, to_folder)?;
    }
    require_permissions_on_folder(db, id, in_db.folder_id)?;
    let model = cmd.model.unwrap_or_else(|| in_db.model.clone());
    sync_fields_with_model(&mut el, Some(&model))?;
    // xorm's `Update(&struct)` writes only non-zero fields, so a move to General (0) and an
    // emptied type or description are not stored; the answer shows the command's values.
    let mut stored = el.clone();
    el.folder_id = to_folder;
    if to_folder != 0 {
        stored.folder_id = to_folder;
    }
    if stored.el_type.is_empty() {
        stored.el_type = in_db.el_type.clone();
    }
    if stored.description.is_empty() {
        stored.description = in_db.description.clone();
    }
    if db.library_elements.values().any(|e| {
        e.id != stored.id
            && e.org_id == stored.org_id
            && (e.uid == stored.uid
                || (e.folder_id == stored.folder_id && e.name == stored.name && e.kind == stored.kind))
    }) {
        return Err(LeError::AlreadyExists);
    }
    // The answer's meta has no folder, the creator from the row and the caller as updater.
    let mut answer = dto(db, &el, ("", ""));
    answer["meta"]["updatedBy"] = meta_user(db, id.user_id);
    Ok((stored, answer))
}

/// api.go `deleteHandler` → database.go `deleteLibraryElement`: refused while any connection
/// row exists, even one whose dashboard is gone.
async fn delete(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(uid): Path<String>) -> R {
    let mut db = app.db();
    let el_id = {
        let (el, _, _) = get_any(&db, id.org_id, &uid).map_err(|e| e.respond("Failed to delete library element"))?;
        require_permissions_on_folder(&db, &id, el.folder_id)
            .map_err(|e| e.respond("Failed to delete library element"))?;
        if db.library_connections.values().any(|c| c.element_id == el.id) {
            return Err(LeError::HasConnections.respond("Failed to delete library element"));
        }
        el.id
    };
    db.library_elements.remove(&el_id);
    Ok(json(200, &json!({"id": el_id, "message": "Library element deleted"})))
}

/// api.go `getConnectionsHandler` → database.go `getConnections`: connections to dashboards
/// that exist and, for non-admins, that the caller may view.
async fn connections(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(uid): Path<String>) -> R {
    let db = app.db();
    let (el, _, _) = get_any(&db, id.org_id, &uid).map_err(|e| e.respond("Failed to get connections"))?;
    let list: Vec<Value> = db
        .library_connections
        .values()
        .filter(|c| c.element_id == el.id)
        .filter(|c| db.dashboards.get(&c.connection_id).is_some_and(|d| sql_can(&db, &id, d, PERM_VIEW)))
        .map(|c| {
            json!({"id": c.id, "kind": c.kind, "elementId": c.element_id, "connectionId": c.connection_id,
                   "created": c.created, "createdBy": meta_user(&db, c.created_by)})
        })
        .collect();
    Ok(json(200, &json!({ "result": list })))
}

/// A panel is handled when it has a non-null `libraryPanel` or is a row
/// (librarypanels.go `isLibraryPanelOrRow`).
fn is_library_panel_or_row(panel: &Value) -> bool {
    !panel.get("libraryPanel").unwrap_or(&Value::Null).is_null() || panel["type"] == json!("row")
}

/// simplejson's `MustInt64(default)`: integral JSON numbers (or floats, truncated), else the
/// default.
fn must_i64(v: &Value, default: i64) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).unwrap_or(default),
        _ => default,
    }
}

/// simplejson's `MustMap()`: the object, or `null`.
fn must_map(v: &Value) -> Value {
    if v.is_object() { v.clone() } else { Value::Null }
}

/// librarypanels.go `CleanLibraryPanelsForDashboard`: each library panel (in rows too) is cut
/// down to `id` (its index when it has none), `gridPos` and `libraryPanel: {uid, name}`; a
/// library panel without a uid or name fails the save with 500 "Error while cleaning library
/// panels" (pkg/api/dashboard.go:351).
pub(crate) fn clean_library_panels(parent: &mut Value) -> Result<(), Response> {
    let fail = || err_trace(500, "Error while cleaning library panels");
    let Some(panels) = parent.get_mut("panels").and_then(Value::as_array_mut) else { return Ok(()) };
    for (i, panel) in panels.iter_mut().enumerate() {
        if !panel.is_object() || !is_library_panel_or_row(panel) {
            continue;
        }
        if panel["type"] == json!("row") {
            clean_library_panels(panel)?;
            continue;
        }
        let uid = panel["libraryPanel"]["uid"].as_str().unwrap_or("").to_string();
        let name = panel["libraryPanel"]["name"].as_str().unwrap_or("").to_string();
        if uid.is_empty() || name.is_empty() {
            return Err(fail());
        }
        *panel = json!({
            "id": must_i64(&panel["id"], i as i64),
            "gridPos": must_map(&panel["gridPos"]),
            "libraryPanel": {"uid": uid, "name": name},
        });
    }
    Ok(())
}

/// The library panel uids of a dashboard: top-level panels and the panels of rows
/// (librarypanels.go `connectLibraryPanelsRecursively`).
fn library_panel_uids(panels: &[Value], out: &mut BTreeSet<String>) -> Result<(), ()> {
    for panel in panels {
        if !panel.is_object() || !is_library_panel_or_row(panel) {
            continue;
        }
        if panel["type"] == json!("row") {
            library_panel_uids(panel["panels"].as_array().map(Vec::as_slice).unwrap_or(&[]), out)?;
            continue;
        }
        let uid = panel["libraryPanel"]["uid"].as_str().unwrap_or("");
        if uid.is_empty() {
            return Err(());
        }
        out.insert(uid.to_string());
    }
    Ok(())
}

/// librarypanels.go `ConnectLibraryPanelsForDashboard` → database.go
/// `connectElementsToDashboardID`, after the dashboard is saved: in one transaction, the
/// dashboard's connections are replaced by one per library panel, each element found in the
/// org (any folder) and writable by the caller; any failure keeps the old connections and
/// answers 500 "Error while connecting library panels" (pkg/api/dashboard.go:395).
pub(crate) fn connect_library_panels(db: &mut Db, id: &Identity, dash_id: i64, data: &Value) -> Result<(), Response> {
    let fail = || err_trace(500, "Error while connecting library panels");
    let mut uids = BTreeSet::new();
    library_panel_uids(data["panels"].as_array().map(Vec::as_slice).unwrap_or(&[]), &mut uids).map_err(|_| fail())?;
    let mut element_ids = Vec::with_capacity(uids.len());
    for uid in &uids {
        let (el, _, _) = get_any(db, id.org_id, uid).map_err(|_| fail())?;
        require_permissions_on_folder(db, id, el.folder_id).map_err(|_| fail())?;
        element_ids.push(el.id);
    }
    disconnect_dashboard(db, dash_id);
    let now = now_rfc3339();
    for element_id in element_ids {
        let cid = db.next_id("library_element_connection");
        db.library_connections.insert(
            cid,
            LibraryConnection {
                id: cid,
                element_id,
                kind: 1,
                connection_id: dash_id,
                created: now.clone(),
                created_by: id.user_id,
            },
        );
    }
    Ok(())
}

/// database.go `disconnectElementsFromDashboardID` (pkg/api/dashboard.go `deleteDashboard`).
pub(crate) fn disconnect_dashboard(db: &mut Db, dash_id: i64) {
    db.library_connections.retain(|_, c| !(c.kind == 1 && c.connection_id == dash_id));
}

/// librarypanels.go `LoadLibraryPanelsForDashboard`, for `GET /api/dashboards/uid/:uid`: each
/// library panel becomes its connected element's model with the dashboard's `gridPos` and `id`
/// and a `libraryPanel` with the element's meta; a panel whose element is not connected gets a
/// placeholder type naming it.
pub(crate) fn load_library_panels(db: &Db, dash_id: i64, data: &mut Value) {
    let connected: Vec<&LibraryElement> = db
        .library_connections
        .values()
        .filter(|c| c.kind == 1 && c.connection_id == dash_id)
        .filter_map(|c| db.library_elements.get(&c.element_id))
        .collect();
    load_recursively(db, &connected, data);
}

fn load_recursively(db: &Db, connected: &[&LibraryElement], parent: &mut Value) {
    let Some(panels) = parent.get_mut("panels").and_then(Value::as_array_mut) else { return };
    for panel in panels.iter_mut() {
        if !panel.is_object() || !is_library_panel_or_row(panel) {
            continue;
        }
        if panel["type"] == json!("row") {
            load_recursively(db, connected, panel);
            continue;
        }
        let uid = panel["libraryPanel"]["uid"].as_str().unwrap_or("").to_string();
        let grid_pos = must_map(&panel["gridPos"]);
        let panel_id = must_i64(&panel["id"], 0);
        let Some(el) = connected.iter().find(|e| e.uid == uid) else {
            let name = panel["libraryPanel"]["name"].as_str().unwrap_or("").to_string();
            panel["gridPos"] = grid_pos;
            panel["id"] = json!(panel_id);
            panel["type"] = json!(format!("Name: \"{name}\", UID: \"{uid}\""));
            panel["libraryPanel"] = json!({"uid": uid, "name": name});
            continue;
        };
        if el.kind != 1 {
            continue;
        }
        let (folder_name, folder_uid) = match db.dashboards.get(&el.folder_id) {
            Some(f) => (f.title.clone(), f.uid.clone()),
            None => ("General".to_string(), String::new()),
        };
        let mut model = el.model.clone();
        if !model.is_object() {
            model = json!({});
        }
        model["gridPos"] = grid_pos;
        model["id"] = json!(panel_id);
        model["libraryPanel"] = json!({
            "uid": el.uid, "name": el.name, "type": el.el_type, "description": el.description,
            "version": el.version,
            "meta": {
                "folderName": folder_name, "folderUid": folder_uid,
                "connectedDashboards": connected_dashboards(db, el.id),
                "created": el.created, "updated": el.updated,
                "createdBy": meta_user(db, el.created_by), "updatedBy": meta_user(db, el.updated_by),
            },
        });
        *panel = model;
    }
}

/// pkg/api/folder.go `DeleteFolder` first calls database.go `deleteLibraryElementsInFolderUID`:
/// the folder must exist and be editable, none of its elements may be connected (403), and its
/// elements are deleted.
pub(crate) fn delete_in_folder(db: &mut Db, id: &Identity, folder_uid: &str) -> Result<(), Response> {
    let Some(folder) = db.folder_by_uid(id.org_id, folder_uid) else {
        return Err(crate::apierrors::folder_not_found());
    };
    let folder_id = folder.id;
    match require_permissions_on_folder(db, id, folder_id) {
        Ok(()) => {}
        Err(LeError::FolderNotFound) => return Err(crate::apierrors::folder_not_found()),
        Err(LeError::FolderAccessDenied) => return Err(crate::apierrors::access_denied()),
        Err(_) => return Err(err_trace(500, "Folder API error")),
    }
    let in_folder: Vec<i64> = db
        .library_elements
        .values()
        .filter(|e| e.folder_id == folder_id && e.org_id == id.org_id)
        .map(|e| e.id)
        .collect();
    if db.library_connections.values().any(|c| in_folder.contains(&c.element_id)) {
        return Err(err_trace(403, "Folder could not be deleted because it contains library elements in use"));
    }
    for e in in_folder {
        db.library_elements.remove(&e);
    }
    Ok(())
}
