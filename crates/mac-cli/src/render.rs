//! Human and JSON output. Human output shows only what changes, coloured when the terminal
//! allows it (anstream strips styles for pipes and honours NO_COLOR).

use std::fmt::Write as _;

use anyhow::Context as _;

use anstyle::{AnsiColor, Style};
use mac_core::apply::{ActionReport, ApplyReport, Outcome};
use mac_core::plan::{Action, Operation, Plan};
use serde::Serialize;
use serde_json::Value;

const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const RED: Style = AnsiColor::Red.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{}{text}{}", style.render(), style.render_reset())
}

/// The plan as a person reviews it.
pub fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.has_changes() {
        blocked(&mut out, plan);
        if !plan.blocked.is_empty() {
            let _ = writeln!(out);
        }
        warnings(&mut out, plan);
        let _ =
            writeln!(out, "No changes.{} {} object(s) match their definitions.", blocked_note(plan), plan.unchanged);
        return out;
    }
    for action in &plan.actions {
        action_block(&mut out, action);
    }
    blocked(&mut out, plan);
    let _ = writeln!(out);
    warnings(&mut out, plan);
    let _ = writeln!(out, "{}", paint(BOLD, summary_line(plan)));
    out
}

fn warnings(out: &mut String, plan: &Plan) {
    for warning in &plan.warnings {
        let _ = writeln!(out, "{} {}: {}", paint(YELLOW.bold(), "warning:"), warning.id, warning.message);
    }
}

/// Deletes the plan shows but will not do: one line each, with why (see `mac_core::links`).
fn blocked(out: &mut String, plan: &Plan) {
    for blocked in &plan.blocked {
        let _ = writeln!(
            out,
            "{} {} {} — blocked: {}",
            paint(RED, "!"),
            paint(RED.bold(), "delete"),
            paint(BOLD, &blocked.id),
            blocked.reason
        );
    }
}

/// ` 1 delete blocked.` when there are blocked deletes, else nothing.
fn blocked_note(plan: &Plan) -> String {
    match plan.blocked.len() {
        0 => String::new(),
        1 => " 1 delete blocked.".to_owned(),
        count => format!(" {count} deletes blocked."),
    }
}

fn action_block(out: &mut String, action: &Action) {
    let (symbol, style, note) = match action.operation {
        Operation::Create => ("+", GREEN, String::new()),
        Operation::Recreate => ("+", GREEN, " (deleted outside mac; will be created again)".to_owned()),
        Operation::Adopt if action.resumed => {
            ("~", CYAN, " (created by an interrupted earlier apply; recorded in state)".to_owned())
        }
        Operation::Adopt => ("~", CYAN, " (exists remotely but is not managed; applied only with --adopt)".to_owned()),
        Operation::Update if action.drift => {
            ("~", YELLOW, " (drift: changed outside mac, restoring the code's version)".to_owned())
        }
        Operation::Update => ("~", YELLOW, String::new()),
        Operation::Delete => ("-", RED, String::new()),
        Operation::Forget => ("-", DIM, " (already gone remotely; dropped from state)".to_owned()),
        Operation::Move => ("~", CYAN, " (renamed in code; state only, nothing is written remotely)".to_owned()),
    };
    let (shown, note) = match &action.moved_from {
        Some(from) if action.operation == Operation::Move => (format!("{from} -> {}", action.id), note),
        Some(from) => (action.id.to_string(), format!("{note} (moved from {from})")),
        None => (action.id.to_string(), note),
    };
    let verb = operation_name(action.operation);
    let _ = writeln!(
        out,
        "{} {} {}{}",
        paint(style, symbol),
        paint(style.bold(), verb),
        paint(BOLD, shown),
        paint(DIM, note)
    );
    for change in &action.changes {
        match action.operation {
            Operation::Create | Operation::Recreate => match change.new.as_ref() {
                // Nested values (a group's rules) read best indented, one field a line.
                Some(nested @ (Value::Array(_) | Value::Object(_))) if value(Some(nested)).len() > 60 => {
                    let pretty = serde_json::to_string_pretty(nested).unwrap_or_default();
                    let _ = writeln!(out, "    {} = {}", change.path, pretty.replace('\n', "\n    "));
                }
                new => {
                    let _ = writeln!(out, "    {} = {}", change.path, value(new));
                }
            },
            _ if is_long(change.old.as_ref()) || is_long(change.new.as_ref()) => {
                // Long values (queries, descriptions) side by side would wrap unreadably:
                // one line each, aligned, so the eye finds the difference.
                let _ = writeln!(out, "    {}:", change.path);
                let _ = writeln!(out, "      {} {}", paint(RED, "-"), paint(RED, value(change.old.as_ref())));
                let _ = writeln!(out, "      {} {}", paint(GREEN, "+"), paint(GREEN, value(change.new.as_ref())));
            }
            _ => {
                let _ = writeln!(
                    out,
                    "    {}: {} {} {}",
                    change.path,
                    paint(RED, value(change.old.as_ref())),
                    paint(DIM, "->"),
                    paint(GREEN, value(change.new.as_ref()))
                );
            }
        }
    }
}

