//! Ansible's community.grafana 2.3.0 (PyPI `ansible==12.3.0`) through the playbooks in
//! `ansible/`.
//!
//! # The playbook convention
//!
//! Every `ansible/*.yml` follows it and is run by [`playbooks_converge_and_clean_up`], whoever
//! wrote it, unless it is named in [`OUTSIDE_THE_CONVENTION`]; any other file there (a playbook
//! that drifts from the convention, a `.yaml` name) fails that test. The convention: a single play with `hosts: localhost`, `connection: local` and
//! `gather_facts: false`, taking its variables by `-e`: `grafana_url`, `grafana_user` and
//! `grafana_password` (a server admin) and `state` (`present` or `absent`), which it uses as
//! `{{ state }}`. The test gives each playbook a fresh emulator and runs it with `state=present`
//! twice (the second run must report `changed=0` in the PLAY RECAP: the modules' own check of
//! what they read back), then with `state=absent` twice (again `changed=0` the second time).
//! Every run must exit 0 with no failed, unreachable, ignored or rescued task. After each run
//! the test checks through the API what the playbook made (after `present`) or that it is gone
//! (after `absent`), and that the listings differ from before the playbook (after `present`) or
//! are back as they were (after `absent`), leaving out the fields that move with the clock
//! ([`CLOCK_FIELDS`]). What each playbook must make is in [`expectations`]; a playbook it does
//! not name (none of ours) is held to the listings alone.
//!
//! # Modules and what covers them
//!
//! * `grafana_folder`: `folders.yml`, and in `dashboards.yml`.
//! * `grafana_dashboard` (module and lookup): `dashboards.yml`.
//! * `grafana_datasource`: `datasources.yml`.
//! * `grafana_notification_channel`: `notification_channels.yml`.
//! * `grafana_silence`: `silences.yml`. Grafana 8.5.4 cannot delete a silence, only expire it
//!   (pkg/services/ngalert/notifier/silences.go `DeleteSilence` -> the vendored Alertmanager's
//!   `Silences.Expire`), and an expired silence stays listed until five days after its end
//!   (notifier/alertmanager.go `retentionNotificationsAndSilences`). So the silences listing is
//!   compared before and after without its expired silences, and [`Expect::Expired`] checks
//!   that what `absent` removed is still listed, expired.
//! * `grafana_team`, `grafana_user`, `grafana_organization`, `grafana_organization_user`:
//!   `accounts.yml`: an org, two users (one a server admin) with their roles in it and in
//!   Main Org., and a team of Main Org. with both as members.
//!
//! The `grafana_annotations` callback, which posts an annotation when a playbook starts, one
//! for each failed task and a region when it ends, is run on `annotations_callback.yml`
//! (outside the convention; [`the_annotations_callback_posts_its_events`]).
//!
//! Calls Grafana 8.5.4 cannot serve fail as they do against it, in `unsupported_in_8_5.yml`
//! (outside the convention; [`modules_grafana_8_5_cannot_serve_fail_as_against_it`]). They are
//! no coverage of the emulator beyond that failure:
//!
//! * `grafana_contact_point`: every call needs `/api/v1/provisioning/contact-points`, the
//!   alerting provisioning API of Grafana 9+; 8.5.4 routes it nowhere (pkg/api/api.go and the
//!   ngalert generated routes at v8.5.4), so it answers the 404 `{"message":"Not found"}` of
//!   pkg/api/index.go `NotFoundHandler`.
//! * `grafana_folder` with `parent_uid` and `grafana_dashboard` with `parent_folder`: nested
//!   folders are Grafana 11's; the modules refuse from the version the server reports.
//!
//! Not covered:
//!
//! * `grafana_plugin`: it runs `grafana-cli` on the Grafana host; not applicable.

use crate::support::{Server, clients_dir, run, venv};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The playbooks this target's own work wrote; each must be found and follow the convention.
const OURS: &[&str] = &["accounts", "folders", "dashboards", "datasources", "notification_channels", "silences"];

