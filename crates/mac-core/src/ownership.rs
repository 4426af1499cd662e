//! Which project manages a remote object, as far as the object itself says.
//!
//! A provider that can mark what it writes with the project's name (`project = "…"` in
//! mac.toml, given to it in [`crate::ProviderSettings::project`]) reads the marker back through
//! [`Handler::owner`]. The engine uses it generically: `mac import` and adoption leave objects
//! that another project marked alone, and a plan warns when an object in this project's state
//! is marked by another one — two projects claim it, and each apply of one would undo the
//! other's changes. Kinds that cannot carry a marker report no owner, and are not protected.

use std::collections::BTreeMap;

use crate::object::{ObjectId, RemoteObject, Resource};
use crate::plan::Plan;
use crate::provider::{Handler, Providers};

/// The project `remote` is marked as managed by, when that is not `ours` (`None`: this
/// project has no name, so any marker is another project's).
pub fn foreign_owner(handler: &dyn Handler, remote: &RemoteObject, ours: Option<&str>) -> Option<String> {
    handler.owner(remote).filter(|owner| Some(owner.as_str()) != ours)
}

/// The warning for a managed object that another project claims.
pub fn claimed_message(owner: &str, ours: Option<&str>) -> String {
    let this = match ours {
        Some(ours) => format!("this project is `{ours}`"),
        None => "this project has no `project` name in mac.toml".to_owned(),
    };
    format!(
        "marked on the server as managed by project `{owner}` ({this}): two projects claim this object, and each \
         apply of one undoes the other's changes. Keep it in one project: remove its definition from the other and \
         drop it from that project's state with `mac state rm`"
    )
}

/// Adds a warning to `plan` for every object in state whose remote object is marked by another
/// project (updates, unchanged objects and deletes alike).
pub(crate) fn warn_claimed_by_others(
    plan: &mut Plan,
    resources: &BTreeMap<ObjectId, Resource<'_>>,
    providers: &Providers,
    ours: Option<&str>,
) {
    let remotes: Vec<(&ObjectId, &RemoteObject)> = resources
        .iter()
        .filter_map(|(id, resource)| match resource {
            Resource::Synced { remote, .. } | Resource::Obsolete { remote: Some(remote), .. } => Some((id, remote)),
            _ => None,
        })
        .collect();
    // Reading an owner parses the remote object: on every core.
    let owners = crate::parallel::in_order(&remotes, 64, |(id, remote)| {
        let handler = providers.handler(&id.provider, &id.kind)?;
        foreign_owner(handler.as_ref(), remote, ours)
    });
    for ((id, _), owner) in remotes.iter().zip(owners) {
        if let Some(owner) = owner {
            plan.warn(id, claimed_message(&owner, ours));
        }
    }
}