fn is_long(value: Option<&Value>) -> bool {
    value.is_some_and(|value| value.to_string().len() > 40)
}

fn value(value: Option<&Value>) -> String {
    match value {
        None => "(absent)".to_owned(),
        Some(value) => value.to_string(),
    }
}

pub fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Create => "create",
        Operation::Recreate => "recreate",
        Operation::Adopt => "adopt",
        Operation::Update => "update",
        Operation::Delete => "delete",
        Operation::Forget => "forget",
        Operation::Move => "move",
    }
}

fn summary_line(plan: &Plan) -> String {
    let mut parts = vec![
        format!("{} to create", plan.count(Operation::Create) + plan.count(Operation::Recreate)),
        format!("{} to update", plan.count(Operation::Update)),
        format!("{} to delete", plan.count(Operation::Delete)),
    ];
    match plan.blocked.len() {
        0 => {}
        1 => parts.push("1 delete blocked".to_owned()),
        count => parts.push(format!("{count} deletes blocked")),
    }
    if plan.count(Operation::Adopt) > 0 {
        parts.push(format!("{} to adopt", plan.count(Operation::Adopt)));
    }
    if plan.count(Operation::Forget) > 0 {
        parts.push(format!("{} to forget", plan.count(Operation::Forget)));
    }
    if plan.count(Operation::Move) > 0 {
        parts.push(format!("{} to move", plan.count(Operation::Move)));
    }
    parts.push(format!("{} unchanged", plan.unchanged));
    format!("Plan: {}.", parts.join(", "))
}

/// The stable JSON schema of `mac plan --json` (docs/json-output.md).
#[derive(Serialize)]
pub struct JsonPlan<'a> {
    pub format_version: u32,
    pub has_changes: bool,
    pub summary: JsonSummary,
    pub actions: Vec<JsonAction<'a>>,
    pub warnings: &'a [mac_core::plan::PlanWarning],
    /// Deletes shown but not done (see `mac_core::links`).
    pub blocked: Vec<JsonBlocked<'a>>,
}

#[derive(Serialize)]
pub struct JsonBlocked<'a> {
    pub id: String,
    pub provider: &'a str,
    pub kind: &'a str,
    pub local_id: &'a str,
    pub reason: &'a str,
    /// What lives in the object and stays.
    pub holds: &'a [mac_core::LinkedObject],
    /// Kept objects that live in or use it.
    pub needed_by: Vec<String>,
}

#[derive(Serialize)]
pub struct JsonSummary {
    pub create: usize,
    pub recreate: usize,
    pub adopt: usize,
    pub update: usize,
    pub delete: usize,
    pub forget: usize,
    /// Renamed in code by `[[moved]]`, nothing else changed (state only).
    #[serde(rename = "move")]
    pub moves: usize,
    pub unchanged: usize,
    /// Deletes shown but not done: not counted in `delete`.
    pub blocked: usize,
}

#[derive(Serialize)]
pub struct JsonAction<'a> {
    pub id: String,
    pub provider: &'a str,
    pub kind: &'a str,
    pub local_id: &'a str,
    pub operation: Operation,
    pub drift: bool,
    /// An adopt of an object an interrupted earlier apply created: needs no `--adopt`.
    pub resumed: bool,
    /// The id state had for the object before a `[[moved]]` block renamed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
    pub changes: &'a [mac_core::FieldChange],
}

pub fn plan_json(plan: &Plan) -> JsonPlan<'_> {
    JsonPlan {
        format_version: 1,
        has_changes: plan.has_changes(),
        summary: JsonSummary {
            create: plan.count(Operation::Create),
            recreate: plan.count(Operation::Recreate),
            adopt: plan.count(Operation::Adopt),
            update: plan.count(Operation::Update),
            delete: plan.count(Operation::Delete),
            forget: plan.count(Operation::Forget),
            moves: plan.count(Operation::Move),
            unchanged: plan.unchanged,
            blocked: plan.blocked.len(),
        },
        actions: plan
            .actions
            .iter()
            .map(|action| JsonAction {
                id: action.id.to_string(),
                provider: &action.id.provider,
                kind: &action.id.kind,
                local_id: &action.id.local_id,
                operation: action.operation,
                drift: action.drift,
                resumed: action.resumed,
                moved_from: action.moved_from.as_ref().map(ToString::to_string),
                changes: &action.changes,
            })
            .collect(),
        warnings: &plan.warnings,
        blocked: plan
            .blocked
            .iter()
            .map(|blocked| JsonBlocked {
                id: blocked.id.to_string(),
                provider: &blocked.id.provider,
                kind: &blocked.id.kind,
                local_id: &blocked.id.local_id,
                reason: &blocked.reason,
                holds: &blocked.holds,
                needed_by: blocked.needed_by.iter().map(ToString::to_string).collect(),
            })
            .collect(),
    }
}

/// Where a definition field was written, if the project still defines the object.
pub type Locate<'a> = &'a dyn Fn(&mac_core::ObjectId, &str) -> Option<mac_core::Location>;

