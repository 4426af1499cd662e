//! Legacy notification channels (pkg/api/alerting.go) and the Alertmanager configuration
//! document (pkg/services/ngalert/api/api_alertmanager.go, notifier/alertmanager_config.go).

use crate::support::{Target, msg, msg_trace, redact, unique};
use serde_json::{Value, json};

const AM: &str = "/api/alertmanager/grafana/config/api/v1/alerts";

fn am_doc(receivers: Value) -> Value {
    json!({"alertmanager_config": {"route": {"receiver": "team-a", "group_wait": "60s",
           "routes": [{"receiver": "team-a", "object_matchers": [["severity", "=", "critical"]], "repeat_interval": "240m"}]},
           "receivers": receivers}})
}

#[tokio::test]
async fn am_config_default_document() {
    let t = Target::new().await;
    if t.emu.is_none() {
        return; // A shared server's document is whatever the last test posted.
    }
    let (s, b) = t.send("GET", AM, &t.admin(), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        b,
        json!({"template_files": null, "alertmanager_config": {"route": {"receiver": "grafana-default-email"}, "templates": null,
               "receivers": [{"name": "grafana-default-email", "grafana_managed_receiver_configs": [
                   {"uid": "", "name": "email receiver", "type": "email", "disableResolveMessage": false,
                    "settings": {"addresses": "<example@email.com>"}, "secureFields": {}}]}]}})
    );
}

#[tokio::test]
async fn am_config_round_trip_keeps_secrets_by_uid() {
    let t = Target::new().await;
    let recv = json!([{"name": "team-a", "grafana_managed_receiver_configs": [
        {"uid": "", "name": "team-a", "type": "slack", "disableResolveMessage": false,
         "settings": {"recipient": "#alerts"}, "secureSettings": {"url": "https://hooks.slack.com/x"}}]}]);
    let (s, b) = t.send("POST", AM, &t.admin(), Some(am_doc(recv))).await;
    assert_eq!((s, b), (202, json!({"message": "configuration created"})));
    let (s, g) = t.send("GET", AM, &t.admin(), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        redact(&g, &["uid"]),
        json!({"template_files": null, "alertmanager_config": {
            "route": {"receiver": "team-a", "routes": [{"receiver": "team-a", "object_matchers": [["severity", "=", "critical"]], "repeat_interval": "4h"}], "group_wait": "1m"},
            "templates": null,
            "receivers": [{"name": "team-a", "grafana_managed_receiver_configs": [
                {"uid": "<_>", "name": "team-a", "type": "slack", "disableResolveMessage": false,
                 "settings": {"recipient": "#alerts"}, "secureFields": {"url": true}}]}]}})
    );
    let uid = g["alertmanager_config"]["receivers"][0]["grafana_managed_receiver_configs"][0]["uid"]
        .as_str()
        .expect("uid")
        .to_string();
    assert!(!uid.is_empty());
    // Re-post with the uid and without the secret: it is carried over.
    let recv = json!([{"name": "team-a", "grafana_managed_receiver_configs": [
        {"uid": uid, "name": "team-a", "type": "slack", "settings": {"recipient": "#other"}}]}]);
    assert_eq!(t.send("POST", AM, &t.admin(), Some(am_doc(recv))).await.0, 202);
    let (_, g) = t.send("GET", AM, &t.admin(), None).await;
    let c = &g["alertmanager_config"]["receivers"][0]["grafana_managed_receiver_configs"][0];
    assert_eq!(
        (c["uid"].clone(), c["secureFields"].clone(), c["settings"].clone()),
        (json!(uid), json!({"url": true}), json!({"recipient": "#other"}))
    );
    // An unknown uid is 400.
    let recv = json!([{"name": "team-a", "grafana_managed_receiver_configs": [
        {"uid": "nope", "name": "team-a", "type": "slack", "settings": {"recipient": "#x"}}]}]);
    assert_eq!(t.send("POST", AM, &t.admin(), Some(am_doc(recv))).await, (400, msg_trace("unknown receiver: nope")));
    // A receiver without integrations is allowed; the empty list is omitted on read.
    let recv = json!([{"name": "team-a", "grafana_managed_receiver_configs": [
        {"uid": uid, "name": "team-a", "type": "slack", "settings": {"recipient": "#other"}}]}, {"name": "blackhole"}]);
    assert_eq!(t.send("POST", AM, &t.admin(), Some(am_doc(recv))).await.0, 202);
    let (_, g) = t.send("GET", AM, &t.admin(), None).await;
    assert_eq!(g["alertmanager_config"]["receivers"][1], json!({"name": "blackhole"}));
    // DELETE applies the default.
    let (s, b) = t.send("DELETE", AM, &t.admin(), None).await;
    assert_eq!((s, b), (202, json!({"message": "configuration deleted; the default is applied"})));
    let (_, g) = t.send("GET", AM, &t.admin(), None).await;
    assert_eq!(g["alertmanager_config"]["route"], json!({"receiver": "grafana-default-email"}));
}

