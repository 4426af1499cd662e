//! Dashboards and search: pkg/api/dashboard.go, pkg/api/apierrors/dashboard.go,
//! pkg/services/dashboards/manager/dashboard_service.go, pkg/services/dashboards/database/database.go,
//! pkg/services/sqlstore/dashboard_version.go, pkg/models/dashboards.go, pkg/api/search.go,
//! pkg/services/search/service.go and pkg/models/search.go at v8.5.4.

use crate::auth::{Identity, PERM_ADMIN, PERM_EDIT, PERM_VIEW, has_permission};
use crate::http::{
    R, bind_fields, err_plain, err_trace, json, json_map, parse_param, parse_query, query_all, query_i64, query_str,
    status_msg,
};
use crate::permissions;
use crate::server::App;
use crate::slug::slugify;
use crate::state::{Dash, DashVersion, Db, folder_url};
use crate::util::{generate_short_uid, is_short_uid_too_long, is_valid_short_uid, now_rfc3339};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/dashboards/db", post(save))
        .route("/api/dashboards/uid/{uid}", get(get_by_uid).delete(delete_by_uid))
        .route("/api/dashboards/id/{dashboard_id}/versions", get(versions))
        .route("/api/dashboards/id/{dashboard_id}/versions/{id}", get(version))
        .route("/api/dashboards/id/{dashboard_id}/permissions", get(get_permissions).post(update_permissions))
        .route("/api/dashboards/id/{dashboard_id}/restore", post(restore))
        .route("/api/dashboards/tags", get(tags))
        .route("/api/search", get(search))
}

fn dash_url(d: &Dash) -> String {
    if d.is_folder { folder_url(&d.uid, &d.slug) } else { format!("/d/{}/{}", d.uid, d.slug) }
}

/// A `DashboardErr` through `ToDashboardErrorResponse`: a status body when the error has a
/// status, `{"message"}` for 400s, and `{"message","traceID"}` otherwise.
fn dash_err(code: u16, status: Option<&str>, reason: &str) -> Response {
    match status {
        Some(s) => status_msg(code, s, reason),
        None if code == 400 => err_plain(code, reason),
        None => err_trace(code, reason),
    }
}

/// pkg/api/dashboard.go `dashboardGuardianResponse(nil)`.
pub(crate) fn access_denied() -> Response {
    err_plain(403, "Access denied to this dashboard")
}

/// `models.SaveDashboardCommand` as `web.Bind` decodes it: `dashboard` is required (absent or
/// `null` fails the bind); `userId` and `UpdatedAt` are decoded (a wrong type fails) but not
/// used by `PostDashboard`.
#[derive(Deserialize, Default)]
struct SaveCmd {
    #[serde(default)]
    dashboard: Option<Value>,
    #[serde(default, rename = "userId")]
    #[allow(dead_code)]
    user_id: Option<i64>,
    #[serde(default)]
    overwrite: Option<bool>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "folderId")]
    folder_id: Option<i64>,
    #[serde(default, rename = "folderUid")]
    folder_uid: Option<String>,
    #[serde(default, rename = "isFolder")]
    is_folder: Option<bool>,
    /// `time.Time` without a JSON tag: `null` or a string.
    #[serde(default, rename = "UpdatedAt")]
    #[allow(dead_code)]
    updated_at: Option<Option<String>>,
}

/// pkg/api/dashboard.go `PostDashboard`.
async fn save(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, headers: HeaderMap, body: Bytes) -> R {
    let cmd: SaveCmd = bind_fields(
        &headers,
        &body,
        &["dashboard", "userId", "overwrite", "message", "folderId", "folderUid", "isFolder", "UpdatedAt"],
    )?;
    let Some(data) = cmd.dashboard.filter(|d| !d.is_null()) else {
        return Err(crate::http::bad_request_data());
    };
    let mut db = app.db();
    let input = SaveInput {
        data,
        overwrite: cmd.overwrite.unwrap_or(false),
        message: cmd.message.unwrap_or_default(),
        folder_id: cmd.folder_id.unwrap_or(0),
        is_folder: cmd.is_folder.unwrap_or(false),
        restored_from: 0,
    };
    post_dashboard(&mut db, &id, &cmd.folder_uid.unwrap_or_default(), input)
}

