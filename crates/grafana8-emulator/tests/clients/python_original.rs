//! The Python original, monitoring-as-code 0.0.2, through `python-original/drive.py`: create,
//! no change, update and delete of 2 folders × 3 alerts, each step checked through the API.

use crate::support::{Server, clients_dir, run, venv};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const FOLDERS: usize = 2;
const ALERTS: usize = 3;

/// One run of the driver: `mode` is `apply` (with `threshold`) or `delete`.
fn drive(venv: &Path, server: &Server, datasource: &str, state: &Path, mode: &str, threshold: f64) -> Value {
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.arg(clients_dir().join("python-original/drive.py"))
        .args(["--url", &server.url(), "--user", server.emu().admin_user(), "--password"])
        .arg(server.emu().admin_password())
        .args(["--datasource-uid", datasource, "--state"])
        .arg(state)
        .args(["--folders", &FOLDERS.to_string(), "--alerts", &ALERTS.to_string()])
        .args(["--threshold", &threshold.to_string(), "--mode", mode]);
    let out = run(cmd, Duration::from_secs(60));
    let line = out.stdout.lines().last().unwrap_or_default();
    let result: Value = serde_json::from_str(line).unwrap_or(Value::Null);
    assert!(
        out.success && result["ok"] == true,
        "drive.py --mode {mode} --threshold {threshold} failed\n{}",
        out.both()
    );
    result
}

/// The titles of the folders the driver made that exist now.
fn client_folders(server: &Server) -> Vec<String> {
    let list = server.get_ok("/api/folders");
    let mut titles: Vec<String> = list
        .as_array()
        .expect("a folder list")
        .iter()
        .filter_map(|f| f["title"].as_str())
        .filter(|t| t.starts_with("clients-folder-"))
        .map(str::to_string)
        .collect();
    titles.sort();
    titles
}

/// Every rule in the ruler as (namespace, group, rule title, threshold of its condition).
fn rules(server: &Server) -> Vec<(String, String, String, Value)> {
    let all = server.get_ok("/api/ruler/grafana/api/v1/rules");
    let mut out = Vec::new();
    for (namespace, groups) in all.as_object().expect("namespaces") {
        for group in groups.as_array().expect("groups") {
            for rule in group["rules"].as_array().expect("rules") {
                let alert = &rule["grafana_alert"];
                let condition = alert["data"]
                    .as_array()
                    .expect("queries")
                    .iter()
                    .find(|q| q["refId"] == alert["condition"])
                    .expect("the condition query");
                out.push((
                    namespace.clone(),
                    group["name"].as_str().unwrap_or_default().to_string(),
                    alert["title"].as_str().unwrap_or_default().to_string(),
                    condition["model"]["conditions"][0]["evaluator"]["params"][0].clone(),
                ));
            }
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

/// What the ruler must hold after an apply with `threshold`: one group per alert, named after
/// it, in the namespace of its folder's title.
fn expected_rules(threshold: f64) -> Vec<(String, String, String, Value)> {
    let mut out = Vec::new();
    for f in 0..FOLDERS {
        for a in 0..ALERTS {
            let title = format!("clients-alert-{f}-{a}");
            out.push((format!("clients-folder-{f}"), title.clone(), title, Value::from(threshold)));
        }
    }
    out
}

#[test]
fn python_original_creates_keeps_updates_and_deletes() {
    let Some(venv) = venv("python_original_creates_keeps_updates_and_deletes", "python-original") else {
        return;
    };
    let server = Server::start();
    let datasource = server.prometheus("prometheus");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = dir.path().join("state.json");
    let folders: Vec<String> = (0..FOLDERS).map(|f| format!("clients-folder-{f}")).collect();

    // Create: the folders and one rule group per alert exist.
    drive(&venv, &server, &datasource, &state, "apply", 0.5);
    assert_eq!(client_folders(&server), folders);
    assert_eq!(rules(&server), expected_rules(0.5));

    // No change: the original reads each object back (a folder GET, a group GET) and writes
    // nothing, which needs every query model to come back as it was sent.
    server.emu().reset_request_counts();
    let result = drive(&venv, &server, &datasource, &state, "apply", 0.5);
    assert_eq!(server.writes(), Vec::<String>::new(), "the no-change step wrote; it sent {}", result["requests"]);
    assert_eq!(server.emu().request_count("GET", "/api/folders/{uid}"), FOLDERS as u64);
    assert_eq!(
        server.emu().request_count("GET", "/api/ruler/grafana/api/v1/rules/{Namespace}/{Groupname}"),
        (FOLDERS * ALERTS) as u64
    );

    // Update: every group is re-posted, with the new threshold.
    server.emu().reset_request_counts();
    drive(&venv, &server, &datasource, &state, "apply", 0.75);
    assert_eq!(
        server.emu().request_count("POST", "/api/ruler/grafana/api/v1/rules/{Namespace}"),
        (FOLDERS * ALERTS) as u64
    );
    assert_eq!(rules(&server), expected_rules(0.75));

    // Delete: the groups, then the folders.
    drive(&venv, &server, &datasource, &state, "delete", 0.75);
    assert_eq!(rules(&server), Vec::new());
    assert_eq!(client_folders(&server), Vec::<String>::new());
}
