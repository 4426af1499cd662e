//! Users: pkg/api/user.go, pkg/api/admin_users.go, pkg/services/searchusers/searchusers.go and
//! pkg/services/sqlstore/user.go at v8.5.4, with the `[users]` defaults of conf/defaults.ini
//! (`auto_assign_org = true`, `auto_assign_org_id = 1`, `auto_assign_org_role = Viewer`).

use crate::auth::Identity;
use crate::http::{
    Paging, R, bad_request_data, bind_fields, err_plain, err_trace, json, parse_param, parse_query, query_all, success,
};
use crate::server::App;
use crate::state::{Db, Org, Role, User};
use crate::util::{age_string, avatar_url, format_unix, now_rfc3339, now_unix, sql_like};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/user", get(get_user).put(update_user))
        .route("/api/user/password", put(change_password))
        .route("/api/user/using/{org_id}", post(user_set_using_org))
        .route("/api/user/orgs", get(user_orgs))
        .route("/api/user/teams", get(user_teams))
        .route("/api/users", get(search_users))
        .route("/api/users/search", get(search_users_with_paging))
        .route("/api/users/lookup", get(user_by_login_or_email_handler))
        .route("/api/users/{id}", get(get_user).put(update_user))
        .route("/api/users/{id}/orgs", get(user_orgs))
        .route("/api/users/{id}/teams", get(user_teams))
        .route("/api/users/{id}/using/{org_id}", post(update_user_active_org))
        .route("/api/admin/users", post(admin_create_user))
        .route("/api/admin/users/{id}", axum::routing::delete(admin_delete_user))
        .route("/api/admin/users/{id}/password", put(admin_update_password))
        .route("/api/admin/users/{id}/permissions", put(admin_update_permissions))
}

/// pkg/services/sqlstore/user.go `GetUserByLogin`: the login first, then, only for text with
/// an `@`, the email; both compared exactly (SQLite `=`).
pub(crate) fn user_by_login_or_email<'a>(db: &'a Db, login_or_email: &str) -> Option<&'a User> {
    if login_or_email.is_empty() {
        return None;
    }
    db.users.values().find(|u| u.login == login_or_email).or_else(|| {
        login_or_email.contains('@').then(|| db.users.values().find(|u| u.email == login_or_email)).flatten()
    })
}

/// pkg/services/sqlstore/user.go `deleteUserInTransaction` (`UserDeletions`): the user row and
/// its memberships, folder permissions, preferences and team memberships.
pub(crate) fn delete_user_rows(db: &mut Db, user_id: i64) {
    db.users.remove(&user_id);
    db.org_users.retain(|(_, u), _| *u != user_id);
    db.acl.retain(|_, a| a.user_id != user_id);
    db.preferences.retain(|(_, u, _), _| *u != user_id);
    for t in db.teams.values_mut() {
        t.members.retain(|m| *m != user_id);
        t.admins.remove(&user_id);
    }
}

/// `models.UserProfileDTO` (`orgId` is `omitempty`, `accessControl` is absent with RBAC off).
fn user_profile(u: &User, auth_labels: Value, avatar: &str) -> Value {
    let mut v = json!({"id": u.id, "email": u.email, "name": u.name, "login": u.login, "theme": u.theme});
    if u.current_org != 0 {
        v["orgId"] = json!(u.current_org);
    }
    for (k, x) in [
        ("isGrafanaAdmin", json!(u.is_grafana_admin)),
        ("isDisabled", json!(false)),
        ("isExternal", json!(false)),
        ("authLabels", auth_labels),
        ("updatedAt", json!(u.updated)),
        ("createdAt", json!(u.created)),
        ("avatarUrl", json!(avatar)),
    ] {
        v[k] = x;
    }
    v
}

/// pkg/api/user.go `getUserUserProfile`: `authLabels` is an empty list (no external auth) and
/// the avatar is set; an unknown id (or an API key's user 0) is 404 `user not found`.
fn user_profile_response(db: &Db, user_id: i64) -> R {
    let Some(u) = db.users.get(&user_id) else {
        return Err(err_plain(404, "user not found"));
    };
    Ok(json(200, &user_profile(u, json!([]), &avatar_url(&u.email))))
}

/// pkg/api/user.go `GetSignedInUser` and `GetUserByID` (server admins).
async fn get_user(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    path_user: Option<Path<String>>,
) -> R {
    let user = id.user_of(path_user.map(|p| p.0))?;
    user_profile_response(&app.db(), user.id()?)
}

