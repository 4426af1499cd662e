//! Write batches in the executor, through `batchy`, a fake provider whose kinds log every call:
//! `box` (not batched) and `item`, whose writes and deletes are batched by box. An item's write
//! leaves its object to the batch's read-back, which gives it its remote id.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mac_core::apply::Outcome;
use mac_core::project::definitions_from_documents;
use mac_core::source::Document;
use mac_core::state::StateStore;
use mac_core::{
    ApplyOptions, ApplyReport, Batch, BatchMember, FieldError, FileStateStore, Handler, HandlerError, HandlerErrorKind,
    Kind, KindSpec, LocalRef, ObjectId, Parked, Plan, PlanOptions, Prepared, Provider, Providers, Remote, RemoteObject,
    Resolved, Resolver, State, Typed, Written, async_trait,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// The fake remote: objects by (kind, remote id), a log of calls, and the faults to inject.
#[derive(Debug, Default)]
struct Fake {
    objects: Mutex<BTreeMap<(String, String), Value>>,
    log: Mutex<Vec<String>>,
    /// Local ids of boxes and items whose writes or deletes fail.
    fail: Mutex<BTreeSet<String>>,
    /// Batch names whose preparation fails.
    fail_preparation: Mutex<BTreeSet<String>>,
    /// Read-backs fail (the write happened; its answer is unknown).
    fail_read_back: AtomicBool,
    /// Set during the write of this item: the apply's interrupt flag.
    interrupt_during: Mutex<Option<(String, Arc<AtomicBool>)>>,
}

impl Fake {
    fn log(&self, line: String) {
        self.log.lock().expect("log").push(line);
    }

    fn failing(&self, local_id: &str) -> Result<(), HandlerError> {
        if self.fail.lock().expect("faults").contains(local_id) {
            return Err(HandlerError::new(HandlerErrorKind::Invalid, format!("{local_id} is refused")));
        }
        Ok(())
    }

    fn list(&self, kind: &str) -> Vec<RemoteObject> {
        let objects = self.objects.lock().expect("objects");
        objects
            .iter()
            .filter(|((object_kind, _), _)| object_kind == kind)
            .map(|((_, remote_id), fields)| object(remote_id, fields.clone()))
            .collect()
    }
}

fn object(remote_id: &str, fields: Value) -> RemoteObject {
    RemoteObject {
        remote_id: remote_id.to_owned(),
        adoption_key: Some(remote_id.to_owned()),
        fields: fields.into(),
        part_ids: BTreeMap::new(),
    }
}

#[derive(Debug)]
struct BoxKind(Arc<Fake>);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct BoxFields {
    title: String,
}

#[async_trait]
impl Kind for BoxKind {
    type Desired = BoxFields;
    type Remote = Value;
    type Comparable = Value;
    type Context = ();

    fn desired(&self, _: &ObjectId, desired: &BoxFields, _: &dyn Resolver, _: &()) -> Result<Value, FieldError> {
        Ok(json!({ "title": desired.title }))
    }

    fn observed(&self, remote: &Remote<'_, Value>) -> Value {
        json!({ "title": remote.fields["title"] })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(self.0.list("box"))
    }

    async fn write(
        &self,
        _: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &BoxFields,
        _: &dyn Resolver,
        _: &(),
    ) -> Result<RemoteObject, HandlerError> {
        self.0.failing(&id.local_id)?;
        self.0.log(format!("write box {}", id.local_id));
        let fields = json!({ "title": desired.title });
        self.0.objects.lock().expect("objects").insert(("box".into(), id.local_id.clone()), fields.clone());
        Ok(object(&id.local_id, fields))
    }

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        self.0.log(format!("delete box {}", current.remote_id));
        self.0.objects.lock().expect("objects").remove(&("box".into(), current.remote_id.clone()));
        Ok(())
    }
}

