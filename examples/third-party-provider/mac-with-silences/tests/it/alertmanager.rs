//! Silences against a real Alertmanager (Debian's `prometheus-alertmanager`, which `cargo xtask
//! setup` installs; without it the test fails with the command to run, unless a developer asks
//! for a visible skip with `MAC_TEST_SKIP_MISSING`, see `mac-test-tools`): create, plan clean, change
//! the end (in place), change a matcher (Alertmanager replaces the silence), expire by hand
//! (recreated), remove a definition (expired), and a window that is over (refused offline).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use insta::assert_snapshot;
use serde_json::Value;

use crate::run;

/// How long Alertmanager may take to become ready.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// Active from the first apply (its start has passed), out of order matchers, an offset.
const DB_UPGRADE: &str = r#"
[[alertmanager_silences.silence]]
id = "db-upgrade"
matchers = [
  { name = "service", value = "payments-db" },
  { name = "env", value = "prod|staging", is_regex = true },
]
starts_at = "2020-01-01T00:00:00Z"
ends_at = "2099-01-01T02:00:00+02:00"
comment = "Postgres upgrade"
created_by = "dba-team"
"#;

/// Pending: it starts in the future.
const NETWORK: &str = r#"
[[alertmanager_silences.silence]]
id = "network"
matchers = [{ name = "site", value = "fra1" }, { name = "severity", value = "info", is_equal = false }]
starts_at = "2098-06-01T22:00:00Z"
ends_at = "2098-06-02T02:00:00Z"
comment = "Core switch replacement"
"#;

