//! Real alert firing end to end: a Django app instrumented with django-prometheus
//! (`examples/django/app`), Debian's Prometheus scraping it every second, its rule files
//! managed by `mac apply` (the django bundle's Prometheus rules, with windows of seconds),
//! and Debian's Alertmanager receiving its alerts, all on free loopback ports. The app
//! answers 5xx → the error-budget alert fires and Alertmanager's API v2 lists it with the
//! bundle's labels → the app heals → the alert resolves and Alertmanager no longer lists it
//! as active.
//!
//! Needs `prometheus`, `prometheus-alertmanager`, `python3-django` and
//! `python3-django-prometheus` (`cargo xtask setup` installs them). Without them the test
//! fails, unless a developer asks for a visible skip with `MAC_TEST_SKIP_MISSING` (see
//! `mac-test-tools`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::django::{Process, django_python, free_port, get, repository, spawn_app};

/// The alert under test, from the bundle's `django-prometheus-rules` template.
const ALERT: &str = "DjangoErrorBudgetFastBurn";

/// The whole test, start to finish.
const BUDGET: Duration = Duration::from_secs(110);

/// The bundle's use: the fast-burn windows and `for` in seconds instead of 1h/5m/2m, rules
/// evaluated every second; everything else as in examples/django.
const DEFINITIONS: &str = r#"[[use]]
template = "django-prometheus-rules"
with = { service = "payments", selector = 'job="payments"', namespace = "payments", availability_objective = 0.995, interval = "1s", fast_burn_long_window = "20s", fast_burn_short_window = "10s", fast_burn_for = "2s", runbook_url = "https://runbooks.example.com/payments" }
"#;

struct Tools {
    python: PathBuf,
    prometheus: PathBuf,
    alertmanager: PathBuf,
}