#[derive(Debug)]
struct ItemKind(Arc<Fake>);

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ItemFields {
    /// The box's local id.
    #[serde(rename = "box")]
    in_box: String,
    /// Another item this one must come after.
    #[serde(default)]
    after: Option<String>,
    /// Another box this one needs (only as a dependency).
    #[serde(default)]
    needs: Option<String>,
    #[serde(default)]
    size: u64,
}

#[derive(Debug, Deserialize)]
struct StoredItem {
    #[serde(rename = "box")]
    in_box: String,
}

/// A write parked for the read-back.
#[derive(Debug)]
struct ItemToRead {
    local_id: String,
}

/// What a batch's preparation found.
#[derive(Debug)]
struct Found(String);

fn batch_name(batch: &Batch) -> String {
    match batch {
        Batch::Writes(name) => format!("writes:{name}"),
        Batch::Deletes(name) => format!("deletes:{name}"),
    }
}

#[async_trait]
impl Kind for ItemKind {
    type Desired = ItemFields;
    type Remote = StoredItem;
    type Comparable = Value;
    type Context = ();

    fn references(&self, desired: &ItemFields) -> Vec<(String, LocalRef)> {
        let mut references = vec![("/box".to_owned(), LocalRef::new("box", &desired.in_box))];
        if let Some(after) = &desired.after {
            references.push(("/after".to_owned(), LocalRef::new("item", after)));
        }
        if let Some(needs) = &desired.needs {
            references.push(("/needs".to_owned(), LocalRef::new("box", needs)));
        }
        references
    }

    /// Known once the box is: a create is recorded as pending just before it starts.
    fn adoption_key(&self, id: &ObjectId, desired: &ItemFields, refs: &dyn Resolver) -> Option<String> {
        match refs.resolve(&LocalRef::new("box", &desired.in_box))? {
            Resolved::Known(found) => Some(format!("{}/{}", found.remote_id, id.local_id)),
            Resolved::Pending => None,
        }
    }

    fn desired(&self, _: &ObjectId, desired: &ItemFields, _: &dyn Resolver, _: &()) -> Result<Value, FieldError> {
        Ok(json!({ "box": desired.in_box, "size": desired.size }))
    }

