//! The Prometheus-compatible view of Grafana-managed rules and alerts:
//! pkg/services/ngalert/api/api_prometheus.go (`RouteGetRuleStatuses`, `RouteGetAlertStatuses`),
//! its types in api/tooling/definitions/prom.go and the routes of
//! generated_base_api_prometheus.go, all at v8.5.4.
//!
//! The emulator evaluates nothing, so the state manager is always empty: every rule reads as
//! 8.5.4 reports a rule with no state yet (`inactive`, health `ok`, zero `lastEvaluation`,
//! no alerts), and the alert list is empty.

use crate::auth::{Identity, PERM_VIEW, has_permission};
use crate::http::{R, err_trace, go_escape, parse_query, query_str, raw_json};
use crate::server::App;
use crate::state::{AlertQuery, AlertRule, Db};
use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::routing::get;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The zero `time.Time` as Go's JSON encoder writes it.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// ngalert models `RuleUIDLabel` and `NamespaceUIDLabel`: the labels
/// `WithoutInternalLabels` drops unless `includeInternalLabels` is true.
const INTERNAL_LABELS: [&str; 2] = ["__alert_rule_uid__", "__alert_rule_namespace_uid__"];

pub(crate) fn routes() -> Router<Arc<App>> {
    // Both behind `ReqSignedIn` (the route group's middleware); with RBAC off the
    // `authorize` fallback for GET is `ReqSignedIn` too.
    Router::new()
        .route("/api/prometheus/grafana/api/v1/rules", get(rule_statuses))
        .route("/api/prometheus/grafana/api/v1/alerts", get(alert_statuses))
        .route("/api/prometheus/{Recipient}/api/v1/rules", get(lotex))
        .route("/api/prometheus/{Recipient}/api/v1/alerts", get(lotex))
}

/// forked_prom.go `forkRouteGetRuleStatuses`/`forkRouteGetAlertStatuses` with
/// util.go `backendType`: the recipient must be the id of one of the org's Prometheus
/// or Loki data sources, whose ruler Grafana then proxies to. The emulator proxies nothing,
/// so such a recipient is answered 404 (see the README).
async fn lotex(
    State(app): State<Arc<App>>,
    Extension(id): Extension<Identity>,
    axum::extract::Path(recipient): axum::extract::Path<String>,
) -> R {
    let ds_type = recipient.parse::<i64>().ok().and_then(|ds_id| {
        let db = app.db();
        db.datasources.get(&ds_id).filter(|d| d.org_id == id.org_id).map(|d| d.ds_type.clone())
    });
    let backend = match ds_type.as_deref() {
        Some("loki" | "prometheus") => return Err(crate::http::mw_err(404, "Not found", false)),
        Some("alertmanager") => "alertmanager".to_string(),
        Some(other) => other.to_string(),
        None => recipient,
    };
    Err(err_trace(400, &format!("unexpected backend type ({backend})")))
}

/// Go's `float64` JSON encoding for the values these documents hold: integral values without
/// a fraction (`60`, not `60.0`), others in the shortest form.
fn go_float<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 { s.serialize_i64(*v as i64) } else { s.serialize_f64(*v) }
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// `apimodels.RuleResponse`.
#[derive(Serialize)]
struct RuleResponse {
    status: &'static str,
    data: RuleDiscovery,
}

#[derive(Serialize)]
struct RuleDiscovery {
    groups: Vec<RuleGroup>,
}

/// `apimodels.RuleGroup`.
#[derive(Serialize)]
struct RuleGroup {
    name: String,
    file: String,
    rules: Vec<AlertingRule>,
    #[serde(serialize_with = "go_float")]
    interval: f64,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: &'static str,
    #[serde(rename = "evaluationTime", serialize_with = "go_float")]
    evaluation_time: f64,
}

