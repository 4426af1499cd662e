//! The dashboard save path audited rule by rule, restore, tags and versions:
//! pkg/api/dashboard.go, pkg/api/apierrors/dashboard.go,
//! pkg/services/dashboards/manager/dashboard_service.go,
//! pkg/services/dashboards/database/database.go, pkg/models/dashboards.go,
//! pkg/services/alerting/extractor.go and rule.go, pkg/services/sqlstore/dashboard.go and
//! dashboard_version.go at v8.5.4.

use crate::support::{Target, msg, msg_trace, unique};
use serde_json::{Value, json};

async fn save(t: &Target, body: Value) -> (u16, Value) {
    t.send("POST", "/api/dashboards/db", &t.admin(), Some(body)).await
}

async fn get(t: &Target, uid: &str) -> Value {
    let (s, b) = t.send("GET", &format!("/api/dashboards/uid/{uid}"), &t.admin(), None).await;
    assert_eq!(s, 200, "{b}");
    b
}

fn status(code: &str, m: &str) -> Value {
    json!({"status": code, "message": m})
}

#[tokio::test]
async fn binding_errors_and_non_object_dashboards() {
    let t = Target::new().await;
    // models/dashboards.go:373 `Dashboard *simplejson.Json binding:"Required"`: absent or null
    // fails web.Bind (dashboard.go:295 "bad request data").
    assert_eq!(save(&t, json!({"dashboard": null})).await, (400, msg_trace("bad request data")));
    // A field of the wrong type fails the decode.
    assert_eq!(
        save(&t, json!({"dashboard": {"title": "x"}, "overwrite": "yes"})).await,
        (400, msg_trace("bad request data"))
    );
    assert_eq!(
        save(&t, json!({"dashboard": {"title": "x"}, "folderId": "1"})).await,
        (400, msg_trace("bad request data"))
    );
    assert_eq!(
        save(&t, json!({"dashboard": {"title": "x"}, "userId": "me"})).await,
        (400, msg_trace("bad request data"))
    );
    // Any other JSON binds, has no title (MustString), and is refused by
    // dashboard_service.go:79 with models/dashboards.go:57 ErrDashboardTitleEmpty.
    let empty = status("empty-name", "Dashboard title cannot be empty");
    assert_eq!(save(&t, json!({"dashboard": [1, 2]})).await, (400, empty.clone()));
    assert_eq!(save(&t, json!({"dashboard": {"title": 5}})).await, (400, empty));
}

#[tokio::test]
async fn build_save_dashboard_command_rules() {
    let t = Target::new().await;
    let (_, _, folder_id) = t.folder().await;
    // dashboard_service.go:83 with models/dashboards.go:62: no status, 400, so no trace id
    // (apierrors/dashboard.go:23-26).
    assert_eq!(
        save(&t, json!({"dashboard": {"title": unique("f")}, "isFolder": true, "folderId": folder_id})).await,
        (400, msg("A Dashboard Folder cannot be added to another folder"))
    );
    // dashboard_service.go:87 with models/dashboards.go:87.
    assert_eq!(
        save(&t, json!({"dashboard": {"title": "GENERAL"}, "isFolder": true})).await,
        (400, msg("A folder with that name already exists"))
    );
    // The title and uid are trimmed before use (dashboard_service.go:74-76).
    let title = unique("Trimmed");
    let uid = unique("u").replace('.', "");
    let (s, b) = save(&t, json!({"dashboard": {"title": format!("  {title}  "), "uid": format!(" {uid} ")}})).await;
    assert_eq!((s, b["uid"].clone()), (200, json!(uid)));
    assert_eq!(get(&t, &uid).await["dashboard"]["title"], json!(title));
    // database.go:320 with models/dashboards.go:43: id and uid name two different dashboards.
    let (_, other) = save(&t, json!({"dashboard": {"title": unique("other")}})).await;
    assert_eq!(
        save(&t, json!({"dashboard": {"title": unique("x"), "id": other["id"], "uid": uid}})).await,
        (400, msg("A dashboard with the same uid already exists"))
    );
    // database.go:283: an id of no dashboard, and (saveDashboard, database.go:463) a negative
    // id, whose update affects no row: models/dashboards.go:20 with its status.
    assert_eq!(
        save(&t, json!({"dashboard": {"title": unique("x"), "id": -5}})).await,
        (404, status("not-found", "Dashboard not found"))
    );
    // database.go:311 with models/dashboards.go:35: no status and not 400, so a trace id.
    assert_eq!(
        save(&t, json!({"dashboard": {"title": unique("x")}, "folderId": 99999999})).await,
        (404, msg_trace("Folder not found"))
    );
    // database.go:345 with models/dashboards.go:52; with overwrite the stored version wins.
    let body = json!({"dashboard": {"title": title, "uid": uid, "version": 7}});
    assert_eq!(
        save(&t, body.clone()).await,
        (412, status("version-mismatch", "The dashboard has been changed by someone else"))
    );
    let mut ow = body;
    ow["overwrite"] = json!(true);
    assert_eq!(save(&t, ow).await.1["version"], json!(2));
    // 8.5.4 has no title length check (SQLite does not enforce the column's length).
    let (s, _) = save(&t, json!({"dashboard": {"title": unique(&"long ".repeat(60))}})).await;
    assert_eq!(s, 200);
    // The version is read only when an id or uid is given (models/dashboards.go:275).
    let (s, b) = save(&t, json!({"dashboard": {"title": unique("v"), "version": 42}})).await;
    assert_eq!((s, b["version"].clone()), (200, json!(1)));
}

