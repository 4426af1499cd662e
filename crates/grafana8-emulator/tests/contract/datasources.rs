//! Data sources: pkg/api/datasources.go, pkg/api/datasource/validation.go,
//! pkg/models/datasource.go, pkg/services/sqlstore/datasource.go.
//!
//! Error bodies: `response.Error(status, msg, err)` carries `traceID` exactly when `err` is not
//! nil; the handlers pass nil for not-found, read-only and missing-id answers.

use crate::support::{Target, msg, msg_trace, redact, unique};
use serde_json::{Value, json};

async fn create(t: &Target, extra: Value) -> (u16, Value) {
    let mut body =
        json!({"name": unique("ds"), "type": "prometheus", "access": "proxy", "url": "http://127.0.0.1:9090"});
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    t.send("POST", "/api/datasources", &t.admin(), Some(body)).await
}

// pkg/api/datasources.go:87 (and :121, :149, :178, :213, :296, :401, :421)
// return response.Error(404, "Data source not found", nil)
fn not_found() -> (u16, Value) {
    (404, msg("Data source not found"))
}

// pkg/api/datasources.go:238 response.Error(400, fmt.Sprintf("Validation error, invalid URL: %q", url), err)
fn invalid_url(quoted: &str) -> (u16, Value) {
    (400, msg_trace(&format!("Validation error, invalid URL: {quoted}")))
}

// pkg/api/datasources.go:248 and :281 response.Error(http.StatusBadRequest, "bad request data", err)
fn bad_request() -> (u16, Value) {
    (400, msg_trace("bad request data"))
}

#[tokio::test]
async fn create_returns_the_dto_without_secrets() {
    let t = Target::new().await;
    let (s, b) = create(&t, json!({"basicAuthPassword": "pw", "secureJsonData": {"httpHeaderValue1": "secret", "empty": ""}, "jsonData": {"httpMethod": "POST"}})).await;
    assert_eq!(s, 200, "{b}");
    // pkg/api/datasources.go:268-274
    assert_eq!(b["message"], "Datasource added");
    assert_eq!(b["id"], b["datasource"]["id"]);
    assert_eq!(b["name"], b["datasource"]["name"]);
    // pkg/api/datasources.go:460-490 convertModelToDtos: every secure key is encrypted, so even
    // an empty value shows as set.
    assert_eq!(
        redact(&b["datasource"], &["id", "uid", "name"]),
        json!({"id": "<_>", "uid": "<_>", "orgId": 1, "name": "<_>", "type": "prometheus", "typeLogoUrl": "",
               "access": "proxy", "url": "http://127.0.0.1:9090", "password": "", "user": "", "database": "",
               "basicAuth": false, "basicAuthUser": "", "basicAuthPassword": "pw", "withCredentials": false,
               "isDefault": false, "jsonData": {"httpMethod": "POST"},
               "secureJsonFields": {"empty": true, "httpHeaderValue1": true}, "version": 1, "readOnly": false})
    );
    let uid = b["datasource"]["uid"].as_str().expect("uid");
    let (s, g) = t.send("GET", &format!("/api/datasources/uid/{uid}"), &t.admin(), None).await;
    assert_eq!((s, g.get("secureJsonData").is_none()), (200, true));
    assert_eq!(g, b["datasource"]);
}

