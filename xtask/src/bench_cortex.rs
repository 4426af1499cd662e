//! `cargo xtask bench --cortex [--scale S|M|L]… [--runs N] [--parallelism P]`: requests, wall
//! time and peak memory of the release `mac` managing one tenant's rule groups on a real Cortex
//! 1.21.1, beside mimirtool's approach on the same server (issue 21).
//!
//! Scales — S: 100 groups (5 namespaces of 20 groups), M: 1,000 groups (50 × 20), L: 10,000
//! groups (500 × 20) — each group of 10 alerting rules, one definitions file per namespace.
//! Each run starts a fresh Cortex (`mac_test_tools::cortex`, every component in one process on
//! loopback, rule groups on its filesystem backend; the ruler's poll every hour, so that it
//! never loads and evaluates the groups during a run: on 2 shared cores, its evaluations slow
//! the API by an amount that depends on where its first poll falls) and a fresh project for the
//! tenant `bench`, then times `mac`:
//!
//! 1. `apply` creating every group;
//! 2. a no-change `plan --detailed-exitcode` (it must exit 0);
//! 3. the same plan with `promtool = false`: the offline `promtool check rules` mac runs on
//!    every group at every load is left out, so its cost is the difference of the two rows;
//! 4. `apply` after every tenth rule's threshold changed (one rule in every group, so every
//!    group changes);
//! 5. `apply --allow-delete-all --allow-mass-delete` with no definitions left (a prune of all).
//!
//! A plan run after the prune must be empty too. Every step is a whole process (start-up,
//! loading and checking the project, state file) timed from spawn to exit; its requests are
//! counted from Cortex's own metrics, `cortex_request_duration_seconds_count` by method,
//! route and status (`GET /metrics` before and after, the difference; HTTP only — the metric
//! also counts the server's internal gRPC — and the `metrics` and `ready` routes left out), and its peak RSS is mac's VmHWM, polled every 2 ms (promtool's
//! child process is not in it).
//!
//! **Limit.** The fewest round trips any client needs for the step, each at the median time of
//! one such request measured on the same Cortex just before, one request at a time:
//! * a plan's read: 1 GET of the tenant's rule set (its groups are all in one answer), at the
//!   median of 20 GETs of that rule set at that size (empty before the create, full after it);
//! * an apply: that GET, then its N writes (one POST or DELETE per group, none depending on
//!   another) at parallelism P: ⌈N / P⌉ round trips, each at the median of 20 POSTs of one
//!   10-rule group (creates) or 20 DELETEs of one group, into a tenant of its own.
//!
//! So limit = GET + ⌈N / P⌉ × write ([`limit`]). It leaves out all local work (process
//! start, parsing, the promtool check, the state file) and assumes that P requests at once take
//! no longer than one: on a machine whose cores Cortex shares with mac, that is optimistic.
//!
//! **Baseline: mimirtool's approach.** `mimirtool rules sync` (grafana/mimir,
//! `pkg/mimirtool/commands/rules.go`, `syncRules` and `executeChanges`; requests in
//! `pkg/mimirtool/client/rules.go`) reads the tenant's whole rule set with one GET
//! (`ListRules(ctx, "")`, the rules prefix with no namespace), compares it with its files
//! locally, then sends one POST of the group per created or updated group and one DELETE per
//! deleted group, at most `--concurrency` at once (default 8, at most 32, since grafana/mimir
//! pull request 3996 of January 2023; sequential before, as in cortex-tools). `rules diff` is
//! the GET alone. mimirtool cannot be installed here (it is AGPL, not built), so the bench
//! sends exactly those requests itself, on the same server, into tenants of its own: one GET
//! read whole, then the step's writes, once one at a time (`--concurrency 1`, and every
//! mimirtool before 2023) and once at P (mimirtool's default when P is 8). What this leaves out
//! of mimirtool's time — its process start, parsing its YAML files and the GET's answer,
//! comparing — makes the baseline a lower bound: mimirtool's network part. It uses a new
//! connection per request (Go's client keeps them alive; on loopback a connect is some tens of
//! microseconds). The first GET of a large rule set after writes is slower than the next
//! ones (at M 0.5 s, then 0.15–0.2 s), so each side's no-change read comes after 20 GETs of
//! the same rule set: mac's after the round trips measured for its limit, the baseline's after
//! as many of its own.
//!
//! Results: a markdown table on stdout and JSON in `target/bench/bench-cortex-….json`. Nothing
//! here is a test.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mac_test_tools::CORTEX_VERSION;
use mac_test_tools::cortex::{BIN_VARIABLE, CortexOptions, CortexServer};

use crate::bench::{RemoveOnDrop, json_string, machine};

