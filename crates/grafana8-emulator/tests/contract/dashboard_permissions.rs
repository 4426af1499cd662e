//! Dashboard permissions by id: pkg/api/dashboard_permission.go, pkg/models/dashboard_acl.go,
//! pkg/services/guardian/guardian.go, pkg/services/sqlstore/dashboard_acl.go and
//! pkg/services/dashboards/database/database.go `UpdateDashboardACL` at v8.5.4.

use crate::support::{Target, msg, msg_trace, redact, unique};
use serde_json::{Value, json};

/// Saves a dashboard (in a folder when `folder_id` > 0) and returns (id, uid, title, slug).
async fn dashboard(t: &Target, folder_id: i64) -> (i64, String, String, String) {
    let title = unique("Perms");
    let body = json!({"dashboard": {"title": title}, "folderId": folder_id});
    let (s, b) = t.send("POST", "/api/dashboards/db", &t.admin(), Some(body)).await;
    assert_eq!(s, 200, "{b}");
    (
        b["id"].as_i64().expect("id"),
        b["uid"].as_str().expect("uid").to_string(),
        title,
        b["slug"].as_str().expect("slug").to_string(),
    )
}

/// A row of `DashboardAclInfoDTO` for a role, with the queried dashboard's uid, title and slug
/// (the SQL selects them from `dashboard AS d` for every row).
fn role_row(
    dashboard_id: i64,
    role: &str,
    perm: i64,
    name: &str,
    d: &(i64, String, String, String),
    inherited: bool,
) -> Value {
    let (_, uid, title, slug) = d;
    json!({"dashboardId": dashboard_id, "created": "<_>", "updated": "<_>", "userId": 0, "userLogin": "",
           "userEmail": "", "userAvatarUrl": "", "teamId": 0, "teamEmail": "", "teamAvatarUrl": "", "team": "",
           "role": role, "permission": perm, "permissionName": name, "uid": uid, "title": title, "slug": slug,
           "isFolder": false, "url": format!("/d/{uid}/{slug}"), "inherited": inherited})
}

fn path(id: i64) -> String {
    format!("/api/dashboards/id/{id}/permissions")
}

#[tokio::test]
async fn general_dashboards_list_the_default_rows_not_inherited() {
    let t = Target::new().await;
    let d = dashboard(&t, 0).await;
    let (s, b) = t.send("GET", &path(d.0), &t.admin(), None).await;
    // sqlstore/dashboard_acl.go:63: the default rows (dashboard_id -1) are inherited only when
    // the dashboard is in a folder; :79 orders by row id, and the defaults are rows 1 and 2.
    assert_eq!(s, 200);
    assert_eq!(
        redact(&b, &["created", "updated"]),
        json!([role_row(-1, "Viewer", 1, "View", &d, false), role_row(-1, "Editor", 2, "Edit", &d, false)])
    );
    // The migration wrote them on 2017-06-20 (sqlstore/migrations/dashboard_acl.go).
    assert_eq!(b[0]["created"], json!("2017-06-20T00:00:00Z"));
}

