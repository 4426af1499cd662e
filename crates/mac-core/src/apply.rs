//! The executor: carries out a [`Plan`] exactly, in dependency order, with bounded
//! concurrency. Creates are recorded as pending before they start; finished writes are saved
//! within [`SAVE_INTERVAL`] (at once after an interrupt) and at the end. A kill can lose at
//! most the last [`SAVE_INTERVAL`] of finished writes, and the next run recovers them: a
//! create by its pending record, an update or delete by what the next plan reads (an update
//! that moves an object to a new remote id is saved at once, as it has no such record).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::object::{LocalRef, ObjectId, RemoteObject};
use crate::plan::{Action, Operation, Plan};
use crate::provider::{
    Batch, BatchMember, DesiredObject, Handler, HandlerError, HandlerErrorKind, Parked, Prepared, Providers, Resolved,
    Resolver, Written,
};
use crate::refs::substitute_in;
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
    /// The directory `{ file = … }` secret references are read from (the project root).
    pub secrets_root: std::path::PathBuf,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { parallelism: 8, adopt: false, interrupt: None, secrets_root: ".".into() }
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
    /// The plan's blocked deletes: shown, never attempted, the objects kept in state. They do
    /// not make an apply fail: it did what the plan showed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<crate::links::BlockedDelete>,
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
    #[error(
        "the plan was made from another state (lineage {plan_lineage:?}) than the one this run uses \
         (lineage {state_lineage:?}): it is another project's or environment's plan, or the state was replaced. \
         Make a new plan here"
    )]
    ForeignPlan { plan_lineage: String, state_lineage: String },
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
        /// Objects written (or deleted) on the servers whose change state could not record.
        /// The next run finds them: a create was recorded as pending before it started and is
        /// adopted by its natural key, an update or delete shows as done.
        unrecorded: Vec<ObjectId>,
    },
}