#[derive(Clone, Copy, Debug)]
struct Scale {
    name: &'static str,
    namespaces: usize,
    /// Groups per namespace.
    groups: usize,
    /// Rules per group.
    rules: usize,
}

impl Scale {
    fn groups(self) -> usize {
        self.namespaces * self.groups
    }
}

const SCALES: [Scale; 3] = [
    Scale { name: "S", namespaces: 5, groups: 20, rules: 10 },
    Scale { name: "M", namespaces: 50, groups: 20, rules: 10 },
    Scale { name: "L", namespaces: 500, groups: 20, rules: 10 },
];

/// What a step asks of the server, for its limit and its baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    /// The GET of an empty tenant, then a POST per group.
    Create,
    /// The GET of the whole rule set.
    Read,
    /// The GET, then a POST per group.
    Update,
    /// The GET, then a DELETE per group.
    Prune,
}

struct Step {
    name: &'static str,
    work: Work,
}

const STEPS: [Step; 5] = [
    Step { name: "apply (create)", work: Work::Create },
    Step { name: "plan (no change)", work: Work::Read },
    Step { name: "plan (no change), promtool = false", work: Work::Read },
    Step { name: "apply (10% thresholds)", work: Work::Update },
    Step { name: "apply (prune all)", work: Work::Prune },
];

/// The baseline's steps, in the order run.
const BASELINE_WORK: [Work; 4] = [Work::Create, Work::Read, Work::Update, Work::Prune];

/// The tenant mac's project manages.
const TENANT: &str = "bench";

/// How often the ruler rereads the stored groups: never during a run. Once it has loaded them
/// it evaluates them (100,000 rules at L) on the cores the API and mac use, and slows both by
/// an amount that depends on where its first poll falls; the API's own work is what is measured.
const RULER_POLL: Duration = Duration::from_secs(3600);

/// How many single requests each round-trip time is the median of.
const ROUND_TRIP_SAMPLES: usize = 20;

struct Options {
    scales: Vec<Scale>,
    runs: usize,
    parallelism: usize,
}

/// The median time of one request of each kind, measured one at a time just before the steps
/// that send them.
#[derive(Clone, Copy, Debug, Default)]
struct RoundTrips {
    /// GET of the rule set of a tenant with no groups (Cortex answers 404).
    get_empty: Duration,
    /// GET of the whole rule set at the scale's size.
    get_full: Duration,
    /// POST of one 10-rule group (a create).
    post: Duration,
    /// DELETE of one group.
    delete: Duration,
}

/// One measured step: a `mac` process, or the baseline's requests.
#[derive(Clone, Debug, Default)]
struct Measure {
    wall: Duration,
    /// mac's VmHWM; 0 for the baseline (the bench's own process).
    peak_rss_kib: u64,
    /// `METHOD route status` and how many, most first.
    requests: Vec<(String, u64)>,
}

impl Measure {
    fn total_requests(&self) -> u64 {
        self.requests.iter().map(|(_, count)| count).sum()
    }
}

struct RunMeasures {
    mac: Vec<Measure>,
    sequential: Vec<Measure>,
    parallel: Vec<Measure>,
    trips: RoundTrips,
    /// The size of the GET's answer with every group in.
    full_get_bytes: usize,
}