#[tokio::test]
async fn create_errors() {
    let t = Target::new().await;
    let (s, b) = create(&t, json!({})).await;
    assert_eq!(s, 200);
    let name = b["name"].as_str().expect("name").to_string();
    let uid = b["datasource"]["uid"].as_str().expect("uid").to_string();
    // sqlstore/datasource.go:136-137 → datasources.go:261-262 response.Error(409, err.Error(), err);
    // pkg/models/datasource.go:33 ErrDataSourceNameExists = errors.New("data source with the same name already exists")
    assert_eq!(
        create(&t, json!({"name": name})).await,
        (409, msg_trace("data source with the same name already exists"))
    );
    // sqlstore/datasource.go:176-177; pkg/models/datasource.go:34
    // ErrDataSourceUidExists = errors.New("data source with the same uid already exists")
    assert_eq!(create(&t, json!({"uid": uid})).await, (409, msg_trace("data source with the same uid already exists")));
    // pkg/models/datasource.go:75-77 binding:"Required" on name, type and access.
    assert_eq!(create(&t, json!({"access": ""})).await, bad_request());
    assert_eq!(create(&t, json!({"type": null})).await, bad_request());
    assert_eq!(create(&t, json!({"name": ""})).await, bad_request());
    // Numbers as strings, strings as bools: Go's decoder refuses them.
    assert_eq!(create(&t, json!({"isDefault": "true"})).await, bad_request());
    assert_eq!(create(&t, json!({"url": 9090})).await, bad_request());
    assert_eq!(create(&t, json!({"secureJsonData": {"a": 1}})).await, bad_request());
    // AddDataSourceCommand (pkg/models/datasource.go:74-89) has no version: it is ignored.
    let (s, b) = create(&t, json!({"version": "9"})).await;
    assert_eq!((s, b["datasource"]["version"].clone()), (200, json!(1)));
    // pkg/api/datasources.go:254: a POST without url is accepted even for a url-requiring type.
    assert_eq!(create(&t, json!({"url": ""})).await.0, 200);
    // The access mode and the uid are not validated in 8.5.4.
    let (s, b) = create(&t, json!({"access": "sideways", "uid": "has spaces/and slashes"})).await;
    assert_eq!(
        (s, b["datasource"]["access"].clone(), b["datasource"]["uid"].clone()),
        (200, json!("sideways"), json!("has spaces/and slashes"))
    );
    // pkg/api/api.go:293 reqOrgAdmin → pkg/middleware/auth.go:25 c.JsonApiErr(403, "Permission denied", nil)
    let editor = t.key("Editor").await;
    let (s, b) =
        t.send("POST", "/api/datasources", &editor, Some(json!({"name": "x", "type": "x", "access": "proxy"}))).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
}

#[tokio::test]
async fn urls_are_validated_as_grafana_does() {
    let t = Target::new().await;
    // pkg/api/datasource/validation.go:64-65: empty (after TrimSpace) for a type in requiredURL,
    // reported with the URL as sent, quoted by Go's %q.
    assert_eq!(create(&t, json!({"url": "  "})).await, invalid_url("\"  \""));
    // validation.go:77-83: without `scheme://`, http:// is prepended, then url.Parse decides.
    assert_eq!(create(&t, json!({"url": "localhost:9090"})).await.0, 200);
    assert_eq!(create(&t, json!({"url": "localhost:90a"})).await, invalid_url("\"localhost:90a\""));
    assert_eq!(create(&t, json!({"url": "http://a b"})).await, invalid_url("\"http://a b\""));
    assert_eq!(create(&t, json!({"url": "://foo"})).await, invalid_url("\"://foo\""));
    assert_eq!(create(&t, json!({"url": "http://x/%zz"})).await, invalid_url("\"http://x/%zz\""));
    assert_eq!(create(&t, json!({"url": "http://x|y"})).await, invalid_url("\"http://x|y\""));
    assert_eq!(create(&t, json!({"url": "http://x\n"})).await, invalid_url("\"http://x\\n\""));
    assert_eq!(create(&t, json!({"url": "http://x\u{7}"})).await, invalid_url("\"http://x\\a\""));
    assert_eq!(create(&t, json!({"url": "http://u:p@ss@x?%zz"})).await.0, 200);
    // A type outside requiredURL may have no URL, but spaces still fail to parse.
    assert_eq!(create(&t, json!({"type": "testdata", "url": ""})).await.0, 200);
    assert_eq!(create(&t, json!({"type": "testdata", "url": " "})).await, invalid_url("\" \""));
    // validation.go:70-72: mssql (in any case) uses pkg/tsdb/mssql/mssql.go:106 ParseURL.
    assert_eq!(create(&t, json!({"type": "mssql", "url": "host\\inst:1433"})).await.0, 200);
    assert_eq!(create(&t, json!({"type": "MSSQL", "url": "http://host"})).await, invalid_url("\"http://host\""));
    assert_eq!(create(&t, json!({"type": "mssql", "url": "host:14a"})).await, invalid_url("\"host:14a\""));
}

