//! Teams and team members: pkg/api/team.go, pkg/api/team_members.go,
//! pkg/services/sqlstore/team.go, the team permission service
//! (pkg/services/accesscontrol/ossaccesscontrol/permissions_services.go,
//! pkg/services/accesscontrol/resourcepermissions/service.go) at v8.5.4, with
//! `editors_can_admin = false` (conf/defaults.ini).

use crate::support::{Cred, Target, msg, msg_trace, redact, unique};
use serde_json::{Value, json};

async fn team(t: &Target, name: &str, email: &str) -> i64 {
    let (s, b) = t.send("POST", "/api/teams", &t.admin(), Some(json!({"name": name, "email": email}))).await;
    assert_eq!(s, 200, "{b}");
    b["teamId"].as_i64().expect("team id")
}

#[tokio::test]
async fn create_get_and_search_teams() {
    let t = Target::new().await;
    let a = t.admin();
    let name = unique("Team Alpha");
    // pkg/api/team.go:46-49 response.JSON(200, &util.DynMap{"teamId": team.Id, "message": "Team created"})
    let (s, b) = t.send("POST", "/api/teams", &a, Some(json!({"name": name, "email": "alpha@example.com"}))).await;
    assert_eq!((s, redact(&b, &["teamId"])), (200, json!({"message": "Team created", "teamId": "<_>"})));
    let id = b["teamId"].as_i64().expect("team id");
    // pkg/api/team.go:168-201 GetTeamByID: models.TeamDTO, accessControl null with RBAC off,
    // permission 0 (sqlstore/team.go:276 selects none), the gravatar of the email.
    let (s, got) = t.send("GET", &format!("/api/teams/{id}"), &a, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        redact(&got, &["avatarUrl"]),
        json!({"id": id, "orgId": 1, "name": name, "email": "alpha@example.com", "avatarUrl": "<_>",
               "memberCount": 0, "permission": 0, "accessControl": null})
    );
    assert!(got["avatarUrl"].as_str().is_some_and(|u| u.starts_with("/avatar/")));
    // pkg/api/team.go:106-154 SearchTeams over sqlstore/team.go:178-269: `query` is
    // `LIKE '%q%'` (case-insensitive in SQLite), `name` exact, rows by name; page 1 and
    // perPage 1000 by default.
    let second = format!("{name} 2");
    let id2 = team(&t, &second, "").await;
    let q = name.to_uppercase().replace(' ', "%20");
    let (s, found) = t.send("GET", &format!("/api/teams/search?query={q}"), &a, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        (found["totalCount"].clone(), found["page"].clone(), found["perPage"].clone()),
        (json!(2), json!(1), json!(1000))
    );
    let ids: Vec<Value> = found["teams"].as_array().expect("teams").iter().map(|x| x["id"].clone()).collect();
    assert_eq!(ids, [json!(id), json!(id2)]);
    let (_, exact) = t.send("GET", &format!("/api/teams/search?name={}", name.replace(' ', "%20")), &a, None).await;
    assert_eq!((exact["totalCount"].clone(), exact["teams"][0]["id"].clone()), (json!(1), json!(id)));
    let (_, paged) = t.send("GET", &format!("/api/teams/search?query={q}&perpage=1&page=2"), &a, None).await;
    assert_eq!((paged["totalCount"].clone(), paged["teams"][0]["id"].clone()), (json!(2), json!(id2)));
    // A team without email gets the avatar of its name (dtos.GetGravatarUrlWithDefault).
    assert!(paged["teams"][0]["avatarUrl"].as_str().is_some_and(|u| u.starts_with("/avatar/")));
}

