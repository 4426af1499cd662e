//! Fault and latency injection and the request counter (emulator-only features).

use crate::support::{Cred, Target};
use grafana8_emulator::{EmulatorConfig, FaultConfig, FaultKind, FaultRule, Latency};
use serde_json::json;

fn rule(route: &str, fault: FaultKind, nth: Option<u64>) -> FaultRule {
    FaultRule {
        method: Some("GET".into()),
        route: Some(route.into()),
        fault,
        nth,
        probability: None,
        retry_after_secs: Some(7),
    }
}

#[tokio::test]
async fn nth_request_of_a_route_fails_then_recovers() {
    if std::env::var("MAC_GRAFANA_URL").is_ok() {
        return; // Faults exist only in the emulator.
    }
    let faults =
        FaultConfig { seed: 1, latency: None, rules: vec![rule("/api/folders/{uid}", FaultKind::Status502, Some(2))] };
    let t = Target::with_config(EmulatorConfig { faults, ..EmulatorConfig::default() }).await;
    let (uid, _, _) = t.folder().await;
    let p = format!("/api/folders/{uid}");
    assert_eq!(t.send("GET", &p, &t.admin(), None).await.0, 200);
    assert_eq!(t.send("GET", &p, &t.admin(), None).await, (502, json!({"message": "Bad Gateway"})));
    assert_eq!(t.send("GET", &p, &t.admin(), None).await.0, 200);
    let emu = t.emu.as_ref().expect("emulator");
    assert_eq!(emu.request_count("GET", "/api/folders/{uid}"), 3);
    assert_eq!(emu.request_count("POST", "/api/folders"), 1);
}

#[tokio::test]
async fn faults_change_at_run_time_through_the_admin_route() {
    if std::env::var("MAC_GRAFANA_URL").is_ok() {
        return;
    }
    let t = Target::new().await;
    let cfg = json!({"seed": 3, "rules": [{"method": "GET", "route": "/api/org", "fault": "status429", "retry_after_secs": 9}]});
    let (s, b) = t.send("PUT", "/__emulator/faults", &Cred::None, Some(cfg)).await;
    assert_eq!((s, b["rules"][0]["fault"].clone()), (200, json!("status429")));
    let (s, h, b) = t.send_full("GET", "/api/org", &t.admin(), None, &[]).await;
    assert_eq!((s, b), (429, json!({"message": "Too Many Requests"})));
    assert_eq!(h["retry-after"], "9");
    let (s, _) = t.send("DELETE", "/__emulator/faults", &Cred::None, None).await;
    assert_eq!(s, 200);
    assert_eq!(t.send("GET", "/api/org", &t.admin(), None).await.0, 200);
    let (s, b) = t.send("GET", "/__emulator/requests", &Cred::None, None).await;
    assert_eq!(s, 200);
    assert_eq!(b["requests"], json!([{"method": "GET", "route": "/api/org", "count": 2}]));
    let (s, b) = t.send("PUT", "/__emulator/faults", &Cred::None, Some(json!({"rules": [{"fault": "teapot"}]}))).await;
    assert_eq!(s, 400, "{b}");
}

#[tokio::test]
async fn dropped_connections_and_500s() {
    if std::env::var("MAC_GRAFANA_URL").is_ok() {
        return;
    }
    let t = Target::new().await;
    let emu = t.emu.as_ref().expect("emulator");
    emu.set_faults(FaultConfig {
        seed: 0,
        latency: None,
        rules: vec![rule("/api/org", FaultKind::Drop, Some(1)), rule("/api/org", FaultKind::Status500, Some(2))],
    });
    let err = reqwest::Client::new().get(format!("{}/api/org", t.base)).basic_auth("admin", Some("admin")).send().await;
    assert!(err.is_err(), "the connection is closed without an answer");
    assert_eq!(t.send("GET", "/api/org", &t.admin(), None).await, (500, json!({"message": "Internal Server Error"})));
    assert_eq!(t.send("GET", "/api/org", &t.admin(), None).await.0, 200);
}

#[tokio::test]
async fn fixed_latency_applies_and_helpers_are_not_counted() {
    if std::env::var("MAC_GRAFANA_URL").is_ok() {
        return;
    }
    let t = Target::new().await;
    let emu = t.emu.as_ref().expect("emulator");
    let key = emu.create_api_key("helper", grafana8_emulator::Role::Viewer).await.expect("key");
    let ds = emu.create_prometheus_datasource("prom", "http://127.0.0.1:9090").await.expect("datasource");
    assert!(!ds.is_empty());
    assert!(emu.request_counts().is_empty());
    emu.set_faults(FaultConfig { seed: 0, latency: Some(Latency::Fixed { ms: 30 }), rules: vec![] });
    let start = std::time::Instant::now();
    let (s, _) = t.send("GET", "/api/org", &Cred::Bearer(key), None).await;
    assert_eq!(s, 200);
    assert!(start.elapsed() >= std::time::Duration::from_millis(30));
    assert_eq!(emu.faults().latency, Some(Latency::Fixed { ms: 30 }));
}