/// What `postDashboard` saves: the command's fields that reach the store.
struct SaveInput {
    data: Value,
    overwrite: bool,
    message: String,
    folder_id: i64,
    is_folder: bool,
    restored_from: i64,
}

/// The fields `NewDashboardFromJson` (pkg/models/dashboards.go) reads from the JSON: `id` and
/// `version` when they are numbers (float64, truncated), `uid` when it is a string; `version`
/// only counts when `id` or `uid` was given, else the JSON's version is set to 0. The slug is
/// that of the title as sent, before `BuildSaveDashboardCommand` trims it.
struct DashModel {
    id: i64,
    uid: String,
    version: i64,
    slug: String,
}

impl DashModel {
    fn from_json(data: &mut Value) -> DashModel {
        let number = |v: &Value| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64));
        let id = number(&data["id"]);
        let uid = data["uid"].as_str().map(str::to_string);
        let update = id.is_some() || uid.is_some();
        let version = number(&data["version"]).filter(|_| update);
        if version.is_none()
            && let Some(m) = data.as_object_mut()
        {
            m.insert("version".into(), json!(0));
        }
        DashModel {
            id: id.unwrap_or(0),
            uid: uid.unwrap_or_default(),
            version: version.unwrap_or(0),
            slug: slugify(data["title"].as_str().unwrap_or("")),
        }
    }
}

/// simplejson's `Set` on the dashboard JSON: a no-op unless it is an object.
fn set(data: &mut Value, key: &str, v: Value) {
    if let Some(m) = data.as_object_mut() {
        m.insert(key.into(), v);
    }
}

/// pkg/api/dashboard.go `postDashboard`: the folder by uid, the library panels cleaned, the
/// save, then the library panels connected.
fn post_dashboard(db: &mut Db, id: &Identity, folder_uid: &str, mut input: SaveInput) -> R {
    if !folder_uid.is_empty() {
        // dashboard.go:305 folderService.GetFolderByUID: not found is 400, any other error
        // (the view check) 500.
        let Some(f) = db.folder_by_uid(id.org_id, folder_uid) else {
            return Err(err_trace(400, "Folder not found"));
        };
        if !has_permission(db, id, f.id, PERM_VIEW) {
            return Err(err_trace(500, "Error while checking folder ID"));
        }
        input.folder_id = f.id;
    }
    crate::library_elements::clean_library_panels(&mut input.data)?;
    let saved = save_dashboard(db, id, input)?;
    crate::library_elements::connect_library_panels(db, id, saved.id, &saved.data)?;
    // A `util.DynMap`: Go writes its keys sorted.
    Ok(json_map(
        200,
        json!({"status": "success", "slug": saved.slug, "version": saved.version, "id": saved.id,
                "uid": saved.uid, "url": dash_url(&saved)}),
    ))
}

/// pkg/services/dashboards/manager/dashboard_service.go `validateDashboardRefreshInterval`
/// with `min_refresh_interval = 5s` (conf/defaults.ini): `SaveDashboard` replaces a string
/// `refresh` that is shorter, or that gtime cannot parse, by "5s".
fn apply_min_refresh(data: &mut Value) {
    let Some(refresh) = data.get("refresh").and_then(Value::as_str) else { return };
    if refresh.is_empty() {
        return;
    }
    if gtime_duration_nanos(refresh).is_none_or(|ns| ns < 5_000_000_000) {
        set(data, "refresh", json!("5s"));
    }
}

/// grafana-plugin-sdk-go v0.131.0 `gtime.ParseDuration` in nanoseconds: `^(\d+)([dwMy])$`
/// (days, weeks, Julian months and years), else Go's `time.ParseDuration`.
fn gtime_duration_nanos(s: &str) -> Option<i128> {
    const DAY: i128 = 24 * 3600 * 1_000_000_000;
    if let Some(unit) = s.chars().last()
        && "dwMy".contains(unit)
        && s.len() > 1
        && s[..s.len() - 1].bytes().all(|b| b.is_ascii_digit())
    {
        let n: i128 = s[..s.len() - 1].parse::<i64>().ok()?.into();
        let year = DAY * 36525 / 100;
        return Some(match unit {
            'd' => n * DAY,
            'w' => n * 7 * DAY,
            'M' => n * (year / 12),
            _ => n * year,
        });
    }
    crate::util::go_parse_duration_nanos(s)
}

