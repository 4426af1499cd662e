//! Dashboard and folder ACLs as both permission APIs share them: the list
//! (pkg/services/sqlstore/dashboard_acl.go `GetDashboardAclInfoList`), its DTO
//! (pkg/models/dashboard_acl.go `DashboardAclInfoDTO`), the update body and its checks
//! (pkg/api/dtos/acl.go, pkg/api/dashboard_permission.go `validatePermissionsUpdate`,
//! pkg/services/guardian/guardian.go `CheckPermissionBeforeUpdate`) and the write
//! (pkg/services/dashboards/database/database.go `UpdateDashboardACL`) at v8.5.4.

use crate::auth::{Identity, PERM_ADMIN, has_permission};
use crate::http::{Field, bind_go, err_trace};
use crate::state::{Acl, Dash, Db, Role};
use crate::util::{avatar_url, avatar_url_with_default, now_rfc3339};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The default rows (`org_id = -1`, `dashboard_id = -1`) were written by the migration
/// "save default acl rules in dashboard_acl table" with the date `2017-06-20`.
const DEFAULT_ACL_TIME: &str = "2017-06-20T00:00:00Z";

/// One row of `GetDashboardAclInfoList`, before the API fills in avatars and the url.
#[derive(Clone, Debug)]
pub(crate) struct AclRow {
    /// `da.id`: the default rows are the table's first two rows, so they sort first.
    order: i64,
    pub dashboard_id: i64,
    pub user_id: i64,
    pub team_id: i64,
    pub role: Option<Role>,
    pub permission: i64,
    pub created: String,
    pub updated: String,
    pub inherited: bool,
}

impl AclRow {
    fn entry(&self) -> Entry<'static> {
        Entry {
            user_id: self.user_id,
            team_id: self.team_id,
            role: self.role.map(Role::as_str),
            permission: self.permission,
        }
    }
}

/// The fields `IsDuplicateOf` and the override check compare; a role is compared as text, as
/// Go compares `RoleType` strings.
#[derive(Clone, Copy, Debug)]
struct Entry<'a> {
    user_id: i64,
    team_id: i64,
    role: Option<&'a str>,
    permission: i64,
}

impl Entry<'_> {
    /// `DashboardAclInfoDTO.IsDuplicateOf`: same role (for role rows), same user or same team.
    fn is_duplicate_of(&self, other: &Entry<'_>) -> bool {
        let same_role = matches!((self.role, other.role), (Some(a), Some(b)) if a == b)
            && self.user_id <= 0
            && self.team_id <= 0
            && self.user_id == other.user_id
            && self.team_id == other.team_id;
        let same_user = self.user_id > 0 && self.user_id == other.user_id;
        let same_team = self.team_id > 0 && self.team_id == other.team_id;
        same_role || same_user || same_team
    }
}

/// `GetDashboardAclInfoList` for a dashboard or folder id: the rows of the dashboard, of its
/// folder (`inherited`), and the default rows when the folder — or, outside a folder, the
/// dashboard itself — has no ACL of its own (inherited when the dashboard is in a folder),
/// ordered by row id.
pub(crate) fn acl_rows(db: &Db, org_id: i64, dash: &Dash) -> Vec<AclRow> {
    let mut rows: Vec<AclRow> = db
        .acl
        .iter()
        .filter(|(_, a)| a.dashboard_id == dash.id || (dash.folder_id > 0 && a.dashboard_id == dash.folder_id))
        .filter(|_| dash.org_id == org_id)
        .map(|(id, a)| AclRow {
            order: *id,
            dashboard_id: a.dashboard_id,
            user_id: a.user_id,
            team_id: a.team_id,
            role: a.role,
            permission: a.permission,
            created: a.created.clone(),
            updated: a.updated.clone(),
            inherited: dash.folder_id > 0 && a.dashboard_id == dash.folder_id,
        })
        .collect();
    let folder = (dash.folder_id > 0).then(|| db.dashboards.get(&dash.folder_id)).flatten();
    let with_defaults = match folder {
        Some(f) => !f.has_acl,
        None => !dash.has_acl,
    };
    if with_defaults && dash.org_id == org_id {
        for (order, role, permission) in [(-2, Role::Viewer, 1), (-1, Role::Editor, 2)] {
            rows.push(AclRow {
                order,
                dashboard_id: -1,
                user_id: 0,
                team_id: 0,
                role: Some(role),
                permission,
                created: DEFAULT_ACL_TIME.into(),
                updated: DEFAULT_ACL_TIME.into(),
                inherited: dash.folder_id > 0,
            });
        }
    }
    rows.sort_by_key(|r| r.order);
    rows
}

