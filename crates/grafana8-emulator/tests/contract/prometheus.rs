//! The Prometheus-compatible rule and alert lists of Grafana-managed alerting:
//! pkg/services/ngalert/api/api_prometheus.go `RouteGetRuleStatuses` and
//! `RouteGetAlertStatuses`, with the types of api/tooling/definitions/prom.go (v8.5.4).
//!
//! A rule with no state in the state manager (as the emulator's rules always are, and a real
//! server's are before their first evaluation) is written with the values api_prometheus.go
//! lines 182-196 give it: `state` "inactive", `health` "ok", `type` "alerting", the zero
//! `lastEvaluation`, `evaluationTime` 0 and no `alerts` (omitempty, nil).

use crate::ruler::{ns_path, rule};
use crate::support::{Target, msg_trace, unique};
use serde_json::{Value, json};

const RULES: &str = "/api/prometheus/grafana/api/v1/rules";
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The groups of `body` whose `file` (the folder title) is `title`.
fn groups_of(body: &Value, title: &str) -> Vec<Value> {
    body["data"]["groups"].as_array().expect("groups").iter().filter(|g| g["file"] == json!(title)).cloned().collect()
}

#[tokio::test]
async fn rules_are_inactive_with_zero_evaluation() {
    let t = Target::new().await;
    let (_, title, _) = t.folder().await;
    let ds = t.prometheus().await;
    let mut second = rule(&ds, "b", "");
    second["grafana_alert"]["data"][0]["model"]["expr"] = json!("rate(x[5m]) > 0 & <1>");
    second.as_object_mut().expect("object").remove("for");
    second.as_object_mut().expect("object").remove("annotations");
    let body = json!({"name": "g1", "interval": "2m", "rules": [rule(&ds, "a", ""), second]});
    assert_eq!(t.send("POST", &ns_path(&title), &t.admin(), Some(body)).await.0, 202);
    let (s, b) = t.send("GET", RULES, &t.admin(), None).await;
    assert_eq!((s, &b["status"]), (200, &json!("success")));
    // RuleGroup: name, file (the folder title, line 176), rules, interval (the rules'
    // IntervalSeconds as float64, line 243), lastEvaluation and evaluationTime.
    // AlertingRule: `query` is the models' `expr` joined by " | " (ruleToQuery, line 277;
    // the math expression has no `expr` and is skipped), `duration` is For in seconds and
    // omitempty like `annotations`.
    assert_eq!(
        groups_of(&b, &title),
        vec![json!({
        "name": "g1", "file": title, "interval": 120, "lastEvaluation": ZERO_TIME, "evaluationTime": 0,
        "rules": [
            {"state": "inactive", "name": "a", "query": "up", "duration": 300, "annotations": {"summary": "x"},
             "labels": {"severity": "critical"}, "health": "ok", "type": "alerting",
             "lastEvaluation": ZERO_TIME, "evaluationTime": 0},
            {"state": "inactive", "name": "b", "query": "rate(x[5m]) > 0 & <1>",
             "labels": {"severity": "critical"}, "health": "ok", "type": "alerting",
             "lastEvaluation": ZERO_TIME, "evaluationTime": 0}
        ]})]
    );
}

#[tokio::test]
async fn empty_org_has_no_groups_and_no_alerts() {
    let t = Target::new().await;
    if t.emu.is_none() {
        return; // A shared server has other tests' rules.
    }
    // Lines 117-122 and 134-137: no visible namespace answers the empty group list.
    assert_eq!(
        t.send("GET", RULES, &t.admin(), None).await,
        (200, json!({"status": "success", "data": {"groups": []}}))
    );
    // RouteGetAlertStatuses, lines 35-43: the alerts of the (empty) state manager.
    let viewer = t.key("Viewer").await;
    assert_eq!(
        t.send("GET", "/api/prometheus/grafana/api/v1/alerts", &viewer, None).await,
        (200, json!({"status": "success", "data": {"alerts": []}}))
    );
}

