//! Annotations: pkg/api/annotations.go (routes at pkg/api/api.go:450-459), the repository
//! pkg/services/sqlstore/annotation.go, pkg/api/dtos/annotations.go,
//! pkg/services/annotations/annotations.go and pkg/models/tags.go, at v8.5.4, RBAC off.
//!
//! Every annotation a test makes carries a tag unique to the test, and lists are read with
//! it, so that the tests can share a server.

use crate::support::{Target, msg, msg_trace, redact, unique};
use serde_json::{Value, json};

const ANNOTATIONS: &str = "/api/annotations";

fn path(id: i64) -> String {
    format!("{ANNOTATIONS}/{id}")
}

/// POSTs an annotation as the admin: 200 `{"id", "message": "Annotation added"}`
/// (annotations.go:98-101, `util.DynMap`, keys sorted).
async fn create(t: &Target, body: Value) -> i64 {
    let (s, b) = t.send("POST", ANNOTATIONS, &t.admin(), Some(body)).await;
    assert_eq!((s, &b["message"]), (200, &json!("Annotation added")), "{b}");
    b["id"].as_i64().expect("id")
}

async fn list(t: &Target, query: &str) -> Vec<Value> {
    let (s, b) = t.send("GET", &format!("{ANNOTATIONS}?{query}"), &t.admin(), None).await;
    assert_eq!(s, 200, "{b}");
    b.as_array().expect("a list").clone()
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(|a| a["id"].as_i64().unwrap_or(0)).collect()
}

#[tokio::test]
async fn an_annotation_reads_back_as_find_writes_it() {
    let t = Target::new().await;
    let tag = unique("shape");
    let body = json!({"time": 2_000_000, "timeEnd": 1_000_000, "text": "deploy <v2> & more",
                      "tags": [tag, " env : prod ", "env:prod", "a:b:c", "", "solo", "solo"],
                      "data": {"b": 1, "a": {"z": 1.5, "y": [true]}}});
    let id = create(&t, body).await;
    let got = list(&t, &format!("tags={tag}")).await;
    assert_eq!(got.len(), 1, "{got:?}");
    // annotations.ItemDTO (annotations/annotations.go) in its field order; the tags as
    // sqlstore/annotation.go:45-46 stores them (models/tags.go `ParseTagPairs`: split at ':',
    // the first two parts trimmed of spaces, empty keys and repeats dropped; `JoinTagPairs`);
    // the times swapped by `validateTimeRange` (:19-33); login and email from the user join,
    // the avatar set by annotations.go:43-47; `data` with its keys sorted (simplejson's
    // `Encode`); no alert, so `alertId` 0 and empty states.
    assert_eq!(
        redact(&got[0], &["created", "updated", "avatarUrl"]),
        json!({"id": id, "alertId": 0, "alertName": "", "dashboardId": 0, "panelId": 0, "userId": 1,
               "newState": "", "prevState": "", "created": "<_>", "updated": "<_>",
               "time": 1_000_000, "timeEnd": 2_000_000, "text": "deploy <v2> & more",
               "tags": [tag, "env:prod", "a:b", "solo"], "login": "admin", "email": "admin@localhost",
               "avatarUrl": "<_>", "data": {"a": {"y": [true], "z": 1.5}, "b": 1}})
    );
    let keys: Vec<&str> = got[0].as_object().expect("an object").keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "alertId",
            "alertName",
            "dashboardId",
            "panelId",
            "userId",
            "newState",
            "prevState",
            "created",
            "updated",
            "time",
            "timeEnd",
            "text",
            "tags",
            "login",
            "email",
            "avatarUrl",
            "data"
        ]
    );
    assert_eq!(got[0]["created"], got[0]["updated"]);
    assert!(got[0]["avatarUrl"].as_str().is_some_and(|a| a.starts_with("/avatar/") && a.len() == 40));
    // Without times the start is the creation time (:49-51) and the end the start (:20-25);
    // without data the column holds "" and simplejson's `FromDB` reads an empty object; an
    // API key has no user, so no login, email or avatar.
    let key = t.key("Editor").await;
    let (s, b) = t.send("POST", ANNOTATIONS, &key, Some(json!({"text": "now", "tags": [tag]}))).await;
    assert_eq!(s, 200, "{b}");
    let got = list(&t, &format!("tags={tag}")).await;
    let now = got.iter().find(|a| a["text"] == "now").expect("the second annotation");
    assert_eq!((&now["time"], &now["timeEnd"]), (&now["created"], &now["created"]));
    assert_eq!(
        (&now["userId"], &now["login"], &now["email"], &now["avatarUrl"], &now["data"], &now["tags"]),
        (&json!(0), &json!(""), &json!(""), &json!(""), &json!({}), &json!([tag]))
    );
}

