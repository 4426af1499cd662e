//! `cargo xtask bench [--scale S|M|L]… [--latency-ms N] [--runs N] [--parallelism P] [--peer]`:
//! requests, wall time and peak memory of the release `mac` against the Grafana 8.5 emulator
//! (a separate process with injected latency), for issue 9.
//!
//! For each scale — S: 10 folders × 10 groups × 10 rules, M: 100 × 10 × 10 (10k rules),
//! L: 1000 × 10 × 10 (100k rules) — and each run, a fresh emulator gets: apply from empty, a
//! no-change plan, an apply that changes 10% of the thresholds (every tenth rule, so every
//! group changes), and a prune of everything. Each step is timed (median of the runs), its
//! requests counted by route with the emulator's counter, and the peak RSS of the `mac`
//! process read from `/proc/PID/status` (VmHWM, polled every 2 ms: a peak in the last 2 ms
//! before exit could be missed).
//!
//! The limit each time is compared with: with latency L and parallelism P, a plan needs a
//! constant number of round trips (a folder list and one ruler GET: 2 × L) and an apply of W
//! writes needs about (2 + ceil(W / P)) × L. At 0 ms latency there is no such limit.
//!
//! `--peer` also runs the Python original (`../shared/peers/python-original`) and `mac` on
//! the workload the original can express — 7 folders × 100 alerts, one rule per group —
//! on the same emulator at the same latency, and prints the ratios.
//!
//! Results: a markdown table on stdout and JSON in `target/bench/`. Nothing here is a test.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::emulator::{Emulator, http, set_faults};
use crate::{project_root, run_command};

#[derive(Clone, Copy)]
struct Scale {
    name: &'static str,
    folders: usize,
    groups: usize,
    rules: usize,
}

const SCALES: [Scale; 3] = [
    Scale { name: "S", folders: 10, groups: 10, rules: 10 },
    Scale { name: "M", folders: 100, groups: 10, rules: 10 },
    Scale { name: "L", folders: 1000, groups: 10, rules: 10 },
];

const STEPS: [&str; 4] = ["apply (create)", "plan (no change)", "apply (10% thresholds)", "apply (prune all)"];

struct Options {
    scales: Vec<Scale>,
    latency_ms: u64,
    runs: usize,
    parallelism: usize,
    peer: bool,
}

/// One step of one run.
struct Measure {
    wall: Duration,
    peak_rss_kib: u64,
    requests: Vec<(String, u64)>,
    exit_code: Option<i32>,
}

impl Measure {
    fn total_requests(&self) -> u64 {
        self.requests.iter().map(|(_, count)| count).sum()
    }

