//! Folders and folder permissions: pkg/api/folder.go, pkg/api/apierrors/folder.go,
//! pkg/services/dashboards/manager/folder_service.go, dashboard_service.go,
//! pkg/services/dashboards/database/database.go, pkg/api/folder_permission.go,
//! pkg/api/dashboard_permission.go, pkg/services/guardian/guardian.go.
//!
//! Error bodies: `response.Error(status, msg, err)` carries `traceID` exactly when `err` is not
//! nil. apierrors/folder.go:15 passes every `DashboardErr` on (`msg_trace`), :23 and :36 pass
//! nil (`msg`), :27 passes the error (`msg_trace`), :31 and :40 are `{"status", "message"}`.

use crate::support::{Target, msg, msg_trace, redact, seed_user, unique};
use serde_json::{Value, json};

// pkg/api/apierrors/folder.go:40 and pkg/models/folders.go:12
// ErrFolderVersionMismatch = errors.New("the folder has been changed by someone else")
fn version_mismatch() -> Value {
    json!({"status": "version-mismatch", "message": "the folder has been changed by someone else"})
}

// pkg/api/apierrors/folder.go:31 and pkg/models/folders.go:11
// ErrFolderNotFound = errors.New("folder not found")
fn not_found() -> Value {
    json!({"status": "not-found", "message": "folder not found"})
}

// pkg/api/apierrors/folder.go:27 return response.Error(403, "Access denied", err)
fn access_denied() -> Value {
    msg_trace("Access denied")
}

#[tokio::test]
async fn create_returns_the_folder_dto() {
    let t = Target::new().await;
    let uid = unique("f").replace('.', "");
    let title = unique("Department ABC");
    let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"uid": uid, "title": title}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        redact(&b, &["id", "created", "updated", "url"]),
        json!({"id": "<_>", "uid": uid, "title": title, "url": "<_>", "hasAcl": false, "canSave": true,
               "canEdit": true, "canAdmin": true, "canDelete": true, "createdBy": "admin", "created": "<_>",
               "updatedBy": "admin", "updated": "<_>", "version": 1})
    );
    assert_eq!(b["url"], json!(format!("/dashboards/f/{uid}/{}", title.to_lowercase().replace(' ', "-"))));
    // Go's decoder matches field names without regard to case.
    let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"Title": unique("Cased")}))).await;
    assert_eq!((s, b["version"].clone()), (200, json!(1)));
    // A generated uid when none is given.
    let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"title": unique("g")}))).await;
    assert_eq!(s, 200);
    let g = b["uid"].as_str().expect("uid");
    assert!(!g.is_empty() && g.len() <= 14, "{g}");
    // dashboard_service.go:74-76 trims the title and the uid before saving.
    let (s, b) =
        t.send("POST", "/api/folders", &t.admin(), Some(json!({"title": "  Padded  ", "uid": " pad-1 "}))).await;
    assert_eq!((s, b["title"].clone(), b["uid"].clone()), (200, json!("Padded"), json!("pad-1")));
}

#[tokio::test]
async fn a_folder_is_saved_with_its_first_version() {
    let t = Target::new().await;
    let (uid, title, id) = t.folder().await;
    // models/dashboards.go:244-250 NewDashboardFolder sets schemaVersion 17; database.go saveDashboard
    // writes a dashboard_version row for every save.
    let (s, d) = t.send("GET", &format!("/api/dashboards/uid/{uid}"), &t.admin(), None).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(
        (d["dashboard"]["schemaVersion"].clone(), d["dashboard"]["title"].clone(), d["meta"]["isFolder"].clone()),
        (json!(17), json!(title), json!(true))
    );
    let (s, v) = t.send("GET", &format!("/api/dashboards/id/{id}/versions"), &t.admin(), None).await;
    assert_eq!((s, v[0]["version"].clone(), v[0]["parentVersion"].clone()), (200, json!(1), json!(0)));
}

#[tokio::test]
async fn folders_made_with_an_api_key_are_by_anonymous() {
    let t = Target::new().await;
    let editor = t.key("Editor").await;
    let (s, b) = t.send("POST", "/api/folders", &editor, Some(json!({"title": unique("k")}))).await;
    assert_eq!(s, 200);
    // pkg/api/folder.go:120 anonString for CreatedBy/UpdatedBy -1.
    assert_eq!(
        (b["createdBy"].clone(), b["updatedBy"].clone(), b["canAdmin"].clone(), b["canSave"].clone()),
        (json!("Anonymous"), json!("Anonymous"), json!(false), json!(true))
    );
}

