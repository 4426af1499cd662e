//! Users: pkg/api/admin_users.go, pkg/api/user.go, pkg/services/searchusers/searchusers.go and
//! pkg/services/sqlstore/user.go at v8.5.4, with conf/defaults.ini's `[users]` defaults
//! (`auto_assign_org = true`, `auto_assign_org_id = 1`, `auto_assign_org_role = Viewer`).

use crate::support::{Cred, Target, msg, msg_trace, redact, unique};
use serde_json::{Value, json};

fn is_avatar(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.len() == "/avatar/".len() + 32 && s.starts_with("/avatar/"))
}

#[tokio::test]
async fn admin_creates_a_user_who_joins_org_1_as_viewer() {
    let t = Target::new().await;
    let login = unique("alice");
    let email = format!("{login}@example.com");
    let body = json!({"login": login, "email": email, "name": "Alice", "password": "secret-pw"});
    let (s, b) = t.send("POST", "/api/admin/users", &t.admin(), Some(body)).await;
    // pkg/api/admin_users.go:56-61 models.UserIdDTO{Message: "User created", Id: user.Id}
    assert_eq!((s, redact(&b, &["id"])), (200, json!({"id": "<_>", "message": "User created"})));
    let id = b["id"].as_i64().expect("id");

    // pkg/api/user.go:31-53 getUserUserProfile: models.UserProfileDTO, authLabels [] and the
    // gravatar path; orgId is the user's current org (sqlstore/user.go:196 OrgId: orgId).
    let (s, u) = t.send("GET", &format!("/api/users/{id}"), &t.admin(), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        redact(&u, &["updatedAt", "createdAt", "avatarUrl"]),
        json!({"id": id, "email": email, "name": "Alice", "login": login, "theme": "", "orgId": 1,
               "isGrafanaAdmin": false, "isDisabled": false, "isExternal": false, "authLabels": [],
               "updatedAt": "<_>", "createdAt": "<_>", "avatarUrl": "<_>"})
    );
    assert!(is_avatar(&u["avatarUrl"]), "{u}");

    // pkg/services/sqlstore/user.go:247-253: auto_assign_org puts the user in org 1 with
    // auto_assign_org_role Viewer; pkg/api/user.go:191-199 lists models.UserOrgDTO.
    let (s, orgs) = t.send("GET", &format!("/api/users/{id}/orgs"), &t.admin(), None).await;
    assert_eq!((s, orgs), (200, json!([{"orgId": 1, "name": "Main Org.", "role": "Viewer"}])));

    // pkg/api/user.go:56-77 GetUserByLoginOrEmail builds the DTO by hand: authLabels null,
    // avatarUrl empty. pkg/services/sqlstore/user.go:292-324 tries the login, then the email.
    for key in [login.as_str(), email.as_str()] {
        let (s, l) = t.send("GET", &format!("/api/users/lookup?loginOrEmail={key}"), &t.admin(), None).await;
        assert_eq!(
            (s, l["id"].clone(), l["authLabels"].clone(), l["avatarUrl"].clone()),
            (200, json!(id), json!(null), json!(""))
        );
    }
    // Only text with an "@" is tried as an email (sqlstore/user.go:307).
    let (s, b) = t.send("GET", "/api/users/lookup?loginOrEmail=", &t.admin(), None).await;
    // pkg/api/user.go:59-61 response.Error(404, models.ErrUserNotFound.Error(), nil)
    assert_eq!((s, b), (404, msg("user not found")));

    // pkg/api/admin_users.go:30-35: without a login the email is the login; and
    // sqlstore/user.go:176-178: without an email the login is the email.
    let only_email = format!("{}@example.com", unique("e"));
    let (s, b) =
        t.send("POST", "/api/admin/users", &t.admin(), Some(json!({"email": only_email, "password": "pw12"}))).await;
    assert_eq!(s, 200, "{b}");
    let (_, u) = t.send("GET", &format!("/api/users/{}", b["id"]), &t.admin(), None).await;
    assert_eq!(
        (u["login"].clone(), u["email"].clone(), u["name"].clone()),
        (json!(only_email), json!(only_email), json!(""))
    );
    let only_login = unique("l");
    let (s, b) =
        t.send("POST", "/api/admin/users", &t.admin(), Some(json!({"login": only_login, "password": "pw12"}))).await;
    assert_eq!(s, 200, "{b}");
    let (_, u) = t.send("GET", &format!("/api/users/{}", b["id"]), &t.admin(), None).await;
    assert_eq!((u["login"].clone(), u["email"].clone()), (json!(only_login), json!(only_login)));
    // The new user can sign in with its password.
    let (s, me) = t.send("GET", "/api/user", &Cred::Basic(only_login.clone(), "pw12".into()), None).await;
    assert_eq!((s, me["login"].clone()), (200, json!(only_login)));
}

