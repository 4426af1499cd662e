//! `prometheus`: a `mac` provider for the alerting and recording rule groups of a Prometheus
//! server whose rule files live in a directory mac can write.
//!
//! The files are the source of truth: plans read `<rules_dir>/<namespace>.yml`, one file per
//! namespace. A write edits one group in its file (other groups in the file are kept),
//! checks the new file with `promtool check rules` when promtool is available, replaces the
//! file atomically, asks Prometheus to reload (`POST /-/reload`) and verifies through its API
//! that the reload succeeded and that the file's groups are loaded as written. A rejected
//! reload restores the previous files and reloads again.

mod files;
mod rule_group;
mod server;

pub use mac_prometheus_rules::{Rule, RuleGroup};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mac_core::{
    Handler, HandlerError, HandlerErrorKind, KindSpec, Provider, ProviderRegistration, ProviderSettings, SecretRef,
    SettingsError, async_trait,
};
use mac_provider_kit::{BasicAuth, Credentials, HttpSettings, RetryPolicy};
use serde::Deserialize;

mac_core::inventory::submit! {
    ProviderRegistration {
        name: "prometheus",
        description: "Prometheus: alerting and recording rule groups in rule files, reloaded and verified",
        kinds: kind_specs,
        build: build_provider,
        starter: mac_core::Starter { settings: STARTER_SETTINGS, definitions: STARTER_DEFINITIONS },
    }
}

/// `mac init`'s settings: what a first plan needs, the rest as comments.
const STARTER_SETTINGS: &str = r#"rules_dir = "rules"                       # where mac writes rule files (one per namespace); Prometheus'
                                          # rule_files must cover it: rule_files: ["/path/to/rules/*.yml"]
# url = "http://127.0.0.1:9090"           # to reload Prometheus and verify what it loaded; MAC_PROMETHEUS_URL
                                          # overrides it. Without it mac writes the files and does not reload.
# promtool = "/usr/bin/promtool"          # default: promtool from PATH, which checks every file before it is written
# timeout = "30s"
"#;

/// `mac init`'s first definition: a rule group that needs no exporter.
const STARTER_DEFINITIONS: &str = r#"# A first Prometheus rule group, written to rules/example.yml. `mac test` runs promtool unit
# tests of it (tests/*.yml); the README's "Prometheus provider" shows the rest.

[[prometheus.rule_group]]
id = "example"
namespace = "example"                     # the file: rules/example.yml
interval = "1m"

[[prometheus.rule_group.rules]]
alert = "TargetDown"
expr = "up == 0"
for = "5m"
labels = { severity = "ticket" }
annotations = { summary = "{{ $labels.job }} target {{ $labels.instance }} is down" }
"#;

/// The kinds of every instance, in dependency order (the registration lists them too).
fn kind_specs() -> Vec<KindSpec> {
    vec![KindSpec::new::<rule_group::RuleGroupKind>("rule_group", &[])]
}

/// Overrides the default instance's `url` (for CI).
pub const URL_ENV: &str = "MAC_PROMETHEUS_URL";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// The directory of the rule files (relative to the project), which Prometheus'
    /// `rule_files` must cover, e.g. `rule_files: ["/etc/prometheus/mac/*.yml"]`.
    rules_dir: PathBuf,
    /// Prometheus' base URL, for reloads and their verification. Without it mac writes the
    /// files and leaves reloading to whoever runs Prometheus.
    url: Option<String>,
    /// The promtool to check files with: a path, or `false` to skip the check. By default
    /// `promtool` from PATH, when there is one.
    promtool: Option<PromtoolSetting>,
    /// Per HTTP request and per promtool run, and the longest wait for a reload to show in
    /// the API, e.g. `30s`.
    timeout: Option<String>,
    /// For a Prometheus behind a proxy (or `--web.config.file`) that wants a bearer token.
    token: Option<SecretRef>,
    /// Or basic authentication.
    basic: Option<BasicAuth>,
    /// A PEM file with the CA that signed Prometheus' certificate (relative to the project).
    ca_cert: Option<PathBuf>,
    /// Send credentials over plain http:// to a host other than this machine.
    #[serde(default)]
    allow_insecure_http: bool,
    /// Accept any TLS certificate. Only for a test server; prefer `ca_cert`.
    #[serde(default)]
    insecure_skip_verify: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PromtoolSetting {
    Enabled(bool),
    Path(PathBuf),
}