#[tokio::test]
async fn create_validation_errors() {
    let t = Target::new().await;
    let a = t.admin();
    let post = |body: Value| t.send("POST", "/api/folders", &a, Some(body));
    // dashboard_service.go:78-79 ErrDashboardTitleEmpty → folder_service.go:260 → apierrors/folder.go:23;
    // pkg/models/folders.go:13 ErrFolderTitleEmpty = errors.New("folder title cannot be empty")
    assert_eq!(post(json!({"title": "  "})).await, (400, msg("folder title cannot be empty")));
    assert_eq!(post(json!({})).await, (400, msg("folder title cannot be empty")));
    assert_eq!(post(json!({"title": null})).await, (400, msg("folder title cannot be empty")));
    // dashboard_service.go:86-87 strings.EqualFold(title, "General"); pkg/models/dashboards.go:87
    // Reason: "A folder with that name already exists" (a DashboardErr: apierrors/folder.go:15)
    assert_eq!(post(json!({"title": "general"})).await, (400, msg_trace("A folder with that name already exists")));
    assert_eq!(post(json!({"title": " GENERAL "})).await, (400, msg_trace("A folder with that name already exists")));
    // dashboard_service.go:90-91; pkg/models/dashboards.go:95 Reason: "uid contains illegal characters"
    assert_eq!(
        post(json!({"title": unique("x"), "uid": "bad uid!"})).await,
        (400, msg_trace("uid contains illegal characters"))
    );
    assert_eq!(
        post(json!({"title": unique("x"), "uid": "a.b"})).await,
        (400, msg_trace("uid contains illegal characters"))
    );
    // dashboard_service.go:92-93; pkg/models/dashboards.go:99 Reason: "uid too long, max 40 characters"
    assert_eq!(
        post(json!({"title": unique("x"), "uid": "a".repeat(41)})).await,
        (400, msg_trace("uid too long, max 40 characters"))
    );
    assert_eq!(post(json!({"title": unique("x"), "uid": "a".repeat(40)})).await.0, 200);
    // folder_service.go:137-139 ErrFolderInvalidUID for the trimmed uid "general", which
    // apierrors/folder.go:43 does not map: response.Error(500, "Folder API error", err)
    assert_eq!(post(json!({"title": unique("x"), "uid": "general"})).await, (500, msg_trace("Folder API error")));
    assert_eq!(post(json!({"title": unique("x"), "uid": " general "})).await, (500, msg_trace("Folder API error")));
    // The title check comes first (dashboard_service.go:78 before :90).
    assert_eq!(post(json!({"title": "", "uid": "bad uid!"})).await, (400, msg("folder title cannot be empty")));
    // pkg/api/folder.go:66-67 return response.Error(http.StatusBadRequest, "bad request data", err)
    assert_eq!(post(json!({"title": 5})).await, (400, msg_trace("bad request data")));
    // models/folders.go:87-92 CreateFolderCommand has no version or overwrite: they are ignored.
    let (s, b) = post(json!({"title": unique("x"), "version": "7", "overwrite": "yes"})).await;
    assert_eq!((s, b["version"].clone()), (200, json!(1)));
    // dashboard_service.go:136-140 CanCreate in General needs Edit: ErrDashboardUpdateAccessDenied
    // → folder_service.go:264 ErrFolderAccessDenied → apierrors/folder.go:27.
    let viewer = t.key("Viewer").await;
    let (s, b) = t.send("POST", "/api/folders", &viewer, Some(json!({"title": unique("v")}))).await;
    assert_eq!((s, b), (403, access_denied()));
    // The validation errors come before the permission check.
    let (s, b) = t.send("POST", "/api/folders", &viewer, Some(json!({"title": ""}))).await;
    assert_eq!((s, b), (400, msg("folder title cannot be empty")));
}

#[tokio::test]
async fn create_with_an_existing_uid_is_412_not_409() {
    let t = Target::new().await;
    let (uid, _, _) = t.folder().await;
    // database.go:341-345: the new folder's version 0 differs from the stored one, and create
    // never overwrites → ErrDashboardVersionMismatch → folder_service.go:276 → apierrors/folder.go:40.
    let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"uid": uid, "title": unique("other")}))).await;
    assert_eq!((s, b), (412, version_mismatch()));
}

#[tokio::test]
async fn a_dashboard_uid_or_title_cannot_become_a_folder() {
    let t = Target::new().await;
    let (duid, dtitle) = (unique("d").replace('.', ""), unique("Dash"));
    let body = json!({"dashboard": {"title": dtitle, "uid": duid}});
    let (s, b) = t.send("POST", "/api/dashboards/db", &t.admin(), Some(body)).await;
    assert_eq!(s, 200, "{b}");
    // database.go:331-333 ErrDashboardTypeMismatch; pkg/models/dashboards.go:74
    // Reason: "Dashboard cannot be changed to a folder"
    let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"uid": duid, "title": unique("f")}))).await;
    assert_eq!((s, b), (400, msg_trace("Dashboard cannot be changed to a folder")));
    // database.go:371-372 ErrDashboardFolderWithSameNameAsDashboard; pkg/models/dashboards.go:78
    // Reason: "Folder name cannot be the same as one of its dashboards"
    let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"title": dtitle}))).await;
    assert_eq!((s, b), (400, msg_trace("Folder name cannot be the same as one of its dashboards")));
    // PUT on a dashboard's uid: folder_service.go:199-200 return models.ErrFolderNotFound
    let (s, b) =
        t.send("PUT", &format!("/api/folders/{duid}"), &t.admin(), Some(json!({"title": "x", "version": 1}))).await;
    assert_eq!((s, b), (404, not_found()));
}

