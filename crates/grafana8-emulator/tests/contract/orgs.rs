//! Orgs and org users: pkg/api/org.go, pkg/api/org_users.go, pkg/services/sqlstore/org.go,
//! pkg/services/sqlstore/org_users.go and pkg/models/org_user.go at v8.5.4.

use crate::support::{Target, msg, msg_trace, redact, unique};
use serde_json::{Value, json};

fn address(a1: &str, zip: &str) -> Value {
    json!({"address1": a1, "address2": "", "city": "", "zipCode": zip, "state": "", "country": ""})
}

#[tokio::test]
async fn org_lifecycle() {
    let t = Target::new().await;
    let a = t.admin();
    let name = unique("Org Life");
    // pkg/api/org.go:107-110 response.JSON(200, &util.DynMap{"orgId": …, "message": "Organization created"})
    let (s, b) = t.send("POST", "/api/orgs", &a, Some(json!({"name": name}))).await;
    assert_eq!((s, redact(&b, &["orgId"])), (200, json!({"message": "Organization created", "orgId": "<_>"})));
    let id = b["orgId"].as_i64().expect("org id");
    // pkg/api/org.go:59-84 getOrgHelper: models.OrgDetailsDTO.
    let (s, got) = t.send("GET", &format!("/api/orgs/{id}"), &a, None).await;
    assert_eq!((s, got), (200, json!({"id": id, "name": name, "address": address("", "")})));
    // pkg/api/org.go:34-57 GetOrgByName: the same DTO; the name is one path segment, decoded.
    let (s, by_name) = t.send("GET", &format!("/api/orgs/name/{}", name.replace(' ', "%20")), &a, None).await;
    assert_eq!((s, by_name["id"].clone()), (200, json!(id)));
    // pkg/services/sqlstore/org.go:123-129 createOrg: the creator is the org's Admin.
    let (_, users) = t.send("GET", &format!("/api/orgs/{id}/users"), &a, None).await;
    assert_eq!((users[0]["login"].clone(), users[0]["role"].clone()), (json!("admin"), json!("Admin")));
    // pkg/api/org.go:144 response.Success("Organization updated")
    let renamed = unique("Org Renamed");
    assert_eq!(
        t.send("PUT", &format!("/api/orgs/{id}"), &a, Some(json!({"name": renamed}))).await,
        (200, msg("Organization updated"))
    );
    // pkg/api/org.go:209-229 SearchOrgs → sqlstore/org.go:17-40: `name` is exact.
    let (s, found) = t.send("GET", &format!("/api/orgs?name={}", renamed.replace(' ', "%20")), &a, None).await;
    assert_eq!((s, found), (200, json!([{"id": id, "name": renamed}])));
    // pkg/api/org.go:206 response.Success("Organization deleted")
    assert_eq!(t.send("DELETE", &format!("/api/orgs/{id}"), &a, None).await, (200, msg("Organization deleted")));
    // pkg/api/org.go:63-65 response.Error(404, "Organization not found", err): built from
    // models.ErrOrgNotFound, so with a trace id.
    assert_eq!(t.send("GET", &format!("/api/orgs/{id}"), &a, None).await, (404, msg_trace("Organization not found")));
    // pkg/api/org.go:37-39, the same for a name.
    assert_eq!(
        t.send("GET", &format!("/api/orgs/name/{}", unique("nope")), &a, None).await,
        (404, msg_trace("Organization not found"))
    );
    // pkg/api/org.go:201-203 response.Error(404, "Failed to delete organization. ID not found", nil)
    assert_eq!(
        t.send("DELETE", &format!("/api/orgs/{id}"), &a, None).await,
        (404, msg("Failed to delete organization. ID not found"))
    );
}

