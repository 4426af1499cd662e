//! The django-prometheus bundle against real components (issue 7): a Django app instrumented
//! with django-prometheus (`examples/django/app`) and a real Prometheus scraping it, both on
//! loopback. Every PromQL expression of `mac render -C examples/django` is run through
//! Prometheus' query API, and every alert rule's condition is evaluated on the answers, while
//! the app is healthy, while it fails and is slow, and after it stopped. The same bundle
//! rendered for plain Prometheus (`examples/prometheus`, template `django-prometheus-rules`)
//! must fire exactly when the Grafana rules do, and is applied to that Prometheus with mac.
//!
//! Needs Debian's `prometheus`, `python3-django` and `python3-django-prometheus` (`cargo xtask
//! setup` installs them); without them the test fails with the command to run, unless a
//! developer asks for a visible skip with `MAC_TEST_SKIP_MISSING` (see `mac-test-tools`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The Prometheus job the example project's selector (`job="payments"`) names.
const JOB: &str = "payments";

/// How long the whole test may take; every wait checks it.
const BUDGET: Duration = Duration::from_secs(100);

/// How long the slow view sleeps: inside the (1.0, 2.5] bucket of django-prometheus' latency
/// histogram, above the example's p95 and p99 objectives (0.5s and 1s).
const SLOW_SECONDS: &str = "1.2";

#[test]
fn django_bundle_queries_against_a_real_django_prometheus_and_prometheus() {
    let started = Instant::now();
    let Some(tools) = Tools::find() else { return };
    let bundle = rendered();
    let rules = alert_rules(&bundle);
    let prometheus_rules = prometheus_alert_rules();
    let mut names: Vec<&str> = prometheus_rules.iter().map(|(_, alert, _)| alert.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names.len(), 9, "one Prometheus alert per Grafana rule: {names:?}");
    let dashboard_queries = dashboard_queries(&bundle);
    let mut ids: Vec<&str> = rules.iter().map(|rule| rule.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "database-connection-errors",
            "database-errors",
            "error-budget-fast-burn",
            "error-budget-slow-burn",
            "latency-p95",
            "latency-p99",
            "target-down",
            "unapplied-migrations",
            "unhandled-exceptions",
        ],
        "every rule of the bundle has expectations below"
    );
    assert!(dashboard_queries.len() >= 12, "the dashboard's queries: {dashboard_queries:?}");

    let mut stack = Stack::start(&tools, started);
    // Warm-up: requests to every view create every series, and Prometheus scrapes them before
    // the measured traffic, so that rate() over any window counts exactly what follows. Ten
    // of each: rate() extrapolates a counter back toward the window's start only as far as
    // its first sample's value allows (a counter cannot go below zero), and with a first
    // value that small against the increase the series would be extrapolated unequally.
    let warm_up: Vec<(String, u16)> =
        [("/ok", 200), ("/fail", 500), ("/boom", 500), ("/slow?seconds=0.01", 200), ("/db-error", 200)]
            .iter()
            .flat_map(|(path, status)| std::iter::repeat_n(((*path).to_owned(), *status), 10))
            .collect();
    stack.traffic(&warm_up);
    stack.wait_for_scraped_requests(warm_up.len());
    // Two more scrapes: every series has a first sample before the traffic.
    stack.sleep(Duration::from_millis(2_500));

    // Healthy: fast successes only.
    let healthy: Vec<(String, u16)> = (0..60).map(|_| ("/ok".to_owned(), 200)).collect();
    stack.traffic(&healthy);
    stack.wait_for_scraped_requests(warm_up.len() + healthy.len());
    for rule in &rules {
        let evaluation = stack.evaluate(rule);
        expect_healthy(rule, &evaluation);
        stack.expect_same_in_prometheus(&prometheus_rules, &evaluation);
    }

    // Failing: 22 of 104 requests answer 5xx (10 of them unhandled exceptions), 12 are slow
    // and 10 hit a database error the view recovers from.
    let mut failing: Vec<(String, u16)> = Vec::new();
    let mix: [(&str, u16, usize); 5] =
        [("/ok", 200, 60), ("/fail", 500, 12), ("/boom", 500, 10), ("/slow", 200, 12), ("/db-error", 200, 10)];
    for (path, status, count) in mix {
        let path = if path == "/slow" { format!("/slow?seconds={SLOW_SECONDS}") } else { path.to_owned() };
        failing.extend(std::iter::repeat_n((path, status), count));
    }
    // Spread the slow and failing requests over the run rather than in blocks.
    let spread: Vec<(String, u16)> =
        (0..failing.len()).map(|index| failing[(index * 37) % failing.len()].clone()).collect();
    assert_eq!(failing.len(), 104);
    stack.traffic(&spread);
    stack.wait_for_scraped_requests(warm_up.len() + healthy.len() + spread.len());
    let measured = Measured { requests: healthy.len() + spread.len(), errors_5xx: 22, exceptions: 10, db_errors: 10 };
    for rule in &rules {
        let evaluation = stack.evaluate(rule);
        expect_failing(rule, &evaluation, &measured);
        stack.expect_same_in_prometheus(&prometheus_rules, &evaluation);
    }
    stack.apply_prometheus_rules();
    for query in &dashboard_queries {
        let instant = query.replace("$__rate_interval", "1m");
        let samples = stack.query(&instant).unwrap_or_else(|error| panic!("dashboard query {instant}: {error}"));
        if !instant.contains("django_db_new_connection_errors_total") {
            assert!(!samples.is_empty(), "dashboard query {instant} returns series");
        }
    }

    // Stopped: the target-down rule fires.
    stack.stop_app();
    stack.wait_until("Prometheus sees the app down", || {
        stack.query(&format!("up{{job=\"{JOB}\"}} == 0")).is_ok_and(|samples| samples.len() == 1)
    });
    let target_down = rules.iter().find(|rule| rule.id == "target-down").expect("the target-down rule");
    let evaluation = stack.evaluate(target_down);
    assert_eq!(evaluation.only("A"), 0.0, "up is 0 once the app stopped");
    assert!(evaluation.fires, "target-down fires once the app stopped: {evaluation:?}");
    assert!(started.elapsed() < BUDGET, "the test took {:?}", started.elapsed());
}

