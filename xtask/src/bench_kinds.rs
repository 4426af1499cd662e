//! `cargo xtask bench --kinds [--counts 10,100] [--latency-ms N]`: what a no-change plan
//! costs per grafana8 kind, in requests (issue 20).
//!
//! For each kind and each count N, a fresh emulator gets a project of N objects of that kind
//! (plus the few objects of other kinds they need: one folder, one contact point, one user),
//! applied; then a no-change plan is run with the emulator's request counter reset, and its
//! requests are counted by route. A kind whose plan reads in bulk costs the same at every N;
//! one Grafana 8.5 can only read object by object grows by a fixed number per object, which
//! the table's "per object" column gives: (requests at the largest N − at the smallest) /
//! (difference of the N). `org_preferences` is one per org: it is measured once.
//!
//! Requests are counted, not timed: the latency only slows the run down (0 by default).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::bench::{RemoveOnDrop, request_counts};
use crate::emulator::{Emulator, http, set_faults};

/// Every grafana8 kind, in the provider's dependency order.
const KINDS: [&str; 16] = [
    "datasource",
    "folder",
    "alert_group",
    "library_panel",
    "dashboard",
    "folder_permission",
    "dashboard_permission",
    "org_preferences",
    "notification_channel",
    "contact_point",
    "notification_policy",
    "message_template",
    "mute_timing",
    "user",
    "organization",
    "team",
];

/// The password variable every benched user reads on create.
const PASSWORD_VARIABLE: &str = "BENCH_USER_PASSWORD";

pub(crate) fn run(args: &[String], mac: &Path, emulator_binary: &Path, scratch: &Path) -> Result<(), String> {
    let mut counts = vec![10_usize, 100];
    let mut latency_ms = 0_u64;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--counts" => {
                counts = value
                    .split(',')
                    .map(|count| count.parse::<usize>().map_err(|_| format!("`--counts {value}`: not numbers")))
                    .collect::<Result<_, _>>()?;
                if counts.len() < 2 || counts.contains(&0) {
                    return Err("--counts needs two or more counts above 0, e.g. 10,100".to_owned());
                }
                counts.sort_unstable();
                counts.dedup();
            }
            "--latency-ms" => {
                latency_ms = value.parse().map_err(|_| format!("`--latency-ms {value}`: not a number"))?
            }
            other => return Err(format!("unknown option `{other}` with --kinds (--counts N,M, --latency-ms N)")),
        }
    }
    let seed = scratch.join("kinds-seed.toml");
    std::fs::write(&seed, "").map_err(|err| err.to_string())?;

    let mut table = String::from("| kind |");
    for count in &counts {
        let _ = write!(table, " plan at {count} |");
    }
    table.push_str(" per object | routes that grow |\n|---|");
    table.push_str(&"---:|".repeat(counts.len() + 1));
    table.push_str("---|\n");
    let mut json = String::from("{\"kinds\":[");
    let empty = no_change_plan(mac, emulator_binary, scratch, &seed, latency_ms, "empty", "")?;
    let _ = writeln!(
        table,
        "| (none: an empty project) |{} – | |",
        counts.iter().map(|_| format!(" {} |", total(&empty))).collect::<String>()
    );
    for (index, kind) in KINDS.iter().enumerate() {
        let singleton = *kind == "org_preferences";
        let mut plans = Vec::new();
        for &count in &counts {
            let count = if singleton { 1 } else { count };
            let definitions = definitions(kind, count);
            plans.push(no_change_plan(mac, emulator_binary, scratch, &seed, latency_ms, kind, &definitions)?);
        }
        let (first, last) = (&plans[0], &plans[plans.len() - 1]);
        let span = (counts[counts.len() - 1] - counts[0]) as f64;
        let per_object = if singleton { 0.0 } else { (total(last) as f64 - total(first) as f64) / span };
        let growing: Vec<String> = last
            .iter()
            .filter(|(route, count)| *count > first.iter().find(|(other, _)| other == route).map_or(0, |(_, n)| *n))
            .map(|(route, count)| format!("`{route}` ×{count}"))
            .collect();
        let _ = write!(table, "| `{kind}`{} |", if singleton { " (one per org)" } else { "" });
        for plan in &plans {
            let _ = write!(table, " {} |", total(plan));
        }
        let _ = writeln!(table, " {per_object:.1} | {} |", growing.join(", "));
        if index > 0 {
            json.push(',');
        }
        let _ = write!(
            json,
            "{{\"kind\":\"{kind}\",\"counts\":[{}],\"requests\":[{}],\"per_object\":{per_object}}}",
            counts.iter().map(|count| if singleton { 1 } else { *count }.to_string()).collect::<Vec<_>>().join(","),
            plans.iter().map(|plan| total(plan).to_string()).collect::<Vec<_>>().join(",")
        );
        eprintln!("bench: {kind}: {}", plans.iter().map(|plan| total(plan).to_string()).collect::<Vec<_>>().join(", "));
    }
    json.push_str("]}\n");
    println!(
        "\nrequests of a no-change `mac plan` per grafana8 kind (release build, Grafana 8.5 emulator, {latency_ms} ms \
         latency); each row is a project of N objects of that kind and the few it needs\n"
    );
    print!("{table}");
    let out_dir = crate::project_root().join("target").join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|err| err.to_string())?;
    let out = out_dir.join("bench-kinds.json");
    std::fs::write(&out, json).map_err(|err| format!("cannot write {}: {err}", out.display()))?;
    println!("\nJSON: {}", out.display());
    Ok(())
}

