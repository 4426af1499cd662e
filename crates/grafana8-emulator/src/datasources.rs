//! Data sources: pkg/api/datasources.go, pkg/api/datasource/validation.go,
//! pkg/api/dtos/datasource.go, pkg/models/datasource.go,
//! pkg/services/datasources/service/datasource_service.go and pkg/services/sqlstore/datasource.go
//! at v8.5.4. There is no `PUT /api/datasources/uid/:uid` in 8.5 (it arrives in 9.0).

use crate::auth::Identity;
use crate::http::{R, bad_request_data, bind_fields, err_plain, err_trace, json, json_map, parse_id};
use crate::server::App;
use crate::state::{DataSource, Db};
use crate::util::generate_short_uid;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/datasources", get(list).post(add))
        .route("/api/datasources/{id}", get(get_by_id).put(update).delete(delete_by_id))
        .route("/api/datasources/uid/{uid}", get(get_by_uid).delete(delete_by_uid))
        .route("/api/datasources/name/{name}", get(get_by_name).delete(delete_by_name))
        .route("/api/datasources/id/{name}", get(id_by_name))
}

/// pkg/api/datasource/validation.go `requiredURL`.
const URL_REQUIRED: &[&str] = &[
    "graphite",
    "influxdb",
    "influxdb_08",
    "elasticsearch",
    "prometheus",
    "alertmanager",
    "jaeger",
    "loki",
    "opentsdb",
    "tempo",
    "zipkin",
    "mysql",
    "postgres",
    "mssql",
];

/// pkg/api/datasource/validation.go `ValidateURL`: a scheme is prefixed when missing, then Go's
/// `url.Parse` runs; it rejects control characters and spaces in the host.
fn validate_url(ds_type: &str, url: &str) -> Result<(), axum::response::Response> {
    let bad = || err_trace(400, &format!("Validation error, invalid URL: {}", go_quote(url)));
    if URL_REQUIRED.contains(&ds_type) && url.trim().is_empty() {
        return Err(bad());
    }
    if url.chars().any(|c| c.is_control()) {
        return Err(bad());
    }
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.contains(' ') {
        return Err(bad());
    }
    Ok(())
}

/// Go's `%q` for plain strings.
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// pkg/api/datasources.go `convertModelToDtos`.
fn dto(ds: &DataSource) -> Value {
    let fields: BTreeMap<&str, bool> = ds.secure_json_data.keys().map(|k| (k.as_str(), true)).collect();
    json!({
        "id": ds.id, "uid": ds.uid, "orgId": ds.org_id, "name": ds.name, "type": ds.ds_type,
        "typeLogoUrl": "", "access": ds.access, "url": ds.url, "password": ds.password, "user": ds.user,
        "database": ds.database, "basicAuth": ds.basic_auth, "basicAuthUser": ds.basic_auth_user,
        "basicAuthPassword": ds.basic_auth_password, "withCredentials": ds.with_credentials,
        "isDefault": ds.is_default, "jsonData": ds.json_data, "secureJsonFields": fields,
        "version": ds.version, "readOnly": ds.read_only,
    })
}

/// Display names and logos of the core data source plugins (their plugin.json at v8.5.4).
fn plugin_info(ds_type: &str) -> Option<(&'static str, &'static str)> {
    Some(match ds_type {
        "prometheus" => ("Prometheus", "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg"),
        "loki" => ("Loki", "public/app/plugins/datasource/loki/img/loki_icon.svg"),
        "alertmanager" => ("Alertmanager", "public/app/plugins/datasource/alertmanager/img/logo.svg"),
        "graphite" => ("Graphite", "public/app/plugins/datasource/graphite/img/graphite_logo.png"),
        "elasticsearch" => ("Elasticsearch", "public/app/plugins/datasource/elasticsearch/img/elasticsearch.svg"),
        "influxdb" => ("InfluxDB", "public/app/plugins/datasource/influxdb/img/influxdb_logo.svg"),
        "tempo" => ("Tempo", "public/app/plugins/datasource/tempo/img/tempo_logo.svg"),
        "testdata" => ("TestData DB", "public/app/plugins/datasource/testdata/img/testdata.svg"),
        _ => return None,
    })
}

fn find(db: &Db, org: i64, f: impl Fn(&DataSource) -> bool) -> Option<&DataSource> {
    db.datasources.values().find(|d| d.org_id == org && f(d))
}

fn not_found() -> axum::response::Response {
    err_plain(404, "Data source not found")
}

/// pkg/api/datasources.go `GetDataSources`: sorted by lower-cased name.
async fn list(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    id.require_org_admin()?;
    let db = app.db();
    let mut items: Vec<&DataSource> = db.datasources.values().filter(|d| d.org_id == id.org_id).collect();
    items.sort_by_key(|d| d.name.to_lowercase());
    let out: Vec<Value> = items
        .into_iter()
        .map(|d| {
            let (type_name, logo) =
                plugin_info(&d.ds_type).unwrap_or((d.ds_type.as_str(), "public/img/icn-datasource.svg"));
            json!({"id": d.id, "uid": d.uid, "orgId": d.org_id, "name": d.name, "type": d.ds_type,
                   "typeName": type_name, "typeLogoUrl": logo, "access": d.access, "url": d.url,
                   "password": d.password, "user": d.user, "database": d.database, "basicAuth": d.basic_auth,
                   "isDefault": d.is_default, "jsonData": d.json_data, "readOnly": d.read_only})
        })
        .collect();
    Ok(json(200, &Value::Array(out)))
}