/// What the failing phase sent after the warm-up (the healthy phase included).
#[derive(Debug)]
struct Measured {
    requests: usize,
    errors_5xx: usize,
    exceptions: usize,
    db_errors: usize,
}

fn expect_healthy(rule: &Rule, evaluation: &Evaluation) {
    let id = rule.id.as_str();
    match id {
        "error-budget-fast-burn" | "error-budget-slow-burn" => {
            assert_eq!((evaluation.only("A"), evaluation.only("B")), (0.0, 0.0), "{id}: no 5xx, no burn");
            assert!(!evaluation.fires, "{id} is quiet while healthy: {evaluation:?}");
        }
        "latency-p95" | "latency-p99" => {
            let latency = evaluation.only("A");
            // Fast answers take milliseconds; a busy machine may stall a few of them.
            assert!(latency > 0.0 && latency <= 0.25, "{id}: fast requests, yet {latency}s");
            assert!(!evaluation.fires, "{id} is quiet while healthy: {evaluation:?}");
        }
        "unhandled-exceptions" | "database-errors" => {
            assert_eq!(evaluation.only("A"), 0.0, "{id}: none since the warm-up");
            assert!(!evaluation.fires, "{id} is quiet while healthy: {evaluation:?}");
        }
        "database-connection-errors" => {
            assert!(evaluation.values["A"].is_empty(), "{id}: sqlite never fails to connect: {evaluation:?}");
            assert!(!evaluation.fires, "{id} is quiet: {evaluation:?}");
        }
        "unapplied-migrations" => expect_unapplied_migrations(evaluation),
        "target-down" => {
            assert_eq!(evaluation.only("A"), 1.0, "{id}: up");
            assert!(!evaluation.fires, "{id} is quiet while the app runs: {evaluation:?}");
        }
        other => panic!("no expectation for rule {other}"),
    }
}

