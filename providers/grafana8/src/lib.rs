//! `grafana8`: a `mac` provider for Grafana 8.5 — folders and unified alerting rule groups.
//!
//! Everything here follows the Grafana 8.5 HTTP API as `shared/grafana8/API.md` describes it
//! (grafana/grafana v8.5.4). Plans read in bulk: one paged folder list and one ruler GET
//! whatever the number of objects; a rule group is written with one POST of the whole group.

mod alert_group;
mod alertmanager;
mod checks;
mod client;
mod dashboard;
mod datasource;
use mac_core::duration;
mod folder;
mod folder_permission;
mod folder_ref;
mod links;
mod notification_channel;
mod owner;

/// A readable local id or file name from a title: `Payments Team` → `payments-team`.
pub(crate) fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() { "untitled".to_owned() } else { slug }
}

/// The environment variable an import names for a secret it cannot read (Grafana never
/// returns secure values): `GRAFANA_DATASOURCE_METRICS_BASIC_AUTH_PASSWORD` for the
/// `basicAuthPassword` of data source `Metrics`.
pub(crate) fn secret_variable(parts: &[&str]) -> String {
    let mut name = String::from("GRAFANA");
    for part in parts {
        let mut word = String::new();
        let mut previous_lower = false;
        for c in part.chars() {
            if c.is_ascii_alphanumeric() {
                if c.is_ascii_uppercase() && previous_lower {
                    word.push('_');
                }
                previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
                word.push(c.to_ascii_uppercase());
            } else {
                previous_lower = false;
                if !word.is_empty() && !word.ends_with('_') {
                    word.push('_');
                }
            }
        }
        let word = word.trim_matches('_');
        if !word.is_empty() {
            name.push('_');
            name.push_str(word);
        }
    }
    name
}

/// `{ KEY = { env = "VAR" } }` for each secure key Grafana reports as set.
pub(crate) fn secret_placeholders(stored: Option<&serde_json::Value>, parts: &[&str]) -> Option<serde_json::Value> {
    let keys = checks::stored_secret_keys(stored);
    let table: serde_json::Map<String, serde_json::Value> = keys
        .as_array()?
        .iter()
        .filter_map(serde_json::Value::as_str)
        .map(|key| {
            let mut named = parts.to_vec();
            named.push(key);
            (key.to_owned(), serde_json::json!({ "env": secret_variable(&named) }))
        })
        .collect();
    (!table.is_empty()).then_some(serde_json::Value::Object(table))
}

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mac_core::{
    Handler, HandlerError, HandlerErrorKind, KindSpec, Provider, ProviderRegistration, ProviderSettings, SecretRef,
    SettingsError, Typed, async_trait,
};
use serde::Deserialize;

pub use checks::SecretField;
pub use client::Credentials;
pub use dashboard::{Dashboard, DashboardJson};
pub use datasource::Datasource;
pub use folder::Folder;
pub use folder_ref::FolderRef;
pub use notification_channel::NotificationChannel;

mac_core::inventory::submit! {
    ProviderRegistration {
        name: "grafana8",
        description: "Grafana 8.5: folders and unified alerting rule groups",
        build: build_provider,
    }
}

/// Overrides the default instance's `url` (for CI).
pub const URL_ENV: &str = "MAC_GRAFANA8_URL";
/// When set, the default instance authenticates with this API key instead of its settings.
pub const TOKEN_ENV: &str = "MAC_GRAFANA8_TOKEN";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    url: Option<String>,
    token: Option<SecretRef>,
    basic: Option<BasicSettings>,
    org_id: Option<i64>,
    /// Per request, e.g. `30s`.
    timeout: Option<String>,
    /// A PEM file with the CA that signed Grafana's certificate (relative to the project).
    ca_cert: Option<PathBuf>,
    /// Attempts per request when Grafana is unreachable or overloaded (default 5; 1 = none).
    retries: Option<u32>,
    /// Send credentials over plain http:// to a host other than this machine. Off by default:
    /// anyone on the path could read them.
    #[serde(default)]
    allow_insecure_http: bool,
    /// Accept any TLS certificate. Only for a test server: anyone on the path can then
    /// impersonate Grafana and read the credentials. Prefer `ca_cert`.
    #[serde(default)]
    insecure_skip_verify: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicSettings {
    user: String,
    password: SecretRef,
}

