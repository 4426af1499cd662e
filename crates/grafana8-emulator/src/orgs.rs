//! Orgs and org users: pkg/api/org.go, pkg/api/org_users.go, pkg/services/sqlstore/org.go and
//! pkg/services/sqlstore/org_users.go at v8.5.4.
//!
//! With RBAC off (the default), `authorize(fallback, …)` and `authorizeInOrg(fallback, …)` run
//! only their fallback guard (pkg/services/accesscontrol/middleware/middleware.go), so the
//! guards here are the legacy role checks of pkg/api/api.go.

use crate::auth::Identity;
use crate::http::{
    Field, Paging, R, bind_fields, bind_go, err_plain, err_trace, json, parse_param, parse_query, query_i64,
    query_per_page, query_str, success,
};
use crate::server::App;
use crate::state::{Address, Db, Role};
use crate::util::{age_string, avatar_url, format_unix, now_unix, sql_like};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, patch, put};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/org", get(get_org).put(update_org))
        .route("/api/org/address", put(update_org_address))
        .route("/api/org/users", get(current_org_users).post(add_org_user))
        .route("/api/org/users/search", get(search_current_org_users))
        .route("/api/org/users/lookup", get(current_org_users_lookup))
        .route("/api/org/users/{user_id}", patch(update_org_user).delete(remove_org_user))
        .route("/api/orgs", get(search_orgs).post(create_org))
        .route("/api/orgs/name/{name}", get(get_org_by_name))
        .route("/api/orgs/{org_id}", get(get_org).put(update_org).delete(delete_org))
        .route("/api/orgs/{org_id}/address", put(update_org_address))
        .route("/api/orgs/{org_id}/users", get(org_users).post(add_org_user))
        .route("/api/orgs/{org_id}/users/{user_id}", patch(update_org_user).delete(remove_org_user))
}

/// `[users] allow_org_create` in conf/defaults.ini at v8.5.4.
const ALLOW_ORG_CREATE: bool = false;

/// `models.RoleType` as bound by `web.Bind`: its `UnmarshalJSON` (pkg/models/org_user.go) turns
/// `""` and `null` into `Viewer` and fails on any other unknown text, which binding reports
/// as `bad request data`. A missing key leaves the zero value, which `binding:"Required"`
/// refuses.
#[derive(Debug, Default)]
pub(crate) struct BoundRole(pub Option<Role>);

impl<'de> Deserialize<'de> for BoundRole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<String>::deserialize(d)?.as_deref() {
            None | Some("") => Ok(BoundRole(Some(Role::Viewer))),
            Some(s) => Role::parse(s)
                .map(|r| BoundRole(Some(r)))
                .ok_or_else(|| serde::de::Error::custom(format!("JSON validation error: invalid role value: {s}"))),
        }
    }
}

/// `models.OrgDetailsDTO`.
fn org_details(org: &crate::state::Org) -> Value {
    let a = &org.address;
    json!({"id": org.id, "name": org.name, "address": {"address1": a.address1, "address2": a.address2,
           "city": a.city, "zipCode": a.zip_code, "state": a.state, "country": a.country}})
}

/// pkg/api/org.go `getOrgHelper`: 404 `Organization not found` is built from
/// `models.ErrOrgNotFound`, so it carries the trace id.
fn get_org_helper(db: &Db, org_id: i64) -> R {
    match db.orgs.get(&org_id) {
        Some(org) => Ok(json(200, &org_details(org))),
        None => Err(err_trace(404, "Organization not found")),
    }
}

/// pkg/api/org.go `GetCurrentOrg` (signed in) and `GetOrgByID` (server admins).
async fn get_org(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, path_org: Option<Path<String>>) -> R {
    let org = id.org_of(path_org.map(|p| p.0), |_| Ok(()))?;
    get_org_helper(&app.db(), org.id()?)
}

/// pkg/api/org.go `GetOrgByName` (server admins); the name is matched exactly.
async fn get_org_by_name(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(name): Path<String>,
) -> R {
    id.require_grafana_admin()?;
    let db = app.db();
    match db.orgs.values().find(|o| o.name == name) {
        Some(org) => Ok(json(200, &org_details(org))),
        None => Err(err_trace(404, "Organization not found")),
    }
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: Option<String>,
}