/// pkg/services/alerting/extractor.go `ValidateAlerts`, the part that needs no data source:
/// every panel with an `alert` key (in `rows` when there are rows, and in collapsed panels)
/// needs a numeric id, and an enabled alert a frequency with a unit that is not zero. A
/// `ValidationError` answers 422 built from the error (pkg/api/apierrors/dashboard.go).
fn validate_alerts(data: &Value, dash_id: i64) -> Result<(), Response> {
    fn panels(parent: &Value, dash_id: i64) -> Result<(), Response> {
        for panel in parent["panels"].as_array().into_iter().flatten() {
            if panel["collapsed"].as_bool() == Some(true) && panel.get("collapsed").is_some() {
                panels(panel, dash_id)?;
                continue;
            }
            let Some(alert) = panel.get("alert") else { continue };
            // simplejson's Int64 on a json.Number: integer literals only.
            let Some(panel_id) = panel["id"].as_i64() else {
                return Err(err_trace(422, "alert validation error: A numeric panel id property is missing"));
            };
            if alert.get("enabled").is_some() && alert["enabled"].as_bool() != Some(true) {
                continue;
            }
            let reason = frequency_error(alert["frequency"].as_str().unwrap_or(""));
            if let Some(reason) = reason {
                let mut msg = format!("alert validation error: {reason}");
                if panel_id != 0 {
                    msg.push_str(&format!(" PanelId: {panel_id}"));
                }
                if dash_id != 0 {
                    msg.push_str(&format!(" DashboardId: {dash_id}"));
                }
                return Err(err_trace(422, &msg));
            }
        }
        Ok(())
    }
    match data["rows"].as_array() {
        Some(rows) if !rows.is_empty() => rows.iter().try_for_each(|r| panels(r, dash_id)),
        _ => panels(data, dash_id),
    }
}

/// pkg/services/alerting/rule.go `getTimeDurationStringToSeconds`, for the errors it words the
/// same every time: no unit, or no leading number, and a zero value. An unknown unit (whose
/// message lists a Go map's keys in random order) and a text with no `[a-z]` (a panic) pass.
fn frequency_error(freq: &str) -> Option<&'static str> {
    const UNPARSED: &str = "\"evaluate every\" field could not be parsed";
    if freq.bytes().all(|b| b.is_ascii_digit()) {
        return Some(UNPARSED);
    }
    let start = freq.find(|c: char| c.is_ascii_lowercase())?;
    let unit: String = freq[start..].chars().take_while(char::is_ascii_lowercase).collect();
    if !matches!(unit.as_str(), "s" | "m" | "h" | "d") {
        return None;
    }
    let digits: String = freq.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Some(UNPARSED);
    }
    match digits.parse::<i64>() {
        Ok(0) => Some("\"evaluate every\" cannot be zero or below"),
        _ => None,
    }
}