/// How long finished writes may wait to be saved. Saving writes the whole state, so saving
/// after every batch made large applies quadratic (a fifth of the CPU of 1,000 updates).
/// Creates are saved as pending before they start, so waiting cannot duplicate them.
pub const SAVE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Applies `plan` to the remote systems, updating `state` and saving it through `store`
/// (see [`SAVE_INTERVAL`]). The caller holds the state lock.
///
/// Actions of a [`Batch`] share requests: the batch is prepared before its first member starts
/// (a task of its own, counted in `parallelism`; members wait for it without taking a slot),
/// once for all the members ready then — a member whose dependencies finish later gets a
/// preparation of its own, never one older than what it waited for — and writes that leave
/// their object to be read back
/// ([`Written::ReadBack`]) complete — are recorded and release their dependants — only when
/// the batch's read-back has run: once every member has written, failed or been skipped, or
/// earlier when nothing else can run (an interrupt, a member waiting on another).
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
        state.save_to(store).map_err(|source| ApplyError::State {
            source,
            report: ApplyReport::default(),
            unrecorded: Vec::new(),
        })?;
    }
    let mut batches = Batches::of(plan, providers);
    let mut scheduler = Scheduler::new(plan, providers, &batches);
    let secrets = SecretContext { salt: state.secret_salt().to_owned(), root: options.secrets_root.clone() };
    let mut resolved = ReferencedObjects::of(plan);
    let mut in_flight: tokio::task::JoinSet<TaskResult> = tokio::task::JoinSet::new();
    let mut running: BTreeMap<tokio::task::Id, Task> = BTreeMap::new();
    let parallelism = options.parallelism.max(1);
    let mut save_error: Option<StateError> = None;
    // Finished writes recorded in `state` but not yet saved, and when state was last saved.
    let mut unsaved = false;
    let mut last_save = std::time::Instant::now();
    // Members of batches whose preparation is done, ready to start; batches to read back.
    let mut released: VecDeque<usize> = VecDeque::new();
    let mut read_backs: VecDeque<usize> = VecDeque::new();
    // Actions whose natural key was looked for after the plan (see below).
    let mut late_key_checked = vec![false; plan.actions.len()];
    // Each kind's context, shared by its actions' tasks rather than copied for each.
    let mut contexts: BTreeMap<(&str, &str), Arc<serde_json::Value>> = BTreeMap::new();

    loop {
        let stopping =
            save_error.is_some() || options.interrupt.as_ref().is_some_and(|flag| flag.load(Ordering::SeqCst));
        // Read-backs first, even when stopping: their writes are made and must be recorded.
        while in_flight.len() < parallelism {
            let Some(batch) = read_backs.pop_front() else { break };
            let entry = &mut batches.entries[batch];
            entry.read_back_queued = false;
            if entry.parked.is_empty() {
                continue;
            }
            let (members, parked): (Vec<(usize, Digests)>, Vec<Parked>) =
                entry.parked.drain(..).map(|(index, parked, digests)| ((index, digests), parked)).unzip();
            let (handler, key) = (entry.handler.clone(), entry.batch.clone());
            let task = in_flight.spawn(async move { TaskResult::ReadBack(handler.read_back(&key, parked).await) });
            running.insert(task.id(), Task::ReadBack { members });
        }
        let mut starting = Vec::new();
        let mut changes = Changes::default();
        // Preparations to start this round: (batch, preparation), each taking a slot.
        let mut preparing: Vec<(usize, usize)> = Vec::new();
        while !stopping && in_flight.len() + starting.len() + preparing.len() < parallelism {
            let Some(index) = released.pop_front().or_else(|| scheduler.next_ready()) else { break };
            let prepared = match batches.of_action[index] {
                None => Prepared::nothing(),
                Some(batch) => {
                    let entry = &mut batches.entries[batch];
                    let preparation = match batches.served_by[index] {
                        Some(preparation) => preparation,
                        None => {
                            // Ready after the batch's last preparation started (or before any):
                            // it gets one of its own, with whatever else of the batch is ready.
                            let preparation = match preparing.iter().find(|(other, _)| *other == batch) {
                                Some((_, preparation)) => *preparation,
                                None => {
                                    entry.preparations.push(Preparation::Running { waiting: Vec::new() });
                                    preparing.push((batch, entry.preparations.len() - 1));
                                    entry.preparations.len() - 1
                                }
                            };
                            batches.served_by[index] = Some(preparation);
                            preparation
                        }
                    };
                    match &mut entry.preparations[preparation] {
                        Preparation::Ready(prepared) => prepared.clone(),
                        Preparation::Running { waiting } => {
                            waiting.push(index);
                            continue;
                        }
                        Preparation::Failed(outcome) => {
                            let outcome = outcome.clone();
                            not_started(&mut state, &plan.actions[index], &mut changes);
                            scheduler.complete(index, outcome, observer);
                            continue;
                        }
                    }
                }
            };
            let action = &plan.actions[index];
            let Some(handler) = providers.handler(&action.id.provider, &action.id.kind).cloned() else {
                return Err(ApplyError::UnknownObject(action.id.clone()));
            };
            let references = references_of(action, &resolved);
            starting.push((index, handler, references, prepared));
        }
        for (batch, preparation) in preparing {
            // It serves the members taken for it and every other member ready now: a member
            // whose dependencies finish later is prepared again, so that what a preparation
            // found is never older than what its members waited for.
            let entry = &batches.entries[batch];
            let mut served: Vec<usize> = Vec::new();
            for member in &entry.members {
                match batches.served_by[*member] {
                    Some(other) if other == preparation => served.push(*member),
                    None if scheduler.is_ready(*member) => {
                        batches.served_by[*member] = Some(preparation);
                        served.push(*member);
                    }
                    _ => {}
                }
            }
            let members: Vec<Action> = served.iter().map(|member| plan.actions[*member].clone()).collect();
            let (handler, key) = (entry.handler.clone(), entry.batch.clone());
            let task = in_flight.spawn(async move {
                let members: Vec<BatchMember<'_>> = members.iter().filter_map(batch_member).collect();
                TaskResult::Prepared(handler.prepare_batch(&key, &members).await)
            });
            running.insert(task.id(), Task::Preparation { batch, preparation });
        }
        // A create whose natural key depended on an object made earlier in this run (a group
        // in a folder just created) could not be recorded as pending at plan time: record it
        // now, before its write, so that a lost answer is recognised on the next run. Every
        // create whose key is known by now (all it depends on is done) is recorded with it, in
        // the same save: one save when a folder's groups may start, not one per group started.
        let mut late_keys = Vec::new();
        if starting.iter().any(|(index, ..)| !late_key_checked[*index] && needs_late_key(&plan.actions[*index])) {
            let ready: Vec<usize> = starting.iter().map(|(index, ..)| *index).chain(scheduler.candidates()).collect();
            for index in ready {
                if std::mem::replace(&mut late_key_checked[index], true) || !needs_late_key(&plan.actions[index]) {
                    continue;
                }
                let action = &plan.actions[index];
                let Some(handler) = providers.handler(&action.id.provider, &action.id.kind) else { continue };
                let Some(desired) = &action.desired else { continue };
                let references = references_of(action, &resolved);
                let resolver = KnownReferences(&references);
                let Ok(fields) = substitute_in(&desired.fields, &resolver) else { continue };
                let desired = DesiredObject { id: desired.id.clone(), fields };
                if let Some(key) = handler.adoption_key(&desired, &resolver) {
                    late_keys.push(crate::state::PendingCreate { id: action.id.clone(), adoption_key: key });
                }
            }
        }
        let late_keys = if late_keys.is_empty() {
            false
        } else {
            let mut pending = state.pending().to_vec();
            pending.extend(late_keys);
            state.set_pending(pending);
            true
        };
        if late_keys && save_error.is_none() {
            unsaved = false;
            last_save = std::time::Instant::now();
            if let Err(error) = state.save_to(store) {
                save_error = Some(error);
                // Nothing of this round starts: its creates could not be recorded.
                for (index, ..) in starting.drain(..) {
                    scheduler.requeue(index);
                }
            }
        }
        for (index, handler, references, prepared) in starting {
            let action = &plan.actions[index];
            observer.started(action);
            let secrets = secrets.clone();
            let context = contexts
                .entry((action.id.provider.as_str(), action.id.kind.as_str()))
                .or_insert_with(|| Arc::new(plan.context(&action.id.provider, &action.id.kind).clone()))
                .clone();
            let work = Work::of(action, &references);
            let task = in_flight.spawn(async move {
                TaskResult::Action(execute(handler.as_ref(), work, &references, &secrets, &context, &prepared).await)
            });
            running.insert(task.id(), Task::Action(index));
        }
        unsaved |= changes.state;
        if in_flight.is_empty() {
            // Nothing runs and nothing more can start: read back what is parked, whether or
            // not its batch's other members will ever write (interrupted, skipped, or waiting
            // on a member of their own batch).
            let parked: Vec<usize> = (0..batches.entries.len())
                .filter(|batch| !batches.entries[*batch].parked.is_empty() && !batches.entries[*batch].read_back_queued)
                .collect();
            for batch in parked {
                batches.entries[batch].read_back_queued = true;
                read_backs.push_back(batch);
            }
            if read_backs.is_empty() {
                break;
            }
            continue;
        }
        // Finished writes wait at most SAVE_INTERVAL for a save, even behind a slow write.
        let joined = if unsaved && save_error.is_none() {
            let deadline = tokio::time::Instant::from_std(last_save + SAVE_INTERVAL);
            tokio::select! {
                joined = in_flight.join_next_with_id() => joined,
                () = tokio::time::sleep_until(deadline) => {
                    unsaved = false;
                    last_save = std::time::Instant::now();
                    if let Err(error) = state.save_to(store) {
                        save_error = Some(error);
                    }
                    continue;
                }
            }
        } else {
            in_flight.join_next_with_id().await
        };
        let Some(joined) = joined else { continue };
        // Take every task that has already finished, then save once for all of them.
        let mut finished = vec![joined];
        while let Some(joined) = in_flight.try_join_next_with_id() {
            finished.push(joined);
        }
        for joined in finished {
            let (task, result) = match joined {
                Ok((task, result)) => (running.remove(&task), Ok(result)),
                Err(error) => {
                    // A panic in a handler is a bug in that provider; what it wrote is unknown.
                    let message = if error.is_panic() { "the provider panicked" } else { "the task was cancelled" };
                    let failure =
                        HandlerError::new(HandlerErrorKind::Other, format!("{message} (a bug: please report it)"));
                    (running.remove(&error.id()), Err(failure))
                }
            };
            match task {
                None => {}
                Some(Task::Action(index)) => {
                    let action = &plan.actions[index];
                    let result = result.and_then(|result| match result {
                        TaskResult::Action(result) => result,
                        _ => Err(mixed_up()),
                    });
                    let written = match result {
                        Ok((Some(Written::ReadBack(parked)), digests)) => {
                            if let Some(batch) = batches.of_action[index] {
                                batches.entries[batch].parked.push((index, parked, digests));
                                scheduler.park(index);
                                continue;
                            }
                            Err(HandlerError::new(
                                HandlerErrorKind::Other,
                                "the provider left an object to read back outside a batch (a bug: please report it)",
                            ))
                        }
                        Ok((Some(Written::Object(remote)), digests)) => Ok((Some(remote), digests)),
                        Ok((None, digests)) => Ok((None, digests)),
                        Err(error) => Err(error),
                    };
                    let outcome = conclude(&mut state, &mut resolved, action, written, &mut changes);
                    scheduler.complete(index, outcome, observer);
                }
                Some(Task::Preparation { batch, preparation }) => {
                    let result = result.and_then(|result| match result {
                        TaskResult::Prepared(result) => result,
                        _ => Err(mixed_up()),
                    });
                    let slot = &mut batches.entries[batch].preparations[preparation];
                    let waiting = match slot {
                        Preparation::Running { waiting } => std::mem::take(waiting),
                        _ => Vec::new(),
                    };
                    match result {
                        Ok(prepared) => {
                            *slot = Preparation::Ready(prepared);
                            released.extend(waiting);
                        }
                        Err(error) => {
                            let outcome =
                                Outcome::Failed { error: error_chain(&error), pointer: error.pointer.clone() };
                            *slot = Preparation::Failed(outcome.clone());
                            for index in waiting {
                                not_started(&mut state, &plan.actions[index], &mut changes);
                                scheduler.complete(index, outcome.clone(), observer);
                            }
                        }
                    }
                }
                Some(Task::ReadBack { members }) => {
                    let mut results = match result {
                        Ok(TaskResult::ReadBack(results)) => results.into_iter().map(Some).collect(),
                        Ok(_) => vec![Some(Err(mixed_up()))],
                        Err(error) => vec![Some(Err(error))],
                    };
                    let shared = (results.len() != members.len()).then(|| match results.pop().flatten() {
                        Some(Err(error)) => error,
                        _ => HandlerError::new(
                            HandlerErrorKind::Other,
                            "the provider read back another number of objects than were written (a bug: please report it)",
                        ),
                    });
                    for (position, (index, digests)) in members.into_iter().enumerate() {
                        let result = match &shared {
                            Some(error) => Err(HandlerError::new(error.kind, error.message.clone())),
                            None => results[position].take().unwrap_or_else(|| Err(mixed_up())),
                        };
                        // The write happened: whatever the read-back answered (a folder renamed
                        // since, credentials that expired), a create stays pending, to be adopted
                        // by the next run; "the remote said no" is for writes it refused.
                        let written = result.map(|remote| (Some(remote), digests)).map_err(|mut error| {
                            error.kind = HandlerErrorKind::Unavailable;
                            error
                        });
                        let outcome = conclude(&mut state, &mut resolved, &plan.actions[index], written, &mut changes);
                        scheduler.complete(index, outcome, observer);
                    }
                }
            }
        }
        // Batches whose members have all written: read back what they parked.
        for batch in scheduler.take_written_batches() {
            let entry = &mut batches.entries[batch];
            if !entry.parked.is_empty() && !entry.read_back_queued {
                entry.read_back_queued = true;
                read_backs.push_back(batch);
            }
        }
        unsaved |= changes.state;
        // Once interrupted, every finished write is saved at once: a second Ctrl-C or a kill
        // after a grace period may follow.
        let interrupted = options.interrupt.as_ref().is_some_and(|flag| flag.load(Ordering::SeqCst));
        if unsaved && save_error.is_none() && (interrupted || changes.moved || last_save.elapsed() >= SAVE_INTERVAL) {
            unsaved = false;
            last_save = std::time::Instant::now();
            if let Err(error) = state.save_to(store) {
                save_error = Some(error);
            }
        }
    }

    let reason = if save_error.is_some() {
        "not started: state could not be saved"
    } else {
        "not started: the apply was interrupted"
    };
    let outcomes = scheduler.into_outcomes(reason);
    // Creates that never started are not pending.
    let mut unstarted = false;
    for (action, outcome) in plan.actions.iter().zip(&outcomes) {
        if matches!(outcome, Outcome::Skipped { .. }) && state.pending().iter().any(|pending| pending.id == action.id) {
            state.remove_pending(&action.id);
            unstarted = true;
        }
    }
    if unstarted || unsaved || save_error.is_some() {
        // Also after a failed save: one more attempt keeps what finished since (the first
        // failure may have been passing, such as a full disk that was cleaned).
        match state.save_to(store) {
            Ok(()) => save_error = None,
            Err(error) => {
                save_error.get_or_insert(error);
            }
        }
    }
    let report = ApplyReport {
        actions: plan
            .actions
            .iter()
            .zip(outcomes)
            .map(|(action, outcome)| ActionReport { id: action.id.clone(), operation: action.operation, outcome })
            .collect(),
        kept: plan.blocked.clone(),
    };
    match save_error {
        Some(source) => {
            // The journal holds exactly what was done but never saved.
            let changes = state.changes();
            let mut unrecorded: Vec<ObjectId> = changes
                .upserted
                .iter()
                .map(|entry| entry.id.clone())
                .chain(changes.removed.iter().map(|id| (*id).clone()))
                .collect();
            unrecorded.sort();
            Err(ApplyError::State { source, report, unrecorded })
        }
        None => Ok((state, report)),
    }
}

