//! Legacy notification channels (pkg/api/alerting.go, pkg/api/dtos/alerting.go,
//! pkg/services/alerting/service.go, pkg/services/sqlstore/alert_notification.go) and the
//! unified Alertmanager configuration document (pkg/services/ngalert/api/api_alertmanager.go,
//! notifier/alertmanager_config.go, notifier/crypto.go, notifier/receivers.go,
//! api/tooling/definitions/alertmanager.go) at v8.5.4.

use crate::am_config::{self, Invalid};
use crate::auth::Identity;
use crate::http::{R, bad_request_data, bind, bind_fields, err_plain, err_trace, go_normalise, json, json_map};
use crate::notifier_settings::{ChannelError, validate_channel, validate_receiver};
use crate::server::App;
use crate::state::Channel;
use crate::util::{generate_short_uid, is_short_uid_too_long, now_go_and_db, now_rfc3339};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const AM_CONFIG: &str = "/api/alertmanager/grafana/config/api/v1/alerts";

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(AM_CONFIG, get(get_am_config).post(post_am_config).delete(delete_am_config))
        .route("/api/alert-notifications", get(list_channels).post(create_channel))
        .route("/api/alert-notifications/lookup", get(lookup_channels))
        .route(
            "/api/alert-notifications/{id}",
            get(get_channel_by_id).put(update_channel_by_id).delete(delete_channel_by_id),
        )
        .route(
            "/api/alert-notifications/uid/{uid}",
            get(get_channel_by_uid).put(update_channel_by_uid).delete(delete_channel_by_uid),
        )
}

// ---------------------------------------------------------------------------------------------
// Alertmanager configuration document

struct PostedReceiverConfig {
    uid: String,
    name: String,
    r#type: String,
    disable_resolve_message: bool,
    settings: Value,
    secure_settings: BTreeMap<String, String>,
}

struct PostedReceiver {
    name: String,
    configs: Vec<PostedReceiverConfig>,
    /// Alertmanager-style integrations (email_configs, …), kept verbatim.
    am_configs: Map<String, Value>,
}

/// The Alertmanager integrations of `config.Receiver` (the vendored config/config.go); other
/// `*_configs` keys are unknown fields, which decoding ignores.
const AM_RECEIVER_KEYS: &[&str] = &[
    "email_configs",
    "pagerduty_configs",
    "slack_configs",
    "webhook_configs",
    "opsgenie_configs",
    "wechat_configs",
    "pushover_configs",
    "victorops_configs",
    "sns_configs",
];