#[tokio::test]
async fn admin_create_user_errors() {
    let t = Target::new().await;
    let a = t.admin();
    let post = |body: Value| t.send("POST", "/api/admin/users", &a, Some(body));
    // dtos.AdminCreateUserForm `password` is binding:"Required"; pkg/api/admin_users.go:19-20
    // response.Error(http.StatusBadRequest, "bad request data", err)
    assert_eq!(post(json!({"login": unique("x")})).await, (400, msg_trace("bad request data")));
    assert_eq!(post(json!({"login": 5, "password": "secret"})).await, (400, msg_trace("bad request data")));
    // pkg/api/admin_users.go:33 response.Error(400, "Validation error, need specify either username or email", nil)
    assert_eq!(
        post(json!({"name": "x", "password": "secret"})).await,
        (400, msg("Validation error, need specify either username or email"))
    );
    // pkg/api/admin_users.go:38 response.Error(400, "Password is missing or too short", nil)
    assert_eq!(
        post(json!({"login": unique("x"), "password": "abc"})).await,
        (400, msg("Password is missing or too short"))
    );
    // pkg/api/admin_users.go:43-45 response.Error(400, err.Error(), nil) for models.ErrOrgNotFound
    // ("organization not found", pkg/models/org.go:10), from sqlstore/user.go:23-28.
    assert_eq!(
        post(json!({"login": unique("x"), "password": "secret", "orgId": 987654})).await,
        (400, msg("organization not found"))
    );
    // pkg/api/admin_users.go:47-49 response.Error(412, fmt.Sprintf("User with email '%s' or
    // username '%s' already exists", form.Email, form.Login), err): the form's values, and a
    // clash on either column (sqlstore/user.go:180-186 `email=? OR login=?`).
    let u = t.user().await;
    let (s, b) = post(json!({"login": u.login, "password": "secret"})).await;
    assert_eq!((s, b), (412, msg_trace(&format!("User with email '' or username '{}' already exists", u.login))));
    let (s, b) = post(json!({"login": unique("other"), "email": u.email, "password": "secret"})).await;
    assert_eq!(s, 412, "{b}");
    // The route is behind reqGrafanaAdmin (pkg/api/api.go:532): an Admin API key is refused,
    // and no credentials at all are 401 (pkg/middleware/auth.go notAuthorized).
    let key = t.key("Admin").await;
    let body = json!({"login": unique("x"), "password": "secret"});
    assert_eq!(t.send("POST", "/api/admin/users", &key, Some(body.clone())).await, (403, msg("Permission denied")));
    assert_eq!(t.send("POST", "/api/admin/users", &Cred::None, Some(body)).await, (401, msg("Unauthorized")));
    // A signed-in non-admin user too.
    let (s, b) = t.send("GET", "/api/users", &u.cred(), None).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
}

