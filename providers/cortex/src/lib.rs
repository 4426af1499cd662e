//! `cortex`: a `mac` provider for one tenant of Cortex — its Prometheus rule groups, through
//! the ruler API, and its Alertmanager configuration — or of a server with the same APIs
//! (Mimir serves the ruler API under `/prometheus/config/v1/rules`: the `rules_prefix` setting).
//!
//! Every request carries the tenant (`X-Scope-OrgID`). A plan reads the tenant's whole rule set
//! with one GET whatever the number of groups; an apply sends one POST or DELETE per changed
//! group. Rule groups share `mac-prometheus-rules`' model with the prometheus provider; their
//! PromQL is checked offline with promtool when the project loads, since Cortex refuses a bad
//! expression with an empty 400.

mod alertmanager_config;
mod checks;
mod client;
mod rule_group;
mod shared;

pub use alertmanager_config::{AlertmanagerConfig, TemplateFile};
pub use rule_group::RuleGroup;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mac_core::{
    Handler, HandlerError, KindSpec, Provider, ProviderRegistration, ProviderSettings, SecretRef, SettingsError, Typed,
    async_trait,
};
use mac_provider_kit::reqwest::header::HeaderValue;
use mac_provider_kit::{BasicAuth, Credentials, HttpSettings, RetryPolicy};
use serde::Deserialize;

mac_core::inventory::submit! {
    ProviderRegistration {
        name: "cortex",
        description: "Cortex (an instance is one tenant): Prometheus rule groups through the ruler API, and the Alertmanager configuration",
        kinds: kind_specs,
        build: build_provider,
        starter: mac_core::Starter { settings: STARTER_SETTINGS, definitions: STARTER_DEFINITIONS },
    }
}

/// `mac init`'s settings: what a first plan needs, the rest as comments.
const STARTER_SETTINGS: &str = r#"url = "http://127.0.0.1:9009"            # Cortex's base URL; MAC_CORTEX_URL overrides it
tenant = "team-a"                         # the tenant (sent as X-Scope-OrgID)
# rules_prefix = "/api/v1/rules"          # "/api/prom/rules" (Cortex's legacy prefix) or
                                          # "/prometheus/config/v1/rules" (Mimir)
# token = { env = "CORTEX_TOKEN" }        # a bearer token, or:
# basic = { user = "team-a", password = { env = "CORTEX_PASSWORD" } }
# timeout = "30s"                         # per request
# retries = 5                             # attempts per request when Cortex is unreachable or busy
"#;

/// `mac init`'s first definition: a rule group that needs no exporter.
const STARTER_DEFINITIONS: &str = r#"# A first Cortex rule group, in the ruler namespace "example". `mac test` runs promtool unit
# tests of it (tests/*.yml); the README's "Cortex and Mimir" shows the rest.

[[cortex.rule_group]]
id = "example"
namespace = "example"
interval = "1m"

[[cortex.rule_group.rules]]
alert = "TargetDown"
expr = "up == 0"
for = "5m"
labels = { severity = "ticket" }
annotations = { summary = "{{ $labels.job }} target {{ $labels.instance }} is down" }
"#;

/// The kinds of every instance, in dependency order (the registration lists them too).
fn kind_specs() -> Vec<KindSpec> {
    vec![
        KindSpec::new::<rule_group::RuleGroupKind>("rule_group", &[]),
        KindSpec::new::<alertmanager_config::AlertmanagerConfigKind>("alertmanager_config", &[]),
    ]
}

/// Overrides the default instance's `url` (for CI).
pub const URL_ENV: &str = "MAC_CORTEX_URL";

/// The ruler API's prefix on Cortex.
pub const DEFAULT_RULES_PREFIX: &str = "/api/v1/rules";
/// The Alertmanager configuration API's path on Cortex.
pub const DEFAULT_ALERTMANAGER_PREFIX: &str = "/api/v1/alerts";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Cortex's base URL (the one serving the ruler and Alertmanager APIs).
    url: Option<String>,
    /// The tenant, sent as `X-Scope-OrgID` with every request.
    tenant: Option<String>,
    /// Where the ruler API is below the URL: `/api/v1/rules` (default), `/api/prom/rules`
    /// (Cortex's legacy prefix) or `/prometheus/config/v1/rules` (Mimir).
    rules_prefix: Option<String>,
    /// Where the Alertmanager configuration API is below the URL (default `/api/v1/alerts`).
    alertmanager_prefix: Option<String>,
    token: Option<SecretRef>,
    basic: Option<BasicAuth>,
    /// Per request, e.g. `30s`.
    timeout: Option<String>,
    /// A PEM file with the CA that signed Cortex's certificate (relative to the project).
    ca_cert: Option<PathBuf>,
    /// Attempts per request when Cortex is unreachable or overloaded (default 5; 1 = none).
    retries: Option<u32>,
    /// The promtool that checks rule groups offline: a path, or `false` to skip the check. By
    /// default `promtool` from PATH, when there is one.
    promtool: Option<ToolSetting>,
    /// Send credentials over plain http:// to a host other than this machine.
    #[serde(default)]
    allow_insecure_http: bool,
    /// Accept any TLS certificate. Only for a test server; prefer `ca_cert`.
    #[serde(default)]
    insecure_skip_verify: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ToolSetting {
    Enabled(bool),
    Path(PathBuf),
}

