//! Templates as plain Rust: a folder and alert rule groups built by functions, then planned
//! and applied through `mac_core`'s engine with a file state — what `[[use]]` templates do
//! in files, for teams that prefer code. Depends only on `mac-core` and a provider crate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mac_core::source::Location;
use mac_core::state::StateStore;
use mac_core::{
    ApplyOptions, ApplyReport, Definition, FileStateStore, ObjectId, Plan, PlanOptions, Providers, Registry,
};
use mac_provider_grafana8::{AlertGroup, AlertQuery, DatasourceRef, Folder, FolderRef};
use serde_json::{Map, Value, json};

/// One alert rule: a PromQL query and a threshold on it.
#[derive(Debug, Clone)]
pub struct AlertRule {
    pub title: String,
    pub expr: String,
    pub threshold: f64,
    pub for_: String,
    pub severity: String,
}

impl AlertRule {
    /// The rule as a grafana8 `alert_group` rule: query A, threshold expression B.
    fn to_grafana(&self, datasource: &str) -> mac_provider_grafana8::AlertRule {
        let model = |entries: [(&str, Value); 2]| {
            Some(entries.into_iter().map(|(key, value)| (key.to_owned(), value)).collect::<Map<String, Value>>())
        };
        mac_provider_grafana8::AlertRule {
            title: self.title.clone(),
            condition: "B".to_owned(),
            for_: Some(self.for_.clone()),
            labels: [("severity".to_owned(), self.severity.clone())].into(),
            annotations: [("summary".to_owned(), format!("{}: {{{{ $values.A }}}}", self.title))].into(),
            data: vec![
                AlertQuery {
                    ref_id: "A".to_owned(),
                    datasource: DatasourceRef::Uid(datasource.to_owned()),
                    relative_time_range: None,
                    query_type: None,
                    model: model([("expr", Value::from(self.expr.clone())), ("instant", Value::from(true))]),
                },
                AlertQuery {
                    ref_id: "B".to_owned(),
                    datasource: DatasourceRef::expression(),
                    relative_time_range: None,
                    query_type: None,
                    model: model([
                        ("type", Value::from("math")),
                        ("expression", Value::from(format!("$A > {}", self.threshold))),
                    ]),
                },
            ],
            ..mac_provider_grafana8::AlertRule::default()
        }
    }
}

/// The share of a service's requests that fail with a 5xx.
pub fn http_error_ratio(service: &str, threshold: f64) -> AlertRule {
    AlertRule {
        title: format!("{service}: high 5xx ratio"),
        expr: format!(
            "sum(rate(http_requests_total{{job=\"{service}\",status=~\"5..\"}}[5m])) / sum(rate(http_requests_total{{job=\"{service}\"}}[5m]))"
        ),
        threshold,
        for_: "5m".to_owned(),
        severity: "page".to_owned(),
    }
}

/// The 95th percentile latency of a service, in seconds.
pub fn slow_p95(service: &str, seconds: f64) -> AlertRule {
    AlertRule {
        title: format!("{service}: slow p95"),
        expr: format!(
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{job=\"{service}\"}}[5m])))"
        ),
        threshold: seconds,
        for_: "10m".to_owned(),
        severity: "ticket".to_owned(),
    }
}

fn id(kind: &str, local_id: &str) -> ObjectId {
    ObjectId::new("grafana8", kind, local_id)
}

/// A team's folder and one rule group per service, from functions.
pub fn team_definitions(team: &str, services: &[&str], datasource_uid: &str) -> Result<Vec<Definition>, Error> {
    let folder = Folder { title: team.to_owned(), uid: None };
    let mut definitions = vec![Definition::from_typed(id("folder", team), &folder, Location::file(file!()))?];
    for service in services {
        let group = AlertGroup {
            folder: FolderRef::Local(team.to_owned()),
            name: Some(format!("{service} HTTP")),
            interval: Some("1m".to_owned()),
            rules: [http_error_ratio(service, 0.05), slow_p95(service, 0.5)]
                .iter()
                .map(|rule| rule.to_grafana(datasource_uid))
                .collect(),
        };
        let group_id = id("alert_group", &format!("{service}-http"));
        definitions.push(Definition::from_typed(group_id, &group, Location::file(file!()))?);
    }
    Ok(definitions)
}

/// Errors of this example (a binary would report them with anyhow).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Builds the grafana8 provider for a Grafana URL, with the admin's password from a secret
/// reference (`{ "env": "VAR" }` or `{ "file": "path" }`).
pub fn providers(url: &str, password: Value) -> Result<Providers, Error> {
    let registry = Registry::from_inventory()?;
    let registration = registry.get("grafana8").ok_or("the grafana8 provider is not linked in")?;
    let settings = mac_core::ProviderSettings {
        instance: "grafana8".to_owned(),
        values: json!({ "url": url, "basic": { "user": "admin", "password": password } }),
        project_root: PathBuf::from("."),
        project: None,
    };
    let provider = (registration.build)(&settings).map_err(|err| format!("grafana8 settings: {err}"))?;
    let mut providers = Providers::new();
    providers.insert("grafana8", provider)?;
    Ok(providers)
}

/// Plans `definitions` against the server and the state in `state_file`.
pub async fn plan(providers: &Providers, definitions: &[Definition], state_file: &Path) -> Result<Plan, Error> {
    let state = FileStateStore::new(state_file).load()?;
    let kinds = mac_core::refresh::kinds_in_use(
        definitions.iter().map(|definition| &definition.id).chain(state.resources().iter().map(|entry| &entry.id)),
    );
    // And, when a delete is possible, what may live in or use the deleted objects.
    let deletable = mac_core::links::deletable_remote_ids(definitions.iter().map(|definition| &definition.id), &state);
    let linked = mac_core::links::kinds_for_deletes(providers, &deletable, &kinds);
    let observed = mac_core::refresh::observe_with_links(providers, &kinds, &linked).await?;
    Ok(mac_core::plan(definitions, &state, &observed, providers, &PlanOptions::default())?)
}

/// Applies a plan, holding the state lock.
pub async fn apply(providers: &Providers, plan: &Plan, state_file: &Path) -> Result<ApplyReport, Error> {
    let store = FileStateStore::new(state_file);
    let _lock = store.lock(Duration::from_secs(30))?;
    let state = store.load()?;
    let (_, report) =
        mac_core::apply(plan, providers, &store, state, &ApplyOptions::default(), &mac_core::apply::Silent).await?;
    Ok(report)
}