#[tokio::test]
async fn title_clashes_go_by_slug() {
    let t = Target::new().await;
    let base = unique("My Folder");
    let (s, _) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"title": base}))).await;
    assert_eq!(s, 200);
    let same_slug = base.to_lowercase().replace(' ', "-");
    // database.go:384 ErrDashboardWithSameNameInFolderExists → folder_service.go:268 → apierrors/folder.go:36;
    // pkg/models/folders.go:16 "a folder or dashboard in the general folder with the same name already exists"
    let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"title": same_slug}))).await;
    assert_eq!((s, b), (409, msg("a folder or dashboard in the general folder with the same name already exists")));
}

/// What mac's plan relies on to see a folder clash before Grafana does: the clash is decided by
/// the slug alone, the lower-cased title through gosimple/slug, substitutions and punctuation
/// included (database.go:360-361 `Where("org_id=? AND slug=? AND (is_folder=? OR folder_id=?)")`,
/// the slug from dashboards.go:310-328 `UpdateSlug`/`SlugifyTitle`), never by uid or title text.
#[tokio::test]
async fn a_folder_clashes_with_any_folder_of_the_same_slug_and_only_those() {
    let t = Target::new().await;
    let base = unique("Ops & Billing");
    let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"title": base}))).await;
    assert_eq!(s, 200, "{b}");
    // `&` becomes "and", punctuation a dash, case is ignored: the same slug, another uid.
    let same_slug = format!("  {}!  ", base.to_uppercase().replace(" & ", " AND "));
    let uid = unique("u").replace('.', "");
    // database.go:384 ErrDashboardWithSameNameInFolderExists → folder_service.go:268 → apierrors/folder.go:36
    let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"uid": uid, "title": same_slug}))).await;
    assert_eq!((s, b), (409, msg("a folder or dashboard in the general folder with the same name already exists")));
    // A title whose slug differs is no clash, however alike it reads.
    let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"title": format!("{base} 2")}))).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn get_by_uid_and_by_id() {
    let t = Target::new().await;
    let (uid, title, id) = t.folder().await;
    let (s, b) = t.send("GET", &format!("/api/folders/{uid}"), &t.admin(), None).await;
    assert_eq!((s, b["title"].clone(), b["id"].clone()), (200, json!(title), json!(id)));
    let (s, b) = t.send("GET", &format!("/api/folders/id/{id}"), &t.admin(), None).await;
    assert_eq!((s, b["uid"].clone()), (200, json!(uid)));
    // database.go:107 and :83 return models.ErrFolderNotFound
    let (s, b) = t.send("GET", "/api/folders/no-such-folder", &t.admin(), None).await;
    assert_eq!((s, b), (404, not_found()));
    let (s, b) = t.send("GET", "/api/folders/id/99999999", &t.admin(), None).await;
    assert_eq!((s, b), (404, not_found()));
    let (s, b) = t.send("GET", "/api/folders/id/-3", &t.admin(), None).await;
    assert_eq!((s, b), (404, not_found()));
    // pkg/api/folder.go:53 return response.Error(http.StatusBadRequest, "id is invalid", err)
    let (s, b) = t.send("GET", "/api/folders/id/abc", &t.admin(), None).await;
    assert_eq!((s, b), (400, msg_trace("id is invalid")));
    // folder_service.go:80-81: id 0 is the General folder.
    let (s, b) = t.send("GET", "/api/folders/id/0", &t.admin(), None).await;
    assert_eq!(
        (s, b["title"].clone(), b["uid"].clone(), b["url"].clone()),
        (200, json!("General"), json!(""), json!(""))
    );
    // Trailing slashes route the same (pkg/web/tree.go).
    let (s, b) = t.send("GET", &format!("/api/folders/{uid}/"), &t.admin(), None).await;
    assert_eq!((s, b["uid"].clone()), (200, json!(uid)));
}