    fn observed(&self, remote: &Remote<'_, StoredItem>) -> Value {
        json!({ "box": remote.fields.in_box, "size": remote.object.fields.to_value()["size"] })
    }

    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        Ok(self.0.list("item"))
    }

    async fn write(
        &self,
        _: Option<&RemoteObject>,
        _: &ObjectId,
        _: &ItemFields,
        _: &dyn Resolver,
        _: &(),
    ) -> Result<RemoteObject, HandlerError> {
        Err(HandlerError::new(HandlerErrorKind::Other, "items are written in batches only"))
    }

    async fn delete(&self, _: &RemoteObject) -> Result<(), HandlerError> {
        Err(HandlerError::new(HandlerErrorKind::Other, "items are deleted in batches only"))
    }

    const BATCHED: bool = true;

    fn write_batch(&self, _: &ObjectId, desired: &ItemFields) -> Option<String> {
        Some(desired.in_box.clone())
    }

    fn delete_batch(&self, current: &Remote<'_, StoredItem>) -> Option<String> {
        Some(current.fields.in_box.clone())
    }

    async fn prepare_batch(&self, batch: &Batch, members: &[BatchMember<'_>]) -> Result<Prepared, HandlerError> {
        let name = batch_name(batch);
        let mut ids: Vec<String> = members
            .iter()
            .map(|member| match member {
                BatchMember::Write { desired, .. } => desired.id.local_id.clone(),
                BatchMember::Delete { current } => current.remote_id.clone(),
            })
            .collect();
        ids.sort();
        self.0.log(format!("prepare {name} [{}]", ids.join(" ")));
        // A preparation takes a while: members that become ready meanwhile wait for it.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if self.0.fail_preparation.lock().expect("faults").contains(&name) {
            return Err(HandlerError::new(HandlerErrorKind::Unavailable, format!("cannot prepare {name}")));
        }
        Ok(Prepared::new(Found(name)))
    }

    async fn write_in_batch(
        &self,
        _: Option<&RemoteObject>,
        id: &ObjectId,
        desired: &ItemFields,
        refs: &dyn Resolver,
        _: &(),
        prepared: &Prepared,
    ) -> Result<Written, HandlerError> {
        let found = prepared.get::<Found>().map_or("nothing", |found| found.0.as_str()).to_owned();
        self.0.failing(&id.local_id)?;
        let Some(Resolved::Known(in_box)) = refs.resolve(&LocalRef::new("box", &desired.in_box)) else {
            return Err(HandlerError::new(HandlerErrorKind::Other, "the box is not known"));
        };
        self.0.log(format!("write item {} with {found}", id.local_id));
        let fields = json!({ "box": in_box.remote_id, "size": desired.size });
        let remote_id = format!("{}/{}", in_box.remote_id, id.local_id);
        self.0.objects.lock().expect("objects").insert(("item".into(), remote_id), fields);
        let interrupt = self.0.interrupt_during.lock().expect("faults").clone();
        if let Some((item, flag)) = interrupt
            && item == id.local_id
        {
            flag.store(true, Ordering::SeqCst);
        }
        Ok(Written::ReadBack(Parked::new(ItemToRead { local_id: id.local_id.clone() })))
    }

    async fn read_back(&self, batch: &Batch, parked: Vec<Parked>) -> Vec<Result<RemoteObject, HandlerError>> {
        let items: Vec<ItemToRead> = parked.into_iter().filter_map(|parked| parked.take().ok()).collect();
        let mut ids: Vec<&str> = items.iter().map(|item| item.local_id.as_str()).collect();
        ids.sort_unstable();
        self.0.log(format!("read back {} [{}]", batch_name(batch), ids.join(" ")));
        let fail = self.0.fail_read_back.load(Ordering::SeqCst);
        let objects = self.0.objects.lock().expect("objects");
        items
            .iter()
            .map(|item| {
                if fail {
                    // An answer that would say "no" to a write (a folder renamed since: not
                    // found): the write happened all the same.
                    return Err(HandlerError::new(HandlerErrorKind::NotFound, "the read-back found no such box"));
                }
                let Batch::Writes(in_box) = batch else { unreachable!("only writes are parked") };
                let remote_id = format!("{in_box}/{}", item.local_id);
                let fields = objects.get(&("item".to_owned(), remote_id.clone())).cloned().unwrap_or_default();
                Ok(object(&remote_id, fields))
            })
            .collect()
    }

    async fn delete_in_batch(&self, current: &RemoteObject, prepared: &Prepared) -> Result<(), HandlerError> {
        let found = prepared.get::<Found>().map_or("nothing", |found| found.0.as_str());
        self.0.log(format!("delete item {} with {found}", current.remote_id));
        self.0.objects.lock().expect("objects").remove(&("item".into(), current.remote_id.clone()));
        Ok(())
    }
}

#[derive(Debug)]
struct Batchy(Arc<Fake>);

#[async_trait]
impl Provider for Batchy {
    fn kinds(&self) -> Vec<KindSpec> {
        vec![KindSpec::new::<BoxKind>("box", &[]), KindSpec::new::<ItemKind>("item", &["box"])]
    }

    fn handler(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        match kind {
            "box" => Some(Arc::new(Typed(BoxKind(self.0.clone())))),
            "item" => Some(Arc::new(Typed(ItemKind(self.0.clone())))),
            _ => None,
        }
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    fake: Arc<Fake>,
    store: FileStateStore,
    providers: Providers,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStateStore::new(dir.path().join("state.json"));
        let fake = Arc::new(Fake::default());
        let mut providers = Providers::new();
        providers.insert("batchy", Box::new(Batchy(fake.clone()))).expect("valid provider");
        Harness { _dir: dir, fake, store, providers }
    }