/// Decodes and validates `PostableUserConfig` as `web.Bind` does (definitions/alertmanager.go
/// `PostableUserConfig.UnmarshalJSON` → `PostableApiAlertingConfig.UnmarshalJSON` →
/// `Config.UnmarshalJSON`, then the receivers and `validate`); every failure is a decoding
/// error, answered 400 `bad request data`, except the inputs whose decoding panics.
fn decode_am_config(body: &Value) -> Result<(Value, Value, Vec<PostedReceiver>), Invalid> {
    let bad = |m: &str| Invalid::Decode(m.to_string());
    let obj = body.as_object().ok_or_else(|| bad("json: cannot unmarshal into PostableUserConfig"))?;
    // `map[string]string`: a null value decodes as "".
    let template_files = match obj.get("template_files") {
        None | Some(Value::Null) => Value::Null,
        Some(v) => {
            let m: BTreeMap<String, Option<String>> =
                serde_json::from_value(v.clone()).map_err(|e| Invalid::Decode(e.to_string()))?;
            json!(m.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect::<BTreeMap<_, _>>())
        }
    };
    let amc = match obj.get("alertmanager_config") {
        None | Some(Value::Null) => return Err(bad("no routes provided")),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(bad("json: cannot unmarshal into PostableApiAlertingConfig")),
    };
    let decoded = am_config::decode(amc)?;
    let list: Vec<Value> = match amc.get("receivers") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(bad("json: cannot unmarshal into []*PostableApiReceiver")),
    };
    let mut receivers = vec![];
    let (mut has_grafana, mut has_am) = (false, false);
    for r in list {
        // A null receiver is a nil *PostableApiReceiver, which validate dereferences.
        let robj = match &r {
            Value::Object(o) => o,
            Value::Null => return Err(Invalid::Panic),
            _ => return Err(bad("json: cannot unmarshal into PostableApiReceiver")),
        };
        let s = |v: Option<&Value>| -> Result<String, Invalid> {
            match v {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(bad("json: cannot unmarshal into string")),
            }
        };
        let name = s(robj.get("name"))?;
        let mut configs = vec![];
        let grafana_list: Vec<Value> = match robj.get("grafana_managed_receiver_configs") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(bad("json: cannot unmarshal into []*PostableGrafanaReceiver")),
        };
        for c in grafana_list {
            // A nil *PostableGrafanaReceiver: LoadSecureSettings reads its UID.
            let c = match &c {
                Value::Object(o) => o,
                Value::Null => return Err(Invalid::Panic),
                _ => return Err(bad("json: cannot unmarshal into PostableGrafanaReceiver")),
            };
            let secure: BTreeMap<String, Option<String>> = match c.get("secureSettings") {
                None | Some(Value::Null) => BTreeMap::new(),
                Some(v) => serde_json::from_value(v.clone()).map_err(|e| Invalid::Decode(e.to_string()))?,
            };
            configs.push(PostedReceiverConfig {
                uid: s(c.get("uid"))?,
                name: s(c.get("name"))?,
                r#type: s(c.get("type"))?,
                disable_resolve_message: match c.get("disableResolveMessage") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    _ => return Err(bad("json: cannot unmarshal into bool")),
                },
                settings: c.get("settings").cloned().unwrap_or(Value::Null),
                secure_settings: secure.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect(),
            });
        }
        let mut am_configs = Map::new();
        for key in AM_RECEIVER_KEYS {
            match robj.get(*key) {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) => {
                    am_configs.insert((*key).to_string(), Value::Array(a.clone()));
                }
                Some(_) => return Err(bad("json: cannot unmarshal into []*config")),
            }
        }
        // PostableApiReceiver.UnmarshalJSON: no Alertmanager integrations (sns excepted) next
        // to Grafana ones in one receiver.
        let am_in_use =
            am_configs.iter().any(|(k, v)| k != "sns_configs" && v.as_array().is_some_and(|a| !a.is_empty()));
        if !configs.is_empty() && am_in_use {
            return Err(bad("cannot have both Alertmanager and Grafana receivers together"));
        }
        // PostableApiReceiver.Type: Grafana with Grafana integrations, else Alertmanager when
        // any integration list is set (even empty), else Empty.
        if !configs.is_empty() {
            has_grafana = true;
        } else if !am_configs.is_empty() {
            has_am = true;
        }
        receivers.push(PostedReceiver { name, configs, am_configs });
    }
    // PostableApiAlertingConfig.validate and PostableUserConfig.validate.
    if has_grafana && has_am {
        return Err(bad("cannot mix Alertmanager & Grafana receiver types"));
    }
    if decoded.root_continue {
        return Err(bad("cannot have continue in root route"));
    }
    let names: BTreeSet<&str> = receivers.iter().map(|r| r.name.as_str()).collect();
    if let Some(r) = decoded.route_receivers.iter().find(|r| !names.contains(r.as_str())) {
        return Err(Invalid::Decode(format!("unexpected receiver ({r}) is undefined")));
    }
    Ok((template_files, Value::Object(decoded.config), receivers))
}

/// All stored Grafana receiver configs by uid.
fn stored_receivers(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Some(list) = doc["alertmanager_config"]["receivers"].as_array() {
        for r in list {
            if let Some(cs) = r["grafana_managed_receiver_configs"].as_array() {
                for c in cs {
                    if let Some(uid) = c["uid"].as_str() {
                        out.insert(uid.to_string(), c.clone());
                    }
                }
            }
        }
    }
    out
}