#[tokio::test]
async fn min_refresh_interval_rewrites_short_or_bad_refresh() {
    let t = Target::new().await;
    // dashboard_service.go:209 SaveDashboard: min_refresh_interval = 5s (conf/defaults.ini:342);
    // a shorter or unparsable string becomes "5s", anything else is kept.
    for (refresh, stored) in [
        (json!("1s"), json!("5s")),
        (json!("500ms"), json!("5s")),
        (json!("nonsense"), json!("5s")),
        (json!("5s"), json!("5s")),
        (json!("1m"), json!("1m")),
        (json!("1d"), json!("1d")),
        (json!(false), json!(false)),
        (json!(""), json!("")),
    ] {
        let (s, b) = save(&t, json!({"dashboard": {"title": unique("r"), "refresh": refresh}})).await;
        assert_eq!(s, 200, "{b}");
        let uid = b["uid"].as_str().expect("uid");
        assert_eq!(get(&t, uid).await["dashboard"]["refresh"], stored, "{refresh}");
    }
}

#[tokio::test]
async fn legacy_alerts_in_panels_are_validated() {
    let t = Target::new().await;
    // extractor.go:136 and apierrors/dashboard.go:35: 422 built from the error; rule.go:89
    // prefixes "alert validation error: ".
    let body = json!({"dashboard": {"title": unique("a"), "panels": [{"alert": {"frequency": "1m"}}]}});
    assert_eq!(
        save(&t, body).await,
        (422, msg_trace("alert validation error: A numeric panel id property is missing"))
    );
    // rule.go:34 and :94 through extractor.go:165, with the panel id (rule.go:77).
    let body = json!({"dashboard": {"title": unique("a"), "panels": [{"id": 3, "alert": {"name": "x"}}]}});
    assert_eq!(
        save(&t, body).await,
        (422, msg_trace("alert validation error: \"evaluate every\" field could not be parsed PanelId: 3"))
    );
    // rule.go:31 and :117.
    let body = json!({"dashboard": {"title": unique("a"), "panels": [{"id": 4, "alert": {"frequency": "0m"}}]}});
    assert_eq!(
        save(&t, body).await,
        (422, msg_trace("alert validation error: \"evaluate every\" cannot be zero or below PanelId: 4"))
    );
    // Disabled alerts are skipped (extractor.go:161), and collapsed rows are searched.
    let body = json!({"dashboard": {"title": unique("a"), "panels": [{"id": 5, "alert": {"enabled": false}}]}});
    assert_eq!(save(&t, body).await.0, 200);
    let body = json!({"dashboard": {"title": unique("a"), "panels": [
        {"type": "row", "collapsed": true, "panels": [{"alert": {}}]}]}});
    assert_eq!(
        save(&t, body).await,
        (422, msg_trace("alert validation error: A numeric panel id property is missing"))
    );
}

