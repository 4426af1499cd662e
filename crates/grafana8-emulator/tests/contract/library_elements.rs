//! Library elements and library panels: pkg/services/libraryelements (api.go, database.go,
//! guard.go, models.go, writers.go), pkg/services/librarypanels/librarypanels.go and their
//! callers in pkg/api/dashboard.go and pkg/api/folder.go at v8.5.4.

use crate::support::{Target, msg_trace, redact, unique};
use serde_json::{Value, json};

const PATH: &str = "/api/library-elements";

async fn create(t: &Target, body: Value) -> (u16, Value) {
    t.send("POST", PATH, &t.admin(), Some(body)).await
}

/// Creates a panel element as admin and returns its result object.
async fn panel(t: &Target, folder_id: i64, name: &str) -> Value {
    let body = json!({"folderId": folder_id, "name": name, "kind": 1,
                      "model": {"type": "graph", "title": name, "description": format!("about {name}")}});
    let (s, b) = create(t, body).await;
    assert_eq!(s, 200, "{b}");
    b["result"].clone()
}

async fn save_dashboard(t: &Target, dashboard: Value) -> (u16, Value) {
    t.send("POST", "/api/dashboards/db", &t.admin(), Some(json!({"dashboard": dashboard}))).await
}

fn library_panel(uid: &str, name: &str) -> Value {
    json!({"id": 7, "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0}, "title": "local copy", "type": "graph",
           "libraryPanel": {"uid": uid, "name": name}})
}

