//! What `destroy` plans with: the definitions as if the destroyed objects had been removed
//! from the code, so that the planner deletes them with every guard of a prune (protected
//! objects, content mac does not manage, the mass-delete share).

use std::collections::{BTreeMap, BTreeSet};

use crate::object::{Definition, ObjectId};
use crate::plan::Target;
use crate::project::dependencies;
use crate::provider::Providers;

/// The definitions that stay, and the targets the plan is limited to.
#[derive(Debug)]
pub struct Destroy {
    /// Definitions that stay: those of other instances, and objects outside the targets that
    /// need none of the destroyed ones.
    pub kept: Vec<Definition>,
    /// What to plan for: the given targets, and each defined object that goes because it needs
    /// a destroyed one (an alert group in a destroyed folder), so that the plan deletes nothing
    /// else and changes nothing else.
    pub targets: Vec<Target>,
    /// The objects beyond the targets that go because they need a destroyed one, by id.
    pub dependents: Vec<ObjectId>,
}

/// Why a destroy cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestroyError {
    /// Its definition says `protect = true`, applied or not: a destroy removes no protection.
    #[error(
        "refusing to destroy `{id}`: its definition says protect = true. Set protect = false and apply, then destroy"
    )]
    Protected { id: ObjectId },
}

/// Splits `definitions` for a destroy of `targets` (every instance when empty). Refused when
/// a definition that would go is protected: state knows only what was applied, the code may
/// say more.
pub fn destroy(
    definitions: Vec<Definition>,
    targets: &[Target],
    providers: &Providers,
) -> Result<Destroy, DestroyError> {
    if targets.is_empty() {
        if let Some(protected) = definitions.iter().find(|definition| definition.protect) {
            return Err(DestroyError::Protected { id: protected.id.clone() });
        }
        let instances: BTreeSet<&str> = providers.instances().collect();
        let targets = instances.into_iter().map(|instance| Target::Instance(instance.to_owned())).collect();
        return Ok(Destroy { kept: Vec::new(), targets, dependents: Vec::new() });
    }
    // Who needs whom, among the definitions: the reverse of their references.
    let mut needed_by: BTreeMap<ObjectId, Vec<ObjectId>> = BTreeMap::new();
    for definition in &definitions {
        let Some(handler) = providers.handler(&definition.id.provider, &definition.id.kind) else { continue };
        for (_, reference) in dependencies(definition, handler.as_ref()).unwrap_or_default() {
            needed_by.entry(definition.id.sibling(&reference)).or_default().push(definition.id.clone());
        }
    }
    let mut going: BTreeSet<ObjectId> = BTreeSet::new();
    let mut queue: Vec<ObjectId> = definitions
        .iter()
        .map(|definition| &definition.id)
        .filter(|id| targets.iter().any(|target| target.matches(id)))
        .cloned()
        .collect();
    while let Some(id) = queue.pop() {
        if going.insert(id.clone()) {
            queue.extend(needed_by.get(&id).into_iter().flatten().cloned());
        }
    }
    let dependents: Vec<ObjectId> =
        going.iter().filter(|id| !targets.iter().any(|target| target.matches(id))).cloned().collect();
    let mut all_targets = targets.to_vec();
    all_targets.extend(dependents.iter().map(|id| Target::Object {
        instance: Some(id.provider.clone()),
        object: crate::LocalRef::new(&id.kind, &id.local_id),
    }));
    if let Some(protected) = definitions.iter().find(|definition| definition.protect && going.contains(&definition.id))
    {
        return Err(DestroyError::Protected { id: protected.id.clone() });
    }
    let kept = definitions.into_iter().filter(|definition| !going.contains(&definition.id)).collect();
    Ok(Destroy { kept, targets: all_targets, dependents })
}
