//! Data sources: pkg/api/datasources.go, pkg/api/datasource/validation.go,
//! pkg/services/sqlstore/datasource.go.

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

#[tokio::test]
async fn create_returns_the_dto_without_secrets() {
    let t = Target::new().await;
    let (s, b) = create(&t, json!({"basicAuthPassword": "pw", "secureJsonData": {"httpHeaderValue1": "secret", "empty": ""}, "jsonData": {"httpMethod": "POST"}})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["message"], "Datasource added");
    assert_eq!(b["id"], b["datasource"]["id"]);
    assert_eq!(b["name"], b["datasource"]["name"]);
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
    assert_eq!(
        create(&t, json!({"name": name})).await,
        (409, msg_trace("data source with the same name already exists"))
    );
    assert_eq!(create(&t, json!({"uid": uid})).await, (409, msg_trace("data source with the same uid already exists")));
    assert_eq!(create(&t, json!({"access": ""})).await, (400, msg_trace("bad request data")));
    assert_eq!(create(&t, json!({"type": null})).await, (400, msg_trace("bad request data")));
    // A POST without url is accepted even for a url-requiring type.
    assert_eq!(create(&t, json!({"url": ""})).await.0, 200);
    let editor = t.key("Editor").await;
    let (s, b) =
        t.send("POST", "/api/datasources", &editor, Some(json!({"name": "x", "type": "x", "access": "proxy"}))).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
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
    let (s, g) = t.send("GET", &format!("/api/datasources/id/{name}"), &t.key("Viewer").await, None).await;
    assert_eq!((s, g), (200, json!({"id": id})));
    for path in [
        "/api/datasources/999999",
        "/api/datasources/uid/nope",
        "/api/datasources/name/nope",
        "/api/datasources/id/nope",
    ] {
        assert_eq!(t.send("GET", path, &t.admin(), None).await, (404, msg("Data source not found")), "{path}");
    }
    assert_eq!(t.send("GET", "/api/datasources/abc", &t.admin(), None).await, (400, msg_trace("id is invalid")));
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
async fn update_rules_versions_and_merges_secure_data() {
    let t = Target::new().await;
    let (_, b) = create(&t, json!({"secureJsonData": {"a": "1"}, "jsonData": {"k": "v"}, "database": "db1"})).await;
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
    assert_eq!(
        (u["message"].clone(), u["id"].clone(), u["name"].clone()),
        (json!("Datasource updated"), json!(id), json!(name))
    );
    let ds = &u["datasource"];
    assert_eq!(ds["version"], json!(2));
    assert_eq!(ds["secureJsonFields"], json!({"a": true, "b": true}));
    // Omitting jsonData wipes it; an empty database keeps the stored one.
    assert_eq!(ds["jsonData"], json!({}));
    assert_eq!(ds["database"], json!("db1"));
    assert_eq!(ds["url"], json!("http://127.0.0.1:9091"));
    // A stale version is 409; version 0 is unconditional and resets to 1.
    assert_eq!(
        put(with(json!({"version": 1}))).await,
        (409, msg_trace("Datasource has already been updated by someone else. Please reload and try again"))
    );
    let (s, u) = put(with(json!({"version": 7}))).await;
    assert_eq!((s, u["datasource"]["version"].clone()), (200, json!(8)));
    let (s, u) = put(base.clone()).await;
    assert_eq!((s, u["datasource"]["version"].clone()), (200, json!(1)));
    // A PUT without url for prometheus fails URL validation.
    let mut no_url = base.clone();
    no_url.as_object_mut().expect("object").remove("url");
    assert_eq!(put(no_url).await, (400, msg_trace("Validation error, invalid URL: \"\"")));
    // Renaming onto another data source's name is a 500.
    let (_, other) = create(&t, json!({})).await;
    assert_eq!(put(with(json!({"name": other["name"]}))).await, (500, msg_trace("Failed to update datasource")));
    assert_eq!(
        t.send("PUT", "/api/datasources/999999", &t.admin(), Some(base.clone())).await,
        (404, msg("Data source not found"))
    );
    assert_eq!(t.send("PUT", "/api/datasources/abc", &t.admin(), Some(base)).await, (400, msg_trace("id is invalid")));
}

#[tokio::test]
async fn is_default_moves() {
    let t = Target::new().await;
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
    let (s, r) = t.send("DELETE", &format!("/api/datasources/{}", a["id"]), &t.admin(), None).await;
    assert_eq!((s, r), (200, msg("Data source deleted")));
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
    assert_eq!(
        t.send("DELETE", &format!("/api/datasources/{}", a["id"]), &t.admin(), None).await,
        (404, msg("Data source not found"))
    );
    assert_eq!(
        t.send("DELETE", "/api/datasources/0", &t.admin(), None).await,
        (400, msg("Missing valid datasource id"))
    );
    assert_eq!(
        t.send("DELETE", "/api/datasources/uid/nope", &t.admin(), None).await,
        (404, msg("Data source not found"))
    );
}

#[tokio::test]
async fn provisioned_data_sources_are_read_only() {
    use grafana8_emulator::{EmulatorConfig, Seed, SeedDataSource};
    if std::env::var("MAC_GRAFANA_URL").is_ok() {
        return; // Provisioning is configured on the server, not through the API.
    }
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
    let t = Target::with_config(EmulatorConfig {
        seed: Seed { datasources: vec![ds], ..Seed::default() },
        ..EmulatorConfig::default()
    })
    .await;
    let (s, d) = t.send("GET", "/api/datasources/uid/prov", &t.admin(), None).await;
    assert_eq!((s, d["readOnly"].clone(), d["secureJsonFields"].clone()), (200, json!(true), json!({"token": true})));
    let body = json!({"name": "Provisioned", "type": "prometheus", "access": "proxy", "url": "http://x"});
    let (s, b) = t.send("PUT", &format!("/api/datasources/{}", d["id"]), &t.admin(), Some(body)).await;
    assert_eq!((s, b), (403, msg("Cannot update read-only data source")));
    let (s, b) = t.send("DELETE", "/api/datasources/uid/prov", &t.admin(), None).await;
    assert_eq!((s, b), (403, msg("Cannot delete read-only data source")));
    let (s, b) = t.send("DELETE", "/api/datasources/name/Provisioned", &t.admin(), None).await;
    assert_eq!((s, b), (403, msg("Cannot delete read-only data source")));
}