/// `dashboardGuardianImpl.GetACLWithoutDuplicates`: the inherited rows, then the dashboard's
/// own rows that an inherited row with the same user, team or role does not already match or
/// exceed.
pub(crate) fn without_duplicates(rows: Vec<AclRow>) -> Vec<AclRow> {
    let (inherited, own): (Vec<AclRow>, Vec<AclRow>) = rows.into_iter().partition(|r| r.inherited);
    let kept: Vec<AclRow> = own
        .into_iter()
        .filter(|o| !inherited.iter().any(|i| o.entry().is_duplicate_of(&i.entry()) && o.permission <= i.permission))
        .collect();
    inherited.into_iter().chain(kept).collect()
}

/// `DashboardAclInfoDTO` as the API writes it: `dashboardId` and `folderId` are omitempty,
/// `role` too; `title`, `slug`, `uid` and `isFolder` are the queried dashboard's on every row
/// (the SQL selects them from `dashboard AS d`).
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AclInfoDto {
    #[serde(skip_serializing_if = "is_zero")]
    dashboard_id: i64,
    #[serde(skip_serializing_if = "is_zero")]
    folder_id: i64,
    created: String,
    updated: String,
    user_id: i64,
    user_login: String,
    user_email: String,
    user_avatar_url: String,
    team_id: i64,
    team_email: String,
    team_avatar_url: String,
    team: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    permission: i64,
    permission_name: &'static str,
    uid: String,
    title: String,
    slug: String,
    is_folder: bool,
    url: String,
    inherited: bool,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `PermissionType.String()`: unknown levels have no name.
fn permission_name(p: i64) -> &'static str {
    match p {
        1 => "View",
        2 => "Edit",
        4 => "Admin",
        _ => "",
    }
}

/// Where the DTO's id goes: the dashboard route keeps `da.dashboard_id`, the folder route sets
/// `folderId` to the folder and clears `dashboardId` (pkg/api/folder_permission.go).
#[derive(Clone, Copy, Debug)]
pub(crate) enum IdField {
    Dashboard,
    Folder(i64),
}

/// The API's pass over the rows (`GetDashboardPermissionList`, `GetFolderPermissionList`):
/// user and team joins, gravatar urls (a team's falls back to its name), and the url of the
/// dashboard or folder when it has a slug.
pub(crate) fn to_dtos(db: &Db, dash: &Dash, rows: &[AclRow], ids: IdField) -> Value {
    let url = if dash.slug.is_empty() {
        String::new()
    } else if dash.is_folder {
        crate::state::folder_url(&dash.uid, &dash.slug)
    } else {
        format!("/d/{}/{}", dash.uid, dash.slug)
    };
    let list: Vec<AclInfoDto> = rows
        .iter()
        .map(|r| {
            let (user_login, user_email) =
                db.users.get(&r.user_id).map(|u| (u.login.clone(), u.email.clone())).unwrap_or_default();
            let (team, team_email) =
                db.teams.get(&r.team_id).map(|t| (t.name.clone(), t.email.clone())).unwrap_or_default();
            let (dashboard_id, folder_id) = match ids {
                IdField::Dashboard => (r.dashboard_id, 0),
                IdField::Folder(f) => (0, f),
            };
            AclInfoDto {
                dashboard_id,
                folder_id,
                created: r.created.clone(),
                updated: r.updated.clone(),
                user_id: r.user_id,
                user_avatar_url: avatar_url(&user_email),
                user_login,
                user_email,
                team_id: r.team_id,
                team_avatar_url: if r.team_id > 0 {
                    avatar_url_with_default(&team_email, &team)
                } else {
                    String::new()
                },
                team_email,
                team,
                role: r.role.map(Role::as_str),
                permission: r.permission,
                permission_name: permission_name(r.permission),
                uid: dash.uid.clone(),
                title: dash.title.clone(),
                slug: dash.slug.clone(),
                is_folder: dash.is_folder,
                url: url.clone(),
                inherited: r.inherited,
            }
        })
        .collect();
    serde_json::to_value(list).unwrap_or_default()
}

