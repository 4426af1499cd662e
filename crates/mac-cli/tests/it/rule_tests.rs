//! `mac test`: promtool unit tests of a project's rendered Prometheus rules (Debian's
//! `promtool`, from the `prometheus` package), and the equivalence check of Grafana rules and
//! their Prometheus twins. The django example's own tests are the main subject.
//!
//! The tests that need promtool fail without it (`cargo xtask setup` installs it), unless a
//! developer asks for a visible skip with `MAC_TEST_SKIP_MISSING` (see `mac-test-tools`).

use std::path::{Path, PathBuf};

use insta::assert_snapshot;

use crate::django::repository;
use crate::{Project, run};

fn example() -> PathBuf {
    repository().join("examples/django")
}

/// Whether promtool is on PATH (where `mac test` looks for it): a failure without it, or
/// `false` after a visible skip when the developer asked for one.
pub(crate) fn have_promtool() -> bool {
    mac_test_tools::program(&mac_test_tools::PROMTOOL).is_some()
}

fn mac_in(dir: &Path) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("mac").expect("the mac binary is built");
    command.current_dir(dir).env("NO_COLOR", "1").env("GRAFANA_PASSWORD", "unused");
    command
}

#[test]
fn the_django_examples_promtool_tests_pass_and_its_twins_are_equivalent() {
    if !have_promtool() {
        return;
    }
    let (code, stdout, stderr) = run(mac_in(&example()).arg("test"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r"
    Rules under test: 2 group(s), 9 rule(s), rendered as mac apply writes them.
    tests/django-prometheus-rules.test.yml ... ok

    Grafana rules and their Prometheus twins (paired by runbook_url):
      payments-django-slo/error-budget-fast-burn = payments-django-slo/DjangoErrorBudgetFastBurn ... equivalent
      payments-django-slo/error-budget-slow-burn = payments-django-slo/DjangoErrorBudgetSlowBurn ... equivalent
      payments-django-slo/latency-p95 = payments-django-slo/DjangoLatencyP95High ... equivalent
      payments-django-slo/latency-p99 = payments-django-slo/DjangoLatencyP99High ... equivalent
      payments-django-health/unhandled-exceptions = payments-django-health/DjangoUnhandledExceptions ... equivalent
      payments-django-health/database-errors = payments-django-health/DjangoDatabaseErrors ... equivalent
      payments-django-health/database-connection-errors = payments-django-health/DjangoDatabaseConnectionErrors ... equivalent
      payments-django-health/unapplied-migrations = payments-django-health/DjangoUnappliedMigrations ... equivalent
      payments-django-health/target-down = payments-django-health/DjangoTargetDown ... equivalent

    1 test file(s): 1 passed, 0 failed; 9 twin pair(s): 9 equivalent, 0 different.
    ");
}

#[test]
fn a_broken_expectation_fails_with_promtools_explanation() {
    if !have_promtool() {
        return;
    }
    let tests = std::fs::read_to_string(example().join("tests/django-prometheus-rules.test.yml")).expect("the tests");
    assert!(tests.contains("18.2 times too fast"));
    let broken = Project::empty();
    broken.write("broken.test.yml", &tests.replace("18.2 times too fast", "99.0 times too fast"));
    let file = broken.root().join("broken.test.yml");
    let (code, stdout, stderr) = run(mac_in(&example()).arg("test").arg(&file));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("broken.test.yml ... FAILED"), "{stdout}");
    // promtool's own explanation: the test case, the expected and the actual alerts.
    assert!(stdout.contains("alertname: DjangoErrorBudgetFastBurn, time: 10m"), "{stdout}");
    assert!(stdout.contains("summary=\"payments is spending its error budget 99.0 times too fast\""), "{stdout}");
    assert!(stdout.contains("summary=\"payments is spending its error budget 18.2 times too fast\""), "{stdout}");
    let temporary = std::env::temp_dir().display().to_string();
    assert!(!stdout.replace(&file.display().to_string(), "").contains(&temporary), "no temporary paths: {stdout}");
    assert!(
        stdout.ends_with("1 test file(s): 0 passed, 1 failed; 9 twin pair(s): 9 equivalent, 0 different.\n"),
        "{stdout}"
    );
}

#[test]
fn without_promtool_the_error_names_the_package() {
    let empty = Project::empty();
    let (code, stdout, stderr) = run(mac_in(&example()).arg("test").env("PATH", empty.root()));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_snapshot!(stderr, @"error: mac test runs `promtool test rules`, and there is no promtool on PATH: install Debian's package `prometheus` (apt-get install prometheus), which ships promtool, or pass --promtool PATH");
}

#[test]
fn twins_with_different_promql_fail() {
    // The django example, with the Prometheus rendering's p95 objective changed.
    let project = Project::empty();
    let config = std::fs::read_to_string(example().join("mac.toml")).expect("mac.toml");
    let templates = example().join("templates").display().to_string();
    project.write("mac.toml", &format!("templates = [{templates:?}]\n{config}"));
    let definitions = std::fs::read_to_string(example().join("definitions/payments.toml")).expect("definitions");
    let (grafana, prometheus) = definitions.split_once("template = \"django-prometheus-rules\"").expect("both uses");
    let prometheus = prometheus.replace("latency_p95_seconds = 0.5", "latency_p95_seconds = 0.7");
    project.define(&format!("{grafana}template = \"django-prometheus-rules\"{prometheus}"));
    let (code, stdout, stderr) = run(mac_in(project.root()).arg("test"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let different: Vec<&str> =
        stdout.lines().filter(|line| line.contains("DIFFERENT") || line.starts_with("      ")).collect();
    assert_snapshot!(different.join("\n"), @r"
    payments-django-slo/latency-p95 = payments-django-slo/DjangoLatencyP95High ... DIFFERENT
        thresholds: only in Grafana [> 0.5], only in Prometheus [> 0.7]
    ");
    assert!(stdout.ends_with("9 twin pair(s): 8 equivalent, 1 different.\n"), "{stdout}");
}