#[tokio::test]
async fn save_permissions_follow_the_legacy_guardian() {
    let t = Target::new().await;
    let (folder_uid, _, folder_id) = t.folder().await;
    // Editors may only view this folder.
    let items = json!({"items": [{"role": "Editor", "permission": 1}]});
    assert_eq!(t.send("POST", &format!("/api/folders/{folder_uid}/permissions"), &t.admin(), Some(items)).await.0, 200);
    let editor = t.key("Editor").await;
    // dashboard_service.go:134-140: a new dashboard needs CanSave on its folder.
    let (s, b) = t
        .send(
            "POST",
            "/api/dashboards/db",
            &editor,
            Some(json!({"dashboard": {"title": unique("n")}, "folderId": folder_id})),
        )
        .await;
    assert_eq!((s, b), (403, msg_trace("Access denied to save dashboard")));
    // dashboard_service.go:114-115: a move checks CanCreate on the dashboard's own id, which
    // the legacy guardian answers with CanSave on that dashboard (guardian.go:91), so an
    // editor may move a dashboard it can edit into a folder where it cannot create one.
    let (s, d) =
        t.send("POST", "/api/dashboards/db", &editor, Some(json!({"dashboard": {"title": unique("m")}}))).await;
    assert_eq!(s, 200, "{d}");
    let body = json!({"dashboard": {"uid": d["uid"], "title": unique("m"), "version": 1}, "folderId": folder_id});
    let (s, b) = t.send("POST", "/api/dashboards/db", &editor, Some(body)).await;
    assert_eq!((s, b["version"].clone()), (200, json!(2)));
    // Now inside, it inherits the folder's ACL and the editor can no longer save it.
    let body = json!({"dashboard": {"uid": d["uid"], "title": unique("m"), "version": 2}, "folderId": folder_id});
    let (s, b) = t.send("POST", "/api/dashboards/db", &editor, Some(body)).await;
    assert_eq!((s, b), (403, msg_trace("Access denied to save dashboard")));
}

#[tokio::test]
async fn restore_saves_an_old_version_again() {
    let t = Target::new().await;
    let (_, _, folder_id) = t.folder().await;
    let first = unique("First");
    let (_, d) = save(&t, json!({"dashboard": {"title": first, "tags": ["a"]}, "folderId": folder_id})).await;
    let (id, uid) = (d["id"].as_i64().expect("id"), d["uid"].as_str().expect("uid").to_string());
    let (s, _) =
        save(&t, json!({"dashboard": {"uid": uid, "title": unique("Second"), "version": 1}, "folderId": folder_id}))
            .await;
    assert_eq!(s, 200);
    let path = format!("/api/dashboards/id/{id}/restore");
    let (s, b) = t.send("POST", &path, &t.admin(), Some(json!({"version": 1}))).await;
    // dashboard.go:695 returns postDashboard's answer (dashboard.go:399), version 3, the old title's slug.
    let slug = first.to_lowercase();
    assert_eq!(
        (s, b),
        (
            200,
            json!({"status": "success", "slug": slug, "version": 3, "id": id, "uid": uid, "url": format!("/d/{uid}/{slug}")})
        )
    );
    let g = get(&t, &uid).await;
    assert_eq!(
        (g["dashboard"]["title"].clone(), g["dashboard"]["tags"].clone(), g["meta"]["folderId"].clone()),
        (json!(first), json!(["a"]), json!(folder_id))
    );
    // dashboard.go:524: the list says "Restored from version 1".
    let (_, v) = t.send("GET", &format!("/api/dashboards/id/{id}/versions"), &t.admin(), None).await;
    assert_eq!(
        (v[0]["version"].clone(), v[0]["restoredFrom"].clone(), v[0]["parentVersion"].clone(), v[0]["message"].clone()),
        (json!(3), json!(1), json!(2), json!("Restored from version 1"))
    );
    // dtos/dashboard.go:75 `Version int binding:"Required"` (dashboard.go:661).
    assert_eq!(t.send("POST", &path, &t.admin(), Some(json!({}))).await, (400, msg_trace("bad request data")));
    // dashboard.go:665.
    assert_eq!(
        t.send("POST", "/api/dashboards/id/x/restore", &t.admin(), Some(json!({"version": 1}))).await,
        (400, msg_trace("dashboardId is invalid"))
    );
    // dashboard.go:243.
    assert_eq!(
        t.send("POST", "/api/dashboards/id/99999999/restore", &t.admin(), Some(json!({"version": 1}))).await,
        (404, msg_trace("Dashboard not found"))
    );
    // dashboard.go:680: built without the error.
    assert_eq!(
        t.send("POST", &path, &t.admin(), Some(json!({"version": 99}))).await,
        (404, msg("Dashboard version not found"))
    );
    // dashboard.go:49.
    let viewer = t.key("Viewer").await;
    assert_eq!(
        t.send("POST", &path, &viewer, Some(json!({"version": 1}))).await,
        (403, msg("Access denied to this dashboard"))
    );
    // The command has IsFolder false, so a folder's version is refused by database.go:333.
    let (_, _, fid) = t.folder().await;
    assert_eq!(
        t.send("POST", &format!("/api/dashboards/id/{fid}/restore"), &t.admin(), Some(json!({"version": 1}))).await,
        (400, msg("Dashboard cannot be changed to a folder"))
    );
}

