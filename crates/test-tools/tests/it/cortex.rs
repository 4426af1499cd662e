//! The real Cortex as the cortex provider finds it: each test pins one fact of its ruler and
//! Alertmanager APIs (status codes, bodies, YAML and JSON shapes) on a server of its own, so
//! that a change of Cortex shows here first, not as a puzzling provider failure.

use std::time::{Duration, SystemTime};

use mac_test_tools::cortex::{CortexServer, HttpResponse, Series};
use serde_json::{Value, json};

const YAML: &str = "application/yaml";
const TEXT: &str = "text/plain; charset=utf-8";

/// A group as a user writes it: an alerting and a recording rule.
const GROUP_G1: &str = "name: g1
interval: 10s
rules:
- alert: Up
  expr: up == 0
  for: 1m
  labels:
    severity: page
  annotations:
    summary: down
- record: job:up:sum
  expr: sum by (job) (up)
";

/// What Cortex answers for [`GROUP_G1`] alone: its own YAML (4-space indents, lists indented).
const GROUP_G1_ANSWER: &str = "name: g1
interval: 10s
rules:
    - alert: Up
      expr: up == 0
      for: 1m
      labels:
        severity: page
      annotations:
        summary: down
    - record: job:up:sum
      expr: sum by (job) (up)
";

/// The whole rule set with [`GROUP_G1`] in namespace `ns1`: a map namespace → list of groups.
const RULE_SET_NS1_G1: &str = "ns1:
    - name: g1
      interval: 10s
      rules:
        - alert: Up
          expr: up == 0
          for: 1m
          labels:
            severity: page
          annotations:
            summary: down
        - record: job:up:sum
          expr: sum by (job) (up)
";

fn start() -> Option<CortexServer> {
    CortexServer::start()
}

#[track_caller]
fn assert_answer(answer: &HttpResponse, status: u16, content_type: Option<&str>, body: &str) {
    assert_eq!(
        (answer.status, answer.content_type.as_deref(), answer.body.as_str()),
        (status, content_type, body),
        "the whole answer: {answer:?}"
    );
}

#[test]
fn a_tenant_without_rules_is_404_no_rule_groups_found_and_no_tenant_is_401() {
    let Some(cortex) = start() else { return };
    assert_answer(&cortex.get("/api/v1/rules", "team-a"), 404, Some(TEXT), "no rule groups found\n");
    assert_answer(&cortex.get("/api/v1/rules/ns1", "team-a"), 404, Some(TEXT), "no rule groups found\n");
    assert_answer(&cortex.request("GET", "/api/v1/rules", None, None), 401, Some(TEXT), "no org id\n");
}