    async fn plan(&self, toml: &str) -> Plan {
        let document = Document::parse("defs.toml", toml.to_owned()).expect("toml");
        let definitions =
            definitions_from_documents(&[document], &self.providers, ["batchy"], Path::new(".")).expect("definitions");
        let instances = ["batchy".to_owned()].into_iter().collect();
        let kinds = mac_core::refresh::all_kinds(&self.providers, &instances);
        let observed = mac_core::refresh::observe(&self.providers, &kinds).await.expect("observe");
        let options = PlanOptions { allow_delete_all: true, allow_mass_delete: true, ..PlanOptions::default() };
        mac_core::plan(&definitions, &self.state(), &observed, &self.providers, &options).expect("plan")
    }

    async fn apply(&self, plan: &Plan, options: &ApplyOptions) -> ApplyReport {
        let _lock = self.store.lock(Duration::ZERO).expect("lock");
        let (_, report) =
            mac_core::apply(plan, &self.providers, &self.store, self.state(), options, &mac_core::apply::Silent)
                .await
                .expect("apply");
        report
    }

    fn state(&self) -> State {
        self.store.load().expect("state")
    }

    /// The log since the last call, and emptied.
    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.fake.log.lock().expect("log"))
    }

    fn outcome(report: &ApplyReport, short: &str) -> Outcome {
        report
            .actions
            .iter()
            .find(|action| action.id.short() == short)
            .map(|action| action.outcome.clone())
            .expect(short)
    }
}

fn parallelism(parallelism: usize) -> ApplyOptions {
    ApplyOptions { parallelism, ..ApplyOptions::default() }
}

/// Boxes `a` and `b` with three items each, item `c` of a box `c` refused when asked.
fn two_boxes(extra: &str) -> String {
    let mut toml =
        String::from("[[batchy.box]]\nid = \"a\"\ntitle = \"A\"\n\n[[batchy.box]]\nid = \"b\"\ntitle = \"B\"\n\n");
    for (in_box, item) in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2"), ("a", "a3"), ("b", "b3")] {
        toml.push_str(&format!("[[batchy.item]]\nid = \"{item}\"\nbox = \"{in_box}\"\n\n"));
    }
    toml.push_str(extra);
    toml
}

fn position(log: &[String], line: &str) -> usize {
    log.iter().position(|entry| entry == line).unwrap_or_else(|| panic!("{line} in {log:#?}"))
}

fn count(log: &[String], prefix: &str) -> usize {
    log.iter().filter(|entry| entry.starts_with(prefix)).count()
}

#[tokio::test]
async fn a_batch_is_prepared_once_before_its_first_member_and_read_back_once_after_its_last() {
    let harness = Harness::new();
    let plan = harness.plan(&two_boxes("")).await;
    let report = harness.apply(&plan, &parallelism(2)).await;
    assert!(report.succeeded(), "{report:?}");
    let log = harness.take_log();
    for name in ["a", "b"] {
        let prepare = position(&log, &format!("prepare writes:{name} [{name}1 {name}2 {name}3]"));
        let read_back = position(&log, &format!("read back writes:{name} [{name}1 {name}2 {name}3]"));
        for item in 1..=3 {
            let write = position(&log, &format!("write item {name}{item} with writes:{name}"));
            assert!(prepare < write && write < read_back, "{log:#?}");
        }
    }
    assert_eq!(count(&log, "prepare "), 2, "{log:#?}");
    assert_eq!(count(&log, "read back "), 2, "{log:#?}");
    // Recorded with what the read-back found, and nothing left pending.
    let state = harness.state();
    let entry = state.get(&ObjectId::new("batchy", "item", "b2")).expect("recorded");
    assert_eq!(entry.remote_id, "b/b2");
    assert_eq!(state.resources().len(), 8);
    assert!(state.pending().is_empty(), "{:?}", state.pending());
    assert!(!harness.plan(&two_boxes("")).await.has_changes());

    // Deletes: prepared once per batch, each delete given what it found; nothing to read back.
    let plan = harness.plan("[[batchy.box]]\nid = \"a\"\ntitle = \"A\"\n").await;
    let report = harness.apply(&plan, &parallelism(2)).await;
    assert!(report.succeeded(), "{report:?}");
    let log = harness.take_log();
    let prepare = position(&log, "prepare deletes:a [a/a1 a/a2 a/a3]");
    let _ = position(&log, "prepare deletes:b [b/b1 b/b2 b/b3]");
    for item in 1..=3 {
        assert!(prepare < position(&log, &format!("delete item a/a{item} with deletes:a")), "{log:#?}");
    }
    assert_eq!(count(&log, "prepare "), 2, "{log:#?}");
    assert_eq!(count(&log, "read back "), 0, "{log:#?}");
    assert!(position(&log, "delete item b/b3 with deletes:b") < position(&log, "delete box b"), "{log:#?}");
}

