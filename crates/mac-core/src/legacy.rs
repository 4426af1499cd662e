//! TEMPORARY (issue 17, removed before it lands): the pre-typed handler trait and its adapter,
//! so that the workspace compiles while kinds are converted to [`crate::Kind`] one by one.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde_json::Value;

use crate::object::{Fields, LocalRef, ObjectId, RemoteObject};
use crate::provider::{
    Compared, DesiredObject, FieldError, Handler, HandlerError, ImportRefs, ImportedFields, KeyReference, Reread,
    Resolver,
};
use crate::relation::{Links, Relation};

/// One kind of object: reading, writing and comparing it.
///
/// The synchronous methods must be pure: the planner calls them and stays deterministic. It
/// calls them for many objects at once on plain threads (one per core), outside any async
/// runtime and tracing span: they must not need either.
#[async_trait]
pub trait LegacyHandler: Send + Sync + std::fmt::Debug {
    /// Checks desired fields offline. Each problem names its field.
    fn validate(&self, _fields: &Fields) -> Result<(), Vec<FieldError>> {
        Ok(())
    }

    /// Checks the definitions of this kind in one provider instance together, for what only a
    /// set of them can get wrong (a title the remote keeps unique across objects): each
    /// problem with the index of its definition in `definitions`. Runs offline, once every
    /// definition passed [`LegacyHandler::validate`].
    fn validate_together(&self, _definitions: &[(&ObjectId, &Fields)]) -> Vec<(usize, FieldError)> {
        Vec::new()
    }

    /// The objects of the same provider instance that this object needs to exist first,
    /// each with the pointer of the field that refers to it (for error messages). Generic
    /// `{ ref = … }` fields are found by the engine and need not be listed.
    fn references(&self, _fields: &Fields) -> Vec<(String, LocalRef)> {
        Vec::new()
    }

    /// Fields that name another object of the same instance by a natural key rather than by
    /// `{ ref = … }` (see [`KeyReference`]). A field listed here must also accept the generic
    /// reference the loader puts in its place when the key names a definition of the project.
    fn key_references(&self, _fields: &Fields) -> Vec<KeyReference> {
        Vec::new()
    }

    /// A key besides [`LegacyHandler::adoption_key`] that the remote keeps unique among objects of
    /// this kind (Grafana: a folder's title, compared by its URL slug). The planner compares it
    /// between a definition it would create and the remote objects no state entry claims, and
    /// asks [`LegacyHandler::unique_key_clash`] what a clash means. `None` when the kind has no such
    /// key or it cannot be computed offline.
    fn unique_key(&self, _desired: &DesiredObject) -> Option<String> {
        None
    }

    /// [`LegacyHandler::unique_key`] of a remote object.
    fn remote_unique_key(&self, _remote: &RemoteObject) -> Option<String> {
        None
    }

    /// Creating `desired` would clash with the unmanaged `remote` on [`LegacyHandler::unique_key`].
    /// `Ok(())` offers to adopt `remote` instead (planned as an adopt, applied with `--adopt`);
    /// an error refuses the plan at the field it names, with the fix.
    fn unique_key_clash(&self, _desired: &DesiredObject, remote: &RemoteObject) -> Result<(), FieldError> {
        Err(FieldError::at(
            "",
            format!("the remote object `{}` already has this object's unique key", remote.remote_id),
        ))
    }

