//! Folders and folder permissions: pkg/api/folder.go, pkg/api/folder_permission.go,
//! pkg/services/dashboards/manager/folder_service.go,
//! pkg/services/dashboards/manager/dashboard_service.go (`BuildSaveDashboardCommand`) and
//! pkg/services/dashboards/database/database.go (uid, version and slug checks).

use crate::apierrors::{access_denied, folder_not_found};
use crate::auth::{Identity, PERM_ADMIN, PERM_EDIT, PERM_VIEW, has_permission};
use crate::http::{
    R, bind_fields, err_plain, err_trace, json, json_map, parse_param, parse_query, query_bool, query_i64, status_msg,
};
use crate::permissions;
use crate::server::App;
use crate::slug::slugify;
use crate::state::{Dash, Db, folder_url};
use crate::util::{generate_short_uid, is_short_uid_too_long, is_valid_short_uid, now_rfc3339};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/folders", get(list).post(create))
        .route("/api/folders/id/{id}", get(get_by_id))
        .route("/api/folders/{uid}", get(get_by_uid).put(update).delete(delete_folder))
        .route("/api/folders/{uid}/permissions", get(get_permissions).post(update_permissions))
}

/// pkg/api/folder.go `toFolderDto`.
pub(crate) fn folder_dto(db: &Db, id: &Identity, f: &Dash) -> Value {
    let can_edit = has_permission(db, id, f.id, PERM_EDIT);
    json!({
        "id": f.id,
        "uid": f.uid,
        "title": f.title,
        "url": folder_url(&f.uid, &f.slug),
        "hasAcl": f.has_acl,
        "canSave": can_edit,
        "canEdit": can_edit,
        "canAdmin": has_permission(db, id, f.id, PERM_ADMIN),
        "canDelete": can_edit,
        "createdBy": db.user_login(f.created_by),
        "created": f.created,
        "updatedBy": db.user_login(f.updated_by),
        "updated": f.updated,
        "version": f.version,
    })
}

/// `dashboardStore.GetFolderByUID` then the view check of `FolderServiceImpl.GetFolderByUID`.
pub(crate) fn viewable_folder_by_uid<'a>(db: &'a Db, id: &Identity, uid: &str) -> Result<&'a Dash, Response> {
    let f = db.folder_by_uid(id.org_id, uid).ok_or_else(folder_not_found)?;
    if !has_permission(db, id, f.id, PERM_VIEW) {
        return Err(access_denied());
    }
    Ok(f)
}

/// pkg/api/folder.go `GetFolders` through the search service: folders the caller can view,
/// paged in SQL by title, then sorted case-insensitively (pkg/services/search/service.go).
async fn list(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    let q = parse_query(req.uri().query());
    let mut limit = query_i64(&q, "limit");
    if limit < 1 {
        limit = 1000;
    }
    let mut page = query_i64(&q, "page");
    if page < 1 {
        page = 1;
    }
    let db = app.db();
    let mut folders: Vec<&Dash> = db
        .dashboards
        .values()
        // The search's SQL permission filter (sqlstore/permissions/dashboard.go), not the guardian.
        .filter(|d| d.org_id == id.org_id && d.is_folder && permissions::sql_can(&db, &id, d, PERM_VIEW))
        .collect();
    folders.sort_by(|a, b| a.title.cmp(&b.title));
    let mut page_items: Vec<&Dash> =
        folders.into_iter().skip((page - 1).saturating_mul(limit) as usize).take(limit as usize).collect();
    page_items.sort_by_key(|d| d.title.to_lowercase());
    let out: Vec<Value> = page_items.iter().map(|d| json!({"id": d.id, "uid": d.uid, "title": d.title})).collect();
    Ok(json(200, &Value::Array(out)))
}

async fn get_by_uid(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(uid): Path<String>) -> R {
    let db = app.db();
    let f = viewable_folder_by_uid(&db, &id, &uid)?;
    Ok(json(200, &folder_dto(&db, &id, f)))
}

