//! `cargo xtask reliability [--trials N] [--kills N] [--seed S]`: the convergence proofs of
//! issue 8, at scale, against the Grafana 8.5 emulator.
//!
//! * Fault trials: the emulator fails 20% of requests at random (500, 502, 429 with
//!   Retry-After, dropped connections) with random latency; `mac apply` is rerun until it
//!   succeeds, then the remote must hold exactly the definitions: nothing missing, nothing
//!   twice, and a re-plan must be empty.
//! * Kill trials: `mac apply` is killed with SIGKILL at a random moment; the state must still
//!   be readable and a rerun must converge to the same exact remote state.
//!
//! Prints the figures: trials, faults mac saw, converged, objects lost, duplicates.
//!
//! `cargo xtask ci` runs a small seeded set with `--debug` on the binaries its tests just
//! built (it builds with the tests phase's own `cargo test --workspace --all-features
//! --no-run`, so nothing is rebuilt: the extra `test-provider` feature only adds mac's fake
//! `testfs` provider, which the trials do not use), so every change is checked for
//! convergence; the long runs use release builds.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::emulator::{Emulator, http, set_faults};
use crate::{project_root, run_command};

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
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--debug" {
            profile = "debug";
            continue;
        }
        let value = args.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        let number: u64 = value.parse().map_err(|_| format!("`{flag} {value}`: not a number"))?;
        match flag.as_str() {
            "--trials" => trials = number as usize,
            "--kills" => kills = number as usize,
            "--seed" => seed = number.max(1),
            other => return Err(format!("unknown option `{other}` (--trials N, --kills N, --seed S, --debug)")),
        }
    }
    let root = project_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(&cargo);
    build.current_dir(&root);
    if after_tests && profile == "debug" {
        // The tests phase's build, checked up to date: its `mac` and `grafana8-emulator`.
        build.args(crate::ci::TEST_COMMAND).args(["--no-run", "--quiet"]);
    } else {
        build.args(["build", "--quiet", "--package", "mac-cli", "--package", "grafana8-emulator"]);
    }
    if profile == "release" {
        build.arg("--release");
    }
    run_command(&mut build)?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binary = |name: &str| target.join(profile).join(format!("{name}{}", std::env::consts::EXE_SUFFIX));

    let scratch = std::env::temp_dir().join(format!("mac-reliability-{}", std::process::id()));
    std::fs::create_dir_all(scratch.join("definitions")).map_err(|err| err.to_string())?;
    std::fs::write(scratch.join("seed.toml"), "[[datasources]]\nname = \"Prometheus\"\ntype = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\nuid = \"prom\"\n")
        .map_err(|err| err.to_string())?;
    let emulator = Emulator::start(&binary("grafana8-emulator"), &scratch.join("seed.toml"))?;
    let port = emulator.port;
    std::fs::write(
        scratch.join("mac.toml"),
        format!("[providers.grafana8]\nurl = \"http://127.0.0.1:{port}\"\nbasic = {{ user = \"admin\", password = {{ env = \"GRAFANA_PASSWORD\" }} }}\n"),
    )
    .map_err(|err| err.to_string())?;
    let mac = binary("mac");
    let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);

    let mut faults = Figures::default();
    for trial in 0..trials {
        let prefix = format!("t{trial}");
        write_definitions(&scratch, &prefix)?;
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
            let output = mac_run(&mac, &scratch, &["apply", "--auto-approve", "--log-level", "debug"])?;
            faults.faults_seen += count_faults(&output.1);
            faults.reruns += 1;
            if output.0 == Some(0) {
                converged = true;
                break;
            }
        }
        set_faults(port, r#"{"seed":0,"rules":[]}"#)?;
        let clean = mac_run(&mac, &scratch, &["plan", "--detailed-exitcode"])?.0 == Some(0);
        let (lost, duplicates) = check_remote(port, &prefix)?;
        faults.lost += lost;
        faults.duplicates += duplicates;
        if converged && clean && lost == 0 && duplicates == 0 {
            faults.converged += 1;
        }
        cleanup(&mac, &scratch)?;
    }

    let mut kill = Figures::default();
    for trial in 0..kills {
        let prefix = format!("k{trial}");
        write_definitions(&scratch, &prefix)?;
        set_faults(port, r#"{"seed":1,"latency":{"kind":"uniform","min_ms":2,"max_ms":15},"rules":[]}"#)?;
        kill.trials += 1;
        let mut child = Command::new(&mac)
            .current_dir(&scratch)
            .args(["apply", "--auto-approve"])
            .env("GRAFANA_PASSWORD", "admin")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| err.to_string())?;
        std::thread::sleep(Duration::from_millis(20 + random.below(400)));
        let _ = child.kill();
        let _ = child.wait();
        let readable = mac_run(&mac, &scratch, &["state", "list"])?.0 == Some(0);
        let mut converged = false;
        for _ in 0..5 {
            kill.reruns += 1;
            if mac_run(&mac, &scratch, &["apply", "--auto-approve"])?.0 == Some(0) {
                converged = true;
                break;
            }
        }
        let clean = mac_run(&mac, &scratch, &["plan", "--detailed-exitcode"])?.0 == Some(0);
        let (lost, duplicates) = check_remote(port, &prefix)?;
        kill.lost += lost;
        kill.duplicates += duplicates;
        if readable && converged && clean && lost == 0 && duplicates == 0 {
            kill.converged += 1;
        }
        cleanup(&mac, &scratch)?;
    }
    let _ = std::fs::remove_dir_all(&scratch);

    println!(
        "fault trials: {} trials, {} faults seen by mac, {} runs, {} converged, {} objects lost, {} duplicates",
        faults.trials, faults.faults_seen, faults.reruns, faults.converged, faults.lost, faults.duplicates
    );
    println!(
        "kill trials: {} trials (SIGKILL at a random moment), {} reruns, {} converged, {} objects lost, {} duplicates",
        kill.trials, kill.reruns, kill.converged, kill.lost, kill.duplicates
    );
    if faults.converged == faults.trials && kill.converged == kill.trials {
        Ok(())
    } else {
        Err("some trials did not converge: see the figures above".to_owned())
    }
}

