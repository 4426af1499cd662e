//! `mac import`: turning remote objects that grew by hand into definitions and state
//! entries, so that the next plan is empty.

use std::collections::{BTreeMap, BTreeSet};

use crate::object::{LocalRef, ObjectId, RemoteObject};
use crate::plan::Observed;
use crate::provider::{ImportRefs, Providers};
use crate::state::{State, StateEntry, definition_hash};

/// One imported object.
#[derive(Debug, Clone)]
pub struct Imported {
    pub id: ObjectId,
    pub fields: crate::Fields,
    pub file: String,
    pub scope: Option<String>,
    pub remote: RemoteObject,
}

impl Imported {
    /// What it refers to: its handler's references and generic `{ ref = … }`s.
    fn references(&self, providers: &Providers) -> BTreeSet<LocalRef> {
        let mut references: BTreeSet<LocalRef> = providers
            .handler(&self.id.provider, &self.id.kind)
            .map(|handler| handler.references(&self.fields))
            .unwrap_or_default()
            .into_iter()
            .map(|(_, reference)| reference)
            .collect();
        references
            .extend(crate::refs::find_refs(&self.fields).unwrap_or_default().into_iter().map(|found| found.target));
        references
    }

    /// The state entry that makes it managed.
    pub fn state_entry(&self, providers: &Providers) -> StateEntry {
        let depends_on = self.references(providers);
        StateEntry {
            id: self.id.clone(),
            remote_id: self.remote.remote_id.clone(),
            applied_hash: definition_hash(&self.fields),
            depends_on: depends_on.into_iter().collect(),
            part_ids: self.remote.part_ids.clone(),
            secret_digests: Default::default(),
            protect: false,
        }
    }
}

struct Known {
    by_remote: BTreeMap<(String, String), String>,
}

impl ImportRefs for Known {
    fn local_id(&self, kind: &str, remote_id: &str) -> Option<&str> {
        self.by_remote.get(&(kind.to_owned(), remote_id.to_owned())).map(String::as_str)
    }
}

/// Every object of `instance` that state does not manage yet, in dependency order, with local
/// ids unique among themselves and `taken` (ids already defined).
pub fn import(
    providers: &Providers,
    instance: &str,
    observed: &Observed,
    state: &State,
    taken: &BTreeSet<ObjectId>,
) -> Vec<Imported> {
    let mut known = Known { by_remote: BTreeMap::new() };
    for entry in state.resources().iter().filter(|entry| entry.id.provider == instance) {
        known.by_remote.insert((entry.id.kind.clone(), entry.remote_id.clone()), entry.id.local_id.clone());
    }
    let mut used: BTreeSet<ObjectId> = taken.clone();
    used.extend(state.resources().iter().map(|entry| entry.id.clone()));
    let mut imported = Vec::new();
    for kind in providers.kinds(instance) {
        let Some(handler) = providers.handler(instance, kind) else { continue };
        for remote in observed.get(instance, kind) {
            if known.by_remote.contains_key(&(kind.to_owned(), remote.remote_id.clone())) {
                continue;
            }
            let Some(fields) = handler.import(remote, &known) else { continue };
            let mut local_id = fields.local_id.clone();
            let mut counter = 2;
            while used.contains(&ObjectId::new(instance, kind, &local_id)) {
                local_id = format!("{}-{counter}", fields.local_id);
                counter += 1;
            }
            let id = ObjectId::new(instance, kind, &local_id);
            used.insert(id.clone());
            known.by_remote.insert((kind.to_owned(), remote.remote_id.clone()), local_id);
            let mut remote = remote.clone();
            remote.part_ids = fields.part_ids;
            imported.push(Imported { id, fields: fields.fields, file: fields.file, scope: fields.scope, remote });
        }
    }
    imported
}

/// The imported objects in one of `scopes` (every one when `scopes` is empty), with the
/// imported objects they refer to (a rule group's data source), so that what is written
/// refers only to what is defined.
pub fn select_scopes(imported: Vec<Imported>, scopes: &[String], providers: &Providers) -> Vec<Imported> {
    if scopes.is_empty() {
        return imported;
    }
    let mut keep: BTreeSet<ObjectId> = imported
        .iter()
        .filter(|object| object.scope.as_ref().is_some_and(|scope| scopes.contains(scope)))
        .map(|object| object.id.clone())
        .collect();
    let mut pending: Vec<ObjectId> = keep.iter().cloned().collect();
    while let Some(id) = pending.pop() {
        let Some(object) = imported.iter().find(|object| object.id == id) else { continue };
        for reference in object.references(providers) {
            let target = id.sibling(&reference);
            if imported.iter().any(|other| other.id == target) && keep.insert(target.clone()) {
                pending.push(target);
            }
        }
    }
    imported.into_iter().filter(|object| keep.contains(&object.id)).collect()
}