#[tokio::test]
async fn org_errors_and_guards() {
    let t = Target::new().await;
    let a = t.admin();
    let (id, name) = t.org().await;
    // models.CreateOrgCommand `name` is binding:"Required" (pkg/api/org.go:89-91).
    assert_eq!(t.send("POST", "/api/orgs", &a, Some(json!({}))).await, (400, msg_trace("bad request data")));
    // pkg/api/org.go:99-101 response.Error(409, "Organization name taken", err)
    assert_eq!(
        t.send("POST", "/api/orgs", &a, Some(json!({"name": name}))).await,
        (409, msg_trace("Organization name taken"))
    );
    // pkg/api/org.go:138-140 response.Error(400, "Organization name taken", err)
    let (_, other) = t.org().await;
    assert_eq!(
        t.send("PUT", &format!("/api/orgs/{id}"), &a, Some(json!({"name": other}))).await,
        (400, msg_trace("Organization name taken"))
    );
    // sqlstore/org.go:175-183: no row updated is ErrOrgNotFound; pkg/api/org.go:141
    // response.Error(500, "Failed to update organization", err)
    assert_eq!(
        t.send("PUT", "/api/orgs/987654", &a, Some(json!({"name": unique("x")}))).await,
        (500, msg_trace("Failed to update organization"))
    );
    // dtos.UpdateOrgForm `name` is binding:"Required"; the body is bound before the id.
    assert_eq!(t.send("PUT", "/api/orgs/abc", &a, Some(json!({}))).await, (400, msg_trace("bad request data")));
    assert_eq!(
        t.send("PUT", "/api/orgs/abc", &a, Some(json!({"name": "x"}))).await,
        (400, msg_trace("orgId is invalid"))
    );
    // pkg/api/org.go:26-29 and :191-194 response.Error(http.StatusBadRequest, "orgId is invalid", err)
    assert_eq!(t.send("GET", "/api/orgs/abc", &a, None).await, (400, msg_trace("orgId is invalid")));
    assert_eq!(t.send("DELETE", "/api/orgs/abc", &a, None).await, (400, msg_trace("orgId is invalid")));
    // pkg/api/org.go:196-198 response.Error(400, "Can not delete org for current user", nil)
    assert_eq!(
        t.send_in(id, "DELETE", &format!("/api/orgs/{id}"), &a, None).await,
        (400, msg("Can not delete org for current user"))
    );
    // POST /api/orgs is only reqSignedIn (pkg/api/api.go:254); without RBAC the handler
    // refuses non-server-admins since allow_org_create is false (conf/defaults.ini):
    // pkg/api/org.go:93-95 response.Error(403, "Access denied", nil)
    let key = t.key("Admin").await;
    assert_eq!(
        t.send("POST", "/api/orgs", &key, Some(json!({"name": unique("k")}))).await,
        (403, msg("Access denied"))
    );
    // The other /api/orgs routes are reqGrafanaAdmin (pkg/api/api.go:257-275).
    for (m, p) in
        [("GET", "/api/orgs".to_string()), ("GET", format!("/api/orgs/{id}")), ("DELETE", format!("/api/orgs/{id}"))]
    {
        assert_eq!(t.send(m, &p, &key, None).await, (403, msg("Permission denied")), "{m} {p}");
    }
    // PUT /api/org is reqOrgAdmin (pkg/api/api.go:229).
    let editor = t.key("Editor").await;
    assert_eq!(t.send("PUT", "/api/org", &editor, Some(json!({"name": "x"}))).await, (403, msg("Permission denied")));
}

#[tokio::test]
async fn search_orgs_offsets_by_perpage_times_page() {
    let t = Target::new().await;
    let a = t.admin();
    let prefix = unique("Pfx");
    let mut ids = vec![];
    for n in 0..3 {
        let (s, b) = t.send("POST", "/api/orgs", &a, Some(json!({"name": format!("{prefix}-{n}")}))).await;
        assert_eq!(s, 200);
        ids.push(b["orgId"].as_i64().expect("id"));
    }
    // sqlstore/org.go:21-23 `name LIKE 'q%'` (a prefix, case-insensitive in SQLite), rows in id
    // order; :32-34 sess.Limit(perPage, perPage*page) with page defaulting to 0
    // (pkg/api/org.go:215), so page=1 is the second page.
    let lower = prefix.to_lowercase();
    let (_, all) = t.send("GET", &format!("/api/orgs?query={lower}"), &a, None).await;
    let want: Vec<Value> = ids.iter().map(|i| json!(i)).collect();
    assert_eq!(all.as_array().map(|l| l.iter().map(|o| o["id"].clone()).collect::<Vec<_>>()), Some(want));
    let (_, first) = t.send("GET", &format!("/api/orgs?query={prefix}&perpage=2"), &a, None).await;
    assert_eq!(first.as_array().map(Vec::len), Some(2));
    let (_, second) = t.send("GET", &format!("/api/orgs?query={prefix}&perpage=2&page=1"), &a, None).await;
    assert_eq!(second, json!([{"id": ids[2], "name": format!("{prefix}-2")}]));
    let (_, none) = t.send("GET", &format!("/api/orgs?query={}", unique("x")), &a, None).await;
    assert_eq!(none, json!([]));
}

