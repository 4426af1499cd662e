//! `[state]` of `mac.toml` for `backend = "postgres"`: parsed and checked offline, when the
//! store is opened (`mac validate` reports a bad setting at its line without any network).

use std::path::PathBuf;
use std::time::Duration;

use mac_core::{Secret, SecretRef, SettingsError, StateSettings};
use serde::Deserialize;

/// The environment variable whose URL, when set, is used instead of `[state] url`: a runner's
/// secret store sets it, and `mac.toml` then needs no `url`.
pub const URL_VARIABLE: &str = "MAC_STATE_URL";

/// The environment variable naming a file to which every save appends one JSON line of
/// figures (`{"rows":N,"bytes":B,"ms":T,…}`), for benchmarks run as separate processes.
pub const STATS_VARIABLE: &str = "MAC_STATE_STATS";

/// The schema the tables live in unless `schema` says otherwise.
pub const DEFAULT_SCHEMA: &str = "mac";

/// How long a connection attempt may take unless `connect_timeout` (or the URL) says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `[state]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenSettings {
    #[serde(default, deserialize_with = "url_reference")]
    url: Option<SecretRef>,
    schema: Option<String>,
    ca_cert: Option<PathBuf>,
    connect_timeout: Option<String>,
}

/// A secret reference, with a message for a URL written inline that says why it is refused.
fn url_reference<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<SecretRef>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    if value.is_string() {
        return Err(serde::de::Error::custom(format!(
            "`url` must be a secret reference, {{ env = \"{URL_VARIABLE}\" }} or {{ file = \"path\" }}, not the URL itself: \
             a connection URL carries a password (or leave `url` out and set {URL_VARIABLE})"
        )));
    }
    SecretRef::deserialize(value).map(Some).map_err(serde::de::Error::custom)
}

/// Process-wide inputs of the store, read from the environment by [`Overrides::from_process`];
/// tests give them directly (setting variables in a running test process is not safe).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// [`URL_VARIABLE`]'s value.
    pub state_url: Option<Secret>,
    /// [`STATS_VARIABLE`]'s value.
    pub stats_file: Option<PathBuf>,
}

impl Overrides {
    pub fn from_process() -> Overrides {
        Overrides {
            state_url: std::env::var(URL_VARIABLE).ok().filter(|url| !url.is_empty()).map(Secret::new),
            stats_file: std::env::var_os(STATS_VARIABLE).filter(|path| !path.is_empty()).map(PathBuf::from),
        }
    }
}

/// Where the connection URL comes from.
#[derive(Debug, Clone)]
pub(crate) enum UrlSource {
    /// [`URL_VARIABLE`], read when the store was opened.
    Variable(Secret),
    /// `[state] url`, resolved on first use.
    Setting { reference: SecretRef, setting: String },
}

/// The checked settings of one store.
#[derive(Debug, Clone)]
pub(crate) struct StoreConfig {
    pub project: String,
    /// `""` for the default environment.
    pub environment: String,
    pub schema: String,
    pub url: UrlSource,
    /// The CA certificate, resolved against the project root, and how its setting is named.
    pub ca_cert: Option<(PathBuf, String)>,
    pub connect_timeout: Duration,
    pub project_root: PathBuf,
    pub stats_file: Option<PathBuf>,
}

impl StoreConfig {
    pub fn from_settings(settings: &StateSettings, overrides: Overrides) -> Result<StoreConfig, SettingsError> {
        let written: WrittenSettings = settings.parse()?;
        let Some(project) = settings.project.clone() else {
            return Err(SettingsError::at(
                "",
                "the postgres backend keys state by project and environment: add `project = \"…\"` at the top of \
                 mac.toml",
            ));
        };
        let url = match (overrides.state_url, written.url) {
            (Some(url), _) => UrlSource::Variable(url),
            (None, Some(reference)) => UrlSource::Setting { reference, setting: settings.describe_setting("url") },
            (None, None) => {
                return Err(SettingsError::at(
                    "/url",
                    format!(
                        "the postgres backend needs a connection URL: set `url = {{ env = \"VARIABLE\" }}` (or \
                         {{ file = \"path\" }}) in [state], or the environment variable {URL_VARIABLE}"
                    ),
                ));
            }
        };
        let schema = written.schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_owned());
        check_schema_name(&schema).map_err(|message| SettingsError::at("/schema", message))?;
        let connect_timeout = match written.connect_timeout {
            None => DEFAULT_CONNECT_TIMEOUT,
            Some(text) => match mac_core::duration::parse(&text) {
                Some(milliseconds) if milliseconds > 0 => Duration::from_millis(milliseconds),
                _ => {
                    return Err(SettingsError::at(
                        "/connect_timeout",
                        format!("`{text}` is not a duration above zero such as \"10s\" or \"1m\""),
                    ));
                }
            },
        };
        let ca_cert =
            written.ca_cert.map(|path| (settings.project_root.join(path), settings.describe_setting("ca_cert")));
        Ok(StoreConfig {
            project,
            environment: settings.environment.clone().unwrap_or_default(),
            schema,
            url,
            ca_cert,
            connect_timeout,
            project_root: settings.project_root.clone(),
            stats_file: overrides.stats_file,
        })
    }

    /// `payments/production`, or `payments` for the default environment.
    pub fn state_name(&self) -> String {
        if self.environment.is_empty() {
            self.project.clone()
        } else {
            format!("{}/{}", self.project, self.environment)
        }
    }

    /// The key of the state's advisory lock, hashed by the server (`hashtextextended`).
    pub fn lock_name(&self) -> String {
        format!("{}/{}/{}", self.schema, self.project, self.environment)
    }

    /// How the URL's origin is named in messages.
    pub fn url_setting(&self) -> &str {
        match &self.url {
            UrlSource::Variable(_) => URL_VARIABLE,
            UrlSource::Setting { setting, .. } => setting,
        }
    }
}

/// A schema name is spliced into SQL (identifiers cannot be bound as parameters), so only
/// plain lowercase identifiers are taken: nothing to quote, nothing to inject.
pub(crate) fn check_schema_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid_start = chars.next().is_some_and(|first| first.is_ascii_lowercase() || first == '_');
    if !valid_start || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(format!(
            "`{name}` is not a schema name mac uses: lowercase letters, digits and `_`, not starting with a digit"
        ));
    }
    if name.len() > 63 {
        return Err(format!("`{name}` is longer than PostgreSQL's 63-byte names"));
    }
    if name.starts_with("pg_") {
        return Err(format!("`{name}`: PostgreSQL reserves names starting with `pg_` for its own schemas"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_schema_name;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["mac", "_x", "mac_state_2"] {
            assert_eq!(check_schema_name(good), Ok(()), "{good}");
        }
        for bad in ["", "Mac", "2mac", "mac-state", "mac\"; drop", "pg_mac"] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
        assert!(check_schema_name(&"a".repeat(64)).is_err());
    }
}