#[tokio::test]
async fn am_config_errors() {
    let t = Target::new().await;
    let bad = msg_trace("bad request data");
    let admin = t.admin();
    let post = |b: Value| t.send("POST", AM, &admin, Some(b));
    assert_eq!(post(json!({"alertmanager_config": {"receivers": []}})).await, (400, bad.clone()));
    assert_eq!(post(am_doc(json!([{"name": "other"}]))).await, (400, bad.clone()));
    let mut cont = am_doc(json!([{"name": "team-a"}]));
    cont["alertmanager_config"]["route"]["continue"] = json!(true);
    assert_eq!(post(cont).await, (400, bad.clone()));
    let recv = json!([{"name": "team-a", "grafana_managed_receiver_configs": [{"name": "e", "type": "email", "settings": {}}]}]);
    assert_eq!(
        post(am_doc(recv)).await,
        (
            400,
            msg_trace(
                "failed to save and apply Alertmanager configuration: failed to build integration map: the receiver is invalid: failed to validate receiver \"e\" of type \"email\": could not find addresses in settings"
            )
        )
    );
    let recv = json!([{"name": "team-a", "grafana_managed_receiver_configs": [{"name": "e", "type": "carrier-pigeon", "settings": {}}]}]);
    assert_eq!(
        post(am_doc(recv)).await,
        (
            400,
            msg_trace(
                "failed to save and apply Alertmanager configuration: failed to build integration map: the receiver is invalid: notifier carrier-pigeon is not supported"
            )
        )
    );
    let viewer = t.key("Viewer").await;
    assert_eq!(
        t.send("POST", AM, &viewer, Some(am_doc(json!([{"name": "team-a"}])))).await,
        (403, msg("Permission denied"))
    );
    assert_eq!(t.send("DELETE", AM, &viewer, None).await, (403, msg("Permission denied")));
}

async fn channel(t: &Target, extra: Value) -> (u16, Value) {
    let mut body = json!({"name": unique("ch"), "type": "webhook", "settings": {"url": "http://127.0.0.1/hook"}});
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    t.send("POST", "/api/alert-notifications", &t.admin(), Some(body)).await
}

#[tokio::test]
async fn channel_crud() {
    let t = Target::new().await;
    let (s, c) =
        channel(&t, json!({"secureSettings": {"password": "p"}, "sendReminder": true, "frequency": "90m"})).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(
        redact(&c, &["id", "uid", "name", "created", "updated"]),
        json!({"id": "<_>", "uid": "<_>", "name": "<_>", "type": "webhook", "isDefault": false, "sendReminder": true,
               "disableResolveMessage": false, "frequency": "1h30m", "created": "<_>", "updated": "<_>",
               "settings": {"url": "http://127.0.0.1/hook"}, "secureFields": {"password": true}})
    );
    let (id, uid, name) =
        (c["id"].as_i64().expect("id"), c["uid"].as_str().expect("uid").to_string(), c["name"].clone());
    // Reads give the created channel back, with its times at the database's precision.
    let times = ["created", "updated"];
    let (s, g) = t.send("GET", &format!("/api/alert-notifications/{id}"), &t.admin(), None).await;
    assert_eq!((s, redact(&g, &times)), (200, redact(&c, &times)));
    let (s, g) = t.send("GET", &format!("/api/alert-notifications/uid/{uid}"), &t.admin(), None).await;
    assert_eq!((s, redact(&g, &times)), (200, redact(&c, &times)));
    // Update by id takes the id from the body; secure settings are kept when omitted.
    let body = json!({"id": id, "name": name, "type": "webhook", "settings": {"url": "http://127.0.0.1/other"}});
    let (s, u) = t.send("PUT", "/api/alert-notifications/0", &t.admin(), Some(body)).await;
    assert_eq!(
        (s, u["settings"]["url"].clone(), u["secureFields"].clone()),
        (200, json!("http://127.0.0.1/other"), json!({"password": true}))
    );
    assert_eq!(u["sendReminder"], json!(false));
    let body = json!({"name": name, "type": "webhook", "settings": {"url": "http://127.0.0.1/by-uid"}, "secureSettings": {"password": ""}});
    let (s, u) = t.send("PUT", &format!("/api/alert-notifications/uid/{uid}"), &t.admin(), Some(body)).await;
    assert_eq!(
        (s, u["settings"]["url"].clone(), u["secureFields"].clone()),
        (200, json!("http://127.0.0.1/by-uid"), json!({"password": true}))
    );
    let (s, l) = t.send("GET", "/api/alert-notifications/lookup", &t.key("Viewer").await, None).await;
    assert_eq!(s, 200);
    assert!(
        l.as_array()
            .expect("array")
            .iter()
            .any(|x| x == &json!({"id": id, "uid": uid, "name": name, "type": "webhook", "isDefault": false}))
    );
    let (s, b) = t.send("DELETE", &format!("/api/alert-notifications/uid/{uid}"), &t.admin(), None).await;
    assert_eq!((s, b), (200, json!({"message": "Notification deleted", "id": id})));
    assert_eq!(
        t.send("GET", &format!("/api/alert-notifications/{id}"), &t.admin(), None).await,
        (404, msg("Alert notification not found"))
    );
    assert_eq!(
        t.send("DELETE", &format!("/api/alert-notifications/{id}"), &t.admin(), None).await,
        (404, msg("alert notification not found"))
    );
}