#[tokio::test]
async fn current_org_name_and_address() {
    let t = Target::new().await;
    let a = t.admin();
    let (id, _) = t.org().await;
    let renamed = unique("Current");
    // pkg/api/org.go:114-120 UpdateCurrentOrg.
    assert_eq!(
        t.send_in(id, "PUT", "/api/org", &a, Some(json!({"name": renamed}))).await,
        (200, msg("Organization updated"))
    );
    // pkg/api/org.go:148-154 and :169-187: response.Success("Address updated");
    // dtos.UpdateOrgAddressForm spells the zip code `zipcode`.
    let body = json!({"address1": "1 Main St", "zipcode": "12345"});
    assert_eq!(t.send_in(id, "PUT", "/api/org/address", &a, Some(body)).await, (200, msg("Address updated")));
    let (s, got) = t.send_in(id, "GET", "/api/org", &a, None).await;
    assert_eq!((s, got), (200, json!({"id": id, "name": renamed, "address": address("1 Main St", "12345")})));
    // sqlstore/org.go:195-220: xorm writes only non-empty columns, so a partial update keeps the rest.
    let body = json!({"city": "Town"});
    assert_eq!(t.send("PUT", &format!("/api/orgs/{id}/address"), &a, Some(body)).await, (200, msg("Address updated")));
    let (_, got) = t.send("GET", &format!("/api/orgs/{id}"), &a, None).await;
    assert_eq!(
        (got["address"]["address1"].clone(), got["address"]["city"].clone()),
        (json!("1 Main St"), json!("Town"))
    );
}

#[tokio::test]
async fn org_users_add_update_remove() {
    let t = Target::new().await;
    let a = t.admin();
    let (org, _) = t.org().await;
    let u = t.user().await;
    let users = format!("/api/orgs/{org}/users");
    // pkg/api/org_users.go:67-70 response.JSON(200, util.DynMap{"message": "User added to organization", "userId": …});
    // the login or the email finds the user (sqlstore/user.go:292-324).
    let (s, b) = t.send("POST", &users, &a, Some(json!({"loginOrEmail": u.email, "role": "Editor"}))).await;
    assert_eq!((s, b), (200, json!({"message": "User added to organization", "userId": u.id})));
    // :58-63 response.JSON(409, util.DynMap{"message": "User is already member of this organization", "userId": …})
    let (s, b) = t.send("POST", &users, &a, Some(json!({"loginOrEmail": u.login, "role": "Admin"}))).await;
    assert_eq!((s, b), (409, json!({"message": "User is already member of this organization", "userId": u.id})));
    // :49-51 response.Error(404, "User not found", nil)
    assert_eq!(
        t.send("POST", &users, &a, Some(json!({"loginOrEmail": unique("ghost"), "role": "Viewer"}))).await,
        (404, msg("User not found"))
    );
    // pkg/models/org_user.go:63-81 RoleType.UnmarshalJSON: an unknown role fails decoding
    // (bad request data), so :43-45 "Invalid role specified" is unreachable; a missing role
    // fails binding:"Required"; "" and null become Viewer.
    for body in [
        json!({"loginOrEmail": u.login, "role": "admin"}),
        json!({"loginOrEmail": u.login}),
        json!({"role": "Viewer"}),
        json!({"loginOrEmail": u.login, "role": 1}),
    ] {
        assert_eq!(
            t.send("POST", &users, &a, Some(body.clone())).await,
            (400, msg_trace("bad request data")),
            "{body}"
        );
    }
    let v = t.user().await;
    assert_eq!(t.send("POST", &users, &a, Some(json!({"loginOrEmail": v.login, "role": ""}))).await.0, 200);
    let w = t.user().await;
    assert_eq!(t.send("POST", &users, &a, Some(json!({"loginOrEmail": w.login, "role": null}))).await.0, 200);
    // sqlstore/org_users.go:30-34: an unknown org is ErrOrgNotFound; pkg/api/org_users.go:64
    // response.Error(500, "Could not add user to organization", err)
    assert_eq!(
        t.send("POST", "/api/orgs/987654/users", &a, Some(json!({"loginOrEmail": u.login, "role": "Viewer"}))).await,
        (500, msg_trace("Could not add user to organization"))
    );

    // pkg/api/org_users.go:116-134 GetOrgUsers → sqlstore/org_users.go:91-158: models.OrgUserDTO
    // ordered by email, then login.
    let (s, list) = t.send("GET", &users, &a, None).await;
    assert_eq!(s, 200);
    let row = list.as_array().expect("list").iter().find(|r| r["userId"] == json!(u.id)).expect("u listed").clone();
    assert_eq!(
        redact(&row, &["lastSeenAt", "avatarUrl"]),
        json!({"orgId": org, "userId": u.id, "email": u.email, "name": u.login, "avatarUrl": "<_>", "login": u.login,
               "role": "Editor", "lastSeenAt": "<_>", "lastSeenAtAge": "10 years"})
    );
    let emails: Vec<&str> = list.as_array().expect("list").iter().filter_map(|r| r["email"].as_str()).collect();
    let mut sorted = emails.clone();
    sorted.sort();
    assert_eq!(emails, sorted);
    let roles: Vec<(Value, Value)> =
        list.as_array().expect("list").iter().map(|r| (r["userId"].clone(), r["role"].clone())).collect();
    assert!(roles.contains(&(json!(v.id), json!("Viewer"))) && roles.contains(&(json!(w.id), json!("Viewer"))));

    let one = format!("/api/orgs/{org}/users/{}", u.id);
    // pkg/api/org_users.go:251 response.Success("Organization user updated")
    assert_eq!(
        t.send("PATCH", &one, &a, Some(json!({"role": "Admin"}))).await,
        (200, msg("Organization user updated"))
    );
    // sqlstore/org_users.go:76-78 ErrOrgUserNotFound → :248 response.Error(500, "Failed update org user", err)
    assert_eq!(
        t.send("PATCH", &format!("/api/orgs/{org}/users/987654"), &a, Some(json!({"role": "Viewer"}))).await,
        (500, msg_trace("Failed update org user"))
    );
    assert_eq!(t.send("PATCH", &one, &a, Some(json!({}))).await, (400, msg_trace("bad request data")));
    // :233-236 response.Error(http.StatusBadRequest, "userId is invalid", err)
    assert_eq!(
        t.send("PATCH", &format!("/api/orgs/{org}/users/x"), &a, Some(json!({"role": "Viewer"}))).await,
        (400, msg_trace("userId is invalid"))
    );
    // pkg/api/org_users.go:296 response.Success("User removed from organization")
    assert_eq!(t.send("DELETE", &one, &a, None).await, (200, msg("User removed from organization")));
    // sqlstore/org_users.go:243-247 ErrUserNotFound → :289 response.Error(500, "Failed to remove user from organization", err)
    assert_eq!(
        t.send("DELETE", &format!("/api/orgs/{org}/users/987654"), &a, None).await,
        (500, msg_trace("Failed to remove user from organization"))
    );
}

