//! The planner: a pure, synchronous, deterministic function of what is defined, what state
//! remembers and what the remote systems have ([`crate::plan::Observed`]), to the actions that
//! reconcile them ([`crate::plan::Plan`]).

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::diff::{Difference, FieldChange, diff_items};
use crate::graph::topological_order;
use crate::json_text::JsonText;
use crate::object::{Definition, LocalRef, ObjectId, RemoteObject, Resource};
use crate::plan::{
    Action, Fingerprint, KindContext, KnownRemote, Observed, Operation, PLAN_FORMAT, Plan, PlanError, PlanOptions,
    Target,
};
use crate::project::dependencies;
use crate::provider::{DesiredObject, FieldError, Handler, PreparedContext, Providers, Resolved, Resolver};
use crate::refs::substitute_in;
use crate::state::{PendingCreate, State, definition_text_hash};

/// Plans the reconciliation of `definitions` against `state` and `observed`.
pub fn plan(
    definitions: &[Definition],
    state: &State,
    observed: &Observed,
    providers: &Providers,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let defined: BTreeMap<&ObjectId, &Definition> =
        definitions.iter().map(|definition| (&definition.id, definition)).collect();
    // Renamed ids first: everything below sees state as the moves leave it.
    let (moved_state, moved_from) = crate::moved::apply_moves(state, &options.moves)?;
    let state = if moved_from.is_empty() { state } else { &moved_state };
    check_state_is_plannable(state, providers)?;

    // Index what each kind has remotely, by remote id and by adoption key.
    let mut by_remote_id: BTreeMap<(&str, &str, &str), &RemoteObject> = BTreeMap::new();
    let mut by_adoption_key: BTreeMap<(String, String, String), &RemoteObject> = BTreeMap::new();
    for instance in providers.instances() {
        for kind in providers.kinds(instance) {
            for remote in observed.get(instance, kind) {
                by_remote_id.insert((instance, kind, remote.remote_id.as_str()), remote);
                if let Some(key) = &remote.adoption_key {
                    by_adoption_key.insert((instance.to_owned(), kind.to_owned(), key.clone()), remote);
                }
            }
        }
    }
    // Unmanaged remote objects by the other key the remote keeps unique (a folder's title), for
    // the kinds that have one: a create with that key would be refused. Read on the first
    // would-be create with such a key: a plan that creates nothing (most plans of a large
    // project) does not parse every remote object for it.
    let by_unique_key: OnceCell<BTreeMap<(&str, &str, String), &RemoteObject>> = OnceCell::new();
    let unique_keys = || {
        by_unique_key.get_or_init(|| {
            let mut by_unique_key = BTreeMap::new();
            for instance in providers.instances() {
                for kind in providers.kinds(instance) {
                    let Some(handler) = providers.handler(instance, kind) else { continue };
                    for remote in observed.get(instance, kind) {
                        if let Some(key) = handler.remote_unique_key(remote) {
                            by_unique_key.entry((instance, kind, key)).or_insert(remote);
                        }
                    }
                }
            }
            by_unique_key
        })
    };
    let claimed: BTreeSet<(&str, &str, &str)> = state
        .resources()
        .iter()
        .map(|entry| (entry.id.provider.as_str(), entry.id.kind.as_str(), entry.remote_id.as_str()))
        .collect();

    // Classify every defined and every remembered object.
    let mut resources: BTreeMap<ObjectId, Resource<'_>> = BTreeMap::new();
    let mut adopted_by: BTreeMap<(String, String, String), ObjectId> = BTreeMap::new();
    let mut resumed: BTreeSet<ObjectId> = BTreeSet::new();
    let mut created_by_unique_key: BTreeMap<(String, String, String), &Definition> = BTreeMap::new();
    // Classify dependencies first, so that an adoption key may use what they resolve to (a
    // rule group's key contains its folder's uid).
    for definition in dependency_order(definitions, providers) {
        let id = &definition.id;
        let Some(handler) = providers.handler(&id.provider, &id.kind) else { continue };
        // A remote object with this object's natural key that no state entry claims. Looked
        // for only when state has no live remote object for the definition: most objects of
        // a large project are synced, and the key costs a copy of the fields.
        let adoptable = |resources: &BTreeMap<ObjectId, Resource<'_>>| {
            let resolver = PlanResolver { resources };
            let desired = DesiredObject { id: id.clone(), fields: definition.fields.clone() };
            handler.adoption_key(&desired, &InstanceResolver { resolver: &resolver, instance: &id.provider }).and_then(
                |key| {
                    let remote = by_adoption_key.get(&(id.provider.clone(), id.kind.clone(), key.clone()))?;
                    let unclaimed =
                        !claimed.contains(&(id.provider.as_str(), id.kind.as_str(), remote.remote_id.as_str()));
                    unclaimed.then(|| (key, (*remote).clone()))
                },
            )
        };
        let observed = state.get(id).map(|entry| {
            let remote = by_remote_id.get(&(id.provider.as_str(), id.kind.as_str(), entry.remote_id.as_str()));
            (entry, remote.map(|remote| (*remote).clone()))
        });
        let resource = match observed {
            Some((entry, Some(mut remote))) => {
                remote.part_ids = entry.part_ids.clone();
                Resource::Synced { local: definition, remote }
            }
            // Recorded, gone remotely — unless an interrupted recreate already made it again.
            Some((entry, None)) => match adoptable(&resources) {
                Some((key, remote)) if state.is_pending(id, &key) => {
                    resumed.insert(id.clone());
                    Resource::Adoptable { local: definition, remote }
                }
                _ => Resource::Mapped { local: definition, remote_id: entry.remote_id.clone() },
            },
            None => match adoptable(&resources) {
                Some((key, remote)) => {
                    if let Some(owner) =
                        crate::ownership::foreign_owner(handler.as_ref(), &remote, options.project.as_deref())
                        && !state.is_pending(id, &key)
                    {
                        return Err(PlanError::OwnedByAnotherProject {
                            id: id.clone(),
                            key,
                            owner,
                            ours: options.project.clone(),
                            location: definition.location(),
                        });
                    }
                    claim_adoption(&mut adopted_by, id, key.clone(), definition)?;
                    if state.is_pending(id, &key) {
                        resumed.insert(id.clone());
                    }
                    Resource::Adoptable { local: definition, remote }
                }
                None => {
                    let desired = DesiredObject { id: id.clone(), fields: definition.fields.clone() };
                    let unique_key = handler.unique_key(&desired);
                    if let Some(key) = &unique_key {
                        // Two creates with one unique key: the remote would refuse the second.
                        let slot = (id.provider.clone(), id.kind.clone(), key.clone());
                        if let Some(first) = created_by_unique_key.insert(slot, definition) {
                            return Err(PlanError::Definition(definition.error(
                                "",
                                format!(
                                    "`{id}` and `{}` (defined at {}) would both be created with the unique key \
                                     `{key}`, which the remote allows once",
                                    first.id,
                                    first.describe_location()
                                ),
                            )));
                        }
                    }
                    let clash = unique_key.clone().and_then(|key| {
                        let remote = unique_keys().get(&(id.provider.as_str(), id.kind.as_str(), key))?;
                        let claimant = state.resources().iter().find(|entry| {
                            entry.id.provider == id.provider
                                && entry.id.kind == id.kind
                                && entry.remote_id == remote.remote_id
                        });
                        Some((*remote, claimant))
                    });
                    // The unique key of an object this project manages under another id: a
                    // create would be refused by the remote. Most often a renamed id.
                    if let (Some((_, Some(claimant))), Some(key)) = (&clash, &unique_key)
                        && let Some(other) = defined.get(&claimant.id)
                    {
                        // Still defined: two objects of this project want the key (or the other
                        // gives it up in this same plan, which cannot be ordered safely).
                        return Err(PlanError::Definition(definition.error(
                            "",
                            format!(
                                "`{id}` would be created with the unique key `{key}` that `{}` (defined at {}) \
                                 has on the server: the remote allows it once. If `{}` changes it in this plan, \
                                 apply that change first, then this object",
                                claimant.id,
                                other.describe_location(),
                                claimant.id,
                            ),
                        )));
                    }
                    if let (Some((remote, Some(claimant))), Some(key)) = (&clash, &unique_key) {
                        return Err(PlanError::Definition(definition.error(
                            "",
                            format!(
                                "`{id}` would be created with the unique key `{key}` of `{}` (remote `{}`), which \
                                 this project manages: if `{id}` is `{}` under a new id, say so with [[moved]] \
                                 from = \"{}.{}.{}\" to = \"{}.{}.{}\"; otherwise change what makes the key",
                                claimant.id,
                                remote.remote_id,
                                claimant.id,
                                id.provider.split('.').next().unwrap_or(&id.provider),
                                claimant.id.kind,
                                claimant.id.local_id,
                                id.provider.split('.').next().unwrap_or(&id.provider),
                                id.kind,
                                id.local_id,
                            ),
                        )));
                    }
                    let clash = clash.map(|(remote, _)| remote);
                    match clash {
                        None => Resource::Local(definition),
                        Some(remote) => {
                            handler
                                .unique_key_clash(&desired, remote)
                                .map_err(|error| PlanError::Definition(definition.field_error(&error)))?;
                            let key = remote.adoption_key.clone().unwrap_or_else(|| remote.remote_id.clone());
                            claim_adoption(&mut adopted_by, id, key, definition)?;
                            Resource::Adoptable { local: definition, remote: remote.clone() }
                        }
                    }
                }
            },
        };
        resources.insert(id.clone(), resource);
    }
    for entry in state.resources() {
        if defined.contains_key(&entry.id) {
            continue;
        }
        let remote = by_remote_id.get(&(entry.id.provider.as_str(), entry.id.kind.as_str(), entry.remote_id.as_str()));
        resources.insert(
            entry.id.clone(),
            Resource::Obsolete {
                id: entry.id.clone(),
                remote_id: entry.remote_id.clone(),
                remote: remote.map(|remote| (*remote).clone()),
            },
        );
    }
    // A pending create whose definition is gone is not deleted: a pending record alone is
    // not proof that mac made the object. It is dropped from state (see `pending` below).
    refuse_delete_all(definitions, state, &resources, options)?;

    let resolver = PlanResolver { resources: &resources };
    let secrets_of = |id: &ObjectId, recorded| SecretsNow {
        current: options.secrets.get(id),
        recorded,
        recorded_protect: state.get(id).map(|entry| entry.protect),
    };
    let mut actions: BTreeMap<ObjectId, Action> = BTreeMap::new();
    let mut unchanged = 0;
    let mut known_remote: BTreeMap<ObjectId, RemoteObject> = BTreeMap::new();
    // Each kind's context is read into its own type once, not once per object.
    let contexts: BTreeMap<(&str, &str), Result<PreparedContext, FieldError>> = definitions
        .iter()
        .map(|definition| (definition.id.provider.as_str(), definition.id.kind.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter_map(|(instance, kind)| {
            let handler = providers.handler(instance, kind)?;
            Some(((instance, kind), handler.prepare_context(observed.context(instance, kind))))
        })
        .collect();
    let compute = |id: &ObjectId, resource: &Resource<'_>| -> Result<Option<Action>, PlanError> {
        let Some(handler) = providers.handler(&id.provider, &id.kind) else { return Ok(None) };
        let context = contexts.get(&(id.provider.as_str(), id.kind.as_str()));
        let handler = Kinded { handler: handler.as_ref(), context };
        let action = match resource {
            Resource::Local(local) => {
                write_action(local, handler, &resolver, Operation::Create, None, None, secrets_of(id, None))?
                    .map(|action| key_was_free(action, &by_adoption_key))
            }
            Resource::Mapped { local, .. } => {
                write_action(local, handler, &resolver, Operation::Recreate, None, None, secrets_of(id, None))?
                    .map(|action| key_was_free(action, &by_adoption_key))
            }
            Resource::Adoptable { local, remote } => {
                let action = write_action(
                    local,
                    handler,
                    &resolver,
                    Operation::Adopt,
                    Some(remote),
                    None,
                    secrets_of(id, None),
                )?;
                action.map(|mut action| {
                    action.resumed = resumed.contains(id);
                    action
                })
            }
            Resource::Synced { local, remote } => {
                let entry = state.get(id);
                write_action(
                    local,
                    handler,
                    &resolver,
                    Operation::Update,
                    Some(remote),
                    entry.map(|entry| entry.applied_hash.as_str()),
                    secrets_of(id, entry.map(|entry| &entry.secret_digests)),
                )?
            }
            Resource::Obsolete { id, remote, .. } => Some(Action {
                fingerprint: remote.as_ref().map(|remote| Fingerprint::of(handler.handler, remote)),
                description: remote.as_ref().map(|remote| handler.handler.describe(remote)),
                ..Action::without_write(
                    id.clone(),
                    if remote.is_some() { Operation::Delete } else { Operation::Forget },
                    remote.clone(),
                )
            }),
        };
        Ok(action)
    };
    let resources_in_order: Vec<(&ObjectId, &Resource<'_>)> = resources.iter().collect();
    for ((id, resource), action) in
        resources_in_order
            .iter()
            .zip(crate::parallel::in_order(&resources_in_order, 256, |(id, resource)| compute(id, resource)))
    {
        let action = action?;
        if action.is_none() && matches!(resource, Resource::Synced { .. }) {
            unchanged += 1;
        }
        if let Some(action) = action {
            for reference in &action.references {
                let target = id.sibling(reference);
                if let Some(Resolved::Known(remote)) = resolver.resolve_id(&target) {
                    known_remote.insert(target, remote.clone());
                }
            }
            actions.insert((*id).clone(), action);
        }
    }

    refuse_updates_onto_taken_keys(&actions, &defined, providers, &unique_keys, &claimed)?;
    for (to, from) in moved_from {
        match actions.get_mut(&to) {
            Some(action) => action.moved_from = Some(from),
            None => {
                let Some(Resource::Synced { remote, .. }) = resources.get(&to) else { continue };
                // Counted above as unchanged: it is moved now.
                unchanged -= 1;
                actions.insert(to.clone(), move_action(to, from, remote));
            }
        }
    }
    refuse_protected_and_mass_deletes(&actions, state, options)?;
    link_actions(&mut actions, state);
    if !options.targets.is_empty() {
        actions = select_targets(actions, &resources, &options.targets)?;
        known_remote.retain(|id, _| {
            actions.values().any(|action| action.references.iter().any(|reference| action.id.sibling(reference) == *id))
        });
    }
    crate::keyrefs::refuse_renamed_away(&actions, definitions)?;
    let (blocked, link_warnings) = crate::links::check_deletes(&mut actions, state, observed, providers);
    // Pending creates stay recorded until their object is: those this plan handles (or that
    // targets left out) and the creates it will start.
    let mut pending: Vec<PendingCreate> =
        state.pending().iter().filter(|pending| defined.contains_key(&pending.id)).cloned().collect();
    pending.extend(actions.values().filter_map(|action| {
        let creates = matches!(action.operation, Operation::Create | Operation::Recreate);
        let key = action.adoption_key.clone().filter(|_| creates)?;
        Some(PendingCreate { id: action.id.clone(), adoption_key: key })
    }));
    pending.sort();
    pending.dedup();
    let ordered = order_actions(actions, providers)?;
    let written_kinds: BTreeSet<(&str, &str)> = ordered
        .iter()
        .filter(|action| action.desired.is_some())
        .map(|action| (action.id.provider.as_str(), action.id.kind.as_str()))
        .collect();
    let contexts = written_kinds
        .into_iter()
        .map(|(instance, kind)| (instance, kind, observed.context(instance, kind)))
        .filter(|(_, _, context)| !context.is_null())
        .map(|(instance, kind, context)| KindContext {
            instance: instance.to_owned(),
            kind: kind.to_owned(),
            context: context.clone(),
        })
        .collect();
    let mut plan = Plan {
        format: PLAN_FORMAT,
        state_lineage: state.lineage.clone(),
        state_serial: state.serial,
        actions: ordered,
        unchanged,
        known_remote: known_remote.into_iter().map(|(id, remote)| KnownRemote { id, remote }).collect(),
        contexts,
        pending,
        bindings: BTreeMap::new(),
        warnings: link_warnings,
        blocked,
    };
    crate::ownership::warn_claimed_by_others(&mut plan, &resources, providers, options.project.as_deref());
    Ok(plan)
}

/// A rename of state only: the object stays as it is remotely.
/// Nothing is written remotely, so there is no fingerprint: no hand edit can be undone by it.
fn move_action(to: ObjectId, from: ObjectId, remote: &RemoteObject) -> Action {
    Action { moved_from: Some(from), ..Action::without_write(to, Operation::Move, Some(remote.clone())) }
}

fn refuse_protected_and_mass_deletes(
    actions: &BTreeMap<ObjectId, Action>,
    state: &State,
    options: &PlanOptions,
) -> Result<(), PlanError> {
    let deletes: Vec<&Action> = actions.values().filter(|action| action.operation == Operation::Delete).collect();
    if let Some(protected) = deletes.iter().find(|action| state.get(&action.id).is_some_and(|entry| entry.protect)) {
        return Err(PlanError::Protected { id: protected.id.clone() });
    }
    let managed = state.resources().len();
    if let Some(share) = options.max_delete_share
        && !options.allow_mass_delete
        && deletes.len() > 1
        && deletes.len() as f64 > share * managed as f64
    {
        return Err(PlanError::MassDelete { deletes: deletes.len(), managed, share });
    }
    Ok(())
}

/// Definitions with every object after those it refers to (ties: kind order, then id).
fn dependency_order<'d>(definitions: &'d [Definition], providers: &Providers) -> Vec<&'d Definition> {
    type Key = (usize, ObjectId);
    let key = |id: &ObjectId| (providers.kind_rank(&id.provider, &id.kind).unwrap_or(0), id.clone());
    let by_key: BTreeMap<Key, &Definition> =
        definitions.iter().map(|definition| (key(&definition.id), definition)).collect();
    let nodes: BTreeSet<Key> = by_key.keys().cloned().collect();
    let in_key_order: Vec<(&Key, &&Definition)> = by_key.iter().collect();
    // Each definition is parsed for its references: on every core.
    let depends_on: BTreeMap<Key, BTreeSet<Key>> =
        crate::parallel::in_order(&in_key_order, 64, |(node, definition)| {
            let references = providers
                .handler(&definition.id.provider, &definition.id.kind)
                .and_then(|handler| dependencies(definition, handler.as_ref()).ok())
                .unwrap_or_default();
            ((*node).clone(), references.iter().map(|(_, reference)| key(&definition.id.sibling(reference))).collect())
        })
        .into_iter()
        .collect();
    // Loading rejected cycles; should one remain, fall back to kind order.
    let order = topological_order(&nodes, &depends_on).unwrap_or_else(|_| nodes.iter().cloned().collect());
    order.iter().filter_map(|node| by_key.get(node).copied()).collect()
}