#[test]
fn silences_are_created_updated_replaced_recreated_and_expired_on_a_real_alertmanager() {
    let Some(alertmanager) = Alertmanager::start() else { return };
    let project = Project::new(&alertmanager, &format!("{DB_UPGRADE}{NETWORK}"));

    let (code, stdout, stderr) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    + create alertmanager_silences/silence.db-upgrade
        matchers = [
          { name = "env", value = "prod|staging", is_regex = true },
          { name = "service", value = "payments-db" },
        ]
        starts_at = "2020-01-01T00:00:00Z"
        ends_at = "2099-01-01T00:00:00Z"
        comment = "Postgres upgrade"
        created_by = "dba-team"
    + create alertmanager_silences/silence.network
        matchers = [
          { name = "severity", value = "info", is_equal = false },
          { name = "site", value = "fra1" },
        ]
        starts_at = "2098-06-01T22:00:00Z"
        ends_at = "2098-06-02T02:00:00Z"
        comment = "Core switch replacement"
        created_by = "mac"

    Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.
    "#);
    let (code, stdout, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    let db = alertmanager.silences_matching("service", "payments-db");
    let [created] = db.as_slice() else { panic!("one silence for the database: {db:#?}") };
    assert_eq!(created["status"]["state"], "active", "its start has passed: {created:#}");
    assert_eq!(created["comment"], "Postgres upgrade");
    assert_eq!(created["createdBy"], "dba-team");
    assert_eq!(matchers(created), ["env=~prod|staging", "service=payments-db"]);
    assert_eq!(created["endsAt"], "2099-01-01T00:00:00.000Z", "sent in UTC");
    let network = alertmanager.silences_matching("site", "fra1");
    let [network] = network.as_slice() else { panic!("one silence for the network: {network:#?}") };
    assert_eq!(network["status"]["state"], "pending");
    assert_eq!(network["createdBy"], "mac", "the default author");
    assert_eq!(network["startsAt"], "2098-06-01T22:00:00.000Z");
    assert_eq!(project.remote_id("db-upgrade"), created["id"]);

    // The start Alertmanager moved to the time of the write, the offset, milliseconds and the
    // matchers' order show no difference.
    let (code, stdout, stderr) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_snapshot!(stdout, @"No changes. 2 object(s) match their definitions.");

    // A later end: updated in place (the recorded start is sent back), same id.
    project.define(&format!("{}{NETWORK}", DB_UPGRADE.replace("2099-01-01T02:00:00+02:00", "2099-01-02T00:00:00Z")));
    let (code, stdout, stderr) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    ~ update alertmanager_silences/silence.db-upgrade
        ~ ends_at: "2099-01-01T00:00:00Z" -> "2099-01-02T00:00:00Z"

    Plan: 0 to create, 1 to update, 0 to delete, 1 unchanged.
    "#);
    let (code, stdout, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let active = alertmanager.active_matching("service", "payments-db");
    let [extended] = active.as_slice() else { panic!("one active silence for the database: {active:#?}") };
    assert_eq!(extended["endsAt"], "2099-01-02T00:00:00.000Z");
    assert_eq!(extended["id"], created["id"], "an end change keeps the silence");
    assert_eq!(project.remote_id("db-upgrade"), extended["id"]);

    // Another matcher value: Alertmanager expires the silence and makes a new one, whose id is
    // what state records from then on.
    let widened = DB_UPGRADE
        .replace("2099-01-01T02:00:00+02:00", "2099-01-02T00:00:00Z")
        .replace("prod|staging", "prod|staging|canary");
    project.define(&format!("{widened}{NETWORK}"));
    let (code, stdout, stderr) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    ~ update alertmanager_silences/silence.db-upgrade
        ~ matchers[name="env"].value: "prod|staging" -> "prod|staging|canary"

    Plan: 0 to create, 1 to update (1 matcher changed), 0 to delete, 1 unchanged.
    "#);
    let (code, stdout, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let active = alertmanager.active_matching("service", "payments-db");
    let [replaced] = active.as_slice() else { panic!("one active silence for the database: {active:#?}") };
    assert_ne!(replaced["id"], created["id"], "Alertmanager replaced it");
    assert_eq!(matchers(replaced), ["env=~prod|staging|canary", "service=payments-db"]);
    assert_eq!(alertmanager.silence(&created["id"])["status"]["state"], "expired", "the old one expired");
    assert_eq!(project.remote_id("db-upgrade"), replaced["id"]);
    let (code, stdout, stderr) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "after the replacement: {stdout}{stderr}");

    // Expired by hand in Alertmanager's UI: gone, so the code's window is recreated.
    alertmanager.expire(&replaced["id"]);
    let (code, stdout, stderr) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("alertmanager_silences/silence.db-upgrade"), "{stdout}");
    assert!(stdout.contains("Plan: 1 to create, 0 to update, 0 to delete, 1 unchanged."), "{stdout}");
    let (code, stdout, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let active = alertmanager.active_matching("service", "payments-db");
    let [recreated] = active.as_slice() else { panic!("one active silence for the database: {active:#?}") };
    assert_eq!(project.remote_id("db-upgrade"), recreated["id"]);

    // The definition removed: the silence is expired.
    project.define(NETWORK);
    let (code, stdout, stderr) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_snapshot!(stdout, @r#"
    - delete alertmanager_silences/silence.db-upgrade (silence {env=~"prod|staging|canary", service="payments-db"} by dba-team)

    Plan: 0 to create, 0 to update, 1 to delete, 1 unchanged.
    "#);
    let (code, stdout, stderr) = run(project.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(alertmanager.active_matching("service", "payments-db").is_empty());
    assert_eq!(alertmanager.silence(&recreated["id"])["status"]["state"], "expired");
    assert_eq!(alertmanager.active_matching("site", "fra1").len(), 1, "the other window stays");
    let (code, stdout, stderr) = run(project.mac().args(["plan", "--detailed-exitcode"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn a_window_that_is_over_is_refused_offline_at_its_line() {
    let project =
        Project::at_url("http://127.0.0.1:1", &DB_UPGRADE.replace("2099-01-01T02:00:00+02:00", "2021-01-01T00:00:00Z"));
    let (code, stdout, stderr) = run(project.mac().arg("validate"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_snapshot!(stderr, @"error: definitions/maintenance.toml:9:1: 2021-01-01T00:00:00Z has passed: this maintenance window is over, remove its definition (Alertmanager refuses silences that end in the past)");

    project.define(&DB_UPGRADE.replace("2099-01-01T02:00:00+02:00", "2099-01-01 02:00"));
    let (code, stdout, stderr) = run(project.mac().arg("validate"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_snapshot!(stderr, @r#"error: definitions/maintenance.toml:9:1: `2099-01-01 02:00` is not an RFC 3339 timestamp with an offset, such as "2030-01-31T22:00:00Z": a character literal was not valid"#);
}

/// `name=value` or `name=~value` (`!` when not equal) for each matcher, sorted.
fn matchers(silence: &Value) -> Vec<String> {
    let mut spelled: Vec<String> = silence["matchers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|matcher| {
            let equal = if matcher["isEqual"] == false { "!" } else { "=" };
            let regex = if matcher["isRegex"] == true { "~" } else { "" };
            format!(
                "{}{equal}{regex}{}",
                matcher["name"].as_str().unwrap_or("?"),
                matcher["value"].as_str().unwrap_or("?")
            )
        })
        .collect();
    spelled.sort();
    spelled
}

// ---------------------------------------------------------------------------------------------

/// A project directory whose `mac.toml` points at one Alertmanager.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(alertmanager: &Alertmanager, definitions: &str) -> Project {
        Project::at_url(&alertmanager.url(), definitions)
    }

    fn at_url(url: &str, definitions: &str) -> Project {
        let project = Project { dir: tempfile::tempdir().expect("tempdir") };
        std::fs::write(
            project.root().join("mac.toml"),
            format!("[providers.alertmanager_silences]\nurl = \"{url}\"\n"),
        )
        .expect("write mac.toml");
        project.define(definitions);
        project
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn define(&self, text: &str) {
        let directory = self.root().join("definitions");
        std::fs::create_dir_all(&directory).expect("mkdir definitions");
        std::fs::write(directory.join("maintenance.toml"), text).expect("write definitions");
    }

    fn mac(&self) -> assert_cmd::Command {
        let mut command = crate::mac();
        command.current_dir(self.root()).env_remove("MAC_ALERTMANAGER_SILENCES_URL");
        command
    }

    /// The silence id state records for a definition.
    fn remote_id(&self, local_id: &str) -> Value {
        let text = std::fs::read_to_string(self.root().join(".mac/state.json")).expect("state file");
        let state: Value = serde_json::from_str(&text).expect("state is JSON");
        state["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|entry| entry["kind"] == "silence" && entry["local_id"] == local_id)
            .map_or(Value::Null, |entry| entry["remote_id"].clone())
    }
}

/// Alertmanager on a free loopback port, clustering off, its data in a temporary directory;
/// killed and reaped on drop, before the directory is removed (fields drop in order).
struct Alertmanager {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// A running Alertmanager: a failure without the program, or `None` after a visible skip
    /// when the developer asked for one.
    fn start() -> Option<Alertmanager> {
        let binary = mac_test_tools::program(&mac_test_tools::ALERTMANAGER)?;
        let dir = tempfile::tempdir().expect("tempdir");
        // The smallest configuration Alertmanager accepts: one route to one receiver.
        std::fs::write(
            dir.path().join("alertmanager.yml"),
            "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n",
        )
        .expect("write alertmanager.yml");
        let port = free_port();
        let log = dir.path().join("alertmanager.log");
        let file = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", dir.path().join("alertmanager.yml").display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Empty: no cluster listener, no gossip with another Alertmanager on this machine.
            .arg("--cluster.listen-address=")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("the log file, twice"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|error| panic!("{} starts: {error}", binary.display()));
        let alertmanager = Alertmanager { child, port, log, _dir: dir };
        let started = Instant::now();
        while !request(port, "GET", "/-/ready").is_ok_and(|(status, _)| status == 200) {
            assert!(
                started.elapsed() < READY_WITHIN,
                "Alertmanager is not ready after {READY_WITHIN:?}\n{}",
                alertmanager.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(alertmanager)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- alertmanager (last lines) ---\n{}", lines[lines.len().saturating_sub(30)..].join("\n"))
    }

    /// Every silence, expired ones included, as the API v2 lists them.
    fn silences(&self) -> Vec<Value> {
        let (status, body) = request(self.port, "GET", "/api/v2/silences").expect("Alertmanager answers");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Vec<Value>>(&body).expect("a list of silences")
    }

    /// Silences (in any state) with a matcher on `name` equal to `value`.
    fn silences_matching(&self, name: &str, value: &str) -> Vec<Value> {
        self.silences()
            .into_iter()
            .filter(|silence| {
                silence["matchers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|matcher| matcher["name"] == name && matcher["value"] == value)
            })
            .collect()
    }

    /// The active or pending ones among them.
    fn active_matching(&self, name: &str, value: &str) -> Vec<Value> {
        self.silences_matching(name, value)
            .into_iter()
            .filter(|silence| silence["status"]["state"] != "expired")
            .collect()
    }

    fn silence(&self, id: &Value) -> Value {
        let id = id.as_str().expect("a silence id");
        let (status, body) = request(self.port, "GET", &format!("/api/v2/silence/{id}")).expect("Alertmanager answers");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("a silence")
    }

    /// What "Expire" in Alertmanager's UI does.
    fn expire(&self, id: &Value) {
        let id = id.as_str().expect("a silence id");
        let (status, body) =
            request(self.port, "DELETE", &format!("/api/v2/silence/{id}")).expect("Alertmanager answers");
        assert_eq!(status, 200, "{body}");
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        // Already exited is fine: the point is that it is gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("its address").port()
}

/// A plain HTTP/1.0 request without a body on loopback: (status, body).
fn request(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
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

#[test]
fn mac_init_writes_this_provider_s_starter_and_it_validates() {
    let directory = tempfile::tempdir().expect("tempdir");
    let mut init = crate::mac();
    init.current_dir(directory.path()).args(["init", "--provider", "alertmanager_silences"]);
    let (code, stdout, stderr) = run(&mut init);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("wrote definitions/alertmanager_silences.toml"), "{stdout}");
    let mut validate = crate::mac();
    validate.current_dir(directory.path()).env_remove("MAC_ALERTMANAGER_SILENCES_URL").arg("validate");
    let (code, stdout, stderr) = run(&mut validate);
    assert_eq!((code, stdout.as_str()), (0, "Valid: 1 object(s) for 1 provider instance(s).\n"), "{stderr}");
}
