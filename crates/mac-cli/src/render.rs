//! Human and JSON output. Human output shows only what changes, coloured when the terminal
//! allows it (anstream strips styles for pipes and honours NO_COLOR).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context as _;

use anstyle::{AnsiColor, Style};
use mac_core::apply::{ActionReport, ApplyReport, Outcome};
use mac_core::plan::{Action, Operation, Plan};
use mac_core::{FieldChange, ItemChange, ItemChangeKind};
use serde::Serialize;
use serde_json::Value;

use crate::toml_like;

const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const RED: Style = AnsiColor::Red.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{}{text}{}", style.render(), style.render_reset())
}

/// The plan as a person reviews it, given to `emit` an action at a time: the text of a large
/// plan (10 MB for 10k rules created) is never held whole.
pub fn write_plan(plan: &Plan, emit: &mut dyn FnMut(&str) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut out = String::new();
    if !plan.has_changes() {
        blocked(&mut out, plan);
        if !plan.blocked.is_empty() {
            let _ = writeln!(out);
        }
        warnings(&mut out, plan);
        let _ =
            writeln!(out, "No changes.{} {} object(s) match their definitions.", blocked_note(plan), plan.unchanged);
        return emit(&out);
    }
    for action in &plan.actions {
        action_block(&mut out, action);
        emit(&out)?;
        out.clear();
    }
    blocked(&mut out, plan);
    let _ = writeln!(out);
    warnings(&mut out, plan);
    let _ = writeln!(out, "{}", paint(BOLD, summary_line(plan)));
    emit(&out)
}