/// `RouteGetAlertingConfig` (Editor, authorization.go) and `GetAlertmanagerConfiguration`:
/// secure settings become `secureFields` (only non-empty values).
async fn get_am_config(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    id.require_editor()?;
    let db = app.db();
    let Some(doc) = db.am_configs.get(&id.org_id) else {
        return Err(err_trace(404, "failed to get latest configuration: could not find an Alertmanager configuration"));
    };
    let amc = &doc["alertmanager_config"];
    let mut config = Map::new();
    for k in ["global", "route", "inhibit_rules", "mute_time_intervals", "templates"] {
        if let Some(v) = amc.get(k) {
            if k == "templates" || !v.is_null() {
                config.insert(k.into(), v.clone());
            }
        } else if k == "templates" {
            config.insert(k.into(), Value::Null);
        }
    }
    let mut receivers = vec![];
    for r in amc["receivers"].as_array().cloned().unwrap_or_default() {
        let mut out = Map::new();
        out.insert("name".into(), r["name"].clone());
        if let Some(o) = r.as_object() {
            for (k, v) in o {
                if k.ends_with("_configs") && k != "grafana_managed_receiver_configs" {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        let configs: Vec<Value> = r["grafana_managed_receiver_configs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let fields: BTreeMap<String, bool> = c["secureSettings"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .filter(|(_, v)| v.as_str().is_some_and(|s| !s.is_empty()))
                            .map(|(k, _)| (k.clone(), true))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({"uid": c["uid"], "name": c["name"], "type": c["type"],
                       "disableResolveMessage": c["disableResolveMessage"], "settings": go_normalise(&c["settings"]),
                       "secureFields": fields})
            })
            .collect();
        // `grafana_managed_receiver_configs` is omitempty.
        if !configs.is_empty() {
            out.insert("grafana_managed_receiver_configs".into(), Value::Array(configs));
        }
        receivers.push(Value::Object(out));
    }
    config.insert("receivers".into(), Value::Array(receivers));
    Ok(json(200, &json!({"template_files": doc["template_files"], "alertmanager_config": config})))
}

/// `RoutePostAlertingConfig` / `ApplyAlertmanagerConfiguration`: secure settings carried over
/// by receiver uid, an unknown uid is 400, missing uids are generated, receivers that cannot
/// be built are rejected, and the whole document is replaced.
async fn post_am_config(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_editor()?;
    // web.Bind ignores io.EOF: an empty body leaves a zero PostableUserConfig, whose nil
    // Route applyConfig dereferences (the recovery middleware answers).
    if body.iter().all(u8::is_ascii_whitespace) && crate::http::bind::<Value>(&headers, &body).is_ok() {
        return Err(panic_response());
    }
    let raw: Value = bind(&headers, &body)?;
    let (template_files, mut config, mut receivers) = decode_am_config(&raw).map_err(|e| match e {
        Invalid::Decode(_) => bad_request_data(),
        Invalid::Panic => panic_response(),
    })?;
    let mut db = app.db();
    let current = db.am_configs.get(&id.org_id).map(stored_receivers).unwrap_or_default();
    // crypto.go LoadSecureSettings
    for r in &mut receivers {
        for c in &mut r.configs {
            if c.uid.is_empty() {
                continue;
            }
            let Some(stored) = current.get(&c.uid) else {
                return Err(err_trace(400, &format!("unknown receiver: {}", c.uid)));
            };
            if let Some(m) = stored["secureSettings"].as_object() {
                for (k, v) in m {
                    c.secure_settings.entry(k.clone()).or_insert_with(|| v.as_str().unwrap_or("").to_string());
                }
            }
        }
    }
    // definitions/alertmanager.go processReceiverConfigs: generate missing uids.
    for r in &mut receivers {
        for c in &mut r.configs {
            if c.uid.is_empty() {
                c.uid = generate_short_uid();
            }
        }
    }
    let rejected = |e: String| err_trace(400, &format!("failed to save and apply Alertmanager configuration: {e}"));
    // alertmanager.go applyConfig: PersistTemplates and templateFromPaths (template.FromGlobs)
    // run before the receivers are built; their errors come back unwrapped inside
    // AlertmanagerConfigRejectedError (alertmanager_config.go), answered 400 by
    // RoutePostAlertingConfig.
    if let Ok(files) = serde_json::from_value::<BTreeMap<String, String>>(template_files.clone()) {
        crate::go_template::check_template_files(id.org_id, &files).map_err(rejected)?;
    }
    // alertmanager.go applyConfig -> buildIntegrationsMap
    for r in &receivers {
        for c in &r.configs {
            validate_receiver(&c.name, &c.r#type, &c.settings, &c.secure_settings).map_err(|e| {
                err_trace(
                    400,
                    &format!(
                        "failed to save and apply Alertmanager configuration: failed to build integration map: the receiver is invalid: {e}"
                    ),
                )
            })?;
        }
    }
    let list: Vec<Value> = receivers
        .into_iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("name".into(), json!(r.name));
            for (k, v) in r.am_configs {
                m.insert(k, v);
            }
            let cs: Vec<Value> = r
                .configs
                .into_iter()
                .map(|c| {
                    json!({"uid": c.uid, "name": c.name, "type": c.r#type, "disableResolveMessage": c.disable_resolve_message,
                           "settings": c.settings, "secureSettings": c.secure_settings})
                })
                .collect();
            m.insert("grafana_managed_receiver_configs".into(), Value::Array(cs));
            Value::Object(m)
        })
        .collect();
    if let Some(o) = config.as_object_mut() {
        o.insert("receivers".into(), Value::Array(list));
    }
    db.am_configs.insert(id.org_id, json!({"template_files": template_files, "alertmanager_config": config}));
    Ok(json(202, &json!({"message": "configuration created"})))
}