#[tokio::test]
async fn folder_rows_are_inherited_and_dominated_own_rows_hidden() {
    let t = Target::new().await;
    let (folder_uid, _, folder_id) = t.folder().await;
    let d = dashboard(&t, folder_id).await;
    let (_, b) = t.send("GET", &path(d.0), &t.admin(), None).await;
    assert_eq!(
        redact(&b, &["created", "updated"]),
        json!([role_row(-1, "Viewer", 1, "View", &d, true), role_row(-1, "Editor", 2, "Edit", &d, true)])
    );
    let folder_perms = format!("/api/folders/{folder_uid}/permissions");
    let items = json!({"items": [{"role": "Viewer", "permission": 1}]});
    assert_eq!(t.send("POST", &folder_perms, &t.admin(), Some(items)).await.0, 200);
    // The folder's row, with dashboardId = the folder's id (sqlstore/dashboard_acl.go:63).
    let (_, b) = t.send("GET", &path(d.0), &t.admin(), None).await;
    assert_eq!(redact(&b, &["created", "updated"]), json!([role_row(folder_id, "Viewer", 1, "View", &d, true)]));
    // An own row that raises the inherited one is listed after it.
    let (s, r) =
        t.send("POST", &path(d.0), &t.admin(), Some(json!({"items": [{"role": "Viewer", "permission": 2}]}))).await;
    // dashboard_permission.go:136 response.Success("Dashboard permissions updated")
    assert_eq!((s, r), (200, msg("Dashboard permissions updated")));
    let (_, b) = t.send("GET", &path(d.0), &t.admin(), None).await;
    assert_eq!(
        redact(&b, &["created", "updated"]),
        json!([role_row(folder_id, "Viewer", 1, "View", &d, true), role_row(d.0, "Viewer", 2, "Edit", &d, false)])
    );
    // guardian.go:232 GetACLWithoutDuplicates: once the folder grants as much, the own row is
    // left out of the list.
    let items = json!({"items": [{"role": "Viewer", "permission": 4}]});
    assert_eq!(t.send("POST", &folder_perms, &t.admin(), Some(items)).await.0, 200);
    let (_, b) = t.send("GET", &path(d.0), &t.admin(), None).await;
    assert_eq!(redact(&b, &["created", "updated"]), json!([role_row(folder_id, "Viewer", 4, "Admin", &d, true)]));
    // The folder route lists the folder's own ACL without de-duplication (folder_permission.go:30).
    let (_, b) = t.send("GET", &folder_perms, &t.admin(), None).await;
    assert_eq!(b.as_array().map(Vec::len), Some(1));
    assert_eq!((b[0]["folderId"].clone(), b[0].get("dashboardId")), (json!(folder_id), None));
}

#[tokio::test]
async fn replacing_the_acl_sets_has_acl_and_takes_effect() {
    let t = Target::new().await;
    let d = dashboard(&t, 0).await;
    let items = json!({"items": [{"role": "Viewer", "permission": 1}]});
    assert_eq!(t.send("POST", &path(d.0), &t.admin(), Some(items)).await.0, 200);
    let (_, g) = t.send("GET", &format!("/api/dashboards/uid/{}", d.1), &t.admin(), None).await;
    // database.go:211: UpdateDashboardACL sets has_acl.
    assert_eq!(g["meta"]["hasAcl"], json!(true));
    let (_, b) = t.send("GET", &path(d.0), &t.admin(), None).await;
    assert_eq!(redact(&b, &["created", "updated"]), json!([role_row(d.0, "Viewer", 1, "View", &d, false)]));
    // An Editor no longer has a row: guardian.go CanView fails, dashboard.go:49.
    let editor = t.key("Editor").await;
    assert_eq!(
        t.send("GET", &format!("/api/dashboards/uid/{}", d.1), &editor, None).await,
        (403, msg("Access denied to this dashboard"))
    );
    // An empty list leaves an empty ACL (the defaults need has_acl = false).
    assert_eq!(t.send("POST", &path(d.0), &t.admin(), Some(json!({"items": []}))).await.0, 200);
    assert_eq!(t.send("GET", &path(d.0), &t.admin(), None).await, (200, json!([])));
}

