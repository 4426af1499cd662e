//! Auth: pkg/services/contexthandler/contexthandler.go, pkg/middleware/auth.go,
//! pkg/api/apikey.go, pkg/api/http_server.go (`/api/health`), pkg/api/index.go (not found).

use crate::support::{Cred, Target, msg, msg_trace, seed_user, two_orgs, unique};
use base64::Engine;
use serde_json::json;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn health_needs_no_auth_and_reports_8_5_4() {
    let t = Target::new().await;
    let (s, h, b) = t.send_full("GET", "/api/health", &Cred::None, None, &[]).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "application/json; charset=UTF-8");
    assert_eq!(b["database"], "ok");
    assert_eq!(b["version"], "8.5.4");
    assert!(b["commit"].is_string());
    assert_eq!(b.as_object().expect("object").len(), 3);
    let (s, _, b) = t.send_full("HEAD", "/api/health", &Cred::None, None, &[]).await;
    assert_eq!((s, b), (200, serde_json::Value::Null));
    // The health handler matches the exact path; with a slash the router answers.
    let (s, b) = t.send("GET", "/api/health/", &Cred::None, None).await;
    assert_eq!((s, b), (401, msg("Unauthorized")));
    let (s, b) = t.send("GET", "/api/health/", &t.admin(), None).await;
    assert_eq!((s, b), (404, msg("Not found")));
}

#[tokio::test]
async fn no_credentials_is_401_unauthorized() {
    let t = Target::new().await;
    let (s, h, b) = t.send_full("GET", "/api/folders", &Cred::None, None, &[]).await;
    assert_eq!((s, b), (401, msg("Unauthorized")));
    assert_eq!(h["content-type"], "application/json; charset=UTF-8");
}

#[tokio::test]
async fn wrong_password_and_bad_basic_header() {
    let t = Target::new().await;
    // pkg/services/contexthandler/contexthandler.go:304-314 reqContext.JsonApiErr(401, InvalidUsernamePassword, err);
    // contexthandler.go:31 InvalidUsernamePassword = "invalid username or password"
    let (s, b) = t.send("GET", "/api/org", &Cred::Basic("admin".into(), "nope".into()), None).await;
    assert_eq!((s, b), (401, msg_trace("invalid username or password")));
    let (s, b) = t.send("GET", "/api/org", &Cred::Basic("nobody".into(), "x".into()), None).await;
    assert_eq!((s, b), (401, msg_trace("invalid username or password")));
    // pkg/login/auth.go:52 validatePasswordSet: an empty password fails the same way.
    let (s, b) = t.send("GET", "/api/org", &Cred::Basic("admin".into(), String::new()), None).await;
    assert_eq!((s, b), (401, msg_trace("invalid username or password")));
    // contexthandler.go:293-295 reqContext.JsonApiErr(401, "Invalid Basic Auth Header", err)
    let (s, b) = t.send("GET", "/api/org", &Cred::Raw("Basic !!!notbase64".into()), None).await;
    assert_eq!((s, b), (401, msg_trace("Invalid Basic Auth Header")));
    let (s, b) = t.send("GET", "/api/org", &Cred::Raw("Token abc".into()), None).await;
    assert_eq!((s, b), (401, msg_trace("Invalid Basic Auth Header")));
    // pkg/util/encoding.go:60-62: no colon in the decoded text.
    let (s, b) = t.send("GET", "/api/org", &Cred::Raw(format!("Basic {}", b64("admin"))), None).await;
    assert_eq!((s, b), (401, msg_trace("Invalid Basic Auth Header")));
    // The scheme is case-sensitive (encoding.go:51).
    let (s, b) = t.send("GET", "/api/org", &Cred::Raw(format!("basic {}", b64("admin:x"))), None).await;
    assert_eq!((s, b), (401, msg_trace("Invalid Basic Auth Header")));
    // Go's StdEncoding needs the padding but ignores the unused bits of the last character.
    let creds = format!("admin:{}", t.admin_password);
    let unpadded = b64(&creds).trim_end_matches('=').to_string();
    if unpadded.len() != b64(&creds).len() {
        let (s, b) = t.send("GET", "/api/org", &Cred::Raw(format!("Basic {unpadded}")), None).await;
        assert_eq!((s, b), (401, msg_trace("Invalid Basic Auth Header")));
        let (s, _) = t.send("GET", "/api/org", &Cred::Raw(format!("Basic {}", non_canonical_b64(&creds))), None).await;
        assert_eq!(s, 200);
    }
}