    /// Pointer patterns of the fields that hold secrets (`*` matches one segment), e.g.
    /// `/secure_json_data/*`. Values there must be `{ env = … }` or `{ file = … }`
    /// references; the engine keeps them out of comparisons, plans and state, detects changed
    /// values through salted digests, and reveals them only to `create` and `update`.
    fn secret_fields(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Pointer patterns of fields that may name a JSON file, `{ file = "dashboards/x.json" }`
    /// (relative to the project). The loader reads and parses the file and gives the handler
    /// `{ file = "…", content = <the JSON> }`, so that the content counts as the definition's:
    /// an edit of the file is a change in code, and a saved plan carries what was reviewed.
    fn file_fields(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The observed state normalised against what is desired, for handlers that manage only
    /// part of a remote object (secret keys a definition names, say). The default ignores
    /// `desired`.
    fn observed_for(&self, remote: &RemoteObject, _desired: &Value) -> Value {
        self.observed(remote)
    }

    /// The natural key under which a desired object would exist remotely even though it is
    /// not in state (a uid derived from the local id, a unique name). An observed object with
    /// the same key is offered for adoption instead of a create that would clash or duplicate.
    fn adoption_key(&self, _desired: &DesiredObject, _refs: &dyn Resolver) -> Option<String> {
        None
    }

    /// The desired state in the comparable form that [`LegacyHandler::observed`] also produces.
    /// References not yet known show as [`KNOWN_AFTER_APPLY`]. An error (a name that does not
    /// resolve on the server, say) is reported at the field it names.
    fn desired(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<Value, FieldError>;

    /// A remote object's state, normalised so that server-set defaults and formatting never
    /// show as a difference from [`LegacyHandler::desired`].
    fn observed(&self, remote: &RemoteObject) -> Value;

    /// The field by which items of the list at `path` (a pointer with indices replaced by
    /// `*`, e.g. `/rules`) are matched between desired and observed, so that reordering is
    /// no change and a changed item shows as itself. `None` matches by position.
    fn list_key(&self, _path: &str) -> Option<&'static str> {
        None
    }

    /// The project that the remote object is marked as managed by (the owner marker this
    /// handler writes, read back), or `None` for an unmarked object or a kind that cannot
    /// carry a marker. `mac import` and adoption leave objects marked by another project
    /// alone, and a plan warns about a managed object that another project claims. The
    /// marker itself is never part of [`LegacyHandler::observed`]: it is no change to review.
    fn owner(&self, _remote: &RemoteObject) -> Option<String> {
        None
    }

    /// A remote object in a few words, for the plan line that deletes it
    /// (`folder "Payments", uid "mac-payments"`). The default is its remote id.
    fn describe(&self, remote: &RemoteObject) -> String {
        remote.remote_id.clone()
    }

    /// A remote object not managed yet, as a definition to write to a file (`mac import`).
    /// Defaults and server-added fields are left out so that the file reads as a person
    /// would write it; planning the result against the same remote object must show no
    /// change. `None` for objects this kind does not import.
    fn import(&self, _remote: &RemoteObject, _refs: &dyn ImportRefs) -> Option<ImportedFields> {
        None
    }

    /// The kinds this kind's objects live in or use, as [`LegacyHandler::links`] reports them; the
    /// default: none (objects of this kind never block or warn about a delete).
    fn relations(&self) -> Vec<(Relation, &'static str)> {
        Vec::new()
    }

    /// For one observed object: its title, and the objects of its instance it lives in and uses.
    fn links(&self, _remote: &RemoteObject) -> Links {
        Links::default()
    }

    /// For remote objects a plan may delete (by remote id): what lives in each that no kind of
    /// this provider models (library panels in a folder), so that the plan blocks the delete
    /// instead of the remote losing them. Called only when such a delete is possible.
    async fn unmodelled_contents(
        &self,
        _remote_ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<crate::relation::LinkedObject>>, HandlerError> {
        Ok(BTreeMap::new())
    }

    /// Every remote object of this kind with what [`LegacyHandler::links`] needs for `relations`
    /// (possibly less than [`LegacyHandler::list`] reads), in as few requests as the API allows.
    /// Called only for a kind not otherwise read, when a plan may delete what it relates to.
    async fn list_for_links(&self, _relations: &BTreeSet<Relation>) -> Result<Vec<RemoteObject>, HandlerError> {
        self.list().await
    }

    /// Every remote object of this kind, in as few requests as the API allows.
    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError>;

    /// One remote object, `None` when it does not exist. By default found in [`LegacyHandler::list`]:
    /// right for kinds whose whole list is one request; override it where one object is
    /// cheaper to fetch alone.
    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.list().await?.into_iter().find(|remote| remote.remote_id == remote_id))
    }

    /// How `mac apply FILE` re-reads the objects of this kind a saved plan writes or deletes.
    fn reread(&self) -> Reread {
        Reread::List
    }

    /// The remote object with this natural key ([`LegacyHandler::adoption_key`]), `None` when there is
    /// none: how a saved plan's apply checks that nobody made a create's object meanwhile. By
    /// default found in [`LegacyHandler::list`]; override it for kinds with [`Reread::EachObject`].
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        Ok(self.list().await?.into_iter().find(|remote| remote.adoption_key.as_deref() == Some(key)))
    }