#[tokio::test]
async fn list_pages_and_sorts_case_insensitively() {
    let t = Target::new().await;
    if t.emu.is_none() {
        return; // A shared server holds other folders; paging is asserted on a fresh one.
    }
    for title in ["beta", "Alpha", "gamma"] {
        let (s, _) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"title": title}))).await;
        assert_eq!(s, 200);
    }
    let titles = |b: &Value| b.as_array().expect("array").iter().map(|f| f["title"].clone()).collect::<Vec<_>>();
    let (s, b) = t.send("GET", "/api/folders", &t.admin(), None).await;
    assert_eq!((s, titles(&b)), (200, vec![json!("Alpha"), json!("beta"), json!("gamma")]));
    assert_eq!(redact(&b[0], &["id", "uid"]), json!({"id": "<_>", "uid": "<_>", "title": "Alpha"}));
    let (_, b) = t.send("GET", "/api/folders?limit=1&page=2", &t.admin(), None).await;
    assert_eq!(titles(&b), vec![json!("beta")]);
    let (_, b) = t.send("GET", "/api/folders?limit=2&page=3", &t.admin(), None).await;
    assert_eq!(b, json!([]));
    let (s, b) = t.send("GET", "/api/folders?limit=1000&page=9223372036854775807", &t.admin(), None).await;
    assert_eq!((s, b), (200, json!([])));
}

#[tokio::test]
async fn update_with_version_or_overwrite() {
    let t = Target::new().await;
    let (uid, _, _) = t.folder().await;
    let path = format!("/api/folders/{uid}");
    let new_title = unique("Renamed");
    let (s, b) = t.send("PUT", &path, &t.admin(), Some(json!({"title": new_title, "version": 1}))).await;
    assert_eq!((s, b["title"].clone(), b["version"].clone()), (200, json!(new_title), json!(2)));
    // database.go:341-345: a stale version is 412; omitting it means 0.
    let (s, b) = t.send("PUT", &path, &t.admin(), Some(json!({"title": new_title, "version": 1}))).await;
    assert_eq!((s, b), (412, version_mismatch()));
    let (s, b) = t.send("PUT", &path, &t.admin(), Some(json!({"title": new_title}))).await;
    assert_eq!((s, b), (412, version_mismatch()));
    // database.go:342-343: overwrite takes the stored version.
    let (s, b) = t.send("PUT", &path, &t.admin(), Some(json!({"title": new_title, "overwrite": true}))).await;
    assert_eq!((s, b["version"].clone()), (200, json!(3)));
    // models/folders.go:65 UpdateDashboardModel always applies the title, so it is required:
    // pkg/models/folders.go:13 "folder title cannot be empty"
    let (s, b) = t.send("PUT", &path, &t.admin(), Some(json!({"version": 3}))).await;
    assert_eq!((s, b), (400, msg("folder title cannot be empty")));
    // folder_service.go:192-194 GetDashboard's ErrDashboardNotFound → ErrFolderNotFound
    let (s, b) = t.send("PUT", "/api/folders/nope-nope", &t.admin(), Some(json!({"title": "x", "version": 1}))).await;
    assert_eq!((s, b), (404, not_found()));
    // database.go:319-320 ErrDashboardWithSameUIDExists → folder_service.go:272 → apierrors/folder.go:36;
    // pkg/models/folders.go:14 "a folder/dashboard with the same uid already exists"
    let (other, _, _) = t.folder().await;
    let (s, b) = t.send("PUT", &path, &t.admin(), Some(json!({"title": new_title, "uid": other, "version": 3}))).await;
    assert_eq!((s, b), (409, msg("a folder/dashboard with the same uid already exists")));
    // A new uid is validated like a created one (dashboard_service.go:90-93).
    let (s, b) = t.send("PUT", &path, &t.admin(), Some(json!({"title": new_title, "uid": "x y", "version": 3}))).await;
    assert_eq!((s, b), (400, msg_trace("uid contains illegal characters")));
    // A fresh uid renames it.
    let renamed = unique("u").replace('.', "");
    let (s, b) =
        t.send("PUT", &path, &t.admin(), Some(json!({"title": new_title, "uid": renamed, "version": 3}))).await;
    assert_eq!((s, b["uid"].clone(), b["version"].clone()), (200, json!(renamed), json!(4)));
    // dashboard_service.go:143-147 CanSave → ErrDashboardUpdateAccessDenied → apierrors/folder.go:27
    let viewer = t.key("Viewer").await;
    let (s, b) =
        t.send("PUT", &format!("/api/folders/{renamed}"), &viewer, Some(json!({"title": "v", "version": 4}))).await;
    assert_eq!((s, b), (403, access_denied()));
    // pkg/api/folder.go:80-81 return response.Error(http.StatusBadRequest, "bad request data", err)
    let (s, b) = t.send("PUT", &path, &t.admin(), Some(json!({"title": "x", "version": "4"}))).await;
    assert_eq!((s, b), (400, msg_trace("bad request data")));
}