impl Tools {
    /// The three programs: a failure without them, or `None` after a visible skip when the
    /// developer asked for one.
    fn find() -> Option<Tools> {
        Some(Tools {
            python: django_python()?,
            prometheus: crate::prometheus::binary()?,
            alertmanager: mac_test_tools::program(&mac_test_tools::ALERTMANAGER)?,
        })
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

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
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

/// The three processes and their directory; the processes are killed (fields drop in
/// declaration order) before the directory is removed.
struct Stack {
    app: Process,
    prometheus: Process,
    alertmanager: Process,
    app_port: u16,
    prometheus_port: u16,
    alertmanager_port: u16,
    started: Instant,
    dir: tempfile::TempDir,
}

impl Stack {
    fn start(tools: &Tools, started: Instant) -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        let (app_port, prometheus_port, alertmanager_port) = (free_port(), free_port(), free_port());
        let app = spawn_app(&tools.python, dir.path(), app_port);
        std::fs::write(
            dir.path().join("alertmanager.yml"),
            "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n",
        )
        .expect("write alertmanager.yml");
        let alertmanager = Process::spawn(
            "alertmanager",
            Command::new(&tools.alertmanager)
                .arg(format!("--config.file={}", dir.path().join("alertmanager.yml").display()))
                .arg(format!("--storage.path={}", dir.path().join("alertmanager").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{alertmanager_port}"))
                .arg("--cluster.listen-address=")
                .arg("--log.level=warn")
                .current_dir(dir.path()),
            dir.path().join("alertmanager.log"),
        );
        std::fs::create_dir_all(dir.path().join("rules")).expect("mkdir rules");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}/rules/*.yml\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"127.0.0.1:{alertmanager_port}\"]\n\
             scrape_configs:\n  - job_name: payments\n    static_configs:\n      - targets: [\"127.0.0.1:{app_port}\"]\n",
            dir.path().display()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).expect("write prometheus.yml");
        let prometheus = Process::spawn(
            "prometheus",
            Command::new(&tools.prometheus)
                .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
                .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
                .arg("--web.enable-lifecycle")
                .arg("--log.level=warn")
                .current_dir(dir.path()),
            dir.path().join("prometheus.log"),
        );
        let stack = Stack { app, prometheus, alertmanager, app_port, prometheus_port, alertmanager_port, started, dir };
        stack.wait_until("Django answers", || get(app_port, "/ok").is_ok_and(|(status, _)| status == 200));
        stack.wait_until("Alertmanager is ready", || {
            get(alertmanager_port, "/-/ready").is_ok_and(|(status, _)| status == 200)
        });
        stack.wait_until("Prometheus is ready", || {
            get(prometheus_port, "/-/ready").is_ok_and(|(status, _)| status == 200)
        });
        stack
    }

    fn failure(&self, what: &str) -> String {
        format!("{what}\n{}\n{}\n{}", self.app.log_tail(), self.prometheus.log_tail(), self.alertmanager.log_tail())
    }

    /// Polls `ready` until it holds, failing once the test's budget is spent; how long it took.
    fn wait_until(&self, what: &str, mut ready: impl FnMut() -> bool) -> Duration {
        let waited = Instant::now();
        while !ready() {
            assert!(self.started.elapsed() < BUDGET, "{}", self.failure(&format!("timed out: {what}")));
            std::thread::sleep(Duration::from_millis(250));
        }
        waited.elapsed()
    }

    /// `mac apply` of the bundle's rules into Prometheus' rules directory, reloading it.
    fn apply_rules(&self) {
        let project = self.dir.path().join("project");
        std::fs::create_dir_all(project.join("definitions")).expect("mkdir");
        std::fs::write(project.join("definitions/payments.toml"), DEFINITIONS).expect("write definitions");
        let config = format!(
            "templates = [{:?}]\n[providers.prometheus]\nrules_dir = {:?}\nurl = \"http://127.0.0.1:{}\"\n",
            repository().join("examples/django/templates").display().to_string(),
            self.dir.path().join("rules").display().to_string(),
            self.prometheus_port
        );
        std::fs::write(project.join("mac.toml"), config).expect("write mac.toml");
        let output = assert_cmd::Command::cargo_bin("mac")
            .expect("the mac binary is built")
            .args(["apply", "--auto-approve"])
            .current_dir(&project)
            .env("NO_COLOR", "1")
            .env_remove("MAC_PROMETHEUS_URL")
            .output()
            .expect("mac runs");
        assert!(
            output.status.success(),
            "{}",
            self.failure(&format!(
                "mac apply: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        );
    }

    /// Alertmanager's active alerts named `ALERT` (API v2 lists neither resolved nor expired alerts).
    fn alerts_in_alertmanager(&self) -> Vec<Value> {
        let Ok((200, body)) = get(self.alertmanager_port, "/api/v2/alerts") else { return Vec::new() };
        let alerts: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        alerts
            .as_array()
            .into_iter()
            .flatten()
            .filter(|alert| alert["labels"]["alertname"] == ALERT && alert["status"]["state"] == "active")
            .cloned()
            .collect()
    }

    /// The state of `ALERT` in Prometheus (`pending`, `firing`), if it is active there.
    fn state_in_prometheus(&self) -> Option<String> {
        let (_, body) = get(self.prometheus_port, "/api/v1/alerts").ok()?;
        let answer: Value = serde_json::from_str(&body).ok()?;
        answer["data"]["alerts"]
            .as_array()?
            .iter()
            .find(|alert| alert["labels"]["alertname"] == ALERT)
            .and_then(|alert| alert["state"].as_str())
            .map(str::to_owned)
    }
}

#[test]
fn the_error_budget_alert_fires_into_alertmanager_and_resolves_when_the_app_heals() {
    let started = Instant::now();
    let Some(tools) = Tools::find() else { return };
    let stack = Stack::start(&tools, started);
    stack.apply_rules();
    let traffic = Traffic::start(stack.app_port);

    // Healthy: Prometheus scrapes the app and evaluates the rule, which stays quiet.
    stack.wait_until("Prometheus scrapes the app", || {
        get(stack.prometheus_port, "/api/v1/query?query=up%7Bjob%3D%22payments%22%7D")
            .is_ok_and(|(_, body)| body.contains("\"1\""))
    });
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(stack.state_in_prometheus(), None, "{}", stack.failure("quiet while healthy"));
    assert!(stack.alerts_in_alertmanager().is_empty(), "{}", stack.failure("nothing in Alertmanager while healthy"));

    // Failing: one request in two answers 500.
    traffic.fail(true);
    let fired = stack.wait_until("the alert reaches Alertmanager", || !stack.alerts_in_alertmanager().is_empty());
    let alerts = stack.alerts_in_alertmanager();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let labels = &alerts[0]["labels"];
    assert_eq!(
        (labels["alertname"].as_str(), labels["severity"].as_str(), labels["service"].as_str()),
        (Some(ALERT), Some("page"), Some("payments")),
        "the bundle's labels: {labels}"
    );
    let summary = alerts[0]["annotations"]["summary"].as_str().unwrap_or_default();
    assert!(summary.starts_with("payments is spending its error budget "), "{summary}");
    assert_eq!(
        alerts[0]["annotations"]["runbook_url"].as_str(),
        Some("https://runbooks.example.com/payments#error-budget-burning-fast")
    );

    // Healed: the errors leave the 10s window, the alert resolves in Prometheus, and
    // Alertmanager, told so, no longer lists it as active.
    traffic.fail(false);
    let resolved = stack.wait_until("the alert resolves in Alertmanager", || stack.alerts_in_alertmanager().is_empty());
    assert_eq!(stack.state_in_prometheus(), None, "resolved in Prometheus too");
    drop(traffic);
    eprintln!(
        "alerting end to end: fired in Alertmanager {fired:?} after the errors began, resolved {resolved:?} after they stopped; {:?} in all",
        started.elapsed()
    );
    assert!(started.elapsed() < BUDGET, "the test took {:?}", started.elapsed());
}
