//! `cargo xtask reliability [--trials N] [--kills N] [--seed S] [--state file|postgres]`: the
//! convergence proofs of issue 8, at scale, against the Grafana 8.5 emulator.
//!
//! * Fault trials: the emulator fails 20% of requests at random (500, 502, 429 with
//!   Retry-After, dropped connections) with random latency; `mac apply` is rerun until it
//!   succeeds, then the remote must hold exactly the definitions: nothing missing, nothing
//!   twice, and a re-plan must be empty.
//! * Kill trials: `mac apply` is killed with SIGKILL at a random moment; the state must still
//!   be readable and a rerun must converge to the same exact remote state.
//! * After each kill, the next `mac apply --lock-timeout 0s` must get the state lock at once:
//!   the lock dies with the killed process (the lock file's OS lock, or PostgreSQL's advisory
//!   lock with the killed process's session). A refusal is a stale lock, and fails the run.
//! * After each trial converges, the state must hold exactly its managed objects, and none
//!   after the trial's cleanup: as `mac state list` lists them and, with PostgreSQL, as rows
//!   of `mac.objects`.
//! * Saved-plan trials (issue 16), one after each fault trial converges: a rule group's code
//!   changes and `mac plan -o` saves the plan; then a person edits by hand either that group
//!   (a rule changed, or the group deleted: every other trial) or only another group. `mac
//!   apply FILE` must refuse every time an object it writes moved, never overwrite or undo a
//!   hand edit, and apply when only untouched objects were edited.
//!
//! `--state postgres` keeps the state in a throwaway PostgreSQL server started for the run
//! (mac-test-tools' `PostgresServer`), each trial in a database and project of its own;
//! `--state file`, the default, in the project's state file.
//!
//! Prints the figures: trials, faults mac saw, converged, objects lost, duplicates, stale
//! locks, failed state checks, saved plans refused and applied, hand edits overwritten.
//!
//! `cargo xtask ci` runs a small seeded set with `--debug` on the binaries its tests just
//! built (it builds with the tests phase's own `cargo test --workspace --all-features
//! --no-run`, so nothing is rebuilt: the extra `test-provider` feature only adds mac's fake
//! `testfs` provider, which the trials do not use), once with each state backend, so every
//! change is checked for convergence; the long runs use release builds.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::emulator::{Emulator, http, set_faults};
use crate::state::{Durability, PostgresState, StateBackend, postgres_config, set_state_url};
use crate::{project_root, run_command};

/// The test command of the tests phase (plus `--no-fail-fast`); reliability builds with it
/// (`--no-run`) so that it reuses the binaries the tests just ran.
pub(crate) const TEST_COMMAND: [&str; 3] = ["test", "--workspace", "--all-features"];

const FOLDERS: usize = 4;
const GROUPS: usize = 3;
const RULES: usize = 3;

/// A tiny deterministic generator (xorshift), so that a seed replays a run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

#[derive(Default)]
struct Figures {
    trials: usize,
    converged: usize,
    faults_seen: usize,
    reruns: usize,
    lost: usize,
    duplicates: usize,
    /// Kills after which the next apply was refused the lock.
    stale_locks: usize,
    /// Applies after a kill that noted the killed run's lock record (the lock itself free).
    lock_records_left: usize,
    /// Checks of the state's entries (after converging, after the cleanup) that failed.
    state_mismatches: usize,
}

/// Saved plans applied after a hand edit made since `mac plan -o`.
#[derive(Default)]
struct SavedPlanFigures {
    trials: usize,
    /// Trials whose edit hit the group the plan writes: each apply must refuse.
    written_edited: usize,
    refused: usize,
    /// Trials whose edit hit only a group the plan does not write: each apply must succeed.
    untouched_edited: usize,
    applied: usize,
    /// Hand edits that were gone after the saved plan's apply (must be none).
    overwritten: usize,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    run_built(args, false)
}

/// `run` from `cargo xtask ci`, after its tests phase: with `--debug`, the binaries are the
/// ones that phase built.
pub(crate) fn run_after_tests(args: &[String]) -> Result<(), String> {
    run_built(args, true)
}