/// `CreateOrgCommand` / `dtos.UpdateOrgForm`: `name` is `binding:"Required"`.
fn bind_name(headers: &HeaderMap, body: &[u8]) -> Result<String, Response> {
    let form: NameForm = bind_fields(headers, body, &["name"])?;
    form.name.filter(|n| !n.is_empty()).ok_or_else(crate::http::bad_request_data)
}

/// pkg/api/org.go `CreateOrg` (signed in): without RBAC only server admins may create orgs,
/// since `allow_org_create` is false by default; the creator becomes the org's Admin
/// (pkg/services/sqlstore/org.go `createOrg`).
async fn create_org(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let name = bind_name(&headers, &body)?;
    if !(ALLOW_ORG_CREATE || id.is_grafana_admin) {
        return Err(err_plain(403, "Access denied"));
    }
    let mut db = app.db();
    if db.orgs.values().any(|o| o.name == name) {
        return Err(err_trace(409, "Organization name taken"));
    }
    let org_id = crate::seed::add_org(&mut db, &name);
    db.org_users.insert((org_id, id.user_id), Role::Admin);
    // util.DynMap marshals with sorted keys.
    Ok(json(200, &json!({"message": "Organization created", "orgId": org_id})))
}

/// pkg/api/org.go `SearchOrgs` (server admins) over pkg/services/sqlstore/org.go
/// `SearchOrgs`: `query` is a name prefix (`LIKE 'q%'`), `name` exact; the offset is
/// `perpage * page` with `page` defaulting to 0, so `page=1` skips the first page; rows come
/// in id order (no ORDER BY).
async fn search_orgs(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    id.require_grafana_admin()?;
    let q = parse_query(req.uri().query());
    let per_page = query_per_page(&q);
    let page = query_i64(&q, "page");
    let (query, name) = (query_str(&q, "query"), query_str(&q, "name"));
    let pattern = format!("{query}%");
    let db = app.db();
    let list: Vec<Value> = db
        .orgs
        .values()
        .filter(|o| query.is_empty() || sql_like(&pattern, &o.name))
        .filter(|o| name.is_empty() || o.name == name)
        .skip(per_page.saturating_mul(page).max(0) as usize)
        .take(per_page as usize)
        .map(|o| json!({"id": o.id, "name": o.name}))
        .collect();
    Ok(json(200, &Value::Array(list)))
}

/// pkg/api/org.go `updateOrgHelper` over pkg/services/sqlstore/org.go `UpdateOrg`: a name
/// used by another org is 400; an unknown id updates no row, `ErrOrgNotFound`, which the
/// handler reports as 500.
fn update_org_helper(db: &mut Db, org_id: i64, name: String) -> R {
    if db.orgs.values().any(|o| o.name == name && o.id != org_id) {
        return Err(err_trace(400, "Organization name taken"));
    }
    let Some(org) = db.orgs.get_mut(&org_id) else {
        return Err(err_trace(500, "Failed to update organization"));
    };
    org.name = name;
    Ok(success("Organization updated"))
}

/// pkg/api/org.go `UpdateCurrentOrg` (org admins) and `UpdateOrg` (server admins): the body
/// is bound before the id is parsed.
async fn update_org(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    path_org: Option<Path<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let org = id.org_of(path_org.map(|p| p.0), Identity::require_org_admin)?;
    let name = bind_name(&headers, &body)?;
    update_org_helper(&mut app.db(), org.id()?, name)
}

#[derive(Deserialize, Default)]
struct AddressForm {
    #[serde(default)]
    address1: String,
    #[serde(default)]
    address2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    zipcode: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    country: String,
}

/// Binds `dtos.UpdateOrgAddressForm`, which spells the zip code `zipcode`.
fn bind_address(headers: &HeaderMap, body: &[u8]) -> Result<AddressForm, Response> {
    bind_fields(headers, body, &["address1", "address2", "city", "zipcode", "state", "country"])
}

/// pkg/api/org.go `updateOrgAddressHelper` over `UpdateOrgAddress`: xorm updates only the
/// non-empty columns, and an unknown org updates nothing without an error.
fn update_address(db: &mut Db, org_id: i64, f: AddressForm) -> R {
    if let Some(org) = db.orgs.get_mut(&org_id) {
        let a: &mut Address = &mut org.address;
        for (slot, v) in [
            (&mut a.address1, f.address1),
            (&mut a.address2, f.address2),
            (&mut a.city, f.city),
            (&mut a.zip_code, f.zipcode),
            (&mut a.state, f.state),
            (&mut a.country, f.country),
        ] {
            if !v.is_empty() {
                *slot = v;
            }
        }
    }
    Ok(success("Address updated"))
}