fn check_state_is_plannable(state: &State, providers: &Providers) -> Result<(), PlanError> {
    let mut unconfigured: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in state.resources() {
        if !providers.contains(&entry.id.provider) {
            *unconfigured.entry(&entry.id.provider).or_default() += 1;
        } else if providers.handler(&entry.id.provider, &entry.id.kind).is_none() {
            return Err(PlanError::UnknownKind { id: entry.id.clone() });
        }
    }
    match unconfigured.into_iter().next() {
        Some((instance, count)) => Err(PlanError::UnconfiguredInstance { instance: instance.to_owned(), count }),
        None => Ok(()),
    }
}

fn refuse_delete_all(
    definitions: &[Definition],
    state: &State,
    resources: &BTreeMap<ObjectId, Resource<'_>>,
    options: &PlanOptions,
) -> Result<(), PlanError> {
    if options.allow_delete_all {
        return Ok(());
    }
    let mut managed: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in state.resources() {
        *managed.entry(&entry.id.provider).or_default() += 1;
    }
    for (instance, count) in managed {
        let defines_any = definitions.iter().any(|definition| definition.id.provider == instance);
        let deletes_any = resources.values().any(
            |resource| matches!(resource, Resource::Obsolete { id, remote: Some(_), .. } if id.provider == instance),
        );
        if !defines_any && deletes_any {
            return Err(PlanError::WouldDeleteAll { instance: instance.to_owned(), count });
        }
    }
    Ok(())
}