#[tokio::test]
async fn update_title_clash_is_409() {
    let t = Target::new().await;
    let (uid, _, _) = t.folder().await;
    let (_, other_title, _) = t.folder().await;
    // database.go:384 → pkg/models/folders.go:16
    let (s, b) = t
        .send("PUT", &format!("/api/folders/{uid}"), &t.admin(), Some(json!({"title": other_title, "version": 1})))
        .await;
    assert_eq!((s, b), (409, msg("a folder or dashboard in the general folder with the same name already exists")));
}

#[tokio::test]
async fn delete_and_force_delete_rules() {
    let t = Target::new().await;
    let (uid, title, id) = t.folder().await;
    let ds = t.prometheus().await;
    let group = crate::ruler::group_with(&ds, &[("r1", "")]);
    let (s, _) = t.send("POST", &crate::ruler::ns_path(&title), &t.admin(), Some(group)).await;
    assert_eq!(s, 202);
    // database.go:773 fmt.Errorf("folder cannot be deleted: %w", models.ErrFolderContainsAlertRules),
    // answered by apierrors/folder.go:23 without the error.
    let (s, b) = t.send("DELETE", &format!("/api/folders/{uid}"), &t.admin(), None).await;
    assert_eq!((s, b), (400, msg("folder cannot be deleted: folder contains alert rules")));
    // Through the dashboards route a folder with rules cannot be deleted at all.
    let (s, b) = t.send("DELETE", &format!("/api/dashboards/uid/{uid}"), &t.admin(), None).await;
    assert_eq!((s, b), (500, msg_trace("Failed to delete dashboard")));
    // libraryelements/guard.go:45-46 (CanEdit) before folder_service.go:238-242 (CanDelete).
    let viewer = t.key("Viewer").await;
    let (s, b) = t.send("DELETE", &format!("/api/folders/{uid}?forceDeleteRules=true"), &viewer, None).await;
    assert_eq!((s, b), (403, access_denied()));
    // pkg/api/folder.go:106-110
    let (s, b) = t.send("DELETE", &format!("/api/folders/{uid}?forceDeleteRules=true"), &t.admin(), None).await;
    assert_eq!((s, b), (200, json!({"title": title, "message": format!("Folder {title} deleted"), "id": id})));
    // libraryelements/database.go:696-697 return models.ErrFolderNotFound
    let (s, b) = t.send("DELETE", &format!("/api/folders/{uid}"), &t.admin(), None).await;
    assert_eq!((s, b), (404, not_found()));
    let (s, b) = t.send("GET", "/api/ruler/grafana/api/v1/rules", &t.admin(), None).await;
    assert_eq!(s, 200);
    assert!(b.get(&title).is_none());
}