fn expect_failing(rule: &Rule, evaluation: &Evaluation, measured: &Measured) {
    let id = rule.id.as_str();
    let count = |count: usize, value: f64| {
        // increase() extrapolates toward the window's ends: never less than the real count,
        // a little more (by at most about 1.5 scrape intervals over the sampled span).
        let count = count as f64;
        assert!(value >= count - 0.01 && value <= count * 1.25, "{id}: {value}, expected about {count}");
    };
    match id {
        "error-budget-fast-burn" | "error-budget-slow-burn" => {
            let budget = 1.0 - objective(&rule.queries["A"]);
            let burn = measured.errors_5xx as f64 / measured.requests as f64 / budget;
            for window in ["A", "B"] {
                let value = evaluation.only(window);
                assert!((value - burn).abs() <= burn * 0.05, "{id} {window}: burn rate {value}, expected {burn}");
            }
            assert!(evaluation.fires, "{id} fires at a burn rate of {burn}: {evaluation:?}");
        }
        "latency-p95" | "latency-p99" => {
            let latency = evaluation.only("A");
            assert!(latency > 1.0 && latency <= 2.5, "{id}: {latency}s, expected in the slow requests' bucket");
            assert!(evaluation.fires, "{id} fires: {evaluation:?}");
        }
        "unhandled-exceptions" => {
            count(measured.exceptions, evaluation.only("A"));
            assert_eq!(evaluation.values["A"][0].labels.get("type").map(String::as_str), Some("RuntimeError"));
            assert!(evaluation.fires, "{id} fires: {evaluation:?}");
        }
        "database-errors" => {
            count(measured.db_errors, evaluation.only("A"));
            let labels = &evaluation.values["A"][0].labels;
            assert_eq!(
                (labels.get("alias"), labels.get("vendor"), labels.get("type")),
                (Some(&"default".to_owned()), Some(&"sqlite".to_owned()), Some(&"OperationalError".to_owned()))
            );
            assert!(evaluation.fires, "{id} fires: {evaluation:?}");
        }
        "database-connection-errors" => {
            assert!(evaluation.values["A"].is_empty(), "{id}: sqlite never fails to connect: {evaluation:?}");
            assert!(!evaluation.fires, "{id} is quiet: {evaluation:?}");
        }
        "unapplied-migrations" => expect_unapplied_migrations(evaluation),
        "target-down" => {
            assert_eq!(evaluation.only("A"), 1.0, "{id}: up");
            assert!(!evaluation.fires, "{id} is quiet while the app runs: {evaluation:?}");
        }
        other => panic!("no expectation for rule {other}"),
    }
}

/// The demo database is never migrated: contenttypes' two migrations and the demo app's one.
fn expect_unapplied_migrations(evaluation: &Evaluation) {
    assert_eq!(evaluation.only("A"), 3.0, "unapplied migrations: {evaluation:?}");
    assert_eq!(evaluation.values["A"][0].labels.get("connection").map(String::as_str), Some("default"));
    assert!(evaluation.fires, "unapplied-migrations fires: {evaluation:?}");
}

/// The availability objective of a burn-rate expression, which ends in `/ (1 - OBJECTIVE)`.
fn objective(expr: &str) -> f64 {
    let start = expr.rfind("(1 - ").expect("a burn rate divides by (1 - objective)") + "(1 - ".len();
    let end = expr[start..].find(')').expect("a closing parenthesis") + start;
    expr[start..end].trim().parse().expect("the objective is a number")
}

// ---------------------------------------------------------------------------------------------
// The rendered bundle.

pub(crate) fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `mac render -C examples/django`, as JSON.
fn rendered() -> Value {
    let output = assert_cmd::Command::cargo_bin("mac")
        .expect("the mac binary is built")
        .arg("render")
        .arg("-C")
        .arg(repository().join("examples/django"))
        .env("NO_COLOR", "1")
        .env("GRAFANA_PASSWORD", "unused")
        .output()
        .expect("mac runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "mac render failed: {}{stdout}", String::from_utf8_lossy(&output.stderr));
    let table: toml::Table =
        toml::from_str(&stdout).unwrap_or_else(|error| panic!("mac render prints TOML: {error}\n{stdout}"));
    serde_json::to_value(table).expect("TOML converts to JSON")
}

/// An alert rule: its PromQL queries and its condition, by ref_id.
#[derive(Debug)]
struct Rule {
    id: String,
    condition: String,
    queries: BTreeMap<String, String>,
    expressions: BTreeMap<String, String>,
}

fn alert_rules(value: &Value) -> Vec<Rule> {
    let mut rules = Vec::new();
    for group in value["grafana8"]["alert_group"].as_array().expect("rendered alert groups") {
        for rule in group["rules"].as_array().expect("a group's rules") {
            let id = rule["id"].as_str().or(rule["title"].as_str()).expect("a rule id").to_owned();
            let mut queries = BTreeMap::new();
            let mut expressions = BTreeMap::new();
            for data in rule["data"].as_array().expect("a rule's data") {
                let ref_id = data["ref_id"].as_str().expect("a ref_id").to_owned();
                if let Some(expr) = data["model"]["expr"].as_str() {
                    assert!(!expr.contains("%{"), "{id}/{ref_id}: an unexpanded placeholder in {expr}");
                    queries.insert(ref_id, expr.to_owned());
                } else {
                    let expression = data["model"]["expression"].as_str().expect("a math expression");
                    assert_eq!(data["model"]["type"], "math", "{id}/{ref_id}: only math expressions are checked here");
                    expressions.insert(ref_id, expression.to_owned());
                }
            }
            let condition = rule["condition"].as_str().expect("a condition").to_owned();
            assert!(expressions.contains_key(&condition), "{id}: the condition {condition} is a math expression");
            rules.push(Rule { id, condition, queries, expressions });
        }
    }
    rules
}

/// Every `expr` of the rendered dashboards' panel targets.
fn dashboard_queries(value: &Value) -> Vec<String> {
    let mut queries = Vec::new();
    for dashboard in value["grafana8"]["dashboard"].as_array().expect("rendered dashboards") {
        for panel in dashboard["json"]["panels"].as_array().expect("a dashboard's panels") {
            for target in panel["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = target["expr"].as_str() {
                    queries.push(expr.to_owned());
                }
            }
        }
    }
    queries
}