fn run_built(args: &[String], after_tests: bool) -> Result<(), String> {
    let mut trials = 200;
    let mut kills = 100;
    let mut seed = 1;
    let mut profile = "release";
    let mut backend = StateBackend::File;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--debug" {
            profile = "debug";
            continue;
        }
        let value = args.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        if flag == "--state" {
            backend = StateBackend::parse_list(value, false)?[0];
            continue;
        }
        let number: u64 = value.parse().map_err(|_| format!("`{flag} {value}`: not a number"))?;
        match flag.as_str() {
            "--trials" => trials = number as usize,
            "--kills" => kills = number as usize,
            "--seed" => seed = number.max(1),
            other => {
                return Err(format!(
                    "unknown option `{other}` (--trials N, --kills N, --seed S, --state file|postgres, --debug)"
                ));
            }
        }
    }
    let root = project_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(&cargo);
    build.current_dir(&root);
    if after_tests && profile == "debug" {
        // The tests phase's build, checked up to date: its `mac` and `grafana8-emulator`.
        build.args(TEST_COMMAND).args(["--no-run", "--quiet"]);
    } else {
        build.args(["build", "--quiet", "--package", "mac-cli", "--package", "grafana8-emulator"]);
    }
    if profile == "release" {
        build.arg("--release");
    }
    run_command(&mut build)?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binary = |name: &str| target.join(profile).join(format!("{name}{}", std::env::consts::EXE_SUFFIX));

    // Started before the scratch directory exists, so that a server that cannot start
    // leaves nothing behind.
    let postgres = match backend {
        StateBackend::File => None,
        StateBackend::Postgres => Some(PostgresState::start(Durability::Throwaway)?),
    };
    let scratch = std::env::temp_dir().join(format!("mac-reliability-{}", std::process::id()));
    std::fs::create_dir_all(scratch.join("definitions")).map_err(|err| err.to_string())?;
    std::fs::write(scratch.join("seed.toml"), "[[datasources]]\nname = \"Prometheus\"\ntype = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\nuid = \"prom\"\n")
        .map_err(|err| err.to_string())?;
    let emulator = Emulator::start(&binary("grafana8-emulator"), &scratch.join("seed.toml"))?;
    let port = emulator.port;
    let harness = TrialHarness {
        mac: binary("mac"),
        scratch: scratch.clone(),
        provider_config: format!(
            "[providers.grafana8]\nurl = \"http://127.0.0.1:{port}\"\nbasic = {{ user = \"admin\", password = {{ env = \"GRAFANA_PASSWORD\" }} }}\n"
        ),
        postgres: postgres.as_ref(),
    };
    let result = run_trials(&harness, port, trials, kills, seed, backend);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn run_trials(
    harness: &TrialHarness<'_>,
    port: u16,
    trials: usize,
    kills: usize,
    seed: u64,
    backend: StateBackend,
) -> Result<(), String> {
    let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);

    let mut faults = Figures::default();
    let mut saved = SavedPlanFigures::default();
    for trial in 0..trials {
        let prefix = format!("t{trial}");
        let trial = harness.start_trial(&prefix)?;
        set_faults(
            port,
            &format!(
                r#"{{"seed":{},"latency":{{"kind":"uniform","min_ms":0,"max_ms":5}},"rules":[{{"fault":"status500","probability":0.05}},{{"fault":"status502","probability":0.05}},{{"fault":"status429","probability":0.05,"retry_after_secs":0}},{{"fault":"drop","probability":0.05}}]}}"#,
                random.next() % 1_000_000
            ),
        )?;
        faults.trials += 1;
        let mut converged = false;
        for _ in 0..30 {
            let output = trial.run(&["apply", "--auto-approve", "--log-level", "debug"])?;
            faults.faults_seen += count_faults(&output.1);
            faults.reruns += 1;
            if output.0 == Some(0) {
                converged = true;
                break;
            }
        }
        set_faults(port, r#"{"seed":0,"rules":[]}"#)?;
        let clean = trial.run(&["plan", "--detailed-exitcode"])?.0 == Some(0);
        let (lost, duplicates) = check_remote(port, &prefix)?;
        faults.lost += lost;
        faults.duplicates += duplicates;
        let state_exact = trial.state_holds(MANAGED_OBJECTS)?;
        faults.state_mismatches += usize::from(!state_exact);
        if converged && clean && lost == 0 && duplicates == 0 && state_exact {
            faults.converged += 1;
            saved_plan_trial(&trial, port, &prefix, saved.trials % 2 == 0, &mut random, &mut saved)?;
        }
        faults.state_mismatches += usize::from(!trial.finish()?);
    }

    let mut kill = Figures::default();
    for trial in 0..kills {
        let prefix = format!("k{trial}");
        let trial = harness.start_trial(&prefix)?;
        set_faults(port, r#"{"seed":1,"latency":{"kind":"uniform","min_ms":2,"max_ms":15},"rules":[]}"#)?;
        kill.trials += 1;
        let mut child = trial
            .command(&["apply", "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| err.to_string())?;
        std::thread::sleep(Duration::from_millis(20 + random.below(400)));
        let _ = child.kill();
        let _ = child.wait();
        let readable = trial.run(&["state", "list"])?.0 == Some(0);
        // The lock dies with the killed process (the lock file's OS lock; PostgreSQL's
        // advisory lock with its session): the next apply must get it without waiting.
        let (code, output) = trial.run(&["apply", "--auto-approve", "--lock-timeout", "0s"])?;
        kill.reruns += 1;
        let stale_lock = output.contains(LOCK_REFUSED);
        kill.stale_locks += usize::from(stale_lock);
        kill.lock_records_left += usize::from(output.contains(LOCK_RECORD_LEFT));
        let mut converged = code == Some(0);
        for _ in 1..5 {
            if converged {
                break;
            }
            kill.reruns += 1;
            converged = trial.run(&["apply", "--auto-approve"])?.0 == Some(0);
        }
        let clean = trial.run(&["plan", "--detailed-exitcode"])?.0 == Some(0);
        let (lost, duplicates) = check_remote(port, &prefix)?;
        kill.lost += lost;
        kill.duplicates += duplicates;
        let state_exact = trial.state_holds(MANAGED_OBJECTS)?;
        kill.state_mismatches += usize::from(!state_exact);
        if readable && !stale_lock && converged && clean && lost == 0 && duplicates == 0 && state_exact {
            kill.converged += 1;
        }
        kill.state_mismatches += usize::from(!trial.finish()?);
    }

    let where_state = match backend {
        StateBackend::File => "the state file",
        StateBackend::Postgres => "a throwaway PostgreSQL, a database per trial",
    };
    println!("state: {where_state}");
    println!(
        "fault trials: {} trials, {} faults seen by mac, {} runs, {} converged, {} objects lost, {} duplicates",
        faults.trials, faults.faults_seen, faults.reruns, faults.converged, faults.lost, faults.duplicates
    );
    println!(
        "kill trials: {} trials (SIGKILL at a random moment), {} reruns, {} converged, {} objects lost, {} duplicates",
        kill.trials, kill.reruns, kill.converged, kill.lost, kill.duplicates
    );
    println!(
        "stale locks: {} of {} kills (the next `mac apply --lock-timeout 0s` must get the lock at once); \
         {} killed runs had taken the lock and left its record, which the next apply noted",
        kill.stale_locks, kill.trials, kill.lock_records_left
    );
    println!(
        "state checks: {} failed (after converging, {} managed objects; after the cleanup, none: {})",
        faults.state_mismatches + kill.state_mismatches,
        MANAGED_OBJECTS,
        match backend {
            StateBackend::File => "entries of `mac state list`",
            StateBackend::Postgres => "entries of `mac state list` and rows of mac.objects",
        }
    );
    println!(
        "saved-plan trials: {} (a hand edit between `mac plan -o` and `mac apply FILE`): {} of {} plans whose group \
         was edited or deleted by hand refused, {} of {} plans with only other groups edited applied, {} hand edits \
         overwritten",
        saved.trials, saved.refused, saved.written_edited, saved.applied, saved.untouched_edited, saved.overwritten
    );
    if saved.refused != saved.written_edited || saved.applied != saved.untouched_edited || saved.overwritten > 0 {
        return Err("a saved plan overwrote or missed a hand edit, or refused an untouched one: see above".to_owned());
    }
    if kill.stale_locks > 0 {
        return Err(format!("{} stale lock(s): a killed apply's lock outlived it", kill.stale_locks));
    }
    if faults.state_mismatches + kill.state_mismatches > 0 {
        return Err("the state lost or kept objects: see the state checks above".to_owned());
    }
    if faults.converged == faults.trials && kill.converged == kill.trials {
        Ok(())
    } else {
        Err("some trials did not converge: see the figures above".to_owned())
    }
}

/// How many objects a trial's definitions manage: its folders and their alert groups (the
/// rules are part of their group's object).
const MANAGED_OBJECTS: usize = FOLDERS + FOLDERS * GROUPS;

/// What `mac apply` says when another process holds the state lock (`StateError::Locked`).
const LOCK_REFUSED: &str = "is locked by";

/// The note of a run that found the lock record of a run that died holding the lock.
const LOCK_RECORD_LEFT: &str = "ended without releasing its lock";

/// What every trial shares: the `mac` binary, the scratch project it runs in, the emulator's
/// provider settings and, with `--state postgres`, the server holding the state.
struct TrialHarness<'a> {
    mac: PathBuf,
    scratch: PathBuf,
    provider_config: String,
    postgres: Option<&'a PostgresState>,
}

impl TrialHarness<'_> {
    /// Writes the trial's definitions and mac.toml; with PostgreSQL, the trial's project
    /// (`trial-PREFIX`) gets a fresh database, so that no trial sees another's state.
    fn start_trial(&self, prefix: &str) -> Result<Trial<'_>, String> {
        write_definitions(&self.scratch, prefix)?;
        let (config, database, state_url) = match self.postgres {
            None => (self.provider_config.clone(), None, None),
            Some(postgres) => {
                let database = format!("trial_{prefix}");
                let url = postgres.create_database(&database)?;
                let config = format!("{}{}", postgres_config(&format!("trial-{prefix}")), self.provider_config);
                (config, Some(database), Some(url))
            }
        };
        std::fs::write(self.scratch.join("mac.toml"), config).map_err(|err| err.to_string())?;
        Ok(Trial { harness: self, database, state_url })
    }
}