/// What `ansible/` may hold besides the convention's playbooks; anything else there fails
/// [`playbooks_converge_and_clean_up`], so that a playbook that drifts from the convention
/// (`gather_facts: no`, a `.yaml` name, …) cannot silently go unrun.
const OUTSIDE_THE_CONVENTION: &[&str] = &[
    "unsupported_in_8_5.yml",   // modules_grafana_8_5_cannot_serve_fail_as_against_it
    "annotations_callback.yml", // the_annotations_callback_posts_its_events
    "ansible.cfg",
    "requirements.txt",
    "files", // the dashboards' JSON, for dashboards.yml
];

/// Grafana's own Alertmanager's silences.
const SILENCES: &str = "/api/alertmanager/grafana/api/v2/silences";

/// The listings compared before and after each playbook.
const LISTINGS: &[&str] = &[
    "/api/folders",
    "/api/search",
    "/api/datasources",
    "/api/alert-notifications",
    "/api/teams/search",
    "/api/org/users",
    "/api/orgs",
    "/api/users",
    SILENCES,
];

/// The fields of each listing's elements that move with the clock (checked against every
/// listing's answers from the emulator): Grafana updates `lastSeenAt` as a user makes requests,
/// and `lastSeenAtAge` ("< 1 minute", "1 minute", …) moves on with time alone; `created`,
/// `updated` and `updatedAt` are when a write happened. They are left out of the comparison,
/// so that neither "absent restores the listings" nor "present changes a listing" depends on
/// how long a run took. A silence's `startsAt` and `endsAt` are the playbook's own.
const CLOCK_FIELDS: &[(&str, &[&str])] = &[
    ("/api/org/users", &["lastSeenAt", "lastSeenAtAge"]),
    ("/api/users", &["lastSeenAt", "lastSeenAtAge"]),
    ("/api/alert-notifications", &["created", "updated"]),
    (SILENCES, &["updatedAt"]),
];

/// Whether a listing element's field looks like a time (a name that ends in `At`, `Age` or
/// `Time`, or `created`, `updated`, `expires`), for the check that [`CLOCK_FIELDS`] misses none.
fn looks_like_time(path: &str, field: &str) -> bool {
    let own = path == SILENCES && ["startsAt", "endsAt"].contains(&field);
    !own && (["At", "Age", "Time"].iter().any(|end| field.ends_with(end))
        || ["created", "updated", "expires", "time", "timeEnd"].contains(&field))
}

