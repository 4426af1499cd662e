//! Real alert firing end to end through Cortex: a Django app instrumented with
//! django-prometheus (`examples/django/app`), Debian's Prometheus scraping it every second and
//! remote-writing every series to Cortex's `/api/v1/push` for the tenant (through a relay that
//! adds the tenant's header, which Debian's Prometheus 2.42 leaves out), Cortex's ruler
//! evaluating the django bundle's rules (`django-cortex-rules`, windows of seconds) that `mac
//! apply` put there, and Cortex's Alertmanager, configured by `cortex.alertmanager_config`,
//! delivering to a webhook this test serves on loopback. The app answers 5xx → the fast-burn
//! alert arrives at the webhook firing → the app heals → it arrives resolved.
//!
//! Needs Cortex (`cargo xtask cortex build`), `prometheus`, `python3-django` and
//! `python3-django-prometheus`; without them the test fails, unless a developer asks for a
//! visible skip with `MAC_TEST_SKIP_MISSING`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mac_test_tools::cortex::CortexServer;
use serde_json::Value;

use crate::django::{Process, django_python, free_port, get, repository, spawn_app};

/// The alert under test, from the bundle's `django-cortex-rules` template.
const ALERT: &str = "DjangoErrorBudgetFastBurn";

const TENANT: &str = "payments-team";

/// The whole test, start to finish.
const BUDGET: Duration = Duration::from_secs(150);

/// The bundle's use with windows and `for` of seconds, rules evaluated every second; and the
/// tenant's Alertmanager sending every group at once to the webhook (its URL a secret).
const DEFINITIONS: &str = r#"[[use]]
template = "django-cortex-rules"
with = { service = "payments", selector = 'job="payments"', namespace = "payments", availability_objective = 0.995, interval = "1s", fast_burn_long_window = "20s", fast_burn_short_window = "10s", fast_burn_for = "2s", runbook_url = "https://runbooks.example.com/payments" }

[[cortex.alertmanager_config]]
id = "alertmanager"

[cortex.alertmanager_config.config]
route = { receiver = "webhook", group_by = ["alertname"], group_wait = "1s", group_interval = "1s", repeat_interval = "1h" }
receivers = [{ name = "webhook", webhook_configs = [{ url = { env = "PAYMENTS_WEBHOOK_URL" }, send_resolved = true }] }]
"#;