/// One trial's project.
struct Trial<'a> {
    harness: &'a TrialHarness<'a>,
    /// With PostgreSQL: the trial's database and the URL mac connects to it with.
    database: Option<String>,
    state_url: Option<String>,
}

impl Trial<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.harness.mac);
        command.current_dir(&self.harness.scratch).args(args).env("GRAFANA_PASSWORD", "admin").env("NO_COLOR", "1");
        set_state_url(&mut command, self.state_url.as_deref());
        command
    }

    /// Runs mac to its end: its exit code and its output, stdout then stderr.
    fn run(&self, args: &[&str]) -> Result<(Option<i32>, String), String> {
        let output =
            self.command(args).stdin(Stdio::null()).output().map_err(|err| format!("cannot run mac: {err}"))?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok((output.status.code(), text))
    }

    /// Whether the state holds exactly `expected` objects: as `mac state list` lists them
    /// (pending creates included) and, with PostgreSQL, as rows of `mac.objects`.
    fn state_holds(&self, expected: usize) -> Result<bool, String> {
        let (code, listing) = self.run(&["state", "list"])?;
        let listed = listing.lines().filter(|line| line.contains('\t')).count();
        let rows = match (self.harness.postgres, &self.database) {
            (Some(postgres), Some(database)) => postgres.object_rows(database)?,
            _ => listed,
        };
        Ok(code == Some(0) && listed == expected && rows == expected)
    }

    /// Removes what the trial made, with faults off, so the emulator stays small; then its
    /// database. Whether the state was empty after the cleanup.
    fn finish(self) -> Result<bool, String> {
        std::fs::write(self.harness.scratch.join("definitions/main.toml"), "").map_err(|err| err.to_string())?;
        let (code, output) = self.run(&["apply", "--auto-approve", "--allow-delete-all"])?;
        if code != Some(0) {
            return Err(format!("cleanup failed: {output}"));
        }
        let empty = self.state_holds(0)?;
        if let (Some(postgres), Some(database)) = (self.harness.postgres, &self.database) {
            postgres.drop_database(database)?;
        }
        Ok(empty)
    }
}