/// `apimodels.AlertingRule` with its embedded `apimodels.Rule` flattened. The embedded
/// struct's `name` and `query` are hidden by the outer fields of the same JSON name (Go's
/// shallower-field rule), so only the outer, omitempty ones are written; `alerts` (nil for a
/// rule without states) and `lastError` are omitted.
#[derive(Serialize)]
struct AlertingRule {
    state: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    query: String,
    #[serde(skip_serializing_if = "is_zero", serialize_with = "go_float")]
    duration: f64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    health: &'static str,
    #[serde(rename = "type")]
    rule_type: &'static str,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: &'static str,
    #[serde(rename = "evaluationTime", serialize_with = "go_float")]
    evaluation_time: f64,
}

/// `response.JSON`: Go's encoder escapes `<`, `>` and `&` inside strings.
fn go_json<T: Serialize>(status: u16, body: &T) -> axum::response::Response {
    let text = go_escape(&serde_json::to_string(body).unwrap_or_default());
    raw_json(status, text.into_bytes(), "application/json")
}

/// `getPanelIDFromRequest`: the trimmed `panel_id`, parsed by `strconv.ParseInt(s, 10, 64)`;
/// the error is wrapped by `ErrResp(400, err, "invalid panel_id")`.
pub(crate) fn panel_id_from_query(q: &[(String, String)]) -> Result<i64, axum::response::Response> {
    let raw = query_str(q, "panel_id").trim();
    if raw.is_empty() {
        return Ok(0);
    }
    raw.parse::<i64>().map_err(|e| {
        let reason = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        err_trace(400, &format!("invalid panel_id: strconv.ParseInt: parsing {}: {reason}", crate::http::go_quote(raw)))
    })
}

/// `ruleToQuery`: the models' `expr` strings joined by ` | `; a model without `expr` is
/// skipped; any other failure, or no query at all, gives the JSON of the whole `data` list.
fn rule_to_query(rule: &AlertRule) -> String {
    let mut queries = vec![];
    for q in &rule.data {
        // The stored model is a JSON object (PreSave re-marshalled it).
        let props: Map<String, Value> = match serde_json::from_str(&q.model) {
            Ok(Value::Object(m)) => m,
            Ok(Value::Null) => continue,
            _ => return encoded_queries(&rule.data),
        };
        match props.get("expr") {
            None => continue,
            Some(Value::String(s)) => queries.push(s.clone()),
            // "failed to cast query to string": abort and return the JSON.
            Some(_) => return encoded_queries(&rule.data),
        }
    }
    if queries.is_empty() { encoded_queries(&rule.data) } else { queries.join(" | ") }
}

/// `json.Marshal(rule.Data)`: the `ngmodels.AlertQuery` fields, `relativeTimeRange` in
/// seconds, the stored model compacted with HTML escaping (as it is stored).
fn encoded_queries(data: &[AlertQuery]) -> String {
    let mut out = String::from("[");
    for (i, q) in data.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let head = serde_json::json!({
            "refId": q.ref_id,
            "queryType": q.query_type,
            "relativeTimeRange": {"from": q.from, "to": q.to},
            "datasourceUid": q.datasource_uid,
        });
        let head = go_escape(&serde_json::to_string(&head).unwrap_or_default());
        out.push_str(&head[..head.len() - 1]);
        out.push_str(",\"model\":");
        out.push_str(if q.model.is_empty() { "null" } else { &q.model });
        out.push('}');
    }
    out.push(']');
    out
}

/// api_prometheus.go `RouteGetRuleStatuses`.
async fn rule_statuses(State(app): State<Arc<App>>, Extension(id): Extension<Identity>, req: Request) -> R {
    let q = parse_query(req.uri().query());
    let dashboard_uid = query_str(&q, "dashboard_uid").to_string();
    let panel_id = panel_id_from_query(&q)?;
    if dashboard_uid.is_empty() && panel_id != 0 {
        return Err(err_trace(400, "panel_id must be set with dashboard_uid"));
    }
    // QueryBoolWithDefault("includeInternalLabels", false): strconv.ParseBool, errors false.
    let include_internal = matches!(query_str(&q, "includeInternalLabels"), "1" | "t" | "T" | "TRUE" | "true" | "True");
    let db = app.db();
    let groups = rule_groups(&db, &id, &dashboard_uid, panel_id, include_internal);
    Ok(go_json(200, &RuleResponse { status: "success", data: RuleDiscovery { groups } }))
}