/// An update that changes an object's unique key (a ruler group's namespace/name, a folder's
/// title), or a recreate of an object gone from the server, onto a key another remote object has: the remote would replace that object (Cortex's
/// ruler does, silently) or refuse the write. Refused at plan time, naming the holder; only
/// changed objects are looked at, so a large plan without such updates parses nothing more.
fn refuse_updates_onto_taken_keys<'o>(
    actions: &BTreeMap<ObjectId, Action>,
    defined: &BTreeMap<&ObjectId, &Definition>,
    providers: &Providers,
    // Built on first use: only an update whose key changed needs every remote's key.
    unique_keys: &dyn Fn() -> &'o BTreeMap<(&'o str, &'o str, String), &'o RemoteObject>,
    claimed: &BTreeSet<(&str, &str, &str)>,
) -> Result<(), PlanError> {
    // A recreate (recorded, gone from the server) has no remote object: any holder of its key
    // is another object.
    let changes_key = |action: &&Action| matches!(action.operation, Operation::Update | Operation::Recreate);
    for action in actions.values().filter(changes_key) {
        let Some(desired) = &action.desired else { continue };
        let id = &action.id;
        let Some(handler) = providers.handler(&id.provider, &id.kind) else { continue };
        let Some(key) = handler.unique_key(desired) else { continue };
        if let Some(remote) = &action.remote
            && handler.remote_unique_key(remote).as_deref() == Some(key.as_str())
        {
            continue;
        }
        let Some(holder) = unique_keys().get(&(id.provider.as_str(), id.kind.as_str(), key.clone())) else { continue };
        if action.remote.as_ref().is_some_and(|remote| holder.remote_id == remote.remote_id) {
            continue;
        }
        let managed = claimed.contains(&(id.provider.as_str(), id.kind.as_str(), holder.remote_id.as_str()));
        let recreate = action.operation == Operation::Recreate;
        let whose = if recreate && !managed {
            "which this project does not manage: the object it recorded is gone and another took its key. To make \
             that one this definition's, forget the recorded one (`mac state rm`) and plan again, which offers to \
             adopt it; otherwise change what makes the key"
        } else if managed {
            "which this project manages under another id: change that object first, apply, then this one"
        } else {
            "which this project does not manage: the remote would replace or refuse it. Choose another, or \
             adopt that object with a definition of its own"
        };
        let message =
            format!("`{id}` would take the unique key `{key}` of the remote object `{}`, {whose}", holder.remote_id);
        return Err(match defined.get(id) {
            Some(definition) => PlanError::Definition(definition.error("", message)),
            None => PlanError::KeyTaken(message),
        });
    }
    Ok(())
}