/// What a playbook must have made after each `state=present` run, checked through the API.
enum Expect {
    /// `GET path` answers 200 with a body containing `subset`; after `absent`, 404.
    Object(&'static str, Value),
    /// `GET path` lists an element containing `subset`; after `absent`, none.
    Listed(&'static str, Value),
    /// `GET path` lists an element containing `subset` and `while_present`; after `absent`,
    /// elements containing `subset` are still listed, and every one is expired (a silence).
    Expired { path: &'static str, subset: Value, while_present: Value },
}

fn expectations(playbook: &str) -> Option<Vec<Expect>> {
    use Expect::{Expired, Listed, Object};
    Some(match playbook {
        "folders" => vec![
            Object("/api/folders/clients-folder-a", json!({"uid": "clients-folder-a", "title": "Clients Folder A"})),
            Listed("/api/folders", json!({"title": "Clients Folder B"})),
        ],
        "dashboards" => vec![
            Object("/api/folders/clients-dash-folder", json!({"title": "Clients Dashboards"})),
            Object(
                "/api/dashboards/uid/clients-dash-general",
                json!({"meta": {"folderId": 0}, "dashboard": {
                    "uid": "clients-dash-general", "title": "Clients General Dashboard",
                    "tags": ["clients", "ansible"], "refresh": "30s",
                    "panels": [{"title": "Requests", "targets": [{"expr": "sum(rate(http_requests_total[5m]))"}]}]}}),
            ),
            Object(
                "/api/dashboards/uid/clients-dash-in-folder",
                json!({"meta": {"folderUid": "clients-dash-folder", "folderTitle": "Clients Dashboards"},
                       "dashboard": {"title": "Clients Folder Dashboard", "panels": [{"title": "Up"}, {"title": "Notes"}]}}),
            ),
        ],
        "datasources" => vec![
            Object(
                "/api/datasources/uid/clients-prometheus",
                json!({"name": "clients-prometheus", "type": "prometheus", "url": "http://127.0.0.1:9090",
                       "access": "proxy", "isDefault": true, "basicAuth": true, "basicAuthUser": "scraper",
                       "jsonData": {"timeInterval": "30s", "tlsAuth": false}, "secureJsonFields": {"basicAuthPassword": true}}),
            ),
            Object("/api/datasources/name/clients-loki", json!({"type": "loki", "jsonData": {"maxLines": 1000}})),
            Object(
                "/api/datasources/name/clients-elasticsearch",
                json!({"type": "elasticsearch", "database": "[logs-]YYYY.MM.DD", "jsonData": {
                    "esVersion": "7.10.0", "timeField": "@timestamp", "interval": "Daily", "maxConcurrentShardRequests": 256}}),
            ),
            Object(
                "/api/datasources/name/clients-postgres",
                json!({"type": "postgres", "url": "127.0.0.1:5432", "database": "metrics", "user": "grafana",
                       "jsonData": {"sslmode": "require"}, "secureJsonFields": {"password": true}}),
            ),
            Object("/api/datasources/name/clients-influxdb", json!({"type": "influxdb", "database": "telegraf"})),
            Object(
                "/api/datasources/uid/clients-alertmanager",
                json!({"type": "alertmanager", "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": false}}),
            ),
        ],
        "notification_channels" => vec![
            Object(
                "/api/alert-notifications/uid/clients-email",
                json!({"name": "clients-email", "type": "email", "sendReminder": true, "frequency": "2h",
                       "settings": {"addresses": "ops@example.com;oncall@example.com", "singleEmail": true}}),
            ),
            Object(
                "/api/alert-notifications/uid/clients-webhook",
                json!({"type": "webhook", "isDefault": true, "disableResolveMessage": true,
                       "settings": {"url": "http://127.0.0.1:8080/hook", "username": "hook"}}),
            ),
            Object(
                "/api/alert-notifications/uid/clients-slack",
                json!({"type": "slack", "settings": {"recipient": "#alerts", "mentionUsers": "U1,U2", "uploadImage": true}}),
            ),
            Object(
                "/api/alert-notifications/uid/clients-pagerduty",
                json!({"type": "pagerduty", "settings": {"autoResolve": true}}),
            ),
            Object(
                "/api/alert-notifications/uid/clients-alertmanager",
                json!({"type": "prometheus-alertmanager", "settings": {"url": "http://127.0.0.1:9093", "basicAuthUser": "am"}}),
            ),
            Object("/api/alert-notifications/uid/clients-teams", json!({"type": "teams"})),
        ],
        "silences" => vec![
            Expired {
                path: SILENCES,
                subset: json!({"comment": "clients maintenance window", "createdBy": "clients-test",
                               "matchers": [{"name": "instance", "value": "db-1:9100", "isEqual": true, "isRegex": false}]}),
                while_present: json!({"status": {"state": "pending"}, "startsAt": "2099-07-29T08:45:45.000Z",
                                      "endsAt": "2099-07-29T10:45:45.000Z"}),
            },
            Expired {
                path: SILENCES,
                subset: json!({"comment": "clients quiet environments", "createdBy": "clients-test",
                               "matchers": [{"name": "environment", "value": "staging|dev", "isEqual": true, "isRegex": true},
                                            {"name": "alertname", "value": "Watchdog", "isEqual": false, "isRegex": false}]}),
                while_present: json!({"status": {"state": "pending"}, "startsAt": "2099-08-01T00:00:00.000Z",
                                      "endsAt": "2099-09-01T00:00:00.000Z"}),
            },
        ],
        // On the playbook's fresh emulator the new org is org 2 and the team is team 1; the
        // Object checks of both tie those ids to the playbook's names.
        "accounts" => vec![
            Object("/api/orgs/name/clients-accounts-org", json!({"id": 2, "name": "clients-accounts-org"})),
            Object(
                "/api/users/lookup?loginOrEmail=clients-alice",
                json!({"login": "clients-alice", "email": "clients-alice@example.com", "name": "Clients Alice",
                       "isGrafanaAdmin": false}),
            ),
            Object(
                "/api/users/lookup?loginOrEmail=clients-bob",
                json!({"login": "clients-bob", "email": "clients-bob@example.com", "name": "Clients Bob",
                       "isGrafanaAdmin": true}),
            ),
            Listed("/api/orgs/2/users", json!({"login": "clients-alice", "role": "Admin"})),
            Listed("/api/orgs/2/users", json!({"login": "clients-bob", "role": "Editor"})),
            // Main Org.: users join it as Viewers; the playbook makes Bob an Editor.
            Listed("/api/orgs/1/users", json!({"login": "clients-alice", "role": "Viewer"})),
            Listed("/api/orgs/1/users", json!({"login": "clients-bob", "role": "Editor"})),
            Object(
                "/api/teams/1",
                json!({"orgId": 1, "name": "clients-accounts-team", "email": "clients-team@example.com", "memberCount": 2}),
            ),
            Listed("/api/teams/1/members", json!({"login": "clients-alice", "email": "clients-alice@example.com"})),
            Listed("/api/teams/1/members", json!({"login": "clients-bob", "email": "clients-bob@example.com"})),
        ],
        _ => return None,
    })
}

/// Whether `listing` holds an element containing `subset` (and `also`).
fn lists(listing: &Value, subset: &Value, also: &Value) -> bool {
    listing.as_array().is_some_and(|l| l.iter().any(|x| contains(x, subset) && contains(x, also)))
}

/// Whether `actual` has every key of `subset` with a containing value (arrays: same length,
/// element by element).
fn contains(actual: &Value, subset: &Value) -> bool {
    match (actual, subset) {
        (Value::Object(a), Value::Object(s)) => s.iter().all(|(k, v)| a.get(k).is_some_and(|x| contains(x, v))),
        (Value::Array(a), Value::Array(s)) => a.len() == s.len() && a.iter().zip(s).all(|(x, v)| contains(x, v)),
        _ => actual == subset,
    }
}

/// Whether a playbook follows the convention (see the module docs).
fn follows_convention(text: &str) -> bool {
    // A key may open the play's list item (`- hosts: localhost`).
    let lines: Vec<&str> = text.lines().map(|l| l.trim().trim_start_matches("- ").trim()).collect();
    ["hosts: localhost", "connection: local", "gather_facts: false"].iter().all(|l| lines.contains(l))
        && ["{{state}}", "{{state|"].iter().any(|use_| text.replace(' ', "").contains(use_))
}

/// The playbooks under the convention in `dir` (`ansible/`), by name; an error naming every
/// other entry not in [`OUTSIDE_THE_CONVENTION`].
fn playbooks_in(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut found = Vec::new();
    let mut strays = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if OUTSIDE_THE_CONVENTION.contains(&file.as_str()) {
            continue;
        }
        match file.strip_suffix(".yml") {
            Some(name) if follows_convention(&std::fs::read_to_string(&path).unwrap_or_default()) => {
                found.push((name.to_string(), path));
            }
            Some(_) => strays.push(format!("{file} (breaks the convention)")),
            None => strays.push(format!("{file} (not a .yml playbook, nor in OUTSIDE_THE_CONVENTION)")),
        }
    }
    if !strays.is_empty() {
        strays.sort();
        return Err(format!(
            "{}: each file must follow the playbook convention (see the module docs) or be in \
             OUTSIDE_THE_CONVENTION: {}",
            dir.display(),
            strays.join(", ")
        ));
    }
    found.sort();
    Ok(found)
}

#[test]
fn a_playbook_that_drifts_from_the_convention_fails() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let good = "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - debug: {msg: \"{{ state }}\"}\n";
    let write = |file: &str, text: &str| std::fs::write(dir.path().join(file), text).expect("written");
    write("good.yml", good);
    write("ansible.cfg", "[defaults]\n");
    assert_eq!(playbooks_in(dir.path()).map(|found| found.len()), Ok(1));
    write("facts.yml", &good.replace("gather_facts: false", "gather_facts: no"));
    write("quoted.yml", &good.replace("hosts: localhost", "hosts: \"localhost\""));
    write("long.yaml", good);
    let err = playbooks_in(dir.path()).expect_err("the strays are refused");
    for stray in ["facts.yml (breaks", "quoted.yml (breaks", "long.yaml (not a .yml"] {
        assert!(err.contains(stray), "{stray}: {err}");
    }
}

