//! The settings every HTTP provider has: base URL, credentials, timeout, TLS, retries.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use mac_core::{ProviderSettings, SettingsError, duration};
use reqwest::Url;
use reqwest::header::HeaderMap;

use crate::client::HttpClient;
use crate::credentials::Credentials;
use crate::retry::RetryPolicy;

/// The `User-Agent` of every request: `mac/<version>`.
pub const USER_AGENT: &str = concat!("mac/", env!("CARGO_PKG_VERSION"));

/// The HTTP settings of one provider instance, copied from the provider's own settings
/// struct; [`HttpSettings::build`] checks them and makes the [`HttpClient`].
///
/// Its errors point at the fields `/url`, `/timeout`, `/ca_cert` of the provider's settings:
/// a provider names its fields so.
#[derive(Clone)]
pub struct HttpSettings {
    /// The server's name in messages: `GET /api/org to Grafana at … failed`.
    pub server: String,
    /// The base URL as written (or from an environment override); API paths join below it.
    pub url: String,
    /// The environment variable `url` came from, when one overrode the setting: errors about
    /// the URL, and connection failures, name it instead of mac.toml.
    pub url_variable: Option<String>,
    /// How requests authenticate.
    pub credentials: Credentials,
    /// Per request, as written (`"30s"`); 30 s when not set.
    pub timeout: Option<String>,
    /// A PEM file with the CA that signed the server's certificate, relative to the project.
    pub ca_cert: Option<PathBuf>,
    /// Accept any TLS certificate (loudly warned about on every run).
    pub insecure_skip_verify: bool,
    /// Allow credentials over plain `http://` to a host other than this machine.
    pub allow_insecure_http: bool,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// Headers sent with every request (`X-Grafana-Org-Id`, say); never credentials.
    pub headers: HeaderMap,
}

