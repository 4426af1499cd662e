//! Folders and folder permissions: pkg/api/folder.go, pkg/api/folder_permission.go,
//! pkg/api/apierrors/folder.go, pkg/services/dashboards/manager/folder_service.go,
//! pkg/services/dashboards/manager/dashboard_service.go (`BuildSaveDashboardCommand`) and
//! pkg/services/dashboards/database/database.go (uid, version and slug checks).

use crate::auth::{Identity, PERM_ADMIN, PERM_EDIT, PERM_VIEW, effective_acl, has_permission};
use crate::http::{
    R, bind, bind_fields, err_plain, err_trace, json, json_map, parse_id, parse_query, query_bool, query_i64,
    status_msg,
};
use crate::server::App;
use crate::state::{Acl, Dash, Db, Role};
use crate::util::{
    avatar_url, avatar_url_with_default, generate_short_uid, is_short_uid_too_long, is_valid_short_uid, now_rfc3339,
    slugify,
};
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

/// pkg/api/apierrors/folder.go: `ErrFolderNotFound` answers with a status body.
pub(crate) fn folder_not_found() -> Response {
    status_msg(404, "not-found", "folder not found")
}

/// pkg/api/apierrors/folder.go: `ErrFolderAccessDenied` is `Access denied` built from the error.
pub(crate) fn access_denied() -> Response {
    err_trace(403, "Access denied")
}

pub(crate) fn folder_url(uid: &str, slug: &str) -> String {
    format!("/dashboards/f/{uid}/{slug}")
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
        .filter(|d| d.org_id == id.org_id && d.is_folder && has_permission(&db, &id, d.id, PERM_VIEW))
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
    let folder_id = parse_id(&raw)?;
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
/// increments the version.
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
        let data = json!({"id": id, "uid": uid, "title": s.title, "version": 1});
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
        id
    }
}

/// pkg/api/folder.go `CreateFolder` / `FolderServiceImpl.CreateFolder`.
async fn create(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, headers: HeaderMap, body: Bytes) -> R {
    let cmd: FolderCmd = bind_fields(&headers, &body, &["uid", "title", "version", "overwrite"])?;
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

fn permission_name(p: i64) -> &'static str {
    match p {
        1 => "View",
        2 => "Edit",
        4 => "Admin",
        _ => "",
    }
}

/// The default rows (`dashboard_id = -1`) were written by the 2017-06-20 migration.
const DEFAULT_ACL_TIME: &str = "2017-06-20T00:00:00Z";

/// pkg/api/folder_permission.go `GetFolderPermissionList`.
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
    let url = folder_url(&f.uid, &f.slug);
    let base = |role: Option<Role>, user_id: i64, team_id: i64, perm: i64, created: &str, updated: &str| {
        let (login, email) = db.users.get(&user_id).map(|u| (u.login.clone(), u.email.clone())).unwrap_or_default();
        let team = db.teams.get(&team_id);
        let (team_name, team_email) = team.map(|t| (t.name.clone(), t.email.clone())).unwrap_or_default();
        let mut v = json!({
            "folderId": f.id, "created": created, "updated": updated,
            "userId": user_id, "userLogin": login, "userEmail": email,
            "userAvatarUrl": avatar_url(&email),
            "teamId": team_id, "teamEmail": team_email,
            "teamAvatarUrl": if team_id > 0 { avatar_url_with_default(&team_email, &team_name) } else { String::new() },
            "team": team_name,
            "permission": perm, "permissionName": permission_name(perm),
            "uid": f.uid, "title": f.title, "slug": f.slug, "isFolder": true, "url": url, "inherited": false,
        });
        if let Some(r) = role {
            // `role` is omitempty; it sits after `team` in DashboardAclInfoDTO.
            let mut m = serde_json::Map::new();
            for (k, val) in v.as_object().cloned().unwrap_or_default() {
                let is_team = k == "team";
                m.insert(k, val);
                if is_team {
                    m.insert("role".into(), json!(r.as_str()));
                }
            }
            v = Value::Object(m);
        }
        v
    };
    let rows: Vec<Value> = if f.has_acl {
        db.acl
            .values()
            .filter(|a| a.dashboard_id == f.id)
            .map(|a| base(a.role, a.user_id, a.team_id, a.permission, &a.created, &a.updated))
            .collect()
    } else {
        effective_acl(&db, id.org_id, f.id)
            .into_iter()
            .map(|(u, t, r, p)| base(r, u, t, p, DEFAULT_ACL_TIME, DEFAULT_ACL_TIME))
            .collect()
    };
    Ok(json(200, &Value::Array(rows)))
}

