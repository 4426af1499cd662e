//! Decoding of the Alertmanager configuration document
//! (`POST /api/alertmanager/grafana/config/api/v1/alerts`) at Grafana 8.5.4: every check runs
//! while generated_base_api_alertmanager.go binds `PostableUserConfig` (`web.Bind`, lines
//! 138-141), so a refusal is `response.Error(400, "bad request data", err)` with the reason
//! hidden in production mode; inputs on which the decoding code dereferences nil or indexes
//! an empty string reach the recovery middleware (pkg/middleware/recovery.go). Grafana stores
//! `json.Marshal` of what it decoded, which is what GET returns.
//!
//! Files: pkg/services/ngalert/api/tooling/definitions/alertmanager.go (cited as defs),
//! definitions/alertmanager_validation.go (validation), and the vendored
//! prometheus/alertmanager v0.23.1-0.20211116083607-e2a10119aaf7: config/config.go,
//! pkg/labels/{parse,matcher}.go, timeinterval/timeinterval.go.

use crate::support::{Target, msg_trace};
use serde_json::{Value, json};

const AM: &str = "/api/alertmanager/grafana/config/api/v1/alerts";

fn receivers() -> Value {
    json!([{"name": "r", "grafana_managed_receiver_configs": [
        {"name": "r", "type": "email", "settings": {"addresses": "a@example.com"}}]}])
}

fn doc(route: Value, extra: Value) -> Value {
    let mut amc = json!({"route": route, "receivers": receivers()});
    for (k, v) in extra.as_object().expect("object") {
        amc[k] = v.clone();
    }
    json!({"alertmanager_config": amc})
}

fn bad() -> (u16, Value) {
    (400, msg_trace("bad request data"))
}

fn panic_body() -> (u16, Value) {
    (
        500,
        json!({"message": "Internal Server Error - Check the Grafana server logs for the detailed error message.", "error": "Server Error"}),
    )
}

async fn post(t: &Target, body: Value) -> (u16, Value) {
    t.send("POST", AM, &t.admin(), Some(body)).await
}

async fn config(t: &Target) -> Value {
    let (s, g) = t.send("GET", AM, &t.admin(), None).await;
    assert_eq!(s, 200, "{g}");
    g["alertmanager_config"].clone()
}

#[tokio::test]
async fn mute_time_intervals_are_stored_in_alertmanager_form() {
    let t = Target::new().await;
    // The second vector of tests/fixtures/time_interval_vectors.json (timeinterval.go
    // UnmarshalYAML then MarshalText/MarshalJSON, lines 321-375): weekdays lower-cased and
    // collapsed, months as numbers, ranges "a:b" or "a".
    let interval = json!({"name": "a", "time_intervals": [
        {"weekdays": ["monday:friday", "Saturday", "SUNDAY:sunday"], "days_of_month": ["1:5", "-3:-1", 7, "-31"],
         "months": ["january:march", "12", "may:MAY", "13"], "years": ["2020:2022", "1999", "-5"],
         "times": [{"start_time": "09:00", "end_time": "17:00"}, {"start_time": "00:00", "end_time": "24:00"}]}]});
    let route = json!({"receiver": "r", "routes": [{"receiver": "r", "mute_time_intervals": ["a"]}]});
    assert_eq!(post(&t, doc(route, json!({"mute_time_intervals": [interval]}))).await.0, 202);
    let c = config(&t).await;
    assert_eq!(
        c["mute_time_intervals"],
        json!([{"name": "a", "time_intervals": [{
            "times": [{"start_time": "09:00", "end_time": "17:00"}, {"start_time": "00:00", "end_time": "24:00"}],
            "weekdays": ["monday:friday", "saturday", "sunday"], "days_of_month": ["1:5", "-3:-1", "7", "-31"],
            "months": ["1:3", "12", "5", "13"], "years": ["2020:2022", "1999", "-5"]}]}])
    );
    assert_eq!(c["route"]["routes"][0]["mute_time_intervals"], json!(["a"]));
}