/// pkg/api/folder.go `GetFolderByID`; `FolderServiceImpl.GetFolderByID` answers id 0 with a
/// synthetic General folder.
async fn get_by_id(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(raw): Path<String>) -> R {
    let folder_id = parse_param(&raw, "id")?;
    let db = app.db();
    if folder_id == 0 {
        let can_edit = has_permission(&db, &id, 0, PERM_EDIT);
        return Ok(json(
            200,
            &json!({"id": 0, "uid": "", "title": "General", "url": "", "hasAcl": false,
                    "canSave": can_edit, "canEdit": can_edit, "canAdmin": has_permission(&db, &id, 0, PERM_ADMIN),
                    "canDelete": can_edit, "createdBy": "Anonymous", "created": "0001-01-01T00:00:00Z",
                    "updatedBy": "Anonymous", "updated": "0001-01-01T00:00:00Z", "version": 0}),
        ));
    }
    let f =
        db.dashboards.get(&folder_id).filter(|d| d.org_id == id.org_id && d.is_folder).ok_or_else(folder_not_found)?;
    if !has_permission(&db, &id, f.id, PERM_VIEW) {
        return Err(access_denied());
    }
    Ok(json(200, &folder_dto(&db, &id, f)))
}

#[derive(Deserialize, Default)]
struct FolderCmd {
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    overwrite: Option<bool>,
}

/// The folder being saved, as `BuildSaveDashboardCommand` and the store see it.
struct Save {
    id: i64,
    uid: String,
    title: String,
    version: i64,
    overwrite: bool,
}

/// The checks shared by create and update, in Grafana's order; returns the row id to write
/// (0 for a new folder) and the version to store.
fn validate_save(db: &Db, ident: &Identity, s: &mut Save) -> Result<(), Response> {
    // dashboard_service.go BuildSaveDashboardCommand
    if s.title.is_empty() {
        return Err(err_plain(400, "folder title cannot be empty"));
    }
    if s.title.eq_ignore_ascii_case("General") {
        return Err(err_trace(400, "A folder with that name already exists"));
    }
    if !is_valid_short_uid(&s.uid) {
        return Err(err_trace(400, "uid contains illegal characters"));
    }
    if is_short_uid_too_long(&s.uid) {
        return Err(err_trace(400, "uid too long, max 40 characters"));
    }
    // database.go getExistingDashboardByIdOrUidForUpdate
    let by_id = if s.id > 0 { db.dashboards.get(&s.id).cloned() } else { None };
    let by_uid = if s.uid.is_empty() { None } else { db.dash_by_uid(ident.org_id, &s.uid).cloned() };
    let existing = match (&by_id, &by_uid) {
        (None, None) => None,
        (Some(a), Some(b)) if a.id != b.id => {
            return Err(err_plain(409, "a folder/dashboard with the same uid already exists"));
        }
        (Some(a), _) => Some(a.clone()),
        (None, Some(b)) => {
            s.id = b.id;
            Some(b.clone())
        }
    };
    if let Some(existing) = existing {
        if !existing.is_folder {
            return Err(err_trace(400, "Dashboard cannot be changed to a folder"));
        }
        if s.version != existing.version {
            if s.overwrite {
                s.version = existing.version;
            } else {
                return Err(status_msg(412, "version-mismatch", "the folder has been changed by someone else"));
            }
        }
    }
    // database.go getExistingDashboardByTitleAndFolder: same slug among folders and General.
    let slug = slugify(&s.title);
    if let Some(other) =
        db.dashboards.values().find(|d| d.org_id == ident.org_id && d.slug == slug && (d.is_folder || d.folder_id == 0))
        && other.id != s.id
    {
        if !other.is_folder {
            return Err(err_trace(400, "Folder name cannot be the same as one of its dashboards"));
        }
        if s.overwrite {
            // Grafana re-targets the save onto the clashing folder.
            s.id = other.id;
            s.uid = other.uid.clone();
            s.version = other.version;
        } else {
            return Err(err_plain(
                409,
                "a folder or dashboard in the general folder with the same name already exists",
            ));
        }
    }
    // Permission: CanCreate in General for a new folder, CanSave on the folder otherwise.
    if !has_permission(db, ident, s.id, PERM_EDIT) {
        return Err(access_denied());
    }
    Ok(())
}