/// `DashboardServiceImpl.SaveDashboard` → `BuildSaveDashboardCommand` →
/// `ValidateDashboardBeforeSave` → the store's `saveDashboard`, at v8.5.4. Returns the saved
/// row.
fn save_dashboard(db: &mut Db, id: &Identity, input: SaveInput) -> Result<Dash, Response> {
    let SaveInput { mut data, overwrite, message, folder_id, is_folder, restored_from } = input;
    let model = DashModel::from_json(&mut data);
    let (mut dash_id, mut version) = (model.id, model.version);
    apply_min_refresh(&mut data);
    // BuildSaveDashboardCommand
    let title = data["title"].as_str().unwrap_or("").trim().to_string();
    set(&mut data, "title", json!(title));
    let mut uid = model.uid.trim().to_string();
    set(&mut data, "uid", json!(uid));
    if title.is_empty() {
        return Err(dash_err(400, Some("empty-name"), "Dashboard title cannot be empty"));
    }
    if is_folder && folder_id > 0 {
        return Err(dash_err(400, None, "A Dashboard Folder cannot be added to another folder"));
    }
    if is_folder && title.eq_ignore_ascii_case("General") {
        return Err(dash_err(400, None, "A folder with that name already exists"));
    }
    if !is_valid_short_uid(&uid) {
        return Err(dash_err(400, None, "uid contains illegal characters"));
    }
    if is_short_uid_too_long(&uid) {
        return Err(dash_err(400, None, "uid too long, max 40 characters"));
    }
    validate_alerts(&data, dash_id)?;
    // database.go getExistingDashboardByIdOrUidForUpdate
    let mut parent_changed = false;
    let by_id = if dash_id > 0 {
        let d = db.dashboards.get(&dash_id).filter(|d| d.org_id == id.org_id).cloned();
        let Some(d) = d else {
            return Err(dash_err(404, Some("not-found"), "Dashboard not found"));
        };
        if uid.is_empty() {
            uid = d.uid.clone();
        }
        Some(d)
    } else {
        None
    };
    let by_uid = if uid.is_empty() { None } else { db.dash_by_uid(id.org_id, &uid).cloned() };
    if folder_id > 0 && !db.dashboards.get(&folder_id).is_some_and(|f| f.org_id == id.org_id && f.is_folder) {
        return Err(dash_err(404, None, "Folder not found"));
    }
    let existing = match (&by_id, &by_uid) {
        (None, None) => None,
        (Some(a), Some(b)) if a.id != b.id => {
            return Err(dash_err(400, None, "A dashboard with the same uid already exists"));
        }
        (Some(a), _) => Some(a.clone()),
        (None, Some(b)) => {
            dash_id = b.id;
            Some(b.clone())
        }
    };
    if let Some(e) = &existing {
        if e.is_folder != is_folder {
            return Err(dash_err(400, None, "Dashboard cannot be changed to a folder"));
        }
        if !is_folder && folder_id != e.folder_id {
            parent_changed = true;
        }
        if version != e.version {
            if overwrite {
                version = e.version;
            } else {
                return Err(dash_err(412, Some("version-mismatch"), "The dashboard has been changed by someone else"));
            }
        }
    }
    // database.go getExistingDashboardByTitleAndFolder, with the slug of the untrimmed title.
    if let Some(other) = db
        .dashboards
        .values()
        .find(|d| d.org_id == id.org_id && d.slug == model.slug && (d.is_folder || d.folder_id == folder_id))
        .cloned()
        && other.id != dash_id
    {
        if other.is_folder && !is_folder {
            return Err(dash_err(400, Some("name-match"), "Dashboard name cannot be the same as folder"));
        }
        if !other.is_folder && is_folder {
            return Err(dash_err(400, None, "Folder name cannot be the same as one of its dashboards"));
        }
        if !is_folder && (folder_id != other.folder_id || dash_id == 0) {
            parent_changed = true;
        }
        if overwrite {
            dash_id = other.id;
            uid = other.uid.clone();
            version = other.version;
        } else {
            return Err(dash_err(
                412,
                Some("name-exists"),
                "A dashboard with the same name in the folder already exists",
            ));
        }
    }
    // dashboard_service.go: with the legacy guardian, CanCreate is CanSave on the guardian's
    // dashboard id, which is the dashboard's own id for a move and, for the final check, the
    // folder's id for a new dashboard (GetDashboardIdForSavePermissionCheck).
    let denied = || dash_err(403, None, "Access denied to save dashboard");
    if parent_changed && !has_permission(db, id, dash_id, PERM_EDIT) {
        return Err(denied());
    }
    let check_id = if dash_id == 0 { folder_id } else { dash_id };
    if !has_permission(db, id, check_id, PERM_EDIT) {
        return Err(denied());
    }
    // saveDashboard: the model is read again from the JSON, whose title is now trimmed.
    let slug = slugify(&title);
    if dash_id < 0 || (dash_id > 0 && db.dashboards.get(&dash_id).is_none_or(|d| d.org_id != id.org_id)) {
        // An update of no row (a negative id) affects nothing: ErrDashboardNotFound.
        return Err(dash_err(404, Some("not-found"), "Dashboard not found"));
    }
    let now = now_rfc3339();
    let user = if id.user_id == 0 { -1 } else { id.user_id };
    while uid.is_empty() || (dash_id == 0 && db.dash_by_uid(id.org_id, &uid).is_some()) {
        uid = generate_short_uid();
    }
    let parent_version = version;
    let new_version = if dash_id == 0 { 1 } else { version.saturating_add(1) };
    let saved_id = if dash_id == 0 { db.next_id("dashboard") } else { dash_id };
    set(&mut data, "id", json!(saved_id));
    set(&mut data, "uid", json!(uid));
    set(&mut data, "version", json!(new_version));
    match db.dashboards.get_mut(&saved_id) {
        Some(d) => {
            // xorm's Update writes the non-zero fields (and folder_id): has_acl, created and
            // created_by stay.
            d.uid = uid.clone();
            d.title = title.clone();
            d.slug = slug;
            d.folder_id = folder_id;
            d.version = new_version;
            d.data = data.clone();
            d.updated = now.clone();
            d.updated_by = user;
        }
        None => {
            db.dashboards.insert(
                saved_id,
                Dash {
                    id: saved_id,
                    org_id: id.org_id,
                    uid: uid.clone(),
                    title: title.clone(),
                    slug,
                    is_folder,
                    folder_id,
                    version: 1,
                    data: data.clone(),
                    created: now.clone(),
                    updated: now.clone(),
                    created_by: user,
                    updated_by: user,
                    has_acl: false,
                },
            );
        }
    }
    let vid = db.next_id("dashboard_version");
    db.dash_versions.push(DashVersion {
        id: vid,
        dashboard_id: saved_id,
        parent_version,
        restored_from,
        version: new_version,
        created: now,
        created_by: user,
        message,
        data,
    });
    db.dashboards.get(&saved_id).cloned().ok_or_else(|| dash_err(500, None, "Failed to save dashboard"))
}