pub(crate) fn run(args: &[String], mac: &Path, target: &Path) -> Result<(), String> {
    let options = parse(args)?;
    let cortex_binary = cortex_binary()?;
    let scratch = std::env::temp_dir().join(format!("mac-bench-cortex-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(scratch.clone());
    std::fs::create_dir_all(&scratch).map_err(|err| err.to_string())?;
    let parallelism = options.parallelism;

    let mut table = format!(
        "| scale | step | mac: wall (median of {runs}) | mac: requests | limit | mac / limit | mimirtool's approach, sequential | mimirtool's approach, {parallelism} at once | mac / sequential | mac / {parallelism} at once | mac: peak RSS |\n\
         |---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
        runs = options.runs
    );
    let mut trips_table = String::from(
        "| scale | groups | rules | GET answer, whole rule set | GET, empty tenant | GET, whole rule set | POST of one group | DELETE of one group |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut json = String::from("{\"machine\":");
    json.push_str(&json_string(&machine()));
    let _ = write!(
        json,
        ",\"cortex\":\"{CORTEX_VERSION}\",\"parallelism\":{parallelism},\"runs\":{},\"scales\":[",
        options.runs
    );
    for (scale_index, scale) in options.scales.iter().enumerate() {
        eprintln!(
            "bench --cortex: scale {} ({} namespaces × {} groups × {} rules), {} runs, parallelism {parallelism}",
            scale.name, scale.namespaces, scale.groups, scale.rules, options.runs
        );
        let mut runs = Vec::new();
        for run in 0..options.runs {
            runs.push(run_scale(mac, &cortex_binary, &scratch, *scale, parallelism, run)?);
        }
        let summary = Summary::new(*scale, &runs, parallelism);
        for step_index in 0..STEPS.len() {
            let _ = writeln!(table, "{}", summary.row(step_index));
        }
        let _ = writeln!(trips_table, "{}", summary.trips_row());
        if scale_index > 0 {
            json.push(',');
        }
        json.push_str(&summary.json());
    }
    json.push_str("]}\n");

    println!(
        "\n`mac` release build, Cortex {CORTEX_VERSION} on loopback (one process, filesystem rule storage), tenant `{TENANT}`, \
         parallelism {parallelism}; {}\n",
        machine()
    );
    print!("{table}");
    println!(
        "\nlimit: the tenant's GET + ⌈groups / {parallelism}⌉ × one write (POST for create and update, DELETE for the prune), \
         each the median of {ROUND_TRIP_SAMPLES} single requests on the same Cortex just before (below); the plans, the GET \
         alone.\nmimirtool's approach: what `mimirtool rules sync` sends — one GET of the tenant's rule set, then one POST \
         per created or changed group and one DELETE per deleted group — sent by the bench itself on the same server, one \
         at a time and {parallelism} at once (mimirtool's --concurrency, default 8); its local work (files, parsing, \
         comparing) is not in it: a lower bound on mimirtool's time. For the plans, the GET alone (what `rules diff` \
         sends).\n\nround trips (medians of {ROUND_TRIP_SAMPLES}, one request at a time, of the last run):\n"
    );
    print!("{trips_table}");
    let out_dir = target.join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|err| err.to_string())?;
    let names: Vec<&str> = options.scales.iter().map(|scale| scale.name).collect();
    let out = out_dir.join(format!("bench-cortex-{}.json", names.join("")));
    std::fs::write(&out, json).map_err(|err| format!("cannot write {}: {err}", out.display()))?;
    println!("\nJSON: {}", out.display());
    Ok(())
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options { scales: Vec::new(), runs: 3, parallelism: 8 };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
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
            "--runs" => options.runs = number()?.max(1) as usize,
            // mac's own bounds for --parallelism.
            "--parallelism" => options.parallelism = number()?.clamp(1, 256) as usize,
            other => {
                return Err(format!(
                    "unknown option `{other}` with --cortex (--scale S|M|L, --runs N, --parallelism P)"
                ));
            }
        }
    }
    if options.scales.is_empty() {
        options.scales = vec![SCALES[0], SCALES[1]];
    }
    Ok(options)
}

/// `MAC_CORTEX_BIN` when set (it must be the pinned version), else the one `cargo xtask cortex
/// build` makes, built now when missing.
fn cortex_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(BIN_VARIABLE).filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        return match mac_test_tools::cortex_version(&path) {
            Some(version) if version == CORTEX_VERSION => Ok(path),
            found => Err(format!("{BIN_VARIABLE}={} is not Cortex {CORTEX_VERSION} ({found:?})", path.display())),
        };
    }
    crate::cortex::ensure()?;
    let bin = mac_test_tools::expand_home(mac_test_tools::TOOLS_BIN)
        .ok_or("HOME is not set: Cortex is built into $HOME/.cache/mac/tools/bin")?;
    Ok(bin.join("cortex"))
}

