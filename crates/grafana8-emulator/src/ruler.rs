//! The unified-alerting ruler API for Grafana-managed rules: pkg/services/ngalert/api/api_ruler.go,
//! api_ruler_validation.go, fork_ruler.go, authorization.go, util.go,
//! api/tooling/definitions/cortex-ruler.go, models/alert_rule.go, models/alert_query.go and
//! store/alert_rule.go, all at v8.5.4.

use crate::apierrors::{access_denied, folder_not_found};
use crate::auth::{Identity, PERM_EDIT, PERM_VIEW, has_permission};
use crate::http::{R, bad_request_data, err_trace, go_escape, go_normalise, json, parse_query, query_str, raw_json};
use crate::server::App;
use crate::state::{AlertQuery, AlertRule, Dash, Db, RuleJson, StoredRule};
use crate::util::{format_go_duration, format_prom_duration, generate_short_uid, now_rfc3339, parse_prom_duration};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

const BASE: &str = "/api/ruler/grafana/api/v1/rules";
/// store.AlertRuleMaxTitleLength and AlertRuleMaxRuleGroupNameLength.
const MAX_LEN: usize = 190;
/// `[unified_alerting] min_interval` default, the base interval of the scheduler.
const BASE_INTERVAL_SECS: i64 = 10;
/// `DefaultRuleEvaluationInterval` (pkg/setting/setting_unified_alerting.go).
const DEFAULT_INTERVAL_SECS: i64 = 60;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(BASE, get(get_all))
        .route(&format!("{BASE}/{{Namespace}}"), get(get_namespace).post(post_group).delete(delete_rules))
        .route(&format!("{BASE}/{{Namespace}}/{{Groupname}}"), get(get_group).delete(delete_rules))
}

/// store.GetNamespaceByTitle: exact title among the org's folders, view permission, and with
/// `with_can_save` the guardian's CanSave (else `ErrCannotEditNamespace`, which
/// `toNamespaceErrorResponse` answers as `ErrResp(403, err, err.Error())`).
fn namespace_by_title<'a>(db: &'a Db, id: &Identity, title: &str, with_can_save: bool) -> Result<&'a Dash, Response> {
    let f = db
        .dashboards
        .values()
        .find(|d| d.org_id == id.org_id && d.is_folder && d.folder_id == 0 && d.title == title)
        .ok_or_else(folder_not_found)?;
    if !has_permission(db, id, f.id, PERM_VIEW) {
        return Err(access_denied());
    }
    if with_can_save && !has_permission(db, id, f.id, PERM_EDIT) {
        return Err(err_trace(
            403,
            "user does not have permissions to edit the namespace: user does not have permissions to edit the namespace",
        ));
    }
    Ok(f)
}

fn query_json(q: &AlertQuery) -> Value {
    let model: Value = serde_json::from_str(&q.model).unwrap_or(Value::Null);
    json!({
        "refId": q.ref_id,
        "queryType": q.query_type,
        "relativeTimeRange": {"from": q.from, "to": q.to},
        "datasourceUid": q.datasource_uid,
        "model": model,
    })
}

fn string_map(m: &Option<BTreeMap<String, String>>) -> Option<Value> {
    m.as_ref().filter(|m| !m.is_empty()).map(|m| json!(m))
}

/// api_ruler.go `toGettableExtendedRuleNode`; `ApiRuleNode` is always set, so `expr` is always
/// present while `for`, `labels` and `annotations` are omitempty.
fn rule_node(r: &AlertRule, namespace_id: i64) -> Value {
    let mut m = Map::new();
    m.insert("expr".into(), json!(""));
    if r.for_ms > 0 {
        m.insert("for".into(), json!(format_prom_duration(Duration::from_millis(r.for_ms))));
    }
    if let Some(l) = string_map(&r.labels) {
        m.insert("labels".into(), l);
    }
    if let Some(a) = string_map(&r.annotations) {
        m.insert("annotations".into(), a);
    }
    m.insert(
        "grafana_alert".into(),
        json!({
            "id": r.id,
            "orgId": r.org_id,
            "title": r.title,
            "condition": r.condition,
            "data": r.data.iter().map(query_json).collect::<Vec<_>>(),
            "updated": r.updated,
            "intervalSeconds": r.interval_seconds,
            "version": r.version,
            "uid": r.uid,
            "namespace_uid": r.namespace_uid,
            "namespace_id": namespace_id,
            "rule_group": r.rule_group,
            "no_data_state": r.no_data_state,
            "exec_err_state": r.exec_err_state,
        }),
    );
    Value::Object(m)
}

/// `GettableRuleGroupConfig`; `interval` is omitempty. The reference for [`GroupText`].
#[cfg(test)]
fn group_json(name: &str, rules: &[&AlertRule], namespace_id: i64) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if let Some(first) = rules.first()
        && first.interval_seconds != 0
    {
        let interval = Duration::from_secs(first.interval_seconds.max(0) as u64);
        m.insert("interval".into(), json!(format_prom_duration(interval)));
    }
    m.insert("rules".into(), Value::Array(rules.iter().map(|r| rule_node(r, namespace_id)).collect()));
    Value::Object(m)
}

