//! The executor: carries out a [`Plan`] exactly, in dependency order, with bounded
//! concurrency. State is saved after every successful remote write, so an interruption at
//! any point loses nothing and a rerun converges.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::object::{LocalRef, ObjectId, RemoteObject};
use crate::plan::{Action, Operation, Plan};
use crate::provider::{DesiredObject, Handler, HandlerError, Providers, Resolved, Resolver};
use crate::refs::substitute;
use crate::state::{State, StateEntry, StateError, StateStore};

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// At most this many remote writes at once.
    pub parallelism: usize,
    /// Allow adopting remote objects that the plan proposes to take over.
    pub adopt: bool,
    /// Set (for example by a Ctrl-C handler) to start no further actions: those in flight
    /// finish and are saved, the rest are reported as skipped.
    pub interrupt: Option<Arc<AtomicBool>>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { parallelism: 8, adopt: false, interrupt: None }
    }
}

/// Told about progress, for progress bars and logs.
pub trait ApplyObserver: Send + Sync {
    fn started(&self, _action: &Action) {}
    fn finished(&self, _action: &Action, _outcome: &Outcome) {}
}

/// Observes nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl ApplyObserver for Silent {}

/// How one action ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Done,
    Failed {
        error: String,
        /// The definition field the remote rejected, as a JSON pointer, when it said which.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pointer: Option<String>,
    },
    /// Not attempted: something it depends on failed, or the apply was interrupted.
    Skipped {
        reason: String,
    },
}

/// One action's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionReport {
    pub id: ObjectId,
    pub operation: Operation,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What an apply did, in plan order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub actions: Vec<ActionReport>,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.actions.iter().all(|report| report.outcome == Outcome::Done)
    }

    /// Done actions of these operations.
    pub fn done(&self, operations: &[Operation]) -> usize {
        self.actions
            .iter()
            .filter(|report| report.outcome == Outcome::Done && operations.contains(&report.operation))
            .count()
    }

    pub fn failed(&self) -> impl Iterator<Item = &ActionReport> {
        self.actions.iter().filter(|report| matches!(report.outcome, Outcome::Failed { .. }))
    }

    pub fn skipped(&self) -> impl Iterator<Item = &ActionReport> {
        self.actions.iter().filter(|report| matches!(report.outcome, Outcome::Skipped { .. }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "the plan was made from state serial {plan_serial} (lineage {plan_lineage:?}), but the state is now at \
         serial {state_serial} (lineage {state_lineage:?}): something was applied since. Make a new plan"
    )]
    StalePlan { plan_lineage: String, plan_serial: u64, state_lineage: String, state_serial: u64 },
    #[error("the plan has format {found}; this mac applies format {supported}")]
    UnsupportedPlan { found: u32, supported: u32 },
    #[error(
        "the plan adopts {} existing remote object(s) not created by mac ({}); review them and rerun with --adopt",
        .0.len(),
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    AdoptionNotAllowed(Vec<ObjectId>),
    #[error("the plan names `{0}`, whose provider instance or kind is not configured")]
    UnknownObject(ObjectId),
    #[error("could not save state after a successful remote write; the state may miss the last changes")]
    State {
        #[source]
        source: StateError,
        /// What had been done until then.
        report: ApplyReport,
    },
}