#[tokio::test]
async fn get_by_id_uid_and_name() {
    let t = Target::new().await;
    let (_, b) = create(&t, json!({})).await;
    let d = &b["datasource"];
    let (id, uid, name) =
        (d["id"].as_i64().expect("id"), d["uid"].as_str().expect("uid"), d["name"].as_str().expect("name"));
    for path in [
        format!("/api/datasources/{id}"),
        format!("/api/datasources/uid/{uid}"),
        format!("/api/datasources/name/{name}"),
    ] {
        let (s, g) = t.send("GET", &path, &t.admin(), None).await;
        assert_eq!((s, &g), (200, d), "{path}");
    }
    // pkg/api/datasources.go:431 dtos.AnyId, behind reqSignedIn (api.go:303).
    let (s, g) = t.send("GET", &format!("/api/datasources/id/{name}"), &t.key("Viewer").await, None).await;
    assert_eq!((s, g), (200, json!({"id": id})));
    for path in [
        "/api/datasources/999999",
        "/api/datasources/-1",
        "/api/datasources/uid/nope",
        "/api/datasources/name/nope",
        "/api/datasources/id/nope",
    ] {
        assert_eq!(t.send("GET", path, &t.admin(), None).await, not_found(), "{path}");
    }
    // pkg/api/datasources.go:78 return response.Error(http.StatusBadRequest, "id is invalid", err)
    assert_eq!(t.send("GET", "/api/datasources/abc", &t.admin(), None).await, (400, msg_trace("id is invalid")));
    // sqlstore/datasource.go:30-31 ErrDataSourceIdentifierNotSet for id 0 →
    // pkg/api/datasources.go:89-90 return response.Error(400, "Datasource id is missing", nil)
    assert_eq!(t.send("GET", "/api/datasources/0", &t.admin(), None).await, (400, msg("Datasource id is missing")));
    // pkg/api/api.go:298 reqOrgAdmin
    let editor = t.key("Editor").await;
    assert_eq!(t.send("GET", &format!("/api/datasources/{id}"), &editor, None).await, (403, msg("Permission denied")));
    let (s, l) = t.send("GET", "/api/datasources", &t.admin(), None).await;
    assert_eq!(s, 200);
    let item = l.as_array().expect("array").iter().find(|x| x["uid"] == json!(uid)).expect("listed").clone();
    assert_eq!(
        redact(&item, &["id", "uid", "name"]),
        json!({"id": "<_>", "uid": "<_>", "orgId": 1, "name": "<_>", "type": "prometheus", "typeName": "Prometheus",
               "typeLogoUrl": "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg", "access": "proxy",
               "url": "http://127.0.0.1:9090", "password": "", "user": "", "database": "", "basicAuth": false,
               "isDefault": false, "jsonData": {}, "readOnly": false})
    );
}

#[tokio::test]
async fn list_is_sorted_by_lower_cased_name() {
    let t = Target::new().await;
    if t.emu.is_none() {
        return; // The order among other tests' data sources is not this test's business.
    }
    for name in ["beta", "Alpha", "alpha", "Gamma"] {
        assert_eq!(create(&t, json!({"name": name})).await.0, 200);
    }
    // sqlstore/datasource.go:53 orders by name, then pkg/api/datasources.go:69 sort.Sort by
    // lower-cased name (insertion sort for short lists, so equal keys keep the SQL order).
    let (_, l) = t.send("GET", "/api/datasources", &t.admin(), None).await;
    let names: Vec<Value> = l.as_array().expect("array").iter().map(|d| d["name"].clone()).collect();
    assert_eq!(names, vec![json!("Alpha"), json!("alpha"), json!("beta"), json!("Gamma")]);
}