/// `saveDashboard` in database.go: a new row gets version 1 and a generated uid, an update
/// increments the version; either way a `dashboard_version` row is written. A new folder's
/// JSON is `NewDashboardFolder`'s: title, `schemaVersion` 17, uid and version.
fn write_folder(db: &mut Db, ident: &Identity, s: Save) -> i64 {
    let now = now_rfc3339();
    let user = if ident.user_id == 0 { -1 } else { ident.user_id };
    let slug = slugify(&s.title);
    if s.id == 0 {
        let id = db.next_id("dashboard");
        let mut uid = s.uid;
        while uid.is_empty() || db.dash_by_uid(ident.org_id, &uid).is_some() {
            uid = generate_short_uid();
        }
        // models.NewDashboardFolder: schemaVersion 17.
        let data = json!({"id": id, "schemaVersion": 17, "title": s.title, "uid": uid, "version": 1});
        db.dashboards.insert(
            id,
            Dash {
                id,
                org_id: ident.org_id,
                uid,
                title: s.title,
                slug,
                is_folder: true,
                folder_id: 0,
                version: 1,
                data,
                created: now.clone(),
                updated: now,
                created_by: user,
                updated_by: user,
                has_acl: false,
            },
        );
        push_version(db, id, 0, user);
        id
    } else {
        let id = s.id;
        if let Some(d) = db.dashboards.get_mut(&id) {
            if !s.uid.is_empty() {
                d.uid = s.uid;
            }
            d.title = s.title;
            d.slug = slug;
            d.version = s.version.saturating_add(1);
            d.updated = now;
            d.updated_by = user;
            d.data["title"] = json!(d.title);
            d.data["uid"] = json!(d.uid);
            d.data["version"] = json!(d.version);
        }
        push_version(db, id, s.version, user);
        id
    }
}

/// saveDashboard (database.go) writes a `dashboard_version` row for folders too, with no
/// message.
fn push_version(db: &mut Db, id: i64, parent_version: i64, user: i64) {
    let Some(d) = db.dashboards.get(&id) else { return };
    let (version, created, data) = (d.version, d.updated.clone(), d.data.clone());
    let vid = db.next_id("dashboard_version");
    db.dash_versions.push(crate::state::DashVersion {
        id: vid,
        dashboard_id: id,
        parent_version,
        restored_from: 0,
        version,
        created,
        created_by: user,
        message: String::new(),
        data,
    });
}

/// pkg/api/folder.go `CreateFolder` / `FolderServiceImpl.CreateFolder`.
async fn create(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, headers: HeaderMap, body: Bytes) -> R {
    // models/folders.go:87-92 CreateFolderCommand has only uid and title.
    let cmd: FolderCmd = bind_fields(&headers, &body, &["uid", "title"])?;
    let uid = cmd.uid.unwrap_or_default().trim().to_string();
    if uid == "general" {
        // ErrFolderInvalidUID has no mapping in apierrors/folder.go.
        return Err(err_trace(500, "Folder API error"));
    }
    let mut s =
        Save { id: 0, uid, title: cmd.title.unwrap_or_default().trim().to_string(), version: 0, overwrite: false };
    let mut db = app.db();
    validate_save(&db, &id, &mut s)?;
    let new_id = write_folder(&mut db, &id, s);
    let f = db.dashboards.get(&new_id).cloned().ok_or_else(folder_not_found)?;
    Ok(json(200, &folder_dto(&db, &id, &f)))
}