fn build_provider(settings: &ProviderSettings) -> Result<Box<dyn Provider>, SettingsError> {
    let parsed: Settings = settings.parse()?;
    let default_instance = settings.instance == "cortex";
    let env_url = default_instance.then(|| std::env::var(URL_ENV).ok()).flatten().filter(|url| !url.is_empty());
    let url_variable = env_url.is_some().then(|| URL_ENV.to_owned());
    let url = env_url.or(parsed.url).ok_or_else(|| {
        SettingsError::at(
            "",
            format!("missing `url` (Cortex's base URL, e.g. \"http://localhost:9009\"; or set {URL_ENV})"),
        )
    })?;
    mac_provider_kit::parse_base_url(&url).map_err(|error| match &url_variable {
        Some(variable) => error.from_variable(variable),
        None => error,
    })?;
    let tenant = match parsed.tenant {
        None => {
            return Err(SettingsError::at(
                "",
                "missing `tenant` (the Cortex tenant whose rules this instance manages, sent as X-Scope-OrgID)",
            ));
        }
        Some(tenant) => tenant,
    };
    let tenant_header = checks::tenant(&tenant)
        .and_then(|()| HeaderValue::from_str(&tenant).map_err(|_| checks::TENANT_MESSAGE.to_owned()))
        .map_err(|message| SettingsError::at("/tenant", message))?;
    let rules_prefix = prefix(parsed.rules_prefix.as_deref(), DEFAULT_RULES_PREFIX, "/rules_prefix")?;
    let alertmanager_prefix =
        prefix(parsed.alertmanager_prefix.as_deref(), DEFAULT_ALERTMANAGER_PREFIX, "/alertmanager_prefix")?;
    let promtool = tool(settings, parsed.promtool, "promtool", "/promtool")?;
    let mut http = HttpSettings::new("Cortex", url);
    http.url_variable = url_variable;
    http.credentials = Credentials::from_settings(parsed.token, parsed.basic)?;
    http.timeout = parsed.timeout;
    http.ca_cert = parsed.ca_cert;
    http.insecure_skip_verify = parsed.insecure_skip_verify;
    http.allow_insecure_http = parsed.allow_insecure_http;
    http.retry = RetryPolicy::with_attempts(parsed.retries.unwrap_or(5));
    http.headers.insert("X-Scope-OrgID", tenant_header);
    let client = client::Client::new(http.build(settings)?, tenant, rules_prefix, alertmanager_prefix);
    Ok(Box::new(Cortex::new(Arc::new(client), promtool, settings.project.clone(), &settings.instance)))
}

/// A path prefix as segments: `/api/v1/rules` → `["api", "v1", "rules"]`.
fn prefix(setting: Option<&str>, default: &str, pointer: &str) -> Result<Vec<String>, SettingsError> {
    let text = setting.unwrap_or(default);
    if !text.starts_with('/') || text.contains(['?', '#']) {
        return Err(SettingsError::at(
            pointer,
            format!("`{}` must be a path starting with `/`, e.g. \"{default}\"", &pointer[1..]),
        ));
    }
    Ok(text.split('/').filter(|segment| !segment.is_empty()).map(str::to_owned).collect())
}