#[tokio::test]
async fn the_last_org_admin_stays() {
    let t = Target::new().await;
    let a = t.admin();
    let (org, _) = t.org().await;
    let (_, me) = t.send("GET", "/api/user", &a, None).await;
    let me = me["id"].as_i64().expect("admin id");
    let one = format!("/api/orgs/{org}/users/{me}");
    // sqlstore/org_users.go:87 and :314-325 validateOneAdminLeftInOrg; pkg/api/org_users.go:245-247
    // response.Error(400, "Cannot change role so that there is no organization admin left", nil)
    assert_eq!(
        t.send("PATCH", &one, &a, Some(json!({"role": "Editor"}))).await,
        (400, msg("Cannot change role so that there is no organization admin left"))
    );
    // :286-288 response.Error(400, "Cannot remove last organization admin", nil)
    assert_eq!(t.send("DELETE", &one, &a, None).await, (400, msg("Cannot remove last organization admin")));
    // Both were rolled back: the admin is still the org's Admin.
    let (_, users) = t.send("GET", &format!("/api/orgs/{org}/users"), &a, None).await;
    assert_eq!(users[0]["role"], json!("Admin"));
    // With a second Admin the first may go.
    let u = t.user().await;
    let add = json!({"loginOrEmail": u.login, "role": "Admin"});
    assert_eq!(t.send("POST", &format!("/api/orgs/{org}/users"), &a, Some(add)).await.0, 200);
    assert_eq!(t.send("PATCH", &one, &a, Some(json!({"role": "Viewer"}))).await.0, 200);
    // An org with no Admin at all (here: none exists) refuses every removal.
    assert_eq!(
        t.send("DELETE", &format!("/api/orgs/987654/users/{}", u.id), &a, None).await,
        (400, msg("Cannot remove last organization admin"))
    );
}

