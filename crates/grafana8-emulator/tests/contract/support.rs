//! The harness: a target server (in-process emulator or `MAC_GRAFANA_URL`), a small client and
//! body normalisation.

use grafana8_emulator::{Emulator, EmulatorConfig, Role, Seed, SeedOrg, SeedUser};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

/// Credentials for one request.
#[derive(Clone, Debug)]
pub enum Cred {
    None,
    Basic(String, String),
    Bearer(String),
    Raw(String),
}

/// The server under test.
pub struct Target {
    pub base: String,
    pub admin_password: String,
    http: reqwest::Client,
    pub emu: Option<Emulator>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A name unique within this process run (and, with the pid and time, across runs).
pub fn unique(prefix: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    format!("{prefix}-{}-{n}-{}", std::process::id(), t % 1_000_000)
}

impl Target {
    pub async fn new() -> Target {
        Target::with_config(EmulatorConfig::default()).await
    }

    pub async fn with_config(config: EmulatorConfig) -> Target {
        let http = reqwest::Client::new();
        if let Ok(url) = std::env::var("MAC_GRAFANA_URL") {
            let admin_password = std::env::var("MAC_GRAFANA_ADMIN_PASSWORD").unwrap_or_else(|_| "admin".into());
            return Target { base: url.trim_end_matches('/').to_string(), admin_password, http, emu: None };
        }
        let emu = Emulator::start(config).await.expect("emulator starts");
        Target { base: emu.base_url(), admin_password: emu.admin_password().to_string(), http, emu: Some(emu) }
    }

    /// An in-process emulator started with `seed`; `None` when the tests run against
    /// `MAC_GRAFANA_URL`, where nothing can be seeded.
    pub async fn seeded(seed: Seed) -> Option<Target> {
        if std::env::var("MAC_GRAFANA_URL").is_ok() {
            return None;
        }
        Some(Target::with_config(EmulatorConfig { seed, ..EmulatorConfig::default() }).await)
    }

    pub fn admin(&self) -> Cred {
        Cred::Basic("admin".into(), self.admin_password.clone())
    }

    /// An API key with `role` in org 1, created through `POST /api/auth/keys`.
    pub async fn key(&self, role: &str) -> Cred {
        let (s, b) = self
            .send("POST", "/api/auth/keys", &self.admin(), Some(json!({"name": unique("key"), "role": role})))
            .await;
        assert_eq!(s, 200, "{b}");
        Cred::Bearer(b["key"].as_str().expect("key in response").to_string())
    }

    pub async fn send(&self, method: &str, path: &str, cred: &Cred, body: Option<Value>) -> (u16, Value) {
        let (s, _, b) = self.send_full(method, path, cred, body, &[]).await;
        (s, b)
    }

    pub async fn send_full(
        &self,
        method: &str,
        path: &str,
        cred: &Cred,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, format!("{}{}", self.base, path));
        rb = match cred {
            Cred::None => rb,
            Cred::Basic(u, p) => rb.basic_auth(u, Some(p)),
            Cred::Bearer(k) => rb.bearer_auth(k),
            Cred::Raw(h) => rb.header("Authorization", h),
        };
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request is answered");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let v = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, headers, v)
    }

    /// Sends a raw body with an explicit content type.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        cred: &Cred,
        body: &str,
        content_type: Option<&str>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, format!("{}{}", self.base, path)).body(body.to_string());
        if let Some(ct) = content_type {
            rb = rb.header("Content-Type", ct);
        }
        if let Cred::Basic(u, p) = cred {
            rb = rb.basic_auth(u, Some(p));
        }
        if let Cred::Bearer(k) = cred {
            rb = rb.bearer_auth(k);
        }
        let resp = rb.send().await.expect("request is answered");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Creates a folder as admin and returns (uid, title, id).
    pub async fn folder(&self) -> (String, String, i64) {
        let title = unique("Folder");
        let (s, b) = self.send("POST", "/api/folders", &self.admin(), Some(json!({"title": title}))).await;
        assert_eq!(s, 200, "{b}");
        (b["uid"].as_str().expect("uid").to_string(), title, b["id"].as_i64().expect("id"))
    }

    /// Creates a Prometheus data source as admin and returns its uid.
    pub async fn prometheus(&self) -> String {
        let body =
            json!({"name": unique("prom"), "type": "prometheus", "access": "proxy", "url": "http://127.0.0.1:9090"});
        let (s, b) = self.send("POST", "/api/datasources", &self.admin(), Some(body)).await;
        assert_eq!(s, 200, "{b}");
        b["datasource"]["uid"].as_str().expect("uid").to_string()
    }
}