/// pkg/api/user.go `GetUserByLoginOrEmail` (server admins): the DTO is built by hand, so
/// `authLabels` is null and `avatarUrl` empty.
async fn user_by_login_or_email_handler(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    req: Request,
) -> R {
    id.require_grafana_admin()?;
    let q = parse_query(req.uri().query());
    let db = app.db();
    match user_by_login_or_email(&db, crate::http::query_str(&q, "loginOrEmail")) {
        Some(u) => Ok(json(200, &user_profile(u, Value::Null, ""))),
        None => Err(err_plain(404, "user not found")),
    }
}

#[derive(Deserialize, Default)]
struct UpdateUserCommand {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    theme: String,
}

fn bind_update(headers: &HeaderMap, body: &[u8]) -> Result<UpdateUserCommand, Response> {
    bind_fields(headers, body, &["name", "email", "login", "theme"])
}

/// pkg/api/user.go `handleUpdateUser` over pkg/services/sqlstore/user.go `UpdateUser`: the
/// login falls back to the email; xorm writes only the non-empty columns; a login or email
/// another user has breaks the unique index (500); an unknown id updates nothing and succeeds.
fn handle_update_user(db: &mut Db, user_id: i64, mut cmd: UpdateUserCommand) -> R {
    if cmd.login.is_empty() {
        cmd.login = cmd.email.clone();
        if cmd.login.is_empty() {
            return Err(err_plain(400, "Validation error, need to specify either username or email"));
        }
    }
    if db.users.contains_key(&user_id) {
        let clash = db
            .users
            .values()
            .any(|u| u.id != user_id && (u.login == cmd.login || (!cmd.email.is_empty() && u.email == cmd.email)));
        if clash {
            return Err(err_trace(500, "Failed to update user"));
        }
    }
    if let Some(u) = db.users.get_mut(&user_id) {
        for (slot, v) in
            [(&mut u.name, cmd.name), (&mut u.email, cmd.email), (&mut u.login, cmd.login), (&mut u.theme, cmd.theme)]
        {
            if !v.is_empty() {
                *slot = v;
            }
        }
        u.updated = now_rfc3339();
    }
    Ok(success("User updated"))
}

/// pkg/api/user.go `UpdateSignedInUser` (auth proxy is off by default) and `UpdateUser`
/// (server admins): the body is bound before the id is parsed.
async fn update_user(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    path_user: Option<Path<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let user = id.user_of(path_user.map(|p| p.0))?;
    let cmd = bind_update(&headers, &body)?;
    handle_update_user(&mut app.db(), user.id()?, cmd)
}

#[derive(Deserialize, Default)]
struct ChangeUserPasswordCommand {
    #[serde(default, rename = "oldPassword")]
    old_password: String,
    #[serde(default, rename = "newPassword")]
    new_password: String,
}

/// pkg/api/user.go `ChangeUserPassword` (LDAP and auth proxy are off by default): an API key
/// has no user row (500); `Password.IsWeak` refuses four characters or fewer.
async fn change_password(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let cmd: ChangeUserPasswordCommand = bind_fields(&headers, &body, &["oldPassword", "newPassword"])?;
    let mut db = app.db();
    let Some(u) = db.users.get_mut(&id.user_id) else {
        return Err(err_trace(500, "Could not read user from database"));
    };
    if u.password != cmd.old_password {
        return Err(err_plain(401, "Invalid old password"));
    }
    if cmd.new_password.len() <= 4 {
        return Err(err_plain(400, "New password is too short"));
    }
    u.password = cmd.new_password;
    u.updated = now_rfc3339();
    Ok(success("User password changed"))
}

/// `models.UserOrgDTO` rows of pkg/services/sqlstore/user.go `GetUserOrgList`, sorted by name
/// without regard to case (`byOrgName`).
fn user_org_list(db: &Db, user_id: i64) -> Vec<Value> {
    let mut rows: Vec<(&Org, Role)> = db
        .org_users
        .iter()
        .filter(|((_, u), _)| *u == user_id)
        .filter(|_| db.users.contains_key(&user_id))
        .filter_map(|((o, _), r)| db.orgs.get(o).map(|o| (o, *r)))
        .collect();
    rows.sort_by(|(a, _), (b, _)| (a.name.to_lowercase(), &a.name).cmp(&(b.name.to_lowercase(), &b.name)));
    rows.into_iter().map(|(o, r)| json!({"orgId": o.id, "name": o.name, "role": r.as_str()})).collect()
}

/// pkg/api/user.go `GetSignedInUserOrgList` and `GetUserOrgList` (server admins).
async fn user_orgs(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    path_user: Option<Path<String>>,
) -> R {
    let user = id.user_of(path_user.map(|p| p.0))?;
    Ok(json(200, &Value::Array(user_org_list(&app.db(), user.id()?))))
}