#[test]
fn rule_groups_are_posted_202_listed_as_a_namespace_map_read_and_deleted_202() {
    let Some(cortex) = start() else { return };
    let success = r#"{"status":"success"}"#;
    assert_answer(&cortex.post("/api/v1/rules/ns1", "team-a", YAML, GROUP_G1), 202, Some("application/json"), success);
    assert_answer(&cortex.get("/api/v1/rules", "team-a"), 200, Some(YAML), RULE_SET_NS1_G1);
    assert_answer(&cortex.get("/api/v1/rules/ns1", "team-a"), 200, Some(YAML), RULE_SET_NS1_G1);
    assert_answer(&cortex.get("/api/v1/rules/ns1/g1", "team-a"), 200, Some(YAML), GROUP_G1_ANSWER);
    assert_answer(&cortex.get("/api/v1/rules/ns1/nope", "team-a"), 404, Some(TEXT), "group does not exist\n");
    assert_answer(&cortex.get("/api/v1/rules/ns2", "team-a"), 404, Some(TEXT), "no rule groups found\n");

    // A second group and a second namespace: groups in the order posted, namespaces sorted.
    let g2 = "name: g2\nrules:\n- record: r2\n  expr: vector(2)\n";
    assert_eq!(cortex.post("/api/v1/rules/ns1", "team-a", YAML, g2).status, 202);
    let g0 = "name: g0\nrules:\n- record: r0\n  expr: vector(0)\n";
    assert_eq!(cortex.post("/api/v1/rules/ns0", "team-a", YAML, g0).status, 202);
    let all = cortex.get("/api/v1/rules", "team-a");
    let expected = format!(
        "ns0:\n    - name: g0\n      rules:\n        - record: r0\n          expr: vector(0)\n{RULE_SET_NS1_G1}    - name: \
         g2\n      rules:\n        - record: r2\n          expr: vector(2)\n"
    );
    assert_answer(&all, 200, Some(YAML), &expected);

    // Posting a group of the same name replaces it.
    let g2_changed = "name: g2\nrules:\n- record: r2\n  expr: vector(3)\n";
    assert_eq!(cortex.post("/api/v1/rules/ns1", "team-a", YAML, g2_changed).status, 202);
    assert_answer(
        &cortex.get("/api/v1/rules/ns1/g2", "team-a"),
        200,
        Some(YAML),
        "name: g2\nrules:\n    - record: r2\n      expr: vector(3)\n",
    );

    // Deleting a group is 202, and 202 again when it is already gone.
    assert_answer(&cortex.delete("/api/v1/rules/ns1/g2", "team-a"), 202, Some("application/json"), success);
    assert_answer(&cortex.delete("/api/v1/rules/ns1/g2", "team-a"), 202, Some("application/json"), success);
    assert_answer(&cortex.get("/api/v1/rules/ns1", "team-a"), 200, Some(YAML), RULE_SET_NS1_G1);

    // Deleting a namespace is 202; a namespace that does not exist is 404.
    assert_answer(&cortex.delete("/api/v1/rules/ns1", "team-a"), 202, Some("application/json"), success);
    assert_answer(&cortex.delete("/api/v1/rules/ns1", "team-a"), 404, Some(TEXT), "group namespace does not exist\n");
    assert_eq!(cortex.delete("/api/v1/rules/ns0", "team-a").status, 202);
    assert_answer(&cortex.get("/api/v1/rules", "team-a"), 404, Some(TEXT), "no rule groups found\n");
}

#[test]
fn durations_come_back_in_prometheus_canonical_form() {
    let Some(cortex) = start() else { return };
    let group = "name: g\ninterval: 60s\nrules:\n- alert: Slow\n  expr: up == 0\n  for: 120s\n  keep_firing_for: 90s\n";
    assert_eq!(cortex.post("/api/v1/rules/ns", "team-a", YAML, group).status, 202);
    assert_answer(
        &cortex.get("/api/v1/rules/ns/g", "team-a"),
        200,
        Some(YAML),
        "name: g\ninterval: 1m\nrules:\n    - alert: Slow\n      expr: up == 0\n      for: 2m\n      keep_firing_for: 1m30s\n",
    );
}

#[test]
fn bad_promql_is_a_400_with_an_empty_body_and_other_bad_groups_say_why() {
    let Some(cortex) = start() else { return };
    let bad_promql = "name: bad\nrules:\n- alert: Bad\n  expr: up ==\n";
    // "Empty": the body is one newline, whatever the PromQL error was.
    assert_answer(&cortex.post("/api/v1/rules/ns", "team-a", YAML, bad_promql), 400, Some(TEXT), "\n");
    assert_answer(
        &cortex.post("/api/v1/rules/ns", "team-a", YAML, "not: [yaml"),
        400,
        Some(TEXT),
        "unable to decoded rule group\n",
    );
    assert_answer(
        &cortex.post("/api/v1/rules/ns", "team-a", YAML, "name: empty\nrules: []\n"),
        400,
        Some(TEXT),
        "invalid rules config: rule group 'empty' has no rules\n",
    );
    assert_answer(&cortex.get("/api/v1/rules", "team-a"), 404, Some(TEXT), "no rule groups found\n");
}