/// `mac render -C examples/prometheus`: the bundle's alerts as Prometheus rules, as
/// (Grafana rule id, alert name, expression).
fn prometheus_alert_rules() -> Vec<(String, String, String)> {
    let output = assert_cmd::Command::cargo_bin("mac")
        .expect("the mac binary is built")
        .arg("render")
        .arg("-C")
        .arg(repository().join("examples/prometheus"))
        .env("NO_COLOR", "1")
        .output()
        .expect("mac runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "mac render failed: {}{stdout}", String::from_utf8_lossy(&output.stderr));
    let table: toml::Table = toml::from_str(&stdout).expect("mac render prints TOML");
    let value = serde_json::to_value(table).expect("TOML converts to JSON");
    let mut rules = Vec::new();
    for group in value["prometheus"]["rule_group"].as_array().expect("rendered rule groups") {
        for rule in group["rules"].as_array().expect("a group's rules") {
            let Some(alert) = rule["alert"].as_str().filter(|alert| alert.starts_with("Django")) else { continue };
            let expr = rule["expr"].as_str().expect("an expression");
            assert!(!expr.contains("%{"), "{alert}: an unexpanded placeholder in {expr}");
            // DjangoErrorBudgetFastBurn -> error-budget-fast-burn, as the Grafana rule's id.
            let mut id = String::new();
            for c in alert.trim_start_matches("Django").chars() {
                if c.is_ascii_uppercase() && !id.is_empty() {
                    id.push('-');
                }
                id.push(c.to_ascii_lowercase());
            }
            let id = id.replace("p95-high", "p95").replace("p99-high", "p99");
            rules.push((id, alert.to_owned(), expr.to_owned()));
        }
    }
    rules
}

// ---------------------------------------------------------------------------------------------
// Evaluating a rule as Grafana does: each query at once, then the condition on the results.

#[derive(Debug)]
struct Sample {
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug)]
struct Evaluation {
    rule: String,
    values: BTreeMap<String, Vec<Sample>>,
    fires: bool,
}

impl Evaluation {
    /// The value of the one series a query returned.
    fn only(&self, ref_id: &str) -> f64 {
        match self.values[ref_id].as_slice() {
            [sample] => sample.value,
            other => panic!("{} {ref_id}: one series expected, got {other:?}", self.rule),
        }
    }
}

