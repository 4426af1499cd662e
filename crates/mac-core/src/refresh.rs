//! Observing the remote systems: one bulk `list` per kind of every provider instance in
//! use, after each instance's connectivity check, all concurrently.

use std::collections::BTreeSet;

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

/// Lists every kind of the given instances. Instances are checked first, so that a wrong URL
/// or credential is reported once, plainly, before anything else.
pub async fn observe(providers: &Providers, instances: &BTreeSet<String>) -> Result<Observed, ObserveError> {
    let checks = instances.iter().map(|instance| async move {
        match providers.provider(instance) {
            Some(provider) => {
                provider.check().await.map_err(|source| ObserveError { instance: instance.clone(), kind: None, source })
            }
            None => Ok(()),
        }
    });
    for result in futures_join_all(checks).await {
        result?;
    }
    let lists = instances.iter().flat_map(|instance| {
        providers.kinds(instance).into_iter().map(move |kind| async move {
            let handler = providers.handler(instance, kind).cloned();
            let objects = match handler {
                Some(handler) => handler.list().await,
                None => Ok(Vec::new()),
            };
            (instance, kind, objects)
        })
    });
    let mut observed = Observed::new();
    for (instance, kind, objects) in futures_join_all(lists).await {
        let objects = objects.map_err(|source| ObserveError {
            instance: instance.clone(),
            kind: Some(kind.to_owned()),
            source,
        })?;
        observed.insert(instance, kind, objects);
    }
    Ok(observed)
}

/// Runs futures concurrently on the current task and collects their results in order.
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut pending = false;
        for (future, result) in pinned.iter_mut().zip(results.iter_mut()) {
            if result.is_none() {
                match future.as_mut().poll(context) {
                    std::task::Poll::Ready(output) => *result = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    results.into_iter().flatten().collect()
}
