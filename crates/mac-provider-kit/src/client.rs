//! The client: sends requests with the credentials, retries what may be repeated, logs each
//! attempt, and turns failures into [`HandlerError`]s that name the request and the server.

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

use mac_core::{HandlerError, HandlerErrorKind, Secret};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::credentials::Credentials;
use crate::retry::{RetryPolicy, retry_after};
use crate::status::{error_kind, is_transient, preview, root_cause, server_message};

/// The HTTP client of one server, made by [`crate::HttpSettings::build`].
pub struct HttpClient {
    http: reqwest::Client,
    base: Url,
    server: String,
    /// The setting (or environment variable) the base URL came from, named when a connection
    /// cannot be made.
    url_origin: String,
    credentials: Credentials,
    project_root: PathBuf,
    /// Resolved on first use, so that `mac validate` needs no secret; the error is kept as
    /// its message (which never holds the secret) so that every request reports it.
    secret: OnceLock<Result<Secret, String>>,
    retry: RetryPolicy,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("server", &self.server)
            .field("base", &self.base.as_str())
            .field("url_origin", &self.url_origin)
            .field("credentials", &self.credentials)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// When a failed request may be sent again (within the [`RetryPolicy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// After any failure, even one whose outcome is unknown: reads, and writes that are safe
    /// to repeat even when the first one took effect.
    Always,
    /// When the server (or a proxy) said it did not process the request (429, 502, 503, 504)
    /// or the connection could not be made, but not when the outcome is unknown (a timeout,
    /// a connection that broke off): the next plan finds out what happened.
    IfNotProcessed,
    /// Only when the connection could not be made, so the request never left: a write that
    /// would take effect twice (a POST that creates).
    IfNotSent,
}

impl Repeat {
    /// The default for a method: [`Repeat::Always`] for GET and HEAD, else [`Repeat::IfNotSent`].
    pub fn for_method(method: &Method) -> Repeat {
        if *method == Method::GET || *method == Method::HEAD { Repeat::Always } else { Repeat::IfNotSent }
    }
}

impl HttpClient {
    pub(crate) fn new(
        http: reqwest::Client,
        base: Url,
        server: String,
        url_origin: String,
        credentials: Credentials,
        project_root: PathBuf,
        retry: RetryPolicy,
    ) -> HttpClient {
        HttpClient { http, base, server, url_origin, credentials, project_root, secret: OnceLock::new(), retry }
    }

    /// The base URL, ending in `/`.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The server's name in messages (`Grafana`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The URL of `segments` below the base, each segment percent-encoded (so a folder title
    /// with `/` or spaces is one segment), with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// A request to `url`, repeatable as [`Repeat::for_method`] says until told otherwise.
    pub fn request(&self, method: Method, url: Url) -> Request<'_> {
        let repeat = Repeat::for_method(&method);
        Request { client: self, method, url, body: None, repeat, headers: HeaderMap::new() }
    }

    fn secret(&self) -> Result<Option<&Secret>, HandlerError> {
        let Some(reference) = self.credentials.secret_ref() else {
            return Ok(None);
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
}

/// A request being prepared: [`Request::json`] or [`Request::body`] for a body, [`Request::repeat`] for its retry
/// rule, then [`Request::send`] or [`Request::send_any`].
pub struct Request<'a> {
    client: &'a HttpClient,
    method: Method,
    url: Url,
    /// The body and its content type, or why it could not be written.
    body: Option<Result<(Vec<u8>, &'static str), String>>,
    repeat: Repeat,
    /// Besides the client's own: what only some requests carry, or what the provider learnt
    /// after the client was built (Grafana's org id, when an instance names its org by name).
    headers: HeaderMap,
}

/// Without the body, which may carry a revealed secret.
impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.url.path())
            .field("body_bytes", &self.body.as_ref().map(|body| body.as_ref().map_or(0, |(bytes, _)| bytes.len())))
            .field("repeat", &self.repeat)
            .finish_non_exhaustive()
    }
}

/// Why one attempt failed, and whether another may follow.
struct Failure {
    error: HandlerError,
    retryable: bool,
    /// No connection could be made (refused, no route, unknown host, TLS handshake): the
    /// URL or the network is the likely cause, said once the request is given up.
    unreachable: bool,
}

