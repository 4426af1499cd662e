//! `mac import`: turning remote objects that grew by hand into definitions and state
//! entries, so that the next plan is empty.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

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
    /// Fields written to files of their own (a dashboard's JSON): `fields` holds
    /// `{ file = … }` for them.
    pub files: Vec<ImportedFile>,
}

/// A field of an imported object written as a JSON file beside the definitions, for kinds
/// whose handler reads the field from a file ([`crate::Handler::file_fields`]): a dashboard
/// is Grafana's JSON, and reads better as such than as deep TOML (which cannot hold `null`).
#[derive(Debug, Clone)]
pub struct ImportedFile {
    /// The top-level field it holds (`json`).
    pub key: String,
    /// Where it goes, relative to the project root (as written in `{ file = … }`).
    pub path: PathBuf,
    pub content: Value,
}

/// A remote object `mac import` left alone because another project's marker is on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedElsewhere {
    pub instance: String,
    pub kind: String,
    pub remote_id: String,
    pub owner: String,
}

/// What an import found.
#[derive(Debug, Clone, Default)]
pub struct ImportResult {
    pub objects: Vec<Imported>,
    pub owned_elsewhere: Vec<OwnedElsewhere>,
}

/// Choices of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// This project's name: objects marked by another project are not imported.
    pub project: Option<String>,
    /// Where the definitions go, relative to the project root; file fields are written to
    /// `DIRECTORY/<kind>s/<local id>.json`.
    pub directory: PathBuf,
}

impl Imported {
    /// The fields as the loader will give them to the handler once written: a file field is
    /// `{ file, content }` (see [`crate::Handler::file_fields`]).
    fn loaded_fields(&self) -> crate::Fields {
        let mut fields = self.fields.clone();
        for file in &self.files {
            let path = file.path.to_string_lossy().into_owned();
            fields.insert(file.key.clone(), serde_json::json!({ "file": path, "content": file.content }));
        }
        fields
    }

    /// The secrets the import could not read (a server never returns them) and wrote as
    /// `{ env = "VAR" }` placeholders: (field, as `a.b.c`, variable) in field order.
    pub fn secret_placeholders(&self, providers: &Providers) -> Vec<(String, String)> {
        let Some(handler) = providers.handler(&self.id.provider, &self.id.kind) else { return Vec::new() };
        let patterns = handler.secret_fields();
        crate::secrets::secret_refs(&self.fields, &patterns)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(pointer, reference)| match reference {
                crate::SecretRef::Env { env } => Some((crate::secrets::readable(&pointer), env)),
                crate::SecretRef::File { .. } => None,
            })
            .collect()
    }

    /// Moves the values of the handler's file fields out of `fields` into files under
    /// `directory` (relative to the project root).
    fn externalise_files(&mut self, providers: &Providers, directory: &Path) {
        let Some(handler) = providers.handler(&self.id.provider, &self.id.kind) else { return };
        let keys: Vec<String> = handler
            .file_fields()
            .iter()
            .filter_map(|pattern| pattern.strip_prefix('/').filter(|key| !key.contains('/')))
            .map(str::to_owned)
            .collect();
        for key in &keys {
            let Some(content) = self.fields.get(key).filter(|value| value.is_object()).cloned() else { continue };
            let name = if keys.len() == 1 { self.id.local_id.clone() } else { format!("{}-{key}", self.id.local_id) };
            let path = directory.join(format!("{}s", self.id.kind)).join(format!("{name}.json"));
            let written = path.to_string_lossy().replace('\\', "/");
            self.fields.insert(key.clone(), serde_json::json!({ "file": written }));
            self.files.push(ImportedFile { key: key.clone(), path: PathBuf::from(written), content });
        }
    }

    /// What it refers to: its handler's references and generic `{ ref = … }`s.
    fn references(&self, providers: &Providers) -> BTreeSet<LocalRef> {
        let mut references: BTreeSet<LocalRef> = providers
            .handler(&self.id.provider, &self.id.kind)
            .map(|handler| handler.references(&crate::JsonText::from_map(&self.fields)))
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
            applied_hash: definition_hash(&self.loaded_fields()),
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
/// ids unique among themselves and `taken` (ids already defined). Objects marked as managed by
/// another project are left out and listed.
pub fn import(
    providers: &Providers,
    instance: &str,
    observed: &Observed,
    state: &State,
    taken: &BTreeSet<ObjectId>,
    options: &ImportOptions,
) -> ImportResult {
    let mut known = Known { by_remote: BTreeMap::new() };
    for entry in state.resources().iter().filter(|entry| entry.id.provider == instance) {
        known.by_remote.insert((entry.id.kind.clone(), entry.remote_id.clone()), entry.id.local_id.clone());
    }
    let mut used: BTreeSet<ObjectId> = taken.clone();
    used.extend(state.resources().iter().map(|entry| entry.id.clone()));
    let mut imported = Vec::new();
    let mut owned_elsewhere = Vec::new();
    for kind in providers.kinds(instance) {
        let Some(handler) = providers.handler(instance, kind) else { continue };
        // A context that cannot be read imports nothing of its kind, as one that does not parse
        // per object did.
        let Ok(context) = handler.prepare_context(observed.context(instance, kind)) else { continue };
        for remote in observed.get(instance, kind) {
            if known.by_remote.contains_key(&(kind.to_owned(), remote.remote_id.clone())) {
                continue;
            }
            if let Some(owner) = crate::ownership::foreign_owner(handler.as_ref(), remote, options.project.as_deref()) {
                owned_elsewhere.push(OwnedElsewhere {
                    instance: instance.to_owned(),
                    kind: kind.to_owned(),
                    remote_id: remote.remote_id.clone(),
                    owner,
                });
                continue;
            }
            let Some(fields) = handler.import(remote, &known, &context) else { continue };
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
            let mut object = Imported {
                id,
                fields: fields.fields,
                file: fields.file,
                scope: fields.scope,
                remote,
                files: Vec::new(),
            };
            object.externalise_files(providers, &options.directory);
            imported.push(object);
        }
    }
    ImportResult { objects: imported, owned_elsewhere }
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