#[tokio::test]
async fn a_parked_write_completes_only_with_its_read_back_and_only_then_releases_its_dependants() {
    let harness = Harness::new();
    // a2 comes after a1, in the same batch: a1 must be read back (early, as nothing else can
    // run) before a2 starts; a2 is then read back on its own. The batch's preparation served
    // a1 and a3, ready when it started: a2 gets one of its own, made after a1 completed.
    let toml = "[[batchy.box]]\nid = \"a\"\ntitle = \"A\"\n\n\
                [[batchy.item]]\nid = \"a1\"\nbox = \"a\"\n\n\
                [[batchy.item]]\nid = \"a2\"\nbox = \"a\"\nafter = \"a1\"\n\n\
                [[batchy.item]]\nid = \"a3\"\nbox = \"a\"\n";
    let plan = harness.plan(toml).await;
    let report = harness.apply(&plan, &parallelism(4)).await;
    assert!(report.succeeded(), "{report:?}");
    let log = harness.take_log();
    assert_eq!(count(&log, "prepare "), 2, "{log:#?}");
    let first = position(&log, "read back writes:a [a1 a3]");
    assert!(position(&log, "prepare writes:a [a1 a3]") < position(&log, "write item a1 with writes:a"), "{log:#?}");
    assert!(first < position(&log, "prepare writes:a [a2]"), "{log:#?}");
    assert!(position(&log, "prepare writes:a [a2]") < position(&log, "write item a2 with writes:a"), "{log:#?}");
    assert!(position(&log, "write item a2 with writes:a") < position(&log, "read back writes:a [a2]"), "{log:#?}");
    assert_eq!(harness.state().resources().len(), 4);
}

#[tokio::test]
async fn failed_and_skipped_members_count_as_written_and_the_rest_is_read_back() {
    let harness = Harness::new();
    // a1 is refused; a3 needs box c, which is refused: it is skipped. Box a's read-back still
    // runs, once, for a2 alone; box c's items never start, so batch c is never prepared.
    let extra = "[[batchy.box]]\nid = \"c\"\ntitle = \"C\"\n\n[[batchy.item]]\nid = \"c1\"\nbox = \"c\"\n";
    let toml = two_boxes(extra).replace("id = \"a3\"\nbox = \"a\"\n", "id = \"a3\"\nbox = \"a\"\nneeds = \"c\"\n");
    harness.fake.fail.lock().expect("faults").extend(["a1".to_owned(), "c".to_owned()]);
    let plan = harness.plan(&toml).await;
    let report = harness.apply(&plan, &parallelism(3)).await;
    let log = harness.take_log();
    assert!(matches!(Harness::outcome(&report, "item.a1"), Outcome::Failed { .. }), "{report:?}");
    assert!(matches!(Harness::outcome(&report, "item.a3"), Outcome::Skipped { .. }), "{report:?}");
    assert!(matches!(Harness::outcome(&report, "item.c1"), Outcome::Skipped { .. }), "{report:?}");
    assert_eq!(Harness::outcome(&report, "item.a2"), Outcome::Done, "{report:?}");
    assert_eq!(
        log.iter().filter(|line| line.starts_with("read back writes:a")).collect::<Vec<_>>(),
        ["read back writes:a [a2]"]
    );
    assert_eq!(count(&log, "prepare writes:c"), 0, "{log:#?}");
    let state = harness.state();
    assert!(state.get(&ObjectId::new("batchy", "item", "a2")).is_some());
    assert!(state.get(&ObjectId::new("batchy", "item", "a1")).is_none());
    assert!(state.pending().is_empty(), "a refused create and unstarted ones are not pending: {:?}", state.pending());
}

