//! Before a saved plan is applied: is every object it writes or deletes still as the plan saw
//! it? A reviewer approved the changes the plan shows; a write of a whole object (a rule
//! group, a dashboard) made from a plan whose object has moved since would also undo, unseen,
//! whatever someone changed in between. So each action records a [`Fingerprint`] of what it
//! was planned against, and [`recheck`] re-reads exactly those objects (one bulk list per
//! kind, or one read per object for kinds that are [`Reread::EachObject`]) and names every
//! object that moved, and how. The engine calls the handlers; it does no I/O itself.
//!
//! What counts as a move is what the handler's [`Handler::observed`] form shows, the form a
//! plan compares: server bookkeeping (versions, timestamps) is not a move; anything a plan
//! would show as a difference is. For a handler that manages its own part of a shared remote
//! document (a contact point in Grafana's Alertmanager configuration), that is its own part:
//! edits elsewhere in the document are kept by the write and are not a move.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use futures::stream::{self, StreamExt};

use crate::diff::{FieldChange, diff};
use crate::object::{ObjectId, RemoteObject};
use crate::plan::{Action, Operation, Plan};
use crate::provider::{Handler, HandlerError, Providers, Reread};
use crate::state::value_hash;

pub use crate::plan::Fingerprint;

/// One object a saved plan writes or deletes that moved since the plan was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Moved {
    pub id: ObjectId,
    /// What the plan was going to do to it.
    pub operation: Operation,
    pub how: Movement,
}

/// How an object moved since the plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Movement {
    /// Its fields, as the plan compares them: `old` as planned, `new` as it is now.
    Changed(Vec<FieldChange>),
    /// It was deleted.
    Deleted,
    /// An object now has the natural key under which the plan creates this one.
    Created { remote_id: String },
}

#[derive(Debug, thiserror::Error)]
pub enum RecheckError {
    #[error(
        "{} object(s) the saved plan writes or deletes changed on the server since the plan was made ({}); \
         nothing was written: re-plan to review it",
        .0.len(),
        .0.iter().map(|moved| moved.id.to_string()).collect::<Vec<_>>().join(", ")
    )]
    Moved(Vec<Moved>),
    #[error("provider `{instance}`, re-reading {kind} to check the saved plan: {source}")]
    Read {
        instance: String,
        kind: String,
        #[source]
        source: HandlerError,
    },
    #[error("the plan names `{0}`, whose provider instance or kind is not configured")]
    UnknownObject(ObjectId),
}

/// At most this many objects of kinds read one by one are re-read at once: a plan writing
/// thousands of dashboards must not open thousands of connections to one server.
pub const CONCURRENT_READS: usize = 8;