/// A namespace id no folder has, marking where [`rule_json`] splits a rule's text.
const NAMESPACE_ID_MARK: i64 = i64::MIN;

/// [`rule_node`] serialised and HTML-escaped once per row version, split around the
/// namespace id. Only string fields follow `namespace_id`, and every `"` inside a JSON string
/// is escaped, so the last `"namespace_id":<mark>` is the field itself.
fn rule_json(r: &AlertRule) -> RuleJson {
    let text = go_escape(&serde_json::to_string(&rule_node(r, NAMESPACE_ID_MARK)).unwrap_or_default());
    let key = "\"namespace_id\":";
    let marked = format!("{key}{NAMESPACE_ID_MARK}");
    let at = text.rfind(&marked).unwrap_or(text.len());
    let split = (at + key.len()).min(text.len());
    let rest = (at + marked.len()).min(text.len());
    RuleJson { head: text[..split].to_string(), tail: text[rest..].to_string() }
}

/// Writes a JSON string as Go's encoder does (HTML-safe escaping).
fn push_go_str(out: &mut String, s: &str) {
    out.push_str(&go_escape(&serde_json::to_string(s).unwrap_or_default()));
}

/// `GettableRuleGroupConfig` (`interval` is omitempty) in parts: the rules' cached texts are
/// shared, so a group is assembled without the lock and without re-serialising its rules.
struct GroupText {
    /// `{"name":..,"interval":..,"rules":[`
    head: String,
    rules: Vec<Arc<RuleJson>>,
}

impl GroupText {
    fn new(name: &str, rules: &[&StoredRule]) -> GroupText {
        let mut head = String::from("{\"name\":");
        push_go_str(&mut head, name);
        if let Some(first) = rules.first()
            && first.interval_seconds != 0
        {
            let interval = Duration::from_secs(first.interval_seconds.max(0) as u64);
            head.push_str(",\"interval\":");
            push_go_str(&mut head, &format_prom_duration(interval));
        }
        head.push_str(",\"rules\":[");
        GroupText { head, rules: rules.iter().map(|r| r.json(rule_json)).collect() }
    }

    fn len(&self) -> usize {
        self.head.len() + 2 + self.rules.iter().map(|r| r.head.len() + r.tail.len() + 21).sum::<usize>()
    }

    fn write(&self, out: &mut String, namespace_id: i64) {
        out.push_str(&self.head);
        for (i, r) in self.rules.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&r.head);
            out.push_str(&namespace_id.to_string());
            out.push_str(&r.tail);
        }
        out.push_str("]}");
    }
}

/// `{"<key>":[groups..],..}` as Go's encoder writes the equivalent map (HTML-safe escaping), for keys in sorted
/// order: a repeated key (two folders with one title) keeps its position and its last value.
fn namespaces_text(namespaces: Vec<(String, i64, Vec<GroupText>)>) -> String {
    let mut kept: Vec<(String, i64, Vec<GroupText>)> = Vec::with_capacity(namespaces.len());
    for (key, ns_id, groups) in namespaces {
        match kept.last_mut().filter(|(k, _, _)| *k == key) {
            Some(slot) => *slot = (key, ns_id, groups),
            None => kept.push((key, ns_id, groups)),
        }
    }
    let size: usize = kept.iter().map(|(k, _, g)| k.len() + 8 + g.iter().map(|g| g.len() + 1).sum::<usize>()).sum();
    let mut out = String::with_capacity(size + 2);
    out.push('{');
    for (i, (key, ns_id, groups)) in kept.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_go_str(&mut out, key);
        out.push_str(":[");
        for (j, g) in groups.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            g.write(&mut out, *ns_id);
        }
        out.push(']');
    }
    out.push('}');
    out
}

fn text_response(status: u16, text: String) -> Response {
    raw_json(status, text.into_bytes(), "application/json")
}

/// A folder's rules by group name. Grafana builds this from a Go map, so group order is
/// random there; the emulator sorts groups by name. Rules keep `id ASC` (store ListAlertRules).
fn groups_of<'a>(db: &'a Db, org_id: i64, namespace_uid: &str) -> Vec<(&'a str, Vec<&'a StoredRule>)> {
    db.rules.groups(org_id, namespace_uid)
}