#[tokio::test]
async fn a_failed_preparation_fails_its_members_with_its_error_and_starts_none() {
    let harness = Harness::new();
    harness.fake.fail_preparation.lock().expect("faults").insert("writes:b".to_owned());
    let plan = harness.plan(&two_boxes("")).await;
    let report = harness.apply(&plan, &parallelism(2)).await;
    let log = harness.take_log();
    for item in ["b1", "b2", "b3"] {
        match Harness::outcome(&report, &format!("item.{item}")) {
            Outcome::Failed { error, .. } => assert_eq!(error, "cannot prepare writes:b"),
            other => panic!("{item}: {other:?}"),
        }
    }
    assert_eq!(count(&log, "write item b"), 0, "{log:#?}");
    assert_eq!(count(&log, "prepare writes:b"), 1, "{log:#?}");
    assert_eq!(report.done(&[mac_core::Operation::Create]), 5, "{report:?}");
    let state = harness.state();
    assert!(state.pending().is_empty(), "creates that never started are not pending: {:?}", state.pending());
}

#[tokio::test]
async fn an_interrupted_apply_still_reads_back_and_records_what_it_wrote() {
    let harness = Harness::new();
    let flag = Arc::new(AtomicBool::new(false));
    *harness.fake.interrupt_during.lock().expect("faults") = Some(("a1".to_owned(), flag.clone()));
    let plan = harness.plan(&two_boxes("")).await;
    let options = ApplyOptions { parallelism: 1, interrupt: Some(flag), ..ApplyOptions::default() };
    let report = harness.apply(&plan, &options).await;
    let log = harness.take_log();
    assert_eq!(Harness::outcome(&report, "item.a1"), Outcome::Done, "{report:?}");
    assert!(matches!(Harness::outcome(&report, "item.a2"), Outcome::Skipped { .. }), "{report:?}");
    assert!(position(&log, "write item a1 with writes:a") < position(&log, "read back writes:a [a1]"), "{log:#?}");
    assert_eq!(count(&log, "write item"), 1, "{log:#?}");
    let state = harness.state();
    assert_eq!(state.get(&ObjectId::new("batchy", "item", "a1")).map(|entry| entry.remote_id.as_str()), Some("a/a1"));
    assert!(state.pending().is_empty(), "{:?}", state.pending());
}

#[tokio::test]
async fn a_write_whose_read_back_fails_stays_pending_and_is_adopted_by_the_next_run() {
    let harness = Harness::new();
    harness.fake.fail_read_back.store(true, Ordering::SeqCst);
    let plan = harness.plan(&two_boxes("")).await;
    let report = harness.apply(&plan, &parallelism(2)).await;
    assert_eq!(report.failed().count(), 6, "{report:?}");
    // Written but not read: not recorded, still pending under the key it was written with —
    // as after a kill between the write and its read-back.
    let state = harness.state();
    assert_eq!(state.resources().len(), 2, "the boxes only");
    let pending: BTreeSet<&str> = state.pending().iter().map(|pending| pending.adoption_key.as_str()).collect();
    assert_eq!(pending, ["a/a1", "a/a2", "a/a3", "b/b1", "b/b2", "b/b3"].into_iter().collect());

    harness.fake.fail_read_back.store(false, Ordering::SeqCst);
    let plan = harness.plan(&two_boxes("")).await;
    assert!(plan.actions.iter().all(|action| action.operation == mac_core::Operation::Adopt && action.resumed));
    let report = harness.apply(&plan, &parallelism(2)).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(harness.fake.list("item").len(), 6, "no duplicate");
    assert!(!harness.plan(&two_boxes("")).await.has_changes());
}

