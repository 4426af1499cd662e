//! What lives in and what uses the objects a plan deletes.
//!
//! A handler says, for one observed remote object, which remote objects of its provider
//! instance it lives in (a rule group in a folder) and which it uses (a rule group's queries
//! use data sources) — see [`crate::Handler::links`]. With that the planner, still pure:
//!
//! - **blocks** a delete when something that stays lives in the object: an object mac does
//!   not manage, or a managed one this plan neither deletes nor writes. A blocked delete is
//!   not an action: the executor never sees it, the object stays in state, and every plan
//!   shows it again until what it holds is moved, deleted or managed
//!   ([`crate::Plan::blocked`]). Deletes that a kept object needs (it lives in or uses
//!   them) are blocked in turn.
//! - **warns** when a delete removes an object that objects mac does not touch in this plan
//!   use: the delete goes ahead, and the reviewer reads who will break.

use std::collections::{BTreeMap, BTreeSet};

use crate::object::{LocalRef, ObjectId};
use crate::plan::{Action, Observed, Operation, PlanWarning};
use crate::provider::Providers;
pub use crate::relation::{BlockedDelete, LinkKey, LinkTarget, LinkedObject, Links, Relation};
use crate::state::State;

/// At most this many objects are named in one message; the rest are counted.
const NAMED: usize = 10;

/// `a`, `a and b`, `a, b and c` (`… and N more` beyond [`NAMED`]).
fn enumerate(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(NAMED).map(String::as_str).collect();
    let rest = items.len().saturating_sub(NAMED);
    match (shown.as_slice(), rest) {
        ([], _) => String::new(),
        ([one], 0) => (*one).to_owned(),
        (many, 0) => format!("{} and {}", many[..many.len() - 1].join(", "), many[many.len() - 1]),
        (many, rest) => format!("{} and {rest} more", many.join(", ")),
    }
}

fn holds_reason(holds: &[LinkedObject]) -> String {
    let unmanaged: Vec<String> =
        holds.iter().filter(|held| held.managed_as.is_none()).map(LinkedObject::describe).collect();
    let managed: Vec<String> = holds
        .iter()
        .filter_map(|held| held.managed_as.as_ref().map(|id| format!("{} ({id})", held.describe())))
        .collect();
    let mut parts = Vec::new();
    if !unmanaged.is_empty() {
        let them = if unmanaged.len() == 1 { "it, or manage it" } else { "them, or manage them" };
        parts.push(format!("holds {} that mac does not manage; move or delete {them}", enumerate(&unmanaged)));
    }
    if !managed.is_empty() {
        parts.push(format!(
            "holds {}, which this plan leaves there; move it elsewhere or delete it in code",
            enumerate(&managed)
        ));
    }
    parts.join("; it also ")
}