#[tokio::test]
async fn update_user_writes_the_non_empty_fields() {
    let t = Target::new().await;
    let a = t.admin();
    let u = t.user().await;
    let path = format!("/api/users/{}", u.id);
    let new_login = unique("renamed");
    // pkg/api/user.go:98-109 UpdateUser, :147 response.Success("User updated"); the fields bind
    // without regard to case.
    let (s, b) =
        t.send("PUT", &path, &a, Some(json!({"Login": new_login, "name": "New Name", "theme": "light"}))).await;
    assert_eq!((s, b), (200, msg("User updated")));
    let (_, got) = t.send("GET", &path, &a, None).await;
    // sqlstore/user.go:347-371: xorm updates only the non-empty columns, so the email stays.
    assert_eq!(
        (got["login"].clone(), got["name"].clone(), got["email"].clone(), got["theme"].clone()),
        (json!(new_login), json!("New Name"), json!(u.email), json!("light"))
    );
    // pkg/api/user.go:136-141: the login falls back to the email; with neither:
    // response.Error(400, "Validation error, need to specify either username or email", nil)
    assert_eq!(
        t.send("PUT", &path, &a, Some(json!({"name": "x"}))).await,
        (400, msg("Validation error, need to specify either username or email"))
    );
    // Another user's login breaks the unique index: pkg/api/user.go:143-145
    // response.Error(500, "Failed to update user", err)
    let other = t.user().await;
    assert_eq!(
        t.send("PUT", &path, &a, Some(json!({"login": other.login}))).await,
        (500, msg_trace("Failed to update user"))
    );
    // An unknown id updates no row, which UpdateUser does not check: still "User updated".
    assert_eq!(
        t.send("PUT", "/api/users/987654", &a, Some(json!({"login": unique("z")}))).await,
        (200, msg("User updated"))
    );
    // pkg/api/user.go:104-107 response.Error(http.StatusBadRequest, "id is invalid", err)
    assert_eq!(
        t.send("PUT", "/api/users/abc", &a, Some(json!({"login": "z"}))).await,
        (400, msg_trace("id is invalid"))
    );
    // pkg/api/user.go:24-27 and :35-37
    assert_eq!(t.send("GET", "/api/users/abc", &a, None).await, (400, msg_trace("id is invalid")));
    assert_eq!(t.send("GET", "/api/users/987654", &a, None).await, (404, msg("user not found")));
}