#[tokio::test]
async fn update_errors() {
    let t = Target::new().await;
    let (_, _, folder_id) = t.folder().await;
    let d = dashboard(&t, folder_id).await;
    let admin = t.admin();
    let p = path(d.0);
    let post = |items: Value| t.send("POST", &p, &admin, Some(json!({"items": items})));
    // dashboard_permission.go:67 with models/dashboard_acl.go:32 (the texts are swapped in
    // 8.5.4: the user-and-team check returns the role text and vice versa).
    assert_eq!(
        post(json!([{"userId": 1, "teamId": 1, "permission": 1}])).await,
        (400, msg_trace("team and user permissions cannot have an associated role"))
    );
    // dashboard_permission.go:67 with models/dashboard_acl.go:31.
    assert_eq!(
        post(json!([{"teamId": 1, "role": "Editor", "permission": 1}])).await,
        (400, msg_trace("permissions cannot have both a user and team"))
    );
    // dashboard_permission.go:108 with guardian.go:14 ErrGuardianPermissionExists.
    assert_eq!(
        post(json!([{"userId": 1, "permission": 1}, {"userId": 1, "permission": 2}])).await,
        (400, msg_trace("permission already exists"))
    );
    assert_eq!(post(json!([{"role": "Admin", "permission": 1}])).await, (400, msg_trace("permission already exists")));
    // dashboard_permission.go:108 with guardian.go:15 ErrGuardianOverride: the folder has no
    // ACL, so the default Editor row (Edit) is inherited and must be exceeded.
    assert_eq!(
        post(json!([{"role": "Editor", "permission": 2}])).await,
        (400, msg_trace("you can only override a permission to be higher"))
    );
    assert_eq!(post(json!([{"role": "Editor", "permission": 4}])).await.0, 200);
    // dashboard_permission.go:131 with database.go:197 ErrDashboardAclInfoMissing; the
    // transaction rolls back, so the Editor row stays.
    assert_eq!(
        post(json!([{"role": "Viewer", "permission": 2}, {"permission": 1}])).await,
        (409, msg_trace("user id and team id cannot both be empty for a dashboard permission"))
    );
    // pkg/models/org_user.go:72-74: `RoleType.UnmarshalJSON` refuses a role that is neither
    // valid nor empty, so the bind fails (pkg/web/binding.go: 400 "bad request data").
    assert_eq!(post(json!([{"role": "Viewer2", "permission": 2}])).await, (400, msg_trace("bad request data")));
    let (_, b) = t.send("GET", &path(d.0), &admin, None).await;
    let own: Vec<&Value> = b.as_array().expect("rows").iter().filter(|r| r["inherited"] == json!(false)).collect();
    assert_eq!(own.len(), 1);
    assert_eq!((own[0]["role"].clone(), own[0]["permission"].clone()), (json!("Editor"), json!(4)));
}

#[tokio::test]
async fn ids_lookups_and_access() {
    let t = Target::new().await;
    let d = dashboard(&t, 0).await;
    let admin = t.admin();
    // dashboard_permission.go:21 and :72.
    assert_eq!(
        t.send("GET", "/api/dashboards/id/abc/permissions", &admin, None).await,
        (400, msg_trace("dashboardId is invalid"))
    );
    assert_eq!(
        t.send("POST", "/api/dashboards/id/abc/permissions", &admin, Some(json!({"items": []}))).await,
        (400, msg_trace("dashboardId is invalid"))
    );
    // dashboard_permission.go:64: the body is bound before the id is read.
    assert_eq!(
        t.send("POST", "/api/dashboards/id/abc/permissions", &admin, Some(json!({"items": 5}))).await,
        (400, msg_trace("bad request data"))
    );
    // dashboard.go:243 getDashboardHelper: 404 "Dashboard not found" built from the error.
    assert_eq!(
        t.send("GET", "/api/dashboards/id/99999999/permissions", &admin, None).await,
        (404, msg_trace("Dashboard not found"))
    );
    assert_eq!(
        t.send("POST", "/api/dashboards/id/99999999/permissions", &admin, Some(json!({"items": []}))).await,
        (404, msg_trace("Dashboard not found"))
    );
    // dashboard.go:49 dashboardGuardianResponse(nil): an Editor can save but not administer.
    let editor = t.key("Editor").await;
    assert_eq!(t.send("GET", &path(d.0), &editor, None).await, (403, msg("Access denied to this dashboard")));
    assert_eq!(
        t.send("POST", &path(d.0), &editor, Some(json!({"items": []}))).await,
        (403, msg("Access denied to this dashboard"))
    );
    // A folder is a dashboard row too: its id works on this route.
    let (_, _, folder_id) = t.folder().await;
    let (s, b) = t.send("GET", &path(folder_id), &admin, None).await;
    assert_eq!((s, b[0]["isFolder"].clone(), b[0]["dashboardId"].clone()), (200, json!(true), json!(-1)));
}
