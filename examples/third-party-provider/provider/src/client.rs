//! The HTTP client of one Alertmanager: its base URL, optional credentials (Alertmanager has
//! none of its own, but is often served behind a proxy that wants them), and how its answers
//! become values or [`HandlerError`]s. Credentials never appear in an error or a log.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mac_core::{HandlerError, HandlerErrorKind, Secret, SecretRef};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

/// How to authenticate, if at all.
#[derive(Debug, Clone)]
pub enum Credentials {
    None,
    /// Sent as `Authorization: Bearer …`.
    Bearer(SecretRef),
    Basic {
        user: String,
        password: SecretRef,
    },
}

#[derive(Debug)]
pub struct ClientConfig {
    /// The base URL, ending in `/`.
    pub base: Url,
    pub credentials: Credentials,
    pub project_root: PathBuf,
    pub timeout: Duration,
    /// Attempts per request, the first included.
    pub attempts: u32,
}

#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
    project_root: PathBuf,
    /// Resolved on first use, so that `mac validate` needs no secret.
    secret: OnceLock<Result<Secret, String>>,
    attempts: u32,
}

/// No retry starts after this much time spent on one request.
const RETRY_BUDGET: Duration = Duration::from_secs(30);

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("mac-provider-alertmanager-silences/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| format!("cannot set up the HTTP client: {err}"))?;
        Ok(Client {
            http,
            base: config.base,
            credentials: config.credentials,
            project_root: config.project_root,
            secret: OnceLock::new(),
            attempts: config.attempts.max(1),
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The URL of `segments` below the base, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    fn secret(&self) -> Result<Option<&Secret>, HandlerError> {
        let reference = match &self.credentials {
            Credentials::None => return Ok(None),
            Credentials::Bearer(token) => token,
            Credentials::Basic { password, .. } => password,
        };
        let resolved = self.secret.get_or_init(|| reference.resolve(&self.project_root).map_err(|err| err.to_string()));
        match resolved {
            Ok(secret) => Ok(Some(secret)),
            Err(message) => Err(HandlerError::new(
                HandlerErrorKind::Unauthorized,
                format!("cannot read the credentials: {message}"),
            )),
        }
    }

    /// Sends a request and decodes the JSON answer (`Value::Null` for an empty body); any
    /// non-2xx status is an error carrying Alertmanager's message.
    ///
    /// Retried with exponential backoff when repeating cannot do harm: the connection could
    /// not be made (the request never left), or a GET or DELETE failed in transit or was met by
    /// 429, 502, 503 or 504. A POST creates a silence each time it arrives, so one whose
    /// outcome is unknown is not repeated: the next plan sees what happened.
    pub async fn send(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Value, HandlerError> {
        let repeatable = method == Method::GET || method == Method::DELETE;
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            match self.send_once(&method, &url, body).await {
                Ok(value) => return Ok(value),
                Err(Failure { error, retry }) => {
                    let may_retry = match retry {
                        Retry::Never => false,
                        Retry::IfRepeatable => repeatable,
                        Retry::Always => true,
                    };
                    let delay = Duration::from_millis(200).saturating_mul(1 << (attempt - 1).min(10));
                    if !may_retry || attempt >= self.attempts || started.elapsed() + delay > RETRY_BUDGET {
                        return Err(if attempt > 1 {
                            HandlerError::new(
                                error.kind,
                                format!("{} (gave up after {attempt} attempts)", error.message),
                            )
                        } else {
                            error
                        });
                    }
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn send_once(&self, method: &Method, url: &Url, body: Option<&Value>) -> Result<Value, Failure> {
        let described = format!("{method} {}", url.path());
        let mut request = self.http.request(method.clone(), url.clone());
        request = match (&self.credentials, self.secret().map_err(Failure::never)?) {
            (Credentials::Bearer(_), Some(secret)) => request.bearer_auth(secret.expose()),
            (Credentials::Basic { user, .. }, Some(secret)) => request.basic_auth(user, Some(secret.expose())),
            _ => request,
        };
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|err| {
            let what = if err.is_timeout() { "timed out" } else { "failed" };
            let error = HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!("{described} to Alertmanager at {} {what}: {}", self.base, root_cause(&err)),
            );
            Failure { error, retry: if err.is_connect() { Retry::Always } else { Retry::IfRepeatable } }
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|err| Failure {
            error: HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!("{described}: the answer broke off: {}", root_cause(&err)),
            ),
            retry: Retry::IfRepeatable,
        })?;
        let parsed: Option<Value> =
            if bytes.is_empty() { Some(Value::Null) } else { serde_json::from_slice(&bytes).ok() };
        if status.is_success() {
            return parsed.ok_or_else(|| {
                Failure::never(HandlerError::new(
                    HandlerErrorKind::Unavailable,
                    format!(
                        "{described}: Alertmanager answered {status} with a body that is not JSON ({})",
                        preview(&bytes)
                    ),
                ))
            });
        }
        // Alertmanager answers errors as a JSON string ("silence not found"), its API
        // framework as `{ "code": …, "message": … }`.
        let message = match &parsed {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Object(object)) => {
                object.get("message").and_then(Value::as_str).map_or_else(|| preview(&bytes), str::to_owned)
            }
            _ => preview(&bytes),
        };
        let kind = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => HandlerErrorKind::Unauthorized,
            StatusCode::NOT_FOUND => HandlerErrorKind::NotFound,
            StatusCode::CONFLICT => HandlerErrorKind::Conflict,
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => HandlerErrorKind::Invalid,
            // Alertmanager 0.25 answers an unknown silence id with 500 "silence not found".
            _ if message.contains("not found") => HandlerErrorKind::NotFound,
            _ => HandlerErrorKind::Unavailable,
        };
        let error =
            HandlerError::new(kind, format!("{described}: Alertmanager answered {}: {message}", status.as_u16()));
        let overloaded = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        );
        Err(Failure { error, retry: if overloaded { Retry::IfRepeatable } else { Retry::Never } })
    }
}

struct Failure {
    error: HandlerError,
    retry: Retry,
}

impl Failure {
    fn never(error: HandlerError) -> Failure {
        Failure { error, retry: Retry::Never }
    }
}

enum Retry {
    Never,
    /// Only a request that may be repeated (GET, DELETE).
    IfRepeatable,
    /// The request never reached the server.
    Always,
}

/// The innermost cause of a transport error: "connection refused" rather than a chain.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The start of a body that is not what was expected (an HTML page from a proxy, say).
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".to_owned();
    }
    let short: String = text.chars().take(120).collect();
    if short.len() < text.len() { format!("{short}…") } else { short }
}