impl Request<'_> {
    /// Sends `body` as JSON.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.body =
            Some(serde_json::to_vec(body).map(|bytes| (bytes, "application/json")).map_err(|err| err.to_string()));
        self
    }

    /// Sends `bytes` as they are, as `content_type` (`application/yaml` for a ruler's rule
    /// group).
    pub fn body(mut self, bytes: Vec<u8>, content_type: &'static str) -> Self {
        self.body = Some(Ok((bytes, content_type)));
        self
    }

    /// Sends `name: value` with this request (besides the client's headers, replacing one of
    /// the same name).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// When the request may be sent again after a failure.
    pub fn repeat(mut self, repeat: Repeat) -> Self {
        self.repeat = repeat;
        self
    }

    /// Sends the request; any status other than 2xx is an error carrying the server's
    /// message ([`Response::error`]).
    pub async fn send(self) -> Result<Response, HandlerError> {
        let response = self.send_any().await?;
        if response.status.is_success() { Ok(response) } else { Err(response.error()) }
    }

    /// Sends the request and returns any HTTP answer, for a caller that reads error statuses
    /// itself; `Err` only when no answer came (or the credentials cannot be read).
    ///
    /// Retried with exponential backoff and jitter within the client's [`RetryPolicy`], as
    /// [`Repeat`] allows: a connection that could not be made; 429, 502, 503, 504 (honouring
    /// `Retry-After`); a timeout or an answer that broke off. Each retry is logged at debug
    /// level; a request that succeeded after retries is summarised in one warning, and one
    /// given up on says so in its error: `(gave up after 3 attempts in 1.2 s)`. A server that
    /// cannot be reached at all is one error naming the URL and the setting it came from.
    pub async fn send_any(self) -> Result<Response, HandlerError> {
        let policy = self.client.retry;
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let sent = Instant::now();
            let result = self.send_once().await;
            // Method, path and outcome only: never headers or bodies, which carry credentials
            // and revealed secrets.
            let outcome = match &result {
                Ok((response, _)) if response.status.is_success() => format!("ok, HTTP {}", response.status.as_u16()),
                Ok((response, _)) => format!("HTTP {}", response.status.as_u16()),
                Err(failure) => failure.error.message.clone(),
            };
            tracing::debug!(
                target: "mac::http",
                "{} {} attempt {attempt}: {outcome} ({} ms)",
                self.method,
                self.url.path(),
                sent.elapsed().as_millis()
            );
            let (error, wait) = match result {
                Ok((response, wait)) => {
                    let repeatable = matches!(self.repeat, Repeat::Always | Repeat::IfNotProcessed);
                    if response.status.is_success() || !is_transient(response.status) || !repeatable {
                        if attempt > 1 {
                            tracing::warn!(
                                target: "mac::http",
                                "{} {} to {}: answered after {attempt} attempts in {:.1} s",
                                self.method,
                                self.url.path(),
                                self.client.server,
                                started.elapsed().as_secs_f64()
                            );
                        }
                        return Ok(response);
                    }
                    if attempt >= policy.attempts {
                        return Ok(Response { gave_up_after: (attempt > 1).then_some(attempt), ..response });
                    }
                    let delay = policy.delay(attempt, wait);
                    if started.elapsed() + delay > policy.budget {
                        return Ok(Response { gave_up_after: Some(attempt), ..response });
                    }
                    (response.error(), delay)
                }
                Err(Failure { error, retryable, unreachable }) => {
                    let delay = policy.delay(attempt, None);
                    if !retryable || attempt >= policy.attempts || started.elapsed() + delay > policy.budget {
                        return Err(self.given_up(error, unreachable, attempt, started));
                    }
                    (error, delay)
                }
            };
            // Every retry at debug level only: a server down for a few seconds is one line
            // (the summary above, or the error), not one per attempt.
            tracing::debug!(target: "mac::http", "{} — retrying in {} ms", error.message, wait.as_millis());
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// The error of a request given up on after `attempts`: for a server that could not be
    /// reached, what was tried and which setting to check.
    fn given_up(&self, error: HandlerError, unreachable: bool, attempts: u32, started: Instant) -> HandlerError {
        let tried = match attempts {
            1 => String::new(),
            _ => format!(", {attempts} attempts in {:.1} s", started.elapsed().as_secs_f64()),
        };
        let message = if unreachable {
            let client = self.client;
            format!(
                "cannot connect to {} at {} ({}{tried}); check {}",
                client.server, client.base, error.message, client.url_origin
            )
        } else if attempts > 1 {
            format!("{} (gave up after {attempts} attempts in {:.1} s)", error.message, started.elapsed().as_secs_f64())
        } else {
            return error;
        };
        HandlerError::new(error.kind, message)
    }

    /// One attempt: the answer and its `Retry-After`, or why there is none.
    async fn send_once(&self) -> Result<(Response, Option<std::time::Duration>), Failure> {
        let client = self.client;
        let described = format!("{} {}", self.method, self.url.path());
        let final_error = |error: HandlerError| Failure { error, retryable: false, unreachable: false };
        let mut request = client.http.request(self.method.clone(), self.url.clone());
        if !self.headers.is_empty() {
            request = request.headers(self.headers.clone());
        }
        request = match (&client.credentials, client.secret().map_err(final_error)?) {
            (Credentials::Bearer(_), Some(secret)) => request.bearer_auth(secret.expose()),
            (Credentials::Basic { user, .. }, Some(secret)) => request.basic_auth(user, Some(secret.expose())),
            _ => request,
        };
        match &self.body {
            None => {}
            Some(Ok((bytes, content_type))) => {
                request = request.header(CONTENT_TYPE, HeaderValue::from_static(content_type)).body(bytes.clone());
            }
            Some(Err(message)) => {
                return Err(final_error(HandlerError::new(
                    HandlerErrorKind::Other,
                    format!("{described}: cannot write the request body as JSON: {message}"),
                )));
            }
        }
        let may_repeat_unknown = self.repeat == Repeat::Always;
        let response = request.send().await.map_err(|err| {
            if err.is_connect() {
                // Not connected: the request never left. Said as what was tried; the error
                // given up with names the server and the setting.
                let error =
                    HandlerError::new(HandlerErrorKind::Unavailable, format!("{described}: {}", root_cause(&err)));
                return Failure { error, retryable: true, unreachable: true };
            }
            let what = if err.is_timeout() { "timed out" } else { "failed" };
            let error = HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!("{described} to {} at {} {what}: {}", client.server, client.base, root_cause(&err)),
            );
            Failure { error, retryable: may_repeat_unknown, unreachable: false }
        })?;
        let status = response.status();
        let wait = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| retry_after(value, SystemTime::now()));
        // Kept as the chunks that came, not joined: a large answer parsed from its chunks
        // ([`Response::json_from_chunks`]) is never held twice.
        let mut response = response;
        let mut chunks = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => chunks.push(chunk),
                Ok(None) => break,
                Err(err) => {
                    return Err(Failure {
                        error: HandlerError::new(
                            HandlerErrorKind::Unavailable,
                            format!("{described}: the answer broke off: {}", root_cause(&err)),
                        ),
                        retryable: may_repeat_unknown,
                        unreachable: false,
                    });
                }
            }
        }
        let body = Body { chunks, joined: std::sync::OnceLock::new() };
        Ok((Response { status, body, described, server: client.server.clone(), gave_up_after: None }, wait))
    }
}