/// `RouteDeleteAlertingConfig`: the default configuration is applied (Editor role).
async fn delete_am_config(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    id.require_editor()?;
    app.db().am_configs.insert(id.org_id, am_config::default_am_config());
    Ok(json(202, &json!({"message": "configuration deleted; the default is applied"})))
}

// ---------------------------------------------------------------------------------------------
// Legacy notification channels

/// pkg/api/dtos/alerting.go `formatShort`.
fn format_short(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Go's `time.ParseDuration` (`[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units ns, us, µs, μs, ms,
/// s, m, h), in whole seconds truncated toward zero as `formatShort` shows them.
fn parse_go_duration(s: &str) -> Option<i64> {
    // Whole seconds, truncated toward zero.
    crate::util::go_parse_duration_nanos(s).map(|nanos| (nanos / 1_000_000_000) as i64)
}

fn channel_dto(c: &Channel) -> Value {
    let fields: BTreeMap<&str, bool> = c.secure_settings.keys().map(|k| (k.as_str(), true)).collect();
    json!({"id": c.id, "uid": c.uid, "name": c.name, "type": c.ch_type, "isDefault": c.is_default,
           "sendReminder": c.send_reminder, "disableResolveMessage": c.disable_resolve_message,
           "frequency": format_short(c.frequency_secs), "created": c.created, "updated": c.updated,
           "settings": go_normalise(&c.settings), "secureFields": fields})
}

/// The JSON names of the notification channel commands.
const CHANNEL_FIELDS: &[&str] = &[
    "id",
    "uid",
    "name",
    "type",
    "sendReminder",
    "disableResolveMessage",
    "frequency",
    "isDefault",
    "settings",
    "secureSettings",
];

#[derive(Deserialize, Default)]
struct ChannelCmd {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    ch_type: Option<String>,
    #[serde(default, rename = "sendReminder")]
    send_reminder: Option<bool>,
    #[serde(default, rename = "disableResolveMessage")]
    disable_resolve_message: Option<bool>,
    #[serde(default)]
    frequency: Option<String>,
    #[serde(default, rename = "isDefault")]
    is_default: Option<bool>,
    #[serde(default)]
    settings: Option<Value>,
    #[serde(default, rename = "secureSettings")]
    secure_settings: Option<BTreeMap<String, Option<String>>>,
}

/// pkg/api/alerting.go: a `ValidationError` is 400 with its text, other errors are 500 with
/// the handler's message.
fn channel_error(e: ChannelError, failed: &str) -> axum::response::Response {
    match e {
        ChannelError::Validation(reason) => err_trace(400, &format!("alert validation error: {reason}")),
        ChannelError::Other => err_trace(500, failed),
        ChannelError::Panic => panic_response(),
    }
}

fn secure_map(v: Option<BTreeMap<String, Option<String>>>) -> BTreeMap<String, String> {
    v.unwrap_or_default().into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect()
}

/// pkg/middleware/recovery.go: the body of a recovered panic on an API request.
pub(crate) fn panic_response() -> axum::response::Response {
    crate::http::raw_json(
        500,
        serde_json::to_vec(&json!({
            "error": "Server Error",
            "message": "Internal Server Error - Check the Grafana server logs for the detailed error message."
        }))
        .unwrap_or_default(),
        "application/json; charset=UTF-8",
    )
}

async fn list_channels(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    id.require_editor()?;
    let db = app.db();
    let mut list: Vec<&Channel> = db.channels.values().filter(|c| c.org_id == id.org_id).collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(json(200, &Value::Array(list.into_iter().map(channel_dto).collect())))
}

/// `GET /lookup` needs only sign-in.
async fn lookup_channels(State(app): State<Arc<App>>, Extension(id): Extension<Identity>) -> R {
    let db = app.db();
    let mut list: Vec<&Channel> = db.channels.values().filter(|c| c.org_id == id.org_id).collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    let out: Vec<Value> = list
        .into_iter()
        .map(|c| json!({"id": c.id, "uid": c.uid, "name": c.name, "type": c.ch_type, "isDefault": c.is_default}))
        .collect();
    Ok(json(200, &Value::Array(out)))
}

fn channel_not_found() -> axum::response::Response {
    err_plain(404, "Alert notification not found")
}

async fn get_channel_by_id(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
) -> R {
    id.require_editor()?;
    let cid: i64 = raw.parse().map_err(|_| err_trace(400, "notificationId is invalid"))?;
    let db = app.db();
    db.channels
        .get(&cid)
        .filter(|c| c.org_id == id.org_id)
        .map(|c| json(200, &channel_dto(c)))
        .ok_or_else(channel_not_found)
}

async fn get_channel_by_uid(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(uid): Path<String>,
) -> R {
    id.require_editor()?;
    let db = app.db();
    db.channels
        .values()
        .find(|c| c.org_id == id.org_id && c.uid == uid)
        .map(|c| json(200, &channel_dto(c)))
        .ok_or_else(channel_not_found)
}

fn required(cmd: &ChannelCmd) -> Result<(String, String), axum::response::Response> {
    let name = cmd.name.clone().unwrap_or_default();
    let t = cmd.ch_type.clone().unwrap_or_default();
    if name.is_empty() || t.is_empty() {
        return Err(bad_request_data());
    }
    Ok((name, t))
}

/// `CreateAlertNotification`: uid length (8.5.4), notifier validation, then the store's
/// name and uid uniqueness (both 409).
async fn create_channel(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_editor()?;
    let cmd: ChannelCmd = bind_fields(&headers, &body, CHANNEL_FIELDS)?;
    let (name, t) = required(&cmd)?;
    let uid = cmd.uid.clone().unwrap_or_default();
    if is_short_uid_too_long(&uid) {
        return Err(err_trace(400, "alert validation error: Invalid UID: Must be 40 characters or less"));
    }
    // service.go createNotifier → alerting.InitNotifier: the type's factory and its checks
    // (without settings most factories dereference nil and the recovery middleware answers).
    let secure = secure_map(cmd.secure_settings);
    let settings = cmd.settings.clone().filter(|v| !v.is_null());
    validate_channel(&t, settings.as_ref(), &secure)
        .map_err(|e| channel_error(e, "Failed to create alert notification"))?;
    let settings = settings.unwrap_or_else(|| json!({}));
    let mut db = app.db();
    let clash =
        db.channels.values().any(|c| c.org_id == id.org_id && (c.name == name || (!uid.is_empty() && c.uid == uid)));
    if clash {
        return Err(err_trace(409, "Failed to create alert notification"));
    }
    let send_reminder = cmd.send_reminder.unwrap_or(false);
    let mut frequency_secs = 0;
    if send_reminder {
        let f = cmd.frequency.clone().unwrap_or_default();
        if f.is_empty() {
            return Err(err_trace(500, "Failed to create alert notification"));
        }
        frequency_secs = parse_go_duration(&f).ok_or_else(|| err_trace(500, "Failed to create alert notification"))?;
    }
    let mut uid = uid;
    while uid.is_empty() || db.channels.values().any(|c| c.org_id == id.org_id && c.uid == uid) {
        uid = generate_short_uid();
    }
    let (now_go, now) = now_go_and_db();
    let cid = db.next_id("alert_notification");
    let c = Channel {
        id: cid,
        org_id: id.org_id,
        uid,
        name,
        ch_type: t,
        is_default: cmd.is_default.unwrap_or(false),
        send_reminder,
        disable_resolve_message: cmd.disable_resolve_message.unwrap_or(false),
        frequency_secs,
        settings,
        secure_settings: secure,
        created: now.clone(),
        updated: now,
    };
    let mut out = channel_dto(&c);
    // pkg/services/sqlstore/alert_notification.go:342: the answer is the inserted struct, whose
    // `Created`/`Updated` are `time.Now()`, not a read-back at the database's precision.
    out["created"] = json!(now_go);
    out["updated"] = json!(now_go);
    db.channels.insert(cid, c);
    Ok(json(200, &out))
}

/// Applies an update as sqlstore `UpdateAlertNotification(WithUid)` does.
fn apply_update(
    c: &mut Channel,
    cmd: &ChannelCmd,
    name: String,
    t: String,
    secure: Option<BTreeMap<String, String>>,
) -> Result<(), ()> {
    c.updated = now_rfc3339();
    c.settings = cmd.settings.clone().unwrap_or(Value::Null);
    if let Some(s) = secure.filter(|s| !s.is_empty()) {
        c.secure_settings = s;
    }
    c.name = name;
    c.ch_type = t;
    c.is_default = cmd.is_default.unwrap_or(false);
    c.send_reminder = cmd.send_reminder.unwrap_or(false);
    c.disable_resolve_message = cmd.disable_resolve_message.unwrap_or(false);
    if let Some(u) = cmd.uid.clone().filter(|u| !u.is_empty()) {
        c.uid = u;
    }
    if c.send_reminder {
        let f = cmd.frequency.clone().unwrap_or_default();
        c.frequency_secs = parse_go_duration(&f).filter(|_| !f.is_empty()).ok_or(())?;
    }
    Ok(())
}

/// `UpdateAlertNotification`: the id comes from the body (required), `settings` is required,
/// secure settings are merged, the notifier is validated; a missing channel or a name clash
/// is a 500.
async fn update_channel_by_id(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_editor()?;
    let cmd: ChannelCmd = bind_fields(&headers, &body, CHANNEL_FIELDS)?;
    let (name, t) = required(&cmd)?;
    let cid = cmd.id.unwrap_or(0);
    if cid == 0 || cmd.settings.is_none() || cmd.settings == Some(Value::Null) {
        return Err(bad_request_data());
    }
    let failed = || err_trace(500, "Failed to update alert notification");
    let mut db = app.db();
    let existing = db.channels.get(&cid).filter(|c| c.org_id == id.org_id).cloned();
    // fillWithSecureSettingsData (pkg/api/alerting.go) dereferences the missing channel when
    // secure settings are sent; the recovery middleware answers the panic.
    if existing.is_none() && cmd.secure_settings.as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(panic_response());
    }
    // service.go UpdateAlertNotification: the uid length, then createNotifier, which looks the
    // channel up ("unable to find the alert notification", a 500).
    let uid = cmd.uid.clone().unwrap_or_default();
    if is_short_uid_too_long(&uid) {
        return Err(err_trace(400, "alert validation error: Invalid UID: Must be 40 characters or less"));
    }
    let Some(existing) = existing else { return Err(failed()) };
    let mut secure = secure_map(cmd.secure_settings.clone());
    if !secure.is_empty() {
        for (k, v) in &existing.secure_settings {
            secure.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let merged = if secure.is_empty() { existing.secure_settings.clone() } else { secure.clone() };
    validate_channel(&t, cmd.settings.as_ref(), &merged)
        .map_err(|e| channel_error(e, "Failed to update alert notification"))?;
    if db
        .channels
        .values()
        .any(|c| c.org_id == id.org_id && c.id != cid && (c.name == name || (!uid.is_empty() && c.uid == uid)))
    {
        return Err(failed());
    }
    let mut c = existing;
    apply_update(&mut c, &cmd, name, t, Some(secure)).map_err(|()| failed())?;
    let out = channel_dto(&c);
    db.channels.insert(cid, c);
    Ok(json(200, &out))
}

/// `UpdateAlertNotificationByUID`: no notifier validation, and secure settings in the body
/// are ignored by the store.
async fn update_channel_by_uid(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(uid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    id.require_editor()?;
    let cmd: ChannelCmd = bind_fields(&headers, &body, CHANNEL_FIELDS)?;
    let (name, t) = required(&cmd)?;
    if cmd.settings.is_none() || cmd.settings == Some(Value::Null) {
        return Err(bad_request_data());
    }
    let failed = || err_trace(500, "Failed to update alert notification");
    let mut db = app.db();
    let existing = db.channels.values().find(|c| c.org_id == id.org_id && c.uid == uid).cloned();
    // fillWithSecureSettingsDataByUID dereferences a missing channel when secure settings are
    // sent.
    if existing.is_none() && cmd.secure_settings.as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(panic_response());
    }
    // service.go UpdateAlertNotificationWithUid: a ValidationError for either uid, which
    // UpdateAlertNotificationByUID answers as any other error; then the store's 404.
    let new_uid = cmd.uid.clone().unwrap_or_default();
    if is_short_uid_too_long(&uid) || is_short_uid_too_long(&new_uid) {
        return Err(failed());
    }
    let Some(existing) = existing else { return Err(err_plain(404, "alert notification not found")) };
    if db.channels.values().any(|c| {
        c.org_id == id.org_id && c.id != existing.id && (c.name == name || (!new_uid.is_empty() && c.uid == new_uid))
    }) {
        return Err(failed());
    }
    let mut c = existing;
    apply_update(&mut c, &cmd, name, t, None).map_err(|()| failed())?;
    let out = channel_dto(&c);
    db.channels.insert(c.id, c);
    Ok(json(200, &out))
}

async fn delete_channel_by_id(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(raw): Path<String>,
) -> R {
    id.require_editor()?;
    let cid: i64 = raw.parse().map_err(|_| err_trace(400, "notificationId is invalid"))?;
    let mut db = app.db();
    if db.channels.get(&cid).is_none_or(|c| c.org_id != id.org_id) {
        return Err(err_plain(404, "alert notification not found"));
    }
    db.channels.remove(&cid);
    Ok(json(200, &json!({"message": "Notification deleted"})))
}

async fn delete_channel_by_uid(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(uid): Path<String>,
) -> R {
    id.require_editor()?;
    let mut db = app.db();
    let Some(cid) = db.channels.values().find(|c| c.org_id == id.org_id && c.uid == uid).map(|c| c.id) else {
        return Err(err_plain(404, "alert notification not found"));
    };
    db.channels.remove(&cid);
    Ok(json_map(200, json!({"message": "Notification deleted", "id": cid})))
}
