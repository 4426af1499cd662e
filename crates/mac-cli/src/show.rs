//! `mac show`: a saved plan as `mac plan` printed it, or what state manages, readably.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use mac_core::State;
use mac_core::state::StateEntry;
use serde::Serialize;

use crate::args::{Cli, ShowArgs};
use crate::render;

pub(crate) fn run(cli: &Cli, args: &ShowArgs) -> anyhow::Result<ExitCode> {
    match &args.plan_file {
        Some(path) => saved_plan(path, args.json),
        None => managed(cli, args.json),
    }
}

fn saved_plan(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let plan = crate::commands::load_plan(path)?;
    let mut out = crate::output::stdout();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&render::plan_json(&plan))?)?;
        return Ok(ExitCode::SUCCESS);
    }
    render::write_plan(&plan, &mut |part| out.write_all(part.as_bytes()))?;
    let made_for = |what: &str| plan.bindings.get(what).map_or("(unknown)", String::as_str);
    writeln!(
        out,
        "Saved plan {}: made for environment {} and state {} at serial {}. Apply exactly it with: mac apply {}",
        path.display(),
        made_for("environment"),
        made_for("state"),
        plan.state_serial,
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `mac show --json` without a plan: a stable shape (docs/json-output.md), unlike the state
/// file's, which is internal.
#[derive(Debug, Serialize)]
struct ManagedJson<'a> {
    format_version: u32,
    state: String,
    lineage: &'a str,
    serial: u64,
    objects: Vec<ManagedObject<'a>>,
    interrupted_creates: Vec<InterruptedCreate<'a>>,
}

#[derive(Debug, Serialize)]
struct ManagedObject<'a> {
    id: String,
    provider: &'a str,
    kind: &'a str,
    local_id: &'a str,
    remote_id: &'a str,
    protect: bool,
    depends_on: Vec<String>,
}

#[derive(Debug, Serialize)]
struct InterruptedCreate<'a> {
    id: String,
    adoption_key: &'a str,
}

fn managed(cli: &Cli, json: bool) -> anyhow::Result<ExitCode> {
    // Like `mac state`: without definitions, so that a broken project can still be looked at.
    let config = mac_core::ProjectConfig::load(&cli.directory, cli.environment.as_deref())?;
    let store = config.open_state_store()?;
    let state = store.load()?;
    let mut out = crate::output::stdout();
    if json {
        let document = ManagedJson {
            format_version: 1,
            state: store.describe(),
            lineage: &state.lineage,
            serial: state.serial,
            objects: state.resources().iter().map(managed_object).collect(),
            interrupted_creates: state
                .pending()
                .iter()
                .map(|pending| InterruptedCreate { id: pending.id.to_string(), adoption_key: &pending.adoption_key })
                .collect(),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    write!(out, "{}", managed_text(&store.describe(), &state))?;
    Ok(ExitCode::SUCCESS)
}

fn managed_object(entry: &StateEntry) -> ManagedObject<'_> {
    ManagedObject {
        id: entry.id.to_string(),
        provider: &entry.id.provider,
        kind: &entry.id.kind,
        local_id: &entry.id.local_id,
        remote_id: &entry.remote_id,
        protect: entry.protect,
        depends_on: entry.depends_on.iter().map(ToString::to_string).collect(),
    }
}

/// By provider instance, then kind and id: one line per object with its remote id, and
/// whether it is protected.
fn managed_text(store: &str, state: &State) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    if state.resources().is_empty() && state.pending().is_empty() {
        let _ = writeln!(text, "{store} manages nothing yet: `mac apply` or `mac import` starts it.");
        return text;
    }
    let _ = writeln!(
        text,
        "{store}: {} managed object(s), serial {}, lineage {}.",
        state.resources().len(),
        state.serial,
        state.lineage
    );
    let mut by_instance: BTreeMap<&str, Vec<&StateEntry>> = BTreeMap::new();
    for entry in state.resources() {
        by_instance.entry(entry.id.provider.as_str()).or_default().push(entry);
    }
    for (instance, mut entries) in by_instance {
        entries.sort_by(|a, b| (&a.id.kind, &a.id.local_id).cmp(&(&b.id.kind, &b.id.local_id)));
        let names: Vec<String> =
            entries.iter().map(|entry| format!("{}.{}", entry.id.kind, entry.id.local_id)).collect();
        let width = names.iter().map(String::len).max().unwrap_or_default();
        let _ = writeln!(text, "\n{instance} ({} object(s))", entries.len());
        for (entry, name) in entries.iter().zip(&names) {
            let protected = if entry.protect { "  (protected)" } else { "" };
            let _ = writeln!(text, "  {name:<width$}  remote id {}{protected}", entry.remote_id);
        }
    }
    if !state.pending().is_empty() {
        let _ = writeln!(text, "\nInterrupted creates (the next apply finds them by their key and adopts them):");
        for pending in state.pending() {
            let _ = writeln!(text, "  {}  key {}", pending.id, pending.adoption_key);
        }
    }
    text
}
