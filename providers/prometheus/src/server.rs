//! The Prometheus HTTP API mac uses: the lifecycle reload (`POST /-/reload`, which needs
//! `--web.enable-lifecycle`), the outcome of the last reload (`/api/v1/status/runtimeinfo`)
//! and the groups loaded from each file (`/api/v1/rules`).

use std::collections::BTreeMap;

use mac_core::{HandlerError, HandlerErrorKind};
use mac_provider_kit::reqwest::Method;
use mac_provider_kit::{HttpClient, Response};
use serde_json::Value;

/// The rules of a loaded group, in order, as (type, name): `("alerting", "HighErrors")`.
pub type LoadedRules = Vec<(String, String)>;

/// One Prometheus server, through `mac-provider-kit`'s client (credentials, TLS, request
/// logging, transport errors).
#[derive(Debug)]
pub struct Server {
    http: HttpClient,
}

impl Server {
    pub fn new(http: HttpClient) -> Server {
        Server { http }
    }

    pub fn base_url(&self) -> &str {
        self.http.base_url().as_str()
    }

    /// Sends a request to `path` below the base URL; `Ok` for any HTTP answer.
    async fn send(&self, method: Method, path: &str) -> Result<Response, HandlerError> {
        let url = self.http.base_url().join(path).map_err(|err| {
            HandlerError::new(HandlerErrorKind::Other, format!("cannot build the URL of {path}: {err}"))
        })?;
        self.http.request(method, url).send_any().await
    }

    /// The `data` of a successful API answer.
    async fn api(&self, path: &str) -> Result<Value, HandlerError> {
        let response = self.send(Method::GET, path).await?;
        let status = response.status().as_u16();
        let answer: Value = serde_json::from_slice(response.body()).map_err(|err| {
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!(
                    "GET /{path} to Prometheus at {}: HTTP {status}, not JSON: {}",
                    self.base_url(),
                    excerpt(&String::from_utf8_lossy(response.body()))
                ),
            )
            .with_source(err)
        })?;
        if status != 200 || answer.get("status").and_then(Value::as_str) != Some("success") {
            let kind = if status == 401 || status == 403 {
                HandlerErrorKind::Unauthorized
            } else {
                HandlerErrorKind::Unavailable
            };
            return Err(HandlerError::new(
                kind,
                format!(
                    "GET /{path} to Prometheus at {}: HTTP {status}: {}",
                    self.base_url(),
                    answer.get("error").and_then(Value::as_str).unwrap_or("no error message")
                ),
            ));
        }
        Ok(answer.get("data").cloned().unwrap_or(Value::Null))
    }

    /// Prometheus answers, and will accept reloads.
    pub async fn check(&self) -> Result<(), HandlerError> {
        let flags = self.api("api/v1/status/flags").await?;
        if flags.get("web.enable-lifecycle").and_then(Value::as_str) != Some("true") {
            return Err(HandlerError::new(
                HandlerErrorKind::Invalid,
                format!(
                    "Prometheus at {} was started without --web.enable-lifecycle, so mac cannot reload it after writing rule files; add the flag, or remove `url` to leave reloading to you",
                    self.base_url()
                ),
            ));
        }
        Ok(())
    }

    /// Asks Prometheus to reload its configuration and rule files. `Err` carries what
    /// Prometheus said when it refused.
    pub async fn reload(&self) -> Result<(), HandlerError> {
        let response = self.send(Method::POST, "-/reload").await?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(());
        }
        let kind =
            if status == 401 || status == 403 { HandlerErrorKind::Unauthorized } else { HandlerErrorKind::Invalid };
        Err(HandlerError::new(
            kind,
            format!(
                "Prometheus refused the reload (HTTP {status}): {}",
                excerpt(&String::from_utf8_lossy(response.body()))
            ),
        ))
    }

    /// Whether the last reload of the configuration (rule files included) succeeded.
    pub async fn last_reload_succeeded(&self) -> Result<bool, HandlerError> {
        let info = self.api("api/v1/status/runtimeinfo").await?;
        Ok(info.get("reloadConfigSuccess").and_then(Value::as_bool).unwrap_or(false))
    }

    /// The groups Prometheus loaded from files named `file_name` (in any directory: the path
    /// Prometheus sees may differ from mac's, through mounts or symlinks), by group name.
    pub async fn loaded_groups(&self, file_name: &str) -> Result<BTreeMap<String, LoadedRules>, HandlerError> {
        let data = self.api("api/v1/rules").await?;
        let mut groups = BTreeMap::new();
        for group in data.get("groups").and_then(Value::as_array).into_iter().flatten() {
            let file = group.get("file").and_then(Value::as_str).unwrap_or_default();
            if std::path::Path::new(file).file_name().and_then(|name| name.to_str()) != Some(file_name) {
                continue;
            }
            let name = group.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let rules = group
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|rule| {
                    let text = |key: &str| rule.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
                    (text("type"), text("name"))
                })
                .collect();
            groups.insert(name, rules);
        }
        Ok(groups)
    }
}

/// The start of a long answer, on one line.
fn excerpt(body: &str) -> String {
    let line = body.trim().replace('\n', " ");
    if line.chars().count() > 500 { format!("{}…", line.chars().take(500).collect::<String>()) } else { line }
}