#[tokio::test]
async fn json_data_is_any_json_value_with_sorted_keys() {
    let t = Target::new().await;
    // sqlstore/datasource.go:140-142: a missing or null jsonData is simplejson.New().
    let (_, b) = create(&t, json!({"jsonData": null})).await;
    assert_eq!(b["datasource"]["jsonData"], json!({}));
    // simplejson keeps whatever JSON it is given; json.Marshal sorts object keys.
    let (_, b) = create(&t, json!({"jsonData": [1, "two"]})).await;
    assert_eq!(b["datasource"]["jsonData"], json!([1, "two"]));
    let (s, _, raw) = t
        .send_full(
            "POST",
            "/api/datasources",
            &t.admin(),
            Some(json!({"name": unique("ds"), "type": "loki", "access": "proxy", "url": "http://x",
                        "jsonData": {"zeta": 1, "alpha": {"y": 2, "x": 1}}})),
            &[],
        )
        .await;
    assert_eq!(s, 200);
    let keys: Vec<&String> = raw["datasource"]["jsonData"].as_object().expect("object").keys().collect();
    assert_eq!(keys, vec!["alpha", "zeta"]);
}

#[tokio::test]
async fn update_rules_versions_and_merges_secure_data() {
    let t = Target::new().await;
    let (_, b) = create(
        &t,
        json!({"secureJsonData": {"a": "1"}, "jsonData": {"k": "v"}, "database": "db1",
                                   "user": "u1", "password": "p1"}),
    )
    .await;
    let d = b["datasource"].clone();
    let (id, name) = (d["id"].as_i64().expect("id"), d["name"].as_str().expect("name").to_string());
    let path = format!("/api/datasources/{id}");
    let admin = t.admin();
    let put = |body: Value| t.send("PUT", &path, &admin, Some(body));
    let base = json!({"name": name, "type": "prometheus", "access": "proxy", "url": "http://127.0.0.1:9091"});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        b
    };
    let (s, u) = put(with(json!({"version": 1, "secureJsonData": {"b": "2"}}))).await;
    assert_eq!(s, 200, "{u}");
    // pkg/api/datasources.go:334-339
    assert_eq!(
        (u["message"].clone(), u["id"].clone(), u["name"].clone()),
        (json!("Datasource updated"), json!(id), json!(name))
    );
    let ds = &u["datasource"];
    // datasources.go:342-366 fillWithSecureJSONData keeps the stored keys the body leaves out.
    assert_eq!(ds["version"], json!(2));
    assert_eq!(ds["secureJsonFields"], json!({"a": true, "b": true}));
    // sqlstore/datasource.go:238-246: the update writes the struct's non-zero fields plus
    // password, basic_auth_password and user; an empty database keeps the stored one, omitting
    // jsonData wipes it.
    assert_eq!(ds["jsonData"], json!({}));
    assert_eq!(ds["database"], json!("db1"));
    assert_eq!((ds["user"].clone(), ds["password"].clone()), (json!(""), json!("")));
    assert_eq!(ds["url"], json!("http://127.0.0.1:9091"));
    // sqlstore/datasource.go:249-264: a stale version updates no row →
    // pkg/api/datasources.go:312-313 response.Error(409, "Datasource has already been updated by someone else. Please reload and try again", err)
    let stale = (409, msg_trace("Datasource has already been updated by someone else. Please reload and try again"));
    assert_eq!(put(with(json!({"version": 1}))).await, stale);
    assert_eq!(put(with(json!({"version": -1}))).await, stale);
    // A later version is accepted (`version < cmd.Version + 1`); 0 is unconditional and resets to 1.
    let (s, u) = put(with(json!({"version": 7}))).await;
    assert_eq!((s, u["datasource"]["version"].clone()), (200, json!(8)));
    let (s, u) = put(base.clone()).await;
    assert_eq!((s, u["datasource"]["version"].clone()), (200, json!(1)));
    // Go's int wraps: version MaxInt64 writes MinInt64, which no row is below.
    assert_eq!(put(with(json!({"version": i64::MAX}))).await, stale);
    // pkg/api/datasources.go:289: a PUT always validates the URL, so prometheus needs one.
    let mut no_url = base.clone();
    no_url.as_object_mut().expect("object").remove("url");
    assert_eq!(put(no_url).await, invalid_url("\"\""));
    // A unique-index violation is an error from the store: datasources.go:315
    // return response.Error(500, "Failed to update datasource", err)
    let (_, other) = create(&t, json!({})).await;
    assert_eq!(put(with(json!({"name": other["name"]}))).await, (500, msg_trace("Failed to update datasource")));
    assert_eq!(t.send("PUT", "/api/datasources/999999", &t.admin(), Some(base.clone())).await, not_found());
    // pkg/api/datasources.go:286-287 return response.Error(http.StatusBadRequest, "id is invalid", err)
    assert_eq!(
        t.send("PUT", "/api/datasources/abc", &t.admin(), Some(base.clone())).await,
        (400, msg_trace("id is invalid"))
    );
    // Id 0 is ErrDataSourceIdentifierNotSet, not "not found": datasources.go:298
    // return response.Error(500, "Failed to update datasource", err)
    assert_eq!(
        t.send("PUT", "/api/datasources/0", &t.admin(), Some(base.clone())).await,
        (500, msg_trace("Failed to update datasource"))
    );
    // The body is bound before the id is parsed (datasources.go:280 before :286).
    assert_eq!(t.send("PUT", "/api/datasources/abc", &t.admin(), Some(json!({}))).await, bad_request());
    // pkg/models/datasource.go:101-103 binding:"Required"; `version` is an int.
    assert_eq!(put(json!({"name": name, "type": "prometheus"})).await, bad_request());
    assert_eq!(put(with(json!({"version": "2"}))).await, bad_request());
}