#[tokio::test]
async fn invalid_mute_time_intervals_are_bad_request_data() {
    let t = Target::new().await;
    let route = json!({"receiver": "r", "routes": [{"receiver": "r", "mute_time_intervals": ["a"]}]});
    let with = |ti: Value| doc(route.clone(), json!({"mute_time_intervals": [{"name": "a", "time_intervals": [ti]}]}));
    // timeinterval.go: line 300 (start >= end), 493 (HH:MM), 103 (weekday), 207 (day of
    // month), 250 (months), 271 (years), 521 (range syntax); each is a decoding error.
    for ti in [
        json!({"times": [{"start_time": "17:00", "end_time": "09:00"}]}),
        json!({"times": [{"start_time": "9:00", "end_time": "17:00"}]}),
        json!({"times": [{"start_time": "09:00"}]}),
        json!({"weekdays": ["funday"]}),
        json!({"weekdays": ["friday:monday"]}),
        json!({"days_of_month": ["0"]}),
        json!({"days_of_month": ["-1:5"]}),
        json!({"months": ["march:january"]}),
        json!({"years": ["2022:2020"]}),
        json!({"weekdays": ["monday:tuesday:wednesday"]}),
        json!({"weekdays": "monday"}),
    ] {
        assert_eq!(post(&t, with(ti.clone())).await, bad(), "{ti}");
    }
    // defs lines 826 and 829: names are required and unique.
    let twice = json!([{"name": "a", "time_intervals": []}, {"name": "a", "time_intervals": []}]);
    assert_eq!(post(&t, doc(route.clone(), json!({"mute_time_intervals": twice}))).await, bad());
    let unnamed = json!([{"time_intervals": []}, {"name": "a"}]);
    assert_eq!(post(&t, doc(route.clone(), json!({"mute_time_intervals": unnamed}))).await, bad());
    // defs line 847: a route may only name defined intervals, at any depth.
    let deep = json!({"receiver": "r", "routes": [{"receiver": "r", "routes": [{"mute_time_intervals": ["b"]}]}]});
    let defined = json!({"mute_time_intervals": [{"name": "a", "time_intervals": []}]});
    assert_eq!(post(&t, doc(deep, defined.clone())).await, bad());
    // validation line 64: not on the root route.
    let root = json!({"receiver": "r", "mute_time_intervals": ["a"]});
    assert_eq!(post(&t, doc(root, defined)).await, bad());
}

#[tokio::test]
async fn root_route_rules() {
    let t = Target::new().await;
    // validation lines 57-65: a receiver, no `match`/`match_re`, no mute intervals; the
    // newer matcher fields are not checked on the root route.
    let ok = json!({"receiver": "r", "matchers": ["a=b"], "object_matchers": [["c", "=", "d"]]});
    assert_eq!(post(&t, doc(ok, json!({}))).await.0, 202);
    for root in [
        json!({"receiver": ""}),
        json!({"receiver": "r", "match": {"a": "b"}}),
        json!({"receiver": "r", "match_re": {"a": "b.*"}}),
        // defs line 498: continue on the root route.
        json!({"receiver": "r", "continue": true}),
        // defs line 919: every receiver a route names must exist.
        json!({"receiver": "r", "routes": [{"receiver": "nope"}]}),
    ] {
        assert_eq!(post(&t, doc(root.clone(), json!({}))).await, bad(), "{root}");
    }
    assert_eq!(post(&t, json!({"alertmanager_config": {"receivers": receivers()}})).await, bad());
}

