//! Working as a team: two working copies ("runners") of one project sharing its state in a
//! real PostgreSQL (a throwaway cluster per test), against the Grafana 8.5 emulator.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use grafana8_emulator::{Emulator, EmulatorConfig, FaultConfig, Latency, Role};
use mac_test_tools::PostgresServer;
use serde_json::Value;

use crate::{Project, run};

// The reader of examples/ci that xtask's own tests use (what the pipelines run, in order).
#[allow(dead_code)] // mac-cli uses the readers, not every helper of the module
#[path = "../../../../xtask/tests/support/mod.rs"]
mod ci_examples;

/// The database password of every test here: it must never appear in anything mac writes.
const CANARY: &str = "canary-Pg-5ecret-7f3a";

/// One Grafana, one PostgreSQL, and two working copies of the same project.
pub(crate) struct Team {
    pub(crate) runners: [Project; 2],
    pub(crate) emulator: Emulator,
    key: String,
    pub(crate) postgres: PostgresServer,
    pub(crate) state_url: String,
    // Declared last: dropped after the emulator it runs.
    runtime: tokio::runtime::Runtime,
}

/// A throwaway PostgreSQL with a database `macstate` owned by `role` (not a superuser, as a
/// team would set it up), and the URL mac logs in with. `None` only after a visible skip.
pub(crate) fn state_database(role: &str, password: &str) -> Option<(PostgresServer, String)> {
    let server = PostgresServer::start()?;
    server.create_role(role, password).expect("a role");
    server.create_database_owned_by("macstate", role).expect("a database");
    let url = server.url(role, password, "macstate");
    Some((server, url))
}

pub(crate) fn folders(count: usize, suffix: &str) -> String {
    // Laid out as `mac fmt` would: the pipelines check it.
    let folders: Vec<String> =
        (0..count).map(|i| format!("[[grafana8.folder]]\nid = \"f{i}\"\ntitle = \"Folder {i}{suffix}\"\n")).collect();
    folders.join("\n")
}

impl Team {
    /// `None` only after a visible skip (MAC_TEST_SKIP_MISSING); a missing PostgreSQL fails.
    pub(crate) fn start(definitions: &str) -> Option<Team> {
        Team::start_with_project("payments-monitoring", definitions)
    }

    fn start_with_project(project: &str, definitions: &str) -> Option<Team> {
        let (postgres, state_url) = state_database("mac", CANARY)?;
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let (emulator, key) = runtime.block_on(async {
            let emulator = Emulator::start(EmulatorConfig::default()).await.expect("emulator starts");
            let key = emulator.create_api_key("mac-tests", Role::Admin).await.expect("api key");
            (emulator, key)
        });
        let config = format!(
            "project = \"{project}\"\n\n[state]\nbackend = \"postgres\"\nurl = {{ env = \"MAC_STATE_URL\" }}\n\n\
             [providers.grafana8]\nurl = \"{}\"\ntoken = {{ env = \"GRAFANA_TOKEN\" }}\n",
            emulator.base_url()
        );
        let runners = [Project::empty(), Project::empty()];
        for runner in &runners {
            runner.write("mac.toml", &config);
            runner.define(definitions);
        }
        Some(Team { runners, emulator, key, postgres, state_url, runtime })
    }

    /// `mac` in runner `index`'s working copy.
    pub(crate) fn mac(&self, index: usize) -> assert_cmd::Command {
        let mut command = self.runners[index].mac();
        command
            .env("GRAFANA_TOKEN", &self.key)
            .env("MAC_STATE_URL", &self.state_url)
            .env_remove("MAC_GRAFANA8_URL")
            .env_remove("MAC_GRAFANA8_TOKEN");
        command
    }

    /// `mac ARGS` started in runner `index`'s working copy, without waiting for it.
    pub(crate) fn spawn(&self, index: usize, args: &[&str]) -> std::process::Child {
        let program = assert_cmd::cargo::cargo_bin("mac");
        std::process::Command::new(program)
            .current_dir(self.runners[index].root())
            .args(args)
            .env("NO_COLOR", "1")
            .env("GRAFANA_TOKEN", &self.key)
            .env("MAC_STATE_URL", &self.state_url)
            .env_remove("MAC_GRAFANA8_URL")
            .env_remove("MAC_GRAFANA8_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mac starts")
    }

