//! `mac` end to end: the real binary, as a process, against the `testfs` provider whose
//! remote is a JSON file in the project directory. Human output is snapshot-tested.

mod alerting_e2e;
mod apply;
mod blocked_deletes;
#[cfg(all(unix, feature = "cortex"))]
mod cortex;
#[cfg(all(unix, feature = "cortex"))]
mod cortex_alerting;
mod destroy;
mod django;
mod fmt;
mod grafana8;
mod grafana8_access;
mod grafana8_am_parts;
mod grafana8_batches;
mod grafana8_checks;
mod grafana8_content;
mod grafana8_dashboards;
mod hostile;
mod init;
mod moved;
mod output;
mod ownership;
mod plan;
#[cfg(feature = "postgres")]
mod postgres_state;
#[cfg(unix)]
mod pre_commit;
mod project;
mod prometheus;
#[cfg(unix)]
mod pty;
mod readable_plans;
mod rule_tests;
mod safety;
mod saved_plans;
mod schema;
mod shell;
mod show;
mod state_commands;
mod team_state;
mod templates;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// A project directory: `mac.toml` configured for `testfs`, definitions under `definitions/`.
#[derive(Debug)]
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(definitions: &str) -> Project {
        let project = Project::empty();
        project.write("mac.toml", "[providers.testfs]\nfile = \"remote.json\"\n");
        project.define(definitions);
        project
    }

    pub fn empty() -> Project {
        Project { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.root().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    /// Replaces the definitions with `text` (one file).
    pub fn define(&self, text: &str) {
        self.write("definitions/main.toml", text);
    }

    /// `mac` in this project, with colours off and a fixed environment.
    pub fn mac(&self) -> Command {
        let mut command = Command::cargo_bin("mac").expect("the mac binary is built");
        command.current_dir(self.root()).env("NO_COLOR", "1").env_remove(mac_test_provider_crash_env());
        command
    }

    pub fn remote(&self) -> Value {
        let text = std::fs::read_to_string(self.root().join("remote.json")).unwrap_or_else(|_| "{}".to_owned());
        serde_json::from_str(&text).expect("remote file is JSON")
    }

    pub fn remote_count(&self, kind: &str) -> usize {
        self.remote().get(kind).and_then(Value::as_object).map_or(0, |objects| objects.len())
    }

    pub fn state_path(&self) -> PathBuf {
        self.root().join(".mac/state.json")
    }

    pub fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.state_path()).expect("state file");
        serde_json::from_str(&text).expect("state file is JSON")
    }
}

fn mac_test_provider_crash_env() -> &'static str {
    "MAC_TESTFS_CRASH_AFTER"
}

/// Runs a command, returning (exit code, stdout, stderr).
pub fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("mac runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Two folders, a group in each (shared with the other crates' tests).
pub use mac_test_provider::TWO_FOLDERS;