/// Base64 of `s` with an unused bit of the last data character set (when there is padding).
fn non_canonical_b64(s: &str) -> String {
    const ABC: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let enc = b64(s);
    let data_len = enc.trim_end_matches('=').len();
    if data_len == enc.len() {
        return enc;
    }
    let last = enc.as_bytes()[data_len - 1] as char;
    let i = ABC.find(last).expect("base64 character");
    let mut out = enc[..data_len - 1].to_string();
    out.push(ABC.as_bytes()[i + 1] as char);
    out.push_str(&enc[data_len..]);
    out
}

#[tokio::test]
async fn users_log_in_by_login_or_email_and_are_locked_out_after_five_failures() {
    use grafana8_emulator::{Role, Seed, SeedUser};
    let user = |login: &str, email: &str| SeedUser { email: Some(email.into()), ..seed_user(login, Role::Admin) };
    let seed = Seed { users: vec![user("ann", "ann@example.com"), user("bo", "bo-mail")], ..Seed::default() };
    let Some(t) = Target::seeded(seed).await else {
        return; // Users are seeded; locking a real user out would outlast the test.
    };
    let basic = |u: &str, p: &str| Cred::Basic(u.into(), p.into());
    // pkg/services/sqlstore/user.go:298-312: by login, then by email when the name has an `@`.
    assert_eq!(t.send("GET", "/api/org", &basic("ann@example.com", "pw"), None).await.0, 200);
    assert_eq!(
        t.send("GET", "/api/org", &basic("bo-mail", "pw"), None).await,
        (401, msg_trace("invalid username or password"))
    );
    // pkg/login/brute_force_login_protection.go:12-13, :30-31: five wrong passwords within five
    // minutes block the name (pkg/login/auth.go:48 checks before the password), while unknown
    // users and empty passwords are not counted (auth.go:75-81).
    for _ in 0..5 {
        assert_eq!(
            t.send("GET", "/api/org", &basic("ann", "wrong"), None).await,
            (401, msg_trace("invalid username or password"))
        );
    }
    assert_eq!(
        t.send("GET", "/api/org", &basic("ann", "pw"), None).await,
        (401, msg_trace("invalid username or password"))
    );
    // Attempts are counted per name as sent: the email still works.
    assert_eq!(t.send("GET", "/api/org", &basic("ann@example.com", "pw"), None).await.0, 200);
    for _ in 0..6 {
        t.send("GET", "/api/org", &basic("nobody", "x"), None).await;
        t.send("GET", "/api/org", &basic("bo", ""), None).await;
    }
    assert_eq!(t.send("GET", "/api/org", &basic("bo", "pw"), None).await.0, 200);
}

#[tokio::test]
async fn api_keys_authenticate_with_their_role() {
    let t = Target::new().await;
    let viewer = t.key("Viewer").await;
    let editor = t.key("Editor").await;
    let (s, b) = t.send("GET", "/api/org", &viewer, None).await;
    assert_eq!((s, b["id"].clone(), b["name"].clone()), (200, json!(1), json!("Main Org.")));
    // A Viewer fails the Editor guard of the Alertmanager config route:
    // pkg/middleware/auth.go:25 c.JsonApiErr(403, "Permission denied", nil)
    let am = "/api/alertmanager/grafana/config/api/v1/alerts";
    let (s, b) = t.send("GET", am, &viewer, None).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
    let (s, _) = t.send("GET", am, &editor, None).await;
    assert_eq!(s, 200);
    // contexthandler.go:193-196: keys can be sent as basic auth with the user `api_key`.
    let Cred::Bearer(k) = &editor else { panic!("bearer") };
    let (s, _) = t.send("GET", "/api/org", &Cred::Basic("api_key".into(), k.clone()), None).await;
    assert_eq!(s, 200);
    // An API key has no user.
    let (s, b) = t.send("GET", "/api/user", &editor, None).await;
    assert_eq!((s, b), (404, msg("user not found")));
}