/// pkg/api/org.go `UpdateCurrentOrgAddress` (org admins) and `UpdateOrgAddress` (server
/// admins): the form is bound before the id is parsed.
async fn update_org_address(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    path_org: Option<Path<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let org = id.org_of(path_org.map(|p| p.0), Identity::require_org_admin)?;
    let form = bind_address(&headers, &body)?;
    update_address(&mut app.db(), org.id()?, form)
}

/// pkg/api/org.go `DeleteOrgByID` (server admins) over pkg/services/sqlstore/org.go
/// `DeleteOrg`: the caller's current org cannot be deleted; the org's dashboards, API keys,
/// data sources, memberships, alerting configuration, rules and notification channels go with
/// it, while its teams and preferences stay behind as in 8.5.4.
async fn delete_org(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(raw): Path<String>) -> R {
    id.require_grafana_admin()?;
    let org_id = parse_param(&raw, "orgId")?;
    if id.org_id == org_id {
        return Err(err_plain(400, "Can not delete org for current user"));
    }
    let mut db = app.db();
    if db.orgs.remove(&org_id).is_none() {
        return Err(err_plain(404, "Failed to delete organization. ID not found"));
    }
    db.dashboards.retain(|_, d| d.org_id != org_id);
    db.api_keys.retain(|_, k| k.org_id != org_id);
    db.datasources.retain(|_, d| d.org_id != org_id);
    db.org_users.retain(|(o, _), _| *o != org_id);
    db.am_configs.remove(&org_id);
    db.rules.remove_org(org_id);
    db.channels.retain(|_, c| c.org_id != org_id);
    Ok(success("Organization deleted"))
}

/// `models.OrgUserDTO` rows of pkg/services/sqlstore/org_users.go `GetOrgUsers`: `query` is a
/// `LIKE '%q%'` on email, name or login; rows sort by email, then login; `limit` caps them.
fn org_user_rows(db: &Db, org_id: i64, query: &str, limit: i64) -> Vec<Value> {
    let pattern = format!("%{query}%");
    let mut rows: Vec<(&crate::state::User, Role)> = db
        .org_users
        .iter()
        .filter(|((o, _), _)| *o == org_id)
        .filter_map(|((_, u), role)| db.users.get(u).map(|u| (u, *role)))
        .filter(|(u, _)| {
            query.is_empty()
                || sql_like(&pattern, &u.email)
                || sql_like(&pattern, &u.name)
                || sql_like(&pattern, &u.login)
        })
        .collect();
    rows.sort_by(|(a, _), (b, _)| (&a.email, &a.login).cmp(&(&b.email, &b.login)));
    if limit > 0 {
        rows.truncate(limit as usize);
    }
    let now = now_unix();
    rows.into_iter()
        .map(|(u, role)| {
            json!({"orgId": org_id, "userId": u.id, "email": u.email, "name": u.name,
                   "avatarUrl": avatar_url(&u.email), "login": u.login, "role": role.as_str(),
                   "lastSeenAt": format_unix(u.last_seen), "lastSeenAtAge": age_string(u.last_seen, now)})
        })
        .collect()
}

/// pkg/api/org_users.go `GetOrgUsersForCurrentOrg` (org admins).
async fn current_org_users(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    id.require_org_admin()?;
    let q = parse_query(req.uri().query());
    let rows = org_user_rows(&app.db(), id.org_id, query_str(&q, "query"), query_i64(&q, "limit"));
    Ok(json(200, &Value::Array(rows)))
}

/// pkg/api/org_users.go `GetOrgUsersForCurrentOrgLookup`, behind
/// `OrgAdminFolderAdminOrTeamAdmin` (pkg/middleware/auth.go): org admins, admins of some
/// folder, or admins of some team of the org.
async fn current_org_users_lookup(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    let db = app.db();
    if id.role != Some(Role::Admin) {
        let folder_admin = db.dashboards.values().any(|d| {
            d.org_id == id.org_id && d.is_folder && crate::auth::has_permission(&db, &id, d.id, crate::auth::PERM_ADMIN)
        });
        // sqlstore.IsAdminOfTeams: a team_member row with permission Admin in the org.
        let team_admin =
            id.user_id > 0 && db.teams.values().any(|t| t.org_id == id.org_id && t.admins.contains(&id.user_id));
        if !folder_admin && !team_admin {
            return Err(crate::http::permission_denied());
        }
    }
    let q = parse_query(req.uri().query());
    let rows = org_user_rows(&db, id.org_id, query_str(&q, "query"), query_i64(&q, "limit"));
    let list: Vec<Value> = rows
        .into_iter()
        .map(|r| json!({"userId": r["userId"], "login": r["login"], "avatarUrl": r["avatarUrl"]}))
        .collect();
    Ok(json(200, &Value::Array(list)))
}