/// The digests of the secrets a write carried, by field.
type Digests = BTreeMap<String, String>;

/// What a task of the executor is doing.
enum Task {
    Action(usize),
    /// A batch's preparation (an index into its preparations).
    Preparation {
        batch: usize,
        preparation: usize,
    },
    /// The read-back of a batch, for these parked members.
    ReadBack {
        members: Vec<(usize, Digests)>,
    },
}

/// What a task returns.
enum TaskResult {
    Action(Result<(Option<Written>, Digests), HandlerError>),
    Prepared(Result<Prepared, HandlerError>),
    ReadBack(Vec<Result<RemoteObject, HandlerError>>),
}

/// What changed while concluding actions.
#[derive(Default)]
struct Changes {
    /// State changed and should be saved.
    state: bool,
    /// An update moved an object to a new remote id: save at once (see [`conclude`]).
    moved: bool,
}

/// The plan's batches (see [`Batch`]) and where each stands.
struct Batches {
    entries: Vec<BatchEntry>,
    /// Each action's batch (an index into `entries`).
    of_action: Vec<Option<usize>>,
    /// Each action's preparation (an index into its batch's), once one serves it.
    served_by: Vec<Option<usize>>,
}

struct BatchEntry {
    batch: Batch,
    handler: Arc<dyn Handler>,
    /// Every planned action in it, in plan order.
    members: Vec<usize>,
    /// Its preparations so far; each serves the members ready when it started.
    preparations: Vec<Preparation>,
    /// Writes made, waiting for the read-back.
    parked: Vec<(usize, Parked, Digests)>,
    /// In the queue of read-backs to start.
    read_back_queued: bool,
}