#[tokio::test]
async fn is_default_moves() {
    let t = Target::new().await;
    // sqlstore/datasource.go:198-207 updateIsDefaultFlag
    let (_, a) = create(&t, json!({"isDefault": true})).await;
    let (_, b) = create(&t, json!({"isDefault": true})).await;
    let (_, a2) = t.send("GET", &format!("/api/datasources/{}", a["id"]), &t.admin(), None).await;
    let (_, b2) = t.send("GET", &format!("/api/datasources/{}", b["id"]), &t.admin(), None).await;
    assert_eq!((a2["isDefault"].clone(), b2["isDefault"].clone()), (json!(false), json!(true)));
}

#[tokio::test]
async fn delete_by_id_uid_and_name() {
    let t = Target::new().await;
    let (_, a) = create(&t, json!({})).await;
    let (_, b) = create(&t, json!({})).await;
    let (_, c) = create(&t, json!({})).await;
    // pkg/api/datasources.go:140 response.Success("Data source deleted")
    let (s, r) = t.send("DELETE", &format!("/api/datasources/{}", a["id"]), &t.admin(), None).await;
    assert_eq!((s, r), (200, msg("Data source deleted")));
    // pkg/api/datasources.go:196-199 and :230-233
    let (s, r) = t
        .send(
            "DELETE",
            &format!("/api/datasources/uid/{}", b["datasource"]["uid"].as_str().expect("uid")),
            &t.admin(),
            None,
        )
        .await;
    assert_eq!((s, r), (200, json!({"message": "Data source deleted", "id": b["id"]})));
    let (s, r) = t
        .send("DELETE", &format!("/api/datasources/name/{}", c["name"].as_str().expect("name")), &t.admin(), None)
        .await;
    assert_eq!((s, r), (200, json!({"message": "Data source deleted", "id": c["id"]})));
    assert_eq!(t.send("DELETE", &format!("/api/datasources/{}", a["id"]), &t.admin(), None).await, not_found());
    // pkg/api/datasources.go:115-116 return response.Error(400, "Missing valid datasource id", nil)
    assert_eq!(
        t.send("DELETE", "/api/datasources/0", &t.admin(), None).await,
        (400, msg("Missing valid datasource id"))
    );
    assert_eq!(
        t.send("DELETE", "/api/datasources/-4", &t.admin(), None).await,
        (400, msg("Missing valid datasource id"))
    );
    // pkg/api/datasources.go:111-112 return response.Error(http.StatusBadRequest, "id is invalid", err)
    assert_eq!(t.send("DELETE", "/api/datasources/x1", &t.admin(), None).await, (400, msg_trace("id is invalid")));
    assert_eq!(t.send("DELETE", "/api/datasources/uid/nope", &t.admin(), None).await, not_found());
    assert_eq!(t.send("DELETE", "/api/datasources/name/nope", &t.admin(), None).await, not_found());
    // pkg/api/api.go:295-297 reqOrgAdmin
    let editor = t.key("Editor").await;
    assert_eq!(t.send("DELETE", "/api/datasources/uid/nope", &editor, None).await, (403, msg("Permission denied")));
}