#[tokio::test]
async fn team_errors() {
    let t = Target::new().await;
    let a = t.admin();
    let name = unique("Team E");
    let id = team(&t, &name, "").await;
    // models.CreateTeamCommand `name` is binding:"Required": pkg/api/team.go:18-20
    assert_eq!(
        t.send("POST", "/api/teams", &a, Some(json!({"email": "x@y"}))).await,
        (400, msg_trace("bad request data"))
    );
    // pkg/api/team.go:28-30 response.Error(409, "Team name taken", err)
    assert_eq!(
        t.send("POST", "/api/teams", &a, Some(json!({"name": name}))).await,
        (409, msg_trace("Team name taken"))
    );
    // pkg/api/team.go:169-172 response.Error(http.StatusBadRequest, "teamId is invalid", err)
    assert_eq!(t.send("GET", "/api/teams/abc", &a, None).await, (400, msg_trace("teamId is invalid")));
    // pkg/api/team.go:189-191 response.Error(404, "Team not found", err)
    assert_eq!(t.send("GET", "/api/teams/987654", &a, None).await, (404, msg_trace("Team not found")));
    // Writes are behind reqCanAccessTeams (pkg/api/api.go:33, :192-200;
    // pkg/middleware/auth.go AdminOrEditorAndFeatureEnabled): with editors_can_admin off an
    // Editor is refused.
    let editor = t.key("Editor").await;
    assert_eq!(
        t.send("POST", "/api/teams", &editor, Some(json!({"name": unique("x")}))).await,
        (403, msg("Permission denied"))
    );
    assert_eq!(t.send("DELETE", &format!("/api/teams/{id}"), &editor, None).await, (403, msg("Permission denied")));
    assert_eq!(
        t.send("GET", &format!("/api/teams/{id}/members"), &editor, None).await,
        (403, msg("Permission denied"))
    );
    // pkg/api/team.go:72-74 response.Error(400, "Team name taken", err) on update.
    let other = unique("Team Other");
    team(&t, &other, "").await;
    let path = format!("/api/teams/{id}");
    assert_eq!(t.send("PUT", &path, &a, Some(json!({"name": other}))).await, (400, msg_trace("Team name taken")));
    // sqlstore/team.go:119-121 ErrTeamNotFound → pkg/api/team.go:75 response.Error(500, "Failed to update Team", err)
    assert_eq!(
        t.send("PUT", "/api/teams/987654", &a, Some(json!({"name": unique("y")}))).await,
        (500, msg_trace("Failed to update Team"))
    );
    assert_eq!(
        t.send("PUT", "/api/teams/x", &a, Some(json!({"name": "y"}))).await,
        (400, msg_trace("teamId is invalid"))
    );
    // pkg/api/team.go:97-99 response.Error(404, "Failed to delete Team. ID not found", nil)
    assert_eq!(
        t.send("DELETE", "/api/teams/987654", &a, None).await,
        (404, msg("Failed to delete Team. ID not found"))
    );
    assert_eq!(t.send("DELETE", "/api/teams/x", &a, None).await, (400, msg_trace("teamId is invalid")));
}

#[tokio::test]
async fn update_and_delete_teams() {
    let t = Target::new().await;
    let a = t.admin();
    let id = team(&t, &unique("Team U"), "old@example.com").await;
    let path = format!("/api/teams/{id}");
    // models.UpdateTeamCommand has no JSON tags, so keys bind without regard to case;
    // pkg/api/team.go:78 response.Success("Team updated").
    let renamed = unique("Team Renamed");
    assert_eq!(
        t.send("PUT", &path, &a, Some(json!({"Name": renamed, "EMAIL": "new@example.com"}))).await,
        (200, msg("Team updated"))
    );
    let (_, got) = t.send("GET", &path, &a, None).await;
    assert_eq!((got["name"].clone(), got["email"].clone()), (json!(renamed), json!("new@example.com")));
    // sqlstore/team.go:105-113: xorm skips the empty name but MustCols("email") writes the
    // email even when empty.
    assert_eq!(t.send("PUT", &path, &a, Some(json!({}))).await, (200, msg("Team updated")));
    let (_, got) = t.send("GET", &path, &a, None).await;
    assert_eq!((got["name"].clone(), got["email"].clone()), (json!(renamed), json!("")));
    // sqlstore/team.go:113 `sess.ID(cmd.Id).Update(&team)` is not scoped to the org: an org
    // Admin elsewhere renames this team.
    let (org, _) = t.org().await;
    let from_other = unique("Renamed From Other Org");
    assert_eq!(t.send_in(org, "PUT", &path, &a, Some(json!({"name": from_other}))).await, (200, msg("Team updated")));
    let (_, got) = t.send("GET", &path, &a, None).await;
    assert_eq!(got["name"], json!(from_other));
    // …while DELETE checks the org (sqlstore/team.go:130-132 teamExists).
    assert_eq!(t.send_in(org, "DELETE", &path, &a, None).await, (404, msg("Failed to delete Team. ID not found")));
    // pkg/api/team.go:102 response.Success("Team deleted")
    assert_eq!(t.send("DELETE", &path, &a, None).await, (200, msg("Team deleted")));
    assert_eq!(t.send("GET", &path, &a, None).await, (404, msg_trace("Team not found")));
}