#[tokio::test]
async fn permissions_default_rows_then_replace() {
    let t = Target::new().await;
    let (uid, title, id) = t.folder().await;
    let path = format!("/api/folders/{uid}/permissions");
    let (s, b) = t.send("GET", &path, &t.admin(), None).await;
    assert_eq!(s, 200);
    let row = |role: &str, perm: i64, name: &str| {
        json!({"folderId": id, "created": "<_>", "updated": "<_>", "userId": 0, "userLogin": "", "userEmail": "",
               "userAvatarUrl": "", "teamId": 0, "teamEmail": "", "teamAvatarUrl": "", "team": "", "role": role,
               "permission": perm, "permissionName": name, "uid": uid, "title": title, "slug": "<_>",
               "isFolder": true, "url": "<_>", "inherited": false})
    };
    assert_eq!(
        redact(&b, &["created", "updated", "slug", "url"]),
        json!([row("Viewer", 1, "View"), row("Editor", 2, "Edit")])
    );
    // pkg/api/folder_permission.go:143-147
    let items = json!({"items": [{"role": "Viewer", "permission": 2}]});
    let (s, b) = t.send("POST", &path, &t.admin(), Some(items)).await;
    assert_eq!((s, b), (200, json!({"message": "Folder permissions updated", "id": id, "title": title})));
    let (_, b) = t.send("GET", &path, &t.admin(), None).await;
    assert_eq!(redact(&b, &["created", "updated", "slug", "url"]), json!([row("Viewer", 2, "Edit")]));
    let (_, f) = t.send("GET", &format!("/api/folders/{uid}"), &t.admin(), None).await;
    assert_eq!(f["hasAcl"], json!(true));
    // Now an Editor key has no row: folder_service.go:106-110 refuses the view.
    let editor = t.key("Editor").await;
    let (s, b) = t.send("GET", &format!("/api/folders/{uid}"), &editor, None).await;
    assert_eq!((s, b), (403, access_denied()));
    // Empty items leave an empty ACL, not the defaults (database.go:190 deletes, nothing inserted).
    let (s, _) = t.send("POST", &path, &t.admin(), Some(json!({"items": []}))).await;
    assert_eq!(s, 200);
    let (_, b) = t.send("GET", &path, &t.admin(), None).await;
    assert_eq!(b, json!([]));
    // So do `null` items and a body without them.
    let (s, _) = t.send("POST", &path, &t.admin(), Some(json!({"items": null}))).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn permission_errors_with_swapped_texts() {
    let t = Target::new().await;
    let (uid, _, _) = t.folder().await;
    let path = format!("/api/folders/{uid}/permissions");
    let admin = t.admin();
    let post = |items: Value| t.send("POST", &path, &admin, Some(json!({"items": items})));
    // pkg/api/dashboard_permission.go:199-200 → folder_permission.go:66 response.Error(400, err.Error(), err);
    // pkg/models/dashboard_acl.go:32 ErrPermissionsWithUserAndTeamNotAllowed =
    // errors.New("team and user permissions cannot have an associated role")
    assert_eq!(
        post(json!([{"userId": 1, "teamId": 1, "permission": 1}])).await,
        (400, msg_trace("team and user permissions cannot have an associated role"))
    );
    // pkg/api/dashboard_permission.go:203-204; pkg/models/dashboard_acl.go:31
    // ErrPermissionsWithRoleNotAllowed = errors.New("permissions cannot have both a user and team")
    assert_eq!(
        post(json!([{"userId": 1, "role": "Viewer", "permission": 1}])).await,
        (400, msg_trace("permissions cannot have both a user and team"))
    );
    // pkg/models/org_user.go:77: "" decodes to Viewer, so the role is not nil.
    assert_eq!(
        post(json!([{"teamId": 3, "role": "", "permission": 1}])).await,
        (400, msg_trace("permissions cannot have both a user and team"))
    );
    // A `null` role leaves the pointer nil.
    assert_eq!(post(json!([{"teamId": 3, "role": null, "permission": 1}])).await.0, 200);
    // database.go:196-197 ErrDashboardAclInfoMissing → folder_permission.go:129-137 (409, with err);
    // pkg/models/dashboard_acl.go:29 "user id and team id cannot both be empty for a folder permission"
    assert_eq!(
        post(json!([{"permission": 1}])).await,
        (409, msg_trace("user id and team id cannot both be empty for a folder permission"))
    );
    assert_eq!(
        post(json!([null])).await,
        (409, msg_trace("user id and team id cannot both be empty for a folder permission"))
    );
    // guardian.go:184-186 ErrGuardianPermissionExists → folder_permission.go:106-108;
    // guardian.go:14 errors.New("permission already exists")
    assert_eq!(
        post(json!([{"role": "Viewer", "permission": 1}, {"role": "Viewer", "permission": 2}])).await,
        (400, msg_trace("permission already exists"))
    );
    assert_eq!(
        post(json!([{"userId": 7, "permission": 1}, {"userId": 7, "permission": 4}])).await,
        (400, msg_trace("permission already exists"))
    );
    assert_eq!(
        post(json!([{"teamId": 7, "permission": 1}, {"teamId": 7, "permission": 4}])).await,
        (400, msg_trace("permission already exists"))
    );
    // guardian.go:175-181: the implicit Admin-role entry.
    assert_eq!(post(json!([{"role": "Admin", "permission": 4}])).await, (400, msg_trace("permission already exists")));
    // An empty role is Viewer: a duplicate of a Viewer item.
    assert_eq!(
        post(json!([{"role": "", "permission": 1}, {"role": "Viewer", "permission": 2}])).await,
        (400, msg_trace("permission already exists"))
    );
    // pkg/models/org_user.go:72-74 rejects other values while decoding: folder_permission.go:62-63
    // response.Error(http.StatusBadRequest, "bad request data", err)
    assert_eq!(post(json!([{"role": "Boss", "permission": 1}])).await, (400, msg_trace("bad request data")));
    assert_eq!(post(json!([{"role": "viewer", "permission": 1}])).await, (400, msg_trace("bad request data")));
    assert_eq!(post(json!([{"role": 1, "permission": 1}])).await, (400, msg_trace("bad request data")));
    assert_eq!(post(json!([{"userId": "1", "permission": 1}])).await, (400, msg_trace("bad request data")));
    // Validation comes before the folder lookup (folder_permission.go:65 before :69).
    let (s, b) = t
        .send(
            "POST",
            "/api/folders/nope-nope/permissions",
            &t.admin(),
            Some(json!({"items": [{"userId": 1, "teamId": 1}]})),
        )
        .await;
    assert_eq!((s, b), (400, msg_trace("team and user permissions cannot have an associated role")));
    // folder_permission.go:69-71 and :18-21: ErrFolderNotFound.
    let (s, b) = t.send("POST", "/api/folders/nope-nope/permissions", &t.admin(), Some(json!({"items": []}))).await;
    assert_eq!((s, b), (404, not_found()));
    let (s, b) = t.send("GET", "/api/folders/nope-nope/permissions", &t.admin(), None).await;
    assert_eq!((s, b), (404, not_found()));
    // folder_permission.go:26-27 and :80-81: apierrors.ToFolderErrorResponse(models.ErrFolderAccessDenied)
    let editor = t.key("Editor").await;
    let (s, b) = t.send("GET", &path, &editor, None).await;
    assert_eq!((s, b), (403, access_denied()));
    let (s, b) = t.send("POST", &path, &editor, Some(json!({"items": []}))).await;
    assert_eq!((s, b), (403, access_denied()));
}

#[tokio::test]
async fn permission_items_decode_as_go_does() {
    let t = Target::new().await;
    let (uid, _, _) = t.folder().await;
    let path = format!("/api/folders/{uid}/permissions");
    // Field names match without regard to case; an empty role is Viewer (org_user.go:77); the
    // permission is stored as sent, with no name for values that are not 1, 2 or 4.
    let items = json!({"Items": [{"ROLE": "", "Permission": 3}, {"role": "Editor", "permission": 2}]});
    let (s, b) = t.send("POST", &path, &t.admin(), Some(items)).await;
    assert_eq!(s, 200, "{b}");
    let (_, rows) = t.send("GET", &path, &t.admin(), None).await;
    let got: Vec<(Value, Value, Value)> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["role"].clone(), r["permission"].clone(), r["permissionName"].clone()))
        .collect();
    assert_eq!(got, vec![(json!("Viewer"), json!(3), json!("")), (json!("Editor"), json!(2), json!("Edit"))]);
}