#[test]
fn the_api_prom_prefix_serves_the_same_ruler_api() {
    let Some(cortex) = start() else { return };
    assert_answer(&cortex.get("/api/prom/rules", "team-a"), 404, Some(TEXT), "no rule groups found\n");
    assert_eq!(cortex.post("/api/prom/rules/ns1", "team-a", YAML, GROUP_G1).status, 202);
    assert_answer(&cortex.get("/api/v1/rules", "team-a"), 200, Some(YAML), RULE_SET_NS1_G1);
    assert_answer(&cortex.get("/api/prom/rules", "team-a"), 200, Some(YAML), RULE_SET_NS1_G1);
    assert_answer(&cortex.get("/api/prom/rules/ns1/g1", "team-a"), 200, Some(YAML), GROUP_G1_ANSWER);
    assert_eq!(cortex.delete("/api/prom/rules/ns1/g1", "team-a").status, 202);
    assert_answer(&cortex.get("/api/v1/rules", "team-a"), 404, Some(TEXT), "no rule groups found\n");
}

#[test]
fn tenants_are_isolated() {
    let Some(cortex) = start() else { return };
    assert_eq!(cortex.post("/api/v1/rules/ns1", "team-a", YAML, GROUP_G1).status, 202);
    assert_answer(&cortex.get("/api/v1/rules", "team-b"), 404, Some(TEXT), "no rule groups found\n");
    assert_answer(&cortex.get("/api/v1/rules/ns1/g1", "team-b"), 404, Some(TEXT), "group does not exist\n");
    // Team B deleting the same names touches nothing of team A's.
    assert_eq!(cortex.delete("/api/v1/rules/ns1/g1", "team-b").status, 202);
    assert_eq!(cortex.delete("/api/v1/rules/ns1", "team-b").status, 404);
    assert_answer(&cortex.get("/api/v1/rules", "team-a"), 200, Some(YAML), RULE_SET_NS1_G1);

    let config = "alertmanager_config: |\n  route:\n    receiver: a\n  receivers:\n    - name: a\n";
    assert_eq!(cortex.post("/api/v1/alerts", "team-a", YAML, config).status, 201);
    assert_eq!(cortex.get("/api/v1/alerts", "team-b").status, 404);
    assert_eq!(cortex.get("/api/v1/alerts", "team-a").status, 200);
}

/// A tenant's Alertmanager document as the cortex provider would post it: secrets in it.
const AM_DOCUMENT: &str = r#"alertmanager_config: |
  global:
    slack_api_url: https://hooks.slack.com/services/T0/B0/SECRET-SLACK
  route:
    receiver: hook
    group_wait: 1s
  receivers:
    - name: hook
      webhook_configs:
        - url: http://127.0.0.1:9/hook
          http_config:
            basic_auth:
              username: mac
              password: SECRET-PASSWORD
    - name: slack
      slack_configs:
        - channel: '#alerts'
  templates:
    - 'mac.tmpl'
template_files:
  mac.tmpl: '{{ define "mac.title" }}[{{ .Status }}]{{ end }}'
"#;

