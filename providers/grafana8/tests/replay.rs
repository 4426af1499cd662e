//! Every planner input is an argument: a plan made from recorded inputs (definitions, state,
//! and `Observed` with each kind's context — the data source directory alert groups resolve
//! names with, the users and teams folder permissions name) is the plan made live, byte for
//! byte, with fresh provider instances whose server is gone.

use std::path::Path;

use grafana8_emulator::{Emulator, EmulatorConfig};
use mac_core::{FileStateStore, Observed, PlanOptions, ProjectConfig, Providers, Registry, State, StateStore};

// The provider registers itself through `inventory` only when its crate is linked in.
use mac_provider_grafana8 as _;

const DEFINITIONS: &str = r#"
[[grafana8.folder]]
id = "payments"
title = "Payments"

[[grafana8.folder_permission]]
id = "payments"
folder = "payments"
permissions = [
  { role = "Viewer", permission = "View" },
  { user = "admin", permission = "Admin" },
]

[[grafana8.alert_group]]
id = "payments-api"
folder = "payments"
name = "Payments API"
interval = "1m"
rules = [
  { title = "High error ratio", condition = "B", for = "5m", labels = { severity = "page" }, data = [
    { ref_id = "A", datasource = { name = "Prometheus" }, model = { expr = "rate(errors_total[5m])" } },
    { ref_id = "B", datasource = "__expr__", model = { type = "math", expression = "$A > 0.05" } },
  ] },
]
"#;

fn write_project(root: &Path, url: &str, threshold: &str) {
    std::fs::write(
        root.join("mac.toml"),
        format!("[providers.grafana8]\nurl = \"{url}\"\nbasic = {{ user = \"admin\", password = {{ file = \"password\" }} }}\n"),
    )
    .expect("mac.toml");
    std::fs::create_dir_all(root.join("definitions")).expect("definitions");
    std::fs::write(root.join("definitions/payments.toml"), DEFINITIONS.replace("0.05", threshold))
        .expect("definitions");
}

fn load(root: &Path) -> (ProjectConfig, Providers, Vec<mac_core::Definition>) {
    let config = ProjectConfig::load(root, None).expect("mac.toml loads");
    let providers = config.build_providers(&Registry::from_inventory().expect("registry")).expect("providers");
    let definitions = config.load_definitions(&providers).expect("definitions load");
    (config, providers, definitions)
}

async fn observe(providers: &Providers, definitions: &[mac_core::Definition], state: &State) -> Observed {
    let kinds = mac_core::refresh::kinds_in_use(
        definitions.iter().map(|definition| &definition.id).chain(state.resources().iter().map(|entry| &entry.id)),
    );
    mac_core::refresh::observe(providers, &kinds).await.expect("observe")
}

fn plan_json(
    definitions: &[mac_core::Definition],
    state: &State,
    observed: &Observed,
    providers: &Providers,
) -> String {
    let plan = mac_core::plan(definitions, state, observed, providers, &PlanOptions::default()).expect("plan");
    serde_json::to_string_pretty(&plan).expect("plan serialises")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_from_recorded_inputs_is_the_live_plan_byte_for_byte() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    emulator.create_prometheus_datasource("Prometheus", "http://127.0.0.1:9090").await.expect("datasource");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let store = FileStateStore::new(root.join("state.json"));
    std::fs::write(root.join("password"), "admin\n").expect("password");

    // Apply once, so that the next plan updates (and compares) objects that exist.
    write_project(root, &emulator.base_url(), "0.05");
    let (_, providers, definitions) = load(root);
    let state = store.load().expect("state");
    let observed = observe(&providers, &definitions, &state).await;
    let plan = mac_core::plan(&definitions, &state, &observed, &providers, &PlanOptions::default()).expect("plan");
    let lock = store.lock(std::time::Duration::from_secs(5)).expect("lock");
    let (_, report) =
        mac_core::apply(&plan, &providers, &store, state, &mac_core::ApplyOptions::default(), &mac_core::apply::Silent)
            .await
            .expect("apply");
    assert!(report.succeeded(), "{report:?}");
    drop(lock);

    // A changed threshold: the live plan updates the group, resolving the data source by name.
    write_project(root, &emulator.base_url(), "0.1");
    let (_, providers, definitions) = load(root);
    let state = store.load().expect("state");
    let observed = observe(&providers, &definitions, &state).await;
    let live = plan_json(&definitions, &state, &observed, &providers);
    assert!(live.contains("\"update\""), "the changed threshold is an update: {live}");
    let saved: serde_json::Value = serde_json::from_str(&live).expect("plan JSON");
    let alert_groups = saved["contexts"]
        .as_array()
        .and_then(|contexts| contexts.iter().find(|context| context["kind"] == "alert_group"))
        .expect("the plan carries the context its group writes resolve names with");
    assert!(alert_groups["context"].to_string().contains("Prometheus"), "{alert_groups}");
    let recorded_observed = serde_json::to_string(&observed).expect("observed serialises");
    let recorded_state = serde_json::to_string(&state).expect("state serialises");
    assert!(recorded_observed.contains("Prometheus"), "the data source directory is recorded: {recorded_observed}");

    // The server is gone; fresh provider instances have read nothing.
    emulator.shutdown();
    drop(emulator);
    let replays: Vec<String> = (0..2)
        .map(|_| {
            let (_, providers, definitions) = load(root);
            let observed: Observed = serde_json::from_str(&recorded_observed).expect("observed replays");
            let state: State = serde_json::from_str(&recorded_state).expect("state replays");
            plan_json(&definitions, &state, &observed, &providers)
        })
        .collect();
    assert_eq!(replays[0], replays[1], "two replays of the same inputs");
    assert_eq!(replays[0], live, "a replay is the live plan");
}