/// api_ruler.go `RouteGetRulesConfig`: 200, folders the caller can view that hold rules.
async fn get_all(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    let q = parse_query(req.uri().query());
    let namespaces = {
        let db = app.db();
        let visible: Vec<&Dash> = db
            .dashboards
            .values()
            .filter(|d| d.org_id == id.org_id && d.is_folder && has_permission(&db, &id, d.id, PERM_VIEW))
            .filter(|d| db.rules.namespace_has_rules(id.org_id, &d.uid))
            .collect();
        if visible.is_empty() {
            return Ok(json(200, &json!({})));
        }
        let dashboard_uid = query_str(&q, "dashboard_uid");
        let panel_id = crate::prometheus_api::panel_id_from_query(&q)?;
        if dashboard_uid.is_empty() && panel_id != 0 {
            return Err(err_trace(400, "panel_id must be set with dashboard_uid"));
        }
        let mut namespaces = vec![];
        let mut folders = visible;
        folders.sort_by(|a, b| a.title.cmp(&b.title));
        for f in folders {
            let mut groups = groups_of(&db, id.org_id, &f.uid);
            if !dashboard_uid.is_empty() {
                for (_, rules) in &mut groups {
                    rules.retain(|r| {
                        r.dashboard_uid.as_deref() == Some(dashboard_uid)
                            && (panel_id == 0 || r.panel_id == Some(panel_id))
                    });
                }
                groups.retain(|(_, rules)| !rules.is_empty());
            }
            if groups.is_empty() {
                continue;
            }
            let list = groups.iter().map(|(g, rules)| GroupText::new(g, rules)).collect();
            namespaces.push((f.title.clone(), f.id, list));
        }
        namespaces
    };
    Ok(text_response(200, namespaces_text(namespaces)))
}

/// api_ruler.go `RouteGetNamespaceRulesConfig`: 202 (sic), keyed by the title from the path.
async fn get_namespace(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, Path(ns): Path<String>) -> R {
    let (ns_id, list) = {
        let db = app.db();
        let f = namespace_by_title(&db, &id, &ns, false)?;
        let groups = groups_of(&db, id.org_id, &f.uid);
        (f.id, groups.iter().map(|(g, rules)| GroupText::new(g, rules)).collect::<Vec<_>>())
    };
    let namespaces = if list.is_empty() { vec![] } else { vec![(ns, ns_id, list)] };
    Ok(text_response(202, namespaces_text(namespaces)))
}

/// api_ruler.go `RouteGetRulesGroupConfig`: 202 (sic); a missing group is an empty group.
async fn get_group(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path((ns, group)): Path<(String, String)>,
) -> R {
    let (ns_id, text) = {
        let db = app.db();
        let f = namespace_by_title(&db, &id, &ns, false)?;
        (f.id, GroupText::new(&group, &db.rules.group(id.org_id, &f.uid, &group)))
    };
    let mut out = String::with_capacity(text.len());
    text.write(&mut out, ns_id);
    Ok(text_response(202, out))
}

/// api_ruler.go `RouteDeleteAlertRules` (both DELETE routes in 8.5.0-8.5.4): the route needs
/// the Editor role (authorization.go fallback `ReqEditorRole`), the folder needs CanSave, and
/// the answer is 202 `rules deleted` even when nothing matched.
async fn delete_rules(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(params): Path<Vec<(String, String)>>,
) -> R {
    id.require_editor()?;
    let ns = params.iter().find(|(k, _)| k == "Namespace").map(|(_, v)| v.clone()).unwrap_or_default();
    let group = params.iter().find(|(k, _)| k == "Groupname").map(|(_, v)| v.clone());
    let mut db = app.db();
    let f_uid = namespace_by_title(&db, &id, &ns, true)?.uid.clone();
    db.rules.remove_in_namespace(id.org_id, &f_uid, group.as_deref());
    Ok(json(202, &json!({"message": "rules deleted"})))
}

/// A submitted rule after decoding (`PostableExtendedRuleNode`).
struct PostRule {
    /// Whether any `ApiRuleNode` key was present (Go allocates the embedded pointer then).
    has_api_node: bool,
    for_ms: u64,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    grafana: Option<PostGrafana>,
}

struct PostGrafana {
    title: String,
    condition: String,
    data: Vec<AlertQuery>,
    uid: String,
    no_data_state: String,
    exec_err_state: String,
}

/// Decode errors, including the `UnmarshalJSON` validators of cortex-ruler.go, all end as
/// 400 `bad request data` (pkg/web/binding.go).
type DecodeResult<T> = Result<T, ()>;

fn raw_str(v: Option<&RawValue>) -> DecodeResult<String> {
    match v {
        None => Ok(String::new()),
        Some(r) => match serde_json::from_str::<Value>(r.get()).map_err(|_| ())? {
            Value::Null => Ok(String::new()),
            Value::String(s) => Ok(s),
            _ => Err(()),
        },
    }
}

/// `model.Duration.UnmarshalJSON` (prometheus/common v0.32.1): strings only. It implements
/// `json.Unmarshaler`, so a `null` reaches it too and is the empty string, which does not
/// parse ("empty duration string").
fn raw_prom_duration(v: Option<&RawValue>) -> DecodeResult<u64> {
    match v {
        None => Ok(0),
        Some(r) => match serde_json::from_str::<Value>(r.get()).map_err(|_| ())? {
            Value::String(s) => parse_prom_duration(&s).map(|d| d.as_millis() as u64).map_err(|_| ()),
            _ => Err(()),
        },
    }
}

fn raw_string_map(v: Option<&RawValue>) -> DecodeResult<Option<BTreeMap<String, String>>> {
    match v {
        None => Ok(None),
        Some(r) => {
            let m: Option<BTreeMap<String, Value>> = serde_json::from_str(r.get()).map_err(|_| ())?;
            match m {
                None => Ok(None),
                Some(m) => {
                    let mut out = BTreeMap::new();
                    for (k, v) in m {
                        match v {
                            Value::String(s) => {
                                out.insert(k, s);
                            }
                            Value::Null => {
                                out.insert(k, String::new());
                            }
                            _ => return Err(()),
                        }
                    }
                    Ok(Some(out))
                }
            }
        }
    }
}

