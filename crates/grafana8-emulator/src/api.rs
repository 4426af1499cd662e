//! The route table (pkg/api/api.go and the ngalert generated routes at v8.5.4) and the small
//! handlers: health, API keys and the emulator's own admin routes.

use crate::auth::{Identity, encode_key};
use crate::http::{R, bind_fields, err_plain, err_trace, json, mw_err, raw_json};
use crate::server::{App, auth_mw, authenticate, fault_mw};
use crate::state::{ApiKey, Role};
use crate::util::generate_short_uid;
use crate::{
    alerting, dashboards, datasources, folders, frontend_settings, library_elements, orgs, preferences, ruler, teams,
    users,
};
use axum::Router;
use axum::extract::{Extension, Path, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The commit of Grafana's v8.5.4 tag, as `/api/health` reports it.
pub(crate) const GRAFANA_COMMIT: &str = "78ee958143";
/// The emulated version.
pub(crate) const GRAFANA_VERSION: &str = "8.5.4";
/// `main.buildstamp` of a v8.5.4 build: pkg/build/cmd.go stamps the tag commit's time
/// (`git show -s --format=%ct`).
pub(crate) const GRAFANA_BUILDSTAMP: i64 = 1_653_918_903;

pub(crate) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/api/auth/keys", get(list_keys).post(add_key))
        .route("/api/auth/keys/{id}", delete(delete_key))
        .merge(folders::routes())
        .merge(ruler::routes())
        .merge(datasources::routes())
        .merge(alerting::routes())
        .merge(dashboards::routes())
        .merge(orgs::routes())
        .merge(users::routes())
        .merge(teams::routes())
        .merge(preferences::routes())
        .merge(frontend_settings::routes())
        .merge(library_elements::routes())
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), auth_mw))
        .route("/api/health", get(health).head(health))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), fault_mw));
    let admin = Router::new()
        .route("/__emulator/faults", get(get_faults).put(put_faults).delete(clear_faults))
        .route("/__emulator/requests", get(get_requests).delete(clear_requests));
    api.merge(admin).fallback(not_found).method_not_allowed_fallback(not_found).with_state(app)
}

/// pkg/api/index.go `NotFoundHandler`, behind `ReqSignedIn`.
async fn not_found(State(app): State<Arc<App>>, req: Request) -> Response {
    {
        let mut c = app.counter.lock().unwrap_or_else(|e| e.into_inner());
        *c.counts.entry((req.method().as_str().to_string(), "<unmatched>".into())).or_insert(0) += 1;
    }
    if let Err(r) = authenticate(&app, &req) {
        return r;
    }
    mw_err(404, "Not found", false)
}

/// pkg/api/http_server.go `apiHealthHandler`: before auth, GET and HEAD, pretty-printed with
/// sorted keys. It matches the exact path only, so `/api/health/` falls through to the router,
/// which has no such route.
async fn health(State(app): State<Arc<App>>, method: Method, req: Request) -> Response {
    if req.extensions().get::<crate::server::Trimmed>().is_some() {
        if let Err(r) = authenticate(&app, &req) {
            return r;
        }
        return mw_err(404, "Not found", false);
    }
    let body = format!(
        "{{\n  \"commit\": \"{GRAFANA_COMMIT}\",\n  \"database\": \"ok\",\n  \"version\": \"{GRAFANA_VERSION}\"\n}}"
    );
    let mut r = raw_json(200, body.into_bytes(), "application/json; charset=UTF-8");
    if method == Method::HEAD {
        *r.body_mut() = axum::body::Body::empty();
    }
    r
}

#[derive(Deserialize)]
struct AddKey {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, rename = "secondsToLive")]
    seconds_to_live: Option<i64>,
}