/// One run of one scale: a fresh Cortex, the round trips measured, mac's five steps, then the
/// baseline one at a time and P at once, each in a tenant of its own.
fn run_scale(
    mac: &Path,
    cortex_binary: &Path,
    scratch: &Path,
    scale: Scale,
    parallelism: usize,
    run: usize,
) -> Result<RunMeasures, String> {
    let cortex = CortexServer::start_binary(
        cortex_binary,
        &CortexOptions {
            evaluation_interval: Duration::from_secs(60),
            poll_interval: RULER_POLL,
            ..CortexOptions::default()
        },
    )?;
    let project = scratch.join(format!("{}-{run}", scale.name));
    let _cleanup = RemoveOnDrop(project.clone());
    std::fs::create_dir_all(project.join("definitions")).map_err(|err| err.to_string())?;
    write_settings(&project, &cortex, true)?;

    let mut trips = RoundTrips {
        get_empty: median_time(ROUND_TRIP_SAMPLES, |_| expect(&cortex, "GET", "/api/v1/rules", TENANT, None, 404))?,
        ..RoundTrips::default()
    };
    let one_group = group_yaml(scale, 0, 0, |_| "0.5");
    trips.post = median_time(ROUND_TRIP_SAMPLES, |index| {
        let group = one_group.replacen("name: group-000", &format!("name: calibration-{index}"), 1);
        expect(&cortex, "POST", "/api/v1/rules/calibration", "calibration", Some(&group), 202)
    })?;
    trips.delete = median_time(ROUND_TRIP_SAMPLES, |index| {
        expect(&cortex, "DELETE", &format!("/api/v1/rules/calibration/calibration-{index}"), "calibration", None, 202)
    })?;

    let apply_parallelism = parallelism.to_string();
    let apply = ["apply", "--auto-approve", "--parallelism", apply_parallelism.as_str()];
    let plan = ["plan", "--detailed-exitcode"];
    let mut steps = Vec::new();
    write_definitions(&project, scale, |_| "0.5")?;
    steps.push(measured(mac, &project, &cortex, &apply)?);
    // The whole rule set, as the plans about to run read it.
    let full = cortex.get("/api/v1/rules", TENANT);
    if full.status != 200 {
        return Err(format!("GET /api/v1/rules after the create: {} {}", full.status, full.body));
    }
    let full_get_bytes = full.body.len();
    let stored = full.body.matches("- alert: ").count();
    if stored != scale.groups() * scale.rules {
        return Err(format!("after the create Cortex holds {stored} rules, not {}", scale.groups() * scale.rules));
    }
    trips.get_full = median_time(ROUND_TRIP_SAMPLES, |_| expect(&cortex, "GET", "/api/v1/rules", TENANT, None, 200))?;
    steps.push(measured(mac, &project, &cortex, &plan)?);
    write_settings(&project, &cortex, false)?;
    steps.push(measured(mac, &project, &cortex, &plan)?);
    write_settings(&project, &cortex, true)?;
    write_definitions(&project, scale, changed_threshold)?;
    steps.push(measured(mac, &project, &cortex, &apply)?);
    let _ = std::fs::remove_dir_all(project.join("definitions"));
    std::fs::create_dir_all(project.join("definitions")).map_err(|err| err.to_string())?;
    steps.push(measured(
        mac,
        &project,
        &cortex,
        &[&apply[..], &["--allow-delete-all", "--allow-mass-delete"]].concat(),
    )?);
    measured(mac, &project, &cortex, &plan)?;
    let left = cortex.get("/api/v1/rules", TENANT);
    if left.status != 404 {
        return Err(format!("after the prune the tenant still answers {}: {}", left.status, left.body));
    }

    let sequential = baseline(&cortex, scale, "mimirtool-sequential", 1)?;
    let parallel = baseline(&cortex, scale, &format!("mimirtool-{parallelism}"), parallelism)?;
    eprintln!(
        "bench --cortex: {} run {}: mac {}; mimirtool's approach sequential {}, {parallelism} at once {}",
        scale.name,
        run + 1,
        seconds_list(&steps),
        seconds_list(&sequential),
        seconds_list(&parallel)
    );
    Ok(RunMeasures { mac: steps, sequential, parallel, trips, full_get_bytes })
}

fn seconds_list(measures: &[Measure]) -> String {
    measures.iter().map(|measure| format!("{:.2} s", measure.wall.as_secs_f64())).collect::<Vec<_>>().join(", ")
}

/// Every tenth rule (over the whole project) gets a new threshold: with 10 rules a group, the
/// first rule of every group.
fn changed_threshold(rule: usize) -> &'static str {
    if rule.is_multiple_of(10) { "0.75" } else { "0.5" }
}

/// mac.toml for the tenant, with or without the offline promtool check.
fn write_settings(project: &Path, cortex: &CortexServer, promtool: bool) -> Result<(), String> {
    let promtool = if promtool { "" } else { "promtool = false\n" };
    std::fs::write(
        project.join("mac.toml"),
        format!("[providers.cortex]\nurl = \"{}\"\ntenant = \"{TENANT}\"\n{promtool}", cortex.url()),
    )
    .map_err(|err| err.to_string())
}

fn namespace_name(namespace: usize) -> String {
    format!("team-{namespace:03}")
}