#[tokio::test]
async fn admin_password_permissions_and_delete() {
    let t = Target::new().await;
    let a = t.admin();
    let u = t.user().await;
    let pw = format!("/api/admin/users/{}/password", u.id);
    // pkg/api/admin_users.go:99 response.Success("User password updated")
    assert_eq!(
        t.send("PUT", &pw, &a, Some(json!({"password": "brand-new"}))).await,
        (200, msg("User password updated"))
    );
    assert_eq!(t.send("GET", "/api/user", &Cred::Basic(u.login.clone(), "brand-new".into()), None).await.0, 200);
    // pkg/api/admin_users.go:65-67: `password` is binding:"Required"
    assert_eq!(t.send("PUT", &pw, &a, Some(json!({}))).await, (400, msg_trace("bad request data")));
    // :75-77 response.Error(400, "New password too short", nil)
    assert_eq!(t.send("PUT", &pw, &a, Some(json!({"password": "abc"}))).await, (400, msg("New password too short")));
    // :81-83 response.Error(500, "Could not read user from database", err)
    assert_eq!(
        t.send("PUT", "/api/admin/users/987654/password", &a, Some(json!({"password": "long-enough"}))).await,
        (500, msg_trace("Could not read user from database"))
    );
    // :70-73: the body is bound first, then the id parsed.
    assert_eq!(
        t.send("PUT", "/api/admin/users/x/password", &a, Some(json!({"password": "long-enough"}))).await,
        (400, msg_trace("id is invalid"))
    );

    let perms = format!("/api/admin/users/{}/permissions", u.id);
    // pkg/api/admin_users.go:122 response.Success("User permissions updated")
    assert_eq!(
        t.send("PUT", &perms, &a, Some(json!({"isGrafanaAdmin": true}))).await,
        (200, msg("User permissions updated"))
    );
    let (_, l) = t.send("GET", &format!("/api/users/lookup?loginOrEmail={}", u.login), &a, None).await;
    assert_eq!(l["isGrafanaAdmin"], json!(true));
    // The new server admin may now use the admin API.
    assert_eq!(t.send("GET", "/api/users", &u.cred_with("brand-new"), None).await.0, 200);
    assert_eq!(t.send("PUT", &perms, &a, Some(json!({"isGrafanaAdmin": false}))).await.0, 200);
    assert_eq!(
        t.send("PUT", &perms, &a, Some(json!({"isGrafanaAdmin": "yes"}))).await,
        (400, msg_trace("bad request data"))
    );
    // sqlstore/user.go:823-845 UpdateUserPermissions: an unknown id reads no row, updates
    // none, and succeeds.
    assert_eq!(
        t.send("PUT", "/api/admin/users/987654/permissions", &a, Some(json!({"isGrafanaAdmin": true}))).await,
        (200, msg("User permissions updated"))
    );
    if t.emu.is_some() {
        // On a fresh server `admin` is the only server admin: sqlstore/user.go:860-872
        // validateOneAdminLeft, pkg/api/admin_users.go:115-117
        // response.Error(400, models.ErrLastGrafanaAdmin.Error(), nil)
        let (_, me) = t.send("GET", "/api/user", &a, None).await;
        let own = format!("/api/admin/users/{}/permissions", me["id"]);
        assert_eq!(
            t.send("PUT", &own, &a, Some(json!({"isGrafanaAdmin": false}))).await,
            (400, msg("cannot remove last grafana admin"))
        );
        assert_eq!(t.send("GET", "/api/users", &a, None).await.0, 200);
    }

    let del = format!("/api/admin/users/{}", u.id);
    // pkg/api/admin_users.go:140 response.Success("User deleted")
    assert_eq!(t.send("DELETE", &del, &a, None).await, (200, msg("User deleted")));
    // :134-136 response.Error(404, models.ErrUserNotFound.Error(), nil)
    assert_eq!(t.send("DELETE", &del, &a, None).await, (404, msg("user not found")));
    assert_eq!(t.send("GET", &format!("/api/users/{}", u.id), &a, None).await, (404, msg("user not found")));
    // sqlstore/user.go:807-820 UserDeletions: the memberships go too.
    let (_, members) = t.send("GET", "/api/org/users", &a, None).await;
    assert!(members.as_array().expect("list").iter().all(|m| m["userId"] != json!(u.id)));
    // sqlstore/user.go:749-756: `Get(&User{Id: 0})` has no condition and finds some user, and
    // the deletes match no row: id 0 answers "User deleted".
    assert_eq!(t.send("DELETE", "/api/admin/users/0", &a, None).await, (200, msg("User deleted")));
    // :126-129 response.Error(http.StatusBadRequest, "id is invalid", err)
    assert_eq!(t.send("DELETE", "/api/admin/users/x", &a, None).await, (400, msg_trace("id is invalid")));
}