/// The groups of the rules the caller may see, in the order `ListAlertRules` returns rules
/// (`id ASC`): a group appears where its first rule does.
fn rule_groups(db: &Db, id: &Identity, dashboard_uid: &str, panel_id: i64, include_internal: bool) -> Vec<RuleGroup> {
    // store.GetUserVisibleNamespaces: the org's folders the caller can view that hold rules.
    let namespaces: HashMap<&str, &str> = db
        .dashboards
        .values()
        .filter(|d| d.org_id == id.org_id && d.is_folder && db.rules.namespace_has_rules(id.org_id, &d.uid))
        .filter(|d| has_permission(db, id, d.id, PERM_VIEW))
        .map(|d| (d.uid.as_str(), d.title.as_str()))
        .collect();
    let mut groups: Vec<RuleGroup> = vec![];
    if namespaces.is_empty() {
        return groups;
    }
    // The key is `RuleGroup + "-" + NamespaceUID`, so group "a-b" of folder "c" and group
    // "a" of folder "b-c" share one entry, as they do in Grafana.
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for rule in db.rules.org_rules(id.org_id) {
        let Some(title) = namespaces.get(rule.namespace_uid.as_str()) else { continue };
        if !dashboard_uid.is_empty() {
            if rule.dashboard_uid.as_deref() != Some(dashboard_uid) {
                continue;
            }
            if panel_id != 0 && rule.panel_id != Some(panel_id) {
                continue;
            }
        }
        let key = format!("{}-{}", rule.rule_group, rule.namespace_uid);
        let at = *by_key.entry(key).or_insert_with(|| {
            groups.push(RuleGroup {
                name: rule.rule_group.clone(),
                file: title.to_string(),
                rules: vec![],
                interval: 0.0,
                last_evaluation: ZERO_TIME,
                evaluation_time: 0.0,
            });
            groups.len() - 1
        });
        let mut labels: BTreeMap<String, String> = rule.labels.clone().unwrap_or_default().into_iter().collect();
        if !include_internal {
            labels.retain(|k, _| !INTERNAL_LABELS.contains(&k.as_str()));
        }
        let group = &mut groups[at];
        group.rules.push(AlertingRule {
            state: "inactive",
            name: rule.title.clone(),
            query: rule_to_query(rule),
            duration: rule.for_ms as f64 / 1000.0,
            annotations: rule.annotations.clone().unwrap_or_default(),
            labels,
            health: "ok",
            rule_type: "alerting",
            last_evaluation: ZERO_TIME,
            evaluation_time: 0.0,
        });
        group.interval = rule.interval_seconds as f64;
    }
    groups
}

/// api_prometheus.go `RouteGetAlertStatuses`: the alerts of the state manager, which the
/// emulator never fills.
async fn alert_statuses() -> R {
    Ok(go_json(200, &serde_json::json!({"status": "success", "data": {"alerts": []}})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quote_matches_strconv_quote() {
        use crate::http::go_quote;
        // strconv.IsPrint: the Unicode spaces other than U+0020 are not printable.
        assert_eq!(go_quote("1\u{a0}2\u{2000}"), "\"1\\u00a02\\u2000\"");
        assert_eq!(go_quote("x"), "\"x\"");
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("\u{1}\t\u{7f}"), "\"\\x01\\t\\x7f\"");
        assert_eq!(go_quote("é€"), "\"é€\"");
        assert_eq!(go_quote("\u{2028}"), "\"\\u2028\"");
    }

    #[test]
    fn floats_are_written_as_go_does() {
        #[derive(Serialize)]
        struct F(#[serde(serialize_with = "go_float")] f64);
        assert_eq!(serde_json::to_string(&F(60.0)).unwrap_or_default(), "60");
        assert_eq!(serde_json::to_string(&F(1.5)).unwrap_or_default(), "1.5");
        assert_eq!(serde_json::to_string(&F(0.0)).unwrap_or_default(), "0");
    }
}
