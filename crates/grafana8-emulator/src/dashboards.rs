//! Dashboards and search: pkg/api/dashboard.go, pkg/api/apierrors/dashboard.go,
//! pkg/services/dashboards/manager/dashboard_service.go, pkg/services/dashboards/database/database.go,
//! pkg/services/sqlstore/dashboard_version.go, pkg/models/dashboards.go, pkg/api/search.go,
//! pkg/services/search/service.go and pkg/models/search.go at v8.5.4.

use crate::auth::{Identity, PERM_ADMIN, PERM_EDIT, PERM_VIEW, has_permission};
use crate::folders::folder_url;
use crate::http::{
    R, bind_fields, err_plain, err_trace, json, json_map, parse_query, query_all, query_i64, query_str, status_msg,
};
use crate::server::App;
use crate::state::{Dash, DashVersion, Db};
use crate::util::{generate_short_uid, is_short_uid_too_long, is_valid_short_uid, now_rfc3339, slugify};
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

/// `dashboardGuardianResponse(nil)`.
fn access_denied() -> Response {
    err_plain(403, "Access denied to this dashboard")
}

#[derive(Deserialize, Default)]
struct SaveCmd {
    #[serde(default)]
    dashboard: Option<Value>,
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
}

/// `NewDashboardFromJson` reads numbers as float64 and converts.
fn json_i64(v: &Value) -> i64 {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).unwrap_or(0)
}