#[tokio::test]
async fn user_and_team_rows_and_folder_admins() {
    use grafana8_emulator::{Role, Seed, SeedTeam, SeedUser};
    let user = |login: &str| SeedUser { email: Some(format!("{login}@example.com")), ..seed_user(login, Role::Viewer) };
    let team = SeedTeam { name: "SRE Team".into(), email: String::new(), org: 1, members: vec!["bob".into()] };
    let seed = Seed { users: vec![user("alice"), user("bob")], teams: vec![team], ..Seed::default() };
    let Some(t) = Target::seeded(seed).await else {
        return; // Users and teams are seeded; the real server would need its admin API.
    };
    let (uid, _, _) = t.folder().await;
    let (_, users) = t.send("GET", "/api/org/users/lookup?query=alice", &t.admin(), None).await;
    let alice_id = users[0]["userId"].as_i64().expect("alice");
    let (_, teams) = t.send("GET", "/api/teams/search?name=SRE%20Team", &t.admin(), None).await;
    assert_eq!(teams["totalCount"], json!(1));
    let team_id = teams["teams"][0]["id"].as_i64().expect("team");
    let path = format!("/api/folders/{uid}/permissions");
    let items = json!({"items": [{"userId": alice_id, "permission": 4}, {"teamId": team_id, "permission": 2}]});
    assert_eq!(t.send("POST", &path, &t.admin(), Some(items)).await.0, 200);
    let (_, rows) = t.send("GET", &path, &t.admin(), None).await;
    let rows = redact(&rows, &["created", "updated", "folderId", "uid", "title", "slug", "url"]);
    assert_eq!(rows[0]["userLogin"], json!("alice"));
    assert_eq!(rows[0]["userEmail"], json!("alice@example.com"));
    assert_eq!(rows[0]["teamAvatarUrl"], json!(""));
    assert!(rows[0].get("role").is_none());
    assert_eq!((rows[1]["team"].clone(), rows[1]["permissionName"].clone()), (json!("SRE Team"), json!("Edit")));
    // A team without email gets the avatar of its name stripped of non-alphanumerics.
    assert_eq!(rows[1]["teamAvatarUrl"], teams["teams"][0]["avatarUrl"]);
    assert_eq!(rows[1]["userAvatarUrl"], json!(""));
    // alice (a Viewer) administers the folder through her row; bob edits through his team.
    let alice = crate::support::Cred::Basic("alice".into(), "pw".into());
    let bob = crate::support::Cred::Basic("bob".into(), "pw".into());
    let (s, f) = t.send("GET", &format!("/api/folders/{uid}"), &alice, None).await;
    assert_eq!((s, f["canAdmin"].clone(), f["canSave"].clone()), (200, json!(true), json!(true)));
    assert_eq!(t.send("GET", &path, &alice, None).await.0, 200);
    let (s, f) = t.send("GET", &format!("/api/folders/{uid}"), &bob, None).await;
    assert_eq!((s, f["canAdmin"].clone(), f["canEdit"].clone()), (200, json!(false), json!(true)));
    assert_eq!(t.send("GET", &path, &bob, None).await, (403, access_denied()));
    // A Viewer finds only the teams it belongs to.
    let (_, mine) = t.send("GET", "/api/teams/search", &bob, None).await;
    assert_eq!(mine["totalCount"], json!(1));
    let (_, none) = t.send("GET", "/api/teams/search", &alice, None).await;
    assert_eq!(none["totalCount"], json!(0));
}