/// The plan's deletes, checked against what lives in and uses them: blocked deletes are
/// taken out of `actions`, and warnings are returned for the deletes that remain.
pub(crate) fn check_deletes(
    actions: &mut BTreeMap<ObjectId, Action>,
    state: &State,
    observed: &Observed,
    providers: &Providers,
) -> (Vec<BlockedDelete>, Vec<PlanWarning>) {
    // Deleted objects, by (instance, kind, remote id), and their titles for links by name.
    let mut deleted: BTreeMap<(String, String, String), ObjectId> = BTreeMap::new();
    let mut deleted_titles: BTreeMap<(String, String, String), Vec<ObjectId>> = BTreeMap::new();
    // What a definition may name a deleted object by: its remote id and its title.
    let mut names_of: BTreeMap<ObjectId, Vec<String>> = BTreeMap::new();
    for action in actions.values().filter(|action| action.operation == Operation::Delete) {
        let (Some(remote), Some(handler)) = (&action.remote, providers.handler(&action.id.provider, &action.id.kind))
        else {
            continue;
        };
        let id = &action.id;
        deleted.insert((id.provider.clone(), id.kind.clone(), remote.remote_id.clone()), id.clone());
        let names = names_of.entry(id.clone()).or_default();
        names.push(remote.remote_id.clone());
        names.extend(handler.links(remote).title);
        if let Some(title) = handler.links(remote).title {
            deleted_titles.entry((id.provider.clone(), id.kind.clone(), title)).or_default().push(id.clone());
        }
    }
    if deleted.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let deleted_kinds: BTreeSet<(&str, &str)> =
        deleted.keys().map(|(instance, kind, _)| (instance.as_str(), kind.as_str())).collect();
    // Which managed object each remote object is: by state, or by this plan's adoptions.
    let mut managed: BTreeMap<(&str, &str, &str), &ObjectId> = state
        .resources()
        .iter()
        .map(|entry| ((entry.id.provider.as_str(), entry.id.kind.as_str(), entry.remote_id.as_str()), &entry.id))
        .collect();
    for action in actions.values().filter(|action| action.operation == Operation::Adopt) {
        if let Some(remote) = &action.remote {
            managed.insert((&action.id.provider, &action.id.kind, &remote.remote_id), &action.id);
        }
    }

    let mut holders: BTreeMap<ObjectId, BTreeSet<LinkedObject>> = BTreeMap::new();
    let mut users: BTreeMap<ObjectId, BTreeSet<LinkedObject>> = BTreeMap::new();
    for instance in providers.instances() {
        for kind in providers.kinds(instance) {
            let Some(handler) = providers.handler(instance, kind) else { continue };
            let relevant = handler.relations().iter().any(|(_, target)| deleted_kinds.contains(&(instance, target)));
            if !relevant {
                continue;
            }
            for remote in observed.linked(instance, kind) {
                let links = handler.links(remote);
                let managed_as = managed.get(&(instance, kind, remote.remote_id.as_str())).copied();
                let own_action = managed_as.and_then(|id| actions.get(id));
                // Deleted by this plan: it goes first (its delete is ordered before, and kept
                // with what it needs should it be blocked itself).
                if own_action.is_some_and(|action| action.operation.removes()) {
                    continue;
                }
                // Rewritten by this plan: it leaves a deleted object only if state recorded it
                // referring to that object by id (its definition can no longer) and what it
                // writes names the object in no other way (by its remote uid, or by a name the
                // server resolves). One that is only moved or adopted stays.
                let leaves = |target: &ObjectId| {
                    let Some(action) =
                        own_action.filter(|action| matches!(action.operation, Operation::Update | Operation::Recreate))
                    else {
                        return false;
                    };
                    let recorded = managed_as.and_then(|id| state.get(id)).is_some_and(|entry| {
                        target.provider == entry.id.provider
                            && entry.depends_on.contains(&LocalRef::new(&target.kind, &target.local_id))
                    });
                    // Read from the text only when state recorded the reference.
                    let named = || {
                        let names = names_of.get(target).map(Vec::as_slice).unwrap_or_default();
                        action
                            .desired
                            .as_ref()
                            .is_some_and(|desired| desired.fields.to_map().values().any(|value| mentions(value, names)))
                    };
                    recorded && !named()
                };
                let linked = LinkedObject {
                    kind: kind.to_owned(),
                    remote_id: remote.remote_id.clone(),
                    title: links.title.clone(),
                    uid: links.uid.clone(),
                    managed_as: managed_as.cloned(),
                };
                let targets = |targets: &[LinkTarget]| -> BTreeSet<ObjectId> {
                    targets
                        .iter()
                        .flat_map(|target| match &target.key {
                            LinkKey::RemoteId(remote_id) => deleted
                                .get(&(instance.to_owned(), target.kind.clone(), remote_id.clone()))
                                .cloned()
                                .into_iter()
                                .collect::<Vec<_>>(),
                            LinkKey::Title(title) => deleted_titles
                                .get(&(instance.to_owned(), target.kind.clone(), title.clone()))
                                .cloned()
                                .unwrap_or_default(),
                        })
                        .collect()
                };
                for target in targets(&links.lives_in).into_iter().filter(|target| !leaves(target)) {
                    holders.entry(target).or_default().insert(linked.clone());
                }
                for target in targets(&links.uses).into_iter().filter(|target| !leaves(target)) {
                    users.entry(target).or_default().insert(linked.clone());
                }
            }
        }
    }

    // What lives in a deleted object that no kind models (library panels in a folder).
    for action in actions.values().filter(|action| action.operation == Operation::Delete) {
        let Some(remote) = &action.remote else { continue };
        let held = observed.contents(&action.id.provider, &action.id.kind, &remote.remote_id);
        if !held.is_empty() {
            // A handler reading contents does not know which of them mac manages: state does.
            let held: Vec<LinkedObject> = held
                .iter()
                .cloned()
                .map(|mut linked| {
                    if linked.managed_as.is_none() {
                        let key = (action.id.provider.as_str(), linked.kind.as_str(), linked.remote_id.as_str());
                        linked.managed_as = managed.get(&key).map(|id| (*id).clone());
                    }
                    linked
                })
                // Deleted by this plan too: it goes first (a dashboard before the library panel
                // it uses), and takes its hold with it.
                .filter(|linked| {
                    !linked
                        .managed_as
                        .as_ref()
                        .and_then(|id| actions.get(id))
                        .is_some_and(|action| action.operation.removes())
                })
                .collect();
            if !held.is_empty() {
                holders.entry(action.id.clone()).or_default().extend(held);
            }
        }
    }
    let mut blocked: BTreeMap<ObjectId, BlockedDelete> = holders
        .into_iter()
        .map(|(id, holds)| {
            let holds: Vec<LinkedObject> = holds.into_iter().collect();
            let remote_id = actions[&id].remote.as_ref().map(|remote| remote.remote_id.clone()).unwrap_or_default();
            let reason = holds_reason(&holds);
            (id.clone(), BlockedDelete { id, remote_id, holds, needed_by: Vec::new(), reason })
        })
        .collect();
    // A delete of what a managed object that stays still uses is kept: its definition names
    // it in a way that resolves on the server (by name, say), so deleting it would break that
    // object and the project's next plan.
    for (id, users) in &users {
        let needed_by: Vec<ObjectId> = users.iter().filter_map(|user| user.managed_as.clone()).collect();
        if needed_by.is_empty() || blocked.contains_key(id) {
            continue;
        }
        let names: Vec<String> = needed_by.iter().map(ToString::to_string).collect();
        let reason = format!("{} stays and uses it", enumerate(&names));
        let remote_id = actions[id].remote.as_ref().map(|remote| remote.remote_id.clone()).unwrap_or_default();
        blocked.insert(id.clone(), BlockedDelete { id: id.clone(), remote_id, holds: Vec::new(), needed_by, reason });
    }
    // A delete that waits for a kept object (it lived in or used it) is kept too.
    loop {
        let mut newly: Vec<BlockedDelete> = Vec::new();
        for action in actions.values() {
            if !action.operation.removes() || blocked.contains_key(&action.id) {
                continue;
            }
            let needed_by: Vec<ObjectId> =
                action.depends_on.iter().filter(|dependency| blocked.contains_key(*dependency)).cloned().collect();
            if needed_by.is_empty() || action.operation != Operation::Delete {
                continue;
            }
            let names: Vec<String> = needed_by.iter().map(ToString::to_string).collect();
            let reason = format!("{} stays and needs it", enumerate(&names));
            let remote_id = action.remote.as_ref().map(|remote| remote.remote_id.clone()).unwrap_or_default();
            newly.push(BlockedDelete { id: action.id.clone(), remote_id, holds: Vec::new(), needed_by, reason });
        }
        if newly.is_empty() {
            break;
        }
        for delete in newly {
            blocked.insert(delete.id.clone(), delete);
        }
    }
    for id in blocked.keys() {
        actions.remove(id);
    }
    for action in actions.values_mut() {
        action.depends_on.retain(|dependency| !blocked.contains_key(dependency));
    }

    let warnings = users
        .into_iter()
        .filter(|(id, _)| !blocked.contains_key(id))
        .map(|(id, users)| {
            // Managed users that stay block the delete (above): these are all unmanaged.
            let unmanaged: Vec<String> = users.iter().map(LinkedObject::describe).collect();
            let message = format!(
                "deleting it leaves {}, which mac does not manage, using it: they will break",
                enumerate(&unmanaged)
            );
            PlanWarning { id, message }
        })
        .collect();
    (blocked.into_values().collect(), warnings)
}