#[tokio::test]
async fn groups_follow_rule_ids_and_share_colliding_keys() {
    let t = Target::new().await;
    let ds = t.prometheus().await;
    // Two folders whose uids make `RuleGroup + "-" + NamespaceUID` (line 166) collide:
    // group "a-b" in folder N and group "a" in folder "b-N".
    let n = unique("n").replace('-', "");
    let n = n[n.len().saturating_sub(20)..].to_string();
    let mut titles = vec![];
    for uid in [n.clone(), format!("b-{n}")] {
        let title = unique("Folder");
        let (s, b) = t.send("POST", "/api/folders", &t.admin(), Some(json!({"uid": uid, "title": title}))).await;
        assert_eq!(s, 200, "{b}");
        titles.push(title);
    }
    for (group, r) in [("a-b", "r1"), ("z", "r2")] {
        let body = json!({"name": group, "interval": "1m", "rules": [rule(&ds, r, "")]});
        assert_eq!(t.send("POST", &ns_path(&titles[0]), &t.admin(), Some(body)).await.0, 202);
    }
    let mut r3 = rule(&ds, "r3", "");
    r3["grafana_alert"]["data"][0]["model"]["expr"] = json!("down");
    let mut group_a = json!({"name": "a", "interval": "5m", "rules": [r3]});
    group_a["rules"][0]["for"] = json!("90s");
    assert_eq!(t.send("POST", &ns_path(&titles[1]), &t.admin(), Some(group_a)).await.0, 202);
    let (s, b) = t.send("GET", RULES, &t.admin(), None).await;
    assert_eq!(s, 200);
    // Groups appear in the order of their first rule (ListAlertRules is `id ASC`); the rule
    // of folder "b-N" joins the group made for "a-b" of folder N, whose name and file it
    // keeps, and sets its interval.
    let first = groups_of(&b, &titles[0]);
    assert_eq!(first.len(), 2);
    assert_eq!((&first[0]["name"], &first[0]["interval"]), (&json!("a-b"), &json!(300)));
    let names: Vec<&Value> = first[0]["rules"].as_array().expect("rules").iter().map(|r| &r["name"]).collect();
    assert_eq!(names, vec![&json!("r1"), &json!("r3")]);
    assert_eq!(first[0]["rules"][1]["duration"], json!(90));
    assert_eq!(first[1]["name"], json!("z"));
    assert!(groups_of(&b, &titles[1]).is_empty());
}

#[tokio::test]
async fn query_falls_back_to_the_data_json_and_internal_labels_are_hidden() {
    let t = Target::new().await;
    let (_, title, _) = t.folder().await;
    let ds = t.prometheus().await;
    // A model without `expr` is skipped (ErrNoQuery); with no query left, ruleToQuery
    // returns json.Marshal(rule.Data) (encodedQueriesOrError, line 280): the stored queries
    // with their models as PreSave left them (sorted keys, intervalMs and maxDataPoints).
    let r = json!({"grafana_alert": {"title": "noexpr", "condition": "A", "data": [
        {"refId": "A", "relativeTimeRange": {"from": 600, "to": 0}, "datasourceUid": ds,
         "model": {"refId": "A", "query": "x<y"}}]},
        "labels": {"__alert_rule_uid__": "u", "team": "t"}});
    let body = json!({"name": "g", "interval": "1m", "rules": [r]});
    assert_eq!(t.send("POST", &ns_path(&title), &t.admin(), Some(body)).await.0, 202);
    let (_, b) = t.send("GET", RULES, &t.admin(), None).await;
    let rule = &groups_of(&b, &title)[0]["rules"][0];
    let expected = format!(
        "[{{\"refId\":\"A\",\"queryType\":\"\",\"relativeTimeRange\":{{\"from\":600,\"to\":0}},\"datasourceUid\":\"{ds}\",\"model\":{{\"intervalMs\":1000,\"maxDataPoints\":43200,\"query\":\"x\\u003cy\",\"refId\":\"A\"}}}}]"
    );
    assert_eq!(rule["query"], json!(expected));
    // WithoutInternalLabels (line 126) unless includeInternalLabels parses as true.
    assert_eq!(rule["labels"], json!({"team": "t"}));
    let (_, b) = t.send("GET", &format!("{RULES}?includeInternalLabels=1"), &t.admin(), None).await;
    assert_eq!(groups_of(&b, &title)[0]["rules"][0]["labels"], json!({"__alert_rule_uid__": "u", "team": "t"}));
    let (_, b) = t.send("GET", &format!("{RULES}?includeInternalLabels=yes"), &t.admin(), None).await;
    assert_eq!(groups_of(&b, &title)[0]["rules"][0]["labels"], json!({"team": "t"}));
}