/// The objects `plan` writes or deletes, re-read: `Ok` when none moved since the plan, else
/// every one that did, in plan order. Reads run concurrently: one [`Handler::list`] per kind
/// read in bulk, one [`Handler::read`] (or [`Handler::read_by_adoption_key`] for a create) per
/// object of kinds read one by one. Actions without a fingerprint are not checked.
pub async fn recheck(plan: &Plan, providers: &Providers) -> Result<(), RecheckError> {
    let checked: Vec<&Action> = plan.actions.iter().filter(|action| action.fingerprint.is_some()).collect();
    let mut handlers = BTreeMap::new();
    for action in &checked {
        let handler = providers
            .handler(&action.id.provider, &action.id.kind)
            .ok_or_else(|| RecheckError::UnknownObject(action.id.clone()))?;
        handlers.insert((action.id.provider.as_str(), action.id.kind.as_str()), handler.clone());
    }
    let listed_kinds: BTreeSet<(&str, &str)> =
        handlers.iter().filter(|(_, handler)| handler.reread() == Reread::List).map(|(kind, _)| *kind).collect();
    let lists = listed_kinds.iter().map(|&(instance, kind)| {
        let handler = handlers[&(instance, kind)].clone();
        async move {
            let objects = handler.list().await.map_err(|source| read_error(instance, kind, source))?;
            Ok::<_, RecheckError>(((instance, kind), objects))
        }
    });
    let singles = checked.iter().filter(|action| !listed_kinds.contains(&kind_of(action))).map(|action| {
        let handler = handlers[&kind_of(action)].clone();
        async move {
            let (instance, kind) = kind_of(action);
            let now = match (&action.fingerprint, &action.remote, &action.adoption_key) {
                (Some(Fingerprint::Observed(_)), Some(planned), _) => handler.read(&planned.remote_id).await,
                (Some(Fingerprint::Absent), _, Some(key)) => handler.read_by_adoption_key(key).await,
                _ => Ok(None),
            };
            Ok::<_, RecheckError>((&action.id, now.map_err(|source| read_error(instance, kind, source))?))
        }
    });
    let singles = stream::iter(singles).buffer_unordered(CONCURRENT_READS).collect::<Vec<_>>();
    let (lists, singles) = futures::join!(join_all(lists), singles);
    let mut listed: BTreeMap<(&str, &str), Vec<RemoteObject>> = BTreeMap::new();
    for list in lists {
        let (kind, objects) = list?;
        listed.insert(kind, objects);
    }
    let mut read: BTreeMap<&ObjectId, Option<RemoteObject>> = BTreeMap::new();
    for single in singles {
        let (id, now) = single?;
        read.insert(id, now);
    }

    let mut moved = Vec::new();
    for action in checked {
        let handler = handlers[&kind_of(action)].as_ref();
        let now = match listed.get(&kind_of(action)) {
            Some(objects) => find(objects, action),
            None => read.remove(&action.id).flatten(),
        };
        if let Some(how) = movement(handler, action, now) {
            moved.push(Moved { id: action.id.clone(), operation: action.operation, how });
        }
    }
    if moved.is_empty() { Ok(()) } else { Err(RecheckError::Moved(moved)) }
}

fn kind_of(action: &Action) -> (&str, &str) {
    (action.id.provider.as_str(), action.id.kind.as_str())
}

fn read_error(instance: &str, kind: &str, source: HandlerError) -> RecheckError {
    RecheckError::Read { instance: instance.to_owned(), kind: kind.to_owned(), source }
}

/// In a bulk list: the object an action was planned against (by remote id), or for a create
/// the object holding its natural key.
fn find(objects: &[RemoteObject], action: &Action) -> Option<RemoteObject> {
    match (&action.fingerprint, &action.remote, &action.adoption_key) {
        (Some(Fingerprint::Observed(_)), Some(planned), _) => {
            objects.iter().find(|object| object.remote_id == planned.remote_id).cloned()
        }
        (Some(Fingerprint::Absent), _, Some(key)) => {
            objects.iter().find(|object| object.adoption_key.as_deref() == Some(key.as_str())).cloned()
        }
        _ => None,
    }
}

/// How the object `now` differs from what `action` was planned against, if it does.
fn movement(handler: &dyn Handler, action: &Action, now: Option<RemoteObject>) -> Option<Movement> {
    match (&action.fingerprint, now) {
        (Some(Fingerprint::Absent), None) | (None, _) => None,
        (Some(Fingerprint::Absent), Some(found)) => Some(Movement::Created { remote_id: found.remote_id }),
        (Some(Fingerprint::Observed(_)), None) => Some(Movement::Deleted),
        (Some(Fingerprint::Observed(planned_hash)), Some(mut found)) => {
            let planned = action.remote.as_ref()?;
            // Ids of parts (a group's rule uids) come from state, not from the server: give the
            // fresh object the same ones the plan's had, so like is compared with like.
            found.part_ids = planned.part_ids.clone();
            let observed_now = handler.observed(&found);
            if value_hash(&observed_now) == *planned_hash {
                return None;
            }
            // The hash is exact; the comparison, as a plan's: a difference a plan never
            // shows (`1` and `1.0`, a reordered keyed list) is no move.
            let changes = diff(&handler.observed(planned), &observed_now, &|path| handler.list_key(path));
            (!changes.is_empty()).then_some(Movement::Changed(changes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_hash_does_not_depend_on_key_order() {
        assert_eq!(
            value_hash(&json!({"a": 1, "b": {"c": 2, "d": 3}})),
            value_hash(&json!({"b": {"d": 3, "c": 2}, "a": 1}))
        );
        assert_ne!(value_hash(&json!({"a": 1})), value_hash(&json!({"a": 2})));
    }
}