/// models.Duration.UnmarshalJSON: a JSON number of seconds, truncated to whole seconds.
fn raw_seconds(v: Option<&Value>) -> DecodeResult<i64> {
    match v {
        None => Ok(0),
        Some(Value::Number(n)) => Ok(n.as_f64().ok_or(())?.trunc() as i64),
        Some(_) => Err(()),
    }
}

fn decode_query(raw: &RawValue) -> DecodeResult<AlertQuery> {
    // A null element of `[]AlertQuery` is the zero query.
    if raw.get().trim() == "null" {
        return Ok(AlertQuery {
            ref_id: String::new(),
            query_type: String::new(),
            from: 0,
            to: 0,
            datasource_uid: String::new(),
            model: String::new(),
        });
    }
    let m: HashMap<String, Box<RawValue>> = serde_json::from_str(raw.get()).map_err(|_| ())?;
    let get = |k: &str| m.get(k).map(|b| b.as_ref());
    let (from, to) = match get("relativeTimeRange") {
        None => (0, 0),
        Some(r) => match serde_json::from_str::<Value>(r.get()).map_err(|_| ())? {
            Value::Null => (0, 0),
            Value::Object(o) => (raw_seconds(o.get("from"))?, raw_seconds(o.get("to"))?),
            _ => return Err(()),
        },
    };
    Ok(AlertQuery {
        ref_id: raw_str(get("refId"))?,
        query_type: raw_str(get("queryType"))?,
        from,
        to,
        datasource_uid: raw_str(get("datasourceUid"))?,
        // json.RawMessage keeps the exact bytes; a missing model stays empty.
        model: get("model").map(|r| r.get().to_string()).unwrap_or_default(),
    })
}

fn decode_rule(raw: &RawValue) -> DecodeResult<PostRule> {
    let m: HashMap<String, Box<RawValue>> = serde_json::from_str(raw.get()).map_err(|_| ())?;
    let get = |k: &str| m.get(k).map(|b| b.as_ref());
    let api_keys = ["record", "alert", "expr", "for", "labels", "annotations"];
    let has_api_node = api_keys.iter().any(|k| m.contains_key(*k));
    let record = raw_str(get("record"))?;
    let _alert = raw_str(get("alert"))?;
    let expr = raw_str(get("expr"))?;
    let for_ms = raw_prom_duration(get("for"))?;
    let labels = raw_string_map(get("labels"))?;
    let annotations = raw_string_map(get("annotations"))?;
    let grafana = match get("grafana_alert") {
        None => None,
        Some(r) if r.get().trim() == "null" => None,
        Some(r) => {
            let g: HashMap<String, Box<RawValue>> = serde_json::from_str(r.get()).map_err(|_| ())?;
            let gget = |k: &str| g.get(k).map(|b| b.as_ref());
            let data = match gget("data") {
                None => vec![],
                Some(d) if d.get().trim() == "null" => vec![],
                Some(d) => {
                    let items: Vec<Box<RawValue>> = serde_json::from_str(d.get()).map_err(|_| ())?;
                    items.iter().map(|i| decode_query(i)).collect::<DecodeResult<Vec<_>>>()?
                }
            };
            Some(PostGrafana {
                title: raw_str(gget("title"))?,
                condition: raw_str(gget("condition"))?,
                data,
                uid: raw_str(gget("uid"))?,
                no_data_state: raw_str(gget("no_data_state"))?,
                exec_err_state: raw_str(gget("exec_err_state"))?,
            })
        }
    };
    // PostableExtendedRuleNode.validate
    if !has_api_node && grafana.is_none() {
        return Err(());
    }
    if grafana.is_some() && has_api_node && (!expr.is_empty() || !record.is_empty()) {
        return Err(());
    }
    Ok(PostRule { has_api_node, for_ms, labels, annotations, grafana })
}

struct PostGroup {
    name: String,
    interval_ms: u64,
    rules: Vec<PostRule>,
}

fn decode_group(headers: &HeaderMap, body: &[u8]) -> Result<PostGroup, Response> {
    // web.Bind's content-type rule.
    let _: Value = crate::http::bind(headers, body)?;
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    let inner = || -> DecodeResult<PostGroup> {
        let m: HashMap<String, Box<RawValue>> =
            serde_json::from_str(std::str::from_utf8(body).map_err(|_| ())?).map_err(|_| ())?;
        let get = |k: &str| m.get(k).map(|b| b.as_ref());
        let rules = match get("rules") {
            None => vec![],
            Some(r) if r.get().trim() == "null" => vec![],
            Some(r) => {
                let items: Vec<Box<RawValue>> = serde_json::from_str(r.get()).map_err(|_| ())?;
                items.iter().map(|i| decode_rule(i)).collect::<DecodeResult<Vec<_>>>()?
            }
        };
        // PostableRuleGroupConfig.validate: no mixing.
        let graf = rules.iter().filter(|r| r.grafana.is_some()).count();
        if graf > 0 && graf < rules.len() {
            return Err(());
        }
        Ok(PostGroup { name: raw_str(get("name"))?, interval_ms: raw_prom_duration(get("interval"))?, rules })
    };
    inner().map_err(|()| bad_request_data())
}

