//! The ruler API for Grafana-managed rules: pkg/services/ngalert/api/api_ruler.go,
//! api_ruler_validation.go, fork_ruler.go, authorization.go, tooling/definitions/cortex-ruler.go,
//! models/alert_rule.go, models/alert_query.go, store/alert_rule.go.

use crate::support::{Target, msg, msg_trace, redact};
use serde_json::{Value, json};

pub fn ns_path(title: &str) -> String {
    format!("/api/ruler/grafana/api/v1/rules/{}", title.replace('%', "%25").replace(' ', "%20").replace('/', "%2F"))
}

pub fn rule(ds: &str, title: &str, uid: &str) -> Value {
    json!({
        "for": "5m",
        "labels": {"severity": "critical"},
        "annotations": {"summary": "x"},
        "grafana_alert": {
            "title": title, "condition": "B", "uid": uid,
            "data": [
                {"refId": "A", "relativeTimeRange": {"from": 600, "to": 0}, "datasourceUid": ds,
                 "model": {"expr": "up", "refId": "A"}},
                {"refId": "B", "relativeTimeRange": {"from": 0, "to": 0}, "datasourceUid": "__expr__",
                 "model": {"type": "math", "expression": "$A > 1", "refId": "B"}}
            ]
        }
    })
}

pub fn group_with(ds: &str, rules: &[(&str, &str)]) -> Value {
    json!({"name": "g1", "interval": "1m", "rules": rules.iter().map(|(t, u)| rule(ds, t, u)).collect::<Vec<_>>()})
}

struct Setup {
    t: Target,
    title: String,
    folder_uid: String,
    folder_id: i64,
    ds: String,
}

async fn setup() -> Setup {
    let t = Target::new().await;
    let (folder_uid, title, folder_id) = t.folder().await;
    let ds = t.prometheus().await;
    Setup { t, title, folder_uid, folder_id, ds }
}

