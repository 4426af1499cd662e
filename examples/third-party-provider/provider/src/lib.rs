//! `alertmanager_silences`: Prometheus Alertmanager silences as code — maintenance windows
//! kept in version control, planned and applied like any other `mac` object.
//!
//! A third-party provider: it depends on `mac-core` and the HTTP toolkit `mac-provider-kit`
//! only, and a `mac` binary gains it by naming this crate (see `examples/third-party-provider/README.md`).
//!
//! ```toml
//! [providers.alertmanager_silences]
//! url = "http://127.0.0.1:9093"
//!
//! [[alertmanager_silences.silence]]
//! id = "payments-db-upgrade"
//! matchers = [{ name = "service", value = "payments-db" }]
//! starts_at = "2030-01-31T22:00:00Z"
//! ends_at = "2030-02-01T02:00:00Z"
//! comment = "Postgres 17 upgrade"
//! ```

mod client;
mod silence;
mod timestamp;

use std::sync::Arc;
use std::time::Duration;

use mac_core::{
    Handler, HandlerError, HandlerErrorKind, KindSpec, Provider, ProviderRegistration, ProviderSettings, SecretRef,
    SettingsError, async_trait,
};
use mac_provider_kit::reqwest::Method;
use mac_provider_kit::{BasicAuth, Credentials, HttpSettings, RetryPolicy};
use serde::Deserialize;
use serde_json::Value;

pub use silence::{Matcher, Silence};
pub use timestamp::{Timestamp, TimestampError};

/// The provider's name: `[providers.alertmanager_silences]`, `[[alertmanager_silences.silence]]`.
pub const NAME: &str = "alertmanager_silences";

mac_core::inventory::submit! {
    ProviderRegistration {
        name: NAME,
        description: "Prometheus Alertmanager (API v2): silences, i.e. maintenance windows",
        kinds: kind_specs,
        build: build_provider,
        starter: mac_core::Starter { settings: STARTER_SETTINGS, definitions: STARTER_DEFINITIONS },
    }
}

/// `mac init`'s settings for this provider.
const STARTER_SETTINGS: &str = r#"url = "http://127.0.0.1:9093"             # Alertmanager's base URL; MAC_ALERTMANAGER_SILENCES_URL overrides it
# timeout = "30s", retries = 3
# Alertmanager has no credentials of its own; behind a proxy (or with --web.config.file):
# token = { env = "ALERTMANAGER_TOKEN" }
"#;

/// `mac init`'s first definition: a maintenance window far ahead, so that it stays valid.
const STARTER_DEFINITIONS: &str = r#"# A first maintenance window: alerts matching the matchers are silenced between the two times.

[[alertmanager_silences.silence]]
id = "example-maintenance"
matchers = [{ name = "service", value = "example" }]
starts_at = "2099-01-31T22:00:00Z"
ends_at = "2099-02-01T02:00:00Z"
comment = "an example maintenance window"
"#;

/// The kinds of every instance, in dependency order (the registration lists them too).
fn kind_specs() -> Vec<KindSpec> {
    vec![KindSpec::new::<silence::SilenceKind>("silence", &[])]
}

/// Overrides the default instance's `url` (for CI).
pub const URL_ENV: &str = "MAC_ALERTMANAGER_SILENCES_URL";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Alertmanager's base URL, e.g. `http://alertmanager:9093` (or below a path prefix).
    url: Option<String>,
    /// Per request, e.g. `30s` (default 30s).
    timeout: Option<String>,
    /// Attempts per request when Alertmanager cannot be reached (default 3; 1 = no retry).
    retries: Option<u32>,
    /// For an Alertmanager behind a proxy that wants a bearer token.
    token: Option<SecretRef>,
    /// Or basic authentication (Alertmanager's own `--web.config.file`, or a proxy).
    basic: Option<BasicAuth>,
    /// Send credentials over plain http:// to a host other than this machine.
    #[serde(default)]
    allow_insecure_http: bool,
}

fn build_provider(settings: &ProviderSettings) -> Result<Box<dyn Provider>, SettingsError> {
    let parsed: Settings = settings.parse()?;
    let env_url =
        (settings.instance == NAME).then(|| std::env::var(URL_ENV).ok()).flatten().filter(|url| !url.is_empty());
    let url = env_url.or(parsed.url).ok_or_else(|| {
        SettingsError::at(
            "",
            format!("missing `url` (Alertmanager's base URL, e.g. \"http://127.0.0.1:9093\"; or set {URL_ENV})"),
        )
    })?;
    let mut http = HttpSettings::new("Alertmanager", url);
    http.credentials = Credentials::from_settings(parsed.token, parsed.basic)?;
    http.timeout = parsed.timeout;
    http.allow_insecure_http = parsed.allow_insecure_http;
    // Alertmanager may be served under a prefix (`--web.route-prefix`): the kit keeps it.
    http.retry =
        RetryPolicy { budget: Duration::from_secs(30), ..RetryPolicy::with_attempts(parsed.retries.unwrap_or(3)) };
    let client = client::Client::new(http.build(settings)?);
    Ok(Box::new(Alertmanager::new(Arc::new(client), Timestamp::now())))
}

/// One Alertmanager.
#[derive(Debug)]
pub struct Alertmanager {
    client: Arc<client::Client>,
    silences: Arc<dyn Handler>,
}

impl Alertmanager {
    fn new(client: Arc<client::Client>, now: Timestamp) -> Alertmanager {
        Alertmanager { silences: Arc::new(mac_core::Typed(silence::SilenceKind::new(client.clone(), now))), client }
    }
}

#[async_trait]
impl Provider for Alertmanager {
    fn kinds(&self) -> Vec<KindSpec> {
        kind_specs()
    }

    fn handler(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        match kind {
            "silence" => Some(self.silences.clone()),
            _ => None,
        }
    }

    /// `GET /api/v2/status`: answers, accepts the credentials, and is an Alertmanager.
    async fn check(&self) -> Result<(), HandlerError> {
        let status =
            self.client.send(Method::GET, self.client.url(&["api", "v2", "status"]), None).await.map_err(|err| {
                match err.kind {
                    HandlerErrorKind::Unauthorized => {
                        HandlerError::new(err.kind, format!("{}: check `token` or `basic`", err.message))
                    }
                    _ => err,
                }
            })?;
        if status.get("versionInfo").is_none_or(Value::is_null) {
            return Err(HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!(
                    "{} does not answer as an Alertmanager (GET api/v2/status has no versionInfo): check `url`",
                    self.client.base_url()
                ),
            ));
        }
        Ok(())
    }
}