    pub(crate) fn folder_titles(&self) -> Vec<String> {
        let url = format!("{}/api/folders?limit=1000", self.emulator.base_url());
        let user = self.emulator.admin_user().to_owned();
        let password = self.emulator.admin_password().to_owned();
        let folders: Value = self.runtime.block_on(async {
            let response = reqwest::Client::new()
                .get(url)
                .basic_auth(user, Some(password))
                .send()
                .await
                .expect("emulator answers");
            response.json().await.expect("JSON")
        });
        let mut titles: Vec<String> = folders
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|folder| folder.get("title").and_then(Value::as_str).map(str::to_owned))
            .collect();
        titles.sort();
        titles
    }

    pub(crate) fn set_latency(&self, ms: u64) {
        self.emulator.set_faults(FaultConfig { seed: 1, latency: Some(Latency::Fixed { ms }), rules: Vec::new() });
    }

    pub(crate) fn requests_sent(&self) -> u64 {
        self.emulator.request_counts().values().sum()
    }

    /// How many objects the shared state holds, read with SQL.
    pub(crate) fn managed_rows(&self) -> usize {
        let count = self.postgres.psql("macstate", "select count(*) from mac.objects").expect("query");
        count.trim().parse().expect("a count")
    }
}

fn assert_no_canary(what: &str, text: &str) {
    assert!(!text.contains(CANARY), "the database password leaked into {what}: {text}");
}