/// pkg/api/dashboard.go `GetDashboard`: `isStarred` is omitempty, annotations permissions are
/// all false with RBAC off.
async fn get_by_uid(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(uid): Path<String>) -> R {
    let db = app.db();
    let d = db.dash_by_uid(id.org_id, &uid).ok_or_else(|| err_trace(404, "Dashboard not found"))?;
    if !has_permission(&db, &id, d.id, PERM_VIEW) {
        return Err(access_denied());
    }
    let can_edit = has_permission(&db, &id, d.id, PERM_EDIT);
    // dashboard.go:150: the folder is read by id; a missing one is 404 "Folder not found".
    let (folder_uid, folder_title, folder_url_s) = match db.dashboards.get(&d.folder_id) {
        Some(f) if d.folder_id > 0 && f.org_id == id.org_id => (f.uid.clone(), f.title.clone(), dash_url(f)),
        _ if d.folder_id > 0 => return Err(err_trace(404, "Folder not found")),
        _ => (String::new(), "General".to_string(), String::new()),
    };
    let perms = json!({"canAdd": false, "canEdit": false, "canDelete": false});
    let meta = json!({
        "type": "db", "canSave": can_edit, "canEdit": can_edit, "canAdmin": has_permission(&db, &id, d.id, PERM_ADMIN),
        "canStar": true, "canDelete": can_edit, "slug": d.slug, "url": dash_url(d),
        "expires": "0001-01-01T00:00:00Z", "created": d.created, "updated": d.updated,
        "updatedBy": db.user_login(d.updated_by), "createdBy": db.user_login(d.created_by), "version": d.version,
        "hasAcl": d.has_acl, "isFolder": d.is_folder, "folderId": d.folder_id, "folderUid": folder_uid,
        "folderTitle": folder_title, "folderUrl": folder_url_s, "provisioned": false, "provisionedExternalId": "",
        "annotationsPermissions": {"dashboard": perms, "organization": perms},
    });
    let mut data = d.data.clone();
    set(&mut data, "version", json!(d.version));
    crate::library_elements::load_library_panels(&db, d.id, &mut data);
    Ok(json(200, &json!({"dashboard": data, "meta": meta})))
}

/// pkg/api/dashboard.go `deleteDashboard`.
async fn delete_by_uid(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(uid): Path<String>) -> R {
    let mut db = app.db();
    let d = db.dash_by_uid(id.org_id, &uid).cloned().ok_or_else(|| err_trace(404, "Dashboard not found"))?;
    if !has_permission(&db, &id, d.id, PERM_EDIT) {
        return Err(access_denied());
    }
    // dashboard.go:262: the dashboard's library panel connections go first (only its own,
    // not those of a folder's dashboards).
    crate::library_elements::disconnect_dashboard(&mut db, d.id);
    let mut ids = vec![d.id];
    if d.is_folder {
        // database.go deleteDashboard: this route never forces, and the rule check matches the
        // namespace uid in any org.
        if db.rules.namespace_has_rules_any_org(&d.uid) {
            return Err(err_trace(500, "Failed to delete dashboard"));
        }
        ids.extend(db.dashboards.values().filter(|c| c.folder_id == d.id).map(|c| c.id));
    }
    for i in ids {
        db.dashboards.remove(&i);
        db.acl.retain(|_, a| a.dashboard_id != i);
        db.dash_versions.retain(|v| v.dashboard_id != i);
        // database.go:712 and :754: a dashboard's annotations go with it.
        db.annotations.retain(|_, a| a.dashboard_id() != i);
    }
    Ok(json_map(200, json!({"title": d.title, "message": format!("Dashboard {} deleted", d.title), "id": d.id})))
}

