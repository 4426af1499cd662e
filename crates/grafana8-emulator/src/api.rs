//! The route table (pkg/api/api.go and the ngalert generated routes at v8.5.4) and the small
//! handlers: health, org, API keys, users, teams, and the emulator's own admin routes.

use crate::auth::{Identity, encode_key};
use crate::http::{R, bind_fields, err_plain, err_trace, json, mw_err, parse_query, query_i64, query_str, raw_json};
use crate::server::{App, auth_mw, authenticate, fault_mw};
use crate::state::{ApiKey, Role};
use crate::util::{avatar_url, avatar_url_with_default, generate_short_uid};
use crate::{alerting, dashboards, datasources, folders, prometheus_api, ruler};
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

pub(crate) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/api/org", get(get_org))
        .route("/api/org/users", get(org_users))
        .route("/api/org/users/lookup", get(org_users_lookup))
        .route("/api/user", get(get_user))
        .route("/api/users/lookup", get(users_lookup))
        .route("/api/teams/search", get(teams_search))
        .route("/api/teams/{id}", get(get_team))
        .route("/api/auth/keys", get(list_keys).post(add_key))
        .route("/api/auth/keys/{id}", delete(delete_key))
        .merge(folders::routes())
        .merge(ruler::routes())
        .merge(prometheus_api::routes())
        .merge(datasources::routes())
        .merge(alerting::routes())
        .merge(dashboards::routes())
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

/// pkg/api/org.go `GetCurrentOrg`.
async fn get_org(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    let db = app.db();
    let Some(org) = db.orgs.get(&id.org_id) else {
        return Err(err_plain(404, "Organization not found"));
    };
    Ok(json(
        200,
        &json!({"id": org.id, "name": org.name, "address": {"address1": "", "address2": "", "city": "", "zipCode": "", "state": "", "country": ""}}),
    ))
}

/// pkg/api/user.go `GetSignedInUser`: an API key has no user (404 `user not found`).
async fn get_user(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    let db = app.db();
    let Some(u) = db.users.get(&id.user_id) else {
        return Err(err_plain(404, "user not found"));
    };
    // getUserUserProfile: authLabels is an empty list and the avatar is set.
    Ok(json(200, &user_profile(u, json!([]), &avatar_url(&u.email))))
}

/// `models.UserProfileDTO`; `orgId` is the user's current org.
fn user_profile(u: &crate::state::User, auth_labels: Value, avatar: &str) -> Value {
    json!({
        "id": u.id, "email": u.email, "name": u.name, "login": u.login, "theme": "",
        "orgId": u.current_org, "isGrafanaAdmin": u.is_grafana_admin, "isDisabled": false,
        "isExternal": false, "authLabels": auth_labels, "updatedAt": u.created, "createdAt": u.created,
        "avatarUrl": avatar
    })
}

/// pkg/api/user.go `GetUserByLoginOrEmail` (server admins only).
async fn users_lookup(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    id.require_grafana_admin()?;
    let q = parse_query(req.uri().query());
    let key = query_str(&q, "loginOrEmail");
    let db = app.db();
    let Some(u) = db.users.values().find(|u| u.login == key || u.email == key) else {
        return Err(err_plain(404, "user not found"));
    };
    // GetUserByLoginOrEmail fills neither authLabels (null) nor the avatar.
    Ok(json(200, &user_profile(u, Value::Null, "")))
}

/// pkg/api/org_users.go `GetOrgUsersForCurrentOrg` (org admins).
async fn org_users(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    id.require_org_admin()?;
    let db = app.db();
    let list: Vec<Value> = db
        .org_users
        .iter()
        .filter(|((o, _), _)| *o == id.org_id)
        .filter_map(|((o, u), role)| db.users.get(u).map(|u| (o, u, role)))
        .map(|(o, u, role)| {
            json!({"orgId": o, "userId": u.id, "email": u.email, "name": u.name,
                   "avatarUrl": avatar_url(&u.email), "login": u.login, "role": role.as_str(),
                   "lastSeenAt": u.created, "lastSeenAtAge": "< 1 minute"})
        })
        .collect();
    Ok(json(200, &Value::Array(list)))
}