/// pkg/api/user.go `getUserTeamList` over pkg/services/sqlstore/team.go `GetTeamsByUser`: the
/// user's teams in the caller's org, without the member's permission (always 0 here).
fn user_team_list(db: &Db, org_id: i64, user_id: i64) -> Value {
    let list: Vec<Value> = db
        .teams
        .values()
        .filter(|t| t.org_id == org_id && t.members.contains(&user_id))
        .map(|t| crate::teams::team_dto(t, 0))
        .collect();
    Value::Array(list)
}

/// pkg/api/user.go `GetSignedInUserTeamList` and `GetUserTeams` (server admins): teams of the
/// caller's current org.
async fn user_teams(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    path_user: Option<Path<String>>,
) -> R {
    let user = id.user_of(path_user.map(|p| p.0))?;
    Ok(json(200, &user_team_list(&app.db(), id.org_id, user.id()?)))
}

/// pkg/api/user.go `validateUsingOrg` then pkg/services/sqlstore/user.go `SetUsingOrg`.
fn set_using_org(db: &mut Db, user_id: i64, org_id: i64) -> R {
    let member = db.users.contains_key(&user_id)
        && db.orgs.contains_key(&org_id)
        && db.org_users.contains_key(&(org_id, user_id));
    if !member {
        return Err(err_plain(401, "Not a valid organization"));
    }
    if let Some(u) = db.users.get_mut(&user_id) {
        u.current_org = org_id;
    }
    Ok(success("Active organization changed"))
}

/// pkg/api/user.go `UserSetUsingOrg`: the signed-in user's current org, used when no
/// `X-Grafana-Org-Id` is sent.
async fn user_set_using_org(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
) -> R {
    let org_id = parse_param(&raw, "id")?;
    set_using_org(&mut app.db(), id.user_id, org_id)
}

/// pkg/api/user.go `UpdateUserActiveOrg` (server admins).
async fn update_user_active_org(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path((raw_user, raw_org)): Path<(String, String)>,
) -> R {
    id.require_grafana_admin()?;
    let user_id = parse_param(&raw_user, "id")?;
    let org_id = parse_param(&raw_org, "orgId")?;
    set_using_org(&mut app.db(), user_id, org_id)
}

/// pkg/services/searchusers/searchusers.go `SearchUser` over pkg/services/sqlstore/user.go
/// `SearchUsers`: `query` is a `LIKE '%q%'` on email, name or login, `activeLast30Days=true`
/// keeps users seen in the last 30 days; rows sort by login, then email; `perpage` defaults to
/// 1000 and `page` to 1.
fn search(db: &Db, raw_query: Option<&str>) -> (usize, Vec<Value>, Paging) {
    let q = parse_query(raw_query);
    let paging = Paging::from_query(&q);
    let query = crate::http::query_str(&q, "query");
    let pattern = format!("%{query}%");
    let now = now_unix();
    // The filter reads the first value; one that does not parse as a Go bool is ignored.
    let active_only = query_all(&q, "activeLast30Days").first().is_some_and(|v| go_parse_bool(v) == Some(true));
    let mut users: Vec<&User> = db
        .users
        .values()
        .filter(|u| {
            query.is_empty()
                || sql_like(&pattern, &u.email)
                || sql_like(&pattern, &u.name)
                || sql_like(&pattern, &u.login)
        })
        .filter(|u| !active_only || u.last_seen > now - 30 * 86_400)
        .collect();
    users.sort_by(|a, b| (&a.login, &a.email).cmp(&(&b.login, &b.email)));
    let total = users.len();
    let hits: Vec<Value> = paging
        .rows(users)
        .map(|u| {
            json!({"id": u.id, "name": u.name, "login": u.login, "email": u.email,
                   "avatarUrl": avatar_url(&u.email), "isAdmin": u.is_grafana_admin, "isDisabled": false,
                   "lastSeenAt": format_unix(u.last_seen), "lastSeenAtAge": age_string(u.last_seen, now),
                   "authLabels": []})
        })
        .collect();
    (total, hits, paging)
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// pkg/services/searchusers/searchusers.go `SearchUsers` (server admins): the page's hits.
async fn search_users(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    id.require_grafana_admin()?;
    let (_, hits, _) = search(&app.db(), req.uri().query());
    Ok(json(200, &Value::Array(hits)))
}

/// pkg/services/searchusers/searchusers.go `SearchUsersWithPaging` (server admins).
async fn search_users_with_paging(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    id.require_grafana_admin()?;
    let (total, hits, paging) = search(&app.db(), req.uri().query());
    Ok(json(200, &paging.answer(total, "users", hits)))
}

#[derive(Deserialize, Default)]
struct AdminCreateUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "orgId")]
    org_id: i64,
}