#[test]
fn alertmanager_configs_are_404_then_posted_201_returned_with_secrets_in_clear_and_deleted_200() {
    let Some(cortex) = start() else { return };
    let not_found = "alertmanager storage object not found\n";
    assert_answer(&cortex.get("/api/v1/alerts", "team-a"), 404, Some(TEXT), not_found);
    assert_answer(&cortex.post("/api/v1/alerts", "team-a", YAML, AM_DOCUMENT), 201, None, "");
    // The document as stored: `template_files` first, `alertmanager_config` the string posted,
    // the webhook password and the Slack URL in clear.
    let stored = r#"template_files:
  mac.tmpl: '{{ define "mac.title" }}[{{ .Status }}]{{ end }}'
alertmanager_config: |
  global:
    slack_api_url: https://hooks.slack.com/services/T0/B0/SECRET-SLACK
  route:
    receiver: hook
    group_wait: 1s
  receivers:
    - name: hook
      webhook_configs:
        - url: http://127.0.0.1:9/hook
          http_config:
            basic_auth:
              username: mac
              password: SECRET-PASSWORD
    - name: slack
      slack_configs:
        - channel: '#alerts'
  templates:
    - 'mac.tmpl'
"#;
    let answer = cortex.get("/api/v1/alerts", "team-a");
    assert_answer(&answer, 200, Some(YAML), stored);
    assert!(answer.body.contains("SECRET-PASSWORD") && answer.body.contains("SECRET-SLACK"));

    // Alertmanager's own view of the running configuration masks them.
    let status =
        cortex.wait_for("the tenant's Alertmanager to load its configuration", Duration::from_secs(30), || {
            let answer = cortex.get("/alertmanager/api/v2/status", "team-a");
            (answer.status == 200).then_some(answer.body)
        });
    let status: Value = serde_json::from_str(&status).expect("a JSON status");
    let original = status["config"]["original"].as_str().expect("the configuration");
    assert!(original.contains("slack_api_url: <secret>") && original.contains("password: <secret>"), "{original}");

    // Bad documents are refused with Alertmanager's own message.
    let undefined = "alertmanager_config: |\n  route:\n    receiver: nope\n  receivers:\n    - name: hook\n";
    assert_answer(
        &cortex.post("/api/v1/alerts", "team-a", YAML, undefined),
        400,
        Some(TEXT),
        "error validating Alertmanager config: undefined receiver \"nope\" used in route\n",
    );

    assert_answer(&cortex.delete("/api/v1/alerts", "team-a"), 200, None, "");
    assert_answer(&cortex.delete("/api/v1/alerts", "team-a"), 200, None, "");
    assert_answer(&cortex.get("/api/v1/alerts", "team-a"), 404, Some(TEXT), not_found);
}

/// A webhook receiver on a free loopback port: its URL, and the body of each POST it answers
/// with 200.
fn webhook() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("a loopback port");
    let url = format!("http://{}/hook", listener.local_addr().expect("its address"));
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if sender.send(String::from_utf8_lossy(&body).into_owned()).is_err() {
                return;
            }
        }
    });
    (url, receiver)
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("after 1970");
    i64::try_from(since.as_millis()).expect("a millisecond count in i64")
}

/// `value` without the keys that change with every evaluation (times, durations).
fn without_times(mut value: Value) -> Value {
    match &mut value {
        Value::Object(map) => {
            for key in ["lastEvaluation", "evaluationTime", "activeAt"] {
                map.remove(key);
            }
            for item in map.values_mut() {
                *item = without_times(item.take());
            }
        }
        Value::Array(items) => {
            for item in items {
                *item = without_times(item.take());
            }
        }
        _ => {}
    }
    value
}