#[tokio::test]
async fn team_members() {
    let t = Target::new().await;
    let a = t.admin();
    let id = team(&t, &unique("Team M"), "").await;
    let (u, v) = (t.user().await, t.user().await);
    let members = format!("/api/teams/{id}/members");
    // pkg/api/team_members.go:91-93 response.JSON(200, &util.DynMap{"message": "Member added to Team"})
    for user in [&v, &u] {
        assert_eq!(
            t.send("POST", &members, &a, Some(json!({"userId": user.id}))).await,
            (200, msg("Member added to Team"))
        );
    }
    // :82-84 response.Error(400, "User is already added to this team", nil)
    assert_eq!(
        t.send("POST", &members, &a, Some(json!({"userId": u.id}))).await,
        (400, msg("User is already added to this team"))
    );
    // models.AddTeamMemberCommand `userId` is binding:"Required".
    assert_eq!(t.send("POST", &members, &a, Some(json!({}))).await, (400, msg_trace("bad request data")));
    // The permission service validates the user (resourcepermissions/service.go:272-282) and
    // the team in the org (permissions_services.go:87-102): :86-89
    // response.Error(500, "Failed to add Member to Team", err)
    assert_eq!(
        t.send("POST", &members, &a, Some(json!({"userId": 987654}))).await,
        (500, msg_trace("Failed to add Member to Team"))
    );
    assert_eq!(
        t.send("POST", "/api/teams/987654/members", &a, Some(json!({"userId": u.id}))).await,
        (500, msg_trace("Failed to add Member to Team"))
    );
    // A negative id passes binding:"Required" but GetSignedInUser sets no query for it, and
    // xorm's fallback selects SignedInUser columns the user table lacks: an error, 500 again.
    assert_eq!(
        t.send("POST", &members, &a, Some(json!({"userId": -1}))).await,
        (500, msg_trace("Failed to add Member to Team"))
    );
    // pkg/api/team_members.go:19-57 GetTeamMembers → sqlstore/team.go:527-573: models.TeamMemberDTO
    // ordered by login, then email; no external auth, so auth_module "" and labels [].
    let (s, list) = t.send("GET", &members, &a, None).await;
    assert_eq!(s, 200);
    let mut want: Vec<Value> = [&u, &v]
        .iter()
        .map(|m| {
            json!({"orgId": 1, "teamId": id, "userId": m.id, "auth_module": "", "email": m.email, "name": m.login,
                   "login": m.login, "avatarUrl": "<_>", "labels": [], "permission": 0})
        })
        .collect();
    want.sort_by(|x, y| x["login"].as_str().cmp(&y["login"].as_str()));
    assert_eq!(redact(&list, &["avatarUrl"]), Value::Array(want));
    let (_, got) = t.send("GET", &format!("/api/teams/{id}"), &a, None).await;
    assert_eq!(got["memberCount"], json!(2));
    // An unknown team has no members (the query does not check the team).
    assert_eq!(t.send("GET", "/api/teams/987654/members", &a, None).await, (200, json!([])));

    let one = |m: i64| format!("/api/teams/{id}/members/{m}");
    // :130 response.Success("Team member updated"); permission 4 is "Admin" (getPermissionName).
    assert_eq!(t.send("PUT", &one(u.id), &a, Some(json!({"permission": 4}))).await, (200, msg("Team member updated")));
    let (_, list) = t.send("GET", &members, &a, None).await;
    let perm =
        list.as_array().expect("list").iter().find(|m| m["userId"] == json!(u.id)).map(|m| m["permission"].clone());
    assert_eq!(perm, Some(json!(4)));
    // 1 ("View") and 2 ("Edit") are not team permissions: resourcepermissions ErrInvalidPermission,
    // :126-129 response.Error(500, "Failed to update team member.", err)
    assert_eq!(
        t.send("PUT", &one(v.id), &a, Some(json!({"permission": 1}))).await,
        (500, msg_trace("Failed to update team member."))
    );
    // Demoting the only team Admin: sqlstore/team.go:419-427 isLastAdmin → ErrLastTeamAdmin, 500.
    assert_eq!(
        t.send("PUT", &one(u.id), &a, Some(json!({"permission": 0}))).await,
        (500, msg_trace("Failed to update team member."))
    );
    // :122-124 response.Error(404, "Team member not found.", nil)
    let w = t.user().await;
    assert_eq!(
        t.send("PUT", &one(w.id), &a, Some(json!({"permission": 0}))).await,
        (404, msg("Team member not found."))
    );
    assert_eq!(
        t.send("PUT", &format!("/api/teams/{id}/members/x"), &a, Some(json!({"permission": 0}))).await,
        (400, msg_trace("userId is invalid"))
    );
    // Removing the only team Admin fails too (sqlstore/team.go:452-455): :171
    // response.Error(500, "Failed to remove Member from Team", err)
    assert_eq!(t.send("DELETE", &one(u.id), &a, None).await, (500, msg_trace("Failed to remove Member from Team")));
    // :173 response.Success("Team Member removed")
    assert_eq!(t.send("DELETE", &one(v.id), &a, None).await, (200, msg("Team Member removed")));
    // sqlstore/team.go:463-465 ErrTeamMemberNotFound → :167-169 response.Error(404, "Team member not found", nil)
    assert_eq!(t.send("DELETE", &one(v.id), &a, None).await, (404, msg("Team member not found")));
    // The team is validated first: :163-165 response.Error(404, "Team not found", nil)
    assert_eq!(
        t.send("DELETE", &format!("/api/teams/987654/members/{}", v.id), &a, None).await,
        (404, msg("Team not found"))
    );
    // An unknown user fails validateUser: 500.
    assert_eq!(t.send("DELETE", &one(987654), &a, None).await, (500, msg_trace("Failed to remove Member from Team")));
    // With a second Admin the first may step down and leave.
    assert_eq!(t.send("POST", &members, &a, Some(json!({"userId": w.id}))).await.0, 200);
    assert_eq!(t.send("PUT", &one(w.id), &a, Some(json!({"permission": 4}))).await.0, 200);
    assert_eq!(t.send("PUT", &one(u.id), &a, Some(json!({"permission": 0}))).await.0, 200);
    assert_eq!(t.send("DELETE", &one(u.id), &a, None).await, (200, msg("Team Member removed")));
}