/// pkg/api/admin_users.go `AdminCreateUser` (server admins) over
/// pkg/services/sqlstore/user.go `CreateUser`: `password` is `binding:"Required"`; the login
/// falls back to the email and the email to the login; a given `orgId` must exist, otherwise
/// the user joins `auto_assign_org_id` 1 (recreated as `Main Org.` if it was deleted), both as
/// `auto_assign_org_role` Viewer; an email or login already used as such is 412.
async fn admin_create_user(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_grafana_admin()?;
    let form: AdminCreateUserForm = bind_fields(&headers, &body, &["email", "login", "name", "password", "orgId"])?;
    if form.password.is_empty() {
        return Err(bad_request_data());
    }
    let login = if form.login.is_empty() { form.email.clone() } else { form.login.clone() };
    if login.is_empty() {
        return Err(err_plain(400, "Validation error, need specify either username or email"));
    }
    if form.password.len() < 4 {
        return Err(err_plain(400, "Password is missing or too short"));
    }
    let mut db = app.db();
    if form.org_id != 0 && !db.orgs.contains_key(&form.org_id) {
        // models.ErrOrgNotFound's text, built with a nil error.
        return Err(err_plain(400, "organization not found"));
    }
    let email = if form.email.is_empty() { login.clone() } else { form.email.clone() };
    if db.users.values().any(|u| u.email == email || u.login == login) {
        let msg = format!("User with email '{}' or username '{}' already exists", form.email, form.login);
        return Err(err_trace(412, &msg));
    }
    let org_id = if form.org_id != 0 { form.org_id } else { 1 };
    if let std::collections::btree_map::Entry::Vacant(e) = db.orgs.entry(org_id) {
        e.insert(Org { id: org_id, name: "Main Org.".into(), address: Default::default() });
        db.am_configs.insert(org_id, crate::am_config::default_am_config());
    }
    let user_id = db.next_id("user");
    db.users.insert(user_id, User::new(user_id, &login, &email, &form.name, &form.password, org_id));
    db.org_users.insert((org_id, user_id), Role::Viewer);
    Ok(json(200, &json!({"id": user_id, "message": "User created"})))
}

#[derive(Deserialize, Default)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

/// pkg/api/admin_users.go `AdminUpdateUserPassword` (server admins): the body is bound (the
/// password is `binding:"Required"`) before the id is parsed; fewer than four characters is
/// 400; an unknown user is 500.
async fn admin_update_password(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_grafana_admin()?;
    let form: PasswordForm = bind_fields(&headers, &body, &["password"])?;
    if form.password.is_empty() {
        return Err(bad_request_data());
    }
    let user_id = parse_param(&raw, "id")?;
    if form.password.len() < 4 {
        return Err(err_plain(400, "New password too short"));
    }
    let mut db = app.db();
    let Some(u) = db.users.get_mut(&user_id) else {
        return Err(err_trace(500, "Could not read user from database"));
    };
    u.password = form.password;
    u.updated = now_rfc3339();
    Ok(success("User password updated"))
}

#[derive(Deserialize, Default)]
struct PermissionsForm {
    #[serde(default, rename = "isGrafanaAdmin")]
    is_grafana_admin: bool,
}

/// pkg/api/admin_users.go `AdminUpdateUserPermissions` (server admins) over
/// pkg/services/sqlstore/user.go `UpdateUserPermissions`: an unknown user updates no row and
/// succeeds; leaving no server admin is rolled back with 400.
async fn admin_update_permissions(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_grafana_admin()?;
    let form: PermissionsForm = bind_fields(&headers, &body, &["isGrafanaAdmin"])?;
    let user_id = parse_param(&raw, "id")?;
    let mut db = app.db();
    let old = db.users.get(&user_id).map(|u| u.is_grafana_admin);
    if let Some(u) = db.users.get_mut(&user_id) {
        u.is_grafana_admin = form.is_grafana_admin;
    }
    if !db.users.values().any(|u| u.is_grafana_admin) {
        if let (Some(u), Some(old)) = (db.users.get_mut(&user_id), old) {
            u.is_grafana_admin = old;
        }
        // models.ErrLastGrafanaAdmin's text, built with a nil error.
        return Err(err_plain(400, "cannot remove last grafana admin"));
    }
    Ok(success("User permissions updated"))
}

/// pkg/api/admin_users.go `AdminDeleteUser` (server admins). `deleteUserInTransaction` looks
/// the user up with xorm's `Get(&User{Id: id})`, which has no condition for id 0 and finds
/// any user; the deletes then match no row, so id 0 answers `User deleted`.
async fn admin_delete_user(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
) -> R {
    id.require_grafana_admin()?;
    let user_id = parse_param(&raw, "id")?;
    let mut db = app.db();
    if user_id == 0 && !db.users.is_empty() {
        return Ok(success("User deleted"));
    }
    if !db.users.contains_key(&user_id) {
        return Err(err_plain(404, "user not found"));
    }
    delete_user_rows(&mut db, user_id);
    Ok(success("User deleted"))
}
