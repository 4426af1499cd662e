//! The engine's behaviours, driven through the `testfs` test provider in-process: one
//! integration-test binary (see matklad's "Delete Cargo Integration Tests").

mod batches;
mod blocked;
mod engine;
mod loading;
mod recheck;
mod replay;
mod state_config;

use std::path::Path;
use std::time::Duration;

use mac_core::plan::Operation;
use mac_core::project::definitions_from_documents;
use mac_core::source::Document;
use mac_core::state::StateStore;
use mac_core::{
    ApplyOptions, ApplyReport, Definition, FileStateStore, Plan, PlanError, PlanOptions, ProjectError, Providers, State,
};
use mac_test_provider::{Faults, Remote, TestProvider};

/// A project directory with a file state, a fake remote and the provider instance `testfs`.
#[derive(Debug)]
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub remote: Remote,
    pub store: FileStateStore,
    pub providers: Providers,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_remote(Remote::in_memory())
    }

    pub fn with_remote(remote: Remote) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStateStore::new(dir.path().join(".mac/state.json"));
        let mut providers = Providers::new();
        providers.insert("testfs", Box::new(TestProvider::new(remote.clone()))).expect("valid provider");
        Harness { dir, remote, store, providers }
    }

    pub fn faults(&self, faults: Faults) {
        self.remote.configure(faults);
    }

    pub fn definitions(&self, toml: &str) -> Result<Vec<Definition>, ProjectError> {
        load_definitions(&self.providers, toml)
    }

    pub async fn plan(&self, toml: &str) -> Result<Plan, PlanError> {
        self.plan_with(toml, &PlanOptions::default()).await
    }

    pub async fn plan_with(&self, toml: &str, options: &PlanOptions) -> Result<Plan, PlanError> {
        let definitions = self.definitions(toml).expect("valid definitions");
        let state = self.state();
        let instances = ["testfs".to_owned()].into_iter().collect();
        let kinds = mac_core::refresh::all_kinds(&self.providers, &instances);
        let observed = mac_core::refresh::observe(&self.providers, &kinds).await.expect("observe");
        mac_core::plan(&definitions, &state, &observed, &self.providers, options)
    }

    pub async fn apply(&self, plan: &Plan, options: &ApplyOptions) -> Result<ApplyReport, mac_core::ApplyError> {
        let _lock = self.store.lock(Duration::ZERO).expect("lock");
        let state = self.state();
        let (_, report) =
            mac_core::apply(plan, &self.providers, &self.store, state, options, &mac_core::apply::Silent).await?;
        Ok(report)
    }

    /// Plans and applies with default options, asserting success.
    pub async fn converge(&self, toml: &str) -> Plan {
        let plan = self.plan(toml).await.expect("plan");
        let report = self.apply(&plan, &ApplyOptions::default()).await.expect("apply");
        assert!(report.succeeded(), "{report:?}");
        plan
    }

    pub fn state(&self) -> State {
        self.store.load().expect("state")
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

pub fn load_definitions(providers: &Providers, toml: &str) -> Result<Vec<Definition>, ProjectError> {
    let document = Document::parse("defs.toml", toml.to_owned())?;
    definitions_from_documents(&[document], providers, ["testfs"], Path::new("."))
}

/// `operation kind.id` of every action, in plan order.
pub fn summary(plan: &Plan) -> Vec<String> {
    plan.actions
        .iter()
        .map(|action| {
            let operation = serde_json::to_value(action.operation).expect("serialisable");
            format!("{} {}", operation.as_str().unwrap_or_default(), action.id.short())
        })
        .collect()
}

pub fn operations(plan: &Plan) -> Vec<Operation> {
    plan.actions.iter().map(|action| action.operation).collect()
}

/// Two folders, a group in each (shared with the other crates' tests).
pub use mac_test_provider::TWO_FOLDERS;