fn gave_up(error: HandlerError, attempts: u32) -> HandlerError {
    HandlerError::new(error.kind, format!("{} (gave up after {attempts} attempts)", error.message))
}

/// A body as it came, in chunks; joined only when something asks for it whole.
struct Body {
    chunks: Vec<bytes::Bytes>,
    joined: std::sync::OnceLock<Vec<u8>>,
}

impl Body {
    fn len(&self) -> usize {
        self.chunks.iter().map(bytes::Bytes::len).sum()
    }

    fn whole(&self) -> &[u8] {
        match self.chunks.as_slice() {
            [] => &[],
            [one] => one,
            several => self.joined.get_or_init(|| several.concat()),
        }
    }
}

/// Reads a body's chunks in order, each dropped once read.
struct ChunkReader(std::collections::VecDeque<bytes::Bytes>);

impl ChunkReader {
    /// JSON parsed from `chunks` through a buffer (serde_json reads a `Read` byte by byte).
    fn json<T: DeserializeOwned>(chunks: std::collections::VecDeque<bytes::Bytes>) -> Result<T, serde_json::Error> {
        serde_json::from_reader(std::io::BufReader::with_capacity(64 * 1024, ChunkReader(chunks)))
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while let Some(front) = self.0.front_mut() {
            if front.is_empty() {
                self.0.pop_front();
                continue;
            }
            let count = front.len().min(buffer.len());
            buffer[..count].copy_from_slice(&front[..count]);
            bytes::Buf::advance(front, count);
            return Ok(count);
        }
        Ok(0)
    }
}