#[tokio::test]
async fn channel_create_answers_the_time_it_inserted() {
    // pkg/api/alerting.go:312 answers `dtos.NewAlertNotification(cmd.Result)`, and
    // pkg/services/sqlstore/alert_notification.go:342-343 sets `Created`/`Updated` of that
    // result to `time.Now()`: Go marshals them with their nanoseconds (RFC 3339 "Nano"), while
    // a read-back comes from SQLite's DATETIME, to the second.
    let t = Target::new().await;
    let (s, c) = channel(&t, json!({})).await;
    assert_eq!(s, 200, "{c}");
    let created = c["created"].as_str().expect("created").to_string();
    let (seconds, fraction) =
        created.strip_suffix('Z').and_then(|x| x.split_once('.')).expect("a fraction of a second");
    assert!(!fraction.is_empty() && fraction.len() <= 9 && !fraction.ends_with('0'), "{created}");
    let (s, g) = t
        .send("GET", &format!("/api/alert-notifications/uid/{}", c["uid"].as_str().expect("uid")), &t.admin(), None)
        .await;
    assert_eq!(
        (s, g["created"].clone(), g["updated"].clone()),
        (200, json!(format!("{seconds}Z")), json!(format!("{seconds}Z")))
    );
}

#[tokio::test]
async fn channel_errors() {
    let t = Target::new().await;
    let (_, c) = channel(&t, json!({})).await;
    assert_eq!(channel(&t, json!({"name": c["name"]})).await, (409, msg_trace("Failed to create alert notification")));
    assert_eq!(channel(&t, json!({"uid": c["uid"]})).await, (409, msg_trace("Failed to create alert notification")));
    assert_eq!(
        channel(&t, json!({"settings": {}})).await,
        (400, msg_trace("alert validation error: Could not find url property in settings"))
    );
    assert_eq!(
        channel(&t, json!({"type": "email", "settings": {}})).await,
        (400, msg_trace("alert validation error: Could not find addresses in settings"))
    );
    assert_eq!(channel(&t, json!({"type": "pigeon"})).await, (500, msg_trace("Failed to create alert notification")));
    let panic = json!({"message": "Internal Server Error - Check the Grafana server logs for the detailed error message.", "error": "Server Error"});
    assert_eq!(channel(&t, json!({"settings": null})).await, (500, panic));
    assert_eq!(
        channel(&t, json!({"uid": "u".repeat(41)})).await,
        (400, msg_trace("alert validation error: Invalid UID: Must be 40 characters or less"))
    );
    assert_eq!(channel(&t, json!({"name": ""})).await, (400, msg_trace("bad request data")));
    assert_eq!(
        t.send("GET", "/api/alert-notifications/abc", &t.admin(), None).await,
        (400, msg_trace("notificationId is invalid"))
    );
    let body = json!({"id": 999999, "name": "x", "type": "webhook", "settings": {"url": "http://x"}});
    assert_eq!(
        t.send("PUT", "/api/alert-notifications/999999", &t.admin(), Some(body)).await,
        (500, msg_trace("Failed to update alert notification"))
    );
    let body = json!({"name": "x", "type": "webhook", "settings": {"url": "http://x"}});
    assert_eq!(
        t.send("PUT", "/api/alert-notifications/uid/nope", &t.admin(), Some(body)).await,
        (404, msg("alert notification not found"))
    );
    // With secure settings the handler dereferences the missing channel and the recovery
    // middleware answers.
    let panic = json!({"message": "Internal Server Error - Check the Grafana server logs for the detailed error message.", "error": "Server Error"});
    let body = json!({"id": 999999, "name": "x", "type": "webhook", "settings": {"url": "http://x"}, "secureSettings": {"a": "b"}});
    assert_eq!(
        t.send("PUT", "/api/alert-notifications/999999", &t.admin(), Some(body.clone())).await,
        (500, panic.clone())
    );
    assert_eq!(t.send("PUT", "/api/alert-notifications/uid/nope", &t.admin(), Some(body)).await, (500, panic));
    let viewer = t.key("Viewer").await;
    assert_eq!(t.send("GET", "/api/alert-notifications", &viewer, None).await, (403, msg("Permission denied")));
}