/// Whether a condition such as `$A > 14.4 && $B > 14.4` holds. Each side of a term is a
/// query's result (the bundle's queries return series whose labels match one to one) or a
/// number; an empty result is Grafana's NoData, which the bundle's rules do not fire on
/// (target-down's NoData state is Alerting, but up always has a series here).
fn holds(rule: &str, expression: &str, values: &BTreeMap<String, Vec<Sample>>) -> bool {
    expression.split("&&").all(|term| {
        let term = term.trim();
        let (left, operator, right) = [">=", "<=", ">", "<", "=="]
            .iter()
            .find_map(|operator| term.split_once(operator).map(|(left, right)| (left.trim(), *operator, right.trim())))
            .unwrap_or_else(|| {
                panic!("{rule}: the test understands conditions such as `$A > 1 && $B > 1`, not {term:?}")
            });
        let series = left
            .strip_prefix('$')
            .and_then(|ref_id| values.get(ref_id))
            .unwrap_or_else(|| panic!("{rule}: {left} is not a query's ref_id"));
        let threshold: f64 = right.parse().unwrap_or_else(|_| panic!("{rule}: {right} is not a number"));
        series.iter().any(|sample| match operator {
            ">=" => sample.value >= threshold,
            "<=" => sample.value <= threshold,
            ">" => sample.value > threshold,
            "<" => sample.value < threshold,
            _ => sample.value == threshold,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// The components.

/// The demo app of examples/django on `port`, its database and log in `dir`.
pub(crate) fn spawn_app(python: &Path, dir: &Path, port: u16) -> Process {
    Process::spawn(
        "django",
        Command::new(python)
            .args(["-m", "django", "runserver", &format!("127.0.0.1:{port}"), "--noreload"])
            .current_dir(dir)
            .env("PYTHONPATH", repository().join("examples/django/app"))
            .env("DJANGO_SETTINGS_MODULE", "demo.settings")
            .env("DEMO_DATABASE", dir.join("demo.sqlite3"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1"),
        dir.join("django.log"),
    )
}

/// A Python with Django and django-prometheus: a failure without one, or `None` after a
/// visible skip when the developer asked for one.
pub(crate) fn django_python() -> Option<PathBuf> {
    mac_test_tools::program(&mac_test_tools::DJANGO_PYTHON)
}

/// The programs the test runs: a failure without them, or `None` after a visible skip when
/// the developer asked for one.
struct Tools {
    python: PathBuf,
    prometheus: PathBuf,
}

impl Tools {
    fn find() -> Option<Tools> {
        Some(Tools { python: django_python()?, prometheus: crate::prometheus::binary()? })
    }
}

/// A child process killed (and reaped) on drop; its output goes to a log file.
pub(crate) struct Process {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    pub(crate) fn spawn(name: &'static str, command: &mut Command, log: PathBuf) -> Process {
        let file = std::fs::File::create(&log).expect("a log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("the log file, twice"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|error| panic!("{name} starts: {error}"));
        Process { name, child: Some(child), log }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited is fine: the point is that it is gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- {} (last lines) ---\n{}", self.name, lines[lines.len().saturating_sub(30)..].join("\n"))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Django app and Prometheus, in a temporary directory removed on drop (after both are
/// killed: fields drop in declaration order).
struct Stack {
    app: Process,
    prometheus: Process,
    app_port: u16,
    prometheus_port: u16,
    started: Instant,
    dir: tempfile::TempDir,
}

impl Stack {
    fn start(tools: &Tools, started: Instant) -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        let app_port = free_port();
        let prometheus_port = free_port();
        let app = spawn_app(&tools.python, dir.path(), app_port);
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nrule_files:\n  - {}/rules/*.yml\nscrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [\"127.0.0.1:{app_port}\"]\n",
            dir.path().display()
        );
        std::fs::create_dir_all(dir.path().join("rules")).expect("mkdir rules");
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
        let stack = Stack { app, prometheus, app_port, prometheus_port, started, dir };
        stack.wait_until("Django answers", || get(app_port, "/metrics").is_ok_and(|(status, _)| status == 200));
        stack.wait_until("Prometheus is ready", || {
            get(prometheus_port, "/-/ready").is_ok_and(|(status, _)| status == 200)
        });
        stack
    }

    fn failure(&self, what: &str) -> String {
        format!("{what}\n{}\n{}", self.app.log_tail(), self.prometheus.log_tail())
    }

    /// Polls `ready` until it holds, failing once the test's budget is spent.
    fn wait_until(&self, what: &str, mut ready: impl FnMut() -> bool) {
        while !ready() {
            assert!(self.started.elapsed() < BUDGET, "{}", self.failure(&format!("timed out: {what}")));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn sleep(&self, duration: Duration) {
        assert!(self.started.elapsed() + duration < BUDGET, "{}", self.failure("out of time"));
        std::thread::sleep(duration);
    }

    /// Sends the requests from six threads and checks each answer's status.
    fn traffic(&self, requests: &[(String, u16)]) {
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    while let Some((path, expected)) = requests.get(next.fetch_add(1, Ordering::SeqCst)) {
                        let (status, _) = get(self.app_port, path)
                            .unwrap_or_else(|error| panic!("{}", self.failure(&format!("GET {path}: {error}"))));
                        assert_eq!(status, *expected, "GET {path}");
                    }
                });
            }
        });
    }

    /// Waits until Prometheus has scraped `count` answers of the app's views.
    fn wait_for_scraped_requests(&self, count: usize) {
        let query = format!(
            "sum(django_http_responses_total_by_status_view_method_total{{job=\"{JOB}\", view!=\"prometheus-django-metrics\"}})"
        );
        let mut seen = String::new();
        let started = Instant::now();
        while !self.query(&query).is_ok_and(|samples| {
            seen = format!("{samples:?}");
            samples.first().is_some_and(|sample| sample.value == count as f64)
        }) {
            assert!(
                self.started.elapsed() < BUDGET && started.elapsed() < Duration::from_secs(20),
                "{}",
                self.failure(&format!("timed out: Prometheus scrapes {count} requests, it has {seen}"))
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// An instant query: the series it returns, or Prometheus' error.
    fn query(&self, promql: &str) -> Result<Vec<Sample>, String> {
        let (status, body) = get(self.prometheus_port, &format!("/api/v1/query?query={}", percent_encode(promql)))
            .map_err(|error| format!("the query API: {error}"))?;
        let answer: Value = serde_json::from_str(&body).map_err(|error| format!("HTTP {status}: {error}: {body}"))?;
        if answer["status"] != "success" {
            return Err(format!("{}: {}", answer["errorType"], answer["error"]));
        }
        let parse = |pair: &Value| pair[1].as_str().and_then(|value| value.parse::<f64>().ok());
        match answer["data"]["resultType"].as_str() {
            Some("vector") => Ok(answer["data"]["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|series| Sample {
                    labels: series["metric"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
                        .collect(),
                    value: parse(&series["value"]).unwrap_or(f64::NAN),
                })
                .collect()),
            Some("scalar") => Ok(vec![Sample {
                labels: BTreeMap::new(),
                value: parse(&answer["data"]["result"]).unwrap_or(f64::NAN),
            }]),
            other => Err(format!("unexpected result type {other:?}")),
        }
    }

    /// Runs a rule's queries and evaluates its condition.
    fn evaluate(&self, rule: &Rule) -> Evaluation {
        let values: BTreeMap<String, Vec<Sample>> = rule
            .queries
            .iter()
            .map(|(ref_id, expr)| {
                let samples = self.query(expr).unwrap_or_else(|error| {
                    panic!("{}", self.failure(&format!("{} {ref_id}: {expr} is rejected: {error}", rule.id)))
                });
                (ref_id.clone(), samples)
            })
            .collect();
        let fires = holds(&rule.id, &rule.expressions[&rule.condition], &values);
        // Shown with --nocapture: what each rule saw, phase by phase.
        let shown: Vec<String> = values
            .iter()
            .map(|(ref_id, samples)| {
                format!("{ref_id}={:?}", samples.iter().map(|sample| sample.value).collect::<Vec<_>>())
            })
            .collect();
        eprintln!("{}: {} -> fires: {fires}", rule.id, shown.join(" "));
        Evaluation { rule: rule.id.clone(), values, fires }
    }

    /// The Prometheus rendering of the rule with the same id fires (returns series) exactly
    /// when the Grafana rule's condition holds.
    fn expect_same_in_prometheus(&self, prometheus_rules: &[(String, String, String)], evaluation: &Evaluation) {
        let (_, alert, expr) = prometheus_rules
            .iter()
            .find(|(id, _, _)| *id == evaluation.rule)
            .unwrap_or_else(|| panic!("no Prometheus rule for {}: {prometheus_rules:?}", evaluation.rule));
        let samples = self.query(expr).unwrap_or_else(|error| panic!("{alert}: {expr} is rejected: {error}"));
        eprintln!("{alert}: {} series", samples.len());
        assert_eq!(!samples.is_empty(), evaluation.fires, "{alert} fires as {} does: {samples:?}", evaluation.rule);
    }

    /// `mac apply` of examples/prometheus' definitions to this Prometheus: promtool accepts
    /// them, Prometheus reloads them, and lists every rule.
    fn apply_prometheus_rules(&self) {
        let project = tempfile::tempdir().expect("tempdir");
        let example = repository().join("examples/prometheus");
        std::fs::create_dir_all(project.path().join("definitions")).expect("mkdir");
        std::fs::copy(example.join("definitions/payments.toml"), project.path().join("definitions/payments.toml"))
            .expect("copy the definitions");
        let config = format!(
            "templates = [{:?}]\n[providers.prometheus]\nrules_dir = {:?}\nurl = \"http://127.0.0.1:{}\"\n",
            repository().join("examples/django/templates").display().to_string(),
            self.dir.path().join("rules").display().to_string(),
            self.prometheus_port
        );
        std::fs::write(project.path().join("mac.toml"), config).expect("write mac.toml");
        let output = assert_cmd::Command::cargo_bin("mac")
            .expect("the mac binary is built")
            .args(["apply", "--auto-approve"])
            .current_dir(project.path())
            .env("NO_COLOR", "1")
            .env_remove("MAC_PROMETHEUS_URL")
            .output()
            .expect("mac runs");
        assert!(
            output.status.success(),
            "{}",
            self.failure(&format!(
                "mac apply of the Prometheus rules: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        );
        let (_, body) = get(self.prometheus_port, "/api/v1/rules").expect("the rules API");
        let answer: Value = serde_json::from_str(&body).expect("JSON");
        let mut loaded: Vec<(String, usize)> = answer["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|group| {
                (group["name"].as_str().unwrap_or_default().to_owned(), group["rules"].as_array().map_or(0, Vec::len))
            })
            .collect();
        loaded.sort();
        let expected = [("payments SLO", 4), ("payments health", 5), ("scrape", 2)];
        let expected: Vec<(String, usize)> =
            expected.iter().map(|(name, count)| ((*name).to_owned(), *count)).collect();
        assert_eq!(loaded, expected, "the groups Prometheus loaded");
    }

    fn stop_app(&mut self) {
        self.app.stop();
    }
}

pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("its address").port()
}

/// A plain HTTP/1.0 GET on loopback: (status, body).
pub(crate) fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:.200}")))?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_owned();
    Ok((status, body))
}

pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The template for Cortex is the Prometheus one with the kind renamed (the template language
/// fixes a definition's kind): kept so, and `examples/cortex` validates and passes its promtool
/// unit tests against the rules as the ruler gets them.
#[test]
#[cfg(feature = "cortex")]
fn the_django_bundle_renders_to_cortex_rule_groups() {
    let templates = repository().join("examples/django/templates");
    let read = |name: &str| std::fs::read_to_string(templates.join(name)).expect("a template");
    let prometheus = read("django-prometheus-rules.toml");
    let cortex = read("django-cortex-rules.toml");
    let body = |text: &str| text[text.find("[template]").expect("a [template] table")..].to_owned();
    let expected = body(&prometheus)
        .replace("[[prometheus.rule_group]]", "[[cortex.rule_group]]")
        .replace("[[prometheus.rule_group.rules]]", "[[cortex.rule_group.rules]]")
        .replace("name = \"django-prometheus-rules\"", "name = \"django-cortex-rules\"")
        .replace("rules as Prometheus rule groups (", "rules as Prometheus rule groups on Cortex's ruler (")
        .replace(
            "the rule file the groups go in: <rules_dir>/<namespace>.yml of the prometheus provider",
            "the ruler namespace the groups go in, of the cortex provider's tenant",
        )
        .replace("how often Prometheus evaluates the rules", "how often the ruler evaluates the rules");
    assert!(
        body(&cortex) == expected,
        "django-cortex-rules.toml is django-prometheus-rules.toml with the kind renamed: copy the edit across"
    );

    if !crate::rule_tests::have_promtool() {
        return;
    }
    let example = repository().join("examples/cortex");
    let mut command = assert_cmd::Command::cargo_bin("mac").expect("the mac binary is built");
    command.current_dir(&example).env("NO_COLOR", "1").env_remove("MAC_CORTEX_URL");
    let (code, stdout, stderr) = crate::run(command.arg("validate"));
    assert_eq!((code, stdout.as_str()), (0, "Valid: 4 object(s) for 1 provider instance(s).\n"), "{stderr}");
    let mut command = assert_cmd::Command::cargo_bin("mac").expect("the mac binary is built");
    command.current_dir(&example).env("NO_COLOR", "1").env_remove("MAC_CORTEX_URL");
    let (code, stdout, stderr) = crate::run(command.arg("test"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    insta::assert_snapshot!(stdout, @r"
    Rules under test: 3 group(s), 11 rule(s), rendered as mac apply writes them.
    tests/django-cortex-rules.test.yml ... ok

    1 test file(s): 1 passed, 0 failed.
    ");
}
