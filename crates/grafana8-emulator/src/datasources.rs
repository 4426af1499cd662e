//! Data sources: pkg/api/datasources.go, pkg/api/datasource/validation.go,
//! pkg/api/dtos/datasource.go, pkg/models/datasource.go,
//! pkg/services/datasources/service/datasource_service.go and pkg/services/sqlstore/datasource.go
//! at v8.5.4. There is no `PUT /api/datasources/uid/:uid` in 8.5 (it arrives in 9.0).

use crate::auth::Identity;
use crate::http::{Field, R, bad_request_data, bind_go, err_plain, err_trace, go_quote, json, json_map, parse_param};
use crate::server::App;
use crate::state::{DataSource, Db};
use crate::util::generate_short_uid;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
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

/// pkg/api/datasource/validation.go `requiredURL` (looked up with the type as given).
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

/// pkg/api/datasources.go `validateURL` over pkg/api/datasource/validation.go `ValidateURL`:
/// 400 with the URL as Go's `%q` writes it and a trace id (the error is passed on).
fn validate_url(ds_type: &str, url: &str) -> Result<(), Response> {
    if url_is_valid(ds_type, url) {
        Ok(())
    } else {
        Err(err_trace(400, &format!("Validation error, invalid URL: {}", go_quote(url))))
    }
}

/// `ValidateURL`: an empty URL fails for the types in `requiredURL`; `mssql` (in any case) has
/// its own parser; other URLs get `http://` when they do not match `^[^:]*://`, then Go's
/// `url.Parse` decides.
fn url_is_valid(ds_type: &str, url: &str) -> bool {
    if URL_REQUIRED.contains(&ds_type) && url.trim().is_empty() {
        return false;
    }
    if ds_type.to_lowercase() == "mssql" {
        return mssql_url_is_valid(url);
    }
    let has_scheme = url.find(':').is_some_and(|i| url[i..].starts_with("://"));
    if has_scheme { go_url_parses(url) } else { go_url_parses(&format!("http://{url}")) }
}

/// pkg/tsdb/mssql/mssql.go `ParseURL`: the URL must match
/// `^[^\\:]+(?:\\[^:]+)?(?::\d+)?(?:;.+)?$` (RE2: `\d` is ASCII, `.` is not a newline). The
/// pattern is matched by hand rather than pulling a regex engine into the emulator for it.
fn mssql_url_is_valid(url: &str) -> bool {
    let c: Vec<char> = url.chars().collect();
    // `;.+$`, or nothing.
    let params = |c: &[char]| c.is_empty() || (c[0] == ';' && c.len() > 1 && !c[1..].contains(&'\n'));
    // `(?::\d+)?` then the parameters.
    let port = |c: &[char]| {
        params(c)
            || (c.first() == Some(&':') && {
                let digits = c[1..].iter().take_while(|x| x.is_ascii_digit()).count();
                (1..=digits).any(|k| params(&c[1 + k..]))
            })
    };
    // `(?:\\[^:]+)?` then the rest.
    let instance = |c: &[char]| {
        port(c)
            || (c.first() == Some(&'\\') && {
                let run = c[1..].iter().take_while(|x| **x != ':').count();
                (1..=run).any(|k| port(&c[1 + k..]))
            })
    };
    // `[^\\:]+`
    let host = c.iter().take_while(|x| **x != '\\' && **x != ':').count();
    (1..=host).any(|k| instance(&c[k..]))
}

/// Go 1.17 `url.Parse` succeeds: no control characters; the fragment and path are valid
/// %-escapes; a scheme, if the text starts with one, is followed by an opaque part or by a
/// path; the authority's userinfo holds only RFC 3986 userinfo characters and its host only
/// host characters, a numeric port, and %-escapes of non-ASCII bytes (or `%25` in brackets).
fn go_url_parses(raw: &str) -> bool {
    let (u, frag) = match raw.split_once('#') {
        Some((u, f)) => (u, f),
        None => (raw, ""),
    };
    if u.bytes().any(|b| b < b' ' || b == 0x7f) {
        return false;
    }
    if u == "*" {
        return unescapes(frag, Esc::Other);
    }
    // getScheme: letters, then letters, digits, `+`, `-` or `.`, up to a colon.
    let mut scheme = "";
    let mut rest = u;
    for (i, b) in u.bytes().enumerate() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return false, // missing protocol scheme
            b':' => {
                (scheme, rest) = (&u[..i], &u[i + 1..]);
                break;
            }
            _ => break,
        }
    }
    // The query is not validated.
    if !(rest.ends_with('?') && rest.matches('?').count() == 1) {
        rest = rest.split('?').next().unwrap_or("");
    } else {
        rest = &rest[..rest.len() - 1];
    }
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            return unescapes(frag, Esc::Other); // opaque
        }
        let segment = rest.split('/').next().unwrap_or("");
        if segment.contains(':') {
            return false; // first path segment in URL cannot contain colon
        }
    }
    if (!scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let (authority, path) = match rest[2..].find('/') {
            Some(i) => (&rest[2..2 + i], &rest[2 + i..]),
            None => (&rest[2..], ""),
        };
        if !authority_parses(authority) {
            return false;
        }
        rest = path;
    }
    unescapes(rest, Esc::Other) && unescapes(frag, Esc::Other)
}