/// One definitions file per namespace, as people split them.
fn write_definitions(project: &Path, scale: Scale, threshold: impl Fn(usize) -> &'static str) -> Result<(), String> {
    for namespace in 0..scale.namespaces {
        let mut text = String::new();
        for group in 0..scale.groups {
            let _ = write!(
                text,
                "[[cortex.rule_group]]\nid = \"n{namespace:03}-g{group:03}\"\nnamespace = \"{}\"\nname = \"group-{group:03}\"\ninterval = \"1m\"\n\n",
                namespace_name(namespace)
            );
            for rule in 0..scale.rules {
                let global = (namespace * scale.groups + group) * scale.rules + rule;
                let _ = write!(
                    text,
                    "[[cortex.rule_group.rules]]\nalert = \"BenchRule{rule}\"\nexpr = '{}'\nfor = \"5m\"\nlabels = {{ team = \"bench\", severity = \"warning\" }}\nannotations = {{ summary = \"rule {rule} of group {group}\" }}\n\n",
                    expression(namespace, group, rule, threshold(global))
                );
            }
        }
        std::fs::write(project.join(format!("definitions/{}.toml", namespace_name(namespace))), text)
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

fn expression(namespace: usize, group: usize, rule: usize, threshold: &str) -> String {
    format!("rate(http_requests_total{{job=\"n{namespace}-g{group}-r{rule}\"}}[5m]) > {threshold}")
}

/// A group as mimirtool POSTs it: the same rules as the definitions, in the ruler's YAML.
fn group_yaml(scale: Scale, namespace: usize, group: usize, threshold: impl Fn(usize) -> &'static str) -> String {
    let mut text = format!("name: group-{group:03}\ninterval: 1m\nrules:\n");
    for rule in 0..scale.rules {
        let global = (namespace * scale.groups + group) * scale.rules + rule;
        let _ = write!(
            text,
            "    - alert: BenchRule{rule}\n      expr: '{}'\n      for: 5m\n      labels:\n        severity: warning\n        team: bench\n      annotations:\n        summary: rule {rule} of group {group}\n",
            expression(namespace, group, rule, threshold(global))
        );
    }
    text
}

/// One request the baseline sends.
struct Request {
    method: &'static str,
    path: String,
    body: Option<String>,
    status: u16,
}

/// mimirtool's approach, step by step, in `tenant`: per step one GET of the rule set read
/// whole, then the step's writes `concurrency` at once.
fn baseline(cortex: &CortexServer, scale: Scale, tenant: &str, concurrency: usize) -> Result<Vec<Measure>, String> {
    let mut measures = Vec::new();
    for work in BASELINE_WORK {
        let writes: Vec<Request> = match work {
            Work::Read => Vec::new(),
            Work::Create | Work::Update => {
                let threshold: fn(usize) -> &'static str =
                    if work == Work::Create { |_| "0.5" } else { changed_threshold };
                groups(scale)
                    .map(|(namespace, group)| Request {
                        method: "POST",
                        path: format!("/api/v1/rules/{}", namespace_name(namespace)),
                        body: Some(group_yaml(scale, namespace, group, threshold)),
                        status: 202,
                    })
                    .collect()
            }
            Work::Prune => groups(scale)
                .map(|(namespace, group)| Request {
                    method: "DELETE",
                    path: format!("/api/v1/rules/{}/group-{group:03}", namespace_name(namespace)),
                    body: None,
                    status: 202,
                })
                .collect(),
        };
        if work == Work::Read {
            // As before mac's plan (the round trips are measured there): the first GET of a
            // large rule set after the writes is slower than the next ones (0.5 s against
            // 0.15–0.2 s at M), and both sides should meet the same server.
            median_time(ROUND_TRIP_SAMPLES, |_| expect(cortex, "GET", "/api/v1/rules", tenant, None, 200))?;
        }
        let before = request_counts(cortex)?;
        let started = Instant::now();
        let read = cortex.get("/api/v1/rules", tenant);
        if !matches!(read.status, 200 | 404) {
            return Err(format!("GET /api/v1/rules as {tenant}: {} {}", read.status, read.body));
        }
        send_all(cortex, tenant, &writes, concurrency)?;
        let wall = started.elapsed();
        measures.push(Measure { wall, peak_rss_kib: 0, requests: difference(&before, &request_counts(cortex)?) });
    }
    Ok(measures)
}

/// (namespace, group) of every group, in order.
fn groups(scale: Scale) -> impl Iterator<Item = (usize, usize)> {
    (0..scale.namespaces).flat_map(move |namespace| (0..scale.groups).map(move |group| (namespace, group)))
}

/// Sends `requests` in order with `concurrency` workers, each taking the next request when its
/// last one is answered (mimirtool's `concurrency.ForEachJob`); stops at the first failure.
fn send_all(cortex: &CortexServer, tenant: &str, requests: &[Request], concurrency: usize) -> Result<(), String> {
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..concurrency.min(requests.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(index) else { return };
                    if let Err(err) =
                        expect(cortex, request.method, &request.path, tenant, request.body.as_deref(), request.status)
                    {
                        let mut failure = failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        failure.get_or_insert(err);
                        // The others stop at their next request.
                        next.store(requests.len(), Ordering::Relaxed);
                        return;
                    }
                }
            });
        }
    });
    match failure.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// One request as `tenant`, which must be answered with `status`.