/// A saved-plan trial on a converged trial (faults off): the code of one group changes (its
/// interval), the plan is saved, and a hand edit lands before `mac apply FILE` — on that group
/// when `edit_written`, else only on another. Then the code goes back and a fresh apply
/// restores everything, so the trial's cleanup starts from its definitions.
fn saved_plan_trial(
    trial: &Trial<'_>,
    port: u16,
    prefix: &str,
    edit_written: bool,
    random: &mut Random,
    figures: &mut SavedPlanFigures,
) -> Result<(), String> {
    let scratch = &trial.harness.scratch;
    let written = (random.below(FOLDERS as u64) as usize, random.below(GROUPS as u64) as usize);
    write_definitions_changing(scratch, prefix, Some(written))?;
    let (code, output) = trial.run(&["plan", "-o", "saved.plan"])?;
    if code != Some(0) {
        return Err(format!("saved-plan trial {prefix}: mac plan -o failed: {output}"));
    }
    figures.trials += 1;
    let edited = if edit_written {
        written
    } else {
        let groups = FOLDERS * GROUPS;
        let other = (written.0 * GROUPS + written.1 + 1 + random.below(groups as u64 - 1) as usize) % groups;
        (other / GROUPS, other % GROUPS)
    };
    let delete = edit_written && random.below(2) == 0;
    if delete {
        ruler(port, "DELETE", &group_path(prefix, edited), None)?;
    } else {
        let group = body(&ruler(port, "GET", &group_path(prefix, edited), None)?).to_owned();
        let changed = [EDIT_FROM, EDIT_FROM_ESCAPED]
            .iter()
            .find(|from| group.contains(**from))
            .map(|from| group.replacen(from, EDIT_TO, 1))
            .ok_or_else(|| format!("saved-plan trial {prefix}: no rule `{EDIT_FROM}` to edit in {group}"))?;
        ruler(port, "POST", &folder_path(prefix, edited.0), Some(&changed))?;
    }

    let (code, output) = trial.run(&["apply", "saved.plan", "--auto-approve"])?;
    let now = ruler(port, "GET", &group_path(prefix, edited), None)?;
    let edit_kept = if delete {
        // A missing group reads as one without rules (202, `RouteGetRulesGroupConfig`).
        !body(&now).contains("grafana_alert")
    } else {
        [EDIT_TO, EDIT_TO_ESCAPED].iter().any(|to| now.contains(to))
    };
    if !edit_kept {
        figures.overwritten += 1;
        eprintln!("saved-plan trial {prefix}: the hand edit is gone after the apply: {now}");
    }
    if edit_written {
        figures.written_edited += 1;
        let named = output.contains(&format!("alert_group.{prefix}-f{}-g{}", edited.0, edited.1));
        if code != Some(0) && named && output.contains("re-plan to review it") {
            figures.refused += 1;
        } else {
            eprintln!("saved-plan trial {prefix}: the apply did not refuse the hand edit: {output}");
        }
    } else {
        figures.untouched_edited += 1;
        if code == Some(0) {
            figures.applied += 1;
        } else {
            eprintln!("saved-plan trial {prefix}: the apply refused though only another group was edited: {output}");
        }
    }

    write_definitions(scratch, prefix)?;
    let (code, output) = trial.run(&["apply", "--auto-approve"])?;
    if code != Some(0) {
        return Err(format!("saved-plan trial {prefix}: restoring the definitions failed: {output}"));
    }
    Ok(())
}