    async fn create(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Result<RemoteObject, HandlerError>;

    async fn update(
        &self,
        current: &RemoteObject,
        desired: &DesiredObject,
        refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError>;

    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError>;

    fn rule_view(&self) -> Option<&dyn crate::rules::RuleView> {
        None
    }
}

/// Adapts a [`LegacyHandler`] to [`Handler`].
#[derive(Debug)]
pub struct Legacy<H>(pub H);

#[async_trait]
impl<H: LegacyHandler> Handler for Legacy<H> {
    fn validate(&self, fields: &Fields) -> Result<(), Vec<FieldError>> {
        self.0.validate(fields)
    }
    fn validate_together(&self, definitions: &[(&ObjectId, &Fields)]) -> Vec<(usize, FieldError)> {
        self.0.validate_together(definitions)
    }
    fn references(&self, fields: &Fields) -> Vec<(String, LocalRef)> {
        self.0.references(fields)
    }
    fn key_references(&self, fields: &Fields) -> Vec<KeyReference> {
        self.0.key_references(fields)
    }
    fn unique_key(&self, desired: &DesiredObject) -> Option<String> {
        self.0.unique_key(desired)
    }
    fn remote_unique_key(&self, remote: &RemoteObject) -> Option<String> {
        self.0.remote_unique_key(remote)
    }
    fn unique_key_clash(&self, desired: &DesiredObject, remote: &RemoteObject) -> Result<(), FieldError> {
        self.0.unique_key_clash(desired, remote)
    }
    fn secret_fields(&self) -> Vec<&'static str> {
        self.0.secret_fields()
    }
    fn file_fields(&self) -> Vec<&'static str> {
        self.0.file_fields()
    }
    fn adoption_key(&self, desired: &DesiredObject, refs: &dyn Resolver) -> Option<String> {
        self.0.adoption_key(desired, refs)
    }
    fn compare(
        &self,
        desired: &DesiredObject,
        remote: Option<&RemoteObject>,
        refs: &dyn Resolver,
        _context: &Value,
    ) -> Result<Compared, FieldError> {
        let desired = self.0.desired(desired, refs)?;
        let observed = remote.map(|remote| self.0.observed_for(remote, &desired));
        Ok(Compared { desired, observed })
    }
    fn observed(&self, remote: &RemoteObject) -> Value {
        self.0.observed(remote)
    }
    fn list_key(&self, path: &str) -> Option<&'static str> {
        self.0.list_key(path)
    }
    fn owner(&self, remote: &RemoteObject) -> Option<String> {
        self.0.owner(remote)
    }
    fn describe(&self, remote: &RemoteObject) -> String {
        self.0.describe(remote)
    }
    fn import(&self, remote: &RemoteObject, refs: &dyn ImportRefs, _context: &Value) -> Option<ImportedFields> {
        self.0.import(remote, refs)
    }
    fn relations(&self) -> Vec<(Relation, &'static str)> {
        self.0.relations()
    }
    fn links(&self, remote: &RemoteObject) -> Links {
        self.0.links(remote)
    }
    async fn unmodelled_contents(
        &self,
        remote_ids: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Vec<crate::relation::LinkedObject>>, HandlerError> {
        self.0.unmodelled_contents(remote_ids).await
    }
    async fn list_for_links(&self, relations: &BTreeSet<Relation>) -> Result<Vec<RemoteObject>, HandlerError> {
        self.0.list_for_links(relations).await
    }
    async fn list(&self) -> Result<Vec<RemoteObject>, HandlerError> {
        self.0.list().await
    }
    async fn observe(&self) -> Result<(Vec<RemoteObject>, Value), HandlerError> {
        Ok((self.0.list().await?, Value::Null))
    }
    async fn read(&self, remote_id: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.0.read(remote_id).await
    }
    fn reread(&self) -> Reread {
        self.0.reread()
    }
    async fn read_by_adoption_key(&self, key: &str) -> Result<Option<RemoteObject>, HandlerError> {
        self.0.read_by_adoption_key(key).await
    }
    async fn write(
        &self,
        current: Option<&RemoteObject>,
        desired: &DesiredObject,
        refs: &dyn Resolver,
    ) -> Result<RemoteObject, HandlerError> {
        match current {
            None => self.0.create(desired, refs).await,
            Some(current) => self.0.update(current, desired, refs).await,
        }
    }
    async fn delete(&self, current: &RemoteObject) -> Result<(), HandlerError> {
        self.0.delete(current).await
    }
    fn rule_view(&self) -> Option<&dyn crate::rules::RuleView> {
        self.0.rule_view()
    }
}
