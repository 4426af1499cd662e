//! The library face end to end against the Grafana 8.5 emulator.

use grafana8_emulator::{Emulator, EmulatorConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_build_definitions_that_plan_apply_and_replan_empty() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let datasource =
        emulator.create_prometheus_datasource("Prometheus", "http://127.0.0.1:9090").await.expect("datasource");
    let dir = tempfile::tempdir().expect("tempdir");
    let password = dir.path().join("password");
    std::fs::write(&password, "admin\n").expect("write");
    let providers =
        library_usage::providers(&emulator.base_url(), serde_json::json!({ "file": password })).expect("providers");
    let state = dir.path().join("state.json");
    let definitions =
        library_usage::team_definitions("payments", &["checkout", "refunds"], &datasource).expect("definitions");

    let plan = library_usage::plan(&providers, &definitions, &state).await.expect("plan");
    assert_eq!(plan.actions.len(), 3, "a folder and two groups");
    let report = library_usage::apply(&providers, &plan, &state).await.expect("apply");
    assert!(report.succeeded(), "{report:?}");

    let rules: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/ruler/grafana/api/v1/rules", emulator.base_url()))
        .basic_auth("admin", Some("admin"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let groups = rules["payments"].as_array().map(Vec::len);
    assert_eq!(groups, Some(2), "{rules}");
    assert_eq!(rules["payments"][0]["rules"][0]["grafana_alert"]["title"], "checkout: high 5xx ratio");

    let replan = library_usage::plan(&providers, &definitions, &state).await.expect("plan");
    assert!(!replan.has_changes(), "{:?}", replan.actions);
}