#[tokio::test]
async fn members_need_no_org_membership() {
    let t = Target::new().await;
    let a = t.admin();
    let (org, _) = t.org().await;
    let (s, b) = t.send_in(org, "POST", "/api/teams", &a, Some(json!({"name": unique("Other Org Team")}))).await;
    assert_eq!(s, 200, "{b}");
    let id = b["teamId"].as_i64().expect("team id");
    // The user is only in org 1; resourcepermissions validateUser calls GetSignedInUser, which
    // finds users outside the org too (sqlstore/user.go:525-594), so the member is added.
    let u = t.user().await;
    let path = format!("/api/teams/{id}/members");
    assert_eq!(
        t.send_in(org, "POST", &path, &a, Some(json!({"userId": u.id}))).await,
        (200, msg("Member added to Team"))
    );
    let (_, list) = t.send_in(org, "GET", &path, &a, None).await;
    assert_eq!((list[0]["userId"].clone(), list[0]["orgId"].clone()), (json!(u.id), json!(org)));
    // From org 1 the team is not found: members list empty, adds fail validation.
    assert_eq!(t.send("GET", &path, &a, None).await, (200, json!([])));
    assert_eq!(t.send("GET", &format!("/api/teams/{id}"), &a, None).await, (404, msg_trace("Team not found")));
}