/// The counts of a PLAY RECAP line (`ok=3 changed=0 …`), and whether `ansible-playbook`
/// exited 0.
#[derive(Debug)]
struct Recap {
    changed: u64,
    failed: u64,
    unreachable: u64,
    ignored: u64,
    rescued: u64,
    exit_ok: bool,
}

fn recap(stdout: &str) -> Option<Recap> {
    let line = stdout.lines().skip_while(|l| !l.starts_with("PLAY RECAP")).find(|l| l.starts_with("localhost"))?;
    let count = |key: &str| {
        line.split_whitespace()
            .find_map(|t| t.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .and_then(|v| v.parse().ok())
    };
    Some(Recap {
        changed: count("changed")?,
        failed: count("failed")?,
        unreachable: count("unreachable")?,
        ignored: count("ignored")?,
        rescued: count("rescued")?,
        exit_ok: false,
    })
}

/// Runs `ansible-playbook` from the venv with the convention's variables, isolated from the
/// user's Ansible settings, and returns its output and PLAY RECAP.
fn ansible_playbook(
    venv: &Path,
    playbook: &Path,
    server: &Server,
    state: Option<&str>,
    env: &[(&str, String)],
) -> Result<(String, Recap), String> {
    let home = tempfile::tempdir().expect("a temporary directory");
    let mut vars = json!({"grafana_url": server.url(), "grafana_user": server.emu().admin_user(),
                          "grafana_password": server.emu().admin_password()});
    if let Some(state) = state {
        vars["state"] = json!(state);
    }
    let mut cmd = Command::new(venv.join("bin/ansible-playbook"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ANSIBLE_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("ANSIBLE_CONFIG", clients_dir().join("ansible/ansible.cfg"))
        .env("ANSIBLE_HOME", home.path())
        .env("ANSIBLE_LOCAL_TEMP", home.path().join("tmp"))
        // The "remote" side of the local connection (else ~/.ansible/tmp).
        .env("ANSIBLE_REMOTE_TMP", home.path().join("remote-tmp"))
        .env("ANSIBLE_COLLECTIONS_PATH", home.path().join("collections"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_PYTHON_INTERPRETER", venv.join("bin/python"))
        // Ansible refuses to start unless the locale's encoding is UTF-8.
        .env("LC_ALL", "C.UTF-8")
        .env("LANG", "C.UTF-8")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["-i", "localhost,", "-e", &vars.to_string()])
        .arg(playbook);
    let out = run(cmd, Duration::from_secs(120));
    let shown = format!("{} with state={state:?}\n{}", playbook.display(), out.both());
    let Some(mut recap) = recap(&out.stdout) else { return Err(format!("no PLAY RECAP from {shown}")) };
    recap.exit_ok = out.success;
    Ok((shown, recap))
}

/// The listings, each as (path, status, body), without the fields that move with the clock
/// ([`CLOCK_FIELDS`]); the silences listing without its expired silences, which Grafana 8.5.4
/// keeps (see the module docs). A time-like field left in is an error.
fn listings(server: &Server) -> Result<Vec<(&'static str, u16, Value)>, String> {
    let mut out = Vec::new();
    for path in LISTINGS {
        let (status, mut body) = server.get(path);
        let clock = CLOCK_FIELDS.iter().find(|(p, _)| p == path).map_or(&[][..], |(_, fields)| fields);
        // A listing is an array, or (teams) an object with one.
        let list = match &mut body {
            Value::Object(o) => o.values_mut().find(|v| v.is_array()),
            other => Some(other),
        };
        if let Some(Value::Array(list)) = list {
            if *path == SILENCES {
                list.retain(|s| s["status"]["state"] != "expired");
            }
            for element in list.iter_mut().filter_map(Value::as_object_mut) {
                element.retain(|k, _| !clock.contains(&k.as_str()));
                if let Some(k) = element.keys().find(|k| looks_like_time(path, k)) {
                    return Err(format!("GET {path}: the field {k} looks like a time and is not in CLOCK_FIELDS"));
                }
            }
        }
        out.push((*path, status, body));
    }
    Ok(out)
}

/// The guard in [`listings`] on a fresh emulator, without Ansible: its users listings carry the
/// admin's `lastSeenAt` and `lastSeenAtAge`, which must be left out.
#[test]
fn listings_leave_out_the_fields_that_move_with_the_clock() {
    let server = Server::start();
    let listed = listings(&server).unwrap_or_else(|e| panic!("{e}"));
    let users = listed.iter().find(|(path, ..)| *path == "/api/users").expect("the users listing");
    assert_eq!(users.2[0]["login"], "admin", "{users:?}");
    assert!(users.2[0].get("lastSeenAtAge").is_none(), "{users:?}");
}

/// Runs one playbook through present, present, absent, absent on a fresh emulator; the first
/// difference from what is expected, as a message.
fn converge(venv: &Path, name: &str, playbook: &Path) -> Result<(), String> {
    let server = Server::start();
    let before = listings(&server).map_err(|e| format!("{name}: {e}"))?;
    let expect = expectations(name);

    for (state, run) in [("present", 1), ("present", 2), ("absent", 1), ("absent", 2)] {
        let (shown, recap) = ansible_playbook(venv, playbook, &server, Some(state), &[])?;
        // A task that failed under `ignore_errors` (ignored) or into a `rescue` (rescued) is a
        // failure too: the convention's playbooks expect none.
        if recap.failed > 0 || recap.unreachable > 0 || recap.ignored > 0 || recap.rescued > 0 || !recap.exit_ok {
            return Err(format!("{name}: run {run} with state={state} failed: {recap:?}\n{shown}"));
        }
        if run == 2 && recap.changed != 0 {
            return Err(format!("{name}: the second run with state={state} changed {} things\n{shown}", recap.changed));
        }
        // After the second run too: some modules write on every run.
        for check in expect.iter().flatten() {
            let (path, subset) = match check {
                Expect::Object(path, subset) | Expect::Listed(path, subset) => (path, subset),
                Expect::Expired { path, subset, .. } => (path, subset),
            };
            let (status, body) = server.get(path);
            let (found, gone) = match check {
                Expect::Object(..) => (status == 200 && contains(&body, subset), status == 404),
                Expect::Listed(..) => {
                    let found = status == 200 && lists(&body, subset, &json!({}));
                    (found, !found)
                }
                Expect::Expired { while_present, .. } => {
                    let found = status == 200 && lists(&body, subset, while_present);
                    let expired = json!({"status": {"state": "expired"}});
                    let only_expired = body
                        .as_array()
                        .is_some_and(|l| l.iter().filter(|x| contains(x, subset)).all(|x| contains(x, &expired)));
                    (found, status == 200 && lists(&body, subset, &expired) && only_expired)
                }
            };
            match state {
                "present" if !found => {
                    return Err(format!(
                        "{name}: after run {run} with state=present, GET {path} ({status}) lacks {subset}: {body}"
                    ));
                }
                "absent" if !gone => {
                    return Err(format!(
                        "{name}: after run {run} with state=absent, GET {path} ({status}) still has it{}: {body}",
                        if matches!(check, Expect::Expired { .. }) { " (or not only expired)" } else { "" }
                    ));
                }
                _ => {}
            }
        }
        let now = listings(&server).map_err(|e| format!("{name}: {e}"))?;
        if state == "present" && now == before {
            return Err(format!("{name}: run {run} with state=present left every listing as it was"));
        }
        if state == "absent"
            && let Some((path, _, body)) = now.iter().zip(&before).find(|(a, b)| a != b).map(|(a, _)| a)
        {
            return Err(format!(
                "{name}: after run {run} with state=absent, GET {path} differs from before the playbook: {body}"
            ));
        }
    }
    Ok(())
}

#[test]
fn playbooks_converge_and_clean_up() {
    let Some(venv) = venv("playbooks_converge_and_clean_up", "ansible") else {
        return;
    };
    let playbooks = playbooks_in(&clients_dir().join("ansible")).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = playbooks.iter().map(|(name, _)| name.as_str()).collect();
    for ours in OURS {
        assert!(names.contains(ours), "{ours}.yml is missing from ansible/ or breaks the convention; found {names:?}");
    }
    // One emulator per playbook, all at once: most of a run is Ansible starting Python.
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = playbooks.iter().map(|(name, path)| scope.spawn(|| converge(&venv, name, path))).collect();
        runs.into_iter()
            .filter_map(|run| run.join().unwrap_or_else(|_| Err("a playbook run panicked".into())).err())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} playbooks: {names:?}\n\n{}",
        failures.len(),
        playbooks.len(),
        failures.join("\n\n")
    );
}

#[test]
fn modules_grafana_8_5_cannot_serve_fail_as_against_it() {
    let Some(venv) = venv("modules_grafana_8_5_cannot_serve_fail_as_against_it", "ansible") else {
        return;
    };
    let server = Server::start();
    let playbook = clients_dir().join("ansible/unsupported_in_8_5.yml");
    assert!(!follows_convention(&std::fs::read_to_string(&playbook).expect("the playbook")));
    let (shown, recap) = ansible_playbook(&venv, &playbook, &server, None, &[]).unwrap_or_else(|e| panic!("{e}"));
    // The three module calls fail (ignored); the assertion of their messages passes.
    assert_eq!(
        (recap.failed, recap.ignored, recap.rescued, recap.changed, recap.exit_ok),
        (0, 3, 0, 0, true),
        "{shown}"
    );
    // The route the contact point module needs is unknown to 8.5.4 (pkg/api/index.go
    // NotFoundHandler: `c.JsonApiErr(404, "Not found", nil)`).
    assert_eq!(server.get("/api/v1/provisioning/contact-points"), (404, json!({"message": "Not found"})));
    assert_eq!(server.emu().request_count("GET", "<unmatched>"), 2, "{:?}", server.emu().request_counts());
    assert_eq!(
        server.writes(),
        vec!["POST /api/user/using/{org_id}: 3".to_string()],
        "only reads and switching to org 1"
    );
}

#[test]
fn the_annotations_callback_posts_its_events() {
    let Some(venv) = venv("the_annotations_callback_posts_its_events", "ansible") else {
        return;
    };
    let server = Server::start();
    let playbook = clients_dir().join("ansible/annotations_callback.yml");
    assert!(!follows_convention(&std::fs::read_to_string(&playbook).expect("the playbook")));
    let env = [
        ("ANSIBLE_CALLBACKS_ENABLED", "community.grafana.grafana_annotations".to_string()),
        ("GRAFANA_URL", format!("{}/api/annotations", server.url())),
        ("GRAFANA_USER", server.emu().admin_user().to_string()),
        ("GRAFANA_PASSWORD", server.emu().admin_password().to_string()),
    ];
    let (shown, recap) = ansible_playbook(&venv, &playbook, &server, None, &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (recap.failed, recap.ignored, recap.rescued, recap.changed, recap.exit_ok),
        (0, 0, 0, 0, true),
        "{shown}"
    );
    assert!(!shown.contains("Could not submit message to Grafana"), "{shown}");
    assert_eq!(server.writes(), vec!["POST /api/annotations: 2".to_string()], "{shown}");
    // The start: an org annotation by the admin at the playbook's start time (seconds, in ms).
    let start = server.get_ok("/api/annotations?tags=ansible_event_start");
    let start = start.as_array().and_then(|l| l.first()).unwrap_or_else(|| panic!("no start annotation: {start}"));
    let text = start["text"].as_str().unwrap_or("");
    assert!(text.starts_with("Started playbook ") && text.contains("annotations_callback.yml"), "{start}");
    assert!(contains(start, &json!({"dashboardId": 0, "panelId": 0, "login": "admin"})), "{start}");
    assert_eq!(start["time"], start["timeEnd"]);
    assert_eq!(start["time"].as_i64().map(|t| t % 1000), Some(0), "{start}");
    let tags: Vec<&str> = start["tags"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert_eq!(tags[..2], ["ansible", "ansible_event_start"], "{start}");
    // The report: a region from the start to the end, with the recap.
    let report = server.get_ok("/api/annotations?tags=ansible_report");
    let report = report.as_array().and_then(|l| l.first()).unwrap_or_else(|| panic!("no report: {report}"));
    assert!(report["text"].as_str().is_some_and(|t| t.contains("Status: OK")), "{report}");
    assert_eq!(report["time"], start["time"]);
    assert!(report["timeEnd"].as_i64() >= report["time"].as_i64(), "{report}");
}