async fn get_by_id(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(raw): Path<String>) -> R {
    id.require_org_admin()?;
    let ds_id = parse_id(&raw)?;
    let db = app.db();
    find(&db, id.org_id, |d| d.id == ds_id).map(|d| json(200, &dto(d))).ok_or_else(not_found)
}

async fn get_by_uid(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(uid): Path<String>) -> R {
    id.require_org_admin()?;
    let db = app.db();
    find(&db, id.org_id, |d| d.uid == uid).map(|d| json(200, &dto(d))).ok_or_else(not_found)
}

async fn get_by_name(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(name): Path<String>) -> R {
    id.require_org_admin()?;
    let db = app.db();
    find(&db, id.org_id, |d| d.name == name).map(|d| json(200, &dto(d))).ok_or_else(not_found)
}

/// `GetDataSourceIdByName`: signed-in only.
async fn id_by_name(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(name): Path<String>) -> R {
    let db = app.db();
    find(&db, id.org_id, |d| d.name == name).map(|d| json(200, &json!({"id": d.id}))).ok_or_else(not_found)
}

/// The JSON names of `AddDataSourceCommand` / `UpdateDataSourceCommand`.
const CMD_FIELDS: &[&str] = &[
    "name",
    "type",
    "access",
    "url",
    "uid",
    "password",
    "user",
    "database",
    "basicAuth",
    "basicAuthUser",
    "basicAuthPassword",
    "withCredentials",
    "isDefault",
    "jsonData",
    "secureJsonData",
    "version",
];

#[derive(Deserialize, Default)]
struct Cmd {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    ds_type: Option<String>,
    #[serde(default)]
    access: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    database: Option<String>,
    #[serde(default, rename = "basicAuth")]
    basic_auth: Option<bool>,
    #[serde(default, rename = "basicAuthUser")]
    basic_auth_user: Option<String>,
    #[serde(default, rename = "basicAuthPassword")]
    basic_auth_password: Option<String>,
    #[serde(default, rename = "withCredentials")]
    with_credentials: Option<bool>,
    #[serde(default, rename = "isDefault")]
    is_default: Option<bool>,
    #[serde(default, rename = "jsonData")]
    json_data: Option<Value>,
    #[serde(default, rename = "secureJsonData")]
    secure_json_data: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    version: Option<i64>,
}

/// `binding:"Required"` on name, type and access.
fn required(cmd: &Cmd) -> Result<(String, String, String), axum::response::Response> {
    let name = cmd.name.clone().unwrap_or_default();
    let ds_type = cmd.ds_type.clone().unwrap_or_default();
    let access = cmd.access.clone().unwrap_or_default();
    if name.is_empty() || ds_type.is_empty() || access.is_empty() {
        return Err(bad_request_data());
    }
    Ok((name, ds_type, access))
}

fn json_data(v: Option<Value>) -> Value {
    match v {
        Some(Value::Object(m)) => Value::Object(m),
        _ => Value::Object(Map::new()),
    }
}

fn secure(v: Option<BTreeMap<String, Option<String>>>) -> BTreeMap<String, String> {
    v.unwrap_or_default().into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect()
}

/// `isDefault: true` clears the flag on the org's other data sources (updateIsDefaultFlag).
fn set_default(db: &mut Db, org: i64, keep: i64) {
    for d in db.datasources.values_mut().filter(|d| d.org_id == org && d.id != keep) {
        d.is_default = false;
    }
}

/// pkg/api/datasources.go `AddDataSource`; the URL is only validated when given.
async fn add(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, headers: HeaderMap, body: Bytes) -> R {
    id.require_org_admin()?;
    let cmd: Cmd = bind_fields(&headers, &body, CMD_FIELDS)?;
    let (name, ds_type, access) = required(&cmd)?;
    let url = cmd.url.clone().unwrap_or_default();
    if !url.is_empty() {
        validate_url(&ds_type, &url)?;
    }
    let mut db = app.db();
    if find(&db, id.org_id, |d| d.name == name).is_some() {
        return Err(err_trace(409, "data source with the same name already exists"));
    }
    let mut uid = cmd.uid.clone().unwrap_or_default();
    if uid.is_empty() {
        while uid.is_empty() || find(&db, id.org_id, |d| d.uid == uid).is_some() {
            uid = generate_short_uid();
        }
    } else if find(&db, id.org_id, |d| d.uid == uid).is_some() {
        return Err(err_trace(409, "data source with the same uid already exists"));
    }
    let ds_id = db.next_id("data_source");
    let ds = DataSource {
        id: ds_id,
        org_id: id.org_id,
        uid,
        name: name.clone(),
        ds_type,
        access,
        url,
        password: cmd.password.unwrap_or_default(),
        user: cmd.user.unwrap_or_default(),
        database: cmd.database.unwrap_or_default(),
        basic_auth: cmd.basic_auth.unwrap_or(false),
        basic_auth_user: cmd.basic_auth_user.unwrap_or_default(),
        basic_auth_password: cmd.basic_auth_password.unwrap_or_default(),
        with_credentials: cmd.with_credentials.unwrap_or(false),
        is_default: cmd.is_default.unwrap_or(false),
        json_data: json_data(cmd.json_data),
        secure_json_data: secure(cmd.secure_json_data),
        version: 1,
        read_only: false,
    };
    if ds.is_default {
        set_default(&mut db, id.org_id, ds_id);
    }
    let out = json!({"message": "Datasource added", "id": ds_id, "name": name, "datasource": dto(&ds)});
    db.datasources.insert(ds_id, ds);
    Ok(json_map(200, out))
}

