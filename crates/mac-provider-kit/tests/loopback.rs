//! The client against a small axum server on loopback: what is retried, what is not, what the
//! errors say, and that the secret is sent but never shown.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use mac_core::{HandlerErrorKind, ProviderSettings, SecretRef};
use mac_provider_kit::reqwest::Method;
use mac_provider_kit::{Credentials, HttpClient, HttpSettings, Repeat, RetryPolicy};

/// Requests seen, per route.
#[derive(Default)]
struct Seen {
    flaky: AtomicU32,
    busy: AtomicU32,
    dated: AtomicU32,
}

const SECRET: &str = "s3cret-token-never-shown";

async fn flaky(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
    // Twice overloaded, then fine.
    if seen.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
        return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "0")], r#"{"message":"overloaded"}"#);
    }
    (StatusCode::OK, [("retry-after", "0")], r#"{"answer":42}"#)
}

async fn busy(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
    seen.busy.fetch_add(1, Ordering::SeqCst);
    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], r#"{"message":"slow down"}"#)
}

async fn dated(State(seen): State<Arc<Seen>>) -> impl IntoResponse {
    // A date in the past: retry at once.
    if seen.dated.fetch_add(1, Ordering::SeqCst) == 0 {
        return (
            StatusCode::BAD_GATEWAY,
            [("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")],
            "<html>bad gateway</html>",
        );
    }
    (StatusCode::OK, [("retry-after", "0")], "{}")
}

