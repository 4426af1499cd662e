//! `grafana8`: a `mac` provider for Grafana 8.5 — data sources, folders and their permissions,
//! unified alerting (rule groups, contact points, notification policies, message templates,
//! mute timings), legacy notification channels, dashboards and their permissions, library
//! panels, the org's preferences, and access (teams of the org; server-wide users and
//! organisations, which need a server admin); an instance is one organisation.
//!
//! Everything here follows the Grafana 8.5 HTTP API as `shared/grafana8/API.md` describes it
//! (grafana/grafana v8.5.4). Plans read in bulk: one paged folder list and one ruler GET
//! whatever the number of objects; a rule group is written with one POST of the whole group.

mod alert_group;
mod alertmanager;
mod am_parts;
mod checks;
mod client;
mod dashboard;
mod dashboard_permission;
mod datasource;
mod folder;
mod folder_permission;
mod folder_ref;
mod library_panel;
mod links;
mod named_orgs;
mod notification_channel;
mod org_preferences;
mod organization;
mod owner;
mod rule_view;
mod team;
mod user;

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

use std::path::PathBuf;
use std::sync::Arc;

use mac_core::{
    Handler, HandlerError, HandlerErrorKind, KindSpec, Provider, ProviderRegistration, ProviderSettings, SecretRef,
    SettingsError, Typed, async_trait,
};
use mac_provider_kit::reqwest::header::HeaderValue;
use mac_provider_kit::{BasicAuth, Credentials, HttpSettings, RetryPolicy};
use serde::Deserialize;

pub use alert_group::{AlertGroup, AlertQuery, AlertRule, DatasourceRef, RelativeTimeRange, TimeOffset};
pub use alertmanager::{ContactPoint, Integration, Matcher, NotificationPolicy, SecureSetting};
pub use am_parts::{MessageTemplate, MuteTiming, TemplateContent, TimeInterval, TimeRange};
pub use checks::SecretField;
pub use dashboard::{Dashboard, DashboardJson};
pub use dashboard_permission::DashboardPermission;
pub use datasource::Datasource;
pub use folder::Folder;
pub use folder_permission::{FolderPermission, PermissionEntry};
pub use folder_ref::FolderRef;
pub use library_panel::LibraryPanel;
pub use notification_channel::NotificationChannel;
pub use org_preferences::OrgPreferences;
pub use organization::Organization;
pub use team::{Team, TeamPreferences};
pub use user::User;

mac_core::inventory::submit! {
    ProviderRegistration {
        name: "grafana8",
        description: "Grafana 8.5 (an instance is one organisation): alerting, dashboards, data sources and access",
        kinds: kind_specs,
        build: build_provider,
        starter: mac_core::Starter { settings: STARTER_SETTINGS, definitions: STARTER_DEFINITIONS },
    }
}

/// `mac init`'s settings: what a first plan needs, the rest as comments.
const STARTER_SETTINGS: &str = r#"url = "http://127.0.0.1:3000"            # Grafana's base URL; MAC_GRAFANA8_URL overrides it
token = { env = "GRAFANA_TOKEN" }         # a service account token or API key with the Admin role
                                          # (MAC_GRAFANA8_TOKEN overrides it); or, for a user:
# basic = { user = "admin", password = { env = "GRAFANA_PASSWORD" } }
# org_id = 1                              # the organisation this instance manages, or by name:
# org = "Main Org."                       # looked up when mac connects (a user's credentials)
# timeout = "30s"                         # per request
# retries = 5                             # attempts per request when Grafana is unreachable or busy
# ca_cert = "certs/ca.pem"                # a private CA that signed Grafana's certificate
"#;

/// `mac init`'s first definition: a folder, which any Grafana 8.5 accepts.
const STARTER_DEFINITIONS: &str = r#"# A first Grafana folder. `mac plan` shows what `mac apply` would create; the README's
# "grafana8 kinds" shows alert rule groups, dashboards, data sources, contact points and more,
# and `mac import grafana8` writes definitions for what the server has already.

[[grafana8.folder]]
id = "example"                            # the local id: how other definitions refer to it
title = "Example"                         # the title shown in Grafana
# uid = "example"                         # optional; by default derived from the id (mac-example)
"#;