/// A file store that remembers, for each save, the items then recorded as pending.
#[derive(Debug)]
struct CountingStore {
    inner: FileStateStore,
    pending_items: Mutex<Vec<usize>>,
}

impl StateStore for CountingStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn load(&self) -> Result<State, mac_core::StateError> {
        self.inner.load()
    }

    fn save(&self, state: &State) -> Result<(), mac_core::StateError> {
        let items = state.pending().iter().filter(|pending| pending.id.kind == "item").count();
        self.pending_items.lock().expect("saves").push(items);
        self.inner.save(state)
    }

    fn lock(&self, timeout: Duration) -> Result<Box<dyn mac_core::state::StateLock>, mac_core::StateError> {
        self.inner.lock(timeout)
    }
}

#[tokio::test]
async fn creates_whose_keys_become_known_together_are_recorded_pending_in_one_save() {
    let harness = Harness::new();
    let mut toml = String::from("[[batchy.box]]\nid = \"a\"\ntitle = \"A\"\n\n");
    for item in 1..=6 {
        toml.push_str(&format!("[[batchy.item]]\nid = \"a{item}\"\nbox = \"a\"\n\n"));
    }
    let plan = harness.plan(&toml).await;
    assert!(plan.pending.iter().all(|pending| pending.id.kind == "box"), "an item's key needs its box's id");
    let store = CountingStore { inner: harness.store.clone(), pending_items: Mutex::default() };
    let report = {
        let _lock = store.lock(Duration::ZERO).expect("lock");
        let options = parallelism(1);
        let (_, report) =
            mac_core::apply(&plan, &harness.providers, &store, harness.state(), &options, &mac_core::apply::Silent)
                .await
                .expect("apply");
        report
    };
    assert!(report.succeeded(), "{report:?}");
    // Once the box exists, the six items' keys are known: all are recorded before the first
    // of them starts, in one save, not in one save per item started.
    let saves = store.pending_items.lock().expect("saves").clone();
    let first = saves.iter().position(|items| *items > 0).expect("items recorded as pending");
    assert_eq!(saves[first], 6, "{saves:?}");
    assert!(harness.state().pending().is_empty());
}

#[tokio::test]
async fn deletes_wait_for_the_writes_of_the_kinds_theirs_depends_on() {
    // A box renamed while its items are deleted: the items' deletes address them through their
    // box (as Grafana's ruler deletes a group by its folder's title), so neither their
    // preparation nor their deletes may start before the rename is done, at any parallelism.
    let harness = Harness::new();
    let plan = harness.plan(&two_boxes("")).await;
    assert!(harness.apply(&plan, &parallelism(8)).await.succeeded());
    harness.take_log();
    let renamed = "[[batchy.box]]\nid = \"a\"\ntitle = \"A renamed\"\n\n[[batchy.box]]\nid = \"b\"\ntitle = \"B\"\n\n\
                   [[batchy.item]]\nid = \"b1\"\nbox = \"b\"\n\n[[batchy.item]]\nid = \"b2\"\nbox = \"b\"\n\n\
                   [[batchy.item]]\nid = \"b3\"\nbox = \"b\"\n";
    let plan = harness.plan(renamed).await;
    let report = harness.apply(&plan, &parallelism(8)).await;
    assert!(report.succeeded(), "{report:?}");
    let log = harness.take_log();
    let rename = position(&log, "write box a");
    assert!(rename < position(&log, "prepare deletes:a [a/a1 a/a2 a/a3]"), "{log:#?}");
    for item in 1..=3 {
        assert!(rename < position(&log, &format!("delete item a/a{item} with deletes:a")), "{log:#?}");
    }
}
