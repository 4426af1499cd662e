//! Record and replay: a plan is a function of its recorded inputs (definitions, state, and
//! what was observed, contexts included), so planning again from a recording, with no
//! network, gives the same plan byte for byte.

use mac_core::{Observed, PlanOptions, Providers, State};
use mac_test_provider::{Remote, TestProvider};
use serde_json::json;

use crate::{Harness, TWO_FOLDERS, load_definitions, summary};

/// TWO_FOLDERS with a rule changed, a group moved to the other folder and a folder added.
fn changed() -> String {
    let changed = TWO_FOLDERS.replace("errors > 1", "errors > 2").replace("folder = \"b\"", "folder = \"a\"");
    format!("{changed}\n[[testfs.folder]]\nid = \"c\"\ntitle = \"Team C\"\n")
}

#[tokio::test]
async fn plans_from_the_same_recording_are_byte_identical_without_the_network() {
    // A live run: applied definitions, then changed ones and an object made by hand.
    let harness = Harness::new();
    harness.converge(TWO_FOLDERS).await;
    harness.remote.put("folder", "by-hand", json!({ "title": "Made by hand" }));
    let toml = changed();
    let definitions = harness.definitions(&toml).expect("definitions");
    let state = harness.state();
    let instances = ["testfs".to_owned()].into_iter().collect();
    let kinds = mac_core::refresh::all_kinds(&harness.providers, &instances);
    let observed = mac_core::refresh::observe(&harness.providers, &kinds).await.expect("observe");
    let options = PlanOptions::default();
    let live = mac_core::plan(&definitions, &state, &observed, &harness.providers, &options).expect("live plan");
    assert_eq!(
        summary(&live),
        ["create folder.c", "update group.a-alerts", "update group.b-alerts"],
        "a plan with something to show"
    );
    let live = serde_json::to_string(&live).expect("plan as JSON");

    // The recording: what was observed and the state, as JSON.
    let recorded_observed = serde_json::to_string(&observed).expect("observed as JSON");
    let recorded_state = serde_json::to_string(&state).expect("state as JSON");
    drop(harness);

    // Replays, each with fresh providers over an empty remote: anything read would differ.
    let nothing = Remote::in_memory();
    let replay = || {
        let mut providers = Providers::new();
        providers.insert("testfs", Box::new(TestProvider::new(nothing.clone()))).expect("valid provider");
        let definitions = load_definitions(&providers, &toml).expect("definitions");
        let observed: Observed = serde_json::from_str(&recorded_observed).expect("recorded observation");
        let state: State = serde_json::from_str(&recorded_state).expect("recorded state");
        let plan = mac_core::plan(&definitions, &state, &observed, &providers, &options).expect("replayed plan");
        serde_json::to_string(&plan).expect("plan as JSON")
    };
    let first = replay();
    let second = replay();
    assert_eq!(nothing.lists(), 0, "a replay reads nothing");
    assert_eq!(nothing.writes(), 0);
    assert_eq!(first, second, "two replays of one recording plan byte for byte alike");
    assert_eq!(first, live, "and as the live run did");
}