/// pkg/api/org_users.go `SearchOrgUsersWithPaging` (org admins): the page's rows under
/// `OrgUsers` (capitalised, as `SearchOrgUsersQueryResult` tags it) and the total count.
async fn search_current_org_users(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    id.require_org_admin()?;
    let q = parse_query(req.uri().query());
    let paging = Paging::from_query(&q);
    let all = org_user_rows(&app.db(), id.org_id, query_str(&q, "query"), 0);
    let total = all.len();
    // SearchOrgUsers does not select created/updated; the DTO has no such keys anyway.
    let rows: Vec<Value> = paging.rows(all).collect();
    Ok(json(200, &paging.answer(total, "OrgUsers", rows)))
}

/// pkg/api/org_users.go `GetOrgUsers` (server admins): no query, no limit; an unknown org
/// has no rows.
async fn org_users(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(raw): Path<String>) -> R {
    id.require_grafana_admin()?;
    let org_id = parse_param(&raw, "orgId")?;
    Ok(json(200, &Value::Array(org_user_rows(&app.db(), org_id, "", 0))))
}

#[derive(Deserialize, Default)]
struct AddOrgUserCommand {
    #[serde(default, rename = "loginOrEmail")]
    login_or_email: Option<String>,
    #[serde(default)]
    role: BoundRole,
}

/// `models.AddOrgUserCommand`: both fields are `binding:"Required"`.
fn bind_add(headers: &HeaderMap, body: &[u8]) -> Result<(String, Role), Response> {
    // `Role models.RoleType` has its own `UnmarshalJSON`, which Go calls for `null` too.
    let cmd: AddOrgUserCommand = bind_go(headers, body, &[("loginOrEmail", Field::Plain), ("role", Field::Nullable)])?;
    match (cmd.login_or_email.filter(|l| !l.is_empty()), cmd.role.0) {
        (Some(login), Some(role)) => Ok((login, role)),
        _ => Err(crate::http::bad_request_data()),
    }
}

/// pkg/api/org_users.go `addOrgUserHelper` over pkg/services/sqlstore/org_users.go
/// `AddOrgUser`. The role is always valid once bound, so `Invalid role specified` cannot
/// occur.
fn add_org_user_helper(db: &mut Db, org_id: i64, login: &str, role: Role) -> R {
    let Some(user_id) = crate::users::user_by_login_or_email(db, login).map(|u| u.id) else {
        return Err(err_plain(404, "User not found"));
    };
    if db.org_users.contains_key(&(org_id, user_id)) {
        // response.JSON with a util.DynMap: keys sorted, no trace id.
        return Err(json(409, &json!({"message": "User is already member of this organization", "userId": user_id})));
    }
    if !db.orgs.contains_key(&org_id) {
        return Err(err_trace(500, "Could not add user to organization"));
    }
    db.org_users.insert((org_id, user_id), role);
    // A user whose current org has no membership row (none yet, or it was left) switches to
    // the new one.
    if let Some(u) = db.users.get(&user_id)
        && !db.org_users.contains_key(&(u.current_org, user_id))
        && let Some(u) = db.users.get_mut(&user_id)
    {
        u.current_org = org_id;
    }
    Ok(json(200, &json!({"message": "User added to organization", "userId": user_id})))
}

/// pkg/api/org_users.go `AddOrgUserToCurrentOrg` (org admins; the user quota is unlimited by
/// default) and `AddOrgUser` (server admins): the body is bound before the org id is parsed.
async fn add_org_user(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    path_org: Option<Path<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let org = id.org_of(path_org.map(|p| p.0), Identity::require_org_admin)?;
    let (login, role) = bind_add(&headers, &body)?;
    add_org_user_helper(&mut app.db(), org.id()?, &login, role)
}

#[derive(Deserialize, Default)]
struct UpdateOrgUserCommand {
    #[serde(default)]
    role: BoundRole,
}