/// The rule a hand edit changes (each group's first rule), as written and as Go escapes it.
const EDIT_FROM: &str = "up > 0";
const EDIT_FROM_ESCAPED: &str = "up \\u003e 0";
const EDIT_TO: &str = "up > 42";
const EDIT_TO_ESCAPED: &str = "up \\u003e 42";

/// The ruler path of a trial folder (the ruler API addresses folders by title).
fn folder_path(prefix: &str, folder: usize) -> String {
    format!("/api/ruler/grafana/api/v1/rules/{prefix}%20folder%20{folder}")
}

fn group_path(prefix: &str, (folder, group): (usize, usize)) -> String {
    format!("{}/group%20{group}", folder_path(prefix, folder))
}

/// A ruler request; an answer other than 2xx is an error.
fn ruler(port: u16, method: &str, path: &str, body: Option<&str>) -> Result<String, String> {
    let response = http(port, method, path, body)?;
    if response.starts_with("HTTP/1.1 2") {
        Ok(response)
    } else {
        Err(format!("{method} {path}: {}", response.lines().next().unwrap_or_default()))
    }
}

/// The body of an HTTP response.
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// FOLDERS folders of GROUPS groups of RULES rules, ids prefixed by the trial.
fn write_definitions(scratch: &Path, prefix: &str) -> Result<(), String> {
    write_definitions_changing(scratch, prefix, None)
}

