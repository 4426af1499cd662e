//! A pseudo-terminal for what `mac` does only on a terminal (confirmation prompts), and the
//! tests of those prompts: `mac apply`, `mac destroy` and `mac state unlock`.
//!
//! To test another prompt (a typed confirmation, say):
//!
//! ```text
//! let mut terminal = Terminal::start(mac_command(project.root()).args(["destroy"]));
//! terminal.expect("Type the project's name to destroy everything: ");
//! terminal.answer("payments");
//! let (code, transcript) = terminal.finish();
//! assert_snapshot!(transcript, @"…");
//! ```

use std::path::Path;
use std::process::Command;

use insta::assert_snapshot;
use rexpect::process::WaitStatus;
use rexpect::session::PtySession;

use crate::grafana8::{Grafana, PAYMENTS_FOLDER};
use crate::{Project, TWO_FOLDERS};

/// How long to wait for expected output or for the process to end before failing the test.
const TIMEOUT_MS: u64 = 30_000;

/// The `mac` binary, to run in `root` on a [`Terminal`]: as `Project::mac`, but a plain
/// `std::process::Command`, and without `NO_COLOR` (a terminal gets colours; the transcript
/// drops them). Add arguments and environment as for any `Command`.
pub fn mac_command(root: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("mac"));
    command
        .current_dir(root)
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("MAC_LOG")
        .env_remove("MAC_TESTFS_CRASH_AFTER");
    command
}

/// A process whose standard input, output and error are one pseudo-terminal, as in a person's
/// shell, so that `IsTerminal` holds and mac asks its questions.
///
/// [`Terminal::expect`] waits for a prompt, [`Terminal::answer`] types a line, and
/// [`Terminal::finish`] waits for the exit and returns the status and the transcript: what
/// the person saw, ANSI codes stripped, `\r\n` as `\n`, the typed lines included (the terminal
/// does not echo them, so the transcript adds them where they were typed). Output that never
/// comes fails the test after 30 s with the transcript so far.
pub struct Terminal {
    session: PtySession,
    transcript: String,
}

impl Terminal {
    /// Starts `command` on a new pseudo-terminal. Takes it by `&mut` so that a built
    /// `mac_command(root).args([…])` can be passed as it is; `command` is left empty.
    pub fn start(command: &mut Command) -> Terminal {
        let command = std::mem::replace(command, Command::new("true"));
        let session = rexpect::session::spawn_command(command, Some(TIMEOUT_MS)).expect("the command starts on a pty");
        Terminal { session, transcript: String::new() }
    }

    /// Waits until `text` appears in the output (after what earlier calls consumed).
    pub fn expect(&mut self, text: &str) {
        match self.session.exp_string(text) {
            Ok(before) => {
                self.transcript.push_str(&before);
                self.transcript.push_str(text);
            }
            Err(err) => panic!("waiting for {text:?}: {err}\ntranscript so far:\n{}", clean(&self.transcript)),
        }
    }

    /// Types `line` and Enter.
    pub fn answer(&mut self, line: &str) {
        self.session.send_line(line).expect("typing on the pty");
        self.transcript.push_str(line);
        self.transcript.push('\n');
    }

    /// Waits for the process to end: its exit code (128 + N for signal N) and the transcript.
    pub fn finish(mut self) -> (i32, String) {
        match self.session.exp_eof() {
            Ok(rest) => self.transcript.push_str(&rest),
            Err(err) => panic!("waiting for the end: {err}\ntranscript so far:\n{}", clean(&self.transcript)),
        }
        let code = match self.session.process().wait().expect("waiting for the process") {
            WaitStatus::Exited(_, code) => code,
            WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
            other => panic!("the process did not end: {other:?}"),
        };
        (code, clean(&self.transcript))
    }
}

/// `raw` without ANSI escape codes, with `\n` line ends.
fn clean(raw: &str) -> String {
    anstream::adapter::strip_str(raw).to_string().replace("\r\n", "\n")
}

/// `mac apply` on a terminal, in the emulator's project, answering `answer`.
fn apply_answering(grafana: &Grafana, answer: &str) -> (i32, String) {
    let mut command = mac_command(grafana.project.root());
    command
        .arg("apply")
        .env("GRAFANA_TOKEN", &grafana.key)
        .env_remove("MAC_GRAFANA8_URL")
        .env_remove("MAC_GRAFANA8_TOKEN");
    let mut terminal = Terminal::start(&mut command);
    terminal.expect("Only `yes` is accepted: ");
    terminal.answer(answer);
    terminal.finish()
}

fn folder_titles(grafana: &Grafana) -> Vec<String> {
    let folders = grafana.api(reqwest::Method::GET, "/api/folders", None);
    let folders = folders.as_array().expect("a list of folders");
    folders.iter().filter_map(|folder| folder["title"].as_str().map(str::to_owned)).collect()
}