#[tokio::test]
async fn overwrite_with_a_clashing_title_saves_onto_the_other_folder() {
    let t = Target::new().await;
    let (a_uid, a_title, _) = t.folder().await;
    let (b_uid, b_title, b_id) = t.folder().await;
    // database.go:379-382: overwrite takes the clashing folder's id, uid and version.
    let new_title = b_title.to_uppercase();
    let (s, f) = t
        .send("PUT", &format!("/api/folders/{a_uid}"), &t.admin(), Some(json!({"title": new_title, "overwrite": true})))
        .await;
    assert_eq!(s, 200, "{f}");
    assert_eq!(
        (f["uid"].clone(), f["id"].clone(), f["title"].clone(), f["version"].clone()),
        (json!(b_uid), json!(b_id), json!(new_title), json!(2))
    );
    let (_, a) = t.send("GET", &format!("/api/folders/{a_uid}"), &t.admin(), None).await;
    assert_eq!((a["title"].clone(), a["version"].clone()), (json!(a_title), json!(1)));
}

#[tokio::test]
async fn deleting_a_folder_deletes_its_dashboards_without_a_word() {
    let t = Target::new().await;
    let (uid, title, id) = t.folder().await;
    let dashboard = json!({"dashboard": {"title": unique("held")}, "folderUid": uid});
    let (s, b) = t.send("POST", "/api/dashboards/db", &t.admin(), Some(dashboard)).await;
    assert_eq!(s, 200, "{b}");
    let dashboard_uid = b["uid"].as_str().expect("uid").to_owned();
    // pkg/api/folder.go:92-110: no check of what the folder holds besides library elements in
    // use; database.go:717-718 `DELETE FROM dashboard WHERE folder_id = ?` takes its dashboards.
    let (s, b) = t.send("DELETE", &format!("/api/folders/{uid}"), &t.admin(), None).await;
    assert_eq!((s, b), (200, json!({"title": title, "message": format!("Folder {title} deleted"), "id": id})));
    // pkg/api/dashboard.go:243 (getDashboardHelper): the held dashboard went with it.
    assert_eq!(
        t.send("GET", &format!("/api/dashboards/uid/{dashboard_uid}"), &t.admin(), None).await,
        (404, msg_trace("Dashboard not found"))
    );
}

/// The Python original deletes a folder with a form body (`forceDeleteRules=False`) that the
/// route ignores, and then sends its next request on the same connection. Grafana's Go
/// net/http server reads an unread body to the end before the next request (net/http
/// server.go, `finishRequest`), so the connection stays usable; a server that answered first
/// and closed the connection made that client fail with "Remote end closed connection without
/// response". Here the body is sent only after a pause, and the connection must still carry
/// the next request.
#[tokio::test]
async fn a_body_the_route_ignores_leaves_the_connection_usable() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = Target::new().await;
    let (uid, _, _) = t.folder().await;
    let address = t.base.trim_start_matches("http://").to_owned();
    let mut connection = tokio::net::TcpStream::connect(&address).await.expect("connects");
    // admin:<password>, as basic auth.
    let credentials = base64_basic(&format!("admin:{}", t.admin_password));
    let body = "forceDeleteRules=False";
    let head = format!(
        "DELETE /api/folders/{uid} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    connection.write_all(head.as_bytes()).await.expect("headers written");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    connection.write_all(body.as_bytes()).await.expect("body written");
    let first = read_response(&mut connection).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let next = format!("GET /api/health HTTP/1.1\r\nHost: {address}\r\n\r\n");
    connection.write_all(next.as_bytes()).await.expect("the connection takes the next request");
    let second = read_response(&mut connection).await;
    assert!(second.starts_with("HTTP/1.1 200"), "the same connection answers the next request: {second:?}");

    async fn read_response(connection: &mut tokio::net::TcpStream) -> String {
        // One response: headers, then Content-Length bytes.
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
                    .and_then(|value| value.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if seen.len() >= end + 4 + length {
                    return text;
                }
            }
            match tokio::time::timeout(std::time::Duration::from_secs(5), connection.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return String::from_utf8_lossy(&seen).into_owned(),
                Ok(Ok(read)) => seen.extend_from_slice(&buffer[..read]),
            }
        }
    }

    fn base64_basic(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(text)
    }
}