#[derive(Deserialize)]
struct AclItem {
    #[serde(default, rename = "userId")]
    user_id: i64,
    #[serde(default, rename = "teamId")]
    team_id: i64,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    permission: i64,
}

#[derive(Deserialize, Default)]
struct AclCmd {
    #[serde(default)]
    items: Vec<AclItem>,
}

/// pkg/api/folder_permission.go `UpdateFolderPermissions`, with `validatePermissionsUpdate`
/// (pkg/api/dashboard_permission.go, whose two error texts are swapped in 8.5.4) and the
/// guardian's `CheckPermissionBeforeUpdate`.
async fn update_permissions(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(uid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let cmd: AclCmd = bind(&headers, &body)?;
    for item in &cmd.items {
        if item.user_id > 0 && item.team_id > 0 {
            return Err(err_trace(400, "team and user permissions cannot have an associated role"));
        }
        // `item.Role != nil`: any role value, even an empty string, counts.
        if (item.user_id > 0 || item.team_id > 0) && item.role.is_some() {
            return Err(err_trace(400, "permissions cannot have both a user and team"));
        }
    }
    let mut db = app.db();
    let f = viewable_folder_by_uid(&db, &id, &uid)?.clone();
    if !has_permission(&db, &id, f.id, PERM_ADMIN) {
        return Err(access_denied());
    }
    // guardian.go CheckPermissionBeforeUpdate: an item equal to the implicit Admin-role entry,
    // or a duplicate user, team or role (models/dashboard_acl.go IsDuplicateOf).
    let same_role = |a: &AclItem, b_user: i64, b_team: i64, b_role: Option<&str>| {
        a.user_id <= 0
            && a.team_id <= 0
            && a.user_id == b_user
            && a.team_id == b_team
            && a.role.is_some()
            && a.role.as_deref() == b_role
    };
    let dup = |a: &AclItem, b: &AclItem| {
        same_role(a, b.user_id, b.team_id, b.role.as_deref())
            || (a.user_id > 0 && b.user_id > 0 && a.user_id == b.user_id && a.team_id <= 0 && b.team_id <= 0)
            || (a.team_id > 0 && b.team_id > 0 && a.team_id == b.team_id && a.user_id <= 0 && b.user_id <= 0)
    };
    for (i, a) in cmd.items.iter().enumerate() {
        if same_role(a, 0, 0, Some("Admin")) {
            return Err(err_trace(400, "permission already exists"));
        }
        if cmd.items[..i].iter().any(|b| dup(b, a)) {
            return Err(err_trace(400, "permission already exists"));
        }
    }
    // sqlstore UpdateDashboardACL: every item needs a user, a team or a valid role.
    let now = now_rfc3339();
    let mut rows = vec![];
    for item in &cmd.items {
        let role = item.role.as_deref().and_then(Role::parse);
        if item.user_id == 0 && item.team_id == 0 && role.is_none() {
            return Err(err_trace(409, "user id and team id cannot both be empty for a folder permission"));
        }
        rows.push((item.user_id, item.team_id, role, item.permission));
    }
    db.acl.retain(|_, a| a.dashboard_id != f.id);
    for (user_id, team_id, role, permission) in rows {
        let acl_id = db.next_id("dashboard_acl");
        db.acl.insert(
            acl_id,
            Acl {
                id: acl_id,
                org_id: id.org_id,
                dashboard_id: f.id,
                user_id,
                team_id,
                role,
                permission,
                created: now.clone(),
                updated: now.clone(),
            },
        );
    }
    if let Some(d) = db.dashboards.get_mut(&f.id) {
        d.has_acl = true;
    }
    Ok(json_map(200, json!({"message": "Folder permissions updated", "id": f.id, "title": f.title})))
}