#[tokio::test]
async fn dashboard_and_panel_filters_and_their_errors() {
    let t = Target::new().await;
    let (folder_uid, title, _) = t.folder().await;
    let ds = t.prometheus().await;
    let dash = unique("dash");
    let mut on_panel = rule(&ds, "on-panel", "");
    on_panel["annotations"] = json!({"__dashboardUid__": dash, "__panelId__": "7"});
    let body = json!({"name": "g", "interval": "1m", "rules": [on_panel, rule(&ds, "plain", "")]});
    assert_eq!(t.send("POST", &ns_path(&title), &t.admin(), Some(body)).await.0, 202);
    let names = |b: &Value| -> Vec<Value> {
        groups_of(b, &title)
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .map(|r| r["name"].clone())
            .collect()
    };
    let (s, b) = t.send("GET", &format!("{RULES}?dashboard_uid={dash}&panel_id=%207%20"), &t.admin(), None).await;
    assert_eq!((s, names(&b)), (200, vec![json!("on-panel")]));
    let (_, b) = t.send("GET", &format!("{RULES}?dashboard_uid={dash}&panel_id=8"), &t.admin(), None).await;
    assert!(names(&b).is_empty());
    // getPanelIDFromRequest: strconv.ParseInt of the trimmed value, wrapped by
    // ErrResp(400, err, "invalid panel_id") (line 109).
    assert_eq!(
        t.send("GET", &format!("{RULES}?dashboard_uid={dash}&panel_id=x"), &t.admin(), None).await,
        (400, msg_trace("invalid panel_id: strconv.ParseInt: parsing \"x\": invalid syntax"))
    );
    assert_eq!(
        t.send("GET", &format!("{RULES}?panel_id=99999999999999999999"), &t.admin(), None).await,
        (400, msg_trace("invalid panel_id: strconv.ParseInt: parsing \"99999999999999999999\": value out of range"))
    );
    // Line 112.
    assert_eq!(
        t.send("GET", &format!("{RULES}?panel_id=7"), &t.admin(), None).await,
        (400, msg_trace("panel_id must be set with dashboard_uid"))
    );
    // A folder the caller cannot view is left out (GetUserVisibleNamespaces).
    let items = json!({"items": [{"role": "Editor", "permission": 2}]});
    let path = format!("/api/folders/{folder_uid}/permissions");
    assert_eq!(t.send("POST", &path, &t.admin(), Some(items)).await.0, 200);
    let (s, b) = t.send("GET", RULES, &t.key("Viewer").await, None).await;
    assert_eq!((s, groups_of(&b, &title).len()), (200, 0));
}

#[tokio::test]
async fn other_recipients_must_be_ruler_data_sources() {
    let t = Target::new().await;
    // util.go backendType (lines 38-53): a recipient that is not the id of a
    // Prometheus, Loki or Alertmanager data source; forked_prom.go answers ErrResp(400).
    for path in ["/api/prometheus/nope/api/v1/rules", "/api/prometheus/99999999/api/v1/alerts"] {
        let recipient = path.split('/').nth(3).unwrap_or_default();
        assert_eq!(
            t.send("GET", path, &t.admin(), None).await,
            (400, msg_trace(&format!("unexpected backend type ({recipient})"))),
            "{path}"
        );
    }
}