/// `*models.RoleType`: `null` leaves the pointer nil; otherwise its `UnmarshalJSON`
/// (pkg/models/org_user.go:63-79) turns `""` into `Viewer` and rejects other non-roles, which
/// fails the bind (400 `bad request data`).
#[derive(Debug)]
struct AclRole(Role);

impl<'de> Deserialize<'de> for AclRole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<AclRole, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(AclRole(Role::Viewer));
        }
        Role::parse(&s)
            .map(AclRole)
            .ok_or_else(|| serde::de::Error::custom(format!("JSON validation error: invalid role value: {s}")))
    }
}

/// `dtos.DashboardAclUpdateItem`.
#[derive(Deserialize, Default, Debug)]
struct ItemBody {
    #[serde(default, rename = "userId")]
    user_id: i64,
    #[serde(default, rename = "teamId")]
    team_id: i64,
    #[serde(default)]
    role: Option<AclRole>,
    #[serde(default)]
    permission: i64,
}

/// `dtos.UpdateDashboardAclCommand`.
#[derive(Deserialize, Default)]
struct AclCmd {
    #[serde(default)]
    items: Option<Vec<ItemBody>>,
}

const ACL_ITEM_FIELDS: &[(&str, Field)] =
    &[("userId", Field::Plain), ("teamId", Field::Plain), ("role", Field::Nullable), ("permission", Field::Plain)];
const ACL_FIELDS: &[(&str, Field)] = &[("items", Field::Structs(ACL_ITEM_FIELDS))];

/// One item of an update, as bound.
#[derive(Debug)]
pub(crate) struct AclItem {
    user_id: i64,
    team_id: i64,
    role: Option<String>,
    permission: i64,
}

/// Binds `dtos.UpdateDashboardAclCommand` as `web.Bind` does (Go's decoder: field names without
/// regard to case, `null` items and a `null` list are zero values) and applies
/// `validatePermissionsUpdate`, whose two error texts are swapped in 8.5.4
/// (pkg/models/dashboard_acl.go:31-32).
pub(crate) fn bind_items(headers: &HeaderMap, body: &[u8]) -> Result<Vec<AclItem>, Response> {
    let cmd: AclCmd = bind_go(headers, body, ACL_FIELDS)?;
    let items = cmd.items.unwrap_or_default();
    for item in &items {
        // pkg/api/dashboard_permission.go:199 ErrPermissionsWithUserAndTeamNotAllowed
        if item.user_id > 0 && item.team_id > 0 {
            return Err(err_trace(400, "team and user permissions cannot have an associated role"));
        }
        // pkg/api/dashboard_permission.go:203: `item.Role != nil`, and `""` decodes to Viewer.
        if (item.user_id > 0 || item.team_id > 0) && item.role.is_some() {
            return Err(err_trace(400, "permissions cannot have both a user and team"));
        }
    }
    Ok(items
        .into_iter()
        .map(|i| AclItem {
            user_id: i.user_id,
            team_id: i.team_id,
            role: i.role.map(|r| r.0.as_str().to_owned()),
            permission: i.permission,
        })
        .collect())
}

/// `CheckPermissionBeforeUpdate` with RBAC off: no two items for the same user, team or role,
/// none equal to the implicit Admin-role entry, and none that overrides an inherited row
/// without raising it. The final `checkAcl` repeats the handlers' `CanAdmin`, so it cannot fail
/// here.
fn check_before_update(existing: &[AclRow], items: &[AclItem]) -> Result<(), Response> {
    let admin = Entry { user_id: 0, team_id: 0, role: Some("Admin"), permission: 4 };
    let mut acl: Vec<Entry<'_>> = Vec::with_capacity(items.len());
    for item in items {
        let e = Entry {
            user_id: item.user_id,
            team_id: item.team_id,
            role: item.role.as_deref(),
            permission: item.permission,
        };
        if e.is_duplicate_of(&admin) || acl.iter().any(|a| a.is_duplicate_of(&e)) {
            return Err(err_trace(400, "permission already exists"));
        }
        acl.push(e);
    }
    for a in &acl {
        if existing.iter().any(|x| x.inherited && a.is_duplicate_of(&x.entry()) && a.permission <= x.permission) {
            return Err(err_trace(400, "you can only override a permission to be higher"));
        }
    }
    Ok(())
}