/// pkg/api/org_users.go `GetOrgUsersForCurrentOrgLookup`: login/email/name substring match,
/// behind `OrgAdminFolderAdminOrTeamAdmin` (pkg/middleware/auth.go): org admins, or callers
/// with Admin permission on some folder (team admins are not emulated).
async fn org_users_lookup(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    let q = parse_query(req.uri().query());
    let needle = query_str(&q, "query").to_lowercase();
    let limit = query_i64(&q, "limit");
    let db = app.db();
    let folder_admin = db.dashboards.values().any(|d| {
        d.org_id == id.org_id && d.is_folder && crate::auth::has_permission(&db, &id, d.id, crate::auth::PERM_ADMIN)
    });
    if !folder_admin {
        id.require_org_admin()?;
    }
    let mut list: Vec<Value> = db
        .org_users
        .keys()
        .filter(|(o, _)| *o == id.org_id)
        .filter_map(|(_, u)| db.users.get(u))
        .filter(|u| {
            needle.is_empty()
                || u.login.to_lowercase().contains(&needle)
                || u.email.to_lowercase().contains(&needle)
                || u.name.to_lowercase().contains(&needle)
        })
        .map(|u| json!({"userId": u.id, "login": u.login, "avatarUrl": avatar_url(&u.email)}))
        .collect();
    if limit > 0 {
        list.truncate(limit as usize);
    }
    Ok(json(200, &Value::Array(list)))
}

fn team_json(t: &crate::state::Team) -> Value {
    json!({"id": t.id, "orgId": t.org_id, "name": t.name, "email": t.email,
           "avatarUrl": avatar_url_with_default(&t.email, &t.name), "memberCount": t.members.len(), "permission": 0,
           "accessControl": null})
}

/// pkg/api/team.go `SearchTeams` with RBAC off: org admins see every team, other callers
/// only the teams they belong to; `name` is exact, `query` a substring.
async fn teams_search(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    let q = parse_query(req.uri().query());
    let (query, name) = (query_str(&q, "query").to_lowercase(), query_str(&q, "name"));
    let mut per_page = query_i64(&q, "perpage");
    if per_page <= 0 {
        per_page = 1000;
    }
    let mut page = query_i64(&q, "page");
    if page < 1 {
        page = 1;
    }
    let db = app.db();
    let mut teams: Vec<&crate::state::Team> = db
        .teams
        .values()
        .filter(|t| t.org_id == id.org_id)
        .filter(|t| id.role == Some(Role::Admin) || (id.user_id > 0 && t.members.contains(&id.user_id)))
        .filter(|t| name.is_empty() || t.name == name)
        .filter(|t| query.is_empty() || t.name.to_lowercase().contains(&query))
        .collect();
    teams.sort_by(|a, b| a.name.cmp(&b.name));
    let total = teams.len();
    let list: Vec<Value> = teams
        .into_iter()
        .skip((page - 1).saturating_mul(per_page) as usize)
        .take(per_page as usize)
        .map(team_json)
        .collect();
    Ok(json(200, &json!({"totalCount": total, "teams": list, "page": page, "perPage": per_page})))
}

/// pkg/api/team.go `GetTeamByID`.
async fn get_team(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(team): Path<String>) -> R {
    let team_id = crate::http::parse_id(&team)?;
    let db = app.db();
    let visible = |t: &&crate::state::Team| {
        t.org_id == id.org_id && (id.role == Some(Role::Admin) || (id.user_id > 0 && t.members.contains(&id.user_id)))
    };
    match db.teams.get(&team_id).filter(visible) {
        Some(t) => Ok(json(200, &team_json(t))),
        None => Err(err_trace(404, "Team not found")),
    }
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