#[tokio::test]
async fn create_answers_the_element_with_its_model_synced() {
    let t = Target::new().await;
    let name = unique("Panel");
    let (s, b) = create(
        &t,
        json!({"name": name, "kind": 1, "model": {"type": "stat", "title": "T", "description": "D", "gridPos": {"w": 3}}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (_, me) = t.send("GET", "/api/user", &t.admin(), None).await;
    let admin = json!({"id": "<_>", "name": "admin", "avatarUrl": me["avatarUrl"]});
    assert_eq!(b["result"]["meta"]["createdBy"]["id"], me["id"]);
    let uid = b["result"]["uid"].as_str().expect("uid").to_string();
    // database.go:117-160: the create answer's meta has no folder name or uid, both users are
    // the caller, version 1; syncFieldsWithModel (database.go:40) copies type and description
    // from the model.
    assert_eq!(
        redact(&b, &["id", "created", "updated"]),
        json!({"result": {"id": "<_>", "orgId": 1, "folderId": 0, "uid": uid, "name": name, "kind": 1,
                          "type": "stat", "description": "D",
                          "model": {"description": "D", "gridPos": {"w": 3}, "title": "T", "type": "stat"},
                          "version": 1,
                          "meta": {"folderName": "", "folderUid": "", "connectedDashboards": 0, "created": "<_>",
                                   "updated": "<_>", "createdBy": admin, "updatedBy": admin}}})
    );
    // Read back, an element of General has folderName "General" (database.go:214).
    let (s, g) = t.send("GET", &format!("{PATH}/{uid}"), &t.admin(), None).await;
    assert_eq!(
        (s, g["result"]["meta"]["folderName"].clone(), g["result"]["meta"]["folderUid"].clone()),
        (200, json!("General"), json!(""))
    );
    assert_eq!(g["result"]["model"], b["result"]["model"]);
    // Without type and description in the model, the element's (empty) ones are written into it
    // (database.go:51-60); a variable's model gets the element's name (database.go:46).
    let (_, b) = create(&t, json!({"name": unique("bare"), "kind": 1, "model": {"title": "x"}})).await;
    assert_eq!(b["result"]["model"], json!({"description": "", "title": "x", "type": ""}));
    let var = unique("var");
    let (_, b) = create(&t, json!({"name": var, "kind": 2, "model": {"type": "query"}})).await;
    assert_eq!(b["result"]["model"], json!({"description": "", "name": var, "type": "query"}));
    // An explicit uid is kept.
    let own = unique("le").replace('.', "");
    let (s, b) = create(&t, json!({"uid": own, "name": unique("own"), "kind": 1, "model": {}})).await;
    assert_eq!((s, b["result"]["uid"].clone()), (200, json!(own)));
}

#[tokio::test]
async fn create_validation() {
    let t = Target::new().await;
    let name = unique("dup");
    // models.go:175 `Kind int64 json:"kind" binding:"Required"`: api.go:30 "bad request data".
    assert_eq!(create(&t, json!({"name": name, "model": {}})).await, (400, msg_trace("bad request data")));
    // guard.go:22 errLibraryElementUnSupportedElementKind has no mapping: api.go:147.
    assert_eq!(
        create(&t, json!({"name": name, "kind": 3, "model": {}})).await,
        (500, msg_trace("Failed to create library element"))
    );
    // database.go:102/104 with api.go:142/145.
    assert_eq!(
        create(&t, json!({"name": name, "kind": 1, "model": {}, "uid": "a b"})).await,
        (400, msg_trace("uid contains illegal characters"))
    );
    assert_eq!(
        create(&t, json!({"name": name, "kind": 1, "model": {}, "uid": "u".repeat(41)})).await,
        (400, msg_trace("uid too long, max 40 characters"))
    );
    // database.go:42: json.Unmarshal of a missing or non-object model fails (api.go:147).
    assert_eq!(
        create(&t, json!({"name": name, "kind": 1})).await,
        (500, msg_trace("Failed to create library element"))
    );
    assert_eq!(
        create(&t, json!({"name": name, "kind": 1, "model": [1]})).await,
        (500, msg_trace("Failed to create library element"))
    );
    // A `null` model leaves the map nil and database.go:52 panics: pkg/middleware/recovery.go.
    assert_eq!(
        create(&t, json!({"name": name, "kind": 1, "model": null})).await,
        (
            500,
            json!({"message": "Internal Server Error - Check the Grafana server logs for the detailed error message.",
                   "error": "Server Error"})
        )
    );
    // The unique index (org_id, folder_id, name, kind): database.go:133 with api.go:121.
    assert_eq!(create(&t, json!({"name": name, "kind": 1, "model": {}})).await.0, 200);
    assert_eq!(
        create(&t, json!({"name": name, "kind": 1, "model": {}})).await,
        (400, msg_trace("library element with that name or UID already exists"))
    );
    assert_eq!(create(&t, json!({"name": name, "kind": 2, "model": {}})).await.0, 200);
    // guard.go:36 GetFolderByID: models/folders.go:11 ErrFolderNotFound, api.go:133.
    assert_eq!(
        create(&t, json!({"name": name, "kind": 1, "model": {}, "folderId": 99999999})).await,
        (404, msg_trace("folder not found"))
    );
    // guard.go:32: a Viewer may not write to General; models/folders.go:18, api.go:136.
    let viewer = t.key("Viewer").await;
    let (s, b) = t.send("POST", PATH, &viewer, Some(json!({"name": unique("v"), "kind": 1, "model": {}}))).await;
    assert_eq!((s, b), (403, msg_trace("access denied to folder")));
    // guard.go:28 `user.HasRole(models.ROLE_EDITOR)`, which pkg/models/user.go:219-222 grants to
    // a server admin whatever its org role: a server admin who is a Viewer in org 1 may.
    let u = t.user().await;
    let admin_rights = json!({"isGrafanaAdmin": true});
    let (s, _) = t.send("PUT", &format!("/api/admin/users/{}/permissions", u.id), &t.admin(), Some(admin_rights)).await;
    assert_eq!(s, 200);
    let (s, b) = t.send("POST", PATH, &u.cred(), Some(json!({"name": unique("sa"), "kind": 1, "model": {}}))).await;
    assert_eq!(s, 200, "{b}");
    // guard.go:46: in a folder, CanEdit is needed.
    let (folder_uid, _, folder_id) = t.folder().await;
    let items = json!({"items": [{"role": "Editor", "permission": 1}]});
    assert_eq!(t.send("POST", &format!("/api/folders/{folder_uid}/permissions"), &t.admin(), Some(items)).await.0, 200);
    let editor = t.key("Editor").await;
    let body = json!({"name": unique("e"), "kind": 1, "model": {}, "folderId": folder_id});
    assert_eq!(t.send("POST", PATH, &editor, Some(body)).await, (403, msg_trace("access denied to folder")));
}

#[tokio::test]
async fn get_by_uid_by_name_and_search() {
    let t = Target::new().await;
    let tag = unique("srch").replace('.', "");
    let (_, folder_title, folder_id) = t.folder().await;
    let b = panel(&t, 0, &format!("{tag} b")).await;
    let a = panel(&t, folder_id, &format!("{tag} a")).await;
    let c = panel(&t, 0, &format!("{tag} c")).await;
    let (s, v) = create(&t, json!({"name": format!("{tag} d"), "kind": 2, "model": {"type": "query"}})).await;
    assert_eq!(s, 200);
    let d = v["result"].clone();
    let names = |v: &Value| -> Vec<Value> {
        v["result"]["elements"].as_array().expect("elements").iter().map(|e| e["name"].clone()).collect()
    };
    let admin = t.admin();
    let search = |q: String| {
        let (t, admin, tag) = (&t, &admin, &tag);
        async move { t.send("GET", &format!("{PATH}?searchString={tag}{q}"), admin, None).await }
    };
    // database.go:347 ORDER BY name; writers.go:61-62 LIKE on name or description.
    let (s, r) = search(String::new()).await;
    assert_eq!(s, 200);
    assert_eq!(names(&r), vec![a["name"].clone(), b["name"].clone(), c["name"].clone(), d["name"].clone()]);
    assert_eq!(
        (r["result"]["totalCount"].clone(), r["result"]["page"].clone(), r["result"]["perPage"].clone()),
        (json!(4), json!(1), json!(100))
    );
    assert_eq!(r["result"]["elements"][0]["meta"]["folderName"], json!(folder_title));
    let (_, r) = search("&sortDirection=alpha-desc".into()).await;
    assert_eq!(names(&r)[0], d["name"]);
    let (_, r) = search("&perPage=2&page=2".into()).await;
    assert_eq!((names(&r), r["result"]["totalCount"].clone()), (vec![c["name"].clone(), d["name"].clone()], json!(4)));
    let (_, r) = search("&kind=2".into()).await;
    assert_eq!(names(&r), vec![d["name"].clone()]);
    let (_, r) = search("&typeFilter=query,stat".into()).await;
    assert_eq!(names(&r), vec![d["name"].clone()]);
    let (_, r) = search(format!("&excludeUid={}", b["uid"].as_str().expect("uid"))).await;
    assert_eq!(r["result"]["totalCount"], json!(3));
    let (_, r) = search(format!("&folderFilter={folder_id}")).await;
    assert_eq!(names(&r), vec![a["name"].clone()]);
    // writers.go:100 and :120: "0" includes General, and with no other folder id the
    // folder part of the UNION is not restricted at all.
    let (_, r) = search("&folderFilter=0".into()).await;
    assert_eq!(r["result"]["totalCount"], json!(3));
    assert_eq!(names(&r).len(), 4);
    // writers.go:91: a folder id that does not parse fails the search (api.go:78).
    assert_eq!(search("&folderFilter=x".into()).await, (500, msg_trace("Failed to get library elements")));
    // LIKE matches the description too, with % as a wildcard.
    let (_, r) = search("%20%25".into()).await;
    assert_eq!(r["result"]["totalCount"], json!(4));
    // By name: every visible element of that name (database.go:292).
    let (s, r) = t
        .send(
            "GET",
            &format!("{PATH}/name/{}", c["name"].as_str().expect("name").replace(' ', "%20")),
            &t.admin(),
            None,
        )
        .await;
    assert_eq!(
        (s, r["result"].as_array().map(Vec::len), r["result"][0]["uid"].clone()),
        (200, Some(1), c["uid"].clone())
    );
    // api.go:124 with models.go:141.
    let (s, r) = t.send("GET", &format!("{PATH}/name/{}", unique("none")), &t.admin(), None).await;
    assert_eq!((s, r), (404, msg_trace("library element could not be found")));
    let (s, r) = t.send("GET", &format!("{PATH}/no-such-uid"), &t.admin(), None).await;
    assert_eq!((s, r), (404, msg_trace("library element could not be found")));
}

#[tokio::test]
async fn elements_in_folders_the_caller_cannot_view_are_hidden_but_counted() {
    let t = Target::new().await;
    let tag = unique("hid").replace('.', "");
    let (folder_uid, _, folder_id) = t.folder().await;
    let hidden = panel(&t, folder_id, &format!("{tag} hidden")).await;
    panel(&t, 0, &format!("{tag} open")).await;
    // An empty ACL: only Admins see the folder.
    assert_eq!(
        t.send("POST", &format!("/api/folders/{folder_uid}/permissions"), &t.admin(), Some(json!({"items": []})))
            .await
            .0,
        200
    );
    let viewer = t.key("Viewer").await;
    let (s, r) = t.send("GET", &format!("{PATH}/{}", hidden["uid"].as_str().expect("uid")), &viewer, None).await;
    assert_eq!((s, r), (404, msg_trace("library element could not be found")));
    // database.go:342 filters the elements by permission, but the count query (database.go:389)
    // has no permission filter.
    let (_, r) = t.send("GET", &format!("{PATH}?searchString={tag}"), &viewer, None).await;
    assert_eq!(r["result"]["elements"].as_array().map(Vec::len), Some(1));
    assert_eq!(r["result"]["totalCount"], json!(2));
}

#[tokio::test]
async fn patch_checks_the_version_and_keeps_what_is_not_sent() {
    let t = Target::new().await;
    let (_, _, folder_id) = t.folder().await;
    let el = panel(&t, folder_id, &unique("patch")).await;
    let uid = el["uid"].as_str().expect("uid").to_string();
    let path = format!("{PATH}/{uid}");
    let admin = t.admin();
    let patch = |body: Value| t.send("PATCH", &path, &admin, Some(body));
    // models.go:193/195: kind and version are required.
    assert_eq!(patch(json!({"kind": 1})).await, (400, msg_trace("bad request data")));
    assert_eq!(patch(json!({"version": 1})).await, (400, msg_trace("bad request data")));
    // database.go:450 with api.go:130.
    assert_eq!(
        patch(json!({"kind": 1, "version": 7, "folderId": folder_id})).await,
        (412, msg_trace("the library element has been changed by someone else"))
    );
    let other = panel(&t, 0, &unique("other")).await;
    assert_eq!(
        patch(json!({"kind": 1, "version": 1, "folderId": folder_id, "uid": other["uid"]})).await,
        (400, msg_trace("library element with that name or UID already exists"))
    );
    assert_eq!(
        patch(json!({"kind": 1, "version": 1, "folderId": folder_id, "uid": "bad uid"})).await,
        (400, msg_trace("uid contains illegal characters"))
    );
    assert_eq!(
        t.send("PATCH", &format!("{PATH}/no-such-uid"), &t.admin(), Some(json!({"kind": 1, "version": 1}))).await,
        (404, msg_trace("library element could not be found"))
    );
    // A new name; the model is kept (database.go:485-490) and the version goes up.
    let new_name = unique("renamed");
    let (s, b) = patch(json!({"kind": 1, "version": 1, "folderId": folder_id, "name": new_name})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (
            b["result"]["name"].clone(),
            b["result"]["version"].clone(),
            b["result"]["model"].clone(),
            b["result"]["folderId"].clone()
        ),
        (json!(new_name), json!(2), el["model"].clone(), json!(folder_id))
    );
    // The answer's meta has no folder name (database.go:517-518).
    assert_eq!(b["result"]["meta"]["folderName"], json!(""));
    // A new model syncs type and description into the element.
    let (_, b) = patch(json!({"kind": 1, "version": 2, "folderId": folder_id, "model": {"type": "table"}})).await;
    assert_eq!(
        (b["result"]["type"].clone(), b["result"]["model"].clone()),
        (json!("table"), json!({"description": el["description"], "type": "table"}))
    );
    // models.go:183 `binding:"Default(-1)"` is not applied by 8.5.4's web.Bind (pkg/web/binding.go
    // checks only "Required"), so a PATCH without folderId asks for General (0); the answer says
    // 0, but xorm's Update(&element) (database.go:497) skips zero fields and the row keeps its
    // folder.
    let (s, b) = patch(json!({"kind": 1, "version": 3})).await;
    assert_eq!((s, b["result"]["folderId"].clone(), b["result"]["version"].clone()), (200, json!(0), json!(4)));
    let (_, g) = t.send("GET", &path, &t.admin(), None).await;
    assert_eq!((g["result"]["folderId"].clone(), g["result"]["version"].clone()), (json!(folder_id), json!(4)));
    // A Viewer may not patch in General (guard.go:32).
    let viewer = t.key("Viewer").await;
    let (s, b) = t
        .send(
            "PATCH",
            &format!("{PATH}/{}", other["uid"].as_str().expect("uid")),
            &viewer,
            Some(json!({"kind": 1, "version": 1})),
        )
        .await;
    assert_eq!((s, b), (403, msg_trace("access denied to folder")));
}

#[tokio::test]
async fn dashboards_connect_their_library_panels_and_block_deletion() {
    let t = Target::new().await;
    let name = unique("shared");
    let el = panel(&t, 0, &name).await;
    let uid = el["uid"].as_str().expect("uid").to_string();
    let title = unique("with library panel");
    let (s, d) = save_dashboard(&t, json!({"title": title, "panels": [library_panel(&uid, &name)]})).await;
    assert_eq!(s, 200, "{d}");
    let dash_id = d["id"].as_i64().expect("id");
    let dash_uid = d["uid"].as_str().expect("uid").to_string();
    // librarypanels.go:199 ConnectLibraryPanelsForDashboard after the save (dashboard.go:393).
    let (s, c) = t.send("GET", &format!("{PATH}/{uid}/connections"), &t.admin(), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        redact(&c, &["id", "created", "avatarUrl"]),
        json!({"result": [{"id": "<_>", "kind": 1, "elementId": el["id"], "connectionId": dash_id, "created": "<_>",
                           "createdBy": {"id": "<_>", "name": "admin", "avatarUrl": "<_>"}}]})
    );
    let (_, g) = t.send("GET", &format!("{PATH}/{uid}"), &t.admin(), None).await;
    assert_eq!(g["result"]["meta"]["connectedDashboards"], json!(1));
    // database.go:189 with api.go:139: an element in use cannot be deleted.
    assert_eq!(
        t.send("DELETE", &format!("{PATH}/{uid}"), &t.admin(), None).await,
        (403, msg_trace("the library element has connections"))
    );
    // The stored JSON keeps only id, gridPos and the header (librarypanels.go:153)...
    let (_, v) = t.send("GET", &format!("/api/dashboards/id/{dash_id}/versions/1"), &t.admin(), None).await;
    assert_eq!(
        v["data"]["panels"],
        json!([{"id": 7, "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0}, "libraryPanel": {"uid": uid, "name": name}}])
    );
    // ...and GET fills the panel from the element (librarypanels.go:57).
    let (_, g) = t.send("GET", &format!("/api/dashboards/uid/{dash_uid}"), &t.admin(), None).await;
    let p = &g["dashboard"]["panels"][0];
    assert_eq!(
        (p["type"].clone(), p["title"].clone(), p["id"].clone(), p["gridPos"]["w"].clone()),
        (json!("graph"), json!(name), json!(7), json!(12))
    );
    assert_eq!(
        redact(&p["libraryPanel"], &["created", "updated", "createdBy", "updatedBy"]),
        json!({"uid": uid, "name": name, "type": "graph", "description": format!("about {name}"), "version": 1,
               "meta": {"folderName": "General", "folderUid": "", "connectedDashboards": 1, "created": "<_>",
                        "updated": "<_>", "createdBy": "<_>", "updatedBy": "<_>"}})
    );
    // A panel whose element is not connected gets a placeholder type (librarypanels.go:88):
    // saving with an unknown uid fails to connect (dashboard.go:395) after the dashboard is
    // saved, and the old connections stay.
    let missing = json!({"id": 2, "gridPos": {}, "libraryPanel": {"uid": "nope-nope", "name": "gone"}});
    let (s, b) = save_dashboard(
        &t,
        json!({"uid": dash_uid, "title": title, "version": 1, "panels": [library_panel(&uid, &name), missing]}),
    )
    .await;
    assert_eq!((s, b), (500, msg_trace("Error while connecting library panels")));
    let (_, g) = t.send("GET", &format!("/api/dashboards/uid/{dash_uid}"), &t.admin(), None).await;
    assert_eq!(g["meta"]["version"], json!(2));
    assert_eq!(g["dashboard"]["panels"][1]["type"], json!("Name: \"gone\", UID: \"nope-nope\""));
    // A header without a name fails before the save (librarypanels.go:179, dashboard.go:351).
    let bad = json!({"id": 3, "libraryPanel": {"uid": uid}});
    let (s, b) = save_dashboard(&t, json!({"uid": dash_uid, "title": title, "version": 2, "panels": [bad]})).await;
    assert_eq!((s, b), (500, msg_trace("Error while cleaning library panels")));
    // Without the panel the connection goes, and the element can be deleted.
    let (s, _) = save_dashboard(&t, json!({"uid": dash_uid, "title": title, "version": 2, "panels": []})).await;
    assert_eq!(s, 200);
    assert_eq!(
        t.send("GET", &format!("{PATH}/{uid}/connections"), &t.admin(), None).await,
        (200, json!({"result": []}))
    );
    let (s, b) = t.send("DELETE", &format!("{PATH}/{uid}"), &t.admin(), None).await;
    // api.go:47-50 DeleteLibraryElementResponse.
    assert_eq!((s, b), (200, json!({"id": el["id"], "message": "Library element deleted"})));
    assert_eq!(
        t.send("DELETE", &format!("{PATH}/{uid}"), &t.admin(), None).await,
        (404, msg_trace("library element could not be found"))
    );
}

#[tokio::test]
async fn deleting_a_dashboard_disconnects_and_folders_with_used_elements_stay() {
    let t = Target::new().await;
    let (folder_uid, _, folder_id) = t.folder().await;
    let name = unique("in folder");
    let el = panel(&t, folder_id, &name).await;
    let uid = el["uid"].as_str().expect("uid").to_string();
    let (_, d) = save_dashboard(&t, json!({"title": unique("user"), "panels": [library_panel(&uid, &name)]})).await;
    // pkg/api/folder.go:96: the folder's elements are in use.
    assert_eq!(
        t.send("DELETE", &format!("/api/folders/{folder_uid}"), &t.admin(), None).await,
        (403, msg_trace("Folder could not be deleted because it contains library elements in use"))
    );
    // dashboard.go:262 DisconnectElementsFromDashboard on delete.
    let dash_uid = d["uid"].as_str().expect("uid");
    assert_eq!(t.send("DELETE", &format!("/api/dashboards/uid/{dash_uid}"), &t.admin(), None).await.0, 200);
    assert_eq!(
        t.send("GET", &format!("{PATH}/{uid}/connections"), &t.admin(), None).await,
        (200, json!({"result": []}))
    );
    // Now the folder goes, and its elements with it (database.go:736).
    assert_eq!(t.send("DELETE", &format!("/api/folders/{folder_uid}"), &t.admin(), None).await.0, 200);
    assert_eq!(
        t.send("GET", &format!("{PATH}/{uid}"), &t.admin(), None).await,
        (404, msg_trace("library element could not be found"))
    );
}
