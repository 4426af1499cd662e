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
    retry: RetryPolicy,
}

/// A successful answer.
#[derive(Debug)]
pub struct Answer {
    pub body: Value,
}

impl Answer {
    /// The answer as `T`; one of another shape is an error naming what was read (`what`).
    pub fn parse<T: serde::de::DeserializeOwned>(self, what: &str) -> Result<T, HandlerError> {
        serde_json::from_value(self.body).map_err(|err| {
            HandlerError::new(
                HandlerErrorKind::Other,
                format!("Grafana's answer to {what} has an unexpected shape: {err}"),
            )
        })
    }
}

pub struct ClientConfig {
    pub base: Url,
    pub credentials: Credentials,
    pub project_root: std::path::PathBuf,
    pub org_id: Option<i64>,
    pub timeout: Duration,
    pub ca_cert: Option<reqwest::Certificate>,
    pub retry: RetryPolicy,
    pub insecure_skip_verify: bool,
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
        if config.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|err| format!("cannot set up the HTTP client: {err}"))?;
        Ok(Client {
            http,
            base: config.base,
            credentials: config.credentials,
            resolved: OnceLock::new(),
            project_root: config.project_root,
            org_id: config.org_id,
            retry: config.retry,
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
    ///
    /// Retried with exponential backoff and jitter, within a bounded budget, when the request
    /// cannot have taken effect or repeating it is harmless: the connection could not be made,
    /// Grafana (or a proxy) answered 429, 502, 503 or 504 (honouring `Retry-After`), or a read
    /// timed out or broke off. Every write mac makes is safe to repeat by construction
    /// (client-chosen uids, whole-document replaces, deletes that accept "already gone").
    pub async fn send(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Answer, HandlerError> {
        let mut attempt = 1;
        let started = std::time::Instant::now();
        loop {
            let sent = std::time::Instant::now();
            let result = self.send_once(method.clone(), url.clone(), body).await;
            // Method, path and outcome only: never headers or bodies, which carry credentials
            // and revealed secrets.
            let outcome = match &result {
                Ok(_) => "ok".to_owned(),
                Err(Failure::Retryable { error, .. } | Failure::Final(error)) => error.message.clone(),
            };
            tracing::debug!(target: "mac::http", "{method} {} attempt {attempt}: {outcome} ({} ms)", url.path(), sent.elapsed().as_millis());
            match result {
                Err(Failure::Retryable { error, wait }) if attempt < self.retry.attempts => {
                    let delay = wait.unwrap_or_else(|| backoff(self.retry.base, attempt)).min(self.retry.max_delay);
                    if started.elapsed() + delay > self.retry.budget {
                        return Err(gave_up(error, attempt));
                    }
                    tracing::warn!(target: "mac::http", "{} — retrying in {} ms", error.message, delay.as_millis());
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(Failure::Retryable { error, .. }) => {
                    return Err(if attempt > 1 { gave_up(error, attempt) } else { error });
                }
                Err(Failure::Final(error)) => return Err(error),
                Ok(answer) => return Ok(answer),
            }
        }
    }

    async fn send_once(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Answer, Failure> {
        let read_only = method == Method::GET || method == Method::HEAD;
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
            let error = HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!("{described} to Grafana at {} {what}: {}", self.base, root_cause(&err)),
            );
            // Not connected: the request never left. A read may always be repeated.
            if err.is_connect() || read_only { Failure::Retryable { error, wait: None } } else { Failure::Final(error) }
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|err| {
            let error = HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!("{described}: the answer broke off: {}", root_cause(&err)),
            );
            if read_only { Failure::Retryable { error, wait: None } } else { Failure::Final(error) }
        })?;
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status.is_success() {
            let body = parsed.ok_or_else(|| {
                Failure::Final(HandlerError::new(
                    HandlerErrorKind::Unavailable,
                    format!(
                        "{described}: Grafana answered {status} with a body that is not JSON ({})",
                        preview(&bytes)
                    ),
                ))
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
        let error = HandlerError::new(kind, format!("{described}: Grafana answered {}: {message}", status.as_u16()));
        // Overloaded, or a proxy in trouble: the request was not processed.
        let transient = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        );
        Err(if transient { Failure::Retryable { error, wait: retry_after } } else { Failure::Final(error) })
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Answer, HandlerError> {
        self.send(Method::GET, self.url(segments, query), None).await
    }
}

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first backoff; each next one doubles, with jitter.
    pub base: Duration,
    pub max_delay: Duration,
    /// No retry starts after this much time on one request.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            budget: Duration::from_secs(60),
        }
    }
}

enum Failure {
    Retryable { error: HandlerError, wait: Option<Duration> },
    Final(HandlerError),
}

impl From<HandlerError> for Failure {
    fn from(error: HandlerError) -> Self {
        Failure::Final(error)
    }
}

fn gave_up(error: HandlerError, attempts: u32) -> HandlerError {
    HandlerError::new(error.kind, format!("{} (gave up after {attempts} attempts)", error.message))
}

/// `base × 2^(attempt-1)`, with ±25% jitter so that parallel retries spread out.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exponential = base.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |now| now.subsec_nanos());
    let jitter = 0.75 + f64::from(nanos % 1000) / 2000.0;
    exponential.mul_f64(jitter)
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