fn build_provider(settings: &ProviderSettings) -> Result<Box<dyn Provider>, SettingsError> {
    let parsed: Settings = settings.parse()?;
    if parsed.rules_dir.as_os_str().is_empty() {
        return Err(SettingsError::at("/rules_dir", "`rules_dir` must name the directory of the rule files"));
    }
    let rules_dir = settings.project_root.join(&parsed.rules_dir);
    let default_instance = settings.instance == "prometheus";
    let env_url = default_instance.then(|| std::env::var(URL_ENV).ok()).flatten().filter(|url| !url.is_empty());
    let url_variable = env_url.is_some().then(|| URL_ENV.to_owned());
    let url = env_url.or(parsed.url);
    if let Some(url) = &url {
        mac_provider_kit::parse_base_url(url).map_err(|error| match &url_variable {
            Some(variable) => error.from_variable(variable),
            None => error,
        })?;
    }
    let timeout = match &parsed.timeout {
        None => Duration::from_secs(30),
        Some(text) => mac_provider_kit::parse_timeout(text)?,
    };
    let promtool = match parsed.promtool {
        Some(PromtoolSetting::Enabled(false)) => None,
        None | Some(PromtoolSetting::Enabled(true)) => {
            let found = find_on_path("promtool");
            if found.is_none() {
                tracing::debug!(
                    "provider `{}`: no promtool on PATH; rule files are not checked before a reload",
                    settings.instance
                );
            }
            found
        }
        Some(PromtoolSetting::Path(path)) => {
            let full = settings.project_root.join(&path);
            if !full.is_file() {
                return Err(SettingsError::at(
                    "/promtool",
                    format!(
                        "{} is not a file; give promtool's path, or promtool = false to skip the check",
                        path.display()
                    ),
                ));
            }
            Some(full)
        }
    };
    let server = match url {
        Some(url) => {
            // Prometheus may be served under a prefix (--web.route-prefix): the kit keeps it.
            let mut http = HttpSettings::new("Prometheus", url);
            http.url_variable = url_variable;
            http.credentials = Credentials::from_settings(parsed.token, parsed.basic)?;
            http.timeout = parsed.timeout;
            http.ca_cert = parsed.ca_cert;
            http.allow_insecure_http = parsed.allow_insecure_http;
            http.insecure_skip_verify = parsed.insecure_skip_verify;
            // One attempt, as before the kit: a reload is verified, and a failed one restored.
            http.retry = RetryPolicy::none();
            Some(server::Server::new(http.build(settings)?))
        }
        None => None,
    };
    let files = files::RuleFiles::new(rules_dir, promtool, timeout);
    Ok(Box::new(Prometheus::new(files, server)))
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

/// The groups' rules in PromQL terms, for `mac test`: the rule files an apply writes, with
/// their header.
static RULE_VIEW: mac_prometheus_rules::RuleGroupRules = mac_prometheus_rules::RuleGroupRules { header: files::HEADER };

/// One Prometheus server and its rules directory.
#[derive(Debug)]
pub struct Prometheus {
    files: Arc<files::RuleFiles>,
    server: Option<Arc<server::Server>>,
    rule_groups: Arc<dyn Handler>,
}

impl Prometheus {
    fn new(files: files::RuleFiles, server: Option<server::Server>) -> Prometheus {
        let files = Arc::new(files);
        let server = server.map(Arc::new);
        Prometheus {
            rule_groups: Arc::new(mac_core::Typed(
                rule_group::RuleGroupKind::new(files.clone(), server.clone()).with_rule_view(&RULE_VIEW),
            )),
            files,
            server,
        }
    }
}

#[async_trait]
impl Provider for Prometheus {
    fn kinds(&self) -> Vec<KindSpec> {
        kind_specs()
    }

    fn handler(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        match kind {
            "rule_group" => Some(self.rule_groups.clone()),
            _ => None,
        }
    }

    /// The rules directory exists, and Prometheus (when a URL is set) answers and was started
    /// with `--web.enable-lifecycle`, without which it cannot be reloaded: one plain error
    /// before anything is read or written.
    async fn check(&self) -> Result<(), HandlerError> {
        let dir = self.files.dir();
        if !dir.is_dir() {
            return Err(HandlerError::new(
                HandlerErrorKind::Invalid,
                format!(
                    "rules_dir {} is not a directory: create it, and list {}/*.yml in Prometheus' rule_files",
                    dir.display(),
                    dir.display()
                ),
            ));
        }
        match &self.server {
            Some(server) => server.check().await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(values: serde_json::Value) -> Result<Box<dyn Provider>, SettingsError> {
        build_provider(&ProviderSettings {
            instance: "prometheus.test".to_owned(),
            values,
            project_root: PathBuf::from("/nonexistent-project"),
            project: None,
        })
    }

    #[test]
    fn settings_errors_name_their_field() {
        let missing = build(serde_json::json!({})).err().expect("rules_dir is required");
        assert!(missing.message.contains("rules_dir"), "{}", missing.message);
        let url = build(serde_json::json!({ "rules_dir": "rules", "url": "ftp://x" })).err().expect("bad url");
        assert_eq!(url.pointer, "/url");
        let timeout = build(serde_json::json!({ "rules_dir": "rules", "timeout": "soon" })).err().expect("bad timeout");
        assert_eq!(timeout.pointer, "/timeout");
        let promtool = build(serde_json::json!({ "rules_dir": "rules", "promtool": "bin/promtool" }))
            .err()
            .expect("a promtool that is not there");
        assert_eq!(promtool.pointer, "/promtool");
        let unknown = build(serde_json::json!({ "rules_dir": "rules", "rule_dir": "x" })).err().expect("a typo");
        assert!(unknown.message.contains("rule_dir"), "{}", unknown.message);
        assert!(
            build(serde_json::json!({ "rules_dir": "rules", "url": "http://127.0.0.1:9090/prom", "promtool": false }))
                .is_ok()
        );
    }
}