#[tokio::test]
async fn search_users_pages_by_login_with_last_seen_ages() {
    let t = Target::new().await;
    let a = t.admin();
    let prefix = unique("srch");
    let mut ids = vec![];
    for suffix in ["b", "a", "c"] {
        let login = format!("{prefix}-{suffix}");
        let body = json!({"login": login, "email": format!("{login}@example.com"), "password": "secret-pw"});
        let (s, b) = t.send("POST", "/api/admin/users", &a, Some(body)).await;
        assert_eq!(s, 200);
        ids.push((suffix, b["id"].as_i64().expect("id")));
    }
    let id_of = |s: &str| ids.iter().find(|(x, _)| *x == s).map(|(_, id)| *id).expect("id");
    // pkg/services/searchusers/searchusers.go:24-31 SearchUsers: the hits alone, as
    // models.UserSearchHitDTO; sqlstore/user.go:623-626 `LIKE '%q%'` on email, name or login
    // (case-insensitive in SQLite), :660 ordered by login then email.
    let q = prefix.to_uppercase();
    let (s, hits) = t.send("GET", &format!("/api/users?query={q}"), &a, None).await;
    assert_eq!(s, 200);
    let logins: Vec<&str> = hits.as_array().expect("list").iter().filter_map(|h| h["login"].as_str()).collect();
    assert_eq!(logins, [format!("{prefix}-a"), format!("{prefix}-b"), format!("{prefix}-c")]);
    // Never signed in: LastSeenAt is creation minus ten years (sqlstore/user.go:200), which
    // util.GetAgeString (pkg/util/strings.go:41-94) calls "10 years"; authLabels is [] without
    // external auth (searchusers.go:67-75).
    assert_eq!(
        redact(&hits[0], &["lastSeenAt", "avatarUrl"]),
        json!({"id": id_of("a"), "name": "", "login": format!("{prefix}-a"), "email": format!("{prefix}-a@example.com"),
               "avatarUrl": "<_>", "isAdmin": false, "isDisabled": false, "lastSeenAt": "<_>",
               "lastSeenAtAge": "10 years", "authLabels": []})
    );
    // searchusers.go:33-40 SearchUsersWithPaging wraps them with the count and paging.
    let (s, p) = t.send("GET", &format!("/api/users/search?query={prefix}&perpage=1&page=2"), &a, None).await;
    assert_eq!(s, 200);
    assert_eq!((p["totalCount"].clone(), p["page"].clone(), p["perPage"].clone()), (json!(3), json!(2), json!(1)));
    assert_eq!(p["users"].as_array().map(|u| u.len()), Some(1));
    assert_eq!(p["users"][0]["login"], json!(format!("{prefix}-b")));
    // A request by the user sets last_seen_at (contexthandler ShouldUpdateLastSeenAt), so the
    // activeLast30Days filter (searchusers/filters/last_active_30_days_filter.go) keeps only it.
    let c = Cred::Basic(format!("{prefix}-c"), "secret-pw".into());
    assert_eq!(t.send("GET", "/api/user", &c, None).await.0, 200);
    let (_, active) = t.send("GET", &format!("/api/users?query={prefix}&activeLast30Days=true"), &a, None).await;
    assert_eq!(active.as_array().map(|l| l.len()), Some(1));
    assert_eq!(
        (active[0]["login"].clone(), active[0]["lastSeenAtAge"].clone()),
        (json!(format!("{prefix}-c")), json!("< 1 minute"))
    );
    let (_, all) = t.send("GET", &format!("/api/users?query={prefix}&activeLast30Days=false"), &a, None).await;
    assert_eq!(all.as_array().map(|l| l.len()), Some(3));
}