/// A create, recreate, adopt or update of `local`, with its field changes.
/// Secret digests for one object: now, and as recorded when it was last written.
#[derive(Clone, Copy)]
struct SecretsNow<'a> {
    current: Option<&'a BTreeMap<String, String>>,
    recorded: Option<&'a BTreeMap<String, String>>,
    /// Whether state records the object as protected (updates only).
    recorded_protect: Option<bool>,
}

/// A handler with its kind's prepared context (see [`Handler::prepare_context`]); `None` for
/// a kind without definitions, whose objects are only deleted.
#[derive(Clone, Copy)]
struct Kinded<'a> {
    handler: &'a dyn Handler,
    context: Option<&'a Result<PreparedContext, FieldError>>,
}

fn write_action(
    local: &Definition,
    kinded: Kinded<'_>,
    resolver: &PlanResolver<'_, '_>,
    operation: Operation,
    remote: Option<&RemoteObject>,
    recorded_hash: Option<&str>,
    secrets: SecretsNow<'_>,
) -> Result<Option<Action>, PlanError> {
    let id = &local.id;
    let handler = kinded.handler;
    let instance_resolver = InstanceResolver { resolver, instance: &id.provider };
    // Copied only to replace references or leave secrets out: most definitions have neither.
    let fields = substitute_in(&local.fields, &instance_resolver)
        .map_err(|source| PlanError::Reference { id: id.clone(), source })?;
    let secret_fields = handler.secret_fields();
    let fields = if secret_fields.is_empty() {
        fields
    } else {
        JsonText::from_map(&crate::secrets::strip(&fields.to_map(), &secret_fields))
    };
    let compared = match kinded.context {
        Some(Ok(context)) => handler.differences(id, &fields, remote, &instance_resolver, context),
        Some(Err(error)) => Err(error.clone()),
        None => Err(FieldError::at("", "this kind's context was not prepared")),
    };
    let compared = compared.map_err(|mut error| {
        let hint =
            crate::keyrefs::unresolved_hint(local, handler, &error.pointer, &error.message, resolver.definitions());
        error.message.push_str(&hint);
        local.field_error(&error)
    })?;
    // `None`: the remote object is as desired.
    let difference = compared.map_or_else(Difference::default, |compared| {
        // A create diffs against an empty object, so that it lists every desired field.
        let observed = compared.observed.unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        diff_items(&observed, &compared.desired, &|path| handler.list_key(path))
    });
    let mut changes = difference.changes;
    // Every item of a create is new: counted only where they are a part of an update.
    let items = if matches!(operation, Operation::Update | Operation::Adopt) { difference.items } else { Vec::new() };
    // Hashed only for a change: most objects of a large plan are unchanged, and hashing is
    // not free.
    let applied_hash =
        (!changes.is_empty() || operation != Operation::Update).then(|| definition_text_hash(&local.fields));
    let drift = operation == Operation::Update
        && !changes.is_empty()
        && recorded_hash.is_some()
        && recorded_hash == applied_hash.as_deref();
    // `protect` lives in state: a change of it is a change, made without a remote write.
    let recorded_protect = secrets.recorded_protect.unwrap_or(false);
    if operation == Operation::Update && recorded_protect != local.protect {
        changes.push(FieldChange {
            path: "protect".to_owned(),
            old: Some(JsonText::from_value(&Value::Bool(recorded_protect))),
            new: Some(JsonText::from_value(&Value::Bool(local.protect))),
        });
    }
    // A secret written on create only is no change of an existing object.
    let secrets_compared =
        !(handler.secrets_on_create_only() && matches!(operation, Operation::Update | Operation::Adopt));
    for (pointer, digest) in secrets.current.into_iter().flatten().filter(|_| secrets_compared) {
        let recorded = secrets.recorded.and_then(|recorded| recorded.get(pointer));
        if recorded != Some(digest) {
            let sensitive = |text: &str| Some(JsonText::from_value(&Value::String(text.to_owned())));
            changes.push(FieldChange {
                path: crate::secrets::readable(pointer),
                old: recorded.and_then(|_| sensitive(crate::secrets::SENSITIVE)),
                new: if recorded.is_some() {
                    sensitive(crate::secrets::SENSITIVE_CHANGED)
                } else {
                    sensitive(crate::secrets::SENSITIVE)
                },
            });
        }
    }
    if operation == Operation::Update && changes.is_empty() {
        return Ok(None);
    }
    let references: BTreeSet<LocalRef> =
        dependencies(local, handler).unwrap_or_default().into_iter().map(|(_, reference)| reference).collect();
    let desired_object = DesiredObject { id: id.clone(), fields: local.fields.clone() };
    let adoption_key = handler.adoption_key(&desired_object, &instance_resolver);
    Ok(Some(Action {
        id: id.clone(),
        operation,
        drift,
        changes,
        desired: Some(desired_object),
        remote: remote.cloned(),
        depends_on: Vec::new(),
        references: references.into_iter().collect(),
        applied_hash: Some(applied_hash.unwrap_or_else(|| definition_text_hash(&local.fields))),
        adoption_key,
        resumed: false,
        protect: local.protect,
        moved_from: None,
        fingerprint: remote.map(|remote| Fingerprint::of(handler, remote)),
        items,
        description: None,
    }))
}