impl Setup {
    async fn post(&self, body: Value) -> (u16, Value) {
        self.t.send("POST", &ns_path(&self.title), &self.t.admin(), Some(body)).await
    }
    async fn group(&self, name: &str) -> (u16, Value) {
        self.t.send("GET", &format!("{}/{name}", ns_path(&self.title)), &self.t.admin(), None).await
    }
    async fn uids(&self) -> Vec<(String, String, i64)> {
        let (_, g) = self.group("g1").await;
        g["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .map(|r| {
                let a = &r["grafana_alert"];
                (
                    a["title"].as_str().expect("t").into(),
                    a["uid"].as_str().expect("u").into(),
                    a["version"].as_i64().expect("v"),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn post_then_get_normalises_the_rule() {
    let s = setup().await;
    let mut body = group_with(&s.ds, &[("High CPU", "")]);
    body["interval"] = json!("60s");
    assert_eq!(s.post(body).await, (202, json!({"message": "rule group updated successfully"})));
    let (st, g) = s.group("g1").await;
    assert_eq!(st, 202);
    let expected = json!({
        "name": "g1",
        "interval": "1m",
        "rules": [{
            "expr": "",
            "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {"summary": "x"},
            "grafana_alert": {
                "id": "<_>", "orgId": 1, "title": "High CPU", "condition": "B",
                "data": [
                    {"refId": "A", "queryType": "", "relativeTimeRange": {"from": 600, "to": 0}, "datasourceUid": s.ds,
                     "model": {"expr": "up", "intervalMs": 1000, "maxDataPoints": 43200, "refId": "A"}},
                    {"refId": "B", "queryType": "", "relativeTimeRange": {"from": 0, "to": 0}, "datasourceUid": "__expr__",
                     "model": {"expression": "$A > 1", "intervalMs": 1000, "maxDataPoints": 43200, "refId": "B", "type": "math"}}
                ],
                "updated": "<_>", "intervalSeconds": 60, "version": 1, "uid": "<_>",
                "namespace_uid": s.folder_uid, "namespace_id": s.folder_id, "rule_group": "g1",
                "no_data_state": "NoData", "exec_err_state": "Alerting"
            }
        }]
    });
    assert_eq!(
        redact(&g, &["id", "uid", "updated"]).to_string(),
        redact(&expected, &["id", "uid", "updated"]).to_string()
    );
    // The namespace GET is 202 too, keyed by the folder title.
    let (st, ns) = s.t.send("GET", &ns_path(&s.title), &s.t.admin(), None).await;
    assert_eq!(st, 202);
    assert_eq!(ns[&s.title][0], g);
    // The all-rules GET is 200.
    let (st, all) = s.t.send("GET", "/api/ruler/grafana/api/v1/rules", &s.t.admin(), None).await;
    assert_eq!(st, 200);
    assert_eq!(all[&s.title][0], g);
}

#[tokio::test]
async fn missing_group_and_empty_namespace_are_202() {
    let s = setup().await;
    assert_eq!(s.group("nope").await, (202, json!({"name": "nope", "rules": []})));
    let (st, b) = s.t.send("GET", &ns_path(&s.title), &s.t.admin(), None).await;
    assert_eq!((st, b), (202, json!({})));
    let (st, b) = s.t.send("GET", &ns_path("no such folder"), &s.t.admin(), None).await;
    assert_eq!((st, b), (404, json!({"status": "not-found", "message": "folder not found"})));
}

#[tokio::test]
async fn unchanged_rules_keep_their_version() {
    let s = setup().await;
    assert_eq!(s.post(group_with(&s.ds, &[("a", "")])).await.0, 202);
    let [(_, uid, v)] = &s.uids().await[..] else { panic!("one rule") };
    assert_eq!(*v, 1);
    // With a uid and no data, the rule is patched from the stored one: no change.
    let patch_only = json!({"name": "g1", "interval": "1m", "rules": [{
        "for": "5m", "labels": {"severity": "critical"}, "annotations": {"summary": "x"},
        "grafana_alert": {"uid": uid}}]});
    assert_eq!(s.post(patch_only).await, (202, json!({"message": "no changes detected in the rule group"})));
    assert_eq!(s.uids().await[0].2, 1);
    // Re-posting the same rule with its uid but the model as first posted (not as stored) is
    // a change: models are compared as raw bytes.
    assert_eq!(
        s.post(group_with(&s.ds, &[("a", uid)])).await,
        (202, json!({"message": "rule group updated successfully"}))
    );
    assert_eq!(s.uids().await[0].2, 2);
}

#[tokio::test]
async fn omitted_labels_are_cleared_and_for_is_kept() {
    let s = setup().await;
    assert_eq!(s.post(group_with(&s.ds, &[("a", "")])).await.0, 202);
    let uid = s.uids().await[0].1.clone();
    let mut r = rule(&s.ds, "a", &uid);
    let obj = r.as_object_mut().expect("object");
    obj.remove("labels");
    obj.remove("for");
    assert_eq!(s.post(json!({"name": "g1", "interval": "1m", "rules": [r]})).await.0, 202);
    let (_, g) = s.group("g1").await;
    let node = &g["rules"][0];
    assert!(node.get("labels").is_none(), "{node}");
    assert_eq!(node["for"], json!("5m"));
    assert_eq!(node["annotations"], json!({"summary": "x"}));
    assert_eq!(node["grafana_alert"]["version"], json!(2));
}

#[tokio::test]
async fn rules_left_out_of_a_post_are_deleted() {
    let s = setup().await;
    assert_eq!(s.post(group_with(&s.ds, &[("a", ""), ("b", "")])).await.0, 202);
    let rules = s.uids().await;
    assert_eq!(rules.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
    let b_uid = rules[1].1.clone();
    assert_eq!(s.post(group_with(&s.ds, &[("b", &b_uid)])).await.0, 202);
    let rules = s.uids().await;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].1, b_uid);
    // An empty rules list deletes the group.
    assert_eq!(
        s.post(json!({"name": "g1", "rules": []})).await,
        (202, json!({"message": "rule group updated successfully"}))
    );
    assert_eq!(s.group("g1").await, (202, json!({"name": "g1", "rules": []})));
}

#[tokio::test]
async fn re_post_without_uids_reusing_titles_is_a_500_conflict() {
    let s = setup().await;
    assert_eq!(s.post(group_with(&s.ds, &[("a", "")])).await.0, 202);
    let (st, b) = s.post(group_with(&s.ds, &[("a", "")])).await;
    assert_eq!(
        (st, b),
        (
            500,
            msg_trace(
                "failed to update rule group: failed to add rules: a conflicting alert rule is found: rule title under the same organisation and folder should be unique"
            )
        )
    );
    // Nothing changed.
    assert_eq!(s.uids().await.len(), 1);
    // Swapping the titles of two existing rules fails in the update phase.
    assert_eq!(s.post(group_with(&s.ds, &[("a", ""), ("b", "")]).clone()).await.0, 500);
    let a_uid = s.uids().await[0].1.clone();
    assert_eq!(s.post(group_with(&s.ds, &[("a", &a_uid), ("b", "")])).await.0, 202);
    let rules = s.uids().await;
    let (ua, ub) = (rules[0].1.clone(), rules[1].1.clone());
    let (st, b) = s.post(group_with(&s.ds, &[("b", &ua), ("a", &ub)])).await;
    assert_eq!(
        (st, b),
        (
            500,
            msg_trace(
                "failed to update rule group: failed to update rules: a conflicting alert rule is found: rule title under the same organisation and folder should be unique"
            )
        )
    );
}

#[tokio::test]
async fn unknown_uid_is_404_and_known_uids_move() {
    let s = setup().await;
    let (st, b) = s.post(group_with(&s.ds, &[("a", "nosuchuid")])).await;
    assert_eq!(
        (st, b),
        (
            404,
            msg_trace(
                "failed to update rule group: failed to update rule with UID nosuchuid because could not find alert rule"
            )
        )
    );
    assert_eq!(s.post(group_with(&s.ds, &[("a", "")])).await.0, 202);
    let uid = s.uids().await[0].1.clone();
    let mut other = group_with(&s.ds, &[("a", &uid)]);
    other["name"] = json!("g2");
    assert_eq!(s.post(other).await.0, 202);
    assert_eq!(s.group("g1").await, (202, json!({"name": "g1", "rules": []})));
    let (_, g2) = s.group("g2").await;
    assert_eq!(g2["rules"][0]["grafana_alert"]["uid"], json!(uid));
    assert_eq!(g2["rules"][0]["grafana_alert"]["rule_group"], json!("g2"));
}

#[tokio::test]
async fn group_validation_errors() {
    let s = setup().await;
    let mut g = group_with(&s.ds, &[("a", "")]);
    g["name"] = json!("");
    assert_eq!(s.post(g).await, (400, msg_trace("rule group name cannot be empty")));
    let mut g = group_with(&s.ds, &[("a", "")]);
    g["name"] = json!("n".repeat(191));
    assert_eq!(s.post(g).await, (400, msg_trace("rule group name is too long. Max length is 190")));
    let mut g = group_with(&s.ds, &[("a", "")]);
    g["interval"] = json!("15s");
    assert_eq!(
        s.post(g).await,
        (
            400,
            msg_trace(
                "rule evaluation interval (15 second) should be positive number that is multiple of the base interval of 10 seconds"
            )
        )
    );
    for bad in [json!("1.5m"), json!(60), json!("")] {
        let mut g = group_with(&s.ds, &[("a", "")]);
        g["interval"] = bad;
        assert_eq!(s.post(g).await, (400, msg_trace("bad request data")));
    }
}

#[tokio::test]
async fn rule_validation_errors() {
    let s = setup().await;
    let post_rule = |r: Value| s.post(json!({"name": "g1", "interval": "1m", "rules": [r]}));
    let mut r = rule(&s.ds, "", "");
    assert_eq!(
        post_rule(r.clone()).await,
        (400, msg_trace("invalid rule specification at index [0]: alert rule title cannot be empty"))
    );
    r["grafana_alert"]["title"] = json!("t".repeat(191));
    assert_eq!(
        post_rule(r.clone()).await,
        (400, msg_trace("invalid rule specification at index [0]: alert rule title is too long. Max length is 190"))
    );
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["no_data_state"] = json!("Nope");
    assert_eq!(
        post_rule(r).await,
        (400, msg_trace("invalid rule specification at index [0]: unknown NoData state option Nope"))
    );
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["exec_err_state"] = json!("NoData");
    assert_eq!(
        post_rule(r).await,
        (400, msg_trace("invalid rule specification at index [0]: unknown Error state option NoData"))
    );
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["data"] = json!([]);
    assert_eq!(
        post_rule(r).await,
        (
            400,
            msg_trace(
                "invalid rule specification at index [0]: invalid alert rule: no queries or expressions are found"
            )
        )
    );
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["data"][0]["datasourceUid"] = json!("missing-ds");
    assert_eq!(
        post_rule(r).await,
        (
            400,
            msg_trace(
                "invalid rule specification at index [0]: failed to validate condition of alert rule a: invalid query A: data source not found: missing-ds"
            )
        )
    );
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["condition"] = json!("C");
    assert_eq!(
        post_rule(r).await,
        (
            400,
            msg_trace(
                "invalid rule specification at index [0]: failed to validate condition of alert rule a: condition C not found in any query or expression: it should be one of: [A,B]"
            )
        )
    );
    let mut r = rule(&s.ds, "a", "");
    r["annotations"] = json!({"__dashboardUid__": "abc"});
    assert_eq!(
        post_rule(r).await,
        (
            400,
            msg_trace(
                "invalid rule specification at index [0]: both annotations __dashboardUid__ and __panelId__ must be specified"
            )
        )
    );
    let mut r = rule(&s.ds, "a", "");
    r["annotations"] = json!({"__dashboardUid__": "abc", "__panelId__": "two"});
    assert_eq!(
        post_rule(r).await,
        (
            400,
            msg_trace(
                "invalid rule specification at index [0]: annotation __panelId__ must be a valid integer Panel ID"
            )
        )
    );
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["data"][0]["relativeTimeRange"] = json!({"from": 0, "to": 600});
    assert_eq!(
        post_rule(r).await,
        (
            500,
            msg_trace(
                "failed to update rule group: failed to add rules: invalid alert query A: invalid relative time range: {From:0s To:10m0s}"
            )
        )
    );
    // Duplicate uids inside one request.
    assert_eq!(s.post(group_with(&s.ds, &[("a", "")])).await.0, 202);
    let uid = s.uids().await[0].1.clone();
    assert_eq!(
        s.post(group_with(&s.ds, &[("a", &uid), ("b", &uid)])).await,
        (400, msg_trace(&format!("rule [1] has UID {uid} that is already assigned to another rule at index 0")))
    );
    // A uid with a condition but no data.
    let r = json!({"grafana_alert": {"uid": uid, "condition": "B"}});
    assert_eq!(
        post_rule(r).await,
        (
            400,
            msg_trace(
                "invalid rule specification at index [0]: invalid alert rule: query is not specified by condition is. You must specify both query and condition to update existing alert rule"
            )
        )
    );
}

#[tokio::test]
async fn payload_type_errors_are_bad_request_data() {
    let s = setup().await;
    let mut mixed = group_with(&s.ds, &[("a", "")]);
    mixed["rules"].as_array_mut().expect("rules").push(json!({"alert": "x", "expr": "up"}));
    assert_eq!(s.post(mixed).await, (400, msg_trace("bad request data")));
    let mut both = rule(&s.ds, "a", "");
    both["expr"] = json!("up");
    assert_eq!(s.post(json!({"name": "g1", "rules": [both]})).await, (400, msg_trace("bad request data")));
    assert_eq!(s.post(json!({"name": "g1", "rules": [{}]})).await, (400, msg_trace("bad request data")));
    assert_eq!(
        s.post(json!({"name": "g1", "rules": [{"alert": "x", "expr": "up"}]})).await,
        (400, msg_trace("unexpected backend type (grafana) vs payload type (lotex)"))
    );
    let mut r = rule(&s.ds, "a", "");
    r["for"] = json!(300);
    assert_eq!(s.post(json!({"name": "g1", "rules": [r]})).await, (400, msg_trace("bad request data")));
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["data"][0]["relativeTimeRange"]["from"] = json!("10m");
    assert_eq!(s.post(json!({"name": "g1", "rules": [r]})).await, (400, msg_trace("bad request data")));
}

#[tokio::test]
async fn durations_are_canonical_and_defaults_apply() {
    let s = setup().await;
    let mut r = rule(&s.ds, "a", "");
    r["for"] = json!("90s");
    let g = json!({"name": "g1", "rules": [r]});
    assert_eq!(s.post(g).await.0, 202);
    let (_, g) = s.group("g1").await;
    assert_eq!(g["interval"], json!("1m"), "the default interval is 60s");
    assert_eq!(g["rules"][0]["for"], json!("1m30s"));
    assert_eq!(g["rules"][0]["grafana_alert"]["intervalSeconds"], json!(60));
    let mut r = rule(&s.ds, "b", "");
    r.as_object_mut().expect("object").remove("for");
    r["grafana_alert"]["data"][0]["model"] =
        json!({"expr": "up", "intervalMs": 0, "maxDataPoints": 100, "queryType": "range"});
    let mut g2 = json!({"name": "g2", "interval": "1h", "rules": [r]});
    g2["interval"] = json!("3600s");
    assert_eq!(s.post(g2).await.0, 202);
    let (_, g) = s.group("g2").await;
    assert_eq!(g["interval"], json!("1h"));
    assert!(g["rules"][0].get("for").is_none());
    let q = &g["rules"][0]["grafana_alert"]["data"][0];
    assert_eq!(q["queryType"], json!("range"));
    assert_eq!(q["model"], json!({"expr": "up", "intervalMs": 1000, "maxDataPoints": 100, "queryType": "range"}));
}

#[tokio::test]
async fn delete_group_and_namespace_are_202_even_when_empty() {
    let s = setup().await;
    let deleted = json!({"message": "rules deleted"});
    let path = format!("{}/nope", ns_path(&s.title));
    let (st, b) = s.t.send("DELETE", &path, &s.t.admin(), None).await;
    assert_eq!((st, b), (202, deleted.clone()));
    assert_eq!(s.post(group_with(&s.ds, &[("a", "")])).await.0, 202);
    let mut g2 = group_with(&s.ds, &[("b", "")]);
    g2["name"] = json!("g2");
    assert_eq!(s.post(g2).await.0, 202);
    let (st, b) = s.t.send("DELETE", &format!("{}/g1", ns_path(&s.title)), &s.t.admin(), None).await;
    assert_eq!((st, b), (202, deleted.clone()));
    assert_eq!(s.group("g1").await.1["rules"], json!([]));
    assert_eq!(s.group("g2").await.1["rules"].as_array().map(Vec::len), Some(1));
    let (st, b) = s.t.send("DELETE", &ns_path(&s.title), &s.t.admin(), None).await;
    assert_eq!((st, b), (202, deleted));
    let (_, b) = s.t.send("GET", &ns_path(&s.title), &s.t.admin(), None).await;
    assert_eq!(b, json!({}));
    // The folder itself stays.
    let (st, _) = s.t.send("GET", &format!("/api/folders/{}", s.folder_uid), &s.t.admin(), None).await;
    assert_eq!(st, 200);
    let (st, b) = s.t.send("DELETE", &ns_path("no such folder"), &s.t.admin(), None).await;
    assert_eq!((st, b), (404, json!({"status": "not-found", "message": "folder not found"})));
}

#[tokio::test]
async fn ruler_access_control() {
    let s = setup().await;
    let viewer = s.t.key("Viewer").await;
    let editor = s.t.key("Editor").await;
    let (st, b) = s.t.send("POST", &ns_path(&s.title), &viewer, Some(group_with(&s.ds, &[("a", "")]))).await;
    assert_eq!(
        (st, b),
        (
            403,
            msg_trace(
                "user does not have permissions to edit the namespace: user does not have permissions to edit the namespace"
            )
        )
    );
    let (st, b) = s.t.send("DELETE", &ns_path(&s.title), &viewer, None).await;
    assert_eq!((st, b), (403, msg("Permission denied")));
    let (st, _) = s.t.send("POST", &ns_path(&s.title), &editor, Some(group_with(&s.ds, &[("a", "")]))).await;
    assert_eq!(st, 202);
    let (st, b) = s.t.send("GET", &format!("{}/g1", ns_path(&s.title)), &viewer, None).await;
    assert_eq!((st, b["rules"].as_array().map(Vec::len)), (202, Some(1)));
    // A folder the caller cannot view.
    let items = json!({"items": [{"role": "Editor", "permission": 2}]});
    let (st, _) =
        s.t.send("POST", &format!("/api/folders/{}/permissions", s.folder_uid), &s.t.admin(), Some(items)).await;
    assert_eq!(st, 200);
    let (st, b) = s.t.send("GET", &ns_path(&s.title), &viewer, None).await;
    assert_eq!((st, b), (403, msg_trace("Access denied")));
    let (st, b) = s.t.send("GET", "/api/ruler/grafana/api/v1/rules", &viewer, None).await;
    assert_eq!(st, 200);
    assert!(b.get(&s.title).is_none());
    let (st, b) = s.t.send("GET", "/api/ruler/grafana/api/v1/rules?panel_id=2", &s.t.admin(), None).await;
    assert_eq!((st, b), (400, msg_trace("panel_id must be set with dashboard_uid")));
}

#[tokio::test]
async fn re_posting_what_get_returned_is_no_change_unless_go_escaped_bytes_differ() {
    let s = setup().await;
    let mut r = rule(&s.ds, "plain", "");
    // A model without HTML-sensitive characters round-trips byte for byte.
    r["grafana_alert"]["data"][1]["model"] = json!({"type": "math", "expression": "$A", "refId": "B"});
    assert_eq!(s.post(json!({"name": "g1", "interval": "1m", "rules": [r]})).await.0, 202);
    let (_, g) = s.group("g1").await;
    let mut node = g["rules"][0].clone();
    let ga = node["grafana_alert"].clone();
    node["grafana_alert"] = json!({"title": ga["title"], "condition": ga["condition"], "data": ga["data"], "uid": ga["uid"],
                                   "no_data_state": ga["no_data_state"], "exec_err_state": ga["exec_err_state"]});
    node.as_object_mut().expect("object").remove("expr");
    let body = json!({"name": "g1", "interval": "1m", "rules": [node.clone()]});
    assert_eq!(s.post(body).await, (202, json!({"message": "no changes detected in the rule group"})));
    assert_eq!(s.uids().await[0].2, 1);
    // Grafana stores `>` as `\u003e`; a client that re-serialises `>` sends different bytes,
    // so the same content counts as a change.
    node["grafana_alert"]["data"][1]["model"]["expression"] = json!("$A > 1");
    assert_eq!(s.post(json!({"name": "g1", "interval": "1m", "rules": [node.clone()]})).await.0, 202);
    let (_, g) = s.group("g1").await;
    node["grafana_alert"]["data"] = g["rules"][0]["grafana_alert"]["data"].clone();
    assert_eq!(
        s.post(json!({"name": "g1", "interval": "1m", "rules": [node]})).await,
        (202, json!({"message": "rule group updated successfully"}))
    );
    assert_eq!(s.uids().await[0].2, 3);
}

#[tokio::test]
async fn get_all_filters_by_dashboard_and_panel() {
    let s = setup().await;
    let mut r = rule(&s.ds, "a", "");
    r["annotations"] = json!({"__dashboardUid__": "dash1", "__panelId__": "2"});
    let other = rule(&s.ds, "b", "");
    assert_eq!(s.post(json!({"name": "g1", "interval": "1m", "rules": [r, other]})).await.0, 202);
    let (st, all) =
        s.t.send("GET", "/api/ruler/grafana/api/v1/rules?dashboard_uid=dash1&panel_id=2", &s.t.admin(), None).await;
    assert_eq!(st, 200);
    let rules = all[&s.title][0]["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["grafana_alert"]["title"], json!("a"));
    let (st, all) =
        s.t.send("GET", "/api/ruler/grafana/api/v1/rules?dashboard_uid=dash1&panel_id=3", &s.t.admin(), None).await;
    assert_eq!((st, all.get(&s.title).is_none()), (200, true));
    let (st, b) = s.t.send("GET", "/api/ruler/grafana/api/v1/rules?panel_id=x", &s.t.admin(), None).await;
    assert_eq!((st, b), (400, msg_trace("invalid panel_id: strconv.ParseInt: parsing \"x\": invalid syntax")));
}

#[tokio::test]
async fn a_known_uid_moves_a_rule_to_another_folder() {
    let s = setup().await;
    assert_eq!(s.post(group_with(&s.ds, &[("a", "")])).await.0, 202);
    let uid = s.uids().await[0].1.clone();
    let (other_uid, other_title, _) = s.t.folder().await;
    let (st, _) = s.t.send("POST", &ns_path(&other_title), &s.t.admin(), Some(group_with(&s.ds, &[("a", &uid)]))).await;
    assert_eq!(st, 202);
    assert_eq!(s.group("g1").await, (202, json!({"name": "g1", "rules": []})));
    let (_, g) = s.t.send("GET", &format!("{}/g1", ns_path(&other_title)), &s.t.admin(), None).await;
    let ga = &g["rules"][0]["grafana_alert"];
    assert_eq!(
        (ga["uid"].clone(), ga["namespace_uid"].clone(), ga["version"].clone()),
        (json!(uid), json!(other_uid), json!(2))
    );
}
