//! `cargo xtask fuzz [--seconds N] [--target NAME]`: coverage-guided fuzzing (libFuzzer via
//! cargo-fuzz) of what users write: `mac.toml` (`config_loader`) and templates with the
//! definitions that use them (`template_renderer`). See `fuzz/`.
//!
//! The time is shared between the targets. Each starts from the examples in `fuzz/seeds/`
//! plus what earlier runs found (`fuzz/corpus/`, not committed). A finding (a panic, or an
//! error pointing outside the file it names) stops the run and is saved under
//! `fuzz/artifacts/`; `cargo +nightly fuzz run TARGET ARTIFACT` replays it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::{describe, project_root, run_command, succeeds};

const TARGETS: [&str; 2] = ["config_loader", "template_renderer"];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut seconds: u64 = 60;
    let mut targets: Vec<&str> = TARGETS.to_vec();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--seconds" => seconds = value.parse().map_err(|_| format!("`--seconds {value}`: not a number"))?,
            "--target" => {
                let known = TARGETS.iter().find(|target| **target == value.as_str());
                targets = vec![*known.ok_or_else(|| format!("unknown target `{value}` ({})", TARGETS.join(", ")))?];
            }
            other => return Err(format!("unknown option `{other}` (--seconds N, --target NAME)")),
        }
    }
    let root = project_root();
    let fuzz_dir = root.join("fuzz");
    // cargo-fuzz drives nightly rustc (libFuzzer's sanitizer coverage flags are unstable).
    if !succeeds(Command::new("rustup").args(["run", "nightly", "rustc", "--version"])) {
        run_command(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
    }
    if !succeeds(Command::new("cargo").args(["fuzz", "--version"])) {
        run_command(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }

    let share = (seconds / targets.len() as u64).max(1);
    let mut summaries = Vec::new();
    for target in targets {
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|err| format!("cannot create {}: {err}", corpus.display()))?;
        let seeds = fuzz_dir.join("seeds").join(target);
        let mut command = Command::new("cargo");
        command
            .current_dir(&fuzz_dir)
            // The workspace's own cargo sets RUSTUP_TOOLCHAIN for xtask; `+nightly` must win.
            .env_remove("RUSTUP_TOOLCHAIN")
            .args(["+nightly", "fuzz", "run", target])
            .arg(&corpus)
            .arg(&seeds)
            .args(["--", &format!("-max_total_time={share}"), "-max_len=65536", "-print_final_stats=1"])
            .stderr(Stdio::piped());
        eprintln!("$ {}", describe(&command));
        let mut child = command.spawn().map_err(|err| format!("could not start `{}`: {err}", describe(&command)))?;
        let (mut runs, mut coverage, mut last) = (None, None, String::new());
        if let Some(stderr) = child.stderr.take() {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(value) = line.strip_prefix("stat::number_of_executed_units:") {
                    runs = value.trim().parse::<u64>().ok();
                }
                if line.starts_with('#') && line.contains(" cov: ") {
                    coverage = line.split_whitespace().skip_while(|word| *word != "cov:").nth(1).map(str::to_owned);
                    last = line.clone();
                } else {
                    eprintln!("{line}");
                }
            }
        }
        let status = child.wait().map_err(|err| format!("`{}` did not finish: {err}", describe(&command)))?;
        if !last.is_empty() {
            eprintln!("{last}");
        }
        let corpus_size = std::fs::read_dir(&corpus).map(|entries| entries.count()).unwrap_or(0);
        let summary = format!(
            "{target}: {share} s, {} executions, {} coverage points, corpus {corpus_size} inputs, {}",
            runs.map_or_else(|| "?".to_owned(), |runs| runs.to_string()),
            coverage.as_deref().unwrap_or("?"),
            if status.success() { "no finding" } else { "FINDING (see fuzz/artifacts)" }
        );
        println!("{summary}");
        summaries.push((summary, status.success()));
    }
    if summaries.iter().all(|(_, clean)| *clean) {
        Ok(())
    } else {
        Err("the fuzzer found a failing input: see above".to_owned())
    }
}