/// pkg/api/dashboard.go `PostDashboard` → `DashboardServiceImpl.SaveDashboard`.
async fn save(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, headers: HeaderMap, body: Bytes) -> R {
    let cmd: SaveCmd =
        bind_fields(&headers, &body, &["dashboard", "overwrite", "message", "folderId", "folderUid", "isFolder"])?;
    let Some(mut data) = cmd.dashboard.filter(Value::is_object) else {
        return Err(crate::http::bad_request_data());
    };
    let overwrite = cmd.overwrite.unwrap_or(false);
    let mut db = app.db();
    let mut folder_id = cmd.folder_id.unwrap_or(0);
    let folder_uid = cmd.folder_uid.unwrap_or_default();
    if !folder_uid.is_empty() {
        let Some(f) = db.folder_by_uid(id.org_id, &folder_uid) else {
            return Err(err_trace(400, "Folder not found"));
        };
        if !has_permission(&db, &id, f.id, PERM_VIEW) {
            return Err(err_trace(500, "Error while checking folder ID"));
        }
        folder_id = f.id;
    }
    let is_folder = cmd.is_folder.unwrap_or(false);
    let mut dash_id = json_i64(&data["id"]);
    let mut uid = data["uid"].as_str().unwrap_or("").trim().to_string();
    let title = data["title"].as_str().unwrap_or("").trim().to_string();
    let mut version = json_i64(&data["version"]);
    data["title"] = json!(title);
    // BuildSaveDashboardCommand
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
    // getExistingDashboardByIdOrUidForUpdate
    let mut parent_changed = false;
    let by_id = if dash_id > 0 {
        let d = db.dashboards.get(&dash_id).filter(|d| d.org_id == id.org_id).cloned();
        if d.is_none() {
            return Err(dash_err(404, Some("not-found"), "Dashboard not found"));
        }
        if uid.is_empty() {
            uid = d.as_ref().map(|d| d.uid.clone()).unwrap_or_default();
        }
        d
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
    // getExistingDashboardByTitleAndFolder
    let slug = slugify(&title);
    if let Some(other) = db
        .dashboards
        .values()
        .find(|d| d.org_id == id.org_id && d.slug == slug && (d.is_folder || d.folder_id == folder_id))
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
    // Permissions: CanCreate in the new folder when it changes, then CanCreate/CanSave.
    let denied = || dash_err(403, None, "Access denied to save dashboard");
    if parent_changed && !has_permission(&db, &id, folder_id, PERM_EDIT) {
        return Err(denied());
    }
    let check_id = if dash_id == 0 { folder_id } else { dash_id };
    if !has_permission(&db, &id, check_id, PERM_EDIT) {
        return Err(denied());
    }
    // saveDashboard
    let now = now_rfc3339();
    let user = if id.user_id == 0 { -1 } else { id.user_id };
    while uid.is_empty() || (dash_id == 0 && db.dash_by_uid(id.org_id, &uid).is_some()) {
        uid = generate_short_uid();
    }
    let parent_version = version;
    let (saved_id, new_version) = if dash_id == 0 {
        let new_id = db.next_id("dashboard");
        data["id"] = json!(new_id);
        data["uid"] = json!(uid);
        data["version"] = json!(1);
        db.dashboards.insert(
            new_id,
            Dash {
                id: new_id,
                org_id: id.org_id,
                uid: uid.clone(),
                title: title.clone(),
                slug: slug.clone(),
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
        (new_id, 1)
    } else {
        let v = version.saturating_add(1);
        data["id"] = json!(dash_id);
        data["uid"] = json!(uid);
        data["version"] = json!(v);
        if let Some(d) = db.dashboards.get_mut(&dash_id) {
            d.uid = uid.clone();
            d.title = title.clone();
            d.slug = slug.clone();
            d.folder_id = folder_id;
            d.version = v;
            d.data = data.clone();
            d.updated = now.clone();
            d.updated_by = user;
        }
        (dash_id, v)
    };
    let vid = db.next_id("dashboard_version");
    db.dash_versions.push(DashVersion {
        id: vid,
        dashboard_id: saved_id,
        parent_version,
        restored_from: 0,
        version: new_version,
        created: now,
        created_by: user,
        message: cmd.message.unwrap_or_default(),
        data,
    });
    let d = db.dashboards.get(&saved_id).cloned().ok_or_else(|| dash_err(500, None, "Failed to save dashboard"))?;
    Ok(json_map(
        200,
        json!({"status": "success", "slug": d.slug, "version": d.version, "id": d.id, "uid": d.uid, "url": dash_url(&d)}),
    ))
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
    let (folder_uid, folder_title, folder_url_s) = match db.dashboards.get(&d.folder_id) {
        Some(f) if d.folder_id > 0 => (f.uid.clone(), f.title.clone(), dash_url(f)),
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
    data["version"] = json!(d.version);
    Ok(json(200, &json!({"dashboard": data, "meta": meta})))
}

/// pkg/api/dashboard.go `deleteDashboard`.
async fn delete_by_uid(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(uid): Path<String>) -> R {
    let mut db = app.db();
    let d = db.dash_by_uid(id.org_id, &uid).cloned().ok_or_else(|| err_trace(404, "Dashboard not found"))?;
    if !has_permission(&db, &id, d.id, PERM_EDIT) {
        return Err(access_denied());
    }
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

fn parse_dashboard_id(raw: &str) -> Result<i64, Response> {
    raw.parse().map_err(|_| err_trace(400, "dashboardId is invalid"))
}

/// pkg/api/dashboard.go `GetDashboardVersions`: CanSave, newest first, messages filled in.
async fn versions(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
    req: Request,
) -> R {
    let dash_id = parse_dashboard_id(&raw)?;
    let q = parse_query(req.uri().query());
    let db = app.db();
    if !has_permission(&db, &id, dash_id, PERM_EDIT) {
        return Err(access_denied());
    }
    let mut limit = query_i64(&q, "limit");
    if limit == 0 {
        limit = 1000;
    }
    let start = query_i64(&q, "start").max(0);
    let mut list: Vec<&DashVersion> = db
        .dash_versions
        .iter()
        .filter(|v| v.dashboard_id == dash_id && db.dashboards.get(&dash_id).is_some_and(|d| d.org_id == id.org_id))
        .collect();
    list.sort_by_key(|v| std::cmp::Reverse(v.version));
    let out: Vec<Value> =
        list.into_iter().skip(start as usize).take(limit.max(0) as usize).map(|v| version_dto(&db, v, false)).collect();
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
        json!({"id": v.id, "dashboardId": v.dashboard_id, "parentVersion": v.parent_version,
               "restoredFrom": v.restored_from, "version": v.version, "created": v.created,
               "createdBy": db.user_login(v.created_by), "message": message})
    }
}

/// pkg/api/dashboard.go `GetDashboardVersion`: a missing version is a 500.
async fn version(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path((raw, ver)): Path<(String, String)>,
) -> R {
    let dash_id = parse_dashboard_id(&raw)?;
    let db = app.db();
    if !has_permission(&db, &id, dash_id, PERM_EDIT) {
        return Err(access_denied());
    }
    let ver: i64 = ver.parse().unwrap_or(0);
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
    let dash_tags = |d: &Dash| -> Vec<String> {
        d.data["tags"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
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
            let t = dash_tags(d);
            tags.iter().all(|tag| t.iter().any(|x| x == tag))
        })
        .filter(|d| has_permission(&db, &id, d.id, permission))
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
            let mut tags = dash_tags(d);
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