#[tokio::test]
async fn provisioned_data_sources_are_read_only() {
    use grafana8_emulator::{Seed, SeedDataSource};
    let ds = SeedDataSource {
        name: "Provisioned".into(),
        ds_type: "prometheus".into(),
        url: "http://127.0.0.1:9090".into(),
        uid: Some("prov".into()),
        access: None,
        is_default: true,
        json_data: None,
        secure_json_data: [("token".to_string(), "t".to_string())].into_iter().collect(),
        org: 1,
        read_only: true,
    };
    let Some(t) = Target::seeded(Seed { datasources: vec![ds], ..Seed::default() }).await else {
        return; // Provisioning is configured on the server, not through the API.
    };
    let (s, d) = t.send("GET", "/api/datasources/uid/prov", &t.admin(), None).await;
    assert_eq!((s, d["readOnly"].clone(), d["secureJsonFields"].clone()), (200, json!(true), json!({"token": true})));
    // pkg/api/datasources.go:301-302 return response.Error(403, "Cannot update read-only data source", nil)
    let body = json!({"name": "Provisioned", "type": "prometheus", "access": "proxy", "url": "http://x"});
    let (s, b) = t.send("PUT", &format!("/api/datasources/{}", d["id"]), &t.admin(), Some(body)).await;
    assert_eq!((s, b), (403, msg("Cannot update read-only data source")));
    // The read-only check comes after URL validation (datasources.go:289 before :301).
    let body = json!({"name": "Provisioned", "type": "prometheus", "access": "proxy", "url": ""});
    let (s, b) = t.send("PUT", &format!("/api/datasources/{}", d["id"]), &t.admin(), Some(body)).await;
    assert_eq!((s, b), invalid_url("\"\""));
    // pkg/api/datasources.go:127-128, :183-184, :218-219
    // return response.Error(403, "Cannot delete read-only data source", nil)
    let (s, b) = t.send("DELETE", &format!("/api/datasources/{}", d["id"]), &t.admin(), None).await;
    assert_eq!((s, b), (403, msg("Cannot delete read-only data source")));
    let (s, b) = t.send("DELETE", "/api/datasources/uid/prov", &t.admin(), None).await;
    assert_eq!((s, b), (403, msg("Cannot delete read-only data source")));
    let (s, b) = t.send("DELETE", "/api/datasources/name/Provisioned", &t.admin(), None).await;
    assert_eq!((s, b), (403, msg("Cannot delete read-only data source")));
}
