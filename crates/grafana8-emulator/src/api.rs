//! The route table (pkg/api/api.go and the ngalert generated routes at v8.5.4) and the small
//! handlers: health, API keys and the emulator's own admin routes.

use crate::auth::{Identity, encode_key};
use crate::http::{Field, R, bind_go, err_plain, err_trace, json, mw_err, parse_query, raw_json};
use crate::server::{App, auth_mw, authenticate, fault_mw};
use crate::state::{ApiKey, Role};
use crate::version::{GRAFANA_COMMIT, GRAFANA_VERSION};
use crate::{
    alerting, dashboards, datasources, folders, frontend_settings, library_elements, orgs, preferences, prometheus_api,
    ruler, teams, users,
};
use axum::Router;
use axum::extract::{Extension, Path, Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/api/auth/keys", get(list_keys).post(add_key))
        .route("/api/auth/keys/{id}", delete(delete_key))
        .merge(folders::routes())
        .merge(ruler::routes())
        .merge(prometheus_api::routes())
        .merge(datasources::routes())
        .merge(alerting::routes())
        .merge(crate::silences::routes())
        .merge(crate::annotations::routes())
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

/// `models.RoleType` as a non-pointer field: its `UnmarshalJSON` (pkg/models/org_user.go) turns
/// `""` and `null` into `Viewer` and rejects any other value that is not a role, which fails
/// the bind (400 `bad request data`). A missing field stays empty for `binding:"Required"`.
#[derive(Default)]
enum KeyRole {
    #[default]
    Missing,
    Role(Role),
}

impl<'de> Deserialize<'de> for KeyRole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<KeyRole, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s.as_deref() {
            None | Some("") => Ok(KeyRole::Role(Role::Viewer)),
            Some(r) => Role::parse(r)
                .map(KeyRole::Role)
                .ok_or_else(|| serde::de::Error::custom(format!("JSON validation error: invalid role value: {r}"))),
        }
    }
}

/// pkg/models/apikey.go `AddApiKeyCommand`.
#[derive(Deserialize)]
struct AddKey {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: KeyRole,
    #[serde(default, rename = "secondsToLive")]
    seconds_to_live: i64,
}

const ADD_KEY_FIELDS: &[(&str, Field)] =
    &[("name", Field::Plain), ("role", Field::Nullable), ("secondsToLive", Field::Plain)];

/// pkg/api/apikey.go `AddAPIKey` (org admins; `api_key_max_seconds_to_live` is -1, so no
/// limit) and sqlstore/apikey.go `AddAPIKey`. `Invalid role specified` and `Cannot assign a
/// role higher than user's role` cannot happen: the bind only lets valid roles through and the
/// route is for org admins, who include every role.
async fn add_key(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> R {
    id.require_org_admin()?;
    let cmd: AddKey = bind_go(&headers, &body, ADD_KEY_FIELDS)?;
    // binding:"Required" on name and role.
    let (name, KeyRole::Role(role)) = (cmd.name, cmd.role) else {
        return Err(crate::http::bad_request_data());
    };
    if name.is_empty() {
        return Err(crate::http::bad_request_data());
    }
    let mut db = app.db();
    // The name is looked up first (expired keys included), then the lifetime is checked.
    if db.api_keys.values().any(|k| k.org_id == id.org_id && k.name == name) {
        return Err(err_plain(409, "API key, organization ID and name must be unique"));
    }
    let ttl = cmd.seconds_to_live;
    if ttl < 0 {
        return Err(err_plain(400, "negative value for SecondsToLive"));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let expires = (ttl > 0).then(|| go_expiry(now, ttl));
    let key_id = db.next_id("api_key");
    let secret = random_alphanumeric(32);
    db.api_keys.insert(
        key_id,
        ApiKey { id: key_id, org_id: id.org_id, name: name.clone(), secret: secret.clone(), role, expires },
    );
    Ok(json(200, &json!({"id": key_id, "name": name, "key": encode_key(&secret, &name, id.org_id)})))
}

/// `timeNow().Add(time.Second * time.Duration(secondsToLive)).Unix()`: the product is an int64
/// of nanoseconds and wraps for more than about 292 years.
fn go_expiry(now: std::time::Duration, secs: i64) -> i64 {
    let d = i128::from(secs.wrapping_mul(1_000_000_000));
    let t = now.as_nanos() as i128 + d;
    t.div_euclid(1_000_000_000) as i64
}

/// pkg/util/strings.go `GetRandomString`: alphanumerics.
fn random_alphanumeric(n: usize) -> String {
    use rand::Rng;
    const ALPHANUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..n).map(|_| ALPHANUM[rng.random_range(0..ALPHANUM.len())] as char).collect()
}

/// pkg/api/apikey.go `GetAPIKeys` and sqlstore `GetAPIKeys`: at most 100 keys by name, expired
/// ones (`expires < now`) only with `?includeExpired=true`.
async fn list_keys(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    id.require_org_admin()?;
    let include_expired = crate::http::query_bool(&parse_query(req.uri().query()), "includeExpired");
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let db = app.db();
    let mut keys: Vec<&ApiKey> = db
        .api_keys
        .values()
        .filter(|k| k.org_id == id.org_id && (include_expired || k.expires.is_none_or(|e| e >= now)))
        .collect();
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    let list: Vec<Value> = keys
        .into_iter()
        .take(100)
        .map(|k| {
            let mut v = json!({"id": k.id, "name": k.name, "role": k.role.as_str()});
            if let Some(e) = k.expires {
                v["expiration"] = json!(go_unix_rfc3339(e));
            }
            v
        })
        .collect();
    Ok(json(200, &Value::Array(list)))
}

/// `time.Unix(e, 0)` marshalled as RFC 3339 in UTC (the server's zone in the usual container);
/// a wrapped lifetime can put it before 1970.
fn go_unix_rfc3339(e: i64) -> String {
    let (days, secs) = (e.div_euclid(86_400), e.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// pkg/api/apikey.go `DeleteAPIKey`.
async fn delete_key(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(key): Path<String>) -> R {
    id.require_org_admin()?;
    let key_id = crate::http::parse_param(&key, "id")?;
    let mut db = app.db();
    match db.api_keys.get(&key_id) {
        Some(k) if k.org_id == id.org_id => {
            db.api_keys.remove(&key_id);
            Ok(json(200, &json!({"message": "API key deleted"})))
        }
        // ErrApiKeyNotFound is passed on: a trace id.
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

#[cfg(test)]
mod tests {
    use super::{go_expiry, go_unix_rfc3339};
    use std::time::Duration;

    // The expectations are Go's json.Marshal(time.Unix(e, 0).UTC()) and
    // time.Unix(1000, 5e8).Add(time.Second * time.Duration(n)).Unix().
    #[test]
    fn unix_times_format_as_go_marshals_them_in_utc() {
        assert_eq!(go_unix_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(go_unix_rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(go_unix_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(go_unix_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(go_unix_rfc3339(-7_000_000_000), "1748-03-06T11:33:20Z");
    }

    #[test]
    fn lifetimes_wrap_as_go_durations_do() {
        let now = Duration::new(1_000, 500_000_000);
        assert_eq!(go_expiry(now, 60), 1_060);
        // 9_223_372_037 s is just over i64::MAX ns: the duration wraps to about -292 years.
        assert_eq!(go_expiry(now, 9_223_372_037), -9_223_371_037);
    }
}