#[tokio::test]
async fn matchers_are_parsed_sorted_and_written_back() {
    let t = Target::new().await;
    // config.go line 919: each `matchers` string is parse.go ParseMatchers output, all sorted
    // by labels.Matchers.Less (name, value, type; matcher.go line 162) and written with
    // Matcher.String (line 76). defs `ObjectMatchers.UnmarshalJSON` sorts likewise.
    let route = json!({"receiver": "r", "routes": [{"receiver": "r",
        "matchers": ["{team = \"b\", env=~\"prod|stage\"}", "team!=a"],
        "object_matchers": [["z", "=", "1"], ["a", "!~", "x.*"], ["a", "=", "x"]],
        "match_re": {"svc": "api.*", "empty": ""}, "group_by": ["...", "..."],
        "group_wait": "30s", "group_interval": "300s", "repeat_interval": "1d"}]});
    assert_eq!(post(&t, doc(route, json!({}))).await.0, 202);
    let child = &config(&t).await["route"]["routes"][0];
    assert_eq!(
        child,
        &json!({"receiver": "r", "group_by": ["...", "..."],
                // Regexp.MarshalJSON (config.go line 881) writes null for an empty original.
                "match_re": {"empty": null, "svc": "api.*"},
                "matchers": ["env=~\"prod|stage\"", "team!=\"a\"", "team=\"b\""],
                "object_matchers": [["a", "=", "x"], ["a", "!~", "x.*"], ["z", "=", "1"]],
                "group_wait": "30s", "group_interval": "5m", "repeat_interval": "1d"})
    );
    for bad_child in [
        json!({"matchers": ["1a=b"]}),
        json!({"matchers": ["a=b,,c=d"]}),
        json!({"matchers": ["a=~\"(\""]}),
        json!({"object_matchers": [["a", "==", "b"]]}),
        json!({"object_matchers": [["a", "=~", "("]]}),
        json!({"match_re": {"a": "("}}),
        // validation lines 23-39.
        json!({"group_by": ["...", "a"]}),
        json!({"group_by": ["a", "a"]}),
        json!({"group_interval": "0s"}),
        json!({"repeat_interval": "0"}),
        json!({"group_wait": "1.5m"}),
    ] {
        let route = json!({"receiver": "r", "routes": [bad_child.clone()]});
        assert_eq!(post(&t, doc(route, json!({}))).await, bad(), "{bad_child}");
    }
}

#[tokio::test]
async fn decoding_panics_are_500() {
    let t = Target::new().await;
    // parse.go line 130 indexes the value of `foo=` (empty), out of range.
    let route = json!({"receiver": "r", "routes": [{"matchers": ["foo="]}]});
    assert_eq!(post(&t, doc(route, json!({}))).await, panic_body());
    // validation line 45 calls validateChild on a nil child route.
    let route = json!({"receiver": "r", "routes": [null]});
    assert_eq!(post(&t, doc(route, json!({}))).await, panic_body());
    // defs line 818: InhibitRule.UnmarshalYAML on a nil rule reads its SourceMatch.
    assert_eq!(post(&t, doc(json!({"receiver": "r"}), json!({"inhibit_rules": [null]}))).await, panic_body());
    // PostableApiAlertingConfig.validate reads the name of a nil receiver.
    let mut body = doc(json!({"receiver": "r"}), json!({}));
    body["alertmanager_config"]["receivers"].as_array_mut().expect("receivers").push(Value::Null);
    assert_eq!(post(&t, body).await, panic_body());
    // web.Bind ignores io.EOF, so an empty body leaves a nil route for applyConfig.
    let (s, b) = t.send_raw("POST", AM, &t.admin(), "", Some("application/json")).await;
    assert_eq!((s, b), panic_body());
}