#[tokio::test]
async fn removal_switches_the_current_org_or_deletes_orphans() {
    let t = Target::new().await;
    let a = t.admin();
    let (org, _) = t.org().await;
    let u = t.user().await;
    let add = json!({"loginOrEmail": u.login, "role": "Viewer"});
    assert_eq!(t.send("POST", &format!("/api/orgs/{org}/users"), &a, Some(add)).await.0, 200);
    // sqlstore/org_users.go:279-293: a user removed from its current org switches to another.
    assert_eq!(t.send("DELETE", &format!("/api/orgs/1/users/{}", u.id), &a, None).await.0, 200);
    let (_, got) = t.send("GET", &format!("/api/users/{}", u.id), &a, None).await;
    assert_eq!(got["orgId"], json!(org));
    // :301-306: through /api/orgs/:orgId/users a user left in no org is kept with org 0, and
    // models.UserProfileDTO drops `orgId` (omitempty).
    assert_eq!(
        t.send("DELETE", &format!("/api/orgs/{org}/users/{}", u.id), &a, None).await,
        (200, msg("User removed from organization"))
    );
    let (s, got) = t.send("GET", &format!("/api/users/{}", u.id), &a, None).await;
    assert_eq!((s, got.get("orgId").cloned()), (200, None));
    // sqlstore/org_users.go:49-62: joining an org when the current one has no membership
    // switches to it.
    let add = json!({"loginOrEmail": u.login, "role": "Editor"});
    assert_eq!(t.send("POST", &format!("/api/orgs/{org}/users"), &a, Some(add)).await.0, 200);
    let (_, got) = t.send("GET", &format!("/api/users/{}", u.id), &a, None).await;
    assert_eq!(got["orgId"], json!(org));
    // pkg/api/org_users.go:255-266 RemoveOrgUserForCurrentOrg sets ShouldDeleteOrphanedUser:
    // the user, in no other org, is deleted (sqlstore/org_users.go:294-300) and :292-294
    // response.Success("User deleted").
    let (s, b) = t.send_in(org, "DELETE", &format!("/api/org/users/{}", u.id), &a, None).await;
    assert_eq!((s, b), (200, msg("User deleted")));
    assert_eq!(t.send("GET", &format!("/api/users/{}", u.id), &a, None).await, (404, msg("user not found")));
}

#[tokio::test]
async fn current_org_users_routes() {
    let t = Target::new().await;
    let a = t.admin();
    let (org, _) = t.org().await;
    let u = t.user().await;
    // pkg/api/org_users.go:18-25 AddOrgUserToCurrentOrg.
    let add = json!({"loginOrEmail": u.login, "role": "Viewer"});
    let (s, b) = t.send_in(org, "POST", "/api/org/users", &a, Some(add)).await;
    assert_eq!((s, b), (200, json!({"message": "User added to organization", "userId": u.id})));
    // pkg/api/org_users.go:208-220 UpdateOrgUserForCurrentOrg.
    let one = format!("/api/org/users/{}", u.id);
    assert_eq!(
        t.send_in(org, "PATCH", &one, &a, Some(json!({"role": "Editor"}))).await,
        (200, msg("Organization user updated"))
    );
    // pkg/api/org_users.go:74-87: `query` (LIKE on email, name or login) and `limit`.
    let (s, list) = t.send_in(org, "GET", &format!("/api/org/users?query={}", u.login.to_uppercase()), &a, None).await;
    assert_eq!((s, list.as_array().map(Vec::len), list[0]["role"].clone()), (200, Some(1), json!("Editor")));
    let (_, limited) = t.send_in(org, "GET", "/api/org/users?limit=1", &a, None).await;
    assert_eq!(limited.as_array().map(Vec::len), Some(1));
    // pkg/api/org_users.go:166-205 SearchOrgUsersWithPaging: the rows under "OrgUsers"
    // (models.SearchOrgUsersQueryResult's tag), with the total and paging.
    let (s, page) = t.send_in(org, "GET", "/api/org/users/search?perpage=1&page=2", &a, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            page["totalCount"].clone(),
            page["page"].clone(),
            page["perPage"].clone(),
            page["OrgUsers"].as_array().map(Vec::len)
        ),
        (json!(2), json!(2), json!(1), Some(1))
    );
    // pkg/api/org_users.go:90-113 GetOrgUsersForCurrentOrgLookup: dtos.UserLookupDTO.
    let (s, l) = t.send_in(org, "GET", &format!("/api/org/users/lookup?query={}", u.login), &a, None).await;
    assert_eq!((s, redact(&l, &["avatarUrl"])), (200, json!([{"userId": u.id, "login": u.login, "avatarUrl": "<_>"}])));
    // The routes are reqOrgAdmin (pkg/api/api.go:231-235): the user, an Editor there, is refused.
    let (s, b) = t.send_in(org, "GET", "/api/org/users", &u.cred(), None).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
    // pkg/api/org_users.go:256-259 response.Error(http.StatusBadRequest, "userId is invalid", err)
    assert_eq!(t.send_in(org, "DELETE", "/api/org/users/x", &a, None).await, (400, msg_trace("userId is invalid")));
    // The user is still in org 1, so removing it here keeps it.
    assert_eq!(t.send_in(org, "DELETE", &one, &a, None).await, (200, msg("User removed from organization")));
}