fn expect(
    cortex: &CortexServer,
    method: &str,
    path: &str,
    tenant: &str,
    body: Option<&str>,
    status: u16,
) -> Result<(), String> {
    let answer = cortex.request(method, path, Some(tenant), body.map(|body| ("application/yaml", body.as_bytes())));
    if answer.status == status {
        return Ok(());
    }
    Err(format!("{method} {path} as {tenant}: {} (expected {status}) {}", answer.status, answer.body.trim()))
}

/// The median time of `samples` calls of `request` (given its index), one at a time.
fn median_time(samples: usize, mut request: impl FnMut(usize) -> Result<(), String>) -> Result<Duration, String> {
    let mut times = Vec::with_capacity(samples);
    for index in 0..samples {
        let started = Instant::now();
        request(index)?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Runs `mac args` in `project` and measures it: wall time, peak RSS, and the requests Cortex
/// counted meanwhile. A plan must exit 0 (`--detailed-exitcode`: no change), as must an apply.
fn measured(mac: &Path, project: &Path, cortex: &CortexServer, args: &[&str]) -> Result<Measure, String> {
    let before = request_counts(cortex)?;
    let started = Instant::now();
    let mut child = Command::new(mac)
        .current_dir(project)
        .env("NO_COLOR", "1")
        .env_remove("MAC_CORTEX_URL")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run mac: {err}"))?;
    let peak = crate::bench::PeakRss::sample(child.id());
    // Both pipes read at once, so that neither fills up while the other is read.
    let stdout = child.stdout.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            text
        })
    });
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    let stdout = stdout.and_then(|reader| reader.join().ok()).unwrap_or_default();
    let status = child.wait().map_err(|err| err.to_string())?;
    let wall = started.elapsed();
    let peak_rss_kib = peak.finish();
    if !status.success() {
        let tail: Vec<&str> = stdout.lines().rev().take(20).collect();
        return Err(format!(
            "`mac {}` exited with {status}:\n{}\n{stderr}",
            args.join(" "),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(Measure { wall, peak_rss_kib, requests: difference(&before, &request_counts(cortex)?) })
}

/// Cortex's count of requests served so far, by `METHOD route status`, from its metric
/// `cortex_request_duration_seconds_count{method,route,status_code,ws}`: HTTP only, the
/// `metrics` and `ready` routes (the bench's own) left out.
fn request_counts(cortex: &CortexServer) -> Result<BTreeMap<String, u64>, String> {
    let answer = cortex.request("GET", "/metrics", None, None);
    if answer.status != 200 {
        return Err(format!("GET /metrics: {}", answer.status));
    }
    Ok(parse_request_counts(&answer.body))
}

fn parse_request_counts(metrics: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("cortex_request_duration_seconds_count{") else { continue };
        let Some((labels, value)) = rest.rsplit_once('}') else { continue };
        let label = |name: &str| {
            labels.split(',').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                (key.trim() == name).then(|| value.trim().trim_matches('"').to_owned())
            })
        };
        let (Some(method), Some(route), Some(status)) = (label("method"), label("route"), label("status_code")) else {
            continue;
        };
        // The bench's own routes, and the server's internal gRPC (the ruler querying the
        // ingester as it evaluates, the health checks): not requests of a client.
        if route == "metrics" || route == "ready" || method == "gRPC" {
            continue;
        }
        // Counters are integers, printed by Go as such or in exponent form once large.
        let Ok(count) = value.trim().parse::<f64>() else { continue };
        *counts.entry(format!("{method} {route} {status}")).or_insert(0) += count as u64;
    }
    counts
}

/// What `after` counts beyond `before`, most first.
fn difference(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    let mut counts: Vec<(String, u64)> = after
        .iter()
        .map(|(key, count)| (key.clone(), count.saturating_sub(before.get(key).copied().unwrap_or(0))))
        .filter(|(_, count)| *count > 0)
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// The fewest round trips any client needs for `work` with `groups` groups at `parallelism`,
/// each at the time `trips` measured: the GET (whose answer holds every group), then
/// ⌈groups / parallelism⌉ rounds of independent writes.
fn limit(work: Work, groups: u64, parallelism: u64, trips: &RoundTrips) -> Duration {
    let rounds = u32::try_from(groups.div_ceil(parallelism.max(1))).unwrap_or(u32::MAX);
    match work {
        Work::Create => trips.get_empty + trips.post * rounds,
        Work::Read => trips.get_full,
        Work::Update => trips.get_full + trips.post * rounds,
        Work::Prune => trips.get_full + trips.delete * rounds,
    }
}

fn median(mut durations: Vec<Duration>) -> Duration {
    durations.sort();
    durations.get(durations.len() / 2).copied().unwrap_or_default()
}

fn baseline_index(work: Work) -> usize {
    BASELINE_WORK.iter().position(|each| *each == work).unwrap_or(0)
}

/// A scale's runs, summed up.
struct Summary<'a> {
    scale: Scale,
    runs: &'a [RunMeasures],
    parallelism: usize,
}

