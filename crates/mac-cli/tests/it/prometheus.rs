//! The prometheus provider end to end: the `mac` binary managing the rule files of a real
//! Prometheus (Debian's `/usr/bin/prometheus`, with `--web.enable-lifecycle`) on a free
//! loopback port, whose `rule_files` glob covers the project's `rules/` directory.
//!
//! Without Prometheus the tests fail (`cargo xtask setup` installs it), unless a developer asks
//! for a visible skip with `MAC_TEST_SKIP_MISSING` (see `mac-test-tools`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use insta::assert_snapshot;
use serde_json::Value;

use crate::django::{Process, free_port, get};
use crate::{Project, run};

/// How long starting Prometheus may take.
const START_BUDGET: Duration = Duration::from_secs(30);

/// A Prometheus whose rule files are the project's `rules/*.yml`; killed on drop.
pub(crate) struct Prometheus {
    process: Process,
    pub(crate) port: u16,
    pub(crate) project: Project,
    _data: tempfile::TempDir,
}

/// Debian's prometheus: a failure without it, or `None` after a visible skip when the
/// developer asked for one.
pub(crate) fn binary() -> Option<PathBuf> {
    mac_test_tools::program(&mac_test_tools::PROMETHEUS)
}

impl Prometheus {
    /// Starts Prometheus for a project with these definitions; `None` only when Prometheus is
    /// missing and the developer asked to skip (see [`binary`]).
    pub(crate) fn start(definitions: &str) -> Option<Prometheus> {
        let binary = binary()?;
        let project = Project::empty();
        std::fs::create_dir_all(project.root().join("rules")).expect("mkdir rules");
        project.define(definitions);
        let data = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let config =
            format!("global:\n  evaluation_interval: 1s\nrule_files:\n  - {}/rules/*.yml\n", project.root().display());
        std::fs::write(data.path().join("prometheus.yml"), config).expect("write prometheus.yml");
        let process = Process::spawn(
            "prometheus",
            Command::new(binary)
                .arg(format!("--config.file={}", data.path().join("prometheus.yml").display()))
                .arg(format!("--storage.tsdb.path={}", data.path().join("data").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--web.enable-lifecycle")
                .arg("--log.level=warn")
                .current_dir(data.path()),
            data.path().join("prometheus.log"),
        );
        let prometheus = Prometheus { process, port, project, _data: data };
        prometheus.configure("");
        let started = Instant::now();
        while !get(port, "/-/ready").is_ok_and(|(status, _)| status == 200) {
            assert!(started.elapsed() < START_BUDGET, "Prometheus is not ready\n{}", prometheus.process.log_tail());
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(prometheus)
    }

    /// Writes mac.toml for this Prometheus, with `extra` settings.
    pub(crate) fn configure(&self, extra: &str) {
        self.project.write(
            "mac.toml",
            &format!(
                "[providers.prometheus]\nrules_dir = \"rules\"\nurl = \"http://127.0.0.1:{}\"\n{extra}",
                self.port
            ),
        );
    }

    pub(crate) fn mac(&self) -> assert_cmd::Command {
        let mut command = self.project.mac();
        command.env_remove("MAC_PROMETHEUS_URL");
        command
    }

    fn api(&self, path: &str) -> Value {
        let (status, body) = get(self.port, path).expect("Prometheus answers");
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str::<Value>(&body).expect("JSON")["data"].clone()
    }

    /// The loaded groups of a rule file: name → [(rule name, query)].
    pub(crate) fn loaded(&self, file: &str) -> Vec<(String, Vec<(String, String)>)> {
        self.api("/api/v1/rules")["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|group| group["file"].as_str().is_some_and(|path| path.ends_with(&format!("/{file}"))))
            .map(|group| {
                let rules = group["rules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|rule| {
                        (
                            rule["name"].as_str().unwrap_or("").to_owned(),
                            rule["query"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect();
                (group["name"].as_str().unwrap_or("").to_owned(), rules)
            })
            .collect()
    }

    fn reload_succeeded(&self) -> bool {
        self.api("/api/v1/status/runtimeinfo")["reloadConfigSuccess"] == Value::Bool(true)
    }

    pub(crate) fn rule_file(&self, namespace: &str) -> Option<String> {
        std::fs::read_to_string(self.project.root().join(format!("rules/{namespace}.yml"))).ok()
    }
}

const PAYMENTS: &str = r#"
[[prometheus.rule_group]]
id = "payments-http"
namespace = "payments"
name = "http"
interval = "30s"

[[prometheus.rule_group.rules]]
record = "job:http_errors:ratio5m"
expr = 'sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))'

[[prometheus.rule_group.rules]]
alert = "HighErrorRatio"
expr = "job:http_errors:ratio5m > 0.05"
for = "300s"
labels = { severity = "page" }
annotations = { summary = "{{ $labels.job }} fails" }

[[prometheus.rule_group]]
id = "payments-latency"
namespace = "payments"
name = "latency"

[[prometheus.rule_group.rules]]
alert = "SlowRequests"
expr = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5"
for = "10m"

[[prometheus.rule_group]]
id = "infra-up"
namespace = "infra"
name = "up"

[[prometheus.rule_group.rules]]
alert = "TargetDown"
expr = "up == 0"
for = "2m"
"#;

#[test]
fn apply_reload_edit_drift_and_prune_on_a_real_prometheus() {
    let Some(prometheus) = Prometheus::start(PAYMENTS) else { return };
    let (code, stdout, stderr) = run(prometheus.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let payments = prometheus.loaded("payments.yml");
    let names: Vec<&str> = payments.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["http", "latency"], "both groups of one file, written concurrently, are loaded");
    assert_eq!(payments[0].1[1].0, "HighErrorRatio");
    assert_eq!(prometheus.loaded("infra.yml")[0].1[0], ("TargetDown".to_owned(), "up == 0".to_owned()));
    let file = prometheus.rule_file("payments").expect("payments.yml");
    assert!(
        file.contains("- alert: HighErrorRatio\n    expr: job:http_errors:ratio5m > 0.05\n    for: 5m\n"),
        "{file}"
    );

    let (code, stdout, _) = run(prometheus.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert_snapshot!(stdout, @"No changes. 3 object(s) match their definitions.");

    // A threshold edit is one field, and Prometheus runs the new query after the apply.
    let edited = PAYMENTS.replace("> 0.05", "> 0.02");
    prometheus.project.define(&edited);
    let (code, stdout, _) = run(prometheus.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{stdout}");
    assert_snapshot!(stdout, @r#"
    ~ update prometheus/rule_group.payments-http
        ~ rules[id="HighErrorRatio"].expr: "job:http_errors:ratio5m > 0.05" -> "job:http_errors:ratio5m > 0.02"

    Plan: 0 to create, 1 to update (1 rule changed), 0 to delete, 2 unchanged.
    "#);
    let (code, stdout, stderr) = run(prometheus.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(prometheus.loaded("payments.yml")[0].1[1].1, "job:http_errors:ratio5m > 0.02");

    // Someone edits the file by hand: drift, and the apply puts the code's version back.
    let file = prometheus.rule_file("infra").expect("infra.yml");
    std::fs::write(prometheus.project.root().join("rules/infra.yml"), file.replace("up == 0", "up < 1"))
        .expect("hand edit");
    let (_, stdout, _) = run(prometheus.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ update prometheus/rule_group.infra-up (drift: changed outside mac, restoring the code's version)
        ~ rules[id="TargetDown"].expr: "up < 1" -> "up == 0"

    Plan: 0 to create, 1 to update (1 rule changed), 0 to delete, 2 unchanged.
    "#);
    run(prometheus.mac().args(["apply", "--auto-approve"]));
    assert_eq!(prometheus.loaded("infra.yml")[0].1[0].1, "up == 0");

    // A group made by hand in a file mac writes is kept through mac's edits and prunes.
    let file = prometheus.rule_file("payments").expect("payments.yml");
    let theirs = "- name: theirs\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n";
    std::fs::write(prometheus.project.root().join("rules/payments.yml"), format!("{file}{theirs}"))
        .expect("a hand-made group");

    // Removing definitions prunes their groups; a file left without groups is removed.
    let http_only = edited.split("[[prometheus.rule_group]]\nid = \"payments-latency\"").next().expect("http");
    prometheus.project.define(http_only);
    // Two of three objects: past the default mass-delete guard, which still applies here.
    let (code, stdout, stderr) = run(prometheus.mac().args(["plan", "--detailed-exitcode", "--allow-mass-delete"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    - delete prometheus/rule_group.infra-up (rule group "up" in namespace "infra", 1 rule)
    - delete prometheus/rule_group.payments-latency (rule group "latency" in namespace "payments", 1 rule)

    Plan: 0 to create, 0 to update, 2 to delete, 1 unchanged.
    "#);
    let (code, stdout, stderr) = run(prometheus.mac().args(["apply", "--auto-approve", "--allow-mass-delete"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let names: Vec<String> = prometheus.loaded("payments.yml").into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["http", "theirs"]);
    assert!(prometheus.rule_file("infra").is_none(), "infra.yml had only mac's group: removed");
    assert!(prometheus.loaded("infra.yml").is_empty());
    let (code, stdout, _) = run(prometheus.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "the hand-made group is not mac's to plan: {stdout}");
}

#[test]
fn rules_promtool_or_prometheus_reject_leave_the_previous_file_untouched() {
    // The provider runs promtool from PATH, as Debian's prometheus package installs it.
    if !crate::rule_tests::have_promtool() {
        return;
    }
    let Some(prometheus) = Prometheus::start(PAYMENTS) else { return };
    let (code, stdout, stderr) = run(prometheus.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let before = prometheus.rule_file("payments").expect("payments.yml");
    let loaded_before = prometheus.loaded("payments.yml");
    prometheus.project.define(&PAYMENTS.replace("job:http_errors:ratio5m > 0.05", "sum(rate(x[5m]) > 0.05"));

    // With promtool (on PATH, where Debian's prometheus package puts it): refused before the
    // file is replaced.
    let (code, stdout, stderr) = run(prometheus.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let output = format!("{stdout}{stderr}");
    assert!(
        output.contains("rule group `payments/http`: promtool check rules rejects")
            && output.contains("could not parse expression"),
        "{output}"
    );
    assert!(output.contains("definitions/main.toml:12:1"), "located at the rule: {output}");
    assert_eq!(prometheus.rule_file("payments").as_deref(), Some(before.as_str()), "the file is untouched");
    assert_eq!(prometheus.loaded("payments.yml"), loaded_before);

    // Without promtool Prometheus refuses the reload: the previous file is put back.
    prometheus.configure("promtool = false\n");
    let (code, stdout, stderr) = run(prometheus.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let output = format!("{stdout}{stderr}");
    assert!(
        output.contains("rule group `payments/http`: Prometheus refused the reload")
            && output.contains("the previous rule files were restored and reloaded"),
        "{output}"
    );
    assert_eq!(
        prometheus.rule_file("payments").as_deref(),
        Some(before.as_str()),
        "the file is restored byte for byte"
    );
    assert!(prometheus.reload_succeeded(), "the reload after restoring succeeded");
    assert_eq!(prometheus.loaded("payments.yml"), loaded_before);
    let (code, stdout, _) = run(prometheus.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "the bad change is still to do: {stdout}");
}

#[test]
fn hand_written_rule_files_import_to_an_empty_plan_and_adopt() {
    let Some(prometheus) = Prometheus::start("") else { return };
    let by_hand = "groups:\n- name: node\n  interval: 1m0s\n  rules:\n  - record: instance:cpu:rate5m\n    expr: |\n      sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))\n  - alert: NodeDown\n    expr: up{job=\"node\"} == 0\n    for: 120s\n    labels:\n      severity: page\n    annotations:\n      summary: \"{{ $labels.instance }} is down\"\n";
    std::fs::write(prometheus.project.root().join("rules/infra.yml"), by_hand).expect("write");
    let (code, stdout, stderr) = run(prometheus.mac().args(["import", "prometheus"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    wrote definitions/infra.toml
    Imported 1 object(s) from `prometheus`; they are managed from now on. `mac plan` should show no changes.
    "#);
    let file = std::fs::read_to_string(prometheus.project.root().join("definitions/infra.toml")).expect("written");
    assert_snapshot!(file, @r#"
    # Imported by `mac import` from what the server had. Edit freely: this file is now the source.

    [[prometheus.rule_group]]
    id = "infra-node"
    namespace = "infra"
    name = "node"
    interval = "1m"

    [[prometheus.rule_group.rules]]
    record = "instance:cpu:rate5m"
    expr = 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'

    [[prometheus.rule_group.rules]]
    alert = "NodeDown"
    expr = 'up{job="node"} == 0'
    for = "2m"
    labels = { severity = "page" }
    annotations = { summary = "{{ $labels.instance }} is down" }
    "#);
    let (code, stdout, _) = run(prometheus.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        std::fs::read_to_string(prometheus.project.root().join("rules/infra.yml")).ok().as_deref(),
        Some(by_hand),
        "import and plan write nothing"
    );

    // A definition of a group that exists but is not managed is adopted, with --adopt.
    std::fs::remove_file(prometheus.project.state_path()).expect("forget the import");
    std::fs::remove_file(prometheus.project.root().join("definitions/infra.toml")).expect("remove the import");
    prometheus.project.define(
        "[[prometheus.rule_group]]\nid = \"node\"\nnamespace = \"infra\"\n\n[[prometheus.rule_group.rules]]\nalert = \"NodeDown\"\nexpr = 'up{job=\"node\"} == 0'\nfor = \"2m\"\n",
    );
    let (_, stdout, _) = run(prometheus.mac().arg("plan"));
    assert_snapshot!(stdout, @r#"
    ~ adopt prometheus/rule_group.node (exists remotely but is not managed; applied only with --adopt)
        - interval = "1m"
        - rules[id="NodeDown"].labels = { severity = "page" }
        - rules[id="NodeDown"].annotations = { summary = "{{ $labels.instance }} is down" }
        - rules[id="instance:cpu:rate5m"]
            record = "instance:cpu:rate5m"
            expr = 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'

    Plan: 0 to create, 0 to update, 0 to delete, 1 to adopt (1 rule removed, 1 rule changed), 0 unchanged.
    "#);
    let (code, stdout, stderr) = run(prometheus.mac().args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(prometheus.loaded("infra.yml")[0].1.len(), 1, "the adopted group is now as defined");
}
