//! Observing the remote systems: one bulk `list` per kind of every provider instance in
//! use, after each instance's connectivity check, all concurrently.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;

use crate::plan::Observed;
use crate::provider::{HandlerError, Providers};
use crate::relation::Relation;

#[derive(Debug, thiserror::Error)]
#[error("provider `{instance}`{}: {source}", kind.as_ref().map(|kind| format!(", listing {kind}")).unwrap_or_default())]
pub struct ObserveError {
    pub instance: String,
    /// `None` when the connectivity check failed.
    pub kind: Option<String>,
    #[source]
    pub source: HandlerError,
}

/// Checks each instance's connectivity and credentials (`Provider::check`), concurrently.
pub async fn check(providers: &Providers, instances: &BTreeSet<String>) -> Result<(), ObserveError> {
    let checks = instances.iter().filter_map(|instance| {
        let provider = providers.provider(instance)?;
        Some(async move {
            provider.check().await.map_err(|source| ObserveError { instance: instance.clone(), kind: None, source })
        })
    });
    join_all(checks).await.into_iter().collect()
}

/// Every kind of every given instance (what `mac import` reads).
pub fn all_kinds(providers: &Providers, instances: &BTreeSet<String>) -> BTreeSet<(String, String)> {
    instances
        .iter()
        .flat_map(|instance| providers.kinds(instance).into_iter().map(move |kind| (instance.clone(), kind.to_owned())))
        .collect()
}

/// The kinds a plan must read: those with definitions or state entries. A kind nobody uses
/// is not read at all — it costs no request, and needs no permission to list.
pub fn kinds_in_use<'a>(ids: impl IntoIterator<Item = &'a crate::ObjectId>) -> BTreeSet<(String, String)> {
    ids.into_iter().map(|id| (id.provider.clone(), id.kind.clone())).collect()
}

/// Lists the given (instance, kind) pairs. Their instances are checked first, so that a wrong
/// URL or credential is reported once, plainly, and costs one failed login: listing at the
/// same time would make one failed login per kind, and Grafana locks an account after five
/// in five minutes.
pub async fn observe(providers: &Providers, kinds: &BTreeSet<(String, String)>) -> Result<Observed, ObserveError> {
    observe_with_links(providers, kinds, &BTreeMap::new()).await
}

/// Reads what lives in the objects a plan may delete that no kind models
/// ([`crate::Handler::unmodelled_contents`]): `deletable` names them by (instance, kind) and
/// remote id. One call per kind, concurrently; nothing when nothing may be deleted.
pub async fn observe_contents(
    providers: &Providers,
    deletable: &BTreeMap<(String, String), BTreeSet<String>>,
    observed: &mut Observed,
) -> Result<(), ObserveError> {
    let reads = deletable.iter().filter_map(|((instance, kind), remote_ids)| {
        let handler = providers.handler(instance, kind)?.clone();
        Some(async move { (instance, kind, handler.unmodelled_contents(remote_ids).await) })
    });
    for (instance, kind, contents) in join_all(reads).await {
        let contents =
            contents.map_err(|source| ObserveError { instance: instance.clone(), kind: Some(kind.clone()), source })?;
        for (remote_id, held) in contents {
            observed.insert_contents(instance, kind, &remote_id, held);
        }
    }
    Ok(())
}

/// [`observe`], and also the kinds a plan reads only for what lives in or uses an object it
/// may delete ([`crate::links::kinds_for_deletes`]), through [`crate::Handler::list_for_links`],
/// all concurrently.
pub async fn observe_with_links(
    providers: &Providers,
    kinds: &BTreeSet<(String, String)>,
    linked: &BTreeMap<(String, String), BTreeSet<Relation>>,
) -> Result<Observed, ObserveError> {
    let instances: BTreeSet<String> = kinds
        .iter()
        .chain(linked.keys())
        .map(|(instance, _)| instance.clone())
        .filter(|instance| providers.contains(instance))
        .collect();
    // A kind's context (the names its definitions may use) is read with its list: both are
    // what the planner compares against.
    let lists = kinds.iter().filter_map(|(instance, kind)| {
        let handler = providers.handler(instance, kind)?.clone();
        Some(async move { (instance, kind.as_str(), false, handler.observe().await) })
    });
    let linked_lists = linked.iter().filter_map(|((instance, kind), relations)| {
        let handler = providers.handler(instance, kind)?.clone();
        Some(async move {
            let objects = handler.list_for_links(relations).await;
            (instance, kind.as_str(), true, objects.map(|objects| (objects, serde_json::Value::Null)))
        })
    });
    check(providers, &instances).await?;
    let (lists, linked_lists) = futures::future::join(join_all(lists), join_all(linked_lists)).await;
    let mut observed = Observed::new();
    for (instance, kind, for_links, objects) in lists.into_iter().chain(linked_lists) {
        let (objects, context) = objects.map_err(|source| ObserveError {
            instance: instance.clone(),
            kind: Some(kind.to_owned()),
            source,
        })?;
        if for_links {
            observed.insert_linked(instance, kind, objects);
        } else {
            observed.insert(instance, kind, objects);
            if !context.is_null() {
                observed.insert_context(instance, kind, context);
            }
        }
    }
    Ok(observed)
}