#[tokio::test]
async fn team_visibility_follows_membership() {
    let t = Target::new().await;
    let a = t.admin();
    let mine = team(&t, &unique("Team Mine"), "").await;
    let theirs = team(&t, &unique("Team Theirs"), "").await;
    let u = t.user().await;
    assert_eq!(t.send("POST", &format!("/api/teams/{mine}/members"), &a, Some(json!({"userId": u.id}))).await.0, 200);
    assert_eq!(
        t.send("PUT", &format!("/api/teams/{mine}/members/{}", u.id), &a, Some(json!({"permission": 4}))).await.0,
        200
    );
    // pkg/api/team.go:159-165 userFilter: a Viewer sees the teams it belongs to, with its
    // membership permission (sqlstore/team.go:64-74 selects team_member.permission).
    let (s, found) = t.send("GET", "/api/teams/search", &u.cred(), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        (found["totalCount"].clone(), found["teams"][0]["id"].clone(), found["teams"][0]["permission"].clone()),
        (json!(1), json!(mine), json!(4))
    );
    // GetTeamByID with the filter: sqlstore/team.go:281-284 joins the membership.
    assert_eq!(t.send("GET", &format!("/api/teams/{mine}"), &u.cred(), None).await.0, 200);
    assert_eq!(
        t.send("GET", &format!("/api/teams/{theirs}"), &u.cred(), None).await,
        (404, msg_trace("Team not found"))
    );
    // An API key's user id is 0, models.FilterIgnoreUser: even an Editor key sees every team.
    let editor = t.key("Editor").await;
    assert_eq!(t.send("GET", &format!("/api/teams/{theirs}"), &editor, None).await.0, 200);
    let (_, all) = t.send("GET", "/api/teams/search?perpage=1000", &editor, None).await;
    let ids: Vec<Value> = all["teams"].as_array().expect("teams").iter().map(|x| x["id"].clone()).collect();
    assert!(ids.contains(&json!(mine)) && ids.contains(&json!(theirs)), "{all}");
    // A team Admin may look org users up (pkg/middleware/auth.go OrgAdminFolderAdminOrTeamAdmin,
    // sqlstore/team.go:575-591 IsAdminOfTeams); another Viewer may not.
    assert_eq!(t.send("GET", "/api/org/users/lookup?limit=1", &u.cred(), None).await.0, 200);
    let other = t.user().await;
    assert_eq!(t.send("GET", "/api/org/users/lookup", &other.cred(), None).await, (403, msg("Permission denied")));
    // Team writes stay org-Admin only, team Admin or not (reqCanAccessTeams).
    let (s, b) = t
        .send("GET", &format!("/api/teams/{mine}/members"), &Cred::Basic(u.login.clone(), u.password.clone()), None)
        .await;
    assert_eq!((s, b), (403, msg("Permission denied")));
    // Deleting the team removes it from searches (sqlstore/team.go:128-152).
    assert_eq!(t.send("DELETE", &format!("/api/teams/{mine}"), &a, None).await.0, 200);
    let (_, found) = t.send("GET", "/api/teams/search", &u.cred(), None).await;
    assert_eq!(found["totalCount"], json!(0));
}

#[tokio::test]
async fn team_preferences() {
    let t = Target::new().await;
    let a = t.admin();
    let id = team(&t, &unique("Team P"), "").await;
    let path = format!("/api/teams/{id}/preferences");
    // pkg/api/team.go:204-219 → pkg/api/preferences.go:40-59 getPreferencesFor: the team's row,
    // or an empty one; navbar is a struct, so omitempty keeps it.
    let empty =
        json!({"theme": "", "homeDashboardId": 0, "timezone": "", "weekStart": "", "navbar": {"savedItems": null}});
    assert_eq!(t.send("GET", &path, &a, None).await, (200, empty.clone()));
    // pkg/api/team.go:222-242 → pkg/api/preferences.go:70-89: response.Success("Preferences updated")
    let body = json!({"theme": "light", "timezone": "utc", "weekStart": "monday", "homeDashboardId": 0});
    assert_eq!(t.send("PUT", &path, &a, Some(body)).await, (200, msg("Preferences updated")));
    let (_, got) = t.send("GET", &path, &a, None).await;
    assert_eq!(
        got,
        json!({"theme": "light", "homeDashboardId": 0, "timezone": "utc", "weekStart": "monday", "navbar": {"savedItems": null}})
    );
    // pkg/api/preferences.go:71-73 response.Error(400, "Invalid theme", nil)
    assert_eq!(t.send("PUT", &path, &a, Some(json!({"theme": "blue"}))).await, (400, msg("Invalid theme")));
    // pkg/api/team.go:228-231: the body is bound first, then the id parsed.
    assert_eq!(
        t.send("PUT", "/api/teams/x/preferences", &a, Some(json!({}))).await,
        (400, msg_trace("teamId is invalid"))
    );
    assert_eq!(t.send("GET", "/api/teams/x/preferences", &a, None).await, (400, msg_trace("teamId is invalid")));
    // Neither route checks that the team exists.
    assert_eq!(t.send("GET", "/api/teams/987654/preferences", &a, None).await, (200, empty));
    let editor = t.key("Editor").await;
    assert_eq!(t.send("GET", &path, &editor, None).await, (403, msg("Permission denied")));
}