fn authority_parses(authority: &str) -> bool {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    if !host_parses(host) {
        return false;
    }
    let Some(userinfo) = userinfo else { return true };
    let valid = userinfo.chars().all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c));
    valid && unescapes(userinfo, Esc::Other)
}

fn host_parses(host: &str) -> bool {
    let port_ok = |p: &str| p.is_empty() || p.strip_prefix(':').is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()));
    if host.starts_with('[') {
        let Some(i) = host.rfind(']') else { return false };
        if !port_ok(&host[i + 1..]) {
            return false;
        }
        if let Some(zone) = host[..i].find("%25") {
            return unescapes(&host[..zone], Esc::Host)
                && unescapes(&host[zone..i], Esc::Zone)
                && unescapes(&host[i..], Esc::Host);
        }
    } else if let Some(i) = host.rfind(':')
        && !port_ok(&host[i..])
    {
        return false;
    }
    unescapes(host, Esc::Host)
}

#[derive(Clone, Copy, PartialEq)]
enum Esc {
    Host,
    Zone,
    Other,
}

/// net/url `shouldEscape(c, encodeHost)` for ASCII: what may not appear as is in a host.
fn host_must_escape(c: u8) -> bool {
    !(c.is_ascii_alphanumeric() || b"!$&'()*+,;=:[]<>\"-_.~".contains(&c))
}

/// net/url `unescape` succeeds: every `%` starts two hex digits; in a host only non-ASCII bytes
/// (and `%25`) may be escaped and no other ASCII outside the host characters may appear.
fn unescapes(s: &str, mode: Esc) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !b[i + 1].is_ascii_hexdigit() || !b[i + 2].is_ascii_hexdigit() {
                return false;
            }
            let v = u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(0);
            let pct25 = &s[i..i + 3] == "%25";
            if mode == Esc::Host && v < 0x80 && !pct25 {
                return false;
            }
            if mode == Esc::Zone && !pct25 && v != b' ' && host_must_escape(v) {
                return false;
            }
            i += 3;
        } else {
            if mode != Esc::Other && b[i] < 0x80 && host_must_escape(b[i]) {
                return false;
            }
            i += 1;
        }
    }
    true
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

fn not_found() -> Response {
    err_plain(404, "Data source not found")
}