/// pkg/api/apikey.go `AddAPIKey` (org admins; `api_key_max_seconds_to_live` = -1).
async fn add_key(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> R {
    id.require_org_admin()?;
    let cmd: AddKey = bind_fields(&headers, &body, &["name", "role", "secondsToLive"])?;
    let name = cmd.name.unwrap_or_default();
    let role = cmd.role.unwrap_or_default();
    if name.is_empty() || role.is_empty() {
        return Err(crate::http::bad_request_data());
    }
    let Some(role) = Role::parse(&role) else {
        return Err(err_plain(400, "Invalid role specified"));
    };
    let ttl = cmd.seconds_to_live.unwrap_or(0);
    if ttl < 0 {
        return Err(err_plain(400, "negative value for SecondsToLive"));
    }
    let mut db = app.db();
    if db.api_keys.values().any(|k| k.org_id == id.org_id && k.name == name) {
        return Err(err_plain(409, "API key, organization ID and name must be unique"));
    }
    let key_id = db.next_id("api_key");
    let secret = generate_short_uid() + &generate_short_uid() + &generate_short_uid();
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let expires = (ttl > 0).then_some(now.saturating_add(ttl));
    db.api_keys.insert(
        key_id,
        ApiKey { id: key_id, org_id: id.org_id, name: name.clone(), secret: secret.clone(), role, expires },
    );
    Ok(json(200, &json!({"id": key_id, "name": name, "key": encode_key(&secret, &name, id.org_id)})))
}

/// pkg/api/apikey.go `GetAPIKeys`.
async fn list_keys(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    id.require_org_admin()?;
    let db = app.db();
    let mut keys: Vec<&ApiKey> = db.api_keys.values().filter(|k| k.org_id == id.org_id).collect();
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    let list: Vec<Value> = keys
        .into_iter()
        .map(|k| {
            let mut v = json!({"id": k.id, "name": k.name, "role": k.role.as_str()});
            if let Some(e) = k.expires {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.max(0) as u64);
                v["expiration"] = json!(humantime::format_rfc3339_seconds(t).to_string());
            }
            v
        })
        .collect();
    Ok(json(200, &Value::Array(list)))
}

/// pkg/api/apikey.go `DeleteAPIKey`.
async fn delete_key(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(key): Path<String>) -> R {
    id.require_org_admin()?;
    let key_id: i64 = key.parse().unwrap_or(0);
    let mut db = app.db();
    match db.api_keys.get(&key_id) {
        Some(k) if k.org_id == id.org_id => {
            db.api_keys.remove(&key_id);
            Ok(json(200, &json!({"message": "API key deleted"})))
        }
        _ => Err(err_trace(404, "Failed to delete API key")),
    }
}

async fn get_faults(State(app): State<Arc<App>>) -> Response {
    let f = app.faults.lock().unwrap_or_else(|e| e.into_inner());
    json(200, &serde_json::to_value(&f.config).unwrap_or_default())
}

async fn put_faults(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<crate::FaultConfig>(&body) {
        Ok(cfg) => {
            let mut f = app.faults.lock().unwrap_or_else(|e| e.into_inner());
            *f = crate::faults::FaultState::new(cfg);
            json(200, &serde_json::to_value(&f.config).unwrap_or_default())
        }
        Err(e) => json(400, &json!({"message": format!("invalid fault configuration: {e}")})),
    }
}

async fn clear_faults(State(app): State<Arc<App>>) -> Response {
    let mut f = app.faults.lock().unwrap_or_else(|e| e.into_inner());
    *f = crate::faults::FaultState::new(crate::FaultConfig::default());
    json(200, &json!({"message": "faults cleared"}))
}

async fn get_requests(State(app): State<Arc<App>>) -> Response {
    let c = app.counter.lock().unwrap_or_else(|e| e.into_inner());
    let list: Vec<Value> = c.counts.iter().map(|((m, r), n)| json!({"method": m, "route": r, "count": n})).collect();
    let total: u64 = c.counts.values().sum();
    json(200, &json!({"total": total, "requests": list}))
}

async fn clear_requests(State(app): State<Arc<App>>) -> impl IntoResponse {
    let mut c = app.counter.lock().unwrap_or_else(|e| e.into_inner());
    c.counts.clear();
    json(200, &json!({"message": "request counts cleared"}))
}