#[tokio::test]
async fn tags_count_terms_over_the_org() {
    let t = Target::new().await;
    let p = unique("tag").replace('.', "");
    let (a, b) = (format!("{p}-a"), format!("{p}-b"));
    for tags in [json!([a, b]), json!([b]), json!([b, b]), json!([a, 5])] {
        assert_eq!(save(&t, json!({"dashboard": {"title": unique("t"), "tags": tags}})).await.0, 200);
    }
    let (s, all) = t.send("GET", "/api/dashboards/tags", &t.admin(), None).await;
    assert_eq!(s, 200);
    let mine: Vec<Value> = all
        .as_array()
        .expect("array")
        .iter()
        .filter(|x| x["term"].as_str().is_some_and(|s| s.starts_with(&p)))
        .cloned()
        .collect();
    // sqlstore/dashboard.go:208-215: COUNT(*) per term ORDER BY term; every dashboard_tag row
    // counts (a repeated tag twice), and a tags list with a non-string saves no tag
    // (models/dashboards.go:254 GetTags, MustStringArray).
    assert_eq!(mine, vec![json!({"term": a, "count": 1}), json!({"term": b, "count": 4})]);
    // Every dashboard of the org, whatever the caller may see.
    let viewer = t.key("Viewer").await;
    let (folder_uid, _, folder_id) = t.folder().await;
    let hidden = format!("{p}-hidden");
    assert_eq!(
        save(&t, json!({"dashboard": {"title": unique("h"), "tags": [hidden]}, "folderId": folder_id})).await.0,
        200
    );
    assert_eq!(
        t.send("POST", &format!("/api/folders/{folder_uid}/permissions"), &t.admin(), Some(json!({"items": []})))
            .await
            .0,
        200
    );
    let (_, all) = t.send("GET", "/api/dashboards/tags", &viewer, None).await;
    assert!(all.as_array().expect("array").contains(&json!({"term": hidden, "count": 1})));
}

#[tokio::test]
async fn versions_list_and_single_version_details() {
    let t = Target::new().await;
    let editor = t.key("Editor").await;
    let (s, d) =
        t.send("POST", "/api/dashboards/db", &editor, Some(json!({"dashboard": {"title": unique("k")}}))).await;
    assert_eq!(s, 200);
    let id = d["id"].as_i64().expect("id");
    for v in 1..=3 {
        let body = json!({"dashboard": {"uid": d["uid"], "title": unique("k"), "version": v}});
        assert_eq!(t.send("POST", "/api/dashboards/db", &editor, Some(body)).await.0, 200);
    }
    // sqlstore/dashboard_version.go:50: the list LEFT JOINs the user; an API key's versions
    // (created_by -1) have no login.
    let (_, list) = t.send("GET", &format!("/api/dashboards/id/{id}/versions"), &t.admin(), None).await;
    assert_eq!((list.as_array().map(Vec::len), list[3]["createdBy"].clone()), (Some(4), json!("")));
    assert_eq!(list[3]["message"], json!("Initial save"));
    // dashboard.go:559: the single version says "Anonymous".
    let (_, one) = t.send("GET", &format!("/api/dashboards/id/{id}/versions/1"), &t.admin(), None).await;
    assert_eq!(one["createdBy"], json!("Anonymous"));
    // limit and start (dashboard.go:509): SQLite reads a negative LIMIT as no limit.
    let (_, l) = t.send("GET", &format!("/api/dashboards/id/{id}/versions?limit=2&start=1"), &t.admin(), None).await;
    let versions: Vec<Value> = l.as_array().expect("array").iter().map(|v| v["version"].clone()).collect();
    assert_eq!(versions, vec![json!(3), json!(2)]);
    let (_, l) = t.send("GET", &format!("/api/dashboards/id/{id}/versions?limit=-1"), &t.admin(), None).await;
    assert_eq!(l.as_array().map(Vec::len), Some(4));
    // dashboard.go:548: ParseInt(.., 10, 32) with its error ignored clamps to the int32 range.
    assert_eq!(
        t.send("GET", &format!("/api/dashboards/id/{id}/versions/99999999999"), &t.admin(), None).await,
        (500, msg_trace(&format!("Dashboard version 2147483647 not found for dashboardId {id}")))
    );
    // The guardian of a missing dashboard has no ACL rows: only Admins pass CanSave
    // (dashboard.go:502), then the store finds nothing (dashboard.go:514).
    assert_eq!(
        t.send("GET", "/api/dashboards/id/99999999/versions", &editor, None).await,
        (403, msg("Access denied to this dashboard"))
    );
    assert_eq!(
        t.send("GET", "/api/dashboards/id/99999999/versions", &t.admin(), None).await,
        (404, msg_trace("No versions found for dashboardId 99999999"))
    );
}