/// What an apply did.
pub fn apply_report(report: &ApplyReport, locate: Locate<'_>) -> String {
    let mut out = String::new();
    for action in report.failed() {
        let location = match &action.outcome {
            Outcome::Failed { pointer: Some(pointer), .. } => locate(&action.id, pointer),
            _ => None,
        };
        match location {
            Some(location) => {
                let _ = writeln!(out, "{} {location}: {}", paint(RED, "failed:"), describe(action));
            }
            None => {
                let _ = writeln!(out, "{} {}", paint(RED, "failed:"), describe(action));
            }
        }
    }
    for action in report.skipped() {
        let _ = writeln!(out, "{} {}", paint(YELLOW, "skipped:"), describe(action));
    }
    for kept in &report.kept {
        let _ = writeln!(out, "{} {} — {}", paint(YELLOW, "kept:"), kept.id, kept.reason);
    }
    let created = report.done(&[Operation::Create, Operation::Recreate]);
    let updated = report.done(&[Operation::Update, Operation::Adopt]);
    let deleted = report.done(&[Operation::Delete, Operation::Forget]);
    let moved = report.done(&[Operation::Move]);
    let moved = if moved > 0 { format!(", {moved} moved") } else { String::new() };
    let failed = report.failed().count();
    let skipped = report.skipped().count();
    let headline = if report.succeeded() {
        paint(GREEN.bold(), "Apply complete:")
    } else {
        paint(RED.bold(), "Apply incomplete:")
    };
    let kept = if report.kept.is_empty() { String::new() } else { format!(", {} kept", report.kept.len()) };
    let _ = writeln!(
        out,
        "{headline} {created} created, {updated} updated, {deleted} deleted{moved}, {failed} failed, {skipped} skipped{kept}."
    );
    out
}

fn describe(action: &ActionReport) -> String {
    let detail = match &action.outcome {
        Outcome::Done => String::new(),
        Outcome::Failed { error, .. } => error.clone(),
        Outcome::Skipped { reason } => reason.clone(),
    };
    format!("{} {}: {detail}", operation_name(action.operation), action.id)
}

/// Definitions as a TOML file of `[[provider.kind]]` tables, `header` (a comment) first.
/// Small tables (labels, a query's model) are written inline, as a person would write them.
pub fn definitions_toml(header: &str, document: &serde_json::Value) -> anyhow::Result<String> {
    let body = toml::to_string(document).context("cannot write the definitions as TOML")?;
    let mut edited: toml_edit::DocumentMut = body.parse().context("cannot reformat the definitions")?;
    inline_leaf_tables(edited.as_table_mut());
    Ok(format!("{header}\n\n{edited}"))
}

/// Turns every table whose values are all plain (no nested tables) into an inline table.
fn inline_leaf_tables(table: &mut toml_edit::Table) {
    let keys: Vec<String> = table.iter().map(|(key, _)| key.to_owned()).collect();
    for key in keys {
        let Some(item) = table.get_mut(&key) else { continue };
        match item {
            toml_edit::Item::Table(child) => {
                let leaf = child.iter().all(|(_, value)| matches!(value, toml_edit::Item::Value(_)));
                if leaf {
                    let inline = std::mem::take(child).into_inline_table();
                    *item = toml_edit::Item::Value(toml_edit::Value::InlineTable(inline).decorated(" ", ""));
                    if let Some(mut key) = table.key_mut(&key) {
                        key.leaf_decor_mut().set_suffix(" ");
                    }
                } else {
                    inline_leaf_tables(child);
                }
            }
            toml_edit::Item::ArrayOfTables(tables) => {
                for child in tables.iter_mut() {
                    inline_leaf_tables(child);
                }
            }
            _ => {}
        }
    }
}

/// Why a saved plan is refused: each object it writes or deletes that moved since it was
/// made, and how (the fields as a plan compares them: as planned, then as the server has them).
pub fn moved_since_plan(plan_file: &str, moved: &[mac_core::Moved]) -> String {
    let mut out = format!(
        "{plan_file} is out of date: {} object(s) it writes or deletes changed on the server since the plan was made. \
         Nothing was written; re-plan to review it.",
        moved.len()
    );
    for object in moved {
        let planned = operation_name(object.operation);
        match &object.how {
            mac_core::Movement::Changed(changes) => {
                let _ = write!(out, "\n  {} (planned: {planned}) changed (as planned -> now):", object.id);
                for change in changes {
                    let _ = write!(
                        out,
                        "\n      {}: {} -> {}",
                        change.path,
                        value(change.old.as_ref()),
                        value(change.new.as_ref())
                    );
                }
            }
            mac_core::Movement::Deleted => {
                let _ = write!(out, "\n  {} (planned: {planned}) was deleted", object.id);
            }
            mac_core::Movement::Created { remote_id } => {
                let _ = write!(
                    out,
                    "\n  {} (planned: {planned}) was made outside mac meanwhile (remote id {remote_id}): \
                     creating it would clash with or duplicate that",
                    object.id
                );
            }
        }
    }
    out
}