/// `getDashboardHelper` by id: any row of the org, folders included (a 404 built from the
/// store's error).
fn dashboard_by_id(db: &Db, org_id: i64, dash_id: i64) -> Result<&Dash, Response> {
    db.dashboards.get(&dash_id).filter(|d| d.org_id == org_id).ok_or_else(|| err_trace(404, "Dashboard not found"))
}

/// pkg/api/dashboard_permission.go `GetDashboardPermissionList`: CanAdmin, then the ACL without
/// the own rows an inherited row already covers (`GetACLWithoutDuplicates`).
async fn get_permissions(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
) -> R {
    let dash_id = parse_param(&raw, "dashboardId")?;
    let db = app.db();
    let d = dashboard_by_id(&db, id.org_id, dash_id)?;
    if !has_permission(&db, &id, d.id, PERM_ADMIN) {
        return Err(access_denied());
    }
    let rows = permissions::without_duplicates(permissions::acl_rows(&db, id.org_id, d));
    Ok(json(200, &permissions::to_dtos(&db, d, &rows, permissions::IdField::Dashboard)))
}

/// pkg/api/dashboard_permission.go `UpdateDashboardPermissions`: the body is bound and
/// validated before the id is parsed; then the dashboard, CanAdmin, the guardian's
/// `CheckPermissionBeforeUpdate` and the store (409 for an item with no subject).
async fn update_permissions(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let items = permissions::bind_items(&headers, &body)?;
    let dash_id = parse_param(&raw, "dashboardId")?;
    let mut db = app.db();
    let d = dashboard_by_id(&db, id.org_id, dash_id)?.clone();
    let missing = "user id and team id cannot both be empty for a dashboard permission";
    permissions::update(&mut db, &id, &d, &items, access_denied, missing)?;
    Ok(json(200, &json!({"message": "Dashboard permissions updated"})))
}

/// pkg/api/dashboard.go `GetDashboardVersions`: CanSave, newest first, messages filled in.
async fn versions(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
    req: Request,
) -> R {
    let dash_id = parse_param(&raw, "dashboardId")?;
    let q = parse_query(req.uri().query());
    let db = app.db();
    if !has_permission(&db, &id, dash_id, PERM_EDIT) {
        return Err(access_denied());
    }
    // sqlstore/dashboard_version.go: limit 0 is 1000; SQLite reads a negative LIMIT as none
    // and a negative OFFSET as 0.
    let mut limit = query_i64(&q, "limit");
    if limit == 0 {
        limit = 1000;
    }
    let limit = if limit < 0 { usize::MAX } else { limit as usize };
    let start = query_i64(&q, "start").max(0);
    let mut list: Vec<&DashVersion> = db
        .dash_versions
        .iter()
        .filter(|v| v.dashboard_id == dash_id && db.dashboards.get(&dash_id).is_some_and(|d| d.org_id == id.org_id))
        .collect();
    list.sort_by_key(|v| std::cmp::Reverse(v.version));
    let out: Vec<Value> =
        list.into_iter().skip(start as usize).take(limit).map(|v| version_dto(&db, v, false)).collect();
    if out.is_empty() {
        return Err(err_trace(404, &format!("No versions found for dashboardId {dash_id}")));
    }
    Ok(json(200, &Value::Array(out)))
}