enum Preparation {
    /// With the members ready to start, waiting for it.
    Running {
        waiting: Vec<usize>,
    },
    Ready(Prepared),
    /// Its members fail with this.
    Failed(Outcome),
}

impl Batches {
    /// Every action's batch, as its handler says, found before anything starts so that a
    /// read-back knows when all of its batch have written.
    fn of(plan: &Plan, providers: &Providers) -> Batches {
        let found = crate::parallel::in_order(&plan.actions, 256, |action| {
            let handler = providers.handler(&action.id.provider, &action.id.kind)?;
            handler.batch(&batch_member(action)?)
        });
        let mut index: BTreeMap<(&str, &str, Batch), usize> = BTreeMap::new();
        let mut entries: Vec<BatchEntry> = Vec::new();
        let mut of_action = Vec::with_capacity(plan.actions.len());
        for (position, (action, batch)) in plan.actions.iter().zip(found).enumerate() {
            let Some(batch) = batch else {
                of_action.push(None);
                continue;
            };
            // `check_plan` made sure every action has a handler.
            let Some(handler) = providers.handler(&action.id.provider, &action.id.kind) else {
                of_action.push(None);
                continue;
            };
            let key = (action.id.provider.as_str(), action.id.kind.as_str(), batch.clone());
            let entry = *index.entry(key).or_insert_with(|| {
                entries.push(BatchEntry {
                    batch,
                    handler: handler.clone(),
                    members: Vec::new(),
                    preparations: Vec::new(),
                    parked: Vec::new(),
                    read_back_queued: false,
                });
                entries.len() - 1
            });
            entries[entry].members.push(position);
            of_action.push(Some(entry));
        }
        let served_by = vec![None; of_action.len()];
        Batches { entries, of_action, served_by }
    }
}