impl fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSettings")
            .field("server", &self.server)
            .field("url", &self.url)
            .field("url_variable", &self.url_variable)
            .field("credentials", &self.credentials)
            .field("timeout", &self.timeout)
            .field("ca_cert", &self.ca_cert)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("retry", &self.retry)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl HttpSettings {
    /// The settings for `url`, without credentials, with the default timeout and retries.
    pub fn new(server: impl Into<String>, url: impl Into<String>) -> HttpSettings {
        HttpSettings {
            server: server.into(),
            url: url.into(),
            url_variable: None,
            credentials: Credentials::None,
            timeout: None,
            ca_cert: None,
            insecure_skip_verify: false,
            allow_insecure_http: false,
            retry: RetryPolicy::default(),
            headers: HeaderMap::new(),
        }
    }

    /// Checks the settings (each error at its field) and builds the client; reads `ca_cert`
    /// from `provider.project_root`, but no secret (that waits for the first request, so that
    /// `mac validate` needs none).
    pub fn build(self, provider: &ProviderSettings) -> Result<HttpClient, SettingsError> {
        let blame = |error: SettingsError| match &self.url_variable {
            Some(variable) if error.pointer == "/url" => error.from_variable(variable),
            _ => error,
        };
        let base = parse_base_url(&self.url).map_err(blame)?;
        if !self.credentials.is_none() && base.scheme() == "http" && !is_loopback(&base) && !self.allow_insecure_http {
            return Err(blame(SettingsError::at(
                "/url",
                format!(
                    "`{}` would send the credentials unencrypted over the network: use https://, or set allow_insecure_http = true",
                    self.url
                ),
            )));
        }
        let timeout = match &self.timeout {
            None => Duration::from_secs(30),
            Some(text) => parse_timeout(text)?,
        };
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .default_headers(self.headers.clone());
        if let Some(path) = &self.ca_cert {
            let pem = std::fs::read(provider.project_root.join(path))
                .map_err(|err| SettingsError::at("/ca_cert", format!("cannot read {}: {err}", path.display())))?;
            let certificate = reqwest::Certificate::from_pem(&pem).map_err(|err| {
                SettingsError::at("/ca_cert", format!("{} is not a PEM certificate: {err}", path.display()))
            })?;
            builder = builder.add_root_certificate(certificate);
        }
        if self.insecure_skip_verify {
            tracing::warn!(
                target: "mac::security",
                "provider `{}`: insecure_skip_verify = true — TLS certificates are NOT checked; anyone on the network path can impersonate {} and read the credentials",
                provider.instance,
                self.url
            );
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http =
            builder.build().map_err(|err| SettingsError::at("", format!("cannot set up the HTTP client: {err}")))?;
        // What to check when the server cannot be reached: the setting, or what overrode it.
        let url_origin = match &self.url_variable {
            Some(variable) => format!("{variable} (it overrides `url` of provider `{}`)", provider.instance),
            None => format!("`url` of provider `{}` in mac.toml", provider.instance),
        };
        Ok(HttpClient::new(
            http,
            base,
            self.server,
            url_origin,
            self.credentials,
            provider.project_root.clone(),
            self.retry,
        ))
    }
}

/// An `http://` or `https://` base URL without credentials in it, ending in `/` so that API
/// paths join below it (a server may be served under a sub-path); errors are at `/url`.
pub fn parse_base_url(url: &str) -> Result<Url, SettingsError> {
    let mut base = Url::parse(url).map_err(|err| SettingsError::at("/url", format!("`{url}` is not a URL: {err}")))?;
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
        return Err(SettingsError::at("/url", format!("`{url}` must be an http:// or https:// URL")));
    }
    // The base URL appears in messages: a password in it would be printed.
    if !base.username().is_empty() || base.password().is_some() {
        return Err(SettingsError::at("/url", "put credentials in `token` or `basic`, not in the URL"));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

/// A positive duration such as `"30s"` or `"1m30s"` (Prometheus' syntax); errors at `/timeout`.
pub fn parse_timeout(text: &str) -> Result<Duration, SettingsError> {
    match duration::parse(text) {
        Some(milliseconds) if milliseconds > 0 => Ok(Duration::from_millis(milliseconds)),
        _ => Err(SettingsError::at("/timeout", format!("`{text}` is not a positive duration such as \"30s\""))),
    }
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::BasicAuth;
    use mac_core::SecretRef;

    fn provider() -> ProviderSettings {
        ProviderSettings {
            instance: "test".to_owned(),
            values: serde_json::json!({}),
            project_root: PathBuf::from("/nonexistent-project"),
            project: None,
        }
    }

    fn pointer(result: Result<HttpClient, SettingsError>) -> (String, String) {
        let error = result.expect_err("an invalid setting");
        (error.pointer, error.message)
    }

    #[test]
    fn base_urls_are_checked_and_end_in_a_slash() {
        assert_eq!(
            parse_base_url("http://localhost:3000/grafana").expect("valid").as_str(),
            "http://localhost:3000/grafana/"
        );
        for bad in ["not a url", "ftp://host", "https://user:pw@host"] {
            let error = parse_base_url(bad).expect_err(bad);
            assert_eq!(error.pointer, "/url", "{bad}");
            assert!(!error.message.contains("pw@"), "{}", error.message);
        }
    }

    #[test]
    fn every_error_names_its_field() {
        let mut settings = HttpSettings::new("Test", "http://example.com");
        settings.credentials = Credentials::Bearer(SecretRef::Env { env: "T".into() });
        assert_eq!(pointer(settings.clone().build(&provider())).0, "/url", "credentials over plain http");
        settings.allow_insecure_http = true;
        assert!(settings.clone().build(&provider()).is_ok());
        settings.timeout = Some("soon".into());
        assert_eq!(
            pointer(settings.clone().build(&provider())),
            ("/timeout".to_owned(), "`soon` is not a positive duration such as \"30s\"".to_owned())
        );
        settings.timeout = Some("0s".into());
        assert_eq!(pointer(settings.clone().build(&provider())).0, "/timeout");
        settings.timeout = Some("1m30s".into());
        settings.ca_cert = Some("ca.pem".into());
        assert_eq!(pointer(settings.build(&provider())).0, "/ca_cert");
        let both = Credentials::from_settings(
            Some(SecretRef::Env { env: "T".into() }),
            Some(BasicAuth { user: "u".into(), password: SecretRef::Env { env: "P".into() } }),
        );
        assert_eq!(both.expect_err("both").pointer, "/basic");
    }

    #[test]
    fn plain_http_is_fine_without_credentials_or_on_loopback() {
        assert!(HttpSettings::new("Test", "http://example.com").build(&provider()).is_ok());
        let mut settings = HttpSettings::new("Test", "http://[::1]:3000");
        settings.credentials = Credentials::Bearer(SecretRef::Env { env: "T".into() });
        assert!(settings.build(&provider()).is_ok());
    }

    #[test]
    fn basic_auth_rejects_unknown_fields() {
        let error = serde_json::from_value::<BasicAuth>(serde_json::json!({ "user": "u", "pasword": { "env": "P" } }))
            .expect_err("a typo");
        assert!(error.to_string().contains("pasword"), "{error}");
    }
}
