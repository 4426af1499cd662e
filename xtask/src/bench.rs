//! `cargo xtask bench [--scale S|M|L]… [--latency-ms N] [--runs N] [--parallelism P] [--peer]
//! [--state file|postgres|both]`: requests, wall time and peak memory of the release `mac`
//! against the Grafana 8.5 emulator (a separate process with injected latency), for issue 9.
//! With `--kinds`, the requests of a no-change plan per grafana8 kind instead (see
//! [`crate::bench_kinds`]). With `--cortex`, the cortex provider on a real Cortex instead,
//! beside mimirtool's approach (see [`crate::bench_cortex`]).
//!
//! For each scale — S: 10 folders × 10 groups × 10 rules, M: 100 × 10 × 10 (10k rules),
//! L: 1000 × 10 × 10 (100k rules) — and each run, a fresh emulator gets: apply from empty, a
//! no-change plan, an apply that changes 10% of the thresholds (every tenth rule, so every
//! group changes), and a prune of everything. Each step is timed (median of the runs), its
//! requests counted by route with the emulator's counter, and the peak RSS of the `mac`
//! process read from `/proc/PID/status` (VmHWM, polled every 2 ms: a peak in the last 2 ms
//! before exit could be missed).
//!
//! The limit each time is compared with is the fewest round trips any client could take for
//! the step (see [`NecessaryWork`]), times the latency: the plan's reads are independent of
//! each other (one round trip, plus one per further page of the folder list), then an apply's
//! N necessary requests at parallelism P, whose longest chain of requests that must follow one
//! another is D, take at least max(D, ⌈N / P⌉) round trips. At 0 ms latency there is no limit.
//!
//! `--state` says where the project's state is kept: `file` (the default, mac's state file),
//! `postgres` (a PostgreSQL server started for the bench, with its durability defaults —
//! fsync on — and a fresh database for each run), or `both`, each run of each scale made
//! once with each store, one after the other on the same machine at the same latency. With
//! PostgreSQL the table gains, per step and store:
//! * state load: the wall time of `mac state list` run right after the no-change plan, the
//!   median of 3: a whole process (start-up, mac.toml, connecting, loading the whole state,
//!   printing a line per object). mac's plan has no timer of its own around its load; this
//!   is the part of a plan's time that depends on the store, measured on its own.
//! * for each step, the store's saves as it reports them (`MAC_STATE_STATS`: one
//!   `{"rows":N,"bytes":B,"ms":T}` line per save): how many, the rows and bytes of JSON
//!   written, the time the saves took in all and its share of the step's wall time. The file
//!   store reports nothing there ("–").
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
use crate::state::{
    Durability, PostgresState, STATE_STATS_VARIABLE, Save, StateBackend, json_number, postgres_config, read_saves,
    set_state_url,
};
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

/// The step after which the state load is timed: the no-change plan, the state at its fullest.
const PLAN_STEP: usize = 1;

/// How many times `mac state list` is timed after each run's plan.
const STATE_LOAD_TIMINGS: usize = 3;

struct Options {
    scales: Vec<Scale>,
    latency_ms: u64,
    runs: usize,
    parallelism: usize,
    peer: bool,
    states: Vec<StateBackend>,
}

/// One step of one run.
struct Measure {
    wall: Duration,
    peak_rss_kib: u64,
    requests: Vec<(String, u64)>,
    exit_code: Option<i32>,
    /// The store's saves during the step, as it reported them (none from the file store).
    saves: Vec<Save>,
}

impl Measure {
    fn total_requests(&self) -> u64 {
        self.requests.iter().map(|(_, count)| count).sum()
    }

    fn writes(&self) -> u64 {
        self.requests.iter().filter(|(route, _)| !route.starts_with("GET ")).map(|(_, count)| count).sum()
    }
}

/// One run of one scale with one store: its four steps, and the state load timed after its
/// plan.
struct RunMeasures {
    steps: Vec<Measure>,
    state_loads: Vec<Duration>,
}