#[tokio::test]
async fn posting_needs_text_and_the_right_to_edit() {
    let t = Target::new().await;
    let admin = t.admin();
    let post = |cred: crate::support::Cred, b: Value| {
        let t = &t;
        async move { t.send("POST", ANNOTATIONS, &cred, Some(b)).await }
    };
    // annotations.go:72-75: `response.Error(400, "Failed to save annotation", err)`.
    assert_eq!(post(admin.clone(), json!({"text": ""})).await, (400, msg_trace("Failed to save annotation")));
    assert_eq!(post(admin.clone(), json!({"tags": ["x"]})).await, (400, msg_trace("Failed to save annotation")));
    // annotations.go:62-64: binding failures (an int64 given a fraction or a string, a tag that
    // is not a string) are 400 "bad request data".
    let bad = (400, msg_trace("bad request data"));
    assert_eq!(post(admin.clone(), json!({"text": "x", "time": 1.5})).await, bad.clone());
    assert_eq!(post(admin.clone(), json!({"text": "x", "dashboardId": "1"})).await, bad.clone());
    assert_eq!(post(admin.clone(), json!({"text": "x", "tags": [1]})).await, bad.clone());
    // annotations.go:66-68 `canCreateAnnotation` (:446-463): an org annotation needs the Editor
    // role; a dashboard's needs the guardian's `CanEdit`, which nothing but the Admin role
    // passes for a dashboard id that does not exist. The refusal is api/dashboard.go:45-50
    // `dashboardGuardianResponse(nil)`: 403 "Access denied to this dashboard", no trace id.
    let denied = (403, msg("Access denied to this dashboard"));
    let viewer = t.key("Viewer").await;
    let editor = t.key("Editor").await;
    assert_eq!(post(viewer.clone(), json!({"text": "x"})).await, denied.clone());
    // The permission check comes before the text check.
    assert_eq!(post(viewer, json!({"text": ""})).await, denied.clone());
    assert_eq!(post(editor.clone(), json!({"text": "x", "dashboardId": 987_654_321})).await, denied);
    assert_eq!(post(editor, json!({"text": "x", "tags": [unique("ed")]})).await.0, 200);
    assert_eq!(post(admin, json!({"text": "x", "dashboardId": 987_654_321, "tags": [unique("ad")]})).await.0, 200);
}

#[tokio::test]
async fn find_filters_and_orders_by_end_then_start() {
    let t = Target::new().await;
    let tag = unique("find");
    let mk = |time: i64, end: i64, tags: Value| json!({"time": time, "timeEnd": end, "text": "t", "tags": tags});
    let a = create(&t, mk(100, 500, json!([tag, "env:a", "env:b"]))).await;
    let b = create(&t, mk(300, 500, json!([tag, "env:a"]))).await;
    let c = create(&t, mk(200, 900, json!([tag, "team"]))).await;
    let d = create(&t, mk(1000, 1000, json!([tag]))).await;
    // sqlstore/annotation.go:245: `ORDER BY a.org_id, a.epoch_end DESC, a.epoch DESC`.
    assert_eq!(ids(&list(&t, &format!("tags={tag}")).await), [d, c, b, a]);
    // :188-191: with both `from` and `to`, annotations that overlap [from, to].
    assert_eq!(ids(&list(&t, &format!("tags={tag}&from=600&to=950")).await), [c]);
    assert_eq!(ids(&list(&t, &format!("tags={tag}&from=600")).await).len(), 4, "from alone is ignored");
    // :200-230: each annotation's tag rows that match any filter are summed and compared with
    // the number of filters, so `env` (a bare key, any value) does not select an annotation
    // that has two env tags; `matchAny` wants one.
    assert_eq!(ids(&list(&t, &format!("tags={tag}&tags=env")).await), [b]);
    assert_eq!(ids(&list(&t, &format!("tags={tag}&tags=env:a")).await), [b, a]);
    assert_eq!(ids(&list(&t, &format!("tags=env:b&tags=team&tags={tag}&matchAny=true")).await), [d, c, b, a]);
    assert_eq!(ids(&list(&t, &format!("tags=env:b&tags=team&tags={tag}")).await), Vec::<i64>::new());
    // :193-197: `type=alert` wants an alert id; no legacy alert made these.
    assert_eq!(ids(&list(&t, &format!("tags={tag}&type=alert")).await), Vec::<i64>::new());
    assert_eq!(ids(&list(&t, &format!("tags={tag}&type=annotation")).await).len(), 4);
    assert_eq!(ids(&list(&t, &format!("tags={tag}&limit=2")).await), [d, c]);
    assert_eq!(ids(&list(&t, &format!("tags={tag}&userId=1&panelId=0")).await).len(), 4);
    assert_eq!(ids(&list(&t, &format!("tags={tag}&userId=999999")).await), Vec::<i64>::new());
}