/// pkg/api/datasources.go `UpdateDataSource` and sqlstore `UpdateDataSource`: a near-full
/// replace where empty url, database, basicAuthUser and uid keep the stored value, secure data
/// is merged, and the version rule is `stored <= body version` (0 means unconditional).
async fn update(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_org_admin()?;
    let cmd: Cmd = bind_fields(&headers, &body, CMD_FIELDS)?;
    let (name, ds_type, access) = required(&cmd)?;
    let ds_id = parse_id(&raw)?;
    let url = cmd.url.clone().unwrap_or_default();
    validate_url(&ds_type, &url)?;
    let mut db = app.db();
    let existing = find(&db, id.org_id, |d| d.id == ds_id).cloned().ok_or_else(not_found)?;
    if existing.read_only {
        return Err(err_plain(403, "Cannot update read-only data source"));
    }
    let version = cmd.version.unwrap_or(0);
    if version != 0 && existing.version > version {
        return Err(err_trace(409, "Datasource has already been updated by someone else. Please reload and try again"));
    }
    let uid = cmd.uid.clone().unwrap_or_default();
    let clash = find(&db, id.org_id, |d| d.id != ds_id && (d.name == name || (!uid.is_empty() && d.uid == uid)));
    if clash.is_some() {
        return Err(err_trace(500, "Failed to update datasource"));
    }
    let mut secure_data = existing.secure_json_data.clone();
    for (k, v) in secure(cmd.secure_json_data) {
        secure_data.insert(k, v);
    }
    let keep = |new: Option<String>, old: &str| new.filter(|s| !s.is_empty()).unwrap_or_else(|| old.to_string());
    let ds = DataSource {
        id: ds_id,
        org_id: id.org_id,
        uid: keep(cmd.uid, &existing.uid),
        name: name.clone(),
        ds_type,
        access,
        url: keep(cmd.url, &existing.url),
        password: cmd.password.unwrap_or_default(),
        user: cmd.user.unwrap_or_default(),
        database: keep(cmd.database, &existing.database),
        basic_auth: cmd.basic_auth.unwrap_or(false),
        basic_auth_user: keep(cmd.basic_auth_user, &existing.basic_auth_user),
        basic_auth_password: cmd.basic_auth_password.unwrap_or_default(),
        with_credentials: cmd.with_credentials.unwrap_or(false),
        is_default: cmd.is_default.unwrap_or(false),
        json_data: json_data(cmd.json_data),
        secure_json_data: secure_data,
        version: version.saturating_add(1),
        read_only: false,
    };
    if ds.is_default {
        set_default(&mut db, id.org_id, ds_id);
    }
    let out = json!({"message": "Datasource updated", "id": ds_id, "name": name, "datasource": dto(&ds)});
    db.datasources.insert(ds_id, ds);
    Ok(json_map(200, out))
}

async fn delete_by_id(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(raw): Path<String>) -> R {
    id.require_org_admin()?;
    let ds_id = parse_id(&raw)?;
    if ds_id <= 0 {
        return Err(err_plain(400, "Missing valid datasource id"));
    }
    let mut db = app.db();
    let ds = find(&db, id.org_id, |d| d.id == ds_id).cloned().ok_or_else(not_found)?;
    if ds.read_only {
        return Err(err_plain(403, "Cannot delete read-only data source"));
    }
    db.datasources.remove(&ds.id);
    Ok(json(200, &json!({"message": "Data source deleted"})))
}

async fn delete_by_uid(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(uid): Path<String>) -> R {
    id.require_org_admin()?;
    delete_where(&app, &id, |d| d.uid == uid)
}

async fn delete_by_name(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(name): Path<String>,
) -> R {
    id.require_org_admin()?;
    delete_where(&app, &id, |d| d.name == name)
}

fn delete_where(app: &App, id: &Identity, f: impl Fn(&DataSource) -> bool) -> R {
    let mut db = app.db();
    let ds = find(&db, id.org_id, f).cloned().ok_or_else(not_found)?;
    if ds.read_only {
        return Err(err_plain(403, "Cannot delete read-only data source"));
    }
    db.datasources.remove(&ds.id);
    Ok(json_map(200, json!({"message": "Data source deleted", "id": ds.id})))
}