/// An action as a member of a batch: the writes and deletes that reach the remote.
fn batch_member(action: &Action) -> Option<BatchMember<'_>> {
    match action.operation {
        Operation::Create | Operation::Recreate => {
            Some(BatchMember::Write { desired: action.desired.as_ref()?, current: None })
        }
        Operation::Update | Operation::Adopt if !only_state_changes(action) => {
            Some(BatchMember::Write { desired: action.desired.as_ref()?, current: Some(action.remote.as_ref()?) })
        }
        Operation::Delete => Some(BatchMember::Delete { current: action.remote.as_ref()? }),
        _ => None,
    }
}

/// A create whose natural key was not known at plan time (it depends on an object this apply
/// makes): recorded as pending just before it starts.
fn needs_late_key(action: &Action) -> bool {
    matches!(action.operation, Operation::Create | Operation::Recreate)
        && action.adoption_key.is_none()
        && action.desired.is_some()
}

/// An update or adoption with nothing to write remotely (an adoption as it is, or `protect`
/// changed): only state records it.
fn only_state_changes(action: &Action) -> bool {
    action.changes.iter().all(|change| change.path == "protect")
}

/// Records how a started action ended: in state when it succeeded; its pending record dropped
/// when the remote said no.
fn conclude(
    state: &mut State,
    resolved: &mut ReferencedObjects,
    action: &Action,
    result: Result<(Option<RemoteObject>, Digests), HandlerError>,
    changes: &mut Changes,
) -> Outcome {
    match result {
        Ok((written, digests)) => {
            // An update that moved the object to a new remote id (a group into another
            // folder) has no pending record to find it by: save it at once.
            changes.moved |= matches!((&action.remote, &written), (Some(before), Some(after)) if before.remote_id != after.remote_id);
            record(state, action, written.as_ref(), digests);
            if let Some(remote) = written {
                resolved.keep(&action.id, remote);
            }
            changes.state = true;
            Outcome::Done
        }
        Err(error) => {
            // The remote said no: the create did not happen, so it is not pending. On a
            // time-out or a lost answer the outcome is unknown and the record stays.
            let definitive = matches!(
                error.kind,
                HandlerErrorKind::Invalid
                    | HandlerErrorKind::Conflict
                    | HandlerErrorKind::Unauthorized
                    | HandlerErrorKind::NotFound
            );
            if definitive && state.pending().iter().any(|pending| pending.id == action.id) {
                state.remove_pending(&action.id);
                changes.state = true;
            }
            Outcome::Failed { error: error_chain(&error), pointer: error.pointer.clone() }
        }
    }
}

/// An action that fails without having started (its batch's preparation failed): a create
/// that never started is not pending.
fn not_started(state: &mut State, action: &Action, changes: &mut Changes) {
    if state.pending().iter().any(|pending| pending.id == action.id) {
        state.remove_pending(&action.id);
        changes.state = true;
    }
}