/// A create records that no remote object had its natural key, so that applying the saved
/// plan refuses if one appears. A key some other state entry holds (the object a rename
/// deletes, say) is not free, and not checked.
fn key_was_free(mut action: Action, by_adoption_key: &BTreeMap<(String, String, String), &RemoteObject>) -> Action {
    if let Some(key) = &action.adoption_key {
        let slot = (action.id.provider.clone(), action.id.kind.clone(), key.clone());
        if !by_adoption_key.contains_key(&slot) {
            action.fingerprint = Some(Fingerprint::Absent);
        }
    }
    action
}

/// Resolves references at plan time from the classification.
struct PlanResolver<'r, 'd> {
    resources: &'r BTreeMap<ObjectId, Resource<'d>>,
}

impl<'d> PlanResolver<'_, 'd> {
    /// Every definition being planned (for error messages).
    fn definitions(&self) -> impl Iterator<Item = &'d Definition> + '_ {
        self.resources.values().filter_map(|resource| match resource {
            Resource::Local(local) | Resource::Mapped { local, .. } => Some(*local),
            Resource::Synced { local, .. } | Resource::Adoptable { local, .. } => Some(*local),
            Resource::Obsolete { .. } => None,
        })
    }

    fn resolve_id(&self, id: &ObjectId) -> Option<Resolved<'_>> {
        match self.resources.get(id)? {
            Resource::Synced { remote, .. } | Resource::Adoptable { remote, .. } => Some(Resolved::Known(remote)),
            Resource::Local(_) | Resource::Mapped { .. } => Some(Resolved::Pending),
            Resource::Obsolete { .. } => None,
        }
    }
}