fn version_dto(db: &Db, v: &DashVersion, with_data: bool) -> Value {
    let message = if v.restored_from == v.version {
        "Initial save (created by migration)".to_string()
    } else if v.restored_from > 0 {
        format!("Restored from version {}", v.restored_from)
    } else if v.parent_version == 0 && !with_data {
        "Initial save".to_string()
    } else {
        v.message.clone()
    };
    if with_data {
        json!({"id": v.id, "dashboardId": v.dashboard_id, "parentVersion": v.parent_version,
               "restoredFrom": v.restored_from, "version": v.version, "created": v.created,
               "message": v.message, "data": v.data, "createdBy": db.user_login(v.created_by)})
    } else {
        // The list LEFT JOINs the user table: no user (an API key's -1) is "".
        let login = db.users.get(&v.created_by).map(|u| u.login.clone()).unwrap_or_default();
        json!({"id": v.id, "dashboardId": v.dashboard_id, "parentVersion": v.parent_version,
               "restoredFrom": v.restored_from, "version": v.version, "created": v.created,
               "createdBy": login, "message": message})
    }
}

/// `strconv.ParseInt(s, 10, 32)` with its error ignored: a syntax error is 0, an out-of-range
/// value is clamped to the int32 range.
fn parse_int32(s: &str) -> i64 {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let neg = s.starts_with('-');
    match s.parse::<i64>() {
        Ok(v) => v.clamp(i32::MIN.into(), i32::MAX.into()),
        Err(_) if neg => i32::MIN.into(),
        Err(_) => i32::MAX.into(),
    }
}

/// pkg/api/dashboard.go `RestoreDashboardVersion`: the version's JSON saved again through
/// `postDashboard` with the current version and uid, the dashboard's folder, `isFolder` false
/// and the message "Restored from version N".
async fn restore(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    #[derive(Deserialize)]
    struct RestoreCmd {
        #[serde(default)]
        version: Option<i64>,
    }
    let cmd: RestoreCmd = bind_fields(&headers, &body, &["version"])?;
    // dtos/dashboard.go: `Version int binding:"Required"`.
    let Some(ver) = cmd.version.filter(|v| *v != 0) else {
        return Err(crate::http::bad_request_data());
    };
    let dash_id = parse_param(&raw, "dashboardId")?;
    let mut db = app.db();
    let d = dashboard_by_id(&db, id.org_id, dash_id)?.clone();
    if !has_permission(&db, &id, d.id, PERM_EDIT) {
        return Err(access_denied());
    }
    // dashboard.go:680: built without the error, so no trace id.
    let v = db
        .dash_versions
        .iter()
        .find(|v| v.dashboard_id == d.id && v.version == ver)
        .cloned()
        .ok_or_else(|| err_plain(404, "Dashboard version not found"))?;
    let mut data = v.data;
    // GetDashboardVersion sets the JSON's id to the dashboard's.
    set(&mut data, "id", json!(d.id));
    set(&mut data, "version", json!(d.version));
    set(&mut data, "uid", json!(d.uid));
    let input = SaveInput {
        data,
        overwrite: false,
        message: format!("Restored from version {}", v.version),
        folder_id: d.folder_id,
        is_folder: false,
        restored_from: v.version,
    };
    post_dashboard(&mut db, &id, "", input)
}

/// simplejson's `MustStringArray()` on `tags`: the strings when every element is one, else
/// none (pkg/models/dashboards.go `GetTags`).
fn dash_tags(data: &Value) -> Vec<String> {
    let Some(a) = data["tags"].as_array() else { return Vec::new() };
    a.iter().map(|t| t.as_str().map(str::to_string)).collect::<Option<Vec<_>>>().unwrap_or_default()
}

/// pkg/api/dashboard.go `GetDashboardTags` → sqlstore/dashboard.go `GetDashboardTags`: every
/// dashboard of the org whatever the caller may see, `COUNT(*)` per term (a tag repeated in one
/// dashboard counts twice), `ORDER BY term`; written with `c.JSON`.
async fn tags(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    let db = app.db();
    let mut counts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for d in db.dashboards.values().filter(|d| d.org_id == id.org_id) {
        for t in dash_tags(&d.data) {
            *counts.entry(t).or_insert(0) += 1;
        }
    }
    let list: Vec<Value> = counts.into_iter().map(|(term, count)| json!({"term": term, "count": count})).collect();
    let bytes = serde_json::to_vec(&list).unwrap_or_default();
    Ok(crate::http::raw_json(200, bytes, "application/json; charset=UTF-8"))
}