/// pkg/api/folder.go `UpdateFolder` / `FolderServiceImpl.UpdateFolder`.
async fn update(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(uid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let cmd: FolderCmd = bind_fields(&headers, &body, &["uid", "title", "version", "overwrite"])?;
    let mut db = app.db();
    let existing = db.dash_by_uid(id.org_id, &uid).cloned().ok_or_else(folder_not_found)?;
    if !existing.is_folder {
        return Err(folder_not_found());
    }
    // UpdateFolderCommand.UpdateDashboardModel: title always, uid when given, version from body.
    let new_uid = cmd.uid.unwrap_or_default();
    let mut s = Save {
        id: existing.id,
        uid: if new_uid.is_empty() { existing.uid.clone() } else { new_uid.trim().to_string() },
        title: cmd.title.unwrap_or_default().trim().to_string(),
        version: cmd.version.unwrap_or(0),
        overwrite: cmd.overwrite.unwrap_or(false),
    };
    validate_save(&db, &id, &mut s)?;
    let saved = write_folder(&mut db, &id, s);
    let f = db.dashboards.get(&saved).cloned().ok_or_else(folder_not_found)?;
    Ok(json(200, &folder_dto(&db, &id, &f)))
}

/// pkg/api/folder.go `DeleteFolder`; the store refuses a folder with alert rules unless
/// `forceDeleteRules` (pkg/services/dashboards/database/database.go `DeleteDashboard`).
async fn delete_folder(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(uid): Path<String>,
    req: Request,
) -> R {
    let q = parse_query(req.uri().query());
    let force = query_bool(&q, "forceDeleteRules");
    let mut db = app.db();
    // folder.go:93: the folder's library elements go first, in their own transaction.
    crate::library_elements::delete_in_folder(&mut db, &id, &uid)?;
    let f = viewable_folder_by_uid(&db, &id, &uid)?.clone();
    if !has_permission(&db, &id, f.id, PERM_EDIT) {
        return Err(access_denied());
    }
    // database.go deleteDashboard matches rules by namespace uid alone (any org).
    let has_rules = db.rules.namespace_has_rules_any_org(&f.uid);
    if has_rules && !force {
        return Err(err_plain(400, "folder cannot be deleted: folder contains alert rules"));
    }
    db.rules.remove_namespace_any_org(&f.uid);
    let children: Vec<i64> = db.dashboards.values().filter(|d| d.folder_id == f.id).map(|d| d.id).collect();
    for c in children.iter().chain(std::iter::once(&f.id)) {
        db.dashboards.remove(c);
        db.acl.retain(|_, a| a.dashboard_id != *c);
        db.dash_versions.retain(|v| v.dashboard_id != *c);
        // database.go:712 and :754: a dashboard's annotations go with it.
        db.annotations.retain(|_, a| a.dashboard_id() != *c);
    }
    Ok(json_map(200, json!({"title": f.title, "message": format!("Folder {} deleted", f.title), "id": f.id})))
}

/// pkg/api/folder_permission.go `GetFolderPermissionList`: the ACL as listed, every row with
/// `folderId` set to the folder (pkg/services/guardian/guardian.go `GetAcl`, no de-duplication).
async fn get_permissions(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(uid): Path<String>,
) -> R {
    let db = app.db();
    let f = viewable_folder_by_uid(&db, &id, &uid)?;
    if !has_permission(&db, &id, f.id, PERM_ADMIN) {
        return Err(access_denied());
    }
    let rows = permissions::acl_rows(&db, id.org_id, f);
    Ok(json(200, &permissions::to_dtos(&db, f, &rows, permissions::IdField::Folder(f.id))))
}

/// pkg/api/folder_permission.go `UpdateFolderPermissions`: bind and validate, the folder and
/// its Admin check, the guardian's `CheckPermissionBeforeUpdate`, then the store, whose
/// missing-subject error the handler renames to the folder one (409).
async fn update_permissions(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(uid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let items = permissions::bind_items(&headers, &body)?;
    let mut db = app.db();
    let f = viewable_folder_by_uid(&db, &id, &uid)?.clone();
    let missing = "user id and team id cannot both be empty for a folder permission";
    permissions::update(&mut db, &id, &f, &items, access_denied, missing)?;
    Ok(json_map(200, json!({"message": "Folder permissions updated", "id": f.id, "title": f.title})))
}