struct InstanceResolver<'a, 'r, 'd> {
    resolver: &'a PlanResolver<'r, 'd>,
    instance: &'a str,
}

impl Resolver for InstanceResolver<'_, '_, '_> {
    fn resolve(&self, reference: &LocalRef) -> Option<Resolved<'_>> {
        self.resolver.resolve_id(&ObjectId::new(self.instance, &reference.kind, &reference.local_id))
    }
}

/// Records that `id` adopts the remote object with adoption key `key`; two definitions of one
/// kind adopting the same remote object is an error at the second.
fn claim_adoption(
    adopted_by: &mut BTreeMap<(String, String, String), ObjectId>,
    id: &ObjectId,
    key: String,
    definition: &Definition,
) -> Result<(), PlanError> {
    let slot = (id.provider.clone(), id.kind.clone(), key.clone());
    match adopted_by.insert(slot, id.clone()) {
        Some(first) => {
            Err(PlanError::AdoptionClash { key, first, second: id.clone(), location: definition.location() })
        }
        None => Ok(()),
    }
}

/// Sets each action's `depends_on`: writes after the writes of what they refer to; deletes
/// after whatever used the deleted object (by the references recorded in state) has been
/// moved away or deleted.
fn link_actions(actions: &mut BTreeMap<ObjectId, Action>, state: &State) {
    let mut links: BTreeMap<ObjectId, BTreeSet<ObjectId>> = BTreeMap::new();
    for (id, action) in actions.iter() {
        if action.operation.removes() {
            continue;
        }
        for reference in &action.references {
            let target = id.sibling(reference);
            if actions.get(&target).is_some_and(|target| !target.operation.removes()) {
                links.entry(id.clone()).or_default().insert(target);
            }
        }
    }
    for entry in state.resources() {
        for reference in &entry.depends_on {
            let used = entry.id.sibling(reference);
            if actions.get(&used).is_some_and(|action| action.operation.removes()) && actions.contains_key(&entry.id) {
                links.entry(used).or_default().insert(entry.id.clone());
            }
        }
    }
    for (id, dependencies) in links {
        if let Some(action) = actions.get_mut(&id) {
            action.depends_on = dependencies.into_iter().collect();
        }
    }
}