/// pkg/api/dashboard.go `GetDashboardVersion`: a missing version is a 500.
async fn version(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path((raw, ver)): Path<(String, String)>,
) -> R {
    let dash_id = parse_param(&raw, "dashboardId")?;
    let db = app.db();
    if !has_permission(&db, &id, dash_id, PERM_EDIT) {
        return Err(access_denied());
    }
    let ver = parse_int32(&ver);
    db.dash_versions
        .iter()
        .find(|v| {
            v.dashboard_id == dash_id
                && v.version == ver
                && db.dashboards.get(&dash_id).is_some_and(|d| d.org_id == id.org_id)
        })
        .map(|v| json(200, &version_dto(&db, v, true)))
        .ok_or_else(|| err_trace(500, &format!("Dashboard version {ver} not found for dashboardId {dash_id}")))
}

/// pkg/api/search.go `Search` and the SQL search: paged by title in SQL, then sorted folders
/// first and by lower-cased title (HitList.Less) unless `sort` is given.
async fn search(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    let q = parse_query(req.uri().query());
    let mut limit = query_i64(&q, "limit");
    if limit > 5000 {
        return Err(err_plain(
            422,
            "Limit is above maximum allowed (5000), use page parameter to access hits beyond limit",
        ));
    }
    if limit < 1 {
        limit = 1000;
    }
    let mut page = query_i64(&q, "page");
    if page < 1 {
        page = 1;
    }
    let permission = if query_str(&q, "permission") == "Edit" { PERM_EDIT } else { PERM_VIEW };
    let title = query_str(&q, "query").to_lowercase();
    let tags = query_all(&q, "tag");
    let kind = query_str(&q, "type");
    let sort = query_str(&q, "sort");
    let starred = query_str(&q, "starred") == "true";
    let ids: Vec<i64> = query_all(&q, "dashboardIds").iter().filter_map(|s| s.parse().ok()).collect();
    let folder_ids: Vec<i64> = query_all(&q, "folderIds").iter().filter_map(|s| s.parse().ok()).collect();
    let db = app.db();
    let mut hits: Vec<&Dash> = db
        .dashboards
        .values()
        .filter(|d| d.org_id == id.org_id)
        .filter(|_| !starred)
        .filter(|d| title.is_empty() || d.title.to_lowercase().contains(&title))
        .filter(|d| match kind {
            "dash-folder" => d.is_folder,
            "dash-db" => !d.is_folder,
            _ => true,
        })
        .filter(|d| ids.is_empty() || ids.contains(&d.id))
        .filter(|d| folder_ids.is_empty() || folder_ids.contains(&d.folder_id))
        .filter(|d| {
            let t = dash_tags(&d.data);
            tags.iter().all(|tag| t.iter().any(|x| x == tag))
        })
        // sqlstore/dashboard.go:68 FindDashboards: the SQL permission filter, not the guardian.
        .filter(|d| permissions::sql_can(&db, &id, d, permission))
        .collect();
    match sort {
        "alpha-desc" => hits.sort_by(|a, b| b.title.cmp(&a.title)),
        _ => hits.sort_by(|a, b| a.title.cmp(&b.title)),
    }
    let mut hits: Vec<&Dash> =
        hits.into_iter().skip((page - 1).saturating_mul(limit) as usize).take(limit as usize).collect();
    if sort.is_empty() {
        hits.sort_by(|a, b| {
            b.is_folder.cmp(&a.is_folder).then_with(|| a.title.to_lowercase().cmp(&b.title.to_lowercase()))
        });
    }
    let out: Vec<Value> = hits
        .into_iter()
        .map(|d| {
            let mut tags = dash_tags(&d.data);
            tags.sort();
            let mut v = json!({"id": d.id, "uid": d.uid, "title": d.title, "uri": format!("db/{}", d.slug),
                               "url": dash_url(d), "slug": "", "type": if d.is_folder { "dash-folder" } else { "dash-db" },
                               "tags": tags, "isStarred": false});
            if let Some(f) = db.dashboards.get(&d.folder_id).filter(|_| d.folder_id > 0) {
                v["folderId"] = json!(f.id);
                v["folderUid"] = json!(f.uid);
                v["folderTitle"] = json!(f.title);
                v["folderUrl"] = json!(dash_url(f));
            }
            v["sortMeta"] = json!(0);
            v
        })
        .collect();
    Ok(json(200, &Value::Array(out)))
}