#[tokio::test]
async fn put_replaces_and_patch_merges() {
    let t = Target::new().await;
    let tag = unique("update");
    let id = create(&t, json!({"time": 1000, "timeEnd": 2000, "text": "first", "tags": [tag, "keep"]})).await;
    let (tr, tg) = (&t, &tag);
    let read = move || async move { list(tr, &format!("tags={tg}")).await.into_iter().next().unwrap_or(Value::Null) };
    // annotations.go:203 `response.Success("Annotation updated")`; sqlstore/annotation.go
    // :76-127 `Update`: the text always, non-zero times, and the tags column takes the tags as
    // sent (not normalised), while the tag rows used by the filter are the parsed pairs.
    let (s, b) = t
        .send("PUT", &path(id), &t.admin(), Some(json!({"text": "second", "time": 1500, "tags": [tag, " x : y "]})))
        .await;
    assert_eq!((s, b), (200, msg("Annotation updated")));
    let got = read().await;
    assert_eq!(
        (&got["text"], &got["time"], &got["timeEnd"], &got["tags"]),
        (&json!("second"), &json!(1500), &json!(2000), &json!([tag, " x : y "]))
    );
    assert_eq!(ids(&list(&t, &format!("tags={tag}&tags=x:y")).await), [id]);
    // PATCH (:206-257): only a non-empty text, positive times and given tags change; the
    // stored tags are kept.
    let (s, b) = t.send("PATCH", &path(id), &t.admin(), Some(json!({"timeEnd": 5000}))).await;
    assert_eq!((s, b), (200, msg("Annotation patched")));
    let got = read().await;
    assert_eq!(
        (&got["text"], &got["time"], &got["timeEnd"], &got["tags"]),
        (&json!("second"), &json!(1500), &json!(5000), &json!([tag, " x : y "]))
    );
    // A PUT without tags leaves the tag rows and writes a nil slice to the column (xorm
    // v0.8.2 marshals it as `null`), and an empty text is written as given.
    let (s, _) = t.send("PUT", &path(id), &t.admin(), Some(json!({"text": ""}))).await;
    assert_eq!(s, 200);
    let got = read().await;
    assert_eq!((&got["text"], &got["tags"], &got["time"]), (&json!(""), &Value::Null, &json!(1500)));
    // annotations.go:173-176 and :322-325: a non-numeric id is 400 "annotationId is invalid"
    // (with its parse error, so a trace id); :378-380 `findAnnotationByID`: 404 "Annotation
    // not found" (a nil error). PUT binds before it parses the id.
    for method in ["PUT", "PATCH", "DELETE"] {
        let (s, b) = t.send(method, &format!("{ANNOTATIONS}/abc"), &t.admin(), Some(json!({}))).await;
        assert_eq!((s, b), (400, msg_trace("annotationId is invalid")), "{method}");
        let (s, b) = t.send(method, &path(987_654_321), &t.admin(), Some(json!({}))).await;
        assert_eq!((s, b), (404, msg("Annotation not found")), "{method}");
    }
    let (s, b) = t.send("PUT", &format!("{ANNOTATIONS}/abc"), &t.admin(), Some(json!({"time": "x"}))).await;
    assert_eq!((s, b), (400, msg_trace("bad request data")));
    // The per-method routing of Grafana sends a PUT to /graphite to the id route.
    let (s, b) = t.send("PUT", &format!("{ANNOTATIONS}/graphite"), &t.admin(), Some(json!({}))).await;
    assert_eq!((s, b), (400, msg_trace("annotationId is invalid")));
}