fn build_provider(settings: &ProviderSettings) -> Result<Box<dyn Provider>, SettingsError> {
    let parsed: Settings = settings.parse()?;
    let default_instance = settings.instance == "grafana8";
    let env_url = default_instance.then(|| std::env::var(URL_ENV).ok()).flatten().filter(|url| !url.is_empty());
    let url = env_url.or(parsed.url).ok_or_else(|| {
        SettingsError::at(
            "",
            format!("missing `url` (the Grafana base URL, e.g. \"http://localhost:3000\"; or set {URL_ENV})"),
        )
    })?;
    let mut base =
        reqwest::Url::parse(&url).map_err(|err| SettingsError::at("/url", format!("`{url}` is not a URL: {err}")))?;
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
        return Err(SettingsError::at("/url", format!("`{url}` must be an http:// or https:// URL")));
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(SettingsError::at("/url", "put credentials in `token` or `basic`, not in the URL"));
    }
    let host = base.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback());
    if base.scheme() == "http" && !loopback && !parsed.allow_insecure_http {
        return Err(SettingsError::at(
            "/url",
            format!(
                "`{url}` would send the credentials unencrypted over the network: use https://, or set allow_insecure_http = true"
            ),
        ));
    }
    // Grafana may be served under a sub-path: keep it, and join API paths below it.
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    let env_token = default_instance && std::env::var_os(TOKEN_ENV).is_some_and(|token| !token.is_empty());
    let credentials = match (env_token, parsed.token, parsed.basic) {
        (true, _, _) => Credentials::Token(SecretRef::Env { env: TOKEN_ENV.to_owned() }),
        (false, Some(token), None) => Credentials::Token(token),
        (false, None, Some(basic)) => Credentials::Basic { user: basic.user, password: basic.password },
        (false, Some(_), Some(_)) => {
            return Err(SettingsError::at("/basic", "set either `token` or `basic`, not both"));
        }
        (false, None, None) => {
            return Err(SettingsError::at(
                "",
                format!(
                    "no credentials: set token = {{ env = \"GRAFANA_TOKEN\" }}, basic = {{ user = \"…\", password = {{ env = \"…\" }} }}, or {TOKEN_ENV}"
                ),
            ));
        }
    };
    let timeout = match parsed.timeout {
        None => Duration::from_secs(30),
        Some(text) => match duration::parse(&text) {
            Some(milliseconds) if milliseconds > 0 => Duration::from_millis(milliseconds),
            _ => {
                return Err(SettingsError::at(
                    "/timeout",
                    format!("`{text}` is not a positive duration such as \"30s\""),
                ));
            }
        },
    };
    let ca_cert = match parsed.ca_cert {
        None => None,
        Some(path) => {
            let full = settings.project_root.join(&path);
            let pem = std::fs::read(&full)
                .map_err(|err| SettingsError::at("/ca_cert", format!("cannot read {}: {err}", path.display())))?;
            Some(reqwest::Certificate::from_pem(&pem).map_err(|err| {
                SettingsError::at("/ca_cert", format!("{} is not a PEM certificate: {err}", path.display()))
            })?)
        }
    };
    if parsed.insecure_skip_verify {
        tracing::warn!(
            target: "mac::security",
            "provider `{}`: insecure_skip_verify = true — TLS certificates are NOT checked; anyone on the network path can impersonate {url} and read the credentials",
            settings.instance
        );
    }
    let client = client::Client::new(client::ClientConfig {
        base,
        credentials,
        project_root: settings.project_root.clone(),
        org_id: parsed.org_id,
        timeout,
        ca_cert,
        retry: client::RetryPolicy { attempts: parsed.retries.unwrap_or(5).max(1), ..client::RetryPolicy::default() },
        insecure_skip_verify: parsed.insecure_skip_verify,
    })
    .map_err(|message| SettingsError::at("", message))?;
    Ok(Box::new(Grafana8::new(Arc::new(client), settings.project.clone())))
}