/// A seeded user with the password `pw` and no email or name, a member of org 1 with `role`
/// and of no other org.
pub fn seed_user(login: &str, role: Role) -> SeedUser {
    SeedUser {
        login: login.into(),
        password: "pw".into(),
        email: None,
        name: None,
        role,
        org: 1,
        other_orgs: Default::default(),
    }
}

/// A second org, `Other` (id 2), and the user `multi` (password `pw`), a Viewer of org 1 and
/// an Admin of org 2.
pub fn two_orgs() -> Seed {
    let multi = SeedUser {
        other_orgs: [("2".to_string(), Role::Admin)].into_iter().collect(),
        ..seed_user("multi", Role::Viewer)
    };
    Seed { orgs: vec![SeedOrg { name: "Other".into() }], users: vec![multi], ..Seed::default() }
}

/// A user made through `POST /api/admin/users`.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: i64,
    pub login: String,
    pub email: String,
    pub password: String,
}

impl NewUser {
    /// Basic-auth credentials of the user.
    pub fn cred(&self) -> Cred {
        Cred::Basic(self.login.clone(), self.password.clone())
    }

    /// Basic-auth credentials with another password.
    pub fn cred_with(&self, password: &str) -> Cred {
        Cred::Basic(self.login.clone(), password.to_string())
    }
}

impl Target {
    /// Creates a user with a unique login (and `<login>@example.com`) as the server admin; it
    /// joins org 1 as Viewer (`auto_assign_org_role`).
    pub async fn user(&self) -> NewUser {
        let login = unique("user");
        let email = format!("{login}@example.com");
        let password = "secret-pw".to_string();
        let body = json!({"login": login, "email": email, "name": login, "password": password});
        let (s, b) = self.send("POST", "/api/admin/users", &self.admin(), Some(body)).await;
        assert_eq!(s, 200, "{b}");
        NewUser { id: b["id"].as_i64().expect("user id"), login, email, password }
    }

    /// Creates an org with a unique name as the server admin (who becomes its Admin) and
    /// returns (id, name).
    pub async fn org(&self) -> (i64, String) {
        let name = unique("Org");
        let (s, b) = self.send("POST", "/api/orgs", &self.admin(), Some(json!({"name": name}))).await;
        assert_eq!(s, 200, "{b}");
        (b["orgId"].as_i64().expect("org id"), name)
    }

    /// Sends as `cred` in org `org_id` (`X-Grafana-Org-Id`).
    pub async fn send_in(
        &self,
        org_id: i64,
        method: &str,
        path: &str,
        cred: &Cred,
        body: Option<Value>,
    ) -> (u16, Value) {
        let org = org_id.to_string();
        let (s, _, b) = self.send_full(method, path, cred, body, &[("X-Grafana-Org-Id", org.as_str())]).await;
        (s, b)
    }
}

/// The trace id of 8.5 error bodies built from a Go error.
pub const TRACE: &str = "00000000000000000000000000000000";

/// `{"message": m}`.
pub fn msg(m: &str) -> Value {
    json!({ "message": m })
}

/// `{"message": m, "traceID": …}`.
pub fn msg_trace(m: &str) -> Value {
    json!({ "message": m, "traceID": TRACE })
}

/// Replaces the values of volatile keys (ids, generated uids, timestamps) with `"<_>"`.
pub fn redact(v: &Value, keys: &[&str]) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        if keys.contains(&k.as_str()) {
                            (k.clone(), json!("<_>"))
                        } else {
                            (k.clone(), redact(x, keys))
                        }
                    })
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| redact(x, keys)).collect()),
        _ => v.clone(),
    }
}