#[tokio::test]
async fn signed_in_user_orgs_teams_and_switching() {
    let t = Target::new().await;
    let a = t.admin();
    let u = t.user().await;
    let (org_id, org_name) = t.org().await;
    let add = json!({"loginOrEmail": u.login, "role": "Editor"});
    assert_eq!(t.send("POST", &format!("/api/orgs/{org_id}/users"), &a, Some(add)).await.0, 200);
    // pkg/api/user.go:151-153 and sqlstore/user.go:487-501: the user's orgs, sorted by name
    // without regard to case ("Main Org." then "Org-…" since 'm' < 'o').
    let (s, orgs) = t.send("GET", "/api/user/orgs", &u.cred(), None).await;
    assert_eq!(
        (s, orgs),
        (
            200,
            json!([{"orgId": 1, "name": "Main Org.", "role": "Viewer"}, {"orgId": org_id, "name": org_name, "role": "Editor"}])
        )
    );
    // pkg/api/user.go:220-237 UserSetUsingOrg: response.Success("Active organization changed");
    // requests without X-Grafana-Org-Id then use that org.
    let (s, b) = t.send("POST", &format!("/api/user/using/{org_id}"), &u.cred(), None).await;
    assert_eq!((s, b), (200, msg("Active organization changed")));
    let (_, org) = t.send("GET", "/api/org", &u.cred(), None).await;
    assert_eq!(org["id"], json!(org_id));
    let (_, me) = t.send("GET", "/api/user", &u.cred(), None).await;
    assert_eq!(me["orgId"], json!(org_id));
    // :226-228 response.Error(401, "Not a valid organization", nil)
    assert_eq!(t.send("POST", "/api/user/using/987654", &u.cred(), None).await, (401, msg("Not a valid organization")));
    // :221-224 response.Error(http.StatusBadRequest, "id is invalid", err)
    assert_eq!(t.send("POST", "/api/user/using/abc", &u.cred(), None).await, (400, msg_trace("id is invalid")));
    // pkg/api/user.go:112-133 UpdateUserActiveOrg, for server admins.
    let path = format!("/api/users/{}/using/1", u.id);
    assert_eq!(t.send("POST", &path, &a, None).await, (200, msg("Active organization changed")));
    let (_, me) = t.send("GET", "/api/user", &u.cred(), None).await;
    assert_eq!(me["orgId"], json!(1));
    assert_eq!(
        t.send("POST", &format!("/api/users/{}/using/x", u.id), &a, None).await,
        (400, msg_trace("orgId is invalid"))
    );

    // pkg/api/user.go:155-158 and sqlstore/team.go:305-318 GetTeamsByUser: the teams of the
    // current org, as models.TeamDTO without the member's permission.
    let team = unique("team");
    let (_, created) = t.send("POST", "/api/teams", &a, Some(json!({"name": team}))).await;
    let team_id = created["teamId"].as_i64().expect("team id");
    let member = json!({"userId": u.id});
    assert_eq!(t.send("POST", &format!("/api/teams/{team_id}/members"), &a, Some(member)).await.0, 200);
    let (s, teams) = t.send("GET", "/api/user/teams", &u.cred(), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        redact(&teams, &["avatarUrl"]),
        json!([{"id": team_id, "orgId": 1, "name": team, "email": "", "avatarUrl": "<_>", "memberCount": 1,
                "permission": 0, "accessControl": null}])
    );
    // pkg/api/user.go:160-167 GetUserTeams (server admins): the same, in the caller's org.
    let (_, teams2) = t.send("GET", &format!("/api/users/{}/teams", u.id), &a, None).await;
    assert_eq!(teams2, teams);
    let (_, none) = t.send_in(org_id, "GET", &format!("/api/users/{}/teams", u.id), &a, None).await;
    assert_eq!(none, json!([]));

    // An API key has user id 0: no orgs, no teams, no org to switch to.
    let key = t.key("Admin").await;
    assert_eq!(t.send("GET", "/api/user/orgs", &key, None).await, (200, json!([])));
    assert_eq!(t.send("GET", "/api/user/teams", &key, None).await, (200, json!([])));
    assert_eq!(t.send("POST", "/api/user/using/1", &key, None).await, (401, msg("Not a valid organization")));
}

#[tokio::test]
async fn signed_in_user_updates_itself_and_its_password() {
    let t = Target::new().await;
    let u = t.user().await;
    // pkg/api/user.go:80-95 UpdateSignedInUser (auth proxy off) → handleUpdateUser.
    let (s, b) = t.send("PUT", "/api/user", &u.cred(), Some(json!({"login": u.login, "name": "Me"}))).await;
    assert_eq!((s, b), (200, msg("User updated")));
    let (_, me) = t.send("GET", "/api/user", &u.cred(), None).await;
    assert_eq!(me["name"], json!("Me"));
    // pkg/api/user.go:260-299 ChangeUserPassword.
    let change = |old: &str, new: &str| json!({"oldPassword": old, "newPassword": new});
    // :279-281 response.Error(401, "Invalid old password", nil)
    assert_eq!(
        t.send("PUT", "/api/user/password", &u.cred(), Some(change("wrong", "new-password"))).await,
        (401, msg("Invalid old password"))
    );
    // :283-286 models.Password.IsWeak (four characters or fewer):
    // response.Error(400, "New password is too short", nil)
    assert_eq!(
        t.send("PUT", "/api/user/password", &u.cred(), Some(change(&u.password, "abcd"))).await,
        (400, msg("New password is too short"))
    );
    // :298 response.Success("User password changed")
    assert_eq!(
        t.send("PUT", "/api/user/password", &u.cred(), Some(change(&u.password, "abcde"))).await,
        (200, msg("User password changed"))
    );
    assert_eq!(t.send("GET", "/api/user", &u.cred_with("abcde"), None).await.0, 200);
    // An API key has no user row: :271-273 response.Error(500, "Could not read user from database", err)
    let key = t.key("Admin").await;
    assert_eq!(
        t.send("PUT", "/api/user/password", &key, Some(change("a", "bbbbbb"))).await,
        (500, msg_trace("Could not read user from database"))
    );
}