/// A task answered with another kind of result than it was started for.
fn mixed_up() -> HandlerError {
    HandlerError::new(HandlerErrorKind::Other, "the executor mixed up its tasks (a bug: please report it)")
}

/// Which actions may start: those whose dependencies succeeded and whose kinds' turn has
/// come. Kinds order actions even between objects that do not refer to each other: writes
/// wait until every write of the kinds they depend on has finished, deletes until every
/// delete of the kinds depending on theirs and every write of the kinds theirs depends on
/// has.
struct Scheduler<'p> {
    actions: &'p [Action],
    waiting_on: Vec<usize>,
    dependants: Vec<Vec<usize>>,
    outcomes: Vec<Option<Outcome>>,
    /// Actions whose dependencies are done, in plan order, waiting for their kind's turn.
    candidates: VecDeque<usize>,
    /// Unfinished actions per (instance, kind, is-removal).
    unfinished: BTreeMap<(String, String, bool), usize>,
    /// For each action, the groups that must be finished before it starts.
    gates: Vec<Vec<(String, String, bool)>>,
    /// Each action's batch; per batch, its members that have not written yet (neither
    /// parked, finished nor skipped); actions parked for a read-back.
    batch_of: Vec<Option<usize>>,
    unwritten: Vec<usize>,
    parked: Vec<bool>,
    /// Batches whose last member wrote since [`Scheduler::take_written_batches`].
    written_batches: Vec<usize>,
    /// Actions taken by `next_ready` (and not put back).
    taken: Vec<bool>,
}

impl<'p> Scheduler<'p> {
    fn new(plan: &'p Plan, providers: &Providers, batches: &Batches) -> Scheduler<'p> {
        let count = plan.actions.len();
        let index_of: BTreeMap<&ObjectId, usize> =
            plan.actions.iter().enumerate().map(|(index, action)| (&action.id, index)).collect();
        let mut waiting_on = vec![0usize; count];
        let mut dependants: Vec<Vec<usize>> = vec![Vec::new(); count];
        let mut unfinished: BTreeMap<(String, String, bool), usize> = BTreeMap::new();
        let mut gates = Vec::with_capacity(count);
        for (index, action) in plan.actions.iter().enumerate() {
            for dependency in &action.depends_on {
                if let Some(&dependency) = index_of.get(dependency) {
                    waiting_on[index] += 1;
                    dependants[dependency].push(index);
                }
            }
            let id = &action.id;
            let removal = action.operation.removes();
            *unfinished.entry((id.provider.clone(), id.kind.clone(), removal)).or_default() += 1;
            let dependencies = providers.kind_dependencies(&id.provider, &id.kind);
            let mut gate: Vec<(String, String, bool)> =
                dependencies.into_iter().map(|kind| (id.provider.clone(), kind, false)).collect();
            if removal {
                // A delete also waits for the writes of the kinds its kind depends on: a
                // delete addresses its object through them (Grafana's ruler deletes a group
                // by its folder's title), and a rename in the same apply would make the
                // address it read go stale. Writes never wait for deletes, so this makes
                // no cycle.
                gate.extend(
                    providers
                        .dependent_kinds(&id.provider, &id.kind)
                        .into_iter()
                        .map(|kind| (id.provider.clone(), kind, true)),
                );
            }
            gates.push(gate);
        }
        let candidates = (0..count).filter(|index| waiting_on[*index] == 0).collect();
        Scheduler {
            actions: &plan.actions,
            waiting_on,
            dependants,
            outcomes: vec![None; count],
            candidates,
            unfinished,
            gates,
            batch_of: batches.of_action.clone(),
            unwritten: batches.entries.iter().map(|entry| entry.members.len()).collect(),
            parked: vec![false; count],
            written_batches: Vec::new(),
            taken: vec![false; count],
        }
    }

    /// Whether an action not taken yet would be: its dependencies done, its kind's turn come.
    fn is_ready(&self, index: usize) -> bool {
        !self.taken[index] && self.outcomes[index].is_none() && self.waiting_on[index] == 0 && self.open(index)
    }

    /// An action has written and waits for its batch's read-back to complete.
    fn park(&mut self, index: usize) {
        self.parked[index] = true;
        self.written(index);
    }

    fn written(&mut self, index: usize) {
        if let Some(batch) = self.batch_of[index] {
            self.unwritten[batch] -= 1;
            if self.unwritten[batch] == 0 {
                self.written_batches.push(batch);
            }
        }
    }

    /// The batches all of whose members have written since last asked.
    fn take_written_batches(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.written_batches)
    }

    fn open(&self, index: usize) -> bool {
        self.gates[index].iter().all(|gate| self.unfinished.get(gate).is_none_or(|count| *count == 0))
    }

