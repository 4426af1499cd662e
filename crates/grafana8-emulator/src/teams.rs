//! Teams and team members: pkg/api/team.go, pkg/api/team_members.go,
//! pkg/services/sqlstore/team.go, the team permission service of
//! pkg/services/accesscontrol/ossaccesscontrol/permissions_services.go (through which members
//! are added, updated and removed) and pkg/services/teamguardian/manager/service.go, at v8.5.4.
//!
//! Every write route and the member and preference routes sit behind `reqCanAccessTeams`
//! (`AdminOrEditorAndFeatureEnabled(editors_can_admin)`, pkg/middleware/auth.go); with
//! `editors_can_admin = false` (conf/defaults.ini) only org Admins pass, and the team
//! guardian's `CanAdmin` lets every org Admin through, so its `Not allowed to …` 403s cannot
//! occur with the defaults. RBAC is off, so the `authorize` evaluators are not consulted.

use crate::auth::Identity;
use crate::http::{
    Paging, R, bad_request_data, bind_fields, err_plain, err_trace, json, parse_param, parse_query, query_str, success,
};
use crate::server::App;
use crate::state::{Db, Role, Team, User};
use crate::util::{avatar_url, avatar_url_with_default, sql_like};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// `models.PERMISSION_ADMIN`.
const PERMISSION_ADMIN: i64 = 4;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/teams", post(create_team))
        .route("/api/teams/search", get(search_teams))
        .route("/api/teams/{team_id}", get(get_team).put(update_team).delete(delete_team))
        .route("/api/teams/{team_id}/members", get(get_members).post(add_member))
        .route("/api/teams/{team_id}/members/{user_id}", put(update_member).delete(remove_member))
        .route("/api/teams/{team_id}/preferences", get(get_team_preferences).put(update_team_preferences))
}

/// `models.TeamDTO`: `permission` is the caller's membership permission when the query joined
/// `team_member` for a user filter, 0 otherwise; `accessControl` is null with RBAC off.
pub(crate) fn team_dto(t: &Team, permission: i64) -> Value {
    json!({"id": t.id, "orgId": t.org_id, "name": t.name, "email": t.email,
           "avatarUrl": avatar_url_with_default(&t.email, &t.name), "memberCount": t.members.len(),
           "permission": permission, "accessControl": null})
}

/// `reqCanAccessTeams` with `editors_can_admin = false`: org Admins only.
fn require_team_access(id: &Identity) -> Result<(), Response> {
    id.require_org_admin()
}

/// pkg/api/team.go `userFilter`: org Admins see every team, everyone else the teams they are
/// members of. An API key's user id is 0, which is `models.FilterIgnoreUser`, so keys of any
/// role see every team too.
fn user_filter(id: &Identity) -> i64 {
    if id.role == Some(Role::Admin) { 0 } else { id.user_id }
}

fn team_permission(t: &Team, user_id: i64) -> i64 {
    if t.admins.contains(&user_id) { PERMISSION_ADMIN } else { 0 }
}