#[tokio::test]
async fn bad_api_keys() {
    let t = Target::new().await;
    // contexthandler.go:208-210 apikeygen.Decode fails: reqContext.JsonApiErr(401, InvalidAPIKey, err);
    // contexthandler.go:32 InvalidAPIKey = "invalid API key"
    let (s, b) = t.send("GET", "/api/org", &Cred::Bearer("garbage".into()), None).await;
    assert_eq!((s, b), (401, msg_trace("invalid API key")));
    let (s, b) = t.send("GET", "/api/org", &Cred::Bearer(b64(r#"{"k":"x","n":"y","id":"1"}"#)), None).await;
    assert_eq!((s, b), (401, msg_trace("invalid API key")));
    // contexthandler.go:215-217 GetApiKeyByName's ErrInvalidApiKey is passed on.
    let unknown = b64(r#"{"k":"x","n":"no-such-key","id":1}"#);
    let (s, b) = t.send("GET", "/api/org", &Cred::Bearer(unknown), None).await;
    assert_eq!((s, b), (401, msg_trace("invalid API key")));
    let name = unique("key");
    let (s, _) = t.send("POST", "/api/auth/keys", &t.admin(), Some(json!({"name": name, "role": "Viewer"}))).await;
    assert_eq!(s, 200);
    // contexthandler.go:229-230: IsValid gave no error, so no trace id.
    let wrong_secret = b64(&format!(r#"{{"k":"wrong","n":"{name}","id":1}}"#));
    let (s, b) = t.send("GET", "/api/org", &Cred::Bearer(wrong_secret), None).await;
    assert_eq!((s, b), (401, msg("invalid API key")));
    // json.Unmarshal leaves a missing field empty and matches names without regard to case.
    let no_secret = b64(&format!(r#"{{"N":"{name}","ID":1}}"#));
    let (s, b) = t.send("GET", "/api/org", &Cred::Bearer(no_secret), None).await;
    assert_eq!((s, b), (401, msg("invalid API key")));
    // An empty bearer token is no key: basic auth then fails on the header (contexthandler.go:200, :295).
    let (s, b) = t.send("GET", "/api/org", &Cred::Raw("Bearer ".into()), None).await;
    assert_eq!((s, b), (401, msg_trace("Invalid Basic Auth Header")));
}

#[tokio::test]
async fn creating_api_keys() {
    let t = Target::new().await;
    let name = unique("key");
    // pkg/api/apikey.go:104-110 NewApiKeyResult
    let (s, b) = t.send("POST", "/api/auth/keys", &t.admin(), Some(json!({"name": name, "role": "Admin"}))).await;
    assert_eq!(s, 200);
    assert_eq!(b["name"], json!(name));
    assert!(b["id"].is_i64() && b["key"].is_string());
    // sqlstore/apikey.go:73-76 → pkg/api/apikey.go:98-99 response.Error(409, err.Error(), nil);
    // pkg/models/apikey.go:12 ErrDuplicateApiKey = errors.New("API key, organization ID and name must be unique")
    let dup = (409, msg("API key, organization ID and name must be unique"));
    assert_eq!(t.send("POST", "/api/auth/keys", &t.admin(), Some(json!({"name": name, "role": "Viewer"}))).await, dup);
    // The name is looked up before the lifetime is checked (sqlstore/apikey.go:74 before :84).
    assert_eq!(
        t.send(
            "POST",
            "/api/auth/keys",
            &t.admin(),
            Some(json!({"name": name, "role": "Viewer", "secondsToLive": -1}))
        )
        .await,
        dup
    );
    // sqlstore/apikey.go:84-85 → pkg/api/apikey.go:95-96 response.Error(400, err.Error(), nil);
    // pkg/models/apikey.go:11 ErrInvalidApiKeyExpiration = errors.New("negative value for SecondsToLive")
    let (s, b) = t
        .send(
            "POST",
            "/api/auth/keys",
            &t.admin(),
            Some(json!({"name": unique("k"), "role": "Viewer", "secondsToLive": -1})),
        )
        .await;
    assert_eq!((s, b), (400, msg("negative value for SecondsToLive")));
    // pkg/api/apikey.go:67-68 response.Error(http.StatusBadRequest, "bad request data", err):
    // pkg/models/apikey.go:30-31 binding:"Required" on name and role, and pkg/models/org_user.go:72-74
    // rejects a role that is not Viewer, Editor or Admin while decoding (so apikey.go:70-71
    // "Invalid role specified" cannot be reached).
    let bad = (400, msg_trace("bad request data"));
    for body in [
        json!({"role": "Viewer"}),
        json!({"name": "", "role": "Viewer"}),
        json!({"name": unique("k")}),
        json!({"name": unique("k"), "role": "Boss"}),
        json!({"name": unique("k"), "role": "admin"}),
        json!({"name": unique("k"), "role": 1}),
        json!({"name": unique("k"), "role": "Viewer", "secondsToLive": "60"}),
        json!({"name": unique("k"), "role": "Viewer", "secondsToLive": 1.5}),
    ] {
        assert_eq!(t.send("POST", "/api/auth/keys", &t.admin(), Some(body.clone())).await, bad, "{body}");
    }
    // pkg/api/api.go:281 reqOrgAdmin
    let editor = t.key("Editor").await;
    let (s, b) = t.send("POST", "/api/auth/keys", &editor, Some(json!({"name": unique("k"), "role": "Viewer"}))).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
    let (s, b) = t.send("GET", "/api/auth/keys", &t.admin(), None).await;
    assert_eq!(s, 200);
    assert!(b.as_array().expect("array").iter().any(|k| k["name"] == json!(name) && k["role"] == "Admin"));
}

#[tokio::test]
async fn an_empty_or_null_role_is_viewer() {
    let t = Target::new().await;
    // pkg/models/org_user.go:72-78: "" (and `null`, which reaches UnmarshalJSON for a
    // non-pointer RoleType) becomes Viewer, which satisfies binding:"Required".
    for role in [json!(""), json!(null)] {
        let name = unique("k");
        let (s, b) = t.send("POST", "/api/auth/keys", &t.admin(), Some(json!({"name": name, "role": role}))).await;
        assert_eq!(s, 200, "{b}");
        let (_, list) = t.send("GET", "/api/auth/keys", &t.admin(), None).await;
        let k = list.as_array().expect("array").iter().find(|k| k["name"] == json!(name)).expect("listed").clone();
        assert_eq!(k["role"], json!("Viewer"));
    }
}

#[tokio::test]
async fn api_key_lifetimes_and_expiry() {
    let t = Target::new().await;
    let name = unique("short");
    let (s, b) = t
        .send(
            "POST",
            "/api/auth/keys",
            &t.admin(),
            Some(json!({"name": name, "role": "Viewer", "secondsToLive": 3600})),
        )
        .await;
    assert_eq!(s, 200);
    let key = Cred::Bearer(b["key"].as_str().expect("key").to_string());
    assert_eq!(t.send("GET", "/api/org", &key, None).await.0, 200);
    let (_, list) = t.send("GET", "/api/auth/keys", &t.admin(), None).await;
    let listed = list.as_array().expect("array").iter().find(|k| k["name"] == json!(name)).expect("listed").clone();
    assert!(listed["expiration"].as_str().is_some_and(|e| e.ends_with('Z')), "{listed}");
    // sqlstore/apikey.go:82: `time.Second * time.Duration(secondsToLive)` wraps past ~292 years,
    // so this key expires about 292 years in the past.
    let old = unique("wrapped");
    let body = json!({"name": old, "role": "Viewer", "secondsToLive": 9_223_372_037_i64});
    let (s, b) = t.send("POST", "/api/auth/keys", &t.admin(), Some(body)).await;
    assert_eq!(s, 200);
    // contexthandler.go:239-240 reqContext.JsonApiErr(401, "Expired API key", err) with a nil err.
    let expired = Cred::Bearer(b["key"].as_str().expect("key").to_string());
    assert_eq!(t.send("GET", "/api/org", &expired, None).await, (401, msg("Expired API key")));
    // sqlstore/apikey.go:18-26: expired keys are listed only with includeExpired.
    let (_, list) = t.send("GET", "/api/auth/keys", &t.admin(), None).await;
    assert!(!list.as_array().expect("array").iter().any(|k| k["name"] == json!(old)));
    let (_, list) = t.send("GET", "/api/auth/keys?includeExpired=true", &t.admin(), None).await;
    let listed = list.as_array().expect("array").iter().find(|k| k["name"] == json!(old)).expect("listed").clone();
    assert!(listed["expiration"].as_str().is_some_and(|e| e.starts_with("17")), "{listed}");
}

#[tokio::test]
async fn deleting_api_keys() {
    let t = Target::new().await;
    let (s, b) =
        t.send("POST", "/api/auth/keys", &t.admin(), Some(json!({"name": unique("k"), "role": "Viewer"}))).await;
    assert_eq!(s, 200);
    let path = format!("/api/auth/keys/{}", b["id"]);
    // pkg/api/apikey.go:61 response.Success("API key deleted")
    assert_eq!(t.send("DELETE", &path, &t.admin(), None).await, (200, msg("API key deleted")));
    // sqlstore/apikey.go:64-65 ErrApiKeyNotFound → pkg/api/apikey.go:53-58
    // response.Error(status, "Failed to delete API key", err)
    assert_eq!(t.send("DELETE", &path, &t.admin(), None).await, (404, msg_trace("Failed to delete API key")));
    // pkg/api/apikey.go:44-46 response.Error(http.StatusBadRequest, "id is invalid", err)
    assert_eq!(t.send("DELETE", "/api/auth/keys/abc", &t.admin(), None).await, (400, msg_trace("id is invalid")));
}

#[tokio::test]
async fn a_negative_org_header_means_the_current_org() {
    let t = Target::new().await;
    // pkg/services/sqlstore/user.go:527-530: only a positive org id replaces the user's current org.
    let (s, _, b) = t.send_full("GET", "/api/datasources", &t.admin(), None, &[("X-Grafana-Org-Id", "-1")]).await;
    assert_eq!(s, 200, "{b}");
    let (s, _, b) = t.send_full("GET", "/api/org", &t.admin(), None, &[("X-Grafana-Org-Id", "0")]).await;
    assert_eq!((s, b["id"].clone()), (200, json!(1)));
}

#[tokio::test]
async fn unknown_routes_are_404_after_sign_in() {
    let t = Target::new().await;
    let (s, b) = t.send("GET", "/api/no/such/route", &t.admin(), None).await;
    assert_eq!((s, b), (404, msg("Not found")));
    let (s, b) = t.send("GET", "/api/no/such/route", &Cred::None, None).await;
    assert_eq!((s, b), (401, msg("Unauthorized")));
    // API routes are registered for their method only: HEAD is not routed.
    let (s, _, _) = t.send_full("HEAD", "/api/folders", &t.admin(), None, &[]).await;
    assert_eq!(s, 404);
    let (s, _, _) = t.send_full("HEAD", "/api/folders", &Cred::None, None, &[]).await;
    assert_eq!(s, 401);
    // There is no PUT /api/datasources/uid/:uid in 8.5.
    let (s, b) = t.send("PUT", "/api/datasources/uid/abc", &t.admin(), Some(json!({}))).await;
    assert_eq!((s, b), (404, msg("Not found")));
}

#[tokio::test]
async fn org_header_for_users_and_not_for_keys() {
    let t = Target::new().await;
    // The admin is not a member of org 999: the role is empty, so role guards refuse.
    let am = "/api/alertmanager/grafana/config/api/v1/alerts";
    let (s, _, b) = t.send_full("GET", am, &t.admin(), None, &[("X-Grafana-Org-Id", "999")]).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
    // A non-numeric header is ignored.
    let (s, _, _) = t.send_full("GET", am, &t.admin(), None, &[("X-Grafana-Org-Id", "abc")]).await;
    assert_eq!(s, 200);
    // API keys ignore the header.
    let key = t.key("Editor").await;
    let (s, _, b) = t.send_full("GET", "/api/org", &key, None, &[("X-Grafana-Org-Id", "999")]).await;
    assert_eq!((s, b["id"].clone()), (200, json!(1)));
}

#[tokio::test]
async fn request_bodies_need_json_content_type() {
    let t = Target::new().await;
    let (s, b) = t.send_raw("POST", "/api/folders", &t.admin(), r#"{"title":"x"}"#, Some("text/plain")).await;
    assert_eq!((s, b), (400, msg_trace("bad request data")));
    let (s, b) = t.send_raw("POST", "/api/folders", &t.admin(), r#"{"title":"x"}"#, None).await;
    assert_eq!((s, b), (400, msg_trace("bad request data")));
    let (s, b) = t.send_raw("POST", "/api/folders", &t.admin(), "{not json", Some("application/json")).await;
    assert_eq!((s, b), (400, msg_trace("bad request data")));
    let (s, b) = t.send_raw("POST", "/api/folders", &t.admin(), "", Some("application/json; charset=utf-8")).await;
    assert_eq!((s, b), (400, msg("folder title cannot be empty")));
}

#[tokio::test]
async fn seeded_users_authenticate_with_their_role() {
    use grafana8_emulator::{Role, Seed};
    let seed = Seed { users: vec![seed_user("ed", Role::Editor), seed_user("vi", Role::Viewer)], ..Seed::default() };
    let Some(t) = Target::seeded(seed).await else {
        // Seeding is an emulator feature; against a real server this test has nothing to seed.
        return;
    };
    let ed = Cred::Basic("ed".into(), "pw".into());
    let vi = Cred::Basic("vi@localhost".into(), "pw".into());
    let (s, b) = t.send("POST", "/api/folders", &ed, Some(json!({"title": "E"}))).await;
    assert_eq!((s, b["createdBy"].clone()), (200, json!("ed")));
    let (s, b) = t.send("POST", "/api/folders", &vi, Some(json!({"title": "V"}))).await;
    assert_eq!((s, b), (403, msg_trace("Access denied")));
    let (s, b) = t.send("GET", "/api/user", &vi, None).await;
    assert_eq!((s, b["login"].clone()), (200, json!("vi")));
}

#[tokio::test]
async fn orgs_separate_state_and_roles() {
    let Some(t) = Target::seeded(two_orgs()).await else {
        return; // Orgs and memberships are seeded.
    };
    let m = Cred::Basic("multi".into(), "pw".into());
    let org2 = [("X-Grafana-Org-Id", "2")];
    let (s, b) = t.send("GET", "/api/datasources", &m, None).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
    let (s, _, b) = t.send_full("GET", "/api/datasources", &m, None, &org2).await;
    assert_eq!((s, b), (200, json!([])));
    let (s, _, b) = t.send_full("GET", "/api/org", &m, None, &org2).await;
    assert_eq!((s, b["name"].clone()), (200, json!("Other")));
    let (s, _, f) = t.send_full("POST", "/api/folders", &m, Some(json!({"title": "In Other"})), &org2).await;
    assert_eq!(s, 200);
    let (_, _, l2) = t.send_full("GET", "/api/folders", &m, None, &org2).await;
    assert_eq!(l2, json!([{"id": f["id"], "uid": f["uid"], "title": "In Other"}]));
    let (_, l1) = t.send("GET", "/api/folders", &t.admin(), None).await;
    assert_eq!(l1, json!([]));
    // The same title may exist in another org.
    let (s, _) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"title": "In Other"}))).await;
    assert_eq!(s, 200);
    // ?targetOrgId works like the header, and wins over it.
    let (s, b) = t.send("GET", "/api/org?targetOrgId=2", &m, None).await;
    assert_eq!((s, b["id"].clone()), (200, json!(2)));
    let (s, _, b) = t.send_full("GET", "/api/org?targetOrgId=1", &m, None, &org2).await;
    assert_eq!((s, b["id"].clone()), (200, json!(1)));
}

#[tokio::test]
async fn user_and_org_user_lookups() {
    let t = Target::new().await;
    let (s, me) = t.send("GET", "/api/user", &t.admin(), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        crate::support::redact(&me, &["id", "updatedAt", "createdAt", "email", "name", "avatarUrl", "theme"]),
        json!({"id": "<_>", "email": "<_>", "name": "<_>", "login": "admin", "theme": "<_>", "orgId": 1,
               "isGrafanaAdmin": true, "isDisabled": false, "isExternal": false, "authLabels": [],
               "updatedAt": "<_>", "createdAt": "<_>", "avatarUrl": "<_>"})
    );
    let (s, u) = t.send("GET", "/api/users/lookup?loginOrEmail=admin", &t.admin(), None).await;
    assert_eq!(
        (s, u["login"].clone(), u["authLabels"].clone(), u["avatarUrl"].clone()),
        (200, json!("admin"), json!(null), json!(""))
    );
    let (s, b) = t.send("GET", "/api/users/lookup?loginOrEmail=nobody-here", &t.admin(), None).await;
    assert_eq!((s, b), (404, msg("user not found")));
    let key = t.key("Admin").await;
    let (s, b) = t.send("GET", "/api/users/lookup?loginOrEmail=admin", &key, None).await;
    assert_eq!((s, b), (403, msg("Permission denied")));
    let (s, list) = t.send("GET", "/api/org/users", &t.admin(), None).await;
    assert_eq!(s, 200);
    let admin = list.as_array().expect("array").iter().find(|u| u["login"] == "admin").expect("admin listed").clone();
    assert_eq!((admin["role"].clone(), admin["orgId"].clone()), (json!("Admin"), json!(1)));
    let (s, l) = t.send("GET", "/api/org/users/lookup?query=adm&limit=1", &t.admin(), None).await;
    assert_eq!((s, l[0]["login"].clone(), l.as_array().map(Vec::len)), (200, json!("admin"), Some(1)));
    let editor = t.key("Editor").await;
    assert_eq!(t.send("GET", "/api/org/users", &editor, None).await, (403, msg("Permission denied")));
    if t.emu.is_some() {
        // On a shared server another test may have made Editors folder admins.
        assert_eq!(t.send("GET", "/api/org/users/lookup", &editor, None).await, (403, msg("Permission denied")));
    }
    // Folder admins may look users up.
    let (uid, _, _) = t.folder().await;
    let items = json!({"items": [{"role": "Editor", "permission": 4}]});
    assert_eq!(t.send("POST", &format!("/api/folders/{uid}/permissions"), &t.admin(), Some(items)).await.0, 200);
    assert_eq!(t.send("GET", "/api/org/users/lookup?query=admin", &editor, None).await.0, 200);
    // An API key is not a team member, so with RBAC off it finds no team.
    let (s, b) = t.send("GET", "/api/teams/search?perpage=10&page=1", &editor, None).await;
    assert_eq!((s, b), (200, json!({"totalCount": 0, "teams": [], "page": 1, "perPage": 10})));
}