    /// Actions whose dependencies are done and that have not been taken yet.
    fn candidates(&self) -> impl Iterator<Item = usize> + '_ {
        self.candidates.iter().copied()
    }

    /// Puts back an action taken by `next_ready` that was not started after all.
    fn requeue(&mut self, index: usize) {
        self.taken[index] = false;
        self.candidates.push_front(index);
    }

    fn next_ready(&mut self) -> Option<usize> {
        let position = self.candidates.iter().position(|index| self.open(*index))?;
        let index = self.candidates.remove(position)?;
        self.taken[index] = true;
        Some(index)
    }

    /// Records how an action ended; a failure skips everything that depends on it.
    fn complete(&mut self, index: usize, outcome: Outcome, observer: &dyn ApplyObserver) {
        let done = outcome == Outcome::Done;
        self.finish(index, outcome, observer);
        if done {
            for position in 0..self.dependants[index].len() {
                let dependant = self.dependants[index][position];
                self.waiting_on[dependant] -= 1;
                if self.waiting_on[dependant] == 0 && self.outcomes[dependant].is_none() {
                    self.candidates.push_back(dependant);
                }
            }
            return;
        }
        let failed = &self.actions[index].id;
        let mut stack = vec![index];
        while let Some(current) = stack.pop() {
            for position in 0..self.dependants[current].len() {
                let dependant = self.dependants[current][position];
                if self.outcomes[dependant].is_none() {
                    let reason = format!("depends on `{failed}`, which failed");
                    self.finish(dependant, Outcome::Skipped { reason }, observer);
                    stack.push(dependant);
                }
            }
        }
    }

    fn finish(&mut self, index: usize, outcome: Outcome, observer: &dyn ApplyObserver) {
        let action = &self.actions[index];
        observer.finished(action, &outcome);
        self.outcomes[index] = Some(outcome);
        if !self.parked[index] {
            self.written(index);
        }
        let group = (action.id.provider.clone(), action.id.kind.clone(), action.operation.removes());
        if let Some(count) = self.unfinished.get_mut(&group) {
            *count = count.saturating_sub(1);
        }
    }

    fn into_outcomes(self, reason: &str) -> Vec<Outcome> {
        self.outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(|| Outcome::Skipped { reason: reason.to_owned() }))
            .collect()
    }
}

/// Whether a saved plan may be applied to `state`: its format, and the state (lineage and
/// serial) it was made from. A caller checks this before contacting any server; [`apply`]
/// checks it again.
pub fn check_saved_plan(plan: &Plan, state: &State) -> Result<(), ApplyError> {
    if plan.format != crate::plan::PLAN_FORMAT {
        return Err(ApplyError::UnsupportedPlan { found: plan.format, supported: crate::plan::PLAN_FORMAT });
    }
    // A plan made before the first write has no lineage yet; any other difference in
    // lineage is another state altogether.
    if !plan.state_lineage.is_empty() && plan.state_lineage != state.lineage {
        return Err(ApplyError::ForeignPlan {
            plan_lineage: plan.state_lineage.clone(),
            state_lineage: state.lineage.clone(),
        });
    }
    if plan.state_lineage != state.lineage || plan.state_serial != state.serial {
        return Err(ApplyError::StalePlan {
            plan_lineage: plan.state_lineage.clone(),
            plan_serial: plan.state_serial,
            state_lineage: state.lineage.clone(),
            state_serial: state.serial,
        });
    }
    Ok(())
}

fn check_plan(plan: &Plan, providers: &Providers, state: &State, options: &ApplyOptions) -> Result<(), ApplyError> {
    check_saved_plan(plan, state)?;
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

/// The remote objects that actions' definitions refer to: those the plan knew, and those
/// written since. Only objects some action refers to are kept: holding every written object
/// (10,000 rule groups as JSON values at the bench's scale L) was the largest part of an
/// apply's memory.
struct ReferencedObjects {
    referenced: std::collections::BTreeSet<ObjectId>,
    objects: BTreeMap<ObjectId, RemoteObject>,
}

impl ReferencedObjects {
    fn of(plan: &Plan) -> ReferencedObjects {
        let referenced = plan
            .actions
            .iter()
            .flat_map(|action| action.references.iter().map(|reference| action.id.sibling(reference)))
            .collect();
        let objects = plan.known_remote.iter().map(|known| (known.id.clone(), known.remote.clone())).collect();
        ReferencedObjects { referenced, objects }
    }

    /// Keeps what `id` was written as, if an action refers to it.
    fn keep(&mut self, id: &ObjectId, remote: RemoteObject) {
        if self.referenced.contains(id) {
            self.objects.insert(id.clone(), remote);
        }
    }
}

/// The remote objects an action's definition refers to, as far as they are known now.
fn references_of(action: &Action, resolved: &ReferencedObjects) -> BTreeMap<LocalRef, RemoteObject> {
    action
        .references
        .iter()
        .filter_map(|reference| {
            resolved.objects.get(&action.id.sibling(reference)).map(|remote| (reference.clone(), remote.clone()))
        })
        .collect()
}

struct KnownReferences<'a>(&'a BTreeMap<LocalRef, RemoteObject>);

