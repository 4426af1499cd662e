//! Per-type settings checks of Grafana 8.5.4's notifiers.
//!
//! Unified alerting: a Grafana-managed receiver that its factory refuses makes
//! notifier/alertmanager.go `buildReceiverIntegration` fail with `InvalidReceiverError`
//! ("the receiver is invalid: ", notifier/receivers.go line 50) around
//! channels/utils.go line 47's `receiverInitError` ("failed to validate receiver "<name>" of
//! type "<type>": <reason>"), wrapped "failed to build integration map: " (alertmanager.go
//! line 398) and answered 400 by api_alertmanager.go lines 228-231. The reasons are those of
//! pkg/services/ngalert/notifier/channels/<type>.go at the line given.
//!
//! Legacy channels: pkg/api/alerting.go `CreateAlertNotification` answers an
//! `alerting.ValidationError` (pkg/services/alerting/rule.go line 89: "alert validation
//! error: <reason>") with 400 and any other error with 500 "Failed to create alert
//! notification"; the reasons are those of pkg/services/alerting/notifiers/<type>.go.

use crate::support::{Target, msg_trace, unique};
use serde_json::{Value, json};

const AM: &str = "/api/alertmanager/grafana/config/api/v1/alerts";

async fn post_receiver(t: &Target, r#type: &str, settings: Value, secure: Value) -> (u16, Value) {
    let body = json!({"alertmanager_config": {"route": {"receiver": "r"}, "receivers": [{"name": "r",
        "grafana_managed_receiver_configs": [{"name": "n", "type": r#type, "settings": settings, "secureSettings": secure}]}]}});
    t.send("POST", AM, &t.admin(), Some(body)).await
}

fn invalid(r#type: &str, reason: &str) -> (u16, Value) {
    (
        400,
        msg_trace(&format!(
            "failed to save and apply Alertmanager configuration: failed to build integration map: the receiver is invalid: failed to validate receiver \"n\" of type \"{type}\": {reason}"
        )),
    )
}

#[tokio::test]
async fn unified_receivers_are_checked_per_type() {
    let t = Target::new().await;
    let none = json!({});
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        // channels/alertmanager.go line 31, 42 (net/url.Parse of each url + "/api/v1/alerts").
        ("prometheus-alertmanager", json!({}), none.clone(), "could not find url property in settings"),
        (
            "prometheus-alertmanager",
            json!({"url": "http://a:9093, http://b:x"}),
            none.clone(),
            "invalid url property in settings: parse \"http://b:x/api/v1/alerts\": invalid port \":x\" after host",
        ),
        ("dingding", json!({}), none.clone(), "could not find url property in settings"), // dingding.go:30
        ("discord", json!({}), none.clone(), "could not find webhook url property in settings"), // discord.go:42
        ("email", json!({"addresses": 5}), none.clone(), "could not find addresses in settings"), // email.go:51
        ("googlechat", json!({}), none.clone(), "could not find url property in settings"), // googlechat.go:50
        ("kafka", json!({}), none.clone(), "could not find kafka rest proxy endpoint property in settings"), // kafka.go:50
        (
            "kafka",
            json!({"kafkaRestProxy": "http://k"}),
            none.clone(),
            "could not find kafka topic property in settings",
        ), // :54
        ("LINE", json!({}), none.clone(), "could not find token in settings"), // line.go:40
        ("opsgenie", json!({}), none.clone(), "could not find api key property in settings"), // opsgenie.go:68
        ("opsgenie", json!({"sendTagsAs": ""}), json!({"apiKey": "k"}), "invalid value for sendTagsAs: \"\""), // :74
        ("pagerduty", json!({}), none.clone(), "could not find integration key property in settings"), // pagerduty.go:68
        ("pushover", json!({}), none.clone(), "user key not found"),                                   // pushover.go:72
        ("pushover", json!({"userKey": "u"}), none.clone(), "API token not found"),                    // :76
        (
            "pushover",
            json!({"userKey": "u", "apiToken": "a", "priority": "high"}),
            none.clone(),
            "failed to convert alerting priority to integer: strconv.Atoi: parsing \"high\": invalid syntax",
        ), // :80
        ("sensugo", json!({}), none.clone(), "could not find URL property in settings"),               // sensugo.go:58
        ("sensugo", json!({"url": "http://s"}), none.clone(), "could not find the API key property in settings"), // :62
        // slack.go: an empty url means the chat API (line 73), which needs a recipient (85)
        // and a token (93); mentionChannel is checked in between (89).
        ("slack", json!({}), none.clone(), "recipient must be specified when using the Slack chat API"),
        (
            "slack",
            json!({"recipient": "#a", "mentionChannel": "everyone"}),
            none.clone(),
            "invalid value for mentionChannel: \"everyone\"",
        ),
        ("slack", json!({"recipient": "#a"}), none.clone(), "token must be specified when using the Slack chat API"),
        ("slack", json!({"url": "http://h:x/"}), none.clone(), "invalid URL \"http://h:x/\""), // :81
        ("teams", json!({}), none.clone(), "could not find url property in settings"),         // teams.go:47
        ("telegram", json!({}), none.clone(), "could not find Bot Token in settings"),         // telegram.go:54
        ("telegram", json!({}), json!({"bottoken": "b"}), "could not find Chat Id in settings"), // :58
        ("threema", json!({}), none.clone(), "could not find Threema Gateway ID in settings"), // threema.go:56
        ("threema", json!({"gateway_id": "ABCDEFGH"}), none.clone(), "invalid Threema Gateway ID: Must start with a *"), // :59
        (
            "threema",
            json!({"gateway_id": "*ABC"}),
            none.clone(),
            "invalid Threema Gateway ID: Must be 8 characters long",
        ), // :62
        ("threema", json!({"gateway_id": "*ABCDEFG"}), none.clone(), "could not find Threema Recipient ID in settings"), // :66
        (
            "threema",
            json!({"gateway_id": "*ABCDEFG", "recipient_id": "1"}),
            none.clone(),
            "invalid Threema Recipient ID: Must be 8 characters long",
        ), // :69
        (
            "threema",
            json!({"gateway_id": "*ABCDEFG", "recipient_id": "12345678"}),
            none.clone(),
            "could not find Threema API secret in settings",
        ), // :73
        ("victorops", json!({}), none.clone(), "could not find victorops url property in settings"), // victorops.go:49
        ("webhook", json!({}), none.clone(), "could not find url property in settings"),             // webhook.go:55
        ("wecom", json!({"url": "http://w"}), json!({"url": ""}), "could not find webhook URL in settings"), // wecom.go:37
    ];
    for (r#type, settings, secure, reason) in cases {
        assert_eq!(
            post_receiver(&t, r#type, settings.clone(), secure).await,
            invalid(r#type, reason),
            "{type} {settings}"
        );
    }
    // Valid settings of every factory in channels/factory.go, looked up lower-cased.
    let ok: Vec<(&str, Value, Value)> = vec![
        ("prometheus-alertmanager", json!({"url": "http://a:9093,http://b:9093/"}), none.clone()),
        ("Slack", json!({"url": "https://hooks.slack.com/x"}), none.clone()),
        ("slack", json!({"recipient": "#a", "endpointUrl": "https://chat.example/api"}), none.clone()),
        ("opsgenie", json!({"sendTagsAs": "both"}), json!({"apiKey": "k"})),
        ("pushover", json!({"priority": 1}), json!({"userKey": "u", "apiToken": "a"})),
        ("threema", json!({"gateway_id": "*ABCDEFG", "recipient_id": "12345678"}), json!({"api_secret": "s"})),
        ("wecom", json!({}), json!({"url": "http://w"})),
    ];
    for (r#type, settings, secure) in ok {
        assert_eq!(post_receiver(&t, r#type, settings.clone(), secure).await.0, 202, "{type} {settings}");
    }
}

async fn channel(t: &Target, r#type: &str, settings: Value, secure: Value) -> (u16, Value) {
    let body = json!({"name": unique("ch"), "type": r#type, "settings": settings, "secureSettings": secure});
    t.send("POST", "/api/alert-notifications", &t.admin(), Some(body)).await
}

fn validation(reason: &str) -> (u16, Value) {
    (400, msg_trace(&format!("alert validation error: {reason}")))
}

#[tokio::test]
async fn legacy_channels_are_checked_per_type() {
    let t = Target::new().await;
    let none = json!({});
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        ("prometheus-alertmanager", json!({}), none.clone(), "Could not find url property in settings"), // alertmanager.go:56
        ("dingding", json!({}), none.clone(), "Could not find url property in settings"), // dingding.go:53
        ("discord", json!({}), none.clone(), "Could not find webhook url property in settings"), // discord.go:65
        ("googlechat", json!({}), none.clone(), "Could not find url property in settings"), // googlechat.go:38
        // hipchat.go: a trailing "/" is cut before the check (line 62).
        ("hipchat", json!({"url": "/"}), none.clone(), "Could not find url property in settings"),
        (
            "kafka",
            json!({"kafkaRestProxy": "http://k"}),
            none.clone(),
            "Could not find kafka topic property in settings",
        ), // kafka.go:51
        ("LINE", json!({}), none.clone(), "Could not find token in settings"), // line.go:43
        ("opsgenie", json!({"sendTagsAs": "all"}), json!({"apiKey": "k"}), "Invalid value for sendTagsAs: \"all\""), // opsgenie.go:102
        ("pagerduty", json!({}), none.clone(), "Could not find integration key property in settings"), // pagerduty.go:85
        ("pushover", json!({}), none.clone(), "User key not given"), // pushover.go:216
        ("pushover", json!({}), json!({"userKey": "u"}), "API token not given"), // :219
        ("sensu", json!({}), none.clone(), "Could not find url property in settings"), // sensu.go:67
        ("sensugo", json!({"url": "http://s"}), none.clone(), "Could not find the API Key property in settings"), // sensugo.go:83
        // slack.go: recipient (137) and token (149) before mentionChannel (157).
        (
            "slack",
            json!({"mentionChannel": "x"}),
            none.clone(),
            "recipient must be specified when using the Slack chat API",
        ),
        (
            "slack",
            json!({"recipient": "#a", "mentionChannel": "x"}),
            json!({"token": "t"}),
            "Invalid value for mentionChannel: \"x\"",
        ),
        ("teams", json!({}), none.clone(), "Could not find url property in settings"), // teams.go:36
        ("telegram", json!({}), json!({"bottoken": "b"}), "Could not find Chat Id in settings"), // telegram.go:80
        (
            "threema",
            json!({"gateway_id": "*ABCDEFG", "recipient_id": "12"}),
            none.clone(),
            "Invalid Threema Recipient ID: Must be 8 characters long",
        ), // threema.go:97
        ("victorops", json!({}), none.clone(), "Could not find victorops url property in settings"), // victorops.go:54
        // A secure setting that is present wins even when empty
        // (ossencryption.go GetDecryptedValue line 165).
        ("webhook", json!({"url": ""}), none.clone(), "Could not find url property in settings"), // webhook.go:66
        ("LINE", json!({"token": "t"}), json!({"token": ""}), "Could not find token in settings"),
    ];
    for (r#type, settings, secure, reason) in cases {
        assert_eq!(channel(&t, r#type, settings.clone(), secure).await, validation(reason), "{type} {settings}");
    }
    let failed = (500, msg_trace("Failed to create alert notification"));
    // pushover.go line 203: the conversion error is not a ValidationError.
    assert_eq!(channel(&t, "pushover", json!({"priority": "x"}), json!({})).await, failed);
    // slack.go line 131: neither is a URL that does not parse.
    assert_eq!(channel(&t, "slack", json!({"url": "http://h:x/"}), json!({})).await, failed);
    // notifier.go line 298: the type is matched exactly ("LINE", not "line").
    assert_eq!(channel(&t, "line", json!({"token": "t"}), json!({})).await, failed);
    // telegram.go line 68 and threema.go line 76 check for missing settings themselves.
    let body = json!({"name": unique("ch"), "type": "telegram"});
    assert_eq!(
        t.send("POST", "/api/alert-notifications", &t.admin(), Some(body)).await,
        validation("No Settings Supplied")
    );
    assert_eq!(channel(&t, "pushover", json!({"priority": 1}), json!({"userKey": "u", "apiToken": "a"})).await.0, 200);
}

#[tokio::test]
async fn legacy_updates_check_in_grafanas_order() {
    let t = Target::new().await;
    let long = "u".repeat(41);
    // service.go UpdateAlertNotification checks the uid length before createNotifier looks
    // the channel up, so a missing channel with a long uid is 400, not 500.
    let body = json!({"id": 999999, "uid": long, "name": "x", "type": "webhook", "settings": {"url": "http://x"}});
    assert_eq!(
        t.send("PUT", "/api/alert-notifications/999999", &t.admin(), Some(body)).await,
        validation("Invalid UID: Must be 40 characters or less")
    );
    // UpdateAlertNotificationWithUid: a long path uid is a ValidationError that
    // UpdateAlertNotificationByUID answers as any other error (500), before the store's 404.
    let body = json!({"name": "x", "type": "webhook", "settings": {"url": "http://x"}});
    assert_eq!(
        t.send("PUT", &format!("/api/alert-notifications/uid/{long}"), &t.admin(), Some(body)).await,
        (500, msg_trace("Failed to update alert notification"))
    );
    // Frequencies are time.ParseDuration values, fractions included; formatShort drops what
    // is below a second (pkg/api/dtos/alerting.go).
    let (s, c) = channel(&t, "webhook", json!({"url": "http://x"}), json!({})).await;
    assert_eq!(s, 200, "{c}");
    let body = json!({"id": c["id"], "name": c["name"], "type": "webhook", "settings": {"url": "http://x"},
                      "sendReminder": true, "frequency": "1.5h500ms"});
    let (s, u) = t.send("PUT", "/api/alert-notifications/1", &t.admin(), Some(body)).await;
    assert_eq!((s, u["frequency"].clone()), (200, json!("1h30m")));
}