/// One line a warning, then a blank line before the summary.
fn warnings(out: &mut String, plan: &Plan) {
    for warning in &plan.warnings {
        let _ = writeln!(out, "{} {}: {}", paint(YELLOW.bold(), "warning:"), warning.id, warning.message);
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out);
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
    let (subject, note) = match &action.moved_from {
        Some(from) if action.operation == Operation::Move => (format!("{from} -> {}", action.id), note),
        Some(from) => (action.id.to_string(), format!("{note} (moved from {from})")),
        None => (action.id.to_string(), note),
    };
    let verb = operation_name(action.operation);
    let description = match &action.description {
        Some(description) => format!(" ({description})"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "{} {} {}{}{}",
        paint(style, symbol),
        paint(style.bold(), verb),
        paint(BOLD, subject),
        paint(DIM, description),
        paint(DIM, note)
    );
    for change in &action.changes {
        match action.operation {
            Operation::Create | Operation::Recreate => {
                let lead = change.path.len() + 3;
                let _ = writeln!(out, "    {} = {}", change.path, shown(change.new_value().as_ref(), 4, lead));
            }
            _ => update_lines(out, change),
        }
    }
}

/// One change of an update: `+ path` / `- path` for what appears or goes (an item of a keyed
/// list with its fields below it, TOML-like), `~ path: old -> new` for a changed value.
fn update_lines(out: &mut String, change: &FieldChange) {
    let (sign, style, path, whole) = match (change.old_value(), change.new_value()) {
        (None, Some(added)) => ("+", GREEN, &change.path, added),
        (Some(removed), None) => ("-", RED, &change.path, removed),
        (Some(old), Some(new)) => {
            let (old, new) = (shown(Some(&old), 8, 2), shown(Some(&new), 8, 2));
            if old.len() > 40 || new.len() > 40 || old.contains('\n') || new.contains('\n') {
                // Long values (queries, descriptions) side by side would wrap unreadably:
                // one line each, aligned, so the eye finds the difference.
                let _ = writeln!(out, "    {} {}:", paint(YELLOW, "~"), change.path);
                let _ = writeln!(out, "      {} {}", paint(RED, "-"), paint(RED, old));
                let _ = writeln!(out, "      {} {}", paint(GREEN, "+"), paint(GREEN, new));
            } else {
                let _ = writeln!(
                    out,
                    "    {} {}: {} {} {}",
                    paint(YELLOW, "~"),
                    change.path,
                    paint(RED, old),
                    paint(DIM, "->"),
                    paint(GREEN, new)
                );
            }
            return;
        }
        (None, None) => return,
    };
    match &whole {
        // A list item (a rule, a panel): its fields below it, the key the path names already
        // left out.
        Value::Object(table) if !table.is_empty() && path.ends_with(']') => {
            let _ = writeln!(out, "    {} {}", paint(style, sign), paint(style, path));
            let named_by_path = |key: &str, value: &Value| {
                mac_core::diff::item_label(key, value).is_some_and(|label| path.ends_with(&label))
            };
            for line in toml_like::fields(table, 8, &named_by_path) {
                let _ = writeln!(out, "{line}");
            }
        }
        other => {
            let lead = path.len() + 5;
            let _ = writeln!(
                out,
                "    {} {} = {}",
                paint(style, sign),
                paint(style, path),
                toml_like::value(other, 4, lead)
            );
        }
    }
}

/// A value as a plan shows it, TOML-like (see [`toml_like`]), `(absent)` where there is none.
fn shown(value: Option<&Value>, indent: usize, lead: usize) -> String {
    match value {
        None => "(absent)".to_owned(),
        Some(value) => toml_like::value(value, indent, lead),
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
        format!("{} to update{}", plan.count(Operation::Update), item_note(plan, Operation::Update)),
        format!("{} to delete", plan.count(Operation::Delete)),
    ];
    match plan.blocked.len() {
        0 => {}
        1 => parts.push("1 delete blocked".to_owned()),
        count => parts.push(format!("{count} deletes blocked")),
    }
    if plan.count(Operation::Adopt) > 0 {
        parts.push(format!("{} to adopt{}", plan.count(Operation::Adopt), item_note(plan, Operation::Adopt)));
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

/// How many items of each keyed list the actions of `operation` add, remove and change, by
/// the list's path (`rules`, `dashboard.panels`), in path order.
fn item_counts(plan: &Plan, operation: Operation) -> BTreeMap<&str, JsonItemCounts> {
    let mut counts: BTreeMap<&str, JsonItemCounts> = BTreeMap::new();
    for action in plan.actions.iter().filter(|action| action.operation == operation) {
        for item in &action.items {
            let count = counts.entry(item.list.as_str()).or_default();
            match item.change {
                ItemChangeKind::Added => count.added += 1,
                ItemChangeKind::Removed => count.removed += 1,
                ItemChangeKind::Changed => count.changed += 1,
            }
        }
    }
    counts
}

/// ` (1 rule added, 2 rules changed, 1 panel removed)` for the updates' items; empty without.
fn item_note(plan: &Plan, operation: Operation) -> String {
    let mut parts = Vec::new();
    for (list, count) in item_counts(plan, operation) {
        // The list's own name (`panels` of `dashboard.panels`) names its items.
        let plural = list.rsplit('.').next().unwrap_or(list);
        let plural = plural.split('[').next().unwrap_or(plural);
        for (number, verb) in [(count.added, "added"), (count.removed, "removed"), (count.changed, "changed")] {
            if number > 0 {
                let noun = if number == 1 { singular(plural) } else { plural.to_owned() };
                parts.push(format!("{number} {noun} {verb}"));
            }
        }
    }
    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
}

/// `rules` → `rule`, `policies` → `policy`; a name that is no plural stays as it is.
fn singular(plural: &str) -> String {
    if let Some(stem) = plural.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = plural.strip_suffix('s').filter(|stem| !stem.ends_with('s')) {
        stem.to_owned()
    } else {
        plural.to_owned()
    }
}

/// The stable JSON schema of `mac plan --json` (docs/json-output.md).
#[derive(Serialize)]
pub struct JsonPlan<'a> {
    pub format_version: u32,
    pub has_changes: bool,
    pub summary: JsonSummary<'a>,
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
pub struct JsonSummary<'a> {
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
    /// Items of keyed lists (rules, panels, …) the updates add, remove and change, by list.
    pub update_items: BTreeMap<&'a str, JsonItemCounts>,
}

#[derive(Serialize, Default)]
pub struct JsonItemCounts {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
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
    /// The items of keyed lists this update or adopt adds, removes or changes.
    pub items: &'a [ItemChange],
    /// What a delete removes, in a few words (`folder "Payments", uid "mac-payments"`).
    pub description: Option<&'a str>,
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
            update_items: item_counts(plan, Operation::Update),
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
                items: &action.items,
                description: action.description.as_deref(),
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
                        shown(change.old_value().as_ref(), 8, 0),
                        shown(change.new_value().as_ref(), 8, 0)
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