/// Keeps the targeted actions and every action they depend on.
fn select_targets(
    mut actions: BTreeMap<ObjectId, Action>,
    resources: &BTreeMap<ObjectId, Resource<'_>>,
    targets: &[Target],
) -> Result<BTreeMap<ObjectId, Action>, PlanError> {
    let mut wanted: Vec<ObjectId> = Vec::new();
    for target in targets {
        let matching: Vec<&ObjectId> = resources.keys().filter(|id| target.matches(id)).collect();
        // An instance with nothing defined or managed plans nothing; a named object must exist.
        if matching.is_empty() && matches!(target, Target::Object { .. }) {
            return Err(PlanError::UnknownTarget(target.clone()));
        }
        wanted.extend(matching.into_iter().cloned());
    }
    let mut keep = BTreeSet::new();
    while let Some(id) = wanted.pop() {
        if let Some(action) = actions.get(&id)
            && keep.insert(id.clone())
        {
            wanted.extend(action.depends_on.iter().cloned());
        }
    }
    actions.retain(|id, _| keep.contains(id));
    Ok(actions)
}

/// Execution order: dependencies first; among independent actions writes before deletes,
/// then by kind order (deletes in reverse), then by id — the same input always gives the
/// same plan.
fn order_actions(actions: BTreeMap<ObjectId, Action>, providers: &Providers) -> Result<Vec<Action>, PlanError> {
    type SortKey = (bool, i64, ObjectId);
    let sort_key = |action: &Action| -> SortKey {
        let rank = providers.kind_rank(&action.id.provider, &action.id.kind).unwrap_or(0) as i64;
        let removes = action.operation.removes();
        (removes, if removes { -rank } else { rank }, action.id.clone())
    };
    let keys: BTreeMap<&ObjectId, SortKey> = actions.iter().map(|(id, action)| (id, sort_key(action))).collect();
    let nodes: BTreeSet<SortKey> = keys.values().cloned().collect();
    let depends_on: BTreeMap<SortKey, BTreeSet<SortKey>> = actions
        .iter()
        .map(|(id, action)| {
            let dependencies =
                action.depends_on.iter().filter_map(|dependency| keys.get(dependency).cloned()).collect();
            (keys[id].clone(), dependencies)
        })
        .collect();
    let order = topological_order(&nodes, &depends_on)
        .map_err(|cycle| PlanError::Cycle(cycle.into_iter().map(|(_, _, id)| id).collect()))?;
    let mut actions = actions;
    Ok(order.into_iter().filter_map(|(_, _, id)| actions.remove(&id)).collect())
}