/// One Grafana server.
#[derive(Debug)]
pub struct Grafana8 {
    client: Arc<client::Client>,
    folders: Arc<dyn Handler>,
    datasources: Arc<dyn Handler>,
    notification_channels: Arc<dyn Handler>,
    contact_points: Arc<dyn Handler>,
    notification_policies: Arc<dyn Handler>,
    alert_groups: Arc<dyn Handler>,
    dashboards: Arc<dyn Handler>,
    folder_permissions: Arc<dyn Handler>,
}

impl Grafana8 {
    /// `project` names the owner marker written on rules and dashboards (`owner`).
    fn new(client: Arc<client::Client>, project: Option<String>) -> Grafana8 {
        let alertmanager = alertmanager::Alertmanager::new(client.clone());
        Grafana8 {
            folders: Arc::new(Typed(folder::FolderKind::new(client.clone()))),
            datasources: Arc::new(Typed(datasource::DatasourceKind::new(client.clone()))),
            notification_channels: Arc::new(Typed(notification_channel::NotificationChannelKind::new(client.clone()))),
            contact_points: Arc::new(mac_core::legacy::Legacy(alertmanager::ContactPointHandler::new(
                alertmanager.clone(),
            ))),
            notification_policies: Arc::new(mac_core::legacy::Legacy(alertmanager::NotificationPolicyHandler::new(
                alertmanager,
            ))),
            alert_groups: Arc::new(mac_core::legacy::Legacy(
                alert_group::AlertGroupHandler::new(client.clone()).with_project(project.clone()),
            )),
            dashboards: Arc::new(Typed(dashboard::DashboardKind::new(client.clone()).with_project(project))),
            folder_permissions: Arc::new(mac_core::legacy::Legacy(folder_permission::FolderPermissionHandler::new(
                client.clone(),
            ))),
            client,
        }
    }
}

#[async_trait]
impl Provider for Grafana8 {
    fn kinds(&self) -> Vec<KindSpec> {
        vec![
            KindSpec::new("datasource", &[]),
            KindSpec::new("folder", &[]),
            KindSpec::new("alert_group", &["folder", "datasource"]),
            KindSpec::new("dashboard", &["folder"]),
            KindSpec::new("folder_permission", &["folder"]),
            KindSpec::new("notification_channel", &[]),
            KindSpec::new("contact_point", &[]),
            KindSpec::new("notification_policy", &["contact_point"]),
        ]
    }

    fn handler(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        match kind {
            "datasource" => Some(self.datasources.clone()),
            "notification_channel" => Some(self.notification_channels.clone()),
            "contact_point" => Some(self.contact_points.clone()),
            "notification_policy" => Some(self.notification_policies.clone()),
            "folder" => Some(self.folders.clone()),
            "alert_group" => Some(self.alert_groups.clone()),
            "dashboard" => Some(self.dashboards.clone()),
            "folder_permission" => Some(self.folder_permissions.clone()),
            _ => None,
        }
    }

    /// Reaches Grafana, checks that it is 8.x, and that the credentials are accepted — once,
    /// before anything else, so a wrong URL or token is one plain error.
    async fn check(&self) -> Result<(), HandlerError> {
        // Both at once: a plan waits for its checks, and they do not depend on each other.
        let (health, org) = tokio::join!(
            self.client.send(reqwest::Method::GET, self.client.url(&["api", "health"], &[]), None),
            self.client.get(&["api", "org"], &[])
        );
        let health = health?;
        if let Some(version) = health.body.get("version").and_then(|version| version.as_str())
            && !version.starts_with("8.")
        {
            return Err(HandlerError::new(
                HandlerErrorKind::Invalid,
                format!(
                    "{} runs Grafana {version}; the grafana8 provider speaks the Grafana 8 API",
                    self.client.base_url()
                ),
            ));
        }
        org.map_err(|err| {
            if err.kind == HandlerErrorKind::Unauthorized {
                HandlerError::new(
                    HandlerErrorKind::Unauthorized,
                    format!(
                        "Grafana at {} refused the credentials ({}); check `token` or `basic`",
                        self.client.base_url(),
                        err.message
                    ),
                )
            } else {
                err
            }
        })?;
        Ok(())
    }
}