#[derive(Deserialize, Default)]
struct TeamCommand {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

/// pkg/api/team.go `CreateTeam` over pkg/services/sqlstore/team.go `CreateTeam`: `name` is
/// `binding:"Required"`; a name taken in the org is 409. With RBAC off and
/// `editors_can_admin = false` the creator is not made a member.
async fn create_team(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    require_team_access(&id)?;
    let cmd: TeamCommand = bind_fields(&headers, &body, &["name", "email"])?;
    if cmd.name.is_empty() {
        return Err(bad_request_data());
    }
    let mut db = app.db();
    if db.teams.values().any(|t| t.org_id == id.org_id && t.name == cmd.name) {
        return Err(err_trace(409, "Team name taken"));
    }
    let team_id = db.next_id("team");
    let team = Team {
        id: team_id,
        org_id: id.org_id,
        name: cmd.name,
        email: cmd.email,
        members: vec![],
        admins: Default::default(),
    };
    db.teams.insert(team_id, team);
    // util.DynMap marshals with sorted keys.
    Ok(json(200, &json!({"message": "Team created", "teamId": team_id})))
}

/// pkg/api/team.go `SearchTeams` over pkg/services/sqlstore/team.go `SearchTeams` (signed
/// in): `query` is a `LIKE '%q%'` on the name, `name` exact; rows sort by name; `perpage`
/// defaults to 1000 and `page` to 1.
async fn search_teams(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    let q = parse_query(req.uri().query());
    let (query, name) = (query_str(&q, "query"), query_str(&q, "name"));
    let pattern = format!("%{query}%");
    let paging = Paging::from_query(&q);
    let filter = user_filter(&id);
    let db = app.db();
    let mut teams: Vec<&Team> = db
        .teams
        .values()
        .filter(|t| t.org_id == id.org_id)
        .filter(|t| filter == 0 || t.members.contains(&filter))
        .filter(|t| name.is_empty() || t.name == name)
        .filter(|t| query.is_empty() || sql_like(&pattern, &t.name))
        .collect();
    teams.sort_by(|a, b| a.name.cmp(&b.name));
    let total = teams.len();
    let list: Vec<Value> =
        paging.rows(teams).map(|t| team_dto(t, if filter == 0 { 0 } else { team_permission(t, filter) })).collect();
    Ok(json(200, &paging.answer(total, "teams", list)))
}

/// pkg/api/team.go `GetTeamByID` (signed in): the same user filter as the search; the query
/// selects no permission, so it is 0.
async fn get_team(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(raw): Path<String>) -> R {
    let team_id = parse_param(&raw, "teamId")?;
    let filter = user_filter(&id);
    let db = app.db();
    db.teams
        .get(&team_id)
        .filter(|t| t.org_id == id.org_id && (filter == 0 || t.members.contains(&filter)))
        .map(|t| json(200, &team_dto(t, 0)))
        .ok_or_else(|| err_trace(404, "Team not found"))
}

/// pkg/api/team.go `UpdateTeam` over pkg/services/sqlstore/team.go `UpdateTeam`: the fields
/// bind without regard to case (`UpdateTeamCommand` has no JSON tags); a name another team of
/// the caller's org has is 400. The row is updated by id alone, as xorm's `ID(id).Update`
/// does, so a team of another org is updated too; the name only when non-empty, the email
/// always (`MustCols("email")`). No row is `ErrTeamNotFound`, which the handler reports as 500.
async fn update_team(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    require_team_access(&id)?;
    let cmd: TeamCommand = bind_fields(&headers, &body, &["name", "email"])?;
    let team_id = parse_param(&raw, "teamId")?;
    let mut db = app.db();
    if db.teams.values().any(|t| t.org_id == id.org_id && t.name == cmd.name && t.id != team_id) {
        return Err(err_trace(400, "Team name taken"));
    }
    let Some(team) = db.teams.get_mut(&team_id) else {
        return Err(err_trace(500, "Failed to update Team"));
    };
    if !cmd.name.is_empty() {
        team.name = cmd.name;
    }
    team.email = cmd.email;
    Ok(success("Team updated"))
}

/// pkg/api/team.go `DeleteTeamByID` over pkg/services/sqlstore/team.go `DeleteTeam`: the team
/// must be in the caller's org (404 built without an error); its members and folder or
/// dashboard permissions go with it, its preferences stay.
async fn delete_team(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(raw): Path<String>) -> R {
    require_team_access(&id)?;
    let team_id = parse_param(&raw, "teamId")?;
    let mut db = app.db();
    if db.teams.get(&team_id).is_none_or(|t| t.org_id != id.org_id) {
        return Err(err_plain(404, "Failed to delete Team. ID not found"));
    }
    db.teams.remove(&team_id);
    db.acl.retain(|_, a| !(a.org_id == id.org_id && a.team_id == team_id));
    Ok(success("Team deleted"))
}

/// `models.TeamMemberDTO` rows of pkg/services/sqlstore/team.go `getTeamMembers`: members
/// joined with their user rows, sorted by login, then email; no external auth, so
/// `auth_module` is empty and `labels` an empty list.
fn member_rows(db: &Db, t: &Team) -> Vec<Value> {
    let mut users: Vec<&User> = t.members.iter().filter_map(|u| db.users.get(u)).collect();
    users.sort_by(|a, b| (&a.login, &a.email).cmp(&(&b.login, &b.email)));
    users
        .into_iter()
        .map(|u| {
            json!({"orgId": t.org_id, "teamId": t.id, "userId": u.id, "auth_module": "", "email": u.email,
                   "name": u.name, "login": u.login, "avatarUrl": avatar_url(&u.email), "labels": [],
                   "permission": team_permission(t, u.id)})
        })
        .collect()
}

/// pkg/api/team_members.go `GetTeamMembers`: an unknown team (or one of another org) has no
/// members; the list is empty rather than 404.
async fn get_members(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(raw): Path<String>) -> R {
    require_team_access(&id)?;
    let team_id = parse_param(&raw, "teamId")?;
    let db = app.db();
    let rows = db.teams.get(&team_id).filter(|t| t.org_id == id.org_id).map(|t| member_rows(&db, t));
    Ok(json(200, &Value::Array(rows.unwrap_or_default())))
}

/// The team permission service's `SetUserPermission` checks before its hook runs: the team
/// must be in the org (`ResourceValidator` → `GetTeamById`) and the user must exist
/// (`validateUser` → `GetSignedInUser`, which needs no membership of the org; for ids ≤ 0 it
/// sets no SQL and xorm's fallback query selects `SignedInUser` columns the `user` table lacks,
/// an error).
fn team_and_user_valid(db: &Db, org_id: i64, team_id: i64, user_id: i64) -> (bool, bool) {
    let team_ok = db.teams.get(&team_id).is_some_and(|t| t.org_id == org_id);
    (team_ok, db.users.contains_key(&user_id))
}

#[derive(Deserialize, Default)]
struct AddTeamMemberCommand {
    #[serde(default, rename = "userId")]
    user_id: i64,
}

/// pkg/api/team_members.go `AddTeamMember`: `userId` is `binding:"Required"` (non-zero); an
/// existing member is 400; the permission service then adds the row with permission 0
/// ("Member"), failing with 500 for a team outside the org or an unknown user. A user of
/// another org (or none) may be added, as `GetSignedInUser` does not require membership.
async fn add_member(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    require_team_access(&id)?;
    let cmd: AddTeamMemberCommand = bind_fields(&headers, &body, &["userId"])?;
    if cmd.user_id == 0 {
        return Err(bad_request_data());
    }
    let team_id = parse_param(&raw, "teamId")?;
    let mut db = app.db();
    let is_member = db.teams.get(&team_id).is_some_and(|t| t.org_id == id.org_id && t.members.contains(&cmd.user_id));
    if is_member {
        return Err(err_plain(400, "User is already added to this team"));
    }
    if team_and_user_valid(&db, id.org_id, team_id, cmd.user_id) != (true, true) {
        return Err(err_trace(500, "Failed to add Member to Team"));
    }
    if let Some(t) = db.teams.get_mut(&team_id) {
        t.members.push(cmd.user_id);
    }
    Ok(json(200, &json!({"message": "Member added to Team"})))
}

#[derive(Deserialize, Default)]
struct UpdateTeamMemberCommand {
    #[serde(default)]
    permission: i64,
}

/// pkg/api/team_members.go `UpdateTeamMember`: a non-member is 404; the permission maps to a
/// name by `getPermissionName` (0 and any unnamed value are "Member", 4 "Admin", while 1
/// "View" and 2 "Edit" are not team permissions: `ErrInvalidPermission`, 500); demoting the
/// last team Admin is `ErrLastTeamAdmin`, also 500 (pkg/services/sqlstore/team.go
/// `updateTeamMember`).
async fn update_member(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path((raw_team, raw_user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    require_team_access(&id)?;
    let cmd: UpdateTeamMemberCommand = bind_fields(&headers, &body, &["permission"])?;
    let team_id = parse_param(&raw_team, "teamId")?;
    let user_id = parse_param(&raw_user, "userId")?;
    let mut db = app.db();
    let Some(team) = db.teams.get(&team_id).filter(|t| t.org_id == id.org_id && t.members.contains(&user_id)) else {
        return Err(err_plain(404, "Team member not found."));
    };
    let failed = || err_trace(500, "Failed to update team member.");
    let admin = match cmd.permission {
        1 | 2 => return Err(failed()),
        PERMISSION_ADMIN => true,
        _ => false,
    };
    if !admin && team.admins.contains(&user_id) && team.admins.len() == 1 {
        return Err(failed());
    }
    if team_and_user_valid(&db, id.org_id, team_id, user_id) != (true, true) {
        return Err(failed());
    }
    if let Some(t) = db.teams.get_mut(&team_id) {
        if admin {
            t.admins.insert(user_id);
        } else {
            t.admins.remove(&user_id);
        }
    }
    Ok(success("Team member updated"))
}

/// pkg/api/team_members.go `RemoveTeamMember`: through the permission service with an empty
/// permission. A team outside the org is 404 `Team not found` and a missing row 404 `Team
/// member not found` (both built without an error); an unknown user, or removing the last team
/// Admin, is 500.
async fn remove_member(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path((raw_team, raw_user)): Path<(String, String)>,
) -> R {
    require_team_access(&id)?;
    let team_id = parse_param(&raw_team, "teamId")?;
    let user_id = parse_param(&raw_user, "userId")?;
    let mut db = app.db();
    let failed = || err_trace(500, "Failed to remove Member from Team");
    match team_and_user_valid(&db, id.org_id, team_id, user_id) {
        (false, _) => return Err(err_plain(404, "Team not found")),
        (true, false) => return Err(failed()),
        (true, true) => {}
    }
    let Some(team) = db.teams.get_mut(&team_id) else {
        return Err(err_plain(404, "Team not found"));
    };
    // removeTeamMember checks the last Admin before deleting.
    if team.admins.contains(&user_id) && team.admins.len() == 1 {
        return Err(failed());
    }
    if !team.members.contains(&user_id) {
        return Err(err_plain(404, "Team member not found"));
    }
    team.members.retain(|m| *m != user_id);
    team.admins.remove(&user_id);
    Ok(success("Team Member removed"))
}

/// pkg/api/team.go `GetTeamPreferences`: no check that the team exists.
async fn get_team_preferences(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
) -> R {
    require_team_access(&id)?;
    let team_id = parse_param(&raw, "teamId")?;
    Ok(crate::preferences::get_for(&app.db(), id.org_id, 0, team_id))
}

/// pkg/api/team.go `UpdateTeamPreferences`: the body is bound before the id is parsed; no
/// check that the team exists.
async fn update_team_preferences(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    require_team_access(&id)?;
    let cmd = crate::preferences::bind_update(&headers, &body)?;
    let team_id = parse_param(&raw, "teamId")?;
    crate::preferences::update_for(&mut app.db(), id.org_id, 0, team_id, cmd)
}