#[tokio::test]
async fn deleting_needs_the_right_to_edit() {
    let t = Target::new().await;
    let tag = unique("delete");
    let id = create(&t, json!({"text": "x", "tags": [tag]})).await;
    // annotations.go:333-335 `canSaveAnnotation` (:349-358): an org annotation needs the
    // Editor role.
    let viewer = t.key("Viewer").await;
    assert_eq!(t.send("DELETE", &path(id), &viewer, None).await, (403, msg("Access denied to this dashboard")));
    assert_eq!(
        t.send("PUT", &path(id), &viewer, Some(json!({"text": "y"}))).await,
        (403, msg("Access denied to this dashboard"))
    );
    // Viewers read annotations (api.go:450, `reqSignedIn`).
    let (s, b) = t.send("GET", &format!("{ANNOTATIONS}?tags={tag}"), &viewer, None).await;
    assert_eq!((s, b.as_array().map(Vec::len)), (200, Some(1)));
    let (s, b) = t.send("DELETE", &path(id), &t.admin(), None).await;
    assert_eq!((s, b), (200, msg("Annotation deleted")));
    assert_eq!(list(&t, &format!("tags={tag}")).await, Vec::<Value>::new());
    assert_eq!(t.send("DELETE", &path(id), &t.admin(), None).await, (404, msg("Annotation not found")));
}

#[tokio::test]
async fn a_dashboards_annotations_go_with_it() {
    let t = Target::new().await;
    let tag = unique("dash");
    let (s, d) = t
        .send("POST", "/api/dashboards/db", &t.admin(), Some(json!({"dashboard": {"title": unique("Annotated")}})))
        .await;
    assert_eq!(s, 200, "{d}");
    let (dash_id, uid) = (d["id"].as_i64().expect("id"), d["uid"].as_str().expect("uid").to_string());
    let id = create(&t, json!({"dashboardId": dash_id, "panelId": 2, "text": "on a panel", "tags": [tag]})).await;
    let got = list(&t, &format!("tags={tag}&dashboardId={dash_id}&panelId=2")).await;
    assert_eq!((ids(&got), &got[0]["dashboardId"], &got[0]["panelId"]), (vec![id], &json!(dash_id), &json!(2)));
    // An Editor can edit the dashboard (the default ACL), so may write its annotations.
    let editor = t.key("Editor").await;
    let (s, _) = t.send("PATCH", &path(id), &editor, Some(json!({"text": "edited"}))).await;
    assert_eq!(s, 200);
    // pkg/services/dashboards/database/database.go:712: deleting the dashboard deletes them.
    assert_eq!(t.send("DELETE", &format!("/api/dashboards/uid/{uid}"), &t.admin(), None).await.0, 200);
    assert_eq!(list(&t, &format!("tags={tag}")).await, Vec::<Value>::new());
}