/// Where a project's state is kept while `mac` runs on it.
struct ProjectState {
    /// With PostgreSQL, the URL of the project's database.
    url: Option<String>,
    /// The file the store reports its saves in (`MAC_STATE_STATS`), emptied before each step.
    stats: PathBuf,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let per_kind = args.iter().any(|arg| arg == "--kinds");
    let root = project_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    if args.iter().any(|arg| arg == "--cortex") {
        // Only mac: the server is the real Cortex.
        run_command(Command::new(&cargo).current_dir(&root).args([
            "build",
            "--release",
            "--quiet",
            "--package",
            "mac-cli",
        ]))?;
        let mac = target.join("release").join(format!("mac{}", std::env::consts::EXE_SUFFIX));
        let rest: Vec<String> = args.iter().filter(|arg| *arg != "--cortex").cloned().collect();
        return crate::bench_cortex::run(&rest, &mac, &target);
    }
    let options = if per_kind { None } else { Some(parse(args)?) };
    run_command(Command::new(&cargo).current_dir(&root).args([
        "build",
        "--release",
        "--quiet",
        "--package",
        "mac-cli",
        "--package",
        "grafana8-emulator",
    ]))?;
    let binary = |name: &str| target.join("release").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mac = binary("mac");
    let emulator_binary = binary("grafana8-emulator");
    let Some(options) = options else {
        let scratch = std::env::temp_dir().join(format!("mac-bench-kinds-{}", std::process::id()));
        let _cleanup = RemoveOnDrop(scratch.clone());
        std::fs::create_dir_all(&scratch).map_err(|err| err.to_string())?;
        let rest: Vec<String> = args.iter().filter(|arg| *arg != "--kinds").cloned().collect();
        return crate::bench_kinds::run(&rest, &mac, &emulator_binary, &scratch);
    };
    let postgres = match options.states.contains(&StateBackend::Postgres) {
        true => Some(PostgresState::start(Durability::Durable)?),
        false => None,
    };
    let postgres_version = postgres.as_ref().map(PostgresState::version).transpose()?;
    let scratch = std::env::temp_dir().join(format!("mac-bench-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(scratch.clone());
    std::fs::create_dir_all(&scratch).map_err(|err| err.to_string())?;
    std::fs::write(
        scratch.join("seed.toml"),
        "[[datasources]]\nname = \"Prometheus\"\ntype = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\nuid = \"prom\"\n",
    )
    .map_err(|err| err.to_string())?;

    // Today's table when the state is in the file only; with PostgreSQL a row per step and
    // store, with the state's own columns.
    let with_state_columns = options.states != [StateBackend::File];
    let mut table = String::new();
    let mut json = String::from("{\"machine\":");
    json.push_str(&json_string(&machine()));
    let _ = write!(json, ",\"latency_ms\":{},\"parallelism\":{}", options.latency_ms, options.parallelism);
    if let Some(version) = &postgres_version {
        let _ = write!(json, ",\"postgres\":{}", json_string(version));
    }
    json.push_str(",\"scales\":[");
    if with_state_columns {
        let _ = writeln!(
            table,
            "| scale | step | state | wall (median of {}) | limit | ratio | requests | peak RSS | state load | saves | rows written | bytes written | save time | share of wall |",
            options.runs
        );
        let _ = writeln!(table, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    } else {
        let _ = writeln!(
            table,
            "| scale | step | wall (median of {}) | limit | ratio | requests | by route | peak RSS |",
            options.runs
        );
        let _ = writeln!(table, "|---|---|---:|---:|---:|---:|---|---:|");
    }
    let mut first_scale = true;
    for scale in &options.scales {
        eprintln!(
            "bench: scale {} ({} folders × {} groups × {} rules), {} ms latency, {} runs, state: {}",
            scale.name,
            scale.folders,
            scale.groups,
            scale.rules,
            options.latency_ms,
            options.runs,
            options.states.iter().map(|backend| backend.name()).collect::<Vec<_>>().join(" and ")
        );
        // Runs by store; a run is made with each store in turn, so that a machine busier for
        // a while slows both alike.
        let mut runs: Vec<Vec<RunMeasures>> = options.states.iter().map(|_| Vec::new()).collect();
        for run in 0..options.runs {
            for (backend, backend_runs) in options.states.iter().zip(&mut runs) {
                let postgres = postgres.as_ref().filter(|_| *backend == StateBackend::Postgres);
                backend_runs.push(run_scale(&mac, &emulator_binary, &scratch, *scale, &options, run, postgres)?);
            }
        }
        for (backend, backend_runs) in options.states.iter().zip(&runs) {
            if !first_scale {
                json.push(',');
            }
            first_scale = false;
            let _ = write!(
                json,
                "{{\"scale\":\"{}\",\"rules\":{},\"state\":\"{}\",\"steps\":[",
                scale.name,
                rule_count(*scale),
                backend.name()
            );
            for step_index in 0..STEPS.len() {
                if step_index > 0 {
                    json.push(',');
                }
                json.push_str(&StepSummary::new(*scale, step_index, backend_runs, &options).json());
            }
            json.push_str("]}");
        }
        for step_index in 0..STEPS.len() {
            for (backend, backend_runs) in options.states.iter().zip(&runs) {
                let summary = StepSummary::new(*scale, step_index, backend_runs, &options);
                let row = if with_state_columns { summary.row_with_state(*backend) } else { summary.row() };
                let _ = writeln!(table, "{row}");
            }
        }
    }
    json.push(']');

    if options.peer {
        let peer = run_peer(&mac, &emulator_binary, &scratch, &options)?;
        let _ = writeln!(table, "\n{}", peer.0);
        let _ = write!(json, ",\"peer\":{}", peer.1);
    }
    json.push_str("}\n");

    let state_note = match (&postgres_version, options.states.as_slice()) {
        (Some(version), [_, _]) => format!(
            "; each run with the state in mac's file, then in PostgreSQL {version} (this machine, loopback TCP, fsync on)"
        ),
        (Some(version), _) => format!("; the state in PostgreSQL {version} (this machine, loopback TCP, fsync on)"),
        (None, _) => String::new(),
    };
    println!(
        "\n`mac` release build, Grafana 8.5 emulator at {} ms latency per request, parallelism {}; {}{state_note}\n",
        options.latency_ms,
        options.parallelism,
        machine()
    );
    print!("{table}");
    if with_state_columns {
        println!(
            "\nstate load: the wall time of `mac state list` right after the no-change plan (median of \
             {STATE_LOAD_TIMINGS} per run), a whole process that loads the whole state and prints a line per \
             object.\nsaves, rows and bytes written, save time: the store's own report of each save \
             (MAC_STATE_STATS; the file store makes none), summed over the step; share of wall: save time / \
             wall. Saves run on the apply's scheduling loop: while one runs, writes in flight go on but no \
             new one starts."
        );
    }
    let out_dir = target.join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|err| err.to_string())?;
    let names: Vec<&str> = options.scales.iter().map(|scale| scale.name).collect();
    let state_suffix = match options.states.as_slice() {
        [StateBackend::File] => "",
        [StateBackend::Postgres] => "-postgres",
        _ => "-both",
    };
    let out = out_dir.join(format!("bench-{}-{}ms{state_suffix}.json", names.join(""), options.latency_ms));
    std::fs::write(&out, json).map_err(|err| format!("cannot write {}: {err}", out.display()))?;
    println!("\nJSON: {}", out.display());
    Ok(())
}

/// One step of one scale with one store, over its runs.
struct StepSummary<'a> {
    scale: Scale,
    step_index: usize,
    walls: Vec<Duration>,
    median: Duration,
    peak_rss_kib: u64,
    last: &'a Measure,
    expected_writes: u64,
    limit: Option<Duration>,
    /// `mac state list` timings after the plan, of every run (the plan step only).
    state_loads: Vec<Duration>,
    /// The saves of every run, by run.
    saves_by_run: Vec<&'a [Save]>,
}

impl<'a> StepSummary<'a> {
    fn new(scale: Scale, step_index: usize, runs: &'a [RunMeasures], options: &Options) -> StepSummary<'a> {
        let measures: Vec<&Measure> = runs.iter().map(|run| &run.steps[step_index]).collect();
        let mut walls: Vec<Duration> = measures.iter().map(|measure| measure.wall).collect();
        walls.sort();
        let expected_writes = expected_writes(scale, step_index);
        let mut state_loads: Vec<Duration> = match step_index {
            PLAN_STEP => runs.iter().flat_map(|run| run.state_loads.iter().copied()).collect(),
            _ => Vec::new(),
        };
        state_loads.sort();
        StepSummary {
            scale,
            step_index,
            median: walls[walls.len() / 2],
            walls,
            peak_rss_kib: measures.iter().map(|measure| measure.peak_rss_kib).max().unwrap_or(0),
            last: measures[measures.len() - 1],
            expected_writes,
            limit: limit(scale, step_index, options),
            state_loads,
            saves_by_run: measures.iter().map(|measure| measure.saves.as_slice()).collect(),
        }
    }

    fn ratio(&self) -> Option<f64> {
        self.limit.map(|limit| self.median.as_secs_f64() / limit.as_secs_f64())
    }

    fn limit_text(&self) -> String {
        self.limit.map_or_else(|| "–".to_owned(), |limit| format!("{:.2} s", limit.as_secs_f64()))
    }

    fn ratio_text(&self) -> String {
        self.ratio().map_or_else(|| "–".to_owned(), |ratio| format!("{ratio:.2}×"))
    }

    /// The median over the runs of a figure of each run's saves.
    fn median_of_saves<T: Copy + Default + PartialOrd>(&self, figure: impl Fn(&[Save]) -> T) -> T {
        let mut values: Vec<T> = self.saves_by_run.iter().map(|saves| figure(saves)).collect();
        values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        values.get(values.len() / 2).copied().unwrap_or_default()
    }

    /// The median over the runs of the time the saves took, in milliseconds.
    fn median_save_ms(&self) -> f64 {
        // Not `Sum`: it starts from -0.0, which prints as "-0".
        self.median_of_saves(|saves| saves.iter().fold(0.0, |total, save| total + save.ms))
    }

    /// Today's row: the state in the file.
    fn row(&self) -> String {
        let routes =
            self.last.requests.iter().map(|(route, count)| format!("{route} ×{count}")).collect::<Vec<_>>().join(", ");
        format!(
            "| {} | {} | {:.2} s | {} | {} | {} | {routes} | {} MB |",
            self.scale.name,
            STEPS[self.step_index],
            self.median.as_secs_f64(),
            self.limit_text(),
            self.ratio_text(),
            self.last.total_requests(),
            self.peak_rss_kib / 1024,
        )
    }

    /// The row of one store, beside the other's: the state's columns instead of the routes.
    fn row_with_state(&self, backend: StateBackend) -> String {
        let state_load = match self.state_loads.get(self.state_loads.len() / 2) {
            Some(median) => format!("{:.3} s", median.as_secs_f64()),
            None => "–".to_owned(),
        };
        let reported = self.saves_by_run.iter().any(|saves| !saves.is_empty());
        let saves = if backend == StateBackend::File && !reported {
            "– | – | – | – | –".to_owned()
        } else {
            let count = self.median_of_saves(<[Save]>::len);
            let rows = self.median_of_saves(|saves| saves.iter().map(|save| save.rows).sum::<u64>());
            let bytes = self.median_of_saves(|saves| saves.iter().map(|save| save.bytes).sum::<u64>());
            let ms = self.median_save_ms();
            let share = ms / 1000.0 / self.median.as_secs_f64() * 100.0;
            format!("{count} | {rows} | {} | {:.2} s | {share:.1}%", human_bytes(bytes), ms / 1000.0)
        };
        format!(
            "| {} | {} | {} | {:.2} s | {} | {} | {} | {} MB | {state_load} | {saves} |",
            self.scale.name,
            STEPS[self.step_index],
            backend.name(),
            self.median.as_secs_f64(),
            self.limit_text(),
            self.ratio_text(),
            self.last.total_requests(),
            self.peak_rss_kib / 1024,
        )
    }

    fn json(&self) -> String {
        let seconds = |durations: &[Duration]| {
            durations.iter().map(|duration| format!("{:.4}", duration.as_secs_f64())).collect::<Vec<_>>().join(",")
        };
        let saves = self
            .saves_by_run
            .iter()
            .map(|saves| {
                let each = saves
                    .iter()
                    .map(|save| format!("{{\"rows\":{},\"bytes\":{},\"ms\":{}}}", save.rows, save.bytes, save.ms))
                    .collect::<Vec<_>>()
                    .join(",");
                format!("[{each}]")
            })
            .collect::<Vec<_>>()
            .join(",");
        format!(
            "{{\"step\":{},\"wall_s\":[{}],\"median_s\":{:.4},\"limit_s\":{},\"expected_writes\":{},\"writes\":{},\"requests\":{},\"peak_rss_kib\":{},\"by_route\":{{{}}},\"state_load_s\":[{}],\"saves_by_run\":[{saves}],\"save_ms_median\":{:.1}}}",
            json_string(STEPS[self.step_index]),
            seconds(&self.walls),
            self.median.as_secs_f64(),
            self.limit.map_or_else(|| "null".to_owned(), |limit| format!("{:.4}", limit.as_secs_f64())),
            self.expected_writes,
            self.last.writes(),
            self.last.total_requests(),
            self.peak_rss_kib,
            self.last
                .requests
                .iter()
                .map(|(route, count)| format!("{}:{count}", json_string(route)))
                .collect::<Vec<_>>()
                .join(","),
            seconds(&self.state_loads),
            self.median_save_ms(),
        )
    }
}

/// `1234567` as `1.2 MB`: the bytes a save wrote, at a glance.
fn human_bytes(bytes: u64) -> String {
    match bytes {
        1_000_000.. => format!("{:.1} MB", bytes as f64 / 1e6),
        1_000.. => format!("{:.0} kB", bytes as f64 / 1e3),
        bytes => format!("{bytes} B"),
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        scales: Vec::new(),
        latency_ms: 20,
        runs: 3,
        parallelism: 8,
        peer: false,
        states: vec![StateBackend::File],
    };
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
            "--state" => options.states = StateBackend::parse_list(value, true)?,
            other => {
                return Err(format!(
                    "unknown option `{other}` (--scale S|M|L, --latency-ms N, --runs N, --parallelism P, --peer, \
                     --state file|postgres|both)"
                ));
            }
        }
    }
    if options.scales.is_empty() {
        options.scales = vec![SCALES[0], SCALES[1]];
    }
    Ok(options)
}