impl<'a> Summary<'a> {
    fn new(scale: Scale, runs: &'a [RunMeasures], parallelism: usize) -> Summary<'a> {
        Summary { scale, runs, parallelism }
    }

    fn mac_median(&self, step: usize) -> Duration {
        median(self.runs.iter().map(|run| run.mac[step].wall).collect())
    }

    fn limit(&self, step: usize) -> Duration {
        let groups = self.scale.groups() as u64;
        median(
            self.runs.iter().map(|run| limit(STEPS[step].work, groups, self.parallelism as u64, &run.trips)).collect(),
        )
    }

    fn baseline_median(&self, step: usize, parallel: bool) -> Duration {
        let index = baseline_index(STEPS[step].work);
        median(
            self.runs
                .iter()
                .map(|run| if parallel { run.parallel[index].wall } else { run.sequential[index].wall })
                .collect(),
        )
    }

    fn row(&self, step: usize) -> String {
        let last = &self.runs[self.runs.len() - 1];
        let mac = self.mac_median(step);
        let limit = self.limit(step);
        let sequential = self.baseline_median(step, false);
        let parallel = self.baseline_median(step, true);
        let routes = last.mac[step]
            .requests
            .iter()
            .map(|(route, count)| format!("`{route}` ×{count}"))
            .collect::<Vec<_>>()
            .join(", ");
        let peak = self.runs.iter().map(|run| run.mac[step].peak_rss_kib).max().unwrap_or(0);
        let ratio = |other: Duration| format!("{:.2}×", mac.as_secs_f64() / other.as_secs_f64());
        format!(
            "| {} | {} | {:.2} s | {}: {routes} | {:.3} s | {} | {:.2} s | {:.2} s | {} | {} | {} MB |",
            self.scale.name,
            STEPS[step].name,
            mac.as_secs_f64(),
            last.mac[step].total_requests(),
            limit.as_secs_f64(),
            ratio(limit),
            sequential.as_secs_f64(),
            parallel.as_secs_f64(),
            ratio(sequential),
            ratio(parallel),
            peak / 1024,
        )
    }

    fn trips_row(&self) -> String {
        let last = &self.runs[self.runs.len() - 1];
        let ms = |duration: Duration| format!("{:.1} ms", duration.as_secs_f64() * 1000.0);
        format!(
            "| {} | {} | {} | {} kB | {} | {} | {} | {} |",
            self.scale.name,
            self.scale.groups(),
            self.scale.groups() * self.scale.rules,
            last.full_get_bytes / 1000,
            ms(last.trips.get_empty),
            ms(last.trips.get_full),
            ms(last.trips.post),
            ms(last.trips.delete),
        )
    }

    fn json(&self) -> String {
        let seconds = |durations: Vec<Duration>| {
            durations.iter().map(|duration| format!("{:.4}", duration.as_secs_f64())).collect::<Vec<_>>().join(",")
        };
        let requests = |measure: &Measure| {
            measure
                .requests
                .iter()
                .map(|(route, count)| format!("{}:{count}", json_string(route)))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut json = format!(
            "{{\"scale\":\"{}\",\"namespaces\":{},\"groups\":{},\"rules\":{},\"round_trips\":[{}],\"steps\":[",
            self.scale.name,
            self.scale.namespaces,
            self.scale.groups(),
            self.scale.groups() * self.scale.rules,
            self.runs
                .iter()
                .map(|run| format!(
                    "{{\"get_empty_s\":{:.5},\"get_full_s\":{:.5},\"post_s\":{:.5},\"delete_s\":{:.5},\"get_full_bytes\":{}}}",
                    run.trips.get_empty.as_secs_f64(),
                    run.trips.get_full.as_secs_f64(),
                    run.trips.post.as_secs_f64(),
                    run.trips.delete.as_secs_f64(),
                    run.full_get_bytes
                ))
                .collect::<Vec<_>>()
                .join(",")
        );
        let last = &self.runs[self.runs.len() - 1];
        for (index, step) in STEPS.iter().enumerate() {
            if index > 0 {
                json.push(',');
            }
            let baseline = baseline_index(step.work);
            let _ = write!(
                json,
                "{{\"step\":{},\"mac_wall_s\":[{}],\"mac_median_s\":{:.4},\"limit_s\":{:.4},\"mac_peak_rss_kib\":[{}],\"mac_requests\":{{{}}},\"mimirtool_sequential_s\":[{}],\"mimirtool_parallel_s\":[{}],\"mimirtool_requests\":{{{}}}}}",
                json_string(step.name),
                seconds(self.runs.iter().map(|run| run.mac[index].wall).collect()),
                self.mac_median(index).as_secs_f64(),
                self.limit(index).as_secs_f64(),
                self.runs.iter().map(|run| run.mac[index].peak_rss_kib.to_string()).collect::<Vec<_>>().join(","),
                requests(&last.mac[index]),
                seconds(self.runs.iter().map(|run| run.sequential[baseline].wall).collect()),
                seconds(self.runs.iter().map(|run| run.parallel[baseline].wall).collect()),
                requests(&last.sequential[baseline]),
            );
        }
        json.push_str("]}");
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limit is the GET plus ⌈groups / P⌉ rounds of single writes, each at its measured
    /// median.
    #[test]
    fn limits_are_one_get_and_rounds_of_parallel_writes() {
        let trips = RoundTrips {
            get_empty: Duration::from_millis(1),
            get_full: Duration::from_millis(30),
            post: Duration::from_millis(4),
            delete: Duration::from_millis(2),
        };
        let [small, medium, large] = SCALES;
        let groups = |scale: Scale| scale.groups() as u64;
        assert_eq!((groups(small), groups(medium), groups(large)), (100, 1_000, 10_000));
        // M at 8: 1 + ⌈1,000 / 8⌉ = 125 rounds of POSTs after the GET of the empty tenant.
        assert_eq!(limit(Work::Create, groups(medium), 8, &trips), Duration::from_millis(1 + 125 * 4));
        // A plan is the GET alone, whatever the number of groups.
        assert_eq!(limit(Work::Read, groups(large), 8, &trips), Duration::from_millis(30));
        assert_eq!(limit(Work::Update, groups(medium), 8, &trips), Duration::from_millis(30 + 125 * 4));
        assert_eq!(limit(Work::Prune, groups(medium), 8, &trips), Duration::from_millis(30 + 125 * 2));
        // A last, partial round counts whole: S at 8 is ⌈100 / 8⌉ = 13 rounds; one at a time, 100.
        assert_eq!(limit(Work::Update, groups(small), 8, &trips), Duration::from_millis(30 + 13 * 4));
        assert_eq!(limit(Work::Prune, groups(small), 1, &trips), Duration::from_millis(30 + 100 * 2));
        // With more slots than groups, one round.
        assert_eq!(limit(Work::Create, groups(small), 256, &trips), Duration::from_millis(1 + 4));
    }

    #[test]
    fn request_counts_are_read_from_cortex_metrics() {
        let metrics = "# HELP cortex_request_duration_seconds Time (in seconds) spent serving HTTP requests.\n\
            cortex_request_duration_seconds_bucket{method=\"GET\",route=\"api_v1_rules\",status_code=\"200\",ws=\"false\",le=\"0.005\"} 3\n\
            cortex_request_duration_seconds_count{method=\"DELETE\",route=\"api_v1_rules_namespace_groupname\",status_code=\"202\",ws=\"false\"} 1000\n\
            cortex_request_duration_seconds_count{method=\"GET\",route=\"api_v1_rules\",status_code=\"200\",ws=\"false\"} 4\n\
            cortex_request_duration_seconds_count{method=\"GET\",route=\"metrics\",status_code=\"200\",ws=\"false\"} 9\n\
            cortex_request_duration_seconds_count{method=\"gRPC\",route=\"/cortex.Ingester/QueryStream\",status_code=\"success\",ws=\"false\"} 44098\n\
            cortex_request_duration_seconds_count{method=\"POST\",route=\"api_v1_rules_namespace\",status_code=\"202\",ws=\"false\"} 1.2e+06\n";
        let after = parse_request_counts(metrics);
        assert_eq!(after.len(), 3, "{after:?}");
        assert_eq!(after.get("POST api_v1_rules_namespace 202"), Some(&1_200_000));
        let before = BTreeMap::from([
            ("GET api_v1_rules 200".to_owned(), 3),
            ("DELETE api_v1_rules_namespace_groupname 202".to_owned(), 1000),
        ]);
        assert_eq!(
            difference(&before, &after),
            [("POST api_v1_rules_namespace 202".to_owned(), 1_200_000), ("GET api_v1_rules 200".to_owned(), 1)]
        );
    }

    #[test]
    fn every_tenth_rule_changes_one_rule_in_every_group() {
        let [small, ..] = SCALES;
        let changed = (0..small.groups() * small.rules).filter(|rule| changed_threshold(*rule) == "0.75").count();
        assert_eq!(changed, small.groups());
        let group = group_yaml(small, 1, 2, changed_threshold);
        assert!(group.starts_with("name: group-002\ninterval: 1m\n"), "{group}");
        assert_eq!(group.matches("> 0.75'").count(), 1, "{group}");
    }
}
