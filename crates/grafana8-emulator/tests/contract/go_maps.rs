//! Answers that Grafana builds as `util.DynMap` (a Go map) and writes with `response.JSON`:
//! encoding/json sorts a map's keys, whatever order the source lists them in. The clients see
//! these after every write (community.grafana's folder, dashboard, data source and notification
//! channel modules).

use crate::support::{Target, unique};
use serde_json::{Value, json};

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default()
}

#[tokio::test]
async fn map_answers_list_their_keys_sorted() {
    let t = Target::new().await;
    let admin = t.admin();

    // pkg/api/datasources.go:269 (added) and :334 (updated): message, id, name, datasource.
    let body = json!({"name": unique("ds"), "type": "prometheus", "access": "proxy", "url": "http://127.0.0.1:9090"});
    let (s, added) = t.send("POST", "/api/datasources", &admin, Some(body.clone())).await;
    assert_eq!((s, keys(&added)), (200, vec!["datasource", "id", "message", "name"]));
    // The data source itself is a struct (dtos.DataSource) and keeps its field order.
    assert_eq!(keys(&added["datasource"])[..3], ["id", "uid", "orgId"]);
    let ds = added["id"].as_i64().expect("id");
    let (s, updated) = t.send("PUT", &format!("/api/datasources/{ds}"), &admin, Some(body)).await;
    assert_eq!((s, keys(&updated)), (200, vec!["datasource", "id", "message", "name"]));
    // pkg/api/datasources.go:196 (by uid) and :230 (by name): message, id.
    let uid = added["datasource"]["uid"].as_str().expect("uid");
    let (s, deleted) = t.send("DELETE", &format!("/api/datasources/uid/{uid}"), &admin, None).await;
    assert_eq!((s, keys(&deleted)), (200, vec!["id", "message"]));

    // pkg/api/dashboard.go:399: status, slug, version, id, uid, url.
    let dash = json!({"dashboard": {"title": unique("dash"), "panels": []}});
    let (s, saved) = t.send("POST", "/api/dashboards/db", &admin, Some(dash)).await;
    assert_eq!((s, keys(&saved)), (200, vec!["id", "slug", "status", "uid", "url", "version"]));
    // pkg/api/dashboard.go:285: title, message, id.
    let uid = saved["uid"].as_str().expect("uid");
    let (s, deleted) = t.send("DELETE", &format!("/api/dashboards/uid/{uid}"), &admin, None).await;
    assert_eq!((s, keys(&deleted)), (200, vec!["id", "message", "title"]));

    // pkg/api/folder_permission.go:143: message, id, title.
    let (uid, _, _) = t.folder().await;
    let items = json!({"items": [{"role": "Editor", "permission": 2}]});
    let (s, perms) = t.send("POST", &format!("/api/folders/{uid}/permissions"), &admin, Some(items)).await;
    assert_eq!((s, keys(&perms)), (200, vec!["id", "message", "title"]));
    // pkg/api/folder.go:106: title, message, id.
    let (s, deleted) = t.send("DELETE", &format!("/api/folders/{uid}"), &admin, None).await;
    assert_eq!((s, keys(&deleted)), (200, vec!["id", "message", "title"]));

    // pkg/api/alerting.go:472 (delete by uid): message, id.
    let channel = json!({"name": unique("ch"), "type": "webhook", "settings": {"url": "http://127.0.0.1/hook"}});
    let (s, c) = t.send("POST", "/api/alert-notifications", &admin, Some(channel)).await;
    assert_eq!(s, 200, "{c}");
    let uid = c["uid"].as_str().expect("uid");
    let (s, deleted) = t.send("DELETE", &format!("/api/alert-notifications/uid/{uid}"), &admin, None).await;
    assert_eq!((s, keys(&deleted)), (200, vec!["id", "message"]));
}