/// What both permission updates do once they have the dashboard or folder: the guardian's
/// `CanAdmin` (`denied` when it fails), its `CheckPermissionBeforeUpdate`, then [`write`]
/// (`missing` for an item with no subject).
pub(crate) fn update(
    db: &mut Db,
    id: &Identity,
    dash: &Dash,
    items: &[AclItem],
    denied: fn() -> Response,
    missing: &str,
) -> Result<(), Response> {
    if !has_permission(db, id, dash.id, PERM_ADMIN) {
        return Err(denied());
    }
    check_before_update(&acl_rows(db, id.org_id, dash), items)?;
    write(db, id.org_id, dash.id, items, missing)
}

/// `UpdateDashboardACL`: in one transaction, deletes the rows of the dashboard, inserts the
/// items — each needs a user, a team or a valid role, else `missing` and nothing changes — and
/// sets `has_acl`.
fn write(db: &mut Db, org_id: i64, dash_id: i64, items: &[AclItem], missing: &str) -> Result<(), Response> {
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let role = item.role.as_deref().and_then(Role::parse);
        if item.user_id == 0 && item.team_id == 0 && role.is_none() {
            return Err(err_trace(409, missing));
        }
        rows.push((item.user_id, item.team_id, role, item.permission));
    }
    let now = now_rfc3339();
    db.acl.retain(|_, a| a.dashboard_id != dash_id);
    for (user_id, team_id, role, permission) in rows {
        let id = db.next_id("dashboard_acl");
        db.acl.insert(
            id,
            Acl {
                id,
                org_id,
                dashboard_id: dash_id,
                user_id,
                team_id,
                role,
                permission,
                created: now.clone(),
                updated: now.clone(),
            },
        );
    }
    if let Some(d) = db.dashboards.get_mut(&dash_id) {
        d.has_acl = true;
    }
    Ok(())
}

/// The SQL permission filter of searches and library elements
/// (pkg/services/sqlstore/permissions/dashboard.go `DashboardPermissionFilter`, the same SQL as
/// sqlbuilder.go `WriteDashboardPermissionFilter`). It differs from the guardian: an Editor
/// also matches `Viewer` role rows, the dashboard's and its folder's rows count whatever
/// `has_acl` says, and an API key (user id 0) matches only role rows.
pub(crate) fn sql_can(db: &Db, id: &Identity, dash: &Dash, permission: i64) -> bool {
    if id.role == Some(Role::Admin) {
        return true;
    }
    if dash.org_id != id.org_id {
        return false;
    }
    let role_ok = |r: Option<Role>| match (r, id.role) {
        (Some(r), Some(me)) => r == me || (me == Role::Editor && r == Role::Viewer),
        _ => false,
    };
    let own = db.acl.values().any(|a| {
        (a.dashboard_id == dash.id || (dash.folder_id > 0 && a.dashboard_id == dash.folder_id))
            && a.permission >= permission
            && ((a.user_id > 0 && a.user_id == id.user_id)
                || (a.team_id > 0
                    && id.user_id > 0
                    && db.teams.get(&a.team_id).is_some_and(|t| t.members.contains(&id.user_id)))
                || role_ok(a.role))
    });
    if own {
        return true;
    }
    // The default rows join when the folder has no ACL or, with no folder row (General or a
    // deleted folder), when the dashboard has none.
    let defaults = match db.dashboards.get(&dash.folder_id).filter(|_| dash.folder_id > 0) {
        Some(f) => !f.has_acl,
        None => !dash.has_acl,
    };
    defaults && [(Role::Viewer, 1), (Role::Editor, 2)].iter().any(|(r, p)| *p >= permission && role_ok(Some(*r)))
}