#[test]
fn apply_on_a_terminal_asks_and_applies_after_yes() {
    let grafana = Grafana::start(PAYMENTS_FOLDER);
    let (code, transcript) = apply_answering(&grafana, "yes");
    assert_eq!(code, 0, "{transcript}");
    assert_snapshot!(transcript, @r#"
    + create grafana8/folder.payments
        title = "Payments"

    Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged.

    Apply these changes? Only `yes` is accepted: yes
    create grafana8/folder.payments: done
    Apply complete: 1 created, 0 updated, 0 deleted, 0 failed, 0 skipped.
    "#);
    assert_eq!(folder_titles(&grafana), ["Payments"]);
}

#[test]
fn apply_on_a_terminal_changes_nothing_after_no() {
    let grafana = Grafana::start(PAYMENTS_FOLDER);
    let (code, transcript) = apply_answering(&grafana, "no");
    assert_eq!(code, 1, "{transcript}");
    assert_snapshot!(transcript, @r#"
    + create grafana8/folder.payments
        title = "Payments"

    Plan: 1 to create, 0 to update, 0 to delete, 0 unchanged.

    Apply these changes? Only `yes` is accepted: no
    Apply cancelled; nothing was changed.
    "#);
    assert!(folder_titles(&grafana).is_empty());
    assert!(!grafana.project.state_path().exists(), "nothing recorded");
}

#[test]
fn unlock_on_a_terminal_asks_for_the_holders_pid() {
    let project = Project::new(TWO_FOLDERS);
    let store = mac_core::FileStateStore::new(project.state_path());
    let held = mac_core::StateStore::lock(&store, std::time::Duration::ZERO).expect("lock");
    let pid = std::process::id().to_string();
    let unlock = || {
        let mut terminal = Terminal::start(mac_command(project.root()).args(["state", "unlock"]));
        terminal.expect(&format!("Type the holder's pid ({pid}) to break its lock: "));
        terminal
    };
    // The holder is this test process: its pid, user, host and command line vary.
    let redact = |transcript: &str| {
        let shown = between(&transcript.replace(&pid, "[pid]"), " is locked by ", ").\n", "[holder]");
        between(&shown, "stop pid [pid] on ", " instead", "[owner]")
    };

    // A wrong pid: nothing is broken.
    let mut terminal = unlock();
    terminal.answer("1");
    let (code, transcript) = terminal.finish();
    assert_eq!(code, 1, "{transcript}");
    assert_snapshot!(redact(&transcript), @"
    ./.mac/state.json is locked by [holder]).
    Breaking the lock lets another run start while that one may still be writing: its saves of state fail from then on, so what it changes on the servers afterwards is not recorded (the next plan shows it, to adopt or undo). Do it only when that run is gone or hung.

    Type the holder's pid ([pid]) to break its lock: 1
    Unlock cancelled; the lock is still held.
    ");

    // The right pid: a file lock cannot be broken from outside; mac says whom to stop.
    let mut terminal = unlock();
    terminal.answer(&pid);
    let (code, transcript) = terminal.finish();
    assert_eq!(code, 1, "{transcript}");
    assert_snapshot!(redact(&transcript), @"
    ./.mac/state.json is locked by [holder]).
    Breaking the lock lets another run start while that one may still be writing: its saves of state fail from then on, so what it changes on the servers afterwards is not recorded (the next plan shows it, to adopt or undo). Do it only when that run is gone or hung.

    Type the holder's pid ([pid]) to break its lock: [pid]
    error: a file lock is held by a running process and released by the operating system when it exits: stop pid [pid] on [owner] instead
    ");
    drop(held);
}

/// `text` with what lies between the first `start` and the next `end` replaced by `with`.
fn between(text: &str, start: &str, end: &str, with: &str) -> String {
    let Some(from) = text.find(start).map(|at| at + start.len()) else { return text.to_owned() };
    let Some(to) = text[from..].find(end).map(|at| from + at) else { return text.to_owned() };
    format!("{}{with}{}", &text[..from], &text[to..])
}

/// `mac destroy` on a terminal, in the emulator's project, answering `answer`.
fn destroy_answering(grafana: &Grafana, answer: &str) -> (i32, String) {
    let mut command = mac_command(grafana.project.root());
    command
        .args(["destroy", "--allow-mass-delete"])
        .env("GRAFANA_TOKEN", &grafana.key)
        .env_remove("MAC_GRAFANA8_URL")
        .env_remove("MAC_GRAFANA8_TOKEN");
    let mut terminal = Terminal::start(&mut command);
    terminal.expect("Type `grafana8` to confirm: ");
    terminal.answer(answer);
    terminal.finish()
}

#[test]
fn destroy_on_a_terminal_wants_the_instance_s_name_typed() {
    let grafana = Grafana::start(PAYMENTS_FOLDER);
    let (code, stdout, stderr) = crate::run(grafana.mac().args(["apply", "--auto-approve"]));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // `yes` is not the name: nothing is deleted.
    let (code, transcript) = destroy_answering(&grafana, "yes");
    assert_eq!(code, 1, "{transcript}");
    assert_snapshot!(transcript, @r#"
    - delete grafana8/folder.payments (folder "Payments", uid "mac-payments")

    Plan: 0 to create, 0 to update, 1 to delete, 0 unchanged.

    This deletes 1 object(s) from the servers. Type `grafana8` to confirm: yes
    Destroy cancelled; nothing was deleted.
    "#);
    assert_eq!(folder_titles(&grafana), ["Payments"]);

    let (code, transcript) = destroy_answering(&grafana, "grafana8");
    assert_eq!(code, 0, "{transcript}");
    assert!(
        transcript.ends_with("Apply complete: 0 created, 0 updated, 1 deleted, 0 failed, 0 skipped.\n"),
        "{transcript}"
    );
    assert!(folder_titles(&grafana).is_empty());
}