fn bind_role(headers: &HeaderMap, body: &[u8]) -> Result<Role, Response> {
    let cmd: UpdateOrgUserCommand = bind_go(headers, body, &[("role", Field::Nullable)])?;
    cmd.role.0.ok_or_else(crate::http::bad_request_data)
}

/// Whether the org keeps a member with the Admin role (`validateOneAdminLeftInOrg`).
fn org_has_admin(db: &Db, org_id: i64) -> bool {
    db.org_users.iter().any(|((o, _), r)| *o == org_id && *r == Role::Admin)
}

/// pkg/api/org_users.go `updateOrgUserHelper` over `UpdateOrgUser`: a missing membership is
/// `ErrOrgUserNotFound`, reported as 500; demoting the last Admin is rolled back with 400.
fn update_org_user_helper(db: &mut Db, org_id: i64, user_id: i64, role: Role) -> R {
    let Some(old) = db.org_users.get(&(org_id, user_id)).copied() else {
        return Err(err_trace(500, "Failed update org user"));
    };
    db.org_users.insert((org_id, user_id), role);
    if !org_has_admin(db, org_id) {
        db.org_users.insert((org_id, user_id), old);
        return Err(err_plain(400, "Cannot change role so that there is no organization admin left"));
    }
    Ok(success("Organization user updated"))
}

/// The ids of `/api/org/users/:userId` and `/api/orgs/:orgId/users/:userId`.
#[derive(Deserialize)]
struct OrgUserPath {
    org_id: Option<String>,
    user_id: String,
}

/// pkg/api/org_users.go `UpdateOrgUserForCurrentOrg` (org admins) and `UpdateOrgUser` (server
/// admins): the body, then the org id, then the user id.
async fn update_org_user(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(path): Path<OrgUserPath>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let org = id.org_of(path.org_id, Identity::require_org_admin)?;
    let role = bind_role(&headers, &body)?;
    let org_id = org.id()?;
    let user_id = parse_param(&path.user_id, "userId")?;
    update_org_user_helper(&mut app.db(), org_id, user_id, role)
}

/// pkg/api/org_users.go `removeOrgUserHelper` over pkg/services/sqlstore/org_users.go
/// `RemoveOrgUser`: an unknown user is `ErrUserNotFound`, reported as 500; the membership, the
/// user's folder permissions and team memberships in the org go; an org left without an Admin
/// is rolled back with 400. A user left in no org is deleted when removed from the current org
/// (`ShouldDeleteOrphanedUser`), otherwise kept with current org 0; a user whose current org
/// was this one switches to another of its orgs.
fn remove_org_user_helper(db: &mut Db, org_id: i64, user_id: i64, delete_orphan: bool) -> R {
    let Some(current_org) = db.users.get(&user_id).map(|u| u.current_org) else {
        return Err(err_trace(500, "Failed to remove user from organization"));
    };
    let old = db.org_users.remove(&(org_id, user_id));
    if !org_has_admin(db, org_id) {
        if let Some(role) = old {
            db.org_users.insert((org_id, user_id), role);
        }
        return Err(err_plain(400, "Cannot remove last organization admin"));
    }
    db.acl.retain(|_, a| !(a.org_id == org_id && a.user_id == user_id));
    for t in db.teams.values_mut().filter(|t| t.org_id == org_id) {
        t.members.retain(|m| *m != user_id);
        t.admins.remove(&user_id);
    }
    let others: Vec<i64> = db.org_users.keys().filter(|(_, u)| *u == user_id).map(|(o, _)| *o).collect();
    if let Some(first) = others.first() {
        if !others.contains(&current_org)
            && let Some(u) = db.users.get_mut(&user_id)
        {
            u.current_org = *first;
        }
    } else if delete_orphan {
        crate::users::delete_user_rows(db, user_id);
        return Ok(success("User deleted"));
    } else if let Some(u) = db.users.get_mut(&user_id) {
        u.current_org = 0;
    }
    Ok(success("User removed from organization"))
}

/// pkg/api/org_users.go `RemoveOrgUserForCurrentOrg` (org admins; an orphaned user is
/// deleted) and `RemoveOrgUser` (server admins): the user id is parsed before the org id.
async fn remove_org_user(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(path): Path<OrgUserPath>,
) -> R {
    let org = id.org_of(path.org_id, Identity::require_org_admin)?;
    let user_id = parse_param(&path.user_id, "userId")?;
    remove_org_user_helper(&mut app.db(), org.id()?, user_id, org.is_own())
}