/// A program to check with: the setting's path, none when it is `false`, else `name` on PATH.
fn tool(
    settings: &ProviderSettings,
    setting: Option<ToolSetting>,
    name: &str,
    pointer: &str,
) -> Result<Option<PathBuf>, SettingsError> {
    match setting {
        Some(ToolSetting::Enabled(false)) => Ok(None),
        // Not found: an error, not a silent skip. Cortex refuses a group with bad PromQL with
        // an empty 400, mid-apply; the user decides to go without the check.
        None | Some(ToolSetting::Enabled(true)) => find_on_path(name).map(Some).ok_or_else(|| {
            SettingsError::at(
                pointer,
                format!(
                    "no {name} on PATH: provider `{}` checks every rule group with it before anything is sent \
                     (Cortex refuses bad PromQL with an empty 400, in the middle of an apply). Install it (Debian: \
                     apt-get install prometheus), give its path ({name} = \"/path/to/{name}\"), or set {name} = \
                     false to send groups unchecked",
                    settings.instance
                ),
            )
        }),
        Some(ToolSetting::Path(path)) => {
            let full = settings.project_root.join(&path);
            if !full.is_file() {
                return Err(SettingsError::at(
                    pointer,
                    format!(
                        "{} is not a file; give {name}'s path, or {name} = false to skip the check",
                        path.display()
                    ),
                ));
            }
            Ok(Some(full))
        }
    }
}

/// The first executable named `program` in PATH.
fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|directory| directory.join(program)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata().is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The rules view `mac test` asks for: Cortex's ruler evaluates the PromQL as written, so the
/// groups are unit-tested with promtool as rule files of their own (no header).
static RULE_VIEW: mac_prometheus_rules::RuleGroupRules = mac_prometheus_rules::RuleGroupRules { header: "" };

/// One tenant of one Cortex.
#[derive(Debug)]
pub struct Cortex {
    rule_groups: Arc<dyn Handler>,
    alertmanager_config: Arc<dyn Handler>,
}

impl Cortex {
    fn new(client: Arc<client::Client>, promtool: Option<PathBuf>, project: Option<String>, instance: &str) -> Cortex {
        Cortex {
            rule_groups: Arc::new(Typed(
                rule_group::RuleGroupKind::new(client.clone(), promtool).with_rule_view(&RULE_VIEW),
            )),
            alertmanager_config: Arc::new(Typed(alertmanager_config::AlertmanagerConfigKind::new(
                client, project, instance,
            ))),
        }
    }
}

#[async_trait]
impl Provider for Cortex {
    fn kinds(&self) -> Vec<KindSpec> {
        kind_specs()
    }

    fn handler(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        match kind {
            "rule_group" => Some(self.rule_groups.clone()),
            "alertmanager_config" => Some(self.alertmanager_config.clone()),
            _ => None,
        }
    }

    /// Nothing to ask before the reads: the first read (one GET of the rules) says whether the
    /// URL, the tenant and the credentials work, and costs no extra request.
    async fn check(&self) -> Result<(), HandlerError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(values: serde_json::Value) -> Result<Box<dyn Provider>, SettingsError> {
        build_provider(&ProviderSettings {
            instance: "cortex.test".to_owned(),
            values,
            project_root: PathBuf::from("/nonexistent-project"),
            project: None,
        })
    }

    #[test]
    fn settings_errors_name_their_field() {
        let url = "http://127.0.0.1:9009";
        let missing = build(serde_json::json!({ "url": url })).err().expect("tenant is required");
        assert!(missing.message.starts_with("missing `tenant`"), "{}", missing.message);
        let tenant = build(serde_json::json!({ "url": url, "tenant": "a/b" })).err().expect("a bad tenant");
        assert_eq!(tenant.pointer, "/tenant");
        let no_url = build(serde_json::json!({ "tenant": "a" })).err().expect("url is required");
        assert!(no_url.message.contains("missing `url`"), "{}", no_url.message);
        let prefix = build(serde_json::json!({ "url": url, "tenant": "a", "rules_prefix": "api/v1/rules" }))
            .err()
            .expect("a relative prefix");
        assert_eq!(prefix.pointer, "/rules_prefix");
        let unknown = build(serde_json::json!({ "url": url, "tenant": "a", "tennant": "b" })).err().expect("a typo");
        assert!(unknown.message.contains("tennant"), "{}", unknown.message);
        let promtool = build(serde_json::json!({ "url": url, "tenant": "a", "promtool": "bin/promtool" }))
            .err()
            .expect("a promtool that is not there");
        assert_eq!(promtool.pointer, "/promtool");
        assert!(
            build(serde_json::json!({ "url": url, "tenant": "a", "rules_prefix": "/prometheus/config/v1/rules" }))
                .is_ok()
        );
    }

    #[test]
    fn prefixes_are_segments() {
        assert_eq!(prefix(None, DEFAULT_RULES_PREFIX, "/rules_prefix").expect("default"), ["api", "v1", "rules"]);
        assert_eq!(
            prefix(Some("/prometheus/config/v1/rules/"), DEFAULT_RULES_PREFIX, "/rules_prefix").expect("mimir"),
            ["prometheus", "config", "v1", "rules"]
        );
    }
}