/// pkg/api/datasources.go `GetDataSources`: sorted by lower-cased name.
async fn list(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    id.require_org_admin()?;
    let db = app.db();
    // The SQL query orders by name (byte order); `sort.Sort` by lower-cased name then keeps
    // that order among equal keys for the usual short lists (insertion sort below 12 items).
    let mut items: Vec<&DataSource> = db.datasources.values().filter(|d| d.org_id == id.org_id).collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
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

/// pkg/api/datasources.go `GetDataSourceById`: id 0 is no identifier at all for the store
/// (sqlstore/datasource.go `getDataSource`, `ErrDataSourceIdentifierNotSet`).
async fn get_by_id(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(raw): Path<String>) -> R {
    id.require_org_admin()?;
    let ds_id = parse_param(&raw, "id")?;
    if ds_id == 0 {
        return Err(err_plain(400, "Datasource id is missing"));
    }
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

/// The JSON fields of `UpdateDataSourceCommand` (pkg/models/datasource.go:100-116); `jsonData`
/// is a `*simplejson.Json` and `secureJsonData` a map, so `null` empties them. The `json:"-"`
/// fields (`orgId`, `readOnly`, `id`) cannot be set from the body.
const UPDATE_FIELDS: &[(&str, Field)] = &[
    ("name", Field::Plain),
    ("type", Field::Plain),
    ("access", Field::Plain),
    ("url", Field::Plain),
    ("uid", Field::Plain),
    ("password", Field::Plain),
    ("user", Field::Plain),
    ("database", Field::Plain),
    ("basicAuth", Field::Plain),
    ("basicAuthUser", Field::Plain),
    ("basicAuthPassword", Field::Plain),
    ("withCredentials", Field::Plain),
    ("isDefault", Field::Plain),
    ("jsonData", Field::Nullable),
    ("secureJsonData", Field::Nullable),
    ("version", Field::Plain),
];

/// `AddDataSourceCommand` (pkg/models/datasource.go:74-89) is the same without `version`, the
/// last field above.
const ADD_FIELDS: &[(&str, Field)] = UPDATE_FIELDS.split_at(UPDATE_FIELDS.len() - 1).0;

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
fn required(cmd: &Cmd) -> Result<(String, String, String), Response> {
    let name = cmd.name.clone().unwrap_or_default();
    let ds_type = cmd.ds_type.clone().unwrap_or_default();
    let access = cmd.access.clone().unwrap_or_default();
    if name.is_empty() || ds_type.is_empty() || access.is_empty() {
        return Err(bad_request_data());
    }
    Ok((name, ds_type, access))
}

/// `jsonData` is kept as decoded into `interface{}` (any JSON value, not only an object) and
/// written back by `json.Marshal`, which sorts object keys; a missing or `null` one becomes
/// `simplejson.New()`, `{}` (sqlstore/datasource.go).
fn json_data(v: Option<Value>) -> Value {
    fn sorted(v: Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(pairs.into_iter().map(|(k, v)| (k, sorted(v))).collect())
            }
            Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
            v => v,
        }
    }
    match v {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v) => sorted(v),
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
    let cmd: Cmd = bind_go(&headers, &body, ADD_FIELDS)?;
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
    let cmd: Cmd = bind_go(&headers, &body, UPDATE_FIELDS)?;
    let (name, ds_type, access) = required(&cmd)?;
    let ds_id = parse_param(&raw, "id")?;
    let url = cmd.url.clone().unwrap_or_default();
    validate_url(&ds_type, &url)?;
    // getRawDataSourceById: id 0 is ErrDataSourceIdentifierNotSet, which is not "not found".
    if ds_id == 0 {
        return Err(err_trace(500, "Failed to update datasource"));
    }
    let mut db = app.db();
    let existing = find(&db, id.org_id, |d| d.id == ds_id).cloned().ok_or_else(not_found)?;
    if existing.read_only {
        return Err(err_plain(403, "Cannot update read-only data source"));
    }
    // sqlstore UpdateDataSource writes `Version: cmd.Version + 1` (Go's int wraps) and, unless
    // the body's version is 0, only `WHERE version < ds.Version`; no row updated is the 409.
    let version = cmd.version.unwrap_or(0);
    let new_version = version.wrapping_add(1);
    if version != 0 && existing.version >= new_version {
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
        version: new_version,
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
    let ds_id = parse_param(&raw, "id")?;
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

#[cfg(test)]
mod tests {
    use super::url_is_valid;

    // Each expectation was checked against Grafana's `ValidateURL` logic on Go's net/url, except
    // where marked: there Go 1.17 (Grafana 8.5.4's toolchain) differs from later releases.
    #[test]
    fn urls_validate_as_go_1_17_does() {
        let cases: &[(&str, &str, bool)] = &[
            ("prometheus", "http://127.0.0.1:9090", true),
            ("prometheus", "", false),
            ("prometheus", "  ", false),
            ("graphite-x", "", true),
            ("x", "  ", false),
            ("prometheus", "localhost:9090", true),
            ("prometheus", "localhost:90a", false),
            ("prometheus", "http://host:port", false),
            ("prometheus", "://foo", false),
            ("prometheus", "1http://foo", false),
            ("prometheus", "ht tp://foo", false),
            ("prometheus", "http://a b", false),
            ("prometheus", "http://x\n", false),
            ("prometheus", "http://x/%zz", false),
            ("prometheus", "http://x/%41", true),
            ("prometheus", "http://%41/", false),
            ("prometheus", "http://%c3%a9/", true),
            ("prometheus", "http://x#%zz", false),
            ("prometheus", "http://x?%zz", true),
            ("prometheus", "http://u:p@x", true),
            ("prometheus", "http://u p@x", false),
            ("prometheus", "http://u:p@ss@x", true),
            ("prometheus", "http://x{y}", false),
            ("prometheus", "http://x|y", false),
            ("prometheus", "http://x^y", false),
            ("prometheus", "http://x\\y", false),
            ("prometheus", "http://x`y", false),
            ("prometheus", "http://<x>", true),
            ("prometheus", "http://\"x\"", true),
            ("prometheus", "mailto:foo", false),
            ("prometheus", "http:foo", false),
            ("prometheus", "/x://y", true),
            ("prometheus", "http:///x", true),
            ("prometheus", "http://", true),
            ("prometheus", "http://é.com", true),
            ("prometheus", "http://x:", true),
            ("prometheus", "http://x:80/a b", true),
            ("prometheus", "HTTP://X", true),
            ("prometheus", "http://x?", true),
            ("prometheus", "http://x/%", false),
            // Go 1.17 checks only the text after the last colon; Go 1.26 rejects this.
            ("prometheus", "a:b://c", true),
            ("prometheus", "*", true),
            ("prometheus", "http://u%zz@x", false),
            ("prometheus", "http://u:%41@x", true),
            ("mssql", "localhost", true),
            ("mssql", "localhost:1433", true),
            ("mssql", "host\\inst:1433", true),
            ("mssql", "host\\inst;db=x", true),
            ("mssql", "host:14a", false),
            ("mssql", "host:", false),
            ("mssql", "http://host", false),
            ("MSSQL", "", false),
            ("mssql", "host;", true),
            ("mssql", "host;a\nb", true),
            ("mssql", "h\\:1", false),
            ("mssql", "h\\i\\j:1;x", true),
            ("MsSql", "a:1:2", false),
            ("mssql", "host;db:1", true),
            ("loki", "\t", false),
            ("prometheus", "http://x%20y", false),
            ("prometheus", "http://x%2", false),
            ("prometheus", "http://[::1%25en0]:80", true),
        ];
        for (ty, url, want) in cases {
            assert_eq!(url_is_valid(ty, url), *want, "{ty} {url:?}");
        }
    }
}