/// Applies `plan` to the remote systems, updating `state` and saving it through `store`
/// after every successful write. The caller holds the state lock.
pub async fn apply(
    plan: &Plan,
    providers: &Providers,
    store: &dyn StateStore,
    mut state: State,
    options: &ApplyOptions,
    observer: &dyn ApplyObserver,
) -> Result<(State, ApplyReport), ApplyError> {
    check_plan(plan, providers, &state, options)?;
    if state.pending() != plan.pending.as_slice() {
        // Record the creates about to start before starting them (see `PendingCreate`).
        state.set_pending(plan.pending.clone());
        state.bump();
        store.save(&state).map_err(|source| ApplyError::State { source, report: ApplyReport::default() })?;
    }
    let count = plan.actions.len();
    let index_of: BTreeMap<&ObjectId, usize> =
        plan.actions.iter().enumerate().map(|(index, action)| (&action.id, index)).collect();
    let mut waiting_on = vec![0usize; count];
    let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (index, action) in plan.actions.iter().enumerate() {
        for dependency in &action.depends_on {
            if let Some(&dependency) = index_of.get(dependency) {
                waiting_on[index] += 1;
                dependants[dependency].push(index);
            }
        }
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; count];
    let mut ready: VecDeque<usize> = (0..count).filter(|index| waiting_on[*index] == 0).collect();
    let mut resolved: BTreeMap<ObjectId, RemoteObject> =
        plan.known_remote.iter().map(|known| (known.id.clone(), known.remote.clone())).collect();
    let mut in_flight = tokio::task::JoinSet::new();
    let parallelism = options.parallelism.max(1);
    let mut save_error: Option<StateError> = None;

    loop {
        let stopping =
            save_error.is_some() || options.interrupt.as_ref().is_some_and(|flag| flag.load(Ordering::SeqCst));
        while !stopping && in_flight.len() < parallelism {
            let Some(index) = ready.pop_front() else { break };
            let action = plan.actions[index].clone();
            let Some(handler) = providers.handler(&action.id.provider, &action.id.kind).cloned() else {
                return Err(ApplyError::UnknownObject(action.id.clone()));
            };
            let references = references_of(&action, &resolved);
            observer.started(&action);
            in_flight.spawn(async move {
                let result = execute(handler.as_ref(), &action, &references).await;
                (index, result)
            });
        }
        let Some(joined) = in_flight.join_next().await else { break };
        // Take every write that has already finished, then save once for all of them.
        let mut finished = vec![joined];
        while let Some(joined) = in_flight.try_join_next() {
            finished.push(joined);
        }
        let mut wrote = false;
        for joined in finished {
            let (index, result) = match joined {
                Ok(done) => done,
                Err(panic) => {
                    // A handler panicked: we cannot tell which action; treat it as a failed write
                    // of nothing and keep going with the others.
                    tracing_panic(&panic);
                    continue;
                }
            };
            let action = &plan.actions[index];
            match result {
                Ok(written) => {
                    record(&mut state, action, written.as_ref());
                    if let Some(remote) = written {
                        resolved.insert(action.id.clone(), remote);
                    }
                    wrote = true;
                    outcomes[index] = Some(Outcome::Done);
                    for &dependant in &dependants[index] {
                        waiting_on[dependant] -= 1;
                        if waiting_on[dependant] == 0 && outcomes[dependant].is_none() {
                            ready.push_back(dependant);
                        }
                    }
                }
                Err(error) => {
                    outcomes[index] =
                        Some(Outcome::Failed { error: error_chain(&error), pointer: error.pointer.clone() });
                    skip_dependants(index, &plan.actions, &dependants, &mut outcomes, observer);
                }
            }
            if let Some(outcome) = &outcomes[index] {
                observer.finished(action, outcome);
            }
        }
        if wrote && save_error.is_none() {
            state.bump();
            if let Err(error) = store.save(&state) {
                save_error = Some(error);
            }
        }
    }

    let report = ApplyReport {
        actions: plan
            .actions
            .iter()
            .zip(outcomes)
            .map(|(action, outcome)| ActionReport {
                id: action.id.clone(),
                operation: action.operation,
                outcome: outcome
                    .unwrap_or_else(|| Outcome::Skipped { reason: "interrupted before it started".to_owned() }),
            })
            .collect(),
    };
    match save_error {
        Some(source) => Err(ApplyError::State { source, report }),
        None => Ok((state, report)),
    }
}

fn tracing_panic(panic: &tokio::task::JoinError) {
    // Library code does not print; a panic in a handler is a bug in that provider, and the
    // action it ran is reported as interrupted.
    let _ = panic;
}

fn check_plan(plan: &Plan, providers: &Providers, state: &State, options: &ApplyOptions) -> Result<(), ApplyError> {
    if plan.format != crate::plan::PLAN_FORMAT {
        return Err(ApplyError::UnsupportedPlan { found: plan.format, supported: crate::plan::PLAN_FORMAT });
    }
    if plan.state_lineage != state.lineage || plan.state_serial != state.serial {
        return Err(ApplyError::StalePlan {
            plan_lineage: plan.state_lineage.clone(),
            plan_serial: plan.state_serial,
            state_lineage: state.lineage.clone(),
            state_serial: state.serial,
        });
    }
    for action in &plan.actions {
        if providers.handler(&action.id.provider, &action.id.kind).is_none() {
            return Err(ApplyError::UnknownObject(action.id.clone()));
        }
    }
    let adoptions: Vec<ObjectId> = plan
        .actions
        .iter()
        .filter(|action| action.operation == Operation::Adopt && !action.resumed)
        .map(|action| action.id.clone())
        .collect();
    if !adoptions.is_empty() && !options.adopt {
        return Err(ApplyError::AdoptionNotAllowed(adoptions));
    }
    Ok(())
}