fn total(counts: &[(String, u64)]) -> u64 {
    counts.iter().map(|(_, count)| count).sum()
}

/// Applies `definitions` on a fresh emulator, then counts the requests of a no-change plan.
fn no_change_plan(
    mac: &Path,
    emulator_binary: &Path,
    scratch: &Path,
    seed: &Path,
    latency_ms: u64,
    name: &str,
    definitions: &str,
) -> Result<Vec<(String, u64)>, String> {
    let project = scratch.join(format!("kinds-{name}"));
    let _cleanup = RemoveOnDrop(project.clone());
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(project.join("definitions")).map_err(|err| err.to_string())?;
    let emulator = Emulator::start(emulator_binary, seed)?;
    set_faults(emulator.port, &format!(r#"{{"seed":1,"latency":{{"kind":"fixed","ms":{latency_ms}}},"rules":[]}}"#))?;
    std::fs::write(
        project.join("mac.toml"),
        format!(
            "[providers.grafana8]\nurl = \"{}\"\nbasic = {{ user = \"admin\", password = {{ env = \"GRAFANA_PASSWORD\" }} }}\n",
            emulator.url()
        ),
    )
    .map_err(|err| err.to_string())?;
    std::fs::write(project.join("definitions/bench.toml"), definitions).map_err(|err| err.to_string())?;
    // The users' password is read when mac creates them only: a managed user needs the
    // variable unset, so the plan runs without it.
    let mac_run = |args: &[&str], password: bool| -> Result<(), String> {
        let mut command = Command::new(mac);
        command.current_dir(&project).env("GRAFANA_PASSWORD", "admin").env("NO_COLOR", "1");
        if password {
            command.env(PASSWORD_VARIABLE, "bench-password-1");
        }
        let output =
            command.args(args).stdin(Stdio::null()).output().map_err(|err| format!("cannot run mac: {err}"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "`mac {}` for {name} exited with {}:\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    };
    mac_run(&["apply", "--auto-approve", "--adopt", "--allow-mass-delete"], true)?;
    http(emulator.port, "DELETE", "/__emulator/requests", None)?;
    mac_run(&["plan", "--detailed-exitcode"], false)?;
    request_counts(&emulator)
}

/// N objects of `kind`, and what they need.
fn definitions(kind: &str, count: usize) -> String {
    let mut text = String::new();
    let each = |text: &mut String, make: &dyn Fn(usize) -> String| {
        for index in 0..count {
            text.push_str(&make(index));
            text.push('\n');
        }
    };
    let folder = "[[grafana8.folder]]\nid = \"f\"\ntitle = \"bench\"\n\n";
    let datasource = "[[grafana8.datasource]]\nid = \"prom\"\nname = \"Prometheus\"\ntype = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\n\n";
    match kind {
        "datasource" => each(&mut text, &|i| {
            format!(
                "[[grafana8.datasource]]\nid = \"ds{i}\"\nname = \"bench {i}\"\ntype = \"prometheus\"\nurl = \"http://127.0.0.1:9090\"\n"
            )
        }),
        "folder" => each(&mut text, &|i| format!("[[grafana8.folder]]\nid = \"f{i}\"\ntitle = \"bench {i}\"\n")),
        "alert_group" => {
            text.push_str(folder);
            text.push_str(datasource);
            each(&mut text, &|i| {
                format!(
                    "[[grafana8.alert_group]]\nid = \"g{i}\"\nfolder = \"f\"\nname = \"group {i}\"\ninterval = \"1m\"\n\n\
                     [[grafana8.alert_group.rules]]\ntitle = \"rule {i}\"\ncondition = \"B\"\nfor = \"5m\"\n\n\
                     [[grafana8.alert_group.rules.data]]\nref_id = \"A\"\ndatasource = {{ name = \"Prometheus\" }}\nmodel = {{ expr = 'up{{job=\"j{i}\"}}' }}\n\n\
                     [[grafana8.alert_group.rules.data]]\nref_id = \"B\"\ndatasource = \"__expr__\"\nmodel = {{ type = \"math\", expression = \"$A < 1\" }}\n"
                )
            });
        }
        "library_panel" => {
            text.push_str(folder);
            each(&mut text, &|i| {
                format!(
                    "[[grafana8.library_panel]]\nid = \"lp{i}\"\nfolder = \"f\"\nname = \"panel {i}\"\nmodel = {{ type = \"timeseries\", title = \"panel {i}\" }}\n"
                )
            });
        }
        "dashboard" => {
            text.push_str(folder);
            each(&mut text, &|i| {
                format!(
                    "[[grafana8.dashboard]]\nid = \"d{i}\"\nfolder = \"f\"\njson = {{ title = \"dashboard {i}\" }}\n"
                )
            });
        }
        "folder_permission" => each(&mut text, &|i| {
            format!(
                "[[grafana8.folder]]\nid = \"f{i}\"\ntitle = \"bench {i}\"\n\n[[grafana8.folder_permission]]\nid = \"f{i}\"\nfolder = \"f{i}\"\npermissions = [{{ role = \"Viewer\", permission = \"View\" }}]\n"
            )
        }),
        "dashboard_permission" => each(&mut text, &|i| {
            format!(
                "[[grafana8.dashboard]]\nid = \"d{i}\"\njson = {{ title = \"dashboard {i}\" }}\n\n[[grafana8.dashboard_permission]]\nid = \"d{i}\"\ndashboard = {{ ref = \"dashboard.d{i}\" }}\npermissions = [{{ role = \"Editor\", permission = \"Edit\" }}]\n"
            )
        }),
        "org_preferences" => {
            text.push_str("[[grafana8.org_preferences]]\nid = \"org\"\ntheme = \"dark\"\n");
        }
        "notification_channel" => each(&mut text, &|i| {
            format!(
                "[[grafana8.notification_channel]]\nid = \"nc{i}\"\nname = \"channel {i}\"\ntype = \"email\"\nsettings = {{ addresses = \"ops{i}@example.com\" }}\n"
            )
        }),
        "contact_point" => each(&mut text, &|i| contact_point(&format!("cp{i}"))),
        "notification_policy" => {
            text.push_str(&contact_point("cp"));
            text.push('\n');
            each(&mut text, &|i| {
                format!(
                    "[[grafana8.notification_policy]]\nid = \"np{i}\"\ncontact_point = \"cp\"\nmatchers = [[\"team\", \"=\", \"t{i}\"]]\n"
                )
            });
        }
        "message_template" => each(&mut text, &|i| {
            format!(
                "[[grafana8.message_template]]\nid = \"mt{i}\"\nname = \"mt{i}\"\ncontent = '{{{{ define \"mt{i}.title\" }}}}{{{{ .CommonLabels.alertname }}}}{{{{ end }}}}'\n"
            )
        }),
        "mute_timing" => each(&mut text, &|i| {
            format!(
                "[[grafana8.mute_timing]]\nid = \"mu{i}\"\nname = \"mute {i}\"\n\n[[grafana8.mute_timing.time_intervals]]\nweekdays = [\"saturday\", \"sunday\"]\n"
            )
        }),
        "user" => each(&mut text, &|i| user(&format!("u{i}"))),
        "organization" => {
            each(&mut text, &|i| format!("[[grafana8.organization]]\nid = \"o{i}\"\nname = \"org {i}\"\n"))
        }
        "team" => {
            text.push_str(&user("member"));
            text.push('\n');
            each(&mut text, &|i| {
                format!("[[grafana8.team]]\nid = \"t{i}\"\nname = \"team {i}\"\nmembers = [\"member\"]\n")
            });
        }
        other => unreachable!("no definitions for kind {other}"),
    }
    text
}

fn contact_point(id: &str) -> String {
    format!(
        "[[grafana8.contact_point]]\nid = \"{id}\"\nname = \"{id}\"\n\n[[grafana8.contact_point.integrations]]\ntype = \"email\"\nsettings = {{ addresses = \"{id}@example.com\" }}\n"
    )
}

fn user(login: &str) -> String {
    format!(
        "[[grafana8.user]]\nid = \"{login}\"\nlogin = \"{login}\"\nemail = \"{login}@example.com\"\nname = \"{login}\"\npassword = {{ env = \"{PASSWORD_VARIABLE}\" }}\n"
    )
}