/// The four steps on a fresh emulator, the state in a fresh store: the state file of a new
/// project directory, or a new database of the PostgreSQL server.
fn run_scale(
    mac: &Path,
    emulator_binary: &Path,
    scratch: &Path,
    scale: Scale,
    options: &Options,
    run: usize,
    postgres: Option<&PostgresState>,
) -> Result<RunMeasures, String> {
    let backend = if postgres.is_some() { StateBackend::Postgres } else { StateBackend::File };
    let name = format!("{}-{run}-{}", scale.name, backend.name());
    let project = scratch.join(&name);
    let _cleanup = RemoveOnDrop(project.clone());
    let database = format!("bench_{}", name.to_lowercase().replace('-', "_"));
    let state = ProjectState {
        url: postgres.map(|postgres| postgres.create_database(&database)).transpose()?,
        stats: scratch.join(format!("{name}-saves.jsonl")),
    };
    let emulator = Emulator::start(emulator_binary, &scratch.join("seed.toml"))?;
    set_latency(&emulator, options.latency_ms)?;
    let state_config = if postgres.is_some() { postgres_config(&format!("bench-{name}")) } else { String::new() };
    write_project(&project, &emulator, &state_config)?;
    let parallelism = options.parallelism.to_string();
    let apply = ["apply", "--auto-approve", "--parallelism", &parallelism];
    let mut measures = Vec::new();

    write_definitions(&project, scale, |_| "0.5")?;
    measures.push(measured(mac, &project, &state, &emulator, &apply, &[0])?);
    measures.push(measured(mac, &project, &state, &emulator, &["plan", "--detailed-exitcode"], &[0])?);
    let state_loads = time_state_loads(mac, &project, &state)?;
    write_definitions(&project, scale, |rule| if rule % 10 == 0 { "0.75" } else { "0.5" })?;
    measures.push(measured(mac, &project, &state, &emulator, &apply, &[0])?);
    remove_definitions(&project)?;
    let prune = [&apply[..], &["--allow-delete-all", "--allow-mass-delete"]].concat();
    measures.push(measured(mac, &project, &state, &emulator, &prune, &[0])?);
    let after = measured(mac, &project, &state, &emulator, &["plan", "--detailed-exitcode"], &[0])?;
    if after.exit_code != Some(0) {
        return Err("the plan after the prune was not empty".to_owned());
    }
    eprintln!(
        "bench: {} run {} ({} state): {}; state load {}",
        scale.name,
        run + 1,
        backend.name(),
        measures.iter().map(|measure| format!("{:.2} s", measure.wall.as_secs_f64())).collect::<Vec<_>>().join(", "),
        state_loads.iter().map(|load| format!("{:.3} s", load.as_secs_f64())).collect::<Vec<_>>().join(", "),
    );
    if let Some(postgres) = postgres {
        postgres.drop_database(&database)?;
    }
    Ok(RunMeasures { steps: measures, state_loads })
}