/// api_ruler_validation.go `validateRuleNode` for one rule.
fn validate_rule_node(
    db: &Db,
    id: &Identity,
    node: &PostRule,
    group: &str,
    interval_secs: i64,
    ns_uid: &str,
) -> Result<AlertRule, String> {
    let Some(g) = &node.grafana else {
        return Err("not Grafana managed alert rule".into());
    };
    let can_patch = !g.uid.is_empty();
    if g.title.is_empty() && !can_patch {
        return Err("alert rule title cannot be empty".into());
    }
    if g.title.len() > MAX_LEN {
        return Err(format!("alert rule title is too long. Max length is {MAX_LEN}"));
    }
    let no_data_state = match g.no_data_state.as_str() {
        "" if can_patch => String::new(),
        "" => "NoData".into(),
        s @ ("Alerting" | "NoData" | "OK") => s.to_string(),
        s => return Err(format!("unknown NoData state option {s}")),
    };
    let exec_err_state = match g.exec_err_state.as_str() {
        "" if can_patch => String::new(),
        "" => "Alerting".into(),
        s @ ("Alerting" | "Error" | "OK") => s.to_string(),
        s => return Err(format!("unknown Error state option {s}")),
    };
    if g.data.is_empty() {
        if can_patch {
            if !g.condition.is_empty() {
                return Err("invalid alert rule: query is not specified by condition is. You must specify both query and condition to update existing alert rule".into());
            }
        } else {
            return Err("invalid alert rule: no queries or expressions are found".into());
        }
    } else {
        // util.go validateCondition / validateQueriesAndExpressions.
        let mut refs: Vec<&str> = vec![];
        for q in &g.data {
            let is_expr = q.datasource_uid == "__expr__" || q.datasource_uid == "-100";
            // datasources/service/cache_service.go GetDatasourceByUID: an empty uid is refused
            // before the look-up (ErrDataSourceNotFound otherwise).
            let not_found = if q.datasource_uid.is_empty() {
                Some("can not get data source by uid, uid is empty")
            } else {
                db.datasource_by_uid(id.org_id, &q.datasource_uid).is_none().then_some("data source not found")
            };
            if let Some(reason) = not_found.filter(|_| !is_expr) {
                return Err(format!(
                    "failed to validate condition of alert rule {}: invalid query {}: {reason}: {}",
                    g.title, q.ref_id, q.datasource_uid
                ));
            }
            if !refs.contains(&q.ref_id.as_str()) {
                refs.push(&q.ref_id);
            }
        }
        if !refs.contains(&g.condition.as_str()) {
            // Grafana lists the refIds in Go map order; the emulator lists them sorted.
            refs.sort_unstable();
            return Err(format!(
                "failed to validate condition of alert rule {}: condition {} not found in any query or expression: it should be one of: [{}]",
                g.title,
                g.condition,
                refs.join(",")
            ));
        }
    }
    let mut rule = AlertRule {
        id: 0,
        org_id: id.org_id,
        title: g.title.clone(),
        condition: g.condition.clone(),
        data: g.data.clone(),
        updated: String::new(),
        interval_seconds: interval_secs,
        version: 0,
        uid: g.uid.clone(),
        namespace_uid: ns_uid.to_string(),
        dashboard_uid: None,
        panel_id: None,
        rule_group: group.to_string(),
        no_data_state,
        exec_err_state,
        for_ms: 0,
        annotations: None,
        labels: None,
    };
    if node.has_api_node {
        rule.for_ms = node.for_ms;
        rule.annotations = node.annotations.clone();
        rule.labels = node.labels.clone();
        let ann = node.annotations.as_ref();
        let dash = ann.and_then(|a| a.get("__dashboardUid__")).cloned().unwrap_or_default();
        let panel = ann.and_then(|a| a.get("__panelId__")).cloned().unwrap_or_default();
        if dash.is_empty() != panel.is_empty() {
            return Err("both annotations __dashboardUid__ and __panelId__ must be specified".into());
        }
        if !dash.is_empty() {
            let p: i64 =
                panel.parse().map_err(|_| "annotation __panelId__ must be a valid integer Panel ID".to_string())?;
            rule.dashboard_uid = Some(dash);
            rule.panel_id = Some(p);
        }
    }
    Ok(rule)
}