/// The remote objects an action's definition refers to, as far as they are known now.
fn references_of(action: &Action, resolved: &BTreeMap<ObjectId, RemoteObject>) -> BTreeMap<LocalRef, RemoteObject> {
    action
        .references
        .iter()
        .filter_map(|reference| {
            resolved.get(&action.id.sibling(reference)).map(|remote| (reference.clone(), remote.clone()))
        })
        .collect()
}

struct KnownReferences<'a>(&'a BTreeMap<LocalRef, RemoteObject>);

impl Resolver for KnownReferences<'_> {
    fn resolve(&self, reference: &LocalRef) -> Option<Resolved<'_>> {
        self.0.get(reference).map(Resolved::Known)
    }
}

/// Runs one action against the remote; returns the object as written (none for removals).
async fn execute(
    handler: &dyn Handler,
    action: &Action,
    references: &BTreeMap<LocalRef, RemoteObject>,
) -> Result<Option<RemoteObject>, HandlerError> {
    let resolver = KnownReferences(references);
    let desired = || -> Result<DesiredObject, HandlerError> {
        let desired = action.desired.as_ref().ok_or_else(|| missing("desired object"))?;
        let fields = substitute(&desired.fields, &resolver)
            .map_err(|err| HandlerError::new(crate::HandlerErrorKind::Invalid, err.to_string()))?;
        Ok(DesiredObject { id: desired.id.clone(), fields })
    };
    match action.operation {
        Operation::Create | Operation::Recreate => handler.create(&desired()?, &resolver).await.map(Some),
        Operation::Update | Operation::Adopt => {
            let current = action.remote.as_ref().ok_or_else(|| missing("remote object"))?;
            if action.changes.is_empty() {
                // An adoption with nothing to change only records the object in state.
                return Ok(Some(current.clone()));
            }
            handler.update(current, &desired()?, &resolver).await.map(Some)
        }
        Operation::Delete => {
            let current = action.remote.as_ref().ok_or_else(|| missing("remote object"))?;
            handler.delete(current).await.map(|()| None)
        }
        Operation::Forget => Ok(None),
    }
}

fn missing(what: &str) -> HandlerError {
    HandlerError::new(
        crate::HandlerErrorKind::Other,
        format!("the plan lacks the {what} for this action; make a new plan"),
    )
}

/// Records a successful action in state.
fn record(state: &mut State, action: &Action, written: Option<&RemoteObject>) {
    state.remove_pending(&action.id);
    match (action.operation, written) {
        (Operation::Delete | Operation::Forget, _) => {
            state.remove(&action.id);
        }
        (_, Some(remote)) => state.upsert(StateEntry {
            id: action.id.clone(),
            remote_id: remote.remote_id.clone(),
            applied_hash: action.applied_hash.clone().unwrap_or_default(),
            depends_on: action.references.clone(),
            part_ids: remote.part_ids.clone(),
        }),
        (_, None) => {}
    }
}

fn skip_dependants(
    failed: usize,
    actions: &[Action],
    dependants: &[Vec<usize>],
    outcomes: &mut [Option<Outcome>],
    observer: &dyn ApplyObserver,
) {
    let mut stack = vec![failed];
    let mut seen = BTreeSet::new();
    while let Some(index) = stack.pop() {
        for &dependant in &dependants[index] {
            if seen.insert(dependant) && outcomes[dependant].is_none() {
                let outcome = Outcome::Skipped { reason: format!("depends on `{}`, which failed", actions[failed].id) };
                observer.finished(&actions[dependant], &outcome);
                outcomes[dependant] = Some(outcome);
                stack.push(dependant);
            }
        }
    }
}

/// An error with its causes, `a: b: c`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