/// Whether any string in `value` is one of `names`.
fn mentions(value: &serde_json::Value, names: &[String]) -> bool {
    match value {
        serde_json::Value::String(text) => names.iter().any(|name| name == text),
        serde_json::Value::Array(items) => items.iter().any(|item| mentions(item, names)),
        serde_json::Value::Object(map) => map.values().any(|item| mentions(item, names)),
        _ => false,
    }
}

/// The objects in state that are no longer defined, which a plan may therefore delete: their
/// remote ids by (instance, kind), for [`crate::refresh::observe_contents`].
pub fn deletable_remote_ids<'a>(
    defined: impl IntoIterator<Item = &'a ObjectId>,
    state: &State,
) -> BTreeMap<(String, String), BTreeSet<String>> {
    let defined: BTreeSet<&ObjectId> = defined.into_iter().collect();
    let mut deletable: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for entry in state.resources().iter().filter(|entry| !defined.contains(&entry.id)) {
        deletable
            .entry((entry.id.provider.clone(), entry.id.kind.clone()))
            .or_default()
            .insert(entry.remote_id.clone());
    }
    deletable
}

/// The kinds a plan must read besides those in use, because it may delete an object of
/// `deletable` ([`deletable_remote_ids`]) that their objects live in or use: each with the
/// relations needed. A kind read in full anyway ([`crate::refresh::kinds_in_use`]) is not
/// listed, and no kind is when no delete is possible.
pub fn kinds_for_deletes(
    providers: &Providers,
    deletable: &BTreeMap<(String, String), BTreeSet<String>>,
    in_use: &BTreeSet<(String, String)>,
) -> BTreeMap<(String, String), BTreeSet<Relation>> {
    let mut kinds: BTreeMap<(String, String), BTreeSet<Relation>> = BTreeMap::new();
    for (instance, deleted_kind) in deletable.keys() {
        for kind in providers.kinds(instance) {
            if in_use.contains(&(instance.to_owned(), kind.to_owned())) {
                continue;
            }
            let Some(handler) = providers.handler(instance, kind) else { continue };
            for (relation, target) in handler.relations() {
                if target == deleted_kind.as_str() {
                    kinds.entry((instance.to_owned(), kind.to_owned())).or_default().insert(relation);
                }
            }
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_as_prose_and_stay_short() {
        let items = |count: usize| (1..=count).map(|index| format!("d{index}")).collect::<Vec<_>>();
        assert_eq!(enumerate(&items(1)), "d1");
        assert_eq!(enumerate(&items(2)), "d1 and d2");
        assert_eq!(enumerate(&items(3)), "d1, d2 and d3");
        assert_eq!(enumerate(&items(12)), "d1, d2, d3, d4, d5, d6, d7, d8, d9, d10 and 2 more");
    }
}