/// The kinds of every instance, in dependency order (the registration lists them too).
fn kind_specs() -> Vec<KindSpec> {
    vec![
        KindSpec::new::<datasource::DatasourceKind>("datasource", &[]),
        KindSpec::new::<folder::FolderKind>("folder", &[]),
        KindSpec::new::<alert_group::AlertGroupHandler>("alert_group", &["folder", "datasource"]),
        KindSpec::new::<library_panel::LibraryPanelKind>("library_panel", &["folder"]),
        KindSpec::new::<dashboard::DashboardKind>("dashboard", &["folder", "library_panel"]),
        KindSpec::new::<folder_permission::FolderPermissionKind>("folder_permission", &["folder", "team", "user"]),
        KindSpec::new::<dashboard_permission::DashboardPermissionKind>(
            "dashboard_permission",
            &["dashboard", "team", "user"],
        ),
        KindSpec::new::<org_preferences::OrgPreferencesKind>("org_preferences", &["dashboard"]),
        KindSpec::new::<notification_channel::NotificationChannelKind>("notification_channel", &[]),
        KindSpec::new::<alertmanager::ContactPointKind>("contact_point", &[]),
        KindSpec::new::<alertmanager::NotificationPolicyKind>("notification_policy", &["contact_point", "mute_timing"]),
        KindSpec::new::<am_parts::MessageTemplateKind>("message_template", &[]),
        KindSpec::new::<am_parts::MuteTimingKind>("mute_timing", &[]),
        KindSpec::new::<user::UserKind>("user", &[]),
        KindSpec::new::<organization::OrganizationKind>("organization", &["user"]),
        KindSpec::new::<team::TeamKind>("team", &["user", "dashboard"]),
    ]
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
    basic: Option<BasicAuth>,
    org_id: Option<i64>,
    /// The organisation by name (`"Partners"`), looked up when mac connects: the same
    /// project then works on servers where that org has another id. Not with `org_id`.
    org: Option<String>,
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

fn build_provider(settings: &ProviderSettings) -> Result<Box<dyn Provider>, SettingsError> {
    let parsed: Settings = settings.parse()?;
    let default_instance = settings.instance == "grafana8";
    let env_url = default_instance.then(|| std::env::var(URL_ENV).ok()).flatten().filter(|url| !url.is_empty());
    let url_variable = env_url.is_some().then(|| URL_ENV.to_owned());
    let url = env_url.or(parsed.url).ok_or_else(|| {
        SettingsError::at(
            "",
            format!("missing `url` (the Grafana base URL, e.g. \"http://localhost:3000\"; or set {URL_ENV})"),
        )
    })?;
    // The URL is checked first, as before the credentials are looked at.
    mac_provider_kit::parse_base_url(&url).map_err(|error| match &url_variable {
        Some(variable) => error.from_variable(variable),
        None => error,
    })?;
    let env_token = default_instance && std::env::var_os(TOKEN_ENV).is_some_and(|token| !token.is_empty());
    let credentials = if env_token {
        Credentials::Bearer(SecretRef::Env { env: TOKEN_ENV.to_owned() })
    } else {
        match Credentials::from_settings(parsed.token, parsed.basic)? {
            Credentials::None => {
                return Err(SettingsError::at(
                    "",
                    format!(
                        "no credentials: set token = {{ env = \"GRAFANA_TOKEN\" }}, basic = {{ user = \"…\", password = {{ env = \"…\" }} }}, or {TOKEN_ENV}"
                    ),
                ));
            }
            credentials => credentials,
        }
    };
    // Grafana may be served under a sub-path: the kit keeps it, and joins API paths below it.
    let mut http = HttpSettings::new("Grafana", url);
    http.url_variable = url_variable;
    http.credentials = credentials;
    http.timeout = parsed.timeout;
    http.ca_cert = parsed.ca_cert;
    http.insecure_skip_verify = parsed.insecure_skip_verify;
    http.allow_insecure_http = parsed.allow_insecure_http;
    http.retry = RetryPolicy::with_attempts(parsed.retries.unwrap_or(5));
    if let Some(org_id) = parsed.org_id {
        http.headers.insert("X-Grafana-Org-Id", HeaderValue::from(org_id));
    }
    let client = match parsed.org {
        Some(_) if parsed.org_id.is_some() => {
            return Err(SettingsError::at("/org", "set `org` (a name) or `org_id` (an id), not both"));
        }
        Some(name) if name.trim().is_empty() => {
            return Err(SettingsError::at("/org", "`org` names an organisation: it cannot be empty"));
        }
        Some(name) => {
            let http = http.build(settings)?;
            named_orgs::record(http.base_url(), &name, &settings.instance);
            client::Client::in_org_named(http, name)
        }
        None => client::Client::new(http.build(settings)?),
    };
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
    message_templates: Arc<dyn Handler>,
    mute_timings: Arc<dyn Handler>,
    alert_groups: Arc<dyn Handler>,
    dashboards: Arc<dyn Handler>,
    folder_permissions: Arc<dyn Handler>,
    dashboard_permissions: Arc<dyn Handler>,
    org_preferences: Arc<dyn Handler>,
    library_panels: Arc<dyn Handler>,
    teams: Arc<dyn Handler>,
    users: Arc<dyn Handler>,
    organizations: Arc<dyn Handler>,
}

impl Grafana8 {
    /// `project` names the owner marker written on rules and dashboards (`owner`).
    fn new(client: Arc<client::Client>, project: Option<String>) -> Grafana8 {
        let alertmanager = alertmanager::Alertmanager::new(client.clone());
        Grafana8 {
            folders: Arc::new(Typed(folder::FolderKind::new(client.clone()))),
            datasources: Arc::new(Typed(datasource::DatasourceKind::new(client.clone()))),
            notification_channels: Arc::new(Typed(notification_channel::NotificationChannelKind::new(client.clone()))),
            contact_points: Arc::new(Typed(alertmanager::ContactPointKind::new(alertmanager.clone()))),
            notification_policies: Arc::new(Typed(alertmanager::NotificationPolicyKind::new(alertmanager.clone()))),
            message_templates: Arc::new(Typed(am_parts::MessageTemplateKind::new(alertmanager.clone()))),
            mute_timings: Arc::new(Typed(am_parts::MuteTimingKind::new(alertmanager))),
            alert_groups: Arc::new(Typed(
                alert_group::AlertGroupHandler::new(client.clone()).with_project(project.clone()),
            )),
            dashboards: Arc::new(Typed(dashboard::DashboardKind::new(client.clone()).with_project(project))),
            folder_permissions: Arc::new(Typed(folder_permission::FolderPermissionKind::new(client.clone()))),
            dashboard_permissions: Arc::new(Typed(dashboard_permission::DashboardPermissionKind::new(client.clone()))),
            org_preferences: Arc::new(Typed(org_preferences::OrgPreferencesKind::new(client.clone()))),
            library_panels: Arc::new(Typed(library_panel::LibraryPanelKind::new(client.clone()))),
            teams: Arc::new(Typed(team::TeamKind::new(client.clone()))),
            users: Arc::new(Typed(user::UserKind::new(client.clone()))),
            organizations: Arc::new(Typed(organization::OrganizationKind::new(client.clone()))),
            client,
        }
    }
}

#[async_trait]
impl Provider for Grafana8 {
    fn kinds(&self) -> Vec<KindSpec> {
        kind_specs()
    }

    fn handler(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        match kind {
            "datasource" => Some(self.datasources.clone()),
            "notification_channel" => Some(self.notification_channels.clone()),
            "contact_point" => Some(self.contact_points.clone()),
            "notification_policy" => Some(self.notification_policies.clone()),
            "message_template" => Some(self.message_templates.clone()),
            "mute_timing" => Some(self.mute_timings.clone()),
            "folder" => Some(self.folders.clone()),
            "alert_group" => Some(self.alert_groups.clone()),
            "dashboard" => Some(self.dashboards.clone()),
            "folder_permission" => Some(self.folder_permissions.clone()),
            "dashboard_permission" => Some(self.dashboard_permissions.clone()),
            "org_preferences" => Some(self.org_preferences.clone()),
            "library_panel" => Some(self.library_panels.clone()),
            "team" => Some(self.teams.clone()),
            "user" => Some(self.users.clone()),
            "organization" => Some(self.organizations.clone()),
            _ => None,
        }
    }

    /// Reaches Grafana, checks that it is 8.x, and that the credentials are accepted — once,
    /// before anything else, so a wrong URL or token is one plain error.
    async fn check(&self) -> Result<(), HandlerError> {
        // `org = "Name"`: its id first, as every other request carries it.
        self.client.resolve_org().await?;
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
        org.map_err(|err| client::refused(err, self.client.base_url()))?;
        Ok(())
    }
}