#[test]
fn the_ruler_evaluates_remote_written_series_and_the_tenants_alertmanager_delivers_its_alerts_to_a_webhook() {
    let Some(cortex) = start() else { return };
    let labels = [("__name__", "mac_test_up"), ("job", "app")];
    let pushed = cortex.push("team-a", &[Series { labels: &labels, samples: &[(now_ms(), 0.0)] }]);
    assert_answer(&pushed, 200, None, "");
    // Not at once: the series shows in queries about half a second after the push's 200.
    let query = cortex.wait_for("the pushed series in a query", Duration::from_secs(30), || {
        let answer = cortex.get("/prometheus/api/v1/query?query=mac_test_up", "team-a");
        let answer: Value = serde_json::from_str(&answer.body).ok()?;
        (!answer["data"]["result"].as_array()?.is_empty()).then_some(answer)
    });
    assert_eq!(query["data"]["result"][0]["metric"], json!({"__name__": "mac_test_up", "job": "app"}));
    assert_eq!(query["data"]["result"][0]["value"][1], "0");
    // Another tenant's queries do not see it.
    let other = cortex.get("/prometheus/api/v1/query?query=mac_test_up", "team-b");
    assert_eq!(other.body, r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#);

    let (webhook, delivered) = webhook();
    let am = format!(
        "alertmanager_config: |\n  route:\n    receiver: hook\n    group_wait: 0s\n  receivers:\n    - name: hook\n      \
         webhook_configs:\n        - url: {webhook}\n"
    );
    assert_eq!(cortex.post("/api/v1/alerts", "team-a", YAML, &am).status, 201);
    let group = "name: app\ninterval: 1s\nrules:\n- alert: AppDown\n  expr: mac_test_up == 0\n  labels:\n    severity: \
                 page\n- record: job:mac_test_up:sum\n  expr: sum by (job) (mac_test_up)\n";
    assert_eq!(cortex.post("/api/v1/rules/ns", "team-a", YAML, group).status, 202);

    let rules = cortex.wait_for("the ruler to fire AppDown", Duration::from_secs(30), || {
        let answer = cortex.get("/prometheus/api/v1/rules", "team-a");
        let rules: Value = serde_json::from_str(&answer.body).ok()?;
        (rules["data"]["groups"][0]["rules"][0]["state"] == "firing").then_some(rules)
    });
    // The alert's labels are the series' without `__name__` (a comparison drops it), plus
    // `alertname` and the rule's; `duration` is `for` in seconds, `interval` the group's.
    assert_eq!(
        without_times(rules),
        json!({"status": "success", "data": {"groups": [{
            "name": "app",
            "file": "ns",
            "rules": [
                {
                    "state": "firing", "name": "AppDown", "query": "mac_test_up == 0", "duration": 0,
                    "keepFiringFor": 0, "labels": {"severity": "page"}, "annotations": {},
                    "alerts": [{
                        "labels": {"alertname": "AppDown", "job": "app", "severity": "page"},
                        "annotations": {}, "state": "firing", "value": "0e+00"
                    }],
                    "health": "ok", "lastError": "", "type": "alerting"
                },
                {
                    "name": "job:mac_test_up:sum", "query": "sum by (job) (mac_test_up)", "labels": {},
                    "health": "ok", "lastError": "", "type": "recording"
                }
            ],
            "interval": 1,
            "limit": 0,
        }]}})
    );

    // Some seconds later: the first send goes nowhere (see `CortexOptions::resend_delay`).
    let alerts = cortex.wait_for("AppDown in the tenant's Alertmanager", Duration::from_secs(30), || {
        let answer = cortex.get("/alertmanager/api/v2/alerts", "team-a");
        let alerts: Value = serde_json::from_str(&answer.body).ok()?;
        (alerts.as_array()?.len() == 1).then_some(alerts)
    });
    assert_eq!(alerts[0]["labels"]["alertname"], "AppDown");
    assert_eq!(alerts[0]["receivers"], json!([{"name": "hook"}]));
    let notification = delivered.recv_timeout(Duration::from_secs(30)).expect("a webhook notification");
    let notification: Value = serde_json::from_str(&notification).expect("a JSON notification");
    assert_eq!((&notification["status"], &notification["receiver"]), (&json!("firing"), &json!("hook")));
    assert_eq!(notification["alerts"][0]["labels"], json!({"alertname": "AppDown", "job": "app", "severity": "page"}));
    let recorded = cortex.wait_for("the recording rule's series", Duration::from_secs(30), || {
        let answer = cortex.get("/prometheus/api/v1/query?query=job:mac_test_up:sum", "team-a");
        let answer: Value = serde_json::from_str(&answer.body).ok()?;
        let result = answer["data"]["result"].as_array()?;
        (!result.is_empty()).then(|| result[0]["metric"].clone())
    });
    assert_eq!(recorded, json!({"__name__": "job:mac_test_up:sum", "job": "app"}));
}

#[test]
fn two_servers_started_at_once_have_their_own_ports_and_state() {
    let starts: Vec<_> = (0..2).map(|_| std::thread::spawn(start)).collect();
    let servers: Vec<CortexServer> =
        starts.into_iter().filter_map(|handle| handle.join().expect("a start that did not panic")).collect();
    let [one, two] = &servers[..] else { return };
    assert_ne!(one.http_port(), two.http_port());
    assert_ne!(one.grpc_port(), two.grpc_port());
    assert_ne!(one.dir(), two.dir());
    assert_eq!(one.post("/api/v1/rules/ns1", "team-a", YAML, GROUP_G1).status, 202);
    assert_eq!(two.get("/api/v1/rules", "team-a").status, 404);
    assert!(one.config().contains("auth_enabled: true") && one.config().contains("backend: filesystem"));
}