/// `mac state list` timed [`STATE_LOAD_TIMINGS`] times: a whole process that loads the
/// whole state and prints it (to nowhere), and does nothing else.
fn time_state_loads(mac: &Path, project: &Path, state: &ProjectState) -> Result<Vec<Duration>, String> {
    let mut timings = Vec::new();
    for _ in 0..STATE_LOAD_TIMINGS {
        let mut list = mac_command(mac, project, state);
        list.args(["state", "list"]).stdout(Stdio::null()).stderr(Stdio::piped());
        let started = Instant::now();
        let output = list.output().map_err(|err| format!("cannot run mac: {err}"))?;
        timings.push(started.elapsed());
        if !output.status.success() {
            return Err(format!(
                "`mac state list` exited with {}:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    Ok(timings)
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

/// What an apply step cannot do with fewer requests against Grafana 8.5, after its plan's
/// reads: the lower bound its limit is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NecessaryWork {
    /// Requests no client can avoid.
    requests: u64,
    /// The longest chain of those requests in which each needs the answer of the one before.
    depth: u64,
}

impl NecessaryWork {
    /// The step's necessary work with `folders` folders of `groups` groups each.
    ///
    /// * Create: a POST per folder and per group, and per folder one read of its namespace
    ///   after its groups are written — Grafana 8.5 gives new rules their uids (it refuses
    ///   client-chosen ones) and one namespace GET answers all of a folder's groups. Chain:
    ///   folder, then its groups, then the read-back.
    /// * No-change plan: nothing after the plan's reads.
    /// * Update of every group: a POST per group; its rules keep their uids, so nothing is
    ///   read back. Chain: 1.
    /// * Prune: per folder a lookup of its title by uid (the ruler API addresses folders by
    ///   title and answers 202 when nothing matched, so a title gone stale since the plan would
    ///   delete another folder's group) and its DELETE; a DELETE per group; and once for all
    ///   the folders, the dashboards and the library panels Grafana would delete with them
    ///   without asking (one search, one library-element list). Chain: the lookup, the group
    ///   deletes, then the folder's (Grafana refuses to delete a folder holding rules).
    fn of_step(step: usize, folders: u64, groups_per_folder: u64) -> NecessaryWork {
        let groups = folders * groups_per_folder;
        match step {
            0 => NecessaryWork { requests: 2 * folders + groups, depth: 3 },
            2 => NecessaryWork { requests: groups, depth: 1 },
            3 => NecessaryWork { requests: 2 * folders + groups + 2, depth: 3 },
            _ => NecessaryWork { requests: 0, depth: 0 },
        }
    }

    /// The fewest round trips the step takes at `parallelism`, its plan included: the plan's
    /// reads are independent (one round trip), except that each further page of the folder
    /// list (1,000 folders a page; a full page means asking for the next) needs the page before.
    fn round_trips(self, folders: u64, parallelism: u64) -> u64 {
        let plan = folders / 1000 + 1;
        plan + self.depth.max(self.requests.div_ceil(parallelism))
    }
}

fn limit(scale: Scale, step: usize, options: &Options) -> Option<Duration> {
    limit_of(step, scale.folders as u64, scale.groups as u64, options)
}

fn limit_of(step: usize, folders: u64, groups_per_folder: u64, options: &Options) -> Option<Duration> {
    if options.latency_ms == 0 {
        return None;
    }
    let work = NecessaryWork::of_step(step, folders, groups_per_folder);
    let round_trips = work.round_trips(folders, options.parallelism as u64);
    Some(Duration::from_millis(options.latency_ms * round_trips))
}

fn set_latency(emulator: &Emulator, latency_ms: u64) -> Result<(), String> {
    set_faults(emulator.port, &format!(r#"{{"seed":1,"latency":{{"kind":"fixed","ms":{latency_ms}}},"rules":[]}}"#))
}

/// mac.toml: `state_config` (the `project` and `[state]` of a store other than the file, or
/// nothing), then the emulator's provider.
fn write_project(project: &Path, emulator: &Emulator, state_config: &str) -> Result<(), String> {
    std::fs::create_dir_all(project.join("definitions")).map_err(|err| err.to_string())?;
    std::fs::write(
        project.join("mac.toml"),
        format!(
            "{state_config}[providers.grafana8]\nurl = \"{}\"\nbasic = {{ user = \"admin\", password = {{ env = \"GRAFANA_PASSWORD\" }} }}\n",
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

/// `mac` in `project`, with the state where `state` says and its saves reported there.
fn mac_command(mac: &Path, project: &Path, state: &ProjectState) -> Command {
    let mut command = Command::new(mac);
    command.current_dir(project).env("GRAFANA_PASSWORD", "admin").env("NO_COLOR", "1");
    command.env(STATE_STATS_VARIABLE, &state.stats);
    set_state_url(&mut command, state.url.as_deref());
    command
}

/// Runs `mac` once with the emulator's counter reset and the store's report emptied, and
/// measures it.
fn measured(
    mac: &Path,
    project: &Path,
    state: &ProjectState,
    emulator: &Emulator,
    args: &[&str],
    expected_codes: &[i32],
) -> Result<Measure, String> {
    http(emulator.port, "DELETE", "/__emulator/requests", None)?;
    let _ = std::fs::remove_file(&state.stats);
    let started = Instant::now();
    let mut child = mac_command(mac, project, state)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run mac: {err}"))?;
    let peak = PeakRss::sample(child.id());
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    let status = child.wait().map_err(|err| err.to_string())?;
    let wall = started.elapsed();
    let peak_rss_kib = peak.finish();
    if !status.code().is_some_and(|code| expected_codes.contains(&code)) {
        return Err(format!("`mac {}` exited with {status}:\n{stderr}", args.join(" ")));
    }
    Ok(Measure {
        wall,
        peak_rss_kib,
        requests: request_counts(emulator)?,
        exit_code: status.code(),
        saves: read_saves(&state.stats)?,
    })
}

/// The peak resident set of a child process, polled from `/proc/PID/status` (VmHWM) every
/// 2 ms on a thread of its own while it runs (a peak in the last 2 ms could be missed).
pub(crate) struct PeakRss {
    peak: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<()>,
}

impl PeakRss {
    pub(crate) fn sample(pid: u32) -> PeakRss {
        let peak = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, done) = (peak.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    if let Some(high_water) = vm_hwm_kib(pid) {
                        peak.fetch_max(high_water, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        PeakRss { peak, done, sampler }
    }

    /// Stops sampling (once the process has exited) and returns the peak, in KiB.
    pub(crate) fn finish(self) -> u64 {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.sampler.join();
        self.peak.load(Ordering::Relaxed)
    }
}

/// The high-water mark of the process's resident set, while it runs.
pub(crate) fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `GET /__emulator/requests`: `{"total":N,"requests":[{"method":…,"route":…,"count":…}]}`,
/// read without a JSON library (xtask has no dependencies).
pub(crate) fn request_counts(emulator: &Emulator) -> Result<Vec<(String, u64)>, String> {
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
    // The original keeps a state file: so does mac here, whatever `--state` says.
    let state = ProjectState { url: None, stats: scratch.join("peer-mac-saves.jsonl") };
    write_project(&project, &emulator, "")?;
    let layout = Scale { name: "peer", folders: FOLDERS, groups: ALERTS, rules: 1 };
    let parallelism = options.parallelism.to_string();
    let apply = ["apply", "--auto-approve", "--parallelism", &parallelism];
    let mut ours = Vec::new();
    write_definitions(&project, layout, |_| "0.5")?;
    ours.push(measured(mac, &project, &state, &emulator, &apply, &[0])?);
    ours.push(measured(mac, &project, &state, &emulator, &["plan", "--detailed-exitcode"], &[0])?);
    write_definitions(&project, layout, |_| "0.75")?;
    ours.push(measured(mac, &project, &state, &emulator, &apply, &[0])?);
    remove_definitions(&project)?;
    ours.push(measured(
        mac,
        &project,
        &state,
        &emulator,
        &[&apply[..], &["--allow-delete-all", "--allow-mass-delete"]].concat(),
        &[0],
    )?);

    let mut table = format!(
        "Side by side with the Python original (monitoring-as-code 0.0.2), {FOLDERS} folders × {ALERTS} alerts, one rule per group, {} ms latency, mac at parallelism {}:\n\n\
         | step | original: apply_s (in-process) | original: requests | mac: whole process | mac: requests | mac faster by | limit | best ratio the limit allows | share of the best |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        options.latency_ms, options.parallelism
    );
    let mut json = String::from("[");
    for (index, ((mode, apply_s, process_s, requests), measure)) in original.iter().zip(&ours).enumerate() {
        let ratio = apply_s / measure.wall.as_secs_f64();
        // The best mac could be: the original's time over the fewest round trips the step can
        // take at this parallelism (no target for the no-change plan, so no bound either).
        let limit = if index == PLAN_STEP { None } else { limit_of(index, FOLDERS as u64, ALERTS as u64, options) };
        let best = limit.map(|limit| apply_s / limit.as_secs_f64());
        let _ = writeln!(
            table,
            "| {mode} | {apply_s:.2} s | {requests} | {:.2} s | {} | {ratio:.1}× | {} | {} | {} |",
            measure.wall.as_secs_f64(),
            measure.total_requests(),
            limit.map_or_else(|| "–".to_owned(), |limit| format!("{:.2} s", limit.as_secs_f64())),
            best.map_or_else(|| "–".to_owned(), |best| format!("{best:.1}×")),
            best.map_or_else(|| "–".to_owned(), |best| format!("{:.0}%", 100.0 * ratio / best)),
        );
        if index > 0 {
            json.push(',');
        }
        let _ = write!(
            json,
            "{{\"step\":\"{mode}\",\"original_apply_s\":{apply_s:.4},\"original_process_s\":{process_s:.4},\"original_requests\":{requests},\"mac_s\":{:.4},\"mac_requests\":{},\"ratio\":{ratio:.2},\"limit_s\":{},\"best_ratio\":{}}}",
            measure.wall.as_secs_f64(),
            measure.total_requests(),
            limit.map_or_else(|| "null".to_owned(), |limit| format!("{:.4}", limit.as_secs_f64())),
            best.map_or_else(|| "null".to_owned(), |best| format!("{best:.2}")),
        );
    }
    json.push(']');
    Ok((table, json))
}

pub(crate) fn json_string(text: &str) -> String {
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
pub(crate) fn machine() -> String {
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

pub(crate) struct RemoveOnDrop(pub(crate) PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(latency_ms: u64, parallelism: usize) -> Options {
        Options { scales: Vec::new(), latency_ms, runs: 1, parallelism, peer: false, states: Vec::new() }
    }

    /// The limits the README's table quotes, worked out by hand from the formula's terms.
    #[test]
    fn limits_are_the_fewest_round_trips() {
        let at_20 = options(20, 8);
        let seconds = |scale: Scale, step: usize| limit(scale, step, &at_20).map(|limit| limit.as_secs_f64());
        let [small, medium, large] = SCALES;
        // M create: 1 plan round trip + ⌈(2 × 100 + 1,000) / 8⌉ = 150.
        assert_eq!(seconds(medium, 0), Some(151.0 * 0.02));
        assert_eq!(seconds(medium, 1), Some(0.02));
        // M update: 1 + ⌈1,000 / 8⌉.
        assert_eq!(seconds(medium, 2), Some(126.0 * 0.02));
        // M prune: 1 + ⌈(200 + 1,000 + 2) / 8⌉ = 1 + 151.
        assert_eq!(seconds(medium, 3), Some(152.0 * 0.02));
        // S create: 1 + ⌈120 / 8⌉; L create: 2 (a second folder page) + ⌈12,000 / 8⌉.
        assert_eq!(seconds(small, 0), Some(16.0 * 0.02));
        assert_eq!(seconds(large, 0), Some(1502.0 * 0.02));
        assert_eq!(seconds(large, 1), Some(2.0 * 0.02));
        // With more slots than requests the chain of dependent requests is what remains.
        let wide = options(20, 10_000);
        assert_eq!(limit(small, 0, &wide).map(|limit| limit.as_millis()), Some((1 + 3) * 20));
        assert_eq!(limit(small, 2, &wide).map(|limit| limit.as_millis()), Some((1 + 1) * 20));
        assert_eq!(limit(medium, 0, &options(0, 8)), None);
    }
}