#[test]
fn two_runners_share_one_state_and_a_saved_plan_travels_between_them() {
    let Some(team) = Team::start(&folders(3, "")) else { return };
    // Runner A plans and saves the plan; runner B (another working copy) applies that file.
    let (code, stdout, stderr) = run(team.mac(0).args(["plan", "-o", "reviewed.plan"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("3 to create"), "{stdout}");
    std::fs::copy(team.runners[0].root().join("reviewed.plan"), team.runners[1].root().join("reviewed.plan"))
        .expect("the plan travels as an artifact");
    let (code, stdout, stderr) = run(team.mac(1).args(["apply", "reviewed.plan", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(team.folder_titles(), ["Folder 0", "Folder 1", "Folder 2"]);
    assert_eq!(team.managed_rows(), 3);
    // Neither working copy has a state file: the state is the team's.
    for runner in &team.runners {
        assert!(!runner.state_path().exists(), "no local state in {}", runner.root().display());
    }
    // Runner A sees what B applied: nothing to do.
    let (code, stdout, _) = run(team.mac(0).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("No changes"), "{stdout}");

    // A plan saved on A is refused on B once anything was applied in between.
    team.runners[0].define(&folders(3, " (renamed)"));
    team.runners[1].define(&folders(3, " (renamed)"));
    let (code, _, _) = run(team.mac(0).args(["plan", "-o", "second.plan"]));
    assert_eq!(code, 0);
    std::fs::copy(team.runners[0].root().join("second.plan"), team.runners[1].root().join("second.plan"))
        .expect("copy");
    let (code, _, stderr) = run(team.mac(1).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
    let before = team.requests_sent();
    let (code, stdout, stderr) = run(team.mac(1).args(["apply", "second.plan", "--auto-approve"]));
    assert_eq!(code, 1, "{stdout}");
    assert!(stderr.contains("something was applied since. Make a new plan"), "{stderr}");
    assert_eq!(team.requests_sent(), before, "a refused plan sends nothing to Grafana");
}

#[test]
fn concurrent_applies_from_two_runners_never_interleave() {
    let Some(team) = Team::start(&folders(6, "")) else { return };
    team.set_latency(150);
    let first = team.spawn(0, &["apply", "--auto-approve", "--parallelism", "1"]);
    // Wait until runner A holds the lock: its holder row names it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let holder = team.postgres.psql("macstate", "select coalesce(max(pid), 0) from mac.lock_holders");
        if holder.is_ok_and(|pid| pid.trim() == first.id().to_string()) {
            break;
        }
        assert!(Instant::now() < deadline, "runner A never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Runner B without waiting: refused, naming the holder (who, pid, what it runs).
    let (code, _, stderr) = run(team.mac(1).args(["apply", "--auto-approve"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is locked by"), "{stderr}");
    assert!(stderr.contains(&format!("(pid {}, `mac apply --auto-approve --parallelism 1`", first.id())), "{stderr}");
    // Runner B waiting for the lock: runs after A and finds nothing left to do.
    let (code, stdout, stderr) = run(team.mac(1).args(["apply", "--auto-approve", "--lock-timeout", "60s"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let output = first.wait_with_output().expect("the first apply ends");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("No changes"), "B waited for A and planned from A's state: {stdout}");
    let titles = team.folder_titles();
    assert_eq!(titles.len(), 6, "no duplicates: {titles:?}");
    team.set_latency(0);
    for index in 0..2 {
        let (code, stdout, _) = run(team.mac(index).args(["plan", "--detailed-exitcode"]));
        assert_eq!(code, 0, "runner {index}: {stdout}");
    }
}

#[test]
fn the_database_stopped_mid_apply_loses_nothing_written() {
    let Some(team) = Team::start(&folders(8, "")) else { return };
    team.set_latency(200);
    let apply = team.spawn(0, &["apply", "--auto-approve", "--parallelism", "1"]);
    // Stop the database once Grafana has some of the folders.
    let deadline = Instant::now() + Duration::from_secs(30);
    while team.emulator.request_count("POST", "/api/folders") < 3 {
        assert!(Instant::now() < deadline, "the apply never got going");
        std::thread::sleep(Duration::from_millis(10));
    }
    team.postgres.kill_immediately();
    let output = apply.wait_with_output().expect("apply ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("could not save state after a remote write"), "{stderr}");
    assert!(stderr.contains("PostgreSQL"), "says which store failed: {stderr}");
    assert!(stderr.contains("could not be recorded in state"), "names what state missed: {stderr}");
    assert!(stderr.contains("grafana8/folder.f"), "{stderr}");
    assert_no_canary("the error", &stderr);
    let written = team.folder_titles().len();
    assert!((1..8).contains(&written), "stopped part-way: {written} folder(s)");

    // The next run, with the database back, adopts or completes without duplicates.
    team.postgres.start_again();
    team.set_latency(0);
    let (code, stdout, stderr) = run(team.mac(0).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(team.folder_titles().len(), 8, "every folder once");
    assert_eq!(team.managed_rows(), 8);
    let (code, stdout, _) = run(team.mac(1).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn bad_state_settings_are_clear_errors_before_any_request() {
    let Some(team) = Team::start(&folders(1, "")) else { return };
    let wrong_password = team.postgres.url("mac", "not-the-password", "macstate");
    let missing_database = team.postgres.url("mac", CANARY, "nosuch");
    let cases = [
        (wrong_password.as_str(), "password authentication failed"),
        (missing_database.as_str(), "database \"nosuch\" does not exist"),
        ("postgres://mac@127.0.0.1:1/macstate", "MAC_STATE_URL"),
    ];
    for (url, expected) in cases {
        for command in [&["plan"][..], &["apply", "--auto-approve"][..]] {
            let (code, stdout, stderr) = run(team.mac(0).args(command).env("MAC_STATE_URL", url));
            assert_eq!(code, 1, "{command:?} with {expected}: {stdout}{stderr}");
            assert!(stderr.contains(expected), "{command:?}: expected {expected:?} in {stderr}");
            assert!(stderr.contains("MAC_STATE_URL"), "names the setting: {stderr}");
            assert_no_canary("an error", &stderr);
        }
    }
    assert_eq!(team.requests_sent(), 0, "no request reached Grafana");

    // A schema written by a newer mac is refused, and left as it was.
    let (code, _, stderr) = run(team.mac(0).args(["plan"]));
    assert_eq!(code, 0, "{stderr}");
    team.postgres
        .psql("macstate", "insert into mac.schema_migrations (version, applied_by) values (999, 'a future mac')")
        .expect("a future schema");
    let (code, _, stderr) = run(team.mac(0).args(["plan"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("newer mac"), "{stderr}");
    assert!(stderr.contains("upgrade mac"), "{stderr}");
}

#[test]
fn a_plan_or_state_of_another_project_is_refused() {
    let Some(team) = Team::start(&folders(2, "")) else { return };
    let (code, _, stderr) = run(team.mac(0).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
    // Runner B is configured for another project in the same database: its own, empty state.
    let other = std::fs::read_to_string(team.runners[1].root().join("mac.toml"))
        .expect("mac.toml")
        .replace("payments-monitoring", "checkout-monitoring");
    team.runners[1].write("mac.toml", &other);
    let (code, stdout, _) = run(team.mac(1).args(["plan"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("2 to adopt") || stdout.contains("adopt"),
        "another project's state is not shared: {stdout}"
    );
    // A plan of project A applied with project B's configuration: bound to another state.
    let (code, _, _) = run(team.mac(0).args(["plan", "-o", "a.plan"]));
    assert_eq!(code, 0);
    std::fs::copy(team.runners[0].root().join("a.plan"), team.runners[1].root().join("a.plan")).expect("copy");
    let before = team.requests_sent();
    let (code, _, stderr) = run(team.mac(1).args(["apply", "a.plan", "--auto-approve"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("was made for another state"), "{stderr}");
    assert_eq!(team.requests_sent(), before);
    // Pushing project A's state over project B's once B has a state of its own: refused.
    let (code, _, stderr) = run(team.mac(0).args(["state", "pull", "-o", "a-state.json"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = run(team.mac(1).args(["apply", "--auto-approve", "--adopt"]));
    assert_eq!(code, 0, "{stderr}");
    let pulled = team.runners[0].root().join("a-state.json");
    let (code, _, stderr) = run(team.mac(1).args(["state", "push"]).arg(&pulled));
    assert_eq!(code, 1);
    assert!(stderr.contains("holds another state"), "{stderr}");
}

#[test]
fn state_moves_from_the_file_store_into_postgres_and_back_with_its_lineage() {
    let Some(team) = Team::start(&folders(2, "")) else { return };
    // Runner A starts as a single operator with the file store.
    let file_config = std::fs::read_to_string(team.runners[0].root().join("mac.toml"))
        .expect("mac.toml")
        .replace("[state]\nbackend = \"postgres\"\nurl = { env = \"MAC_STATE_URL\" }\n", "");
    team.runners[0].write("mac.toml", &file_config);
    let (code, _, stderr) = run(team.mac(0).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stderr}");
    let local: Value = team.runners[0].state();
    // Runner B (configured for PostgreSQL) receives that state.
    let (code, stdout, stderr) = run(team.mac(1).args(["state", "push"]).arg(team.runners[0].state_path()));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Pushed"), "{stdout}");
    let (code, stdout, _) = run(team.mac(1).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "the pushed state manages what the file did: {stdout}");
    let (code, _, _) = run(team.mac(1).args(["state", "pull", "-o", "pulled.json"]));
    assert_eq!(code, 0);
    let pulled: Value =
        serde_json::from_str(&std::fs::read_to_string(team.runners[1].root().join("pulled.json")).expect("pulled"))
            .expect("JSON");
    assert_eq!(pulled["lineage"], local["lineage"]);
    assert_eq!(pulled["serial"], local["serial"]);
    assert_eq!(pulled["resources"], local["resources"]);
    // Pushing the same file again changes nothing; an older serial is refused.
    let (code, stdout, _) = run(team.mac(1).args(["state", "push"]).arg(team.runners[0].state_path()));
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing to do"), "{stdout}");
    team.runners[1].define(&folders(2, " v2"));
    let (code, _, _) = run(team.mac(1).args(["apply", "--auto-approve"]));
    assert_eq!(code, 0);
    let (code, _, stderr) = run(team.mac(1).args(["state", "push"]).arg(team.runners[0].state_path()));
    assert_eq!(code, 1);
    assert!(stderr.contains("would move the state backwards"), "{stderr}");
}

#[test]
fn the_database_password_never_appears_in_anything_mac_writes() {
    let Some(team) = Team::start(&folders(2, "")) else { return };
    let mut texts = Vec::new();
    for args in [
        &["validate"][..],
        &["plan", "-o", "p.plan"][..],
        &["plan", "--json"][..],
        &["apply", "p.plan", "--auto-approve"][..],
        &["state", "list"][..],
        &["state", "pull"][..],
        &["--log-level", "debug", "plan"][..],
    ] {
        let (_, stdout, stderr) = run(team.mac(0).args(args));
        texts.push((format!("{args:?}"), format!("{stdout}{stderr}")));
    }
    // Failing connections with the canary in the URL.
    let refused = format!("postgres://mac:{CANARY}@127.0.0.1:1/macstate");
    let (_, stdout, stderr) = run(team.mac(0).arg("plan").env("MAC_STATE_URL", &refused));
    texts.push(("a refused connection".into(), format!("{stdout}{stderr}")));
    for (what, text) in &texts {
        assert_no_canary(what, text);
    }
    for file in walk(team.runners[0].root()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("read")).into_owned();
        assert_no_canary(&file.display().to_string(), &text);
    }
    let rows = team.postgres.psql("macstate", "select string_agg(entry::text, '') from mac.objects").expect("rows");
    assert_no_canary("state rows", &rows);
}

fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() { pending.push(path) } else { files.push(path) }
        }
    }
    files
}

/// A promtool unit test for `mac test`, the step before the plan in both pipelines.
const SMOKE_TEST: &str = "tests:\n  - interval: 1m\n    input_series:\n      - series: 'up{job=\"app\"}'\n        values: '1 1 1'\n    promql_expr_test:\n      - expr: up\n        eval_time: 2m\n        exp_samples:\n          - labels: 'up{job=\"app\"}'\n            value: 1\n";

impl Team {
    /// Runs `lines` (whole shell lines from a pipeline) with `sh -c` in runner `index`'s working
    /// copy, as the CI job would: `mac` on PATH, the secrets as environment variables.
    fn run_pipeline_lines(&self, index: usize, lines: &[String]) {
        let mac = assert_cmd::cargo::cargo_bin("mac");
        let bin = mac.parent().expect("the binary's directory");
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        for line in lines {
            let output = std::process::Command::new("sh")
                .arg("-c")
                .arg(line)
                .current_dir(self.runners[index].root())
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                .env("GRAFANA_TOKEN", &self.key)
                .env("MAC_STATE_URL", &self.state_url)
                .env_remove("MAC_GRAFANA8_URL")
                .env_remove("MAC_GRAFANA8_TOKEN")
                .output()
                .expect("sh runs");
            assert!(
                output.status.success(),
                "`{line}` failed in runner {index}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[test]
fn the_github_workflow_plans_on_the_pull_request_and_applies_that_plan_after_the_merge() {
    let workflow = ci_examples::read_example(ci_examples::GITHUB_WORKFLOW);
    let plan_job = ci_examples::github_mac_commands(&workflow, "plan").expect("the plan job's mac lines");
    let apply_job = ci_examples::github_mac_commands(&workflow, "apply").expect("the apply job's mac lines");
    assert!(plan_job.iter().any(|line| line.starts_with("mac plan -o reviewed.plan")), "{plan_job:?}");
    assert!(apply_job.iter().any(|line| line.starts_with("mac apply reviewed.plan")), "{apply_job:?}");
    let Some(team) = Team::start(&folders(2, "")) else { return };
    for runner in &team.runners {
        runner.write("tests/smoke.test.yml", SMOKE_TEST);
    }
    // The pull request's run, in one working copy.
    team.run_pipeline_lines(0, &plan_job);
    let posted = std::fs::read_to_string(team.runners[0].root().join("plan.txt")).expect("the plan text to post");
    assert!(posted.contains("2 to create"), "{posted}");
    assert!(team.folder_titles().is_empty(), "a plan writes nothing");
    // The merge's run, in another: it receives only the artifact.
    std::fs::copy(team.runners[0].root().join("reviewed.plan"), team.runners[1].root().join("reviewed.plan"))
        .expect("the artifact");
    team.run_pipeline_lines(1, &apply_job);
    assert_eq!(team.folder_titles(), ["Folder 0", "Folder 1"]);
    // The next pull request sees the state the merge left.
    team.run_pipeline_lines(0, &plan_job);
    let posted = std::fs::read_to_string(team.runners[0].root().join("plan.txt")).expect("plan text");
    assert!(posted.contains("No changes"), "{posted}");
    // The old artifact, applied again, is refused: the state moved.
    let (code, _, stderr) = run(team.mac(1).args(["apply", "reviewed.plan", "--auto-approve"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("Make a new plan"), "{stderr}");
}

#[test]
fn the_gitlab_pipeline_plans_then_applies_its_plan_on_the_default_branch() {
    let ci = ci_examples::read_example(ci_examples::GITLAB_CI);
    let plan_job = ci_examples::gitlab_mac_commands(&ci, "plan").expect("the plan job's mac lines");
    let apply_job = ci_examples::gitlab_mac_commands(&ci, "apply").expect("the apply job's mac lines");
    let Some(team) = Team::start(&folders(2, "")) else { return };
    for runner in &team.runners {
        runner.write("tests/smoke.test.yml", SMOKE_TEST);
    }
    team.run_pipeline_lines(0, &plan_job);
    std::fs::copy(team.runners[0].root().join("reviewed.plan"), team.runners[1].root().join("reviewed.plan"))
        .expect("the artifact");
    team.run_pipeline_lines(1, &apply_job);
    assert_eq!(team.folder_titles(), ["Folder 0", "Folder 1"]);
    let (code, stdout, _) = run(team.mac(0).args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}");
}