#[tokio::test]
async fn graphite_annotations() {
    let t = Target::new().await;
    let tag = unique("graphite");
    let admin = t.admin();
    let post = |b: Value| t.send("POST", "/api/annotations/graphite", &admin, Some(b));
    // annotations.go:112-165: `when` in seconds, `what` and `data` joined by a line feed,
    // `tags` a space-separated string or a list of strings.
    let (s, b) =
        post(json!({"what": "deploy", "data": "v2", "when": 1_600_000_000, "tags": format!("{tag} env:prod")})).await;
    assert_eq!((s, &b["message"]), (200, &json!("Graphite annotation added")), "{b}");
    let got = list(&t, &format!("tags={tag}")).await;
    assert_eq!(
        (&got[0]["id"], &got[0]["text"], &got[0]["time"], &got[0]["timeEnd"], &got[0]["tags"]),
        (
            &b["id"],
            &json!("deploy\nv2"),
            &json!(1_600_000_000_000_i64),
            &json!(1_600_000_000_000_i64),
            &json!([tag, "env:prod"])
        )
    );
    let (s, _) = post(json!({"what": "list", "tags": [tag, "x"]})).await;
    assert_eq!(s, 200);
    // :119-122, :139-147: no `what`, a non-string tag, or tags of another type (absent
    // included) are 400 "Failed to save Graphite annotation".
    let failed = (400, msg_trace("Failed to save Graphite annotation"));
    assert_eq!(post(json!({"tags": "a"})).await, failed.clone());
    assert_eq!(post(json!({"what": "x", "tags": [1]})).await, failed.clone());
    assert_eq!(post(json!({"what": "x"})).await, failed.clone());
    assert_eq!(post(json!({"what": "x", "tags": {"a": 1}})).await, failed);
    // api.go:458: `reqEditorRole`, whose refusal is pkg/middleware/auth.go `accessForbidden`.
    let viewer = t.key("Viewer").await;
    let (s, b) = t.send("POST", "/api/annotations/graphite", &viewer, Some(json!({"what": "x", "tags": ""}))).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
}

#[tokio::test]
async fn annotation_tags_and_mass_delete() {
    let t = Target::new().await;
    let tag = unique("Tags");
    for tags in [json!([tag, "env:prod"]), json!([tag, "env:dev"]), json!([tag])] {
        create(&t, json!({"text": "x", "tags": tags})).await;
    }
    // annotations.go:388-402 and sqlstore/annotation.go:325-375 `FindTags`: counted per key and
    // value, `LIKE %tag%` (SQLite's, without regard to ASCII case), ordered by key and value.
    let (s, b) = t.send("GET", &format!("/api/annotations/tags?tag={}", tag.to_lowercase()), &t.admin(), None).await;
    assert_eq!((s, b), (200, json!({"result": {"tags": [{"tag": tag, "count": 3}]}})));
    // api.go:451 `reqOrgAdmin`; annotations.go:267-270: a dashboard id without a panel id is
    // 400 "bad request data"; then sqlstore `Delete` by annotation id (:295-306).
    let editor = t.key("Editor").await;
    let (s, b) = t.send("POST", "/api/annotations/mass-delete", &editor, Some(json!({}))).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
    let (s, b) = t.send("POST", "/api/annotations/mass-delete", &t.admin(), Some(json!({"dashboardId": 1}))).await;
    assert_eq!((s, b), (400, msg_trace("bad request data")));
    let first = ids(&list(&t, &format!("tags={tag}")).await)[0];
    let (s, b) = t.send("POST", "/api/annotations/mass-delete", &t.admin(), Some(json!({"annotationId": first}))).await;
    assert_eq!((s, b), (200, msg("Annotations deleted")));
    assert_eq!(list(&t, &format!("tags={tag}")).await.len(), 2);
}

#[tokio::test]
async fn a_server_admin_who_is_a_viewer_in_the_org_may_write_org_annotations() {
    let t = Target::new().await;
    // A new user joins org 1 as Viewer; made a server admin it keeps that org role.
    let u = t.user().await;
    let (s, b) = t
        .send(
            "PUT",
            &format!("/api/admin/users/{}/permissions", u.id),
            &t.admin(),
            Some(json!({"isGrafanaAdmin": true})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // annotations.go:460 `canCreateAnnotation` for an org annotation (dashboardId 0) is
    // `c.SignedInUser.HasRole(models.ROLE_EDITOR)`, and pkg/models/user.go:219-222 `HasRole`
    // answers true for any server admin.
    let tag = unique("admin-viewer");
    let (s, b) = t.send("POST", ANNOTATIONS, &u.cred(), Some(json!({"text": "deploy", "tags": [tag]}))).await;
    assert_eq!((s, &b["message"]), (200, &json!("Annotation added")), "{b}");
    // A plain Viewer is refused: annotations.go:67 `dashboardGuardianResponse(err)` with a nil
    // err (pkg/api/dashboard.go:45-49): 403 "Access denied to this dashboard", no traceID.
    let viewer = t.user().await;
    let (s, b) = t.send("POST", ANNOTATIONS, &viewer.cred(), Some(json!({"text": "deploy", "tags": [tag]}))).await;
    assert_eq!((s, b), (403, msg("Access denied to this dashboard")));
}
