//! `[[moved]]` blocks: a local id renamed in code keeps its remote object. Without them a
//! rename is a delete and a create, which loses what the remote attached to the object (rule
//! uids, alert history, dashboard versions).
//!
//! ```toml
//! [[moved]]
//! from = "grafana8.alert_group.old"
//! to = "grafana8.alert_group.new"
//! # provider = "grafana8.eu"     # the instance, when it is not the provider's default one
//! ```
//!
//! The planner renames the state entry (a move, no remote write) before it compares; the
//! blocks stay in code as a record and are no-ops once state has the new id.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::object::ObjectId;
use crate::provider::Providers;
use crate::source::{Document, Location, SourceError, push_pointer};
use crate::state::State;

/// The top-level key of definition files that holds move blocks.
pub const MOVED_KEY: &str = "moved";

/// One `[[moved]]` block: state's `from` is now defined as `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub from: ObjectId,
    pub to: ObjectId,
    /// Where the block was written.
    pub location: Location,
}

/// A move that cannot be planned: the state already holds both ids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{location}: cannot move `{from}` to `{to}`: state manages both. Remove the [[moved]] block, or drop one \
     of them from state with `mac state rm`"
)]
pub struct MoveClash {
    pub from: ObjectId,
    pub to: ObjectId,
    pub location: Location,
}

/// Reads the `[[moved]]` array of one definition document; problems are located at its fields.
pub(crate) fn parse_moves(
    document: &Document,
    value: &Value,
    providers: &Providers,
    configured: &BTreeSet<&str>,
    problems: &mut Vec<SourceError>,
) -> Vec<Move> {
    let base = push_pointer("", MOVED_KEY);
    let Some(blocks) = value.as_array().filter(|blocks| blocks.iter().all(Value::is_object)) else {
        problems.push(document.error(&base, "expected an array of tables: [[moved]] with `from` and `to`"));
        return Vec::new();
    };
    let mut moves = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        let pointer = push_pointer(&base, &index.to_string());
        let Some(table) = block.as_object() else { continue };
        if let Some(unknown) = table.keys().find(|key| !matches!(key.as_str(), "from" | "to" | "provider")) {
            problems.push(document.error(
                &push_pointer(&pointer, unknown),
                format!("unknown key `{unknown}` in [[moved]]: it takes `from`, `to` and `provider`"),
            ));
            continue;
        }
        let instance = match table.get("provider") {
            None => None,
            Some(Value::String(instance)) if configured.contains(instance.as_str()) => Some(instance.as_str()),
            Some(_) => {
                problems.push(document.error(
                    &push_pointer(&pointer, "provider"),
                    "`provider` must name a provider instance configured in mac.toml",
                ));
                continue;
            }
        };
        let mut end = |key: &str| -> Option<ObjectId> {
            let field = push_pointer(&pointer, key);
            let Some(text) = table.get(key).and_then(Value::as_str) else {
                problems.push(document.error(
                    if table.contains_key(key) { &field } else { &pointer },
                    format!("[[moved]] needs `{key}` = \"PROVIDER.KIND.ID\" (a configured provider, one of its kinds, a local id)"),
                ));
                return None;
            };
            match parse_end(text, instance, providers, configured) {
                Ok(id) => Some(id),
                Err(message) => {
                    problems.push(document.error(&field, message));
                    None
                }
            }
        };
        let (Some(from), Some(to)) = (end("from"), end("to")) else { continue };
        if from.provider != to.provider || from.kind != to.kind {
            problems.push(document.error(
                &push_pointer(&pointer, "to"),
                format!("a move keeps the provider instance and kind: `{from}` cannot become `{to}`"),
            ));
            continue;
        }
        if from == to {
            problems.push(document.error(&push_pointer(&pointer, "to"), "`from` and `to` are the same object"));
            continue;
        }
        moves.push(Move { from, to, location: document.location(&pointer) });
    }
    moves
}

/// `PROVIDER.KIND.ID` in `instance` (the provider's default instance when none is given).
fn parse_end(
    text: &str,
    instance: Option<&str>,
    providers: &Providers,
    configured: &BTreeSet<&str>,
) -> Result<ObjectId, String> {
    let mut parts = text.splitn(3, '.');
    let (Some(provider), Some(kind), Some(local_id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "`{text}` is not of the form PROVIDER.KIND.ID (a configured provider, one of its kinds, a local id)"
        ));
    };
    let instance = match instance {
        Some(instance) if instance.split('.').next() == Some(provider) => instance.to_owned(),
        Some(instance) => return Err(format!("`{text}` is not an object of provider instance `{instance}`")),
        None if configured.contains(provider) => provider.to_owned(),
        None => return Err(format!("`{provider}` is not a provider configured in mac.toml")),
    };
    if providers.handler(&instance, kind).is_none() {
        return Err(format!(
            "provider instance `{instance}` has no kind `{kind}` (its kinds: {})",
            providers.kinds(&instance).join(", ")
        ));
    }
    Ok(ObjectId::new(instance, kind, local_id))
}

