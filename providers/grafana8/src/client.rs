//! The HTTP client: Grafana's base URL, credentials, org, and how its answers turn into
//! values or [`HandlerError`]s. Credentials are resolved once, on first use, and never
//! appear in an error message.

use std::sync::OnceLock;
use std::time::Duration;

use mac_core::{HandlerError, HandlerErrorKind, Secret, SecretRef};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

/// How to authenticate.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An API key, sent as `Authorization: Bearer …`.
    Token(SecretRef),
    Basic {
        user: String,
        password: SecretRef,
    },
}

#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
    resolved: OnceLock<Result<Secret, String>>,
    project_root: std::path::PathBuf,
    org_id: Option<i64>,
}

/// A successful answer.
#[derive(Debug)]
pub struct Answer {
    pub body: Value,
}

pub struct ClientConfig {
    pub base: Url,
    pub credentials: Credentials,
    pub project_root: std::path::PathBuf,
    pub org_id: Option<i64>,
    pub timeout: Duration,
    pub ca_cert: Option<reqwest::Certificate>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("mac/", env!("CARGO_PKG_VERSION")));
        if let Some(certificate) = config.ca_cert {
            builder = builder.add_root_certificate(certificate);
        }
        let http = builder.build().map_err(|err| format!("cannot set up the HTTP client: {err}"))?;
        Ok(Client {
            http,
            base: config.base,
            credentials: config.credentials,
            resolved: OnceLock::new(),
            project_root: config.project_root,
            org_id: config.org_id,
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn secret(&self) -> Result<&Secret, HandlerError> {
        let resolved = self.resolved.get_or_init(|| {
            let reference = match &self.credentials {
                Credentials::Token(token) => token,
                Credentials::Basic { password, .. } => password,
            };
            reference.resolve(&self.project_root).map_err(|err| err.to_string())
        });
        resolved.as_ref().map_err(|message| {
            HandlerError::new(HandlerErrorKind::Unauthorized, format!("cannot read the credentials: {message}"))
        })
    }

    /// The URL of `segments` below the base (each segment percent-encoded, so a folder title
    /// with `/` or spaces is one path segment) with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(key, value)| (*key, value.as_str())));
        }
        url
    }

    /// Sends a request and decodes the JSON answer; any non-2xx status is an error carrying
    /// Grafana's message.
    pub async fn send(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Answer, HandlerError> {
        let described = format!("{method} {}", url.path());
        let mut request = self.http.request(method, url);
        request = match &self.credentials {
            Credentials::Token(_) => request.bearer_auth(self.secret()?.expose()),
            Credentials::Basic { user, .. } => request.basic_auth(user, Some(self.secret()?.expose())),
        };
        if let Some(org_id) = self.org_id {
            request = request.header("X-Grafana-Org-Id", org_id.to_string());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|err| {
            let what = if err.is_timeout() { "timed out" } else { "failed" };
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!("{described} to Grafana at {} {what}: {}", self.base, root_cause(&err)),
            )
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|err| {
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!("{described}: the answer broke off: {}", root_cause(&err)),
            )
        })?;
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status.is_success() {
            let body = parsed.ok_or_else(|| {
                HandlerError::new(
                    HandlerErrorKind::Unavailable,
                    format!(
                        "{described}: Grafana answered {status} with a body that is not JSON ({})",
                        preview(&bytes)
                    ),
                )
            })?;
            return Ok(Answer { body });
        }
        let message = parsed
            .as_ref()
            .and_then(|body| body.get("message"))
            .and_then(Value::as_str)
            .map_or_else(|| preview(&bytes), str::to_owned);
        let kind = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => HandlerErrorKind::Unauthorized,
            StatusCode::NOT_FOUND => HandlerErrorKind::NotFound,
            StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => HandlerErrorKind::Conflict,
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => HandlerErrorKind::Invalid,
            _ => HandlerErrorKind::Unavailable,
        };
        Err(HandlerError::new(kind, format!("{described}: Grafana answered {}: {message}", status.as_u16())))
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Answer, HandlerError> {
        self.send(Method::GET, self.url(segments, query), None).await
    }
}

/// The innermost cause of a transport error: "connection refused" rather than a chain.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The start of a body that is not what we expected (an HTML page from a proxy, say).
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".to_owned();
    }
    let short: String = text.chars().take(120).collect();
    if short.len() < text.len() { format!("{short}…") } else { short }
}