/// models.PatchPartialAlertRule.
fn patch(existing: &AlertRule, r: &mut AlertRule) {
    if r.title.is_empty() {
        r.title = existing.title.clone();
    }
    if r.condition.is_empty() || r.data.is_empty() {
        r.condition = existing.condition.clone();
        r.data = existing.data.clone();
    }
    if r.interval_seconds == 0 {
        r.interval_seconds = existing.interval_seconds;
    }
    if r.namespace_uid.is_empty() {
        r.namespace_uid = existing.namespace_uid.clone();
    }
    if r.rule_group.is_empty() {
        r.rule_group = existing.rule_group.clone();
    }
    if r.exec_err_state.is_empty() {
        r.exec_err_state = existing.exec_err_state.clone();
    }
    if r.no_data_state.is_empty() {
        r.no_data_state = existing.no_data_state.clone();
    }
    if r.for_ms == 0 {
        r.for_ms = existing.for_ms;
    }
}

/// The `encoding/json` error texts for decoding a non-object into `map[string]interface{}`.
fn go_unmarshal_map_error(model: &str) -> Option<String> {
    if model.trim().is_empty() {
        return Some("unexpected end of JSON input".into());
    }
    let kind = match serde_json::from_str::<Value>(model) {
        Ok(Value::Object(_)) | Ok(Value::Null) => return None,
        Ok(Value::Array(_)) => "array",
        Ok(Value::String(_)) => "string",
        Ok(Value::Number(_)) => "number",
        Ok(Value::Bool(_)) => "bool",
        Err(_) => return Some("invalid character in JSON".into()),
    };
    Some(format!("json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"))
}

/// How `AlertQuery.PreSave` fails.
enum PresaveError {
    /// An error, answered 500 after "invalid alert query <refId>: ".
    Msg(String),
    /// A `null` model unmarshals into a nil map that setMaxDatapoints then writes to.
    Panic,
}

impl From<String> for PresaveError {
    fn from(s: String) -> Self {
        PresaveError::Msg(s)
    }
}

/// `AlertRule.PreSave` for every query, as a response.
fn presave_all(r: &mut AlertRule, wrap: impl Fn(String) -> String) -> Result<(), Response> {
    for q in &mut r.data {
        match presave(q) {
            Ok(()) => {}
            Err(PresaveError::Msg(e)) => {
                return Err(err_trace(500, &wrap(format!("invalid alert query {}: {e}", q.ref_id))));
            }
            Err(PresaveError::Panic) => return Err(crate::alerting::panic_response()),
        }
    }
    Ok(())
}

/// Go's `%v` of a decoded JSON value (`interface{}`): `<nil>`, `map[k:v]` with sorted keys,
/// `[a b]`, floats in `%g`-like shortest form.
fn go_fmt_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 1e21 { format!("{}", f as i128) } else { format!("{f}") }
        }
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_fmt_v).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            format!("map[{}]", keys.iter().map(|k| format!("{k}:{}", go_fmt_v(&o[*k]))).collect::<Vec<_>>().join(" "))
        }
    }
}

/// models.AlertQuery.PreSave: `queryType` from the model, `intervalMs`/`maxDataPoints`
/// defaults, the model re-marshalled with sorted keys, and the relative-time-range check.
fn presave(q: &mut AlertQuery) -> Result<(), PresaveError> {
    if q.model.trim() == "null" {
        return Err(PresaveError::Panic);
    }
    if let Some(e) = go_unmarshal_map_error(&q.model) {
        return Err(format!("failed to set query type to query model: failed to unmarshal query model: {e}").into());
    }
    let mut props = match serde_json::from_str::<Value>(&q.model) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(qt) = props.get("queryType") {
        match qt {
            Value::String(s) => q.query_type = s.clone(),
            other => {
                return Err(format!(
                    "failed to set query type to query model: failed to get queryType from query model: {}",
                    go_fmt_v(other)
                )
                .into());
            }
        }
    }
    for (key, default) in [("maxDataPoints", 43200), ("intervalMs", 1000)] {
        let ok = props.get(key).and_then(Value::as_f64).is_some_and(|f| f != 0.0);
        if !ok {
            props.insert(key.into(), json!(default));
        }
    }
    q.model = go_escape(&serde_json::to_string(&go_normalise(&Value::Object(props))).unwrap_or_default());
    let is_expr = q.datasource_uid == "__expr__" || q.datasource_uid == "-100";
    if !is_expr && q.from <= q.to {
        return Err(format!(
            "invalid relative time range: {{From:{} To:{}}}",
            format_go_duration(q.from),
            format_go_duration(q.to)
        )
        .into());
    }
    Ok(())
}

/// store.validateAlertRule.
fn store_validate(r: &AlertRule) -> Result<(), String> {
    let p = "invalid alert rule";
    if r.data.is_empty() {
        return Err(format!("{p}: no queries or expressions are found"));
    }
    if r.title.is_empty() {
        return Err(format!("{p}: title is empty"));
    }
    if r.interval_seconds % BASE_INTERVAL_SECS != 0 || r.interval_seconds <= 0 {
        return Err(format!(
            "{p}: interval ({}) should be non-zero and divided exactly by scheduler interval: 10s",
            format_go_duration(r.interval_seconds)
        ));
    }
    if r.title.len() > MAX_LEN {
        return Err(format!("{p}: name length should not be greater than {MAX_LEN}"));
    }
    if r.rule_group.len() > MAX_LEN {
        return Err(format!("{p}: rule group name length should not be greater than {MAX_LEN}"));
    }
    Ok(())
}