/// An HTTP answer: its status and body.
pub struct Response {
    status: StatusCode,
    body: Body,
    /// `GET /api/org`, for messages.
    described: String,
    server: String,
    /// Set when a transient status was retried until the policy ran out.
    gave_up_after: Option<u32>,
}

/// Without the body, which may carry a secret.
impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("request", &self.described)
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body as received.
    pub fn body(&self) -> &[u8] {
        self.body.whole()
    }

    /// The body parsed as JSON straight from its chunks, each freed once read: a large
    /// answer (a whole ruler, 75 MB at 100k rules) is never held twice, as bytes and as what
    /// it is parsed into. A body not joined before only.
    pub fn json_from_chunks<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        ChunkReader::json(self.body.chunks.into())
    }

    /// Whether the body starts like a JSON object or list (after white space): what
    /// [`Response::json_from_chunks`] is for; anything else (a proxy's page) is better
    /// reported by [`Response::json`], which quotes it.
    pub fn looks_like_json(&self) -> bool {
        let first = self
            .body
            .chunks
            .iter()
            .flat_map(|chunk| chunk.iter())
            .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
        matches!(first, Some(b'{' | b'['))
    }

    /// The request in a few words: `GET /api/org`.
    pub fn described(&self) -> &str {
        &self.described
    }

    /// The body decoded from JSON; one that is not JSON is an `Unavailable` error quoting its
    /// start (a proxy's HTML page, say).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HandlerError> {
        // From the chunks (sharing them, not copying): the body is joined only to quote it.
        ChunkReader::json(self.body.chunks.iter().cloned().collect()).map_err(|_| {
            HandlerError::new(
                HandlerErrorKind::Unavailable,
                format!(
                    "{}: {} answered {} with a body that is not JSON ({})",
                    self.described,
                    self.server,
                    self.status,
                    preview(self.body.whole())
                ),
            )
        })
    }

    /// The server's message in the body ([`server_message`]).
    pub fn server_message(&self) -> String {
        server_message(self.body.whole())
    }

    /// This answer as an error: its kind from the status ([`error_kind`]), its message
    /// `GET /api/x: Grafana answered 404: <the server's message>`.
    pub fn error(&self) -> HandlerError {
        let message =
            format!("{}: {} answered {}: {}", self.described, self.server, self.status.as_u16(), self.server_message());
        let error = HandlerError::new(error_kind(self.status), message);
        match self.gave_up_after {
            Some(attempts) => gave_up(error, attempts),
            None => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(chunks: &[&'static str]) -> Response {
        Response {
            status: StatusCode::OK,
            body: Body {
                chunks: chunks.iter().map(|chunk| bytes::Bytes::from_static(chunk.as_bytes())).collect(),
                joined: std::sync::OnceLock::new(),
            },
            described: "GET /x".to_owned(),
            server: "Grafana".to_owned(),
            gave_up_after: None,
        }
    }

    #[test]
    fn a_body_in_chunks_reads_as_one_whether_joined_or_parsed_chunk_by_chunk() {
        let chunks = ["  {\"a\": [1, 2", "", ", 3], \"b\"", ": \"x\"}"];
        assert_eq!(answer(&chunks).body(), br#"  {"a": [1, 2, 3], "b": "x"}"#);
        assert!(answer(&chunks).looks_like_json());
        let parsed: serde_json::Value = answer(&chunks).json_from_chunks().expect("JSON");
        assert_eq!(parsed, serde_json::json!({ "a": [1, 2, 3], "b": "x" }));
        assert!(answer(&["{\"a\": 1"]).json_from_chunks::<serde_json::Value>().expect_err("cut short").is_eof());
        assert!(!answer(&["", " <html>"]).looks_like_json(), "a proxy's page");
        assert_eq!(answer(&[]).body(), b"");
    }
}
