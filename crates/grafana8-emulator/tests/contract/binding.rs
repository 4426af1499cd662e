//! Request-body binding: pkg/web/binding.go `Bind` (Go 1.17's `mime.ParseMediaType` and
//! `json.NewDecoder(req.Body).Decode`), as every handler that binds a body answers its
//! failures: `response.Error(http.StatusBadRequest, "bad request data", err)` (for folders
//! pkg/api/folder.go:66-67, for API keys pkg/api/apikey.go:67-68, for data sources
//! pkg/api/datasources.go:247-248).

use crate::support::{Target, msg, msg_trace, unique};
use serde_json::{Value, json};

/// Sends raw bytes (which need not be UTF-8) with an optional content type as the admin.
async fn post_bytes(t: &Target, path: &str, body: Vec<u8>, content_type: Option<&str>) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .post(format!("{}{path}", t.base))
        .basic_auth("admin", Some(&t.admin_password))
        .body(body);
    if let Some(ct) = content_type {
        rb = rb.header("Content-Type", ct);
    }
    let resp = rb.send().await.expect("request is answered");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn post_folder(t: &Target, body: &str, content_type: Option<&str>) -> (u16, Value) {
    post_bytes(t, "/api/folders", body.as_bytes().to_vec(), content_type).await
}

// pkg/api/folder.go:67 return response.Error(http.StatusBadRequest, "bad request data", err)
fn bad_request() -> (u16, Value) {
    (400, msg_trace("bad request data"))
}

#[tokio::test]
async fn the_content_type_must_parse_to_application_json() {
    let t = Target::new().await;
    let body = || format!(r#"{{"title":"{}"}}"#, unique("ct"));
    // binding.go:16-22: mime.ParseMediaType must succeed and give application/json.
    assert_eq!(post_folder(&t, &body(), Some("text/plain")).await, bad_request());
    assert_eq!(post_folder(&t, &body(), None).await, bad_request());
    assert_eq!(post_folder(&t, &body(), Some("application/json x")).await, bad_request());
    assert_eq!(post_folder(&t, &body(), Some("application/json; charset")).await, bad_request());
    assert_eq!(post_folder(&t, &body(), Some("application/json;;")).await, bad_request());
    // Go 1.17 refuses a repeated parameter even with the same value.
    assert_eq!(post_folder(&t, &body(), Some("application/json; charset=utf-8; charset=utf-8")).await, bad_request());
    for ct in ["APPLICATION/JSON", "application/json;", "application/json ; charset=UTF-8", "application/json; a=\"\""]
    {
        assert_eq!(post_folder(&t, &body(), Some(ct)).await.0, 200, "{ct}");
    }
}

#[tokio::test]
async fn only_the_first_json_value_is_read() {
    let t = Target::new().await;
    let json_ct = Some("application/json");
    // binding.go:24-25: Decode's io.EOF (an empty body) is no error, so the struct stays empty:
    // pkg/models/folders.go:13 "folder title cannot be empty".
    let empty = (400, msg("folder title cannot be empty"));
    assert_eq!(post_folder(&t, "", json_ct).await, empty);
    assert_eq!(post_folder(&t, " \r\n\t", json_ct).await, empty);
    // A top-level null leaves the struct as it is.
    assert_eq!(post_folder(&t, "null", json_ct).await, empty);
    // Decode reads one value: what follows an object is never looked at.
    let title = unique("trailing");
    let (s, b) = post_folder(&t, &format!(r#"{{"title":"{title}"}} and then some"#), json_ct).await;
    assert_eq!((s, b["title"].clone()), (200, json!(title)));
    // A scalar must end at whitespace; a form feed is not JSON whitespace.
    assert_eq!(post_folder(&t, "nullx", json_ct).await, bad_request());
    assert_eq!(post_folder(&t, "\u{c}{}", json_ct).await, bad_request());
    assert_eq!(post_folder(&t, r#"{"title":"x""#, json_ct).await, bad_request());
    assert_eq!(post_folder(&t, "[]", json_ct).await, bad_request());
}

#[tokio::test]
async fn field_names_fold_case_and_the_last_key_wins() {
    let t = Target::new().await;
    let json_ct = Some("application/json");
    let (a, b) = (unique("first"), unique("second"));
    // encoding/json: a key matches a field case-insensitively; each repeat is decoded again.
    let (s, f) = post_folder(&t, &format!(r#"{{"title":"{a}","TITLE":"{b}"}}"#), json_ct).await;
    assert_eq!((s, f["title"].clone()), (200, json!(b)));
    // `null` leaves a string field unchanged.
    let c = unique("kept");
    let (s, f) = post_folder(&t, &format!(r#"{{"title":"{c}","Title":null}}"#), json_ct).await;
    assert_eq!((s, f["title"].clone()), (200, json!(c)));
    // Unknown fields are ignored; a string where an int belongs fails the decode.
    let (s, _) = post_folder(&t, &format!(r#"{{"title":"{}","color":"red","id":7}}"#, unique("u")), json_ct).await;
    assert_eq!(s, 200);
    // The Kelvin sign and the long s fold to k and s (the data source's secureJsonData here).
    let body = json!({"name": unique("ds"), "type": "loki", "access": "proxy", "url": "http://x",
                      "\u{17F}ecureJ\u{17F}onData": {"token": "t"}});
    let (s, d) = t.send("POST", "/api/datasources", &t.admin(), Some(body)).await;
    assert_eq!((s, d["datasource"]["secureJsonFields"].clone()), (200, json!({"token": true})));
}

#[tokio::test]
async fn invalid_text_becomes_the_replacement_character() {
    let t = Target::new().await;
    let json_ct = Some("application/json");
    let tag = unique("utf").replace('-', "");
    // encoding/json unquote: each byte of invalid UTF-8 becomes U+FFFD...
    let mut body = format!(r#"{{"title":"{tag} a"#).into_bytes();
    body.extend_from_slice(b"\xe2\x82");
    body.extend_from_slice(b"b\"}");
    let (s, f) = post_bytes(&t, "/api/folders", body, json_ct).await;
    assert_eq!((s, f["title"].clone()), (200, json!(format!("{tag} a\u{FFFD}\u{FFFD}b"))));
    // ...and so does an escaped surrogate that is not half of a pair.
    let (s, f) = post_folder(&t, &format!(r#"{{"title":"{tag} \ud800 \ud83d\ude00"}}"#), json_ct).await;
    assert_eq!((s, f["title"].clone()), (200, json!(format!("{tag} \u{FFFD} \u{1F600}"))));
}

#[tokio::test]
async fn null_and_case_in_api_key_and_data_source_bodies() {
    let t = Target::new().await;
    // secondsToLive is an int64: `null` leaves it 0 (no expiry).
    let body = json!({"NAME": unique("k"), "Role": "Editor", "secondsToLive": null});
    let (s, b) = t.send("POST", "/api/auth/keys", &t.admin(), Some(body)).await;
    assert_eq!(s, 200, "{b}");
    // pkg/models/datasource.go:75-77: the required fields may come in any case.
    let body = json!({"NAME": unique("ds"), "Type": "prometheus", "ACCESS": "proxy", "Url": "http://x:1"});
    let (s, b) = t.send("POST", "/api/datasources", &t.admin(), Some(body)).await;
    assert_eq!((s, b["datasource"]["url"].clone()), (200, json!("http://x:1")));
}