#[tokio::test]
async fn global_is_reset_to_the_defaults_and_inhibit_rules_are_checked() {
    let t = Target::new().await;
    // defs line 803: GlobalConfig.UnmarshalYAML(noopUnmarshal) sets DefaultGlobalConfig()
    // (config.go line 666) and reads nothing, so what was posted is replaced; the JSON is
    // tests/fixtures/default_global_config.json (`go run . global`).
    let extra = json!({
        "global": {"smtp_from": "x@example.com", "resolve_timeout": "1m"},
        "inhibit_rules": [{"source_match": {"severity": "critical"}, "target_matchers": ["severity=warning"],
                           "equal": ["alertname"], "target_match_re": {"a": ""}}]
    });
    assert_eq!(post(&t, doc(json!({"receiver": "r"}), extra)).await.0, 202);
    let c = config(&t).await;
    assert_eq!(
        c["global"],
        json!({"resolve_timeout": "5m",
               "http_config": {"proxy_url": null, "tls_config": {"insecure_skip_verify": false}, "follow_redirects": true},
               "smtp_hello": "localhost", "smtp_smarthost": "", "smtp_require_tls": true,
               "pagerduty_url": "https://events.pagerduty.com/v2/enqueue", "opsgenie_api_url": "https://api.opsgenie.com/",
               "wechat_api_url": "https://qyapi.weixin.qq.com/cgi-bin/",
               "victorops_api_url": "https://alert.victorops.com/integrations/generic/20131114/alert/"})
    );
    assert_eq!(
        c["inhibit_rules"],
        json!([{"source_match": {"severity": "critical"}, "target_match_re": {"a": null},
                "target_matchers": ["severity=\"warning\""], "equal": ["alertname"]}])
    );
    // What the reset discards is still decoded first: config.go parseURL (line 554),
    // HostPort.UnmarshalJSON (line 597) and GlobalConfig's model.Duration (checked against
    // encoding/json into the vendored config.GlobalConfig with a Go program).
    for global in [
        json!({"slack_api_url": "ftp://x"}),
        json!({"pagerduty_url": "https://"}),
        json!({"smtp_smarthost": "localhost"}),
        json!({"smtp_smarthost": "localhost:"}),
        json!({"resolve_timeout": null}),
        json!({"smtp_require_tls": "yes"}),
    ] {
        assert_eq!(post(&t, doc(json!({"receiver": "r"}), json!({"global": global.clone()}))).await, bad(), "{global}");
    }
    // SecretURL.UnmarshalJSON (line 159) only skips the check for the raw bytes of
    // json.Marshal("<secret>"), i.e. "\u003csecret\u003e"; the plain text is parsed as a URL.
    let plain_secret = json!({"global": {"slack_api_url": "<secret>"}});
    assert_eq!(post(&t, doc(json!({"receiver": "r"}), plain_secret)).await, bad());
    let fine = json!({"smtp_smarthost": "[::1]:25", "pagerduty_url": "HTTPS://pd.example/x"});
    assert_eq!(post(&t, doc(json!({"receiver": "r"}), json!({"global": fine}))).await.0, 202);
    // config.go line 775: match keys must be label names; common model.LabelName for `equal`.
    for rule in [
        json!({"source_match": {"not-a-label": "x"}}),
        json!({"target_match": {"1a": "x"}}),
        json!({"equal": ["a-b"]}),
        json!({"source_matchers": ["=x"]}),
    ] {
        assert_eq!(
            post(&t, doc(json!({"receiver": "r"}), json!({"inhibit_rules": [rule.clone()]}))).await,
            bad(),
            "{rule}"
        );
    }
}

#[tokio::test]
async fn receiver_kinds() {
    let t = Target::new().await;
    // defs line 1130 `Type()`: a receiver with an (even empty) Alertmanager integration list
    // is an Alertmanager receiver, which cannot sit next to Grafana ones (line 898).
    let mut body = doc(json!({"receiver": "r"}), json!({}));
    body["alertmanager_config"]["receivers"]
        .as_array_mut()
        .expect("receivers")
        .push(json!({"name": "am", "email_configs": []}));
    assert_eq!(post(&t, body).await, bad());
    // Keys that are no `config.Receiver` field are ignored, so this is an empty receiver.
    let mut body = doc(json!({"receiver": "r"}), json!({}));
    body["alertmanager_config"]["receivers"]
        .as_array_mut()
        .expect("receivers")
        .push(json!({"name": "x", "foo_configs": [{}]}));
    assert_eq!(post(&t, body).await.0, 202);
    assert_eq!(config(&t).await["receivers"][1], json!({"name": "x"}));
    // Line 1103: Grafana and Alertmanager integrations in one receiver.
    let mut body = doc(json!({"receiver": "r"}), json!({}));
    body["alertmanager_config"]["receivers"][0]["webhook_configs"] = json!([{"url": "http://127.0.0.1/"}]);
    assert_eq!(post(&t, body).await, bad());
    // `secureSettings` is a map[string]string: null values decode as "".
    let mut body = doc(json!({"receiver": "r"}), json!({}));
    body["alertmanager_config"]["receivers"][0]["grafana_managed_receiver_configs"][0]["secureSettings"] =
        json!({"password": null});
    assert_eq!(post(&t, body).await.0, 202);
}