/// Checks the moves of a whole project against its definitions: each `from` is moved once
/// and is no longer defined; each `to` is defined, or is the `from` of a further move (a
/// chain); no cycles.
pub(crate) fn check_moves(moves: &[Move], defined: &BTreeSet<&ObjectId>, problems: &mut Vec<SourceError>) {
    let mut sources: BTreeMap<&ObjectId, &Move> = BTreeMap::new();
    for moved in moves {
        if let Some(first) = sources.insert(&moved.from, moved) {
            problems.push(SourceError {
                location: moved.location.clone(),
                message: format!("`{}` is moved twice; the first [[moved]] is at {}", moved.from, first.location),
            });
        }
        if defined.contains(&moved.from) {
            problems.push(SourceError {
                location: moved.location.clone(),
                message: format!(
                    "`{}` is moved to `{}` but is still defined: remove its definition (or this block)",
                    moved.from, moved.to
                ),
            });
        }
    }
    for moved in moves {
        match final_destination(&moved.from, &sources) {
            Err(()) => problems.push(SourceError {
                location: moved.location.clone(),
                message: format!("[[moved]] blocks form a cycle through `{}`", moved.from),
            }),
            Ok(end) if !defined.contains(end) => problems.push(SourceError {
                location: moved.location.clone(),
                message: format!("`{end}`, where `{}` is moved to, is not defined", moved.from),
            }),
            Ok(_) => {}
        }
    }
}

/// Follows a chain of moves from `id` to where it ends; `Err` on a cycle.
fn final_destination<'m>(id: &'m ObjectId, sources: &BTreeMap<&ObjectId, &'m Move>) -> Result<&'m ObjectId, ()> {
    let mut current = id;
    let mut seen = BTreeSet::new();
    while let Some(moved) = sources.get(current) {
        if !seen.insert(current) {
            return Err(());
        }
        current = &moved.to;
    }
    Ok(current)
}

/// State as it is once the moves that apply to it are made: each entry under a moved-from id
/// renamed to where its chain ends (references to it from other entries too). Returns the
/// renamed state and, for each moved object, the id state had for it (when nothing moves,
/// an empty map and an empty state the caller does not use).
pub(crate) fn apply_moves(state: &State, moves: &[Move]) -> Result<(State, BTreeMap<ObjectId, ObjectId>), MoveClash> {
    // Most plans move nothing, and copying a large state is not free.
    if !moves.iter().any(|moved| state.get(&moved.from).is_some()) {
        return Ok((State::empty(), BTreeMap::new()));
    }
    let sources: BTreeMap<&ObjectId, &Move> = moves.iter().map(|moved| (&moved.from, moved)).collect();
    let mut renamed = state.clone();
    let mut moved_from = BTreeMap::new();
    for moved in moves {
        if state.get(&moved.from).is_none() {
            continue;
        }
        let Ok(end) = final_destination(&moved.from, &sources) else { continue };
        if state.get(end).is_some() || moved_from.contains_key(end) {
            return Err(MoveClash { from: moved.from.clone(), to: end.clone(), location: moved.location.clone() });
        }
        renamed.rename(&moved.from, end);
        moved_from.insert(end.clone(), moved.from.clone());
    }
    Ok((renamed, moved_from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::LocalRef;
    use crate::state::StateEntry;

    fn id(local_id: &str) -> ObjectId {
        ObjectId::new("p", "group", local_id)
    }

    fn block(from: &str, to: &str, line: usize) -> Move {
        Move { from: id(from), to: id(to), location: Location { line, ..Location::file("defs.toml") } }
    }

    #[test]
    fn a_chain_of_moves_ends_where_the_code_defines_the_object_and_cycles_are_refused() {
        let moves = [block("a", "b", 1), block("b", "c", 2)];
        let c = id("c");
        let mut problems = Vec::new();
        check_moves(&moves, &[&c].into_iter().collect(), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");

        let mut state = State::empty();
        state.upsert(StateEntry::new(id("a"), "remote-a"));
        let mut user = StateEntry::new(ObjectId::new("p", "rule", "r"), "remote-r");
        user.depends_on = vec![LocalRef::new("group", "a")];
        state.upsert(user);
        let (renamed, moved_from) = apply_moves(&state, &moves).expect("moves");
        assert_eq!(moved_from, [(id("c"), id("a"))].into_iter().collect());
        assert_eq!(renamed.get(&id("c")).map(|entry| entry.remote_id.as_str()), Some("remote-a"));
        assert!(renamed.get(&id("a")).is_none());
        let user = renamed.get(&ObjectId::new("p", "rule", "r")).expect("user");
        assert_eq!(user.depends_on, [LocalRef::new("group", "c")], "references follow the move");

        let cycle = [block("a", "b", 1), block("b", "a", 2)];
        let mut problems = Vec::new();
        check_moves(&cycle, &BTreeSet::new(), &mut problems);
        assert!(problems.iter().any(|problem| problem.message.contains("cycle")), "{problems:?}");
    }

    #[test]
    fn a_move_onto_an_id_state_already_has_is_refused_at_its_block() {
        let mut state = State::empty();
        state.upsert(StateEntry::new(id("a"), "remote-a"));
        state.upsert(StateEntry::new(id("b"), "remote-b"));
        let clash = apply_moves(&state, &[block("a", "b", 7)]).expect_err("both in state");
        assert_eq!(clash.location.line, 7);
        assert!(clash.to_string().contains("state manages both"), "{clash}");
    }
}