async fn private(headers: HeaderMap) -> impl IntoResponse {
    let expected = format!("Bearer {SECRET}");
    if headers.get("authorization").and_then(|value| value.to_str().ok()) == Some(expected.as_str()) {
        (StatusCode::FORBIDDEN, r#"{"message":"permission denied"}"#)
    } else {
        (StatusCode::UNAUTHORIZED, r#"{"message":"no token"}"#)
    }
}

async fn user_agent(headers: HeaderMap) -> String {
    let agent = headers.get("user-agent").and_then(|value| value.to_str().ok()).unwrap_or_default();
    serde_json::json!({ "agent": agent }).to_string()
}

async fn serve() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route("/flaky", get(flaky))
        .route("/busy", get(busy).post(busy))
        .route("/dated", get(dated))
        .route("/private", get(private))
        .route("/agent", get(user_agent))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the test server") });
    (format!("http://{address}"), seen)
}

fn client(url: &str, credentials: Credentials, attempts: u32) -> HttpClient {
    let mut settings = HttpSettings::new("Test", url);
    settings.credentials = credentials;
    settings.retry = RetryPolicy { attempts, base: Duration::from_millis(5), ..RetryPolicy::default() };
    settings
        .build(&ProviderSettings {
            instance: "test".to_owned(),
            values: serde_json::json!({}),
            project_root: PathBuf::from("."),
            project: None,
        })
        .expect("valid settings")
}

#[tokio::test]
async fn overloaded_answers_are_retried_until_one_succeeds() {
    let (url, seen) = serve().await;
    let client = client(&url, Credentials::None, 5);
    let response = client.request(Method::GET, client.url(&["flaky"], &[])).send().await.expect("the third attempt");
    assert_eq!(response.json::<serde_json::Value>().expect("JSON"), serde_json::json!({ "answer": 42 }));
    assert_eq!(seen.flaky.load(Ordering::SeqCst), 3);

    let response = client.request(Method::GET, client.url(&["dated"], &[])).send().await.expect("a past date: at once");
    assert_eq!(response.status(), 200);
    assert_eq!(seen.dated.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn retries_stop_at_the_policy_and_say_so() {
    let (url, seen) = serve().await;
    let client = client(&url, Credentials::None, 3);
    let error = client.request(Method::GET, client.url(&["busy"], &[])).send().await.expect_err("always 429");
    assert_eq!(seen.busy.load(Ordering::SeqCst), 3);
    assert_eq!(error.kind, HandlerErrorKind::Unavailable);
    assert_eq!(error.message, "GET /busy: Test answered 429: slow down (gave up after 3 attempts)");

    // A POST that would take effect twice is not repeated after a 429 …
    let error = client.request(Method::POST, client.url(&["busy"], &[])).send().await.expect_err("429");
    assert_eq!(seen.busy.load(Ordering::SeqCst), 4);
    assert_eq!(error.message, "POST /busy: Test answered 429: slow down");
    // … unless the provider knows it is safe to.
    let response = client
        .request(Method::POST, client.url(&["busy"], &[]))
        .json(&serde_json::json!({ "a": 1 }))
        .repeat(Repeat::IfNotProcessed)
        .send_any()
        .await
        .expect("an HTTP answer");
    assert_eq!(seen.busy.load(Ordering::SeqCst), 7);
    assert_eq!(response.status(), 429);
    assert_eq!(response.server_message(), "slow down");
}

#[tokio::test]
async fn a_connection_that_cannot_be_made_is_retried_even_for_a_post() {
    // A port nothing listens on any more: connection refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    drop(listener);
    let client = client(&url, Credentials::None, 2);
    let error = client.request(Method::POST, client.url(&["x"], &[])).send().await.expect_err("refused");
    assert_eq!(error.kind, HandlerErrorKind::Unavailable);
    // One error: the URL, what was tried, and the setting to check.
    let prefix = format!("cannot connect to Test at {url}/ (POST /x: ");
    assert!(error.message.starts_with(&prefix), "{}", error.message);
    let suffix = "s); check `url` of provider `test` in mac.toml";
    assert!(error.message.contains(", 2 attempts in ") && error.message.ends_with(suffix), "{}", error.message);

    // Set by an environment variable: the variable is what to check.
    let mut settings = HttpSettings::new("Test", &url);
    settings.url_variable = Some("MAC_TEST_URL".to_owned());
    settings.retry = RetryPolicy::none();
    let provider = ProviderSettings {
        instance: "test".to_owned(),
        values: serde_json::json!({}),
        project_root: ".".into(),
        project: None,
    };
    let client = settings.build(&provider).expect("valid settings");
    let error = client.request(Method::GET, client.url(&["x"], &[])).send().await.expect_err("refused");
    assert!(error.message.starts_with(&format!("cannot connect to Test at {url}/ (GET /x: ")), "{}", error.message);
    assert!(
        error.message.ends_with("); check MAC_TEST_URL (it overrides `url` of provider `test`)"),
        "one attempt, no count: {}",
        error.message
    );

    // A bad URL from the variable is blamed on it, not on a line of mac.toml.
    let mut settings = HttpSettings::new("Test", "htp:/bad");
    settings.url_variable = Some("MAC_TEST_URL".to_owned());
    let error = settings.build(&provider).expect_err("not a URL");
    assert_eq!((error.pointer.as_str(), error.variable.as_deref()), ("/url", Some("MAC_TEST_URL")));
}

#[tokio::test]
async fn a_request_answered_after_retries_is_one_warning() {
    let (url, seen) = serve().await;
    let client = client(&url, Credentials::None, 5);
    let (warnings, response) = {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(capture.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let response = client.request(Method::GET, client.url(&["flaky"], &[])).send().await;
        (capture.text(), response)
    };
    assert_eq!(response.expect("the third attempt").status(), 200);
    assert_eq!(seen.flaky.load(Ordering::SeqCst), 3);
    let lines: Vec<&str> = warnings.lines().collect();
    assert_eq!(lines.len(), 1, "retries at debug, one summary: {warnings}");
    assert!(lines[0].starts_with(" WARN GET /flaky to Test: answered after 3 attempts in "), "{warnings}");
}

/// What a tracing subscriber wrote.
#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

#[tokio::test]
async fn the_secret_is_sent_but_never_shown() {
    let (url, _) = serve().await;
    let variable = "MAC_PROVIDER_KIT_TEST_TOKEN";
    // The token comes from a file: setting an environment variable is `unsafe` in edition
    // 2024, which the workspace forbids. The variable below is one that nobody sets.
    let directory = std::env::temp_dir().join(format!("mac-provider-kit-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("a temporary directory");
    let file = directory.join("token");
    std::fs::write(&file, format!("{SECRET}\n")).expect("the token file");
    let client = client(&url, Credentials::Bearer(SecretRef::File { file: file.clone() }), 1);
    let error = client.request(Method::GET, client.url(&["private"], &[])).send().await.expect_err("403");
    // The server saw the right token (else it would answer 401) …
    assert_eq!(error.kind, HandlerErrorKind::Unauthorized);
    assert_eq!(error.message, "GET /private: Test answered 403: permission denied");
    // … and nothing shows it, nor a body (which may carry a revealed secret).
    let request =
        client.request(Method::POST, client.url(&["private"], &[])).json(&serde_json::json!({ "password": SECRET }));
    let shown_request = format!("{request:?}");
    let response = client.request(Method::GET, client.url(&["private"], &[])).send_any().await.expect("an answer");
    assert!(!format!("{response:?}").contains("permission denied"), "{response:?}");
    for shown in [format!("{client:?}"), format!("{error:?}"), error.to_string(), shown_request] {
        assert!(!shown.contains(SECRET), "{shown}");
    }

    let missing = self::client(&url, Credentials::Bearer(SecretRef::Env { env: variable.to_owned() }), 1);
    let error = missing.request(Method::GET, missing.url(&["private"], &[])).send().await.expect_err("no secret");
    assert_eq!(error.kind, HandlerErrorKind::Unauthorized);
    assert_eq!(
        error.message,
        format!("cannot read the credentials: environment variable {variable} is not set (it holds a secret)")
    );
    std::fs::remove_dir_all(&directory).ok();
}

#[tokio::test]
async fn requests_name_mac_as_their_user_agent() {
    let (url, _) = serve().await;
    let client = client(&url, Credentials::None, 1);
    let response = client.request(Method::GET, client.url(&["agent"], &[])).send().await.expect("an answer");
    let body: serde_json::Value = response.json().expect("JSON");
    assert_eq!(body["agent"], mac_provider_kit::USER_AGENT);
    assert!(mac_provider_kit::USER_AGENT.starts_with("mac/"));
}