impl Resolver for KnownReferences<'_> {
    fn resolve(&self, reference: &LocalRef) -> Option<Resolved<'_>> {
        self.0.get(reference).map(Resolved::Known)
    }
}

/// What a write needs to reveal secrets to the handler.
#[derive(Debug, Clone)]
struct SecretContext {
    salt: String,
    root: std::path::PathBuf,
}

/// Runs one action against the remote: the object as written (none for removals), or left
/// for its batch's read-back, and the digests of the secrets it carried.
/// What a started action's task takes from the plan: not the whole action, whose definition
/// would be copied for nothing, but the definition as it is written (its references
/// substituted: the one copy it needs) and the remote object (whose fields are shared).
struct Work {
    operation: Operation,
    /// What to write: `None` when the action writes nothing or the plan lacks it.
    desired: Option<Result<DesiredObject, HandlerError>>,
    current: Option<RemoteObject>,
    only_state_changes: bool,
}

impl Work {
    fn of(action: &Action, references: &BTreeMap<LocalRef, RemoteObject>) -> Work {
        let only_state_changes = only_state_changes(action);
        let writes = match action.operation {
            Operation::Create | Operation::Recreate => true,
            Operation::Update | Operation::Adopt => !only_state_changes,
            Operation::Delete | Operation::Forget | Operation::Move => false,
        };
        let desired = action.desired.as_ref().filter(|_| writes).map(|desired| {
            substitute_in(&desired.fields, &KnownReferences(references))
                .map(|fields| DesiredObject { id: desired.id.clone(), fields })
                .map_err(|err| HandlerError::new(crate::HandlerErrorKind::Invalid, err.to_string()))
        });
        Work { operation: action.operation, desired, current: action.remote.clone(), only_state_changes }
    }
}

async fn execute(
    handler: &dyn Handler,
    work: Work,
    references: &BTreeMap<LocalRef, RemoteObject>,
    secrets: &SecretContext,
    context: &serde_json::Value,
    prepared: &Prepared,
) -> Result<(Option<Written>, Digests), HandlerError> {
    let resolver = KnownReferences(references);
    let Work { operation, desired, current, only_state_changes } = work;
    let desired = move || -> Result<(DesiredObject, Digests), HandlerError> {
        let desired = desired.ok_or_else(|| missing("desired object"))??;
        // Secret values exist only here, on their way to the remote.
        let (fields, digests) =
            crate::secrets::reveal_in(desired.fields, &handler.secret_fields(), &secrets.salt, &secrets.root)
                .map_err(|err| HandlerError::new(crate::HandlerErrorKind::Invalid, err.to_string()))?;
        Ok((DesiredObject { id: desired.id, fields }, digests))
    };
    match operation {
        Operation::Create | Operation::Recreate => {
            let (desired, digests) = desired()?;
            handler.write(None, &desired, &resolver, context, prepared).await.map(|written| (Some(written), digests))
        }
        Operation::Update | Operation::Adopt => {
            let current = current.ok_or_else(|| missing("remote object"))?;
            if only_state_changes {
                return Ok((Some(Written::Object(current)), BTreeMap::new()));
            }
            let (desired, digests) = desired()?;
            handler
                .write(Some(&current), &desired, &resolver, context, prepared)
                .await
                .map(|written| (Some(written), digests))
        }
        Operation::Delete => {
            let current = current.ok_or_else(|| missing("remote object"))?;
            handler.delete(&current, prepared).await.map(|()| (None, BTreeMap::new()))
        }
        Operation::Forget => Ok((None, BTreeMap::new())),
        // Renamed in code only: nothing to write remotely, state takes the new id.
        Operation::Move => Ok((current.map(Written::Object), BTreeMap::new())),
    }
}

fn missing(what: &str) -> HandlerError {
    HandlerError::new(
        crate::HandlerErrorKind::Other,
        format!("the plan lacks the {what} for this action; make a new plan"),
    )
}

/// Records a successful action in state.
fn record(state: &mut State, action: &Action, written: Option<&RemoteObject>, digests: Digests) {
    state.remove_pending(&action.id);
    if let Some(from) = &action.moved_from {
        // Renamed first, so that what the entry kept (secret digests, part ids) carries over.
        state.rename(from, &action.id);
    }
    match (action.operation, written) {
        (Operation::Move, _) => {}
        (Operation::Delete | Operation::Forget, _) => {
            state.remove(&action.id);
        }
        (_, Some(remote)) => state.upsert(StateEntry {
            id: action.id.clone(),
            remote_id: remote.remote_id.clone(),
            applied_hash: action.applied_hash.clone().unwrap_or_default(),
            depends_on: action.references.clone(),
            part_ids: remote.part_ids.clone(),
            protect: action.protect,
            // An adoption that wrote nothing keeps what was recorded (nothing, for a new one).
            secret_digests: if digests.is_empty() {
                state.get(&action.id).map(|entry| entry.secret_digests.clone()).unwrap_or_default()
            } else {
                digests
            },
        }),
        (_, None) => {}
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
