//! Observing the remote systems: one bulk `list` per kind of every provider instance in
//! use, after each instance's connectivity check, all concurrently.

use std::collections::BTreeSet;

use futures::future::join_all;

use crate::plan::Observed;
use crate::provider::{HandlerError, Providers};

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

/// Lists every kind of the given instances. Instances are checked first, so that a wrong URL
/// or credential is reported once, plainly, before anything else.
pub async fn observe(providers: &Providers, instances: &BTreeSet<String>) -> Result<Observed, ObserveError> {
    check(providers, instances).await?;
    let lists = instances.iter().flat_map(|instance| {
        providers.kinds(instance).into_iter().filter_map(move |kind| {
            let handler = providers.handler(instance, kind)?.clone();
            Some(async move { (instance, kind, handler.list().await) })
        })
    });
    let mut observed = Observed::new();
    for (instance, kind, objects) in join_all(lists).await {
        let objects = objects.map_err(|source| ObserveError {
            instance: instance.clone(),
            kind: Some(kind.to_owned()),
            source,
        })?;
        observed.insert(instance, kind, objects);
    }
    Ok(observed)
}