/// The trial's definitions, with the interval of group `changed` (folder, group) changed.
fn write_definitions_changing(scratch: &Path, prefix: &str, changed: Option<(usize, usize)>) -> Result<(), String> {
    let mut text = String::new();
    for folder in 0..FOLDERS {
        text.push_str(&format!(
            "[[grafana8.folder]]\nid = \"{prefix}-f{folder}\"\ntitle = \"{prefix} folder {folder}\"\n\n"
        ));
        for group in 0..GROUPS {
            let interval = if changed == Some((folder, group)) { "2m" } else { "1m" };
            text.push_str(&format!(
                "[[grafana8.alert_group]]\nid = \"{prefix}-f{folder}-g{group}\"\nfolder = \"{prefix}-f{folder}\"\nname = \"group {group}\"\ninterval = \"{interval}\"\n\n"
            ));
            for rule in 0..RULES {
                text.push_str(&format!(
                    "[[grafana8.alert_group.rules]]\ntitle = \"rule {group}-{rule}\"\ncondition = \"B\"\n\n\
                     [[grafana8.alert_group.rules.data]]\nref_id = \"A\"\ndatasource = \"prom\"\nmodel = {{ expr = \"up > {rule}\" }}\n\n\
                     [[grafana8.alert_group.rules.data]]\nref_id = \"B\"\ndatasource = \"__expr__\"\nmodel = {{ type = \"math\", expression = \"$A > 0\" }}\n\n"
                ));
            }
        }
    }
    std::fs::write(scratch.join("definitions/main.toml"), text).map_err(|err| err.to_string())
}

/// Requests that mac saw fail (its debug log: `attempt N: <error>` lines).
fn count_faults(log: &str) -> usize {
    log.lines().filter(|line| line.contains(" attempt ") && !line.contains(": ok (")).count()
}

/// (objects missing, objects present more than once) among the trial's folders and groups.
fn check_remote(port: u16, prefix: &str) -> Result<(usize, usize), String> {
    let folders = http(port, "GET", "/api/folders?limit=5000", None)?;
    let rules = http(port, "GET", "/api/ruler/grafana/api/v1/rules", None)?;
    let mut lost = 0;
    let mut duplicates = 0;
    for folder in 0..FOLDERS {
        let title = format!("\"title\":\"{prefix} folder {folder}\"");
        let count = folders.matches(&title).count();
        lost += usize::from(count == 0);
        duplicates += count.saturating_sub(1);
    }
    // Every rule of the trial sits in one of its folders, whose uids mac derives from the ids.
    let expected_rules = FOLDERS * GROUPS * RULES;
    let found_rules = rules.matches(&format!("\"namespace_uid\":\"mac-{prefix}-f")).count();
    if found_rules < expected_rules {
        lost += expected_rules - found_rules;
    } else {
        duplicates += found_rules - expected_rules;
    }
    Ok((lost, duplicates))
}