const CONFLICT: &str =
    "a conflicting alert rule is found: rule title under the same organisation and folder should be unique";

/// api_ruler.go `RoutePostNameRulesConfig` behind fork_ruler.go's payload check.
async fn post_group(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    Path(ns): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> R {
    let group = decode_group(&headers, &body)?;
    // fork_ruler.go forkRoutePostNameGrafanaRulesConfig: the first rule decides the type.
    if group.rules.first().is_some_and(|r| r.grafana.is_none()) {
        return Err(err_trace(400, "unexpected backend type (grafana) vs payload type (lotex)"));
    }
    let mut db = app.db();
    let folder = namespace_by_title(&db, &id, &ns, true)?.clone();

    // validateRuleGroup
    let fail = |msg: String| err_trace(400, &msg);
    if group.name.is_empty() {
        return Err(fail("rule group name cannot be empty".into()));
    }
    if group.name.len() > MAX_LEN {
        return Err(fail(format!("rule group name is too long. Max length is {MAX_LEN}")));
    }
    let mut interval_secs = (group.interval_ms / 1000) as i64;
    if group.interval_ms == 0 {
        interval_secs = DEFAULT_INTERVAL_SECS;
    }
    if interval_secs % BASE_INTERVAL_SECS != 0 {
        return Err(fail(format!(
            "rule evaluation interval ({interval_secs} second) should be positive number that is multiple of the base interval of {BASE_INTERVAL_SECS} seconds"
        )));
    }
    let mut submitted: Vec<AlertRule> = Vec::with_capacity(group.rules.len());
    let mut uids: HashMap<String, usize> = HashMap::new();
    for (idx, node) in group.rules.iter().enumerate() {
        let rule = validate_rule_node(&db, &id, node, &group.name, interval_secs, &folder.uid)
            .map_err(|e| fail(format!("invalid rule specification at index [{idx}]: {e}")))?;
        if !rule.uid.is_empty() {
            if let Some(prev) = uids.get(&rule.uid) {
                return Err(fail(format!(
                    "rule [{idx}] has UID {} that is already assigned to another rule at index {prev}",
                    rule.uid
                )));
            }
            uids.insert(rule.uid.clone(), idx);
        }
        submitted.push(rule);
    }

    // calculateChanges
    let mut existing_group: BTreeMap<String, AlertRule> = db
        .rules
        .group(id.org_id, &folder.uid, &group.name)
        .into_iter()
        .map(|r| (r.uid.clone(), r.rule.clone()))
        .collect();
    let mut to_add: Vec<AlertRule> = vec![];
    let mut to_update: Vec<(AlertRule, AlertRule)> = vec![];
    for mut r in submitted {
        let mut existing = None;
        if !r.uid.is_empty() {
            if let Some(e) = existing_group.remove(&r.uid) {
                existing = Some(e);
            } else {
                match db.rules.by_uid(id.org_id, &r.uid) {
                    Some(e) => existing = Some(e.clone()),
                    None => {
                        return Err(err_trace(
                            404,
                            &format!(
                                "failed to update rule group: failed to update rule with UID {} because could not find alert rule",
                                r.uid
                            ),
                        ));
                    }
                }
            }
        }
        match existing {
            None => to_add.push(r),
            Some(e) => {
                patch(&e, &mut r);
                if !e.same_content(&r) {
                    to_update.push((e, r));
                }
            }
        }
    }
    let to_delete: Vec<i64> = existing_group.values().map(|r| r.id).collect();
    if to_add.is_empty() && to_update.is_empty() && to_delete.is_empty() {
        return Ok(json(202, &json!({"message": "no changes detected in the rule group"})));
    }

    // One transaction: insert new, update changed, delete omitted; any error rolls back. Rows
    // are written in place and an error restores them (ids taken from the sequence stay
    // taken, as they always did).
    let wrap = |phase: &str, e: String| format!("failed to update rule group: failed to {phase} rules: {e}");
    let now = now_rfc3339();
    let mut inserts = vec![];
    for mut r in to_add {
        loop {
            let uid = generate_short_uid();
            if db.rules.by_uid(r.org_id, &uid).is_none() {
                r.uid = uid;
                break;
            }
        }
        r.version = 1;
        store_validate(&r).map_err(|e| err_trace(400, &wrap("add", e)))?;
        presave_all(&mut r, |e| wrap("add", e))?;
        r.updated = now.clone();
        inserts.push(r);
    }
    for (i, r) in inserts.iter().enumerate() {
        let dup_in_batch = inserts[..i].iter().any(|o| o.namespace_uid == r.namespace_uid && o.title == r.title);
        if dup_in_batch || db.rules.title_taken(r.org_id, &r.namespace_uid, &r.title, 0) {
            return Err(err_trace(500, &wrap("add", CONFLICT.into())));
        }
    }
    let mut inserted: Vec<i64> = Vec::with_capacity(inserts.len());
    for mut r in inserts {
        r.id = db.next_id("alert_rule");
        inserted.push(r.id);
        db.rules.insert(r);
    }
    let mut replaced: Vec<AlertRule> = Vec::with_capacity(to_update.len());
    let mut update = |db: &mut Db, e: AlertRule, mut r: AlertRule| -> Result<(), Response> {
        r.id = e.id;
        r.version = e.version + 1;
        store_validate(&r).map_err(|err| err_trace(400, &wrap("update", err)))?;
        presave_all(&mut r, |e| wrap("update", e))?;
        r.updated = now.clone();
        if db.rules.title_taken(r.org_id, &r.namespace_uid, &r.title, r.id) {
            return Err(err_trace(500, &wrap("update", CONFLICT.into())));
        }
        replaced.extend(db.rules.insert(r));
        Ok(())
    };
    for (e, r) in to_update {
        if let Err(resp) = update(&mut db, e, r) {
            // Roll back: restore the updated rows, then drop the inserted ones.
            for old in replaced.into_iter().rev() {
                db.rules.insert(old);
            }
            for id in inserted {
                db.rules.remove(id);
            }
            return Err(resp);
        }
    }
    for d in to_delete {
        db.rules.remove(d);
    }
    Ok(json(202, &json!({"message": "rule group updated successfully"})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::RuleStore;

    fn rule(id: i64, title: &str, group: &str, interval_seconds: i64) -> AlertRule {
        let tricky = "\"namespace_id\":-9223372036854775808,<&>\u{2028}\u{2029} é \\\"";
        AlertRule {
            id,
            org_id: 1,
            title: title.into(),
            condition: "B".into(),
            data: vec![
                AlertQuery {
                    ref_id: "A".into(),
                    query_type: String::new(),
                    from: 600,
                    to: 0,
                    datasource_uid: "prom".into(),
                    model: format!(
                        "{{\"expr\":{},\"intervalMs\":1000,\"maxDataPoints\":43200,\"x\":[1,2.5,{{\"namespace_id\":{NAMESPACE_ID_MARK}}}]}}",
                        serde_json::to_string(tricky).unwrap_or_default()
                    ),
                },
                AlertQuery {
                    ref_id: "B".into(),
                    query_type: "math".into(),
                    from: 0,
                    to: 0,
                    datasource_uid: "__expr__".into(),
                    model: "{\"expression\":\"$A \\u003e 1\",\"type\":\"math\"}".into(),
                },
            ],
            updated: "2024-01-01T00:00:00Z".into(),
            interval_seconds,
            version: 3,
            uid: format!("uid{id}"),
            namespace_uid: "ns".into(),
            dashboard_uid: None,
            panel_id: None,
            rule_group: group.into(),
            no_data_state: "NoData".into(),
            exec_err_state: tricky.into(),
            for_ms: if id % 2 == 0 { 300_000 } else { 0 },
            annotations: if id % 3 == 0 {
                Some(BTreeMap::new())
            } else {
                Some([("namespace_id".into(), tricky.into())].into())
            },
            labels: if id % 2 == 0 { None } else { Some([("a<b".into(), tricky.into())].into()) },
        }
    }

    #[test]
    fn assembled_ruler_texts_match_the_serialised_values() {
        let mut store = RuleStore::default();
        let mut id = 0;
        for (group, interval) in [("g<1>", 60), ("g\"2", 0), ("g3", 600)] {
            for t in 0..4 {
                id += 1;
                store.insert(rule(id, &format!("t{t} & \u{2028}"), group, if t == 0 { interval } else { 60 }));
            }
        }
        let groups = store.groups(1, "ns");
        assert_eq!(groups.len(), 3);
        for ns_id in [0, 7, -3, i64::MAX, NAMESPACE_ID_MARK] {
            let mut texts = vec![];
            for (name, rules) in &groups {
                let plain: Vec<&AlertRule> = rules.iter().map(|r| &r.rule).collect();
                let value = group_json(name, &plain, ns_id);
                let text = GroupText::new(name, rules);
                let mut out = String::new();
                text.write(&mut out, ns_id);
                assert_eq!(out, go_escape(&serde_json::to_string(&value).unwrap_or_default()));
                texts.push(text);
            }
            // Three namespaces, the middle key repeated: first position, last value.
            let mut namespaces = vec![];
            let mut reference = Map::new();
            for (i, t) in texts.into_iter().enumerate() {
                let key = if i == 2 { "b&".to_string() } else { ["a", "b&"][i].to_string() };
                let (name, rules) = &groups[i];
                let plain: Vec<&AlertRule> = rules.iter().map(|r| &r.rule).collect();
                reference.insert(key.clone(), Value::Array(vec![group_json(name, &plain, ns_id)]));
                namespaces.push((key, ns_id, vec![t]));
            }
            let expected = go_escape(&serde_json::to_string(&Value::Object(reference)).unwrap_or_default());
            assert_eq!(namespaces_text(namespaces), expected);
        }
        assert_eq!(namespaces_text(vec![]), "{}");
        let empty = GroupText::new("none", &[]);
        let mut out = String::new();
        empty.write(&mut out, 1);
        assert_eq!(out, go_escape(&serde_json::to_string(&group_json("none", &[], 1)).unwrap_or_default()));
    }
}