    fn writes(&self) -> u64 {
        self.requests.iter().filter(|(route, _)| !route.starts_with("GET ")).map(|(_, count)| count).sum()
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let root = project_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    run_command(Command::new(&cargo).current_dir(&root).args([
        "build",
        "--release",
        "--quiet",
        "--package",
        "mac-cli",
        "--package",
        "grafana8-emulator",
    ]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let binary = |name: &str| target.join("release").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mac = binary("mac");
    let emulator_binary = binary("grafana8-emulator");
    let scratch = std::env::temp_dir().join(format!("mac-bench-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(scratch.clone());
    std::fs::create_dir_all(&scratch).map_err(|err| err.to_string())?;
    std::fs::write(
        scratch.join("seed.toml"),
        "[[datasources]]\nname = \"Prometheus\"\ntype = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\nuid = \"prom\"\n",
    )
    .map_err(|err| err.to_string())?;

    let mut table = String::new();
    let mut json = String::from("{\"machine\":");
    json.push_str(&json_string(&machine()));
    let _ = write!(json, ",\"latency_ms\":{},\"parallelism\":{},\"scales\":[", options.latency_ms, options.parallelism);
    let _ = writeln!(
        table,
        "| scale | step | wall (median of {}) | limit | ratio | requests | by route | peak RSS |",
        options.runs
    );
    let _ = writeln!(table, "|---|---|---:|---:|---:|---:|---|---:|");
    for (index, scale) in options.scales.iter().enumerate() {
        eprintln!(
            "bench: scale {} ({} folders × {} groups × {} rules), {} ms latency, {} runs",
            scale.name, scale.folders, scale.groups, scale.rules, options.latency_ms, options.runs
        );
        let mut runs: Vec<Vec<Measure>> = Vec::new();
        for run in 0..options.runs {
            runs.push(run_scale(&mac, &emulator_binary, &scratch, *scale, &options, run)?);
        }
        if index > 0 {
            json.push(',');
        }
        let _ = write!(json, "{{\"scale\":\"{}\",\"rules\":{},\"steps\":[", scale.name, rule_count(*scale));
        for (step_index, step) in STEPS.iter().enumerate() {
            let measures: Vec<&Measure> = runs.iter().map(|run| &run[step_index]).collect();
            let mut walls: Vec<Duration> = measures.iter().map(|measure| measure.wall).collect();
            walls.sort();
            let median = walls[walls.len() / 2];
            let peak = measures.iter().map(|measure| measure.peak_rss_kib).max().unwrap_or(0);
            let last = measures[measures.len() - 1];
            let writes = expected_writes(*scale, step_index);
            let limit = limit(step_index, writes, &options);
            let ratio = limit.map(|limit| median.as_secs_f64() / limit.as_secs_f64());
            let routes =
                last.requests.iter().map(|(route, count)| format!("{route} ×{count}")).collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                table,
                "| {} | {step} | {:.2} s | {} | {} | {} | {routes} | {} MB |",
                scale.name,
                median.as_secs_f64(),
                limit.map_or_else(|| "–".to_owned(), |limit| format!("{:.2} s", limit.as_secs_f64())),
                ratio.map_or_else(|| "–".to_owned(), |ratio| format!("{ratio:.2}×")),
                last.total_requests(),
                peak / 1024,
            );
            if step_index > 0 {
                json.push(',');
            }
            let _ = write!(
                json,
                "{{\"step\":{},\"wall_s\":[{}],\"median_s\":{:.4},\"limit_s\":{},\"expected_writes\":{writes},\"writes\":{},\"requests\":{},\"peak_rss_kib\":{peak},\"by_route\":{{{}}}}}",
                json_string(step),
                walls.iter().map(|wall| format!("{:.4}", wall.as_secs_f64())).collect::<Vec<_>>().join(","),
                median.as_secs_f64(),
                limit.map_or_else(|| "null".to_owned(), |limit| format!("{:.4}", limit.as_secs_f64())),
                last.writes(),
                last.total_requests(),
                last.requests
                    .iter()
                    .map(|(route, count)| format!("{}:{count}", json_string(route)))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        json.push_str("]}");
    }
    json.push(']');

    if options.peer {
        let peer = run_peer(&mac, &emulator_binary, &scratch, &options)?;
        let _ = writeln!(table, "\n{}", peer.0);
        let _ = write!(json, ",\"peer\":{}", peer.1);
    }
    json.push_str("}\n");

    println!(
        "\n`mac` release build, Grafana 8.5 emulator at {} ms latency per request, parallelism {}; {}\n",
        options.latency_ms,
        options.parallelism,
        machine()
    );
    print!("{table}");
    let out_dir = target.join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|err| err.to_string())?;
    let names: Vec<&str> = options.scales.iter().map(|scale| scale.name).collect();
    let out = out_dir.join(format!("bench-{}-{}ms.json", names.join(""), options.latency_ms));
    std::fs::write(&out, json).map_err(|err| format!("cannot write {}: {err}", out.display()))?;
    println!("\nJSON: {}", out.display());
    Ok(())
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options { scales: Vec::new(), latency_ms: 20, runs: 3, parallelism: 8, peer: false };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--peer" {
            options.peer = true;
            continue;
        }
        if flag == "--real" {
            return Err("--real needs a real Grafana 8.5.4, which cannot be built here (issue 3: the Go module \
                        proxy refuses github.com/grafana/grafana); `cargo xtask grafana` explains"
                .to_owned());
        }
        let value = args.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        let number = || value.parse::<u64>().map_err(|_| format!("`{flag} {value}`: not a number"));
        match flag.as_str() {
            "--scale" => {
                for name in value.split(',') {
                    let scale = SCALES
                        .iter()
                        .find(|scale| scale.name.eq_ignore_ascii_case(name))
                        .ok_or_else(|| format!("unknown scale `{name}` (S, M or L)"))?;
                    options.scales.push(*scale);
                }
            }
            "--latency-ms" => options.latency_ms = number()?,
            "--runs" => options.runs = number()?.max(1) as usize,
            "--parallelism" => options.parallelism = number()?.clamp(1, 256) as usize,
            other => {
                return Err(format!(
                    "unknown option `{other}` (--scale S|M|L, --latency-ms N, --runs N, --parallelism P, --peer)"
                ));
            }
        }
    }
    if options.scales.is_empty() {
        options.scales = vec![SCALES[0], SCALES[1]];
    }
    Ok(options)
}

/// The four steps on a fresh emulator.
fn run_scale(
    mac: &Path,
    emulator_binary: &Path,
    scratch: &Path,
    scale: Scale,
    options: &Options,
    run: usize,
) -> Result<Vec<Measure>, String> {
    let project = scratch.join(format!("{}-{run}", scale.name));
    let _cleanup = RemoveOnDrop(project.clone());
    let emulator = Emulator::start(emulator_binary, &scratch.join("seed.toml"))?;
    set_latency(&emulator, options.latency_ms)?;
    write_project(&project, &emulator)?;
    let parallelism = options.parallelism.to_string();
    let apply = ["apply", "--auto-approve", "--parallelism", &parallelism];
    let mut measures = Vec::new();

    write_definitions(&project, scale, |_| "0.5")?;
    measures.push(measured(mac, &project, &emulator, &apply, &[0])?);
    measures.push(measured(mac, &project, &emulator, &["plan", "--detailed-exitcode"], &[0])?);
    write_definitions(&project, scale, |rule| if rule % 10 == 0 { "0.75" } else { "0.5" })?;
    measures.push(measured(mac, &project, &emulator, &apply, &[0])?);
    remove_definitions(&project)?;
    let prune = [&apply[..], &["--allow-delete-all", "--allow-mass-delete"]].concat();
    measures.push(measured(mac, &project, &emulator, &prune, &[0])?);
    let after = measured(mac, &project, &emulator, &["plan", "--detailed-exitcode"], &[0])?;
    if after.exit_code != Some(0) {
        return Err("the plan after the prune was not empty".to_owned());
    }
    eprintln!(
        "bench: {} run {}: {}",
        scale.name,
        run + 1,
        measures.iter().map(|measure| format!("{:.2} s", measure.wall.as_secs_f64())).collect::<Vec<_>>().join(", ")
    );
    Ok(measures)
}

fn rule_count(scale: Scale) -> usize {
    scale.folders * scale.groups * scale.rules
}

/// Writes the steps should need: folders and groups created, groups changed, both deleted.
fn expected_writes(scale: Scale, step: usize) -> u64 {
    let groups = (scale.folders * scale.groups) as u64;
    match step {
        0 | 3 => scale.folders as u64 + groups,
        // Every tenth rule changes; with 10 rules per group that is one rule in every group.
        2 => groups,
        _ => 0,
    }
}

fn limit(step: usize, writes: u64, options: &Options) -> Option<Duration> {
    if options.latency_ms == 0 {
        return None;
    }
    let round_trips = 2 + writes.div_ceil(options.parallelism as u64);
    Some(Duration::from_millis(options.latency_ms * if step == 1 { 2 } else { round_trips }))
}

fn set_latency(emulator: &Emulator, latency_ms: u64) -> Result<(), String> {
    set_faults(emulator.port, &format!(r#"{{"seed":1,"latency":{{"kind":"fixed","ms":{latency_ms}}},"rules":[]}}"#))
}

fn write_project(project: &Path, emulator: &Emulator) -> Result<(), String> {
    std::fs::create_dir_all(project.join("definitions")).map_err(|err| err.to_string())?;
    std::fs::write(
        project.join("mac.toml"),
        format!(
            "[providers.grafana8]\nurl = \"{}\"\nbasic = {{ user = \"admin\", password = {{ env = \"GRAFANA_PASSWORD\" }} }}\n",
            emulator.url()
        ),
    )
    .map_err(|err| err.to_string())
}

/// One file per folder (a file is limited to 8 MiB, and people split them like this too).
fn write_definitions(project: &Path, scale: Scale, threshold: impl Fn(usize) -> &'static str) -> Result<(), String> {
    for folder in 0..scale.folders {
        let mut text = format!("[[grafana8.folder]]\nid = \"f{folder}\"\ntitle = \"bench folder {folder}\"\n\n");
        for group in 0..scale.groups {
            let _ = write!(
                text,
                "[[grafana8.alert_group]]\nid = \"f{folder}-g{group}\"\nfolder = \"f{folder}\"\nname = \"group {group}\"\ninterval = \"1m\"\n\n"
            );
            for rule in 0..scale.rules {
                let global = (folder * scale.groups + group) * scale.rules + rule;
                let _ = write!(
                    text,
                    "[[grafana8.alert_group.rules]]\ntitle = \"rule {group}-{rule}\"\ncondition = \"B\"\nfor = \"5m\"\nlabels = {{ team = \"bench\", severity = \"warning\" }}\n\n\
                     [[grafana8.alert_group.rules.data]]\nref_id = \"A\"\ndatasource = \"prom\"\nrelative_time_range = {{ from = \"10m\", to = \"0s\" }}\nmodel = {{ expr = 'rate(http_requests_total{{job=\"f{folder}-g{group}-r{rule}\"}}[5m])' }}\n\n\
                     [[grafana8.alert_group.rules.data]]\nref_id = \"B\"\ndatasource = \"__expr__\"\nmodel = {{ type = \"math\", expression = \"$A > {}\" }}\n\n",
                    threshold(global)
                );
            }
        }
        std::fs::write(project.join(format!("definitions/folder-{folder:04}.toml")), text)
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

fn remove_definitions(project: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(project.join("definitions"));
    std::fs::create_dir_all(project.join("definitions")).map_err(|err| err.to_string())
}

/// Runs `mac` once with the emulator's counter reset, and measures it.
fn measured(
    mac: &Path,
    project: &Path,
    emulator: &Emulator,
    args: &[&str],
    expected_codes: &[i32],
) -> Result<Measure, String> {
    http(emulator.port, "DELETE", "/__emulator/requests", None)?;
    let started = Instant::now();
    let mut child = Command::new(mac)
        .current_dir(project)
        .args(args)
        .env("GRAFANA_PASSWORD", "admin")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run mac: {err}"))?;
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, pid) = (peak.clone(), done.clone(), child.id());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(high_water) = vm_hwm_kib(pid) {
                    peak.fetch_max(high_water, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    let status = child.wait().map_err(|err| err.to_string())?;
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    if !status.code().is_some_and(|code| expected_codes.contains(&code)) {
        return Err(format!("`mac {}` exited with {status}:\n{stderr}", args.join(" ")));
    }
    Ok(Measure {
        wall,
        peak_rss_kib: peak.load(Ordering::Relaxed),
        requests: request_counts(emulator)?,
        exit_code: status.code(),
    })
}

/// The high-water mark of the process's resident set, while it runs.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `GET /__emulator/requests`: `{"total":N,"requests":[{"method":…,"route":…,"count":…}]}`,
/// read without a JSON library (xtask has no dependencies).
fn request_counts(emulator: &Emulator) -> Result<Vec<(String, u64)>, String> {
    let response = http(emulator.port, "GET", "/__emulator/requests", None)?;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let mut counts = Vec::new();
    // Routes hold braces (`/api/folders/{uid}`), so entries are split on their first key.
    for entry in body.split("{\"method\":").skip(1) {
        let entry = format!("\"method\":{entry}");
        let field = |name: &str| {
            let start = entry.find(&format!("\"{name}\":"))? + name.len() + 3;
            let rest = entry[start..].trim_start_matches('"');
            let end = if entry[start..].starts_with('"') { rest.find('"')? } else { rest.find([',', '}'])? };
            Some(rest[..end].to_owned())
        };
        if let (Some(method), Some(route), Some(count)) = (field("method"), field("route"), field("count")) {
            counts.push((format!("{method} {route}"), count.parse().unwrap_or(0)));
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(counts)
}

/// The Python original and `mac` on the original's workload: 7 folders × 100 alerts, each
/// alert its own rule group. Returns (markdown, JSON).
fn run_peer(mac: &Path, emulator_binary: &Path, scratch: &Path, options: &Options) -> Result<(String, String), String> {
    const FOLDERS: usize = 7;
    const ALERTS: usize = 100;
    let peer_dir =
        project_root().parent().map(|parent| parent.join("shared/peers/python-original")).unwrap_or_default();
    let driver = peer_dir.join("bench_original.py");
    if !driver.exists() {
        return Err(format!("--peer: {} is missing", driver.display()));
    }
    let venv = std::env::var_os("PEER_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/mac-peers/python-original")
    });
    if !venv.join("bin/python").exists() {
        run_command(Command::new("bash").arg(peer_dir.join("setup.sh")))?;
    }

    // The original, sequential and with a read-back after every write.
    let emulator = Emulator::start(emulator_binary, &scratch.join("seed.toml"))?;
    set_latency(&emulator, options.latency_ms)?;
    let state = scratch.join("peer-state.json");
    let _ = std::fs::remove_file(&state);
    let mut original = Vec::new();
    for mode in ["create", "noop", "update", "delete"] {
        http(emulator.port, "DELETE", "/__emulator/requests", None)?;
        let started = Instant::now();
        let output = Command::new(venv.join("bin/python"))
            .arg(&driver)
            .args(["--url", &emulator.url(), "--user", "admin", "--password", "admin"])
            .args(["--folders", &FOLDERS.to_string(), "--alerts-per-folder", &ALERTS.to_string()])
            .args(["--datasource-uid", "prom", "--quiet", "--mode", mode, "--state"])
            .arg(&state)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("cannot run the original: {err}"))?;
        let process = started.elapsed();
        let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if !output.status.success() {
            return Err(format!(
                "the original failed in mode {mode}: {line}\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let apply_s = json_number(&line, "apply_s").unwrap_or(f64::NAN);
        let requests = request_counts(&emulator)?.iter().map(|(_, count)| count).sum::<u64>();
        original.push((mode, apply_s, process.as_secs_f64(), requests));
    }
    drop(emulator);

    // mac, the same layout, a whole process each time (start-up and state included).
    let emulator = Emulator::start(emulator_binary, &scratch.join("seed.toml"))?;
    set_latency(&emulator, options.latency_ms)?;
    let project = scratch.join("peer-mac");
    let _cleanup = RemoveOnDrop(project.clone());
    write_project(&project, &emulator)?;
    let layout = Scale { name: "peer", folders: FOLDERS, groups: ALERTS, rules: 1 };
    let parallelism = options.parallelism.to_string();
    let apply = ["apply", "--auto-approve", "--parallelism", &parallelism];
    let mut ours = Vec::new();
    write_definitions(&project, layout, |_| "0.5")?;
    ours.push(measured(mac, &project, &emulator, &apply, &[0])?);
    ours.push(measured(mac, &project, &emulator, &["plan", "--detailed-exitcode"], &[0])?);
    write_definitions(&project, layout, |_| "0.75")?;
    ours.push(measured(mac, &project, &emulator, &apply, &[0])?);
    remove_definitions(&project)?;
    ours.push(measured(
        mac,
        &project,
        &emulator,
        &[&apply[..], &["--allow-delete-all", "--allow-mass-delete"]].concat(),
        &[0],
    )?);

    let mut table = format!(
        "Side by side with the Python original (monitoring-as-code 0.0.2), {FOLDERS} folders × {ALERTS} alerts, one rule per group, {} ms latency:\n\n\
         | step | original: apply_s (in-process) | original: requests | mac: whole process | mac: requests | mac faster by |\n|---|---:|---:|---:|---:|---:|\n",
        options.latency_ms
    );
    let mut json = String::from("[");
    for (index, ((mode, apply_s, process_s, requests), measure)) in original.iter().zip(&ours).enumerate() {
        let ratio = apply_s / measure.wall.as_secs_f64();
        let _ = writeln!(
            table,
            "| {mode} | {apply_s:.2} s | {requests} | {:.2} s | {} | {ratio:.1}× |",
            measure.wall.as_secs_f64(),
            measure.total_requests()
        );
        if index > 0 {
            json.push(',');
        }
        let _ = write!(
            json,
            "{{\"step\":\"{mode}\",\"original_apply_s\":{apply_s:.4},\"original_process_s\":{process_s:.4},\"original_requests\":{requests},\"mac_s\":{:.4},\"mac_requests\":{},\"ratio\":{ratio:.2}}}",
            measure.wall.as_secs_f64(),
            measure.total_requests()
        );
    }
    json.push(']');
    Ok((table, json))
}

fn json_number(line: &str, field: &str) -> Option<f64> {
    let start = line.find(&format!("\"{field}\":"))? + field.len() + 3;
    let rest = &line[start..];
    rest[..rest.find([',', '}'])?].trim().parse().ok()
}

fn json_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            character if (character as u32) < 0x20 => {
                let _ = write!(quoted, "\\u{:04x}", character as u32);
            }
            character => quoted.push(character),
        }
    }
    quoted.push('"');
    quoted
}

/// What the figures were measured on: CPU model and count, memory.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |cores| cores.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|meminfo| meminfo.lines().next().and_then(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or_else(String::new, |kib| format!(", {} GiB", kib / 1024 / 1024));
    format!("{model}, {cores} cores{memory}")
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