/// FOLDERS folders of GROUPS groups of RULES rules, ids prefixed by the trial.
fn write_definitions(scratch: &Path, prefix: &str) -> Result<(), String> {
    let mut text = String::new();
    for folder in 0..FOLDERS {
        text.push_str(&format!(
            "[[grafana8.folder]]\nid = \"{prefix}-f{folder}\"\ntitle = \"{prefix} folder {folder}\"\n\n"
        ));
        for group in 0..GROUPS {
            text.push_str(&format!(
                "[[grafana8.alert_group]]\nid = \"{prefix}-f{folder}-g{group}\"\nfolder = \"{prefix}-f{folder}\"\nname = \"group {group}\"\ninterval = \"1m\"\n\n"
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

/// Removes what a trial made, with faults off, so the emulator stays small.
fn cleanup(mac: &Path, scratch: &Path) -> Result<(), String> {
    std::fs::write(scratch.join("definitions/main.toml"), "").map_err(|err| err.to_string())?;
    let (code, output) = mac_run(mac, scratch, &["apply", "--auto-approve", "--allow-delete-all"])?;
    if code != Some(0) {
        return Err(format!("cleanup failed: {output}"));
    }
    Ok(())
}

fn mac_run(mac: &Path, scratch: &Path, args: &[&str]) -> Result<(Option<i32>, String), String> {
    let output = Command::new(mac)
        .current_dir(scratch)
        .args(args)
        .env("GRAFANA_PASSWORD", "admin")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run mac: {err}"))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok((output.status.code(), text))
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