/// A loopback HTTP server on a thread: each request's body goes to `handle`, whose status is
/// the answer. Stops when dropped.
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(handle: impl Fn(Vec<u8>) -> u16 + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("its address").port();
        let stop = Arc::new(AtomicBool::new(false));
        std::thread::spawn({
            let stop = stop.clone();
            move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut reader = BufReader::new(stream);
                    let Some(body) = read_message(&mut reader) else { continue };
                    let status = handle(body);
                    let _ = write!(
                        reader.get_mut(),
                        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        });
        Server { port, stop }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// An HTTP message's body (after its start line and headers), by its `Content-Length`.
fn read_message(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut length = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

/// A remote-write relay to Cortex that adds the tenant: Debian's Prometheus 2.42 does not send
/// a remote_write's `headers` (seen: the push answered 401 `no org id`).
fn relay(cortex_port: u16) -> Server {
    Server::start(move |body| {
        let forward = || -> std::io::Result<u16> {
            let mut stream = TcpStream::connect(("127.0.0.1", cortex_port))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            write!(
                stream,
                "POST /api/v1/push HTTP/1.1\r\nHost: 127.0.0.1:{cortex_port}\r\nX-Scope-OrgID: {TENANT}\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)?;
            let mut status = String::new();
            BufReader::new(stream).read_line(&mut status)?;
            Ok(status.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(502))
        };
        forward().unwrap_or(502)
    })
}

/// A webhook receiver: every body POSTed to it, as JSON.
struct Webhook {
    server: Server,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Webhook {
    fn start() -> Webhook {
        let received = Arc::new(Mutex::new(Vec::new()));
        let server = Server::start({
            let received = received.clone();
            move |body| {
                if let Ok(value) = serde_json::from_slice::<Value>(&body) {
                    received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(value);
                }
                200
            }
        });
        Webhook { server, received }
    }

    /// The statuses (`firing`, `resolved`) the webhook was told for `ALERT`, in order.
    fn statuses(&self) -> Vec<String> {
        let received = self.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        received
            .iter()
            .flat_map(|body| body["alerts"].as_array().cloned().unwrap_or_default())
            .filter(|alert| alert["labels"]["alertname"] == ALERT)
            .filter_map(|alert| alert["status"].as_str().map(str::to_owned))
            .collect()
    }

    fn first_firing(&self) -> Option<Value> {
        let received = self.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        received
            .iter()
            .flat_map(|body| body["alerts"].as_array().cloned().unwrap_or_default())
            .find(|alert| alert["labels"]["alertname"] == ALERT && alert["status"] == "firing")
    }
}

/// Requests to the app from a thread: `/ok` always, `/fail` (a 500) too while `failing`.
struct Traffic {
    failing: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Traffic {
    fn start(port: u16) -> Traffic {
        let failing = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (failing, stop) = (failing.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::SeqCst) {
                    let _ = get(port, "/ok");
                    if failing.load(Ordering::SeqCst) {
                        let _ = get(port, "/fail");
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        Traffic { failing, stop, thread: Some(thread) }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Polls `ready` until it holds, failing with `logs` once the budget is spent; how long it took.
fn wait_until(started: Instant, what: &str, logs: &dyn Fn() -> String, mut ready: impl FnMut() -> bool) -> Duration {
    let waited = Instant::now();
    while !ready() {
        assert!(started.elapsed() < BUDGET, "timed out: {what}\n{}", logs());
        std::thread::sleep(Duration::from_millis(250));
    }
    waited.elapsed()
}

#[test]
fn the_fast_burn_alert_fires_through_cortex_into_a_webhook_and_resolves() {
    let started = Instant::now();
    let Some(python) = django_python() else { return };
    let Some(prometheus_binary) = crate::prometheus::binary() else { return };
    let Some(cortex) = CortexServer::start() else { return };
    let webhook = Webhook::start();
    let relay = relay(cortex.http_port());
    let dir = tempfile::tempdir().expect("tempdir");
    let (app_port, prometheus_port) = (free_port(), free_port());
    let app = spawn_app(&python, dir.path(), app_port);
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         remote_write:\n  - url: http://127.0.0.1:{}/api/v1/push\n    queue_config:\n      batch_send_deadline: 1s\n\
         scrape_configs:\n  - job_name: payments\n    static_configs:\n      - targets: [\"127.0.0.1:{app_port}\"]\n",
        relay.port
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).expect("write prometheus.yml");
    let prometheus = Process::spawn(
        "prometheus",
        Command::new(&prometheus_binary)
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .arg("--log.level=warn")
            .current_dir(dir.path()),
        dir.path().join("prometheus.log"),
    );
    let logs = || format!("{}\n{}\n--- cortex ---\n{}", app.log_tail(), prometheus.log_tail(), cortex.log_tail());
    wait_until(started, "Django answers", &logs, || get(app_port, "/ok").is_ok_and(|(status, _)| status == 200));

    // mac puts the rules and the Alertmanager configuration on the tenant.
    let project: PathBuf = dir.path().join("project");
    std::fs::create_dir_all(project.join("definitions")).expect("mkdir");
    std::fs::write(project.join("definitions/payments.toml"), DEFINITIONS).expect("write definitions");
    let settings = format!(
        "templates = [{:?}]\n[providers.cortex]\nurl = \"{}\"\ntenant = \"{TENANT}\"\n",
        repository().join("examples/django/templates").display().to_string(),
        cortex.url()
    );
    std::fs::write(project.join("mac.toml"), settings).expect("write mac.toml");
    let output = assert_cmd::Command::cargo_bin("mac")
        .expect("the mac binary is built")
        .args(["apply", "--auto-approve"])
        .current_dir(&project)
        .env("NO_COLOR", "1")
        .env("PAYMENTS_WEBHOOK_URL", format!("http://127.0.0.1:{}/hook", webhook.server.port))
        .env_remove("MAC_CORTEX_URL")
        .output()
        .expect("mac runs");
    assert!(
        output.status.success(),
        "mac apply: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // Healthy: the series reach Cortex; the webhook hears nothing.
    let traffic = Traffic::start(app_port);
    wait_until(started, "the app's series reach Cortex", &logs, || {
        let answer = cortex.get("/prometheus/api/v1/query?query=up%7Bjob%3D%22payments%22%7D", TENANT);
        answer.status == 200 && answer.body.contains("\"1\"")
    });
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(webhook.statuses(), Vec::<String>::new(), "quiet while healthy\n{}", logs());

    // Failing: one request in two answers 500.
    traffic.failing.store(true, Ordering::SeqCst);
    let fired = wait_until(started, "the alert reaches the webhook", &logs, || {
        webhook.statuses().iter().any(|status| status == "firing")
    });
    let alert = webhook.first_firing().expect("a firing alert");
    let labels = &alert["labels"];
    assert_eq!(
        (labels["severity"].as_str(), labels["service"].as_str()),
        (Some("page"), Some("payments")),
        "the bundle's labels: {labels}"
    );
    assert_eq!(
        alert["annotations"]["runbook_url"].as_str(),
        Some("https://runbooks.example.com/payments#error-budget-burning-fast")
    );

    // Healed: the errors leave the 10s window and the webhook is told the alert resolved.
    traffic.failing.store(false, Ordering::SeqCst);
    let resolved = wait_until(started, "the alert resolves at the webhook", &logs, || {
        webhook.statuses().last().is_some_and(|status| status == "resolved")
    });
    drop(traffic);
    eprintln!(
        "alerting through Cortex: fired at the webhook {fired:?} after the errors began, resolved {resolved:?} after they stopped; {:?} in all",
        started.elapsed()
    );
}
