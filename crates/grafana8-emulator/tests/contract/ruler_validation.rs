//! Ruler body checks the older suite (ruler.rs) does not pin, from the audit of
//! pkg/services/ngalert/api/api_ruler.go (`updateAlertRulesInGroup` answers, lines 495-506),
//! api_ruler_validation.go, util.go, models/alert_query.go, store/alert_rule.go and the types
//! of api/tooling/definitions/cortex-ruler.go at v8.5.4.

use crate::ruler::{ns_path, rule};
use crate::support::{Target, msg_trace};
use serde_json::{Value, json};

struct Setup {
    t: Target,
    title: String,
    ds: String,
}

async fn setup() -> Setup {
    let t = Target::new().await;
    let (_, title, _) = t.folder().await;
    let ds = t.prometheus().await;
    Setup { t, title, ds }
}

impl Setup {
    async fn post(&self, body: Value) -> (u16, Value) {
        self.t.send("POST", &ns_path(&self.title), &self.t.admin(), Some(body)).await
    }

    async fn post_rule(&self, r: Value) -> (u16, Value) {
        self.post(json!({"name": "g", "interval": "1m", "rules": [r]})).await
    }
}

#[tokio::test]
async fn null_durations_are_bad_request_data() {
    let s = setup().await;
    // prometheus/common v0.32.1 model/time.go line 275: model.Duration implements
    // json.Unmarshaler, which encoding/json calls for null too; "" does not parse.
    let (st, b) = s.post(json!({"name": "g", "interval": null, "rules": [rule(&s.ds, "a", "")]})).await;
    assert_eq!((st, b), (400, msg_trace("bad request data")));
    let mut r = rule(&s.ds, "a", "");
    r["for"] = Value::Null;
    assert_eq!(s.post_rule(r).await, (400, msg_trace("bad request data")));
}

#[tokio::test]
async fn data_source_checks() {
    let s = setup().await;
    // util.go line 228 wraps datasources/service/cache_service.go line 69, which refuses an
    // empty uid before looking anything up.
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["data"][0]["datasourceUid"] = json!("");
    assert_eq!(
        s.post_rule(r).await,
        (
            400,
            msg_trace(
                "invalid rule specification at index [0]: failed to validate condition of alert rule a: invalid query A: can not get data source by uid, uid is empty: "
            )
        )
    );
    // A null element of `data` is the zero AlertQuery.
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["data"] = json!([null]);
    assert_eq!(
        s.post_rule(r).await,
        (
            400,
            msg_trace(
                "invalid rule specification at index [0]: failed to validate condition of alert rule a: invalid query : can not get data source by uid, uid is empty: "
            )
        )
    );
}

#[tokio::test]
async fn query_models_are_checked_when_saved() {
    let s = setup().await;
    let add = |m: &str| format!("failed to update rule group: failed to add rules: invalid alert query A: {m}");
    // alert_query.go line 234 formats the non-string queryType with %v.
    for (qt, shown) in
        [(json!(5), "5"), (Value::Null, "<nil>"), (json!({"b": [1, "x"], "a": true}), "map[a:true b:[1 x]]")]
    {
        let mut r = rule(&s.ds, "a", "");
        r["grafana_alert"]["data"][0]["model"]["queryType"] = qt;
        assert_eq!(
            s.post_rule(r).await,
            (
                500,
                msg_trace(&add(&format!(
                    "failed to set query type to query model: failed to get queryType from query model: {shown}"
                )))
            )
        );
    }
    // Line 87: a missing model is a nil json.RawMessage.
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["data"][0].as_object_mut().expect("query").remove("model");
    assert_eq!(
        s.post_rule(r).await,
        (
            500,
            msg_trace(&add(
                "failed to set query type to query model: failed to unmarshal query model: unexpected end of JSON input"
            ))
        )
    );
    // A null model unmarshals into a nil map, which setMaxDatapoints (line 108) writes to:
    // the panic reaches the recovery middleware.
    let mut r = rule(&s.ds, "a", "");
    r["grafana_alert"]["data"][0]["model"] = Value::Null;
    assert_eq!(
        s.post_rule(r).await,
        (
            500,
            json!({"message": "Internal Server Error - Check the Grafana server logs for the detailed error message.", "error": "Server Error"})
        )
    );
    // Nothing was stored by the refused requests.
    let (_, g) = s.t.send("GET", &format!("{}/g", ns_path(&s.title)), &s.t.admin(), None).await;
    assert_eq!(g["rules"], json!([]));
}

#[tokio::test]
async fn sub_second_intervals_fail_the_store_check() {
    let s = setup().await;
    // api_ruler_validation.go: 500ms is 0 whole seconds, a multiple of the base interval, so
    // the group passes; store/alert_rule.go line 395 then refuses IntervalSeconds 0, an
    // ErrAlertRuleFailedValidation answered 400 (api_ruler.go line 500).
    let body = json!({"name": "g", "interval": "500ms", "rules": [rule(&s.ds, "a", "")]});
    assert_eq!(
        s.post(body).await,
        (
            400,
            msg_trace(
                "failed to update rule group: failed to add rules: invalid alert rule: interval (0s) should be non-zero and divided exactly by scheduler interval: 10s"
            )
        )
    );
    // 10.5s truncates to 10 whole seconds and is accepted.
    let body = json!({"name": "g", "interval": "10s500ms", "rules": [rule(&s.ds, "a", "")]});
    assert_eq!(s.post(body).await.0, 202);
    let (_, g) = s.t.send("GET", &format!("{}/g", ns_path(&s.title)), &s.t.admin(), None).await;
    assert_eq!(g["rules"][0]["grafana_alert"]["intervalSeconds"], json!(10));
}
